//! Storage of the catalogue, carts, checkout settings and order handling, on both backends
//! (the same SQL through sqlx's `Any` driver; only full-text search differs by dialect).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cart::{Line, ProductRef};
use super::money;
use crate::now_ms;
use crate::storage::{Backend, Db, Page, PageRequest, Result, StorageError, Tenant};

// ---------- products ----------

/// The writable fields of a product, already validated (money in minor units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFields {
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    pub vat_bp: i64,
    pub image_url: Option<String>,
    pub product_url: Option<String>,
    pub gtin: Option<String>,
    pub stock: Option<BTreeMap<String, i64>>,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Product {
    pub id: String,
    pub sku: String,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// Decimal string, VAT included.
    pub price: String,
    pub currency: String,
    /// Percent, e.g. "25".
    pub vat_rate: String,
    #[schema(required = true)]
    pub image_url: Option<String>,
    #[schema(required = true)]
    pub product_url: Option<String>,
    #[schema(required = true)]
    pub gtin: Option<String>,
    /// Quantity in stock per store id, when the merchant keeps it here.
    #[schema(required = true)]
    pub stock: Option<BTreeMap<String, i64>>,
    pub active: bool,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow, Clone)]
struct ProductRow {
    id: String,
    sku: String,
    name: String,
    description: Option<String>,
    price_minor: i64,
    currency: String,
    vat_bp: i64,
    image_url: Option<String>,
    product_url: Option<String>,
    gtin: Option<String>,
    stock_json: Option<String>,
    active: i64,
    updated_at: i64,
}

const PRODUCT_COLS: &str =
    "id, sku, name, description, price_minor, currency, vat_bp, image_url, product_url, gtin, stock_json, active, updated_at";

impl ProductRow {
    fn view(self) -> Product {
        Product {
            price: money::format(self.price_minor, &self.currency),
            vat_rate: money::format_rate(self.vat_bp),
            stock: self.stock_json.as_deref().and_then(|s| serde_json::from_str(s).ok()),
            active: self.active != 0,
            id: self.id,
            sku: self.sku,
            name: self.name,
            description: self.description,
            currency: self.currency,
            image_url: self.image_url,
            product_url: self.product_url,
            gtin: self.gtin,
            updated_at: self.updated_at,
        }
    }
    fn fields(&self) -> ProductFields {
        ProductFields {
            sku: self.sku.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            price_minor: self.price_minor,
            currency: self.currency.clone(),
            vat_bp: self.vat_bp,
            image_url: self.image_url.clone(),
            product_url: self.product_url.clone(),
            gtin: self.gtin.clone(),
            stock: self.stock_json.as_deref().and_then(|s| serde_json::from_str(s).ok()),
            active: self.active != 0,
        }
    }
    fn as_ref(&self) -> ProductRef {
        ProductRef {
            id: self.id.clone(),
            sku: self.sku.clone(),
            name: self.name.clone(),
            price_minor: self.price_minor,
            currency: self.currency.clone(),
            vat_bp: self.vat_bp,
            image_url: self.image_url.clone(),
            product_url: self.product_url.clone(),
        }
    }
}

/// Text folded for search: ASCII (accents dropped), lower case, every run of other
/// characters one space.
pub fn fold(s: &str) -> String {
    let ascii = deunicode::deunicode(s).to_lowercase();
    let mut out = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    out.trim_end().to_owned()
}

/// The folded SKU compared for exact hits: alphanumerics only (`tv-55` = `TV 55` = `tv55`).
pub fn sku_key(s: &str) -> String {
    fold(s).replace(' ', "")
}

fn search_text(f: &ProductFields) -> String {
    let mut t = format!("{} {} {}", fold(&f.sku), sku_key(&f.sku), fold(&f.name));
    if let Some(g) = &f.gtin {
        t.push(' ');
        t.push_str(g);
    }
    t
}

/// Outcome of an upsert by SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq, Eq)]
pub struct UpsertSummary {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

async fn upsert_one(tx: &mut sqlx::AnyConnection, m: &str, f: &ProductFields, now: i64) -> Result<(String, Upserted)> {
    let prev = sqlx::query_as::<_, ProductRow>(&format!("SELECT {PRODUCT_COLS} FROM products WHERE merchant_id = $1 AND sku = $2"))
        .persistent(false) // planned afresh (see `existing_by_sku`)
        .bind(m)
        .bind(&f.sku)
        .fetch_optional(&mut *tx)
        .await?;
    write_one(tx, m, f, prev, now).await
}

/// The products of `skus` that exist, by SKU: one statement per few hundred SKUs, rather than
/// one per row. On PostgreSQL a prepared statement soon runs on a generic plan made once, and
/// made while a merchant's first import was filling an empty table it walked all of the
/// merchant's products for every lookup (loading 50,000 products took four minutes); this
/// statement is planned afresh each time.
async fn existing_by_sku(tx: &mut sqlx::AnyConnection, m: &str, skus: &[&str]) -> Result<HashMap<String, ProductRow>> {
    let mut out = HashMap::new();
    for part in skus.chunks(500) {
        let marks = (0..part.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT {PRODUCT_COLS} FROM products WHERE merchant_id = $1 AND sku IN ({marks})");
        // Not kept as a prepared statement: planned for these values each time (see above).
        let mut q = sqlx::query_as::<_, ProductRow>(&sql).persistent(false).bind(m);
        for sku in part {
            q = q.bind(*sku);
        }
        for row in q.fetch_all(&mut *tx).await? {
            out.insert(row.sku.clone(), row);
        }
    }
    Ok(out)
}

/// Create `f`, or update `prev` (the product with its SKU) to it when it differs.
async fn write_one(
    tx: &mut sqlx::AnyConnection,
    m: &str,
    f: &ProductFields,
    prev: Option<ProductRow>,
    now: i64,
) -> Result<(String, Upserted)> {
    let stock = f.stock.as_ref().map(crate::storage::to_json);
    match prev {
        Some(p) if p.fields() == *f => Ok((p.id, Upserted::Unchanged)),
        Some(p) => {
            sqlx::query(
                "UPDATE products SET name = $1, description = $2, price_minor = $3, currency = $4, vat_bp = $5, image_url = $6, \
                 product_url = $7, gtin = $8, stock_json = $9, active = $10, search_text = $11, sku_key = $12, updated_at = $13 \
                 WHERE merchant_id = $14 AND id = $15",
            )
            .bind(&f.name)
            .bind(f.description.as_deref())
            .bind(f.price_minor)
            .bind(&f.currency)
            .bind(f.vat_bp)
            .bind(f.image_url.as_deref())
            .bind(f.product_url.as_deref())
            .bind(f.gtin.as_deref())
            .bind(stock.as_deref())
            .bind(i64::from(f.active))
            .bind(search_text(f))
            .bind(sku_key(&f.sku))
            .bind(now)
            .bind(m)
            .bind(&p.id)
            .execute(&mut *tx)
            .await?;
            Ok((p.id, Upserted::Updated))
        }
        None => {
            let id = uuid::Uuid::now_v7().to_string();
            insert_product(tx, m, &id, f, now).await?;
            Ok((id, Upserted::Created))
        }
    }
}

async fn insert_product(tx: &mut sqlx::AnyConnection, m: &str, id: &str, f: &ProductFields, now: i64) -> Result<()> {
    insert_products(tx, m, &[(id.to_owned(), f)], now).await
}

/// New products, up to 32 per `INSERT` (one statement per product made loading 50,000 on
/// PostgreSQL a round trip each).
async fn insert_products(tx: &mut sqlx::AnyConnection, m: &str, rows: &[(String, &ProductFields)], now: i64) -> Result<()> {
    use crate::storage::Param;
    const COLS: usize = 17;
    for part in crate::storage::shaped_chunks(rows, 32) {
        let sql = format!(
            "INSERT INTO products (id, merchant_id, sku, sku_key, name, description, price_minor, currency, vat_bp, image_url, \
             product_url, gtin, stock_json, active, search_text, created_at, updated_at) VALUES {}",
            crate::storage::value_rows(part.len(), COLS)
        );
        let mut params = Vec::with_capacity(part.len() * COLS);
        for (id, f) in part {
            params.extend([
                Param::text(id),
                Param::text(m),
                Param::text(&f.sku),
                Param::Text(sku_key(&f.sku)),
                Param::text(&f.name),
                Param::opt_text(f.description.as_deref()),
                Param::Int(f.price_minor),
                Param::text(&f.currency),
                Param::Int(f.vat_bp),
                Param::opt_text(f.image_url.as_deref()),
                Param::opt_text(f.product_url.as_deref()),
                Param::opt_text(f.gtin.as_deref()),
                Param::opt_text(f.stock.as_ref().map(crate::storage::to_json).as_deref()),
                Param::Int(i64::from(f.active)),
                Param::Text(search_text(f)),
                Param::Int(now),
                Param::Int(now),
            ]);
        }
        crate::storage::bind_all(sqlx::query(&sql), &params)
            .execute(&mut *tx)
            .await
            .map_err(StorageError::unique("a product with this SKU already exists"))?;
    }
    Ok(())
}

/// Shortest word searched as a prefix (shorter ones match exact article numbers only).
pub const MIN_PREFIX: usize = 2;

fn like_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

impl Db {
    pub async fn get_product(&self, m: Tenant<'_>, id: &str) -> Result<Product> {
        sqlx::query_as::<_, ProductRow>(&format!("SELECT {PRODUCT_COLS} FROM products WHERE merchant_id = $1 AND id = $2"))
            .bind(m.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(ProductRow::view)
            .ok_or(StorageError::NotFound)
    }

    pub async fn product_by_sku(&self, m: Tenant<'_>, sku: &str) -> Result<Product> {
        sqlx::query_as::<_, ProductRow>(&format!("SELECT {PRODUCT_COLS} FROM products WHERE merchant_id = $1 AND sku = $2"))
            .bind(m.as_str())
            .bind(sku)
            .fetch_optional(&self.pool)
            .await?
            .map(ProductRow::view)
            .ok_or(StorageError::NotFound)
    }

    /// Active products by SKU, for pricing a cart.
    pub async fn active_products_by_sku(&self, m: Tenant<'_>, skus: &[String]) -> Result<Vec<ProductRef>> {
        let mut out = Vec::new();
        for chunk in skus.chunks(100) {
            let ph: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT {PRODUCT_COLS} FROM products WHERE merchant_id = $1 AND active = 1 AND sku IN ({})",
                ph.join(", ")
            );
            let mut q = sqlx::query_as::<_, ProductRow>(&sql).bind(m.as_str());
            for s in chunk {
                q = q.bind(s.as_str());
            }
            out.extend(q.fetch_all(&self.pool).await?.iter().map(ProductRow::as_ref));
        }
        Ok(out)
    }

    /// Products in id order; `q` matches SKU or name (folded), `active` filters.
    pub async fn list_products(&self, m: Tenant<'_>, q: Option<&str>, active: Option<bool>, page: &PageRequest) -> Result<Page<Product>> {
        let pattern = q.map(fold).filter(|q| !q.is_empty()).map(|q| format!("%{}%", like_escape(&q)));
        let rows = sqlx::query_as::<_, ProductRow>(&format!(
            "SELECT {PRODUCT_COLS} FROM products WHERE merchant_id = $1 AND id > $2 \
             AND ($3 = '' OR search_text LIKE $3 ESCAPE '\\') AND ($4 < 0 OR active = $4) ORDER BY id LIMIT $5"
        ))
        .bind(m.as_str())
        .bind(page.after())
        .bind(pattern.unwrap_or_default())
        .bind(active.map_or(-1, i64::from))
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?;
        Ok(Page::from_rows(rows.into_iter().map(ProductRow::view).collect(), page, |p| {
            p.id.clone()
        }))
    }

    /// Every product in SKU order (export).
    pub async fn all_products(&self, m: Tenant<'_>) -> Result<Vec<Product>> {
        let rows = sqlx::query_as::<_, ProductRow>(&format!("SELECT {PRODUCT_COLS} FROM products WHERE merchant_id = $1 ORDER BY sku"))
            .bind(m.as_str())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(ProductRow::view).collect())
    }

    pub async fn create_product(&self, m: Tenant<'_>, f: &ProductFields) -> Result<Product> {
        let id = uuid::Uuid::now_v7().to_string();
        let mut c = self.writer.acquire().await?;
        insert_product(&mut c, m.as_str(), &id, f, now_ms()).await?;
        drop(c);
        self.get_product(m, &id).await
    }

    pub async fn update_product(&self, m: Tenant<'_>, id: &str, f: &ProductFields) -> Result<Product> {
        let stock = f.stock.as_ref().map(crate::storage::to_json);
        let done = sqlx::query(
            "UPDATE products SET sku = $1, sku_key = $2, name = $3, description = $4, price_minor = $5, currency = $6, vat_bp = $7, \
             image_url = $8, product_url = $9, gtin = $10, stock_json = $11, active = $12, search_text = $13, updated_at = $14 \
             WHERE merchant_id = $15 AND id = $16",
        )
        .bind(&f.sku)
        .bind(sku_key(&f.sku))
        .bind(&f.name)
        .bind(f.description.as_deref())
        .bind(f.price_minor)
        .bind(&f.currency)
        .bind(f.vat_bp)
        .bind(f.image_url.as_deref())
        .bind(f.product_url.as_deref())
        .bind(f.gtin.as_deref())
        .bind(stock.as_deref())
        .bind(i64::from(f.active))
        .bind(search_text(f))
        .bind(now_ms())
        .bind(m.as_str())
        .bind(id)
        .execute(&self.writer)
        .await
        .map_err(StorageError::unique("a product with this SKU already exists"))?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        self.get_product(m, id).await
    }

    pub async fn delete_product(&self, m: Tenant<'_>, id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM products WHERE merchant_id = $1 AND id = $2")
            .bind(m.as_str())
            .bind(id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(())
    }

    /// Create or update by SKU.
    pub async fn upsert_product(&self, m: Tenant<'_>, f: &ProductFields) -> Result<(Product, Upserted)> {
        let mut tx = self.begin_write().await?;
        let (id, how) = upsert_one(&mut tx, m.as_str(), f, now_ms()).await?;
        tx.commit().await?;
        Ok((self.get_product(m, &id).await?, how))
    }

    /// Create or update every product by SKU in one transaction: all or nothing.
    pub async fn upsert_products(&self, m: Tenant<'_>, rows: &[ProductFields]) -> Result<UpsertSummary> {
        let now = now_ms();
        let mut s = UpsertSummary::default();
        let mut tx = self.begin_write().await?;
        let skus: Vec<&str> = rows.iter().map(|f| f.sku.as_str()).collect();
        let mut known = existing_by_sku(&mut tx, m.as_str(), &skus).await?;
        let mut written = HashSet::new();
        // New products are inserted together, several to a statement.
        let mut new: Vec<(String, &ProductFields)> = Vec::new();
        for f in rows {
            let how = if !written.insert(f.sku.as_str()) {
                // The same SKU twice (the API refuses such a batch): the later row wins.
                insert_products(&mut tx, m.as_str(), &new, now).await?;
                new.clear();
                upsert_one(&mut tx, m.as_str(), f, now).await?.1
            } else if let Some(prev) = known.remove(&f.sku) {
                write_one(&mut tx, m.as_str(), f, Some(prev), now).await?.1
            } else {
                new.push((uuid::Uuid::now_v7().to_string(), f));
                Upserted::Created
            };
            match how {
                Upserted::Created => s.created += 1,
                Upserted::Updated => s.updated += 1,
                Upserted::Unchanged => s.unchanged += 1,
            }
        }
        insert_products(&mut tx, m.as_str(), &new, now).await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Search active products as an expert types: exact SKU (or GTIN) hits first, then SKU
    /// prefixes, then names whose words start with every word typed; accents and case ignored.
    /// When every word typed is shorter than [`MIN_PREFIX`], only exact SKU/GTIN hits.
    pub async fn search_products(&self, m: Tenant<'_>, q: &str, limit: usize) -> Result<Vec<Product>> {
        let folded = fold(q);
        let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).take(8).collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let key = sku_key(q);
        // Two lookups, each on its own index: written as one `sku_key = … OR gtin = …`, SQLite
        // walked all of the merchant's products on the GTIN index (about 20 ms at 50,000).
        let mut exact = sqlx::query_as::<_, ProductRow>(&format!(
            "SELECT {PRODUCT_COLS} FROM products WHERE merchant_id = $1 AND sku_key = $2 AND active = 1 LIMIT 20"
        ))
        .bind(m.as_str())
        .bind(&key)
        .fetch_all(&self.pool)
        .await?;
        let gtin = q.trim();
        if !gtin.is_empty() && gtin.bytes().all(|b| b.is_ascii_digit()) {
            exact.extend(
                sqlx::query_as::<_, ProductRow>(&format!(
                    "SELECT {PRODUCT_COLS} FROM products WHERE merchant_id = $1 AND gtin = $2 AND active = 1 LIMIT 20"
                ))
                .bind(m.as_str())
                .bind(gtin)
                .fetch_all(&self.pool)
                .await?,
            );
        }
        // Words of one character are prefixes of most of the catalogue (`a` → every name with a
        // word starting with a): such a query answers exact article numbers and GTINs only.
        if words.iter().all(|w| w.chars().count() < MIN_PREFIX) {
            return Ok(exact.into_iter().take(limit).map(ProductRow::view).collect());
        }
        let fts = match self.backend {
            Backend::Sqlite => {
                // CROSS JOIN keeps the full-text index the outer loop (otherwise the planner may
                // walk the merchant's products and test MATCH on each).
                let mq = words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" ");
                sqlx::query_as::<_, ProductRow>(&format!(
                    "SELECT {} FROM products_fts f CROSS JOIN products p ON p.rowid = f.rowid \
                     WHERE products_fts MATCH $1 AND p.merchant_id = $2 AND p.active = 1 LIMIT 200",
                    PRODUCT_COLS.split(", ").map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", ")
                ))
                .bind(mq)
                .bind(m.as_str())
                .fetch_all(&self.pool)
                .await?
            }
            Backend::Postgres => {
                let tq = words.iter().map(|w| format!("{w}:*")).collect::<Vec<_>>().join(" & ");
                sqlx::query_as::<_, ProductRow>(&format!(
                    "SELECT {PRODUCT_COLS} FROM products WHERE merchant_id = $1 AND active = 1 \
                     AND search_tsv @@ to_tsquery('simple', $2) LIMIT 200"
                ))
                .bind(m.as_str())
                .bind(tq)
                .fetch_all(&self.pool)
                .await?
            }
        };
        let score = |p: &ProductRow| -> (u8, usize, String) {
            let sk = sku_key(&p.sku);
            let name = fold(&p.name);
            let rank = if sk == key || p.gtin.as_deref() == Some(q.trim()) {
                0
            } else if sk.starts_with(&key) {
                1
            } else if name.starts_with(&folded) {
                2
            } else {
                3
            };
            (rank, p.name.len(), p.name.to_lowercase())
        };
        let mut seen = std::collections::HashSet::new();
        let mut all: Vec<ProductRow> = exact.into_iter().chain(fts).filter(|p| seen.insert(p.id.clone())).collect();
        all.sort_by_cached_key(score);
        all.truncate(limit);
        Ok(all.into_iter().map(ProductRow::view).collect())
    }
}

// ---------- checkout settings ----------

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
struct CheckoutRow {
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

// ---------- carts ----------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CartRow {
    pub id: String,
    pub merchant_id: String,
    pub conversation_id: String,
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

const CART_COLS: &str = "c.id, c.merchant_id, c.conversation_id, c.shopper_id, c.expert_id, e.name AS expert_name, c.store_id, c.status, \
    c.checkout_mode, c.currency, c.items, c.total_minor, c.quote_valid_until, c.expires_at, c.replaces, c.replaced_by, c.order_id, \
    c.reminder_at, c.paid_at, c.created_at, c.updated_at";
const CART_FROM: &str = "FROM carts c LEFT JOIN experts e ON e.id = c.expert_id";

#[derive(sqlx::FromRow)]
struct LineRow {
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
    pub conversation_id: String,
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
    pub async fn conversation_carts(&self, m: Tenant<'_>, conversation: &str) -> Result<Vec<(CartRow, Vec<Line>)>> {
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

// ---------- orders ----------

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
    pub conversation_id: Option<String>,
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

// ---------- the Orders module's list ----------

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
    pub conversation_id: Option<String>,
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

const ORDER_LIST_COLS: &str = "o.order_id, o.shopper_id, o.amount_minor, o.currency, o.status, o.stage, o.placed_at, o.updated_at, \
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

// ---------- analytics ----------

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
