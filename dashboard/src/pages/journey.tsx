// A shopper's journey (Shoppers page): page views and chat events on one timeline, then their
// conversations and orders.
import { useState } from 'preact/hooks';
import { api, type Journey, type JourneyConversation, type JourneyEvent, type PageView, type ShopperContact } from '../api';
import { useI18n, type Key } from '../i18n';
import { Badge, LoadError, Loading, useAsync } from '../components/ui';
import { Icon } from '../components/icons';

/** The page's address as a link target, only for http(s) pages: a `javascript:` (or any other)
 * URL a page view carries is shown as text, never as a live link. */
export function webHref(url?: string | null): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch { return null; }
}

type Item = { at: number; view: PageView } | { at: number; event: JourneyEvent };

/** Event kinds shown on the timeline, with their icon. Messages are counted per conversation instead. */
const EVENT_ICONS: Record<string, string> = {
  requested: 'chat', offered: 'team', claimed: 'check', first_response: 'chat', transferred: 'refresh',
  missed: 'alert', unanswered: 'alert', ended: 'x', abandoned: 'x', rated: 'check', offline_message: 'chat',
  order: 'analytics', order_attributed: 'analytics', order_stage: 'analytics', identified: 'account',
};
const HIDDEN_KINDS = new Set(['page_view', 'message', 'text', 'system']);
const STATUS_KIND: Record<string, 'ok' | 'warn' | 'muted' | 'info' | 'danger'> = {
  claimed: 'ok', ended: 'muted', queued: 'info', offered: 'info', missed: 'danger', abandoned: 'warn',
  placed: 'info', paid: 'ok', fulfilled: 'ok', cancelled: 'muted', refunded: 'warn',
};

const ratingOf = (c: JourneyConversation): number | null => c.rating ?? null;

export function JourneySection({ shopperId }: { shopperId: string }) {
  const { t, lang, dateTime, time, money, num } = useI18n();
  const { data, error, loading, reload } = useAsync(() => api.get<Journey>('shoppers/' + encodeURIComponent(shopperId) + '/journey'), [shopperId]);
  const [limit, setLimit] = useState(40);
  if (loading && !data) return <section class="card"><Loading /></section>;
  if (error) return <section class="card" aria-labelledby="journey-title"><h2 id="journey-title">{t('journey.title')}</h2><LoadError error={error} retry={reload} /></section>;
  const j = data!;
  const convs = new Map(j.conversations.map((c) => [c.id, c]));
  const storeName = new Map<string, string>(), deptName = new Map<string, string>(), expertName = new Map<string, string>();
  for (const c of j.conversations) {
    if (c.store_id && c.store_name) storeName.set(c.store_id, c.store_name);
    if (c.department_id && c.department_name) deptName.set(c.department_id, c.department_name);
    if (c.expert_id && c.expert_name) expertName.set(c.expert_id, c.expert_name);
  }
  const items: Item[] = [
    ...j.page_views.map((v) => ({ at: v.at, view: v })),
    ...j.events.filter((e) => !HIDDEN_KINDS.has(e.kind)).map((e) => ({ at: e.at, event: e })),
  ].sort((a, b) => b.at - a.at);
  const dayFmt = new Intl.DateTimeFormat(lang, { dateStyle: 'full' });
  const shown = items.slice(0, limit);
  let lastDay = '';

  const eventText = (e: JourneyEvent) => {
    const expert = (e.expert_id && expertName.get(e.expert_id)) || (e.conversation_id && convs.get(e.conversation_id)?.expert_name) || t('journey.anExpert');
    const key = ('journey.event.' + e.kind) as Key;
    const known = EVENT_ICONS[e.kind] !== undefined;
    if (e.kind === 'order_stage') {
      const d = e.detail ?? {};
      const sk = ('orders.stage.' + (d.stage ?? '')) as Key;
      const stage = t(sk) === sk ? String(d.stage ?? '') : t(sk);
      const text = t('journey.event.order_stage', { order: String(d.order_id ?? ''), stage });
      return d.stage === 'shipped' && d.tracking_number ? `${text} (${d.carrier ?? ''} ${d.tracking_number})` : text;
    }
    return known ? t(key, { expert, n: e.value ?? 0 }) : t('journey.event.other', { kind: e.kind.replace(/_/g, ' ') });
  };
  const where = (e: JourneyEvent) => [e.store_id && storeName.get(e.store_id), e.department_id && deptName.get(e.department_id)].filter(Boolean).join(' · ');

  return (
    <>
      <ContactSection contacts={j.contacts ?? []} />
      <section class="card" aria-labelledby="journey-title">
        <h2 id="journey-title">{t('journey.title')}</h2>
        <dl class="journey-counts">
          <div data-count="page_views"><dt>{t('journey.pageViews')}</dt><dd>{num(j.page_views.length)}</dd></div>
          <div data-count="conversations"><dt>{t('journey.conversations')}</dt><dd>{num(j.conversations.length)}</dd></div>
          <div data-count="orders"><dt>{t('journey.orders')}</dt><dd>{num(j.orders.length)}</dd></div>
        </dl>
        {items.length === 0 ? <p class="muted">{t('journey.empty')}</p> : (
          <ol class="timeline" aria-label={t('journey.timeline')}>
            {shown.map((it, k) => {
              const day = dayFmt.format(new Date(it.at));
              const head = day !== lastDay ? day : null;
              lastDay = day;
              return (
                <li key={k} class={'tl-item ' + ('view' in it ? 'tl-view' : 'tl-event tl-' + it.event.kind)}>
                  {head && <h3 class="tl-day">{head}</h3>}
                  <div class="tl-row">
                    <time class="tl-time" dateTime={new Date(it.at).toISOString()}>{time(it.at)}</time>
                    <span class="tl-icon" aria-hidden="true"><Icon name={'view' in it ? 'globe' : EVENT_ICONS[it.event.kind] ?? 'clock'} size={16} /></span>
                    <div class="tl-body">
                      {'view' in it ? (
                        <>
                          <span class="tl-what">{t('journey.viewed')}</span>{' '}
                          {webHref(it.view.url)
                            ? <a href={webHref(it.view.url)!} target="_blank" rel="noopener noreferrer" class="tl-link" dir="auto">{it.view.title || it.view.url}</a>
                            : <bdi class="tl-link" dir="auto">{it.view.title || it.view.url}</bdi>}
                          {it.view.product && (
                            <span class="tl-product">
                              {it.view.product.name}
                              {typeof it.view.product.price === 'number' && <> · {it.view.product.currency ? money(it.view.product.price, it.view.product.currency) : num(it.view.product.price, 2)}</>}
                            </span>
                          )}
                        </>
                      ) : (
                        <>
                          <span class="tl-what">{eventText(it.event)}</span>
                          {where(it.event) && <span class="tl-where muted small">{where(it.event)}</span>}
                        </>
                      )}
                    </div>
                  </div>
                </li>
              );
            })}
          </ol>
        )}
        {items.length > limit && (
          <button type="button" class="btn btn-secondary" onClick={() => setLimit(limit + 100)}>{t('journey.showMore', { n: items.length - limit })}</button>
        )}
      </section>

      <section class="card" aria-labelledby="jconv-title">
        <h2 id="jconv-title">{t('journey.conversations')}</h2>
        {j.conversations.length === 0 ? <p class="muted">{t('journey.noConversations')}</p> : (
          <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="jconv-title">
            <table class="table">
              <thead><tr>
                <th scope="col">{t('journey.started')}</th>
                <th scope="col">{t('journey.store')}</th>
                <th scope="col" class="hide-sm">{t('journey.department')}</th>
                <th scope="col">{t('journey.expert')}</th>
                <th scope="col">{t('journey.status')}</th>
                <th scope="col" class="num">{t('journey.rating')}</th>
                <th scope="col" class="num hide-sm">{t('journey.messages')}</th>
              </tr></thead>
              <tbody>
                {j.conversations.map((c) => {
                  const r = ratingOf(c);
                  return (
                    <tr key={c.id}>
                      <td class="nowrap">{dateTime(c.created_at)}</td>
                      <td>{c.store_name ?? '—'}</td>
                      <td class="hide-sm">{c.department_name ?? '—'}</td>
                      <td>{c.expert_name ?? <span class="muted">{t('journey.nobody')}</span>}</td>
                      <td><Badge kind={STATUS_KIND[c.status] ?? 'muted'}>{t(('journey.status.' + c.status) as Key) === 'journey.status.' + c.status ? c.status : t(('journey.status.' + c.status) as Key)}</Badge></td>
                      <td class="num">{r === null ? <span class="muted">—</span> : <span title={t('journey.ratingOf', { n: r })}><span aria-hidden="true">{'★'.repeat(r)}</span><span class="visually-hidden">{t('journey.ratingOf', { n: r })}</span></span>}</td>
                      <td class="num hide-sm">{num(c.messages)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section class="card" aria-labelledby="jorders-title">
        <h2 id="jorders-title">{t('journey.orders')}</h2>
        {j.orders.length === 0 ? <p class="muted">{t('journey.noOrders')}</p> : (
          <div class="table-wrap" tabIndex={0} role="region" aria-labelledby="jorders-title">
            <table class="table">
              <thead><tr>
                <th scope="col">{t('journey.orderId')}</th>
                <th scope="col" class="hide-sm">{t('journey.placed')}</th>
                <th scope="col" class="num">{t('journey.amount')}</th>
                <th scope="col">{t('journey.status')}</th>
                <th scope="col">{t('journey.attributedTo')}</th>
              </tr></thead>
              <tbody>
                {j.orders.map((o) => (
                  <tr key={o.order_id}>
                    <td><code>{o.order_id}</code></td>
                    <td class="nowrap hide-sm">{dateTime(o.placed_at)}</td>
                    <td class="num nowrap">{money(o.amount, o.currency)}</td>
                    <td><Badge kind={STATUS_KIND[o.status] ?? 'muted'}>{t(('orders.status.' + o.status) as Key) === 'orders.status.' + o.status ? o.status : t(('orders.status.' + o.status) as Key)}</Badge></td>
                    <td>{o.attributed
                      ? (o.expert_id && expertName.get(o.expert_id)) || (o.conversation_id && convs.get(o.conversation_id)?.expert_name) || t('journey.attributedChat')
                      : <span class="muted">{t('journey.notAttributed')}</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

/** Who the shopper's contact expert is (offered their chats first), and who was before. */
function ContactSection({ contacts }: { contacts: ShopperContact[] }) {
  const { t, date } = useI18n();
  const current = contacts.find((c) => !c.until);
  const earlier = contacts.filter((c) => c.until);
  return (
    <section class="card" aria-labelledby="contact-title">
      <h2 id="contact-title">{t('shoppers.contact')}</h2>
      <p data-contact="current">{current ? t('shoppers.contactSince', { name: current.expert_name, date: date(current.since) }) : <span class="muted">{t('shoppers.contactNone')}</span>}</p>
      {earlier.length > 0 && (
        <>
          <h3 class="small-heading">{t('shoppers.earlier')}</h3>
          <ul class="plain-list" data-contact="earlier">
            {earlier.map((c) => <li key={c.expert_id}>{t('shoppers.earlierItem', { name: c.expert_name, date: date(c.until!) })}</li>)}
          </ul>
        </>
      )}
      <p class="hint">{t('shoppers.contactRule')}</p>
    </section>
  );
}
