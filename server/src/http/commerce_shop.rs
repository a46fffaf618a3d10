//! The demo's sample shop playing the merchant's side of issue 22 (demo mode only):
//! `/.well-known/ucp` declares a permalink endpoint, `/shop/buy/{items}` fills the shop's cart
//! page, and `/shop/checkout` is a test checkout that "pays" and reports the order to
//! Floorwalker over the public API with an API key of its own — exactly what a merchant's
//! server does, over HTTP, so the demo exercises the real interfaces.

use std::sync::OnceLock;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;

use super::AppState;
use crate::commerce::permalink;
use crate::ids::MerchantId;
use crate::storage::PageRequest;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/.well-known/ucp", axum::routing::get(well_known))
        .route("/shop/buy/{items}", axum::routing::get(buy))
        .route("/shop/checkout", axum::routing::get(checkout_page).post(pay))
}

/// The sample shop's API key per demo merchant (made on first use; the secret is only ever in
/// this process's memory, like a merchant's server keeps its key in its own config).
fn keys() -> &'static dashmap::DashMap<String, String> {
    static KEYS: OnceLock<dashmap::DashMap<String, String>> = OnceLock::new();
    KEYS.get_or_init(Default::default)
}

async fn demo_merchant(state: &AppState) -> Option<MerchantId> {
    if !state.config.demo {
        return None;
    }
    state
        .db
        .list_merchants(&PageRequest::first(200))
        .await
        .ok()?
        .items
        .into_iter()
        .find(|m| m.name == crate::demo::DEMO_MERCHANT_NAME)
        .map(|m| m.id)
}

async fn shop_key(state: &AppState, m: &MerchantId) -> Option<String> {
    if let Some(k) = keys().get(m.as_str()) {
        return Some(k.clone());
    }
    let secret = crate::auth::new_token(crate::auth::API_KEY_PREFIX);
    let prefix: String = secret.chars().take(10).collect();
    state
        .db
        .create_api_key(m, "Sample shop (demo)", &prefix, &crate::auth::token_hash(&secret))
        .await
        .ok()?;
    keys().insert(m.to_string(), secret.clone());
    Some(secret)
}

async fn well_known(State(state): State<AppState>) -> Response {
    if demo_merchant(&state).await.is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let endpoint = format!("{}/shop/buy", state.outbound.public_url());
    Json(serde_json::json!({
        "ucp": {
            "version": "2026-01-11",
            "capabilities": {
                permalink::CAPABILITY: [{
                    "version": "2026-01-11",
                    "spec": "https://ucp.dev/2026-01-11/specification/permalink",
                    "schema": "https://ucp.dev/2026-01-11/schemas/shopping/permalink.json",
                    "config": {"endpoint": endpoint}
                }]
            }
        }
    }))
    .into_response()
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Nordhem · {{ title }}</title><link rel="stylesheet" href="/shop/shop.css">
<style>main{max-width:40rem;margin:1rem auto;padding:0 1rem}table{width:100%;border-collapse:collapse}td{padding:.4rem 0;border-bottom:1px solid #8884}td.num{text-align:end}button{padding:.8rem 1.2rem;font-size:1rem;margin-top:1rem}</style>
</head><body><main>
<h1>{{ title }}</h1>
{% if message %}<p id="shop-message">{{ message }}</p>{% endif %}
{% if lines %}
<table id="shop-cart">
{% for l in lines %}<tr><td>{{ l.quantity }} × {{ l.name }}</td><td class="num">{{ l.total }} {{ currency }}</td></tr>{% endfor %}
<tr><td><strong>Total</strong></td><td class="num"><strong id="shop-total">{{ total }} {{ currency }}</strong></td></tr>
</table>
{% if email %}<p>Receipt to {{ email }}</p>{% endif %}
<form method="post" action="/shop/checkout">
<input type="hidden" name="cart_ref" value="{{ cart_ref }}">
<button type="submit" id="shop-pay">Pay now (test card)</button>
</form>
{% endif %}
<p><a href="/shop/">Back to the shop</a></p>
</main></body></html>"#;

struct ShopLine {
    quantity: i64,
    name: String,
    total: String,
}

fn render(
    title: &str,
    message: Option<&str>,
    lines: &[ShopLine],
    total: &str,
    currency: &str,
    cart_ref: &str,
    email: Option<&str>,
) -> Response {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("page", PAGE).expect("the shop page parses");
    let lines: Vec<_> = lines
        .iter()
        .map(|l| minijinja::context! { quantity => l.quantity, name => l.name, total => l.total })
        .collect();
    let html = env
        .get_template("page")
        .and_then(|t| t.render(minijinja::context! { title, message, lines, total, currency, cart_ref, email }))
        .unwrap_or_else(|_| "<!doctype html><p>Something went wrong.</p>".into());
    ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// `GET /shop/buy/{items}?buyer/email=…&attribution/floorwalker_cart=…`: the permalink fills
/// the shop's cart from its own catalogue.
async fn buy(State(state): State<AppState>, Path(items): Path<String>, Query(q): Query<Vec<(String, String)>>) -> Response {
    let Some(m) = demo_merchant(&state).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(pairs) = permalink::parse_items(&items) else {
        return render(
            "Your cart",
            Some("That link does not name products this shop sells."),
            &[],
            "",
            "",
            "",
            None,
        );
    };
    let param = |name: &str| q.iter().find(|(k, _)| k.trim_start_matches('/') == name).map(|(_, v)| v.clone());
    let mut lines = Vec::new();
    let mut total = 0;
    let mut currency = String::from("SEK");
    for (sku, qty) in pairs {
        let Ok(p) = state.db.product_by_sku(&m, &sku).await else {
            return render("Your cart", Some("A product in that link is not sold here."), &[], "", "", "", None);
        };
        let minor = crate::commerce::money::parse(&p.price, &p.currency).unwrap_or(0) * i64::from(qty);
        total += minor;
        currency = p.currency.clone();
        lines.push(ShopLine {
            quantity: i64::from(qty),
            name: p.name,
            total: crate::commerce::money::format(minor, &currency),
        });
    }
    let cart_ref = param("attribution/floorwalker_cart").unwrap_or_default();
    let email = param("buyer/email");
    render(
        "Your cart",
        None,
        &lines,
        &crate::commerce::money::format(total, &currency),
        &currency,
        &cart_ref,
        email.as_deref(),
    )
}

#[derive(Deserialize)]
struct CheckoutQuery {
    floorwalker_cart: Option<String>,
}

/// The cart behind a reference, read as the merchant's server does: `GET /api/v1/carts/{ref}`.
async fn read_cart(state: &AppState, key: &str, cart_ref: &str) -> Option<serde_json::Value> {
    let url = format!("{}/api/v1/carts/{cart_ref}", state.outbound.public_url());
    let res = reqwest::Client::new().get(url).bearer_auth(key).send().await.ok()?;
    if !res.status().is_success() {
        return None;
    }
    res.json().await.ok()
}

fn lines_of(cart: &serde_json::Value) -> Vec<ShopLine> {
    cart["lines"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| ShopLine {
                    quantity: l["quantity"].as_i64().unwrap_or(0),
                    name: l["name"].as_str().unwrap_or("").to_owned(),
                    total: l["line_total"].as_str().unwrap_or("").to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /shop/checkout?floorwalker_cart=cref_…`: the hosted link's hand-off.
async fn checkout_page(State(state): State<AppState>, Query(q): Query<CheckoutQuery>) -> Response {
    let Some(m) = demo_merchant(&state).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(key) = shop_key(&state, &m).await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let cart_ref = q.floorwalker_cart.unwrap_or_default();
    match read_cart(&state, &key, &cart_ref).await {
        Some(cart) => render(
            "Checkout",
            None,
            &lines_of(&cart),
            cart["total"].as_str().unwrap_or(""),
            cart["currency"].as_str().unwrap_or(""),
            &cart_ref,
            None,
        ),
        None => render(
            "Checkout",
            Some("This cart has expired or was already paid."),
            &[],
            "",
            "",
            "",
            None,
        ),
    }
}

#[derive(Deserialize)]
struct PayForm {
    cart_ref: String,
}

/// The test payment: always succeeds, then reports the order with the cart reference.
async fn pay(State(state): State<AppState>, Form(f): Form<PayForm>) -> Response {
    let Some(m) = demo_merchant(&state).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(key) = shop_key(&state, &m).await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let Some(cart) = read_cart(&state, &key, &f.cart_ref).await else {
        return render(
            "Checkout",
            Some("This cart has expired or was already paid."),
            &[],
            "",
            "",
            "",
            None,
        );
    };
    let order_id = format!("NH-{}", &uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase());
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/orders", state.outbound.public_url()))
        .bearer_auth(&key)
        .json(&serde_json::json!({
            "order_id": order_id, "cart_ref": f.cart_ref, "amount": cart["total"], "currency": cart["currency"], "status": "paid"
        }))
        .send()
        .await;
    match res {
        Ok(r) if r.status().is_success() => render(
            "Thank you!",
            Some(&format!("Order {order_id} is paid. Your expert sees it in the chat.")),
            &[],
            "",
            "",
            "",
            None,
        ),
        _ => render(
            "Checkout",
            Some("The payment could not be recorded; please try again."),
            &[],
            "",
            "",
            "",
            None,
        ),
    }
}
