//! An expert's `hello` (the store-app token, the welcome, resuming their chats) and their
//! availability (`set_status`: available or away, where, how many chats at once).

use super::*;
use crate::ids::ConversationId;

impl ExpertSession {
    pub(super) async fn hello(&mut self, hub: &Hub, conn: u64, token: &str) -> Step {
        if !token.starts_with(auth::EXPERT_TOKEN_PREFIX) {
            return Step::Close(CloseCode::Unauthorized);
        }
        let token_hash = auth::token_hash(token);
        let epoch = hub.revocation_epoch();
        let s = match hub.db.expert_session(&token_hash).await {
            Ok(Some(s)) if s.expert.status == ExpertStatus::Approved => s,
            Ok(_) => return Step::Close(CloseCode::Unauthorized),
            Err(_) => return Step::Close(CloseCode::Internal),
        };
        // Signing out, a password change or a deactivation (of the expert or the merchant)
        // closes this socket; one that landed while the token was checked is caught here.
        let (expert_id, merchant_id) = (s.expert.id.to_string(), s.expert.merchant_id.to_string());
        hub.watch_conn(
            conn,
            &[
                Cred::ExpertToken(&token_hash),
                Cred::Expert(&expert_id),
                Cred::Merchant(&merchant_id),
            ],
            CloseCode::Unauthorized,
        );
        if hub.revoked_since(epoch)
            && !matches!(hub.db.expert_session(&token_hash).await, Ok(Some(ref s)) if s.expert.status == ExpertStatus::Approved)
        {
            return Step::Close(CloseCode::Unauthorized);
        }
        let e = s.expert;
        let m = e.merchant_id.clone();
        let saved: SavedPresence = hub
            .db
            .expert_presence_json(&m, e.id.as_str())
            .await
            .ok()
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default();
        let open = hub.db.expert_open_conversations(&m, e.id.as_str()).await.unwrap_or_default();
        let assigned_stores: Vec<String> = e.store_ids.iter().map(|s| s.to_string()).collect();
        let assigned_departments: Vec<String> = e.department_ids.iter().map(|d| d.to_string()).collect();
        let presence = Presence {
            merchant_id: m.to_string(),
            name: e.name.clone(),
            conns: vec![],
            available: saved.available.unwrap_or(true),
            own_cap: saved.own_cap.unwrap_or(e.max_chats),
            merchant_cap: e.max_chats,
            working_stores: saved.store_ids.iter().filter(|s| assigned_stores.contains(s)).cloned().collect(),
            working_departments: saved
                .department_ids
                .iter()
                .filter(|d| assigned_departments.contains(d))
                .cloned()
                .collect(),
            assigned_stores: assigned_stores.clone(),
            assigned_departments: assigned_departments.clone(),
            active: open.len() as i64,
            contacts_on: e.features.contacts,
        };
        hub.add_presence(e.id.as_str(), presence);
        let stores = hub.stores(&m).await.unwrap_or_default();
        let stores = stores
            .iter()
            .filter(|s| assigned_stores.contains(&s.id.to_string()))
            .map(|s| StoreChoice {
                id: s.id.to_string(),
                name: s.name.clone(),
                departments: s
                    .departments
                    .iter()
                    .filter(|d| assigned_departments.contains(&d.id.to_string()))
                    .map(|d| NamedRef {
                        id: d.id.to_string(),
                        name: d.name.clone(),
                    })
                    .collect(),
            })
            .collect();
        self.merchant = Some(m.clone());
        self.expert = Some(Me {
            id: e.id.to_string(),
            name: e.name.clone(),
            features: e.features.clone(),
        });
        let status = hub.roster.get(e.id.as_str()).map(|p| p.status()).expect("just added");
        let offers = hub.backlog(e.id.as_str()).await;
        let colleagues = hub
            .db
            .approved_expert_names(&m)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|(id, _)| id.as_str() != e.id.as_str())
            .map(|(id, name)| NamedRef { id, name })
            .collect();
        let welcomed: std::collections::HashSet<ConversationId> = offers.iter().map(|o| o.conversation_id.clone()).collect();
        // The welcome is this socket's first frame: the socket joins the expert's presence (and
        // then the open conversations) only as it is queued.
        hub.attach_conn(
            e.id.as_str(),
            conn,
            &Out::ExpertWelcome {
                protocol: PROTOCOL_VERSION,
                expert: ExpertView {
                    id: e.id.to_string(),
                    name: e.name,
                    features: serde_json::to_value(&e.features).expect("features"),
                    max_chats: e.max_chats,
                    stores,
                },
                status,
                conversations: open.iter().map(|c| c.view()).collect(),
                offers,
                colleagues,
            },
        );
        for c in &open {
            self.follow(hub, conn, &c.id);
        }
        // Offers that reached this expert while the backlog was read went to their other
        // sockets (or none): this one gets them after the welcome.
        let late: Vec<ConversationId> = hub
            .offers
            .held_list(e.id.as_str())
            .into_iter()
            .filter(|c| !welcomed.contains(c))
            .collect();
        for conversation in late {
            if let Some(offer) = hub.offer_for(&m, &conversation, e.id.as_str()).await {
                hub.send_out(conn, &Out::Offer { offer });
            }
        }
        Step::Continue
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn set_status(
        &mut self,
        hub: &Hub,
        conn: u64,
        m: &MerchantId,
        me: &str,
        available: Option<bool>,
        max_chats: Option<i64>,
        store_ids: Option<Vec<String>>,
        department_ids: Option<Vec<String>>,
    ) -> Step {
        if max_chats.is_some_and(|c| !(1..=20).contains(&c)) {
            hub.send_out(conn, &Out::error(ErrorCode::BadRequest, "max_chats must be 1–20", None));
            return Step::Continue;
        }
        let (before, after) = {
            let Some(mut p) = hub.roster.get_mut(me) else {
                return Step::Close(CloseCode::Internal);
            };
            if store_ids.as_ref().is_some_and(|s| s.iter().any(|x| !p.assigned_stores.contains(x)))
                || department_ids
                    .as_ref()
                    .is_some_and(|d| d.iter().any(|x| !p.assigned_departments.contains(x)))
            {
                drop(p);
                hub.send_out(
                    conn,
                    &Out::error(
                        ErrorCode::BadRequest,
                        "you can only work stores and departments you are assigned to",
                        None,
                    ),
                );
                return Step::Continue;
            }
            let before = p.clone();
            if let Some(a) = available {
                p.available = a;
            }
            if let Some(c) = max_chats {
                p.own_cap = c;
            }
            if let Some(s) = store_ids {
                p.working_stores = s;
            }
            if let Some(d) = department_ids {
                p.working_departments = d;
            }
            (before, p.clone())
        };
        let saved = SavedPresence {
            available: Some(after.available),
            own_cap: Some(after.own_cap),
            store_ids: after.working_stores.clone(),
            department_ids: after.working_departments.clone(),
        };
        let _ = hub
            .db
            .set_expert_presence_json(m, me, &serde_json::to_string(&saved).expect("presence"))
            .await;
        if before.own_cap != after.own_cap {
            // The cap it replaces, so "Why did I miss this chat?" judges a chat by the cap of its time.
            let _ = hub.db.record_cap_change(m, me, crate::storage::CapKind::Own, before.own_cap).await;
        }
        hub.send_expert(me, &Out::Status(after.status()));
        hub.analytics.emit(crate::storage::Event {
            merchant_id: m.to_string(),
            kind: if after.available { "expert_available" } else { "expert_away" },
            at: crate::now_ms(),
            expert_id: Some(me.to_owned()),
            ..Default::default()
        });
        if !after.available && before.available {
            // Away: drop the offers this expert holds.
            for c in hub.offers.forget_expert(me) {
                hub.send_expert(
                    me,
                    &Out::OfferWithdrawn {
                        conversation_id: c,
                        reason: "unavailable".into(),
                    },
                );
            }
        }
        hub.push_backlog(me).await;
        Step::Continue
    }
}
