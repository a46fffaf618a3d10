// A test bench for the store app's photo and call components (not shipped): a chat-shaped page
// that renders them against the real server, so the browser tests and screenshots exercise them
// before the chat screen places them (issue 24, part 2). Served by the tests at /app/media-lab.
import { render } from 'preact';
import { useState } from 'preact/hooks';
import { applyLang } from '../../src/i18n';
import { PhotoBubble, PhotoButtons, UploadTray, usePhotoUploads } from '../../src/media/photos';
import { CallPanel } from '../../src/media/call';
import { mediaApi } from '../../src/media/api';
import { Call, type Signal, type SignalChannel } from '../../../web-shared/media/call';
import type { AttachmentView } from '../../../web-shared/media/upload';

declare global {
  interface Window {
    __signalOut?: (json: string) => void;
    __signalIn: (json: string) => void;
    __lab: Record<string, any>;
  }
}

const listeners = new Set<(s: Signal) => void>();
const channel: SignalChannel = {
  send: (s) => window.__signalOut?.(JSON.stringify(s)),
  listen: (fn) => { listeners.add(fn); return () => listeners.delete(fn); },
};
window.__signalIn = (json) => { for (const fn of [...listeners]) fn(JSON.parse(json)); };

const params = new URLSearchParams(location.search);
const conversationId = params.get('conversation') ?? '';
const sent: AttachmentView[] = [];
let rerender = () => {};

function Lab() {
  const [, force] = useState(0);
  rerender = () => force((n) => n + 1);
  const [call, setCall] = useState<Call | null>(null);
  window.__lab.setCall = setCall;
  const uploads = usePhotoUploads(conversationId, (a) => { sent.push(a); rerender(); });
  return (
    <div class="shell lab">
      {call ? <CallPanel call={call} peerName="Shopper" onClose={() => setCall(null)} /> : null}
      <main class="transcript" aria-label="transcript">
        {(window.__lab.extra as AttachmentView[] ?? []).concat(sent).map((a) => (
          <div class={`msg ${a.uploaded_by === 'expert' ? 'mine' : 'theirs'}`} key={a.id} data-sent={a.id}>
            <PhotoBubble attachment={a} from={a.uploaded_by === 'expert' ? 'expert' : 'shopper'} />
          </div>
        ))}
      </main>
      <UploadTray uploads={uploads} />
      <form class="composer" onSubmit={(e) => e.preventDefault()}>
        <PhotoButtons uploads={uploads} />
        <textarea rows={1} aria-label="Message" placeholder="Message" />
      </form>
    </div>
  );
}

window.__lab = {
  sent,
  extra: [],
  async startCall(callId: string) {
    const cfg = await mediaApi.config();
    const call = new Call({ channel, callId, role: 'caller', iceServers: cfg.ice_servers });
    window.__lab.call = call;
    window.__lab.setCall(call);
    await call.start('video');
  },
  show(extra: AttachmentView[]) { window.__lab.extra = extra; rerender(); },
};
applyLang();
render(<Lab />, document.getElementById('root')!);
