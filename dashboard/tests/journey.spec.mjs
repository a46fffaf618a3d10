import { test, expect } from '@playwright/test';
import { apiKey, dash, demoStores, Expert, expectNoSeriousViolations, login, reportOrder, session, Shopper, sleep, startDemoServer } from './helpers.mjs';

let fw, expert;
test.beforeAll(async () => { fw = await startDemoServer(); });
test.afterAll(async () => { expert?.close(); await fw?.stop(); });

test('the journey shows page views, the conversation, the attributed order and its stage', async ({ page, browser }) => {
  const admin = await session(fw, 'admin@demo.example');
  const stores = await demoStores(admin);
  const s = stores['Stockholm Flagship'];
  expert = await Expert.connect(fw, 'expert1@demo.example');
  const shopper = await Shopper.connect(fw);
  shopper.viewed('https://shop.example/tv', 'TVs – Nordhem');
  await sleep(20);
  shopper.viewed('https://shop.example/tv/oled-55', 'OLED 55" – Nordhem', { id: 'oled-55', name: 'OLED 55"', price: 1299, currency: 'EUR', url: 'https://shop.example/tv/oled-55' });
  const c = await shopper.requestChat({ store_id: s.id, department_id: s.dept['TV & Audio'], page_url: 'https://shop.example/tv/oled-55', text: 'Is it in stock?' });
  await expert.claim(c.id);
  await expert.say(c.id, 'Yes, two left.');
  await shopper.end(c.id);
  await shopper.rate(c.id, 5, 'Great');
  const secret = await apiKey(admin);
  await reportOrder(fw, secret, { order_id: 'J-2001', shopper_id: shopper.id, amount: '1299.00', currency: 'EUR', status: 'placed' });
  // The merchant ships it: a stage line with the carrier and tracking number in the journey.
  await admin('POST', '/orders/J-2001/stage', { stage: 'shipped', carrier: 'PostNord', tracking_number: 'PN42SE' });
  shopper.close();

  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/shoppers');
  await page.getByLabel('Shopper ID').fill(shopper.id);
  await page.getByRole('button', { name: 'Find' }).click();
  const journey = page.getByRole('region', { name: 'Journey' });
  await expect(journey).toBeVisible();
  const timeline = journey.getByRole('list', { name: 'Timeline, newest first' });
  await expect(timeline).toContainText('Viewed TVs – Nordhem');
  await expect(timeline).toContainText('OLED 55" – Nordhem');
  await expect(timeline).toContainText('Asked for a chat');
  await expect(timeline).toContainText('Sara Lind took the chat');
  await expect(timeline).toContainText('Rated the chat 5 of 5');
  await expect(timeline).toContainText('Placed an order');
  await expect(journey.locator('[data-count="page_views"] dd')).toHaveText('2');
  await expect(journey.locator('[data-count="orders"] dd')).toHaveText('1');
  await expect(timeline).toContainText('OLED 55" · €1,299.00');
  await expect(timeline).toContainText('Order J-2001: Shipped (PostNord PN42SE)');

  const convs = page.getByRole('region', { name: 'Conversations' });
  const row = convs.getByRole('row').nth(1);
  await expect(row).toContainText('Stockholm Flagship');
  await expect(row).toContainText('TV & Audio');
  await expect(row).toContainText('Sara Lind');
  await expect(row).toContainText('Ended');
  await expect(row).toContainText('5 of 5');

  const orders = page.getByRole('region', { name: 'Orders' });
  const orow = orders.getByRole('row', { name: /J-2001/ });
  await expect(orow).toContainText('€1,299.00');
  await expect(orow).toContainText('Placed');
  await expect(orow).toContainText('Sara Lind');
  await expectNoSeriousViolations(page, 'shopper journey');

  // The same journey on a phone in Persian: the stage line is translated, right to left.
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const phone = await ctx.newPage();
  await login(phone, fw, 'admin@demo.example', { lang: 'fa' });
  await phone.goto(dash(fw) + '#/shoppers?id=' + encodeURIComponent(shopper.id));
  expect(await phone.evaluate(() => document.documentElement.dir)).toBe('rtl');
  const stageLine = phone.locator('li', { hasText: 'J-2001' }).filter({ hasText: 'PN42SE' }).first();
  await expect(stageLine).toBeVisible();
  await expect(stageLine).not.toContainText('Shipped');
  await stageLine.scrollIntoViewIfNeeded();
  expect(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  await phone.screenshot({ path: `${process.env.SHOTS_DIR || '/tmp/dashboard-shots'}/journey-order-stage-fa-phone.png` });
  await expectNoSeriousViolations(phone, 'shopper journey, Persian phone');
  await ctx.close();
});

test('a shopper with nothing recorded gets empty states, not made-up rows', async ({ page }) => {
  const fresh = await Shopper.connect(fw);
  fresh.close();
  await login(page, fw, 'admin@demo.example');
  await page.goto(dash(fw) + '#/shoppers');
  await page.getByLabel('Shopper ID').fill(fresh.id);
  await page.getByRole('button', { name: 'Find' }).click();
  await expect(page.getByText('Nothing recorded for this shopper yet.')).toBeVisible();
  await expect(page.getByText('No conversations yet.')).toBeVisible();
  await expect(page.getByText('No orders reported for this shopper.')).toBeVisible();
});
