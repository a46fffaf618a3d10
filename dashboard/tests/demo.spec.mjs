import { test, expect } from '@playwright/test';
import { dash, expectNoSeriousViolations, login, session, startDemoServer } from './helpers.mjs';

test.describe.configure({ mode: 'serial' });

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

// A 1×1 PNG, and an SVG logo; a "logo" over the size limit.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" rx="8" fill="#c2185b"/></svg>');

test('operator builds a demo, opens its public link with the widget, edits and deletes it', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await login(page, fw, 'operator@demo.example');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Demo' }).click();
  await expect(page.locator('main h1')).toHaveText('Demo');
  await expect(page.getByText('No demos yet')).toBeVisible();
  await page.getByRole('link', { name: 'New demo' }).first().click();
  await expect(page.locator('main h1')).toHaveText('New demo');

  // Nothing filled in: the problems are listed and linked to their fields.
  await page.getByRole('button', { name: 'Create demo' }).click();
  await expect(page.getByLabel('Prospect name')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('Merchant', { exact: true })).toHaveAttribute('aria-invalid', 'true');

  await page.getByLabel('Prospect name').fill('Kvarnby Möbler');
  await page.getByLabel('Website').fill('https://kvarnby.example');
  await page.getByLabel('Merchant', { exact: true }).selectOption({ label: 'Nordhem Home & Electronics' });
  await expect(page.getByLabel('Store', { exact: true }).locator('option')).toHaveCount(3);
  await page.getByLabel('Store', { exact: true }).selectOption({ label: 'Stockholm Flagship' });
  await page.locator('#f-primary_color').fill('#c2185b');
  await page.locator('#f-background_color').fill('#fdf6ec');

  // A logo over the size limit is refused before upload; an SVG is taken.
  await page.getByLabel('Logo').setInputFiles({ name: 'big.png', mimeType: 'image/png', buffer: Buffer.alloc(210 * 1024, 1) });
  await expect(page.locator('#f-logo-error')).toContainText('the limit is 200 kB');
  await page.getByLabel('Logo').setInputFiles({ name: 'logo.txt', mimeType: 'text/plain', buffer: Buffer.from('hi') });
  await expect(page.locator('#f-logo-error')).toContainText('Choose a PNG, JPEG, WebP or SVG image.');
  await page.getByLabel('Logo').setInputFiles({ name: 'logo.svg', mimeType: 'image/svg+xml', buffer: SVG });
  await expect(page.getByRole('img', { name: 'Current logo' })).toBeVisible();
  await page.getByLabel('Greeting').fill('Hej! Välkommen till Kvarnby.');
  await page.getByLabel('Screenshot of their site').setInputFiles({ name: 'shot.png', mimeType: 'image/png', buffer: PNG });
  await expect(page.locator('.demo-preview .pv-bubble')).toHaveText('Hej! Välkommen till Kvarnby.');
  await page.getByRole('button', { name: 'Create demo' }).click();

  await expect(page.locator('main h1')).toHaveText('Kvarnby Möbler');
  const link = await page.locator('.share-url').textContent();
  expect(link).toMatch(new RegExp('^' + fw.url.replace(/[.]/g, '\\.') + '/demo/[A-Za-z0-9_-]+$'));
  await page.getByRole('button', { name: 'Copy link' }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);

  // The public page: the prospect's name and the widget, dressed for the demo.
  const [pub] = await Promise.all([context.waitForEvent('page'), page.getByRole('link', { name: 'Open' }).click()]);
  await pub.waitForLoadState();
  expect(pub.url()).toBe(link);
  const slug = link.split('/').pop();
  await expect(pub.locator(`script[src="/widget.js"][data-demo="${slug}"]`)).toHaveCount(1);
  await expect(pub.locator('floorwalker-widget')).toHaveCount(1, { timeout: 15_000 });
  const cfg = await (await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}&demo=${slug}`)).json();
  expect(cfg.display.brand_name).toBe('Kvarnby Möbler');
  expect(cfg.display.primary_color.toLowerCase()).toBe('#c2185b');
  await pub.close();

  // Edit: the list shows the change; the screenshot can be removed.
  await page.getByLabel('Prospect name').fill('Kvarnby Möbler AB');
  await expect(page.getByText('Unsaved changes')).toBeVisible();
  await page.getByRole('button', { name: 'Remove screenshot' }).click();
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.locator('main h1')).toHaveText('Kvarnby Möbler AB');
  await expect(page.getByText('Screenshot uploaded')).toHaveCount(0);
  await expectNoSeriousViolations(page, 'demo editor');
  await page.getByRole('link', { name: 'All demos' }).click();
  const row = page.getByRole('row', { name: /Kvarnby Möbler AB/ });
  await expect(row).toContainText('Nordhem Home & Electronics');
  await expectNoSeriousViolations(page, 'demo list');

  // Delete, with a confirmation; the link stops working.
  await row.getByRole('button', { name: 'Delete the demo for Kvarnby Möbler AB' }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete the demo for Kvarnby Möbler AB?' });
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await expect(row).toBeVisible();
  await row.getByRole('button', { name: 'Delete the demo for Kvarnby Möbler AB' }).click();
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByText('No demos yet')).toBeVisible();
  expect((await fetch(link)).status).toBe(404);
});

test('demos are for operators only', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Demo' })).toHaveCount(0);
  await page.goto(dash(fw) + '#/demo');
  await expect(page.locator('main h1')).toHaveText('Page not found');
  const admin = await session(fw, 'admin@demo.example');
  expect((await admin.raw('GET', '/demos')).status).toBe(403);
});
