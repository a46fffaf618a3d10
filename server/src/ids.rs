//! Newtypes for every identifier, parsed at the boundary and trusted afterwards.
//!
//! Internal ids are UUIDv7 strings, so ordering by id is ordering by creation (cursor pagination
//! relies on this). The two public ids the product talks about are random and unguessable:
//! the Merchant ID (`mer_…`) and the Shopper ID (`shp_…`), 122 random bits each.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema, sqlx::Type)]
        #[serde(transparent)]
        #[schema(value_type = String)]
        #[sqlx(transparent)]
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

        /// Reads as the string it is (binding, formatting, comparing with text); a `&str` never
        /// becomes an id without `parse` or `from_db`.
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        /// Maps keyed by an id can be asked with its text (hashing and order are the string's).
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        /// In the generated TypeScript, an alias of `string` under the id's own name.
        impl ts_rs::TS for $name {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;
            fn name(_: &ts_rs::Config) -> String {
                stringify!($name).to_owned()
            }
            fn inline(_: &ts_rs::Config) -> String {
                "string".to_owned()
            }
            fn decl(_: &ts_rs::Config) -> String {
                format!("type {} = string;", stringify!($name))
            }
            fn decl_concrete(cfg: &ts_rs::Config) -> String {
                Self::decl(cfg)
            }
        }

        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                String::column_result(v).map(Self)
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
id_type!(
    /// A conversation (one shopper's chat with a store). On the wire a client may send any
    /// string here: it is looked up, never trusted, so an unknown one is simply not found.
    ConversationId, v7
);
id_type!(
    /// A stored message. Not the client's own `client_msg_id`, which stays a plain string.
    MessageId, v7
);

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

    #[test]
    fn conversation_and_message_ids_are_strings_outside_and_types_inside() {
        let c = ConversationId::generate();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, format!("\"{c}\""), "a plain JSON string on the wire");
        assert_eq!(serde_json::from_str::<ConversationId>(&json).unwrap(), c);
        assert!(ConversationId::parse(c.as_str()).is_some());
        assert!(ConversationId::parse("c1").is_none(), "parse checks the format");
        assert!(MessageId::parse(&format!("{c}x")).is_none());
        // Maps keyed by the id answer to its text.
        let mut m = std::collections::HashMap::new();
        m.insert(c.clone(), 1);
        assert_eq!(m.get(c.as_str()), Some(&1));
        // TypeScript: an alias under its own name.
        let cfg = ts_rs::Config::new();
        assert_eq!(<ConversationId as ts_rs::TS>::decl(&cfg), "type ConversationId = string;");
        assert_eq!(<MessageId as ts_rs::TS>::name(&cfg), "MessageId");
        // SQLite reads it back as written.
        let db = rusqlite::Connection::open_in_memory().unwrap();
        let back: ConversationId = db.query_row("SELECT ?1", [&c], |r| r.get(0)).unwrap();
        assert_eq!(back, c);
    }
}
