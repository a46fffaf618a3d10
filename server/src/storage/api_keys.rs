//! Merchant API keys for server-to-server calls. The secret is returned once at creation;
//! only its SHA-256 is stored (keys are 256 random bits, so a fast hash is enough).

use serde::Serialize;

use super::{Db, Page, PageRequest, Result, StorageError, Tenant};
use crate::ids::{ApiKeyId, MerchantId};
use crate::now_ms;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    prefix: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<Row> for ApiKey {
    fn from(r: Row) -> Self {
        ApiKey {
            id: ApiKeyId::from_db(r.id),
            name: r.name,
            prefix: r.prefix,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

const COLS: &str = "id, name, prefix, created_at, last_used_at, revoked_at";

impl Db {
    pub async fn create_api_key(&self, m: Tenant<'_>, name: &str, prefix: &str, secret_hash: &str) -> Result<ApiKey> {
        let id = ApiKeyId::generate();
        sqlx::query("INSERT INTO api_keys (id, merchant_id, name, prefix, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id.as_str())
            .bind(m.as_str())
            .bind(name)
            .bind(prefix)
            .bind(secret_hash)
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        self.get_api_key(m, &id).await
    }

    pub async fn get_api_key(&self, m: Tenant<'_>, id: &ApiKeyId) -> Result<ApiKey> {
        let sql = format!("SELECT {COLS} FROM api_keys WHERE merchant_id = $1 AND id = $2");
        sqlx::query_as::<_, Row>(&sql)
            .bind(m.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(ApiKey::from)
            .ok_or(StorageError::NotFound)
    }

    pub async fn list_api_keys(&self, m: Tenant<'_>, page: &PageRequest) -> Result<Page<ApiKey>> {
        let sql = format!("SELECT {COLS} FROM api_keys WHERE merchant_id = $1 AND id > $2 ORDER BY id LIMIT $3");
        let rows = sqlx::query_as::<_, Row>(&sql)
            .bind(m.as_str())
            .bind(page.after())
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?;
        Ok(Page::from_rows(rows.into_iter().map(ApiKey::from).collect(), page, |k| {
            k.id.to_string()
        }))
    }

    /// Revoke a key; it stops working at once. Revoking twice is not an error.
    pub async fn revoke_api_key(&self, m: Tenant<'_>, id: &ApiKeyId) -> Result<ApiKey> {
        let done = sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE merchant_id = $2 AND id = $3")
            .bind(now_ms())
            .bind(m.as_str())
            .bind(id.as_str())
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        self.get_api_key(m, id).await
    }

    /// The merchant and key id of an unrevoked key with this hash; records its use.
    pub async fn api_key_merchant(&self, secret_hash: &str) -> Result<Option<(MerchantId, ApiKeyId)>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT k.merchant_id, k.id FROM api_keys k JOIN merchants m ON m.id = k.merchant_id \
             WHERE k.secret_hash = $1 AND k.revoked_at IS NULL AND m.active = 1",
        )
        .bind(secret_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some((m, id)) = row else { return Ok(None) };
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(&id)
            .execute(&self.writer)
            .await?;
        Ok(Some((MerchantId::from_db(m), ApiKeyId::from_db(id))))
    }
}
