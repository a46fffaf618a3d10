// The home screen: waiting shoppers (offers) first, then the expert's open chats; the
// availability switch sits at the bottom, within reach of the thumb.
import { useEffect, useRef, useState } from 'preact/hooks';
import { hub, type Chat, type Offer, type StoreInfo } from '../hub';
import { elapsed, shopperName, t, type Key } from '../i18n';
import { askNotificationPermission, notificationPermission, unlockAudio } from '../alerts';
import { Icon, Sheet, Toggle, useHub, useTick } from '../ui';
import { OfferJourney, shortUrl } from '../journey';
import { focusedOffer, onFocusOffer } from '../push';

const GONE: Record<string, Key> = {
  taken: 'offer.taken', at_capacity: 'offer.atCapacity', not_eligible: 'offer.notEligible',
};

/** The waiting time's colour: calm at first, amber after 30 s, red after 90 s (a shopper who
 *  has waited that long is close to being missed). */
export function waitClass(ms: number): 'fresh' | 'warn' | 'late' {
  return ms >= 90_000 ? 'late' : ms >= 30_000 ? 'warn' : 'fresh';
}

export function OfferCard({ o, now, focused = false }: { o: Offer; now: number; focused?: boolean }) {
  const claimRef = useRef<HTMLButtonElement>(null);
  const cardRef = useRef<HTMLLIElement>(null);
  // Opened from a push notification: bring the offer into view, ready to claim.
  useEffect(() => {
    if (!focused) return;
    cardRef.current?.scrollIntoView({ block: 'center' });
    claimRef.current?.focus();
  }, [focused]);
  const where = [o.store?.name, o.department?.name].filter(Boolean).join(' · ');
  const reason = o.reason && o.reason !== 'new' ? t(`offer.reason.${o.reason}` as Key) : '';
  const titleId = `offer-${o.conversation_id}`;
  const journey = o.journey ?? [];
  // With the shopper's pages shown, the request's page and product only when they add something.
  const showProduct = !!o.product?.name && o.product.name !== journey[0]?.product?.name;
  const showPage = !!o.page_url && !journey.some((v) => v.url === o.page_url);
  return (
    <li ref={cardRef} class={`offer${o.gone ? ' gone' : ''}${focused ? ' focused' : ''}`} aria-labelledby={titleId} data-offer={o.conversation_id}>
      <div class="offer-top">
        <h3 id={titleId} class="offer-where">{where || t('chat.shopper')}</h3>
        <span class={`offer-wait ${waitClass(now - o.waiting_since)}`}>
          <span class="sr-only">{t('offer.waiting', { time: elapsed(now - o.waiting_since) })}</span>
          <span aria-hidden="true">{elapsed(now - o.waiting_since)}</span>
        </span>
      </div>
      <div class="badges">
        {reason ? <span class="badge warn">{reason}</span> : null}
        {(o as any).offline ? <span class="badge warn">{t('offer.offline')}</span> : null}
        {o.shopper?.your_contact ? <span class="badge accent">{t('offer.yourContact')}</span>
          : o.shopper?.returning ? <span class="badge">{t('offer.returning')}</span> : null}
        {o.shopper?.name ? <span class="badge">{o.shopper.name}</span> : null}
      </div>
      <p class="offer-msg" dir="auto">{o.first_message ? o.first_message : <span class="muted">{t('offer.noMessage')}</span>}</p>
      {o.note ? <p class="offer-note" dir="auto">{t('offer.note', { note: o.note })}</p> : null}
      {journey.length ? <OfferJourney visits={journey} now={now} /> : null}
      {showProduct ? <p class="offer-ctx"><span class="ctx-label">{t('offer.product')}</span> <bdi dir="auto">{o.product!.name}</bdi></p> : null}
      {showPage ? <p class="offer-ctx"><span class="ctx-label">{t('offer.page')}</span> <bdi>{shortUrl(o.page_url)}</bdi></p> : null}
      {o.gone ? (
        <p class="offer-gone" role="status">{t(GONE[o.gone] ?? 'offer.gone')}</p>
      ) : (
        <button ref={claimRef} type="button" class="btn primary block claim" disabled={o.claiming}
          onClick={() => { unlockAudio(); hub.claim(o.conversation_id); }}>
          {o.claiming ? t('offer.claiming') : t('offer.claim')}
        </button>
      )}
    </li>
  );
}

function ChatRow({ chat, onOpen }: { chat: Chat; onOpen: () => void }) {
  const c = chat.conv;
  const unread = hub.unread(chat);
  const last = [...chat.messages.values()].sort((a, b) => b.seq - a.seq).find((m) => m.kind !== 'system');
  const name = shopperName(c.shopper);
  const where = [c.store?.name, c.department?.name].filter(Boolean).join(' · ');
  const closed = chat.left || c.status !== 'claimed';
  return (
    <li>
      <button type="button" class={`chat-row${closed ? ' closed' : ''}`} onClick={onOpen} data-chat={c.id}>
        <span class="avatar" aria-hidden="true">{name.slice(0, 1).toUpperCase()}</span>
        <span class="chat-row-main">
          <span class="chat-row-name">{name}{closed ? <span class="muted"> · {chat.left ? t('chat.left') : t('chat.ended')}</span> : null}</span>
          <span class="chat-row-where">{where}</span>
          <span class="chat-row-last" dir="auto">{chat.shopperTyping ? t('chat.typing') : last ? (last.kind === 'product' ? `🛍 ${last.product?.name ?? ''}` : last.body) : ''}</span>
        </span>
        {unread ? <span class="unread" aria-label={t('chat.unread', { n: unread })}>{unread}</span> : null}
      </button>
    </li>
  );
}

function NotifyAsk() {
  const [perm, setPerm] = useState(notificationPermission());
  const [dismissed, setDismissed] = useState(() => { try { return !!localStorage.getItem('fw.app.notifyAsked'); } catch { return false; } });
  if (perm !== 'default' || dismissed) return null;
  return (
    <section class="card notify-ask" aria-label={t('profile.alerts')}>
      <Icon name="bell" />
      <p>{t('notify.ask')}</p>
      <div class="row">
        <button type="button" class="btn small" onClick={() => { setDismissed(true); try { localStorage.setItem('fw.app.notifyAsked', '1'); } catch { /* */ } }}>{t('notify.later')}</button>
        <button type="button" class="btn small primary" onClick={async () => { unlockAudio(); setPerm(await askNotificationPermission()); }}>{t('notify.enable')}</button>
      </div>
    </section>
  );
}

export function AvailabilitySheet({ onClose }: { onClose: () => void }) {
  const s = useHub();
  const st = s.status;
  const stores: StoreInfo[] = s.stores;
  const selectedDeps = new Set(st?.department_ids ?? []);
  const selectedStores = new Set(st?.store_ids ?? []);
  // The most the merchant allows (the server says, and holds set_status to it).
  const limit = st?.max_chats_limit ?? s.me?.max_chats ?? 20;
  const toggleStore = (id: string, on: boolean) => {
    const ids = new Set(selectedStores);
    if (on) ids.add(id); else ids.delete(id);
    hub.setStatus({ store_ids: [...ids] });
  };
  const toggleDep = (id: string, on: boolean) => {
    const ids = new Set(selectedDeps);
    if (on) ids.add(id); else ids.delete(id);
    hub.setStatus({ department_ids: [...ids] });
  };
  return (
    <Sheet title={t('avail.title')} onClose={onClose}>
      <div class="sheet-body">
        <Toggle checked={!!st?.available} onChange={(v) => hub.setStatus({ available: v })} label={t('avail.switch')} />
        <div class="field">
          <label for="max-chats">{t('avail.maxChats')}</label>
          <div class="stepper">
            <button type="button" class="btn small" aria-label="−" disabled={!st || st.max_chats <= 1} onClick={() => hub.setStatus({ max_chats: (st?.max_chats ?? 1) - 1 })}>−</button>
            <input id="max-chats" type="number" inputMode="numeric" min={1} max={Math.max(1, Math.min(20, limit))} value={st?.max_chats ?? ''} aria-describedby="max-chats-help"
              onChange={(e) => { const n = Number((e.currentTarget as HTMLInputElement).value); if (n >= 1 && n <= Math.min(20, limit)) hub.setStatus({ max_chats: n }); }} />
            <button type="button" class="btn small" aria-label="+" disabled={!st || st.max_chats >= Math.min(20, limit)} onClick={() => hub.setStatus({ max_chats: (st?.max_chats ?? 1) + 1 })}>+</button>
          </div>
          <p class="help" id="max-chats-help">{t('avail.limit', { n: Math.min(20, limit) })}</p>
        </div>
        <fieldset class="where">
          <legend>{t('avail.where')}</legend>
          <p class="help">{t('avail.whereHelp')}</p>
          {stores.length === 0 ? <p class="muted">{t('avail.noStores')}</p> : stores.map((store) => (
            <div class="store-group">
              <label class="check strong"><input type="checkbox" checked={selectedStores.has(store.id)} onChange={(e) => toggleStore(store.id, (e.currentTarget as HTMLInputElement).checked)} /> {store.name}</label>
              <div class="deps">
                {store.departments.map((d) => (
                  <label class="check"><input type="checkbox" checked={selectedDeps.has(d.id)} onChange={(e) => toggleDep(d.id, (e.currentTarget as HTMLInputElement).checked)} /> {d.name}</label>
                ))}
              </div>
            </div>
          ))}
        </fieldset>
      </div>
      <div class="sheet-foot"><button type="button" class="btn primary block" onClick={onClose}>{t('avail.done')}</button></div>
    </Sheet>
  );
}

export function Home({ onOpenChat }: { onOpenChat: (id: string) => void }) {
  const s = useHub();
  const now = useTick(1000);
  const all = [...s.chats.values()];
  // Open chats first; a chat that ended or is no longer this expert's moves to "Recently ended"
  // (kept on this device until cleared or the app reloads).
  const isOpen = (c: Chat) => c.conv.status === 'claimed' && !c.left;
  const chats = all.filter(isOpen).sort((a, b) => (b.conv.claimed_at ?? b.conv.created_at) - (a.conv.claimed_at ?? a.conv.created_at));
  const ended = all.filter((c) => !isOpen(c)).sort((a, b) => (b.conv.ended_at ?? b.conv.claimed_at ?? b.conv.created_at) - (a.conv.ended_at ?? a.conv.claimed_at ?? a.conv.created_at));
  const away = s.status && !s.status.available;
  const live = s.offers.filter((o) => !o.gone).length;
  const [focus, setFocus] = useState(focusedOffer());
  useEffect(() => onFocusOffer(setFocus), []);
  const focusGone = !!focus && s.conn === 'online' && !s.offers.some((o) => o.conversation_id === focus && !o.gone);
  return (
    <>
      {focusGone ? <p class="card hint focus-gone" role="status">{t('push.goneOffer')}</p> : null}
      <NotifyAsk />
      <section aria-labelledby="offers-h" class="section">
        <h2 id="offers-h">{t('home.offers')} {s.offers.filter((o) => !o.gone).length ? <span class="count">{s.offers.filter((o) => !o.gone).length}</span> : null}</h2>
        {away ? <p class="card hint">{t('home.away')}</p> : null}
        {s.offers.length === 0 && !away ? <p class="empty">{t('home.noOffers')}</p> : null}
        <p class="sr-only" role="status">{live ? t('notify.offers', { n: live }) : ''}</p>
        <ul class="offers">
          {s.offers.map((o) => <OfferCard key={o.conversation_id} o={o} now={now} focused={o.conversation_id === focus} />)}
        </ul>
      </section>
      <section aria-labelledby="chats-h" class="section">
        <h2 id="chats-h">{t('home.myChats')}</h2>
        {chats.length === 0 ? <p class="empty">{t('home.noChats')}</p> : (
          <ul class="chat-list">{chats.map((c) => <ChatRow key={c.conv.id} chat={c} onOpen={() => onOpenChat(c.conv.id)} />)}</ul>
        )}
      </section>
      {ended.length ? (
        <section aria-labelledby="ended-h" class="section ended">
          <div class="section-head">
            <h2 id="ended-h">{t('home.ended')}</h2>
            <button type="button" class="btn small" aria-label={t('home.clearEndedLabel')} onClick={() => { for (const c of ended) hub.closeChat(c.conv.id); }}>{t('home.clearEnded')}</button>
          </div>
          <ul class="chat-list">{ended.map((c) => <ChatRow key={c.conv.id} chat={c} onOpen={() => onOpenChat(c.conv.id)} />)}</ul>
        </section>
      ) : null}
    </>
  );
}

/** The availability bar above the tab bar: one big switch and the settings button. */
export function AvailabilityBar({ onSettings }: { onSettings: () => void }) {
  const s = useHub();
  const st = s.status;
  // Always the server's numbers: it sends `status` whenever they change.
  return (
    <div class={`avail-bar${st?.available ? ' on' : ''}`}>
      <Toggle id="avail-switch" ariaLabel={t('avail.switch')} checked={!!st?.available} onChange={(v) => { unlockAudio(); hub.setStatus({ available: v }); }}
        label={<><span class="avail-state">{st?.available ? t('avail.available') : t('avail.away')}</span>
          {st && typeof st.active_chats === 'number' ? <span class="avail-count">{t('avail.active', { n: st.active_chats, max: st.max_chats, count: st.max_chats })}</span> : null}</>} />
      <button type="button" class="icon-btn" onClick={onSettings} aria-label={t('avail.settings')}><Icon name="sliders" /></button>
    </div>
  );
}
