//! Outbound uses with their own callers: expert invitations by e-mail (Team), transcripts for
//! shoppers (their shopper token) and experts (the store app), the "continue the conversation"
//! link, and the unsubscribe pages. `/r/…` and `/u/…` are the links printed in e-mail.

use crate::ids::ConversationId;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{modules::Team, ApprovedExpert, JsonBody, Merchant, Query};
use super::AppState;
use crate::domain::Problems;
use crate::ids::MerchantId;
use crate::outbound::links::Claims;
use crate::outbound::{parse_address, uses, HOURLY_LIMIT};
use crate::storage::{ConversationRow, Enqueued, StorageError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invitations))
        .routes(routes!(shopper_transcript))
        .routes(routes!(shopper_transcript_email))
        .routes(routes!(reopen))
        .routes(routes!(expert_transcript_email))
}

/// The links printed in e-mail (HTML, outside the API).
pub fn link_router() -> Router<AppState> {
    Router::new()
        .route("/r/{token}", get(follow_reopen))
        .route("/u/{token}", get(unsubscribe_page).post(unsubscribe))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    /// 1–50 addresses.
    pub emails: Vec<String>,
    /// The e-mail's language (en, sv, de, el, cs, fa); default en.
    pub language: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryResult {
    pub email: String,
    /// queued | refused (suppressed or rate limited; see `reason`) | duplicate (sent already today)
    pub status: String,
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The outbox row, when one was written.
    #[schema(required = true)]
    pub message_id: Option<String>,
}

fn result(email: String, e: Enqueued) -> DeliveryResult {
    match e {
        Enqueued::Queued(id) => DeliveryResult {
            email,
            status: "queued".into(),
            reason: None,
            message_id: Some(id),
        },
        Enqueued::Refused { id, reason } => DeliveryResult {
            email,
            status: "refused".into(),
            reason: Some(reason),
            message_id: Some(id),
        },
        Enqueued::Duplicate => DeliveryResult {
            email,
            status: "duplicate".into(),
            reason: None,
            message_id: None,
        },
    }
}

/// E-mail the store app's invite code to these addresses (one e-mail per address a day).
#[utoipa::path(post, path = "/team/invitations", tag = "team", request_body = InvitationRequest,
    responses((status = 202, body = Vec<DeliveryResult>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("session" = [])))]
async fn invitations(
    State(state): State<AppState>,
    m: Merchant<Team>,
    JsonBody(req): JsonBody<InvitationRequest>,
) -> ApiResult<(StatusCode, Json<Vec<DeliveryResult>>)> {
    let mut p = Problems::new();
    p.check(!req.emails.is_empty(), "emails", "give at least one address");
    p.check(req.emails.len() <= 50, "emails", "at most 50 addresses at a time");
    let mut addresses = Vec::new();
    for (i, e) in req.emails.iter().enumerate() {
        match parse_address(e) {
            Some(a) if !addresses.contains(&a) => addresses.push(a),
            Some(_) => {}
            None => p.add(format!("emails[{i}]"), "must be an e-mail address"),
        }
    }
    check_language(&mut p, req.language.as_deref());
    p.into_result().map_err(ApiError::Validation)?;
    let lang = req.language.as_deref().unwrap_or("en");
    let done = uses::invite(&state.db, &state.outbound, &m.id, &addresses, lang).await?;
    Ok((StatusCode::ACCEPTED, Json(done.into_iter().map(|(e, r)| result(e, r)).collect())))
}

fn check_language(p: &mut Problems, lang: Option<&str>) {
    if let Some(l) = lang {
        p.check(
            crate::domain::settings::LANGUAGES.contains(&l),
            "language",
            "must be one of en, sv, de, el, cs, fa",
        );
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShopperQuery {
    /// The merchant's public Merchant ID.
    pub merchant: String,
    /// text (default) or html.
    pub format: Option<String>,
    /// en, sv, de, el, cs, fa.
    pub lang: Option<String>,
}

/// The shopper's conversation, when the bearer token is this merchant's shopper token for the
/// shopper who had it (anything else: 401 without a token, 404 with another shopper's).
async fn shoppers_conversation(
    state: &AppState,
    headers: &HeaderMap,
    merchant: &str,
    id: &ConversationId,
) -> ApiResult<(MerchantId, ConversationRow)> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .ok_or(ApiError::Unauthorized)?;
    let m = MerchantId::parse(merchant).ok_or(ApiError::Unauthorized)?;
    let shopper = state.hub.verify_shopper_token(m.as_str(), token).ok_or(ApiError::Unauthorized)?;
    match state.db.conversation(&m, id).await {
        Ok(c) if c.shopper_id == shopper => Ok((m, c)),
        Ok(_) | Err(StorageError::NotFound) => Err(ApiError::NotFound),
        Err(e) => Err(e.into()),
    }
}

/// Download a chat as plain text or HTML (`Authorization: Bearer <shopper token>`).
#[utoipa::path(get, path = "/widget/conversations/{conversation_id}/transcript", tag = "widget",
    params(("conversation_id" = String, Path), ShopperQuery),
    responses((status = 200, content_type = "text/plain", body = String), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("shopper_token" = [])))]
async fn shopper_transcript(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<ConversationId>,
    Query(q): Query<ShopperQuery>,
) -> ApiResult<Response> {
    let (m, conv) = shoppers_conversation(&state, &headers, &q.merchant, &id).await?;
    let html = match q.format.as_deref().unwrap_or("text") {
        "text" => false,
        "html" => true,
        _ => return Err(ApiError::invalid("format", "must be text or html")),
    };
    let lang = q.lang.as_deref().unwrap_or("en");
    let r = uses::render_transcript(&state.db, &state.outbound, &m, &conv, lang).await?;
    let (body, kind, ext) = if html {
        (r.html, "text/html; charset=utf-8", "html")
    } else {
        (r.text, "text/plain; charset=utf-8", "txt")
    };
    let day = chrono::DateTime::from_timestamp_millis(conv.created_at)
        .unwrap_or_default()
        .format("%Y-%m-%d");
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"chat-{day}.{ext}\"")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptEmailRequest {
    /// Where to send it. Used for this e-mail only.
    pub email: String,
    pub language: Option<String>,
}

/// E-mail the chat to an address the shopper gives ("E-mail me this chat").
#[utoipa::path(post, path = "/widget/conversations/{conversation_id}/transcript/email", tag = "widget",
    params(("conversation_id" = String, Path), ShopperQuery), request_body = TranscriptEmailRequest,
    responses((status = 202, body = DeliveryResult), (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)),
    security(("shopper_token" = [])))]
async fn shopper_transcript_email(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<ConversationId>,
    Query(q): Query<ShopperQuery>,
    JsonBody(req): JsonBody<TranscriptEmailRequest>,
) -> ApiResult<(StatusCode, Json<DeliveryResult>)> {
    let (m, conv) = shoppers_conversation(&state, &headers, &q.merchant, &id).await?;
    send_transcript(&state, &m, &conv, &req.email, req.language.as_deref()).await
}

async fn send_transcript(
    state: &AppState,
    m: &MerchantId,
    conv: &ConversationRow,
    email: &str,
    lang: Option<&str>,
) -> ApiResult<(StatusCode, Json<DeliveryResult>)> {
    let mut p = Problems::new();
    let to = parse_address(email);
    p.check(to.is_some(), "email", "must be an e-mail address");
    check_language(&mut p, lang);
    p.into_result().map_err(ApiError::Validation)?;
    let to = to.unwrap_or_default();
    // The per-recipient limit answers before anything is written.
    let recent = state.db.outbox_recent(m, &to, crate::now_ms() - 3_600_000).await?;
    if recent >= HOURLY_LIMIT {
        return Err(ApiError::TooManyRequests { retry_after_s: 3600 });
    }
    let done = uses::email_transcript(&state.db, &state.outbound, m, conv, &to, lang.unwrap_or("en")).await?;
    Ok((StatusCode::ACCEPTED, Json(result(to, done))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpertTranscriptRequest {
    /// Default: the address the shopper is known by (identified, or given in the offline form).
    pub email: Option<String>,
    pub language: Option<String>,
}

/// Store app: e-mail a chat the expert had to the shopper.
#[utoipa::path(post, path = "/app/conversations/{conversation_id}/transcript", tag = "store_app",
    params(("conversation_id" = String, Path)), request_body = ExpertTranscriptRequest,
    responses((status = 202, body = DeliveryResult), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem)),
    security(("expert_token" = [])))]
async fn expert_transcript_email(
    State(state): State<AppState>,
    ApprovedExpert(s): ApprovedExpert,
    Path(id): Path<ConversationId>,
    JsonBody(req): JsonBody<ExpertTranscriptRequest>,
) -> ApiResult<(StatusCode, Json<DeliveryResult>)> {
    let m = s.expert.merchant_id.clone();
    let conv = state.db.conversation(&m, &id).await?;
    if conv.expert_id.as_deref() != Some(s.expert.id.as_str()) {
        return Err(ApiError::NotFound);
    }
    let email = match req.email {
        Some(e) => e,
        None => known_email(&state, &m, &conv)
            .await?
            .ok_or_else(|| ApiError::invalid("email", "the shopper left no address: give one"))?,
    };
    send_transcript(&state, &m, &conv, &email, req.language.as_deref()).await
}

/// The address a shopper is known by: identified, or typed into the offline form of this chat.
async fn known_email(state: &AppState, m: &MerchantId, conv: &ConversationRow) -> ApiResult<Option<String>> {
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT s.email, c.offline_email FROM conversations c LEFT JOIN shoppers s ON s.id = c.shopper_id WHERE c.merchant_id = $1 AND c.id = $2",
    )
    .bind(m.as_str())
    .bind(&conv.id)
    .fetch_optional(&state.db.pool)
    .await
    .map_err(StorageError::from)?;
    Ok(row.and_then(|(a, b)| b.or(a)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenRequest {
    /// The token from a "continue the conversation" link (`/r/<token>`).
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct Reopened {
    pub merchant_id: String,
    pub conversation_id: ConversationId,
    pub shopper_id: String,
    /// The shopper token to say hello with on the shopper socket (re-issued).
    pub token: String,
}

/// Check a "continue the conversation" link and re-issue the shopper's token for it (the link is
/// the credential; `merchant=` in the query is for CORS, like every widget route).
#[utoipa::path(post, path = "/widget/reopen", tag = "widget", request_body = ReopenRequest,
    responses((status = 200, body = Reopened), (status = 400, body = Problem), (status = 401, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem), (status = 422, body = Problem)))]
async fn reopen(State(state): State<AppState>, JsonBody(req): JsonBody<ReopenRequest>) -> ApiResult<Json<Reopened>> {
    let (m, conv) = uses::check_reopen(&state.db, &state.outbound, &req.token)
        .await
        .ok_or(ApiError::Unauthorized)?;
    Ok(Json(Reopened {
        merchant_id: m.to_string(),
        token: state.hub.shopper_token(m.as_str(), &conv.shopper_id),
        shopper_id: conv.shopper_id,
        conversation_id: conv.id,
    }))
}

/// `/r/<token>`: to the page the chat started on (if the merchant allows that site), else the
/// merchant's first site, with `#fw-reopen=<token>` for the widget to pick up.
async fn follow_reopen(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let Some((m, conv)) = uses::check_reopen(&state.db, &state.outbound, &token).await else {
        return page(
            StatusCode::NOT_FOUND,
            "This link has expired",
            "Open the shop's website to start a new chat.",
        );
    };
    let origins = state.db.merchant_public(&m).await.map(|p| p.origins).unwrap_or_default();
    let allowed = |u: &str| {
        crate::domain::settings::canonical_origin(&url::Url::parse(u).map(|u| u.origin().ascii_serialization()).unwrap_or_default())
            .is_some_and(|o| origins.contains(&o))
    };
    let target = match conv.page_url.as_deref() {
        Some(u) if allowed(u) => u.split('#').next().unwrap_or(u).to_owned(),
        _ => origins
            .first()
            .map(|o| format!("{o}/"))
            .unwrap_or_else(|| format!("/shop/?merchant={m}")),
    };
    Redirect::to(&format!("{target}#fw-reopen={token}")).into_response()
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    (
        status,
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <meta name=\"color-scheme\" content=\"light dark\"><title>{t}</title></head>\
             <body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5\">\
             <h1 style=\"font-size:1.4rem\">{t}</h1>{text}</body></html>",
            t = esc(title),
        )),
    )
        .into_response()
}

/// `GET /u/<token>`: a page with one button (mail scanners follow links; only a person's POST
/// unsubscribes).
async fn unsubscribe_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.outbound.verify_link(&token) {
        Some(Claims::Unsubscribe { a, .. }) => page(
            StatusCode::OK,
            "Unsubscribe",
            &format!(
                "<p>Stop e-mails you did not ask for to <strong>{}</strong>? Replies and transcripts you ask for still arrive.</p>\
                 <form method=\"post\"><button type=\"submit\" style=\"font-size:1rem;padding:.6rem 1rem\">Unsubscribe</button></form>",
                a.replace('&', "&amp;").replace('<', "&lt;")
            ),
        ),
        _ => page(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "<p>This unsubscribe link is not valid.</p>",
        ),
    }
}

/// `POST /u/<token>`: the button above, and RFC 8058 one-click unsubscribe from mail clients.
async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(Claims::Unsubscribe { m, ch, a }) = state.outbound.verify_link(&token) else {
        return page(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "<p>This unsubscribe link is not valid.</p>",
        );
    };
    let Some(m) = MerchantId::parse(&m) else {
        return page(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "<p>This unsubscribe link is not valid.</p>",
        );
    };
    match state
        .db
        .suppress(&m, &ch, &a, "unsubscribe", Some("the recipient unsubscribed"))
        .await
    {
        Ok(()) => page(StatusCode::OK, "Unsubscribed", "<p>You will get no more of these e-mails.</p>"),
        Err(e) => {
            tracing::warn!(error = %e, "could not record an unsubscribe");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again",
                "<p>That did not work just now. Please try again in a moment.</p>",
            )
        }
    }
}
