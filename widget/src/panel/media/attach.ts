// The shopper's photo pieces for the panel (no framework): the attach button (shown only where
// the merchant allows shopper photos, per `GET /widget/media-config`), the tray of photos on
// their way, and a photo in the transcript that opens full size. Uploads go to
// `POST /api/v1/widget/conversations/{id}/attachments?merchant=…` with the shopper token.
import { h } from '../dom';
import { MEDIA_ICONS } from '../../../../web-shared/media/icons';
import { mt, removedAfter, type MediaKey } from '../../../../web-shared/media/i18n';
import { DEFAULT_LIMITS, PhotoUpload, type AttachmentView, type MediaConfig, type UploadLimits } from '../../../../web-shared/media/upload';

export interface WidgetMediaContext {
  /** The Floorwalker server's origin, e.g. https://chat.example.com */
  base: string;
  merchant: string;
  /** The shopper token from `welcome`. */
  token: string;
  lang: string;
}

export type WidgetMediaConfig = MediaConfig;

export function icon(name: string): SVGSVGElement {
  const s = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  s.setAttribute('viewBox', '0 0 24 24');
  s.setAttribute('aria-hidden', 'true');
  s.setAttribute('focusable', 'false');
  const p = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  p.setAttribute('d', MEDIA_ICONS[name] ?? '');
  s.appendChild(p);
  return s;
}

const api = (ctx: WidgetMediaContext, path: string) => `${ctx.base}/api/v1/widget/${path}${path.includes('?') ? '&' : '?'}merchant=${encodeURIComponent(ctx.merchant)}`;

/** Whether this shopper may send photos, the limits and STUN/TURN servers. */
export async function mediaConfig(ctx: WidgetMediaContext): Promise<WidgetMediaConfig | null> {
  try {
    const r = await fetch(api(ctx, 'media-config'), { headers: { authorization: `Bearer ${ctx.token}` } });
    return r.ok ? await r.json() : null;
  } catch { return null; }
}

/** Fresh signed URLs for a photo (they expire after about ten minutes). */
export async function fetchAttachment(ctx: WidgetMediaContext, id: string): Promise<AttachmentView | null> {
  try {
    const r = await fetch(api(ctx, `attachments/${encodeURIComponent(id)}`), { headers: { authorization: `Bearer ${ctx.token}` } });
    return r.ok ? await r.json() : null;
  } catch { return null; }
}

/**
 * The attach button and its tray for one conversation. `onSent` gets each stored photo (the
 * chat then sends it as a message). Returns the button (for the composer) and the tray (above it).
 */
export function attachControls(ctx: WidgetMediaContext, conversationId: string, onSent: (a: AttachmentView) => void, limits: UploadLimits = DEFAULT_LIMITS) {
  const tm = (k: MediaKey, v?: Record<string, string | number>) => mt(ctx.lang, k, v);
  const tray = h('ul', { class: 'fw-uploads', hidden: true, 'aria-label': tm('photo.gallery') });
  const input = h('input', { type: 'file', accept: 'image/*', multiple: true, tabindex: '-1', 'data-photo': 'gallery' }) as HTMLInputElement;
  const button = h('button', { type: 'button', class: 'fw-icon-btn', 'aria-label': tm('photo.gallery'), title: tm('photo.gallery'), onclick: () => input.click() }, icon('image'));
  const el = h('div', { class: 'fw-attach' }, button, input);
  const rows = new Map<PhotoUpload, HTMLLIElement>();

  const text = (u: PhotoUpload) => {
    if (u.state === 'done') return '';
    if (u.state === 'preparing') return tm('photo.preparing');
    if (u.state === 'uploading') return tm('photo.uploading', { pct: Math.round(u.progress * 100) });
    if (u.state === 'waiting') return tm('photo.waiting');
    // In the shopper's language (the server's RFC 9457 detail is English).
    if (u.error === 'not-a-photo' || u.status === 415) return tm('photo.notPhoto');
    if (u.error === 'too-large' || u.status === 413) return tm('photo.tooLarge');
    if (u.status === 422) return tm('photo.unreadable');
    if (u.error === 'network') return tm('photo.network');
    return tm('photo.failed');
  };
  const drop = (u: PhotoUpload) => { rows.get(u)?.remove(); rows.delete(u); u.dispose(); tray.hidden = rows.size === 0; };
  const render = (u: PhotoUpload) => {
    const busy = u.state === 'preparing' || u.state === 'uploading' || u.state === 'waiting';
    const canRetry = u.state === 'failed' && !['not-a-photo', 'too-large', 'cancelled'].includes(u.error ?? '') && u.status !== 415 && u.status !== 422;
    const row = h('li', { class: 'fw-upload', 'data-upload': u.state },
      u.preview && u.status !== 415 && u.status !== 422 ? h('img', { class: 'fw-upload-prev', src: u.preview, alt: '', onerror: (e: Event) => { (e.target as HTMLElement).style.visibility = 'hidden'; } }) : h('span', { class: 'fw-upload-prev' }),
      h('div', { class: 'fw-upload-body' },
        h('p', { class: 'fw-upload-text', role: u.state === 'failed' ? 'alert' : null }, text(u)),
        busy ? h('progress', { max: '1', ...(u.state === 'uploading' ? { value: String(u.progress) } : {}) }) : null),
      canRetry ? h('button', { type: 'button', class: 'fw-text-btn', onclick: () => { void u.retry().then((a) => a && sent(u, a)); } }, tm('photo.retry')) : null,
      u.state !== 'done' ? h('button', { type: 'button', class: 'fw-icon-btn', 'aria-label': u.state === 'failed' ? tm('photo.dismiss') : tm('photo.cancel'), onclick: () => { u.cancel(); drop(u); } }, icon('close')) : null);
    const old = rows.get(u);
    if (old) old.replaceWith(row); else tray.appendChild(row);
    rows.set(u, row);
    tray.hidden = false;
  };
  const sent = (u: PhotoUpload, a: AttachmentView) => { onSent(a); setTimeout(() => drop(u), 600); };
  input.addEventListener('change', () => {
    const target = { url: api(ctx, `conversations/${encodeURIComponent(conversationId)}/attachments`), token: ctx.token };
    for (const f of Array.from(input.files ?? [])) {
      const u = new PhotoUpload(f, target, limits);
      u.onChange(() => { if (rows.has(u)) render(u); });
      render(u);
      void u.start().then((a) => a && sent(u, a));
    }
    input.value = '';
  });
  return { el, tray };
}

/** A photo in the transcript; a click opens it full size over the panel. */
export function photoBubble(ctx: WidgetMediaContext, a: AttachmentView, from: 'expert' | 'shopper', host: HTMLElement): HTMLElement {
  const tm = (k: MediaKey) => mt(ctx.lang, k);
  if (a.status === 'removed' || !a.urls) {
    return h('p', { class: 'fw-photo-gone', 'data-photo-removed': a.id }, icon('image'), removedAfter(ctx.lang, a.removed_after_days ?? 0));
  }
  const alt = tm(from === 'expert' ? 'photo.altExpert' : 'photo.altShopper');
  const url = (p: string) => new URL(p, ctx.base).href;
  const img = h('img', { src: url(a.urls.thumb), alt, width: String(a.thumb_width), height: String(a.thumb_height), loading: 'lazy', decoding: 'async' });
  let refreshed = false;
  img.addEventListener('error', () => {
    if (refreshed) return;
    refreshed = true;
    void fetchAttachment(ctx, a.id).then((fresh) => { if (fresh?.urls) { a = fresh; img.src = url(fresh.urls.thumb); } });
  });
  const open = () => {
    const closeBtn = h('button', { type: 'button', class: 'fw-icon-btn', 'aria-label': tm('photo.close') }, icon('close'));
    const viewer = h('div', { class: 'fw-viewer', role: 'dialog', 'aria-modal': 'true', 'aria-label': alt },
      h('img', { src: url(a.urls!.full), alt, width: String(a.width), height: String(a.height) }), closeBtn);
    const opener = host.ownerDocument.activeElement as HTMLElement | null;
    const close = () => { viewer.remove(); opener?.focus?.(); };
    closeBtn.addEventListener('click', close);
    viewer.addEventListener('click', (e) => { if (e.target === viewer) close(); });
    // Escape closes the photo only, not the panel behind it.
    viewer.addEventListener('keydown', (e) => { if ((e as KeyboardEvent).key === 'Escape') { e.stopPropagation(); close(); } });
    host.appendChild(viewer);
    closeBtn.focus();
  };
  const btn = h('button', { type: 'button', class: 'fw-photo', 'data-photo': a.id, 'aria-label': tm('photo.open'), onclick: open }, img);
  // Through the CSSOM, not a style attribute: the panel runs under a strict style-src.
  btn.style.aspectRatio = `${a.thumb_width} / ${a.thumb_height}`;
  btn.style.width = `${Math.min(a.thumb_width, 220)}px`;
  return btn;
}
