//! Server → client frames ([`Out`]) and the views they carry.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ShopperRef {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Rating {
    pub score: i64,
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ConversationView {
    pub id: ConversationId,
    /// `queued` → `offered` → `claimed` → `ended` | `missed` | `abandoned`.
    pub status: crate::domain::conversation::ConversationStatus,
    pub store: NamedRef,
    pub department: NamedRef,
    pub expert: Option<NamedRef>,
    pub shopper: ShopperRef,
    pub created_at: i64,
    pub claimed_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub last_seq: i64,
    pub page_url: Option<String>,
    pub product: Option<Product>,
    pub offline: bool,
    pub rating: Option<Rating>,
    pub shopper_read_seq: i64,
    pub expert_read_seq: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Author {
    #[ts(type = r#""shopper" | "expert" | "system""#)]
    pub role: String,
    pub name: Option<String>,
    pub expert_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MessageView {
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub id: MessageId,
    pub author: Author,
    #[ts(type = r#""text" | "product" | "system" | "attachment" | "cart""#)]
    pub kind: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub product: Option<Product>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "Record<string, unknown>")]
    pub data: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub client_msg_id: Option<String>,
    pub sent_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct OfferShopper {
    pub id: String,
    pub name: Option<String>,
    pub returning: bool,
    pub your_contact: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Offer {
    pub conversation_id: ConversationId,
    pub store: NamedRef,
    pub department: NamedRef,
    pub shopper: OfferShopper,
    pub page_url: Option<String>,
    pub product: Option<Product>,
    pub first_message: Option<String>,
    pub waiting_since: i64,
    /// Why the expert is offered it (now): a new chat, offered again, a transfer, or back for
    /// want of an answer.
    #[ts(type = r#""new" | "reoffer" | "transfer" | "unanswered""#)]
    pub reason: String,
    pub note: Option<String>,
    pub offline: bool,
    /// The shopper's latest page views (newest first, at most 5), when the merchant's site
    /// reports them with `context`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[ts(as = "Option<Vec<PageVisit>>", optional)]
    pub journey: Vec<PageVisit>,
}

/// A page the shopper looked at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema, TS)]
pub struct PageVisit {
    pub at: i64,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    #[ts(optional)]
    pub product: Option<Product>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Availability {
    pub open: bool,
    /// Experts able to take a chat now (switched on, working a store and department, room
    /// under their cap).
    pub experts_available: u32,
    /// Experts switched on and working a store and department, busy or not: with none
    /// available, more than 0 means everyone is busy; 0 means nobody is online.
    #[serde(default)]
    pub experts_online: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExpertStatusView {
    pub available: bool,
    /// The cap in force: the expert's own choice, at most the merchant's limit.
    pub max_chats: i64,
    pub store_ids: Vec<String>,
    pub department_ids: Vec<String>,
    pub active_chats: i64,
    /// The most the merchant allows this expert (Team); `set_status` above it is held to it.
    #[serde(default)]
    pub max_chats_limit: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StoreChoice {
    pub id: String,
    pub name: String,
    pub departments: Vec<NamedRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExpertView {
    pub id: String,
    pub name: String,
    /// The switches the merchant gives this expert (`domain::team::ExpertFeatures`).
    #[ts(as = "crate::domain::team::ExpertFeatures")]
    pub features: serde_json::Value,
    pub max_chats: i64,
    /// The stores and departments the expert is assigned to (to pick from in `set_status`).
    pub stores: Vec<StoreChoice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HistoryEntry {
    pub conversation: ConversationView,
    pub messages: Vec<MessageView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ContactView {
    pub shopper_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub last_chat_at: i64,
    pub conversations: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SavedReplyView {
    pub id: String,
    pub shortcut: String,
    pub title: String,
    pub body: String,
}

/// What the shopper asked for in `notify_me` for one conversation, as the server keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NotifyState {
    pub conversation_id: ConversationId,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Out {
    ShopperWelcome {
        protocol: u32,
        shopper_id: String,
        token: String,
        conversations: Vec<ConversationView>,
        availability: Availability,
        /// Where answers reach the shopper while away, for each open conversation they gave an
        /// address or number for (`notify_me`, or the offline form's phone number): the widget
        /// shows it again after a reload.
        #[serde(default)]
        notify: Vec<NotifyState>,
    },
    ExpertWelcome {
        protocol: u32,
        expert: ExpertView,
        status: ExpertStatusView,
        conversations: Vec<ConversationView>,
        offers: Vec<Offer>,
        /// Approved colleagues of the same merchant, for transfers to a named expert.
        #[serde(default)]
        colleagues: Vec<NamedRef>,
    },
    Conversation {
        conversation: ConversationView,
    },
    Queue {
        conversation_id: ConversationId,
        position: u32,
        estimated_wait_s: u32,
    },
    Message {
        message: MessageView,
    },
    Messages {
        conversation_id: ConversationId,
        messages: Vec<MessageView>,
        last_seq: i64,
    },
    Ack {
        conversation_id: ConversationId,
        client_msg_id: String,
        seq: i64,
        sent_at: i64,
    },
    Typing {
        conversation_id: ConversationId,
        role: String,
        typing: bool,
    },
    Read {
        conversation_id: ConversationId,
        role: String,
        seq: i64,
    },
    Unavailable {
        reason: String,
        offline_form: bool,
    },
    OfflineAck {
        conversation_id: ConversationId,
    },
    Identified {
        name: Option<String>,
        email: String,
    },
    /// To the experts in a chat: the shopper left (`away`) or is back; `reach` says how answers
    /// reach them meanwhile (`email`, `sms`; empty: only when they come back).
    ShopperAway {
        conversation_id: ConversationId,
        away: bool,
        reach: Vec<String>,
    },
    /// To the shopper: where answers reach them while away (the answer to `notify_me`).
    NotifyMe {
        conversation_id: ConversationId,
        email: Option<String>,
        phone: Option<String>,
    },
    Status(ExpertStatusView),
    Offer {
        offer: Offer,
    },
    OfferWithdrawn {
        conversation_id: ConversationId,
        reason: String,
    },
    ClaimFailed {
        conversation_id: ConversationId,
        reason: String,
    },
    History {
        shopper_id: String,
        conversations: Vec<HistoryEntry>,
    },
    Contacts {
        contacts: Vec<ContactView>,
    },
    SavedReplies {
        items: Vec<SavedReplyView>,
    },
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        r#ref: Option<String>,
    },
    Pong,
}

impl Out {
    pub fn error(code: ErrorCode, message: impl Into<String>, r#ref: Option<String>) -> Out {
        Out::Error {
            code,
            message: message.into(),
            r#ref,
        }
    }
}
