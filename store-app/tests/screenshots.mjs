// Screenshots of every screen at phone width into $SHOTS_DIR (default /tmp/app-shots).
// Not part of `npm test`; run with `npm run shots` and look at them.
import { mkdirSync } from 'node:fs';
import { admin, expertToken, launch, openSignedIn, phone, shopper, startStack, stockholm } from './support/harness.mjs';

const dir = process.env.SHOTS_DIR || '/tmp/app-shots';
mkdirSync(dir, { recursive: true });
const stack = await startStack();
const browser = await launch();
const place = await stockholm(stack.base, stack.password);
const shot = (page, name) => page.screenshot({ path: `${dir}/${name}.png` });
const lang = process.env.SHOTS_LANG;
const scheme = process.env.SHOTS_SCHEME || 'light';
const suffix = `${lang ? `-${lang}` : ''}${scheme === 'dark' ? '-dark' : ''}`;

try {
  // Auth screens.
  {
    const { ctx, page } = await phone(browser, { colorScheme: scheme });
    if (lang) await ctx.addInitScript((l) => localStorage.setItem('fw.app.lang', l), lang);
    await page.goto(stack.app);
    await page.locator('.auth').waitFor();
    await shot(page, `01-login${suffix}`);
    await page.locator('.switch-auth button').click();
    await page.locator('input[name=invite_code]').waitFor();
    await page.locator('input[name=invite_code]').fill('wrong');
    await page.locator('button[type=submit]').click();
    await page.waitForTimeout(600);
    await shot(page, `02-signup${suffix}`);
    const a = await admin(stack.base, stack.password);
    const code = (await a.get('/api/v1/team/invite-code')).data.invite_code;
    await page.locator('input[name=invite_code]').fill(code);
    await page.locator('input[name=name]').fill('Nora Nyström');
    await page.locator('input[name=email]').fill(`nora${Date.now()}@demo.example`);
    await page.locator('input[name=password]').fill('a-long-password');
    await page.locator('button[type=submit]').click();
    await page.locator('.waiting').waitFor();
    await shot(page, `03-waiting${suffix}`);
    await ctx.close();
  }
  // Signed in: home, offer, chat, sheets.
  const token = await expertToken(stack.base, 'expert1@demo.example', stack.password);
  const p = await openSignedIn(browser, stack.app, token);
  const { page, ctx } = p;
  await page.emulateMedia({ colorScheme: scheme });
  if (lang) { await page.evaluate((l) => localStorage.setItem('fw.app.lang', l), lang); await page.reload(); }
  await page.locator('.shell[data-conn="online"]').waitFor();
  await page.evaluate(() => localStorage.removeItem('fw.app.notifyAsked'));
  await page.reload();
  await page.locator('.shell[data-conn="online"]').waitFor();
  await shot(page, `04-home-empty${suffix}`);
  const s = await shopper(stack.base, stack.merchantId);
  // The pages the shopper looked at before asking (the offer and the shopper info show them).
  for (const c of [
    { page_url: 'https://shop.example/', page_title: 'Nordhem Home & Electronics' },
    { page_url: 'https://shop.example/tv', page_title: 'TVs — 4K, OLED and QLED televisions' },
    { page_url: 'https://shop.example/tv/wall-mounts', page_title: 'Wall mounts' },
    { page_url: 'https://shop.example/tv/sony-bravia-55', page_title: 'Sony Bravia 55" 4K Google TV (2025) — Nordhem', product: { name: 'Sony Bravia 55" 4K', price: 9990, currency: 'SEK', url: 'https://shop.example/tv/55' } },
  ]) { s.send({ type: 'context', ...c }); await new Promise((r) => setTimeout(r, 50)); }
  await new Promise((r) => setTimeout(r, 1200)); // page views are written off the request path
  s.send({ type: 'request_chat', store_id: place.store.id, department_id: place.department.id, page_url: 'https://shop.example/tv/sony-bravia-55', product: { name: 'Sony Bravia 55" 4K', price: 9990, currency: 'SEK', url: 'https://shop.example/tv/55' }, text: 'Hi! Is the 55" Bravia in stock in Stockholm?', client_msg_id: 'a1' });
  const conv = (await s.waitFor((f) => f.type === 'conversation')).conversation;
  const s2 = await shopper(stack.base, stack.merchantId);
  s2.send({ type: 'request_chat', store_id: place.store.id, department_id: place.store.departments[1].id, text: 'Do you have cast-iron pans?', client_msg_id: 'b1' });
  await page.locator(`[data-offer="${conv.id}"]`).waitFor();
  await page.waitForTimeout(2500);
  await shot(page, `05-home-offers${suffix}`);
  await page.setViewportSize({ width: 360, height: 740 });
  await page.waitForTimeout(300);
  await shot(page, `05b-home-offers-360${suffix}`);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator('.avail-bar .icon-btn').click();
  await page.locator('dialog.sheet').waitFor();
  await page.waitForTimeout(300);
  await shot(page, `06-availability${suffix}`);
  await page.keyboard.press('Escape');
  await page.locator(`[data-offer="${conv.id}"] button.claim`).click();
  await page.locator('.transcript').waitFor();
  s.send({ type: 'send', conversation_id: conv.id, client_msg_id: 'a2', body: 'I would need it delivered by Friday.' });
  await page.waitForTimeout(800);
  await page.locator('#composer-input').fill('Let me check the shelf for you!');
  await page.locator('.composer .send').click();
  await page.waitForTimeout(500);
  s.send({ type: 'read', conversation_id: conv.id, seq: 5 });
  s.send({ type: 'typing', conversation_id: conv.id, typing: true });
  await page.waitForTimeout(500);
  await shot(page, `07-chat${suffix}`);
  await page.locator('#composer-input').fill('/');
  await page.locator('dialog.sheet').waitFor();
  await page.waitForTimeout(600);
  await shot(page, `08-saved-replies${suffix}`);
  await page.keyboard.press('Escape');
  await page.locator('.composer .icon-btn').nth(1).click();
  await page.locator('dialog.sheet').waitFor();
  await page.locator('input[name=product_name]').fill('Sony Bravia 55" 4K');
  await page.locator('input[name=price]').fill('9990');
  await page.locator('input[name=currency]').fill('SEK');
  await page.locator('input[name=url]').fill('https://shop.example/tv/55');
  await shot(page, `09-product${suffix}`);
  await page.locator('dialog.sheet button[type=submit]').click();
  await page.waitForTimeout(600);
  await page.locator('.chat-head .icon-btn').last().click();
  await page.locator('dialog.sheet').waitFor();
  await page.waitForTimeout(400);
  await shot(page, `10-more${suffix}`);
  // Transfer: the third button (after Shopper info and E-mail the transcript, before End chat).
  await page.locator('dialog.sheet .btn').nth(2).click();
  await page.locator('dialog.sheet input[type=radio]').first().waitFor();
  await page.locator('dialog.sheet input[type=radio]').first().check();
  await page.locator('dialog.sheet textarea').fill('Wants a wall mount too');
  await shot(page, `11-transfer${suffix}`);
  await page.keyboard.press('Escape');
  await page.locator('.chat-head .icon-btn').nth(-2).click(); // info (before More; after back and the video call)
  await page.locator('dialog.sheet').waitFor();
  await page.waitForTimeout(600);
  await shot(page, `12-info-journey${suffix}`);
  await page.keyboard.press('Escape');
  await shot(page, `13-chat-product${suffix}`);
  await ctx.setOffline(true);
  await page.waitForTimeout(500);
  await page.locator('#composer-input').fill('Sent while offline');
  await page.locator('.composer .send').click();
  await page.waitForTimeout(300);
  await shot(page, `14-reconnecting${suffix}`);
  await ctx.setOffline(false);
  await page.locator('.chat-wrap[data-conn="online"]').waitFor();
  await page.locator('.chat-head .icon-btn').first().click();
  await page.waitForTimeout(500);
  await shot(page, `15-home-chats${suffix}`);
  await page.locator('.tab').nth(1).click();
  await page.waitForTimeout(800);
  await shot(page, `16-contacts${suffix}`);
  await page.locator('.chat-row').first().click().catch(() => {});
  await page.waitForTimeout(800);
  await shot(page, `17-contact-history${suffix}`);
  await page.keyboard.press('Escape');
  await page.locator('.tab').nth(2).click();
  await page.waitForTimeout(300);
  await shot(page, `18-profile${suffix}`);
  await page.setViewportSize({ width: 360, height: 640 });
  await page.locator('.tab').nth(0).click();
  await page.waitForTimeout(300);
  await shot(page, `19-home-360${suffix}`);
  await page.setViewportSize({ width: 820, height: 1180 });
  await page.waitForTimeout(300);
  await shot(page, `20-tablet${suffix}`);
  s.close(); s2.close();
  // A server newer than this app closes its socket with 4426: the app stops and says so.
  {
    const f = await phone(browser, { colorScheme: scheme });
    await f.ctx.routeWebSocket(/\/ws\/expert/, (ws) => { ws.onMessage(() => ws.close({ code: 4426, reason: 'unsupported protocol version' })); });
    await f.ctx.addInitScript(([tk, l]) => {
      localStorage.setItem('fw.app.token', tk);
      localStorage.setItem('fw.app.notifyAsked', '1');
      if (l) localStorage.setItem('fw.app.lang', l);
    }, [token, lang || '']);
    await f.page.goto(stack.app);
    await f.page.locator('.shell[data-conn="failed"]').waitFor();
    await shot(f.page, `21-needs-update${suffix}`);
    await f.ctx.close();
  }
} finally {
  await browser.close();
  await stack.stop();
}
console.log(`screenshots in ${dir}`);
