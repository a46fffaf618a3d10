// The dashboard's live channel: /ws/dashboard (session cookie, same origin). Reconnects with
// exponential back-off (0.5 s doubling to 30 s, with jitter) except when the server says the
// session or the module is missing (4401 / 4403).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type Live } from './api';

export type LiveState = 'connecting' | 'open' | 'retrying' | 'denied';

export function dashboardSocketUrl(): string {
  const u = new URL('../ws/dashboard?v=1', document.baseURI);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

/** Connects while mounted; `onUpdated` is called when new events were folded into the rollups. */
export function useDashboardSocket(onUpdated: () => void): { live: Live | null; state: LiveState } {
  const [live, setLive] = useState<Live | null>(null);
  const [state, setState] = useState<LiveState>('connecting');
  const updated = useRef(onUpdated);
  updated.current = onUpdated;
  useEffect(() => {
    let ws: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let ping: ReturnType<typeof setInterval> | undefined;
    let attempt = 0;
    let stopped = false;
    let denied = false;
    let welcomed = false;
    const connect = () => {
      if (stopped) return;
      setState(attempt === 0 ? 'connecting' : 'retrying');
      try { ws = new WebSocket(dashboardSocketUrl()); } catch { schedule(); return; }
      let opened = false;
      ws.onopen = () => { opened = true; attempt = 0; setState('open'); };
      ws.onmessage = (ev) => {
        let f: { type?: string; live?: Live } & Partial<Live>;
        try { f = JSON.parse(String(ev.data)); } catch { return; }
        if (f.type === 'welcome' && f.live) {
          setLive(f.live);
          // After a reconnect, events may have been missed: fetch again.
          if (welcomed) updated.current();
          welcomed = true;
        }
        else if (f.type === 'live') { const { type: _t, ...rest } = f; setLive(rest as Live); }
        else if (f.type === 'updated') updated.current();
      };
      ws.onclose = (ev) => {
        clearInterval(ping);
        ws = null;
        if (stopped) return;
        if (ev.code === 4401 || ev.code === 4403) { denied = true; setState('denied'); return; }
        // A refused upgrade (HTTP 401/403) reaches the browser only as 1006: ask the REST API
        // whether the session or the module is the problem before trying again.
        if (!opened && attempt >= 1) {
          api.get<Live>('analytics/live').then(
            (l) => { if (!stopped) { setLive(l); updated.current(); schedule(); } },
            (e) => {
              if (stopped) return;
              if (e instanceof ApiError && (e.status === 401 || e.status === 403)) { denied = true; setState('denied'); }
              else schedule();
            });
          return;
        }
        schedule();
      };
      // Keeps idle proxies from dropping the socket; the server answers with pong.
      clearInterval(ping);
      ping = setInterval(() => { if (ws?.readyState === WebSocket.OPEN) ws.send('{"type":"ping"}'); }, 25_000);
    };
    const schedule = () => {
      setState('retrying');
      const base = Math.min(30_000, 500 * 2 ** attempt);
      attempt++;
      timer = setTimeout(connect, base / 2 + Math.random() * (base / 2));
    };
    // Back online or the tab visible again: try at once instead of waiting out the back-off.
    const wake = () => { if (!ws && !stopped && !denied && document.visibilityState === 'visible') { clearTimeout(timer); attempt = 0; connect(); } };
    connect();
    addEventListener('online', wake);
    document.addEventListener('visibilitychange', wake);
    return () => {
      stopped = true;
      clearTimeout(timer);
      clearInterval(ping);
      removeEventListener('online', wake);
      document.removeEventListener('visibilitychange', wake);
      ws?.close(1000);
    };
  }, []);
  return { live, state };
}

/** Calls `fn` at most once per `ms`; a call inside the window runs once when it ends. */
export function throttle(fn: () => void, ms: number) {
  let last = 0;
  let pending: ReturnType<typeof setTimeout> | undefined;
  const run = () => { last = Date.now(); pending = undefined; fn(); };
  const call = () => {
    if (pending) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) run(); else pending = setTimeout(run, wait);
  };
  call.cancel = () => { clearTimeout(pending); pending = undefined; };
  return call;
}
