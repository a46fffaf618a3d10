//! What the hub does with node-to-node traffic: envelopes from other nodes, catching its
//! sockets up from the database, and the shopper-presence questions it asks.

use super::*;
use crate::ids::ConversationId;

impl Hub {
    /// A shopper's socket said hello here (after `add_shopper_conn`, before the welcome).
    pub async fn shopper_arrived(&self, m: &MerchantId, shopper: &str) {
        self.nodes.shopper_arrived(m, shopper).await;
    }

    /// A shopper's socket closed here (after `remove_shopper_conn`). `had_chats`: it followed
    /// conversations. When it was their last socket on every node, their chats are away.
    pub fn shopper_departed(&self, m: &MerchantId, shopper: &str, had_chats: bool) {
        if self.shopper_conn_ids(shopper).is_empty() {
            self.nodes.shopper_left_here(self, m, shopper, had_chats);
        }
    }

    /// Whether the shopper has a socket on this node or on another live node.
    pub async fn shopper_connected_anywhere(&self, m: &MerchantId, shopper: &str) -> bool {
        !self.shopper_conn_ids(shopper).is_empty() || self.nodes.shopper_elsewhere(m, shopper).await
    }

    /// Tell every other node (nobody on a lone node): `envelope` gets this node's name.
    pub fn tell_nodes(&self, envelope: impl FnOnce(String) -> Envelope) {
        let mut once = Some(envelope);
        self.broker.to_nodes(&mut |n| (once.take().expect("called once"))(n));
    }

    /// Conversations with a socket on this node.
    pub fn local_conversations(&self) -> Vec<ConversationId> {
        self.conns.viewed_conversations()
    }

    /// This node's experts, per merchant, for the other nodes.
    pub(super) fn local_snapshot(&self) -> HashMap<String, Vec<ExpertSnap>> {
        let mut out: HashMap<String, Vec<ExpertSnap>> = HashMap::new();
        for p in self.roster.iter() {
            if p.conns.is_empty() {
                continue;
            }
            out.entry(p.merchant_id.clone()).or_default().push(ExpertSnap {
                id: p.key().clone(),
                available: p.available,
                free: p.active < p.cap(),
                stores: p.stores().to_vec(),
                departments: p.departments().to_vec(),
                heard: self.expert_heard_within(p.key(), super::super::SILENT_AFTER_MS),
            });
        }
        out
    }

    /// Whether another node has a live (lately heard) socket of this expert.
    pub fn expert_heard_elsewhere(&self, merchant: &str, expert: &str) -> bool {
        self.nodes.expert_heard_elsewhere(merchant, expert)
    }

    pub(super) fn known_merchants(&self) -> HashSet<String> {
        self.cache.known_merchants().into_iter().collect()
    }

    /// Something another node published.
    pub async fn on_cluster(&self, e: Envelope) {
        if e.node() == self.broker.node() {
            return;
        }
        match e {
            Envelope::Msg { merchant, m, .. } => self.deliver_in_order(&merchant, m, None).await,
            Envelope::Frame { conv, f, .. } => self.conns.send_viewers(&conv, &f.into(), None),
            Envelope::Withdraw { conv, reason, except, .. } => self.withdraw_local(&conv, &reason, except.as_deref()),
            Envelope::Wake { merchant, .. } => {
                if let Some(m) = merchant {
                    self.offers.note_waiting(&m, 1);
                }
                self.wake.notify_one()
            }
            Envelope::Kick { expert, .. } => self.kick_local(&expert),
            Envelope::Expert { expert, active: 0, .. } => self.refresh_expert_local(&expert).await,
            Envelope::Expert { expert, active, .. } => {
                self.change_active(&expert, active);
                self.wake.notify_one();
            }
            Envelope::Forget { merchant, .. } => self.forget_merchant_local(&merchant),
            Envelope::Revoke { key, .. } => self.revoke_local(&key),
            Envelope::Signal { to, f, .. } => crate::hub::calls::deliver_local(self, &to, &f),
            Envelope::Rolled { merchant, .. } => {
                let _ = self.analytics.rolled.send(Arc::from(merchant.as_str()));
            }
        }
    }

    /// Compare what this node delivered with the database and send what is missing (after a
    /// Redis outage, or a publish that never arrived).
    pub async fn catch_up(&self) {
        let tracked: Vec<(ConversationId, i64)> = self.conns.all_delivered().into_iter().map(|(c, _, seq)| (c, seq)).collect();
        for chunk in tracked.chunks(500) {
            let ids: Vec<ConversationId> = chunk.iter().map(|c| c.0.clone()).collect();
            let Ok(latest) = self.db.last_seqs(&ids).await else { return };
            for (id, merchant, last) in latest {
                let mine = chunk.iter().find(|c| c.0 == id).map(|c| c.1).unwrap_or(last);
                if last > mine {
                    self.fill_gap(&merchant, &id, mine, last + 1).await;
                }
            }
        }
    }
}
