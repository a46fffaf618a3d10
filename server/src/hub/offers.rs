//! Offers: who on this node holds which waiting chat's offer, and the choice of who should —
//! the targeted expert, the shopper's contact first, else the eligible experts with room,
//! spread under a surge ([`Hub::holder_cap`]). The loop that runs it is in [`super::router`].

use std::collections::{HashMap, HashSet};

use dashmap::DashMap;

use super::nodes::Envelope;
use super::plan::{self, Chat};
use super::{frame, Hub, MAX_OFFERS_PER_EXPERT};
use crate::ids::ConversationId;
use crate::ids::MerchantId;
use crate::now_ms;
use crate::protocol::{self, Offer, OfferShopper, Out};
use crate::storage::ConversationRow;
use crate::storage::ConversationStatus;

/// Who on this node holds an offer for a waiting conversation.
#[derive(Debug, Default)]
pub(super) struct OfferTrack {
    /// The conversation's merchant (to keep [`Offers::waiting_est`] when it goes).
    pub merchant: String,
    pub experts: HashSet<String>,
    pub last_wave: i64,
    /// Re-offer waves so far: each lets the offer reach one more expert under a surge.
    pub waves: usize,
}

/// The offers held on this node and the routing's bookkeeping between passes.
#[derive(Default)]
pub struct Offers {
    /// conversation → who holds its offer.
    pub(super) tracks: DashMap<ConversationId, OfferTrack>,
    /// expert → conversations whose offer they hold (the reverse of `tracks`).
    pub(super) held: DashMap<String, HashSet<ConversationId>>,
    /// conversation → the (position, estimated wait) last sent to its shopper.
    pub(super) queue_sent: DashMap<ConversationId, (u32, u32)>,
    /// merchant → waiting chats, cluster-wide: exact after each full pass, kept up between
    /// passes by the chats that start waiting here and the offers withdrawn here (an estimate
    /// for [`Hub::holder_cap`], never for anything a client sees).
    pub(super) waiting_est: DashMap<String, i64>,
    /// conversation → when its offers were last withdrawn (claimed, ended, missed). A routing
    /// pass that read the chat as waiting before that must not offer it again afterwards; a
    /// chat queued again later (transfer, unanswered claim) has a later `queued_at` and may be.
    pub(super) withdrawn_at: DashMap<ConversationId, i64>,
    /// Conversations offered for the first time, to be marked `offered` in one write after the
    /// routing pass (one statement, not one commit per chat).
    pub(super) to_mark: std::sync::Mutex<Vec<ConversationId>>,
    /// merchant → recent time to claim, seconds (a moving average, for wait estimates).
    claim_seconds: DashMap<String, f64>,
}

impl Offers {
    /// How many offers the expert holds.
    pub fn held_by(&self, expert: &str) -> usize {
        self.held.get(expert).map_or(0, |h| h.len())
    }

    /// The conversations whose offer the expert holds.
    pub fn held_list(&self, expert: &str) -> Vec<ConversationId> {
        self.held.get(expert).map(|h| h.iter().cloned().collect()).unwrap_or_default()
    }

    /// Whether the expert could hold another offer.
    pub fn has_room(&self, expert: &str) -> bool {
        self.held.get(expert).is_none_or(|h| h.len() < MAX_OFFERS_PER_EXPERT)
    }

    /// The expert holds nothing any more (gone, or away); the conversations they held.
    pub fn forget_expert(&self, expert: &str) -> Vec<ConversationId> {
        let mut held = Vec::new();
        for mut t in self.tracks.iter_mut() {
            if t.experts.remove(expert) {
                held.push(t.key().clone());
            }
        }
        self.held.remove(expert);
        held
    }

    /// Count a chat that starts waiting (or waits again) for [`Hub::holder_cap`].
    pub fn note_waiting(&self, merchant: &str, delta: i64) {
        let mut w = self.waiting_est.entry(merchant.to_owned()).or_insert(0);
        *w = (*w + delta).max(0);
    }

    /// Forget this chat's offer and free each holder's slot at once, so the next top-up can
    /// fill it (not only the next full pass, which would hold claims to about one round a
    /// second). The experts who held it.
    pub(super) fn release(&self, conversation: &ConversationId) -> Option<HashSet<String>> {
        let (_, track) = self.tracks.remove(conversation)?;
        if !track.merchant.is_empty() {
            self.note_waiting(&track.merchant, -1);
        }
        for e in &track.experts {
            if let Some(mut h) = self.held.get_mut(e) {
                h.remove(conversation);
            }
        }
        Some(track.experts)
    }

    /// Whether this chat's offers were withdrawn after `row` (read as waiting) was queued.
    pub(super) fn withdrawn_since_read(&self, row: &ConversationRow) -> bool {
        self.withdrawn_at.get(&row.id).is_some_and(|at| *at > row.queued_at)
    }

    pub fn record_claim_time(&self, merchant: &str, seconds: f64) {
        let mut e = self.claim_seconds.entry(merchant.to_owned()).or_insert(seconds);
        *e = *e * 0.8 + seconds * 0.2;
    }

    /// Rough wait: position × recent time-to-claim ÷ experts who could take it.
    pub fn estimate_wait(&self, merchant: &str, position: u32, available: u32) -> u32 {
        let per = self.claim_seconds.get(merchant).map(|v| *v).unwrap_or(30.0);
        ((f64::from(position) * per) / f64::from(available.max(1))).ceil().min(3600.0) as u32
    }
}

/// What a routing pass over many chats keeps between them: per merchant, the local experts
/// who had room for another offer when the pass first looked (they drop out as they fill up).
/// An expert who gets room during the pass is left to the next one, which a withdrawn offer
/// wakes at once.
#[derive(Default)]
pub(super) struct Pass {
    room: HashMap<String, Vec<String>>,
    /// Per merchant, [`Hub::holder_cap`] as the pass first computed it.
    cap: HashMap<String, usize>,
}

impl Hub {
    /// The offer for a conversation, without the per-expert `your_contact` flag.
    async fn base_offer(&self, row: &ConversationRow, reason: &str) -> Offer {
        Offer {
            conversation_id: row.id.clone(),
            store: protocol::NamedRef {
                id: row.store_id.clone(),
                name: row.store_name.clone(),
            },
            department: protocol::NamedRef {
                id: row.department_id.clone(),
                name: row.department_name.clone(),
            },
            shopper: OfferShopper {
                id: row.shopper_id.clone(),
                name: row.shopper_name.clone(),
                returning: row.contact_expert_id.is_some(),
                your_contact: false,
            },
            page_url: row.page_url.clone(),
            product: row.product(),
            first_message: self.db.first_message(&row.id).await.ok().flatten(),
            waiting_since: row.queued_at,
            reason: reason.to_owned(),
            note: row.transfer_note.clone(),
            offline: row.offline != 0,
            journey: super::views::page_visits(
                self.db
                    .page_views(&MerchantId::from_db(row.merchant_id.clone()), &row.shopper_id, 5)
                    .await
                    .unwrap_or_default(),
            ),
        }
    }

    fn offer_to(base: &Offer, row: &ConversationRow, expert: &str) -> Offer {
        let mut o = base.clone();
        o.shopper.your_contact = row.contact_expert_id.as_deref() == Some(expert);
        o
    }

    /// A merchant's local experts who could take another offer now (available, under their
    /// chat cap, holding fewer than [`MAX_OFFERS_PER_EXPERT`]), whatever the store.
    fn with_room(&self, merchant: &str) -> Vec<String> {
        self.roster
            .of_merchant(merchant)
            .into_iter()
            .filter(|e| self.roster.get(e).is_some_and(|p| p.free()) && self.offers.has_room(e))
            .collect()
    }

    /// Which local experts should hold this waiting conversation's offer now (when `wave`,
    /// including those who hold it already): [`plan::targets`] over the experts `pass` still
    /// knows to have room. This runs for every waiting chat on every pass, so it only looks at
    /// who could be one; everyone else is full or gone.
    fn targets(&self, row: &ConversationRow, rules: plan::Rules, wave: bool, pass: &mut Pass) -> Vec<String> {
        if !pass.room.contains_key(&row.merchant_id) {
            pass.room.insert(row.merchant_id.clone(), self.with_room(&row.merchant_id));
        }
        let room = pass.room.get_mut(&row.merchant_id).expect("just filled");
        room.retain(|e| self.offers.has_room(e));
        let cap = *pass
            .cap
            .entry(row.merchant_id.clone())
            .or_insert_with(|| self.holder_cap(&row.merchant_id));
        plan::targets(self, &plan::Chat::from(row), rules, wave, room, cap)
    }

    /// How many of a merchant's experts on this node may hold one waiting chat's offer at once
    /// ([`plan::holder_cap`] of the experts here who could take a chat and the merchant's
    /// waiting chats). A chat's re-offer waves add one each (an expert who lets an offer sit
    /// does not hold the chat alone for long); contact-first and targeted chats have one target
    /// anyway. With several nodes each node caps its own experts (up to nodes × cap holders
    /// cluster-wide), and in a deep surge a chat is left to its home node first
    /// ([`plan::home_elsewhere`]), so the nodes' experts do not all hold the same oldest chats.
    pub fn holder_cap(&self, merchant: &str) -> usize {
        plan::holder_cap(self.roster.free_count(merchant), self.waiting_est(merchant))
    }

    fn waiting_est(&self, merchant: &str) -> i64 {
        self.offers.waiting_est.get(merchant).map_or(0, |w| *w)
    }

    /// Offer a waiting conversation to the experts who should have it and do not yet (or to
    /// all of them again when `wave`).
    pub async fn offer_round(&self, row: &ConversationRow, reason: &str, wave: bool) {
        if !self.offers.tracks.contains_key(&row.id) && !self.offers.withdrawn_since_read(row) {
            // A new chat, or one back in the queue (transfer, unanswered claim).
            self.offers.note_waiting(&row.merchant_id, 1);
        }
        let cap = self.holder_cap(&row.merchant_id);
        if !wave && row.target_expert_id.is_none() && row.contact_expert_id.is_none() && cap == 1 {
            // Under a surge a new chat does not jump the queue: an offer slot that frees up
            // (a lost race, a claim) goes to the oldest chat nobody holds, which the top-up pass
            // finds, not to whichever chat arrives next. Offered on arrival, the chats of a
            // busy second took the slots while older ones waited unoffered (at 3,000 shoppers
            // and 300 experts, chats 601–900 were claimed after chats 1,201–1,800).
            if let Some(h) = self.offer_hook.get() {
                h.waiting(row);
            }
            self.wake.notify_one();
            return;
        }
        let mut pass = Pass::default();
        pass.cap.insert(row.merchant_id.clone(), cap);
        self.offer_round_in(row, reason, wave, &mut pass).await
    }

    /// As [`Hub::offer_round`], as one step of a pass over many chats.
    pub(super) async fn offer_round_in(&self, row: &ConversationRow, reason: &str, wave: bool, pass: &mut Pass) {
        let Some(settings) = self.merchant(&MerchantId::from_db(row.merchant_id.clone())).await else {
            return;
        };
        if self.offers.withdrawn_since_read(row) {
            return;
        }
        if let Some(h) = self.offer_hook.get() {
            h.waiting(row);
        }
        let now = now_ms();
        let rules = plan::Rules {
            contact_first_ms: i64::from(settings.routing.contact_first_s) * 1000,
            now,
        };
        let targets = self.targets(row, rules, wave, pass);
        let fresh: Vec<String> = {
            let mut track = self.offers.tracks.entry(row.id.clone()).or_default();
            if track.merchant.is_empty() {
                track.merchant = row.merchant_id.clone();
            }
            if wave {
                track.waves += 1;
            }
            let mut fresh = Vec::new();
            for e in &targets {
                let holds = track.experts.contains(e);
                if !holds && self.offers.held.get(e).is_some_and(|h| h.len() >= MAX_OFFERS_PER_EXPERT) {
                    continue; // full: this chat reaches them when an offer frees up
                }
                if wave || !holds {
                    fresh.push(e.clone());
                }
                if !holds {
                    track.experts.insert(e.clone());
                    self.offers.held.entry(e.clone()).or_default().insert(row.id.clone());
                }
            }
            if wave || track.last_wave == 0 {
                track.last_wave = now;
            }
            fresh
        };
        if fresh.is_empty() {
            return;
        }
        if row.status == ConversationStatus::Queued {
            self.offers.to_mark.lock().expect("to_mark").push(row.id.clone());
            self.emit(row, "offered", None, None);
        }
        let base = self.base_offer(row, reason).await;
        if self.offers.withdrawn_since_read(row) {
            // Claimed or ended while the offer was being put together: undo, send nothing.
            self.offers.release(&row.id);
            return;
        }
        // One serialisation for everyone but the shopper's contact (their copy says so).
        let common = frame(&Out::Offer { offer: base.clone() });
        if let Some(h) = self.offer_hook.get() {
            let here: Vec<String> = fresh
                .iter()
                .filter(|e| self.roster.get(e.as_str()).is_some_and(|p| !p.conns.is_empty()))
                .cloned()
                .collect();
            h.delivered(row, &here);
        }
        for e in fresh {
            if row.contact_expert_id.as_deref() == Some(e.as_str()) {
                self.send_expert(
                    &e,
                    &Out::Offer {
                        offer: Self::offer_to(&base, row, &e),
                    },
                );
            } else {
                self.send_expert_frame(&e, &common);
            }
        }
    }

    /// Tell every expert holding the offer, on any node, that it is gone (except `except`).
    pub fn withdraw(&self, conversation: &ConversationId, reason: &str, except: Option<&str>) {
        if let Some(h) = self.offer_hook.get() {
            h.withdrawn(conversation, reason, if reason == "claimed" { except } else { None });
        }
        self.tell_nodes(|n| Envelope::Withdraw {
            n,
            conv: conversation.clone(),
            reason: reason.to_owned(),
            except: except.map(str::to_owned),
        });
        self.withdraw_local(conversation, reason, except);
    }

    pub fn withdraw_local(&self, conversation: &ConversationId, reason: &str, except: Option<&str>) {
        self.offers.withdrawn_at.insert(conversation.clone(), now_ms());
        if let Some(holders) = self.offers.release(conversation) {
            let out = frame(&Out::OfferWithdrawn {
                conversation_id: conversation.clone(),
                reason: reason.to_owned(),
            });
            for e in holders.iter().filter(|e| Some(e.as_str()) != except) {
                self.send_expert_frame(e, &out);
            }
            self.wake.notify_one();
        }
        self.offers.queue_sent.remove(conversation);
    }

    /// Offers an expert should see now: waiting chats they are eligible for, oldest first.
    pub async fn backlog(&self, expert: &str) -> Vec<Offer> {
        let Some(p) = self.roster.get(expert).map(|p| p.clone()) else {
            return vec![];
        };
        if !p.available || p.active >= p.cap() {
            return vec![];
        }
        let Some(settings) = self.merchant(&MerchantId::from_db(p.merchant_id.clone())).await else {
            return vec![];
        };
        // The oldest few hundred are plenty to fill MAX_OFFERS_PER_EXPERT.
        let rows = self
            .db
            .waiting_conversations_limit(Some(&MerchantId::from_db(p.merchant_id.clone())), 300)
            .await
            .unwrap_or_default();
        let rules = plan::Rules {
            contact_first_ms: i64::from(settings.routing.contact_first_s) * 1000,
            now: now_ms(),
        };
        let cap = self.holder_cap(&p.merchant_id);
        let mut out = Vec::new();
        for row in rows {
            if plan::backlog_takes(self, &plan::Chat::from(&row), expert, rules, cap) {
                let mut track = self.offers.tracks.entry(row.id.clone()).or_default();
                if track.merchant.is_empty() {
                    track.merchant = row.merchant_id.clone();
                }
                track.experts.insert(expert.to_owned());
                drop(track);
                self.offers.held.entry(expert.to_owned()).or_default().insert(row.id.clone());
                let base = self.base_offer(&row, "new").await;
                out.push(Self::offer_to(&base, &row, expert));
                if let Some(h) = self.offer_hook.get() {
                    h.delivered(&row, &[expert.to_owned()]);
                }
            }
        }
        out
    }

    /// The offer for one conversation as this expert should see it, if it still waits.
    pub async fn offer_for(&self, merchant: &MerchantId, conversation: &ConversationId, expert: &str) -> Option<Offer> {
        let row = self.db.conversation(merchant, conversation).await.ok()?;
        if !row.is_waiting() {
            return None;
        }
        let base = self.base_offer(&row, "new").await;
        Some(Self::offer_to(&base, &row, expert))
    }

    /// A chat waits for an expert: routers on the other nodes run now instead of at their tick.
    pub fn wake_cluster(&self, merchant: &str) {
        self.tell_nodes(|n| Envelope::Wake {
            n,
            merchant: Some(merchant.to_owned()),
        });
    }

    /// Send the backlog to an expert who just freed up.
    pub async fn push_backlog(&self, expert: &str) {
        for offer in self.backlog(expert).await {
            self.send_expert(expert, &Out::Offer { offer });
        }
    }
}

/// The planner reads the node's live state.
impl plan::State for Hub {
    fn eligible(&self, expert: &str, store: &str, department: &str) -> bool {
        self.roster.get(expert).is_some_and(|p| p.eligible(store, department))
    }
    fn offers_held(&self, expert: &str) -> usize {
        self.offers.held_by(expert)
    }
    fn holds(&self, expert: &str, chat: &ConversationId) -> bool {
        self.offers.held.get(expert).is_some_and(|h| h.contains(chat))
    }
    fn holders(&self, chat: &ConversationId) -> (Vec<String>, usize) {
        self.offers
            .tracks
            .get(chat)
            .map_or((Vec::new(), 0), |t| (t.experts.iter().cloned().collect(), t.waves))
    }
    fn active_chats(&self, expert: &str) -> i64 {
        self.roster.get(expert).map_or(0, |p| p.active)
    }
    fn home_elsewhere(&self, chat: &Chat<'_>) -> bool {
        let Some(nodes) = self.nodes.live_nodes(chat.merchant) else {
            return false;
        };
        let able = self.roster.free_count(chat.merchant);
        plan::home_elsewhere(chat.id, &nodes, self.broker.node(), able, self.waiting_est(chat.merchant)).is_some()
    }
}
