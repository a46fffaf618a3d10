//! Counters and latency histograms shared by every simulated client.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde_json::json;

/// Client id → the seqs a message with it arrived under.
pub type SeqsByClientId = HashMap<String, HashSet<i64>>;

#[derive(Default)]
pub struct Counters {
    pub chats_requested: AtomicU64,
    pub chats_claimed: AtomicU64,
    pub claim_attempts: AtomicU64,
    pub messages_sent: AtomicU64,
    pub messages_acked: AtomicU64,
    pub messages_delivered: AtomicU64,
    pub reconnects: AtomicU64,
    pub out_of_order: AtomicU64,
    pub errors: AtomicU64,
    pub unavailable: AtomicU64,
    /// Chats requested so far (numbers each shopper's first request, in request order).
    pub next_request: AtomicU64,
    /// Chats their shoppers have seen start waiting and not yet claimed: the queue.
    pub waiting_now: AtomicI64,
    /// Experts' chats that ended while chats were waiting (a slot freed under a queue) …
    pub slots_freed: AtomicU64,
    /// … and of those, how many an expert filled again with a claim.
    pub slots_refilled: AtomicU64,
}

/// Which side sent a message (the other side must receive it).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Side {
    Shopper,
    Expert,
}

pub struct Stats {
    pub c: Counters,
    pub claim_ms: Mutex<Histogram<u64>>,
    pub delivery_us: Mutex<Histogram<u64>>,
    /// Deliveries since the last progress line (reset by it), to see when a tail happens.
    pub window_delivery_us: Mutex<Histogram<u64>>,
    /// Request number → ms from the shopper's `request_chat` to seeing the chat claimed
    /// (None: not claimed in the run).
    pub time_to_claim: Mutex<HashMap<u64, Option<u64>>>,
    /// How long an expert's freed slot stayed empty while chats waited (end seen → next claim
    /// won), in microseconds.
    pub refill_us: Mutex<Histogram<u64>>,
    /// conversation → experts who were told they won it.
    pub winners: Mutex<HashMap<floorwalker::ids::ConversationId, HashSet<String>>>,
    /// (conversation, sender side) → client ids acknowledged to the sender.
    pub acked: Mutex<HashMap<(String, Side), HashSet<String>>>,
    /// (conversation, receiving side) → client id → the seqs it arrived under.
    pub received: Mutex<HashMap<(String, Side), SeqsByClientId>>,
}

impl Stats {
    pub fn new() -> Self {
        Stats {
            c: Counters::default(),
            claim_ms: Mutex::new(Histogram::new_with_bounds(1, 600_000, 3).unwrap()),
            delivery_us: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3).unwrap()),
            window_delivery_us: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3).unwrap()),
            time_to_claim: Mutex::new(HashMap::new()),
            refill_us: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3).unwrap()),
            winners: Mutex::new(HashMap::new()),
            acked: Mutex::new(HashMap::new()),
            received: Mutex::new(HashMap::new()),
        }
    }

    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn acked(&self, conv: &str, from: Side, client_id: &str) {
        self.acked
            .lock()
            .unwrap()
            .entry((conv.to_owned(), from))
            .or_default()
            .insert(client_id.to_owned());
    }

    /// Record a received message; returns true the first time this client id is seen.
    pub fn received(&self, conv: &str, to: Side, client_id: &str, seq: i64) -> bool {
        let mut r = self.received.lock().unwrap();
        let seqs = r.entry((conv.to_owned(), to)).or_default().entry(client_id.to_owned()).or_default();
        let first = seqs.is_empty();
        seqs.insert(seq);
        first
    }

    /// The (conversation, client id) of every acknowledged message the other side never got.
    pub fn lost_ids(&self) -> Vec<(String, String)> {
        let acked = self.acked.lock().unwrap();
        let received = self.received.lock().unwrap();
        let winners = self.winners.lock().unwrap();
        let mut out = Vec::new();
        for ((conv, from), ids) in acked.iter() {
            if !winners.contains_key(conv.as_str()) {
                continue;
            }
            let to = if *from == Side::Shopper { Side::Expert } else { Side::Shopper };
            let got = received.get(&(conv.clone(), to));
            for id in ids {
                if got.is_none_or(|g| !g.contains_key(id)) {
                    out.push((conv.clone(), id.clone()));
                }
            }
        }
        out
    }

    /// (lost, duplicates, double_claims) from the books.
    pub fn reconcile(&self) -> (u64, u64, u64) {
        let lost = self.lost_ids().len() as u64;
        let received = self.received.lock().unwrap();
        let winners = self.winners.lock().unwrap();
        let duplicates = received.values().flat_map(|m| m.values()).filter(|seqs| seqs.len() > 1).count() as u64;
        let double_claims = winners.values().filter(|w| w.len() > 1).count() as u64;
        (lost, duplicates, double_claims)
    }

    /// Time-to-claim of the first `first` chats in request order and of all of them: p50,
    /// p99 and max in ms, with chats never claimed counted as slower than any (a percentile
    /// that falls on one is null), and how many were claimed.
    pub fn time_to_claim_summary(&self, first: usize) -> serde_json::Value {
        let all = self.time_to_claim.lock().unwrap();
        let mut order: Vec<(&u64, &Option<u64>)> = all.iter().collect();
        order.sort_by_key(|(n, _)| **n);
        let part = |v: &[(&u64, &Option<u64>)]| {
            let mut ms: Vec<u64> = v.iter().filter_map(|(_, t)| **t).collect();
            ms.sort_unstable();
            let q = |p: f64| {
                let i = ((p * v.len() as f64).ceil() as usize).max(1) - 1;
                ms.get(i).map(|x| *x as f64)
            };
            json!({"chats": v.len(), "claimed": ms.len(), "p50": q(0.5), "p99": q(0.99), "max": ms.last().map(|x| *x as f64).filter(|_| ms.len() == v.len())})
        };
        json!({"first_n": first, "first": part(&order[..first.min(order.len())]), "all": part(&order)})
    }

    pub fn summary(hist: &Histogram<u64>, scale: f64) -> serde_json::Value {
        let q = |p: f64| {
            if hist.is_empty() {
                0.0
            } else {
                hist.value_at_quantile(p) as f64 / scale
            }
        };
        json!({"p50": q(0.5), "p99": q(0.99), "p999": q(0.999), "max": if hist.is_empty() { 0.0 } else { hist.max() as f64 / scale }, "count": hist.len()})
    }
}
