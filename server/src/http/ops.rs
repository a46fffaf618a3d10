//! Operations endpoints: liveness, readiness, Prometheus metrics, the landing page.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::error::ApiError;
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database (and Redis when configured) answer.
async fn readyz(State(state): State<AppState>) -> Response {
    let db = tokio::time::timeout(Duration::from_secs(2), state.db.ping()).await;
    let db_ok = matches!(db, Ok(Ok(())));
    let mut checks = serde_json::Map::new();
    checks.insert("database".into(), json!(if db_ok { "ok" } else { "failing" }));
    let mut ready = db_ok;
    if let Some(mut r) = state.redis.clone() {
        let ping = tokio::time::timeout(Duration::from_secs(2), redis::cmd("PING").query_async::<String>(&mut r)).await;
        let ok = matches!(ping, Ok(Ok(_)));
        ready &= ok;
        checks.insert("redis".into(), json!(if ok { "ok" } else { "failing" }));
    }
    let body = json!({ "status": if ready { "ready" } else { "not ready" }, "checks": checks });
    let code = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body)).into_response()
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// Unknown paths: problem details under /api, plain 404 elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::NotFound.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Html("<!doctype html><title>Not found</title><p>Not found. <a href=\"/\">Floorwalker</a></p>"),
        )
            .into_response()
    }
}

async fn index() -> Html<&'static str> {
    Html(include_str!("index.html"))
}
