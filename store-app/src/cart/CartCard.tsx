// Carts in the expert's thread: the card of a `cart` message with its current status (folded
// from later `cart_status` system messages and revisions, docs/commerce.md), the order-status
// system lines, and the host that opens the Cart screen, the QR code and the pay-link sheet
// for the chat on screen.
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { hub, type Message } from '../hub';
import { currentLang, num, t } from '../i18n';
import { Field, Icon, Sheet, useHub } from '../ui';
import { cartApi, type Cart, type CartStatus } from './api';
import { CartScreen, draftFrom, ymd, type Draft } from './CartScreen';
import { ct, hasCartKey } from './i18n';
import { money, pct } from './money';

const CART_PATHS: Record<string, string> = {
  cart: 'M3 4h2l2.4 10.2a1 1 0 0 0 1 .8h8.9a1 1 0 0 0 1-.8L20 7H6.2M9 20h.01M17 20h.01',
  qr: 'M4 4h6v6H4zM14 4h6v6h-6zM4 14h6v6H4zM14 14h2v2h-2zM18 14h2M14 18h2v2M18 18h2v2h-2',
};
function CartIcon({ name, size = 24 }: { name: string; size?: number }) {
  return (
    <svg class="icon" width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="none" stroke="currentColor"
      stroke-width={2} stroke-linecap="round" stroke-linejoin="round"><path d={CART_PATHS[name]} /></svg>
  );
}

// ---- which screen is open (cards ask, the chat's host shows) ---------------------------------
type Open = { kind: 'cart'; draft?: Draft } | { kind: 'qr'; cart: Cart } | { kind: 'link'; cart: Cart } | { kind: 'cancel'; cart: Cart } | null;
let current: Open = null;
const subs = new Set<() => void>();
function show(o: Open) { current = o; for (const f of subs) f(); }
export const cartUi = {
  openCart: (draft?: Draft) => show({ kind: 'cart', draft }),
  showQr: (cart: Cart) => show({ kind: 'qr', cart }),
  sendLink: (cart: Cart) => show({ kind: 'link', cart }),
  cancel: (cart: Cart) => show({ kind: 'cancel', cart }),
  close: () => show(null),
};
function useOpen(): Open {
  const [, force] = useState(0);
  useEffect(() => { const f = () => force((n) => n + 1); subs.add(f); return () => { subs.delete(f); }; }, []);
  return current;
}

// ---- status folding ------------------------------------------------------------------------
export interface CartState { status: CartStatus; order_id?: string | null }
/** The current state of every cart in a transcript, folding messages in seq order. */
export function foldCarts(messages: Iterable<Message>): Map<string, CartState> {
  const out = new Map<string, CartState>();
  const sorted = [...messages].sort((a, b) => a.seq - b.seq);
  for (const m of sorted) {
    const d = (m.data ?? {}) as Record<string, any>;
    if ((m.kind as string) === 'cart' && typeof d.id === 'string') {
      out.set(d.id, { status: d.status, order_id: d.order_id });
      if (typeof d.replaces === 'string' && out.has(d.replaces)) out.set(d.replaces, { status: 'replaced' });
    } else if (m.kind === 'system' && m.body === 'cart_status' && typeof d.cart_id === 'string') {
      out.set(d.cart_id, { status: d.status, order_id: d.order_id ?? out.get(d.cart_id)?.order_id });
    }
  }
  return out;
}

function quoteDay(v: string | number | null | undefined): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd(v));
  if (!m) return String(v ?? '');
  try { return new Intl.DateTimeFormat(currentLang(), { dateStyle: 'medium', timeZone: 'UTC' }).format(Date.UTC(+m[1], +m[2] - 1, +m[3])); } catch { return ymd(v); }
}

export function isCartMessage(m: Message): boolean { return (m.kind as string) === 'cart' && !!m.data && typeof (m.data as any).id === 'string'; }

function StatusBadge({ status }: { status: CartStatus | 'accepted' }) {
  const k = `cart.status.${status}`;
  return <span class={`cart-status s-${status}`} data-status={status}>{hasCartKey(k) ? ct(k) : status}</span>;
}

/** The card of a sent cart, as the expert sees it. */
export function CartCard({ m }: { m: Message }) {
  const s = useHub();
  const cart = m.data as unknown as Cart;
  const chat = s.chats.get(m.conversation_id);
  const state: CartState = (chat ? foldCarts(chat.messages.values()).get(cart.id!) : undefined) ?? { status: cart.status as CartStatus };
  const status = state.status ?? cart.status;
  const open = chat?.conv.status === 'claimed' && !chat.left;
  const live = status === 'awaiting_payment' || status === 'quote';
  return (
    <div class={`cart-card${status === 'replaced' ? ' replaced' : ''}`} data-cart={cart.id} data-status={status}>
      <div class="cc-head">
        <span class="cc-title"><CartIcon name="cart" size={20} /> {ct('cart.card')}</span>
        <StatusBadge status={status} />
      </div>
      <ul class="cc-lines">
        {cart.lines.map((l) => (
          <li>
            <span class="cc-qty">{num(l.quantity)}×</span>
            <span class="cc-name" dir="auto">{l.name}</span>
            <span class="cc-amt">
              {l.original_unit_price ? <del>{money(l.original_unit_price, cart.currency)}</del> : null}
              {l.original_unit_price ? ' ' : ''}{money(l.line_total, cart.currency)}
            </span>
          </li>
        ))}
      </ul>
      <dl class="cc-totals">
        {cart.vat.map((v) => <div><dt>{ct('cart.vatAt', { rate: pct(v.rate) })}</dt><dd>{money(v.vat, cart.currency)}</dd></div>)}
        <div class="grand"><dt>{ct('cart.total')} ({ct('cart.items', { n: cart.items })})</dt><dd>{money(cart.total, cart.currency)}</dd></div>
      </dl>
      {cart.quote_valid_until && status === 'quote' ? <p class="cc-note">{ct('cart.quoteUntil', { date: quoteDay(cart.quote_valid_until) })}</p> : null}
      {state.order_id ? <p class="cc-note">{ct('cart.order', { id: state.order_id })}</p> : null}
      {live && cart.pay_url ? (
        <div class="cc-actions">
          {status === 'awaiting_payment' ? <button type="button" class="btn small" onClick={() => cartUi.showQr(cart)}><CartIcon name="qr" size={20} /> {ct('cart.qr')}</button> : null}
          <button type="button" class="btn small" onClick={() => cartUi.sendLink(cart)}><Icon name="send" size={20} flip /> {ct('cart.link')}</button>
          {open ? <button type="button" class="btn small" onClick={() => cartUi.openCart(draftFrom(cart))}>{ct('cart.revise')}</button> : null}
          <button type="button" class="btn small danger cc-cancel" aria-haspopup="dialog" onClick={() => cartUi.cancel(cart)}>{ct('cart.cancel')}</button>
        </div>
      ) : null}
    </div>
  );
}

/** Order and cart events in the thread; null when the message is not one of them. */
export function commerceSystemText(m: Message): { text: string; link?: { href: string; label: string } } | null {
  const d = (m.data ?? {}) as Record<string, any>;
  if (m.body === 'cart_status') {
    const k = `cart.status.${d.status}`;
    return { text: `${ct('cart.card')}: ${hasCartKey(k) ? ct(k) : String(d.status ?? '')}${d.order_id ? ` · ${ct('cart.order', { id: String(d.order_id) })}` : ''}` };
  }
  if (m.body === 'cart_reminder') return { text: ct('order.reminder') };
  if (m.body === 'order_status') {
    const k = `order.${d.status}`;
    const id = String(d.order_id ?? '');
    const text = hasCartKey(k) ? ct(k, { id, carrier: String(d.carrier ?? '') }) : `${ct('cart.order', { id })}: ${String(d.status ?? '')}`;
    let link: { href: string; label: string } | undefined;
    if (d.status === 'shipped' && typeof d.tracking_url === 'string' && /^https:\/\//i.test(d.tracking_url)) {
      link = { href: d.tracking_url, label: ct('order.track', { tracking: String(d.tracking_number ?? '') }) };
    }
    return { text: d.status === 'shipped' && !link && d.tracking_number ? `${text} ${ct('order.track', { tracking: String(d.tracking_number) })}` : text, link };
  }
  return null;
}

export function CommerceSys({ m }: { m: Message }) {
  const c = commerceSystemText(m)!;
  return (
    <li class="sys commerce-sys" data-sys={m.body}>
      <span>{c.text}{c.link ? <> <a href={c.link.href} target="_blank" rel="noopener noreferrer">{c.link.label}</a></> : null}</span>
    </li>
  );
}

// ---- QR code and pay link ------------------------------------------------------------------
function QrScreen({ cart, onClose }: { cart: Cart; onClose: () => void }) {
  const [src, setSrc] = useState<string | null>(null);
  const [err, setErr] = useState(false);
  useEffect(() => {
    let url: string | null = null;
    cartApi.qr(cart.id!).then((b) => { url = URL.createObjectURL(b); setSrc(url); }).catch(() => setErr(true));
    return () => { if (url) URL.revokeObjectURL(url); };
  }, [cart.id]);
  return (
    <Sheet title={ct('cart.qrTitle')} onClose={onClose} class="qr-sheet">
      <div class="sheet-body qr-body">
        {src ? <img class="qr" src={src} alt={ct('cart.qrTitle')} /> : err ? <p class="error">{t('error.network')}</p> : <p class="muted">{t('common.loading')}</p>}
        <p class="qr-total">{money(cart.total, cart.currency)}</p>
        <p class="help">{ct('cart.qrHelp')}</p>
      </div>
    </Sheet>
  );
}

function LinkSheet({ cart, email: known, onClose }: { cart: Cart; email?: string | null; onClose: () => void }) {
  const [channel, setChannel] = useState<'email' | 'sms'>('email');
  const [to, setTo] = useState(known ?? '');
  const [err, setErr] = useState<string | undefined>();
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const v = to.trim();
    const ok = channel === 'email' ? /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v) : /^\+?[0-9][0-9\s-]{6,19}$/.test(v);
    if (!ok) { setErr(channel === 'email' ? ct('cart.badEmail') : ct('cart.badPhone')); return; }
    setBusy(true); setErr(undefined);
    try {
      await cartApi.sendLink(cart.id!, channel, channel === 'sms' ? v.replace(/[\s-]/g, '') : v);
      setDone(ct('cart.linkSent', { to: v }));
    } catch (x) {
      setErr(x instanceof ApiError && x.status === 422 ? (channel === 'email' ? ct('cart.badEmail') : ct('cart.badPhone')) : x instanceof ApiError ? (x.problem.detail || x.problem.title) : t('error.network'));
    } finally { setBusy(false); }
  };
  return (
    <Sheet title={ct('cart.link')} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <div class="sheet-body">
          <fieldset class="choices seg">
            <legend class="sr-only">{ct('cart.link')}</legend>
            <label class="choice"><input type="radio" name="channel" checked={channel === 'email'} onChange={() => { setChannel('email'); setErr(undefined); setTo(known ?? ''); }} /> {ct('cart.byEmail')}</label>
            <label class="choice"><input type="radio" name="channel" checked={channel === 'sms'} onChange={() => { setChannel('sms'); setErr(undefined); setTo(''); }} /> {ct('cart.bySms')}</label>
          </fieldset>
          <Field label={channel === 'email' ? ct('cart.email') : ct('cart.phone')} value={to} onValue={setTo} error={err} dir="ltr"
            type={channel === 'email' ? 'email' : 'tel'} inputMode={channel === 'email' ? 'email' : 'tel'} autoComplete="off" name="to" />
          {done ? <p role="status" class="ok">{done}</p> : null}
        </div>
        <div class="sheet-foot row">
          <button type="button" class="btn block" onClick={onClose}>{done ? t('common.close') : t('common.cancel')}</button>
          {done ? null : <button type="submit" class="btn block primary" disabled={busy}>{ct('cart.linkSend')}</button>}
        </div>
      </form>
    </Sheet>
  );
}

/** "Cancel this cart?": the server withdraws it (`POST /app/carts/{id}/cancel`); both threads
 *  get the `cart_status` line, which is what turns the cards to "Cancelled". */
function CancelSheet({ cart, onClose }: { cart: Cart; onClose: () => void }) {
  const [err, setErr] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true); setErr(undefined);
    try {
      await cartApi.cancel(cart.id!);
      onClose();
    } catch (x) {
      setErr(x instanceof ApiError && x.status === 409 ? ct('cart.cancelGone') : x instanceof ApiError && x.status ? (x.problem.detail || x.problem.title) : t('error.network'));
      setBusy(false);
    }
  };
  return (
    <Sheet title={ct('cart.cancelTitle')} onClose={onClose} class="cancel-sheet">
      <div class="sheet-body">
        <p>{ct('cart.cancelBody')}</p>
        <p class="cc-cancel-sum"><span dir="auto">{ct('cart.items', { n: cart.items })}</span> · {money(cart.total, cart.currency)}</p>
        {err ? <p role="alert" class="error">{err}</p> : null}
      </div>
      <div class="sheet-foot row">
        <button type="button" class="btn block" onClick={onClose}>{ct('cart.cancelKeep')}</button>
        {err ? null : <button type="button" class="btn block danger-solid" disabled={busy} onClick={confirm}>{ct('cart.cancelDo')}</button>}
      </div>
    </Sheet>
  );
}

/** Renders whatever cart screen is open for the chat on screen. */
export function CartHost({ conversationId, shopper, email }: { conversationId: string; shopper: string; email?: string | null }) {
  const o = useOpen();
  useEffect(() => () => { current = null; }, [conversationId]);
  if (!o) return null;
  if (o.kind === 'cart') {
    return <CartScreen conversationId={conversationId} shopper={shopper} initial={o.draft} onClose={cartUi.close}
      onSent={() => { cartUi.close(); hub.markRead(conversationId); }} />;
  }
  if (o.kind === 'qr') return <QrScreen cart={o.cart} onClose={cartUi.close} />;
  if (o.kind === 'cancel') return <CancelSheet cart={o.cart} onClose={cartUi.close} />;
  return <LinkSheet cart={o.cart} email={email} onClose={cartUi.close} />;
}

export function CartButton() {
  return (
    <button type="button" class="icon-btn cart-open" onClick={() => cartUi.openCart()} aria-label={ct('cart.open')} aria-haspopup="dialog">
      <CartIcon name="cart" />
    </button>
  );
}
