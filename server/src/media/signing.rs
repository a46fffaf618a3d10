//! Short-lived signed URLs for photo files.
//!
//! An `<img>` cannot send a bearer token, and the widget runs on the merchant's site where our
//! cookies are not sent, so a file is fetched with a URL that carries its own proof:
//! `/api/v1/files/{id}/{variant}?aud=…&exp=…&sig=…`, where `sig` is an HMAC-SHA256 (a key kept
//! in `server_keys`, shared by every node) over the attachment id, the variant, the expiry and
//! the audience — who the URL was issued to (`s.<shopper>`, `e.<expert>`, `a.<account>`,
//! `k.<api key>`). Serving checks the signature, the expiry, and that the audience may still
//! see the photo (a deactivated expert's or revoked key's URLs stop working at once).
//!
//! Expiries are rounded up to a five-minute step, so the URLs a client is handed within one
//! step are identical and the browser's cache serves repeats; a URL lives 10 to 15 minutes.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Shortest life of a URL, in seconds.
pub const URL_TTL_S: i64 = 600;
/// Expiries are rounded up to a multiple of this, in seconds.
const STEP_S: i64 = 300;

/// Who a URL is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    Shopper(String),
    Expert(String),
    Account(String),
    ApiKey(String),
}

impl Audience {
    pub fn encode(&self) -> String {
        match self {
            Audience::Shopper(id) => format!("s.{id}"),
            Audience::Expert(id) => format!("e.{id}"),
            Audience::Account(id) => format!("a.{id}"),
            Audience::ApiKey(id) => format!("k.{id}"),
        }
    }

    pub fn decode(s: &str) -> Option<Audience> {
        let (kind, id) = s.split_once('.')?;
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return None;
        }
        let id = id.to_owned();
        Some(match kind {
            "s" => Audience::Shopper(id),
            "e" => Audience::Expert(id),
            "a" => Audience::Account(id),
            "k" => Audience::ApiKey(id),
            _ => return None,
        })
    }
}

/// The two stored copies of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    Full,
    Thumb,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Full => "full",
            Variant::Thumb => "thumb",
        }
    }
    pub fn parse(s: &str) -> Option<Variant> {
        match s {
            "full" => Some(Variant::Full),
            "thumb" => Some(Variant::Thumb),
            _ => None,
        }
    }
}

/// Signs and checks file URLs with one key.
#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(***)")
    }
}

impl UrlSigner {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        UrlSigner { key: key.into() }
    }

    fn mac(&self, id: &str, variant: Variant, exp: i64, aud: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        // Fields are separated by a byte none of them may contain.
        for part in [id, variant.as_str(), &exp.to_string(), aud] {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The expiry (unix seconds) of URLs issued at `now_s`.
    pub fn expiry(now_s: i64) -> i64 {
        let at = now_s + URL_TTL_S;
        at + (STEP_S - at.rem_euclid(STEP_S)) % STEP_S
    }

    /// A path (relative to the API's origin) that serves `variant` of `id` to `aud` until `exp`.
    pub fn url(&self, id: &str, variant: Variant, exp: i64, aud: &Audience) -> String {
        let aud = aud.encode();
        let sig = self.mac(id, variant, exp, &aud);
        format!("/api/v1/files/{id}/{}?aud={aud}&exp={exp}&sig={sig}", variant.as_str())
    }

    /// The audience of a presented URL, when its signature is ours and it has not expired.
    pub fn verify(&self, id: &str, variant: Variant, exp: i64, aud: &str, sig: &str, now_s: i64) -> Option<Audience> {
        if exp < now_s {
            return None;
        }
        let want = self.mac(id, variant, exp, aud);
        if !bool::from(want.as_bytes().ct_eq(sig.as_bytes())) {
            return None;
        }
        Audience::decode(aud)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_verify_only_as_issued() {
        let s = UrlSigner::new(b"k".to_vec());
        let aud = Audience::Shopper("shp_0123456789abcdef0123456789abcdef".into());
        let exp = UrlSigner::expiry(1_000_000);
        assert!((1_000_000 + URL_TTL_S..1_000_000 + URL_TTL_S + STEP_S).contains(&exp) && exp % STEP_S == 0);
        let url = s.url("id1", Variant::Thumb, exp, &aud);
        let q: std::collections::HashMap<_, _> = url::Url::parse(&format!("http://x{url}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        let sig = &q["sig"];
        assert_eq!(
            s.verify("id1", Variant::Thumb, exp, &aud.encode(), sig, 1_000_000),
            Some(aud.clone())
        );
        assert_eq!(
            s.verify("id1", Variant::Full, exp, &aud.encode(), sig, 1_000_000),
            None,
            "other variant"
        );
        assert_eq!(
            s.verify("id2", Variant::Thumb, exp, &aud.encode(), sig, 1_000_000),
            None,
            "other id"
        );
        assert_eq!(
            s.verify("id1", Variant::Thumb, exp + 300, &aud.encode(), sig, 1_000_000),
            None,
            "longer life"
        );
        assert_eq!(
            s.verify("id1", Variant::Thumb, exp, "s.shp_other", sig, 1_000_000),
            None,
            "other audience"
        );
        assert_eq!(s.verify("id1", Variant::Thumb, exp, &aud.encode(), sig, exp + 1), None, "expired");
        assert_eq!(
            UrlSigner::new(b"other".to_vec()).verify("id1", Variant::Thumb, exp, &aud.encode(), sig, 0),
            None
        );
    }
}
