// A stand-in for the server's chat hub, for developing the store app while the real hub is
// being written. It is NOT used by `npm test` unless STORE_APP_MOCK_HUB=1 is set.
//
// It listens on its own port, proxies every HTTP request to a real `floorwalker serve`
// (REST API, the built app under /app/) and answers the WebSocket endpoints /ws/expert and
// /ws/shopper itself, following docs/protocol.md closely enough for the app's flows:
// hello/welcome, set_status, offers, claim races, send/ack, sync, typing, read, transfer,
// end, saved_replies, contacts, history.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { WebSocketServer } from 'ws';

export async function startMockHub(upstream, { adminPassword } = {}) {
  const up = new URL(upstream);
  const j = (o) => JSON.stringify(o);

  // Store names for offers, through the dashboard API.
  let stores = [];
  try {
    const login = await fetch(`${upstream}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: j({ email: 'admin@demo.example', password: adminPassword }) });
    const cookie = (login.headers.get('set-cookie') || '').split(';')[0];
    const r = await fetch(`${upstream}/api/v1/stores?limit=100`, { headers: { cookie } });
    stores = (await r.json()).items || [];
  } catch { /* names unknown */ }
  const storeRef = (id) => { const s = stores.find((x) => x.id === id); return s ? { id: s.id, name: s.name } : { id, name: 'Store' }; };
  const depRef = (id) => { for (const s of stores) for (const d of s.departments) if (d.id === id) return { id: d.id, name: d.name }; return { id, name: 'Department' }; };

  const experts = new Map(); // expert id -> { expert, status, sockets:Set }
  const shoppers = new Map(); // shopper id -> { id, token, sockets:Set }
  const convs = new Map(); // id -> { conv, messages:[], cmids: Map }
  const contacts = new Map(); // expert id -> Set(shopper id)

  const now = () => Date.now();
  const sendAll = (set, frame) => { for (const ws of set) if (ws.readyState === 1) ws.send(j(frame)); };
  const toShopper = (c, frame) => { const s = shoppers.get(c.conv.shopper.id); if (s) sendAll(s.sockets, frame); };
  const toExpert = (eid, frame) => { const e = experts.get(eid); if (e) sendAll(e.sockets, frame); };
  const activeChats = (eid) => [...convs.values()].filter((c) => c.conv.status === 'claimed' && c.conv.expert?.id === eid).length;
  const eligible = (e, c) => {
    if (!e.sockets.size || !e.status.available) return false;
    if (activeChats(e.expert.id) >= e.status.max_chats) return false;
    const storeIds = e.status.store_ids.length ? e.status.store_ids : e.expert.store_ids;
    const depIds = e.status.department_ids.length ? e.status.department_ids : e.expert.department_ids;
    if (c.target?.expert_id) return c.target.expert_id === e.expert.id;
    return storeIds.includes(c.conv.store.id) && depIds.includes(c.conv.department.id);
  };
  const offerOf = (c, e) => ({
    conversation_id: c.conv.id, store: c.conv.store, department: c.conv.department,
    shopper: { id: c.conv.shopper.id, name: c.conv.shopper.name, returning: c.returning, your_contact: !!contacts.get(e.expert.id)?.has(c.conv.shopper.id) },
    page_url: c.conv.page_url, product: c.conv.product, first_message: c.messages.find((m) => m.author.role === 'shopper')?.body ?? null,
    waiting_since: c.waiting_since, reason: c.reason, note: c.note ?? null,
  });
  const offerToAll = (c) => { for (const e of experts.values()) if (eligible(e, c)) { c.offeredTo.add(e.expert.id); toExpert(e.expert.id, { type: 'offer', offer: offerOf(c, e) }); } };
  const statusOf = (e) => ({ type: 'status', ...e.status, active_chats: activeChats(e.expert.id) });
  const view = (c, eid) => ({ ...c.conv, messages: undefined });
  const broadcastConv = (c, extraExperts = []) => {
    toShopper(c, { type: 'conversation', conversation: view(c) });
    const ids = new Set([c.conv.expert?.id, ...extraExperts].filter(Boolean));
    for (const id of ids) toExpert(id, { type: 'conversation', conversation: view(c) });
  };
  const addMessage = (c, m) => {
    const msg = { conversation_id: c.conv.id, seq: c.messages.length + 1, id: randomUUID(), kind: 'text', product: null, sent_at: now(), ...m };
    c.messages.push(msg);
    c.conv.last_seq = msg.seq;
    return msg;
  };
  const strip = (m, forRole, forId) => {
    const own = (forRole === 'shopper' && m.author.role === 'shopper') || (forRole === 'expert' && m.author.expert_id === forId);
    const o = { ...m };
    if (!own) delete o.client_msg_id;
    return o;
  };

  const server = http.createServer((req, res) => {
    const opts = { hostname: up.hostname, port: up.port, path: req.url, method: req.method, headers: { ...req.headers, host: up.host } };
    const p = http.request(opts, (r) => { res.writeHead(r.statusCode, r.headers); r.pipe(res); });
    p.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(p);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname !== '/ws/expert' && u.pathname !== '/ws/shopper') { socket.destroy(); return; }
    wss.handleUpgrade(req, socket, head, (ws) => (u.pathname === '/ws/expert' ? expertConn(ws) : shopperConn(ws)));
  });

  function expertConn(ws) {
    let e = null;
    const helloTimer = setTimeout(() => ws.close(4002), 10_000);
    ws.on('close', () => { if (e) e.sockets.delete(ws); });
    ws.on('message', async (data) => {
      let f; try { f = JSON.parse(String(data)); } catch { return; }
      if (!e) {
        if (f.type !== 'hello') return ws.close(4001);
        clearTimeout(helloTimer);
        const r = await fetch(`${upstream}/api/v1/app/me`, { headers: { authorization: `Bearer ${f.token}` } });
        if (!r.ok) return ws.close(4001);
        const expert = await r.json();
        if (expert.status !== 'approved') return ws.close(4001);
        e = experts.get(expert.id) || { expert, token: f.token, status: { available: true, max_chats: expert.max_chats, store_ids: [], department_ids: [] }, sockets: new Set() };
        e.expert = expert; e.token = f.token;
        experts.set(expert.id, e);
        e.sockets.add(ws);
        const mine = [...convs.values()].filter((c) => c.conv.status === 'claimed' && c.conv.expert?.id === expert.id).map((c) => view(c));
        const waiting = [...convs.values()].filter((c) => (c.conv.status === 'queued' || c.conv.status === 'offered') && eligible(e, c)).sort((a, b) => a.waiting_since - b.waiting_since);
        ws.send(j({
          type: 'welcome', protocol: 1, expert: { id: expert.id, name: expert.name, features: expert.features, max_chats: expert.max_chats },
          status: statusOf(e), conversations: mine, offers: waiting.map((c) => offerOf(c, e)),
          stores: stores.filter((s) => expert.store_ids.includes(s.id)).map((s) => ({ id: s.id, name: s.name, departments: s.departments.filter((d) => expert.department_ids.includes(d.id)).map((d) => ({ id: d.id, name: d.name })) })),
          colleagues: [...experts.values()].filter((x) => x.expert.id !== expert.id).map((x) => ({ id: x.expert.id, name: x.expert.name })),
        }));
        for (const c of waiting) c.offeredTo.add(expert.id);
        return;
      }
      const c = f.conversation_id ? convs.get(f.conversation_id) : null;
      const err = (code, ref) => ws.send(j({ type: 'error', code, message: code, ref }));
      switch (f.type) {
        case 'ping': return ws.send(j({ type: 'pong' }));
        case 'set_status': {
          const wasAvail = e.status.available;
          for (const k of ['available', 'max_chats', 'store_ids', 'department_ids']) if (f[k] !== undefined) e.status[k] = f[k];
          sendAll(e.sockets, statusOf(e));
          if (!wasAvail && e.status.available) for (const w of convs.values()) if ((w.conv.status === 'queued' || w.conv.status === 'offered') && eligible(e, w)) { w.offeredTo.add(e.expert.id); ws.send(j({ type: 'offer', offer: offerOf(w, e) })); }
          return;
        }
        case 'claim': {
          if (!c) return ws.send(j({ type: 'claim_failed', conversation_id: f.conversation_id, reason: 'gone' }));
          if (c.conv.status === 'claimed') return ws.send(j({ type: 'claim_failed', conversation_id: c.conv.id, reason: 'taken' }));
          if (c.conv.status !== 'queued' && c.conv.status !== 'offered') return ws.send(j({ type: 'claim_failed', conversation_id: c.conv.id, reason: 'gone' }));
          if (activeChats(e.expert.id) >= e.status.max_chats) return ws.send(j({ type: 'claim_failed', conversation_id: c.conv.id, reason: 'at_capacity' }));
          c.conv.status = 'claimed';
          c.conv.expert = { id: e.expert.id, name: e.expert.name };
          c.conv.claimed_at = now();
          if (!contacts.has(e.expert.id)) contacts.set(e.expert.id, new Set());
          contacts.get(e.expert.id).add(c.conv.shopper.id);
          for (const id of c.offeredTo) if (id !== e.expert.id) toExpert(id, { type: 'offer_withdrawn', conversation_id: c.conv.id, reason: 'claimed' });
          for (const s of e.sockets) if (s !== ws && s.readyState === 1) s.send(j({ type: 'offer_withdrawn', conversation_id: c.conv.id, reason: 'claimed_by_you' }));
          c.offeredTo.clear();
          const m = addMessage(c, { author: { role: 'system' }, kind: 'system', body: 'expert_joined', data: { name: e.expert.name } });
          broadcastConv(c);
          toShopper(c, { type: 'message', message: strip(m, 'shopper') });
          sendAll(e.sockets, statusOf(e));
          return;
        }
        case 'send': {
          if (!c || c.conv.expert?.id !== e.expert.id) return err('not_found', f.conversation_id);
          const prev = c.cmids.get(f.client_msg_id);
          if (prev) { if (prev.body !== f.body) return err('conflict', f.client_msg_id); return ws.send(j({ type: 'ack', conversation_id: c.conv.id, client_msg_id: f.client_msg_id, seq: prev.seq, sent_at: prev.sent_at })); }
          if (c.conv.status !== 'claimed') return err('invalid_state', f.client_msg_id);
          const m = addMessage(c, { author: { role: 'expert', name: e.expert.name, expert_id: e.expert.id }, kind: f.product ? 'product' : 'text', body: f.body, product: f.product ?? null, client_msg_id: f.client_msg_id });
          c.cmids.set(f.client_msg_id, m);
          ws.send(j({ type: 'ack', conversation_id: c.conv.id, client_msg_id: f.client_msg_id, seq: m.seq, sent_at: m.sent_at }));
          toShopper(c, { type: 'message', message: strip(m, 'shopper') });
          return;
        }
        case 'sync': {
          if (!c) return err('not_found', f.conversation_id);
          return ws.send(j({ type: 'messages', conversation_id: c.conv.id, messages: c.messages.filter((m) => m.seq > (f.after_seq || 0)).map((m) => strip(m, 'expert', e.expert.id)), last_seq: c.conv.last_seq }));
        }
        case 'typing': if (c) toShopper(c, { type: 'typing', conversation_id: c.conv.id, role: 'expert', typing: !!f.typing }); return;
        case 'read': if (c) { c.conv.expert_read_seq = f.seq; toShopper(c, { type: 'read', conversation_id: c.conv.id, role: 'expert', seq: f.seq }); } return;
        case 'end': {
          if (!c) return err('not_found', f.conversation_id);
          c.conv.status = 'ended'; c.conv.ended_at = now();
          const m = addMessage(c, { author: { role: 'system' }, kind: 'system', body: 'ended_by_expert', data: { name: e.expert.name } });
          broadcastConv(c);
          toShopper(c, { type: 'message', message: m });
          toExpert(e.expert.id, { type: 'message', message: m });
          sendAll(e.sockets, statusOf(e));
          return;
        }
        case 'transfer': {
          if (!c) return err('not_found', f.conversation_id);
          const from = e.expert.id;
          c.conv.status = 'queued'; c.conv.expert = null;
          if (f.department_id) { c.conv.department = depRef(f.department_id); c.target = null; } else c.target = { expert_id: f.expert_id };
          c.reason = 'transfer'; c.note = f.note ?? null; c.waiting_since = now();
          const m = addMessage(c, { author: { role: 'system' }, kind: 'system', body: 'transferred', data: {} });
          toExpert(from, { type: 'conversation', conversation: view(c) });
          toShopper(c, { type: 'conversation', conversation: view(c) });
          toShopper(c, { type: 'message', message: m });
          offerToAll(c);
          sendAll(e.sockets, statusOf(e));
          return;
        }
        case 'saved_replies': {
          const r = await fetch(`${upstream}/api/v1/app/saved-replies?q=${encodeURIComponent(f.q || '')}`, { headers: { authorization: `Bearer ${e.token}` } });
          return ws.send(j({ type: 'saved_replies', items: r.ok ? await r.json() : [] }));
        }
        case 'contacts': {
          const ids = [...(contacts.get(e.expert.id) || [])];
          const list = ids.map((sid) => {
            const cs = [...convs.values()].filter((x) => x.conv.shopper.id === sid);
            return { shopper_id: sid, name: cs[0]?.conv.shopper.name ?? null, email: null, last_chat_at: Math.max(...cs.map((x) => x.conv.created_at)), conversations: cs.length };
          }).filter((x) => !f.q || `${x.name ?? ''} ${x.email ?? ''}`.toLowerCase().includes(String(f.q).toLowerCase()));
          return ws.send(j({ type: 'contacts', contacts: list }));
        }
        case 'history': {
          const cs = [...convs.values()].filter((x) => x.conv.shopper.id === f.shopper_id).sort((a, b) => b.conv.created_at - a.conv.created_at);
          return ws.send(j({ type: 'history', shopper_id: f.shopper_id, conversations: cs.map((x) => ({ conversation: view(x), messages: x.messages })) }));
        }
        default: return err('bad_request');
      }
    });
  }

  function shopperConn(ws) {
    let s = null;
    ws.on('close', () => { if (s) s.sockets.delete(ws); });
    ws.on('message', (data) => {
      let f; try { f = JSON.parse(String(data)); } catch { return; }
      if (!s) {
        if (f.type !== 'hello') return ws.close(4001);
        const id = f.token && [...shoppers.values()].find((x) => x.token === f.token)?.id;
        s = id ? shoppers.get(id) : { id: `shp_${randomUUID().replaceAll('-', '')}`, token: randomUUID(), sockets: new Set() };
        shoppers.set(s.id, s);
        s.sockets.add(ws);
        const mine = [...convs.values()].filter((c) => c.conv.shopper.id === s.id).map((c) => view(c));
        ws.send(j({ type: 'welcome', protocol: 1, shopper_id: s.id, token: s.token, conversations: mine, availability: { open: true, experts_available: experts.size } }));
        return;
      }
      const c = f.conversation_id ? convs.get(f.conversation_id) : null;
      switch (f.type) {
        case 'ping': return ws.send(j({ type: 'pong' }));
        case 'request_chat': {
          const returning = [...convs.values()].some((x) => x.conv.shopper.id === s.id);
          const conv = {
            id: randomUUID(), status: 'queued', store: storeRef(f.store_id), department: depRef(f.department_id), expert: null,
            shopper: { id: s.id, name: f.name ?? null }, created_at: now(), claimed_at: null, ended_at: null, last_seq: 0,
            page_url: f.page_url ?? null, page_title: f.page_title ?? null, product: f.product ?? null, offline: false, rating: null, shopper_read_seq: 0, expert_read_seq: 0,
          };
          const nc = { conv, messages: [], cmids: new Map(), offeredTo: new Set(), waiting_since: now(), reason: 'new', returning };
          convs.set(conv.id, nc);
          if (f.text) { const m = addMessage(nc, { author: { role: 'shopper', name: null }, body: f.text, client_msg_id: f.client_msg_id ?? null }); if (f.client_msg_id) nc.cmids.set(f.client_msg_id, m); }
          ws.send(j({ type: 'conversation', conversation: view(nc) }));
          if (f.text && f.client_msg_id) ws.send(j({ type: 'ack', conversation_id: conv.id, client_msg_id: f.client_msg_id, seq: 1, sent_at: nc.messages[0].sent_at }));
          ws.send(j({ type: 'queue', conversation_id: conv.id, position: 1, estimated_wait_s: 20 }));
          offerToAll(nc);
          return;
        }
        case 'send': {
          if (!c || c.conv.shopper.id !== s.id) return ws.send(j({ type: 'error', code: 'not_found', ref: f.conversation_id }));
          const prev = c.cmids.get(f.client_msg_id);
          if (prev) return ws.send(j({ type: 'ack', conversation_id: c.conv.id, client_msg_id: f.client_msg_id, seq: prev.seq, sent_at: prev.sent_at }));
          const m = addMessage(c, { author: { role: 'shopper', name: null }, body: f.body, client_msg_id: f.client_msg_id });
          c.cmids.set(f.client_msg_id, m);
          ws.send(j({ type: 'ack', conversation_id: c.conv.id, client_msg_id: f.client_msg_id, seq: m.seq, sent_at: m.sent_at }));
          if (c.conv.expert) toExpert(c.conv.expert.id, { type: 'message', message: strip(m, 'expert', c.conv.expert.id) });
          return;
        }
        case 'sync': if (c) ws.send(j({ type: 'messages', conversation_id: c.conv.id, messages: c.messages.filter((m) => m.seq > (f.after_seq || 0)), last_seq: c.conv.last_seq })); return;
        case 'typing': if (c?.conv.expert) toExpert(c.conv.expert.id, { type: 'typing', conversation_id: c.conv.id, role: 'shopper', typing: !!f.typing }); return;
        case 'read': if (c) { c.conv.shopper_read_seq = f.seq; if (c.conv.expert) toExpert(c.conv.expert.id, { type: 'read', conversation_id: c.conv.id, role: 'shopper', seq: f.seq }); } return;
        case 'end': {
          if (!c) return;
          const claimed = c.conv.status === 'claimed';
          c.conv.status = claimed ? 'ended' : 'abandoned'; c.conv.ended_at = now();
          if (claimed) { const m = addMessage(c, { author: { role: 'system' }, kind: 'system', body: 'ended_by_shopper', data: {} }); toExpert(c.conv.expert.id, { type: 'message', message: m }); }
          else for (const id of c.offeredTo) toExpert(id, { type: 'offer_withdrawn', conversation_id: c.conv.id, reason: 'abandoned' });
          broadcastConv(c);
          return;
        }
        default: return;
      }
    });
  }

  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    storesRaw: stores,
    async stop() { for (const c of wss.clients) c.terminate(); await new Promise((r) => server.close(r)); },
  };
}
