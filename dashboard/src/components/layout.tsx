import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Account, type Page } from '../api';
import { LANGUAGES, useI18n, isLang, type Key } from '../i18n';
import { href } from '../router';
import { Icon } from './icons';

export interface NavItem { key: string; path: string; icon: string }

export function LanguagePicker({ compact, id = 'lang-select' }: { compact?: boolean; id?: string }) {
  const { lang, setLang, t } = useI18n();
  return (
    <div class={'lang-picker' + (compact ? ' compact' : '')}>
      <label for={id} class={compact ? 'visually-hidden' : ''}>{t('lang.label')}</label>
      <Icon name="globe" size={18} />
      <select id={id} value={lang} onChange={(e) => {
        const v = (e.target as HTMLSelectElement).value;
        if (isLang(v)) setLang(v);
      }}>
        {LANGUAGES.map((l) => <option key={l.code} value={l.code} lang={l.code}>{l.name}</option>)}
      </select>
    </div>
  );
}

export function Layout({ account, nav, path, onSignOut, children }: {
  account: Account; nav: NavItem[]; path: string; onSignOut: () => void; children: ComponentChildren;
}) {
  const { t } = useI18n();
  const [drawer, setDrawer] = useState(false);
  const menuBtn = useRef<HTMLButtonElement>(null);
  const first = useRef(true);

  // Move focus to the page heading whenever the route changes (and after sign-in).
  useEffect(() => {
    setDrawer(false);
    const focus = () => {
      const h = document.querySelector<HTMLElement>('main h1');
      if (h) h.focus({ preventScroll: false });
      return !!h;
    };
    if (!focus()) requestAnimationFrame(() => { focus(); });
    if (!first.current) window.scrollTo(0, 0);
    first.current = false;
  }, [path]);

  // Escape closes the menu; the listener is always on so a quick key press is never missed.
  const drawerOpen = useRef(false);
  drawerOpen.current = drawer;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && drawerOpen.current && !document.querySelector('dialog[open]')) {
        drawerOpen.current = false;
        setDrawer(false);
        menuBtn.current?.focus();
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
  const toggleDrawer = () => {
    const next = !drawer;
    drawerOpen.current = next;
    setDrawer(next);
    // Opening the menu moves focus to the current (or first) link in it.
    if (next) requestAnimationFrame(() => {
      if (!drawerOpen.current) return;
      const links = document.querySelectorAll<HTMLElement>('#sidebar nav a');
      (document.querySelector<HTMLElement>('#sidebar nav a[aria-current=page]') ?? links[0])?.focus();
    });
  };

  // Pending sign-ups are shown on the Team link so nobody waits unnoticed.
  const [pending, setPending] = useState(0);
  const hasTeam = account.role === 'merchant' && account.modules.includes('team');
  useEffect(() => {
    if (!hasTeam) return;
    let live = true;
    api.get<Page<unknown>>('team/experts?status=pending&limit=100').then(
      (p) => { if (live) setPending(p.items.length); },
      () => { /* the badge is a hint only */ },
    );
    return () => { live = false; };
  }, [path, hasTeam]);

  const active = (p: string) => path === p || path.startsWith(p + '/');
  const operator = account.role === 'operator';

  return (
    <div class={'shell' + (drawer ? ' drawer-open' : '')}>
      <a class="skip-link" href="#main" onClick={(e) => { e.preventDefault(); document.querySelector<HTMLElement>('main h1')?.focus(); }}>
        {t('nav.skip')}
      </a>
      <header class="topbar">
        <button type="button" class="icon-btn menu-btn" ref={menuBtn} aria-expanded={drawer} aria-controls="sidebar"
          aria-label={drawer ? t('nav.closeMenu') : t('nav.openMenu')} onClick={toggleDrawer}>
          <Icon name={drawer ? 'x' : 'menu'} />
        </button>
        <a class="brand" href={href(nav[0]?.path ?? '/account')}>
          <span class="brand-mark" aria-hidden="true">F</span>
          <span class="brand-name">Floorwalker</span>
        </a>
        <span class="role-pill">{operator ? t('role.operator') : t('role.merchant')}</span>
        <div class="topbar-end">
          <LanguagePicker compact />
          <a class={'account-link' + (active('/account') ? ' active' : '')} href={href('/account')} aria-current={active('/account') ? 'page' : undefined}>
            <Icon name="account" />
            <span class="account-name">{account.name}</span>
            <span class="visually-hidden">{t('nav.account')}</span>
          </a>
          <button type="button" class="btn btn-ghost btn-small signout" onClick={onSignOut}>
            <Icon name="logout" size={18} class="flip-rtl" /><span class="signout-label">{t('nav.signOut')}</span>
          </button>
        </div>
      </header>
      <div class="scrim" hidden={!drawer} onClick={() => setDrawer(false)} />
      <aside class="sidebar" id="sidebar">
        <nav aria-label={t('nav.label')}>
          <ul>
            {nav.map((n) => (
              <li key={n.key}>
                <a href={href(n.path)} class={active(n.path) ? 'active' : ''} aria-current={active(n.path) ? 'page' : undefined}>
                  <Icon name={n.icon} />
                  <span>{t(('module.' + n.key) as Key)}</span>
                  {n.key === 'team' && pending > 0 && (
                    <span class="nav-badge"><span aria-hidden="true">{pending}</span><span class="visually-hidden">{t('nav.pending', { n: pending })}</span></span>
                  )}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="sidebar-foot">
          <p class="signed-in-as">{t('nav.signedInAs')}<br /><strong>{account.email}</strong></p>
        </div>
      </aside>
      <main id="main" class="content">
        {children}
      </main>
    </div>
  );
}
