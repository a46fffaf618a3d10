import { useEffect, useState } from 'preact/hooks';
import { ALL_MODULES, api, type Account, type CreateAccountRequest, type Merchant, type MerchantCreated, type Module, type Page } from '../api';
import { useI18n } from '../i18n';
import { href, navigate } from '../router';
import {
  Badge, ConfirmDialog, CopyButton, Dialog, ErrorSummary, LoadError, Loading, PageHeader, Switch, TextField,
  errorMessage, useAsync, useFormErrors, useToast,
} from '../components/ui';
import { Icon } from '../components/icons';

function usePaged<T>(path: string) {
  const [items, setItems] = useState<T[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const sep = path.includes('?') ? '&' : '?';
  const load = async (from: string | null, reset: boolean) => {
    setBusy(true);
    try {
      const p = await api.get<Page<T>>(`${path}${sep}limit=50${from ? '&cursor=' + encodeURIComponent(from) : ''}`);
      setItems((old) => (reset || !old ? p.items : [...old, ...p.items]));
      setCursor(p.next_cursor);
      setError(null);
    } catch (e) { setError(e); }
    finally { setBusy(false); }
  };
  useEffect(() => { load(null, true); }, [path]);
  return { items, error, busy, more: cursor ? () => load(cursor, false) : null, reload: () => load(null, true) };
}

export function ModulePicker({ value, onChange, idPrefix, error }: { value: Module[]; onChange: (m: Module[]) => void; idPrefix: string; error?: string }) {
  const { t } = useI18n();
  const all = value.length === ALL_MODULES.length;
  return (
    <fieldset class="fieldset">
      <legend>{t('access.modules')}</legend>
      <p class="hint" id={idPrefix + '-hint'}>{t('access.modulesHint')}</p>
      {error && <p class="field-error" id={idPrefix + '-error'}><Icon name="alert" size={16} />{error}</p>}
      <div class="check-row">
        <input type="checkbox" id={idPrefix + '-all'} checked={all} onChange={(e) => onChange((e.target as HTMLInputElement).checked ? [...ALL_MODULES] : [])} />
        <label for={idPrefix + '-all'} class="strong">{t('access.allModules')}</label>
      </div>
      <div class="check-grid">
        {ALL_MODULES.map((m) => (
          <div class="check-row" key={m}>
            <input type="checkbox" id={`${idPrefix}-${m}`} checked={value.includes(m)} aria-describedby={error ? idPrefix + '-error' : undefined}
              onChange={(e) => onChange((e.target as HTMLInputElement).checked ? ALL_MODULES.filter((x) => x === m || value.includes(x)) : value.filter((x) => x !== m))} />
            <label for={`${idPrefix}-${m}`}>{t('module.' + m)}</label>
          </div>
        ))}
      </div>
    </fieldset>
  );
}

function ModuleList({ modules }: { modules: Module[] }) {
  const { t } = useI18n();
  if (modules.length === ALL_MODULES.length) return <span>{t('access.allModules')}</span>;
  if (!modules.length) return <span class="muted">{t('access.noModules')}</span>;
  return <span>{modules.map((m) => t('module.' + m)).join(', ')}</span>;
}

export function AccessPage({ tab }: { tab: 'merchants' | 'operators' }) {
  const { t } = useI18n();
  const [creating, setCreating] = useState(false);
  return (
    <>
      <PageHeader title={t('module.access')} lead={t('access.lead')}
        actions={tab === 'merchants'
          ? <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}><Icon name="plus" size={18} />{t('access.newMerchant')}</button>
          : <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}><Icon name="plus" size={18} />{t('access.newOperator')}</button>} />
      <nav class="subnav" aria-label={t('access.sections')}>
        <a href={href('/access')} class={tab === 'merchants' ? 'active' : ''} aria-current={tab === 'merchants' ? 'page' : undefined}>{t('access.merchants')}</a>
        <a href={href('/access/operators')} class={tab === 'operators' ? 'active' : ''} aria-current={tab === 'operators' ? 'page' : undefined}>{t('access.operators')}</a>
      </nav>
      {tab === 'merchants' ? <MerchantList creating={creating} setCreating={setCreating} /> : <OperatorList creating={creating} setCreating={setCreating} />}
    </>
  );
}

function MerchantList({ creating, setCreating }: { creating: boolean; setCreating: (v: boolean) => void }) {
  const { t, date } = useI18n();
  const m = usePaged<Merchant>('access/merchants');
  return (
    <section class="card" aria-labelledby="merchants-title">
      <h2 id="merchants-title">{t('access.merchants')}</h2>
      {!m.items ? (m.error ? <LoadError error={m.error} retry={m.reload} /> : <Loading />) : m.items.length === 0 ? <p class="muted">{t('access.noMerchants')}</p> : (
        <div class="table-wrap">
          <table class="table">
            <thead><tr>
              <th scope="col">{t('access.merchantName')}</th>
              <th scope="col" class="hide-sm">{t('access.merchantId')}</th>
              <th scope="col">{t('access.status')}</th>
              <th scope="col">{t('access.created')}</th>
            </tr></thead>
            <tbody>
              {m.items.map((x) => (
                <tr key={x.id}>
                  <td><a class="strong" href={href('/access/merchants/' + x.id)}>{x.name}</a></td>
                  <td class="hide-sm"><code class="small">{x.id}</code></td>
                  <td>{x.active ? <Badge kind="ok">{t('access.active')}</Badge> : <Badge kind="muted">{t('access.inactive')}</Badge>}</td>
                  <td class="nowrap">{date(x.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {m.more && <button type="button" class="btn btn-secondary" disabled={m.busy} onClick={m.more}>{t('common.loadMore')}</button>}
      <NewMerchantDialog open={creating} onClose={() => setCreating(false)} />
    </section>
  );
}

function NewMerchantDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [name, setName] = useState('');
  const [acc, setAcc] = useState({ name: '', email: '', password: '' });
  const [modules, setModules] = useState<Module[]>([...ALL_MODULES]);
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  useEffect(() => { if (open) { setName(''); setAcc({ name: '', email: '', password: '' }); setModules([...ALL_MODULES]); f.clear(); } }, [open]);
  const submit = async () => {
    f.clear();
    setBusy(true);
    try {
      const r = await api.post<MerchantCreated>('access/merchants', { name: name.trim(), account: { ...acc, email: acc.email.trim(), name: acc.name.trim(), modules } });
      toast(t('access.merchantCreated', { name: r.merchant.name }));
      onClose();
      navigate('/access/merchants/' + r.merchant.id);
    } catch (x) { f.fromError(x, 'account.email'); }
    finally { setBusy(false); }
  };
  const labels = (k: string) => ({
    name: t('access.merchantName'), 'account.name': t('access.accountName'), 'account.email': t('access.email'),
    'account.password': t('access.password'), 'account.modules': t('access.modules'),
  } as Record<string, string>)[k];
  return (
    <Dialog open={open} onClose={onClose} title={t('access.newMerchant')} onSubmit={submit} wide
      footer={<>
        <button type="button" class="btn btn-secondary" onClick={onClose}>{t('common.cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled={busy}>{t('access.createMerchant')}</button>
      </>}>
      <div class="stack">
        <ErrorSummary general={f.general} list={f.list} labels={labels} />
        <TextField name="name" label={t('access.merchantName')} value={name} onValue={setName} error={f.errors.name} autocomplete="organization" />
        <fieldset class="fieldset">
          <legend>{t('access.firstAccount')}</legend>
          <p class="hint">{t('access.firstAccountHint')}</p>
          <div class="grid-2">
            <TextField name="account.name" label={t('access.accountName')} value={acc.name} onValue={(v) => setAcc({ ...acc, name: v })} error={f.errors['account.name']} autocomplete="off" />
            <TextField name="account.email" type="email" label={t('access.email')} value={acc.email} onValue={(v) => setAcc({ ...acc, email: v })} error={f.errors['account.email']} autocomplete="off" />
            <TextField name="account.password" type="password" label={t('access.password')} hint={t('access.passwordHint')} value={acc.password} onValue={(v) => setAcc({ ...acc, password: v })} error={f.errors['account.password']} autocomplete="new-password" />
          </div>
          <ModulePicker value={modules} onChange={setModules} idPrefix="nm-mod" error={f.errors['account.modules']} />
        </fieldset>
      </div>
    </Dialog>
  );
}

function AccountsTable({ items, onEdit }: { items: Account[]; onEdit: (a: Account) => void }) {
  const { t, date } = useI18n();
  return (
    <div class="table-wrap">
      <table class="table">
        <thead><tr>
          <th scope="col">{t('access.accountName')}</th>
          <th scope="col">{t('access.modules')}</th>
          <th scope="col">{t('access.status')}</th>
          <th scope="col" class="hide-sm">{t('access.created')}</th>
          <th scope="col"><span class="visually-hidden">{t('common.actions')}</span></th>
        </tr></thead>
        <tbody>
          {items.map((a) => (
            <tr key={a.id}>
              <td><span class="strong">{a.name}</span><br /><span class="muted small">{a.email}</span></td>
              <td>{a.role === 'operator' ? t('access.operatorModules') : <ModuleList modules={a.modules} />}</td>
              <td>{a.active ? <Badge kind="ok">{t('access.active')}</Badge> : <Badge kind="muted">{t('access.inactive')}</Badge>}</td>
              <td class="nowrap hide-sm">{date(a.created_at)}</td>
              <td class="cell-actions"><button type="button" class="btn btn-secondary btn-small" onClick={() => onEdit(a)} aria-label={t('access.editNamed', { name: a.email })}>{t('common.edit')}</button></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function OperatorList({ creating, setCreating }: { creating: boolean; setCreating: (v: boolean) => void }) {
  const { t } = useI18n();
  const a = usePaged<Account>('access/accounts');
  const [editing, setEditing] = useState<Account | null>(null);
  const ops = (a.items ?? []).filter((x) => x.role === 'operator');
  return (
    <section class="card" aria-labelledby="ops-title">
      <h2 id="ops-title">{t('access.operators')}</h2>
      <p class="hint">{t('access.operatorsHint')}</p>
      {!a.items ? (a.error ? <LoadError error={a.error} retry={a.reload} /> : <Loading />) : <AccountsTable items={ops} onEdit={setEditing} />}
      {a.more && <button type="button" class="btn btn-secondary" disabled={a.busy} onClick={a.more}>{t('common.loadMore')}</button>}
      <AccountDialog open={creating} merchantId={null} onClose={() => setCreating(false)} onSaved={() => { setCreating(false); a.reload(); }} />
      <EditAccountDialog account={editing} onClose={() => setEditing(null)} onSaved={() => { setEditing(null); a.reload(); }} />
    </section>
  );
}

export function MerchantPage({ id }: { id: string }) {
  const { t, date } = useI18n();
  const toast = useToast();
  const m = useAsync(() => api.get<Merchant>('access/merchants/' + encodeURIComponent(id)), [id]);
  const accounts = usePaged<Account>('access/accounts?merchant_id=' + encodeURIComponent(id));
  const [name, setName] = useState('');
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<Account | null>(null);
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const f = useFormErrors();
  useEffect(() => { if (m.data) setName(m.data.name); }, [m.data]);
  const back = { href: href('/access'), label: t('access.back') };
  if (m.loading && !m.data) return <><PageHeader title={t('module.access')} back={back} /><Loading /></>;
  if (m.error) return <><PageHeader title={t('module.access')} back={back} /><LoadError error={m.error} retry={m.reload} /></>;
  const x = m.data!;
  const rename = async (e: Event) => {
    e.preventDefault();
    f.clear();
    try { const r = await api.patch<Merchant>('access/merchants/' + encodeURIComponent(id), { name: name.trim() }); m.setData(r); toast(t('common.saved')); }
    catch (e2) { f.fromError(e2); }
  };
  const toggle = async () => {
    setBusy(true);
    try {
      const r = await api.patch<Merchant>('access/merchants/' + encodeURIComponent(id), { active: !x.active });
      m.setData(r); setConfirm(false); toast(t(r.active ? 'access.merchantActivated' : 'access.merchantDeactivated', { name: r.name }));
    } catch (e2) { setErr(errorMessage(t, e2)); }
    finally { setBusy(false); }
  };
  return (
    <>
      <PageHeader title={x.name} back={back}
        lead={<>{x.active ? <Badge kind="ok">{t('access.active')}</Badge> : <Badge kind="muted">{t('access.inactive')}</Badge>} · {t('access.createdOn', { date: date(x.created_at) })}</>} />
      <div class="two-col">
        <section class="card" aria-labelledby="mer-title">
          <h2 id="mer-title">{t('access.merchantDetails')}</h2>
          <div class="field">
            <span class="label-like" id="mid-label">{t('access.merchantId')}</span>
            <div class="invite-row"><code class="invite-code small-code" aria-labelledby="mid-label">{x.id}</code><CopyButton text={x.id} /></div>
          </div>
          <form onSubmit={rename} noValidate class="stack">
            <ErrorSummary general={f.general} list={f.list} labels={() => t('access.merchantName')} />
            <TextField name="merchant-name" label={t('access.merchantName')} value={name} onValue={setName} error={f.errors.name} />
            <div class="form-actions"><button type="submit" class="btn btn-primary" disabled={name.trim() === x.name}>{t('common.saveChanges')}</button></div>
          </form>
        </section>
        <section class="card" aria-labelledby="mer-status">
          <h2 id="mer-status">{t('access.merchantStatus')}</h2>
          <p>{x.active ? t('access.deactivateExplain') : t('access.activateExplain')}</p>
          <button type="button" class={'btn ' + (x.active ? 'btn-danger-outline' : 'btn-primary')} onClick={() => { setErr(null); setConfirm(true); }}>
            {x.active ? t('access.deactivateMerchant') : t('access.activateMerchant')}
          </button>
        </section>
      </div>
      <section class="card" aria-labelledby="acc-title">
        <div class="card-head">
          <h2 id="acc-title">{t('access.accounts')}</h2>
          <button type="button" class="btn btn-secondary" onClick={() => setCreating(true)}><Icon name="plus" size={18} />{t('access.newAccount')}</button>
        </div>
        {!accounts.items ? (accounts.error ? <LoadError error={accounts.error} retry={accounts.reload} /> : <Loading />) :
          accounts.items.length === 0 ? <p class="muted">{t('access.noAccounts')}</p> : <AccountsTable items={accounts.items} onEdit={setEditing} />}
        {accounts.more && <button type="button" class="btn btn-secondary" disabled={accounts.busy} onClick={accounts.more}>{t('common.loadMore')}</button>}
      </section>
      <AccountDialog open={creating} merchantId={id} onClose={() => setCreating(false)} onSaved={() => { setCreating(false); accounts.reload(); }} />
      <EditAccountDialog account={editing} onClose={() => setEditing(null)} onSaved={() => { setEditing(null); accounts.reload(); }} />
      <ConfirmDialog open={confirm} title={x.active ? t('access.deactivateMerchant') : t('access.activateMerchant')}
        message={<p>{x.active ? t('access.deactivateExplain') : t('access.activateExplain')}</p>}
        confirmLabel={x.active ? t('access.deactivateMerchant') : t('access.activateMerchant')} danger={x.active} busy={busy} error={err}
        onConfirm={toggle} onClose={() => setConfirm(false)} />
    </>
  );
}

function AccountDialog({ open, merchantId, onClose, onSaved }: { open: boolean; merchantId: string | null; onClose: () => void; onSaved: () => void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [acc, setAcc] = useState({ name: '', email: '', password: '' });
  const [modules, setModules] = useState<Module[]>([...ALL_MODULES]);
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  useEffect(() => { if (open) { setAcc({ name: '', email: '', password: '' }); setModules([...ALL_MODULES]); f.clear(); } }, [open]);
  const submit = async () => {
    f.clear();
    setBusy(true);
    try {
      const body: CreateAccountRequest = merchantId
        ? { merchant_id: merchantId, role: 'merchant', name: acc.name.trim(), email: acc.email.trim(), password: acc.password, modules }
        : { role: 'operator', name: acc.name.trim(), email: acc.email.trim(), password: acc.password };
      const r = await api.post<Account>('access/accounts', body);
      toast(t('access.accountCreated', { name: r.email }));
      onSaved();
    } catch (x) { f.fromError(x, 'email'); }
    finally { setBusy(false); }
  };
  const labels = (k: string) => ({ name: t('access.accountName'), email: t('access.email'), password: t('access.password'), modules: t('access.modules') } as Record<string, string>)[k];
  return (
    <Dialog open={open} onClose={onClose} title={merchantId ? t('access.newAccount') : t('access.newOperator')} onSubmit={submit} wide
      footer={<>
        <button type="button" class="btn btn-secondary" onClick={onClose}>{t('common.cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled={busy}>{t('access.createAccount')}</button>
      </>}>
      <div class="stack">
        <ErrorSummary general={f.general} list={f.list} labels={labels} />
        <div class="grid-2">
          <TextField name="name" label={t('access.accountName')} value={acc.name} onValue={(v) => setAcc({ ...acc, name: v })} error={f.errors.name} autocomplete="off" />
          <TextField name="email" type="email" label={t('access.email')} value={acc.email} onValue={(v) => setAcc({ ...acc, email: v })} error={f.errors.email} autocomplete="off" />
          <TextField name="password" type="password" label={t('access.password')} hint={t('access.passwordHint')} value={acc.password} onValue={(v) => setAcc({ ...acc, password: v })} error={f.errors.password} autocomplete="new-password" />
        </div>
        {merchantId ? <ModulePicker value={modules} onChange={setModules} idPrefix="na-mod" error={f.errors.modules} /> : <p class="hint">{t('access.operatorModules')}</p>}
      </div>
    </Dialog>
  );
}

function EditAccountDialog({ account, onClose, onSaved }: { account: Account | null; onClose: () => void; onSaved: () => void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [name, setName] = useState('');
  const [modules, setModules] = useState<Module[]>([]);
  const [active, setActive] = useState(true);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  useEffect(() => { if (account) { setName(account.name); setModules(account.modules); setActive(account.active); setPassword(''); f.clear(); } }, [account]);
  const submit = async () => {
    if (!account) return;
    f.clear();
    setBusy(true);
    try {
      const body: Record<string, unknown> = { name: name.trim(), active };
      if (account.role === 'merchant') body.modules = modules;
      if (password) body.password = password;
      await api.patch<Account>('access/accounts/' + encodeURIComponent(account.id), body);
      toast(t('common.saved'));
      onSaved();
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };
  const labels = (k: string) => ({ name: t('access.accountName'), password: t('access.newPassword'), modules: t('access.modules') } as Record<string, string>)[k];
  return (
    <Dialog open={!!account} onClose={onClose} title={t('access.editAccount', { name: account?.email ?? '' })} onSubmit={submit} wide
      footer={<>
        <button type="button" class="btn btn-secondary" onClick={onClose}>{t('common.cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled={busy}>{t('common.saveChanges')}</button>
      </>}>
      <div class="stack">
        <ErrorSummary general={f.general} list={f.list} labels={labels} />
        <TextField name="name" label={t('access.accountName')} value={name} onValue={setName} error={f.errors.name} autocomplete="off" />
        {account?.role === 'merchant' && <ModulePicker value={modules} onChange={setModules} idPrefix="ea-mod" error={f.errors.modules} />}
        <Switch id="ea-active" checked={active} onChange={setActive} label={t('access.accountActive')} hint={t('access.accountActiveHint')} />
        <TextField name="password" type="password" label={t('access.newPassword')} hint={t('access.newPasswordHint')} value={password} onValue={setPassword} error={f.errors.password} autocomplete="new-password" />
      </div>
    </Dialog>
  );
}
