//! The hosted pay page, `/pay/{token}` (outside the API: a page for people): the cart or quote
//! the expert sent, and "Pay", which continues to the merchant's checkout. In the shopper's
//! language — the browser's (`Accept-Language`), else the one their chat was in, else English
//! — right to left where that language is; the strings are the mail catalogue's (`pay.*`).

use crate::ids::ConversationId;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::carts::accept;
use super::AppState;
use crate::commerce::store::OPEN_CART;
use crate::commerce::{self as cm, cart, permalink, refs, Cart};
use crate::ids::MerchantId;
use crate::outbound::mail::{self, Branding};

pub fn pay_router() -> axum::Router<AppState> {
    axum::Router::new().route("/pay/{token}", axum::routing::get(pay_page).post(pay_continue))
}

const PAY_PAGE: &str = r#"<!doctype html>
<html lang="{{ lang }}" dir="{{ dir }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">
<title>{{ brand.name }} · {{ title }}</title>
<style>
:root { color-scheme: light dark; --brand: {{ brand.color }}; --on-brand: {{ brand.text_color }}; }
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; padding: 1rem; max-width: 40rem; margin-inline: auto; }
header { display: flex; align-items: center; gap: .75rem; margin-bottom: 1rem; }
header img { max-height: 40px; }
h1 { font-size: 1.5rem; margin: 0; }
table { width: 100%; border-collapse: collapse; }
td { padding: .5rem 0; border-bottom: 1px solid #8884; vertical-align: top; }
td + td { padding-inline-start: .75rem; }
td.num { text-align: end; white-space: nowrap; }
s { opacity: .6; }
.total td { font-weight: 700; border-bottom: 0; }
.vat td { font-size: .875rem; opacity: .8; border-bottom: 0; padding: 0; }
button { width: 100%; padding: .875rem; font: inherit; font-size: 1.125rem; font-weight: 600; border: 0; border-radius: .5rem; background: var(--brand); color: var(--on-brand); cursor: pointer; margin-top: 1rem; }
button:focus-visible { outline: 3px solid currentColor; outline-offset: 3px; }
.note { font-size: .875rem; opacity: .8; }
</style></head>
<body>
<header>{% if brand.logo_url %}<img src="{{ brand.logo_url }}" alt="">{% endif %}<h1>{{ brand.name }}</h1></header>
<main>
{% if gone %}
<p>{{ gone }}</p>
{% else %}
<h2>{{ title }}</h2>
<table>
{% for l in cart.lines %}<tr><td>{{ l.quantity }} × {{ l.name }}{% if l.sku %}<br><span class="note">{{ l.sku }}</span>{% endif %}</td>
<td class="num">{% if l.original_unit_price %}<s>{{ l.original_unit_price }}</s><br>{% endif %}{{ l.unit_price }}</td><td class="num">{{ l.line_total }} {{ cart.currency }}</td></tr>
{% endfor %}
<tr class="total"><td>{{ total }}</td><td></td><td class="num">{{ cart.total }} {{ cart.currency }}</td></tr>
{% for v in cart.vat %}<tr class="vat"><td>{{ vat_label(v.rate) }}</td><td></td><td class="num">{{ v.vat }} {{ cart.currency }}</td></tr>{% endfor %}
</table>
{% if quote_until %}<p class="note">{{ quote_until }}</p>{% endif %}
<form method="post"><button type="submit">{{ button }}</button></form>
<p class="note">{{ continue_note }}</p>
{% endif %}
</main>
</body></html>"#;

/// The language for a page: the first of the browser's languages (by `q`) that we speak, else
/// the shopper's chat language, else English.
pub fn page_language(headers: &HeaderMap, chat: Option<&str>) -> &'static str {
    let mut wanted: Vec<(f32, usize, &str)> = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut bits = part.split(';');
            let tag = bits.next()?.trim();
            let q = bits
                .find_map(|b| b.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (!tag.is_empty() && tag != "*" && q > 0.0).then_some((q, i, tag))
        })
        .collect();
    wanted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    wanted
        .iter()
        .find_map(|(_, _, tag)| mail::supported_language(tag))
        .or_else(|| chat.and_then(mail::supported_language))
        .unwrap_or("en")
}

fn render_pay(lang: &str, brand: &Branding, cart: Option<&Cart>, gone: Option<&str>) -> String {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("pay.html", PAY_PAGE).expect("the pay page parses");
    let l = lang.to_owned();
    env.add_function("vat_label", move |rate: String| mail::text(&l, "pay.vat", &[("rate", &rate)]));
    let t = |key: &str| mail::text(lang, key, &[("brand", &brand.name)]);
    let quote = cart.is_some_and(|c| c.status.as_deref() == Some("quote"));
    let quote_until = cart
        .and_then(|c| c.quote_valid_until)
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|d| mail::text(lang, "pay.quote_until", &[("date", &d.format("%Y-%m-%d").to_string())]));
    env.get_template("pay.html")
        .and_then(|tpl| {
            tpl.render(minijinja::context! {
                lang => lang,
                dir => if mail::right_to_left(lang) { "rtl" } else { "ltr" },
                brand => minijinja::context! { name => brand.name, color => brand.color, text_color => brand.text_color, logo_url => brand.logo_url },
                cart => cart,
                gone => gone,
                title => t(if quote { "pay.title_quote" } else { "pay.title_cart" }),
                button => t(if quote { "pay.accept" } else { "pay.pay" }),
                total => t("pay.total"),
                continue_note => t("pay.continue"),
                quote_until => quote_until,
            })
        })
        .unwrap_or_else(|_| "<!doctype html><p>Something went wrong.</p>".into())
}

/// Why a pay link leads nowhere (each says so in plain words; all answer 404).
enum Gone {
    /// Not a link this server made (or the cart is gone).
    Unknown,
    /// Past its time (or its quote's date), whether or not the lapse job got to it yet.
    Expired(MerchantId, Option<String>),
    Paid(MerchantId, Option<String>),
    /// Cancelled, or replaced by a newer cart.
    Withdrawn(MerchantId, Option<String>),
}

/// The language of the chat a cart was sent in, if the widget told us.
async fn chat_language(state: &AppState, m: &MerchantId, conversation: &ConversationId) -> Option<String> {
    state.db.reach(m, conversation).await.ok().and_then(|r| r.shopper_locale)
}

/// The cart behind a pay token, if it can still be paid.
async fn payable(state: &AppState, token: &str) -> Result<(MerchantId, crate::commerce::store::CartRow, Vec<cart::Line>), Gone> {
    let key = cm::key(&state.commerce()).await.map_err(|_| Gone::Unknown)?;
    let id = refs::check_pay_token(&key, token).ok_or(Gone::Unknown)?;
    let (row, lines) = state.db.cart_any(&id).await.map_err(|_| Gone::Unknown)?;
    let m = MerchantId::from_db(row.merchant_id.clone());
    let closed: Option<fn(MerchantId, Option<String>) -> Gone> = match row.status.as_str() {
        "paid" => Some(Gone::Paid),
        "expired" => Some(Gone::Expired),
        s if !OPEN_CART.contains(&s) => Some(Gone::Withdrawn),
        _ if row.expires_at <= state.commerce_clock.now() => Some(Gone::Expired),
        _ => None,
    };
    if let Some(gone) = closed {
        let chat = chat_language(state, &m, &row.conversation_id).await;
        return Err(gone(m, chat));
    }
    Ok((m, row, lines))
}

fn page(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::VARY, "Accept-Language"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; form-action *; base-uri 'none'; frame-ancestors 'none'",
            ),
        ],
        Html(html),
    )
        .into_response()
}

async fn gone_page(state: &AppState, headers: &HeaderMap, why: Gone) -> Response {
    let (m, chat, key) = match why {
        Gone::Unknown => (None, None, "pay.gone_unknown"),
        Gone::Expired(m, c) => (Some(m), c, "pay.gone_expired"),
        Gone::Paid(m, c) => (Some(m), c, "pay.gone_paid"),
        Gone::Withdrawn(m, c) => (Some(m), c, "pay.gone_withdrawn"),
    };
    let lang = page_language(headers, chat.as_deref());
    let brand = match &m {
        Some(m) => state.outbound.branding(m).await.ok(),
        None => None,
    };
    let brand = brand.unwrap_or(Branding {
        name: "Floorwalker".into(),
        color: "#1f2937".into(),
        text_color: "#ffffff".into(),
        logo_url: None,
    });
    let text = mail::text(lang, key, &[]);
    page(StatusCode::NOT_FOUND, render_pay(lang, &brand, None, Some(&text)))
}

async fn pay_page(State(state): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    match payable(&state, &token).await {
        Ok((m, row, lines)) => {
            let key = match cm::key(&state.commerce()).await {
                Ok(k) => k,
                Err(_) => return gone_page(&state, &headers, Gone::Unknown).await,
            };
            let view = cm::view(&state.commerce(), &key, &row, &lines);
            let lang = page_language(&headers, chat_language(&state, &m, &row.conversation_id).await.as_deref());
            match state.outbound.branding(&m).await {
                Ok(brand) => page(StatusCode::OK, render_pay(lang, &brand, Some(&view), None)),
                Err(_) => gone_page(&state, &headers, Gone::Unknown).await,
            }
        }
        Err(why) => gone_page(&state, &headers, why).await,
    }
}

/// Where "Pay" continues: the merchant's checkout with a signed cart reference (hosted), or
/// the UCP permalink.
pub async fn checkout_target(
    state: &AppState,
    m: &MerchantId,
    row: &crate::commerce::store::CartRow,
    lines: &[cart::Line],
) -> Option<String> {
    let settings = state.db.checkout_settings(m).await.ok()?;
    let key = cm::key(&state.commerce()).await.ok()?;
    let cref = refs::cart_ref(&key, &row.id, row.expires_at);
    match row.checkout_mode.as_str() {
        "permalink" => {
            let endpoint = settings.permalink_endpoint?;
            let items: Vec<(&str, i64)> = lines.iter().filter_map(|l| l.sku.as_deref().map(|s| (s, l.quantity))).collect();
            let email = match crate::ids::ShopperId::parse(&row.shopper_id) {
                Some(id) => state.db.get_shopper(m, &id).await.ok().and_then(|s| s.email),
                None => None,
            };
            let mut q: Vec<(&str, &str)> = Vec::new();
            if let Some(e) = email.as_deref() {
                q.push(("buyer/email", e));
            }
            q.push(("attribution/utm_source", "floorwalker"));
            q.push(("attribution/utm_medium", "chat"));
            q.push(("attribution/floorwalker_cart", &cref));
            Some(permalink::build(&endpoint, &items, &q))
        }
        _ => {
            let mut base = settings.checkout_url?;
            if base.starts_with('/') {
                // The demo's sample shop lives on this server.
                base = format!("{}{base}", state.outbound.public_url());
            }
            let sep = if base.contains('?') { '&' } else { '?' };
            Some(format!("{base}{sep}floorwalker_cart={cref}"))
        }
    }
}

async fn pay_continue(State(state): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let (m, row, lines) = match payable(&state, &token).await {
        Ok(x) => x,
        Err(why) => return gone_page(&state, &headers, why).await,
    };
    if row.status == "quote" && accept(&state, &m, &row).await.is_err() {
        let chat = chat_language(&state, &m, &row.conversation_id).await;
        return gone_page(&state, &headers, Gone::Expired(m, chat)).await;
    }
    match checkout_target(&state, &m, &row, &lines).await {
        Some(url) => Redirect::to(&url).into_response(),
        None => {
            let chat = chat_language(&state, &m, &row.conversation_id).await;
            let lang = page_language(&headers, chat.as_deref());
            match state.outbound.branding(&m).await {
                Ok(b) => page(
                    StatusCode::CONFLICT,
                    render_pay(lang, &b, None, Some(&mail::text(lang, "pay.no_checkout", &[]))),
                ),
                Err(_) => gone_page(&state, &headers, Gone::Unknown).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, accept.parse().unwrap());
        h
    }

    #[test]
    fn the_page_speaks_the_browsers_language_else_the_chats() {
        assert_eq!(page_language(&with("sv-SE,sv;q=0.9,en;q=0.8"), None), "sv");
        assert_eq!(
            page_language(&with("ja, fa;q=0.5, de;q=0.7"), None),
            "de",
            "by q, skipping what we do not speak"
        );
        assert_eq!(page_language(&with("ja, *;q=0.1"), Some("el")), "el", "nothing spoken: the chat's");
        assert_eq!(page_language(&with("cs;q=0"), Some("fa-IR")), "fa", "q=0 means not this one");
        assert_eq!(page_language(&HeaderMap::new(), None), "en");
    }
}
