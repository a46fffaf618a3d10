import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Shopper } from '../api';
import { useI18n } from '../i18n';
import { CopyButton, ErrorSummary, Field, PageHeader, TextField, errorMessage, useFormErrors, useToast } from '../components/ui';
import { Icon } from '../components/icons';
import { JourneySection } from './journey';

/** `initialId`: a Shopper ID to look up at once (links from an order). */
export function ShoppersPage({ initialId }: { initialId?: string | null } = {}) {
  const { t, dateTime } = useI18n();
  const toast = useToast();
  const [q, setQ] = useState(initialId ?? '');
  const [shopper, setShopper] = useState<Shopper | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const f = useFormErrors();

  useEffect(() => { if (initialId) void lookup(); }, [initialId]);
  const lookup = async (e?: Event) => {
    e?.preventDefault();
    const id = q.trim();
    if (!id) { setErr(t('shoppers.enterId')); return; }
    setBusy(true); setErr(null); setShopper(null);
    try {
      const s = await api.get<Shopper>('shoppers/' + encodeURIComponent(id));
      setShopper(s); setName(s.name ?? ''); setEmail(s.email ?? '');
    } catch (x) {
      setErr(x instanceof ApiError && x.status === 404 ? t('shoppers.notFound') : errorMessage(t, x));
    } finally { setBusy(false); }
  };
  const identify = async (e: Event) => {
    e.preventDefault();
    if (!shopper) return;
    f.clear();
    try {
      const s = await api.patch<Shopper>('shoppers/' + encodeURIComponent(shopper.id), { name: name.trim() || null, email: email.trim() || null });
      setShopper(s);
      toast(t('common.saved'));
    } catch (x) { f.fromError(x); }
  };

  return (
    <>
      <PageHeader title={t('module.shoppers')} lead={t('shoppers.lead')} />
      <form class="card lookup" onSubmit={lookup} noValidate role="search" aria-label={t('shoppers.lookup')}>
        <Field name="shopper-id" label={t('shoppers.id')} hint={t('shoppers.idHint')} error={err ?? undefined}>
          {({ id, describedBy, invalid }) => (
            <input id={id} class="mono" dir="ltr" value={q} spellcheck={false} autocomplete="off" aria-describedby={describedBy} aria-invalid={invalid || undefined}
              onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
          )}
        </Field>
        <button type="submit" class="btn btn-primary" disabled={busy}><Icon name="search" size={18} />{t('shoppers.find')}</button>
      </form>
      {shopper && (
        <section class="card" aria-labelledby="shopper-title">
          <h2 id="shopper-title">{shopper.name || t('shoppers.anonymous')}</h2>
          <dl class="facts">
            <div><dt>{t('shoppers.id')}</dt><dd><code>{shopper.id}</code> <CopyButton text={shopper.id} class="btn btn-ghost btn-small" /></dd></div>
            <div><dt>{t('shoppers.email')}</dt><dd>{shopper.email || '—'}</dd></div>
            <div><dt>{t('shoppers.firstSeen')}</dt><dd>{dateTime(shopper.created_at)}</dd></div>
            <div><dt>{t('shoppers.lastSeen')}</dt><dd data-ms={shopper.last_seen_at}>{dateTime(shopper.last_seen_at)}</dd></div>
          </dl>
          <form class="stack identify" onSubmit={identify} noValidate>
            <h3>{t('shoppers.identify')}</h3>
            <p class="hint">{t('shoppers.identifyHint')}</p>
            <ErrorSummary general={f.general} list={f.list} />
            <div class="grid-2">
              <TextField name="name" label={t('shoppers.name')} value={name} onValue={setName} error={f.errors.name} autocomplete="off" />
              <TextField name="email" label={t('shoppers.email')} type="email" value={email} onValue={setEmail} error={f.errors.email} autocomplete="off" />
            </div>
            <div class="form-actions"><button type="submit" class="btn btn-primary">{t('common.saveChanges')}</button></div>
          </form>
        </section>
      )}
      {shopper && <JourneySection shopperId={shopper.id} key={shopper.id} />}
    </>
  );
}
