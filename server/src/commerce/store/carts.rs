//! Carts an expert builds in a chat: their rows and lines, status changes, reminders, lapsing.

use super::super::cart::Line;
use crate::ids::ConversationId;
use crate::now_ms;
use crate::storage::{Db, Result, StorageError, Tenant};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CartRow {
    pub id: String,
    pub merchant_id: String,
    pub conversation_id: ConversationId,
    pub shopper_id: String,
    pub expert_id: Option<String>,
    pub expert_name: Option<String>,
    pub store_id: String,
    pub status: String,
    pub checkout_mode: String,
    pub currency: String,
    pub items: i64,
    pub total_minor: i64,
    pub quote_valid_until: Option<i64>,
    pub expires_at: i64,
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
    pub order_id: Option<String>,
    pub reminder_at: Option<i64>,
    pub paid_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(super) const CART_COLS: &str =
    "c.id, c.merchant_id, c.conversation_id, c.shopper_id, c.expert_id, e.name AS expert_name, c.store_id, c.status, \
    c.checkout_mode, c.currency, c.items, c.total_minor, c.quote_valid_until, c.expires_at, c.replaces, c.replaced_by, c.order_id, \
    c.reminder_at, c.paid_at, c.created_at, c.updated_at";
pub(super) const CART_FROM: &str = "FROM carts c LEFT JOIN experts e ON e.id = c.expert_id";

#[derive(sqlx::FromRow)]
pub(super) struct LineRow {
    sku: Option<String>,
    product_id: Option<String>,
    name: String,
    image_url: Option<String>,
    product_url: Option<String>,
    quantity: i64,
    unit_minor: i64,
    original_minor: Option<i64>,
    vat_bp: i64,
}

/// A new cart, ready to store.
#[derive(Debug, Clone)]
pub struct NewCart {
    pub id: String,
    pub conversation_id: ConversationId,
    pub shopper_id: String,
    pub expert_id: String,
    pub store_id: String,
    pub status: &'static str,
    pub checkout_mode: String,
    pub currency: String,
    pub items: i64,
    pub total_minor: i64,
    pub quote_valid_until: Option<i64>,
    pub expires_at: i64,
    pub replaces: Option<String>,
}

/// The statuses a cart can still be paid, accepted or replaced in.
pub const OPEN_CART: [&str; 2] = ["quote", "awaiting_payment"];

impl Db {
    /// Store a cart and its lines; mark the cart it replaces (which must be open and of the
    /// same conversation) `replaced`. All in one transaction.
    pub async fn insert_cart(&self, m: Tenant<'_>, c: &NewCart, lines: &[Line]) -> Result<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        if let Some(old) = &c.replaces {
            let done = sqlx::query(
                "UPDATE carts SET status = 'replaced', replaced_by = $1, updated_at = $2 \
                 WHERE merchant_id = $3 AND id = $4 AND conversation_id = $5 AND status IN ('quote', 'awaiting_payment')",
            )
            .bind(&c.id)
            .bind(now)
            .bind(m.as_str())
            .bind(old)
            .bind(&c.conversation_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StorageError::Invalid(
                    "replaces: no open cart of this conversation with this id (paid, cancelled and expired carts cannot be revised)".into(),
                ));
            }
        }
        sqlx::query(
            "INSERT INTO carts (id, merchant_id, conversation_id, shopper_id, expert_id, store_id, status, checkout_mode, currency, \
             items, total_minor, quote_valid_until, expires_at, replaces, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)",
        )
        .bind(&c.id)
        .bind(m.as_str())
        .bind(&c.conversation_id)
        .bind(&c.shopper_id)
        .bind(&c.expert_id)
        .bind(&c.store_id)
        .bind(c.status)
        .bind(&c.checkout_mode)
        .bind(&c.currency)
        .bind(c.items)
        .bind(c.total_minor)
        .bind(c.quote_valid_until)
        .bind(c.expires_at)
        .bind(c.replaces.as_deref())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for (i, l) in lines.iter().enumerate() {
            sqlx::query(
                "INSERT INTO cart_lines (cart_id, pos, merchant_id, sku, product_id, name, image_url, product_url, quantity, unit_minor, \
                 original_minor, vat_bp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&c.id)
            .bind(i as i64)
            .bind(m.as_str())
            .bind(l.sku.as_deref())
            .bind(l.product_id.as_deref())
            .bind(&l.name)
            .bind(l.image_url.as_deref())
            .bind(l.product_url.as_deref())
            .bind(l.quantity)
            .bind(l.unit_minor)
            .bind(l.original_minor)
            .bind(l.vat_bp)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn cart(&self, m: Tenant<'_>, id: &str) -> Result<(CartRow, Vec<Line>)> {
        let row = sqlx::query_as::<_, CartRow>(&format!("SELECT {CART_COLS} {CART_FROM} WHERE c.merchant_id = $1 AND c.id = $2"))
            .bind(m.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?;
        let lines = self.cart_lines(&row.id).await?;
        Ok((row, lines))
    }

    /// A cart by id whatever the merchant (pay links: the token proves the cart).
    pub async fn cart_any(&self, id: &str) -> Result<(CartRow, Vec<Line>)> {
        let row = sqlx::query_as::<_, CartRow>(&format!("SELECT {CART_COLS} {CART_FROM} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?;
        let lines = self.cart_lines(&row.id).await?;
        Ok((row, lines))
    }

    async fn cart_lines(&self, id: &str) -> Result<Vec<Line>> {
        let rows = sqlx::query_as::<_, LineRow>(
            "SELECT sku, product_id, name, image_url, product_url, quantity, unit_minor, original_minor, vat_bp \
             FROM cart_lines WHERE cart_id = $1 ORDER BY pos",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Line {
                sku: r.sku,
                product_id: r.product_id,
                name: r.name,
                image_url: r.image_url,
                product_url: r.product_url,
                quantity: r.quantity,
                unit_minor: r.unit_minor,
                original_minor: r.original_minor,
                vat_bp: r.vat_bp,
            })
            .collect())
    }

    /// The carts of a conversation, newest first.
    pub async fn conversation_carts(&self, m: Tenant<'_>, conversation: &ConversationId) -> Result<Vec<(CartRow, Vec<Line>)>> {
        let rows = sqlx::query_as::<_, CartRow>(&format!(
            "SELECT {CART_COLS} {CART_FROM} WHERE c.merchant_id = $1 AND c.conversation_id = $2 ORDER BY c.created_at DESC, c.id DESC LIMIT 200"
        ))
        .bind(m.as_str())
        .bind(conversation)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let lines = self.cart_lines(&r.id).await?;
            out.push((r, lines));
        }
        Ok(out)
    }

    /// Move a cart from one of `from` to `to` (with the order, when paid); false when it was
    /// not in one of `from`.
    pub async fn set_cart_status(&self, m: Tenant<'_>, id: &str, from: &[&str], to: &str, order_id: Option<&str>) -> Result<bool> {
        let now = now_ms();
        let list = from.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
        let done = sqlx::query(&format!(
            "UPDATE carts SET status = $1, order_id = COALESCE($2, order_id), paid_at = CASE WHEN $1 = 'paid' THEN $3 ELSE paid_at END, \
             updated_at = $3 WHERE merchant_id = $4 AND id = $5 AND status IN ({list})"
        ))
        .bind(to)
        .bind(order_id)
        .bind(now)
        .bind(m.as_str())
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Unpaid carts older than their merchant's reminder time (scaled down by `speedup` in
    /// tests) that had no reminder yet: (merchant, id).
    pub async fn carts_due_for_reminder(&self, now: i64, speedup: i64) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT c.merchant_id, c.id FROM carts c JOIN checkout_settings s ON s.merchant_id = c.merchant_id \
             WHERE c.status = 'awaiting_payment' AND c.reminder_at IS NULL AND s.reminder_hours IS NOT NULL \
             AND c.created_at + s.reminder_hours * 3600000 / $1 <= $2 AND c.expires_at > $2 LIMIT 200",
        )
        .bind(speedup)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Claim a cart's one reminder (false when another node took it or it was paid meanwhile).
    pub async fn mark_reminded(&self, m: Tenant<'_>, id: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE carts SET reminder_at = $1 WHERE merchant_id = $2 AND id = $3 AND reminder_at IS NULL AND status = 'awaiting_payment'",
        )
        .bind(now_ms())
        .bind(m.as_str())
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Open carts whose pay link or quote has lapsed at `now`: (merchant, id, conversation).
    pub async fn lapsed_carts(&self, now: i64) -> Result<Vec<(String, String, String)>> {
        Ok(sqlx::query_as(
            "SELECT merchant_id, id, conversation_id FROM carts WHERE status IN ('quote', 'awaiting_payment') \
             AND (expires_at <= $1 OR (status = 'quote' AND quote_valid_until <= $1)) LIMIT 500",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }
}
