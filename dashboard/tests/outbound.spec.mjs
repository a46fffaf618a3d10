// Outbound in the dashboard: the Outbox (operator and merchant), invitations by e-mail, webhook
// endpoints against a real receiver on loopback that checks Standard Webhooks signatures, and
// Settings → Messaging. The server runs without SMTP, so mail waits in the Outbox.
import { test, expect } from '@playwright/test';
import http from 'node:http';
import crypto from 'node:crypto';
import { startServer } from '../../testing/server.mjs';
import { dash, expectNoSeriousViolations, login, waitFor } from './helpers.mjs';

let fw;
let receiver;
const got = [];
let secret = '';

/** The receiver's side of Standard Webhooks, from the specification. */
function verify(headers, body) {
  const id = headers['webhook-id'], ts = headers['webhook-timestamp'], sigs = headers['webhook-signature'] || '';
  if (!secret || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = crypto.createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  return sigs.split(' ').some((s) => s === 'v1,' + expected);
}

test.beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const ok = verify(req.headers, body);
      got.push({ id: req.headers['webhook-id'], ok, body });
      // The redelivery is answered slowly, so its page is open before its attempt is recorded.
      const slow = got.length === 2 ? 1500 : 0;
      setTimeout(() => res.writeHead(ok ? 204 : 401).end(), slow);
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  fw = await startServer({ env: { FLOORWALKER_DEMO: 'true', FLOORWALKER_ALLOW_PRIVATE_WEBHOOKS: '1', FLOORWALKER_OUTBOUND_SPEEDUP: '1000' } });
});
test.afterAll(async () => { await fw?.stop(); receiver?.close(); });

test('the operator reads every mail the platform would send in the Outbox', async ({ page }) => {
  await login(page, fw, 'operator@demo.example');
  await page.getByRole('link', { name: 'Outbox' }).click();
  await expect(page.getByRole('heading', { name: 'Outbox', level: 1 })).toBeVisible();
  // The demo's invitations, made through the same path as Team → Invite by e-mail.
  const row = page.getByRole('row').filter({ hasText: 'noor.haddad@demo.example' });
  await expect(row).toContainText('Queued');
  await expectNoSeriousViolations(page, 'operator outbox');
  await row.getByRole('link').click();
  await expect(page.locator('main h1')).toContainText('invites you');
  const frame = page.frameLocator('iframe.mail-frame');
  await expect(frame.locator('body')).toContainText('Invite code');
  await page.getByRole('button', { name: 'Plain text' }).click();
  await expect(page.locator('pre.mail-text')).toContainText('Open the store app: http');
  await expect(page.getByText('No attempt yet. Without an SMTP server configured, e-mail waits here.')).toBeVisible();
  // axe cannot enter the sandboxed, script-less frame of the HTML view: check the text view.
  await page.goto(page.url() + '?view=text');
  await page.reload();
  await expect(page.locator('pre.mail-text')).toBeVisible();
  await expectNoSeriousViolations(page, 'operator outbox message');
});

test('a merchant invites staff by e-mail and finds the mail in its Outbox', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/team');
  await page.getByRole('button', { name: 'Invite by e-mail' }).click();
  const dialog = page.getByRole('dialog', { name: 'Invite by e-mail' });
  await dialog.getByLabel('E-mail addresses').fill('kim@example.com, not-an-address');
  await dialog.getByRole('button', { name: 'Send invitations' }).click();
  await expect(dialog).toContainText('not-an-address: must be an e-mail address');
  await dialog.getByLabel('E-mail addresses').fill('kim@example.com\nsam@example.com');
  await dialog.getByLabel('Language of the e-mail').selectOption('sv');
  await dialog.getByRole('button', { name: 'Send invitations' }).click();
  await expect(dialog).toContainText('kim@example.com — queued');
  await dialog.getByRole('button', { name: 'Close' }).last().click();

  await page.goto(dash(fw) + '#/integrations/outbox');
  const kim = page.getByRole('row').filter({ hasText: 'kim@example.com' });
  await expect(kim).toContainText('bjuder in dig');
  await page.locator('#outbox-kind').selectOption('webhook');
  await expect(page.getByRole('row').filter({ hasText: 'kim@example.com' })).toHaveCount(0);
});

test('a webhook endpoint: secret once, signed test event, redelivery with the same id', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/integrations');
  await page.getByRole('button', { name: 'New endpoint' }).click();
  const dialog = page.getByRole('dialog', { name: 'New endpoint' });
  await dialog.getByLabel('URL').fill('ftp://nope');
  await dialog.getByRole('button', { name: 'Create endpoint' }).click();
  await expect(dialog.locator('#f-url-error')).toContainText('must start with https://');
  await expect(dialog.locator('.field-error')).toHaveCount(1);
  await dialog.getByLabel('URL').fill(`http://127.0.0.1:${receiver.address().port}/hooks`);
  await expect(dialog.getByRole('checkbox', { name: /^message\.created/ })).not.toBeChecked();
  await expect(dialog.getByRole('checkbox', { name: /conversation\.claimed/ })).toBeChecked();
  await dialog.getByRole('button', { name: 'Create endpoint' }).click();
  const shown = page.getByRole('dialog', { name: 'Copy the signing secret' });
  secret = await shown.getByLabel('Signing secret').inputValue();
  expect(secret).toMatch(/^whsec_/);
  await shown.getByRole('button', { name: 'I have copied it' }).last().click();
  // On the endpoint's page now; the secret is not on it.
  await expect(page.locator('main h1')).toContainText('/hooks');
  expect(await page.content()).not.toContain(secret);
  await page.getByRole('button', { name: 'Send test event' }).click();
  await waitFor(() => got.length >= 1, { what: 'the test delivery' });
  expect(got[0].ok).toBe(true);
  // The list follows the delivery on its own (no Refresh).
  const row = page.getByRole('row').filter({ hasText: 'webhook.test' });
  await expect(row).toContainText('Sent', { timeout: 10_000 });
  await expectNoSeriousViolations(page, 'webhook endpoint');
  await row.getByRole('button', { name: /^Redeliver/ }).click();
  await waitFor(() => got.length >= 2, { what: 'the redelivery' });
  expect(got[1].id).toBe(got[0].id);
  expect(got[1].ok).toBe(true);
  // Each attempt is visible: status, latency, response. The redelivery's page opens while its
  // attempt is still waiting for the receiver, and shows the 204 when it comes, without a reload.
  await expect(row).toHaveCount(2);
  await row.first().getByRole('link').first().click();
  await expect(page.getByRole('heading', { name: 'Attempts' })).toBeVisible();
  await expect(page.getByRole('row').filter({ hasText: '204' }).first()).toBeVisible({ timeout: 10_000 });
});

test('messaging settings keep the SMS token write-only', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/settings/messaging');
  await page.getByLabel('Sender name').fill('Nordhem Support');
  await page.getByRole('switch', { name: 'Send SMS' }).check();
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByRole('alert')).toContainText('Auth token');
  await page.getByLabel('Account SID').fill('AC123');
  await page.getByLabel('Auth token').fill('tok-secret-123');
  await page.getByLabel('Sender', { exact: true }).fill('+46701234567');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('Saved.')).toBeVisible();
  await page.reload();
  await expect(page.getByLabel('Sender name')).toHaveValue('Nordhem Support');
  await expect(page.getByLabel('Auth token')).toHaveValue('');
  await expect(page.getByText('A token is stored.')).toBeVisible();
  expect(await page.content()).not.toContain('tok-secret-123');
  await expectNoSeriousViolations(page, 'settings messaging');
});
