// Photos and video calls on the chat screen (issue 24 part 2): the pieces Chat.tsx places.
//
//   const uploads = useChatPhotos(id)         photos picked in the composer are uploaded, then
//                                             sent as `attachment` messages
//   <CallButton conversationId={id} />        "Video call" in the header of a claimed chat
//   <CallArea conversationId={id} … />        the call above the transcript (the chat goes on)
//   <AttachmentPhoto id={…} from=… />         a photo message: fresh signed URLs per viewer
//   callSystemText(m)                         "Video call · 4:12" lines of the transcript
//
// Calls live in a registry per conversation, so leaving the chat screen does not end one, and
// they are resumed when the socket reconnects.
import { useEffect, useState } from 'preact/hooks';
import { hub, type Message } from '../hub';
import { currentLang } from '../i18n';
import { ChatCall, isCallFrame } from '../../../web-shared/media/chat-call';
import { callTime, mt, type MediaKey } from '../../../web-shared/media/i18n';
import type { AttachmentView } from '../../../web-shared/media/upload';
import { CallPanel } from './call';
import { MIcon } from './icons';
import { PhotoBubble, usePhotoUploads, type PhotoUploads } from './photos';
import { mediaApi, type MediaConfig } from './api';

const tm = (key: MediaKey, vars?: Record<string, string | number>) => mt(currentLang(), key, vars);

// ---- configuration (STUN/TURN, limits), read once per session ----
let config: MediaConfig | null = null;
let configLoading: Promise<void> | null = null;
function loadConfig(): Promise<void> {
  configLoading ??= mediaApi.config().then((c) => { config = c; }, () => { configLoading = null; });
  return configLoading;
}

// ---- calls ----
const calls = new Map<string, ChatCall>();
let wired = false;
function wire() {
  if (wired) return;
  wired = true;
  hub.onCall((f) => { if (isCallFrame(f)) calls.get(f.conversation_id)?.onFrame(f); });
  let was = hub.state.conn;
  hub.subscribe(() => {
    const now = hub.state.conn;
    if (now === 'online' && was !== 'online') for (const c of calls.values()) c.reconnected();
    was = now;
  });
}

export function chatCall(conversationId: string): ChatCall {
  wire();
  let c = calls.get(conversationId);
  if (!c) {
    c = new ChatCall({
      conversationId,
      role: 'caller',
      send: (frame) => hub.sendCall(frame),
      iceServers: () => config?.ice_servers ?? [],
    });
    calls.set(conversationId, c);
  }
  return c;
}

function useChatCall(conversationId: string): ChatCall {
  const c = chatCall(conversationId);
  const [, force] = useState(0);
  useEffect(() => c.onChange(() => force((n) => n + 1)), [c]);
  return c;
}

/** "Video call" for a claimed chat (disabled while one runs). */
export function CallButton({ conversationId }: { conversationId: string }) {
  const c = useChatCall(conversationId);
  useEffect(() => { void loadConfig(); }, []);
  const start = async () => { await loadConfig(); await c.start('video'); };
  return (
    <button type="button" class="icon-btn" onClick={() => void start()} disabled={c.active} data-call="start"
      aria-label={tm('call.video')} title={tm('call.video')}>
      <MIcon name="video" />
    </button>
  );
}

/** The call of this chat, above the transcript; a closed chat ends it. */
export function CallArea({ conversationId, peerName, open }: { conversationId: string; peerName: string; open: boolean }) {
  const c = useChatCall(conversationId);
  useEffect(() => { if (!open && c.active) c.call!.hangUp('chat_ended'); }, [open]);
  if (!c.call) return null;
  const why = c.call.state === 'ended' && c.call.endedBy === 'remote' && !c.call.connectedAt
    ? (c.lastReason === 'declined' ? tm('call.declined') : c.lastReason === 'dropped' ? tm('call.dropped') : null) : null;
  return (
    <div class="chat-call">
      <CallPanel call={c.call} peerName={peerName} onClose={() => c.dismiss()} />
      {why ? <p class="call-why" role="status">{why}</p> : null}
    </div>
  );
}

// ---- photos ----

/** Uploads for the composer: each stored photo is sent as an `attachment` message. */
export function useChatPhotos(conversationId: string): PhotoUploads {
  return usePhotoUploads(conversationId, (a) => hub.sendAttachment(conversationId, a.id));
}

const views = new Map<string, Promise<AttachmentView>>();

/** A photo message: the viewer's own signed URLs (fetched when shown), thumbnail, full size. */
export function AttachmentPhoto({ id, from }: { id: string; from: 'expert' | 'shopper' }) {
  const [a, setA] = useState<AttachmentView | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    let p = views.get(id);
    if (!p) {
      p = mediaApi.attachment(id);
      views.set(id, p);
      // Signed URLs live ten minutes or more: ask again after a while.
      setTimeout(() => views.delete(id), 8 * 60_000);
    }
    p.then((v) => { if (live) setA(v); }, () => { views.delete(id); if (live) setFailed(true); });
    return () => { live = false; };
  }, [id]);
  if (failed) return <p class="photo-removed">{tm('photo.loadFailed')}</p>;
  if (!a) return <span class="photo-loading" role="img" aria-label={tm('photo.loading')} />;
  return <PhotoBubble attachment={a} from={from} />;
}

/** The attachment id of a photo message. */
export function attachmentId(m: Pick<Message, 'kind' | 'data'>): string | null {
  const id = m.kind === 'attachment' ? (m.data as { attachment_id?: unknown } | null | undefined)?.attachment_id : null;
  return typeof id === 'string' ? id : null;
}

/** The transcript's call lines, or null for other system messages. */
export function callSystemText(m: Message): string | null {
  if (m.body === 'call_started') return tm('call.logStarted');
  if (m.body === 'call_ended') {
    const ms = Number((m.data as { duration_ms?: number } | null)?.duration_ms ?? 0);
    return tm('call.log', { time: callTime(Math.round(ms / 1000)) });
  }
  return null;
}
