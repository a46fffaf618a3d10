// Sales demo pages: an operator creates a demo over the API (prospect's name, colours, logo,
// greeting, one store); its public page /demo/<slug> loads the widget with data-demo, which asks
// widget-config for the demo's look. The shopper sees the prospect's brand, and a chat started
// there reaches an expert of the demo's store over the real protocol. Screenshots of the page
// (closed, open, chatting, phone width, Persian) go to $WIDGET_SHOTS (default /tmp/widget-shots).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { deflateSync } from 'node:zlib';
import { startServer, launch, Expert, admin, firstMessage, W, sleep } from './helpers.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = process.env.WIDGET_SHOTS || '/tmp/widget-shots';
mkdirSync(SHOTS, { recursive: true });

// ---- a real PNG logo, made here (a wide wordmark-like logo: a ring and three bars) ----
function crc32(buf) {
  let crc = 0xffffffff;
  for (const b of buf) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
function png(w, h, pixel) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((w * 4 + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(pixel(x, y), y * (w * 4 + 1) + 1 + x * 4);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
const RUST = [194, 65, 12, 255];
const LOGO = png(160, 40, (x, y) => {
  const d = Math.hypot(x - 20, y - 20);
  if (d < 17 && d > 9) return RUST;
  if (x >= 46 && y >= 12 && y < 28 && (x - 46) % 38 < 30) return [40, 30, 25, 255];
  return [0, 0, 0, 0];
});

const BRAND = 'Kvarnby Möbler';
const GREETING = 'Hej! Ask our furniture experts anything — live from the showroom.';
const PRIMARY = '#c2410c';

let fw, browser, api, operator, demo, stockholm;
before(async () => {
  fw = await startServer();
  browser = await launch();
  api = await admin(fw);
  operator = await admin(fw, 'operator@demo.example');
  stockholm = (await api('GET', '/stores?limit=100')).items.find((s) => s.name.startsWith('Stockholm'));
  demo = await operator('POST', '/demos', {
    prospect_name: BRAND,
    merchant_id: fw.merchantId,
    store_id: stockholm.id,
    primary_color: PRIMARY,
    background_color: '#fdf6ec',
    logo: 'data:image/png;base64,' + LOGO.toString('base64'),
    greeting: GREETING,
  });
});
after(async () => {
  await browser?.close();
  await fw?.stop();
});

async function demoPage(opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(fw.url + demo.url);
  await page.waitForSelector(W.launcher);
  return { context, page };
}
const shot = async (page, name) => {
  await sleep(400); // animations settle
  await page.screenshot({ path: `${SHOTS}/demo-${name}.png` });
};
const css = (page, sel, prop) => page.locator(sel).first().evaluate((el, p) => getComputedStyle(el)[p], prop);
const rgb = (hex) => `rgb(${parseInt(hex.slice(1, 3), 16)}, ${parseInt(hex.slice(3, 5), 16)}, ${parseInt(hex.slice(5, 7), 16)})`;

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

test('the operator creates a demo; widget-config for it is dressed in the prospect\'s look and only its store', async () => {
  assert.equal(demo.url, `/demo/${demo.slug}`);
  const page = await fetch(fw.url + demo.url);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, new RegExp(`<script async src="/widget\\.js" data-merchant="${fw.merchantId}" data-demo="${demo.slug}">`));
  const logo = await fetch(fw.url + `/demo/${demo.slug}/logo`);
  assert.equal(logo.headers.get('content-type'), 'image/png');
  assert.deepEqual(Buffer.from(await logo.arrayBuffer()), LOGO);

  const cfg = await (await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}&demo=${demo.slug}`)).json();
  assert.equal(cfg.display.brand_name, BRAND);
  assert.equal(cfg.display.primary_color, PRIMARY);
  assert.equal(cfg.display.logo_url, `/demo/${demo.slug}/logo`);
  assert.equal(cfg.display.greeting.en, GREETING);
  assert.deepEqual(cfg.stores.map((s) => s.id), [stockholm.id]);
  // An unknown demo is not found (the loader then stays away).
  const none = await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}&demo=no-such-demo`);
  assert.equal(none.status, 404);
});

test('on the demo page the widget wears the prospect\'s brand, and a chat reaches an expert who answers', async (t) => {
  const expert = await Expert.connect(fw);
  const { context, page } = await demoPage();
  // Closed: the launcher in the primary colour, the greeting beside it.
  assert.equal(await css(page, W.launcher, 'backgroundColor'), rgb(PRIMARY));
  assert.equal(await page.locator('floorwalker-widget .fw-greet-text').innerText(), GREETING);
  await axe(page, 'demo closed');
  await shot(page, '01-closed');

  // Open: the prospect's name, logo and greeting; header and button in the primary colour; no
  // store choice (the demo has one store).
  await page.click(W.launcher);
  await page.waitForSelector(W.question);
  assert.equal(await page.locator('floorwalker-widget .fw-title').innerText(), BRAND);
  assert.equal(await page.locator('floorwalker-widget .fw-panel .fw-greeting').innerText(), GREETING);
  assert.equal(await css(page, 'floorwalker-widget .fw-head', 'backgroundColor'), rgb(PRIMARY));
  assert.equal(await css(page, W.start, 'backgroundColor'), rgb(PRIMARY));
  const logo = page.locator('floorwalker-widget .fw-logo');
  assert.equal(await logo.getAttribute('src'), `${fw.url}/demo/${demo.slug}/logo`);
  await page.waitForFunction(() => document.querySelector('floorwalker-widget').shadowRoot.querySelector('.fw-logo').naturalWidth > 0);
  // A wide logo keeps its shape (not squeezed into a tiny square).
  const box = await logo.boundingBox();
  assert.ok(box.width > box.height * 2 && box.height >= 28, `logo box ${JSON.stringify(box)}`);
  assert.equal(await page.locator('floorwalker-widget input[name=store]').count(), 0);
  await axe(page, 'demo open');
  await shot(page, '02-open');

  // The chat goes to the demo's store, where the expert claims and answers it.
  await page.fill(W.question, 'Do you have the oak sideboard in stock?');
  await page.click(W.start);
  const offer = await expert.claimNext((o) => !o.offline);
  assert.equal(offer.store.id, stockholm.id);
  assert.equal(await firstMessage(t, fw, expert, offer, 'Do you have the oak sideboard in stock?'), 'Do you have the oak sideboard in stock?');
  assert.match(offer.page_url, new RegExp(`/demo/${demo.slug}$`));
  await expert.say(offer.conversation_id, 'Hej! Yes — two in oak, one in walnut. Want me to hold one?');
  await page.waitForSelector('floorwalker-widget .fw-log >> text=two in oak, one in walnut');
  await page.waitForSelector('floorwalker-widget .fw-sub >> text=Chatting with Sara Lind');
  await page.fill(W.composer, 'Yes please, the oak one!');
  await page.press(W.composer, 'Enter');
  await expert.next((f) => f.type === 'message' && f.message.body === 'Yes please, the oak one!');
  await axe(page, 'demo chatting');
  await shot(page, '03-chatting');
  expert.send({ type: 'end', conversation_id: offer.conversation_id });
  await page.waitForSelector('floorwalker-widget .fw-stars');
  assert.deepEqual(page.errors, []);
  expert.close();
  await context.close();
});

test('the demo page at phone width and in Persian (right to left)', async () => {
  const expert = await Expert.connect(fw);
  // Phone: the panel is full screen and modal, still in the prospect's colours.
  {
    const { context, page } = await demoPage({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
    const lb = await page.locator(W.launcher).boundingBox();
    assert.ok(lb.x + lb.width <= 360 && lb.y + lb.height <= 740, 'launcher on screen');
    await shot(page, '04-phone-closed');
    await page.click(W.launcher);
    await page.waitForSelector(W.question);
    await sleep(400); // the opening animation
    const pb = await page.locator(W.panel).boundingBox();
    assert.deepEqual([pb.x, pb.y, pb.width, pb.height], [0, 0, 360, 740]);
    assert.equal(await page.locator(W.panel).getAttribute('aria-modal'), 'true');
    assert.equal(await css(page, 'floorwalker-widget .fw-head', 'backgroundColor'), rgb(PRIMARY));
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 360);
    await axe(page, 'demo phone');
    await shot(page, '05-phone-open');
    assert.deepEqual(page.errors, []);
    await context.close();
  }
  // Persian: the widget is right to left; the demo's (English) greeting keeps its own direction,
  // so its punctuation stays at its end.
  {
    const { context, page } = await demoPage({ locale: 'fa-IR' });
    assert.equal(await page.locator('floorwalker-widget .fw').getAttribute('dir'), 'rtl');
    assert.equal(await css(page, 'floorwalker-widget .fw-greet-text', 'direction'), 'ltr');
    await shot(page, '06-fa-closed');
    await page.click(W.launcher);
    await page.waitForSelector(W.question);
    assert.equal(await page.locator('floorwalker-widget .fw-title').innerText(), BRAND);
    assert.equal(await css(page, 'floorwalker-widget .fw-panel .fw-greeting', 'direction'), 'ltr');
    assert.equal(await page.locator(W.start).innerText(), 'شروع گفتگو');
    await axe(page, 'demo fa');
    await shot(page, '07-fa-open');
    assert.deepEqual(page.errors, []);
    await context.close();
  }
  expert.close();
});

test('a demo counts only its own store\'s experts, and looks again each time it opens', async (t) => {
  // Someone of the merchant is online, but not in the demo's store (Stockholm).
  const elsewhere = await Expert.connect(fw, 'expert4@demo.example');
  const all = await (await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}&demo=${demo.slug}`)).json();
  const here = all.stores.flatMap((s) => s.departments).reduce((n, d) => n + d.experts_available, 0);
  t.diagnostic(`widget-config?demo=: availability.experts_available=${all.availability.experts_available}, in the demo's store: ${here}`);
  assert.equal(here, 0);

  const { context, page } = await demoPage();
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget #fw-email');
  assert.equal(await page.locator('floorwalker-widget .fw-sub').innerText(), 'No experts online right now');
  await page.keyboard.press('Escape');
  await page.waitForSelector(W.panel, { state: 'hidden' });

  // An expert of the demo's store comes online after the page was loaded: opening again finds them.
  const expert = await Expert.connect(fw);
  await page.click(W.launcher);
  await page.waitForSelector(W.question);
  assert.equal(await page.locator('floorwalker-widget .fw-sub').innerText(), '1 expert online now');
  // The green dot only where someone is online.
  const chips = await page.locator('floorwalker-widget .fw-chip').evaluateAll((els) => els.map((el) => ({
    label: el.querySelector('label').textContent, dot: !!el.querySelector('.fw-dot'),
  })));
  assert.ok(chips.length > 1, JSON.stringify(chips));
  for (const c of chips) assert.equal(c.dot, / online$/.test(c.label) && !/Nobody online$/.test(c.label), JSON.stringify(c));
  await shot(page, '08-open-later');
  assert.deepEqual(page.errors, []);
  elsewhere.close();
  expert.close();
  await context.close();
});
