//! Store-app accounts: sign-up with the merchant's invite code, login, logout, profile,
//! password, and the saved replies approved experts use.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::{ApprovedExpert, ClientIp, ExpertAuth, JsonBody, Query};
use super::AppState;
use crate::auth;
use crate::domain::team::ExpertStatus;
use crate::domain::{check_password, normalize_email, plausible_email, Problems};
use crate::storage::{Expert, NewExpert, SavedReply, StorageError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(saved_replies))
}

#[derive(Deserialize, ToSchema)]
pub struct SignupRequest {
    /// The merchant's invite code, from Manage Team.
    pub invite_code: String,
    pub email: String,
    pub name: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct ExpertTokenView {
    pub expert: Expert,
    /// Bearer token for the API and the experts' WebSocket. Shown once.
    pub token: String,
}

async fn issue_token(state: &AppState, expert: Expert) -> ApiResult<ExpertTokenView> {
    let token = auth::new_token(auth::EXPERT_TOKEN_PREFIX);
    state
        .db
        .create_expert_token(&expert, &auth::token_hash(&token), auth::EXPERT_TOKEN_TTL_MS)
        .await?;
    Ok(ExpertTokenView { expert, token })
}

/// Sign up as an expert. The account is pending until the merchant approves it.
#[utoipa::path(post, path = "/app/signup", tag = "store_app", request_body = SignupRequest,
    responses((status = 201, body = ExpertTokenView), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem), (status = 429, body = super::error::Problem)))]
async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(req): JsonBody<SignupRequest>,
) -> ApiResult<(StatusCode, Json<ExpertTokenView>)> {
    let email = normalize_email(&req.email);
    // Throttled like logins: invite codes must not be guessable by brute force.
    state
        .throttle
        .check(&format!("signup:{ip}"), ip)
        .await
        .map_err(|s| ApiError::TooManyRequests { retry_after_s: s })?;
    let mut p = Problems::new();
    p.check(plausible_email(&email), "email", "must be an email address");
    p.text("name", &req.name, 100);
    check_password(&mut p, "password", &req.password);
    p.into_result().map_err(ApiError::Validation)?;
    let merchant = match state.db.merchant_by_invite_code(&req.invite_code).await {
        Ok(m) => m,
        Err(StorageError::NotFound) => return Err(ApiError::invalid("invite_code", "is not a valid invite code")),
        Err(e) => return Err(e.into()),
    };
    let hash = auth::hash_password(req.password).await?;
    let expert = state
        .db
        .create_expert(
            &merchant,
            &NewExpert {
                email: &email,
                name: req.name.trim(),
                password_hash: &hash,
                status: ExpertStatus::Pending,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(issue_token(&state, expert).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct ExpertLogin {
    pub email: String,
    pub password: String,
}

/// Sign in to the store app. Pending experts may sign in to see their waiting screen.
#[utoipa::path(post, operation_id = "app_login", path = "/app/login", tag = "store_app", request_body = ExpertLogin,
    responses((status = 200, body = ExpertTokenView), (status = 401, body = super::error::Problem), (status = 429, body = super::error::Problem)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(req): JsonBody<ExpertLogin>,
) -> ApiResult<Json<ExpertTokenView>> {
    let email = normalize_email(&req.email);
    state
        .throttle
        .check(&format!("expert:{email}"), ip)
        .await
        .map_err(|s| ApiError::TooManyRequests { retry_after_s: s })?;
    let found = state.db.expert_for_login(&email).await?;
    let (expert, hash) = match found {
        Some((e, h)) => (Some(e), Some(h)),
        None => (None, None),
    };
    let ok = auth::verify_password(req.password, hash).await;
    let expert = match expert {
        Some(e) if ok => e,
        _ => return Err(ApiError::InvalidCredentials),
    };
    if expert.status == ExpertStatus::Deactivated || !state.db.get_merchant(&expert.merchant_id).await?.active {
        return Err(ApiError::forbidden("this account is deactivated; ask your manager"));
    }
    Ok(Json(issue_token(&state, expert).await?))
}

/// Sign out this device: its token stops working at once.
#[utoipa::path(post, operation_id = "app_logout", path = "/app/logout", tag = "store_app", responses((status = 204), (status = 401, body = super::error::Problem)),
    security(("expert_token" = [])))]
async fn logout(State(state): State<AppState>, ExpertAuth(s): ExpertAuth) -> ApiResult<StatusCode> {
    state.db.delete_expert_token(&s.token_hash).await?;
    state.hub.revoke(crate::hub::revoke::Cred::ExpertToken(&s.token_hash));
    // This device's push subscriptions go with its sign-in (issue 23).
    state.db.delete_push_subscriptions_of_token(&s.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in expert (status tells the app whether to show the waiting screen).
#[utoipa::path(get, path = "/app/me", tag = "store_app", responses((status = 200, body = Expert), (status = 401, body = super::error::Problem)),
    security(("expert_token" = [])))]
async fn me(ExpertAuth(s): ExpertAuth) -> Json<Expert> {
    Json(s.expert)
}

#[derive(Deserialize, ToSchema)]
pub struct ExpertPassword {
    pub current_password: String,
    pub new_password: String,
}

/// Change the password; every token of the expert ends and this device gets a new one.
#[utoipa::path(post, operation_id = "app_change_password", path = "/app/password", tag = "store_app", request_body = ExpertPassword,
    responses((status = 200, body = ExpertTokenView), (status = 401, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("expert_token" = [])))]
async fn change_password(
    State(state): State<AppState>,
    ExpertAuth(s): ExpertAuth,
    JsonBody(req): JsonBody<ExpertPassword>,
) -> ApiResult<Json<ExpertTokenView>> {
    let mut p = Problems::new();
    check_password(&mut p, "new_password", &req.new_password);
    p.into_result().map_err(ApiError::Validation)?;
    let e = &s.expert;
    let hash = state.db.expert_password_hash(&e.merchant_id, &e.id).await?;
    if !auth::verify_password(req.current_password, Some(hash)).await {
        return Err(ApiError::invalid("current_password", "is not your current password"));
    }
    let new_hash = auth::hash_password(req.new_password).await?;
    state.db.set_expert_password(&e.merchant_id, &e.id, &new_hash).await?;
    state.hub.kick_expert(e.id.as_str());
    Ok(Json(issue_token(&state, s.expert).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReplySearch {
    /// Matches shortcut, title or text, case-insensitively.
    pub q: Option<String>,
}

/// Saved replies for the expert's merchant, searchable by shortcut and text.
#[utoipa::path(get, path = "/app/saved-replies", tag = "store_app", params(ReplySearch),
    responses((status = 200, body = Vec<SavedReply>), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)),
    security(("expert_token" = [])))]
async fn saved_replies(
    State(state): State<AppState>,
    ApprovedExpert(s): ApprovedExpert,
    Query(q): Query<ReplySearch>,
) -> ApiResult<Json<Vec<SavedReply>>> {
    let all = state.db.all_saved_replies(&s.expert.merchant_id).await?;
    let needle = q.q.unwrap_or_default().trim().to_lowercase();
    let needle = needle.trim_start_matches('/');
    let hits = all
        .into_iter()
        .filter(|r| {
            needle.is_empty()
                || r.shortcut.to_lowercase().contains(needle)
                || r.title.to_lowercase().contains(needle)
                || r.body.to_lowercase().contains(needle)
        })
        .collect();
    Ok(Json(hits))
}
