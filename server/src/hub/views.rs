//! The wire's views of what storage holds: storage returns rows and records, and what a client
//! is sent about them is decided here (inherent `impl`s of the storage types, so callers write
//! `row.view()`).

use crate::protocol::{Author, ConversationView, MessageView, NamedRef, PageVisit, Product, Rating, ShopperRef};
use crate::storage::{ConversationRow, PageViewed, StoredMessage};

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

/// A message's product (kind "product") or its data (kinds "system", "cart", "attachment")
/// from its stored JSON.
fn payload(kind: &str, data_json: Option<&str>) -> (Option<Product>, Option<serde_json::Value>) {
    let data: Option<serde_json::Value> = data_json.and_then(|d| serde_json::from_str(d).ok());
    match kind {
        "product" => (data.and_then(|d| serde_json::from_value(d).ok()), None),
        "system" | "cart" => (None, data),
        // A photo: {attachment_id, mime, width, height, thumb_width, thumb_height} (issue 24).
        "attachment" => (None, data),
        _ => (None, None),
    }
}

impl StoredMessage {
    /// The message as its conversation's sockets are sent it.
    pub fn view(self) -> MessageView {
        let (product, data) = payload(&self.kind, self.data_json.as_deref());
        MessageView {
            conversation_id: self.conversation_id,
            seq: self.seq,
            id: self.id,
            author: Author {
                role: self.author_role,
                name: self.expert_name,
                expert_id: self.expert_id,
            },
            kind: self.kind,
            body: self.body,
            product,
            data,
            client_msg_id: self.client_msg_id,
            sent_at: self.created_at,
        }
    }
}

/// Page views as offers and the journey show them (a view whose data cannot be read is left
/// out; an empty title is none).
pub fn page_visits(rows: Vec<PageViewed>) -> Vec<PageVisit> {
    #[derive(serde::Deserialize)]
    struct Seen {
        url: String,
        title: Option<String>,
        product: Option<Product>,
    }
    rows.into_iter()
        .filter_map(|r| {
            let v: Seen = serde_json::from_str(&r.data_json).ok()?;
            Some(PageVisit {
                at: r.at,
                url: v.url,
                title: v.title.filter(|t| !t.is_empty()),
                product: v.product,
            })
        })
        .collect()
}
