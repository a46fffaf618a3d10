//! Analytics events, off the message path: the hub `try_send`s into a bounded channel and a
//! worker writes batches. A full channel drops the event (counted in
//! `floorwalker_events_dropped_total`); a message never waits for analytics.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::storage::{Db, Event};

#[derive(Clone)]
pub struct Emitter {
    tx: mpsc::Sender<Event>,
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
        }
    });
    (Emitter { tx }, handle)
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
