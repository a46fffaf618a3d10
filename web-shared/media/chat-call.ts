// A conversation's video calls over the chat socket (docs/protocol.md, "Video calls"): turns
// the hub's call frames (`call_offer`, `call_answer`, `call_ice`, `call_resume`,
// `call_hangup`) into the Call's signals and back, creates the Call when the expert starts one
// or the shopper's side hears an offer, and resumes it after the socket reconnects. Shared by
// the store app (caller) and the widget (answerer); no framework, no DOM.
import { Call, type SendMode, type Signal, type SignalChannel } from './call';
import type { components } from '../api-types';
import type { CallIn, CallOut } from '../protocol';

/** A STUN/TURN server as the media config lists it. */
type IceServer = components['schemas']['IceServer'];

/** A call frame as the hub relays it (generated from the server's `hub::calls::CallOut`). */
export type CallFrame = CallOut;
export type { CallIn };

/** Whether a server frame is a call frame. */
export function isCallFrame(f: { type?: unknown }): f is CallFrame {
  return typeof f.type === 'string' && f.type.startsWith('call_');
}

export function frameToSignal(f: CallIn): Signal | null {
  switch (f.type) {
    case 'call_offer': return { kind: 'offer', call_id: f.call_id, sdp: f.sdp ?? '' };
    case 'call_answer': return { kind: 'answer', call_id: f.call_id, sdp: f.sdp ?? '' };
    case 'call_ice': return f.candidate ? { kind: 'ice', call_id: f.call_id, candidate: f.candidate } : null;
    case 'call_resume': return { kind: 'resume', call_id: f.call_id };
    case 'call_hangup': return { kind: 'hangup', call_id: f.call_id, reason: f.reason ?? undefined };
    default: return null;
  }
}

export function signalToFrame(conversationId: string, s: Signal): CallIn {
  const { kind, ...rest } = s;
  return { type: `call_${kind}`, conversation_id: conversationId, ...rest } as CallIn;
}

export function newCallId(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  return c?.randomUUID ? c.randomUUID() : `call-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export interface ChatCallOptions {
  conversationId: string;
  role: 'caller' | 'answerer';
  /** Send a frame on the chat socket; false when it is down. */
  send: (frame: CallIn) => boolean;
  iceServers?: () => IceServer[];
}

/** The media config's servers as the browser takes them (the server leaves out what it lacks:
 *  a null here is only the schema's way of saying "optional"). */
function rtcServers(list: IceServer[] | undefined): RTCIceServer[] | undefined {
  return list?.map((x) => {
    const s: RTCIceServer = { urls: x.urls };
    if (x.username != null) s.username = x.username;
    if (x.credential != null) s.credential = x.credential;
    return s;
  });
}

/** The call (if any) of one conversation. */
export class ChatCall {
  call: Call | null = null;
  /** Why the last hang-up happened, as the other side or the hub said (`declined`, `dropped`…). */
  lastReason: string | null = null;
  private signalListeners = new Set<(s: Signal) => void>();
  private listeners = new Set<() => void>();
  private offCall: (() => void) | null = null;

  constructor(private o: ChatCallOptions) {}

  get conversationId() { return this.o.conversationId; }

  private channel: SignalChannel = {
    send: (s) => { this.o.send(signalToFrame(this.o.conversationId, s)); },
    listen: (fn) => { this.signalListeners.add(fn); return () => { this.signalListeners.delete(fn); }; },
  };

  onChange(fn: () => void): () => void { this.listeners.add(fn); return () => { this.listeners.delete(fn); }; }
  private emit() { for (const fn of this.listeners) fn(); }

  private adopt(call: Call) {
    this.offCall?.();
    this.call = call;
    this.lastReason = null;
    this.offCall = call.onChange(() => this.emit());
    this.emit();
  }

  /** Whether a call is ringing or running (not ended or failed). */
  get active(): boolean {
    const s = this.call?.state;
    return !!this.call && s !== 'ended' && s !== 'failed';
  }

  /** A call frame from the hub for any conversation (others are ignored). */
  onFrame(f: CallIn | CallOut) {
    if (f.conversation_id !== this.o.conversationId) return;
    const s = frameToSignal(f);
    if (!s) return;
    if (s.kind === 'offer' && this.o.role === 'answerer' && (!this.call || this.call.id !== s.call_id)) {
      // A new call (a restart of the current one keeps its id).
      if (this.active) this.call!.hangUp('replaced');
      this.adopt(new Call({ channel: this.channel, callId: s.call_id, role: 'answerer', iceServers: rtcServers(this.o.iceServers?.()) }));
    }
    if (s.kind === 'hangup' && this.call?.id === s.call_id) this.lastReason = s.reason ?? null;
    for (const fn of this.signalListeners) fn(s);
    this.emit();
  }

  /** The expert starts a call. */
  async start(mode: SendMode = 'video'): Promise<boolean> {
    if (this.active) return false;
    const call = new Call({ channel: this.channel, callId: newCallId(), role: 'caller', iceServers: rtcServers(this.o.iceServers?.()) });
    this.adopt(call);
    return call.start(mode);
  }

  /** The chat socket came back: bring the call back too (the caller restarts ICE, the
   *  answerer asks for it with `call_resume`). */
  reconnected() {
    if (this.active && this.call!.state !== 'idle') void this.call!.resume();
  }

  /** Forget an ended call (the UI closed it). Hangs up one still running. */
  dismiss() {
    if (this.active) this.call!.hangUp(this.call!.ringing ? 'declined' : 'ended');
    this.offCall?.();
    this.offCall = null;
    this.call = null;
    this.emit();
  }
}
