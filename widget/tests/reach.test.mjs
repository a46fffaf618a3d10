// Reaching the shopper after they leave (issue 21), in the widget against the REAL server: the
// offline form's phone number reaches the server (the expert is told answers go by e-mail AND
// SMS); a bad number is refused in the widget. In a claimed chat "E-mail me if I leave" sends
// `notify_me` only when pressed (a shopper who reloads before that is unreachable), shows the
// server's refusal of a bad address, confirms a good one, and after the shopper leaves the
// expert's answer arrives by e-mail at a real SMTP server on loopback. Screenshots (phone,
// Persian RTL, dark) go to $FW_SHOTS or /tmp/widget-reach-shots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { startServer, launch, Expert, admin, firstMessage, W, sleep, waitFor } from './helpers.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = process.env.FW_SHOTS || '/tmp/widget-reach-shots';
mkdirSync(SHOTS, { recursive: true });

/** A small SMTP server that accepts every message and keeps it (no TLS, no auth). */
function smtpSink() {
  const mails = [];
  const server = net.createServer((sock) => {
    sock.setEncoding('utf8');
    sock.on('error', () => {});
    let buf = '', inData = false, data = '', rcpt = [];
    const reply = (s) => sock.write(s + '\r\n');
    reply('220 sink.test ESMTP');
    sock.on('data', (chunk) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === '.') { inData = false; mails.push({ to: rcpt, data }); rcpt = []; data = ''; reply('250 2.0.0 kept'); }
          else data += (line.startsWith('..') ? line.slice(1) : line) + '\r\n';
          continue;
        }
        const cmd = line.slice(0, 4).toUpperCase();
        if (cmd === 'EHLO' || cmd === 'HELO') reply('250 sink.test');
        else if (cmd === 'MAIL' || cmd === 'RSET' || cmd === 'NOOP') reply('250 OK');
        else if (cmd === 'RCPT') { rcpt.push(line.replace(/^RCPT TO:\s*<?([^>\s]*)>?.*$/i, '$1').toLowerCase()); reply('250 OK'); }
        else if (cmd === 'DATA') { inData = true; reply('354 end with <CRLF>.<CRLF>'); }
        else if (cmd === 'QUIT') { reply('221 bye'); sock.end(); }
        else reply('502 not implemented');
      }
    });
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ port: server.address().port, mails, close: () => server.close() })));
}
const readable = (raw) => {
  const qp = raw.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, x) => String.fromCharCode(parseInt(x, 16)));
  const b64 = [...raw.matchAll(/Content-Transfer-Encoding: base64\r\n(?:[^\r\n]+\r\n)*\r\n([A-Za-z0-9+/=\r\n]+)/gi)]
    .map((m) => Buffer.from(m[1].replace(/\r\n/g, ''), 'base64').toString('utf8'));
  return [qp, ...b64].join('\n');
};

let fw, browser, api, sink;
before(async () => {
  sink = await smtpSink();
  fw = await startServer({ env: { FLOORWALKER_SMTP_URL: `smtp://127.0.0.1:${sink.port}`, FLOORWALKER_OUTBOUND_SPEEDUP: '1000' } });
  browser = await launch();
  api = await admin(fw);
  // A shopper who gave an address is mailed unread answers one (sped-up) minute after leaving.
  const s = await api('GET', '/settings/messaging');
  // The phone fields are offered only by a merchant that sends SMS (nothing is texted here).
  await api('PUT', '/settings/messaging', { ...s, away_email_after_min: 1, sms: { ...SMS_ON, auth_token: 'secret-token' } });
});
const SMS_ON = { enabled: true, base_url: 'https://api.twilio.com', account_sid: 'AC0123456789', from: '+46700000000' };
async function setSms(on) {
  const s = await api('GET', '/settings/messaging');
  const sms = on ? { ...SMS_ON } : { ...s.sms, enabled: false };
  delete sms.auth_token_set;
  const r = await api('PUT', '/settings/messaging', { ...s, sms });
  assert.equal(r.sms.enabled, on, JSON.stringify(r));
}
async function widgetConfig() {
  const r = await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}`);
  assert.equal(r.status, 200);
  return r.json();
}
after(async () => {
  await browser?.close();
  await fw?.stop();
  sink?.close();
});

test('phone numbers are checked as the server checks them (outbound::sms::valid_e164); every language has every text', async () => {
  const r = await esbuild.build({ entryPoints: [join(dirname(fileURLToPath(import.meta.url)), '..', 'src/panel/reach.ts')], bundle: true, format: 'esm', platform: 'neutral', write: false });
  const file = join(mkdtempSync(join(tmpdir(), 'fw-reach-')), 'm.mjs');
  writeFileSync(file, r.outputFiles[0].text);
  const reach = await import(pathToFileURL(file).href);
  for (const ok of ['+46701234567', '+12345678', '+123456789012345']) assert.ok(reach.validE164(ok), ok);
  for (const bad of ['46701234567', '+0701234567', '+1234567', '+1234567890123456', '+4670123456a', '+46 70 123', '']) assert.ok(!reach.validE164(bad), bad);
  assert.equal(reach.cleanPhone('0046 (70) 123-45.67'), '+46701234567');
  assert.equal(reach.cleanPhone(' +46 70 123 45 67 '), '+46701234567');
  const keys = Object.keys(reach.REACH_STRINGS.en).sort();
  assert.deepEqual(Object.keys(reach.REACH_STRINGS).sort(), ['cs', 'de', 'el', 'en', 'fa', 'sv']);
  for (const [lang, d] of Object.entries(reach.REACH_STRINGS)) {
    assert.deepEqual(Object.keys(d).sort(), keys, lang);
    for (const k of keys) assert.ok(d[k].trim(), `${lang}.${k}`);
    for (const k of ['smsToo', 'on']) assert.match(d[k], /\{(phone|to)\}/, `${lang}.${k} keeps its placeholder`);
  }
  assert.equal(reach.rt('fa', 'on', { to: 'a@b.se' }), 'اگر بروید، پاسخ‌های تازه به \u2066a@b.se\u2069 فرستاده می‌شود.');
});

async function phonePage(path, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, ...opts });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(fw.url + path);
  return { context, page };
}
const text = (page, sel) => page.locator(sel).innerText();
const activeId = (page) => page.evaluate(() => {
  const a = document.querySelector('floorwalker-widget')?.shadowRoot?.activeElement;
  return a ? a.id || a.className : null;
});
async function axe(page, label) {
  await sleep(400);
  await page.evaluate(AXE);
  const res = await page.evaluate(async () => {
    const r = await window.axe.run({ include: [['floorwalker-widget']] }, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ') + ' ' + n.failureSummary).slice(0, 3) }));
  });
  const bad = res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${label}: ${JSON.stringify(bad, null, 1)}`);
}
const shot = async (page, name) => { await sleep(450); await page.screenshot({ path: `${SHOTS}/${name}.png` }); };

test('the offline form takes a phone number: a bad one is refused in the widget, a good one reaches the server', async () => {
  const { context, page } = await phonePage('/shop/index.html');
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget #fw-phone');
  assert.match(await text(page, W.panel), /Text me when you get an answer \(optional\)/);
  assert.equal(await page.locator('floorwalker-widget #fw-phone').getAttribute('type'), 'tel');
  await page.fill('floorwalker-widget #fw-email', 'robin@example.com');
  await page.fill('floorwalker-widget #fw-off-msg', 'Is the Kvarn sofa available in rust red?');
  await page.fill('floorwalker-widget #fw-phone', '0701234567');
  await page.click('floorwalker-widget .fw-form button[type=submit]');
  assert.match(await text(page, 'floorwalker-widget #fw-off-err'), /international form: \+ and the country code/);
  assert.equal(await activeId(page), 'fw-phone', 'focus goes to the bad number');
  assert.equal(await page.locator('floorwalker-widget #fw-phone').getAttribute('aria-invalid'), 'true');
  await axe(page, 'offline form, bad phone');
  await shot(page, 'offline-bad-phone-en');
  // Spaces people type are fine; nothing was sent for the bad number (the form is still there).
  await page.fill('floorwalker-widget #fw-phone', '+46 70 123 45 67');
  await page.keyboard.press('Enter');
  await page.waitForSelector('floorwalker-widget .fw-panel >> text=We will reply to robin@example.com');
  assert.match(await text(page, W.panel), /We will also text \S*\+46701234567\S* when the answer is there\./);
  await shot(page, 'offline-sent-sms-en');
  await context.close();

  // The expert who picks it up is told the answers reach the shopper by e-mail and by SMS: the
  // server stored the phone number with the message (exactly one offline message was left).
  const expert = await Expert.connect(fw);
  const offer = await expert.claimNext((o) => o.offline && o.first_message === 'Is the Kvarn sofa available in rust red?');
  const away = await expert.next((f) => f.type === 'shopper_away' && f.conversation_id === offer.conversation_id);
  assert.deepEqual(away.reach, ['email', 'sms']);
  expert.send({ type: 'end', conversation_id: offer.conversation_id });
  expert.close();
  assert.deepEqual(page.errors, []);
});

test('"E-mail me if I leave": only on request, the server\'s refusal shown, then the answer arrives by e-mail after the shopper left', async (t) => {
  const expert = await Expert.connect(fw);
  const { context, page } = await phonePage('/shop/product.html');
  await page.click(W.launcher);
  await page.fill(W.question, 'Can you keep a 55" for me until Friday?');
  await page.click(W.start);
  const offer = await expert.claimNext((o) => !o.offline);
  await firstMessage(t, fw, expert, offer, 'Can you keep a 55" for me until Friday?');
  const conv = offer.conversation_id;
  await page.waitForSelector('floorwalker-widget .fw-sub >> text=Chatting with');
  const opener = page.locator('floorwalker-widget .fw-reach button', { hasText: 'E-mail me if I leave' });
  await opener.waitFor();

  // Consent first: a shopper who leaves (here: reloads) without pressing it cannot be reached.
  await page.reload();
  let away = await expert.next((f) => f.type === 'shopper_away' && f.conversation_id === conv && f.away);
  assert.deepEqual(away.reach, [], 'nothing was given without the shopper pressing the button');
  await page.click(W.launcher);
  await opener.waitFor();
  await expert.next((f) => f.type === 'shopper_away' && f.conversation_id === conv && !f.away);

  // Keyboard: the quiet button opens the form with focus in the address.
  await opener.focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('floorwalker-widget #fw-reach-email');
  assert.equal(await activeId(page), 'fw-reach-email');
  await axe(page, 'notify form');
  await shot(page, 'notify-form-en');
  // A bad number is refused in the widget.
  await page.fill('floorwalker-widget #fw-reach-email', '');
  await page.fill('floorwalker-widget #fw-reach-phone', '12345');
  await page.keyboard.press('Enter');
  assert.match(await text(page, 'floorwalker-widget #fw-reach-err'), /international form/);
  assert.equal(await activeId(page), 'fw-reach-phone');
  // An address the server refuses: its message is shown, nothing is stored.
  await page.fill('floorwalker-widget #fw-reach-phone', '');
  await page.fill('floorwalker-widget #fw-reach-email', 'kim@example.com.');
  await page.click('floorwalker-widget .fw-reach button[type=submit]');
  await page.waitForSelector('floorwalker-widget #fw-reach-err >> text=The e-mail address is not valid.');
  assert.equal(await activeId(page), 'fw-reach-email');
  assert.equal(await page.locator(W.panel).locator('.fw-err').innerText(), '', 'no generic error bar for it');
  // A good one: the server's answer is confirmed.
  await page.fill('floorwalker-widget #fw-reach-email', 'Kim.Reach@Example.com');
  await page.click('floorwalker-widget .fw-reach button[type=submit]');
  await page.waitForSelector('floorwalker-widget .fw-reach-note >> text=If you leave, new answers go to');
  assert.match(await text(page, 'floorwalker-widget .fw-reach-note'), /kim\.reach@example\.com/, 'as the server stored it');
  assert.equal(await page.locator('floorwalker-widget .fw-reach button').innerText(), 'Change');
  await shot(page, 'notify-on-en');
  assert.deepEqual(page.errors, []);

  // The shopper leaves; the expert is told answers go by e-mail, answers, and it is mailed.
  await context.close();
  away = await expert.next((f) => f.type === 'shopper_away' && f.conversation_id === conv && f.away);
  assert.deepEqual(away.reach, ['email']);
  await expert.say(conv, 'Yes, one 55" is on hold for you until Friday.');
  const mail = await waitFor(() => sink.mails.find((m) => m.to.includes('kim.reach@example.com')), { timeout: 30_000, what: 'the unread answer by e-mail' });
  assert.match(readable(mail.data), /one 55" is on hold for you until Friday\./);
  assert.ok(!sink.mails.some((m) => m.to.includes('kim@example.com.')), 'the refused address was never used');
  expert.send({ type: 'end', conversation_id: conv });
  expert.close();
});

test('Persian, dark, phone width: both forms right to left, numbers left to right', async () => {
  const opts = { viewport: { width: 360, height: 740 }, locale: 'fa-IR', colorScheme: 'dark' };
  let { context, page } = await phonePage('/shop/index.html', opts);
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget #fw-phone');
  assert.equal(await page.locator('floorwalker-widget .fw').getAttribute('dir'), 'rtl');
  assert.equal(await page.locator('floorwalker-widget #fw-phone').getAttribute('dir'), 'ltr');
  await page.fill('floorwalker-widget #fw-email', 'sara@example.com');
  await page.fill('floorwalker-widget #fw-off-msg', 'سلام');
  await page.fill('floorwalker-widget #fw-phone', '+98');
  await page.click('floorwalker-widget .fw-form button[type=submit]');
  assert.match(await text(page, 'floorwalker-widget #fw-off-err'), /شماره موبایل را به شکل بین‌المللی وارد کنید/);
  await axe(page, 'fa dark offline form');
  await shot(page, 'offline-bad-phone-fa-dark');
  await context.close();

  const expert = await Expert.connect(fw);
  ({ context, page } = await phonePage('/shop/product.html', opts));
  await page.click(W.launcher);
  await page.fill(W.question, 'آیا این تلویزیون موجود است؟');
  await page.click(W.start);
  const offer = await expert.claimNext((o) => !o.offline);
  const opener = page.locator('floorwalker-widget .fw-reach button', { hasText: 'اگر رفتم، برایم ایمیل بفرست' });
  await opener.click();
  await page.fill('floorwalker-widget #fw-reach-email', 'sara@example.com');
  await page.fill('floorwalker-widget #fw-reach-phone', '+98 912 123 4567');
  await shot(page, 'notify-form-fa-dark');
  await axe(page, 'fa dark notify form');
  await page.click('floorwalker-widget .fw-reach button[type=submit]');
  await page.waitForSelector('floorwalker-widget .fw-reach-note');
  assert.match(await text(page, 'floorwalker-widget .fw-reach-note'), /sara@example\.com\S* و \S*\+989121234567/);
  await shot(page, 'notify-on-fa-dark');
  assert.deepEqual(page.errors, []);
  await context.close();
  expert.send({ type: 'end', conversation_id: offer.conversation_id });
  expert.close();
});

test('a merchant without an SMS gateway is not asked for a phone number: the widget config says so, both forms leave it out', async (t) => {
  await setSms(false);
  t.after(() => setSms(true));
  assert.equal((await widgetConfig()).sms, false);
  let { context, page } = await phonePage('/shop/index.html');
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget #fw-email');
  assert.equal(await page.locator('floorwalker-widget #fw-phone').count(), 0, 'no phone field on the offline form');
  assert.doesNotMatch(await text(page, W.panel), /Text me/);
  await axe(page, 'offline form without SMS');
  await shot(page, 'offline-no-sms-en');
  await context.close();
  ({ context, page } = await phonePage('/shop/index.html', { viewport: { width: 390, height: 844 }, locale: 'fa-IR' }));
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget #fw-email');
  assert.equal(await page.locator('floorwalker-widget #fw-phone').count(), 0);
  assert.doesNotMatch(await text(page, W.panel), /پیامک/);
  await shot(page, 'offline-no-sms-fa');
  await context.close();

  const expert = await Expert.connect(fw);
  ({ context, page } = await phonePage('/shop/product.html'));
  await page.click(W.launcher);
  await page.fill(W.question, 'Is the oak table in stock?');
  await page.click(W.start);
  const offer = await expert.claimNext((o) => !o.offline);
  const opener = page.locator('floorwalker-widget .fw-reach button', { hasText: 'E-mail me if I leave' });
  await opener.click();
  await page.waitForSelector('floorwalker-widget #fw-reach-email');
  assert.equal(await page.locator('floorwalker-widget #fw-reach-phone').count(), 0, 'no phone field in "E-mail me if I leave"');
  await page.fill('floorwalker-widget #fw-reach-email', '');
  await page.click('floorwalker-widget .fw-reach button[type=submit]');
  assert.equal(await text(page, 'floorwalker-widget #fw-reach-err'), 'Enter your email address.');
  assert.deepEqual(page.errors, []);
  await context.close();
  expert.send({ type: 'end', conversation_id: offer.conversation_id });
  expert.close();

  // Switched on again: offered again (the config is read on every page load).
  await setSms(true);
  assert.equal((await widgetConfig()).sms, true);
  ({ context, page } = await phonePage('/shop/index.html'));
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget #fw-phone');
  await context.close();
});

test('after a reload the widget still shows where answers go: the server keeps the consent and says it in welcome', async (t) => {
  const expert = await Expert.connect(fw);
  const { context, page } = await phonePage('/shop/product.html', { viewport: { width: 390, height: 844 }, locale: 'fa-IR' });
  await page.click(W.launcher);
  await page.fill(W.question, 'این مبل رنگ دیگری هم دارد؟');
  await page.click(W.start);
  const offer = await expert.claimNext((o) => !o.offline);
  const conv = offer.conversation_id;
  await page.locator('floorwalker-widget .fw-reach button', { hasText: 'اگر رفتم، برایم ایمیل بفرست' }).click();
  await page.fill('floorwalker-widget #fw-reach-email', 'neda@example.com');
  await page.fill('floorwalker-widget #fw-reach-phone', '+989121234567');
  await page.click('floorwalker-widget .fw-reach button[type=submit]');
  await page.waitForSelector('floorwalker-widget .fw-reach-note');

  await page.reload();
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget .fw-reach-note');
  assert.match(await text(page, 'floorwalker-widget .fw-reach-note'), /neda@example\.com\S* و \S*\+989121234567/);
  assert.equal(await page.locator('floorwalker-widget .fw-reach button').innerText(), 'تغییر');
  // The form opens with what the server kept.
  await page.locator('floorwalker-widget .fw-reach button').click();
  assert.equal(await page.locator('floorwalker-widget #fw-reach-email').inputValue(), 'neda@example.com');
  assert.equal(await page.locator('floorwalker-widget #fw-reach-phone').inputValue(), '+989121234567');
  await page.locator('floorwalker-widget .fw-reach button', { hasText: 'انصراف' }).click();
  await axe(page, 'fa notify on after reload');
  await shot(page, 'notify-on-after-reload-fa');
  assert.deepEqual(page.errors, []);
  await context.close();
  expert.send({ type: 'end', conversation_id: conv });
  expert.close();
});
