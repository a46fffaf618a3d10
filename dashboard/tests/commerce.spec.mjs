// Catalogue, Orders and Settings → Checkout (issue 22) in the real dashboard against the real
// server: products by hand and by CSV (a broken file imports nothing and names its rows),
// search, export; an order from a cart sent in a chat and paid through the API, filtered,
// opened (lines, totals, history), moved to shipped with tracking, noted, exported; the
// checkout settings with discovery errors; the module permission; screenshots in Persian (RTL),
// dark mode and at phone width into $SHOTS_DIR (default /tmp/dash-commerce-shots).
import { test, expect } from '@playwright/test';
import { mkdirSync, readFileSync } from 'node:fs';
import { Expert, Shopper, apiKey, csvObjects, dash, demoStores, expectNoSeriousViolations, login, reportOrder, session, startDemoServer } from './helpers.mjs';

const SHOTS = process.env.SHOTS_DIR || '/tmp/dash-commerce-shots';
mkdirSync(SHOTS, { recursive: true });
let fw, api, key, stores;
test.beforeAll(async () => {
  fw = await startDemoServer();
  api = await session(fw, 'admin@demo.example');
  key = await apiKey(api, 'Shop');
  stores = await demoStores(api);
  const cur = await api('GET', '/settings/checkout');
  await api('PUT', '/settings/checkout', { mode: 'hosted', checkout_url: 'https://shop.example/checkout', link_hours: cur.link_hours, reminder_hours: cur.reminder_hours, default_vat_rate: cur.default_vat_rate });
});
test.afterAll(async () => { await fw?.stop(); });

test('catalogue: add a product by hand, search it, a broken CSV imports nothing, a good one does, export', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/catalogue');
  await expect(page.getByRole('heading', { level: 1, name: 'Catalogue' })).toBeVisible();
  await page.getByRole('button', { name: 'New product' }).click();
  const dialog = page.getByRole('dialog', { name: 'New product' });
  await dialog.getByLabel('SKU').fill('has space');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog.getByLabel('SKU')).toHaveAttribute('aria-invalid', 'true');
  await expect(dialog.getByLabel('Price')).toHaveAttribute('aria-invalid', 'true');
  await dialog.getByLabel('SKU').fill('DASH-KETTLE-1');
  await dialog.getByLabel('Name').fill('Kettle “Fjord” 1.7 l');
  await dialog.getByLabel('Price').fill('499.00');
  await dialog.getByLabel('Currency').fill('SEK');
  await dialog.getByLabel('VAT rate (%)').fill('25');
  await page.screenshot({ path: `${SHOTS}/product-dialog.png` });
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toBeHidden();
  await page.getByLabel('Search by name, SKU or GTIN').fill('fjord');
  const row = page.getByRole('row').filter({ hasText: 'DASH-KETTLE-1' });
  await expect(row).toContainText('SEK 499.00');
  await page.getByLabel('Search by name, SKU or GTIN').fill('');

  const bad = 'sku,name,price,currency,vat_rate\nDASH-OK,Fine row,10.00,SEK,25\nDASH-BAD,,ten,SEK,25\n';
  await page.locator('#import-csv').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
  const alert = page.getByRole('alert').filter({ hasText: 'Nothing was imported' });
  await expect(alert).toBeVisible();
  await expect(alert).toContainText('row 3');
  await page.getByLabel('Search by name, SKU or GTIN').fill('DASH-OK');
  await expect(page.getByText('No product matches the search.')).toBeVisible();
  await page.getByLabel('Search by name, SKU or GTIN').fill('');

  const good = 'sku,name,description,price,currency,vat_rate,active\nDASH-OK,Fine row,,10.00,SEK,25,true\nDASH-KETTLE-1,Kettle Fjord 1.7 l,Steel,459.00,SEK,25,yes\n';
  await page.locator('#import-csv').setInputFiles({ name: 'good.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
  await expect(page.getByRole('status').filter({ hasText: 'Import done: 1 new, 1 updated.' })).toBeVisible();
  await page.getByLabel('Search by name, SKU or GTIN').fill('DASH-');
  await expect(page.getByRole('row').filter({ hasText: 'DASH-KETTLE-1' })).toContainText('SEK 459.00');
  await page.screenshot({ path: `${SHOTS}/catalogue.png`, fullPage: true });
  await expectNoSeriousViolations(page, 'catalogue');

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
  const rows = csvObjects(readFileSync(await download.path(), 'utf8'));
  expect(rows.find((r) => r.sku === 'DASH-KETTLE-1')?.price).toBe('459.00');
});

/** A cart sent in a claimed chat and paid through the orders API with its cart reference. */
async function paidCartOrder(orderId, email = 'expert1@demo.example') {
  await api('POST', '/catalogue/products/batch', { products: [
    { sku: 'DASH-TV', name: 'Aurora 55" TV', price: '12990.00', currency: 'SEK', vat_rate: '25' },
    { sku: 'DASH-CABLE', name: 'HDMI cable', price: '199.00', currency: 'SEK', vat_rate: '25' },
  ] });
  const expert = await Expert.connect(fw, email);
  const s = await Shopper.connect(fw);
  const st = stores[Object.keys(stores).find((n) => n.startsWith('Stockholm'))];
  const c = await s.requestChat({ store_id: st.id, department_id: Object.values(st.dept)[0], text: 'A TV please' });
  await expert.claim(c.id);
  const tok = (await (await fetch(`${fw.url}/api/v1/app/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: fw.password }) })).json()).token;
  const r = await fetch(`${fw.url}/api/v1/app/conversations/${c.id}/carts`, {
    method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
    body: JSON.stringify({ lines: [{ sku: 'DASH-TV', quantity: 1 }, { sku: 'DASH-CABLE', quantity: 2, unit_price: '149.00' }, { text: 'Wall mounting', quantity: 1, unit_price: '990.00' }] }),
  });
  const cart = await r.json();
  expect(r.status, JSON.stringify(cart)).toBe(201);
  const go = await fetch(cart.pay_url, { method: 'POST', redirect: 'manual' });
  const ref = new URL(go.headers.get('location')).searchParams.get('floorwalker_cart');
  await reportOrder(fw, key, { order_id: orderId, cart_ref: ref, amount: cart.total, currency: 'SEK', status: 'paid' });
  return { expert, s, conversation: c, cart };
}

test('orders: a paid cart is listed, filtered, opened; shipped with tracking; a note; exported', async ({ page }) => {
  const { expert, s, cart } = await paidCartOrder('D-2001');
  await reportOrder(fw, key, { order_id: 'D-OTHER', shopper_id: s.id, amount: '50.00', currency: 'SEK', status: 'placed' });
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/orders');
  await expect(page.getByRole('row').filter({ hasText: 'D-2001' })).toContainText('SEK 14,278.00');
  await page.getByLabel('Search', { exact: true }).fill('D-2001');
  await expect(page.getByRole('row').filter({ hasText: 'D-OTHER' })).toHaveCount(0);
  await expect(page).toHaveURL(/q=D-2001/);
  await page.screenshot({ path: `${SHOTS}/orders.png`, fullPage: true });
  await expectNoSeriousViolations(page, 'orders');
  // The export carries the same filters.
  const href = await page.locator('#orders-export').getAttribute('href');
  expect(href).toContain('q=D-2001');
  const res = await fetch(fw.url + href, { headers: { cookie: api.cookie } });
  expect(res.status).toBe(200);
  const csv = csvObjects(await res.text());
  expect(csv.map((r) => r.order_id)).toEqual(['D-2001']);
  expect(res.headers.get('x-row-count')).toBe('1');

  await page.getByRole('link', { name: 'Open order D-2001' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Order D-2001' })).toBeVisible();
  const lines = page.locator('table.order-lines');
  await expect(lines).toContainText('Aurora 55" TV');
  await expect(lines).toContainText('Wall mounting');
  await expect(lines.locator('td.num del')).toContainText('199.00');
  await expect(page.locator('.totals-list .grand')).toContainText(cart.total.replace(/\B(?=(\d{3})+(?!\d))/g, ','));

  // new → in progress → shipped (carrier and tracking number required).
  await page.getByLabel('New status').selectOption('in_progress');
  await page.getByRole('button', { name: 'Change status' }).click();
  await expect(page.locator('.order-history li[data-stage="in_progress"]')).toBeVisible();
  await page.getByLabel('New status').selectOption('shipped');
  await page.getByRole('button', { name: 'Change status' }).click();
  await expect(page.getByLabel('Carrier')).toHaveAttribute('aria-invalid', 'true');
  await page.getByLabel('Carrier').fill('PostNord');
  await page.getByLabel('Tracking number').fill('PN987SE');
  await page.getByLabel('Tracking link').fill('https://tracking.example/PN987SE');
  await page.getByRole('button', { name: 'Change status' }).click();
  await expect(page.locator('.order-history li[data-stage="shipped"]')).toContainText('PN987SE');
  // The shopper sees it in the thread.
  const sys = await s.next((f) => f.type === 'message' && f.message.body === 'order_status' && f.message.data?.status === 'shipped');
  expect(sys.message.data.tracking_url).toBe('https://tracking.example/PN987SE');

  await page.getByLabel('New note').fill('Customer asked for delivery after 17:00.');
  await page.getByRole('button', { name: 'Add note' }).click();
  await expect(page.locator('.order-notes')).toContainText('after 17:00');
  expect(s.frames.some((f) => JSON.stringify(f).includes('after 17:00'))).toBe(false);
  await page.screenshot({ path: `${SHOTS}/order-detail.png`, fullPage: true });
  await expectNoSeriousViolations(page, 'order detail');
  expert.close(); s.close();
});

test('settings → checkout: modes, discovery error, saved', async ({ page }) => {
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/settings/checkout');
  await page.getByLabel('UCP permalink').check();
  await page.getByLabel('Shop address', { exact: true }).fill('https://127.0.0.1:9/');
  await page.getByRole('button', { name: 'Find the endpoint' }).click();
  await expect(page.locator('.field-error, [role=alert]').first()).toBeVisible();
  await page.getByLabel('Permalink endpoint', { exact: true }).fill('https://shop.example/buy');
  await page.getByLabel('Remind about unpaid carts after').fill('24');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByText('Saved.')).toBeVisible();
  const saved = await api('GET', '/settings/checkout');
  expect(saved.mode).toBe('permalink');
  expect(saved.permalink_endpoint).toBe('https://shop.example/buy');
  expect(saved.reminder_hours).toBe(24);
  await page.screenshot({ path: `${SHOTS}/checkout.png`, fullPage: true });
  await expectNoSeriousViolations(page, 'checkout settings');
  await page.getByLabel('Hosted payment link').check();
  await page.getByLabel('Checkout URL', { exact: true }).fill('https://shop.example/checkout');
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect.poll(async () => (await api('GET', '/settings/checkout')).mode).toBe('hosted');
});

test('screens in Persian (right to left), dark mode and at phone width', async ({ browser }) => {
  test.setTimeout(240_000);
  const { expert, s } = await paidCartOrder('D-3001', 'expert2@demo.example');
  for (const [lang, scheme, viewport] of [['fa', 'light', { width: 1280, height: 800 }], ['en', 'dark', { width: 1280, height: 800 }], ['sv', 'light', { width: 390, height: 844 }]]) {
    const ctx = await browser.newContext({ colorScheme: scheme, viewport });
    const page = await ctx.newPage();
    await login(page, fw, 'admin@demo.example', { lang });
    for (const [path, name] of [['#/catalogue', 'catalogue'], ['#/orders', 'orders'], ['#/orders/D-3001', 'order'], ['#/settings/checkout', 'checkout']]) {
      await page.goto(dash(fw) + path);
      await page.locator('main h1').waitFor();
      await expect(page.locator('.loading')).toHaveCount(0);
      // Translated (the order page's title is "Order D-3001" in Swedish too: check its first section).
      if (lang !== 'en') await expect(page.locator(name === 'order' ? '#o-sum' : 'main h1')).not.toHaveText(/^(Catalogue|Orders|Summary|Settings)$/);
      expect(await page.evaluate(() => document.documentElement.dir)).toBe(lang === 'fa' ? 'rtl' : 'ltr');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${name} ${lang} overflows sideways`).toBeLessThanOrEqual(0);
      await page.screenshot({ path: `${SHOTS}/${name}-${lang}-${scheme}-${viewport.width}.png`, fullPage: true });
      await expectNoSeriousViolations(page, `${name} ${lang} ${scheme}`);
    }
    await ctx.close();
  }
  expert.close(); s.close();
});

test('an account without the Orders and Catalogue modules sees neither', async ({ page }) => {
  const email = `no-orders-${Date.now()}@demo.example`;
  const op = await session(fw, 'operator@demo.example');
  await op('POST', '/access/accounts', { merchant_id: fw.merchantId, role: 'merchant', email, name: 'No orders', password: fw.password, modules: ['analytics'] });
  await login(page, fw, email);
  await expect(page.locator('#sidebar nav a', { hasText: 'Orders' })).toHaveCount(0);
  await expect(page.locator('#sidebar nav a', { hasText: 'Catalogue' })).toHaveCount(0);
  await page.goto(dash(fw) + '#/orders');
  await expect(page.locator('main h1')).not.toHaveText('Orders');
  const r = await fetch(`${fw.url}/api/v1/orders`, { headers: { cookie: (await session(fw, email)).cookie } });
  expect(r.status).toBe(403);
});
