// A hostile host page on another origin: aggressive global CSS, a full-screen overlay at the
// highest z-index (a cookie wall), a transform on <body>, a right-to-left document and a strict
// Content-Security-Policy that allows only 'self' and the widget's host (no inline scripts or
// styles at all). The widget must still show on top, not shift the page, and work.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { startServer, launch, Expert, admin, setOrigins, firstMessage, W, sleep, waitFor } from './helpers.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let fw, browser, site, siteUrl;
before(async () => {
  fw = await startServer();
  browser = await launch();
  site = http.createServer((req, res) => {
    const ws = fw.url.replace(/^http/, 'ws');
    const csp = `default-src 'self'; script-src 'self' ${fw.url}; style-src 'self'; connect-src 'self' ${fw.url} ${ws}; img-src 'self' data: ${fw.url}; font-src 'self'; object-src 'none'; base-uri 'none'`;
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/hostile.css') {
      res.writeHead(200, { 'content-type': 'text/css' });
      res.end(`* { all: unset !important; }
div { display: none !important; }
button { background: red !important; width: 10px !important; height: 10px !important; }
floorwalker-widget { display: none !important; position: static !important; opacity: 0 !important; }
html { font-size: 4px !important; line-height: 0 !important; color: red !important; }
body, p { display: block !important; }
p { height: 900px !important; }
${req.url.includes('plain') ? '' : 'body { transform: translateZ(0) !important; }'}
#cover { all: unset !important; display: block !important; position: fixed !important; inset: 0 !important; z-index: 2147483647 !important; background: rgba(20, 20, 20, .45) !important; }`);
      return;
    }
    if (path === '/snippet.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(`window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) { window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); }, true);
window.Floorwalker = window.Floorwalker || function () { (Floorwalker.q = Floorwalker.q || []).push(arguments); };
Floorwalker('setContext', { product: { name: 'Hostile Lamp', price: 10, currency: 'EUR' } });
// globals that trip up UMD bundles and sloppy scripts
window.define = function () { throw new Error('AMD define called'); }; window.define.amd = true; window.module = {}; window.exports = {}; window.h = 1; window.t = null; window.process = {};`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp });
    res.end(`<!doctype html><html dir="rtl" lang="ar"><head><meta charset="utf-8"><title>Hostile</title>
<link rel="stylesheet" href="/hostile.css${req.url.includes('nocover') ? '?plain' : ''}"><script src="/snippet.js"></script>
<script async src="${fw.url}/widget.js" data-merchant="${req.url.includes('bad') ? 'mer_00000000000000000000000000000000' : fw.merchantId}"></script></head>
<body><p id="marker">نص الصفحة</p><div id="gone">hidden by the page</div>${req.url.includes('nocover') ? '' : '<section id="cover"></section>'}</body></html>`);
  });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  siteUrl = `http://127.0.0.1:${site.address().port}`;
  const api = await admin(fw);
  const { origins } = await api('GET', '/settings/origins');
  await setOrigins(fw, api, [...origins, siteUrl], siteUrl);
});
after(async () => {
  if (process.env.DEBUG_FRAMES) console.log(fw.log().split('\n').filter((l) => /failed|WARN|ERROR/i.test(l)).join('\n'));
  await browser?.close();
  site?.close();
  await fw?.stop();
});

test('hostile CSS, an RTL document and a strict CSP do not break the widget', async (t) => {
  const expert = await Expert.connect(fw);
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  const page = await context.newPage();
  const cspConsole = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspConsole.push(m.text()); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (process.env.DEBUG_FRAMES) page.on('websocket', (ws) => { ws.on('framereceived', (f) => console.log('<', String(f.payload).slice(0, 200))); ws.on('framesent', (f) => console.log('>', String(f.payload).slice(0, 300))); });
  await page.goto(siteUrl + '/');
  const markerBefore = await page.locator('#marker').boundingBox();
  await page.waitForSelector(W.launcher);

  // The launcher is where it belongs, full size, and the page did not move.
  const box = await page.locator(W.launcher).boundingBox();
  assert.ok(box && box.width === 60 && box.height === 60, JSON.stringify(box));
  assert.ok(box.x > 900 && box.y > 650, 'bottom-right: ' + JSON.stringify(box));
  assert.deepEqual(await page.locator('#marker').boundingBox(), markerBefore, 'no layout shift');
  const hostBox = await page.locator('floorwalker-widget').evaluate((el) => { const r = el.getBoundingClientRect(); return [r.width, r.height, getComputedStyle(el).position]; });
  assert.deepEqual(hostBox, [0, 0, 'fixed']);
  // Above the full-screen overlay: the launcher is what is at its own centre.
  assert.deepEqual(await hitAt(page, '.fw-launch'), { page: 'FLOORWALKER-WIDGET', widget: true });

  await page.click(W.launcher); // Playwright clicks only what is on top at that point
  await page.waitForSelector(W.question);
  await sleep(400);
  assert.deepEqual(await page.locator('#marker').boundingBox(), markerBefore, 'opening the panel shifts nothing');
  const panel = await page.locator(W.panel).boundingBox();
  assert.ok(panel.width >= 360 && panel.height >= 400, JSON.stringify(panel));
  const style = await page.locator('floorwalker-widget .fw-greeting').evaluate((el) => [getComputedStyle(el).fontSize, getComputedStyle(el).color, getComputedStyle(el.closest('.fw')).direction]);
  assert.deepEqual(style, ['18px', 'rgb(27, 31, 36)', 'ltr'], 'page styles do not leak in; English is left-to-right inside an RTL page');
  assert.match(await page.locator(W.panel).innerText(), /Hostile Lamp/);
  assert.deepEqual(await hitAt(page, '.fw-panel'), { page: 'FLOORWALKER-WIDGET', widget: true });
  assert.deepEqual(await hitAt(page, '#fw-q'), { page: 'FLOORWALKER-WIDGET', widget: true });

  // A whole exchange works under the CSP.
  await page.fill(W.question, 'Does it come in blue?');
  await page.keyboard.press('Enter');
  const offer = await expert.claimNext();
  assert.equal(await firstMessage(t, fw, expert, offer, 'Does it come in blue?'), 'Does it come in blue?');
  assert.equal(offer.page_url, siteUrl + '/');
  await expert.say(offer.conversation_id, 'Yes, in three shades.');
  await page.waitForSelector('floorwalker-widget .fw-log >> text=Yes, in three shades.');
  await page.fill(W.composer, 'Lovely');
  await page.press(W.composer, 'Enter');
  await expert.next((f) => f.type === 'message' && f.message.body === 'Lovely');

  // axe on the widget inside the hostile page (evaluate is not subject to the page's CSP).
  await page.evaluate(() => { window.__define = window.define; window.define = undefined; }); // axe is UMD
  await page.evaluate(AXE);
  await page.evaluate(() => { window.define = window.__define; });
  const bad = await page.evaluate(async () => (await window.axe.run({ include: [['floorwalker-widget']] })).violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id));
  assert.deepEqual(bad, []);

  assert.deepEqual(await page.evaluate(() => window.__csp), [], 'no CSP violations');
  assert.deepEqual(cspConsole, []);
  assert.deepEqual(errors, []);
  await context.close();
  expert.close();
});

/** What the page and the widget's shadow root have at the centre of `sel` (inside the widget). */
function hitAt(page, sel) {
  return page.evaluate((sel) => {
    const host = document.querySelector('floorwalker-widget');
    const el = host.shadowRoot.querySelector(sel);
    const r = el.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const top = document.elementFromPoint(x, y);
    const inner = host.shadowRoot.elementFromPoint(x, y);
    return { page: top && top.tagName, widget: !!(inner && (inner === el || el.contains(inner) || inner.closest(sel))) };
  }, sel);
}

test('without the Popover API the widget still shows and works (fixed, top z-index)', async () => {
  const expert = await Expert.connect(fw);
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  await context.addInitScript(() => { delete HTMLElement.prototype.showPopover; delete HTMLElement.prototype.hidePopover; });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(siteUrl + '/?nocover');
  await page.waitForSelector(W.launcher);
  assert.equal(await page.locator('floorwalker-widget .fw').getAttribute('popover'), null);
  assert.deepEqual(await hitAt(page, '.fw-launch'), { page: 'FLOORWALKER-WIDGET', widget: true });
  await page.click(W.launcher);
  await page.waitForSelector(W.question);
  assert.match(await page.locator(W.panel).innerText(), /Hostile Lamp/);
  assert.deepEqual(errors, []);
  await context.close();
  expert.close();
});

test('commands (queued before the loader, then live) and window events', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(siteUrl + '/');
  await page.evaluate(() => {
    window.__ev = [];
    for (const n of ['ready', 'open', 'close']) window.addEventListener('floorwalker:' + n, () => window.__ev.push(n));
  });
  await page.waitForSelector(W.launcher);
  const sent = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(JSON.parse(String(f.payload)))));
  await page.evaluate(() => window.Floorwalker('open'));
  await page.waitForSelector(W.panel);
  // identify: a wrong signature is refused by the server (error forbidden) without bothering the shopper.
  await page.evaluate(() => window.Floorwalker('identify', { email: 'kim@example.com', name: 'Kim', signature: '00' }));
  await waitFor(() => sent.some((f) => f.type === 'identify' && f.email === 'kim@example.com' && f.signature === '00'), { what: 'identify frame' });
  await sleep(500);
  assert.equal(await page.locator('floorwalker-widget .fw-err').innerText(), '');
  await page.evaluate(() => window.Floorwalker('close'));
  await page.waitForSelector(W.panel, { state: 'hidden' });
  await page.evaluate(() => window.Floorwalker('hide'));
  await page.waitForSelector(W.launcher, { state: 'hidden' });
  await page.evaluate(() => window.Floorwalker('show'));
  await page.waitForSelector(W.launcher);
  await page.evaluate(() => window.Floorwalker('setLocale', 'sv'));
  assert.equal(await page.locator(W.launcher).getAttribute('aria-label'), 'Chatta med en butiksexpert');
  // The merchant's own launcher: ours hides, theirs toggles the panel and mirrors its state.
  await page.evaluate(() => {
    const b = document.createElement('button');
    b.id = 'my-chat';
    b.textContent = 'Chat';
    document.body.appendChild(b);
    window.Floorwalker('setLauncher', '#my-chat');
  });
  await page.waitForSelector(W.launcher, { state: 'hidden' });
  await page.evaluate(() => document.getElementById('my-chat').click());
  await page.waitForSelector(W.panel);
  assert.equal(await page.getAttribute('#my-chat', 'aria-expanded'), 'true');
  await page.keyboard.press('Escape');
  await page.waitForSelector(W.panel, { state: 'hidden' });
  assert.equal(await page.getAttribute('#my-chat', 'aria-expanded'), 'false');
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'my-chat', 'focus returns to the merchant launcher');
  const ev = await page.evaluate(() => window.__ev);
  assert.deepEqual(ev.filter((e) => e !== 'ready'), ['open', 'close', 'open', 'close']);
  await context.close();
});

test('an unknown merchant: no launcher, no errors, commands are harmless', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const config = page.waitForRequest((r) => r.url().includes('widget-config'));
  await page.goto(siteUrl + '/?bad');
  await config; // answered 404 (without CORS headers, so the browser reports a network error)
  await sleep(500);
  await page.evaluate(() => { window.Floorwalker('open'); window.Floorwalker('setContext', { product: { name: 'x' } }); });
  await sleep(300);
  assert.equal(await page.locator('floorwalker-widget').count(), 0);
  assert.deepEqual(errors, []);
  await context.close();
});
