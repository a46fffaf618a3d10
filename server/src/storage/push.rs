//! Web Push: the store app's subscriptions (one per expert and device) and the lifecycle of
//! every alert (see `crate::push` and docs/push.md).

use super::outbox::{enqueue_in, Enqueued, Outgoing};
use super::sqlite_writer::{Lane, Param};
use super::tx::{sqlx_rows, write_tx, Cols, FromCols};
use super::{Db, Result, StorageError, Tenant};
use crate::ids::MerchantId;
use crate::now_ms;

/// A device that can be alerted.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PushSubscription {
    pub id: String,
    #[serde(skip)]
    pub merchant_id: String,
    pub expert_id: String,
    /// The push service URL of the device.
    pub endpoint: String,
    #[serde(skip)]
    pub p256dh: String,
    #[serde(skip)]
    pub auth: String,
    /// Language of the notification text.
    pub lang: String,
    pub user_agent: String,
    /// Failed hand-offs since the last success.
    pub failures: i64,
    #[schema(required = true)]
    pub last_error: Option<String>,
    #[schema(required = true)]
    pub last_success_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FromCols for PushSubscription {
    /// A row of `SUB_COLS`, in order, as the SQLite reader reads it.
    fn from_cols(r: &impl Cols) -> Result<PushSubscription> {
        Ok(PushSubscription {
            id: r.col(0)?,
            merchant_id: r.col(1)?,
            expert_id: r.col(2)?,
            endpoint: r.col(3)?,
            p256dh: r.col(4)?,
            auth: r.col(5)?,
            lang: r.col(6)?,
            user_agent: r.col(7)?,
            failures: r.col(8)?,
            last_error: r.col(9)?,
            last_success_at: r.col(10)?,
            created_at: r.col(11)?,
            updated_at: r.col(12)?,
        })
    }
}

const SUB_COLS: &str = "s.id, s.merchant_id, s.expert_id, s.endpoint, s.p256dh, s.auth, s.lang, s.user_agent, s.failures, \
    s.last_error, s.last_success_at, s.created_at, s.updated_at";

/// What the store app registers.
#[derive(Debug, Clone)]
pub struct NewSubscription<'a> {
    pub endpoint: &'a str,
    pub p256dh: &'a str,
    pub auth: &'a str,
    pub lang: &'a str,
    pub user_agent: &'a str,
}

/// An expert who may get a push alert for a chat: assigned to its store and department,
/// approved, with at least one device.
#[derive(Debug, Clone)]
pub struct PushCandidate {
    pub expert_id: String,
    pub presence_json: String,
    pub max_chats: i64,
    pub open_chats: i64,
    pub subscriptions: Vec<PushSubscription>,
}

/// A row of `SUB_COLS` and then the expert's presence, cap and open chats.
struct CandidateRow {
    sub: PushSubscription,
    presence_json: String,
    max_chats: i64,
    open_chats: i64,
}

impl FromCols for CandidateRow {
    fn from_cols(r: &impl Cols) -> Result<CandidateRow> {
        Ok(CandidateRow {
            sub: PushSubscription::from_cols(r)?,
            presence_json: r.col(13)?,
            max_chats: r.col(14)?,
            open_chats: r.col(15)?,
        })
    }
}

/// An alert to create with its outbox row.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub id: String,
    pub merchant_id: MerchantId,
    pub expert_id: String,
    pub conversation_id: String,
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
    pub conversation_id: String,
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
    pub conversation_id: String,
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
    /// A server-wide secret by name, stored with `fresh` if there is none yet; every node
    /// then reads the same value.
    pub async fn server_key_or(&self, name: &str, fresh: &str) -> Result<String> {
        sqlx::query("INSERT INTO server_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(fresh)
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        let (v,): (String,) = sqlx::query_as("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(v)
    }

    /// Register (or refresh) a device for this expert. An endpoint registered before by
    /// another expert on the same browser moves to this one (one person signed in there now).
    pub async fn upsert_push_subscription(
        &self,
        m: Tenant<'_>,
        expert: &str,
        token_hash: &str,
        s: &NewSubscription<'_>,
    ) -> Result<PushSubscription> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO push_subscriptions (id, merchant_id, expert_id, token_hash, endpoint, p256dh, auth, lang, user_agent, \
             failures, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10) \
             ON CONFLICT (endpoint) DO UPDATE SET merchant_id = excluded.merchant_id, expert_id = excluded.expert_id, \
             token_hash = excluded.token_hash, p256dh = excluded.p256dh, auth = excluded.auth, lang = excluded.lang, \
             user_agent = excluded.user_agent, failures = 0, last_error = NULL, updated_at = excluded.updated_at",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(m.as_str())
        .bind(expert)
        .bind(token_hash)
        .bind(s.endpoint)
        .bind(s.p256dh)
        .bind(s.auth)
        .bind(s.lang)
        .bind(s.user_agent)
        .bind(now)
        .execute(&self.writer)
        .await?;
        let sql = format!("SELECT {SUB_COLS} FROM push_subscriptions s WHERE s.endpoint = $1 AND s.merchant_id = $2");
        let rows: Vec<PushSubscription> = sqlx_rows(&self.writer, &sql, &[Param::text(s.endpoint), Param::text(m.as_str())]).await?;
        rows.into_iter().next().ok_or(StorageError::NotFound)
    }

    /// This expert's devices, oldest first.
    pub async fn push_subscriptions(&self, m: Tenant<'_>, expert: &str) -> Result<Vec<PushSubscription>> {
        let sql = format!("SELECT {SUB_COLS} FROM push_subscriptions s WHERE s.merchant_id = $1 AND s.expert_id = $2 ORDER BY s.id");
        sqlx_rows(&self.pool, &sql, &[Param::text(m.as_str()), Param::text(expert)]).await
    }

    /// Every device of the merchant's experts (the Team page's "can be alerted").
    pub async fn merchant_push_subscriptions(&self, m: Tenant<'_>) -> Result<Vec<PushSubscription>> {
        let sql = format!("SELECT {SUB_COLS} FROM push_subscriptions s WHERE s.merchant_id = $1 ORDER BY s.expert_id, s.id");
        sqlx_rows(&self.pool, &sql, &[Param::text(m.as_str())]).await
    }

    /// Remove one of the expert's own devices.
    pub async fn delete_push_subscription(&self, m: Tenant<'_>, expert: &str, id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM push_subscriptions WHERE id = $1 AND merchant_id = $2 AND expert_id = $3")
            .bind(id)
            .bind(m.as_str())
            .bind(expert)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    /// Sign-out: the devices registered with this token stop getting alerts.
    pub async fn delete_push_subscriptions_of_token(&self, token_hash: &str) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM push_subscriptions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.writer)
            .await?
            .rows_affected())
    }

    /// Deactivation or revocation: none of the expert's devices get alerts any more.
    pub async fn delete_push_subscriptions_of_expert(&self, m: Tenant<'_>, expert: &str) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM push_subscriptions WHERE merchant_id = $1 AND expert_id = $2")
                .bind(m.as_str())
                .bind(expert)
                .execute(&self.writer)
                .await?
                .rows_affected(),
        )
    }

    /// One device by id (the worker's view: no tenant, the outbox row carries it). Read before
    /// every hand-off: on SQLite on the calling thread (`sqlite_reader`).
    pub async fn push_subscription_by_id(&self, id: &str) -> Result<Option<PushSubscription>> {
        let sql = format!("SELECT {SUB_COLS} FROM push_subscriptions s WHERE s.id = $1");
        Ok(self.hot_rows(&sql, &[Param::text(id)]).await?.pop())
    }

    /// An alert's state (`queued`, `handed`, … see [`PushAlert`]), read before its hand-off:
    /// on SQLite on the calling thread.
    pub async fn push_alert_state(&self, id: &str) -> Result<Option<String>> {
        let mut rows: Vec<(String,)> = self
            .hot_rows("SELECT state FROM push_alerts WHERE id = $1", &[Param::text(id)])
            .await?;
        Ok(rows.pop().map(|r| r.0))
    }

    /// The push service said the device is gone (404/410).
    pub async fn push_subscription_gone(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Record a hand-off's result on the device: a success clears the failure count.
    pub async fn push_subscription_result(&self, id: &str, error: Option<&str>) -> Result<()> {
        let now = now_ms();
        let q = match error {
            None => sqlx::query("UPDATE push_subscriptions SET failures = 0, last_error = NULL, last_success_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id),
            Some(e) => sqlx::query("UPDATE push_subscriptions SET failures = failures + 1, last_error = $1 WHERE id = $2")
                .bind(e.to_owned())
                .bind(id),
        };
        q.execute(&self.writer).await?;
        Ok(())
    }

    /// The approved experts assigned to this store and department who have a device, with
    /// what decides whether they can take the chat now (saved presence, cap, open chats).
    pub async fn push_candidates(&self, m: Tenant<'_>, store: &str, department: &str) -> Result<Vec<PushCandidate>> {
        let sql = format!(
            "SELECT {SUB_COLS}, e.presence_json, e.max_chats, \
             (SELECT COUNT(*) FROM conversations c WHERE c.merchant_id = e.merchant_id AND c.expert_id = e.id AND c.status = 'claimed') AS open_chats \
             FROM push_subscriptions s JOIN experts e ON e.id = s.expert_id AND e.merchant_id = s.merchant_id \
             WHERE s.merchant_id = $1 AND e.status = 'approved' \
             AND EXISTS (SELECT 1 FROM expert_stores es WHERE es.expert_id = e.id AND es.store_id = $2) \
             AND EXISTS (SELECT 1 FROM expert_departments ed WHERE ed.expert_id = e.id AND ed.department_id = $3) \
             ORDER BY s.expert_id, s.id"
        );
        let rows: Vec<CandidateRow> = sqlx_rows(
            &self.pool,
            &sql,
            &[Param::text(m.as_str()), Param::text(store), Param::text(department)],
        )
        .await?;
        let mut out: Vec<PushCandidate> = Vec::new();
        for r in rows {
            match out.last_mut() {
                Some(c) if c.expert_id == r.sub.expert_id => c.subscriptions.push(r.sub),
                _ => out.push(PushCandidate {
                    expert_id: r.sub.expert_id.clone(),
                    presence_json: r.presence_json,
                    max_chats: r.max_chats,
                    open_chats: r.open_chats,
                    subscriptions: vec![r.sub],
                }),
            }
        }
        Ok(out)
    }

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
                events.push(super::Event {
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
        self.insert_events(&[super::Event {
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
    pub async fn push_missed_check(&self, conversation: &str) -> Result<bool> {
        let sql = format!("SELECT {ALERT_COLS} FROM push_alerts WHERE conversation_id = $1");
        let all = sqlx::query_as::<_, PushAlert>(&sql)
            .bind(conversation)
            .fetch_all(&self.pool)
            .await?;
        let Some(first) = all.first() else { return Ok(false) };
        if !all.iter().all(|a| a.state == "failed") {
            return Ok(false);
        }
        self.insert_events(&[super::Event {
            merchant_id: first.merchant_id.clone(),
            kind: "missed_alert_failed",
            at: now_ms(),
            shopper_id: None,
            store_id: Some(first.store_id.clone()),
            department_id: Some(first.department_id.clone()),
            expert_id: None,
            conversation_id: Some(conversation.to_owned()),
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
    pub async fn close_push_alerts(&self, conversation: &str, claimed_by: Option<&str>) -> Result<Vec<PushAlert>> {
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

    /// The chats of the merchant queued since `since` that this expert did not claim (not
    /// offline messages), newest first, at most 200.
    pub async fn chats_not_mine(&self, m: Tenant<'_>, expert: &str, since: i64) -> Result<Vec<super::ConversationRow>> {
        let sql = format!(
            "{} WHERE c.merchant_id = $1 AND c.queued_at >= $2 AND c.offline = 0 AND COALESCE(c.expert_id, '') <> $3 \
             AND c.status IN ('claimed', 'ended', 'missed', 'abandoned') ORDER BY c.queued_at DESC LIMIT 200",
            super::chat::CONV_SELECT
        );
        sqlx_rows(&self.pool, &sql, &[Param::text(m.as_str()), Param::Int(since), Param::text(expert)]).await
    }

    /// When this expert switched available or away since `since` (oldest first): (at, available).
    pub async fn availability_changes(&self, m: Tenant<'_>, expert: &str, since: i64) -> Result<Vec<(i64, bool)>> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT at, kind FROM events WHERE merchant_id = $1 AND expert_id = $2 AND at >= $3 \
             AND kind IN ('expert_available', 'expert_away') ORDER BY at",
        )
        .bind(m.as_str())
        .bind(expert)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(at, k)| (at, k == "expert_available")).collect())
    }

    /// This expert's chats (claimed at, ended at) that were open at some point since `since`.
    pub async fn expert_chat_spans(&self, m: Tenant<'_>, expert: &str, since: i64) -> Result<Vec<(i64, Option<i64>)>> {
        Ok(sqlx::query_as(
            "SELECT claimed_at, ended_at FROM conversations WHERE merchant_id = $1 AND expert_id = $2 \
             AND claimed_at IS NOT NULL AND (ended_at IS NULL OR ended_at >= $3)",
        )
        .bind(m.as_str())
        .bind(expert)
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
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
