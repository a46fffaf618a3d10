//! Shoppers: anonymous visitors with a server-issued Shopper ID; a merchant may identify them.

use serde::Serialize;

use super::sqlite_writer::Param;
use super::{Db, Result, StorageError, Tenant};
use crate::ids::ShopperId;
use crate::now_ms;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Shopper {
    pub id: ShopperId,
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub email: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: Option<String>,
    email: Option<String>,
    created_at: i64,
    last_seen_at: i64,
}

/// An expert who is or was the shopper's contact.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ShopperContact {
    pub expert_id: String,
    pub expert_name: String,
    /// When the expert first became the contact.
    pub since: i64,
    /// Their latest claimed chat with the shopper.
    pub last_chat_at: i64,
    /// When another expert took over (claimed a chat with the shopper); null for the current
    /// contact.
    #[schema(required = true)]
    pub until: Option<i64>,
}

impl Db {
    /// The shopper's contact and the earlier ones, current first, then the latest first.
    pub async fn shopper_contacts(&self, m: Tenant<'_>, shopper: &str) -> Result<Vec<ShopperContact>> {
        Ok(sqlx::query_as::<_, ShopperContact>(
            "SELECT c.expert_id, e.name AS expert_name, c.created_at AS since, c.last_chat_at, c.superseded_at AS until \
             FROM contacts c JOIN experts e ON e.id = c.expert_id \
             WHERE c.merchant_id = $1 AND c.shopper_id = $2 \
             ORDER BY CASE WHEN c.superseded_at IS NULL THEN 0 ELSE 1 END, c.last_chat_at DESC LIMIT 50",
        )
        .bind(m.as_str())
        .bind(shopper)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Issue a new Shopper ID for this merchant. Clients never choose it.
    pub async fn create_shopper(&self, m: Tenant<'_>) -> Result<Shopper> {
        let id = ShopperId::generate();
        let now = now_ms();
        self.write_one(
            "INSERT INTO shoppers (id, merchant_id, created_at, last_seen_at) VALUES ($1, $2, $3, $3)",
            vec![Param::from(id.as_str()), Param::from(m.as_str()), Param::from(now)],
        )
        .await?;
        Ok(Shopper {
            id,
            name: None,
            email: None,
            created_at: now,
            last_seen_at: now,
        })
    }

    pub async fn get_shopper(&self, m: Tenant<'_>, id: &ShopperId) -> Result<Shopper> {
        sqlx::query_as::<_, Row>("SELECT id, name, email, created_at, last_seen_at FROM shoppers WHERE merchant_id = $1 AND id = $2")
            .bind(m.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| Shopper {
                id: ShopperId::from_db(r.id),
                name: r.name,
                email: r.email,
                created_at: r.created_at,
                last_seen_at: r.last_seen_at,
            })
            .ok_or(StorageError::NotFound)
    }

    /// The shopper's widget was back (connected, or reported a page): move `last_seen_at` to
    /// `at`, never back. Bookkeeping nobody waits on (the writer's later lane on SQLite).
    pub async fn shopper_seen(&self, m: Tenant<'_>, id: &str, at: i64) -> Result<()> {
        self.write_later(vec![(
            "UPDATE shoppers SET last_seen_at = $1 WHERE merchant_id = $2 AND id = $3 AND last_seen_at < $1".to_owned(),
            vec![Param::from(at), Param::from(m.as_str()), Param::from(id)],
        )])
        .await
    }

    pub async fn identify_shopper(&self, m: Tenant<'_>, id: &ShopperId, name: Option<&str>, email: Option<&str>) -> Result<Shopper> {
        // `shopper.identified` commits with the change when the name or e-mail changed.
        let done = self.identify_with_event("UPDATE shoppers SET name = COALESCE($1, name), email = COALESCE($2, email), last_seen_at = $3 WHERE merchant_id = $4 AND id = $5", vec![Param::from(name), Param::from(email), Param::from(now_ms()), Param::from(m.as_str()), Param::from(id.as_str())], m.as_str(), id.as_str()).await?;
        if done == 0 {
            return Err(StorageError::NotFound);
        }
        self.get_shopper(m, id).await
    }
}
