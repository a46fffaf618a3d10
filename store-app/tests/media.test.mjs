// Photos and video calls in real Chromium against the real server (issue 24, part 1): the
// store app's photo buttons and upload tray, a retry that stores the photo once, the thumbnail
// and full size; a video call between the store app's call panel and the widget's call view
// with Chromium's fake camera, both sides decoding the other's frames, controls, and hanging up
// from either side. The call's signals are carried by the test (the chat will carry them).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { expertToken, shopper, startStack, stockholm } from './support/harness.mjs';
import { FAKE_MEDIA_ARGS, buildLabs, framesPresented, jpegBytes, openStoreLab, openWidgetLab, relaySignals } from '../../testing/media-lab.mjs';

let stack, browser, labs, place;

before(async () => {
  stack = await startStack();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run', ...FAKE_MEDIA_ARGS],
  });
  labs = await buildLabs(esbuild);
  place = await stockholm(stack.base, stack.password);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const phoneCtx = () => browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, serviceWorkers: 'block' });

/** A claimed chat: the shopper (over the protocol, with its token) and the expert's token. */
async function claimedChat(email = 'expert1@demo.example') {
  const token = await expertToken(stack.base, email, stack.password);
  const ws = new WebSocket(`${stack.base.replace(/^http/, 'ws')}/ws/expert?v=1`);
  const frames = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
  const next = async (pred) => {
    for (let i = 0; i < 200; i++) {
      const f = frames.find(pred);
      if (f) return f;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no expert frame; got ${frames.map((f) => f.type)}`);
  };
  ws.send(JSON.stringify({ type: 'hello', token }));
  await next((f) => f.type === 'welcome');
  ws.send(JSON.stringify({ type: 'set_status', available: true }));
  const s = await shopper(stack.base, stack.merchantId);
  s.send({ type: 'hello' });
  const welcome = await s.waitFor((f) => f.type === 'welcome');
  s.send({ type: 'request_chat', store_id: place.store.id, department_id: place.department.id, text: 'Will this shelf fit my wall?', client_msg_id: 'q1' });
  const conv = (await s.waitFor((f) => f.type === 'conversation')).conversation;
  await next((f) => f.type === 'offer' && f.offer.conversation_id === conv.id);
  ws.send(JSON.stringify({ type: 'claim', conversation_id: conv.id }));
  await next((f) => f.type === 'conversation' && f.conversation.id === conv.id && f.conversation.status === 'claimed');
  return { token, conv, shopperToken: welcome.token, close() { ws.close(); s.close(); } };
}

test('an expert sends a photo from a phone: camera input, progress, a lost answer retried and stored once, thumbnail and full size', async () => {
  const chat = await claimedChat();
  const ctx = await phoneCtx();
  try {
    const page = await openStoreLab(ctx, stack.base, labs.store, chat.token, { conversation: chat.conv.id });
    const camera = page.locator('input[data-photo=camera]');
    assert.equal(await camera.getAttribute('capture'), 'environment', 'one tap opens the back camera on a phone');
    assert.equal(await camera.getAttribute('accept'), 'image/*');
    // The first answer is lost after the server stored the photo: the client retries by itself
    // with the same upload id and gets the same attachment back.
    let first = null;
    await ctx.route('**/api/v1/app/conversations/*/attachments', async (route) => {
      if (first) return route.continue();
      const res = await route.fetch();
      first = { status: res.status(), body: await res.json() };
      await route.abort('connectionreset');
    });
    const jpeg = await jpegBytes(browser, 1600, 1200);
    await camera.setInputFiles({ name: 'IMG_0001.jpg', mimeType: 'image/jpeg', buffer: jpeg });
    await page.locator('[data-upload=waiting]').waitFor({ timeout: 10_000 });
    await page.locator('[data-sent] .photo-thumb img').waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => { const i = document.querySelector('[data-sent] .photo-thumb img'); return i && i.complete && i.naturalWidth > 0; });
    const sent = await page.evaluate(() => window.__lab.sent.map((a) => ({ id: a.id, width: a.width, height: a.height })));
    assert.equal(first.status, 201);
    assert.deepEqual(sent.map((a) => a.id), [first.body.id], 'the retry answered the photo stored by the first try');
    assert.ok(Math.max(sent[0].width, sent[0].height) <= 2048);
    // Full size in a dialog; Escape closes it and gives focus back.
    await page.locator('.photo-thumb').click();
    await page.waitForFunction(() => { const i = document.querySelector('dialog.photo-viewer img'); return i && i.complete && i.naturalWidth > 0; });
    await page.keyboard.press('Escape');
    await page.locator('dialog.photo-viewer').waitFor({ state: 'detached' });
    // A PDF named like a photo: the server's explanation is shown, and no retry is offered.
    await page.locator('input[data-photo=gallery]').setInputFiles({ name: 'invoice.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('%PDF-1.7\n1 0 obj <<>> endobj\n') });
    const failed = page.locator('[data-upload=failed]');
    await failed.waitFor();
    assert.match(await failed.innerText(), /only photos \(JPEG, PNG or WebP\)/);
    assert.equal(await failed.getByRole('button', { name: 'Try again' }).count(), 0);
    assert.deepEqual(page.errors ?? [], []);
  } finally {
    await ctx.close();
    chat.close();
  }
});

test('a video call between the store app and the widget: both decode the other\'s frames; mute, camera off, switch camera; ended from either side', async () => {
  const chat = await claimedChat('expert2@demo.example');
  const ectx = await phoneCtx();
  const sctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const expert = await openStoreLab(ectx, stack.base, labs.store, chat.token, { conversation: chat.conv.id });
    const shopperPage = await openWidgetLab(sctx, stack.base, labs.widget, { merchant: stack.merchantId, token: chat.shopperToken, conversation: chat.conv.id });
    await shopperPage.evaluate(() => window.__lab.init());
    const signals = await relaySignals(expert, shopperPage);

    for (const [callId, endFrom] of [['call-1', 'shopper'], ['call-2', 'expert']]) {
      await shopperPage.evaluate((id) => window.__lab.answer(id), callId);
      await expert.evaluate((id) => window.__lab.startCall(id), callId);
      // The shopper is asked first; camera and microphone are requested only on "Join".
      await shopperPage.locator('[data-call-state=ringing]').waitFor();
      await shopperPage.locator('[data-join=video]').click();
      await expert.locator('.call-panel[data-call-state=connected]').waitFor({ timeout: 20_000 });
      await shopperPage.locator('.fw-call[data-call-state=connected]').waitFor({ timeout: 20_000 });
      // Frames actually decoded on both sides, not just a <video> present.
      for (const [who, page] of [['expert', expert], ['shopper', shopperPage]]) {
        let decoded = 0;
        for (let i = 0; i < 100 && decoded === 0; i++) {
          decoded = await page.evaluate(() => window.__lab.call.framesDecoded());
          if (!decoded) await page.waitForTimeout(100);
        }
        assert.ok(decoded > 0, `${who} decoded the other side's video`);
      }
      assert.ok(await framesPresented(expert, '.call-stage > video') > 3, 'the expert sees the shopper move');
      assert.ok(await framesPresented(shopperPage, '.fw-call-stage > video') > 3, 'the shopper sees the expert move');

      if (callId === 'call-1') {
        // Mute: the expert's microphone track stops sending.
        await expert.locator('[data-call=mute]').click();
        assert.equal(await expert.evaluate(() => window.__lab.call.localStream.getAudioTracks()[0].enabled), false);
        assert.equal(await expert.locator('[data-call=mute]').getAttribute('aria-pressed'), 'true');
        await expert.locator('[data-call=mute]').click();
        // Camera off lets the camera go; on again, the shopper keeps receiving new frames.
        await expert.locator('[data-call=camera]').click();
        await expert.waitForFunction(() => window.__lab.call.cameraOff && window.__lab.call.localStream.getVideoTracks().length === 0);
        await expert.locator('[data-call=camera]').click();
        await expert.waitForFunction(() => !window.__lab.call.cameraOff);
        const before = await shopperPage.evaluate(() => window.__lab.call.framesDecoded());
        await shopperPage.waitForTimeout(800);
        assert.ok(await shopperPage.evaluate(() => window.__lab.call.framesDecoded()) > before, 'video flows again after camera on');
        // Switch to the back camera (to show the product).
        await expert.locator('[data-call=switch]').click();
        await expert.waitForFunction(() => window.__lab.call.facing === 'environment');
        const live = await expert.evaluate(() => window.__lab.call.localStream.getVideoTracks().filter((t) => t.readyState === 'live').length);
        assert.equal(live, 1, 'one camera at a time');
      }

      if (endFrom === 'shopper') await shopperPage.locator('[data-call=end]').click();
      else await expert.locator('[data-call=end]').click();
      await expert.locator('.call-panel[data-call-state=ended]').waitFor();
      await shopperPage.locator('.fw-call[data-call-state=ended]').waitFor();
      const expertEnded = await expert.evaluate(() => window.__lab.call.endedBy);
      assert.equal(expertEnded, endFrom === 'expert' ? 'local' : 'remote');
      assert.match(await expert.locator('.call-panel').innerText(), /Call ended · \d+:\d\d/);
      // Both let go of the camera and microphone.
      for (const page of [expert, shopperPage]) {
        assert.equal(await page.evaluate(() => window.__lab.call.localStream.getTracks().filter((t) => t.readyState === 'live').length), 0);
      }
      await shopperPage.evaluate(() => { const el = window.__lab.shadow.querySelector('.fw-call'); el?.remove(); });
    }
    assert.ok(signals.some(([d, k]) => d === 'a→b' && k === 'offer') && signals.some(([d, k]) => d === 'b→a' && k === 'answer'));
    assert.deepEqual([...(expert.errors ?? []), ...(shopperPage.errors ?? [])], []);
  } finally {
    await ectx.close();
    await sctx.close();
    chat.close();
  }
});
