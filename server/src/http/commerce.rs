//! Issue 22's routes (docs/commerce.md): catalogue (module Catalogue), carts in the store app
//! and the widget, the merchant's cart read, checkout settings (module Settings) and the
//! hosted pay page.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::modules::{Catalogue, Orders, Settings};
use super::extract::{ApprovedExpert, JsonBody, Merchant, PageQuery, Query};
use super::media_settings::ShopperAuth;
use super::AppState;
use crate::commerce::cart::{self, CartInput, ProductRef};
use crate::commerce::store::{CheckoutSettings, NewCart, Product, ProductFields, UpsertSummary, Upserted, OPEN_CART};
use crate::commerce::{self as cm, money, permalink, qr, refs, Cart};
use crate::csv_table::{self, Table};
use crate::domain::{FieldError, Problems};
use crate::ids::MerchantId;
use crate::now_ms;
use crate::storage::{AppendOutcome, NewMessage, Page, Sender};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(get_product, put_product, delete_product))
        .routes(routes!(put_sku))
        .routes(routes!(batch_products))
        .routes(routes!(import_products))
        .routes(routes!(export_products))
        .routes(routes!(search))
        .routes(routes!(preview_cart))
        .routes(routes!(send_cart, conversation_carts))
        .routes(routes!(expert_cart))
        .routes(routes!(cancel_cart))
        .routes(routes!(cart_qr))
        .routes(routes!(send_cart_link))
        .routes(routes!(widget_cart))
        .routes(routes!(accept_cart))
        .routes(routes!(merchant_cart))
        .routes(routes!(get_checkout, put_checkout))
        .routes(routes!(discover_checkout))
        .routes(routes!(cart_analytics))
}

// ---------- catalogue ----------

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

// ---------- carts ----------

async fn price(state: &AppState, m: &MerchantId, input: &CartInput, settings: &CheckoutSettings) -> ApiResult<(Vec<cart::Line>, String)> {
    let skus: Vec<String> = input
        .lines
        .iter()
        .filter_map(|l| l.sku.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned))
        .take(cart::MAX_LINES + 1)
        .collect();
    let found: Vec<ProductRef> = if input.lines.len() > cart::MAX_LINES {
        Vec::new()
    } else {
        state.db.active_products_by_sku(m, &skus).await?
    };
    let find = |sku: &str| found.iter().find(|p| p.sku == sku).cloned();
    let vat = money::parse_rate(&settings.default_vat_rate).unwrap_or(2500);
    let fallback = found.first().map(|p| p.currency.clone()).unwrap_or_else(|| "EUR".into());
    let (lines, currency) = cart::price_lines(&input.lines, &find, &fallback, vat).map_err(ApiError::Validation)?;
    if settings.mode == "permalink" {
        let mut p = Problems::new();
        for (i, l) in lines.iter().enumerate() {
            if let Some(msg) = cart::permalink_problem(l) {
                let field = if l.sku.is_none() { "text" } else { "unit_price" };
                p.add(format!("lines[{i}].{field}"), msg);
            }
        }
        p.into_result().map_err(ApiError::Validation)?;
    }
    Ok((lines, currency))
}

/// Totals for a cart being built; nothing is stored.
#[utoipa::path(post, path = "/app/carts/preview", tag = "store_app", request_body = CartInput,
    responses((status = 200, body = Cart), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("expert_token" = [])))]
async fn preview_cart(
    State(state): State<AppState>,
    ApprovedExpert(s): ApprovedExpert,
    JsonBody(req): JsonBody<CartInput>,
) -> ApiResult<Json<Cart>> {
    let m = &s.expert.merchant_id;
    let settings = state.db.checkout_settings(m).await?;
    let (lines, currency) = price(&state, m, &req, &settings).await?;
    Ok(Json(cm::view_lines(&lines, &currency, &settings.mode)))
}

/// End of `YYYY-MM-DD` (UTC) in ms, when it is today … a year ahead.
fn quote_end(s: &str, now: i64) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    let end = d.and_hms_opt(23, 59, 59)?.and_utc().timestamp_millis() + 999;
    (end > now && end <= now + 366 * 86_400_000).then_some(end)
}

/// Send a cart in a chat the expert holds: it is stored, and a `cart` message goes to both
/// sides. With `replaces`, the earlier open cart becomes `replaced`.
#[utoipa::path(post, path = "/app/conversations/{conversation_id}/carts", tag = "store_app", params(("conversation_id" = String, Path)),
    request_body = CartInput,
    responses((status = 201, body = Cart), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the chat is not open"), (status = 422, body = Problem),
        (status = 503, body = Problem, description = "the cart message could not be stored just now (the cart is not sent; send again)")),
    security(("expert_token" = [])))]
async fn send_cart(
    State(state): State<AppState>,
    ApprovedExpert(s): ApprovedExpert,
    Path(conversation_id): Path<String>,
    JsonBody(req): JsonBody<CartInput>,
) -> ApiResult<(StatusCode, Json<Cart>)> {
    let m = &s.expert.merchant_id;
    let chat = state.db.chat_parties(m, &conversation_id).await?;
    if chat.expert_id.as_deref() != Some(s.expert.id.as_str()) {
        return Err(ApiError::NotFound);
    }
    if chat.status != crate::storage::ConversationStatus::Claimed {
        return Err(ApiError::Conflict("this chat is not open".into()));
    }
    let now = state.commerce_clock.now();
    let quote = match req.quote_valid_until.as_deref() {
        None => None,
        Some(d) => Some(
            quote_end(d, now).ok_or_else(|| ApiError::invalid("quote_valid_until", "a date (YYYY-MM-DD) from today to a year ahead"))?,
        ),
    };
    let settings = state.db.checkout_settings(m).await?;
    let (lines, currency) = price(&state, m, &req, &settings).await?;
    let totals = cart::totals(&lines, &currency);
    let store_id: (String,) = sqlx::query_as("SELECT store_id FROM conversations WHERE id = $1")
        .bind(&conversation_id)
        .fetch_one(&state.db.pool)
        .await
        .map_err(ApiError::internal)?;
    let new = NewCart {
        id: uuid::Uuid::now_v7().to_string(),
        conversation_id: conversation_id.clone(),
        shopper_id: chat.shopper_id.clone(),
        expert_id: s.expert.id.to_string(),
        store_id: store_id.0,
        status: if quote.is_some() { "quote" } else { "awaiting_payment" },
        checkout_mode: settings.mode.clone(),
        currency: currency.clone(),
        items: totals.items,
        total_minor: totals.total_minor,
        quote_valid_until: quote,
        expires_at: quote.unwrap_or(now + settings.link_hours * 3_600_000),
        replaces: req.replaces.clone(),
    };
    state.db.insert_cart(m, &new, &lines).await.map_err(|e| match e {
        crate::storage::StorageError::Invalid(msg) => ApiError::invalid("replaces", &msg),
        e => e.into(),
    })?;
    let key = cm::key(&state).await?;
    let (row, lines) = state.db.cart(m, &new.id).await?;
    let view = cm::view(&state, &key, &row, &lines);
    let msg = NewMessage {
        merchant_id: m.to_string(),
        conversation_id: conversation_id.clone(),
        client_msg_id: None,
        sender: Sender::Expert {
            id: s.expert.id.to_string(),
            name: s.expert.name.clone(),
        },
        kind: "cart",
        body: cm::summary(&view),
        data_json: Some(serde_json::to_string(&view).map_err(ApiError::internal)?),
    };
    match state.hub.store(msg, None).await {
        Ok(AppendOutcome::Stored(_)) => {}
        Err(e) => {
            // Not stored (nothing reached the shopper): the cart is not sent; sending again may work.
            tracing::warn!(conversation = %conversation_id, error = %e, "could not store a cart message");
            state.db.set_cart_status(m, &new.id, &OPEN_CART, "cancelled", None).await?;
            return Err(ApiError::Unavailable(
                "the chat could not take the cart just now; send it again".into(),
            ));
        }
        _ => {
            // The chat closed in between: the cart never reached the shopper.
            state.db.set_cart_status(m, &new.id, &OPEN_CART, "cancelled", None).await?;
            return Err(ApiError::Conflict("this chat is not open".into()));
        }
    }
    // A revision is the same cart sent again: Analytics counts the first send only.
    if new.replaces.is_none() {
        cm::cart_fact(&state, &row, "cart_sent").await;
    }
    let event = crate::outbound::events::CartData {
        conversation_id: conversation_id.clone(),
        cart_id: new.id.clone(),
        currency: currency.clone(),
        total: view.total.clone(),
        lines: view
            .lines
            .iter()
            .map(|l| crate::outbound::events::CartLine {
                name: l.name.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price.clone(),
            })
            .collect(),
        payment_url: view.pay_url.clone(),
    };
    let item = crate::outbound::events::event(
        m,
        crate::outbound::events::EventType::CartSent,
        Some(&conversation_id),
        &event,
        state.outbound.timing().speedup,
    );
    if state.db.enqueue(&[item]).await.is_ok() {
        state.outbound.wake();
    }
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Serialize, ToSchema)]
pub struct CartList {
    pub items: Vec<Cart>,
}

#[utoipa::path(get, path = "/app/conversations/{conversation_id}/carts", tag = "store_app", params(("conversation_id" = String, Path)),
    responses((status = 200, body = CartList), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("expert_token" = [])))]
async fn conversation_carts(
    State(state): State<AppState>,
    ApprovedExpert(s): ApprovedExpert,
    Path(conversation_id): Path<String>,
) -> ApiResult<Json<CartList>> {
    let m = &s.expert.merchant_id;
    state.db.chat_parties(m, &conversation_id).await?;
    let key = cm::key(&state).await?;
    let items = state
        .db
        .conversation_carts(m, &conversation_id)
        .await?
        .iter()
        .map(|(r, l)| cm::view(&state, &key, r, l))
        .collect();
    Ok(Json(CartList { items }))
}

#[utoipa::path(get, path = "/app/carts/{cart_id}", tag = "store_app", params(("cart_id" = String, Path)),
    responses((status = 200, body = Cart), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("expert_token" = [])))]
async fn expert_cart(State(state): State<AppState>, ApprovedExpert(s): ApprovedExpert, Path(id): Path<String>) -> ApiResult<Json<Cart>> {
    let (row, lines) = state.db.cart(&s.expert.merchant_id, &id).await?;
    let key = cm::key(&state).await?;
    Ok(Json(cm::view(&state, &key, &row, &lines)))
}

/// Withdraw an open cart (the thread says so).
#[utoipa::path(post, path = "/app/carts/{cart_id}/cancel", tag = "store_app", params(("cart_id" = String, Path)),
    responses((status = 200, body = Cart), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "no longer open")),
    security(("expert_token" = [])))]
async fn cancel_cart(State(state): State<AppState>, ApprovedExpert(s): ApprovedExpert, Path(id): Path<String>) -> ApiResult<Json<Cart>> {
    let m = &s.expert.merchant_id;
    state.db.cart(m, &id).await?;
    if !state.db.set_cart_status(m, &id, &OPEN_CART, "cancelled", None).await? {
        return Err(ApiError::Conflict("this cart is no longer open".into()));
    }
    let (row, lines) = state.db.cart(m, &id).await?;
    cm::cart_status_line(&state, m, &row, "cancelled", None).await;
    let key = cm::key(&state).await?;
    Ok(Json(cm::view(&state, &key, &row, &lines)))
}

/// The pay link as a QR code, to show a shopper in the store.
#[utoipa::path(get, path = "/app/carts/{cart_id}/qr.svg", tag = "store_app", params(("cart_id" = String, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "the cart can no longer be paid")),
    security(("expert_token" = [])))]
async fn cart_qr(State(state): State<AppState>, ApprovedExpert(s): ApprovedExpert, Path(id): Path<String>) -> ApiResult<Response> {
    let (row, _) = state.db.cart(&s.expert.merchant_id, &id).await?;
    if !OPEN_CART.contains(&row.status.as_str()) || row.expires_at <= state.commerce_clock.now() {
        return Err(ApiError::Conflict("this cart can no longer be paid".into()));
    }
    let key = cm::key(&state).await?;
    let svg = qr::svg(&cm::pay_url(&state, &key, &row.id)).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-store")], svg).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendLinkInput {
    /// email | sms
    pub channel: String,
    /// An e-mail address, or a phone number in E.164 (`+46701234567`).
    pub to: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SendLinkResult {
    /// queued | refused (suppressed address or rate limit) | duplicate (sent before)
    pub status: String,
    /// The outbox row, when one was made.
    #[schema(required = true)]
    pub outbox_id: Option<String>,
}

/// Send the pay link by e-mail or SMS (through the outbox: retried, visible in Outbox).
#[utoipa::path(post, path = "/app/carts/{cart_id}/send", tag = "store_app", params(("cart_id" = String, Path)), request_body = SendLinkInput,
    responses((status = 202, body = SendLinkResult), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the cart can no longer be paid"), (status = 422, body = Problem)),
    security(("expert_token" = [])))]
async fn send_cart_link(
    State(state): State<AppState>,
    ApprovedExpert(s): ApprovedExpert,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<SendLinkInput>,
) -> ApiResult<(StatusCode, Json<SendLinkResult>)> {
    let m = &s.expert.merchant_id;
    let (row, lines) = state.db.cart(m, &id).await?;
    let to = match req.channel.as_str() {
        "email" => crate::outbound::parse_address(&req.to).ok_or_else(|| ApiError::invalid("to", "not an e-mail address"))?,
        "sms" => {
            let t: String = req.to.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
            if !crate::outbound::sms::valid_e164(&t) {
                return Err(ApiError::invalid("to", "a phone number with country code, e.g. +46701234567"));
            }
            t
        }
        _ => return Err(ApiError::invalid("channel", "email or sms")),
    };
    if !OPEN_CART.contains(&row.status.as_str()) || row.expires_at <= state.commerce_clock.now() {
        return Err(ApiError::Conflict("this cart can no longer be paid".into()));
    }
    let done = cm::send_link(&state, m, &row, &lines, &req.channel, &to, false)
        .await
        .map_err(ApiError::internal)?;
    let (status, outbox_id) = match done {
        crate::storage::Enqueued::Queued(id) => ("queued", Some(id)),
        crate::storage::Enqueued::Refused { id, .. } => ("refused", Some(id)),
        crate::storage::Enqueued::Duplicate => ("duplicate", None),
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(SendLinkResult {
            status: status.into(),
            outbox_id,
        }),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MerchantParam {
    /// The shop's Merchant ID.
    pub merchant: String,
}

async fn shopper_cart(state: &AppState, shopper: &ShopperAuth, id: &str) -> ApiResult<(crate::commerce::store::CartRow, Vec<cart::Line>)> {
    let (row, lines) = state.db.cart(&shopper.merchant, id).await?;
    if row.shopper_id != shopper.shopper {
        return Err(ApiError::NotFound);
    }
    Ok((row, lines))
}

/// A cart sent to this shopper.
#[utoipa::path(get, path = "/widget/carts/{cart_id}", tag = "widget", params(("cart_id" = String, Path), MerchantParam),
    responses((status = 200, body = Cart), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("shopper_token" = [])))]
async fn widget_cart(State(state): State<AppState>, shopper: ShopperAuth, Path(id): Path<String>) -> ApiResult<Json<Cart>> {
    let (row, lines) = shopper_cart(&state, &shopper, &id).await?;
    let key = cm::key(&state).await?;
    Ok(Json(cm::view(&state, &key, &row, &lines)))
}

/// Accept a quote: it becomes payable (the thread says so).
#[utoipa::path(post, path = "/widget/carts/{cart_id}/accept", tag = "widget", params(("cart_id" = String, Path), MerchantParam),
    responses((status = 200, body = Cart), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "not a quote that can still be accepted")),
    security(("shopper_token" = [])))]
async fn accept_cart(State(state): State<AppState>, shopper: ShopperAuth, Path(id): Path<String>) -> ApiResult<Json<Cart>> {
    let (row, _) = shopper_cart(&state, &shopper, &id).await?;
    accept(&state, &shopper.merchant, &row).await?;
    let (row, lines) = state.db.cart(&shopper.merchant, &id).await?;
    let key = cm::key(&state).await?;
    Ok(Json(cm::view(&state, &key, &row, &lines)))
}

pub(super) async fn accept(state: &AppState, m: &MerchantId, row: &crate::commerce::store::CartRow) -> ApiResult<()> {
    if row.status != "quote" || row.expires_at <= state.commerce_clock.now() {
        return Err(ApiError::Conflict("this is not a quote that can still be accepted".into()));
    }
    if !state.db.set_cart_status(m, &row.id, &["quote"], "awaiting_payment", None).await? {
        return Err(ApiError::Conflict("this is not a quote that can still be accepted".into()));
    }
    cm::cart_status_line(state, m, row, "awaiting_payment", None).await;
    Ok(())
}

/// The full cart for the merchant's checkout: by the signed reference the checkout received,
/// or by id.
#[utoipa::path(get, path = "/carts/{cart_ref}", tag = "orders", params(("cart_ref" = String, Path, description = "a `cref_…` reference or a cart id")),
    responses((status = 200, body = Cart), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn merchant_cart(State(state): State<AppState>, m: Merchant<Orders>, Path(r): Path<String>) -> ApiResult<Json<Cart>> {
    let key = cm::key(&state).await?;
    let id = if r.starts_with(refs::REF_PREFIX) {
        refs::check_cart_ref(&key, &r, state.commerce_clock.now()).ok_or(ApiError::NotFound)?
    } else {
        r
    };
    let (row, lines) = state.db.cart(&m.id, &id).await?;
    Ok(Json(cm::view(&state, &key, &row, &lines)))
}

// ---------- checkout settings ----------

#[utoipa::path(get, path = "/settings/checkout", tag = "settings",
    responses((status = 200, body = CheckoutSettings), (status = 401, body = Problem), (status = 403, body = Problem)), security(("session" = [])))]
async fn get_checkout(State(state): State<AppState>, m: Merchant<Settings>) -> ApiResult<Json<CheckoutSettings>> {
    Ok(Json(state.db.checkout_settings(&m.id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutInput {
    /// off | hosted | permalink
    pub mode: String,
    /// Hosted mode: the merchant's checkout page (https).
    pub checkout_url: Option<String>,
    /// Permalink mode: the endpoint (by hand, or as discovered).
    pub permalink_endpoint: Option<String>,
    pub link_hours: Option<i64>,
    pub reminder_hours: Option<i64>,
    pub default_vat_rate: Option<String>,
}

#[utoipa::path(put, path = "/settings/checkout", tag = "settings", request_body = CheckoutInput,
    responses((status = 200, body = CheckoutSettings), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("session" = [])))]
async fn put_checkout(
    State(state): State<AppState>,
    m: Merchant<Settings>,
    JsonBody(req): JsonBody<CheckoutInput>,
) -> ApiResult<Json<CheckoutSettings>> {
    let mut s = state.db.checkout_settings(&m.id).await?;
    let mut p = Problems::new();
    let loopback = state.outbound.allow_private();
    p.check(
        matches!(req.mode.as_str(), "off" | "hosted" | "permalink"),
        "mode",
        "off, hosted or permalink",
    );
    let checkout_url = req
        .checkout_url
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if let Some(u) = &checkout_url {
        let ok = url::Url::parse(u).is_ok_and(|x| {
            x.scheme() == "https" || (loopback && x.scheme() == "http" && matches!(x.host_str(), Some("localhost" | "127.0.0.1")))
        });
        p.check(ok && u.len() <= 1000, "checkout_url", "must be an https:// URL");
    }
    let endpoint = req
        .permalink_endpoint
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if let Some(e) = &endpoint {
        p.check(
            permalink::valid_endpoint(e, loopback),
            "permalink_endpoint",
            "must be an absolute https URL without query, fragment or trailing slash",
        );
    }
    if req.mode == "hosted" {
        p.check(
            checkout_url.is_some(),
            "checkout_url",
            "the hosted payment link needs the checkout's address",
        );
    }
    if req.mode == "permalink" {
        p.check(
            endpoint.is_some(),
            "permalink_endpoint",
            "a permalink needs the endpoint (discover it from the shop's address)",
        );
    }
    let link_hours = req.link_hours.unwrap_or(s.link_hours);
    p.check((1..=720).contains(&link_hours), "link_hours", "1–720");
    if let Some(h) = req.reminder_hours {
        p.check((1..=168).contains(&h), "reminder_hours", "1–168, or null for no reminder");
    }
    let vat = req.default_vat_rate.clone().unwrap_or(s.default_vat_rate.clone());
    p.check(money::parse_rate(&vat).is_some(), "default_vat_rate", "a percentage 0–100");
    p.into_result().map_err(ApiError::Validation)?;
    if endpoint != s.permalink_endpoint {
        s.discovered_at = None;
    }
    s.mode = req.mode;
    s.checkout_url = checkout_url;
    s.permalink_endpoint = endpoint;
    s.link_hours = link_hours;
    s.reminder_hours = req.reminder_hours;
    s.default_vat_rate = money::format_rate(money::parse_rate(&vat).unwrap_or(2500));
    state.db.put_checkout_settings(&m.id, &s).await?;
    Ok(Json(s))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoverInput {
    /// The shop's address, e.g. `https://shop.example`.
    pub shop_url: String,
}

/// Fetch the shop's `/.well-known/ucp` and keep its permalink endpoint (mode becomes
/// `permalink`).
#[utoipa::path(post, path = "/settings/checkout/discover", tag = "settings", request_body = DiscoverInput,
    responses((status = 200, body = CheckoutSettings), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("session" = [])))]
async fn discover_checkout(
    State(state): State<AppState>,
    m: Merchant<Settings>,
    JsonBody(req): JsonBody<DiscoverInput>,
) -> ApiResult<Json<CheckoutSettings>> {
    let loopback = state.outbound.allow_private();
    let shop = req.shop_url.trim().trim_end_matches('/').to_owned();
    let parsed = url::Url::parse(&shop).ok().filter(|u| {
        u.host_str().is_some()
            && (u.scheme() == "https" || (loopback && u.scheme() == "http" && matches!(u.host_str(), Some("localhost" | "127.0.0.1"))))
    });
    let Some(parsed) = parsed else {
        return Err(ApiError::invalid("shop_url", "must be the shop's https:// address"));
    };
    let origin = parsed.origin().ascii_serialization();
    let endpoint = fetch_endpoint(&origin, loopback)
        .await
        .map_err(|why| ApiError::invalid("shop_url", &why))?;
    let mut s = state.db.checkout_settings(&m.id).await?;
    s.mode = "permalink".into();
    s.shop_url = Some(origin);
    s.permalink_endpoint = Some(endpoint);
    s.discovered_at = Some(now_ms());
    state.db.put_checkout_settings(&m.id, &s).await?;
    Ok(Json(s))
}

async fn fetch_endpoint(origin: &str, loopback: bool) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .timeout(std::time::Duration::from_secs(10))
        .dns_resolver(std::sync::Arc::new(crate::outbound::ssrf::PublicResolver {
            allow_private: loopback,
        }))
        .build()
        .map_err(|e| e.to_string())?;
    let res = client
        .get(format!("{origin}/.well-known/ucp"))
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|_| "the shop could not be reached".to_owned())?;
    if !res.status().is_success() {
        return Err(format!("the shop answered {} for /.well-known/ucp", res.status().as_u16()));
    }
    let bytes = res.bytes().await.map_err(|_| "the shop's profile could not be read".to_owned())?;
    if bytes.len() > 256 * 1024 {
        return Err("the shop's profile is too large".into());
    }
    let profile: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| "the shop's /.well-known/ucp is not JSON".to_owned())?;
    let endpoint =
        permalink::endpoint_from_profile(&profile).ok_or_else(|| format!("the shop does not publish {}", permalink::CAPABILITY))?;
    if !permalink::valid_endpoint(&endpoint, loopback) {
        return Err("the shop's permalink endpoint is not a valid https URL".into());
    }
    Ok(endpoint)
}

// ---------- analytics ----------

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CartStatsQuery {
    /// From (ms, inclusive); default 30 days ago.
    pub from: Option<i64>,
    /// To (ms, exclusive); default now.
    pub to: Option<i64>,
}

/// Carts sent and paid, conversion (paid ÷ sent) and revenue in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartFigures {
    #[schema(required = true)]
    pub store_id: Option<String>,
    #[schema(required = true)]
    pub expert_id: Option<String>,
    pub currency: String,
    pub carts_sent: i64,
    pub carts_paid: i64,
    /// Paid ÷ sent as a decimal string with 4 places ("0.2500"), "0" when none were sent.
    pub conversion: String,
    /// Decimal string: the paid carts' totals.
    pub revenue: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartAnalytics {
    pub from: i64,
    pub to: i64,
    /// Per currency.
    pub totals: Vec<CartFigures>,
    pub by_store: Vec<CartFigures>,
    pub by_expert: Vec<CartFigures>,
}

fn figures(store: Option<String>, expert: Option<String>, currency: &str, sent: i64, paid: i64, revenue: i64) -> CartFigures {
    // Always four places, as documented ("0.2500", "1.0000"; "0" only when nothing was sent).
    let conversion = if sent == 0 {
        "0".into()
    } else {
        let mut c = (rust_decimal::Decimal::from(paid) / rust_decimal::Decimal::from(sent))
            .round_dp_with_strategy(4, rust_decimal::RoundingStrategy::MidpointNearestEven);
        c.rescale(4);
        c.to_string()
    };
    CartFigures {
        store_id: store,
        expert_id: expert,
        currency: currency.to_owned(),
        carts_sent: sent,
        carts_paid: paid,
        conversion,
        revenue: money::format(revenue, currency),
    }
}

/// Cart figures: carts sent, carts paid, cart conversion and cart revenue per store and
/// expert (revised carts count once).
#[utoipa::path(get, path = "/analytics/carts", tag = "analytics", params(CartStatsQuery),
    responses((status = 200, body = CartAnalytics), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn cart_analytics(
    State(state): State<AppState>,
    m: Merchant<super::extract::modules::Analytics>,
    Query(q): Query<CartStatsQuery>,
) -> ApiResult<Json<CartAnalytics>> {
    let to = q.to.unwrap_or_else(|| now_ms() + 1);
    if to <= 0 {
        return Err(ApiError::invalid("to", "must be a time after 1970 (unix milliseconds)"));
    }
    let from = q.from.unwrap_or(to.saturating_sub(30 * 86_400_000).max(0));
    if from < 0 {
        return Err(ApiError::invalid("from", "must be a time after 1970 (unix milliseconds)"));
    }
    if from >= to {
        return Err(ApiError::invalid("from", "must be before to"));
    }
    let rows = state.db.cart_stats(&m.id, from, to).await?;
    type Key = (Option<String>, Option<String>, String);
    let acc = |key: fn(&crate::commerce::store::CartStatsRow) -> Key| {
        let mut map: std::collections::BTreeMap<Key, (i64, i64, i64)> = Default::default();
        for r in &rows {
            let e = map.entry(key(r)).or_default();
            e.0 += r.sent;
            e.1 += r.paid;
            e.2 += r.revenue_minor;
        }
        map.into_iter()
            .map(|((s, x, c), (sent, paid, rev))| figures(s, x, &c, sent, paid, rev))
            .collect::<Vec<_>>()
    };
    Ok(Json(CartAnalytics {
        from,
        to,
        totals: acc(|r| (None, None, r.currency.clone())),
        by_store: acc(|r| (Some(r.store_id.clone()), None, r.currency.clone())),
        by_expert: acc(|r| (None, r.expert_id.clone(), r.currency.clone())),
    }))
}
