//! Read receipts not stored yet: (conversation, role) → (merchant, seq). Stored a few times a
//! second in one transaction; with one write per receipt, clients that acknowledge every
//! message (as the widget and store app do) doubled the writes on SQLite's one writer.

use crate::ids::ConversationId;
use std::time::Duration;

use dashmap::DashMap;

use super::Hub;

#[derive(Default)]
pub struct Receipts {
    reads: DashMap<(ConversationId, &'static str), (String, i64)>,
}

impl Receipts {
    /// Note that `role` has read `conversation` up to `seq` (a later receipt of it wins).
    pub fn note(&self, merchant: &str, conversation: &ConversationId, role: &'static str, seq: i64) {
        self.reads
            .entry((conversation.to_owned(), role))
            .and_modify(|v| v.1 = v.1.max(seq))
            .or_insert_with(|| (merchant.to_owned(), seq));
    }

    /// Take every receipt noted so far.
    fn take(&self) -> Vec<crate::storage::ReadMark> {
        let keys: Vec<(ConversationId, &'static str)> = self.reads.iter().map(|e| e.key().clone()).collect();
        keys.into_iter()
            .filter_map(|k| self.reads.remove(&k))
            .map(|((conversation_id, role), (merchant_id, seq))| crate::storage::ReadMark {
                merchant_id,
                conversation_id,
                role,
                seq,
            })
            .collect()
    }
}

impl Hub {
    /// Note that `role` has read `conversation` up to `seq` (stored within a moment).
    pub fn note_read(&self, merchant: &str, conversation: &ConversationId, role: &'static str, seq: i64) {
        self.receipts.note(merchant, conversation, role, seq);
    }

    async fn store_reads(&self) {
        let marks = self.receipts.take();
        if let Err(e) = self.db.set_reads(&marks).await {
            // Kept for the next round (a newer receipt of the same chat wins).
            tracing::warn!(error = %e, n = marks.len(), "storing read receipts failed; will retry");
            for r in marks {
                self.receipts.note(&r.merchant_id, &r.conversation_id, r.role, r.seq);
            }
        }
    }

    pub(super) async fn store_reads_forever(self) {
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
}
