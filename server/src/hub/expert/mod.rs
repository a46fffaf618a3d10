//! The expert side: hello with the store-app token, availability, claiming, sending,
//! transferring, ending, history, contacts and saved replies.

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
    pub convs: BTreeSet<String>,
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

    fn follow(&mut self, hub: &Hub, conn: u64, conversation: &str) {
        if self.convs.insert(conversation.to_owned()) {
            hub.subscribe(conn, conversation);
        }
    }

    /// A conversation this expert holds, or an error frame.
    async fn mine(&self, hub: &Hub, conn: u64, m: &MerchantId, me: &str, id: &str) -> Option<ConversationRow> {
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
            } => {
                if !check_client_id(&client_msg_id) {
                    hub.send_out(
                        conn,
                        &Out::error(ErrorCode::BadRequest, "client_msg_id must be 1–64 printable characters", None),
                    );
                    return Step::Continue;
                }
                let me = self.expert.as_ref().expect("greeted");
                let (kind, body, data) = match product {
                    Some(p) => {
                        if !me.features.product_sharing {
                            hub.send_out(
                                conn,
                                &Out::error(ErrorCode::Forbidden, "product sharing is off for you", Some(client_msg_id)),
                            );
                            return Step::Continue;
                        }
                        if let Err(e) = p.validate() {
                            hub.send_out(conn, &Out::error(ErrorCode::BadRequest, e, Some(client_msg_id)));
                            return Step::Continue;
                        }
                        let body = if body.trim().is_empty() { p.name.clone() } else { body };
                        ("product", body, Some(serde_json::to_string(&p).expect("product")))
                    }
                    None => ("text", body, None),
                };
                if let Err((code, msg)) = check_body(&body) {
                    hub.send_out(conn, &Out::error(code, msg, Some(client_msg_id)));
                    return Step::Continue;
                }
                let msg = NewMessage {
                    merchant_id: m.to_string(),
                    conversation_id: conversation_id.clone(),
                    client_msg_id: Some(client_msg_id.clone()),
                    sender: Sender::Expert {
                        id: me_id.clone(),
                        name: me.name.clone(),
                    },
                    kind,
                    body,
                    data_json: data,
                };
                hub.store_then_answer(msg, conn).await;
                Step::Continue
            }
            ExpertIn::Typing { conversation_id, typing } => {
                if self.convs.contains(&conversation_id) {
                    hub.send_conversation(
                        &conversation_id,
                        &Out::Typing {
                            conversation_id: conversation_id.clone(),
                            role: "expert".into(),
                            typing,
                        },
                        Some(conn),
                    );
                }
                Step::Continue
            }
            ExpertIn::Read { conversation_id, seq } => {
                let seq = if self.convs.contains(&conversation_id) && hub.receipt_in_hand(conn, &conversation_id, seq) {
                    Some(seq)
                } else {
                    self.mine(hub, conn, &m, &me_id, &conversation_id)
                        .await
                        .map(|row| seq.clamp(0, row.last_seq))
                };
                if let Some(seq) = seq {
                    hub.note_read(m.as_str(), &conversation_id, "expert", seq);
                    hub.send_conversation(
                        &conversation_id,
                        &Out::Read {
                            conversation_id: conversation_id.clone(),
                            role: "expert".into(),
                            seq,
                        },
                        Some(conn),
                    );
                }
                Step::Continue
            }
            ExpertIn::Sync {
                conversation_id,
                after_seq,
            } => {
                // Your chats, or (with Contacts) ended chats of yours, for the transcript.
                match hub.db.conversation(&m, &conversation_id).await {
                    Ok(row) if row.expert_id.as_deref() == Some(me_id.as_str()) => {
                        if row.status == ConversationStatus::Claimed {
                            self.follow(hub, conn, &row.id);
                        }
                        sync(hub, conn, &m, &row, after_seq).await;
                    }
                    _ => hub.send_out(
                        conn,
                        &Out::error(ErrorCode::NotFound, "no such conversation of yours", Some(conversation_id)),
                    ),
                }
                Step::Continue
            }
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
            ExpertIn::History { shopper_id } => {
                if !self.expert.as_ref().expect("greeted").features.contacts {
                    hub.send_out(conn, &Out::error(ErrorCode::Forbidden, "Contacts is off for you", None));
                    return Step::Continue;
                }
                let rows = hub.db.shopper_history(&m, &shopper_id, 20).await.unwrap_or_default();
                let served = rows.iter().any(|r| r.expert_id.as_deref() == Some(me_id.as_str()));
                if !served && !hub.db.is_contact(&m, &me_id, &shopper_id).await.unwrap_or(false) {
                    hub.send_out(conn, &Out::error(ErrorCode::NotFound, "this shopper is not your contact", None));
                    return Step::Continue;
                }
                let mut conversations = Vec::new();
                // One frame: the newest conversations first get the room; an older one's long
                // transcript may be cut short (its full transcript comes with `sync`).
                let mut room = protocol::MAX_PAGE_BYTES;
                for r in rows {
                    let mut messages = hub.db.messages_after(&m, &r.id, 0, 200).await.unwrap_or_default();
                    if room == 0 {
                        messages.clear();
                    } else {
                        room = room.saturating_sub(protocol::fit_page(&mut messages, room));
                    }
                    conversations.push(HistoryEntry {
                        conversation: r.view(),
                        messages,
                    });
                }
                hub.send_out(conn, &Out::History { shopper_id, conversations });
                Step::Continue
            }
            ExpertIn::Contacts { q } => {
                if !self.expert.as_ref().expect("greeted").features.contacts {
                    hub.send_out(conn, &Out::error(ErrorCode::Forbidden, "Contacts is off for you", None));
                    return Step::Continue;
                }
                let rows = hub.db.contacts_of(&m, &me_id, q.as_deref()).await.unwrap_or_default();
                let contacts = rows
                    .into_iter()
                    .map(|r| ContactView {
                        shopper_id: r.shopper_id,
                        name: r.name,
                        email: r.email,
                        last_chat_at: r.last_chat_at,
                        conversations: r.conversations,
                    })
                    .collect();
                hub.send_out(conn, &Out::Contacts { contacts });
                Step::Continue
            }
            ExpertIn::SavedReplies { q } => {
                let needle = q.unwrap_or_default().trim().trim_start_matches('/').to_lowercase();
                let items = hub
                    .db
                    .all_saved_replies(&m)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| {
                        needle.is_empty()
                            || r.shortcut.to_lowercase().contains(&needle)
                            || r.title.to_lowercase().contains(&needle)
                            || r.body.to_lowercase().contains(&needle)
                    })
                    .map(|r| SavedReplyView {
                        id: r.id.to_string(),
                        shortcut: r.shortcut,
                        title: r.title,
                        body: r.body,
                    })
                    .collect();
                hub.send_out(conn, &Out::SavedReplies { items });
                Step::Continue
            }
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
