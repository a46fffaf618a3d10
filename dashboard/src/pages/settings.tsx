import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, type DisplaySettings, type Origins, type RoutingSettings, type Session } from '../api';
import { setReportZone } from '../components/filters';
import { LANGUAGES, useI18n, type Key } from '../i18n';
import { href } from '../router';
import { ErrorSummary, Field, LoadError, Loading, PageHeader, Switch, TextField, UnsavedNote, useAsync, useFormErrors, useToast, useUnsaved } from '../components/ui';
import { Icon } from '../components/icons';
import { MessagingForm } from './messaging';
import { PhotosForm } from './settings-photos';
import { CheckoutForm } from './settings-checkout';

type Tab = 'display' | 'sites' | 'routing' | 'photos' | 'messaging' | 'checkout';

export function SettingsPage({ tab }: { tab: Tab }) {
  const { t } = useI18n();
  const tabs: { id: Tab; label: Key }[] = [
    { id: 'display', label: 'settings.tab.display' },
    { id: 'sites', label: 'settings.tab.sites' },
    { id: 'routing', label: 'settings.tab.routing' },
    { id: 'photos', label: 'settings.tab.photos' },
    { id: 'messaging', label: 'settings.tab.messaging' },
    { id: 'checkout', label: 'settings.tab.checkout' },
  ];
  return (
    <>
      <PageHeader title={t('module.settings')} lead={t('settings.lead')} />
      <nav class="subnav" aria-label={t('settings.sections')}>
        {tabs.map((x) => (
          <a key={x.id} href={href('/settings/' + x.id)} class={tab === x.id ? 'active' : ''} aria-current={tab === x.id ? 'page' : undefined}>{t(x.label)}</a>
        ))}
      </nav>
      {tab === 'display' && <DisplayForm />}
      {tab === 'sites' && <OriginsForm />}
      {tab === 'routing' && <RoutingForm />}
      {tab === 'photos' && <PhotosForm />}
      {tab === 'messaging' && <MessagingForm />}
      {tab === 'checkout' && <CheckoutForm />}
    </>
  );
}

const langName = (code: string) => LANGUAGES.find((l) => l.code === code)?.name ?? code;

function DisplayForm() {
  const { t } = useI18n();
  const toast = useToast();
  const { data, error, loading, reload } = useAsync(() => api.get<DisplaySettings>('settings/display'), []);
  const [d, setD] = useState<DisplaySettings | null>(null);
  const [paths, setPaths] = useState('');
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  const [savedJson, setSavedJson] = useState('');
  useEffect(() => { if (data) { setD(data); setPaths(data.hidden_paths.join('\n')); setSavedJson(JSON.stringify([data, data.hidden_paths.join('\n')])); } }, [data]);
  const dirty = !!d && !!savedJson && JSON.stringify([d, paths]) !== savedJson;
  useUnsaved(dirty);
  if (loading && !data) return <Loading />;
  if (error) return <LoadError error={error} retry={reload} />;
  if (!d) return <Loading />;
  const set = (p: Partial<DisplaySettings>) => setD({ ...d, ...p });

  const toggleLang = (code: string, on: boolean) => {
    const languages = on ? LANGUAGES.map((l) => l.code).filter((c) => c === code || d.languages.includes(c)) : d.languages.filter((c) => c !== code);
    set({ languages, default_language: languages.includes(d.default_language) ? d.default_language : languages[0] ?? d.default_language });
  };

  const labels = (k: string): string | undefined => {
    const m: Record<string, Key> = {
      brand_name: 'display.brandName', logo_url: 'display.logoUrl', primary_color: 'display.primaryColor', position: 'display.position',
      color_scheme: 'display.colorScheme', default_language: 'display.defaultLanguage', languages: 'display.languages', show_when: 'display.showWhen',
    };
    if (m[k]) return t(m[k]);
    if (k.startsWith('hidden_paths')) return t('display.hiddenPaths');
    if (k.startsWith('greeting')) return t('display.greeting');
    return undefined;
  };

  const save = async (e: Event) => {
    e.preventDefault();
    f.clear();
    setBusy(true);
    const greeting: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.greeting)) if (v.trim()) greeting[k] = v.trim();
    const body: DisplaySettings = {
      ...d, brand_name: d.brand_name.trim(), logo_url: d.logo_url?.trim() ? d.logo_url.trim() : null, greeting,
      hidden_paths: paths.split('\n').map((p) => p.trim()).filter(Boolean),
    };
    try {
      const r = await api.put<DisplaySettings>('settings/display', body);
      if (r && typeof r === 'object') { setD(r); setPaths(r.hidden_paths.join('\n')); setSavedJson(JSON.stringify([r, r.hidden_paths.join('\n')])); }
      toast(t('common.saved'));
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };

  const pathErr = Object.entries(f.errors).filter(([k]) => k.startsWith('hidden_paths')).map(([k, v]) => {
    const i = k.match(/\[(\d+)\]/);
    return i ? `${t('display.line', { n: Number(i[1]) + 1 })}: ${v}` : v;
  }).join(' ');

  return (
    <form class="settings-grid" onSubmit={save} noValidate>
      <div class="stack">
        <ErrorSummary general={f.general} list={f.list} labels={labels} />
        <section class="card" aria-labelledby="d-where">
          <h2 id="d-where">{t('display.where')}</h2>
          <Switch id="f-enabled" checked={d.enabled} onChange={(v) => set({ enabled: v })} label={t('display.enabled')} hint={t('display.enabledHint')} />
          <fieldset class="fieldset">
            <legend>{t('display.showWhen')}</legend>
            {(['always', 'available_only', 'opening_hours'] as const).map((v) => (
              <div class="radio-row" key={v}>
                <input type="radio" name="show_when" id={'sw-' + v} checked={d.show_when === v} onChange={() => set({ show_when: v })}
                  aria-describedby={'sw-' + v + '-hint'} />
                <label for={'sw-' + v}>{t(`display.showWhen.${v}`)}<span class="hint" id={'sw-' + v + '-hint'}>{t(`display.showWhen.${v}Hint`)}</span></label>
              </div>
            ))}
          </fieldset>
          <Field name="hidden_paths" label={t('display.hiddenPaths')} hint={t('display.hiddenPathsHint')} error={pathErr || undefined}>
            {({ id, describedBy, invalid }) => (
              <textarea id={id} rows={4} value={paths} dir="ltr" aria-describedby={describedBy} aria-invalid={invalid || undefined} spellcheck={false}
                class="mono" onInput={(e) => setPaths((e.target as HTMLTextAreaElement).value)} />
            )}
          </Field>
        </section>

        <section class="card" aria-labelledby="d-look">
          <h2 id="d-look">{t('display.look')}</h2>
          <div class="grid-2">
            <TextField name="brand_name" label={t('display.brandName')} hint={t('display.brandNameHint')} value={d.brand_name}
              onValue={(v) => set({ brand_name: v })} error={f.errors.brand_name} />
            <TextField name="logo_url" label={t('display.logoUrl')} hint={t('display.logoUrlHint')} value={d.logo_url ?? ''} type="url"
              onValue={(v) => set({ logo_url: v })} error={f.errors.logo_url} placeholder="https://" />
            <Field name="primary_color" label={t('display.primaryColor')} hint={t('display.primaryColorHint')} error={f.errors.primary_color}>
              {({ id, describedBy, invalid }) => (
                <div class="color-row">
                  <input type="color" value={/^#[0-9a-fA-F]{6}$/.test(d.primary_color) ? d.primary_color : '#000000'} aria-label={t('display.pickColor')}
                    onInput={(e) => set({ primary_color: (e.target as HTMLInputElement).value })} />
                  <input id={id} class="mono" dir="ltr" value={d.primary_color} maxLength={7} aria-describedby={describedBy} aria-invalid={invalid || undefined}
                    onInput={(e) => set({ primary_color: (e.target as HTMLInputElement).value })} />
                </div>
              )}
            </Field>
          </div>
          <div class="grid-2">
            <fieldset class="fieldset">
              <legend>{t('display.position')}</legend>
              {(['bottom-right', 'bottom-left'] as const).map((v) => (
                <div class="radio-row" key={v}>
                  <input type="radio" name="position" id={'pos-' + v} checked={d.position === v} onChange={() => set({ position: v })} />
                  <label for={'pos-' + v}>{t(`display.position.${v}`)}</label>
                </div>
              ))}
            </fieldset>
            <fieldset class="fieldset">
              <legend>{t('display.colorScheme')}</legend>
              {(['auto', 'light', 'dark'] as const).map((v) => (
                <div class="radio-row" key={v}>
                  <input type="radio" name="color_scheme" id={'cs-' + v} checked={d.color_scheme === v} onChange={() => set({ color_scheme: v })} />
                  <label for={'cs-' + v}>{t(`display.colorScheme.${v}`)}</label>
                </div>
              ))}
            </fieldset>
          </div>
        </section>

        <section class="card" aria-labelledby="d-lang">
          <h2 id="d-lang">{t('display.languagesTitle')}</h2>
          <fieldset class="fieldset">
            <legend>{t('display.languages')}</legend>
            {f.errors.languages && <p class="field-error" id="languages-error"><Icon name="alert" size={16} />{f.errors.languages}</p>}
            <div class="check-grid">
              {LANGUAGES.map((l) => (
                <div class="check-row" key={l.code}>
                  <input type="checkbox" id={'lang-' + l.code} checked={d.languages.includes(l.code)}
                    aria-describedby={f.errors.languages ? 'languages-error' : undefined}
                    onChange={(e) => toggleLang(l.code, (e.target as HTMLInputElement).checked)} />
                  <label for={'lang-' + l.code} lang={l.code}>{l.name}</label>
                </div>
              ))}
            </div>
          </fieldset>
          <Field name="default_language" label={t('display.defaultLanguage')} hint={t('display.defaultLanguageHint')} error={f.errors.default_language} class="narrow">
            {({ id, describedBy, invalid }) => (
              <select id={id} value={d.default_language} aria-describedby={describedBy} aria-invalid={invalid || undefined}
                onChange={(e) => set({ default_language: (e.target as HTMLSelectElement).value })}>
                {d.languages.map((c) => <option key={c} value={c}>{langName(c)}</option>)}
              </select>
            )}
          </Field>
          <h3>{t('display.greeting')}</h3>
          <p class="hint">{t('display.greetingHint')}</p>
          {d.languages.map((c) => (
            <Field key={c} name={'greeting.' + c} label={<><span class="visually-hidden">{t('display.greeting')}: </span><span lang={c}>{langName(c)}</span></>} error={f.errors['greeting.' + c]}>
              {({ id, describedBy, invalid }) => (
                <input id={id} value={d.greeting[c] ?? ''} dir="auto" lang={c} aria-describedby={describedBy} aria-invalid={invalid || undefined}
                  onInput={(e) => set({ greeting: { ...d.greeting, [c]: (e.target as HTMLInputElement).value } })} />
              )}
            </Field>
          ))}
        </section>
        <div class="form-actions sticky-actions">
          <button type="submit" class="btn btn-primary" disabled={busy}>{t('common.saveChanges')}</button>
          <UnsavedNote dirty={dirty} />
        </div>
      </div>
      <aside class="preview-col" aria-labelledby="preview-title">
        <div class="card preview-card">
          <h2 id="preview-title">{t('display.preview')}</h2>
          <Preview d={d} />
        </div>
      </aside>
    </form>
  );
}

/** Readable text colour for a background: WCAG relative luminance. */
function textOn(hex: string) {
  const m = hex.match(/^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i);
  if (!m) return '#ffffff';
  const [r, g, b] = m.slice(1).map((x) => { const c = parseInt(x, 16) / 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
  const L = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return (1.05 / (L + 0.05)) >= ((L + 0.05) / 0.05) ? '#ffffff' : '#111111';
}

function Preview({ d }: { d: DisplaySettings }) {
  const { t, lang } = useI18n();
  const color = /^#[0-9a-f]{6}$/i.test(d.primary_color) ? d.primary_color : '#1f6feb';
  const greet = d.greeting[lang] || d.greeting[d.default_language] || d.greeting.en || t('display.previewGreeting');
  return (
    <div class={'preview-page ' + (d.color_scheme === 'dark' ? 'pv-dark' : 'pv-light')} aria-hidden="true">
      <div class="pv-bar" /><div class="pv-line" /><div class="pv-line short" />
      {d.enabled ? (
        <div class={'pv-launcher ' + (d.position === 'bottom-left' ? 'pv-start' : 'pv-end')}>
          <div class="pv-bubble">{greet}</div>
          <div class="pv-button" style={{ background: color, color: textOn(color) }}>
            <Icon name="chat" size={18} /><span>{d.brand_name || '—'}</span>
          </div>
        </div>
      ) : <p class="pv-off">{t('display.previewOff')}</p>}
    </div>
  );
}

function OriginsForm() {
  const { t } = useI18n();
  const toast = useToast();
  const { data, error, loading, reload } = useAsync(() => api.get<Origins>('settings/origins'), []);
  const [list, setList] = useState<string[]>([]);
  const [add, setAdd] = useState('');
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  useEffect(() => { if (data) setList(data.origins); }, [data]);
  if (loading && !data) return <Loading />;
  if (error) return <LoadError error={error} retry={reload} />;
  const save = async (next: string[]) => {
    f.clear();
    setBusy(true);
    try {
      const r = await api.put<Origins>('settings/origins', { origins: next });
      setList(r?.origins ?? next);
      setAdd('');
      toast(t('common.saved'));
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };
  const addErr = Object.values(f.errors).join(' ');
  return (
    <section class="card" aria-labelledby="o-title">
      <h2 id="o-title">{t('origins.title')}</h2>
      <p class="hint">{t('origins.lead')}</p>
      {list.length === 0 ? <p class="muted">{t('origins.none')}</p> : (
        <ul class="origin-list">
          {list.map((o) => (
            <li key={o}><code dir="ltr">{o}</code>
              <button type="button" class="btn btn-ghost btn-small" disabled={busy} onClick={() => save(list.filter((x) => x !== o))}
                aria-label={t('origins.removeNamed', { name: o })}><Icon name="trash" size={16} />{t('common.remove')}</button>
            </li>
          ))}
        </ul>
      )}
      <form class="inline-add" noValidate onSubmit={(e) => { e.preventDefault(); if (add.trim()) save([...list, add.trim()]); }}>
        <Field name="origins" label={t('origins.add')} hint={t('origins.addHint')} error={addErr || undefined}>
          {({ id, describedBy, invalid }) => (
            <input id={id} type="url" dir="ltr" value={add} placeholder="https://shop.example" aria-describedby={describedBy} aria-invalid={invalid || undefined}
              onInput={(e) => setAdd((e.target as HTMLInputElement).value)} />
          )}
        </Field>
        <button type="submit" class="btn btn-primary" disabled={busy}><Icon name="plus" size={18} />{t('origins.addButton')}</button>
      </form>
    </section>
  );
}

const ROUTING_FIELDS: { key: keyof RoutingSettings; unit: 's' | 'd' }[] = [
  { key: 'contact_first_s', unit: 's' }, { key: 'reoffer_every_s', unit: 's' }, { key: 'missed_after_s', unit: 's' },
  { key: 'unanswered_reoffer_s', unit: 's' }, { key: 'attribution_window_days', unit: 'd' },
];

function RoutingForm() {
  const { t } = useI18n();
  const toast = useToast();
  const { data, error, loading, reload } = useAsync(() => api.get<RoutingSettings>('settings/routing'), []);
  const [v, setV] = useState<Record<string, string> | null>(null);
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  const asText = (r: RoutingSettings) => Object.fromEntries(Object.entries(r).map(([k, x]) => [k, x === null || x === undefined ? '' : String(x)]));
  useEffect(() => { if (data) setV(asText(data)); }, [data]);
  const zones = useMemo(() => {
    const all: string[] = (Intl as any).supportedValuesOf ? (Intl as any).supportedValuesOf('timeZone') : [];
    const cur = v?.report_timezone;
    return cur && !all.includes(cur) ? [cur, ...all] : all;
  }, [v?.report_timezone]);
  if (loading && !data) return <Loading />;
  if (error) return <LoadError error={error} retry={reload} />;
  if (!v) return <Loading />;
  const save = async (e: Event) => {
    e.preventDefault();
    f.clear();
    const local = ROUTING_FIELDS.filter((x) => !/^\d+$/.test(v[x.key].trim())).map((x) => ({ field: x.key, message: t('routing.wholeNumber') }));
    if (local.length) { f.setLocal(local); return; }
    setBusy(true);
    try {
      const body: Record<string, unknown> = Object.fromEntries(ROUTING_FIELDS.map((x) => [x.key, Number(v[x.key])]));
      body.report_timezone = v.report_timezone || null;
      const r = await api.put<RoutingSettings>('settings/routing', body);
      if (r && typeof r === 'object') setV(asText(r));
      // Analytics follows the new zone (the server resolves "automatic" to the first store's).
      api.get<Session>('auth/session').then((s) => setReportZone(s.time_zone), () => {});
      toast(t('common.saved'));
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };
  return (
    <form class="card stack" onSubmit={save} noValidate aria-labelledby="r-title">
      <h2 id="r-title">{t('routing.title')}</h2>
      <p class="hint">{t('routing.lead')}</p>
      <ErrorSummary general={f.general} list={f.list} labels={(k) => t(`routing.${k}`)} />
      <div class="grid-2">
        {ROUTING_FIELDS.map((x) => (
          <Field key={x.key} name={x.key} label={t(`routing.${x.key}`)} hint={t(`routing.${x.key}Hint`)} error={f.errors[x.key]}>
            {({ id, describedBy, invalid }) => (
              <div class="unit-input">
                <input id={id} type="number" min={0} inputMode="numeric" value={v[x.key]} aria-describedby={describedBy} aria-invalid={invalid || undefined}
                  onInput={(e) => setV({ ...v, [x.key]: (e.target as HTMLInputElement).value })} />
                <span class="unit" aria-hidden="true">{x.unit === 's' ? t('routing.unitSeconds') : t('routing.unitDays')}</span>
              </div>
            )}
          </Field>
        ))}
        <Field name="report_timezone" label={t('routing.report_timezone')} hint={t('routing.report_timezoneHint')} error={f.errors.report_timezone}>
          {({ id, describedBy, invalid }) => (
            <select id={id} value={v.report_timezone ?? ''} aria-describedby={describedBy} aria-invalid={invalid || undefined}
              onChange={(e) => setV({ ...v, report_timezone: (e.target as HTMLSelectElement).value })}>
              <option value="">{t('routing.zoneAuto')}</option>
              {zones.map((z) => <option key={z} value={z}>{z.replace(/_/g, ' ')}</option>)}
            </select>
          )}
        </Field>
      </div>
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>{t('common.saveChanges')}</button>
      </div>
    </form>
  );
}
