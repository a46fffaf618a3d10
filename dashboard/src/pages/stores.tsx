import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, fetchAll, type Address, type DateException, type Department, type Store, type StoreInput, type StorePatch, type WeeklyHours } from '../api';
import { useI18n, type Key } from '../i18n';
import { href, navigate } from '../router';
import {
  Badge, ConfirmDialog, EmptyState, ErrorSummary, Field, LoadError, Loading, PageHeader, TextField,
  errorMessage, translateServerMessage, UnsavedNote, useAsync, useFormErrors, useToast, useUnsaved,
} from '../components/ui';
import { Icon } from '../components/icons';
import { checkTimes, ExceptionsEditor, HoursEditor, isOpenNow, useHoursSummary, useWeekdayNames } from './hours';

const COUNTRIES = ('AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW').split(' ');

function useCountries() {
  const { lang } = useI18n();
  return useMemo(() => {
    let dn: Intl.DisplayNames | null = null;
    try { dn = new Intl.DisplayNames([lang], { type: 'region' }); } catch { /* old browser */ }
    return COUNTRIES.map((c) => ({ code: c, name: dn?.of(c) ?? c })).sort((a, b) => a.name.localeCompare(b.name, lang));
  }, [lang]);
}

function useTimezones(current: string) {
  return useMemo(() => {
    let zones: string[] = [];
    try { zones = (Intl as unknown as { supportedValuesOf: (k: string) => string[] }).supportedValuesOf('timeZone'); } catch { zones = []; }
    if (!zones.length) zones = ['Europe/Stockholm', 'Europe/Berlin', 'Europe/Athens', 'Europe/Prague', 'Asia/Tehran', 'Europe/London', 'UTC'];
    if (current && !zones.includes(current)) zones = [current, ...zones];
    return zones;
  }, [current]);
}

export function countryName(code: string, lang: string) {
  try { return new Intl.DisplayNames([lang], { type: 'region' }).of(code) ?? code; } catch { return code; }
}

export function StoresPage() {
  const { t, lang } = useI18n();
  const { data, error, loading, reload } = useAsync(() => fetchAll<Store>('stores'), []);
  const summary = useHoursSummary();
  return (
    <>
      <PageHeader title={t('module.stores')} lead={t('stores.lead')}
        actions={<a class="btn btn-primary" href={href('/stores/new')}><Icon name="plus" size={18} />{t('stores.add')}</a>} />
      {loading && !data ? <Loading /> : error ? <LoadError error={error} retry={reload} /> : data && data.length === 0 ? (
        <EmptyState icon="stores" title={t('stores.emptyTitle')}>
          <p>{t('stores.emptyBody')}</p>
          <a class="btn btn-primary" href={href('/stores/new')}><Icon name="plus" size={18} />{t('stores.add')}</a>
        </EmptyState>
      ) : (
        <ul class="store-list" aria-label={t('stores.listLabel')}>
          {data!.map((s) => (
            <li key={s.id} class="card store-card">
              <div class="store-card-main">
                <h2><a href={href('/stores/' + s.id)}>{s.name}</a></h2>
                <p class="muted">
                  {[s.address.street, [s.address.postal_code, s.address.city].filter(Boolean).join(' '), s.address.country && countryName(s.address.country, lang)].filter(Boolean).join(', ') || t('stores.noAddress')}
                </p>
                <p class="store-hours"><Icon name="clock" size={16} /><span>{summary(s.hours)}</span></p>
                {s.exceptions.length > 0 && <p class="muted small">{t('stores.exceptionsCount', { n: s.exceptions.length })}</p>}
              </div>
              <div class="store-card-side">
                <p class="small muted now-row">
                  <span class="visually-hidden">{t('stores.nowLabel', { tz: s.timezone })}: </span>
                  {(() => { const o = isOpenNow(s); return o === null ? null : o ? <Badge kind="ok">{t('stores.openNow')}</Badge> : <Badge kind="muted">{t('stores.closedNow')}</Badge>; })()}
                  <span>{s.timezone.replace(/_/g, ' ')}</span>
                </p>
                <ul class="chips" aria-label={t('stores.departments')}>
                  {s.departments.map((d) => <li key={d.id} class="chip">{d.name}</li>)}
                  {s.departments.length === 0 && <li class="muted small">{t('stores.noDepartments')}</li>}
                </ul>
                <a class="btn btn-secondary btn-small" href={href('/stores/' + s.id)} aria-label={t('stores.editNamed', { name: s.name })}>
                  <Icon name="edit" size={16} />{t('common.edit')}
                </a>
              </div>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

const DEFAULT_HOURS: WeeklyHours = {
  monday: [{ open: '09:00', close: '18:00' }], tuesday: [{ open: '09:00', close: '18:00' }],
  wednesday: [{ open: '09:00', close: '18:00' }], thursday: [{ open: '09:00', close: '18:00' }],
  friday: [{ open: '09:00', close: '18:00' }], saturday: [{ open: '10:00', close: '16:00' }], sunday: [],
};

interface Draft { name: string; address: Address; timezone: string; hours: WeeklyHours; exceptions: DateException[] }

function browserZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'Europe/Stockholm'; } catch { return 'Europe/Stockholm'; }
}

export function StoreEditPage({ id }: { id: string | null }) {
  const { t, lang } = useI18n();
  const toast = useToast();
  const isNew = id === null;
  const { data: store, error: loadErr, loading, reload } = useAsync<Store | null>(
    () => (id ? api.get<Store>('stores/' + encodeURIComponent(id)) : Promise.resolve(null)), [id]);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [savedJson, setSavedJson] = useState('');
  const [newDepts, setNewDepts] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleteErr, setDeleteErr] = useState<string | null>(null);
  const f = useFormErrors();
  const countries = useCountries();
  const dayNames = useWeekdayNames('long');
  const zones = useTimezones(draft?.timezone ?? '');

  useEffect(() => {
    if (isNew) setDraft({ name: '', address: { street: '', postal_code: '', city: '', country: '' }, timezone: browserZone(), hours: DEFAULT_HOURS, exceptions: [] });
    else if (store) {
      const d: Draft = { name: store.name, address: { ...store.address }, timezone: store.timezone, hours: store.hours, exceptions: [...store.exceptions].sort((a, b) => a.date.localeCompare(b.date)).map((x) => ({ ...x, note: x.note ?? '' })) };
      setDraft(d);
      setSavedJson(JSON.stringify(d));
    }
  }, [store, isNew]);
  const dirty = !isNew && !!draft && !!savedJson && JSON.stringify(draft) !== savedJson;
  useUnsaved(dirty);

  const title = isNew ? t('stores.new') : store?.name ?? t('module.stores');
  const back = { href: href('/stores'), label: t('stores.back') };
  if (!isNew && loading && !store) return <><PageHeader title={t('module.stores')} back={back} /><Loading /></>;
  if (loadErr) return <><PageHeader title={t('module.stores')} back={back} /><LoadError error={loadErr} retry={reload} /></>;
  if (!draft) return <><PageHeader title={title} back={back} /><Loading /></>;

  const set = (p: Partial<Draft>) => setDraft({ ...draft, ...p });
  const setAddr = (p: Partial<Address>) => setDraft({ ...draft, address: { ...draft.address, ...p } });

  const labels = (field: string) => {
    const m: Record<string, Key> = {
      name: 'stores.name', timezone: 'stores.timezone', 'address.street': 'stores.street', 'address.postal_code': 'stores.postalCode',
      'address.city': 'stores.city', 'address.country': 'stores.country',
    };
    if (m[field]) return t(m[field]);
    const h = field.match(/^hours\.(\w+)(?:\[(\d+)\])?/);
    if (h) return `${t('stores.hours')} · ${dayNames[h[1] as keyof typeof dayNames] ?? h[1]}${h[2] ? ' ' + (Number(h[2]) + 1).toLocaleString(lang) : ''}`;
    const x = field.match(/^exceptions\[(\d+)\]/);
    if (x) return `${t('stores.exceptions')} · ${draft.exceptions[Number(x[1])]?.date ?? Number(x[1]) + 1}`;
    if (field.startsWith('departments')) return t('stores.departments');
    return undefined;
  };

  const save = async (e: Event) => {
    e.preventDefault();
    f.clear();
    // Keep special dates in date order; errors from the server then point at the rows shown.
    const sortedEx = [...draft.exceptions].sort((a, b) => a.date.localeCompare(b.date));
    setDraft({ ...draft, exceptions: sortedEx });
    const local = checkTimes(draft.hours, sortedEx, t('hours.badTime'));
    if (!draft.name.trim()) local.unshift({ field: 'name', message: t('common.required') });
    if (local.length) { f.setLocal(local); return; }
    setBusy(true);
    const body = {
      name: draft.name.trim(), address: draft.address, timezone: draft.timezone, hours: draft.hours,
      exceptions: sortedEx.map((x) => ({ date: x.date, hours: x.hours, note: x.note?.trim() ? x.note.trim() : null })),
    } satisfies StorePatch;
    try {
      if (isNew) {
        const input = { ...body, departments: newDepts.map((d) => d.trim()).filter(Boolean) } satisfies StoreInput;
        const created = await api.post<Store>('stores', input);
        toast(t('stores.created', { name: created.name }));
        navigate('/stores/' + created.id);
      } else {
        await api.patch<Store>('stores/' + encodeURIComponent(id!), body);
        toast(t('common.saved'));
        reload();
      }
    } catch (err) {
      f.fromError(err);
    } finally {
      setBusy(false);
    }
  };

  const doDelete = async () => {
    setBusy(true);
    try {
      await api.del('stores/' + encodeURIComponent(id!));
      toast(t('stores.deleted', { name: store!.name }));
      navigate('/stores');
    } catch (err) {
      setDeleteErr(errorMessage(t, err));
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeader title={title} back={back} lead={isNew ? t('stores.newLead') : undefined} />
      <form class="stack" onSubmit={save} noValidate>
        <ErrorSummary general={f.general} list={f.list} labels={labels} />
        <section class="card" aria-labelledby="sec-details">
          <h2 id="sec-details">{t('stores.details')}</h2>
          <div class="grid-2">
            <TextField name="name" label={t('stores.name')} value={draft.name} onValue={(v) => set({ name: v })} error={f.errors.name} required autocomplete="organization" />
            <Field name="timezone" label={t('stores.timezone')} hint={t('stores.timezoneHint')} error={f.errors.timezone}>
              {({ id: fid, describedBy, invalid }) => (
                <select id={fid} value={draft.timezone} aria-describedby={describedBy} aria-invalid={invalid || undefined}
                  onChange={(e) => set({ timezone: (e.target as HTMLSelectElement).value })}>
                  {zones.map((z) => <option key={z} value={z}>{z.replace(/_/g, ' ')}</option>)}
                </select>
              )}
            </Field>
          </div>
          <fieldset class="fieldset">
            <legend>{t('stores.address')}</legend>
            <div class="grid-2">
              <TextField name="address.street" label={t('stores.street')} value={draft.address.street} onValue={(v) => setAddr({ street: v })} error={f.errors['address.street']} autocomplete="street-address" class="span-2" />
              <TextField name="address.postal_code" label={t('stores.postalCode')} value={draft.address.postal_code} onValue={(v) => setAddr({ postal_code: v })} error={f.errors['address.postal_code']} autocomplete="postal-code" />
              <TextField name="address.city" label={t('stores.city')} value={draft.address.city} onValue={(v) => setAddr({ city: v })} error={f.errors['address.city']} autocomplete="address-level2" />
              <Field name="address.country" label={t('stores.country')} error={f.errors['address.country']}>
                {({ id: fid, describedBy, invalid }) => (
                  <select id={fid} value={draft.address.country} aria-describedby={describedBy} aria-invalid={invalid || undefined}
                    onChange={(e) => setAddr({ country: (e.target as HTMLSelectElement).value })}>
                    <option value="">{t('stores.chooseCountry')}</option>
                    {countries.map((c) => <option key={c.code} value={c.code}>{c.name}</option>)}
                  </select>
                )}
              </Field>
            </div>
          </fieldset>
        </section>

        <section class="card" aria-labelledby="sec-hours">
          <h2 id="sec-hours">{t('stores.hours')}</h2>
          <p class="hint">{t('stores.hoursHint', { tz: draft.timezone })}</p>
          <HoursEditor hours={draft.hours} onChange={(h) => set({ hours: h })} errors={f.errors} />
        </section>

        <section class="card" aria-labelledby="sec-exc">
          <h2 id="sec-exc">{t('stores.exceptions')}</h2>
          <p class="hint">{t('stores.exceptionsHint')}</p>
          <ExceptionsEditor list={draft.exceptions} onChange={(l) => set({ exceptions: l })} errors={f.errors} />
        </section>

        {isNew && (
          <section class="card" aria-labelledby="sec-dep">
            <h2 id="sec-dep">{t('stores.departments')}</h2>
            <p class="hint">{t('stores.departmentsHint')}</p>
            <NewDepartments list={newDepts} onChange={setNewDepts} />
          </section>
        )}

        <div class="form-actions sticky-actions">
          <button type="submit" class="btn btn-primary" disabled={busy}>{isNew ? t('stores.create') : t('common.saveChanges')}</button>
          <a class="btn btn-secondary" href={href('/stores')}>{t('common.cancel')}</a>
          <UnsavedNote dirty={dirty} />
        </div>
      </form>

      {!isNew && store && (
        <>
          <section class="card" aria-labelledby="sec-dep">
            <h2 id="sec-dep">{t('stores.departments')}</h2>
            <p class="hint">{t('stores.departmentsHintExisting')}</p>
            <DepartmentsEditor storeId={store.id} initial={store.departments} />
          </section>
          <section class="card danger-zone" aria-labelledby="sec-danger">
            <h2 id="sec-danger">{t('stores.deleteTitle')}</h2>
            <p>{t('stores.deleteBody')}</p>
            <button type="button" class="btn btn-danger" onClick={() => { setDeleteErr(null); setConfirmDelete(true); }}>
              <Icon name="trash" size={18} />{t('stores.delete')}
            </button>
          </section>
          <ConfirmDialog open={confirmDelete} title={t('stores.deleteConfirmTitle', { name: store.name })}
            message={<p>{t('stores.deleteConfirmBody')}</p>} confirmLabel={t('stores.delete')} danger busy={busy}
            error={deleteErr} onConfirm={doDelete} onClose={() => setConfirmDelete(false)} />
        </>
      )}
    </>
  );
}

function NewDepartments({ list, onChange }: { list: string[]; onChange: (l: string[]) => void }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const add = () => {
    const n = name.trim();
    if (!n) return;
    if (!list.includes(n)) onChange([...list, n]);
    setName('');
  };
  return (
    <div class="dept-editor">
      {list.length > 0 && (
        <ul class="chips">
          {list.map((d) => (
            <li key={d} class="chip chip-removable">{d}
              <button type="button" class="chip-x" aria-label={t('stores.removeDepartment', { name: d })} onClick={() => onChange(list.filter((x) => x !== d))}>
                <Icon name="x" size={14} />
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="inline-add">
        <label for="new-dept" class="visually-hidden">{t('stores.departmentName')}</label>
        <input id="new-dept" value={name} placeholder={t('stores.departmentPlaceholder')}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
          onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); add(); } }} />
        <button type="button" class="btn btn-secondary" onClick={add}><Icon name="plus" size={18} />{t('stores.addDepartment')}</button>
      </div>
    </div>
  );
}

function DepartmentsEditor({ storeId, initial }: { storeId: string; initial: Department[] }) {
  const { t } = useI18n();
  const toast = useToast();
  const [depts, setDepts] = useState(initial);
  const [names, setNames] = useState<Record<string, string>>(() => Object.fromEntries(initial.map((d) => [d.id, d.name])));
  const [newName, setNewName] = useState('');
  const [err, setErr] = useState<Record<string, string>>({});
  const [removing, setRemoving] = useState<Department | null>(null);
  const [busy, setBusy] = useState(false);

  const add = async (e: Event) => {
    e.preventDefault();
    const n = newName.trim();
    if (!n) { setErr({ new: t('common.required') }); return; }
    setBusy(true);
    try {
      const d = await api.post<Department>(`stores/${encodeURIComponent(storeId)}/departments`, { name: n });
      setDepts([...depts, d]);
      setNames({ ...names, [d.id]: d.name });
      setNewName('');
      setErr({});
      toast(t('stores.departmentAdded', { name: d.name }));
    } catch (x) {
      const detail = x instanceof ApiError ? x.fieldErrors.map((f) => translateServerMessage(t, f.message)).join(' ') : '';
      setErr({ new: detail || errorMessage(t, x) });
    } finally { setBusy(false); }
  };
  const rename = async (d: Department) => {
    const n = (names[d.id] ?? '').trim();
    if (!n) { setErr({ [d.id]: t('common.required') }); return; }
    try {
      const u = await api.patch<Department>(`departments/${encodeURIComponent(d.id)}`, { name: n });
      setDepts(depts.map((x) => (x.id === d.id ? u : x)));
      setErr({});
      toast(t('common.saved'));
    } catch (x) { setErr({ [d.id]: errorMessage(t, x) }); }
  };
  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    try {
      await api.del(`departments/${encodeURIComponent(removing.id)}`);
      setDepts(depts.filter((x) => x.id !== removing.id));
      toast(t('stores.departmentRemoved', { name: removing.name }));
      setRemoving(null);
    } catch (x) { setErr({ [removing.id]: errorMessage(t, x) }); setRemoving(null); }
    finally { setBusy(false); }
  };
  return (
    <div class="dept-editor">
      {depts.length === 0 && <p class="muted">{t('stores.noDepartments')}</p>}
      <ul class="dept-rows">
        {depts.map((d) => {
          const fid = 'dept-' + d.id;
          const changed = (names[d.id] ?? '') !== d.name;
          return (
            <li key={d.id} class="dept-row">
              <label for={fid} class="visually-hidden">{t('stores.departmentNameOf', { name: d.name })}</label>
              <input id={fid} value={names[d.id] ?? ''} aria-invalid={err[d.id] ? true : undefined} aria-describedby={err[d.id] ? fid + '-err' : undefined}
                onInput={(e) => setNames({ ...names, [d.id]: (e.target as HTMLInputElement).value })}
                onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); rename(d); } }} />
              <button type="button" class="btn btn-secondary btn-small" disabled={!changed} onClick={() => rename(d)}
                aria-label={t('stores.renameDepartment', { name: d.name })}>{t('common.save')}</button>
              <button type="button" class="icon-btn" onClick={() => setRemoving(d)} aria-label={t('stores.removeDepartment', { name: d.name })}>
                <Icon name="trash" size={18} />
              </button>
              {err[d.id] && <p class="field-error" id={fid + '-err'}><Icon name="alert" size={16} />{err[d.id]}</p>}
            </li>
          );
        })}
      </ul>
      <form class="inline-add" onSubmit={add} noValidate>
        <label for="new-dept" class="visually-hidden">{t('stores.departmentName')}</label>
        <input id="new-dept" value={newName} placeholder={t('stores.departmentPlaceholder')} aria-invalid={err.new ? true : undefined}
          aria-describedby={err.new ? 'new-dept-err' : undefined}
          onInput={(e) => setNewName((e.target as HTMLInputElement).value)} />
        <button type="submit" class="btn btn-secondary" disabled={busy}><Icon name="plus" size={18} />{t('stores.addDepartment')}</button>
        {err.new && <p class="field-error" id="new-dept-err"><Icon name="alert" size={16} />{err.new}</p>}
      </form>
      <ConfirmDialog open={!!removing} title={t('stores.removeDepartmentTitle', { name: removing?.name ?? '' })}
        message={<p>{t('stores.removeDepartmentBody')}</p>} confirmLabel={t('common.remove')} danger busy={busy}
        onConfirm={remove} onClose={() => setRemoving(null)} />
    </div>
  );
}
