//! Module Exports: metrics, conversations and transcripts as CSV (UTF-8, RFC 4180, CRLF).
//!
//! Conversations and transcripts are streamed page by page (keyset pagination, a bounded
//! number of pages in flight), so memory stays flat whatever the size. `X-Row-Count` tells the
//! client how many data rows follow, for a progress bar. Text cells that a spreadsheet would
//! run as a formula are neutralised (see [`crate::csv_table::csv_safe`]). Each file's columns are
//! one [`Table`]: the header and every row are written from it.

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
use super::AppState;
use chrono_tz::Tz;

use crate::analytics::report::{revenue_columns, Grain, METRIC_COLUMNS};
use crate::analytics::stats::{format_minor, Metrics};
use crate::csv_table::{self, Cell, Chunk, Table};
use crate::ids::MerchantId;
use crate::storage::{ConversationRow, Db, RollupFilter, StorageError, TranscriptRow};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metrics_csv))
        .routes(routes!(conversations_csv))
        .routes(routes!(transcripts_csv))
}

/// Rows fetched per database round trip while streaming.
const PAGE: i64 = 2000;

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

/// A page of rows and the key the next page starts after; `None` when there are no more.
type PageResult<R, K> = Result<Option<(Vec<R>, K)>, StorageError>;

/// A stream of CSV chunks: the header, then one chunk per page until a page comes back empty.
fn paged<R, K, F, Fut>(table: Table<R>, first: Option<K>, mut next_page: F) -> Body
where
    R: Send + 'static,
    K: Send + 'static,
    F: FnMut(Option<K>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = PageResult<R, K>> + Send + 'static,
{
    enum Step<K, Fut> {
        Stop,
        Header(Option<K>),
        Fetch(Fut),
    }
    let table = std::sync::Arc::new(table);
    // State: None = finished; (true, _) = the header is next; (false, k) = rows after k.
    let stream = futures::stream::unfold(Some((true, first)), move |st| {
        let step = match st {
            None => Step::Stop,
            Some((true, k)) => Step::Header(k),
            Some((false, k)) => Step::Fetch(next_page(k)),
        };
        let table = table.clone();
        async move {
            match step {
                Step::Stop => None,
                Step::Header(k) => {
                    let mut out = Chunk::with_capacity(1024);
                    let chunk = out.header(&table).and_then(|_| out.finish()).map(Bytes::from);
                    Some((chunk, Some((false, k))))
                }
                Step::Fetch(fut) => match fut.await {
                    Ok(Some((rows, key))) => {
                        let mut out = Chunk::with_capacity(256 * 1024);
                        let chunk = rows
                            .iter()
                            .try_for_each(|r| out.row(&table, r))
                            .and_then(|_| out.finish())
                            .map(Bytes::from);
                        Some((chunk, Some((false, Some(key)))))
                    }
                    Ok(None) => None,
                    Err(e) => Some((Err(cut_short(e)), None)),
                },
            }
        }
    });
    Body::from_stream(stream)
}

/// The status line is long gone when a page fails: cut the body so the client sees a failed
/// download rather than a short file that looks complete.
fn cut_short(e: StorageError) -> std::io::Error {
    tracing::warn!(error = %e, "export stopped by a database error");
    std::io::Error::other("database error")
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
    let table = metrics_table(&currencies);
    let name = |id: &str| {
        if id.is_empty() {
            String::new()
        } else {
            names.get(id).cloned().unwrap_or_default()
        }
    };
    let mut lines = Vec::with_capacity(groups.len());
    for ((period, (store, dep, expert)), s) in &groups {
        let by_store = by == "store" || sel.filter.store_id.is_some();
        let (start, end) = (sel.bounds[*period], sel.bounds[*period + 1]);
        let mut metrics = sel.metrics(s, start, end, by_store);
        if by == "department" {
            metrics.experts_available_avg = None;
        }
        lines.push(MetricsLine {
            period_start: local_time(start, tz),
            store_name: name(store),
            store_id: store.clone(),
            department_name: name(dep),
            department_id: dep.clone(),
            expert_name: name(expert),
            expert_id: expert.clone(),
            metrics,
        });
    }
    let body = csv_table::write_all(&table, &lines).map_err(ApiError::internal)?;
    Ok(csv_response("metrics", &sel.filter, tz, lines.len() as i64, Body::from(body)))
}

/// One row of `metrics.csv`: a period, the store, department or expert it is about (empty ids
/// when by merchant) and the figures.
struct MetricsLine {
    period_start: String,
    store_id: String,
    store_name: String,
    department_id: String,
    department_name: String,
    expert_id: String,
    expert_name: String,
    metrics: Metrics,
}

/// The columns of `metrics.csv` (docs/analytics.md): the period and the dimension, the figures,
/// then the money per currency.
fn metrics_table(currencies: &[String]) -> Table<MetricsLine> {
    let table = Table::new(&[
        ("period_start", |r: &MetricsLine, c: &mut Cell| c.text(&r.period_start)),
        ("store_id", |r, c| c.text(&r.store_id)),
        ("store", |r, c| c.safe(&r.store_name)),
        ("department_id", |r, c| c.text(&r.department_id)),
        ("department", |r, c| c.safe(&r.department_name)),
        ("expert_id", |r, c| c.text(&r.expert_id)),
        ("expert", |r, c| c.safe(&r.expert_name)),
    ])
    .part(|r| &r.metrics, METRIC_COLUMNS);
    revenue_columns(table, |r| &r.metrics, currencies)
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
    let table = conversations_table(&currencies);
    let (db, mid, filter) = (state.db.clone(), m.id.clone(), f.clone());
    let body = paged(table, None, move |after: Option<(i64, String)>| {
        let (db, mid, filter) = (db.clone(), mid.clone(), filter.clone());
        async move { conversation_page(&db, &mid, &filter, after).await }
    });
    Ok(csv_response("conversations", &f, tz, n, body))
}

/// Seconds from `a` to `b` with one decimal, empty unless both are known and in order.
fn secs(c: &mut Cell, a: Option<i64>, b: Option<i64>) {
    if let (Some(a), Some(b)) = (a, b) {
        if b >= a {
            c.display(format_args!("{:.1}", (b - a) as f64 / 1000.0));
        }
    }
}

/// One row of `conversations.csv`: the chat and the revenue attributed to it per currency.
struct ConversationLine {
    c: ConversationRow,
    revenue: Vec<(String, i64)>,
}

/// The columns of `conversations.csv` (docs/analytics.md), then `revenue_XXX` per currency.
fn conversations_table(currencies: &[String]) -> Table<ConversationLine> {
    let mut table = Table::new(&[
        ("conversation_id", |r: &ConversationLine, c: &mut Cell| c.text(&r.c.id)),
        ("shopper_id", |r, c| c.text(&r.c.shopper_id)),
        ("shopper", |r, c| c.safe(r.c.shopper_name.as_deref().unwrap_or(""))),
        ("store_id", |r, c| c.text(&r.c.store_id)),
        ("store", |r, c| c.safe(&r.c.store_name)),
        ("department_id", |r, c| c.text(&r.c.department_id)),
        ("department", |r, c| c.safe(&r.c.department_name)),
        ("expert_id", |r, c| c.text(r.c.expert_id.as_deref().unwrap_or(""))),
        ("expert", |r, c| c.safe(r.c.expert_name.as_deref().unwrap_or(""))),
        ("status", |r, c| c.text(r.c.status.as_str())),
        ("offline", |r, c| c.text(if r.c.offline != 0 { "true" } else { "false" })),
        ("created_at", |r, c| c.time(r.c.created_at)),
        ("claimed_at", |r, c| c.opt_time(r.c.claimed_at)),
        ("first_response_at", |r, c| c.opt_time(r.c.first_response_at)),
        ("ended_at", |r, c| c.opt_time(r.c.ended_at)),
        ("wait_s", |r, c| secs(c, Some(r.c.created_at), r.c.claimed_at)),
        ("first_response_s", |r, c| secs(c, r.c.claimed_at, r.c.first_response_at)),
        ("duration_s", |r, c| secs(c, r.c.claimed_at, r.c.ended_at)),
        ("messages", |r, c| c.int(r.c.last_seq)),
        ("rating", |r, c| c.opt(r.c.rating)),
        ("rating_comment", |r, c| c.safe(r.c.rating_comment.as_deref().unwrap_or(""))),
        ("page_url", |r, c| c.safe(r.c.page_url.as_deref().unwrap_or(""))),
    ]);
    for cur in currencies {
        let cur = cur.clone();
        table = table.column(format!("revenue_{cur}"), move |r: &ConversationLine, c: &mut Cell| {
            let v = r.revenue.iter().find(|(c, _)| *c == cur).map(|(_, v)| *v).unwrap_or(0);
            c.text(&format_minor(v, &cur));
        });
    }
    table
}

async fn conversation_page(
    db: &Db,
    m: &MerchantId,
    f: &RollupFilter,
    after: Option<(i64, String)>,
) -> PageResult<ConversationLine, (i64, String)> {
    let rows = db.export_conversations(m, f, after.as_ref(), PAGE).await?;
    let Some(last) = rows.last() else { return Ok(None) };
    let key = (last.created_at, last.id.to_string());
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    let mut revenue = db.conversation_revenue(m, &ids).await?;
    let lines = rows
        .into_iter()
        .map(|c| ConversationLine {
            revenue: revenue.remove(c.id.as_str()).unwrap_or_default(),
            c,
        })
        .collect();
    Ok(Some((lines, key)))
}

/// One row per message sent in the range, in time order.
#[utoipa::path(get, path = "/exports/transcripts.csv", tag = "exports", params(RangeQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = super::error::Problem)),
    security(("session" = []), ("api_key" = [])))]
async fn transcripts_csv(State(state): State<AppState>, m: Merchant<Exports>, Query(q): Query<RangeQuery>) -> ApiResult<Response> {
    let (f, tz) = plain_filter(&state, &m.id, &q).await?;
    let n = state.db.count_messages(&m.id, &f).await?;
    let table = transcripts_table(state.outbound.public_url().to_owned());
    let body = if state.db.reader.is_some() {
        transcripts_sqlite(table, state.db.clone(), m.id.clone(), f.clone())
    } else {
        let (db, mid, filter) = (state.db.clone(), m.id.clone(), f.clone());
        paged(table, None, move |after: Option<(i64, String, i64)>| {
            let (db, mid, filter) = (db.clone(), mid.clone(), filter.clone());
            async move {
                let rows = db.export_messages(&mid, &filter, after.as_ref(), PAGE).await?;
                let Some(last) = rows.last() else { return Ok(None) };
                let key = (last.created_at, last.conversation_id.clone(), last.seq);
                Ok(Some((rows, key)))
            }
        })
    };
    Ok(csv_response("transcripts", &f, tz, n, body))
}

/// The columns of `transcripts.csv` (docs/analytics.md). A photo's text is its stable,
/// authenticated link on `origin`, then the caption.
fn transcripts_table(origin: String) -> Table<TranscriptRow> {
    Table::new(&[
        ("conversation_id", |r: &TranscriptRow, c: &mut Cell| c.text(&r.conversation_id)),
        ("seq", |r, c| c.int(r.seq)),
        ("sent_at", |r, c| c.time(r.created_at)),
        ("author_role", |r, c| c.text(&r.author_role)),
        ("expert_id", |r, c| c.text(r.expert_id.as_deref().unwrap_or(""))),
        ("expert", |r, c| c.safe(r.expert_name.as_deref().unwrap_or(""))),
        ("shopper_id", |r, c| c.text(&r.shopper_id)),
        ("kind", |r, c| c.text(&r.kind)),
    ])
    .column(
        "text",
        move |r: &TranscriptRow, c: &mut Cell| match crate::storage::attachment_ref(&r.kind, r.data_json.as_deref()) {
            Some(id) => c.safe(&crate::media::photo_link_text(&origin, &id, &r.body)),
            None => c.safe(&r.body),
        },
    )
}

/// Rows per page read on SQLite's read connection (each page is one read transaction, so a
/// long export never holds one snapshot, which would keep the WAL from being restarted).
const SQLITE_PAGE: i64 = 5000;
/// Chunks written ahead of the client: memory stays at about this many chunks whatever the size.
const CHUNKS_AHEAD: usize = 4;

/// `transcripts.csv` on an SQLite file: one blocking thread reads page after page on a read
/// connection and writes the CSV straight from each row (no row is allocated), sending each
/// page as one chunk through a short channel; when the client is slower, the thread waits, and
/// when the client leaves, it stops.
fn transcripts_sqlite(table: Table<TranscriptRow>, db: Db, m: MerchantId, f: RollupFilter) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut out = Chunk::with_capacity(1024);
        let header = out.header(&table).and_then(|_| out.finish()).map(Bytes::from);
        if tx.blocking_send(header).is_err() {
            return;
        }
        let mut after: Option<(i64, String, i64)> = None;
        loop {
            let mut out = Chunk::with_capacity(1024 * 1024);
            let mut failed = None;
            let mut last = after.take().unwrap_or((i64::MIN, String::new(), 0));
            let read = db.each_exported_message(&m, &f, Some(&last.clone()), SQLITE_PAGE, &mut |r: &TranscriptRow| {
                if failed.is_none() {
                    failed = out.row(&table, r).err();
                }
                last.0 = r.created_at;
                last.1.clear();
                last.1.push_str(&r.conversation_id);
                last.2 = r.seq;
            });
            let chunk = match read {
                Some(Ok(0)) => return,
                Some(Ok(_)) => match failed {
                    None => out.finish().map(Bytes::from),
                    Some(e) => Err(e),
                },
                Some(Err(e)) => Err(cut_short(e)),
                None => Err(std::io::Error::other("not an SQLite file")),
            };
            let stop = chunk.is_err();
            if tx.blocking_send(chunk).is_err() || stop {
                return;
            }
            after = Some(last);
        }
    });
    Body::from_stream(futures::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|c| (c, rx)) },
    ))
}
