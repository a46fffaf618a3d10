// Web Push in the store app (issue 23), in Debian's Chromium. The real push service cannot be
// reached here, so the server's alert goes to a receiver on loopback that decrypts it with the
// device's keys (RFC 8291, node:crypto), and the decrypted message is delivered to the app's
// service worker through the DevTools protocol (`ServiceWorker.deliverPushMessage`), as the
// browser's push service would. Then: the notification is shown in the subscription's language
// (Persian, right-to-left), the server hears it was shown, and the app opens on that offer,
// ready to claim; the claim sends a closing push that replaces the notification.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import crypto from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { api, expertToken, launch, phone, requestChat, shopper, stockholm } from './support/harness.mjs';
import { startServer } from '../../testing/server.mjs';

let fw, browser, place, receiver;
const SHOTS = process.env.SHOTS_DIR || '/tmp/fw-shots';
mkdirSync(SHOTS, { recursive: true });
const got = [];

const b64u = (buf) => Buffer.from(buf).toString('base64url');

// A device's keys, as a browser makes them for pushManager.subscribe.
const device = crypto.createECDH('prime256v1');
device.generateKeys();
const auth = crypto.randomBytes(16);

function hkdf(salt, ikm, info, len) {
  return Buffer.from(crypto.hkdfSync('sha256', ikm, salt, info, len));
}

/** RFC 8291 / RFC 8188, one record. */
function decrypt(body) {
  const salt = body.subarray(0, 16);
  const idlen = body[20];
  const asPublic = body.subarray(21, 21 + idlen);
  const ct = body.subarray(21 + idlen);
  const shared = device.computeSecret(asPublic);
  const info = Buffer.concat([Buffer.from('WebPush: info\0'), device.getPublicKey(), asPublic]);
  const ikm = hkdf(auth, shared, info, 32);
  const cek = hkdf(salt, ikm, Buffer.from('Content-Encoding: aes128gcm\0'), 16);
  const nonce = hkdf(salt, ikm, Buffer.from('Content-Encoding: nonce\0'), 12);
  const d = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(ct.subarray(ct.length - 16));
  const plain = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  assert.equal(plain[end], 2, 'last-record delimiter');
  return JSON.parse(plain.subarray(0, end).toString('utf8'));
}

async function waitFor(what, fn, ms = 20_000) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, payload: decrypt(Buffer.concat(chunks)) });
      res.writeHead(201).end();
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  fw = await startServer({ env: { FLOORWALKER_ALLOW_PRIVATE_WEBHOOKS: '1' } });
  browser = await launch();
  place = await stockholm(fw.url, fw.password);
});
after(async () => {
  await browser?.close();
  await fw?.stop();
  receiver?.close();
});

test('a push opens the app on the offer, ready to claim; the claim closes the notification', { timeout: 120_000 }, async () => {
  const base = fw.url;
  const app = `${base}/app/`;
  const token = await expertToken(base, 'expert1@demo.example', fw.password);
  const endpoint = `http://127.0.0.1:${receiver.address().port}/push/sara`;
  const sub = await api(base, 'POST', '/api/v1/app/push/subscriptions', {
    token, body: { endpoint, keys: { p256dh: b64u(device.getPublicKey()), auth: b64u(auth) }, lang: 'fa' },
  });
  assert.equal(sub.status, 201, JSON.stringify(sub.data));

  // Sara's phone is locked (no socket): a shopper's question reaches her by push.
  const s = await shopper(base, fw.merchantId);
  const question = 'سلام، این تلویزیون را در رنگ مشکی دارید؟';
  const conv = await requestChat(s, place, question);
  const offer = await waitFor('the alert at the push service', () => got.find((g) => g.payload.conversation_id === conv && g.payload.type === 'offer'));
  assert.equal(offer.headers.urgency, 'high');
  assert.match(offer.headers.authorization, /^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/);

  // The phone wakes: the app's service worker gets the message (as from the push service).
  const { ctx, page } = await phone(browser, { serviceWorkers: 'allow', locale: 'fa-IR', colorScheme: 'dark' });
  await ctx.grantPermissions(['notifications'], { origin: new URL(base).origin });
  await ctx.addInitScript((tk) => {
    localStorage.setItem('fw.app.token', tk);
    localStorage.setItem('fw.app.notifyAsked', '1');
    localStorage.setItem('fw.app.lang', 'fa');
  }, token);
  const cdp = await ctx.newCDPSession(page);
  const registrations = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations));
  await cdp.send('ServiceWorker.enable');
  await page.goto(app);
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  const reg = await waitFor('the service worker registration', () => registrations.find((r) => r.scopeURL === app && !r.isDeleted));
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: new URL(base).origin, registrationId: reg.registrationId, data: JSON.stringify(offer.payload) });

  const shown = await waitFor('the notification', () => page.evaluate(async (c) => {
    const r = await navigator.serviceWorker.ready;
    const n = (await r.getNotifications()).find((x) => x.tag === `fw-offer-${c}`);
    return n && { title: n.title, body: n.body, dir: n.dir, lang: n.lang, data: n.data };
  }, conv));
  assert.equal(shown.title, 'یک خریدار منتظر است');
  assert.equal(shown.dir, 'rtl');
  assert.equal(shown.lang, 'fa');
  assert.ok(shown.body.includes(place.store.name), shown.body);
  assert.ok(shown.body.includes('سلام، این تلویزیون'), shown.body);
  assert.equal(shown.data.conversation_id, conv);

  // The service worker told the server it was shown.
  const alerts = async () => (await api(base, 'GET', `/api/v1/app/push/alerts?conversation_id=${conv}`, { token })).data;
  // (The app open on this phone gets the offer over its socket too: that is an alert of its own.)
  const pushed = async () => (await alerts()).find((a) => a.channel === 'push');
  await waitFor('the alert recorded as shown', async () => (await pushed())?.state === 'shown');

  // Tapping the notification opens the app at the URL the worker builds from its data
  // (headless Chromium cannot tap a system notification): the offer is there, focused.
  const target = await page.evaluate(async (c) => {
    const r = await navigator.serviceWorker.ready;
    const n = (await r.getNotifications()).find((x) => x.tag === `fw-offer-${c}`);
    const u = new URL(r.scope);
    u.hash = `offer=${encodeURIComponent(n.data.conversation_id)}`;
    return u.href;
  }, conv);
  const opened = await ctx.newPage();
  await opened.goto(target);
  await opened.locator('.shell[data-conn="online"]').waitFor({ timeout: 15_000 });
  const card = opened.locator(`li.offer.focused[data-offer="${conv}"]`);
  await card.waitFor({ timeout: 15_000 });
  const claim = card.locator('button.claim');
  await waitFor('the claim button focused', () => claim.evaluate((b) => document.activeElement === b));
  assert.equal(await opened.evaluate(() => location.hash), '', 'the offer is taken from the address once');
  await opened.screenshot({ path: `${SHOTS}/push-offer-fa-dark.png` });
  await claim.click();

  // Claimed from the phone: a closing push follows; delivered, it replaces the notification.
  const close = await waitFor('the closing push', () => got.find((g) => g.payload.conversation_id === conv && g.payload.type === 'close'));
  assert.equal(close.payload.reason, 'claimed_by_you');
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: new URL(base).origin, registrationId: reg.registrationId, data: JSON.stringify(close.payload) });
  const replaced = await waitFor('the replaced notification', () => page.evaluate(async (c) => {
    const r = await navigator.serviceWorker.ready;
    const n = (await r.getNotifications()).find((x) => x.tag === `fw-offer-${c}`);
    return n && n.data.kind === 'closed' && { title: n.title, silent: n.silent };
  }, conv));
  assert.equal(replaced.title, 'شما این گفتگو را برداشتید');
  assert.equal(replaced.silent, true);
  const final = await pushed();
  assert.equal(final.state, 'claimed');
  // The offer the open app got over its socket is recorded too, and led to the claim.
  const socket = (await alerts()).find((a) => a.channel === 'socket');
  assert.ok(socket, JSON.stringify(await alerts()));
  assert.equal(socket.state, 'claimed');
  s.close();
  await ctx.close();
});

test('the alerts card explains each permission state (phone, Persian, dark)', { timeout: 90_000 }, async () => {
  const token = await expertToken(fw.url, 'expert2@demo.example', fw.password);
  for (const [perm, want] of [['granted', 'روشن کردن هشدارها'], ['denied', 'مسدود']]) {
    const { ctx, page } = await phone(browser, { serviceWorkers: 'allow', locale: 'fa-IR', colorScheme: 'dark' });
    if (perm === 'granted') await ctx.grantPermissions(['notifications'], { origin: new URL(fw.url).origin });
    else await ctx.addInitScript(() => { Object.defineProperty(Notification, 'permission', { get: () => 'denied' }); });
    await ctx.addInitScript((tk) => {
      localStorage.setItem('fw.app.token', tk);
      localStorage.setItem('fw.app.notifyAsked', '1');
      localStorage.setItem('fw.app.lang', 'fa');
    }, token);
    await page.goto(`${fw.url}/app/`);
    await page.locator('.shell[data-conn="online"]').waitFor({ timeout: 15_000 });
    await page.locator('nav.tabs button').last().click();
    const card = page.locator('.push-card');
    await card.waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dir), 'rtl');
    assert.ok((await card.innerText()).includes(want), await card.innerText());
    await card.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/push-card-${perm}-fa-dark.png` });
    if (perm === 'granted') {
      // Why did I miss a chat: Sara claimed the first test's chat before Johan could.
      await page.getByRole('button', { name: 'چرا گفتگویی را از دست دادم؟' }).click();
      const item = page.locator('.missed-list li').first();
      await item.waitFor();
      assert.equal(await item.getAttribute('data-reason'), 'taken_first');
      assert.ok((await item.innerText()).includes('همکاری زودتر آن را برداشت'), await item.innerText());
      await page.locator('.missed').scrollIntoViewIfNeeded();
      await page.screenshot({ path: `${SHOTS}/missed-fa-dark.png` });
    }
    await ctx.close();
  }
});
