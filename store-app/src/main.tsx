// Floorwalker store app: entry point, screens and navigation.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, getToken, setToken, type Expert } from './api';
import { hub } from './hub';
import { CLOSE } from '../../web-shared/protocol';
import { focusOffer, forgetPush, refreshPush, takeOfferFromUrl } from './push';
import { applyLang, t, type Key } from './i18n';
import { unlockAudio } from './alerts';
import { Icon, setCloseLabel, useHub, useLangRerender } from './ui';
import { Login, Signup, Waiting } from './screens/Auth';
import { AvailabilityBar, AvailabilitySheet, Home } from './screens/Home';
import { ChatView } from './screens/Chat';
import { Contacts } from './screens/Contacts';
import { Profile } from './screens/Profile';

applyLang();
setCloseLabel(() => t('common.close'));

type Phase = { p: 'boot' } | { p: 'login'; notice?: Key } | { p: 'signup' } | { p: 'waiting'; expert: Expert } | { p: 'app'; expert: Expert };
type Tab = 'chats' | 'contacts' | 'profile';

/** Reload the app, fetching a newer service worker and shell first if the server has one. */
async function reloadApp() {
  try {
    const reg = await navigator.serviceWorker?.getRegistration();
    await reg?.update();
  } catch { /* offline or no service worker: the reload fetches the shell anyway */ }
  location.reload();
}

function ConnBanner() {
  const s = useHub();
  if (s.conn === 'failed') {
    // A close no retry mends: say what it is and offer the one thing that can help.
    const outdated = s.failure === CLOSE.BAD_VERSION;
    return (
      <div class="conn-banner failed" role="alert">
        <div class="conn-failed-text">
          <strong>{t(outdated ? 'conn.outdated' : 'conn.refused')}</strong>
          <span>{outdated ? t('conn.outdatedHelp') : t('conn.refusedHelp', { code: String(s.failure ?? '') })}</span>
        </div>
        <button type="button" class="btn primary" onClick={() => { void reloadApp(); }}>{t('conn.reload')}</button>
      </div>
    );
  }
  if (s.conn === 'online' || s.conn === 'idle' || s.conn === 'unauthorized') return null;
  return (
    <div class={`conn-banner ${s.conn}`} role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {s.conn === 'connecting' ? t('conn.connecting') : t('conn.reconnecting')}
    </div>
  );
}

const NOTICES: Record<string, Key> = {
  at_capacity: 'offer.atCapacity', rate_limited: 'error.rateLimited', offline: 'conn.offline',
  forbidden: 'error.generic', 'transfer.done': 'transfer.done',
};

function Toast() {
  const s = useHub();
  const [shown, setShown] = useState<number | null>(null);
  useEffect(() => {
    if (!s.notice) return;
    setShown(s.notice.key);
    const id = setTimeout(() => setShown(null), 4000);
    return () => clearTimeout(id);
  }, [s.notice?.key]);
  return (
    <div class="toast-region" role="status" aria-live="polite">
      {s.notice && shown === s.notice.key ? <p class="toast">{t(NOTICES[s.notice.text] ?? 'error.generic')}</p> : null}
    </div>
  );
}

function Shell({ expert, onLogout }: { expert: Expert; onLogout: () => void }) {
  const s = useHub();
  const [tab, setTab] = useState<Tab>('chats');
  const [chat, setChat] = useState<string | null>(null);
  const [availOpen, setAvailOpen] = useState(false);

  const openChat = (id: string | null) => {
    if (id && chat !== id) history.pushState({ chat: id }, '');
    setChat(id);
  };
  useEffect(() => {
    const onPop = (e: PopStateEvent) => setChat((e.state && e.state.chat) || null);
    window.addEventListener('popstate', onPop);
    hub.onClaimed = (id) => { setTab('chats'); openChat(id); };
    const onSw = (e: MessageEvent) => { if (e.data?.type === 'open') { setTab('chats'); setChat(null); if (e.data.offer) focusOffer(e.data.offer); } };
    const fromUrl = takeOfferFromUrl();
    if (fromUrl) focusOffer(fromUrl);
    void refreshPush();
    navigator.serviceWorker?.addEventListener('message', onSw);
    return () => { window.removeEventListener('popstate', onPop); navigator.serviceWorker?.removeEventListener('message', onSw); };
  }, []);

  const unreadTotal = [...s.chats.values()].reduce((n, c) => n + hub.unread(c), 0);
  const offers = s.offers.filter((o) => !o.gone).length;

  if (chat) {
    return (
      <div class="chat-wrap" data-conn={s.conn}>
        <ConnBanner />
        <ChatView id={chat} onBack={() => { if (history.state?.chat) history.back(); else setChat(null); }} />
        <Toast />
      </div>
    );
  }
  const tabs: [Tab, Key, string, number][] = [
    ['chats', 'nav.chats', 'chats', unreadTotal + offers],
    ...(expert.features?.contacts !== false ? [['contacts', 'nav.contacts', 'contacts', 0] as [Tab, Key, string, number]] : []),
    ['profile', 'nav.profile', 'profile', 0],
  ];
  return (
    <div class="shell" data-conn={s.conn}>
      <a class="skip" href="#main">{t('nav.skip')}</a>
      <header class="top">
        <img src="icon.svg" alt="" width={28} height={28} />
        <span class="top-name">{t('app.name')}</span>
        <span class="top-me">{expert.name}</span>
      </header>
      <ConnBanner />
      <main id="main" class="content" tabIndex={-1}>
        {tab === 'chats' ? <Home onOpenChat={(id) => openChat(id)} /> : tab === 'contacts' ? <Contacts /> : <Profile expert={expert} onLogout={onLogout} />}
      </main>
      <div class="bottom">
        {tab === 'chats' ? <AvailabilityBar onSettings={() => setAvailOpen(true)} /> : null}
        <nav class="tabs" aria-label={t('nav.main')}>
          {tabs.map(([id, label, icon, badge]) => (
            <button type="button" class={`tab${tab === id ? ' active' : ''}`} aria-current={tab === id ? 'page' : undefined} onClick={() => setTab(id)}>
              <Icon name={icon} />
              <span>{t(label)}</span>
              {badge ? <span class="tab-badge" aria-label={`(${badge})`}>{badge}</span> : null}
            </button>
          ))}
        </nav>
      </div>
      {availOpen ? <AvailabilitySheet onClose={() => setAvailOpen(false)} /> : null}
      <Toast />
    </div>
  );
}

function App() {
  useLangRerender();
  const [phase, setPhase] = useState<Phase>({ p: 'boot' });

  const enter = (e: Expert) => {
    if (e.status === 'approved') {
      setPhase({ p: 'app', expert: e });
      hub.start();
    } else if (e.status === 'pending') {
      setPhase({ p: 'waiting', expert: e });
    } else {
      setToken(null);
      setPhase({ p: 'login', notice: 'error.deactivated' });
    }
  };
  const signOut = (notice?: Key) => {
    hub.stop();
    hub.clearLocal();
    setToken(null);
    setPhase({ p: 'login', notice });
  };
  const logout = async () => {
    await forgetPush().catch(() => undefined);
    try { await api.logout(); } catch { /* token may be gone already */ }
    signOut();
  };

  useEffect(() => {
    hub.onUnauthorized = () => {
      // The token was revoked or the account deactivated: find out which.
      api.me().then((me) => enter(me)).catch(() => signOut('error.sessionEnded'));
    };
    if (!getToken()) { setPhase({ p: 'login' }); return; }
    api.me().then(enter).catch((e) => {
      if (e instanceof ApiError && e.status === 401) { setToken(null); setPhase({ p: 'login' }); return; }
      // Offline start: show the app from the last known profile and keep reconnecting.
      try {
        const cached = JSON.parse(localStorage.getItem('fw.app.me') || 'null') as Expert | null;
        if (cached) { enter(cached); return; }
      } catch { /* */ }
      setPhase({ p: 'login' });
    });
    const unlock = () => unlockAudio();
    window.addEventListener('pointerdown', unlock, { once: true });
    window.addEventListener('keydown', unlock, { once: true });
  }, []);

  useEffect(() => {
    if (phase.p === 'app' || phase.p === 'waiting') {
      try { localStorage.setItem('fw.app.me', JSON.stringify(phase.expert)); } catch { /* */ }
    }
  }, [phase]);

  switch (phase.p) {
    case 'boot': return <div class="boot" role="status"><span class="spinner" aria-hidden="true" /><span class="sr-only">{t('common.loading')}</span></div>;
    case 'login': return <Login notice={phase.notice ? t(phase.notice) : undefined} onSignedIn={enter} onSignup={() => setPhase({ p: 'signup' })} />;
    case 'signup': return <Signup onSignedUp={enter} onLogin={() => setPhase({ p: 'login' })} />;
    case 'waiting': return <Waiting expert={phase.expert} onApproved={enter} onLogout={logout} onGone={(k) => signOut(k)} />;
    case 'app': return <Shell expert={phase.expert} onLogout={logout} />;
  }
}

render(<App />, document.getElementById('app')!);
// For debugging in the field and for the browser tests.
(window as any).__floorwalkerHub = hub;

if ('serviceWorker' in navigator && location.protocol !== 'file:') {
  window.addEventListener('load', () => { navigator.serviceWorker.register('./sw.js', { scope: './' }).catch(() => { /* no offline shell */ }); });
}
