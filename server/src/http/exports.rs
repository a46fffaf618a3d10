//! Module Exports: metrics, conversations and transcripts as CSV (UTF-8, RFC 4180, CRLF).
//!
//! Conversations and transcripts are streamed page by page (keyset pagination, a bounded
//! number of pages in flight), so memory stays flat whatever the size. `X-Row-Count` tells the
//! client how many data rows follow, for a progress bar. Text cells that a spreadsheet would
//! run as a formula are neutralised (see [`csv_safe`]).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::analytics::RangeQuery;
use super::error::{ApiError, ApiResult};
use super::extract::{modules::Exports, Merchant, Query};
use super::saved_replies::csv_safe;
use super::AppState;
use chrono_tz::Tz;

use crate::analytics::report::{metric_cells, Grain, METRIC_COLUMNS};
use crate::analytics::stats::format_minor;
use crate::ids::MerchantId;
use crate::storage::{Db, RollupFilter};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metrics_csv))
        .routes(routes!(conversations_csv))
        .routes(routes!(transcripts_csv))
}

/// Rows fetched per database round trip while streaming.
const PAGE: i64 = 2000;

fn time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn opt_time(ms: Option<i64>) -> String {
    ms.map(time).unwrap_or_default()
}

/// The local date in `tz`, `YYYYMMDD` (for file names).
fn day(ms: i64, tz: Tz) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&tz).format("%Y%m%d").to_string())
        .unwrap_or_default()
}

/// RFC 3339 with the zone's offset at that instant, e.g. `2026-03-29T00:00:00+01:00`.
fn local_time(ms: i64, tz: Tz) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn csv_bytes(rows: &[Vec<String>]) -> Result<Bytes, std::io::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(64 * 1024));
    for r in rows {
        w.write_record(r).map_err(std::io::Error::other)?;
    }
    w.into_inner().map(Bytes::from).map_err(|e| std::io::Error::other(e.to_string()))
}

fn csv_response(kind: &str, f: &RollupFilter, tz: Tz, rows: i64, body: Body) -> Response {
    let name = format!(
        "attachment; filename=\"floorwalker-{kind}-{}-{}.csv\"",
        day(f.from, tz),
        day(f.to - 1, tz)
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::HeaderName::from_static("x-row-count"), rows.to_string()),
        ],
        body,
    )
        .into_response()
}

/// A stream of CSV chunks: the header, then one chunk per page until a page comes back empty.
fn paged<K, F, Fut>(header: Vec<String>, first: Option<K>, mut next_page: F) -> Body
where
    K: Send + 'static,
    F: FnMut(Option<K>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Option<(Vec<Vec<String>>, K)>, crate::storage::StorageError>> + Send + 'static,
{
    enum Step<K, Fut> {
        Stop,
        Header(Option<K>),
        Fetch(Fut),
    }
    // State: None = finished; (true, _) = the header is next; (false, k) = rows after k.
    let stream = futures::stream::unfold(Some((true, first)), move |st| {
        let step = match st {
            None => Step::Stop,
            Some((true, k)) => Step::Header(k),
            Some((false, k)) => Step::Fetch(next_page(k)),
        };
        let header = header.clone();
        async move {
            match step {
                Step::Stop => None,
                Step::Header(k) => Some((csv_bytes(&[header]), Some((false, k)))),
                Step::Fetch(fut) => match fut.await {
                    Ok(Some((rows, key))) => Some((csv_bytes(&rows), Some((false, Some(key))))),
                    Ok(None) => None,
                    Err(e) => {
                        // The status line is long gone: cut the body so the client sees a failed
                        // download rather than a short file that looks complete.
                        tracing::warn!(error = %e, "export stopped by a database error");
                        Some((Err(std::io::Error::other("database error")), None))
                    }
                },
            }
        }
    });
    Body::from_stream(stream)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// merchant (default) | store | department | expert: one row per period and this.
    pub by: Option<String>,
}

/// The dashboard's figures per day or hour, by merchant, store, department or expert.
/// Same computation as `GET /analytics` for the same filters.
#[utoipa::path(get, path = "/exports/metrics.csv", tag = "exports", params(RangeQuery, MetricsQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn metrics_csv(
    State(state): State<AppState>,
    m: Merchant<Exports>,
    Query(q): Query<RangeQuery>,
    Query(mq): Query<MetricsQuery>,
) -> ApiResult<Response> {
    let q = RangeQuery {
        grain: Some(q.grain.clone().filter(|g| !g.is_empty()).unwrap_or_else(|| "day".into())),
        ..q
    };
    let tz = q.zone(&state, &m.id).await?;
    let sel = q.selection(&[Grain::Day, Grain::Hour], tz)?;
    let by = mq.by.as_deref().unwrap_or("merchant");
    if !["merchant", "store", "department", "expert"].contains(&by) {
        return Err(ApiError::invalid("by", "must be merchant, store, department or expert"));
    }
    let (plan, rows) = super::analytics::plan_rows(&state, &m.id, &sel).await?;
    let names = state.db.dimension_names(&m.id).await?;
    let mut currencies: std::collections::BTreeSet<String> = state
        .db
        .order_currencies(&m.id, sel.filter.from, sel.filter.to)
        .await?
        .into_iter()
        .collect();
    // Group per period (a local day or hour) and the chosen dimension; empty keys belong to no
    // store/department/expert.
    let mut groups = sel.fold(&plan, &rows, |r| match by {
        "merchant" => Some((String::new(), String::new(), String::new())),
        "store" if !r.store_id.is_empty() => Some((r.store_id.clone(), String::new(), String::new())),
        "department" if !r.department_id.is_empty() => Some((r.store_id.clone(), r.department_id.clone(), String::new())),
        "expert" if !r.expert_id.is_empty() => Some((String::new(), String::new(), r.expert_id.clone())),
        _ => None,
    });
    for s in groups.values() {
        currencies.extend(s.revenue.keys().cloned());
        currencies.extend(s.cart_revenue.keys().cloned());
    }
    if by == "merchant" {
        for i in 0..sel.len() {
            groups.entry((i, (String::new(), String::new(), String::new()))).or_default();
        }
    }
    let currencies: Vec<String> = currencies.into_iter().collect();
    let mut header: Vec<String> = [
        "period_start",
        "store_id",
        "store",
        "department_id",
        "department",
        "expert_id",
        "expert",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(METRIC_COLUMNS.iter().map(|s| s.to_string()));
    header.extend(currencies.iter().map(|c| format!("revenue_{c}")));
    header.extend(currencies.iter().map(|c| format!("cart_revenue_{c}")));
    let name = |id: &str| {
        if id.is_empty() {
            String::new()
        } else {
            csv_safe(&names.get(id).cloned().unwrap_or_default()).into_owned()
        }
    };
    let mut out = vec![header];
    for ((period, (store, dep, expert)), s) in &groups {
        let by_store = by == "store" || sel.filter.store_id.is_some();
        let (start, end) = (sel.bounds[*period], sel.bounds[*period + 1]);
        let mut metrics = sel.metrics(s, start, end, by_store);
        if by == "department" {
            metrics.experts_available_avg = None;
        }
        let mut row = vec![
            local_time(start, tz),
            store.clone(),
            name(store),
            dep.clone(),
            name(dep),
            expert.clone(),
            name(expert),
        ];
        row.extend(metric_cells(&metrics, &currencies));
        out.push(row);
    }
    let n = out.len() as i64 - 1;
    let body = csv_bytes(&out).map_err(ApiError::internal)?;
    Ok(csv_response("metrics", &sel.filter, tz, n, Body::from(body)))
}

async fn plain_filter(state: &AppState, m: &MerchantId, q: &RangeQuery) -> ApiResult<(RollupFilter, Tz)> {
    let tz = q.zone(state, m).await?;
    let (from, to) = q.range(tz)?;
    Ok((q.filter(from, to)?, tz))
}

/// One row per chat created in the range: who, where, when, how it ended, rating and the
/// revenue attributed to it.
#[utoipa::path(get, path = "/exports/conversations.csv", tag = "exports", params(RangeQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn conversations_csv(State(state): State<AppState>, m: Merchant<Exports>, Query(q): Query<RangeQuery>) -> ApiResult<Response> {
    let (f, tz) = plain_filter(&state, &m.id, &q).await?;
    let n = state.db.count_conversations(&m.id, &f).await?;
    let currencies = state.db.order_currencies(&m.id, 0, i64::MAX).await?;
    let mut header: Vec<String> = [
        "conversation_id",
        "shopper_id",
        "shopper",
        "store_id",
        "store",
        "department_id",
        "department",
        "expert_id",
        "expert",
        "status",
        "offline",
        "created_at",
        "claimed_at",
        "first_response_at",
        "ended_at",
        "wait_s",
        "first_response_s",
        "duration_s",
        "messages",
        "rating",
        "rating_comment",
        "page_url",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(currencies.iter().map(|c| format!("revenue_{c}")));
    let (db, mid, filter) = (state.db.clone(), m.id.clone(), f.clone());
    let body = paged(header, None, move |after: Option<(i64, String)>| {
        let (db, mid, filter, currencies) = (db.clone(), mid.clone(), filter.clone(), currencies.clone());
        async move { conversation_page(&db, &mid, &filter, after, &currencies).await }
    });
    Ok(csv_response("conversations", &f, tz, n, body))
}

fn secs(a: Option<i64>, b: Option<i64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b >= a => format!("{:.1}", (b - a) as f64 / 1000.0),
        _ => String::new(),
    }
}

async fn conversation_page(
    db: &Db,
    m: &MerchantId,
    f: &RollupFilter,
    after: Option<(i64, String)>,
    currencies: &[String],
) -> Result<Option<(Vec<Vec<String>>, (i64, String))>, crate::storage::StorageError> {
    let rows = db.export_conversations(m, f, after.as_ref(), PAGE).await?;
    let Some(last) = rows.last() else { return Ok(None) };
    let key = (last.created_at, last.id.clone());
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let revenue = db.conversation_revenue(m, &ids).await?;
    let out = rows
        .iter()
        .map(|c| {
            let mut row = vec![
                c.id.clone(),
                c.shopper_id.clone(),
                csv_safe(c.shopper_name.as_deref().unwrap_or("")).into_owned(),
                c.store_id.clone(),
                csv_safe(&c.store_name).into_owned(),
                c.department_id.clone(),
                csv_safe(&c.department_name).into_owned(),
                c.expert_id.clone().unwrap_or_default(),
                csv_safe(c.expert_name.as_deref().unwrap_or("")).into_owned(),
                c.status.clone(),
                (c.offline != 0).to_string(),
                time(c.created_at),
                opt_time(c.claimed_at),
                opt_time(c.first_response_at),
                opt_time(c.ended_at),
                secs(Some(c.created_at), c.claimed_at),
                secs(c.claimed_at, c.first_response_at),
                secs(c.claimed_at, c.ended_at),
                c.last_seq.to_string(),
                c.rating.map(|r| r.to_string()).unwrap_or_default(),
                csv_safe(c.rating_comment.as_deref().unwrap_or("")).into_owned(),
                csv_safe(c.page_url.as_deref().unwrap_or("")).into_owned(),
            ];
            let mine = revenue.get(&c.id);
            for cur in currencies {
                let v = mine.and_then(|v| v.iter().find(|(c, _)| c == cur)).map(|(_, v)| *v).unwrap_or(0);
                row.push(format_minor(v, cur));
            }
            row
        })
        .collect();
    Ok(Some((out, key)))
}

/// One row per message sent in the range, in time order.
#[utoipa::path(get, path = "/exports/transcripts.csv", tag = "exports", params(RangeQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn transcripts_csv(State(state): State<AppState>, m: Merchant<Exports>, Query(q): Query<RangeQuery>) -> ApiResult<Response> {
    let (f, tz) = plain_filter(&state, &m.id, &q).await?;
    let n = state.db.count_messages(&m.id, &f).await?;
    let header: Vec<String> = [
        "conversation_id",
        "seq",
        "sent_at",
        "author_role",
        "expert_id",
        "expert",
        "shopper_id",
        "kind",
        "text",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (db, mid, filter) = (state.db.clone(), m.id.clone(), f.clone());
    let origin = state.outbound.public_url().to_owned();
    let body = paged(header, None, move |after: Option<(i64, String, i64)>| {
        let (db, mid, filter, origin) = (db.clone(), mid.clone(), filter.clone(), origin.clone());
        async move {
            let rows = db.export_messages(&mid, &filter, after.as_ref(), PAGE).await?;
            let Some(last) = rows.last() else { return Ok(None) };
            let key = (last.created_at, last.conversation_id.clone(), last.seq);
            let out = rows
                .into_iter()
                .map(|r| {
                    // A photo: its stable, authenticated link, then the caption.
                    let text = match crate::storage::attachment_ref(&r.kind, r.data_json.as_deref()) {
                        Some(id) => crate::media::photo_link_text(&origin, &id, &r.body),
                        None => r.body.clone(),
                    };
                    vec![
                        r.conversation_id,
                        r.seq.to_string(),
                        time(r.created_at),
                        r.author_role,
                        r.expert_id.unwrap_or_default(),
                        csv_safe(r.expert_name.as_deref().unwrap_or("")).into_owned(),
                        r.shopper_id,
                        r.kind,
                        csv_safe(&text).into_owned(),
                    ]
                })
                .collect();
            Ok(Some((out, key)))
        }
    });
    Ok(csv_response("transcripts", &f, tz, n, body))
}
