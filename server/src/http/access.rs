//! Access (operator only): merchants and dashboard accounts with the modules each may open.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, Operator, PageQuery, Query};
use super::AppState;
use crate::auth;
use crate::domain::team::{Module, Role};
use crate::domain::{check_password, normalize_email, plausible_email, Problems};
use crate::ids::{AccountId, MerchantId};
use crate::storage::{Account, Merchant, NewAccount, Page};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_merchants, create_merchant))
        .routes(routes!(get_merchant, update_merchant))
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, update_account))
}

fn merchant_id(s: &str) -> ApiResult<MerchantId> {
    MerchantId::parse(s).ok_or(ApiError::NotFound)
}

/// All merchants.
#[utoipa::path(get, path = "/access/merchants", tag = "access", params(PageQuery),
    responses((status = 200, body = Page<Merchant>), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)),
    security(("session" = [])))]
async fn list_merchants(State(state): State<AppState>, _op: Operator, Query(q): Query<PageQuery>) -> ApiResult<Json<Page<Merchant>>> {
    Ok(Json(state.db.list_merchants(&q.request()?).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct NewAccountRequest {
    pub email: String,
    pub name: String,
    pub password: String,
    /// Defaults to every merchant module.
    #[serde(default)]
    pub modules: Option<Vec<Module>>,
}

#[derive(Deserialize, ToSchema)]
pub struct CreateMerchantRequest {
    pub name: String,
    /// The merchant's first dashboard account.
    pub account: NewAccountRequest,
}

#[derive(Serialize, ToSchema)]
pub struct MerchantCreated {
    pub merchant: Merchant,
    pub account: Account,
}

fn check_new_account(p: &mut Problems, prefix: &str, a: &NewAccountRequest) {
    p.check(plausible_email(&a.email), &format!("{prefix}email"), "must be an email address");
    p.text(&format!("{prefix}name"), &a.name, 100);
    check_password(p, &format!("{prefix}password"), &a.password);
}

/// Create a merchant (its Merchant ID is issued here) with its first dashboard account.
#[utoipa::path(post, path = "/access/merchants", tag = "access", request_body = CreateMerchantRequest,
    responses((status = 201, body = MerchantCreated), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("session" = [])))]
async fn create_merchant(
    State(state): State<AppState>,
    _op: Operator,
    JsonBody(req): JsonBody<CreateMerchantRequest>,
) -> ApiResult<(StatusCode, Json<MerchantCreated>)> {
    let mut p = Problems::new();
    p.text("name", &req.name, 100);
    check_new_account(&mut p, "account.", &req.account);
    p.into_result().map_err(ApiError::Validation)?;
    let email = normalize_email(&req.account.email);
    if state.db.account_for_login(&email).await?.is_some() {
        return Err(ApiError::FieldConflict {
            field: "account.email".into(),
            message: "an account with this email already exists".into(),
        });
    }
    let hash = auth::hash_password(req.account.password).await?;
    let merchant = state.db.create_merchant(req.name.trim()).await?;
    let modules = req.account.modules.unwrap_or_else(|| Module::ALL.to_vec());
    let account = state
        .db
        .create_account(&NewAccount {
            merchant_id: Some(&merchant.id),
            email: &email,
            name: req.account.name.trim(),
            password_hash: &hash,
            role: Role::Merchant,
            modules: &modules,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(MerchantCreated { merchant, account })))
}

#[utoipa::path(get, path = "/access/merchants/{merchant_id}", tag = "access", params(("merchant_id" = String, Path)),
    responses((status = 200, body = Merchant), (status = 404, body = super::error::Problem)), security(("session" = [])))]
async fn get_merchant(State(state): State<AppState>, _op: Operator, Path(id): Path<String>) -> ApiResult<Json<Merchant>> {
    Ok(Json(state.db.get_merchant(&merchant_id(&id)?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMerchant {
    pub name: Option<String>,
    /// A deactivated merchant's logins, keys and widget stop working.
    pub active: Option<bool>,
}

#[utoipa::path(patch, path = "/access/merchants/{merchant_id}", tag = "access", params(("merchant_id" = String, Path)), request_body = UpdateMerchant,
    responses((status = 200, body = Merchant), (status = 404, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("session" = [])))]
async fn update_merchant(
    State(state): State<AppState>,
    _op: Operator,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<UpdateMerchant>,
) -> ApiResult<Json<Merchant>> {
    let id = merchant_id(&id)?;
    if let Some(n) = &req.name {
        let mut p = Problems::new();
        p.text("name", n, 100);
        p.into_result().map_err(ApiError::Validation)?;
    }
    let merchant = state
        .db
        .update_merchant(&id, req.name.as_deref().map(str::trim), req.active)
        .await?;
    if req.active == Some(false) {
        // Its experts', dashboards' and shoppers' sockets close on every node; new shop sockets
        // are refused at once (no node goes on using its cached settings).
        state.hub.forget_merchant(&id);
        state.hub.revoke(crate::hub::revoke::Cred::Merchant(id.as_str()));
    }
    Ok(Json(merchant))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccountFilter {
    /// Only accounts of this merchant.
    pub merchant_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Dashboard accounts, of every merchant or one.
#[utoipa::path(get, path = "/access/accounts", tag = "access", params(AccountFilter),
    responses((status = 200, body = Page<Account>)), security(("session" = [])))]
async fn list_accounts(State(state): State<AppState>, _op: Operator, Query(q): Query<AccountFilter>) -> ApiResult<Json<Page<Account>>> {
    let merchant = match &q.merchant_id {
        Some(m) => Some(merchant_id(m)?),
        None => None,
    };
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .request()?;
    Ok(Json(state.db.list_accounts(merchant.as_ref(), &page).await?))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateAccountRequest {
    /// Required for merchant accounts; omit for another operator.
    pub merchant_id: Option<String>,
    pub role: Role,
    #[serde(flatten)]
    pub account: NewAccountRequest,
}

/// Create a dashboard account for a merchant (with its modules) or another operator.
#[utoipa::path(post, path = "/access/accounts", tag = "access", request_body = CreateAccountRequest,
    responses((status = 201, body = Account), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("session" = [])))]
async fn create_account(
    State(state): State<AppState>,
    _op: Operator,
    JsonBody(req): JsonBody<CreateAccountRequest>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    let mut p = Problems::new();
    check_new_account(&mut p, "", &req.account);
    let merchant = match (req.role, &req.merchant_id) {
        (Role::Merchant, Some(m)) => match MerchantId::parse(m) {
            Some(m) => Some(m),
            None => {
                p.add("merchant_id", "unknown merchant");
                None
            }
        },
        (Role::Merchant, None) => {
            p.add("merchant_id", "required for merchant accounts");
            None
        }
        (Role::Operator, Some(_)) => {
            p.add("merchant_id", "operators do not belong to a merchant");
            None
        }
        (Role::Operator, None) => None,
    };
    p.into_result().map_err(ApiError::Validation)?;
    if let Some(m) = &merchant {
        state
            .db
            .get_merchant(m)
            .await
            .map_err(|_| ApiError::invalid("merchant_id", "unknown merchant"))?;
    }
    let hash = auth::hash_password(req.account.password).await?;
    let modules = match req.role {
        Role::Merchant => req.account.modules.unwrap_or_else(|| Module::ALL.to_vec()),
        Role::Operator => vec![],
    };
    let account = state
        .db
        .create_account(&NewAccount {
            merchant_id: merchant.as_ref(),
            email: &normalize_email(&req.account.email),
            name: req.account.name.trim(),
            password_hash: &hash,
            role: req.role,
            modules: &modules,
        })
        .await
        .map_err(|e| match e {
            crate::storage::StorageError::Conflict(message) => ApiError::FieldConflict {
                field: "email".into(),
                message,
            },
            e => e.into(),
        })?;
    Ok((StatusCode::CREATED, Json(account)))
}

fn account_id(s: &str) -> ApiResult<AccountId> {
    AccountId::parse(s).ok_or(ApiError::NotFound)
}

#[utoipa::path(get, path = "/access/accounts/{account_id}", tag = "access", params(("account_id" = String, Path)),
    responses((status = 200, body = Account), (status = 404, body = super::error::Problem)), security(("session" = [])))]
async fn get_account(State(state): State<AppState>, _op: Operator, Path(id): Path<String>) -> ApiResult<Json<Account>> {
    Ok(Json(state.db.get_account(&account_id(&id)?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccount {
    pub name: Option<String>,
    pub modules: Option<Vec<Module>>,
    /// Deactivating ends the account's sessions at once.
    pub active: Option<bool>,
    /// Set a new password (ends the account's sessions).
    pub password: Option<String>,
}

/// Edit an account: its modules, name, password, or deactivate it.
#[utoipa::path(patch, path = "/access/accounts/{account_id}", tag = "access", params(("account_id" = String, Path)), request_body = UpdateAccount,
    responses((status = 200, body = Account), (status = 404, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("session" = [])))]
async fn update_account(
    State(state): State<AppState>,
    Operator(op): Operator,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<UpdateAccount>,
) -> ApiResult<Json<Account>> {
    let id = account_id(&id)?;
    let target = state.db.get_account(&id).await?;
    let mut p = Problems::new();
    if let Some(n) = &req.name {
        p.text("name", n, 100);
    }
    if let Some(pw) = &req.password {
        check_password(&mut p, "password", pw);
    }
    if target.role == Role::Operator && req.modules.is_some() {
        p.add("modules", "operators have no merchant modules");
    }
    if target.id == op.account.id && req.active == Some(false) {
        p.add("active", "you cannot deactivate yourself");
    }
    p.into_result().map_err(ApiError::Validation)?;
    // A new password or deactivation ends the account's sessions; taking Analytics away ends
    // what its live dashboards may see. Either way their sockets close.
    let revoke =
        req.password.is_some() || req.active == Some(false) || req.modules.as_ref().is_some_and(|m| !m.contains(&Module::Analytics));
    if let Some(pw) = req.password {
        let hash = auth::hash_password(pw).await?;
        state.db.set_account_password(&id, &hash).await?;
    }
    let account = state
        .db
        .update_account(&id, req.name.as_deref().map(str::trim), req.modules.as_deref(), req.active)
        .await?;
    if revoke {
        // Its sessions ended: so do the sockets they opened, on every node.
        state.hub.revoke(crate::hub::revoke::Cred::Account(id.as_str()));
    }
    Ok(Json(account))
}
