// Shared by the browser tests and the screenshot script.
import { startServer } from '../../testing/server.mjs';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--no-first-run'];
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * A fresh server with the demo merchant. FLOORWALKER_DEMO is passed as `true` because the
 * server's `--demo` flag parses only true/false (testing/server.mjs sets `1`).
 */
export function startDemoServer() {
  return startServer({ env: { FLOORWALKER_DEMO: 'true' } });
}

export const dash = (fw) => `${fw.url}/dashboard/`;

/** Signs in through the login form and waits for the signed-in shell. */
export async function login(page, fw, email, { lang } = {}) {
  if (lang) await page.addInitScript((l) => localStorage.setItem('fw.dashboard.lang', l), lang);
  await page.goto(dash(fw));
  await page.locator('#f-email').fill(email);
  await page.locator('#f-password').fill(fw.password);
  await page.locator('form.login-card button[type=submit]').click();
  await page.locator('#sidebar nav a').first().waitFor({ state: 'attached' });
  await page.locator('main h1').waitFor();
}

// ---------- driving the real server from Node (chat protocol, API) ----------
import WebSocket from 'ws';
import AxeBuilder from '@axe-core/playwright';
import { expect } from '@playwright/test';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(fn, { timeout = 10_000, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A dashboard API session for `email`: `api(method, path, body)` → parsed JSON; throws on errors. */
export async function session(fw, email) {
  const res = await fetch(`${fw.url}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: fw.password }),
  });
  if (!res.ok) throw new Error(`login ${email} → ${res.status}: ${await res.text()}`);
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const { csrf_token } = await res.json();
  const raw = (method, path, body) => fetch(`${fw.url}/api/v1${path}`, {
    method, headers: { cookie, 'x-csrf-token': csrf_token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const api = async (method, path, body) => {
    const r = await raw(method, path, body);
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path} → ${r.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  };
  api.raw = raw;
  api.cookie = cookie;
  return api;
}

/** The demo merchant's stores by name, with departments by name. */
export async function demoStores(api) {
  const page = await api('GET', '/stores?limit=200');
  const out = {};
  for (const s of page.items) out[s.name] = { id: s.id, dept: Object.fromEntries(s.departments.map((d) => [d.name, d.id])) };
  return out;
}

/** A merchant API key (secret) created through the API. */
export async function apiKey(api, name = 'Tests') {
  const r = await api('POST', '/api-keys', { name });
  return r.secret;
}

/** Reports an order with an API key, like the merchant's shop would. */
export async function reportOrder(fw, secret, order) {
  const r = await fetch(`${fw.url}/api/v1/orders`, {
    method: 'POST', headers: { authorization: 'Bearer ' + secret, 'content-type': 'application/json' }, body: JSON.stringify(order),
  });
  const text = await r.text();
  if (r.status !== 201 && r.status !== 200) throw new Error(`POST /orders → ${r.status}: ${text}`);
  return JSON.parse(text);
}

class Peer {
  async open(url) {
    this.ws = new WebSocket(url);
    this.frames = [];
    this.ws.on('message', (d) => this.frames.push(JSON.parse(String(d))));
    await new Promise((ok, fail) => { this.ws.once('open', ok); this.ws.once('error', fail); });
  }
  send(f) { this.ws.send(JSON.stringify(f)); }
  /** The first frame (seen or arriving) matching `pred`; it is consumed. */
  async next(pred, timeout = 10_000) {
    try {
      return await waitFor(() => {
        const i = this.frames.findIndex(pred);
        return i < 0 ? null : this.frames.splice(i, 1)[0];
      }, { timeout, what: 'frame' });
    } catch (e) {
      e.message += `: ${pred.toString()}; unconsumed: ${JSON.stringify(this.frames).slice(0, 1200)}`;
      throw e;
    }
  }
  close() { this.ws.close(); }
}

/** An expert in the store app, over the real protocol, available for chats. */
export class Expert extends Peer {
  static async connect(fw, email = 'expert1@demo.example') {
    const res = await fetch(`${fw.url}/api/v1/app/login`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: fw.password }),
    });
    if (!res.ok) throw new Error(`expert login ${res.status}: ${await res.text()}`);
    const { token } = await res.json();
    const e = new Expert();
    await e.open(`${fw.url.replace(/^http/, 'ws')}/ws/expert?v=1`);
    e.send({ type: 'hello', token });
    e.welcome = await e.next((f) => f.type === 'welcome');
    e.send({ type: 'set_status', available: true });
    await e.next((f) => f.type === 'status');
    return e;
  }
  /** Claims the offer for `conversationId`. */
  async claim(conversationId) {
    await this.next((f) => f.type === 'offer' && f.offer.conversation_id === conversationId, 15_000);
    this.send({ type: 'claim', conversation_id: conversationId });
    const r = await this.next((f) => (f.type === 'claim_failed' && f.conversation_id === conversationId) ||
      (f.type === 'conversation' && f.conversation.id === conversationId && f.conversation.status === 'claimed'));
    if (r.type !== 'conversation') throw new Error('claim failed: ' + JSON.stringify(r));
  }
  async say(conversation_id, body) {
    const client_msg_id = 'e-' + Math.random().toString(36).slice(2);
    this.send({ type: 'send', conversation_id, client_msg_id, body });
    return this.next((f) => f.type === 'ack' && f.client_msg_id === client_msg_id);
  }
}

/** A shopper's widget, over the real protocol. */
export class Shopper extends Peer {
  /** `token`: a returning shopper's (from an earlier `welcome`). */
  static async connect(fw, token) {
    const s = new Shopper();
    await s.open(`${fw.url.replace(/^http/, 'ws')}/ws/shopper?merchant=${fw.merchantId}&v=1`);
    s.send(token ? { type: 'hello', locale: 'en', token } : { type: 'hello', locale: 'en' });
    s.welcome = await s.next((f) => f.type === 'welcome');
    s.id = s.welcome.shopper_id;
    s.token = s.welcome.token;
    return s;
  }
  viewed(page_url, page_title, product) { this.send({ type: 'context', page_url, page_title, product }); }
  async requestChat(fields) {
    this.send({ type: 'request_chat', client_msg_id: 'c-' + Math.random().toString(36).slice(2), ...fields });
    const f = await this.next((x) => x.type === 'conversation' || x.type === 'unavailable');
    if (f.type !== 'conversation') throw new Error('chat unavailable: ' + JSON.stringify(f));
    return f.conversation;
  }
  async end(conversation_id) {
    this.send({ type: 'end', conversation_id });
    return this.next((f) => f.type === 'conversation' && f.conversation.id === conversation_id && ['ended', 'abandoned'].includes(f.conversation.status));
  }
  async rate(conversation_id, score, comment) {
    this.send({ type: 'rate', conversation_id, score, comment });
    return this.next((f) => f.type === 'conversation' && f.conversation.id === conversation_id && f.conversation.rating);
  }
}

/** A whole chat: requested in `store`/`dept`, claimed by `expert`, one reply, ended, optionally rated. */
export async function fullChat(fw, expert, { store_id, department_id, text = 'Hello?', reply = 'Hi! How can I help?', rating, shopper } = {}) {
  const s = shopper ?? await Shopper.connect(fw);
  const c = await s.requestChat({ store_id, department_id, text });
  await expert.claim(c.id);
  await expert.say(c.id, reply);
  await s.end(c.id);
  if (rating) await s.rate(c.id, rating);
  return { shopper: s, conversation: c };
}

/** RFC 4180 CSV → array of records (arrays of strings). */
export function parseCsv(text) {
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') { if (text[i + 1] === '"') { field += '"'; i++; } else quoted = false; }
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = '';
    } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}

/** CSV text → objects keyed by the header row. */
export function csvObjects(text) {
  const [head, ...rest] = parseCsv(text.replace(/^\uFEFF/, ''));
  return rest.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}

/** axe-core (WCAG 2.x A/AA): no serious or critical violations. */
export async function expectNoSeriousViolations(page, where) {
  await page.locator('main h1').waitFor();
  await page.waitForLoadState('networkidle').catch(() => {});
  await expect(page.locator('.loading')).toHaveCount(0);
  // From the top: axe counts a control scrolled under the sticky top bar as too small a target.
  await page.evaluate(() => window.scrollTo(0, 0));
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = bad.map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('\n  ')}`).join('\n');
  expect(bad, `${where}\n${report}`).toEqual([]);
}
