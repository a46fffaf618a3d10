import { useState } from 'preact/hooks';
import { api, ApiError, type Session } from '../api';
import { useT } from '../i18n';
import { LanguagePicker } from '../components/layout';
import { errorMessage, Field } from '../components/ui';
import { Icon } from '../components/icons';

export function LoginPage({ onSignedIn, expired }: { onSignedIn: (s: Session) => void; expired: boolean }) {
  const t = useT();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!email.trim() || !password) { setError(t('login.missing')); return; }
    setBusy(true);
    setError(null);
    try {
      const s = await api.post<Session>('auth/login', { email: email.trim(), password }, { quiet401: true });
      onSignedIn(s);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 422 || err.status === 400)) setError(t('login.failed'));
      else setError(errorMessage(t, err));
      setBusy(false);
    }
  };

  return (
    <div class="login-shell">
      <header class="login-top">
        <span class="brand"><span class="brand-mark" aria-hidden="true">F</span><span class="brand-name">Floorwalker</span></span>
        <LanguagePicker />
      </header>
      <main class="login-main" id="main">
        <form class="login-card" onSubmit={submit} noValidate aria-labelledby="login-title">
          <h1 id="login-title" tabIndex={-1}>{t('login.title')}</h1>
          <p class="lead">{t('login.lead')}</p>
          {expired && !error && <p class="alert alert-info" role="status"><Icon name="clock" />{t('login.expired')}</p>}
          {error && <p class="alert alert-error" role="alert" id="login-error"><Icon name="alert" />{error}</p>}
          <Field name="email" label={t('login.email')}>
            {({ id }) => <input id={id} type="email" autocomplete="username" value={email} required
              aria-describedby={error ? 'login-error' : undefined} aria-invalid={error ? true : undefined}
              onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />}
          </Field>
          <Field name="password" label={t('login.password')}>
            {({ id }) => <input id={id} type="password" autocomplete="current-password" value={password} required
              aria-describedby={error ? 'login-error' : undefined} aria-invalid={error ? true : undefined}
              onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />}
          </Field>
          <button type="submit" class="btn btn-primary btn-block" disabled={busy}>{busy ? t('login.signingIn') : t('login.submit')}</button>
        </form>
      </main>
    </div>
  );
}
