import { useEffect, useRef, useState } from 'preact/hooks';
import { apiError, apiUrl, type Account } from '../api';
import { useI18n } from '../i18n';
import { href, replaceRoute, withQuery } from '../router';
import { CopyButton, PageHeader, errorMessage } from '../components/ui';
import { Icon } from '../components/icons';
import { apiParams, FilterBar, filtersFromQuery, filtersToQuery, useFilterOptions, type Filters } from '../components/filters';

export type ExportKind = 'metrics' | 'conversations' | 'transcripts';
const KINDS: ExportKind[] = ['metrics', 'conversations', 'transcripts'];
const GRAINS = ['day', 'hour'] as const;
const BYS = ['merchant', 'store', 'department', 'expert'] as const;
type ExportGrain = typeof GRAINS[number];
type By = typeof BYS[number];

/**
 * Counts CSV records (RFC 4180) in text that arrives in pieces: a line break inside a quoted
 * field (a transcript message, say) does not end a record.
 */
export class CsvRecordCounter {
  records = 0;
  private quoted = false;
  private pendingCR = false;
  private partial = false;
  feed(text: string) {
    for (let k = 0; k < text.length; k++) {
      const c = text.charCodeAt(k);
      if (this.pendingCR) { this.pendingCR = false; if (c === 10) continue; }
      if (c === 34) { this.quoted = !this.quoted; this.partial = true; }
      else if (!this.quoted && (c === 10 || c === 13)) {
        this.records++; this.partial = false;
        if (c === 13) this.pendingCR = true;
      } else this.partial = true;
    }
  }
  /** Records including a last one without a final line break. */
  total() { return this.records + (this.partial ? 1 : 0); }
}

/** The file name from Content-Disposition (filename* first), else a fallback. */
export function dispositionFilename(h: string | null, fallback: string): string {
  if (!h) return fallback;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(h);
  if (star) { try { return decodeURIComponent(star[1].trim()); } catch { /* fall through */ } }
  const plain = /filename\s*=\s*"([^"]*)"/.exec(h) ?? /filename\s*=\s*([^;]+)/.exec(h);
  return plain ? plain[1].trim() : fallback;
}

type Run =
  | { state: 'idle' }
  | { state: 'running'; rows: number; total: number | null; bytes: number }
  | { state: 'done'; rows: number; total: number | null; bytes: number; filename: string; blob: Blob }
  | { state: 'cancelled'; rows: number; total: number | null }
  | { state: 'error'; message: string };

function save(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function ExportsPage({ query, account }: { query: URLSearchParams; account: Account }) {
  const { t, lang } = useI18n();
  const filters = filtersFromQuery(query, '7d');
  const kind: ExportKind = (KINDS as string[]).includes(query.get('kind') ?? '') ? (query.get('kind') as ExportKind) : 'metrics';
  const grain: ExportGrain = query.get('grain') === 'hour' ? 'hour' : 'day';
  const by: By = (BYS as readonly string[]).includes(query.get('by') ?? '') ? (query.get('by') as By) : 'merchant';
  const go = (patch: { kind?: ExportKind; grain?: ExportGrain; by?: By; filters?: Filters }) => {
    const k = patch.kind ?? kind;
    const f = patch.filters ?? filters;
    replaceRoute(withQuery('/exports', {
      kind: k, ...(k === 'metrics' ? { grain: patch.grain ?? grain, by: patch.by ?? by } : {}), ...filtersToQuery(f),
    }));
  };
  const opts = useFilterOptions(account);

  const params = apiParams(filters);
  if (params && kind === 'metrics') { params.set('grain', grain); params.set('by', by); }
  const path = `exports/${kind}.csv` + (params ? '?' + params.toString() : '');

  const [run, setRun] = useState<Run>({ state: 'idle' });
  const [said, setSaid] = useState('');
  const ctrl = useRef<AbortController | null>(null);
  useEffect(() => () => ctrl.current?.abort(), []);
  // A new choice starts afresh.
  useEffect(() => { if (run.state !== 'running') setRun({ state: 'idle' }); }, [path]);

  const start = async () => {
    if (!params) return;
    ctrl.current?.abort();
    const c = new AbortController();
    ctrl.current = c;
    setRun({ state: 'running', rows: 0, total: null, bytes: 0 });
    setSaid(t('exports.started'));
    let rows = 0, total: number | null = null, bytes = 0;
    try {
      const res = await fetch(apiUrl(path), { credentials: 'same-origin', headers: { Accept: 'text/csv' }, signal: c.signal });
      if (!res.ok) throw await apiError(res);
      const rc = res.headers.get('x-row-count');
      total = rc !== null && /^\d+$/.test(rc.trim()) ? Number(rc) : null;
      const filename = dispositionFilename(res.headers.get('content-disposition'), `floorwalker-${kind}.csv`);
      const chunks: Uint8Array[] = [];
      const counter = new CsvRecordCounter();
      const decoder = new TextDecoder('utf-8');
      let shownAt = 0;
      const show = () => setRun({ state: 'running', rows, total, bytes });
      show();
      if (res.body) {
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          chunks.push(value);
          bytes += value.byteLength;
          counter.feed(decoder.decode(value, { stream: true }));
          rows = Math.max(0, counter.records - 1); // the header row is not data
          if (Date.now() - shownAt > 80) { shownAt = Date.now(); show(); }
        }
      } else {
        const buf = new Uint8Array(await res.arrayBuffer());
        chunks.push(buf);
        bytes = buf.byteLength;
      }
      counter.feed(decoder.decode());
      rows = Math.max(0, counter.total() - 1);
      const blob = new Blob(chunks as BlobPart[], { type: 'text/csv;charset=utf-8' });
      setRun({ state: 'done', rows, total, bytes, filename, blob });
      setSaid(t('exports.doneRows', { n: rows, file: filename }));
      save(blob, filename);
    } catch (e) {
      if (c.signal.aborted) {
        setRun({ state: 'cancelled', rows, total });
        setSaid(t('exports.cancelled'));
      } else {
        const message = e instanceof Error && !('status' in e) ? t('error.network') : errorMessage(t, e);
        setRun({ state: 'error', message });
        setSaid(message);
      }
    } finally {
      if (ctrl.current === c) ctrl.current = null;
    }
  };
  const cancel = () => ctrl.current?.abort();

  const curl = params
    ? `curl -fS -H "Authorization: Bearer $FLOORWALKER_API_KEY" -o floorwalker-${kind}.csv \\\n  "${location.origin}${apiUrl(path)}"`
    : '';
  const kb = (b: number) => new Intl.NumberFormat(lang, { style: 'unit', unit: b >= 1_048_576 ? 'megabyte' : 'kilobyte', maximumFractionDigits: 1 })
    .format(b >= 1_048_576 ? b / 1_048_576 : b / 1024);

  return (
    <>
      <PageHeader title={t('module.exports')} lead={t('exports.lead')} />
      <form class="card stack export-form" noValidate onSubmit={(e) => { e.preventDefault(); void start(); }} aria-labelledby="export-what">
        <fieldset class="fieldset">
          <legend id="export-what">{t('exports.what')}</legend>
          <div class="kind-cards">
            {KINDS.map((k) => (
              <label key={k} class={'kind-card' + (kind === k ? ' on' : '')}>
                <input type="radio" name="export-kind" value={k} checked={kind === k} aria-describedby={'kind-' + k + '-hint'} onChange={() => go({ kind: k })} />
                <span class="kind-text">
                  <span class="strong">{t('exports.kind.' + k)}</span>
                  <span class="hint" id={'kind-' + k + '-hint'}>{t('exports.kind.' + k + 'Hint')}</span>
                </span>
              </label>
            ))}
          </div>
        </fieldset>
        <FilterBar value={filters} onChange={(f) => go({ filters: f })} stores={opts.stores} experts={opts.experts} idPrefix="ex">
          {kind === 'metrics' && (
            <>
              <div class="field">
                <label for="ex-grain">{t('exports.grain')}</label>
                <select id="ex-grain" value={grain} onChange={(e) => go({ grain: (e.target as HTMLSelectElement).value as ExportGrain })}>
                  {GRAINS.map((g) => <option key={g} value={g}>{t('exports.grain.' + g)}</option>)}
                </select>
              </div>
              <div class="field">
                <label for="ex-by">{t('exports.by')}</label>
                <select id="ex-by" value={by} onChange={(e) => go({ by: (e.target as HTMLSelectElement).value as By })}>
                  {BYS.map((b) => <option key={b} value={b}>{t('exports.by.' + b)}</option>)}
                </select>
              </div>
            </>
          )}
        </FilterBar>
        <div class="form-actions">
          <button type="submit" class="btn btn-primary" disabled={!params || run.state === 'running'}>
            <Icon name="download" size={18} />{t('exports.download')}
          </button>
          {run.state === 'running' && <button type="button" class="btn btn-secondary" onClick={cancel}>{t('exports.cancel')}</button>}
          {run.state === 'done' && (
            <button type="button" class="btn btn-ghost" onClick={() => save(run.blob, run.filename)}>{t('exports.saveAgain')}</button>
          )}
        </div>
        {run.state !== 'idle' && (
          <div class={'export-progress state-' + run.state}>
            {run.state === 'error' ? (
              <div class="alert alert-error"><Icon name="alert" /><p class="alert-title">{run.message}</p></div>
            ) : (
              <>
                <label for="export-bar" class="progress-label">
                  {run.state === 'running' ? t('exports.downloading') : run.state === 'done' ? t('exports.done') : t('exports.cancelled')}
                </label>
                {run.total !== null && run.total > 0
                  ? <progress id="export-bar" max={run.total} value={Math.min(run.rows, run.total)} />
                  : run.state === 'running' ? <progress id="export-bar" /> : <progress id="export-bar" max={1} value={run.state === 'done' ? 1 : 0} />}
                <p class="progress-text" data-rows={run.rows} data-total={run.total ?? ''}>
                  {run.total !== null ? t('exports.rowsOf', { n: run.rows, total: run.total }) : t('exports.rows', { n: run.rows })}
                  {run.state !== 'cancelled' && 'bytes' in run && run.bytes > 0 ? <> · <bdi>{kb(run.bytes)}</bdi></> : ''}
                </p>
                {run.state === 'done' && <p class="progress-file"><bdi class="mono" dir="ltr">{run.filename}</bdi></p>}
                {run.state === 'done' && run.total !== null && run.total !== run.rows && (
                  <p class="field-error"><Icon name="alert" size={16} />{t('exports.mismatch', { n: run.rows, total: run.total })}</p>
                )}
              </>
            )}
          </div>
        )}
        <p class="visually-hidden" role="status">{said}</p>
      </form>
      <section class="card" aria-labelledby="curl-title">
        <h2 id="curl-title">{t('exports.apiTitle')}</h2>
        <p class="hint">{t('exports.apiHint')}{' '}
          {account.modules.includes('integrations') && <a href={href('/integrations')}>{t('exports.apiKeysLink')}</a>}
        </p>
        {curl ? (
          <div class="code-block">
            <pre dir="ltr" tabIndex={0} aria-label={t('exports.curlLabel')}><code>{curl}</code></pre>
            <CopyButton text={curl.replace(/\\\n\s+/g, '')} class="btn btn-secondary btn-small" />
          </div>
        ) : <p class="muted">{t('exports.fixRange')}</p>}
        <p class="hint">{t('exports.formatHint')}</p>
      </section>
    </>
  );
}
