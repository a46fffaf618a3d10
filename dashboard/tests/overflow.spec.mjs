import { test, expect } from '@playwright/test';
import { dash, login, startDemoServer } from './helpers.mjs';

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

const PAGES = ['stores', 'stores/new', 'team', 'settings/display', 'settings/sites', 'settings/routing',
  'saved-replies', 'shoppers', 'integrations', 'analytics', 'exports', 'account'];

// Nothing may make the page scroll sideways: desktop, tablet and a 390 px phone, LTR and RTL.
for (const [width, height] of [[1280, 800], [820, 1180], [390, 844]]) {
  for (const lang of ['en', 'fa']) {
    test(`no horizontal overflow at ${width}px (${lang})`, async ({ page }) => {
      await page.setViewportSize({ width, height });
      await login(page, fw, 'admin@demo.example', { lang });
      for (const p of PAGES) {
        await page.goto(dash(fw) + '#/' + p);
        await page.locator('main h1').waitFor();
        await expect(page.locator('.loading')).toHaveCount(0);
        const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
        expect(scrollWidth, `${p} at ${width}px`).toBeLessThanOrEqual(width);
      }
    });
  }
}
