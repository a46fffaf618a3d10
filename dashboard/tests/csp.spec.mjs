// The dashboard under the server's strict Content-Security-Policy (scripts from this origin only,
// no inline script, no eval, no framing): every screen renders with no policy violation, and the
// API docs page too.
import { test, expect } from '@playwright/test';
import { dash, login, startDemoServer } from './helpers.mjs';

let fw;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { await fw?.stop(); });

/** Collect CSP violations the page reports (console and securitypolicyviolation events). */
async function watch(page) {
  const seen = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) seen.push(m.text()); });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`Refused to load: CSP ${e.violatedDirective} ${e.blockedURI}`));
  });
  return seen;
}

test('every dashboard screen renders under the strict CSP', async ({ page }) => {
  const seen = await watch(page);
  const res = await page.goto(dash(fw));
  const csp = res.headers()['content-security-policy'];
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(res.headers()['x-frame-options']).toBe('DENY');
  await login(page, fw, 'admin@demo.example');
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const name of ['Analytics', 'Exports', 'Stores', 'Team', 'Settings', 'Saved replies', 'Shoppers', 'Integrations']) {
    await nav.getByRole('link', { name: new RegExp(`^${name}`) }).click();
    await expect(page.locator('main h1')).toBeVisible();
  }
  await page.waitForTimeout(500);
  expect(seen).toEqual([]);
});

test('the API docs render under the strict CSP', async ({ page }) => {
  const seen = await watch(page);
  await page.goto(`${fw.url}/api/docs/`);
  await expect(page.locator('.swagger-ui .info .title')).toContainText('Floorwalker API', { timeout: 15_000 });
  expect(seen).toEqual([]);
});
