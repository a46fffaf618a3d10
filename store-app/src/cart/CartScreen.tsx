// The Cart screen of a claimed chat: search the catalogue as you type (name, part of a name,
// article number), add lines with a quantity stepper, override a line's price, add free-text
// lines, see the totals the server computes (POST app/carts/preview), and send the cart into
// the chat. A revision starts from a sent cart and replaces it when sent.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { currentLang, t } from '../i18n';
import { Icon, useId } from '../ui';
import { cartApi, type Cart, type CartInput, type CatalogueProduct } from './api';
import { ct } from './i18n';
import { decimalInput, money, pct } from './money';

/** One line being edited. `price` is the override (catalogue line) or the amount (free text). */
export interface DraftLine {
  key: string; sku?: string; text?: string; name: string; quantity: number;
  price?: string; original?: string; vat_rate?: string; currency?: string; image_url?: string | null;
}
export interface Draft { lines: DraftLine[]; quote: boolean; validUntil: string; replaces?: string }

export const MAX_LINES = 100;
let seq = 0;
const key = () => `l${++seq}`;
// Drafts survive closing the screen (per conversation, for this page's life).
const drafts = new Map<string, Draft>();

/** A quote's last day as `YYYY-MM-DD` (the server gives the end of that day, UTC, in ms). */
export function ymd(v: string | number | null | undefined): string {
  if (typeof v === 'number') return new Date(v).toISOString().slice(0, 10);
  return v ?? '';
}

/** A draft from a sent cart (for "Revise"). */
export function draftFrom(c: Cart): Draft {
  return {
    lines: c.lines.map((l) => ({
      key: key(), sku: l.sku ?? undefined, text: l.sku ? undefined : l.name, name: l.name, quantity: l.quantity,
      price: l.sku ? (l.original_unit_price ? l.unit_price : undefined) : l.unit_price,
      original: l.original_unit_price ?? (l.sku ? l.unit_price : undefined), vat_rate: l.sku ? undefined : l.vat_rate,
      currency: c.currency, image_url: l.image_url,
    })),
    quote: !!c.quote_valid_until, validUntil: ymd(c.quote_valid_until), replaces: c.id ?? undefined,
  };
}

export function toInput(d: Draft): CartInput {
  const input: CartInput = {
    lines: d.lines.map((l) => l.sku
      ? { sku: l.sku, quantity: l.quantity, ...(l.price !== undefined ? { unit_price: l.price } : {}) }
      : { text: l.text ?? l.name, quantity: l.quantity, unit_price: l.price ?? '0', ...(l.vat_rate ? { vat_rate: l.vat_rate } : {}) }),
  };
  if (d.quote && d.validUntil) input.quote_valid_until = d.validUntil;
  if (d.replaces) input.replaces = d.replaces;
  return input;
}

function lineErrors(e: unknown): Map<number, string> {
  const out = new Map<number, string>();
  if (e instanceof ApiError) for (const fe of e.problem.errors ?? []) {
    const m = /^lines\[(\d+)\]/.exec(fe.field);
    if (m && !out.has(Number(m[1]))) out.set(Number(m[1]), fe.message);
  }
  return out;
}

function Stepper({ line, onQty }: { line: DraftLine; onQty: (n: number) => void }) {
  const id = useId('qty');
  const [text, setText] = useState(String(line.quantity));
  useEffect(() => setText(String(line.quantity)), [line.quantity]);
  const commit = (v: string) => {
    const n = Math.round(Number(v));
    if (Number.isFinite(n) && n >= 1 && n <= 999) onQty(n); else setText(String(line.quantity));
  };
  return (
    <div class="stepper">
      <button type="button" class="step" aria-label={ct('cart.less', { name: line.name })} disabled={line.quantity <= 1} onClick={() => onQty(line.quantity - 1)}>−</button>
      <label for={id} class="sr-only">{ct('cart.qty', { name: line.name })}</label>
      <input id={id} type="text" inputMode="numeric" pattern="[0-9]*" value={text} maxLength={3} class="qty" dir="ltr"
        onInput={(e) => setText((e.currentTarget as HTMLInputElement).value.replace(/\D/g, ''))}
        onBlur={(e) => commit((e.currentTarget as HTMLInputElement).value)}
        onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); commit((e.currentTarget as HTMLInputElement).value); } }} />
      <button type="button" class="step" aria-label={ct('cart.more', { name: line.name })} disabled={line.quantity >= 999} onClick={() => onQty(line.quantity + 1)}>+</button>
    </div>
  );
}

function LineRow({ line, total, currency, error, onChange, onRemove }: {
  line: DraftLine; total?: string; currency: string; error?: string;
  onChange: (l: DraftLine) => void; onRemove: () => void;
}) {
  const [editing, setEditing] = useState(false);
  const [price, setPrice] = useState(line.price ?? line.original ?? '');
  const [bad, setBad] = useState(false);
  const id = useId('price');
  const inputRef = useRef<HTMLInputElement>(null);
  useEffect(() => { if (editing) inputRef.current?.focus(); }, [editing]);
  const overridden = !!line.sku && line.price !== undefined && line.price !== line.original;
  const unit = line.price ?? line.original ?? '0';
  const save = () => {
    const v = decimalInput(price);
    if (v === null) { setBad(true); return; }
    setBad(false); setEditing(false);
    onChange({ ...line, price: line.sku && v === line.original ? undefined : v });
  };
  return (
    <li class={`cart-line${error ? ' has-error' : ''}`} data-sku={line.sku ?? ''}>
      <div class="cl-main">
        <p class="cl-name" dir="auto">{line.name}</p>
        {line.sku ? <p class="cl-sku muted">{ct('cart.sku', { sku: '' })}<bdi>{line.sku}</bdi></p> : <p class="cl-sku muted">{ct('cart.free')}</p>}
        <p class="cl-price">
          {overridden ? <><del class="was" aria-label={ct('cart.was', { price: money(line.original!, currency) })}>{money(line.original!, currency)}</del>{' '}</> : null}
          <span class={overridden ? 'now' : ''}>{ct('cart.each', { price: money(unit, currency) })}</span>
        </p>
      </div>
      <div class="cl-side">
        <strong class="cl-total">{total !== undefined ? money(total, currency) : ''}</strong>
        <button type="button" class="icon-btn" aria-label={ct('cart.remove', { name: line.name })} onClick={onRemove}><Icon name="close" size={20} /></button>
      </div>
      <div class="cl-controls">
        <Stepper line={line} onQty={(n) => onChange({ ...line, quantity: n })} />
        {!editing ? (
          <button type="button" class="btn small" onClick={() => { setPrice(unit); setEditing(true); }}>
            {ct('cart.override')}<span class="sr-only">: {line.name}</span>
          </button>
        ) : null}
        {overridden && !editing ? <button type="button" class="link" onClick={() => onChange({ ...line, price: undefined })}>{ct('cart.resetPrice', { price: money(line.original!, currency) })}</button> : null}
      </div>
      {editing ? (
        <div class="cl-edit">
          <label for={id}>{ct('cart.priceOf', { name: line.name })}</label>
          <div class="row">
            <input id={id} ref={inputRef} type="text" inputMode="decimal" dir="ltr" value={price} aria-invalid={bad ? 'true' : undefined}
              aria-describedby={bad ? `${id}-err` : undefined}
              onInput={(e) => setPrice((e.currentTarget as HTMLInputElement).value)}
              onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); save(); } if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); setEditing(false); } }} />
            <button type="button" class="btn small primary" onClick={save}>OK</button>
          </div>
          {bad ? <p class="error" id={`${id}-err`}>{ct('cart.badAmount')}</p> : null}
        </div>
      ) : null}
      {error ? <p class="error" role="alert">{error}</p> : null}
    </li>
  );
}

function FreeLineForm({ currency, onAdd, disabled }: { currency: string; onAdd: (l: DraftLine) => void; disabled: boolean }) {
  const [text, setText] = useState('');
  const [amount, setAmount] = useState('');
  const [vat, setVat] = useState('');
  const [errs, setErrs] = useState<{ text?: string; amount?: string; vat?: string }>({});
  const ids = { text: useId('ft'), amount: useId('fa'), vat: useId('fv') };
  const add = () => {
    const e: typeof errs = {};
    if (!text.trim()) e.text = ct('cart.badText');
    const a = decimalInput(amount);
    if (a === null) e.amount = ct('cart.badAmount');
    const v = vat.trim() ? decimalInput(vat) : '';
    if (v === null) e.vat = ct('cart.badAmount');
    setErrs(e);
    if (Object.keys(e).length) return;
    onAdd({ key: key(), text: text.trim(), name: text.trim(), quantity: 1, price: a!, vat_rate: v || undefined, currency });
    setText(''); setAmount(''); setVat('');
  };
  const field = (k: 'text' | 'amount' | 'vat', label: string, value: string, set: (v: string) => void, extra: Record<string, unknown>) => (
    <div class={`field${errs[k] ? ' has-error' : ''}`}>
      <label for={ids[k]}>{label}</label>
      <input id={ids[k]} value={value} onInput={(e) => set((e.currentTarget as HTMLInputElement).value)}
        aria-invalid={errs[k] ? 'true' : undefined} aria-describedby={errs[k] ? `${ids[k]}-err` : undefined}
        onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); add(); } }} {...extra} />
      {errs[k] ? <p class="error" id={`${ids[k]}-err`}>{errs[k]}</p> : null}
    </div>
  );
  return (
    <details class="free-line">
      <summary>{ct('cart.free')}</summary>
      <p class="help">{ct('cart.freeHelp')}</p>
      {field('text', ct('cart.freeText'), text, setText, { dir: 'auto', maxLength: 200, name: 'free_text' })}
      <div class="row2">
        {field('amount', ct('cart.amount', { currency }), amount, setAmount, { dir: 'ltr', inputMode: 'decimal', name: 'free_amount' })}
        {field('vat', ct('cart.vat'), vat, setVat, { dir: 'ltr', inputMode: 'decimal', placeholder: '25', name: 'free_vat' })}
      </div>
      <button type="button" class="btn block" onClick={add} disabled={disabled}>{ct('cart.addLine')}</button>
    </details>
  );
}

/** Every word shorter than 2 characters: the server only looks for an exact article number. */
function tooShort(q: string): boolean {
  const words = q.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  return words.length > 0 && words.every((w) => [...w].length < 2);
}

function Results({ items, q, forQ, busy, onAdd, full }: { items: CatalogueProduct[] | null; q: string; forQ: string; busy: boolean; onAdd: (p: CatalogueProduct) => void; full: boolean }) {
  if (!q.trim()) return null;
  return (
    <div class="cart-results" data-q={forQ} aria-busy={busy ? 'true' : 'false'}>
      <p class="sr-only" role="status">{items ? (items.length ? ct('cart.results', { n: items.length }) : tooShort(q) ? ct('cart.typeMore') : ct('cart.noResults', { q })) : ''}</p>
      {items === null || (busy && !items.length) ? <p class="muted">{ct('cart.searching')}</p>
        : items.length === 0 ? <p class="empty">{tooShort(q) ? ct('cart.typeMore') : ct('cart.noResults', { q })}</p> : (
          <ul class="results">
            {items.map((p) => (
              <li class="result" data-sku={p.sku}>
                <div class="r-text">
                  <p class="r-name" dir="auto">{p.name}</p>
                  <p class="muted r-sku">{ct('cart.sku', { sku: '' })}<bdi>{p.sku}</bdi> · {money(p.price, p.currency)}</p>
                </div>
                <button type="button" class="btn small primary" disabled={full} aria-label={ct('cart.addNamed', { name: p.name })} onClick={() => onAdd(p)}>{ct('cart.add')}</button>
              </li>
            ))}
          </ul>
        )}
    </div>
  );
}

export function CartScreen({ conversationId, shopper, initial, onClose, onSent }: {
  conversationId: string; shopper: string; initial?: Draft; onClose: () => void; onSent: (c: Cart) => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId('cart');
  const searchId = useId('cs');
  const [draft, setDraft] = useState<Draft>(() => initial ?? drafts.get(conversationId) ?? { lines: [], quote: false, validUntil: '' });
  const [q, setQ] = useState('');
  const [results, setResults] = useState<CatalogueProduct[] | null>(null);
  const [resultsFor, setResultsFor] = useState('');
  const [searching, setSearching] = useState(false);
  const [preview, setPreview] = useState<Cart | null>(null);
  const [computing, setComputing] = useState(false);
  const [errors, setErrors] = useState<Map<number, string>>(new Map());
  const [general, setGeneral] = useState('');
  const [sending, setSending] = useState(false);
  // The merchant's checkout mode, from the last good preview (or a refusal that names the
  // permalink: in that mode the server refuses overrides and free-text lines outright).
  const [mode, setMode] = useState<string | null>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const currency = preview?.currency || draft.lines.find((l) => l.currency)?.currency || results?.[0]?.currency || '';

  useEffect(() => {
    const d = dialog.current!;
    const opener = document.activeElement as HTMLElement | null;
    if (!d.open) d.showModal();
    searchRef.current?.focus();
    return () => { try { d.close(); } catch { /* */ } opener?.focus?.(); };
  }, []);
  useEffect(() => { drafts.set(conversationId, draft); }, [draft]);

  // Search as they type (debounced; a newer query wins).
  useEffect(() => {
    const term = q.trim();
    if (!term) { setResults(null); return; }
    let live = true;
    setSearching(true);
    const timer = setTimeout(async () => {
      try { const r = await cartApi.search(term); if (live) { setResults(r); setResultsFor(term); } }
      catch { if (live) { setResults([]); setResultsFor(term); } }
      finally { if (live) setSearching(false); }
    }, 150);
    return () => { live = false; clearTimeout(timer); };
  }, [q]);

  // Totals come from the server: every change asks for a preview.
  useEffect(() => {
    if (!draft.lines.length) { setPreview(null); setErrors(new Map()); setGeneral(''); return; }
    let live = true;
    setComputing(true);
    const timer = setTimeout(async () => {
      try {
        const c = await cartApi.preview(toInput({ ...draft, replaces: undefined }));
        if (live) { setPreview(c); setMode(c.checkout_mode ?? null); setErrors(new Map()); setGeneral(''); }
      } catch (e) {
        if (!live) return;
        if (e instanceof ApiError && (e.problem.errors ?? []).some((x) => /permalink/i.test(x.message))) setMode('permalink');
        const le = lineErrors(e);
        setErrors(le);
        setGeneral(le.size ? '' : e instanceof ApiError ? (e.problem.detail || e.problem.title) : ct('cart.computing'));
      } finally { if (live) setComputing(false); }
    }, 200);
    return () => { live = false; clearTimeout(timer); };
  }, [draft.lines]);

  const setLines = (lines: DraftLine[]) => setDraft({ ...draft, lines });
  const full = draft.lines.length >= MAX_LINES;
  const addProduct = (p: CatalogueProduct) => {
    const i = draft.lines.findIndex((l) => l.sku === p.sku);
    if (i >= 0) {
      const l = draft.lines[i];
      setLines(draft.lines.map((x, j) => (j === i ? { ...l, quantity: Math.min(999, l.quantity + 1) } : x)));
    } else if (!full) {
      setLines([...draft.lines, { key: key(), sku: p.sku, name: p.name, quantity: 1, original: p.price, currency: p.currency, image_url: p.image_url }]);
    }
    setQ('');
    searchRef.current?.focus();
  };
  const notForPermalink = (l: DraftLine) => !l.sku || (l.price !== undefined && l.price !== l.original);
  const permalinkBlocked = mode === 'permalink' && draft.lines.some(notForPermalink);
  const canSend = draft.lines.length > 0 && !computing && !!preview && errors.size === 0 && !permalinkBlocked && !sending
    && (!draft.quote || !!draft.validUntil);

  const send = async () => {
    if (!canSend) return;
    setSending(true); setGeneral('');
    try {
      const c = await cartApi.create(conversationId, toInput(draft));
      drafts.delete(conversationId);
      onSent(c);
    } catch (e) {
      const le = lineErrors(e);
      setErrors(le);
      setGeneral(le.size ? '' : e instanceof ApiError ? (e.problem.detail || e.problem.title) : ct('cart.computing'));
    } finally { setSending(false); }
  };

  const today = new Date().toISOString().slice(0, 10);
  const vatLabel = (rate: string) => ct('cart.vatAt', { rate: pct(rate) });
  return (
    <dialog ref={dialog} class="cart-screen" aria-labelledby={titleId} lang={currentLang()}
      onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <div class="cart-inner">
        <header class="chat-head">
          <button type="button" class="icon-btn" onClick={onClose} aria-label={t('common.close')}>
            <Icon name="back" flip />
          </button>
          <div class="chat-title"><h1 id={titleId}>{ct('cart.title', { name: shopper })}</h1></div>
        </header>
        <div class="cart-body">
          <div class="search-box cart-search" role="search">
            <label for={searchId} class="sr-only">{ct('cart.searchLabel')}</label>
            <Icon name="search" />
            <input ref={searchRef} id={searchId} type="search" value={q} placeholder={ct('cart.search')} autoComplete="off" dir="auto" enterKeyHint="search"
              onInput={(e) => setQ((e.currentTarget as HTMLInputElement).value)}
              onKeyDown={(e) => { if (e.key === 'Enter' && results?.length) { e.preventDefault(); addProduct(results[0]); } }} />
          </div>
          <Results items={results} q={q} forQ={resultsFor} busy={searching} onAdd={addProduct} full={full} />

          <section aria-labelledby={`${titleId}-lines`}>
            <h2 id={`${titleId}-lines`}>{ct('cart.lines')}</h2>
            {draft.lines.length === 0 ? <p class="empty">{ct('cart.empty')}</p> : (
              <ul class="cart-lines">
                {draft.lines.map((l, i) => (
                  <LineRow key={l.key} line={l} currency={currency} total={errors.size ? undefined : preview?.lines[i]?.line_total}
                    error={permalinkBlocked && notForPermalink(l) ? ct('cart.permalinkTitle') : errors.get(i)}
                    onChange={(nl) => setLines(draft.lines.map((x) => (x.key === l.key ? nl : x)))}
                    onRemove={() => { setLines(draft.lines.filter((x) => x.key !== l.key)); searchRef.current?.focus(); }} />
                ))}
              </ul>
            )}
            {full ? <p class="help">{ct('cart.tooMany', { n: MAX_LINES })}</p> : null}
            <FreeLineForm currency={currency || '—'} disabled={full} onAdd={(l) => setLines([...draft.lines, l])} />
          </section>

          {preview && !errors.size && !permalinkBlocked ? (
            <section class="totals" aria-live="polite" aria-busy={computing ? 'true' : 'false'}>
              <dl>
                <div class="sum-row"><dt>{ct('cart.sum')} ({ct('cart.items', { n: preview.items })})</dt><dd>{money(preview.total, preview.currency)}</dd></div>
                {preview.vat.map((v) => <div class="vat-row"><dt>{vatLabel(v.rate)}</dt><dd>{money(v.vat, preview.currency)}</dd></div>)}
                <div><dt>{ct('cart.vatTotal')}</dt><dd>{money(preview.vat_total, preview.currency)}</dd></div>
                <div class="grand"><dt>{ct('cart.total')}</dt><dd data-total={preview.total}>{money(preview.total, preview.currency)}</dd></div>
              </dl>
              {computing ? <p class="muted small">{ct('cart.computing')}</p> : null}
            </section>
          ) : null}

          {draft.lines.length ? (
            <div class="quote-opt">
              <label class="check"><input type="checkbox" checked={draft.quote} onChange={(e) => setDraft({ ...draft, quote: (e.currentTarget as HTMLInputElement).checked })} /> {ct('cart.quote')}</label>
              {draft.quote ? (
                <div class="field">
                  <label for={`${titleId}-until`}>{ct('cart.validUntil')}</label>
                  <input id={`${titleId}-until`} type="date" min={today} value={draft.validUntil} onInput={(e) => setDraft({ ...draft, validUntil: (e.currentTarget as HTMLInputElement).value })} />
                  <p class="help">{ct('cart.quoteHelp')}</p>
                </div>
              ) : null}
            </div>
          ) : null}

          {permalinkBlocked ? (
            <div class="warn-box" role="alert">
              <p><strong>{ct('cart.permalinkTitle')}</strong></p>
              <p>{ct('cart.permalinkBody')}</p>
            </div>
          ) : null}
          {general ? <p class="error" role="alert">{general}</p> : null}
        </div>
        <div class="sheet-foot">
          <button type="button" class="btn primary block" disabled={!canSend} onClick={send}>
            <Icon name="send" flip /> {draft.replaces ? ct('cart.resend') : ct('cart.send')}
          </button>
        </div>
      </div>
    </dialog>
  );
}
