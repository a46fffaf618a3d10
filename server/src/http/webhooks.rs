//! Integrations: webhook endpoints (URL, events, a secret shown once), their deliveries with
//! every attempt, redelivery and test events. Deliveries are signed the Standard Webhooks way
//! (docs/webhooks.md).

use crate::ids::ConversationId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{modules::Integrations, JsonBody, Merchant, PageQuery, Query};
use super::outbox::{detail, OutboxDetail};
use super::AppState;
use crate::domain::Problems;
use crate::outbound::events::{self, EventType, TestData};
use crate::outbound::{ssrf, webhook};
use crate::storage::{Enqueued, NewEvent, OutboxFilter, OutboxRow, Outgoing, Page, WebhookEndpoint};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(event_types))
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(rotate_secret))
        .routes(routes!(send_test))
        .routes(routes!(deliveries))
        .routes(routes!(redeliver))
}

#[derive(Serialize, ToSchema)]
pub struct EventTypeInfo {
    /// e.g. `conversation.claimed`.
    pub name: String,
    pub description: String,
    /// A new endpoint gets it unless told otherwise (`message.created` is opt-in).
    pub default_on: bool,
}

/// The events an endpoint can subscribe to.
#[utoipa::path(get, path = "/webhooks/event-types", tag = "integrations",
    responses((status = 200, body = Vec<EventTypeInfo>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("session" = [])))]
async fn event_types(_m: Merchant<Integrations>) -> Json<Vec<EventTypeInfo>> {
    Json(
        EventType::ALL
            .into_iter()
            .filter(|e| e.subscribable())
            .map(|e| EventTypeInfo {
                name: e.as_str().into(),
                description: e.description().into(),
                default_on: e.default_on(),
            })
            .collect(),
    )
}

/// This merchant's endpoints.
#[utoipa::path(get, operation_id = "list_webhook_endpoints", path = "/webhooks", tag = "integrations", params(PageQuery),
    responses((status = 200, body = Page<WebhookEndpoint>), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("session" = [])))]
async fn list(
    State(state): State<AppState>,
    m: Merchant<Integrations>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Page<WebhookEndpoint>>> {
    Ok(Json(state.db.list_webhooks(&m.id, &q.request()?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `https://` and a public host (http:// and private addresses only where the operator allows them).
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// Event types to deliver; default: every event that is on by default.
    pub events: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookCreated {
    pub endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_…`), shown this once.
    pub secret: String,
}

fn check_events(p: &mut Problems, events: &[String]) {
    p.check(!events.is_empty(), "events", "choose at least one event");
    p.check(events.len() <= 50, "events", "at most 50 events");
    for (i, e) in events.iter().enumerate() {
        p.check(
            EventType::parse(e).is_some_and(EventType::subscribable),
            &format!("events[{i}]"),
            "not an event type (see /webhooks/event-types)",
        );
    }
}

fn check_url(p: &mut Problems, state: &AppState, url: &str) {
    if let Err(why) = ssrf::check_url(url, state.outbound.allow_private()) {
        p.add("url", why);
    }
}

/// Register an endpoint. Its signing secret is in this response only.
#[utoipa::path(post, operation_id = "create_webhook_endpoint", path = "/webhooks", tag = "integrations", request_body = NewWebhook,
    responses((status = 201, body = WebhookCreated), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("session" = [])))]
async fn create(
    State(state): State<AppState>,
    m: Merchant<Integrations>,
    JsonBody(req): JsonBody<NewWebhook>,
) -> ApiResult<(StatusCode, Json<WebhookCreated>)> {
    let events = req.events.unwrap_or_else(|| {
        EventType::ALL
            .into_iter()
            .filter(|e| e.default_on())
            .map(|e| e.as_str().to_owned())
            .collect()
    });
    let mut p = Problems::new();
    check_url(&mut p, &state, &req.url);
    p.check(
        req.description.chars().count() <= 200,
        "description",
        "must be at most 200 characters",
    );
    check_events(&mut p, &events);
    p.into_result().map_err(ApiError::Validation)?;
    let secret = webhook::new_secret();
    let endpoint = state
        .db
        .create_webhook(&m.id, req.url.trim(), req.description.trim(), &events, &secret)
        .await?;
    Ok((StatusCode::CREATED, Json(WebhookCreated { endpoint, secret })))
}

#[utoipa::path(get, operation_id = "get_webhook_endpoint", path = "/webhooks/{endpoint_id}", tag = "integrations", params(("endpoint_id" = String, Path)),
    responses((status = 200, body = WebhookEndpoint), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("session" = [])))]
async fn get_one(State(state): State<AppState>, m: Merchant<Integrations>, Path(id): Path<String>) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(state.db.webhook(&m.id, &id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
    /// Enabling an endpoint the platform disabled clears its failure streak.
    pub enabled: Option<bool>,
}

/// Change an endpoint (its URL, events, description), or disable and enable it.
#[utoipa::path(patch, operation_id = "update_webhook_endpoint", path = "/webhooks/{endpoint_id}", tag = "integrations", params(("endpoint_id" = String, Path)), request_body = WebhookPatch,
    responses((status = 200, body = WebhookEndpoint), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("session" = [])))]
async fn update(
    State(state): State<AppState>,
    m: Merchant<Integrations>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<WebhookPatch>,
) -> ApiResult<Json<WebhookEndpoint>> {
    state.db.webhook(&m.id, &id).await?;
    let mut p = Problems::new();
    if let Some(u) = &req.url {
        check_url(&mut p, &state, u);
    }
    if let Some(d) = &req.description {
        p.check(d.chars().count() <= 200, "description", "must be at most 200 characters");
    }
    if let Some(e) = &req.events {
        check_events(&mut p, e);
    }
    p.into_result().map_err(ApiError::Validation)?;
    Ok(Json(
        state
            .db
            .update_webhook(
                &m.id,
                &id,
                req.url.as_deref().map(str::trim),
                req.description.as_deref().map(str::trim),
                req.events.as_deref(),
                req.enabled,
            )
            .await?,
    ))
}

/// Delete an endpoint; its queued deliveries fail.
#[utoipa::path(delete, operation_id = "delete_webhook_endpoint", path = "/webhooks/{endpoint_id}", tag = "integrations", params(("endpoint_id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("session" = [])))]
async fn delete(State(state): State<AppState>, m: Merchant<Integrations>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    state.db.delete_webhook(&m.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Issue a new signing secret, shown this once. The previous one also signs for 24 hours.
#[utoipa::path(post, path = "/webhooks/{endpoint_id}/secret", tag = "integrations", params(("endpoint_id" = String, Path)),
    responses((status = 200, body = WebhookCreated), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("session" = [])))]
async fn rotate_secret(
    State(state): State<AppState>,
    m: Merchant<Integrations>,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookCreated>> {
    let secret = webhook::new_secret();
    let endpoint = state.db.rotate_webhook_secret(&m.id, &id, &secret).await?;
    Ok(Json(WebhookCreated { endpoint, secret }))
}

/// Queue a `webhook.test` delivery to this endpoint. The answer is the queued delivery.
#[utoipa::path(post, path = "/webhooks/{endpoint_id}/test", tag = "integrations", params(("endpoint_id" = String, Path)),
    responses((status = 202, body = OutboxRow), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)),
    security(("session" = [])))]
async fn send_test(
    State(state): State<AppState>,
    m: Merchant<Integrations>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<OutboxRow>)> {
    let ep = state.db.webhook(&m.id, &id).await?;
    let body = serde_json::to_string(&events::Envelope {
        kind: EventType::WebhookTest.as_str(),
        timestamp: events::rfc3339(crate::now_ms()),
        merchant_id: m.id.to_string(),
        data: TestData {
            endpoint_id: ep.id.clone(),
            message: "A test event sent from the Floorwalker dashboard.".into(),
        },
    })
    .map_err(ApiError::internal)?;
    let event_id = events::new_event_id();
    let row = enqueue_one(
        &state,
        &m.id,
        &ep,
        event_id,
        body,
        EventType::WebhookTest.as_str(),
        None,
        Some("test".into()),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(row)))
}

/// Queue one delivery to one enabled endpoint (tests and redeliveries).
#[allow(clippy::too_many_arguments)]
async fn enqueue_one(
    state: &AppState,
    m: &crate::ids::MerchantId,
    ep: &WebhookEndpoint,
    event_id: String,
    body: String,
    event_type: &str,
    conversation_id: Option<ConversationId>,
    key_suffix: Option<String>,
) -> ApiResult<OutboxRow> {
    let item = Outgoing::Event(NewEvent {
        merchant_id: m.clone(),
        event_type: event_type.into(),
        event_id,
        body,
        conversation_id,
        only_endpoint: Some(ep.id.clone()),
        key_suffix,
        give_up_after_ms: state.outbound.timing().give_up_ms(crate::storage::Channel::Webhook),
    });
    if !ep.enabled {
        return Err(ApiError::Conflict("the endpoint is disabled: enable it first".into()));
    }
    let out = state.db.enqueue(&[item]).await?;
    state.outbound.wake();
    match out.first() {
        Some(Enqueued::Queued(id)) => Ok(state.db.outbox_row(Some(m), id).await?),
        _ => Err(ApiError::Conflict("this delivery was queued already".into())),
    }
}

/// The deliveries to this endpoint, newest first (each with its status and attempt count;
/// `GET /outbox/{message_id}` has every attempt).
#[utoipa::path(get, path = "/webhooks/{endpoint_id}/deliveries", tag = "integrations", params(("endpoint_id" = String, Path), PageQuery),
    responses((status = 200, body = Page<OutboxRow>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("session" = [])))]
async fn deliveries(
    State(state): State<AppState>,
    m: Merchant<Integrations>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Page<OutboxRow>>> {
    state.db.webhook(&m.id, &id).await?;
    let f = OutboxFilter {
        endpoint_id: Some(id),
        ..Default::default()
    };
    Ok(Json(state.db.list_outbox(Some(&m.id), &f, &q.request()?).await?))
}

/// Deliver an event to this endpoint again, with the same `webhook-id` (a receiver that saw it
/// drops the copy). The answer is the new delivery.
#[utoipa::path(post, path = "/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver", tag = "integrations",
    params(("endpoint_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 202, body = OutboxDetail), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)),
    security(("session" = [])))]
async fn redeliver(
    State(state): State<AppState>,
    m: Merchant<Integrations>,
    Path((id, delivery)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<OutboxDetail>)> {
    let ep = state.db.webhook(&m.id, &id).await?;
    let row = state.db.outbox_row(Some(&m.id), &delivery).await?;
    if row.endpoint_id.as_deref() != Some(ep.id.as_str()) {
        return Err(ApiError::NotFound);
    }
    if matches!(row.status.as_str(), "queued" | "sending") {
        return Err(ApiError::Conflict("this delivery is still under way".into()));
    }
    let suffix = format!("redeliver-{}", uuid::Uuid::now_v7().simple());
    let new = enqueue_one(
        &state,
        &m.id,
        &ep,
        row.message_id.clone(),
        row.payload_json.clone(),
        &row.template,
        row.conversation_id.clone(),
        Some(suffix),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(detail(&state, Some(&m.id), &new.id).await?)))
}
