// The log of API calls made with the merchant's keys (Integrations page), newest first.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type ApiCall, type ApiKey, type Page } from '../api';
import { useI18n } from '../i18n';
import { Badge, LoadError, Loading } from '../components/ui';

const RANGES = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
type Range = keyof typeof RANGES;
const STATUSES = ['', '2xx', '4xx', '5xx'] as const;

function statusKind(s: number): 'ok' | 'warn' | 'danger' | 'muted' {
  return s >= 500 ? 'danger' : s >= 400 ? 'warn' : s >= 200 && s < 300 ? 'ok' : 'muted';
}

export function ApiCallLog({ keys }: { keys: ApiKey[] }) {
  const { t, dateTime, num } = useI18n();
  const [range, setRange] = useState<Range>('24h');
  const [status, setStatus] = useState<string>('');
  const [pathInput, setPathInput] = useState('');
  const [path, setPath] = useState('');
  const [key, setKey] = useState('');
  const [items, setItems] = useState<ApiCall[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const seq = useRef(0);

  // The path filter applies after a short pause in typing.
  useEffect(() => {
    const h = setTimeout(() => setPath(pathInput.trim()), 350);
    return () => clearTimeout(h);
  }, [pathInput]);

  const query = (from: string | null) => {
    const q = new URLSearchParams({ from: String(Date.now() - RANGES[range]), limit: '50' });
    if (status) q.set('status', status);
    if (path) q.set('path', path);
    if (key) q.set('api_key_id', key);
    if (from) q.set('cursor', from);
    return q.toString();
  };
  const load = async (from: string | null) => {
    const n = ++seq.current;
    setBusy(true);
    try {
      const p = await api.get<Page<ApiCall>>('api-keys/calls?' + query(from));
      if (n !== seq.current) return;
      setItems((old) => (from && old ? [...old, ...p.items] : p.items));
      setCursor(p.next_cursor ?? null);
      setError(null);
    } catch (e) { if (n === seq.current) setError(e); }
    finally { if (n === seq.current) setBusy(false); }
  };
  useEffect(() => { void load(null); }, [range, status, path, key]);

  return (
    <section class="card" aria-labelledby="calls-title">
      <div class="card-head">
        <h2 id="calls-title">{t('calls.title')}</h2>
        <button type="button" class="btn btn-ghost btn-small" onClick={() => load(null)} disabled={busy}>{t('calls.refresh')}</button>
      </div>
      <p class="hint">{t('calls.lead')}</p>
      <div class="calls-filters" role="group" aria-label={t('calls.filters')}>
        <div class="field">
          <label for="calls-range">{t('calls.range')}</label>
          <select id="calls-range" value={range} onChange={(e) => setRange((e.target as HTMLSelectElement).value as Range)}>
            {(Object.keys(RANGES) as Range[]).map((r) => <option key={r} value={r}>{t('calls.range.' + r)}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="calls-status">{t('calls.status')}</label>
          <select id="calls-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            {STATUSES.map((s) => <option key={s} value={s}>{s ? t('calls.status.' + s) : t('calls.allStatuses')}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="calls-path">{t('calls.path')}</label>
          <input id="calls-path" type="search" class="mono" dir="ltr" value={pathInput} placeholder="/api/v1/orders" autocomplete="off" spellcheck={false}
            onInput={(e) => setPathInput((e.target as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="calls-key">{t('calls.key')}</label>
          <select id="calls-key" value={key} onChange={(e) => setKey((e.target as HTMLSelectElement).value)}>
            <option value="">{t('calls.allKeys')}</option>
            {keys.map((k) => <option key={k.id} value={k.id}>{k.name}{k.revoked_at ? ` (${t('calls.revoked')})` : ''}</option>)}
          </select>
        </div>
      </div>
      <p class="visually-hidden" role="status">{items && !busy ? t('calls.count', { n: items.length }) : ''}</p>
      {error && !items ? <LoadError error={error} retry={() => load(null)} /> : !items ? <Loading /> : items.length === 0 ? (
        <p class="muted">{t('calls.none')}</p>
      ) : (
        <div class="table-wrap">
          <table class="table calls-table">
            <thead><tr>
              <th scope="col">{t('calls.time')}</th>
              <th scope="col" class="hide-sm">{t('calls.key')}</th>
              <th scope="col">{t('calls.request')}</th>
              <th scope="col">{t('calls.status')}</th>
              <th scope="col" class="num hide-sm">{t('calls.duration')}</th>
            </tr></thead>
            <tbody>
              {items.map((c) => (
                <tr key={c.id}>
                  <td class="nowrap">{dateTime(c.at)}</td>
                  <td class="hide-sm">{c.api_key_name}</td>
                  <td class="call-req" dir="ltr"><span class="method">{c.method}</span> <code>{c.path}</code></td>
                  <td><Badge kind={statusKind(c.status)}>{c.status}</Badge></td>
                  <td class="num hide-sm nowrap">{t('calls.ms', { n: num(c.duration_ms) })}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {error && items ? <LoadError error={error} retry={() => load(cursor)} /> : null}
      {cursor && items && <button type="button" class="btn btn-secondary" disabled={busy} onClick={() => load(cursor)}>{t('common.loadMore')}</button>}
    </section>
  );
}
