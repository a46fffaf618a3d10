// The widget's photo and call pieces in real Chromium against the real server (issue 24,
// part 1): the attach button only where the merchant allows shopper photos; a shopper's photo
// and the expert's photo inline, full size on click; "photo removed after N days" (Persian
// digits too); a camera refused by the browser explained plainly, with "just watch" still
// possible. Call signals are carried by the test (the chat will carry them).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, Expert, startServer } from './helpers.mjs';
import { FAKE_MEDIA_ARGS, buildLabs, framesPresented, jpegBytes, openStoreLab, openWidgetLab, relaySignals } from '../../testing/media-lab.mjs';
import WebSocket from 'ws';

let fw, browser, labs;

before(async () => {
  fw = await startServer();
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: [...CHROMIUM_ARGS, ...FAKE_MEDIA_ARGS] });
  labs = await buildLabs(esbuild);
});

after(async () => {
  await browser?.close();
  await fw?.stop();
});

async function adminCookie() {
  const r = await fetch(`${fw.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@demo.example', password: fw.password }) });
  const body = await r.json();
  return { cookie: r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; '), csrf: body.csrf_token };
}

async function photoSettings(shopper_uploads) {
  const a = await adminCookie();
  const r = await fetch(`${fw.url}/api/v1/settings/attachments`, { method: 'PUT', headers: { 'content-type': 'application/json', cookie: a.cookie, 'x-csrf-token': a.csrf }, body: JSON.stringify({ shopper_uploads, retention_days: 30 }) });
  assert.equal(r.status, 200);
}

/** A shopper (over the protocol) in a chat the expert claimed. */
async function claimedChat(expert) {
  const ws = new WebSocket(`${fw.url.replace(/^http/, 'ws')}/ws/shopper?merchant=${fw.merchantId}&v=1`);
  const frames = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
  const next = async (pred) => {
    for (let i = 0; i < 200; i++) { const f = frames.find(pred); if (f) return f; await new Promise((r) => setTimeout(r, 50)); }
    throw new Error('no shopper frame');
  };
  ws.send(JSON.stringify({ type: 'hello' }));
  const welcome = await next((f) => f.type === 'welcome');
  ws.send(JSON.stringify({ type: 'request_chat', text: 'Does it come in oak?', client_msg_id: 'q1' }));
  const conv = (await next((f) => f.type === 'conversation')).conversation;
  const offer = await expert.claimNext((o) => o.conversation_id === conv.id);
  return { conv, token: welcome.token, offer, close: () => ws.close() };
}

test('the attach button shows only where shopper photos are allowed; the shopper\'s photo and the expert\'s show inline and open full size', async () => {
  const expert = await Expert.connect(fw);
  const chat = await claimedChat(expert);
  const login = await (await fetch(`${fw.url}/api/v1/app/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'expert1@demo.example', password: fw.password }) })).json();
  const jpeg = await jpegBytes(browser, 800, 600);
  const up = await fetch(`${fw.url}/api/v1/app/conversations/${chat.conv.id}/attachments`, { method: 'POST', headers: { authorization: `Bearer ${login.token}`, 'idempotency-key': 'w1' }, body: jpeg });
  assert.equal(up.status, 201);
  const expertPhoto = await up.json();
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  try {
    await photoSettings(false);
    let page = await openWidgetLab(ctx, fw.url, labs.widget, { merchant: fw.merchantId, token: chat.token, conversation: chat.conv.id });
    const off = await page.evaluate(() => window.__lab.init());
    assert.equal(off.photos, false);
    assert.equal(await page.locator('input[data-photo=gallery]').count(), 0, 'no attach button while the merchant does not allow it');
    await page.close();

    await photoSettings(true);
    page = await openWidgetLab(ctx, fw.url, labs.widget, { merchant: fw.merchantId, token: chat.token, conversation: chat.conv.id });
    assert.equal((await page.evaluate(() => window.__lab.init())).photos, true);
    await page.locator('input[data-photo=gallery]').setInputFiles({ name: 'wall.jpg', mimeType: 'image/jpeg', buffer: jpeg });
    await page.waitForFunction(() => {
      const img = window.__lab.shadow.querySelector('.fw-photo img');
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: 15_000 });
    assert.equal(await page.evaluate(() => window.__lab.sent[0].uploaded_by), 'shopper');
    // The expert's photo, with the shopper's own signed URLs.
    const shown = await page.evaluate((id) => window.__lab.showAttachment(id), expertPhoto.id);
    assert.match(shown.urls.thumb, /aud=s\./);
    await page.waitForFunction(() => {
      const imgs = [...window.__lab.shadow.querySelectorAll('.fw-photo img')];
      return imgs.length === 2 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    });
    await page.locator(`[data-photo="${expertPhoto.id}"]`).click();
    await page.waitForFunction(() => { const i = window.__lab.shadow.querySelector('.fw-viewer img'); return i && i.complete && i.naturalWidth > 0; });
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !window.__lab.shadow.querySelector('.fw-viewer'));
    // A photo retention removed.
    await page.evaluate((a) => window.__lab.showView({ ...a, id: 'gone', status: 'removed', urls: null, removed_after_days: 30 }), expertPhoto);
    assert.equal(await page.locator('[data-photo-removed=gone]').innerText(), 'Photo removed after 30 days');
    await page.close();
    page = await openWidgetLab(ctx, fw.url, labs.widget, { merchant: fw.merchantId, token: chat.token, conversation: chat.conv.id, lang: 'fa' });
    await page.evaluate((a) => window.__lab.showView({ ...a, id: 'gone', status: 'removed', urls: null, removed_after_days: 30 }), expertPhoto);
    assert.equal(await page.locator('[data-photo-removed=gone]').innerText(), 'عکس پس از ۳۰ روز حذف شد');
    assert.deepEqual(page.errors ?? [], []);
  } finally {
    await ctx.close();
    chat.close();
    expert.close();
  }
});

test('a camera the browser refuses is explained plainly, and the shopper can still watch the expert', async () => {
  const expert = await Expert.connect(fw, 'expert2@demo.example');
  const chat = await claimedChat(expert);
  const login = await (await fetch(`${fw.url}/api/v1/app/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'expert2@demo.example', password: fw.password }) })).json();
  // The shopper's browser has a camera but no automatic "allow": the request is refused.
  const refusing = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: [...CHROMIUM_ARGS, '--use-fake-device-for-media-stream', '--deny-permission-prompts'] });
  const ectx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const sctx = await refusing.newContext({ viewport: { width: 390, height: 844 } });
  try {
    const ep = await openStoreLab(ectx, fw.url, labs.store, login.token, { conversation: chat.conv.id });
    const sp = await openWidgetLab(sctx, fw.url, labs.widget, { merchant: fw.merchantId, token: chat.token, conversation: chat.conv.id });
    await sp.evaluate(() => window.__lab.init());
    await relaySignals(ep, sp);
    await sp.evaluate(() => window.__lab.answer('refused-1'));
    await ep.evaluate(() => window.__lab.startCall('refused-1'));
    await sp.locator('[data-join=video]').click();
    const problem = sp.locator('[data-call-error=permission-denied]');
    await problem.waitFor({ timeout: 15_000 });
    assert.match(await problem.innerText(), /Camera and microphone are blocked/);
    assert.match(await problem.innerText(), /allow them for this site/i);
    await sp.locator('[data-call-error] [data-join=watch]').click();
    await sp.locator('.fw-call[data-call-state=connected]').waitFor({ timeout: 20_000 });
    assert.ok(await framesPresented(sp, '.fw-call-stage > video') > 3, 'watching: the expert\'s video plays');
    assert.equal(await sp.evaluate(() => window.__lab.call.localStream.getTracks().length), 0, 'nothing is sent while watching');
    await ep.locator('[data-call=end]').click();
    await sp.locator('.fw-call[data-call-state=ended]').waitFor();
  } finally {
    await ectx.close();
    await sctx.close();
    await refusing.close();
    chat.close();
    expert.close();
  }
});
