import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, forgetSignedInHint, onUnauthorized, setCsrf, signedInHint, type Account, type Module, type Session } from './api';
import { setReportZone } from './components/filters';
import { applyLang, I18nContext, loadLang, makeI18n, rememberLang, type Lang } from './i18n';
import { Layout, type NavItem } from './components/layout';
import { ToastProvider, Loading } from './components/ui';
import { match, navigate, splitPath, useRoute } from './router';
import { LoginPage } from './pages/login';
import { AnalyticsPage } from './pages/analytics';
import { ExportsPage } from './pages/exports';
import { DemoEditPage, DemoListPage } from './pages/demo';
import { StoresPage, StoreEditPage } from './pages/stores';
import { TeamPage, ExpertPage } from './pages/team';
import { SettingsPage } from './pages/settings';
import { SavedRepliesPage } from './pages/saved-replies';
import { ShoppersPage } from './pages/shoppers';
import { IntegrationsPage } from './pages/integrations';
import { AccessPage, MerchantPage } from './pages/access';
import { AccountPage } from './pages/account';
import { NotFoundPage } from './pages/not-found';
import { OutboxMessagePage, OutboxPage } from './pages/outbox';
import { WebhookPage } from './pages/webhooks';
import { CataloguePage } from './pages/catalogue';
import { OrderDetailPage, OrdersPage } from './pages/orders';

const MODULE_ORDER: Module[] = ['analytics', 'orders', 'exports', 'stores', 'team', 'catalogue', 'settings', 'saved_replies', 'shoppers', 'integrations'];
const MODULE_PATH: Record<Module, string> = {
  analytics: '/analytics', exports: '/exports', stores: '/stores', team: '/team', settings: '/settings',
  saved_replies: '/saved-replies', shoppers: '/shoppers', integrations: '/integrations',
  catalogue: '/catalogue', orders: '/orders',
};

export function navFor(account: Account): NavItem[] {
  if (account.role === 'operator') {
    return [
      { key: 'access', path: '/access', icon: 'access' },
      { key: 'demo', path: '/demo', icon: 'demo' },
      { key: 'outbox', path: '/outbox', icon: 'outbox' },
    ];
  }
  return MODULE_ORDER.filter((m) => account.modules.includes(m)).map((m) => ({ key: m, path: MODULE_PATH[m], icon: m }));
}

export function App({ initial }: { initial: Lang }) {
  const [lang, setLangState] = useState<Lang>(initial);
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [expired, setExpired] = useState(false);

  const setLang = (l: Lang) => {
    rememberLang(l);
    loadLang(l).then(setLangState);
  };
  useEffect(() => applyLang(lang), [lang]);
  const i18n = useMemo(() => makeI18n(lang, setLang), [lang]);
  useEffect(() => { document.title = i18n.t('app.name'); }, [i18n]);

  useEffect(() => {
    // The server sets a readable `fw_signed_in` cookie beside the session cookie: without it
    // there is no session to ask for, and a signed-out visit makes no failing request.
    if (!signedInHint()) { setSession(null); } else {
      api.get<Session>('auth/session', { quiet401: true }).then(
        (s) => { setCsrf(s.csrf_token); setReportZone(s.time_zone); setSession(s); },
        () => { forgetSignedInHint(); setSession(null); },
      );
    }
    return onUnauthorized(() => { setCsrf(''); setSession((s) => { if (s) setExpired(true); return null; }); });
  }, []);

  const signedIn = (s: Session) => {
    setCsrf(s.csrf_token);
    setReportZone(s.time_zone);
    setExpired(false);
    setSession(s);
  };
  const signOut = async () => {
    try { await api.post('auth/logout'); } catch (e) { if (!(e instanceof ApiError)) throw e; }
    setCsrf('');
    setSession(null);
    navigate('/');
  };

  return (
    <I18nContext.Provider value={i18n}>
      <ToastProvider>
        {session === undefined ? (
          <main class="boot"><Loading /></main>
        ) : session === null ? (
          <LoginPage onSignedIn={signedIn} expired={expired} />
        ) : (
          <SignedIn session={session} onSignOut={signOut} onSession={signedIn} />
        )}
      </ToastProvider>
    </I18nContext.Provider>
  );
}

function SignedIn({ session, onSignOut, onSession }: { session: Session; onSignOut: () => void; onSession: (s: Session) => void }) {
  const full = useRoute();
  const { pathname: path, query } = splitPath(full);
  const account = session.account;
  const nav = navFor(account);
  const home = nav[0]?.path ?? '/account';

  useEffect(() => { if (path === '/' || path === '') navigate(home); }, [path, home]);

  const allowed = (p: string) => nav.some((n) => p === n.path || p.startsWith(n.path + '/')) || p === '/account' || p.startsWith('/account/');
  let page;
  let m: Record<string, string> | null;
  if (path === '/' || path === '') page = null;
  else if (!allowed(path)) page = <NotFoundPage home={home} />;
  else if (path === '/analytics') page = <AnalyticsPage query={query} account={account} />;
  else if (path === '/exports') page = <ExportsPage query={query} account={account} />;
  else if (path === '/demo') page = <DemoListPage />;
  else if (path === '/demo/new') page = <DemoEditPage id={null} />;
  else if ((m = match('/demo/:id', path))) page = <DemoEditPage id={m.id} key={m.id} />;
  else if (path === '/stores') page = <StoresPage />;
  else if (path === '/stores/new') page = <StoreEditPage id={null} />;
  else if ((m = match('/stores/:id', path))) page = <StoreEditPage id={m.id} key={m.id} />;
  else if (path === '/team') page = <TeamPage />;
  else if ((m = match('/team/:id', path))) page = <ExpertPage id={m.id} key={m.id} />;
  else if (path === '/settings') page = <SettingsPage tab="display" />;
  else if ((m = match('/settings/:tab', path)) && ['display', 'sites', 'routing', 'photos', 'messaging', 'checkout'].includes(m.tab)) page = <SettingsPage tab={m.tab as 'display'} />;
  else if (path === '/saved-replies') page = <SavedRepliesPage />;
  else if (path === '/catalogue') page = <CataloguePage />;
  else if (path === '/orders') page = <OrdersPage query={query} account={account} />;
  else if ((m = match('/orders/:id', path))) page = <OrderDetailPage id={m.id} key={m.id} account={account} />;
  else if (path === '/shoppers') page = <ShoppersPage initialId={query.get('id')} />;
  else if (path === '/integrations') page = <IntegrationsPage merchantId={account.merchant_id ?? null} />;
  else if (path === '/integrations/outbox') page = <OutboxPage scope="merchant" />;
  else if ((m = match('/integrations/outbox/:id', path))) page = <OutboxMessagePage scope="merchant" id={m.id} key={m.id} initialView={query.get('view')} />;
  else if ((m = match('/integrations/webhooks/:id', path))) page = <WebhookPage id={m.id} key={m.id} />;
  else if (path === '/outbox' && account.role === 'operator') page = <OutboxPage scope="operator" />;
  else if ((m = match('/outbox/:id', path)) && account.role === 'operator') page = <OutboxMessagePage scope="operator" id={m.id} key={m.id} initialView={query.get('view')} />;
  else if (path === '/access') page = <AccessPage tab="merchants" />;
  else if (path === '/access/operators') page = <AccessPage tab="operators" />;
  else if ((m = match('/access/merchants/:id', path))) page = <MerchantPage id={m.id} key={m.id} />;
  else if (path === '/account') page = <AccountPage account={account} onSession={onSession} />;
  else page = <NotFoundPage home={home} />;

  return (
    <Layout account={account} nav={nav} path={path} onSignOut={onSignOut}>
      {page}
    </Layout>
  );
}
