import { useEffect, useState } from 'preact/hooks';
import {
  api, fetchAll, type Alerting, type Expert, type ExpertFeatures, type ExpertStatus, type InviteCode, type ReassignResult, type Store,
} from '../api';
import { useI18n } from '../i18n';
import { href, navigate } from '../router';
import {
  Badge, ConfirmDialog, CopyButton, Dialog, EmptyState, ErrorSummary, Field, LoadError, Loading, PageHeader, Switch, TextField,
  errorMessage, useAsync, useFormErrors, useToast,
} from '../components/ui';
import { Icon } from '../components/icons';
import { InviteByEmail } from './messaging';

function StatusBadge({ status }: { status: ExpertStatus }) {
  const { t } = useI18n();
  return <Badge kind={status === 'approved' ? 'ok' : status === 'pending' ? 'warn' : 'muted'}>{t(`team.status.${status}`)}</Badge>;
}

/** Whether the expert's phone can be alerted while the app is closed (Web Push, issue 23). */
function AlertBadge({ a }: { a?: Alerting }) {
  const { t } = useI18n();
  if (!a) return null;
  const title = a.state === 'failing' && a.last_error ? a.last_error : undefined;
  return (
    <span class="alert-badge" title={title}>
      <Badge kind={a.state === 'ok' ? 'ok' : 'warn'}>{t(`team.alerts.${a.state}`)}</Badge>
    </span>
  );
}

export function TeamPage() {
  const { t, date } = useI18n();
  const toast = useToast();
  const [tab, setTab] = useState<'approved' | 'deactivated'>('approved');
  const [q, setQ] = useState('');
  const experts = useAsync(() => fetchAll<Expert>('team/experts'), []);
  const stores = useAsync(() => fetchAll<Store>('stores'), []);
  const alerting = useAsync(() => api.get<Alerting[]>('team/alerting'), []);
  const alertOf = (id: string) => alerting.data?.find((a) => a.expert_id === id);
  const [busyId, setBusyId] = useState<string | null>(null);
  const [actionErr, setActionErr] = useState<string | null>(null);

  const approve = async (x: Expert) => {
    setBusyId(x.id);
    setActionErr(null);
    try {
      await api.post(`team/experts/${encodeURIComponent(x.id)}/approve`);
      toast(t('team.approved', { name: x.name }));
      navigate('/team/' + x.id + '?approved=1');
    } catch (e) {
      setActionErr(errorMessage(t, e));
      setBusyId(null);
    }
  };

  const list = experts.data ?? [];
  const pending = list.filter((x) => x.status === 'pending');
  const needle = q.trim().toLowerCase();
  const shown = list.filter((x) => x.status === tab && (!needle || x.name.toLowerCase().includes(needle) || x.email.toLowerCase().includes(needle)));
  const storeName = (id: string) => stores.data?.find((s) => s.id === id)?.name ?? '…';

  return (
    <>
      <PageHeader title={t('module.team')} lead={t('team.lead')} actions={<InviteByEmail />} />
      <InviteCode />
      {actionErr && <p class="alert alert-error" role="alert"><Icon name="alert" />{actionErr}</p>}
      {experts.loading && !experts.data ? <Loading /> : experts.error ? <LoadError error={experts.error} retry={experts.reload} /> : (
        <>
          <section class={'card pending-card' + (pending.length ? ' has-pending' : '')} aria-labelledby="pending-title">
            <h2 id="pending-title">
              {t('team.pendingTitle')} <span class="count-pill">{pending.length}</span>
            </h2>
            {pending.length === 0 ? <p class="muted">{t('team.pendingNone')}</p> : (
              <>
                <p>{t('team.pendingLead')}</p>
                <ul class="pending-list">
                  {pending.map((x) => (
                    <li key={x.id} class="pending-item">
                      <div>
                        <p class="strong">{x.name}</p>
                        <p class="muted small">{x.email} · {t('team.signedUp', { date: date(x.created_at) })}</p>
                      </div>
                      <button type="button" class="btn btn-primary" disabled={busyId === x.id} onClick={() => approve(x)}
                        aria-label={t('team.approveNamed', { name: x.name })}>
                        <Icon name="check" size={18} />{t('team.approve')}
                      </button>
                    </li>
                  ))}
                </ul>
              </>
            )}
          </section>

          <section class="card" aria-labelledby="experts-title">
            <div class="card-head">
              <h2 id="experts-title">{t('team.experts')}</h2>
              <div class="segmented" role="group" aria-label={t('team.filter')}>
                {(['approved', 'deactivated'] as const).map((s) => (
                  <button key={s} type="button" aria-pressed={tab === s} onClick={() => setTab(s)}>
                    {t(`team.tab.${s}`)} <span class="count">{list.filter((x) => x.status === s).length}</span>
                  </button>
                ))}
              </div>
            </div>
            {list.some((x) => x.status === tab) && (
              <div class="search search-block">
                <label for="expert-search" class="visually-hidden">{t('team.search')}</label>
                <Icon name="search" size={18} />
                <input id="expert-search" type="search" value={q} placeholder={t('team.search')} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
              </div>
            )}
            {shown.length === 0 ? <p class="muted">{needle ? t('team.noMatch') : t(tab === 'approved' ? 'team.noneApproved' : 'team.noneDeactivated')}</p> : (
              <div class="table-wrap">
                <table class="table">
                  <thead>
                    <tr>
                      <th scope="col">{t('team.name')}</th>
                      <th scope="col" class="hide-sm">{t('team.stores')}</th>
                      <th scope="col" class="hide-sm">{t('team.maxChats')}</th>
                      <th scope="col">{t('team.status')}</th>
                      <th scope="col"><span class="visually-hidden">{t('common.actions')}</span></th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.map((x) => (
                      <tr key={x.id}>
                        <td><a href={href('/team/' + x.id)} class="strong">{x.name}</a><br /><span class="muted small">{x.email}</span></td>
                        <td class="hide-sm">{x.store_ids.length ? x.store_ids.map(storeName).join(', ') : <span class="muted">{t('team.noStores')}</span>}</td>
                        <td class="hide-sm">{x.max_chats}</td>
                        <td><StatusBadge status={x.status} />{x.status === 'approved' ? <AlertBadge a={alertOf(x.id)} /> : null}</td>
                        <td class="cell-actions">
                          <a class="btn btn-secondary btn-small" href={href('/team/' + x.id)} aria-label={t('team.manageNamed', { name: x.name })}>{t('team.manage')}</a>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </>
      )}
    </>
  );
}

function InviteCode() {
  const { t } = useI18n();
  const toast = useToast();
  const { data, error, reload, setData } = useAsync(() => api.get<InviteCode>('team/invite-code'), []);
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const rotate = async () => {
    setBusy(true);
    try {
      const r = await api.post<InviteCode>('team/invite-code');
      setData(r);
      setConfirm(false);
      toast(t('team.inviteRotated'));
    } catch (e) { setErr(errorMessage(t, e)); }
    finally { setBusy(false); }
  };
  return (
    <section class="card invite" aria-labelledby="invite-title">
      <div>
        <h2 id="invite-title">{t('team.inviteTitle')}</h2>
        <p class="hint">{t('team.inviteLead')}</p>
      </div>
      {error ? <LoadError error={error} retry={reload} /> : (
        <div class="invite-row">
          <code class="invite-code" aria-label={t('team.inviteTitle')}>{data?.invite_code ?? '…'}</code>
          {data && <CopyButton text={data.invite_code} />}
          <button type="button" class="btn btn-ghost" onClick={() => { setErr(null); setConfirm(true); }}><Icon name="refresh" size={18} />{t('team.inviteRotate')}</button>
        </div>
      )}
      <ConfirmDialog open={confirm} title={t('team.inviteRotateTitle')} message={<p>{t('team.inviteRotateBody')}</p>}
        confirmLabel={t('team.inviteRotate')} busy={busy} error={err} onConfirm={rotate} onClose={() => setConfirm(false)} />
    </section>
  );
}

export function ExpertPage({ id }: { id: string }) {
  const { t, date } = useI18n();
  const toast = useToast();
  const expert = useAsync(() => api.get<Expert>('team/experts/' + encodeURIComponent(id)), [id]);
  const stores = useAsync(() => fetchAll<Store>('stores'), []);
  const back = { href: href('/team'), label: t('team.back') };
  const justApproved = location.hash.includes('approved=1');
  const [confirm, setConfirm] = useState<null | 'deactivate' | 'reactivate' | 'approve'>(null);
  const [reassign, setReassign] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);

  if (expert.loading && !expert.data) return <><PageHeader title={t('module.team')} back={back} /><Loading /></>;
  if (expert.error) return <><PageHeader title={t('module.team')} back={back} /><LoadError error={expert.error} retry={expert.reload} /></>;
  const x = expert.data!;

  const act = async () => {
    if (!confirm) return;
    setBusy(true);
    try {
      const r = await api.post<Expert>(`team/experts/${encodeURIComponent(x.id)}/${confirm}`);
      if (r && typeof r === 'object' && 'id' in r) expert.setData(r); else expert.reload();
      toast(t(`team.done.${confirm}`, { name: x.name }));
      setConfirm(null);
    } catch (e) { setErr(errorMessage(t, e)); }
    finally { setBusy(false); }
  };

  return (
    <>
      <PageHeader title={x.name} back={back}
        lead={<><span>{x.email}</span> · <StatusBadge status={x.status} /> · <span>{t('team.signedUp', { date: date(x.created_at) })}</span></>}
        actions={
          <>
            {x.status === 'pending' && <button type="button" class="btn btn-primary" onClick={() => { setErr(null); setConfirm('approve'); }}><Icon name="check" size={18} />{t('team.approve')}</button>}
            {x.status === 'approved' && <button type="button" class="btn btn-secondary" onClick={() => setReassign(true)}>{t('team.reassign')}</button>}
            {x.status === 'approved' && <button type="button" class="btn btn-danger-outline" onClick={() => { setErr(null); setConfirm('deactivate'); }}>{t('team.deactivate')}</button>}
            {x.status === 'deactivated' && <button type="button" class="btn btn-secondary" onClick={() => setReassign(true)}>{t('team.reassign')}</button>}
            {x.status === 'deactivated' && <button type="button" class="btn btn-primary" onClick={() => { setErr(null); setConfirm('reactivate'); }}>{t('team.reactivate')}</button>}
          </>
        } />
      {justApproved && x.status === 'approved' && x.store_ids.length === 0 && (
        <p class="alert alert-success" role="status"><Icon name="check" />{t('team.approvedNext')}</p>
      )}
      <div class="two-col">
        <AssignmentsCard expert={x} stores={stores.data} storesError={stores.error} onSaved={(e) => expert.setData(e)} />
        <ProfileCard expert={x} onSaved={(e) => expert.setData(e)} />
      </div>
      <ConfirmDialog open={!!confirm} title={confirm ? t(`team.confirm.${confirm}.title`, { name: x.name }) : ''}
        message={confirm ? <p>{t(`team.confirm.${confirm}.body`)}</p> : null}
        confirmLabel={confirm ? t(`team.${confirm}`) : ''} danger={confirm === 'deactivate'} busy={busy} error={err}
        onConfirm={act} onClose={() => setConfirm(null)} />
      <ReassignDialog open={reassign} expert={x} onClose={() => setReassign(false)} />
    </>
  );
}

function AssignmentsCard({ expert, stores, storesError, onSaved }: { expert: Expert; stores?: Store[]; storesError: unknown; onSaved: (e: Expert) => void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [storeIds, setStoreIds] = useState<string[]>(expert.store_ids);
  const [deptIds, setDeptIds] = useState<string[]>(expert.department_ids);
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  useEffect(() => { setStoreIds(expert.store_ids); setDeptIds(expert.department_ids); }, [expert.id]);

  const toggleStore = (s: Store, on: boolean) => {
    if (on) {
      setStoreIds([...storeIds, s.id]);
      // A new store starts with all its departments; untick the ones that do not apply.
      setDeptIds([...deptIds.filter((d) => !s.departments.some((x) => x.id === d)), ...s.departments.map((d) => d.id)]);
    } else {
      setStoreIds(storeIds.filter((x) => x !== s.id));
      setDeptIds(deptIds.filter((d) => !s.departments.some((x) => x.id === d)));
    }
  };
  const toggleDept = (s: Store, id: string, on: boolean) => {
    if (on) {
      setDeptIds([...deptIds, id]);
      if (!storeIds.includes(s.id)) setStoreIds([...storeIds, s.id]);
    } else setDeptIds(deptIds.filter((x) => x !== id));
  };
  const save = async (e: Event) => {
    e.preventDefault();
    f.clear();
    setBusy(true);
    try {
      const r = await api.put<Expert>(`team/experts/${encodeURIComponent(expert.id)}/assignments`, { store_ids: storeIds, department_ids: deptIds });
      if (r && typeof r === 'object' && 'id' in r) onSaved(r); else onSaved({ ...expert, store_ids: storeIds, department_ids: deptIds });
      toast(t('team.assignmentsSaved'));
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };
  return (
    <section class="card" aria-labelledby="assign-title">
      <h2 id="assign-title">{t('team.assignments')}</h2>
      <p class="hint">{t('team.assignmentsHint')}</p>
      <form onSubmit={save} noValidate class="stack">
        <ErrorSummary general={f.general} list={f.list} />
        {storesError ? <LoadError error={storesError} /> : !stores ? <Loading /> : stores.length === 0 ? (
          <p class="muted">{t('team.noStoresYet')} <a href={href('/stores/new')}>{t('stores.add')}</a></p>
        ) : (
          <div class="assign-list">
            {stores.map((s) => {
              const on = storeIds.includes(s.id);
              return (
                <fieldset key={s.id} class={'assign-store' + (on ? ' on' : '')}>
                  <legend class="visually-hidden">{s.name}</legend>
                  <div class="check-row store-check">
                    <input type="checkbox" id={'as-' + s.id} checked={on} onChange={(e) => toggleStore(s, (e.target as HTMLInputElement).checked)} />
                    <label for={'as-' + s.id}><span class="strong">{s.name}</span> <span class="muted small">{s.address.city}</span></label>
                  </div>
                  {s.departments.length > 0 && (
                    <ul class="dept-checks" aria-label={t('team.departmentsOf', { name: s.name })}>
                      {s.departments.map((d) => (
                        <li key={d.id} class="check-row">
                          <input type="checkbox" id={'ad-' + d.id} checked={deptIds.includes(d.id)}
                            onChange={(e) => toggleDept(s, d.id, (e.target as HTMLInputElement).checked)} />
                          <label for={'ad-' + d.id}>{d.name}</label>
                        </li>
                      ))}
                    </ul>
                  )}
                </fieldset>
              );
            })}
          </div>
        )}
        <div class="form-actions">
          <button type="submit" class="btn btn-primary" disabled={busy || !stores}>{t('team.saveAssignments')}</button>
        </div>
      </form>
    </section>
  );
}

function ProfileCard({ expert, onSaved }: { expert: Expert; onSaved: (e: Expert) => void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [name, setName] = useState(expert.name);
  const [maxChats, setMaxChats] = useState(String(expert.max_chats));
  const [features, setFeatures] = useState<ExpertFeatures>(expert.features);
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  useEffect(() => { setName(expert.name); setMaxChats(String(expert.max_chats)); setFeatures(expert.features); }, [expert.id]);
  const save = async (e: Event) => {
    e.preventDefault();
    f.clear();
    const n = Number(maxChats);
    if (!Number.isInteger(n) || n < 1 || n > 20) { f.setLocal([{ field: 'max_chats', message: t('team.maxChatsRange') }]); return; }
    setBusy(true);
    try {
      const r = await api.patch<Expert>(`team/experts/${encodeURIComponent(expert.id)}`, { name: name.trim(), max_chats: n, features });
      onSaved(r);
      toast(t('common.saved'));
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };
  return (
    <section class="card" aria-labelledby="profile-title">
      <h2 id="profile-title">{t('team.profile')}</h2>
      <form onSubmit={save} noValidate class="stack">
        <ErrorSummary general={f.general} list={f.list} labels={(k) => (k === 'name' ? t('team.name') : k === 'max_chats' ? t('team.maxChats') : undefined)} />
        <TextField name="name" label={t('team.name')} value={name} onValue={setName} error={f.errors.name} />
        <TextField name="max_chats" label={t('team.maxChats')} hint={t('team.maxChatsHint')} type="number" min={1} max={20}
          value={maxChats} onValue={setMaxChats} error={f.errors.max_chats} class="narrow" />
        <fieldset class="fieldset">
          <legend>{t('team.features')}</legend>
          <Switch id="feat-contacts" checked={features.contacts} onChange={(v) => setFeatures({ ...features, contacts: v })}
            label={t('team.feature.contacts')} hint={t('team.feature.contactsHint')} />
          <Switch id="feat-product_sharing" checked={features.product_sharing} onChange={(v) => setFeatures({ ...features, product_sharing: v })}
            label={t('team.feature.product_sharing')} hint={t('team.feature.product_sharingHint')} />
          <Switch id="feat-transfers" checked={features.transfers} onChange={(v) => setFeatures({ ...features, transfers: v })}
            label={t('team.feature.transfers')} hint={t('team.feature.transfersHint')} />
        </fieldset>
        <div class="form-actions">
          <button type="submit" class="btn btn-primary" disabled={busy}>{t('common.saveChanges')}</button>
        </div>
      </form>
    </section>
  );
}

function ReassignDialog({ open, expert, onClose }: { open: boolean; expert: Expert; onClose: () => void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [others, setOthers] = useState<Expert[] | null>(null);
  const [to, setTo] = useState('');
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!open) return;
    setErr(null); setTo('');
    fetchAll<Expert>('team/experts?status=approved').then((l) => setOthers(l.filter((x) => x.id !== expert.id)), (e) => setErr(errorMessage(t, e)));
  }, [open]);
  const submit = async () => {
    if (!to) { setErr(t('team.reassignChoose')); return; }
    setBusy(true);
    try {
      const r = await api.post<ReassignResult>(`team/experts/${encodeURIComponent(expert.id)}/reassign-contacts`, { to_expert_id: to });
      const target = others?.find((x) => x.id === to)?.name ?? '';
      toast(t('team.reassignDone', { n: r.moved, name: target }));
      onClose();
    } catch (e) { setErr(errorMessage(t, e)); }
    finally { setBusy(false); }
  };
  return (
    <Dialog open={open} onClose={onClose} title={t('team.reassignTitle', { name: expert.name })} onSubmit={submit}
      footer={<>
        <button type="button" class="btn btn-secondary" onClick={onClose}>{t('common.cancel')}</button>
        <button type="submit" class="btn btn-primary" disabled={busy}>{t('team.reassign')}</button>
      </>}>
      <p>{t('team.reassignBody')}</p>
      {!others ? <Loading /> : others.length === 0 ? <p class="muted">{t('team.reassignNone')}</p> : (
        <Field name="reassign-to" label={t('team.reassignTo')} error={err ?? undefined}>
          {({ id, describedBy, invalid }) => (
            <select id={id} value={to} aria-describedby={describedBy} aria-invalid={invalid || undefined} onChange={(e) => setTo((e.target as HTMLSelectElement).value)}>
              <option value="">{t('team.reassignPlaceholder')}</option>
              {others.map((o) => <option key={o.id} value={o.id}>{o.name} ({o.email})</option>)}
            </select>
          )}
        </Field>
      )}
      {err && (!others || others.length === 0) && <p class="field-error" role="alert">{err}</p>}
    </Dialog>
  );
}
