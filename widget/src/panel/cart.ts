// Carts in the shopper's thread (docs/commerce.md): the card of a `cart` message (lines,
// totals, Pay, the quote's Accept) with its current status folded from later `cart_status`
// messages and revisions, and the order-status lines (shipped with the tracking link).
// Everything is built with `h` from text nodes: product and cart text is never parsed as HTML.
import type { Message } from './client';
import { h, safeUrl, svg } from './dom';
import { num, pluralOf } from './i18n';

type P = { one?: string; few?: string; many?: string; other: string };
const en = {
  cart: 'Your cart',
  items: { one: '{n} item', other: '{n} items' } as P,
  vatAt: 'incl. VAT {rate}',
  total: 'Total',
  pay: 'Pay',
  payNote: 'opens the shop’s checkout',
  accept: 'Accept the quote',
  accepting: 'Accepting…',
  quoteUntil: 'Quote valid until {date}',
  was: 'was {price}',
  quote: 'Quote',
  awaiting_payment: 'Awaiting payment',
  paid: 'Paid',
  cancelled: 'Cancelled',
  expired: 'Expired',
  replaced: 'Replaced by a newer cart',
  order: 'Order {id}',
  o_new: 'Order {id} received.',
  o_in_progress: 'Order {id} is being prepared.',
  o_shipped: 'Order {id} has been shipped with {carrier}.',
  o_completed: 'Order {id} is complete.',
  o_cancelled: 'Order {id} was cancelled.',
  o_refunded: 'Order {id} was refunded.',
  track: 'Track your parcel',
  reminder: 'Your cart is still waiting for payment.',
  failed: 'That did not work. Please try again.',
};
type Key = keyof typeof en;
type Dict = Record<Key, string | P>;
const sv: Dict = {
  cart: 'Din varukorg', items: { one: '{n} vara', other: '{n} varor' }, vatAt: 'varav moms {rate}', total: 'Att betala',
  pay: 'Betala', payNote: 'öppnar butikens kassa', accept: 'Godkänn offerten', accepting: 'Godkänner…',
  quoteUntil: 'Offerten gäller till {date}', was: 'förr {price}', quote: 'Offert', awaiting_payment: 'Väntar på betalning', paid: 'Betald',
  cancelled: 'Avbruten', expired: 'Utgången', replaced: 'Ersatt av en nyare varukorg', order: 'Order {id}',
  o_new: 'Order {id} har tagits emot.', o_in_progress: 'Order {id} förbereds.', o_shipped: 'Order {id} har skickats med {carrier}.',
  o_completed: 'Order {id} är klar.', o_cancelled: 'Order {id} avbröts.', o_refunded: 'Order {id} återbetalades.',
  track: 'Spåra paketet', reminder: 'Din varukorg väntar fortfarande på betalning.', failed: 'Det gick inte. Försök igen.',
};
const de: Dict = {
  cart: 'Ihr Warenkorb', items: { one: '{n} Artikel', other: '{n} Artikel' }, vatAt: 'inkl. MwSt. {rate}', total: 'Gesamt',
  pay: 'Bezahlen', payNote: 'öffnet die Kasse des Shops', accept: 'Angebot annehmen', accepting: 'Wird angenommen…',
  quoteUntil: 'Angebot gültig bis {date}', was: 'statt {price}', quote: 'Angebot', awaiting_payment: 'Wartet auf Zahlung', paid: 'Bezahlt',
  cancelled: 'Storniert', expired: 'Abgelaufen', replaced: 'Durch einen neueren Warenkorb ersetzt', order: 'Bestellung {id}',
  o_new: 'Bestellung {id} ist eingegangen.', o_in_progress: 'Bestellung {id} wird vorbereitet.', o_shipped: 'Bestellung {id} wurde mit {carrier} verschickt.',
  o_completed: 'Bestellung {id} ist abgeschlossen.', o_cancelled: 'Bestellung {id} wurde storniert.', o_refunded: 'Bestellung {id} wurde erstattet.',
  track: 'Sendung verfolgen', reminder: 'Ihr Warenkorb wartet noch auf die Zahlung.', failed: 'Das hat nicht geklappt. Bitte erneut versuchen.',
};
const el: Dict = {
  cart: 'Το καλάθι σας', items: { one: '{n} τεμάχιο', other: '{n} τεμάχια' }, vatAt: 'με ΦΠΑ {rate}', total: 'Σύνολο',
  pay: 'Πληρωμή', payNote: 'ανοίγει το ταμείο του καταστήματος', accept: 'Αποδοχή προσφοράς', accepting: 'Αποδοχή…',
  quoteUntil: 'Η προσφορά ισχύει έως {date}', was: 'πριν {price}', quote: 'Προσφορά', awaiting_payment: 'Αναμένεται πληρωμή', paid: 'Πληρώθηκε',
  cancelled: 'Ακυρώθηκε', expired: 'Έληξε', replaced: 'Αντικαταστάθηκε από νεότερο καλάθι', order: 'Παραγγελία {id}',
  o_new: 'Η παραγγελία {id} ελήφθη.', o_in_progress: 'Η παραγγελία {id} ετοιμάζεται.', o_shipped: 'Η παραγγελία {id} στάλθηκε με {carrier}.',
  o_completed: 'Η παραγγελία {id} ολοκληρώθηκε.', o_cancelled: 'Η παραγγελία {id} ακυρώθηκε.', o_refunded: 'Η παραγγελία {id} επιστράφηκε.',
  track: 'Παρακολούθηση δέματος', reminder: 'Το καλάθι σας περιμένει ακόμη πληρωμή.', failed: 'Δεν έγινε. Δοκιμάστε ξανά.',
};
const cs: Dict = {
  cart: 'Váš košík', items: { one: '{n} kus', few: '{n} kusy', many: '{n} kusu', other: '{n} kusů' }, vatAt: 'vč. DPH {rate}', total: 'Celkem',
  pay: 'Zaplatit', payNote: 'otevře pokladnu obchodu', accept: 'Přijmout nabídku', accepting: 'Přijímám…',
  quoteUntil: 'Nabídka platí do {date}', was: 'původně {price}', quote: 'Nabídka', awaiting_payment: 'Čeká na platbu', paid: 'Zaplaceno',
  cancelled: 'Zrušeno', expired: 'Vypršelo', replaced: 'Nahrazeno novějším košíkem', order: 'Objednávka {id}',
  o_new: 'Objednávka {id} byla přijata.', o_in_progress: 'Objednávka {id} se připravuje.', o_shipped: 'Objednávka {id} byla odeslána přes {carrier}.',
  o_completed: 'Objednávka {id} je vyřízena.', o_cancelled: 'Objednávka {id} byla zrušena.', o_refunded: 'Objednávka {id} byla vrácena.',
  track: 'Sledovat zásilku', reminder: 'Váš košík stále čeká na zaplacení.', failed: 'Nepovedlo se. Zkuste to znovu.',
};
const fa: Dict = {
  cart: 'سبد خرید شما', items: { one: '{n} قلم', other: '{n} قلم' }, vatAt: 'با مالیات {rate}', total: 'مبلغ کل',
  pay: 'پرداخت', payNote: 'صندوق فروشگاه را باز می‌کند', accept: 'پذیرفتن پیش‌فاکتور', accepting: 'در حال پذیرش…',
  quoteUntil: 'پیش‌فاکتور معتبر تا {date}', was: 'پیش‌تر {price}', quote: 'پیش‌فاکتور', awaiting_payment: 'در انتظار پرداخت', paid: 'پرداخت شد',
  cancelled: 'لغو شد', expired: 'منقضی شد', replaced: 'سبد جدیدتری جای آن را گرفت', order: 'سفارش {id}',
  o_new: 'سفارش {id} دریافت شد.', o_in_progress: 'سفارش {id} در حال آماده‌سازی است.', o_shipped: 'سفارش {id} با {carrier} فرستاده شد.',
  o_completed: 'سفارش {id} تکمیل شد.', o_cancelled: 'سفارش {id} لغو شد.', o_refunded: 'مبلغ سفارش {id} بازپرداخت شد.',
  track: 'پیگیری مرسوله', reminder: 'سبد خرید شما هنوز در انتظار پرداخت است.', failed: 'انجام نشد. دوباره تلاش کنید.',
};
const ALL: Record<string, Dict> = { en, sv, de, el, cs, fa };

function tr(lang: string, k: Key, vars?: Record<string, string | number>): string {
  const d = ALL[lang] || en;
  const m = d[k] || en[k];
  let s = typeof m === 'string' ? m : (m as any)[pluralOf(lang, Number(vars && vars.n))] || m.other;
  if (vars) for (const v in vars) s = s.split('{' + v + '}').join(typeof vars[v] === 'number' ? new Intl.NumberFormat(lang).format(vars[v] as number) : String(vars[v]));
  return s;
}

/** A decimal string amount in a currency, formatted exactly (Intl takes the string as is). */
function money(lang: string, amount: unknown, currency: unknown): string {
  const a = String(amount ?? '');
  if (typeof currency !== 'string' || !currency) return a;
  try { return (new Intl.NumberFormat(lang, { style: 'currency', currency }).format as unknown as (v: string) => string)(a); } catch { return a + ' ' + currency; }
}
function pct(lang: string, rate: unknown): string {
  try { return new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 2 }).format(Number(rate) / 100); } catch { return String(rate) + ' %'; }
}

export interface CartState { status: string; order_id?: string | null }
export function isCart(m: Message): boolean {
  return (m.kind as string) === 'cart' && !!m.data && typeof (m.data as any).id === 'string';
}
/** The current state of every cart in the transcript (messages in seq order). */
export function foldCarts(messages: Message[]): Map<string, CartState> {
  const out = new Map<string, CartState>();
  for (const m of messages) {
    const d = (m.data || {}) as Record<string, any>;
    if (isCart(m)) {
      out.set(d.id, { status: d.status, order_id: d.order_id });
      if (typeof d.replaces === 'string' && out.has(d.replaces)) out.set(d.replaces, { status: 'replaced' });
    } else if ((m.kind === 'system' || m.author.role === 'system') && m.body === 'cart_status' && typeof d.cart_id === 'string') {
      out.set(d.cart_id, { status: d.status, order_id: d.order_id || (out.get(d.cart_id) || {}).order_id });
    }
  }
  return out;
}

const BAG = 'M7 7V6a5 5 0 0 1 10 0v1h3l-1 14H5L4 7zm2 0h6V6a3 3 0 0 0-6 0z';

export interface CartCtx {
  lang: string;
  /** POST /api/v1/widget/carts/{id}/accept with the shopper's token; resolves when accepted. */
  accept(cartId: string): Promise<void>;
  rerender(): void;
}

/** The card of a `cart` message in its current state. */
export function cartNode(m: Message, state: CartState | undefined, ctx: CartCtx): HTMLElement {
  const c = (m.data || {}) as Record<string, any>;
  const L = ctx.lang;
  const status = (state && state.status) || c.status || 'awaiting_payment';
  const cur = c.currency;
  const lines: any[] = Array.isArray(c.lines) ? c.lines : [];
  const vat: any[] = Array.isArray(c.vat) ? c.vat : [];
  const pay = safeUrl(c.pay_url);
  const err = h('p', { class: 'fw-cart-err', role: 'alert' });
  let actions: HTMLElement | null = null;
  if (status === 'awaiting_payment' && pay) {
    actions = h('a', { class: 'fw-btn fw-cart-pay', href: pay, target: '_blank', rel: 'noopener noreferrer' },
      tr(L, 'pay') + ' ' + money(L, c.total, cur), h('span', { class: 'fw-sr' }, ' (' + tr(L, 'payNote') + ')'));
  } else if (status === 'quote') {
    const b = h('button', { type: 'button', class: 'fw-btn fw-cart-accept' }, tr(L, 'accept'));
    b.addEventListener('click', () => {
      b.disabled = true;
      b.textContent = tr(L, 'accepting');
      err.textContent = '';
      ctx.accept(c.id).then(() => ctx.rerender(), () => { b.disabled = false; b.textContent = tr(L, 'accept'); err.textContent = tr(L, 'failed'); });
    });
    actions = b;
  }
  const badge = h('span', { class: 'fw-cart-status', 'data-status': status },
    tr(L, (['quote', 'awaiting_payment', 'paid', 'cancelled', 'expired', 'replaced'].includes(status) ? status : 'awaiting_payment') as Key));
  return h('div', { class: 'fw-cart' + (status === 'replaced' ? ' fw-cart-replaced' : ''), 'data-cart': c.id, 'data-status': status },
    h('div', { class: 'fw-cart-head' }, h('strong', null, svg(BAG, 'fw-cart-icon'), tr(L, 'cart')), badge),
    h('ul', { class: 'fw-cart-lines' }, lines.map((l) => h('li', null,
      h('span', { class: 'fw-cart-qty' }, num(L, Number(l.quantity) || 0) + '×'),
      h('span', { class: 'fw-cart-name', dir: 'auto' }, String(l.name ?? '')),
      h('span', { class: 'fw-cart-amt' },
        l.original_unit_price ? [h('del', { 'aria-label': tr(L, 'was', { price: money(L, l.original_unit_price, cur) }) }, money(L, l.original_unit_price, cur)), ' '] : null,
        money(L, l.line_total, cur))))),
    h('dl', { class: 'fw-cart-totals' },
      h('div', { class: 'fw-cart-grand' }, h('dt', null, tr(L, 'total') + ' (' + tr(L, 'items', { n: Number(c.items) || 0 }) + ')'), h('dd', null, money(L, c.total, cur))),
      vat.map((v) => h('div', null, h('dt', null, tr(L, 'vatAt', { rate: pct(L, v.rate) })), h('dd', null, money(L, v.vat, cur))))),
    status === 'quote' && c.quote_valid_until ? h('p', { class: 'fw-cart-note' }, tr(L, 'quoteUntil', { date: fmtDate(L, c.quote_valid_until) })) : null,
    state && state.order_id ? h('p', { class: 'fw-cart-note' }, tr(L, 'order', { id: String(state.order_id) })) : null,
    actions, err);
}

/** A quote's last day: `YYYY-MM-DD`, or the end of that day (UTC) in ms as the server sends it. */
function fmtDate(lang: string, v: unknown): string {
  const ymd = typeof v === 'number' ? new Date(v).toISOString().slice(0, 10) : String(v);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd);
  if (!m) return ymd;
  try { return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeZone: 'UTC' }).format(Date.UTC(+m[1], +m[2] - 1, +m[3])); } catch { return ymd; }
}

/** Cart and order events as thread lines; null for other system messages. */
export function commerceSys(m: Message, lang: string): HTMLElement | null {
  const d = (m.data || {}) as Record<string, any>;
  let text: string;
  let link: HTMLElement | null = null;
  if (m.body === 'cart_status') {
    const s = String(d.status || '');
    text = tr(lang, 'cart') + ': ' + (s in en ? tr(lang, s as Key) : s);
  } else if (m.body === 'cart_reminder') {
    text = tr(lang, 'reminder');
    const u = safeUrl(d.pay_url);
    if (u) link = h('a', { href: u, target: '_blank', rel: 'noopener noreferrer' }, tr(lang, 'pay'));
  } else if (m.body === 'order_status') {
    const k = ('o_' + String(d.status || '')) as Key;
    const id = String(d.order_id || '');
    text = k in en ? tr(lang, k, { id, carrier: String(d.carrier || '') }) : tr(lang, 'order', { id }) + ': ' + String(d.status || '');
    if (d.status === 'shipped') {
      const u = safeUrl(d.tracking_url);
      if (u) link = h('a', { href: u, target: '_blank', rel: 'noopener noreferrer nofollow' }, tr(lang, 'track'), d.tracking_number ? ' (' + String(d.tracking_number) + ')' : '');
      else if (d.tracking_number) text += ' ' + tr(lang, 'track') + ': ' + String(d.tracking_number);
    }
  } else return null;
  return h('div', { class: 'fw-sys fw-sys-commerce', 'data-sys': m.body }, text, link ? [' ', link] : null);
}

export const CART_CSS = `
.fw-bubble:has(.fw-cart){padding:4px;background:transparent}
.fw-cart{border:1px solid var(--fw-line);border-radius:12px;padding:10px 12px;background:var(--fw-bg);color:var(--fw-fg);min-width:220px;text-align:start}
.fw-cart-head{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:4px 8px;margin-bottom:6px}
.fw-cart-head strong{display:inline-flex;align-items:center;gap:6px}
.fw-cart-icon{width:18px;height:18px;fill:currentColor}
.fw-cart-status{font-size:12px;font-weight:700;padding:2px 8px;border-radius:999px;background:var(--fw-soft);white-space:nowrap}
.fw-cart-status[data-status=paid]{background:#d5f2e3;color:#0b5a36}
.fw-cart-status[data-status=awaiting_payment],.fw-cart-status[data-status=quote]{background:#fff1cc;color:#5c3d00}
.fw-cart-status[data-status=cancelled],.fw-cart-status[data-status=expired]{background:#fde8e6;color:#8c1d18}
.fw-cart-lines{list-style:none;margin:0 0 6px;padding:0}
.fw-cart-lines li{display:flex;gap:6px;padding:3px 0;font-size:14px}
.fw-cart-qty{color:var(--fw-muted);flex:none}
.fw-cart-name{flex:1;min-width:0;overflow-wrap:anywhere}
.fw-cart-amt{white-space:nowrap}
.fw-cart-amt del{color:var(--fw-muted);font-size:.85em}
.fw-cart-totals{margin:0 0 8px;font-size:13px}
.fw-cart-totals div{display:flex;justify-content:space-between;gap:10px;padding:2px 0;color:var(--fw-muted)}
.fw-cart-totals dd{margin:0;white-space:nowrap}
.fw-cart-totals .fw-cart-grand{color:var(--fw-fg);font-weight:800;font-size:15px;border-top:1px solid var(--fw-line);padding-top:6px}
.fw-cart-note{margin:0 0 8px;font-size:13px;color:var(--fw-muted)}
.fw-cart-pay,.fw-cart-accept{text-decoration:none}
.fw-bubble a.fw-cart-pay{color:var(--fw-on-primary);text-decoration:none;margin-top:2px}
.fw-cart-replaced .fw-cart-lines,.fw-cart-replaced .fw-cart-totals,.fw-cart-replaced .fw-cart-totals .fw-cart-grand{color:var(--fw-muted)}
.fw-cart-replaced{border-style:dashed}
.fw-cart-replaced .fw-cart-grand dd{text-decoration:line-through}
.fw-cart-err:empty{display:none}
.fw-cart-err{color:#b3261e;font-weight:600;font-size:13px;margin:6px 0 0}
.fw[data-scheme=dark] .fw-cart-err{color:#ffb4ab}
.fw-sys-commerce a{color:inherit;font-weight:700;text-underline-offset:3px}
`;
