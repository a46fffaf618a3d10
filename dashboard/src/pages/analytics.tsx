import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, grainOf, type Account, type Analytics, type Live, type Metrics } from '../api';
import { useI18n, type T } from '../i18n';
import { href, replaceRoute, withQuery } from '../router';
import { LoadError, Loading, PageHeader } from '../components/ui';
import { Icon } from '../components/icons';
import { apiParams, FilterBar, filtersFromQuery, filtersToQuery, useFilterOptions, type Filters } from '../components/filters';
import { TimeChart } from '../components/chart';
import { SortableTable, type Column } from '../components/sortable';
import { throttle, useDashboardSocket, type LiveState } from '../live';

type I = ReturnType<typeof useI18n>;

/** "—" for a missing value, with words for screen readers. */
function Missing({ t }: { t: T }) {
  return <><span aria-hidden="true">—</span><span class="visually-hidden">{t('analytics.noValue')}</span></>;
}

export function AnalyticsPage({ query, account }: { query: URLSearchParams; account: Account }) {
  const i = useI18n();
  const { t } = i;
  const filters = filtersFromQuery(query, '7d');
  const setFilters = (f: Filters) => replaceRoute(withQuery('/analytics', filtersToQuery(f)));
  const params = apiParams(filters);
  const key = params ? params.toString() : '';

  const [data, setData] = useState<Analytics | null>(null);
  const [dataKey, setDataKey] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [fetchedAt, setFetchedAt] = useState<number | null>(null);
  const keyRef = useRef(key);
  keyRef.current = key;
  const seq = useRef(0);

  const load = async () => {
    const k = keyRef.current;
    if (!k) return;
    const n = ++seq.current;
    setBusy(true);
    try {
      const d = await api.get<Analytics>('analytics?' + k);
      if (n !== seq.current) return;
      setData(d); setDataKey(k); setError(null); setFetchedAt(Date.now());
    } catch (e) {
      if (n === seq.current) setError(e);
    } finally {
      if (n === seq.current) setBusy(false);
    }
  };
  // Refetch on the socket's "updated", at most once a second.
  const refetch = useMemo(() => throttle(() => { void load(); }, 1000), []);
  useEffect(() => () => refetch.cancel(), [refetch]);
  useEffect(() => { void load(); }, [key]);
  const { live, state } = useDashboardSocket(refetch);

  const analyticsExperts = useMemo(() => (data?.experts ?? []).map((e) => ({ id: e.expert_id, name: e.name })), [data]);
  const opts = useFilterOptions(account, analyticsExperts);
  const exportHref = href(withQuery('/exports', { kind: 'metrics', ...filtersToQuery(filters) }));
  const stale = data && dataKey !== key;

  return (
    <>
      <PageHeader title={t('module.analytics')} lead={t('analytics.lead')}
        actions={account.modules.includes('exports') && (
          <a class="btn btn-secondary" href={exportHref}><Icon name="download" size={18} />{t('analytics.exportThese')}</a>
        )} />
      <LiveStrip live={live} state={state} />
      <section class="card filters-card" aria-label={t('filters.label')}>
        <FilterBar value={filters} onChange={setFilters} stores={opts.stores} experts={opts.experts} idPrefix="an" />
      </section>
      {!params ? null : error && !data ? <LoadError error={error} retry={load} /> : !data ? <Loading /> : (
        <div class={'analytics' + (stale ? ' is-stale' : '')} aria-busy={busy || undefined}>
          <p class="as-of muted small">
            {busy ? <span class="spinner inline" aria-hidden="true" /> : <Icon name="clock" size={16} />}
            <span>{t('analytics.grain.' + data.grain)}{data.time_zone ? <> · <span data-zone={data.time_zone}>{t('analytics.zone', { zone: data.time_zone })}</span></> : null} · {fetchedAt ? t('analytics.updatedAt', { time: i.time(fetchedAt, true) }) : ''}</span>
            {error ? <span class="field-error">{t('analytics.refreshFailed')}</span> : null}
          </p>
          {filters.expert && <p class="hint expert-note"><Icon name="alert" size={16} />{t('analytics.expertNote')}</p>}
          <Kpis m={data.totals} currencies={data.currencies} i={i} />
          <Charts data={data} i={i} />
          <ExpertTable data={data} i={i} />
          <StoreTable data={data} i={i} />
        </div>
      )}
    </>
  );
}

// ---------- live strip ----------

function LiveStrip({ live, state }: { live: Live | null; state: LiveState }) {
  const { t, num } = useI18n();
  // One calm announcement for screen readers when the number of waiting shoppers changes,
  // at most every 10 s; the visible numbers change at once.
  const [said, setSaid] = useState('');
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const waiting = live?.waiting;
  useEffect(() => {
    if (waiting === undefined) return;
    const text = t('live.waitingNow', { n: waiting });
    const go = () => { last.current = Date.now(); setSaid(text); };
    clearTimeout(timer.current);
    const wait = last.current + 10_000 - Date.now();
    if (last.current === 0) { last.current = Date.now(); return; } // no announcement on page load
    if (wait <= 0) go(); else timer.current = setTimeout(go, wait);
    return () => clearTimeout(timer.current);
  }, [waiting]);
  const stateText = state === 'open' ? t('live.connected') : state === 'denied' ? t('live.denied') : state === 'retrying' ? t('live.reconnecting') : t('live.connecting');
  return (
    <section class="card live-strip" aria-labelledby="live-title">
      <div class="live-head">
        <h2 id="live-title"><span class={'live-dot live-' + state} aria-hidden="true" />{t('live.title')}</h2>
        <span class="muted small live-state">{stateText}</span>
      </div>
      {!live ? (state === 'denied' ? null : <p class="muted small">{t('live.waitingForData')}</p>) : (
        <div class="live-body">
          <dl class="live-totals">
            <div data-live="waiting"><dt>{t('live.waiting')}</dt><dd>{num(live.waiting)}</dd></div>
            <div data-live="active"><dt>{t('live.active')}</dt><dd>{num(live.active)}</dd></div>
            <div data-live="experts"><dt>{t('live.expertsAvailable')}</dt><dd>{num(live.experts_available)}</dd></div>
            {live.experts_online !== undefined && <div data-live="online"><dt>{t('live.expertsOnline')}</dt><dd>{num(live.experts_online)}</dd></div>}
          </dl>
          <p class="hint small live-hint">{t('live.availableHint')}</p>
          {live.stores.length > 0 && (
            <ul class="live-stores" aria-label={t('live.perStore')}>
              {live.stores.map((s) => (
                <li key={s.store_id}>
                  <span class="strong">{s.name}</span>
                  <span class="muted">{t('live.storeLine', { waiting: s.waiting, active: s.active, experts: s.experts_available })}{s.experts_online !== undefined ? ' · ' + t('live.storeOnline', { n: s.experts_online }) : ''}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <p class="visually-hidden" role="status">{said}</p>
    </section>
  );
}

// ---------- key figures ----------

/** `raw` is the API's value, kept on the element (data-value) so tests can compare it with exports. */
function Kpi({ id, label, children, sub, raw }: { id: string; label: string; children: ComponentChildren; sub?: ComponentChildren; raw: number | null | undefined }) {
  return (
    <li class="kpi" data-kpi={id}>
      <h3 class="kpi-label" id={'kpi-' + id}>{label}</h3>
      <p class="kpi-value" data-value={raw == null ? '' : String(raw)}>{children}</p>
      {sub && <p class="kpi-sub">{sub}</p>}
    </li>
  );
}

function Kpis({ m, currencies, i }: { m: Metrics; currencies: string[]; i: I }) {
  const { t, num, pct, dur, money } = i;
  const opt = (v: number | null | undefined, f: (x: number) => string) => (v == null ? <Missing t={t} /> : f(v));
  const revenue = currencies.length ? currencies : Object.keys(m.revenue);
  const csatMax = Math.max(1, ...m.csat_distribution);
  return (
    <section aria-labelledby="kpi-title" class="kpi-section">
      <h2 id="kpi-title" class="visually-hidden">{t('analytics.keyFigures')}</h2>
      <ul class="kpis">
        <Kpi id="requested" raw={m.requested} label={t('analytics.requested')} sub={t('analytics.requestedSub', { offline: m.offline, abandoned: m.abandoned })}>{num(m.requested)}</Kpi>
        <Kpi id="claimed" raw={m.claimed} label={t('analytics.claimed')} sub={t('analytics.claimedSub', { n: m.transferred })}>{num(m.claimed)}</Kpi>
        <Kpi id="claim_rate" raw={m.claim_rate} label={t('analytics.claimRate')}>{opt(m.claim_rate, pct)}</Kpi>
        <Kpi id="missed" raw={m.missed} label={t('analytics.missed')} sub={t('analytics.missedSub', { n: m.unanswered })}>{num(m.missed)}</Kpi>
        <Kpi id="time_to_claim" raw={m.time_to_claim_p50_s} label={t('analytics.timeToClaim')}
          sub={<>{t('analytics.p90')} {opt(m.time_to_claim_p90_s, dur)}</>}>
          <span class="kpi-pfx">{t('analytics.p50')}</span> {opt(m.time_to_claim_p50_s, dur)}
        </Kpi>
        <Kpi id="first_response" raw={m.first_response_p50_s} label={t('analytics.firstResponse')}
          sub={<>{t('analytics.p90')} {opt(m.first_response_p90_s, dur)}</>}>
          <span class="kpi-pfx">{t('analytics.p50')}</span> {opt(m.first_response_p50_s, dur)}
        </Kpi>
        <Kpi id="avg_duration" raw={m.avg_duration_s} label={t('analytics.avgDuration')}>{opt(m.avg_duration_s, dur)}</Kpi>
        <Kpi id="messages" raw={m.messages} label={t('analytics.messages')} sub={t('analytics.messagesSub', { shopper: m.messages_shopper, expert: m.messages_expert })}>{num(m.messages)}</Kpi>
        <li class="kpi kpi-wide" data-kpi="csat">
          <h3 class="kpi-label" id="kpi-csat">{t('analytics.csat')}</h3>
          <p class="kpi-value" data-value={m.csat_avg ?? ''}>{m.csat_avg == null ? <Missing t={t} /> : <>{num(m.csat_avg, 2)}<span class="kpi-unit"> / {num(5)}</span></>}</p>
          <p class="kpi-sub">{t('analytics.ratings', { n: m.csat_count })}</p>
          {m.csat_count > 0 && (
            <ul class="csat-bars" aria-label={t('analytics.csatDistribution')}>
              {[5, 4, 3, 2, 1].map((s) => (
                <li key={s}>
                  <span class="csat-score">{t('analytics.stars', { n: s })}</span>
                  <span class="csat-track" aria-hidden="true"><span class="csat-fill" style={{ inlineSize: `${(m.csat_distribution[s - 1] / csatMax) * 100}%` }} /></span>
                  <span class="csat-n">{num(m.csat_distribution[s - 1] ?? 0)}</span>
                </li>
              ))}
            </ul>
          )}
        </li>
        <Kpi id="photos" raw={m.photos ?? 0} label={t('analytics.photos')} sub={`${t('analytics.photosRemoved')}: ${num(m.photos_removed ?? 0)}`}>{num(m.photos ?? 0)}</Kpi>
        <Kpi id="video-calls" raw={m.video_calls ?? 0} label={t('analytics.videoCalls')} sub={`${t('analytics.minutesOnVideo')}: ${num(m.minutes_on_video ?? 0)}`}>{num(m.video_calls ?? 0)}</Kpi>
        <Kpi id="orders" raw={m.orders} label={t('analytics.orders')}>{num(m.orders)}</Kpi>
        <li class="kpi" data-kpi="revenue">
          <h3 class="kpi-label" id="kpi-revenue">{t('analytics.revenue')}</h3>
          {revenue.length === 0 ? <p class="kpi-value"><Missing t={t} /></p> : (
            <ul class="revenue-list">
              {revenue.map((c) => <li key={c} class="kpi-value" data-currency={c} data-value={m.revenue[c] ?? '0'}>{money(m.revenue[c] ?? '0', c)}</li>)}
            </ul>
          )}
          <p class="kpi-sub">{t('analytics.revenueSub')}</p>
        </li>
        <Kpi id="experts_available" raw={m.experts_available_avg} label={t('analytics.expertsAvailable')} sub={t('analytics.expertsAvailableSub')}>
          {opt(m.experts_available_avg, (v) => new Intl.NumberFormat(i.lang, { maximumFractionDigits: 2 }).format(v))}
        </Kpi>
      </ul>
    </section>
  );
}

// ---------- charts ----------

function Charts({ data, i }: { data: Analytics; i: I }) {
  const { t, num, money } = i;
  const [cur, setCur] = useState<string>('');
  const currency = data.currencies.includes(cur) ? cur : data.currencies[0] ?? '';
  const buckets = data.series.map((s) => s.bucket);
  const grain = grainOf(data.grain);
  const now = Date.now();
  const count = (v: number) => num(v);
  return (
    <section class="card" aria-labelledby="charts-title">
      <h2 id="charts-title">{t('analytics.overTime')}</h2>
      <div class="charts">
        <TimeChart title={t('analytics.chartChats')} buckets={buckets} grain={grain} now={now} format={count}
          emptyText={t('analytics.noChats')}
          series={[
            { key: 'requested', label: t('analytics.requested'), values: data.series.map((s) => s.metrics.requested), cls: 's1' },
            { key: 'claimed', label: t('analytics.claimed'), values: data.series.map((s) => s.metrics.claimed), cls: 's2' },
            { key: 'missed', label: t('analytics.missed'), values: data.series.map((s) => s.metrics.missed), cls: 's3' },
          ]} />
        <TimeChart title={t('analytics.chartExperts')} buckets={buckets} grain={grain} now={now} format={(v) => new Intl.NumberFormat(i.lang, { maximumFractionDigits: 2 }).format(v)}
          emptyText={t('analytics.noExperts')}
          series={[{ key: 'experts', label: t('analytics.expertsAvailable'), values: data.series.map((s) => s.metrics.experts_available_avg ?? null), cls: 's4' }]} />
        <div>
          {data.currencies.length > 1 && (
            <div class="field narrow chart-currency">
              <label for="rev-currency">{t('analytics.currency')}</label>
              <select id="rev-currency" value={currency} onChange={(e) => setCur((e.target as HTMLSelectElement).value)}>
                {data.currencies.map((c) => <option key={c} value={c}>{c}</option>)}
              </select>
            </div>
          )}
          <TimeChart title={currency ? t('analytics.chartRevenueIn', { currency }) : t('analytics.chartRevenue')} buckets={buckets} grain={grain} now={now} kind="bar"
            format={(v) => (currency ? money(v, currency) : num(v))} axisFormat={(v) => compactMoney(i.lang, v, currency)} emptyText={t('analytics.noRevenue')}
            series={[{ key: 'revenue', label: t('analytics.revenue'), values: data.series.map((s) => Number(s.metrics.revenue[currency] ?? 0)), cls: 's2' }]} />
        </div>
      </div>
    </section>
  );
}

function compactMoney(lang: string, v: number, currency: string) {
  try {
    return currency
      ? new Intl.NumberFormat(lang, { style: 'currency', currency, notation: 'compact', maximumFractionDigits: 1 }).format(v)
      : new Intl.NumberFormat(lang, { notation: 'compact' }).format(v);
  } catch { return String(v); }
}

// ---------- tables ----------

function revenueOf(m: Metrics, currencies: string[]) { return currencies.length ? Number(m.revenue[currencies[0]] ?? 0) : 0; }

function RevenueCell({ m, currencies, i }: { m: Metrics; currencies: string[]; i: I }) {
  const list = currencies.filter((c) => m.revenue[c] !== undefined && Number(m.revenue[c]) !== 0);
  if (!list.length) return <span class="muted">{currencies.length ? i.money('0', currencies[0]) : '—'}</span>;
  return <>{list.map((c, k) => <span key={c} class="nowrap">{k > 0 && <br />}{i.money(m.revenue[c], c)}</span>)}</>;
}

function metricColumns<R extends { metrics: Metrics }>(i: I, currencies: string[], withRequests: boolean): Column<R>[] {
  const { t, num, pct, dur } = i;
  const opt = (v: number | null | undefined, f: (x: number) => string) => (v == null ? <Missing t={t} /> : f(v));
  const cols: Column<R>[] = [];
  if (withRequests) {
    cols.push({ key: 'requested', label: t('analytics.requested'), numeric: true, value: (r) => r.metrics.requested, render: (r) => num(r.metrics.requested) });
  }
  cols.push({ key: 'claimed', label: t('analytics.claimed'), numeric: true, value: (r) => r.metrics.claimed, render: (r) => num(r.metrics.claimed) });
  if (withRequests) {
    cols.push({ key: 'claim_rate', label: t('analytics.claimRate'), numeric: true, value: (r) => r.metrics.claim_rate ?? null, render: (r) => opt(r.metrics.claim_rate, pct) });
    cols.push({ key: 'missed', label: t('analytics.missed'), numeric: true, value: (r) => r.metrics.missed, render: (r) => num(r.metrics.missed) });
  } else {
    cols.push({ key: 'transferred', label: t('analytics.transferred'), numeric: true, hideSm: true, hideMd: true, value: (r) => r.metrics.transferred, render: (r) => num(r.metrics.transferred) });
  }
  cols.push(
    { key: 'ttc', label: t('analytics.timeToClaim'), numeric: true, hideSm: true, hideMd: withRequests, value: (r) => r.metrics.time_to_claim_p50_s ?? null, render: (r) => opt(r.metrics.time_to_claim_p50_s, dur) },
    { key: 'frt', label: t('analytics.firstResponse'), numeric: true, hideSm: true, hideMd: withRequests, value: (r) => r.metrics.first_response_p50_s ?? null, render: (r) => opt(r.metrics.first_response_p50_s, dur) },
  );
  if (!withRequests) {
    cols.push(
      { key: 'duration', label: t('analytics.avgDuration'), numeric: true, hideSm: true, hideMd: true, value: (r) => r.metrics.avg_duration_s ?? null, render: (r) => opt(r.metrics.avg_duration_s, dur) },
      { key: 'messages', label: t('analytics.messages'), numeric: true, hideSm: true, hideMd: true, value: (r) => r.metrics.messages, render: (r) => num(r.metrics.messages) },
    );
  }
  cols.push(
    { key: 'csat', label: t('analytics.csatShort'), numeric: true, value: (r) => r.metrics.csat_avg ?? null,
      render: (r) => r.metrics.csat_avg == null ? <Missing t={t} /> : <>{num(r.metrics.csat_avg, 2)} <span class="muted small">({num(r.metrics.csat_count)})</span></> },
    { key: 'orders', label: t('analytics.orders'), numeric: true, value: (r) => r.metrics.orders, render: (r) => num(r.metrics.orders) },
    { key: 'revenue', label: t('analytics.revenue'), numeric: true, value: (r) => revenueOf(r.metrics, currencies), render: (r) => <RevenueCell m={r.metrics} currencies={currencies} i={i} /> },
  );
  return cols;
}

function ExpertTable({ data, i }: { data: Analytics; i: I }) {
  const { t } = i;
  type R = Analytics['experts'][number];
  const columns: Column<R>[] = [
    { key: 'name', label: t('analytics.expert'), value: (r) => r.name },
    ...metricColumns<R>(i, data.currencies, false),
  ];
  return (
    <section class="card" aria-labelledby="experts-title">
      <h2 id="experts-title">{t('analytics.perExpert')}</h2>
      {data.experts.length === 0 ? <p class="muted">{t('analytics.noExpertActivity')}</p> : (
        <SortableTable rows={data.experts} columns={columns} rowKey={(r) => r.expert_id} caption={t('analytics.perExpert')}
          initial={{ key: 'claimed', dir: 'descending' }} />
      )}
      {data.experts.length > 0 && <p class="hint">{t('analytics.mediansNote')}</p>}
    </section>
  );
}

function StoreTable({ data, i }: { data: Analytics; i: I }) {
  const { t } = i;
  type R = Analytics['stores'][number];
  const columns: Column<R>[] = [
    { key: 'name', label: t('analytics.store'), value: (r) => r.name },
    ...metricColumns<R>(i, data.currencies, true),
  ];
  return (
    <section class="card" aria-labelledby="stores-title">
      <h2 id="stores-title">{t('analytics.perStore')}</h2>
      {data.stores.length === 0 ? <p class="muted">{t('analytics.noStoreActivity')}</p> : (
        <SortableTable rows={data.stores} columns={columns} rowKey={(r) => r.store_id} caption={t('analytics.perStore')}
          initial={{ key: 'requested', dir: 'descending' }} />
      )}
      {data.stores.length > 0 && <p class="hint">{t('analytics.mediansNote')}</p>}
    </section>
  );
}

