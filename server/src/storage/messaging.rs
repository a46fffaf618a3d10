//! Per-merchant messaging settings (e-mail sender, SMS gateway, the unread-message e-mail
//! delay) and the addresses not to write to (bounces, unsubscribes).

use super::{Db, Page, PageRequest, Result, StorageError, Tenant};
use crate::config::Secret;
use crate::now_ms;

/// A merchant's messaging settings as stored. The gateway token is a [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Messaging {
    pub sender_name: String,
    pub sender_address: Option<String>,
    pub reply_to: Option<String>,
    pub sms_enabled: bool,
    pub sms_base_url: String,
    pub sms_account_sid: String,
    pub sms_auth_token: Secret,
    pub sms_from: String,
    /// E-mail a shopper the expert's unread messages after this many minutes away (0: never).
    pub away_email_after_min: i64,
}

pub const DEFAULT_SMS_BASE_URL: &str = "https://api.twilio.com";

impl Messaging {
    /// Whether SMS can be sent: switched on, with an account and a sender (what the outbox
    /// worker insists on). The widget offers the phone fields only then.
    pub fn sms_ready(&self) -> bool {
        self.sms_enabled && !self.sms_account_sid.is_empty() && !self.sms_from.is_empty()
    }

    /// What a merchant that never saved the settings gets: its name as the sender, no SMS.
    pub fn defaults(merchant_name: &str) -> Messaging {
        Messaging {
            sender_name: merchant_name.to_owned(),
            sender_address: None,
            reply_to: None,
            sms_enabled: false,
            sms_base_url: DEFAULT_SMS_BASE_URL.into(),
            sms_account_sid: String::new(),
            sms_auth_token: Secret::new(""),
            sms_from: String::new(),
            away_email_after_min: 0,
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    sender_name: String,
    sender_address: Option<String>,
    reply_to: Option<String>,
    sms_enabled: i64,
    sms_base_url: String,
    sms_account_sid: String,
    sms_auth_token: String,
    sms_from: String,
    away_email_after_min: i64,
}

/// One address that is not written to.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct Suppression {
    /// email | sms
    pub channel: String,
    pub address: String,
    /// `bounce` (nothing is sent) or `unsubscribe` (only what the recipient asked for is sent).
    pub reason: String,
    #[schema(required = true)]
    pub detail: Option<String>,
    pub created_at: i64,
}

impl Db {
    pub async fn messaging(&self, m: Tenant<'_>) -> Result<Messaging> {
        let row = sqlx::query_as::<_, Row>(
            "SELECT sender_name, sender_address, reply_to, sms_enabled, sms_base_url, sms_account_sid, sms_auth_token, sms_from, \
             away_email_after_min FROM merchant_messaging WHERE merchant_id = $1",
        )
        .bind(m.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Messaging {
                sender_name: r.sender_name,
                sender_address: r.sender_address,
                reply_to: r.reply_to,
                sms_enabled: r.sms_enabled != 0,
                sms_base_url: r.sms_base_url,
                sms_account_sid: r.sms_account_sid,
                sms_auth_token: Secret::new(r.sms_auth_token),
                sms_from: r.sms_from,
                away_email_after_min: r.away_email_after_min,
            },
            None => Messaging::defaults(&self.get_merchant(m).await?.name),
        })
    }

    pub async fn set_messaging(&self, m: Tenant<'_>, s: &Messaging) -> Result<()> {
        sqlx::query(
            "INSERT INTO merchant_messaging (merchant_id, sender_name, sender_address, reply_to, sms_enabled, sms_base_url, \
             sms_account_sid, sms_auth_token, sms_from, away_email_after_min, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (merchant_id) DO UPDATE SET sender_name = excluded.sender_name, sender_address = excluded.sender_address, \
             reply_to = excluded.reply_to, sms_enabled = excluded.sms_enabled, sms_base_url = excluded.sms_base_url, \
             sms_account_sid = excluded.sms_account_sid, sms_auth_token = excluded.sms_auth_token, sms_from = excluded.sms_from, \
             away_email_after_min = excluded.away_email_after_min, updated_at = excluded.updated_at",
        )
        .bind(m.as_str())
        .bind(&s.sender_name)
        .bind(s.sender_address.as_deref())
        .bind(s.reply_to.as_deref())
        .bind(i64::from(s.sms_enabled))
        .bind(&s.sms_base_url)
        .bind(&s.sms_account_sid)
        .bind(s.sms_auth_token.expose())
        .bind(&s.sms_from)
        .bind(s.away_email_after_min)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Stop writing to an address. A bounce replaces an unsubscribe (it is stronger); an
    /// unsubscribe never weakens a bounce.
    pub async fn suppress(&self, m: Tenant<'_>, channel: &str, address: &str, reason: &str, detail: Option<&str>) -> Result<()> {
        sqlx::query(
            "INSERT INTO suppressed_addresses (merchant_id, channel, address, reason, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (merchant_id, channel, address) DO UPDATE SET reason = excluded.reason, detail = excluded.detail, \
             created_at = excluded.created_at WHERE suppressed_addresses.reason <> 'bounce'",
        )
        .bind(m.as_str())
        .bind(channel)
        .bind(address)
        .bind(reason)
        .bind(detail)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn suppression(&self, m: Tenant<'_>, channel: &str, address: &str) -> Result<Option<Suppression>> {
        Ok(sqlx::query_as::<_, Suppression>(
            "SELECT channel, address, reason, detail, created_at FROM suppressed_addresses WHERE merchant_id = $1 AND channel = $2 AND address = $3",
        )
        .bind(m.as_str())
        .bind(channel)
        .bind(address)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Newest first; the cursor is the last address of the previous page's time and address.
    pub async fn list_suppressions(&self, m: Tenant<'_>, page: &PageRequest) -> Result<Page<Suppression>> {
        let rows = sqlx::query_as::<_, Suppression>(
            "SELECT channel, address, reason, detail, created_at FROM suppressed_addresses WHERE merchant_id = $1 \
             AND (channel || ':' || address) > $2 ORDER BY channel || ':' || address LIMIT $3",
        )
        .bind(m.as_str())
        .bind(page.after())
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?;
        Ok(Page::from_rows(rows, page, |s| format!("{}:{}", s.channel, s.address)))
    }

    /// Write to the address again (the merchant fixed the cause).
    pub async fn unsuppress(&self, m: Tenant<'_>, channel: &str, address: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM suppressed_addresses WHERE merchant_id = $1 AND channel = $2 AND address = $3")
            .bind(m.as_str())
            .bind(channel)
            .bind(address)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }
}
