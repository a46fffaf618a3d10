// Date range + store / department / expert filters, shared by Analytics and Exports. The state
// lives in the URL hash (`#/analytics?range=7d&store=…`) so a view can be bookmarked and shared.
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, fetchAll, type Account, type Expert, type Store, type WidgetConfig } from '../api';
import { useI18n } from '../i18n';

export type Preset = 'today' | '7d' | '30d' | 'custom';
export const PRESETS: Preset[] = ['today', '7d', '30d', 'custom'];
export const MAX_RANGE_DAYS = 400;

export interface Filters { range: Preset; from: string; to: string; store: string; dept: string; expert: string }

const DAY = 86_400_000;

// Days are calendar dates in the merchant's report time zone (the session's `time_zone`): the
// server cuts days and hours there, so "today" is the merchant's today wherever the viewer is.
// Dates are kept as UTC midnights (pure calendar arithmetic, no clock changes in between).
let reportZone: string | undefined;
export function setReportZone(z: string | null | undefined) {
  try { new Intl.DateTimeFormat('en', { timeZone: z || undefined }); reportZone = z || undefined; } catch { reportZone = undefined; }
}
/** The IANA zone figures are shown in (undefined: the browser's own). */
export function getReportZone(): string | undefined { return reportZone; }

/** YYYY-MM-DD of a calendar date (a UTC midnight). */
export function isoDay(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}`;
}
function parseDay(s: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return isNaN(d.getTime()) ? null : d;
}
function addDays(d: Date, n: number) { return new Date(d.getTime() + n * DAY); }
/** Today's date in the report zone, as a UTC midnight. */
export function todayIn(now = new Date()): Date {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: reportZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  return parseDay(parts) ?? new Date(Date.UTC(now.getFullYear(), now.getMonth(), now.getDate()));
}

export function filtersFromQuery(q: URLSearchParams, fallback: Preset = '7d'): Filters {
  const r = q.get('range');
  const range = (PRESETS as string[]).includes(r ?? '') ? (r as Preset) : fallback;
  const today = isoDay(todayIn());
  return {
    range,
    from: q.get('from') ?? (range === 'custom' ? isoDay(addDays(todayIn(), -6)) : ''),
    to: q.get('to') ?? (range === 'custom' ? today : ''),
    store: q.get('store') ?? '',
    dept: q.get('dept') ?? '',
    expert: q.get('expert') ?? '',
  };
}

export function filtersToQuery(f: Filters): Record<string, string> {
  const q: Record<string, string> = { range: f.range };
  if (f.range === 'custom') { q.from = f.from; q.to = f.to; }
  if (f.store) q.store = f.store;
  if (f.dept) q.dept = f.dept;
  if (f.expert) q.expert = f.expert;
  return q;
}

/**
 * The calendar days of the filters, first and last (inclusive), as UTC midnights: whole days in
 * the report zone. An error when a custom range is not valid.
 */
export function rangeOf(f: Filters, now = new Date()): { from: number; to: number } | { error: 'order' | 'missing' | 'tooLong' } {
  const today = todayIn(now);
  const end = addDays(today, 1);
  if (f.range === 'today') return { from: today.getTime(), to: end.getTime() };
  if (f.range === '7d') return { from: addDays(today, -6).getTime(), to: end.getTime() };
  if (f.range === '30d') return { from: addDays(today, -29).getTime(), to: end.getTime() };
  const a = parseDay(f.from), b = parseDay(f.to);
  if (!a || !b) return { error: 'missing' };
  if (a > b) return { error: 'order' };
  const to = addDays(b, 1);
  if ((to.getTime() - a.getTime()) / DAY > MAX_RANGE_DAYS) return { error: 'tooLong' };
  return { from: a.getTime(), to: to.getTime() };
}

/**
 * API query parameters for the filters: `from`/`to` as dates (the server starts each at midnight
 * in `tz`, `to` exclusive), the zone, the ids; null when the range is invalid.
 */
export function apiParams(f: Filters): URLSearchParams | null {
  const r = rangeOf(f);
  if ('error' in r) return null;
  const p = new URLSearchParams({ from: isoDay(new Date(r.from)), to: isoDay(new Date(r.to)) });
  if (reportZone) p.set('tz', reportZone);
  if (f.store) p.set('store_id', f.store);
  if (f.dept) p.set('department_id', f.dept);
  if (f.expert) p.set('expert_id', f.expert);
  return p;
}

export interface Option { id: string; name: string }
export interface StoreOption extends Option { departments: Option[] }

/**
 * The stores, departments and experts to filter by. An account may lack the Stores or Team
 * module, so this falls back to the merchant's public widget config (stores and departments) and
 * to the experts that the analytics answer names.
 */
export function useFilterOptions(account: Account, extraExperts: Option[] = []) {
  const [stores, setStores] = useState<StoreOption[]>([]);
  const [experts, setExperts] = useState<Option[]>([]);
  useEffect(() => {
    let live = true;
    const loadStores = account.modules.includes('stores')
      ? fetchAll<Store>('stores').then((ss) => ss.map((s) => ({ id: s.id, name: s.name, departments: s.departments.map((d) => ({ id: d.id, name: d.name })) })))
      : account.merchant_id
        ? api.get<WidgetConfig>('public/widget-config?merchant=' + encodeURIComponent(account.merchant_id))
          .then((c) => c.stores.map((s) => ({ id: s.id, name: s.name, departments: s.departments.map((d) => ({ id: d.id, name: d.name })) })))
        : Promise.resolve([]);
    loadStores.then((s) => { if (live) setStores(s); }, () => { /* filters still work by id */ });
    if (account.modules.includes('team')) {
      fetchAll<Expert>('team/experts').then(
        (es) => { if (live) setExperts(es.filter((e) => e.status !== 'pending').map((e) => ({ id: e.id, name: e.name }))); },
        () => { /* fall back to the experts in the answer */ });
    }
    return () => { live = false; };
  }, [account.id]);
  const allExperts = useMemo(() => {
    const byId = new Map<string, Option>();
    for (const e of [...experts, ...extraExperts]) if (!byId.has(e.id)) byId.set(e.id, e);
    return [...byId.values()].sort((a, b) => a.name.localeCompare(b.name));
  }, [experts, extraExperts]);
  return { stores, experts: allExperts };
}

export function FilterBar({ value, onChange, stores, experts, idPrefix, children }: {
  value: Filters; onChange: (f: Filters) => void; stores: StoreOption[]; experts: Option[]; idPrefix: string;
  children?: ComponentChildren;
}) {
  const { t, lang } = useI18n();
  const f = value;
  const set = (patch: Partial<Filters>) => onChange({ ...f, ...patch });
  const range = rangeOf(f);
  const err = 'error' in range ? range.error : null;
  const store = stores.find((s) => s.id === f.store);
  const fmt = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeZone: 'UTC' });
  const shown = 'error' in range ? '' : `${fmt.format(new Date(range.from))} – ${fmt.format(new Date(range.to - 1))}`;
  // Keep an id that is not among the options visible (e.g. an expert with no activity yet).
  const storeOpts = f.store && !store ? [...stores, { id: f.store, name: f.store, departments: [] }] : stores;
  const deptOpts = store ? store.departments.map((d) => ({ ...d, group: '' }))
    : stores.flatMap((s) => s.departments.map((d) => ({ ...d, group: s.name })));
  const expertOpts = f.expert && !experts.some((e) => e.id === f.expert) ? [...experts, { id: f.expert, name: f.expert }] : experts;
  return (
    <div class="filter-bar" role="group" aria-label={t('filters.label')}>
      <fieldset class="fieldset range-field">
        <legend>{t('filters.range')}</legend>
        <div class="seg-radios">
          {PRESETS.map((p) => (
            <label key={p} class={'seg-radio' + (f.range === p ? ' on' : '')}>
              <input type="radio" name={idPrefix + '-range'} value={p} checked={f.range === p}
                onChange={() => set(p === 'custom' && !f.from ? { range: p, from: isoDay(addDays(todayIn(), -6)), to: isoDay(todayIn()) } : { range: p })} />
              <span>{t(('filters.preset.' + p) as 'filters.preset.today')}</span>
            </label>
          ))}
        </div>
        {f.range !== 'custom' && shown && <p class="hint range-shown">{shown}</p>}
      </fieldset>
      {f.range === 'custom' && (
        <div class="custom-range">
          <div class="field">
            <label for={idPrefix + '-from'}>{t('filters.from')}</label>
            <input type="date" id={idPrefix + '-from'} value={f.from} max={f.to || undefined} aria-invalid={err ? true : undefined}
              aria-describedby={err ? idPrefix + '-range-error' : undefined} onChange={(e) => set({ from: (e.target as HTMLInputElement).value })} />
          </div>
          <div class="field">
            <label for={idPrefix + '-to'}>{t('filters.to')}</label>
            <input type="date" id={idPrefix + '-to'} value={f.to} min={f.from || undefined} aria-invalid={err ? true : undefined}
              aria-describedby={err ? idPrefix + '-range-error' : undefined} onChange={(e) => set({ to: (e.target as HTMLInputElement).value })} />
          </div>
          {err && <p class="field-error" id={idPrefix + '-range-error'} role="alert">{t(('filters.error.' + err) as 'filters.error.order', { n: MAX_RANGE_DAYS })}</p>}
        </div>
      )}
      <div class="filter-selects">
        <div class="field">
          <label for={idPrefix + '-store'}>{t('filters.store')}</label>
          <select id={idPrefix + '-store'} value={f.store} onChange={(e) => {
            const v = (e.target as HTMLSelectElement).value;
            const s = stores.find((x) => x.id === v);
            set({ store: v, dept: s && f.dept && !s.departments.some((d) => d.id === f.dept) ? '' : f.dept });
          }}>
            <option value="">{t('filters.allStores')}</option>
            {storeOpts.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
          </select>
        </div>
        <div class="field">
          <label for={idPrefix + '-dept'}>{t('filters.department')}</label>
          <select id={idPrefix + '-dept'} value={f.dept} onChange={(e) => set({ dept: (e.target as HTMLSelectElement).value })}>
            <option value="">{t('filters.allDepartments')}</option>
            {store ? deptOpts.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)
              : stores.map((s) => s.departments.length > 0 && (
                <optgroup key={s.id} label={s.name}>
                  {s.departments.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
                </optgroup>
              ))}
            {f.dept && !deptOpts.some((d) => d.id === f.dept) && <option value={f.dept}>{f.dept}</option>}
          </select>
        </div>
        <div class="field">
          <label for={idPrefix + '-expert'}>{t('filters.expert')}</label>
          <select id={idPrefix + '-expert'} value={f.expert} onChange={(e) => set({ expert: (e.target as HTMLSelectElement).value })}>
            <option value="">{t('filters.allExperts')}</option>
            {expertOpts.map((x) => <option key={x.id} value={x.id}>{x.name}</option>)}
          </select>
        </div>
        {children}
      </div>
    </div>
  );
}
