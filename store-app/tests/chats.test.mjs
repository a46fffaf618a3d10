// More store-app flows against the real server: signing in through the form, several chats
// with unread badges, typing and read state, ending, transferring with a note, the outbox
// surviving a closed tab, the offline app shell, and changing the password.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, api, axe, expertHome, launch, phone, requestChat, shopper, startStack, stockholm } from './support/harness.mjs';

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
const MSG = 'Message — type / for saved replies';

async function noSeriousA11y(page, screen) {
  const v = await axe(page);
  assert.deepEqual(v, [], `${screen}: ${JSON.stringify(v, null, 1)}`);
}

test('sign in through the form; several chats at once with unread badges, typing, read state, end', T, async () => {
  const { ctx, page } = await phone(browser);
  await page.goto(stack.app);
  await page.getByLabel('Email').fill('expert2@demo.example');
  await page.getByLabel('Password').fill('wrong password!');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Wrong email or password.').waitFor();
  await page.getByLabel('Password').fill(stack.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.shell[data-conn="online"]').waitFor({ timeout: 15_000 });
  if (!(await page.locator('#avail-switch').isChecked())) await page.locator('#avail-switch').check({ force: true });

  // Availability settings sheet.
  await page.getByRole('button', { name: 'Where I work now' }).click();
  const sheet = page.getByRole('dialog', { name: 'Availability' });
  await sheet.getByText(place.store.name).waitFor();
  await noSeriousA11y(page, 'availability sheet');
  await sheet.getByRole('button', { name: 'Done' }).click();

  const a = await shopper(stack.base, stack.merchantId);
  const b = await shopper(stack.base, stack.merchantId);
  const ca = await requestChat(a, place, 'First shopper here');
  const cb = await requestChat(b, place, 'Second shopper here');
  await page.locator(`[data-offer="${ca}"] button.claim`).click();
  await page.locator('.transcript').getByText('First shopper here').waitFor();
  await page.getByRole('button', { name: 'Back to chats' }).click();
  await page.locator(`[data-offer="${cb}"] button.claim`).click();
  await page.locator('.transcript').getByText('Second shopper here').waitFor();

  // Read state: the shopper sees the expert's read receipt for their message.
  await b.waitFor((f) => f.type === 'read' && f.conversation_id === cb && f.role === 'expert', 10_000, 'read by expert');
  // Typing is relayed both ways.
  await page.getByLabel(MSG).pressSequentially('Hel');
  await b.waitFor((f) => f.type === 'typing' && f.conversation_id === cb && f.typing === true, 10_000, 'expert typing');
  b.send({ type: 'typing', conversation_id: cb, typing: true });
  await page.getByText('Shopper is typing…').waitFor();

  // While chat B is open, shopper A writes twice: chat A gets an unread badge of 2.
  a.send({ type: 'send', conversation_id: ca, client_msg_id: 'a-2', body: 'Are you there?' });
  a.send({ type: 'send', conversation_id: ca, client_msg_id: 'a-3', body: 'Hello?' });
  // The open chat's back button tells there is something new elsewhere.
  await page.getByRole('button', { name: 'Back to chats (2)' }).click();
  const rowA = page.locator(`[data-chat="${ca}"]`);
  await rowA.locator('.unread').filter({ hasText: '2' }).waitFor({ timeout: 10_000 });
  assert.equal(await page.locator(`[data-chat="${cb}"] .unread`).count(), 0);
  await page.locator('.tab.active .tab-badge').filter({ hasText: '2' }).waitFor();
  // Opening chat A reads it: the badge goes and the shopper gets the read receipt.
  await rowA.click();
  await page.locator('.transcript').getByText('Hello?').waitFor();
  const lastSeq = await a.waitFor((f) => f.type === 'ack' && f.client_msg_id === 'a-3').then((f) => f.seq);
  await a.waitFor((f) => f.type === 'read' && f.role === 'expert' && f.seq >= lastSeq, 10_000, 'read of a-3');
  // The shopper reads the expert's answer: "Seen".
  await page.getByLabel(MSG).fill('Yes, right here!');
  await page.getByRole('button', { name: 'Send' }).click();
  const ack = await new Promise((ok) => a.waitFor((f) => f.type === 'message' && f.message.body === 'Yes, right here!').then(ok));
  a.send({ type: 'read', conversation_id: ca, seq: ack.message.seq });
  await page.locator('.msg.mine').filter({ hasText: 'Yes, right here!' }).getByText('Seen').waitFor();

  // Shopper info with the journey.
  await page.getByRole('button', { name: 'Shopper info' }).click();
  const info = page.getByRole('dialog', { name: 'Shopper info' });
  await info.getByText('shop.example/tv/55').waitFor();
  await noSeriousA11y(page, 'shopper info');
  await info.getByRole('button', { name: 'Close' }).click();

  // End chat A: the shopper sees it ended; the app says so.
  await page.getByRole('button', { name: 'More' }).click();
  await page.getByRole('dialog', { name: 'More' }).getByRole('button', { name: 'End chat' }).click();
  await page.getByRole('dialog', { name: 'End chat' }).getByRole('button', { name: 'End chat' }).click();
  await a.waitFor((f) => f.type === 'conversation' && f.conversation.id === ca && f.conversation.status === 'ended', 10_000, 'ended');
  await page.getByText('This chat has ended.').first().waitFor();
  await page.getByRole('button', { name: 'Close chat' }).click();
  await page.locator(`[data-chat="${cb}"]`).waitFor();
  assert.equal(await page.locator(`[data-chat="${ca}"]`).count(), 0);
  // Shopper A comes back: the offer says it is this expert's contact.
  const again = await requestChat(a, place, 'Me again!');
  const card = page.locator(`[data-offer="${again}"]`);
  await card.getByText('Your contact').waitFor({ timeout: 10_000 });
  a.send({ type: 'end', conversation_id: again });
  await card.waitFor({ state: 'detached', timeout: 10_000 });
  assert.deepEqual(page.errors ?? [], []);
  a.close(); b.close();
  await ctx.close();
});

test('transfer to another department with a note: a colleague gets the offer with the note', T, async () => {
  const one = await expertHome(browser, stack, 'expert1@demo.example');
  const two = await expertHome(browser, stack, 'expert3@demo.example');
  // Expert 3 works only TV & Audio in Stockholm? Use a department expert 1 does not sit in now.
  const kitchen = place.store.departments.find((d) => d.name === 'Kitchen');
  const s = await shopper(stack.base, stack.merchantId);
  const id = await requestChat(s, place, 'I need a TV and a wall mount');
  await one.page.locator(`[data-offer="${id}"] button.claim`).click();
  await one.page.locator('.transcript').getByText('I need a TV and a wall mount').waitFor();
  await two.page.locator(`[data-offer="${id}"]`).waitFor({ state: 'detached' });

  await one.page.getByRole('button', { name: 'More' }).click();
  await one.page.getByRole('dialog', { name: 'More' }).getByRole('button', { name: 'Transfer' }).click();
  const dlg = one.page.getByRole('dialog', { name: 'Transfer chat' });
  await dlg.getByRole('radio', { name: 'Kitchen' }).check();
  await dlg.getByLabel(/Note for whoever takes over/).fill('Wants a wall mount too');
  await dlg.getByRole('button', { name: 'Transfer' }).click();

  // Expert 1 is back home; the chat is no longer theirs.
  await one.page.getByRole('heading', { name: 'Waiting shoppers' }).waitFor();
  // Expert 3 (who works Kitchen) gets it, marked as transferred, with the note.
  const card = two.page.locator(`[data-offer="${id}"]`);
  await card.waitFor({ timeout: 10_000 });
  await card.getByText('Transferred').waitFor();
  await card.getByText('Wants a wall mount too').waitFor();
  await card.getByText(kitchen.name).waitFor();
  await card.getByRole('button', { name: 'Claim chat' }).click();
  await two.page.locator('.transcript').getByText('I need a TV and a wall mount').waitFor();
  s.close();
  await one.ctx.close();
  await two.ctx.close();
});

test('an unsent message survives closing the tab and is delivered once when the app opens again', T, async () => {
  const { ctx, page } = await expertHome(browser, stack, 'expert2@demo.example');
  const s = await shopper(stack.base, stack.merchantId);
  const id = await requestChat(s, place, 'Still there?');
  await page.locator(`[data-offer="${id}"] button.claim`).click();
  await page.locator('.transcript').getByText('Still there?').waitFor();
  await ctx.setOffline(true);
  await page.getByText(/Reconnecting/).first().waitFor();
  await page.getByLabel(MSG).fill('Typed before the tab closed');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('.msg.pending').waitFor();
  await page.close();
  await ctx.setOffline(false);
  const again = await ctx.newPage();
  await again.goto(stack.app);
  await again.locator('.shell[data-conn="online"]').waitFor({ timeout: 15_000 });
  const m = await s.waitFor((f) => f.type === 'message' && f.message.body === 'Typed before the tab closed', 15_000, 'message from the outbox');
  assert.equal(m.message.author.role, 'expert');
  await again.waitForFunction(() => (JSON.parse(localStorage.getItem('fw.app.outbox') || '[]')).length === 0);
  await again.locator(`[data-chat="${id}"]`).click();
  await again.locator('.msg.mine').getByText('Typed before the tab closed').waitFor();
  assert.equal(await again.locator('.msg').getByText('Typed before the tab closed').count(), 1);
  assert.equal(s.frames.filter((f) => f.type === 'message' && f.message.body === 'Typed before the tab closed').length, 1);
  s.close();
  await ctx.close();
});

test('the service worker serves the app shell offline', T, async () => {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await ctx.newPage();
  await page.goto(stack.app);
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();
  await page.waitForFunction(() => !!navigator.serviceWorker.controller);
  await ctx.setOffline(true);
  await page.reload();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await ctx.close();
});

test('change the password from the profile', T, async () => {
  const { ctx, page } = await expertHome(browser, stack, 'expert5@demo.example');
  await page.getByRole('button', { name: 'Profile' }).click();
  await page.getByLabel('Current password').fill('not my password');
  await page.getByLabel('New password').fill('a brand new password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('This is not your current password.').waitFor();
  await page.getByLabel('Current password').fill(stack.password);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('Password changed.').waitFor();
  const ok = await api(stack.base, 'POST', '/api/v1/app/login', { body: { email: 'expert5@demo.example', password: 'a brand new password' } });
  assert.equal(ok.status, 200);
  // The app keeps working with its new token (the old ones were revoked).
  await page.reload();
  await page.locator('.shell[data-conn="online"]').waitFor({ timeout: 15_000 });
  // Sign out: back to the sign-in form, token gone.
  await page.getByRole('button', { name: 'Profile' }).click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('fw.app.token')), null);
  await ctx.close();
});

test('in the background an offer raises a system notification and vibrates', T, async () => {
  const { ctx, page } = await expertHome(browser, stack, 'expert3@demo.example');
  // Stand-ins that record what the app asks the device to do; the page pretends to be hidden.
  await page.evaluate(() => {
    window.__notes = [];
    window.__vib = [];
    Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => window.__hidden === true });
    window.Notification = class { static permission = 'granted'; static async requestPermission() { return 'granted'; } constructor(title, o) { window.__notes.push({ title, body: o?.body ?? '' }); } };
    navigator.vibrate = (p) => { window.__vib.push(p); return true; };
    window.__hidden = true;
  });
  const s = await shopper(stack.base, stack.merchantId);
  const id = await requestChat(s, place, 'Anyone in TV?');
  await page.locator(`[data-offer="${id}"]`).waitFor();
  // A chat an earlier test left waiting may raise its own note first: take the one for this chat.
  await page.waitForFunction(() => window.__notes.some((n) => n.body.includes('Anyone in TV?')));
  const note = (await page.evaluate(() => window.__notes)).find((n) => n.body.includes('Anyone in TV?'));
  assert.match(note.title, /^(A shopper is waiting|\d+ shoppers are waiting)$/);
  assert.match(note.body, /Anyone in TV\?/);
  assert.match(note.body, new RegExp(place.store.name));
  assert.ok((await page.evaluate(() => window.__vib.length)) > 0, 'vibrated');
  s.close();
  await ctx.close();
});

test('a deactivated expert is signed out at once', T, async () => {
  const { ctx, page } = await expertHome(browser, stack, 'expert6@demo.example');
  const a = await admin(stack.base, stack.password);
  const list = await a.get('/api/v1/team/experts?status=approved&limit=100');
  const six = list.data.items.find((e) => e.email === 'expert6@demo.example');
  const r = await a.post(`/api/v1/team/experts/${six.id}/deactivate`);
  assert.equal(r.status, 200, JSON.stringify(r.data));
  await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 15_000 });
  await page.getByText(/signed out|deactivated/).first().waitFor();
  await ctx.close();
});

test('a pending expert who signs in sees the waiting screen', T, async () => {
  const { ctx, page } = await phone(browser);
  await page.goto(stack.app);
  await page.getByLabel('Email').fill('pending@demo.example');
  await page.getByLabel('Password').fill(stack.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Waiting for approval' }).waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await ctx.close();
});

test('a gap in seq makes the app sync, and a repeated message is shown once', T, async () => {
  const { ctx, page } = await expertHome(browser, stack, 'expert1@demo.example');
  const s = await shopper(stack.base, stack.merchantId);
  const id = await requestChat(s, place, 'Gap test');
  await page.locator(`[data-offer="${id}"] button.claim`).click();
  await page.locator('.transcript').getByText('Gap test').waitFor();
  // Record what the app sends from now on.
  await page.evaluate(() => {
    window.__sent = [];
    const orig = WebSocket.prototype.send;
    WebSocket.prototype.send = function (d) { try { window.__sent.push(JSON.parse(d)); } catch { /* */ } return orig.call(this, d); };
  });
  // The shopper writes twice; both arrive live.
  s.send({ type: 'send', conversation_id: id, client_msg_id: 'g-1', body: 'first' });
  s.send({ type: 'send', conversation_id: id, client_msg_id: 'g-2', body: 'second' });
  await page.locator('.msg.theirs').getByText('second').waitFor();
  const last = await page.evaluate((cid) => window.__floorwalkerHub.state.chats.get(cid).lastSeq, id);
  const sentBefore = await page.evaluate(() => window.__sent.length);
  // A duplicate of a message already shown, and one from "the future" (seq gap).
  await page.evaluate(([cid, seq]) => {
    const h = window.__floorwalkerHub;
    const m = h.state.chats.get(cid).messages.get(seq);
    h.handle({ type: 'message', message: m });
    h.handle({ type: 'message', message: { ...m, seq: seq + 2, id: 'future', body: 'from the future', client_msg_id: null } });
  }, [id, last]);
  await page.waitForFunction(([cid, n]) => window.__sent.slice(n).some((f) => f.type === 'sync' && f.conversation_id === cid), [id, sentBefore]);
  const sync = await page.evaluate(([cid, n]) => window.__sent.slice(n).find((f) => f.type === 'sync' && f.conversation_id === cid), [id, sentBefore]);
  assert.equal(sync.after_seq, last, 'sync asks for everything after the last contiguous seq');
  assert.equal(await page.locator('.msg').getByText('second').count(), 1, 'the duplicate is not shown twice');
  s.close();
  await ctx.close();
});
