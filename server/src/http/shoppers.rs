//! Shoppers: look up a Shopper ID; identify a shopper from the merchant's own systems.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::{modules::Shoppers, JsonBody, Merchant};
use super::AppState;
use crate::domain::{plausible_email, Problems};
use crate::ids::ShopperId;
use crate::storage::Shopper;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_shopper, identify))
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
