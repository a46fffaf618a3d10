//! Dashboard modules, account roles, expert lifecycle and per-expert store-app features.

use serde::{Deserialize, Serialize};

/// A part of the dashboard an account may open. Checked on every route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    Analytics,
    Exports,
    Stores,
    Team,
    Settings,
    SavedReplies,
    Shoppers,
    Integrations,
    /// Products experts put in carts (issue 22).
    Catalogue,
    /// Orders from carts and their handling (issue 22).
    Orders,
}

impl Module {
    pub const ALL: [Module; 10] = [
        Module::Analytics,
        Module::Exports,
        Module::Stores,
        Module::Team,
        Module::Settings,
        Module::SavedReplies,
        Module::Shoppers,
        Module::Integrations,
        Module::Catalogue,
        Module::Orders,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Module::Analytics => "analytics",
            Module::Exports => "exports",
            Module::Stores => "stores",
            Module::Team => "team",
            Module::Settings => "settings",
            Module::SavedReplies => "saved_replies",
            Module::Shoppers => "shoppers",
            Module::Integrations => "integrations",
            Module::Catalogue => "catalogue",
            Module::Orders => "orders",
        }
    }

    /// Whether a merchant API key (server-to-server) may call this module's routes. Keys can
    /// read and feed data; they cannot manage people, settings or other keys.
    pub fn api_key_allowed(self) -> bool {
        matches!(
            self,
            Module::Analytics
                | Module::Exports
                | Module::Stores
                | Module::SavedReplies
                | Module::Shoppers
                | Module::Catalogue
                | Module::Orders
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Spans merchants; owns Access and Demo.
    Operator,
    /// Belongs to one merchant; opens the modules it was given.
    Merchant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Merchant => "merchant",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "operator" => Some(Role::Operator),
            "merchant" => Some(Role::Merchant),
            _ => None,
        }
    }
}

/// Expert lifecycle: sign-up makes `pending`; the merchant approves; deactivation is reversible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpertStatus {
    Pending,
    Approved,
    Deactivated,
}

impl ExpertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpertStatus::Pending => "pending",
            ExpertStatus::Approved => "approved",
            ExpertStatus::Deactivated => "deactivated",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "deactivated" => Some(Self::Deactivated),
            _ => None,
        }
    }
}

/// Lifecycle actions a merchant can take on an expert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpertAction {
    Approve,
    Deactivate,
    Reactivate,
}

impl ExpertAction {
    /// The status after the action, or `None` when the action does not apply to `from`.
    pub fn apply(self, from: ExpertStatus) -> Option<ExpertStatus> {
        use ExpertStatus::*;
        match (self, from) {
            (ExpertAction::Approve, Pending) => Some(Approved),
            (ExpertAction::Deactivate, Pending | Approved) => Some(Deactivated),
            (ExpertAction::Reactivate, Deactivated) => Some(Approved),
            _ => None,
        }
    }
}

/// Store-app features a merchant switches on or off per expert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(default)]
pub struct ExpertFeatures {
    /// The expert keeps contacts (shoppers they served) and sees their history.
    pub contacts: bool,
    /// The expert may share products as cards in the chat.
    pub product_sharing: bool,
    /// The expert may transfer chats to other departments or experts.
    pub transfers: bool,
}

impl Default for ExpertFeatures {
    fn default() -> Self {
        ExpertFeatures {
            contacts: true,
            product_sharing: true,
            transfers: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_transitions() {
        use ExpertAction::*;
        use ExpertStatus::*;
        assert_eq!(Approve.apply(Pending), Some(Approved));
        assert_eq!(Approve.apply(Approved), None);
        assert_eq!(Deactivate.apply(Approved), Some(Deactivated));
        assert_eq!(Reactivate.apply(Deactivated), Some(Approved));
        assert_eq!(Reactivate.apply(Pending), None);
    }
}
