// widget.js — the loader merchants embed. It stays tiny: it reads the merchant's display
// settings, decides whether the chat shows on this page, draws the launcher inside a shadow root
// and loads the chat panel (panel.js) only on first interaction, or at once when a conversation
// is already open. Every later command goes through `window.Floorwalker(...)`.
import { adopt, contrast, greetingFor, isHiddenPath, onColor, pickLocale, RTL, validColor } from './util';
import type { Context, Host, Identity, PanelApi, Reopened, WidgetConfig } from './types';
import { PANEL_GLOBAL } from './types';
import { LOADER_CSS } from './loader-css';

declare const PANEL_VERSION: string;

// A count's message: one form, or one per plural category (Intl.PluralRules), `other` last resort.
type Counted = string | { one?: string; few?: string; many?: string; other: string };
const L: Record<string, [string, Counted, string]> = {
  // [launcher name, "{n} unread" , dismiss]
  en: ['Chat with a store expert', '{n} unread', 'Dismiss'],
  sv: ['Chatta med en butiksexpert', { one: '{n} oläst', other: '{n} olästa' }, 'Stäng'],
  de: ['Mit einer Fachkraft im Laden chatten', '{n} ungelesen', 'Ausblenden'],
  el: ['Συνομιλία με ειδικό του καταστήματος', { one: '{n} μη αναγνωσμένο', other: '{n} μη αναγνωσμένα' }, 'Απόκρυψη'],
  cs: ['Chat s odborníkem z prodejny', { one: '{n} nepřečtená', few: '{n} nepřečtené', many: '{n} nepřečtené', other: '{n} nepřečtených' }, 'Zavřít'],
  fa: ['گفتگو با کارشناس فروشگاه', '{n} پیام خوانده‌نشده', 'بستن'],
};

function counted(m: Counted, lang: string, n: number): string {
  let form: string;
  let digits = String(n);
  try {
    form = typeof m === 'string' ? m : (m as any)[new Intl.PluralRules(lang).select(n)] || m.other;
    digits = new Intl.NumberFormat(lang).format(n);
  } catch {
    form = typeof m === 'string' ? m : m.other;
  }
  return form.replace('{n}', digits);
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function icon(d: string): SVGSVGElement {
  const s = document.createElementNS(SVG_NS, 'svg');
  s.setAttribute('viewBox', '0 0 24 24');
  s.setAttribute('aria-hidden', 'true');
  s.setAttribute('focusable', 'false');
  const p = document.createElementNS(SVG_NS, 'path');
  p.setAttribute('d', d);
  s.appendChild(p);
  return s;
}
const CHAT = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z';
const CLOSE = 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z';

(function () {
  const w = window as any;
  if (w.__floorwalkerLoaded) return;
  const script = (document.currentScript ||
    document.querySelector('script[data-merchant][src*="widget.js"]')) as HTMLScriptElement | null;
  if (!script || !script.src) return;
  w.__floorwalkerLoaded = true;
  const origin = new URL(script.src, location.href).origin;
  const merchant = script.getAttribute('data-merchant') || '';
  // A sales demo (/demo/<slug>) dresses the widget in the prospect's brand.
  const demo = script.getAttribute('data-demo') || '';
  const queued: IArguments[] | unknown[][] = (w.Floorwalker && w.Floorwalker.q) || [];
  const pending: unknown[][] = [];
  let ready = false;
  let dead = false;

  const st = {
    context: {} as Context,
    identity: null as Identity | null,
    explicitLocale: script.getAttribute('data-locale'),
    hidden: false,
    unread: 0,
    open: false,
  };
  let config: WidgetConfig;
  let locale = 'en';
  let shadow: ShadowRoot;
  let rootEl: HTMLElement;
  let launcher: HTMLButtonElement;
  let badge: HTMLElement;
  let greet: HTMLElement | null = null;
  let custom: HTMLElement | null = null;
  let panel: PanelApi | null = null;
  let panelLoading: Promise<PanelApi> | null = null;
  let host: Host;
  // The browser's top layer (Popover API): nothing on the page — an overlay at the highest
  // z-index, a transform on <body>, `all: unset` — can cover or move what is in it.
  let topLayer = false;

  function emit(name: string, detail?: unknown) {
    window.dispatchEvent(new CustomEvent('floorwalker:' + name, { detail }));
  }

  function api(cmd: string, ...args: any[]) {
    if (dead) return;
    if (!ready) {
      pending.push([cmd, ...args]);
      return;
    }
    switch (cmd) {
      case 'open':
        loadPanel().then((p) => p.open(), () => {});
        break;
      case 'close':
        if (panel) panel.close();
        break;
      case 'toggle':
        if (panel && panel.isOpen()) panel.close();
        else api('open');
        break;
      case 'hide':
        st.hidden = true;
        paint();
        break;
      case 'show':
        st.hidden = false;
        paint();
        break;
      case 'setLauncher':
        setLauncher(args[0]);
        break;
      case 'identify':
        if (args[0] && typeof args[0].email === 'string') {
          st.identity = { email: args[0].email, name: args[0].name, signature: String(args[0].signature || '') };
          host.identity = st.identity;
          if (panel) panel.update();
        }
        break;
      case 'setContext':
        if (args[0] && typeof args[0] === 'object') {
          st.context = { ...st.context, ...args[0] };
          host.context = st.context;
          if (panel) panel.update();
        }
        break;
      case 'setLocale':
        st.explicitLocale = String(args[0] || '');
        setLocale();
        if (panel) panel.update();
        break;
      default:
        if (typeof console !== 'undefined') console.warn('Floorwalker: unknown command', cmd);
    }
  }
  const fw: any = function () {
    // eslint-disable-next-line prefer-rest-params
    api.apply(null, Array.prototype.slice.call(arguments) as [string]);
  };
  fw.loaded = true;
  w.Floorwalker = fw;
  for (const a of queued as ArrayLike<unknown>[]) api.apply(null, Array.prototype.slice.call(a) as [string]);

  function hasOpenConversation(): boolean {
    try {
      const s = JSON.parse(localStorage.getItem('fw:' + merchant) || 'null');
      return !!(s && s.conv && !s.done);
    } catch {
      return false;
    }
  }

  // A "continue the conversation" link from an e-mail: #fw-reopen=<token>. The server checks
  // it and re-issues this shopper's token; the chat opens on that conversation.
  let reopened = false;
  const link = /(?:^#|&)fw-reopen=([^&]+)/.exec(location.hash);
  const reopening = link
    ? fetch(origin + '/api/v1/widget/reopen?merchant=' + encodeURIComponent(merchant), {
        method: 'POST',
        credentials: 'omit',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: decodeURIComponent(link[1]) }),
      })
        .then((r) => (r.ok ? r.json() : null))
        .then((v: Reopened | null) => {
          if (v && v.merchant_id === merchant) {
            localStorage.setItem('fw:' + merchant, JSON.stringify({ token: v.token, conv: { id: v.conversation_id, status: 'claimed' } }));
            reopened = true;
          }
        })
        .catch(() => {})
        .then(() => history.replaceState(null, '', location.pathname + location.search))
    : Promise.resolve();

  const configUrl =
    origin + '/api/v1/public/widget-config?merchant=' + encodeURIComponent(merchant) + (demo ? '&demo=' + encodeURIComponent(demo) : '');
  reopening
    .then(() => fetch(configUrl, { credentials: 'omit' }))
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error('widget-config ' + r.status))))
    .then((c: WidgetConfig) => {
      config = c;
      const d = c.display || {};
      const live = hasOpenConversation();
      const showable =
        d.enabled !== false &&
        !isHiddenPath(d.hidden_paths, location.pathname) &&
        (live ||
          d.show_when === undefined ||
          d.show_when === 'always' ||
          (d.show_when === 'available_only' && c.availability.experts_available > 0) ||
          (d.show_when === 'opening_hours' && c.availability.open));
      if (!showable) {
        dead = true;
        return;
      }
      mount();
      ready = true;
      for (const a of pending.splice(0)) api.apply(null, a as [string]);
      emit('ready', { merchant_id: c.merchant_id, locale });
      if (reopened) api('open');
      else if (live) loadPanel().catch(() => {});
    })
    .catch((e) => {
      dead = true;
      if (typeof console !== 'undefined') console.warn('Floorwalker:', e && e.message);
    });

  function setLocale() {
    const d = config.display || {};
    locale = pickLocale(st.explicitLocale, navigator.languages || [navigator.language], d.languages, d.default_language);
    if (host) host.locale = locale;
    rootEl.setAttribute('lang', locale);
    rootEl.setAttribute('dir', RTL.includes(locale) ? 'rtl' : 'ltr');
    paint();
  }

  function mount() {
    const d = config.display || {};
    const el = document.createElement('floorwalker-widget');
    shadow = el.attachShadow({ mode: 'open' });
    adopt(shadow, LOADER_CSS);
    rootEl = document.createElement('div');
    rootEl.className = 'fw';
    topLayer = typeof (rootEl as any).showPopover === 'function';
    if (topLayer) rootEl.setAttribute('popover', 'manual');
    const primary = validColor(d.primary_color);
    rootEl.style.setProperty('--fw-primary', primary);
    rootEl.style.setProperty('--fw-on-primary', onColor(primary));
    // Selection rings and spinners need 3:1 against the panel: the primary colour if it has it.
    rootEl.style.setProperty('--fw-accent-light', contrast(primary, '#ffffff') >= 3 ? primary : '#1b1f24');
    rootEl.style.setProperty('--fw-accent-dark', contrast(primary, '#16191d') >= 3 ? primary : '#e8ebef');
    rootEl.setAttribute('data-pos', d.position === 'bottom-left' ? 'left' : 'right');
    rootEl.setAttribute('data-scheme', d.color_scheme || 'auto');

    launcher = document.createElement('button');
    launcher.type = 'button';
    launcher.className = 'fw-launch';
    launcher.setAttribute('aria-expanded', 'false');
    launcher.appendChild(icon(CHAT)).classList.add('fw-i-chat');
    launcher.appendChild(icon(CLOSE)).classList.add('fw-i-close');
    badge = document.createElement('span');
    badge.className = 'fw-badge';
    badge.setAttribute('aria-hidden', 'true');
    launcher.appendChild(badge);
    launcher.addEventListener('click', () => api('toggle'));
    launcher.addEventListener('pointerenter', () => loadPanel().catch(() => {}), { once: true });

    let dismissed = false;
    try {
      dismissed = sessionStorage.getItem('fw:greet') === '1';
    } catch { /* storage blocked */ }
    if (!dismissed && !hasOpenConversation()) {
      greet = document.createElement('div');
      greet.className = 'fw-greet';
      const txt = document.createElement('button');
      txt.type = 'button';
      txt.className = 'fw-greet-text';
      // The greeting may be in another script than the widget's language (a demo's, or the
      // English fallback in a Persian widget): it takes its own direction.
      txt.dir = 'auto';
      txt.addEventListener('click', () => api('open'));
      const x = document.createElement('button');
      x.type = 'button';
      x.className = 'fw-greet-x';
      x.appendChild(icon(CLOSE));
      x.addEventListener('click', () => {
        try {
          sessionStorage.setItem('fw:greet', '1');
        } catch { /* ignore */ }
        greet!.remove();
        greet = null;
        launcher.focus();
      });
      greet.append(txt, x);
      rootEl.appendChild(greet);
    }
    rootEl.appendChild(launcher);
    shadow.appendChild(rootEl);
    host = {
      origin,
      merchant,
      demo,
      config,
      root: rootEl,
      shadow,
      context: st.context,
      identity: st.identity,
      locale,
      emit,
      setUnread(n: number) {
        if (n === st.unread) return;
        st.unread = n;
        paint();
        emit('unread', { count: n });
      },
      setOpen(open: boolean, returnFocus: boolean) {
        st.open = open;
        if (open) raise();
        if (open && greet) {
          greet.remove();
          greet = null;
        }
        paint();
        emit(open ? 'open' : 'close');
        if (!open && returnFocus) (custom || launcher).focus();
      },
    };
    setLocale();
    (document.body || document.documentElement).appendChild(el);
    raise();
  }

  /** Into the top layer, above anything the page put there before (again on every open). */
  function raise() {
    if (!topLayer) return;
    try {
      if (rootEl.matches(':popover-open')) (rootEl as any).hidePopover();
      (rootEl as any).showPopover();
    } catch {
      topLayer = false; // e.g. detached by the page: stay a fixed element with the top z-index
    }
  }

  function paint() {
    if (!launcher) return;
    const s = L[locale] || L.en;
    const label = s[0] + (st.unread ? ', ' + counted(s[1], locale, st.unread) : '');
    launcher.setAttribute('aria-label', label);
    launcher.setAttribute('aria-expanded', String(st.open));
    badge.textContent = st.unread ? (st.unread > 9 ? '9+' : String(st.unread)) : '';
    rootEl.classList.toggle('fw-open', st.open);
    rootEl.classList.toggle('fw-nolaunch', st.hidden || !!custom);
    if (greet) {
      const t = greetingFor(config.display && config.display.greeting, locale);
      (greet.firstChild as HTMLElement).textContent = t;
      (greet.lastChild as HTMLElement).setAttribute('aria-label', s[2]);
      greet.hidden = !t || st.hidden || !!custom;
    }
    if (custom) {
      custom.setAttribute('aria-expanded', String(st.open));
      custom.setAttribute('data-floorwalker-unread', String(st.unread));
    }
  }

  function setLauncher(target: unknown) {
    const find = () => (typeof target === 'string' ? document.querySelector(target) : target) as HTMLElement | null;
    const el = find();
    if (!el || !(el instanceof HTMLElement)) {
      if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => setLauncher(target), { once: true });
      return;
    }
    custom = el;
    el.addEventListener('click', (e) => {
      e.preventDefault();
      api('toggle');
    });
    paint();
  }

  function loadPanel(): Promise<PanelApi> {
    if (panel) return Promise.resolve(panel);
    if (panelLoading) return panelLoading;
    panelLoading = new Promise<PanelApi>((ok, fail) => {
      const s = document.createElement('script');
      s.src = origin + '/widget/panel.js?v=' + PANEL_VERSION;
      s.async = true;
      s.onload = () => {
        const mountPanel = w[PANEL_GLOBAL];
        try {
          delete w[PANEL_GLOBAL];
        } catch { /* ignore */ }
        if (typeof mountPanel !== 'function') return fail(new Error('panel did not register'));
        panel = mountPanel(host) as PanelApi;
        ok(panel);
      };
      s.onerror = () => {
        panelLoading = null;
        fail(new Error('panel failed to load'));
      };
      (document.head || document.documentElement).appendChild(s);
    });
    return panelLoading;
  }
})();
