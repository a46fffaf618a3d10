//! Web Push for the store app (issue 23; docs/push.md): the server's public VAPID key, the
//! expert's devices, the service worker's reports on each alert, and the Team page's view of
//! who can be alerted.

use crate::ids::ConversationId;
use crate::storage::ConversationStatus;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::{modules::Team, ApprovedExpert, JsonBody, Merchant, Query};
use super::AppState;
use crate::domain::Problems;
use crate::now_ms;
use crate::outbound::push::{wire, FAILING_AFTER, LANGUAGES};
use crate::storage::{AlertEvent, NewSubscription, PushAlert, PushSubscription};

/// Devices one expert may register.
pub const MAX_DEVICES: usize = 10;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(public_key))
        .routes(routes!(list_subscriptions, subscribe))
        .routes(routes!(unsubscribe))
        .routes(routes!(report))
        .routes(routes!(my_alerts))
        .routes(routes!(missed_chats))
        .routes(routes!(team_alerting))
        .routes(routes!(team_alert_log))
}

#[derive(Serialize, ToSchema)]
pub struct PushKey {
    /// The server's VAPID public key (base64url, uncompressed P-256 point): pass it to
    /// `pushManager.subscribe` as `applicationServerKey`.
    pub public_key: String,
}

/// The server's VAPID public key.
#[utoipa::path(get, path = "/app/push/key", tag = "store_app",
    responses((status = 200, body = PushKey), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)),
    security(("expert_token" = [])))]
async fn public_key(State(state): State<AppState>, _e: ApprovedExpert) -> ApiResult<Json<PushKey>> {
    let v = state.outbound.vapid().await?;
    Ok(Json(PushKey {
        public_key: v.public_key(),
    }))
}

/// The signed-in expert's devices that get alerts.
#[utoipa::path(get, path = "/app/push/subscriptions", tag = "store_app",
    responses((status = 200, body = Vec<PushSubscription>), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)),
    security(("expert_token" = [])))]
async fn list_subscriptions(State(state): State<AppState>, ApprovedExpert(s): ApprovedExpert) -> ApiResult<Json<Vec<PushSubscription>>> {
    Ok(Json(
        state.db.push_subscriptions(&s.expert.merchant_id, s.expert.id.as_str()).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct SubscriptionKeys {
    /// The device's P-256 public key (base64url).
    pub p256dh: String,
    /// The device's 16-byte auth secret (base64url).
    pub auth: String,
}

/// `PushSubscription.toJSON()` plus the language of the notification text.
#[derive(Deserialize, ToSchema)]
pub struct SubscribeRequest {
    pub endpoint: String,
    pub keys: SubscriptionKeys,
    /// One of en, sv, de, cs, el, fa (default en).
    pub lang: Option<String>,
}

/// Register this device for alerts (again: the same endpoint is updated, not duplicated).
/// Signing out of this device removes it.
#[utoipa::path(post, path = "/app/push/subscriptions", tag = "store_app", request_body = SubscribeRequest,
    responses((status = 201, body = PushSubscription), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem),
        (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("expert_token" = [])))]
async fn subscribe(
    State(state): State<AppState>,
    ApprovedExpert(s): ApprovedExpert,
    headers: HeaderMap,
    JsonBody(req): JsonBody<SubscribeRequest>,
) -> ApiResult<(StatusCode, Json<PushSubscription>)> {
    let mut p = Problems::new();
    let endpoint = req.endpoint.trim();
    let url = url::Url::parse(endpoint).ok();
    let allow_http = state.config.outbound.allow_private_webhooks;
    p.check(
        endpoint.len() <= 2000
            && url
                .as_ref()
                .is_some_and(|u| u.scheme() == "https" || (allow_http && u.scheme() == "http")),
        "endpoint",
        "must be the https:// URL the browser's push service gave",
    );
    if let Err(why) = wire::keys_valid(&wire::Keys {
        p256dh: req.keys.p256dh.clone(),
        auth: req.keys.auth.clone(),
    }) {
        p.check(false, "keys", why);
    }
    let lang = req.lang.as_deref().unwrap_or("en").to_lowercase();
    p.check(LANGUAGES.contains(&lang.as_str()), "lang", "must be one of en, sv, de, cs, el, fa");
    p.into_result().map_err(ApiError::Validation)?;
    let e = &s.expert;
    let mine = state.db.push_subscriptions(&e.merchant_id, e.id.as_str()).await?;
    if mine.len() >= MAX_DEVICES && !mine.iter().any(|x| x.endpoint == endpoint) {
        return Err(ApiError::Conflict(format!(
            "at most {MAX_DEVICES} devices get alerts; remove one in the app's settings first"
        )));
    }
    let ua: String = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    let sub = state
        .db
        .upsert_push_subscription(
            &e.merchant_id,
            e.id.as_str(),
            &s.token_hash,
            &NewSubscription {
                endpoint,
                p256dh: req.keys.p256dh.trim_end_matches('='),
                auth: req.keys.auth.trim_end_matches('='),
                lang: &lang,
                user_agent: &ua,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(sub)))
}

/// Stop alerts to one of the expert's devices.
#[utoipa::path(delete, path = "/app/push/subscriptions/{subscription_id}", tag = "store_app", params(("subscription_id" = String, Path)),
    responses((status = 204), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem), (status = 404, body = super::error::Problem)),
    security(("expert_token" = [])))]
async fn unsubscribe(State(state): State<AppState>, ApprovedExpert(s): ApprovedExpert, Path(id): Path<String>) -> ApiResult<StatusCode> {
    state
        .db
        .delete_push_subscription(&s.expert.merchant_id, s.expert.id.as_str(), &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportEvent {
    /// The notification is on the screen.
    Shown,
    /// The expert tapped it.
    Opened,
    /// The service worker could not show it: notifications are blocked on the device.
    Blocked,
}

/// What the service worker (or the app) tells about an alert.
#[derive(Deserialize, ToSchema)]
pub struct AlertReport {
    pub event: ReportEvent,
}

/// The service worker reports an alert shown, opened, or blocked. A service worker has no
/// sign-in: it presents the alert's receipt (from the push payload) as the bearer token; the
/// app may present the expert's own token instead. Anything else is a 404.
#[utoipa::path(post, path = "/app/push/alerts/{alert_id}/report", tag = "store_app", params(("alert_id" = String, Path)), request_body = AlertReport,
    responses((status = 204), (status = 401, body = super::error::Problem), (status = 404, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("expert_token" = [])))]
async fn report(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<AlertReport>,
) -> ApiResult<StatusCode> {
    use subtle::ConstantTimeEq as _;
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized)?
        .to_owned();
    let alert = state.db.push_alert(&id).await?.ok_or(ApiError::NotFound)?;
    let by_receipt = bool::from(alert.receipt.as_bytes().ct_eq(bearer.as_bytes()));
    let by_expert = !by_receipt
        && bearer.starts_with(crate::auth::EXPERT_TOKEN_PREFIX)
        && state
            .db
            .expert_session(&crate::auth::token_hash(&bearer))
            .await?
            .is_some_and(|s| s.expert.id.as_str() == alert.expert_id && s.expert.merchant_id.as_str() == alert.merchant_id);
    if !by_receipt && !by_expert {
        return Err(ApiError::NotFound);
    }
    let (event, label) = match req.event {
        ReportEvent::Shown => (AlertEvent::Shown, "shown"),
        ReportEvent::Opened => (AlertEvent::Opened, "opened"),
        ReportEvent::Blocked => (
            AlertEvent::Failed {
                reason: "permission",
                detail: "notifications are blocked on the device".into(),
            },
            "blocked",
        ),
    };
    let news = if matches!(req.event, ReportEvent::Blocked) {
        // Delivered, but it could not be shown: the alert failed even though it was handed over.
        state.db.push_alert_blocked(&id).await?
    } else {
        state.db.push_alert_event(&id, &event).await?
    };
    if news {
        match req.event {
            ReportEvent::Shown => state.db.push_alert_counted(&id, "alert_shown").await?,
            ReportEvent::Blocked => state.db.push_alert_counted(&id, "alert_failed").await?,
            ReportEvent::Opened => {}
        }
        metrics::counter!("floorwalker_push_alerts_total", "event" => label).increment(1);
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Only the alerts of this chat.
    pub conversation_id: Option<ConversationId>,
    /// Only alerts since this time (ms since the epoch; default: the last day).
    pub since: Option<i64>,
}

/// The signed-in expert's alerts (the last day by default), newest first.
#[utoipa::path(get, path = "/app/push/alerts", tag = "store_app", params(AlertQuery),
    responses((status = 200, body = Vec<PushAlert>), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)),
    security(("expert_token" = [])))]
async fn my_alerts(
    State(state): State<AppState>,
    ApprovedExpert(s): ApprovedExpert,
    Query(q): Query<AlertQuery>,
) -> ApiResult<Json<Vec<PushAlert>>> {
    let since = q.since.unwrap_or(now_ms() - 86_400_000);
    Ok(Json(
        state
            .db
            .push_alerts(
                &s.expert.merchant_id,
                q.conversation_id.as_deref(),
                Some(s.expert.id.as_str()),
                since,
            )
            .await?,
    ))
}

/// Whether an expert's phone can be alerted, as the Team page shows it.
#[derive(Serialize, ToSchema)]
pub struct Alerting {
    pub expert_id: String,
    /// Devices registered for alerts.
    pub devices: usize,
    /// Devices whose last hand-offs failed (`FAILING_AFTER` in a row).
    pub failing: usize,
    /// `ok`, `no_device` (never subscribed, signed out, or the subscription expired) or
    /// `failing` (every device's recent alerts failed).
    pub state: String,
    #[schema(required = true)]
    pub last_error: Option<String>,
    #[schema(required = true)]
    pub last_success_at: Option<i64>,
    /// Alerts in the last day that failed, by reason (`expired`, `push_service`, `permission`).
    pub failed_last_day: i64,
}

/// Per approved expert: can their device be alerted?
#[utoipa::path(get, path = "/team/alerting", tag = "team",
    responses((status = 200, body = Vec<Alerting>), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)),
    security(("session" = [])))]
async fn team_alerting(State(state): State<AppState>, m: Merchant<Team>) -> ApiResult<Json<Vec<Alerting>>> {
    let experts = state.db.approved_expert_names(&m.id).await?;
    let subs = state.db.merchant_push_subscriptions(&m.id).await?;
    let failed = state.db.push_failures_by_expert(&m.id, now_ms() - 86_400_000).await?;
    let out = experts
        .into_iter()
        .map(|(id, _)| {
            let mine: Vec<&PushSubscription> = subs.iter().filter(|s| s.expert_id == id).collect();
            let failing = mine.iter().filter(|s| s.failures >= FAILING_AFTER).count();
            let failed_last_day = failed.get(&id).copied().unwrap_or(0);
            let state = if mine.is_empty() {
                "no_device"
            } else if failing == mine.len() {
                "failing"
            } else {
                "ok"
            };
            Alerting {
                devices: mine.len(),
                failing,
                state: state.into(),
                last_error: mine.iter().find_map(|s| s.last_error.clone()),
                last_success_at: mine.iter().filter_map(|s| s.last_success_at).max(),
                failed_last_day,
                expert_id: id,
            }
        })
        .collect();
    Ok(Json(out))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TeamAlertQuery {
    pub conversation_id: Option<ConversationId>,
    pub expert_id: Option<String>,
    /// ms since the epoch; default: the last day.
    pub since: Option<i64>,
}

/// The merchant's alerts and where each got to (newest first, at most 500).
#[utoipa::path(get, path = "/team/alerts", tag = "team", params(TeamAlertQuery),
    responses((status = 200, body = Vec<PushAlert>), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)),
    security(("session" = [])))]
async fn team_alert_log(
    State(state): State<AppState>,
    m: Merchant<Team>,
    Query(q): Query<TeamAlertQuery>,
) -> ApiResult<Json<Vec<PushAlert>>> {
    let since = q.since.unwrap_or(now_ms() - 86_400_000);
    Ok(Json(
        state
            .db
            .push_alerts(&m.id, q.conversation_id.as_deref(), q.expert_id.as_deref(), since)
            .await?,
    ))
}

/// A chat of the last day the expert did not get, and why.
#[derive(Serialize, ToSchema)]
pub struct MissedChat {
    pub conversation_id: ConversationId,
    pub queued_at: i64,
    pub store: String,
    pub department: String,
    /// claimed | ended (by a colleague) | missed (nobody) | abandoned (the shopper left)
    pub status: crate::domain::conversation::ConversationStatus,
    /// The first of `reasons`.
    pub reason: String,
    /// Every reason that applied when the chat was waiting, as things were then (the
    /// assignments of that time, whether you were away, how many chats you had), most personal
    /// first: `not_in_department` (not assigned to it), `targeted` (sent to a colleague by
    /// name), `contact_first` (the shopper's contact took it in their time), `away`, `at_cap`
    /// (you had as many chats as you took then, by your own cap and the merchant's as they
    /// were), `alert_failed` (your phone's alert failed; `detail` says why); then what became of
    /// it: `taken_first` (a colleague claimed it first), `nobody_claimed` or `shopper_left`.
    pub reasons: Vec<String>,
    #[schema(required = true)]
    pub detail: Option<String>,
}

/// Why did I miss this chat? The merchant's chats of the last day that the signed-in expert did
/// not get (newest first, at most 200), each with every reason that applied at the time.
#[utoipa::path(get, path = "/app/push/missed", tag = "store_app",
    responses((status = 200, body = Vec<MissedChat>), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)),
    security(("expert_token" = [])))]
async fn missed_chats(State(state): State<AppState>, ApprovedExpert(s): ApprovedExpert) -> ApiResult<Json<Vec<MissedChat>>> {
    let e = &s.expert;
    let m = &e.merchant_id;
    let me = e.id.as_str();
    let since = now_ms() - 86_400_000;
    let settings = state.db.merchant_public(m).await?;
    let contact_first_ms = i64::from(settings.routing.contact_first_s) * 1000;
    let chats = state.db.chats_not_mine(m, me, since).await?;
    let alerts = state.db.push_alerts(m, None, Some(me), since - 3_600_000).await?;
    let changes = state.db.availability_changes(m, me, since - 86_400_000).await?;
    let spans = state.db.expert_chat_spans(m, me, since - 86_400_000).await?;
    let reassigned = state.db.assignment_changes(m, me, since).await?;
    let saved: crate::hub::expert::SavedPresence = state
        .db
        .expert_presence_json(m, me)
        .await
        .ok()
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default();
    let caps = state.db.cap_changes(m, me, since - 86_400_000).await?;
    let own_now = saved.own_cap.unwrap_or(e.max_chats);
    // The caps of a time: each as it was replaced by its first change after then, or today's.
    let cap_at = |at: i64| {
        let later = caps.iter().filter(|c| c.at > at);
        let own = later.clone().find_map(|c| c.own).unwrap_or(own_now);
        let max = later.clone().find_map(|c| c.max).unwrap_or(e.max_chats);
        own.min(max).max(1)
    };
    let now_stores: Vec<String> = e.store_ids.iter().map(|x| x.to_string()).collect();
    let now_deps: Vec<String> = e.department_ids.iter().map(|x| x.to_string()).collect();
    let out = chats
        .into_iter()
        .map(|c| {
            let at = c.queued_at;
            // The assignments of that time: those replaced by the first change after it, or
            // today's when nothing changed since.
            let (stores, deps) = reassigned
                .iter()
                .find(|(t, _, _)| *t > at)
                .map(|(_, s, d)| (s, d))
                .unwrap_or((&now_stores, &now_deps));
            let assigned = stores.contains(&c.store_id) && deps.contains(&c.department_id);
            let away = changes
                .iter()
                .rev()
                .find(|(t, _)| *t <= at)
                .is_some_and(|(_, available)| !available);
            let open_then = spans.iter().filter(|(from, to)| *from <= at && to.is_none_or(|t| t > at)).count() as i64;
            let mine: Vec<&PushAlert> = alerts.iter().filter(|a| a.conversation_id == c.id).collect();
            let failed = mine.iter().find(|a| a.state == "failed");
            let by_contact = c.contact_expert_id.is_some()
                && c.contact_expert_id.as_deref() != Some(me)
                && c.expert_id == c.contact_expert_id
                && c.claimed_at.is_some_and(|t| t - at < contact_first_ms);
            let mut reasons: Vec<&str> = Vec::new();
            if !assigned {
                reasons.push("not_in_department");
            }
            if c.target_expert_id.as_deref().is_some_and(|t| t != me) {
                reasons.push("targeted");
            }
            if by_contact {
                reasons.push("contact_first");
            }
            if away {
                reasons.push("away");
            }
            if open_then >= cap_at(at) {
                reasons.push("at_cap");
            }
            if failed.is_some() {
                reasons.push("alert_failed");
            }
            reasons.push(match c.status {
                ConversationStatus::Missed => "nobody_claimed",
                ConversationStatus::Abandoned => "shopper_left",
                _ => "taken_first",
            });
            MissedChat {
                conversation_id: c.id,
                queued_at: at,
                store: c.store_name,
                department: c.department_name,
                status: c.status,
                reason: reasons[0].into(),
                reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
                detail: failed.and_then(|f| f.reason.clone()),
            }
        })
        .collect();
    Ok(Json(out))
}
