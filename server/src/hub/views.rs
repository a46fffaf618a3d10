//! The wire's views of what storage holds: storage returns rows, and what a client is sent
//! about them is decided here (an inherent `impl` of the storage row, so callers write
//! `row.view()`).

use crate::protocol::{ConversationView, NamedRef, Product, Rating, ShopperRef};
use crate::storage::ConversationRow;

impl ConversationRow {
    /// The product the chat was started from, as sent in offers and views.
    pub fn product(&self) -> Option<Product> {
        self.product_json.as_deref().and_then(|p| serde_json::from_str(p).ok())
    }
    /// The conversation as its shopper and expert are sent it.
    pub fn view(&self) -> ConversationView {
        ConversationView {
            id: self.id.clone(),
            status: self.status,
            store: NamedRef {
                id: self.store_id.clone(),
                name: self.store_name.clone(),
            },
            department: NamedRef {
                id: self.department_id.clone(),
                name: self.department_name.clone(),
            },
            expert: match (&self.expert_id, &self.expert_name) {
                (Some(id), Some(name)) => Some(NamedRef {
                    id: id.clone(),
                    name: name.clone(),
                }),
                _ => None,
            },
            shopper: ShopperRef {
                id: self.shopper_id.clone(),
                name: self.shopper_name.clone(),
            },
            created_at: self.created_at,
            claimed_at: self.claimed_at,
            ended_at: self.ended_at,
            last_seq: self.last_seq,
            page_url: self.page_url.clone(),
            product: self.product(),
            offline: self.offline != 0,
            rating: self.rating.map(|score| Rating {
                score,
                comment: self.rating_comment.clone(),
            }),
            shopper_read_seq: self.shopper_read_seq,
            expert_read_seq: self.expert_read_seq,
        }
    }
}
