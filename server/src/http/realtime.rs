//! WebSocket endpoints: `/ws/shopper` and `/ws/expert` (see docs/protocol.md).

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::analytics::live;
use super::error::ApiError;
use super::extract::{modules::Analytics, Actor, Merchant, SESSION_COOKIE};
use super::AppState;
use crate::hub::expert::ExpertSession;
use crate::hub::shopper::ShopperSession;
use crate::hub::socket::{self, Session};
use crate::ids::MerchantId;
use crate::protocol::{CloseCode, PROTOCOL_VERSION};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ws/shopper", get(shopper))
        .route("/ws/expert", get(expert))
        .route("/ws/dashboard", get(dashboard))
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
            allowed.contains(&o) || own.is_some_and(|own| crate::domain::settings::canonical_origin(own).as_deref() == Some(o.as_str()))
        }
    }
}

async fn shopper(State(state): State<AppState>, Query(p): Query<ShopperParams>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let own = own_origin(&headers, state.config.secure_cookies);
    // The closure's captures live as long as the socket: only the hub and what the checks need,
    // not the whole AppState (~600 bytes for each of many idle sockets).
    let hub = state.hub.clone();
    socket::configure(ws).on_upgrade(move |mut sock| async move {
        if p.v.unwrap_or(PROTOCOL_VERSION) != PROTOCOL_VERSION {
            return socket::close_now(&mut sock, CloseCode::BadVersion, "unsupported protocol version").await;
        }
        let Some(m) = p.merchant.as_deref().and_then(MerchantId::parse) else {
            return socket::close_now(&mut sock, CloseCode::UnknownMerchant, "unknown merchant").await;
        };
        let Some(settings) = hub.merchant(&m).await.filter(|s| s.active) else {
            return socket::close_now(&mut sock, CloseCode::UnknownMerchant, "unknown merchant").await;
        };
        if !origin_allowed(origin.as_deref(), &settings.origins, own.as_deref()) {
            metrics::counter!("floorwalker_ws_origin_rejected_total").increment(1);
            return socket::close_now(&mut sock, CloseCode::Origin, "origin not allowed").await;
        }
        drop(settings);
        socket::run(hub, sock, Session::Shopper(ShopperSession::new(m))).await
    })
}

async fn expert(State(state): State<AppState>, Query(p): Query<ExpertParams>, ws: WebSocketUpgrade) -> Response {
    let hub = state.hub.clone();
    socket::configure(ws).on_upgrade(move |mut sock| async move {
        if p.v.unwrap_or(PROTOCOL_VERSION) != PROTOCOL_VERSION {
            return socket::close_now(&mut sock, CloseCode::BadVersion, "unsupported protocol version").await;
        }
        socket::run(hub, sock, Session::Expert(ExpertSession::new())).await
    })
}

/// Live analytics for a signed-in account with the Analytics module (cookie session, same
/// origin only). Refused with 401/403 before the upgrade. Sends `welcome` with the live counts,
/// `live` when they change (checked every second) and `updated` after new events were folded
/// into the rollups, so the page refetches its figures within about a second of an event.
async fn dashboard(
    State(state): State<AppState>,
    m: Merchant<Analytics>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let own = own_origin(&headers, state.config.secure_cookies);
    if let Some(o) = origin {
        if crate::domain::settings::canonical_origin(o).is_none()
            || own.as_deref().and_then(crate::domain::settings::canonical_origin) != crate::domain::settings::canonical_origin(o)
        {
            return Err(ApiError::forbidden("cross-origin dashboard sockets are not allowed"));
        }
    }
    let session_hash = CookieJar::from_headers(&headers)
        .get(SESSION_COOKIE)
        .map(|c| crate::auth::token_hash(c.value()));
    // The credential the socket rests on: the session (and its account) or the API key.
    let cred = match (&m.actor, session_hash) {
        (Actor::ApiKey(k), _) => DashboardCred::ApiKey(k.to_string()),
        (Actor::Account(a), Some(h)) => DashboardCred::Session(h, a.to_string()),
        (Actor::Account(_), None) => return Err(ApiError::Unauthorized),
    };
    Ok(socket::configure(ws).on_upgrade(move |sock| dashboard_loop(state, m.id, cred, sock)))
}

enum DashboardCred {
    /// Session token hash and account id.
    Session(String, String),
    ApiKey(String),
}

impl DashboardCred {
    /// Whether the credential still holds (read from the database).
    async fn valid(&self, state: &AppState) -> bool {
        match self {
            DashboardCred::Session(h, _) => matches!(state.db.session(h).await, Ok(Some(_))),
            DashboardCred::ApiKey(_) => true,
        }
    }
}

async fn dashboard_loop(state: AppState, m: MerchantId, cred: DashboardCred, mut sock: WebSocket) {
    use futures::StreamExt;
    let send = |v: serde_json::Value| Message::Text(v.to_string().into());
    // Watched under its credentials: signing out, a password change, deactivating the account
    // or the merchant, or revoking the API key closes it (4001) on every node.
    let epoch = state.hub.revocation_epoch();
    let revoked = std::sync::Arc::new(crate::hub::outbox::Outbox::new(1));
    let id = state.hub.socket_id();
    {
        use crate::hub::revoke::Cred;
        let mut creds = vec![Cred::Merchant(m.as_str())];
        match &cred {
            DashboardCred::Session(h, a) => creds.extend([Cred::Session(h), Cred::Account(a)]),
            DashboardCred::ApiKey(k) => creds.push(Cred::ApiKey(k)),
        }
        state.hub.watch(id, &revoked, &creds, CloseCode::Unauthorized);
    }
    let _unwatch = Unwatch(&state.hub, id);
    if state.hub.revoked_since(epoch) && !cred.valid(&state).await {
        return socket::close_now(&mut sock, CloseCode::Unauthorized, "signed out").await;
    }
    let mut rolled = state.hub.analytics.rolled.subscribe();
    let Ok(mut last) = live(&state, &m).await else {
        let _ = sock.send(Message::Close(None)).await;
        return;
    };
    if sock
        .send(send(serde_json::json!({"type": "welcome", "v": PROTOCOL_VERSION, "live": last})))
        .await
        .is_err()
    {
        return;
    }
    metrics::gauge!("floorwalker_dashboard_sockets").increment(1.0);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut checks = 0u32;
    let mut pending_update = false;
    loop {
        tokio::select! {
            _ = revoked.ready() => {
                if let Some(code) = revoked.closing() {
                    socket::close_now(&mut sock, code, "signed out").await;
                    break;
                }
            }
            _ = state.hub.shutdown.cancelled() => {
                let _ = sock.send(Message::Close(Some(CloseFrame { code: CloseCode::GoingAway.code(), reason: "server restarting".into() }))).await;
                break;
            }
            r = rolled.recv() => match r {
                Ok(id) if *id == *m.as_str() => pending_update = true,
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => pending_update = true,
                Err(_) => break,
            },
            _ = tick.tick() => {
                if pending_update {
                    pending_update = false;
                    if sock.send(send(serde_json::json!({"type": "updated", "at": crate::now_ms()}))).await.is_err() {
                        break;
                    }
                }
                if let Ok(now) = live(&state, &m).await {
                    if now.waiting != last.waiting || now.active != last.active || now.experts_available != last.experts_available || now.experts_online != last.experts_online || now.stores != last.stores {
                        let mut v = serde_json::to_value(&now).expect("live");
                        v["type"] = "live".into();
                        if sock.send(Message::Text(v.to_string().into())).await.is_err() {
                            break;
                        }
                        last = now;
                    }
                }
                // Revocation closes the socket at once (above); as a safety net, the session is
                // also read again every 30 s.
                checks += 1;
                if checks.is_multiple_of(30) && !cred.valid(&state).await {
                    socket::close_now(&mut sock, CloseCode::Unauthorized, "signed out").await;
                    break;
                }
            }
            msg = sock.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if t.as_str().contains("\"ping\"") && sock.send(send(serde_json::json!({"type": "pong"}))).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    metrics::gauge!("floorwalker_dashboard_sockets").decrement(1.0);
}

/// Forgets a watched socket when its task ends, however it ends.
struct Unwatch<'a>(&'a crate::hub::Hub, u64);

impl Drop for Unwatch<'_> {
    fn drop(&mut self) {
        self.0.unwatch(self.1);
    }
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
