import { test, expect } from '@playwright/test';
import { dash, login, startDemoServer } from './helpers.mjs';

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

test('the operator sees Access, Demo and the Outbox, not merchant modules', async ({ page }) => {
  await login(page, fw, 'operator@demo.example');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link')).toHaveText(['Access', 'Demo', 'Outbox']);
  await expect(page.locator('main h1')).toHaveText('Access');
  await page.goto(dash(fw) + '#/stores');
  await expect(page.locator('main h1')).toHaveText('Page not found');
});

test('operator creates a merchant whose account may open only Stores', async ({ page, browser }) => {
  await login(page, fw, 'operator@demo.example');
  await page.getByRole('button', { name: 'New merchant' }).click();
  const dialog = page.getByRole('dialog', { name: 'New merchant' });
  await dialog.getByLabel('Merchant name').fill('Lindqvist Cycles');
  await dialog.getByLabel('Name', { exact: true }).fill('Lena Lindqvist');
  await dialog.getByLabel('Email').fill('lena@lindqvist.example');
  await dialog.getByLabel('Password').fill('short');
  await dialog.getByLabel('All modules').uncheck();
  await dialog.getByLabel('Stores').check();
  await dialog.getByRole('button', { name: 'Create merchant' }).click();
  // A too-short password is reported next to the field by the server.
  await expect(dialog.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
  await dialog.getByLabel('Password').fill('a-long-enough-password');
  await dialog.getByRole('button', { name: 'Create merchant' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.locator('main h1')).toHaveText('Lindqvist Cycles');
  await expect(page.locator('main')).toContainText(/mer_[0-9a-f]{32}/);
  const row = page.getByRole('row').filter({ hasText: 'lena@lindqvist.example' });
  await expect(row).toContainText('Stores');
  await expect(row).not.toContainText('Team');

  // Add a second account with Team + Settings, then edit it down to Settings.
  await page.getByRole('button', { name: 'New account' }).click();
  const acc = page.getByRole('dialog', { name: 'New account' });
  await acc.getByLabel('Name', { exact: true }).fill('Tom Lindqvist');
  await acc.getByLabel('Email').fill('tom@lindqvist.example');
  await acc.getByLabel('Password').fill('another-long-password');
  await acc.getByLabel('All modules').uncheck();
  await acc.getByLabel('Team').check();
  await acc.getByLabel('Settings').check();
  await acc.getByRole('button', { name: 'Create account' }).click();
  await expect(acc).toBeHidden();
  // The same email again is refused, next to the Email field.
  await page.getByRole('button', { name: 'New account' }).click();
  await acc.getByLabel('Name', { exact: true }).fill('Tom Again');
  await acc.getByLabel('Email').fill('tom@lindqvist.example');
  await acc.getByLabel('Password').fill('another-long-password');
  await acc.getByRole('button', { name: 'Create account' }).click();
  await expect(acc.getByLabel('Email')).toHaveAttribute('aria-invalid', 'true');
  await expect(acc.locator('#' + (await acc.getByLabel('Email').getAttribute('aria-describedby')))).toHaveText('An account with this email already exists.');
  await acc.getByRole('button', { name: 'Cancel' }).click();
  await expect(acc).toBeHidden();
  await page.getByRole('button', { name: 'Edit tom@lindqvist.example' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit tom@lindqvist.example' });
  await edit.getByLabel('Team').uncheck();
  await edit.getByRole('button', { name: 'Save changes' }).click();
  await expect(edit).toBeHidden();
  await expect(page.getByRole('row').filter({ hasText: 'tom@lindqvist.example' })).not.toContainText('Team');

  // The new merchant account signs in and sees only Stores.
  const ctx = await browser.newContext();
  const p2 = await ctx.newPage();
  await p2.goto(dash(fw));
  await p2.getByLabel('Email').fill('lena@lindqvist.example');
  await p2.getByLabel('Password').fill('a-long-enough-password');
  await p2.getByRole('button', { name: 'Sign in' }).click();
  const nav = p2.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link')).toHaveText(['Stores']);
  await expect(p2.locator('main h1')).toHaveText('Stores');
  await expect(p2.getByRole('link', { name: 'Team' })).toHaveCount(0);
  await expect(p2.getByText('No stores yet')).toBeVisible();
  await p2.goto(dash(fw) + '#/team');
  await expect(p2.locator('main h1')).toHaveText('Page not found');
  // The server agrees.
  const r = await p2.request.get(fw.url + '/api/v1/team/experts');
  expect(r.status()).toBe(403);
  await ctx.close();
});

test('operator deactivates and reactivates a merchant, and lists operators', async ({ page }) => {
  await login(page, fw, 'operator@demo.example');
  await page.getByRole('link', { name: 'Nordhem Home & Electronics' }).click();
  await page.getByRole('button', { name: 'Deactivate merchant' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Deactivate merchant' }).click();
  await expect(page.locator('main .page-header')).toContainText('Deactivated');
  await page.getByRole('button', { name: 'Activate merchant' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Activate merchant' }).click();
  await expect(page.locator('main .page-header')).toContainText('Active');
  await page.getByRole('link', { name: 'All merchants' }).click();
  await page.getByRole('link', { name: 'Operators' }).click();
  await expect(page.getByRole('row').filter({ hasText: 'operator@demo.example' })).toBeVisible();
});
