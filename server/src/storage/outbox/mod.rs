//! The transactional outbox: e-mail, SMS and webhook deliveries as rows written in the same
//! transaction as the change that causes them, claimed by workers on any node.
//!
//! # Writing
//! [`enqueue_in`] takes the caller's write transaction (the SQLite writer thread's or an sqlx
//! one: `storage::tx`), [`Db::enqueue`] opens a transaction of its own.
//! Each [`Outgoing`] is either one message ([`NewOutbound`]) or a webhook event, which becomes
//! one row per enabled endpoint subscribed to its type. A row's `idempotency_key` is unique: the
//! same cause enqueued twice (a retried request, a replayed job) leaves one row.
//!
//! Ordering: rows sharing an `order_key` (a webhook endpoint and a conversation) are numbered
//! `order_seq` 1, 2, … in insert order, and a worker takes one only when every earlier one has
//! finished (sent, failed or dead). Callers enqueue after the statement that changes the
//! conversation, which holds its row lock (PostgreSQL) or the one write lock (SQLite), so two
//! transactions about the same conversation number their rows in commit order. A caller that
//! breaks this gets a unique violation on `(order_key, order_seq)`, never a silent reordering.
//!
//! # States
//! `queued` (waiting for its next attempt) → `sending` (a worker holds a lease) → `sent`, or back
//! to `queued` with a later `next_attempt_at`, or `failed` (permanently: a 5xx SMTP reply, a
//! suppressed address, a 410 from a webhook endpoint), or `dead` (no success before
//! `give_up_at`).
//!
//! # Exactly once, and where it ends
//! A worker claims a row by setting `sending`, its node id and `lease_until` in one committed
//! statement (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so two nodes never take the same row; SQLite
//! has one writer). While it works it extends the lease; every write it makes about the row is
//! conditional on still holding that lease (owner and attempt number: a fencing token), so a
//! worker that stalled past its lease cannot overwrite the one that took over.
//!
//! E-mail and SMS are not idempotent on the other side, so a worker records `handoff_at` (a
//! committed, fenced write) just before the step after which the message may have been accepted:
//! for SMTP after the server accepted `DATA` and before the content and its final dot, for SMS
//! before the HTTP request. A node killed before that point leaves a row whose lease runs out
//! and which the next worker sends again: the first SMTP transaction never ended, and an SMTP
//! server discards a transaction whose connection closes before the final dot (RFC 5321 §3.3),
//! so the message arrives once. A row found with `handoff_at` set and its lease expired may or
//! may not have been accepted; it is NOT sent again (nothing is sent twice) but marked `sent`
//! with `unconfirmed = 1`, which the Outbox shows. That window is the time the content and the
//! server's last reply take on the wire (milliseconds for our messages). Each e-mail carries a
//! `Message-ID` derived from the row, so a receiving system that dedupes by it would also
//! drop a second copy. Webhooks are at-least-once by design: a receiver dedupes by `webhook-id`.

use super::sqlite_writer::{Lane, Param};
use super::tx::{sqlx_rows, write_tx, Cols, FromCols, InSqlx, OnWriter, WriteTx};
use super::{Backend, Db, Page, PageRequest, Result, StorageError, Tenant};
use crate::ids::ConversationId;
use crate::ids::MerchantId;
use crate::now_ms;

/// What kind of delivery a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Webhook,
    /// A Web Push alert to a store-app device (`crate::outbound::push`).
    Push,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Webhook => "webhook",
            Channel::Push => "push",
        }
    }
    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "sms" => Some(Channel::Sms),
            "webhook" => Some(Channel::Webhook),
            "push" => Some(Channel::Push),
            _ => None,
        }
    }
}

/// Where a row is in its life (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Queued,
    Sending,
    Sent,
    Failed,
    Dead,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Queued => "queued",
            OutboxStatus::Sending => "sending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
            OutboxStatus::Dead => "dead",
        }
    }
    pub fn parse(s: &str) -> Option<OutboxStatus> {
        [Self::Queued, Self::Sending, Self::Sent, Self::Failed, Self::Dead]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One message to deliver, already rendered.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    pub merchant_id: MerchantId,
    pub channel: Channel,
    /// The e-mail/SMS template it was rendered from, or the webhook event type.
    pub template: String,
    pub idempotency_key: String,
    /// E-mail address (lower case), E.164 phone number, or the endpoint's URL.
    pub recipient: String,
    pub endpoint_id: Option<String>,
    pub conversation_id: Option<ConversationId>,
    /// Stable across attempts: the e-mail's Message-ID (without brackets) or the webhook-id.
    pub message_id: String,
    pub subject: Option<String>,
    pub body_text: Option<String>,
    pub body_html: Option<String>,
    pub payload_json: String,
    /// False for mail the recipient did not ask for (it carries an unsubscribe link).
    pub transactional: bool,
    pub order_key: Option<String>,
    /// How long after enqueueing attempts may still start.
    pub give_up_after_ms: i64,
    /// Per-recipient limit: at most this many e-mails/SMS to one address per hour (0: none).
    pub hourly_limit: i64,
    /// Hold the first attempt this long (e.g. a reply e-mail that waits to see whether the
    /// shopper reads it in the widget first); 0: at once.
    pub delay_ms: i64,
}

/// A webhook event to fan out to the merchant's endpoints subscribed to `event_type`.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub merchant_id: MerchantId,
    pub event_type: String,
    /// The webhook-id (`msg_…`), the same for every endpoint and every attempt.
    pub event_id: String,
    /// The exact JSON body every endpoint receives.
    pub body: String,
    /// Deliveries with the same conversation go out in order, per endpoint.
    pub conversation_id: Option<ConversationId>,
    /// Only this endpoint (test events, redeliveries); `None`: every subscribed one.
    pub only_endpoint: Option<String>,
    /// Suffix of the idempotency key, for a deliberate second delivery (a redelivery).
    pub key_suffix: Option<String>,
    pub give_up_after_ms: i64,
}

#[derive(Debug, Clone)]
pub enum Outgoing {
    Message(NewOutbound),
    Event(NewEvent),
}

/// What enqueueing one row did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// A new row, waiting for a worker.
    Queued(String),
    /// A new row that will not be sent (suppressed address, rate limit); the reason is recorded.
    Refused { id: String, reason: String },
    /// The idempotency key was used before: nothing new.
    Duplicate,
}

mod delivery;
mod enqueue;
pub mod events;
pub use delivery::*;
pub use enqueue::*;

/// A row as the dashboard and the workers read it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OutboxRow {
    pub id: String,
    pub merchant_id: String,
    /// email | sms | webhook
    pub kind: String,
    /// The template, or the webhook event type.
    pub template: String,
    #[serde(skip)]
    pub idempotency_key: String,
    pub recipient: String,
    #[schema(required = true)]
    pub endpoint_id: Option<String>,
    #[schema(required = true)]
    pub conversation_id: Option<ConversationId>,
    /// The e-mail's Message-ID or the webhook-id, the same on every attempt.
    pub message_id: String,
    #[schema(required = true)]
    pub subject: Option<String>,
    #[schema(required = true)]
    pub body_text: Option<String>,
    #[schema(required = true)]
    pub body_html: Option<String>,
    /// Webhooks: the exact body sent. E-mail: headers and language.
    pub payload_json: String,
    #[serde(skip)]
    pub transactional_flag: i64,
    /// queued | sending | sent | failed | dead
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub give_up_at: i64,
    #[serde(skip)]
    pub lease_owner: Option<String>,
    #[serde(skip)]
    pub handoff_at: Option<i64>,
    #[serde(skip)]
    pub unconfirmed_flag: i64,
    #[schema(required = true)]
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    #[schema(required = true)]
    pub sent_at: Option<i64>,
}

impl OutboxRow {
    pub fn channel(&self) -> Option<Channel> {
        Channel::parse(&self.kind)
    }
    pub fn transactional(&self) -> bool {
        self.transactional_flag != 0
    }
    pub fn unconfirmed(&self) -> bool {
        self.unconfirmed_flag != 0
    }
}

const ROW_COLS: &str = "o.id, o.merchant_id, o.kind, o.template, o.idempotency_key, o.recipient, o.endpoint_id, o.conversation_id, \
    o.message_id, o.subject, o.body_text, o.body_html, o.payload_json, o.transactional AS transactional_flag, o.status, o.attempts, \
    o.next_attempt_at, o.give_up_at, o.lease_owner, o.handoff_at, o.unconfirmed AS unconfirmed_flag, o.last_error, o.created_at, \
    o.updated_at, o.sent_at";

/// One delivery attempt as recorded.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AttemptRow {
    pub attempt: i64,
    pub at: i64,
    #[serde(skip)]
    pub ok_flag: i64,
    /// HTTP status (webhooks, SMS) or SMTP reply code (e-mail), when there was an answer.
    #[schema(required = true)]
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    /// The start of the answer (at most 1,000 characters).
    #[schema(required = true)]
    pub response: Option<String>,
    /// Why it failed, when it did.
    #[schema(required = true)]
    pub error: Option<String>,
}

/// Filters of an outbox listing.
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    pub channel: Option<Channel>,
    pub status: Option<OutboxStatus>,
    pub endpoint_id: Option<String>,
    pub recipient: Option<String>,
    pub conversation_id: Option<ConversationId>,
}

impl FromCols for OutboxRow {
    /// A row as the SQLite writer thread reads it (`ROW_COLS`, in order).
    fn from_cols(r: &impl Cols) -> Result<OutboxRow> {
        Ok(OutboxRow {
            id: r.col(0)?,
            merchant_id: r.col(1)?,
            kind: r.col(2)?,
            template: r.col(3)?,
            idempotency_key: r.col(4)?,
            recipient: r.col(5)?,
            endpoint_id: r.col(6)?,
            conversation_id: r.col(7)?,
            message_id: r.col(8)?,
            subject: r.col(9)?,
            body_text: r.col(10)?,
            body_html: r.col(11)?,
            payload_json: r.col(12)?,
            transactional_flag: r.col(13)?,
            status: r.col(14)?,
            attempts: r.col(15)?,
            next_attempt_at: r.col(16)?,
            give_up_at: r.col(17)?,
            lease_owner: r.col(18)?,
            handoff_at: r.col(19)?,
            unconfirmed_flag: r.col(20)?,
            last_error: r.col(21)?,
            created_at: r.col(22)?,
            updated_at: r.col(23)?,
            sent_at: r.col(24)?,
        })
    }
}

impl Db {
    /// One row of this merchant (or of any merchant for the operator, `m = None`).
    pub async fn outbox_row(&self, m: Option<&MerchantId>, id: &str) -> Result<OutboxRow> {
        let sql = format!("SELECT {ROW_COLS} FROM outbox o WHERE o.id = $1 AND ($2 = '' OR o.merchant_id = $2)");
        let params = [Param::text(id), Param::text(m.map(MerchantId::as_str).unwrap_or(""))];
        let rows: Vec<OutboxRow> = sqlx_rows(&self.pool, &sql, &params).await?;
        rows.into_iter().next().ok_or(StorageError::NotFound)
    }

    pub async fn outbox_attempts(&self, id: &str) -> Result<Vec<AttemptRow>> {
        Ok(sqlx::query_as::<_, AttemptRow>(
            "SELECT attempt, at, ok AS ok_flag, status_code, latency_ms, response, error FROM outbox_attempts \
             WHERE outbox_id = $1 ORDER BY attempt",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Newest first; `m = None` lists every merchant's (the operator's view).
    pub async fn list_outbox(&self, m: Option<&MerchantId>, f: &OutboxFilter, page: &PageRequest) -> Result<Page<OutboxRow>> {
        let sql = format!(
            "SELECT {ROW_COLS} FROM outbox o WHERE ($1 = '' OR o.merchant_id = $1) AND ($2 = '' OR o.kind = $2) \
             AND ($3 = '' OR o.status = $3) AND ($4 = '' OR o.endpoint_id = $4) AND ($5 = '' OR o.recipient = $5) \
             AND ($6 = '' OR o.conversation_id = $6) AND o.id < $7 ORDER BY o.id DESC LIMIT $8"
        );
        let params = [
            Param::text(m.map(MerchantId::as_str).unwrap_or("")),
            Param::text(f.channel.map(Channel::as_str).unwrap_or("")),
            Param::text(f.status.map(OutboxStatus::as_str).unwrap_or("")),
            Param::text(f.endpoint_id.as_deref().unwrap_or("")),
            Param::text(f.recipient.as_deref().unwrap_or("")),
            Param::text(f.conversation_id.as_deref().unwrap_or("")),
            Param::text(page.after.as_deref().unwrap_or("\u{10FFFF}")),
            Param::Int(page.fetch()),
        ];
        let rows: Vec<OutboxRow> = sqlx_rows(&self.pool, &sql, &params).await?;
        Ok(Page::from_rows(rows, page, |r| r.id.clone()))
    }

    /// How many e-mails/SMS went to `recipient` for this merchant since `since` (refused ones
    /// not counted): the per-recipient rate limit.
    pub async fn outbox_recent(&self, m: Tenant<'_>, recipient: &str, since: i64) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM outbox WHERE merchant_id = $1 AND recipient = $2 AND created_at > $3 AND status <> 'failed'",
        )
        .bind(m.as_str())
        .bind(recipient)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }
}
