//! The routing loop: a full pass over every waiting chat once a second (missed chats, re-offer
//! waves, unanswered claims, queue positions) and, between passes, a top-up whenever an offer
//! went away. Who gets which offer is decided in [`super::offers`].

use crate::ids::ConversationId;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::offers::Pass;
use super::{Hub, FULL_PASS_PAGE, TOP_UP_PAGE, TOP_UP_ROWS};
use crate::ids::MerchantId;
use crate::now_ms;
use crate::protocol::Out;
use crate::storage::ConversationRow;

impl Hub {
    pub(super) async fn route_forever(self) {
        let mut tick = tokio::time::interval(Duration::from_millis(1000));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let full = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tick.tick() => true,
                _ = self.wake.notified() => {
                    // Coalesce bursts of claims into one pass.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    false
                }
            };
            let started = std::time::Instant::now();
            let result = if full { self.route_once().await } else { self.top_up().await };
            metrics::histogram!("floorwalker_routing_pass_seconds", "pass" => if full { "full" } else { "top_up" })
                .record(started.elapsed().as_secs_f64());
            if let Err(e) = result {
                tracing::warn!(error = %e, "routing pass failed");
            }
            let marks = std::mem::take(&mut *self.offers.to_mark.lock().expect("to_mark"));
            if let Err(e) = self.db.mark_offered(&marks).await {
                tracing::warn!(error = %e, "marking chats offered failed");
            }
        }
    }

    /// Between full passes, after offers went away: offer the longest-waiting chats to experts
    /// who now have room. Reads the oldest a page at a time and stops when no expert has room
    /// (usually after the first page), and at most a few hundred, so a long queue does not make
    /// every claim cost a scan of all of it (the once-a-second full pass does the rest).
    pub async fn top_up(&self) -> anyhow::Result<()> {
        let mut pass = Pass::default();
        let mut after: Option<(i64, ConversationId)> = None;
        let mut seen = 0;
        while seen < TOP_UP_ROWS && self.anyone_has_room() {
            let rows = self
                .db
                .waiting_page(after.as_ref().map(|(at, id)| (*at, id.as_str())), TOP_UP_PAGE)
                .await?;
            for row in &rows {
                self.offer_round_in(row, "new", false, &mut pass).await;
            }
            seen += rows.len() as i64;
            match rows.last() {
                Some(last) if rows.len() as i64 == TOP_UP_PAGE => after = Some((last.queued_at, last.id.clone())),
                _ => break,
            }
        }
        Ok(())
    }

    /// Whether any expert on this node could take another offer.
    fn anyone_has_room(&self) -> bool {
        self.roster
            .iter()
            .any(|p| p.available && p.active < p.cap() && self.offers.has_room(p.key()))
    }

    /// Every waiting chat, longest-waiting first, read a page at a time from the index (on
    /// SQLite on a kept read connection), letting the node's other tasks run between pages: one
    /// query joining a long queue at once held a runtime thread for tens of milliseconds.
    async fn all_waiting(&self) -> anyhow::Result<Vec<ConversationRow>> {
        let mut all: Vec<ConversationRow> = Vec::new();
        loop {
            let after = all.last().map(|r| (r.queued_at, r.id.as_str()));
            let page = self.db.waiting_page(after, FULL_PASS_PAGE).await?;
            let full = page.len() as i64 == FULL_PASS_PAGE;
            all.extend(page);
            if !full {
                return Ok(all);
            }
            tokio::task::yield_now().await;
        }
    }

    /// One routing pass: missed chats, re-offer waves, unanswered claims, queue positions.
    pub async fn route_once(&self) -> anyhow::Result<()> {
        let now = now_ms();
        // A pass reads and offers within seconds; older marks are of no use.
        self.offers.withdrawn_at.retain(|_, at| now - *at < 300_000);
        let waiting = self.all_waiting().await?;
        // The exact number waiting per merchant, for holder_cap until the next pass.
        let mut counts: HashMap<&str, i64> = HashMap::new();
        for row in &waiting {
            *counts.entry(row.merchant_id.as_str()).or_default() += 1;
        }
        self.offers.waiting_est.retain(|m, _| counts.contains_key(m.as_str()));
        for (m, n) in counts {
            self.offers.waiting_est.insert(m.to_owned(), n);
        }
        let mut pass = Pass::default();
        let mut positions: std::collections::HashMap<(String, String, String), u32> = Default::default();
        let mut avail_cache: std::collections::HashMap<(String, String, String), u32> = Default::default();
        for (i, row) in waiting.iter().enumerate() {
            if i % FULL_PASS_PAGE as usize == FULL_PASS_PAGE as usize - 1 {
                tokio::task::yield_now().await;
            }
            let m = MerchantId::from_db(row.merchant_id.clone());
            let Some(settings) = self.merchant(&m).await else { continue };
            let r = &settings.routing;
            if row.offline == 0 && now - row.queued_at > i64::from(r.missed_after_s) * 1000 {
                if self.db.mark_missed(&row.id, now - i64::from(r.missed_after_s) * 1000).await? {
                    self.withdraw(&row.id, "missed", None);
                    self.emit(row, "missed", Some(now - row.queued_at), None);
                    self.system_message(row, "missed", serde_json::json!({})).await;
                    self.announce(&m, &row.id).await;
                }
                continue;
            }
            let last_wave = self.offers.tracks.get(&row.id).map(|t| t.last_wave).unwrap_or(0);
            let wave = last_wave > 0 && now - last_wave >= i64::from(r.reoffer_every_s) * 1000;
            self.offer_round_in(row, if wave { "reoffer" } else { "new" }, wave, &mut pass)
                .await;

            // Queue position among chats for the same store and department.
            let key = (row.merchant_id.clone(), row.store_id.clone(), row.department_id.clone());
            let pos = positions.entry(key).or_insert(0);
            *pos += 1;
            if self.conns.viewed(&row.id) {
                let k = (row.merchant_id.clone(), row.store_id.clone(), row.department_id.clone());
                let avail = *avail_cache
                    .entry(k)
                    .or_insert_with(|| self.available_count(&row.merchant_id, Some(&row.store_id), Some(&row.department_id)));
                let wait = self.offers.estimate_wait(&row.merchant_id, *pos, avail);
                let changed = self.offers.queue_sent.get(&row.id).map(|v| *v != (*pos, wait)).unwrap_or(true);
                if changed {
                    self.offers.queue_sent.insert(row.id.clone(), (*pos, wait));
                    self.send_conversation_local(
                        &row.id,
                        &Out::Queue {
                            conversation_id: row.id.clone(),
                            position: *pos,
                            estimated_wait_s: wait,
                        },
                    );
                }
            }
        }
        // Claimed chats whose expert never answered go back to the queue.
        let cutoffs = self.cache.unanswered_cutoffs();
        if let Some(min) = cutoffs.iter().map(|c| c.1).min() {
            for row in self.db.unanswered_claims(now - min).await? {
                let Some(limit) = cutoffs.iter().find(|c| c.0 == row.merchant_id).map(|c| c.1) else {
                    continue;
                };
                let Some(expert) = row.expert_id.clone() else { continue };
                // Only the node serving the expert acts, so the expert is told at once.
                if !self.roster.contains(&expert) || now - row.claimed_at.unwrap_or(now) < limit {
                    continue;
                }
                if self.db.unclaim_unanswered(&row.id, &expert).await? {
                    let m = MerchantId::from_db(row.merchant_id.clone());
                    self.change_active(&expert, -1);
                    self.send_expert(
                        &expert,
                        &Out::OfferWithdrawn {
                            conversation_id: row.id.clone(),
                            reason: "unavailable".into(),
                        },
                    );
                    if let Some(fresh) = self.announce(&m, &row.id).await {
                        self.send_expert(
                            &expert,
                            &Out::Conversation {
                                conversation: fresh.view(),
                            },
                        );
                        if let Some(p) = self.roster.get(&expert) {
                            for c in &p.conns {
                                self.unsubscribe(*c, &row.id);
                            }
                        }
                        self.emit(&fresh, "unanswered", None, Some(&expert));
                        self.offer_round(&fresh, "unanswered", true).await;
                        self.wake_cluster(&fresh.merchant_id);
                    }
                }
            }
        }
        // Forget offers of conversations that are no longer waiting.
        let live: HashSet<&str> = waiting.iter().map(|r| r.id.as_str()).collect();
        self.offers.tracks.retain(|k, _| live.contains(k.as_str()));
        for mut h in self.offers.held.iter_mut() {
            h.retain(|c| live.contains(c.as_str()));
        }
        self.offers.queue_sent.retain(|k, _| live.contains(k.as_str()));
        Ok(())
    }
}
