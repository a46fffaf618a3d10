import { test, expect } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { dash, login, startDemoServer } from './helpers.mjs';

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

const MERCHANT_PAGES = ['stores', 'stores/new', 'team', 'settings/display', 'settings/sites', 'settings/routing',
  'saved-replies', 'shoppers', 'integrations', 'analytics', 'exports', 'account'];

async function expectNoSeriousViolations(page, where) {
  await page.locator('main h1').waitFor();
  await page.waitForLoadState('networkidle');
  await expect(page.locator('.loading')).toHaveCount(0);
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = bad.map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('\n  ')}`).join('\n');
  expect(bad, `${where}\n${report}`).toEqual([]);
}

for (const scheme of ['light', 'dark']) {
  test.describe(`${scheme} mode`, () => {
    test.use({ colorScheme: scheme });

    test('login page', async ({ page }) => {
      await page.goto(dash(fw));
      await expectNoSeriousViolations(page, 'login');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByRole('alert')).toBeVisible();
      await expectNoSeriousViolations(page, 'login with error');
    });

    for (const p of MERCHANT_PAGES) {
      test(`merchant page ${p}`, async ({ page }) => {
        await login(page, fw, 'admin@demo.example');
        await page.goto(dash(fw) + '#/' + p);
        await expectNoSeriousViolations(page, p);
      });
    }

    test('expert, store editor and a dialog with errors', async ({ page }) => {
      await login(page, fw, 'admin@demo.example');
      await page.goto(dash(fw) + '#/team');
      await page.getByRole('link', { name: 'Manage Sara Lind' }).click();
      await expectNoSeriousViolations(page, 'expert');
      await page.goto(dash(fw) + '#/stores');
      await page.getByRole('link', { name: 'Edit Berlin Mitte' }).click();
      await expectNoSeriousViolations(page, 'store edit');
      await page.goto(dash(fw) + '#/saved-replies');
      await page.getByRole('button', { name: 'New saved reply' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
      await expectNoSeriousViolations(page, 'saved reply dialog with errors');
    });

    test('operator pages', async ({ page }) => {
      await login(page, fw, 'operator@demo.example');
      for (const p of ['access', 'access/operators', 'demo', 'demo/new']) {
        await page.goto(dash(fw) + '#/' + p);
        await expectNoSeriousViolations(page, p);
      }
      await page.goto(dash(fw) + '#/access');
      await page.getByRole('link', { name: 'Nordhem Home & Electronics' }).click();
      await expectNoSeriousViolations(page, 'merchant');
      await page.getByRole('button', { name: 'New account' }).click();
      await expectNoSeriousViolations(page, 'new account dialog');
    });
  });
}

test('Persian (RTL) pages have no serious violations', async ({ page }) => {
  await login(page, fw, 'admin@demo.example', { lang: 'fa' });
  await expect(page.locator('html')).toHaveAttribute('dir', 'rtl');
  for (const p of ['stores', 'team', 'settings/display', 'integrations']) {
    await page.goto(dash(fw) + '#/' + p);
    await expectNoSeriousViolations(page, 'fa ' + p);
  }
});

test('keyboard: skip link and tablet menu', async ({ page }) => {
  await page.setViewportSize({ width: 820, height: 1180 });
  await login(page, fw, 'admin@demo.example');
  const menu = page.getByRole('button', { name: 'Open menu' });
  await expect(page.getByRole('link', { name: 'Team' })).toBeHidden();
  await menu.click();
  await expect(page.getByRole('button', { name: 'Close menu' })).toHaveAttribute('aria-expanded', 'true');
  await page.getByRole('link', { name: 'Team' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.locator('main h1')).toHaveText('Team');
  await expect(page.locator('main h1')).toBeFocused();
  await expect(page.getByRole('link', { name: 'Stores' })).toBeHidden();
  await menu.click();
  await page.keyboard.press('Escape');
  await expect(menu).toBeFocused();
  await expect(menu).toHaveAttribute('aria-expanded', 'false');
});
