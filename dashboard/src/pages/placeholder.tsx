import { useT, type Key } from '../i18n';
import { PageHeader } from '../components/ui';
import { Icon } from '../components/icons';

/** Analytics, Exports and Demo: honest pages until the chat hub produces the data. */
export function PlaceholderPage({ kind }: { kind: 'analytics' | 'exports' | 'demo' }) {
  const t = useT();
  const k = (s: string) => `${kind}.${s}` as Key;
  return (
    <>
      <PageHeader title={t(('module.' + kind) as Key)} lead={t(k('lead'))} />
      <section class="card placeholder" aria-labelledby="ph-title">
        <span class="empty-icon" aria-hidden="true"><Icon name={kind === 'demo' ? 'demo' : kind} size={28} /></span>
        <h2 id="ph-title">{t(k('soonTitle'))}</h2>
        <p>{t(k('soonBody'))}</p>
        <ul class="checklist">
          <li>{t(k('will1'))}</li>
          <li>{t(k('will2'))}</li>
          <li>{t(k('will3'))}</li>
        </ul>
      </section>
    </>
  );
}
