//! Photos in the chat over REST: uploads from the store app and the widget, fresh signed URLs
//! for the people who may see a photo, and the signed file URLs themselves.
//!
//! - `POST /app/conversations/{id}/attachments` — an approved expert, into a chat they hold.
//! - `POST /widget/conversations/{id}/attachments?merchant=` — the chat's shopper, where the
//!   merchant allows it. The credential is the shopper token the widget got in `welcome`
//!   (`Authorization: Bearer shp_….sig`): an HMAC over the merchant and the Shopper ID, so the
//!   tenant comes from the verified token, not from the query. Cross-origin calls from the
//!   merchant's allowed origins are answered with CORS headers (see [`widget_cors`]).
//! - `GET …/attachments/{id}` for each audience: the photo with signed URLs made for the caller.
//! - `GET /files/{id}/{variant}?aud&exp&sig` ([`super::files`]) — the bytes, for a valid, unexpired signature
//!   whose audience may still see the photo; anything else is 404.
//!
//! The body of an upload is the image's bytes; the `Idempotency-Key` header carries the
//! client's upload id, so a retry after a lost answer returns the same attachment.

use crate::ids::ConversationId;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{modules::Exports, Actor, ApprovedExpert, Merchant, Query};
use super::media_settings::ShopperAuth;
use super::AppState;
use crate::media::image::{Refusal, MAX_UPLOAD_BYTES};
use crate::media::signing::{Audience, Variant};
use crate::media::{Accepted, Media, Upload, UploadError};
use crate::storage::{AttachmentRow, Viewer};

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(expert_upload))
        .routes(routes!(expert_attachment))
        .routes(routes!(dashboard_attachment))
        .routes(routes!(dashboard_open))
        .merge(super::files::router())
}

/// The widget's routes (CORS for the merchant's sites is [`widget_cors`], layered in `router`).
pub fn widget_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(shopper_upload))
        .routes(routes!(shopper_attachment))
        .merge(super::media_settings::widget_router())
}

/// Paths the widget calls across origins.
pub const WIDGET_PREFIX: &str = "/api/v1/widget/";

/// Signed paths (relative to the API's origin) of a photo's two sizes.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileUrls {
    pub full: String,
    pub thumb: String,
    /// When both stop working (unix seconds); ask for the attachment again for fresh ones.
    pub expires_at: i64,
}

/// A photo sent in a chat.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attachment {
    pub id: String,
    pub conversation_id: ConversationId,
    /// `stored`, or `removed` once retention deleted the files.
    pub status: String,
    /// `shopper` or `expert`.
    pub uploaded_by: String,
    /// `image/jpeg`, or `image/png` for pictures with transparency.
    pub mime: String,
    pub width: i64,
    pub height: i64,
    pub bytes: i64,
    pub thumb_width: i64,
    pub thumb_height: i64,
    pub created_at: i64,
    /// Present while the photo is stored.
    #[schema(required = true)]
    pub urls: Option<FileUrls>,
    #[schema(required = true)]
    pub removed_at: Option<i64>,
    /// The retention that removed it: the chat shows "photo removed after N days".
    #[schema(required = true)]
    pub removed_after_days: Option<i64>,
}

impl Attachment {
    pub fn view(media: &Media, a: &AttachmentRow, aud: &Audience) -> Attachment {
        let urls = (a.status == "stored").then(|| {
            let (full, thumb, expires_at) = media.urls(a, aud);
            FileUrls { full, thumb, expires_at }
        });
        Attachment {
            id: a.id.clone(),
            conversation_id: a.conversation_id.clone(),
            status: a.status.clone(),
            uploaded_by: a.uploader_role.clone(),
            mime: a.mime.clone(),
            width: a.width,
            height: a.height,
            bytes: a.bytes,
            thumb_width: a.thumb_width,
            thumb_height: a.thumb_height,
            created_at: a.created_at,
            urls,
            removed_at: a.removed_at,
            removed_after_days: a.removed_after_days,
        }
    }
}

/// The client's upload id from `Idempotency-Key`.
fn upload_id(headers: &HeaderMap) -> ApiResult<String> {
    let v = headers.get(IDEMPOTENCY_KEY).and_then(|v| v.to_str().ok()).unwrap_or("").trim();
    if v.is_empty() || v.len() > 64 || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "send the client's upload id (1–64 visible ASCII characters) in the Idempotency-Key header",
        ));
    }
    Ok(v.to_owned())
}

/// Read the body, refusing more than the limit as soon as it is passed.
async fn read_capped(headers: &HeaderMap, body: Body) -> ApiResult<Bytes> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_UPLOAD_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(64 * 1024).min(MAX_UPLOAD_BYTES as u64) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest("the upload was interrupted; send it again".into()))?;
        if buf.len() + chunk.len() > MAX_UPLOAD_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

fn upload_error(e: UploadError) -> ApiError {
    match e {
        UploadError::Refused(r) => match r {
            Refusal::TooLarge => ApiError::PayloadTooLarge,
            Refusal::Empty => ApiError::invalid("body", "the upload is empty"),
            Refusal::Heic | Refusal::WrongType(_) | Refusal::UnknownType => ApiError::UnsupportedMediaType(r.to_string()),
            Refusal::TooManyPixels { .. } | Refusal::Undecodable(_) => ApiError::Unprocessable(r.to_string()),
        },
        UploadError::KeyReused | UploadError::InProgress => ApiError::Conflict(e.to_string()),
        UploadError::Storage(e) => e.into(),
        UploadError::Files(e) => {
            tracing::error!(error = ?e, "photo files could not be stored");
            ApiError::Unavailable("photo storage".into())
        }
    }
}

fn answer(media: &Media, outcome: Accepted, aud: &Audience) -> Response {
    match outcome {
        Accepted::New(a) => (StatusCode::CREATED, Json(Attachment::view(media, &a, aud))).into_response(),
        Accepted::Repeat(a) => (StatusCode::OK, Json(Attachment::view(media, &a, aud))).into_response(),
    }
}

fn limited(state: &AppState, who: &str) -> ApiResult<()> {
    state
        .media
        .uploads
        .check(who)
        .map_err(|retry_after_s| ApiError::TooManyRequests { retry_after_s })
}

/// Send a photo into a chat the expert holds. The body is the image (JPEG, PNG or WebP, at
/// most 10 MB and 50 megapixels); it is stored re-encoded without metadata, with a thumbnail.
#[utoipa::path(post, path = "/app/conversations/{conversation_id}/attachments", tag = "store_app",
    params(("conversation_id" = String, Path), ("Idempotency-Key" = String, Header, description = "the client's upload id; a retry with the same id and bytes returns the same attachment")),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "the image's bytes (JPEG, PNG or WebP; the type is read from the bytes)"),
    responses((status = 201, body = Attachment, description = "stored"), (status = 200, body = Attachment, description = "stored before with this upload id"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "upload id reused for other bytes, or the chat is not open"),
        (status = 413, body = Problem), (status = 415, body = Problem, description = "not JPEG, PNG or WebP (HEIC is refused)"),
        (status = 422, body = Problem, description = "too many pixels, damaged, empty, or no Idempotency-Key"), (status = 429, body = Problem),
        (status = 503, body = Problem)),
    security(("expert_token" = [])))]
async fn expert_upload(
    State(state): State<AppState>,
    ApprovedExpert(s): ApprovedExpert,
    Path(conversation_id): Path<ConversationId>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let me = s.expert.id.to_string();
    let chat = state.db.chat_parties(&s.expert.merchant_id, &conversation_id).await?;
    if chat.expert_id.as_deref() != Some(me.as_str()) {
        return Err(ApiError::NotFound);
    }
    if chat.status != crate::storage::ConversationStatus::Claimed {
        return Err(ApiError::Conflict("this chat is not open".into()));
    }
    let client_id = upload_id(&headers)?;
    limited(&state, &format!("e.{me}"))?;
    let bytes = read_capped(&headers, body).await?;
    let upload = Upload {
        merchant: &s.expert.merchant_id,
        conversation_id: &conversation_id,
        role: "expert",
        uploader_id: &me,
        client_upload_id: &client_id,
    };
    let outcome = state.media.accept(&state.db, &upload, bytes).await.map_err(upload_error)?;
    Ok(answer(&state.media, outcome, &Audience::Expert(me)))
}

/// A photo of a chat the expert holds or sent, with fresh signed URLs.
#[utoipa::path(get, path = "/app/attachments/{attachment_id}", tag = "store_app", params(("attachment_id" = String, Path)),
    responses((status = 200, body = Attachment), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("expert_token" = [])))]
async fn expert_attachment(
    State(state): State<AppState>,
    ApprovedExpert(s): ApprovedExpert,
    Path(id): Path<String>,
) -> ApiResult<Json<Attachment>> {
    let me = s.expert.id.to_string();
    let a = state.db.attachment(&s.expert.merchant_id, &id).await?;
    if !state.db.may_see_attachment(&Viewer::Expert(&me), &a).await? {
        return Err(ApiError::NotFound);
    }
    Ok(Json(Attachment::view(&state.media, &a, &Audience::Expert(me))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MerchantQuery {
    /// The merchant's public Merchant ID (the shopper token is checked against it).
    pub merchant: String,
}

/// The shopper sends a photo into their open chat (when the merchant allows shopper photos).
#[utoipa::path(post, path = "/widget/conversations/{conversation_id}/attachments", tag = "widget",
    params(("conversation_id" = String, Path), MerchantQuery, ("Idempotency-Key" = String, Header, description = "the client's upload id")),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "the image's bytes (JPEG, PNG or WebP)"),
    responses((status = 201, body = Attachment), (status = 200, body = Attachment, description = "stored before with this upload id"),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "the merchant does not accept shopper photos, or the page's origin is not allowed"),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem), (status = 503, body = Problem)),
    security(("shopper_token" = [])))]
async fn shopper_upload(
    State(state): State<AppState>,
    shopper: ShopperAuth,
    Path(conversation_id): Path<ConversationId>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let chat = state.db.chat_parties(&shopper.merchant, &conversation_id).await?;
    if chat.shopper_id != shopper.shopper {
        return Err(ApiError::NotFound);
    }
    if !state.db.attachment_settings(&shopper.merchant).await?.shopper_uploads {
        return Err(ApiError::forbidden("this shop does not accept photos from shoppers"));
    }
    if !chat.open() {
        return Err(ApiError::Conflict("this chat has ended".into()));
    }
    let client_id = upload_id(&headers)?;
    limited(&state, &format!("s.{}", shopper.shopper))?;
    let bytes = read_capped(&headers, body).await?;
    let upload = Upload {
        merchant: &shopper.merchant,
        conversation_id: &conversation_id,
        role: "shopper",
        uploader_id: &shopper.shopper,
        client_upload_id: &client_id,
    };
    let outcome = state.media.accept(&state.db, &upload, bytes).await.map_err(upload_error)?;
    Ok(answer(&state.media, outcome, &Audience::Shopper(shopper.shopper.clone())))
}

/// A photo of one of the shopper's chats, with fresh signed URLs.
#[utoipa::path(get, path = "/widget/attachments/{attachment_id}", tag = "widget", params(("attachment_id" = String, Path), MerchantQuery),
    responses((status = 200, body = Attachment), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("shopper_token" = [])))]
async fn shopper_attachment(State(state): State<AppState>, shopper: ShopperAuth, Path(id): Path<String>) -> ApiResult<Json<Attachment>> {
    let a = state.db.attachment(&shopper.merchant, &id).await?;
    if !state.db.may_see_attachment(&Viewer::Shopper(&shopper.shopper), &a).await? {
        return Err(ApiError::NotFound);
    }
    Ok(Json(Attachment::view(
        &state.media,
        &a,
        &Audience::Shopper(shopper.shopper.clone()),
    )))
}

fn dashboard_audience(actor: &Actor) -> Audience {
    match actor {
        Actor::Account(id) => Audience::Account(id.to_string()),
        Actor::ApiKey(id) => Audience::ApiKey(id.to_string()),
    }
}

async fn dashboard_view(state: &AppState, m: &Merchant<Exports>, id: &str) -> ApiResult<Attachment> {
    let a = state.db.attachment(&m.id, id).await?;
    let aud = dashboard_audience(&m.actor);
    let viewer = match &aud {
        Audience::Account(id) => Viewer::Account(id),
        Audience::ApiKey(id) => Viewer::ApiKey(id),
        _ => return Err(ApiError::NotFound),
    };
    if !state.db.may_see_attachment(&viewer, &a).await? {
        return Err(ApiError::NotFound);
    }
    Ok(Attachment::view(&state.media, &a, &aud))
}

/// A photo from one of the merchant's chats (module Exports, where transcripts are).
#[utoipa::path(get, path = "/attachments/{attachment_id}", tag = "exports", params(("attachment_id" = String, Path)),
    responses((status = 200, body = Attachment), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn dashboard_attachment(State(state): State<AppState>, m: Merchant<Exports>, Path(id): Path<String>) -> ApiResult<Json<Attachment>> {
    Ok(Json(dashboard_view(&state, &m, &id).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpenQuery {
    /// `full` (default) or `thumb`.
    pub variant: Option<String>,
}

/// A stable link to a photo for transcripts and exports: answers with a redirect to a fresh
/// signed URL for the signed-in account (or API key).
#[utoipa::path(get, path = "/attachments/{attachment_id}/open", tag = "exports", params(("attachment_id" = String, Path), OpenQuery),
    responses((status = 303, description = "to a signed file URL"), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "no such photo, or it was removed"), (status = 422, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn dashboard_open(
    State(state): State<AppState>,
    m: Merchant<Exports>,
    Path(id): Path<String>,
    Query(q): Query<OpenQuery>,
) -> ApiResult<Response> {
    let variant = match q.variant.as_deref() {
        None => Variant::Full,
        Some(v) => Variant::parse(v).ok_or_else(|| ApiError::invalid("variant", "must be full or thumb"))?,
    };
    let a = dashboard_view(&state, &m, &id).await?;
    let urls = a.urls.ok_or(ApiError::NotFound)?;
    let to = if variant == Variant::Full { urls.full } else { urls.thumb };
    let mut res = StatusCode::SEE_OTHER.into_response();
    res.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_str(&to).map_err(ApiError::internal)?);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// CORS for the widget's REST calls: the merchant's allowed origins (and our own) may call
/// with the shopper token; preflights are answered here. Credentials (cookies) are never used.
pub async fn widget_cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with(WIDGET_PREFIX) {
        return next.run(req).await;
    }
    let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let merchant = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "merchant")
            .map(|(_, v)| v.into_owned())
    });
    let allowed = match (&origin, merchant.as_deref().and_then(crate::ids::MerchantId::parse)) {
        (Some(o), Some(m)) => {
            let own = super::realtime::own_origin(req.headers(), state.config.secure_cookies);
            match state.hub.merchant(&m).await.filter(|s| s.active) {
                Some(s) => super::realtime::origin_allowed(Some(o), &s.origins, own.as_deref()),
                None => false,
            }
        }
        _ => false,
    };
    let preflight = req.method() == Method::OPTIONS;
    let mut res = if preflight {
        if allowed {
            StatusCode::NO_CONTENT.into_response()
        } else {
            ApiError::forbidden("this origin may not call the widget API").into_response()
        }
    } else {
        next.run(req).await
    };
    let h = res.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("origin"));
    if let (true, Some(o)) = (allowed, origin) {
        if let Ok(v) = HeaderValue::from_str(&o) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        if preflight {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type, idempotency-key"),
            );
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
    }
    res
}
