//! Rollups, orders and the other reads behind analytics, exports and the shopper journey.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::sqlite_writer::{bind_all, Param};
use super::{placeholders, Backend, Db, Result, StorageError, Tenant};
use crate::domain::stats::Stats;

/// The UTC grains every event is rolled into. Quarter-hours let reports cut local days and
/// hours at any offset (`analytics::zone`); they exist from `rollup_grains.since` on.
pub const GRAINS: [(&str, i64); 4] = [("minute", 60_000), ("quarter", 900_000), ("hour", 3_600_000), ("day", 86_400_000)];

/// A rollup key below the merchant: ('' for none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RollKey {
    pub merchant_id: String,
    pub grain: &'static str,
    pub bucket: i64,
    pub store_id: String,
    pub department_id: String,
    pub expert_id: String,
}

#[derive(Debug, Default)]
pub struct RollOutcome {
    pub events: usize,
    pub merchants: HashSet<String>,
}

#[derive(sqlx::FromRow)]
struct PendingEvent {
    id: String,
    merchant_id: String,
    kind: String,
    at: i64,
    store_id: String,
    department_id: String,
    expert_id: String,
    value: Option<i64>,
    data_json: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RollupRow {
    pub bucket: i64,
    pub store_id: String,
    pub department_id: String,
    pub expert_id: String,
    pub stats: String,
}

/// Which rollup rows a query wants.
#[derive(Debug, Clone, Default)]
pub struct RollupFilter {
    pub from: i64,
    pub to: i64,
    pub store_id: Option<String>,
    pub department_id: Option<String>,
    pub expert_id: Option<String>,
}

/// An order as the merchant reported it, with its attribution.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub order_id: String,
    pub shopper_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: String,
    pub placed_at: i64,
    pub conversation_id: Option<String>,
    pub store_id: Option<String>,
    pub department_id: Option<String>,
    pub expert_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl OrderRow {
    /// Orders that count as sales (not cancelled or refunded).
    pub fn counts(&self) -> bool {
        matches!(self.status.as_str(), "placed" | "paid" | "fulfilled")
    }
}

/// What the caller reports; the rest is decided here.
pub struct NewOrder<'a> {
    pub order_id: &'a str,
    pub shopper_id: &'a str,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub status: &'a str,
    pub placed_at: i64,
}

pub enum OrderOutcome {
    Created(OrderRow),
    Updated(OrderRow),
    Unchanged(OrderRow),
}

const ORDER_COLS: &str = "order_id, shopper_id, amount_minor, currency, status, placed_at, conversation_id, store_id, department_id, \
                          expert_id, created_at, updated_at";

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct LiveStore {
    pub store_id: String,
    pub name: String,
    pub waiting: i64,
    pub active: i64,
    /// Experts able to take a chat in this store now.
    pub experts_available: i64,
    /// Experts switched to available in this store, busy or not.
    pub experts_online: i64,
}

/// The place and person an event counts for: each event adds to one rollup row per grain of
/// its combination, so a combination's events and rows can be folded on their own.
type Combo = (String, String, String, String);

/// Part of a roll, small enough to write in a few milliseconds.
#[derive(Default)]
struct RollChunk {
    adds: Vec<(RollKey, Stats)>,
    /// Per-message events: deleted once counted.
    delete: Vec<String>,
    /// Everything else: kept as facts (the shopper journey reads them), marked rolled.
    mark: Vec<String>,
}

/// Rollup rows a chunk may write at most, and events it may settle.
const CHUNK_KEYS: usize = 150;
const CHUNK_EVENTS: usize = 400;

const PENDING_EVENTS: &str = "SELECT e.id, e.merchant_id, e.kind, e.at, \
        COALESCE(e.store_id, c.store_id, '') AS store_id, \
        COALESCE(e.department_id, c.department_id, '') AS department_id, \
        COALESCE(e.expert_id, c.expert_id, '') AS expert_id, e.value, e.data_json \
     FROM events e LEFT JOIN conversations c ON c.id = e.conversation_id \
     WHERE e.rolled = 0 ORDER BY e.at LIMIT $1";

const BUCKET_ROWS: &str =
    "SELECT store_id, department_id, expert_id, stats FROM rollups WHERE merchant_id = $1 AND grain = $2 AND bucket = $3";

/// Group events by combination and cut the groups into chunks.
fn plan_roll(events: &[PendingEvent], out: &mut RollOutcome) -> Vec<RollChunk> {
    let mut groups: BTreeMap<Combo, RollChunk> = BTreeMap::new();
    for e in events {
        let combo = (
            e.merchant_id.clone(),
            e.store_id.clone(),
            e.department_id.clone(),
            e.expert_id.clone(),
        );
        let g = groups.entry(combo).or_default();
        if e.kind.starts_with("message.") {
            g.delete.push(e.id.clone());
        } else {
            g.mark.push(e.id.clone());
        }
        let mut one = Stats::default();
        if !one.apply(&e.kind, e.value, e.data_json.as_deref()) {
            continue;
        }
        out.merchants.insert(e.merchant_id.clone());
        for (grain, width) in GRAINS {
            let key = RollKey {
                merchant_id: e.merchant_id.clone(),
                grain,
                bucket: e.at - e.at.rem_euclid(width),
                store_id: e.store_id.clone(),
                department_id: e.department_id.clone(),
                expert_id: e.expert_id.clone(),
            };
            match g.adds.iter_mut().find(|(k, _)| *k == key) {
                Some((_, s)) => s.merge(&one),
                None => g.adds.push((key, one.clone())),
            }
        }
    }
    let mut chunks = vec![RollChunk::default()];
    for (_, g) in groups {
        let last = chunks.last_mut().expect("one");
        let started = !last.adds.is_empty() || !last.delete.is_empty() || !last.mark.is_empty();
        if started && (last.adds.len() + g.adds.len() > CHUNK_KEYS || last.delete.len() + last.mark.len() >= CHUNK_EVENTS) {
            chunks.push(RollChunk::default());
        }
        let last = chunks.last_mut().expect("one");
        last.adds.extend(g.adds);
        last.delete.extend(g.delete);
        last.mark.extend(g.mark);
    }
    chunks
}

impl Db {
    /// Fold up to `limit` unrolled events into the rollups so every event counts exactly once:
    /// a rollup row changes in the same transaction that settles (deletes or marks) the events
    /// it counted.
    ///
    /// On SQLite, whose writer thread also stores every chat message, the work is read and
    /// computed first and written in chunks of a few milliseconds each, so a message never
    /// waits behind a whole roll (the roller is the only writer of rollups and of `rolled`).
    /// On PostgreSQL everything runs in one transaction under an advisory lock, which keeps to
    /// one roller at a time across nodes (the others find it taken and skip this round).
    pub async fn roll_events(&self, limit: i64) -> Result<RollOutcome> {
        let mut out = RollOutcome::default();
        // PostgreSQL reads and writes in this one transaction; SQLite reads from the pool.
        let mut pg = None;
        if self.backend == Backend::Postgres {
            let mut tx = self.begin_write().await?;
            let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock(7311001)")
                .fetch_one(&mut *tx)
                .await?;
            if !got {
                return Ok(out);
            }
            pg = Some(tx);
        }
        let q = sqlx::query_as::<_, PendingEvent>(PENDING_EVENTS).bind(limit);
        let events = match pg.as_mut() {
            Some(tx) => q.fetch_all(&mut **tx).await?,
            None => q.fetch_all(&self.pool).await?,
        };
        out.events = events.len();
        let chunks = plan_roll(&events, &mut out);
        let mut old = HashMap::new();
        for (merchant, grain, bucket) in touched_buckets(&chunks) {
            let q = sqlx::query_as(BUCKET_ROWS).bind(merchant).bind(grain).bind(bucket);
            let rows = match pg.as_mut() {
                Some(tx) => q.fetch_all(&mut **tx).await?,
                None => q.fetch_all(&self.pool).await?,
            };
            add_bucket_rows(&mut old, merchant, grain, bucket, rows);
        }
        match pg {
            Some(mut tx) => {
                for chunk in &chunks {
                    for (sql, params) in chunk_statements(chunk, &old)? {
                        bind_all(sqlx::query(&sql), &params).execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
            }
            None => {
                for chunk in &chunks {
                    self.write_later(chunk_statements(chunk, &old)?).await?;
                }
            }
        }
        Ok(out)
    }

    /// Rollup rows of one grain at exactly these buckets (sorted), matching the filter's
    /// dimensions (its range is not used: the buckets say which rows).
    pub async fn rollup_rows_in(&self, m: Tenant<'_>, grain: &str, buckets: &[i64], f: &RollupFilter) -> Result<Vec<RollupRow>> {
        let mut out = Vec::new();
        for part in buckets.chunks(500) {
            let (Some(lo), Some(hi)) = (part.first(), part.last()) else {
                continue;
            };
            // The bucket list is ours (computed, not taken from the request): integers inline,
            // and the range lets the primary key's order do the work.
            let list = part.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ");
            let mut sql = format!(
                "SELECT bucket, store_id, department_id, expert_id, stats FROM rollups \
                 WHERE merchant_id = $1 AND grain = $2 AND bucket >= $3 AND bucket <= $4 AND bucket IN ({list})"
            );
            let mut n = 4;
            for (col, v) in [
                ("store_id", &f.store_id),
                ("department_id", &f.department_id),
                ("expert_id", &f.expert_id),
            ] {
                if v.is_some() {
                    n += 1;
                    sql.push_str(&format!(" AND {col} = ${n}"));
                }
            }
            let mut q = sqlx::query_as::<_, RollupRow>(&sql)
                .bind(m.as_str())
                .bind(grain)
                .bind(*lo)
                .bind(*hi);
            for v in [&f.store_id, &f.department_id, &f.expert_id].into_iter().flatten() {
                q = q.bind(v);
            }
            out.extend(q.fetch_all(&self.pool).await?);
        }
        Ok(out)
    }

    /// From when rows of a grain added later (the quarter-hour) exist; `i64::MAX` if never.
    pub async fn grain_since(&self, grain: &str) -> Result<i64> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT since FROM rollup_grains WHERE grain = $1")
            .bind(grain)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map_or(i64::MAX, |r| r.0))
    }

    /// Names of the merchant's stores, departments and experts, for labelling.
    pub async fn dimension_names(&self, m: Tenant<'_>) -> Result<BTreeMap<String, String>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, name FROM stores WHERE merchant_id = $1 \
             UNION ALL SELECT d.id, d.name FROM departments d JOIN stores s ON s.id = d.store_id WHERE s.merchant_id = $1 \
             UNION ALL SELECT id, name FROM experts WHERE merchant_id = $1",
        )
        .bind(m.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// Waiting and active chats per store, now.
    pub async fn live_counts(&self, m: Tenant<'_>) -> Result<Vec<(String, i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT store_id, \
                    SUM(CASE WHEN status IN ('queued', 'offered') THEN 1 ELSE 0 END), \
                    SUM(CASE WHEN status = 'claimed' THEN 1 ELSE 0 END) \
             FROM conversations WHERE merchant_id = $1 AND status IN ('queued', 'offered', 'claimed') GROUP BY store_id",
        )
        .bind(m.as_str())
        .fetch_all(&self.pool)
        .await?)
    }

    // ----- orders -----

    pub async fn get_order(&self, m: Tenant<'_>, order_id: &str) -> Result<OrderRow> {
        sqlx::query_as::<_, OrderRow>(&format!("SELECT {ORDER_COLS} FROM orders WHERE merchant_id = $1 AND order_id = $2"))
            .bind(m.as_str())
            .bind(order_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)
    }

    pub async fn shopper_orders(&self, m: Tenant<'_>, shopper: &str) -> Result<Vec<OrderRow>> {
        Ok(sqlx::query_as::<_, OrderRow>(&format!(
            "SELECT {ORDER_COLS} FROM orders WHERE merchant_id = $1 AND shopper_id = $2 ORDER BY placed_at DESC LIMIT 200"
        ))
        .bind(m.as_str())
        .bind(shopper)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Create or update an order, idempotently by order id. The attribution is decided on
    /// creation: the most recent chat with this shopper that an expert claimed at most `window_ms`
    /// before the order was placed. Every change to what counts as a sale is written as an
    /// `order` event (a delta) in the same transaction, so the rollups follow status changes.
    pub async fn upsert_order(&self, m: Tenant<'_>, o: &NewOrder<'_>, window_ms: i64, now: i64) -> Result<OrderOutcome> {
        let mut tx = self.begin_write().await?;
        let prev = sqlx::query_as::<_, OrderRow>(&format!("SELECT {ORDER_COLS} FROM orders WHERE merchant_id = $1 AND order_id = $2"))
            .bind(m.as_str())
            .bind(o.order_id)
            .fetch_optional(&mut *tx)
            .await?;
        let row = match &prev {
            Some(p) => {
                if p.shopper_id != o.shopper_id {
                    return Err(StorageError::Conflict("this order id belongs to another shopper".into()));
                }
                if p.amount_minor == o.amount_minor && p.currency == o.currency && p.status == o.status && p.placed_at == o.placed_at {
                    return Ok(OrderOutcome::Unchanged(p.clone()));
                }
                OrderRow {
                    amount_minor: o.amount_minor,
                    currency: o.currency.to_owned(),
                    status: o.status.to_owned(),
                    placed_at: o.placed_at,
                    updated_at: now,
                    ..p.clone()
                }
            }
            None => {
                let conv: Option<(String, String, String, Option<String>)> = sqlx::query_as(
                    "SELECT id, store_id, department_id, expert_id FROM conversations \
                     WHERE merchant_id = $1 AND shopper_id = $2 AND claimed_at IS NOT NULL AND claimed_at <= $3 AND claimed_at >= $4 \
                     ORDER BY claimed_at DESC LIMIT 1",
                )
                .bind(m.as_str())
                .bind(o.shopper_id)
                .bind(o.placed_at)
                .bind(o.placed_at - window_ms)
                .fetch_optional(&mut *tx)
                .await?;
                OrderRow {
                    order_id: o.order_id.to_owned(),
                    shopper_id: o.shopper_id.to_owned(),
                    amount_minor: o.amount_minor,
                    currency: o.currency.to_owned(),
                    status: o.status.to_owned(),
                    placed_at: o.placed_at,
                    conversation_id: conv.as_ref().map(|c| c.0.clone()),
                    store_id: conv.as_ref().map(|c| c.1.clone()),
                    department_id: conv.as_ref().map(|c| c.2.clone()),
                    expert_id: conv.and_then(|c| c.3),
                    created_at: now,
                    updated_at: now,
                }
            }
        };
        sqlx::query(
            "INSERT INTO orders (merchant_id, order_id, shopper_id, amount_minor, currency, status, placed_at, conversation_id, \
                                 store_id, department_id, expert_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (merchant_id, order_id) DO UPDATE SET amount_minor = excluded.amount_minor, currency = excluded.currency, \
                status = excluded.status, placed_at = excluded.placed_at, updated_at = excluded.updated_at",
        )
        .bind(m.as_str())
        .bind(&row.order_id)
        .bind(&row.shopper_id)
        .bind(row.amount_minor)
        .bind(&row.currency)
        .bind(&row.status)
        .bind(row.placed_at)
        .bind(row.conversation_id.as_deref())
        .bind(row.store_id.as_deref())
        .bind(row.department_id.as_deref())
        .bind(row.expert_id.as_deref())
        .bind(row.created_at)
        .bind(row.updated_at)
        .execute(&mut *tx)
        .await?;
        if row.conversation_id.is_some() {
            // Take back what the previous version counted, then count the new one.
            let mut deltas: Vec<(i64, &str, i64, i64)> = Vec::new();
            if let Some(p) = prev.as_ref().filter(|p| p.counts()) {
                deltas.push((-p.amount_minor, &p.currency, -1, p.placed_at));
            }
            if row.counts() {
                deltas.push((row.amount_minor, &row.currency, 1, row.placed_at));
            }
            for (value, currency, orders, at) in deltas {
                sqlx::query(
                    "INSERT INTO events (id, merchant_id, kind, at, shopper_id, store_id, department_id, expert_id, conversation_id, value, data_json) \
                     VALUES ($1, $2, 'order', $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(m.as_str())
                .bind(at)
                .bind(&row.shopper_id)
                .bind(row.store_id.as_deref())
                .bind(row.department_id.as_deref())
                .bind(row.expert_id.as_deref())
                .bind(row.conversation_id.as_deref())
                .bind(value)
                .bind(serde_json::json!({"currency": currency, "orders": orders, "order_id": row.order_id}).to_string())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(if prev.is_some() {
            OrderOutcome::Updated(row)
        } else {
            OrderOutcome::Created(row)
        })
    }

    /// Attributed revenue per conversation, for the conversations export.
    pub async fn conversation_revenue(&self, m: Tenant<'_>, ids: &[String]) -> Result<HashMap<String, Vec<(String, i64)>>> {
        let mut out: HashMap<String, Vec<(String, i64)>> = HashMap::new();
        for chunk in ids.chunks(200) {
            if chunk.is_empty() {
                continue;
            }
            let sql = format!(
                "SELECT conversation_id, currency, CAST(SUM(amount_minor) AS BIGINT) FROM orders WHERE merchant_id = $1 AND conversation_id IN ({}) \
                 AND status IN ('placed', 'paid', 'fulfilled') GROUP BY conversation_id, currency",
                placeholders(chunk.len(), 2)
            );
            let mut q = sqlx::query_as::<_, (String, String, i64)>(&sql).bind(m.as_str());
            for id in chunk {
                q = q.bind(id);
            }
            for (c, cur, v) in q.fetch_all(&self.pool).await? {
                out.entry(c).or_default().push((cur, v));
            }
        }
        Ok(out)
    }

    /// Currencies of attributed orders placed in [from, to).
    pub async fn order_currencies(&self, m: Tenant<'_>, from: i64, to: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT currency FROM orders WHERE merchant_id = $1 AND conversation_id IS NOT NULL AND placed_at >= $2 AND placed_at < $3 \
             ORDER BY currency",
        )
        .bind(m.as_str())
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}

/// The (merchant, grain, bucket)s a roll writes to: a handful (this minute, hour and day).
fn touched_buckets(chunks: &[RollChunk]) -> Vec<(&str, &'static str, i64)> {
    let mut b: Vec<_> = chunks
        .iter()
        .flat_map(|c| c.adds.iter().map(|(k, _)| (k.merchant_id.as_str(), k.grain, k.bucket)))
        .collect();
    b.sort();
    b.dedup();
    b
}

fn add_bucket_rows(
    old: &mut HashMap<RollKey, String>,
    merchant: &str,
    grain: &'static str,
    bucket: i64,
    rows: Vec<(String, String, String, String)>,
) {
    for (store_id, department_id, expert_id, stats) in rows {
        let key = RollKey {
            merchant_id: merchant.to_owned(),
            grain,
            bucket,
            store_id,
            department_id,
            expert_id,
        };
        old.insert(key, stats);
    }
}

/// Write one chunk's rollup rows (old value merged with what it adds) and settle its events.
fn chunk_statements(chunk: &RollChunk, old: &HashMap<RollKey, String>) -> Result<Vec<(String, Vec<Param>)>> {
    let mut merged = Vec::with_capacity(chunk.adds.len());
    for (k, add) in &chunk.adds {
        let mut stats = match old.get(k) {
            Some(s) => serde_json::from_str::<Stats>(s).map_err(|e| StorageError::Corrupt(format!("rollup: {e}")))?,
            None => Stats::default(),
        };
        stats.merge(add);
        merged.push((k, serde_json::to_string(&stats).expect("stats")));
    }
    let mut out = Vec::new();
    for rows in merged.chunks(100) {
        let sql = format!(
            "INSERT INTO rollups (merchant_id, grain, bucket, store_id, department_id, expert_id, stats) VALUES {} \
             ON CONFLICT (merchant_id, grain, bucket, store_id, department_id, expert_id) DO UPDATE SET stats = excluded.stats",
            super::value_rows(rows.len(), 7)
        );
        let mut params = Vec::with_capacity(rows.len() * 7);
        for (k, stats) in rows {
            params.extend([
                Param::text(&k.merchant_id),
                Param::text(k.grain),
                Param::Int(k.bucket),
                Param::text(&k.store_id),
                Param::text(&k.department_id),
                Param::text(&k.expert_id),
                Param::Text(stats.clone()),
            ]);
        }
        out.push((sql, params));
    }
    for (ids, sql) in [
        (&chunk.delete, "DELETE FROM events WHERE id IN"),
        (&chunk.mark, "UPDATE events SET rolled = 1 WHERE id IN"),
    ] {
        for part in ids.chunks(300) {
            out.push((
                format!("{sql} ({})", placeholders(part.len(), 1)),
                part.iter().map(|id| Param::text(id)).collect(),
            ));
        }
    }
    Ok(out)
}

/// One message of a transcript export.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct TranscriptRow {
    pub conversation_id: String,
    pub seq: i64,
    pub created_at: i64,
    pub author_role: String,
    pub expert_id: Option<String>,
    pub expert_name: Option<String>,
    pub shopper_id: String,
    pub kind: String,
    pub body: String,
    /// A photo's or card's data (issue 24: the photo's id for its link).
    pub data_json: Option<String>,
}

impl TranscriptRow {
    /// Overwrite this row with `r` (the columns of [`export_messages_sql`]), reusing its strings.
    fn fill_from_sqlite(&mut self, r: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
        fn text(into: &mut String, r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<()> {
            into.clear();
            into.push_str(r.get_ref(i)?.as_str()?);
            Ok(())
        }
        fn opt_text(into: &mut Option<String>, r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<()> {
            match (r.get_ref(i)?.as_str_or_null()?, into.as_mut()) {
                (None, _) => *into = None,
                (Some(v), Some(s)) => {
                    s.clear();
                    s.push_str(v);
                }
                (Some(v), None) => *into = Some(v.to_owned()),
            }
            Ok(())
        }
        text(&mut self.conversation_id, r, 0)?;
        self.seq = r.get(1)?;
        self.created_at = r.get(2)?;
        text(&mut self.author_role, r, 3)?;
        opt_text(&mut self.expert_id, r, 4)?;
        opt_text(&mut self.expert_name, r, 5)?;
        text(&mut self.shopper_id, r, 6)?;
        text(&mut self.kind, r, 7)?;
        text(&mut self.body, r, 8)?;
        opt_text(&mut self.data_json, r, 9)
    }
}

/// The page of a transcript export: messages in [$2, $3) of merchant $1, the filters that are
/// set, then after the keyset (created_at, conversation, seq) in the last three parameters.
fn export_messages_sql(f: &RollupFilter, limit: i64) -> String {
    let mut n = 4;
    let filters = conv_filter_sql(f, &mut n);
    let keyset = format!(
        " AND (m.created_at > ${a} OR (m.created_at = ${a} AND (m.conversation_id > ${b} OR (m.conversation_id = ${b} AND m.seq > ${c}))))",
        a = n,
        b = n + 1,
        c = n + 2
    );
    format!(
        "SELECT m.conversation_id, m.seq, m.created_at, m.author_role, m.expert_id, e.name AS expert_name, c.shopper_id, m.kind, m.body, m.data_json \
         FROM messages m JOIN conversations c ON c.id = m.conversation_id LEFT JOIN experts e ON e.id = m.expert_id \
         WHERE m.merchant_id = $1 AND m.created_at >= $2 AND m.created_at < $3{filters}{keyset} \
         ORDER BY m.created_at, m.conversation_id, m.seq LIMIT {}",
        limit.clamp(1, 10_000)
    )
}

/// `AND c.store_id = $n …` for the filters that are set, numbering from `next`.
fn conv_filter_sql(f: &RollupFilter, next: &mut usize) -> String {
    let mut sql = String::new();
    for (col, v) in [
        ("c.store_id", &f.store_id),
        ("c.department_id", &f.department_id),
        ("c.expert_id", &f.expert_id),
    ] {
        if v.is_some() {
            sql.push_str(&format!(" AND {col} = ${next}"));
            *next += 1;
        }
    }
    sql
}

fn filter_values(f: &RollupFilter) -> impl Iterator<Item = &String> {
    [&f.store_id, &f.department_id, &f.expert_id].into_iter().flatten()
}

impl Db {
    /// Conversations created in [from, to), oldest first, after the keyset (created_at, id).
    pub async fn export_conversations(
        &self,
        m: Tenant<'_>,
        f: &RollupFilter,
        after: Option<&(i64, String)>,
        limit: i64,
    ) -> Result<Vec<super::ConversationRow>> {
        let mut n = 4;
        let filters = conv_filter_sql(f, &mut n);
        let keyset = format!(" AND (c.created_at > ${} OR (c.created_at = ${} AND c.id > ${}))", n, n, n + 1);
        let sql = format!(
            "{} WHERE c.merchant_id = $1 AND c.created_at >= $2 AND c.created_at < $3{filters}{keyset} ORDER BY c.created_at, c.id LIMIT {}",
            super::chat::CONV_SELECT,
            limit.clamp(1, 10_000)
        );
        let mut params = vec![Param::text(m.as_str()), Param::Int(f.from), Param::Int(f.to)];
        params.extend(filter_values(f).map(|v| Param::text(v)));
        let (t, id) = after.cloned().unwrap_or((i64::MIN, String::new()));
        params.extend([Param::Int(t), Param::Text(id)]);
        super::tx::sqlx_rows(&self.pool, &sql, &params).await
    }

    pub async fn count_conversations(&self, m: Tenant<'_>, f: &RollupFilter) -> Result<i64> {
        let mut n = 4;
        let filters = conv_filter_sql(f, &mut n);
        let sql =
            format!("SELECT COUNT(*) FROM conversations c WHERE c.merchant_id = $1 AND c.created_at >= $2 AND c.created_at < $3{filters}");
        let mut q = sqlx::query_as::<_, (i64,)>(&sql).bind(m.as_str()).bind(f.from).bind(f.to);
        for v in filter_values(f) {
            q = q.bind(v);
        }
        Ok(q.fetch_one(&self.pool).await?.0)
    }

    /// Messages sent in [from, to), in time order, after the keyset (created_at, conversation, seq).
    pub async fn export_messages(
        &self,
        m: Tenant<'_>,
        f: &RollupFilter,
        after: Option<&(i64, String, i64)>,
        limit: i64,
    ) -> Result<Vec<TranscriptRow>> {
        let sql = export_messages_sql(f, limit);
        let mut q = sqlx::query_as::<_, TranscriptRow>(&sql).bind(m.as_str()).bind(f.from).bind(f.to);
        for v in filter_values(f) {
            q = q.bind(v);
        }
        let (t, c, s) = after.cloned().unwrap_or((i64::MIN, String::new(), 0));
        Ok(q.bind(t).bind(c).bind(s).fetch_all(&self.pool).await?)
    }

    /// On an SQLite file: the page [`Db::export_messages`] reads, read on this thread from a
    /// kept read connection (see `sqlite_reader`) and handed to `each` row by row in one reused
    /// value, so a row costs no allocation and no hand-off to sqlx's worker thread. Blocks for
    /// the page (milliseconds): call it from a blocking thread. `None` on other databases.
    /// Returns how many rows `each` was given.
    pub fn each_exported_message(
        &self,
        m: Tenant<'_>,
        f: &RollupFilter,
        after: Option<&(i64, String, i64)>,
        limit: i64,
        each: &mut dyn FnMut(&TranscriptRow),
    ) -> Option<Result<usize>> {
        let reader = self.reader.as_ref()?;
        let sql = export_messages_sql(f, limit);
        let mut params = vec![Param::text(m.as_str()), Param::Int(f.from), Param::Int(f.to)];
        params.extend(filter_values(f).map(|v| Param::text(v)));
        let (t, c, s) = after.cloned().unwrap_or((i64::MIN, String::new(), 0));
        params.extend([Param::Int(t), Param::Text(c), Param::Int(s)]);
        Some(reader.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(&params))?;
            let mut row = TranscriptRow::default();
            let mut n = 0;
            while let Some(r) = rows.next()? {
                row.fill_from_sqlite(r)?;
                each(&row);
                n += 1;
            }
            Ok(n)
        }))
    }

    pub async fn count_messages(&self, m: Tenant<'_>, f: &RollupFilter) -> Result<i64> {
        let mut n = 4;
        let filters = conv_filter_sql(f, &mut n);
        let join = if filters.is_empty() {
            ""
        } else {
            " JOIN conversations c ON c.id = m.conversation_id"
        };
        let sql =
            format!("SELECT COUNT(*) FROM messages m{join} WHERE m.merchant_id = $1 AND m.created_at >= $2 AND m.created_at < $3{filters}");
        let mut q = sqlx::query_as::<_, (i64,)>(&sql).bind(m.as_str()).bind(f.from).bind(f.to);
        for v in filter_values(f) {
            q = q.bind(v);
        }
        Ok(q.fetch_one(&self.pool).await?.0)
    }
}

/// A fact from the shopper's journey (not a page view).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct JourneyEvent {
    pub at: i64,
    pub kind: String,
    #[schema(required = true)]
    pub conversation_id: Option<String>,
    #[schema(required = true)]
    pub store_id: Option<String>,
    #[schema(required = true)]
    pub department_id: Option<String>,
    #[schema(required = true)]
    pub expert_id: Option<String>,
    #[schema(required = true)]
    pub value: Option<i64>,
    /// `order_stage` only: `{"order_id", "stage", "carrier", "tracking_number", "tracking_url"}`
    /// (the order's handling moved on; never its internal notes).
    #[schema(required = true)]
    pub detail: Option<serde_json::Value>,
}

#[derive(sqlx::FromRow)]
struct JourneyRow {
    at: i64,
    kind: String,
    conversation_id: Option<String>,
    store_id: Option<String>,
    department_id: Option<String>,
    expert_id: Option<String>,
    value: Option<i64>,
    detail: Option<String>,
}

/// Kinds whose `data_json` the journey shows (others keep theirs internal).
const JOURNEY_DETAIL_KINDS: [&str; 1] = ["order_stage"];

impl Db {
    /// The shopper's latest page views, newest first.
    pub async fn page_views(&self, m: Tenant<'_>, shopper: &str, limit: i64) -> Result<Vec<crate::protocol::PageVisit>> {
        let rows: Vec<(i64, Option<String>)> = self
            .hot_rows(
                "SELECT at, data_json FROM events WHERE merchant_id = $1 AND shopper_id = $2 AND kind = 'page_view' ORDER BY at DESC LIMIT $3",
                &[Param::text(m.as_str()), Param::text(shopper), Param::Int(limit)],
            )
            .await?;
        #[derive(serde::Deserialize)]
        struct View {
            url: String,
            title: Option<String>,
            product: Option<crate::protocol::Product>,
        }
        Ok(rows
            .into_iter()
            .filter_map(|(at, data)| {
                let v: View = serde_json::from_str(data.as_deref()?).ok()?;
                Some(crate::protocol::PageVisit {
                    at,
                    url: v.url,
                    title: v.title.filter(|t| !t.is_empty()),
                    product: v.product,
                })
            })
            .collect())
    }

    /// The shopper's other events (requests, claims, ratings, orders…), newest first.
    pub async fn shopper_events(&self, m: Tenant<'_>, shopper: &str, limit: i64) -> Result<Vec<JourneyEvent>> {
        let rows: Vec<JourneyRow> = sqlx::query_as(
            "SELECT at, kind, conversation_id, store_id, department_id, NULLIF(expert_id, '') AS expert_id, value, \
             CASE WHEN kind = 'order_stage' THEN data_json END AS detail FROM events \
             WHERE merchant_id = $1 AND shopper_id = $2 AND kind <> 'page_view' ORDER BY at DESC LIMIT $3",
        )
        .bind(m.as_str())
        .bind(shopper)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| JourneyEvent {
                detail: r
                    .detail
                    .filter(|_| JOURNEY_DETAIL_KINDS.contains(&r.kind.as_str()))
                    .and_then(|d| serde_json::from_str(&d).ok()),
                at: r.at,
                kind: r.kind,
                conversation_id: r.conversation_id,
                store_id: r.store_id,
                department_id: r.department_id,
                expert_id: r.expert_id,
                value: r.value,
            })
            .collect())
    }
}
