//! Photos and video calls in the chat (issue 24 part 2): what the message writer checks for an
//! `attachment` message inside its transaction, the orphan photos nobody sent, and the rows
//! that record video calls (the signalling itself is never stored).

use super::sqlite_writer::Param;
use super::tx::{Cols, FromCols};
use super::{AttachmentRow, Db, Result};
use crate::ids::ConversationId;

const DAY_MS: i64 = 86_400_000;

/// A photo as the message writer checks it.
#[derive(Debug, Clone)]
pub struct AttachedRow {
    pub id: String,
    pub merchant_id: String,
    pub conversation_id: ConversationId,
    pub uploader_role: String,
    pub uploader_id: String,
    pub status: String,
    pub mime: String,
    pub width: i64,
    pub height: i64,
    pub thumb_width: i64,
    pub thumb_height: i64,
}

const ATTACHED_COLS: &str =
    "id, merchant_id, conversation_id, uploader_role, uploader_id, status, mime, width, height, thumb_width, thumb_height";

impl FromCols for AttachedRow {
    fn from_cols(r: &impl Cols) -> Result<AttachedRow> {
        Ok(AttachedRow {
            id: r.col(0)?,
            merchant_id: r.col(1)?,
            conversation_id: r.col(2)?,
            uploader_role: r.col(3)?,
            uploader_id: r.col(4)?,
            status: r.col(5)?,
            mime: r.col(6)?,
            width: r.col(7)?,
            height: r.col(8)?,
            thumb_width: r.col(9)?,
            thumb_height: r.col(10)?,
        })
    }
}

/// The photo an `attachment` message names (its `data_json` is `{"attachment_id": …}` as
/// handed to the writer, and the full data once stored).
pub fn attachment_ref(kind: &str, data_json: Option<&str>) -> Option<String> {
    if kind != "attachment" {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(data_json?).ok()?;
    v.get("attachment_id")?.as_str().map(str::to_owned)
}

/// The stored data of an `attachment` message, when its photo is stored, belongs to the
/// message's merchant and conversation and was uploaded by its sender; `None` otherwise.
pub(crate) fn attachment_data(m: &super::NewMessage, attached: &std::collections::HashMap<String, AttachedRow>) -> Option<String> {
    let id = attachment_ref(m.kind, m.data_json.as_deref())?;
    let a = attached.get(&id)?;
    let uploader = match &m.sender {
        super::Sender::Shopper(s) => s.as_str(),
        super::Sender::Expert { id, .. } => id.as_str(),
        super::Sender::System => return None,
    };
    let ok = a.status == "stored"
        && a.merchant_id == m.merchant_id
        && a.conversation_id == m.conversation_id
        && a.uploader_role == m.sender.role()
        && a.uploader_id == uploader;
    ok.then(|| {
        serde_json::json!({
            "attachment_id": a.id,
            "mime": a.mime,
            "width": a.width,
            "height": a.height,
            "thumb_width": a.thumb_width,
            "thumb_height": a.thumb_height,
        })
        .to_string()
    })
}

pub(crate) fn attachments_sql(ids: &[String]) -> Vec<(String, Vec<Param>)> {
    ids.chunks(400)
        .map(|chunk| {
            (
                format!(
                    "SELECT {ATTACHED_COLS} FROM attachments WHERE id IN ({})",
                    super::placeholders(chunk.len(), 1)
                ),
                chunk.iter().map(|id| Param::text(id)).collect(),
            )
        })
        .collect()
}

pub(crate) fn sent_sql(ids: &[String], now: i64) -> Vec<(String, Vec<Param>)> {
    ids.chunks(400)
        .map(|chunk| {
            let mut params = vec![Param::Int(now)];
            params.extend(chunk.iter().map(|id| Param::text(id)));
            (
                format!(
                    "UPDATE attachments SET sent_at = $1 WHERE sent_at IS NULL AND id IN ({})",
                    super::placeholders(chunk.len(), 2)
                ),
                params,
            )
        })
        .collect()
}

/// A video call as recorded.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CallRow {
    pub conversation_id: ConversationId,
    pub call_id: String,
    pub merchant_id: String,
    pub expert_id: String,
    pub offered_at: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub end_reason: Option<String>,
    pub touched_at: i64,
}

const CALL_COLS: &str =
    "conversation_id, call_id, merchant_id, expert_id, offered_at, started_at, ended_at, duration_ms, end_reason, touched_at";

impl Db {
    /// Stored photos never sent in a message, uploaded before `before`.
    pub async fn unsent_attachments(&self, before: i64, limit: i64) -> Result<Vec<AttachmentRow>> {
        let cols = super::attachments::COLS;
        Ok(sqlx::query_as(&format!(
            "SELECT {cols} FROM attachments WHERE status = 'stored' AND sent_at IS NULL AND created_at < $1 ORDER BY created_at LIMIT $2"
        ))
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Mark a stored photo nobody sent as removed (`unsent`), and count it, in one commit;
    /// false when it was sent (or removed) meanwhile. The caller deletes its files after.
    pub async fn mark_unsent_removed(&self, row: &AttachmentRow, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE attachments SET status = 'removed', removed_at = $1, removed_reason = 'unsent' \
             WHERE id = $2 AND status = 'stored' AND sent_at IS NULL",
        )
        .bind(now)
        .bind(&row.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            super::attachments::insert_event(&mut tx, &row.merchant_id, "photo_removed", &row.id, now).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Whether photo `id` was sent in a message.
    pub async fn attachment_sent_at(&self, id: &str) -> Result<Option<i64>> {
        let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT sent_at FROM attachments WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| r.0))
    }

    /// Record an offer of a call (or see the one recorded). Returns the row and whether it is
    /// new.
    pub async fn offer_call(
        &self,
        merchant: &str,
        conversation: &ConversationId,
        call_id: &str,
        expert: &str,
        now: i64,
    ) -> Result<(CallRow, bool)> {
        let n = sqlx::query(
            "INSERT INTO calls (conversation_id, call_id, merchant_id, expert_id, offered_at, touched_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (conversation_id, call_id) DO NOTHING",
        )
        .bind(conversation)
        .bind(call_id)
        .bind(merchant)
        .bind(expert)
        .bind(now)
        .execute(&self.writer)
        .await?
        .rows_affected();
        let row = self.call(conversation, call_id).await?.ok_or(super::StorageError::NotFound)?;
        Ok((row, n == 1))
    }

    pub async fn call(&self, conversation: &ConversationId, call_id: &str) -> Result<Option<CallRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {CALL_COLS} FROM calls WHERE conversation_id = $1 AND call_id = $2"
        ))
        .bind(conversation)
        .bind(call_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The newest call of a conversation.
    pub async fn latest_call(&self, conversation: &ConversationId) -> Result<Option<CallRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {CALL_COLS} FROM calls WHERE conversation_id = $1 ORDER BY offered_at DESC, call_id LIMIT 1"
        ))
        .bind(conversation)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Calls of a conversation not ended yet.
    pub async fn open_calls(&self, conversation: &ConversationId) -> Result<Vec<CallRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {CALL_COLS} FROM calls WHERE conversation_id = $1 AND ended_at IS NULL ORDER BY offered_at"
        ))
        .bind(conversation)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The first answer passed: the call has started. True only for the one call that set it.
    pub async fn start_call(&self, conversation: &ConversationId, call_id: &str, now: i64) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE calls SET started_at = $1, touched_at = $1 WHERE conversation_id = $2 AND call_id = $3 \
             AND started_at IS NULL AND ended_at IS NULL",
        )
        .bind(now)
        .bind(conversation)
        .bind(call_id)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// A signal of a running call passed (a resume after a drop keeps it alive).
    pub async fn touch_call(&self, conversation: &ConversationId, call_id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE calls SET touched_at = $1 WHERE conversation_id = $2 AND call_id = $3 AND ended_at IS NULL")
            .bind(now)
            .bind(conversation)
            .bind(call_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// End a call once (whichever node and side gets here first); the ended row when this call
    /// ended it, `None` when it had ended already. With `untouched_since`, only if no signal
    /// passed after that time (a drop nobody resumed).
    pub async fn end_call(
        &self,
        conversation: &ConversationId,
        call_id: &str,
        reason: &str,
        now: i64,
        untouched_since: Option<i64>,
    ) -> Result<Option<CallRow>> {
        let n = sqlx::query(
            "UPDATE calls SET ended_at = $1, end_reason = $2, \
             duration_ms = CASE WHEN started_at IS NULL THEN NULL ELSE $1 - started_at END \
             WHERE conversation_id = $3 AND call_id = $4 AND ended_at IS NULL AND touched_at <= $5",
        )
        .bind(now)
        .bind(reason)
        .bind(conversation)
        .bind(call_id)
        .bind(untouched_since.unwrap_or(i64::MAX))
        .execute(&self.writer)
        .await?
        .rows_affected();
        if n == 1 {
            self.call(conversation, call_id).await
        } else {
            Ok(None)
        }
    }
}

/// How long a stored photo may wait to be sent in a message before it is deleted.
pub const UNSENT_AFTER_MS: i64 = DAY_MS;
