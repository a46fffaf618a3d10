//! Settings: Manage Display (with branding), allowed site origins, routing timeouts.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::{modules::Settings, JsonBody, Merchant};
use super::AppState;
use crate::domain::settings::{validate_origins, DisplaySettings, RoutingSettings};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_display, put_display))
        .routes(routes!(get_origins, put_origins))
        .routes(routes!(get_routing, put_routing))
}

#[utoipa::path(get, path = "/settings/display", tag = "settings", responses((status = 200, body = DisplaySettings)), security(("session" = [])))]
async fn get_display(State(state): State<AppState>, m: Merchant<Settings>) -> ApiResult<Json<DisplaySettings>> {
    Ok(Json(state.db.merchant_public(&m.id).await?.display))
}

/// Replace the display settings (where and how the on-site chat shows, branding).
#[utoipa::path(put, path = "/settings/display", tag = "settings", request_body = DisplaySettings,
    responses((status = 200, body = DisplaySettings), (status = 422, body = super::error::Problem)), security(("session" = [])))]
async fn put_display(
    State(state): State<AppState>,
    m: Merchant<Settings>,
    JsonBody(d): JsonBody<DisplaySettings>,
) -> ApiResult<Json<DisplaySettings>> {
    d.validate().map_err(ApiError::Validation)?;
    state.db.set_display(&m.id, &d).await?;
    state.hub.forget_merchant(&m.id);
    Ok(Json(d))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Origins {
    /// Sites allowed to embed the widget and open shopper sockets, e.g. `https://shop.example`.
    pub origins: Vec<String>,
}

#[utoipa::path(get, path = "/settings/origins", tag = "settings", responses((status = 200, body = Origins)), security(("session" = [])))]
async fn get_origins(State(state): State<AppState>, m: Merchant<Settings>) -> ApiResult<Json<Origins>> {
    Ok(Json(Origins {
        origins: state.db.merchant_public(&m.id).await?.origins,
    }))
}

/// Replace the allowed site origins (canonicalised: lower-case host, no path).
#[utoipa::path(put, path = "/settings/origins", tag = "settings", request_body = Origins,
    responses((status = 200, body = Origins), (status = 422, body = super::error::Problem)), security(("session" = [])))]
async fn put_origins(State(state): State<AppState>, m: Merchant<Settings>, JsonBody(o): JsonBody<Origins>) -> ApiResult<Json<Origins>> {
    let origins = validate_origins(&o.origins).map_err(ApiError::Validation)?;
    state.db.set_origins(&m.id, &origins).await?;
    state.hub.forget_merchant(&m.id);
    Ok(Json(Origins { origins }))
}

#[utoipa::path(get, path = "/settings/routing", tag = "settings", responses((status = 200, body = RoutingSettings)), security(("session" = [])))]
async fn get_routing(State(state): State<AppState>, m: Merchant<Settings>) -> ApiResult<Json<RoutingSettings>> {
    Ok(Json(state.db.merchant_public(&m.id).await?.routing))
}

/// Replace the routing timeouts and attribution window.
#[utoipa::path(put, path = "/settings/routing", tag = "settings", request_body = RoutingSettings,
    responses((status = 200, body = RoutingSettings), (status = 422, body = super::error::Problem)), security(("session" = [])))]
async fn put_routing(
    State(state): State<AppState>,
    m: Merchant<Settings>,
    JsonBody(r): JsonBody<RoutingSettings>,
) -> ApiResult<Json<RoutingSettings>> {
    r.validate().map_err(ApiError::Validation)?;
    state.db.set_routing(&m.id, &r).await?;
    state.hub.forget_merchant(&m.id);
    Ok(Json(r))
}
