//! The sockets connected to this node: each one's outgoing queue, who views which
//! conversation, each shopper's sockets, and the last seq delivered here per conversation.

use crate::ids::ConversationId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;

use super::nodes::Envelope;
use super::outbox::{self, Outbox};
use super::{frame, Hub};
use crate::ids::MerchantId;
use crate::now_ms;
use crate::protocol::{self, CloseCode, Out};

#[derive(Default)]
pub struct Connections {
    conns: DashMap<u64, Arc<Outbox>>,
    /// conversation → the sockets here viewing it.
    viewers: DashMap<ConversationId, Vec<u64>>,
    /// shopper → their sockets here.
    shoppers: DashMap<String, Vec<u64>>,
    /// Per conversation viewed here: its merchant and the last seq delivered here.
    delivered: DashMap<ConversationId, (String, i64)>,
    next: AtomicU64,
}

impl Connections {
    pub fn new() -> Connections {
        Connections {
            next: AtomicU64::new(1),
            ..Default::default()
        }
    }

    /// A fresh connection id (also for sockets that never register).
    pub fn next_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    pub fn register(&self, outbox: Arc<Outbox>) -> u64 {
        let id = self.next_id();
        self.conns.insert(id, outbox);
        metrics::gauge!("floorwalker_sockets").increment(1.0);
        id
    }

    pub fn remove(&self, id: u64) {
        if self.conns.remove(&id).is_some() {
            metrics::gauge!("floorwalker_sockets").decrement(1.0);
        }
    }

    pub fn get(&self, id: u64) -> Option<Arc<Outbox>> {
        self.conns.get(&id).map(|o| o.clone())
    }

    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// When this socket was last heard from (a frame or a pong), if it is connected.
    pub fn heard_at(&self, id: u64) -> Option<i64> {
        self.conns.get(&id).map(|o| o.heard_at())
    }

    /// Queue a frame for one socket. A full queue means the client does not keep up: it is
    /// closed (4009) and resumes from the database when it reconnects.
    pub fn send(&self, id: u64, frame: &Utf8Bytes) {
        if let Some(c) = self.conns.get(&id) {
            if let Err(outbox::Refused::Full) = c.push(frame.clone()) {
                metrics::counter!("floorwalker_slow_consumers_total").increment(1);
                c.close(CloseCode::SlowConsumer);
            }
        }
    }

    /// Queue a frame for every socket here viewing a conversation (except `except`).
    pub fn send_viewers(&self, conversation: &ConversationId, f: &Utf8Bytes, except: Option<u64>) {
        for c in self.viewers_of(conversation) {
            if Some(c) != except {
                self.send(c, f);
            }
        }
    }

    /// Start viewing. `first` runs when it is the first socket here to view this conversation,
    /// before the socket is added (under the entry's lock, so it is ordered with the others).
    pub fn view(&self, conn: u64, conversation: &ConversationId, first: impl FnOnce()) {
        let mut e = self.viewers.entry(conversation.to_owned()).or_default();
        if e.is_empty() {
            first();
        }
        if !e.contains(&conn) {
            e.push(conn);
        }
    }

    /// Stop viewing; true when it was the last socket here to view this conversation (what
    /// was delivered of it here is forgotten).
    pub fn unview(&self, conn: u64, conversation: &ConversationId) -> bool {
        let empty = match self.viewers.get_mut(conversation) {
            Some(mut v) => {
                v.retain(|c| *c != conn);
                v.is_empty()
            }
            None => false,
        };
        if empty && self.viewers.remove_if(conversation, |_, v| v.is_empty()).is_some() {
            self.delivered.remove(conversation);
            return true;
        }
        false
    }

    pub fn viewers_of(&self, conversation: &ConversationId) -> Vec<u64> {
        self.viewers.get(conversation).map(|v| v.clone()).unwrap_or_default()
    }

    pub fn viewed(&self, conversation: &ConversationId) -> bool {
        self.viewers.contains_key(conversation)
    }

    pub fn views(&self, conn: u64, conversation: &ConversationId) -> bool {
        self.viewers.get(conversation).is_some_and(|c| c.contains(&conn))
    }

    /// Conversations with a socket here.
    pub fn viewed_conversations(&self) -> Vec<ConversationId> {
        self.viewers.iter().map(|e| e.key().clone()).collect()
    }

    pub fn add_shopper(&self, shopper: &str, conn: u64) {
        self.shoppers.entry(shopper.to_owned()).or_default().push(conn);
    }

    pub fn remove_shopper(&self, shopper: &str, conn: u64) {
        if let Some(mut v) = self.shoppers.get_mut(shopper) {
            v.retain(|c| *c != conn);
        }
        self.shoppers.remove_if(shopper, |_, v| v.is_empty());
    }

    pub fn shopper_ids(&self, shopper: &str) -> Vec<u64> {
        self.shoppers.get(shopper).map(|v| v.clone()).unwrap_or_default()
    }

    /// The last seq delivered here of a conversation.
    pub fn delivered(&self, conversation: &ConversationId) -> Option<i64> {
        self.delivered.get(conversation).map(|v| v.1)
    }

    pub fn set_delivered(&self, conversation: &ConversationId, merchant: &str, seq: i64) {
        self.delivered.insert(conversation.to_owned(), (merchant.to_owned(), seq));
    }

    /// (conversation, merchant, last seq delivered here) for every conversation delivered to.
    pub fn all_delivered(&self) -> Vec<(ConversationId, String, i64)> {
        self.delivered
            .iter()
            .map(|e| (e.key().clone(), e.value().0.clone(), e.value().1))
            .collect()
    }
}

impl Hub {
    pub fn register(&self, outbox: Arc<Outbox>) -> u64 {
        self.conns.register(outbox)
    }

    pub fn unregister(&self, id: u64, convs: &[ConversationId]) {
        self.conns.remove(id);
        self.unwatch(id);
        for c in convs {
            self.unsubscribe(id, c);
        }
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Queue a frame for one socket (see [`Connections::send`]).
    pub fn send_conn(&self, id: u64, frame: &Utf8Bytes) {
        self.conns.send(id, frame);
    }

    pub fn send_out(&self, id: u64, out: &Out) {
        self.conns.send(id, &frame(out));
    }

    pub fn subscribe(&self, conn: u64, conversation: &ConversationId) {
        self.conns.view(conn, conversation, || self.broker.follow(conversation));
    }

    pub fn unsubscribe(&self, conn: u64, conversation: &ConversationId) {
        if self.conns.unview(conn, conversation) {
            self.broker.unfollow(conversation);
        }
    }

    /// Send to every socket viewing a conversation, on this node (except `except`) and on the
    /// others.
    pub fn send_conversation(&self, conversation: &ConversationId, out: &Out, except: Option<u64>) {
        let f = frame(out);
        self.broker.to_viewers(conversation, &mut |n| Envelope::Frame {
            n,
            conv: conversation.to_owned(),
            f: f.as_str().to_owned(),
        });
        self.conns.send_viewers(conversation, &f, except);
    }

    /// Send to the sockets on this node only (what every node computes for itself).
    pub fn send_conversation_local(&self, conversation: &ConversationId, out: &Out) {
        self.conns.send_viewers(conversation, &frame(out), None);
    }

    pub fn add_shopper_conn(&self, shopper: &str, conn: u64) {
        self.conns.add_shopper(shopper, conn);
    }

    pub fn remove_shopper_conn(&self, shopper: &str, conn: u64) {
        self.conns.remove_shopper(shopper, conn);
    }

    pub fn shopper_conn_ids(&self, shopper: &str) -> Vec<u64> {
        self.conns.shopper_ids(shopper)
    }

    pub fn send_expert(&self, expert: &str, out: &Out) {
        self.send_expert_frame(expert, &frame(out));
    }

    /// As `send_expert`, for a frame serialised once and sent to many experts.
    pub fn send_expert_frame(&self, expert: &str, f: &Utf8Bytes) {
        for c in self.roster.conns(expert) {
            self.conns.send(c, f);
        }
    }

    /// Called by the writer, in sequence order, for each stored message: tell the other nodes,
    /// then deliver here.
    pub async fn deliver_message(&self, merchant: &str, m: protocol::MessageView, from_conn: Option<u64>) {
        self.broker.to_viewers(&m.conversation_id, &mut |n| Envelope::Msg {
            n,
            merchant: merchant.to_owned(),
            m: m.clone(),
        });
        self.deliver_in_order(merchant, m, from_conn).await;
    }

    /// Deliver to this node's viewers exactly once and in seq order: a repeat is dropped, a gap
    /// is filled from the database first (messages stored by another node arrive over Redis and
    /// may overtake each other).
    pub async fn deliver_in_order(&self, merchant: &str, m: protocol::MessageView, from_conn: Option<u64>) {
        if !self.conns.viewed(&m.conversation_id) {
            return;
        }
        match self.conns.delivered(&m.conversation_id) {
            Some(l) if m.seq <= l => return,
            Some(l) if m.seq > l + 1 => self.fill_gap(merchant, &m.conversation_id, l, m.seq).await,
            _ => {}
        }
        // The gap filling may have delivered this one already.
        if self.conns.delivered(&m.conversation_id).is_some_and(|d| d >= m.seq) {
            return;
        }
        let (conversation, seq) = (m.conversation_id.clone(), m.seq);
        self.deliver_local(m, from_conn);
        self.conns.set_delivered(&conversation, merchant, seq);
    }

    /// Deliver the stored messages after `after` and before `before` from the database.
    pub async fn fill_gap(&self, merchant: &str, conversation: &ConversationId, after: i64, before: i64) {
        let m = MerchantId::from_db(merchant.to_owned());
        let Ok(missing) = self
            .db
            .messages_after(&m, conversation, after, (before - after - 1).clamp(1, 500))
            .await
        else {
            return;
        };
        for msg in missing.into_iter().filter(|x| x.seq < before) {
            if self.conns.delivered(conversation).is_some_and(|d| d >= msg.seq) {
                continue;
            }
            let seq = msg.seq;
            self.deliver_local(msg.view(), None);
            self.conns.set_delivered(conversation, merchant, seq);
        }
    }

    /// Queue the message for this node's viewers of its conversation but the sender's socket.
    /// Only the author's own sockets see its `client_msg_id`; each of the two frames is
    /// serialised only if some socket gets it (usually one: the other party's).
    fn deliver_local(&self, mut m: protocol::MessageView, from_conn: Option<u64>) {
        let author_conns: Vec<u64> = match (m.author.role.as_str(), m.author.expert_id.as_deref()) {
            ("expert", Some(e)) => self.roster.conns(e),
            _ => Vec::new(),
        };
        let to: Vec<(u64, bool)> = self
            .conns
            .viewers_of(&m.conversation_id)
            .into_iter()
            .filter(|c| Some(*c) != from_conn)
            .map(|c| (c, author_conns.contains(&c)))
            .collect();
        let own_f = to.iter().any(|(_, own)| *own).then(|| frame(&Out::Message { message: m.clone() }));
        let others_f = to.iter().any(|(_, own)| !*own).then(|| {
            m.client_msg_id = None;
            frame(&Out::Message { message: m })
        });
        for (c, own) in to {
            if let Some(f) = if own { &own_f } else { &others_f } {
                self.conns.send(c, f);
            }
        }
    }

    /// Whether a read receipt for `seq` can be taken without reading the conversation: the
    /// socket follows the conversation (its session verified it is theirs when it did) and the
    /// receipt is for a message this node has delivered. Otherwise the caller checks the
    /// database (a socket that stopped following — transfer, unanswered claim — falls there).
    pub fn receipt_in_hand(&self, conn: u64, conversation: &ConversationId, seq: i64) -> bool {
        self.conns.views(conn, conversation) && seq >= 0 && self.conns.delivered(conversation).is_some_and(|d| seq <= d)
    }

    /// Whether one of this expert's sockets on this node was heard from within `ms` (a frame
    /// or a pong): a phone that locks freezes its socket without closing it.
    pub fn expert_heard_within(&self, expert: &str, ms: i64) -> bool {
        let now = now_ms();
        self.roster
            .conns(expert)
            .iter()
            .any(|c| self.conns.heard_at(*c).is_some_and(|at| now - at <= ms))
    }
}
