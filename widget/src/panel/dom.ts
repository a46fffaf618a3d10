// A tiny element builder: text is always set as text, never parsed as HTML.
type Kid = Node | string | number | null | undefined | false | Kid[];
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Record<string, unknown> | null,
  ...kids: Kid[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const k in attrs) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
      else if (k === 'class') el.className = String(v);
      else if (k === 'value' || k === 'checked' || k === 'disabled') (el as any)[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, kids);
  return el;
}
function append(el: Node, kids: Kid[]) {
  for (const k of kids) {
    if (Array.isArray(k)) append(el, k);
    else if (k !== null && k !== undefined && k !== false) el.appendChild(typeof k === 'object' ? k : document.createTextNode(String(k)));
  }
}

const NS = 'http://www.w3.org/2000/svg';
export function svg(d: string, cls?: string): SVGSVGElement {
  const s = document.createElementNS(NS, 'svg');
  s.setAttribute('viewBox', '0 0 24 24');
  s.setAttribute('aria-hidden', 'true');
  s.setAttribute('focusable', 'false');
  if (cls) s.setAttribute('class', cls);
  const p = document.createElementNS(NS, 'path');
  p.setAttribute('d', d);
  s.appendChild(p);
  return s;
}

export const ICON = {
  close: 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z',
  send: 'M3 20.5 21.5 12 3 3.5v6.6l13 1.9-13 1.9z',
  star: 'M12 2.8l2.8 6 6.5.7-4.9 4.4 1.4 6.4L12 17l-5.8 3.3 1.4-6.4-4.9-4.4 6.5-.7z',
  chat: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z',
  check: 'M9.5 16.2 5.3 12l-1.4 1.4 5.6 5.6 11-11-1.4-1.4z',
  warn: 'M1 21h22L12 2zm12-3h-2v-2h2zm0-4h-2v-4h2z',
  bag: 'M7 7V6a5 5 0 0 1 10 0v1h3l-1 14H5L4 7zm2 0h6V6a3 3 0 0 0-6 0z',
};

/** `https:` URLs, or URLs on the page's own origin (site-relative paths); nothing else. */
export function safeUrl(u: unknown): string | null {
  if (typeof u !== 'string' || !u) return null;
  try {
    const url = new URL(u, location.href);
    if (url.protocol === 'https:' || url.origin === location.origin) return url.href;
  } catch { /* invalid */ }
  return null;
}

/** Text with https links made clickable, built from text nodes only. */
export function linkify(text: string): Node[] {
  const out: Node[] = [];
  const re = /\bhttps?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]]/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    const href = safeUrl(m[0]);
    out.push(href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, m[0]) : document.createTextNode(m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}
