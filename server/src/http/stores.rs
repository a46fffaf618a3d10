//! Manage Stores: stores with address, timezone, opening hours and date exceptions; departments.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::{modules::Stores, JsonBody, Merchant, PageQuery, Query};
use super::AppState;
use crate::domain::hours::{parse_timezone, validate_exceptions, DateException, WeeklyHours};
use crate::domain::Problems;
use crate::ids::{DepartmentId, StoreId};
use crate::storage::{Address, Department, Page, Store, StoreFields};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_stores, create_store))
        .routes(routes!(get_store, update_store, delete_store))
        .routes(routes!(list_departments, create_department))
        .routes(routes!(update_department, delete_department))
}

fn store_id(s: &str) -> ApiResult<StoreId> {
    StoreId::parse(s).ok_or(ApiError::NotFound)
}

fn department_id(s: &str) -> ApiResult<DepartmentId> {
    DepartmentId::parse(s).ok_or(ApiError::NotFound)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreInput {
    pub name: String,
    #[serde(default)]
    pub address: Address,
    #[schema(example = "Europe/Stockholm")]
    pub timezone: String,
    /// Defaults to Monday–Friday 09–18, Saturday 10–16.
    pub hours: Option<WeeklyHours>,
    #[serde(default)]
    pub exceptions: Vec<DateException>,
    /// Department names to create with the store.
    #[serde(default)]
    pub departments: Vec<String>,
}

/// Partial update: only the fields present change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StorePatch {
    pub name: Option<String>,
    pub address: Option<Address>,
    pub timezone: Option<String>,
    pub hours: Option<WeeklyHours>,
    pub exceptions: Option<Vec<DateException>>,
}

fn validate_store(f: &StoreFields) -> ApiResult<()> {
    let mut p = Problems::new();
    p.text("name", &f.name, 100);
    if parse_timezone(&f.timezone).is_none() {
        p.add("timezone", "must be an IANA timezone such as Europe/Stockholm");
    }
    let a = &f.address;
    for (field, v, max) in [
        ("address.street", &a.street, 200),
        ("address.postal_code", &a.postal_code, 20),
        ("address.city", &a.city, 100),
    ] {
        p.check(v.chars().count() <= max, field, "is too long");
    }
    if !(a.country.is_empty() || (a.country.len() == 2 && a.country.bytes().all(|b| b.is_ascii_uppercase()))) {
        p.add("address.country", "must be a two-letter country code such as SE");
    }
    f.hours.validate(&mut p, "hours");
    validate_exceptions(&mut p, "exceptions", &f.exceptions);
    p.into_result().map_err(ApiError::Validation)
}

fn check_department_name(field: &str, name: &str) -> ApiResult<()> {
    let mut p = Problems::new();
    p.text(field, name, 80);
    p.into_result().map_err(ApiError::Validation)
}

/// The merchant's stores with their departments.
#[utoipa::path(get, path = "/stores", tag = "stores", params(PageQuery),
    responses((status = 200, body = Page<Store>), (status = 401, body = super::error::Problem), (status = 403, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn list_stores(State(state): State<AppState>, m: Merchant<Stores>, Query(q): Query<PageQuery>) -> ApiResult<Json<Page<Store>>> {
    Ok(Json(state.db.list_stores(&m.id, &q.request()?).await?))
}

/// Add a store (optionally with departments).
#[utoipa::path(post, path = "/stores", tag = "stores", request_body = StoreInput,
    responses((status = 201, body = Store), (status = 422, body = super::error::Problem)), security(("session" = []), ("api_key" = [])))]
async fn create_store(
    State(state): State<AppState>,
    m: Merchant<Stores>,
    JsonBody(req): JsonBody<StoreInput>,
) -> ApiResult<(StatusCode, Json<Store>)> {
    let fields = StoreFields {
        name: req.name.trim().to_owned(),
        address: req.address,
        timezone: req.timezone,
        hours: req.hours.unwrap_or_else(WeeklyHours::standard),
        exceptions: req.exceptions,
    };
    validate_store(&fields)?;
    for (i, d) in req.departments.iter().enumerate() {
        check_department_name(&format!("departments[{i}]"), d)?;
    }
    let store = state.db.create_store(&m.id, &fields).await?;
    for d in &req.departments {
        state.db.create_department(&m.id, &store.id, d.trim()).await?;
    }
    state.hub.forget_merchant(&m.id);
    Ok((StatusCode::CREATED, Json(state.db.get_store(&m.id, &store.id).await?)))
}

#[utoipa::path(get, path = "/stores/{store_id}", tag = "stores", params(("store_id" = String, Path)),
    responses((status = 200, body = Store), (status = 404, body = super::error::Problem)), security(("session" = []), ("api_key" = [])))]
async fn get_store(State(state): State<AppState>, m: Merchant<Stores>, Path(id): Path<String>) -> ApiResult<Json<Store>> {
    Ok(Json(state.db.get_store(&m.id, &store_id(&id)?).await?))
}

/// Edit a store: name, address, timezone, opening hours, exceptions.
#[utoipa::path(patch, path = "/stores/{store_id}", tag = "stores", params(("store_id" = String, Path)), request_body = StorePatch,
    responses((status = 200, body = Store), (status = 404, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn update_store(
    State(state): State<AppState>,
    m: Merchant<Stores>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<StorePatch>,
) -> ApiResult<Json<Store>> {
    let id = store_id(&id)?;
    let cur = state.db.get_store(&m.id, &id).await?;
    let fields = StoreFields {
        name: req.name.map(|n| n.trim().to_owned()).unwrap_or(cur.name),
        address: req.address.unwrap_or(cur.address),
        timezone: req.timezone.unwrap_or(cur.timezone),
        hours: req.hours.unwrap_or(cur.hours),
        exceptions: req.exceptions.unwrap_or(cur.exceptions),
    };
    validate_store(&fields)?;
    let store = state.db.update_store(&m.id, &id, &fields).await?;
    state.hub.forget_merchant(&m.id);
    Ok(Json(store))
}

/// Delete a store with its departments and expert assignments.
#[utoipa::path(delete, path = "/stores/{store_id}", tag = "stores", params(("store_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::error::Problem)), security(("session" = []), ("api_key" = [])))]
async fn delete_store(State(state): State<AppState>, m: Merchant<Stores>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    state.db.delete_store(&m.id, &store_id(&id)?).await?;
    state.hub.forget_merchant(&m.id);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/stores/{store_id}/departments", tag = "stores", params(("store_id" = String, Path)),
    responses((status = 200, body = Vec<Department>), (status = 404, body = super::error::Problem)), security(("session" = []), ("api_key" = [])))]
async fn list_departments(State(state): State<AppState>, m: Merchant<Stores>, Path(id): Path<String>) -> ApiResult<Json<Vec<Department>>> {
    let id = store_id(&id)?;
    state.db.get_store(&m.id, &id).await?;
    Ok(Json(state.db.list_departments(&m.id, Some(&id)).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentInput {
    pub name: String,
}

#[utoipa::path(post, path = "/stores/{store_id}/departments", tag = "stores", params(("store_id" = String, Path)), request_body = DepartmentInput,
    responses((status = 201, body = Department), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn create_department(
    State(state): State<AppState>,
    m: Merchant<Stores>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<DepartmentInput>,
) -> ApiResult<(StatusCode, Json<Department>)> {
    let id = store_id(&id)?;
    check_department_name("name", &req.name)?;
    let department = state.db.create_department(&m.id, &id, req.name.trim()).await?;
    state.hub.forget_merchant(&m.id);
    Ok((StatusCode::CREATED, Json(department)))
}

#[utoipa::path(patch, path = "/departments/{department_id}", tag = "stores", params(("department_id" = String, Path)), request_body = DepartmentInput,
    responses((status = 200, body = Department), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn update_department(
    State(state): State<AppState>,
    m: Merchant<Stores>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<DepartmentInput>,
) -> ApiResult<Json<Department>> {
    let id = department_id(&id)?;
    check_department_name("name", &req.name)?;
    let department = state.db.rename_department(&m.id, &id, req.name.trim()).await?;
    state.hub.forget_merchant(&m.id);
    Ok(Json(department))
}

#[utoipa::path(delete, path = "/departments/{department_id}", tag = "stores", params(("department_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::error::Problem)), security(("session" = []), ("api_key" = [])))]
async fn delete_department(State(state): State<AppState>, m: Merchant<Stores>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    state.db.delete_department(&m.id, &department_id(&id)?).await?;
    state.hub.forget_merchant(&m.id);
    Ok(StatusCode::NO_CONTENT)
}
