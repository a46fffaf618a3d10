//! The merchant's photo settings (module Settings), what each app needs to know before it
//! offers the photo button or a video call (`media-config`), and the shopper's REST credential.

use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{modules::Settings, ApprovedExpert, JsonBody, Merchant};
use super::AppState;
use crate::ids::MerchantId;
use crate::media::image::{MAX_PIXELS, MAX_SIDE, MAX_UPLOAD_BYTES};
use crate::media::rtc::IceServer;
use crate::storage::{AttachmentSettings, MAX_RETENTION_DAYS};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(app_media_config))
}

pub fn widget_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(widget_media_config))
}

/// A shopper calling the widget API: `Authorization: Bearer <shopper token>` (from `welcome`)
/// and `?merchant=<Merchant ID>`. The token is an HMAC over the merchant and the Shopper ID,
/// so it proves both; the page's `Origin`, when sent, must be one of the merchant's.
pub struct ShopperAuth {
    pub merchant: MerchantId,
    pub shopper: String,
}

impl FromRequestParts<AppState> for ShopperAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_owned())
            .ok_or(ApiError::Unauthorized)?;
        let merchant = parts
            .uri
            .query()
            .and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "merchant")
                    .map(|(_, v)| v.into_owned())
            })
            .and_then(|m| MerchantId::parse(&m))
            .ok_or(ApiError::Unauthorized)?;
        let shopper = state
            .hub
            .verify_shopper_token(merchant.as_str(), &token)
            .ok_or(ApiError::Unauthorized)?;
        let settings = state
            .hub
            .merchant(&merchant)
            .await
            .filter(|s| s.active)
            .ok_or(ApiError::Unauthorized)?;
        if let Some(origin) = parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            let own = super::realtime::own_origin(&parts.headers, state.config.secure_cookies);
            if !super::realtime::origin_allowed(Some(origin), &settings.origins, own.as_deref()) {
                return Err(ApiError::forbidden("this site is not one of the shop's origins"));
            }
        }
        if !state.db.shopper_exists(&merchant, &shopper).await? {
            return Err(ApiError::Unauthorized);
        }
        Ok(ShopperAuth { merchant, shopper })
    }
}

/// The merchant's photo rules.
#[utoipa::path(get, path = "/settings/attachments", tag = "settings", responses((status = 200, body = AttachmentSettings),
    (status = 401, body = Problem), (status = 403, body = Problem)), security(("session" = [])))]
async fn get_settings(State(state): State<AppState>, m: Merchant<Settings>) -> ApiResult<Json<AttachmentSettings>> {
    Ok(Json(state.db.attachment_settings(&m.id).await?))
}

/// Change the photo rules: whether shoppers may send photos, and after how many days photos are deleted.
#[utoipa::path(put, path = "/settings/attachments", tag = "settings", request_body = AttachmentSettings,
    responses((status = 200, body = AttachmentSettings), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("session" = [])))]
async fn put_settings(
    State(state): State<AppState>,
    m: Merchant<Settings>,
    JsonBody(body): JsonBody<AttachmentSettings>,
) -> ApiResult<Json<AttachmentSettings>> {
    if !(1..=MAX_RETENTION_DAYS).contains(&body.retention_days) {
        return Err(ApiError::invalid(
            "retention_days",
            &format!("must be a whole number of days from 1 to {MAX_RETENTION_DAYS}"),
        ));
    }
    Ok(Json(state.db.set_attachment_settings(&m.id, &body).await?))
}

/// What an app needs before it offers photos or a video call.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaConfig {
    /// Whether this caller may send photos (experts always; shoppers where the merchant allows).
    pub photos: bool,
    /// Largest upload, in bytes.
    pub max_upload_bytes: u64,
    /// Largest picture, in pixels.
    pub max_pixels: u64,
    /// Photos are stored scaled to fit this many pixels a side: clients may scale before sending.
    pub max_side: u32,
    /// Types the server accepts (read from the bytes).
    pub accepted_types: Vec<&'static str>,
    /// Days photos are kept.
    pub retention_days: i64,
    /// STUN/TURN servers for `RTCPeerConnection` (empty: local network only).
    pub ice_servers: Vec<IceServer>,
}

fn config(state: &AppState, photos: bool, retention_days: i64, who: &str) -> MediaConfig {
    MediaConfig {
        photos,
        max_upload_bytes: MAX_UPLOAD_BYTES as u64,
        max_pixels: MAX_PIXELS,
        max_side: MAX_SIDE,
        accepted_types: vec!["image/jpeg", "image/png", "image/webp"],
        retention_days,
        ice_servers: state.media.rtc.for_client(who, crate::now_ms() / 1000).ice_servers,
    }
}

/// Photo limits and STUN/TURN servers for the store app.
#[utoipa::path(get, path = "/app/media-config", tag = "store_app",
    responses((status = 200, body = MediaConfig), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("expert_token" = [])))]
async fn app_media_config(State(state): State<AppState>, ApprovedExpert(s): ApprovedExpert) -> ApiResult<Json<MediaConfig>> {
    let days = state.db.attachment_settings(&s.expert.merchant_id).await?.retention_days;
    Ok(Json(config(&state, true, days, &format!("e.{}", s.expert.id))))
}

/// Whether the shopper may send photos, the limits, and STUN/TURN servers for the widget.
#[utoipa::path(get, path = "/widget/media-config", tag = "widget", params(super::attachments::MerchantQuery),
    responses((status = 200, body = MediaConfig), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("shopper_token" = [])))]
async fn widget_media_config(State(state): State<AppState>, shopper: ShopperAuth) -> ApiResult<Json<MediaConfig>> {
    let s = state.db.attachment_settings(&shopper.merchant).await?;
    Ok(Json(config(
        &state,
        s.shopper_uploads,
        s.retention_days,
        &format!("s.{}", shopper.shopper),
    )))
}
