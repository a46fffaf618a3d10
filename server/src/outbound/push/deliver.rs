//! The outbox worker's attempt for a `push` row: an offer alert (template `offer`) or the
//! follow-up that replaces its notification (template `close`).
//!
//! Like SMS, the hand-off is marked (`handoff_at`, fenced) just before the request leaves: a
//! node killed before that leaves a row the next worker sends; one killed after it leaves a
//! row that is not sent again (it is marked sent, unconfirmed). A second copy would be
//! harmless anyway — the push service replaces an undelivered message with the same `Topic`,
//! and the notification's tag replaces a shown one — but it would be a second buzz.

use std::future::Future;
use std::time::Duration;

use super::vapid::Vapid;
use super::wire::{self, Keys, Outcome};
use super::TTL_S;
use crate::now_ms;
use crate::storage::{AlertEvent, AttemptRow, Db, Finish, OutboxRow, PushHanded};

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

/// What the worker lends an attempt.
pub struct Ctx<'a> {
    pub db: &'a Db,
    pub http: &'a reqwest::Client,
    pub vapid: &'a Vapid,
    /// The VAPID `sub` claim (`mailto:` the platform's address).
    pub subject: &'a str,
    pub allow_private: bool,
}

pub async fn attempt<H, F>(
    ctx: &Ctx<'_>,
    row: &OutboxRow,
    mark_handoff: H,
    retry: impl Fn(String, Option<u64>) -> Finish,
) -> (AttemptRow, Finish, Option<PushHanded>)
where
    H: FnOnce() -> F,
    F: Future<Output = bool>,
{
    let offer = row.template == "offer";
    let alert_id = offer.then(|| row.message_id.clone());
    let fail = |reason: &'static str, detail: String| {
        let alert_id = alert_id.clone();
        async move {
            if let Some(a) = alert_id {
                if ctx
                    .db
                    .push_alert_event(&a, &AlertEvent::Failed { reason, detail })
                    .await
                    .unwrap_or(false)
                {
                    let _ = ctx.db.push_alert_counted(&a, "alert_failed").await;
                    metrics::counter!("floorwalker_push_alerts_total", "event" => "failed").increment(1);
                }
            }
        }
    };
    if let Some(a) = &alert_id {
        match ctx.db.push_alert_state(a).await {
            Ok(Some(state)) if state == "closed" || state == "claimed" => {
                let why = "the offer went away before the hand-off; not sent".to_owned();
                return (
                    record(false, None, Duration::ZERO, None, Some(why.clone())),
                    Finish::Failed { error: why },
                    None,
                );
            }
            Ok(_) => {}
            Err(e) => {
                return (
                    record(false, None, Duration::ZERO, None, Some(e.to_string())),
                    retry(e.to_string(), None),
                    None,
                )
            }
        }
    }
    let sub_id = row.endpoint_id.clone().unwrap_or_default();
    let sub = match ctx.db.push_subscription_by_id(&sub_id).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            let why = "the device's subscription was removed (signed out, deactivated or expired)".to_owned();
            fail("expired", why.clone()).await;
            return (
                record(false, None, Duration::ZERO, None, Some(why.clone())),
                Finish::Failed { error: why },
                None,
            );
        }
        Err(e) => {
            return (
                record(false, None, Duration::ZERO, None, Some(e.to_string())),
                retry(e.to_string(), None),
                None,
            )
        }
    };
    let checked = url::Url::parse(&sub.endpoint)
        .map_err(|_| "the push endpoint is not a valid URL".to_owned())
        .and_then(|u| crate::outbound::ssrf::check_literal(&u, ctx.allow_private));
    if let Err(why) = checked {
        fail("push_service", why.clone()).await;
        return (
            record(false, None, Duration::ZERO, None, Some(why.clone())),
            Finish::Failed { error: why },
            None,
        );
    }
    if !mark_handoff().await {
        let why = "another worker took the message over".to_owned();
        return (record(false, None, Duration::ZERO, None, Some(why.clone())), retry(why, None), None);
    }
    let keys = Keys {
        p256dh: sub.p256dh.clone(),
        auth: sub.auth.clone(),
    };
    let topic = row.conversation_id.as_ref().map(wire::topic);
    // What is left of the row's life, so a late retry does not outlive the offer.
    let ttl = ((row.give_up_at - now_ms()) / 1000).clamp(5, TTL_S as i64) as u64;
    let req = wire::Request {
        endpoint: &sub.endpoint,
        keys: &keys,
        payload: row.payload_json.as_bytes(),
        ttl_s: ttl,
        topic: topic.as_deref(),
        subject: ctx.subject,
    };
    let out = wire::send(ctx.http, ctx.vapid, &req).await;
    metrics::counter!("floorwalker_push_handoffs_total", "outcome" => outcome_label(&out)).increment(1);
    match out {
        // The device's success and the alert's hand-off are written with the attempt's record,
        // in one transaction (`Db::finish_attempt_with`): one commit after the hand-off
        // instead of four, so the worker's next alert starts that much sooner.
        Outcome::Accepted { status, latency } => (
            record(true, Some(status), latency, None, None),
            Finish::Sent { unconfirmed: false },
            Some(PushHanded {
                subscription_id: sub.id.clone(),
                alert_id: alert_id.clone(),
            }),
        ),
        Outcome::Gone { status, latency, body } => {
            let why = format!("the push service no longer knows this device ({status}); its subscription was removed");
            let _ = ctx.db.push_subscription_gone(&sub.id).await;
            fail("expired", why.clone()).await;
            (
                record(false, Some(status), latency, Some(body), Some(why.clone())),
                Finish::Failed { error: why },
                None,
            )
        }
        Outcome::Refused { status, latency, body } => {
            let why = format!("the push service refused the message ({status})");
            let _ = ctx.db.push_subscription_result(&sub.id, Some(&why)).await;
            fail("push_service", why.clone()).await;
            (
                record(false, Some(status), latency, Some(body), Some(why.clone())),
                Finish::Failed { error: why },
                None,
            )
        }
        Outcome::Invalid { error } => {
            let _ = ctx.db.push_subscription_result(&sub.id, Some(&error)).await;
            fail("push_service", error.clone()).await;
            (
                record(false, None, Duration::ZERO, None, Some(error.clone())),
                Finish::Failed { error },
                None,
            )
        }
        Outcome::Later {
            status,
            latency,
            body,
            retry_after_s,
        } => {
            let why = format!("the push service answered {status}; trying again");
            let _ = ctx.db.push_subscription_result(&sub.id, Some(&why)).await;
            let fin = retry(why.clone(), retry_after_s);
            settle_retry(ctx, &fin, row, alert_id.as_deref(), &why).await;
            (record(false, Some(status), latency, Some(body), Some(why)), fin, None)
        }
        Outcome::NotConnected { error } => {
            let _ = ctx.db.push_subscription_result(&sub.id, Some(&error)).await;
            let fin = retry(error.clone(), None);
            settle_retry(ctx, &fin, row, alert_id.as_deref(), &error).await;
            (record(false, None, Duration::ZERO, None, Some(error)), fin, None)
        }
        Outcome::Unknown { error, latency } => {
            let why = format!("{error}; the push service may have taken it, so it is not sent again");
            if let Some(a) = &alert_id {
                if ctx.db.push_alert_event(a, &AlertEvent::Handed).await.unwrap_or(false) {
                    let _ = ctx.db.push_alert_counted(a, "alert_sent").await;
                }
                let _ = ctx.db.push_alert_event(a, &AlertEvent::Note(why.clone())).await;
            }
            (
                record(true, None, latency, None, Some(why)),
                Finish::Sent { unconfirmed: true },
                None,
            )
        }
    }
}

/// A retry past the row's give-up time ends it: the alert failed.
async fn settle_retry(ctx: &Ctx<'_>, fin: &Finish, row: &OutboxRow, alert: Option<&str>, why: &str) {
    let Some(a) = alert else { return };
    match fin {
        Finish::Retry { at, .. } if *at > row.give_up_at => {
            let detail = format!("given up: {why}");
            let failed = AlertEvent::Failed {
                reason: "push_service",
                detail,
            };
            if ctx.db.push_alert_event(a, &failed).await.unwrap_or(false) {
                let _ = ctx.db.push_alert_counted(a, "alert_failed").await;
                metrics::counter!("floorwalker_push_alerts_total", "event" => "failed").increment(1);
            }
        }
        _ => {
            let _ = ctx.db.push_alert_event(a, &AlertEvent::Note(why.to_owned())).await;
        }
    }
}

fn outcome_label(o: &Outcome) -> &'static str {
    match o {
        Outcome::Accepted { .. } => "accepted",
        Outcome::Gone { .. } => "gone",
        Outcome::Later { .. } => "later",
        Outcome::Refused { .. } => "refused",
        Outcome::NotConnected { .. } => "not_connected",
        Outcome::Unknown { .. } => "unknown",
        Outcome::Invalid { .. } => "invalid",
    }
}
