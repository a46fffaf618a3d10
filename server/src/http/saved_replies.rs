//! Saved replies: create, edit, delete, list and search; CSV export and all-or-nothing import.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::{modules::SavedReplies, JsonBody, Merchant, Query};
use super::AppState;
use crate::csv_table::{self, Table};
use crate::domain::{FieldError, Problems};
use crate::ids::SavedReplyId;
use crate::storage::{ImportSummary, Page, SavedReply, SavedReplyFields};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(export_csv))
        .routes(routes!(import_csv))
}

fn reply_id(s: &str) -> ApiResult<SavedReplyId> {
    SavedReplyId::parse(s).ok_or(ApiError::NotFound)
}

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct SavedReplyInput {
    /// Letters, digits, `-` and `_`, up to 32 characters; typed after `/` in the store app.
    pub shortcut: String,
    pub title: String,
    /// Plain text (never interpreted as HTML), up to 2,000 characters.
    pub body: String,
}

pub const MAX_REPLY_BODY: usize = 2000;

fn check(p: &mut Problems, prefix: &str, r: &SavedReplyInput) -> SavedReplyFields {
    let shortcut = r.shortcut.trim().trim_start_matches('/').to_lowercase();
    let ok = !shortcut.is_empty() && shortcut.len() <= 32 && shortcut.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    p.check(ok, &format!("{prefix}shortcut"), "use 1–32 letters, digits, - or _");
    p.text(&format!("{prefix}title"), &r.title, 100);
    p.text(&format!("{prefix}body"), &r.body, MAX_REPLY_BODY);
    SavedReplyFields {
        shortcut,
        title: r.title.trim().to_owned(),
        body: r.body.trim().to_owned(),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReplyQuery {
    /// Matches shortcut, title or body, case-insensitively.
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, operation_id = "list_saved_replies", path = "/saved-replies", tag = "saved_replies", params(ReplyQuery),
    responses((status = 200, body = Page<SavedReply>)), security(("session" = []), ("api_key" = [])))]
async fn list(State(state): State<AppState>, m: Merchant<SavedReplies>, Query(q): Query<ReplyQuery>) -> ApiResult<Json<Page<SavedReply>>> {
    let page = super::extract::PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .request()?;
    Ok(Json(state.db.list_saved_replies(&m.id, q.q.as_deref(), &page).await?))
}

#[utoipa::path(post, operation_id = "create_saved_reply", path = "/saved-replies", tag = "saved_replies", request_body = SavedReplyInput,
    responses((status = 201, body = SavedReply), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn create(
    State(state): State<AppState>,
    m: Merchant<SavedReplies>,
    JsonBody(req): JsonBody<SavedReplyInput>,
) -> ApiResult<(StatusCode, Json<SavedReply>)> {
    let mut p = Problems::new();
    let f = check(&mut p, "", &req);
    p.into_result().map_err(ApiError::Validation)?;
    Ok((StatusCode::CREATED, Json(state.db.create_saved_reply(&m.id, &f).await?)))
}

#[utoipa::path(get, operation_id = "get_saved_reply", path = "/saved-replies/{reply_id}", tag = "saved_replies", params(("reply_id" = String, Path)),
    responses((status = 200, body = SavedReply), (status = 404, body = super::error::Problem)), security(("session" = []), ("api_key" = [])))]
async fn get_one(State(state): State<AppState>, m: Merchant<SavedReplies>, Path(id): Path<String>) -> ApiResult<Json<SavedReply>> {
    Ok(Json(state.db.get_saved_reply(&m.id, &reply_id(&id)?).await?))
}

#[utoipa::path(put, operation_id = "update_saved_reply", path = "/saved-replies/{reply_id}", tag = "saved_replies", params(("reply_id" = String, Path)), request_body = SavedReplyInput,
    responses((status = 200, body = SavedReply), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn update(
    State(state): State<AppState>,
    m: Merchant<SavedReplies>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<SavedReplyInput>,
) -> ApiResult<Json<SavedReply>> {
    let id = reply_id(&id)?;
    let mut p = Problems::new();
    let f = check(&mut p, "", &req);
    p.into_result().map_err(ApiError::Validation)?;
    Ok(Json(state.db.update_saved_reply(&m.id, &id, &f).await?))
}

#[utoipa::path(delete, operation_id = "delete_saved_reply", path = "/saved-replies/{reply_id}", tag = "saved_replies", params(("reply_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::error::Problem)), security(("session" = []), ("api_key" = [])))]
async fn delete(State(state): State<AppState>, m: Merchant<SavedReplies>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    state.db.delete_saved_reply(&m.id, &reply_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The columns of `saved-replies/export.csv`, the ones the import reads.
pub(crate) fn export_table() -> Table<SavedReply> {
    Table::new(&[
        ("shortcut", |r, c| c.safe(&r.shortcut)),
        ("title", |r, c| c.safe(&r.title)),
        ("body", |r, c| c.safe(&r.body)),
    ])
}

/// All saved replies as CSV with the header `shortcut,title,body` (RFC 4180, UTF-8).
#[utoipa::path(get, path = "/saved-replies/export.csv", tag = "saved_replies",
    responses((status = 200, content_type = "text/csv", body = String)), security(("session" = []), ("api_key" = [])))]
async fn export_csv(State(state): State<AppState>, m: Merchant<SavedReplies>) -> ApiResult<impl IntoResponse> {
    let rows = state.db.all_saved_replies(&m.id).await?;
    let body = csv_table::write_all(&export_table(), &rows).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"saved-replies.csv\""),
        ],
        body,
    ))
}

pub const MAX_IMPORT_ROWS: usize = 5000;

/// Import a CSV with the header `shortcut,title,body`. Rows with a known shortcut update it;
/// others are created. All or nothing: one bad row and nothing changes.
#[utoipa::path(post, path = "/saved-replies/import", tag = "saved_replies", request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportSummary), (status = 415, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn import_csv(
    State(state): State<AppState>,
    m: Merchant<SavedReplies>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportSummary>> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.starts_with("text/csv") {
        return Err(ApiError::UnsupportedMediaType("send the file as text/csv".into()));
    }
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::BadRequest("the file must be UTF-8".into()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| ApiError::BadRequest(format!("unreadable CSV: {e}")))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let (Some(cs), Some(ct), Some(cb)) = (col("shortcut"), col("title"), col("body")) else {
        return Err(ApiError::invalid(
            "header",
            "the first row must name the columns shortcut, title, body",
        ));
    };
    let mut p = Problems::new();
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                p.0.push(FieldError {
                    field: format!("row {line}"),
                    message: format!("unreadable: {e}"),
                });
                continue;
            }
        };
        let unquote = |s: &str| {
            s.strip_prefix('\'')
                .filter(|r| r.starts_with(['=', '+', '-', '@']))
                .unwrap_or(s)
                .to_owned()
        };
        let input = SavedReplyInput {
            shortcut: unquote(rec.get(cs).unwrap_or("")),
            title: unquote(rec.get(ct).unwrap_or("")),
            body: unquote(rec.get(cb).unwrap_or("")),
        };
        let f = check(&mut p, &format!("row {line}."), &input);
        if !seen.insert(f.shortcut.clone()) {
            p.add(format!("row {line}.shortcut"), "appears twice in the file");
        }
        rows.push(f);
    }
    if rows.len() > MAX_IMPORT_ROWS {
        p.add("file", format!("at most {MAX_IMPORT_ROWS} rows"));
    }
    p.into_result().map_err(ApiError::Validation)?;
    Ok(Json(state.db.import_saved_replies(&m.id, &rows).await?))
}
