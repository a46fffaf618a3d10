//! Carts (docs/commerce.md): built and sent by an expert in the store app, read and accepted by
//! the shopper in the widget, read by the merchant (module Orders). Their analytics are in
//! [`super::cart_analytics`].

use crate::ids::ConversationId;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::modules::Orders;
use super::extract::{ApprovedExpert, JsonBody, Merchant};
use super::media_settings::ShopperAuth;
use super::AppState;
use crate::commerce::cart::{self, CartInput, ProductRef};
use crate::commerce::store::{CheckoutSettings, NewCart, OPEN_CART};
use crate::commerce::{self as cm, money, qr, refs, Cart};
use crate::domain::Problems;
use crate::ids::MerchantId;
use crate::storage::{AppendOutcome, NewMessage, Sender};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(preview_cart))
        .routes(routes!(send_cart, conversation_carts))
        .routes(routes!(expert_cart))
        .routes(routes!(cancel_cart))
        .routes(routes!(cart_qr))
        .routes(routes!(send_cart_link))
        .routes(routes!(widget_cart))
        .routes(routes!(accept_cart))
        .routes(routes!(merchant_cart))
}

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
    Path(conversation_id): Path<ConversationId>,
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
    let key = cm::key(&state.commerce()).await?;
    let (row, lines) = state.db.cart(m, &new.id).await?;
    let view = cm::view(&state.commerce(), &key, &row, &lines);
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
        cm::cart_fact(&state.commerce(), &row, "cart_sent").await;
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
    Path(conversation_id): Path<ConversationId>,
) -> ApiResult<Json<CartList>> {
    let m = &s.expert.merchant_id;
    state.db.chat_parties(m, &conversation_id).await?;
    let key = cm::key(&state.commerce()).await?;
    let items = state
        .db
        .conversation_carts(m, &conversation_id)
        .await?
        .iter()
        .map(|(r, l)| cm::view(&state.commerce(), &key, r, l))
        .collect();
    Ok(Json(CartList { items }))
}

#[utoipa::path(get, path = "/app/carts/{cart_id}", tag = "store_app", params(("cart_id" = String, Path)),
    responses((status = 200, body = Cart), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("expert_token" = [])))]
async fn expert_cart(State(state): State<AppState>, ApprovedExpert(s): ApprovedExpert, Path(id): Path<String>) -> ApiResult<Json<Cart>> {
    let (row, lines) = state.db.cart(&s.expert.merchant_id, &id).await?;
    let key = cm::key(&state.commerce()).await?;
    Ok(Json(cm::view(&state.commerce(), &key, &row, &lines)))
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
    cm::cart_status_line(&state.commerce(), m, &row, "cancelled", None).await;
    let key = cm::key(&state.commerce()).await?;
    Ok(Json(cm::view(&state.commerce(), &key, &row, &lines)))
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
    let key = cm::key(&state.commerce()).await?;
    let svg = qr::svg(&cm::pay_url(&state.commerce(), &key, &row.id)).map_err(ApiError::internal)?;
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
    let done = cm::send_link(&state.commerce(), m, &row, &lines, &req.channel, &to, false)
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
    let key = cm::key(&state.commerce()).await?;
    Ok(Json(cm::view(&state.commerce(), &key, &row, &lines)))
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
    let key = cm::key(&state.commerce()).await?;
    Ok(Json(cm::view(&state.commerce(), &key, &row, &lines)))
}

pub(super) async fn accept(state: &AppState, m: &MerchantId, row: &crate::commerce::store::CartRow) -> ApiResult<()> {
    if row.status != "quote" || row.expires_at <= state.commerce_clock.now() {
        return Err(ApiError::Conflict("this is not a quote that can still be accepted".into()));
    }
    if !state.db.set_cart_status(m, &row.id, &["quote"], "awaiting_payment", None).await? {
        return Err(ApiError::Conflict("this is not a quote that can still be accepted".into()));
    }
    cm::cart_status_line(&state.commerce(), m, row, "awaiting_payment", None).await;
    Ok(())
}

/// The full cart for the merchant's checkout: by the signed reference the checkout received,
/// or by id.
#[utoipa::path(get, path = "/carts/{cart_ref}", tag = "orders", params(("cart_ref" = String, Path, description = "a `cref_…` reference or a cart id")),
    responses((status = 200, body = Cart), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn merchant_cart(State(state): State<AppState>, m: Merchant<Orders>, Path(r): Path<String>) -> ApiResult<Json<Cart>> {
    let key = cm::key(&state.commerce()).await?;
    let id = if r.starts_with(refs::REF_PREFIX) {
        refs::check_cart_ref(&key, &r, state.commerce_clock.now()).ok_or(ApiError::NotFound)?
    } else {
        r
    };
    let (row, lines) = state.db.cart(&m.id, &id).await?;
    Ok(Json(cm::view(&state.commerce(), &key, &row, &lines)))
}
