//! Analytics events, off the message path: the hub `try_send`s into a bounded channel and a
//! worker writes batches. A full channel drops the event (counted in
//! `floorwalker_events_dropped_total`); a message never waits for analytics.
//!
//! The roller folds stored events into the rollups (see `storage::rollups`) about once a
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
    /// Asks the roller to run now rather than at its tick (after an order changed, say).
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

/// Events written per transaction at most.
const MAX_BATCH: usize = 2000;
/// How long the writer gathers events before it writes them.
const FLUSH_EVERY: Duration = Duration::from_millis(250);

pub fn start(db: Db, stop: CancellationToken) -> (Emitter, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<Event>(50_000);
    let (rolled, _) = broadcast::channel(1024);
    let emitter = Emitter {
        tx,
        written: Arc::new(Notify::new()),
        rolled,
    };
    let handle = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        // Per-message counters, folded, waiting for their write (see `COUNTS_EVERY`), and
        // since when the oldest of them waits.
        let mut held: Vec<Event> = Vec::new();
        let mut held_since = tokio::time::Instant::now();
        loop {
            let due = held_since + counts_wait(held.len());
            tokio::select! {
                n = rx.recv_many(&mut batch, MAX_BATCH) => {
                    if n == 0 {
                        write(&db, &mut held).await;
                        break;
                    }
                }
                _ = tokio::time::sleep_until(due), if !held.is_empty() => {}
                _ = stop.cancelled() => {
                    // Drain what is queued, then stop.
                    rx.close();
                    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                        hold_counts(&mut batch, &mut held);
                        write(&db, &mut batch).await;
                    }
                    write(&db, &mut held).await;
                    break;
                }
            }
            let arrived = tokio::time::Instant::now();
            // Gather for a moment: one transaction (one fsync on SQLite) every FLUSH_EVERY
            // instead of one per message batch, which would double the load on the writer.
            if !batch.is_empty() {
                let deadline = arrived + FLUSH_EVERY;
                while batch.len() < MAX_BATCH {
                    let room = MAX_BATCH - batch.len();
                    match tokio::time::timeout_at(deadline, rx.recv_many(&mut batch, room)).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            }
            if held.is_empty() {
                held_since = arrived;
            }
            hold_counts(&mut batch, &mut held);
            if !held.is_empty() && tokio::time::Instant::now() >= held_since + counts_wait(held.len()) {
                batch.append(&mut held);
            }
            write(&db, &mut batch).await;
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
            let started = std::time::Instant::now();
            let rolled = hub.db.roll_events(2000).await;
            metrics::histogram!("floorwalker_roll_seconds").record(started.elapsed().as_secs_f64());
            match rolled {
                Ok(out) => {
                    for m in &out.merchants {
                        let _ = hub.analytics.rolled.send(Arc::from(m.as_str()));
                        hub.tell_nodes(|n| super::nodes::Envelope::Rolled { n, merchant: m.clone() });
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
/// rollups add up the cluster. An expert who works no store or department (e.g. approved but
/// not assigned yet) cannot take a chat and is not counted.
fn sample_availability(hub: &Hub, at: i64) {
    for p in hub.roster.iter() {
        if !p.available || p.conns.is_empty() || p.stores().is_empty() || p.departments().is_empty() {
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

/// How long per-message counters are held and added up before they are written, once there
/// are many of them: each write becomes a rollup row per grain for every expert who wrote, so
/// at ten thousand messages a second from five hundred experts, writing them every 250 ms cost
/// about a tenth of the server's CPU (two thousand events inserted, rolled and deleted and eight
/// thousand rollup rows read and rewritten a second). Then message counts on a live dashboard
/// lag by up to this much; with fewer than `FEW_COUNTERS` places and experts writing they are
/// written every `FLUSH_EVERY`, as every other figure is.
const COUNTS_EVERY: Duration = Duration::from_secs(5);
const FEW_COUNTERS: usize = 64;

/// How long `n` held counters may wait before they are written.
fn counts_wait(n: usize) -> Duration {
    if n < FEW_COUNTERS {
        FLUSH_EVERY
    } else {
        COUNTS_EVERY
    }
}

/// Fold the batch's per-message events into `held` (the counters waiting for their write),
/// leaving the other events in the batch.
fn hold_counts(batch: &mut Vec<Event>, held: &mut Vec<Event>) {
    let (counts, rest): (Vec<Event>, Vec<Event>) = batch.drain(..).partition(foldable);
    *batch = rest;
    if !counts.is_empty() {
        held.extend(counts);
        fold_messages(held);
    }
}

fn foldable(e: &Event) -> bool {
    e.kind.starts_with("message.") && e.conversation_id.is_none() && e.shopper_id.is_none()
}

/// Fold per-message events of the same merchant, kind, place, expert and minute into one event
/// whose `value` is the count (the rollups' finest grain is a minute). At a thousand messages a
/// second this turns a thousand rows to insert, roll and delete into a few dozen.
fn fold_messages(batch: &mut Vec<Event>) {
    #[allow(clippy::type_complexity)] // one local counting key, spelled out where it is built
    let mut counts: std::collections::HashMap<(String, &'static str, i64, Option<String>, Option<String>, Option<String>), usize> =
        Default::default();
    let mut kept = Vec::with_capacity(batch.len());
    for e in batch.drain(..) {
        if !foldable(&e) {
            kept.push(e);
            continue;
        }
        let key = (
            e.merchant_id.clone(),
            e.kind,
            e.at.div_euclid(60_000),
            e.store_id.clone(),
            e.department_id.clone(),
            e.expert_id.clone(),
        );
        match counts.get(&key) {
            Some(&i) => {
                let folded: &mut Event = &mut kept[i];
                folded.value = Some(folded.value.unwrap_or(1) + e.value.unwrap_or(1));
            }
            None => {
                counts.insert(key, kept.len());
                kept.push(e);
            }
        }
    }
    *batch = kept;
}

/// Write events a hundred per transaction (each a few milliseconds, so chat messages never wait
/// long for SQLite's one writer), retrying each part a few times before dropping it.
async fn write(db: &Db, batch: &mut Vec<Event>) {
    for part in batch.chunks(WRITE_CHUNK) {
        write_part(db, part).await;
    }
    batch.clear();
}

const WRITE_CHUNK: usize = 100;

async fn write_part(db: &Db, part: &[Event]) {
    for attempt in 0..3 {
        let started = std::time::Instant::now();
        let written = db.insert_events(part).await;
        metrics::histogram!("floorwalker_events_insert_seconds").record(started.elapsed().as_secs_f64());
        match written {
            Ok(()) => {
                metrics::counter!("floorwalker_events_written_total").increment(part.len() as u64);
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, "writing analytics events failed");
                tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
            }
        }
    }
    metrics::counter!("floorwalker_events_dropped_total").increment(part.len() as u64);
}
#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: &'static str, at: i64, expert: &str) -> Event {
        Event {
            merchant_id: "m".into(),
            kind,
            at,
            store_id: Some("s".into()),
            department_id: Some("d".into()),
            expert_id: Some(expert.into()),
            ..Default::default()
        }
    }

    /// A conversation's event: never folded or held.
    fn claimed() -> Event {
        Event {
            merchant_id: "m".into(),
            kind: "claimed",
            at: 1_000,
            conversation_id: Some(crate::ids::ConversationId::from_db("c".into())),
            ..Default::default()
        }
    }

    #[test]
    fn message_events_fold_per_place_expert_and_minute() {
        let claimed = claimed();
        let mut batch = vec![
            msg("message.shopper", 1_000, ""),
            claimed.clone(),
            msg("message.shopper", 59_999, ""),
            msg("message.expert", 2_000, "e1"),
            msg("message.expert", 3_000, "e2"),
            msg("message.shopper", 60_000, ""),
            msg("message.expert", 4_000, "e1"),
        ];
        fold_messages(&mut batch);
        let got: Vec<(&str, i64, Option<&str>, Option<i64>)> =
            batch.iter().map(|e| (e.kind, e.at, e.expert_id.as_deref(), e.value)).collect();
        assert_eq!(
            got,
            vec![
                ("message.shopper", 1_000, Some(""), Some(2)),
                ("claimed", 1_000, None, None),
                ("message.expert", 2_000, Some("e1"), Some(2)),
                ("message.expert", 3_000, Some("e2"), None),
                ("message.shopper", 60_000, Some(""), None),
            ]
        );
        // Counted the same as unfolded: 3 shopper and 3 expert messages.
        let mut stats = crate::analytics::stats::Stats::default();
        for e in &batch {
            stats.apply(e.kind, e.value, None);
        }
        assert_eq!((stats.msg_shopper, stats.msg_expert), (3, 3));
    }

    #[test]
    fn message_counters_are_held_and_added_up_across_batches() {
        let mut held = Vec::new();
        let mut batch = vec![msg("message.expert", 1_000, "e1"), claimed(), msg("message.expert", 2_000, "e1")];
        hold_counts(&mut batch, &mut held);
        // The other events are written now; the counters wait, folded.
        assert_eq!(batch.iter().map(|e| e.kind).collect::<Vec<_>>(), vec!["claimed"]);
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].value, Some(2));
        let mut batch = vec![msg("message.expert", 3_000, "e1"), msg("message.expert", 61_000, "e1")];
        hold_counts(&mut batch, &mut held);
        assert!(batch.is_empty());
        // Added to the held counter of the same minute; the next minute is a counter of its own.
        let got: Vec<(i64, Option<i64>)> = held.iter().map(|e| (e.at, e.value)).collect();
        assert_eq!(got, vec![(1_000, Some(3)), (61_000, None)]);
    }

    #[test]
    fn few_counters_are_written_at_once_many_are_held_longer() {
        assert_eq!(counts_wait(1), FLUSH_EVERY);
        assert_eq!(counts_wait(FEW_COUNTERS - 1), FLUSH_EVERY);
        assert_eq!(counts_wait(FEW_COUNTERS), COUNTS_EVERY);
        assert!(COUNTS_EVERY > FLUSH_EVERY);
    }
}
