//! An expert's contacts: the shoppers they served, and who a returning shopper's contact is.

use super::super::sqlite_writer::Param;
use super::super::{Db, Result, Tenant};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub shopper_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub last_chat_at: i64,
    pub conversations: i64,
}

impl Db {
    /// The shopper's contact expert: the current one (who last claimed a chat with them, so
    /// the most recent last-chat time), or while they are not approved (deactivated), the
    /// most recent earlier contact who is.
    pub async fn contact_expert(&self, m: Tenant<'_>, shopper: &str) -> Result<Option<String>> {
        let rows: Vec<(String,)> = self
            .hot_rows(
                "SELECT c.expert_id FROM contacts c JOIN experts e ON e.id = c.expert_id \
                 WHERE c.merchant_id = $1 AND c.shopper_id = $2 AND e.status = 'approved' ORDER BY c.last_chat_at DESC LIMIT 1",
                &[Param::text(m.as_str()), Param::text(shopper)],
            )
            .await?;
        Ok(rows.into_iter().next().map(|r| r.0))
    }

    /// Whether the expert is or was the shopper's contact (an earlier contact keeps their view
    /// of the shopper's history).
    pub async fn is_contact(&self, m: Tenant<'_>, expert: &str, shopper: &str) -> Result<bool> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT shopper_id FROM contacts WHERE merchant_id = $1 AND expert_id = $2 AND shopper_id = $3")
                .bind(m.as_str())
                .bind(expert)
                .bind(shopper)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    pub async fn contacts_of(&self, m: Tenant<'_>, expert: &str, q: Option<&str>) -> Result<Vec<ContactRow>> {
        let pattern = q
            .filter(|q| !q.trim().is_empty())
            .map(|q| format!("%{}%", q.trim().to_lowercase().replace(['%', '_', '\\'], "")));
        Ok(sqlx::query_as::<_, ContactRow>(
            "SELECT c.shopper_id, s.name, s.email, c.last_chat_at, \
             (SELECT COUNT(*) FROM conversations v WHERE v.merchant_id = c.merchant_id AND v.shopper_id = c.shopper_id) AS conversations \
             FROM contacts c JOIN shoppers s ON s.id = c.shopper_id \
             WHERE c.merchant_id = $1 AND c.expert_id = $2 AND c.superseded_at IS NULL AND ($3 = '' OR LOWER(COALESCE(s.name, '')) LIKE $3 \
               OR LOWER(COALESCE(s.email, '')) LIKE $3 OR LOWER(c.shopper_id) LIKE $3) \
             ORDER BY c.last_chat_at DESC LIMIT 200",
        )
        .bind(m.as_str())
        .bind(expert)
        .bind(pattern.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?)
    }
}
