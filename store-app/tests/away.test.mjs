// The store app tells the expert when the shopper has left a chat and how answers reach them
// (`shopper_away`), and when they are back. Phone width, axe, light and dark screenshots.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { axe, expertHome, launch, requestChat, shopper, startStack, stockholm } from './support/harness.mjs';

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
const T = { timeout: 90_000 };
const SHOTS = process.env.FW_SHOTS_DIR;

/** The same shopper back on a new socket (their token). */
async function comeBack(token) {
  const ws = new WebSocket(stack.base.replace(/^http/, 'ws') + `/ws/shopper?merchant=${stack.merchantId}&v=1`);
  await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
  ws.send(JSON.stringify({ type: 'hello', token }));
  await new Promise((ok) => ws.on('message', (d) => { if (JSON.parse(String(d)).type === 'welcome') ok(); }));
  return ws;
}

test('the expert sees that the shopper left and that answers go by e-mail, and when they are back', T, async () => {
  const { ctx, page } = await expertHome(browser, stack, 'expert3@demo.example');
  const s = await shopper(stack.base, stack.merchantId);
  const id = await requestChat(s, place, 'Which soundbar fits a small room?');
  await page.locator(`[data-offer="${id}"] button.claim`).click();
  await page.locator('.transcript').getByText('Which soundbar fits a small room?').waitFor();
  assert.equal(await page.locator('.away-note').count(), 0, 'the shopper is here');
  // "If I leave, e-mail me the answer", then the shopper closes the page.
  s.send({ type: 'notify_me', conversation_id: id, email: 'kim@example.com' });
  const noted = await s.waitFor((f) => f.type === 'notify_me', 10_000, 'notify_me');
  assert.equal(noted.email, 'kim@example.com');
  s.close();
  const note = page.locator('.away-note');
  await note.waitFor({ timeout: 15_000 });
  assert.match(await note.innerText(), /has left.*by e-mail/);
  assert.equal(await note.getAttribute('data-away'), 'email');
  assert.deepEqual(await axe(page), []);
  if (SHOTS) {
    await page.screenshot({ path: `${SHOTS}/store-app-away-light.png` });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: `${SHOTS}/store-app-away-dark.png` });
    await page.emulateMedia({ colorScheme: 'light' });
  }
  // Back on the site: the note goes.
  const back = await comeBack(s.welcome.token);
  await note.waitFor({ state: 'detached', timeout: 15_000 });
  back.close();
  assert.deepEqual(page.errors || [], []);
  await ctx.close();
});
