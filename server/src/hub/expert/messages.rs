//! An expert in a chat: sending text and products, typing, read marks and `sync`.

use super::*;
use crate::ids::ConversationId;

impl ExpertSession {
    /// `send`: a text or product message into a chat the expert holds.
    pub(super) async fn send(
        &self,
        hub: &Hub,
        conn: u64,
        conversation_id: ConversationId,
        client_msg_id: String,
        body: String,
        product: Option<protocol::Product>,
    ) -> Step {
        if !check_client_id(&client_msg_id) {
            hub.send_out(
                conn,
                &Out::error(ErrorCode::BadRequest, "client_msg_id must be 1–64 printable characters", None),
            );
            return Step::Continue;
        }
        let (Some(me), Some(m)) = (&self.expert, &self.merchant) else {
            return Step::Close(CloseCode::ProtocolError);
        };
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
                id: me.id.clone(),
                name: me.name.clone(),
            },
            kind,
            body,
            data_json: data,
        };
        hub.store_then_answer(msg, conn).await;
        Step::Continue
    }

    /// `typing`: shown to the chat's other side.
    pub(super) fn typing(&self, hub: &Hub, conn: u64, conversation_id: ConversationId, typing: bool) -> Step {
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

    /// `read`: the expert has read up to `seq` (clamped to what the chat holds).
    pub(super) async fn read(
        &mut self,
        hub: &Hub,
        conn: u64,
        m: &MerchantId,
        me_id: &str,
        conversation_id: ConversationId,
        seq: i64,
    ) -> Step {
        let seq = if self.convs.contains(&conversation_id) && hub.receipt_in_hand(conn, &conversation_id, seq) {
            Some(seq)
        } else {
            self.mine(hub, conn, m, me_id, &conversation_id)
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

    /// `sync`: a chat's messages after `after_seq` — the expert's own chats (following a
    /// claimed one again), or with Contacts their ended ones, for the transcript.
    pub(super) async fn sync_one(
        &mut self,
        hub: &Hub,
        conn: u64,
        m: &MerchantId,
        me_id: &str,
        conversation_id: ConversationId,
        after_seq: i64,
    ) -> Step {
        // Your chats, or (with Contacts) ended chats of yours, for the transcript.
        match hub.db.conversation(m, &conversation_id).await {
            Ok(row) if row.expert_id.as_deref() == Some(me_id) => {
                if row.status == ConversationStatus::Claimed {
                    self.follow(hub, conn, &row.id);
                }
                sync(hub, conn, m, &row, after_seq).await;
            }
            _ => hub.send_out(
                conn,
                &Out::error(ErrorCode::NotFound, "no such conversation of yours", Some(conversation_id.into())),
            ),
        }
        Step::Continue
    }
}
