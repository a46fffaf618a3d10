// Contacts: shoppers this expert has served, searchable, with their past conversations.
import { useEffect, useState } from 'preact/hooks';
import { hub, type Contact } from '../hub';
import { date, shopperName, t } from '../i18n';
import { Icon, Sheet, useHub, useId } from '../ui';
import { History } from './Chat';

function ContactSheet({ c, onClose }: { c: Contact; onClose: () => void }) {
  const s = useHub();
  useEffect(() => { hub.requestHistory(c.shopper_id); }, [c.shopper_id]);
  return (
    <Sheet title={c.name || c.email || shopperName({ id: c.shopper_id }, 'contacts.anonymous')} onClose={onClose} class="tall">
      <div class="sheet-body">
        {c.email ? <p><bdi>{c.email}</bdi></p> : null}
        <History items={s.history.get(c.shopper_id)} />
      </div>
    </Sheet>
  );
}

export function Contacts() {
  const s = useHub();
  const [q, setQ] = useState('');
  const [open, setOpen] = useState<Contact | null>(null);
  const id = useId('cq');
  const enabled = !!s.me?.features?.contacts;
  useEffect(() => {
    if (!enabled || s.conn !== 'online') return;
    const timer = setTimeout(() => hub.requestContacts(q.trim()), 200);
    return () => clearTimeout(timer);
  }, [q, enabled, s.conn]);
  if (s.me && !enabled) return <section class="section"><h1>{t('contacts.title')}</h1><p class="empty">{t('contacts.off')}</p></section>;
  const list = s.contacts;
  return (
    <section class="section">
      <h1>{t('contacts.title')}</h1>
      <div class="search-box">
        <label for={id} class="sr-only">{t('contacts.search')}</label>
        <Icon name="search" />
        <input id={id} type="search" value={q} placeholder={t('contacts.search')} onInput={(e) => setQ((e.currentTarget as HTMLInputElement).value)} autoComplete="off" />
      </div>
      {list === null ? <p class="muted">{t('common.loading')}</p> : list.length === 0 ? <p class="empty" role="status">{q.trim() ? t('contacts.noMatch') : t('contacts.none')}</p> : (
        <ul class="chat-list">
          {list.map((c) => {
            const name = c.name || shopperName({ id: c.shopper_id }, 'contacts.anonymous');
            return (
              <li><button type="button" class="chat-row" onClick={() => setOpen(c)}>
                <span class="avatar" aria-hidden="true">{name.slice(0, 1).toUpperCase()}</span>
                <span class="chat-row-main">
                  <span class="chat-row-name">{name}</span>
                  {c.email ? <span class="chat-row-where"><bdi>{c.email}</bdi></span> : null}
                  <span class="chat-row-last">
                    {c.last_chat_at ? t('contacts.last', { date: date(c.last_chat_at) }) : ''}
                    {typeof c.conversations === 'number' ? ` · ${t('contacts.count', { n: c.conversations })}` : ''}
                  </span>
                </span>
              </button></li>
            );
          })}
        </ul>
      )}
      {open ? <ContactSheet c={open} onClose={() => setOpen(null)} /> : null}
    </section>
  );
}
