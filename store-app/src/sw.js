// Service worker: keeps the app shell available offline. API and WebSocket traffic is never
// cached. The version and the shell list are filled in by build.mjs.
const CACHE = 'fw-store-app-__VERSION__';
const SHELL = __SHELL__;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('fw-store-app-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  const scope = new URL(self.registration.scope);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  if (req.mode === 'navigate') {
    // Network first so a new version shows at once; the cached shell when offline.
    event.respondWith(
      fetch(req).catch(() => caches.match(new URL('index.html', scope).href, { ignoreSearch: true })),
    );
    return;
  }
  event.respondWith(
    caches.match(req).then((hit) => hit || fetch(req).then((res) => {
      if (res.ok && res.type === 'basic') {
        const copy = res.clone();
        caches.open(CACHE).then((c) => c.put(req, copy));
      }
      return res;
    })),
  );
});

self.addEventListener('notificationclick', (event) => {
  if (event.notification.data && event.notification.data.kind) return; // a push alert: see below
  event.notification.close();
  event.waitUntil((async () => {
    const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const c of all) {
      if (c.url.startsWith(self.registration.scope)) {
        c.postMessage({ type: 'open', tag: event.notification.tag });
        return c.focus();
      }
    }
    return self.clients.openWindow(self.registration.scope);
  })());
});

// ---- Web Push (issue 23; docs/push.md) ------------------------------------------------------
// The server sends an `offer` when an expert it cannot reach over a live socket could take a
// waiting chat, and a `close` when that offer is claimed or withdrawn. Text is localised here
// (the app's six languages, Persian right-to-left) because the app may not be running.
const PUSH_TEXT = {
  en: { title: 'A shopper is waiting', waited: 'waiting {m} min', waitedNow: 'just now', taken: 'A colleague took this chat', yours: 'You took this chat', gone: 'This chat is no longer waiting', claim: 'Open to claim' },
  sv: { title: 'En kund väntar', waited: 'väntat {m} min', waitedNow: 'nyss', taken: 'En kollega tog chatten', yours: 'Du tog chatten', gone: 'Chatten väntar inte längre', claim: 'Öppna för att ta den' },
  de: { title: 'Ein Kunde wartet', waited: 'wartet seit {m} Min.', waitedNow: 'gerade eben', taken: 'Ein Kollege hat den Chat übernommen', yours: 'Du hast den Chat übernommen', gone: 'Dieser Chat wartet nicht mehr', claim: 'Öffnen zum Übernehmen' },
  cs: { title: 'Zákazník čeká', waited: 'čeká {m} min', waitedNow: 'právě teď', taken: 'Chat převzal kolega', yours: 'Chat jste převzali vy', gone: 'Tento chat už nečeká', claim: 'Otevřít a převzít' },
  el: { title: 'Ένας πελάτης περιμένει', waited: 'περιμένει {m} λεπ.', waitedNow: 'μόλις τώρα', taken: 'Τη συνομιλία την ανέλαβε συνάδελφος', yours: 'Ανέλαβες τη συνομιλία', gone: 'Η συνομιλία δεν περιμένει πια', claim: 'Άνοιξε για ανάληψη' },
  fa: { title: 'یک خریدار منتظر است', waited: '{m} دقیقه منتظر', waitedNow: 'همین حالا', taken: 'همکاری این گفتگو را برداشت', yours: 'شما این گفتگو را برداشتید', gone: 'این گفتگو دیگر منتظر نیست', claim: 'برای برداشتن باز کنید' },
};
const RTL_LANGS = new Set(['fa']);

function pushText(lang) { return PUSH_TEXT[lang] || PUSH_TEXT.en; }

function waitedText(lang, ms) {
  const tx = pushText(lang);
  const m = Math.floor(Math.max(0, ms) / 60000);
  if (m < 1) return tx.waitedNow;
  return tx.waited.replace('{m}', new Intl.NumberFormat(lang).format(m));
}

function offerTag(conversationId) { return `fw-offer-${conversationId}`; }

/** Tell the server what happened to an alert, with the receipt it carried. */
function reportAlert(p, event) {
  if (!p || !p.alert || !p.receipt) return Promise.resolve();
  const url = new URL(`../api/v1/app/push/alerts/${encodeURIComponent(p.alert)}/report`, self.registration.scope);
  return fetch(url.href, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${p.receipt}` },
    body: JSON.stringify({ event }),
  }).catch(() => undefined);
}

async function showOffer(p) {
  const lang = p.lang || 'en';
  const tx = pushText(lang);
  if (self.Notification && Notification.permission !== 'granted') {
    await reportAlert(p, 'blocked');
    return;
  }
  const where = [p.store, p.department].filter(Boolean).join(' · ');
  const body = [where + (where ? ' — ' : '') + waitedText(lang, Date.now() - (p.queued_at || Date.now())), p.text].filter(Boolean).join('\n');
  await self.registration.showNotification(tx.title, {
    body,
    tag: offerTag(p.conversation_id),
    renotify: true,
    requireInteraction: true,
    lang,
    dir: RTL_LANGS.has(lang) ? 'rtl' : 'ltr',
    icon: new URL('icon-192.png', self.registration.scope).href,
    badge: new URL('icon-192.png', self.registration.scope).href,
    vibrate: [200, 100, 200],
    timestamp: p.queued_at || Date.now(),
    data: { kind: 'offer', conversation_id: p.conversation_id, alert: p.alert, receipt: p.receipt },
  });
  await reportAlert(p, 'shown');
}

async function closeOffer(p) {
  const tag = offerTag(p.conversation_id);
  const open = await self.registration.getNotifications({ tag });
  if (!open.length) return;
  // Replace the offer quietly (a push must leave a notification), then take it away.
  const lang = p.lang || 'en';
  const tx = pushText(lang);
  const text = p.reason === 'claimed_by_you' ? tx.yours : p.reason === 'claimed' ? tx.taken : tx.gone;
  await self.registration.showNotification(text, {
    tag, silent: true, renotify: false, lang, dir: RTL_LANGS.has(lang) ? 'rtl' : 'ltr',
    icon: new URL('icon-192.png', self.registration.scope).href,
    data: { kind: 'closed', conversation_id: p.conversation_id },
  });
  await new Promise((r) => setTimeout(r, 4000));
  for (const n of await self.registration.getNotifications({ tag })) {
    if (n.data && n.data.kind === 'closed') n.close();
  }
}

self.addEventListener('push', (event) => {
  let p = null;
  try { p = event.data ? event.data.json() : null; } catch { p = null; }
  if (!p || p.v !== 1) return;
  if (p.type === 'offer') event.waitUntil(showOffer(p));
  else if (p.type === 'close') event.waitUntil(closeOffer(p));
});

self.addEventListener('notificationclick', (event) => {
  const d = event.notification.data || {};
  if (d.kind !== 'offer' && d.kind !== 'closed') return; // the app's own notifications: handled above
  event.notification.close();
  event.waitUntil((async () => {
    if (d.kind === 'offer') await reportAlert(d, 'opened');
    const target = new URL(self.registration.scope);
    if (d.kind === 'offer' && d.conversation_id) target.hash = `offer=${encodeURIComponent(d.conversation_id)}`;
    const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const c of all) {
      if (c.url.startsWith(self.registration.scope)) {
        c.postMessage({ type: 'open', offer: d.conversation_id || null });
        return c.focus();
      }
    }
    return self.clients.openWindow(target.href);
  })());
});
