// Settings → Photos (issue 24): shopper photos on or off and the retention in days, saved and
// checked; the figures "Photos sent" and "Photos removed" on Analytics; Persian and dark mode.
import { test, expect } from '@playwright/test';
import { dash, login, startDemoServer } from './helpers.mjs';

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

test('photo settings: shopper photos and retention are saved; a bad number is refused next to the field', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/settings/photos');
  await expect(page.getByRole('heading', { name: 'Photos in chats' })).toBeVisible();
  const shoppers = page.getByLabel('Shoppers may send photos');
  const days = page.getByLabel('Keep photos for');
  await expect(shoppers).not.toBeChecked();
  await expect(days).toHaveValue('90');
  await days.fill('0');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(days).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('.field').filter({ has: days })).toContainText('1 to 3650');
  await shoppers.check();
  await days.fill('30');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel('Shoppers may send photos')).toBeChecked();
  await expect(page.getByLabel('Keep photos for')).toHaveValue('30');
  const api = await page.request.get(fw.url + '/api/v1/settings/attachments');
  expect(await api.json()).toEqual({ shopper_uploads: true, retention_days: 30 });
});

test('analytics shows photos sent and removed', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/analytics');
  const kpi = page.locator('[data-kpi=photos]');
  await expect(kpi).toContainText('Photos sent');
  await expect(kpi).toContainText('Photos removed');
});

test('the photos tab in Persian, dark mode, at phone width', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.setViewportSize({ width: 390, height: 844 });
  await login(page, fw, 'admin@demo.example');
  await page.evaluate(() => localStorage.setItem('fw.dashboard.lang', 'fa'));
  await page.goto(dash(fw) + '#/settings/photos');
  await page.reload();
  await expect(page.getByRole('heading', { name: 'عکس در گفتگوها' })).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.dir)).toBe('rtl');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  if (process.env.SHOTS_DIR) await page.screenshot({ path: `${process.env.SHOTS_DIR}/dashboard-photos-fa-dark-phone.png`, fullPage: true });
});
