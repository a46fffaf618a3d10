// Team shows whose phone can be alerted while the store app is closed (Web Push, issue 23).
import { test, expect } from '@playwright/test';
import crypto from 'node:crypto';
import { dash, expectNoSeriousViolations, login, startDemoServer } from './helpers.mjs';

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

async function expertToken(email) {
  const r = await fetch(`${fw.url}/api/v1/app/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: fw.password }),
  });
  expect(r.status).toBe(200);
  return (await r.json()).token;
}

test('Team marks experts whose phone cannot be alerted', async ({ page }) => {
  // Sara registers a phone for alerts; nobody else has one.
  const ecdh = crypto.createECDH('prime256v1');
  ecdh.generateKeys();
  const token = await expertToken('expert1@demo.example');
  const r = await fetch(`${fw.url}/api/v1/app/push/subscriptions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      endpoint: 'https://push.example.net/send/sara',
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: crypto.randomBytes(16).toString('base64url') },
      lang: 'sv',
    }),
  });
  expect(r.status).toBe(201);

  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/team');
  const sara = page.getByRole('row').filter({ hasText: 'expert1@demo.example' });
  await expect(sara).toContainText('Phone alerts on');
  const johan = page.getByRole('row').filter({ hasText: 'expert2@demo.example' });
  await expect(johan).toContainText('Cannot be alerted: no phone');
  await expectNoSeriousViolations(page, 'team with alert badges');
  await page.screenshot({ path: `${process.env.SHOTS_DIR || '/tmp/fw-shots'}/team-alerts.png`, fullPage: true });
});
