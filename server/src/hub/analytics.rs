//! Analytics events, off the message path: the hub `try_send`s into a bounded channel and a
//! worker writes batches. A full channel drops the event (counted in
//! `floorwalker_events_dropped_total`); a message never waits for analytics.
//!
//! The roller folds stored events into the rollups (see `storage::analytics`) about once a
//! second, tells live dashboards which merchants changed, and once a minute records which
//! experts are available (the "experts available over time" figure).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::Hub;
use crate::storage::{Db, Event};

#[derive(Clone)]
pub struct Emitter {
    tx: mpsc::Sender<Event>,
    /// Rings after events were written, so the roller need not wait for its tick.
    pub written: Arc<Notify>,
    /// Merchant ids whose rollups just changed.
    pub rolled: broadcast::Sender<Arc<str>>,
}

impl Emitter {
    pub fn emit(&self, e: Event) {
        if self.tx.try_send(e).is_err() {
            metrics::counter!("floorwalker_events_dropped_total").increment(1);
        }
    }
}

pub fn start(db: Db, stop: CancellationToken) -> (Emitter, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Event>(50_000);
    let written = Arc::new(Notify::new());
    let (rolled, _) = broadcast::channel(1024);
    let emitter = Emitter {
        tx,
        written: written.clone(),
        rolled,
    };
    let handle = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(1000);
        loop {
            tokio::select! {
                n = rx.recv_many(&mut batch, 1000) => {
                    if n == 0 { break; }
                }
                _ = stop.cancelled() => {
                    // Drain what is queued, then stop.
                    rx.close();
                    while rx.recv_many(&mut batch, 1000).await > 0 {
                        write(&db, &mut batch).await;
                    }
                    break;
                }
            }
            write(&db, &mut batch).await;
            written.notify_one();
        }
    });
    (emitter, handle)
}

/// Fold events into rollups until shutdown; sample expert availability every minute.
pub async fn roll_forever(hub: Hub) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sampled_minute = crate::now_ms() / 60_000;
    loop {
        tokio::select! {
            _ = hub.shutdown.cancelled() => return,
            _ = tick.tick() => {}
            _ = hub.analytics.written.notified() => {
                // Let a burst settle into one pass.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        let minute = crate::now_ms() / 60_000;
        if minute != sampled_minute {
            sampled_minute = minute;
            sample_availability(&hub, minute * 60_000);
        }
        loop {
            match hub.db.roll_events(2000).await {
                Ok(out) => {
                    for m in &out.merchants {
                        let _ = hub.analytics.rolled.send(Arc::from(m.as_str()));
                        if let Some(c) = hub.cluster.get() {
                            c.send(
                                super::cluster::EVENTS.to_owned(),
                                &super::cluster::Envelope::Rolled {
                                    n: c.node.clone(),
                                    merchant: m.clone(),
                                },
                            );
                        }
                    }
                    metrics::counter!("floorwalker_events_rolled_total").increment(out.events as u64);
                    if out.events < 2000 {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "rolling analytics events up failed");
                    break;
                }
            }
        }
    }
}

/// One `available` event per available expert connected to this node, and one
/// `available_store` per store they work now. Each node samples its own experts, so the
/// rollups add up the cluster.
fn sample_availability(hub: &Hub, at: i64) {
    for p in hub.experts.iter() {
        if !p.available || p.conns.is_empty() {
            continue;
        }
        let base = Event {
            merchant_id: p.merchant_id.clone(),
            kind: "available",
            at,
            expert_id: Some(p.key().clone()),
            ..Default::default()
        };
        for s in p.stores() {
            hub.analytics.emit(Event {
                kind: "available_store",
                store_id: Some(s.clone()),
                department_id: Some(String::new()),
                ..base.clone()
            });
        }
        hub.analytics.emit(Event {
            store_id: Some(String::new()),
            department_id: Some(String::new()),
            ..base
        });
    }
}

async fn write(db: &Db, batch: &mut Vec<Event>) {
    if batch.is_empty() {
        return;
    }
    for attempt in 0..3 {
        match db.insert_events(batch).await {
            Ok(()) => {
                metrics::counter!("floorwalker_events_written_total").increment(batch.len() as u64);
                batch.clear();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, "writing analytics events failed");
                tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
            }
        }
    }
    metrics::counter!("floorwalker_events_dropped_total").increment(batch.len() as u64);
    batch.clear();
}
