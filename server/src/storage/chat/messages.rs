//! Messages: who writes them, how a stored one reads, read marks, and the reads behind sync,
//! gap filling and offers. Storing them is `append.rs`.

use super::super::sqlite_writer::Param;
use super::super::tx::{sqlx_rows, Cols, FromCols};
use super::super::{Db, Result, Tenant};
use crate::protocol::{Author, MessageView, Product};

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
    pub conversation_id: String,
    pub client_msg_id: Option<String>,
    pub sender: Sender,
    pub kind: &'static str,
    pub body: String,
    pub data_json: Option<String>,
}

/// A message's product (kind "product") or system data (kind "system") from its stored JSON.
pub(super) fn payload(kind: &str, data_json: Option<&str>) -> (Option<Product>, Option<serde_json::Value>) {
    let data: Option<serde_json::Value> = data_json.and_then(|d| serde_json::from_str(d).ok());
    match kind {
        "product" => (data.and_then(|d| serde_json::from_value(d).ok()), None),
        "system" | "cart" => (None, data),
        // A photo: {attachment_id, mime, width, height, thumb_width, thumb_height} (issue 24).
        "attachment" => (None, data),
        _ => (None, None),
    }
}

impl NewMessage {
    /// How this message reads once stored as `seq` with `id` at `sent_at`.
    pub(super) fn view(&self, seq: i64, id: String, sent_at: i64) -> MessageView {
        let (product, data) = payload(self.kind, self.data_json.as_deref());
        MessageView {
            conversation_id: self.conversation_id.clone(),
            seq,
            id,
            author: Author {
                role: self.sender.role().into(),
                name: match &self.sender {
                    Sender::Expert { name, .. } => Some(name.clone()),
                    _ => None,
                },
                expert_id: self.sender.expert_id().map(str::to_owned),
            },
            kind: self.kind.into(),
            body: self.body.clone(),
            product,
            data,
            client_msg_id: self.client_msg_id.clone(),
            sent_at,
        }
    }
}

#[derive(Debug, Clone)]
pub enum AppendOutcome {
    Stored(MessageView),
    /// The same `client_msg_id` and body were stored before: acknowledge the original.
    Duplicate(MessageView),
    Conflict,
    NotFound,
    InvalidState(String),
}

/// How far one side of a conversation has read.
#[derive(Debug, Clone)]
pub struct ReadMark {
    pub merchant_id: String,
    pub conversation_id: String,
    pub role: &'static str,
    pub seq: i64,
}

#[derive(Clone)]
pub(super) struct MessageRow {
    pub(super) conversation_id: String,
    pub(super) seq: i64,
    pub(super) id: String,
    pub(super) client_msg_id: Option<String>,
    pub(super) author_role: String,
    pub(super) expert_id: Option<String>,
    pub(super) expert_name: Option<String>,
    pub(super) kind: String,
    pub(super) body: String,
    pub(super) data_json: Option<String>,
    pub(super) created_at: i64,
}

impl MessageRow {
    pub(super) fn view(self) -> MessageView {
        let (product, data) = payload(&self.kind, self.data_json.as_deref());
        MessageView {
            conversation_id: self.conversation_id,
            seq: self.seq,
            id: self.id,
            author: Author {
                role: self.author_role,
                name: self.expert_name,
                expert_id: self.expert_id,
            },
            kind: self.kind,
            body: self.body,
            product,
            data,
            client_msg_id: self.client_msg_id,
            sent_at: self.created_at,
        }
    }
}

pub(super) const MSG_SELECT: &str =
    "SELECT m.conversation_id, m.seq, m.id, m.client_msg_id, m.author_role, m.expert_id, e.name AS expert_name, \
    m.kind, m.body, m.data_json, m.created_at FROM messages m LEFT JOIN experts e ON e.id = m.expert_id";

impl FromCols for MessageRow {
    /// The same row read through rusqlite (columns in `MSG_SELECT` order).
    fn from_cols(r: &impl Cols) -> Result<MessageRow> {
        Ok(MessageRow {
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
    pub async fn last_seqs(&self, ids: &[String]) -> Result<Vec<(String, String, i64)>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT id, merchant_id, last_seq FROM conversations WHERE id IN ({})",
            super::super::placeholders(ids.len(), 1)
        );
        let mut q = sqlx::query_as::<_, (String, String, i64)>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// Messages after `after_seq`, in order, at most `limit`.
    pub async fn messages_after(&self, m: Tenant<'_>, conversation: &str, after_seq: i64, limit: i64) -> Result<Vec<MessageView>> {
        let sql = format!("{MSG_SELECT} WHERE m.merchant_id = $1 AND m.conversation_id = $2 AND m.seq > $3 ORDER BY m.seq LIMIT $4");
        let params = [
            Param::text(m.as_str()),
            Param::text(conversation),
            Param::Int(after_seq),
            Param::Int(limit),
        ];
        let rows: Vec<MessageRow> = sqlx_rows(&self.pool, &sql, &params).await?;
        Ok(rows.into_iter().map(MessageRow::view).collect())
    }

    pub async fn first_message(&self, conversation: &str) -> Result<Option<String>> {
        let rows: Vec<(String,)> = self
            .hot_rows(
                "SELECT body FROM messages WHERE conversation_id = $1 AND author_role = 'shopper' ORDER BY seq LIMIT 1",
                &[Param::text(conversation)],
            )
            .await?;
        Ok(rows.into_iter().next().map(|r| r.0))
    }
}
