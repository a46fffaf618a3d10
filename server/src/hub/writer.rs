//! The message writer: the only place messages are stored.
//!
//! Sessions hand messages over with a reply channel. The writer takes everything waiting
//! (up to a batch limit), stores it in one transaction, then — in sequence order — fans each
//! stored message out to the conversation's sockets on this node and only then answers the
//! sessions, which send the `ack`. So an ack always means stored, and every viewer on a node
//! sees a conversation's messages in the order the database numbered them. The fan-out of one
//! batch runs while the next batch is stored (a second task, fed in order), so the database
//! does not wait for the fan-out.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::Hub;
use crate::storage::{AppendOutcome, Event, NewMessage};

pub const MAX_BATCH: usize = 256;

pub struct WriteJob {
    pub msg: NewMessage,
    /// The socket that sent it: it gets the `ack`, not the `message`.
    pub from_conn: Option<u64>,
    pub reply: Reply,
    /// When the session handed it over (for the queue-wait metric).
    pub queued: std::time::Instant,
}

/// Why a message was not stored. Nothing was acknowledged: the client sends it again with the
/// same `client_msg_id` (the socket's answer is `unavailable`; the cause is logged).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreFailed {
    #[error("the message writer has stopped (shutting down)")]
    WriterGone,
    #[error("the writer did not answer within {0:?}")]
    TimedOut(std::time::Duration),
    #[error("the database refused the batch: {0}")]
    Storage(std::sync::Arc<str>),
}

/// Who hears how a message's store went.
pub enum Reply {
    /// A caller waiting for the outcome.
    Wait(oneshot::Sender<Result<AppendOutcome, StoreFailed>>),
    /// The sender's socket, which is answered here (`ack` or error) so its session can read its
    /// next frame meanwhile: an expert's answer in one chat does not wait for the commit of their
    /// answer in another. Its messages still reach the database in the order they were sent.
    Answer(u64),
}

impl Reply {
    fn send(self, hub: &Hub, msg: &NewMessage, outcome: Result<AppendOutcome, StoreFailed>) {
        match self {
            Reply::Wait(tx) => {
                let _ = tx.send(outcome);
            }
            Reply::Answer(conn) => super::replies::answer_store(
                hub,
                conn,
                &msg.conversation_id,
                msg.client_msg_id.as_deref().unwrap_or_default(),
                outcome,
            ),
        }
    }
}

/// Stores batches and hands each stored batch to [`deliver`], which fans it out and answers
/// while the next batch is being stored: the database never waits for the fan-out. Deliveries
/// still happen one batch at a time, in the order the batches were stored, so per-conversation
/// order holds; and a batch is only handed over once it has committed, so an ack still means
/// stored.
pub async fn run(hub: Hub, mut rx: mpsc::Receiver<WriteJob>) {
    // At most one batch waits for delivery while the next one is stored.
    let (stored_tx, stored_rx) = mpsc::channel::<Stored>(1);
    let delivering = tokio::spawn(deliver(hub.clone(), stored_rx));
    let mut jobs: Vec<WriteJob> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        // Stable sort: per-conversation order is kept, and PostgreSQL row locks are always
        // taken in the same order, so writers on several nodes cannot deadlock.
        jobs.sort_by(|a, b| a.msg.conversation_id.cmp(&b.msg.conversation_id));
        let batch: Vec<NewMessage> = jobs.iter().map(|j| j.msg.clone()).collect();
        let started = std::time::Instant::now();
        if let Some(first) = jobs.iter().map(|j| j.queued).min() {
            metrics::histogram!("floorwalker_message_queue_seconds").record((started - first).as_secs_f64());
        }
        let size = batch.len();
        let result = hub.db.append_messages(batch).await;
        metrics::histogram!("floorwalker_message_batch_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("floorwalker_message_batch_size").record(size as f64);
        let failed = result.is_err();
        let (done_tx, done_rx) = oneshot::channel();
        if stored_tx
            .send(Stored {
                jobs: std::mem::replace(&mut jobs, Vec::with_capacity(MAX_BATCH)),
                result,
                done: done_tx,
            })
            .await
            .is_err()
        {
            break;
        }
        if failed {
            // Every sender has its error before the next try; and do not spin against a
            // database that is down.
            let _ = done_rx.await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    drop(stored_tx);
    let _ = delivering.await;
}

/// A batch as the database answered it, on its way to [`deliver`].
struct Stored {
    jobs: Vec<WriteJob>,
    result: crate::storage::Result<crate::storage::Appended>,
    /// Told once the batch is delivered and answered.
    done: oneshot::Sender<()>,
}

/// Fan each stored batch out to the conversations' sockets, in order, then answer its senders.
async fn deliver(hub: Hub, mut rx: mpsc::Receiver<Stored>) {
    while let Some(Stored { mut jobs, result, done }) = rx.recv().await {
        match result {
            Ok(done) => {
                for (i, ms) in done.first_responses {
                    let j = &jobs[i];
                    hub.analytics.emit(Event {
                        merchant_id: j.msg.merchant_id.clone(),
                        kind: "first_response",
                        at: crate::now_ms(),
                        conversation_id: Some(j.msg.conversation_id.clone()),
                        value: Some(ms),
                        ..Default::default()
                    });
                }
                for ((job, outcome), (store, department)) in jobs.drain(..).zip(done.outcomes).zip(done.places) {
                    if let AppendOutcome::Stored(m) = &outcome {
                        hub.deliver_message(&job.msg.merchant_id, m.clone().view(), job.from_conn).await;
                        let kind = match m.author_role.as_str() {
                            "shopper" => Some("message.shopper"),
                            "expert" => Some("message.expert"),
                            _ => None,
                        };
                        if let Some(kind) = kind {
                            // Store and department set, no conversation: the emitter folds these
                            // into one counted event per place and minute.
                            hub.analytics.emit(Event {
                                merchant_id: job.msg.merchant_id.clone(),
                                kind,
                                at: m.created_at,
                                store_id: Some(store),
                                department_id: Some(department),
                                expert_id: Some(m.expert_id.clone().unwrap_or_default()),
                                ..Default::default()
                            });
                        }
                    }
                    job.reply.send(&hub, &job.msg, Ok(outcome));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, n = jobs.len(), "storing messages failed; none acknowledged");
                metrics::counter!("floorwalker_message_store_failures_total").increment(jobs.len() as u64);
                let cause = StoreFailed::Storage(e.to_string().into());
                for job in jobs.drain(..) {
                    job.reply.send(&hub, &job.msg, Err(cause.clone()));
                }
            }
        }
        let _ = done.send(());
    }
}
