//! Extractors that resolve who is calling and for which merchant.
//!
//! The tenant always comes from a verified credential: the dashboard session cookie, a
//! store-app token or a merchant API key, never from a header or a body field. Handlers take
//! one of these extractors, so a route cannot forget authentication or its module check:
//!
//! - [`Session`]: any signed-in dashboard account (CSRF checked on unsafe methods).
//! - [`Operator`]: a signed-in operator.
//! - [`Merchant<M>`]: a merchant account that has module `M`, or a merchant API key when the
//!   module allows keys.
//! - [`ExpertAuth`] / [`ApprovedExpert`]: a store-app token.

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum_extra::extract::CookieJar;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;
use crate::auth;
use crate::domain::team::{ExpertStatus, Module, Role};
use crate::ids::{AccountId, ApiKeyId, MerchantId};
use crate::storage::{ExpertSession, SessionInfo};

pub const SESSION_COOKIE: &str = "fw_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// JSON body whose rejections are problem details.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct JsonBody<T>(pub T);

/// Query string whose rejections are problem details.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// The caller's address, for throttling (the socket peer; put a trusted proxy's header here
/// when one is deployed in front).
pub fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A signed-in dashboard account.
pub struct Session(pub SessionInfo);

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(s) = parts.extensions.get::<SessionInfo>() {
            return Ok(Session(s.clone()));
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar
            .get(SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .ok_or(ApiError::Unauthorized)?;
        let info = state.db.session(&auth::token_hash(&token)).await?.ok_or(ApiError::Unauthorized)?;
        if !is_safe(&parts.method) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !bool::from(sent.as_bytes().ct_eq(info.csrf_token.as_bytes())) {
                return Err(ApiError::Csrf);
            }
        }
        parts.extensions.insert(info.clone());
        Ok(Session(info))
    }
}

/// A signed-in operator (Access and Demo).
pub struct Operator(pub SessionInfo);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Session(s) = Session::from_request_parts(parts, state).await?;
        if s.account.role != Role::Operator {
            return Err(ApiError::forbidden("only the operator may use Access and Demo"));
        }
        Ok(Operator(s))
    }
}

/// Type-level module names, so `Merchant<Team>` reads like the rule it enforces.
pub trait ModuleMarker: Send + Sync + 'static {
    const MODULE: Module;
}

pub mod modules {
    use super::ModuleMarker;
    use crate::domain::team::Module;
    macro_rules! marker {
        ($($name:ident),*) => {$(
            pub struct $name;
            impl ModuleMarker for $name { const MODULE: Module = Module::$name; }
        )*};
    }
    marker!(
        Analytics,
        Exports,
        Stores,
        Team,
        Settings,
        SavedReplies,
        Shoppers,
        Integrations,
        Catalogue,
        Orders
    );
}

/// Who did it, for audit fields.
#[derive(Debug, Clone)]
pub enum Actor {
    Account(AccountId),
    ApiKey(ApiKeyId),
}

/// A caller allowed to use module `M` of exactly one merchant.
pub struct Merchant<M: ModuleMarker> {
    pub id: MerchantId,
    pub actor: Actor,
    _module: PhantomData<M>,
}

impl<M: ModuleMarker> FromRequestParts<AppState> for Merchant<M> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(token) = bearer(parts) {
            if !token.starts_with(auth::API_KEY_PREFIX) {
                return Err(ApiError::Unauthorized);
            }
            let (merchant, key) = state
                .db
                .api_key_merchant(&auth::token_hash(token))
                .await?
                .ok_or(ApiError::Unauthorized)?;
            // Logged for the merchant whether or not the key may use this module.
            if let Some(slot) = parts.extensions.get::<super::call_log::ApiKeySlot>() {
                let _ = slot.0.set(ApiKeyUsed(key.clone(), merchant.clone()));
            }
            if !M::MODULE.api_key_allowed() {
                return Err(ApiError::forbidden(format!("API keys cannot use {}", M::MODULE.as_str())));
            }
            return Ok(Merchant {
                id: merchant,
                actor: Actor::ApiKey(key),
                _module: PhantomData,
            });
        }
        let Session(s) = Session::from_request_parts(parts, state).await?;
        let merchant = match (&s.account.role, &s.account.merchant_id) {
            (Role::Merchant, Some(m)) => m.clone(),
            _ => return Err(ApiError::forbidden("this is a merchant module; sign in with a merchant account")),
        };
        if !s.account.has(M::MODULE) {
            return Err(ApiError::forbidden(format!("this account may not open {}", M::MODULE.as_str())));
        }
        Ok(Merchant {
            id: merchant,
            actor: Actor::Account(s.account.id.clone()),
            _module: PhantomData,
        })
    }
}

/// Marker left in request extensions when a merchant API key authenticated the call
/// (the API call log reads it).
#[derive(Debug, Clone)]
pub struct ApiKeyUsed(pub ApiKeyId, pub MerchantId);

/// An expert signed in to the store app (pending experts included: they see a waiting screen).
pub struct ExpertAuth(pub ExpertSession);

impl FromRequestParts<AppState> for ExpertAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)
            .filter(|t| t.starts_with(auth::EXPERT_TOKEN_PREFIX))
            .ok_or(ApiError::Unauthorized)?;
        let s = state
            .db
            .expert_session(&auth::token_hash(token))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(ExpertAuth(s))
    }
}

/// An approved expert: may chat, read saved replies and contacts.
pub struct ApprovedExpert(pub ExpertSession);

impl FromRequestParts<AppState> for ApprovedExpert {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ExpertAuth(s) = ExpertAuth::from_request_parts(parts, state).await?;
        if s.expert.status != ExpertStatus::Approved {
            return Err(ApiError::forbidden("waiting for the merchant's approval"));
        }
        Ok(ApprovedExpert(s))
    }
}

/// Cursor pagination parameters shared by every list.
#[derive(Debug, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn request(&self) -> Result<crate::storage::PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ApiError::invalid("limit", "must be 1–200"));
        }
        if self.cursor.as_deref().is_some_and(|c| c.len() > 100) {
            return Err(ApiError::invalid("cursor", "not a cursor from this API"));
        }
        Ok(crate::storage::PageRequest {
            after: self.cursor.clone(),
            limit,
        })
    }
}
