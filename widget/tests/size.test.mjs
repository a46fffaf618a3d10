// The weight budget: the loader ≤ 10 KB and the panel ≤ 40 KB, gzipped (run after `npm run build`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const gz = (f) => gzipSync(readFileSync(join(dist, f)), { level: 9 }).length;

test('widget.js (the loader) is at most 10 KB gzipped', (t) => {
  const n = gz('widget.js');
  t.diagnostic(`widget.js: ${n} B gzipped`);
  assert.ok(n <= 10 * 1024, `widget.js is ${n} B gzipped`);
});

test('panel.js (the lazily loaded chat panel) is at most 40 KB gzipped', (t) => {
  const n = gz('panel.js');
  t.diagnostic(`panel.js: ${n} B gzipped`);
  assert.ok(n <= 40 * 1024, `panel.js is ${n} B gzipped`);
});

test('the loader does not contain the panel', () => {
  const loader = readFileSync(join(dist, 'widget.js'), 'utf8');
  assert.ok(!loader.includes('request_chat'), 'protocol code belongs in panel.js');
  assert.ok(loader.includes('/widget/panel.js'));
});
