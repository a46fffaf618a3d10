//! Unguessable pay-link tokens and signed, expiring cart references.
//!
//! Both are HMAC-SHA256 under a cluster-wide key kept in `server_keys` ("commerce"), so any
//! node can check what another made, and nothing needs to be stored to check one:
//! - pay token: `<cart id>.<base64url(HMAC("pay:" cart id))>` — the cart's own expiry applies;
//! - cart reference: `cref_<base64url(cart id "." expiry ms)>.<base64url(HMAC("ref:" …))>`.
//!
//! Neither is ever logged (the request log records route templates, not paths).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const REF_PREFIX: &str = "cref_";

fn mac(key: &[u8], purpose: &str, data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(purpose.as_bytes());
    m.update(b":");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn same(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

pub fn pay_token(key: &[u8], cart_id: &str) -> String {
    format!("{cart_id}.{}", B64.encode(mac(key, "pay", cart_id)))
}

/// The cart id a pay token stands for, when this cluster made it.
pub fn check_pay_token(key: &[u8], token: &str) -> Option<String> {
    let (id, sig) = token.split_once('.')?;
    let sig = B64.decode(sig).ok()?;
    same(&mac(key, "pay", id), &sig).then(|| id.to_owned())
}

pub fn cart_ref(key: &[u8], cart_id: &str, expires_at: i64) -> String {
    let claims = format!("{cart_id}.{expires_at}");
    format!("{REF_PREFIX}{}.{}", B64.encode(&claims), B64.encode(mac(key, "ref", &claims)))
}

/// The cart id of a reference this cluster signed that has not expired at `now`.
pub fn check_cart_ref(key: &[u8], r: &str, now: i64) -> Option<String> {
    let (claims, sig) = r.strip_prefix(REF_PREFIX)?.split_once('.')?;
    let claims = String::from_utf8(B64.decode(claims).ok()?).ok()?;
    let sig = B64.decode(sig).ok()?;
    if !same(&mac(key, "ref", &claims), &sig) {
        return None;
    }
    let (id, exp) = claims.rsplit_once('.')?;
    (exp.parse::<i64>().ok()? > now).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pay_tokens_and_cart_refs_are_signed_and_expire() {
        let k = b"key-1";
        let t = pay_token(k, "cart-1");
        assert_eq!(check_pay_token(k, &t).as_deref(), Some("cart-1"));
        assert_eq!(check_pay_token(b"key-2", &t), None);
        let forged = t.replacen("cart-1", "cart-2", 1);
        assert_eq!(check_pay_token(k, &forged), None);
        assert_eq!(check_pay_token(k, "cart-1"), None);

        let r = cart_ref(k, "cart-1", 1000);
        assert!(r.starts_with(REF_PREFIX));
        assert_eq!(check_cart_ref(k, &r, 999).as_deref(), Some("cart-1"));
        assert_eq!(check_cart_ref(k, &r, 1000), None, "expired");
        assert_eq!(check_cart_ref(b"key-2", &r, 0), None);
        let (_, sig) = r.strip_prefix(REF_PREFIX).unwrap().split_once('.').unwrap();
        let longer = format!("{REF_PREFIX}{}.{sig}", B64.encode("cart-1.99999999999999"));
        assert_eq!(check_cart_ref(k, &longer, 0), None, "the expiry is signed");
    }
}
