//! An expert taking a chat (`claim`, exactly once) and handing it on (`transfer`).

use super::*;
use crate::ids::ConversationId;

impl ExpertSession {
    pub(super) async fn claim(&mut self, hub: &Hub, conn: u64, m: &MerchantId, me: &str, conversation_id: &ConversationId) -> Step {
        let failed = |reason: &str| {
            hub.send_out(
                conn,
                &Out::ClaimFailed {
                    conversation_id: conversation_id.to_owned(),
                    reason: reason.to_owned(),
                },
            );
            Step::Continue
        };
        let Some(p) = hub.roster.get(me).map(|p| p.clone()) else {
            return Step::Close(CloseCode::Internal);
        };
        if p.active >= p.cap() {
            return failed("at_capacity");
        }
        let eid = ExpertId::from_db(me.to_owned());
        let started = std::time::Instant::now();
        let claimed = hub
            .db
            .claim(m, conversation_id, &eid, move |row| p.works(&row.store_id, &row.department_id))
            .await;
        metrics::histogram!("floorwalker_claim_update_seconds").record(started.elapsed().as_secs_f64());
        let fresh = match claimed {
            Ok(Claim::Won(fresh)) => *fresh,
            Ok(Claim::Taken) => return failed("taken"),
            Ok(Claim::Gone) => return failed("gone"),
            Ok(Claim::NotEligible) => return failed("not_eligible"),
            Err(_) => {
                hub.send_out(
                    conn,
                    &Out::error(ErrorCode::Unavailable, "try again", Some(conversation_id.to_string())),
                );
                return Step::Continue;
            }
        };
        metrics::counter!("floorwalker_claims_total").increment(1);
        hub.change_active(me, 1);
        if let Some(conns) = hub.roster.get(me).map(|p| p.conns.clone()) {
            for c in conns {
                hub.subscribe(c, conversation_id);
            }
        }
        self.convs.insert(conversation_id.to_owned());
        hub.withdraw(conversation_id, "claimed", Some(me));
        let waited = crate::now_ms() - fresh.queued_at;
        hub.offers.record_claim_time(m.as_str(), waited as f64 / 1000.0);
        let name = self.expert.as_ref().map(|e| e.name.clone()).unwrap_or_default();
        // Answer first; the transcript line follows off the claim's path.
        hub.send_conversation(
            conversation_id,
            &Out::Conversation {
                conversation: fresh.view(),
            },
            None,
        );
        hub.emit(&fresh, "claimed", Some(waited), Some(me));
        hub.send_expert(
            me,
            &Out::OfferWithdrawn {
                conversation_id: conversation_id.to_owned(),
                reason: "claimed_by_you".into(),
            },
        );
        // A shopper who is away: answers go by e-mail (issue 21).
        hub.reach().after_claim(hub, conn, &fresh).await;
        let hub = hub.clone();
        tokio::spawn(async move {
            hub.system_message(&fresh, "expert_joined", serde_json::json!({ "name": name }))
                .await;
        });
        Step::Continue
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn transfer(
        &mut self,
        hub: &Hub,
        conn: u64,
        m: &MerchantId,
        me: &str,
        conversation_id: &ConversationId,
        department_id: Option<String>,
        expert_id: Option<String>,
        note: Option<String>,
    ) -> Step {
        let err = |code: ErrorCode, msg: &str| {
            hub.send_out(conn, &Out::error(code, msg, Some(conversation_id.to_string())));
            Step::Continue
        };
        if !self.expert.as_ref().expect("greeted").features.transfers {
            return err(ErrorCode::Forbidden, "transfers are off for you");
        }
        if note.as_deref().is_some_and(|n| n.chars().count() > 500) {
            return err(ErrorCode::BadRequest, "the note is at most 500 characters");
        }
        let Some(row) = self.mine(hub, conn, m, me, conversation_id).await else {
            return Step::Continue;
        };
        let (store, dep, target) = match (department_id, expert_id) {
            (Some(d), None) => {
                let Some(did) = DepartmentId::parse(&d) else {
                    return err(ErrorCode::BadRequest, "unknown department");
                };
                match hub.db.get_department(m, &did).await {
                    Ok(dep) => (dep.store_id.to_string(), dep.id.to_string(), None),
                    Err(_) => return err(ErrorCode::BadRequest, "unknown department"),
                }
            }
            (None, Some(e)) => {
                let Some(eid) = ExpertId::parse(&e) else {
                    return err(ErrorCode::BadRequest, "unknown expert");
                };
                if e == me {
                    return err(ErrorCode::BadRequest, "choose a colleague");
                }
                match hub.db.get_expert(m, &eid).await {
                    Ok(x) if x.status == ExpertStatus::Approved => (row.store_id.clone(), row.department_id.clone(), Some(e)),
                    _ => return err(ErrorCode::BadRequest, "unknown expert"),
                }
            }
            _ => return err(ErrorCode::BadRequest, "give either department_id or expert_id"),
        };
        let note = note.filter(|n| !n.trim().is_empty());
        match hub
            .db
            .transfer(m, conversation_id, me, &store, &dep, target.as_deref(), note.as_deref())
            .await
        {
            Ok(true) => {}
            Ok(false) => return err(ErrorCode::InvalidState, "the chat is no longer yours"),
            Err(_) => return err(ErrorCode::Unavailable, "try again"),
        }
        hub.change_active(me, -1);
        if let Some(conns) = hub.roster.get(me).map(|p| p.conns.clone()) {
            for c in conns {
                hub.unsubscribe(c, conversation_id);
            }
        }
        self.convs.remove(conversation_id);
        hub.system_message(
            &row,
            "transferred",
            serde_json::json!({ "note_given": note.is_some(), "to_department": target.is_none() }),
        )
        .await;
        if let Some(fresh) = hub.announce(m, conversation_id).await {
            hub.send_expert(
                me,
                &Out::Conversation {
                    conversation: fresh.view(),
                },
            );
            hub.emit(&fresh, "transferred", None, Some(me));
            hub.offer_round(&fresh, "transfer", true).await;
            hub.wake_cluster(&fresh.merchant_id);
        }
        hub.push_backlog(me).await;
        Step::Continue
    }
}
