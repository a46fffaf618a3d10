//! Several nodes acting as one, over Redis (`REDIS_URL`). The database stays the source of
//! truth; Redis only carries what is fast and disposable:
//!
//! - **Conversation traffic** on `fw:c:<conversation>`: stored messages and state frames. A node
//!   subscribes to a conversation's channel while one of its sockets views it and unsubscribes
//!   when the last one leaves, so a node's fan-out follows the conversations it serves. Sockets
//!   on the same node never wait for Redis: the node delivers to them first, then publishes.
//! - **Lifecycle events** on `fw:events`: a new waiting chat (wake the routers), an offer gone
//!   (withdraw it everywhere), an expert to disconnect, rollups updated.
//! - **Presence**: each node writes its experts' availability to `fw:presence:<merchant>:<node>`
//!   with a 10 s expiry, refreshed every second, and reads the other nodes' — so availability is
//!   cluster-wide and a dead node's experts disappear within seconds. `fw:node:<node>` (same
//!   expiry) says the node is alive.
//! - **Shopper presence**: the set `fw:shopper:<merchant>:<shopper>` holds the nodes where the
//!   shopper has a socket. A node adds itself on the shopper's first socket there and removes
//!   itself on the last; only when no live node is left is the shopper away (issue 21: answers
//!   by e-mail). A node joins before the shopper's welcome; leaving is done by one task per
//!   node in order, which puts the node back if a socket said hello meanwhile. Each node also
//!   lists the shoppers it holds in `fw:node-shoppers:<node>` and itself in `fw:nodes`; a node
//!   that dies (its `fw:node:<node>` expired: killed, or shut down) is swept by one of the
//!   others (a `fw:sweep:<node>` lock): it leaves each of those shoppers' sets, and a shopper
//!   left on no live node is away, as if their last socket had closed.
//!
//! Messages keep their per-conversation order on every node: each node remembers the last seq it
//! delivered per conversation and fills any gap from the database before delivering a later one.
//! If Redis goes away nothing is lost: messages are stored before they are published; when the
//! subscription comes back (and every few seconds anyway) each node compares what it delivered
//! with the database and catches its sockets up.

use crate::ids::ConversationId;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use futures::StreamExt;
use redis::AsyncCommands;
use tokio::sync::mpsc;

use futures::future::BoxFuture;

use super::nodes::{Broker, Envelope, ExpertSnap, NodePresence};
use super::Hub;
use crate::ids::MerchantId;

mod hub_side;
mod presence;

use presence::{elsewhere, presence, shopper_presence};

pub const EVENTS: &str = "fw:events";
pub const PRESENCE_TTL_S: u64 = 10;
/// Every node that joined and was not swept yet (see the module documentation).
const NODES: &str = "fw:nodes";
/// How often a node looks for dead nodes to sweep, in presence ticks (seconds).
const SWEEP_EVERY_TICKS: u32 = 5;

fn node_key(node: &str) -> String {
    format!("fw:node:{node}")
}

/// The shoppers with a socket on `node`, as `<merchant> <shopper>`.
fn node_shoppers_key(node: &str) -> String {
    format!("fw:node-shoppers:{node}")
}

fn node_shopper(merchant: &str, shopper: &str) -> String {
    format!("{merchant} {shopper}")
}

fn shopper_key(merchant: &str, shopper: &str) -> String {
    format!("fw:shopper:{merchant}:{shopper}")
}

/// A shopper's presence on this node changed (see the module documentation).
enum ShopperCmd {
    /// Their last socket here closed; `check`: decide whether they are away now.
    Gone { merchant: String, shopper: String, check: bool },
}

pub fn conv_channel(conversation: &ConversationId) -> String {
    format!("fw:c:{conversation}")
}

enum Cmd {
    Sub(String),
    Unsub(String),
}

pub struct Cluster {
    pub node: String,
    publish: mpsc::Sender<(String, String)>,
    cmds: mpsc::UnboundedSender<Cmd>,
    /// The other nodes' experts, per merchant.
    pub remote: DashMap<String, Vec<ExpertSnap>>,
    /// Per merchant, the live nodes with experts of it (this one included), sorted: under a
    /// surge each waiting chat has a home among them (see `hub::plan::home_elsewhere`).
    pub nodes: DashMap<String, Vec<String>>,
    shoppers: mpsc::UnboundedSender<ShopperCmd>,
    conn: redis::aio::ConnectionManager,
    client: redis::Client,
    /// The tasks' ends of the channels above, until [`Cluster::run`] starts them.
    #[allow(clippy::type_complexity)]
    receivers: std::sync::Mutex<
        Option<(
            mpsc::Receiver<(String, String)>,
            mpsc::UnboundedReceiver<Cmd>,
            mpsc::UnboundedReceiver<ShopperCmd>,
        )>,
    >,
}

impl Cluster {
    /// Connect (the hub is built with the result as its broker and node presence).
    pub async fn connect(url: &str) -> anyhow::Result<Arc<Cluster>> {
        let client = redis::Client::open(url)?;
        let conn = redis::aio::ConnectionManager::new(client.clone()).await?;
        let (ptx, prx) = mpsc::channel(100_000);
        let (ctx, crx) = mpsc::unbounded_channel();
        let (stx, srx) = mpsc::unbounded_channel();
        Ok(Arc::new(Cluster {
            node: uuid::Uuid::new_v4().simple().to_string(),
            publish: ptx,
            cmds: ctx,
            remote: DashMap::new(),
            nodes: DashMap::new(),
            shoppers: stx,
            conn,
            client,
            receivers: std::sync::Mutex::new(Some((prx, crx, srx))),
        }))
    }

    /// Start the publisher, subscriber and presence tasks for this hub (once).
    pub fn run(self: &Arc<Self>, hub: &Hub) {
        let Some((prx, crx, srx)) = self.receivers.lock().expect("receivers").take() else {
            return;
        };
        tokio::spawn(publisher(self.conn.clone(), prx, hub.shutdown.clone()));
        tokio::spawn(subscriber(hub.clone(), self.client.clone(), crx));
        tokio::spawn(shopper_presence(hub.clone(), self.clone(), srx));
        tokio::spawn(presence(hub.clone(), self.clone(), self.conn.clone()));
        tracing::info!(node = %self.node, "joined the cluster over Redis");
    }

    pub fn send(&self, channel: String, e: &Envelope) {
        let payload = serde_json::to_string(e).expect("envelope");
        if self.publish.try_send((channel, payload)).is_err() {
            metrics::counter!("floorwalker_cluster_publish_dropped_total").increment(1);
        }
    }
}

impl Broker for Cluster {
    fn node(&self) -> &str {
        &self.node
    }
    fn to_viewers(&self, conversation: &ConversationId, make: &mut dyn FnMut(String) -> Envelope) {
        self.send(conv_channel(conversation), &make(self.node.clone()));
    }
    fn to_nodes(&self, make: &mut dyn FnMut(String) -> Envelope) {
        self.send(EVENTS.to_owned(), &make(self.node.clone()));
    }
    fn follow(&self, conversation: &ConversationId) {
        let _ = self.cmds.send(Cmd::Sub(conv_channel(conversation)));
    }
    fn unfollow(&self, conversation: &ConversationId) {
        let _ = self.cmds.send(Cmd::Unsub(conv_channel(conversation)));
    }
}

impl NodePresence for Cluster {
    fn remote_experts(&self, merchant: &str, f: &mut dyn FnMut(&ExpertSnap)) {
        if let Some(remote) = self.remote.get(merchant) {
            remote.iter().for_each(f);
        }
    }
    fn live_nodes(&self, merchant: &str) -> Option<Vec<String>> {
        self.nodes.get(merchant).map(|n| n.clone())
    }
    fn expert_heard_elsewhere(&self, merchant: &str, expert: &str) -> bool {
        self.remote
            .get(merchant)
            .is_some_and(|r| r.iter().any(|x| x.id == expert && x.heard))
    }
    /// A shopper's socket said hello here (after `add_shopper_conn`, before the welcome): this
    /// node joins the shopper's node set before the shopper can close another tab elsewhere,
    /// so that node sees them here. (The caller then clears their chats' away mark.)
    fn shopper_arrived<'a>(&'a self, m: &'a MerchantId, shopper: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let key = shopper_key(m.as_str(), shopper);
            let mut conn = self.conn.clone();
            let r: redis::RedisResult<()> = redis::pipe()
                .sadd(&key, &self.node)
                .ignore()
                .sadd(node_shoppers_key(&self.node), node_shopper(m.as_str(), shopper))
                .ignore()
                .query_async(&mut conn)
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "writing shopper presence to Redis failed");
            }
        })
    }
    fn shopper_left_here(&self, _hub: &Hub, m: &MerchantId, shopper: &str, had_chats: bool) {
        let _ = self.shoppers.send(ShopperCmd::Gone {
            merchant: m.to_string(),
            shopper: shopper.to_owned(),
            check: had_chats,
        });
    }
    fn shopper_elsewhere<'a>(&'a self, m: &'a MerchantId, shopper: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            elsewhere(&mut conn, &self.node, &shopper_key(m.as_str(), shopper))
                .await
                .unwrap_or(false)
        })
    }
}

/// Publishes in order, pipelining what has queued up.
async fn publisher(
    mut conn: redis::aio::ConnectionManager,
    mut rx: mpsc::Receiver<(String, String)>,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut batch = Vec::with_capacity(256);
    loop {
        let n = tokio::select! {
            n = rx.recv_many(&mut batch, 256) => n,
            _ = stop.cancelled() => return,
        };
        if n == 0 {
            return;
        }
        let mut pipe = redis::pipe();
        for (ch, payload) in &batch {
            pipe.publish(ch, payload).ignore();
        }
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            // Stored messages are not lost: the receiving nodes catch up from the database.
            metrics::counter!("floorwalker_cluster_publish_failed_total").increment(batch.len() as u64);
            tracing::warn!(error = %e, n = batch.len(), "publishing to Redis failed");
        } else {
            metrics::counter!("floorwalker_cluster_published_total").increment(batch.len() as u64);
        }
        batch.clear();
    }
}

/// Keeps one subscription connection: `fw:events` plus the channels of the conversations this
/// node's sockets view. Reconnects with backoff and then catches the sockets up.
async fn subscriber(hub: Hub, client: redis::Client, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
    let mut backoff = Duration::from_millis(200);
    let mut first = true;
    let mut safety = tokio::time::interval(Duration::from_secs(5));
    safety.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if hub.shutdown.is_cancelled() {
            return;
        }
        let pubsub = match client.get_async_pubsub().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "Redis subscription failed; retrying");
                metrics::gauge!("floorwalker_cluster_connected").set(0.0);
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = hub.shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                // Drain commands meanwhile; the resubscribe below covers the current state.
                while cmds.try_recv().is_ok() {}
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        let mut ok = sink.subscribe(EVENTS).await.is_ok();
        let convs: Vec<ConversationId> = hub.local_conversations();
        for c in &convs {
            ok &= sink.subscribe(conv_channel(c)).await.is_ok();
        }
        if !ok {
            continue;
        }
        backoff = Duration::from_millis(200);
        metrics::gauge!("floorwalker_cluster_connected").set(1.0);
        if !first {
            tracing::info!("Redis subscription restored; catching sockets up from the database");
            hub.catch_up().await;
            hub.wake.notify_one();
        }
        first = false;
        loop {
            tokio::select! {
                _ = hub.shutdown.cancelled() => return,
                cmd = cmds.recv() => match cmd {
                    Some(Cmd::Sub(ch)) => { let _ = sink.subscribe(ch).await; }
                    Some(Cmd::Unsub(ch)) => { let _ = sink.unsubscribe(ch).await; }
                    None => return,
                },
                msg = stream.next() => match msg {
                    Some(msg) => {
                        let Ok(payload) = msg.get_payload::<String>() else { continue };
                        match serde_json::from_str::<Envelope>(&payload) {
                            Ok(e) => hub.on_cluster(e).await,
                            Err(e) => tracing::warn!(error = %e, "unreadable cluster message"),
                        }
                    }
                    None => {
                        tracing::warn!("Redis subscription lost; reconnecting");
                        metrics::gauge!("floorwalker_cluster_connected").set(0.0);
                        break;
                    }
                },
                _ = safety.tick() => hub.catch_up().await,
            }
        }
    }
}
