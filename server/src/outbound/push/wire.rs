//! One Web Push request: the payload encrypted for the device (RFC 8291, `aes128gcm`, by
//! `web-push-native`), signed for the push service (RFC 8292, [`super::vapid`]), sent with our
//! own HTTP client; and what the answer means (RFC 8030 §5, §7.3).

use crate::ids::ConversationId;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use web_push_native::p256::PublicKey;
use web_push_native::{Auth, WebPushBuilder};

use super::vapid::Vapid;

/// A device's subscription keys, as the Push API gives them (base64url).
#[derive(Debug, Clone)]
pub struct Keys {
    pub p256dh: String,
    pub auth: String,
}

/// Whether the keys decode to a P-256 point and a 16-byte secret.
pub fn keys_valid(k: &Keys) -> Result<(), &'static str> {
    let p = URL_SAFE_NO_PAD
        .decode(k.p256dh.trim_end_matches('='))
        .map_err(|_| "p256dh is not base64url")?;
    PublicKey::from_sec1_bytes(&p).map_err(|_| "p256dh is not a P-256 public key")?;
    let a = URL_SAFE_NO_PAD
        .decode(k.auth.trim_end_matches('='))
        .map_err(|_| "auth is not base64url")?;
    if a.len() != 16 {
        return Err("auth must be 16 bytes");
    }
    Ok(())
}

/// How a hand-off ended.
#[derive(Debug)]
pub enum Outcome {
    /// 201 (or another 2xx): the push service has it.
    Accepted { status: u16, latency: Duration },
    /// 404 / 410: the subscription is gone for good; remove it.
    Gone { status: u16, latency: Duration, body: String },
    /// 429 / 5xx: try again later (with the service's Retry-After, when it sent one).
    Later {
        status: u16,
        latency: Duration,
        body: String,
        retry_after_s: Option<u64>,
    },
    /// Any other 4xx: the request is wrong for this service (bad VAPID, too large…); not retried.
    Refused { status: u16, latency: Duration, body: String },
    /// No connection was made: nothing was handed over, safe to try again.
    NotConnected { error: String },
    /// The connection failed after the request may have left: it may have arrived.
    Unknown { error: String, latency: Duration },
    /// The request could not even be built (bad keys).
    Invalid { error: String },
}

/// What to send.
pub struct Request<'a> {
    pub endpoint: &'a str,
    pub keys: &'a Keys,
    pub payload: &'a [u8],
    pub ttl_s: u64,
    /// Replaces a still-undelivered message with the same topic at the push service.
    pub topic: Option<&'a str>,
    pub subject: &'a str,
}

/// Encrypt and build the HTTP request (headers and body).
pub fn build(vapid: &Vapid, r: &Request<'_>) -> Result<(url::Url, reqwest::header::HeaderMap, Vec<u8>), String> {
    let url = url::Url::parse(r.endpoint).map_err(|e| format!("the endpoint is not a URL: {e}"))?;
    let uri: axum::http::Uri = r.endpoint.parse().map_err(|e| format!("the endpoint is not a URI: {e}"))?;
    let p = URL_SAFE_NO_PAD
        .decode(r.keys.p256dh.trim_end_matches('='))
        .map_err(|_| "p256dh is not base64url".to_owned())?;
    let public = PublicKey::from_sec1_bytes(&p).map_err(|_| "p256dh is not a P-256 public key".to_owned())?;
    let a = URL_SAFE_NO_PAD
        .decode(r.keys.auth.trim_end_matches('='))
        .map_err(|_| "auth is not base64url".to_owned())?;
    if a.len() != 16 {
        return Err("auth must be 16 bytes".into());
    }
    let req = WebPushBuilder::new(uri, public, Auth::clone_from_slice(&a))
        .with_valid_duration(Duration::from_secs(r.ttl_s))
        .build(r.payload.to_vec())
        .map_err(|e| format!("encrypting the payload: {e}"))?;
    let (parts, body) = req.into_parts();
    let mut headers = parts.headers;
    let now_s = chrono::Utc::now().timestamp();
    let auth = vapid.authorization_cached(&url, r.subject, now_s, 12 * 3600);
    headers.insert(
        reqwest::header::AUTHORIZATION,
        auth.parse().map_err(|_| "the VAPID header is not a header value".to_owned())?,
    );
    headers.insert("urgency", reqwest::header::HeaderValue::from_static("high"));
    if let Some(t) = r.topic {
        if let Ok(v) = reqwest::header::HeaderValue::from_str(t) {
            headers.insert("topic", v);
        }
    }
    Ok((url, headers, body))
}

/// Hand one message to the push service.
pub async fn send(http: &reqwest::Client, vapid: &Vapid, r: &Request<'_>) -> Outcome {
    let (url, headers, body) = match build(vapid, r) {
        Ok(x) => x,
        Err(error) => return Outcome::Invalid { error },
    };
    let started = Instant::now();
    let res = http.post(url).headers(headers).body(body).send().await;
    let latency = started.elapsed();
    match res {
        Ok(res) => {
            let status = res.status().as_u16();
            let retry_after_s = res
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let body: String = res.text().await.unwrap_or_default().chars().take(500).collect();
            match status {
                200..=299 => Outcome::Accepted { status, latency },
                404 | 410 => Outcome::Gone { status, latency, body },
                408 | 429 | 500..=599 => Outcome::Later {
                    status,
                    latency,
                    body,
                    retry_after_s,
                },
                _ => Outcome::Refused { status, latency, body },
            }
        }
        Err(e) if e.is_connect() => Outcome::NotConnected {
            error: format!("could not connect to the push service: {e}"),
        },
        Err(e) if e.is_builder() => Outcome::Invalid { error: e.to_string() },
        Err(e) => Outcome::Unknown {
            error: format!("the push service did not answer: {e}"),
            latency,
        },
    }
}

/// A `Topic` header value for a conversation: at most 32 URL-safe characters (RFC 8030 §5.4).
pub fn topic(conversation_id: &ConversationId) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(conversation_id.as_bytes());
    URL_SAFE_NO_PAD.encode(&d[..24])
}
