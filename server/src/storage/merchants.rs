//! Merchants and their settings (display, routing, allowed origins, invite code).

use serde::Serialize;

use super::{json_col, to_json, Db, Page, PageRequest, Result, StorageError, Tenant};
use crate::domain::settings::{DisplaySettings, RoutingSettings};
use crate::ids::MerchantId;
use crate::now_ms;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Merchant {
    pub id: MerchantId,
    pub name: String,
    pub active: bool,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct MerchantRow {
    id: String,
    name: String,
    active: i64,
    created_at: i64,
}

impl From<MerchantRow> for Merchant {
    fn from(r: MerchantRow) -> Self {
        Merchant {
            id: MerchantId::from_db(r.id),
            name: r.name,
            active: r.active != 0,
            created_at: r.created_at,
        }
    }
}

/// A fresh invite code: 10 characters from an alphabet without look-alikes, easy to type on a phone.
pub fn new_invite_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..10).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// Settings the widget needs before a chat starts, read in one query.
#[derive(Debug, Clone)]
pub struct MerchantPublic {
    pub id: MerchantId,
    pub name: String,
    pub active: bool,
    pub display: DisplaySettings,
    pub origins: Vec<String>,
    pub routing: RoutingSettings,
}

impl Db {
    pub async fn create_merchant(&self, name: &str) -> Result<Merchant> {
        let id = MerchantId::generate();
        let now = now_ms();
        let display = DisplaySettings {
            brand_name: name.to_owned(),
            ..Default::default()
        };
        sqlx::query(
            "INSERT INTO merchants (id, name, invite_code, display_json, routing_json, origins_json, active, created_at, updated_at, identity_secret) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7, $8)",
        )
        .bind(id.as_str())
        .bind(name)
        .bind(new_invite_code())
        .bind(to_json(&display))
        .bind(to_json(&RoutingSettings::default()))
        .bind("[]")
        .bind(now)
        .bind(crate::auth::new_token("fwi_"))
        .execute(&self.writer)
        .await?;
        Ok(Merchant {
            id,
            name: name.to_owned(),
            active: true,
            created_at: now,
        })
    }

    pub async fn get_merchant(&self, m: Tenant<'_>) -> Result<Merchant> {
        sqlx::query_as::<_, MerchantRow>("SELECT id, name, active, created_at FROM merchants WHERE id = $1")
            .bind(m.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(Merchant::from)
            .ok_or(StorageError::NotFound)
    }

    pub async fn list_merchants(&self, page: &PageRequest) -> Result<Page<Merchant>> {
        let rows =
            sqlx::query_as::<_, MerchantRow>("SELECT id, name, active, created_at FROM merchants WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(page.after())
                .bind(page.fetch())
                .fetch_all(&self.pool)
                .await?;
        Ok(Page::from_rows(rows.into_iter().map(Merchant::from).collect(), page, |m| {
            m.id.to_string()
        }))
    }

    pub async fn count_merchants(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM merchants").fetch_one(&self.pool).await?;
        Ok(n)
    }

    pub async fn update_merchant(&self, m: Tenant<'_>, name: Option<&str>, active: Option<bool>) -> Result<Merchant> {
        let cur = self.get_merchant(m).await?;
        let name = name.unwrap_or(&cur.name);
        let active = active.unwrap_or(cur.active);
        sqlx::query("UPDATE merchants SET name = $1, active = $2, updated_at = $3 WHERE id = $4")
            .bind(name)
            .bind(i64::from(active))
            .bind(now_ms())
            .bind(m.as_str())
            .execute(&self.writer)
            .await?;
        self.get_merchant(m).await
    }

    pub async fn merchant_public(&self, m: Tenant<'_>) -> Result<MerchantPublic> {
        let row: Option<(String, i64, String, String, String)> =
            sqlx::query_as("SELECT name, active, display_json, origins_json, routing_json FROM merchants WHERE id = $1")
                .bind(m.as_str())
                .fetch_optional(&self.pool)
                .await?;
        let (name, active, display, origins, routing) = row.ok_or(StorageError::NotFound)?;
        Ok(MerchantPublic {
            id: m.clone(),
            name,
            active: active != 0,
            display: json_col(&display, "display_json")?,
            origins: json_col(&origins, "origins_json")?,
            routing: json_col(&routing, "routing_json")?,
        })
    }

    pub async fn set_display(&self, m: Tenant<'_>, d: &DisplaySettings) -> Result<()> {
        self.set_setting(m, "display_json", &to_json(d)).await
    }

    pub async fn set_routing(&self, m: Tenant<'_>, r: &RoutingSettings) -> Result<()> {
        self.set_setting(m, "routing_json", &to_json(r)).await
    }

    pub async fn set_origins(&self, m: Tenant<'_>, origins: &[String]) -> Result<()> {
        self.set_setting(m, "origins_json", &to_json(&origins)).await
    }

    async fn set_setting(&self, m: Tenant<'_>, column: &'static str, value: &str) -> Result<()> {
        // `column` is one of three literals above, never user input.
        let sql = format!("UPDATE merchants SET {column} = $1, updated_at = $2 WHERE id = $3");
        let done = sqlx::query(&sql)
            .bind(value)
            .bind(now_ms())
            .bind(m.as_str())
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    pub async fn invite_code(&self, m: Tenant<'_>) -> Result<String> {
        let row: Option<(String,)> = sqlx::query_as("SELECT invite_code FROM merchants WHERE id = $1")
            .bind(m.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.0).ok_or(StorageError::NotFound)
    }

    /// Replace the invite code; the old one stops working at once.
    pub async fn rotate_invite_code(&self, m: Tenant<'_>) -> Result<String> {
        let code = new_invite_code();
        self.store_invite_code(m, &code).await?;
        Ok(code)
    }

    async fn store_invite_code(&self, m: Tenant<'_>, code: &str) -> Result<()> {
        let done = sqlx::query("UPDATE merchants SET invite_code = $1, updated_at = $2 WHERE id = $3")
            .bind(code)
            .bind(now_ms())
            .bind(m.as_str())
            .execute(&self.writer)
            .await
            .map_err(StorageError::unique("invite code"))?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    /// The active merchant an invite code belongs to.
    pub async fn merchant_by_invite_code(&self, code: &str) -> Result<MerchantId> {
        let code = code.trim().to_uppercase();
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM merchants WHERE invite_code = $1 AND active = 1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| MerchantId::from_db(r.0)).ok_or(StorageError::NotFound)
    }
}
