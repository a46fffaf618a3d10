// The Outbox: every e-mail, SMS and webhook delivery the platform sends or would send, with the
// rendered message and each attempt. Merchants see their own (Integrations → Outbox, the
// Integrations module); the operator sees every merchant's (Outbox).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type OutboxDetail, type OutboxRow, type Page, type Suppression } from '../api';
import { useI18n } from '../i18n';
import { href } from '../router';
import { Badge, ConfirmDialog, EmptyState, LoadError, Loading, PageHeader, errorMessage, useAsync, useToast } from '../components/ui';
import { Icon } from '../components/icons';

export type Scope = 'merchant' | 'operator';
const base = (scope: Scope) => (scope === 'operator' ? 'access/outbox' : 'outbox');
export const outboxHref = (scope: Scope, id?: string) =>
  href((scope === 'operator' ? '/outbox' : '/integrations/outbox') + (id ? '/' + encodeURIComponent(id) : ''));

const KINDS = ['', 'email', 'sms', 'webhook'] as const;
const STATUSES = ['', 'queued', 'sending', 'sent', 'failed', 'dead'] as const;

/** Being sent, or due to be tried again within a minute (mail waiting for SMTP is not). */
export function onItsWay(m: { status: string; next_attempt_at: number }) {
  return m.status === 'sending' || (m.status === 'queued' && m.next_attempt_at - Date.now() < 60_000);
}

/**
 * Follow messages on their way without a reload: while `moving`, ask again two seconds after
 * each answer (`answer` is what changes when one arrives).
 */
export function useFollow(moving: boolean, reload: () => void, answer: unknown) {
  useEffect(() => {
    if (!moving) return;
    const h = setTimeout(reload, 2000);
    return () => clearTimeout(h);
  }, [answer]);
}

export function statusBadge(t: (k: string) => string, r: { status: string; unconfirmed?: boolean }) {
  const kind = r.status === 'sent' ? (r.unconfirmed ? 'warn' : 'ok') : r.status === 'failed' || r.status === 'dead' ? 'danger' : r.status === 'sending' ? 'info' : 'muted';
  return <Badge kind={kind}>{t('outbox.status.' + r.status)}{r.unconfirmed ? ' · ' + t('outbox.unconfirmed') : ''}</Badge>;
}

export function OutboxPage({ scope }: { scope: Scope }) {
  const { t, dateTime } = useI18n();
  const [kind, setKind] = useState('');
  const [status, setStatus] = useState('');
  const [items, setItems] = useState<OutboxRow[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const seq = useRef(0);
  const load = async (from: string | null) => {
    const n = ++seq.current;
    setBusy(true);
    const q = new URLSearchParams({ limit: '50' });
    if (kind) q.set('kind', kind);
    if (status) q.set('status', status);
    if (from) q.set('cursor', from);
    try {
      const p = await api.get<Page<OutboxRow>>(base(scope) + '?' + q.toString());
      if (n !== seq.current) return;
      setItems((old) => (from && old ? [...old, ...p.items] : p.items));
      setCursor(p.next_cursor);
      setError(null);
    } catch (e) { if (n === seq.current) setError(e); }
    finally { if (n === seq.current) setBusy(false); }
  };
  useEffect(() => { void load(null); }, [kind, status]);

  return (
    <>
      <PageHeader title={t('outbox.title')} lead={t(scope === 'operator' ? 'outbox.leadOperator' : 'outbox.lead')}
        back={scope === 'merchant' ? { href: href('/integrations'), label: t('module.integrations') } : undefined}
        actions={<button type="button" class="btn btn-secondary" onClick={() => load(null)} disabled={busy}><Icon name="refresh" size={18} />{t('calls.refresh')}</button>} />
      <section class="card" aria-labelledby="outbox-list">
        <h2 id="outbox-list" class="visually-hidden">{t('outbox.title')}</h2>
        <div class="calls-filters" role="group" aria-label={t('calls.filters')}>
          <div class="field">
            <label for="outbox-kind">{t('outbox.kind')}</label>
            <select id="outbox-kind" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
              {KINDS.map((k) => <option key={k} value={k}>{k ? t('outbox.kind.' + k) : t('outbox.allKinds')}</option>)}
            </select>
          </div>
          <div class="field">
            <label for="outbox-status">{t('outbox.statusLabel')}</label>
            <select id="outbox-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
              {STATUSES.map((s) => <option key={s} value={s}>{s ? t('outbox.status.' + s) : t('outbox.allStatuses')}</option>)}
            </select>
          </div>
        </div>
        {error ? <LoadError error={error} retry={() => load(null)} /> : items === null ? <Loading /> : items.length === 0 ? (
          <EmptyState icon="outbox" title={t('outbox.empty')}><p class="muted">{t('outbox.emptyHint')}</p></EmptyState>
        ) : (
          <div class="table-wrap">
            <table class="table">
              <thead><tr>
                <th scope="col">{t('outbox.recipient')}</th>
                <th scope="col">{t('outbox.subject')}</th>
                <th scope="col">{t('outbox.statusLabel')}</th>
                <th scope="col" class="hide-sm">{t('outbox.attempts')}</th>
                <th scope="col" class="hide-sm">{t('outbox.created')}</th>
              </tr></thead>
              <tbody>
                {items.map((r) => (
                  <tr key={r.id}>
                    <td><a href={outboxHref(scope, r.id)} class="strong" dir="ltr">{r.recipient}</a><div class="small muted">{t('outbox.kind.' + r.kind)}</div></td>
                    <td dir="auto">{r.subject ?? r.template}</td>
                    <td>{statusBadge(t, r)}{r.status === 'queued' && r.last_error && <div class="small muted clamp-2">{r.last_error}</div>}</td>
                    <td class="hide-sm">{r.attempts}</td>
                    <td class="nowrap hide-sm">{dateTime(r.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {cursor && <button type="button" class="btn btn-secondary" onClick={() => load(cursor)} disabled={busy}>{t('outbox.more')}</button>}
      </section>
      {scope === 'merchant' && <Suppressions />}
    </>
  );
}

function Suppressions() {
  const { t, dateTime } = useI18n();
  const toast = useToast();
  const { data, error, loading, reload } = useAsync(() => api.get<Page<Suppression>>('outbox/suppressions?limit=200'), []);
  const [lifting, setLifting] = useState<Suppression | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const lift = async () => {
    if (!lifting) return;
    setBusy(true);
    try {
      await api.del(`outbox/suppressions/${encodeURIComponent(lifting.channel)}/${encodeURIComponent(lifting.address)}`);
      toast(t('outbox.lifted', { address: lifting.address }));
      setLifting(null);
      reload();
    } catch (e) { setErr(errorMessage(t, e)); }
    finally { setBusy(false); }
  };
  return (
    <section class="card" aria-labelledby="supp-title">
      <h2 id="supp-title">{t('outbox.suppressed')}</h2>
      <p class="hint">{t('outbox.suppressedHint')}</p>
      {loading && !data ? <Loading /> : error ? <LoadError error={error} retry={reload} /> : data!.items.length === 0 ? (
        <p class="muted">{t('outbox.noSuppressed')}</p>
      ) : (
        <div class="table-wrap"><table class="table">
          <thead><tr><th scope="col">{t('outbox.address')}</th><th scope="col">{t('outbox.reason')}</th><th scope="col" class="hide-sm">{t('outbox.since')}</th><th scope="col"><span class="visually-hidden">{t('common.actions')}</span></th></tr></thead>
          <tbody>{data!.items.map((s) => (
            <tr key={s.channel + s.address}>
              <td dir="ltr" class="strong">{s.address}</td>
              <td><Badge kind={s.reason === 'bounce' ? 'danger' : 'muted'}>{t('outbox.reason.' + s.reason)}</Badge></td>
              <td class="nowrap hide-sm">{dateTime(s.created_at)}</td>
              <td class="cell-actions"><button type="button" class="btn btn-ghost btn-small" onClick={() => { setErr(null); setLifting(s); }}
                aria-label={t('outbox.liftNamed', { address: s.address })}>{t('outbox.lift')}</button></td>
            </tr>
          ))}</tbody>
        </table></div>
      )}
      <ConfirmDialog open={!!lifting} title={t('outbox.liftTitle', { address: lifting?.address ?? '' })} message={<p>{t('outbox.liftBody')}</p>}
        confirmLabel={t('outbox.lift')} busy={busy} error={err} onConfirm={lift} onClose={() => setLifting(null)} />
    </section>
  );
}

export function OutboxMessagePage({ scope, id, initialView }: { scope: Scope; id: string; initialView?: string | null }) {
  const { t, dateTime } = useI18n();
  const toast = useToast();
  const { data: m, error, loading, reload } = useAsync(() => api.get<OutboxDetail>(`${base(scope)}/${encodeURIComponent(id)}`), [id]);
  const [view, setView] = useState<'html' | 'text'>(initialView === 'text' ? 'text' : 'html');
  const [busy, setBusy] = useState(false);
  const retry = async () => {
    setBusy(true);
    try { await api.post(`outbox/${encodeURIComponent(id)}/retry`); toast(t('outbox.retried')); reload(); }
    catch (e) { toast(errorMessage(t, e)); }
    finally { setBusy(false); }
  };
  useFollow(!!m && onItsWay(m), reload, m);
  const back = { href: outboxHref(scope), label: t('outbox.title') };
  if (loading && !m) return <><PageHeader title={t('outbox.message')} back={back} /><Loading /></>;
  if (error || !m) return <><PageHeader title={t('outbox.message')} back={back} /><LoadError error={error} retry={reload} /></>;
  const body = m.kind === 'webhook' ? pretty(m.payload_json) : null;
  return (
    <>
      <PageHeader title={m.subject ?? m.template} back={back}
        actions={scope === 'merchant' && (m.status === 'failed' || m.status === 'dead')
          ? <button type="button" class="btn btn-primary" onClick={retry} disabled={busy}><Icon name="refresh" size={18} />{t('outbox.retry')}</button> : undefined} />
      <section class="card" aria-labelledby="msg-facts">
        <h2 id="msg-facts" class="visually-hidden">{t('outbox.message')}</h2>
        <dl class="facts">
          <div><dt>{t('outbox.recipient')}</dt><dd dir="ltr">{m.recipient}</dd></div>
          <div><dt>{t('outbox.statusLabel')}</dt><dd>{statusBadge(t, m)}</dd></div>
          <div><dt>{t('outbox.kind')}</dt><dd>{t('outbox.kind.' + m.kind)} · <code>{m.template}</code></dd></div>
          <div><dt>{t('outbox.created')}</dt><dd>{dateTime(m.created_at)}</dd></div>
          {m.sent_at && <><div><dt>{t('outbox.sentAt')}</dt><dd>{dateTime(m.sent_at)}</dd></div></>}
          {m.status === 'queued' && <><div><dt>{t('outbox.next')}</dt><dd>{dateTime(m.next_attempt_at)}</dd></div></>}
          <div><dt>{m.kind === 'webhook' ? 'webhook-id' : 'Message-ID'}</dt><dd><code dir="ltr">{m.message_id}</code></dd></div>
          {scope === 'operator' && <><div><dt>{t('outbox.merchant')}</dt><dd><code dir="ltr">{m.merchant_id}</code></dd></div></>}
          {m.kind === 'email' && <><div><dt>{t('outbox.consent')}</dt><dd>{t(m.transactional ? 'outbox.transactional' : 'outbox.marketing')}</dd></div></>}
        </dl>
        {m.last_error && <div class={'alert ' + (m.status === 'sent' ? 'alert-warn' : m.status === 'queued' ? 'alert-info' : 'alert-error')}><Icon name="alert" /><p>{m.last_error}</p></div>}
      </section>
      <section class="card" aria-labelledby="msg-body">
        <div class="card-head">
          <h2 id="msg-body">{t('outbox.content')}</h2>
          {m.kind === 'email' && (
            <div class="segmented" role="group" aria-label={t('outbox.content')}>
              <button type="button" aria-pressed={view === 'html'} onClick={() => setView('html')}>{t('outbox.html')}</button>
              <button type="button" aria-pressed={view === 'text'} onClick={() => setView('text')}>{t('outbox.text')}</button>
            </div>
          )}
        </div>
        {m.kind === 'email' && view === 'html'
          ? <iframe class="mail-frame" title={t('outbox.htmlTitle')} sandbox="allow-same-origin" srcdoc={m.body_html ?? ''} />
          : <div class="code-block"><pre class="mail-text" dir="auto">{body ?? m.body_text ?? ''}</pre></div>}
      </section>
      <section class="card" aria-labelledby="msg-attempts">
        <h2 id="msg-attempts">{t('outbox.attemptsTitle')}</h2>
        {m.attempt_log.length === 0 ? <p class="muted">{t(m.kind === 'email' ? 'outbox.noAttemptsMail' : 'outbox.noAttempts')}</p> : (
          <div class="table-wrap"><table class="table">
            <thead><tr><th scope="col">#</th><th scope="col">{t('outbox.when')}</th><th scope="col">{t('outbox.answer')}</th><th scope="col">{t('outbox.latency')}</th><th scope="col">{t('outbox.detail')}</th></tr></thead>
            <tbody>{m.attempt_log.map((a) => (
              <tr key={a.attempt}>
                <td>{a.attempt}</td>
                <td class="nowrap">{dateTime(a.at)}</td>
                <td>{a.status_code ?? '—'}</td>
                <td class="nowrap">{a.latency_ms} ms</td>
                <td><span class="small clamp-2" dir="auto">{a.error ?? a.response ?? ''}</span></td>
              </tr>
            ))}</tbody>
          </table></div>
        )}
      </section>
    </>
  );
}

function pretty(json: string) {
  try { return JSON.stringify(JSON.parse(json), null, 2); } catch { return json; }
}
