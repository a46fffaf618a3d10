//! Orders the merchant reports, attributed to the chat (and expert) that led to them.

use crate::ids::ConversationId;
use std::collections::HashMap;

use super::{placeholders, Db, Result, StorageError, Tenant};

/// An order as the merchant reported it, with its attribution.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub order_id: String,
    pub shopper_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    pub placed_at: i64,
    pub conversation_id: Option<ConversationId>,
    pub store_id: Option<String>,
    pub department_id: Option<String>,
    pub expert_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl OrderRow {
    /// Orders that count as sales (not cancelled or refunded).
    pub fn counts(&self) -> bool {
        matches!(self.status.as_str(), "placed" | "paid" | "fulfilled")
    }
}

/// What the caller reports; the rest is decided here.
pub struct NewOrder<'a> {
    pub order_id: &'a str,
    pub shopper_id: &'a str,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub status: &'a str,
    pub placed_at: i64,
}

pub enum OrderOutcome {
    Created(OrderRow),
    Updated(OrderRow),
    Unchanged(OrderRow),
}

const ORDER_COLS: &str = "order_id, shopper_id, amount_minor, currency, status, placed_at, conversation_id, store_id, department_id, \
                          expert_id, created_at, updated_at";

impl Db {
    pub async fn get_order(&self, m: Tenant<'_>, order_id: &str) -> Result<OrderRow> {
        sqlx::query_as::<_, OrderRow>(&format!("SELECT {ORDER_COLS} FROM orders WHERE merchant_id = $1 AND order_id = $2"))
            .bind(m.as_str())
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)
    }

    pub async fn shopper_orders(&self, m: Tenant<'_>, shopper: &str) -> Result<Vec<OrderRow>> {
        Ok(sqlx::query_as::<_, OrderRow>(&format!(
            "SELECT {ORDER_COLS} FROM orders WHERE merchant_id = $1 AND shopper_id = $2 ORDER BY placed_at DESC LIMIT 200"
        ))
        .bind(m.as_str())
        .bind(shopper)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Create or update an order, idempotently by order id. The attribution is decided on
    /// creation: the most recent chat with this shopper that an expert claimed at most `window_ms`
    /// before the order was placed. Every change to what counts as a sale is written as an
    /// `order` event (a delta) in the same transaction, so the rollups follow status changes.
    pub async fn upsert_order(&self, m: Tenant<'_>, o: &NewOrder<'_>, window_ms: i64, now: i64) -> Result<OrderOutcome> {
        let mut tx = self.begin_write().await?;
        let prev = sqlx::query_as::<_, OrderRow>(&format!("SELECT {ORDER_COLS} FROM orders WHERE merchant_id = $1 AND order_id = $2"))
            .bind(m.as_str())
            .bind(o.order_id)
            .fetch_optional(&mut *tx)
            .await?;
        let row = match &prev {
            Some(p) => {
                if p.shopper_id != o.shopper_id {
                    return Err(StorageError::Conflict("this order id belongs to another shopper".into()));
                }
                if p.amount_minor == o.amount_minor && p.currency == o.currency && p.status == o.status && p.placed_at == o.placed_at {
                    return Ok(OrderOutcome::Unchanged(p.clone()));
                }
                OrderRow {
                    amount_minor: o.amount_minor,
                    currency: o.currency.to_owned(),
                    status: o.status.to_owned(),
                    placed_at: o.placed_at,
                    updated_at: now,
                    ..p.clone()
                }
            }
            None => {
                let conv: Option<(ConversationId, String, String, Option<String>)> = sqlx::query_as(
                    "SELECT id, store_id, department_id, expert_id FROM conversations \
                     WHERE merchant_id = $1 AND shopper_id = $2 AND claimed_at IS NOT NULL AND claimed_at <= $3 AND claimed_at >= $4 \
                     ORDER BY claimed_at DESC LIMIT 1",
                )
                .bind(m.as_str())
                .bind(o.shopper_id)
                .bind(o.placed_at)
                .bind(o.placed_at - window_ms)
                .fetch_optional(&mut *tx)
                .await?;
                OrderRow {
                    order_id: o.order_id.to_owned(),
                    shopper_id: o.shopper_id.to_owned(),
                    amount_minor: o.amount_minor,
                    currency: o.currency.to_owned(),
                    status: o.status.to_owned(),
                    placed_at: o.placed_at,
                    conversation_id: conv.as_ref().map(|c| c.0.clone()),
                    store_id: conv.as_ref().map(|c| c.1.clone()),
                    department_id: conv.as_ref().map(|c| c.2.clone()),
                    expert_id: conv.and_then(|c| c.3),
                    created_at: now,
                    updated_at: now,
                }
            }
        };
        sqlx::query(
            "INSERT INTO orders (merchant_id, order_id, shopper_id, amount_minor, currency, status, placed_at, conversation_id, \
                                 store_id, department_id, expert_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (merchant_id, order_id) DO UPDATE SET amount_minor = excluded.amount_minor, currency = excluded.currency, \
                status = excluded.status, placed_at = excluded.placed_at, updated_at = excluded.updated_at",
        )
        .bind(m.as_str())
        .bind(&row.order_id)
        .bind(&row.shopper_id)
        .bind(row.amount_minor)
        .bind(&row.currency)
        .bind(&row.status)
        .bind(row.placed_at)
        .bind(row.conversation_id.as_deref())
        .bind(row.store_id.as_deref())
        .bind(row.department_id.as_deref())
        .bind(row.expert_id.as_deref())
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(&mut *tx)
        .await?;
        if row.conversation_id.is_some() {
            // Take back what the previous version counted, then count the new one.
            let mut deltas: Vec<(i64, &str, i64, i64)> = Vec::new();
            if let Some(p) = prev.as_ref().filter(|p| p.counts()) {
                deltas.push((-p.amount_minor, &p.currency, -1, p.placed_at));
            }
            if row.counts() {
                deltas.push((row.amount_minor, &row.currency, 1, row.placed_at));
            }
            for (value, currency, orders, at) in deltas {
                sqlx::query(
                    "INSERT INTO events (id, merchant_id, kind, at, shopper_id, store_id, department_id, expert_id, conversation_id, value, data_json) \
                     VALUES ($1, $2, 'order', $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(m.as_str())
                .bind(at)
                .bind(&row.shopper_id)
                .bind(row.store_id.as_deref())
                .bind(row.department_id.as_deref())
                .bind(row.expert_id.as_deref())
                .bind(row.conversation_id.as_deref())
                .bind(value)
                .bind(serde_json::json!({"currency": currency, "orders": orders, "order_id": row.order_id}).to_string())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(if prev.is_some() {
            OrderOutcome::Updated(row)
        } else {
            OrderOutcome::Created(row)
        })
    }

    /// Attributed revenue per conversation, for the conversations export.
    pub async fn conversation_revenue(&self, m: Tenant<'_>, ids: &[String]) -> Result<HashMap<String, Vec<(String, i64)>>> {
        let mut out: HashMap<String, Vec<(String, i64)>> = HashMap::new();
        for chunk in ids.chunks(200) {
            if chunk.is_empty() {
                continue;
            }
            let sql = format!(
                "SELECT conversation_id, currency, CAST(SUM(amount_minor) AS BIGINT) FROM orders WHERE merchant_id = $1 AND conversation_id IN ({}) \
                 AND status IN ('placed', 'paid', 'fulfilled') GROUP BY conversation_id, currency",
                placeholders(chunk.len(), 2)
            );
            let mut q = sqlx::query_as::<_, (String, String, i64)>(&sql).bind(m.as_str());
            for id in chunk {
                q = q.bind(id);
            }
            for (c, cur, v) in q.fetch_all(&self.pool).await? {
                out.entry(c).or_default().push((cur, v));
            }
        }
        Ok(out)
    }

    /// Currencies of attributed orders placed in [from, to).
    pub async fn order_currencies(&self, m: Tenant<'_>, from: i64, to: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT currency FROM orders WHERE merchant_id = $1 AND conversation_id IS NOT NULL AND placed_at >= $2 AND placed_at < $3 \
             ORDER BY currency",
        )
        .bind(m.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
