//! Merchants' webhook endpoints: where events go, which ones, and the signing secret.
//!
//! The secret has to be kept (it signs every delivery), so it is stored as issued; the API shows
//! it once, on creation and on rotation, and never again. After a rotation the previous secret
//! keeps signing (a second signature) for a day, so a receiver can switch without losing events.

use serde::Serialize;

use super::{json_col, to_json, Db, Page, PageRequest, Result, StorageError, Tenant};
use crate::ids::MerchantId;
use crate::now_ms;

/// An endpoint as the API shows it (never with its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub description: String,
    /// Event types delivered to it.
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why the platform disabled it (sustained failure, or the receiver answered 410 Gone).
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// Every delivery has failed since this time (none when the last one succeeded).
    #[schema(required = true)]
    pub failing_since: Option<i64>,
    #[schema(required = true)]
    pub last_success_at: Option<i64>,
    #[schema(required = true)]
    pub last_failure_at: Option<i64>,
    /// The first characters of the current secret, to recognise it.
    pub secret_prefix: String,
    /// Until then deliveries also carry a signature made with the previous secret.
    #[schema(required = true)]
    pub previous_secret_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    url: String,
    description: String,
    events_json: String,
    secret: String,
    enabled: i64,
    disabled_reason: Option<String>,
    failing_since: Option<i64>,
    last_success_at: Option<i64>,
    last_failure_at: Option<i64>,
    previous_until: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl Row {
    fn view(self) -> Result<WebhookEndpoint> {
        Ok(WebhookEndpoint {
            id: self.id,
            url: self.url,
            description: self.description,
            events: json_col(&self.events_json, "events_json")?,
            enabled: self.enabled != 0,
            disabled_reason: self.disabled_reason,
            failing_since: self.failing_since,
            last_success_at: self.last_success_at,
            last_failure_at: self.last_failure_at,
            secret_prefix: self.secret.chars().take(12).collect(),
            previous_secret_until: self.previous_until.filter(|t| *t > now_ms()),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const COLS: &str = "id, url, description, events_json, secret, enabled, disabled_reason, failing_since, last_success_at, \
    last_failure_at, previous_until, created_at, updated_at";

/// The secrets that sign a delivery now: the current one, and the previous one for a day after
/// a rotation.
#[derive(Clone)]
pub struct SigningSecrets {
    pub current: String,
    pub previous: Option<String>,
}

impl std::fmt::Debug for SigningSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecrets(***)")
    }
}

/// How long the previous secret keeps signing after a rotation.
pub const PREVIOUS_SECRET_MS: i64 = 24 * 3_600_000;

impl Db {
    pub async fn create_webhook(
        &self,
        m: Tenant<'_>,
        url: &str,
        description: &str,
        events: &[String],
        secret: &str,
    ) -> Result<WebhookEndpoint> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, merchant_id, url, description, events_json, secret, enabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
        )
        .bind(&id)
        .bind(m.as_str())
        .bind(url)
        .bind(description)
        .bind(to_json(&events))
        .bind(secret)
        .bind(now)
        .execute(&self.writer)
        .await?;
        self.webhook(m, &id).await
    }

    pub async fn webhook(&self, m: Tenant<'_>, id: &str) -> Result<WebhookEndpoint> {
        let sql = format!("SELECT {COLS} FROM webhook_endpoints WHERE merchant_id = $1 AND id = $2");
        sqlx::query_as::<_, Row>(&sql)
            .bind(m.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?
            .view()
    }

    pub async fn list_webhooks(&self, m: Tenant<'_>, page: &PageRequest) -> Result<Page<WebhookEndpoint>> {
        let sql = format!("SELECT {COLS} FROM webhook_endpoints WHERE merchant_id = $1 AND id > $2 ORDER BY id LIMIT $3");
        let rows = sqlx::query_as::<_, Row>(&sql)
            .bind(m.as_str())
            .bind(page.after())
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?;
        let items = rows.into_iter().map(Row::view).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page, |e| e.id.clone()))
    }

    /// Change what is given; enabling clears the platform's reason for disabling it and the
    /// failure streak.
    pub async fn update_webhook(
        &self,
        m: Tenant<'_>,
        id: &str,
        url: Option<&str>,
        description: Option<&str>,
        events: Option<&[String]>,
        enabled: Option<bool>,
    ) -> Result<WebhookEndpoint> {
        let cur = self.webhook(m, id).await?;
        let reenable = enabled == Some(true) && !cur.enabled;
        sqlx::query(
            "UPDATE webhook_endpoints SET url = $1, description = $2, events_json = $3, enabled = $4, \
             disabled_reason = CASE WHEN $5 = 1 THEN NULL ELSE disabled_reason END, \
             failing_since = CASE WHEN $5 = 1 THEN NULL ELSE failing_since END, updated_at = $6 \
             WHERE merchant_id = $7 AND id = $8",
        )
        .bind(url.unwrap_or(&cur.url))
        .bind(description.unwrap_or(&cur.description))
        .bind(to_json(&events.map(<[String]>::to_vec).unwrap_or(cur.events)))
        .bind(i64::from(enabled.unwrap_or(cur.enabled)))
        .bind(i64::from(reenable))
        .bind(now_ms())
        .bind(m.as_str())
        .bind(id)
        .execute(&self.writer)
        .await?;
        self.webhook(m, id).await
    }

    /// Delete an endpoint; its queued deliveries fail (nothing more goes to it).
    pub async fn delete_webhook(&self, m: Tenant<'_>, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM webhook_endpoints WHERE merchant_id = $1 AND id = $2")
            .bind(m.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        sqlx::query(
            "UPDATE outbox SET status = 'failed', last_error = 'the endpoint was deleted', updated_at = $1 \
             WHERE merchant_id = $2 AND endpoint_id = $3 AND status = 'queued'",
        )
        .bind(now_ms())
        .bind(m.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replace the secret; the previous one keeps signing for [`PREVIOUS_SECRET_MS`].
    pub async fn rotate_webhook_secret(&self, m: Tenant<'_>, id: &str, secret: &str) -> Result<WebhookEndpoint> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = $1, secret = $2, updated_at = $3 \
             WHERE merchant_id = $4 AND id = $5",
        )
        .bind(now + PREVIOUS_SECRET_MS)
        .bind(secret)
        .bind(now)
        .bind(m.as_str())
        .bind(id)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        self.webhook(m, id).await
    }

    /// What a delivery to this endpoint needs: whether it is enabled, and its secrets.
    pub async fn webhook_signing(&self, id: &str) -> Result<Option<(bool, SigningSecrets)>> {
        let row: Option<(i64, String, Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT enabled, secret, previous_secret, previous_until FROM webhook_endpoints WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(enabled, current, previous, until)| {
            let previous = previous.filter(|_| until.is_some_and(|u| u > now_ms()));
            (enabled != 0, SigningSecrets { current, previous })
        }))
    }

    /// A delivery succeeded: the endpoint is healthy again.
    pub async fn webhook_succeeded(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL, last_success_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// A delivery failed. When every delivery has failed for `disable_after_ms`, or `gone` (the
    /// receiver answered 410), the endpoint is disabled with a reason the dashboard shows.
    /// Returns whether this call disabled it.
    pub async fn webhook_failed(&self, id: &str, disable_after_ms: i64, gone: bool) -> Result<bool> {
        let now = now_ms();
        sqlx::query("UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1), last_failure_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await?;
        let reason = if gone {
            "The receiver answered 410 Gone: it asked for no more deliveries.".to_owned()
        } else {
            "Every delivery failed for too long; the endpoint was disabled.".to_owned()
        };
        let done = sqlx::query(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2 \
             WHERE id = $3 AND enabled = 1 AND ($4 = 1 OR failing_since <= $5)",
        )
        .bind(reason)
        .bind(now)
        .bind(id)
        .bind(i64::from(gone))
        .bind(now - disable_after_ms)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The merchant an endpoint belongs to (for a worker's logs and notices).
    pub async fn webhook_merchant(&self, id: &str) -> Result<Option<MerchantId>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT merchant_id FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| MerchantId::from_db(r.0)))
    }
}
