//! Writing rows: the rules every enqueue follows (suppressed addresses, per-recipient limits,
//! one row per subscribed endpoint, idempotency keys, order keys).

use super::*;

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

impl Db {
    /// Enqueue in a transaction of its own.
    pub async fn enqueue(&self, items: &[Outgoing]) -> Result<Vec<Enqueued>> {
        let mut tx = self.begin_write().await?;
        let out = enqueue_in(&mut InSqlx(&mut tx), items).await?;
        tx.commit().await?;
        Ok(out)
    }
}
