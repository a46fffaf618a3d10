//! The HTTP surface: REST API under `/api/v1` (one router per audience, merged), operations
//! endpoints, the OpenAPI document and the static front ends.

pub mod access;
pub mod account;
pub mod analytics;
pub mod api_keys;
pub mod attachments;
pub mod call_log;
pub mod cart_analytics;
pub mod carts;
pub mod catalogue;
pub mod checkout;
pub mod commerce_orders;
pub mod commerce_shop;
pub mod demo_page;
pub mod demos;
pub mod error;
pub mod exports;
pub mod extract;
pub mod files;
pub mod guard;
pub mod media_settings;
pub mod messaging;
pub mod ops;
pub mod outbox;
pub mod outreach;
pub mod pay_page;
pub mod public;
pub mod push;
pub mod realtime;
pub mod responses;
pub mod saved_replies;
pub mod settings;
pub mod shoppers;
pub mod store_app;
pub mod stores;
pub mod team;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::LoginThrottle;
use crate::config::ServeArgs;
use crate::storage::Db;

/// Everything a handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub throttle: LoginThrottle,
    pub config: Arc<ServeArgs>,
    pub metrics: PrometheusHandle,
    pub hub: crate::hub::Hub,
    pub calls: call_log::CallLog,
    /// Present when `REDIS_URL` is set.
    pub redis: Option<redis::aio::ConnectionManager>,
    /// E-mail, SMS and webhooks (composes outbox items, wakes the local worker).
    pub outbound: crate::outbound::Outbound,
    /// Photo files, their signed URLs and STUN/TURN servers.
    pub media: crate::media::Media,
    /// When pay links and quotes lapse (the wall clock; tests move it forward).
    pub commerce_clock: crate::commerce::Clock,
}

impl AppState {
    /// The handles selling in the chat uses (`commerce::Ctx`).
    pub fn commerce(&self) -> crate::commerce::Ctx {
        crate::commerce::Ctx {
            db: self.db.clone(),
            hub: self.hub.clone(),
            outbound: self.outbound.clone(),
            commerce_clock: self.commerce_clock.clone(),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Floorwalker API",
        description = "Real-time virtual shopping. Dashboard calls authenticate with the `fw_session` cookie \
            (and `X-CSRF-Token` on writes, which must also come from this server's own origin: a browser's \
            cross-site `Origin`, `Origin: null` or `Sec-Fetch-Site` other than `same-origin` gets 403), the store app with its bearer token, server-to-server calls \
            with a merchant API key. Errors are RFC 9457 problem details; lists use cursor pagination.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "auth", description = "Dashboard sign-in"),
        (name = "store_app", description = "Experts' store app accounts"),
        (name = "access", description = "Operator: merchants and dashboard accounts"),
        (name = "demo", description = "Operator: demo pages for prospects"),
        (name = "stores", description = "Module Stores: stores, opening hours, departments"),
        (name = "team", description = "Module Team: experts"),
        (name = "settings", description = "Module Settings: display, origins, routing"),
        (name = "saved_replies", description = "Module Saved replies"),
        (name = "shoppers", description = "Module Shoppers"),
        (name = "integrations", description = "Module Integrations: API keys and their call log, webhooks, the Outbox"),
        (name = "exports", description = "Module Exports: metrics, conversations and transcripts as CSV"),
        (name = "analytics", description = "Module Analytics: figures, live counts, orders for sales attribution"),
        (name = "public", description = "No credentials: what the widget needs"),
        (name = "widget", description = "The shopper, with the shopper token from the chat's welcome: photos"),
        (name = "files", description = "Photo files through short-lived signed URLs"),
        (name = "catalogue", description = "Module Catalogue: products experts put in carts"),
        (name = "orders", description = "Module Orders: carts for the merchant's checkout, orders and their handling"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(extract::SESSION_COOKIE))),
        );
        c.add_security_scheme(
            "expert_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "shopper_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes and their OpenAPI document, built from the same handler annotations.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .merge(account::router())
        .merge(store_app::router())
        .merge(access::router())
        .merge(stores::router())
        .merge(team::router())
        .merge(settings::router())
        .merge(saved_replies::router())
        .merge(shoppers::router())
        .merge(analytics::router())
        .merge(exports::router())
        .merge(demos::router())
        .merge(api_keys::router())
        .merge(webhooks::router())
        .merge(outbox::router())
        .merge(messaging::router())
        .merge(outreach::router())
        .merge(public::router())
        .merge(attachments::router())
        .merge(attachments::widget_router())
        .merge(media_settings::router())
        .merge(push::router())
        .merge(catalogue::router())
        .merge(carts::router())
        .merge(cart_analytics::router())
        .merge(checkout::router())
        .merge(commerce_orders::router());
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", v1).split_for_parts();
    crate::outbound::events::document(&mut openapi);
    responses::document(&mut openapi);
    (router, openapi)
}

/// Count and time requests by route template (never by raw path, to bound label cardinality).
async fn track_metrics(req: Request, next: Next) -> Response {
    let start = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route).record(start.elapsed().as_secs_f64());
    res
}

pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The built front ends (`<web_dir>/<app>/dist`), each a single-page app whose unknown paths
/// fall back to its `index.html`. `/widget.js` is the loader merchants embed.
fn front_ends(web_dir: &std::path::Path, secure_cookies: bool) -> Router<AppState> {
    use tower_http::services::{ServeDir, ServeFile};
    // The builds write FILE.br and FILE.gz beside each text file (web-shared/compress.mjs).
    let file = |path: std::path::PathBuf| ServeFile::new(path).precompressed_br().precompressed_gzip();
    let spa = |name: &str| {
        let dist = web_dir.join(name).join("dist");
        ServeDir::new(&dist)
            .precompressed_br()
            .precompressed_gzip()
            .append_index_html_on_directories(true)
            .fallback(file(dist.join("index.html")))
    };
    let widget_dist = web_dir.join("widget").join("dist");
    let static_files = Router::new()
        .nest_service("/dashboard", spa("dashboard"))
        .nest_service("/app", spa("store-app"))
        .nest_service("/widget", ServeDir::new(&widget_dist).precompressed_br().precompressed_gzip())
        .route_service("/widget.js", file(widget_dist.join("widget.js")))
        .layer(middleware::from_fn(cache_static));
    Router::new()
        .merge(static_files)
        .route(
            "/shop",
            axum::routing::get(|| async { axum::response::Redirect::permanent("/shop/") }),
        )
        .route("/shop/", axum::routing::get(public::shop))
        .route("/shop/{*path}", axum::routing::get(public::shop))
        .layer(middleware::from_fn_with_state(secure_cookies, signed_in_hint))
}

/// How long browsers and caches may keep a front end's file. A URL that names its content — a
/// `?v=` version the pages and the loader put on their scripts, or a chunk whose file name
/// carries its hash — never changes: a year, `immutable`. The loader merchants embed
/// (`/widget.js`) may be kept five minutes, then is asked for again (`Last-Modified` makes that
/// a 304 when it has not changed). Everything else (pages, the service worker, the manifest)
/// is checked on every use. Errors are not cached.
async fn cache_static(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let versioned = req.uri().query().is_some_and(|q| q.split('&').any(|p| p.starts_with("v=")))
        || (path.starts_with("/dashboard/chunks/") && path.ends_with(".js"));
    let policy = if versioned {
        "public, max-age=31536000, immutable"
    } else if path == "/widget.js" {
        "public, max-age=300, must-revalidate"
    } else {
        "no-cache"
    };
    let mut res = next.run(req).await;
    if res.status().is_success() || res.status() == axum::http::StatusCode::NOT_MODIFIED {
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}

/// A dashboard session from before the readable `fw_signed_in` hint existed (see
/// `account::SIGNED_IN_HINT`): the dashboard's page gets the hint when the browser sends a
/// session cookie without it, so the session is found without signing in again. (A stale
/// session cookie costs one 401, after which the dashboard drops the hint.)
async fn signed_in_hint(axum::extract::State(secure): axum::extract::State<bool>, req: Request, next: Next) -> Response {
    let cookies: Vec<String> = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|c| c.split(';').map(|p| p.trim().to_owned()))
        .collect();
    let has = |name: &str| cookies.iter().any(|c| c.starts_with(name) && c[name.len()..].starts_with('='));
    let add = req.uri().path().starts_with("/dashboard") && has(extract::SESSION_COOKIE) && !has(account::SIGNED_IN_HINT);
    let mut res = next.run(req).await;
    if add {
        let cookie = format!(
            "{}=1; Path=/; SameSite=Lax{}",
            account::SIGNED_IN_HINT,
            if secure { "; Secure" } else { "" }
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// A handler that panicked: logged, and answered like any internal error (a generic 500
/// problem), while the server goes on serving every other request.
fn panic_problem(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    axum::response::IntoResponse::into_response(error::ApiError::internal(anyhow::anyhow!("a handler panicked: {what}")))
}

/// `GET /api/v1/test/panic`, served only with `--test-panic-route`.
async fn test_panic() -> &'static str {
    panic!("the test panic route was called")
}

pub fn router(state: AppState) -> Router {
    let (mut api, openapi) = api();
    if state.config.test_panic_route {
        // `--test-panic-route` (tests only): a handler that panics.
        api = api.route("/api/v1/test/panic", axum::routing::get(test_panic));
    }
    let web = front_ends(&state.config.web_dir, state.config.secure_cookies);
    let request_id = HeaderName::from_static("x-request-id");
    let api = api
        .layer(middleware::from_fn_with_state(state.clone(), call_log::record))
        .layer(middleware::from_fn_with_state(state.clone(), attachments::widget_cors));
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi))
        .merge(ops::router())
        .merge(web)
        .merge(realtime::router())
        .merge(demo_page::public_router())
        .merge(outreach::link_router())
        .merge(pay_page::pay_router())
        .merge(commerce_shop::router())
        .fallback(ops::not_found)
        .route_layer(middleware::from_fn(track_metrics))
        .layer(CatchPanicLayer::custom(panic_problem))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        // Outside the timeout: its 408 becomes problem+json too.
        .layer(middleware::from_fn(guard::problem_errors))
        .layer(middleware::from_fn(guard::security_headers))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("http", method = %req.method(), uri = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
