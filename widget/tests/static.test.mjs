// The front ends as a browser gets them: precompressed (brotli or gzip, whichever it accepts,
// byte-for-byte the built file once decoded), with caching rules that fit each URL — versioned
// scripts for a year, the embeddable loader five minutes then revalidated, pages every time.
// Needs all three front ends built (`./dev test` builds them before the browser suites).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { startServer, repoRoot } from '../../testing/server.mjs';

let fw;
before(async () => { fw = await startServer({ demo: false }); });
after(async () => { await fw?.stop(); });

/** GET without any automatic decoding: status, headers and the raw body bytes. */
function get(path, headers = {}) {
  return new Promise((ok, fail) => {
    const req = request(fw.url + path, { headers }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts) }));
    });
    req.on('error', fail);
    req.end();
  });
}

const built = (...p) => readFileSync(join(repoRoot, ...p));

test('/widget.js comes brotli-compressed, gzip-compressed or plain, always the same bytes', async () => {
  const plain = built('widget', 'dist', 'widget.js');
  const br = await get('/widget.js', { 'accept-encoding': 'gzip, deflate, br' });
  assert.equal(br.status, 200);
  assert.equal(br.headers['content-encoding'], 'br');
  assert.ok(br.body.length < plain.length * 0.6, `brotli ${br.body.length} B of ${plain.length} B`);
  assert.deepEqual(brotliDecompressSync(br.body), plain);
  const gz = await get('/widget.js', { 'accept-encoding': 'gzip' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.deepEqual(gunzipSync(gz.body), plain);
  const none = await get('/widget.js');
  assert.equal(none.headers['content-encoding'], undefined);
  assert.deepEqual(none.body, plain);
  for (const r of [br, gz, none]) {
    assert.match(r.headers.vary ?? '', /accept-encoding/i);
    assert.match(r.headers['content-type'], /javascript/);
  }
});

test('the loader is cached briefly and revalidated; an unchanged one answers 304', async () => {
  const first = await get('/widget.js', { 'accept-encoding': 'br' });
  assert.equal(first.headers['cache-control'], 'public, max-age=300, must-revalidate');
  assert.ok(first.headers['last-modified'], 'a validator to revalidate with');
  const again = await get('/widget.js', { 'accept-encoding': 'br', 'if-modified-since': first.headers['last-modified'] });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
});

test('the panel the loader asks for (versioned) is immutable and compressed', async () => {
  const loader = built('widget', 'dist', 'widget.js').toString();
  const v = loader.match(/panel\.js\?v='?\+?"?([0-9a-f]{10})/)?.[1] ?? loader.match(/"([0-9a-f]{10})"/)?.[1];
  assert.ok(v, 'the loader names the panel version');
  const r = await get(`/widget/panel.js?v=${v}`, { 'accept-encoding': 'br' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(r.headers['content-encoding'], 'br');
  assert.deepEqual(brotliDecompressSync(r.body), built('widget', 'dist', 'panel.js'));
});

test('dashboard and store app: pages revalidate every time, their versioned scripts are kept for good', async () => {
  for (const [base, app] of [['/dashboard/', 'dashboard'], ['/app/', 'store-app']]) {
    const page = await get(base, { 'accept-encoding': 'gzip' });
    assert.equal(page.status, 200, base);
    assert.equal(page.headers['cache-control'], 'no-cache', base);
    const html = (page.headers['content-encoding'] === 'gzip' ? gunzipSync(page.body) : page.body).toString();
    const script = html.match(/src="\.?\/?(app\.js\?v=[0-9a-f]+)"/)?.[1];
    assert.ok(script, `${base} names a versioned app.js: ${html.slice(0, 400)}`);
    const js = await get(base + script, { 'accept-encoding': 'br, gzip' });
    assert.equal(js.status, 200);
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(js.headers['content-encoding'], 'br');
    assert.deepEqual(brotliDecompressSync(js.body), built(app, 'dist', 'app.js'));
    // An SPA route falls back to the page, with the page's rule.
    const deep = await get(base + 'some/screen');
    assert.equal(deep.status, 200);
    assert.equal(deep.headers['cache-control'], 'no-cache');
  }
});

test('a missing file is not cached', async () => {
  const r = await get('/widget/nothing-here.js');
  assert.equal(r.status, 404);
  assert.equal(r.headers['cache-control'], undefined);
});
