//! Conversations, messages, contacts and events: the chat hub's durable state.
//!
//! The database is the source of truth. The two operations that must be exactly-once are
//! single statements here: a claim is one conditional UPDATE, and a message's sequence number
//! is taken by incrementing the conversation's `last_seq` in the same transaction that stores
//! the message (which also serialises concurrent writers of one conversation on PostgreSQL).

use serde::{Deserialize, Serialize};

use super::{Db, Result, StorageError, Tenant};
use crate::ids::{ExpertId, MerchantId, ShopperId};
use crate::now_ms;
use crate::protocol::{Author, ConversationView, MessageView, NamedRef, Product, Rating, ShopperRef};

pub const WAITING: [&str; 2] = ["queued", "offered"];

/// A conversation row with the names its views need.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationRow {
    pub id: String,
    pub merchant_id: String,
    pub shopper_id: String,
    pub shopper_name: Option<String>,
    pub store_id: String,
    pub store_name: String,
    pub department_id: String,
    pub department_name: String,
    pub status: String,
    pub expert_id: Option<String>,
    pub expert_name: Option<String>,
    pub contact_expert_id: Option<String>,
    pub target_expert_id: Option<String>,
    pub offline: i64,
    pub page_url: Option<String>,
    pub product_json: Option<String>,
    pub transfer_note: Option<String>,
    pub last_seq: i64,
    pub shopper_read_seq: i64,
    pub expert_read_seq: i64,
    pub rating: Option<i64>,
    pub rating_comment: Option<String>,
    pub created_at: i64,
    pub queued_at: i64,
    pub claimed_at: Option<i64>,
    pub first_response_at: Option<i64>,
    pub last_expert_msg_at: Option<i64>,
    pub ended_at: Option<i64>,
}

pub(crate) const CONV_SELECT: &str = "SELECT c.id, c.merchant_id, c.shopper_id, sh.name AS shopper_name, c.store_id, \
    COALESCE(s.name, '') AS store_name, c.department_id, COALESCE(d.name, '') AS department_name, c.status, c.expert_id, \
    e.name AS expert_name, c.contact_expert_id, c.target_expert_id, c.offline, c.page_url, c.product_json, c.transfer_note, \
    c.last_seq, c.shopper_read_seq, c.expert_read_seq, c.rating, c.rating_comment, c.created_at, c.queued_at, c.claimed_at, \
    c.first_response_at, c.last_expert_msg_at, c.ended_at \
    FROM conversations c \
    LEFT JOIN stores s ON s.id = c.store_id \
    LEFT JOIN departments d ON d.id = c.department_id \
    LEFT JOIN experts e ON e.id = c.expert_id \
    LEFT JOIN shoppers sh ON sh.id = c.shopper_id";

impl ConversationRow {
    pub fn product(&self) -> Option<Product> {
        self.product_json.as_deref().and_then(|p| serde_json::from_str(p).ok())
    }
    pub fn is_waiting(&self) -> bool {
        WAITING.contains(&self.status.as_str())
    }
    pub fn view(&self) -> ConversationView {
        ConversationView {
            id: self.id.clone(),
            status: self.status.clone(),
            store: NamedRef {
                id: self.store_id.clone(),
                name: self.store_name.clone(),
            },
            department: NamedRef {
                id: self.department_id.clone(),
                name: self.department_name.clone(),
            },
            expert: match (&self.expert_id, &self.expert_name) {
                (Some(id), Some(name)) => Some(NamedRef {
                    id: id.clone(),
                    name: name.clone(),
                }),
                _ => None,
            },
            shopper: ShopperRef {
                id: self.shopper_id.clone(),
                name: self.shopper_name.clone(),
            },
            created_at: self.created_at,
            claimed_at: self.claimed_at,
            ended_at: self.ended_at,
            last_seq: self.last_seq,
            page_url: self.page_url.clone(),
            product: self.product(),
            offline: self.offline != 0,
            rating: self.rating.map(|score| Rating {
                score,
                comment: self.rating_comment.clone(),
            }),
            shopper_read_seq: self.shopper_read_seq,
            expert_read_seq: self.expert_read_seq,
        }
    }
}

pub struct NewConversation<'a> {
    pub merchant_id: &'a MerchantId,
    pub shopper_id: &'a ShopperId,
    pub store_id: &'a str,
    pub department_id: &'a str,
    pub contact_expert_id: Option<&'a str>,
    pub offline: Option<(&'a str, Option<&'a str>)>,
    pub page_url: Option<&'a str>,
    pub page_title: Option<&'a str>,
    pub product: Option<&'a Product>,
}

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

/// What one `append_messages` call did.
#[derive(Debug, Default)]
pub struct Appended {
    /// One per input message, in input order.
    pub outcomes: Vec<AppendOutcome>,
    /// Expert messages that were their conversation's first answer: (input index, ms since
    /// the claim), for the first-response analytics.
    pub first_responses: Vec<(usize, i64)>,
    /// (store, department) of each input message's conversation ('' when not stored), so
    /// message counts can be rolled up without a lookup per message.
    pub places: Vec<(String, String)>,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    conversation_id: String,
    seq: i64,
    id: String,
    client_msg_id: Option<String>,
    author_role: String,
    expert_id: Option<String>,
    expert_name: Option<String>,
    kind: String,
    body: String,
    data_json: Option<String>,
    created_at: i64,
}

impl MessageRow {
    fn view(self) -> MessageView {
        let data: Option<serde_json::Value> = self.data_json.as_deref().and_then(|d| serde_json::from_str(d).ok());
        let product = if self.kind == "product" {
            data.clone().and_then(|d| serde_json::from_value(d).ok())
        } else {
            None
        };
        MessageView {
            conversation_id: self.conversation_id,
            seq: self.seq,
            id: self.id,
            author: Author {
                role: self.author_role,
                name: self.expert_name,
                expert_id: self.expert_id,
            },
            kind: self.kind.clone(),
            body: self.body,
            product,
            data: if self.kind == "system" { data } else { None },
            client_msg_id: self.client_msg_id,
            sent_at: self.created_at,
        }
    }
}

const MSG_SELECT: &str = "SELECT m.conversation_id, m.seq, m.id, m.client_msg_id, m.author_role, m.expert_id, e.name AS expert_name, \
    m.kind, m.body, m.data_json, m.created_at FROM messages m LEFT JOIN experts e ON e.id = m.expert_id";

/// An analytics fact (see PRODUCT.md "Event").
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Event {
    pub merchant_id: String,
    pub kind: &'static str,
    pub at: i64,
    pub shopper_id: Option<String>,
    pub store_id: Option<String>,
    pub department_id: Option<String>,
    pub expert_id: Option<String>,
    pub conversation_id: Option<String>,
    pub value: Option<i64>,
    pub data_json: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub shopper_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub last_chat_at: i64,
    pub conversations: i64,
}

impl Db {
    /// A cluster-wide secret, created by whichever node asks first.
    pub async fn server_key(&self, name: &str) -> Result<String> {
        let fresh = crate::auth::new_token("");
        sqlx::query("INSERT INTO server_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(&fresh)
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        let (v,): (String,) = sqlx::query_as("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(v)
    }

    pub async fn identity_secret(&self, m: Tenant<'_>) -> Result<String> {
        let row: Option<(String,)> = sqlx::query_as("SELECT identity_secret FROM merchants WHERE id = $1")
            .bind(m.as_str())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some((s,)) if !s.is_empty() => Ok(s),
            Some(_) => {
                let s = crate::auth::new_token("fwi_");
                sqlx::query("UPDATE merchants SET identity_secret = $1 WHERE id = $2 AND identity_secret = ''")
                    .bind(&s)
                    .bind(m.as_str())
                    .execute(&self.writer)
                    .await?;
                Box::pin(self.identity_secret(m)).await
            }
            None => Err(StorageError::NotFound),
        }
    }

    pub async fn rotate_identity_secret(&self, m: Tenant<'_>) -> Result<String> {
        let s = crate::auth::new_token("fwi_");
        let done = sqlx::query("UPDATE merchants SET identity_secret = $1 WHERE id = $2")
            .bind(&s)
            .bind(m.as_str())
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(s)
    }

    pub async fn shopper_exists(&self, m: Tenant<'_>, id: &str) -> Result<bool> {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM shoppers WHERE merchant_id = $1 AND id = $2")
            .bind(m.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    pub async fn create_conversation(&self, c: &NewConversation<'_>) -> Result<ConversationRow> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO conversations (id, merchant_id, shopper_id, store_id, department_id, status, contact_expert_id, offline, \
             offline_email, offline_name, page_url, page_title, product_json, created_at, queued_at) \
             VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, $10, $11, $12, $13, $13)",
        )
        .bind(&id)
        .bind(c.merchant_id.as_str())
        .bind(c.shopper_id.as_str())
        .bind(c.store_id)
        .bind(c.department_id)
        .bind(c.contact_expert_id)
        .bind(i64::from(c.offline.is_some()))
        .bind(c.offline.map(|o| o.0))
        .bind(c.offline.and_then(|o| o.1))
        .bind(c.page_url)
        .bind(c.page_title)
        .bind(c.product.map(|p| serde_json::to_string(p).expect("product")))
        .bind(now)
        .execute(&self.writer)
        .await?;
        self.conversation(c.merchant_id, &id).await
    }

    pub async fn conversation(&self, m: Tenant<'_>, id: &str) -> Result<ConversationRow> {
        let sql = format!("{CONV_SELECT} WHERE c.merchant_id = $1 AND c.id = $2");
        sqlx::query_as::<_, ConversationRow>(&sql)
            .bind(m.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)
    }

    /// A shopper's open conversations and those ended in the last day, oldest first.
    pub async fn shopper_conversations(&self, m: Tenant<'_>, shopper: &str) -> Result<Vec<ConversationRow>> {
        let sql = format!(
            "{CONV_SELECT} WHERE c.merchant_id = $1 AND c.shopper_id = $2 AND (c.ended_at IS NULL OR c.ended_at > $3) ORDER BY c.created_at"
        );
        Ok(sqlx::query_as::<_, ConversationRow>(&sql)
            .bind(m.as_str())
            .bind(shopper)
            .bind(now_ms() - 24 * 3600 * 1000)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Every past and present conversation of a shopper, newest first.
    pub async fn shopper_history(&self, m: Tenant<'_>, shopper: &str, limit: i64) -> Result<Vec<ConversationRow>> {
        let sql = format!("{CONV_SELECT} WHERE c.merchant_id = $1 AND c.shopper_id = $2 ORDER BY c.created_at DESC LIMIT $3");
        Ok(sqlx::query_as::<_, ConversationRow>(&sql)
            .bind(m.as_str())
            .bind(shopper)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn expert_open_conversations(&self, m: Tenant<'_>, expert: &str) -> Result<Vec<ConversationRow>> {
        let sql = format!("{CONV_SELECT} WHERE c.merchant_id = $1 AND c.expert_id = $2 AND c.status = 'claimed' ORDER BY c.claimed_at");
        Ok(sqlx::query_as::<_, ConversationRow>(&sql)
            .bind(m.as_str())
            .bind(expert)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Waiting conversations of one merchant (or all when `m` is None), longest-waiting first.
    pub async fn waiting_conversations(&self, m: Option<&MerchantId>) -> Result<Vec<ConversationRow>> {
        self.waiting_conversations_limit(m, i64::MAX).await
    }

    /// The longest-waiting `limit` conversations.
    pub async fn waiting_conversations_limit(&self, m: Option<&MerchantId>, limit: i64) -> Result<Vec<ConversationRow>> {
        let sql = format!(
            "{CONV_SELECT} WHERE c.status IN ('queued', 'offered') AND ($1 = '' OR c.merchant_id = $1) ORDER BY c.queued_at, c.id LIMIT $2"
        );
        Ok(sqlx::query_as::<_, ConversationRow>(&sql)
            .bind(m.map(|m| m.as_str()).unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Claimed conversations whose expert has not written since `before` (for re-offering).
    pub async fn unanswered_claims(&self, claimed_before: i64) -> Result<Vec<ConversationRow>> {
        let sql = format!(
            "{CONV_SELECT} WHERE c.status = 'claimed' AND c.last_expert_msg_at IS NULL AND c.claimed_at < $1 ORDER BY c.claimed_at"
        );
        Ok(sqlx::query_as::<_, ConversationRow>(&sql)
            .bind(claimed_before)
            .fetch_all(&self.pool)
            .await?)
    }

    /// `queued` → `offered` for these conversations (those still queued), in one transaction.
    pub async fn mark_offered(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in ids.chunks(500) {
            let sql = format!(
                "UPDATE conversations SET status = 'offered', last_offer_at = $1 WHERE status = 'queued' AND id IN ({})",
                super::analytics::placeholders(chunk.len(), 2)
            );
            let mut q = sqlx::query(&sql).bind(now_ms());
            for id in chunk {
                q = q.bind(id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The claim: one conditional update, so exactly one expert wins on any number of nodes.
    /// The winner's shopper becomes their contact (or the last-chat time is refreshed) in the
    /// same transaction: one commit, not two.
    pub async fn claim(&self, m: Tenant<'_>, conversation: &str, expert: &ExpertId) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let won: Option<(String,)> = sqlx::query_as(
            "UPDATE conversations SET status = 'claimed', expert_id = $1, claimed_at = $2, last_expert_msg_at = NULL, target_expert_id = NULL \
             WHERE merchant_id = $3 AND id = $4 AND expert_id IS NULL AND status IN ('queued', 'offered') \
             AND (target_expert_id IS NULL OR target_expert_id = $1) RETURNING shopper_id",
        )
        .bind(expert.as_str())
        .bind(now)
        .bind(m.as_str())
        .bind(conversation)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((shopper,)) = won else {
            return Ok(false);
        };
        sqlx::query(
            "INSERT INTO contacts (merchant_id, expert_id, shopper_id, created_at, last_chat_at) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (expert_id, shopper_id) DO UPDATE SET last_chat_at = excluded.last_chat_at",
        )
        .bind(m.as_str())
        .bind(expert.as_str())
        .bind(shopper)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Put a claimed conversation whose expert never answered back in the queue.
    pub async fn unclaim_unanswered(&self, id: &str, expert: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE conversations SET status = 'queued', expert_id = NULL, queued_at = $1, claimed_at = NULL \
             WHERE id = $2 AND expert_id = $3 AND status = 'claimed' AND last_expert_msg_at IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .bind(expert)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// End a conversation: `ended` if it was claimed, `abandoned` if the shopper left while it
    /// waited. Returns the new status, or None if it had already finished.
    pub async fn finish(&self, m: Tenant<'_>, id: &str, by: &str) -> Result<Option<&'static str>> {
        let now = now_ms();
        let done = sqlx::query("UPDATE conversations SET status = 'ended', ended_at = $1, ended_by = $2 WHERE merchant_id = $3 AND id = $4 AND status = 'claimed'")
            .bind(now)
            .bind(by)
            .bind(m.as_str())
            .bind(id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 1 {
            return Ok(Some("ended"));
        }
        let done = sqlx::query(
            "UPDATE conversations SET status = 'abandoned', ended_at = $1, ended_by = $2 WHERE merchant_id = $3 AND id = $4 AND status IN ('queued', 'offered')",
        )
        .bind(now)
        .bind(by)
        .bind(m.as_str())
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok((done.rows_affected() == 1).then_some("abandoned"))
    }

    /// Mark a waiting, non-offline conversation missed if it has waited since before `cutoff`.
    pub async fn mark_missed(&self, id: &str, cutoff: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE conversations SET status = 'missed', ended_at = $1, ended_by = 'timeout' \
             WHERE id = $2 AND status IN ('queued', 'offered') AND offline = 0 AND queued_at < $3",
        )
        .bind(now_ms())
        .bind(id)
        .bind(cutoff)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Hand a claimed conversation back to the queue for another department or a named expert.
    pub async fn transfer(
        &self,
        m: Tenant<'_>,
        id: &str,
        from_expert: &str,
        store_id: &str,
        department_id: &str,
        target_expert: Option<&str>,
        note: Option<&str>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE conversations SET status = 'queued', expert_id = NULL, claimed_at = NULL, store_id = $1, department_id = $2, \
             target_expert_id = $3, transfer_note = $4, transfers = transfers + 1, queued_at = $5, contact_expert_id = NULL \
             WHERE merchant_id = $6 AND id = $7 AND expert_id = $8 AND status = 'claimed'",
        )
        .bind(store_id)
        .bind(department_id)
        .bind(target_expert)
        .bind(note)
        .bind(now_ms())
        .bind(m.as_str())
        .bind(id)
        .bind(from_expert)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn rate(&self, m: Tenant<'_>, id: &str, shopper: &str, score: i64, comment: Option<&str>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE conversations SET rating = $1, rating_comment = $2 WHERE merchant_id = $3 AND id = $4 AND shopper_id = $5 AND status = 'ended'",
        )
        .bind(score)
        .bind(comment)
        .bind(m.as_str())
        .bind(id)
        .bind(shopper)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Store read marks (`role` is "shopper" or "expert"), in one transaction; a mark never moves
    /// back and never past the last message.
    pub async fn set_reads(&self, marks: &[ReadMark]) -> Result<()> {
        if marks.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for r in marks {
            let col = if r.role == "shopper" {
                "shopper_read_seq"
            } else {
                "expert_read_seq"
            };
            let sql = format!("UPDATE conversations SET {col} = $1 WHERE merchant_id = $2 AND id = $3 AND {col} < $1 AND last_seq >= $1");
            sqlx::query(&sql)
                .bind(r.seq)
                .bind(&r.merchant_id)
                .bind(&r.conversation_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Store a batch of messages in one transaction. Each gets the next sequence number of its
    /// conversation; a repeated `client_msg_id` returns the original. Outcomes are in input order.
    /// If the transaction fails nothing is stored and the caller must not acknowledge anything.
    pub async fn append_messages(&self, batch: &[NewMessage]) -> Result<Appended> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let mut out = Vec::with_capacity(batch.len());
        let mut firsts = Vec::new();
        let mut places = Vec::with_capacity(batch.len());
        for m in batch {
            // Every path below pushes exactly one outcome; the place is filled in when stored.
            places.push((String::new(), String::new()));
            if let Some(cid) = &m.client_msg_id {
                let prev = sqlx::query_as::<_, MessageRow>(&format!("{MSG_SELECT} WHERE m.conversation_id = $1 AND m.client_msg_id = $2"))
                    .bind(&m.conversation_id)
                    .bind(cid)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(prev) = prev {
                    let same_author = prev.author_role == m.sender.role()
                        && match &m.sender {
                            Sender::Expert { id, .. } => prev.expert_id.as_deref() == Some(id.as_str()),
                            _ => true,
                        };
                    out.push(if same_author && prev.body == m.body {
                        AppendOutcome::Duplicate(prev.view())
                    } else {
                        AppendOutcome::Conflict
                    });
                    continue;
                }
            }
            // Take the next seq, checking in the same statement that this sender may write.
            let (cond, who) = match &m.sender {
                Sender::Shopper(s) => ("shopper_id = $4 AND status IN ('queued', 'offered', 'claimed')", s.as_str()),
                Sender::Expert { id, .. } => ("expert_id = $4 AND status = 'claimed'", id.as_str()),
                Sender::System => ("$4 = $4", ""),
            };
            let expert_stamp = if matches!(m.sender, Sender::Expert { .. }) {
                ", first_response_at = COALESCE(first_response_at, $1), last_expert_msg_at = $1"
            } else {
                ", first_response_at = first_response_at"
            };
            // RETURNING sees the new values: a first answer shows first_response_at = now.
            let sql = format!(
                "UPDATE conversations SET last_seq = last_seq + 1{expert_stamp} WHERE id = $2 AND merchant_id = $3 AND {cond} \
                 RETURNING last_seq, first_response_at, claimed_at, store_id, department_id"
            );
            let seq: Option<(i64, Option<i64>, Option<i64>, String, String)> = sqlx::query_as(&sql)
                .bind(now)
                .bind(&m.conversation_id)
                .bind(&m.merchant_id)
                .bind(who)
                .fetch_optional(&mut *tx)
                .await?;
            let Some((seq, first_at, claimed_at, store_id, department_id)) = seq else {
                let status: Option<(String,)> = sqlx::query_as("SELECT status FROM conversations WHERE id = $1 AND merchant_id = $2")
                    .bind(&m.conversation_id)
                    .bind(&m.merchant_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                out.push(match status {
                    None => AppendOutcome::NotFound,
                    Some((s,)) => AppendOutcome::InvalidState(format!("the conversation is {s}")),
                });
                continue;
            };
            if let (Sender::Expert { .. }, Some(first), Some(claimed)) = (&m.sender, first_at, claimed_at) {
                if first == now {
                    // Stamped by this statement, unless an expert message stored earlier in this
                    // same millisecond (this batch or the one before) did it.
                    let earlier: Option<(i64,)> = sqlx::query_as(
                        "SELECT seq FROM messages WHERE conversation_id = $1 AND author_role = 'expert' AND created_at = $2 LIMIT 1",
                    )
                    .bind(&m.conversation_id)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if earlier.is_none() {
                        firsts.push((out.len(), (now - claimed).max(0)));
                    }
                }
            }
            *places.last_mut().expect("pushed above") = (store_id, department_id);
            let id = uuid::Uuid::now_v7().to_string();
            let expert_id = match &m.sender {
                Sender::Expert { id, .. } => Some(id.clone()),
                _ => None,
            };
            sqlx::query(
                "INSERT INTO messages (conversation_id, seq, id, merchant_id, client_msg_id, author_role, expert_id, kind, body, data_json, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&m.conversation_id)
            .bind(seq)
            .bind(&id)
            .bind(&m.merchant_id)
            .bind(m.client_msg_id.as_deref())
            .bind(m.sender.role())
            .bind(expert_id.as_deref())
            .bind(m.kind)
            .bind(&m.body)
            .bind(m.data_json.as_deref())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let data: Option<serde_json::Value> = m.data_json.as_deref().and_then(|d| serde_json::from_str(d).ok());
            out.push(AppendOutcome::Stored(MessageView {
                conversation_id: m.conversation_id.clone(),
                seq,
                id,
                author: Author {
                    role: m.sender.role().into(),
                    name: match &m.sender {
                        Sender::Expert { name, .. } => Some(name.clone()),
                        _ => None,
                    },
                    expert_id,
                },
                kind: m.kind.into(),
                body: m.body.clone(),
                product: if m.kind == "product" {
                    data.clone().and_then(|d| serde_json::from_value(d).ok())
                } else {
                    None
                },
                data: if m.kind == "system" { data } else { None },
                client_msg_id: m.client_msg_id.clone(),
                sent_at: now,
            }));
        }
        tx.commit().await?;
        Ok(Appended {
            outcomes: out,
            first_responses: firsts,
            places,
        })
    }

    /// (id, merchant, last_seq) of these conversations (any merchant: for the hub's catch-up).
    pub async fn last_seqs(&self, ids: &[String]) -> Result<Vec<(String, String, i64)>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT id, merchant_id, last_seq FROM conversations WHERE id IN ({})",
            super::analytics::placeholders(ids.len(), 1)
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
        let rows = sqlx::query_as::<_, MessageRow>(&sql)
            .bind(m.as_str())
            .bind(conversation)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(MessageRow::view).collect())
    }

    pub async fn first_message(&self, conversation: &str) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT body FROM messages WHERE conversation_id = $1 AND author_role = 'shopper' ORDER BY seq LIMIT 1")
                .bind(conversation)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.0))
    }

    /// The approved expert who served this shopper most recently, if any.
    pub async fn contact_expert(&self, m: Tenant<'_>, shopper: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT c.expert_id FROM contacts c JOIN experts e ON e.id = c.expert_id \
             WHERE c.merchant_id = $1 AND c.shopper_id = $2 AND e.status = 'approved' ORDER BY c.last_chat_at DESC LIMIT 1",
        )
        .bind(m.as_str())
        .bind(shopper)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.0))
    }

    pub async fn is_contact(&self, m: Tenant<'_>, expert: &str, shopper: &str) -> Result<bool> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT shopper_id FROM contacts WHERE merchant_id = $1 AND expert_id = $2 AND shopper_id = $3")
                .bind(m.as_str())
                .bind(expert)
                .bind(shopper)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    pub async fn contacts_of(&self, m: Tenant<'_>, expert: &str, q: Option<&str>) -> Result<Vec<ContactRow>> {
        let pattern = q
            .filter(|q| !q.trim().is_empty())
            .map(|q| format!("%{}%", q.trim().to_lowercase().replace(['%', '_', '\\'], "")));
        Ok(sqlx::query_as::<_, ContactRow>(
            "SELECT c.shopper_id, s.name, s.email, c.last_chat_at, \
             (SELECT COUNT(*) FROM conversations v WHERE v.merchant_id = c.merchant_id AND v.shopper_id = c.shopper_id) AS conversations \
             FROM contacts c JOIN shoppers s ON s.id = c.shopper_id \
             WHERE c.merchant_id = $1 AND c.expert_id = $2 AND ($3 = '' OR LOWER(COALESCE(s.name, '')) LIKE $3 \
               OR LOWER(COALESCE(s.email, '')) LIKE $3 OR LOWER(c.shopper_id) LIKE $3) \
             ORDER BY c.last_chat_at DESC LIMIT 200",
        )
        .bind(m.as_str())
        .bind(expert)
        .bind(pattern.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Write analytics events in one transaction, a hundred rows per statement. (Callers keep
    /// batches short: SQLite's one writer also stores every chat message.)
    pub async fn insert_events(&self, events: &[Event]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for chunk in events.chunks(100) {
            let sql = format!(
                "INSERT INTO events (id, merchant_id, kind, at, shopper_id, store_id, department_id, expert_id, conversation_id, value, data_json) \
                 VALUES {}",
                super::value_rows(chunk.len(), 11)
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(e.merchant_id.clone())
                    .bind(e.kind)
                    .bind(e.at)
                    .bind(e.shopper_id.clone())
                    .bind(e.store_id.clone())
                    .bind(e.department_id.clone())
                    .bind(e.expert_id.clone())
                    .bind(e.conversation_id.clone())
                    .bind(e.value)
                    .bind(e.data_json.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn count_events(&self, m: Tenant<'_>, kind: &str) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events WHERE merchant_id = $1 AND kind = $2")
            .bind(m.as_str())
            .bind(kind)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    pub async fn expert_presence_json(&self, m: Tenant<'_>, expert: &str) -> Result<String> {
        let row: Option<(String,)> = sqlx::query_as("SELECT presence_json FROM experts WHERE merchant_id = $1 AND id = $2")
            .bind(m.as_str())
            .bind(expert)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.0).ok_or(StorageError::NotFound)
    }

    pub async fn set_expert_presence_json(&self, m: Tenant<'_>, expert: &str, json: &str) -> Result<()> {
        sqlx::query("UPDATE experts SET presence_json = $1 WHERE merchant_id = $2 AND id = $3")
            .bind(json)
            .bind(m.as_str())
            .bind(expert)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
