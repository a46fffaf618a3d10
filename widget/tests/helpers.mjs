// Test support: the real server (testing/server.mjs), Chromium through playwright-core, an
// expert speaking the protocol over `ws`, and the dashboard API for settings.
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { startServer } from '../../testing/server.mjs';

export { startServer };

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

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

/** An expert connected over the real protocol. */
export class Expert {
  static async connect(fw, email = 'expert1@demo.example') {
    const res = await fetch(`${fw.url}/api/v1/app/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: fw.password }),
    });
    if (!res.ok) throw new Error(`expert login ${res.status}: ${await res.text()}`);
    const { token } = await res.json();
    const e = new Expert();
    e.ws = new WebSocket(`${fw.url.replace(/^http/, 'ws')}/ws/expert?v=1`);
    e.frames = [];
    e.ws.on('message', (d) => e.frames.push(JSON.parse(String(d))));
    await new Promise((ok, fail) => { e.ws.once('open', ok); e.ws.once('error', fail); });
    e.send({ type: 'hello', token });
    await e.next((f) => f.type === 'welcome');
    e.send({ type: 'set_status', available: true });
    await e.next((f) => f.type === 'status');
    return e;
  }
  send(f) { this.ws.send(JSON.stringify(f)); }
  /** The first frame (seen so far or arriving) matching `pred`; it is consumed. */
  async next(pred, timeout = 10_000) {
    try {
      return await waitFor(() => {
        const i = this.frames.findIndex(pred);
        if (i < 0) return null;
        return this.frames.splice(i, 1)[0];
      }, { timeout, what: 'expert frame' });
    } catch (e) {
      e.message += `: ${pred.toString()}; unconsumed frames: ${JSON.stringify(this.frames).slice(0, 1500)}`;
      throw e;
    }
  }
  /** Claim the next offer matching `pred`, skipping offers already withdrawn or lost. */
  async claimNext(pred = () => true) {
    for (;;) {
      const offer = await this.next((f) => f.type === 'offer' && pred(f.offer));
      const id = offer.offer.conversation_id;
      if (this.frames.some((f) => f.type === 'offer_withdrawn' && f.conversation_id === id)) continue;
      this.send({ type: 'claim', conversation_id: id });
      const r = await this.next((f) => (f.type === 'claim_failed' && f.conversation_id === id) ||
        (f.type === 'conversation' && f.conversation.id === id && f.conversation.status === 'claimed'));
      if (r.type === 'conversation') return offer.offer;
    }
  }
  say(conversation_id, body, extra = {}) {
    const client_msg_id = 'e-' + Math.random().toString(36).slice(2);
    this.send({ type: 'send', conversation_id, client_msg_id, body, ...extra });
    return this.next((f) => f.type === 'ack' && f.client_msg_id === client_msg_id);
  }
  close() { this.ws.close(); }
}

/** A dashboard session (admin@demo.example unless told; operator@demo.example for demos): `api(method, path, body)`. */
export async function admin(fw, email = 'admin@demo.example') {
  const res = await fetch(`${fw.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: fw.password }),
  });
  if (!res.ok) throw new Error(`login ${email}: ${res.status}: ${await res.text()}`);
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const { csrf_token } = await res.json();
  return async (method, path, body) => {
    const r = await fetch(`${fw.url}/api/v1${path}`, {
      method,
      headers: { cookie, 'x-csrf-token': csrf_token, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path} → ${r.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

/** Locator helpers for the widget's (open) shadow root; Playwright CSS pierces it. */
export const W = {
  launcher: 'floorwalker-widget .fw-launch',
  panel: 'floorwalker-widget .fw-panel',
  question: 'floorwalker-widget #fw-q',
  start: 'floorwalker-widget .fw-start',
  composer: 'floorwalker-widget #fw-msg',
  log: 'floorwalker-widget .fw-log',
};

/** Change display settings and wait until the public widget config shows them (the hub caches settings ~5 s). */
export async function setDisplay(fw, api, display) {
  await api('PUT', '/settings/display', display);
  await waitFor(async () => {
    const c = await (await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}`)).json();
    return JSON.stringify(c.display) === JSON.stringify({ ...c.display, ...display });
  }, { timeout: 15_000, what: 'display settings to reach the widget config' });
}

/** Replace the allowed origins and wait until the config endpoint answers CORS for `probe`. */
export async function setOrigins(fw, api, origins, probe) {
  await api('PUT', '/settings/origins', { origins });
  await waitFor(async () => {
    const r = await fetch(`${fw.url}/api/v1/public/widget-config?merchant=${fw.merchantId}`, { headers: { origin: probe } });
    return r.headers.get('access-control-allow-origin') === probe;
  }, { timeout: 15_000, what: 'origins to reach the hub' });
}

/**
 * The shopper's first message as the expert sees it: in the offer, or — when the server answered
 * request_chat with `error unavailable` for it (seen intermittently) — as the message the widget
 * resends with the same client_msg_id. Reports that case as a diagnostic.
 */
export async function firstMessage(t, fw, expert, offer, body) {
  if (offer.first_message === body) return body;
  t.diagnostic(`server: offer.first_message was ${JSON.stringify(offer.first_message)}; waiting for the widget's resend. Server warnings: ` +
    fw.log().split('\n').filter((l) => /WARN|ERROR/.test(l)).slice(-3).join(' | '));
  const f = await expert.next((x) => x.type === 'message' && x.message.conversation_id === offer.conversation_id && x.message.body === body, 15_000);
  return f.message.body;
}
