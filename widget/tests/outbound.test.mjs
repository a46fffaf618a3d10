// Transcripts from the widget against the REAL server: after a chat ends the shopper e-mails it
// to themselves and downloads it; a "continue the conversation" link that is not valid changes
// nothing and leaves the page's address clean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, launch, Expert, admin, W, waitFor } from './helpers.mjs';

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

test('after a chat the shopper e-mails the transcript to themselves and downloads it', async () => {
  const expert = await Expert.connect(fw);
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(fw.url + '/shop/product.html');
  await page.click(W.launcher);
  await page.fill(W.question, 'Does the TV come with a wall mount?');
  await page.click(W.start);
  const offer = await expert.claimNext((o) => !o.offline);
  const conv = offer.conversation_id;
  await expert.say(conv, 'It does, and we can install it.');
  await page.waitForSelector('floorwalker-widget .fw-log >> text=we can install it');
  expert.send({ type: 'end', conversation_id: conv });
  await page.waitForSelector('floorwalker-widget .fw-stars');

  // E-mail: a bad address is refused in place, a good one is queued in the outbox.
  await page.click('floorwalker-widget .fw-transcript button >> text=E-mail me this chat');
  await page.fill('floorwalker-widget #fw-tr-email', 'kim@');
  await page.click('floorwalker-widget .fw-transcript button[type=submit]');
  assert.match(await page.locator('floorwalker-widget .fw-transcript .fw-field-err').innerText(), /valid email/);
  await page.fill('floorwalker-widget #fw-tr-email', 'kim@example.com');
  await page.click('floorwalker-widget .fw-transcript button[type=submit]');
  await page.waitForSelector('floorwalker-widget .fw-transcript >> text=Sent to kim@example.com.');
  const rows = await waitFor(async () => {
    const o = await api('GET', '/outbox?kind=email&recipient=kim@example.com');
    return o.items.length ? o.items : null;
  }, { what: 'the transcript in the outbox' });
  assert.equal(rows[0].template, 'transcript');
  assert.equal(rows[0].conversation_id, conv);
  assert.match(rows[0].body_text, /Does the TV come with a wall mount\?/);
  assert.match(rows[0].body_text, /we can install it/);

  // Download: the same chat as a text file.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('floorwalker-widget .fw-transcript button >> text=Download'),
  ]);
  assert.match(download.suggestedFilename(), /^chat-\d{4}-\d{2}-\d{2}\.txt$/);
  const body = readFileSync(await download.path(), 'utf8');
  assert.match(body, /Does the TV come with a wall mount\?/);
  assert.match(body, /It does, and we can install it\./);
  assert.deepEqual(errors, []);
  await context.close();
  expert.close();
});

test('a "continue the conversation" link that is not valid changes nothing', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(fw.url + '/shop/index.html#fw-reopen=not.a-valid-link');
  await page.waitForSelector(W.launcher);
  await waitFor(() => page.evaluate(() => !location.hash), { what: 'the link removed from the address' });
  assert.equal(await page.locator(W.panel).count(), 0, 'no panel opened');
  assert.equal(await page.evaluate((m) => localStorage.getItem('fw:' + m), fw.merchantId), null);
  assert.deepEqual(errors, []);
  await context.close();
});
