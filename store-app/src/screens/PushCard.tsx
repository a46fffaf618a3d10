// "Alerts when the phone is locked": Web Push for this device, each permission state explained.
import { useEffect, useState } from 'preact/hooks';
import { t } from '../i18n';
import { disablePush, enablePush, pushState, type PushState } from '../push';

export function PushCard() {
  const [state, setState] = useState<PushState | 'loading'>('loading');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  useEffect(() => { void pushState().then(setState); }, []);
  const run = async (fn: () => Promise<PushState>) => {
    setBusy(true); setErr('');
    try { setState(await fn()); } catch { setErr(t('push.failed')); } finally { setBusy(false); }
  };
  if (state === 'loading') return null;
  const text = state === 'on' ? t('push.on') : state === 'denied' ? t('push.denied') : state === 'unsupported' ? t('push.unsupported') : t('push.off');
  return (
    <section class="card push-card" aria-labelledby="push-h" data-push={state}>
      <h2 id="push-h" class="card-title">{t('push.title')}</h2>
      <p class={`push-state ${state}`} role="status">{text}</p>
      {state === 'off' ? <button type="button" class="btn primary block" disabled={busy} onClick={() => run(enablePush)}>{t('push.enable')}</button> : null}
      {state === 'on' ? <button type="button" class="btn block" disabled={busy} onClick={() => run(disablePush)}>{t('push.disable')}</button> : null}
      {err ? <p class="form-msg error" role="alert">{err}</p> : null}
    </section>
  );
}
