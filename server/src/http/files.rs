//! `GET /files/{id}/{variant}?aud&exp&sig` — a photo's bytes through a signed URL that one of
//! the `attachments` routes ([`super::attachments`]) made for its caller. The signature names
//! the audience; the audience must still be allowed to see the photo when the URL is used.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::Query;
use super::AppState;
use crate::media::signing::{Audience, Variant};
use crate::media::Media;
use crate::storage::Viewer;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(file))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileQuery {
    /// Who the URL was issued to.
    pub aud: Option<String>,
    /// Expiry, unix seconds.
    pub exp: Option<String>,
    /// The server's signature.
    pub sig: Option<String>,
}

/// A photo's bytes, through a signed URL from one of the `attachments` routes. A wrong,
/// expired or forged signature, another audience, or a removed photo all answer 404.
#[utoipa::path(get, path = "/files/{attachment_id}/{variant}", tag = "files",
    params(("attachment_id" = String, Path), ("variant" = String, Path, description = "full or thumb"), FileQuery),
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>, description = "the image (image/jpeg or image/png)"),
        (status = 404, body = Problem)))]
async fn file(
    State(state): State<AppState>,
    Path((id, variant)): Path<(String, String)>,
    Query(q): Query<FileQuery>,
) -> ApiResult<Response> {
    let now_s = crate::now_ms() / 1000;
    let variant = Variant::parse(&variant).ok_or(ApiError::NotFound)?;
    let (Some(aud), Some(exp), Some(sig)) = (q.aud, q.exp.and_then(|e| e.parse::<i64>().ok()), q.sig) else {
        return Err(ApiError::NotFound);
    };
    let audience = state
        .media
        .signer
        .verify(&id, variant, exp, &aud, &sig, now_s)
        .ok_or(ApiError::NotFound)?;
    let a = state.db.attachment_any_merchant(&id).await?;
    if a.status != "stored" {
        return Err(ApiError::NotFound);
    }
    let viewer = match &audience {
        Audience::Shopper(s) => Viewer::Shopper(s),
        Audience::Expert(e) => Viewer::Expert(e),
        Audience::Account(x) => Viewer::Account(x),
        Audience::ApiKey(k) => Viewer::ApiKey(k),
    };
    if !state.db.may_see_attachment(&viewer, &a).await? {
        return Err(ApiError::NotFound);
    }
    let bytes = state
        .media
        .files
        .get(&Media::key(&a, variant))
        .await
        .map_err(|e| {
            tracing::error!(error = ?e, "reading a photo file");
            ApiError::Unavailable("photo storage".into())
        })?
        .ok_or(ApiError::NotFound)?;
    let ext = if a.mime == "image/png" { "png" } else { "jpg" };
    let max_age = (exp - now_s).clamp(0, 3600);
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_str(&a.mime).map_err(ApiError::internal)?),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_str(&format!("private, max-age={max_age}, immutable")).map_err(ApiError::internal)?,
        ),
        (
            header::CONTENT_DISPOSITION,
            HeaderValue::from_str(&format!(
                "inline; filename=\"photo-{}-{}.{ext}\"",
                &a.id[..8.min(a.id.len())],
                variant.as_str()
            ))
            .map_err(ApiError::internal)?,
        ),
        // The widget shows photos on the merchant's site.
        (
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("cross-origin"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        ),
    ];
    Ok((headers, bytes).into_response())
}
