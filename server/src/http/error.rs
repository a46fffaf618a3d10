//! One error type for the HTTP layer, rendered as RFC 9457 problem details.
//!
//! Each variant is an HTTP outcome with a stable `type` URI that clients may switch on.
//! A 5xx logs its cause and sends a generic body, so internals never leak.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::FieldError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    Unprocessable(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("missing or wrong CSRF token")]
    Csrf,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// A conflict caused by one field (e.g. an email already in use), reported on that field.
    #[error("{message}")]
    FieldConflict { field: String, message: String },
    #[error("too many attempts")]
    TooManyRequests { retry_after_s: u64 },
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
    #[error("service unavailable")]
    Unavailable(String),
}

/// RFC 9457 body. `errors` lists field problems for `validation`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable identifier of the problem kind, e.g. `urn:floorwalker:problem:not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) | ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Csrf => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::FieldConflict { .. } => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Validation(_) => "validation",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::Unauthorized => "unauthorized",
            ApiError::InvalidCredentials => "invalid-credentials",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Csrf => "csrf",
            ApiError::NotFound => "not-found",
            ApiError::Conflict(_) | ApiError::FieldConflict { .. } => "conflict",
            ApiError::TooManyRequests { .. } => "rate-limited",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::PayloadTooLarge => "payload-too-large",
            ApiError::Internal(_) => "internal",
            ApiError::Unavailable(_) => "unavailable",
        }
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        ApiError::Forbidden(msg.into())
    }

    pub fn invalid(field: &str, message: &str) -> Self {
        ApiError::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(e.into())
    }
}

pub const PROBLEM_PREFIX: &str = "urn:floorwalker:problem:";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "request failed");
                None
            }
            ApiError::Unavailable(why) => {
                tracing::warn!(%why, "dependency unavailable");
                None
            }
            ApiError::BadRequest(m) | ApiError::Unprocessable(m) | ApiError::Forbidden(m) | ApiError::Conflict(m) => Some(m.clone()),
            ApiError::UnsupportedMediaType(m) => Some(m.clone()),
            ApiError::FieldConflict { message, .. } => Some(message.clone()),
            _ => None,
        };
        let errors = match &self {
            ApiError::Validation(errs) => errs.clone(),
            ApiError::FieldConflict { field, message } => vec![FieldError {
                field: field.clone(),
                message: message.clone(),
            }],
            _ => vec![],
        };
        let body = Problem {
            kind: format!("{PROBLEM_PREFIX}{}", self.slug()),
            title: self.to_string(),
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut res = (status, axum::Json(body)).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let ApiError::TooManyRequests { retry_after_s } = self {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
        }
        res
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => ApiError::NotFound,
            StorageError::Conflict(m) => ApiError::Conflict(m),
            StorageError::Invalid(m) => ApiError::Unprocessable(m),
            StorageError::Db(e) => ApiError::Internal(e.into()),
            StorageError::Corrupt(m) | StorageError::Writer(m) => ApiError::Internal(anyhow::anyhow!(m)),
            StorageError::Sqlite(e) => ApiError::Internal(e.into()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType("send the body as application/json".into()),
            JsonRejection::JsonDataError(e) => ApiError::Unprocessable(super::guard::scrub(&e.body_text())),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            other => ApiError::BadRequest(super::guard::scrub(&other.body_text())),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest(super::guard::scrub(&r.body_text()))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
