//! Shopper tokens: `shp_….<base64url(HMAC-SHA256(merchant:shopper))>` proves the server issued
//! this Shopper ID to this browser for this merchant.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Hub;

pub struct ShopperTokens {
    key: Vec<u8>,
}

impl ShopperTokens {
    pub fn new(key: Vec<u8>) -> ShopperTokens {
        ShopperTokens { key }
    }
}

impl Hub {
    /// `shp_….<base64url(HMAC-SHA256(merchant:shopper))>`: proves the server issued this
    /// Shopper ID to this browser for this merchant.
    pub fn shopper_token(&self, merchant: &str, shopper: &str) -> String {
        use base64::Engine;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.tokens.key).expect("any key length");
        mac.update(merchant.as_bytes());
        mac.update(b":");
        mac.update(shopper.as_bytes());
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{shopper}.{sig}")
    }

    pub fn verify_shopper_token(&self, merchant: &str, token: &str) -> Option<String> {
        let (shopper, _) = token.split_once('.')?;
        crate::ids::ShopperId::parse(shopper)?;
        let expected = self.shopper_token(merchant, shopper);
        use subtle::ConstantTimeEq;
        bool::from(expected.as_bytes().ct_eq(token.as_bytes())).then(|| shopper.to_owned())
    }
}
