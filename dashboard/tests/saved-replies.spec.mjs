import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { dash, login, startDemoServer } from './helpers.mjs';

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

test('create a saved reply, export it as CSV, and import CSV', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/saved-replies');
  await page.getByRole('button', { name: 'New saved reply' }).click();
  const dialog = page.getByRole('dialog', { name: 'New saved reply' });
  await expect(dialog.getByLabel('Shortcut')).toBeFocused();
  await dialog.getByLabel('Shortcut').fill('bad shortcut!');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog.getByLabel('Shortcut')).toHaveAttribute('aria-invalid', 'true');
  await dialog.getByLabel('Shortcut').fill('gift-wrap');
  await dialog.getByLabel('Title').fill('Gift wrapping');
  await dialog.getByLabel('Text').fill('We gift-wrap for free, with a card — "just ask", at the till.');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toBeHidden();
  const row = page.getByRole('row').filter({ hasText: '/gift-wrap' });
  await expect(row).toContainText('Gift wrapping');

  // Export: the CSV download contains the new reply, quoted per RFC 4180.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
  const csv = readFileSync(await download.path(), 'utf8');
  expect(csv.split('\n')[0].trim()).toBe('shortcut,title,body');
  expect(csv).toContain('gift-wrap,Gift wrapping,"We gift-wrap for free, with a card — ""just ask"", at the till."');

  // Import: one update, one new.
  const importCsv = 'shortcut,title,body\ngift-wrap,Gift wrap,Free gift wrapping at every till.\nparking,Parking,Two hours free parking in the garage.\n';
  await page.locator('#import-csv').setInputFiles({ name: 'replies.csv', mimeType: 'text/csv', buffer: Buffer.from(importCsv) });
  await expect(page.getByRole('status').filter({ hasText: 'Import done: 1 added, 1 updated.' })).toBeVisible();
  await expect(page.getByRole('row').filter({ hasText: '/parking' })).toContainText('Two hours free parking');
  await expect(page.getByRole('row').filter({ hasText: '/gift-wrap' })).toContainText('Free gift wrapping at every till.');
});

test('a bad CSV imports nothing and lists the row errors', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/saved-replies');
  const bad = 'shortcut,title,body\nok-one,Fine,This row is fine.\nnot ok!,,\n';
  await page.locator('#import-csv').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  const alert = page.getByRole('alert').filter({ hasText: 'Nothing was imported' });
  await expect(alert).toBeVisible();
  await expect(alert).toContainText('row 3');
  await expect(page.getByRole('row').filter({ hasText: '/ok-one' })).toHaveCount(0);
});

test('edit and remove a saved reply', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/saved-replies');
  await page.getByRole('button', { name: 'Edit /thanks' }).click();
  const dialog = page.getByRole('dialog', { name: 'Edit saved reply' });
  await expect(dialog.getByLabel('Shortcut')).toHaveValue('thanks');
  await dialog.getByLabel('Title').fill('Thank you');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('row').filter({ hasText: '/thanks' })).toContainText('Thank you');
  await page.getByRole('button', { name: 'Remove /thanks' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByRole('row').filter({ hasText: '/thanks' })).toHaveCount(0);
  await page.getByLabel('Search saved replies').fill('deliv');
  await expect(page.locator('tbody tr')).toHaveCount(1);
});
