//! A demo's public page, `/demo/<slug>`: the prospect's site (their screenshot, or a mock shop
//! in their colours) with the widget on it, and the demo's images. No credentials: the random
//! slug is the capability, so the answers are private, uncached and not for search engines.
//! The demos themselves are managed in [`super::demos`].

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;

use super::demos::{data_url, MAX_LOGO_BYTES};
use super::AppState;
use crate::ids::MerchantId;

/// The public pages (no credentials; the slug is the secret).
pub fn public_router() -> Router<AppState> {
    Router::new()
        .route("/demo/{slug}", get(page))
        .route("/demo/{slug}/screenshot", get(screenshot))
        .route("/demo/{slug}/logo", get(logo))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn private_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
}

async fn page(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let Ok(d) = state.db.demo_by_slug(&slug).await else {
        return (StatusCode::NOT_FOUND, "No such demo").into_response();
    };
    let name = esc(&d.prospect_name);
    let brand = match &d.logo {
        Some(_) => format!("<img class=\"logo\" src=\"/demo/{}/logo\" alt=\"{name}\">", esc(&d.slug)),
        None => format!("<span class=\"wordmark\">{name}</span>"),
    };
    let body = if d.has_screenshot != 0 {
        format!(
            "<main class=\"shot\"><img src=\"/demo/{}/screenshot\" alt=\"{name} — website\"></main>",
            esc(&d.slug)
        )
    } else {
        let items = [
            "Linen shirt",
            "Leather tote",
            "Desk lamp",
            "Wool throw",
            "Headphones",
            "Ceramic mug",
            "Trainers",
            "Watch",
        ];
        let prices = ["49", "129", "79", "89", "199", "19", "110", "240"];
        let cards: String = items
            .iter()
            .zip(prices)
            .enumerate()
            .map(|(i, (item, price))| {
                format!(
                    "<li class=\"card\"><div class=\"img\" style=\"--h:{}\"></div><h3>{item}</h3><p>€{price}</p></li>",
                    (i * 47) % 360
                )
            })
            .collect();
        format!(
            "<nav><a href=\"#\">New in</a><a href=\"#\">Women</a><a href=\"#\">Men</a><a href=\"#\">Home</a><a href=\"#\">Sale</a></nav>\
             <main><section class=\"hero\"><h1>{name}</h1><p>Talk to one of our store experts — live, from the shop floor.</p></section>\
             <ul class=\"grid\">{cards}</ul></main><footer>© {name}</footer>"
        )
    };
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{name} — Floorwalker demo</title>
<style>
:root {{ --brand: {primary}; --page: {background}; }}
* {{ box-sizing: border-box; }}
body {{ margin: 0; font: 16px/1.5 system-ui, sans-serif; background: var(--page); color: #1d1d1f; }}
header {{ display: flex; align-items: center; justify-content: space-between; gap: 1rem; padding: 1rem 1.5rem; background: #fff; border-block-end: 3px solid var(--brand); }}
.logo {{ max-block-size: 44px; max-inline-size: 200px; }}
.wordmark {{ font-weight: 700; font-size: 1.4rem; color: var(--brand); }}
.badge {{ font-size: .8rem; padding: .2rem .6rem; border-radius: 999px; background: var(--brand); color: #fff; }}
nav {{ display: flex; gap: 1.2rem; padding: .6rem 1.5rem; background: #fff; overflow-x: auto; }}
nav a {{ color: inherit; text-decoration: none; white-space: nowrap; }}
.hero {{ margin: 1.5rem; padding: 3rem 1.5rem; border-radius: 12px; color: #fff; background: linear-gradient(135deg, var(--brand), #222); }}
.hero h1 {{ margin: 0 0 .5rem; font-size: clamp(1.8rem, 5vw, 3rem); }}
.grid {{ list-style: none; display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: 1rem; margin: 0 1.5rem 2rem; padding: 0; }}
.card {{ background: #fff; border-radius: 10px; padding: .75rem; }}
.card .img {{ aspect-ratio: 1; border-radius: 8px; background: linear-gradient(160deg, hsl(var(--h) 40% 85%), hsl(var(--h) 35% 65%)); }}
.card h3 {{ font-size: 1rem; margin: .5rem 0 0; }} .card p {{ margin: 0; color: #555; }}
footer {{ padding: 2rem 1.5rem; color: #555; }}
.shot img {{ display: block; inline-size: 100%; block-size: auto; }}
</style></head>
<body><header>{brand}<span class="badge">Demo</span></header>{body}
<script async src="/widget.js" data-merchant="{merchant}" data-demo="{slug}"></script>
</body></html>"#,
        primary = esc(&d.primary_color),
        background = esc(&d.background_color),
        merchant = esc(&d.merchant_id),
        slug = esc(&d.slug),
    );
    let mut res = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    private_headers(&mut res);
    res.headers_mut()
        .insert("content-security-policy", HeaderValue::from_static(super::guard::PAGE_CSP));
    res
}

fn image(mime: &str, bytes: Vec<u8>) -> Response {
    let mut res = ([(header::CONTENT_TYPE, mime.to_owned())], bytes).into_response();
    private_headers(&mut res);
    // An SVG opened directly must not run anything.
    res.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    res
}

async fn screenshot(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    match state.db.demo_screenshot(&slug).await {
        Ok((b64, mime)) => match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(bytes) => image(&mime, bytes),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn logo(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let Ok(d) = state.db.demo_by_slug(&slug).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match d
        .logo
        .as_deref()
        .map(|l| data_url(l, &["image/png", "image/jpeg", "image/webp", "image/svg+xml"], MAX_LOGO_BYTES))
    {
        Some(Ok((mime, bytes))) => image(&mime, bytes),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The demo's look applied to a merchant's widget configuration (for `widget-config?demo=`).
pub async fn dress(
    state: &AppState,
    merchant: &MerchantId,
    slug: &str,
    display: &mut crate::domain::settings::DisplaySettings,
) -> Option<Option<String>> {
    let d = state.db.demo_by_slug(slug).await.ok()?;
    if d.merchant_id != merchant.as_str() {
        return None;
    }
    display.enabled = true;
    display.brand_name = d.prospect_name.clone();
    display.primary_color = d.primary_color.clone();
    display.hidden_paths.clear();
    if d.logo.is_some() {
        display.logo_url = Some(format!("/demo/{}/logo", d.slug));
    }
    if let Some(g) = &d.greeting {
        for v in display.greeting.values_mut() {
            *v = g.clone();
        }
        display
            .greeting
            .entry(display.default_language.clone())
            .or_insert_with(|| g.clone());
    }
    Some(d.store_id)
}
