import { useEffect, useState } from 'preact/hooks';
import { api, fetchAll, type Demo, type Merchant, type PublicStore, type WidgetConfig } from '../api';
import { useI18n, type T } from '../i18n';
import { href, navigate } from '../router';
import {
  ConfirmDialog, CopyButton, EmptyState, ErrorSummary, Field, LoadError, Loading, PageHeader, TextField,
  UnsavedNote, errorMessage, useAsync, useFormErrors, useToast, useUnsaved,
} from '../components/ui';
import { Icon } from '../components/icons';

/** Limits from the API contract: logo ≤ 200 KB (PNG, JPEG, WebP, SVG), screenshot ≤ 3 MB (PNG, JPEG, WebP). */
export const LOGO_MAX_BYTES = 200 * 1024;
export const SCREENSHOT_MAX_BYTES = 3 * 1024 * 1024;
const LOGO_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/svg+xml'];
const SCREENSHOT_TYPES = ['image/png', 'image/jpeg', 'image/webp'];

export function demoLink(d: Demo) { return new URL(d.url, location.origin).href; }

function readDataUrl(file: File): Promise<string> {
  return new Promise((ok, fail) => {
    const r = new FileReader();
    r.onload = () => ok(String(r.result));
    r.onerror = () => fail(r.error);
    r.readAsDataURL(file);
  });
}

function sizeText(lang: string, bytes: number) {
  const mb = bytes >= 1024 * 1024;
  return new Intl.NumberFormat(lang, { style: 'unit', unit: mb ? 'megabyte' : 'kilobyte', maximumFractionDigits: mb ? 1 : 0 })
    .format(mb ? bytes / 1024 / 1024 : bytes / 1024);
}

export function DemoListPage() {
  const { t, date } = useI18n();
  const toast = useToast();
  const { data, error, loading, reload } = useAsync(() => fetchAll<Demo>('demos'), []);
  const [deleting, setDeleting] = useState<Demo | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const remove = async () => {
    if (!deleting) return;
    setBusy(true);
    try {
      await api.del('demos/' + encodeURIComponent(deleting.id));
      toast(t('demo.deleted', { name: deleting.prospect_name }));
      setDeleting(null);
      reload();
    } catch (e) { setErr(errorMessage(t, e)); }
    finally { setBusy(false); }
  };
  return (
    <>
      <PageHeader title={t('module.demo')} lead={t('demo.lead')}
        actions={<a class="btn btn-primary" href={href('/demo/new')}><Icon name="plus" size={18} />{t('demo.new')}</a>} />
      {loading && !data ? <Loading /> : error ? <LoadError error={error} retry={reload} /> : data!.length === 0 ? (
        <EmptyState icon="demo" title={t('demo.emptyTitle')}>
          <p>{t('demo.emptyBody')}</p>
          <a class="btn btn-primary" href={href('/demo/new')}><Icon name="plus" size={18} />{t('demo.new')}</a>
        </EmptyState>
      ) : (
        <section class="card" aria-labelledby="demos-title">
          <h2 id="demos-title">{t('demo.listTitle')}</h2>
          <div class="table-wrap">
            <table class="table">
              <thead><tr>
                <th scope="col">{t('demo.prospect')}</th>
                <th scope="col" class="hide-sm">{t('demo.merchant')}</th>
                <th scope="col">{t('demo.link')}</th>
                <th scope="col" class="hide-sm">{t('demo.updated')}</th>
                <th scope="col"><span class="visually-hidden">{t('common.actions')}</span></th>
              </tr></thead>
              <tbody>
                {data!.map((d) => (
                  <tr key={d.id}>
                    <td>
                      <span class="demo-name">
                        <span class="swatch" style={{ background: d.primary_color }} aria-hidden="true" />
                        <a class="strong" href={href('/demo/' + d.id)}>{d.prospect_name}</a>
                      </span>
                      {d.website && <><br /><span class="muted small" dir="ltr">{d.website.replace(/^https?:\/\//, '')}</span></>}
                    </td>
                    <td class="hide-sm">{d.merchant_name}</td>
                    <td>
                      <div class="link-actions">
                        <CopyButton text={demoLink(d)} label={t('demo.copyLink')} class="btn btn-secondary btn-small" />
                        <a class="btn btn-ghost btn-small" href={d.url} target="_blank" rel="noopener" aria-label={t('demo.openNamed', { name: d.prospect_name })}>
                          <Icon name="chevron" size={16} class="flip-rtl" />{t('demo.open')}
                        </a>
                      </div>
                    </td>
                    <td class="nowrap hide-sm">{date(d.updated_at)}</td>
                    <td class="cell-actions">
                      <a class="btn btn-ghost btn-small" href={href('/demo/' + d.id)} aria-label={t('demo.editNamed', { name: d.prospect_name })}>{t('common.edit')}</a>
                      <button type="button" class="btn btn-ghost btn-small" onClick={() => { setErr(null); setDeleting(d); }}
                        aria-label={t('demo.deleteNamed', { name: d.prospect_name })}>{t('demo.delete')}</button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      <ConfirmDialog open={!!deleting} title={t('demo.deleteTitle', { name: deleting?.prospect_name ?? '' })}
        message={<p>{t('demo.deleteBody')}</p>} confirmLabel={t('demo.delete')} danger busy={busy} error={err}
        onConfirm={remove} onClose={() => setDeleting(null)} />
    </>
  );
}

interface Draft {
  prospect_name: string; website: string; merchant_id: string; store_id: string;
  primary_color: string; background_color: string; logo: string | null; greeting: string;
  /** undefined: unchanged; null: remove; string: a new data URL */
  screenshot: string | null | undefined;
}
const EMPTY: Draft = {
  prospect_name: '', website: '', merchant_id: '', store_id: '', primary_color: '#1f6feb', background_color: '#ffffff',
  logo: null, greeting: '', screenshot: undefined,
};
const HEX = /^#[0-9a-fA-F]{6}$/;

function fromDemo(d: Demo): Draft {
  return {
    prospect_name: d.prospect_name, website: d.website ?? '', merchant_id: d.merchant_id, store_id: d.store_id ?? '',
    primary_color: d.primary_color, background_color: d.background_color, logo: d.logo ?? null, greeting: d.greeting ?? '', screenshot: undefined,
  };
}

/** Black or white text, whichever reads better on `hex`. */
function textOn(hex: string) {
  if (!HEX.test(hex)) return '#000';
  const n = parseInt(hex.slice(1), 16);
  const lum = (c: number) => { const v = c / 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const l = 0.2126 * lum((n >> 16) & 255) + 0.7152 * lum((n >> 8) & 255) + 0.0722 * lum(n & 255);
  return l > 0.4 ? '#111' : '#fff';
}

function localChecks(t: T, d: Draft) {
  const out: { field: string; message: string }[] = [];
  if (!d.prospect_name.trim()) out.push({ field: 'prospect_name', message: t('common.required') });
  if (d.website.trim()) {
    try { const u = new URL(d.website.trim()); if (!/^https?:$/.test(u.protocol)) throw new Error(); }
    catch { out.push({ field: 'website', message: t('demo.websiteRule') }); }
  }
  if (!d.merchant_id) out.push({ field: 'merchant_id', message: t('common.required') });
  if (!HEX.test(d.primary_color)) out.push({ field: 'primary_color', message: t('srv.color') });
  if (!HEX.test(d.background_color)) out.push({ field: 'background_color', message: t('srv.color') });
  return out;
}

export function DemoEditPage({ id }: { id: string | null }) {
  const { t, lang, dateTime } = useI18n();
  const toast = useToast();
  const isNew = id === null;
  const demo = useAsync<Demo | null>(() => (id ? api.get<Demo>('demos/' + encodeURIComponent(id)) : Promise.resolve(null)), [id]);
  const merchants = useAsync(() => fetchAll<Merchant>('access/merchants'), []);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [saved, setSaved] = useState('');
  const [stores, setStores] = useState<PublicStore[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [fileErr, setFileErr] = useState<{ logo?: string; screenshot?: string }>({});
  const [shotPreview, setShotPreview] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleteErr, setDeleteErr] = useState<string | null>(null);
  const f = useFormErrors();

  useEffect(() => {
    if (isNew) { setDraft(EMPTY); setSaved(JSON.stringify(EMPTY)); }
    else if (demo.data) { const d = fromDemo(demo.data); setDraft(d); setSaved(JSON.stringify(d)); setShotPreview(null); }
  }, [demo.data, isNew]);
  // The stores of the chosen merchant, from its public widget config.
  const merchantId = draft?.merchant_id ?? '';
  useEffect(() => {
    setStores(null);
    if (!merchantId) return;
    let live = true;
    api.get<WidgetConfig>('public/widget-config?merchant=' + encodeURIComponent(merchantId)).then(
      (c) => { if (live) setStores(c.stores); }, () => { if (live) setStores([]); });
    return () => { live = false; };
  }, [merchantId]);

  const dirty = !!draft && JSON.stringify(draft) !== saved;
  useUnsaved(dirty);
  const back = { href: href('/demo'), label: t('demo.back') };
  if ((demo.loading && !demo.data && !isNew) || !draft) {
    return <><PageHeader title={t('module.demo')} back={back} />{demo.error ? <LoadError error={demo.error} retry={demo.reload} /> : <Loading />}</>;
  }
  const d = draft;
  const set = (p: Partial<Draft>) => setDraft({ ...d, ...p });

  const pick = async (which: 'logo' | 'screenshot', file: File | undefined, input: HTMLInputElement) => {
    setFileErr((e) => ({ ...e, [which]: undefined }));
    if (!file) return;
    const types = which === 'logo' ? LOGO_TYPES : SCREENSHOT_TYPES;
    const max = which === 'logo' ? LOGO_MAX_BYTES : SCREENSHOT_MAX_BYTES;
    let msg: string | undefined;
    if (!types.includes(file.type)) msg = t(which === 'logo' ? 'demo.logoType' : 'demo.screenshotType');
    else if (file.size > max) msg = t('demo.tooLarge', { size: sizeText(lang, file.size), max: sizeText(lang, max) });
    if (msg) { setFileErr((e) => ({ ...e, [which]: msg })); input.value = ''; return; }
    const url = await readDataUrl(file);
    input.value = '';
    if (which === 'logo') set({ logo: url });
    else { set({ screenshot: url }); setShotPreview(url); }
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    f.clear();
    const local = localChecks(t, d);
    if (local.length) { f.setLocal(local); return; }
    const body: Record<string, unknown> = {
      prospect_name: d.prospect_name.trim(), website: d.website.trim() || null, merchant_id: d.merchant_id,
      store_id: d.store_id || null, primary_color: d.primary_color, background_color: d.background_color,
      logo: d.logo ?? null, greeting: d.greeting.trim() || null,
    };
    if (d.screenshot !== undefined) body.screenshot = d.screenshot;
    if (isNew) { for (const k of Object.keys(body)) if (body[k] === null) delete body[k]; }
    setBusy(true);
    try {
      const r = isNew ? await api.post<Demo>('demos', body) : await api.patch<Demo>('demos/' + encodeURIComponent(id!), body);
      toast(isNew ? t('demo.created', { name: r.prospect_name }) : t('common.saved'));
      const nd = fromDemo(r);
      setSaved(JSON.stringify(nd));
      setDraft(nd);
      if (isNew) navigate('/demo/' + r.id); else demo.setData(r);
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };
  const remove = async () => {
    setBusy(true);
    try {
      await api.del('demos/' + encodeURIComponent(id!));
      setSaved(JSON.stringify(d));
      toast(t('demo.deleted', { name: demo.data?.prospect_name ?? '' }));
      navigate('/demo');
    } catch (x) { setDeleteErr(errorMessage(t, x)); }
    finally { setBusy(false); }
  };

  const labels = (k: string) => ({
    prospect_name: t('demo.prospectName'), website: t('demo.website'), merchant_id: t('demo.merchant'), store_id: t('demo.store'),
    primary_color: t('demo.primaryColor'), background_color: t('demo.backgroundColor'), logo: t('demo.logo'),
    greeting: t('demo.greeting'), screenshot: t('demo.screenshot'),
  } as Record<string, string>)[k];
  const hasShot = d.screenshot === undefined ? !!demo.data?.has_screenshot : d.screenshot !== null;
  const shotSrc = shotPreview;
  const colorField = (name: 'primary_color' | 'background_color', label: string, hint: string) => (
    <Field name={name} label={label} hint={hint} error={f.errors[name]}>
      {({ id: fid, describedBy, invalid }) => (
        <div class="color-row">
          <input type="color" value={HEX.test(d[name]) ? d[name] : '#000000'} aria-label={t('demo.pickColorFor', { name: label })}
            onInput={(e) => set({ [name]: (e.target as HTMLInputElement).value } as Partial<Draft>)} />
          <input id={fid} class="mono" dir="ltr" value={d[name]} maxLength={7} aria-describedby={describedBy} aria-invalid={invalid || undefined}
            onInput={(e) => set({ [name]: (e.target as HTMLInputElement).value } as Partial<Draft>)} />
        </div>
      )}
    </Field>
  );
  const merchantList = merchants.data ?? [];

  return (
    <>
      <PageHeader title={isNew ? t('demo.new') : demo.data!.prospect_name} back={back}
        lead={isNew ? t('demo.newLead') : t('demo.updatedOn', { date: dateTime(demo.data!.updated_at) })} />
      {!isNew && demo.data && (
        <section class="card share-card" aria-labelledby="share-title">
          <h2 id="share-title">{t('demo.shareTitle')}</h2>
          <p class="hint">{t('demo.shareHint')}</p>
          <div class="invite-row">
            <code class="invite-code small-code share-url">{demoLink(demo.data)}</code>
            <CopyButton text={demoLink(demo.data)} label={t('demo.copyLink')} />
            <a class="btn btn-secondary" href={demo.data.url} target="_blank" rel="noopener"><Icon name="chevron" size={18} class="flip-rtl" />{t('demo.open')}</a>
          </div>
        </section>
      )}
      <form class="settings-grid" onSubmit={submit} noValidate>
        <div class="stack">
          <ErrorSummary general={f.general} list={f.list} labels={labels} />
          <section class="card" aria-labelledby="demo-prospect">
            <h2 id="demo-prospect">{t('demo.prospectTitle')}</h2>
            <div class="grid-2">
              <TextField name="prospect_name" label={t('demo.prospectName')} value={d.prospect_name} onValue={(v) => set({ prospect_name: v })}
                error={f.errors.prospect_name} autocomplete="organization" />
              <TextField name="website" type="url" label={t('demo.website')} hint={t('demo.websiteHint')} value={d.website}
                onValue={(v) => set({ website: v })} error={f.errors.website} placeholder="https://" dir="ltr" />
              <Field name="merchant_id" label={t('demo.merchant')} hint={t('demo.merchantHint')} error={f.errors.merchant_id}>
                {({ id: fid, describedBy, invalid }) => (
                  <select id={fid} value={d.merchant_id} aria-describedby={describedBy} aria-invalid={invalid || undefined}
                    onChange={(e) => set({ merchant_id: (e.target as HTMLSelectElement).value, store_id: '' })}>
                    <option value="">{merchants.loading ? t('common.loading') : t('demo.chooseMerchant')}</option>
                    {merchantList.map((m) => <option key={m.id} value={m.id} disabled={!m.active}>{m.name}{m.active ? '' : ` (${t('access.inactive')})`}</option>)}
                  </select>
                )}
              </Field>
              <Field name="store_id" label={t('demo.store')} hint={t('demo.storeHint')} error={f.errors.store_id}>
                {({ id: fid, describedBy, invalid }) => (
                  <select id={fid} value={d.store_id} aria-describedby={describedBy} aria-invalid={invalid || undefined} disabled={!d.merchant_id}
                    onChange={(e) => set({ store_id: (e.target as HTMLSelectElement).value })}>
                    <option value="">{t('demo.anyStore')}</option>
                    {(stores ?? []).map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
                    {d.store_id && stores && !stores.some((s) => s.id === d.store_id) && <option value={d.store_id}>{d.store_id}</option>}
                  </select>
                )}
              </Field>
            </div>
          </section>
          <section class="card" aria-labelledby="demo-brand">
            <h2 id="demo-brand">{t('demo.brandTitle')}</h2>
            <div class="grid-2">
              {colorField('primary_color', t('demo.primaryColor'), t('demo.primaryColorHint'))}
              {colorField('background_color', t('demo.backgroundColor'), t('demo.backgroundColorHint'))}
            </div>
            <Field name="logo" label={t('demo.logo')} hint={t('demo.logoHint', { max: sizeText(lang, LOGO_MAX_BYTES) })} error={fileErr.logo ?? f.errors.logo}>
              {({ id: fid, describedBy, invalid }) => (
                <div class="upload-row">
                  {d.logo && <img class="logo-thumb" src={d.logo} alt={t('demo.logoAlt')} />}
                  <input type="file" id={fid} accept={LOGO_TYPES.join(',')} aria-describedby={describedBy} aria-invalid={invalid || undefined}
                    onChange={(e) => { const el = e.target as HTMLInputElement; void pick('logo', el.files?.[0], el); }} />
                  {d.logo && <button type="button" class="btn btn-ghost btn-small" onClick={() => set({ logo: null })}>{t('demo.removeLogo')}</button>}
                </div>
              )}
            </Field>
            <Field name="greeting" label={t('demo.greeting')} hint={t('demo.greetingHint')} error={f.errors.greeting}>
              {({ id: fid, describedBy, invalid }) => (
                <textarea id={fid} dir="auto" rows={3} maxLength={500} value={d.greeting} aria-describedby={describedBy} aria-invalid={invalid || undefined}
                  onInput={(e) => set({ greeting: (e.target as HTMLTextAreaElement).value })} />
              )}
            </Field>
            <Field name="screenshot" label={t('demo.screenshot')} hint={t('demo.screenshotHint', { max: sizeText(lang, SCREENSHOT_MAX_BYTES) })} error={fileErr.screenshot ?? f.errors.screenshot}>
              {({ id: fid, describedBy, invalid }) => (
                <div class="upload-row">
                  {shotSrc && <img class="shot-thumb" src={shotSrc} alt={t('demo.screenshotAlt')} />}
                  {hasShot && !shotSrc && <span class="badge badge-ok">{t('demo.hasScreenshot')}</span>}
                  <input type="file" id={fid} accept={SCREENSHOT_TYPES.join(',')} aria-describedby={describedBy} aria-invalid={invalid || undefined}
                    onChange={(e) => { const el = e.target as HTMLInputElement; void pick('screenshot', el.files?.[0], el); }} />
                  {hasShot && <button type="button" class="btn btn-ghost btn-small" onClick={() => { set({ screenshot: isNew ? undefined : null }); setShotPreview(null); }}>{t('demo.removeScreenshot')}</button>}
                </div>
              )}
            </Field>
          </section>
          <div class="form-actions sticky-actions">
            <button type="submit" class="btn btn-primary" disabled={busy}>{isNew ? t('demo.create') : t('common.saveChanges')}</button>
            <a class="btn btn-secondary" href={href('/demo')}>{t('common.cancel')}</a>
            <UnsavedNote dirty={dirty} />
            {!isNew && <button type="button" class="btn btn-danger-outline push-end" onClick={() => { setDeleteErr(null); setConfirmDelete(true); }}>{t('demo.delete')}</button>}
          </div>
        </div>
        <aside class="preview-col" aria-labelledby="demo-preview-title">
          <div class="card preview-card">
            <h2 id="demo-preview-title">{t('demo.preview')}</h2>
            <p class="hint">{t('demo.previewHint')}</p>
            <DemoPreview d={d} shot={shotSrc} />
          </div>
        </aside>
      </form>
      {!isNew && (
        <ConfirmDialog open={confirmDelete} title={t('demo.deleteTitle', { name: demo.data?.prospect_name ?? '' })}
          message={<p>{t('demo.deleteBody')}</p>} confirmLabel={t('demo.delete')} danger busy={busy} error={deleteErr}
          onConfirm={remove} onClose={() => setConfirmDelete(false)} />
      )}
    </>
  );
}

function DemoPreview({ d, shot }: { d: Draft; shot: string | null }) {
  const { t } = useI18n();
  const bg = HEX.test(d.background_color) ? d.background_color : '#ffffff';
  const fg = textOn(bg);
  const primary = HEX.test(d.primary_color) ? d.primary_color : '#1f6feb';
  return (
    <div class="preview-page demo-preview" style={{ background: shot ? `center / cover no-repeat url("${shot}")` : bg, color: fg }} aria-hidden="true">
      {!shot && (
        <>
          <div class="demo-pv-top">
            {d.logo ? <img src={d.logo} alt="" class="demo-pv-logo" /> : <span class="demo-pv-mark" style={{ background: primary, color: textOn(primary) }}>{(d.prospect_name.trim()[0] ?? '?').toUpperCase()}</span>}
            <span class="demo-pv-name">{d.prospect_name || t('demo.prospectName')}</span>
          </div>
          <div class="pv-line" /><div class="pv-line short" />
        </>
      )}
      <div class="pv-launcher pv-end">
        <div class="pv-bubble" style={{ background: '#fff', color: '#1a1d21' }}>{d.greeting.trim() || t('demo.greetingDefault')}</div>
        <div class="pv-button" style={{ background: primary, color: textOn(primary) }}>{t('demo.chat')}</div>
      </div>
    </div>
  );
}
