// What a new merchant tripped over (issue 19), in Chromium against the real server: the embed
// snippet and the identity secret in Integrations (used for real, from Node and Python), no
// failing request on a signed-out visit, the live strip's availability, the shopper's last
// seen and contact after a transfer, Analytics in the merchant's time zone, plural forms.
import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { dash, Expert, login, session, Shopper, startDemoServer, waitFor } from './helpers.mjs';

let fw, admin;
test.beforeAll(async () => { fw = await startDemoServer(); admin = await session(fw, 'admin@demo.example'); });
test.afterAll(async () => { await fw?.stop(); });

async function identify(email, signature) {
  const s = await Shopper.connect(fw);
  s.send({ type: 'identify', email, signature });
  const f = await s.next((x) => x.type === 'identified' || (x.type === 'error' && x.code === 'forbidden'));
  s.close();
  return f.type === 'error' ? f.code : f.type;
}

test('Integrations: the embed snippet works on a site; the identity secret signs identify from Node and Python; rotation', async ({ page, context, browser }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/integrations');
  const embed = page.locator('[data-snippet="embed"]');
  const snippet = await embed.innerText();
  expect(snippet).toContain(`data-merchant="${fw.merchantId}"`);
  expect(snippet).toContain(`src="${fw.url}/widget.js"`);
  await page.getByRole('region', { name: 'Put the chat on your site' }).getByRole('button', { name: 'Copy', exact: true }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(snippet);

  // Pasted into a shop on another origin (listed under Sites), the chat shows.
  const site = http.createServer((_, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(`<!doctype html><title>Shop</title>${snippet}<p>Our shop</p>`); });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${site.address().port}`;
  const { origins } = await admin('GET', '/settings/origins');
  await admin('PUT', '/settings/origins', { origins: [...origins, origin] });
  const shop = await browser.newPage();
  await waitFor(async () => {
    await shop.goto(origin + '/');
    return shop.locator('floorwalker-widget .fw-launch').waitFor({ timeout: 3000 }).then(() => true, () => false);
  }, { timeout: 20_000, what: 'the launcher on the pasted snippet' });
  await shop.close();
  site.close();

  // The secret: hidden until revealed.
  const region = page.getByRole('region', { name: 'Identify signed-in shoppers' });
  const field = region.getByLabel('Identity secret');
  expect(await field.inputValue()).not.toContain('fwi_');
  await region.getByRole('button', { name: 'Reveal' }).click();
  await expect(field).toHaveValue(/^fwi_/);
  const secret = await field.inputValue();

  // The examples, run as shown, with the secret in the environment.
  const email = 'kim@example.com';
  const dir = mkdtempSync(join(tmpdir(), 'fw-sign-'));
  const node = await region.locator('[data-snippet="sign-node"]').innerText();
  writeFileSync(join(dir, 'sign.mjs'), `const email = ${JSON.stringify(email)};\n${node}\nconsole.log(signature);\n`);
  const env = { ...process.env, FLOORWALKER_IDENTITY_SECRET: secret };
  const fromNode = execFileSync(process.execPath, [join(dir, 'sign.mjs')], { env }).toString().trim();
  await region.getByRole('radio', { name: 'Python' }).check();
  const python = await region.locator('[data-snippet="sign-python"]').innerText();
  const fromPython = execFileSync('python3', ['-c', `email = ${JSON.stringify(email)}\n${python}\nprint(signature)\n`], { env }).toString().trim();
  expect(fromNode).toMatch(/^[0-9a-f]{64}$/);
  expect(fromPython).toBe(fromNode);
  expect(await region.locator('[data-snippet="identify"]').innerText()).toContain("Floorwalker('identify'");
  expect(await identify(email, fromNode)).toBe('identified');

  // Rotating asks first; afterwards the old signature is refused.
  await region.getByRole('button', { name: 'Rotate secret' }).click();
  const dialog = page.getByRole('dialog', { name: 'Rotate the identity secret?' });
  await expect(dialog).toContainText('stop working at once');
  await dialog.getByRole('button', { name: 'Rotate secret' }).click();
  await expect(dialog).toBeHidden();
  await expect(field).not.toHaveValue(secret);
  await expect(field).toHaveValue(/^fwi_/);
  expect(await identify(email, fromNode)).toBe('forbidden');
});

test('a signed-out visit makes no failing request and logs no error (the icon included)', async ({ page }) => {
  const failed = [];
  const errors = [];
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(dash(fw));
  await expect(page.locator('form.login-card')).toBeVisible();
  await page.waitForLoadState('networkidle');
  expect(failed).toEqual([]);
  expect(errors).toEqual([]);
  // Signed in and out again: the same on the next visit.
  await login(page, fw, 'admin@demo.example');
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await expect(page.locator('form.login-card')).toBeVisible();
  await page.reload();
  await expect(page.locator('form.login-card')).toBeVisible();
  await page.waitForLoadState('networkidle');
  expect(failed).toEqual([]);
  expect(errors).toEqual([]);
});

test('a session from before the signed-in hint is still found (no new sign-in after an upgrade)', async ({ page, context }) => {
  const res = await fetch(`${fw.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@demo.example', password: fw.password }) });
  const session = res.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('fw_session='));
  const url = new URL(fw.url);
  await context.addCookies([{ name: 'fw_session', value: session.slice('fw_session='.length), domain: url.hostname, path: '/', httpOnly: true, sameSite: 'Lax' }]);
  await page.goto(dash(fw));
  await page.locator('#sidebar nav a').first().waitFor({ state: 'attached' });
  expect((await context.cookies()).some((c) => c.name === 'fw_signed_in' && c.value === '1')).toBe(true);
});

test('Live now: an approved expert with no stores is not available; busy is online, not available', async ({ page }) => {
  const pending = (await admin('GET', '/team/experts?status=pending')).items[0];
  await admin('POST', `/team/experts/${pending.id}/approve`);
  const lone = await Expert.connect(fw, 'pending@demo.example');
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/analytics');
  const strip = page.locator('.live-strip');
  await expect(strip.locator('[data-live="experts"] dd')).toHaveText('0');
  await expect(strip.locator('[data-live="online"] dd')).toHaveText('0');
  const e1 = await Expert.connect(fw, 'expert1@demo.example');
  await expect(strip.locator('[data-live="experts"] dd')).toHaveText('1');
  await expect(strip.locator('[data-live="online"] dd')).toHaveText('1');
  await expect(strip.locator('.live-stores')).toContainText('online 1');
  lone.close();
  e1.close();
});

test('Shoppers: last seen moves on a return visit; the contact follows the expert who served last', async ({ page }) => {
  const first = await Shopper.connect(fw);
  const [sara, johan] = [await Expert.connect(fw, 'expert1@demo.example'), await Expert.connect(fw, 'expert2@demo.example')];
  const { items: stores } = await admin('GET', '/stores');
  const sthlm = stores.find((s) => s.name === 'Stockholm Flagship');
  const c = await first.requestChat({ store_id: sthlm.id, department_id: sthlm.departments[0].id, text: 'Hi' });
  await sara.claim(c.id);
  const johanId = johan.welcome.expert.id;
  sara.send({ type: 'transfer', conversation_id: c.id, expert_id: johanId });
  await johan.next((f) => f.type === 'offer' && f.offer.conversation_id === c.id && f.offer.reason === 'transfer', 15_000);
  johan.send({ type: 'claim', conversation_id: c.id });
  await johan.next((f) => f.type === 'conversation' && f.conversation.id === c.id && f.conversation.status === 'claimed');
  first.close();

  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/shoppers');
  await page.getByLabel('Shopper ID').fill(first.id);
  await page.getByRole('button', { name: 'Find' }).click();
  const seen = page.locator('dd[data-ms]');
  const before = Number(await seen.getAttribute('data-ms'));
  const contact = page.getByRole('region', { name: 'Contact expert' });
  await expect(contact.locator('[data-contact="current"]')).toContainText('Johan Ek, since');
  await expect(contact.locator('[data-contact="earlier"]')).toContainText('Sara Lind, until');

  // The shopper is back on the site (the widget connects with its token).
  await new Promise((r) => setTimeout(r, 50));
  const back = await Shopper.connect(fw, first.token);
  expect(back.id).toBe(first.id);
  await waitFor(async () => {
    await page.getByRole('button', { name: 'Find' }).click();
    await page.locator('dd[data-ms]').waitFor();
    return Number(await page.locator('dd[data-ms]').getAttribute('data-ms')) > before;
  }, { what: 'last seen to move' });
  back.close();
  sara.close();
  johan.close();
});

test('Analytics: days in the merchant\'s time zone, chosen in Settings → Routing', async ({ page }) => {
  const routing = await admin('GET', '/settings/routing');
  await admin('PUT', '/settings/routing', { ...routing, report_timezone: 'Asia/Tehran' });
  await login(page, fw, 'admin@demo.example');
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tehran', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  // "Today" is Tehran's today, whatever the browser's zone: the request names it.
  const asked = page.waitForRequest((r) => r.url().includes('/api/v1/analytics?') && new URL(r.url()).searchParams.get('to') !== null &&
    new URL(r.url()).searchParams.get('from') === today);
  await page.goto(dash(fw) + '#/analytics?range=today');
  const url = new URL((await asked).url());
  expect(url.searchParams.get('tz')).toBe('Asia/Tehran');
  const tomorrow = new Date(Date.parse(today + 'T00:00:00Z') + 86_400_000).toISOString().slice(0, 10);
  expect(url.searchParams.get('to')).toBe(tomorrow);
  await expect(page.locator('[data-zone="Asia/Tehran"]')).toBeVisible();
  // The hours run from the merchant's midnight.
  await page.getByRole('button', { name: 'Show as table' }).first().click();
  const firstRow = page.locator('table').first().locator('tbody tr').first();
  await expect(firstRow).toContainText('12:00 AM');
  const data = await page.evaluate(async (u) => (await fetch(u)).json(), url.pathname + url.search);
  expect(data.time_zone).toBe('Asia/Tehran');
  expect(new Date(data.from).toISOString()).toMatch(/T20:30:00/);

  // Back to automatic in Settings: the first store's zone (Stockholm).
  await page.goto(dash(fw) + '#/settings/routing');
  const select = page.getByLabel('Time zone for analytics');
  await expect(select).toHaveValue('Asia/Tehran');
  await select.selectOption('');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await waitFor(async () => (await admin('GET', '/settings/routing')).report_timezone === null, { what: 'the setting saved' });
  await page.goto(dash(fw) + '#/analytics?range=today');
  await expect(page.locator('[data-zone="Europe/Stockholm"]')).toBeVisible();
});

test('every plural text has the forms its language needs', async () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  let plurals = 0;
  for (const code of ['en', 'sv', 'de', 'el', 'cs', 'fa']) {
    const b = await esbuild.build({ entryPoints: [join(root, `src/i18n/${code}.ts`)], bundle: true, format: 'esm', platform: 'neutral', write: false });
    const file = join(mkdtempSync(join(tmpdir(), 'fw-dash-lang-')), 'm.mjs');
    writeFileSync(file, b.outputFiles[0].text);
    const msgs = (await import(pathToFileURL(file).href))[code];
    const needed = new Intl.PluralRules(code).resolvedOptions().pluralCategories;
    for (const [key, m] of Object.entries(msgs)) {
      if (typeof m === 'string') continue;
      plurals++;
      for (const c of needed) expect(typeof m[c], `${code} ${key}: "${c}"`).toBe('string');
    }
  }
  expect(plurals).toBeGreaterThan(15);
});
