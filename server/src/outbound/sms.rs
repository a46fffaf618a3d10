//! SMS through a gateway that speaks the common Twilio-style REST shape:
//! `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json` with the form fields `To`,
//! `From` and `Body`, HTTP Basic auth `AccountSid:AuthToken`, `201`/`200` on success. The base
//! URL is a merchant setting, so any compatible gateway works.

use std::time::Instant;

use super::webhook::{describe, excerpt, read_limited, HttpOutcome};
use crate::storage::Messaging;

pub use crate::domain::contact::valid_e164;

/// The gateway's URL for sending with this account.
pub fn messages_url(base: &str, account_sid: &str) -> String {
    let sid: String = url::form_urlencoded::byte_serialize(account_sid.as_bytes()).collect();
    format!("{}/2010-04-01/Accounts/{sid}/Messages.json", base.trim_end_matches('/'))
}

/// Send one SMS. `idempotency_key` travels as the `Idempotency-Key` header (gateways that
/// support it drop a repeat).
pub async fn send(http: &reqwest::Client, gw: &Messaging, to: &str, body: &str, idempotency_key: &str) -> HttpOutcome {
    let started = Instant::now();
    let res = http
        .post(messages_url(&gw.sms_base_url, &gw.sms_account_sid))
        .basic_auth(&gw.sms_account_sid, Some(gw.sms_auth_token.expose()))
        .header("idempotency-key", idempotency_key)
        .form(&[("To", to), ("From", gw.sms_from.as_str()), ("Body", body)])
        .send()
        .await;
    match res {
        Err(e) => HttpOutcome {
            status: None,
            latency: started.elapsed(),
            excerpt: None,
            error: Some(describe(&e)),
            retry_after_s: None,
        },
        Ok(r) => {
            let status = r.status().as_u16();
            let retry_after_s = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            let text = read_limited(r, 4096).await;
            let ok = (200..300).contains(&status);
            HttpOutcome {
                status: Some(status),
                latency: started.elapsed(),
                excerpt: Some(excerpt(&text)),
                error: (!ok).then(|| format!("the gateway answered {status}")),
                retry_after_s,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_and_urls() {
        assert!(valid_e164("+46701234567"));
        assert!(!valid_e164("0701234567"));
        assert!(!valid_e164("+46 70 123"));
        assert_eq!(
            messages_url("https://gw.example/", "AC123"),
            "https://gw.example/2010-04-01/Accounts/AC123/Messages.json"
        );
    }
}
