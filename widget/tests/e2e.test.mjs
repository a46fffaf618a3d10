// The shopper's side end to end against the REAL server (testing/server.mjs): the sample shop,
// the widget in Chromium, and an expert speaking the protocol over `ws`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { startServer, launch, Expert, admin, setDisplay, firstMessage, W, sleep, waitFor } from './helpers.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

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

async function shopPage(path = '/shop/product.html', opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(fw.url + path);
  return { context, page };
}
const text = (page, sel) => page.locator(sel).innerText();
const activeId = (page) => page.evaluate(() => {
  const r = document.querySelector('floorwalker-widget')?.shadowRoot;
  const a = r && r.activeElement;
  return a ? a.id || a.className : null;
});

async function axe(page, label) {
  await sleep(400); // let the open animation finish: axe measures contrast through opacity
  await page.evaluate(AXE);
  const res = await page.evaluate(async () => {
    const r = await window.axe.run({ include: [['floorwalker-widget']] }, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ') + ' ' + n.failureSummary).slice(0, 3) }));
  });
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${label}: ${JSON.stringify(bad, null, 1)}`);
  return res;
}

test('with nobody online the panel offers the offline form, and it is sent', async () => {
  const { context, page } = await shopPage('/shop/index.html');
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget #fw-email');
  assert.match(await text(page, W.panel), /Leave us a message/);
  await axe(page, 'offline form');
  await page.click('floorwalker-widget .fw-form button[type=submit]');
  assert.match(await text(page, 'floorwalker-widget #fw-off-err'), /valid email/);
  assert.equal(await activeId(page), 'fw-email');
  await page.fill('floorwalker-widget #fw-email', 'kim@example.com');
  await page.fill('floorwalker-widget #fw-off-msg', 'Do you have the Kvarn in red?');
  await page.click('floorwalker-widget .fw-form button[type=submit]');
  await page.waitForSelector('floorwalker-widget .fw-panel >> text=We will reply to kim@example.com');
  assert.deepEqual(page.errors, []);
  await context.close();
});

test('a shopper chats with an expert; history survives a reload; unread, rating, accessibility', async (t) => {
  const expert = await Expert.connect(fw);
  const { context, page } = await shopPage();
  const events = [];
  await page.exposeFunction('__fwEvent', (e) => events.push(e));
  await page.evaluate(() => {
    for (const n of ['open', 'close', 'message', 'unread']) window.addEventListener('floorwalker:' + n, (e) => window.__fwEvent({ n, d: e.detail && e.detail.count }));
  });
  // Closed: launcher with an accessible name; no panel code loaded yet.
  const launcher = page.locator(W.launcher);
  assert.equal(await launcher.getAttribute('aria-label'), 'Chat with a store expert');
  assert.equal(await page.evaluate(() => !!document.querySelector('script[src*="panel.js"]')), false);
  await axe(page, 'closed');

  // Open: focus moves into the panel; the product from setContext is shown.
  await launcher.click();
  await page.waitForSelector(W.question);
  assert.equal(await activeId(page), 'fw-q', 'focus moves into the panel');
  assert.match(await text(page, W.panel), /Aurora 55" 4K OLED TV/);
  await axe(page, 'start form');
  // Escape closes and returns focus to the launcher.
  await page.keyboard.press('Escape');
  await page.waitForSelector(W.panel, { state: 'hidden' });
  assert.equal(await activeId(page), 'fw-launch');
  await page.keyboard.press('Enter');
  await page.waitForSelector(W.question);

  // Start a chat: queue position, then the expert gets the offer with the page context.
  await page.fill(W.question, 'Is the 55" in stock in Stockholm?');
  await page.click(W.start);
  await page.waitForSelector('floorwalker-widget .fw-queue >> text=in line');
  const offer = await expert.claimNext((o) => !o.offline);
  assert.equal(await firstMessage(t, fw, expert, offer, 'Is the 55" in stock in Stockholm?'), 'Is the 55" in stock in Stockholm?');
  assert.equal(offer.product && offer.product.name, 'Aurora 55" 4K OLED TV');
  assert.match(offer.page_url, /\/shop\/product\.html$/);
  assert.equal(offer.department.name, 'TV & Audio', 'the department named in the context was preselected');
  const conv = offer.conversation_id;
  await page.waitForSelector('floorwalker-widget .fw-sub >> text=Chatting with Sara Lind');

  // Both ways.
  await expert.say(conv, 'Hi! Yes, two left. <b>Not bold</b>');
  await page.waitForSelector('floorwalker-widget .fw-log >> text=Yes, two left. <b>Not bold</b>');
  await waitFor(() => events.some((e) => e.n === 'message'), { what: 'floorwalker:message event' });
  assert.ok(events.some((e) => e.n === 'open'), 'floorwalker:open event');
  assert.equal(await page.locator('floorwalker-widget .fw-log b').count(), 0, 'bodies are text, never HTML');
  await page.fill(W.composer, 'Great, can you hold one?');
  await page.press(W.composer, 'Enter');
  const got = await expert.next((f) => f.type === 'message' && f.message.author.role === 'shopper' && f.message.body === 'Great, can you hold one?');
  await page.waitForSelector('floorwalker-widget .fw-receipt >> text=/Sent|Seen/');
  expert.send({ type: 'read', conversation_id: conv, seq: got.message.seq });
  await page.waitForSelector('floorwalker-widget .fw-receipt >> text=Seen');
  expert.send({ type: 'typing', conversation_id: conv, typing: true });
  await page.waitForSelector('floorwalker-widget .fw-typing >> text=Sara Lind is typing');
  await expert.say(conv, 'Here it is:', { product: { name: 'Aurora 55" 4K OLED TV', price: 12990, currency: 'SEK', url: '/shop/product.html' } });
  await page.waitForSelector('floorwalker-widget .fw-log .fw-card >> text=Aurora 55" 4K OLED TV');
  await axe(page, 'chatting');

  // Reload: the conversation and its history are still there.
  await page.reload();
  await page.waitForSelector(W.launcher);
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget .fw-log >> text=Great, can you hold one?');
  for (const t of ['Is the 55" in stock in Stockholm?', 'Yes, two left.', 'Sara Lind joined the chat']) {
    assert.match(await text(page, W.log), new RegExp(t.replace(/[.?*+()[\]]/g, '\\$&')));
  }
  assert.equal((await text(page, W.log)).split('Great, can you hold one?').length - 1, 1, 'no duplicates after reload');
  // …and so does navigating to another page of the shop.
  await page.goto(fw.url + '/shop/index.html');
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget .fw-log >> text=Great, can you hold one?');
  await page.fill(W.composer, 'After the reload');
  await page.press(W.composer, 'Enter');
  await expert.next((f) => f.type === 'message' && f.message.body === 'After the reload');

  // Closed panel: the launcher counts unread messages.
  await page.keyboard.press('Escape');
  await page.waitForSelector(W.panel, { state: 'hidden' });
  await page.evaluate(() => {
    for (const n of ['unread']) window.addEventListener('floorwalker:' + n, (e) => window.__fwEvent({ n, d: e.detail && e.detail.count }));
  });
  await expert.say(conv, 'One more thing…');
  await waitFor(async () => /1 unread/.test(await launcher.getAttribute('aria-label')), { what: 'unread in launcher name' });
  assert.equal(await page.locator('floorwalker-widget .fw-badge').innerText(), '1');
  await waitFor(() => events.some((e) => e.n === 'unread' && e.d === 1), { what: 'floorwalker:unread event' });
  await launcher.click();
  await waitFor(async () => (await launcher.getAttribute('aria-label')) === 'Chat with a store expert', { what: 'unread cleared' });
  await expert.next((f) => f.type === 'read' && f.role === 'shopper');

  // The expert ends; the shopper rates.
  expert.send({ type: 'end', conversation_id: conv });
  await page.waitForSelector('floorwalker-widget .fw-stars');
  await axe(page, 'rating');
  await page.click('floorwalker-widget label[for=fw-star-4]');
  await page.fill('floorwalker-widget #fw-comment', 'Quick and kind');
  await page.click('floorwalker-widget .fw-rate button[type=submit]');
  await page.waitForSelector('floorwalker-widget .fw-panel >> text=Thank you for your feedback');
  const rated = await expert.next((f) => f.type === 'conversation' && f.conversation.rating);
  assert.deepEqual(rated.conversation.rating, { score: 4, comment: 'Quick and kind' });
  assert.deepEqual(page.errors, []);
  await context.close();
  expert.close();
});

test('display rules: on a hidden path (or with show_when unmet) nothing but the loader and the config fetch runs', async () => {
  const display = await api('GET', '/settings/display');
  await setDisplay(fw, api, { ...display, hidden_paths: ['/checkout*', '/shop/product-ek*'] });
  try {
    const context = await browser.newContext();
    const page = await context.newPage();
    const urls = [];
    page.on('request', (r) => urls.push(new URL(r.url()).pathname));
    page.on('websocket', (w) => urls.push(w.url()));
    await page.goto(fw.url + '/shop/product-ek-lounge-chair.html');
    await waitFor(() => urls.some((u) => u.includes('widget-config')), { what: 'config fetch' });
    await sleep(800);
    await page.evaluate(() => window.Floorwalker('open'));
    await sleep(500);
    assert.equal(await page.locator('floorwalker-widget').count(), 0);
    assert.deepEqual(urls.filter((u) => /panel\.js|ws\/shopper/.test(u)), []);
    // …and on other pages it still shows.
    await page.goto(fw.url + '/shop/product-strand-speaker.html');
    await page.waitForSelector(W.launcher);
    // show_when = available_only, with nobody online: no launcher either.
    await setDisplay(fw, api, { ...display, show_when: 'available_only' });
    await page.reload();
    await waitFor(() => urls.filter((u) => u.includes('widget-config')).length >= 3, { what: 'config fetch' });
    await sleep(800);
    assert.equal(await page.locator('floorwalker-widget').count(), 0);
    await context.close();
  } finally {
    await setDisplay(fw, api, display);
  }
});

test('display settings: position, colour contrast, dark scheme, Persian RTL, phone width', async () => {
  const display = await api('GET', '/settings/display');
  await setDisplay(fw, api, { ...display, position: 'bottom-left', primary_color: '#ffd400', color_scheme: 'dark' });
  try {
    const { context, page } = await shopPage('/shop/index.html', { viewport: { width: 360, height: 740 }, locale: 'fa-IR', hasTouch: true, isMobile: true });
    const box = await page.locator(W.launcher).boundingBox();
    assert.ok(box.x < 100, 'launcher on the left');
    assert.ok(box.width >= 44 && box.height >= 44);
    const [bg, fg] = await page.locator(W.launcher).evaluate((el) => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]);
    assert.equal(bg, 'rgb(255, 212, 0)');
    assert.equal(fg, 'rgb(0, 0, 0)', 'black text on a yellow primary');
    assert.equal(await page.locator(W.launcher).getAttribute('aria-label'), 'گفتگو با کارشناس فروشگاه');
    await page.locator(W.launcher).click();
    await page.waitForSelector('floorwalker-widget #fw-email');
    const root = page.locator('floorwalker-widget .fw');
    assert.equal(await root.getAttribute('dir'), 'rtl');
    assert.equal(await root.getAttribute('lang'), 'fa');
    await sleep(400); // the open animation scales the panel
    const pbox = await page.locator(W.panel).boundingBox();
    assert.deepEqual([pbox.x, pbox.y, pbox.width, pbox.height], [0, 0, 360, 740], 'full screen on a phone');
    const panelBg = await page.locator(W.panel).evaluate((el) => getComputedStyle(el).backgroundColor);
    await page.emulateMedia({ reducedMotion: 'reduce' });
    assert.equal(await page.locator(W.panel).evaluate((el) => getComputedStyle(el).animationName), 'none', 'reduced motion: no animation');
    assert.equal(panelBg, 'rgb(22, 25, 29)', 'dark scheme');
    await axe(page, 'fa dark phone');
    // Full screen = modal: Tab and Shift+Tab stay inside the panel.
    assert.equal(await page.locator(W.panel).getAttribute('aria-modal'), 'true');
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press(i % 3 === 2 ? 'Shift+Tab' : 'Tab');
      assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.tagName), 'FLOORWALKER-WIDGET', `focus left the panel after ${i + 1} presses`);
    }
    await context.close();
  } finally {
    await setDisplay(fw, api, display);
  }
});

test('an expert who leaves before the shopper starts: unavailable → offline form; an unclaimed chat: missed → offline form', async () => {
  const routing = await api('GET', '/settings/routing');
  await api('PUT', '/settings/routing', { ...routing, missed_after_s: 10 });
  try {
    let expert = await Expert.connect(fw, 'expert2@demo.example');
    const { context, page } = await shopPage('/shop/index.html');
    await waitFor(async () => {
      const c = await (await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}`)).json();
      return c.availability.experts_available > 0;
    }, { what: 'an available expert' });
    const welcomed = new Promise((r) => page.on('websocket', (ws) => ws.on('framereceived', (f) => { if (String(f.payload).includes('"welcome"')) r(); })));
    await page.click(W.launcher);
    await page.waitForSelector(W.question);
    await welcomed; // the socket opens with the panel; its availability must still show the expert
    expert.close();
    await waitFor(async () => {
      const c = await (await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}`)).json();
      return c.availability.experts_available === 0;
    }, { what: 'the expert to go away' });
    await page.fill(W.question, 'Anyone there?');
    await page.click(W.start);
    await page.waitForSelector('floorwalker-widget #fw-email');
    assert.match(await text(page, W.panel), /Nobody is online right now/);
    assert.match(await text(page, 'floorwalker-widget .fw-sub'), /No experts online/, 'the header agrees with the form');
    assert.equal(await page.locator('floorwalker-widget #fw-off-msg').inputValue(), 'Anyone there?');

    // Missed: an expert is online but nobody claims within missed_after_s.
    expert = await Expert.connect(fw, 'expert2@demo.example');
    await page.click('floorwalker-widget .fw-close');
    await page.reload();
    await page.click(W.launcher);
    await page.waitForSelector(W.question);
    await page.fill(W.question, 'Will somebody answer?');
    await page.click(W.start);
    await page.waitForSelector('floorwalker-widget .fw-queue');
    await page.waitForSelector('floorwalker-widget .fw-panel >> text=nobody could answer in time', { timeout: 30_000 });
    assert.equal(await page.locator('floorwalker-widget #fw-off-msg').inputValue(), 'Will somebody answer?');
    await page.fill('floorwalker-widget #fw-email', 'sam@example.com');
    await page.click('floorwalker-widget .fw-form button[type=submit]');
    await page.waitForSelector('floorwalker-widget .fw-panel >> text=We will reply to sam@example.com');
    await page.click('floorwalker-widget .fw-panel >> text=Back');
    await page.waitForSelector(W.question);
    expert.close();
    await context.close();
  } finally {
    await api('PUT', '/settings/routing', routing);
  }
});

test('two tabs of the same shop share the conversation', async () => {
  const expert = await Expert.connect(fw, 'expert3@demo.example');
  const context = await browser.newContext();
  const [a, b] = [await context.newPage(), await context.newPage()];
  await a.goto(fw.url + '/shop/index.html');
  await b.goto(fw.url + '/shop/product.html');
  await b.click(W.launcher);
  await b.waitForSelector(W.question);
  await a.click(W.launcher);
  await a.waitForSelector(W.question);
  await a.fill(W.question, 'Asked in tab A');
  await a.click(W.start);
  await b.waitForSelector('floorwalker-widget .fw-log >> text=Asked in tab A');
  const offer = await expert.claimNext((o) => !o.offline);
  await expert.say(offer.conversation_id, 'Answer for both tabs');
  await a.waitForSelector('floorwalker-widget .fw-log >> text=Answer for both tabs');
  await b.waitForSelector('floorwalker-widget .fw-log >> text=Answer for both tabs');
  await b.fill(W.composer, 'Reply from tab B');
  await b.press(W.composer, 'Enter');
  await expert.next((f) => f.type === 'message' && f.message.body === 'Reply from tab B');
  await a.waitForSelector('floorwalker-widget .fw-log >> text=Reply from tab B');
  await context.close();
  expert.close();
});
