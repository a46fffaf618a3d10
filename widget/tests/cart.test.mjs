// Carts in the shopper's thread against the REAL server (issue 22): the expert sends a cart
// (store-app REST route) and the widget shows the card with lines, totals and Pay (the pay URL);
// a revision marks the older card replaced; a quote is accepted from the card; the shop reports
// payment with the cart reference from the hosted pay page and the card turns "paid" live;
// shipping posts an order line with the tracking link. Product text stays text. Screenshots at
// phone width, light and dark, English and Persian, into $SHOTS_DIR (default /tmp/widget-cart-shots).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { startServer, launch, Expert, admin, W, sleep } from './helpers.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = process.env.SHOTS_DIR || '/tmp/widget-cart-shots';
mkdirSync(SHOTS, { recursive: true });

let fw, browser, api, key;
before(async () => {
  fw = await startServer();
  browser = await launch();
  api = await admin(fw);
  await api('POST', '/catalogue/products/batch', { products: [
    { sku: 'W-TV-55', name: 'Aurora 55" <b>OLED</b> TV', price: '12990.00', currency: 'SEK', vat_rate: '25' },
    { sku: 'W-HDMI', name: 'HDMI cable 2 m', price: '199.00', currency: 'SEK', vat_rate: '25' },
  ] });
  const cur = await api('GET', '/settings/checkout');
  await api('PUT', '/settings/checkout', { mode: 'hosted', checkout_url: 'https://shop.example/checkout', link_hours: cur.link_hours, reminder_hours: cur.reminder_hours, default_vat_rate: cur.default_vat_rate });
  key = (await api('POST', '/api-keys', { name: 'widget cart test' })).secret;
});
after(async () => {
  await browser?.close();
  await fw?.stop();
});

async function expertToken(email) {
  const r = await fetch(`${fw.url}/api/v1/app/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: fw.password }) });
  return (await r.json()).token;
}
async function sendCart(token, conv, body) {
  const r = await fetch(`${fw.url}/api/v1/app/conversations/${conv}/carts`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await r.text();
  assert.equal(r.status, 201, text);
  return JSON.parse(text);
}

/** A phone-sized shop page with a claimed chat. */
async function chatOnPhone(email, opts = {}) {
  const expert = await Expert.connect(fw, email);
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, ...opts });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(fw.url + '/shop/product.html');
  await page.click(W.launcher);
  await page.waitForSelector(W.question);
  await page.fill(W.question, 'Can you put together the TV and a cable for me?');
  await page.click(W.start);
  const offer = await expert.claimNext((o) => !o.offline);
  await page.waitForSelector('floorwalker-widget .fw-log .fw-sys');
  return { expert, context, page, conv: offer.conversation_id, token: await expertToken(email) };
}

async function axe(page, label) {
  await sleep(400);
  await page.evaluate(AXE);
  const res = await page.evaluate(async () => {
    const r = await window.axe.run({ include: [['floorwalker-widget']] }, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ') + ' ' + n.failureSummary).slice(0, 3) }));
  });
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${label}: ${JSON.stringify(bad, null, 1)}`);
}

const card = (id) => `floorwalker-widget .fw-cart[data-cart="${id}"]`;

test('cart card: lines, totals, Pay; replaced by a revision; paid live when the shop reports it; shipped with tracking', async () => {
  const { expert, context, page, conv, token } = await chatOnPhone('expert1@demo.example');
  const first = await sendCart(token, conv, { lines: [{ sku: 'W-TV-55', quantity: 1 }, { sku: 'W-HDMI', quantity: 2, unit_price: '149.00' }] });
  await page.waitForSelector(card(first.id));
  const text = await page.locator(card(first.id)).innerText();
  assert.match(text, /Aurora 55" <b>OLED<\/b> TV/, 'product text is shown as text');
  assert.equal(await page.locator(`${card(first.id)} b`).count(), 0);
  assert.match(text, /13,288\.00/, 'total 12990 + 2×149');
  assert.match(text, /Awaiting payment/);
  const pay = page.locator(`${card(first.id)} a.fw-cart-pay`);
  assert.equal(await pay.getAttribute('href'), first.pay_url);
  assert.equal(await pay.getAttribute('target'), '_blank');
  assert.match(await page.locator(`${card(first.id)} del`).innerText(), /^SEK.199\.00$/);
  await page.screenshot({ path: `${SHOTS}/card.png` });
  await axe(page, 'cart card');

  // A revision: the older card shows it was replaced and loses its Pay button.
  const second = await sendCart(token, conv, { lines: [{ sku: 'W-TV-55', quantity: 1 }], replaces: first.id });
  await page.waitForSelector(`${card(first.id)}[data-status="replaced"]`);
  assert.equal(await page.locator(`${card(first.id)} a.fw-cart-pay`).count(), 0);
  await page.waitForSelector(`${card(second.id)}[data-status="awaiting_payment"] a.fw-cart-pay`);

  // The shopper follows Pay to the hosted page; the shop's checkout gets the cart reference and
  // reports the payment: the card turns paid without a reload.
  const page1 = await fetch(second.pay_url);
  assert.equal(page1.status, 200, 'the hosted pay page');
  const go = await fetch(second.pay_url, { method: 'POST', redirect: 'manual' });
  const ref = new URL(go.headers.get('location')).searchParams.get('floorwalker_cart');
  assert.ok(ref, 'the pay page continues to the checkout with the cart reference');
  const r = await fetch(`${fw.url}/api/v1/orders`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ order_id: 'W-1001', cart_ref: ref, amount: '12990.00', currency: 'SEK', status: 'paid' }),
  });
  assert.ok(r.status === 200 || r.status === 201, await r.text());
  await page.waitForSelector(`${card(second.id)}[data-status="paid"]`, { timeout: 10_000 });
  assert.match(await page.locator(card(second.id)).innerText(), /Paid/);
  await page.waitForSelector('floorwalker-widget .fw-sys-commerce[data-sys="cart_status"]');

  // Shipping: an order line in the thread with the tracking link.
  await api('POST', '/orders/W-1001/stage', { stage: 'in_progress' });
  await api('POST', '/orders/W-1001/stage', { stage: 'shipped', carrier: 'PostNord', tracking_number: 'PN123SE', tracking_url: 'https://tracking.example/PN123SE' });
  const shipped = page.locator('floorwalker-widget .fw-sys-commerce[data-sys="order_status"]').filter({ hasText: 'shipped with PostNord' });
  await shipped.waitFor({ timeout: 10_000 });
  assert.equal(await shipped.locator('a').getAttribute('href'), 'https://tracking.example/PN123SE');
  await page.screenshot({ path: `${SHOTS}/paid-shipped.png` });
  await axe(page, 'paid and shipped');
  assert.deepEqual(page.errors, []);
  expert.close();
  await context.close();
});

test('a quote is accepted from the card, then it can be paid', async () => {
  const { expert, context, page, conv, token } = await chatOnPhone('expert2@demo.example');
  const until = new Date(Date.now() + 7 * 86400_000).toISOString().slice(0, 10);
  const q = await sendCart(token, conv, { lines: [{ sku: 'W-HDMI', quantity: 3 }], quote_valid_until: until });
  await page.waitForSelector(`${card(q.id)}[data-status="quote"]`);
  assert.match(await page.locator(card(q.id)).innerText(), /Quote valid until/);
  assert.equal(await page.locator(`${card(q.id)} a.fw-cart-pay`).count(), 0, 'no Pay before accepting');
  await page.screenshot({ path: `${SHOTS}/quote.png` });
  await page.locator(`${card(q.id)} .fw-cart-accept`).click();
  await page.waitForSelector(`${card(q.id)}[data-status="awaiting_payment"] a.fw-cart-pay`, { timeout: 10_000 });
  expert.close();
  await context.close();
});

for (const [locale, scheme] of [['fa-IR', 'light'], ['en-US', 'dark'], ['cs-CZ', 'light']]) {
  test(`cart card in ${locale}, ${scheme}`, async () => {
    const { expert, context, page, conv, token } = await chatOnPhone('expert3@demo.example', { locale, colorScheme: scheme });
    const c = await sendCart(token, conv, { lines: [{ sku: 'W-TV-55', quantity: 1 }, { sku: 'W-HDMI', quantity: 2 }] });
    await page.waitForSelector(card(c.id));
    const text = await page.locator(card(c.id)).innerText();
    if (locale !== 'en-US') assert.doesNotMatch(text, /Awaiting payment/, 'translated');
    if (locale === 'fa-IR') assert.equal(await page.locator('floorwalker-widget .fw').getAttribute('dir'), 'rtl');
    await page.screenshot({ path: `${SHOTS}/card-${locale}-${scheme}.png` });
    await axe(page, `card ${locale} ${scheme}`);
    expert.close();
    await context.close();
  });
}

test('the hosted pay page on a phone speaks the browser\'s language: Persian right to left, Swedish, by keyboard', async () => {
  const { expert, context, conv, token } = await chatOnPhone('expert1@demo.example');
  const c = await sendCart(token, conv, { lines: [{ sku: 'W-TV-55', quantity: 1 }, { sku: 'W-HDMI', quantity: 2, unit_price: '149.00' }] });
  for (const [locale, title, button] of [['fa-IR', 'سبد خرید شما', 'پرداخت'], ['sv-SE', 'Din varukorg', 'Betala']]) {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, locale });
    const p = await ctx.newPage();
    const res = await p.goto(c.pay_url);
    assert.equal(res.status(), 200);
    const lang = locale.slice(0, 2);
    assert.equal(await p.evaluate(() => document.documentElement.lang), lang);
    assert.equal(await p.evaluate(() => document.documentElement.dir), lang === 'fa' ? 'rtl' : 'ltr');
    assert.equal(await p.locator('h2').innerText(), title);
    assert.equal(await p.locator('button[type=submit]').innerText(), button);
    assert.match(await p.locator('table').innerText(), /13,?288\.00/);
    // The amounts stay on one line and inside the screen, also right to left.
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(overflow, false, 'no sideways scrolling');
    await p.keyboard.press('Tab');
    assert.equal(await p.evaluate(() => document.activeElement?.type), 'submit', 'Pay is reached by keyboard');
    await p.evaluate(AXE);
    const bad = await p.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id));
    assert.deepEqual(bad, [], `${locale}: ${bad}`);
    await p.screenshot({ path: `${SHOTS}/pay-page-${locale}.png` });
    await ctx.close();
  }
  expert.close();
  await context.close();
});
