//! Integrations: merchant API keys for server-to-server calls (shown once, stored hashed).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::{modules::Integrations, JsonBody, Merchant, PageQuery, Query};
use super::AppState;
use crate::auth;
use crate::domain::Problems;
use crate::ids::ApiKeyId;
use crate::storage::{ApiKey, Page};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
        .routes(routes!(identity_secret, rotate_identity_secret))
}

#[utoipa::path(get, path = "/api-keys", tag = "integrations", params(PageQuery), responses((status = 200, body = Page<ApiKey>)), security(("session" = [])))]
async fn list(State(state): State<AppState>, m: Merchant<Integrations>, Query(q): Query<PageQuery>) -> ApiResult<Json<Page<ApiKey>>> {
    Ok(Json(state.db.list_api_keys(&m.id, &q.request()?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// What the key is for, e.g. "Order webhook".
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyCreated {
    pub key: ApiKey,
    /// The secret, shown this once. Send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// Create a key. Its secret is in this response only.
#[utoipa::path(post, path = "/api-keys", tag = "integrations", request_body = NewApiKey,
    responses((status = 201, body = ApiKeyCreated), (status = 422, body = super::error::Problem)), security(("session" = [])))]
async fn create(
    State(state): State<AppState>,
    m: Merchant<Integrations>,
    JsonBody(req): JsonBody<NewApiKey>,
) -> ApiResult<(StatusCode, Json<ApiKeyCreated>)> {
    let mut p = Problems::new();
    p.text("name", &req.name, 80);
    p.into_result().map_err(ApiError::Validation)?;
    let secret = auth::new_token(auth::API_KEY_PREFIX);
    let prefix: String = secret.chars().take(10).collect();
    let key = state
        .db
        .create_api_key(&m.id, req.name.trim(), &prefix, &auth::token_hash(&secret))
        .await?;
    Ok((StatusCode::CREATED, Json(ApiKeyCreated { key, secret })))
}

/// Revoke a key; calls with it fail from now on.
#[utoipa::path(delete, path = "/api-keys/{key_id}", tag = "integrations", params(("key_id" = String, Path)),
    responses((status = 200, body = ApiKey), (status = 404, body = super::error::Problem)), security(("session" = [])))]
async fn revoke(State(state): State<AppState>, m: Merchant<Integrations>, Path(id): Path<String>) -> ApiResult<Json<ApiKey>> {
    let id = ApiKeyId::parse(&id).ok_or(ApiError::NotFound)?;
    Ok(Json(state.db.revoke_api_key(&m.id, &id).await?))
}

#[derive(Serialize, ToSchema)]
pub struct IdentitySecret {
    /// Key for the widget's `identify` signatures: the merchant's server sends
    /// `hex(HMAC-SHA256(secret, email))` with the shopper's email. Keep it on your server.
    pub identity_secret: String,
}

#[utoipa::path(get, path = "/identity-secret", tag = "integrations", responses((status = 200, body = IdentitySecret)), security(("session" = [])))]
async fn identity_secret(State(state): State<AppState>, m: Merchant<Integrations>) -> ApiResult<Json<IdentitySecret>> {
    Ok(Json(IdentitySecret {
        identity_secret: state.db.identity_secret(&m.id).await?,
    }))
}

/// Issue a new identity secret; signatures made with the old one stop working.
#[utoipa::path(post, path = "/identity-secret", tag = "integrations", responses((status = 200, body = IdentitySecret)), security(("session" = [])))]
async fn rotate_identity_secret(State(state): State<AppState>, m: Merchant<Integrations>) -> ApiResult<Json<IdentitySecret>> {
    Ok(Json(IdentitySecret {
        identity_secret: state.db.rotate_identity_secret(&m.id).await?,
    }))
}
