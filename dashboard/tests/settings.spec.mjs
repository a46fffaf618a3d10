import { test, expect } from '@playwright/test';
import { dash, login, startDemoServer } from './helpers.mjs';

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

test('edit display settings; they persist', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/settings');
  await expect(page.locator('main h1')).toHaveText('Settings');
  await page.getByLabel('Brand name').fill('Nordhem Test');
  await page.getByLabel('Main colour', { exact: true }).fill('#aa3300');
  await page.getByLabel('Bottom left').check();
  await page.getByLabel('During opening hours').check();
  await page.getByLabel('Pages without chat').fill('/checkout*\n/account/*');
  await page.getByLabel('Čeština', { exact: true }).uncheck();
  await page.getByLabel('Greeting: Ελληνικά').fill('Ερωτήσεις; Μιλήστε μαζί μας.');
  await expect(page.locator('.pv-button')).toContainText('Nordhem Test');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();

  await page.reload();
  await expect(page.getByLabel('Brand name')).toHaveValue('Nordhem Test');
  await expect(page.getByLabel('Main colour', { exact: true })).toHaveValue('#aa3300');
  await expect(page.getByLabel('Bottom left')).toBeChecked();
  await expect(page.getByLabel('During opening hours')).toBeChecked();
  await expect(page.getByLabel('Pages without chat')).toHaveValue('/checkout*\n/account/*');
  await expect(page.getByLabel('Čeština', { exact: true })).not.toBeChecked();
  await expect(page.getByLabel('Greeting: Ελληνικά')).toHaveValue('Ερωτήσεις; Μιλήστε μαζί μας.');

  const api = await page.request.get(fw.url + '/api/v1/settings/display');
  const body = await api.json();
  expect(body).toMatchObject({ brand_name: 'Nordhem Test', primary_color: '#aa3300', position: 'bottom-left', show_when: 'opening_hours', hidden_paths: ['/checkout*', '/account/*'] });
  expect(body.languages).not.toContain('cs');
});

test('invalid display settings show errors next to the fields', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/settings/display');
  await page.getByLabel('Main colour', { exact: true }).fill('red');
  await page.getByLabel('Pages without chat').fill('checkout');
  await page.getByRole('button', { name: 'Save changes' }).click();
  const color = page.getByLabel('Main colour', { exact: true });
  await expect(color).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#' + (await color.getAttribute('aria-describedby')).split(' ')[0])).toContainText('#rrggbb');
  await expect(page.getByLabel('Pages without chat')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('.field').filter({ has: page.getByLabel('Pages without chat') })).toContainText('line 1');
});

test('sites and routing', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/settings/sites');
  await page.getByLabel('Add a site').fill('not a url');
  await page.getByRole('button', { name: 'Add site' }).click();
  await expect(page.getByLabel('Add a site')).toHaveAttribute('aria-invalid', 'true');
  await page.getByLabel('Add a site').fill('https://Shop.Example.com');
  await page.getByRole('button', { name: 'Add site' }).click();
  await expect(page.locator('.origin-list')).toContainText('https://shop.example.com');

  await page.getByRole('link', { name: 'Routing' }).click();
  await expect(page.getByLabel('Missed after (seconds)')).toHaveValue('180');
  await page.getByLabel('Missed after (seconds)').fill('240');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel('Missed after (seconds)')).toHaveValue('240');
});
