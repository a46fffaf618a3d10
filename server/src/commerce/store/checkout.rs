//! The merchant's checkout settings (off, hosted payment page, or the shop's permalink).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::super::money;
use crate::now_ms;
use crate::storage::{Db, Result, Tenant};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct CheckoutSettings {
    /// off | hosted | permalink
    pub mode: String,
    #[schema(required = true)]
    pub checkout_url: Option<String>,
    #[schema(required = true)]
    pub shop_url: Option<String>,
    #[schema(required = true)]
    pub permalink_endpoint: Option<String>,
    #[schema(required = true)]
    pub discovered_at: Option<i64>,
    /// How long a pay link works (1–720 hours).
    pub link_hours: i64,
    /// Send one reminder this many hours after an unpaid cart (1–168), or never (null).
    #[schema(required = true)]
    pub reminder_hours: Option<i64>,
    /// For free-text lines, e.g. "25".
    pub default_vat_rate: String,
}

impl Default for CheckoutSettings {
    fn default() -> Self {
        CheckoutSettings {
            mode: "off".into(),
            checkout_url: None,
            shop_url: None,
            permalink_endpoint: None,
            discovered_at: None,
            link_hours: 72,
            reminder_hours: None,
            default_vat_rate: "25".into(),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct CheckoutRow {
    mode: String,
    checkout_url: Option<String>,
    shop_url: Option<String>,
    permalink_endpoint: Option<String>,
    discovered_at: Option<i64>,
    link_hours: i64,
    reminder_hours: Option<i64>,
    default_vat_bp: i64,
}

impl Db {
    pub async fn checkout_settings(&self, m: Tenant<'_>) -> Result<CheckoutSettings> {
        let row = sqlx::query_as::<_, CheckoutRow>(
            "SELECT mode, checkout_url, shop_url, permalink_endpoint, discovered_at, link_hours, reminder_hours, default_vat_bp \
             FROM checkout_settings WHERE merchant_id = $1",
        )
        .bind(m.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map_or_else(CheckoutSettings::default, |r| CheckoutSettings {
            mode: r.mode,
            checkout_url: r.checkout_url,
            shop_url: r.shop_url,
            permalink_endpoint: r.permalink_endpoint,
            discovered_at: r.discovered_at,
            link_hours: r.link_hours,
            reminder_hours: r.reminder_hours,
            default_vat_rate: money::format_rate(r.default_vat_bp),
        }))
    }

    pub async fn put_checkout_settings(&self, m: Tenant<'_>, s: &CheckoutSettings) -> Result<()> {
        sqlx::query(
            "INSERT INTO checkout_settings (merchant_id, mode, checkout_url, shop_url, permalink_endpoint, discovered_at, link_hours, \
             reminder_hours, default_vat_bp, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (merchant_id) DO UPDATE SET mode = excluded.mode, checkout_url = excluded.checkout_url, \
             shop_url = excluded.shop_url, permalink_endpoint = excluded.permalink_endpoint, discovered_at = excluded.discovered_at, \
             link_hours = excluded.link_hours, reminder_hours = excluded.reminder_hours, default_vat_bp = excluded.default_vat_bp, \
             updated_at = excluded.updated_at",
        )
        .bind(m.as_str())
        .bind(&s.mode)
        .bind(s.checkout_url.as_deref())
        .bind(s.shop_url.as_deref())
        .bind(s.permalink_endpoint.as_deref())
        .bind(s.discovered_at)
        .bind(s.link_hours)
        .bind(s.reminder_hours)
        .bind(money::parse_rate(&s.default_vat_rate).unwrap_or(2500))
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}
