//! Cart analytics (module Analytics): carts sent and paid, conversion and revenue, per
//! currency, store and expert — `GET /analytics/carts`.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Merchant, Query};
use super::AppState;
use crate::commerce::money;
use crate::now_ms;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(cart_analytics))
}

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
