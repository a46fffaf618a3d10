//! Web Push: the store app's subscriptions (one per expert and device) here, the lifecycle of
//! every alert in `alerts.rs`, and what the missed-chats view reads in `missed.rs` (see
//! `crate::outbound::push` and docs/push.md).

use super::outbox::{enqueue_in, Enqueued, Outgoing};
use super::sqlite_writer::{Lane, Param};
use super::tx::{sqlx_rows, write_tx, Cols, FromCols};
use super::{Db, Result, StorageError, Tenant};
use crate::ids::MerchantId;
use crate::now_ms;

mod alerts;
mod missed;
pub use alerts::*;

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
}
