//! Dashboard sign-in: login, logout, the current session, password change.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::{ClientIp, JsonBody, Session, SESSION_COOKIE};
use super::AppState;
use crate::auth;
use crate::domain::{check_password, normalize_email, Problems};
use crate::hub::revoke::Cred;
use crate::storage::Account;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(session))
        .routes(routes!(change_password))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub account: Account,
    /// Send as `X-CSRF-Token` on every POST, PUT, PATCH and DELETE.
    pub csrf_token: String,
    /// The IANA time zone the merchant's figures are shown in (Settings → Routing, else the
    /// first store's, else UTC); null for the operator.
    #[schema(required = true)]
    pub time_zone: Option<String>,
}

/// A cookie scripts may read (no secret in it): `1` while this browser holds a session, so the
/// dashboard asks for its session only then and a signed-out visit makes no failing request.
pub const SIGNED_IN_HINT: &str = "fw_signed_in";

async fn view(state: &AppState, account: Account, csrf_token: String) -> SessionView {
    let time_zone = match &account.merchant_id {
        Some(m) => Some(super::analytics::merchant_zone(state, m).await.name().to_owned()),
        None => None,
    };
    SessionView {
        account,
        csrf_token,
        time_zone,
    }
}

fn hint_cookie(state: &AppState) -> Cookie<'static> {
    Cookie::build((SIGNED_IN_HINT, "1"))
        .http_only(false)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .path("/")
        .build()
}

pub(crate) fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .path("/")
        .build()
}

async fn start_session(state: &AppState, jar: CookieJar, account: Account) -> ApiResult<(CookieJar, SessionView)> {
    let token = auth::new_token(auth::SESSION_PREFIX);
    let csrf = auth::new_token("");
    state
        .db
        .create_session(&account.id, &auth::token_hash(&token), &csrf, auth::SESSION_TTL_MS)
        .await?;
    let view = view(state, account, csrf).await;
    Ok((jar.add(session_cookie(state, token)).add(hint_cookie(state)), view))
}

/// Sign in to the dashboard. Unknown email and wrong password get the same answer.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SessionView, description = "Signed in; sets the fw_session cookie"),
              (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem, description = "Sent from another site's page"),
              (status = 429, body = super::error::Problem)))]
async fn login(
    State(state): State<AppState>,
    _same_origin: super::guard::SameOrigin,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    JsonBody(req): JsonBody<LoginRequest>,
) -> ApiResult<(CookieJar, Json<SessionView>)> {
    let email = normalize_email(&req.email);
    state
        .throttle
        .check(&email, ip)
        .await
        .map_err(|s| ApiError::TooManyRequests { retry_after_s: s })?;
    let found = state.db.account_for_login(&email).await?;
    let (account, hash) = match found {
        Some((a, h)) => (Some(a), Some(h)),
        None => (None, None),
    };
    let ok = auth::verify_password(req.password, hash).await;
    let account = match account {
        Some(a) if ok && a.active => a,
        _ => return Err(ApiError::InvalidCredentials),
    };
    if let Some(m) = &account.merchant_id {
        if !state.db.get_merchant(m).await?.active {
            return Err(ApiError::InvalidCredentials);
        }
    }
    let (jar, view) = start_session(&state, jar, account).await?;
    Ok((jar, Json(view)))
}

/// Sign out: the session ends on the server, not only in the browser.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204), (status = 401, body = super::error::Problem)),
    security(("session" = [])))]
async fn logout(State(state): State<AppState>, Session(s): Session, jar: CookieJar) -> ApiResult<(CookieJar, StatusCode)> {
    state.db.delete_session(&s.token_hash).await?;
    state.hub.revoke(Cred::Session(&s.token_hash));
    Ok((
        jar.remove(Cookie::build(SESSION_COOKIE).path("/"))
            .remove(Cookie::build(SIGNED_IN_HINT).path("/")),
        StatusCode::NO_CONTENT,
    ))
}

/// The signed-in account, its modules and the CSRF token.
#[utoipa::path(get, path = "/auth/session", tag = "auth", responses((status = 200, body = SessionView), (status = 401, body = super::error::Problem)),
    security(("session" = [])))]
async fn session(State(state): State<AppState>, Session(s): Session) -> Json<SessionView> {
    Json(view(&state, s.account, s.csrf_token).await)
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// Change the password. Every session of the account ends; this browser gets a fresh one.
#[utoipa::path(post, path = "/auth/password", tag = "auth", request_body = ChangePassword,
    responses((status = 200, body = SessionView), (status = 401, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("session" = [])))]
async fn change_password(
    State(state): State<AppState>,
    Session(s): Session,
    jar: CookieJar,
    JsonBody(req): JsonBody<ChangePassword>,
) -> ApiResult<(CookieJar, Json<SessionView>)> {
    let mut p = Problems::new();
    check_password(&mut p, "new_password", &req.new_password);
    p.into_result().map_err(ApiError::Validation)?;
    let hash = state.db.password_hash_of_account(&s.account.id).await?;
    if !auth::verify_password(req.current_password, Some(hash)).await {
        return Err(ApiError::invalid("current_password", "is not your current password"));
    }
    let new_hash = auth::hash_password(req.new_password).await?;
    state.db.set_account_password(&s.account.id, &new_hash).await?;
    state.hub.revoke(Cred::Account(s.account.id.as_str()));
    let (jar, view) = start_session(&state, jar, s.account).await?;
    Ok((jar, Json(view)))
}
