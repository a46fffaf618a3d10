// What a new expert tripped over (issue 19), on a phone against the real server: the footer
// always shows the server's chat count and cap; a fresh offer's timer is not red; ended chats
// move to "Recently ended"; after a transfer the shopper is the new expert's contact; a
// product without a usable picture keeps its shape; counts in the language's plural forms;
// no request fails on load (the icon included).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as esbuild from 'esbuild';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { admin, expertHome, expertToken, launch, openSignedIn, requestChat, shopper, startStack, stockholm } from './support/harness.mjs';
import WebSocket from 'ws';

let stack, browser, place, boss;
before(async () => {
  stack = await startStack();
  browser = await launch();
  place = await stockholm(stack.base, stack.password);
  boss = await admin(stack.base, stack.password);
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});
const T = { timeout: 120_000 };
const footer = (page) => page.locator('.avail-count');

async function expertId(email) {
  const r = await boss.get('/api/v1/team/experts?status=approved&limit=100');
  return r.data.items.find((e) => e.email === email).id;
}

/** An expert over the protocol (no browser), available. */
async function wsExpert(email) {
  const token = await expertToken(stack.base, email, stack.password);
  const ws = new WebSocket(stack.base.replace(/^http/, 'ws') + '/ws/expert?v=1');
  const frames = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
  ws.send(JSON.stringify({ type: 'hello', token }));
  const until = async (pred) => { for (let i = 0; i < 200; i++) { const f = frames.find(pred); if (f) return f; await new Promise((r) => setTimeout(r, 50)); } throw new Error('expert frame never came'); };
  await until((f) => f.type === 'welcome');
  ws.send(JSON.stringify({ type: 'set_status', available: true }));
  return { ws, frames, until, send: (f) => ws.send(JSON.stringify(f)) };
}

test('the footer shows the server\'s chat count and cap: claims, ends, the stepper and the merchant\'s limit', T, async () => {
  const { ctx, page } = await expertHome(browser, stack, 'expert1@demo.example');
  const failed = [];
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
  await footer(page).filter({ hasText: '0 of 3 chats' }).waitFor();

  // The stepper: down, up, and not above what the merchant allows.
  await page.getByRole('button', { name: 'Where I work now' }).click();
  const sheet = page.getByRole('dialog', { name: 'Availability' });
  await sheet.getByText('Your manager allows up to 3 chats at once.').waitFor();
  assert.equal(await sheet.getByRole('button', { name: '+' }).isDisabled(), true, 'at the limit');
  await sheet.getByRole('button', { name: '−' }).click();
  await footer(page).filter({ hasText: '0 of 2 chats' }).waitFor();
  await sheet.getByRole('button', { name: '+' }).click();
  await footer(page).filter({ hasText: '0 of 3 chats' }).waitFor();
  // The merchant raises the limit in Team: the app hears it without a reconnect.
  const e1 = await expertId('expert1@demo.example');
  await boss.patch(`/api/v1/team/experts/${e1}`, { max_chats: 4 });
  await sheet.getByText('Your manager allows up to 4 chats at once.').waitFor();
  await sheet.getByRole('button', { name: '+' }).click();
  await footer(page).filter({ hasText: '0 of 4 chats' }).waitFor();
  await sheet.getByRole('button', { name: 'Done' }).click();

  // Three claims: the count follows each one.
  const shoppers = [];
  for (const n of [1, 2, 3]) {
    const s = await shopper(stack.base, stack.merchantId);
    const id = await requestChat(s, place, `Question ${n}`);
    shoppers.push({ s, id });
    const offer = page.locator(`[data-offer="${id}"]`);
    // A fresh offer's timer is calm, not red.
    const wait = offer.locator('.offer-wait');
    await wait.waitFor();
    assert.match(await wait.getAttribute('class'), /\bfresh\b/);
    const [color, text] = await wait.evaluate((el) => [getComputedStyle(el).color, getComputedStyle(document.body).color]);
    assert.equal(color, text, 'the timer at 0:0x has the text colour');
    await offer.locator('button.claim').click();
    await page.locator('.transcript').getByText(`Question ${n}`).waitFor();
    await page.getByRole('button', { name: /^Back to chats/ }).click();
    await footer(page).filter({ hasText: `${n} of 4 chats` }).waitFor();
  }

  // The shopper ends one: the count drops, the chat moves to "Recently ended".
  shoppers[0].s.send({ type: 'end', conversation_id: shoppers[0].id });
  await footer(page).filter({ hasText: '2 of 4 chats' }).waitFor();
  const ended = page.getByRole('region', { name: 'Recently ended' });
  await ended.locator(`[data-chat="${shoppers[0].id}"]`).waitFor();
  const mine = page.getByRole('region', { name: 'My chats' });
  assert.equal(await mine.locator(`[data-chat="${shoppers[0].id}"]`).count(), 0);
  assert.equal(await mine.locator('[data-chat]').count(), 2);
  await ended.getByRole('button', { name: 'Clear recently ended chats' }).click();
  await page.getByRole('region', { name: 'Recently ended' }).waitFor({ state: 'detached' });
  assert.deepEqual(failed, [], 'no failed request (the icon included)');
  for (const { s, id } of shoppers.slice(1)) s.send({ type: 'end', conversation_id: id });
  await footer(page).filter({ hasText: '0 of 4 chats' }).waitFor();
  await boss.patch(`/api/v1/team/experts/${e1}`, { max_chats: 3 });
  for (const { s } of shoppers) s.close();
  await ctx.close();
});

test('after a transfer the shopper is the contact of the expert who took over, not the first one\'s', T, async () => {
  const { ctx, page } = await expertHome(browser, stack, 'expert2@demo.example');
  const other = await wsExpert('expert3@demo.example');
  const s = await shopper(stack.base, stack.merchantId);
  const id = await requestChat(s, place, 'Which soundbar fits?');
  await page.locator(`[data-offer="${id}"] button.claim`).click();
  await page.locator('.transcript').getByText('Which soundbar fits?').waitFor();
  // Contacts lists the shopper now.
  await page.getByRole('button', { name: /^Back to chats/ }).click();
  await page.getByRole('button', { name: 'Contacts' }).click();
  await page.locator('.chat-list .chat-row').first().waitFor();
  assert.equal(await page.locator('.chat-list .chat-row').count(), 1);
  // Hand it to a colleague, who takes it.
  await page.getByRole('button', { name: 'Chats' }).click();
  await page.locator(`[data-chat="${id}"]`).click();
  await page.getByRole('button', { name: 'More' }).click();
  await page.getByRole('button', { name: 'Transfer' }).click();
  const sheet = page.getByRole('dialog', { name: 'Transfer chat' });
  await sheet.getByText('Amira Haddad').click();
  await sheet.getByRole('button', { name: 'Transfer' }).click();
  await other.until((f) => f.type === 'offer' && f.offer.conversation_id === id && f.offer.reason === 'transfer');
  other.send({ type: 'claim', conversation_id: id });
  await other.until((f) => f.type === 'conversation' && f.conversation.id === id && f.conversation.status === 'claimed');
  // The store app and the server agree: expert2 no longer has this contact.
  await page.getByRole('button', { name: 'Contacts' }).click();
  await page.getByText('No contacts yet. Shoppers you help appear here.').waitFor();
  other.ws.close();
  s.close();
  await ctx.close();
});

test('a product without a usable picture keeps its shape; Czech counts', T, async () => {
  const token = await expertToken(stack.base, 'expert1@demo.example', stack.password);
  const { ctx, page } = await (async () => {
    const x = await openSignedIn(browser, stack.app, token);
    await x.page.evaluate(() => localStorage.setItem('fw.app.lang', 'cs'));
    await x.page.reload();
    return x;
  })();
  await page.locator('.shell[data-conn="online"]').waitFor({ timeout: 15_000 });
  if (!(await page.locator('#avail-switch').isChecked())) await page.locator('#avail-switch').check({ force: true });
  await footer(page).filter({ hasText: '0 z 3 chatů' }).waitFor();
  const s = await shopper(stack.base, stack.merchantId);
  s.send({ type: 'request_chat', store_id: place.store.id, department_id: place.department.id, text: 'Hej', client_msg_id: 'p1',
    product: { name: 'Aurora 55" 4K OLED TV', image_url: 'https://127.0.0.1:9/aurora.png', price: 12990, currency: 'SEK' } });
  const conv = await s.waitFor((f) => f.type === 'conversation');
  await page.locator(`[data-offer="${conv.conversation.id}"] button.claim`).click();
  await page.locator('.ctx-strip .product-card').waitFor();
  await page.locator('.ctx-strip .product-ph').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('.ctx-strip img').count(), 0, 'no broken picture');
  await page.locator('.chat-head .back-btn').click();
  await footer(page).filter({ hasText: '1 z 3 chatů' }).waitFor();
  s.send({ type: 'end', conversation_id: conv.conversation.id });
  s.close();
  await ctx.close();
});

test('every plural text has the forms its language needs', async () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const langs = {};
  for (const code of ['en', 'sv', 'de', 'el', 'cs', 'fa']) {
    const b = await esbuild.build({ entryPoints: [join(root, `src/lang/${code}.ts`)], bundle: true, format: 'esm', platform: 'neutral', write: false });
    const file = join(mkdtempSync(join(tmpdir(), 'fw-lang-')), 'm.mjs');
    writeFileSync(file, b.outputFiles[0].text);
    langs[code] = (await import(pathToFileURL(file).href))[code];
  }
  let plurals = 0;
  for (const [code, msgs] of Object.entries(langs)) {
    const needed = new Intl.PluralRules(code).resolvedOptions().pluralCategories;
    for (const [key, m] of Object.entries(msgs)) {
      if (typeof m === 'string') continue;
      plurals++;
      for (const c of needed) assert.ok(typeof m[c] === 'string', `${code} ${key}: no "${c}" form`);
    }
  }
  assert.ok(plurals >= 20, `${plurals} plural texts`);
});
