//! Manage Team: invite code, approvals, deactivation, assignments, feature switches,
//! reassigning contacts.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::{modules::Team, JsonBody, Merchant, Query};
use super::AppState;
use crate::domain::team::{ExpertAction, ExpertFeatures, ExpertStatus};
use crate::domain::Problems;
use crate::ids::{DepartmentId, ExpertId, StoreId};
use crate::storage::{Expert, Page};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_invite_code, rotate_invite_code))
        .routes(routes!(list_experts))
        .routes(routes!(get_expert, update_expert))
        .routes(routes!(approve))
        .routes(routes!(deactivate))
        .routes(routes!(reactivate))
        .routes(routes!(set_assignments))
        .routes(routes!(reassign_contacts))
}

fn expert_id(s: &str) -> ApiResult<ExpertId> {
    ExpertId::parse(s).ok_or(ApiError::NotFound)
}

#[derive(Serialize, ToSchema)]
pub struct InviteCode {
    /// Experts enter this when they sign up in the store app.
    pub invite_code: String,
}

#[utoipa::path(get, path = "/team/invite-code", tag = "team", responses((status = 200, body = InviteCode)), security(("session" = [])))]
async fn get_invite_code(State(state): State<AppState>, m: Merchant<Team>) -> ApiResult<Json<InviteCode>> {
    Ok(Json(InviteCode {
        invite_code: state.db.invite_code(&m.id).await?,
    }))
}

/// Issue a new invite code; the old one stops working.
#[utoipa::path(post, path = "/team/invite-code", tag = "team", responses((status = 200, body = InviteCode)), security(("session" = [])))]
async fn rotate_invite_code(State(state): State<AppState>, m: Merchant<Team>) -> ApiResult<Json<InviteCode>> {
    Ok(Json(InviteCode {
        invite_code: state.db.rotate_invite_code(&m.id).await?,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpertFilter {
    /// `pending`, `approved` or `deactivated`.
    pub status: Option<ExpertStatus>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The merchant's experts, optionally by status (e.g. pending sign-ups to approve).
#[utoipa::path(get, path = "/team/experts", tag = "team", params(ExpertFilter), responses((status = 200, body = Page<Expert>)), security(("session" = [])))]
async fn list_experts(State(state): State<AppState>, m: Merchant<Team>, Query(q): Query<ExpertFilter>) -> ApiResult<Json<Page<Expert>>> {
    let page = super::extract::PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .request()?;
    Ok(Json(state.db.list_experts(&m.id, q.status, &page).await?))
}

#[utoipa::path(get, path = "/team/experts/{expert_id}", tag = "team", params(("expert_id" = String, Path)),
    responses((status = 200, body = Expert), (status = 404, body = super::error::Problem)), security(("session" = [])))]
async fn get_expert(State(state): State<AppState>, m: Merchant<Team>, Path(id): Path<String>) -> ApiResult<Json<Expert>> {
    Ok(Json(state.db.get_expert(&m.id, &expert_id(&id)?).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpertPatch {
    pub name: Option<String>,
    /// Store-app feature switches (Contacts, product sharing, transfers).
    pub features: Option<ExpertFeatures>,
    /// Concurrent chats the expert may hold, 1–20.
    pub max_chats: Option<i64>,
}

/// Edit an expert's name, feature switches or concurrent-chat cap.
#[utoipa::path(patch, path = "/team/experts/{expert_id}", tag = "team", params(("expert_id" = String, Path)), request_body = ExpertPatch,
    responses((status = 200, body = Expert), (status = 404, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("session" = [])))]
async fn update_expert(
    State(state): State<AppState>,
    m: Merchant<Team>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ExpertPatch>,
) -> ApiResult<Json<Expert>> {
    let id = expert_id(&id)?;
    let mut p = Problems::new();
    if let Some(n) = &req.name {
        p.text("name", n, 100);
    }
    if let Some(c) = req.max_chats {
        p.check((1..=20).contains(&c), "max_chats", "must be 1–20");
    }
    p.into_result().map_err(ApiError::Validation)?;
    let e = state
        .db
        .update_expert(&m.id, &id, req.name.as_deref().map(str::trim), req.features.as_ref(), req.max_chats)
        .await?;
    // A connected expert gets the new cap (and switches) in a `status` frame now.
    state.hub.refresh_expert(id.as_str()).await;
    Ok(Json(e))
}

async fn act(state: &AppState, m: &Merchant<Team>, id: &str, action: ExpertAction) -> ApiResult<Json<Expert>> {
    Ok(Json(state.db.expert_action(&m.id, &expert_id(id)?, action).await?))
}

/// Approve a pending sign-up so the expert can claim chats.
#[utoipa::path(post, path = "/team/experts/{expert_id}/approve", tag = "team", params(("expert_id" = String, Path)),
    responses((status = 200, body = Expert), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)), security(("session" = [])))]
async fn approve(State(state): State<AppState>, m: Merchant<Team>, Path(id): Path<String>) -> ApiResult<Json<Expert>> {
    act(&state, &m, &id, ExpertAction::Approve).await
}

/// Deactivate an expert: their store-app sessions end at once.
#[utoipa::path(post, path = "/team/experts/{expert_id}/deactivate", tag = "team", params(("expert_id" = String, Path)),
    responses((status = 200, body = Expert), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)), security(("session" = [])))]
async fn deactivate(State(state): State<AppState>, m: Merchant<Team>, Path(id): Path<String>) -> ApiResult<Json<Expert>> {
    let r = act(&state, &m, &id, ExpertAction::Deactivate).await?;
    // Their live sockets end now, not at their next reconnect.
    state.hub.kick_expert(&id);
    Ok(r)
}

#[utoipa::path(post, path = "/team/experts/{expert_id}/reactivate", tag = "team", params(("expert_id" = String, Path)),
    responses((status = 200, body = Expert), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)), security(("session" = [])))]
async fn reactivate(State(state): State<AppState>, m: Merchant<Team>, Path(id): Path<String>) -> ApiResult<Json<Expert>> {
    act(&state, &m, &id, ExpertAction::Reactivate).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignments {
    pub store_ids: Vec<String>,
    /// Each must belong to one of `store_ids`.
    pub department_ids: Vec<String>,
}

/// Replace the stores and departments an expert works in.
#[utoipa::path(put, path = "/team/experts/{expert_id}/assignments", tag = "team", params(("expert_id" = String, Path)), request_body = Assignments,
    responses((status = 200, body = Expert), (status = 404, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("session" = [])))]
async fn set_assignments(
    State(state): State<AppState>,
    m: Merchant<Team>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<Assignments>,
) -> ApiResult<Json<Expert>> {
    let id = expert_id(&id)?;
    let mut p = Problems::new();
    let stores: Vec<StoreId> = req
        .store_ids
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            StoreId::parse(s).or_else(|| {
                p.add(format!("store_ids[{i}]"), "unknown store");
                None
            })
        })
        .collect();
    let deps: Vec<DepartmentId> = req
        .department_ids
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            DepartmentId::parse(s).or_else(|| {
                p.add(format!("department_ids[{i}]"), "unknown department");
                None
            })
        })
        .collect();
    p.into_result().map_err(ApiError::Validation)?;
    let e = state.db.set_assignments(&m.id, &id, &stores, &deps).await?;
    state.hub.refresh_expert(id.as_str()).await;
    Ok(Json(e))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReassignContacts {
    /// The approved expert who takes over the contacts.
    pub to_expert_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct ReassignResult {
    /// How many contacts moved.
    pub moved: u64,
}

/// Move every contact of this expert to another (e.g. when someone leaves).
#[utoipa::path(post, path = "/team/experts/{expert_id}/reassign-contacts", tag = "team", params(("expert_id" = String, Path)), request_body = ReassignContacts,
    responses((status = 200, body = ReassignResult), (status = 404, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("session" = [])))]
async fn reassign_contacts(
    State(state): State<AppState>,
    m: Merchant<Team>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ReassignContacts>,
) -> ApiResult<Json<ReassignResult>> {
    let from = expert_id(&id)?;
    let to = ExpertId::parse(&req.to_expert_id).ok_or_else(|| ApiError::invalid("to_expert_id", "unknown expert"))?;
    Ok(Json(ReassignResult {
        moved: state.db.reassign_contacts(&m.id, &from, &to).await?,
    }))
}
