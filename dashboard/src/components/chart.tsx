// A small time-series chart drawn as inline SVG: lines or bars over zero-filled buckets, a legend,
// a pointer read-out, a text summary for screen readers and a table view of the same numbers.
// In right-to-left languages time runs from right to left.
import { useEffect, useId, useMemo, useRef, useState } from 'preact/hooks';
import type { Grain } from '../api';
import { useI18n } from '../i18n';
import { getReportZone } from './filters';

export interface Series { key: string; label: string; values: (number | null)[]; cls: string }

const HEIGHT = 220;
const M = { top: 12, bottom: 30, start: 48, end: 14 };

/** A "nice" axis maximum and step for values up to `max`. */
export function niceScale(max: number, ticks = 4): { max: number; step: number } {
  if (!(max > 0)) return { max: 1, step: 1 };
  const raw = max / ticks;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  return { max: Math.ceil(max / step) * step, step };
}

/**
 * Which buckets get an axis label: aligned to round local times (every n minutes or hours, or
 * midnights over several days), as many as fit in `max`.
 */
export function tickIndices(buckets: number[], grain: Grain, max: number): number[] {
  const n = buckets.length;
  if (!n) return [];
  if (grain === 'day') {
    const every = Math.max(1, Math.ceil(n / Math.max(1, max)));
    return buckets.map((_, i) => i).filter((i) => i % every === 0);
  }
  const span = buckets[n - 1] - buckets[0];
  const minutes = minutesInZone;
  if (grain === 'hour' && span > 86_400_000) {
    const midnights = buckets.map((b, i) => (minutes(b) === 0 ? i : -1)).filter((i) => i >= 0);
    const every = Math.max(1, Math.ceil(midnights.length / Math.max(1, max)));
    return midnights.filter((_, k) => k % every === 0);
  }
  const steps = grain === 'minute' ? [5, 10, 15, 30, 60, 120, 180, 360] : [60, 120, 180, 240, 360, 720, 1440];
  for (const step of steps) {
    const idx = buckets.map((b, i) => (minutes(b) % step === 0 ? i : -1)).filter((i) => i >= 0);
    if (idx.length <= max) return idx;
  }
  return [0];
}

/** Minutes past local midnight in the report's time zone (the merchant's, as the server cut it). */
function minutesInZone(b: number): number {
  const parts = zoneClock().formatToParts(new Date(b));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return (get('hour') % 24) * 60 + get('minute');
}
let clockFmt: { zone: string | undefined; f: Intl.DateTimeFormat } | null = null;
function zoneClock(): Intl.DateTimeFormat {
  const zone = getReportZone();
  if (!clockFmt || clockFmt.zone !== zone) clockFmt = { zone, f: new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: zone }) };
  return clockFmt.f;
}

/** Formats a bucket start for the grain, in the report's time zone (days start at its midnight). */
export function useBucketLabel(grain: Grain, spanMs: number) {
  const { lang } = useI18n();
  const timeZone = getReportZone();
  return useMemo(() => {
    const long = grain === 'day'
      ? new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeZone })
      : new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone });
    // Axis labels: dates for day buckets and for hour buckets over several days (ticks at midnight).
    const short = grain === 'day'
      ? new Intl.DateTimeFormat(lang, { month: 'short', day: 'numeric', timeZone })
      : spanMs > 86_400_000
        ? new Intl.DateTimeFormat(lang, { weekday: 'short', day: 'numeric', timeZone })
        : new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', timeZone });
    return { long: (ms: number) => long.format(new Date(ms)), short: (ms: number) => short.format(new Date(ms)) };
  }, [grain, spanMs, lang, timeZone]);
}

export function TimeChart({ title, buckets, grain, series, format, axisFormat, kind = 'line', now, emptyText }: {
  title: string; buckets: number[]; grain: Grain; series: Series[]; format: (v: number) => string; axisFormat?: (v: number) => string;
  kind?: 'line' | 'bar'; now?: number; emptyText: string;
}) {
  const { t, lang } = useI18n();
  const rtl = lang === 'fa';
  const uid = useId();
  const wrap = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(640);
  const [showTable, setShowTable] = useState(false);
  const [hover, setHover] = useState<number | null>(null);
  useEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const measure = () => setWidth(Math.max(260, Math.floor(el.clientWidth)));
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const span = buckets.length > 1 ? buckets[buckets.length - 1] - buckets[0] : 0;
  const label = useBucketLabel(grain, span);
  // Buckets that have not started yet are not drawn (they are zero by definition, not "no chats").
  const shown = now === undefined ? buckets.length : Math.max(1, buckets.filter((b) => b <= now).length);
  const all = series.flatMap((s) => s.values.slice(0, shown).filter((v): v is number => v !== null));
  const hasData = all.some((v) => v > 0);
  const { max, step } = niceScale(Math.max(0, ...all));
  const n = Math.max(1, buckets.length);
  const plotW = width - M.start - M.end;
  const band = plotW / n;
  const x = (i: number) => { const v = M.start + (i + 0.5) * band; return rtl ? width - v : v; };
  const y = (v: number) => M.top + (HEIGHT - M.top - M.bottom) * (1 - v / max);
  const ticks: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) ticks.push(v);
  // Axis labels must tell the ticks apart: with a fractional step (0.05, 0.25…) the series'
  // formatter may round two ticks to the same text, so then show as many decimals as the step has.
  const chosen = axisFormat ?? format;
  const distinct = new Set(ticks.map((v) => chosen(v))).size === ticks.length;
  const decimals = step >= 1 ? 0 : Math.min(4, Math.ceil(-Math.log10(step) - 1e-9) + (Number((step * 10 ** Math.ceil(-Math.log10(step) - 1e-9)).toFixed(6)) % 1 ? 1 : 0));
  const tickFormat = distinct
    ? chosen
    : ((f) => (v: number) => f.format(v))(new Intl.NumberFormat(document.documentElement.lang || undefined, { maximumFractionDigits: decimals }));
  const ticksX = new Set(tickIndices(buckets, grain, Math.max(2, Math.floor(plotW / 84))));

  const summary = series.map((s) => {
    const vals = s.values.slice(0, shown);
    let peak = -1, at = -1;
    vals.forEach((v, i) => { if (v !== null && v > peak) { peak = v; at = i; } });
    return peak > 0 ? t('chart.peak', { series: s.label, value: format(peak), at: label.long(buckets[at]) }) : t('chart.none', { series: s.label });
  }).join(' ');

  const onMove = (e: PointerEvent) => {
    const r = (e.currentTarget as SVGElement).getBoundingClientRect();
    let px = ((e.clientX - r.left) / r.width) * width;
    if (rtl) px = width - px;
    const i = Math.floor((px - M.start) / band);
    setHover(i >= 0 && i < shown ? i : null);
  };

  const tableId = uid + '-table';
  return (
    <figure class="chart">
      <div class="chart-head">
        <figcaption class="chart-title" id={uid + '-title'}>{title}</figcaption>
        <button type="button" class="btn btn-ghost btn-small" aria-expanded={showTable} aria-controls={tableId} onClick={() => setShowTable(!showTable)}>
          {showTable ? t('chart.hideTable') : t('chart.showTable')}
        </button>
      </div>
      <ul class="legend" aria-hidden="true">
        {series.map((s) => (
          <li key={s.key}><svg width="26" height="10" class="legend-swatch"><line x1="1" x2="25" y1="5" y2="5" class={'ln ' + s.cls} /></svg>{s.label}</li>
        ))}
      </ul>
      <div class="chart-plot" ref={wrap}>
        {!hasData ? <p class="chart-empty muted">{emptyText}</p> : (
          <svg width={width} height={HEIGHT} viewBox={`0 0 ${width} ${HEIGHT}`} role="img" aria-labelledby={uid + '-title ' + uid + '-desc'}
            direction="ltr" onPointerMove={onMove} onPointerLeave={() => setHover(null)}>
            <desc id={uid + '-desc'}>{summary}</desc>
            {ticks.map((v) => (
              <g key={v} class="tick">
                <line x1={M.start} x2={width - M.end} y1={y(v)} y2={y(v)} class="grid" transform={rtl ? `translate(${M.end - M.start} 0)` : undefined} />
                <text x={rtl ? width - M.start + 6 : M.start - 6} y={y(v)} dy="0.32em" text-anchor={rtl ? 'start' : 'end'}>{tickFormat(v)}</text>
              </g>
            ))}
            {buckets.map((b, i) => (ticksX.has(i) ? (
              <text key={b} class="xlabel" x={x(i)} y={HEIGHT - 8} text-anchor="middle">{label.short(b)}</text>
            ) : null))}
            {kind === 'bar' ? series.map((s, si) => (
              <g key={s.key} class={'bars ' + s.cls}>
                {s.values.slice(0, shown).map((v, i) => v ? (
                  <rect key={i} x={x(i) - (band * 0.7) / 2 + (si * band * 0.7) / series.length} width={Math.max(1, (band * 0.7) / series.length)}
                    y={y(v)} height={Math.max(0, y(0) - y(v))} />
                ) : null)}
              </g>
            )) : series.map((s) => {
              const pts = s.values.slice(0, shown).map((v, i) => (v === null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`));
              // Gaps (null) split the line.
              const runs: string[][] = [[]];
              for (const p of pts) { if (p) runs[runs.length - 1].push(p); else if (runs[runs.length - 1].length) runs.push([]); }
              return (
                <g key={s.key} class={'ln ' + s.cls}>
                  {runs.filter((r) => r.length).map((r, k) => r.length === 1
                    ? <circle key={k} cx={r[0].split(',')[0]} cy={r[0].split(',')[1]} r="2.5" class="dot" />
                    : <polyline key={k} points={r.join(' ')} fill="none" />)}
                </g>
              );
            })}
            <line x1={M.start} x2={width - M.end} y1={y(0)} y2={y(0)} class="axis" transform={rtl ? `translate(${M.end - M.start} 0)` : undefined} />
            {hover !== null && (
              <g class="hover">
                <line x1={x(hover)} x2={x(hover)} y1={M.top} y2={y(0)} />
                {kind === 'line' && series.map((s) => s.values[hover] !== null
                  ? <circle key={s.key} cx={x(hover)} cy={y(s.values[hover] as number)} r="3.5" class={'ln dot ' + s.cls} /> : null)}
              </g>
            )}
          </svg>
        )}
        {hasData && hover !== null && (
          <div class="chart-tip" aria-hidden="true" style={{ insetInlineStart: `${Math.min(width - 170, Math.max(0, (rtl ? width - x(hover) : x(hover)) + 12))}px` }}>
            <strong>{label.long(buckets[hover])}</strong>
            {series.map((s) => <span key={s.key}>{s.label}: {s.values[hover] === null ? '—' : format(s.values[hover] as number)}</span>)}
          </div>
        )}
      </div>
      <div id={tableId} hidden={!showTable} class="table-wrap chart-table">
        {showTable && (
          <table class="table compact">
            <caption class="visually-hidden">{title}</caption>
            <thead><tr>
              <th scope="col">{t('chart.period')}</th>
              {series.map((s) => <th scope="col" key={s.key} class="num">{s.label}</th>)}
            </tr></thead>
            <tbody>
              {buckets.slice(0, shown).map((b, i) => (
                <tr key={b}>
                  <th scope="row" class="nowrap">{label.long(b)}</th>
                  {series.map((s) => <td key={s.key} class="num">{s.values[i] === null ? '—' : format(s.values[i] as number)}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </figure>
  );
}
