import { useState } from 'preact/hooks';
import { api, fetchAll, type ApiKey, type ApiKeyCreated, type IdentitySecret } from '../api';
import { useI18n } from '../i18n';
import {
  Badge, ConfirmDialog, CopyButton, Dialog, ErrorSummary, LoadError, Loading, PageHeader, TextField,
  errorMessage, useAsync, useFormErrors, useToast,
} from '../components/ui';
import { Icon } from '../components/icons';
import { ApiCallLog } from './api-calls';
import { href } from '../router';
import { WebhooksCard } from './webhooks';

export function IntegrationsPage({ merchantId }: { merchantId: string | null }) {
  const { t, dateTime } = useI18n();
  const toast = useToast();
  const { data, error, loading, reload } = useAsync(() => fetchAll<ApiKey>('api-keys'), []);
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const [secret, setSecret] = useState<{ key: ApiKey; secret: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [busy, setBusy] = useState(false);
  const [revokeErr, setRevokeErr] = useState<string | null>(null);
  const f = useFormErrors();

  const create = async () => {
    f.clear();
    if (!name.trim()) { f.setLocal([{ field: 'key-name', message: t('common.required') }]); return; }
    setBusy(true);
    try {
      const r = await api.post<ApiKeyCreated>('api-keys', { name: name.trim() });
      setCreating(false);
      setName('');
      setSecret(r);
      reload();
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };
  const revoke = async () => {
    if (!revoking) return;
    setBusy(true);
    try {
      await api.del('api-keys/' + encodeURIComponent(revoking.id));
      toast(t('keys.revoked', { name: revoking.name }));
      setRevoking(null);
      reload();
    } catch (x) { setRevokeErr(errorMessage(t, x)); }
    finally { setBusy(false); }
  };

  return (
    <>
      <PageHeader title={t('module.integrations')} lead={t('keys.lead')}
        actions={<button type="button" class="btn btn-primary" onClick={() => { f.clear(); setCreating(true); }}><Icon name="plus" size={18} />{t('keys.new')}</button>} />
      {merchantId && (
        <section class="card" aria-labelledby="mid-title">
          <h2 id="mid-title">{t('keys.merchantId')}</h2>
          <p class="hint">{t('keys.merchantIdHint')}</p>
          <div class="invite-row"><code class="invite-code small-code">{merchantId}</code><CopyButton text={merchantId} /></div>
        </section>
      )}
      {merchantId && <EmbedSnippet merchantId={merchantId} />}
      {merchantId && <IdentitySecret />}

      <section class="card" aria-labelledby="keys-title">
        <h2 id="keys-title">{t('keys.title')}</h2>
        {loading && !data ? <Loading /> : error ? <LoadError error={error} retry={reload} /> : data!.length === 0 ? (
          <p class="muted">{t('keys.none')}</p>
        ) : (
          <div class="table-wrap">
            <table class="table">
              <thead><tr>
                <th scope="col">{t('keys.name')}</th>
                <th scope="col">{t('keys.prefix')}</th>
                <th scope="col" class="hide-sm">{t('keys.created')}</th>
                <th scope="col" class="hide-sm">{t('keys.lastUsed')}</th>
                <th scope="col">{t('keys.status')}</th>
                <th scope="col"><span class="visually-hidden">{t('common.actions')}</span></th>
              </tr></thead>
              <tbody>
                {data!.map((k) => (
                  <tr key={k.id} class={k.revoked_at ? 'row-muted' : ''}>
                    <td class="strong">{k.name}</td>
                    <td><code>{k.prefix}…</code></td>
                    <td class="nowrap hide-sm">{dateTime(k.created_at)}</td>
                    <td class="nowrap hide-sm">{k.last_used_at ? dateTime(k.last_used_at) : t('keys.never')}</td>
                    <td>{k.revoked_at ? <Badge kind="muted">{t('keys.revokedOn', { date: dateTime(k.revoked_at) })}</Badge> : <Badge kind="ok">{t('keys.active')}</Badge>}</td>
                    <td class="cell-actions">
                      {!k.revoked_at && (
                        <button type="button" class="btn btn-ghost btn-small" onClick={() => { setRevokeErr(null); setRevoking(k); }}
                          aria-label={t('keys.revokeNamed', { name: k.name })}>{t('keys.revoke')}</button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <WebhooksCard />

      <ApiCallLog keys={data ?? []} />

      <Dialog open={creating} onClose={() => setCreating(false)} title={t('keys.new')} onSubmit={create}
        footer={<>
          <button type="button" class="btn btn-secondary" onClick={() => setCreating(false)}>{t('common.cancel')}</button>
          <button type="submit" class="btn btn-primary" disabled={busy}>{t('keys.create')}</button>
        </>}>
        <ErrorSummary general={f.general} list={f.list} labels={() => t('keys.name')} />
        <TextField name="key-name" label={t('keys.name')} hint={t('keys.nameHint')} value={name} onValue={setName} error={f.errors['key-name'] ?? f.errors.name} autocomplete="off" />
      </Dialog>

      <Dialog open={!!secret} onClose={() => setSecret(null)} title={t('keys.createdTitle')} closeLabel={t('keys.done')}
        footer={<button type="button" class="btn btn-primary" onClick={() => setSecret(null)}>{t('keys.done')}</button>}>
        <div class="alert alert-warn"><Icon name="alert" /><p>{t('keys.once')}</p></div>
        <div class="field">
          <label for="new-secret">{t('keys.secretFor', { name: secret?.key.name ?? '' })}</label>
          <div class="secret-row">
            <input id="new-secret" class="mono" readOnly value={secret?.secret ?? ''} onFocus={(e) => (e.target as HTMLInputElement).select()} />
            {secret && <CopyButton text={secret.secret} />}
          </div>
        </div>
        <p class="hint">{t('keys.usage')} <code dir="ltr">Authorization: Bearer …</code></p>
      </Dialog>

      <ConfirmDialog open={!!revoking} title={t('keys.revokeTitle', { name: revoking?.name ?? '' })} message={<p>{t('keys.revokeBody')}</p>}
        confirmLabel={t('keys.revoke')} danger busy={busy} error={revokeErr} onConfirm={revoke} onClose={() => setRevoking(null)} />
    </>
  );
}

/** The origin the dashboard (and so the widget) is served from. */
function host(): string {
  return location.origin;
}

export function embedSnippet(merchantId: string, origin = host()): string {
  return `<script>
  window.Floorwalker = window.Floorwalker || function () { (Floorwalker.q = Floorwalker.q || []).push(arguments); };
</script>
<script async src="${origin}/widget.js" data-merchant="${merchantId}"></script>`;
}

/** The ready-made snippet with this merchant's ID, to paste into every page of the shop. */
function EmbedSnippet({ merchantId }: { merchantId: string }) {
  const { t } = useI18n();
  const code = embedSnippet(merchantId);
  return (
    <section class="card stack" aria-labelledby="embed-title">
      <h2 id="embed-title">{t('embed.title')}</h2>
      <p class="hint">{t('embed.lead')}</p>
      <div class="code-block">
        <pre dir="ltr" aria-label={t('embed.code')} tabIndex={0}><code data-snippet="embed">{code}</code></pre>
        <CopyButton text={code} />
      </div>
      <p class="hint">{t('embed.sites')} <a href={href('/settings/sites')}>{t('embed.sitesLink')}</a></p>
    </section>
  );
}

const NODE_SIGN = `import { createHmac } from 'node:crypto';

// email: the signed-in customer's email, as you pass it to the chat
const signature = createHmac('sha256', process.env.FLOORWALKER_IDENTITY_SECRET)
  .update(email.trim())
  .digest('hex');`;

const PYTHON_SIGN = `import hashlib, hmac, os

# email: the signed-in customer's email, as you pass it to the chat
signature = hmac.new(
    os.environ["FLOORWALKER_IDENTITY_SECRET"].encode(),
    email.strip().encode(),
    hashlib.sha256,
).hexdigest()`;

const PAGE_IDENTIFY = `<script>
  Floorwalker('identify', {
    email: 'kim@example.com',   // the signed-in customer
    name: 'Kim Berg',           // optional
    signature: 'SIGNATURE_FROM_YOUR_SERVER',
  });
</script>`;

/** The identity secret (hidden until revealed, rotated after a confirmation) and how to sign. */
function IdentitySecret() {
  const { t } = useI18n();
  const toast = useToast();
  const [secret, setSecret] = useState<string | null>(null);
  const [shown, setShown] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const [lang, setLang] = useState<'node' | 'python'>('node');
  const reveal = async () => {
    setErr(null);
    try {
      if (secret === null) setSecret((await api.get<IdentitySecret>('identity-secret')).identity_secret);
      setShown(true);
    } catch (x) { setErr(errorMessage(t, x)); }
  };
  const rotate = async () => {
    setBusy(true);
    setErr(null);
    try {
      setSecret((await api.post<IdentitySecret>('identity-secret')).identity_secret);
      setShown(true);
      setConfirm(false);
      toast(t('identity.rotated'));
    } catch (x) { setErr(errorMessage(t, x)); }
    finally { setBusy(false); }
  };
  return (
    <section class="card stack" aria-labelledby="identity-title">
      <h2 id="identity-title">{t('identity.title')}</h2>
      <p class="hint">{t('identity.lead')}</p>
      <div class="field">
        <label for="identity-secret">{t('identity.secret')}</label>
        <div class="secret-row">
          <input id="identity-secret" class="mono" dir="ltr" readOnly value={shown && secret ? secret : '••••••••••••••••••••••••••••••••'}
            aria-describedby={shown ? undefined : 'identity-hidden'} onFocus={(e) => { if (shown) (e.target as HTMLInputElement).select(); }} />
          {shown && secret ? <CopyButton text={secret} /> : null}
          <button type="button" class="btn btn-secondary" aria-controls="identity-secret" aria-expanded={shown}
            onClick={() => (shown ? setShown(false) : void reveal())}>{shown ? t('identity.hide') : t('identity.reveal')}</button>
        </div>
        {!shown && <p class="hint" id="identity-hidden">{t('identity.hidden')}</p>}
        {err && !confirm && <p class="field-error" role="alert">{err}</p>}
      </div>
      <div><button type="button" class="btn btn-ghost" onClick={() => { setErr(null); setConfirm(true); }}>
        <Icon name="refresh" size={18} />{t('identity.rotate')}</button></div>
      <h3>{t('identity.server')}</h3>
      <p class="hint">{t('identity.serverHint')}</p>
      <div class="seg-radios code-tabs" role="radiogroup" aria-label={t('identity.server')}>
        {(['node', 'python'] as const).map((l) => (
          <label key={l} class={'seg-radio' + (lang === l ? ' on' : '')}>
            <input type="radio" name="sign-lang" value={l} checked={lang === l} onChange={() => setLang(l)} />
            <span>{l === 'node' ? 'Node.js' : 'Python'}</span>
          </label>
        ))}
      </div>
      <div class="code-block">
        <pre dir="ltr" tabIndex={0}><code data-snippet={'sign-' + lang}>{lang === 'node' ? NODE_SIGN : PYTHON_SIGN}</code></pre>
        <CopyButton text={lang === 'node' ? NODE_SIGN : PYTHON_SIGN} />
      </div>
      <h3>{t('identity.page')}</h3>
      <p class="hint">{t('identity.pageHint')}</p>
      <div class="code-block">
        <pre dir="ltr" tabIndex={0}><code data-snippet="identify">{PAGE_IDENTIFY}</code></pre>
        <CopyButton text={PAGE_IDENTIFY} />
      </div>
      <ConfirmDialog open={confirm} title={t('identity.rotateTitle')} message={<p>{t('identity.rotateBody')}</p>}
        confirmLabel={t('identity.rotate')} danger busy={busy} error={confirm ? err : null} onConfirm={rotate} onClose={() => setConfirm(false)} />
    </section>
  );
}
