import { test, expect } from '@playwright/test';
import { apiKey, dash, expectNoSeriousViolations, login, session, startDemoServer } from './helpers.mjs';

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

test('the API-call log lists calls made with keys, filters them and loads more', async ({ page }) => {
  const admin = await session(fw, 'admin@demo.example');
  const shop = await apiKey(admin, 'Shop');
  const erp = await apiKey(admin, 'ERP');
  const call = (secret, method, path, body) => fetch(`${fw.url}/api/v1${path}`, {
    method, headers: { authorization: 'Bearer ' + secret, 'content-type': 'application/json' }, body: body && JSON.stringify(body),
  });
  expect((await call(shop, 'GET', '/stores')).status).toBe(200);
  expect((await call(shop, 'GET', '/orders/NOPE-1')).status).toBe(404);
  expect((await call(erp, 'POST', '/orders', { order_id: 'E-1' })).status).toBe(422);
  for (let i = 0; i < 52; i++) await call(erp, 'GET', '/stores?limit=1');

  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/integrations');
  const log = page.getByRole('region', { name: 'API calls' });
  const rows = log.locator('tbody tr');
  await expect(rows).toHaveCount(50);
  await log.getByRole('button', { name: 'Load more' }).click();
  await expect(rows).toHaveCount(55);
  await expect(log.getByRole('button', { name: 'Load more' })).toHaveCount(0);

  await log.getByLabel('Status').selectOption('4xx');
  await expect(rows).toHaveCount(2);
  await expect(rows.first()).toContainText('422');
  await expect(rows.first()).toContainText('POST /api/v1/orders');
  await expect(rows.nth(1)).toContainText('404');

  await log.getByLabel('Key').selectOption({ label: 'Shop' });
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('/api/v1/orders/NOPE-1');

  await log.getByLabel('Status').selectOption('');
  await log.getByLabel('Path contains').fill('/stores');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('200');
  await log.getByLabel('Path contains').fill('nothing-like-this');
  await expect(log.getByText('No API calls match.')).toBeVisible();
  await expectNoSeriousViolations(page, 'integrations with the API log');
});
