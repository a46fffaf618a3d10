//! Messages: who writes them, the stored record, read marks, and the reads behind sync,
//! gap filling and offers. Storing them is `append.rs`.

use super::super::sqlite_writer::Param;
use super::super::tx::{sqlx_rows, Cols, FromCols};
use super::super::{Db, Result, Tenant};
use crate::ids::{ConversationId, MessageId};

/// Who is writing a message; the storage checks they may write into the conversation.
#[derive(Debug, Clone)]
pub enum Sender {
    Shopper(String),
    Expert { id: String, name: String },
    System,
}

impl Sender {
    pub fn role(&self) -> &'static str {
        match self {
            Sender::Shopper(_) => "shopper",
            Sender::Expert { .. } => "expert",
            Sender::System => "system",
        }
    }

    pub fn expert_id(&self) -> Option<&str> {
        match self {
            Sender::Expert { id, .. } => Some(id),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub merchant_id: String,
    pub conversation_id: ConversationId,
    pub client_msg_id: Option<String>,
    pub sender: Sender,
    pub kind: &'static str,
    pub body: String,
    pub data_json: Option<String>,
}

impl NewMessage {
    /// The message as stored with `seq` and `id` at `sent_at`.
    pub(super) fn stored(&self, seq: i64, id: MessageId, sent_at: i64) -> StoredMessage {
        let (expert_id, expert_name) = match &self.sender {
            Sender::Expert { id, name } => (Some(id.clone()), Some(name.clone())),
            _ => (None, None),
        };
        StoredMessage {
            conversation_id: self.conversation_id.clone(),
            seq,
            id,
            client_msg_id: self.client_msg_id.clone(),
            author_role: self.sender.role().to_owned(),
            expert_id,
            expert_name,
            kind: self.kind.to_owned(),
            body: self.body.clone(),
            data_json: self.data_json.clone(),
            created_at: sent_at,
        }
    }
}

#[derive(Debug, Clone)]
pub enum AppendOutcome {
    Stored(StoredMessage),
    /// The same `client_msg_id` and body were stored before: acknowledge the original.
    Duplicate(StoredMessage),
    Conflict,
    NotFound,
    InvalidState(String),
}

/// How far one side of a conversation has read.
#[derive(Debug, Clone)]
pub struct ReadMark {
    pub merchant_id: String,
    pub conversation_id: ConversationId,
    pub role: &'static str,
    pub seq: i64,
}

/// A stored message as the database holds it (the wire's `MessageView` of it is built in
/// `hub::views`). `expert_name` is the author's name (experts only), `created_at` when it was
/// stored: its `sent_at`.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub id: MessageId,
    pub client_msg_id: Option<String>,
    pub author_role: String,
    pub expert_id: Option<String>,
    pub expert_name: Option<String>,
    pub kind: String,
    pub body: String,
    pub data_json: Option<String>,
    pub created_at: i64,
}

pub(super) const MSG_SELECT: &str =
    "SELECT m.conversation_id, m.seq, m.id, m.client_msg_id, m.author_role, m.expert_id, e.name AS expert_name, \
    m.kind, m.body, m.data_json, m.created_at FROM messages m LEFT JOIN experts e ON e.id = m.expert_id";

impl FromCols for StoredMessage {
    /// A row of `MSG_SELECT`, by column position.
    fn from_cols(r: &impl Cols) -> Result<StoredMessage> {
        Ok(StoredMessage {
            conversation_id: r.col(0)?,
            seq: r.col(1)?,
            id: r.col(2)?,
            client_msg_id: r.col(3)?,
            author_role: r.col(4)?,
            expert_id: r.col(5)?,
            expert_name: r.col(6)?,
            kind: r.col(7)?,
            body: r.col(8)?,
            data_json: r.col(9)?,
            created_at: r.col(10)?,
        })
    }
}

impl Db {
    /// Store read marks (`role` is "shopper" or "expert"); a mark never moves back and never past
    /// the last message.
    pub async fn set_reads(&self, marks: &[ReadMark]) -> Result<()> {
        let update = |r: &ReadMark| {
            let col = if r.role == "shopper" {
                "shopper_read_seq"
            } else {
                "expert_read_seq"
            };
            let sql = format!("UPDATE conversations SET {col} = $1 WHERE merchant_id = $2 AND id = $3 AND {col} < $1 AND last_seq >= $1");
            (
                sql,
                vec![Param::Int(r.seq), Param::text(&r.merchant_id), Param::text(&r.conversation_id)],
            )
        };
        // A few dozen at a time: a mark only ever moves forward, so a chunk stored before a
        // later one failed is simply stored again by the retry. In id order: ids are time-ordered
        // (UUIDv7) like the rows on disk, so each chunk touches a few pages, not one per mark.
        // (PostgreSQL has no single writer to keep free: one transaction for them all.)
        let mut marks: Vec<&ReadMark> = marks.iter().collect();
        marks.sort_unstable_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
        for chunk in marks.chunks(if self.fast.is_some() { 32 } else { marks.len().max(1) }) {
            self.write_later(chunk.iter().map(|r| update(r)).collect()).await?;
        }
        Ok(())
    }

    /// (id, merchant, last_seq) of these conversations (any merchant: for the hub's catch-up).
    pub async fn last_seqs(&self, ids: &[ConversationId]) -> Result<Vec<(ConversationId, String, i64)>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT id, merchant_id, last_seq FROM conversations WHERE id IN ({})",
            super::super::placeholders(ids.len(), 1)
        );
        let mut q = sqlx::query_as::<_, (ConversationId, String, i64)>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// Messages after `after_seq`, in order, at most `limit`.
    pub async fn messages_after(
        &self,
        m: Tenant<'_>,
        conversation: &ConversationId,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredMessage>> {
        let sql = format!("{MSG_SELECT} WHERE m.merchant_id = $1 AND m.conversation_id = $2 AND m.seq > $3 ORDER BY m.seq LIMIT $4");
        let params = [
            Param::text(m.as_str()),
            Param::text(conversation),
            Param::Int(after_seq),
            Param::Int(limit),
        ];
        sqlx_rows(&self.pool, &sql, &params).await
    }

    pub async fn first_message(&self, conversation: &ConversationId) -> Result<Option<String>> {
        let rows: Vec<(String,)> = self
            .hot_rows(
                "SELECT body FROM messages WHERE conversation_id = $1 AND author_role = 'shopper' ORDER BY seq LIMIT 1",
                &[Param::text(conversation)],
            )
            .await?;
        Ok(rows.into_iter().next().map(|r| r.0))
    }
}
