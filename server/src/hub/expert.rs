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

    async fn hello(&mut self, hub: &Hub, conn: u64, token: &str) -> Step {
        if !token.starts_with(auth::EXPERT_TOKEN_PREFIX) {
            return Step::Close(CloseCode::Unauthorized);
        }
        let token_hash = auth::token_hash(token);
        let epoch = hub.revocation_epoch();
        let s = match hub.db.expert_session(&token_hash).await {
            Ok(Some(s)) if s.expert.status == ExpertStatus::Approved => s,
            Ok(_) => return Step::Close(CloseCode::Unauthorized),
            Err(_) => return Step::Close(CloseCode::Internal),
        };
        // Signing out, a password change or a deactivation (of the expert or the merchant)
        // closes this socket; one that landed while the token was checked is caught here.
        let (expert_id, merchant_id) = (s.expert.id.to_string(), s.expert.merchant_id.to_string());
        hub.watch_conn(
            conn,
            &[
                Cred::ExpertToken(&token_hash),
                Cred::Expert(&expert_id),
                Cred::Merchant(&merchant_id),
            ],
            CloseCode::Unauthorized,
        );
        if hub.revoked_since(epoch)
            && !matches!(hub.db.expert_session(&token_hash).await, Ok(Some(ref s)) if s.expert.status == ExpertStatus::Approved)
        {
            return Step::Close(CloseCode::Unauthorized);
        }
        let e = s.expert;
        let m = e.merchant_id.clone();
        let saved: SavedPresence = hub
            .db
            .expert_presence_json(&m, e.id.as_str())
            .await
            .ok()
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default();
        let open = hub.db.expert_open_conversations(&m, e.id.as_str()).await.unwrap_or_default();
        let assigned_stores: Vec<String> = e.store_ids.iter().map(|s| s.to_string()).collect();
        let assigned_departments: Vec<String> = e.department_ids.iter().map(|d| d.to_string()).collect();
        let presence = Presence {
            merchant_id: m.to_string(),
            name: e.name.clone(),
            conns: vec![],
            available: saved.available.unwrap_or(true),
            own_cap: saved.own_cap.unwrap_or(e.max_chats),
            merchant_cap: e.max_chats,
            working_stores: saved.store_ids.iter().filter(|s| assigned_stores.contains(s)).cloned().collect(),
            working_departments: saved
                .department_ids
                .iter()
                .filter(|d| assigned_departments.contains(d))
                .cloned()
                .collect(),
            assigned_stores: assigned_stores.clone(),
            assigned_departments: assigned_departments.clone(),
            active: open.len() as i64,
            contacts_on: e.features.contacts,
        };
        hub.add_presence(e.id.as_str(), presence);
        let stores = hub.stores(&m).await.unwrap_or_default();
        let stores = stores
            .iter()
            .filter(|s| assigned_stores.contains(&s.id.to_string()))
            .map(|s| StoreChoice {
                id: s.id.to_string(),
                name: s.name.clone(),
                departments: s
                    .departments
                    .iter()
                    .filter(|d| assigned_departments.contains(&d.id.to_string()))
                    .map(|d| NamedRef {
                        id: d.id.to_string(),
                        name: d.name.clone(),
                    })
                    .collect(),
            })
            .collect();
        self.merchant = Some(m.clone());
        self.expert = Some(Me {
            id: e.id.to_string(),
            name: e.name.clone(),
            features: e.features.clone(),
        });
        let status = hub.roster.get(e.id.as_str()).map(|p| p.status()).expect("just added");
        let offers = hub.backlog(e.id.as_str()).await;
        let colleagues = hub
            .db
            .approved_expert_names(&m)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|(id, _)| id.as_str() != e.id.as_str())
            .map(|(id, name)| NamedRef { id, name })
            .collect();
        let welcomed: std::collections::HashSet<String> = offers.iter().map(|o| o.conversation_id.clone()).collect();
        // The welcome is this socket's first frame: the socket joins the expert's presence (and
        // then the open conversations) only as it is queued.
        hub.attach_conn(
            e.id.as_str(),
            conn,
            &Out::ExpertWelcome {
                protocol: PROTOCOL_VERSION,
                expert: ExpertView {
                    id: e.id.to_string(),
                    name: e.name,
                    features: serde_json::to_value(&e.features).expect("features"),
                    max_chats: e.max_chats,
                    stores,
                },
                status,
                conversations: open.iter().map(|c| c.view()).collect(),
                offers,
                colleagues,
            },
        );
        for c in &open {
            self.follow(hub, conn, &c.id);
        }
        // Offers that reached this expert while the backlog was read went to their other
        // sockets (or none): this one gets them after the welcome.
        let late: Vec<String> = hub
            .offers
            .held_list(e.id.as_str())
            .into_iter()
            .filter(|c| !welcomed.contains(c))
            .collect();
        for conversation in late {
            if let Some(offer) = hub.offer_for(&m, &conversation, e.id.as_str()).await {
                hub.send_out(conn, &Out::Offer { offer });
            }
        }
        Step::Continue
    }

    #[allow(clippy::too_many_arguments)]
    async fn set_status(
        &mut self,
        hub: &Hub,
        conn: u64,
        m: &MerchantId,
        me: &str,
        available: Option<bool>,
        max_chats: Option<i64>,
        store_ids: Option<Vec<String>>,
        department_ids: Option<Vec<String>>,
    ) -> Step {
        if max_chats.is_some_and(|c| !(1..=20).contains(&c)) {
            hub.send_out(conn, &Out::error(ErrorCode::BadRequest, "max_chats must be 1–20", None));
            return Step::Continue;
        }
        let (before, after) = {
            let Some(mut p) = hub.roster.get_mut(me) else {
                return Step::Close(CloseCode::Internal);
            };
            if store_ids.as_ref().is_some_and(|s| s.iter().any(|x| !p.assigned_stores.contains(x)))
                || department_ids
                    .as_ref()
                    .is_some_and(|d| d.iter().any(|x| !p.assigned_departments.contains(x)))
            {
                drop(p);
                hub.send_out(
                    conn,
                    &Out::error(
                        ErrorCode::BadRequest,
                        "you can only work stores and departments you are assigned to",
                        None,
                    ),
                );
                return Step::Continue;
            }
            let before = p.clone();
            if let Some(a) = available {
                p.available = a;
            }
            if let Some(c) = max_chats {
                p.own_cap = c;
            }
            if let Some(s) = store_ids {
                p.working_stores = s;
            }
            if let Some(d) = department_ids {
                p.working_departments = d;
            }
            (before, p.clone())
        };
        let saved = SavedPresence {
            available: Some(after.available),
            own_cap: Some(after.own_cap),
            store_ids: after.working_stores.clone(),
            department_ids: after.working_departments.clone(),
        };
        let _ = hub
            .db
            .set_expert_presence_json(m, me, &serde_json::to_string(&saved).expect("presence"))
            .await;
        if before.own_cap != after.own_cap {
            // The cap it replaces, so "Why did I miss this chat?" judges a chat by the cap of its time.
            let _ = hub.db.record_cap_change(m, me, crate::storage::CapKind::Own, before.own_cap).await;
        }
        hub.send_expert(me, &Out::Status(after.status()));
        hub.analytics.emit(crate::storage::Event {
            merchant_id: m.to_string(),
            kind: if after.available { "expert_available" } else { "expert_away" },
            at: crate::now_ms(),
            expert_id: Some(me.to_owned()),
            ..Default::default()
        });
        if !after.available && before.available {
            // Away: drop the offers this expert holds.
            for c in hub.offers.forget_expert(me) {
                hub.send_expert(
                    me,
                    &Out::OfferWithdrawn {
                        conversation_id: c,
                        reason: "unavailable".into(),
                    },
                );
            }
        }
        hub.push_backlog(me).await;
        Step::Continue
    }

    async fn claim(&mut self, hub: &Hub, conn: u64, m: &MerchantId, me: &str, conversation_id: &str) -> Step {
        let failed = |reason: &str| {
            hub.send_out(
                conn,
                &Out::ClaimFailed {
                    conversation_id: conversation_id.to_owned(),
                    reason: reason.to_owned(),
                },
            );
            Step::Continue
        };
        let Some(p) = hub.roster.get(me).map(|p| p.clone()) else {
            return Step::Close(CloseCode::Internal);
        };
        if p.active >= p.cap() {
            return failed("at_capacity");
        }
        let eid = ExpertId::from_db(me.to_owned());
        let started = std::time::Instant::now();
        let claimed = hub
            .db
            .claim(m, conversation_id, &eid, move |row| p.works(&row.store_id, &row.department_id))
            .await;
        metrics::histogram!("floorwalker_claim_update_seconds").record(started.elapsed().as_secs_f64());
        let fresh = match claimed {
            Ok(Claim::Won(fresh)) => *fresh,
            Ok(Claim::Taken) => return failed("taken"),
            Ok(Claim::Gone) => return failed("gone"),
            Ok(Claim::NotEligible) => return failed("not_eligible"),
            Err(_) => {
                hub.send_out(
                    conn,
                    &Out::error(ErrorCode::Unavailable, "try again", Some(conversation_id.to_owned())),
                );
                return Step::Continue;
            }
        };
        metrics::counter!("floorwalker_claims_total").increment(1);
        hub.change_active(me, 1);
        if let Some(conns) = hub.roster.get(me).map(|p| p.conns.clone()) {
            for c in conns {
                hub.subscribe(c, conversation_id);
            }
        }
        self.convs.insert(conversation_id.to_owned());
        hub.withdraw(conversation_id, "claimed", Some(me));
        let waited = crate::now_ms() - fresh.queued_at;
        hub.offers.record_claim_time(m.as_str(), waited as f64 / 1000.0);
        let name = self.expert.as_ref().map(|e| e.name.clone()).unwrap_or_default();
        // Answer first; the transcript line follows off the claim's path.
        hub.send_conversation(
            conversation_id,
            &Out::Conversation {
                conversation: fresh.view(),
            },
            None,
        );
        hub.emit(&fresh, "claimed", Some(waited), Some(me));
        hub.send_expert(
            me,
            &Out::OfferWithdrawn {
                conversation_id: conversation_id.to_owned(),
                reason: "claimed_by_you".into(),
            },
        );
        // A shopper who is away: answers go by e-mail (issue 21).
        crate::outbound::hooks::after_claim(hub, conn, &fresh).await;
        let hub = hub.clone();
        tokio::spawn(async move {
            hub.system_message(&fresh, "expert_joined", serde_json::json!({ "name": name }))
                .await;
        });
        Step::Continue
    }

    #[allow(clippy::too_many_arguments)]
    async fn transfer(
        &mut self,
        hub: &Hub,
        conn: u64,
        m: &MerchantId,
        me: &str,
        conversation_id: &str,
        department_id: Option<String>,
        expert_id: Option<String>,
        note: Option<String>,
    ) -> Step {
        let err = |code: ErrorCode, msg: &str| {
            hub.send_out(conn, &Out::error(code, msg, Some(conversation_id.to_owned())));
            Step::Continue
        };
        if !self.expert.as_ref().expect("greeted").features.transfers {
            return err(ErrorCode::Forbidden, "transfers are off for you");
        }
        if note.as_deref().is_some_and(|n| n.chars().count() > 500) {
            return err(ErrorCode::BadRequest, "the note is at most 500 characters");
        }
        let Some(row) = self.mine(hub, conn, m, me, conversation_id).await else {
            return Step::Continue;
        };
        let (store, dep, target) = match (department_id, expert_id) {
            (Some(d), None) => {
                let Some(did) = DepartmentId::parse(&d) else {
                    return err(ErrorCode::BadRequest, "unknown department");
                };
                match hub.db.get_department(m, &did).await {
                    Ok(dep) => (dep.store_id.to_string(), dep.id.to_string(), None),
                    Err(_) => return err(ErrorCode::BadRequest, "unknown department"),
                }
            }
            (None, Some(e)) => {
                let Some(eid) = ExpertId::parse(&e) else {
                    return err(ErrorCode::BadRequest, "unknown expert");
                };
                if e == me {
                    return err(ErrorCode::BadRequest, "choose a colleague");
                }
                match hub.db.get_expert(m, &eid).await {
                    Ok(x) if x.status == ExpertStatus::Approved => (row.store_id.clone(), row.department_id.clone(), Some(e)),
                    _ => return err(ErrorCode::BadRequest, "unknown expert"),
                }
            }
            _ => return err(ErrorCode::BadRequest, "give either department_id or expert_id"),
        };
        let note = note.filter(|n| !n.trim().is_empty());
        match hub
            .db
            .transfer(m, conversation_id, me, &store, &dep, target.as_deref(), note.as_deref())
            .await
        {
            Ok(true) => {}
            Ok(false) => return err(ErrorCode::InvalidState, "the chat is no longer yours"),
            Err(_) => return err(ErrorCode::Unavailable, "try again"),
        }
        hub.change_active(me, -1);
        if let Some(conns) = hub.roster.get(me).map(|p| p.conns.clone()) {
            for c in conns {
                hub.unsubscribe(c, conversation_id);
            }
        }
        self.convs.remove(conversation_id);
        hub.system_message(
            &row,
            "transferred",
            serde_json::json!({ "note_given": note.is_some(), "to_department": target.is_none() }),
        )
        .await;
        if let Some(fresh) = hub.announce(m, conversation_id).await {
            hub.send_expert(
                me,
                &Out::Conversation {
                    conversation: fresh.view(),
                },
            );
            hub.emit(&fresh, "transferred", None, Some(me));
            hub.offer_round(&fresh, "transfer", true).await;
            hub.wake_cluster(&fresh.merchant_id);
        }
        hub.push_backlog(me).await;
        Step::Continue
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
