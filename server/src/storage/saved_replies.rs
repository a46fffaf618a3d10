//! Saved replies: merchant-managed canned text experts insert in the store app.

use serde::{Deserialize, Serialize};

use super::{Db, Page, PageRequest, Result, StorageError, Tenant};
use crate::ids::SavedReplyId;
use crate::now_ms;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SavedReply {
    pub id: SavedReplyId,
    /// Typed after `/` in the store app, e.g. `hours`.
    pub shortcut: String,
    pub title: String,
    pub body: String,
    pub updated_at: i64,
}

/// The writable fields of a saved reply, already validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedReplyFields {
    pub shortcut: String,
    pub title: String,
    pub body: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    shortcut: String,
    title: String,
    body: String,
    updated_at: i64,
}

impl From<Row> for SavedReply {
    fn from(r: Row) -> Self {
        SavedReply {
            id: SavedReplyId::from_db(r.id),
            shortcut: r.shortcut,
            title: r.title,
            body: r.body,
            updated_at: r.updated_at,
        }
    }
}

/// Outcome of a CSV import.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    pub created: u64,
    pub updated: u64,
}

fn like_pattern(q: &str) -> String {
    let escaped: String = q
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

impl Db {
    /// List saved replies in id order; `q` matches shortcut, title or body, case-insensitively.
    pub async fn list_saved_replies(&self, m: Tenant<'_>, q: Option<&str>, page: &PageRequest) -> Result<Page<SavedReply>> {
        let pattern = q.filter(|q| !q.trim().is_empty()).map(|q| like_pattern(q.trim()));
        let rows = sqlx::query_as::<_, Row>(
            "SELECT id, shortcut, title, body, updated_at FROM saved_replies \
             WHERE merchant_id = $1 AND id > $2 AND ($3 = '' OR LOWER(shortcut) LIKE $3 ESCAPE '\\' \
               OR LOWER(title) LIKE $3 ESCAPE '\\' OR LOWER(body) LIKE $3 ESCAPE '\\') \
             ORDER BY id LIMIT $4",
        )
        .bind(m.as_str())
        .bind(page.after())
        .bind(pattern.unwrap_or_default())
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?;
        Ok(Page::from_rows(rows.into_iter().map(SavedReply::from).collect(), page, |r| {
            r.id.to_string()
        }))
    }

    /// Every saved reply of the merchant in shortcut order (for export and the store app).
    pub async fn all_saved_replies(&self, m: Tenant<'_>) -> Result<Vec<SavedReply>> {
        let rows = sqlx::query_as::<_, Row>(
            "SELECT id, shortcut, title, body, updated_at FROM saved_replies WHERE merchant_id = $1 ORDER BY shortcut",
        )
        .bind(m.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(SavedReply::from).collect())
    }

    pub async fn get_saved_reply(&self, m: Tenant<'_>, id: &SavedReplyId) -> Result<SavedReply> {
        sqlx::query_as::<_, Row>("SELECT id, shortcut, title, body, updated_at FROM saved_replies WHERE merchant_id = $1 AND id = $2")
            .bind(m.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(SavedReply::from)
            .ok_or(StorageError::NotFound)
    }

    pub async fn create_saved_reply(&self, m: Tenant<'_>, f: &SavedReplyFields) -> Result<SavedReply> {
        let id = SavedReplyId::generate();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO saved_replies (id, merchant_id, shortcut, title, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(id.as_str())
        .bind(m.as_str())
        .bind(&f.shortcut)
        .bind(&f.title)
        .bind(&f.body)
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(StorageError::unique("a saved reply with this shortcut already exists"))?;
        self.get_saved_reply(m, &id).await
    }

    pub async fn update_saved_reply(&self, m: Tenant<'_>, id: &SavedReplyId, f: &SavedReplyFields) -> Result<SavedReply> {
        let done = sqlx::query(
            "UPDATE saved_replies SET shortcut = $1, title = $2, body = $3, updated_at = $4 WHERE merchant_id = $5 AND id = $6",
        )
        .bind(&f.shortcut)
        .bind(&f.title)
        .bind(&f.body)
        .bind(now_ms())
        .bind(m.as_str())
        .bind(id.as_str())
        .execute(&self.writer)
        .await
        .map_err(StorageError::unique("a saved reply with this shortcut already exists"))?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        self.get_saved_reply(m, id).await
    }

    pub async fn delete_saved_reply(&self, m: Tenant<'_>, id: &SavedReplyId) -> Result<()> {
        let done = sqlx::query("DELETE FROM saved_replies WHERE merchant_id = $1 AND id = $2")
            .bind(m.as_str())
            .bind(id.as_str())
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    /// Create or update (by shortcut) every row in one transaction: all or nothing.
    pub async fn import_saved_replies(&self, m: Tenant<'_>, rows: &[SavedReplyFields]) -> Result<ImportSummary> {
        let existing: std::collections::HashSet<String> = self.all_saved_replies(m).await?.into_iter().map(|r| r.shortcut).collect();
        let now = now_ms();
        let mut summary = ImportSummary::default();
        let mut tx = self.begin_write().await?;
        for f in rows {
            if existing.contains(&f.shortcut) {
                sqlx::query("UPDATE saved_replies SET title = $1, body = $2, updated_at = $3 WHERE merchant_id = $4 AND shortcut = $5")
                    .bind(&f.title)
                    .bind(&f.body)
                    .bind(now)
                    .bind(m.as_str())
                    .bind(&f.shortcut)
                    .execute(&mut *tx)
                    .await?;
                summary.updated += 1;
            } else {
                sqlx::query(
                    "INSERT INTO saved_replies (id, merchant_id, shortcut, title, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind(SavedReplyId::generate().as_str())
                .bind(m.as_str())
                .bind(&f.shortcut)
                .bind(&f.title)
                .bind(&f.body)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(StorageError::unique("duplicate shortcut in the file"))?;
                summary.created += 1;
            }
        }
        tx.commit().await?;
        Ok(summary)
    }
}
