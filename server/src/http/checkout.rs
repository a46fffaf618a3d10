//! Checkout settings (module Settings; docs/commerce.md): off, the hosted pay page, or the
//! shop's permalink, and discovering a shop's checkout endpoint.

use axum::extract::State;
use axum::http::header;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::modules::Settings;
use super::extract::{JsonBody, Merchant};
use super::AppState;
use crate::commerce::store::CheckoutSettings;
use crate::commerce::{money, permalink};
use crate::domain::Problems;
use crate::now_ms;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_checkout, put_checkout))
        .routes(routes!(discover_checkout))
}

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
