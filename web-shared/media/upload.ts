// Photo uploads shared by the store app and the widget (no framework, no dependencies).
//
// prepareImage() makes a phone photo fit for sending before a byte leaves the phone: turned
// upright, scaled to the server's stored size (a 12 MP photo of 4–8 MB becomes a few hundred
// KB), and converted to JPEG when the browser can show it but the server does not take it
// (HEIC on Safari, GIF, BMP…). The server checks and re-encodes everything again anyway.
//
// PhotoUpload sends one photo with XMLHttpRequest (for upload progress) and the client's upload
// id in `Idempotency-Key`: retries, automatic or by hand, reuse the id, so a photo whose answer
// was lost is stored once. Network failures and 5xx retry by themselves (1, 2, 4, 8 s); 409
// "still being stored" and 429 retry after the server's wait; other refusals stop with the
// server's explanation (RFC 9457 `detail`).

import type { components } from '../api-types';

/** What the server says about photos and calls (`GET …/media-config`, docs/media.md). */
export type MediaConfig = components['schemas']['MediaConfig'];
/** A photo as the server describes it (`GET …/attachments/{id}`): status `stored` or `removed`. */
export type AttachmentView = components['schemas']['Attachment'];
/** The part of the media config an upload needs. */
export type UploadLimits = Pick<MediaConfig, 'max_upload_bytes' | 'max_side' | 'accepted_types'>;

export const DEFAULT_LIMITS: UploadLimits = {
  max_upload_bytes: 10 * 1024 * 1024,
  max_side: 2048,
  accepted_types: ['image/jpeg', 'image/png', 'image/webp'],
};

/** A file the browser cannot read as a picture. */
export class NotAPhoto extends Error {}

export function newUploadId(): string {
  const c = globalThis.crypto as Crypto | undefined;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  if (c) c.getRandomValues(b); else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Upright, no larger than the server keeps, in a type the server takes. */
export async function prepareImage(file: Blob, limits: UploadLimits = DEFAULT_LIMITS): Promise<Blob> {
  const accepted = limits.accepted_types.includes(file.type);
  let bitmap: ImageBitmap | null = null;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' } as ImageBitmapOptions);
  } catch {
    // Not decodable here: send it as it is if the server may take it (it decides), else refuse.
    if (accepted && file.size <= limits.max_upload_bytes) return file;
    throw new NotAPhoto('not a picture this browser can read');
  }
  const { width, height } = bitmap;
  const scale = Math.min(1, limits.max_side / Math.max(width, height));
  if (accepted && scale === 1 && file.size <= limits.max_upload_bytes) {
    bitmap.close();
    return file; // small enough already: the server turns it upright and re-encodes it anyway
  }
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  if (!ctx) { bitmap.close(); return file; }
  ctx.drawImage(bitmap, 0, 0, w, h);
  bitmap.close();
  const type = file.type === 'image/png' ? 'image/png' : 'image/jpeg';
  const blob = await new Promise<Blob | null>((ok) => canvas.toBlob(ok, type, 0.85));
  return blob ?? file;
}

export type UploadState = 'preparing' | 'uploading' | 'waiting' | 'done' | 'failed';

export interface UploadTarget {
  /** Absolute URL of the upload route (with `?merchant=` for the widget). */
  url: string;
  /** The bearer credential: the store-app token or the shopper token. */
  token: string;
}

export class PhotoUpload {
  readonly id = newUploadId();
  state: UploadState = 'preparing';
  /** 0–1 of the bytes sent. */
  progress = 0;
  /** The server's explanation, or a network message key ('network'), when failed. */
  error: string | null = null;
  status = 0;
  attachment: AttachmentView | null = null;
  /** An object URL of the prepared photo, for a preview while it uploads. */
  preview: string | null = null;
  private body: Blob | null = null;
  private xhr: XMLHttpRequest | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private tries = 0;
  private listeners = new Set<() => void>();

  constructor(readonly file: Blob, private target: UploadTarget, private limits: UploadLimits = DEFAULT_LIMITS, private maxAutoRetries = 4) {}

  onChange(fn: () => void): () => void { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  private emit() { for (const fn of this.listeners) fn(); }

  /** Prepare and send; resolves with the attachment, or null when it failed or was cancelled. */
  async start(): Promise<AttachmentView | null> {
    try {
      this.body = await prepareImage(this.file, this.limits);
    } catch {
      this.fail(0, 'not-a-photo');
      return null;
    }
    if (this.body.size > this.limits.max_upload_bytes) { this.fail(413, 'too-large'); return null; }
    try { this.preview = URL.createObjectURL(this.body); } catch { /* no previews */ }
    return this.send();
  }

  /** Send again with the same upload id (after a failure). */
  retry(): Promise<AttachmentView | null> {
    this.tries = 0;
    if (!this.body) return this.start();
    return this.send();
  }

  cancel() {
    if (this.timer) clearTimeout(this.timer);
    this.xhr?.abort();
    this.fail(0, 'cancelled');
  }

  dispose() {
    if (this.preview) URL.revokeObjectURL(this.preview);
    this.listeners.clear();
  }

  private fail(status: number, error: string) {
    this.state = 'failed';
    this.status = status;
    this.error = error;
    this.emit();
  }

  private send(): Promise<AttachmentView | null> {
    const body = this.body as Blob;
    this.state = 'uploading';
    this.progress = 0;
    this.error = null;
    this.emit();
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      xhr.open('POST', this.target.url);
      xhr.setRequestHeader('authorization', `Bearer ${this.target.token}`);
      xhr.setRequestHeader('idempotency-key', this.id);
      xhr.setRequestHeader('content-type', body.type || 'application/octet-stream');
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) { this.progress = e.loaded / e.total; this.emit(); }
      };
      const again = (ms: number) => {
        this.state = 'waiting';
        this.emit();
        this.timer = setTimeout(() => { this.send().then(resolve); }, ms);
      };
      xhr.onerror = () => {
        if (this.tries++ < this.maxAutoRetries) again(1000 * 2 ** (this.tries - 1));
        else { this.fail(0, 'network'); resolve(null); }
      };
      xhr.onabort = () => resolve(null);
      xhr.onload = () => {
        let data: any = null;
        try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
        if (xhr.status === 200 || xhr.status === 201) {
          this.state = 'done';
          this.progress = 1;
          this.attachment = data as AttachmentView;
          this.emit();
          resolve(this.attachment);
          return;
        }
        const wait = Number(xhr.getResponseHeader('retry-after')) || 1;
        const transient = xhr.status >= 500 || xhr.status === 429 || (xhr.status === 409 && /still being stored/.test(data?.detail ?? ''));
        if (transient && this.tries++ < this.maxAutoRetries) {
          again(xhr.status >= 500 ? 1000 * 2 ** (this.tries - 1) : wait * 1000);
          return;
        }
        this.fail(xhr.status, (data && (data.detail || data.errors?.[0]?.message || data.title)) || 'failed');
        resolve(null);
      };
      xhr.send(body);
    });
  }
}
