// The store app's cart routes (docs/commerce.md): catalogue search, server-computed previews,
// sending a cart into the chat, pay link by e-mail/SMS, the QR code. Money stays a decimal
// string from input to wire; the server does all arithmetic.
import { getToken, request, type Schemas } from '../api';

export type CatalogueProduct = Schemas['Product'];
export type CartLineInput = Schemas['LineInput'];
export type CartInput = Schemas['CartInput'];
export type CartLine = Schemas['LineView'];
export type VatRow = Schemas['VatView'];
export type Cart = Schemas['Cart'];
export type CartStatus = 'quote' | 'awaiting_payment' | 'paid' | 'cancelled' | 'expired' | 'replaced';

const API_BASE = new URL('../api/v1/', document.baseURI).href;
const enc = encodeURIComponent;

export const cartApi = {
  search: (q: string, limit = 20) => request<Schemas['ProductHits']>('GET', `app/catalogue/search?q=${enc(q)}&limit=${limit}`).then((r) => r.items ?? []),
  preview: (input: CartInput) => request<Cart>('POST', 'app/carts/preview', input),
  create: (conversationId: string, input: CartInput) => request<Cart>('POST', `app/conversations/${enc(conversationId)}/carts`, input),
  list: (conversationId: string) => request<Schemas['CartList']>('GET', `app/conversations/${enc(conversationId)}/carts`).then((r) => r.items ?? []),
  get: (id: string) => request<Cart>('GET', `app/carts/${enc(id)}`),
  cancel: (id: string) => request<Cart>('POST', `app/carts/${enc(id)}/cancel`),
  sendLink: (id: string, channel: 'email' | 'sms', to: string) => request<Schemas['SendLinkResult']>('POST', `app/carts/${enc(id)}/send`, { channel, to }),
  /** The QR code as an SVG document (fetched with the token, shown through an object URL). */
  async qr(id: string): Promise<Blob> {
    const res = await fetch(`${API_BASE}app/carts/${enc(id)}/qr.svg`, { headers: { authorization: `Bearer ${getToken() ?? ''}` } });
    if (!res.ok) throw new Error(`qr ${res.status}`);
    return res.blob();
  },
};
