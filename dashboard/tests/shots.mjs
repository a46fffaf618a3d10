// Screenshots of every page for a human look: node tests/shots.mjs [outDir]
import { chromium } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { apiKey, CHROMIUM, CHROMIUM_ARGS, dash, demoStores, Expert, fullChat, login, reportOrder, session, Shopper, startDemoServer } from './helpers.mjs';

const out = process.argv[2] || '/tmp/dash-shots';
mkdirSync(out, { recursive: true });
const only = process.env.SHOTS_ONLY ? process.env.SHOTS_ONLY.split(',') : null;
const fw = await startDemoServer();
const seeded = await seed(fw);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
const pages = ['stores', 'stores/new', 'team', 'settings/display', 'settings/sites', 'settings/routing', 'saved-replies', 'shoppers', 'integrations', 'analytics?range=today', 'analytics?range=7d', 'exports', 'account'];
const viewports = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'tablet', width: 820, height: 1180 },
  { name: 'phone', width: 390, height: 844 },
];
try {
  for (const vp of viewports) {
    for (const [lang, scheme] of [['en', 'light'], ['fa', 'light'], ['en', 'dark']]) {
      if (vp.name !== 'desktop' && scheme === 'dark') continue;
      const tag = `${vp.name}-${lang}-${scheme}`;
      if (only && !only.some((o) => tag.includes(o))) continue;
      const ctx = await browser.newContext({ viewport: vp, colorScheme: scheme, locale: lang });
      const page = await ctx.newPage();
      await page.addInitScript((l) => localStorage.setItem('fw.dashboard.lang', l), lang);
      await page.goto(dash(fw));
      await page.screenshot({ path: `${out}/${tag}-login.png` });
      await login(page, fw, 'admin@demo.example');
      for (const p of pages) {
        await page.goto(dash(fw) + '#/' + p);
        await page.waitForTimeout(400);
        await page.screenshot({ path: `${out}/${tag}-${p.replace(/[/?=]/g, '_')}.png`, fullPage: vp.name !== 'phone' });
      }
      // analytics: a chart as a table; exports after a download; a shopper's journey
      await page.goto(dash(fw) + '#/analytics?range=today');
      await page.locator('figure.chart button').first().click();
      await page.waitForTimeout(300);
      await page.screenshot({ path: `${out}/${tag}-analytics-table.png`, fullPage: vp.name !== 'phone' });
      if (vp.name === 'phone') {
        // Full-page shots of RTL phones include the off-screen drawer; take the sections instead.
        const sections = ['.live-strip', '.filters-card', '.kpi-section', 'section:has(.charts)', 'section:has(#experts-title)', 'section:has(#stores-title)'];
        for (const [k, sel] of sections.entries()) {
          await page.locator(sel).first().evaluate((el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 64));
          await page.waitForTimeout(150);
          await page.screenshot({ path: `${out}/${tag}-analytics-part${k + 1}.png` });
        }
      }
      await page.goto(dash(fw) + '#/exports?kind=transcripts&range=today');
      await page.locator('.export-form button[type=submit]').click();
      await page.locator('.export-progress').waitFor();
      await page.waitForTimeout(500);
      await page.screenshot({ path: `${out}/${tag}-exports-done.png`, fullPage: vp.name !== 'phone' });
      if (seeded.shopperId) {
        await page.goto(dash(fw) + '#/shoppers');
        await page.locator('#f-shopper-id').fill(seeded.shopperId);
        await page.locator('form.lookup button[type=submit]').click();
        await page.locator('#journey-title').waitFor();
        await page.waitForTimeout(300);
        await page.screenshot({ path: `${out}/${tag}-shopper-journey.png`, fullPage: true });
      }
      // first store and first expert detail
      await page.goto(dash(fw) + '#/stores');
      await page.locator('.store-card h2 a').first().click();
      await page.waitForTimeout(400);
      await page.screenshot({ path: `${out}/${tag}-store-edit.png`, fullPage: true });
      await page.goto(dash(fw) + '#/team');
      await page.locator('table a').first().click();
      await page.waitForTimeout(400);
      await page.screenshot({ path: `${out}/${tag}-expert.png`, fullPage: true });
      // dialogs: API key secret, and a store form with a server error
      await page.goto(dash(fw) + '#/integrations');
      await page.locator('.page-actions button').click();
      await page.locator('dialog input').first().fill('Order webhook');
      await page.locator('dialog .btn-primary').first().click();
      await page.locator('#new-secret').waitFor();
      await page.waitForTimeout(300);
      await page.screenshot({ path: `${out}/${tag}-dialog-secret.png` });
      await page.keyboard.press('Escape');
      await page.goto(dash(fw) + '#/stores');
      await page.locator('.store-card h2 a').last().click();
      await page.locator('#f-hours-monday-0-open').fill('19:00');
      await page.locator('form .sticky-actions .btn-primary').click();
      await page.locator('.alert-error').first().waitFor();
      await page.waitForTimeout(300);
      await page.screenshot({ path: `${out}/${tag}-store-error.png` });
      if (vp.name !== 'desktop') {
        await page.locator('.menu-btn').click();
        await page.waitForTimeout(300);
        await page.screenshot({ path: `${out}/${tag}-menu.png` });
      }
      await ctx.close();
      const octx = await browser.newContext({ viewport: vp, colorScheme: scheme, locale: lang });
      const op = await octx.newPage();
      await op.addInitScript((l) => localStorage.setItem('fw.dashboard.lang', l), lang);
      await login(op, fw, 'operator@demo.example');
      for (const p of ['access', 'access/operators', 'demo', 'demo/new', ...(seeded.demoId ? ['demo/' + seeded.demoId] : [])]) {
        await op.goto(dash(fw) + '#/' + p);
        await op.waitForTimeout(400);
        await op.screenshot({ path: `${out}/${tag}-op-${p.replace(/\//g, '_')}.png`, fullPage: true });
      }
      await op.goto(dash(fw) + '#/access');
      await op.locator('table a').first().click();
      await op.waitForTimeout(400);
      await op.screenshot({ path: `${out}/${tag}-op-merchant.png`, fullPage: true });
      await octx.close();
    }
  }
} finally {
  await browser.close();
  for (const e of seeded.experts) e.close();
  await fw.stop();
}
console.log('screenshots in', out);

/** Real activity for the pages to show: chats, ratings, orders, page views, API calls and a demo. */
async function seed(fw) {
  const admin = await session(fw, 'admin@demo.example');
  const stores = await demoStores(admin);
  const s = stores['Stockholm Flagship'];
  const experts = [await Expert.connect(fw, 'expert1@demo.example'), await Expert.connect(fw, 'expert3@demo.example')];
  const secret = await apiKey(admin, 'Shop orders');
  const out = { experts, shopperId: null, demoId: null };
  const depts = Object.values(s.dept);
  const amounts = ['129.90', '899.00', '49.50', '1299.00'];
  for (let i = 0; i < 6; i++) {
    const shopper = await Shopper.connect(fw);
    shopper.viewed('https://shop.example/tv', 'TVs – Nordhem');
    shopper.viewed('https://shop.example/tv/oled-55', 'OLED 55" – Nordhem', { id: 'oled-55', name: 'OLED 55"', price: 1299, currency: 'EUR' });
    try {
      await fullChat(fw, experts[i % 2], { store_id: s.id, department_id: depts[i % depts.length], rating: [5, 4, 5, 3, 5, 4][i], shopper, text: 'Is the OLED 55" in stock?' });
      if (i < amounts.length) await reportOrder(fw, secret, { order_id: `S-${1000 + i}`, shopper_id: shopper.id, amount: amounts[i], currency: 'EUR', status: 'paid' });
    } catch (e) { console.warn('seeding:', e.message); }
    out.shopperId ??= shopper.id;
    shopper.close();
  }
  for (const path of ['/stores', '/orders/NOPE-1', '/stores?limit=1']) await fetch(fw.url + '/api/v1' + path, { headers: { authorization: 'Bearer ' + secret } });
  try {
    const op = await session(fw, 'operator@demo.example');
    const d = await op('POST', '/demos', { prospect_name: 'Kvarnby Möbler', website: 'https://kvarnby.example', merchant_id: fw.merchantId,
      store_id: s.id, primary_color: '#c2185b', background_color: '#fdf6ec', greeting: 'Hej! Välkommen till Kvarnby.' });
    out.demoId = d.id;
  } catch (e) { console.warn('no demo:', e.message.slice(0, 120)); }
  return out;
}
