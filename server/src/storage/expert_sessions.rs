//! An expert's sign-in to the store app: the login read, the password, and the store-app
//! tokens (a token ends with a password change; a deactivated expert's token opens nothing).

use super::experts::{ExpertRow, EXPERT_COLS};
use super::Expert;
use super::{Db, Result, StorageError, Tenant};
use crate::domain::team::ExpertStatus;
use crate::ids::{ExpertId, MerchantId};
use crate::now_ms;

/// An expert authenticated by a store-app token.
#[derive(Debug, Clone)]
pub struct ExpertSession {
    pub expert: Expert,
    pub token_hash: String,
}

impl Db {
    /// Expert, password hash and merchant state for a store-app login.
    pub async fn expert_for_login(&self, email: &str) -> Result<Option<(Expert, String)>> {
        let sql = format!("SELECT {EXPERT_COLS}, password_hash FROM experts WHERE email = $1");
        let row = sqlx::query(&sql).bind(email).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        use sqlx::{FromRow, Row};
        let hash: String = row.try_get("password_hash")?;
        let r = ExpertRow::from_row(&row)?;
        let m = MerchantId::from_db(r.merchant_id.clone());
        let id = ExpertId::from_db(r.id.clone());
        let (s, d) = self.assignments(&m, &id).await?;
        Ok(Some((r.into_expert(s, d)?, hash)))
    }

    pub async fn expert_password_hash(&self, m: Tenant<'_>, id: &ExpertId) -> Result<String> {
        let row: Option<(String,)> = sqlx::query_as("SELECT password_hash FROM experts WHERE merchant_id = $1 AND id = $2")
            .bind(m.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.0).ok_or(StorageError::NotFound)
    }

    /// Set a new password and end every store-app token of the expert.
    pub async fn set_expert_password(&self, m: Tenant<'_>, id: &ExpertId, hash: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE experts SET password_hash = $1, updated_at = $2 WHERE merchant_id = $3 AND id = $4")
            .bind(hash)
            .bind(now_ms())
            .bind(m.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM expert_tokens WHERE expert_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_expert_token(&self, e: &Expert, token_hash: &str, ttl_ms: i64) -> Result<()> {
        let now = now_ms();
        sqlx::query("INSERT INTO expert_tokens (token_hash, expert_id, merchant_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash)
            .bind(e.id.as_str())
            .bind(e.merchant_id.as_str())
            .bind(now)
            .bind(now + ttl_ms)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The expert behind an unexpired token of an active merchant (any status: pending experts
    /// may see their waiting screen; callers decide what each status may do).
    pub async fn expert_session(&self, token_hash: &str) -> Result<Option<ExpertSession>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT t.expert_id, t.merchant_id FROM expert_tokens t JOIN merchants m ON m.id = t.merchant_id \
             WHERE t.token_hash = $1 AND t.expires_at > $2 AND m.active = 1",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        let Some((expert_id, merchant_id)) = row else {
            return Ok(None);
        };
        let m = MerchantId::from_db(merchant_id);
        let expert = self.get_expert(&m, &ExpertId::from_db(expert_id)).await?;
        if expert.status == ExpertStatus::Deactivated {
            return Ok(None);
        }
        Ok(Some(ExpertSession {
            expert,
            token_hash: token_hash.to_owned(),
        }))
    }

    pub async fn delete_expert_token(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM expert_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
