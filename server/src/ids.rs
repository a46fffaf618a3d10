//! Newtypes for every identifier, parsed at the boundary and trusted afterwards.
//!
//! Internal ids are UUIDv7 strings, so ordering by id is ordering by creation (cursor pagination
//! relies on this). The two public ids the product talks about are random and unguessable:
//! the Merchant ID (`mer_…`) and the Shopper ID (`shp_…`), 122 random bits each.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String)]
        pub struct $name(String);

        impl $name {
            /// Issue a fresh id.
            pub fn generate() -> Self {
                Self(id_type!(@gen $kind))
            }
            /// Accept an id from outside; `None` when it cannot be one of ours.
            pub fn parse(s: &str) -> Option<Self> {
                if id_type!(@valid $kind, s) { Some(Self(s.to_owned())) } else { None }
            }
            /// Wrap a value read back from our own database.
            pub fn from_db(s: String) -> Self {
                Self(s)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
    (@gen v7) => { uuid::Uuid::now_v7().hyphenated().to_string() };
    (@gen merchant) => { format!("mer_{}", uuid::Uuid::new_v4().simple()) };
    (@gen shopper) => { format!("shp_{}", uuid::Uuid::new_v4().simple()) };
    (@valid v7, $s:expr) => { uuid::Uuid::try_parse($s).is_ok() && $s.len() == 36 };
    (@valid merchant, $s:expr) => { valid_public($s, "mer_") };
    (@valid shopper, $s:expr) => { valid_public($s, "shp_") };
}

fn valid_public(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
}

id_type!(
    /// The public, unguessable id of a merchant.
    MerchantId, merchant
);
id_type!(
    /// The public, unguessable id of a shopper, issued on first contact.
    ShopperId, shopper
);
id_type!(StoreId, v7);
id_type!(DepartmentId, v7);
id_type!(ExpertId, v7);
id_type!(AccountId, v7);
id_type!(SavedReplyId, v7);
id_type!(ApiKeyId, v7);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_ids_are_random_and_checked() {
        let a = MerchantId::generate();
        let b = MerchantId::generate();
        assert_ne!(a, b);
        assert!(MerchantId::parse(a.as_str()).is_some());
        assert!(MerchantId::parse("mer_123").is_none());
        assert!(MerchantId::parse(&a.as_str().replace("mer_", "shp_")).is_none());
        assert!(ShopperId::parse(ShopperId::generate().as_str()).is_some());
    }

    #[test]
    fn internal_ids_sort_by_creation() {
        let ids: Vec<StoreId> = (0..50).map(|_| StoreId::generate()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(StoreId::parse("not-a-uuid").is_none());
    }
}
