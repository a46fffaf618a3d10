//! Floorwalker: a real-time virtual shopping platform.
//!
//! The binary (`src/main.rs`) is a thin shell over this library so that tests, the load test
//! and tools run exactly the code the server runs.
//!
//! Layers, outermost first:
//! - [`app`] builds the whole server: binds, migrates, seeds, serves, shuts down.
//! - [`http`] is the REST API, operations endpoints and the static front ends.
//! - [`auth`] hashes passwords, mints and checks tokens, throttles logins.
//! - [`domain`] holds the parsed, validated shapes of merchant data.
//! - [`storage`] is the one storage interface, over SQLite (default) or PostgreSQL.
//! - [`outbound`] delivers e-mail, SMS, webhooks and Web Push alerts from the transactional outbox.
//! - [`media`] checks, stores and serves chat photos; STUN/TURN for video calls.

pub mod analytics;
pub mod app;
pub mod auth;
pub mod commerce;
pub mod config;
pub mod csv_table;
pub mod demo;
pub mod domain;
pub mod http;
pub mod hub;
pub mod ids;
pub mod media;
pub mod outbound;
pub mod protocol;
pub mod storage;
pub mod telemetry;
pub mod wire_types;

/// Current wall-clock time in unix milliseconds, the unit every stored time uses.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
