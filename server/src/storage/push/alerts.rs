//! Alerts: created with their outbox rows, their state changes (handed, shown, opened,
//! closed), and the counts Analytics and the Team page read.

use super::*;
use crate::ids::ConversationId;

/// An alert to create with its outbox row.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub id: String,
    pub merchant_id: MerchantId,
    pub expert_id: String,
    pub conversation_id: ConversationId,
    pub store_id: String,
    pub department_id: String,
    pub subscription_id: String,
    pub queued_at: i64,
    pub receipt: String,
}

/// An offer delivered over a live socket, recorded as an alert (channel `socket`, state
/// `handed` from the start).
#[derive(Debug, Clone)]
pub struct SocketAlert {
    pub id: String,
    pub merchant_id: MerchantId,
    pub expert_id: String,
    pub conversation_id: ConversationId,
    pub store_id: String,
    pub department_id: String,
    pub queued_at: i64,
    /// When the offer was written to the socket.
    pub at: i64,
}

/// One alert as stored.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct PushAlert {
    pub id: String,
    #[serde(skip)]
    pub merchant_id: String,
    pub expert_id: String,
    pub conversation_id: ConversationId,
    pub store_id: String,
    pub department_id: String,
    pub subscription_id: String,
    #[schema(required = true)]
    pub outbox_id: Option<String>,
    #[serde(skip)]
    pub receipt: String,
    /// push | socket
    pub channel: String,
    /// queued | handed | shown | opened | claimed | failed | closed
    pub state: String,
    /// Why it failed: `expired` (the push service no longer knows the device), `push_service`,
    /// `permission` (the device reported notifications blocked), `gone` (the offer went away
    /// before the hand-off).
    #[schema(required = true)]
    pub reason: Option<String>,
    #[schema(required = true)]
    pub detail: Option<String>,
    pub queued_at: i64,
    pub created_at: i64,
    #[schema(required = true)]
    pub handed_at: Option<i64>,
    #[schema(required = true)]
    pub shown_at: Option<i64>,
    #[schema(required = true)]
    pub opened_at: Option<i64>,
    #[schema(required = true)]
    pub claimed_at: Option<i64>,
    #[schema(required = true)]
    pub failed_at: Option<i64>,
    #[schema(required = true)]
    pub closed_at: Option<i64>,
}

const ALERT_COLS: &str = "id, merchant_id, expert_id, conversation_id, store_id, department_id, subscription_id, outbox_id, \
    receipt, channel, state, reason, detail, queued_at, created_at, handed_at, shown_at, opened_at, claimed_at, failed_at, closed_at";

/// Something that happened to an alert.
#[derive(Debug, Clone)]
pub enum AlertEvent {
    /// The push service accepted it.
    Handed,
    /// The service worker showed the notification.
    Shown,
    /// The expert tapped it.
    Opened,
    /// It will not arrive.
    Failed { reason: &'static str, detail: String },
    /// A hand-off failed and will be tried again.
    Note(String),
}

const INSERT_ALERT: &str = "INSERT INTO push_alerts (id, merchant_id, expert_id, conversation_id, store_id, department_id, \
    subscription_id, receipt, channel, state, queued_at, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'push', 'queued', $9, $10, $10) ON CONFLICT DO NOTHING";
const ALERT_OUTBOX: &str = "UPDATE push_alerts SET outbox_id = $1 WHERE id = $2";

fn alert_params(a: &NewAlert, now: i64) -> Vec<Param> {
    vec![
        Param::text(&a.id),
        Param::text(a.merchant_id.as_str()),
        Param::text(&a.expert_id),
        Param::text(&a.conversation_id),
        Param::text(&a.store_id),
        Param::text(&a.department_id),
        Param::text(&a.subscription_id),
        Param::text(&a.receipt),
        Param::Int(a.queued_at),
        Param::Int(now),
    ]
}

impl Db {
    /// Create alerts and their outbox rows in one transaction. An alert that exists already
    /// (the same chat, queued at the same time, to the same device) is skipped with its row.
    /// Returns the ids of the alerts created.
    pub async fn create_push_alerts(&self, items: Vec<(NewAlert, Outgoing)>) -> Result<Vec<String>> {
        if items.is_empty() {
            return Ok(vec![]);
        }
        let now = now_ms();
        // On SQLite on the writer thread: the alerts commit with the writes around them instead
        // of holding SQLite's write lock from a second connection meanwhile.
        write_tx!(self, Lane::Now, |tx| async move {
            let mut created = Vec::new();
            for (a, out) in items {
                if tx.execute(INSERT_ALERT, &alert_params(&a, now)).await? == 0 {
                    continue;
                }
                if let Some(Enqueued::Queued(oid) | Enqueued::Refused { id: oid, .. }) = enqueue_in(tx, &[out]).await?.pop() {
                    tx.execute(ALERT_OUTBOX, &[Param::Text(oid), Param::text(&a.id)]).await?;
                }
                created.push(a.id);
            }
            Ok(created)
        })
    }

    /// Record offers delivered over sockets; one that is recorded already (the same chat,
    /// queued at the same time, to the same expert) is skipped. Each new one counts as an alert
    /// sent in Analytics. Returns how many were new.
    pub async fn create_socket_alerts(&self, items: &[SocketAlert]) -> Result<usize> {
        if items.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let mut events = Vec::new();
        for a in items {
            let done = sqlx::query(
                "INSERT INTO push_alerts (id, merchant_id, expert_id, conversation_id, store_id, department_id, subscription_id, \
                 receipt, channel, state, queued_at, created_at, handed_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, '', '', 'socket', 'handed', $7, $8, $8, $8) ON CONFLICT DO NOTHING",
            )
            .bind(&a.id)
            .bind(a.merchant_id.as_str())
            .bind(&a.expert_id)
            .bind(&a.conversation_id)
            .bind(&a.store_id)
            .bind(&a.department_id)
            .bind(a.queued_at)
            .bind(a.at)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                events.push(crate::storage::Event {
                    merchant_id: a.merchant_id.to_string(),
                    kind: "alert_sent",
                    at: a.at,
                    shopper_id: None,
                    store_id: Some(a.store_id.clone()),
                    department_id: Some(a.department_id.clone()),
                    expert_id: Some(a.expert_id.clone()),
                    conversation_id: Some(a.conversation_id.clone()),
                    value: None,
                    data_json: Some(r#"{"channel":"socket"}"#.into()),
                });
            }
        }
        tx.commit().await?;
        let n = events.len();
        self.insert_events(&events).await?;
        Ok(n)
    }

    /// Enqueue follow-ups (closing pushes) in a transaction of their own.
    pub async fn enqueue_push(&self, items: &[Outgoing]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.enqueue(items).await?;
        Ok(())
    }

    pub async fn push_alert(&self, id: &str) -> Result<Option<PushAlert>> {
        let sql = format!("SELECT {ALERT_COLS} FROM push_alerts WHERE id = $1");
        Ok(sqlx::query_as::<_, PushAlert>(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    /// Record what happened to an alert. States only move forward: a late "shown" does not
    /// undo "opened", and a failure is recorded only for an alert still on its way. True when
    /// this was news (the first hand-off, showing, opening, or the failure), which Analytics
    /// then counts.
    pub async fn push_alert_event(&self, id: &str, event: &AlertEvent) -> Result<bool> {
        let now = now_ms();
        let q = match event {
            AlertEvent::Handed => sqlx::query(
                "UPDATE push_alerts SET state = CASE WHEN state = 'queued' THEN 'handed' ELSE state END, \
                 handed_at = COALESCE(handed_at, $1), updated_at = $1 WHERE id = $2 AND handed_at IS NULL",
            )
            .bind(now)
            .bind(id.to_owned()),
            AlertEvent::Shown => sqlx::query(
                "UPDATE push_alerts SET state = CASE WHEN state IN ('queued', 'handed') THEN 'shown' ELSE state END, \
                 handed_at = COALESCE(handed_at, $1), shown_at = COALESCE(shown_at, $1), updated_at = $1 WHERE id = $2 AND shown_at IS NULL",
            )
            .bind(now)
            .bind(id.to_owned()),
            AlertEvent::Opened => sqlx::query(
                "UPDATE push_alerts SET state = CASE WHEN state IN ('queued', 'handed', 'shown', 'closed') THEN 'opened' ELSE state END, \
                 opened_at = COALESCE(opened_at, $1), updated_at = $1 WHERE id = $2 AND opened_at IS NULL",
            )
            .bind(now)
            .bind(id.to_owned()),
            AlertEvent::Failed { reason, detail } => sqlx::query(
                "UPDATE push_alerts SET state = 'failed', reason = $1, detail = $2, failed_at = $3, updated_at = $3 \
                 WHERE id = $4 AND state = 'queued'",
            )
            .bind(reason.to_string())
            .bind(detail.clone())
            .bind(now)
            .bind(id.to_owned()),
            AlertEvent::Note(detail) => sqlx::query("UPDATE push_alerts SET detail = $1, updated_at = $2 WHERE id = $3")
                .bind(detail.clone())
                .bind(now)
                .bind(id.to_owned()),
        };
        Ok(q.execute(&self.writer).await?.rows_affected() == 1)
    }

    /// Count an alert's news in Analytics (`alert_sent`, `alert_shown`, `alert_failed`): an
    /// event with the alert's store, department and expert, rolled up like the chat's own.
    pub async fn push_alert_counted(&self, id: &str, kind: &'static str) -> Result<()> {
        let Some(a) = self.push_alert(id).await? else { return Ok(()) };
        self.insert_events(&[crate::storage::Event {
            merchant_id: a.merchant_id,
            kind,
            at: now_ms(),
            shopper_id: None,
            store_id: Some(a.store_id),
            department_id: Some(a.department_id),
            expert_id: Some(a.expert_id),
            conversation_id: Some(a.conversation_id),
            value: None,
            data_json: None,
        }])
        .await
    }

    /// A chat was missed: if alerts were sent for it and every one failed, count it
    /// (`missed_alert_failed`, per store and department).
    pub async fn push_missed_check(&self, conversation: &ConversationId) -> Result<bool> {
        let sql = format!("SELECT {ALERT_COLS} FROM push_alerts WHERE conversation_id = $1");
        let all = sqlx::query_as::<_, PushAlert>(&sql)
            .bind(conversation)
            .fetch_all(&self.pool)
            .await?;
        let Some(first) = all.first() else { return Ok(false) };
        if !all.iter().all(|a| a.state == "failed") {
            return Ok(false);
        }
        self.insert_events(&[crate::storage::Event {
            merchant_id: first.merchant_id.clone(),
            kind: "missed_alert_failed",
            at: now_ms(),
            shopper_id: None,
            store_id: Some(first.store_id.clone()),
            department_id: Some(first.department_id.clone()),
            expert_id: None,
            conversation_id: Some(conversation.clone()),
            value: None,
            data_json: None,
        }])
        .await?;
        Ok(true)
    }

    /// The device could not show a delivered alert (notifications blocked there).
    pub async fn push_alert_blocked(&self, id: &str) -> Result<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE push_alerts SET state = 'failed', reason = 'permission', detail = 'notifications are blocked on the device', \
             failed_at = $1, updated_at = $1 WHERE id = $2 AND state IN ('queued', 'handed')",
        )
        .bind(now)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The offer of this chat went away (claimed by `claimed_by`, or withdrawn): the push alerts
    /// that reached a device (handed or shown) are returned so their notifications can be closed;
    /// the claimer's alerts become `claimed`, the others `closed`.
    pub async fn close_push_alerts(&self, conversation: &ConversationId, claimed_by: Option<&str>) -> Result<Vec<PushAlert>> {
        let now = now_ms();
        let sql =
            format!("SELECT {ALERT_COLS} FROM push_alerts WHERE conversation_id = $1 AND state IN ('queued', 'handed', 'shown', 'opened')");
        let open = sqlx::query_as::<_, PushAlert>(&sql)
            .bind(conversation)
            .fetch_all(&self.pool)
            .await?;
        if open.is_empty() {
            return Ok(open);
        }
        let mut tx = self.begin_write().await?;
        if let Some(e) = claimed_by {
            sqlx::query(
                "UPDATE push_alerts SET state = 'claimed', claimed_at = $1, updated_at = $1 \
                 WHERE conversation_id = $2 AND expert_id = $3 AND state IN ('queued', 'handed', 'shown', 'opened')",
            )
            .bind(now)
            .bind(conversation)
            .bind(e)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE push_alerts SET state = 'closed', closed_at = $1, updated_at = $1 \
             WHERE conversation_id = $2 AND state IN ('queued', 'handed', 'shown')",
        )
        .bind(now)
        .bind(conversation)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // Only a device's notification needs closing; a socket's offer is withdrawn over it.
        Ok(open
            .into_iter()
            .filter(|a| a.channel == "push" && (a.state == "handed" || a.state == "shown"))
            .collect())
    }

    /// Failed alerts since `since`, counted per expert (all of them: not cut to a page, however
    /// many alerts went out over sockets meanwhile).
    pub async fn push_failures_by_expert(&self, m: Tenant<'_>, since: i64) -> Result<std::collections::HashMap<String, i64>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT expert_id, COUNT(*) FROM push_alerts WHERE merchant_id = $1 AND state = 'failed' AND created_at >= $2 GROUP BY expert_id",
        )
        .bind(m.as_str())
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// A merchant's alerts of one chat, or of one expert since `since` (newest first).
    pub async fn push_alerts(&self, m: Tenant<'_>, conversation: Option<&str>, expert: Option<&str>, since: i64) -> Result<Vec<PushAlert>> {
        let sql = format!(
            "SELECT {ALERT_COLS} FROM push_alerts WHERE merchant_id = $1 AND ($2 = '' OR conversation_id = $2) \
             AND ($3 = '' OR expert_id = $3) AND created_at >= $4 ORDER BY created_at DESC LIMIT 500"
        );
        Ok(sqlx::query_as::<_, PushAlert>(&sql)
            .bind(m.as_str())
            .bind(conversation.unwrap_or(""))
            .bind(expert.unwrap_or(""))
            .bind(since)
            .fetch_all(&self.pool)
            .await?)
    }
}
