//! A shopper's `hello` (a new or returning shopper, their open chats) and the last-seen mark.

use super::requests::any_store_open;
use super::*;

impl ShopperSession {
    /// Record that the shopper is here now (at most once a minute per socket).
    pub(super) async fn seen(&mut self, hub: &Hub, shopper: &str) {
        let now = now_ms();
        if now - self.seen_at < 60_000 {
            return;
        }
        self.seen_at = now;
        if let Err(e) = hub.db.shopper_seen(&self.merchant, shopper, now).await {
            tracing::debug!(error = %e, "last seen not stored");
        }
    }

    pub(super) async fn hello(&mut self, hub: &Hub, conn: u64, token: Option<&str>) -> Step {
        let m = self.merchant.clone();
        let known = match token.and_then(|t| hub.verify_shopper_token(m.as_str(), t)) {
            Some(id) => match hub.db.shopper_exists(&m, &id).await {
                Ok(true) => Some(id),
                Ok(false) => None,
                Err(_) => return Step::Close(CloseCode::Internal),
            },
            None => None,
        };
        let (shopper, convs) = match known {
            Some(id) => {
                let convs = hub.db.shopper_conversations(&m, &id).await.unwrap_or_default();
                // A returning shopper: "last seen" is now.
                self.seen(hub, &id).await;
                (id, convs)
            }
            // A shopper made just now has no conversations yet.
            None => match hub.db.create_shopper(&m).await {
                Ok(s) => {
                    self.seen_at = s.last_seen_at;
                    (s.id.to_string(), Vec::new())
                }
                Err(_) => return Step::Close(CloseCode::Internal),
            },
        };
        let token = hub.shopper_token(m.as_str(), &shopper);
        let open = any_store_open(hub, &m).await;
        let staffing = hub
            .stores(&m)
            .await
            .map(|stores| hub.staffing(m.as_str(), &crate::hub::Staffing::catalogue(&stores)))
            .unwrap_or_default();
        let notify = if convs.iter().any(|c| c.status.is_open()) {
            hub.reach().notify_states(hub, &m, &shopper).await
        } else {
            Vec::new()
        };
        hub.add_shopper_conn(&shopper, conn);
        // Here, on every node's reckoning, before the welcome.
        hub.shopper_arrived(&m, &shopper).await;
        // The welcome is the socket's first frame: it is queued before the socket follows any
        // conversation, so a message relayed from another node cannot overtake it. What is
        // stored in between reaches the shopper through their `sync` (read after this).
        hub.send_out(
            conn,
            &Out::ShopperWelcome {
                protocol: PROTOCOL_VERSION,
                shopper_id: shopper.clone(),
                token,
                conversations: convs.iter().map(|c| c.view()).collect(),
                availability: Availability {
                    open,
                    experts_available: staffing.available as u32,
                    experts_online: staffing.online as u32,
                },
                notify,
            },
        );
        for c in &convs {
            self.follow(hub, conn, &c.id);
        }

        if convs.iter().any(|c| c.status.is_open()) {
            // Back (after the welcome, the first frame): their chats are not away any more.
            let (hub, m, s) = (hub.clone(), m.clone(), shopper.clone());
            tokio::spawn(async move { hub.reach().shopper_back(&hub, &m, &s).await });
        }
        self.shopper = Some(shopper);
        Step::Continue
    }
}
