// Translations. English is the reference; every language has the same keys (checked by tsc).
import { en, type Plural } from './lang/en';
import { sv } from './lang/sv';
import { de } from './lang/de';
import { el } from './lang/el';
import { cs } from './lang/cs';
import { fa } from './lang/fa';

export type Key = keyof typeof en;
export type Messages = Record<Key, string>;
export const LANGS = { en, sv, de, el, cs, fa } as const;
export type Lang = keyof typeof LANGS;
export const LANG_NAMES: Record<Lang, string> = {
  en: 'English', sv: 'Svenska', de: 'Deutsch', el: 'Ελληνικά', cs: 'Čeština', fa: 'فارسی',
};
const RTL = new Set<Lang>(['fa']);

function initial(): Lang {
  try {
    const saved = localStorage.getItem('fw.app.lang') as Lang | null;
    if (saved && saved in LANGS) return saved;
  } catch { /* */ }
  for (const l of navigator.languages || [navigator.language]) {
    const base = (l || '').slice(0, 2).toLowerCase() as Lang;
    if (base in LANGS) return base;
  }
  return 'en';
}

let lang: Lang = initial();
const listeners = new Set<() => void>();

export function currentLang() { return lang; }
export function applyLang() {
  document.documentElement.lang = lang;
  document.documentElement.dir = RTL.has(lang) ? 'rtl' : 'ltr';
}
export function setLang(l: Lang) {
  lang = l;
  try { localStorage.setItem('fw.app.lang', l); } catch { /* */ }
  applyLang();
  for (const fn of listeners) fn();
}
export function onLang(fn: () => void) { listeners.add(fn); return () => { listeners.delete(fn); }; }

const pluralRules = new Map<string, Intl.PluralRules>();
/** The plural category of `n` in the current language ("one", "few", …). */
export function pluralOf(n: number): Intl.LDMLPluralRule {
  let r = pluralRules.get(lang);
  if (!r) { r = new Intl.PluralRules(lang); pluralRules.set(lang, r); }
  return r.select(n);
}

/** The message for `key` with `{x}` filled in (numbers formatted for the language). A plural
 *  message takes the form for `vars.count`, else `vars.n`. */
export function t(key: Key, vars?: Record<string, string | number>): string {
  const m = ((LANGS[lang] as Messages)[key] ?? en[key] ?? key) as string | Plural;
  let s = typeof m === 'string' ? m : m[pluralOf(Number(vars?.count ?? vars?.n))] ?? m.other;
  if (vars) {
    for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(typeof v === 'number' ? num(v) : v);
  }
  return s;
}

/** A count in the language's digits and grouping. */
export function num(n: number): string {
  try { return new Intl.NumberFormat(lang).format(n); } catch { return String(n); }
}

/** Elapsed time as m:ss or h:mm:ss (digits stay Latin for quick reading). */
export function elapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

export function clock(at: number): string {
  try { return new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' }).format(at); } catch { return ''; }
}
export function date(at: number): string {
  try { return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(at); } catch { return ''; }
}
/** How long ago, in words ("2 minutes ago", "vor 2 Minuten", "۲ دقیقه پیش"). A time a little
 *  ahead of this device's clock counts as now. */
export function ago(at: number, now = Date.now(), style: 'long' | 'short' = 'long'): string {
  const s = Math.min(0, Math.round((at - now) / 1000));
  const abs = -s;
  const [v, unit]: [number, Intl.RelativeTimeFormatUnit] =
    abs < 45 ? [0, 'second'] : abs < 3600 ? [Math.round(s / 60), 'minute'] : abs < 86400 ? [Math.round(s / 3600), 'hour'] : [Math.round(s / 86400), 'day'];
  try { return new Intl.RelativeTimeFormat(lang, { numeric: 'auto', style }).format(v, unit); } catch { return clock(at); }
}
export function money(price: string | number | null | undefined, currency?: string | null): string {
  if (price === null || price === undefined || price === '') return '';
  const n = typeof price === 'number' ? price : Number(String(price).replace(',', '.'));
  if (currency && Number.isFinite(n)) {
    try { return new Intl.NumberFormat(lang, { style: 'currency', currency }).format(n); } catch { /* bad code */ }
  }
  return currency ? `${price} ${currency}` : String(price);
}

/** A shopper's display name: their name, else a label with a short tag from the Shopper ID so
 *  several anonymous shoppers can be told apart. */
export function shopperName(s: { id?: string | null; name?: string | null } | null | undefined, key: Key = 'chat.shopper'): string {
  if (s?.name) return s.name;
  const tag = (s?.id || '').replace(/[^0-9a-z]/gi, '').slice(-4).toUpperCase();
  return tag ? `${t(key)} ${tag}` : t(key);
}
