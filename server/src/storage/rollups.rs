//! Rollups: events folded into per-grain counters, and the reads behind Analytics (orders,
//! export reads and the shopper journey have files of their own).

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
