//! Signed links in e-mail: "continue the conversation" (expiring; it re-issues the shopper's
//! token for the same conversation) and "unsubscribe" (no expiry).
//!
//! A link token is `base64url(JSON claims) "." base64url(HMAC-SHA256(key, claims))` with a
//! cluster-wide key kept in the database (`server_keys`), so any node can check a link another
//! node made. Nothing in a token is secret; the signature makes it unforgeable.

use crate::ids::ConversationId;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What a link stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum Claims {
    /// Open conversation `c` of merchant `m` as shopper `s`, until `e` (unix ms).
    #[serde(rename = "reopen")]
    Reopen { m: String, c: ConversationId, s: String, e: i64 },
    /// Stop non-transactional mail from merchant `m` to address `a` on channel `ch`.
    #[serde(rename = "unsub")]
    Unsubscribe { m: String, ch: String, a: String },
}

/// How long a "continue the conversation" link works.
pub const REOPEN_DAYS: i64 = 7;

fn mac(key: &[u8], claims: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(b"floorwalker-link:");
    m.update(claims.as_bytes());
    m.finalize().into_bytes().to_vec()
}

pub fn sign(key: &[u8], claims: &Claims) -> String {
    let json = serde_json::to_string(claims).expect("claims serialise");
    format!("{}.{}", B64.encode(&json), B64.encode(mac(key, &json)))
}

/// The claims of a token this cluster signed (expiry is the caller's to check).
pub fn verify(key: &[u8], token: &str) -> Option<Claims> {
    let (claims, sig) = token.trim().split_once('.')?;
    let json = String::from_utf8(B64.decode(claims).ok()?).ok()?;
    let sig = B64.decode(sig).ok()?;
    if !bool::from(mac(key, &json).ct_eq(&sig)) {
        return None;
    }
    serde_json::from_str(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_signed_and_checked() {
        let key = b"k1";
        let c = Claims::Reopen {
            m: "mer_1".into(),
            c: ConversationId::from_db("conv".into()),
            s: "shp_1".into(),
            e: 5,
        };
        let t = sign(key, &c);
        assert_eq!(verify(key, &t), Some(c));
        assert_eq!(verify(b"k2", &t), None);
        let (claims, sig) = t.split_once('.').unwrap();
        let forged = B64.encode(r#"{"k":"reopen","m":"mer_2","c":"conv","s":"shp_1","e":5}"#);
        assert_eq!(verify(key, &format!("{forged}.{sig}")), None);
        assert_eq!(verify(key, claims), None);
    }
}
