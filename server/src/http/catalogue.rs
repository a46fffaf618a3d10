//! The catalogue's routes (module Catalogue; docs/commerce.md): products one by one, by SKU, in
//! batches and as CSV, and the store app's search.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::modules::Catalogue;
use super::extract::{ApprovedExpert, JsonBody, Merchant, PageQuery, Query};
use super::AppState;
use crate::commerce::cart::{self};
use crate::commerce::money;
use crate::commerce::store::{Product, ProductFields, UpsertSummary, Upserted};
use crate::csv_table::{self, Table};
use crate::domain::{FieldError, Problems};
use crate::storage::Page;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, put_product, delete_product))
        .routes(routes!(put_sku))
        .routes(routes!(batch_products))
        .routes(routes!(import_products))
        .routes(routes!(export_products))
        .routes(routes!(search))
}

/// The writable fields of a product.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    /// Decimal string with at most the currency's decimals, VAT included.
    pub price: String,
    /// ISO 4217.
    pub currency: String,
    /// Percent, e.g. "25".
    pub vat_rate: String,
    pub image_url: Option<String>,
    pub product_url: Option<String>,
    /// EAN/GTIN: 8, 12, 13 or 14 digits.
    pub gtin: Option<String>,
    /// Quantity per store id.
    pub stock: Option<std::collections::BTreeMap<String, i64>>,
    /// Default true.
    pub active: Option<bool>,
}

fn safe_url(u: &str) -> bool {
    (u.starts_with("https://")
        || u.starts_with("http://127.0.0.1")
        || u.starts_with("http://localhost")
        || (u.starts_with('/') && !u.starts_with("//")))
        && u.len() <= 1000
        && !u.contains(char::is_whitespace)
}

fn valid_sku(s: &str) -> bool {
    let n = s.chars().count();
    (1..=cart::MAX_SKU).contains(&n) && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn check_product(p: &mut Problems, prefix: &str, r: &ProductInput) -> ProductFields {
    let f = |n: &str| format!("{prefix}{n}");
    let sku = r.sku.trim().to_owned();
    p.check(valid_sku(&sku), &f("sku"), "1–64 characters without spaces");
    p.text(&f("name"), &r.name, 200);
    let description = r.description.as_deref().map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned);
    if description.as_deref().is_some_and(|d| d.chars().count() > 2000) {
        p.add(f("description"), "at most 2000 characters");
    }
    let currency = money::currency(&r.currency);
    if currency.is_none() {
        p.add(f("currency"), "must be an ISO 4217 code such as EUR");
    }
    let cur = currency.clone().unwrap_or_default();
    let price = currency.as_ref().and_then(|c| money::parse(&r.price, c));
    if currency.is_some() && price.is_none() {
        p.add(
            f("price"),
            format!("must be a decimal ≥ 0 with at most {} decimals", money::exponent(&cur).unwrap_or(2)),
        );
    }
    let vat = money::parse_rate(&r.vat_rate);
    if vat.is_none() {
        p.add(f("vat_rate"), "must be a percentage 0–100 with at most 2 decimals");
    }
    let url = |v: &Option<String>, name: &str, p: &mut Problems| {
        let v = v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        if v.as_deref().is_some_and(|u| !safe_url(u)) {
            p.add(f(name), "must be an https:// URL");
        }
        v
    };
    let image_url = url(&r.image_url, "image_url", p);
    let product_url = url(&r.product_url, "product_url", p);
    let gtin = r.gtin.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    if gtin
        .as_deref()
        .is_some_and(|g| !matches!(g.len(), 8 | 12 | 13 | 14) || !g.bytes().all(|b| b.is_ascii_digit()))
    {
        p.add(f("gtin"), "must be 8, 12, 13 or 14 digits");
    }
    if let Some(s) = &r.stock {
        if s.len() > 500 || s.iter().any(|(k, v)| k.len() > 64 || !(0..=1_000_000).contains(v)) {
            p.add(f("stock"), "store ids with quantities 0–1,000,000");
        }
    }
    ProductFields {
        sku,
        name: r.name.trim().to_owned(),
        description,
        price_minor: price.unwrap_or(0),
        currency: cur,
        vat_bp: vat.unwrap_or(0),
        image_url,
        product_url,
        gtin,
        stock: r.stock.clone(),
        active: r.active.unwrap_or(true),
    }
}

fn validated(r: &ProductInput) -> ApiResult<ProductFields> {
    let mut p = Problems::new();
    let f = check_product(&mut p, "", r);
    p.into_result().map_err(ApiError::Validation)?;
    Ok(f)
}

fn sku_conflict(e: crate::storage::StorageError) -> ApiError {
    match e {
        crate::storage::StorageError::Conflict(m) => ApiError::FieldConflict {
            field: "sku".into(),
            message: m,
        },
        e => e.into(),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// Part of the SKU or name (accents and case ignored).
    pub q: Option<String>,
    pub active: Option<bool>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/catalogue/products", tag = "catalogue", params(ProductQuery),
    responses((status = 200, body = Page<Product>), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn list_products(
    State(state): State<AppState>,
    m: Merchant<Catalogue>,
    Query(q): Query<ProductQuery>,
) -> ApiResult<Json<Page<Product>>> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor.clone(),
    }
    .request()?;
    Ok(Json(state.db.list_products(&m.id, q.q.as_deref(), q.active, &page).await?))
}

#[utoipa::path(post, path = "/catalogue/products", tag = "catalogue", request_body = ProductInput,
    responses((status = 201, body = Product), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn create_product(
    State(state): State<AppState>,
    m: Merchant<Catalogue>,
    JsonBody(req): JsonBody<ProductInput>,
) -> ApiResult<(StatusCode, Json<Product>)> {
    let f = validated(&req)?;
    Ok((
        StatusCode::CREATED,
        Json(state.db.create_product(&m.id, &f).await.map_err(sku_conflict)?),
    ))
}

#[utoipa::path(get, path = "/catalogue/products/{product_id}", tag = "catalogue", params(("product_id" = String, Path)),
    responses((status = 200, body = Product), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn get_product(State(state): State<AppState>, m: Merchant<Catalogue>, Path(id): Path<String>) -> ApiResult<Json<Product>> {
    Ok(Json(state.db.get_product(&m.id, &id).await?))
}

#[utoipa::path(put, path = "/catalogue/products/{product_id}", tag = "catalogue", params(("product_id" = String, Path)), request_body = ProductInput,
    responses((status = 200, body = Product), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn put_product(
    State(state): State<AppState>,
    m: Merchant<Catalogue>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ProductInput>,
) -> ApiResult<Json<Product>> {
    let f = validated(&req)?;
    Ok(Json(state.db.update_product(&m.id, &id, &f).await.map_err(sku_conflict)?))
}

#[utoipa::path(delete, path = "/catalogue/products/{product_id}", tag = "catalogue", params(("product_id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn delete_product(State(state): State<AppState>, m: Merchant<Catalogue>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    state.db.delete_product(&m.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create or update the product with this SKU (idempotent): 201 when created, 200 otherwise.
#[utoipa::path(put, path = "/catalogue/skus/{sku}", tag = "catalogue", params(("sku" = String, Path)), request_body = ProductInput,
    responses((status = 201, body = Product), (status = 200, body = Product), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn put_sku(
    State(state): State<AppState>,
    m: Merchant<Catalogue>,
    Path(sku): Path<String>,
    JsonBody(req): JsonBody<ProductInput>,
) -> ApiResult<(StatusCode, Json<Product>)> {
    let f = validated(&req)?;
    if f.sku != sku.trim() {
        return Err(ApiError::invalid("sku", "must be the SKU in the path"));
    }
    let (p, how) = state.db.upsert_product(&m.id, &f).await?;
    Ok((
        if how == Upserted::Created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(p),
    ))
}

pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductBatch {
    /// At most 1,000; upserted by SKU, all or nothing.
    pub products: Vec<ProductInput>,
}

#[utoipa::path(post, path = "/catalogue/products/batch", tag = "catalogue", request_body = ProductBatch,
    responses((status = 200, body = UpsertSummary), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn batch_products(
    State(state): State<AppState>,
    m: Merchant<Catalogue>,
    JsonBody(req): JsonBody<ProductBatch>,
) -> ApiResult<Json<UpsertSummary>> {
    let mut p = Problems::new();
    if req.products.len() > MAX_BATCH {
        return Err(ApiError::invalid("products", "at most 1000 products a batch"));
    }
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<ProductFields> = req
        .products
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let f = check_product(&mut p, &format!("products[{i}]."), r);
            if !seen.insert(f.sku.clone()) {
                p.add(format!("products[{i}].sku"), "appears twice in the batch");
            }
            f
        })
        .collect();
    p.into_result().map_err(ApiError::Validation)?;
    Ok(Json(state.db.upsert_products(&m.id, &rows).await?))
}

/// The catalogue's CSV columns: what the export writes and, by the same names in this order,
/// what the import reads (docs/commerce.md). Every cell is formula-neutralised.
fn product_table() -> Table<Product> {
    Table::new(&[
        ("sku", |r, c| c.safe(&r.sku)),
        ("name", |r, c| c.safe(&r.name)),
        ("description", |r, c| c.safe(r.description.as_deref().unwrap_or(""))),
        ("price", |r, c| c.safe(&r.price)),
        ("currency", |r, c| c.safe(&r.currency)),
        ("vat_rate", |r, c| c.safe(&r.vat_rate)),
        ("image_url", |r, c| c.safe(r.image_url.as_deref().unwrap_or(""))),
        ("product_url", |r, c| c.safe(r.product_url.as_deref().unwrap_or(""))),
        ("gtin", |r, c| c.safe(r.gtin.as_deref().unwrap_or(""))),
        ("active", |r, c| c.text(if r.active { "true" } else { "false" })),
    ])
}
pub const MAX_IMPORT_ROWS: usize = 50_000;

/// Import a CSV (header row naming the columns; see docs/commerce.md). Upserts by SKU; all or
/// nothing: one bad row and nothing changes, every bad row is reported.
#[utoipa::path(post, path = "/catalogue/import", tag = "catalogue", request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = UpsertSummary), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn import_products(
    State(state): State<AppState>,
    m: Merchant<Catalogue>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<UpsertSummary>> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.starts_with("text/csv") {
        return Err(ApiError::UnsupportedMediaType("send the file as text/csv".into()));
    }
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::BadRequest("the file must be UTF-8".into()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let hdr = rdr
        .headers()
        .map_err(|e| ApiError::BadRequest(format!("unreadable CSV: {e}")))?
        .clone();
    let col = |name: &str| hdr.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let cols: Vec<Option<usize>> = product_table().names().map(col).collect();
    let required = ["sku", "name", "price", "currency", "vat_rate"];
    if required.iter().any(|r| col(r).is_none()) {
        return Err(ApiError::invalid(
            "header",
            "the first row must name the columns sku, name, price, currency, vat_rate (and optionally description, image_url, product_url, gtin, active)",
        ));
    }
    let mut p = Problems::new();
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        if rows.len() >= MAX_IMPORT_ROWS {
            p.add("file", format!("at most {MAX_IMPORT_ROWS} rows"));
            break;
        }
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                p.0.push(FieldError {
                    field: format!("row {line}"),
                    message: format!("unreadable: {e}"),
                });
                continue;
            }
        };
        let get = |c: usize| -> Option<String> {
            cols[c].and_then(|i| rec.get(i)).map(|s| {
                s.strip_prefix('\'')
                    .filter(|r| r.starts_with(['=', '+', '-', '@']))
                    .unwrap_or(s)
                    .to_owned()
            })
        };
        let opt = |c: usize| get(c).filter(|s| !s.trim().is_empty());
        let active = match opt(9).map(|s| s.trim().to_ascii_lowercase()) {
            None => Some(true),
            Some(s) if matches!(s.as_str(), "true" | "1" | "yes") => Some(true),
            Some(s) if matches!(s.as_str(), "false" | "0" | "no") => Some(false),
            Some(_) => None,
        };
        if active.is_none() {
            p.add(format!("row {line}.active"), "true or false");
        }
        let input = ProductInput {
            sku: get(0).unwrap_or_default(),
            name: get(1).unwrap_or_default(),
            description: opt(2),
            price: get(3).unwrap_or_default(),
            currency: get(4).unwrap_or_default(),
            vat_rate: get(5).unwrap_or_default(),
            image_url: opt(6),
            product_url: opt(7),
            gtin: opt(8),
            stock: None,
            active,
        };
        let f = check_product(&mut p, &format!("row {line}."), &input);
        if !seen.insert(f.sku.clone()) {
            p.add(format!("row {line}.sku"), "appears twice in the file");
        }
        rows.push(f);
    }
    p.into_result().map_err(ApiError::Validation)?;
    Ok(Json(state.db.upsert_products(&m.id, &rows).await?))
}

/// The catalogue as CSV (the import's columns; formula-neutralised; `X-Row-Count`).
#[utoipa::path(get, path = "/catalogue/export.csv", tag = "catalogue",
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn export_products(State(state): State<AppState>, m: Merchant<Catalogue>) -> ApiResult<Response> {
    let rows = state.db.all_products(&m.id).await?;
    let body = csv_table::write_all(&product_table(), &rows).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"catalogue.csv\"".to_owned()),
            (header::HeaderName::from_static("x-row-count"), rows.len().to_string()),
        ],
        body,
    )
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// A name, part of a name, an article number (SKU) or a GTIN, at most 200 characters. Words
    /// are matched as prefixes from 2 characters on: a query of one character (`a`, `5`) only
    /// finds a product whose article number or GTIN is exactly that — type at least 2 characters
    /// to search names.
    pub q: String,
    /// 1–50, default 20.
    pub limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct ProductHits {
    pub items: Vec<Product>,
}

/// Active products, best match first: exact article numbers, then article-number prefixes,
/// then names (accents and case ignored). One-character queries answer exact article numbers
/// and GTINs only (type at least 2 characters to search names).
#[utoipa::path(get, path = "/app/catalogue/search", tag = "store_app", params(SearchQuery),
    responses((status = 200, body = ProductHits), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("expert_token" = [])))]
async fn search(
    State(state): State<AppState>,
    ApprovedExpert(s): ApprovedExpert,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<ProductHits>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1–50"));
    }
    if q.q.chars().count() > 200 {
        return Err(ApiError::invalid("q", "at most 200 characters"));
    }
    Ok(Json(ProductHits {
        items: state.db.search_products(&s.expert.merchant_id, &q.q, limit).await?,
    }))
}
