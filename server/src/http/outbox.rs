//! The Outbox: every e-mail, SMS and webhook delivery the platform sends or would send, with
//! its rendered content and each attempt. A merchant with the Integrations module sees its own
//! (`/outbox`); the operator sees every merchant's (`/access/outbox`). Integrations is the
//! module for what leaves the platform by machine (API keys, webhooks, the outbox): an account
//! holding it can already read shopper data through an API key it creates, so the outbox's
//! contents (addresses, transcripts) add no new exposure.

use crate::ids::ConversationId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{modules::Integrations, Merchant, Operator, Query};
use super::AppState;
use crate::ids::MerchantId;
use crate::storage::{AttemptRow, Channel, OutboxFilter, OutboxRow, OutboxStatus, Page, PageRequest, Suppression};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one))
        .routes(routes!(retry))
        .routes(routes!(suppressions))
        .routes(routes!(unsuppress))
        .routes(routes!(operator_list))
        .routes(routes!(operator_get))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// email | sms | webhook | push
    pub kind: Option<String>,
    /// queued | sending | sent | failed | dead
    pub status: Option<String>,
    /// Exact recipient (address, number or endpoint URL).
    pub recipient: Option<String>,
    pub conversation_id: Option<ConversationId>,
    /// Operator only: one merchant's messages.
    pub merchant_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl OutboxQuery {
    fn parse(&self) -> ApiResult<(OutboxFilter, PageRequest)> {
        let channel = match self.kind.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(k) => Some(Channel::parse(k).ok_or_else(|| ApiError::invalid("kind", "must be email, sms, webhook or push"))?),
        };
        let status = match self.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => {
                Some(OutboxStatus::parse(s).ok_or_else(|| ApiError::invalid("status", "must be queued, sending, sent, failed or dead"))?)
            }
        };
        if self.recipient.as_deref().is_some_and(|r| r.len() > 1000) {
            return Err(ApiError::invalid("recipient", "at most 1000 characters"));
        }
        let page = super::extract::PageQuery {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
        .request()?;
        let f = OutboxFilter {
            channel,
            status,
            endpoint_id: None,
            // E-mail addresses are stored in lower case; numbers and URLs as given.
            recipient: self.recipient.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(|r| {
                if r.contains('@') {
                    r.to_lowercase()
                } else {
                    r.to_owned()
                }
            }),
            conversation_id: self.conversation_id.clone().filter(|c| !c.is_empty()),
        };
        Ok((f, page))
    }
}

/// A message with every delivery attempt.
#[derive(Serialize, ToSchema)]
pub struct OutboxDetail {
    #[serde(flatten)]
    pub message: OutboxRow,
    /// Sent, but the receiving server never confirmed it (a node stopped during the hand-off).
    pub unconfirmed: bool,
    /// Whether the recipient gets only transactional mail or everything.
    pub transactional: bool,
    /// Every delivery attempt, oldest first (`attempts` is their count).
    pub attempt_log: Vec<AttemptRow>,
}

pub(super) async fn detail(state: &AppState, m: Option<&MerchantId>, id: &str) -> ApiResult<OutboxDetail> {
    let message = state.db.outbox_row(m, id).await?;
    let attempt_log = state.db.outbox_attempts(id).await?;
    Ok(OutboxDetail {
        unconfirmed: message.unconfirmed(),
        transactional: message.transactional(),
        message,
        attempt_log,
    })
}

/// This merchant's outbound messages, newest first.
#[utoipa::path(get, operation_id = "list_outbox", path = "/outbox", tag = "integrations", params(OutboxQuery),
    responses((status = 200, body = Page<OutboxRow>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)),
    security(("session" = [])))]
async fn list(State(state): State<AppState>, m: Merchant<Integrations>, Query(q): Query<OutboxQuery>) -> ApiResult<Json<Page<OutboxRow>>> {
    if q.merchant_id.is_some() {
        return Err(ApiError::invalid("merchant_id", "only the operator may choose a merchant"));
    }
    let (f, page) = q.parse()?;
    Ok(Json(state.db.list_outbox(Some(&m.id), &f, &page).await?))
}

/// One message with its rendered content and every attempt.
#[utoipa::path(get, operation_id = "get_outbox_message", path = "/outbox/{message_id}", tag = "integrations", params(("message_id" = String, Path)),
    responses((status = 200, body = OutboxDetail), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("session" = [])))]
async fn get_one(State(state): State<AppState>, m: Merchant<Integrations>, Path(id): Path<String>) -> ApiResult<Json<OutboxDetail>> {
    Ok(Json(detail(&state, Some(&m.id), &id).await?))
}

/// Try a failed or given-up message again (after fixing what made it fail). Its attempts go
/// on from where they were; the recipient's suppression, if any, must be lifted first.
#[utoipa::path(post, path = "/outbox/{message_id}/retry", tag = "integrations", params(("message_id" = String, Path)),
    responses((status = 200, body = OutboxDetail), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)),
    security(("session" = [])))]
async fn retry(State(state): State<AppState>, m: Merchant<Integrations>, Path(id): Path<String>) -> ApiResult<Json<OutboxDetail>> {
    let row = state.db.outbox_row(Some(&m.id), &id).await?;
    if let Some(channel) = row.channel().filter(|c| *c != Channel::Webhook) {
        if let Some(s) = state.db.suppression(&m.id, channel.as_str(), &row.recipient).await? {
            if s.reason != "unsubscribe" || !row.transactional() {
                return Err(ApiError::Conflict(format!(
                    "the recipient is suppressed ({}): remove the suppression first",
                    s.reason
                )));
            }
        }
    }
    let give_up = state.outbound.timing().give_up_ms(row.channel().unwrap_or(Channel::Email));
    state.db.retry_outbox(Some(&m.id), &id, give_up).await?;
    state.outbound.wake();
    Ok(Json(detail(&state, Some(&m.id), &id).await?))
}

/// Addresses nothing (bounces) or only transactional mail (unsubscribes) is sent to.
#[utoipa::path(get, path = "/outbox/suppressions", tag = "integrations", params(super::extract::PageQuery),
    responses((status = 200, body = Page<Suppression>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)),
    security(("session" = [])))]
async fn suppressions(
    State(state): State<AppState>,
    m: Merchant<Integrations>,
    Query(q): Query<super::extract::PageQuery>,
) -> ApiResult<Json<Page<Suppression>>> {
    Ok(Json(state.db.list_suppressions(&m.id, &q.request()?).await?))
}

/// Write to an address again (for example after the recipient fixed their mailbox).
#[utoipa::path(delete, path = "/outbox/suppressions/{channel}/{address}", tag = "integrations",
    params(("channel" = String, Path, description = "email | sms"), ("address" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("session" = [])))]
async fn unsuppress(
    State(state): State<AppState>,
    m: Merchant<Integrations>,
    Path((channel, address)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.db.unsuppress(&m.id, &channel, &address.trim().to_lowercase()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Operator: every merchant's outbound messages (or one merchant's), newest first.
#[utoipa::path(get, path = "/access/outbox", tag = "access", params(OutboxQuery),
    responses((status = 200, body = Page<OutboxRow>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)),
    security(("session" = [])))]
async fn operator_list(State(state): State<AppState>, _op: Operator, Query(q): Query<OutboxQuery>) -> ApiResult<Json<Page<OutboxRow>>> {
    let (f, page) = q.parse()?;
    let merchant = match q.merchant_id.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(MerchantId::parse(s).ok_or_else(|| ApiError::invalid("merchant_id", "not a Merchant ID"))?),
    };
    Ok(Json(state.db.list_outbox(merchant.as_ref(), &f, &page).await?))
}

/// Operator: one message of any merchant, with every attempt.
#[utoipa::path(get, path = "/access/outbox/{message_id}", tag = "access", params(("message_id" = String, Path)),
    responses((status = 200, body = OutboxDetail), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("session" = [])))]
async fn operator_get(State(state): State<AppState>, _op: Operator, Path(id): Path<String>) -> ApiResult<Json<OutboxDetail>> {
    Ok(Json(detail(&state, None, &id).await?))
}
