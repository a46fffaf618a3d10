// Orders (issue 22, module `orders`): the list with filters kept in the address (status,
// store, expert, dates, search by order id / shopper / SKU) and the CSV export with the same
// filters; the detail with the cart's lines and totals, the chat it came from, the status
// history, a status change (carrier and tracking when shipping) and internal notes.
import { useEffect, useMemo, useState } from 'preact/hooks';
import {
  api, apiUrl, ApiError, fetchAll, type Account, type Expert, type OrderDetail, type OrderHistoryEntry, type OrderSummary, type Page, type Store,
  type WidgetConfig,
} from '../api';
import { useI18n, type T } from '../i18n';
import { href, replaceRoute, withQuery } from '../router';
import {
  Badge, EmptyState, ErrorSummary, Field, LoadError, Loading, PageHeader, TextField, useAsync, useFormErrors, useToast,
} from '../components/ui';
import { Icon } from '../components/icons';

/** Client-side: the handling stages (`OrderSummary.stage` is a string in the schema). */
export type Stage = 'new' | 'in_progress' | 'shipped' | 'completed' | 'cancelled' | 'refunded';
export const STAGES: Stage[] = ['new', 'in_progress', 'shipped', 'completed', 'cancelled', 'refunded'];
/** The flow of docs/commerce.md: forward (new may go straight to shipped); cancelled/refunded from any open stage. */
export function nextStages(s: Stage): Stage[] {
  const open = s === 'new' || s === 'in_progress' || s === 'shipped';
  const fwd: Partial<Record<Stage, Stage>> = { new: 'in_progress', in_progress: 'shipped', shipped: 'completed' };
  return open ? [...(fwd[s] ? [fwd[s]!] : []), ...(s === 'new' ? ['shipped' as Stage] : []), 'cancelled', 'refunded'] : [];
}

export type OrderRow = OrderSummary;
type HistoryEntry = OrderHistoryEntry;
type Detail = OrderDetail;

const stageKind = (s: string | null | undefined): 'ok' | 'warn' | 'muted' | 'info' | 'danger' =>
  s === 'completed' ? 'ok' : s === 'shipped' ? 'info' : s === 'in_progress' ? 'warn' : s === 'cancelled' || s === 'refunded' ? 'danger' : 'muted';
export const stageLabel = (t: T, s: string | null | undefined) => t('orders.stage.' + (s || 'new'));

interface Opt { id: string; name: string }
function useOptions(account: Account) {
  const [stores, setStores] = useState<Opt[]>([]);
  const [experts, setExperts] = useState<Opt[]>([]);
  useEffect(() => {
    const s = account.modules.includes('stores')
      ? fetchAll<Store>('stores').then((ss) => ss.map((x) => ({ id: x.id, name: x.name })))
      : account.merchant_id ? api.get<WidgetConfig>('public/widget-config?merchant=' + encodeURIComponent(account.merchant_id)).then((c) => c.stores.map((x) => ({ id: x.id, name: x.name }))) : Promise.resolve([]);
    s.then(setStores, () => { /* filter by id still works */ });
    if (account.modules.includes('team')) fetchAll<Expert>('team/experts').then((es) => setExperts(es.filter((e) => e.status !== 'pending').map((e) => ({ id: e.id, name: e.name }))), () => { /* */ });
  }, [account.id]);
  return { stores, experts };
}

/** yyyy-mm-dd (a local day) → unix ms at its start, or its end when `end`. */
function dayMs(d: string, end = false): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d);
  if (!m) return null;
  const t = new Date(+m[1], +m[2] - 1, +m[3] + (end ? 1 : 0)).getTime();
  return String(end ? t - 1 : t);
}

export function OrdersPage({ query, account }: { query: URLSearchParams; account: Account }) {
  const { t, dateTime, money } = useI18n();
  const f = { stage: query.get('stage') ?? '', store: query.get('store') ?? '', expert: query.get('expert') ?? '', from: query.get('from') ?? '', to: query.get('to') ?? '', q: query.get('q') ?? '' };
  const [qText, setQText] = useState(f.q);
  const set = (patch: Partial<typeof f>) => replaceRoute(withQuery('/orders', { ...f, ...patch }));
  useEffect(() => { const id = setTimeout(() => { if (qText !== f.q) set({ q: qText }); }, 300); return () => clearTimeout(id); }, [qText]);
  const { stores, experts } = useOptions(account);
  const params = useMemo(() => {
    const p = new URLSearchParams();
    if (f.stage) p.set('stage', f.stage);
    if (f.store) p.set('store_id', f.store);
    if (f.expert) p.set('expert_id', f.expert);
    const from = f.from && dayMs(f.from); const to = f.to && dayMs(f.to, true);
    if (from) p.set('from', from);
    if (to) p.set('to', to);
    if (f.q.trim()) p.set('q', f.q.trim());
    return p.toString();
  }, [f.stage, f.store, f.expert, f.from, f.to, f.q]);
  const [rows, setRows] = useState<OrderRow[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const { data, error, loading, reload } = useAsync(() => api.get<Page<OrderRow>>('orders?limit=50' + (params ? '&' + params : '')), [params]);
  useEffect(() => { if (data) { setRows(data.items); setNext(data.next_cursor); } }, [data]);
  const more = async () => {
    if (!next) return;
    const p = await api.get<Page<OrderRow>>('orders?limit=50' + (params ? '&' + params : '') + '&cursor=' + encodeURIComponent(next));
    setRows([...rows, ...p.items]); setNext(p.next_cursor);
  };
  const storeName = (id: string | null) => (id && stores.find((s) => s.id === id)?.name) || '';
  const expertName = (id: string | null) => (id && experts.find((s) => s.id === id)?.name) || '';
  const filtered = !!params;
  return (
    <>
      <PageHeader title={t('module.orders')} lead={t('orders.lead')}
        actions={<a class="btn btn-secondary" id="orders-export" href={apiUrl('orders/export.csv' + (params ? '?' + params : ''))} download="orders.csv"><Icon name="download" size={18} />{t('orders.export')}</a>} />
      <section class="card filters-card">
        <div class="orders-filters" role="group" aria-label={t('orders.filters')}>
          <div class="field search-field">
            <label for="of-q">{t('orders.searchLabel')}</label>
            <input id="of-q" type="search" value={qText} placeholder={t('orders.search')} onInput={(e) => setQText((e.target as HTMLInputElement).value)} />
          </div>
          <div class="field">
            <label for="of-stage">{t('orders.stage')}</label>
            <select id="of-stage" value={f.stage} onChange={(e) => set({ stage: (e.target as HTMLSelectElement).value })}>
              <option value="">{t('orders.allStages')}</option>
              {STAGES.map((s) => <option value={s}>{stageLabel(t, s)}</option>)}
            </select>
          </div>
          <div class="field">
            <label for="of-store">{t('orders.store')}</label>
            <select id="of-store" value={f.store} onChange={(e) => set({ store: (e.target as HTMLSelectElement).value })}>
              <option value="">{t('orders.allStores')}</option>
              {stores.map((s) => <option value={s.id}>{s.name}</option>)}
              {f.store && !stores.some((s) => s.id === f.store) && <option value={f.store}>{f.store}</option>}
            </select>
          </div>
          <div class="field">
            <label for="of-expert">{t('orders.expert')}</label>
            <select id="of-expert" value={f.expert} onChange={(e) => set({ expert: (e.target as HTMLSelectElement).value })}>
              <option value="">{t('orders.allExperts')}</option>
              {experts.map((s) => <option value={s.id}>{s.name}</option>)}
              {f.expert && !experts.some((s) => s.id === f.expert) && <option value={f.expert}>{f.expert}</option>}
            </select>
          </div>
          <div class="field">
            <label for="of-from">{t('orders.from')}</label>
            <input id="of-from" type="date" value={f.from} max={f.to || undefined} onChange={(e) => set({ from: (e.target as HTMLInputElement).value })} />
          </div>
          <div class="field">
            <label for="of-to">{t('orders.to')}</label>
            <input id="of-to" type="date" value={f.to} min={f.from || undefined} onChange={(e) => set({ to: (e.target as HTMLInputElement).value })} />
          </div>
        </div>
      </section>
      {loading && !data ? <Loading /> : error ? <LoadError error={error} retry={reload} /> : rows.length === 0 ? (
        filtered ? <section class="card"><p class="muted" role="status">{t('orders.none')}</p></section>
          : <EmptyState icon="orders" title={t('orders.emptyTitle')}><p>{t('orders.emptyBody')}</p></EmptyState>
      ) : (
        <section class="card" aria-labelledby="orders-title">
          <div class="card-head"><h2 id="orders-title" aria-live="polite">{t('orders.count', { n: rows.length })}{next ? '+' : ''}</h2></div>
          <div class="table-wrap">
            <table class="table orders-table">
              <thead><tr>
                <th scope="col">{t('orders.id')}</th>
                <th scope="col">{t('orders.placed')}</th>
                <th scope="col" class="num">{t('orders.amount')}</th>
                <th scope="col">{t('orders.stage')}</th>
                <th scope="col" class="hide-sm">{t('orders.payment')}</th>
                <th scope="col" class="hide-sm">{t('orders.expert')}</th>
                <th scope="col" class="hide-sm">{t('orders.store')}</th>
              </tr></thead>
              <tbody>
                {rows.map((o) => (
                  <tr key={o.order_id} data-order={o.order_id}>
                    <td class="nowrap"><a href={href('/orders/' + encodeURIComponent(o.order_id))} aria-label={t('orders.open', { id: o.order_id })}><code dir="ltr">{o.order_id}</code></a></td>
                    <td class="nowrap small">{dateTime(o.placed_at)}</td>
                    <td class="nowrap num">{money(o.amount, o.currency)}</td>
                    <td><Badge kind={stageKind(o.stage)}>{stageLabel(t, o.stage)}</Badge></td>
                    <td class="hide-sm small">{t('orders.pay.' + o.status)}</td>
                    <td class="hide-sm small">{expertName(o.expert_id ?? null) || (o.expert_id ? <code>{o.expert_id.slice(0, 8)}</code> : '—')}</td>
                    <td class="hide-sm small">{storeName(o.store_id ?? null) || '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {next && <div class="load-more"><button type="button" class="btn btn-secondary" onClick={more}>{t('common.loadMore')}</button></div>}
        </section>
      )}
    </>
  );
}

export function OrderDetailPage({ id, account }: { id: string; account: Account }) {
  const { t, dateTime, money, num, lang } = useI18n();
  const toast = useToast();
  const { data, error, loading, reload, setData } = useAsync(() => api.get<Detail>('orders/' + encodeURIComponent(id) + '/detail'), [id]);
  const [stage, setStage] = useState('');
  const [ship, setShip] = useState({ carrier: '', tracking_number: '', tracking_url: '' });
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const sf = useFormErrors();
  const nf = useFormErrors();
  const cur = (data?.order.stage ?? 'new') as Stage;
  const options = nextStages(cur);
  useEffect(() => { setStage(options[0] ?? ''); }, [cur]);
  if (loading && !data) return <Loading />;
  if (error || !data) {
    return (
      <>
        <PageHeader title={t('orders.title', { id })} back={{ href: href('/orders'), label: t('orders.back') }} />
        <LoadError error={error} retry={reload} />
      </>
    );
  }
  const o = data.order;
  const cart = data.cart ?? null;
  const lines = cart?.lines ?? [];
  const currency = cart?.currency ?? o.currency;

  const change = async (e: Event) => {
    e.preventDefault();
    sf.clear();
    if (!stage) return;
    if (stage === 'shipped') {
      const local = [];
      if (!ship.carrier.trim()) local.push({ field: 'carrier', message: t('common.required') });
      if (!ship.tracking_number.trim()) local.push({ field: 'tracking_number', message: t('common.required') });
      if (ship.tracking_url.trim() && !/^https:\/\/\S+$/i.test(ship.tracking_url.trim())) local.push({ field: 'tracking_url', message: t('cat.httpsRule') });
      if (local.length) { sf.setLocal(local); return; }
    }
    setBusy(true);
    try {
      const body = stage === 'shipped'
        ? { stage, carrier: ship.carrier.trim(), tracking_number: ship.tracking_number.trim(), tracking_url: ship.tracking_url.trim() || null }
        : { stage };
      const d = await api.post<Detail>('orders/' + encodeURIComponent(o.order_id) + '/stage', body);
      if (d && d.order) setData(d); else reload();
      toast(t('orders.changed', { stage: stageLabel(t, stage) }));
      setShip({ carrier: '', tracking_number: '', tracking_url: '' });
    } catch (x) {
      if (x instanceof ApiError && x.status === 409) { sf.fromError(x); reload(); } else sf.fromError(x);
    } finally { setBusy(false); }
  };
  const addNote = async (e: Event) => {
    e.preventDefault();
    nf.clear();
    if (!note.trim()) { nf.setLocal([{ field: 'body', message: t('common.required') }]); return; }
    try {
      await api.post('orders/' + encodeURIComponent(o.order_id) + '/notes', { body: note.trim() });
      setNote('');
      toast(t('orders.noteAdded'));
      reload();
    } catch (x) { nf.fromError(x); }
  };
  const shipLabels = (k: string) => ({ carrier: t('orders.carrier'), tracking_number: t('orders.tracking'), tracking_url: t('orders.trackingUrl'), stage: t('orders.newStage') } as Record<string, string>)[k];

  return (
    <>
      <PageHeader title={t('orders.title', { id: o.order_id })} back={{ href: href('/orders'), label: t('orders.back') }}
        actions={<Badge kind={stageKind(o.stage)}>{stageLabel(t, o.stage)}</Badge>} />
      <div class="order-grid">
        <section class="card" aria-labelledby="o-sum">
          <h2 id="o-sum">{t('orders.summary')}</h2>
          <dl class="facts">
            <div><dt>{t('orders.placed')}</dt><dd>{dateTime(o.placed_at)}</dd></div>
            <div><dt>{t('orders.amount')}</dt><dd class="strong">{money(o.amount, o.currency)}</dd></div>
            <div><dt>{t('orders.payment')}</dt><dd>{t('orders.pay.' + o.status)}</dd></div>
            <div><dt>{t('orders.shopper')}</dt><dd>{o.shopper_id ? <code dir="ltr">{o.shopper_id}</code> : '—'}</dd></div>
            <div class="span-all"><dt>{t('orders.chat')}</dt><dd>{o.conversation_id
              ? <>{account.modules.includes('shoppers') && o.shopper_id
                ? <a href={href('/shoppers?id=' + encodeURIComponent(o.shopper_id))} id="order-chat-link">{t('orders.chatLink')}</a> : null} <code dir="ltr" class="small">{o.conversation_id}</code></>
              : t('orders.noChat')}</dd></div>
          </dl>
        </section>

        <section class="card" aria-labelledby="o-lines">
          <h2 id="o-lines">{t('orders.lines')}</h2>
          {lines.length === 0 ? <p class="muted">{t('orders.noLines')}</p> : (
            <div class="table-wrap">
              <table class="table order-lines">
                <thead><tr>
                  <th scope="col" class="num">{t('orders.qty')}</th>
                  <th scope="col">{t('orders.item')}</th>
                  <th scope="col" class="num hide-sm">{t('orders.unit')}</th>
                  <th scope="col" class="num">{t('orders.lineTotal')}</th>
                </tr></thead>
                <tbody>
                  {lines.map((l) => (
                    <tr>
                      <td class="num">{num(l.quantity)}</td>
                      <td><span dir="auto" class="strong">{l.name}</span><br /><span class="muted small">{l.sku ? <code dir="ltr">{l.sku}</code> : t('orders.freeText')}</span>
                        {l.original_unit_price ? <span class="show-sm small"><br /><del class="muted">{money(l.original_unit_price, currency)}</del> {money(l.unit_price, currency)}</span> : null}</td>
                      <td class="num nowrap hide-sm">{l.original_unit_price ? <><del class="muted">{money(l.original_unit_price, currency)}</del><br /></> : null}{money(l.unit_price, currency)}</td>
                      <td class="num nowrap">{money(l.line_total, currency)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {cart ? (
            <dl class="totals-list">
              {cart.vat.map((v) => <div><dt>{t('orders.vatAt', { rate: new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 2 }).format(Number(v.rate) / 100) })}</dt><dd>{money(v.vat, currency)}</dd></div>)}
              <div><dt>{t('orders.vatTotal')}</dt><dd>{money(cart.vat_total, currency)}</dd></div>
              <div class="grand"><dt>{t('orders.total')}</dt><dd>{money(cart.total, currency)}</dd></div>
            </dl>
          ) : null}
        </section>

        <section class="card" aria-labelledby="o-change">
          <h2 id="o-change">{t('orders.change')}</h2>
          {options.length === 0 ? <p class="muted">{t('orders.final', { stage: stageLabel(t, cur) })}</p> : (
            <form class="stack" onSubmit={change} noValidate>
              <ErrorSummary general={sf.general} list={sf.list} labels={shipLabels} />
              <Field name="stage" label={t('orders.newStage')} error={sf.errors.stage}>
                {({ id, describedBy }) => (
                  <select id={id} value={stage} aria-describedby={describedBy} onChange={(e) => setStage((e.target as HTMLSelectElement).value)}>
                    {options.map((s) => <option value={s}>{stageLabel(t, s)}</option>)}
                  </select>
                )}
              </Field>
              {stage === 'shipped' && (
                <>
                  <p class="hint">{t('orders.shipHint')}</p>
                  <div class="grid-2">
                    <TextField name="carrier" label={t('orders.carrier')} value={ship.carrier} onValue={(v) => setShip({ ...ship, carrier: v })} error={sf.errors.carrier} autocomplete="off" />
                    <TextField name="tracking_number" label={t('orders.tracking')} value={ship.tracking_number} onValue={(v) => setShip({ ...ship, tracking_number: v })} error={sf.errors.tracking_number} dir="ltr" autocomplete="off" />
                  </div>
                  <TextField name="tracking_url" label={t('orders.trackingUrl')} type="url" value={ship.tracking_url} onValue={(v) => setShip({ ...ship, tracking_url: v })} error={sf.errors.tracking_url} dir="ltr" placeholder="https://" />
                </>
              )}
              <div class="form-actions"><button type="submit" class="btn btn-primary" disabled={busy}>{t('orders.apply')}</button></div>
            </form>
          )}
        </section>

        <section class="card" aria-labelledby="o-hist">
          <h2 id="o-hist">{t('orders.history')}</h2>
          <ol class="plain-list order-history">
            {(data.history.length ? data.history : [{ at: o.placed_at, stage: o.stage || 'new', actor_kind: 'system' }] as HistoryEntry[]).map((h) => (
              <li data-stage={h.stage}>
                <Badge kind={stageKind(h.stage)}>{stageLabel(t, h.stage)}</Badge>{' '}
                <span class="small muted">{dateTime(h.at)}{h.actor_kind === 'api_key' ? ' · ' + t('orders.byKey') : h.actor_kind === 'account' ? ' · ' + t('orders.byAccount') : ''}</span>
                {h.carrier || h.tracking_number ? <div class="small">{[h.carrier, h.tracking_number].filter(Boolean).join(' · ')}{h.tracking_url ? <> · <a href={h.tracking_url} target="_blank" rel="noopener noreferrer" dir="ltr">{h.tracking_url}</a></> : null}</div> : null}
              </li>
            ))}
          </ol>
        </section>

        <section class="card span-2" aria-labelledby="o-notes">
          <h2 id="o-notes">{t('orders.notes')}</h2>
          <p class="hint">{t('orders.notesHint')}</p>
          {data.notes.length === 0 ? <p class="muted">{t('orders.noNotes')}</p> : (
            <ul class="plain-list order-notes">
              {data.notes.map((n) => (
                <li key={n.id}><p dir="auto" class="note-text">{n.body}</p><span class="small muted">{dateTime(n.at)}{n.author_kind === 'api_key' ? ' · ' + t('orders.byKey') : n.author_kind === 'account' ? ' · ' + t('orders.byAccount') : ''}</span></li>
              ))}
            </ul>
          )}
          <form class="stack" onSubmit={addNote} noValidate>
            <ErrorSummary general={nf.general} list={nf.list} labels={(k) => (k === 'body' ? t('orders.noteLabel') : undefined)} />
            <Field name="body" label={t('orders.noteLabel')} error={nf.errors.body}>
              {({ id, describedBy, invalid }) => (
                <textarea id={id} rows={3} maxLength={2000} dir="auto" value={note} aria-describedby={describedBy} aria-invalid={invalid || undefined}
                  onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)} />
              )}
            </Field>
            <div class="form-actions"><button type="submit" class="btn btn-secondary">{t('orders.addNote')}</button></div>
          </form>
        </section>
      </div>
    </>
  );
}
