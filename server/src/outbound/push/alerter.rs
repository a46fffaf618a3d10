//! Who gets a push alert for a waiting chat, and the follow-up when its offer goes away.
//!
//! The hub calls [`OfferHook::waiting`] for every waiting chat it routes (on every pass) and
//! [`OfferHook::withdrawn`] when an offer goes away. Both only queue a note; a task of its own
//! does the reading and writing, so routing never waits on it.
//!
//! An expert is alerted by push when the hub cannot reach them over a live socket on this node
//! and they could take the chat now: approved, assigned to its store and department, available
//! and working there (their saved presence), under their chat cap. A chat aimed at one expert
//! (a transfer) alerts only them; a returning shopper's contact is alerted alone during the
//! merchant's contact-first time, everyone else after it. Each (chat, queued time, device)
//! gets at most one alert (a unique index), whichever node notices it first.

use crate::ids::ConversationId;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dashmap::DashMap;
use tokio::sync::{mpsc, Semaphore};

use crate::hub::expert::SavedPresence;
use crate::hub::{Hub, OfferHook};
use crate::ids::MerchantId;
use crate::now_ms;
use crate::outbound::Outbound;
use crate::storage::{Channel, ConversationRow, NewAlert, NewOutbound, Outgoing, PushCandidate, PushSubscription, SocketAlert};

/// Characters of the shopper's first message the notification carries.
pub const TEXT_CHARS: usize = 90;

enum Note {
    Waiting(Box<ConversationRow>),
    Withdrawn {
        conversation: ConversationId,
        reason: String,
        claimed_by: Option<String>,
    },
}

/// Offers this node delivered over a live socket, recorded as alerts (channel `socket`).
struct Delivered {
    row: Box<ConversationRow>,
    experts: Vec<String>,
    at: i64,
}

/// The hub's hook (see the module documentation).
pub struct Alerter {
    tx: mpsc::UnboundedSender<Note>,
    delivered: mpsc::UnboundedSender<Delivered>,
    db: crate::storage::Db,
    /// conversation → (queued_at looked at, do not look again before this time).
    seen: DashMap<ConversationId, (i64, i64)>,
}

impl OfferHook for Alerter {
    fn waiting(&self, row: &ConversationRow) {
        let now = now_ms();
        if let Some(s) = self.seen.get(&row.id) {
            if s.0 == row.queued_at && now < s.1 {
                return;
            }
        }
        self.seen.insert(row.id.clone(), (row.queued_at, i64::MAX));
        let _ = self.tx.send(Note::Waiting(Box::new(row.clone())));
    }

    fn withdrawn(&self, conversation: &ConversationId, reason: &str, claimed_by: Option<&str>) {
        self.seen.remove(conversation);
        let _ = self.tx.send(Note::Withdrawn {
            conversation: conversation.to_owned(),
            reason: reason.to_owned(),
            claimed_by: claimed_by.map(str::to_owned),
        });
    }

    fn delivered(&self, row: &ConversationRow, experts: &[String]) {
        if experts.is_empty() {
            return;
        }
        let _ = self.delivered.send(Delivered {
            row: Box::new(row.clone()),
            experts: experts.to_vec(),
            at: now_ms(),
        });
    }

    fn reachable(&self, merchant: &str, store: &str, department: &str) -> futures::future::BoxFuture<'static, bool> {
        let (db, m, s, d) = (
            self.db.clone(),
            MerchantId::from_db(merchant.to_owned()),
            store.to_owned(),
            department.to_owned(),
        );
        Box::pin(async move {
            db.push_candidates(&m, &s, &d)
                .await
                .map(|cs| cs.iter().any(|c| can_take(c, &s, &d)))
                .unwrap_or(false)
        })
    }
}

/// Hook the alerter into the hub; it runs until the hub shuts down.
pub fn start(hub: &Hub, outbound: &Outbound) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (dtx, drx) = mpsc::unbounded_channel();
    let alerter = Arc::new(Alerter {
        tx,
        delivered: dtx,
        db: hub.db.clone(),
        seen: DashMap::new(),
    });
    if hub.offer_hook.set(alerter.clone()).is_err() {
        return;
    }
    tokio::spawn(run(hub.clone(), outbound.clone(), alerter, rx));
    tokio::spawn(record_socket_alerts(hub.clone(), drx));
}

/// Writes the offers delivered over sockets as alerts, in batches of whatever has queued up
/// (routing never waits for it). An offer sent again (a new wave, a reconnect) is the same
/// alert: one per chat, queued time and expert.
async fn record_socket_alerts(hub: Hub, mut rx: mpsc::UnboundedReceiver<Delivered>) {
    let mut batch = Vec::with_capacity(256);
    loop {
        let n = tokio::select! {
            _ = hub.shutdown.cancelled() => return,
            n = rx.recv_many(&mut batch, 512) => n,
        };
        if n == 0 {
            return;
        }
        let mut alerts = Vec::new();
        for d in batch.drain(..) {
            for e in &d.experts {
                alerts.push(SocketAlert {
                    id: uuid::Uuid::now_v7().to_string(),
                    merchant_id: MerchantId::from_db(d.row.merchant_id.clone()),
                    expert_id: e.clone(),
                    conversation_id: d.row.id.clone(),
                    store_id: d.row.store_id.clone(),
                    department_id: d.row.department_id.clone(),
                    queued_at: d.row.queued_at,
                    at: d.at,
                });
            }
        }
        match hub.db.create_socket_alerts(&alerts).await {
            Ok(n) => metrics::counter!("floorwalker_push_alerts_total", "event" => "socket").increment(n as u64),
            Err(e) => tracing::warn!(error = %e, n = alerts.len(), "socket alerts were not recorded"),
        }
    }
}

async fn run(hub: Hub, outbound: Outbound, alerter: Arc<Alerter>, mut rx: mpsc::UnboundedReceiver<Note>) {
    let permits = Arc::new(Semaphore::new(16));
    let mut last_prune = now_ms();
    loop {
        let note = tokio::select! {
            _ = hub.shutdown.cancelled() => break,
            n = rx.recv() => match n { Some(n) => n, None => break },
        };
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let (hub2, outbound2, alerter2) = (hub.clone(), outbound.clone(), alerter.clone());
        tokio::spawn(async move {
            let r = match note {
                Note::Waiting(row) => alert(&hub2, &outbound2, &alerter2, &row).await,
                Note::Withdrawn {
                    conversation,
                    reason,
                    claimed_by,
                } => close(&hub2, &outbound2, &conversation, &reason, claimed_by.as_deref()).await,
            };
            if let Err(e) = r {
                tracing::warn!(error = %e, "push alerts");
            }
            drop(permit);
        });
        let now = now_ms();
        if now - last_prune > 60_000 {
            last_prune = now;
            alerter.seen.retain(|_, v| now - v.0 < 3_600_000);
        }
    }
}

/// Whether the hub can reach this expert over a live socket on this node or (in a cluster)
/// another one: one that was heard from lately (the server pings every 25 s and a live app
/// answers at once). That node offers the chat over the socket, so no push goes out as well.
fn connected(hub: &Hub, merchant: &str, expert: &str) -> bool {
    hub.expert_heard_within(expert, super::SILENT_AFTER_MS) || hub.expert_heard_elsewhere(merchant, expert)
}

/// Whether a (not connected) expert could take this chat now, by what they saved in the app.
pub fn can_take(c: &PushCandidate, store: &str, department: &str) -> bool {
    let saved: SavedPresence = serde_json::from_str(&c.presence_json).unwrap_or_default();
    let cap = saved.own_cap.unwrap_or(c.max_chats).min(c.max_chats).max(1);
    saved.available.unwrap_or(true)
        && c.open_chats < cap
        && (saved.store_ids.is_empty() || saved.store_ids.iter().any(|s| s == store))
        && (saved.department_ids.is_empty() || saved.department_ids.iter().any(|d| d == department))
}

async fn alert(hub: &Hub, outbound: &Outbound, alerter: &Alerter, row: &ConversationRow) -> anyhow::Result<()> {
    let m = MerchantId::from_db(row.merchant_id.clone());
    let Some(settings) = hub.merchant(&m).await else { return Ok(()) };
    let now = now_ms();
    let contact_first_ms = i64::from(settings.routing.contact_first_s) * 1000;
    let candidates = hub.db.push_candidates(&m, &row.store_id, &row.department_id).await?;
    let mut chosen: Vec<&PushCandidate> = candidates
        .iter()
        .filter(|c| !connected(hub, &row.merchant_id, &c.expert_id) && can_take(c, &row.store_id, &row.department_id))
        .collect();
    if let Some(t) = &row.target_expert_id {
        chosen.retain(|c| &c.expert_id == t);
    } else if let Some(contact) = &row.contact_expert_id {
        let until = row.queued_at + contact_first_ms;
        let contact_can = chosen.iter().any(|c| &c.expert_id == contact)
            || hub
                .roster
                .get(contact)
                .is_some_and(|p| !p.conns.is_empty() && p.eligible(&row.store_id, &row.department_id));
        if now < until && contact_can {
            chosen.retain(|c| &c.expert_id == contact);
            // Look again when the contact's time is up: then everyone is alerted.
            alerter.seen.insert(row.id.clone(), (row.queued_at, until));
        }
    }
    if chosen.is_empty() {
        return Ok(());
    }
    // A chat request's first message is stored just after the chat: give it a moment.
    let mut first = None;
    for _ in 0..10 {
        first = hub.db.first_message(&row.id).await.ok().flatten();
        if first.is_some() || now_ms() - row.created_at > 2_000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    }
    let text = first_words(&first.unwrap_or_default(), TEXT_CHARS);
    let mut items = Vec::new();
    for c in chosen {
        for s in &c.subscriptions {
            let id = uuid::Uuid::now_v7().to_string();
            let receipt = random_token();
            let payload = serde_json::json!({
                "v": 1,
                "type": "offer",
                "alert": id,
                "receipt": receipt,
                "conversation_id": row.id,
                "store": row.store_name,
                "department": row.department_name,
                "text": text,
                "shopper": row.shopper_name,
                "returning": row.contact_expert_id.is_some(),
                "your_contact": row.contact_expert_id.as_deref() == Some(c.expert_id.as_str()),
                "queued_at": row.queued_at,
                "sent_at": now,
                "lang": s.lang,
            });
            let alert = NewAlert {
                id: id.clone(),
                merchant_id: m.clone(),
                expert_id: c.expert_id.clone(),
                conversation_id: row.id.clone(),
                store_id: row.store_id.clone(),
                department_id: row.department_id.clone(),
                subscription_id: s.id.clone(),
                queued_at: row.queued_at,
                receipt,
            };
            let key = format!("push:{}:{}:{}", row.id, row.queued_at, s.id);
            items.push((alert, outgoing(outbound, &m, s, "offer", key, &row.id, id, payload)));
        }
    }
    let created = hub.db.create_push_alerts(items).await?;
    if !created.is_empty() {
        metrics::counter!("floorwalker_push_alerts_total", "event" => "queued").increment(created.len() as u64);
        outbound.wake();
    }
    Ok(())
}

/// The offer went away: replace the notifications that reached a device.
async fn close(
    hub: &Hub,
    outbound: &Outbound,
    conversation: &ConversationId,
    reason: &str,
    claimed_by: Option<&str>,
) -> anyhow::Result<()> {
    if reason == "missed" && hub.db.push_missed_check(conversation).await? {
        metrics::counter!("floorwalker_push_missed_alerts_failed_total").increment(1);
    }
    let reached = hub.db.close_push_alerts(conversation, claimed_by).await?;
    let mut items = Vec::new();
    for a in reached {
        let Some(s) = hub.db.push_subscription_by_id(&a.subscription_id).await? else {
            continue;
        };
        let m = MerchantId::from_db(a.merchant_id.clone());
        let why = match claimed_by {
            Some(e) if e == a.expert_id => "claimed_by_you",
            Some(_) => "claimed",
            None => reason,
        };
        let payload = serde_json::json!({
            "v": 1,
            "type": "close",
            "alert": a.id,
            "conversation_id": conversation,
            "reason": why,
            "lang": s.lang,
        });
        let key = format!("push-close:{}", a.id);
        items.push(outgoing(
            outbound,
            &m,
            &s,
            "close",
            key,
            conversation,
            uuid::Uuid::now_v7().to_string(),
            payload,
        ));
    }
    if !items.is_empty() {
        hub.db.enqueue_push(&items).await?;
        outbound.wake();
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn outgoing(
    outbound: &Outbound,
    m: &MerchantId,
    s: &PushSubscription,
    template: &str,
    key: String,
    conversation: &ConversationId,
    message_id: String,
    payload: serde_json::Value,
) -> Outgoing {
    Outgoing::Message(NewOutbound {
        merchant_id: m.clone(),
        channel: Channel::Push,
        template: template.into(),
        idempotency_key: key,
        recipient: s.endpoint.clone(),
        endpoint_id: Some(s.id.clone()),
        conversation_id: Some(conversation.to_owned()),
        message_id,
        subject: None,
        body_text: None,
        body_html: None,
        payload_json: payload.to_string(),
        transactional: true,
        order_key: None,
        give_up_after_ms: outbound.timing().give_up_ms(Channel::Push),
        hourly_limit: 0,
        delay_ms: 0,
    })
}

/// The start of a message, cut at a word boundary, with an ellipsis when cut.
pub fn first_words(text: &str, max: usize) -> String {
    let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() <= max {
        return t;
    }
    let cut: String = t.chars().take(max).collect();
    let at = cut.rfind(' ').filter(|i| *i > max / 2).unwrap_or(cut.len());
    format!("{}…", cut[..at].trim_end())
}

fn random_token() -> String {
    use rand::RngCore as _;
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_words_cut_at_a_word() {
        assert_eq!(first_words("  Do you have\nthis in blue? ", 90), "Do you have this in blue?");
        let long = "word ".repeat(40);
        let cut = first_words(&long, 22);
        assert_eq!(cut, "word word word word…");
        assert_eq!(first_words("ابحث عن حذاء أزرق مقاس", 9), "ابحث عن…");
    }
}
