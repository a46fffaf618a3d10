// What a new shopper tripped over (issue 19), in Chromium against the real server: context set
// after the panel loaded, offline wording that says what is true, a product card that shows
// its name once and keeps its shape without a picture, counts in the language's plural forms.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startServer, launch, Expert, admin, W, sleep, waitFor } from './helpers.mjs';

let fw, browser, api;
before(async () => {
  fw = await startServer();
  browser = await launch();
  api = await admin(fw);
});
after(async () => {
  await browser?.close();
  await fw?.stop();
});

async function shopPage(path = '/shop/index.html', opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await context.newPage();
  page.errors = [];
  page.failed = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('response', (r) => { if (r.status() >= 400) page.failed.push(`${r.status()} ${r.url()}`); });
  await page.goto(fw.url + path);
  await page.waitForSelector(W.launcher);
  return { context, page };
}
const panelText = (page) => page.locator(W.panel).innerText();
const checkedLabel = (page, name) => page.evaluate((name) => {
  const r = document.querySelector('floorwalker-widget').shadowRoot;
  const i = r.querySelector(`input[name="${name}"]:checked`);
  return i ? r.querySelector(`label[for="${i.id}"] span`).textContent : null;
}, name);

/** A shopper over the protocol (no browser) who starts a chat, to keep an expert busy. */
async function busyShopper(store, dep) {
  const ws = new WebSocket(`${fw.url.replace(/^http/, 'ws')}/ws/shopper?merchant=${fw.merchantId}&v=1`);
  const frames = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
  ws.send(JSON.stringify({ type: 'hello' }));
  await waitFor(() => frames.some((f) => f.type === 'welcome'));
  ws.send(JSON.stringify({ type: 'request_chat', store_id: store, department_id: dep, text: 'Keeping you busy' }));
  const conv = await waitFor(() => frames.find((f) => f.type === 'conversation'), { what: 'conversation' });
  return { ws, id: conv.conversation.id };
}

async function stockholm() {
  const { items } = await api('GET', '/stores');
  return items.find((s) => s.name === 'Stockholm Flagship');
}

test('setContext after the panel loaded: the open form shows the product, preselects the department and routes by it', async () => {
  const expert = await Expert.connect(fw);
  const { context, page } = await shopPage();
  await page.click(W.launcher);
  await page.waitForSelector(W.question);
  assert.doesNotMatch(await panelText(page), /You are looking at/);
  assert.equal(await checkedLabel(page, 'dept'), 'First available');

  // The page (a single-page shop) moves to a product: the open form follows.
  await page.evaluate(() => window.Floorwalker('setContext', {
    department: 'Kitchen',
    product: { id: 'nh-esp-kvarn', name: 'Kvarn Espresso Machine', price: 5490, currency: 'SEK', image_url: '/shop/img/kvarn-espresso.svg', url: '/shop/product-kvarn-espresso.html' },
  }));
  await page.waitForSelector('floorwalker-widget .fw-about >> text=Kvarn Espresso Machine');
  assert.equal(await checkedLabel(page, 'dept'), 'Kitchen');
  assert.equal(await page.locator('floorwalker-widget .fw-about img').evaluate((i) => i.naturalWidth > 0), true, 'the shop serves its product pictures');

  // The chat goes where the context says.
  await page.fill(W.question, 'Does it froth oat milk?');
  await page.keyboard.press('Enter');
  const offer = await expert.claimNext((o) => o.first_message === 'Does it froth oat milk?' || o.department.name === 'Kitchen');
  assert.equal(offer.department.name, 'Kitchen');
  assert.equal(offer.product.name, 'Kvarn Espresso Machine');
  // The card says the name once; a picture that cannot be shown leaves a neutral tile.
  await expert.say(offer.conversation_id, 'Kvarn Espresso Machine', { product: { name: 'Kvarn Espresso Machine', price: 5490, currency: 'SEK', image_url: 'http://127.0.0.1:9/kvarn.png' } });
  await expert.say(offer.conversation_id, 'Strand Bluetooth Speaker', { product: { name: 'Strand Bluetooth Speaker', image_url: 'https://127.0.0.1:9/strand.png' } });
  await page.waitForSelector('floorwalker-widget .fw-log >> text=Strand Bluetooth Speaker');
  await waitFor(() => page.locator('floorwalker-widget .fw-log .fw-card-ph').count().then((n) => n === 2), { what: 'two picture tiles' });
  const log = await page.locator(W.log).innerText();
  assert.equal(log.split('Kvarn Espresso Machine').length - 1, 1, log);
  assert.equal(log.split('Strand Bluetooth Speaker').length - 1, 1, log);
  assert.equal(await page.locator('floorwalker-widget .fw-log img').count(), 0, 'no broken picture left');
  assert.deepEqual(page.errors, []);
  assert.deepEqual(page.failed, [], 'no failed request on the sample shop (its icon included)');
  expert.send({ type: 'end', conversation_id: offer.conversation_id });
  await expert.next((f) => f.type === 'conversation' && f.conversation.status === 'ended');
  await context.close();

  // On another page the shopper picks a department themselves: a later context leaves it.
  const other = await shopPage();
  await other.page.click(W.launcher);
  await other.page.waitForSelector(W.question);
  await other.page.click('floorwalker-widget label:has-text("Furniture")');
  await other.page.evaluate(() => window.Floorwalker('setContext', { department: 'TV & Audio', product: { name: 'Fjäll Wireless Headphones' } }));
  await other.page.waitForSelector('floorwalker-widget .fw-about >> text=Fjäll Wireless Headphones');
  assert.equal(await checkedLabel(other.page, 'dept'), 'Furniture');
  await other.context.close();
  expert.close();
});

async function availability() {
  return (await (await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}`)).json()).availability;
}

test('offline wording says what is true: nobody online, everyone busy, closed', async () => {
  // Nobody online.
  await waitFor(async () => (await availability()).experts_online === 0, { what: 'nobody online' });
  let { context, page } = await shopPage();
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget #fw-email');
  assert.match(await panelText(page), /Nobody is online right now/);
  assert.match(await page.locator('floorwalker-widget .fw-sub').innerText(), /No experts online/);
  await context.close();

  // Everyone busy: the one expert online is at their cap.
  const store = await stockholm();
  const { items } = await api('GET', '/team/experts?status=approved');
  const e1 = items.find((e) => e.email === 'expert1@demo.example');
  await api('PATCH', `/team/experts/${e1.id}`, { max_chats: 1 });
  const expert = await Expert.connect(fw);
  const busy = await busyShopper(store.id, store.departments[0].id);
  await expert.claimNext((o) => o.conversation_id === busy.id);
  ({ context, page } = await shopPage());
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget #fw-email');
  assert.match(await panelText(page), /All our experts are busy right now\. Leave a message/);
  assert.match(await page.locator('floorwalker-widget .fw-sub').innerText(), /All our experts are busy/);
  await context.close();
  busy.ws.close();
  expert.close();
  await api('PATCH', `/team/experts/${e1.id}`, { max_chats: 3 });

  // Closed: every store has today off.
  const { items: stores } = await api('GET', '/stores');
  const today = (tz) => new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  for (const s of stores) await api('PATCH', `/stores/${s.id}`, { exceptions: [...s.exceptions, { date: today(s.timezone), hours: [], note: 'Inventory' }] });
  await waitFor(async () => !(await (await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}`)).json()).availability.open, { timeout: 15_000, what: 'stores closed' });
  ({ context, page } = await shopPage());
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget #fw-email');
  assert.match(await panelText(page), /We are closed right now/);
  await context.close();
  for (const s of stores) await api('PATCH', `/stores/${s.id}`, { exceptions: s.exceptions });
});

test('counts take the language\'s plural forms (Czech: 1, 2–4, 5+)', async () => {
  const experts = [await Expert.connect(fw, 'expert1@demo.example'), await Expert.connect(fw, 'expert2@demo.example')];
  await waitFor(async () => (await (await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}`)).json()).availability.experts_available === 2);
  const { context, page } = await shopPage('/shop/index.html', { locale: 'cs-CZ' });
  await page.click(W.launcher);
  await page.waitForSelector(W.question);
  assert.equal(await page.locator('floorwalker-widget .fw-sub').innerText(), 'Právě jsou online 2 odborníci');
  experts.pop().close();
  await page.evaluate(() => window.Floorwalker('close'));
  await waitFor(async () => (await (await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}`)).json()).availability.experts_available === 1);
  await context.close();
  const again = await shopPage('/shop/index.html', { locale: 'cs-CZ' });
  await again.page.click(W.launcher);
  await again.page.waitForSelector(W.question);
  assert.equal(await again.page.locator('floorwalker-widget .fw-sub').innerText(), 'Právě je online 1 odborník');
  await again.context.close();
  experts[0].close();
});
