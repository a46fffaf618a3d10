import { test, expect } from '@playwright/test';
import { dash, login, startDemoServer } from './helpers.mjs';

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

test('creating an API key shows its secret once; the key works until revoked', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/integrations');
  await expect(page.getByText('No API keys yet.')).toBeVisible();
  await expect(page.locator('main')).toContainText(fw.merchantId);

  await page.getByRole('button', { name: 'New API key' }).click();
  await page.getByRole('dialog').getByLabel('Name').fill('Order webhook');
  await page.getByRole('dialog').getByRole('button', { name: 'Create key' }).click();

  const shown = page.getByRole('dialog', { name: 'Copy your new secret' });
  await expect(shown).toBeVisible();
  await expect(shown).toContainText('This is the only time the secret is shown');
  const secret = await shown.getByLabel('Secret for Order webhook').inputValue();
  expect(secret.length).toBeGreaterThan(20);
  await shown.getByRole('button', { name: 'Copy', exact: true }).click();
  await expect(shown.getByRole('button', { name: 'Copied', exact: true })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  await shown.getByRole('button', { name: 'I have copied it' }).last().click();
  await expect(shown).toBeHidden();

  // Gone from the page for good.
  expect(await page.content()).not.toContain(secret);
  await page.reload();
  expect(await page.content()).not.toContain(secret);
  const row = page.getByRole('row').filter({ hasText: 'Order webhook' });
  await expect(row).toContainText('Active');
  await expect(row).toContainText(secret.slice(0, 6));

  // The secret is a working bearer token.
  const ok = await fetch(fw.url + '/api/v1/stores', { headers: { Authorization: 'Bearer ' + secret } });
  expect(ok.status).toBe(200);

  await row.getByRole('button', { name: 'Revoke Order webhook' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
  await expect(row).toContainText('Revoked');
  const denied = await fetch(fw.url + '/api/v1/stores', { headers: { Authorization: 'Bearer ' + secret } });
  expect(denied.status).toBe(401);
});

test('shopper lookup tells an unknown Shopper ID', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/shoppers');
  await page.getByLabel('Shopper ID').fill('shp_doesnotexist');
  await page.getByRole('button', { name: 'Find' }).click();
  await expect(page.getByText('No shopper with this ID.')).toBeVisible();
  await expect(page.getByLabel('Shopper ID')).toHaveAttribute('aria-invalid', 'true');
});
