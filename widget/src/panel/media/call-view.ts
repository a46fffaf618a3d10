// The shopper's side of a video call (no framework): "the expert would like to show you
// something" with one tap to join (camera and microphone are asked for only then; the shopper
// may join with the microphone only, or just watch), the call with mute / camera off / end, and
// a plain explanation when the browser refuses the camera. Drives a shared Call.
import { h } from '../dom';
import { Call, type CallError, type SendMode } from '../../../../web-shared/media/call';
import { callTime, mt, type MediaKey } from '../../../../web-shared/media/i18n';
import { icon } from './attach';

const ERROR_KEYS: Record<CallError, MediaKey> = {
  'permission-denied': 'call.denied',
  'no-device': 'call.noDevice',
  'device-busy': 'call.busy',
  insecure: 'call.insecure',
  unsupported: 'call.unsupported',
  connection: 'call.connection',
};

/** A live view of `call`; re-renders itself on every change. Call `destroy()` when removed. */
export function callView(call: Call, lang: string, expertName: string, onClose: () => void) {
  const tm = (k: MediaKey, v?: Record<string, string | number>) => mt(lang, k, v);
  const root = h('section', { class: 'fw-call', 'aria-label': tm('call.start') });
  const remote = h('video', { autoplay: true, playsinline: true, 'aria-label': tm('call.them') }) as HTMLVideoElement;
  const local = h('video', { autoplay: true, playsinline: true, 'aria-label': tm('call.you') }) as HTMLVideoElement;
  local.muted = true;
  remote.srcObject = call.remoteStream;
  const statusEl = h('p', { class: 'fw-call-status', role: 'status', 'aria-live': 'polite' });
  const selfWrap = h('div', { class: 'fw-call-self' }, local);
  const stage = h('div', { class: 'fw-call-stage' }, remote, selfWrap, statusEl);
  const bar = h('div', { class: 'fw-call-bar', role: 'group' });
  let declined = false;
  const join = (mode: SendMode) => void (call.ringing ? call.accept(mode) : call.retry(mode));
  const btn = (name: string, label: string, onclick: () => void, attrs: Record<string, unknown> = {}) =>
    h('button', { type: 'button', class: 'fw-call-btn', 'aria-label': label, title: label, onclick, ...attrs }, icon(name));

  const render = () => {
    root.setAttribute('data-call-state', call.state === 'failed' ? 'failed' : call.ringing ? 'ringing' : call.state);
    let body: Node[];
    if (declined) {
      body = [];
    } else if (call.state === 'failed' && call.error) {
      const err = call.error;
      const actions: Node[] = [];
      if (!['insecure', 'unsupported', 'connection'].includes(err)) actions.push(h('button', { type: 'button', onclick: () => join(call.mode) }, tm('call.tryAgain')));
      if (['permission-denied', 'no-device', 'device-busy'].includes(err)) actions.push(h('button', { type: 'button', 'data-join': 'watch', onclick: () => join('watch') }, tm('call.watch')));
      actions.push(h('button', { type: 'button', onclick: () => { call.hangUp('failed'); onClose(); } }, tm('photo.dismiss')));
      body = [h('div', { class: 'fw-call-problem', role: 'alert', 'data-call-error': err },
        h('h3', null, err === 'permission-denied' ? tm('call.deniedTitle') : tm('call.failed')),
        h('p', null, tm(ERROR_KEYS[err])),
        h('div', { class: 'fw-call-actions' }, actions))];
    } else if (call.ringing) {
      body = [h('div', { class: 'fw-call-ask', role: 'alertdialog', 'aria-live': 'assertive' },
        h('h3', null, tm('call.start')),
        h('p', null, tm('call.incoming', { name: expertName })),
        h('div', { class: 'fw-call-actions' },
          h('button', { type: 'button', 'data-join': 'video', onclick: () => join('video') }, tm('call.join')),
          h('button', { type: 'button', 'data-join': 'audio', onclick: () => join('audio') }, tm('call.joinAudio')),
          h('button', { type: 'button', 'data-join': 'watch', onclick: () => join('watch') }, tm('call.watch')),
          h('button', { type: 'button', onclick: () => { declined = true; call.hangUp('declined'); onClose(); } }, tm('call.decline'))))];
    } else if (call.state === 'ended') {
      body = [h('div', { class: 'fw-call-done', role: 'status' },
        h('p', null, `${tm('call.ended')}${call.connectedAt ? ` · ${callTime(call.duration())}` : ''}`),
        h('div', { class: 'fw-call-actions' }, h('button', { type: 'button', onclick: onClose }, tm('photo.dismiss'))))];
    } else {
      const status = call.state === 'connected' ? tm('call.connected', { time: callTime(call.duration()) })
        : call.state === 'reconnecting' ? tm('call.reconnecting') : call.state === 'asking' ? tm('call.asking') : tm('call.connecting');
      if (local.srcObject !== call.localStream) local.srcObject = call.localStream;
      const sending = call.mode === 'video' && !call.cameraOff;
      const controls: Node[] = [];
      if (call.mode !== 'watch') controls.push(btn(call.muted ? 'micOff' : 'mic', call.muted ? tm('call.unmute') : tm('call.mute'), () => call.setMuted(!call.muted), { 'aria-pressed': String(call.muted), 'data-call': 'mute' }));
      if (call.mode === 'video') controls.push(btn(call.cameraOff ? 'videoOff' : 'video', call.cameraOff ? tm('call.cameraOn') : tm('call.cameraOff'), () => void call.setCameraOff(!call.cameraOff), { 'aria-pressed': String(call.cameraOff), 'data-call': 'camera' }));
      const end = btn('hangup', tm('call.end'), () => call.hangUp(), { 'data-call': 'end' });
      end.classList.add('fw-end-call');
      controls.push(end);
      // The stage stays in place (the videos keep playing); only its text and the buttons change.
      statusEl.textContent = status;
      selfWrap.hidden = !sending;
      bar.replaceChildren(...controls);
      if (stage.parentNode !== root) root.replaceChildren(stage, bar);
      root.hidden = false;
      // `autoplay` does not restart a video that was moved while detached: start both ourselves.
      for (const v of [remote, local]) if (v.paused && v.srcObject) void v.play().catch(() => {});
      return;
    }
    root.replaceChildren(...body);
    root.hidden = declined;
  };
  const off = call.onChange(render);
  const tick = setInterval(() => { if (call.state === 'connected') render(); }, 1000);
  render();
  return { el: root, destroy() { off(); clearInterval(tick); } };
}
