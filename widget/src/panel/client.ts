// The shopper side of the chat protocol (docs/protocol.md), free of DOM code so it can be tested
// against a fake hub in Node. It keeps, in localStorage: the shopper token, the current
// conversation, the messages seen so far with the highest processed seq, and the outbox of
// unacked messages — so a reload, a navigation or a dropped network resumes where it left off.
// The connection itself (hello, back-off, fatal closes, keep-alive, the outbox's resending) is
// web-shared/chat-socket.ts, shared with the store app.
//
// The frames are the server's own types, generated from server/src/protocol/ into
// web-shared/protocol.ts: never declare a frame here.
import type { Context, Identity } from '../types';
import type { Availability, CallIn, CallOut, ConversationView, MessageView, NotifyState, Out, Product as WireProduct, ShopperIn } from '../../../web-shared/protocol';
import { CLOSE } from '../../../web-shared/protocol';
import { ChatSocket, FATAL_CLOSES, sendFrame, type SendFrame, type ServerFrame, type SocketLike, type SocketStatus } from '../../../web-shared/chat-socket';

export type Status = ConversationView['status'];
export type Conversation = ConversationView;
/**
 * A message as the panel keeps it: one the server stored (a `MessageView`, always with its
 * `seq`, `id` and `sent_at`), or one of ours still waiting for its ack (`pending`, no `seq`
 * or `id` yet).
 */
export type Message = Omit<MessageView, 'seq' | 'id'> & {
  seq?: number;
  id?: string;
  /** Local only: not yet acked. */
  pending?: boolean;
  /** Local only: the server refused it for good. */
  failed?: boolean;
};
interface Outgoing { conversation_id: string; client_msg_id: string; body: string; at: number; attachment_id?: string }
interface Saved {
  token?: string | null;
  conv?: Conversation | null;
  seq?: number;
  read?: number;
  msgs?: Message[];
  outbox?: Outgoing[];
  done?: boolean;
}

export interface KV { getItem(k: string): string | null; setItem(k: string, v: string): void; removeItem(k: string): void }
export type WSLike = SocketLike;
export type ConnState = SocketStatus;

export interface ClientOptions {
  url: string;
  key: string;
  storage: KV | null;
  WS: new (url: string) => WSLike;
  locale: () => string;
  /** The answer to `notify_me` (issue 21), and a look at every `error` first (true: handled). */
  onNotifyMe?: (f: Extract<Out, { type: 'notify_me' }>) => void;
  /** What `welcome` says the shopper asked for in `notify_me` earlier (per open conversation). */
  onNotifyKnown?: (list: NotifyState[]) => void;
  onErrorFrame?: (f: Extract<Out, { type: 'error' }>) => boolean;
  onChange: () => void;
  onMessage?: (m: Message, own: boolean) => void;
  onUnavailable?: (reason: string) => void;
  onOfflineAck?: () => void;
  onError?: (code: string, message?: string) => void;
  /** Video call frames (`call_*`, issue 24). */
  onCall?: (f: CallOut) => void;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => any;
  clearTimer?: (t: any) => void;
}

const MAX_KEPT = 300;

export function uuid(): string {
  const c = (globalThis as any).crypto;
  if (c && c.randomUUID) return c.randomUUID();
  return 'c-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 12);
}

export function isOpen(c: Conversation | null | undefined): boolean {
  return !!c && (c.status === 'queued' || c.status === 'offered' || c.status === 'claimed');
}

export class ChatClient {
  token: string | null = null;
  shopperId: string | null = null;
  conv: Conversation | null = null;
  messages: Message[] = [];
  lastSeq = 0;
  readSeq = 0;
  availability: Availability | null = null;
  queue: { position: number; estimated_wait_s: number } | null = null;
  expertTyping = false;
  /** True once the shopper has finished with the current conversation (rated or moved on). */
  done = false;
  private typingTimer: any = null;
  private resendTimer: any = null;
  private syncing = false;
  private missed = false;
  private pendingRequest: Extract<ShopperIn, { type: 'request_chat' }> | null = null;
  private ackTimer: any = null;
  private identity: Identity | null = null;
  private context: Context | null = null;
  private o: Required<Pick<ClientOptions, 'setTimer' | 'clearTimer' | 'random'>> & ClientOptions;
  private socket: ChatSocket<Outgoing>;

  constructor(opts: ClientOptions) {
    const o = (this.o = {
      random: Math.random,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t),
      ...opts,
    });
    this.socket = new ChatSocket<Outgoing>({
      url: () => o.url,
      WS: o.WS,
      hello: () => {
        const hello: ShopperIn = { type: 'hello', locale: o.locale() };
        if (this.token) hello.token = this.token;
        return hello;
      },
      onFrame: (f) => this.handle(f),
      onAck: (f) => this.acked(f),
      onStatus: (st) => this.status(st),
      onClose: (code) => {
        if (code === CLOSE.UNAUTHORIZED) {
          // Our token is no good any more: start again as a new shopper.
          this.token = null;
          this.save();
          this.socket.resetBackoff();
        }
      },
      fatal: FATAL_CLOSES,
      rateLimitedWait: 30_000,
      helloTimeout: 10_000,
      // Silent for 55 s (the server pings every 25 s): the socket is probably dead without a close.
      keepAlive: { every: 25_000, silentFor: 55_000 },
      random: o.random,
      setTimer: o.setTimer,
      clearTimer: o.clearTimer,
    });
    this.load();
  }

  /** The connection: `failed` after a close no retry mends (`failure` says which). */
  get conn(): ConnState { return this.socket.status; }
  get failure(): number | null { return this.socket.failure; }
  /** Messages not acked yet, oldest first (sent again after a reconnect). */
  get outbox(): Outgoing[] { return this.socket.outbox.items; }

  private status(st: ConnState) {
    if (st === 'connecting') this.typingSent = false;
    if (st !== 'offline' && st !== 'failed') return;
    this.syncing = false;
    this.expertTyping = false;
    this.o.clearTimer(this.ackTimer);
    this.ackTimer = null;
    this.o.onChange();
  }

  // ---- persistence ----
  private load() {
    try {
      const s: Saved = JSON.parse((this.o.storage && this.o.storage.getItem(this.o.key)) || '{}') || {};
      this.token = s.token || null;
      this.conv = s.conv || null;
      this.lastSeq = s.seq || 0;
      this.readSeq = s.read || 0;
      this.messages = Array.isArray(s.msgs) ? s.msgs : [];
      this.socket.outbox.set(Array.isArray(s.outbox) ? s.outbox : []);
      this.done = !!s.done;
      for (const o of this.outbox) this.addPending(o);
    } catch { /* corrupt or blocked storage: start afresh */ }
  }
  save() {
    if (!this.o.storage) return;
    const s: Saved = {
      token: this.token,
      conv: this.conv,
      seq: this.lastSeq,
      read: this.readSeq,
      msgs: this.messages.filter((m) => !m.pending).slice(-MAX_KEPT),
      outbox: this.outbox,
      done: this.done,
    };
    try {
      this.o.storage.setItem(this.o.key, JSON.stringify(s));
    } catch { /* quota or blocked */ }
  }

  /**
   * Another tab of the same shop wrote its state (the `storage` event). Adopt a chat it started
   * while we had none, and share its read position and unsent messages for the same chat
   * (resending is safe: the server dedupes by client_msg_id).
   */
  fromOtherTab(raw: string | null) {
    let s: Saved;
    try {
      s = JSON.parse(raw || 'null');
    } catch {
      return;
    }
    if (!s || !s.conv) return;
    if ((!this.conv || this.done) && isOpen(s.conv) && !s.done && !this.pendingRequest) {
      this.reset();
      this.conv = s.conv;
      this.lastSeq = s.seq || 0;
      this.readSeq = s.read || 0;
      this.messages = Array.isArray(s.msgs) ? s.msgs : [];
      this.socket.outbox.set(Array.isArray(s.outbox) ? s.outbox : []);
      for (const o of this.outbox) this.addPending(o);
      if (!this.token && s.token) this.token = s.token;
      // Reconnect so that this socket follows the adopted chat, then sync it.
      if (this.socket.attached) this.socket.restart();
      this.o.onChange();
      return;
    }
    if (this.conv && s.conv.id === this.conv.id) {
      let changed = false;
      if ((s.read || 0) > this.readSeq && (s.read || 0) <= this.lastSeq) {
        this.readSeq = s.read || 0;
        changed = true;
      }
      for (const o of Array.isArray(s.outbox) ? s.outbox : []) {
        if (this.socket.outbox.has(o.client_msg_id)) continue;
        if (this.messages.some((m) => m.client_msg_id === o.client_msg_id && !m.pending)) continue;
        this.socket.outbox.add(o);
        this.addPending(o);
        // A photo queued in the other tab goes as a photo (its attachment id), not as its caption.
        this.out(sendFrame(o));
        changed = true;
      }
      if (changed) this.o.onChange();
    }
  }

  // ---- connection ----
  connect() {
    this.socket.connect();
  }

  /** The connection is lost or being won back (after it had been up): show it. */
  reconnecting(): boolean {
    return this.conn === 'offline' || (this.conn === 'connecting' && this.socket.wasOnline);
  }

  /**
   * Treat the socket as dead now (the browser went offline, or it stopped answering): a socket
   * on a dropped network can take a minute to close by itself. Reconnects with back-off.
   */
  drop() {
    this.socket.drop();
  }

  /**
   * A message is waiting for its ack: if none comes within 8 s, ping; if the socket is silent
   * for 5 s more, it is dead (a network that drops packets closes nothing).
   */
  private watchAcks() {
    if (this.ackTimer) return;
    this.ackTimer = this.o.setTimer(() => {
      this.ackTimer = null;
      if (!this.outbox.length || !this.socket.online) return;
      this.socket.probe(5_000);
      this.ackTimer = this.o.setTimer(() => {
        this.ackTimer = null;
        if (this.socket.online && this.outbox.length) this.watchAcks();
      }, 5_000);
    }, 8_000);
  }

  /** Reconnect now (the network came back, or the tab became visible). */
  nudge() {
    if (this.conn === 'connecting' && this.socket.attached && Date.now() - this.socket.connectStartedAt > 3_000) {
      this.drop(); // an attempt started while the network was gone: start afresh
    }
    if (this.conn === 'offline') {
      this.socket.retryNow();
    } else if (this.conn === 'online' && Date.now() - this.socket.lastFrameAt > 30_000) {
      this.socket.ping();
    }
  }

  disconnect() {
    this.o.clearTimer(this.ackTimer);
    this.ackTimer = null;
    this.socket.close();
  }

  /** Send only once `welcome` has arrived. */
  private out(frame: ShopperIn | SendFrame | CallIn): boolean {
    return this.socket.send(frame);
  }

  // ---- incoming frames ----
  /** A frame from the server (an `ack` goes to `acked`, after the socket took it out of the outbox). */
  handle(f: ServerFrame) {
    switch (f.type) {
      case 'welcome': {
        // The socket is online by now (web-shared/chat-socket.ts).
        if ('expert' in f) return; // an expert's welcome: never sent to a shopper's socket
        if (f.token) this.token = f.token;
        this.shopperId = f.shopper_id || null;
        this.availability = f.availability || this.availability;
        if (this.o.onNotifyKnown) this.o.onNotifyKnown(Array.isArray(f.notify) ? f.notify : []);
        const convs: Conversation[] = Array.isArray(f.conversations) ? f.conversations : [];
        const mine = this.conv && convs.find((c) => c.id === this.conv!.id);
        if (mine) {
          this.setConv(mine);
        } else if (this.conv && isOpen(this.conv) && !this.pendingRequest) {
          // The server no longer lists it (or we are a new shopper after 4001): let it go.
          this.reset();
        }
        if (!this.conv || this.done) {
          const open = convs.filter((c) => isOpen(c) && !c.offline).sort((a, b) => (b.created_at || 0) - (a.created_at || 0))[0];
          if (open && (!this.conv || open.id !== this.conv.id)) {
            this.reset();
            this.setConv(open);
            // A request_chat whose answer was lost with the old socket: this is its conversation.
            this.pendingRequest = null;
            this.pendingFirst = null;
          }
        }
        if (this.identity) this.sendIdentify();
        if (this.context && this.context.page_url) this.sendContext();
        if (this.conv) {
          this.startSync();
        } else if (this.pendingRequest) {
          this.socket.raw(this.pendingRequest);
        }
        this.save();
        break;
      }
      case 'conversation':
        // Only our current conversation, or the answer to our request_chat (never, say, the
        // queued conversation an offline message becomes, or another tab's old chat).
        if (f.conversation && ((this.conv && f.conversation.id === this.conv.id) || (this.pendingRequest && !f.conversation.offline))) {
          const first = !this.conv || this.conv.id !== f.conversation.id;
          if (first) {
            this.reset();
            this.pendingRequest = null;
          }
          this.setConv(f.conversation);
          if (first) {
            const cm = (this.pendingFirst && this.pendingFirst.client_msg_id) || null;
            if (cm) {
              const o = { conversation_id: f.conversation.id, client_msg_id: cm, body: this.pendingFirst!.body, at: Date.now() };
              this.socket.outbox.add(o);
              this.addPending(o);
            }
            this.pendingFirst = null;
          }
          if (f.conversation.status !== 'queued' && f.conversation.status !== 'offered') this.queue = null;
          this.save();
        }
        break;
      case 'queue':
        if (this.conv && f.conversation_id === this.conv.id) this.queue = { position: f.position, estimated_wait_s: f.estimated_wait_s };
        break;
      case 'message':
        if (f.message) this.incoming(f.message);
        break;
      case 'messages':
        if (this.conv && f.conversation_id === this.conv.id) {
          this.syncing = false;
          for (const m of f.messages || []) this.incoming(m, true);
          if (this.missed || (typeof f.last_seq === 'number' && f.last_seq > this.lastSeq && (f.messages || []).length)) {
            this.missed = false;
            this.startSync();
          } else {
            this.flushOutbox();
          }
          this.save();
        }
        break;
      case 'typing':
        if (this.conv && f.conversation_id === this.conv.id && f.role === 'expert') {
          this.expertTyping = !!f.typing;
          this.o.clearTimer(this.typingTimer);
          if (this.expertTyping) this.typingTimer = this.o.setTimer(() => { this.expertTyping = false; this.o.onChange(); }, 15_000);
        }
        break;
      case 'read':
        if (this.conv && f.conversation_id === this.conv.id && f.role === 'expert') {
          this.conv.expert_read_seq = Math.max(this.conv.expert_read_seq || 0, f.seq || 0);
          this.save();
        }
        break;
      case 'unavailable':
        if (this.pendingRequest) {
          this.pendingRequest = null;
          this.pendingFirst = null;
          this.o.onUnavailable && this.o.onUnavailable(f.reason || 'no_experts');
        }
        break;
      case 'offline_ack':
        this.o.onOfflineAck && this.o.onOfflineAck();
        break;
      case 'notify_me':
        this.o.onNotifyMe && this.o.onNotifyMe(f);
        break;
      case 'error':
        if (this.o.onErrorFrame && this.o.onErrorFrame(f)) return;
        if ((f.code === 'unavailable' || f.code === 'rate_limited') && this.socket.outbox.has(f.ref)) {
          // Nothing was stored: send it again shortly with the same client_msg_id.
          this.o.clearTimer(this.resendTimer);
          this.resendTimer = this.o.setTimer(() => this.flushOutbox(), f.code === 'rate_limited' ? 3000 : 1000 + this.o.random() * 1000);
          return;
        }
        if (f.code === 'conflict' || f.code === 'too_large' || f.code === 'invalid_state' || f.code === 'not_found') {
          // This message can never be sent: drop it from the outbox.
          if (this.socket.outbox.take(f.ref)) {
            const m = this.messages.find((x) => x.client_msg_id === f.ref);
            if (m) m.failed = true;
          }
          if (f.code === 'not_found' && this.conv && f.ref === this.conv.id) this.reset();
        }
        if (this.pendingRequest && f.code !== 'rate_limited') {
          this.pendingRequest = null;
          this.pendingFirst = null;
        }
        this.o.onError && this.o.onError(f.code, f.message);
        this.save();
        break;
      case 'call_offer': case 'call_answer': case 'call_ice': case 'call_resume': case 'call_hangup':
        this.o.onCall && this.o.onCall(f);
        return;
      default:
        return; // pong, identified, …
    }
    this.o.onChange();
  }

  /** The server stored one of our messages (the socket has taken it out of the outbox). */
  private acked(f: Extract<Out, { type: 'ack' }>) {
    const m = this.messages.find((x) => x.client_msg_id === f.client_msg_id);
    if (m) {
      m.pending = false;
      m.seq = f.seq;
      m.sent_at = f.sent_at;
      this.messages.sort(bySeq);
    }
    if (f.seq === this.lastSeq + 1) this.lastSeq = f.seq;
    else if (f.seq > this.lastSeq + 1 && this.conv && f.conversation_id === this.conv.id) this.startSync();
    this.save();
    this.o.onChange();
  }

  private pendingFirst: { client_msg_id: string; body: string } | null = null;

  private setConv(c: Conversation) {
    const prev = this.conv;
    this.conv = { ...(prev && prev.id === c.id ? prev : {}), ...c };
    if (typeof c.shopper_read_seq === 'number') this.readSeq = Math.max(this.readSeq, c.shopper_read_seq);
    if (!isOpen(c)) this.queue = null;
    if (c.status === 'abandoned') this.done = true;
  }

  /** Forget the current conversation (the token stays). */
  reset() {
    this.conv = null;
    this.messages = [];
    this.lastSeq = 0;
    this.readSeq = 0;
    this.socket.outbox.set([]);
    this.queue = null;
    this.expertTyping = false;
    this.done = false;
    this.syncing = false;
    this.missed = false;
  }

  private startSync() {
    if (!this.conv || this.syncing) return;
    if (this.socket.resume(this.conv.id, this.lastSeq)) this.syncing = true;
  }

  private incoming(m: MessageView, fromSync = false) {
    if (!this.conv || m.conversation_id !== this.conv.id || typeof m.seq !== 'number') return;
    if (m.seq <= this.lastSeq) return; // duplicate
    if (!fromSync && (this.syncing || m.seq > this.lastSeq + 1)) {
      // A gap, or a sync in flight: process nothing newer until the sync reply, then sync again.
      this.missed = true;
      this.startSync();
      return;
    }
    this.lastSeq = m.seq;
    const own = m.author && m.author.role === 'shopper';
    if (own && m.client_msg_id) {
      this.socket.outbox.take(m.client_msg_id);
      const local = this.messages.findIndex((x) => x.client_msg_id === m.client_msg_id);
      if (local >= 0) this.messages.splice(local, 1);
    }
    this.messages.push(m);
    this.messages.sort(bySeq);
    if (!own) this.expertTyping = false;
    if (this.messages.length > MAX_KEPT + 50) this.messages.splice(0, this.messages.length - MAX_KEPT);
    this.o.onMessage && this.o.onMessage(m, !!own);
    if (!fromSync) this.save();
  }

  private addPending(o: Outgoing) {
    if (this.messages.some((m) => m.client_msg_id === o.client_msg_id)) return;
    this.messages.push({
      conversation_id: o.conversation_id,
      author: { role: 'shopper', name: null, expert_id: null },
      kind: o.attachment_id ? 'attachment' : 'text',
      body: o.body,
      data: o.attachment_id ? { attachment_id: o.attachment_id } : undefined,
      client_msg_id: o.client_msg_id,
      sent_at: o.at,
      pending: true,
    });
  }

  private flushOutbox() {
    if (!this.syncing && this.conv) this.socket.resend(this.conv.id);
  }

  // ---- actions ----
  requestChat(opts: { store_id?: string; department_id?: string; text?: string; context: Context }) {
    const f: Extract<ShopperIn, { type: 'request_chat' }> = { type: 'request_chat' };
    if (opts.store_id) f.store_id = opts.store_id;
    if (opts.department_id) f.department_id = opts.department_id;
    if (opts.context.page_url) f.page_url = opts.context.page_url;
    if (opts.context.page_title) f.page_title = opts.context.page_title;
    // The site's product may carry a string price; the server reads a number (see WireProduct).
    if (opts.context.product) f.product = opts.context.product as WireProduct;
    const text = (opts.text || '').trim();
    if (text) {
      f.text = text;
      f.client_msg_id = uuid();
      this.pendingFirst = { client_msg_id: f.client_msg_id, body: text };
    }
    this.reset();
    this.pendingRequest = f;
    this.out(f);
    if (this.conn === 'idle') this.connect();
    this.o.onChange();
  }

  isRequesting() {
    return !!this.pendingRequest;
  }

  send(body: string) {
    const text = body.trim();
    if (!text || !this.conv) return;
    const o: Outgoing = { conversation_id: this.conv.id, client_msg_id: uuid(), body: text.slice(0, 4000), at: Date.now() };
    this.socket.outbox.add(o);
    this.addPending(o);
    this.save();
    if (!this.syncing) this.out({ type: 'send', conversation_id: o.conversation_id, client_msg_id: o.client_msg_id, body: o.body });
    this.watchAcks();
    this.setTyping(false);
    this.o.onChange();
  }

  /** Send an uploaded photo as a message (issue 24), kept in the outbox until acked. */
  sendAttachment(attachmentId: string, caption = '') {
    if (!this.conv) return;
    const o: Outgoing = { conversation_id: this.conv.id, client_msg_id: uuid(), body: caption.trim().slice(0, 4000), at: Date.now(), attachment_id: attachmentId };
    this.socket.outbox.add(o);
    this.addPending(o);
    this.save();
    if (!this.syncing) this.out(sendFrame(o));
    this.watchAcks();
    this.o.onChange();
  }

  /** A video call frame; false while the socket is down. */
  sendCall(frame: CallIn): boolean {
    return this.out(frame);
  }

  private typingSent = false;
  setTyping(on: boolean) {
    if (!this.conv || on === this.typingSent) return;
    if (this.out({ type: 'typing', conversation_id: this.conv.id, typing: on })) this.typingSent = on;
  }

  /** Mark everything up to lastSeq as read; returns whether it sent a frame. */
  markRead(): boolean {
    if (!this.conv || this.lastSeq <= this.readSeq) return false;
    const seq = this.lastSeq;
    if (!this.out({ type: 'read', conversation_id: this.conv.id, seq })) return false;
    this.readSeq = seq;
    this.save();
    return true;
  }

  unread(): number {
    return this.messages.filter((m) => (m.seq || 0) > this.readSeq && m.author.role === 'expert').length;
  }

  end() {
    if (this.conv) this.out({ type: 'end', conversation_id: this.conv.id });
  }

  rate(score: number, comment: string) {
    if (!this.conv) return;
    const f: ShopperIn = { type: 'rate', conversation_id: this.conv.id, score };
    if (comment.trim()) f.comment = comment.trim();
    this.out(f);
  }

  offline(f: { email: string; body: string; name?: string; store_id?: string; department_id?: string; page_url?: string; phone?: string }): boolean {
    const frame: Extract<ShopperIn, { type: 'offline_message' }> = { type: 'offline_message', email: f.email, body: f.body };
    for (const k of ['name', 'store_id', 'department_id', 'page_url', 'phone'] as const) if (f[k]) frame[k] = f[k];
    return this.out(frame);
  }

  /** "If I leave, tell me when the expert answers" for the given chat; false while offline. */
  notifyMe(conversation_id: string, email?: string, phone?: string): boolean {
    const f: Extract<ShopperIn, { type: 'notify_me' }> = { type: 'notify_me', conversation_id };
    if (email) f.email = email;
    if (phone) f.phone = phone;
    return this.out(f);
  }

  finish() {
    this.reset();
    this.done = true;
    this.save();
    this.o.onChange();
  }

  identify(id: Identity | null) {
    this.identity = id;
    if (id) this.sendIdentify();
  }
  private sendIdentify() {
    const id = this.identity!;
    const f: Extract<ShopperIn, { type: 'identify' }> = { type: 'identify', email: id.email, signature: id.signature };
    if (id.name) f.name = id.name;
    this.out(f);
  }

  setContext(c: Context) {
    const changed = JSON.stringify(c) !== JSON.stringify(this.context);
    this.context = c;
    if (changed && c.page_url) this.sendContext();
  }
  private sendContext() {
    const c = this.context!;
    const f: Extract<ShopperIn, { type: 'context' }> = { type: 'context', page_url: c.page_url! };
    if (c.page_title) f.page_title = c.page_title;
    if (c.product) f.product = c.product as WireProduct;
    this.out(f);
  }
}

function bySeq(a: Message, b: Message): number {
  const x = a.seq === undefined ? Infinity : a.seq;
  const y = b.seq === undefined ? Infinity : b.seq;
  return x === y ? (a.sent_at || 0) - (b.sent_at || 0) : x - y;
}
