//! This node's delivery worker: claims due outbox rows, delivers each in a task of its own
//! while renewing its lease, and records how the attempt ended.
//!
//! Every node runs one; they share the rows through the claim (see `storage::outbox`). A node
//! without SMTP configured does not claim e-mail, which then waits in the Outbox.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::email::SmtpOutcome;
use super::{email, sms, webhook, Inner};
use crate::now_ms;
use crate::storage::{AttemptRow, Channel, Finish, Lease, OutboxRow, PushHanded};

/// Deliveries in flight on one node. Most of a push attempt is waiting (two commits and the
/// push service's answer), and a chat alerts every phone of its department at once: with 8 in
/// flight the alerts of a busy minute queued for seconds, and with 32 a push service that
/// answers in 100 ms held a node to ~300 alerts a second (`loadtest locked --answer-after
/// 100ms`: 665 a second asked for, first alert p99 25 s; docs/benchmarks.md, issue 23).
const CONCURRENCY: usize = 256;
/// Of which at most this many e-mails, SMS and webhooks (each may hold an SMTP session or a
/// slow endpoint for seconds); a claimed one waits for its slot with its lease renewed.
const OTHER_CONCURRENCY: usize = 8;

pub(super) async fn run(inner: Arc<Inner>, stop: CancellationToken) {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let others = Arc::new(Semaphore::new(OTHER_CONCURRENCY));
    let tasks = TaskTracker::new();
    loop {
        let free = permits.available_permits();
        if free > 0 {
            match claim(&inner, free as i64).await {
                Ok(rows) => {
                    for row in rows {
                        let Ok(permit) = permits.clone().try_acquire_owned() else { break };
                        let (inner, permits) = (inner.clone(), permits.clone());
                        let gate = (row.channel() != Some(Channel::Push)).then(|| others.clone());
                        tasks.spawn(async move {
                            deliver(&inner, row, gate).await;
                            drop(permit);
                            // A quarter of the slots free: claim again now rather than at the
                            // next tick, so a queue of alerts keeps every slot busy.
                            if permits.available_permits() == CONCURRENCY / 4 {
                                inner.wake.notify_one();
                            }
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not claim outbox rows"),
            }
        }
        // Sleep until the next row is due (at most a second: other nodes enqueue too).
        let wait = match inner.db.outbox_next_due().await {
            Ok(Some(at)) => Duration::from_millis((at - now_ms()).clamp(5, 1_000) as u64),
            _ => Duration::from_secs(1),
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = inner.wake.notified() => {}
            _ = inner.db.hooks.enqueued() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    // Let attempts under way finish (a cut SMTP session would only be repeated elsewhere).
    tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(10), tasks.wait()).await;
}

async fn claim(inner: &Inner, limit: i64) -> crate::storage::Result<Vec<OutboxRow>> {
    let now = now_ms();
    let rows = inner
        .db
        .claim_outbox(&inner.node, now, now + inner.timing.lease_ms(), limit, inner.smtp.is_some())
        .await?;
    Ok(rows)
}

/// Deliver one claimed row and record the outcome. `gate`: a slot to wait for first (see
/// `OTHER_CONCURRENCY`), while the lease is already being renewed.
async fn deliver(inner: &Inner, row: OutboxRow, gate: Option<Arc<Semaphore>>) {
    let lease = Lease {
        id: row.id.clone(),
        owner: inner.node.clone(),
        attempt: row.attempts,
    };
    let lost = CancellationToken::new();
    let renewer = tokio::spawn(renew(inner.db.clone(), lease.clone(), inner.timing.lease_ms(), lost.clone()));
    let work = async {
        let _slot = match gate {
            Some(g) => g.acquire_owned().await.ok(),
            None => None,
        };
        attempt(inner, &row, &lease).await
    };
    let (attempt, finish, handed) = tokio::select! {
        r = work => r,
        _ = lost.cancelled() => {
            tracing::warn!(row = %row.id, "lost the lease on an outbox row; another worker has it");
            renewer.abort();
            return;
        }
    };
    renewer.abort();
    match inner.db.finish_attempt_with(&lease, &attempt, &finish, handed.as_ref()).await {
        Ok((recorded, alert_handed)) => {
            if alert_handed {
                metrics::counter!("floorwalker_push_alerts_total", "event" => "handed").increment(1);
            }
            if !recorded {
                tracing::warn!(row = %row.id, "an outbox row changed hands before its attempt was recorded");
                return;
            }
            let outcome = match &finish {
                Finish::Sent { .. } => "sent",
                Finish::Retry { .. } => "retry",
                Finish::Failed { .. } => "failed",
            };
            metrics::counter!("floorwalker_outbound_attempts_total", "kind" => row.kind.clone(), "outcome" => outcome).increment(1);
        }
        Err(e) => {
            tracing::warn!(row = %row.id, error = %e, "could not record an outbox attempt (the lease will run out and it is tried again)")
        }
    }
}

async fn renew(db: crate::storage::Db, lease: Lease, lease_ms: i64, lost: CancellationToken) {
    let every = Duration::from_millis((lease_ms / 3).max(200) as u64);
    loop {
        tokio::time::sleep(every).await;
        match db.renew_lease(&lease, now_ms() + lease_ms).await {
            Ok(true) => {}
            Ok(false) => {
                lost.cancel();
                return;
            }
            // The database is unreachable: keep trying; the lease may still hold.
            Err(e) => tracing::warn!(error = %e, "could not renew an outbox lease"),
        }
    }
}

fn record(ok: bool, status: Option<u16>, latency: Duration, response: Option<String>, error: Option<String>) -> AttemptRow {
    AttemptRow {
        attempt: 0,
        at: now_ms(),
        ok_flag: i64::from(ok),
        status_code: status.map(i64::from),
        latency_ms: latency.as_millis() as i64,
        response,
        error,
    }
}

/// How an attempt ended, and for an accepted push what to record with it.
type Attempted = (AttemptRow, Finish, Option<PushHanded>);

async fn attempt(inner: &Inner, row: &OutboxRow, lease: &Lease) -> Attempted {
    let now = now_ms();
    let retry = |error: String, retry_after_s: Option<u64>| {
        let channel = row.channel().unwrap_or(Channel::Webhook);
        let mut delay = inner.timing.backoff_ms(channel, row.attempts);
        if let Some(s) = retry_after_s {
            delay = delay.max(inner.timing.scale((s.min(3600) * 1000) as i64));
        }
        Finish::Retry {
            at: now_ms() + delay,
            error,
        }
    };
    if row.handoff_at.is_some() {
        // A worker died while handing this message over: it may have arrived. Not sending it
        // again is what keeps it from arriving twice.
        let why = "the node delivering it stopped during the hand-off; not sent again so it cannot arrive twice".to_owned();
        return (
            record(true, None, Duration::ZERO, None, Some(why.clone())),
            Finish::Sent { unconfirmed: true },
            None,
        );
    }
    if now > row.give_up_at {
        let why = "given up: no success within the retry period".to_owned();
        return (
            record(false, None, Duration::ZERO, None, Some(why.clone())),
            Finish::Retry { at: now, error: why },
            None,
        );
    }
    let (attempt, finish) = match row.channel() {
        Some(Channel::Email) => email_attempt(inner, row, lease, retry).await,
        Some(Channel::Sms) => sms_attempt(inner, row, lease, retry).await,
        Some(Channel::Webhook) => webhook_attempt(inner, row, retry).await,
        Some(Channel::Push) => return push_attempt(inner, row, lease, retry).await,
        None => {
            let why = format!("unknown kind {}", row.kind);
            (
                record(false, None, Duration::ZERO, None, Some(why.clone())),
                Finish::Failed { error: why },
            )
        }
    };
    (attempt, finish, None)
}

async fn email_attempt(
    inner: &Inner,
    row: &OutboxRow,
    lease: &Lease,
    retry: impl Fn(String, Option<u64>) -> Finish,
) -> (AttemptRow, Finish) {
    let Some(smtp) = &inner.smtp else {
        let why = "no SMTP server is configured".to_owned();
        return (record(false, None, Duration::ZERO, None, Some(why.clone())), retry(why, None));
    };
    let (outcome, took) = email::send(smtp, row, || async { inner.db.mark_handoff(lease).await.unwrap_or(false) }).await;
    match outcome {
        SmtpOutcome::Accepted { code, reply } => (
            record(true, Some(code), took, Some(reply), None),
            Finish::Sent { unconfirmed: false },
        ),
        SmtpOutcome::NotSent {
            permanent: true,
            code,
            error,
        } => {
            // A 5xx reply: the address (or the message) is refused for good. The address is
            // suppressed when the refusal is about the recipient.
            if let Ok(m) = crate::ids::MerchantId::parse(&row.merchant_id).ok_or(()) {
                if code.is_some_and(|c| (550..=553).contains(&c) || c == 554) {
                    let _ = inner.db.suppress(&m, "email", &row.recipient, "bounce", Some(&error)).await;
                }
            }
            (record(false, code, took, None, Some(error.clone())), Finish::Failed { error })
        }
        SmtpOutcome::NotSent {
            permanent: false,
            code,
            error,
        } => (record(false, code, took, None, Some(error.clone())), retry(error, None)),
        SmtpOutcome::Unknown { error } => {
            let why = format!(
                "the connection failed while the server was accepting the message ({error}); not sent again so it cannot arrive twice"
            );
            (record(true, None, took, None, Some(why)), Finish::Sent { unconfirmed: true })
        }
        SmtpOutcome::LeaseLost => {
            let why = "another worker took the message over".to_owned();
            (record(false, None, took, None, Some(why.clone())), retry(why, None))
        }
    }
}

async fn sms_attempt(inner: &Inner, row: &OutboxRow, lease: &Lease, retry: impl Fn(String, Option<u64>) -> Finish) -> (AttemptRow, Finish) {
    let Some(m) = crate::ids::MerchantId::parse(&row.merchant_id) else {
        let why = "corrupt merchant id".to_owned();
        return (
            record(false, None, Duration::ZERO, None, Some(why.clone())),
            Finish::Failed { error: why },
        );
    };
    let gw = match inner.db.messaging(&m).await {
        Ok(g) => g,
        Err(e) => {
            return (
                record(false, None, Duration::ZERO, None, Some(e.to_string())),
                retry(e.to_string(), None),
            )
        }
    };
    if !gw.sms_ready() {
        let why = "SMS is not set up for this merchant (Settings → Messaging)".to_owned();
        return (
            record(false, None, Duration::ZERO, None, Some(why.clone())),
            Finish::Failed { error: why },
        );
    }
    let target = sms::messages_url(&gw.sms_base_url, &gw.sms_account_sid);
    if let Err(e) = url::Url::parse(&target)
        .map_err(|_| "the gateway URL is not valid".to_owned())
        .and_then(|u| super::ssrf::check_literal(&u, inner.allow_private))
    {
        return (
            record(false, None, Duration::ZERO, None, Some(e.clone())),
            Finish::Failed { error: e },
        );
    }
    if !inner.db.mark_handoff(lease).await.unwrap_or(false) {
        let why = "another worker took the message over".to_owned();
        return (record(false, None, Duration::ZERO, None, Some(why.clone())), retry(why, None));
    }
    let body = row.body_text.clone().unwrap_or_default();
    let out = sms::send(&inner.http, &gw, &row.recipient, &body, &row.idempotency_key).await;
    let rec = record(out.ok(), out.status, out.latency, out.excerpt.clone(), out.error.clone());
    let error = out.error.clone().unwrap_or_default();
    match out.status {
        Some(_) if out.ok() => (rec, Finish::Sent { unconfirmed: false }),
        Some(408 | 429) | Some(500..=599) => (rec, retry(error, out.retry_after_s)),
        Some(_) => (rec, Finish::Failed { error }),
        // Refused before a connection (no request left): safe to try again.
        None if error.starts_with("could not connect") || error.starts_with("refused") => (rec, retry(error, None)),
        None => {
            let why = format!("{error}; the gateway may have taken it, so it is not sent again");
            (record(true, None, out.latency, None, Some(why)), Finish::Sent { unconfirmed: true })
        }
    }
}

async fn webhook_attempt(inner: &Inner, row: &OutboxRow, retry: impl Fn(String, Option<u64>) -> Finish) -> (AttemptRow, Finish) {
    let endpoint = row.endpoint_id.clone().unwrap_or_default();
    let (enabled, secrets) = match inner.db.webhook_signing(&endpoint).await {
        Ok(Some(x)) => x,
        Ok(None) => {
            let why = "the endpoint was deleted".to_owned();
            return (
                record(false, None, Duration::ZERO, None, Some(why.clone())),
                Finish::Failed { error: why },
            );
        }
        Err(e) => {
            return (
                record(false, None, Duration::ZERO, None, Some(e.to_string())),
                retry(e.to_string(), None),
            )
        }
    };
    if !enabled {
        let why = "the endpoint is disabled".to_owned();
        return (
            record(false, None, Duration::ZERO, None, Some(why.clone())),
            Finish::Failed { error: why },
        );
    }
    let out = webhook::deliver(
        &inner.http,
        &row.recipient,
        inner.allow_private,
        &secrets,
        &row.message_id,
        &row.payload_json,
    )
    .await;
    let rec = record(out.ok(), out.status, out.latency, out.excerpt.clone(), out.error.clone());
    if out.ok() {
        let _ = inner.db.webhook_succeeded(&endpoint).await;
        return (rec, Finish::Sent { unconfirmed: false });
    }
    let gone = out.status == Some(410);
    match inner.db.webhook_failed(&endpoint, inner.timing.disable_after_ms(), gone).await {
        Ok(true) => tracing::warn!(endpoint = %endpoint, gone, "webhook endpoint disabled after sustained failure"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "could not record a webhook failure"),
    }
    let error = out.error.clone().unwrap_or_default();
    if gone {
        return (rec, Finish::Failed { error });
    }
    (rec, retry(error, out.retry_after_s))
}

async fn push_attempt(inner: &Inner, row: &OutboxRow, lease: &Lease, retry: impl Fn(String, Option<u64>) -> Finish) -> Attempted {
    let vapid = match inner
        .vapid
        .get_or_try_init(|| crate::outbound::push::vapid::Vapid::load(&inner.db))
        .await
    {
        Ok(v) => v,
        Err(e) => {
            return (
                record(false, None, Duration::ZERO, None, Some(e.to_string())),
                retry(e.to_string(), None),
                None,
            )
        }
    };
    let subject = format!("mailto:{}", super::bare_address(&inner.mail_from));
    let ctx = crate::outbound::push::deliver::Ctx {
        db: &inner.db,
        http: &inner.http,
        vapid,
        subject: &subject,
        allow_private: inner.allow_private,
    };
    crate::outbound::push::deliver::attempt(&ctx, row, || async { inner.db.mark_handoff(lease).await.unwrap_or(false) }, retry).await
}
