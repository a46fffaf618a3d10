// Profile: who is signed in, alerts, language, password, sign out.
import { useState } from 'preact/hooks';
import { api, ApiError, setToken, type Expert } from '../api';
import { t } from '../i18n';
import { alertPrefs, askNotificationPermission, beep, notificationPermission, setAlertPrefs, unlockAudio } from '../alerts';
import { Field, Toggle } from '../ui';
import { PushCard } from './PushCard';
import { MissedChats } from './MissedChats';
import { hub } from '../hub';
import { errorText, LangPicker } from './Auth';

export function Profile({ expert, onLogout }: { expert: Expert; onLogout: () => void }) {
  const [cur, setCur] = useState('');
  const [next, setNext] = useState('');
  const [errs, setErrs] = useState<{ current?: string; next?: string }>({});
  const [msg, setMsg] = useState('');
  const [busy, setBusy] = useState(false);
  const [prefs, setPrefs] = useState(alertPrefs());
  const [perm, setPerm] = useState(notificationPermission());
  const change = async (ev: Event) => {
    ev.preventDefault();
    setMsg('');
    if (next.length < 10) { setErrs({ next: t('signup.passwordHelp') }); return; }
    setBusy(true); setErrs({});
    hub.beginTokenChange();
    try {
      const r = await api.password(cur, next);
      setToken(r.token);
      setCur(''); setNext('');
      setMsg(t('profile.changed'));
    } catch (e) {
      if (e instanceof ApiError && e.problem.errors?.length) {
        setErrs({ current: e.field('current_password') ? t('profile.wrongCurrent') : undefined, next: e.field('new_password') ? t('signup.passwordHelp') : undefined });
      }
      setMsg(errorText(e));
    } finally { setBusy(false); hub.endTokenChange(); }
  };
  return (
    <section class="section profile">
      <h1>{t('profile.title')}</h1>
      <dl class="card facts">
        <div><dt>{t('profile.name')}</dt><dd>{expert.name}</dd></div>
        <div><dt>{t('profile.email')}</dt><dd><bdi>{expert.email}</bdi></dd></div>
      </dl>
      <p class="help fixed">{t('profile.fixed')}</p>
      <h2>{t('profile.alerts')}</h2>
      <div class="card">
        <Toggle checked={prefs.sound} label={t('profile.sound')} onChange={(v) => { setAlertPrefs({ sound: v }); setPrefs(alertPrefs()); if (v) { unlockAudio(); setTimeout(() => beep(1), 50); } }} />
        <Toggle checked={prefs.vibrate} label={t('profile.vibrate')} onChange={(v) => { setAlertPrefs({ vibrate: v }); setPrefs(alertPrefs()); }} />
        {perm === 'default' ? <button type="button" class="btn block" onClick={async () => setPerm(await askNotificationPermission())}>{t('notify.enableLong')}</button>
          : perm === 'denied' ? <p class="help">{t('notify.denied')}</p> : perm === 'granted' ? <p class="help">{t('notify.on')}</p> : null}
        <LangPicker />
      </div>
      <PushCard />
      <MissedChats />
      <h2>{t('profile.password')}</h2>
      <form class="card" onSubmit={change} noValidate>
        <Field label={t('profile.current')} type="password" value={cur} onValue={setCur} autoComplete="current-password" error={errs.current} name="current_password" />
        <Field label={t('profile.new')} type="password" value={next} onValue={setNext} autoComplete="new-password" help={t('signup.passwordHelp')} error={errs.next} name="new_password" />
        <p class="form-msg" role="status">{msg}</p>
        <button type="submit" class="btn block" disabled={busy || !cur || !next}>{t('profile.password')}</button>
      </form>
      <button type="button" class="btn block danger logout" onClick={onLogout}>{t('profile.logout')}</button>
    </section>
  );
}
