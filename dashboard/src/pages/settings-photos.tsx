// Settings → Photos (issue 24): whether shoppers may send photos from the site's chat, and
// how many days photos are kept before they and their thumbnails are deleted for good.
import { useEffect, useState } from 'preact/hooks';
import { api, type AttachmentSettings } from '../api';
import { useI18n } from '../i18n';
import { ErrorSummary, Field, LoadError, Loading, Switch, useAsync, useFormErrors, useToast } from '../components/ui';

export function PhotosForm() {
  const { t } = useI18n();
  const toast = useToast();
  const { data, error, loading, reload } = useAsync(() => api.get<AttachmentSettings>('settings/attachments'), []);
  const [shopper, setShopper] = useState(false);
  const [days, setDays] = useState('');
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  useEffect(() => { if (data) { setShopper(data.shopper_uploads); setDays(String(data.retention_days)); } }, [data]);
  if (loading && !data) return <Loading />;
  if (error) return <LoadError error={error} retry={reload} />;
  const save = async (e: Event) => {
    e.preventDefault();
    f.clear();
    const n = Number(days.trim());
    if (!/^\d+$/.test(days.trim()) || n < 1 || n > 3650) { f.setLocal([{ field: 'retention_days', message: t('photos.wholeNumber') }]); return; }
    setBusy(true);
    try {
      const r = await api.put<AttachmentSettings>('settings/attachments', { shopper_uploads: shopper, retention_days: n });
      if (r) { setShopper(r.shopper_uploads); setDays(String(r.retention_days)); }
      toast(t('common.saved'));
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };
  return (
    <form class="card stack" onSubmit={save} noValidate aria-labelledby="p-title">
      <h2 id="p-title">{t('photos.title')}</h2>
      <p class="hint">{t('photos.lead')}</p>
      <ErrorSummary general={f.general} list={f.list} labels={(k) => (k === 'retention_days' ? t('photos.retention') : undefined)} />
      <Switch checked={shopper} onChange={setShopper} label={t('photos.shopperUploads')} hint={t('photos.shopperUploadsHint')} id="photos-shopper" />
      <Field name="retention_days" label={t('photos.retention')} hint={t('photos.retentionHint')} error={f.errors.retention_days}>
        {({ id, describedBy, invalid }) => (
          <div class="unit-input">
            <input id={id} type="number" min={1} max={3650} inputMode="numeric" value={days} aria-describedby={describedBy} aria-invalid={invalid || undefined}
              onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
            <span class="unit" aria-hidden="true">{t('photos.unitDays')}</span>
          </div>
        )}
      </Field>
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>{t('common.saveChanges')}</button>
      </div>
    </form>
  );
}
