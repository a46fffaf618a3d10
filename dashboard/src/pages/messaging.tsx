// Settings → Messaging: the e-mail sender, the SMS gateway (its token is write-only) and when a
// shopper who left a chat gets the expert's unread messages by e-mail. Team → invite by e-mail.
import { useEffect, useState } from 'preact/hooks';
import { api, type DeliveryResult, type MessagingSettings, type MessagingSettingsInput } from '../api';
import { LANGUAGES, useI18n } from '../i18n';
import { Dialog, ErrorSummary, Field, LoadError, Loading, Switch, TextField, useAsync, useFormErrors, useToast } from '../components/ui';
import { Icon } from '../components/icons';

export function MessagingForm() {
  const { t } = useI18n();
  const toast = useToast();
  const { data, error, loading, reload } = useAsync(() => api.get<MessagingSettings>('settings/messaging'), []);
  const [v, setV] = useState<MessagingSettings | null>(null);
  const [token, setToken] = useState('');
  const [away, setAway] = useState('0');
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  useEffect(() => { if (data) { setV(data); setAway(String(data.away_email_after_min)); } }, [data]);
  if (loading && !data) return <Loading />;
  if (error) return <LoadError error={error} retry={reload} />;
  if (!v) return <Loading />;
  const sms = v.sms;
  const setSms = (p: Partial<MessagingSettings['sms']>) => setV({ ...v, sms: { ...sms, ...p } });
  const save = async (e: Event) => {
    e.preventDefault();
    f.clear();
    if (!/^\d+$/.test(away.trim())) { f.setLocal([{ field: 'away_email_after_min', message: t('routing.wholeNumber') }]); return; }
    setBusy(true);
    try {
      const body: MessagingSettingsInput = {
        sender_name: v.sender_name, sender_address: v.sender_address?.trim() || null, reply_to: v.reply_to?.trim() || null,
        away_email_after_min: Number(away),
        sms: { enabled: sms.enabled, base_url: sms.base_url, account_sid: sms.account_sid, from: sms.from, auth_token: token.trim() || null },
      };
      const r = await api.put<MessagingSettings>('settings/messaging', body);
      setV(r); setToken('');
      toast(t('common.saved'));
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };
  const label = (k: string) => t('msg.' + k.replace('sms.', 'sms_'));
  return (
    <form class="stack" onSubmit={save} noValidate>
      <ErrorSummary general={f.general} list={f.list} labels={label} />
      <section class="card stack" aria-labelledby="m-mail">
        <h2 id="m-mail">{t('msg.mailTitle')}</h2>
        <p class="hint">{t('msg.mailLead')}</p>
        <div class="grid-2">
          <TextField name="sender_name" label={t('msg.sender_name')} value={v.sender_name} onValue={(x) => setV({ ...v, sender_name: x })} error={f.errors.sender_name} autocomplete="organization" />
          <TextField name="sender_address" label={t('msg.sender_address')} hint={t('msg.sender_addressHint')} value={v.sender_address ?? ''} onValue={(x) => setV({ ...v, sender_address: x })} error={f.errors.sender_address} type="email" dir="ltr" autocomplete="email" />
          <TextField name="reply_to" label={t('msg.reply_to')} hint={t('msg.reply_toHint')} value={v.reply_to ?? ''} onValue={(x) => setV({ ...v, reply_to: x })} error={f.errors.reply_to} type="email" dir="ltr" autocomplete="email" />
          <Field name="away_email_after_min" label={t('msg.away_email_after_min')} hint={t('msg.awayHint')} error={f.errors.away_email_after_min}>
            {({ id, describedBy, invalid }) => (
              <div class="unit-input">
                <input id={id} type="number" min={0} max={1440} inputMode="numeric" value={away} aria-describedby={describedBy} aria-invalid={invalid || undefined}
                  onInput={(e) => setAway((e.target as HTMLInputElement).value)} />
                <span class="unit" aria-hidden="true">{t('msg.minutes')}</span>
              </div>
            )}
          </Field>
        </div>
      </section>
      <section class="card stack" aria-labelledby="m-sms">
        <h2 id="m-sms">{t('msg.smsTitle')}</h2>
        <p class="hint">{t('msg.smsLead')}</p>
        <Switch checked={sms.enabled} onChange={(x) => setSms({ enabled: x })} label={t('msg.sms_enabled')} />
        <div class="grid-2">
          <TextField name="sms.base_url" label={t('msg.sms_base_url')} value={sms.base_url} onValue={(x) => setSms({ base_url: x })} error={f.errors['sms.base_url']} type="url" dir="ltr" autocomplete="off" />
          <TextField name="sms.account_sid" label={t('msg.sms_account_sid')} value={sms.account_sid} onValue={(x) => setSms({ account_sid: x })} error={f.errors['sms.account_sid']} dir="ltr" autocomplete="off" />
          <TextField name="sms.auth_token" label={t('msg.sms_auth_token')} hint={sms.auth_token_set ? t('msg.tokenSet') : t('msg.tokenUnset')} value={token} onValue={setToken}
            error={f.errors['sms.auth_token']} type="password" dir="ltr" autocomplete="new-password" />
          <TextField name="sms.from" label={t('msg.sms_from')} hint={t('msg.fromHint')} value={sms.from} onValue={(x) => setSms({ from: x })} error={f.errors['sms.from']} dir="ltr" autocomplete="off" />
        </div>
      </section>
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>{t('common.saveChanges')}</button>
      </div>
    </form>
  );
}

/** Team → "Invite by e-mail": sends the store app's invite code to a list of addresses. */
export function InviteByEmail() {
  const { t, lang } = useI18n();
  const toast = useToast();
  const [open, setOpen] = useState(false);
  const [emails, setEmails] = useState('');
  const [language, setLanguage] = useState<string>(lang);
  const [busy, setBusy] = useState(false);
  const [results, setResults] = useState<DeliveryResult[] | null>(null);
  const f = useFormErrors();
  const send = async () => {
    f.clear();
    const list = emails.split(/[\s,;]+/).map((x) => x.trim()).filter(Boolean);
    if (!list.length) { f.setLocal([{ field: 'emails', message: t('common.required') }]); return; }
    setBusy(true);
    try {
      const r = await api.post<DeliveryResult[]>('team/invitations', { emails: list, language });
      setResults(r);
      toast(t('invite.sent', { n: r.filter((x) => x.status === 'queued').length }));
    } catch (x) {
      f.fromError(x);
    } finally { setBusy(false); }
  };
  const perAddress = Object.entries(f.errors).filter(([k]) => k.startsWith('emails[')).map(([k, m]) => {
    const i = Number(k.slice(7, -1));
    return `${emails.split(/[\s,;]+/).filter(Boolean)[i] ?? ''}: ${m}`;
  }).join(' ');
  const fieldError = f.errors.emails ?? (perAddress || undefined);
  return (
    <>
      <button type="button" class="btn btn-secondary" onClick={() => { f.clear(); setResults(null); setOpen(true); }}><Icon name="mail" size={18} />{t('invite.byEmail')}</button>
      <Dialog open={open} onClose={() => setOpen(false)} title={t('invite.byEmail')} onSubmit={send}
        footer={<>
          <button type="button" class="btn btn-secondary" onClick={() => setOpen(false)}>{t('common.close')}</button>
          <button type="submit" class="btn btn-primary" disabled={busy}><Icon name="send" size={18} />{t('invite.send')}</button>
        </>}>
        <ErrorSummary general={f.general} list={[]} />
        <Field name="emails" label={t('invite.addresses')} hint={t('invite.addressesHint')} error={fieldError}>
          {({ id, describedBy, invalid }) => (
            <textarea id={id} rows={4} dir="ltr" value={emails} aria-describedby={describedBy} aria-invalid={invalid || undefined}
              onInput={(e) => setEmails((e.target as HTMLTextAreaElement).value)} />
          )}
        </Field>
        <Field name="invite-lang" label={t('invite.language')}>
          {({ id }) => (
            <select id={id} value={language} onChange={(e) => setLanguage((e.target as HTMLSelectElement).value)}>
              {LANGUAGES.map((l) => <option key={l.code} value={l.code}>{l.name}</option>)}
            </select>
          )}
        </Field>
        {results && (
          <ul class="stack" aria-live="polite">
            {results.map((r) => (
              <li key={r.email}><span dir="ltr">{r.email}</span> — {t('invite.result.' + r.status)}{r.reason ? ` (${r.reason})` : ''}</li>
            ))}
          </ul>
        )}
      </Dialog>
    </>
  );
}
