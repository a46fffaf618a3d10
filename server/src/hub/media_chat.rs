//! Photos in the chat (issue 24): `send {conversation_id, client_msg_id, kind: "attachment",
//! attachment_id, body?}` from either side. The frame is read here, before the typed `send`,
//! so the text path is untouched. The message writer checks inside its transaction that the
//! photo is stored, of this conversation and uploaded by the sender (see
//! `storage::media_chat`), and stores `kind = 'attachment'` with the photo's data; the ack is
//! idempotent by `client_msg_id` as for any message.

use crate::ids::ConversationId;
use serde::Deserialize;

use super::replies::{answer_store, check_body, check_client_id};
use super::Hub;
use super::Step;
use crate::protocol::ErrorCode;
use crate::protocol::Out;
use crate::storage::{AppendOutcome, NewMessage, Sender};

/// The fields of a photo `send` (besides `type: "send"` and `kind: "attachment"`).
#[derive(Debug, Deserialize, ts_rs::TS)]
#[ts(rename = "AttachmentSendFields")]
pub struct AttachmentSend {
    conversation_id: ConversationId,
    client_msg_id: String,
    attachment_id: String,
    #[serde(default)]
    #[ts(optional)]
    body: Option<String>,
}

/// Whether a text frame is a `send` of kind `attachment` (cheap check before parsing).
pub fn is_attachment_send(text: &str) -> bool {
    text.contains("\"attachment\"")
        && serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| {
            v.get("type").and_then(|t| t.as_str()) == Some("send") && v.get("kind").and_then(|t| t.as_str()) == Some("attachment")
        })
}

/// Store a photo message from `sender` and answer the socket. `Some(conversation)` when it
/// was stored (or was already), so a shopper's socket can follow the chat.
pub async fn send(hub: &Hub, conn: u64, merchant: &str, sender: Sender, text: &str) -> (Step, Option<ConversationId>) {
    let f: AttachmentSend = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            hub.send_out(
                conn,
                &Out::error(ErrorCode::BadRequest, format!("invalid send: {e}"), super::readable_ref(text)),
            );
            return (Step::Malformed, None);
        }
    };
    if !check_client_id(&f.client_msg_id) {
        hub.send_out(
            conn,
            &Out::error(ErrorCode::BadRequest, "client_msg_id must be 1–64 printable characters", None),
        );
        return (Step::Continue, None);
    }
    if !check_client_id(&f.attachment_id) {
        hub.send_out(
            conn,
            &Out::error(
                ErrorCode::BadRequest,
                "attachment_id must be an attachment's id",
                Some(f.client_msg_id),
            ),
        );
        return (Step::Continue, None);
    }
    let body = f.body.map(|b| b.trim().to_owned()).unwrap_or_default();
    if !body.is_empty() {
        if let Err((code, msg)) = check_body(&body) {
            hub.send_out(conn, &Out::error(code, msg, Some(f.client_msg_id)));
            return (Step::Continue, None);
        }
    }
    let msg = NewMessage {
        merchant_id: merchant.to_owned(),
        conversation_id: f.conversation_id.clone(),
        client_msg_id: Some(f.client_msg_id.clone()),
        sender,
        kind: "attachment",
        body,
        data_json: Some(serde_json::json!({ "attachment_id": f.attachment_id }).to_string()),
    };
    let r = hub.store(msg, Some(conn)).await;
    let stored = matches!(r, Ok(AppendOutcome::Stored(_)) | Ok(AppendOutcome::Duplicate(_)));
    if matches!(r, Ok(AppendOutcome::NotFound)) {
        // No such chat of yours, or no such photo of yours in it: the same answer.
        hub.send_out(
            conn,
            &Out::error(ErrorCode::NotFound, "no such photo of yours in this chat", Some(f.client_msg_id)),
        );
    } else {
        answer_store(hub, conn, &f.conversation_id, &f.client_msg_id, r);
    }
    (Step::Continue, stored.then_some(f.conversation_id))
}
