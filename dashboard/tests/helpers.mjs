// Shared by the browser tests and the screenshot script.
import { startServer } from '../../testing/server.mjs';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--no-first-run'];
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * A fresh server with the demo merchant. FLOORWALKER_DEMO is passed as `true` because the
 * server's `--demo` flag parses only true/false (testing/server.mjs sets `1`).
 */
export function startDemoServer() {
  return startServer({ env: { FLOORWALKER_DEMO: 'true' } });
}

export const dash = (fw) => `${fw.url}/dashboard/`;

/** Signs in through the login form and waits for the signed-in shell. */
export async function login(page, fw, email, { lang } = {}) {
  if (lang) await page.addInitScript((l) => localStorage.setItem('fw.dashboard.lang', l), lang);
  await page.goto(dash(fw));
  await page.locator('#f-email').fill(email);
  await page.locator('#f-password').fill(fw.password);
  await page.locator('form.login-card button[type=submit]').click();
  await page.locator('#sidebar nav a').first().waitFor({ state: 'attached' });
  await page.locator('main h1').waitFor();
}
