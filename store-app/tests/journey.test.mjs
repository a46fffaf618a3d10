// The shopper's journey: the pages a shopper reports with `context` before asking for a chat
// reach the expert on the offer card (compact, newest first) and in the chat's shopper info
// (full list, links to new tabs), as text only, in every language and at 360 px.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, axe, expertHome, launch, shopper, startStack, stockholm } from './support/harness.mjs';

let stack, browser, place;
before(async () => {
  stack = await startStack();
  browser = await launch();
  place = await stockholm(stack.base, stack.password);
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const XSS_TITLE = '<img src=x onerror="window.__xss=1">Gift cards';
const PAGES = [
  { page_url: 'https://shop.example/', page_title: 'Nordhem — Home' },
  { page_url: 'https://shop.example/gift-cards', page_title: XSS_TITLE },
  { page_url: 'https://shop.example/tv', page_title: 'TVs' },
  {
    page_url: 'https://shop.example/tv/55', page_title: '55" Aurora OLED TV',
    product: { id: 'tv-55', name: 'Aurora 55" OLED', price: 12990, currency: 'SEK', url: 'https://shop.example/tv/55' },
  },
];

/** The text as seen (without the screen-reader-only parts), whitespace collapsed. */
const seen = (loc) => loc.evaluate((el) => {
  const c = el.cloneNode(true);
  c.querySelectorAll('.sr-only').forEach((x) => x.remove());
  return c.textContent.replace(/\s+/g, ' ').trim();
});

/** Page views are written off the request path: wait until the server has them all. */
async function pagesRecorded(shopperId, n) {
  const a = await admin(stack.base, stack.password);
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    const r = await a.get(`/api/v1/shoppers/${shopperId}/journey`);
    if (r.status === 200 && r.data.page_views.length >= n) return r.data.page_views;
    await sleep(100);
  }
  throw new Error(`the server did not record ${n} page views for ${shopperId}`);
}

test('pages sent with context show on the offer and in the shopper info, as text, in en and fa at 360 px', { timeout: 120_000 }, async () => {
  const one = await expertHome(browser, stack, 'expert1@demo.example');
  // A colleague in the same department reads Persian on the smallest phone.
  const two = await expertHome(browser, stack, 'expert2@demo.example');
  await two.page.setViewportSize({ width: 360, height: 740 });
  await two.page.evaluate(() => localStorage.setItem('fw.app.lang', 'fa'));
  await two.page.reload();
  await two.page.locator('.shell[data-conn="online"]').waitFor({ timeout: 15_000 });

  const s = await shopper(stack.base, stack.merchantId);
  // The server refuses pages that are not web pages (a javascript: URL never reaches an expert).
  s.send({ type: 'context', page_url: 'javascript:window.__xss=1', page_title: XSS_TITLE });
  await s.waitFor((f) => f.type === 'error', 5_000, 'the javascript: page refused');
  for (const ctx of PAGES) {
    s.send({ type: 'context', ...ctx });
    await sleep(30); // distinct timestamps, so "newest first" is well defined
  }
  const views = await pagesRecorded(s.welcome.shopper_id, PAGES.length);
  assert.equal(views[0].title, '55" Aurora OLED TV');
  s.send({ type: 'request_chat', store_id: place.store.id, department_id: place.department.id, page_url: 'https://shop.example/tv/55', text: 'Does it fit a 300×300 wall mount?', client_msg_id: 'j-1' });
  const id = (await s.waitFor((f) => f.type === 'conversation', 10_000, 'conversation')).conversation.id;

  // The offer card: the newest page prominent, its product with price, older pages after "Before".
  const card = one.page.locator(`[data-offer="${id}"]`);
  const j = card.locator('.offer-journey');
  await j.locator('.oj-title').filter({ hasText: '55" Aurora OLED TV' }).waitFor({ timeout: 10_000 });
  assert.equal(await seen(j.locator('.oj-pname')), 'Aurora 55" OLED');
  assert.equal(await seen(j.locator('.oj-price')), '· SEK 12,990.00');
  assert.match(await j.locator('.oj-ago').innerText(), /now|second/);
  const beforeText = await seen(j.locator('.oj-before'));
  assert.ok(beforeText.startsWith('Before'), beforeText);
  const order = ['TVs', XSS_TITLE, 'Nordhem — Home'].map((x) => beforeText.indexOf(x));
  assert.ok(order.every((i, k) => i > 0 && (k === 0 || i > order[k - 1])), `older pages, newest first: ${beforeText}`);
  // The request's page is the newest page: not repeated as a separate "Page" line.
  assert.equal(await card.locator('.offer-ctx').count(), 0);
  // Titles are text: no element came from the shopper's markup, nothing ran.
  assert.equal(await card.locator('img').count(), 0);
  assert.equal(await one.page.evaluate(() => window.__xss), undefined);
  // Screen readers get the parts in order, separated by commas rather than dots.
  const spoken = await j.evaluate((el) => {
    const out = [];
    const walk = (n) => {
      if (n.nodeType === 3) out.push(n.textContent);
      else if (n.nodeType === 1 && n.getAttribute('aria-hidden') !== 'true') n.childNodes.forEach(walk);
    };
    walk(el);
    return out.join('').replace(/\s+/g, ' ');
  });
  assert.match(spoken, /^Viewed ?55" Aurora OLED TV, (now|\d+ sec)/);
  assert.doesNotMatch(spoken, /·/);
  // Truncated lines clip everything in them (screen-reader text included): no sideways scroll.
  // (On a phone the layout viewport would grow to fit, so compare with the device width.)
  const wide = await one.page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.deepEqual(wide, [390, 390], 'the home screen is wider than the phone');
  const v = await axe(one.page);
  assert.deepEqual(v, [], `home with a journey: ${JSON.stringify(v, null, 1)}`);

  // Persian at 360 px: translated, right to left, one line per part, nothing sticks out.
  const fa = two.page.locator(`[data-offer="${id}"] .offer-journey`);
  await fa.locator('.oj-title').filter({ hasText: '55" Aurora OLED TV' }).waitFor({ timeout: 10_000 });
  assert.equal(await two.page.evaluate(() => document.documentElement.dir), 'rtl');
  assert.ok((await fa.locator('.oj-now').innerText()).includes('بازدید'));
  assert.ok((await fa.locator('.oj-before').innerText()).includes('پیش از آن'));
  const fit = await two.page.locator(`[data-offer="${id}"]`).evaluate((el) => ({
    card: el.scrollWidth - el.clientWidth,
    page: Math.max(document.documentElement.scrollWidth, window.innerWidth) - 360,
    oneLine: [...el.querySelectorAll('.offer-journey p')].every((p) => p.getBoundingClientRect().height < parseFloat(getComputedStyle(p).fontSize) * 2),
  }));
  assert.ok(fit.card <= 0 && fit.page <= 0 && fit.oneLine, `at 360px: ${JSON.stringify(fit)}`);
  const v2 = await axe(two.page);
  assert.deepEqual(v2, [], `fa home with a journey: ${JSON.stringify(v2, null, 1)}`);

  // Claimed: the shopper info lists every page with its time; links open a new tab, safely.
  await card.locator('button.claim').click();
  await one.page.locator('.transcript').getByText('Does it fit a 300×300 wall mount?').waitFor();
  const openInfo = async () => {
    await one.page.getByRole('button', { name: 'Shopper info' }).click();
    const info = one.page.getByRole('dialog', { name: 'Shopper info' });
    await info.locator('.steps').waitFor();
    return info;
  };
  let info = await openInfo();
  const steps = info.locator('.steps > li');
  assert.equal(await steps.count(), 4);
  assert.deepEqual(await steps.locator('.step-link').allInnerTexts().then((a) => a.map((x) => x.replace(/\s*\(opens in a new tab\)/, ''))),
    ['55" Aurora OLED TV', 'TVs', XSS_TITLE, 'Nordhem — Home']);
  const newest = info.getByRole('link', { name: '55" Aurora OLED TV (opens in a new tab)' });
  assert.equal(await newest.getAttribute('href'), 'https://shop.example/tv/55');
  assert.equal(await newest.getAttribute('target'), '_blank');
  assert.equal(await newest.getAttribute('rel'), 'noopener noreferrer');
  assert.equal(await info.locator('a[target=_blank]:not([rel="noopener noreferrer"])').count(), 0);
  // The page whose title carries markup is linked by its https address, its title shown as text.
  assert.equal(await steps.nth(2).locator('a').getAttribute('href'), 'https://shop.example/gift-cards');
  assert.equal(await info.locator('a[href^="javascript:"]').count(), 0);
  assert.equal(await info.locator('.steps img').count(), 0);
  await steps.nth(0).getByText('shop.example/tv/55').waitFor();
  await steps.nth(0).locator('.step-product').getByText('Aurora 55" OLED').waitFor();
  assert.match(await steps.nth(0).locator('time').getAttribute('datetime'), /^\d{4}-\d\d-\d\dT/);
  assert.match(await steps.nth(0).locator('time').innerText(), /now|second|minute/);
  // By keyboard: from the sheet's close button, Tab reaches the newest page's link.
  await info.getByRole('button', { name: 'Close' }).focus();
  await one.page.keyboard.press('Tab');
  assert.equal(await one.page.evaluate(() => document.activeElement?.getAttribute('href')), 'https://shop.example/tv/55');
  const v3 = await axe(one.page);
  assert.deepEqual(v3, [], `shopper info with a journey: ${JSON.stringify(v3, null, 1)}`);
  await info.getByRole('button', { name: 'Close' }).click();

  // The pages stay with the chat on this device after a reload (conversations do not carry them).
  await one.page.reload();
  await one.page.locator('.shell[data-conn="online"], .chat-wrap[data-conn="online"]').first().waitFor({ timeout: 15_000 });
  if (!(await one.page.getByRole('button', { name: 'Shopper info' }).isVisible())) await one.page.locator(`[data-chat="${id}"]`).click();
  info = await openInfo();
  assert.equal(await info.locator('.steps > li').count(), 4);
  await info.getByRole('button', { name: 'Close' }).click();

  assert.equal(await one.page.evaluate(() => window.__xss), undefined);
  assert.deepEqual([...(one.page.errors ?? []), ...(two.page.errors ?? [])], []);
  s.close();
  await one.ctx.close();
  await two.ctx.close();
});

test('a shopper without context: the offer shows the request page as before, no journey block', { timeout: 60_000 }, async () => {
  const one = await expertHome(browser, stack, 'expert3@demo.example');
  const s = await shopper(stack.base, stack.merchantId);
  s.send({ type: 'request_chat', store_id: place.store.id, department_id: place.department.id, page_url: 'https://shop.example/kitchen/pans', text: 'Cast iron?', client_msg_id: 'j-2' });
  const id = (await s.waitFor((f) => f.type === 'conversation', 10_000, 'conversation')).conversation.id;
  const card = one.page.locator(`[data-offer="${id}"]`);
  await card.getByText('shop.example/kitchen/pans').waitFor({ timeout: 10_000 });
  assert.equal(await card.locator('.offer-journey').count(), 0);
  s.send({ type: 'end', conversation_id: id });
  await card.waitFor({ state: 'detached', timeout: 10_000 });
  s.close();
  await one.ctx.close();
});
