// The store app's cart routes (docs/commerce.md): catalogue search, server-computed previews,
// sending a cart into the chat, pay link by e-mail/SMS, the QR code. Money stays a decimal
// string from input to wire; the server does all arithmetic.
import { getToken, request } from '../api';

export interface CatalogueProduct {
  id: string; sku: string; name: string; description?: string | null;
  price: string; currency: string; vat_rate: string;
  image_url?: string | null; product_url?: string | null; gtin?: string | null; active: boolean;
}
export interface CartLineInput { sku?: string; text?: string; quantity: number; unit_price?: string; vat_rate?: string }
export interface CartInput { lines: CartLineInput[]; quote_valid_until?: string; replaces?: string }
export interface CartLine {
  sku: string | null; product_id: string | null; name: string; image_url?: string | null; product_url?: string | null;
  quantity: number; unit_price: string; original_unit_price: string | null; vat_rate: string; line_total: string;
}
export interface VatRow { rate: string; gross: string; net: string; vat: string }
export type CartStatus = 'quote' | 'awaiting_payment' | 'paid' | 'cancelled' | 'expired' | 'replaced';
export interface Cart {
  id: string | null; conversation_id?: string; status: CartStatus | null; checkout_mode?: 'off' | 'hosted' | 'permalink';
  currency: string; lines: CartLine[]; items: number; total: string; vat: VatRow[]; vat_total: string;
  /** Input: `YYYY-MM-DD`; in a Cart: the end of that day (UTC) in ms. */
  quote_valid_until?: string | number | null; expires_at?: number | null; pay_url?: string | null;
  replaces?: string | null; replaced_by?: string | null; order_id?: string | null;
  expert?: { id: string; name: string } | null; created_at?: number | null;
}

const API_BASE = new URL('../api/v1/', document.baseURI).href;
const enc = encodeURIComponent;

export const cartApi = {
  search: (q: string, limit = 20) => request<{ items: CatalogueProduct[] }>('GET', `app/catalogue/search?q=${enc(q)}&limit=${limit}`).then((r) => r.items ?? []),
  preview: (input: CartInput) => request<Cart>('POST', 'app/carts/preview', input),
  create: (conversationId: string, input: CartInput) => request<Cart>('POST', `app/conversations/${enc(conversationId)}/carts`, input),
  list: (conversationId: string) => request<{ items: Cart[] }>('GET', `app/conversations/${enc(conversationId)}/carts`).then((r) => r.items ?? []),
  get: (id: string) => request<Cart>('GET', `app/carts/${enc(id)}`),
  cancel: (id: string) => request<Cart>('POST', `app/carts/${enc(id)}/cancel`),
  sendLink: (id: string, channel: 'email' | 'sms', to: string) => request<{ outbox_id: string }>('POST', `app/carts/${enc(id)}/send`, { channel, to }),
  /** The QR code as an SVG document (fetched with the token, shown through an object URL). */
  async qr(id: string): Promise<Blob> {
    const res = await fetch(`${API_BASE}app/carts/${enc(id)}/qr.svg`, { headers: { authorization: `Bearer ${getToken() ?? ''}` } });
    if (!res.ok) throw new Error(`qr ${res.status}`);
    return res.blob();
  },
};
