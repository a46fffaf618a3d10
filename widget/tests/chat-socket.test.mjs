// The connection shared by the widget and the store app (web-shared/chat-socket.ts), bundled from
// its TypeScript source and driven by a scripted in-memory socket, a fake clock and fake timers
// (no server): hello, resume by seq, the outbox resent in order and dropped on ack, back-off with
// jitter and its cap, fatal close codes, keep-alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as esbuild from 'esbuild';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const r = await esbuild.build({ entryPoints: [join(root, 'web-shared/chat-socket.ts')], bundle: true, format: 'esm', platform: 'neutral', write: false });
const file = join(mkdtempSync(join(tmpdir(), 'fw-socket-')), 'm.mjs');
writeFileSync(file, r.outputFiles[0].text);
const { ChatSocket, Outbox, FATAL_CLOSES, sendFrame } = await import(pathToFileURL(file).href);

class FakeWS {
  static all = [];
  constructor(url) { this.url = url; this.readyState = 0; this.sent = []; this.closed = null; FakeWS.all.push(this); }
  send(d) { this.sent.push(JSON.parse(d)); }
  close(code) { this.readyState = 3; this.closed = code ?? 1005; }
  open() { this.readyState = 1; this.onopen && this.onopen({}); }
  recv(f) { this.onmessage({ data: typeof f === 'string' ? f : JSON.stringify(f) }); }
  drop(code = 1006) { this.readyState = 3; this.onclose && this.onclose({ code }); }
  frames(type) { return this.sent.filter((f) => f.type === type); }
}

/** Timers that run only when told; a clock that moves only when told. */
function fakeTime() {
  const t = { now: 1_000_000, list: [] };
  t.set = (fn, ms) => { const x = { fn, ms, at: t.now + ms, live: true }; t.list.push(x); return x; };
  t.clear = (x) => { if (x) x.live = false; };
  t.pending = () => t.list.filter((x) => x.live);
  /** Move the clock on, running every live timer that falls due (in order). */
  t.advance = (ms) => {
    const until = t.now + ms;
    for (;;) {
      const due = t.pending().filter((x) => x.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      t.now = due.at;
      due.live = false;
      due.fn();
    }
    t.now = until;
  };
  return t;
}

function make(extra = {}) {
  FakeWS.all = [];
  const time = fakeTime();
  const seen = { frames: [], acks: [], statuses: [], outboxes: [] };
  const s = new ChatSocket({
    url: () => 'ws://hub/ws/shopper?v=1',
    WS: FakeWS,
    hello: () => ({ type: 'hello', token: 'T' }),
    onFrame: (f) => seen.frames.push(f),
    onAck: (f, sent) => seen.acks.push({ f, sent }),
    onStatus: (st) => seen.statuses.push(st),
    onOutbox: (items) => seen.outboxes.push(items.map((o) => o.client_msg_id)),
    fatal: FATAL_CLOSES,
    random: () => 0.5,
    now: () => time.now,
    setTimer: time.set,
    clearTimer: time.clear,
    ...extra,
  });
  const ws = () => FakeWS.all.at(-1);
  /** Open the newest socket and welcome it. */
  const welcome = () => { ws().open(); ws().recv({ type: 'welcome', protocol: 1, shopper_id: 's', token: 'T', conversations: [] }); };
  return { s, time, seen, ws, welcome };
}

const q = (id, conv = 'c1', extra = {}) => ({ conversation_id: conv, client_msg_id: id, body: 'body ' + id, ...extra });

test('socket: hello on open; nothing but hello and pings before welcome; online after it', () => {
  const { s, seen, ws } = make();
  s.connect();
  assert.equal(s.status, 'connecting');
  assert.equal(FakeWS.all.length, 1);
  s.connect(); // already connecting: no second socket
  assert.equal(FakeWS.all.length, 1);
  ws().open();
  assert.deepEqual(ws().sent, [{ type: 'hello', token: 'T' }]);
  assert.equal(s.send({ type: 'typing', conversation_id: 'c1', typing: true }), false, 'not before welcome');
  assert.equal(s.resume('c1', 3), false);
  assert.equal(ws().sent.length, 1);
  ws().recv({ type: 'welcome', protocol: 1, shopper_id: 's', token: 'T', conversations: [] });
  assert.equal(s.status, 'online');
  assert.ok(s.online && s.wasOnline);
  assert.deepEqual(seen.statuses, ['connecting', 'online']);
  assert.equal(seen.frames[0].type, 'welcome', 'the welcome is handed on');
  ws().recv('not json');
  ws().recv({ no: 'type' });
  assert.equal(seen.frames.length, 1, 'garbage is not handed on');
});

test('socket: resume asks for everything after the last seq processed', () => {
  const { s, ws, welcome } = make();
  s.connect();
  welcome();
  assert.ok(s.resume('c1', 7));
  assert.ok(s.resume('c2', 0));
  assert.deepEqual(ws().frames('sync'), [
    { type: 'sync', conversation_id: 'c1', after_seq: 7 },
    { type: 'sync', conversation_id: 'c2', after_seq: 0 },
  ]);
});

test('socket: the outbox is resent in order with the same client ids after a reconnect, and an ack takes an entry out', () => {
  const { s, time, seen, ws, welcome } = make({ outbox: [q('a'), q('x', 'c2')] });
  s.connect();
  welcome();
  s.outbox.add(q('b'));
  s.outbox.add(q('refused', 'c1', { error: 'conflict' }));
  s.outbox.add(q('photo', 'c1', { attachment_id: 'att1', body: '' }));
  s.outbox.add(q('card', 'c1', { product: { name: 'TV', price: 10 } }));
  assert.deepEqual(seen.outboxes.at(-1), ['a', 'x', 'b', 'refused', 'photo', 'card'], 'the store hook sees every change');
  const first = ws();
  first.drop(1006);
  assert.equal(s.status, 'offline');
  assert.equal(s.send(sendFrame(q('a'))), false, 'nothing goes out while offline');
  time.advance(1_000);
  assert.notEqual(ws(), first, 'reconnected');
  welcome();
  assert.equal(ws().frames('send').length, 0, 'nothing resent before the conversation is resumed');
  s.resend('c1');
  assert.deepEqual(ws().frames('send'), [
    { type: 'send', conversation_id: 'c1', client_msg_id: 'a', body: 'body a' },
    { type: 'send', conversation_id: 'c1', client_msg_id: 'b', body: 'body b' },
    { type: 'send', kind: 'attachment', conversation_id: 'c1', client_msg_id: 'photo', attachment_id: 'att1', body: '' },
    { type: 'send', conversation_id: 'c1', client_msg_id: 'card', body: 'body card', product: { name: 'TV', price: 10 } },
  ], 'c1 only, oldest first, refused messages never again');
  ws().recv({ type: 'ack', conversation_id: 'c1', client_msg_id: 'b', seq: 5, sent_at: 1 });
  assert.deepEqual(s.outbox.items.map((o) => o.client_msg_id), ['a', 'x', 'refused', 'photo', 'card']);
  assert.equal(seen.acks[0].sent.client_msg_id, 'b', 'onAck gets the entry it took out');
  assert.ok(!seen.frames.some((f) => f.type === 'ack'), 'acks go to onAck only');
  ws().recv({ type: 'ack', conversation_id: 'c1', client_msg_id: 'b', seq: 5, sent_at: 1 });
  assert.equal(seen.acks[1].sent, undefined, 'a repeated ack finds nothing');
  assert.equal(s.outbox.items.length, 5);
  const before = ws().frames('send').length;
  s.resend('c1');
  assert.deepEqual(ws().frames('send').slice(before).map((f) => f.client_msg_id), ['a', 'photo', 'card'], 'an acked message is not resent');
});

test('outbox: entries are replaced, never changed in place', () => {
  const changes = [];
  const box = new Outbox([q('a')], (items) => changes.push(items));
  const before = box.items;
  box.add(q('b'));
  assert.notEqual(box.items, before);
  assert.equal(before.length, 1);
  box.update('a', { error: 'too_large' });
  assert.equal(box.get('a').error, 'too_large');
  assert.equal(before[0].error, undefined);
  assert.deepEqual(box.pending('c1').map((o) => o.client_msg_id), ['b']);
  assert.equal(box.take('zzz'), undefined);
  assert.equal(changes.length, 2, 'taking nothing is no change');
  assert.equal(box.take('a').client_msg_id, 'a');
  assert.deepEqual(box.items.map((o) => o.client_msg_id), ['b']);
});

test('socket: back-off doubles from 0.5 s with jitter, is capped at 30 s, and starts afresh after a welcome', () => {
  const { s, time, ws, welcome } = make();
  // Jitter: between half and all of each step.
  const lo = make({ random: () => 0 }).s;
  const hi = make({ random: () => 0.999999 }).s;
  assert.equal(lo.delay(0), 250);
  assert.ok(Math.abs(hi.delay(0) - 500) < 0.01);
  assert.equal(lo.delay(20), 15_000);
  assert.ok(Math.abs(hi.delay(20) - 30_000) < 0.1);

  FakeWS.all = [];
  s.connect();
  const waits = [];
  for (let i = 0; i < 10; i++) {
    ws().drop(1006); // refused before any welcome
    const next = time.pending();
    assert.equal(next.length, 1, 'one reconnect scheduled');
    waits.push(next[0].ms);
    time.advance(next[0].ms);
  }
  // random() = 0.5: three quarters of 500, 1000, 2000 … 30000.
  assert.deepEqual(waits, [375, 750, 1500, 3000, 6000, 12_000, 22_500, 22_500, 22_500, 22_500]);
  assert.equal(FakeWS.all.length, 11);
  welcome();
  ws().drop(1001);
  assert.equal(time.pending().find((x) => x.ms < 1000)?.ms, 375, 'welcome resets the back-off');
});

test('socket: fatal close codes stop reconnecting; others reconnect; the rate limit waits longer', () => {
  for (const code of [1009, 4003, 4004, 4400, 4426]) {
    const { s, time, seen, ws, welcome } = make();
    s.connect();
    welcome();
    ws().drop(code);
    assert.equal(s.status, 'failed', `${code}`);
    assert.equal(s.failure, code);
    assert.equal(seen.statuses.at(-1), 'failed');
    assert.equal(time.pending().length, 0, `${code}: no reconnect is scheduled`);
    s.connect();
    time.advance(120_000);
    assert.equal(FakeWS.all.length, 1, `${code}: never reconnects`);
  }
  for (const code of [1001, 1006, 1011, 4002, 4009, 4010]) {
    const { s, time, ws, welcome } = make();
    s.connect();
    welcome();
    ws().drop(code);
    assert.equal(s.status, 'offline', `${code}`);
    time.advance(1_000);
    assert.equal(FakeWS.all.length, 2, `${code}: reconnects`);
  }
  const { s, time, ws, welcome } = make({ rateLimitedWait: 30_000 });
  s.connect();
  welcome();
  ws().drop(4008);
  time.advance(29_999);
  assert.equal(FakeWS.all.length, 1, 'not before the rate limit wait');
  time.advance(1);
  assert.equal(FakeWS.all.length, 2);
});

test('socket: the close hook can hold or stop; an offline device waits; close() is for good', () => {
  let answer = 'hold';
  const codes = [];
  const { s, time, ws, welcome } = make({ onClose: (code) => { codes.push(code); return answer; } });
  s.connect();
  welcome();
  ws().drop(4001);
  assert.deepEqual(codes, [4001]);
  assert.equal(s.status, 'offline');
  time.advance(60_000);
  assert.equal(FakeWS.all.length, 1, 'hold: no reconnect until asked');
  s.restart();
  welcome();
  answer = 'stop';
  ws().drop(4001);
  assert.equal(s.status, 'idle');
  time.advance(60_000);
  assert.equal(FakeWS.all.length, 2, 'stop: no reconnect');

  let online = false;
  const o = make({ online: () => online });
  o.s.connect();
  o.welcome();
  o.ws().drop(1006);
  o.time.advance(1_000);
  assert.equal(FakeWS.all.length, 1, 'offline device: not yet');
  online = true;
  o.time.advance(2_000);
  assert.equal(FakeWS.all.length, 2, 'reconnects once the device is online');

  const c = make();
  c.s.connect();
  c.welcome();
  const sock = c.ws();
  c.s.close();
  assert.equal(sock.closed, 1000);
  assert.equal(c.s.status, 'idle');
  c.time.advance(120_000);
  assert.equal(FakeWS.all.length, 1, 'closed: stays closed');
});

test('socket: a handshake that hangs is given up; a silent socket is dropped; an unanswered ping drops it', () => {
  // Hello timeout.
  const h = make({ helloTimeout: 10_000 });
  h.s.connect();
  h.ws().open();
  h.time.advance(9_999);
  assert.equal(h.s.status, 'connecting');
  h.time.advance(1);
  assert.equal(h.s.status, 'offline', 'not welcomed within 10 s');
  assert.ok(FakeWS.all[0].closed);

  // Silence: pings every 25 s, and gives up after 55 s without any frame.
  const a = make({ keepAlive: { every: 25_000, silentFor: 55_000 } });
  a.s.connect();
  a.welcome();
  a.time.advance(25_000);
  assert.equal(a.ws().frames('ping').length, 1);
  a.ws().recv({ type: 'pong' });
  a.time.advance(50_000);
  assert.equal(a.ws().frames('ping').length, 3);
  assert.equal(a.s.status, 'online', 'a frame 50 s ago is recent enough');
  a.time.advance(25_000);
  assert.equal(a.s.status, 'offline', 'silent for 75 s: dropped');

  // A ping unanswered within 10 s drops the socket; any frame in time keeps it.
  const b = make({ keepAlive: { every: 20_000, answerWithin: 10_000 } });
  b.s.connect();
  b.welcome();
  b.time.advance(20_000);
  assert.equal(b.ws().frames('ping').length, 1);
  b.time.advance(5_000);
  b.ws().recv({ type: 'pong' });
  b.time.advance(15_000);
  assert.equal(b.s.status, 'online');
  assert.equal(b.ws().frames('ping').length, 2);
  b.time.advance(10_000);
  assert.equal(b.s.status, 'offline', 'no answer to the second ping');

  // A probe by hand (the tab came back).
  const p = make();
  p.s.connect();
  p.welcome();
  assert.ok(p.s.probe(5_000));
  p.time.advance(5_000);
  assert.equal(p.s.status, 'offline');
  assert.equal(p.s.probe(5_000), false, 'nothing to probe while offline');
});
