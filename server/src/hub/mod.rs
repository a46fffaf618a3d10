//! The chat hub: which sockets are connected to this node, who is present and eligible,
//! who holds which offer, and the routing that ties them together.
//!
//! What lives here is per-node and disposable: the database stays the source of truth for
//! conversations, messages, claims and contacts, so a restart (or another node) rebuilds it.
//! Transport (frames over a socket) is in [`socket`]; the two audiences' commands are in
//! [`shopper`] and [`expert`]; storing messages is [`writer`]'s job alone.
//!
//! Offers are spread under a surge: one chat's offer is held by at most [`Hub::holder_cap`]
//! experts on this node — everyone eligible while the waiting chats fit the experts' offer
//! slots, fewer (down to one) when they do not — so each expert with room sees chats nobody
//! else is racing for, oldest first, instead of everyone racing for the same few.

pub mod calls;
pub mod cluster;
pub mod events;
pub mod expert;
pub mod media_chat;
pub mod outbox;
pub mod replies;
pub mod revoke;
pub mod shopper;
pub mod socket;
pub mod writer;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::ids::MerchantId;
use crate::now_ms;
use crate::protocol::{self, close, Offer, OfferShopper, Out};
use crate::storage::{AppendOutcome, ConversationRow, Db, Event, MerchantPublic, NewMessage, PageRequest, Sender, Store};
use outbox::Outbox;

/// Outgoing frames a socket may have queued before it counts as a slow consumer.
pub const SEND_QUEUE: usize = 256;
/// Offers one expert holds at once (longest-waiting first). More would be noise on a phone,
/// and offering every waiting chat to every expert makes fan-out grow with their product.
/// These are the "offer slots" [`Hub::holder_cap`] shares out under a surge.
pub const MAX_OFFERS_PER_EXPERT: usize = 10;
/// How long a node goes on using merchant settings and stores it read (an edit made through
/// any node is seen at once: it tells every node to forget them).
pub const CACHED_FOR: Duration = Duration::from_secs(5);
/// Waiting chats a top-up pass looks at (oldest first), at most …
pub const TOP_UP_ROWS: i64 = 300;
/// … read this many at a time, until no expert here has room for another offer.
pub const TOP_UP_PAGE: i64 = 32;
/// The once-a-second full pass reads every waiting chat this many at a time, and lets other
/// tasks run after each page (and after offering each page's worth).
pub const FULL_PASS_PAGE: i64 = 128;

/// An expert connected to this node (with one or more sockets).
#[derive(Debug, Clone)]
pub struct Presence {
    pub merchant_id: String,
    pub name: String,
    pub conns: Vec<u64>,
    pub available: bool,
    /// The expert's own cap and the merchant's; the lower one applies.
    pub own_cap: i64,
    pub merchant_cap: i64,
    pub assigned_stores: Vec<String>,
    pub assigned_departments: Vec<String>,
    /// Subsets of the assignments the expert works now; empty means all assigned.
    pub working_stores: Vec<String>,
    pub working_departments: Vec<String>,
    pub active: i64,
    pub contacts_on: bool,
}

impl Presence {
    pub fn cap(&self) -> i64 {
        self.own_cap.min(self.merchant_cap).max(1)
    }
    /// The stores the expert works now (their choice, else every assigned one).
    pub fn stores(&self) -> &[String] {
        if self.working_stores.is_empty() {
            &self.assigned_stores
        } else {
            &self.working_stores
        }
    }
    /// The departments the expert works now (their choice, else every assigned one).
    pub fn departments(&self) -> &[String] {
        if self.working_departments.is_empty() {
            &self.assigned_departments
        } else {
            &self.working_departments
        }
    }
    pub fn works(&self, store: &str, department: &str) -> bool {
        self.stores().iter().any(|s| s == store) && self.departments().iter().any(|d| d == department)
    }
    pub fn eligible(&self, store: &str, department: &str) -> bool {
        self.available && self.active < self.cap() && self.works(store, department)
    }
    pub fn status(&self) -> protocol::ExpertStatusView {
        protocol::ExpertStatusView {
            available: self.available,
            max_chats: self.cap(),
            store_ids: self.working_stores.clone(),
            department_ids: self.working_departments.clone(),
            active_chats: self.active,
            max_chats_limit: self.merchant_cap.max(1),
        }
    }
}

/// What a routing pass over many chats keeps between them: per merchant, the local experts
/// who had room for another offer when the pass first looked (they drop out as they fill up).
/// An expert who gets room during the pass is left to the next one, which a withdrawn offer
/// wakes at once.
#[derive(Default)]
struct Pass {
    room: HashMap<String, Vec<String>>,
    /// Per merchant, [`Hub::holder_cap`] as the pass first computed it.
    cap: HashMap<String, usize>,
}

/// Something outside the hub that hears about waiting chats and withdrawn offers: the Web Push
/// alerter (`crate::push::alerter`). Both calls must return at once (queue, don't work).
pub trait OfferHook: Send + Sync {
    /// A chat waits (called on every routing pass for every waiting chat).
    fn waiting(&self, row: &ConversationRow);
    /// Its offer went away: claimed by `claimed_by`, or withdrawn for `reason`.
    fn withdrawn(&self, conversation: &str, reason: &str, claimed_by: Option<&str>);
    /// Its offer reached these experts over a live socket on this node (an alert too).
    fn delivered(&self, _row: &ConversationRow, _experts: &[String]) {}
    /// Whether an expert who is not connected could be alerted for a chat in this store and
    /// department (asked only when no connected expert is available).
    fn reachable(&self, merchant: &str, store: &str, department: &str) -> futures::future::BoxFuture<'static, bool>;
}

/// Who on this node holds an offer for a waiting conversation.
#[derive(Debug, Default)]
struct OfferTrack {
    /// The conversation's merchant (to keep [`HubInner::waiting_est`] when it goes).
    merchant: String,
    experts: HashSet<String>,
    last_wave: i64,
    /// Re-offer waves so far: each lets the offer reach one more expert under a surge.
    waves: usize,
}

pub struct HubInner {
    pub db: Db,
    conns: DashMap<u64, Arc<Outbox>>,
    conv_subs: DashMap<String, Vec<u64>>,
    shopper_conns: DashMap<String, Vec<u64>>,
    pub experts: DashMap<String, Presence>,
    merchant_experts: DashMap<String, HashSet<String>>,
    offers: DashMap<String, OfferTrack>,
    /// expert → conversations whose offer they hold (the reverse of `offers`).
    held: DashMap<String, HashSet<String>>,
    queue_sent: DashMap<String, (u32, u32)>,
    /// merchant → waiting chats, cluster-wide: exact after each full pass, kept up between
    /// passes by the chats that start waiting here and the offers withdrawn here (an estimate
    /// for [`Hub::holder_cap`], never for anything a client sees).
    waiting_est: DashMap<String, i64>,
    /// conversation → when its offers were last withdrawn (claimed, ended, missed). A routing
    /// pass that read the chat as waiting before that must not offer it again afterwards; a
    /// chat queued again later (transfer, unanswered claim) has a later `queued_at` and may be.
    withdrawn_at: DashMap<String, i64>,
    /// Conversations offered for the first time, to be marked `offered` in one write after the
    /// routing pass (one statement, not one commit per chat).
    to_mark: std::sync::Mutex<Vec<String>>,
    /// Read receipts not stored yet: (conversation, role) → (merchant, seq). Stored a few times a
    /// second in one transaction; with one write per receipt, clients that acknowledge every
    /// message (as the widget and store app do) doubled the writes on SQLite's one writer.
    reads: DashMap<(String, &'static str), (String, i64)>,
    /// Merchant settings and stores (with their departments), read at most every
    /// [`CACHED_FOR`]: every chat request routes by them, and reading them each time was most
    /// of the reads a chat request made.
    settings: DashMap<String, (Instant, Arc<MerchantPublic>)>,
    catalogue: DashMap<String, (Instant, Arc<Vec<Store>>)>,
    /// When each merchant's cached settings and stores were last dropped after an edit.
    forgotten: DashMap<String, Instant>,
    claim_seconds: DashMap<String, f64>,
    writer: mpsc::Sender<writer::WriteJob>,
    pub analytics: events::Emitter,
    /// Set when `REDIS_URL` joins this node to others.
    pub cluster: std::sync::OnceLock<Arc<cluster::Cluster>>,
    /// Per conversation viewed on this node: its merchant and the last seq delivered here.
    delivered: DashMap<String, (String, i64)>,
    token_key: Vec<u8>,
    next_conn: AtomicU64,
    /// Wakes the router early (an offer went away, so experts may have room for the next).
    wake: tokio::sync::Notify,
    pub shutdown: CancellationToken,
    /// Which credential opened which socket (see [`revoke`]).
    revocations: revoke::Revocations,
    /// Video calls the sockets here take part in (issue 24).
    pub calls: calls::Calls,
    /// Set once at start-up (see [`OfferHook`]).
    pub offer_hook: std::sync::OnceLock<Arc<dyn OfferHook>>,
}

/// Experts able to take a chat (`available`) and switched on at all (`online`), in total and
/// per store id (available, online). See [`Hub::staffing`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Staffing {
    pub available: i64,
    pub online: i64,
    pub stores: HashMap<String, (i64, i64)>,
}

impl Staffing {
    /// The stores and their departments, as [`Hub::staffing`] takes them.
    pub fn catalogue(stores: &[Store]) -> Vec<(String, Vec<String>)> {
        stores
            .iter()
            .map(|s| (s.id.to_string(), s.departments.iter().map(|d| d.id.to_string()).collect()))
            .collect()
    }
}

/// Cheap handle to the hub.
#[derive(Clone)]
pub struct Hub(Arc<HubInner>);

impl std::ops::Deref for Hub {
    type Target = HubInner;
    fn deref(&self) -> &HubInner {
        &self.0
    }
}

pub struct HubTasks {
    pub writer: tokio::task::JoinHandle<()>,
    pub analytics: tokio::task::JoinHandle<()>,
    pub router: tokio::task::JoinHandle<()>,
    pub analytics_stop: CancellationToken,
}

impl Hub {
    pub async fn start(db: Db, shutdown: CancellationToken, redis_url: Option<&str>) -> anyhow::Result<(Hub, HubTasks)> {
        let token_key = db.server_key("shopper_token_hmac").await?.into_bytes();
        let analytics_stop = CancellationToken::new();
        let (emitter, analytics_task) = events::start(db.clone(), analytics_stop.clone());
        let (wtx, wrx) = mpsc::channel(8192);
        let hub = Hub(Arc::new(HubInner {
            db,
            conns: DashMap::new(),
            conv_subs: DashMap::new(),
            shopper_conns: DashMap::new(),
            experts: DashMap::new(),
            merchant_experts: DashMap::new(),
            offers: DashMap::new(),
            held: DashMap::new(),
            queue_sent: DashMap::new(),
            waiting_est: DashMap::new(),
            withdrawn_at: DashMap::new(),
            to_mark: Default::default(),
            reads: DashMap::new(),
            settings: DashMap::new(),
            catalogue: DashMap::new(),
            forgotten: DashMap::new(),
            claim_seconds: DashMap::new(),
            writer: wtx,
            analytics: emitter,
            cluster: std::sync::OnceLock::new(),
            delivered: DashMap::new(),
            token_key,
            next_conn: AtomicU64::new(1),
            wake: tokio::sync::Notify::new(),
            shutdown,
            revocations: Default::default(),
            calls: Default::default(),
            offer_hook: std::sync::OnceLock::new(),
        }));
        if let Some(url) = redis_url {
            cluster::Cluster::start(&hub, url).await?;
        }
        let writer_task = tokio::spawn(writer::run(hub.clone(), wrx));
        let router_task = tokio::spawn(hub.clone().route_forever());
        tokio::spawn(events::roll_forever(hub.clone()));
        tokio::spawn(hub.clone().store_reads_forever());
        Ok((
            hub,
            HubTasks {
                writer: writer_task,
                analytics: analytics_task,
                router: router_task,
                analytics_stop,
            },
        ))
    }

    // ----- sockets -----

    pub fn register(&self, outbox: Arc<Outbox>) -> u64 {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        self.conns.insert(id, outbox);
        metrics::gauge!("floorwalker_sockets").increment(1.0);
        id
    }

    pub fn unregister(&self, id: u64, convs: &[String]) {
        self.conns.remove(&id);
        self.unwatch(id);
        for c in convs {
            self.unsubscribe(id, c);
        }
        metrics::gauge!("floorwalker_sockets").decrement(1.0);
    }

    /// Whether one of this expert's sockets on this node was heard from within `ms` (a frame
    /// or a pong): a phone that locks freezes its socket without closing it.
    pub fn expert_heard_within(&self, expert: &str, ms: i64) -> bool {
        let Some(conns) = self.experts.get(expert).map(|p| p.conns.clone()) else {
            return false;
        };
        let now = now_ms();
        conns.iter().any(|c| self.conns.get(c).is_some_and(|o| now - o.heard_at() <= ms))
    }

    /// No connected expert can take a chat here: can one be alerted by push instead?
    pub async fn push_reachable(&self, merchant: &str, store: &str, department: &str) -> bool {
        match self.offer_hook.get() {
            Some(h) => h.reachable(merchant, store, department).await,
            None => false,
        }
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Queue a frame for one socket. A full queue means the client does not keep up: it is
    /// closed (4009) and resumes from the database when it reconnects.
    pub fn send_conn(&self, id: u64, frame: &Utf8Bytes) {
        if let Some(c) = self.conns.get(&id) {
            if let Err(outbox::Refused::Full) = c.push(frame.clone()) {
                metrics::counter!("floorwalker_slow_consumers_total").increment(1);
                c.close(close::SLOW_CONSUMER);
            }
        }
    }

    pub fn send_out(&self, id: u64, out: &Out) {
        self.send_conn(id, &frame(out));
    }

    pub fn subscribe(&self, conn: u64, conversation: &str) {
        let mut e = self.conv_subs.entry(conversation.to_owned()).or_default();
        if e.is_empty() {
            if let Some(c) = self.cluster.get() {
                c.subscribe(conversation);
            }
        }
        if !e.contains(&conn) {
            e.push(conn);
        }
    }

    pub fn unsubscribe(&self, conn: u64, conversation: &str) {
        let empty = match self.conv_subs.get_mut(conversation) {
            Some(mut v) => {
                v.retain(|c| *c != conn);
                v.is_empty()
            }
            None => false,
        };
        if empty && self.conv_subs.remove_if(conversation, |_, v| v.is_empty()).is_some() {
            self.delivered.remove(conversation);
            if let Some(c) = self.cluster.get() {
                c.unsubscribe(conversation);
            }
        }
    }

    /// Send to every socket viewing a conversation, on this node (except `except`) and on the
    /// others.
    pub fn send_conversation(&self, conversation: &str, out: &Out, except: Option<u64>) {
        let f = frame(out);
        if let Some(c) = self.cluster.get() {
            c.send(
                cluster::conv_channel(conversation),
                &cluster::Envelope::Frame {
                    n: c.node.clone(),
                    conv: conversation.to_owned(),
                    f: f.as_str().to_owned(),
                },
            );
        }
        self.send_frame_local(conversation, &f, except);
    }

    /// Send to the sockets on this node only (what every node computes for itself).
    pub fn send_conversation_local(&self, conversation: &str, out: &Out) {
        self.send_frame_local(conversation, &frame(out), None);
    }

    fn send_frame_local(&self, conversation: &str, f: &Utf8Bytes, except: Option<u64>) {
        let targets: Vec<u64> = self.conv_subs.get(conversation).map(|v| v.clone()).unwrap_or_default();
        for c in targets {
            if Some(c) != except {
                self.send_conn(c, f);
            }
        }
    }

    pub fn add_shopper_conn(&self, shopper: &str, conn: u64) {
        self.shopper_conns.entry(shopper.to_owned()).or_default().push(conn);
    }

    pub fn remove_shopper_conn(&self, shopper: &str, conn: u64) {
        if let Some(mut v) = self.shopper_conns.get_mut(shopper) {
            v.retain(|c| *c != conn);
        }
        self.shopper_conns.remove_if(shopper, |_, v| v.is_empty());
    }

    pub fn shopper_conn_ids(&self, shopper: &str) -> Vec<u64> {
        self.shopper_conns.get(shopper).map(|v| v.clone()).unwrap_or_default()
    }

    pub fn send_expert(&self, expert: &str, out: &Out) {
        self.send_expert_frame(expert, &frame(out));
    }

    /// As `send_expert`, for a frame serialised once and sent to many experts.
    pub fn send_expert_frame(&self, expert: &str, f: &Utf8Bytes) {
        let conns = self.experts.get(expert).map(|p| p.conns.clone()).unwrap_or_default();
        for c in conns {
            self.send_conn(c, f);
        }
    }

    /// Called by the writer, in sequence order, for each stored message: tell the other nodes,
    /// then deliver here.
    pub async fn deliver_message(&self, merchant: &str, m: &protocol::MessageView, from_conn: Option<u64>) {
        if let Some(c) = self.cluster.get() {
            c.send(
                cluster::conv_channel(&m.conversation_id),
                &cluster::Envelope::Msg {
                    n: c.node.clone(),
                    merchant: merchant.to_owned(),
                    m: m.clone(),
                },
            );
        }
        self.deliver_in_order(merchant, m, from_conn).await;
    }

    /// Deliver to this node's viewers exactly once and in seq order: a repeat is dropped, a gap
    /// is filled from the database first (messages stored by another node arrive over Redis and
    /// may overtake each other).
    pub async fn deliver_in_order(&self, merchant: &str, m: &protocol::MessageView, from_conn: Option<u64>) {
        if !self.conv_subs.contains_key(&m.conversation_id) {
            return;
        }
        let last = self.delivered.get(&m.conversation_id).map(|v| v.1);
        match last {
            Some(l) if m.seq <= l => return,
            Some(l) if m.seq > l + 1 => self.fill_gap(merchant, &m.conversation_id, l, m.seq).await,
            _ => {}
        }
        // The gap filling may have delivered this one already.
        if self.delivered.get(&m.conversation_id).is_some_and(|v| v.1 >= m.seq) {
            return;
        }
        self.deliver_local(m, from_conn);
        self.delivered.insert(m.conversation_id.clone(), (merchant.to_owned(), m.seq));
    }

    /// Deliver the stored messages after `after` and before `before` from the database.
    pub async fn fill_gap(&self, merchant: &str, conversation: &str, after: i64, before: i64) {
        let m = MerchantId::from_db(merchant.to_owned());
        let Ok(missing) = self
            .db
            .messages_after(&m, conversation, after, (before - after - 1).clamp(1, 500))
            .await
        else {
            return;
        };
        for msg in missing.iter().filter(|x| x.seq < before) {
            if self.delivered.get(conversation).is_some_and(|v| v.1 >= msg.seq) {
                continue;
            }
            self.deliver_local(msg, None);
            self.delivered.insert(conversation.to_owned(), (merchant.to_owned(), msg.seq));
        }
    }

    fn deliver_local(&self, m: &protocol::MessageView, from_conn: Option<u64>) {
        let mut shown = m.clone();
        // Only the author's own sockets see their client_msg_id.
        let own = Out::Message { message: shown.clone() };
        shown.client_msg_id = None;
        let others = Out::Message { message: shown };
        let (own_f, others_f) = (frame(&own), frame(&others));
        let targets: Vec<u64> = self.conv_subs.get(&m.conversation_id).map(|v| v.clone()).unwrap_or_default();
        let author_conns: HashSet<u64> = match m.author.role.as_str() {
            "expert" => m
                .author
                .expert_id
                .as_deref()
                .and_then(|e| self.experts.get(e).map(|p| p.conns.iter().copied().collect()))
                .unwrap_or_default(),
            _ => HashSet::new(),
        };
        for c in targets {
            if Some(c) == from_conn {
                continue;
            }
            self.send_conn(c, if author_conns.contains(&c) { &own_f } else { &others_f });
        }
    }

    // ----- storing messages -----

    /// Hand a message to the writer and wait until it is stored (or failed).
    pub async fn store(&self, msg: NewMessage, from_conn: Option<u64>) -> Result<AppendOutcome, ()> {
        let (reply, rx) = oneshot::channel();
        if self.hand_to_writer(msg, from_conn, writer::Reply::Wait(reply)).await.is_err() {
            return Err(());
        }
        match tokio::time::timeout(Duration::from_secs(15), rx).await {
            Ok(Ok(r)) => r,
            _ => Err(()),
        }
    }

    /// Store a client's message and answer its socket (`ack` or error) once stored, without
    /// waiting here: the session goes on reading the socket's next frames meanwhile.
    pub async fn store_then_answer(&self, msg: NewMessage, conn: u64) {
        let (conversation, client_id) = (msg.conversation_id.clone(), msg.client_msg_id.clone().unwrap_or_default());
        if self.hand_to_writer(msg, Some(conn), writer::Reply::Answer(conn)).await.is_err() {
            replies::answer_store(self, conn, &conversation, &client_id, Err(()));
        }
    }

    async fn hand_to_writer(&self, msg: NewMessage, from_conn: Option<u64>, reply: writer::Reply) -> Result<(), ()> {
        let job = writer::WriteJob {
            msg,
            from_conn,
            reply,
            queued: Instant::now(),
        };
        self.writer.send(job).await.map_err(|_| ())
    }

    /// A system line in the transcript (expert joined, transferred, ended…).
    pub async fn system_message(&self, row: &ConversationRow, key: &str, data: serde_json::Value) {
        let msg = NewMessage {
            merchant_id: row.merchant_id.clone(),
            conversation_id: row.id.clone(),
            client_msg_id: None,
            sender: Sender::System,
            kind: "system",
            body: key.to_owned(),
            data_json: Some(data.to_string()),
        };
        if self.store(msg, None).await.is_err() {
            tracing::warn!(conversation = %row.id, key, "could not store a system message");
        }
    }

    // ----- shopper tokens -----

    /// `shp_….<base64url(HMAC-SHA256(merchant:shopper))>`: proves the server issued this
    /// Shopper ID to this browser for this merchant.
    pub fn shopper_token(&self, merchant: &str, shopper: &str) -> String {
        use base64::Engine;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.token_key).expect("any key length");
        mac.update(merchant.as_bytes());
        mac.update(b":");
        mac.update(shopper.as_bytes());
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{shopper}.{sig}")
    }

    pub fn verify_shopper_token(&self, merchant: &str, token: &str) -> Option<String> {
        let (shopper, _) = token.split_once('.')?;
        crate::ids::ShopperId::parse(shopper)?;
        let expected = self.shopper_token(merchant, shopper);
        use subtle::ConstantTimeEq;
        bool::from(expected.as_bytes().ct_eq(token.as_bytes())).then(|| shopper.to_owned())
    }

    // ----- merchant settings and stores (cached briefly) -----

    pub async fn merchant(&self, m: &MerchantId) -> Option<Arc<MerchantPublic>> {
        if let Some(e) = self.settings.get(m.as_str()) {
            if e.0.elapsed() < CACHED_FOR {
                return Some(e.1.clone());
            }
        }
        let started = Instant::now();
        let fresh = Arc::new(self.db.merchant_public(m).await.ok()?);
        self.keep(&self.settings, m, started, fresh.clone());
        Some(fresh)
    }

    /// The merchant's stores, each with its departments, in id order.
    pub async fn stores(&self, m: &MerchantId) -> Option<Arc<Vec<Store>>> {
        if let Some(e) = self.catalogue.get(m.as_str()) {
            if e.0.elapsed() < CACHED_FOR {
                return Some(e.1.clone());
            }
        }
        let started = Instant::now();
        let mut all = Vec::new();
        let mut page = PageRequest::first(500);
        loop {
            let p = self.db.list_stores(m, &page).await.ok()?;
            all.extend(p.items);
            match p.next_cursor {
                Some(c) => page.after = Some(c),
                None => break,
            }
        }
        let fresh = Arc::new(all);
        self.keep(&self.catalogue, m, started, fresh.clone());
        Some(fresh)
    }

    /// Cache what was read from `started` on, unless an edit made this node forget the
    /// merchant meanwhile (the read may have seen the database from before that edit).
    fn keep<T>(&self, cache: &DashMap<String, (Instant, T)>, m: &MerchantId, started: Instant, value: T) {
        if self.forgotten.get(m.as_str()).is_none_or(|at| *at < started) {
            cache.insert(m.to_string(), (started, value));
        }
    }

    /// Drop what this node and every other one cached of a merchant's settings and stores
    /// (after an edit), so the next read is fresh everywhere.
    pub fn forget_merchant(&self, m: &MerchantId) {
        self.tell_nodes(|n| cluster::Envelope::Forget {
            n,
            merchant: m.to_string(),
        });
        self.forget_merchant_local(m.as_str());
    }

    pub fn forget_merchant_local(&self, m: &str) {
        self.forgotten.insert(m.to_owned(), Instant::now());
        self.settings.remove(m);
        self.catalogue.remove(m);
    }

    // ----- presence -----

    /// Make an expert present on this node (or refresh a present one's settings). The new socket
    /// is attached with [`Hub::attach_conn`] once its welcome is queued, so the welcome is the
    /// first frame it gets.
    pub fn add_presence(&self, expert: &str, p: Presence) {
        let merchant = p.merchant_id.clone();
        self.experts
            .entry(expert.to_owned())
            .and_modify(|cur| {
                // A later socket refreshes assignments and settings; availability stays.
                cur.assigned_stores = p.assigned_stores.clone();
                cur.assigned_departments = p.assigned_departments.clone();
                cur.merchant_cap = p.merchant_cap;
                cur.contacts_on = p.contacts_on;
                cur.active = p.active;
            })
            .or_insert_with(|| Presence { conns: vec![], ..p });
        self.merchant_experts.entry(merchant).or_default().insert(expert.to_owned());
        self.publish_availability();
    }

    /// Queue `first` on the socket, then let every later frame for this expert reach it too.
    /// Both happen under the presence entry's lock, which senders to the expert also take, so
    /// no frame from another thread can overtake `first`.
    pub fn attach_conn(&self, expert: &str, conn: u64, first: &Out) {
        let f = frame(first);
        match self.experts.get_mut(expert) {
            Some(mut p) => {
                self.send_conn(conn, &f);
                p.conns.push(conn);
            }
            None => self.send_conn(conn, &f),
        }
    }

    pub fn remove_presence_conn(&self, expert: &str, conn: u64) {
        let gone = match self.experts.get_mut(expert) {
            Some(mut p) => {
                p.conns.retain(|c| *c != conn);
                p.conns.is_empty().then(|| p.merchant_id.clone())
            }
            None => None,
        };
        if let Some(m) = gone {
            self.experts.remove_if(expert, |_, p| p.conns.is_empty());
            if let Some(mut set) = self.merchant_experts.get_mut(&m) {
                set.remove(expert);
            }
            for mut o in self.offers.iter_mut() {
                o.experts.remove(expert);
            }
            self.held.remove(expert);
            self.publish_availability();
        }
    }

    fn publish_availability(&self) {
        let n = self.experts.iter().filter(|p| p.available).count();
        metrics::gauge!("floorwalker_experts_available").set(n as f64);
    }

    /// Who of a merchant's experts can take a chat now, cluster-wide, over `catalogue` (each
    /// store with its department ids). An expert counts as **online** when switched to
    /// available and working at least one of these stores with one of its departments, and as
    /// **available** when they also have room under their cap: able to take a chat. An
    /// approved expert with no stores (or none of these) is neither.
    pub fn staffing(&self, merchant: &str, catalogue: &[(String, Vec<String>)]) -> Staffing {
        let mut out = Staffing::default();
        self.for_each_cluster_expert(merchant, |available, free, stores, deps| {
            if !available {
                return;
            }
            let (mut online, mut able) = (false, false);
            for (store, store_deps) in catalogue {
                if stores.iter().any(|s| s == store) && store_deps.iter().any(|d| deps.contains(d)) {
                    let e = out.stores.entry(store.clone()).or_default();
                    e.1 += 1;
                    online = true;
                    if free {
                        e.0 += 1;
                        able = true;
                    }
                }
            }
            out.online += i64::from(online);
            out.available += i64::from(able);
        });
        out
    }

    /// Visit the merchant's connected experts on every node (this node's live, the others' as
    /// of their last presence write, at most a second or two old) without copying them:
    /// `f(available, below_cap, stores, departments)`. An expert with sockets on this node and
    /// another counts once.
    fn for_each_cluster_expert(&self, merchant: &str, mut f: impl FnMut(bool, bool, &[String], &[String])) {
        if let Some(ids) = self.merchant_experts.get(merchant) {
            for e in ids.iter() {
                let Some(p) = self.experts.get(e) else { continue };
                if p.conns.is_empty() {
                    continue;
                }
                f(p.available, p.active < p.cap(), p.stores(), p.departments());
            }
        }
        if let Some(remote) = self.cluster.get().and_then(|c| c.remote.get(merchant)) {
            for r in remote.iter() {
                if !self.experts.contains_key(&r.id) {
                    f(r.available, r.free, &r.stores, &r.departments);
                }
            }
        }
    }

    /// How many experts can take a chat in this store and department now, cluster-wide.
    pub fn available_count(&self, merchant: &str, store: Option<&str>, department: Option<&str>) -> u32 {
        self.count_experts(merchant, store, department, true)
    }

    /// How many experts are switched to available for this store and department, whether or
    /// not they have room for another chat.
    pub fn online_count(&self, merchant: &str, store: Option<&str>, department: Option<&str>) -> u32 {
        self.count_experts(merchant, store, department, false)
    }

    fn count_experts(&self, merchant: &str, store: Option<&str>, department: Option<&str>, need_room: bool) -> u32 {
        let mut n = 0;
        self.for_each_cluster_expert(merchant, |available, free, stores, deps| {
            if available
                && (free || !need_room)
                && store.is_none_or(|s| stores.iter().any(|x| x == s))
                && department.is_none_or(|d| deps.iter().any(|x| x == d))
            {
                n += 1;
            }
        });
        n
    }

    /// Count a chat more (claimed) or less (ended, transferred, back in the queue) for an
    /// expert on this node, and send them their `status` so the app shows the server's
    /// `active_chats` (and cap) at once.
    pub fn change_active(&self, expert: &str, delta: i64) {
        let status = self.experts.get_mut(expert).map(|mut p| {
            p.active = (p.active + delta).max(0);
            p.status()
        });
        // Sent after the entry is unlocked: send_expert takes it again.
        if let Some(s) = status {
            self.send_expert(expert, &Out::Status(s));
        }
    }

    // ----- offers -----

    /// The offer for a conversation, without the per-expert `your_contact` flag.
    async fn base_offer(&self, row: &ConversationRow, reason: &str) -> Offer {
        Offer {
            conversation_id: row.id.clone(),
            store: protocol::NamedRef {
                id: row.store_id.clone(),
                name: row.store_name.clone(),
            },
            department: protocol::NamedRef {
                id: row.department_id.clone(),
                name: row.department_name.clone(),
            },
            shopper: OfferShopper {
                id: row.shopper_id.clone(),
                name: row.shopper_name.clone(),
                returning: row.contact_expert_id.is_some(),
                your_contact: false,
            },
            page_url: row.page_url.clone(),
            product: row.product(),
            first_message: self.db.first_message(&row.id).await.ok().flatten(),
            waiting_since: row.queued_at,
            reason: reason.to_owned(),
            note: row.transfer_note.clone(),
            offline: row.offline != 0,
            journey: self
                .db
                .page_views(&MerchantId::from_db(row.merchant_id.clone()), &row.shopper_id, 5)
                .await
                .unwrap_or_default(),
        }
    }

    fn offer_to(base: &Offer, row: &ConversationRow, expert: &str) -> Offer {
        let mut o = base.clone();
        o.shopper.your_contact = row.contact_expert_id.as_deref() == Some(expert);
        o
    }

    /// Whether this local expert should hold this waiting conversation's offer now: the
    /// targeted expert only; else the shopper's contact first, for a while, if they can take it;
    /// else every eligible expert with room for another offer (or already holding this one).
    fn is_target(&self, row: &ConversationRow, expert: &str, routing_contact_first_ms: i64, now: i64) -> bool {
        let eligible = |e: &str| self.experts.get(e).is_some_and(|p| p.eligible(&row.store_id, &row.department_id));
        if let Some(t) = &row.target_expert_id {
            return t == expert && eligible(expert);
        }
        if let Some(c) = &row.contact_expert_id {
            if now - row.queued_at < routing_contact_first_ms && eligible(c) {
                return c == expert;
            }
        }
        let room = self
            .held
            .get(expert)
            .is_none_or(|h| h.len() < MAX_OFFERS_PER_EXPERT || h.contains(&row.id));
        room && eligible(expert)
    }

    /// A merchant's local experts who could take another offer now (available, under their
    /// chat cap, holding fewer than [`MAX_OFFERS_PER_EXPERT`]), whatever the store.
    fn with_room(&self, merchant: &str) -> Vec<String> {
        let Some(all) = self.merchant_experts.get(merchant).map(|s| s.iter().cloned().collect::<Vec<_>>()) else {
            return Vec::new();
        };
        all.into_iter()
            .filter(|e| self.experts.get(e).is_some_and(|p| p.available && p.active < p.cap()) && self.has_room(e))
            .collect()
    }

    fn has_room(&self, expert: &str) -> bool {
        self.held.get(expert).is_none_or(|h| h.len() < MAX_OFFERS_PER_EXPERT)
    }

    /// Which local experts should hold this waiting conversation's offer now (when `wave`,
    /// including those who hold it already). This runs for every waiting chat on every pass, so
    /// it only looks at who could be one: the experts `pass` still knows to have room, the
    /// chat's holders, its targeted expert and the shopper's contact. Everyone else is full or
    /// gone, and is_target would turn them down one by one.
    fn targets(&self, row: &ConversationRow, routing_contact_first_ms: i64, now: i64, wave: bool, pass: &mut Pass) -> Vec<String> {
        if !pass.room.contains_key(&row.merchant_id) {
            pass.room.insert(row.merchant_id.clone(), self.with_room(&row.merchant_id));
        }
        let room = pass.room.get_mut(&row.merchant_id).expect("just filled");
        room.retain(|e| self.has_room(e));
        let mut candidates = room.clone();
        if wave {
            if let Some(track) = self.offers.get(&row.id) {
                candidates.extend(track.experts.iter().cloned());
            }
        }
        candidates.extend(row.target_expert_id.iter().cloned());
        candidates.extend(row.contact_expert_id.iter().cloned());
        candidates.sort_unstable();
        candidates.dedup();
        candidates.retain(|e| self.is_target(row, e, routing_contact_first_ms, now));
        let (holders, waves) = self.offers.get(&row.id).map_or((0, 0), |t| (t.experts.len(), t.waves));
        let cap = *pass
            .cap
            .entry(row.merchant_id.clone())
            .or_insert_with(|| self.holder_cap(&row.merchant_id))
            + waves
            + usize::from(wave);
        if candidates.len() + holders + 1 > cap {
            self.spread(row, &mut candidates, cap);
        }
        candidates
    }

    /// How many of a merchant's experts on this node may hold one waiting chat's offer at once:
    /// the offer slots of those who could take a chat now (available, below their cap; each
    /// [`MAX_OFFERS_PER_EXPERT`]) shared over the merchant's waiting chats, rounded up, at
    /// least one. Few waiting chats: more than there are experts, so everyone eligible sees
    /// each chat and the quickest claims it. A surge (more waiting chats than slots): one, so
    /// each expert with room is offered chats nobody else here holds. A chat's re-offer waves
    /// add one each (an expert who lets an offer sit does not hold the chat alone for long);
    /// contact-first and targeted chats have one target anyway. With several nodes each node
    /// caps its own experts (up to nodes × cap holders cluster-wide), and in a deep surge a
    /// chat is left to its home node first ([`Hub::home_elsewhere`]), so the nodes' experts do
    /// not all hold the same oldest chats.
    pub fn holder_cap(&self, merchant: &str) -> usize {
        let able = self.merchant_experts.get(merchant).map_or(0, |ids| {
            ids.iter()
                .filter(|e| self.experts.get(*e).is_some_and(|p| p.available && p.active < p.cap()))
                .count()
        });
        let waiting = self.waiting_est.get(merchant).map_or(0, |w| *w).max(1) as usize;
        (able * MAX_OFFERS_PER_EXPERT).div_ceil(waiting).max(1)
    }

    /// Whether, with several nodes, this chat is left to another node's experts first: under
    /// a surge so deep that this node's offer slots cannot cover its share of the waiting
    /// chats (slots × nodes ≤ waiting), each chat has a home node (a hash of its id over the
    /// merchant's live nodes, sorted) and counts elsewhere as held by one expert there. So
    /// with `holder_cap` 1 each node's experts see different chats from the other nodes'
    /// too; in a shallower surge (or on one node) it changes nothing, and no free slot idles.
    fn home_elsewhere(&self, row: &ConversationRow) -> bool {
        let Some(c) = self.cluster.get() else { return false };
        let Some(nodes) = c.nodes.get(&row.merchant_id) else {
            return false;
        };
        let able = self.merchant_experts.get(&row.merchant_id).map_or(0, |ids| {
            ids.iter()
                .filter(|e| self.experts.get(*e).is_some_and(|p| p.available && p.active < p.cap()))
                .count()
        });
        let waiting = self.waiting_est.get(&row.merchant_id).map_or(0, |w| *w) as usize;
        if able * MAX_OFFERS_PER_EXPERT * nodes.len() > waiting {
            return false;
        }
        // FNV-1a: the same on every node and every build (std's hasher promises neither).
        let h = row
            .id
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        nodes[(h % nodes.len() as u64) as usize] != c.node
    }

    /// The holders of a chat's offer who could still claim it (eligible now): an expert who
    /// filled up or went away no longer keeps a colleague from being offered it. A chat whose
    /// home is another node counts one more (see [`Hub::home_elsewhere`]).
    fn live_holders(&self, row: &ConversationRow) -> usize {
        usize::from(self.home_elsewhere(row))
            + self.offers.get(&row.id).map_or(0, |t| {
                t.experts
                    .iter()
                    .filter(|e| self.experts.get(*e).is_some_and(|p| p.eligible(&row.store_id, &row.department_id)))
                    .count()
            })
    }

    /// Cut `candidates` to those holding the offer already plus new ones up to `cap` live
    /// holders, preferring the experts holding the fewest offers (then the fewest chats; ties
    /// broken by a hash of expert and chat, so no expert always comes first).
    fn spread(&self, row: &ConversationRow, candidates: &mut Vec<String>, cap: usize) {
        use std::hash::{Hash, Hasher};
        let holders: HashSet<String> = self.offers.get(&row.id).map(|t| t.experts.clone()).unwrap_or_default();
        let live = self.live_holders(row);
        let (mut keep, mut new): (Vec<String>, Vec<String>) = candidates.drain(..).partition(|e| holders.contains(e));
        new.sort_by_cached_key(|e| {
            let held = self.held.get(e).map_or(0, |h| h.len());
            let active = self.experts.get(e).map_or(0, |p| p.active);
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (e, &row.id).hash(&mut h);
            (held, active, h.finish())
        });
        new.truncate(cap.saturating_sub(live));
        keep.extend(new);
        *candidates = keep;
    }

    /// Count a chat that starts waiting (or waits again) for [`Hub::holder_cap`].
    pub(crate) fn note_waiting(&self, merchant: &str, delta: i64) {
        let mut w = self.waiting_est.entry(merchant.to_owned()).or_insert(0);
        *w = (*w + delta).max(0);
    }

    /// Offer a waiting conversation to the experts who should have it and do not yet (or to
    /// all of them again when `wave`).
    pub async fn offer_round(&self, row: &ConversationRow, reason: &str, wave: bool) {
        if !self.offers.contains_key(&row.id) && !self.withdrawn_since_read(row) {
            // A new chat, or one back in the queue (transfer, unanswered claim).
            self.note_waiting(&row.merchant_id, 1);
        }
        let cap = self.holder_cap(&row.merchant_id);
        if !wave && row.target_expert_id.is_none() && row.contact_expert_id.is_none() && cap == 1 {
            // Under a surge a new chat does not jump the queue: an offer slot that frees up
            // (a lost race, a claim) goes to the oldest chat nobody holds, which the top-up pass
            // finds, not to whichever chat arrives next. Offered on arrival, the chats of a
            // busy second took the slots while older ones waited unoffered (at 3,000 shoppers
            // and 300 experts, chats 601–900 were claimed after chats 1,201–1,800).
            if let Some(h) = self.offer_hook.get() {
                h.waiting(row);
            }
            self.wake.notify_one();
            return;
        }
        let mut pass = Pass::default();
        pass.cap.insert(row.merchant_id.clone(), cap);
        self.offer_round_in(row, reason, wave, &mut pass).await
    }

    /// As [`Hub::offer_round`], as one step of a pass over many chats.
    async fn offer_round_in(&self, row: &ConversationRow, reason: &str, wave: bool, pass: &mut Pass) {
        let Some(settings) = self.merchant(&MerchantId::from_db(row.merchant_id.clone())).await else {
            return;
        };
        if self.withdrawn_since_read(row) {
            return;
        }
        if let Some(h) = self.offer_hook.get() {
            h.waiting(row);
        }
        let now = now_ms();
        let targets = self.targets(row, i64::from(settings.routing.contact_first_s) * 1000, now, wave, pass);
        let fresh: Vec<String> = {
            let mut track = self.offers.entry(row.id.clone()).or_default();
            if track.merchant.is_empty() {
                track.merchant = row.merchant_id.clone();
            }
            if wave {
                track.waves += 1;
            }
            let mut fresh = Vec::new();
            for e in &targets {
                let holds = track.experts.contains(e);
                if !holds && self.held.get(e).is_some_and(|h| h.len() >= MAX_OFFERS_PER_EXPERT) {
                    continue; // full: this chat reaches them when an offer frees up
                }
                if wave || !holds {
                    fresh.push(e.clone());
                }
                if !holds {
                    track.experts.insert(e.clone());
                    self.held.entry(e.clone()).or_default().insert(row.id.clone());
                }
            }
            if wave || track.last_wave == 0 {
                track.last_wave = now;
            }
            fresh
        };
        if fresh.is_empty() {
            return;
        }
        if row.status == "queued" {
            self.to_mark.lock().expect("to_mark").push(row.id.clone());
            self.emit(row, "offered", None, None);
        }
        let base = self.base_offer(row, reason).await;
        if self.withdrawn_since_read(row) {
            // Claimed or ended while the offer was being put together: undo, send nothing.
            self.release_offer(&row.id);
            return;
        }
        // One serialisation for everyone but the shopper's contact (their copy says so).
        let common = frame(&Out::Offer { offer: base.clone() });
        if let Some(h) = self.offer_hook.get() {
            let here: Vec<String> = fresh
                .iter()
                .filter(|e| self.experts.get(e.as_str()).is_some_and(|p| !p.conns.is_empty()))
                .cloned()
                .collect();
            h.delivered(row, &here);
        }
        for e in fresh {
            if row.contact_expert_id.as_deref() == Some(e.as_str()) {
                self.send_expert(
                    &e,
                    &Out::Offer {
                        offer: Self::offer_to(&base, row, &e),
                    },
                );
            } else {
                self.send_expert_frame(&e, &common);
            }
        }
    }

    /// Tell every expert holding the offer, on any node, that it is gone (except `except`).
    pub fn withdraw(&self, conversation: &str, reason: &str, except: Option<&str>) {
        if let Some(h) = self.offer_hook.get() {
            h.withdrawn(conversation, reason, if reason == "claimed" { except } else { None });
        }
        self.tell_nodes(|n| cluster::Envelope::Withdraw {
            n,
            conv: conversation.to_owned(),
            reason: reason.to_owned(),
            except: except.map(str::to_owned),
        });
        self.withdraw_local(conversation, reason, except);
    }

    /// Forget this chat's offer and free each holder's slot at once, so the next top-up can fill
    /// it (not only the next full pass, which would hold claims to about one round a second).
    /// The experts who held it.
    fn release_offer(&self, conversation: &str) -> Option<HashSet<String>> {
        let (_, track) = self.offers.remove(conversation)?;
        if !track.merchant.is_empty() {
            self.note_waiting(&track.merchant, -1);
        }
        for e in &track.experts {
            if let Some(mut h) = self.held.get_mut(e) {
                h.remove(conversation);
            }
        }
        Some(track.experts)
    }

    /// Whether this chat's offers were withdrawn after `row` (read as waiting) was queued.
    fn withdrawn_since_read(&self, row: &ConversationRow) -> bool {
        self.withdrawn_at.get(&row.id).is_some_and(|at| *at > row.queued_at)
    }

    pub fn withdraw_local(&self, conversation: &str, reason: &str, except: Option<&str>) {
        self.withdrawn_at.insert(conversation.to_owned(), now_ms());
        if let Some(holders) = self.release_offer(conversation) {
            let out = frame(&Out::OfferWithdrawn {
                conversation_id: conversation.to_owned(),
                reason: reason.to_owned(),
            });
            for e in holders.iter().filter(|e| Some(e.as_str()) != except) {
                self.send_expert_frame(e, &out);
            }
            self.wake.notify_one();
        }
        self.queue_sent.remove(conversation);
    }

    /// Offers an expert should see now: waiting chats they are eligible for, oldest first.
    pub async fn backlog(&self, expert: &str) -> Vec<Offer> {
        let Some(p) = self.experts.get(expert).map(|p| p.clone()) else {
            return vec![];
        };
        if !p.available || p.active >= p.cap() {
            return vec![];
        }
        let Some(settings) = self.merchant(&MerchantId::from_db(p.merchant_id.clone())).await else {
            return vec![];
        };
        // The oldest few hundred are plenty to fill MAX_OFFERS_PER_EXPERT.
        let rows = self
            .db
            .waiting_conversations_limit(Some(&MerchantId::from_db(p.merchant_id.clone())), 300)
            .await
            .unwrap_or_default();
        let now = now_ms();
        let contact_first_ms = i64::from(settings.routing.contact_first_s) * 1000;
        let cap = self.holder_cap(&p.merchant_id);
        let mut out = Vec::new();
        for row in rows {
            if !self.is_target(&row, expert, contact_first_ms, now) {
                continue;
            }
            let (holds, waves) = self
                .offers
                .get(&row.id)
                .map_or((false, 0), |t| (t.experts.contains(expert), t.waves));
            if holds || self.live_holders(&row) < cap + waves {
                let mut track = self.offers.entry(row.id.clone()).or_default();
                if track.merchant.is_empty() {
                    track.merchant = row.merchant_id.clone();
                }
                track.experts.insert(expert.to_owned());
                drop(track);
                self.held.entry(expert.to_owned()).or_default().insert(row.id.clone());
                let base = self.base_offer(&row, "new").await;
                out.push(Self::offer_to(&base, &row, expert));
                if let Some(h) = self.offer_hook.get() {
                    h.delivered(&row, &[expert.to_owned()]);
                }
            }
        }
        out
    }

    /// The offer for one conversation as this expert should see it, if it still waits.
    pub async fn offer_for(&self, merchant: &MerchantId, conversation: &str, expert: &str) -> Option<Offer> {
        let row = self.db.conversation(merchant, conversation).await.ok()?;
        if !row.is_waiting() {
            return None;
        }
        let base = self.base_offer(&row, "new").await;
        Some(Self::offer_to(&base, &row, expert))
    }

    /// A chat waits for an expert: routers on the other nodes run now instead of at their tick.
    pub fn wake_cluster(&self, merchant: &str) {
        self.tell_nodes(|n| cluster::Envelope::Wake {
            n,
            merchant: Some(merchant.to_owned()),
        });
    }

    /// Send the backlog to an expert who just freed up.
    pub async fn push_backlog(&self, expert: &str) {
        for offer in self.backlog(expert).await {
            self.send_expert(expert, &Out::Offer { offer });
        }
    }

    // ----- analytics -----

    pub fn emit(&self, row: &ConversationRow, kind: &'static str, value: Option<i64>, expert: Option<&str>) {
        self.analytics.emit(Event {
            merchant_id: row.merchant_id.clone(),
            kind,
            at: now_ms(),
            shopper_id: Some(row.shopper_id.clone()),
            store_id: Some(row.store_id.clone()),
            department_id: Some(row.department_id.clone()),
            // '' (not NULL) when no expert is involved, so the roller does not fill in whoever
            // holds the conversation by the time it runs.
            expert_id: Some(expert.map(str::to_owned).or_else(|| row.expert_id.clone()).unwrap_or_default()),
            conversation_id: Some(row.id.clone()),
            value,
            data_json: None,
        });
    }

    pub fn record_claim_time(&self, merchant: &str, seconds: f64) {
        let mut e = self.claim_seconds.entry(merchant.to_owned()).or_insert(seconds);
        *e = *e * 0.8 + seconds * 0.2;
    }

    /// Rough wait: position × recent time-to-claim ÷ experts who could take it.
    pub fn estimate_wait(&self, merchant: &str, position: u32, available: u32) -> u32 {
        let per = self.claim_seconds.get(merchant).map(|v| *v).unwrap_or(30.0);
        ((f64::from(position) * per) / f64::from(available.max(1))).ceil().min(3600.0) as u32
    }

    // ----- state changes shared by both audiences -----

    /// Broadcast a conversation's new state to its sockets on this node.
    pub async fn announce(&self, merchant: &MerchantId, conversation: &str) -> Option<ConversationRow> {
        let row = self.db.conversation(merchant, conversation).await.ok()?;
        self.send_conversation(conversation, &Out::Conversation { conversation: row.view() }, None);
        Some(row)
    }

    /// Whether a store is open now.
    pub async fn store_open(&self, merchant: &MerchantId, store_id: &str) -> bool {
        let now = now_ms();
        self.stores(merchant)
            .await
            .is_some_and(|all| all.iter().any(|s| s.id.as_str() == store_id && s.is_open_at(now)))
    }

    // ----- read receipts -----

    /// Whether a read receipt for `seq` can be taken without reading the conversation: the
    /// socket follows the conversation (its session verified it is theirs when it did) and the
    /// receipt is for a message this node has delivered. Otherwise the caller checks the
    /// database (a socket that stopped following — transfer, unanswered claim — falls there).
    pub fn receipt_in_hand(&self, conn: u64, conversation: &str, seq: i64) -> bool {
        let follows = self.conv_subs.get(conversation).is_some_and(|c| c.contains(&conn));
        follows && seq >= 0 && self.delivered.get(conversation).is_some_and(|d| seq <= d.1)
    }

    /// Note that `role` has read `conversation` up to `seq` (stored within a moment).
    pub fn note_read(&self, merchant: &str, conversation: &str, role: &'static str, seq: i64) {
        self.reads
            .entry((conversation.to_owned(), role))
            .and_modify(|v| v.1 = v.1.max(seq))
            .or_insert_with(|| (merchant.to_owned(), seq));
    }

    async fn store_reads(&self) {
        let keys: Vec<(String, &'static str)> = self.reads.iter().map(|e| e.key().clone()).collect();
        let marks: Vec<crate::storage::ReadMark> = keys
            .into_iter()
            .filter_map(|k| self.reads.remove(&k))
            .map(|((conversation_id, role), (merchant_id, seq))| crate::storage::ReadMark {
                merchant_id,
                conversation_id,
                role,
                seq,
            })
            .collect();
        if let Err(e) = self.db.set_reads(&marks).await {
            // Kept for the next round (a newer receipt of the same chat wins).
            tracing::warn!(error = %e, n = marks.len(), "storing read receipts failed; will retry");
            for r in marks {
                self.note_read(&r.merchant_id, &r.conversation_id, r.role, r.seq);
            }
        }
    }

    async fn store_reads_forever(self) {
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => {
                    self.store_reads().await;
                    return;
                }
                _ = tokio::time::sleep(Duration::from_millis(250)) => self.store_reads().await,
            }
        }
    }

    // ----- the routing loop -----

    async fn route_forever(self) {
        let mut tick = tokio::time::interval(Duration::from_millis(1000));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let full = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tick.tick() => true,
                _ = self.wake.notified() => {
                    // Coalesce bursts of claims into one pass.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    false
                }
            };
            let started = std::time::Instant::now();
            let result = if full { self.route_once().await } else { self.top_up().await };
            metrics::histogram!("floorwalker_routing_pass_seconds", "pass" => if full { "full" } else { "top_up" })
                .record(started.elapsed().as_secs_f64());
            if let Err(e) = result {
                tracing::warn!(error = %e, "routing pass failed");
            }
            let marks = std::mem::take(&mut *self.to_mark.lock().expect("to_mark"));
            if let Err(e) = self.db.mark_offered(&marks).await {
                tracing::warn!(error = %e, "marking chats offered failed");
            }
        }
    }

    /// Between full passes, after offers went away: offer the longest-waiting chats to experts
    /// who now have room. Reads the oldest a page at a time and stops when no expert has room
    /// (usually after the first page), and at most a few hundred, so a long queue does not make
    /// every claim cost a scan of all of it (the once-a-second full pass does the rest).
    pub async fn top_up(&self) -> anyhow::Result<()> {
        let mut pass = Pass::default();
        let mut after: Option<(i64, String)> = None;
        let mut seen = 0;
        while seen < TOP_UP_ROWS && self.anyone_has_room() {
            let rows = self
                .db
                .waiting_page(after.as_ref().map(|(at, id)| (*at, id.as_str())), TOP_UP_PAGE)
                .await?;
            for row in &rows {
                self.offer_round_in(row, "new", false, &mut pass).await;
            }
            seen += rows.len() as i64;
            match rows.last() {
                Some(last) if rows.len() as i64 == TOP_UP_PAGE => after = Some((last.queued_at, last.id.clone())),
                _ => break,
            }
        }
        Ok(())
    }

    /// Whether any expert on this node could take another offer.
    fn anyone_has_room(&self) -> bool {
        self.experts
            .iter()
            .any(|p| p.available && p.active < p.cap() && self.has_room(p.key()))
    }

    /// Every waiting chat, longest-waiting first, read a page at a time from the index (on
    /// SQLite on a kept read connection), letting the node's other tasks run between pages: one
    /// query joining a long queue at once held a runtime thread for tens of milliseconds.
    async fn all_waiting(&self) -> anyhow::Result<Vec<ConversationRow>> {
        let mut all: Vec<ConversationRow> = Vec::new();
        loop {
            let after = all.last().map(|r| (r.queued_at, r.id.as_str()));
            let page = self.db.waiting_page(after, FULL_PASS_PAGE).await?;
            let full = page.len() as i64 == FULL_PASS_PAGE;
            all.extend(page);
            if !full {
                return Ok(all);
            }
            tokio::task::yield_now().await;
        }
    }

    /// One routing pass: missed chats, re-offer waves, unanswered claims, queue positions.
    pub async fn route_once(&self) -> anyhow::Result<()> {
        let now = now_ms();
        // A pass reads and offers within seconds; older marks are of no use.
        self.withdrawn_at.retain(|_, at| now - *at < 300_000);
        let waiting = self.all_waiting().await?;
        // The exact number waiting per merchant, for holder_cap until the next pass.
        let mut counts: HashMap<&str, i64> = HashMap::new();
        for row in &waiting {
            *counts.entry(row.merchant_id.as_str()).or_default() += 1;
        }
        self.waiting_est.retain(|m, _| counts.contains_key(m.as_str()));
        for (m, n) in counts {
            self.waiting_est.insert(m.to_owned(), n);
        }
        let mut pass = Pass::default();
        let mut positions: std::collections::HashMap<(String, String, String), u32> = Default::default();
        let mut avail_cache: std::collections::HashMap<(String, String, String), u32> = Default::default();
        for (i, row) in waiting.iter().enumerate() {
            if i % FULL_PASS_PAGE as usize == FULL_PASS_PAGE as usize - 1 {
                tokio::task::yield_now().await;
            }
            let m = MerchantId::from_db(row.merchant_id.clone());
            let Some(settings) = self.merchant(&m).await else { continue };
            let r = &settings.routing;
            if row.offline == 0 && now - row.queued_at > i64::from(r.missed_after_s) * 1000 {
                if self.db.mark_missed(&row.id, now - i64::from(r.missed_after_s) * 1000).await? {
                    self.withdraw(&row.id, "missed", None);
                    self.emit(row, "missed", Some(now - row.queued_at), None);
                    self.system_message(row, "missed", serde_json::json!({})).await;
                    self.announce(&m, &row.id).await;
                }
                continue;
            }
            let last_wave = self.offers.get(&row.id).map(|t| t.last_wave).unwrap_or(0);
            let wave = last_wave > 0 && now - last_wave >= i64::from(r.reoffer_every_s) * 1000;
            self.offer_round_in(row, if wave { "reoffer" } else { "new" }, wave, &mut pass)
                .await;

            // Queue position among chats for the same store and department.
            let key = (row.merchant_id.clone(), row.store_id.clone(), row.department_id.clone());
            let pos = positions.entry(key).or_insert(0);
            *pos += 1;
            if self.conv_subs.contains_key(&row.id) {
                let k = (row.merchant_id.clone(), row.store_id.clone(), row.department_id.clone());
                let avail = *avail_cache
                    .entry(k)
                    .or_insert_with(|| self.available_count(&row.merchant_id, Some(&row.store_id), Some(&row.department_id)));
                let wait = self.estimate_wait(&row.merchant_id, *pos, avail);
                let changed = self.queue_sent.get(&row.id).map(|v| *v != (*pos, wait)).unwrap_or(true);
                if changed {
                    self.queue_sent.insert(row.id.clone(), (*pos, wait));
                    self.send_conversation_local(
                        &row.id,
                        &Out::Queue {
                            conversation_id: row.id.clone(),
                            position: *pos,
                            estimated_wait_s: wait,
                        },
                    );
                }
            }
        }
        // Claimed chats whose expert never answered go back to the queue.
        let mut cutoffs: Vec<(String, i64)> = Vec::new();
        for e in self.settings.iter() {
            let s = e.value().1.routing.unanswered_reoffer_s;
            if s > 0 {
                cutoffs.push((e.key().clone(), i64::from(s) * 1000));
            }
        }
        if let Some(min) = cutoffs.iter().map(|c| c.1).min() {
            for row in self.db.unanswered_claims(now - min).await? {
                let Some(limit) = cutoffs.iter().find(|c| c.0 == row.merchant_id).map(|c| c.1) else {
                    continue;
                };
                let Some(expert) = row.expert_id.clone() else { continue };
                // Only the node serving the expert acts, so the expert is told at once.
                if !self.experts.contains_key(&expert) || now - row.claimed_at.unwrap_or(now) < limit {
                    continue;
                }
                if self.db.unclaim_unanswered(&row.id, &expert).await? {
                    let m = MerchantId::from_db(row.merchant_id.clone());
                    self.change_active(&expert, -1);
                    self.send_expert(
                        &expert,
                        &Out::OfferWithdrawn {
                            conversation_id: row.id.clone(),
                            reason: "unavailable".into(),
                        },
                    );
                    if let Some(fresh) = self.announce(&m, &row.id).await {
                        self.send_expert(
                            &expert,
                            &Out::Conversation {
                                conversation: fresh.view(),
                            },
                        );
                        if let Some(p) = self.experts.get(&expert) {
                            for c in &p.conns {
                                self.unsubscribe(*c, &row.id);
                            }
                        }
                        self.emit(&fresh, "unanswered", None, Some(&expert));
                        self.offer_round(&fresh, "unanswered", true).await;
                        self.wake_cluster(&fresh.merchant_id);
                    }
                }
            }
        }
        // Forget offers of conversations that are no longer waiting.
        let live: HashSet<&str> = waiting.iter().map(|r| r.id.as_str()).collect();
        self.offers.retain(|k, _| live.contains(k.as_str()));
        for mut h in self.held.iter_mut() {
            h.retain(|c| live.contains(c.as_str()));
        }
        self.queue_sent.retain(|k, _| live.contains(k.as_str()));
        Ok(())
    }
}

/// The `client_msg_id` (or `conversation_id`) of a frame that did not parse, if it has one, so
/// the client can tell which of its messages failed.
pub fn readable_ref(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("client_msg_id")
        .or_else(|| v.get("conversation_id"))
        .and_then(|x| x.as_str())
        .map(|s| s.chars().take(64).collect())
}

/// Serialise a frame once; the bytes are shared by every socket it goes to.
pub fn frame(out: &Out) -> Utf8Bytes {
    Utf8Bytes::from(protocol::encode(out))
}
