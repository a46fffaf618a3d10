// A video call between the expert (store app) and the shopper (widget): WebRTC in the browser,
// shared by both apps (no framework, no dependencies).
//
// The call does not know how its messages travel: it talks to a SignalChannel (send a signal,
// hear signals), which the chat will carry as protocol frames (offer / answer / ice / hangup /
// resume, see docs/media.md). Tests connect two pages with a channel of their own.
//
// Roles: the expert calls (makes the offer); the shopper answers, choosing what to send:
// camera and microphone, microphone only, or nothing (watch only). Camera and microphone
// permission is asked only when the user starts or accepts, and a refusal is reported as a
// plain reason (CallError) the UI can explain, with the ways forward it allows.
//
// Bad networks: when the connection drops, the call says `reconnecting` and the caller restarts
// ICE (a new offer on the same connection); the answerer may ask for that with `resume`. A call
// that cannot be saved within `giveUpMs` ends as `failed`; the chat may then start a new one.

export type Signal =
  | { kind: 'offer'; call_id: string; sdp: string }
  | { kind: 'answer'; call_id: string; sdp: string }
  | { kind: 'ice'; call_id: string; candidate: RTCIceCandidateInit }
  | { kind: 'hangup'; call_id: string; reason?: string }
  | { kind: 'resume'; call_id: string };

export interface SignalChannel {
  send(signal: Signal): void;
  /** Hear signals; returns a function that stops listening. */
  listen(fn: (signal: Signal) => void): () => void;
}

/** What this side sends. */
export type SendMode = 'video' | 'audio' | 'watch';
export type CallState = 'idle' | 'asking' | 'connecting' | 'connected' | 'reconnecting' | 'ended' | 'failed';
export type CallError = 'permission-denied' | 'no-device' | 'device-busy' | 'insecure' | 'unsupported' | 'connection';

export interface CallOptions {
  channel: SignalChannel;
  callId: string;
  role: 'caller' | 'answerer';
  iceServers?: RTCIceServer[];
  /** How long a dropped connection may take to come back before the call fails. */
  giveUpMs?: number;
}

/** Why getUserMedia failed, in words the UI can explain. */
export function mediaError(e: unknown): CallError {
  const name = (e as { name?: string } | null)?.name ?? '';
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') return 'permission-denied';
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') return 'no-device';
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') return 'device-busy';
  return 'unsupported';
}

export class Call {
  state: CallState = 'idle';
  error: CallError | null = null;
  mode: SendMode = 'video';
  muted = false;
  cameraOff = false;
  facing: 'user' | 'environment' = 'user';
  localStream: MediaStream | null = null;
  readonly remoteStream: MediaStream = new MediaStream();
  /** Who ended it: 'local' or 'remote'. */
  endedBy: 'local' | 'remote' | null = null;
  connectedAt: number | null = null;

  private pc: RTCPeerConnection | null = null;
  private pendingIce: RTCIceCandidateInit[] = [];
  private stopListening: () => void;
  private listeners = new Set<() => void>();
  private dropTimer: ReturnType<typeof setTimeout> | null = null;
  private pendingOffer: string | null = null;

  constructor(private opts: CallOptions) {
    this.stopListening = opts.channel.listen((s) => { if (s.call_id === opts.callId) void this.onSignal(s); });
  }

  get id() { return this.opts.callId; }
  get role() { return this.opts.role; }

  onChange(fn: () => void): () => void { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  private emit() { for (const fn of this.listeners) fn(); }
  private set(state: CallState) { this.state = state; this.emit(); }

  /** Ask for camera/microphone as `mode` needs. Sets `error` and returns false on refusal. */
  private async acquire(mode: SendMode): Promise<boolean> {
    this.mode = mode;
    if (mode === 'watch') { this.localStream = new MediaStream(); return true; }
    const md = navigator.mediaDevices;
    if (!md || typeof md.getUserMedia !== 'function') {
      this.error = globalThis.isSecureContext === false ? 'insecure' : 'unsupported';
      this.set('failed');
      return false;
    }
    this.set('asking');
    try {
      this.localStream = await md.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true },
        video: mode === 'video' ? { facingMode: this.facing, width: { ideal: 1280 }, height: { ideal: 720 } } : false,
      });
      this.error = null;
      return true;
    } catch (e) {
      this.error = mediaError(e);
      this.set('failed');
      return false;
    }
  }

  private connection(): RTCPeerConnection {
    if (this.pc) return this.pc;
    const pc = new RTCPeerConnection({ iceServers: this.opts.iceServers ?? [] });
    this.pc = pc;
    pc.onicecandidate = (e) => {
      if (e.candidate) this.opts.channel.send({ kind: 'ice', call_id: this.id, candidate: e.candidate.toJSON() });
    };
    pc.ontrack = (e) => {
      if (!this.remoteStream.getTracks().includes(e.track)) this.remoteStream.addTrack(e.track);
      this.emit();
    };
    pc.onconnectionstatechange = () => this.onConnectionState(pc.connectionState);
    return pc;
  }

  private addLocalTracks(pc: RTCPeerConnection) {
    const stream = this.localStream as MediaStream;
    for (const t of stream.getTracks()) {
      const sender = pc.addTrack(t, stream);
      if (t.kind === 'video') this.videoSender = sender;
    }
    // Receive both kinds whatever this side sends (an audio-only or watching shopper still sees the expert).
    for (const kind of ['audio', 'video'] as const) {
      if (!stream.getTracks().some((t) => t.kind === kind)) pc.addTransceiver(kind, { direction: 'recvonly' });
    }
  }

  /** The caller: take the camera and microphone, then offer. */
  async start(mode: SendMode = 'video'): Promise<boolean> {
    if (!(await this.acquire(mode))) return false;
    const pc = this.connection();
    this.addLocalTracks(pc);
    this.set('connecting');
    await this.offer(false);
    return true;
  }

  /** The answerer: accept the offer received (or the next one) sending `mode`. */
  async accept(mode: SendMode = 'video'): Promise<boolean> {
    if (!(await this.acquire(mode))) return false;
    const pc = this.connection();
    this.addLocalTracks(pc);
    this.set('connecting');
    if (this.pendingOffer) await this.answer(this.pendingOffer);
    return true;
  }

  /** After a refusal, try again (e.g. once the user allowed the camera, or chose less). */
  async retry(mode: SendMode): Promise<boolean> {
    this.error = null;
    this.pc?.close();
    this.pc = null;
    this.videoSender = null;
    return this.role === 'caller' ? this.start(mode) : this.accept(mode);
  }

  /** Whether an offer is waiting to be accepted (the answerer's "incoming call"). */
  get ringing(): boolean { return this.role === 'answerer' && this.pendingOffer !== null && !this.pc; }

  private async offer(iceRestart: boolean) {
    const pc = this.pc as RTCPeerConnection;
    const desc = await pc.createOffer({ iceRestart });
    await pc.setLocalDescription(desc);
    this.opts.channel.send({ kind: 'offer', call_id: this.id, sdp: pc.localDescription?.sdp ?? desc.sdp ?? '' });
  }

  private async answer(sdp: string) {
    const pc = this.pc as RTCPeerConnection;
    this.pendingOffer = null;
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await this.flushIce();
    const desc = await pc.createAnswer();
    await pc.setLocalDescription(desc);
    this.opts.channel.send({ kind: 'answer', call_id: this.id, sdp: pc.localDescription?.sdp ?? desc.sdp ?? '' });
  }

  private async flushIce() {
    const pc = this.pc;
    if (!pc || !pc.remoteDescription) return;
    for (const c of this.pendingIce.splice(0)) { try { await pc.addIceCandidate(c); } catch { /* stale */ } }
  }

  private async onSignal(s: Signal) {
    if (this.state === 'ended') return;
    switch (s.kind) {
      case 'offer':
        if (this.role !== 'answerer') return;
        if (this.pc) await this.answer(s.sdp); // a restart of a call in progress
        else { this.pendingOffer = s.sdp; this.emit(); }
        return;
      case 'answer':
        if (this.role === 'caller' && this.pc) { await this.pc.setRemoteDescription({ type: 'answer', sdp: s.sdp }); await this.flushIce(); }
        return;
      case 'ice':
        if (this.pc?.remoteDescription) { try { await this.pc.addIceCandidate(s.candidate); } catch { /* stale */ } }
        else this.pendingIce.push(s.candidate);
        return;
      case 'resume':
        if (this.role === 'caller' && this.pc) await this.offer(true);
        return;
      case 'hangup':
        this.finish('remote');
    }
  }

  private onConnectionState(st: RTCPeerConnectionState) {
    if (st === 'connected') {
      if (this.dropTimer) { clearTimeout(this.dropTimer); this.dropTimer = null; }
      this.connectedAt ??= Date.now();
      this.set('connected');
    } else if ((st === 'disconnected' || st === 'failed') && (this.state === 'connected' || this.state === 'reconnecting')) {
      this.set('reconnecting');
      void this.resume();
      this.dropTimer ??= setTimeout(() => {
        if (this.state === 'reconnecting') { this.error = 'connection'; this.cleanup(); this.set('failed'); }
      }, this.opts.giveUpMs ?? 30_000);
    }
  }

  /** Try to bring a dropped connection back (also after the chat's socket reconnects). */
  async resume() {
    if (!this.pc || this.state === 'ended') return;
    if (this.role === 'caller') await this.offer(true);
    else this.opts.channel.send({ kind: 'resume', call_id: this.id });
  }

  setMuted(muted: boolean) {
    this.muted = muted;
    for (const t of this.localStream?.getAudioTracks() ?? []) t.enabled = !muted;
    this.emit();
  }

  /** Stop sending video and let the camera go (its light goes off); on again asks for it anew. */
  async setCameraOff(off: boolean) {
    const sender = this.videoSender;
    if (!sender) return; // audio-only or watching: no video to stop
    if (off) {
      for (const t of this.localStream?.getVideoTracks() ?? []) { t.stop(); this.localStream?.removeTrack(t); }
      await sender.replaceTrack(null);
      this.cameraOff = true;
    } else {
      const track = await this.camera(this.facing);
      if (!track) return;
      await sender.replaceTrack(track);
      this.localStream?.addTrack(track);
      this.cameraOff = false;
    }
    this.emit();
  }

  private videoSender: RTCRtpSender | null = null;

  private async camera(facing: 'user' | 'environment'): Promise<MediaStreamTrack | null> {
    try {
      const s = await navigator.mediaDevices.getUserMedia({ video: { facingMode: facing, width: { ideal: 1280 }, height: { ideal: 720 } } });
      return s.getVideoTracks()[0] ?? null;
    } catch (e) {
      this.error = mediaError(e);
      this.emit();
      return null;
    }
  }

  /** Front ↔ back camera (the expert shows the product with the back camera). */
  async switchCamera() {
    if (this.mode !== 'video' || this.cameraOff) return;
    const next = this.facing === 'user' ? 'environment' : 'user';
    const old = this.localStream?.getVideoTracks()[0];
    old?.stop(); // phones cannot open both cameras at once
    const track = await this.camera(next);
    if (!track) return;
    await this.videoSender?.replaceTrack(track);
    if (old) this.localStream?.removeTrack(old);
    this.localStream?.addTrack(track);
    this.facing = next;
    this.emit();
  }

  /** End the call for both sides. */
  hangUp(reason = 'ended') {
    if (this.state === 'ended') return;
    this.opts.channel.send({ kind: 'hangup', call_id: this.id, reason });
    this.finish('local');
  }

  private finish(by: 'local' | 'remote') {
    this.endedBy = by;
    this.cleanup();
    this.set('ended');
  }

  private cleanup() {
    if (this.dropTimer) clearTimeout(this.dropTimer);
    for (const t of this.localStream?.getTracks() ?? []) t.stop();
    this.pc?.close();
    this.pc = null;
    this.stopListening();
  }

  /** Seconds since the two sides connected (0 before). */
  duration(now = Date.now()): number {
    return this.connectedAt ? Math.round((now - this.connectedAt) / 1000) : 0;
  }

  /** Received video frames decoded so far (proof the other side's picture arrives). */
  async framesDecoded(): Promise<number> {
    if (!this.pc) return 0;
    let n = 0;
    (await this.pc.getStats()).forEach((r: any) => { if (r.type === 'inbound-rtp' && r.kind === 'video') n += r.framesDecoded ?? 0; });
    return n;
  }
}
