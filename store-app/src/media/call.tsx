// A video call in the store app: the other side's picture, the expert's own in a corner, and
// the controls (mute, camera off, switch to the back camera to show the product, end). Built on
// the shared Call (web-shared/media/call.ts); the chat passes it a SignalChannel over the
// socket. `CallPanel` is placed above the transcript, so the chat keeps working during a call.
import { useEffect, useRef, useState } from 'preact/hooks';
import { currentLang } from '../i18n';
import { Call, type CallError, type SendMode } from '../../../web-shared/media/call';
import { callTime, mt, type MediaKey } from '../../../web-shared/media/i18n';
import { MIcon } from './icons';

const tm = (key: MediaKey, vars?: Record<string, string | number>) => mt(currentLang(), key, vars);

export function useCall(call: Call | null): number {
  const [n, force] = useState(0);
  useEffect(() => call?.onChange(() => force((x) => x + 1)), [call]);
  useEffect(() => {
    if (call?.state !== 'connected') return;
    const id = setInterval(() => force((x) => x + 1), 1000);
    return () => clearInterval(id);
  }, [call, call?.state]);
  return n;
}

function Video({ stream, muted, label, mirror }: { stream: MediaStream | null; muted?: boolean; label: string; mirror?: boolean }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const v = ref.current;
    if (v && v.srcObject !== stream) v.srcObject = stream;
    if (v && v.paused && v.srcObject) void v.play().catch(() => { /* the user may press play */ });
  });
  return <video ref={ref} class={mirror ? 'mirror' : undefined} autoplay playsInline muted={muted} aria-label={label} />;
}

export const ERROR_KEYS: Record<CallError, MediaKey> = {
  'permission-denied': 'call.denied',
  'no-device': 'call.noDevice',
  'device-busy': 'call.busy',
  insecure: 'call.insecure',
  unsupported: 'call.unsupported',
  connection: 'call.connection',
};

/** What went wrong, and the ways forward it leaves. */
export function CallProblem({ call, onClose }: { call: Call; onClose: () => void }) {
  const err = call.error as CallError;
  const retry = (mode: SendMode) => void call.retry(mode);
  return (
    <div class="call-problem" role="alert" data-call-error={err}>
      <h3>{err === 'permission-denied' ? tm('call.deniedTitle') : tm('call.failed')}</h3>
      <p>{tm(ERROR_KEYS[err] ?? 'call.failed')}</p>
      <div class="call-problem-actions">
        {err !== 'insecure' && err !== 'unsupported' && err !== 'connection'
          ? <button type="button" class="btn" onClick={() => retry(call.mode)}>{tm('call.tryAgain')}</button> : null}
        {err === 'permission-denied' || err === 'no-device' || err === 'device-busy'
          ? <button type="button" class="btn ghost" onClick={() => retry('watch')}>{tm('call.watch')}</button> : null}
        <button type="button" class="btn ghost" onClick={onClose}>{tm('photo.dismiss')}</button>
      </div>
    </div>
  );
}

/** The call in progress. `peerName` names the shopper in labels. */
export function CallPanel({ call, peerName, onClose }: { call: Call; peerName: string; onClose: () => void }) {
  useCall(call);
  if (call.state === 'failed' && call.error) return <section class="call-panel"><CallProblem call={call} onClose={onClose} /></section>;
  if (call.state === 'ended') {
    return (
      <section class="call-panel call-ended" data-call-state="ended">
        <p role="status">{tm('call.ended')}{call.connectedAt ? ` · ${callTime(call.duration())}` : ''}</p>
        <button type="button" class="btn ghost" onClick={onClose}>{tm('photo.dismiss')}</button>
      </section>
    );
  }
  const status = call.state === 'connected' ? tm('call.connected', { time: callTime(call.duration()) })
    : call.state === 'reconnecting' ? tm('call.reconnecting')
      : call.state === 'asking' ? tm('call.asking') : tm('call.connecting');
  const hasVideo = call.mode === 'video';
  return (
    <section class="call-panel" data-call-state={call.state} aria-label={tm('call.start')}>
      <div class="call-stage">
        <Video stream={call.remoteStream} label={tm('call.them')} />
        {hasVideo && !call.cameraOff ? <div class="call-self"><Video stream={call.localStream} muted label={tm('call.you')} mirror={call.facing === 'user'} /></div> : null}
        <p class="call-status" role="status" aria-live="polite">{status}</p>
        {call.state === 'reconnecting'
          ? <button type="button" class="btn small call-reconnect" onClick={() => void call.resume()}>{tm('call.reconnect')}</button> : null}
      </div>
      <div class="call-controls" role="group" aria-label={peerName}>
        <button type="button" class={`call-btn${call.muted ? ' off' : ''}`} aria-pressed={call.muted} onClick={() => call.setMuted(!call.muted)}
          aria-label={call.muted ? tm('call.unmute') : tm('call.mute')} title={call.muted ? tm('call.unmute') : tm('call.mute')} data-call="mute">
          <MIcon name={call.muted ? 'micOff' : 'mic'} />
        </button>
        {hasVideo ? (
          <button type="button" class={`call-btn${call.cameraOff ? ' off' : ''}`} aria-pressed={call.cameraOff} onClick={() => void call.setCameraOff(!call.cameraOff)}
            aria-label={call.cameraOff ? tm('call.cameraOn') : tm('call.cameraOff')} title={call.cameraOff ? tm('call.cameraOn') : tm('call.cameraOff')} data-call="camera">
            <MIcon name={call.cameraOff ? 'videoOff' : 'video'} />
          </button>
        ) : null}
        {hasVideo ? (
          <button type="button" class="call-btn" onClick={() => void call.switchCamera()} disabled={call.cameraOff}
            aria-label={tm('call.switch')} title={tm('call.switch')} data-call="switch">
            <MIcon name="flip" />
          </button>
        ) : null}
        <button type="button" class="call-btn end" onClick={() => call.hangUp()} aria-label={tm('call.end')} title={tm('call.end')} data-call="end">
          <MIcon name="hangup" />
        </button>
      </div>
    </section>
  );
}
