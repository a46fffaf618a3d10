import { useT } from '../i18n';
import { href } from '../router';
import { PageHeader } from '../components/ui';

export function NotFoundPage({ home }: { home: string }) {
  const t = useT();
  return (
    <>
      <PageHeader title={t('notFound.title')} lead={t('notFound.lead')} />
      <p><a class="btn btn-secondary" href={href(home)}>{t('notFound.home')}</a></p>
    </>
  );
}
