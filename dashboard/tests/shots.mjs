// Screenshots of every page for a human look: node tests/shots.mjs [outDir]
import { chromium } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { CHROMIUM, CHROMIUM_ARGS, dash, login, startDemoServer } from './helpers.mjs';

const out = process.argv[2] || '/tmp/dash-shots';
mkdirSync(out, { recursive: true });
const only = process.env.SHOTS_ONLY ? process.env.SHOTS_ONLY.split(',') : null;
const fw = await startDemoServer();
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
const pages = ['stores', 'stores/new', 'team', 'settings/display', 'settings/sites', 'settings/routing', 'saved-replies', 'shoppers', 'integrations', 'analytics', 'exports', 'account'];
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
        await page.screenshot({ path: `${out}/${tag}-${p.replace(/\//g, '_')}.png`, fullPage: vp.name !== 'phone' });
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
      for (const p of ['access', 'access/operators', 'demo']) {
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
  await fw.stop();
}
console.log('screenshots in', out);
