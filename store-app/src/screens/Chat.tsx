// One conversation: transcript, composer with saved replies ("/"), product cards, transfer,
// end, and the shopper's journey.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ExpertFeatures } from '../../../web-shared/protocol';
import { hub, type Chat as ChatT, type Message, type PageVisit, type Product, type Conversation } from '../hub';
import { JourneyList, pageHref, shortUrl } from '../journey';
import { api, type SavedReply } from '../api';
import { clock, date, money, shopperName, t, type Key } from '../i18n';
import { Field, Icon, Sheet, useHub, useId, useTick } from '../ui';
import { TranscriptSheet } from './Transcript';
import { AttachmentPhoto, CallArea, CallButton, attachmentId, callSystemText, useChatPhotos } from '../media/chat-media';
import { PhotoButtons, UploadTray } from '../media/photos';
import { CartButton, CartCard, CartHost, CommerceSys, commerceSystemText, isCartMessage } from '../cart/CartCard';

function safeHttps(url?: string | null): string | null {
  if (!url) return null;
  try { const u = new URL(url, location.href); return u.protocol === 'https:' || u.origin === location.origin ? u.href : null; } catch { return null; }
}

export function ProductCard({ p }: { p: Product }) {
  const href = safeHttps(p.url);
  const img = safeHttps(p.image_url);
  // A picture that cannot be shown (none, not https, or it fails to load) leaves a tile.
  const [failed, setFailed] = useState(false);
  return (
    <div class="product-card">
      {img && !failed ? <img src={img} alt="" loading="lazy" referrerpolicy="no-referrer" onError={() => setFailed(true)} /> : <span class="product-ph" aria-hidden="true"><Icon name="product" /></span>}
      <div>
        <p class="product-name" dir="auto">{p.name}</p>
        {p.price !== undefined && p.price !== null ? <p class="product-price">{money(p.price, p.currency)}</p> : null}
        {href ? <a href={href} target="_blank" rel="noopener noreferrer">{t('product.open')}<span class="sr-only"> ({t('journey.newTab')})</span></a> : null}
      </div>
    </div>
  );
}

function systemText(m: Message): string {
  const call = callSystemText(m);
  if (call) return call;
  const key = `sys.${m.body}` as Key;
  const name = (m.data as any)?.expert_name || (m.data as any)?.name || m.author?.name || '';
  const known = ['expert_joined', 'transferred', 'ended_by_shopper', 'ended_by_expert', 'missed'];
  return known.includes(m.body) ? t(key, { name }) : m.body;
}

function Bubble({ m, mine, seen }: { m: Message; mine: boolean; seen: boolean }) {
  if (m.kind === 'system' || m.author?.role === 'system') {
    if (commerceSystemText(m)) return <CommerceSys m={m} />;
    return <li class="sys"><span>{systemText(m)}</span></li>;
  }
  return (
    <li class={`msg ${mine ? 'mine' : 'theirs'}`} data-seq={m.seq}>
      <div class="bubble">
        {m.kind === 'product' && m.product ? <ProductCard p={m.product} /> : null}
        {attachmentId(m) ? <AttachmentPhoto id={attachmentId(m)!} from={m.author?.role === 'shopper' ? 'shopper' : 'expert'} /> : null}
        {isCartMessage(m) ? <CartCard m={m} /> : null}
        {m.body && !(m.kind === 'product' && m.body === m.product?.name) && !isCartMessage(m) ? <p class="body" dir="auto">{m.body}</p> : null}
      </div>
      <span class="meta">
        {!mine && m.author?.role === 'expert' && m.author.name ? `${m.author.name} · ` : ''}
        <time dateTime={new Date(m.sent_at).toISOString()}>{clock(m.sent_at)}</time>
        {mine && seen ? <> · {t('chat.seen')}</> : null}
      </span>
    </li>
  );
}

function RepliesSheet({ initial, onPick, onClose }: { initial: string; onPick: (r: SavedReply) => void; onClose: () => void }) {
  const [q, setQ] = useState(initial);
  const [items, setItems] = useState<SavedReply[] | null>(null);
  const [err, setErr] = useState(false);
  const inputRef = useRef<HTMLInputElement>(null);
  const id = useId('rq');
  useEffect(() => { inputRef.current?.focus(); }, []);
  useEffect(() => {
    let live = true;
    const timer = setTimeout(async () => {
      try {
        const r = await api.savedReplies(q.trim());
        if (live) { setItems(r); setErr(false); }
      } catch {
        const ws = await hub.savedReplies(q.trim());
        if (live) { if (ws) setItems(ws as SavedReply[]); else setErr(true); }
      }
    }, 120);
    return () => { live = false; clearTimeout(timer); };
  }, [q]);
  return (
    <Sheet title={t('replies.title')} onClose={onClose} class="tall">
      <div class="sheet-search">
        <label for={id} class="sr-only">{t('replies.search')}</label>
        <Icon name="search" />
        <input ref={inputRef} id={id} type="search" value={q} placeholder={t('replies.search')} autoComplete="off"
          onInput={(e) => setQ((e.currentTarget as HTMLInputElement).value)}
          onKeyDown={(e) => { if (e.key === 'Enter' && items?.length) { e.preventDefault(); onPick(items[0]); } }} />
      </div>
      <div class="sheet-body">
        {err ? <p class="error">{t('error.network')}</p> : items === null ? <p class="muted">{t('common.loading')}</p>
          : items.length === 0 ? <p class="empty">{t('replies.none')}</p> : (
            <ul class="replies">
              {items.map((r) => (
                <li><button type="button" class="reply" onClick={() => onPick(r)}>
                  <span class="reply-head"><bdi class="shortcut">/{r.shortcut}</bdi> <span class="reply-title">{r.title}</span></span>
                  <span class="reply-body" dir="auto">{r.body}</span>
                </button></li>
              ))}
            </ul>
          )}
      </div>
    </Sheet>
  );
}

function ProductSheet({ onSend, onClose }: { onSend: (p: Product) => void; onClose: () => void }) {
  const [f, setF] = useState({ name: '', price: '', currency: '', url: '', image_url: '' });
  const [errs, setErrs] = useState<Record<string, string>>({});
  const set = (k: keyof typeof f) => (v: string) => setF({ ...f, [k]: v });
  const submit = (ev: Event) => {
    ev.preventDefault();
    const e: Record<string, string> = {};
    if (!f.name.trim()) e.name = t('product.required');
    for (const k of ['url', 'image_url'] as const) if (f[k].trim() && !/^https:\/\/\S+$/i.test(f[k].trim())) e[k] = t('product.https');
    const price = Number(f.price.trim().replace(/[\s\u00a0']/g, '').replace(',', '.'));
    if (f.price.trim() && !Number.isFinite(price)) e.price = t('product.number');
    setErrs(e);
    if (Object.keys(e).length) return;
    const p: Product = { name: f.name.trim() };
    if (f.price.trim()) p.price = price;
    if (f.currency.trim()) p.currency = f.currency.trim().toUpperCase();
    if (f.url.trim()) p.url = f.url.trim();
    if (f.image_url.trim()) p.image_url = f.image_url.trim();
    onSend(p);
  };
  return (
    <Sheet title={t('product.title')} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <div class="sheet-body">
          <Field label={t('product.name')} value={f.name} onValue={set('name')} error={errs.name} required name="product_name" />
          <div class="row2">
            <Field label={t('product.price')} value={f.price} onValue={set('price')} error={errs.price} inputMode="decimal" optional={t('common.optional')} name="price" />
            <Field label={t('product.currency')} value={f.currency} onValue={set('currency')} maxLength={3} placeholder="SEK" optional={t('common.optional')} name="currency" autoCapitalize="characters" />
          </div>
          <Field label={t('product.url')} type="url" value={f.url} onValue={set('url')} error={errs.url} placeholder="https://" optional={t('common.optional')} name="url" inputMode="url" />
          <Field label={t('product.image')} type="url" value={f.image_url} onValue={set('image_url')} error={errs.image_url} placeholder="https://" optional={t('common.optional')} name="image_url" inputMode="url" />
        </div>
        <div class="sheet-foot"><button class="btn primary block" type="submit">{t('product.send')}</button></div>
      </form>
    </Sheet>
  );
}

function TransferSheet({ chat, onDone, onClose }: { chat: ChatT; onDone: () => void; onClose: () => void }) {
  const s = useHub();
  const [target, setTarget] = useState('');
  const [note, setNote] = useState('');
  const [err, setErr] = useState('');
  const noteId = useId('note');
  const deps: { id: string; label: string }[] = [];
  for (const st of s.stores) for (const d of st.departments) {
    if (d.id !== chat.conv.department?.id) deps.push({ id: d.id, label: s.stores.length > 1 ? `${d.name} — ${st.name}` : d.name });
  }
  const experts = s.colleagues.filter((c) => c.id !== s.me?.id);
  const submit = (ev: Event) => {
    ev.preventDefault();
    if (!target) { setErr(t('transfer.pick')); return; }
    const [kind, id] = target.split(':');
    if (hub.transfer(chat.conv.id, kind === 'd' ? { department_id: id } : { expert_id: id }, note)) onDone();
    else setErr(t('conn.offline'));
  };
  return (
    <Sheet title={t('transfer.title')} onClose={onClose}>
      <form onSubmit={submit} noValidate>
        <div class="sheet-body">
          {deps.length === 0 && experts.length === 0 ? <p class="muted">{t('transfer.none')}</p> : null}
          {deps.length ? (
            <fieldset class="choices">
              <legend>{t('transfer.toDepartment')}</legend>
              {deps.map((d) => <label class="choice"><input type="radio" name="target" value={`d:${d.id}`} checked={target === `d:${d.id}`} onChange={() => { setTarget(`d:${d.id}`); setErr(''); }} /> {d.label}</label>)}
            </fieldset>
          ) : null}
          {experts.length ? (
            <fieldset class="choices">
              <legend>{t('transfer.toExpert')}</legend>
              {experts.map((d) => <label class="choice"><input type="radio" name="target" value={`e:${d.id}`} checked={target === `e:${d.id}`} onChange={() => { setTarget(`e:${d.id}`); setErr(''); }} /> {d.name}</label>)}
            </fieldset>
          ) : null}
          <div class="field">
            <label for={noteId}>{t('transfer.note')} <span class="optional">({t('common.optional')})</span></label>
            <textarea id={noteId} dir="auto" rows={3} value={note} maxLength={500} onInput={(e) => setNote((e.currentTarget as HTMLTextAreaElement).value)} />
          </div>
          <p class="error" role="alert">{err}</p>
        </div>
        <div class="sheet-foot"><button class="btn primary block" type="submit" disabled={deps.length === 0 && experts.length === 0}>{t('transfer.send')}</button></div>
      </form>
    </Sheet>
  );
}

/** The shopper's pages: the latest ones from the offer when this device has them, else the page
 *  and product the chat was started from. */
export function Journey({ conv, visits }: { conv: Conversation; visits?: PageVisit[] }) {
  const now = useTick(30_000);
  const start = conv.page_url || conv.product ? (
    <ol class="steps">
      <li>
        {conv.page_url ? (pageHref(conv.page_url)
          ? <a class="step-link" href={pageHref(conv.page_url)!} target="_blank" rel="noopener noreferrer"><bdi dir="auto">{shortUrl(conv.page_url)}</bdi><span class="sr-only"> ({t('journey.newTab')})</span></a>
          : <bdi class="step-link" dir="auto">{conv.page_url}</bdi>) : null}
        {conv.product ? <ProductCard p={conv.product} /> : null}
      </li>
    </ol>
  ) : null;
  return (
    <div class="journey">
      <h3>{t('journey.title')}</h3>
      <p class="muted">{t('journey.started', { date: date(conv.created_at) })}</p>
      {visits?.length ? <><p class="help">{t('journey.latest')}</p><JourneyList visits={visits} now={now} /></>
        : start ?? <p class="muted">{t('journey.none')}</p>}
    </div>
  );
}

function InfoSheet({ chat, onClose }: { chat: ChatT; onClose: () => void }) {
  const c = chat.conv;
  const s = useHub();
  const contacts = !!s.me?.features?.contacts;
  const history = s.history.get(c.shopper.id);
  useEffect(() => { if (contacts) hub.requestHistory(c.shopper.id); }, [c.shopper.id]);
  return (
    <Sheet title={t('chat.info')} onClose={onClose} class="tall">
      <div class="sheet-body">
        <p><strong>{shopperName(c.shopper, 'contacts.anonymous')}</strong></p>
        <p class="muted">{[c.store?.name, c.department?.name].filter(Boolean).join(' · ')}</p>
        {c.rating ? <p>{t('chat.rating', { score: c.rating.score })}{c.rating.comment ? ` — “${c.rating.comment}”` : ''}</p> : null}
        <Journey conv={c} visits={s.journeys.get(c.id)} />
        {contacts ? <History items={history?.filter((h) => h.conversation.id !== c.id)} /> : null}
      </div>
    </Sheet>
  );
}

export function History({ items }: { items?: { conversation: Conversation; messages: Message[] }[] }) {
  return (
    <div class="history">
      <h3>{t('contacts.history')}</h3>
      {items === undefined ? <p class="muted">{t('common.loading')}</p> : items.length === 0 ? <p class="muted">{t('contacts.noHistory')}</p> : items.map((h, i) => (
        <details class="past" open={i === 0}>
          <summary>{date(h.conversation.created_at)} · {[h.conversation.store?.name, h.conversation.department?.name].filter(Boolean).join(' · ')}{h.conversation.expert?.name ? ` · ${h.conversation.expert.name}` : ''}</summary>
          <Journey conv={h.conversation} />
          <ul class="transcript small">
            {h.messages.map((m) => <Bubble m={m} mine={m.author?.role === 'expert'} seen={false} />)}
          </ul>
        </details>
      ))}
    </div>
  );
}

export function ChatView({ id, onBack }: { id: string; onBack: () => void }) {
  const s = useHub();
  const chat = s.chats.get(id);
  const [text, setText] = useState(() => { try { return sessionStorage.getItem(`fw.draft.${id}`) || ''; } catch { return ''; } });
  const [sheet, setSheet] = useState<null | 'replies' | 'product' | 'transfer' | 'info' | 'more' | 'end' | 'transcript'>(null);
  const [replyQuery, setReplyQuery] = useState('');
  const listRef = useRef<HTMLDivElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const stick = useRef(true);
  const uploads = useChatPhotos(id);

  const titleRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => { hub.openChat = id; hub.markRead(id); titleRef.current?.focus({ preventScroll: true }); return () => { if (hub.openChat === id) hub.openChat = null; }; }, [id]);
  useEffect(() => { try { if (text) sessionStorage.setItem(`fw.draft.${id}`, text); else sessionStorage.removeItem(`fw.draft.${id}`); } catch { /* */ } }, [text]);
  useEffect(() => {
    const onVis = () => { if (!document.hidden) hub.markRead(id); };
    document.addEventListener('visibilitychange', onVis);
    return () => document.removeEventListener('visibilitychange', onVis);
  }, [id]);

  const messages = useMemo(() => chat ? [...chat.messages.values()].sort((a, b) => a.seq - b.seq) : [], [chat?.messages]);
  const pending = s.outbox.filter((o) => o.conversation_id === id);
  useLayoutEffect(() => {
    const el = listRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [messages.length, pending.length, chat?.shopperTyping]);
  useEffect(() => { if (chat && !document.hidden) hub.markRead(id); }, [messages.length]);

  if (!chat) {
    return (
      <div class="chat-screen">
        <header class="chat-head"><button type="button" class="icon-btn" onClick={onBack} aria-label={t('chat.back')}><Icon name="back" flip /></button></header>
        <main id="main" class="chat-main"><p class="empty">{t('chat.left')}</p></main>
      </div>
    );
  }
  const c = chat.conv;
  const open = c.status === 'claimed' && !chat.left;
  const features: Partial<ExpertFeatures> = s.me?.features ?? {};
  const shopperRead = c.shopper_read_seq ?? 0;
  const lastMine = [...messages].reverse().find((m) => m.author?.role === 'expert' && m.kind !== 'system');

  const send = () => {
    const body = text.trim();
    if (!body || !open) return;
    hub.sendMessage(id, body);
    setText('');
    stick.current = true;
    inputRef.current?.focus();
  };
  const onInput = (v: string) => {
    setText(v);
    if (v.startsWith('/') && !v.includes(' ') ) { setReplyQuery(v.slice(1)); setSheet('replies'); }
    else if (v) hub.typing(id, true);
  };
  const pickReply = (r: SavedReply) => {
    setText((cur) => (cur.startsWith('/') ? r.body : cur ? `${cur} ${r.body}` : r.body));
    setSheet(null);
    setTimeout(() => { const el = inputRef.current; if (el) { el.focus(); el.selectionStart = el.selectionEnd = el.value.length; } }, 0);
  };
  const name = shopperName(c.shopper);
  const where = [c.store?.name, c.department?.name].filter(Boolean).join(' · ');
  // Elsewhere: unread messages in the other chats plus waiting offers, on the back button.
  let elsewhere = s.offers.filter((o) => !o.gone).length;
  for (const [cid, other] of s.chats) if (cid !== id) elsewhere += hub.unread(other);

  return (
    <div class="chat-screen">
      <header class="chat-head">
        <button type="button" class="icon-btn back-btn" onClick={onBack} aria-label={elsewhere ? `${t('chat.back')} (${elsewhere})` : t('chat.back')}>
          <Icon name="back" flip />
          {elsewhere ? <span class="tab-badge" aria-hidden="true">{elsewhere}</span> : null}
        </button>
        <div class="chat-title">
          <h1 ref={titleRef} tabIndex={-1}>{name}</h1>
          <p>{where}</p>
        </div>
        {open ? <CallButton conversationId={id} /> : null}
        <button type="button" class="icon-btn" onClick={() => setSheet('info')} aria-label={t('chat.info')}><Icon name="info" /></button>
        <button type="button" class="icon-btn" onClick={() => setSheet('more')} aria-label={t('chat.more')} aria-haspopup="dialog"><Icon name="more" /></button>
      </header>
      <CallArea conversationId={id} peerName={name} open={open} />
      <main id="main" class="chat-main" ref={listRef} onScroll={(e) => { const el = e.currentTarget as HTMLElement; stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80; }}>
        {(c.page_url || c.product) ? (
          <div class="ctx-strip">
            {c.product ? <ProductCard p={c.product} /> : <p class="offer-ctx"><span class="ctx-label">{t('offer.page')}</span> <bdi>{c.page_url}</bdi></p>}
          </div>
        ) : null}
        <ul class="transcript" aria-label={t('chat.messages')} aria-live="polite" aria-relevant="additions">
          {messages.map((m) => <Bubble key={m.seq} m={m} mine={m.author?.role === 'expert' && (!m.author.expert_id || m.author.expert_id === s.me?.id)} seen={m === lastMine && shopperRead >= m.seq} />)}
          {pending.map((o) => (
            <li class={`msg mine pending${o.error ? ' failed' : ''}`} key={o.client_msg_id} data-pending={o.client_msg_id}>
              <div class="bubble">
                {o.product ? <ProductCard p={o.product} /> : null}
                {o.attachment_id ? <AttachmentPhoto id={o.attachment_id} from="expert" /> : null}
                {o.body && o.body !== o.product?.name ? <p class="body" dir="auto">{o.body}</p> : null}
              </div>
              <span class="meta">{o.error ? <>{t('chat.notSent')} · <button type="button" class="link" onClick={() => hub.discardOutgoing(o.client_msg_id)}>{t('chat.discard')}</button></> : t('chat.sending')}</span>
            </li>
          ))}
        </ul>
        {chat.shopperTyping ? <p class="typing" role="status">{t('chat.typing')}</p> : null}
        {open && chat.away ? (
          <p class="away-note" role="status" data-away={chat.away.join(' ')}>
            {t(chat.away.includes('email') ? (chat.away.includes('sms') ? 'chat.awayEmailSms' : 'chat.awayEmail') : chat.away.includes('sms') ? 'chat.awaySms' : 'chat.awayNone')}
          </p>
        ) : null}
        {!open ? (
          <div class="chat-closed" role="status">
            <p>{chat.left ? t('chat.left') : t('chat.ended')}</p>
            {c.rating ? <p>{t('chat.rating', { score: c.rating.score })}</p> : null}
            <button type="button" class="btn" onClick={() => setSheet('transcript')}>{t('transcript.title')}</button>
            <button type="button" class="btn" onClick={() => { hub.closeChat(id); onBack(); }}>{t('chat.close')}</button>
          </div>
        ) : null}
      </main>
      {open ? <UploadTray uploads={uploads} /> : null}
      {open ? (
        <form class="composer" onSubmit={(e) => { e.preventDefault(); send(); }}>
          <button type="button" class="icon-btn" onClick={() => { setReplyQuery(''); setSheet('replies'); }} aria-label={t('chat.savedReplies')}><Icon name="replies" /></button>
          {features.product_sharing !== false ? <button type="button" class="icon-btn" onClick={() => setSheet('product')} aria-label={t('chat.shareProduct')}><Icon name="product" /></button> : null}
          <PhotoButtons uploads={uploads} />
          <CartButton />
          <label for="composer-input" class="sr-only">{t('chat.placeholder')}</label>
          <textarea dir="auto" id="composer-input" ref={inputRef} rows={1} value={text} placeholder={t('chat.placeholderShort')} maxLength={4000}
            onInput={(e) => onInput((e.currentTarget as HTMLTextAreaElement).value)}
            onBlur={() => hub.typing(id, false)}
            onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey && !(e as any).isComposing && window.matchMedia('(hover: hover)').matches) { e.preventDefault(); send(); } }} />
          <button type="submit" class="icon-btn send" disabled={!text.trim()} aria-label={t('chat.send')}><Icon name="send" flip /></button>
        </form>
      ) : null}
      {sheet === 'replies' ? <RepliesSheet initial={replyQuery} onPick={pickReply} onClose={() => { setSheet(null); if (text.startsWith('/')) setText(''); inputRef.current?.focus(); }} /> : null}
      {sheet === 'product' ? <ProductSheet onClose={() => setSheet(null)} onSend={(p) => { hub.sendMessage(id, p.name, p); setSheet(null); }} /> : null}
      {sheet === 'transfer' ? <TransferSheet chat={chat} onClose={() => setSheet(null)} onDone={() => { setSheet(null); hub.notify('transfer.done'); onBack(); }} /> : null}
      {sheet === 'info' ? <InfoSheet chat={chat} onClose={() => setSheet(null)} /> : null}
      {sheet === 'more' ? (
        <Sheet title={t('chat.more')} onClose={() => setSheet(null)}>
          <div class="sheet-body actions">
            <button type="button" class="btn block" onClick={() => setSheet('info')}><Icon name="info" /> {t('chat.info')}</button>
            <button type="button" class="btn block" onClick={() => setSheet('transcript')}><Icon name="send" /> {t('transcript.title')}</button>
            {open && features.transfers !== false ? <button type="button" class="btn block" onClick={() => setSheet('transfer')}><Icon name="transfer" /> {t('chat.transfer')}</button> : null}
            {open ? <button type="button" class="btn block danger" onClick={() => setSheet('end')}><Icon name="end" /> {t('chat.end')}</button> : null}
          </div>
        </Sheet>
      ) : null}
      {sheet === 'transcript' ? <TranscriptSheet conversationId={id} onClose={() => setSheet(null)} /> : null}
      <CartHost conversationId={id} shopper={name} />
      {sheet === 'end' ? (
        <Sheet title={t('chat.end')} onClose={() => setSheet(null)}>
          <div class="sheet-body"><p>{t('chat.endConfirm')}</p></div>
          <div class="sheet-foot row">
            <button type="button" class="btn block" onClick={() => setSheet(null)}>{t('common.cancel')}</button>
            <button type="button" class="btn block danger-solid" onClick={() => { hub.end(id); setSheet(null); }}>{t('chat.end')}</button>
          </div>
        </Sheet>
      ) : null}
    </div>
  );
}
