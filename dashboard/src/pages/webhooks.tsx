// Integrations → Webhooks: endpoints (URL, events, a secret shown once), their health, and one
// endpoint's deliveries with redeliver, test event, secret rotation, enable/disable.
import { useState } from 'preact/hooks';
import { api, fetchAll, type EventTypeInfo, type OutboxRow, type Page, type WebhookCreated, type WebhookEndpoint } from '../api';
import { useI18n } from '../i18n';
import { href, navigate } from '../router';
import {
  Badge, ConfirmDialog, CopyButton, Dialog, ErrorSummary, LoadError, Loading, PageHeader, TextField,
  errorMessage, useAsync, useFormErrors, useToast,
} from '../components/ui';
import { Icon } from '../components/icons';
import { onItsWay, outboxHref, statusBadge, useFollow } from './outbox';

const hookHref = (id: string) => href('/integrations/webhooks/' + encodeURIComponent(id));

function health(t: (k: string, v?: Record<string, string | number>) => string, e: WebhookEndpoint, dateTime: (ms: number) => string) {
  if (!e.enabled) return <Badge kind="danger">{t(e.disabled_reason ? 'hooks.disabledByUs' : 'hooks.off')}</Badge>;
  if (e.failing_since) return <Badge kind="warn">{t('hooks.failingSince', { date: dateTime(e.failing_since) })}</Badge>;
  return <Badge kind="ok">{t('hooks.healthy')}</Badge>;
}

/** Event checkboxes. */
function EventPicker({ types, chosen, onChange, error }: { types: EventTypeInfo[]; chosen: string[]; onChange: (v: string[]) => void; error?: string }) {
  const { t } = useI18n();
  return (
    <fieldset class={'fieldset' + (error ? ' has-error' : '')} id="f-events">
      <legend>{t('hooks.events')}</legend>
      <div class="check-grid event-checks">
        {types.map((e) => (
          <label key={e.name} class="check-row">
            <input type="checkbox" checked={chosen.includes(e.name)}
              onChange={(x) => onChange((x.target as HTMLInputElement).checked ? [...chosen, e.name] : chosen.filter((c) => c !== e.name))} />
            <span><code dir="ltr">{e.name}</code><span class="small muted"> — {t('hooks.event.' + e.name)}</span></span>
          </label>
        ))}
      </div>
      {error && <p class="field-error"><Icon name="alert" size={16} />{error}</p>}
    </fieldset>
  );
}

export function WebhooksCard() {
  const { t, dateTime } = useI18n();
  const { data, error, loading, reload } = useAsync(() => fetchAll<WebhookEndpoint>('webhooks'), []);
  const types = useAsync(() => api.get<EventTypeInfo[]>('webhooks/event-types'), []);
  const [creating, setCreating] = useState(false);
  const [url, setUrl] = useState('');
  const [desc, setDesc] = useState('');
  // null: the defaults (every event on by default), also before the list of types has loaded.
  const [events, setEvents] = useState<string[] | null>(null);
  const [secret, setSecret] = useState<{ endpoint: WebhookEndpoint; secret: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  const open = () => {
    f.clear(); setUrl(''); setDesc(''); setEvents(null);
    setCreating(true);
  };
  const create = async () => {
    f.clear();
    if (!url.trim()) { f.setLocal([{ field: 'url', message: t('common.required') }]); return; }
    setBusy(true);
    try {
      const r = await api.post<WebhookCreated>('webhooks', { url: url.trim(), description: desc.trim(), events: events ?? undefined });
      setCreating(false);
      setSecret(r);
      reload();
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };
  const broken = (data ?? []).filter((e) => !e.enabled && e.disabled_reason);
  return (
    <section class="card" aria-labelledby="hooks-title">
      <div class="card-head">
        <h2 id="hooks-title">{t('hooks.title')}</h2>
        <button type="button" class="btn btn-secondary btn-small" onClick={open}><Icon name="plus" size={16} />{t('hooks.new')}</button>
      </div>
      <p class="hint">{t('hooks.lead')}</p>
      {broken.map((e) => (
        <div class="alert alert-error" role="alert" key={e.id}><Icon name="alert" />
          <div><p class="alert-title">{t('hooks.disabledNotice', { url: e.url })}</p><p>{e.disabled_reason}</p>
            <a href={hookHref(e.id)}>{t('hooks.open')}</a></div>
        </div>
      ))}
      {loading && !data ? <Loading /> : error ? <LoadError error={error} retry={reload} /> : data!.length === 0 ? (
        <p class="muted">{t('hooks.none')}</p>
      ) : (
        <div class="table-wrap">
          <table class="table">
            <thead><tr>
              <th scope="col">{t('hooks.url')}</th>
              <th scope="col" class="hide-sm">{t('hooks.events')}</th>
              <th scope="col">{t('hooks.health')}</th>
            </tr></thead>
            <tbody>{data!.map((e) => (
              <tr key={e.id} class={e.enabled ? '' : 'row-muted'}>
                <td><a href={hookHref(e.id)} class="strong" dir="ltr">{e.url}</a>{e.description && <div class="small muted" dir="auto">{e.description}</div>}</td>
                <td class="hide-sm">{t('hooks.eventCount', { n: e.events.length })}</td>
                <td>{health(t, e, dateTime)}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      <p><a href={outboxHref('merchant')}><Icon name="outbox" size={16} /> {t('hooks.outboxLink')}</a></p>

      <Dialog open={creating} onClose={() => setCreating(false)} title={t('hooks.new')} onSubmit={create} wide
        footer={<>
          <button type="button" class="btn btn-secondary" onClick={() => setCreating(false)}>{t('common.cancel')}</button>
          <button type="submit" class="btn btn-primary" disabled={busy}>{t('hooks.create')}</button>
        </>}>
        <ErrorSummary general={f.general} list={f.list} labels={(x) => (x === 'url' ? t('hooks.url') : x.startsWith('events') ? t('hooks.events') : undefined)} />
        <TextField name="url" label={t('hooks.url')} hint={t('hooks.urlHint')} value={url} onValue={setUrl} error={f.errors.url} type="url" dir="ltr" autocomplete="off" placeholder="https://" />
        <TextField name="description" label={t('hooks.description')} value={desc} onValue={setDesc} error={f.errors.description} autocomplete="off" />
        {types.data && <EventPicker types={types.data} chosen={events ?? types.data.filter((e) => e.default_on).map((e) => e.name)} onChange={setEvents} error={f.errors.events} />}
      </Dialog>
      <SecretDialog shown={secret} onClose={() => { const s = secret; setSecret(null); if (s) navigate('/integrations/webhooks/' + s.endpoint.id); }} />
    </section>
  );
}

function SecretDialog({ shown, onClose }: { shown: { endpoint: WebhookEndpoint; secret: string } | null; onClose: () => void }) {
  const { t } = useI18n();
  return (
    <Dialog open={!!shown} onClose={onClose} title={t('hooks.secretTitle')} closeLabel={t('keys.done')}
      footer={<button type="button" class="btn btn-primary" onClick={onClose}>{t('keys.done')}</button>}>
      <div class="alert alert-warn"><Icon name="alert" /><p>{t('hooks.secretOnce')}</p></div>
      <div class="field">
        <label for="hook-secret">{t('hooks.signingSecret')}</label>
        <div class="secret-row">
          <input id="hook-secret" class="mono" dir="ltr" readOnly value={shown?.secret ?? ''} onFocus={(e) => (e.target as HTMLInputElement).select()} />
          {shown && <CopyButton text={shown.secret} />}
        </div>
      </div>
      <p class="hint">{t('hooks.verifyHint')} <code dir="ltr">webhook-id</code>, <code dir="ltr">webhook-timestamp</code>, <code dir="ltr">webhook-signature</code></p>
    </Dialog>
  );
}

export function WebhookPage({ id }: { id: string }) {
  const { t, dateTime } = useI18n();
  const toast = useToast();
  const ep = useAsync(() => api.get<WebhookEndpoint>('webhooks/' + encodeURIComponent(id)), [id]);
  const types = useAsync(() => api.get<EventTypeInfo[]>('webhooks/event-types'), []);
  const deliveries = useAsync(() => api.get<Page<OutboxRow>>(`webhooks/${encodeURIComponent(id)}/deliveries?limit=50`), [id]);
  // A test event or a redelivery shows as sent (or failing) without pressing Refresh.
  useFollow(!!deliveries.data?.items.some(onItsWay), deliveries.reload, deliveries.data);
  const [secret, setSecret] = useState<{ endpoint: WebhookEndpoint; secret: string } | null>(null);
  const [editing, setEditing] = useState<string[] | null>(null);
  const [confirm, setConfirm] = useState<'delete' | 'rotate' | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const f = useFormErrors();
  const act = async (what: () => Promise<unknown>, done: string) => {
    setBusy(true); setErr(null);
    try { await what(); toast(done); ep.reload(); deliveries.reload(); return true; }
    catch (e) { setErr(errorMessage(t, e)); toast(errorMessage(t, e)); return false; }
    finally { setBusy(false); }
  };
  const back = { href: href('/integrations'), label: t('module.integrations') };
  if (ep.loading && !ep.data) return <><PageHeader title={t('hooks.endpoint')} back={back} /><Loading /></>;
  if (ep.error || !ep.data) return <><PageHeader title={t('hooks.endpoint')} back={back} /><LoadError error={ep.error} retry={ep.reload} /></>;
  const e = ep.data;
  const path = 'webhooks/' + encodeURIComponent(id);
  return (
    <>
      <PageHeader title={e.url} lead={e.description || undefined} back={back}
        actions={<>
          <button type="button" class="btn btn-primary" disabled={busy || !e.enabled} onClick={() => act(() => api.post(path + '/test'), t('hooks.testQueued'))}><Icon name="send" size={18} />{t('hooks.test')}</button>
        </>} />
      {!e.enabled && e.disabled_reason && (
        <div class="alert alert-error" role="alert"><Icon name="alert" /><div><p class="alert-title">{t('hooks.disabledTitle')}</p><p>{e.disabled_reason}</p></div></div>
      )}
      {e.enabled && e.failing_since && (
        <div class="alert alert-warn" role="status"><Icon name="alert" /><p>{t('hooks.failingNotice', { date: dateTime(e.failing_since) })}</p></div>
      )}
      <section class="card" aria-labelledby="ep-facts">
        <h2 id="ep-facts">{t('hooks.endpoint')}</h2>
        <dl class="facts">
          <div><dt>{t('hooks.health')}</dt><dd>{health(t, e, dateTime)}</dd></div>
          <div><dt>{t('hooks.lastSuccess')}</dt><dd>{e.last_success_at ? dateTime(e.last_success_at) : '—'}</dd></div>
          <div><dt>{t('hooks.signingSecret')}</dt><dd><code dir="ltr">{e.secret_prefix}…</code>{e.previous_secret_until && <div class="small muted">{t('hooks.previousUntil', { date: dateTime(e.previous_secret_until) })}</div>}</dd></div>
          <div class="span-all"><dt>{t('hooks.events')}</dt><dd><span class="chips">{e.events.map((x) => <code key={x} dir="ltr" class="chip">{x}</code>)}</span></dd></div>
        </dl>
        <div class="link-actions">
          <button type="button" class="btn btn-secondary btn-small" disabled={busy} onClick={() => { f.clear(); setEditing(e.events); }}><Icon name="edit" size={16} />{t('hooks.editEvents')}</button>
          <button type="button" class="btn btn-secondary btn-small" disabled={busy}
            onClick={() => act(() => api.patch(path, { enabled: !e.enabled }), t(e.enabled ? 'hooks.disabledDone' : 'hooks.enabledDone'))}>
            {t(e.enabled ? 'hooks.disable' : 'hooks.enable')}</button>
          <button type="button" class="btn btn-secondary btn-small" disabled={busy} onClick={() => { setErr(null); setConfirm('rotate'); }}><Icon name="key" size={16} />{t('hooks.rotate')}</button>
          <button type="button" class="btn btn-danger-outline btn-small" disabled={busy} onClick={() => { setErr(null); setConfirm('delete'); }}><Icon name="trash" size={16} />{t('hooks.delete')}</button>
        </div>
      </section>
      <section class="card" aria-labelledby="ep-deliveries">
        <div class="card-head">
          <h2 id="ep-deliveries">{t('hooks.deliveries')}</h2>
          <button type="button" class="btn btn-ghost btn-small" onClick={deliveries.reload}><Icon name="refresh" size={16} />{t('calls.refresh')}</button>
        </div>
        {deliveries.loading && !deliveries.data ? <Loading /> : deliveries.error ? <LoadError error={deliveries.error} retry={deliveries.reload} /> : deliveries.data!.items.length === 0 ? (
          <p class="muted">{t('hooks.noDeliveries')}</p>
        ) : (
          <div class="table-wrap"><table class="table">
            <thead><tr><th scope="col">{t('hooks.event')}</th><th scope="col">{t('outbox.statusLabel')}</th><th scope="col" class="hide-sm">{t('outbox.attempts')}</th><th scope="col" class="hide-sm">{t('outbox.created')}</th><th scope="col"><span class="visually-hidden">{t('common.actions')}</span></th></tr></thead>
            <tbody>{deliveries.data!.items.map((d) => (
              <tr key={d.id}>
                <td><a href={outboxHref('merchant', d.id)}><code dir="ltr">{d.template}</code></a><div class="small muted"><code dir="ltr">{d.message_id}</code></div></td>
                <td>{statusBadge(t, d)}{d.last_error && d.status !== 'sent' && <div class="small muted clamp-2">{d.last_error}</div>}</td>
                <td class="hide-sm">{d.attempts}</td>
                <td class="nowrap hide-sm">{dateTime(d.created_at)}</td>
                <td class="cell-actions">{(d.status === 'sent' || d.status === 'failed' || d.status === 'dead') && e.enabled && (
                  <button type="button" class="btn btn-ghost btn-small" disabled={busy} aria-label={t('hooks.redeliverNamed', { id: d.message_id })}
                    onClick={() => act(() => api.post(`${path}/deliveries/${encodeURIComponent(d.id)}/redeliver`), t('hooks.redelivered'))}>{t('hooks.redeliver')}</button>
                )}</td>
              </tr>
            ))}</tbody>
          </table></div>
        )}
      </section>
      <Dialog open={editing !== null} onClose={() => setEditing(null)} title={t('hooks.editEvents')} wide
        onSubmit={async () => { try { await api.patch(path, { events: editing }); setEditing(null); toast(t('hooks.saved')); ep.reload(); } catch (x) { f.fromError(x); } }}
        footer={<>
          <button type="button" class="btn btn-secondary" onClick={() => setEditing(null)}>{t('common.cancel')}</button>
          <button type="submit" class="btn btn-primary">{t('hooks.save')}</button>
        </>}>
        <ErrorSummary general={f.general} list={f.list} labels={() => t('hooks.events')} />
        {types.data && editing && <EventPicker types={types.data} chosen={editing} onChange={setEditing} error={f.errors.events} />}
      </Dialog>
      <ConfirmDialog open={confirm === 'rotate'} title={t('hooks.rotateTitle')} message={<p>{t('hooks.rotateBody')}</p>} confirmLabel={t('hooks.rotate')}
        busy={busy} error={err} onClose={() => setConfirm(null)}
        onConfirm={async () => { setBusy(true); try { const r = await api.post<WebhookCreated>(path + '/secret'); setConfirm(null); setSecret(r); ep.reload(); } catch (x) { setErr(errorMessage(t, x)); } finally { setBusy(false); } }} />
      <ConfirmDialog open={confirm === 'delete'} title={t('hooks.deleteTitle')} message={<p>{t('hooks.deleteBody')}</p>} confirmLabel={t('hooks.delete')} danger
        busy={busy} error={err} onClose={() => setConfirm(null)}
        onConfirm={async () => { if (await act(() => api.del(path), t('hooks.deleted'))) { setConfirm(null); navigate('/integrations'); } }} />
      <SecretDialog shown={secret} onClose={() => setSecret(null)} />
    </>
  );
}
