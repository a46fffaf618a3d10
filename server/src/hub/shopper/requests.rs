//! A shopper asking for a chat (`request_chat`: the store and department, routing, the queue)
//! or leaving a message when nobody can answer (`offline`).

use super::*;

impl ShopperSession {
    /// Resolve the store and department: given, or the ones with most available experts.
    pub(super) async fn choose(
        &self,
        hub: &Hub,
        store_id: Option<String>,
        department_id: Option<String>,
    ) -> Result<(String, String), &'static str> {
        let m = &self.merchant;
        let stores = hub.stores(m).await.ok_or("unavailable")?;
        if let Some(d) = department_id {
            let dep = DepartmentId::parse(&d).ok_or("unknown department")?;
            let dep = stores
                .iter()
                .flat_map(|s| &s.departments)
                .find(|x| x.id == dep)
                .ok_or("unknown department")?;
            if store_id.as_deref().is_some_and(|s| s != dep.store_id.as_str()) {
                return Err("the department is not in that store");
            }
            return Ok((dep.store_id.to_string(), dep.id.to_string()));
        }
        let candidates: Vec<_> = match &store_id {
            Some(s) => {
                let sid = StoreId::parse(s).ok_or("unknown store")?;
                stores.iter().filter(|x| x.id == sid).collect()
            }
            None => stores.iter().collect(),
        };
        if candidates.is_empty() {
            return Err(if store_id.is_some() {
                "unknown store"
            } else {
                "the merchant has no stores"
            });
        }
        let mut best: Option<(u32, String, String)> = None;
        for s in &candidates {
            for d in &s.departments {
                let n = hub.available_count(m.as_str(), Some(s.id.as_str()), Some(d.id.as_str()));
                if best.as_ref().is_none_or(|b| n > b.0) {
                    best = Some((n, s.id.to_string(), d.id.to_string()));
                }
            }
        }
        best.map(|b| (b.1, b.2)).ok_or("the store has no departments")
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn request_chat(
        &mut self,
        hub: &Hub,
        conn: u64,
        shopper: &str,
        store_id: Option<String>,
        department_id: Option<String>,
        page_url: Option<String>,
        page_title: Option<String>,
        product: Option<Product>,
        text: Option<String>,
        client_msg_id: Option<String>,
    ) -> Step {
        let m = self.merchant.clone();
        // One open chat at a time: asking again returns the one in progress.
        if let Ok(convs) = hub.db.shopper_conversations(&m, shopper).await {
            if let Some(open) = convs.iter().find(|c| c.status.is_open()) {
                self.follow(hub, conn, &open.id);
                hub.send_out(conn, &Out::Conversation { conversation: open.view() });
                return Step::Continue;
            }
        }
        let (store, department) = match self.choose(hub, store_id, department_id).await {
            Ok(x) => x,
            Err(e) => return bad(hub, conn, e, None),
        };
        if !hub.store_open(&m, &store).await {
            hub.send_out(
                conn,
                &Out::Unavailable {
                    reason: "closed".into(),
                    offline_form: true,
                },
            );
            return Step::Continue;
        }
        if hub.available_count(m.as_str(), Some(&store), Some(&department)) == 0
            && !hub.push_reachable(m.as_str(), &store, &department).await
        {
            // Say what is true: experts are there but all at their cap, or nobody is.
            let busy = hub.online_count(m.as_str(), Some(&store), Some(&department)) > 0;
            hub.send_out(
                conn,
                &Out::Unavailable {
                    reason: if busy { "busy" } else { "no_experts" }.into(),
                    offline_form: true,
                },
            );
            return Step::Continue;
        }
        let contact = hub.db.contact_expert(&m, shopper).await.ok().flatten();
        let sid = ShopperId::from_db(shopper.to_owned());
        let row = match hub
            .db
            .create_conversation(&NewConversation {
                merchant_id: &m,
                shopper_id: &sid,
                store_id: &store,
                department_id: &department,
                contact_expert_id: contact.as_deref(),
                offline: None,
                page_url: page_url.as_deref(),
                page_title: page_title.as_deref(),
                product_json: product.as_ref().map(|p| serde_json::to_string(p).expect("product")),
            })
            .await
        {
            Ok(r) => r,
            Err(_) => {
                hub.send_out(
                    conn,
                    &Out::error(ErrorCode::Unavailable, "the chat could not be started; try again", None),
                );
                return Step::Continue;
            }
        };
        for c in hub.shopper_conn_ids(shopper) {
            hub.subscribe(c, &row.id);
        }
        self.convs.insert(row.id.clone());
        hub.reach().chat_started(hub, &m, &row.id, self.locale.as_deref(), None).await;
        hub.send_conversation(&row.id, &Out::Conversation { conversation: row.view() }, None);
        hub.emit(&row, "requested", None, None);
        if let Some(t) = text {
            let cid = client_msg_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let msg = NewMessage {
                merchant_id: m.to_string(),
                conversation_id: row.id.clone(),
                client_msg_id: Some(cid.clone()),
                sender: Sender::Shopper(shopper.to_owned()),
                kind: "text",
                body: t,
                data_json: None,
            };
            let r = hub.store(msg, Some(conn)).await;
            answer_store(hub, conn, &row.id, &cid, r);
        }
        hub.offer_round(&row, "new", false).await;
        hub.wake_cluster(&row.merchant_id);
        Step::Continue
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn offline(
        &mut self,
        hub: &Hub,
        conn: u64,
        shopper: &str,
        email: &str,
        body: String,
        name: Option<String>,
        store_id: Option<String>,
        department_id: Option<String>,
        page_url: Option<String>,
        phone: Option<String>,
    ) -> Step {
        let m = self.merchant.clone();
        let (store, department) = match self.choose(hub, store_id, department_id).await {
            Ok(x) => x,
            Err(e) => return bad(hub, conn, e, None),
        };
        let sid = ShopperId::from_db(shopper.to_owned());
        let name = name.filter(|n| !n.trim().is_empty());
        let _ = hub.db.identify_shopper(&m, &sid, name.as_deref(), Some(email)).await;
        let row = match hub
            .db
            .create_conversation(&NewConversation {
                merchant_id: &m,
                shopper_id: &sid,
                store_id: &store,
                department_id: &department,
                contact_expert_id: None,
                offline: Some((email, name.as_deref())),
                page_url: page_url.as_deref(),
                page_title: None,
                product_json: None,
            })
            .await
        {
            Ok(r) => r,
            Err(_) => {
                hub.send_out(
                    conn,
                    &Out::error(ErrorCode::Unavailable, "the message could not be stored; try again", None),
                );
                return Step::Continue;
            }
        };
        hub.reach()
            .chat_started(hub, &m, &row.id, self.locale.as_deref(), phone.as_deref())
            .await;
        let msg = NewMessage {
            merchant_id: m.to_string(),
            conversation_id: row.id.clone(),
            client_msg_id: Some(format!("offline-{}", row.id)),
            sender: Sender::Shopper(shopper.to_owned()),
            kind: "text",
            body,
            data_json: None,
        };
        match hub.store(msg, Some(conn)).await {
            Ok(AppendOutcome::Stored(_)) => {
                self.follow(hub, conn, &row.id);
                hub.send_out(
                    conn,
                    &Out::OfflineAck {
                        conversation_id: row.id.clone(),
                    },
                );
                hub.emit(&row, "offline_message", None, None);
                hub.offer_round(&row, "new", false).await;
                hub.wake_cluster(&row.merchant_id);
            }
            _ => hub.send_out(
                conn,
                &Out::error(ErrorCode::Unavailable, "the message could not be stored; try again", None),
            ),
        }
        Step::Continue
    }
}

pub(super) async fn any_store_open(hub: &Hub, m: &MerchantId) -> bool {
    let now = now_ms();
    hub.stores(m).await.is_some_and(|all| all.iter().any(|s| s.is_open_at(now)))
}
