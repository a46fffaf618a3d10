// The network between the browser and the real server is cut mid-chat by a TCP proxy: the widget
// must reconnect, sync what it missed and deliver what the shopper wrote meanwhile — once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, launch, Expert, firstMessage, W, sleep, waitFor } from './helpers.mjs';

let fw, browser, proxy, proxyUrl;
let blocked = false;
// A network that swallows packets: open connections stop carrying data and new ones hang,
// but nothing is closed (as on a train going into a tunnel).
let swallowing = false;
const pairs = new Set();
before(async () => {
  fw = await startServer();
  browser = await launch();
  const target = new URL(fw.url);
  proxy = net.createServer((down) => {
    if (blocked) return down.destroy();
    if (swallowing) {
      pairs.add([down, down]);
      down.on('error', () => {});
      return; // accepted, never answered
    }
    const up = net.connect(Number(target.port), target.hostname);
    const pair = [down, up];
    pairs.add(pair);
    const end = () => { down.destroy(); up.destroy(); pairs.delete(pair); };
    down.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
    down.on('data', (b) => { if (!swallowing) up.write(b); });
    up.on('data', (b) => { if (!swallowing) down.write(b); });
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${proxy.address().port}`;
});
after(async () => {
  await browser?.close();
  for (const [a, b] of pairs) { a.destroy(); b.destroy(); }
  proxy?.close();
  await fw?.stop();
});

test('a dropped network: reconnect, sync missed messages, resend the outbox exactly once', async (t) => {
  const expert = await Expert.connect(fw);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(proxyUrl + '/shop/product.html');
  await page.click(W.launcher);
  await page.waitForSelector(W.question);
  await page.fill(W.question, 'Hello from behind a flaky network');
  await page.click(W.start);
  const offer = await expert.claimNext();
  await firstMessage(t, fw, expert, offer, 'Hello from behind a flaky network');
  const conv = offer.conversation_id;
  await expert.say(conv, 'Hi there!');
  await page.waitForSelector('floorwalker-widget .fw-log >> text=Hi there!');

  // Cut every connection and refuse new ones.
  blocked = true;
  for (const [a, b] of pairs) { a.destroy(); b.destroy(); }
  await page.waitForSelector('floorwalker-widget .fw-conn >> text=Reconnecting');
  await expert.say(conv, 'While you were away');
  await page.fill(W.composer, 'Sent while offline');
  await page.press(W.composer, 'Enter');
  await page.waitForSelector('floorwalker-widget .fw-receipt >> text=Sending');
  await sleep(1500);

  // Back online.
  blocked = false;
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await page.waitForSelector('floorwalker-widget .fw-log >> text=While you were away', { timeout: 15_000 });
  await expert.next((f) => f.type === 'message' && f.message.body === 'Sent while offline', 15_000);
  await page.waitForSelector('floorwalker-widget .fw-receipt >> text=Sent');
  assert.equal(await page.locator('floorwalker-widget .fw-conn').innerText(), '');
  await sleep(1000);
  assert.equal(expert.frames.filter((f) => f.type === 'message' && f.message.body === 'Sent while offline').length, 0, 'delivered once');
  const log = await page.locator(W.log).innerText();
  assert.equal(log.split('Sent while offline').length - 1, 1);
  assert.equal(log.split('While you were away').length - 1, 1);
  // The server agrees: one copy in the transcript.
  expert.send({ type: 'sync', conversation_id: conv, after_seq: 0 });
  const all = await expert.next((f) => f.type === 'messages' && f.conversation_id === conv);
  assert.equal(all.messages.filter((m) => m.body === 'Sent while offline').length, 1);
  await context.close();
  expert.close();
});

test('a network that swallows packets: a quiet notice, kept while reconnecting, then gone', async (t) => {
  const expert = await Expert.connect(fw);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(proxyUrl + '/shop/product.html');
  await page.click(W.launcher);
  await page.waitForSelector(W.question);
  await page.fill(W.question, 'Hello from a train');
  await page.click(W.start);
  const offer = await expert.claimNext();
  await firstMessage(t, fw, expert, offer, 'Hello from a train');
  await expert.say(offer.conversation_id, 'Hi!');
  await page.waitForSelector('floorwalker-widget .fw-log >> text=Hi!');
  assert.equal(await page.locator('floorwalker-widget .fw-conn').innerText(), '');

  // Into the tunnel: nothing closes, the message gets no ack; the widget notices within ~15 s.
  swallowing = true;
  await page.fill(W.composer, 'Are you still there?');
  await page.press(W.composer, 'Enter');
  await page.waitForSelector('floorwalker-widget .fw-conn >> text=Reconnecting', { timeout: 20_000 });
  assert.equal(await page.locator('floorwalker-widget .fw-conn').getAttribute('role'), 'status', 'announced politely');
  // Attempts that hang do not hide it.
  await sleep(3000);
  assert.match(await page.locator('floorwalker-widget .fw-conn').innerText(), /Reconnecting/);

  // Out of the tunnel.
  swallowing = false;
  for (const [a, b] of pairs) { a.destroy(); b.destroy(); }
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await expert.next((f) => f.type === 'message' && f.message.body === 'Are you still there?', 20_000);
  await waitFor(async () => (await page.locator('floorwalker-widget .fw-conn').innerText()) === '', { timeout: 15_000, what: 'the notice to clear' });
  await context.close();
  expert.close();
});

test('the browser going offline shows the notice at once', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(fw.url + '/shop/product.html');
  const welcomed = new Promise((ok) => page.on('websocket', (ws) => ws.on('framereceived', (f) => { if (String(f.payload).includes('"welcome"')) ok(); })));
  await page.click(W.launcher);
  await page.waitForSelector(W.panel);
  await welcomed;
  assert.equal(await page.locator('floorwalker-widget .fw-conn').innerText(), '');
  await context.setOffline(true);
  await page.waitForSelector('floorwalker-widget .fw-conn >> text=Reconnecting', { timeout: 2_000 });
  await context.setOffline(false);
  await waitFor(async () => (await page.locator('floorwalker-widget .fw-conn').innerText()) === '', { timeout: 15_000, what: 'back online' });
  await context.close();
});
