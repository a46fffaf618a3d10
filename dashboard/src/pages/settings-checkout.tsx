// Settings → Checkout (issue 22): how "Pay" hands a cart to the merchant's checkout — off, a
// UCP permalink (endpoint discovered from the shop's /.well-known/ucp or entered by hand), or
// the hosted payment link continuing to the merchant's checkout URL — plus link lifetime, the
// unpaid-cart reminder and the default VAT rate of free-text lines.
import { useEffect, useState } from 'preact/hooks';
import { api, type CheckoutInput, type CheckoutSettings, type FieldError } from '../api';
import { useI18n } from '../i18n';
import { ErrorSummary, Field, LoadError, Loading, TextField, UnsavedNote, useAsync, useFormErrors, useToast, useUnsaved } from '../components/ui';

/** Client-side: the checkout modes the server knows (`CheckoutSettings.mode` is a string in the schema). */
type Mode = 'off' | 'hosted' | 'permalink';
const modeOf = (m: string): Mode => (m === 'hosted' || m === 'permalink' ? m : 'off');
interface Form { mode: Mode; checkout_url: string; shop_url: string; permalink_endpoint: string; link_hours: string; reminder_hours: string; default_vat_rate: string }
const toForm = (s: CheckoutSettings): Form => ({
  mode: modeOf(s.mode), checkout_url: s.checkout_url ?? '', shop_url: s.shop_url ?? '', permalink_endpoint: s.permalink_endpoint ?? '',
  link_hours: String(s.link_hours ?? 72), reminder_hours: s.reminder_hours == null ? '' : String(s.reminder_hours), default_vat_rate: s.default_vat_rate ?? '25',
});

export function CheckoutForm() {
  const { t, dateTime } = useI18n();
  const toast = useToast();
  const { data, error, loading, reload } = useAsync(() => api.get<CheckoutSettings>('settings/checkout'), []);
  const [v, setV] = useState<Form | null>(null);
  const [saved, setSaved] = useState('');
  const [discoveredAt, setDiscoveredAt] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [finding, setFinding] = useState(false);
  const [found, setFound] = useState<string | null>(null);
  const f = useFormErrors();
  useEffect(() => { if (data) { const x = toForm(data); setV(x); setSaved(JSON.stringify(x)); setDiscoveredAt(data.discovered_at ?? null); } }, [data]);
  const dirty = !!v && JSON.stringify(v) !== saved;
  useUnsaved(dirty);
  if (loading && !data) return <Loading />;
  if (error) return <LoadError error={error} retry={reload} />;
  if (!v) return <Loading />;
  const set = (k: keyof Form) => (x: string) => setV({ ...v, [k]: x });
  const https = (s: string) => /^https?:\/\/\S+$/i.test(s.trim());

  const discover = async () => {
    f.clear(); setFound(null);
    if (!https(v.shop_url)) { f.setLocal([{ field: 'shop_url', message: t('cat.httpsRule') }]); return; }
    setFinding(true);
    try {
      const r = await api.post<CheckoutSettings>('settings/checkout/discover', { shop_url: v.shop_url.trim() });
      setV({ ...v, permalink_endpoint: r.permalink_endpoint ?? '', shop_url: r.shop_url ?? v.shop_url });
      setDiscoveredAt(r.discovered_at ?? null);
      setFound(t('checkout.discovered', { endpoint: r.permalink_endpoint ?? '' }));
    } catch (x) { f.fromError(x); }
    finally { setFinding(false); }
  };
  const save = async (e: Event) => {
    e.preventDefault();
    f.clear(); setFound(null);
    const local: FieldError[] = [];
    if (v.mode === 'hosted' && !https(v.checkout_url)) local.push({ field: 'checkout_url', message: t('cat.httpsRule') });
    if (v.mode === 'permalink' && !https(v.permalink_endpoint)) local.push({ field: 'permalink_endpoint', message: t('cat.httpsRule') });
    if (!/^\d{1,3}$/.test(v.link_hours.trim()) || Number(v.link_hours) < 1 || Number(v.link_hours) > 720) local.push({ field: 'link_hours', message: t('srv.range', { min: 1, max: 720 }) });
    if (v.reminder_hours.trim() && (!/^\d{1,3}$/.test(v.reminder_hours.trim()) || Number(v.reminder_hours) < 1 || Number(v.reminder_hours) > 168)) local.push({ field: 'reminder_hours', message: t('srv.range', { min: 1, max: 168 }) });
    if (!/^\d{1,3}(\.\d{1,2})?$/.test(v.default_vat_rate.trim().replace(',', '.')) || Number(v.default_vat_rate.replace(',', '.')) > 100) local.push({ field: 'default_vat_rate', message: t('cat.vatRule') });
    if (local.length) { f.setLocal(local); return; }
    setBusy(true);
    try {
      const body: CheckoutInput = {
        mode: v.mode, checkout_url: v.checkout_url.trim() || null, permalink_endpoint: v.permalink_endpoint.trim() || null,
        link_hours: Number(v.link_hours), reminder_hours: v.reminder_hours.trim() ? Number(v.reminder_hours) : null, default_vat_rate: v.default_vat_rate.trim().replace(',', '.'),
      };
      const r = await api.put<CheckoutSettings>('settings/checkout', body);
      const x = r ? toForm(r) : v;
      setV(x); setSaved(JSON.stringify(x)); if (r) setDiscoveredAt(r.discovered_at ?? null);
      toast(t('common.saved'));
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };
  const labels = (k: string) => ({
    checkout_url: t('checkout.checkoutUrl'), shop_url: t('checkout.shopUrl'), permalink_endpoint: t('checkout.endpoint'), mode: t('checkout.mode'),
    link_hours: t('checkout.linkHours'), reminder_hours: t('checkout.reminderHours'), default_vat_rate: t('checkout.vat'),
  } as Record<string, string>)[k];
  const modes: { id: Form['mode']; label: string; hint?: string }[] = [
    { id: 'off', label: t('checkout.mode.off') },
    { id: 'permalink', label: t('checkout.mode.permalink'), hint: t('checkout.mode.permalinkHint') },
    { id: 'hosted', label: t('checkout.mode.hosted'), hint: t('checkout.mode.hostedHint') },
  ];
  const hours = (k: 'link_hours' | 'reminder_hours', label: string, hint?: string, max = 720) => (
    <Field name={k} label={label} hint={hint} error={f.errors[k]}>
      {({ id, describedBy, invalid }) => (
        <div class="unit-input">
          <input id={id} type="number" min={1} max={max} inputMode="numeric" value={v[k]} aria-describedby={describedBy} aria-invalid={invalid || undefined}
            onInput={(e) => set(k)((e.target as HTMLInputElement).value)} />
          <span class="unit" aria-hidden="true">{t('checkout.hours')}</span>
        </div>
      )}
    </Field>
  );
  return (
    <form class="card stack checkout-form" onSubmit={save} noValidate aria-labelledby="co-title">
      <h2 id="co-title">{t('checkout.title')}</h2>
      <p class="hint">{t('checkout.lead')}</p>
      <ErrorSummary general={f.general} list={f.list} labels={labels} />
      <fieldset class="fieldset mode-choices">
        <legend>{t('checkout.mode')}</legend>
        {modes.map((m) => (
          <div class={'mode-choice' + (v.mode === m.id ? ' on' : '')} key={m.id}>
            <input type="radio" id={'mode-' + m.id} name="checkout-mode" value={m.id} checked={v.mode === m.id} onChange={() => setV({ ...v, mode: m.id })}
              aria-describedby={m.hint ? 'mode-' + m.id + '-hint' : undefined} />
            <span>
              <label for={'mode-' + m.id}><strong>{m.label}</strong></label>
              {m.hint ? <span class="hint" id={'mode-' + m.id + '-hint'}>{m.hint}</span> : null}
            </span>
          </div>
        ))}
      </fieldset>
      {v.mode === 'permalink' && (
        <div class="stack card-inset">
          <div class="inline-add">
            <TextField name="shop_url" label={t('checkout.shopUrl')} hint={t('checkout.shopUrlHint')} type="url" value={v.shop_url} onValue={set('shop_url')}
              error={f.errors.shop_url} dir="ltr" placeholder="https://" />
            <button type="button" class="btn btn-secondary" onClick={discover} disabled={finding}>{t('checkout.discover')}</button>
          </div>
          {found && <p class="alert alert-success" role="status">{found}</p>}
          <TextField name="permalink_endpoint" label={t('checkout.endpoint')} hint={discoveredAt ? `${t('checkout.endpointHint')} ${t('checkout.discoveredAt', { date: dateTime(discoveredAt) })}` : t('checkout.endpointHint')}
            type="url" value={v.permalink_endpoint} onValue={set('permalink_endpoint')} error={f.errors.permalink_endpoint} dir="ltr" placeholder="https://" />
        </div>
      )}
      {v.mode === 'hosted' && (
        <div class="stack card-inset">
          <TextField name="checkout_url" label={t('checkout.checkoutUrl')} hint={t('checkout.checkoutUrlHint')} type="url" value={v.checkout_url} onValue={set('checkout_url')}
            error={f.errors.checkout_url} dir="ltr" placeholder="https://" />
        </div>
      )}
      <div class="grid-2">
        {hours('link_hours', t('checkout.linkHours'))}
        {hours('reminder_hours', t('checkout.reminderHours'), t('checkout.reminderHint'), 168)}
      </div>
      <TextField name="default_vat_rate" label={t('checkout.vat')} value={v.default_vat_rate} onValue={set('default_vat_rate')} error={f.errors.default_vat_rate} dir="ltr" inputMode="decimal" class="narrow" />
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>{t('common.saveChanges')}</button>
        <UnsavedNote dirty={dirty} />
      </div>
    </form>
  );
}
