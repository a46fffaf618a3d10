//! The chat protocol, version 1, as typed messages (see `docs/protocol.md`).
//!
//! Every frame is a JSON object tagged by `"type"`. The server parses client frames into
//! [`ShopperIn`] / [`ExpertIn`] and writes [`Out`]; the load test uses the same types.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub const PROTOCOL_VERSION: u32 = 1;
/// Largest text or product-card message body, in characters.
pub const MAX_BODY_CHARS: usize = 4000;
/// Largest WebSocket frame or message the server accepts, in bytes.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
pub const MAX_CLIENT_MSG_ID: usize = 64;
/// The messages one `messages` or `history` frame carries are cut to about this many bytes of
/// JSON (always at least one message): a page of long messages must stay well under what a
/// socket may have waiting to be written (256 KiB), and a client pages on with `sync` while
/// `last_seq` is ahead of what it has.
pub const MAX_PAGE_BYTES: usize = 128 * 1024;

/// Keep the longest prefix of `messages` whose JSON fits in `budget` bytes (at least one
/// message); returns the bytes kept.
pub fn fit_page(messages: &mut Vec<MessageView>, budget: usize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut used = 0;
    for (i, m) in messages.iter().enumerate() {
        let mut c = Count(1); // the comma between elements
        let _ = serde_json::to_writer(&mut c, m);
        if i > 0 && used + c.0 > budget {
            messages.truncate(i);
            break;
        }
        used += c.0;
    }
    used
}

/// The WebSocket close codes the server sends (docs/protocol.md, "Close codes"): 1000–1011 are
/// RFC 6455's, 4000–4999 ours. `protocol.ts` exports them as `CLOSE` (generated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CloseCode {
    Normal = 1000,
    /// The node is shutting down: reconnect (another node) and resume.
    GoingAway = 1001,
    /// RFC 6455: a frame that breaks the framing rules (reserved bits, opcodes, control frames).
    Protocol = 1002,
    /// RFC 6455: a text frame that is not UTF-8.
    InvalidData = 1007,
    TooBig = 1009,
    Internal = 1011,
    Unauthorized = 4001,
    HelloTimeout = 4002,
    Origin = 4003,
    UnknownMerchant = 4004,
    RateLimited = 4008,
    SlowConsumer = 4009,
    /// Nothing heard from the client (not even a pong) for 60 s.
    Idle = 4010,
    ProtocolError = 4400,
    BadVersion = 4426,
}

impl CloseCode {
    pub const ALL: [CloseCode; 15] = {
        use CloseCode::*;
        [
            Normal,
            GoingAway,
            Protocol,
            InvalidData,
            TooBig,
            Internal,
            Unauthorized,
            HelloTimeout,
            Origin,
            UnknownMerchant,
            RateLimited,
            SlowConsumer,
            Idle,
            ProtocolError,
            BadVersion,
        ]
    };

    /// The number in the close frame.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The code for a number the server sends (`None` for any other).
    pub fn from_code(code: u16) -> Option<CloseCode> {
        CloseCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Its name in the generated `CLOSE` of `protocol.ts`.
    pub const fn ts_name(self) -> &'static str {
        use CloseCode::*;
        match self {
            Normal => "NORMAL",
            GoingAway => "GOING_AWAY",
            Protocol => "PROTOCOL",
            InvalidData => "INVALID_DATA",
            TooBig => "TOO_BIG",
            Internal => "INTERNAL",
            Unauthorized => "UNAUTHORIZED",
            HelloTimeout => "HELLO_TIMEOUT",
            Origin => "ORIGIN",
            UnknownMerchant => "UNKNOWN_MERCHANT",
            RateLimited => "RATE_LIMITED",
            SlowConsumer => "SLOW_CONSUMER",
            Idle => "IDLE",
            ProtocolError => "PROTOCOL_ERROR",
            BadVersion => "BAD_VERSION",
        }
    }

    /// The reason sent with it when the code alone is the explanation.
    pub const fn reason(self) -> &'static str {
        use CloseCode::*;
        match self {
            Normal => "",
            GoingAway => "server restarting; reconnect",
            Protocol => "WebSocket protocol violation",
            InvalidData => "text frame is not UTF-8",
            TooBig => "frame too large",
            Internal => "server error; reconnect",
            Unauthorized => "unauthorized",
            HelloTimeout => "no hello",
            Origin => "origin not allowed",
            UnknownMerchant => "unknown merchant",
            RateLimited => "rate limit exceeded",
            SlowConsumer => "too slow; reconnect and resume",
            Idle => "idle; reconnect",
            ProtocolError => "protocol error",
            BadVersion => "unsupported protocol version",
        }
    }
}

/// Whether `u` may stand as the page a shopper is on: an absolute `http(s)` URL with a host, at
/// most 2000 characters, without whitespace or control characters. Anything else (`javascript:`,
/// `data:`, relative) is refused, so no screen can be handed a script URL as a link.
pub fn page_url_ok(u: &str) -> bool {
    u.chars().count() <= 2000
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
        && url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some_and(|h| !h.is_empty()))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, TS)]
pub struct Product {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub price: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub url: Option<String>,
}

impl Product {
    /// Checks lengths and that links are https (or site-relative), so a card cannot carry
    /// `javascript:` URLs.
    pub fn validate(&self) -> Result<(), String> {
        let safe = |u: &Option<String>| {
            u.as_deref().is_none_or(|u| {
                (u.starts_with("https://")
                    || (u.starts_with('/') && !u.starts_with("//"))
                    || u.starts_with("http://127.0.0.1")
                    || u.starts_with("http://localhost"))
                    && u.len() <= 1000
                    && !u.contains(char::is_whitespace)
            })
        };
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            return Err("product.name must be 1–200 characters".into());
        }
        if !safe(&self.url) || !safe(&self.image_url) {
            return Err("product links must be https:// URLs".into());
        }
        if self.id.as_deref().is_some_and(|s| s.len() > 100) || self.currency.as_deref().is_some_and(|s| s.len() > 10) {
            return Err("product.id or currency too long".into());
        }
        if self.price.is_some_and(|p| !p.is_finite() || p < 0.0) {
            return Err("product.price must be a non-negative number".into());
        }
        Ok(())
    }
}

// ---------- client → server ----------

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
        conversation_id: String,
        client_msg_id: String,
        body: String,
    },
    Typing {
        conversation_id: String,
        typing: bool,
    },
    Read {
        conversation_id: String,
        seq: i64,
    },
    Sync {
        conversation_id: String,
        after_seq: i64,
    },
    End {
        conversation_id: String,
    },
    Rate {
        conversation_id: String,
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
        conversation_id: String,
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
        conversation_id: String,
    },
    Send {
        conversation_id: String,
        client_msg_id: String,
        body: String,
        #[serde(default)]
        #[ts(optional)]
        product: Option<Product>,
    },
    Typing {
        conversation_id: String,
        typing: bool,
    },
    Read {
        conversation_id: String,
        seq: i64,
    },
    Sync {
        conversation_id: String,
        after_seq: i64,
    },
    Transfer {
        conversation_id: String,
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
        conversation_id: String,
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

// ---------- server → client ----------

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
    pub id: String,
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
    pub conversation_id: String,
    pub seq: i64,
    pub id: String,
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
    pub conversation_id: String,
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
    pub conversation_id: String,
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
        conversation_id: String,
        position: u32,
        estimated_wait_s: u32,
    },
    Message {
        message: MessageView,
    },
    Messages {
        conversation_id: String,
        messages: Vec<MessageView>,
        last_seq: i64,
    },
    Ack {
        conversation_id: String,
        client_msg_id: String,
        seq: i64,
        sent_at: i64,
    },
    Typing {
        conversation_id: String,
        role: String,
        typing: bool,
    },
    Read {
        conversation_id: String,
        role: String,
        seq: i64,
    },
    Unavailable {
        reason: String,
        offline_form: bool,
    },
    OfflineAck {
        conversation_id: String,
    },
    Identified {
        name: Option<String>,
        email: String,
    },
    /// To the experts in a chat: the shopper left (`away`) or is back; `reach` says how answers
    /// reach them meanwhile (`email`, `sms`; empty: only when they come back).
    ShopperAway {
        conversation_id: String,
        away: bool,
        reach: Vec<String>,
    },
    /// To the shopper: where answers reach them while away (the answer to `notify_me`).
    NotifyMe {
        conversation_id: String,
        email: Option<String>,
        phone: Option<String>,
    },
    Status(ExpertStatusView),
    Offer {
        offer: Offer,
    },
    OfferWithdrawn {
        conversation_id: String,
        reason: String,
    },
    ClaimFailed {
        conversation_id: String,
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

/// The code of an `error` frame (docs/protocol.md, "Errors"): clients switch on it, never on
/// the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed frame, missing or invalid field (fix the frame).
    BadRequest,
    /// No such conversation of yours (one of someone else's gets the same answer).
    NotFound,
    /// Not allowed (e.g. Contacts is off for you).
    Forbidden,
    /// `client_msg_id` reused with a different body.
    Conflict,
    /// Your own conversation is not in a state for this.
    InvalidState,
    /// Message body over the limit.
    TooLarge,
    /// Too many frames; slow down.
    RateLimited,
    /// The database is unreachable; nothing was stored (retry).
    Unavailable,
    /// (expert) You hold `max_chats` chats already.
    AtCapacity,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Conflict => "conflict",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::AtCapacity => "at_capacity",
        }
    }
}

/// Compare with the wire name (`code == "not_found"`), as clients and tests read it.
impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
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

/// Both welcome frames are sent as `"type":"welcome"`; the variants exist so that one enum
/// parses either side. This fixes up the tag on the way out and back in.
pub fn encode(out: &Out) -> String {
    let s = serde_json::to_string(out).expect("protocol types serialise");
    if s.starts_with("{\"type\":\"shopper_welcome\"") {
        s.replacen("shopper_welcome", "welcome", 1)
    } else if s.starts_with("{\"type\":\"expert_welcome\"") {
        s.replacen("expert_welcome", "welcome", 1)
    } else {
        s
    }
}

/// Parse a server frame (for clients such as the load test and the tests).
pub fn decode(text: &str) -> Result<Out, serde_json::Error> {
    if text.starts_with("{\"type\":\"welcome\"") {
        let fixed = if text.contains("\"shopper_id\"") && !text.contains("\"offers\"") {
            text.replacen("\"welcome\"", "\"shopper_welcome\"", 1)
        } else {
            text.replacen("\"welcome\"", "\"expert_welcome\"", 1)
        };
        return serde_json::from_str(&fixed);
    }
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code in docs/protocol.md's error table is an [`ErrorCode`] that serialises to it,
    /// and every [`ErrorCode`] is in the table.
    #[test]
    fn error_codes_are_the_documented_ones() {
        let doc = include_str!("../../docs/protocol.md");
        let table = &doc[doc.find("| code | meaning | retry? |").expect("the error table")..];
        let documented: Vec<&str> = table
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.split('`').nth(1).expect("a code in backticks"))
            .collect();
        let all = [
            ErrorCode::BadRequest,
            ErrorCode::NotFound,
            ErrorCode::Forbidden,
            ErrorCode::Conflict,
            ErrorCode::InvalidState,
            ErrorCode::TooLarge,
            ErrorCode::RateLimited,
            ErrorCode::Unavailable,
            ErrorCode::AtCapacity,
        ];
        let ours: Vec<&str> = all.iter().map(|c| c.as_str()).collect();
        assert_eq!(documented, ours, "docs/protocol.md's error table and ErrorCode differ");
        for c in all {
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::json!(c.as_str()));
            assert_eq!(serde_json::from_value::<ErrorCode>(serde_json::json!(c.as_str())).unwrap(), c);
        }
    }

    /// docs/protocol.md's close-code table lists exactly the [`CloseCode`]s, in the same order.
    #[test]
    fn close_codes_are_the_documented_ones() {
        let doc = include_str!("../../docs/protocol.md");
        let table = &doc[doc.find("| code | reason | client should |").expect("the close-code table")..];
        let documented: Vec<u16> = table
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.split('|').nth(1).unwrap().trim().parse().expect("a number in the first column"))
            .collect();
        let ours: Vec<u16> = CloseCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(documented, ours, "docs/protocol.md's close-code table and CloseCode differ");
        for c in CloseCode::ALL {
            assert_eq!(CloseCode::from_code(c.code()), Some(c));
            assert!(c == CloseCode::Normal || !c.reason().is_empty(), "{c:?} has no reason");
            // A close reason may be at most 123 bytes (RFC 6455 §5.5).
            assert!(c.reason().len() <= 123);
        }
        assert_eq!(CloseCode::from_code(4000), None);
    }

    #[test]
    fn frames_round_trip_with_the_documented_tags() {
        let f: ShopperIn = serde_json::from_str(r#"{"type":"send","conversation_id":"c","client_msg_id":"m","body":"hi"}"#).unwrap();
        assert_eq!(
            f,
            ShopperIn::Send {
                conversation_id: "c".into(),
                client_msg_id: "m".into(),
                body: "hi".into()
            }
        );
        let e: ExpertIn = serde_json::from_str(r#"{"type":"claim","conversation_id":"c"}"#).unwrap();
        assert_eq!(
            e,
            ExpertIn::Claim {
                conversation_id: "c".into()
            }
        );
        let out = Out::ShopperWelcome {
            protocol: 1,
            shopper_id: "shp_x".into(),
            token: "t".into(),
            conversations: vec![],
            availability: Availability {
                open: true,
                experts_available: 2,
                experts_online: 3,
            },
            notify: vec![],
        };
        let s = encode(&out);
        assert!(s.starts_with(r#"{"type":"welcome""#));
        assert_eq!(decode(&s).unwrap(), out);
        let ack = Out::Ack {
            conversation_id: "c".into(),
            client_msg_id: "m".into(),
            seq: 3,
            sent_at: 1,
        };
        assert_eq!(decode(&encode(&ack)).unwrap(), ack);
        assert!(
            serde_json::from_str::<ShopperIn>(r#"{"type":"claim","conversation_id":"c"}"#).is_err(),
            "shoppers cannot claim"
        );
    }

    #[test]
    fn product_links_must_be_safe() {
        let mut p = Product {
            name: "TV".into(),
            url: Some("https://shop.example/tv".into()),
            ..Default::default()
        };
        assert!(p.validate().is_ok());
        p.url = Some("javascript:alert(1)".into());
        assert!(p.validate().is_err());
        p.url = Some("//evil.example".into());
        assert!(p.validate().is_err());
    }
}

#[cfg(test)]
mod page_tests {
    use super::*;

    fn msg(seq: i64, body: &str) -> MessageView {
        MessageView {
            conversation_id: "c".into(),
            seq,
            id: format!("m{seq}"),
            author: Author {
                role: "expert".into(),
                name: Some("E".into()),
                expert_id: Some("e".into()),
            },
            kind: "text".into(),
            body: body.into(),
            product: None,
            data: None,
            client_msg_id: None,
            sent_at: 0,
        }
    }

    #[test]
    fn a_page_of_long_messages_is_cut_to_the_budget_and_never_to_nothing() {
        let long = "é".repeat(4000); // 8,000 bytes of UTF-8
        let mut page: Vec<_> = (1..=500).map(|s| msg(s, &long)).collect();
        let used = fit_page(&mut page, MAX_PAGE_BYTES);
        assert!(page.len() > 10 && page.len() < 20, "{} kept", page.len());
        assert!(used <= MAX_PAGE_BYTES);
        assert_eq!(page.last().unwrap().seq, page.len() as i64, "a prefix, in order");
        let frame = serde_json::to_string(&page).unwrap();
        assert!(frame.len() <= MAX_PAGE_BYTES + 2, "{} bytes", frame.len());

        let mut short: Vec<_> = (1..=500).map(|s| msg(s, "ok")).collect();
        fit_page(&mut short, MAX_PAGE_BYTES);
        assert_eq!(short.len(), 500, "short messages all fit");

        let mut one = vec![msg(1, &"x".repeat(200_000))];
        fit_page(&mut one, MAX_PAGE_BYTES);
        assert_eq!(one.len(), 1, "one message is always sent, however long");
    }
}
