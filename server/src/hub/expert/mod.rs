//! The expert side: hello with the store-app token, availability, claiming, sending,
//! transferring, ending, history, contacts and saved replies.

use crate::ids::ConversationId;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::replies::{check_body, check_client_id, conversation_missing, end_conversation, parse_frame, sync};
use super::revoke::Cred;
use super::Step;
use super::{Hub, Presence};
use crate::auth;
use crate::domain::team::{ExpertFeatures, ExpertStatus};
use crate::ids::{DepartmentId, ExpertId, MerchantId};
use crate::protocol::{
    self, CloseCode, ContactView, ErrorCode, ExpertIn, ExpertView, HistoryEntry, NamedRef, Out, SavedReplyView, StoreChoice,
    PROTOCOL_VERSION,
};
use crate::storage::ConversationStatus;
use crate::storage::{Claim, ConversationRow, NewMessage, Sender};

mod chats;
mod lookups;
mod messages;
mod signin;

/// What the expert chose in the app, kept across reconnects (experts.presence_json).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SavedPresence {
    pub available: Option<bool>,
    pub own_cap: Option<i64>,
    pub store_ids: Vec<String>,
    pub department_ids: Vec<String>,
}

pub struct Me {
    pub id: String,
    pub name: String,
    pub features: ExpertFeatures,
}

pub struct ExpertSession {
    pub merchant: Option<MerchantId>,
    pub expert: Option<Me>,
    pub convs: BTreeSet<ConversationId>,
}

impl Default for ExpertSession {
    fn default() -> Self {
        Self::new()
    }
}

impl ExpertSession {
    pub fn new() -> Self {
        ExpertSession {
            merchant: None,
            expert: None,
            convs: BTreeSet::new(),
        }
    }

    pub fn finish(&mut self, hub: &Hub, conn: u64) {
        if let Some(me) = &self.expert {
            hub.remove_presence_conn(&me.id, conn);
        }
    }

    fn follow(&mut self, hub: &Hub, conn: u64, conversation: &ConversationId) {
        if self.convs.insert(conversation.to_owned()) {
            hub.subscribe(conn, conversation);
        }
    }

    /// A conversation this expert holds, or an error frame.
    async fn mine(&self, hub: &Hub, conn: u64, m: &MerchantId, me: &str, id: &ConversationId) -> Option<ConversationRow> {
        match hub.db.conversation(m, id).await {
            Ok(row) if row.expert_id.as_deref() == Some(me) => Some(row),
            // Not theirs (a colleague's, a waiting one, another merchant's, none at all): one
            // answer for all, so an id's existence cannot be probed.
            Ok(_) | Err(crate::storage::StorageError::NotFound) => {
                conversation_missing(hub, conn, id, false, "no such conversation of yours");
                None
            }
            Err(_) => {
                conversation_missing(hub, conn, id, true, "");
                None
            }
        }
    }

    pub async fn handle(&mut self, hub: &Hub, conn: u64, text: &str) -> Step {
        // Photos and video calls (issue 24), read before the typed frames.
        if let (Some(me), Some(m)) = (&self.expert, &self.merchant) {
            if super::calls::is_call_frame(text) {
                return super::calls::handle(hub, conn, m, super::calls::Party::Expert(me.id.clone()), text).await;
            }
            if super::media_chat::is_attachment_send(text) {
                let sender = Sender::Expert {
                    id: me.id.clone(),
                    name: me.name.clone(),
                };
                return super::media_chat::send(hub, conn, m.as_str(), sender, text).await.0;
            }
        }
        let Some(frame) = parse_frame::<ExpertIn>(hub, conn, text) else {
            return Step::Malformed;
        };
        let (m, me_id) = match (&frame, &self.expert, &self.merchant) {
            (ExpertIn::Hello { token }, None, _) => return self.hello(hub, conn, token).await,
            (ExpertIn::Ping, _, _) => {
                hub.send_out(conn, &Out::Pong);
                return Step::Continue;
            }
            (_, Some(me), Some(m)) => (m.clone(), me.id.clone()),
            (ExpertIn::Hello { .. }, Some(_), _) => {
                hub.send_out(conn, &Out::error(ErrorCode::BadRequest, "hello was already said", None));
                return Step::Continue;
            }
            _ => {
                hub.send_out(conn, &Out::error(ErrorCode::BadRequest, "say hello first", None));
                return Step::Close(CloseCode::ProtocolError);
            }
        };
        match frame {
            ExpertIn::SetStatus {
                available,
                max_chats,
                store_ids,
                department_ids,
            } => {
                self.set_status(hub, conn, &m, &me_id, available, max_chats, store_ids, department_ids)
                    .await
            }
            ExpertIn::Claim { conversation_id } => self.claim(hub, conn, &m, &me_id, &conversation_id).await,
            ExpertIn::Send {
                conversation_id,
                client_msg_id,
                body,
                product,
            } => self.send(hub, conn, conversation_id, client_msg_id, body, product).await,
            ExpertIn::Typing { conversation_id, typing } => self.typing(hub, conn, conversation_id, typing),
            ExpertIn::Read { conversation_id, seq } => self.read(hub, conn, &m, &me_id, conversation_id, seq).await,
            ExpertIn::Sync {
                conversation_id,
                after_seq,
            } => self.sync_one(hub, conn, &m, &me_id, conversation_id, after_seq).await,
            ExpertIn::Transfer {
                conversation_id,
                department_id,
                expert_id,
                note,
            } => {
                self.transfer(hub, conn, &m, &me_id, &conversation_id, department_id, expert_id, note)
                    .await
            }
            ExpertIn::End { conversation_id } => {
                if let Some(row) = self.mine(hub, conn, &m, &me_id, &conversation_id).await {
                    end_conversation(hub, conn, &m, &row, "expert").await;
                }
                Step::Continue
            }
            ExpertIn::History { shopper_id } => self.history(hub, conn, &m, &me_id, shopper_id).await,
            ExpertIn::Contacts { q } => self.contacts(hub, conn, &m, &me_id, q).await,
            ExpertIn::SavedReplies { q } => self.saved_replies(hub, conn, &m, q).await,
            ExpertIn::Hello { .. } | ExpertIn::Ping => Step::Continue,
        }
    }
}

impl Hub {
    /// Close every socket of an expert (deactivated, or password changed), on every node.
    pub fn kick_expert(&self, expert: &str) {
        self.tell_nodes(|n| super::nodes::Envelope::Kick {
            n,
            expert: expert.to_owned(),
        });
        self.kick_local(expert);
        // And a socket that is still saying hello.
        self.revoke(Cred::Expert(expert));
    }

    /// The merchant edited an expert (chat cap, stores and departments, feature switches): every
    /// node where they are connected reads them again and sends them their new `status`.
    pub async fn refresh_expert(&self, expert: &str) {
        self.tell_nodes(|n| super::nodes::Envelope::Expert {
            n,
            expert: expert.to_owned(),
            active: 0,
        });
        self.refresh_expert_local(expert).await;
    }

    pub async fn refresh_expert_local(&self, expert: &str) {
        let Some(m) = self.roster.get(expert).map(|p| MerchantId::from_db(p.merchant_id.clone())) else {
            return;
        };
        let Some(id) = ExpertId::parse(expert) else { return };
        let Ok(e) = self.db.get_expert(&m, &id).await else { return };
        let status = self.roster.get_mut(expert).map(|mut p| {
            p.merchant_cap = e.max_chats;
            p.contacts_on = e.features.contacts;
            p.assigned_stores = e.store_ids.iter().map(|s| s.to_string()).collect();
            p.assigned_departments = e.department_ids.iter().map(|d| d.to_string()).collect();
            // Working subsets keep only what is still assigned (empty = all assigned).
            let (stores, deps) = (p.assigned_stores.clone(), p.assigned_departments.clone());
            p.working_stores.retain(|s| stores.contains(s));
            p.working_departments.retain(|d| deps.contains(d));
            p.status()
        });
        if let Some(s) = status {
            self.send_expert(expert, &Out::Status(s));
            self.wake.notify_one();
        }
    }

    pub fn kick_local(&self, expert: &str) {
        let conns = self.roster.get(expert).map(|p| p.conns.clone()).unwrap_or_default();
        for c in conns {
            if let Some(conn) = self.conns.get(c) {
                conn.close(CloseCode::Unauthorized);
            }
        }
    }
}
