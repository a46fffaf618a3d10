// Screenshots of every widget state against the real server, for people to look at:
//   FLOORWALKER_BIN=… node tests/shots.mjs [outdir]     (default /tmp/widget-shots)
import { mkdirSync } from 'node:fs';
import { startServer, launch, Expert, admin, setDisplay, W, sleep, waitFor } from './helpers.mjs';

const out = process.argv[2] || '/tmp/widget-shots';
mkdirSync(out, { recursive: true });
const fw = await startServer();
const browser = await launch();
const api = await admin(fw);
const shot = async (page, name) => {
  await sleep(450);
  await page.screenshot({ path: `${out}/${name}.png` });
  console.log(`${out}/${name}.png`);
};
async function open(path, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await ctx.newPage();
  await page.goto(fw.url + path);
  await page.waitForSelector(W.launcher);
  return { ctx, page };
}
try {
  // Nobody online: offline form.
  let { ctx, page } = await open('/shop/index.html');
  await shot(page, '01-closed');
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget #fw-email');
  await shot(page, '02-offline-form');
  await page.fill('floorwalker-widget #fw-email', 'kim@example');
  await page.click('floorwalker-widget .fw-form button[type=submit]');
  await shot(page, '03-offline-form-error');
  await ctx.close();

  // Open Berlin around the clock too, so the store choice shows, and bring its expert online.
  const stores = await api('GET', '/stores');
  const berlin = stores.items.find((x) => x.name === 'Berlin Mitte');
  const allDay = [{ open: '00:00', close: '24:00' }];
  await api('PATCH', `/stores/${berlin.id}`, { hours: Object.fromEntries(['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'].map((d) => [d, allDay])), exceptions: [] });
  const expert4 = await Expert.connect(fw, 'expert4@demo.example');
  const expert = await Expert.connect(fw);
  const expert2 = await Expert.connect(fw, 'expert2@demo.example');
  await waitFor(async () => (await (await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}`)).json()).stores.every((x) => x.open), { what: 'Berlin open', timeout: 15_000 });
  ({ ctx, page } = await open('/shop/product.html'));
  await page.click(W.launcher);
  await page.waitForSelector(W.question);
  await shot(page, '04-open-store-choice');
  await page.fill(W.question, 'Is the 55" in stock in Stockholm? And does it fit on a wall mount?');
  await page.click(W.start);
  await page.waitForSelector('floorwalker-widget .fw-queue');
  await shot(page, '05-waiting-queue');
  const offer = await expert.claimNext();
  const conv = offer.conversation_id;
  await expert.say(conv, 'Hi! I\'m on the floor right now — yes, we have two left, and it fits any VESA 300×300 mount.');
  await page.fill(W.composer, 'Perfect. Could you hold one for me until tonight?');
  await page.press(W.composer, 'Enter');
  await expert.next((f) => f.type === 'message' && f.message.author.role === 'shopper');
  await expert.say(conv, 'Done! This is the mount I would pick:', { product: { name: 'Nordhem Slim Wall Mount 300', price: 790, currency: 'SEK', url: '/shop/index.html', image_url: '/shop/img/strand-speaker.svg' } });
  expert.send({ type: 'typing', conversation_id: conv, typing: true });
  await page.waitForSelector('floorwalker-widget .fw-typing:not([hidden])');
  await shot(page, '06-chatting');
  await page.click('floorwalker-widget .fw-end');
  await shot(page, '06b-end-confirm');
  await page.click('floorwalker-widget .fw-confirm .fw-text-btn');
  await page.keyboard.press('Escape');
  await expert.say(conv, 'See you tonight!');
  await sleep(300);
  await shot(page, '07-closed-unread');
  await page.reload();
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget .fw-log >> text=See you tonight!');
  await shot(page, '07b-reopened-after-reload');
  expert.send({ type: 'end', conversation_id: conv });
  await page.waitForSelector('floorwalker-widget .fw-stars');
  await page.click('floorwalker-widget label[for=fw-star-4]');
  await shot(page, '08-rating');
  await page.click('floorwalker-widget .fw-rate button[type=submit]');
  await page.waitForSelector('floorwalker-widget .fw-panel >> text=Thank you');
  await shot(page, '09-rated');
  await ctx.close();

  // Persian (RTL) on a phone, and dark mode.
  ({ ctx, page } = await open('/shop/product.html', { viewport: { width: 360, height: 740 }, locale: 'fa-IR', isMobile: true, hasTouch: true }));
  await shot(page, '10-phone-fa-closed');
  await page.click(W.launcher);
  await page.waitForSelector(W.question);
  await shot(page, '11-phone-fa-open');
  await page.fill(W.question, 'آیا این تلویزیون موجود است؟');
  await page.click(W.start);
  const o2 = await expert.claimNext();
  await expert.say(o2.conversation_id, 'سلام! بله، دو عدد در فروشگاه داریم.');
  await page.waitForSelector('floorwalker-widget .fw-log >> text=سلام');
  await shot(page, '12-phone-fa-chat');
  await ctx.close();

  ({ ctx, page } = await open('/shop/index.html', { colorScheme: 'dark', locale: 'de-DE' }));
  await page.click(W.launcher);
  await page.waitForSelector(W.question);
  await shot(page, '13-dark-de-open');
  await page.fill(W.question, 'Gibt es die Kvarn auch in Schwarz?');
  await page.click(W.start);
  const o3 = await expert2.claimNext();
  await expert2.say(o3.conversation_id, 'Ja! In Schwarz und in Edelstahl.');
  await page.waitForSelector('floorwalker-widget .fw-log >> text=Edelstahl');
  await shot(page, '14-dark-de-chat');
  await ctx.close();

  const display = await api('GET', '/settings/display');
  await setDisplay(fw, api, { ...display, position: 'bottom-left', primary_color: '#ffd400', color_scheme: 'dark', logo_url: '/shop/img/linne-table-lamp.svg' });
  ({ ctx, page } = await open('/shop/index.html', { locale: 'sv-SE' }));
  await shot(page, '15-left-yellow-sv-closed');
  await page.click(W.launcher);
  await page.waitForSelector(W.panel);
  await shot(page, '16-left-yellow-sv-open');
  await ctx.close();
  await setDisplay(fw, api, display);
  expert.close();
  expert2.close();
  expert4.close();
} finally {
  await browser.close();
  await fw.stop();
}
