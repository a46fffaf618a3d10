//! The catalogue: products and the batch upsert of an import. Search is in [`super::search`].

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::super::cart::ProductRef;
use super::super::money;
use crate::now_ms;
use crate::storage::{Db, Page, PageRequest, Result, StorageError, Tenant};

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
pub(super) struct ProductRow {
    pub(super) id: String,
    pub(super) sku: String,
    pub(super) name: String,
    description: Option<String>,
    price_minor: i64,
    currency: String,
    vat_bp: i64,
    image_url: Option<String>,
    product_url: Option<String>,
    pub(super) gtin: Option<String>,
    stock_json: Option<String>,
    active: i64,
    updated_at: i64,
}

pub(super) const PRODUCT_COLS: &str =
    "id, sku, name, description, price_minor, currency, vat_bp, image_url, product_url, gtin, stock_json, active, updated_at";

impl ProductRow {
    pub(super) fn view(self) -> Product {
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

pub(super) fn search_text(f: &ProductFields) -> String {
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

pub(super) async fn upsert_one(tx: &mut sqlx::AnyConnection, m: &str, f: &ProductFields, now: i64) -> Result<(String, Upserted)> {
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
pub(super) async fn existing_by_sku(tx: &mut sqlx::AnyConnection, m: &str, skus: &[&str]) -> Result<HashMap<String, ProductRow>> {
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

/// Change product `id` of merchant `m` to `f`, its SKU included; the rows changed (0: no such
/// product). The sqlx error is returned as it is, so a caller can name a SKU conflict.
async fn update_row(c: &mut sqlx::AnyConnection, m: &str, id: &str, f: &ProductFields, now: i64) -> std::result::Result<u64, sqlx::Error> {
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
    .bind(now)
    .bind(m)
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected())
}

/// Create `f`, or update `prev` (the product with its SKU) to it when it differs.
pub(super) async fn write_one(
    tx: &mut sqlx::AnyConnection,
    m: &str,
    f: &ProductFields,
    prev: Option<ProductRow>,
    now: i64,
) -> Result<(String, Upserted)> {
    match prev {
        Some(p) if p.fields() == *f => Ok((p.id, Upserted::Unchanged)),
        Some(p) => {
            update_row(tx, m, &p.id, f, now).await?;
            Ok((p.id, Upserted::Updated))
        }
        None => {
            let id = uuid::Uuid::now_v7().to_string();
            insert_product(tx, m, &id, f, now).await?;
            Ok((id, Upserted::Created))
        }
    }
}

pub(super) async fn insert_product(tx: &mut sqlx::AnyConnection, m: &str, id: &str, f: &ProductFields, now: i64) -> Result<()> {
    insert_products(tx, m, &[(id.to_owned(), f)], now).await
}

/// New products, up to 32 per `INSERT` (one statement per product made loading 50,000 on
/// PostgreSQL a round trip each).
pub(super) async fn insert_products(tx: &mut sqlx::AnyConnection, m: &str, rows: &[(String, &ProductFields)], now: i64) -> Result<()> {
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

pub(super) fn like_escape(s: &str) -> String {
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
        let mut c = self.writer.acquire().await?;
        let done = update_row(&mut c, m.as_str(), id, f, now_ms())
            .await
            .map_err(StorageError::unique("a product with this SKU already exists"))?;
        drop(c);
        if done == 0 {
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
}
