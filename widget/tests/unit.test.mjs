// Pure helpers and the protocol client, bundled from the TypeScript sources and driven by a
// scripted in-memory socket (no server): gaps trigger sync, duplicates are dropped, the outbox
// is resent with the same client_msg_id after a reconnect, state survives a "reload".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as esbuild from 'esbuild';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
async function load(entry) {
  const r = await esbuild.build({ entryPoints: [join(root, entry)], bundle: true, format: 'esm', platform: 'neutral', write: false });
  const file = join(mkdtempSync(join(tmpdir(), 'fw-unit-')), 'm.mjs');
  writeFileSync(file, r.outputFiles[0].text);
  return import(pathToFileURL(file).href);
}
const util = await load('src/util.ts');
const { ChatClient } = await load('src/panel/client.ts');

test('hidden paths use * as any run of characters', () => {
  assert.ok(util.isHiddenPath(['/checkout*'], '/checkout/step-2'));
  assert.ok(util.isHiddenPath(['/account/*/orders'], '/account/42/orders'));
  assert.ok(!util.isHiddenPath(['/account/*/orders'], '/account/42/returns'));
  assert.ok(util.isHiddenPath(['/exact'], '/exact'));
  assert.ok(!util.isHiddenPath(['/exact'], '/exact/more'));
  assert.ok(!util.isHiddenPath([], '/'));
  assert.ok(util.isHiddenPath(['*'], '/anything'));
});

test('text on the primary colour always has contrast of at least 4.5:1', () => {
  for (const c of ['#0b5d4b', '#ffffff', '#000000', '#777777', '#767676', '#1f6feb', '#ffd400', '#ff0000', '#00ff00', '#808080', '#5a5a5a']) {
    const fg = util.onColor(c);
    assert.ok(util.contrast(c, fg) >= 4.5, `${c} on ${fg}: ${util.contrast(c, fg)}`);
  }
  assert.equal(util.onColor('#0b5d4b'), '#ffffff');
  assert.equal(util.onColor('#ffd400'), '#000000');
});

test('locale: explicit choice, then the browser, then the merchant default, limited to offered languages', () => {
  const all = ['en', 'sv', 'de', 'el', 'cs', 'fa'];
  assert.equal(util.pickLocale(null, ['sv-SE', 'en'], all, 'en'), 'sv');
  assert.equal(util.pickLocale('fa', ['sv-SE'], all, 'en'), 'fa');
  assert.equal(util.pickLocale(null, ['fr-FR', 'de-AT'], all, 'en'), 'de');
  assert.equal(util.pickLocale(null, ['fr-FR'], all, 'sv'), 'sv');
  assert.equal(util.pickLocale(null, ['de'], ['en', 'sv'], 'sv'), 'sv');
  assert.equal(util.pickLocale('de', ['de'], ['en', 'sv'], 'en'), 'en');
  assert.equal(util.greetingFor({ en: 'Hi', sv: 'Hej' }, 'sv'), 'Hej');
  assert.equal(util.greetingFor({ en: 'Hi' }, 'cs'), 'Hi');
});

// ---- the protocol client against a scripted socket ----
class FakeWS {
  static all = [];
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; FakeWS.all.push(this); }
  send(d) { this.sent.push(JSON.parse(d)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen && this.onopen({}); }
  recv(f) { this.onmessage({ data: JSON.stringify(f) }); }
  drop(code = 1006) { this.readyState = 3; this.onclose({ code }); }
  frames(type) { return this.sent.filter((f) => f.type === type); }
}
function memStore() { const m = new Map(); return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, v), removeItem: (k) => m.delete(k) }; }
function makeClient(storage, timers = []) {
  return new ChatClient({
    url: 'ws://x/ws/shopper', key: 'fw:m', storage, WS: FakeWS, locale: () => 'en', onChange() {},
    setTimer: (fn) => { timers.push(fn); return timers.length; }, clearTimer() {}, random: () => 0.5,
  });
}
const conv = (extra = {}) => ({ id: 'c1', status: 'claimed', expert: { id: 'e', name: 'Sara' }, last_seq: 0, shopper_read_seq: 0, expert_read_seq: 0, ...extra });
const msg = (seq, role = 'expert', extra = {}) => ({ conversation_id: 'c1', seq, id: 'm' + seq, author: { role, name: role === 'expert' ? 'Sara' : null }, kind: 'text', body: 'b' + seq, sent_at: seq, ...extra });

test('client: hello with the stored token, gap → sync, duplicates dropped, outbox resent after reconnect', () => {
  FakeWS.all = [];
  const storage = memStore();
  const timers = [];
  const c = makeClient(storage, timers);
  c.connect();
  const ws = FakeWS.all[0];
  ws.open();
  assert.deepEqual(ws.sent[0], { type: 'hello', locale: 'en' });
  ws.recv({ type: 'welcome', protocol: 1, shopper_id: 's', token: 'T1', conversations: [], availability: { open: true, experts_available: 2 } });
  c.requestChat({ text: 'Hello?', context: { page_url: 'https://shop/x' } });
  const req = ws.frames('request_chat')[0];
  assert.equal(req.text, 'Hello?');
  assert.ok(req.client_msg_id);
  ws.recv({ type: 'conversation', conversation: conv({ status: 'queued' }) });
  ws.recv({ type: 'ack', conversation_id: 'c1', client_msg_id: req.client_msg_id, seq: 1, sent_at: 1 });
  assert.equal(c.lastSeq, 1);
  assert.equal(c.outbox.length, 0);
  ws.recv({ type: 'message', message: msg(2) });
  ws.recv({ type: 'message', message: msg(2) }); // duplicate
  assert.equal(c.messages.length, 2);
  ws.recv({ type: 'message', message: msg(4) }); // gap: 3 is missing
  assert.equal(c.lastSeq, 2);
  assert.deepEqual(ws.frames('sync').at(-1), { type: 'sync', conversation_id: 'c1', after_seq: 2 });
  ws.recv({ type: 'messages', conversation_id: 'c1', messages: [msg(3), msg(4)], last_seq: 4 });
  assert.equal(c.lastSeq, 4);
  assert.deepEqual(c.messages.map((m) => m.seq), [1, 2, 3, 4]);
  assert.equal(c.unread(), 3);

  // Send while the network is down: the message waits in the outbox.
  ws.drop();
  assert.equal(c.conn, 'offline');
  c.send('Are you there?');
  assert.equal(c.outbox.length, 1);
  const cmid = c.outbox[0].client_msg_id;
  // "Reload": a fresh client from storage keeps token, seq and outbox.
  const c2 = makeClient(storage, timers);
  assert.equal(c2.token, 'T1');
  assert.equal(c2.lastSeq, 4);
  assert.equal(c2.outbox[0].client_msg_id, cmid);
  assert.ok(c2.messages.some((m) => m.pending && m.client_msg_id === cmid));
  c2.connect();
  const ws2 = FakeWS.all.at(-1);
  ws2.open();
  assert.equal(ws2.sent[0].token, 'T1');
  ws2.recv({ type: 'welcome', protocol: 1, shopper_id: 's', token: 'T1', conversations: [conv({ last_seq: 5 })], availability: { open: true, experts_available: 2 } });
  assert.deepEqual(ws2.frames('sync')[0], { type: 'sync', conversation_id: 'c1', after_seq: 4 });
  assert.equal(ws2.frames('send').length, 0, 'nothing is sent before the sync reply');
  ws2.recv({ type: 'messages', conversation_id: 'c1', messages: [msg(5)], last_seq: 5 });
  assert.deepEqual(ws2.frames('send'), [{ type: 'send', conversation_id: 'c1', client_msg_id: cmid, body: 'Are you there?' }]);
  ws2.recv({ type: 'ack', conversation_id: 'c1', client_msg_id: cmid, seq: 6, sent_at: 6 });
  assert.equal(c2.outbox.length, 0);
  assert.deepEqual(c2.messages.map((m) => m.seq), [1, 2, 3, 4, 5, 6]);
});

test('client: a message already stored (ack lost) is not duplicated when it comes back in sync', () => {
  FakeWS.all = [];
  const storage = memStore();
  const c = makeClient(storage);
  c.connect();
  let ws = FakeWS.all[0];
  ws.open();
  ws.recv({ type: 'welcome', token: 'T', conversations: [conv()], availability: { open: true, experts_available: 1 } });
  ws.recv({ type: 'messages', conversation_id: 'c1', messages: [msg(1), msg(2)], last_seq: 2 });
  c.send('lost ack');
  const id = c.outbox[0].client_msg_id;
  ws.drop();
  c.connect();
  ws = FakeWS.all.at(-1);
  ws.open();
  ws.recv({ type: 'welcome', token: 'T', conversations: [conv({ last_seq: 3 })], availability: { open: true, experts_available: 1 } });
  ws.recv({ type: 'messages', conversation_id: 'c1', messages: [msg(3, 'shopper', { client_msg_id: id, body: 'lost ack' })], last_seq: 3 });
  assert.equal(c.outbox.length, 0);
  assert.equal(ws.frames('send').length, 0);
  assert.equal(c.messages.filter((m) => m.client_msg_id === id).length, 1);
  assert.equal(c.unread(), 2);
  assert.ok(c.markRead());
  assert.deepEqual(ws.frames('read').at(-1), { type: 'read', conversation_id: 'c1', seq: 3 });
  assert.equal(c.unread(), 0);
});

test('client: 4001 drops the token; fatal codes stop reconnecting; unavailable is retried', () => {
  FakeWS.all = [];
  const timers = [];
  const c = makeClient(memStore(), timers);
  c.connect();
  let ws = FakeWS.all[0];
  ws.open();
  ws.recv({ type: 'welcome', token: 'T', conversations: [conv()], availability: { open: true, experts_available: 1 } });
  ws.recv({ type: 'messages', conversation_id: 'c1', messages: [], last_seq: 0 });
  c.send('x');
  const id = c.outbox[0].client_msg_id;
  ws.recv({ type: 'error', code: 'unavailable', message: 'retry', ref: id });
  assert.equal(ws.frames('send').length, 1);
  timers.pop()();
  assert.equal(ws.frames('send').length, 2);
  assert.equal(ws.frames('send')[1].client_msg_id, id);
  ws.drop(4001);
  assert.equal(c.token, null);
  timers.pop()();
  ws = FakeWS.all.at(-1);
  ws.open();
  assert.equal(ws.sent[0].token, undefined);
  ws.drop(4003);
  assert.equal(c.conn, 'failed');
  const before = FakeWS.all.length;
  c.connect();
  assert.equal(FakeWS.all.length, before);
});

test('client: only the answer to our request (or our current chat) becomes the conversation', () => {
  FakeWS.all = [];
  const c = makeClient(memStore());
  c.connect();
  const ws = FakeWS.all[0];
  ws.open();
  ws.recv({ type: 'welcome', token: 'T', conversations: [conv({ id: 'off', status: 'queued', offline: true })], availability: { open: true, experts_available: 0 } });
  assert.equal(c.conv, null, 'an offline message is not a chat to resume');
  ws.recv({ type: 'conversation', conversation: conv({ id: 'old', status: 'ended', rating: { score: 5 } }) });
  assert.equal(c.conv, null, 'unsolicited conversation frames are ignored');
  c.requestChat({ text: 'hi', context: {} });
  ws.recv({ type: 'conversation', conversation: conv({ id: 'new', status: 'queued' }) });
  assert.equal(c.conv.id, 'new');
  assert.equal(c.outbox.length, 1);
});

test('client: a chat started in another tab is adopted; its read position and outbox are shared', () => {
  FakeWS.all = [];
  const storage = memStore();
  const a = makeClient(storage);
  a.connect();
  const wsA = FakeWS.all.at(-1);
  wsA.open();
  wsA.recv({ type: 'welcome', token: 'T', conversations: [], availability: { open: true, experts_available: 1 } });
  const b = makeClient(memStore());
  b.connect();
  const wsB1 = FakeWS.all.at(-1);
  wsB1.open();
  wsB1.recv({ type: 'welcome', token: 'T', conversations: [], availability: { open: true, experts_available: 1 } });
  // Tab A starts a chat.
  a.requestChat({ text: 'from A', context: {} });
  const req = wsA.frames('request_chat')[0];
  wsA.recv({ type: 'conversation', conversation: conv({ status: 'queued' }) });
  wsA.recv({ type: 'ack', conversation_id: 'c1', client_msg_id: req.client_msg_id, seq: 1, sent_at: 1 });
  b.fromOtherTab(storage.getItem('fw:m'));
  assert.equal(b.conv.id, 'c1');
  assert.equal(b.lastSeq, 1);
  const wsB2 = FakeWS.all.at(-1);
  assert.notEqual(wsB2, wsB1, 'B reconnects to follow the chat');
  wsB2.open();
  wsB2.recv({ type: 'welcome', token: 'T', conversations: [conv({ status: 'queued', last_seq: 1 })], availability: { open: true, experts_available: 1 } });
  assert.deepEqual(wsB2.frames('sync')[0], { type: 'sync', conversation_id: 'c1', after_seq: 1 });
  wsB2.recv({ type: 'messages', conversation_id: 'c1', messages: [msg(2)], last_seq: 2 });
  // A goes offline and queues a message; B picks it up from storage and sends it (same id).
  wsA.drop();
  a.send('queued in A');
  const id = a.outbox[0].client_msg_id;
  b.fromOtherTab(storage.getItem('fw:m'));
  assert.deepEqual(wsB2.frames('send').at(-1), { type: 'send', conversation_id: 'c1', client_msg_id: id, body: 'queued in A' });
  // A photo queued in A goes from B as a photo (its attachment id), not as its caption alone.
  a.sendAttachment('att_1', 'the blue one');
  const photoId = a.outbox.at(-1).client_msg_id;
  b.fromOtherTab(storage.getItem('fw:m'));
  assert.deepEqual(wsB2.frames('send').at(-1), {
    type: 'send', kind: 'attachment', conversation_id: 'c1', client_msg_id: photoId, attachment_id: 'att_1', body: 'the blue one',
  });
});

test('counts: every plural message has each form its language needs, and t() picks it', async () => {
  const i18n = await load('src/panel/i18n.ts');
  for (const [lang, strings] of Object.entries(i18n.STRINGS)) {
    const needed = new Intl.PluralRules(lang).resolvedOptions().pluralCategories;
    for (const [key, m] of Object.entries(strings)) {
      if (typeof m === 'string') {
        assert.doesNotMatch(m, /\{n\} (experts|Fachkräfte|experter|odborníků)/, `${lang}.${key} reads as a plural for every count`);
        continue;
      }
      for (const c of needed) assert.ok(typeof m[c] === 'string' && m[c].includes('{n}'), `${lang}.${key} lacks the "${c}" form`);
    }
  }
  const cs = i18n.STRINGS.cs;
  const t = (n) => i18n.t(cs, 'onlineN', { n }, 'cs');
  assert.equal(t(1), 'Právě je online 1 odborník');
  assert.equal(t(3), 'Právě jsou online 3 odborníci');
  assert.equal(t(5), 'Právě je online 5 odborníků');
  assert.equal(t(1.5), 'Právě je online 1,5 odborníka');
  assert.equal(i18n.t(i18n.STRINGS.en, 'onlineN', { n: 1 }, 'en'), '1 expert online now');
  assert.equal(i18n.t(i18n.STRINGS.fa, 'onlineN', { n: 12 }, 'fa'), 'اکنون ۱۲ کارشناس آنلاین هستند');
  assert.equal(i18n.t(i18n.STRINGS.el, 'wait', { n: 1 }, 'el'), 'Εκτιμώμενη αναμονή: περίπου 1 λεπτό');
});
