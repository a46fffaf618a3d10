//! Browser-side defences (issue 18):
//!
//! - **Cross-site writes**: a cookie-authenticated write must come from our own pages. Besides the
//!   `X-CSRF-Token` (checked in [`super::extract::Session`]), the browser's `Sec-Fetch-Site`
//!   must be `same-origin` (or `none`: typed by the user) and its `Origin`, when sent, must be
//!   this server's own origin; `Origin: null` (sandboxed frames, some redirects) is refused.
//!   Clients that send neither header (curl, server-side scripts) are not browsers and are
//!   judged by the token alone.
//! - **Security headers** on every response: a strict Content-Security-Policy on HTML pages
//!   (scripts from this origin only, no inline script, no `eval`, no framing), plus
//!   `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff` and a Referrer-Policy on all.

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;

/// The policy of every HTML page we serve (the dashboard, the store app, the demo shop, the
/// API docs, the start page, demo pages). Styles may be inline (the widget styles its shadow
/// root; pages set colours); scripts may not. Images may come from https (merchants' product
/// pictures and logos). Nothing may frame the pages.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: blob: https:; media-src 'self' blob:; font-src 'self' data:; connect-src 'self'; \
    worker-src 'self'; manifest-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Why a write was refused as cross-site, for the log; the client gets one stable message.
fn cross_site_reason(headers: &HeaderMap, own: &[String]) -> Option<&'static str> {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Some("sec-fetch-site");
        }
    }
    match headers.get(header::ORIGIN) {
        None => None,
        Some(o) => {
            let Ok(o) = o.to_str() else { return Some("origin unreadable") };
            let theirs = crate::domain::settings::canonical_origin(o);
            match theirs {
                Some(t)
                    if own
                        .iter()
                        .any(|us| crate::domain::settings::canonical_origin(us).as_deref() == Some(t.as_str())) =>
                {
                    None
                }
                _ => Some("origin"),
            }
        }
    }
}

/// Refuse a cookie-authenticated write that a browser sent from another site (see the module
/// documentation). Called by the session extractor for unsafe methods.
pub fn same_origin_write(parts: &Parts, config: &crate::config::ServeArgs) -> Result<(), ApiError> {
    // Our origin as the browser sees it (the Host it sent), and the configured public address
    // (a proxy in front may pass another Host on).
    let mut own: Vec<String> = super::realtime::own_origin(&parts.headers, config.secure_cookies)
        .into_iter()
        .collect();
    if let Some(u) = &config.outbound.public_url {
        own.push(u.origin().ascii_serialization());
    }
    match cross_site_reason(&parts.headers, &own) {
        None => Ok(()),
        Some(why) => {
            tracing::info!(why, path = %parts.uri.path(), "refused a cross-site write");
            metrics::counter!("floorwalker_cross_site_writes_refused_total").increment(1);
            Err(ApiError::forbidden(
                "cross-site requests are not allowed; use the dashboard's own pages",
            ))
        }
    }
}

/// An extractor for cookie-setting writes without a session yet (signing in): a page on another
/// site must not sign the browser in to an account of the attacker's choosing.
pub struct SameOrigin;

impl axum::extract::FromRequestParts<super::AppState> for SameOrigin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &super::AppState) -> Result<Self, ApiError> {
        same_origin_write(parts, &state.config)?;
        Ok(SameOrigin)
    }
}

/// Security headers on every response (a handler's own CSP, e.g. for photos, is kept).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // Every response, not only the HTML ones: an error page or a file opened directly is a
    // document too.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    }
    if !h.contains_key(header::X_FRAME_OPTIONS) {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    res
}

/// Every API error is problem+json: an error the framework answered itself (a body over the
/// limit, a wrong method, a timeout, an unreadable path) is rewritten into one, keeping its
/// status and its headers (`Allow`, `Retry-After`).
pub async fn problem_errors(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/v1/");
    let res = next.run(req).await;
    let status = res.status();
    if !api || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/problem+json"));
    if is_problem {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let detail = std::str::from_utf8(&text)
        .ok()
        .map(str::trim)
        .filter(|t| !t.is_empty() && status.is_client_error())
        .map(scrub);
    let slug = match status.as_u16() {
        400 => "bad-request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        408 => "timeout",
        413 => "payload-too-large",
        415 => "unsupported-media-type",
        422 => "unprocessable",
        429 => "rate-limited",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "bad-request",
    };
    let body = super::error::Problem {
        kind: format!("{}{slug}", super::error::PROBLEM_PREFIX),
        title: status.canonical_reason().unwrap_or("error").to_lowercase(),
        status: status.as_u16(),
        detail,
        errors: vec![],
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// A parser's message without the server's type names ("expected struct LoginRequest" →
/// "expected a JSON object"), for clients.
pub fn scrub(msg: &str) -> String {
    let mut out = msg.to_owned();
    for (pat, with) in [
        ("expected internally tagged enum ", "expected a JSON object with a \"type\""),
        ("expected tuple struct ", "expected a list"),
        ("expected struct ", "expected a JSON object"),
        ("expected enum ", "expected one of the allowed values"),
        ("expected a map with a single key for enum ", "expected one of the allowed values"),
    ] {
        while let Some(at) = out.find(pat) {
            let rest = &out[at + pat.len()..];
            let name_len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
            out.replace_range(at..at + pat.len() + name_len, with);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn scrubbed_messages() {
        assert_eq!(
            scrub("invalid type: sequence, expected struct LoginRequest at line 1"),
            "invalid type: sequence, expected a JSON object at line 1"
        );
        assert_eq!(
            scrub("expected internally tagged enum ShopperIn"),
            "expected a JSON object with a \"type\""
        );
        assert_eq!(scrub("missing field `name`"), "missing field `name`");
    }

    #[test]
    fn cross_site_writes() {
        let own = &["http://127.0.0.1:8080".to_owned()];
        assert_eq!(cross_site_reason(&headers(&[]), own), None, "no browser headers: token alone");
        assert_eq!(cross_site_reason(&headers(&[("origin", "http://127.0.0.1:8080")]), own), None);
        assert_eq!(cross_site_reason(&headers(&[("sec-fetch-site", "same-origin")]), own), None);
        assert!(cross_site_reason(&headers(&[("origin", "https://evil.example")]), own).is_some());
        assert!(cross_site_reason(&headers(&[("origin", "null")]), own).is_some());
        assert!(cross_site_reason(&headers(&[("sec-fetch-site", "cross-site")]), own).is_some());
        assert!(cross_site_reason(&headers(&[("sec-fetch-site", "same-site")]), own).is_some());
        assert!(cross_site_reason(&headers(&[("origin", "http://127.0.0.1:8080")]), &[]).is_some());
    }
}
