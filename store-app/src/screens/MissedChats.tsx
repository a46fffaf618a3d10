// "Why did I miss this chat?": the last day's chats that went to others (or to nobody), each
// with the reason the server found (GET /api/v1/app/push/missed; docs/push.md).
import { useState } from 'preact/hooks';
import { request, type Schemas } from '../api';
import { clock, t, type Key } from '../i18n';

type Missed = Schemas['MissedChat'];

export function MissedChats() {
  const [items, setItems] = useState<Missed[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const load = async () => {
    setBusy(true); setErr('');
    try { setItems(await request<Missed[]>('GET', 'app/push/missed')); } catch { setErr(t('error.generic' as Key)); } finally { setBusy(false); }
  };
  // Every reason that applied then, most personal first (the server's order).
  const reasons = (m: Missed) => (m.reasons && m.reasons.length ? m.reasons : [m.reason]).map((r) => {
    const base = t(`missed.reason.${r}` as Key);
    return r === 'alert_failed' && m.detail ? `${base}: ${t(`missed.fail.${m.detail}` as Key)}` : base;
  });
  return (
    <section class="card missed" aria-labelledby="missed-h">
      <h2 id="missed-h" class="card-title">{t('missed.title')}</h2>
      {items === null ? (
        <button type="button" class="btn block" disabled={busy} onClick={load}>{t('missed.show')}</button>
      ) : items.length === 0 ? <p class="empty">{t('missed.empty')}</p> : (
        <ul class="missed-list">
          {items.map((m) => (
            <li key={m.conversation_id} data-reason={m.reason}>
              <span class="missed-when">{clock(m.queued_at)}</span>
              <span class="missed-where">{[m.store, m.department].filter(Boolean).join(' · ')}</span>
              <ul class="missed-why">{reasons(m).map((r) => <li key={r}>{r}</li>)}</ul>
            </li>
          ))}
        </ul>
      )}
      {err ? <p class="form-msg error" role="alert">{err}</p> : null}
    </section>
  );
}
