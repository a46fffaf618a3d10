import { test, expect } from '@playwright/test';
import { dash, login, startDemoServer } from './helpers.mjs';

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

test('create a store with opening hours, a special date and a department; it is there after reload', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/stores');
  await page.getByRole('link', { name: 'Add store' }).first().click();
  await expect(page.locator('main h1')).toHaveText('New store');

  await page.getByLabel('Store name').fill('Göteborg Nordstan');
  await page.getByLabel('Street').fill('Nordstadstorget 1');
  await page.getByLabel('Postal code').fill('411 05');
  await page.getByLabel('City').fill('Göteborg');
  await page.getByLabel('Country').selectOption('SE');
  await page.getByLabel('Time zone').selectOption('Europe/Stockholm');

  // Monday: 10–14 and 15–19 (lunch break), copied to Tuesday–Friday; Saturday closed.
  await page.getByLabel('Monday, interval 1: opens at').fill('10');
  await page.getByLabel('Monday, interval 1: closes at').fill('14:00');
  await page.getByRole('button', { name: 'Add hours on Monday' }).click();
  await page.getByLabel('Monday, interval 2: opens at').fill('15:00');
  await page.getByLabel('Monday, interval 2: closes at').fill('1900');
  await page.getByRole('button', { name: 'Copy Monday to Tuesday–Friday' }).click();
  await expect(page.getByLabel('Friday, interval 2: closes at')).toHaveValue('19:00');
  await expect(page.getByLabel('Monday, interval 1: opens at')).toHaveValue('10:00');
  await page.getByRole('switch', { name: /Saturday/ }).uncheck();
  await expect(page.getByLabel('Saturday, interval 1: opens at')).toHaveCount(0);

  await page.getByRole('button', { name: 'Add special date' }).click();
  await page.getByLabel('Date', { exact: true }).fill('2026-12-24');
  await page.getByLabel('Note', { exact: true }).fill('Christmas Eve');

  await page.getByLabel('Department name').fill('Kids');
  await page.getByRole('button', { name: 'Add department' }).click();
  await expect(page.getByRole('listitem').filter({ hasText: 'Kids' })).toBeVisible();

  await page.getByRole('button', { name: 'Create store' }).click();
  await expect(page.locator('main h1')).toHaveText('Göteborg Nordstan');

  await page.reload();
  await expect(page.locator('main h1')).toHaveText('Göteborg Nordstan');
  await expect(page.getByLabel('Monday, interval 2: opens at')).toHaveValue('15:00');
  await expect(page.getByLabel('Thursday, interval 2: closes at')).toHaveValue('19:00');
  await expect(page.getByRole('switch', { name: /Saturday/ })).not.toBeChecked();
  await expect(page.getByLabel('Note', { exact: true })).toHaveValue('Christmas Eve');
  await expect(page.getByLabel('Name of department Kids', { exact: true })).toHaveValue('Kids');

  await page.goto(dash(fw) + '#/stores');
  const card = page.locator('.store-card').filter({ hasText: 'Göteborg Nordstan' });
  await expect(card).toContainText('Mon–Fri 10:00–14:00, 15:00–19:00');
  await expect(card).toContainText('Kids');
  // The demo flagship is open around the clock.
  await expect(page.locator('.store-card').filter({ hasText: 'Stockholm Flagship' })).toContainText('Open now');
});

test('a server validation error appears next to the interval and is linked to it', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/stores');
  await page.getByRole('link', { name: 'Edit Berlin Mitte' }).click();
  await expect(page.getByText('Unsaved changes')).toHaveCount(0);
  await page.getByLabel('Monday, interval 1: opens at').fill('19:00');
  await expect(page.getByText('Unsaved changes')).toBeVisible();
  await page.getByRole('button', { name: 'Save changes' }).click();
  const summary = page.getByRole('alert').filter({ hasText: 'Some fields need your attention.' });
  await expect(summary).toBeVisible();
  const open = page.getByLabel('Monday, interval 1: opens at');
  await expect(open).toHaveAttribute('aria-invalid', 'true');
  const describedBy = await open.getAttribute('aria-describedby');
  await expect(page.locator('#' + describedBy)).toContainText('The opening time must be before the closing time.');
  // Fix it and save.
  await open.fill('09:00');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
  await expect(summary).toHaveCount(0);
  await expect(page.getByText('Unsaved changes')).toHaveCount(0);
});

test('departments of an existing store can be added, renamed and removed', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/stores');
  await page.getByRole('link', { name: 'Edit Stockholm Flagship' }).click();
  await page.getByLabel('Department name').fill('Garden');
  await page.getByRole('button', { name: 'Add department' }).click();
  await expect(page.getByLabel('Name of department Garden', { exact: true })).toHaveValue('Garden');
  await page.getByLabel('Name of department Garden', { exact: true }).fill('Garden & outdoor');
  await page.getByRole('button', { name: 'Save the name of department Garden' }).click();
  await expect(page.getByLabel('Name of department Garden & outdoor', { exact: true })).toBeVisible();
  await page.getByRole('button', { name: 'Remove department Garden & outdoor' }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByLabel('Name of department Garden & outdoor', { exact: true })).toHaveCount(0);
  await page.reload();
  await expect(page.getByLabel('Name of department Kitchen', { exact: true })).toBeVisible();
  await expect(page.getByLabel(/Name of department Garden/)).toHaveCount(0);
});

test('server field errors are shown in the chosen language', async ({ page }) => {
  await login(page, fw, 'admin@demo.example', { lang: 'de' });
  await page.goto(dash(fw) + '#/stores/new');
  await expect(page.locator('main h1')).toHaveText('Neue Filiale');
  await page.getByLabel('Name der Filiale').fill('Hamburg');
  await page.getByLabel('Montag, Zeitraum 1: öffnet um').fill('20:00');
  await page.getByRole('button', { name: 'Filiale anlegen' }).click();
  await expect(page.getByRole('alert')).toContainText('Einige Felder müssen korrigiert werden.');
  await expect(page.locator('.interval.has-error')).toContainText('Die Öffnungszeit muss vor der Schließzeit liegen.');
});
