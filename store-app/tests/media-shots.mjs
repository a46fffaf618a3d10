// Screenshots of the photo and call components (store app and widget benches) at phone and
// desktop size, English and Persian (right to left), light and dark, into $SHOTS_DIR (default
// /tmp/media-shots). Not part of `npm test`: run `node tests/media-shots.mjs` after building
// and look at them.
import { mkdirSync } from 'node:fs';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { expertToken, shopper, startStack, stockholm } from './support/harness.mjs';
import { FAKE_MEDIA_ARGS, buildLabs, jpegBytes, openStoreLab, openWidgetLab, relaySignals } from '../../testing/media-lab.mjs';

const dir = process.env.SHOTS_DIR || '/tmp/media-shots';
mkdirSync(dir, { recursive: true });
const stack = await startStack();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', ...FAKE_MEDIA_ARGS] });
const labs = await buildLabs(esbuild);
const place = await stockholm(stack.base, stack.password);

async function chat(email) {
  const token = await expertToken(stack.base, email, stack.password);
  const ws = new WebSocket(`${stack.base.replace(/^http/, 'ws')}/ws/expert?v=1`);
  const frames = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  await new Promise((ok) => ws.once('open', ok));
  const next = async (pred) => { for (;;) { const f = frames.find(pred); if (f) return f; await new Promise((r) => setTimeout(r, 50)); } };
  ws.send(JSON.stringify({ type: 'hello', token }));
  await next((f) => f.type === 'welcome');
  ws.send(JSON.stringify({ type: 'set_status', available: true }));
  const s = await shopper(stack.base, stack.merchantId);
  s.send({ type: 'hello' });
  const welcome = await s.waitFor((f) => f.type === 'welcome');
  s.send({ type: 'request_chat', store_id: place.store.id, department_id: place.department.id, text: 'Does it fit?', client_msg_id: 'q' });
  const conv = (await s.waitFor((f) => f.type === 'conversation')).conversation;
  await next((f) => f.type === 'offer' && f.offer.conversation_id === conv.id);
  ws.send(JSON.stringify({ type: 'claim', conversation_id: conv.id }));
  await next((f) => f.type === 'conversation' && f.conversation.id === conv.id && f.conversation.status === 'claimed');
  return { token, conv, shopperToken: welcome.token };
}

const jpeg = await jpegBytes(browser, 1200, 900);
const sizes = { phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 }, desktop: { viewport: { width: 1280, height: 800 } } };
let n = 0;
try {
  for (const lang of ['en', 'fa']) {
    for (const scheme of ['light', 'dark']) {
      for (const [size, opts] of Object.entries(sizes)) {
        const c = await chat(`expert${1 + (n++ % 3)}@demo.example`);
        const tag = `${size}-${lang}-${scheme}`;
        // Store app: photos in the transcript, one upload failing, one on its way.
        const ectx = await browser.newContext({ ...opts, colorScheme: scheme, serviceWorkers: 'block' });
        const ep = await openStoreLab(ectx, stack.base, labs.store, c.token, { conversation: c.conv.id, lang });
        await ep.locator('input[data-photo=camera]').setInputFiles({ name: 'a.jpg', mimeType: 'image/jpeg', buffer: jpeg });
        await ep.waitForFunction(() => { const i = document.querySelector('[data-sent] img'); return i && i.complete && i.naturalWidth > 0; });
        await ep.evaluate(() => window.__lab.show([{ ...window.__lab.sent[0], id: 'old', uploaded_by: 'shopper', status: 'removed', urls: null, removed_after_days: 30 }]));
        await ep.locator('input[data-photo=gallery]').setInputFiles({ name: 'x.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('%PDF-1.7 not a photo') });
        await ep.locator('[data-upload=failed]').waitFor();
        await ectx.route('**/attachments', () => { /* held: stays "sending" */ });
        await ep.locator('input[data-photo=gallery]').setInputFiles({ name: 'b.jpg', mimeType: 'image/jpeg', buffer: jpeg });
        await ep.locator('[data-upload=uploading]').waitFor();
        await ep.waitForTimeout(300);
        await ep.screenshot({ path: `${dir}/app-photos-${tag}.png` });
        await ep.locator('.photo-thumb').first().click();
        await ep.waitForFunction(() => { const i = document.querySelector('dialog.photo-viewer img'); return i && i.complete && i.naturalWidth > 0; });
        await ep.screenshot({ path: `${dir}/app-viewer-${tag}.png` });
        await ep.keyboard.press('Escape');
        // The call: shopper ringing, then both connected.
        const sctx = await browser.newContext({ ...opts, colorScheme: scheme });
        const sp = await openWidgetLab(sctx, stack.base, labs.widget, { merchant: stack.merchantId, token: c.shopperToken, conversation: c.conv.id, lang, dark: scheme === 'dark' });
        await sp.evaluate(() => window.__lab.init());
        await relaySignals(ep, sp);
        await sp.evaluate(() => window.__lab.answer('shot'));
        await ep.evaluate(() => window.__lab.startCall('shot'));
        await sp.locator('[data-call-state=ringing]').waitFor();
        await sp.evaluate((id) => window.__lab.showAttachment(id), await ep.evaluate(() => window.__lab.sent[0].id));
        await sp.waitForTimeout(500);
        await sp.screenshot({ path: `${dir}/widget-ringing-${tag}.png` });
        await sp.locator('[data-join=video]').click();
        await ep.locator('.call-panel[data-call-state=connected]').waitFor({ timeout: 20_000 });
        await sp.locator('.fw-call[data-call-state=connected]').waitFor({ timeout: 20_000 });
        await ep.locator('[data-call=mute]').click();
        await ep.waitForTimeout(1500);
        await ep.screenshot({ path: `${dir}/app-call-${tag}.png` });
        await sp.screenshot({ path: `${dir}/widget-call-${tag}.png` });
        await ep.locator('[data-call=end]').click();
        await ep.locator('.call-panel[data-call-state=ended]').waitFor();
        await ep.screenshot({ path: `${dir}/app-call-ended-${tag}.png` });
        await ectx.close();
        await sctx.close();
      }
    }
  }
  // A refused camera, in the widget (phone, English and Persian).
  const refusing = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream', '--deny-permission-prompts'] });
  for (const lang of ['en', 'fa']) {
    const c = await chat('expert1@demo.example');
    const ectx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const ep = await openStoreLab(ectx, stack.base, labs.store, c.token, { conversation: c.conv.id });
    const sctx = await refusing.newContext({ ...sizes.phone });
    const sp = await openWidgetLab(sctx, stack.base, labs.widget, { merchant: stack.merchantId, token: c.shopperToken, conversation: c.conv.id, lang });
    await sp.evaluate(() => window.__lab.init());
    await relaySignals(ep, sp);
    await sp.evaluate(() => window.__lab.answer('refused'));
    await ep.evaluate(() => window.__lab.startCall('refused'));
    await sp.locator('[data-join=video]').click();
    await sp.locator('[data-call-error]').waitFor();
    await sp.screenshot({ path: `${dir}/widget-refused-phone-${lang}.png` });
    await ectx.close();
    await sctx.close();
  }
  await refusing.close();
  console.log(`screenshots in ${dir}`);
} finally {
  await browser.close();
  await stack.stop();
}
