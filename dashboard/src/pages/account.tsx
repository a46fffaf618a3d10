import { useState } from 'preact/hooks';
import { api, type Account, type Session } from '../api';
import { useI18n } from '../i18n';
import { ErrorSummary, PageHeader, TextField, useFormErrors, useToast } from '../components/ui';
import { LanguagePicker } from '../components/layout';

export function AccountPage({ account, onSession }: { account: Account; onSession: (s: Session) => void }) {
  const { t } = useI18n();
  const toast = useToast();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [busy, setBusy] = useState(false);
  const f = useFormErrors();
  const submit = async (e: Event) => {
    e.preventDefault();
    f.clear();
    const local = [];
    if (!current) local.push({ field: 'current_password', message: t('common.required') });
    if (next.length < 10) local.push({ field: 'new_password', message: t('account.tooShort') });
    if (next !== again) local.push({ field: 'again', message: t('account.mismatch') });
    if (local.length) { f.setLocal(local); return; }
    setBusy(true);
    try {
      const s = await api.post<Session>('auth/password', { current_password: current, new_password: next }, { quiet401: true });
      if (s && typeof s === 'object' && 'csrf_token' in s) onSession(s);
      setCurrent(''); setNext(''); setAgain('');
      toast(t('account.changed'));
    } catch (x) { f.fromError(x); }
    finally { setBusy(false); }
  };
  const labels = (k: string) => ({ current_password: t('account.current'), new_password: t('account.new'), again: t('account.again') } as Record<string, string>)[k];
  return (
    <>
      <PageHeader title={t('account.title')} lead={`${account.name} · ${account.email}`} />
      <section class="card" aria-labelledby="pref-title">
        <h2 id="pref-title">{t('account.preferences')}</h2>
        <LanguagePicker id="lang-select-pref" />
      </section>
      <form class="card stack narrow-card" onSubmit={submit} noValidate aria-labelledby="pw-title">
        <h2 id="pw-title">{t('account.password')}</h2>
        <p class="hint">{t('account.passwordHint')}</p>
        <ErrorSummary general={f.general} list={f.list} labels={labels} />
        <TextField name="current_password" type="password" label={t('account.current')} value={current} onValue={setCurrent} error={f.errors.current_password} autocomplete="current-password" />
        <TextField name="new_password" type="password" label={t('account.new')} hint={t('account.newHint')} value={next} onValue={setNext} error={f.errors.new_password} autocomplete="new-password" />
        <TextField name="again" type="password" label={t('account.again')} value={again} onValue={setAgain} error={f.errors.again} autocomplete="new-password" />
        <div class="form-actions"><button type="submit" class="btn btn-primary" disabled={busy}>{t('account.change')}</button></div>
      </form>
    </>
  );
}
