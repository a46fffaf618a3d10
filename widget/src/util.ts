// Small pure helpers shared by the loader and the panel (unit-tested in tests/unit.test.mjs).

export const LANGS = ['en', 'sv', 'de', 'el', 'cs', 'fa'];
export const RTL = ['fa'];

/** `*` matches any run of characters (including `/`); everything else matches itself. */
export function globMatch(pattern: string, text: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === text;
  const first = parts[0];
  const last = parts[parts.length - 1];
  if (!text.startsWith(first) || text.length < first.length + last.length || !text.endsWith(last)) return false;
  let rest = text.slice(first.length, text.length - last.length);
  for (const mid of parts.slice(1, -1)) {
    const i = rest.indexOf(mid);
    if (i < 0) return false;
    rest = rest.slice(i + mid.length);
  }
  return true;
}

export function isHiddenPath(patterns: string[] | undefined, path: string): boolean {
  return (patterns || []).some((p) => globMatch(p, path));
}

function channel(c: number): number {
  const s = c / 255;
  return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
}

export function luminance(hex: string): number {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex.trim());
  if (!m) return 0;
  const n = parseInt(m[1], 16);
  return 0.2126 * channel((n >> 16) & 255) + 0.7152 * channel((n >> 8) & 255) + 0.0722 * channel(n & 255);
}

export function contrast(a: string, b: string): number {
  const la = luminance(a);
  const lb = luminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** Black or white, whichever reads better on `bg` (always ≥ 4.58:1). */
export function onColor(bg: string): string {
  return contrast(bg, '#000000') >= contrast(bg, '#ffffff') ? '#000000' : '#ffffff';
}

export function validColor(c: string | undefined): string {
  return c && /^#[0-9a-f]{6}$/i.test(c) ? c : '#1f5f8b';
}

/**
 * The shopper's language: an explicit choice (setLocale / data-locale) if offered, else the first
 * of the browser's languages that is offered, else the merchant's default, else the first offered.
 */
export function pickLocale(
  explicit: string | null | undefined,
  browser: readonly string[],
  offered: string[] | undefined,
  fallback: string | undefined,
): string {
  const ok = (offered && offered.length ? offered : LANGS).filter((l) => LANGS.includes(l));
  const base = (l: string) => l.toLowerCase().split(/[-_]/)[0];
  if (explicit && ok.includes(base(explicit))) return base(explicit);
  for (const l of browser) if (ok.includes(base(l))) return base(l);
  if (fallback && ok.includes(fallback)) return fallback;
  return ok[0] || 'en';
}

export function greetingFor(greeting: Record<string, string> | undefined, lang: string): string {
  return (greeting && (greeting[lang] || greeting.en)) || '';
}

/** Styles inside the shadow root without <style> elements, so a strict style-src CSP is fine. */
export function adopt(root: ShadowRoot, css: string) {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
  } catch {
    const s = document.createElement('style');
    s.textContent = css;
    root.appendChild(s);
  }
}
