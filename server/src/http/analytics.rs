//! Module Analytics: figures from the rollups, what is happening now, and the orders that
//! feed sales attribution.

use crate::ids::ConversationId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult};
use super::extract::{modules::Analytics, JsonBody, Merchant, Query};
use super::AppState;
use chrono_tz::Tz;

use crate::analytics::report::{Grain, Report, Selection};
use crate::analytics::stats::{format_minor, parse_amount};
use crate::analytics::zone::{self, Plan, RollGrain};
use crate::domain::hours::parse_timezone;
use crate::domain::Problems;
use crate::ids::{MerchantId, ShopperId};
use crate::now_ms;
use crate::storage::{LiveStore, NewOrder, OrderOutcome, OrderRow, RollupFilter, RollupRow};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_analytics))
        .routes(routes!(get_live))
        .routes(routes!(post_order))
        .routes(routes!(get_order))
}

/// A time given as ms since the epoch or as RFC 3339.
pub fn parse_time(field: &str, v: &str) -> Result<i64, ApiError> {
    let v = v.trim();
    if let Ok(ms) = v.parse::<i64>() {
        if (0..=253_402_300_799_000).contains(&ms) {
            return Ok(ms);
        }
    } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp_millis());
    }
    Err(ApiError::invalid(field, "must be ms since the epoch or an RFC 3339 time"))
}

/// As [`parse_time`], or a date `YYYY-MM-DD`: the start of that day in `tz`.
pub fn parse_time_in(field: &str, v: &str, tz: Tz) -> Result<i64, ApiError> {
    let t = v.trim();
    if t.len() == 10 && t.as_bytes()[4] == b'-' {
        return chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .filter(|d| (1970..=9999).contains(&chrono::Datelike::year(d)))
            .map(|d| zone::day_start(tz, d))
            .ok_or_else(|| ApiError::invalid(field, "must be a date YYYY-MM-DD, ms since the epoch or an RFC 3339 time"));
    }
    parse_time(field, v).map_err(|_| ApiError::invalid(field, "must be a date YYYY-MM-DD, ms since the epoch or an RFC 3339 time"))
}

/// The time zone a merchant's figures are cut in when the request names none: the report time
/// zone of Settings → Routing, else the zone of the merchant's first store, else UTC.
pub async fn merchant_zone(state: &AppState, m: &MerchantId) -> Tz {
    if let Some(z) = state
        .hub
        .merchant(m)
        .await
        .and_then(|s| s.routing.report_timezone.as_deref().and_then(parse_timezone))
    {
        return z;
    }
    state
        .hub
        .stores(m)
        .await
        .and_then(|all| all.first().and_then(|s| parse_timezone(&s.timezone)))
        .unwrap_or(Tz::UTC)
}

/// The range and dimension filters shared by analytics and exports.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Start (ms since the epoch or RFC 3339); default 24 hours before `to`.
    pub from: Option<String>,
    /// End, exclusive (ms or RFC 3339); default now.
    pub to: Option<String>,
    /// minute | hour | day; default chosen from the range.
    pub grain: Option<String>,
    pub store_id: Option<String>,
    pub department_id: Option<String>,
    pub expert_id: Option<String>,
    /// IANA time zone whose days and hours the figures are cut in (and in which dates in
    /// `from`/`to` start); default the merchant's report time zone (Settings → Routing), else
    /// their first store's, else UTC.
    pub tz: Option<String>,
}

/// Longest range a query may cover.
pub const MAX_RANGE_MS: i64 = 400 * 86_400_000;

impl RangeQuery {
    /// The zone: the request's `tz`, else the merchant's.
    pub async fn zone(&self, state: &AppState, m: &MerchantId) -> Result<Tz, ApiError> {
        match self.tz.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(name) => parse_timezone(name).ok_or_else(|| ApiError::invalid("tz", "must be an IANA time zone such as Europe/Stockholm")),
            None => Ok(merchant_zone(state, m).await),
        }
    }

    pub fn range(&self, tz: Tz) -> Result<(i64, i64), ApiError> {
        let to = match &self.to {
            Some(t) => parse_time_in("to", t, tz)?,
            None => now_ms(),
        };
        let from = match &self.from {
            Some(f) => parse_time_in("from", f, tz)?,
            None => to - 86_400_000,
        };
        if from >= to {
            return Err(ApiError::invalid("from", "must be before `to`"));
        }
        if to - from > MAX_RANGE_MS {
            return Err(ApiError::invalid("from", "the range may span at most 400 days"));
        }
        Ok((from, to))
    }

    /// The filter, with ids checked for shape (an id of another merchant simply matches nothing).
    pub fn filter(&self, from: i64, to: i64) -> Result<RollupFilter, ApiError> {
        let id = |field: &str, v: &Option<String>| -> Result<Option<String>, ApiError> {
            match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) if s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {
                    Ok(Some(s.to_owned()))
                }
                Some(_) => Err(ApiError::invalid(field, "not an id")),
            }
        };
        Ok(RollupFilter {
            from,
            to,
            store_id: id("store_id", &self.store_id)?,
            department_id: id("department_id", &self.department_id)?,
            expert_id: id("expert_id", &self.expert_id)?,
        })
    }

    pub fn selection(&self, allowed: &[Grain], tz: Tz) -> Result<Selection, ApiError> {
        let (from, to) = self.range(tz)?;
        let grain = match self.grain.as_deref() {
            None | Some("") => {
                let g = Grain::auto(from, to);
                if allowed.contains(&g) {
                    g
                } else {
                    allowed[0]
                }
            }
            Some(g) => Grain::parse(g)
                .filter(|g| allowed.contains(g))
                .ok_or_else(|| ApiError::invalid("grain", "not a grain this report offers"))?,
        };
        // Checked on the range first: cutting a 400-day range into minutes would take a while.
        if (to - from) / grain.width_ms() > grain.max_buckets() + 2 {
            return Err(ApiError::invalid(
                "grain",
                "too many buckets for this range; choose a coarser grain",
            ));
        }
        let sel = Selection::new(grain, from, to, self.filter(from, to)?, now_ms(), tz);
        if sel.len() as i64 > grain.max_buckets() {
            return Err(ApiError::invalid(
                "grain",
                "too many buckets for this range; choose a coarser grain",
            ));
        }
        Ok(sel)
    }
}

/// The rollup rows a selection's periods are made of (see `analytics::zone`), with the plan
/// that says which period each adds to or is taken from.
pub async fn plan_rows(state: &AppState, m: &MerchantId, sel: &Selection) -> ApiResult<(Plan, Vec<(RollGrain, RollupRow)>)> {
    let plan = sel.plan(state.db.grain_since("quarter").await?);
    let mut rows = Vec::new();
    for (grain, buckets) in plan.wanted() {
        rows.extend(
            state
                .db
                .rollup_rows_in(m, grain.as_str(), &buckets, &sel.filter)
                .await?
                .into_iter()
                .map(|r| (grain, r)),
        );
    }
    Ok((plan, rows))
}

pub async fn report(state: &AppState, m: &MerchantId, sel: &Selection) -> ApiResult<Report> {
    let (plan, rows) = plan_rows(state, m, sel).await?;
    let names = state.db.dimension_names(m).await?;
    let currencies = state.db.order_currencies(m, sel.filter.from, sel.filter.to).await?;
    Ok(sel.report(&plan, &rows, &names, currencies))
}

/// Figures for a date range: totals, a zero-filled time series, per expert and per store.
/// Computed from the same rollups as `metrics.csv`.
#[utoipa::path(get, path = "/analytics", tag = "analytics", params(RangeQuery),
    responses((status = 200, body = Report), (status = 422, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn get_analytics(State(state): State<AppState>, m: Merchant<Analytics>, Query(q): Query<RangeQuery>) -> ApiResult<Json<Report>> {
    let tz = q.zone(&state, &m.id).await?;
    let sel = q.selection(&[Grain::Minute, Grain::Hour, Grain::Day], tz)?;
    Ok(Json(report(&state, &m.id, &sel).await?))
}

/// What is happening now, cluster-wide from the database and from this node's experts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Live {
    pub at: i64,
    /// Chats waiting for an expert.
    pub waiting: i64,
    /// Chats an expert is in.
    pub active: i64,
    /// Experts able to take a chat now: switched to available, working a store and one of its
    /// departments, and below their chat cap.
    pub experts_available: i64,
    /// Experts switched to available and working a store, busy or not.
    pub experts_online: i64,
    pub stores: Vec<LiveStore>,
}

pub async fn live(state: &AppState, m: &MerchantId) -> ApiResult<Live> {
    let counts = state.db.live_counts(m).await?;
    let stores = state.db.list_all_stores(m).await?;
    let staffing = state.hub.staffing(m.as_str(), &crate::hub::Staffing::catalogue(&stores));
    let mut out = Live {
        at: now_ms(),
        waiting: 0,
        active: 0,
        experts_available: staffing.available,
        experts_online: staffing.online,
        stores: Vec::new(),
    };
    for s in stores {
        let id = s.id.to_string();
        let (w, a) = counts.iter().find(|c| c.0 == id).map(|c| (c.1, c.2)).unwrap_or((0, 0));
        out.waiting += w;
        out.active += a;
        let (available, online) = staffing.stores.get(&id).copied().unwrap_or((0, 0));
        out.stores.push(LiveStore {
            experts_available: available,
            experts_online: online,
            store_id: id,
            name: s.name,
            waiting: w,
            active: a,
        });
    }
    Ok(out)
}

#[utoipa::path(get, path = "/analytics/live", tag = "analytics", responses((status = 200, body = Live)), security(("session" = []), ("api_key" = [])))]
async fn get_live(State(state): State<AppState>, m: Merchant<Analytics>) -> ApiResult<Json<Live>> {
    Ok(Json(live(&state, &m.id).await?))
}

// ----- orders -----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// The merchant's own order id (1–100 characters); reporting it again updates the order.
    pub order_id: String,
    /// The Shopper ID the widget gave this shopper (may be left out with `cart_ref`).
    #[serde(default)]
    pub shopper_id: String,
    /// The signed cart reference (`cref_…`) the checkout received from a Floorwalker pay link
    /// or permalink: the cart becomes paid (or cancelled) and the chat thread shows it.
    #[serde(default)]
    pub cart_ref: Option<String>,
    /// Decimal amount, e.g. "129.90" (a JSON number is accepted too).
    #[schema(value_type = String)]
    pub amount: serde_json::Value,
    /// ISO 4217 code, e.g. "EUR".
    pub currency: String,
    /// placed (default) | paid | fulfilled | cancelled | refunded.
    pub status: Option<String>,
    /// When the order was placed (ms or RFC 3339); default now.
    #[schema(value_type = Option<String>)]
    pub placed_at: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    pub order_id: String,
    pub shopper_id: String,
    pub amount: String,
    pub currency: String,
    pub status: String,
    pub placed_at: i64,
    pub updated_at: i64,
    /// Whether a chat served this shopper within the attribution window before the order.
    pub attributed: bool,
    #[schema(required = true)]
    pub conversation_id: Option<ConversationId>,
    #[schema(required = true)]
    pub store_id: Option<String>,
    #[schema(required = true)]
    pub department_id: Option<String>,
    #[schema(required = true)]
    pub expert_id: Option<String>,
}

impl From<OrderRow> for Order {
    fn from(r: OrderRow) -> Order {
        Order {
            amount: format_minor(r.amount_minor, &r.currency),
            attributed: r.conversation_id.is_some(),
            order_id: r.order_id,
            shopper_id: r.shopper_id,
            currency: r.currency,
            status: r.status,
            placed_at: r.placed_at,
            updated_at: r.updated_at,
            conversation_id: r.conversation_id,
            store_id: r.store_id,
            department_id: r.department_id,
            expert_id: r.expert_id,
        }
    }
}

pub const ORDER_STATUSES: [&str; 5] = ["placed", "paid", "fulfilled", "cancelled", "refunded"];

/// A real ISO 4217 currency: not a code reserved for testing (XTS), "no currency" (XXX), a
/// precious metal or another special code, nor a fund code; unknown codes (ZZZ) are refused.
pub fn real_currency(code: &str) -> bool {
    iso_currency::Currency::from_code(code).is_some_and(|c| !c.is_special() && !c.is_fund())
}

fn valid_order_id(s: &str) -> bool {
    (1..=100).contains(&s.chars().count()) && !s.chars().any(char::is_control)
}

/// Report an order (idempotent by `order_id`; later reports update amount and status).
/// The first report decides the attribution: the last chat an expert claimed with this shopper
/// within the merchant's attribution window before `placed_at`.
#[utoipa::path(post, path = "/orders", tag = "analytics", request_body = OrderRequest,
    responses((status = 201, body = Order), (status = 200, body = Order), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn post_order(
    State(state): State<AppState>,
    m: Merchant<Analytics>,
    JsonBody(req): JsonBody<OrderRequest>,
) -> ApiResult<(StatusCode, Json<Order>)> {
    let now = now_ms();
    let mut req = req;
    let cart = match req.cart_ref.as_deref().map(str::trim) {
        None => None,
        Some(r) if !r.starts_with(crate::commerce::refs::REF_PREFIX) => {
            return Err(ApiError::invalid("cart_ref", "not a cart reference (cref_…)"));
        }
        Some(r) => {
            let key = crate::commerce::key(&state.commerce()).await?;
            let id = crate::commerce::refs::check_cart_ref(&key, r, state.commerce_clock.now()).ok_or(ApiError::NotFound)?;
            let (row, _) = state.db.cart(&m.id, &id).await?;
            if req.shopper_id.is_empty() {
                req.shopper_id = row.shopper_id.clone();
            } else if req.shopper_id != row.shopper_id {
                return Err(ApiError::invalid("shopper_id", "the cart was sent to another shopper"));
            }
            Some(row)
        }
    };
    let mut p = Problems::new();
    p.check(valid_order_id(req.order_id.trim()), "order_id", "must be 1–100 characters");
    p.check(ShopperId::parse(&req.shopper_id).is_some(), "shopper_id", "not a Shopper ID");
    let currency = req.currency.trim().to_ascii_uppercase();
    let currency_ok = real_currency(&currency);
    p.check(currency_ok, "currency", "must be an ISO 4217 currency code such as EUR");
    let amount = match &req.amount {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let amount_minor = amount.as_deref().and_then(|a| parse_amount(a, &currency));
    if currency_ok {
        p.check(
            amount_minor.is_some(),
            "amount",
            "must be a non-negative decimal with at most the currency's decimals",
        );
    }
    let status = req.status.as_deref().unwrap_or("placed").trim().to_ascii_lowercase();
    p.check(
        ORDER_STATUSES.contains(&status.as_str()),
        "status",
        "must be placed, paid, fulfilled, cancelled or refunded",
    );
    let placed_at = match &req.placed_at {
        // Not given: when it was first reported. A retry of the same report keeps the time the
        // order already has, so it changes nothing (and its sale stays in its rollup bucket).
        None | Some(serde_json::Value::Null) => Some(match state.db.get_order(&m.id, req.order_id.trim()).await {
            Ok(o) => o.placed_at,
            Err(crate::storage::StorageError::NotFound) => now,
            Err(e) => return Err(e.into()),
        }),
        Some(serde_json::Value::Number(n)) => n.as_i64().and_then(|v| parse_time("placed_at", &v.to_string()).ok()),
        Some(serde_json::Value::String(s)) => parse_time("placed_at", s).ok(),
        _ => None,
    };
    p.check(placed_at.is_some(), "placed_at", "must be ms since the epoch or an RFC 3339 time");
    if let Some(t) = placed_at {
        p.check(t <= now + 86_400_000, "placed_at", "is more than a day in the future");
    }
    p.into_result().map_err(ApiError::Validation)?;
    let window_ms = i64::from(state.db.merchant_public(&m.id).await?.routing.attribution_window_days) * 86_400_000;
    let order = NewOrder {
        order_id: req.order_id.trim(),
        shopper_id: &req.shopper_id,
        amount_minor: amount_minor.expect("validated"),
        currency: &currency,
        status: &status,
        placed_at: placed_at.expect("validated"),
    };
    let outcome = state.db.upsert_order(&m.id, &order, window_ms, now).await.map_err(|e| match e {
        crate::storage::StorageError::Conflict(msg) => ApiError::FieldConflict {
            field: "order_id".into(),
            message: msg,
        },
        e => e.into(),
    })?;
    state.hub.analytics.written.notify_one();
    if let Some(cart) = &cart {
        crate::commerce::order_reported(&state.commerce(), &m.id, &cart.id, req.order_id.trim(), &status).await?;
    }
    Ok(match outcome {
        OrderOutcome::Created(o) => (StatusCode::CREATED, Json(o.into())),
        OrderOutcome::Updated(o) | OrderOutcome::Unchanged(o) => (StatusCode::OK, Json(o.into())),
    })
}

#[utoipa::path(get, path = "/orders/{order_id}", tag = "analytics", params(("order_id" = String, Path)),
    responses((status = 200, body = Order), (status = 404, body = super::error::Problem)), security(("session" = []), ("api_key" = [])))]
async fn get_order(State(state): State<AppState>, m: Merchant<Analytics>, Path(id): Path<String>) -> ApiResult<Json<Order>> {
    Ok(Json(state.db.get_order(&m.id, &id).await?.into()))
}
