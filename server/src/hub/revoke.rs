//! Revocation: which credential opened which socket, so that ending a credential (sign-out,
//! password change, deactivation of an account, expert or merchant, a revoked API key) closes
//! every socket it opened, on every node, at once.
//!
//! A socket is *watched* under the credentials it rests on (a store-app token, its expert and
//! merchant; a dashboard session, its account and merchant). [`Hub::revoke`] closes the
//! sockets watched under a credential here and tells the other nodes over Redis
//! ([`super::nodes::Envelope::Revoke`]), which do the same. The close code is the one the
//! socket was watched with (4001 for signed-in sockets, 4004 for a deactivated merchant's shop
//! sockets), documented in docs/protocol.md.
//!
//! A revocation that lands while a socket is being authenticated is not missed: every
//! revocation bumps an epoch; a socket reads the epoch before it checks its credential and,
//! once watched, checks again if the epoch moved ([`Hub::revoked_since`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use dashmap::DashMap;

use super::outbox::Outbox;
use super::Hub;
use crate::protocol::CloseCode;

/// A credential a socket may rest on.
#[derive(Debug, Clone, Copy)]
pub enum Cred<'a> {
    /// A dashboard session, by its token hash.
    Session(&'a str),
    /// A dashboard account (all its sessions).
    Account(&'a str),
    /// A store-app token, by its hash.
    ExpertToken(&'a str),
    /// An expert (all their tokens).
    Expert(&'a str),
    /// A merchant (everything of theirs).
    Merchant(&'a str),
    /// A merchant API key, by id.
    ApiKey(&'a str),
}

impl Cred<'_> {
    pub fn key(&self) -> String {
        match self {
            Cred::Session(h) => format!("s:{h}"),
            Cred::Account(a) => format!("a:{a}"),
            Cred::ExpertToken(h) => format!("t:{h}"),
            Cred::Expert(e) => format!("e:{e}"),
            Cred::Merchant(m) => format!("m:{m}"),
            Cred::ApiKey(k) => format!("k:{k}"),
        }
    }
}

struct Watched {
    conn: u64,
    outbox: Weak<Outbox>,
    code: CloseCode,
}

/// The per-node registry (a field of the hub).
#[derive(Default)]
pub struct Revocations {
    by_key: DashMap<String, Vec<Watched>>,
    by_conn: DashMap<u64, Vec<String>>,
    epoch: AtomicU64,
}

impl Hub {
    /// The revocation epoch: read it before checking a credential, pass it to
    /// [`Hub::revoked_since`] once the socket is watched.
    pub fn revocation_epoch(&self) -> u64 {
        self.revocations.epoch.load(Ordering::Acquire)
    }

    /// Whether any credential was revoked (here or, as heard, elsewhere) since `epoch`: then the
    /// caller checks its credential again.
    pub fn revoked_since(&self, epoch: u64) -> bool {
        self.revocation_epoch() != epoch
    }

    /// Close socket `conn` (with `code`) when any of `creds` is revoked.
    pub fn watch(&self, conn: u64, outbox: &Arc<Outbox>, creds: &[Cred<'_>], code: CloseCode) {
        let keys: Vec<String> = creds.iter().map(Cred::key).collect();
        for k in &keys {
            self.revocations.by_key.entry(k.clone()).or_default().push(Watched {
                conn,
                outbox: Arc::downgrade(outbox),
                code,
            });
        }
        self.revocations.by_conn.entry(conn).or_default().extend(keys);
    }

    /// As [`Hub::watch`], for a socket the hub routes to (registered with [`Hub::register`]).
    pub fn watch_conn(&self, conn: u64, creds: &[Cred<'_>], code: CloseCode) {
        if let Some(o) = self.conns.get(conn) {
            self.watch(conn, &o, creds, code);
        }
    }

    /// Forget a socket that closed.
    pub fn unwatch(&self, conn: u64) {
        let Some((_, keys)) = self.revocations.by_conn.remove(&conn) else {
            return;
        };
        for k in keys {
            if let Some(mut v) = self.revocations.by_key.get_mut(&k) {
                v.retain(|w| w.conn != conn);
            }
            self.revocations.by_key.remove_if(&k, |_, v| v.is_empty());
        }
    }

    /// A socket id for a socket the hub does not route to (the live dashboard's), so it can be
    /// watched.
    pub fn socket_id(&self) -> u64 {
        self.conns.next_id()
    }

    /// The credential ended: close its sockets on this node and every other one. Call after
    /// the change is committed.
    pub fn revoke(&self, cred: Cred<'_>) {
        let key = cred.key();
        self.tell_nodes(|n| super::nodes::Envelope::Revoke { n, key: key.clone() });
        self.revoke_local(&key);
    }

    pub fn revoke_local(&self, key: &str) {
        self.revocations.epoch.fetch_add(1, Ordering::AcqRel);
        let targets: Vec<(Weak<Outbox>, CloseCode)> = self
            .revocations
            .by_key
            .get(key)
            .map(|v| v.iter().map(|w| (w.outbox.clone(), w.code)).collect())
            .unwrap_or_default();
        for (outbox, code) in targets {
            if let Some(o) = outbox.upgrade() {
                metrics::counter!("floorwalker_sockets_revoked_total").increment(1);
                o.close(code);
            }
        }
    }

    /// Sockets watched on this node (for tests and metrics).
    pub fn watched_sockets(&self) -> usize {
        self.revocations.by_conn.len()
    }
}
