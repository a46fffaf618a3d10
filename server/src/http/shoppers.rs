//! Shoppers: look up a Shopper ID; identify a shopper from the merchant's own systems.

use crate::ids::ConversationId;
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::{modules::Shoppers, JsonBody, Merchant};
use super::AppState;
use crate::domain::{plausible_email, Problems};
use crate::ids::ShopperId;
use crate::protocol::PageVisit;
use crate::storage::{JourneyEvent, Shopper, ShopperContact};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_shopper, identify)).routes(routes!(journey))
}

fn shopper_id(s: &str) -> ApiResult<ShopperId> {
    ShopperId::parse(s).ok_or(ApiError::NotFound)
}

#[utoipa::path(get, path = "/shoppers/{shopper_id}", tag = "shoppers", params(("shopper_id" = String, Path)),
    responses((status = 200, body = Shopper), (status = 404, body = super::error::Problem)), security(("session" = []), ("api_key" = [])))]
async fn get_shopper(State(state): State<AppState>, m: Merchant<Shoppers>, Path(id): Path<String>) -> ApiResult<Json<Shopper>> {
    Ok(Json(state.db.get_shopper(&m.id, &shopper_id(&id)?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Identify {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// Attach a name and email to a Shopper ID (e.g. after they log in on the shop).
#[utoipa::path(patch, path = "/shoppers/{shopper_id}", tag = "shoppers", params(("shopper_id" = String, Path)), request_body = Identify,
    responses((status = 200, body = Shopper), (status = 404, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn identify(
    State(state): State<AppState>,
    m: Merchant<Shoppers>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<Identify>,
) -> ApiResult<Json<Shopper>> {
    let id = shopper_id(&id)?;
    let mut p = Problems::new();
    if let Some(n) = &req.name {
        p.text("name", n, 100);
    }
    if let Some(e) = &req.email {
        p.check(plausible_email(e), "email", "must be an email address");
    }
    p.into_result().map_err(ApiError::Validation)?;
    Ok(Json(
        state
            .db
            .identify_shopper(&m.id, &id, req.name.as_deref().map(str::trim), req.email.as_deref().map(str::trim))
            .await?,
    ))
}

/// One of the shopper's chats, as the journey shows it.
#[derive(Serialize, ToSchema)]
pub struct JourneyConversation {
    pub id: ConversationId,
    pub status: crate::domain::conversation::ConversationStatus,
    pub store_id: String,
    pub store_name: String,
    pub department_id: String,
    pub department_name: String,
    #[schema(required = true)]
    pub expert_id: Option<String>,
    #[schema(required = true)]
    pub expert_name: Option<String>,
    pub offline: bool,
    #[schema(required = true)]
    pub page_url: Option<String>,
    pub created_at: i64,
    #[schema(required = true)]
    pub claimed_at: Option<i64>,
    #[schema(required = true)]
    pub ended_at: Option<i64>,
    #[schema(required = true)]
    pub rating: Option<i64>,
    #[schema(required = true)]
    pub rating_comment: Option<String>,
    /// Messages in the conversation (including system notes).
    pub messages: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Journey {
    pub shopper: Shopper,
    /// Newest first, at most 200.
    pub page_views: Vec<PageVisit>,
    /// Chat requests, claims, transfers, ratings, orders…, newest first, at most 500.
    pub events: Vec<JourneyEvent>,
    /// Newest first, at most 100.
    pub conversations: Vec<JourneyConversation>,
    /// Newest first, at most 200.
    pub orders: Vec<super::analytics::Order>,
    /// The shopper's contact expert (the one who last claimed a chat with them, `until` null)
    /// and the earlier ones, at most 50.
    pub contacts: Vec<ShopperContact>,
}

/// Everything known about one shopper: pages seen, chats, events and orders.
#[utoipa::path(get, path = "/shoppers/{shopper_id}/journey", tag = "shoppers", params(("shopper_id" = String, Path)),
    responses((status = 200, body = Journey), (status = 404, body = super::error::Problem)), security(("session" = []), ("api_key" = [])))]
async fn journey(State(state): State<AppState>, m: Merchant<Shoppers>, Path(id): Path<String>) -> ApiResult<Json<Journey>> {
    let id = shopper_id(&id)?;
    let shopper = state.db.get_shopper(&m.id, &id).await?;
    let sid = id.to_string();
    Ok(Json(Journey {
        shopper,
        page_views: crate::hub::views::page_visits(state.db.page_views(&m.id, &sid, 200).await?),
        events: state.db.shopper_events(&m.id, &sid, 500).await?,
        conversations: state
            .db
            .shopper_history(&m.id, &sid, 100)
            .await?
            .into_iter()
            .map(|c| JourneyConversation {
                offline: c.offline != 0,
                id: c.id,
                status: c.status,
                store_id: c.store_id,
                store_name: c.store_name,
                department_id: c.department_id,
                department_name: c.department_name,
                expert_id: c.expert_id,
                expert_name: c.expert_name,
                page_url: c.page_url,
                created_at: c.created_at,
                claimed_at: c.claimed_at,
                ended_at: c.ended_at,
                rating: c.rating,
                rating_comment: c.rating_comment,
                messages: c.last_seq,
            })
            .collect(),
        orders: state.db.shopper_orders(&m.id, &sid).await?.into_iter().map(Into::into).collect(),
        contacts: state.db.shopper_contacts(&m.id, &sid).await?,
    }))
}
