import { test, expect } from '@playwright/test';
import { dash, login, startDemoServer } from './helpers.mjs';

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

test('approve the pending sign-up and assign a store and departments', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/team');
  const teamLink = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /^Team/ });
  await expect(teamLink).toContainText('1 waiting for approval');
  const pending = page.locator('section').filter({ has: page.getByRole('heading', { name: /Waiting for approval/ }) });
  await expect(pending).toContainText('pending@demo.example');
  await pending.getByRole('button', { name: /^Approve/ }).click();

  await expect(page.locator('main h1')).toHaveText('Pat Pending');
  await expect(page.getByRole('status').filter({ hasText: 'Now choose the stores' })).toBeVisible();
  await page.getByRole('checkbox', { name: /^Berlin Mitte/ }).check();
  // Ticking a store ticks its departments; untick one.
  const depts = page.getByRole('list', { name: 'Departments of Berlin Mitte' });
  await expect(depts.getByLabel('Shoes')).toBeChecked();
  await depts.getByLabel('Outdoor').uncheck();
  await page.getByRole('button', { name: 'Save assignments' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Assignments saved.' })).toBeVisible();

  await page.reload();
  await expect(page.getByRole('checkbox', { name: /^Berlin Mitte/ })).toBeChecked();
  await expect(page.getByRole('checkbox', { name: /^Stockholm Flagship/ })).not.toBeChecked();
  await expect(depts.getByLabel('Shoes')).toBeChecked();
  await expect(depts.getByLabel('Outdoor')).not.toBeChecked();

  await page.goto(dash(fw) + '#/team');
  await expect(page.getByText('Nobody is waiting for approval.')).toBeVisible();
  await expect(teamLink).toHaveText('Team');
  const row = page.getByRole('row').filter({ hasText: 'pending@demo.example' });
  await expect(row).toContainText('Berlin Mitte');
  await expect(row).toContainText('Active');
});

test('feature switches and chat cap are saved', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/team');
  await page.getByRole('link', { name: 'Manage Johan Ek' }).click();
  await expect(page.getByRole('switch', { name: 'Contacts' })).toBeChecked();
  await page.getByRole('switch', { name: 'Contacts' }).uncheck();
  await page.getByLabel('Chats at once').fill('25');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('Enter a whole number from 1 to 20.').first()).toBeVisible();
  await page.getByLabel('Chats at once').fill('5');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('switch', { name: 'Contacts' })).not.toBeChecked();
  await expect(page.getByRole('switch', { name: 'Transfers' })).toBeChecked();
  await expect(page.getByLabel('Chats at once')).toHaveValue('5');
});

test('reassign contacts dialog traps focus, closes on Escape and moves contacts', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/team');
  await page.getByRole('link', { name: 'Manage Sara Lind' }).click();
  const opener = page.getByRole('button', { name: 'Reassign contacts' });
  await opener.click();
  const dialog = page.getByRole('dialog', { name: 'Reassign contacts of Sara Lind' });
  await expect(dialog).toBeVisible();
  // Tabbing around stays inside the dialog.
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press('Tab');
    expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  }
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(opener).toBeFocused();

  await opener.click();
  await dialog.getByLabel('New contact expert').selectOption({ label: 'Johan Ek (expert2@demo.example)' });
  await dialog.getByRole('button', { name: 'Reassign contacts' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('status').filter({ hasText: 'Contacts moved to Johan Ek' })).toBeVisible();
});

test('deactivate and reactivate an expert', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/team');
  await page.getByRole('link', { name: 'Manage Tomáš Novák' }).click();
  await page.getByRole('button', { name: 'Deactivate' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Deactivate' }).click();
  await expect(page.locator('main .page-header')).toContainText('Deactivated');
  await page.goto(dash(fw) + '#/team');
  await page.getByRole('button', { name: /Deactivated/ }).click();
  await expect(page.getByRole('row').filter({ hasText: 'Tomáš Novák' })).toBeVisible();
  await page.getByRole('link', { name: 'Manage Tomáš Novák' }).click();
  await page.getByRole('button', { name: 'Reactivate' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Reactivate' }).click();
  await expect(page.locator('main .page-header')).toContainText('Active');
});

test('the expert list can be searched', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/team');
  await page.getByLabel('Search experts').fill('amira');
  await expect(page.locator('tbody tr')).toHaveCount(1);
  await expect(page.locator('tbody tr')).toContainText('Amira Haddad');
  await page.getByLabel('Search experts').fill('nobody-here');
  await expect(page.getByText('No expert matches your search.')).toBeVisible();
});

test('the invite code can be copied and rotated', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/team');
  const code = page.locator('.invite-code');
  await expect(code).toHaveText(/^[A-Z0-9]{6,}$/);
  const before = await code.textContent();
  await page.getByRole('button', { name: 'New code' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'New code' }).click();
  await expect(code).not.toHaveText(before);
});
