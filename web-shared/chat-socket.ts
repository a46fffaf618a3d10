// The connection half of the chat protocol (docs/protocol.md), shared by the widget (shopper) and
// the store app (expert): one WebSocket at a time, `hello` on open, `welcome` makes it usable,
// reconnects with exponential back-off and jitter (0.5 s doubling to 30 s), stops for good on
// the close codes a retry cannot mend, keeps the socket alive with pings and gives up on one
// that has gone silent. It also keeps the outbox: messages sent with a client message id stay
// in it, in order, until the server acks them, and are sent again with the same id after a
// reconnect (once their conversation is synced: `resume`, then `resend`).
//
// What a side does with the frames (conversations, offers, storage) stays in its own client.
// No DOM: the socket class, the clock and the timers can be replaced (tests/chat-socket.test.mjs).
import type { AttachmentSend, CallIn, CallOut, ExpertIn, Out, Product, ShopperIn } from './protocol';
import { CLOSE } from './protocol';

/** What a client may send: the typed frames, photo messages and call signalling. */
export type ClientFrame = ShopperIn | ExpertIn | AttachmentSend | CallIn;
/** What the server may send. */
export type ServerFrame = Out | CallOut;

/** The part of a browser WebSocket the client uses. */
export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  onclose: ((ev: { code: number; reason?: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}

/**
 * `connecting` until `welcome`, `online` after it, `offline` between attempts, `failed` after a
 * fatal close (see `failure`), `idle` before `connect` and after `close`.
 */
export type SocketStatus = 'idle' | 'connecting' | 'online' | 'offline' | 'failed';

/** What to do after the server closed the socket: reconnect with back-off (the default), stay
 *  down until `connect`/`restart` is called (`hold`), or stop (`stop`: status `idle`). */
export type AfterClose = 'retry' | 'hold' | 'stop';

/** A message waiting for its `ack`. */
export interface Queued {
  conversation_id: string;
  client_msg_id: string;
  body: string;
  /** A photo message (`kind: attachment`). */
  attachment_id?: string;
  /** A product card (the expert's). */
  product?: Product | null;
  /** Refused for good (the store app keeps such messages to show them); never resent. */
  error?: string;
}

export interface ChatSocketOptions<T extends Queued> {
  url: () => string;
  WS?: new (url: string) => SocketLike;
  /** Asked before each attempt; false: do not connect now (no credential). */
  ready?: () => boolean;
  /** The `hello` frame, sent as the socket opens. */
  hello: () => ClientFrame;
  /** Every frame from the server except `ack`, `welcome` included (the socket is online by then). */
  onFrame: (f: ServerFrame) => void;
  /** An `ack`, with the outbox entry it took out (undefined when it was not ours or already gone). */
  onAck?: (f: Extract<Out, { type: 'ack' }>, sent: T | undefined) => void;
  /** The status changed by itself (not through `close`). */
  onStatus?: (status: SocketStatus) => void;
  /** The server closed the socket with a code that is not fatal (the status is not changed yet). */
  onClose?: (code: number) => AfterClose | void;
  /** Close codes that stop reconnecting (status `failed`). */
  fatal?: number[];
  /** The least wait before reconnecting after a close for the rate limit (`4008`). */
  rateLimitedWait?: number;
  /** Give up on an attempt not welcomed within this many ms. */
  helloTimeout?: number;
  /**
   * While online: a tick every `every` ms. A socket silent for more than `silentFor` ms is
   * dropped; otherwise the tick pings, and with `answerWithin` drops the socket when nothing at
   * all arrives that long after the ping.
   */
  keepAlive?: { every: number; silentFor?: number; answerWithin?: number };
  /** First and largest reconnect delay (defaults 500 and 30,000 ms); each delay is jittered
   *  between half and all of its step. */
  backoff?: { first: number; max: number };
  /** When a reconnect is due and this says the device is offline, wait another step. */
  online?: () => boolean;
  /** The outbox as stored from an earlier page, and a hook to store it again on each change. */
  outbox?: T[];
  onOutbox?: (items: T[]) => void;
  random?: () => number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => any;
  clearTimer?: (t: any) => void;
}

/** The close codes that no retry can mend: a frame too big, a refused origin, an unknown
 *  merchant, a broken client, an unsupported protocol version. */
export const FATAL_CLOSES: number[] = [CLOSE.TOO_BIG, CLOSE.ORIGIN, CLOSE.UNKNOWN_MERCHANT, CLOSE.PROTOCOL_ERROR, CLOSE.BAD_VERSION];

/** A message's `send` frame (a product card only from the expert). */
export type SendFrame = AttachmentSend | Extract<ShopperIn | ExpertIn, { type: 'send' }>;

/** The `send` frame of an outbox entry. */
export function sendFrame(o: Queued): SendFrame {
  if (o.attachment_id) {
    return { type: 'send', kind: 'attachment', conversation_id: o.conversation_id, client_msg_id: o.client_msg_id, attachment_id: o.attachment_id, body: o.body };
  }
  const f: Extract<ExpertIn, { type: 'send' }> = { type: 'send', conversation_id: o.conversation_id, client_msg_id: o.client_msg_id, body: o.body };
  if (o.product) f.product = o.product;
  return f;
}

/** Messages waiting for their ack, oldest first. `items` is replaced, never changed in place. */
export class Outbox<T extends Queued> {
  items: T[];
  constructor(items: T[] = [], private changed: (items: T[]) => void = () => {}) {
    this.items = items;
  }
  private put(items: T[]) {
    this.items = items;
    this.changed(items);
  }
  /** Replace the whole list (loaded from storage, or forgotten). */
  set(items: T[]) { this.put(items.slice()); }
  add(o: T) { this.put([...this.items, o]); }
  get(clientMsgId: string | null | undefined): T | undefined {
    return this.items.find((o) => o.client_msg_id === clientMsgId);
  }
  has(clientMsgId: string | null | undefined): boolean { return !!this.get(clientMsgId); }
  /** Take an entry out (acked, seen in the transcript, or given up); undefined if absent. */
  take(clientMsgId: string | null | undefined): T | undefined {
    const o = this.get(clientMsgId);
    if (o) this.put(this.items.filter((x) => x !== o));
    return o;
  }
  update(clientMsgId: string, patch: Partial<T>) {
    if (this.has(clientMsgId)) this.put(this.items.map((o) => (o.client_msg_id === clientMsgId ? { ...o, ...patch } : o)));
  }
  /** A conversation's entries still to send, in the order they were written. */
  pending(conversationId: string): T[] {
    return this.items.filter((o) => o.conversation_id === conversationId && !o.error);
  }
}

export class ChatSocket<T extends Queued = Queued> {
  status: SocketStatus = 'idle';
  /** The fatal close code that stopped the socket (status `failed`). */
  failure: number | null = null;
  /** Whether a socket was ever welcomed: connecting again is reconnecting. */
  wasOnline = false;
  /** When the last frame arrived (any frame), and when the current attempt started. */
  lastFrameAt = 0;
  connectStartedAt = 0;
  readonly outbox: Outbox<T>;
  private ws: SocketLike | null = null;
  private attempt = 0;
  private retryTimer: any = null;
  private helloTimer: any = null;
  private aliveTimer: any = null;
  private probeTimer: any = null;
  private o: ChatSocketOptions<T>;

  constructor(opts: ChatSocketOptions<T>) {
    this.o = opts;
    this.outbox = new Outbox(opts.outbox || [], opts.onOutbox);
  }

  private now() { return this.o.now ? this.o.now() : Date.now(); }
  private timer(fn: () => void, ms: number): any { return this.o.setTimer ? this.o.setTimer(fn, ms) : setTimeout(fn, ms); }
  private clear(t: any) {
    if (t === null || t === undefined) return;
    if (this.o.clearTimer) this.o.clearTimer(t);
    else clearTimeout(t);
  }
  private set(status: SocketStatus) {
    this.status = status;
    if (this.o.onStatus) this.o.onStatus(status);
  }

  /** Whether a socket exists (connecting or open). */
  get attached(): boolean { return !!this.ws; }
  /** Online: welcomed, frames may be sent. */
  get online(): boolean { return this.status === 'online' && !!this.ws; }

  /** Open a socket unless one is open or being opened (or the socket failed for good). */
  connect() {
    if (this.ws || this.status === 'failed') return;
    this.clear(this.retryTimer);
    this.retryTimer = null;
    if (this.o.ready && !this.o.ready()) return;
    this.set('connecting');
    let ws: SocketLike;
    try {
      const WS = this.o.WS || (globalThis as any).WebSocket;
      ws = new WS(this.o.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.connectStartedAt = this.now();
    this.clear(this.helloTimer);
    if (this.o.helloTimeout) {
      // A handshake that hangs (a network that swallows packets) is given up.
      this.helloTimer = this.timer(() => {
        if (this.ws === ws && this.status !== 'online') this.drop();
      }, this.o.helloTimeout);
    }
    ws.onopen = () => { this.raw(this.o.hello()); };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = this.now();
      this.clear(this.probeTimer);
      this.probeTimer = null;
      let f: any;
      try {
        f = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (f && typeof f.type === 'string') this.frame(f as ServerFrame);
    };
    ws.onerror = () => { /* onclose follows */ };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopTimers();
      if ((this.o.fatal || []).includes(ev.code)) {
        this.failure = ev.code;
        this.set('failed');
        return;
      }
      const next = (this.o.onClose && this.o.onClose(ev.code)) || 'retry';
      if (next === 'stop') {
        this.set('idle');
        return;
      }
      this.set('offline');
      if (next === 'retry') this.scheduleReconnect(ev.code === CLOSE.RATE_LIMITED ? this.o.rateLimitedWait || 0 : 0);
    };
  }

  private frame(f: ServerFrame) {
    if (f.type === 'welcome') {
      this.clear(this.helloTimer);
      this.wasOnline = true;
      this.attempt = 0;
      this.failure = null;
      this.set('online');
      this.keepAlive();
    }
    if (f.type === 'ack') {
      const sent = this.outbox.take(f.client_msg_id);
      if (this.o.onAck) this.o.onAck(f, sent);
      return;
    }
    this.o.onFrame(f);
  }

  /** Close the current socket (if any) quietly and connect now. */
  restart() {
    this.detach(1000);
    this.set('idle');
    this.connect();
  }

  /** Connect now with the back-off started afresh (the network came back). */
  retryNow() {
    this.clear(this.retryTimer);
    this.retryTimer = null;
    this.attempt = 0;
    this.connect();
  }

  /** Start the back-off from its first step again (the next failure waits the least). */
  resetBackoff() { this.attempt = 0; }

  /**
   * Treat the socket as dead now (the device went offline, or it stopped answering): a socket
   * on a dropped network can take a minute to close by itself. Reconnects with back-off.
   */
  drop() {
    if (!this.ws) return;
    this.detach();
    this.set('offline');
    this.scheduleReconnect();
  }

  /** Close for good (signed out, panel gone); `connect` starts again. */
  close() {
    this.detach(1000);
    this.status = 'idle';
  }

  private detach(code?: number) {
    this.clear(this.retryTimer);
    this.retryTimer = null;
    this.stopTimers();
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onclose = null;
    ws.onmessage = null;
    try {
      ws.close(code);
    } catch { /* already closed */ }
  }

  private stopTimers() {
    this.clear(this.helloTimer);
    this.clear(this.aliveTimer);
    this.clear(this.probeTimer);
    this.helloTimer = this.aliveTimer = this.probeTimer = null;
  }

  /** The wait before reconnect attempt n (from 0): the step doubles up to the cap, jittered. */
  delay(n: number): number {
    const b = this.o.backoff || { first: 500, max: 30_000 };
    const step = Math.min(b.max, b.first * Math.pow(2, n));
    const r = this.o.random ? this.o.random() : Math.random();
    return step / 2 + (r * step) / 2;
  }

  private scheduleReconnect(min = 0) {
    if (this.retryTimer) return;
    const wait = Math.max(min, this.delay(this.attempt++));
    this.retryTimer = this.timer(() => {
      this.retryTimer = null;
      if (this.o.online && !this.o.online()) {
        this.scheduleReconnect();
        return;
      }
      this.connect();
    }, wait);
  }

  private keepAlive() {
    const k = this.o.keepAlive;
    if (!k) return;
    this.clear(this.aliveTimer);
    this.aliveTimer = this.timer(() => {
      this.aliveTimer = null;
      if (!this.ws) return;
      if (k.silentFor && this.now() - this.lastFrameAt > k.silentFor) {
        // Silent for too long: the socket is probably dead without a close.
        this.drop();
        return;
      }
      if (k.answerWithin) this.probe(k.answerWithin);
      else this.ping();
      this.keepAlive();
    }, k.every);
  }

  /** Send a `ping` (the server answers `pong`); false when the socket is not open. */
  ping(): boolean {
    return this.raw({ type: 'ping' });
  }

  /** Ping, and drop the socket unless some frame arrives within `ms` (one such wait at a time). */
  probe(ms: number): boolean {
    if (!this.ping()) return false;
    if (this.probeTimer === null) {
      this.probeTimer = this.timer(() => {
        this.probeTimer = null;
        this.drop();
      }, ms);
    }
    return true;
  }

  /** Send a frame as soon as the socket is open (`hello`, `ping`, a repeated request). */
  raw(frame: ClientFrame): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  /** Send a frame once `welcome` has arrived; false otherwise (nothing is queued). */
  send(frame: ClientFrame): boolean {
    return this.status === 'online' && this.raw(frame);
  }

  /** Ask for a conversation's messages after the last seq processed (`sync`). */
  resume(conversationId: string, afterSeq: number): boolean {
    return this.send({ type: 'sync', conversation_id: conversationId, after_seq: afterSeq });
  }

  /** Send a conversation's unacked messages again, oldest first, with their client ids (after
   *  its sync reply: the server acks a repeat with the original seq). */
  resend(conversationId: string) {
    for (const o of this.outbox.pending(conversationId)) this.send(sendFrame(o));
  }
}
