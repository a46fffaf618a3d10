// The photo and call routes of the store app's REST API (docs/media.md).
import { getToken, request } from '../api';
import type { AttachmentView, MediaConfig, UploadTarget } from '../../../web-shared/media/upload';

export type { MediaConfig };

/** The API's absolute base (the app lives at /app/, the API at /api/v1/). */
export const API_BASE = new URL('../api/v1/', document.baseURI).href;

export const mediaApi = {
  config: () => request<MediaConfig>('GET', 'app/media-config'),
  attachment: (id: string) => request<AttachmentView>('GET', `app/attachments/${encodeURIComponent(id)}`),
  /** Where photos for a conversation go, with the expert's token. */
  target: (conversationId: string): UploadTarget => ({
    url: `${API_BASE}app/conversations/${encodeURIComponent(conversationId)}/attachments`,
    token: getToken() ?? '',
  }),
  /** A signed path from the API as a URL the page can load. */
  fileUrl: (path: string) => new URL(path, API_BASE).href,
};
