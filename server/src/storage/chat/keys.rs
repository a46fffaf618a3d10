//! Small shared writes: cluster-wide secrets, the merchant's identity secret, an expert's
//! saved presence, and the one-statement write helpers over both backends.

use super::super::sqlite_writer::{bind_all, Lane, Param};
use super::super::tx::write_tx;
use super::super::{Db, Result, StorageError, Tenant};
use crate::now_ms;

impl Db {
    /// A cluster-wide secret, created by whichever node asks first.
    pub async fn server_key(&self, name: &str) -> Result<String> {
        let fresh = crate::auth::new_token("");
        self.write_one(
            "INSERT INTO server_keys (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            vec![Param::from(name), Param::from(&fresh), Param::from(now_ms())],
        )
        .await?;
        let (v,): (String,) = sqlx::query_as("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(v)
    }

    pub async fn identity_secret(&self, m: Tenant<'_>) -> Result<String> {
        let row: Option<(String,)> = sqlx::query_as("SELECT identity_secret FROM merchants WHERE id = $1")
            .bind(m.as_str())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some((s,)) if !s.is_empty() => Ok(s),
            Some(_) => {
                let s = crate::auth::new_token("fwi_");
                self.write_one(
                    "UPDATE merchants SET identity_secret = $1 WHERE id = $2 AND identity_secret = ''",
                    vec![Param::from(&s), Param::from(m.as_str())],
                )
                .await?;
                Box::pin(self.identity_secret(m)).await
            }
            None => Err(StorageError::NotFound),
        }
    }

    pub async fn rotate_identity_secret(&self, m: Tenant<'_>) -> Result<String> {
        let s = crate::auth::new_token("fwi_");
        let done = self
            .write_one(
                "UPDATE merchants SET identity_secret = $1 WHERE id = $2",
                vec![Param::from(&s), Param::from(m.as_str())],
            )
            .await?;
        if done == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(s)
    }

    pub async fn shopper_exists(&self, m: Tenant<'_>, id: &str) -> Result<bool> {
        let rows: Vec<(String,)> = self
            .hot_rows(
                "SELECT id FROM shoppers WHERE merchant_id = $1 AND id = $2",
                &[Param::text(m.as_str()), Param::text(id)],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    /// Run one writing statement (on SQLite, on the writer thread); the number of rows changed.
    /// Elsewhere it runs on its own, without a transaction around it: one statement is atomic.
    pub(crate) async fn write_one(&self, sql: &'static str, params: Vec<Param>) -> Result<u64> {
        if self.fast.is_some() {
            return write_tx!(self, Lane::Now, |tx| async move { tx.execute(sql, &params).await });
        }
        Ok(bind_all(sqlx::query(sql), &params).execute(&self.writer).await?.rows_affected())
    }

    /// Run these statements in one write transaction nobody waits on (on SQLite, in the writer
    /// thread's `Later` lane: after every message, claim or new chat that is waiting). Callers
    /// keep each call small; a long job would hold up the writes that arrive while it runs.
    pub(crate) async fn write_later(&self, statements: Vec<(String, Vec<Param>)>) -> Result<()> {
        if statements.is_empty() {
            return Ok(());
        }
        write_tx!(self, Lane::Later, |tx| async move {
            for (sql, params) in &statements {
                tx.execute(sql, params).await?;
            }
            Ok(())
        })
    }

    pub async fn expert_presence_json(&self, m: Tenant<'_>, expert: &str) -> Result<String> {
        let row: Option<(String,)> = sqlx::query_as("SELECT presence_json FROM experts WHERE merchant_id = $1 AND id = $2")
            .bind(m.as_str())
            .bind(expert)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.0).ok_or(StorageError::NotFound)
    }

    pub async fn set_expert_presence_json(&self, m: Tenant<'_>, expert: &str, json: &str) -> Result<()> {
        self.write_one(
            "UPDATE experts SET presence_json = $1 WHERE merchant_id = $2 AND id = $3",
            vec![Param::from(json), Param::from(m.as_str()), Param::from(expert)],
        )
        .await?;
        Ok(())
    }
}
