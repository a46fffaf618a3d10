//! The close codes and error codes clients act on (docs/protocol.md, "Close codes" and
//! "Errors"); `protocol.ts` has both, generated.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

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
