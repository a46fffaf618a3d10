//! Merchant settings and stores, read at most every [`CACHED_FOR`]: every chat request routes
//! by them, and reading them each time was most of the reads a chat request made. An edit made
//! through any node is seen at once: it tells every node to forget them.

use std::sync::Arc;
use std::time::Instant;

use dashmap::DashMap;

use super::nodes::Envelope;
use super::{Hub, CACHED_FOR};
use crate::ids::MerchantId;
use crate::now_ms;
use crate::storage::{MerchantPublic, PageRequest, Store};

#[derive(Default)]
pub struct MerchantCache {
    settings: DashMap<String, (Instant, Arc<MerchantPublic>)>,
    catalogue: DashMap<String, (Instant, Arc<Vec<Store>>)>,
    /// When each merchant's cached settings and stores were last dropped after an edit.
    forgotten: DashMap<String, Instant>,
}

impl MerchantCache {
    /// Cache what was read from `started` on, unless an edit made this node forget the
    /// merchant meanwhile (the read may have seen the database from before that edit).
    fn keep<T>(&self, cache: &DashMap<String, (Instant, T)>, m: &MerchantId, started: Instant, value: T) {
        if self.forgotten.get(m.as_str()).is_none_or(|at| *at < started) {
            cache.insert(m.to_string(), (started, value));
        }
    }

    pub fn forget(&self, m: &str) {
        self.forgotten.insert(m.to_owned(), Instant::now());
        self.settings.remove(m);
        self.catalogue.remove(m);
    }

    /// The merchants whose settings are cached here (those this node deals with).
    pub fn known_merchants(&self) -> Vec<String> {
        self.settings.iter().map(|e| e.key().clone()).collect()
    }

    /// (merchant, unanswered-claim cutoff in ms) for each cached merchant that re-offers
    /// unanswered claims.
    pub fn unanswered_cutoffs(&self) -> Vec<(String, i64)> {
        self.settings
            .iter()
            .filter_map(|e| {
                let s = e.value().1.routing.unanswered_reoffer_s;
                (s > 0).then(|| (e.key().clone(), i64::from(s) * 1000))
            })
            .collect()
    }
}

impl Hub {
    pub async fn merchant(&self, m: &MerchantId) -> Option<Arc<MerchantPublic>> {
        if let Some(e) = self.cache.settings.get(m.as_str()) {
            if e.0.elapsed() < CACHED_FOR {
                return Some(e.1.clone());
            }
        }
        let started = Instant::now();
        let fresh = Arc::new(self.db.merchant_public(m).await.ok()?);
        self.cache.keep(&self.cache.settings, m, started, fresh.clone());
        Some(fresh)
    }

    /// The merchant's stores, each with its departments, in id order.
    pub async fn stores(&self, m: &MerchantId) -> Option<Arc<Vec<Store>>> {
        if let Some(e) = self.cache.catalogue.get(m.as_str()) {
            if e.0.elapsed() < CACHED_FOR {
                return Some(e.1.clone());
            }
        }
        let started = Instant::now();
        let mut all = Vec::new();
        let mut page = PageRequest::first(500);
        loop {
            let p = self.db.list_stores(m, &page).await.ok()?;
            all.extend(p.items);
            match p.next_cursor {
                Some(c) => page.after = Some(c),
                None => break,
            }
        }
        let fresh = Arc::new(all);
        self.cache.keep(&self.cache.catalogue, m, started, fresh.clone());
        Some(fresh)
    }

    /// Drop what this node and every other one cached of a merchant's settings and stores
    /// (after an edit), so the next read is fresh everywhere.
    pub fn forget_merchant(&self, m: &MerchantId) {
        self.tell_nodes(|n| Envelope::Forget {
            n,
            merchant: m.to_string(),
        });
        self.forget_merchant_local(m.as_str());
    }

    pub fn forget_merchant_local(&self, m: &str) {
        self.cache.forget(m);
    }

    /// Whether a store is open now.
    pub async fn store_open(&self, merchant: &MerchantId, store_id: &str) -> bool {
        let now = now_ms();
        self.stores(merchant)
            .await
            .is_some_and(|all| all.iter().any(|s| s.id.as_str() == store_id && s.is_open_at(now)))
    }
}
