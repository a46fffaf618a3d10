//! Node-to-node traffic, behind two interfaces so the hub never asks whether there is a
//! cluster: [`Broker`] carries what one node tells the others (stored messages and frames for a
//! conversation's viewers, lifecycle events), [`NodePresence`] answers who is where on the other
//! nodes (experts, shoppers, live nodes). [`Solo`] is the in-memory implementation for a node
//! on its own (nobody to tell, nobody elsewhere); [`super::cluster::Cluster`] is the Redis one.

use futures::future::BoxFuture;

use super::cluster::{Envelope, ExpertSnap};
use super::Hub;
use crate::ids::MerchantId;

/// What one node tells the others. Envelopes carry the sending node's name, handed to `make`
/// (which [`Solo`] never calls: a lone node builds no envelope at all).
pub trait Broker: Send + Sync {
    /// This node's name.
    fn node(&self) -> &str;
    /// To the other nodes' sockets viewing `conversation`.
    fn to_viewers(&self, conversation: &str, make: &mut dyn FnMut(String) -> Envelope);
    /// To every other node.
    fn to_nodes(&self, make: &mut dyn FnMut(String) -> Envelope);
    /// The first socket on this node started viewing `conversation`: hear the others' traffic
    /// for it.
    fn follow(&self, conversation: &str);
    /// The last socket on this node stopped viewing it.
    fn unfollow(&self, conversation: &str);
}

/// Who is where on the other nodes.
pub trait NodePresence: Send + Sync {
    /// Visit the merchant's experts connected to other nodes (as of their last report, at most
    /// a second or two old).
    fn remote_experts(&self, merchant: &str, f: &mut dyn FnMut(&ExpertSnap));
    /// The live nodes with experts of this merchant (this one included), sorted, when there
    /// are more than one.
    fn live_nodes(&self, merchant: &str) -> Option<Vec<String>>;
    /// Whether another node has a lately heard socket of this expert.
    fn expert_heard_elsewhere(&self, merchant: &str, expert: &str) -> bool;
    /// A shopper's socket said hello here: be counted as one of the nodes they are on.
    fn shopper_arrived<'a>(&'a self, m: &'a MerchantId, shopper: &'a str) -> BoxFuture<'a, ()>;
    /// A shopper's last socket on this node closed (`had_chats`: it followed conversations).
    /// When no node has one left, their chats are away.
    fn shopper_left_here(&self, hub: &Hub, m: &MerchantId, shopper: &str, had_chats: bool);
    /// Whether another live node has a socket of this shopper.
    fn shopper_elsewhere<'a>(&'a self, m: &'a MerchantId, shopper: &'a str) -> BoxFuture<'a, bool>;
}

/// A node on its own (no `REDIS_URL`): nothing to tell, nobody elsewhere.
pub struct Solo {
    node: String,
}

impl Solo {
    pub fn new() -> Solo {
        Solo {
            node: uuid::Uuid::new_v4().simple().to_string(),
        }
    }
}

impl Default for Solo {
    fn default() -> Self {
        Solo::new()
    }
}

impl Broker for Solo {
    fn node(&self) -> &str {
        &self.node
    }
    fn to_viewers(&self, _conversation: &str, _make: &mut dyn FnMut(String) -> Envelope) {}
    fn to_nodes(&self, _make: &mut dyn FnMut(String) -> Envelope) {}
    fn follow(&self, _conversation: &str) {}
    fn unfollow(&self, _conversation: &str) {}
}

impl NodePresence for Solo {
    fn remote_experts(&self, _merchant: &str, _f: &mut dyn FnMut(&ExpertSnap)) {}
    fn live_nodes(&self, _merchant: &str) -> Option<Vec<String>> {
        None
    }
    fn expert_heard_elsewhere(&self, _merchant: &str, _expert: &str) -> bool {
        false
    }
    fn shopper_arrived<'a>(&'a self, _m: &'a MerchantId, _shopper: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    fn shopper_left_here(&self, hub: &Hub, m: &MerchantId, shopper: &str, had_chats: bool) {
        if had_chats {
            let (hub, m, s) = (hub.clone(), m.clone(), shopper.to_owned());
            tokio::spawn(async move { crate::outbound::hooks::shopper_left(&hub, &m, &s).await });
        }
    }
    fn shopper_elsewhere<'a>(&'a self, _m: &'a MerchantId, _shopper: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async { false })
    }
}
