// Test harness: a real Floorwalker server (testing/server.mjs), Debian's Chromium through
// playwright-core at phone size, a shopper speaking the protocol over `ws`, the dashboard API
// for approving experts, and axe-core.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { startServer } from '../../../testing/server.mjs';

const require = createRequire(import.meta.url);
export const AXE_PATH = require.resolve('axe-core/axe.min.js');

if (!process.env.FLOORWALKER_BIN && existsSync('/tmp/fw-app/floorwalker')) process.env.FLOORWALKER_BIN = '/tmp/fw-app/floorwalker';

/** Starts a real server with the demo merchant; it serves the built app at /app/. */
export async function startStack() {
  const fw = await startServer();
  const base = fw.url;
  return {
    fw, base, app: `${base}/app/`, merchantId: fw.merchantId, password: fw.password,
    async stop() { await fw.stop(); },
  };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

export async function phone(browser, opts = {}) {
  const ctx = await browser.newContext({
    viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
    locale: 'en-US', serviceWorkers: 'block', ...opts,
  });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => { (page.errors ||= []).push(String(e)); });
  return { ctx, page };
}

export async function api(base, method, path, { body, token, cookie, csrf } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  if (cookie) headers.cookie = cookie;
  if (csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null; try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { status: res.status, data, headers: res.headers };
}

export async function admin(base, password) {
  const r = await api(base, 'POST', '/api/v1/auth/login', { body: { email: 'admin@demo.example', password } });
  if (r.status !== 200) throw new Error(`admin login ${r.status} ${JSON.stringify(r.data)}`);
  const cookie = r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const csrf = r.data.csrf_token;
  return {
    get: (p) => api(base, 'GET', p, { cookie }),
    post: (p, body) => api(base, 'POST', p, { cookie, csrf, body }),
    put: (p, body) => api(base, 'PUT', p, { cookie, csrf, body }),
    patch: (p, body) => api(base, 'PATCH', p, { cookie, csrf, body }),
  };
}

/** The demo's Stockholm store and its TV & Audio department (experts 1–3 work there). */
export async function stockholm(base, password) {
  const a = await admin(base, password);
  const r = await a.get('/api/v1/stores?limit=100');
  const store = r.data.items.find((s) => s.name.startsWith('Stockholm'));
  const department = store.departments.find((d) => d.name.startsWith('TV')) || store.departments[0];
  return { store, department };
}

export async function expertToken(base, email, password) {
  const r = await api(base, 'POST', '/api/v1/app/login', { body: { email, password } });
  if (r.status !== 200) throw new Error(`expert login ${email}: ${r.status}`);
  return r.data.token;
}

/** Open the app already signed in (token put in localStorage before the app starts). */
export async function openSignedIn(browser, app, token) {
  const p = await phone(browser);
  await p.ctx.addInitScript((tk) => {
    if (!sessionStorage.getItem('fw.test.init')) {
      sessionStorage.setItem('fw.test.init', '1');
      localStorage.setItem('fw.app.token', tk);
      localStorage.setItem('fw.app.notifyAsked', '1');
    }
  }, token);
  await p.page.goto(app);
  return p;
}

/** A shopper over the protocol. */
export async function shopper(base, merchantId) {
  const url = base.replace(/^http/, 'ws') + `/ws/shopper?merchant=${merchantId}&v=1`;
  const ws = new WebSocket(url);
  const frames = [];
  const waiters = [];
  ws.on('message', (d) => {
    const f = JSON.parse(String(d));
    frames.push(f);
    for (const w of [...waiters]) if (w.pred(f)) { waiters.splice(waiters.indexOf(w), 1); w.ok(f); }
  });
  await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
  const s = {
    ws, frames,
    send: (f) => ws.send(JSON.stringify(f)),
    waitFor(pred, ms = 10_000, what = 'frame') {
      const hit = frames.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((ok, fail) => {
        const w = { pred, ok: (f) => { clearTimeout(timer); ok(f); } };
        const timer = setTimeout(() => { waiters.splice(waiters.indexOf(w), 1); fail(new Error(`timed out waiting for ${what}; got ${frames.map((x) => x.type).join(',')}`)); }, ms);
        waiters.push(w);
      });
    },
    close: () => ws.close(),
  };
  s.send({ type: 'hello' });
  s.welcome = await s.waitFor((f) => f.type === 'welcome', 10_000, 'welcome');
  return s;
}

/** axe-core on the current page: returns serious and critical violations. */
export async function axe(page) {
  // Let entrance animations (fades, slides) finish: mid-fade colours are not what people read.
  await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity));
  // Evaluated, not added as a <script>: the app's Content-Security-Policy refuses inline scripts.
  await page.evaluate(readFileSync(AXE_PATH, 'utf8'));
  const res = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Signed-in expert on the home screen, connected and available. */
export async function expertHome(browser, stack, email) {
  const token = await expertToken(stack.base, email, stack.password);
  const p = await openSignedIn(browser, stack.app, token);
  await p.page.locator('.shell[data-conn="online"]').waitFor({ timeout: 15_000 });
  const sw = p.page.locator('#avail-switch');
  if (!(await sw.isChecked())) await sw.check({ force: true });
  await p.page.waitForFunction(() => document.querySelector('#avail-switch')?.checked === true);
  return p;
}

/** The shopper asks for a chat; resolves with the conversation id. */
export async function requestChat(s, place, text, departmentId = place.department.id) {
  const cmid = `c-${Math.random().toString(36).slice(2)}`;
  const before = s.frames.length;
  s.send({ type: 'request_chat', store_id: place.store.id, department_id: departmentId, page_url: 'https://shop.example/tv/55', text, client_msg_id: cmid });
  const c = await s.waitFor((f) => f.type === 'conversation' && s.frames.indexOf(f) >= before, 10_000, 'conversation');
  return c.conversation.id;
}
