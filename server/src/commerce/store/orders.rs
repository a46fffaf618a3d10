//! Order handling (stages, history, notes) and the Orders module's list.

use crate::ids::ConversationId;
use serde::Serialize;
use utoipa::ToSchema;

use super::*;
use crate::now_ms;
use crate::storage::{Db, Result, StorageError, Tenant};

/// An order's handling stage and what came with it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct OrderHandling {
    pub order_id: String,
    pub shopper_id: String,
    #[schema(required = true)]
    pub cart_id: Option<String>,
    pub stage: String,
    #[schema(required = true)]
    pub carrier: Option<String>,
    #[schema(required = true)]
    pub tracking_number: Option<String>,
    #[schema(required = true)]
    pub tracking_url: Option<String>,
    #[schema(required = true)]
    pub conversation_id: Option<ConversationId>,
    pub status: String,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct OrderHistoryEntry {
    pub at: i64,
    pub stage: String,
    /// account | api_key
    pub actor_kind: String,
    #[schema(required = true)]
    pub actor_id: Option<String>,
    #[schema(required = true)]
    pub carrier: Option<String>,
    #[schema(required = true)]
    pub tracking_number: Option<String>,
    #[schema(required = true)]
    pub tracking_url: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize, ToSchema)]
pub struct OrderNote {
    pub id: String,
    pub at: i64,
    /// account | api_key
    pub author_kind: String,
    #[schema(required = true)]
    pub author_id: Option<String>,
    pub body: String,
}

/// Stages an order can still move from.
pub const OPEN_STAGES: [&str; 3] = ["new", "in_progress", "shipped"];
pub const STAGES: [&str; 6] = ["new", "in_progress", "shipped", "completed", "cancelled", "refunded"];

/// Whether the flow allows `from` → `to` (docs/commerce.md "Orders"): forward one step, or
/// new → shipped (a shop may skip in_progress), never past shipped; cancelled/refunded from any
/// open stage; nothing from a closed one, nothing to the stage it is in.
pub fn stage_allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("new", "in_progress")
            | ("new" | "in_progress", "shipped")
            | ("shipped", "completed")
            | ("new" | "in_progress" | "shipped", "cancelled" | "refunded")
    )
}

pub struct StageChange<'a> {
    pub stage: &'a str,
    pub carrier: Option<&'a str>,
    pub tracking_number: Option<&'a str>,
    pub tracking_url: Option<&'a str>,
    pub actor_kind: &'a str,
    pub actor_id: Option<&'a str>,
}

impl Db {
    pub async fn order_handling(&self, m: Tenant<'_>, order_id: &str) -> Result<OrderHandling> {
        sqlx::query_as::<_, OrderHandling>(
            "SELECT order_id, shopper_id, cart_id, stage, carrier, tracking_number, tracking_url, conversation_id, status \
             FROM orders WHERE merchant_id = $1 AND order_id = $2",
        )
        .bind(m.as_str())
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)
    }

    pub async fn link_order_cart(&self, m: Tenant<'_>, order_id: &str, cart_id: &str) -> Result<()> {
        sqlx::query("UPDATE orders SET cart_id = $1 WHERE merchant_id = $2 AND order_id = $3")
            .bind(cart_id)
            .bind(m.as_str())
            .bind(order_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Move an order to a new stage if the flow allows it from where it is now (checked in the
    /// same transaction), record the history; cancelled/refunded also set the payment status.
    /// `Conflict` when the flow forbids it.
    pub async fn set_order_stage(&self, m: Tenant<'_>, order_id: &str, c: &StageChange<'_>) -> Result<OrderHandling> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let (cur,): (String,) = sqlx::query_as("SELECT stage FROM orders WHERE merchant_id = $1 AND order_id = $2")
            .bind(m.as_str())
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StorageError::NotFound)?;
        if !stage_allowed(&cur, c.stage) {
            return Err(StorageError::Conflict(format!("an order cannot go from {cur} to {}", c.stage)));
        }
        sqlx::query(
            "UPDATE orders SET stage = $1, carrier = COALESCE($2, carrier), tracking_number = COALESCE($3, tracking_number), \
             tracking_url = COALESCE($4, tracking_url), updated_at = $5, \
             status = CASE WHEN $1 IN ('cancelled', 'refunded') THEN $1 ELSE status END \
             WHERE merchant_id = $6 AND order_id = $7",
        )
        .bind(c.stage)
        .bind(c.carrier)
        .bind(c.tracking_number)
        .bind(c.tracking_url)
        .bind(now)
        .bind(m.as_str())
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO order_history (id, merchant_id, order_id, at, stage, actor_kind, actor_id, carrier, tracking_number, tracking_url) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(m.as_str())
        .bind(order_id)
        .bind(now)
        .bind(c.stage)
        .bind(c.actor_kind)
        .bind(c.actor_id)
        .bind(c.carrier)
        .bind(c.tracking_number)
        .bind(c.tracking_url)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.order_handling(m, order_id).await
    }

    pub async fn order_history(&self, m: Tenant<'_>, order_id: &str) -> Result<Vec<OrderHistoryEntry>> {
        Ok(sqlx::query_as(
            "SELECT at, stage, actor_kind, actor_id, carrier, tracking_number, tracking_url FROM order_history \
             WHERE merchant_id = $1 AND order_id = $2 ORDER BY at, id",
        )
        .bind(m.as_str())
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn add_order_note(&self, m: Tenant<'_>, order_id: &str, kind: &str, author: Option<&str>, body: &str) -> Result<OrderNote> {
        self.order_handling(m, order_id).await?;
        let note = OrderNote {
            id: uuid::Uuid::now_v7().to_string(),
            at: now_ms(),
            author_kind: kind.to_owned(),
            author_id: author.map(str::to_owned),
            body: body.to_owned(),
        };
        sqlx::query(
            "INSERT INTO order_notes (id, merchant_id, order_id, at, author_kind, author_id, body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&note.id)
        .bind(m.as_str())
        .bind(order_id)
        .bind(note.at)
        .bind(kind)
        .bind(author)
        .bind(body)
        .execute(&self.writer)
        .await?;
        Ok(note)
    }

    pub async fn order_notes(&self, m: Tenant<'_>, order_id: &str) -> Result<Vec<OrderNote>> {
        Ok(sqlx::query_as(
            "SELECT id, at, author_kind, author_id, body FROM order_notes WHERE merchant_id = $1 AND order_id = $2 ORDER BY at, id",
        )
        .bind(m.as_str())
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

// The Orders module's list.

/// An order as the Orders module lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderListRow {
    pub order_id: String,
    pub shopper_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    pub stage: String,
    pub placed_at: i64,
    pub updated_at: i64,
    pub conversation_id: Option<ConversationId>,
    pub store_id: Option<String>,
    pub expert_id: Option<String>,
    pub cart_id: Option<String>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
}

/// Filters of the order list and export.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub stage: Option<String>,
    pub store_id: Option<String>,
    pub expert_id: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Order id or shopper id fragment, or an exact SKU on one of its cart's lines.
    pub q: Option<String>,
}

pub(super) const ORDER_LIST_COLS: &str =
    "o.order_id, o.shopper_id, o.amount_minor, o.currency, o.status, o.stage, o.placed_at, o.updated_at, \
    o.conversation_id, o.store_id, o.expert_id, o.cart_id, o.carrier, o.tracking_number, o.tracking_url";

impl Db {
    pub async fn order_row(&self, m: Tenant<'_>, order_id: &str) -> Result<OrderListRow> {
        sqlx::query_as::<_, OrderListRow>(&format!(
            "SELECT {ORDER_LIST_COLS} FROM orders o WHERE o.merchant_id = $1 AND o.order_id = $2"
        ))
        .bind(m.as_str())
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)
    }

    /// Orders newest first after the keyset `(placed_at, order_id)`.
    pub async fn list_orders(&self, m: Tenant<'_>, f: &OrderFilter, after: Option<(i64, String)>, limit: i64) -> Result<Vec<OrderListRow>> {
        let q = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).unwrap_or("");
        let like = if q.is_empty() {
            String::new()
        } else {
            format!("%{}%", like_escape(&q.to_lowercase()))
        };
        let (after_at, after_id) = after.unwrap_or((i64::MAX, String::new()));
        Ok(sqlx::query_as::<_, OrderListRow>(
            "SELECT o.order_id, o.shopper_id, o.amount_minor, o.currency, o.status, o.stage, o.placed_at, o.updated_at, \
             o.conversation_id, o.store_id, o.expert_id, o.cart_id, o.carrier, o.tracking_number, o.tracking_url \
             FROM orders o WHERE o.merchant_id = $1 \
             AND ($2 = '' OR o.stage = $2) AND ($3 = '' OR o.store_id = $3) AND ($4 = '' OR o.expert_id = $4) \
             AND o.placed_at >= $5 AND o.placed_at < $6 \
             AND ($7 = '' OR LOWER(o.order_id) LIKE $7 ESCAPE '\\' OR LOWER(o.shopper_id) LIKE $7 ESCAPE '\\' \
                  OR EXISTS (SELECT 1 FROM cart_lines l WHERE l.cart_id = o.cart_id AND l.sku = $8) \
                  OR EXISTS (SELECT 1 FROM shoppers s WHERE s.id = o.shopper_id AND LOWER(s.email) LIKE $7 ESCAPE '\\')) \
             AND (o.placed_at < $9 OR (o.placed_at = $9 AND o.order_id < $10) OR $10 = '') \
             ORDER BY o.placed_at DESC, o.order_id DESC LIMIT $11",
        )
        .bind(m.as_str())
        .bind(f.stage.as_deref().unwrap_or(""))
        .bind(f.store_id.as_deref().unwrap_or(""))
        .bind(f.expert_id.as_deref().unwrap_or(""))
        .bind(f.from.unwrap_or(0))
        .bind(f.to.unwrap_or(i64::MAX))
        .bind(like)
        .bind(q)
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table in docs/commerce.md "Orders", cell by cell.
    #[test]
    fn the_stage_flow_is_the_documented_table() {
        let to = ["in_progress", "shipped", "completed", "cancelled", "refunded"];
        let table = [
            ("new", [true, true, false, true, true]),
            ("in_progress", [false, true, false, true, true]),
            ("shipped", [false, false, true, true, true]),
            ("completed", [false; 5]),
            ("cancelled", [false; 5]),
            ("refunded", [false; 5]),
        ];
        for (from, row) in table {
            for (t, want) in to.iter().zip(row) {
                assert_eq!(stage_allowed(from, t), want, "{from} → {t}");
            }
            assert!(!stage_allowed(from, "new"), "{from} → new");
            assert!(!stage_allowed(from, "bogus"), "{from} → bogus");
        }
    }
}
