//! What an expert looks up: a shopper's history, their contacts, the saved replies.

use super::*;

impl ExpertSession {
    /// `history`: a contact's (or a shopper the expert served) recent conversations, newest
    /// first, in one frame.
    pub(super) async fn history(&self, hub: &Hub, conn: u64, m: &MerchantId, me_id: &str, shopper_id: String) -> Step {
        if !self.expert.as_ref().expect("greeted").features.contacts {
            hub.send_out(conn, &Out::error(ErrorCode::Forbidden, "Contacts is off for you", None));
            return Step::Continue;
        }
        let rows = hub.db.shopper_history(m, &shopper_id, 20).await.unwrap_or_default();
        let served = rows.iter().any(|r| r.expert_id.as_deref() == Some(me_id));
        if !served && !hub.db.is_contact(m, me_id, &shopper_id).await.unwrap_or(false) {
            hub.send_out(conn, &Out::error(ErrorCode::NotFound, "this shopper is not your contact", None));
            return Step::Continue;
        }
        let mut conversations = Vec::new();
        // One frame: the newest conversations first get the room; an older one's long
        // transcript may be cut short (its full transcript comes with `sync`).
        let mut room = protocol::MAX_PAGE_BYTES;
        for r in rows {
            let mut messages: Vec<_> = hub
                .db
                .messages_after(m, &r.id, 0, 200)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.view())
                .collect();
            if room == 0 {
                messages.clear();
            } else {
                room = room.saturating_sub(protocol::fit_page(&mut messages, room));
            }
            conversations.push(HistoryEntry {
                conversation: r.view(),
                messages,
            });
        }
        hub.send_out(conn, &Out::History { shopper_id, conversations });
        Step::Continue
    }

    /// `contacts`: the expert's contacts, optionally filtered.
    pub(super) async fn contacts(&self, hub: &Hub, conn: u64, m: &MerchantId, me_id: &str, q: Option<String>) -> Step {
        if !self.expert.as_ref().expect("greeted").features.contacts {
            hub.send_out(conn, &Out::error(ErrorCode::Forbidden, "Contacts is off for you", None));
            return Step::Continue;
        }
        let rows = hub.db.contacts_of(m, me_id, q.as_deref()).await.unwrap_or_default();
        let contacts = rows
            .into_iter()
            .map(|r| ContactView {
                shopper_id: r.shopper_id,
                name: r.name,
                email: r.email,
                last_chat_at: r.last_chat_at,
                conversations: r.conversations,
            })
            .collect();
        hub.send_out(conn, &Out::Contacts { contacts });
        Step::Continue
    }

    /// `saved_replies`: the merchant's saved replies matching `q` (shortcut, title or body).
    pub(super) async fn saved_replies(&self, hub: &Hub, conn: u64, m: &MerchantId, q: Option<String>) -> Step {
        let needle = q.unwrap_or_default().trim().trim_start_matches('/').to_lowercase();
        let items = hub
            .db
            .all_saved_replies(m)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| {
                needle.is_empty()
                    || r.shortcut.to_lowercase().contains(&needle)
                    || r.title.to_lowercase().contains(&needle)
                    || r.body.to_lowercase().contains(&needle)
            })
            .map(|r| SavedReplyView {
                id: r.id.to_string(),
                shortcut: r.shortcut,
                title: r.title,
                body: r.body,
            })
            .collect();
        hub.send_out(conn, &Out::SavedReplies { items });
        Step::Continue
    }
}
