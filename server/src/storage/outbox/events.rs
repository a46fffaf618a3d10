//! Webhook events: their types and typed payloads (documented in the OpenAPI document's
//! `webhooks` section, `outbound/events.rs`, and in docs/webhooks.md), and how one becomes an
//! outbox row. They live in storage because storage writes them, in the same transaction as the
//! change they announce (a claim, a message…); `outbound` delivers them.
//!
//! Every delivery body is a Standard Webhooks envelope `{"type", "timestamp", "data"}`; `data`
//! has one schema per type. Ids are the same strings the REST API and the socket protocol use.

use serde::Serialize;
use utoipa::ToSchema;

use super::{NewEvent, Outgoing};
use crate::ids::{ConversationId, MerchantId, MessageId};

/// Event types a merchant can subscribe an endpoint to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "conversation.requested")]
    ConversationRequested,
    #[serde(rename = "conversation.claimed")]
    ConversationClaimed,
    #[serde(rename = "conversation.transferred")]
    ConversationTransferred,
    #[serde(rename = "conversation.ended")]
    ConversationEnded,
    #[serde(rename = "conversation.missed")]
    ConversationMissed,
    #[serde(rename = "conversation.rated")]
    ConversationRated,
    #[serde(rename = "offline_message.created")]
    OfflineMessageCreated,
    #[serde(rename = "shopper.identified")]
    ShopperIdentified,
    /// Every chat message: many deliveries, so only endpoints that ask for it by name get it.
    #[serde(rename = "message.created")]
    MessageCreated,
    /// A cart sent in a chat (arrives with the commerce work).
    #[serde(rename = "cart.sent")]
    CartSent,
    /// An order's status changed (arrives with the commerce work).
    #[serde(rename = "order.updated")]
    OrderUpdated,
    /// Sent by "Send test event"; never by anything else.
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::ConversationRequested,
        EventType::ConversationClaimed,
        EventType::ConversationTransferred,
        EventType::ConversationEnded,
        EventType::ConversationMissed,
        EventType::ConversationRated,
        EventType::OfflineMessageCreated,
        EventType::ShopperIdentified,
        EventType::MessageCreated,
        EventType::CartSent,
        EventType::OrderUpdated,
        EventType::WebhookTest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ConversationRequested => "conversation.requested",
            EventType::ConversationClaimed => "conversation.claimed",
            EventType::ConversationTransferred => "conversation.transferred",
            EventType::ConversationEnded => "conversation.ended",
            EventType::ConversationMissed => "conversation.missed",
            EventType::ConversationRated => "conversation.rated",
            EventType::OfflineMessageCreated => "offline_message.created",
            EventType::ShopperIdentified => "shopper.identified",
            EventType::MessageCreated => "message.created",
            EventType::CartSent => "cart.sent",
            EventType::OrderUpdated => "order.updated",
            EventType::WebhookTest => "webhook.test",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// Whether an endpoint can subscribe to it (the test event goes to whoever asks for it).
    pub fn subscribable(self) -> bool {
        self != EventType::WebhookTest
    }

    /// Whether a new endpoint gets it unless told otherwise (`message.created` is opt-in).
    pub fn default_on(self) -> bool {
        self.subscribable() && self != EventType::MessageCreated
    }

    pub fn description(self) -> &'static str {
        match self {
            EventType::ConversationRequested => "A shopper asked for a chat.",
            EventType::ConversationClaimed => "An expert claimed a chat.",
            EventType::ConversationTransferred => "An expert handed a chat to another department or expert.",
            EventType::ConversationEnded => "A chat ended (or the shopper left before it was claimed: status abandoned).",
            EventType::ConversationMissed => "Nobody claimed a chat in time.",
            EventType::ConversationRated => "The shopper rated a chat.",
            EventType::OfflineMessageCreated => "A shopper left a message while nobody was available.",
            EventType::ShopperIdentified => "A shopper was identified (name, e-mail).",
            EventType::MessageCreated => "A chat message was stored (opt-in: one delivery per message).",
            EventType::CartSent => "An expert sent a cart in a chat.",
            EventType::OrderUpdated => "An order's status changed.",
            EventType::WebhookTest => "A test sent from the dashboard.",
        }
    }
}

/// A named thing (store, department, expert).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// A conversation as events describe it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationInfo {
    pub id: ConversationId,
    pub status: crate::domain::conversation::ConversationStatus,
    pub shopper_id: String,
    pub store: Named,
    pub department: Named,
    #[schema(required = true)]
    pub expert: Option<Named>,
    /// Left through the offline form.
    pub offline: bool,
    #[schema(required = true)]
    pub page_url: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    #[schema(required = true)]
    pub claimed_at: Option<i64>,
    #[schema(required = true)]
    pub ended_at: Option<i64>,
}

/// `conversation.requested`, `.claimed`, `.ended`, `.missed`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationData {
    pub conversation: ConversationInfo,
}

/// `conversation.transferred`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransferData {
    pub conversation: ConversationInfo,
    /// The expert who handed it on.
    pub from_expert: Named,
    /// A named expert it waits for, if any.
    #[schema(required = true)]
    pub to_expert_id: Option<String>,
    #[schema(required = true)]
    pub note: Option<String>,
}

/// `conversation.rated`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RatedData {
    pub conversation: ConversationInfo,
    /// 1–5.
    pub score: i64,
    #[schema(required = true)]
    pub comment: Option<String>,
}

/// `offline_message.created`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OfflineMessageData {
    pub conversation: ConversationInfo,
    #[schema(required = true)]
    pub name: Option<String>,
    pub email: String,
    pub message: String,
}

/// `shopper.identified`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShopperData {
    pub shopper_id: String,
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub email: Option<String>,
}

/// `message.created`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageData {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
    pub seq: i64,
    /// shopper | expert | system
    pub author_role: String,
    #[schema(required = true)]
    pub expert_id: Option<String>,
    /// text | product | system
    pub kind: String,
    pub body: String,
    pub sent_at: i64,
}

/// One line of a cart.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartLine {
    pub name: String,
    #[schema(required = true)]
    pub sku: Option<String>,
    pub quantity: i64,
    /// Decimal string in the cart's currency, e.g. "19.90".
    pub unit_price: String,
}

/// `cart.sent`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartData {
    pub conversation_id: ConversationId,
    pub cart_id: String,
    /// ISO 4217.
    pub currency: String,
    /// Decimal string, VAT included.
    pub total: String,
    pub lines: Vec<CartLine>,
    #[schema(required = true)]
    pub payment_url: Option<String>,
}

/// `order.updated`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderData {
    pub order_id: String,
    pub shopper_id: String,
    /// placed | paid | fulfilled | cancelled | refunded
    pub status: String,
    /// Decimal string.
    pub amount: String,
    pub currency: String,
    #[schema(required = true)]
    pub conversation_id: Option<ConversationId>,
    #[schema(required = true)]
    pub expert_id: Option<String>,
    /// Handling stage it moved to: new | in_progress | shipped | completed | cancelled | refunded.
    pub stage: String,
    /// With `shipped`: the carrier, the tracking number and link (when given).
    #[schema(required = true)]
    pub carrier: Option<String>,
    #[schema(required = true)]
    pub tracking_number: Option<String>,
    #[schema(required = true)]
    pub tracking_url: Option<String>,
}

/// `webhook.test`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TestData {
    pub endpoint_id: String,
    pub message: String,
}

/// The body of every delivery (Standard Webhooks' recommended shape).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// The event type, e.g. `conversation.claimed`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When it happened, RFC 3339 in UTC.
    pub timestamp: String,
    pub merchant_id: String,
    pub data: T,
}

/// How long webhook deliveries are retried (Standard Webhooks recommends days; we give a day).
pub const WEBHOOK_GIVE_UP_MS: i64 = 24 * 3_600_000;

/// A webhook id (`msg_…`): unique, without dots (it is part of the signed content).
pub fn new_event_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

/// The outbox item for an event: fanned out to the merchant's subscribed endpoints, in the
/// caller's transaction. `speedup` shortens the give-up time in tests.
pub fn event<T: Serialize>(
    merchant: &MerchantId,
    kind: EventType,
    conversation_id: Option<&ConversationId>,
    data: &T,
    speedup: u32,
) -> Outgoing {
    let body = serde_json::to_string(&Envelope {
        kind: kind.as_str(),
        timestamp: rfc3339(crate::now_ms()),
        merchant_id: merchant.to_string(),
        data,
    })
    .expect("event payloads serialise");
    Outgoing::Event(NewEvent {
        merchant_id: merchant.clone(),
        event_type: kind.as_str().to_owned(),
        event_id: new_event_id(),
        body,
        conversation_id: conversation_id.cloned(),
        only_endpoint: None,
        key_suffix: None,
        give_up_after_ms: WEBHOOK_GIVE_UP_MS / i64::from(speedup.max(1)),
    })
}

pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A conversation row as events describe it.
pub fn conversation_info(c: &crate::storage::ConversationRow) -> ConversationInfo {
    ConversationInfo {
        id: c.id.clone(),
        status: c.status,
        shopper_id: c.shopper_id.clone(),
        store: Named {
            id: c.store_id.clone(),
            name: c.store_name.clone(),
        },
        department: Named {
            id: c.department_id.clone(),
            name: c.department_name.clone(),
        },
        expert: match (&c.expert_id, &c.expert_name) {
            (Some(id), Some(name)) => Some(Named {
                id: id.clone(),
                name: name.clone(),
            }),
            _ => None,
        },
        offline: c.offline != 0,
        page_url: c.page_url.clone(),
        created_at: c.created_at,
        claimed_at: c.claimed_at,
        ended_at: c.ended_at,
    }
}
