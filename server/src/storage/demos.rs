//! The operator's demos for prospects.

use super::{Db, Page, PageRequest, Result, StorageError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DemoRow {
    pub id: String,
    pub slug: String,
    pub prospect_name: String,
    pub website: Option<String>,
    pub merchant_id: String,
    pub merchant_name: String,
    pub store_id: Option<String>,
    pub primary_color: String,
    pub background_color: String,
    pub logo: Option<String>,
    pub greeting: Option<String>,
    pub has_screenshot: i64,
    pub screenshot_type: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Everything but the screenshot bytes.
pub struct DemoFields {
    pub prospect_name: String,
    pub website: Option<String>,
    pub merchant_id: String,
    pub store_id: Option<String>,
    pub primary_color: String,
    pub background_color: String,
    pub logo: Option<String>,
    pub greeting: Option<String>,
}

/// What to do with the screenshot on an update.
pub enum ScreenshotChange {
    Keep,
    Remove,
    Set { base64: String, mime: String },
}

const COLS: &str = "d.id, d.slug, d.prospect_name, d.website, d.merchant_id, m.name AS merchant_name, d.store_id, d.primary_color, \
    d.background_color, d.logo, d.greeting, CASE WHEN d.screenshot IS NULL THEN 0 ELSE 1 END AS has_screenshot, d.screenshot_type, \
    d.created_at, d.updated_at FROM demos d JOIN merchants m ON m.id = d.merchant_id";

impl Db {
    pub async fn create_demo(&self, id: &str, slug: &str, f: &DemoFields, shot: &ScreenshotChange, now: i64) -> Result<DemoRow> {
        let (shot, mime) = match shot {
            ScreenshotChange::Set { base64, mime } => (Some(base64.as_str()), Some(mime.as_str())),
            _ => (None, None),
        };
        sqlx::query(
            "INSERT INTO demos (id, slug, prospect_name, website, merchant_id, store_id, primary_color, background_color, logo, greeting, \
                                screenshot, screenshot_type, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
        )
        .bind(id)
        .bind(slug)
        .bind(&f.prospect_name)
        .bind(f.website.as_deref())
        .bind(&f.merchant_id)
        .bind(f.store_id.as_deref())
        .bind(&f.primary_color)
        .bind(&f.background_color)
        .bind(f.logo.as_deref())
        .bind(f.greeting.as_deref())
        .bind(shot)
        .bind(mime)
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(StorageError::unique("slug"))?;
        self.get_demo(id).await
    }

    pub async fn update_demo(&self, id: &str, f: &DemoFields, shot: &ScreenshotChange, now: i64) -> Result<DemoRow> {
        let shot_sql = match shot {
            ScreenshotChange::Keep => "",
            ScreenshotChange::Remove => ", screenshot = NULL, screenshot_type = NULL",
            ScreenshotChange::Set { .. } => ", screenshot = $11, screenshot_type = $12",
        };
        let sql = format!(
            "UPDATE demos SET prospect_name = $2, website = $3, merchant_id = $4, store_id = $5, primary_color = $6, background_color = $7, \
             logo = $8, greeting = $9, updated_at = $10{shot_sql} WHERE id = $1"
        );
        let mut q = sqlx::query(&sql)
            .bind(id)
            .bind(&f.prospect_name)
            .bind(f.website.as_deref())
            .bind(&f.merchant_id)
            .bind(f.store_id.as_deref())
            .bind(&f.primary_color)
            .bind(&f.background_color)
            .bind(f.logo.as_deref())
            .bind(f.greeting.as_deref())
            .bind(now);
        if let ScreenshotChange::Set { base64, mime } = shot {
            q = q.bind(base64).bind(mime);
        }
        if q.execute(&self.writer).await?.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        self.get_demo(id).await
    }

    pub async fn get_demo(&self, id: &str) -> Result<DemoRow> {
        sqlx::query_as::<_, DemoRow>(&format!("SELECT {COLS} WHERE d.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)
    }

    pub async fn demo_by_slug(&self, slug: &str) -> Result<DemoRow> {
        sqlx::query_as::<_, DemoRow>(&format!("SELECT {COLS} WHERE d.slug = $1"))
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)
    }

    /// The screenshot (base64) and its type.
    pub async fn demo_screenshot(&self, slug: &str) -> Result<(String, String)> {
        let row: Option<(Option<String>, Option<String>)> = sqlx::query_as("SELECT screenshot, screenshot_type FROM demos WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some((Some(s), Some(t))) => Ok((s, t)),
            _ => Err(StorageError::NotFound),
        }
    }

    /// Newest first.
    pub async fn list_demos(&self, page: &PageRequest) -> Result<Page<DemoRow>> {
        let after = page.after.clone().unwrap_or_else(|| "\u{10FFFF}".into());
        let rows = sqlx::query_as::<_, DemoRow>(&format!("SELECT {COLS} WHERE d.id < $1 ORDER BY d.id DESC LIMIT $2"))
            .bind(after)
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?;
        Ok(Page::from_rows(rows, page, |d| d.id.clone()))
    }

    pub async fn delete_demo(&self, id: &str) -> Result<()> {
        if sqlx::query("DELETE FROM demos WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?
            .rows_affected()
            == 0
        {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }
}
