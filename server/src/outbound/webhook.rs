//! Webhook deliveries, signed the Standard Webhooks way.
//!
//! Each POST carries `webhook-id` (the event's id: the same on every attempt and redelivery, so
//! a receiver dedupes by it), `webhook-timestamp` (this attempt, unix seconds) and
//! `webhook-signature`: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with the endpoint's
//! secret (`whsec_<base64 key>`), plus a second signature with the previous secret for a day
//! after a rotation. 2xx is success; anything else, a redirect, a timeout or a refused address
//! is a failure. 410 Gone disables the endpoint; `Retry-After` is honoured.

use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ssrf;
use crate::storage::SigningSecrets;

/// A fresh signing secret: 32 random bytes, base64, with the `whsec_` prefix.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key))
}

/// `v1,<signature>` of `id.timestamp.body` with one `whsec_` secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let raw = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .unwrap_or_else(|_| raw.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// The `webhook-signature` header value: every secret's signature, space-separated.
pub fn signature_header(secrets: &SigningSecrets, id: &str, timestamp: i64, body: &str) -> String {
    let mut out = sign(&secrets.current, id, timestamp, body);
    if let Some(prev) = &secrets.previous {
        out.push(' ');
        out.push_str(&sign(prev, id, timestamp, body));
    }
    out
}

/// What one POST did.
#[derive(Debug)]
pub struct HttpOutcome {
    pub status: Option<u16>,
    pub latency: Duration,
    /// The start of the response body (or why there was none).
    pub excerpt: Option<String>,
    pub error: Option<String>,
    /// Seconds from a `Retry-After` header.
    pub retry_after_s: Option<u64>,
}

impl HttpOutcome {
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The first 1,000 characters of a response, on a char boundary.
pub fn excerpt(text: &str) -> String {
    text.chars().take(1000).collect()
}

/// POST one signed delivery.
pub async fn deliver(
    http: &reqwest::Client,
    url: &str,
    allow_private: bool,
    secrets: &SigningSecrets,
    webhook_id: &str,
    body: &str,
) -> HttpOutcome {
    let started = Instant::now();
    let failed = |error: String| HttpOutcome {
        status: None,
        latency: started.elapsed(),
        excerpt: None,
        error: Some(error),
        retry_after_s: None,
    };
    let parsed = match url::Url::parse(url) {
        Ok(u) => u,
        Err(_) => return failed("the endpoint URL is not valid".into()),
    };
    if let Err(e) = ssrf::check_literal(&parsed, allow_private) {
        return failed(e);
    }
    let ts = chrono::Utc::now().timestamp();
    let res = http
        .post(parsed)
        .header("content-type", "application/json")
        .header("user-agent", concat!("Floorwalker-Webhooks/", env!("CARGO_PKG_VERSION")))
        .header("webhook-id", webhook_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature_header(secrets, webhook_id, ts, body))
        .body(body.to_owned())
        .send()
        .await;
    match res {
        Err(e) => failed(describe(&e)),
        Ok(r) => {
            let status = r.status().as_u16();
            let retry_after_s = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let text = read_limited(r, 4096).await;
            let ok = (200..300).contains(&status);
            HttpOutcome {
                status: Some(status),
                latency: started.elapsed(),
                excerpt: Some(excerpt(&text)),
                error: (!ok).then(|| {
                    if (300..400).contains(&status) {
                        "redirects are not followed: update the endpoint's URL".into()
                    } else {
                        format!("the endpoint answered {status}")
                    }
                }),
                retry_after_s,
            }
        }
    }
}

/// At most `max` bytes of a body, as text.
pub async fn read_limited(mut r: reqwest::Response, max: usize) -> String {
    let mut buf = Vec::new();
    while let Ok(Some(chunk)) = r.chunk().await {
        buf.extend_from_slice(&chunk);
        if buf.len() >= max {
            buf.truncate(max);
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// An error without the URL's query (it may hold tokens) and with its cause chain.
pub fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_standard_webhooks_reference() {
        // The example of the Standard Webhooks reference libraries' tests.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = r#"{"test": 2432232314}"#;
        let sig = sign(secret, id, 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_whsec_and_rotation_signs_twice() {
        let a = new_secret();
        assert!(a.starts_with("whsec_") && a.len() > 40);
        let both = SigningSecrets {
            current: a.clone(),
            previous: Some(new_secret()),
        };
        let h = signature_header(&both, "msg_1", 1, "{}");
        assert_eq!(h.split(' ').count(), 2);
        assert!(h.starts_with(&sign(&a, "msg_1", 1, "{}")));
    }
}
