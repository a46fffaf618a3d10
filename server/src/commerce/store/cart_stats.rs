//! Carts sent and paid, per store, expert and currency, for the analytics.

use crate::storage::{Db, Result, Tenant};

/// Carts sent and paid for one store, expert and currency.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CartStatsRow {
    pub store_id: String,
    pub expert_id: Option<String>,
    pub currency: String,
    pub sent: i64,
    pub paid: i64,
    pub revenue_minor: i64,
}

impl Db {
    /// Carts created in `[from, to)` (revised ones count once: the replaced versions are left
    /// out), grouped by store, expert and currency.
    pub async fn cart_stats(&self, m: Tenant<'_>, from: i64, to: i64) -> Result<Vec<CartStatsRow>> {
        Ok(sqlx::query_as(
            // CAST: PostgreSQL sums BIGINT into NUMERIC, which does not read as an i64.
            "SELECT store_id, expert_id, currency, COUNT(*) AS sent, \
             CAST(SUM(CASE WHEN status = 'paid' THEN 1 ELSE 0 END) AS BIGINT) AS paid, \
             CAST(SUM(CASE WHEN status = 'paid' THEN total_minor ELSE 0 END) AS BIGINT) AS revenue_minor \
             FROM carts WHERE merchant_id = $1 AND created_at >= $2 AND created_at < $3 AND status <> 'replaced' \
             GROUP BY store_id, expert_id, currency ORDER BY store_id, expert_id, currency",
        )
        .bind(m.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }
}
