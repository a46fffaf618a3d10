//! Video call signalling (issue 24): `call_offer`, `call_answer`, `call_ice`, `call_resume` and
//! `call_hangup` frames, relayed only between a claimed conversation's shopper and its expert
//! (every socket of the other one, on any node), never stored. What is stored is that a call
//! started and ended (`calls` rows, so it is recorded once whichever node sees it), as
//! `call_started` / `call_ended` system messages in the transcript and analytics events.
//!
//! A participant whose socket closes during a call has [`DROP_GRACE`] to come back and send
//! `call_resume` (any signal of the call will do); otherwise the hub ends the call as
//! `dropped` and tells both sides with a `call_hangup`.

use crate::ids::ConversationId;
use std::collections::HashSet;
use std::time::Duration;

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use super::Hub;
use super::Step;
use crate::ids::MerchantId;
use crate::now_ms;
use crate::protocol::ErrorCode;
use crate::protocol::Out;
use crate::storage::ConversationStatus;
use crate::storage::{CallRow, ConversationRow};

/// How long a participant whose socket closed may take to resume a call.
pub const DROP_GRACE: Duration = Duration::from_secs(30);
/// Largest session description accepted (the 16 KiB frame limit is lower in practice).
pub const MAX_SDP: usize = 64 * 1024;
/// Largest ICE candidate object, as JSON.
pub const MAX_CANDIDATE: usize = 2048;
/// A new call may be offered at most this often per conversation.
pub const OFFER_EVERY_MS: i64 = 10_000;

/// A call frame from a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CallIn {
    CallOffer {
        conversation_id: ConversationId,
        call_id: String,
        sdp: String,
    },
    CallAnswer {
        conversation_id: ConversationId,
        call_id: String,
        sdp: String,
    },
    CallIce {
        conversation_id: ConversationId,
        call_id: String,
        #[ts(type = "RTCIceCandidateInit")]
        candidate: serde_json::Value,
    },
    CallResume {
        conversation_id: ConversationId,
        call_id: String,
    },
    CallHangup {
        conversation_id: ConversationId,
        call_id: String,
        #[serde(default)]
        #[ts(optional = nullable)]
        reason: Option<String>,
    },
}

impl CallIn {
    fn ids(&self) -> (&ConversationId, &str) {
        match self {
            CallIn::CallOffer {
                conversation_id, call_id, ..
            }
            | CallIn::CallAnswer {
                conversation_id, call_id, ..
            }
            | CallIn::CallIce {
                conversation_id, call_id, ..
            }
            | CallIn::CallResume { conversation_id, call_id }
            | CallIn::CallHangup {
                conversation_id, call_id, ..
            } => (conversation_id, call_id),
        }
    }
}

/// A relayed call frame: the client's frame plus who sent it (`from`: `shopper` | `expert`;
/// `hub` for a call the hub ended).
#[derive(Debug, Clone, Serialize, Deserialize, ts_rs::TS)]
pub struct CallOut {
    #[serde(flatten)]
    pub frame: CallIn,
    #[ts(type = r#""shopper" | "expert" | "hub""#)]
    pub from: String,
}

/// Who sent a frame.
#[derive(Debug, Clone)]
pub enum Party {
    Shopper(String),
    Expert(String),
}

impl Party {
    fn role(&self) -> &'static str {
        match self {
            Party::Shopper(_) => "shopper",
            Party::Expert(_) => "expert",
        }
    }
    fn key(&self) -> String {
        match self {
            Party::Shopper(s) => format!("s:{s}"),
            Party::Expert(e) => format!("e:{e}"),
        }
    }
}

/// (merchant, conversation, call id).
type CallKey = (String, ConversationId, String);

/// Per node: the calls each socket took part in (to notice a drop when it closes), with the
/// participant (`s:…` / `e:…`) the socket belongs to.
#[derive(Default)]
pub struct Calls {
    by_conn: DashMap<u64, (String, HashSet<CallKey>)>,
}

/// Whether a text frame is a call frame (cheap check before parsing).
pub fn is_call_frame(text: &str) -> bool {
    text.contains("\"call_")
        && serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(|t| t.starts_with("call_")))
            .unwrap_or(false)
}

fn err(hub: &Hub, conn: u64, code: ErrorCode, msg: &str, conversation: &ConversationId) -> Step {
    hub.send_out(conn, &Out::error(code, msg, Some(conversation.to_string())));
    Step::Continue
}

fn printable(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_graphic())
}

/// Handle a call frame from `who` (greeted) of merchant `m`.
pub async fn handle(hub: &Hub, conn: u64, m: &MerchantId, who: Party, text: &str) -> Step {
    let frame: CallIn = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            hub.send_out(
                conn,
                &Out::error(ErrorCode::BadRequest, format!("invalid call frame: {e}"), super::readable_ref(text)),
            );
            return Step::Malformed;
        }
    };
    let (conversation, call_id) = {
        let (c, k) = frame.ids();
        (c.to_owned(), k.to_owned())
    };
    if !printable(&call_id, 64) {
        return err(
            hub,
            conn,
            ErrorCode::BadRequest,
            "call_id must be 1–64 printable characters",
            &conversation,
        );
    }
    match &frame {
        CallIn::CallOffer { sdp, .. } | CallIn::CallAnswer { sdp, .. } if sdp.is_empty() || sdp.len() > MAX_SDP => {
            return err(hub, conn, ErrorCode::TooLarge, "sdp must be 1 byte to 64 KiB", &conversation);
        }
        CallIn::CallIce { candidate, .. } if !candidate.is_object() || candidate.to_string().len() > MAX_CANDIDATE => {
            return err(
                hub,
                conn,
                ErrorCode::BadRequest,
                "candidate must be an ICE candidate object",
                &conversation,
            );
        }
        CallIn::CallHangup { reason: Some(r), .. } if !printable(r, 64) => {
            return err(
                hub,
                conn,
                ErrorCode::BadRequest,
                "reason must be 1–64 printable characters",
                &conversation,
            );
        }
        _ => {}
    }
    // Only the conversation's shopper and its current expert, in a claimed chat.
    let row = match hub.db.conversation(m, &conversation).await {
        Ok(row) => row,
        Err(crate::storage::StorageError::NotFound) => return err(hub, conn, ErrorCode::NotFound, "no such conversation", &conversation),
        Err(_) => return err(hub, conn, ErrorCode::Unavailable, "try again", &conversation),
    };
    let (mine, other) = match &who {
        Party::Shopper(s) => (row.shopper_id == *s, row.expert_id.clone().map(Party::Expert)),
        Party::Expert(e) => (
            row.expert_id.as_deref() == Some(e.as_str()),
            Some(Party::Shopper(row.shopper_id.clone())),
        ),
    };
    if !mine {
        return err(hub, conn, ErrorCode::NotFound, "no such conversation", &conversation);
    }
    let hangup = matches!(frame, CallIn::CallHangup { .. });
    if row.status != ConversationStatus::Claimed && !hangup {
        return err(
            hub,
            conn,
            ErrorCode::InvalidState,
            "calls need a chat an expert holds",
            &conversation,
        );
    }
    let now = now_ms();
    match (&frame, &who) {
        (CallIn::CallOffer { .. }, Party::Shopper(_)) => {
            return err(hub, conn, ErrorCode::Forbidden, "the expert starts calls", &conversation);
        }
        (CallIn::CallAnswer { .. }, Party::Expert(_)) => {
            return err(hub, conn, ErrorCode::Forbidden, "the shopper answers calls", &conversation);
        }
        (CallIn::CallOffer { .. }, Party::Expert(e)) => match hub.db.call(&conversation, &call_id).await {
            Ok(Some(c)) if c.ended_at.is_some() => return err(hub, conn, ErrorCode::InvalidState, "that call has ended", &conversation),
            Ok(Some(_)) => {
                // A restart (ICE) of the call in progress.
                let _ = hub.db.touch_call(&conversation, &call_id, now).await;
            }
            Ok(None) => {
                if let Ok(Some(last)) = hub.db.latest_call(&conversation).await {
                    if now - last.offered_at < OFFER_EVERY_MS {
                        return err(hub, conn, ErrorCode::RateLimited, "one new call per 10 seconds", &conversation);
                    }
                }
                // A new call replaces one still open.
                for old in hub.db.open_calls(&conversation).await.unwrap_or_default() {
                    end(hub, &row, &old.call_id, "replaced", None).await;
                }
                if hub.db.offer_call(&row.merchant_id, &conversation, &call_id, e, now).await.is_err() {
                    return err(hub, conn, ErrorCode::Unavailable, "try again", &conversation);
                }
            }
            Err(_) => return err(hub, conn, ErrorCode::Unavailable, "try again", &conversation),
        },
        (CallIn::CallAnswer { .. }, Party::Shopper(_)) => match hub.db.call(&conversation, &call_id).await {
            Ok(Some(c)) if c.ended_at.is_some() => return err(hub, conn, ErrorCode::InvalidState, "that call has ended", &conversation),
            Ok(Some(_)) => {
                // Relayed at once; recorded after (the transcript line follows the answer).
                hub.calls.note(conn, &row.merchant_id, &who, &conversation, &call_id);
                relay_to(hub, &conversation, other.as_ref(), &who, frame);
                match hub.db.start_call(&conversation, &call_id, now).await {
                    Ok(true) => {
                        hub.emit(&row, "call_started", None, None);
                        hub.system_message(&row, "call_started", serde_json::json!({ "call_id": call_id }))
                            .await;
                    }
                    _ => {
                        let _ = hub.db.touch_call(&conversation, &call_id, now).await;
                    }
                }
                return Step::Continue;
            }
            Ok(None) => return err(hub, conn, ErrorCode::NotFound, "no such call", &conversation),
            Err(_) => return err(hub, conn, ErrorCode::Unavailable, "try again", &conversation),
        },
        (CallIn::CallResume { .. }, _) => {
            let _ = hub.db.touch_call(&conversation, &call_id, now).await;
        }
        (CallIn::CallHangup { reason, .. }, _) => {
            let reason = reason.clone().unwrap_or_else(|| "ended".into());
            // Relayed at once, whether or not the call had started (the other side may still
            // be ringing); the end is recorded once, after.
            hub.calls.forget(conn, &conversation, &call_id);
            relay_to(hub, &conversation, other.as_ref(), &who, frame);
            end(hub, &row, &call_id, &reason, None).await;
            return Step::Continue;
        }
        (CallIn::CallIce { .. }, _) => {}
    }
    hub.calls.note(conn, &row.merchant_id, &who, &conversation, &call_id);
    relay_to(hub, &conversation, other.as_ref(), &who, frame);
    Step::Continue
}

fn relay_to(hub: &Hub, conversation: &ConversationId, other: Option<&Party>, who: &Party, frame: CallIn) {
    if let Some(other) = other {
        relay(
            hub,
            conversation,
            other,
            &CallOut {
                frame,
                from: who.role().into(),
            },
        );
    }
}

/// Send a call frame to every socket of `to`, here and on the other nodes.
fn relay(hub: &Hub, conversation: &ConversationId, to: &Party, out: &CallOut) {
    let f = serde_json::to_string(out).expect("call frame");
    hub.broker.to_viewers(conversation, &mut |n| super::nodes::Envelope::Signal {
        n,
        to: to.key(),
        f: f.clone(),
    });
    deliver_local(hub, &to.key(), &f);
}

/// Deliver a call frame to this node's sockets of `to` (`s:<shopper>` or `e:<expert>`).
pub fn deliver_local(hub: &Hub, to: &str, f: &str) {
    let conns = match to.split_once(':') {
        Some(("s", s)) => hub.shopper_conn_ids(s),
        Some(("e", e)) => hub.roster.get(e).map(|p| p.conns.clone()).unwrap_or_default(),
        _ => return,
    };
    let f = axum::extract::ws::Utf8Bytes::from(f.to_owned());
    for c in conns {
        hub.send_conn(c, &f);
    }
}

/// End a call once and record it: a `call_ended` system message and event with its duration
/// when it had started. Returns the ended row when this call ended it.
async fn end(hub: &Hub, row: &ConversationRow, call_id: &str, reason: &str, untouched_since: Option<i64>) -> Option<CallRow> {
    let ended = hub
        .db
        .end_call(&row.id, call_id, reason, now_ms(), untouched_since)
        .await
        .ok()
        .flatten()?;
    if let Some(ms) = ended.duration_ms {
        hub.emit(row, "call_ended", Some(ms), Some(&ended.expert_id));
        hub.system_message(
            row,
            "call_ended",
            serde_json::json!({ "call_id": call_id, "duration_ms": ms, "reason": reason }),
        )
        .await;
    }
    Some(ended)
}

/// The hub ended a call: tell both sides.
fn announce_end(hub: &Hub, row: &ConversationRow, call_id: &str, reason: &str) {
    let out = CallOut {
        frame: CallIn::CallHangup {
            conversation_id: row.id.clone(),
            call_id: call_id.to_owned(),
            reason: Some(reason.to_owned()),
        },
        from: "hub".into(),
    };
    relay(hub, &row.id, &Party::Shopper(row.shopper_id.clone()), &out);
    if let Some(e) = &row.expert_id {
        relay(hub, &row.id, &Party::Expert(e.clone()), &out);
    }
}

/// The chat ended: so do its calls.
pub async fn chat_ended(hub: &Hub, row: &ConversationRow) {
    for c in hub.db.open_calls(&row.id).await.unwrap_or_default() {
        if end(hub, row, &c.call_id, "chat_ended", None).await.is_some() {
            announce_end(hub, row, &c.call_id, "chat_ended");
        }
    }
}

impl Calls {
    fn note(&self, conn: u64, merchant: &str, who: &Party, conversation: &ConversationId, call_id: &str) {
        self.by_conn.entry(conn).or_insert_with(|| (who.key(), HashSet::new())).1.insert((
            merchant.to_owned(),
            conversation.to_owned(),
            call_id.to_owned(),
        ));
    }

    fn forget(&self, conn: u64, conversation: &ConversationId, call_id: &str) {
        if let Some(mut e) = self.by_conn.get_mut(&conn) {
            e.1.retain(|(_, c, k)| !(c == conversation && k == call_id));
        }
    }

    /// Whether another socket on this node of the same participant is in the call.
    fn others_in(&self, conn: u64, who: &str, conversation: &ConversationId, call_id: &str) -> bool {
        self.by_conn
            .iter()
            .any(|e| *e.key() != conn && e.value().0 == who && e.value().1.iter().any(|(_, c, k)| c == conversation && k == call_id))
    }
}

/// A socket closed: each call it took part in ends as `dropped` unless its participant
/// resumes it (any signal of the call) within the grace period.
pub fn socket_closed(hub: &Hub, conn: u64) {
    let Some((_, (who, calls))) = hub.calls.by_conn.remove(&conn) else {
        return;
    };
    let closed_at = now_ms();
    for (merchant, conversation, call_id) in calls {
        if hub.calls.others_in(conn, &who, &conversation, &call_id) {
            continue;
        }
        let hub = hub.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = hub.shutdown.cancelled() => return,
                _ = tokio::time::sleep(drop_grace()) => {}
            }
            let m = MerchantId::from_db(merchant);
            let Ok(row) = hub.db.conversation(&m, &conversation).await else {
                return;
            };
            if end(&hub, &row, &call_id, "dropped", Some(closed_at)).await.is_some() {
                announce_end(&hub, &row, &call_id, "dropped");
            }
        });
    }
}

/// [`DROP_GRACE`], or `FLOORWALKER_CALL_DROP_GRACE_MS` (for tests).
fn drop_grace() -> Duration {
    std::env::var("FLOORWALKER_CALL_DROP_GRACE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(DROP_GRACE)
}
