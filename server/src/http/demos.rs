//! Module Demo (operator): shareable demo pages for prospects. Each demo dresses the widget in
//! the prospect's name, colours, logo and greeting, over their site's screenshot or a mock shop
//! generated in their colours, and connects it to a store of a chosen merchant (usually the demo
//! merchant) where a demo expert answers from the store app.
//!
//! The public page is `/demo/<slug>` ([`super::demo_page`]); the slug is random, so the link is
//! the capability.

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, Operator, PageQuery, Query};
use super::AppState;
use crate::domain::settings::valid_hex_color;
use crate::domain::Problems;
use crate::ids::{MerchantId, StoreId};
use crate::now_ms;
use crate::storage::{DemoFields, DemoRow, Page, ScreenshotChange, StorageError};

pub const MAX_LOGO_BYTES: usize = 200 * 1024;
pub const MAX_SCREENSHOT_BYTES: usize = 3 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
        // A 3 MB screenshot is 4 MB as base64 in JSON.
        .layer(DefaultBodyLimit::max(5 * 1024 * 1024))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Demo {
    pub id: String,
    pub slug: String,
    pub prospect_name: String,
    #[schema(required = true)]
    pub website: Option<String>,
    pub merchant_id: String,
    pub merchant_name: String,
    #[schema(required = true)]
    pub store_id: Option<String>,
    pub primary_color: String,
    pub background_color: String,
    /// A data: URL.
    #[schema(required = true)]
    pub logo: Option<String>,
    #[schema(required = true)]
    pub greeting: Option<String>,
    pub has_screenshot: bool,
    /// The shareable page, relative to this server.
    pub url: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<DemoRow> for Demo {
    fn from(d: DemoRow) -> Demo {
        Demo {
            url: format!("/demo/{}", d.slug),
            has_screenshot: d.has_screenshot != 0,
            id: d.id,
            slug: d.slug,
            prospect_name: d.prospect_name,
            website: d.website,
            merchant_id: d.merchant_id,
            merchant_name: d.merchant_name,
            store_id: d.store_id,
            primary_color: d.primary_color,
            background_color: d.background_color,
            logo: d.logo,
            greeting: d.greeting,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// `Some(None)` when the field is present as null, `None` when absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// Create with at least `prospect_name` and `merchant_id`; update with any subset (null clears
/// an optional field; `"screenshot": null` removes the screenshot).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DemoRequest {
    pub prospect_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub website: Option<Option<String>>,
    pub merchant_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub store_id: Option<Option<String>>,
    /// #rrggbb
    pub primary_color: Option<String>,
    /// #rrggbb, the mock shop's page colour.
    pub background_color: Option<String>,
    /// data:image/(png|jpeg|webp|svg+xml);base64,… at most 200 KB.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub logo: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub greeting: Option<Option<String>>,
    /// data:image/(png|jpeg|webp);base64,… at most 3 MB.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub screenshot: Option<Option<String>>,
}

/// A data: URL split into its type and decoded bytes, if it is one of `types` within `max`.
pub(super) fn data_url(v: &str, types: &[&str], max: usize) -> Result<(String, Vec<u8>), String> {
    let rest = v.strip_prefix("data:").ok_or("must be a data: URL")?;
    let (mime, b64) = rest.split_once(";base64,").ok_or("must be a base64 data: URL")?;
    if !types.contains(&mime) {
        return Err(format!("must be one of {}", types.join(", ")));
    }
    if b64.len() > max / 3 * 4 + 8 {
        return Err(format!("must be at most {} KB", max / 1024));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| "is not valid base64".to_string())?;
    if bytes.len() > max {
        return Err(format!("must be at most {} KB", max / 1024));
    }
    // The bytes must be what the type says (no HTML smuggled in as an image).
    let ok = match mime {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/webp" => bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        "image/svg+xml" => {
            let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
            text.contains("<svg") && !text.contains("<script") && !text.contains("javascript:") && !has_event_handler(&text)
        }
        _ => false,
    };
    if !ok {
        return Err(format!("is not a valid {mime} image"));
    }
    Ok((mime.to_owned(), bytes))
}

/// Whether lower-cased markup has an `on…=` attribute.
fn has_event_handler(text: &str) -> bool {
    let b = text.as_bytes();
    (1..b.len().saturating_sub(2)).any(|i| {
        if !(b[i - 1].is_ascii_whitespace() || b[i - 1] == b'/') || &b[i..i + 2] != b"on" {
            return false;
        }
        let mut j = i + 2;
        while j < b.len() && b[j].is_ascii_alphabetic() {
            j += 1;
        }
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        j > i + 2 && b.get(j) == Some(&b'=')
    })
}

/// A readable, unguessable slug: the prospect's name in ASCII (transliterated: "Villa Röd
/// Interiör" → `villa-rod-interior`, "Αθήνα" → `athena`), then 12 random hex digits.
fn slug_for(name: &str) -> String {
    let mut base: String = deunicode::deunicode(name)
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while base.contains("--") {
        base = base.replace("--", "-");
    }
    let base: String = base.trim_matches('-').chars().take(30).collect();
    let token: String = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    if base.is_empty() {
        token
    } else {
        format!("{base}-{token}")
    }
}

/// Merge the request into the current fields (or defaults on create) and check everything.
async fn resolve(state: &AppState, req: DemoRequest, current: Option<&DemoRow>) -> ApiResult<(DemoFields, ScreenshotChange)> {
    let mut p = Problems::new();
    let f = DemoFields {
        prospect_name: req
            .prospect_name
            .map(|s| s.trim().to_owned())
            .or_else(|| current.map(|c| c.prospect_name.clone()))
            .unwrap_or_default(),
        website: match req.website {
            Some(w) => w.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
            None => current.and_then(|c| c.website.clone()),
        },
        merchant_id: req
            .merchant_id
            .map(|s| s.trim().to_owned())
            .or_else(|| current.map(|c| c.merchant_id.clone()))
            .unwrap_or_default(),
        store_id: match req.store_id {
            Some(s) => s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
            None => current.and_then(|c| c.store_id.clone()),
        },
        primary_color: req
            .primary_color
            .map(|c| c.trim().to_lowercase())
            .or_else(|| current.map(|c| c.primary_color.clone()))
            .unwrap_or_else(|| "#1f5f8b".into()),
        background_color: req
            .background_color
            .map(|c| c.trim().to_lowercase())
            .or_else(|| current.map(|c| c.background_color.clone()))
            .unwrap_or_else(|| "#ffffff".into()),
        logo: match req.logo {
            Some(l) => l.filter(|s| !s.is_empty()),
            None => current.and_then(|c| c.logo.clone()),
        },
        greeting: match req.greeting {
            Some(g) => g.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
            None => current.and_then(|c| c.greeting.clone()),
        },
    };
    p.check(!f.prospect_name.is_empty(), "prospect_name", "is required");
    p.text("prospect_name", &f.prospect_name, 100);
    if let Some(w) = &f.website {
        let ok = w.chars().count() <= 300 && url::Url::parse(w).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        p.check(ok, "website", "must be an http(s) URL");
    }
    p.check(valid_hex_color(&f.primary_color), "primary_color", "must be #rrggbb");
    p.check(valid_hex_color(&f.background_color), "background_color", "must be #rrggbb");
    if let Some(g) = &f.greeting {
        p.text("greeting", g, 300);
    }
    if let Some(l) = &f.logo {
        if let Err(e) = data_url(l, &["image/png", "image/jpeg", "image/webp", "image/svg+xml"], MAX_LOGO_BYTES) {
            p.add("logo", e);
        }
    }
    let shot = match req.screenshot {
        None => ScreenshotChange::Keep,
        Some(None) => ScreenshotChange::Remove,
        Some(Some(s)) => match data_url(&s, &["image/png", "image/jpeg", "image/webp"], MAX_SCREENSHOT_BYTES) {
            Ok((mime, bytes)) => ScreenshotChange::Set {
                base64: base64::engine::general_purpose::STANDARD.encode(bytes),
                mime,
            },
            Err(e) => {
                p.add("screenshot", e);
                ScreenshotChange::Keep
            }
        },
    };
    match MerchantId::parse(&f.merchant_id) {
        None => p.add("merchant_id", "unknown merchant"),
        Some(m) => match state.db.get_merchant(&m).await {
            Err(StorageError::NotFound) => p.add("merchant_id", "unknown merchant"),
            Err(e) => return Err(e.into()),
            Ok(_) => {
                if let Some(s) = &f.store_id {
                    let found = match StoreId::parse(s) {
                        Some(sid) => state.db.get_store(&m, &sid).await.is_ok(),
                        None => false,
                    };
                    p.check(found, "store_id", "not a store of this merchant");
                }
            }
        },
    }
    p.into_result().map_err(ApiError::Validation)?;
    Ok((f, shot))
}

#[utoipa::path(get, operation_id = "list_demos", path = "/demos", tag = "demo", params(PageQuery), responses((status = 200, body = Page<Demo>)), security(("session" = [])))]
async fn list(State(state): State<AppState>, _op: Operator, Query(q): Query<PageQuery>) -> ApiResult<Json<Page<Demo>>> {
    let page = state.db.list_demos(&q.request()?).await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(post, operation_id = "create_demo", path = "/demos", tag = "demo", request_body = DemoRequest,
    responses((status = 201, body = Demo), (status = 413, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("session" = [])))]
async fn create(State(state): State<AppState>, _op: Operator, JsonBody(req): JsonBody<DemoRequest>) -> ApiResult<(StatusCode, Json<Demo>)> {
    let (f, shot) = resolve(&state, req, None).await?;
    let id = uuid::Uuid::now_v7().to_string();
    let row = state.db.create_demo(&id, &slug_for(&f.prospect_name), &f, &shot, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

fn demo_id(s: &str) -> ApiResult<String> {
    uuid::Uuid::parse_str(s).map(|u| u.to_string()).map_err(|_| ApiError::NotFound)
}

#[utoipa::path(get, operation_id = "get_demo", path = "/demos/{demo_id}", tag = "demo", params(("demo_id" = String, Path)),
    responses((status = 200, body = Demo), (status = 404, body = super::error::Problem)), security(("session" = [])))]
async fn get_one(State(state): State<AppState>, _op: Operator, Path(id): Path<String>) -> ApiResult<Json<Demo>> {
    Ok(Json(state.db.get_demo(&demo_id(&id)?).await?.into()))
}

#[utoipa::path(patch, operation_id = "update_demo", path = "/demos/{demo_id}", tag = "demo", params(("demo_id" = String, Path)), request_body = DemoRequest,
    responses((status = 200, body = Demo), (status = 404, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("session" = [])))]
async fn update(
    State(state): State<AppState>,
    _op: Operator,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<DemoRequest>,
) -> ApiResult<Json<Demo>> {
    let current = state.db.get_demo(&demo_id(&id)?).await?;
    let (f, shot) = resolve(&state, req, Some(&current)).await?;
    Ok(Json(state.db.update_demo(&current.id, &f, &shot, now_ms()).await?.into()))
}

#[utoipa::path(delete, operation_id = "delete_demo", path = "/demos/{demo_id}", tag = "demo", params(("demo_id" = String, Path)),
    responses((status = 204), (status = 404, body = super::error::Problem)), security(("session" = [])))]
async fn delete(State(state): State<AppState>, _op: Operator, Path(id): Path<String>) -> ApiResult<StatusCode> {
    state.db.delete_demo(&demo_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::slug_for;

    fn base(name: &str) -> String {
        let s = slug_for(name);
        s[..s.len().saturating_sub(13)].to_owned()
    }

    #[test]
    fn slugs_transliterate_names_to_ascii() {
        assert_eq!(base("Villa Röd Interiör"), "villa-rod-interior");
        assert_eq!(base("Ærø Øl & Brød"), "aero-ol-brod");
        assert_eq!(base("Straße Åkersberga"), "strasse-akersberga");
        assert_eq!(base("Αθήνα Σπίτι"), "athena-spiti");
        assert_eq!(base("Žluťoučký kůň"), "zlutoucky-kun");
        assert_eq!(base("Crème brûlée, S.A."), "creme-brulee-s-a");
        // Nothing usable: the slug is the random part alone.
        let only = slug_for("★★★");
        assert_eq!(only.len(), 12, "{only}");
        assert!(only.bytes().all(|b| b.is_ascii_hexdigit()));
        // Long names are cut to 30 characters before the random part.
        assert!(base("Nordhem Home & Electronics of Greater Stockholm AB").len() <= 30);
    }
}
