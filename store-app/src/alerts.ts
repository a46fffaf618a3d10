// Getting an expert's attention: a WebAudio beep, vibration, and a system notification when
// the app is in the background. No audio asset is needed.

import type { Offer } from './hub';
import { t } from './i18n';

let ctx: AudioContext | null = null;
const prefs = { sound: true, vibrate: true };
try { Object.assign(prefs, JSON.parse(localStorage.getItem('fw.app.alerts') || '{}')); } catch { /* */ }
export function alertPrefs() { return { ...prefs }; }
export function setAlertPrefs(p: Partial<typeof prefs>) {
  Object.assign(prefs, p);
  try { localStorage.setItem('fw.app.alerts', JSON.stringify(prefs)); } catch { /* */ }
}

/** Browsers only allow audio after a user gesture: call this from the first tap. */
export function unlockAudio() {
  try {
    const AC = window.AudioContext || (window as any).webkitAudioContext;
    if (!AC) return;
    if (!ctx) ctx = new AC();
    if (ctx.state === 'suspended') void ctx.resume();
  } catch { /* no audio */ }
}

export function beep(times = 2) {
  if (!prefs.sound || !ctx || ctx.state !== 'running') return;
  const now = ctx.currentTime;
  for (let i = 0; i < times; i++) {
    const o = ctx.createOscillator();
    const g = ctx.createGain();
    o.type = 'sine';
    o.frequency.value = i % 2 ? 660 : 880;
    const t0 = now + i * 0.22;
    g.gain.setValueAtTime(0.0001, t0);
    g.gain.exponentialRampToValueAtTime(0.3, t0 + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.18);
    o.connect(g).connect(ctx.destination);
    o.start(t0);
    o.stop(t0 + 0.2);
  }
}

export function vibrate(pattern: number[]) {
  if (!prefs.vibrate) return;
  try { navigator.vibrate?.(pattern); } catch { /* not supported */ }
}

export function notificationsSupported() { return typeof Notification !== 'undefined'; }
export function notificationPermission(): NotificationPermission | 'unsupported' {
  return notificationsSupported() ? Notification.permission : 'unsupported';
}
export async function askNotificationPermission(): Promise<NotificationPermission | 'unsupported'> {
  if (!notificationsSupported()) return 'unsupported';
  try { return await Notification.requestPermission(); } catch { return Notification.permission; }
}

async function showNotification(title: string, body: string, tag: string) {
  if (notificationPermission() !== 'granted') return;
  const opts: NotificationOptions & { renotify?: boolean; vibrate?: number[] } = { body, tag, renotify: true, icon: 'icon-192.png', badge: 'icon-192.png', requireInteraction: true } as any;
  try {
    const reg = await navigator.serviceWorker?.getRegistration();
    if (reg) { await reg.showNotification(title, opts); return; }
  } catch { /* fall back */ }
  try { new Notification(title, opts); } catch { /* */ }
}

/** A new offer (or, with `message`, a new shopper message in a chat not on screen). */
export function alertOffer(o: Offer | null, count: number, message = false) {
  if (message) {
    beep(1);
    vibrate([80]);
    if (document.hidden) void showNotification(t('notify.message'), '', 'fw-message');
    return;
  }
  if (!o) return;
  beep(2);
  vibrate([200, 100, 200]);
  if (document.hidden) {
    const where = [o.store?.name, o.department?.name].filter(Boolean).join(' · ');
    const body = [where, o.first_message].filter(Boolean).join('\n');
    void showNotification(t('notify.offers', { n: Math.max(1, count) }), body, 'fw-offer');
  }
}
