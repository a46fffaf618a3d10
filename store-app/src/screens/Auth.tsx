// Sign in, sign up with an invite code, and the waiting-for-approval screen.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, setToken, type Expert } from '../api';
import { t, LANGS, LANG_NAMES, currentLang, setLang, type Lang, type Key } from '../i18n';
import { Field, useId } from '../ui';

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 0) return t('error.network');
    if (e.status === 401) return t('error.invalidCredentials');
    if (e.status === 403) return t('error.deactivated');
    if (e.status === 429) return t('error.rateLimited');
    if (e.status === 422 || e.status === 400) return t('error.validation');
    if (e.status === 409) return e.problem.detail || e.problem.title;
  }
  return t('error.generic');
}

export function LangPicker() {
  const id = useId('lang');
  return (
    <div class="lang-picker">
      <label for={id}>{t('lang.label')}</label>
      <select id={id} value={currentLang()} onChange={(e) => setLang((e.currentTarget as HTMLSelectElement).value as Lang)}>
        {(Object.keys(LANGS) as Lang[]).map((l) => <option value={l} lang={l}>{LANG_NAMES[l]}</option>)}
      </select>
    </div>
  );
}

function Brand() {
  return (
    <div class="brand">
      <img src="icon.svg" alt="" width={56} height={56} />
      <div>
        <p class="brand-name">{t('app.name')}</p>
        <p class="brand-tag">{t('app.tagline')}</p>
      </div>
    </div>
  );
}

export function Login({ onSignedIn, onSignup, notice }: { onSignedIn: (e: Expert) => void; onSignup: () => void; notice?: string }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true); setError('');
    try {
      const r = await api.login(email.trim(), password);
      setToken(r.token);
      onSignedIn(r.expert);
    } catch (e) { setError(errorText(e)); } finally { setBusy(false); }
  };
  return (
    <main class="auth" id="main">
      <Brand />
      <h1>{t('login.title')}</h1>
      {notice ? <p class="banner info" role="status">{notice}</p> : null}
      <form onSubmit={submit} noValidate class="auth-form">
        <Field label={t('login.email')} type="email" value={email} onValue={setEmail} autoComplete="username" required inputMode="email" name="email" />
        <Field label={t('login.password')} type="password" value={password} onValue={setPassword} autoComplete="current-password" required name="password" />
        <div class="form-error" role="alert">{error}</div>
        <button class="btn primary block" type="submit" disabled={busy}>{t('login.submit')}</button>
      </form>
      <p class="switch-auth">{t('login.new')} <button type="button" class="link" onClick={onSignup}>{t('login.toSignup')}</button></p>
      <LangPicker />
    </main>
  );
}

export function Signup({ onSignedUp, onLogin }: { onSignedUp: (e: Expert) => void; onLogin: () => void }) {
  const [f, setF] = useState({ invite_code: '', name: '', email: '', password: '' });
  const [errs, setErrs] = useState<Partial<Record<keyof typeof f, string>>>({});
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const local: typeof errs = {};
    if (!f.invite_code.trim()) local.invite_code = t('product.required');
    if (!f.name.trim()) local.name = t('product.required');
    if (!f.email.includes('@')) local.email = f.email.trim() ? t('signup.badEmail') : t('product.required');
    if (f.password.length < 10) local.password = t('signup.passwordHelp');
    setErrs(local);
    if (Object.keys(local).length) { setError(t('error.validation')); return; }
    setBusy(true); setError('');
    try {
      const r = await api.signup({ invite_code: f.invite_code.trim(), name: f.name.trim(), email: f.email.trim(), password: f.password });
      setToken(r.token);
      onSignedUp(r.expert);
    } catch (e) {
      if (e instanceof ApiError && e.problem.errors?.length) {
        const fe: typeof errs = {};
        for (const x of e.problem.errors) {
          if (!(x.field in f)) continue;
          fe[x.field as keyof typeof f] = x.field === 'invite_code' ? t('signup.badInvite')
            : x.field === 'password' ? t('signup.passwordHelp') : x.field === 'email' ? t('signup.badEmail') : x.message;
        }
        setErrs(fe);
      }
      setError(errorText(e));
    } finally { setBusy(false); }
  };
  return (
    <main class="auth" id="main">
      <Brand />
      <h1>{t('signup.title')}</h1>
      <form onSubmit={submit} noValidate class="auth-form">
        <Field label={t('signup.invite')} value={f.invite_code} onValue={set('invite_code')} help={t('signup.inviteHelp')} error={errs.invite_code} required autoComplete="off" autoCapitalize="off" name="invite_code" />
        <Field label={t('signup.name')} value={f.name} onValue={set('name')} error={errs.name} required autoComplete="name" name="name" />
        <Field label={t('signup.email')} type="email" value={f.email} onValue={set('email')} error={errs.email} required autoComplete="email" inputMode="email" name="email" />
        <Field label={t('signup.password')} type="password" value={f.password} onValue={set('password')} help={t('signup.passwordHelp')} error={errs.password} required autoComplete="new-password" name="password" />
        <div class="form-error" role="alert">{error}</div>
        <button class="btn primary block" type="submit" disabled={busy}>{t('signup.submit')}</button>
      </form>
      <p class="switch-auth">{t('signup.have')} <button type="button" class="link" onClick={onLogin}>{t('signup.toLogin')}</button></p>
      <LangPicker />
    </main>
  );
}

/** Polls /app/me every few seconds and moves on when the merchant approves the account. */
export function Waiting({ expert, onApproved, onLogout, onGone }: { expert: Expert; onApproved: (e: Expert) => void; onLogout: () => void; onGone: (why: Key) => void }) {
  useEffect(() => {
    let stop = false;
    let timer: number | undefined;
    const check = async () => {
      try {
        const me = await api.me();
        if (stop) return;
        if (me.status === 'approved') { onApproved(me); return; }
        if (me.status === 'deactivated') { onGone('error.deactivated'); return; }
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) { onGone('error.sessionEnded'); return; }
      }
      if (!stop) timer = window.setTimeout(check, 3000);
    };
    timer = window.setTimeout(check, 3000);
    const onVis = () => { if (!document.hidden) { clearTimeout(timer); void check(); } };
    document.addEventListener('visibilitychange', onVis);
    return () => { stop = true; clearTimeout(timer); document.removeEventListener('visibilitychange', onVis); };
  }, []);
  return (
    <main class="auth waiting" id="main">
      <Brand />
      <div class="waiting-art" aria-hidden="true"><span /><span /><span /></div>
      <h1>{t('wait.title')}</h1>
      <p>{t('wait.body')}</p>
      <p class="muted" role="status">{t('wait.checking')}</p>
      <p class="muted">{t('wait.signedInAs', { email: expert.email })}</p>
      <div class="bottom-actions">
        <button class="btn block" type="button" onClick={onLogout}>{t('profile.logout')}</button>
      </div>
    </main>
  );
}
