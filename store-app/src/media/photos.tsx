// Photos in the store app, as components the chat screen places:
//
//   const uploads = usePhotoUploads(conversationId, (a) => sendAttachmentMessage(a));
//   <PhotoButtons uploads={uploads} />        in the composer: camera (one tap on a phone) and gallery
//   <UploadTray uploads={uploads} />          above the composer: progress, retry, cancel
//   <PhotoBubble attachment={a} from="expert" />   in the transcript: thumbnail, full size on tap
//
// Uploads go straight to the REST API (`POST /app/conversations/{id}/attachments`), each with
// its own upload id, so "Try again" never stores a photo twice.
import { useEffect, useRef, useState } from 'preact/hooks';
import { currentLang } from '../i18n';
import { MIcon as Icon } from './icons';
import { DEFAULT_LIMITS, PhotoUpload, type AttachmentView, type UploadLimits } from '../../../web-shared/media/upload';
import { mt, removedAfter, type MediaKey } from '../../../web-shared/media/i18n';
import { mediaApi } from './api';

const tm = (key: MediaKey, vars?: Record<string, string | number>) => mt(currentLang(), key, vars);

export interface PhotoUploads {
  list: PhotoUpload[];
  add(files: FileList | File[]): void;
  retry(u: PhotoUpload): void;
  remove(u: PhotoUpload): void;
}

export function usePhotoUploads(conversationId: string, onUploaded: (a: AttachmentView) => void, limits: UploadLimits = DEFAULT_LIMITS): PhotoUploads {
  const [list, setList] = useState<PhotoUpload[]>([]);
  const [, force] = useState(0);
  const done = useRef(onUploaded);
  done.current = onUploaded;
  useEffect(() => () => { for (const u of list) u.dispose(); }, []);
  const finish = (u: PhotoUpload, a: AttachmentView | null) => {
    if (!a) return;
    done.current(a);
    // A sent photo leaves the tray once the chat shows it.
    setTimeout(() => { setList((l) => l.filter((x) => x !== u)); u.dispose(); }, 600);
  };
  return {
    list,
    add(files) {
      const fresh = Array.from(files).map((f) => new PhotoUpload(f, mediaApi.target(conversationId), limits));
      for (const u of fresh) {
        u.onChange(() => force((n) => n + 1));
        void u.start().then((a) => finish(u, a));
      }
      setList((l) => [...l, ...fresh]);
    },
    retry(u) { void u.retry().then((a) => finish(u, a)); },
    remove(u) { u.cancel(); u.dispose(); setList((l) => l.filter((x) => x !== u)); },
  };
}

/** Camera (opens the back camera directly on a phone) and gallery buttons for the composer. */
export function PhotoButtons({ uploads, disabled }: { uploads: PhotoUploads; disabled?: boolean }) {
  const camera = useRef<HTMLInputElement>(null);
  const gallery = useRef<HTMLInputElement>(null);
  const pick = (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    if (input.files?.length) uploads.add(input.files);
    input.value = '';
  };
  return (
    <div class="photo-buttons">
      <button type="button" class="icon-btn" disabled={disabled} onClick={() => camera.current?.click()} aria-label={tm('photo.take')} title={tm('photo.take')}>
        <Icon name="camera" />
      </button>
      <button type="button" class="icon-btn" disabled={disabled} onClick={() => gallery.current?.click()} aria-label={tm('photo.gallery')} title={tm('photo.gallery')}>
        <Icon name="image" />
      </button>
      <input ref={camera} type="file" accept="image/*" capture="environment" hidden tabIndex={-1} onChange={pick} data-photo="camera" />
      <input ref={gallery} type="file" accept="image/*" multiple hidden tabIndex={-1} onChange={pick} data-photo="gallery" />
    </div>
  );
}

/** Why a photo was not sent, in the user's language (the server's RFC 9457 detail is English). */
function failureText(u: PhotoUpload): string {
  if (u.error === 'not-a-photo' || u.status === 415) return tm('photo.notPhoto');
  if (u.error === 'too-large' || u.status === 413) return tm('photo.tooLarge');
  if (u.status === 422) return tm('photo.unreadable');
  if (u.error === 'network') return tm('photo.network');
  return tm('photo.failed');
}

function uploadText(u: PhotoUpload): string {
  switch (u.state) {
    case 'preparing': return tm('photo.preparing');
    case 'uploading': return tm('photo.uploading', { pct: Math.round(u.progress * 100) });
    case 'waiting': return tm('photo.waiting');
    case 'done': return '';
    default:
      return failureText(u);
  }
}

/** Photos on their way: a preview, progress, and what to do when one fails. */
export function UploadTray({ uploads }: { uploads: PhotoUploads }) {
  if (!uploads.list.length) return null;
  return (
    <ul class="upload-tray" aria-label={tm('photo.gallery')}>
      {uploads.list.map((u) => (
        <li key={u.id} class={`upload upload-${u.state}`} data-upload={u.state}>
          {u.preview && u.status !== 415 && u.status !== 422
            ? <img class="upload-preview" src={u.preview} alt="" onError={(e) => { (e.currentTarget as HTMLImageElement).style.visibility = 'hidden'; }} />
            : <span class="upload-preview" />}
          <div class="upload-body">
            <p class="upload-text" role={u.state === 'failed' ? 'alert' : undefined} aria-live="polite">{uploadText(u)}</p>
            {u.state === 'uploading' || u.state === 'waiting' || u.state === 'preparing'
              ? <progress max={1} value={u.state === 'uploading' ? u.progress : undefined} aria-label={tm('photo.uploading', { pct: Math.round(u.progress * 100) })} />
              : null}
          </div>
          {u.state === 'failed' && u.error !== 'not-a-photo' && u.error !== 'too-large' && u.status !== 415 && u.status !== 422
            ? <button type="button" class="btn small" onClick={() => uploads.retry(u)}>{tm('photo.retry')}</button>
            : null}
          {u.state !== 'done'
            ? <button type="button" class="icon-btn" onClick={() => uploads.remove(u)} aria-label={u.state === 'failed' ? tm('photo.dismiss') : tm('photo.cancel')}><Icon name="close" /></button>
            : null}
        </li>
      ))}
    </ul>
  );
}

/** A photo in the transcript: the thumbnail at its own shape; a tap opens it full size. */
export function PhotoBubble({ attachment, from }: { attachment: AttachmentView; from: 'expert' | 'shopper' }) {
  const [a, setA] = useState(attachment);
  const [open, setOpen] = useState(false);
  const [broken, setBroken] = useState(false);
  useEffect(() => setA(attachment), [attachment]);
  if (a.status === 'removed' || !a.urls) {
    return <p class="photo-removed" data-photo-removed={a.id}><Icon name="image" size={18} /> {removedAfter(currentLang(), a.removed_after_days ?? 0)}</p>;
  }
  const alt = tm(from === 'expert' ? 'photo.altExpert' : 'photo.altShopper');
  // Signed URLs expire: fetch fresh ones when an image fails to load (once).
  const refresh = () => {
    if (broken) return;
    setBroken(true);
    mediaApi.attachment(a.id).then((fresh) => { setA(fresh); setBroken(false); }).catch(() => { /* keep the note */ });
  };
  const w = Math.min(a.thumb_width, 240);
  return (
    <>
      <button type="button" class="photo-thumb" data-photo={a.id} onClick={() => setOpen(true)} aria-label={tm('photo.open')}
        style={{ aspectRatio: `${a.thumb_width} / ${a.thumb_height}`, width: `${w}px` }}>
        <img src={mediaApi.fileUrl(a.urls.thumb)} alt={alt} width={a.thumb_width} height={a.thumb_height} loading="lazy" decoding="async" onError={refresh} />
      </button>
      {open ? <PhotoViewer attachment={a} alt={alt} onClose={() => setOpen(false)} /> : null}
    </>
  );
}

/** Full size in a modal dialog (Escape or a tap outside closes it). */
export function PhotoViewer({ attachment, alt, onClose }: { attachment: AttachmentView; alt: string; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    const d = ref.current!;
    const opener = document.activeElement as HTMLElement | null;
    if (!d.open) d.showModal();
    return () => { try { d.close(); } catch { /* */ } opener?.focus?.(); };
  }, []);
  return (
    <dialog ref={ref} class="photo-viewer" aria-label={alt} onCancel={(e) => { e.preventDefault(); onClose(); }}
      onClick={(e) => { if (e.target === ref.current) onClose(); }}>
      <button type="button" class="icon-btn photo-viewer-close" onClick={onClose} aria-label={tm('photo.close')}><Icon name="close" /></button>
      {failed
        ? <p class="photo-viewer-error">{tm('photo.loadFailed')}</p>
        : <img src={mediaApi.fileUrl(attachment.urls!.full)} alt={alt} width={attachment.width} height={attachment.height} onError={() => setFailed(true)} />}
    </dialog>
  );
}
