// The whole story of issue 22 in real Chromium against the real server: a shopper asks on the
// sample shop (widget) → an expert claims on a phone (store app) → searches by article number
// → builds a cart with a price override and a free-text line → sends it → the QR code on the
// phone, read from a screenshot, is the shopper's Pay link → the shopper pays through the
// hosted pay page and the shop's checkout → both sides see "paid" → the order is in the
// dashboard's Orders and in its CSV export. Needs widget/dist and dashboard/dist built
// (./dev test builds every front end first). Screenshots into $SHOTS_DIR (/tmp/story-shots).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { admin, expertHome, launch, startStack } from './support/harness.mjs';
import { seedCatalogue } from './support/commerce.mjs';

const SHOTS = process.env.SHOTS_DIR || '/tmp/story-shots';
mkdirSync(SHOTS, { recursive: true });
let stack, browser, a;
before(async () => {
  stack = await startStack();
  browser = await launch();
  // The demo merchant pays through the hosted link into the sample shop's test checkout
  // (/shop/checkout), which reports the order to Floorwalker with its own API key.
  a = await seedCatalogue(stack.base, stack.password);
  const co = (await a.get('/api/v1/settings/checkout')).data;
  assert.equal(co.mode, 'hosted');
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

const W = (sel) => `floorwalker-widget ${sel}`;

test('shopper asks → expert builds and sends a cart on a phone → QR = Pay link → shopper pays → both see paid → Orders and export', { timeout: 180_000 }, async () => {
  // The expert, on a phone, available.
  const app = await expertHome(browser, stack, 'expert1@demo.example');
  // The shopper, on the sample shop.
  const shopCtx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  const shop = await shopCtx.newPage();
  shop.errors = [];
  shop.on('pageerror', (e) => shop.errors.push(e.message));
  await shop.goto(`${stack.base}/shop/product.html`);
  await shop.click(W('.fw-launch'));
  await shop.waitForSelector(W('#fw-q'));
  await shop.fill(W('#fw-q'), 'I want the 55" TV with a cable, and can you install it?');
  await shop.click(W('.fw-start'));

  // The offer reaches the phone; the expert claims it.
  const claim = app.page.locator('.offer button.claim').first();
  await claim.waitFor({ timeout: 20_000 });
  await claim.click();
  await app.page.locator('.chat-screen .transcript').getByText('I want the 55" TV').waitFor();
  await shop.waitForSelector(W('.fw-sub >> text=Chatting with'));

  // Cart: article number, Enter; the cable too, at a lower price; an installation line.
  const p = app.page;
  await p.getByRole('button', { name: 'Cart', exact: true }).click();
  const box = p.getByRole('searchbox', { name: 'Search the catalogue' });
  await box.fill('UI-TV-55');
  await p.locator('.cart-results .result[data-sku="UI-TV-55"]').waitFor();
  await p.keyboard.press('Enter');
  await box.fill('UI-HDMI-2M');
  await p.locator('.cart-results .result[data-sku="UI-HDMI-2M"]').waitFor();
  await p.keyboard.press('Enter');
  await p.getByRole('button', { name: /^Change price\W+HDMI cable 2 m$/ }).click();
  await p.getByLabel('Unit price of HDMI cable 2 m').fill('149');
  await p.keyboard.press('Enter');
  await p.locator('.free-line summary').click();
  await p.getByLabel('Text', { exact: true }).fill('Installation at home');
  await p.getByLabel('Amount (SEK)').fill('499');
  await p.getByRole('button', { name: 'Add line' }).click();
  // 9990 + 149 + 499
  await p.locator('.totals .grand dd[data-total="10638.00"]').waitFor({ timeout: 10_000 });
  await p.screenshot({ path: `${SHOTS}/1-expert-cart.png` });
  await p.getByRole('button', { name: 'Send to the chat' }).click();

  // Both threads show the card, awaiting payment.
  const appCard = p.locator('.transcript .cart-card').last();
  await appCard.waitFor();
  const cartId = await appCard.getAttribute('data-cart');
  const shopCard = W(`.fw-cart[data-cart="${cartId}"]`);
  await shop.waitForSelector(`${shopCard}[data-status="awaiting_payment"]`);
  assert.match(await shop.locator(shopCard).innerText(), /Installation at home/);
  const payHref = await shop.locator(`${shopCard} a.fw-cart-pay`).getAttribute('href');
  await shop.screenshot({ path: `${SHOTS}/2-shopper-card.png` });

  // The QR code on the phone is that same Pay link.
  await appCard.getByRole('button', { name: 'Show QR code' }).click();
  await p.waitForFunction(() => { const i = document.querySelector('img.qr'); return i && i.complete && i.naturalWidth > 0; });
  const shot = PNG.sync.read(await p.screenshot({ path: `${SHOTS}/3-expert-qr.png` }));
  const qr = jsQR(new Uint8ClampedArray(shot.data.buffer, shot.data.byteOffset, shot.data.length), shot.width, shot.height);
  assert.ok(qr, 'QR code found in the phone screenshot');
  assert.equal(qr.data, payHref);
  await p.keyboard.press('Escape');

  // The shopper pays: Pay opens the hosted page; its button continues to the shop's checkout
  // with the cart reference; the shop's checkout takes the payment and reports the order.
  const [pay] = await Promise.all([shopCtx.waitForEvent('page'), shop.locator(`${shopCard} a.fw-cart-pay`).click()]);
  await pay.waitForLoadState();
  assert.match(await pay.locator('body').innerText(), /Installation at home/);
  await pay.screenshot({ path: `${SHOTS}/4-pay-page.png` });
  await Promise.all([pay.waitForURL(/floorwalker_cart=/), pay.locator('form button, button[type=submit]').first().click()]);
  const ref = new URL(pay.url()).searchParams.get('floorwalker_cart');
  assert.ok(ref, 'the checkout got the cart reference');
  await pay.screenshot({ path: `${SHOTS}/4b-shop-checkout.png` });
  await pay.locator('#shop-pay').click();
  const thanks = pay.getByText(/Order \S+ is paid/);
  await thanks.waitFor({ timeout: 15_000 });
  const orderId = /Order (\S+) is paid/.exec(await thanks.innerText())[1];
  // Both sides see "paid", live.
  await shop.waitForSelector(`${shopCard}[data-status="paid"]`, { timeout: 15_000 });
  await p.locator(`.transcript .cart-card[data-cart="${cartId}"][data-status="paid"]`).waitFor({ timeout: 15_000 });
  await shop.screenshot({ path: `${SHOTS}/5-shopper-paid.png` });
  await p.screenshot({ path: `${SHOTS}/6-expert-paid.png` });
  assert.match(await p.locator('.commerce-sys[data-sys="cart_status"]').last().innerText(), new RegExp(`Paid · Order ${orderId}`));

  // The dashboard's Orders has it, attributed to the expert, and so does the export.
  const dashCtx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  const dash = await dashCtx.newPage();
  await dash.goto(`${stack.base}/dashboard/`);
  await dash.locator('#f-email').fill('admin@demo.example');
  await dash.locator('#f-password').fill(stack.password);
  await dash.locator('form.login-card button[type=submit]').click();
  await dash.locator('#sidebar nav a').first().waitFor({ state: 'attached' });
  await dash.goto(`${stack.base}/dashboard/#/orders`);
  const row = dash.locator(`tr[data-order="${orderId}"]`);
  await row.waitFor({ timeout: 15_000 });
  assert.match(await row.innerText(), /10,638\.00/);
  const href = await dash.locator('#orders-export').getAttribute('href');
  await row.getByRole('link').click();
  await dash.locator('table.order-lines').getByText('Installation at home').waitFor();
  await dash.screenshot({ path: `${SHOTS}/7-dashboard-order.png`, fullPage: true });
  const session = await admin(stack.base, stack.password);
  const list = await session.get(`/api/v1/orders?q=${encodeURIComponent(orderId)}`);
  assert.equal(list.data.items[0]?.cart_id, cartId);
  assert.ok(list.data.items[0]?.expert_id, 'attributed to the expert');
  const csvUrl = new URL(href, `${stack.base}/dashboard/`).href;
  const cookies = (await dashCtx.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  const res = await fetch(csvUrl, { headers: { cookie: cookies } });
  assert.equal(res.status, 200);
  assert.ok((await res.text()).includes(orderId), 'the order is in the CSV export');
  assert.deepEqual(shop.errors, []);
  assert.deepEqual(p.errors ?? [], []);
  await dashCtx.close();
  await shopCtx.close();
  await app.ctx.close();
});
