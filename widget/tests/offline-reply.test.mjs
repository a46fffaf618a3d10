// An offline message answered by an expert, end to end against the REAL server: the shopper
// leaves a message in the widget and goes; the expert claims it, is told the shopper is away, and
// answers twice; ONE e-mail arrives at a real SMTP server on loopback; its "continue the
// conversation" link opens the widget on a fresh device in the SAME conversation; the shopper
// answers there and the expert sees it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, launch, Expert, admin, setOrigins, W, sleep, waitFor } from './helpers.mjs';

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

/** The text of a mail with quoted-printable and base64 parts decoded. */
function readable(raw) {
  const qp = raw.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  const b64 = [...raw.matchAll(/Content-Transfer-Encoding: base64\r\n(?:[^\r\n]+\r\n)*\r\n([A-Za-z0-9+/=\r\n]+)/gi)]
    .map((m) => Buffer.from(m[1].replace(/\r\n/g, ''), 'base64').toString('utf8'));
  return [qp, ...b64].join('\n');
}

let fw, browser, api, sink;
before(async () => {
  sink = await smtpSink();
  fw = await startServer({ env: { FLOORWALKER_SMTP_URL: `smtp://127.0.0.1:${sink.port}`, FLOORWALKER_OUTBOUND_SPEEDUP: '1000' } });
  browser = await launch();
  api = await admin(fw);
  // The shop is served by this test server: the link may send the shopper back to it.
  await setOrigins(fw, api, [fw.url], fw.url);
});
after(async () => {
  await browser?.close();
  await fw?.stop();
  sink?.close();
});

test('an offline message answered by an expert is e-mailed once; the link reopens the same chat; the shopper answers', async () => {
  // The shopper leaves a message while nobody is online, then closes the page.
  const first = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await first.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(fw.url + '/shop/index.html');
  await page.click(W.launcher);
  await page.waitForSelector('floorwalker-widget #fw-email');
  await page.fill('floorwalker-widget #fw-email', 'kim@example.com');
  await page.fill('floorwalker-widget #fw-off-msg', 'Do you have the Kvarn sofa in green?');
  await page.click('floorwalker-widget .fw-form button[type=submit]');
  await page.waitForSelector('floorwalker-widget .fw-panel >> text=We will reply to kim@example.com');
  await first.close();

  // The expert claims it, is told the shopper is away, and answers twice in a row.
  const expert = await Expert.connect(fw);
  const offer = await expert.claimNext((o) => o.offline && o.first_message === 'Do you have the Kvarn sofa in green?');
  const conv = offer.conversation_id;
  const away = await expert.next((f) => f.type === 'shopper_away' && f.conversation_id === conv);
  assert.equal(away.away, true);
  assert.deepEqual(away.reach, ['email']);
  await expert.say(conv, 'Hi Kim, yes we do!');
  await expert.say(conv, 'It is in stock in Stockholm.');

  // One e-mail with both answers and the link.
  const mail = await waitFor(() => sink.mails.find((m) => m.to.includes('kim@example.com')), { timeout: 30_000, what: 'the answer by e-mail' });
  const body = readable(mail.data);
  assert.match(body, /Hi Kim, yes we do!/);
  assert.match(body, /It is in stock in Stockholm\./);
  const link = body.match(/https?:\/\/[^\s"<>]+\/r\/[A-Za-z0-9_\-.]+/);
  assert.ok(link, 'a continue-the-conversation link in ' + body.slice(0, 2000));
  await sleep(2500);
  assert.equal(sink.mails.filter((m) => m.to.includes('kim@example.com')).length, 1, 'answers in a row make one e-mail');

  // A fresh device: the link opens the widget on the same conversation with both answers.
  const second = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const reader = await second.newPage();
  reader.on('pageerror', (e) => errors.push(e.message));
  await reader.goto(link[0]);
  await reader.waitForSelector(`${W.log} >> text=It is in stock in Stockholm.`, { timeout: 15_000 });
  assert.match(await reader.locator(W.log).innerText(), /Do you have the Kvarn sofa in green\?/, 'the same conversation');
  assert.equal(await reader.evaluate(() => location.hash), '', 'the token is taken off the address');
  await reader.fill(W.composer, 'Great, I will pick it up on Saturday.');
  await reader.keyboard.press('Enter');
  const said = await expert.next((f) => f.type === 'message' && f.message.conversation_id === conv && f.message.author.role === 'shopper' && f.message.body === 'Great, I will pick it up on Saturday.', 15_000);
  assert.ok(said.message.seq > 1);
  assert.deepEqual(errors, []);
  await second.close();
  expert.close();
});
