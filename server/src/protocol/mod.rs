//! The chat protocol, version 1, as typed messages (see `docs/protocol.md`).
//!
//! Every frame is a JSON object tagged by `"type"`. The server parses client frames into
//! [`ShopperIn`] / [`ExpertIn`] and writes [`Out`]; the load test uses the same types.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

mod client;
mod codes;
mod server;
pub use crate::ids::{ConversationId, MessageId};
pub use client::*;
pub use codes::*;
pub use server::*;

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
        let doc = include_str!("../../../docs/protocol.md");
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
        let doc = include_str!("../../../docs/protocol.md");
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
                conversation_id: ConversationId::from_db("c".into()),
                client_msg_id: "m".into(),
                body: "hi".into()
            }
        );
        let e: ExpertIn = serde_json::from_str(r#"{"type":"claim","conversation_id":"c"}"#).unwrap();
        assert_eq!(
            e,
            ExpertIn::Claim {
                conversation_id: ConversationId::from_db("c".into())
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
            conversation_id: ConversationId::from_db("c".into()),
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
            conversation_id: ConversationId::from_db("c".into()),
            seq,
            id: MessageId::from_db(format!("m{seq}")),
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
