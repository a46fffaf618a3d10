// Photos and video calls IN THE CHAT (issue 24 part 2), end to end against the real server:
// the store app on a phone-sized Chromium page and the widget on the sample shop, talking only
// through the hub (photos as `attachment` messages, calls as `call_*` frames). Chromium's fake
// camera and microphone stand in for real ones; both sides must decode the other's frames.
// Screenshots (phone, desktop, Persian right-to-left, dark) go to $SHOTS_DIR or /tmp/fw-media-chat.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { admin, expertHome, startStack } from './support/harness.mjs';
import { FAKE_MEDIA_ARGS, framesPresented, jpegBytes } from '../../testing/media-lab.mjs';
import { repoRoot } from '../../testing/server.mjs';

const SHOTS = process.env.SHOTS_DIR || '/tmp/fw-media-chat';
const T = { timeout: 180_000 };
let stack, browser;

before(async () => {
  // The widget (and its media.js) as the server serves it at /widget.js and /widget/*.
  const widget = join(repoRoot, 'widget');
  if (!existsSync(join(widget, 'dist', 'media.js'))) {
    const r = spawnSync(process.execPath, ['build.mjs'], { cwd: widget, stdio: 'inherit' });
    assert.equal(r.status, 0, 'widget build (npm ci in widget/ first)');
  }
  mkdirSync(SHOTS, { recursive: true });
  stack = await startStack();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run', ...FAKE_MEDIA_ARGS],
  });
  const a = await admin(stack.base, stack.password);
  const r = await a.put('/api/v1/settings/attachments', { shopper_uploads: true, retention_days: 30 });
  assert.equal(r.status, 200, JSON.stringify(r.data));
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const W = (sel) => `floorwalker-widget ${sel}`;

/** The shop page with the widget, a chat started from it; resolves once the expert claimed it. */
async function shopperChat(expertPage, { locale = 'en-US', dark = false, viewport = { width: 1280, height: 860 }, question = 'Does the oak shelf come in 80 cm?' } = {}) {
  const ctx = await browser.newContext({ viewport, locale, colorScheme: dark ? 'dark' : 'light', ...(viewport.width < 500 ? { isMobile: true, hasTouch: true } : {}) });
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${stack.base}/shop/product.html`);
  await page.click(W('.fw-launch'));
  await page.fill(W('#fw-q'), question);
  await page.click(W('.fw-start'));
  // The expert takes it in the app.
  const claim = expertPage.locator('[data-offer] button.claim').first();
  await claim.waitFor({ timeout: 15_000 });
  await claim.click();
  await expertPage.locator('.transcript').getByText(question).waitFor({ timeout: 15_000 });
  await page.waitForSelector(W('.fw-log .fw-sys'), { timeout: 15_000 }); // "… joined the chat"
  return { ctx, page };
}

/** A loaded <img> (decoded, real pixels). */
async function imageLoaded(page, selector) {
  await page.waitForFunction((sel) => {
    const find = (root) => root.querySelector(sel) || [...root.querySelectorAll('*')].map((e) => e.shadowRoot && find(e.shadowRoot)).find(Boolean);
    const img = find(document);
    return img && img.complete && img.naturalWidth > 0;
  }, selector, { timeout: 15_000 }).catch(async (e) => {
    await page.screenshot({ path: join(SHOTS, 'failed.png') });
    const html = await page.evaluate(() => (document.querySelector('.transcript')?.outerHTML || document.querySelector('floorwalker-widget')?.shadowRoot?.querySelector('.fw-log')?.outerHTML || '').slice(-3000));
    throw new Error(`${e.message}\n${html}\n${(page.errors || []).join('\n')}`);
  });
}

test('the expert sends a photo from the phone; the shopper sees it inline and full size, and sends one back', T, async () => {
  const expert = await expertHome(browser, stack, 'expert1@demo.example');
  const shop = await shopperChat(expert.page);
  const e = expert.page;

  // The composer's gallery input (the camera input has capture=environment: one tap on a phone).
  assert.equal(await e.locator('input[data-photo="camera"]').getAttribute('capture'), 'environment');
  const jpeg = await jpegBytes(browser, 800, 600);
  await e.locator('input[data-photo="gallery"]').setInputFiles({ name: 'shelf.jpg', mimeType: 'image/jpeg', buffer: jpeg });
  // In the expert's transcript as a thumbnail (the tray goes once it is sent).
  await imageLoaded(e, '.transcript .msg.mine .photo-thumb img');
  await e.locator('.upload-tray').waitFor({ state: 'detached', timeout: 15_000 });

  // The shopper sees it inline, with real pixels, and opens it full size.
  const s = shop.page;
  await imageLoaded(s, '.fw-log .fw-their .fw-photo img');
  const thumb = await s.locator(W('.fw-log .fw-photo img')).first().evaluate((i) => ({ w: i.naturalWidth, h: i.naturalHeight }));
  assert.ok(thumb.w > 100 && thumb.w <= 320, JSON.stringify(thumb));
  await e.screenshot({ path: join(SHOTS, 'photo-expert-phone.png') });
  await s.locator(W('.fw-log .fw-photo')).first().click();
  await imageLoaded(s, '.fw-viewer img');
  const full = await s.locator(W('.fw-viewer img')).evaluate((i) => i.naturalWidth);
  assert.equal(full, 800, 'full size is the uploaded size (within 2048 px)');
  await s.screenshot({ path: join(SHOTS, 'photo-shopper-viewer-desktop.png') });
  await s.keyboard.press('Escape');
  await s.locator(W('.fw-viewer')).waitFor({ state: 'detached' });
  assert.ok(await s.locator(W('.fw-panel')).isVisible(), 'Escape closed the photo, not the chat');

  // The merchant allows shopper photos: the shopper attaches one; the expert sees it.
  const attach = s.locator(W('input[data-photo="gallery"]'));
  await attach.waitFor({ state: 'attached', timeout: 10_000 });
  await attach.setInputFiles({ name: 'wall.jpg', mimeType: 'image/jpeg', buffer: await jpegBytes(browser, 400, 300) });
  await imageLoaded(s, '.fw-log .fw-own .fw-photo img');
  await imageLoaded(e, '.transcript .msg.theirs .photo-thumb img');
  await s.screenshot({ path: join(SHOTS, 'photo-shopper-desktop.png') });
  await e.screenshot({ path: join(SHOTS, 'photo-expert-phone-2.png') });

  // A reload of the shop page: the photos come back from the server (sync), with fresh URLs.
  await s.reload();
  await s.locator(W('.fw-launch')).waitFor();
  // The panel may reopen by itself (it was open before the reload).
  await s.locator(W('.fw-panel')).waitFor({ state: 'visible', timeout: 3000 }).catch(() => s.click(W('.fw-launch')));
  await s.locator(W('.fw-panel')).waitFor({ state: 'visible' });
  // (Thumbnails load lazily: bring the first into view.)
  await s.locator(W('.fw-log .fw-their .fw-photo')).scrollIntoViewIfNeeded();
  await imageLoaded(s, '.fw-log .fw-their .fw-photo img');
  assert.equal(await s.locator(W('.fw-log .fw-photo')).count(), 2);
  assert.deepEqual(s.errors, []);
  assert.deepEqual(e.errors ?? [], []);
  await shop.ctx.close();
  await expert.ctx.close();
});

async function inCall(page, selector) {
  // Frames of the other side's video, decoded and presented (requestVideoFrameCallback).
  const n = await framesPresented(page, selector, 1500);
  assert.ok(n >= 5, `${selector}: ${n} frames presented in 1.5 s`);
  // …and not a black picture: the fake camera draws a moving pattern.
  const lit = await page.evaluate((sel) => {
    const find = (root) => root.querySelector(sel) || [...root.querySelectorAll('*')].map((e) => e.shadowRoot && find(e.shadowRoot)).find(Boolean);
    const v = find(document);
    const c = document.createElement('canvas');
    c.width = 64; c.height = 48;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0, 64, 48);
    const d = g.getImageData(0, 0, 64, 48).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
    return { avg: sum / (d.length / 4) / 3, decoded: v.getVideoPlaybackQuality().totalVideoFrames };
  }, selector);
  assert.ok(lit.avg > 8, `${selector} shows a picture: ${JSON.stringify(lit)}`);
  assert.ok(lit.decoded > 0, JSON.stringify(lit));
}

test('a video call between the store app and the widget: both see the other, the chat goes on, ended from either side', T, async () => {
  const expert = await expertHome(browser, stack, 'expert2@demo.example');
  const e = expert.page;
  const shop = await shopperChat(e, { question: 'Can you show me the back of it?' });
  const s = shop.page;

  // The expert offers a call; the shopper accepts with one tap.
  await e.locator('[data-call="start"]').click();
  await s.locator(W('[data-join="video"]')).click({ timeout: 15_000 });
  await e.locator('.call-panel[data-call-state="connected"]').waitFor({ timeout: 20_000 });
  await s.locator(W('.fw-call[data-call-state="connected"]')).waitFor({ timeout: 20_000 });
  await inCall(e, '.call-stage > video');
  await inCall(s, '.fw-call-stage > video');
  await e.screenshot({ path: join(SHOTS, 'call-expert-phone.png') });
  await s.screenshot({ path: join(SHOTS, 'call-shopper-desktop.png') });

  // The chat keeps working during the call.
  await e.getByLabel('Message — type / for saved replies').fill('This is the back panel');
  await e.getByRole('button', { name: 'Send', exact: true }).click();
  await s.locator(W('.fw-log >> text=This is the back panel')).waitFor();
  // Controls: mute, camera off and on, switch camera (the expert), mute on the shopper's side.
  await e.locator('[data-call="mute"]').click();
  assert.equal(await e.locator('[data-call="mute"]').getAttribute('aria-pressed'), 'true');
  await e.locator('[data-call="camera"]').click();
  assert.equal(await e.locator('[data-call="camera"]').getAttribute('aria-pressed'), 'true');
  await e.locator('[data-call="camera"]').click();
  await e.locator('[data-call="switch"]').click();
  await s.locator(W('[data-call="mute"]')).click();
  await inCall(s, '.fw-call-stage > video');

  // The shopper ends it: the expert's panel says so; the transcript has the call with its length.
  await s.locator(W('[data-call="end"]')).click();
  await e.locator('.call-panel[data-call-state="ended"]').waitFor({ timeout: 10_000 });
  await e.locator('.transcript .sys').getByText(/Video call · \d+:\d\d/).waitFor({ timeout: 10_000 });
  await s.locator(W('.fw-log .fw-sys >> text=/Video call · \\d+:\\d\\d/')).waitFor();
  await e.locator('.call-panel').getByRole('button', { name: 'Dismiss' }).click();
  await s.locator(W('.fw-call')).getByRole('button', { name: 'Dismiss' }).click();

  // A second call (the hub allows one new call per 10 s): the shopper only watches; the expert
  // ends it.
  await e.waitForTimeout(10_500);
  await e.locator('[data-call="start"]').click();
  await s.locator(W('[data-join="watch"]')).click({ timeout: 15_000 });
  await s.locator(W('.fw-call[data-call-state="connected"]')).waitFor({ timeout: 20_000 });
  await inCall(s, '.fw-call-stage > video');
  await e.locator('[data-call="end"]').click();
  await s.locator(W('.fw-call[data-call-state="ended"]')).waitFor({ timeout: 10_000 });
  assert.equal(await s.locator(W('.fw-log .fw-sys')).filter({ hasText: /Video call · / }).count(), 2);
  assert.deepEqual(s.errors, []);
  await shop.ctx.close();
  await expert.ctx.close();
});

test('Persian right-to-left and dark mode: photo and call on both sides (screenshots)', T, async () => {
  const expert = await expertHome(browser, stack, 'expert3@demo.example');
  const e = expert.page;
  await e.evaluate(() => { localStorage.setItem('fw.app.lang', 'fa'); });
  await e.emulateMedia({ colorScheme: 'dark' });
  await e.reload();
  await e.locator('.shell[data-conn="online"]').waitFor({ timeout: 15_000 });
  const shop = await shopperChat(e, { locale: 'fa-IR', dark: true, viewport: { width: 390, height: 844 }, question: 'آیا این قفسه در ۸۰ سانتی‌متر هست؟' });
  const s = shop.page;
  assert.equal(await e.evaluate(() => document.documentElement.dir), 'rtl');
  await e.locator('input[data-photo="gallery"]').setInputFiles({ name: 'shelf.jpg', mimeType: 'image/jpeg', buffer: await jpegBytes(browser, 640, 480) });
  await imageLoaded(s, '.fw-log .fw-their .fw-photo img');
  await imageLoaded(e, '.transcript .photo-thumb img');
  await e.locator('[data-call="start"]').click();
  const joinBtn = s.locator(W('[data-join="video"]'));
  await joinBtn.waitFor({ timeout: 15_000 });
  assert.match(await s.locator(W('.fw-call-ask')).innerText(), /تصویر|ویدیو/);
  await s.screenshot({ path: join(SHOTS, 'fa-dark-shopper-ringing-phone.png') });
  await joinBtn.click();
  await e.locator('.call-panel[data-call-state="connected"]').waitFor({ timeout: 20_000 });
  await s.locator(W('.fw-call[data-call-state="connected"]')).waitFor({ timeout: 20_000 });
  await inCall(s, '.fw-call-stage > video');
  await e.screenshot({ path: join(SHOTS, 'fa-dark-expert-call-phone.png') });
  await s.screenshot({ path: join(SHOTS, 'fa-dark-shopper-call-phone.png') });
  await e.locator('[data-call="end"]').click();
  await s.locator(W('.fw-call[data-call-state="ended"]')).waitFor({ timeout: 10_000 });
  await e.screenshot({ path: join(SHOTS, 'fa-dark-expert-after-phone.png') });
  await shop.ctx.close();
  await expert.ctx.close();
});
