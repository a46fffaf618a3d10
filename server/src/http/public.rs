//! Public endpoints for the widget (no credentials) and the demo's sample shop.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::Query;
use super::AppState;
use crate::domain::settings::DisplaySettings;
use crate::ids::MerchantId;
use crate::storage::PageRequest;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(widget_config))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfigQuery {
    /// The merchant's public Merchant ID.
    pub merchant: String,
    /// A demo's slug: its name, colours, logo and greeting are applied.
    pub demo: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DepartmentAvailability {
    pub id: String,
    pub name: String,
    /// Experts able to take a chat here now.
    pub experts_available: u32,
    /// Experts switched on here, busy or not.
    pub experts_online: u32,
}

#[derive(Serialize, ToSchema)]
pub struct StoreAvailability {
    pub id: String,
    pub name: String,
    pub open: bool,
    pub departments: Vec<DepartmentAvailability>,
}

#[derive(Serialize, ToSchema)]
pub struct WidgetAvailability {
    pub open: bool,
    /// Experts able to take a chat in one of the listed stores now.
    pub experts_available: u32,
    /// Experts switched on in one of the listed stores, busy or not (0 = nobody online).
    pub experts_online: u32,
}

#[derive(Serialize, ToSchema)]
pub struct WidgetConfig {
    pub merchant_id: String,
    pub display: DisplaySettings,
    pub stores: Vec<StoreAvailability>,
    pub availability: WidgetAvailability,
    /// Whether the merchant can send SMS (a gateway is set up and on): the widget asks for a
    /// phone number only then.
    pub sms: bool,
}

/// What the widget loader needs before opening a socket: display rules, stores and who is available.
#[utoipa::path(get, path = "/public/widget-config", tag = "public", params(ConfigQuery),
    responses((status = 200, body = WidgetConfig), (status = 404, body = super::error::Problem)))]
async fn widget_config(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<ConfigQuery>) -> ApiResult<Response> {
    let m = MerchantId::parse(&q.merchant).ok_or(ApiError::NotFound)?;
    let settings = state.hub.merchant(&m).await.filter(|s| s.active).ok_or(ApiError::NotFound)?;
    let mut display = settings.display.clone();
    let mut only_store = None;
    if let Some(slug) = q.demo.as_deref().filter(|s| !s.is_empty()) {
        only_store = super::demo_page::dress(&state, &m, slug, &mut display)
            .await
            .ok_or(ApiError::NotFound)?;
    }
    let mut stores = state.db.list_stores(&m, &PageRequest::first(200)).await?.items;
    if let Some(only) = &only_store {
        stores.retain(|s| s.id.as_str() == only);
    }
    // A demo shows its own store's experts, not the whole merchant's.
    let staffing = state.hub.staffing(m.as_str(), &crate::hub::Staffing::catalogue(&stores));
    let mut out = Vec::new();
    let mut any_open = false;
    for s in stores {
        let open = s.is_open_at(crate::now_ms());
        any_open |= open;
        let departments = s
            .departments
            .iter()
            .map(|d| DepartmentAvailability {
                id: d.id.to_string(),
                name: d.name.clone(),
                experts_available: state.hub.available_count(m.as_str(), Some(s.id.as_str()), Some(d.id.as_str())),
                experts_online: state.hub.online_count(m.as_str(), Some(s.id.as_str()), Some(d.id.as_str())),
            })
            .collect();
        out.push(StoreAvailability {
            id: s.id.to_string(),
            name: s.name,
            open,
            departments,
        });
    }
    let sms = state.db.messaging(&m).await?.sms_ready();
    let body = WidgetConfig {
        merchant_id: m.to_string(),
        sms,
        display,
        availability: WidgetAvailability {
            open: any_open,
            experts_available: staffing.available as u32,
            experts_online: staffing.online as u32,
        },
        stores: out,
    };
    let mut res = Json(body).into_response();
    let own = super::realtime::own_origin(&headers, state.config.secure_cookies);
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if super::realtime::origin_allowed(Some(origin), &settings.origins, own.as_deref()) {
            if let Ok(v) = HeaderValue::from_str(origin) {
                res.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                res.headers_mut().insert(header::VARY, HeaderValue::from_static("origin"));
            }
        }
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

pub const MERCHANT_PLACEHOLDER: &str = "__FLOORWALKER_MERCHANT_ID__";

/// The demo's sample shop (`widget/dist/shop/`), with the demo merchant's id filled in.
pub async fn shop(State(state): State<AppState>, path: Option<Path<String>>) -> Response {
    if !state.config.demo {
        return StatusCode::NOT_FOUND.into_response();
    }
    let rel = path.map(|p| p.0).unwrap_or_default();
    let rel = if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel
    };
    if rel.split('/').any(|seg| seg == ".." || seg.starts_with('.')) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let file = state.config.web_dir.join("widget").join("dist").join("shop").join(&rel);
    let Ok(bytes) = tokio::fs::read(&file).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = mime_for(&rel);
    if mime.starts_with("text/html") {
        let merchant = match state.db.list_merchants(&PageRequest::first(200)).await {
            Ok(p) => p
                .items
                .into_iter()
                .find(|m| m.name == crate::demo::DEMO_MERCHANT_NAME)
                .map(|m| m.id.to_string())
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        let html = String::from_utf8_lossy(&bytes).replace(MERCHANT_PLACEHOLDER, &merchant);
        return ([(header::CONTENT_TYPE, mime)], html).into_response();
    }
    ([(header::CONTENT_TYPE, mime)], bytes).into_response()
}

fn mime_for(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}
