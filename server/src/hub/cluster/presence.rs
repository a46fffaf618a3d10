//! Expert and shopper presence across nodes, and sweeping the nodes that died.

use super::*;

/// Every second: write this node's experts per merchant, read the other nodes'.
pub(super) async fn presence(hub: Hub, cluster: Arc<Cluster>, mut conn: redis::aio::ConnectionManager) {
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
pub(super) async fn shopper_presence(hub: Hub, cluster: Arc<Cluster>, mut rx: mpsc::UnboundedReceiver<ShopperCmd>) {
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
                hub.reach().shopper_left(&hub, &m, &shopper).await;
                // They may have arrived on another node while "away" was written.
                if elsewhere(&mut conn, &node, &key).await.unwrap_or(false) {
                    hub.reach().shopper_back(&hub, &m, &shopper).await;
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
            hub.reach().shopper_left(hub, &m, shopper).await;
            if !hub.shopper_conn_ids(shopper).is_empty() || elsewhere(conn, me, &key).await? {
                // Back while "away" was written.
                hub.reach().shopper_back(hub, &m, shopper).await;
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
pub(super) async fn elsewhere(conn: &mut redis::aio::ConnectionManager, me: &str, key: &str) -> redis::RedisResult<bool> {
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
