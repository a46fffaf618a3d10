//! Web Push alerts to the store app (issue 23; docs/push.md).
//!
//! - [`vapid`]: the server's VAPID key pair (RFC 8292), generated once and kept in
//!   `server_keys`, and the signed `Authorization` header.
//! - [`wire`]: one encrypted push request (RFC 8291 `aes128gcm`, through `web-push-native`)
//!   and what the push service's answer means.
//! - [`alerter`]: which experts get an alert for a waiting chat (those the hub cannot reach over
//!   a live socket) and the follow-up that closes the notification when the offer goes away.
//! - [`deliver`]: the outbox worker's attempt for a `push` row.
//!
//! Alerts travel through the transactional outbox like e-mail: the alert row and its outbox
//! row commit together, so a node that dies before the hand-off leaves a row the next worker
//! sends once.

pub mod alerter;
pub mod deliver;
pub mod vapid;
pub mod wire;

/// The languages of the notification text (the store app's).
pub const LANGUAGES: [&str; 6] = ["en", "sv", "de", "cs", "el", "fa"];

/// How long the push service keeps an undelivered alert (seconds): an offer is worth little
/// after a minute or two, and a stale notification is worse than none.
pub const TTL_S: u64 = 60;

/// Attempts to hand an alert to the push service stop after this long (ms).
pub const GIVE_UP_MS: i64 = 120_000;

/// A socket not heard from for this long (ms) counts as frozen (a locked phone): the hub's rule.
pub use crate::hub::SILENT_AFTER_MS;

/// A device whose hand-offs failed this many times in a row counts as one that cannot be alerted.
pub const FAILING_AFTER: i64 = 3;
