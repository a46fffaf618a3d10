//! The shopper side: hello (issue or verify the Shopper ID), request a chat, send, sync,
//! typing, read, end, rate, offline messages, page context and identify.

use crate::ids::ConversationId;
use std::collections::BTreeSet;

use hmac::{Hmac, Mac};
use sha2::Sha256;

mod requests;
mod signin;

use super::replies::{answer_store, check_body, check_client_id, conversation_missing, end_conversation, parse_frame, sync};
use super::Hub;
use super::Step;
use crate::domain::plausible_email;
use crate::ids::{DepartmentId, MerchantId, ShopperId, StoreId};
use crate::now_ms;
use crate::protocol::{Availability, CloseCode, ErrorCode, Out, Product, ShopperIn, PROTOCOL_VERSION};
use crate::storage::{AppendOutcome, ConversationRow, Event, NewConversation, NewMessage, Sender};

pub struct ShopperSession {
    pub merchant: MerchantId,
    pub shopper: Option<String>,
    /// Conversations this socket is subscribed to (all of them are this shopper's).
    pub convs: BTreeSet<ConversationId>,
    /// When this socket last moved the shopper's `last_seen_at` (at most once a minute).
    pub seen_at: i64,
    /// The widget's language (from `hello`), for mail to the shopper.
    pub locale: Option<String>,
}

fn bad(hub: &Hub, conn: u64, msg: &str, r: Option<String>) -> Step {
    hub.send_out(conn, &Out::error(ErrorCode::BadRequest, msg, r));
    Step::Continue
}

fn short(s: &Option<String>, max: usize) -> bool {
    s.as_deref().is_none_or(|s| s.chars().count() <= max)
}

impl ShopperSession {
    pub fn new(merchant: MerchantId) -> Self {
        ShopperSession {
            merchant,
            shopper: None,
            convs: BTreeSet::new(),
            seen_at: 0,
            locale: None,
        }
    }

    pub fn finish(&mut self, hub: &Hub, conn: u64) {
        if let Some(s) = &self.shopper {
            hub.remove_shopper_conn(s, conn);
            // Their last socket (on every node): their chats are away (issue 21: answers by e-mail).
            hub.shopper_departed(&self.merchant, s, !self.convs.is_empty());
        }
    }

    fn follow(&mut self, hub: &Hub, conn: u64, conversation: &ConversationId) {
        if self.convs.insert(conversation.to_owned()) {
            hub.subscribe(conn, conversation);
        }
    }

    /// This shopper's conversation, or an error frame.
    async fn own(&self, hub: &Hub, conn: u64, id: &ConversationId) -> Option<ConversationRow> {
        match hub.db.conversation(&self.merchant, id).await {
            Ok(row) if Some(&row.shopper_id) == self.shopper.as_ref() => Some(row),
            Ok(_) | Err(crate::storage::StorageError::NotFound) => {
                conversation_missing(hub, conn, id, false, "no such conversation");
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
        if let Some(shopper) = self.shopper.clone() {
            if super::calls::is_call_frame(text) {
                return super::calls::handle(hub, conn, &self.merchant, super::calls::Party::Shopper(shopper), text).await;
            }
            if super::media_chat::is_attachment_send(text) {
                let (step, stored) = super::media_chat::send(hub, conn, self.merchant.as_str(), Sender::Shopper(shopper), text).await;
                if let Some(c) = stored {
                    self.follow(hub, conn, &c);
                }
                return step;
            }
        }
        let Some(frame) = parse_frame::<ShopperIn>(hub, conn, text) else {
            return Step::Malformed;
        };
        let shopper = match (&frame, &self.shopper) {
            (ShopperIn::Hello { token, locale }, None) => {
                self.locale = locale.clone().filter(|l| l.len() <= 35);
                return self.hello(hub, conn, token.as_deref()).await;
            }
            (ShopperIn::Hello { .. }, Some(_)) => return bad(hub, conn, "hello was already said", None),
            (ShopperIn::Ping, _) => {
                hub.send_out(conn, &Out::Pong);
                return Step::Continue;
            }
            (_, None) => {
                hub.send_out(conn, &Out::error(ErrorCode::BadRequest, "say hello first", None));
                return Step::Close(CloseCode::ProtocolError);
            }
            (_, Some(s)) => s.clone(),
        };
        match frame {
            ShopperIn::RequestChat {
                store_id,
                department_id,
                page_url,
                page_title,
                product,
                text,
                client_msg_id,
            } => {
                if !short(&page_url, 2000) || !short(&page_title, 300) {
                    return bad(hub, conn, "page_url or page_title too long", None);
                }
                if page_url.as_deref().is_some_and(|u| !crate::protocol::page_url_ok(u)) {
                    return bad(hub, conn, "page_url must be an http(s) address", None);
                }
                if let Some(p) = &product {
                    if let Err(e) = p.validate() {
                        return bad(hub, conn, &e, None);
                    }
                }
                if let Some(t) = &text {
                    if let Err((code, msg)) = check_body(t) {
                        hub.send_out(conn, &Out::error(code, msg, None));
                        return Step::Continue;
                    }
                }
                if client_msg_id.as_deref().is_some_and(|c| !check_client_id(c)) {
                    return bad(hub, conn, "client_msg_id must be 1–64 printable characters", None);
                }
                self.request_chat(
                    hub,
                    conn,
                    &shopper,
                    store_id,
                    department_id,
                    page_url,
                    page_title,
                    product,
                    text,
                    client_msg_id,
                )
                .await
            }
            ShopperIn::Send {
                conversation_id,
                client_msg_id,
                body,
            } => {
                if !check_client_id(&client_msg_id) {
                    return bad(hub, conn, "client_msg_id must be 1–64 printable characters", None);
                }
                if let Err((code, msg)) = check_body(&body) {
                    hub.send_out(conn, &Out::error(code, msg, Some(client_msg_id)));
                    return Step::Continue;
                }
                let msg = NewMessage {
                    merchant_id: self.merchant.to_string(),
                    conversation_id: conversation_id.clone(),
                    client_msg_id: Some(client_msg_id.clone()),
                    sender: Sender::Shopper(shopper),
                    kind: "text",
                    body,
                    data_json: None,
                };
                if self.convs.contains(&conversation_id) {
                    hub.store_then_answer(msg, conn).await;
                    return Step::Continue;
                }
                // A chat this socket does not follow yet: followed once the message is stored.
                let r = hub.store(msg, Some(conn)).await;
                if matches!(r, Ok(AppendOutcome::Stored(_)) | Ok(AppendOutcome::Duplicate(_))) {
                    self.follow(hub, conn, &conversation_id);
                }
                answer_store(hub, conn, &conversation_id, &client_msg_id, r);
                Step::Continue
            }
            ShopperIn::Typing { conversation_id, typing } => {
                if self.convs.contains(&conversation_id) {
                    hub.send_conversation(
                        &conversation_id,
                        &Out::Typing {
                            conversation_id: conversation_id.clone(),
                            role: "shopper".into(),
                            typing,
                        },
                        Some(conn),
                    );
                }
                Step::Continue
            }
            ShopperIn::Read { conversation_id, seq } => {
                let seq = if self.convs.contains(&conversation_id) && hub.receipt_in_hand(conn, &conversation_id, seq) {
                    Some(seq)
                } else {
                    self.own(hub, conn, &conversation_id).await.map(|row| seq.clamp(0, row.last_seq))
                };
                if let Some(seq) = seq {
                    hub.note_read(self.merchant.as_str(), &conversation_id, "shopper", seq);
                    hub.send_conversation(
                        &conversation_id,
                        &Out::Read {
                            conversation_id: conversation_id.clone(),
                            role: "shopper".into(),
                            seq,
                        },
                        Some(conn),
                    );
                }
                Step::Continue
            }
            ShopperIn::Sync {
                conversation_id,
                after_seq,
            } => {
                if let Some(row) = self.own(hub, conn, &conversation_id).await {
                    self.follow(hub, conn, &conversation_id);
                    sync(hub, conn, &self.merchant, &row, after_seq).await;
                }
                Step::Continue
            }
            ShopperIn::End { conversation_id } => {
                if let Some(row) = self.own(hub, conn, &conversation_id).await {
                    end_conversation(hub, conn, &self.merchant, &row, "shopper").await;
                }
                Step::Continue
            }
            ShopperIn::Rate {
                conversation_id,
                score,
                comment,
            } => {
                if !(1..=5).contains(&score) || !short(&comment, 1000) {
                    return bad(
                        hub,
                        conn,
                        "score must be 1–5 and the comment at most 1000 characters",
                        Some(conversation_id.into()),
                    );
                }
                let comment = comment.filter(|c| !c.trim().is_empty());
                match hub
                    .db
                    .rate(&self.merchant, &conversation_id, &shopper, score, comment.as_deref())
                    .await
                {
                    Ok(true) => {
                        if let Some(row) = hub.announce(&self.merchant, &conversation_id).await {
                            hub.emit(&row, "rated", Some(score), None);
                        }
                    }
                    Ok(false) => {
                        // Own but not ended yet: say so; anything else is not found.
                        let own =
                            matches!(hub.db.conversation(&self.merchant, &conversation_id).await, Ok(row) if row.shopper_id == shopper);
                        let out = if own {
                            Out::error(
                                ErrorCode::InvalidState,
                                "only ended chats can be rated",
                                Some(conversation_id.into()),
                            )
                        } else {
                            Out::error(ErrorCode::NotFound, "no such conversation", Some(conversation_id.into()))
                        };
                        hub.send_out(conn, &out);
                    }
                    Err(_) => hub.send_out(conn, &Out::error(ErrorCode::Unavailable, "try again", Some(conversation_id.into()))),
                }
                Step::Continue
            }
            ShopperIn::OfflineMessage {
                email,
                body,
                name,
                store_id,
                department_id,
                page_url,
                phone,
            } => {
                if !plausible_email(&email) {
                    return bad(hub, conn, "a valid email is needed so the store can answer", None);
                }
                if let Err((code, msg)) = check_body(&body) {
                    hub.send_out(conn, &Out::error(code, msg, None));
                    return Step::Continue;
                }
                if !short(&name, 100) || !short(&page_url, 2000) {
                    return bad(hub, conn, "name or page_url too long", None);
                }
                if page_url.as_deref().is_some_and(|u| !crate::protocol::page_url_ok(u)) {
                    return bad(hub, conn, "page_url must be an http(s) address", None);
                }
                let phone = phone.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
                if phone.as_deref().is_some_and(|p| !crate::domain::contact::valid_e164(p)) {
                    return bad(hub, conn, "the phone number must be in international form, e.g. +46701234567", None);
                }
                self.offline(
                    hub,
                    conn,
                    &shopper,
                    email.trim(),
                    body,
                    name,
                    store_id,
                    department_id,
                    page_url,
                    phone,
                )
                .await
            }
            ShopperIn::NotifyMe {
                conversation_id,
                email,
                phone,
            } => {
                if let Some(row) = self.own(hub, conn, &conversation_id).await {
                    match hub
                        .reach()
                        .notify_me(hub, &self.merchant, &row.id, email.as_deref(), phone.as_deref())
                        .await
                    {
                        Ok(out) => hub.send_out(conn, &out),
                        Err("unavailable") => {
                            hub.send_out(conn, &Out::error(ErrorCode::Unavailable, "try again", Some(conversation_id.into())))
                        }
                        Err(why) => return bad(hub, conn, why, Some(conversation_id.into())),
                    }
                }
                Step::Continue
            }
            ShopperIn::Context {
                page_url,
                page_title,
                product,
            } => {
                if !crate::protocol::page_url_ok(&page_url)
                    || !short(&page_title, 300)
                    || product.as_ref().is_some_and(|p| p.validate().is_err())
                {
                    return bad(hub, conn, "invalid page context", None);
                }
                self.seen(hub, &shopper).await;
                hub.analytics.emit(Event {
                    merchant_id: self.merchant.to_string(),
                    kind: "page_view",
                    at: now_ms(),
                    shopper_id: Some(shopper),
                    data_json: Some(serde_json::json!({"url": page_url, "title": page_title, "product": product}).to_string()),
                    ..Default::default()
                });
                Step::Continue
            }
            ShopperIn::Identify { email, name, signature } => {
                let Ok(secret) = hub.db.identity_secret(&self.merchant).await else {
                    hub.send_out(conn, &Out::error(ErrorCode::Unavailable, "try again", None));
                    return Step::Continue;
                };
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
                mac.update(email.trim().as_bytes());
                let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
                use subtle::ConstantTimeEq;
                if !plausible_email(&email)
                    || !bool::from(expected.as_bytes().ct_eq(signature.trim().to_lowercase().as_bytes()))
                    || !short(&name, 100)
                {
                    hub.send_out(
                        conn,
                        &Out::error(ErrorCode::Forbidden, "the identity signature does not match", None),
                    );
                    return Step::Continue;
                }
                let sid = ShopperId::from_db(shopper);
                match hub
                    .db
                    .identify_shopper(&self.merchant, &sid, name.as_deref(), Some(email.trim()))
                    .await
                {
                    Ok(s) => hub.send_out(
                        conn,
                        &Out::Identified {
                            name: s.name,
                            email: s.email.unwrap_or_default(),
                        },
                    ),
                    Err(_) => hub.send_out(conn, &Out::error(ErrorCode::Unavailable, "try again", None)),
                }
                Step::Continue
            }
            ShopperIn::Hello { .. } | ShopperIn::Ping => Step::Continue,
        }
    }
}
