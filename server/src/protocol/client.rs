//! Client → server frames: a shopper's ([`ShopperIn`]) and an expert's ([`ExpertIn`]).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ShopperIn {
    Hello {
        #[serde(default)]
        #[ts(optional)]
        token: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        locale: Option<String>,
    },
    RequestChat {
        #[serde(default)]
        #[ts(optional)]
        store_id: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        department_id: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        page_url: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        page_title: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        product: Option<Product>,
        #[serde(default)]
        #[ts(optional)]
        text: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        client_msg_id: Option<String>,
    },
    Send {
        conversation_id: ConversationId,
        client_msg_id: String,
        body: String,
    },
    Typing {
        conversation_id: ConversationId,
        typing: bool,
    },
    Read {
        conversation_id: ConversationId,
        seq: i64,
    },
    Sync {
        conversation_id: ConversationId,
        after_seq: i64,
    },
    End {
        conversation_id: ConversationId,
    },
    Rate {
        conversation_id: ConversationId,
        score: i64,
        #[serde(default)]
        #[ts(optional)]
        comment: Option<String>,
    },
    OfflineMessage {
        email: String,
        body: String,
        #[serde(default)]
        #[ts(optional)]
        name: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        store_id: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        department_id: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        page_url: Option<String>,
        /// E.164: also tell the shopper by SMS when an expert answered (the merchant's gateway).
        #[serde(default)]
        #[ts(optional)]
        phone: Option<String>,
    },
    /// "If I leave, tell me when the expert answers": an address (and/or phone number) for the
    /// expert's unread answers while the shopper is away (see docs/protocol.md).
    NotifyMe {
        conversation_id: ConversationId,
        #[serde(default)]
        #[ts(optional)]
        email: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        phone: Option<String>,
    },
    Context {
        page_url: String,
        #[serde(default)]
        #[ts(optional)]
        page_title: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        product: Option<Product>,
    },
    Identify {
        email: String,
        #[serde(default)]
        #[ts(optional)]
        name: Option<String>,
        signature: String,
    },
    Ping,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExpertIn {
    Hello {
        /// Missing or empty: the socket closes with 4001.
        #[serde(default)]
        token: String,
    },
    SetStatus {
        #[serde(default)]
        #[ts(optional)]
        available: Option<bool>,
        #[serde(default)]
        #[ts(optional)]
        max_chats: Option<i64>,
        #[serde(default)]
        #[ts(optional)]
        store_ids: Option<Vec<String>>,
        #[serde(default)]
        #[ts(optional)]
        department_ids: Option<Vec<String>>,
    },
    Claim {
        conversation_id: ConversationId,
    },
    Send {
        conversation_id: ConversationId,
        client_msg_id: String,
        body: String,
        #[serde(default)]
        #[ts(optional)]
        product: Option<Product>,
    },
    Typing {
        conversation_id: ConversationId,
        typing: bool,
    },
    Read {
        conversation_id: ConversationId,
        seq: i64,
    },
    Sync {
        conversation_id: ConversationId,
        after_seq: i64,
    },
    Transfer {
        conversation_id: ConversationId,
        #[serde(default)]
        #[ts(optional)]
        department_id: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        expert_id: Option<String>,
        #[serde(default)]
        #[ts(optional)]
        note: Option<String>,
    },
    End {
        conversation_id: ConversationId,
    },
    History {
        shopper_id: String,
    },
    Contacts {
        #[serde(default)]
        #[ts(optional)]
        q: Option<String>,
    },
    SavedReplies {
        #[serde(default)]
        #[ts(optional)]
        q: Option<String>,
    },
    Ping,
}
