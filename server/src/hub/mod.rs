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

pub mod cache;
pub mod calls;
pub mod cluster;
pub mod connections;
pub mod events;
pub mod expert;
pub mod media_chat;
pub mod nodes;
pub mod offers;
pub mod outbox;
pub mod plan;
pub mod receipts;
pub mod replies;
pub mod revoke;
pub mod roster;
pub mod router;
pub mod shopper;
pub mod socket;
pub mod tokens;
pub mod views;
pub mod writer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::ids::{ConversationId, MerchantId};
use crate::now_ms;
use crate::protocol::{self, Out};
use crate::storage::{AppendOutcome, ConversationRow, Db, Event, NewMessage, Sender};
pub use roster::{Presence, Staffing};
pub use writer::StoreFailed;

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

/// What a session wants after handling a frame.
pub enum Step {
    Continue,
    /// The frame was not understood (counted; many in a row close the socket).
    Malformed,
    Close(crate::protocol::CloseCode),
}

/// Something outside the hub that hears about waiting chats and withdrawn offers: the Web Push
/// alerter (`crate::outbound::push::alerter`). Both calls must return at once (queue, don't work).
pub trait OfferHook: Send + Sync {
    /// A chat waits (called on every routing pass for every waiting chat).
    fn waiting(&self, row: &ConversationRow);
    /// Its offer went away: claimed by `claimed_by`, or withdrawn for `reason`.
    fn withdrawn(&self, conversation: &ConversationId, reason: &str, claimed_by: Option<&str>);
    /// Its offer reached these experts over a live socket on this node (an alert too).
    fn delivered(&self, _row: &ConversationRow, _experts: &[String]) {}
    /// Whether an expert who is not connected could be alerted for a chat in this store and
    /// department (asked only when no connected expert is available).
    fn reachable(&self, merchant: &str, store: &str, department: &str) -> futures::future::BoxFuture<'static, bool>;
}

/// What the chat does about a shopper outside it: remember how to reach them (the widget's
/// language, an address or number for answers while away) and tell the experts when they leave
/// or come back. `crate::outbound::hooks` provides it, set once at start-up; a hub started
/// without one (a storage test) uses the defaults below: it remembers nothing, tells nobody and
/// answers `notify_me` with "unavailable".
pub trait ReachHook: Send + Sync {
    /// A chat or offline message began (`phone`: given with an offline message).
    fn chat_started<'a>(
        &'a self,
        _hub: &'a Hub,
        _m: &'a MerchantId,
        _conversation: &'a ConversationId,
        _locale: Option<&'a str>,
        _phone: Option<&'a str>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    /// The shopper's last socket, on every node, closed.
    fn shopper_left<'a>(&'a self, _hub: &'a Hub, _m: &'a MerchantId, _shopper: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    /// The shopper is connected again.
    fn shopper_back<'a>(&'a self, _hub: &'a Hub, _m: &'a MerchantId, _shopper: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    /// An expert on socket `conn` claimed `row`: tell them if its shopper is away.
    fn after_claim<'a>(&'a self, _hub: &'a Hub, _conn: u64, _row: &'a ConversationRow) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    /// The shopper's open chats with an address or number for answers (for `welcome`).
    fn notify_states<'a>(&'a self, _hub: &'a Hub, _m: &'a MerchantId, _shopper: &'a str) -> BoxFuture<'a, Vec<protocol::NotifyState>> {
        Box::pin(async { Vec::new() })
    }
    /// The shopper's `notify_me`: the answer frame, or why it changed nothing.
    fn notify_me<'a>(
        &'a self,
        _hub: &'a Hub,
        _m: &'a MerchantId,
        _conversation: &'a ConversationId,
        _email: Option<&'a str>,
        _phone: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Out, &'static str>> {
        Box::pin(async { Err("unavailable") })
    }
}

/// No [`ReachHook`] set: the trait's defaults.
struct NoReach;

impl ReachHook for NoReach {}

/// A socket not heard from for this long (ms) counts as frozen (a locked phone): its expert is
/// alerted by push too (`crate::outbound::push`). The server pings every 25 s; a live client answers at once.
pub const SILENT_AFTER_MS: i64 = 40_000;

/// The hub's parts, each owning its state; what crosses them is in `impl Hub` beside the part
/// it mostly concerns.
pub struct HubInner {
    pub db: Db,
    /// The sockets here: queues, viewers per conversation, in-order delivery ([`connections`]).
    pub conns: connections::Connections,
    /// The experts connected here ([`roster`]).
    pub roster: roster::Roster,
    /// Who holds which offer, and the routing's bookkeeping ([`offers`], [`router`]).
    pub offers: offers::Offers,
    /// Merchant settings and stores, cached briefly ([`cache`]).
    cache: cache::MerchantCache,
    /// Read receipts on their way to the database ([`receipts`]).
    receipts: receipts::Receipts,
    tokens: tokens::ShopperTokens,
    writer: mpsc::Sender<writer::WriteJob>,
    pub analytics: events::Emitter,
    /// What this node tells the others, and who is where on them ([`nodes`]): a lone node's
    /// [`nodes::Solo`], or Redis ([`cluster`]).
    pub broker: Arc<dyn nodes::Broker>,
    pub nodes: Arc<dyn nodes::NodePresence>,
    /// Wakes the router early (an offer went away, so experts may have room for the next).
    wake: tokio::sync::Notify,
    pub shutdown: CancellationToken,
    /// Which credential opened which socket (see [`revoke`]).
    revocations: revoke::Revocations,
    /// Video calls the sockets here take part in (issue 24).
    pub calls: calls::Calls,
    /// Set once at start-up (see [`OfferHook`]).
    pub offer_hook: std::sync::OnceLock<Arc<dyn OfferHook>>,
    /// Set once at start-up (see [`ReachHook`]).
    pub reach_hook: std::sync::OnceLock<Arc<dyn ReachHook>>,
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
        let cluster = match redis_url {
            Some(url) => Some(cluster::Cluster::connect(url).await?),
            None => None,
        };
        let (broker, nodes): (Arc<dyn nodes::Broker>, Arc<dyn nodes::NodePresence>) = match &cluster {
            Some(c) => (c.clone(), c.clone()),
            None => {
                let solo = Arc::new(nodes::Solo::new());
                (solo.clone(), solo)
            }
        };
        let hub = Hub(Arc::new(HubInner {
            db,
            conns: connections::Connections::new(),
            roster: Default::default(),
            offers: Default::default(),
            cache: Default::default(),
            receipts: Default::default(),
            tokens: tokens::ShopperTokens::new(token_key),
            writer: wtx,
            analytics: emitter,
            broker,
            nodes,
            wake: tokio::sync::Notify::new(),
            shutdown,
            revocations: Default::default(),
            calls: Default::default(),
            offer_hook: std::sync::OnceLock::new(),
            reach_hook: std::sync::OnceLock::new(),
        }));
        if let Some(c) = cluster {
            c.run(&hub);
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

    /// What the chat does about a shopper outside it ([`ReachHook`]).
    pub fn reach(&self) -> &dyn ReachHook {
        self.reach_hook.get().map_or(&NoReach as &dyn ReachHook, |h| h.as_ref())
    }

    /// No connected expert can take a chat here: can one be alerted by push instead?
    pub async fn push_reachable(&self, merchant: &str, store: &str, department: &str) -> bool {
        match self.offer_hook.get() {
            Some(h) => h.reachable(merchant, store, department).await,
            None => false,
        }
    }

    // ----- storing messages -----

    /// Hand a message to the writer and wait until it is stored (or failed).
    pub async fn store(&self, msg: NewMessage, from_conn: Option<u64>) -> Result<AppendOutcome, StoreFailed> {
        const WAIT: Duration = Duration::from_secs(15);
        let (reply, rx) = oneshot::channel();
        self.hand_to_writer(msg, from_conn, writer::Reply::Wait(reply)).await?;
        match tokio::time::timeout(WAIT, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(StoreFailed::WriterGone),
            Err(_) => Err(StoreFailed::TimedOut(WAIT)),
        }
    }

    /// Store a client's message and answer its socket (`ack` or error) once stored, without
    /// waiting here: the session goes on reading the socket's next frames meanwhile.
    pub async fn store_then_answer(&self, msg: NewMessage, conn: u64) {
        let (conversation, client_id) = (msg.conversation_id.clone(), msg.client_msg_id.clone().unwrap_or_default());
        if let Err(e) = self.hand_to_writer(msg, Some(conn), writer::Reply::Answer(conn)).await {
            replies::answer_store(self, conn, &conversation, &client_id, Err(e));
        }
    }

    async fn hand_to_writer(&self, msg: NewMessage, from_conn: Option<u64>, reply: writer::Reply) -> Result<(), StoreFailed> {
        let job = writer::WriteJob {
            msg,
            from_conn,
            reply,
            queued: Instant::now(),
        };
        self.writer.send(job).await.map_err(|_| StoreFailed::WriterGone)
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
        if let Err(e) = self.store(msg, None).await {
            tracing::warn!(conversation = %row.id, key, error = %e, "could not store a system message");
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

    // ----- state changes shared by both audiences -----

    /// Broadcast a conversation's new state to its sockets on this node.
    pub async fn announce(&self, merchant: &MerchantId, conversation: &ConversationId) -> Option<ConversationRow> {
        let row = self.db.conversation(merchant, conversation).await.ok()?;
        self.send_conversation(conversation, &Out::Conversation { conversation: row.view() }, None);
        Some(row)
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
