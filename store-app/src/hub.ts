// The expert side of the chat protocol (docs/protocol.md) and the app's live state.
//
// Guarantees the UI relies on:
// - messages are kept per conversation by `seq`, so a message is shown exactly once however
//   often it arrives (live, in a `messages` sync, or echoed through an `ack`);
// - `lastSeq` is the highest *contiguous* seq processed; a gap triggers one `sync`;
// - every `send` goes through a persistent outbox (localStorage) and is resent with the same
//   `client_msg_id` after a reconnect until the server acks it.
//
// The connection itself (hello, back-off, keep-alive, the outbox's resending) is
// web-shared/chat-socket.ts, shared with the widget.

//
// The frames are the server's own types, generated from server/src/protocol/ into
// web-shared/protocol.ts: never declare a frame here.

import { getToken } from './api';
import { alertOffer } from './alerts';
import type {
  CallIn, CallOut, ContactView, ExpertView, ConversationView, ExpertIn, ExpertStatusView, HistoryEntry, MessageView, NamedRef,
  Offer as OfferView, Out, PageVisit, Product, StoreChoice,
} from '../../web-shared/protocol';
import { CLOSE } from '../../web-shared/protocol';
import { ChatSocket, FATAL_CLOSES, sendFrame, type SendFrame, type ServerFrame } from '../../web-shared/chat-socket';

export type { PageVisit, Product };
export type Ref = NamedRef;
export type Conversation = ConversationView;
export type Message = MessageView;
export type Offer = OfferView & {
  /** Local: set when the offer was withdrawn, shown briefly before it disappears. */
  gone?: string; claiming?: boolean;
};
/** The server's `status`: sent after `set_status` and whenever the chat count or cap changes. */
export type Status = ExpertStatusView;
export type StoreInfo = StoreChoice;
export interface Outgoing {
  conversation_id: string; client_msg_id: string; body: string; product?: Product | null; created_at: number; error?: string;
  /** A photo message (issue 24): `kind: 'attachment'` with the uploaded photo's id. */
  kind?: 'attachment'; attachment_id?: string;
}
export type Contact = ContactView;
export type HistoryItem = HistoryEntry;

export interface Chat {
  conv: Conversation;
  messages: Map<number, Message>;
  lastSeq: number;
  syncing: boolean;
  shopperTyping: boolean;
  /** Highest seq this expert has seen on screen. */
  readSeq: number;
  /** Set when this chat is no longer ours (transferred away / reclaimed). */
  left?: string;
  /** The shopper is away (`shopper_away`): how answers reach them (`email`, `sms`); null when back. */
  away?: string[] | null;
}

/** `failed`: the server closed the socket with a code no retry mends (see `HubState.failure`). */
export type Conn = 'idle' | 'connecting' | 'online' | 'reconnecting' | 'unauthorized' | 'failed';

export interface HubState {
  conn: Conn;
  /** The close code that stopped the connection (`conn === 'failed'`): `4426` (this app is older
   *  than the server), `4003` (the app is served from an address the merchant does not allow),
   *  `4004`, `4400`, `1009`. */
  failure: number | null;
  me: ExpertView | null;
  status: Status | null;
  stores: StoreInfo[];
  colleagues: Ref[];
  offers: Offer[];
  chats: Map<string, Chat>;
  outbox: Outgoing[];
  contacts: Contact[] | null;
  history: Map<string, HistoryItem[]>;
  /** The shopper's latest pages per conversation, from its offers (conversations do not carry
   *  them), kept on this device so the open chat can still show them after a reload. */
  journeys: Map<string, PageVisit[]>;
  notice: { text: string; key: number } | null;
  lastError: { code: string; message?: string; ref?: string } | null;
}

const OUTBOX_KEY = 'fw.app.outbox';
function loadOutbox(): Outgoing[] {
  try { return JSON.parse(localStorage.getItem(OUTBOX_KEY) || '[]'); } catch { return []; }
}

const JOURNEYS_KEY = 'fw.app.journeys';
const MAX_JOURNEYS = 40;
/** Only well-formed page views (the server's, or our own stored copy) get into the state. */
function cleanVisits(v: unknown): PageVisit[] {
  if (!Array.isArray(v)) return [];
  return v.filter((x) => x && typeof x.url === 'string' && typeof x.at === 'number').slice(0, 5)
    .map((x) => ({ at: x.at, url: x.url, title: typeof x.title === 'string' ? x.title : null,
      product: x.product && typeof x.product.name === 'string' ? x.product : null }));
}
function loadJourneys(): Map<string, PageVisit[]> {
  try {
    const raw = JSON.parse(localStorage.getItem(JOURNEYS_KEY) || '[]');
    return new Map((Array.isArray(raw) ? raw : []).filter((e) => Array.isArray(e) && typeof e[0] === 'string').map((e) => [e[0], cleanVisits(e[1])]));
  } catch { return new Map(); }
}

export function uuid(): string {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

type Listener = () => void;

export class Hub {
  state: HubState = {
    conn: 'idle', failure: null, me: null, status: null, stores: [], colleagues: [], offers: [], chats: new Map(),
    outbox: loadOutbox(), contacts: null, history: new Map(), journeys: loadJourneys(), notice: null, lastError: null,
  };
  /** Which chat the user has on screen (for read receipts and unread counts). */
  openChat: string | null = null;
  private listeners = new Set<Listener>();
  private stopped = true;
  /** The token the current socket said `hello` with. */
  private helloToken: string | null = null;
  private socket = new ChatSocket<Outgoing>({
    url: () => {
      const url = new URL('../ws/expert?v=1', document.baseURI);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      return url.href;
    },
    ready: () => {
      this.helloToken = getToken();
      if (!this.helloToken) { this.state.conn = 'unauthorized'; this.emit(); }
      return !!this.helloToken;
    },
    hello: () => ({ type: 'hello', token: this.helloToken ?? '' }),
    onFrame: (f) => this.handle(f),
    onAck: (f, sent) => this.onAck(f, sent),
    onStatus: (st) => {
      if (st === 'connecting') this.state.conn = this.state.conn === 'idle' ? 'connecting' : 'reconnecting';
      else if (st === 'offline') this.state.conn = 'reconnecting';
      else if (st === 'online') { this.state.conn = 'online'; return; }
      else if (st === 'failed') {
        // No retry mends it (an app older than the server, a refused origin): stop and say so.
        this.stopped = true;
        this.state.conn = 'failed';
        this.state.failure = this.socket.failure;
      } else return;
      this.emit();
    },
    onClose: (code) => {
      if (code === CLOSE.UNAUTHORIZED && (this.tokenChange > 0 || getToken() !== this.helloToken)) {
        // Our own password change revoked the old token: reconnect with the new one (at once
        // when the change is done: endTokenChange).
        return this.tokenChange === 0 ? 'retry' : 'hold';
      }
      if (code === CLOSE.UNAUTHORIZED) {
        this.stopped = true;
        this.state.conn = 'unauthorized';
        this.emit();
        this.onUnauthorized();
        return 'stop';
      }
      return this.stopped ? 'stop' : 'retry';
    },
    fatal: FATAL_CLOSES,
    rateLimitedWait: 10_000,
    // A ping every 20 s; no answer within 10 s: the socket is dead.
    keepAlive: { every: 20_000, answerWithin: 10_000 },
    online: () => navigator.onLine !== false,
    outbox: this.state.outbox,
    onOutbox: (items) => { this.state.outbox = items; },
  });
  private pendingClaims = new Set<string>();
  private savedRepliesWaiters: ((items: unknown[]) => void)[] = [];
  onUnauthorized: () => void = () => {};
  onClaimed: (id: string) => void = () => {};

  constructor() {
    window.addEventListener('offline', () => this.drop());
    window.addEventListener('online', () => { if (!this.stopped && this.state.conn !== 'online') this.socket.restart(); });
    // Phones suspend background tabs; a socket can be dead without a close. Check on return.
    document.addEventListener('visibilitychange', () => {
      if (document.hidden || this.stopped) return;
      if (!this.socket.attached) { this.socket.restart(); return; }
      this.socket.probe(5_000);
    });
  }

  subscribe(fn: Listener) { this.listeners.add(fn); return () => { this.listeners.delete(fn); }; }
  private emit() {
    // New object identity so hooks re-render.
    this.state = { ...this.state };
    for (const fn of this.listeners) fn();
  }

  start() {
    this.stopped = false;
    this.state.failure = null;
    this.socket.restart();
  }

  stop() {
    this.stopped = true;
    this.socket.close();
    this.state = { ...this.state, conn: 'idle', me: null, status: null, offers: [], chats: new Map(), contacts: null, history: new Map() };
    this.emit();
  }

  private tokenChange = 0;
  /** Around a password change: a 4001 close then means "use the new token", not "signed out". */
  beginTokenChange() { this.tokenChange++; }
  endTokenChange() {
    this.tokenChange = Math.max(0, this.tokenChange - 1);
    if (!this.stopped && (!this.socket.attached || this.state.conn !== 'online')) this.socket.restart();
  }

  /** Forget everything stored for the signed-in expert (logout). */
  clearLocal() {
    this.socket.outbox.set([]);
    this.saveOutbox();
    this.state.journeys = new Map();
    try { localStorage.removeItem(JOURNEYS_KEY); } catch { /* */ }
  }

  /** Treat the socket as dead now (network gone, no pong). */
  drop() {
    this.socket.drop();
  }

  /** Send a frame only once connected and welcomed. */
  private send(frame: ExpertIn | SendFrame | CallIn): boolean {
    return this.socket.send(frame);
  }

  // ---- incoming ---------------------------------------------------------------------------

  /** Entry point for one decoded server frame (public for tests and debugging). */
  handle(f: ServerFrame) {
    switch (f.type) {
      case 'welcome': return 'expert' in f ? this.onWelcome(f) : undefined;
      case 'status': this.state.status = { ...this.state.status, ...f } as Status; delete (this.state.status as any).type; return this.emit();
      case 'offer': return this.onOffer(f.offer);
      case 'offer_withdrawn': return this.onWithdrawn(f.conversation_id, f.reason);
      case 'claim_failed': return this.onClaimFailed(f.conversation_id, f.reason);
      case 'conversation': return this.onConversation(f.conversation);
      case 'message': return this.onMessages(f.message.conversation_id, [f.message], false);
      case 'messages': return this.onMessages(f.conversation_id, f.messages || [], true, f.last_seq);
      case 'ack': return this.onAck(f, this.socket.outbox.take(f.client_msg_id));
      case 'typing': return this.onTyping(f);
      case 'read': return this.onRead(f);
      case 'shopper_away': return this.onShopperAway(f);
      case 'history': this.state.history = new Map(this.state.history).set(f.shopper_id, f.conversations || []); return this.emit();
      case 'contacts': this.state.contacts = f.contacts || []; return this.emit();
      case 'saved_replies': { const w = this.savedRepliesWaiters.shift(); if (w) w(f.items || []); return; }
      case 'error': return this.onError(f);
      case 'pong': return;
      // Video call signalling (issue 24): handed to the call code as it is.
      case 'call_offer': case 'call_answer': case 'call_ice': case 'call_resume': case 'call_hangup':
        for (const fn of this.callListeners) fn(f);
        return;
      default: return;
    }
  }

  private onWelcome(f: Extract<Out, { type: 'welcome', expert: ExpertView }>) {
    const s = this.state;
    s.conn = 'online';
    s.me = f.expert ?? s.me;
    s.status = f.status ?? s.status;
    const stores = f.expert?.stores;
    this.storesFromServer = Array.isArray(stores);
    if (this.storesFromServer) s.stores = stores;
    if (Array.isArray(f.colleagues)) s.colleagues = f.colleagues;
    // Offers: the server's list is authoritative after a reconnect.
    const prev = new Map(s.offers.map((o) => [o.conversation_id, o]));
    s.offers = (f.offers || []).map((o: OfferView): Offer => ({ ...o, claiming: prev.get(o.conversation_id)?.claiming }));
    for (const o of s.offers) { this.learnPlace(o.store, o.department); this.keepJourney(o, false); }
    // Conversations: keep what we have, add new ones; chats not in the list are no longer open.
    const chats = new Map(s.chats);
    const open = new Set<string>();
    for (const c of f.conversations || []) {
      open.add(c.id);
      this.upsertConv(chats, c);
    }
    for (const [id, chat] of chats) {
      if (!open.has(id) && (chat.conv.status === 'claimed') && !chat.left) {
        chats.set(id, { ...chat, left: 'closed' });
      }
    }
    s.chats = chats;
    // Forget the pages of conversations that are neither offered nor open here any more.
    const live = new Set([...s.offers.map((o) => o.conversation_id), ...chats.keys()]);
    s.journeys = new Map([...s.journeys].filter(([id]) => live.has(id)));
    this.saveJourneys();
    this.emit();
    for (const c of f.conversations || []) this.requestSync(c.id, true);
    // Unacked messages of chats that are still open are resent after their sync reply
    // (resendFor); those of chats that closed meanwhile are marked as not sent.
    this.markOrphans(open);
    // Alert only for offers this device has not shown before (not again on every reconnect).
    const fresh = s.offers.filter((o) => !o.gone && !prev.has(o.conversation_id));
    if (fresh.length) alertOffer(fresh[0], s.offers.filter((o) => !o.gone).length);
  }

  private storesFromServer = false;
  /** Without `stores` in welcome, learn store/department names from offers and chats. */
  private learnPlace(store?: Ref | null, dep?: Ref | null) {
    if (this.storesFromServer || !store?.id) return;
    const stores = [...this.state.stores];
    let st = stores.find((x) => x.id === store.id);
    if (!st) { st = { id: store.id, name: store.name, departments: [] }; stores.push(st); }
    if (dep?.id && !st.departments.some((d) => d.id === dep.id)) st.departments = [...st.departments, { id: dep.id, name: dep.name }];
    this.state.stores = stores;
  }

  private upsertConv(chats: Map<string, Chat>, c: Conversation): Chat {
    this.learnPlace(c.store, c.department);
    const old = chats.get(c.id);
    const chat: Chat = old
      ? { ...old, conv: { ...old.conv, ...c } }
      : { conv: c, messages: new Map(), lastSeq: 0, syncing: false, shopperTyping: false, readSeq: c.expert_read_seq ?? 0 };
    chats.set(c.id, chat);
    return chat;
  }

  /** Remember the offer's page views for its conversation (a newer offer's replace them). */
  private keepJourney(o: Offer, save = true) {
    const visits = cleanVisits(o.journey);
    o.journey = visits;
    if (!visits.length) return;
    const journeys = new Map(this.state.journeys);
    journeys.delete(o.conversation_id);
    journeys.set(o.conversation_id, visits);
    while (journeys.size > MAX_JOURNEYS) journeys.delete(journeys.keys().next().value as string);
    this.state.journeys = journeys;
    if (save) this.saveJourneys();
  }

  private saveJourneys() {
    try { localStorage.setItem(JOURNEYS_KEY, JSON.stringify([...this.state.journeys])); } catch { /* full */ }
  }

  private onOffer(o: Offer) {
    const s = this.state;
    this.learnPlace(o.store, o.department);
    this.keepJourney(o);
    if (s.chats.get(o.conversation_id)?.conv.status === 'claimed' && !s.chats.get(o.conversation_id)?.left) return;
    const existing = s.offers.findIndex((x) => x.conversation_id === o.conversation_id);
    const offers = [...s.offers];
    if (existing >= 0) offers[existing] = { ...o };
    else offers.push(o);
    offers.sort((a, b) => a.waiting_since - b.waiting_since);
    s.offers = offers;
    this.emit();
    // A new offer, or a nudge for one still unclaimed (re-offered, or back for want of an answer).
    if (existing < 0 || o.reason === 'reoffer' || o.reason === 'unanswered') alertOffer(o, offers.filter((x) => !x.gone).length);
  }

  private withdraw(id: string, note: string | null) {
    const s = this.state;
    if (!s.offers.some((o) => o.conversation_id === id)) return;
    if (!note) {
      s.offers = s.offers.filter((o) => o.conversation_id !== id);
    } else {
      s.offers = s.offers.map((o) => (o.conversation_id === id ? { ...o, gone: note, claiming: false } : o));
      window.setTimeout(() => {
        this.state.offers = this.state.offers.filter((o) => !(o.conversation_id === id && o.gone));
        this.emit();
      }, 4000);
    }
    this.emit();
  }

  private onWithdrawn(id: string, reason: string) {
    if (reason === 'claimed_by_you') return this.withdraw(id, null);
    this.withdraw(id, reason === 'claimed' ? 'taken' : reason || 'gone');
  }

  private onClaimFailed(id: string, reason: string) {
    this.pendingClaims.delete(id);
    const note = reason === 'taken' ? 'taken' : reason === 'at_capacity' ? 'at_capacity' : reason === 'not_eligible' ? 'not_eligible' : 'gone';
    if (reason === 'at_capacity') {
      this.state.offers = this.state.offers.map((o) => (o.conversation_id === id ? { ...o, claiming: false } : o));
      this.notify('at_capacity');
      return;
    }
    if (!this.state.offers.some((o) => o.conversation_id === id)) return;
    this.state.offers = this.state.offers.map((o) => (o.conversation_id === id ? { ...o, gone: o.gone || note, claiming: false } : o));
    this.emit();
    window.setTimeout(() => {
      this.state.offers = this.state.offers.filter((o) => !(o.conversation_id === id && o.gone));
      this.emit();
    }, 4000);
  }

  private onConversation(c: Conversation) {
    const s = this.state;
    const meId = s.me?.id;
    const chats = new Map(s.chats);
    const mine = c.expert?.id && c.expert.id === meId;
    const had = chats.has(c.id);
    if (c.status === 'claimed' && !mine) {
      // Claimed by someone else (or transferred away from us).
      if (had) {
        const chat = chats.get(c.id)!;
        chats.set(c.id, { ...chat, conv: { ...chat.conv, ...c }, left: chat.left || 'transferred' });
      }
      s.chats = chats;
      this.withdraw(c.id, had ? null : 'taken');
      return this.emit();
    }
    if (!had && !mine && (c.status === 'queued' || c.status === 'offered')) {
      // A chat we transferred away: it is back in the queue, not ours.
      return;
    }
    const wasLeft = chats.get(c.id)?.left;
    const chat = this.upsertConv(chats, c);
    if (c.status === 'claimed' && mine && wasLeft) chat.left = undefined;
    if ((c.status === 'queued' || c.status === 'offered') && had && !mine) chat.left = 'transferred';
    s.chats = chats;
    if (mine && c.status === 'claimed') {
      s.offers = s.offers.filter((o) => o.conversation_id !== c.id);
      if (this.pendingClaims.delete(c.id)) this.onClaimed(c.id);
    }
    this.emit();
    if (c.last_seq > chat.lastSeq) this.requestSync(c.id);
  }

  private requestSync(id: string, force = false) {
    const chat = this.state.chats.get(id);
    if (!chat) return;
    if (chat.syncing && !force) return;
    if (this.socket.resume(id, chat.lastSeq)) {
      chat.syncing = true;
      // If the reply never comes (dropped socket), allow another attempt later.
      window.setTimeout(() => { const c = this.state.chats.get(id); if (c) c.syncing = false; }, 10_000);
    }
  }

  private onMessages(id: string, list: Message[], isSync: boolean, lastSeq?: number) {
    const s = this.state;
    const old = s.chats.get(id);
    if (!old) return;
    const chat: Chat = { ...old, messages: new Map(old.messages) };
    if (isSync) chat.syncing = false;
    let gap = false;
    let fromShopper = false;
    for (const m of list) {
      if (typeof m.seq !== 'number') continue;
      if (!isSync && m.seq > chat.lastSeq + 1 && !chat.messages.has(chat.lastSeq + 1)) gap = true;
      if (!chat.messages.has(m.seq)) {
        chat.messages.set(m.seq, { ...m, conversation_id: id });
        if (m.author?.role === 'shopper' && !isSync) fromShopper = true;
      }
      if (m.author?.role === 'shopper') chat.shopperTyping = false;
      if (m.client_msg_id) this.dropOutbox(m.client_msg_id, false);
    }
    while (chat.messages.has(chat.lastSeq + 1)) chat.lastSeq++;
    if (lastSeq && lastSeq > chat.conv.last_seq) chat.conv = { ...chat.conv, last_seq: lastSeq };
    const top = Math.max(0, ...list.map((m) => m.seq));
    if (top > chat.conv.last_seq) chat.conv = { ...chat.conv, last_seq: top };
    const chats = new Map(s.chats).set(id, chat);
    s.chats = chats;
    this.saveOutbox();
    this.emit();
    if (gap || (isSync && chat.lastSeq < chat.conv.last_seq && list.length > 0)) this.requestSync(id);
    if (isSync) this.resendFor(id);
    if (this.openChat === id && !document.hidden) this.markRead(id);
    if (fromShopper && (this.openChat !== id || document.hidden)) alertOffer(null, 0, true);
  }

  /** The server stored one of our messages; `out` is what the outbox held for it (the socket
   *  has taken it out). */
  private onAck(f: { conversation_id: string; client_msg_id: string; seq: number; sent_at: number }, out: Outgoing | undefined) {
    const s = this.state;
    const old = s.chats.get(f.conversation_id);
    if (old && out && !old.messages.has(f.seq)) {
      const chat: Chat = { ...old, messages: new Map(old.messages) };
      chat.messages.set(f.seq, {
        conversation_id: f.conversation_id, seq: f.seq, client_msg_id: f.client_msg_id,
        id: '', author: { role: 'expert', name: s.me?.name ?? null, expert_id: s.me?.id ?? null },
        kind: out.kind ?? (out.product ? 'product' : 'text'), body: out.body, product: out.product ?? undefined, sent_at: f.sent_at,
        data: out.attachment_id ? { attachment_id: out.attachment_id } : undefined,
      });
      while (chat.messages.has(chat.lastSeq + 1)) chat.lastSeq++;
      if (f.seq > chat.conv.last_seq) chat.conv = { ...chat.conv, last_seq: f.seq };
      s.chats = new Map(s.chats).set(f.conversation_id, chat);
      if (f.seq > chat.lastSeq + 1) this.requestSync(f.conversation_id);
    }
    if (out) { this.saveOutbox(); this.emit(); }
  }

  private onShopperAway(f: { conversation_id: string; away: boolean; reach?: string[] }) {
    const chat = this.state.chats.get(f.conversation_id);
    if (!chat) return;
    const away = f.away ? (Array.isArray(f.reach) ? f.reach.filter((r) => r === 'email' || r === 'sms') : []) : null;
    this.state.chats = new Map(this.state.chats).set(f.conversation_id, { ...chat, away, shopperTyping: away ? false : chat.shopperTyping });
    this.emit();
  }

  private onTyping(f: { conversation_id: string; typing: boolean; role?: string }) {
    const chat = this.state.chats.get(f.conversation_id);
    if (!chat || f.role === 'expert') return;
    this.state.chats = new Map(this.state.chats).set(f.conversation_id, { ...chat, shopperTyping: !!f.typing });
    this.emit();
    if (f.typing) {
      window.setTimeout(() => {
        const c = this.state.chats.get(f.conversation_id);
        if (c?.shopperTyping) { this.state.chats = new Map(this.state.chats).set(f.conversation_id, { ...c, shopperTyping: false }); this.emit(); }
      }, 8000);
    }
  }

  private onRead(f: { conversation_id: string; role: string; seq: number }) {
    const chat = this.state.chats.get(f.conversation_id);
    if (!chat) return;
    const conv = { ...chat.conv };
    if (f.role === 'shopper') conv.shopper_read_seq = Math.max(conv.shopper_read_seq ?? 0, f.seq);
    else conv.expert_read_seq = Math.max(conv.expert_read_seq ?? 0, f.seq);
    this.state.chats = new Map(this.state.chats).set(f.conversation_id, { ...chat, conv, readSeq: f.role === 'shopper' ? chat.readSeq : Math.max(chat.readSeq, f.seq) });
    this.emit();
  }

  private onError(f: { code: string; message?: string; ref?: string }) {
    this.state.lastError = f;
    if (f.ref && this.socket.outbox.has(f.ref) && ['conflict', 'invalid_state', 'too_large', 'bad_request', 'not_found', 'forbidden'].includes(f.code)) {
      this.socket.outbox.update(f.ref, { error: f.code });
      this.saveOutbox();
    }
    if (f.ref && this.pendingClaims.has(f.ref)) {
      this.pendingClaims.delete(f.ref);
      this.state.offers = this.state.offers.map((o) => (o.conversation_id === f.ref ? { ...o, claiming: false } : o));
    }
    if (f.code === 'at_capacity') this.notify('at_capacity');
    else if (f.code === 'rate_limited') this.notify('rate_limited');
    else if (f.code === 'forbidden') this.notify('forbidden');
    this.emit();
  }

  notify(text: string) {
    this.state.notice = { text, key: Date.now() };
    this.emit();
  }

  // ---- outbox -----------------------------------------------------------------------------

  private saveOutbox() {
    try { localStorage.setItem(OUTBOX_KEY, JSON.stringify(this.state.outbox)); } catch { /* full */ }
  }

  private dropOutbox(clientMsgId: string, save = true) {
    if (this.socket.outbox.take(clientMsgId)) {
      if (save) this.saveOutbox();
      this.emit();
    }
  }

  private resendFor(id: string) {
    this.socket.resend(id);
  }

  private markOrphans(open: Set<string>) {
    let changed = false;
    const items = this.socket.outbox.items.map((o) => {
      if (open.has(o.conversation_id) || o.error) return o;
      changed = true;
      return { ...o, error: 'invalid_state' };
    });
    if (changed) { this.socket.outbox.set(items); this.saveOutbox(); this.emit(); }
  }

  // ---- actions ----------------------------------------------------------------------------

  /** Ask the server; the switches follow at once, the chat count and cap only as the server
   *  answers (it may hold the cap to the merchant's limit). Offline, nothing changes. */
  setStatus(patch: Partial<Status>) {
    if (!this.send({ type: 'set_status', ...patch })) { this.notify('offline'); return; }
    const { max_chats: _cap, active_chats: _active, max_chats_limit: _limit, ...shown } = patch;
    if (this.state.status) { this.state.status = { ...this.state.status, ...shown }; this.emit(); }
  }

  claim(id: string) {
    this.pendingClaims.add(id);
    this.state.offers = this.state.offers.map((o) => (o.conversation_id === id ? { ...o, claiming: true } : o));
    this.emit();
    if (!this.send({ type: 'claim', conversation_id: id })) {
      this.pendingClaims.delete(id);
      this.state.offers = this.state.offers.map((o) => (o.conversation_id === id ? { ...o, claiming: false } : o));
      this.notify('offline');
    }
  }

  sendMessage(id: string, body: string, product?: Product | null) {
    const o: Outgoing = { conversation_id: id, client_msg_id: uuid(), body, product: product ?? undefined, created_at: Date.now() };
    this.socket.outbox.add(o);
    this.saveOutbox();
    this.emit();
    this.send(sendFrame(o));
    this.typing(id, false);
  }

  discardOutgoing(clientMsgId: string) { this.dropOutbox(clientMsgId); }

  /** Send an uploaded photo as a message (acked and resent like any message). */
  sendAttachment(id: string, attachmentId: string, caption = '') {
    const o: Outgoing = { conversation_id: id, client_msg_id: uuid(), body: caption, created_at: Date.now(), kind: 'attachment', attachment_id: attachmentId };
    this.socket.outbox.add(o);
    this.saveOutbox();
    this.emit();
    this.send(sendFrame(o));
  }

  private callListeners = new Set<(f: CallOut) => void>();
  /** Hear video call frames (`call_*`). */
  onCall(fn: (f: CallOut) => void): () => void { this.callListeners.add(fn); return () => { this.callListeners.delete(fn); }; }
  /** Send a video call frame; false while offline. */
  sendCall(frame: CallIn): boolean { return this.send(frame); }

  private typingState = new Map<string, number>();
  typing(id: string, on: boolean) {
    const last = this.typingState.get(id) ?? 0;
    if (on) {
      if (Date.now() - last < 3000) return;
      this.typingState.set(id, Date.now());
    } else {
      if (!last) return;
      this.typingState.delete(id);
    }
    this.send({ type: 'typing', conversation_id: id, typing: on });
  }

  markRead(id: string) {
    const chat = this.state.chats.get(id);
    if (!chat || chat.lastSeq <= chat.readSeq) return;
    const seq = chat.lastSeq;
    if (this.send({ type: 'read', conversation_id: id, seq })) {
      this.state.chats = new Map(this.state.chats).set(id, { ...chat, readSeq: seq });
      this.emit();
    }
  }

  unread(chat: Chat): number {
    let n = 0;
    for (const m of chat.messages.values()) if (m.seq > chat.readSeq && m.author?.role === 'shopper') n++;
    return n;
  }

  transfer(id: string, target: { department_id?: string; expert_id?: string }, note: string) {
    const frame: ExpertIn = { type: 'transfer', conversation_id: id, ...target };
    if (note.trim()) frame.note = note.trim();
    return this.send(frame);
  }

  end(id: string) { return this.send({ type: 'end', conversation_id: id }); }

  closeChat(id: string) {
    const chats = new Map(this.state.chats);
    chats.delete(id);
    this.state.chats = chats;
    this.emit();
  }

  requestContacts(q: string) { this.send({ type: 'contacts', q }); }
  requestHistory(shopperId: string) { this.send({ type: 'history', shopper_id: shopperId }); }

  /** Saved replies over the socket; resolves null when offline so the caller can use REST. */
  savedReplies(q: string): Promise<unknown[] | null> {
    return new Promise((resolve) => {
      if (!this.send({ type: 'saved_replies', q })) return resolve(null);
      const timer = window.setTimeout(() => { this.savedRepliesWaiters = this.savedRepliesWaiters.filter((w) => w !== done); resolve(null); }, 4000);
      const done = (items: unknown[]) => { clearTimeout(timer); resolve(items); };
      this.savedRepliesWaiters.push(done);
    });
  }
}

export const hub = new Hub();
