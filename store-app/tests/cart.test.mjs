// The Cart screen in real Chromium at phone size against the real server (issue 22): search
// by article number, part of a name and without accents; quantity stepper; a price override
// (original struck through); a free-text line; the totals the server computes (VAT per rate);
// sending puts a cart card in both threads; revising replaces the older card; the QR code of
// the pay link, decoded from a screenshot; the pay link by e-mail; the permalink warning; and
// product text shown as text. Screenshots go to $SHOTS_DIR (default /tmp/cart-shots).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { axe, launch, startStack, stockholm } from './support/harness.mjs';
import { claimedOnPhone, seedCatalogue, setCheckout } from './support/commerce.mjs';

const SHOTS = process.env.SHOTS_DIR || '/tmp/cart-shots';
mkdirSync(SHOTS, { recursive: true });
let stack, browser, place, a;
before(async () => {
  stack = await startStack();
  browser = await launch();
  place = await stockholm(stack.base, stack.password);
  a = await seedCatalogue(stack.base, stack.password);
  await setCheckout(a, { mode: 'hosted', checkout_url: 'https://shop.example/checkout' });
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});
const T = { timeout: 120_000 };

async function search(page, q) {
  const box = page.getByRole('searchbox', { name: 'Search the catalogue' });
  await box.fill(q);
  // The answer for this very query (not the previous one's, still on screen while typing).
  await page.locator(`.cart-results[data-q="${q}"][aria-busy="false"] .result`).first().waitFor({ timeout: 10_000 });
  return page.locator('.cart-results .result');
}

test('build a cart: article number, name fragment, accents, stepper, override, free text, server totals; send; revise', T, async () => {
  const { page, ctx, end, s, id } = await claimedOnPhone(browser, stack, place, 'expert1@demo.example');
  await page.getByRole('button', { name: 'Cart', exact: true }).click();
  const dlg = page.getByRole('dialog');
  await dlg.getByRole('heading', { name: /^Cart for / }).waitFor();
  // The search box has focus: typing goes straight in.
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('type')), 'search');

  // Article number, exact: it comes first; Enter adds the first hit.
  let results = await search(page, 'UI-HDMI-2M');
  assert.equal(await results.first().getAttribute('data-sku'), 'UI-HDMI-2M');
  await page.keyboard.press('Enter');
  await page.locator('.cart-line[data-sku="UI-HDMI-2M"]').waitFor();
  // Parts of a name, without the accent: "bravia cafe" finds "Sony Bravia 55\" Café edition".
  results = await search(page, 'bravia cafe');
  assert.equal(await results.first().getAttribute('data-sku'), 'UI-TV-55');
  await results.first().getByRole('button', { name: /Add Sony Bravia/ }).click();
  results = await search(page, 'handbook');
  await results.first().getByRole('button', { name: /Add Home cinema handbook/ }).click();
  // A product whose text looks like HTML is shown as text.
  results = await search(page, 'tricky');
  await results.first().getByRole('button', { name: /Tricky name/ }).click();
  await page.locator('.cart-line[data-sku="UI-<b>X</b>"] .cl-name').filter({ hasText: '<img src=x' }).waitFor();
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await page.getByRole('button', { name: /^Remove <img/ }).click();
  await page.locator('.cart-line[data-sku="UI-<b>X</b>"]').waitFor({ state: 'detached' });

  // Stepper: two cables, then the price override 149 (the original 199 struck through).
  await page.getByRole('button', { name: 'One more HDMI cable 2 m' }).click();
  // The field is already there with 1: wait for the re-render rather than read it at once.
  const qty = page.getByLabel('Quantity of HDMI cable 2 m');
  for (let i = 0; i < 50 && (await qty.inputValue()) !== '2'; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await qty.inputValue(), '2');
  await page.getByRole('button', { name: /^Change price\W+HDMI cable 2 m$/ }).click();
  await page.getByLabel('Unit price of HDMI cable 2 m').fill('149,00');
  await page.keyboard.press('Enter');
  const hdmi = page.locator('.cart-line[data-sku="UI-HDMI-2M"]');
  await hdmi.locator('del.was').filter({ hasText: '199.00' }).waitFor();
  await hdmi.locator('.now').filter({ hasText: '149.00' }).waitFor();

  // A free-text line.
  await page.locator('.free-line summary').click();
  await page.getByLabel('Text', { exact: true }).fill('Installation at home');
  await page.getByLabel('Amount (SEK)').fill('499');
  await page.getByRole('button', { name: 'Add line' }).click();
  await page.locator('.cart-line[data-sku=""] .cl-name').filter({ hasText: 'Installation at home' }).waitFor();

  // The server's totals: 9990 + 2×149 + 249 + 499 = 11036.00; VAT 25 % of 10787.00 = 2157.40,
  // VAT 6 % of 249.00 = 14.09 (half-even to öre).
  const total = page.locator('.totals .grand dd');
  await page.locator('.totals .grand dd[data-total="11036.00"]').waitFor({ timeout: 10_000 });
  assert.match(await total.innerText(), /11,036\.00/);
  const vat = await page.locator('.totals .vat-row').allInnerTexts();
  assert.equal(vat.length, 2, JSON.stringify(vat));
  assert.ok(vat.some((v) => /25%/.test(v) && /2,157\.40/.test(v)), JSON.stringify(vat));
  assert.ok(vat.some((v) => /6%/.test(v) && /14\.09/.test(v)), JSON.stringify(vat));
  assert.match(await page.locator('.totals .sum-row').innerText(), /Sum \(5 items\)/);
  await page.locator('.totals').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SHOTS}/cart-screen.png` });
  assert.deepEqual(await axe(page), []);

  // Send: a card in the expert's thread and a `cart` message to the shopper.
  await page.getByRole('button', { name: 'Send to the chat' }).click();
  await page.getByRole('dialog').waitFor({ state: 'detached' });
  const card = page.locator('.transcript .cart-card');
  await card.first().waitFor();
  assert.equal(await card.first().getAttribute('data-status'), 'awaiting_payment');
  const sent = await s.waitFor((f) => f.type === 'message' && f.message.kind === 'cart', 10_000, 'cart message');
  assert.equal(sent.message.data.total, '11036.00');
  assert.equal(sent.message.data.lines.find((l) => l.sku === 'UI-HDMI-2M').original_unit_price, '199.00');
  assert.equal(sent.message.conversation_id, id);
  await page.screenshot({ path: `${SHOTS}/thread-card.png` });

  // Revise: one cable only; the older card shows it was replaced.
  await card.first().getByRole('button', { name: 'Revise' }).click();
  await page.getByRole('button', { name: 'One fewer HDMI cable 2 m' }).click();
  await page.locator('.totals .grand dd[data-total="10887.00"]').waitFor({ timeout: 10_000 });
  await page.getByRole('button', { name: 'Send the revised cart' }).click();
  await page.locator('.transcript .cart-card').nth(1).waitFor();
  await page.locator(`.transcript .cart-card[data-cart="${sent.message.data.id}"][data-status="replaced"]`).waitFor();
  await page.locator('.transcript .cart-card').nth(1).locator('.cart-status').filter({ hasText: 'Awaiting payment' }).waitFor();
  await page.screenshot({ path: `${SHOTS}/thread-replaced.png` });
  assert.deepEqual(page.errors ?? [], []);
  end(); await new Promise((r) => setTimeout(r, 300)); s.close();
  await ctx.close();
});

test('QR code of the pay link, read from a screenshot', T, async () => {
  const { page, ctx, end, s } = await claimedOnPhone(browser, stack, place, 'expert2@demo.example', { text: 'Can I pay here in the store?' });
  await page.getByRole('button', { name: 'Cart', exact: true }).click();
  const results = await search(page, 'UI-TV-55');
  await results.first().getByRole('button', { name: /^Add / }).click();
  await page.locator('.totals .grand dd[data-total="9990.00"]').waitFor({ timeout: 10_000 });
  await page.getByRole('button', { name: 'Send to the chat' }).click();
  const msg = await s.waitFor((f) => f.type === 'message' && f.message.kind === 'cart', 10_000, 'cart message');
  const payUrl = msg.message.data.pay_url;
  assert.match(payUrl, /^https?:\/\/.+\/pay\//);

  await page.locator('.cart-card').getByRole('button', { name: 'Show QR code' }).click();
  const img = page.locator('img.qr');
  await img.waitFor();
  await page.waitForFunction(() => { const i = document.querySelector('img.qr'); return i && i.complete && i.naturalWidth > 0; });
  const shot = await page.screenshot({ path: `${SHOTS}/qr.png` });
  const png = PNG.sync.read(shot);
  const code = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
  assert.ok(code, 'a QR code is found in the screenshot');
  assert.equal(code.data, payUrl);
  await page.keyboard.press('Escape');
  await img.waitFor({ state: 'detached' });

  end(); await new Promise((r) => setTimeout(r, 300)); s.close();
  await ctx.close();
});

test('the pay link goes to the shopper by e-mail; a bad address is refused on the phone', T, async () => {
  const { page, ctx, end, s } = await claimedOnPhone(browser, stack, place, 'expert2@demo.example', { text: 'Please e-mail me the link.' });
  await page.getByRole('button', { name: 'Cart', exact: true }).click();
  const results = await search(page, 'UI-BOOK-1');
  await results.first().getByRole('button', { name: /^Add / }).click();
  await page.locator('.totals .grand dd[data-total="249.00"]').waitFor({ timeout: 10_000 });
  await page.getByRole('button', { name: 'Send to the chat' }).click();
  await s.waitFor((f) => f.type === 'message' && f.message.kind === 'cart', 10_000, 'cart message');
  await page.locator('.cart-card').getByRole('button', { name: 'Payment link' }).click();
  const sheet = page.getByRole('dialog', { name: 'Payment link' });
  await sheet.getByLabel('Shopper’s e-mail address').fill('not-an-address');
  await sheet.getByRole('button', { name: 'Send link' }).click();
  await sheet.getByText('An e-mail address such as name@example.com.').waitFor();
  await sheet.getByLabel('Shopper’s e-mail address').fill('shopper@example.com');
  await sheet.getByRole('button', { name: 'Send link' }).click();
  await sheet.getByText('Payment link sent to shopper@example.com.').waitFor({ timeout: 10_000 });
  await page.screenshot({ path: `${SHOTS}/link-sent.png` });
  await sheet.getByRole('button', { name: 'Close' }).first().click();
  end(); await new Promise((r) => setTimeout(r, 300)); s.close();
  await ctx.close();
});

test('in UCP permalink mode the app warns about overrides and free-text lines and does not send them', T, async () => {
  await setCheckout(a, { mode: 'permalink', permalink_endpoint: 'https://shop.example/buy' });
  try {
    const { page, ctx, end, s } = await claimedOnPhone(browser, stack, place, 'expert3@demo.example');
    await page.getByRole('button', { name: 'Cart', exact: true }).click();
    const results = await search(page, 'UI-HDMI');
    await results.first().getByRole('button', { name: /^Add / }).click();
    await page.locator('.totals .grand dd[data-total="199.00"]').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('.warn-box').count(), 0);
    assert.ok(await page.getByRole('button', { name: 'Send to the chat' }).isEnabled());
    await page.getByRole('button', { name: /^Change price\W+HDMI cable 2 m$/ }).click();
    await page.getByLabel('Unit price of HDMI cable 2 m').fill('99');
    await page.keyboard.press('Enter');
    await page.locator('.warn-box').getByText('The shop’s checkout cannot take these lines').waitFor({ timeout: 10_000 });
    assert.ok(await page.getByRole('button', { name: 'Send to the chat' }).isDisabled());
    await page.locator('.totals').waitFor({ state: 'detached' });
    await page.locator('.warn-box').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/permalink-warning.png` });
    // Back to the shop's price: sendable again.
    await page.getByRole('button', { name: /^Back to SEK/ }).click();
    await page.locator('.warn-box').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Send to the chat' }).click();
    const msg = await s.waitFor((f) => f.type === 'message' && f.message.kind === 'cart', 10_000, 'cart message');
    assert.equal(msg.message.data.checkout_mode, 'permalink');
    end(); await new Promise((r) => setTimeout(r, 300)); s.close();
    await ctx.close();
  } finally {
    await setCheckout(a, { mode: 'hosted', checkout_url: 'https://shop.example/checkout' });
  }
});

for (const [lang, scheme] of [['fa', 'light'], ['en', 'dark'], ['de', 'light']]) {
  test(`cart screen in ${lang} (${scheme}): translated, ${lang === 'fa' ? 'right to left, ' : ''}no serious a11y problems`, T, async () => {
    const { page, ctx, end, s } = await claimedOnPhone(browser, stack, place, 'expert1@demo.example', { lang, scheme });
    await page.locator('.composer .cart-open').click();
    // One character finds exact article numbers only: the screen says to type more (translated).
    await page.locator('dialog.cart-screen input[type=search]').fill('u');
    const hint = page.locator('.cart-results[data-q="u"][aria-busy="false"] .empty');
    await hint.waitFor({ timeout: 10_000 });
    const hintText = await hint.innerText();
    if (lang === 'en') assert.match(hintText, /at least 2 characters/);
    else assert.doesNotMatch(hintText, /at least 2 characters/, 'translated');
    await page.screenshot({ path: `${SHOTS}/search-hint-${lang}-${scheme}.png` });
    await page.locator('dialog.cart-screen input[type=search]').fill('UI-HDMI-2M');
    await page.locator('.cart-results .result').first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.cart-line .step').nth(1).click();
    await page.locator('.free-line summary').click();
    await page.locator('input[name=free_text]').fill(lang === 'fa' ? 'نصب در منزل' : 'Montage');
    await page.locator('input[name=free_amount]').fill('499');
    await page.locator('.free-line .btn').click();
    await page.locator('.totals .grand dd[data-total="897.00"]').waitFor({ timeout: 10_000 });
    assert.equal(await page.evaluate(() => document.documentElement.dir), lang === 'fa' ? 'rtl' : 'ltr');
    const heading = await page.locator('dialog.cart-screen h1').innerText();
    if (lang !== 'en') assert.doesNotMatch(heading, /^Cart for/, 'translated');
    await page.screenshot({ path: `${SHOTS}/cart-${lang}-${scheme}.png`, fullPage: false });
    assert.deepEqual(await axe(page), []);
    await page.locator('dialog.cart-screen .sheet-foot .btn').click();
    await page.locator('.transcript .cart-card').waitFor();
    await page.screenshot({ path: `${SHOTS}/thread-${lang}-${scheme}.png` });
    end(); await new Promise((r) => setTimeout(r, 300)); s.close();
    await ctx.close();
  });
}
