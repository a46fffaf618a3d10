// The store app e-mails a chat's transcript to the shopper (issue 21): the mail lands in the
// merchant's outbox, rendered, with the whole chat.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, axe, expertHome, launch, requestChat, shopper, startStack, stockholm } from './support/harness.mjs';

let stack, browser, place;
before(async () => {
  stack = await startStack();
  browser = await launch();
  place = await stockholm(stack.base, stack.password);
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

test('an expert e-mails the transcript of a chat to the shopper', { timeout: 90_000 }, async () => {
  const { ctx, page } = await expertHome(browser, stack, 'expert3@demo.example');
  const s = await shopper(stack.base, stack.merchantId);
  const id = await requestChat(s, place, 'Can I return the speakers?');
  await page.locator(`[data-offer="${id}"] button.claim`).click();
  await page.locator('.transcript').getByText('Can I return the speakers?').waitFor();
  await page.getByRole('button', { name: 'More' }).click();
  await page.getByRole('dialog', { name: 'More' }).getByRole('button', { name: 'E-mail the transcript' }).click();
  const sheet = page.getByRole('dialog', { name: 'E-mail the transcript' });
  // The shopper left no address: the expert is told to type one.
  await sheet.getByRole('button', { name: 'Send' }).click();
  await sheet.getByText('The shopper left no address: type one.').waitFor();
  const v = await axe(page);
  assert.deepEqual(v, [], JSON.stringify(v, null, 1));
  await sheet.getByLabel(/Shopper's e-mail/).fill('pat@example.com');
  await sheet.getByRole('button', { name: 'Send' }).click();
  await sheet.getByText('Sent to pat@example.com.').waitFor();
  const a = await admin(stack.base, stack.password);
  const r = await a.get('/api/v1/outbox?kind=email&recipient=pat@example.com');
  assert.equal(r.status, 200);
  assert.equal(r.data.items.length, 1);
  assert.equal(r.data.items[0].template, 'transcript');
  assert.match(r.data.items[0].body_text, /Can I return the speakers\?/);
  s.close();
  await ctx.close();
});
