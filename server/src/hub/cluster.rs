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

pub fn conv_channel(conversation: &str) -> String {
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
    /// surge each waiting chat has a home among them (see `Hub::home_elsewhere`).
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
    fn to_viewers(&self, conversation: &str, make: &mut dyn FnMut(String) -> Envelope) {
        self.send(conv_channel(conversation), &make(self.node.clone()));
    }
    fn to_nodes(&self, make: &mut dyn FnMut(String) -> Envelope) {
        self.send(EVENTS.to_owned(), &make(self.node.clone()));
    }
    fn follow(&self, conversation: &str) {
        let _ = self.cmds.send(Cmd::Sub(conv_channel(conversation)));
    }
    fn unfollow(&self, conversation: &str) {
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
        let convs: Vec<String> = hub.local_conversations();
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

/// Every second: write this node's experts per merchant, read the other nodes'.
async fn presence(hub: Hub, cluster: Arc<Cluster>, mut conn: redis::aio::ConnectionManager) {
    let node = cluster.node.clone();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut published: HashSet<String> = HashSet::new();
    let mut ticks: u32 = 0;
    loop {
        tokio::select! {
            _ = hub.shutdown.cancelled() => {
                // Leave at once rather than after the expiry.
                let _: Result<(), _> = conn.del(node_key(&node)).await;
                for m in &published {
                    let _: Result<(), _> = conn.del(format!("fw:presence:{m}:{node}")).await;
                    let _: Result<(), _> = conn.srem(format!("fw:presence-nodes:{m}"), &node).await;
                }
                return;
            }
            _ = tick.tick() => {}
        }
        let mine = hub.local_snapshot();
        let mut pipe = redis::pipe();
        pipe.set_ex(node_key(&node), 1, PRESENCE_TTL_S).ignore();
        pipe.sadd(NODES, &node).ignore();
        for (m, snaps) in &mine {
            pipe.set_ex(
                format!("fw:presence:{m}:{node}"),
                serde_json::to_string(snaps).expect("snap"),
                PRESENCE_TTL_S,
            )
            .ignore()
            .sadd(format!("fw:presence-nodes:{m}"), &node)
            .ignore();
        }
        for m in published.iter().filter(|m| !mine.contains_key(*m)) {
            pipe.del(format!("fw:presence:{m}:{node}")).ignore();
            pipe.srem(format!("fw:presence-nodes:{m}"), &node).ignore();
        }
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            tracing::warn!(error = %e, "writing presence to Redis failed");
            continue;
        }
        published = mine.keys().cloned().collect();
        ticks = ticks.wrapping_add(1);
        if ticks.is_multiple_of(SWEEP_EVERY_TICKS) {
            if let Err(e) = sweep_dead_nodes(&hub, &node, &mut conn).await {
                tracing::warn!(error = %e, "sweeping dead nodes' shoppers failed");
            }
        }
        // Read the other nodes' experts for every merchant this node deals with.
        let mut merchants: HashSet<String> = hub.known_merchants();
        merchants.extend(published.iter().cloned());
        for m in merchants {
            let nodes: Vec<String> = conn.smembers(format!("fw:presence-nodes:{m}")).await.unwrap_or_default();
            let others: Vec<&String> = nodes.iter().filter(|n| **n != node).collect();
            let mut snaps = Vec::new();
            let mut live: Vec<String> = Vec::new();
            if published.contains(&m) {
                live.push(node.clone());
            }
            if !others.is_empty() {
                let keys: Vec<String> = others.iter().map(|n| format!("fw:presence:{m}:{n}")).collect();
                let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(&mut conn).await.unwrap_or_default();
                for (n, v) in others.iter().zip(values) {
                    match v.and_then(|v| serde_json::from_str::<Vec<ExpertSnap>>(&v).ok()) {
                        Some(s) => {
                            snaps.extend(s);
                            live.push((*n).clone());
                        }
                        // Expired: that node is gone.
                        None => {
                            let _: Result<(), _> = conn.srem(format!("fw:presence-nodes:{m}"), n.as_str()).await;
                        }
                    }
                }
            }
            live.sort_unstable();
            if live.len() > 1 {
                cluster.nodes.insert(m.clone(), live);
            } else {
                cluster.nodes.remove(&m);
            }
            if snaps.is_empty() {
                cluster.remote.remove(&m);
            } else {
                cluster.remote.insert(m, snaps);
            }
        }
    }
}

/// The shopper presence commands of this node, one at a time (see the module documentation).
async fn shopper_presence(hub: Hub, cluster: Arc<Cluster>, mut rx: mpsc::UnboundedReceiver<ShopperCmd>) {
    let mut conn = cluster.conn.clone();
    let node = cluster.node.clone();
    loop {
        let cmd = tokio::select! {
            _ = hub.shutdown.cancelled() => return,
            c = rx.recv() => match c { Some(c) => c, None => return },
        };
        match cmd {
            ShopperCmd::Gone { merchant, shopper, check } => {
                if !hub.shopper_conn_ids(&shopper).is_empty() {
                    continue; // back on this node meanwhile
                }
                let key = shopper_key(&merchant, &shopper);
                let mine = node_shopper(&merchant, &shopper);
                let r: redis::RedisResult<()> = redis::pipe()
                    .srem(&key, &node)
                    .ignore()
                    .srem(node_shoppers_key(&node), &mine)
                    .ignore()
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = r {
                    tracing::warn!(error = %e, "removing shopper presence from Redis failed");
                }
                if !hub.shopper_conn_ids(&shopper).is_empty() {
                    // A socket said hello here while this node was being removed: put it back.
                    let _: redis::RedisResult<()> = redis::pipe()
                        .sadd(&key, &node)
                        .ignore()
                        .sadd(node_shoppers_key(&node), &mine)
                        .ignore()
                        .query_async(&mut conn)
                        .await;
                    continue;
                }
                if !check {
                    continue;
                }
                let m = crate::ids::MerchantId::from_db(merchant.clone());
                if elsewhere(&mut conn, &node, &key).await.unwrap_or(false) {
                    continue;
                }
                crate::outbound::hooks::shopper_left(&hub, &m, &shopper).await;
                // They may have arrived on another node while "away" was written.
                if elsewhere(&mut conn, &node, &key).await.unwrap_or(false) {
                    crate::outbound::hooks::shopper_back(&hub, &m, &shopper).await;
                }
            }
        }
    }
}

/// Sweep the nodes that died (their `fw:node:` key expired) with shoppers' sockets: take each
/// one out of its shoppers' node sets, and mark a shopper with chats away when no live node
/// holds a socket of theirs any more. One node sweeps a dead node (a lock with an expiry, so a
/// sweeper that dies too is taken over a minute later).
async fn sweep_dead_nodes(hub: &Hub, me: &str, conn: &mut redis::aio::ConnectionManager) -> redis::RedisResult<()> {
    let nodes: Vec<String> = conn.smembers(NODES).await?;
    let others: Vec<String> = nodes.into_iter().filter(|n| n != me).collect();
    if others.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = others.iter().map(|n| node_key(n)).collect();
    let alive: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(conn).await?;
    for (dead, _) in others.iter().zip(alive).filter(|(_, a)| a.is_none()) {
        let mine: bool = redis::cmd("SET")
            .arg(format!("fw:sweep:{dead}"))
            .arg(me)
            .arg("NX")
            .arg("EX")
            .arg(60)
            .query_async::<Option<String>>(conn)
            .await?
            .is_some();
        if !mine {
            continue;
        }
        let held: Vec<String> = conn.smembers(node_shoppers_key(dead)).await?;
        tracing::info!(node = %dead, shoppers = held.len(), "sweeping a node that died");
        for entry in &held {
            let Some((merchant, shopper)) = entry.split_once(' ') else {
                continue;
            };
            let key = shopper_key(merchant, shopper);
            let _: () = conn.srem(&key, dead).await?;
            if !hub.shopper_conn_ids(shopper).is_empty() || elsewhere(conn, me, &key).await? {
                continue; // still here, or on another live node
            }
            let m = crate::ids::MerchantId::from_db(merchant.to_owned());
            crate::outbound::hooks::shopper_left(hub, &m, shopper).await;
            if !hub.shopper_conn_ids(shopper).is_empty() || elsewhere(conn, me, &key).await? {
                // Back while "away" was written.
                crate::outbound::hooks::shopper_back(hub, &m, shopper).await;
            }
        }
        let _: () = redis::pipe()
            .del(node_shoppers_key(dead))
            .ignore()
            .srem(NODES, dead)
            .ignore()
            .query_async(conn)
            .await?;
    }
    Ok(())
}

/// Whether a live node other than `me` is in the shopper's node set.
async fn elsewhere(conn: &mut redis::aio::ConnectionManager, me: &str, key: &str) -> redis::RedisResult<bool> {
    let nodes: Vec<String> = conn.smembers(key).await?;
    let others: Vec<String> = nodes.into_iter().filter(|n| n != me).collect();
    if others.is_empty() {
        return Ok(false);
    }
    let keys: Vec<String> = others.iter().map(|n| node_key(n)).collect();
    let alive: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(conn).await?;
    let mut dead = Vec::new();
    let mut any = false;
    for (n, a) in others.iter().zip(alive) {
        if a.is_some() {
            any = true;
        } else {
            dead.push(n.clone());
        }
    }
    if !dead.is_empty() {
        // A node that died with the shopper's socket: forget it.
        let _: redis::RedisResult<()> = conn.srem(key, dead).await;
    }
    Ok(any)
}

impl Hub {
    /// A shopper's socket said hello here (after `add_shopper_conn`, before the welcome).
    pub async fn shopper_arrived(&self, m: &MerchantId, shopper: &str) {
        self.nodes.shopper_arrived(m, shopper).await;
    }

    /// A shopper's socket closed here (after `remove_shopper_conn`). `had_chats`: it followed
    /// conversations. When it was their last socket on every node, their chats are away.
    pub fn shopper_departed(&self, m: &MerchantId, shopper: &str, had_chats: bool) {
        if self.shopper_conn_ids(shopper).is_empty() {
            self.nodes.shopper_left_here(self, m, shopper, had_chats);
        }
    }

    /// Whether the shopper has a socket on this node or on another live node.
    pub async fn shopper_connected_anywhere(&self, m: &MerchantId, shopper: &str) -> bool {
        !self.shopper_conn_ids(shopper).is_empty() || self.nodes.shopper_elsewhere(m, shopper).await
    }

    /// Tell every other node (nobody on a lone node): `envelope` gets this node's name.
    pub fn tell_nodes(&self, envelope: impl FnOnce(String) -> Envelope) {
        let mut once = Some(envelope);
        self.broker.to_nodes(&mut |n| (once.take().expect("called once"))(n));
    }

    /// Conversations with a socket on this node.
    pub fn local_conversations(&self) -> Vec<String> {
        self.conns.viewed_conversations()
    }

    /// This node's experts, per merchant, for the other nodes.
    fn local_snapshot(&self) -> HashMap<String, Vec<ExpertSnap>> {
        let mut out: HashMap<String, Vec<ExpertSnap>> = HashMap::new();
        for p in self.roster.iter() {
            if p.conns.is_empty() {
                continue;
            }
            out.entry(p.merchant_id.clone()).or_default().push(ExpertSnap {
                id: p.key().clone(),
                available: p.available,
                free: p.active < p.cap(),
                stores: p.stores().to_vec(),
                departments: p.departments().to_vec(),
                heard: self.expert_heard_within(p.key(), crate::push::SILENT_AFTER_MS),
            });
        }
        out
    }

    /// Whether another node has a live (lately heard) socket of this expert.
    pub fn expert_heard_elsewhere(&self, merchant: &str, expert: &str) -> bool {
        self.nodes.expert_heard_elsewhere(merchant, expert)
    }

    fn known_merchants(&self) -> HashSet<String> {
        self.cache.known_merchants().into_iter().collect()
    }

    /// Something another node published.
    pub async fn on_cluster(&self, e: Envelope) {
        if e.node() == self.broker.node() {
            return;
        }
        match e {
            Envelope::Msg { merchant, m, .. } => self.deliver_in_order(&merchant, &m, None).await,
            Envelope::Frame { conv, f, .. } => self.conns.send_viewers(&conv, &f.into(), None),
            Envelope::Withdraw { conv, reason, except, .. } => self.withdraw_local(&conv, &reason, except.as_deref()),
            Envelope::Wake { merchant, .. } => {
                if let Some(m) = merchant {
                    self.offers.note_waiting(&m, 1);
                }
                self.wake.notify_one()
            }
            Envelope::Kick { expert, .. } => self.kick_local(&expert),
            Envelope::Expert { expert, active: 0, .. } => self.refresh_expert_local(&expert).await,
            Envelope::Expert { expert, active, .. } => {
                self.change_active(&expert, active);
                self.wake.notify_one();
            }
            Envelope::Forget { merchant, .. } => self.forget_merchant_local(&merchant),
            Envelope::Revoke { key, .. } => self.revoke_local(&key),
            Envelope::Signal { to, f, .. } => super::calls::deliver_local(self, &to, &f),
            Envelope::Rolled { merchant, .. } => {
                let _ = self.analytics.rolled.send(Arc::from(merchant.as_str()));
            }
        }
    }

    /// Compare what this node delivered with the database and send what is missing (after a
    /// Redis outage, or a publish that never arrived).
    pub async fn catch_up(&self) {
        let tracked: Vec<(String, i64)> = self.conns.all_delivered().into_iter().map(|(c, _, seq)| (c, seq)).collect();
        for chunk in tracked.chunks(500) {
            let ids: Vec<String> = chunk.iter().map(|c| c.0.clone()).collect();
            let Ok(latest) = self.db.last_seqs(&ids).await else { return };
            for (id, merchant, last) in latest {
                let mine = chunk.iter().find(|c| c.0 == id).map(|c| c.1).unwrap_or(last);
                if last > mine {
                    self.fill_gap(&merchant, &id, mine, last + 1).await;
                }
            }
        }
    }
}
