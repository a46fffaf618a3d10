import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import {
  apiKey, csvObjects, dash, demoStores, Expert, expectNoSeriousViolations, fullChat, login, reportOrder, session, Shopper,
  startDemoServer,
} from './helpers.mjs';

// Day buckets are UTC days: run the browser in UTC so "today" is one bucket for the CSV comparison.
test.use({ timezoneId: 'UTC' });
test.describe.configure({ mode: 'serial' });

let fw, admin, stores, expert1, expert3, secret;
test.beforeAll(async () => {
  fw = await startDemoServer();
  admin = await session(fw, 'admin@demo.example');
  stores = await demoStores(admin);
  secret = await apiKey(admin, 'Shop orders');
});
test.afterAll(async () => {
  expert1?.close();
  expert3?.close();
  await fw?.stop();
});

const kpi = (page, id) => page.locator(`[data-kpi="${id}"] .kpi-value`).first();

test('the page follows chats live: requested, claimed, rated and an order, without a reload', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/analytics?range=today');
  await expect(kpi(page, 'requested')).toHaveText('0');
  await expect(kpi(page, 'claim_rate')).toContainText('—');
  await expect(page.locator('.live-strip')).toContainText('Updating live');
  // Nothing yet: the charts say so instead of drawing zeros.
  await expect(page.getByText('No chats in this period.')).toBeVisible();
  await page.evaluate(() => { window.__sameDocument = true; });

  expert1 = await Expert.connect(fw, 'expert1@demo.example');
  await expect(page.locator('[data-live="experts"] dd')).toHaveText('1', { timeout: 5000 });

  const sthlm = stores['Stockholm Flagship'];
  const shopper = await Shopper.connect(fw);
  const c = await shopper.requestChat({ store_id: sthlm.id, department_id: sthlm.dept['TV & Audio'], text: 'Is the 55" in stock?' });
  await expect(kpi(page, 'requested')).toHaveText('1', { timeout: 5000 });
  await expect(page.locator('[data-live="waiting"] dd')).toHaveText('1', { timeout: 5000 });

  await expert1.claim(c.id);
  await expect(kpi(page, 'claimed')).toHaveText('1', { timeout: 5000 });
  await expect(kpi(page, 'claim_rate')).toHaveText('100%');
  await expect(page.locator('[data-live="active"] dd')).toHaveText('1', { timeout: 5000 });

  await expert1.say(c.id, 'Yes, two left!');
  await shopper.end(c.id);
  await shopper.rate(c.id, 4, 'Quick');
  await expect(kpi(page, 'csat')).toContainText('4.00', { timeout: 5000 });
  await expect(page.locator('[data-kpi="csat"]')).toContainText('Ratings: 1');

  await reportOrder(fw, secret, { order_id: 'A-1001', shopper_id: shopper.id, amount: '129.90', currency: 'EUR', status: 'paid' });
  await expect(kpi(page, 'orders')).toHaveText('1', { timeout: 5000 });
  await expect(page.locator('[data-kpi="revenue"] [data-currency="EUR"]')).toHaveText('€129.90');

  // The per-expert and per-store tables name who did it.
  await expect(page.getByRole('region', { name: 'Per expert' }).getByRole('row', { name: /Sara Lind/ })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Per store' }).getByRole('row', { name: /Stockholm Flagship/ })).toContainText('€129.90');
  expect(await page.evaluate(() => window.__sameDocument)).toBe(true);
  shopper.close();
});

test('charts have a table view with the same numbers', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/analytics?range=today');
  const chart = page.locator('figure.chart').first();
  await expect(chart.locator('svg[role="img"]')).toBeVisible();
  await expect(chart.locator('svg desc')).toContainText('Chats requested: highest 1');
  const toggle = chart.getByRole('button', { name: 'Show as table' });
  await toggle.click();
  await expect(chart.getByRole('button', { name: 'Hide table' })).toHaveAttribute('aria-expanded', 'true');
  const table = chart.getByRole('table');
  await expect(table.getByRole('columnheader')).toHaveText(['Period', 'Chats requested', 'Claimed', 'Missed']);
  const sums = await table.locator('tbody tr').evaluateAll((rows) => rows.reduce((acc, r) => {
    const cells = [...r.querySelectorAll('td')].map((td) => Number(td.textContent));
    return acc.map((a, i) => a + cells[i]);
  }, [0, 0, 0]));
  expect(sums).toEqual([1, 1, 0]);
});

test('per-expert table sorts from the keyboard and says so with aria-sort', async ({ page }) => {
  // A second store's chat so the store filter really filters.
  expert3 = await Expert.connect(fw, 'expert3@demo.example');
  const berlin = stores['Berlin Mitte'];
  // Expert 3 (Amira Haddad) covers Berlin's TV & Audio; Berlin keeps shop hours, so fall back to Stockholm when it is closed.
  const sthlm = stores['Stockholm Flagship'];
  let where = { store_id: berlin.id, department_id: berlin.dept['TV & Audio'] };
  try {
    const probe = await Shopper.connect(fw);
    const c = await probe.requestChat({ ...where, text: 'Wall mounts?' });
    await expert3.claim(c.id);
    await expert3.say(c.id, 'Yes, in aisle 4.');
    await probe.end(c.id);
    await probe.rate(c.id, 5);
    probe.close();
  } catch {
    where = { store_id: sthlm.id, department_id: sthlm.dept['Kitchen'] };
    await fullChat(fw, expert3, { ...where, rating: 2 });
  }

  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/analytics?range=today');
  const region = page.getByRole('region', { name: 'Per expert' });
  await expect(region.locator('tbody tr')).toHaveCount(2);
  const name = region.getByRole('columnheader', { name: 'Expert' });
  await expect(name).not.toHaveAttribute('aria-sort');
  await name.getByRole('button').focus();
  await page.keyboard.press('Enter');
  await expect(name).toHaveAttribute('aria-sort', 'ascending');
  const names = () => region.locator('tbody th').allTextContents();
  const asc = await names();
  expect(asc).toEqual([...asc].sort((a, b) => a.localeCompare(b)));
  await page.keyboard.press('Space');
  await expect(name).toHaveAttribute('aria-sort', 'descending');
  expect(await names()).toEqual([...asc].reverse());
  await expectNoSeriousViolations(page, 'analytics with data');
});

test('filters live in the URL and survive a reload; a bad custom range is explained', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/analytics');
  await page.getByLabel('Custom').check();
  await expect(page).toHaveURL(/range=custom/);
  await page.getByLabel('From').fill('2026-03-10');
  await page.getByLabel('To (inclusive)').fill('2026-03-01');
  await expect(page.getByRole('alert')).toHaveText('The start date must not be after the end date.');
  await page.getByLabel('To (inclusive)').fill('2026-03-12');
  await expect(page.getByRole('alert')).toHaveCount(0);
  await expect(page).toHaveURL(/from=2026-03-10&to=2026-03-12/);
  await page.reload();
  await expect(page.getByLabel('From')).toHaveValue('2026-03-10');
  await expect(kpi(page, 'requested')).toHaveText('0');
  await expect(page.locator('.as-of')).toContainText('Per hour');
});

test('Persian: numbers and currency in Persian digits, right-to-left, nothing overflows on a phone', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await login(page, fw, 'admin@demo.example', { lang: 'fa' });
  await page.goto(dash(fw) + '#/analytics?range=today');
  await expect(page.locator('html')).toHaveAttribute('dir', 'rtl');
  await expect(kpi(page, 'orders')).toHaveText('۱');
  await expect(page.locator('[data-kpi="revenue"] [data-currency="EUR"]')).toContainText('۱۲۹');
  // Once the charts and tables have laid out, nothing is wider than the phone. (Polled: on a
  // busy CI machine a first measurement can catch the page mid-layout.) The message names the
  // widest elements, so a real overflow says where it is.
  await expect
    .poll(
      () =>
        page.evaluate(() => {
          const w = document.documentElement.scrollWidth;
          if (w <= 390) return w;
          const wide = [...document.querySelectorAll('body *')]
            .filter((el) => el.getBoundingClientRect().width > 390 || el.getBoundingClientRect().left < 0)
            .slice(-3)
            .map((el) => `${el.tagName.toLowerCase()}.${el.className}`);
          return `${w}: ${wide.join(', ')}`;
        }),
      { timeout: 10_000 },
    )
    .toBeLessThanOrEqual(390);
  await expectNoSeriousViolations(page, 'fa analytics');
});

test('an account without Analytics and Exports sees neither and gets 403 from their APIs', async ({ page, browser }) => {
  const operator = await session(fw, 'operator@demo.example');
  await operator('POST', '/access/accounts', {
    role: 'merchant', merchant_id: fw.merchantId, name: 'Stella Stores', email: 'stella@demo.example', password: fw.password, modules: ['stores'],
  });
  await operator('POST', '/access/accounts', {
    role: 'merchant', merchant_id: fw.merchantId, name: 'Anna Analyst', email: 'anna@demo.example', password: fw.password, modules: ['analytics'],
  });

  await login(page, fw, 'stella@demo.example');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link')).toHaveText(['Stores']);
  await page.goto(dash(fw) + '#/analytics');
  await expect(page.locator('main h1')).toHaveText('Page not found');
  await page.goto(dash(fw) + '#/exports');
  await expect(page.locator('main h1')).toHaveText('Page not found');
  const stella = await session(fw, 'stella@demo.example');
  expect((await stella.raw('GET', '/analytics')).status).toBe(403);
  expect((await stella.raw('GET', '/analytics/live')).status).toBe(403);
  expect((await stella.raw('GET', '/exports/metrics.csv')).status).toBe(403);
  expect((await stella.raw('GET', '/exports/transcripts.csv')).status).toBe(403);

  // Analytics only: the page works without the Stores and Team modules (filters from the
  // public store list), and offers no export.
  const ctx = await browser.newContext({ timezoneId: 'UTC' });
  const p2 = await ctx.newPage();
  await login(p2, fw, 'anna@demo.example');
  await expect(p2.getByRole('navigation', { name: 'Main' }).getByRole('link')).toHaveText(['Analytics']);
  await p2.goto(dash(fw) + '#/analytics?range=today');
  await expect(kpi(p2, 'requested')).not.toHaveText('0');
  await expect(p2.getByLabel('Store', { exact: true }).locator('option')).toHaveText(['All stores', 'Stockholm Flagship', 'Berlin Mitte']);
  await expect(p2.getByRole('link', { name: 'Export these figures' })).toHaveCount(0);
  const anna = await session(fw, 'anna@demo.example');
  expect((await anna.raw('GET', '/exports/metrics.csv')).status).toBe(403);
  await ctx.close();
});

test('the figures for a filter equal the metrics CSV exported for the same filter', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/analytics?range=today');
  await page.getByLabel('Store', { exact: true }).selectOption({ label: 'Stockholm Flagship' });
  await expect(page).toHaveURL(/store=/);
  await expect(page.locator('.analytics')).not.toHaveClass(/is-stale/);
  const shown = {};
  for (const id of ['requested', 'claimed', 'claim_rate', 'missed', 'time_to_claim', 'first_response', 'messages', 'csat', 'orders']) {
    shown[id] = await kpi(page, id).getAttribute('data-value');
  }
  const revenue = await page.locator('[data-kpi="revenue"] [data-currency="EUR"]').getAttribute('data-value');
  const requestedText = await kpi(page, 'requested').textContent();

  await page.getByRole('link', { name: 'Export these figures' }).click();
  await expect(page.locator('main h1')).toHaveText('Exports');
  await expect(page.getByLabel('Metrics')).toBeChecked();
  await expect(page.getByLabel('Store', { exact: true })).toHaveValue(stores['Stockholm Flagship'].id);
  await expect(page.getByLabel('Today')).toBeChecked();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  expect(download.suggestedFilename()).toMatch(/^floorwalker-metrics-.*\.csv$/);
  const rows = csvObjects(readFileSync(await download.path(), 'utf8'));
  expect(rows).toHaveLength(1); // one UTC day, whole business (by=merchant)
  const r = rows[0];
  expect(r.store_id).toBe('');
  const same = (csv, ui) => expect(csv === '' ? '' : String(Number(csv)), `${csv} vs ${ui}`).toBe(ui === '' ? '' : String(Number(ui)));
  same(r.requested, shown.requested);
  same(r.claimed, shown.claimed);
  same(r.claim_rate, shown.claim_rate);
  same(r.missed, shown.missed);
  same(r.time_to_claim_p50_s, shown.time_to_claim);
  same(r.first_response_p50_s, shown.first_response);
  same(r.messages, shown.messages);
  same(r.csat_avg, shown.csat);
  same(r.orders, shown.orders);
  same(r.revenue_EUR, revenue);
  expect(requestedText).toBe(r.requested);
});

test('after the live socket drops, the page reconnects and keeps following chats', async ({ page }) => {
  let sockets = 0;
  let first;
  await page.routeWebSocket(/\/ws\/dashboard/, (ws) => {
    sockets++;
    ws.connectToServer();
    if (sockets === 1) first = ws;
  });
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/analytics?range=today');
  await expect(page.locator('.live-state')).toHaveText('Updating live');
  const before = Number(await kpi(page, 'requested').getAttribute('data-value'));
  await first.close({ code: 1011, reason: 'test' });
  await expect.poll(() => sockets).toBe(2);
  await expect(page.locator('.live-state')).toHaveText('Updating live');
  const sthlm = stores['Stockholm Flagship'];
  await fullChat(fw, expert1, { store_id: sthlm.id, department_id: sthlm.dept['Furniture'] });
  await expect(kpi(page, 'requested')).toHaveText(String(before + 1), { timeout: 5000 });
});
