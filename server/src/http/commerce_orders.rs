//! Module Orders (issue 22): orders with their handling stage, history and internal notes;
//! the accounting export.

use crate::ids::ConversationId;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::modules::Orders;
use super::extract::{Actor, JsonBody, Merchant, Query};
use super::AppState;
use crate::commerce::store::{OrderFilter, OrderHistoryEntry, OrderListRow, OrderNote, StageChange, STAGES};
use crate::commerce::{self as cm, money, Cart};
use crate::csv_table::{Chunk, Table};
use crate::domain::Problems;
use crate::ids::MerchantId;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders))
        .routes(routes!(order_detail))
        .routes(routes!(set_stage))
        .routes(routes!(add_note))
        .routes(routes!(export_orders))
}

/// An order in the Orders module.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderSummary {
    pub order_id: String,
    pub shopper_id: String,
    /// Decimal string.
    pub amount: String,
    pub currency: String,
    /// Payment status as reported: placed | paid | fulfilled | cancelled | refunded.
    pub status: String,
    /// Handling: new | in_progress | shipped | completed | cancelled | refunded.
    pub stage: String,
    pub placed_at: i64,
    pub updated_at: i64,
    #[schema(required = true)]
    pub conversation_id: Option<ConversationId>,
    #[schema(required = true)]
    pub store_id: Option<String>,
    #[schema(required = true)]
    pub expert_id: Option<String>,
    #[schema(required = true)]
    pub cart_id: Option<String>,
    #[schema(required = true)]
    pub carrier: Option<String>,
    #[schema(required = true)]
    pub tracking_number: Option<String>,
    #[schema(required = true)]
    pub tracking_url: Option<String>,
}

impl From<OrderListRow> for OrderSummary {
    fn from(r: OrderListRow) -> Self {
        OrderSummary {
            amount: money::format(r.amount_minor, &r.currency),
            order_id: r.order_id,
            shopper_id: r.shopper_id,
            currency: r.currency,
            status: r.status,
            stage: r.stage,
            placed_at: r.placed_at,
            updated_at: r.updated_at,
            conversation_id: r.conversation_id,
            store_id: r.store_id,
            expert_id: r.expert_id,
            cart_id: r.cart_id,
            carrier: r.carrier,
            tracking_number: r.tracking_number,
            tracking_url: r.tracking_url,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    pub stage: Option<String>,
    pub store_id: Option<String>,
    pub expert_id: Option<String>,
    /// Placed at or after (ms).
    pub from: Option<i64>,
    /// Placed before (ms).
    pub to: Option<i64>,
    /// Order id, Shopper ID or e-mail fragment, or an exact SKU.
    pub q: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderSummary>,
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

fn filter(q: &OrderQuery) -> ApiResult<OrderFilter> {
    let mut p = Problems::new();
    if let Some(s) = &q.stage {
        p.check(
            STAGES.contains(&s.as_str()),
            "stage",
            "new, in_progress, shipped, completed, cancelled or refunded",
        );
    }
    if q.q.as_deref().is_some_and(|s| s.chars().count() > 200) {
        p.add("q", "at most 200 characters");
    }
    p.into_result().map_err(ApiError::Validation)?;
    Ok(OrderFilter {
        stage: q.stage.clone(),
        store_id: q.store_id.clone(),
        expert_id: q.expert_id.clone(),
        from: q.from,
        to: q.to,
        q: q.q.clone(),
    })
}

fn cursor_of(r: &OrderListRow) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}.{}", r.placed_at, r.order_id))
}

fn parse_cursor(c: &str) -> Option<(i64, String)> {
    use base64::Engine as _;
    let raw = String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    let (at, id) = raw.split_once('.')?;
    Some((at.parse().ok()?, id.to_owned()))
}

#[utoipa::path(get, path = "/orders", tag = "orders", params(OrderQuery),
    responses((status = 200, body = OrderPage), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn list_orders(State(state): State<AppState>, m: Merchant<Orders>, Query(q): Query<OrderQuery>) -> ApiResult<Json<OrderPage>> {
    let f = filter(&q)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1–200"));
    }
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(parse_cursor(c).ok_or_else(|| ApiError::invalid("cursor", "not a cursor from this API"))?),
    };
    let mut rows = state.db.list_orders(&m.id, &f, after, i64::from(limit) + 1).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(cursor_of) } else { None };
    Ok(Json(OrderPage {
        items: rows.into_iter().map(OrderSummary::from).collect(),
        next_cursor,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    pub order: OrderSummary,
    /// The cart it was paid from (lines, totals), when it came from one.
    #[schema(required = true)]
    pub cart: Option<Cart>,
    pub history: Vec<OrderHistoryEntry>,
    /// Internal: never shown to the shopper.
    pub notes: Vec<OrderNote>,
}

async fn detail(state: &AppState, m: &MerchantId, order_id: &str) -> ApiResult<OrderDetail> {
    let h = state.db.order_handling(m, order_id).await?;
    let row = state.db.order_row(m, order_id).await?;
    let cart = match &h.cart_id {
        Some(id) => {
            let key = cm::key(&state.commerce()).await?;
            let (c, lines) = state.db.cart(m, id).await?;
            Some(cm::view(&state.commerce(), &key, &c, &lines))
        }
        None => None,
    };
    Ok(OrderDetail {
        order: row.into(),
        cart,
        history: state.db.order_history(m, order_id).await?,
        notes: state.db.order_notes(m, order_id).await?,
    })
}

#[utoipa::path(get, path = "/orders/{order_id}/detail", tag = "orders", params(("order_id" = String, Path)),
    responses((status = 200, body = OrderDetail), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn order_detail(State(state): State<AppState>, m: Merchant<Orders>, Path(id): Path<String>) -> ApiResult<Json<OrderDetail>> {
    Ok(Json(detail(&state, &m.id, &id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageInput {
    /// in_progress | shipped | completed | cancelled | refunded
    pub stage: String,
    /// Required for shipped.
    pub carrier: Option<String>,
    /// Required for shipped.
    pub tracking_number: Option<String>,
    /// https link the shopper can follow.
    pub tracking_url: Option<String>,
}

fn actor(a: &Actor) -> (&'static str, String) {
    match a {
        Actor::Account(id) => ("account", id.to_string()),
        Actor::ApiKey(id) => ("api_key", id.to_string()),
    }
}

/// Move an order along new → in_progress → shipped → completed (or cancelled / refunded from
/// any open stage). The chat thread gets an `order_status` line; webhooks get `order.updated`.
#[utoipa::path(post, path = "/orders/{order_id}/stage", tag = "orders", params(("order_id" = String, Path)), request_body = StageInput,
    responses((status = 200, body = OrderDetail), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the flow does not allow this step"), (status = 422, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn set_stage(
    State(state): State<AppState>,
    m: Merchant<Orders>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<StageInput>,
) -> ApiResult<Json<OrderDetail>> {
    let mut p = Problems::new();
    let clean = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let (carrier, number, url) = (clean(&req.carrier), clean(&req.tracking_number), clean(&req.tracking_url));
    p.check(
        STAGES.contains(&req.stage.as_str()) && req.stage != "new",
        "stage",
        "in_progress, shipped, completed, cancelled or refunded",
    );
    if req.stage == "shipped" {
        p.check(carrier.is_some(), "carrier", "required when shipped");
        p.check(number.is_some(), "tracking_number", "required when shipped");
    }
    for (f, v, max) in [("carrier", &carrier, 100), ("tracking_number", &number, 100)] {
        if v.as_deref()
            .is_some_and(|v| v.chars().count() > max || v.chars().any(char::is_control))
        {
            p.add(f, format!("at most {max} characters"));
        }
    }
    if let Some(u) = &url {
        p.check(
            u.starts_with("https://") && u.len() <= 1000 && url::Url::parse(u).is_ok(),
            "tracking_url",
            "must be an https:// URL",
        );
    }
    p.into_result().map_err(ApiError::Validation)?;
    let (kind, who) = actor(&m.actor);
    let h = state
        .db
        .set_order_stage(
            &m.id,
            &id,
            &StageChange {
                stage: &req.stage,
                carrier: carrier.as_deref(),
                tracking_number: number.as_deref(),
                tracking_url: url.as_deref(),
                actor_kind: kind,
                actor_id: Some(&who),
            },
        )
        .await?;
    if let Some(conv) = &h.conversation_id {
        let mut data = serde_json::json!({"order_id": h.order_id, "status": h.stage});
        if h.stage == "shipped" {
            data["carrier"] = h.carrier.clone().into();
            data["tracking_number"] = h.tracking_number.clone().into();
            data["tracking_url"] = h.tracking_url.clone().into();
        }
        cm::system_line(&state.commerce(), &m.id, conv, "order_status", data).await;
    }
    let d = detail(&state, &m.id, &id).await?;
    // The shopper's journey (GET /shoppers/{id}/journey) shows each step of the order.
    let step = crate::storage::Event {
        merchant_id: m.id.to_string(),
        kind: "order_stage",
        at: crate::now_ms(),
        shopper_id: Some(d.order.shopper_id.clone()),
        store_id: d.order.store_id.clone(),
        department_id: None,
        expert_id: d.order.expert_id.clone(),
        conversation_id: d.order.conversation_id.clone(),
        value: None,
        data_json: Some(
            serde_json::json!({
                "order_id": d.order.order_id, "stage": d.order.stage, "carrier": d.order.carrier,
                "tracking_number": d.order.tracking_number, "tracking_url": d.order.tracking_url,
            })
            .to_string(),
        ),
    };
    if let Err(e) = state.db.insert_events(&[step]).await {
        tracing::warn!(error = %e, "could not record an order step in the shopper's journey");
    }
    let event = crate::outbound::events::OrderData {
        order_id: d.order.order_id.clone(),
        shopper_id: d.order.shopper_id.clone(),
        status: d.order.status.clone(),
        amount: d.order.amount.clone(),
        currency: d.order.currency.clone(),
        conversation_id: d.order.conversation_id.clone(),
        expert_id: d.order.expert_id.clone(),
        stage: d.order.stage.clone(),
        carrier: d.order.carrier.clone(),
        tracking_number: d.order.tracking_number.clone(),
        tracking_url: d.order.tracking_url.clone(),
    };
    let item = crate::outbound::events::event(
        &m.id,
        crate::outbound::events::EventType::OrderUpdated,
        d.order.conversation_id.as_ref(),
        &event,
        state.outbound.timing().speedup,
    );
    if state.db.enqueue(&[item]).await.is_ok() {
        state.outbound.wake();
    }
    Ok(Json(d))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    /// 1–2000 characters; internal, never shown to the shopper. Also accepted as `text`.
    #[serde(alias = "text")]
    pub body: String,
}

#[utoipa::path(post, path = "/orders/{order_id}/notes", tag = "orders", params(("order_id" = String, Path)), request_body = NoteInput,
    responses((status = 201, body = OrderNote), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn add_note(
    State(state): State<AppState>,
    m: Merchant<Orders>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<NoteInput>,
) -> ApiResult<(StatusCode, Json<OrderNote>)> {
    let mut p = Problems::new();
    p.text("body", &req.body, 2000);
    p.into_result().map_err(ApiError::Validation)?;
    let (kind, who) = actor(&m.actor);
    Ok((
        StatusCode::CREATED,
        Json(state.db.add_order_note(&m.id, &id, kind, Some(&who), req.body.trim()).await?),
    ))
}

/// The columns of `orders/export.csv`. Every cell is formula-neutralised.
fn export_table() -> Table<OrderListRow> {
    Table::new(&[
        ("order_id", |r, c| c.safe(&r.order_id)),
        ("placed_at", |r, c| c.time(r.placed_at)),
        ("status", |r, c| c.safe(&r.status)),
        ("stage", |r, c| c.safe(&r.stage)),
        ("amount", |r, c| c.safe(&money::format(r.amount_minor, &r.currency))),
        ("currency", |r, c| c.safe(&r.currency)),
        ("shopper_id", |r, c| c.safe(&r.shopper_id)),
        ("store_id", |r, c| c.safe(r.store_id.as_deref().unwrap_or(""))),
        ("expert_id", |r, c| c.safe(r.expert_id.as_deref().unwrap_or(""))),
        ("conversation_id", |r, c| c.safe(r.conversation_id.as_deref().unwrap_or(""))),
        ("cart_id", |r, c| c.safe(r.cart_id.as_deref().unwrap_or(""))),
        ("carrier", |r, c| c.safe(r.carrier.as_deref().unwrap_or(""))),
        ("tracking_number", |r, c| c.safe(r.tracking_number.as_deref().unwrap_or(""))),
        ("updated_at", |r, c| c.time(r.updated_at)),
    ])
}

fn csv_chunk(table: &Table<OrderListRow>, rows: &[OrderListRow], header: bool) -> Result<Bytes, std::io::Error> {
    let mut out = Chunk::new();
    if header {
        out.header(table)?;
    }
    for r in rows {
        out.row(table, r)?;
    }
    out.finish().map(Bytes::from)
}

/// Orders for accounting as CSV (streamed page by page, formula-neutralised, `X-Row-Count`).
#[utoipa::path(get, path = "/orders/export.csv", tag = "orders", params(OrderQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn export_orders(State(state): State<AppState>, m: Merchant<Orders>, Query(q): Query<OrderQuery>) -> ApiResult<Response> {
    let f = filter(&q)?;
    let count = count_orders(&state, &m.id, &f).await?;
    let db = state.db.clone();
    let merchant = m.id.clone();
    let table = std::sync::Arc::new(export_table());
    let stream = futures::stream::unfold(Some((None::<(i64, String)>, true)), move |st| {
        let table = table.clone();
        let db = db.clone();
        let merchant = merchant.clone();
        let f = f.clone();
        async move {
            let (after, first) = st?;
            let rows = match db.list_orders(&merchant, &f, after, 2000).await {
                Ok(r) => r,
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), None)),
            };
            let next = rows.last().map(|r| (r.placed_at, r.order_id.clone()));
            let chunk = csv_chunk(&table, &rows, first);
            let more = rows.len() == 2000;
            Some((chunk, if more { Some((next, false)) } else { None }))
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"floorwalker-orders.csv\"".to_owned(),
            ),
            (header::HeaderName::from_static("x-row-count"), count.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn count_orders(state: &AppState, m: &MerchantId, f: &OrderFilter) -> ApiResult<usize> {
    // The same filter as the stream (a count query would have to repeat it word for word).
    let mut n = 0;
    let mut after = None;
    loop {
        let rows = state.db.list_orders(m, f, after, 5000).await?;
        n += rows.len();
        if rows.len() < 5000 {
            return Ok(n);
        }
        after = rows.last().map(|r| (r.placed_at, r.order_id.clone()));
    }
}
