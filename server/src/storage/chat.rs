//! Conversations, messages, contacts and events: the chat hub's durable state.
//!
//! The database is the source of truth. The two operations that must be exactly-once are
//! single statements here: a claim is one conditional UPDATE, and a message's sequence number
//! is taken by incrementing the conversation's `last_seq` in the same transaction that stores
//! the message (which also serialises concurrent writers of one conversation on PostgreSQL).

use std::collections::HashMap;

mod hooks;
use hooks::Change;
pub use hooks::{ChatHooks, Reach, Unanswered};

use serde::{Deserialize, Serialize};

use super::sqlite_writer::{self, bind_all, bind_all_as, Lane, Param};
use super::{Backend, Db, Result, StorageError, Tenant};
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
fn payload(kind: &str, data_json: Option<&str>) -> (Option<Product>, Option<serde_json::Value>) {
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
    fn view(&self, seq: i64, id: String, sent_at: i64) -> MessageView {
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

/// How a claim ended.
#[derive(Debug, Clone)]
pub enum Claim {
    /// This expert has the conversation (as it now reads).
    Won(Box<ConversationRow>),
    /// Another expert has it.
    Taken,
    /// It is no longer waiting (ended, abandoned, missed), or there is no such conversation of
    /// this merchant.
    Gone,
    /// It waits for a department or store this expert is not working in, or for another expert.
    NotEligible,
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

/// What `append_messages` reads of a conversation to number its messages.
#[derive(sqlx::FromRow)]
struct SeqRow {
    id: String,
    merchant_id: String,
    shopper_id: String,
    expert_id: Option<String>,
    status: String,
    last_seq: i64,
    claimed_at: Option<i64>,
    first_response_at: Option<i64>,
    store_id: String,
    department_id: String,
}

/// A conversation's state while a batch is numbered: `row` is updated as messages are taken.
struct SeqState {
    row: SeqRow,
    start_seq: i64,
    first_stamped: bool,
    expert_wrote: bool,
}

#[derive(Clone, sqlx::FromRow)]
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
        self.write_one(
            "INSERT INTO server_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            vec![Param::from(name), Param::from(&fresh), Param::from(now_ms())],
        )
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
                self.write_one(
                    "UPDATE merchants SET identity_secret = $1 WHERE id = $2 AND identity_secret = ''",
                    vec![Param::from(&s), Param::from(m.as_str())],
                )
                .await?;
                Box::pin(self.identity_secret(m)).await
            }
            None => Err(StorageError::NotFound),
        }
    }

    pub async fn rotate_identity_secret(&self, m: Tenant<'_>) -> Result<String> {
        let s = crate::auth::new_token("fwi_");
        let done = self
            .write_one(
                "UPDATE merchants SET identity_secret = $1 WHERE id = $2",
                vec![Param::from(&s), Param::from(m.as_str())],
            )
            .await?;
        if done == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(s)
    }

    pub async fn shopper_exists(&self, m: Tenant<'_>, id: &str) -> Result<bool> {
        let rows: Vec<(String,)> = self
            .hot_rows(
                "SELECT id FROM shoppers WHERE merchant_id = $1 AND id = $2",
                &[Param::text(m.as_str()), Param::text(id)],
                first_text,
            )
            .await?;
        Ok(!rows.is_empty())
    }

    pub async fn create_conversation(&self, c: &NewConversation<'_>) -> Result<ConversationRow> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        const INSERT: &str =
            "INSERT INTO conversations (id, merchant_id, shopper_id, store_id, department_id, status, contact_expert_id, offline, \
             offline_email, offline_name, page_url, page_title, product_json, created_at, queued_at) \
             VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, $10, $11, $12, $13, $13)";
        let insert = vec![
            Param::from(&id),
            Param::from(c.merchant_id.as_str()),
            Param::from(c.shopper_id.as_str()),
            Param::from(c.store_id),
            Param::from(c.department_id),
            Param::from(c.contact_expert_id),
            Param::from(i64::from(c.offline.is_some())),
            Param::from(c.offline.map(|o| o.0)),
            Param::from(c.offline.and_then(|o| o.1)),
            Param::from(c.page_url),
            Param::from(c.page_title),
            Param::from(c.product.map(|p| serde_json::to_string(p).expect("product"))),
            Param::from(now),
        ];
        let read_sql = one_conversation_sql();
        let read = [Param::text(c.merchant_id.as_str()), Param::text(&id)];
        // `conversation.requested` commits with the row (see `hooks`).
        let speedup = self.hooks.speedup();
        if let Some(fast) = &self.fast {
            // The new row is read back in the same job: the chat's first step waits for no read.
            let (row, any) = fast
                .transaction(move |tx| {
                    sqlite_writer::execute(tx, INSERT, &insert)?;
                    let row = sqlite_writer::query(tx, &read_sql, &read, ConversationRow::from_sqlite)?
                        .pop()
                        .ok_or(StorageError::NotFound)?;
                    let any = hooks::enqueue_change_on_writer(tx, &Change::Requested, &row, speedup)?;
                    Ok((row, any))
                })
                .await?;
            self.enqueued_events(any);
            return Ok(row);
        }
        let mut tx = self.begin_write().await?;
        bind_all(sqlx::query(INSERT), &insert).execute(&mut *tx).await?;
        let row = bind_all_as(sqlx::query_as::<_, ConversationRow>(&read_sql), &read)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StorageError::NotFound)?;
        let any = hooks::enqueue_change_in(&mut tx, &Change::Requested, &row, speedup).await?;
        tx.commit().await?;
        self.enqueued_events(any);
        Ok(row)
    }

    pub async fn conversation(&self, m: Tenant<'_>, id: &str) -> Result<ConversationRow> {
        let sql = one_conversation_sql();
        self.hot_rows(&sql, &[Param::text(m.as_str()), Param::text(id)], ConversationRow::from_sqlite)
            .await?
            .pop()
            .ok_or(StorageError::NotFound)
    }

    /// A shopper's open conversations and those ended in the last day, oldest first.
    pub async fn shopper_conversations(&self, m: Tenant<'_>, shopper: &str) -> Result<Vec<ConversationRow>> {
        let sql = format!(
            "{CONV_SELECT} WHERE c.merchant_id = $1 AND c.shopper_id = $2 AND (c.ended_at IS NULL OR c.ended_at > $3) ORDER BY c.created_at"
        );
        let params = [
            Param::text(m.as_str()),
            Param::text(shopper),
            Param::Int(now_ms() - 24 * 3600 * 1000),
        ];
        self.hot_rows(&sql, &params, ConversationRow::from_sqlite).await
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

    /// The longest-waiting `limit` conversations of one merchant (or of all when `m` is None),
    /// oldest first.
    pub async fn waiting_conversations_limit(&self, m: Option<&MerchantId>, limit: i64) -> Result<Vec<ConversationRow>> {
        let params = waiting_params(m, None, limit);
        Ok(bind_all_as(sqlx::query_as::<_, ConversationRow>(&waiting_sql()), &params)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The next `limit` waiting conversations of all merchants after `after` (a conversation's
    /// `(queued_at, id)`), longest-waiting first: a routing pass reads them a page at a time
    /// and stops once no expert has room.
    pub async fn waiting_page(&self, after: Option<(i64, &str)>, limit: i64) -> Result<Vec<ConversationRow>> {
        self.hot_rows(&waiting_sql(), &waiting_params(None, after, limit), ConversationRow::from_sqlite)
            .await
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
        let now = now_ms();
        // Small writes, one after another: each is bookkeeping that must not hold up a message.
        let mut ids: Vec<&String> = ids.iter().collect();
        ids.sort_unstable();
        for chunk in super::shaped_chunks(&ids, if self.fast.is_some() { 64 } else { 512 }) {
            let sql = format!(
                "UPDATE conversations SET status = 'offered', last_offer_at = $1 WHERE status = 'queued' AND id IN ({})",
                super::placeholders(chunk.len(), 2)
            );
            let params = std::iter::once(Param::Int(now))
                .chain(chunk.iter().map(|id| Param::text(id)))
                .collect();
            self.write_later(vec![(sql, params)]).await?;
        }
        Ok(())
    }

    /// Run one writing statement (on SQLite, on the writer thread); the number of rows changed.
    pub(crate) async fn write_one(&self, sql: &'static str, params: Vec<Param>) -> Result<u64> {
        if let Some(fast) = &self.fast {
            return fast.transaction(move |c| Ok(sqlite_writer::execute(c, sql, &params)? as u64)).await;
        }
        Ok(bind_all(sqlx::query(sql), &params).execute(&self.writer).await?.rows_affected())
    }

    /// Run these statements in one write transaction nobody waits on (on SQLite, in the writer
    /// thread's `Later` lane: after every message, claim or new chat that is waiting). Callers
    /// keep each call small; a long job would hold up the writes that arrive while it runs.
    pub(crate) async fn write_later(&self, statements: Vec<(String, Vec<Param>)>) -> Result<()> {
        if statements.is_empty() {
            return Ok(());
        }
        if let Some(fast) = &self.fast {
            return fast
                .run(Lane::Later, move |tx| {
                    for (sql, params) in &statements {
                        sqlite_writer::execute(tx, sql, params)?;
                    }
                    Ok(())
                })
                .await;
        }
        let mut tx = self.begin_write().await?;
        for (sql, params) in &statements {
            bind_all(sqlx::query(sql), params).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The claim, decided in one transaction: the conversation is read, checked (still waiting,
    /// and `eligible` for this expert: their stores and departments, or a transfer to them), then
    /// taken with one conditional update, so exactly one expert wins on any number of nodes. The
    /// winner's shopper becomes their contact (or the last-chat time is refreshed) in the same
    /// commit, and the winner gets the conversation as it now reads. On SQLite the whole claim is
    /// one job on the writer thread: a claim never waits for a read connection, and the experts
    /// who lose a race are answered with the winner's commit.
    pub async fn claim(
        &self,
        m: Tenant<'_>,
        conversation: &str,
        expert: &ExpertId,
        eligible: impl Fn(&ConversationRow) -> bool + Send + 'static,
    ) -> Result<Claim> {
        const CLAIM: &str = "UPDATE conversations SET status = 'claimed', expert_id = $1, claimed_at = $2, last_expert_msg_at = NULL, target_expert_id = NULL \
             WHERE merchant_id = $3 AND id = $4 AND expert_id IS NULL AND status IN ('queued', 'offered') \
             AND (target_expert_id IS NULL OR target_expert_id = $1) RETURNING shopper_id";
        // The winner becomes the shopper's one current contact; whoever was before stays as
        // history (superseded now).
        const CONTACT: &str = "INSERT INTO contacts (merchant_id, expert_id, shopper_id, created_at, last_chat_at, superseded_at) \
             VALUES ($1, $2, $3, $4, $4, NULL) \
             ON CONFLICT (expert_id, shopper_id) DO UPDATE SET last_chat_at = excluded.last_chat_at, superseded_at = NULL";
        // (Placeholders in order of first use: rusqlite binds them by that order.)
        const SUPERSEDE: &str = "UPDATE contacts SET superseded_at = $1 \
             WHERE merchant_id = $2 AND shopper_id = $3 AND expert_id <> $4 AND superseded_at IS NULL";
        let now = now_ms();
        let read_sql = one_conversation_sql();
        let read = vec![Param::text(m.as_str()), Param::text(conversation)];
        let claim = vec![
            Param::text(expert.as_str()),
            Param::Int(now),
            Param::text(m.as_str()),
            Param::text(conversation),
        ];
        let me = expert.as_str().to_owned();
        let verdict = move |row: Option<&ConversationRow>| -> Option<Claim> {
            let Some(row) = row else { return Some(Claim::Gone) };
            if !row.is_waiting() {
                return Some(if row.status == "claimed" { Claim::Taken } else { Claim::Gone });
            }
            let targeted = row.target_expert_id.as_deref();
            if targeted.is_some_and(|t| t != me) || !(targeted == Some(me.as_str()) || eligible(row)) {
                return Some(Claim::NotEligible);
            }
            None
        };
        let (merchant, expert) = (m.as_str().to_owned(), expert.as_str().to_owned());
        let contact = move |shopper: String| {
            (
                vec![
                    Param::Text(merchant.clone()),
                    Param::Text(expert.clone()),
                    Param::Text(shopper.clone()),
                    Param::Int(now),
                ],
                vec![Param::Int(now), Param::Text(merchant), Param::Text(shopper), Param::Text(expert)],
            )
        };
        // `conversation.claimed` commits with the claim (see `hooks`).
        let speedup = self.hooks.speedup();
        if let Some(fast) = &self.fast {
            let outcome = fast
                .transaction(move |tx| {
                    let before = sqlite_writer::query(tx, &read_sql, &read, ConversationRow::from_sqlite)?.pop();
                    if let Some(no) = verdict(before.as_ref()) {
                        return Ok(no);
                    }
                    let Some(shopper) = sqlite_writer::query(tx, CLAIM, &claim, |r| r.get::<_, String>(0))?.pop() else {
                        return Ok(Claim::Taken);
                    };
                    let (contact, others) = contact(shopper);
                    sqlite_writer::execute(tx, CONTACT, &contact)?;
                    sqlite_writer::execute(tx, SUPERSEDE, &others)?;
                    let now = sqlite_writer::query(tx, &read_sql, &read, ConversationRow::from_sqlite)?.pop();
                    if let Some(row) = &now {
                        hooks::enqueue_change_on_writer(tx, &Change::Claimed, row, speedup)?;
                    }
                    Ok(now.map_or(Claim::Gone, |row| Claim::Won(Box::new(row))))
                })
                .await?;
            self.enqueued_events(matches!(outcome, Claim::Won(_)));
            return Ok(outcome);
        }
        let mut tx = self.begin_write().await?;
        let before = bind_all_as(sqlx::query_as::<_, ConversationRow>(&read_sql), &read)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(no) = verdict(before.as_ref()) {
            return Ok(no);
        }
        let won: Option<(String,)> = bind_all_as(sqlx::query_as(CLAIM), &claim).fetch_optional(&mut *tx).await?;
        let Some((shopper,)) = won else {
            return Ok(Claim::Taken);
        };
        let (contact, others) = contact(shopper);
        bind_all(sqlx::query(CONTACT), &contact).execute(&mut *tx).await?;
        bind_all(sqlx::query(SUPERSEDE), &others).execute(&mut *tx).await?;
        let now = bind_all_as(sqlx::query_as::<_, ConversationRow>(&read_sql), &read)
            .fetch_optional(&mut *tx)
            .await?;
        let mut any = false;
        if let Some(row) = &now {
            any = hooks::enqueue_change_in(&mut tx, &Change::Claimed, row, speedup).await?;
        }
        tx.commit().await?;
        self.enqueued_events(any);
        Ok(now.map_or(Claim::Gone, |row| Claim::Won(Box::new(row))))
    }

    /// Put a claimed conversation whose expert never answered back in the queue.
    pub async fn unclaim_unanswered(&self, id: &str, expert: &str) -> Result<bool> {
        let done = self
            .write_one(
                "UPDATE conversations SET status = 'queued', expert_id = NULL, queued_at = $1, claimed_at = NULL \
             WHERE id = $2 AND expert_id = $3 AND status = 'claimed' AND last_expert_msg_at IS NULL",
                vec![Param::from(now_ms()), Param::from(id), Param::from(expert)],
            )
            .await?;
        Ok(done == 1)
    }

    /// End a conversation: `ended` if it was claimed, `abandoned` if the shopper left while it
    /// waited. Returns the new status, or None if it had already finished.
    pub async fn finish(&self, m: Tenant<'_>, id: &str, by: &str) -> Result<Option<&'static str>> {
        let now = now_ms();
        // `conversation.ended` commits with the change, for both outcomes (see `hooks`).
        let done = self.update_with_event("UPDATE conversations SET status = 'ended', ended_at = $1, ended_by = $2 WHERE merchant_id = $3 AND id = $4 AND status = 'claimed'", vec![Param::from(now), Param::from(by), Param::from(m.as_str()), Param::from(id)], id, Change::Ended).await?;
        if done == 1 {
            return Ok(Some("ended"));
        }
        let done = self.update_with_event("UPDATE conversations SET status = 'abandoned', ended_at = $1, ended_by = $2 WHERE merchant_id = $3 AND id = $4 AND status IN ('queued', 'offered')", vec![Param::from(now), Param::from(by), Param::from(m.as_str()), Param::from(id)], id, Change::Ended).await?;
        Ok((done == 1).then_some("abandoned"))
    }

    /// Mark a waiting, non-offline conversation missed if it has waited since before `cutoff`.
    pub async fn mark_missed(&self, id: &str, cutoff: i64) -> Result<bool> {
        let done = self
            .update_with_event(
                "UPDATE conversations SET status = 'missed', ended_at = $1, ended_by = 'timeout' \
             WHERE id = $2 AND status IN ('queued', 'offered') AND offline = 0 AND queued_at < $3",
                vec![Param::from(now_ms()), Param::from(id), Param::from(cutoff)],
                id,
                Change::Missed,
            )
            .await?;
        Ok(done == 1)
    }

    /// Hand a claimed conversation back to the queue for another department or a named expert.
    #[allow(clippy::too_many_arguments)]
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
        let done = self
            .update_with_event(
                "UPDATE conversations SET status = 'queued', expert_id = NULL, claimed_at = NULL, store_id = $1, department_id = $2, \
             target_expert_id = $3, transfer_note = $4, transfers = transfers + 1, queued_at = $5, contact_expert_id = NULL \
             WHERE merchant_id = $6 AND id = $7 AND expert_id = $8 AND status = 'claimed'",
                vec![
                    Param::from(store_id),
                    Param::from(department_id),
                    Param::from(target_expert),
                    Param::from(note),
                    Param::from(now_ms()),
                    Param::from(m.as_str()),
                    Param::from(id),
                    Param::from(from_expert),
                ],
                id,
                Change::Transferred {
                    from_expert: from_expert.to_owned(),
                },
            )
            .await?;
        Ok(done == 1)
    }

    pub async fn rate(&self, m: Tenant<'_>, id: &str, shopper: &str, score: i64, comment: Option<&str>) -> Result<bool> {
        let done = self.update_with_event("UPDATE conversations SET rating = $1, rating_comment = $2 WHERE merchant_id = $3 AND id = $4 AND shopper_id = $5 AND status = 'ended'", vec![Param::from(score), Param::from(comment), Param::from(m.as_str()), Param::from(id), Param::from(shopper)], id, Change::Rated).await?;
        Ok(done == 1)
    }

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

    /// Store a batch of messages in one transaction. Each gets the next sequence number of its
    /// conversation; a repeated `client_msg_id` returns the original. Outcomes are in input order.
    /// If the transaction fails nothing is stored and the caller must not acknowledge anything.
    ///
    /// The batch costs the same few statements whatever its size (earlier client ids, the
    /// conversations' state, one update of their counters, one insert of the rows), not three
    /// per message. Sequence numbers are computed from the state read inside the transaction,
    /// which holds the write lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: the rows are read
    /// `FOR UPDATE`, in id order, so writers on several nodes cannot deadlock), and the update
    /// checks that each counter still holds the number it started from. On SQLite the whole
    /// transaction runs on the writer thread ([`SqliteWriter`]).
    pub async fn append_messages(&self, batch: Vec<NewMessage>) -> Result<Appended> {
        let now = now_ms();
        // Their webhook events commit with them (see `hooks`).
        let speedup = self.hooks.speedup();
        if let Some(fast) = &self.fast {
            let (done, any) = fast
                .transaction(move |tx| {
                    let mut plan = AppendPlan::new(&batch, now);
                    for (sql, params) in plan.earlier_ids_sql() {
                        plan.earlier_ids(sqlite_writer::query(tx, &sql, &params, MessageRow::from_sqlite)?);
                    }
                    for (sql, params) in plan.state_sql(Backend::Sqlite) {
                        plan.states(sqlite_writer::query(tx, &sql, &params, SeqRow::from_sqlite)?);
                    }
                    for (sql, params) in plan.attachments_sql() {
                        plan.attached(sqlite_writer::query(
                            tx,
                            &sql,
                            &params,
                            super::media_chat::AttachedRow::from_sqlite,
                        )?);
                    }
                    plan.number();
                    for (sql, params, expect) in plan.counters_sql() {
                        if sqlite_writer::execute(tx, &sql, &params)? != expect {
                            return Err(StorageError::Corrupt(MOVED.into()));
                        }
                    }
                    for (sql, params) in plan.insert_sql().into_iter().chain(plan.sent_sql()) {
                        sqlite_writer::execute(tx, &sql, &params)?;
                    }
                    let done = plan.finish();
                    let any = hooks::after_append_on_writer(tx, &batch, &done, speedup)?;
                    Ok((done, any))
                })
                .await?;
            self.enqueued_events(any);
            return Ok(done);
        }
        let mut tx = self.begin_write().await?;
        let mut plan = AppendPlan::new(&batch, now);
        for (sql, params) in plan.earlier_ids_sql() {
            let rows = bind_all_as(sqlx::query_as::<_, MessageRow>(&sql), &params)
                .fetch_all(&mut *tx)
                .await?;
            plan.earlier_ids(rows);
        }
        for (sql, params) in plan.state_sql(self.backend) {
            let rows = bind_all_as(sqlx::query_as::<_, SeqRow>(&sql), &params).fetch_all(&mut *tx).await?;
            plan.states(rows);
        }
        for (sql, params) in plan.attachments_sql() {
            let rows = bind_all_as(sqlx::query_as::<_, super::media_chat::AttachedRow>(&sql), &params)
                .fetch_all(&mut *tx)
                .await?;
            plan.attached(rows);
        }
        plan.number();
        for (sql, params, expect) in plan.counters_sql() {
            if bind_all(sqlx::query(&sql), &params).execute(&mut *tx).await?.rows_affected() != expect as u64 {
                return Err(StorageError::Corrupt(MOVED.into()));
            }
        }
        for (sql, params) in plan.insert_sql().into_iter().chain(plan.sent_sql()) {
            bind_all(sqlx::query(&sql), &params).execute(&mut *tx).await?;
        }
        let done = plan.finish();
        let any = hooks::after_append_in(&mut tx, &batch, &done, speedup).await?;
        tx.commit().await?;
        self.enqueued_events(any);
        Ok(done)
    }

    /// (id, merchant, last_seq) of these conversations (any merchant: for the hub's catch-up).
    pub async fn last_seqs(&self, ids: &[String]) -> Result<Vec<(String, String, i64)>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let sql = format!(
            "SELECT id, merchant_id, last_seq FROM conversations WHERE id IN ({})",
            super::placeholders(ids.len(), 1)
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
        let rows: Vec<(String,)> = self
            .hot_rows(
                "SELECT body FROM messages WHERE conversation_id = $1 AND author_role = 'shopper' ORDER BY seq LIMIT 1",
                &[Param::text(conversation)],
                first_text,
            )
            .await?;
        Ok(rows.into_iter().next().map(|r| r.0))
    }

    /// The shopper's contact expert: the current one (who last claimed a chat with them, so
    /// the most recent last-chat time), or while they are not approved (deactivated), the
    /// most recent earlier contact who is.
    pub async fn contact_expert(&self, m: Tenant<'_>, shopper: &str) -> Result<Option<String>> {
        let rows: Vec<(String,)> = self
            .hot_rows(
                "SELECT c.expert_id FROM contacts c JOIN experts e ON e.id = c.expert_id \
                 WHERE c.merchant_id = $1 AND c.shopper_id = $2 AND e.status = 'approved' ORDER BY c.last_chat_at DESC LIMIT 1",
                &[Param::text(m.as_str()), Param::text(shopper)],
                first_text,
            )
            .await?;
        Ok(rows.into_iter().next().map(|r| r.0))
    }

    /// Whether the expert is or was the shopper's contact (an earlier contact keeps their view
    /// of the shopper's history).
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
             WHERE c.merchant_id = $1 AND c.expert_id = $2 AND c.superseded_at IS NULL AND ($3 = '' OR LOWER(COALESCE(s.name, '')) LIKE $3 \
               OR LOWER(COALESCE(s.email, '')) LIKE $3 OR LOWER(c.shopper_id) LIKE $3) \
             ORDER BY c.last_chat_at DESC LIMIT 200",
        )
        .bind(m.as_str())
        .bind(expert)
        .bind(pattern.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Write analytics events in one transaction, at most 128 rows per statement. (Callers keep
    /// batches short: SQLite's one writer also stores every chat message.)
    pub async fn insert_events(&self, events: &[Event]) -> Result<()> {
        let statements = super::shaped_chunks(events, 128)
            .into_iter()
            .map(|chunk| {
                let sql = format!(
                    "INSERT INTO events (id, merchant_id, kind, at, shopper_id, store_id, department_id, expert_id, conversation_id, value, data_json) \
                     VALUES {}",
                    super::value_rows(chunk.len(), 11)
                );
                let mut params = Vec::with_capacity(chunk.len() * 11);
                for e in chunk {
                    params.extend([
                        Param::Text(uuid::Uuid::now_v7().to_string()),
                        Param::text(&e.merchant_id),
                        Param::text(e.kind),
                        Param::Int(e.at),
                        Param::opt_text(e.shopper_id.as_deref()),
                        Param::opt_text(e.store_id.as_deref()),
                        Param::opt_text(e.department_id.as_deref()),
                        Param::opt_text(e.expert_id.as_deref()),
                        Param::opt_text(e.conversation_id.as_deref()),
                        Param::opt_int(e.value),
                        Param::opt_text(e.data_json.as_deref()),
                    ]);
                }
                (sql, params)
            })
            .collect();
        self.write_later(statements).await
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
        self.write_one(
            "UPDATE experts SET presence_json = $1 WHERE merchant_id = $2 AND id = $3",
            vec![Param::from(json), Param::from(m.as_str()), Param::from(expert)],
        )
        .await?;
        Ok(())
    }
}

const MOVED: &str = "a conversation's sequence moved during its own write";

impl MessageRow {
    /// The same row read through rusqlite (columns in `MSG_SELECT` order).
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRow> {
        Ok(MessageRow {
            conversation_id: r.get(0)?,
            seq: r.get(1)?,
            id: r.get(2)?,
            client_msg_id: r.get(3)?,
            author_role: r.get(4)?,
            expert_id: r.get(5)?,
            expert_name: r.get(6)?,
            kind: r.get(7)?,
            body: r.get(8)?,
            data_json: r.get(9)?,
            created_at: r.get(10)?,
        })
    }
}

impl ConversationRow {
    /// The same row read through rusqlite (columns in `CONV_SELECT` order).
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConversationRow> {
        Ok(ConversationRow {
            id: r.get(0)?,
            merchant_id: r.get(1)?,
            shopper_id: r.get(2)?,
            shopper_name: r.get(3)?,
            store_id: r.get(4)?,
            store_name: r.get(5)?,
            department_id: r.get(6)?,
            department_name: r.get(7)?,
            status: r.get(8)?,
            expert_id: r.get(9)?,
            expert_name: r.get(10)?,
            contact_expert_id: r.get(11)?,
            target_expert_id: r.get(12)?,
            offline: r.get(13)?,
            page_url: r.get(14)?,
            product_json: r.get(15)?,
            transfer_note: r.get(16)?,
            last_seq: r.get(17)?,
            shopper_read_seq: r.get(18)?,
            expert_read_seq: r.get(19)?,
            rating: r.get(20)?,
            rating_comment: r.get(21)?,
            created_at: r.get(22)?,
            queued_at: r.get(23)?,
            claimed_at: r.get(24)?,
            first_response_at: r.get(25)?,
            last_expert_msg_at: r.get(26)?,
            ended_at: r.get(27)?,
        })
    }
}

impl SeqRow {
    /// The same row read through rusqlite (columns in `AppendPlan::state_sql` order).
    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<SeqRow> {
        Ok(SeqRow {
            id: r.get(0)?,
            merchant_id: r.get(1)?,
            shopper_id: r.get(2)?,
            expert_id: r.get(3)?,
            status: r.get(4)?,
            last_seq: r.get(5)?,
            claimed_at: r.get(6)?,
            first_response_at: r.get(7)?,
            store_id: r.get(8)?,
            department_id: r.get(9)?,
        })
    }
}

/// One `append_messages` call, driver-free: it says which statements to run, is told what they
/// read, and works out every outcome. Both drivers run the same steps in the same order.
struct AppendPlan<'a> {
    batch: &'a [NewMessage],
    now: i64,
    out: Vec<Option<AppendOutcome>>,
    places: Vec<(String, String)>,
    firsts: Vec<(usize, i64)>,
    /// Messages stored by an earlier batch, by conversation and client id.
    stored_before: HashMap<String, HashMap<String, MessageRow>>,
    /// The messages that need a number (see `earlier_ids`), in input order.
    fresh: Vec<usize>,
    /// Conversations written to, by id.
    convs: HashMap<String, SeqState>,
    /// (index, id, seq) of each message to insert.
    rows: Vec<(usize, String, i64)>,
    /// Photos the batch's `attachment` messages name, as read in the transaction.
    attached: HashMap<String, super::media_chat::AttachedRow>,
    /// Message data completed in the transaction (a photo's size and type), by input index.
    data: HashMap<usize, String>,
}

impl<'a> AppendPlan<'a> {
    fn new(batch: &'a [NewMessage], now: i64) -> Self {
        AppendPlan {
            batch,
            now,
            out: vec![None; batch.len()],
            places: vec![(String::new(), String::new()); batch.len()],
            firsts: Vec::new(),
            stored_before: HashMap::new(),
            fresh: (0..batch.len()).collect(),
            convs: HashMap::new(),
            rows: Vec::new(),
            attached: HashMap::new(),
            data: HashMap::new(),
        }
    }

    /// Messages stored before with the same (conversation, client id) as one of this batch.
    fn earlier_ids_sql(&self) -> Vec<(String, Vec<Param>)> {
        let keyed: Vec<&NewMessage> = self.batch.iter().filter(|m| m.client_msg_id.is_some()).collect();
        super::shaped_chunks(&keyed, 256)
            .into_iter()
            .map(|chunk| {
                let cond = (0..chunk.len())
                    .map(|k| format!("(m.conversation_id = ${} AND m.client_msg_id = ${})", 2 * k + 1, 2 * k + 2))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                let params = chunk
                    .iter()
                    .flat_map(|m| [Param::text(&m.conversation_id), Param::opt_text(m.client_msg_id.as_deref())])
                    .collect();
                (format!("{MSG_SELECT} WHERE {cond}"), params)
            })
            .collect()
    }

    /// Take what the earlier-ids query found; the messages left to number are those with no
    /// earlier copy that are the first of their client id in this batch.
    fn earlier_ids(&mut self, rows: Vec<MessageRow>) {
        for row in rows {
            if let Some(cid) = row.client_msg_id.clone() {
                self.stored_before.entry(row.conversation_id.clone()).or_default().insert(cid, row);
            }
        }
        let mut seen: std::collections::HashSet<(&str, &str)> = std::collections::HashSet::new();
        let (batch, before) = (self.batch, &self.stored_before);
        self.fresh.retain(|&i| {
            let m = &batch[i];
            m.client_msg_id.as_deref().is_none_or(|cid| {
                !before.get(&m.conversation_id).is_some_and(|c| c.contains_key(cid)) && seen.insert((m.conversation_id.as_str(), cid))
            })
        });
    }

    /// The copy an earlier batch stored of this message (same conversation and client id).
    fn stored_before(&self, m: &NewMessage) -> Option<&MessageRow> {
        self.stored_before.get(&m.conversation_id)?.get(m.client_msg_id.as_deref()?)
    }

    /// The photos named by the batch's `attachment` messages still to be numbered.
    fn attachments_sql(&self) -> Vec<(String, Vec<Param>)> {
        let ids: Vec<String> = self
            .fresh
            .iter()
            .filter_map(|&i| super::media_chat::attachment_ref(self.batch[i].kind, self.batch[i].data_json.as_deref()))
            .collect();
        super::media_chat::attachments_sql(&ids)
    }

    fn attached(&mut self, rows: Vec<super::media_chat::AttachedRow>) {
        for r in rows {
            self.attached.insert(r.id.clone(), r);
        }
    }

    /// Mark the photos of the stored `attachment` messages as sent.
    fn sent_sql(&self) -> Vec<(String, Vec<Param>)> {
        let ids: Vec<String> = self
            .rows
            .iter()
            .filter(|(i, _, _)| self.data.contains_key(i))
            .filter_map(|(i, _, _)| super::media_chat::attachment_ref(self.batch[*i].kind, self.batch[*i].data_json.as_deref()))
            .collect();
        super::media_chat::sent_sql(&ids, self.now)
    }

    /// The state of the conversations written to, locked on PostgreSQL.
    fn state_sql(&self, backend: super::Backend) -> Vec<(String, Vec<Param>)> {
        let mut ids: Vec<&str> = self.fresh.iter().map(|&i| self.batch[i].conversation_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let lock = if backend == super::Backend::Postgres { " FOR UPDATE" } else { "" };
        super::shaped_chunks(&ids, 512)
            .into_iter()
            .map(|chunk| {
                let sql = format!(
                    "SELECT id, merchant_id, shopper_id, expert_id, status, last_seq, claimed_at, first_response_at, store_id, department_id \
                     FROM conversations WHERE id IN ({}) ORDER BY id{lock}",
                    super::placeholders(chunk.len(), 1)
                );
                (sql, chunk.iter().map(|id| Param::text(id)).collect())
            })
            .collect()
    }

    fn states(&mut self, rows: Vec<SeqRow>) {
        for row in rows {
            let state = SeqState {
                start_seq: row.last_seq,
                first_stamped: false,
                expert_wrote: false,
                row,
            };
            self.convs.insert(state.row.id.clone(), state);
        }
    }

    /// Who may write, and the next numbers, in input order.
    fn number(&mut self) {
        for &i in &self.fresh {
            let m = &self.batch[i];
            let Some(c) = self
                .convs
                .get_mut(&m.conversation_id)
                .filter(|c| c.row.merchant_id == m.merchant_id)
            else {
                self.out[i] = Some(AppendOutcome::NotFound);
                continue;
            };
            // Someone else's conversation (another shopper's, a colleague's) is not found, exactly
            // like one that does not exist: no answer tells whether an id is in use.
            let (theirs, open) = match &m.sender {
                Sender::Shopper(s) => (
                    c.row.shopper_id == *s,
                    matches!(c.row.status.as_str(), "queued" | "offered" | "claimed"),
                ),
                Sender::Expert { id, .. } => (c.row.expert_id.as_deref() == Some(id.as_str()), c.row.status == "claimed"),
                Sender::System => (true, true),
            };
            if !theirs {
                self.out[i] = Some(AppendOutcome::NotFound);
                continue;
            }
            if m.kind == "attachment" {
                // The photo must be stored, of this conversation and uploaded by the sender (checked
                // first: someone else's chat or photo reads as not found).
                match super::media_chat::attachment_data(m, &self.attached) {
                    Some(d) => {
                        self.data.insert(i, d);
                    }
                    None => {
                        self.out[i] = Some(AppendOutcome::NotFound);
                        continue;
                    }
                }
            }
            if !open {
                self.out[i] = Some(AppendOutcome::InvalidState(format!("the conversation is {}", c.row.status)));
                continue;
            }
            c.row.last_seq += 1;
            if matches!(m.sender, Sender::Expert { .. }) {
                c.expert_wrote = true;
                if c.row.first_response_at.is_none() {
                    c.row.first_response_at = Some(self.now);
                    c.first_stamped = true;
                    if let Some(claimed) = c.row.claimed_at {
                        self.firsts.push((i, (self.now - claimed).max(0)));
                    }
                }
            }
            self.places[i] = (c.row.store_id.clone(), c.row.department_id.clone());
            self.rows.push((i, uuid::Uuid::now_v7().to_string(), c.row.last_seq));
        }
    }

    /// The counters, one statement per piece of at most 256 conversations (sizes from a fixed set, see [`super::shaped_chunks`]), with the rows each must change. Each
    /// row must still hold the number read above. A VALUES list's columns are column1,
    /// column2… on both backends (SQLite cannot name them): id, seq read, new seq, first
    /// answer stamped (0/1), an expert wrote (0/1).
    fn counters_sql(&self) -> Vec<(String, Vec<Param>, usize)> {
        let mut touched: Vec<&SeqState> = self.convs.values().filter(|c| c.row.last_seq > c.start_seq).collect();
        touched.sort_unstable_by(|a, b| a.row.id.cmp(&b.row.id));
        super::shaped_chunks(&touched, 256)
            .into_iter()
            .map(|chunk| {
                let sql = format!(
                    "UPDATE conversations SET last_seq = v.column3, \
                     first_response_at = CASE WHEN v.column4 = 1 THEN $1 ELSE conversations.first_response_at END, \
                     last_expert_msg_at = CASE WHEN v.column5 = 1 THEN $1 ELSE conversations.last_expert_msg_at END \
                     FROM (VALUES {}) AS v \
                     WHERE conversations.id = v.column1 AND conversations.last_seq = v.column2",
                    super::value_rows_from(chunk.len(), 5, 2)
                );
                let mut params = vec![Param::Int(self.now)];
                for c in chunk {
                    params.extend([
                        Param::text(&c.row.id),
                        Param::Int(c.start_seq),
                        Param::Int(c.row.last_seq),
                        Param::Int(i64::from(c.first_stamped)),
                        Param::Int(i64::from(c.expert_wrote)),
                    ]);
                }
                (sql, params, chunk.len())
            })
            .collect()
    }

    /// The messages, at most 256 rows per statement (sizes from a fixed set, see [`super::shaped_chunks`]).
    fn insert_sql(&self) -> Vec<(String, Vec<Param>)> {
        const COLS: usize = 11;
        super::shaped_chunks(&self.rows, 256)
            .into_iter()
            .map(|chunk| {
                let sql = format!(
                    "INSERT INTO messages (conversation_id, seq, id, merchant_id, client_msg_id, author_role, expert_id, kind, body, data_json, created_at) \
                     VALUES {}",
                    super::value_rows(chunk.len(), COLS)
                );
                let mut params = Vec::with_capacity(chunk.len() * COLS);
                for (i, id, seq) in chunk {
                    let m = &self.batch[*i];
                    params.extend([
                        Param::text(&m.conversation_id),
                        Param::Int(*seq),
                        Param::text(id),
                        Param::text(&m.merchant_id),
                        Param::opt_text(m.client_msg_id.as_deref()),
                        Param::text(m.sender.role()),
                        Param::opt_text(m.sender.expert_id()),
                        Param::text(m.kind),
                        Param::text(&m.body),
                        Param::opt_text(self.data.get(i).map(String::as_str).or(m.data_json.as_deref())),
                        Param::Int(self.now),
                    ]);
                }
                (sql, params)
            })
            .collect()
    }

    /// Every outcome, once the transaction has committed.
    fn finish(mut self) -> Appended {
        let same = |m: &NewMessage, role: &str, expert: Option<&str>, body: &str, photo: Option<String>| {
            role == m.sender.role()
                && (!matches!(m.sender, Sender::Expert { .. }) || expert == m.sender.expert_id())
                && body == m.body
                && photo == super::media_chat::attachment_ref(m.kind, m.data_json.as_deref())
        };
        for (i, id, seq) in std::mem::take(&mut self.rows) {
            let view = match self.data.get(&i) {
                Some(d) => NewMessage {
                    data_json: Some(d.clone()),
                    ..self.batch[i].clone()
                }
                .view(seq, id, self.now),
                None => self.batch[i].view(seq, id, self.now),
            };
            self.out[i] = Some(AppendOutcome::Stored(view));
        }
        // A client id stored before, or first seen earlier in this batch: that one's outcome.
        let mut first_of: HashMap<(&str, &str), usize> = HashMap::new();
        for i in 0..self.batch.len() {
            let m = &self.batch[i];
            let Some(cid) = m.client_msg_id.as_deref() else { continue };
            if let Some(prev) = self.stored_before(m) {
                let photo = super::media_chat::attachment_ref(&prev.kind, prev.data_json.as_deref());
                self.out[i] = Some(if same(m, &prev.author_role, prev.expert_id.as_deref(), &prev.body, photo) {
                    AppendOutcome::Duplicate(prev.clone().view())
                } else {
                    AppendOutcome::Conflict
                });
                continue;
            }
            match first_of.get(&(m.conversation_id.as_str(), cid)) {
                None => {
                    first_of.insert((m.conversation_id.as_str(), cid), i);
                }
                Some(&first) => {
                    self.out[i] = Some(match &self.out[first] {
                        Some(AppendOutcome::Stored(v)) => {
                            let photo = v
                                .data
                                .as_ref()
                                .and_then(|d| d.get("attachment_id"))
                                .and_then(|x| x.as_str())
                                .map(str::to_owned);
                            if same(m, &v.author.role, v.author.expert_id.as_deref(), &v.body, photo) {
                                AppendOutcome::Duplicate(v.clone())
                            } else {
                                AppendOutcome::Conflict
                            }
                        }
                        other => other.clone().unwrap_or(AppendOutcome::NotFound),
                    });
                }
            }
        }
        Appended {
            outcomes: self.out.into_iter().map(|o| o.unwrap_or(AppendOutcome::NotFound)).collect(),
            first_responses: self.firsts,
            places: self.places,
        }
    }
}

/// One conversation of a merchant (`$1`), by id (`$2`).
fn one_conversation_sql() -> String {
    format!("{CONV_SELECT} WHERE c.merchant_id = $1 AND c.id = $2")
}

/// Waiting conversations in the order they are offered (`$1`: a merchant or '' for all; after
/// `($2, $3)` = `(queued_at, id)`; at most `$4`). The ids come from the index alone
/// (`conversations_waiting`), so only the rows returned are read and joined.
fn waiting_sql() -> String {
    format!(
        "{CONV_SELECT} WHERE c.id IN (SELECT id FROM conversations WHERE status IN ('queued', 'offered') \
         AND ($1 = '' OR merchant_id = $1) AND (queued_at > $2 OR (queued_at = $2 AND id > $3)) \
         ORDER BY queued_at, id LIMIT $4) ORDER BY c.queued_at, c.id"
    )
}

fn waiting_params(m: Option<&MerchantId>, after: Option<(i64, &str)>, limit: i64) -> [Param; 4] {
    let (at, id) = after.unwrap_or((i64::MIN, ""));
    [
        Param::text(m.map_or("", |m| m.as_str())),
        Param::Int(at),
        Param::text(id),
        Param::Int(limit),
    ]
}

/// A row's first column as text, for `Db::hot_rows` of `(String,)`.
fn first_text(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String,)> {
    Ok((r.get(0)?,))
}
