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
    #[schema(required = true)]
    pub last_used_at: Option<i64>,
    #[schema(required = true)]
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

/// One call made with a merchant API key.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct ApiCall {
    pub id: String,
    #[serde(skip)]
    pub merchant_id: String,
    pub api_key_id: String,
    #[schema(required = true)]
    pub api_key_name: Option<String>,
    pub method: String,
    /// Path and query string as called (at most 500 characters).
    pub path: String,
    pub status: i64,
    pub duration_ms: i64,
    pub at: i64,
}

/// Filters of the call log; `status` is a class (2..5 for 2xx..5xx) or an exact code.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    pub from: i64,
    pub to: i64,
    pub status_range: Option<(i64, i64)>,
    pub path_contains: Option<String>,
    pub api_key_id: Option<String>,
}

impl Db {
    pub async fn insert_api_calls(&self, calls: &[ApiCall]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for c in calls {
            sqlx::query(
                "INSERT INTO api_calls (id, merchant_id, api_key_id, method, path, status, duration_ms, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&c.id)
            .bind(&c.merchant_id)
            .bind(&c.api_key_id)
            .bind(&c.method)
            .bind(&c.path)
            .bind(c.status)
            .bind(c.duration_ms)
            .bind(c.at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Newest first, after the keyset cursor `"<at>:<id>"`.
    pub async fn list_api_calls(&self, m: Tenant<'_>, f: &CallFilter, page: &PageRequest) -> Result<Page<ApiCall>> {
        let mut sql = String::from(
            "SELECT c.id, c.merchant_id, c.api_key_id, k.name AS api_key_name, c.method, c.path, c.status, c.duration_ms, c.at \
             FROM api_calls c LEFT JOIN api_keys k ON k.id = c.api_key_id \
             WHERE c.merchant_id = $1 AND c.at >= $2 AND c.at < $3",
        );
        let mut n = 4;
        if f.status_range.is_some() {
            sql.push_str(&format!(" AND c.status >= ${} AND c.status <= ${}", n, n + 1));
            n += 2;
        }
        if f.path_contains.is_some() {
            sql.push_str(&format!(" AND LOWER(c.path) LIKE ${n} ESCAPE '\\'"));
            n += 1;
        }
        if f.api_key_id.is_some() {
            sql.push_str(&format!(" AND c.api_key_id = ${n}"));
            n += 1;
        }
        let bad_cursor = || StorageError::Invalid("not a cursor from this API".into());
        let (cur_at, cur_id) = match page.after.as_deref() {
            Some(c) => {
                let (a, i) = c.split_once(':').ok_or_else(bad_cursor)?;
                (a.parse::<i64>().map_err(|_| bad_cursor())?, i.to_owned())
            }
            None => (i64::MAX, String::new()),
        };
        sql.push_str(&format!(
            " AND (c.at < ${a} OR (c.at = ${a} AND c.id < ${b})) ORDER BY c.at DESC, c.id DESC LIMIT ${c}",
            a = n,
            b = n + 1,
            c = n + 2
        ));
        let mut q = sqlx::query_as::<_, ApiCall>(&sql).bind(m.as_str()).bind(f.from).bind(f.to);
        if let Some((lo, hi)) = f.status_range {
            q = q.bind(lo).bind(hi);
        }
        if let Some(p) = &f.path_contains {
            let escaped = p.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            q = q.bind(format!("%{escaped}%"));
        }
        if let Some(k) = &f.api_key_id {
            q = q.bind(k);
        }
        let first = page.after.is_none();
        let rows = q
            .bind(cur_at)
            .bind(if first { "\u{10FFFF}".to_owned() } else { cur_id })
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?;
        Ok(Page::from_rows(rows, page, |c| format!("{}:{}", c.at, c.id)))
    }

    pub async fn delete_api_calls_before(&self, cutoff: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM api_calls WHERE at < $1")
            .bind(cutoff)
            .execute(&self.writer)
            .await?
            .rows_affected())
    }
}
