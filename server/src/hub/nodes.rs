//! Node-to-node traffic, behind two interfaces so the hub never asks whether there is a
//! cluster: [`Broker`] carries what one node tells the others (stored messages and frames for a
//! conversation's viewers, lifecycle events), [`NodePresence`] answers who is where on the other
//! nodes (experts, shoppers, live nodes). [`Solo`] is the in-memory implementation for a node
//! on its own (nobody to tell, nobody elsewhere); [`super::cluster::Cluster`] is the Redis one.

use futures::future::BoxFuture;

use serde::{Deserialize, Serialize};

use super::Hub;
use crate::ids::{ConversationId, MerchantId};
use crate::protocol::MessageView;

/// What one node tells the others.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
// Envelopes live only between decoding and handling; boxing the message would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Envelope {
    /// A stored message.
    Msg { n: String, merchant: String, m: MessageView },
    /// A frame for everyone viewing the conversation (state, typing, read).
    Frame { n: String, conv: ConversationId, f: String },
    /// The offer of this conversation is gone (claimed, missed, ended…).
    Withdraw {
        n: String,
        conv: ConversationId,
        reason: String,
        except: Option<String>,
    },
    /// A chat is waiting: route now rather than at the next tick. `merchant` (absent from older
    /// nodes) lets the receiver count it for its holder cap until its next full pass.
    Wake {
        n: String,
        #[serde(default)]
        merchant: Option<String>,
    },
    /// Close every socket of this expert (deactivated, signed out everywhere).
    Kick { n: String, expert: String },
    /// The merchant changed this expert (cap, assignments, features): read them again. With
    /// `active` ≠ 0, one of their chats was claimed or ended on another node: count it (and send
    /// them their `status`) where they are connected.
    Expert {
        n: String,
        expert: String,
        #[serde(default)]
        active: i64,
    },
    /// The merchant's rollups changed: live dashboards should refetch.
    Rolled { n: String, merchant: String },
    /// The merchant's settings or stores changed: drop what was cached of them.
    Forget { n: String, merchant: String },
    /// A credential ended: close the sockets it opened (see `revoke.rs`).
    Revoke { n: String, key: String },
    /// A video call frame for every socket of one participant (`to`: `s:<shopper>` or
    /// `e:<expert>`), on the conversation's channel.
    Signal { n: String, to: String, f: String },
}

impl Envelope {
    pub fn node(&self) -> &str {
        match self {
            Envelope::Msg { n, .. }
            | Envelope::Frame { n, .. }
            | Envelope::Withdraw { n, .. }
            | Envelope::Wake { n, .. }
            | Envelope::Kick { n, .. }
            | Envelope::Expert { n, .. }
            | Envelope::Rolled { n, .. }
            | Envelope::Forget { n, .. }
            | Envelope::Revoke { n, .. }
            | Envelope::Signal { n, .. } => n,
        }
    }
}

/// One expert as another node reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExpertSnap {
    pub id: String,
    pub available: bool,
    /// Below their chat cap.
    pub free: bool,
    pub stores: Vec<String>,
    pub departments: Vec<String>,
    /// One of their sockets there was heard from lately (not a frozen, locked phone): offers
    /// reach them over it, so no node alerts them by push as well.
    #[serde(default = "yes")]
    pub heard: bool,
}

fn yes() -> bool {
    true
}

/// What one node tells the others ([`Envelope`]). Envelopes carry the sending node's name, handed to `make`
/// (which [`Solo`] never calls: a lone node builds no envelope at all).
pub trait Broker: Send + Sync {
    /// This node's name.
    fn node(&self) -> &str;
    /// To the other nodes' sockets viewing `conversation`.
    fn to_viewers(&self, conversation: &ConversationId, make: &mut dyn FnMut(String) -> Envelope);
    /// To every other node.
    fn to_nodes(&self, make: &mut dyn FnMut(String) -> Envelope);
    /// The first socket on this node started viewing `conversation`: hear the others' traffic
    /// for it.
    fn follow(&self, conversation: &ConversationId);
    /// The last socket on this node stopped viewing it.
    fn unfollow(&self, conversation: &ConversationId);
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
    fn to_viewers(&self, _conversation: &ConversationId, _make: &mut dyn FnMut(String) -> Envelope) {}
    fn to_nodes(&self, _make: &mut dyn FnMut(String) -> Envelope) {}
    fn follow(&self, _conversation: &ConversationId) {}
    fn unfollow(&self, _conversation: &ConversationId) {}
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
            tokio::spawn(async move { hub.reach().shopper_left(&hub, &m, &s).await });
        }
    }
    fn shopper_elsewhere<'a>(&'a self, _m: &'a MerchantId, _shopper: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async { false })
    }
}
