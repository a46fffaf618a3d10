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
use crate::storage::{ApiCall, ApiKey, CallFilter, Page};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
        .routes(routes!(identity_secret, rotate_identity_secret))
        .routes(routes!(calls))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallsQuery {
    /// Start (ms or RFC 3339); default 7 days before `to`.
    pub from: Option<String>,
    /// End, exclusive; default now.
    pub to: Option<String>,
    /// 2xx, 4xx, 5xx or an exact code such as 404.
    pub status: Option<String>,
    /// Part of the path (case-insensitive).
    pub path: Option<String>,
    pub api_key_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Calls made with this merchant's API keys, newest first (kept 30 days).
#[utoipa::path(get, path = "/api-keys/calls", tag = "integrations", params(CallsQuery),
    responses((status = 200, body = Page<ApiCall>), (status = 422, body = super::error::Problem)), security(("session" = [])))]
async fn calls(State(state): State<AppState>, m: Merchant<Integrations>, Query(q): Query<CallsQuery>) -> ApiResult<Json<Page<ApiCall>>> {
    let to = match &q.to {
        Some(t) => super::analytics::parse_time("to", t)?,
        None => crate::now_ms() + 1,
    };
    let from = match &q.from {
        Some(f) => super::analytics::parse_time("from", f)?,
        None => to - 7 * 86_400_000,
    };
    let status_range = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let lower = s.to_ascii_lowercase();
            match lower.as_bytes() {
                [c @ b'1'..=b'5', b'x', b'x'] => {
                    let base = i64::from(c - b'0') * 100;
                    Some((base, base + 99))
                }
                _ => match lower.parse::<i64>() {
                    Ok(code) if (100..=599).contains(&code) => Some((code, code)),
                    _ => return Err(ApiError::invalid("status", "must be 2xx, 4xx, 5xx or a status code")),
                },
            }
        }
    };
    if q.path.as_deref().is_some_and(|p| p.chars().count() > 200) {
        return Err(ApiError::invalid("path", "at most 200 characters"));
    }
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .request()?;
    let filter = CallFilter {
        from,
        to,
        status_range,
        path_contains: q.path.clone().filter(|p| !p.trim().is_empty()),
        api_key_id: q.api_key_id.clone().filter(|k| !k.is_empty()),
    };
    Ok(Json(state.db.list_api_calls(&m.id, &filter, &page).await.map_err(|e| match e {
        crate::storage::StorageError::Invalid(_) => ApiError::invalid("cursor", "not a cursor from this API"),
        e => e.into(),
    })?))
}

#[utoipa::path(get, operation_id = "list_api_keys", path = "/api-keys", tag = "integrations", params(PageQuery), responses((status = 200, body = Page<ApiKey>)), security(("session" = [])))]
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
#[utoipa::path(post, operation_id = "create_api_key", path = "/api-keys", tag = "integrations", request_body = NewApiKey,
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
    let key = state.db.revoke_api_key(&m.id, &id).await?;
    state.hub.revoke(crate::hub::revoke::Cred::ApiKey(id.as_str()));
    Ok(Json(key))
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
