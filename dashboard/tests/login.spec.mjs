import { test, expect } from '@playwright/test';
import { dash, login, startDemoServer } from './helpers.mjs';

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

test('wrong password shows an error linked to the fields', async ({ page }) => {
  await page.goto(dash(fw));
  await expect(page.locator('h1')).toHaveText('Sign in');
  await page.getByLabel('Email').fill('admin@demo.example');
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('The email or password is not right.');
  await expect(page.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('Password')).toHaveAttribute('aria-describedby', 'login-error');
  await expect(page.getByRole('navigation', { name: 'Main' })).toHaveCount(0);
});

test('merchant admin sees every merchant module, stays signed in on reload, and signs out', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link')).toHaveText([
    'Analytics', 'Orders', 'Exports', 'Stores', /^Team/, 'Catalogue', 'Settings', 'Saved replies', 'Shoppers', 'Integrations',
  ]);
  await expect(nav.getByRole('link', { name: 'Access' })).toHaveCount(0);
  // Focus lands on the page heading.
  await expect(page.locator('main h1')).toBeFocused();
  await nav.getByRole('link', { name: 'Team' }).click();
  await expect(page.locator('main h1')).toHaveText('Team');
  await expect(page.locator('main h1')).toBeFocused();
  await expect(nav.getByRole('link', { name: 'Team' })).toHaveAttribute('aria-current', 'page');

  await page.reload();
  await expect(page.locator('main h1')).toHaveText('Team');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.locator('h1')).toHaveText('Sign in');
  await page.reload();
  await expect(page.locator('h1')).toHaveText('Sign in');
});

test('with no chats yet, Analytics shows zeros and empty states, never made-up numbers', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/analytics');
  await expect(page.locator('[data-kpi="requested"] .kpi-value')).toHaveText('0');
  await expect(page.locator('[data-kpi="claim_rate"] .kpi-value')).toHaveText('—no data');
  await expect(page.locator('main')).not.toContainText(/\d+ ?%/);
  await expect(page.getByText('No chats in this period.')).toBeVisible();
  await expect(page.getByText('No expert activity in this period.')).toBeVisible();
  await expect(page.locator('[data-kpi="revenue"] .kpi-value')).toHaveText('—no data');
  await page.goto(dash(fw) + '#/exports');
  await expect(page.getByRole('button', { name: 'Download CSV' })).toBeEnabled();
});

test('a session ended on the server sends the browser back to the login screen', async ({ page, context }) => {
  await login(page, fw, 'admin@demo.example');
  await context.clearCookies();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Stores' }).click();
  await expect(page.locator('h1')).toHaveText('Sign in');
  await expect(page.getByRole('status').filter({ hasText: 'Your session has ended' })).toBeVisible();
});

test('Persian switches the page to right-to-left and is remembered', async ({ page }) => {
  await page.goto(dash(fw));
  await expect(page.locator('html')).toHaveAttribute('dir', 'ltr');
  await page.getByLabel('Language').selectOption('fa');
  await expect(page.locator('html')).toHaveAttribute('dir', 'rtl');
  await expect(page.locator('html')).toHaveAttribute('lang', 'fa');
  await expect(page.locator('h1')).toHaveText('ورود');
  await page.reload();
  await expect(page.locator('html')).toHaveAttribute('dir', 'rtl');
  // The sidebar sits on the right in RTL.
  await login(page, fw, 'admin@demo.example');
  const box = await page.locator('#sidebar').boundingBox();
  expect(box.x).toBeGreaterThan(600);
  await page.getByLabel('زبان').selectOption('sv');
  await expect(page.locator('html')).toHaveAttribute('dir', 'ltr');
  await expect(page.getByRole('navigation', { name: 'Huvudmeny' }).getByRole('link', { name: 'Butiker' })).toBeVisible();
});

test('the browser language is the default', async ({ browser }) => {
  const ctx = await browser.newContext({ locale: 'de-DE' });
  const page = await ctx.newPage();
  await page.goto(dash(fw));
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');
  await expect(page.locator('h1')).toHaveText('Anmelden');
  await ctx.close();
});

test('too many sign-in attempts say when to try again', async ({ page }) => {
  const { startServer } = await import('../../testing/server.mjs');
  const limited = await startServer({ env: { FLOORWALKER_DEMO: 'true', FLOORWALKER_LOGIN_PER_MINUTE: '2' } });
  try {
    await page.goto(dash(limited));
    await page.getByLabel('Email').fill('admin@demo.example');
    await page.getByLabel('Password').fill('wrong-password');
    for (let i = 0; i < 4; i++) await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toContainText(/Too many attempts\. Try again in \d+ seconds\./);
  } finally {
    await limited.stop();
  }
});

test('change password from the account page', async ({ page }) => {
  await login(page, fw, 'operator@demo.example');
  await page.getByRole('link', { name: /Your account/ }).click();
  await expect(page.locator('main h1')).toHaveText('Your account');
  await page.getByLabel('Current password').fill('not-my-password');
  await page.getByLabel('New password', { exact: true }).fill('a-brand-new-password');
  await page.getByLabel('New password again').fill('a-brand-new-password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByLabel('Current password')).toHaveAttribute('aria-invalid', 'true');
  await page.getByLabel('Current password').fill(fw.password);
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Password changed.' })).toBeVisible();
  // Still signed in, and writes still carry a valid CSRF token.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Access' }).click();
  await expect(page.locator('main h1')).toHaveText('Access');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Email').fill('operator@demo.example');
  await page.getByLabel('Password').fill('a-brand-new-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('main h1')).toHaveText('Access');
});
