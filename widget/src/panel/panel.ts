// panel.js — the chat panel, loaded by widget.js on first interaction. It registers a mount
// function on a one-shot global that the loader picks up; everything renders inside the
// loader's shadow root.
import type { Host, PanelApi, Product, StoreInfo, WidgetConfig } from '../types';
import { PANEL_GLOBAL } from '../types';
import { adopt, greetingFor } from '../util';
import { REACH_CSS, phoneField, reachBox, rt } from './reach';
import { ChatClient, isOpen, type Message } from './client';
import { h, ICON, linkify, safeUrl, svg } from './dom';
import { STRINGS, t as tr, type Strings } from './i18n';
import { PANEL_CSS } from './css';
import { CART_CSS, cartNode, commerceSys, foldCarts, isCart, type CartState } from './cart';
import type { ChatMedia, ChatMediaDeps } from './media/chat';

/** The photo and call bundle's version (its content hash), set by build.mjs. */
declare const MEDIA_VERSION: string;
const MEDIA_GLOBAL = '__floorwalkerMedia';

type View = 'start' | 'chat' | 'offline' | 'offlineSent' | 'broken';
type Foot = 'compose' | 'rate' | 'rated' | 'none';

function mount(host: Host): PanelApi {
  adopt(host.shadow, PANEL_CSS);
  adopt(host.shadow, CART_CSS);
  let carts = new Map<string, CartState>();
  const cartCtx = {
    get lang() { return host.locale; },
    accept: (id: string) => fetch(host.origin + '/api/v1/widget/carts/' + encodeURIComponent(id) + '/accept?merchant=' + encodeURIComponent(host.merchant),
      { method: 'POST', credentials: 'omit', headers: { Authorization: 'Bearer ' + (client.token || '') } })
      .then((r) => { if (!r.ok) throw new Error(String(r.status)); }),
    rerender: () => render(),
  };
  let S: Strings = STRINGS[host.locale] || STRINGS.en;
  // Numbers in `v` are formatted for the language; a plural message takes the form for `v.n`.
  const t = (k: keyof Strings, v?: Record<string, string | number>) => tr(S, k, v, host.locale);
  const d = host.config.display || {};
  const stores: StoreInfo[] = host.config.stores || [];
  let openState = false;
  let offlineReason: 'closed' | 'no_experts' | 'busy' | 'missed' | null = null;
  let offlineEmail = '';
  let offlinePhone = '';
  let forceOffline = false;
  let view: View | null = null;
  let foot: Foot | null = null;
  let confirmEnd = false;
  let errTimer: any = null;
  let storage: Storage | null = null;
  try {
    storage = window.localStorage;
  } catch { /* blocked */ }

  const wsUrl = host.origin.replace(/^http/, 'ws') + '/ws/shopper?merchant=' + encodeURIComponent(host.merchant) + '&v=1';
  const client = new ChatClient({
    url: wsUrl,
    key: 'fw:' + host.merchant,
    storage,
    WS: WebSocket as any,
    locale: () => host.locale,
    onNotifyMe: (f) => reach.answer(f),
    onNotifyKnown: (list) => reach.known(list),
    onErrorFrame: (f) => reach.error(f.code, f.message, f.ref),
    onChange: () => render(),
    onMessage: (m, own) => {
      host.emit('message', { message: m, own });
      if (!own && m.kind !== 'system') announce(m);
    },
    onUnavailable: (reason) => {
      offlineReason = reason === 'closed' || reason === 'busy' ? reason : 'no_experts';
      // What the server just said is newer than the availability we had: the header agrees.
      const a = client.availability || host.config.availability;
      client.availability = {
        open: reason !== 'closed' && !!(a && a.open),
        experts_available: 0,
        experts_online: reason === 'busy' ? Math.max(1, (a && a.experts_online) || 0) : 0,
      };
      forceOffline = true;
      render();
    },
    onOfflineAck: () => {
      forceOffline = false;
      if (client.conv && client.conv.status === 'missed') client.finish();
      view = null;
      offlineSent = true;
      render();
    },
    onError: (code) => {
      if (code === 'forbidden' || code === 'not_found') return;
      showError(t('error'));
    },
    onCall: (f) => { void media().then((x) => x.onCallFrame(f), () => {}); },
  });

  // ---- photos and video calls: media.js, loaded when a chat needs it (issue 24) ----
  let mediaLoading: Promise<ChatMedia> | null = null;
  const callSlot = h('div', { class: 'fw-call-slot', hidden: true });
  function media(): Promise<ChatMedia> {
    mediaLoading ??= new Promise<ChatMedia>((ok, fail) => {
      const w = window as unknown as Record<string, unknown>;
      const made = (): boolean => {
        const create = w[MEDIA_GLOBAL] as ((d: ChatMediaDeps) => ChatMedia) | undefined;
        if (typeof create !== 'function') return false;
        ok(create({
          shadow: host.shadow,
          base: host.origin,
          merchant: host.merchant,
          lang: () => host.locale,
          token: () => client.token,
          panel,
          callSlot,
          sendCall: (f) => client.sendCall(f),
          sendAttachment: (_c, id) => client.sendAttachment(id),
          expertName: () => (client.conv && client.conv.expert && client.conv.expert.name) || t('expert'),
          changed: () => { if (scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 240) scroller.scrollTop = scroller.scrollHeight; },
        }));
        return true;
      };
      if (made()) return;
      const s = document.createElement('script');
      s.src = host.origin + '/widget/media.js?v=' + MEDIA_VERSION;
      s.async = true;
      s.onload = () => { if (!made()) { mediaLoading = null; fail(new Error('media did not register')); } };
      s.onerror = () => { mediaLoading = null; fail(new Error('media failed to load')); };
      (document.head || document.documentElement).appendChild(s);
    });
    return mediaLoading;
  }
  let wasOnline = false;
  let offlineSent = false;

  // ---- shell ----
  const titleId = 'fw-title';
  const title = h('h2', { id: titleId, class: 'fw-title', dir: 'auto' }, d.brand_name || t('chat'));
  const sub = h('p', { class: 'fw-sub' });
  const logoUrl = safeUrl(d.logo_url);
  const endBtn = h('button', { type: 'button', class: 'fw-text-btn fw-end', onclick: () => { confirmEnd = true; render(); (confirmBar.querySelector('button') as HTMLElement).focus(); } });
  const closeBtn = h('button', { type: 'button', class: 'fw-icon-btn fw-close', onclick: () => close(true) }, svg(ICON.close));
  const header = h('header', { class: 'fw-head' },
    logoUrl ? h('img', { class: 'fw-logo', src: logoUrl, alt: '' }) : h('span', { class: 'fw-avatar', 'aria-hidden': 'true' }, svg(ICON.chat)),
    h('div', { class: 'fw-head-text' }, title, sub),
    endBtn,
    closeBtn,
  );
  const confirmBar = h('div', { class: 'fw-confirm', hidden: true });
  const connBar = h('div', { class: 'fw-conn', role: 'status' });
  const errBar = h('div', { class: 'fw-err', role: 'alert' });
  const body = h('div', { class: 'fw-body' });
  const live = h('div', { class: 'fw-sr', 'aria-live': 'polite', 'aria-atomic': 'false' });
  const panel = h('section', { id: 'fw-panel', class: 'fw-panel', role: 'dialog', 'aria-labelledby': titleId, hidden: true },
    header, confirmBar, connBar, errBar, body, live);
  // Full screen on small screens: then the panel is modal and Tab stays inside it (nothing
  // behind it can take focus unseen).
  const phone = window.matchMedia('(max-width: 480px), (max-height: 520px)');
  const syncModal = () => {
    if (phone.matches) panel.setAttribute('aria-modal', 'true');
    else panel.removeAttribute('aria-modal');
  };
  syncModal();
  if (phone.addEventListener) phone.addEventListener('change', syncModal);
  panel.addEventListener('keydown', (e) => {
    if (e.key === 'Tab' && phone.matches) {
      const all = Array.from(panel.querySelectorAll<HTMLElement>('button, a[href], input, textarea, [tabindex="0"]')).filter(
        (el) => !(el as HTMLButtonElement).disabled && el.getClientRects().length > 0 && !(el instanceof HTMLInputElement && el.type === 'radio' && !el.checked && all0(el)),
      );
      if (!all.length) return;
      const first = all[0];
      const last = all[all.length - 1];
      const active = host.shadow.activeElement;
      if (e.shiftKey && active === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && active === last) {
        e.preventDefault();
        first.focus();
      }
    }
    if (e.key === 'Escape') {
      e.stopPropagation();
      if (confirmEnd) {
        confirmEnd = false;
        render();
        endBtn.focus();
      } else close(true);
    }
  });
  host.root.appendChild(panel);
  const launcherEl = host.root.querySelector('.fw-launch');
  if (launcherEl) launcherEl.setAttribute('aria-controls', 'fw-panel');
  function all0(el: HTMLInputElement): boolean {
    const group = panel.querySelectorAll<HTMLInputElement>('input[type=radio][name="' + el.name + '"]');
    return Array.from(group).some((r) => r.checked) || group[0] !== el;
  }

  // ---- chat view parts (kept across renders) ----
  const queueBar = h('div', { class: 'fw-queue', role: 'status' });
  const log = h('div', { class: 'fw-log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: '0', 'aria-labelledby': titleId });
  const receipt = h('p', { class: 'fw-receipt' });
  const typing = h('p', { class: 'fw-typing' });
  // "E-mail me if I leave" (issue 21), beneath the thread of a claimed chat.
  adopt(host.shadow, REACH_CSS);
  const reach = reachBox({ lang: () => host.locale, sms: () => !!host.config.sms, email: () => (host.identity && host.identity.email) || offlineEmail, send: (c, e, p) => client.notifyMe(c, e, p) });
  const scroller = h('div', { class: 'fw-scroll' }, queueBar, log, receipt, typing, reach.el);
  const footEl = h('div', { class: 'fw-foot' });
  const nodes = new Map<string, HTMLElement>();

  function announce(m: Message) {
    // role=log announces additions already; this region covers messages that arrive while the
    // panel is closed (the launcher's name carries the unread count then).
    if (openState) return;
    live.textContent = (m.author.name || t('expert')) + ': ' + (m.kind === 'product' && m.product ? m.product.name : m.body);
  }

  function showError(msg: string) {
    errBar.textContent = msg;
    clearTimeout(errTimer);
    errTimer = setTimeout(() => (errBar.textContent = ''), 6000);
  }

  // ---- view selection ----
  function availability() {
    const a = client.availability || host.config.availability || { open: true, experts_available: 1 };
    if (!host.demo) return a;
    // A demo offers only its own store, but the server counts the whole merchant's experts: count
    // no more than that store has (summed over its departments, which may share experts).
    let here = 0;
    let on = 0;
    for (const s of stores) {
      if (!s.open) continue;
      for (const x of s.departments) {
        here += x.experts_available || 0;
        on += x.experts_online || 0;
      }
    }
    return { open: a.open, experts_available: Math.min(a.experts_available, here), experts_online: Math.min(a.experts_online || 0, on) };
  }
  /** On a demo page, who is there is fetched again on every open (the page may be old by then). */
  function refreshDemo() {
    if (!host.demo) return;
    fetch(host.origin + '/api/v1/public/widget-config?merchant=' + encodeURIComponent(host.merchant) + '&demo=' + encodeURIComponent(host.demo), { credentials: 'omit', cache: 'no-store' })
      .then((r) => (r.ok ? r.json() : null))
      .then((c: WidgetConfig | null) => {
        if (!c || !Array.isArray(c.stores)) return;
        stores.splice(0, stores.length, ...c.stores);
        host.config.availability = c.availability;
        host.config.sms = c.sms;
        // Draw the start form again (who is online per department) unless the shopper has begun.
        const q = body.querySelector('#fw-q') as HTMLTextAreaElement | null;
        if (view === 'start' && q && !q.value && !client.isRequesting()) view = null;
        render();
      })
      .catch(() => { /* keep what we have */ });
  }
  function computeView(): View {
    if (client.conn === 'failed') return 'broken';
    if (offlineSent) return 'offlineSent';
    const c = client.conv;
    if (c && !client.done) {
      if (c.status === 'missed') {
        offlineReason = 'missed';
        return 'offline';
      }
      if (c.status !== 'abandoned') return 'chat';
    }
    if (client.isRequesting()) return 'start';
    if (forceOffline) return 'offline';
    const a = availability();
    if (!a.open || !a.experts_available) {
      offlineReason = !a.open ? 'closed' : a.experts_online ? 'busy' : 'no_experts';
      return 'offline';
    }
    return 'start';
  }

  function render() {
    S = STRINGS[host.locale] || STRINGS.en;
    client.setContext({ page_url: location.href, page_title: document.title, ...host.context });
    const v = computeView();
    const hadFocus = panel.contains(host.shadow.activeElement);
    if (v !== view) {
      view = v;
      foot = null;
      nodes.clear();
      log.replaceChildren();
      queueBar.replaceChildren();
      body.replaceChildren(build(v));
      if (openState && hadFocus) focusFirst();
    }
    const c = client.conv;
    // header
    title.textContent = d.brand_name || t('chat');
    closeBtn.setAttribute('aria-label', t('close'));
    endBtn.textContent = c && isOpen(c) && c.status !== 'claimed' ? t('leave') : t('end');
    endBtn.hidden = !(v === 'chat' && c && c.status === 'claimed');
    if (v === 'chat' && c && c.expert && c.status === 'claimed') sub.textContent = t('with', { name: c.expert.name });
    else if (v === 'chat' && c && !isOpen(c)) sub.textContent = t('ended');
    else if (v === 'chat' && c && c.store) sub.textContent = c.store.name + (c.department ? ' · ' + c.department.name : '');
    else {
      const a = availability();
      sub.textContent = !a.open ? t('closedNow') : a.experts_available ? t('onlineN', { n: a.experts_available }) : a.experts_online ? t('busyNow') : t('online0');
    }
    // confirm
    confirmBar.hidden = !confirmEnd || !(v === 'chat' && c && isOpen(c));
    if (!confirmBar.hidden && !confirmBar.firstChild) {
      confirmBar.append(
        h('p', null, t('endQ')),
        h('button', { type: 'button', class: 'fw-btn fw-btn-small', onclick: () => { confirmEnd = false; client.end(); render(); } }, t('endYes')),
        h('button', { type: 'button', class: 'fw-text-btn', onclick: () => { confirmEnd = false; render(); endBtn.focus(); } }, t('cancel')),
      );
    } else if (confirmBar.hidden) confirmBar.replaceChildren();
    // connection: a quiet notice (role=status) while the socket is down or coming back
    const down = client.reconnecting() ? t('reconnecting') : '';
    if (connBar.textContent !== down) {
      connBar.replaceChildren(...(down ? [h('span', { class: 'fw-spinner fw-spinner-small', 'aria-hidden': 'true' }), down] : []));
    }
    if (v === 'chat') renderChat();
    // The socket is back: so is a call in progress.
    const online = client.conn === 'online';
    if (online && !wasOnline && mediaLoading) void mediaLoading.then((x) => x.reconnected(), () => {});
    wasOnline = online;
    if (v === 'start') {
      const btn = body.querySelector('.fw-start') as HTMLButtonElement | null;
      if (btn) {
        btn.disabled = client.isRequesting();
        btn.textContent = client.isRequesting() ? t('starting') : t('start');
      }
    }
    // unread + read receipts
    if (openState && v === 'chat' && document.visibilityState !== 'hidden') client.markRead();
    host.setUnread(client.unread());
  }

  function focusFirst() {
    const el = (body.querySelector('#fw-q, #fw-msg, #fw-email') ||
      body.querySelector('textarea, input:not([type=radio]), input[type=radio]:checked, .fw-btn')) as HTMLElement | null;
    (el || closeBtn).focus({ preventScroll: true } as FocusOptions);
  }

  // ---- builders ----
  function build(v: View): Node {
    switch (v) {
      case 'start':
        return buildStart();
      case 'chat':
        return h('div', { class: 'fw-chat' }, callSlot, scroller, footEl);
      case 'offline':
        return buildOffline();
      case 'offlineSent':
        return h('div', { class: 'fw-pad fw-center' },
          h('div', { class: 'fw-done-icon' }, svg(ICON.check)),
          h('p', { class: 'fw-lead' }, t('offThanks', { email: offlineEmail })),
          offlinePhone ? h('p', { class: 'fw-muted' }, rt(host.locale, 'smsToo', { phone: offlinePhone })) : null,
          h('button', { type: 'button', class: 'fw-btn', onclick: () => { offlineSent = false; forceOffline = false; render(); } }, t('back')));
      default:
        return h('div', { class: 'fw-pad fw-center' }, h('div', { class: 'fw-done-icon fw-warn' }, svg(ICON.warn)), h('p', { class: 'fw-lead' }, t('broken')));
    }
  }

  function productCard(p: Product, compact = false): HTMLElement {
    const img = safeUrl(p.image_url);
    const url = safeUrl(p.url);
    let price = '';
    if (p.price !== undefined && p.price !== null && p.price !== '') {
      price = String(p.price) + (p.currency ? ' ' + p.currency : '');
      if (typeof p.price === 'number' && p.currency) {
        try {
          price = new Intl.NumberFormat(host.locale, { style: 'currency', currency: p.currency, maximumFractionDigits: Number.isInteger(p.price) ? 0 : 2 }).format(p.price);
        } catch { /* unknown currency */ }
      }
    }
    // Without a usable picture (none, not https, or it fails to load) the card keeps its shape
    // with a neutral tile, so it looks meant.
    const tile = () => h('span', { class: 'fw-card-ph', 'aria-hidden': 'true' }, svg(ICON.bag));
    let pic: HTMLElement = tile();
    if (img) {
      pic = h('img', { src: img, alt: '', loading: 'lazy', referrerpolicy: 'no-referrer' });
      pic.addEventListener('error', () => pic.replaceWith(tile()), { once: true });
    }
    return h('div', { class: 'fw-card' + (compact ? ' fw-card-compact' : '') },
      pic,
      h('div', { class: 'fw-card-text' },
        h('strong', { dir: 'auto' }, p.name),
        price ? h('span', { class: 'fw-price' }, price) : null,
        url && !compact ? h('a', { href: url, class: 'fw-card-link' }, t('view'), h('span', { class: 'fw-sr' }, ': ' + p.name)) : null));
  }

  // `ok`: someone is there to answer (the green dot); `note` says so, or that nobody is, in words.
  function radio(name: string, value: string, label: string, note: string, ok: boolean, checked: boolean, disabled: boolean, onchange: () => void, chip = false) {
    const id = 'fw-' + name + '-' + value.replace(/[^a-z0-9_-]/gi, '');
    if (chip) {
      return h('div', { class: 'fw-opt fw-chip' },
        h('input', { type: 'radio', name, id, value, checked, disabled, onchange }),
        h('label', { for: id }, h('span', { dir: 'auto' }, label), note ? h('span', { class: 'fw-sr' }, ', ' + note) : null, ok && !disabled ? h('i', { class: 'fw-dot', 'aria-hidden': 'true' }) : null));
    }
    return h('div', { class: 'fw-opt' },
      h('input', { type: 'radio', name, id, value, checked, disabled, onchange }),
      h('label', { for: id }, h('span', { class: 'fw-opt-name', dir: 'auto' }, label), note ? h('span', { class: 'fw-opt-note' + (ok && !disabled ? ' fw-ok' : '') }, note) : null));
  }

  // The start form's choices. The store and department follow the page's context
  // (setContext, at any time) until the shopper picks one themselves.
  const picked: { store: string | null; dept: string | null } = { store: null, dept: null };
  let redrawStart: (() => void) | null = null;

  /** Where a chat started now would go: the shopper's choice, else the context's, else the
   *  open store with someone to answer (and the department the context names, if any). */
  function target(): { store?: StoreInfo; dept: string; fixedStore: boolean; fixedDept: boolean } {
    const ctx = host.context;
    const fixed = ctx.store_id ? stores.find((s) => s.id === ctx.store_id) : undefined;
    const store = fixed || stores.find((s) => s.id === picked.store) ||
      stores.find((s) => s.open && s.departments.some((x) => x.experts_available > 0)) || stores.find((s) => s.open) || stores[0];
    const has = (id: string | null | undefined) => !!id && !!store && store.departments.some((x) => x.id === id);
    const want = (ctx.department || '').trim().toLowerCase();
    const byName = want && store ? store.departments.find((x) => x.name.trim().toLowerCase() === want) : undefined;
    const fixedDept = has(ctx.department_id);
    const dept = fixedDept ? ctx.department_id! : picked.dept !== null && (picked.dept === '' || has(picked.dept)) ? picked.dept : byName ? byName.id : '';
    return { store, dept, fixedStore: !!fixed, fixedDept };
  }

  function buildStart(): Node {
    const about = h('div', { class: 'fw-about' });
    const storeBox = h('div');
    const deptBox = h('div');
    const note = (x: { experts_available: number; experts_online?: number }) =>
      x.experts_available ? t('avail', { n: x.experts_available }) : x.experts_online ? t('busy') : t('nobody');
    const draw = () => {
      const ctx = host.context;
      const tg = target();
      const store = tg.store;
      const dept = tg.dept;
      // Keep keyboard focus on the same control across a redraw.
      const focused = host.shadow.activeElement as HTMLElement | null;
      const focusId = focused && form.contains(focused) && (storeBox.contains(focused) || deptBox.contains(focused)) ? focused.id : '';
      about.replaceChildren(...(ctx.product && ctx.product.name ? [h('span', { class: 'fw-label' }, t('about')), productCard(ctx.product, true)] : []));
      about.hidden = !about.firstChild;
      storeBox.replaceChildren();
      if (stores.filter((s) => s.open).length > 1 && !tg.fixedStore) {
        storeBox.appendChild(h('fieldset', { class: 'fw-field' },
          h('legend', null, t('store')),
          stores.map((s) => {
            const best = s.departments.reduce((a, x) => (x.experts_available > a.experts_available || (!a.experts_available && (x.experts_online || 0) > (a.experts_online || 0)) ? x : a), { experts_available: 0, experts_online: 0 } as { experts_available: number; experts_online?: number });
            return radio('store', s.id, s.name, !s.open ? t('closed') : note(best), best.experts_available > 0, s === store, !s.open, () => {
              picked.store = s.id;
              picked.dept = null;
              draw();
            });
          })));
      }
      deptBox.replaceChildren();
      if (store && store.departments.length > 1 && !tg.fixedDept) {
        deptBox.appendChild(h('fieldset', { class: 'fw-field' },
          h('legend', null, t('dept')),
          h('div', { class: 'fw-chips' },
            radio('dept', 'any', t('anyDept'), '', false, !dept, false, () => (picked.dept = ''), true),
            store.departments.map((x) => radio('dept', x.id, x.name, note(x), x.experts_available > 0, dept === x.id, false, () => (picked.dept = x.id), true)))));
      }
      storeBox.hidden = !storeBox.firstChild;
      deptBox.hidden = !deptBox.firstChild;
      const again = focusId ? (form.querySelector('#' + focusId) as HTMLElement | null) : null;
      if (again) again.focus({ preventScroll: true } as FocusOptions);
    };
    const text = h('textarea', { id: 'fw-q', rows: '3', maxlength: '4000', placeholder: t('placeholder') });
    const form = h('form', { class: 'fw-pad fw-form', novalidate: true },
      h('p', { class: 'fw-greeting', dir: 'auto' }, greetingFor(d.greeting, host.locale) || t('chat')),
      about,
      storeBox,
      deptBox,
      h('div', { class: 'fw-field' }, h('label', { for: 'fw-q', class: 'fw-label' }, t('question')), text),
      h('button', { type: 'submit', class: 'fw-btn fw-start' }, t('start')));
    draw();
    redrawStart = draw;
    text.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (client.isRequesting()) return;
      lastQuestion = text.value;
      // Routed by the context as it is now (it may have changed since the form was drawn).
      const tg = target();
      client.requestChat({ store_id: tg.store && tg.store.id, department_id: tg.dept || undefined, text: text.value, context: currentContext() });
    });
    return form;
  }
  let lastQuestion = '';

  function currentContext() {
    return { page_url: location.href, page_title: document.title, ...host.context };
  }

  function buildOffline(): Node {
    const reason = offlineReason || 'no_experts';
    const firstOwn = client.messages.find((m) => m.author.role === 'shopper');
    const err = h('p', { class: 'fw-field-err', id: 'fw-off-err', role: 'alert' });
    const email = h('input', { id: 'fw-email', type: 'email', autocomplete: 'email', required: true, 'aria-describedby': 'fw-off-err', value: host.identity ? host.identity.email : '' });
    const phone = phoneField(host.locale);
    const name = h('input', { id: 'fw-name', type: 'text', autocomplete: 'name', value: (host.identity && host.identity.name) || '' });
    const msg = h('textarea', { id: 'fw-off-msg', rows: '4', maxlength: '4000', required: true, value: (firstOwn && firstOwn.body) || lastQuestion });
    const form = h('form', { class: 'fw-pad fw-form', novalidate: true },
      h('h3', { class: 'fw-h3' }, t('offTitle')),
      h('p', { class: 'fw-muted' }, reason === 'closed' ? t('offClosed') : reason === 'missed' ? t('offMissed') : reason === 'busy' ? t('offBusy') : t('offNobody')),
      h('div', { class: 'fw-field' }, h('label', { for: 'fw-email', class: 'fw-label' }, t('email')), email),
      host.config.sms ? phone.node : null,
      h('div', { class: 'fw-field' }, h('label', { for: 'fw-name', class: 'fw-label' }, t('name')), name),
      h('div', { class: 'fw-field' }, h('label', { for: 'fw-off-msg', class: 'fw-label' }, t('message')), msg),
      err,
      h('button', { type: 'submit', class: 'fw-btn' }, t('sendOff')),
      reason === 'missed' ? h('button', { type: 'button', class: 'fw-text-btn fw-block', onclick: () => { client.finish(); } }, t('newChat')) : null);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      email.removeAttribute('aria-invalid');
      msg.removeAttribute('aria-invalid');
      err.textContent = '';
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.value.trim())) {
        err.textContent = t('badEmail');
        email.setAttribute('aria-invalid', 'true');
        email.focus();
        return;
      }
      if (!msg.value.trim()) {
        err.textContent = t('needText');
        msg.setAttribute('aria-invalid', 'true');
        msg.setAttribute('aria-describedby', 'fw-off-err');
        msg.focus();
        return;
      }
      const tel = phone.value(err);
      if (tel === null) return;
      offlineEmail = email.value.trim();
      offlinePhone = tel;
      const c = client.conv;
      const ok = client.offline({
        email: offlineEmail,
        body: msg.value.trim(),
        name: name.value.trim() || undefined,
        store_id: (c && c.store && c.store.id) || undefined,
        department_id: (c && c.department && c.department.id) || undefined,
        page_url: location.href,
        phone: tel || undefined,
      });
      if (!ok) {
        showError(t('reconnecting'));
        client.nudge();
      }
    });
    return form;
  }

  // ---- chat ----
  function sysText(m: Message): string {
    const data = (m.data || {}) as Record<string, any>;
    const name = data.expert_name || data.name || (data.expert && data.expert.name) || (data.to && data.to.name) || m.author.name || (client.conv && client.conv.expert && client.conv.expert.name) || t('expert');
    switch (m.body) {
      case 'expert_joined': return t('joined', { name });
      case 'transferred': return t('transferred');
      case 'ended_by_shopper': return t('endedShopper');
      case 'ended_by_expert': return t('endedExpert', { name });
      case 'missed': return t('missedSys');
      default: return m.body;
    }
  }

  function keyOf(m: Message) {
    return m.client_msg_id && m.author.role === 'shopper' ? 'c:' + m.client_msg_id : 's:' + m.seq;
  }

  function msgNode(m: Message, prev: Message | undefined): HTMLElement {
    if ((m.kind === 'system' || m.author.role === 'system') && (m.body === 'call_started' || m.body === 'call_ended')) {
      const line = h('div', { class: 'fw-sys' });
      void media().then((x) => { line.textContent = x.sysText(m) || ''; }, () => {});
      return line;
    }
    if (m.kind === 'system' || m.author.role === 'system') return commerceSys(m, host.locale) || h('div', { class: 'fw-sys' }, sysText(m));
    let photo: HTMLElement | null = null;
    if (m.kind === 'attachment') {
      const slot = h('div', { class: 'fw-photo-slot' });
      photo = slot;
      void media().then((x) => x.photo(slot, m), () => {});
    }
    const own = m.author.role === 'shopper';
    const who = own ? t('you') : m.author.name || t('expert');
    const showName = !own && (!prev || prev.author.role !== 'expert' || prev.author.name !== m.author.name || prev.kind === 'system');
    const time = m.sent_at ? new Date(m.sent_at) : null;
    let timeText = '';
    try {
      if (time) timeText = time.toLocaleTimeString(host.locale, { hour: '2-digit', minute: '2-digit' });
    } catch { /* ignore */ }
    return h('div', { class: 'fw-msg ' + (own ? 'fw-own' : 'fw-their') },
      showName ? h('span', { class: 'fw-who', 'aria-hidden': 'true', dir: 'auto' }, who) : null,
      h('div', { class: 'fw-bubble' },
        h('span', { class: 'fw-sr' }, who + ': '),
        isCart(m) ? cartNode(m, carts.get((m.data as any).id), cartCtx)
        : m.kind === 'product' && m.product
          // The card carries the name; a body that only repeats it is not shown again.
          ? [m.body && m.body.trim() !== m.product.name.trim() ? h('p', { dir: 'auto' }, linkify(m.body)) : null, productCard(m.product)]
          : photo ? [photo, m.body ? h('div', { dir: 'auto' }, linkify(m.body)) : null]
            : h('div', { dir: 'auto' }, linkify(m.body))),
      timeText ? h('span', { class: 'fw-time' }, timeText) : null);
  }

  function renderChat() {
    const c = client.conv!;
    // queue
    if (c && (c.status === 'queued' || c.status === 'offered')) {
      const q = client.queue;
      queueBar.hidden = false;
      if (!queueBar.firstChild) {
        queueBar.append(
          h('span', { class: 'fw-spinner', 'aria-hidden': 'true' }),
          h('span', null, h('strong'), h('span', { class: 'fw-muted' })),
          h('button', { type: 'button', class: 'fw-text-btn fw-leave', onclick: () => { confirmEnd = true; render(); (confirmBar.querySelector('button') as HTMLElement).focus(); } }));
      }
      const parts = queueBar.children[1].children;
      const strong = parts[0] as HTMLElement;
      const wait = parts[1] as HTMLElement;
      strong.textContent = q ? t('queue', { n: q.position }) : t('waiting');
      wait.textContent = q ? (q.estimated_wait_s < 60 ? t('waitShort') : t('wait', { n: Math.round(q.estimated_wait_s / 60) })) : '';
      (queueBar.lastChild as HTMLElement).textContent = t('leave');
    } else {
      queueBar.hidden = true;
      queueBar.replaceChildren();
    }
    // messages, reconciled by key so the log only ever gets additions
    const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
    let prevEl: Node | null = null;
    let prevMsg: Message | undefined;
    const seen = new Set<string>();
    let lastOwn: Message | undefined;
    let lastIsOwn = false;
    carts = foldCarts(client.messages);
    for (const m of client.messages) {
      // A cart card is rebuilt when its status changes (paid, replaced, …).
      const k = isCart(m) ? keyOf(m) + ':' + ((carts.get((m.data as any).id) || {}).status || '') : keyOf(m);
      seen.add(k);
      let el = nodes.get(k);
      if (!el) {
        el = msgNode(m, prevMsg);
        nodes.set(k, el);
      }
      el.classList.toggle('fw-pending', !!m.pending);
      const want: Node | null = prevEl ? prevEl.nextSibling : log.firstChild;
      if (el !== want) log.insertBefore(el, want);
      prevEl = el;
      prevMsg = m;
      if (m.author.role === 'shopper') lastOwn = m;
      if (m.kind !== 'system') lastIsOwn = m.author.role === 'shopper';
    }
    nodes.forEach((el, k) => { if (!seen.has(k)) { el.remove(); nodes.delete(k); } });
    // receipt for the last own message
    let r = '';
    if (lastOwn && lastIsOwn) {
      if ((lastOwn as any).failed) r = t('failed');
      else if (lastOwn.pending) r = t('sending');
      else if (lastOwn.seq && (c.expert_read_seq || 0) >= lastOwn.seq) r = t('seen');
      else r = t('sent');
    }
    receipt.textContent = r;
    receipt.hidden = !r;
    const expertName = (c.expert && c.expert.name) || t('expert');
    typing.hidden = !(client.expertTyping && isOpen(c));
    typing.replaceChildren(h('span', { class: 'fw-dots', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')), t('typing', { name: expertName }));
    reach.render(c.id, c.status === 'claimed' && isOpen(c));
    // footer
    const f: Foot = isOpen(c) ? 'compose' : c.status === 'ended' ? (c.rating ? 'rated' : 'rate') : 'none';
    if (f !== foot) {
      const hadFocus = footEl.contains(host.shadow.activeElement);
      foot = f;
      footEl.replaceChildren(f === 'compose' ? buildComposer() : f === 'rate' ? buildRating() : f === 'rated' ? buildRated() : h('span'));
      if (hadFocus || f === 'rate' || f === 'rated') {
        if (openState) {
          const el = footEl.querySelector('textarea, input, .fw-btn') as HTMLElement | null;
          if (el && (hadFocus || panel.contains(host.shadow.activeElement))) el.focus({ preventScroll: true } as FocusOptions);
        }
      }
    }
    if (atBottom || !scroller.dataset.init) {
      scroller.scrollTop = scroller.scrollHeight;
      scroller.dataset.init = '1';
    }
  }

  function buildComposer(): Node {
    const ta = h('textarea', { id: 'fw-msg', rows: '1', maxlength: '4000', placeholder: t('write'), 'aria-label': t('message') });
    let typingTimer: any = null;
    const grow = () => {
      ta.style.height = 'auto';
      ta.style.height = Math.min(ta.scrollHeight, 120) + 'px';
    };
    const submit = () => {
      if (!ta.value.trim()) return;
      client.send(ta.value);
      ta.value = '';
      grow();
      clearTimeout(typingTimer);
      ta.focus();
    };
    ta.addEventListener('input', () => {
      grow();
      client.setTyping(!!ta.value.trim());
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => client.setTyping(false), 4000);
    });
    ta.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        submit();
      }
    });
    // Photos (where the merchant allows them): the button and its tray come with media.js.
    const attachSlot = h('span', { class: 'fw-attach-slot' });
    const traySlot = h('div', { class: 'fw-tray-slot' });
    const form = h('form', { class: 'fw-compose' }, attachSlot, ta,
      h('button', { type: 'submit', class: 'fw-icon-btn fw-send', 'aria-label': t('send') }, svg(ICON.send, 'fw-flip')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      submit();
    });
    if (client.conv) {
      const id = client.conv.id;
      void media().then((x) => x.attach(attachSlot, traySlot, id), () => {});
    }
    const both = document.createDocumentFragment();
    both.append(traySlot, form);
    return both;
  }

  function buildRating(): Node {
    let score = 0;
    const stars: HTMLElement[] = [];
    const paint = () => stars.forEach((s, i) => s.classList.toggle('fw-on', i < score));
    const group = h('fieldset', { class: 'fw-stars' },
      h('legend', { class: 'fw-h3' }, t('rateQ')),
      [1, 2, 3, 4, 5].map((n) => {
        const id = 'fw-star-' + n;
        const lab = h('label', { for: id, title: t('star', { n }) }, svg(ICON.star), h('span', { class: 'fw-sr' }, t('star', { n })));
        stars.push(lab);
        return [h('input', { type: 'radio', name: 'fw-score', id, value: String(n), class: 'fw-sr-input', onchange: () => { score = n; paint(); } }), lab];
      }));
    const comment = h('textarea', { id: 'fw-comment', rows: '2', maxlength: '1000' });
    const err = h('p', { class: 'fw-field-err', role: 'alert' });
    const form = h('form', { class: 'fw-rate' }, group,
      h('div', { class: 'fw-field' }, h('label', { for: 'fw-comment', class: 'fw-label' }, t('comment')), comment),
      err,
      h('div', { class: 'fw-row' },
        h('button', { type: 'submit', class: 'fw-btn' }, t('rate')),
        h('button', { type: 'button', class: 'fw-text-btn', onclick: () => client.finish() }, t('newChat'))));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!score) {
        err.textContent = t('rateQ');
        (group.querySelector('input') as HTMLElement).focus();
        return;
      }
      client.rate(score, comment.value);
    });
    return h('div', null, form, buildTranscript());
  }

  function buildRated(): Node {
    return h('div', { class: 'fw-rate fw-center' },
      h('p', { class: 'fw-lead' }, t('thanks')),
      h('button', { type: 'button', class: 'fw-btn', onclick: () => client.finish() }, t('newChat')),
      buildTranscript());
  }

  /** "E-mail me this chat" and "Download", for an ended chat (the shopper token authorises both). */
  function buildTranscript(): Node {
    const c = client.conv!;
    const url = (tail: string, q = '') => host.origin + '/api/v1/widget/conversations/' + encodeURIComponent(c.id) + '/transcript' + tail +
      '?merchant=' + encodeURIComponent(host.merchant) + '&lang=' + encodeURIComponent(host.locale) + q;
    const auth = () => ({ Authorization: 'Bearer ' + (client.token || '') });
    const note = h('p', { class: 'fw-muted', role: 'status' });
    const input = h('input', { id: 'fw-tr-email', type: 'email', autocomplete: 'email', dir: 'ltr', value: (host.identity && host.identity.email) || '' });
    const err = h('p', { class: 'fw-field-err', role: 'alert' });
    const form = h('form', { class: 'fw-rate', hidden: true, novalidate: true },
      h('div', { class: 'fw-field' }, h('label', { for: 'fw-tr-email', class: 'fw-label' }, t('email')), input),
      err,
      h('button', { type: 'submit', class: 'fw-btn' }, t('trSend')));
    const toggle = h('button', { type: 'button', class: 'fw-text-btn', 'aria-expanded': 'false', onclick: () => {
      form.hidden = !form.hidden;
      toggle.setAttribute('aria-expanded', String(!form.hidden));
      if (!form.hidden) input.focus();
    } }, t('trEmail'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const email = input.value.trim();
      err.textContent = '';
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) { err.textContent = t('badEmail'); input.focus(); return; }
      fetch(url('/email'), { method: 'POST', credentials: 'omit', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ email, language: host.locale }) })
        .then((r) => {
          if (r.status === 202) { form.hidden = true; toggle.setAttribute('aria-expanded', 'false'); note.textContent = t('trSent', { email }); }
          else if (r.status === 422) { err.textContent = t('badEmail'); input.focus(); }
          else err.textContent = r.status === 429 ? t('trLimit') : t('trFailed');
        }, () => { err.textContent = t('trFailed'); });
    });
    const download = () => {
      fetch(url('', '&format=text'), { credentials: 'omit', headers: auth() })
        .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
        .then((b) => {
          const a = h('a', { href: URL.createObjectURL(b), download: 'chat-' + new Date(c.created_at || Date.now()).toISOString().slice(0, 10) + '.txt' });
          document.body.appendChild(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
        })
        .catch(() => { note.textContent = t('trFailed'); });
    };
    return h('div', { class: 'fw-transcript' },
      h('div', { class: 'fw-row' }, toggle, h('button', { type: 'button', class: 'fw-text-btn', onclick: download }, t('trDownload'))),
      form, note);
  }

  // ---- open / close ----
  function open() {
    if (openState) {
      focusFirst();
      return;
    }
    openState = true;
    refreshDemo();
    if (client.conn === 'idle') client.connect();
    panel.hidden = false;
    host.setOpen(true, false);
    render();
    scroller.scrollTop = scroller.scrollHeight; // measured only now that the panel is visible
    focusFirst();
  }
  function close(returnFocus = true) {
    if (!openState) return;
    openState = false;
    confirmEnd = false;
    panel.hidden = true;
    host.setOpen(false, returnFocus);
    render();
  }

  window.addEventListener('online', () => client.nudge());
  // The browser knows the network is gone before the socket does: say so at once.
  window.addEventListener('offline', () => client.drop());
  window.addEventListener('storage', (e) => {
    if (e.key === 'fw:' + host.merchant) client.fromOtherTab(e.newValue);
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      client.nudge();
      render();
    }
  });
  let identity = host.identity;
  let locale = host.locale;
  client.identify(identity);
  // Preloaded on hover: only connect now if there is a conversation to resume; otherwise on open.
  if (client.conv) client.connect();
  render();

  return {
    open,
    close: () => close(true),
    isOpen: () => openState,
    update() {
      if (view === 'start' && redrawStart) redrawStart();
      if (host.identity !== identity) {
        identity = host.identity;
        client.identify(identity);
      }
      if (host.locale !== locale) {
        locale = host.locale;
        const prev = view;
        view = null; // rebuild every text in the new language
        render();
        if (prev === 'chat') scroller.scrollTop = scroller.scrollHeight;
      } else render();
    },
  };
}

(window as any)[PANEL_GLOBAL] = mount;
