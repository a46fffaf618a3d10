//! A conversation's lifecycle: `queued` → `offered` → `claimed` → `ended` | `missed` |
//! `abandoned` (a claimed chat can go back to `queued`: transfer, unanswered claim).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// Waiting, not offered to anyone yet.
    Queued,
    /// Waiting, offered to one or more experts.
    Offered,
    /// An expert has it.
    Claimed,
    Ended,
    /// Nobody claimed it in the merchant's time.
    Missed,
    /// The shopper left before anyone claimed it.
    Abandoned,
}

impl ConversationStatus {
    pub const ALL: [ConversationStatus; 6] = [
        ConversationStatus::Queued,
        ConversationStatus::Offered,
        ConversationStatus::Claimed,
        ConversationStatus::Ended,
        ConversationStatus::Missed,
        ConversationStatus::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Queued => "queued",
            ConversationStatus::Offered => "offered",
            ConversationStatus::Claimed => "claimed",
            ConversationStatus::Ended => "ended",
            ConversationStatus::Missed => "missed",
            ConversationStatus::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<ConversationStatus> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Waiting for an expert (queued or offered).
    pub fn is_waiting(self) -> bool {
        matches!(self, ConversationStatus::Queued | ConversationStatus::Offered)
    }

    /// Not over yet: waiting or claimed.
    pub fn is_open(self) -> bool {
        self.is_waiting() || self == ConversationStatus::Claimed
    }
}

impl std::fmt::Display for ConversationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compare with the wire name (`status == "claimed"`), as clients and tests read it.
impl PartialEq<&str> for ConversationStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Stored as text; a value the code does not know is a corrupt row, not a silent default.
impl TryFrom<String> for ConversationStatus {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ConversationStatus::parse(&s).ok_or_else(|| format!("unknown conversation status {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_as_written() {
        for s in ConversationStatus::ALL {
            assert_eq!(ConversationStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
        assert_eq!(ConversationStatus::parse("closed"), None);
        assert!(ConversationStatus::try_from("Queued".to_owned()).is_err());
    }
}
