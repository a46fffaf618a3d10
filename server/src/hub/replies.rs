//! What every session answers the same way, below the shopper and expert sessions and the
//! message writer (none of them imports another): what handling a frame asks of the socket, a
//! frame that does not parse, a message's checks and the answer to its store, a `sync`, a
//! chat's end.

use super::Hub;
use super::StoreFailed;
use crate::ids::ConversationId;
use crate::ids::MerchantId;
use crate::now_ms;
use crate::protocol::{self, ErrorCode, Out, MAX_BODY_CHARS, MAX_CLIENT_MSG_ID};
use crate::storage::ConversationStatus;
use crate::storage::{AppendOutcome, ConversationRow};

/// Parse a client frame, or answer `bad_request` (echoing its client id when readable).
pub fn parse_frame<T: serde::de::DeserializeOwned>(hub: &Hub, conn: u64, text: &str) -> Option<T> {
    match serde_json::from_str(text) {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::debug!(error = %e, "unreadable client frame");
            hub.send_out(
                conn,
                &Out::error(ErrorCode::BadRequest, human_parse_error(&e), super::readable_ref(text)),
            );
            None
        }
    }
}

/// A stable, human message for a frame that did not parse: what the client got wrong, without
/// the server's type names (the details go to the debug log).
pub fn human_parse_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let quoted = |after: &str| {
        msg.split_once(after)
            .and_then(|(_, rest)| rest.split_once('`'))
            .map(|(name, _)| name.chars().take(40).collect::<String>())
    };
    if e.is_syntax() || e.is_eof() {
        "the frame is not valid JSON".into()
    } else if msg.contains("missing field `type`") || msg.contains("internally tagged") {
        "a frame is a JSON object with a \"type\"".into()
    } else if let Some(t) = quoted("unknown variant `") {
        format!("unknown type \"{t}\"")
    } else if let Some(f) = quoted("missing field `") {
        format!("missing field \"{f}\"")
    } else if msg.starts_with("invalid type") || msg.starts_with("invalid value") || msg.starts_with("invalid length") {
        "a field has the wrong type or value".into()
    } else {
        "the frame does not match the protocol (see docs/protocol.md)".into()
    }
}

/// Answer a conversation lookup that did not yield one of the caller's conversations.
pub fn conversation_missing(hub: &Hub, conn: u64, id: &str, storage_failed: bool, not_found: &str) {
    let out = if storage_failed {
        Out::error(ErrorCode::Unavailable, "try again", Some(id.to_owned()))
    } else {
        Out::error(ErrorCode::NotFound, not_found, Some(id.to_owned()))
    };
    hub.send_out(conn, &out);
}

pub fn check_body(body: &str) -> Result<(), (ErrorCode, String)> {
    if body.trim().is_empty() {
        return Err((ErrorCode::BadRequest, "the message is empty".into()));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err((ErrorCode::TooLarge, format!("messages are at most {MAX_BODY_CHARS} characters")));
    }
    Ok(())
}

pub fn check_client_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_CLIENT_MSG_ID && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Send the outcome of storing a message as `ack` or `error`.
pub fn answer_store(hub: &Hub, conn: u64, conversation_id: &ConversationId, client_msg_id: &str, r: Result<AppendOutcome, StoreFailed>) {
    let out = match r {
        Ok(AppendOutcome::Stored(m)) | Ok(AppendOutcome::Duplicate(m)) => Out::Ack {
            conversation_id: conversation_id.to_owned(),
            client_msg_id: client_msg_id.to_owned(),
            seq: m.seq,
            sent_at: m.created_at,
        },
        Ok(AppendOutcome::Conflict) => Out::error(
            ErrorCode::Conflict,
            "this client_msg_id was used for a different message",
            Some(client_msg_id.to_owned()),
        ),
        Ok(AppendOutcome::NotFound) => Out::error(ErrorCode::NotFound, "no such conversation", Some(client_msg_id.to_owned())),
        Ok(AppendOutcome::InvalidState(why)) => Out::error(ErrorCode::InvalidState, why, Some(client_msg_id.to_owned())),
        Err(e) => {
            tracing::debug!(%conversation_id, client_msg_id, error = %e, "message not stored; answered unavailable");
            unavailable(Some(client_msg_id.to_owned()))
        }
    };
    hub.send_out(conn, &out);
}

/// Answer a `sync`: messages after `after_seq`, in order.
pub async fn sync(hub: &Hub, conn: u64, m: &MerchantId, row: &ConversationRow, after_seq: i64) {
    match hub.db.messages_after(m, &row.id, after_seq.max(0), 500).await {
        Ok(stored) => {
            let mut messages: Vec<_> = stored.into_iter().map(|s| s.view()).collect();
            // Long messages make a short page; `last_seq` tells the client to ask for more.
            protocol::fit_page(&mut messages, protocol::MAX_PAGE_BYTES);
            let last_seq = messages.last().map(|x| x.seq).unwrap_or(after_seq).max(row.last_seq);
            hub.send_out(
                conn,
                &Out::Messages {
                    conversation_id: row.id.clone(),
                    messages,
                    last_seq,
                },
            );
        }
        Err(_) => hub.send_out(conn, &Out::error(ErrorCode::Unavailable, "try again", Some(row.id.to_string()))),
    }
}

/// End a conversation for either side and tell everyone.
pub async fn end_conversation(hub: &Hub, conn: u64, m: &MerchantId, row: &ConversationRow, by: &str) {
    match hub.db.finish(m, &row.id, by).await {
        Ok(Some(ConversationStatus::Ended)) => {
            super::calls::chat_ended(hub, row).await;
            hub.system_message(
                row,
                if by == "shopper" { "ended_by_shopper" } else { "ended_by_expert" },
                serde_json::json!({}),
            )
            .await;
            if let Some(fresh) = hub.announce(m, &row.id).await {
                hub.emit(&fresh, "ended", Some(now_ms() - fresh.claimed_at.unwrap_or(fresh.created_at)), None);
            }
            if let Some(e) = &row.expert_id {
                if hub.roster.contains(e) {
                    hub.change_active(e, -1);
                } else {
                    // The shopper ended it on a node the expert is not connected to: their
                    // node counts it and tells them.
                    hub.tell_nodes(|n| super::nodes::Envelope::Expert {
                        n,
                        expert: e.clone(),
                        active: -1,
                    });
                }
                hub.push_backlog(e).await;
            }
        }
        Ok(Some(_)) => {
            hub.withdraw(&row.id, "abandoned", None);
            if let Some(fresh) = hub.announce(m, &row.id).await {
                hub.emit(&fresh, "abandoned", Some(now_ms() - fresh.queued_at), None);
            }
        }
        Ok(None) => hub.send_out(
            conn,
            &Out::error(ErrorCode::InvalidState, "the chat has already ended", Some(row.id.to_string())),
        ),
        Err(_) => hub.send_out(conn, &Out::error(ErrorCode::Unavailable, "try again", Some(row.id.to_string()))),
    }
}

/// A typed error frame for a failed store.
pub fn unavailable(r: Option<String>) -> Out {
    Out::error(ErrorCode::Unavailable, "the message could not be stored; retry", r)
}
