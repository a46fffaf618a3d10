import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { en, type Messages, type Plural } from './en';

export type { Messages };
export type Key = keyof Messages;
export type Lang = 'en' | 'sv' | 'de' | 'el' | 'cs' | 'fa';

export const LANGUAGES: { code: Lang; name: string; rtl?: boolean }[] = [
  { code: 'en', name: 'English' },
  { code: 'sv', name: 'Svenska' },
  { code: 'de', name: 'Deutsch' },
  { code: 'el', name: 'Ελληνικά' },
  { code: 'cs', name: 'Čeština' },
  { code: 'fa', name: 'فارسی', rtl: true },
];
// English is built in (and the fallback); the others are separate chunks loaded on demand.
const LOADERS: Record<Lang, () => Promise<Messages>> = {
  en: async () => en,
  sv: () => import('./sv').then((m) => m.sv),
  de: () => import('./de').then((m) => m.de),
  el: () => import('./el').then((m) => m.el),
  cs: () => import('./cs').then((m) => m.cs),
  fa: () => import('./fa').then((m) => m.fa),
};
const CATALOG: Partial<Record<Lang, Messages>> = { en };

/** Loads a language's messages (once); falls back to English if the chunk cannot load. */
export async function loadLang(lang: Lang): Promise<Lang> {
  if (CATALOG[lang]) return lang;
  try {
    CATALOG[lang] = await LOADERS[lang]();
    return lang;
  } catch {
    return 'en';
  }
}
const STORAGE_KEY = 'fw.dashboard.lang';

export function isLang(x: string | null | undefined): x is Lang {
  return !!x && x in LOADERS;
}

/** The remembered language, else the browser's first supported one, else English. */
export function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (isLang(saved)) return saved;
  } catch { /* storage blocked */ }
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = tag.toLowerCase().split('-')[0];
    if (isLang(base)) return base;
  }
  return 'en';
}

export function rememberLang(lang: Lang) {
  try { localStorage.setItem(STORAGE_KEY, lang); } catch { /* storage blocked */ }
}

export function applyLang(lang: Lang) {
  const html = document.documentElement;
  html.lang = lang;
  html.dir = LANGUAGES.find((l) => l.code === lang)?.rtl ? 'rtl' : 'ltr';
}

export type T = (key: Key | (string & {}), vars?: Record<string, string | number>) => string;

export function makeT(lang: Lang): T {
  const msgs = CATALOG[lang] ?? en;
  const nf = new Intl.NumberFormat(lang);
  const rules = new Intl.PluralRules(lang);
  return (key, vars) => {
    const m = (msgs as Record<string, string | Plural>)[key] ?? (en as Record<string, string | Plural>)[key] ?? key;
    // A count's text: the form for `count` (else `n`) in this language's plural rules.
    let s: string = typeof m === 'string' ? m : m[rules.select(Number(vars?.count ?? vars?.n))] ?? m.other;
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, (m, name) => {
        const v = vars[name];
        if (v === undefined) return m;
        return typeof v === 'number' ? nf.format(v) : v;
      });
    }
    return s;
  };
}

export interface I18n {
  lang: Lang;
  t: T;
  setLang: (l: Lang) => void;
  date: (ms: number | null | undefined) => string;
  dateTime: (ms: number | null | undefined) => string;
  /** A number in the chosen language (grouping, digits); `digits` fixes the fraction digits. */
  num: (n: number, digits?: number) => string;
  /** A 0..1 ratio as a percentage. */
  pct: (x: number) => string;
  /** A decimal string amount ("1234.50") in a currency, without going through floating point. */
  money: (amount: string | number, currency: string) => string;
  /** A duration in seconds, such as "45 s" or "2 min 5 s". */
  dur: (seconds: number) => string;
  /** A time of day, e.g. "14:05" (with seconds when asked). */
  time: (ms: number, seconds?: boolean) => string;
}

export const I18nContext = createContext<I18n>(null as unknown as I18n);
export const useI18n = () => useContext(I18nContext);
export const useT = () => useContext(I18nContext).t;

export function makeI18n(lang: Lang, setLang: (l: Lang) => void): I18n {
  const d = new Intl.DateTimeFormat(lang, { dateStyle: 'medium' });
  const dt = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' });
  return {
    lang,
    t: makeT(lang),
    setLang,
    date: (ms) => (ms ? d.format(new Date(ms)) : '—'),
    dateTime: (ms) => (ms ? dt.format(new Date(ms)) : '—'),
    num: (n, digits) => numberFormat(lang, digits).format(n),
    pct: (x) => new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1 }).format(x),
    money: (amount, currency) => {
      try {
        const f = new Intl.NumberFormat(lang, { style: 'currency', currency });
        // Intl formats decimal strings exactly (no float rounding) where supported.
        return (f.format as (v: string | number) => string)(amount);
      } catch {
        return `${amount} ${currency}`;
      }
    },
    dur: (s) => formatDuration(lang, s),
    time: (ms, seconds) => new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', second: seconds ? '2-digit' : undefined }).format(new Date(ms)),
  };
}

const numberFormats = new Map<string, Intl.NumberFormat>();
function numberFormat(lang: Lang, digits?: number) {
  const k = lang + ':' + (digits ?? '');
  let f = numberFormats.get(k);
  if (!f) {
    f = new Intl.NumberFormat(lang, digits === undefined ? { maximumFractionDigits: 1 } : { minimumFractionDigits: digits, maximumFractionDigits: digits });
    numberFormats.set(k, f);
  }
  return f;
}

function unit(lang: Lang, n: number, u: 'second' | 'minute' | 'hour' | 'day') {
  return new Intl.NumberFormat(lang, { style: 'unit', unit: u, unitDisplay: 'short', maximumFractionDigits: 0 }).format(n);
}

export function formatDuration(lang: Lang, seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return unit(lang, s, 'second');
  if (s < 3600) {
    const m = Math.floor(s / 60), r = s % 60;
    return r ? `${unit(lang, m, 'minute')} ${unit(lang, r, 'second')}` : unit(lang, m, 'minute');
  }
  if (s < 86400) {
    const h = Math.floor(s / 3600), m = Math.round((s % 3600) / 60);
    return m ? `${unit(lang, h, 'hour')} ${unit(lang, m, 'minute')}` : unit(lang, h, 'hour');
  }
  const d = Math.floor(s / 86400), h = Math.round((s % 86400) / 3600);
  return h ? `${unit(lang, d, 'day')} ${unit(lang, h, 'hour')}` : unit(lang, d, 'day');
}
