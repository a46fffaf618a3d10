// Web Push: alerts that reach the phone while the app is closed or the screen is locked
// (issue 23; docs/push.md). The service worker (sw.js) shows them; this module subscribes the
// device and tells the server, and explains each permission state.

import { request, type Schemas } from './api';
import { currentLang } from './i18n';

export type PushState = 'unsupported' | 'denied' | 'off' | 'on';

export type PushSubscriptionView = Schemas['PushSubscription'];

const SUB_KEY = 'fw.app.pushSub';

export function pushSupported(): boolean {
  return typeof window !== 'undefined' && 'serviceWorker' in navigator && 'PushManager' in window && typeof Notification !== 'undefined';
}

function b64urlToBytes(s: string): Uint8Array<ArrayBuffer> {
  const pad = '='.repeat((4 - (s.length % 4)) % 4);
  const raw = atob((s + pad).replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

async function registration(): Promise<ServiceWorkerRegistration | null> {
  if (!pushSupported()) return null;
  try {
    return (await navigator.serviceWorker.getRegistration()) ?? (await navigator.serviceWorker.register('./sw.js', { scope: './' }));
  } catch { return null; }
}

/** Where this device stands: no Push API, blocked, not subscribed, or subscribed. */
export async function pushState(): Promise<PushState> {
  if (!pushSupported()) return 'unsupported';
  if (Notification.permission === 'denied') return 'denied';
  const reg = await registration();
  const sub = await reg?.pushManager.getSubscription().catch(() => null);
  return sub && Notification.permission === 'granted' && localStorage.getItem(SUB_KEY) ? 'on' : 'off';
}

async function register(sub: PushSubscription): Promise<void> {
  const json = sub.toJSON() as { endpoint: string; keys: { p256dh: string; auth: string } };
  const saved = await request<PushSubscriptionView>('POST', 'app/push/subscriptions', { endpoint: json.endpoint, keys: json.keys, lang: currentLang() });
  try { localStorage.setItem(SUB_KEY, saved.id); } catch { /* */ }
}

/** Ask for permission (from a tap), subscribe with the server's key and register the device. */
export async function enablePush(): Promise<PushState> {
  if (!pushSupported()) return 'unsupported';
  const perm = await Notification.requestPermission().catch(() => Notification.permission);
  if (perm === 'denied') return 'denied';
  if (perm !== 'granted') return 'off';
  const reg = await registration();
  if (!reg) return 'unsupported';
  const { public_key } = await request<Schemas['PushKey']>('GET', 'app/push/key');
  let sub = await reg.pushManager.getSubscription();
  const key = b64urlToBytes(public_key);
  const same = (s: PushSubscription) => {
    const k = s.options?.applicationServerKey;
    if (!k) return true;
    const a = new Uint8Array(k as ArrayBuffer);
    return a.length === key.length && a.every((b, i) => b === key[i]);
  };
  if (sub && !same(sub)) { await sub.unsubscribe().catch(() => undefined); sub = null; }
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  await register(sub);
  return 'on';
}

/** Stop alerts to this device (server and browser). */
export async function disablePush(): Promise<PushState> {
  const id = localStorage.getItem(SUB_KEY);
  if (id) await request<void>('DELETE', `app/push/subscriptions/${encodeURIComponent(id)}`).catch(() => undefined);
  try { localStorage.removeItem(SUB_KEY); } catch { /* */ }
  const reg = await registration();
  const sub = await reg?.pushManager.getSubscription().catch(() => null);
  await sub?.unsubscribe().catch(() => undefined);
  return pushState();
}

/** On start and on a language change: the server keeps the device's keys and language current
 *  (a browser may rotate the subscription). Silent; never asks for permission. */
export async function refreshPush(): Promise<void> {
  if (!pushSupported() || Notification.permission !== 'granted' || !localStorage.getItem(SUB_KEY)) return;
  const reg = await registration();
  const sub = await reg?.pushManager.getSubscription().catch(() => null);
  if (sub) await register(sub).catch(() => undefined);
}

/** Signing out: the server drops this sign-in's devices; the browser forgets the subscription. */
export async function forgetPush(): Promise<void> {
  try { localStorage.removeItem(SUB_KEY); } catch { /* */ }
  const reg = await registration();
  const sub = await reg?.pushManager.getSubscription().catch(() => null);
  await sub?.unsubscribe().catch(() => undefined);
}

/** The offer a notification tap opened the app on (`#offer=<conversation id>`), once. */
export function takeOfferFromUrl(): string | null {
  const m = /[#&]offer=([^&]+)/.exec(location.hash);
  if (!m) return null;
  history.replaceState(history.state, '', location.pathname + location.search);
  return decodeURIComponent(m[1]);
}

// The offer a notification tap asked for, for the Home screen to bring into view.
let focused: string | null = null;
const focusListeners = new Set<(id: string | null) => void>();
export function focusOffer(id: string | null) { focused = id; for (const fn of focusListeners) fn(id); }
export function focusedOffer() { return focused; }
export function onFocusOffer(fn: (id: string | null) => void) { focusListeners.add(fn); return () => { focusListeners.delete(fn); }; }
