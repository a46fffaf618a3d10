//! WebSocket endpoints: `/ws/shopper` and `/ws/expert` (see docs/protocol.md).

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use super::AppState;
use crate::hub::expert::ExpertSession;
use crate::hub::shopper::ShopperSession;
use crate::hub::socket::{self, Session};
use crate::ids::MerchantId;
use crate::protocol::{close, PROTOCOL_VERSION};

pub fn router() -> Router<AppState> {
    Router::new().route("/ws/shopper", get(shopper)).route("/ws/expert", get(expert))
}

#[derive(Deserialize)]
pub struct ShopperParams {
    pub merchant: Option<String>,
    pub v: Option<u32>,
}

#[derive(Deserialize)]
pub struct ExpertParams {
    pub v: Option<u32>,
}

/// The server's own origin as the browser sees it (for pages we serve ourselves).
pub fn own_origin(headers: &HeaderMap, secure: bool) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(if secure { "https" } else { "http" });
    Some(format!("{proto}://{host}"))
}

/// Whether a browser page at `origin` may open a shopper socket for this merchant.
pub fn origin_allowed(origin: Option<&str>, allowed: &[String], own: Option<&str>) -> bool {
    match origin {
        None => true,
        Some(o) => {
            let o = crate::domain::settings::canonical_origin(o).unwrap_or_else(|| o.to_owned());
            allowed.iter().any(|a| *a == o)
                || own.is_some_and(|own| crate::domain::settings::canonical_origin(own).as_deref() == Some(o.as_str()))
        }
    }
}

async fn shopper(State(state): State<AppState>, Query(p): Query<ShopperParams>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let own = own_origin(&headers, state.config.secure_cookies);
    socket::configure(ws).on_upgrade(move |sock| async move {
        if p.v.unwrap_or(PROTOCOL_VERSION) != PROTOCOL_VERSION {
            return socket::close_now(sock, close::BAD_VERSION, "unsupported protocol version").await;
        }
        let Some(m) = p.merchant.as_deref().and_then(MerchantId::parse) else {
            return socket::close_now(sock, close::UNKNOWN_MERCHANT, "unknown merchant").await;
        };
        let Some(settings) = state.hub.merchant(&m).await.filter(|s| s.active) else {
            return socket::close_now(sock, close::UNKNOWN_MERCHANT, "unknown merchant").await;
        };
        if !origin_allowed(origin.as_deref(), &settings.origins, own.as_deref()) {
            metrics::counter!("floorwalker_ws_origin_rejected_total").increment(1);
            return socket::close_now(sock, close::ORIGIN, "origin not allowed").await;
        }
        socket::run(state.hub.clone(), sock, Session::Shopper(ShopperSession::new(m))).await
    })
}

async fn expert(State(state): State<AppState>, Query(p): Query<ExpertParams>, ws: WebSocketUpgrade) -> Response {
    socket::configure(ws).on_upgrade(move |sock| async move {
        if p.v.unwrap_or(PROTOCOL_VERSION) != PROTOCOL_VERSION {
            return socket::close_now(sock, close::BAD_VERSION, "unsupported protocol version").await;
        }
        socket::run(state.hub.clone(), sock, Session::Expert(ExpertSession::new())).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let allowed = vec!["https://shop.example".to_string()];
        assert!(origin_allowed(None, &allowed, None));
        assert!(origin_allowed(Some("https://shop.example"), &allowed, None));
        assert!(origin_allowed(Some("https://SHOP.example"), &allowed, None));
        assert!(!origin_allowed(Some("https://evil.example"), &allowed, None));
        assert!(origin_allowed(
            Some("http://127.0.0.1:8080"),
            &allowed,
            Some("http://127.0.0.1:8080")
        ));
        assert!(!origin_allowed(Some("null"), &allowed, Some("http://127.0.0.1:8080")));
    }
}
