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
use crate::ids::MerchantId;
use crate::now_ms;

/// What kind of delivery a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Webhook,
    /// A Web Push alert to a store-app device (`crate::push`).
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
    pub conversation_id: Option<String>,
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
    pub conversation_id: Option<String>,
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

const ENDPOINTS: &str = "SELECT id, url, events_json FROM webhook_endpoints WHERE merchant_id = $1 AND enabled = 1 ORDER BY id";
const SUPPRESSED: &str = "SELECT reason FROM suppressed_addresses WHERE merchant_id = $1 AND channel = $2 AND address = $3";
const RECENT: &str = "SELECT COUNT(*) FROM outbox WHERE merchant_id = $1 AND recipient = $2 AND created_at > $3 AND status <> 'failed'";

// Placeholders first appear in ascending order: the SQLite writer thread binds by position.
const INSERT: &str = "INSERT INTO outbox (id, merchant_id, kind, template, idempotency_key, recipient, endpoint_id, conversation_id, \
    message_id, subject, body_text, body_html, payload_json, transactional, order_key, order_seq, status, attempts, created_at, \
    updated_at, next_attempt_at, give_up_at, last_error) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
    CASE WHEN $15 IS NULL THEN 0 ELSE (SELECT COALESCE(MAX(o.order_seq), 0) + 1 FROM outbox o WHERE o.order_key = $15) END, \
    $16, 0, $17, $17, $18, $19, $20) ON CONFLICT (idempotency_key) DO NOTHING";

/// Enqueue in the caller's write transaction (the SQLite writer thread's or an sqlx one), so the
/// rows commit with whatever else it writes. One [`Enqueued`] per row considered (an event
/// yields one per endpoint it went to).
pub(crate) async fn enqueue_in(tx: &mut impl WriteTx, items: &[Outgoing]) -> Result<Vec<Enqueued>> {
    let now = now_ms();
    let mut msgs = Vec::new();
    for item in items {
        match item {
            Outgoing::Message(m) => msgs.push(m.clone()),
            Outgoing::Event(e) => {
                let rows = tx.rows(ENDPOINTS, &[Param::text(e.merchant_id.as_str())]).await?;
                msgs.extend(fan_out(e, rows));
            }
        }
    }
    let mut out = Vec::new();
    for msg in msgs {
        let mut refused = None;
        if msg.channel != Channel::Webhook {
            let reason: Option<String> = tx.rows(SUPPRESSED, &suppressed_params(&msg)).await?.pop();
            let recent: i64 = if msg.hourly_limit > 0 {
                tx.rows(RECENT, &recent_params(&msg, now)).await?.pop().unwrap_or(0)
            } else {
                0
            };
            refused = refusal(&msg, reason.as_deref(), recent);
        }
        let (id, params) = insert_params(&msg, refused.as_deref(), now);
        let done = tx.execute(INSERT, &params).await.map_err(order_conflict)?;
        out.push(outcome(done, id, refused));
    }
    Ok(out)
}

/// [`enqueue_in`] inside a job of the SQLite writer thread (`SqliteWriter::transaction`), so
/// the rows commit with whatever else the job writes.
pub fn enqueue_on_writer(c: &rusqlite::Connection, items: &[Outgoing]) -> Result<Vec<Enqueued>> {
    futures::executor::block_on(enqueue_in(&mut OnWriter(c), items))
}

/// One row per enabled endpoint (id, url, events) that wants the event.
fn fan_out(e: &NewEvent, endpoints: Vec<(String, String, String)>) -> Vec<NewOutbound> {
    let mut out = Vec::new();
    for (id, url, events) in endpoints {
        let wanted = match &e.only_endpoint {
            Some(only) => *only == id,
            None => serde_json::from_str::<Vec<String>>(&events).is_ok_and(|list| list.contains(&e.event_type)),
        };
        if !wanted {
            continue;
        }
        let idempotency_key = match &e.key_suffix {
            Some(s) => format!("webhook:{}:{id}:{s}", e.event_id),
            None => format!("webhook:{}:{id}", e.event_id),
        };
        // A redelivery or a test is asked for by hand: it does not queue behind the
        // conversation's other deliveries.
        let order_key = match (&e.conversation_id, &e.key_suffix) {
            (Some(c), None) => Some(format!("{id}:{c}")),
            _ => None,
        };
        out.push(NewOutbound {
            merchant_id: e.merchant_id.clone(),
            channel: Channel::Webhook,
            template: e.event_type.clone(),
            idempotency_key,
            recipient: url,
            endpoint_id: Some(id),
            conversation_id: e.conversation_id.clone(),
            message_id: e.event_id.clone(),
            subject: None,
            body_text: None,
            body_html: None,
            payload_json: e.body.clone(),
            transactional: true,
            order_key,
            give_up_after_ms: e.give_up_after_ms,
            hourly_limit: 0,
            delay_ms: 0,
        });
    }
    out
}

fn suppressed_params(m: &NewOutbound) -> Vec<Param> {
    vec![
        Param::text(m.merchant_id.as_str()),
        Param::text(m.channel.as_str()),
        Param::text(&m.recipient),
    ]
}

fn recent_params(m: &NewOutbound, now: i64) -> Vec<Param> {
    vec![
        Param::text(m.merchant_id.as_str()),
        Param::text(&m.recipient),
        Param::Int(now - 3_600_000),
    ]
}

/// Why an e-mail or SMS will not be sent: a bounced address, an unsubscribe (for mail the
/// recipient did not ask for), the per-recipient hourly limit.
fn refusal(m: &NewOutbound, suppressed: Option<&str>, recent: i64) -> Option<String> {
    match suppressed {
        Some("unsubscribe") if !m.transactional => return Some("suppressed: the recipient unsubscribed".into()),
        Some("unsubscribe") | None => {}
        Some(other) => return Some(format!("suppressed: the address {other}d earlier; nothing is sent to it")),
    }
    (m.hourly_limit > 0 && recent >= m.hourly_limit).then(|| format!("rate limited: {recent} messages to this recipient in the last hour"))
}

fn insert_params(m: &NewOutbound, refused: Option<&str>, now: i64) -> (String, Vec<Param>) {
    let id = uuid::Uuid::now_v7().to_string();
    let params = vec![
        Param::text(&id),
        Param::text(m.merchant_id.as_str()),
        Param::text(m.channel.as_str()),
        Param::text(&m.template),
        Param::text(&m.idempotency_key),
        Param::text(&m.recipient),
        Param::opt_text(m.endpoint_id.as_deref()),
        Param::opt_text(m.conversation_id.as_deref()),
        Param::text(&m.message_id),
        Param::opt_text(m.subject.as_deref()),
        Param::opt_text(m.body_text.as_deref()),
        Param::opt_text(m.body_html.as_deref()),
        Param::text(&m.payload_json),
        Param::Int(i64::from(m.transactional)),
        Param::opt_text(m.order_key.as_deref()),
        Param::text(if refused.is_some() { "failed" } else { "queued" }),
        Param::Int(now),
        Param::Int(now + m.delay_ms.max(0)),
        Param::Int(now + m.give_up_after_ms.max(m.delay_ms)),
        Param::opt_text(refused),
    ];
    (id, params)
}

fn outcome(done: u64, id: String, refused: Option<String>) -> Enqueued {
    match (done, refused) {
        (0, _) => Enqueued::Duplicate,
        (_, Some(reason)) => Enqueued::Refused { id, reason },
        (_, None) => Enqueued::Queued(id),
    }
}

fn order_conflict(e: StorageError) -> StorageError {
    let unique = match &e {
        StorageError::Db(sqlx::Error::Database(d)) => d.is_unique_violation(),
        StorageError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE,
        _ => false,
    };
    if unique {
        StorageError::Conflict("outbox order: enqueue after the conversation's own write".into())
    } else {
        e
    }
}

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
    pub conversation_id: Option<String>,
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
    pub conversation_id: Option<String>,
}

/// How a claimed attempt ended, as the worker reports it.
#[derive(Debug, Clone)]
pub enum Finish {
    Sent {
        unconfirmed: bool,
    },
    /// Try again at this time (a row past its `give_up_at` goes dead instead).
    Retry {
        at: i64,
        error: String,
    },
    Failed {
        error: String,
    },
}

/// The fencing token of a claimed row: only the worker that holds it may write about the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: String,
    pub owner: String,
    pub attempt: i64,
}

// The claim, in two steps (see `Db::claim_outbox`): rows whose lease ran out, then due rows.
const CLAIM_EXPIRED: &str = "SELECT o.id FROM outbox o WHERE o.status = 'sending' AND o.lease_until < $1 \
    AND (o.kind <> 'email' OR $2 = 1) ORDER BY o.next_attempt_at LIMIT $3";
const CLAIM_DUE: &str = "SELECT o.id FROM outbox o WHERE o.status = 'queued' AND o.next_attempt_at <= $1 \
    AND (o.kind <> 'email' OR $2 = 1) \
    AND (o.order_key IS NULL OR NOT EXISTS (SELECT 1 FROM outbox p WHERE p.order_key = o.order_key \
         AND p.order_seq < o.order_seq AND p.status IN ('queued', 'sending'))) \
    ORDER BY o.next_attempt_at, o.id LIMIT $3";
const CLAIM_ONE: &str =
    "UPDATE outbox SET status = 'sending', lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 WHERE id = $4";

const RENEW: &str = "UPDATE outbox SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND attempts = $4 AND status = 'sending'";
const HANDOFF: &str = "UPDATE outbox SET handoff_at = $1 WHERE id = $2 AND lease_owner = $3 AND attempts = $4 AND status = 'sending'";
const FINISH_SENT: &str = "UPDATE outbox SET status = 'sent', sent_at = $1, updated_at = $1, lease_owner = NULL, lease_until = NULL, \
    unconfirmed = $2, last_error = $3 WHERE id = $4 AND lease_owner = $5 AND attempts = $6 AND status = 'sending'";
const FINISH_RETRY: &str = "UPDATE outbox SET status = CASE WHEN $1 > give_up_at THEN 'dead' ELSE 'queued' END, next_attempt_at = $1, \
    updated_at = $2, lease_owner = NULL, lease_until = NULL, handoff_at = NULL, last_error = $3 \
    WHERE id = $4 AND lease_owner = $5 AND attempts = $6 AND status = 'sending'";
const FINISH_FAILED: &str =
    "UPDATE outbox SET status = 'failed', updated_at = $1, lease_owner = NULL, lease_until = NULL, last_error = $2 \
    WHERE id = $3 AND lease_owner = $4 AND attempts = $5 AND status = 'sending'";
const ATTEMPT: &str =
    "INSERT INTO outbox_attempts (id, outbox_id, merchant_id, attempt, at, ok, status_code, latency_ms, response, error) \
    SELECT $1, id, merchant_id, $2, $3, $4, $5, $6, $7, $8 FROM outbox WHERE id = $9";

/// What a push hand-off the push service accepted records with its attempt, in the same
/// transaction (`Db::finish_attempt_with`): the device's success and, for an offer, the
/// alert's hand-off (counted in Analytics as `alert_sent` the first time).
#[derive(Debug, Clone)]
pub struct PushHanded {
    pub subscription_id: String,
    pub alert_id: Option<String>,
}

/// A device's success: written when it clears a failure, or at most once a minute otherwise
/// (`last_success_at` is to the minute). Written on every push, the few rows of a merchant's
/// devices took an update per alert — 665 a second in `loadtest locked` — and on PostgreSQL
/// their dead versions piled up between vacuums under every lookup of a device.
const SUB_SUCCESS: &str = "UPDATE push_subscriptions SET failures = 0, last_error = NULL, last_success_at = $1 WHERE id = $2 \
    AND (failures <> 0 OR last_error IS NOT NULL OR last_success_at IS NULL OR last_success_at < $1 - 60000)";
const ALERT_HANDED: &str = "UPDATE push_alerts SET state = CASE WHEN state = 'queued' THEN 'handed' ELSE state END, \
    handed_at = COALESCE(handed_at, $1), updated_at = $1 WHERE id = $2 AND handed_at IS NULL";
const ALERT_SENT_EVENT: &str = "INSERT INTO events (id, merchant_id, kind, at, shopper_id, store_id, department_id, expert_id, \
    conversation_id, value, data_json) SELECT $1, merchant_id, 'alert_sent', $2, NULL, store_id, department_id, expert_id, \
    conversation_id, NULL, NULL FROM push_alerts WHERE id = $3";

/// One SQL statement and its parameters.
type Statement = (&'static str, Vec<Param>);

/// The statements of a finished attempt: the row's new state (conditional on the lease) and the
/// attempt's record (only when the lease held).
fn finish_statements(lease: &Lease, attempt: &AttemptRow, finish: &Finish, now: i64) -> (Statement, Statement) {
    let fence = [Param::text(&lease.id), Param::text(&lease.owner), Param::Int(lease.attempt)];
    let update = match finish {
        Finish::Sent { unconfirmed } => (
            FINISH_SENT,
            [
                vec![
                    Param::Int(now),
                    Param::Int(i64::from(*unconfirmed)),
                    Param::opt_text(attempt.error.as_deref()),
                ],
                fence.to_vec(),
            ]
            .concat(),
        ),
        Finish::Retry { at, error } => (
            FINISH_RETRY,
            [vec![Param::Int(*at), Param::Int(now), Param::text(error)], fence.to_vec()].concat(),
        ),
        Finish::Failed { error } => (FINISH_FAILED, [vec![Param::Int(now), Param::text(error)], fence.to_vec()].concat()),
    };
    let record = (
        ATTEMPT,
        vec![
            Param::Text(uuid::Uuid::now_v7().to_string()),
            Param::Int(lease.attempt),
            Param::Int(attempt.at),
            Param::Int(attempt.ok_flag),
            Param::opt_int(attempt.status_code),
            Param::Int(attempt.latency_ms),
            Param::opt_text(attempt.response.as_deref()),
            Param::opt_text(attempt.error.as_deref()),
            Param::text(&lease.id),
        ],
    );
    (update, record)
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
    /// Enqueue in a transaction of its own.
    pub async fn enqueue(&self, items: &[Outgoing]) -> Result<Vec<Enqueued>> {
        let mut tx = self.begin_write().await?;
        let out = enqueue_in(&mut InSqlx(&mut tx), items).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Take up to `limit` due rows for `owner` until `lease_until`: queued rows whose time has
    /// come, and `sending` rows whose lease ran out (their worker died). A row waits while an
    /// earlier row of its `order_key` is unfinished. Each claim counts as an attempt. A node
    /// without SMTP (`with_email` false) leaves e-mail to others (or in the Outbox).
    pub async fn claim_outbox(&self, owner: &str, now: i64, lease_until: i64, limit: i64, with_email: bool) -> Result<Vec<OutboxRow>> {
        // On SQLite on the writer thread: the claim shares a commit with whatever else is
        // writing (the next attempts' hand-offs, messages) instead of taking SQLite's write lock
        // from a second connection. Rows whose lease ran out first, then due rows in due order,
        // each step an ordered scan of the `outbox_due` index (never sorting the whole queue).
        // On PostgreSQL a plain index scan matters: one statement with `(queued AND due) OR
        // (sending AND lease ran out)` was planned as a bitmap scan, which visited every dead
        // `sending` version left in the `outbox_due` index each time (18 ms per claim after
        // 40,000 pushes without a vacuum: the hand-off rate fell from 665 to 330 a second, run
        // after run); a plain index scan marks the dead entries it meets, so the next claim skips
        // them.
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE OF o SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let expired = format!("{CLAIM_EXPIRED}{lock}");
        let due = format!("{CLAIM_DUE}{lock}");
        let by_id = format!("SELECT {ROW_COLS} FROM outbox o WHERE o.id = $1");
        let (owner, email) = (owner.to_owned(), Param::Int(i64::from(with_email)));
        write_tx!(self, Lane::Now, |tx| async move {
            let mut ids: Vec<String> = tx.rows(&expired, &[Param::Int(now), email.clone(), Param::Int(limit)]).await?;
            let left = limit - ids.len() as i64;
            if left > 0 {
                ids.extend(tx.rows::<String>(&due, &[Param::Int(now), email, Param::Int(left)]).await?);
            }
            let mut rows = Vec::with_capacity(ids.len());
            for id in ids {
                let claim = [Param::text(&owner), Param::Int(lease_until), Param::Int(now), Param::text(&id)];
                tx.execute(CLAIM_ONE, &claim).await?;
                rows.extend(tx.rows::<OutboxRow>(&by_id, &[Param::Text(id)]).await?);
            }
            Ok(rows)
        })
    }

    /// Extend a lease; false when it is no longer ours (another worker took the row over).
    pub async fn renew_lease(&self, lease: &Lease, until: i64) -> Result<bool> {
        let params = vec![
            Param::Int(until),
            Param::text(&lease.id),
            Param::text(&lease.owner),
            Param::Int(lease.attempt),
        ];
        Ok(self.write_one(RENEW, params).await? == 1)
    }

    /// Record that the message is about to be handed over (see the module documentation);
    /// false when the lease is lost, in which case the caller must not hand it over. Committed
    /// (on disk) when this returns.
    pub async fn mark_handoff(&self, lease: &Lease) -> Result<bool> {
        let params = vec![
            Param::Int(now_ms()),
            Param::text(&lease.id),
            Param::text(&lease.owner),
            Param::Int(lease.attempt),
        ];
        Ok(self.write_one(HANDOFF, params).await? == 1)
    }

    /// Record an attempt and its outcome in one transaction; false (and nothing written) when
    /// the lease was lost meanwhile.
    pub async fn finish_attempt(&self, lease: &Lease, attempt: &AttemptRow, finish: &Finish) -> Result<bool> {
        Ok(self.finish_attempt_with(lease, attempt, finish, None).await?.0)
    }

    /// As [`Db::finish_attempt`], and with it (in the same transaction) what an accepted push
    /// hand-off records: the device's success and the alert's hand-off — these are recorded
    /// even when the lease was lost meanwhile (the message did reach the push service).
    /// Returns (the attempt was recorded, the alert's hand-off was news).
    pub async fn finish_attempt_with(
        &self,
        lease: &Lease,
        attempt: &AttemptRow,
        finish: &Finish,
        handed: Option<&PushHanded>,
    ) -> Result<(bool, bool)> {
        let now = now_ms();
        let ((sql, params), (record_sql, record)) = finish_statements(lease, attempt, finish, now);
        let handed = handed.cloned();
        let event_id = uuid::Uuid::now_v7().to_string();
        // The push bookkeeping commits even when the lease was lost (see above).
        write_tx!(self, Lane::Now, |tx| async move {
            let news = match &handed {
                Some(h) => push_handed(tx, h, now, event_id).await?,
                None => false,
            };
            let done = tx.execute(sql, &params).await?;
            if done == 1 {
                tx.execute(record_sql, &record).await?;
            }
            Ok((done == 1, news))
        })
    }

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

    /// Put a failed or dead row back in the queue (a person asked for it); its attempts go on.
    pub async fn retry_outbox(&self, m: Option<&MerchantId>, id: &str, give_up_after_ms: i64) -> Result<OutboxRow> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE outbox SET status = 'queued', next_attempt_at = $1, give_up_at = $2, updated_at = $1, handoff_at = NULL \
             WHERE id = $3 AND ($4 = '' OR merchant_id = $4) AND status IN ('failed', 'dead')",
        )
        .bind(now)
        .bind(now + give_up_after_ms)
        .bind(id)
        .bind(m.map(MerchantId::as_str).unwrap_or(""))
        .execute(&self.writer)
        .await?;
        let row = self.outbox_row(m, id).await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::Conflict(format!(
                "only failed or dead messages can be retried; this one is {}",
                row.status
            )));
        }
        Ok(row)
    }

    /// When the earliest queued row is due (the workers sleep until then, at most a second).
    pub async fn outbox_next_due(&self) -> Result<Option<i64>> {
        // Asked after every claim: on SQLite on the calling thread (`sqlite_reader`).
        let rows: Vec<(Option<i64>,)> = self
            .hot_rows("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'queued'", &[])
            .await?;
        Ok(rows.into_iter().next().and_then(|r| r.0))
    }

    /// Forget finished rows older than `cutoff` (their attempts go with them).
    pub async fn prune_outbox(&self, cutoff: i64) -> Result<u64> {
        sqlx::query(
            "DELETE FROM outbox_attempts WHERE outbox_id IN (SELECT id FROM outbox WHERE status IN ('sent', 'failed', 'dead') AND updated_at < $1)",
        )
        .bind(cutoff)
        .execute(&self.writer)
        .await?;
        Ok(
            sqlx::query("DELETE FROM outbox WHERE status IN ('sent', 'failed', 'dead') AND updated_at < $1")
                .bind(cutoff)
                .execute(&self.writer)
                .await?
                .rows_affected(),
        )
    }
}

/// The push bookkeeping of an accepted hand-off (see [`PushHanded`]); true when the alert's
/// hand-off was news.
async fn push_handed(tx: &mut impl WriteTx, h: &PushHanded, now: i64, event_id: String) -> Result<bool> {
    tx.execute(SUB_SUCCESS, &[Param::Int(now), Param::text(&h.subscription_id)]).await?;
    let Some(a) = &h.alert_id else { return Ok(false) };
    if tx.execute(ALERT_HANDED, &[Param::Int(now), Param::text(a)]).await? != 1 {
        return Ok(false);
    }
    tx.execute(ALERT_SENT_EVENT, &[Param::Text(event_id), Param::Int(now), Param::text(a)])
        .await?;
    Ok(true)
}
