// "E-mail the transcript" from a chat's menu: the chat goes to the shopper's address (the one
// they gave, or one the expert types) through the server's outbox.
import { useState } from 'preact/hooks';
import { ApiError, request, type Schemas } from '../api';
import { currentLang, t } from '../i18n';
import { Field, Sheet } from '../ui';

export function TranscriptSheet({ conversationId, onClose }: { conversationId: string; onClose: () => void }) {
  const [email, setEmail] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const send = async (e: Event) => {
    e.preventDefault();
    setBusy(true); setError(undefined);
    try {
      const r = await request<Schemas['DeliveryResult']>('POST', `app/conversations/${encodeURIComponent(conversationId)}/transcript`,
        { email: email.trim() || null, language: currentLang() });
      setDone(r.status === 'refused' ? t('transcript.refused') : t('transcript.sent', { email: r.email }));
    } catch (x) {
      if (x instanceof ApiError && x.status === 422) setError(x.field('email') && !email.trim() ? t('transcript.noAddress') : t('transcript.badEmail'));
      else if (x instanceof ApiError && x.status === 429) setError(t('transcript.limit'));
      else setError(t('transcript.failed'));
    } finally { setBusy(false); }
  };
  return (
    <Sheet title={t('transcript.title')} onClose={onClose}>
      <form class="sheet-body" onSubmit={send} noValidate>
        <p>{t('transcript.lead')}</p>
        <Field label={t('transcript.email')} value={email} onValue={setEmail} type="email" autoComplete="off" dir="ltr" optional={t('transcript.optional')} error={error} />
        {done ? <p role="status" class="transcript-done">{done}</p> : null}
        <div class="sheet-foot row">
          <button type="button" class="btn block" onClick={onClose}>{done ? t('transcript.close') : t('common.cancel')}</button>
          {done ? null : <button type="submit" class="btn block primary" disabled={busy}>{t('transcript.send')}</button>}
        </div>
      </form>
    </Sheet>
  );
}
