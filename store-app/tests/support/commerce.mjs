// Shared set-up for the cart tests (docs/commerce.md): a few catalogue products of our own,
// the checkout mode, an API key, and a claimed chat on a phone.
import { admin, expertHome, requestChat, shopper } from './harness.mjs';

export const PRODUCTS = [
  { sku: 'UI-TV-55', name: 'Sony Bravia 55" Café edition', price: '9990.00', currency: 'SEK', vat_rate: '25', product_url: 'https://shop.example/tv/55' },
  { sku: 'UI-HDMI-2M', name: 'HDMI cable 2 m', price: '199.00', currency: 'SEK', vat_rate: '25' },
  { sku: 'UI-BOOK-1', name: 'Home cinema handbook', price: '249.00', currency: 'SEK', vat_rate: '6' },
  { sku: 'UI-<b>X</b>', name: '<img src=x onerror="window.__pwned=1">Tricky name', price: '10.00', currency: 'SEK', vat_rate: '25' },
];

export async function seedCatalogue(base, password) {
  const a = await admin(base, password);
  const r = await a.post('/api/v1/catalogue/products/batch', { products: PRODUCTS });
  if (r.status !== 200 && r.status !== 201) throw new Error(`catalogue batch ${r.status} ${JSON.stringify(r.data)}`);
  return a;
}

export async function setCheckout(a, settings) {
  const cur = await a.get('/api/v1/settings/checkout');
  const { mode, checkout_url, permalink_endpoint, link_hours, reminder_hours, default_vat_rate } = { ...cur.data, ...settings };
  const r = await a.put('/api/v1/settings/checkout', { mode, checkout_url, permalink_endpoint, link_hours, reminder_hours, default_vat_rate });
  if (r.status !== 200) throw new Error(`checkout settings ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

export async function apiKey(a) {
  const r = await a.post('/api/v1/api-keys', { name: `cart-test-${Date.now()}` });
  if (r.status !== 201 && r.status !== 200) throw new Error(`api key ${r.status}`);
  return r.data.secret;
}

/** An expert on a phone with a claimed chat open; returns the page, the shopper and the id. */
export async function claimedOnPhone(browser, stack, place, email, opts = {}) {
  const p = await expertHome(browser, stack, email);
  if (opts.scheme) await p.page.emulateMedia({ colorScheme: opts.scheme });
  if (opts.lang) {
    await p.page.evaluate((l) => localStorage.setItem('fw.app.lang', l), opts.lang);
    await p.page.reload();
    await p.page.locator('.shell[data-conn="online"]').waitFor({ timeout: 15_000 });
  }
  const s = await shopper(stack.base, stack.merchantId);
  const id = await requestChat(s, place, opts.text ?? 'I would like the 55" TV and a cable.');
  await p.page.locator(`[data-offer="${id}"] button.claim`).click();
  await p.page.locator('.chat-screen .transcript').waitFor();
  /** Ends the chat (frees the expert's slot for the next test). */
  const end = () => { s.send({ type: 'end', conversation_id: id }); };
  return { ...p, s, id, end };
}
