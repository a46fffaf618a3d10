//! The one storage interface, over SQLite (embedded default) or PostgreSQL.
//!
//! Both backends run the same SQL through sqlx's `Any` driver: the two migration folders keep
//! column types identical (TEXT ids, BIGINT times and flags, JSON text for small settings) and
//! every query uses `$n` placeholders in ascending order, which SQLite accepts too. So each
//! query lives in exactly one place. Where the dialects differ, [`Backend`] says which one runs.
//!
//! Tenancy: every method that touches merchant data takes the [`MerchantId`] and filters on it;
//! an object of another merchant is indistinguishable from one that does not exist
//! ([`StorageError::NotFound`]).

mod accounts;
mod api_keys;
mod attachments;
mod chat;
mod demos;
mod expert_sessions;
mod experts;
mod export_reads;
mod journey;
mod media_chat;
mod merchants;
mod messaging;
mod orders;
mod outbox;
pub use outbox::events;
mod push;
mod rollups;
mod saved_replies;
mod shoppers;
mod sqlite_reader;
mod sqlite_writer;
mod stores;
pub(crate) mod tx;
mod webhooks;

pub use accounts::*;
pub use api_keys::*;
pub use attachments::*;
pub use chat::*;
pub use demos::*;
pub use expert_sessions::*;
pub use experts::*;
pub use export_reads::*;
pub use journey::*;
pub use media_chat::*;
pub use merchants::*;
pub use messaging::*;
pub use orders::*;
pub use outbox::*;
pub use push::*;
pub use rollups::*;
pub use saved_replies::*;
pub use shoppers::*;
pub use sqlite_reader::SqliteReader;
pub use sqlite_writer::SqliteWriter;
pub use stores::*;
pub use webhooks::*;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use crate::config::ServiceUrl;
use crate::ids::MerchantId;
pub(crate) use sqlite_writer::{bind_all, Param};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No such object for this merchant (it may exist for another one).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule would be broken; the message names it.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The request is valid JSON but refers to something that cannot be used (e.g. a department
    /// of another store); the message is safe to show.
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Writer(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

impl StorageError {
    /// Map a unique-constraint violation to `Conflict(what)`, anything else to `Db`.
    pub fn unique(what: &str) -> impl FnOnce(sqlx::Error) -> StorageError + '_ {
        move |e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StorageError::Conflict(what.to_owned()),
            _ => StorageError::Db(e),
        }
    }
}

/// Handle to the database. Cheap to clone.
///
/// Reads go to `pool`; every write goes to `writer`. On SQLite the writer is a single
/// connection: writes then queue fairly in the pool instead of colliding on SQLite's write lock,
/// whose busy handler waits by sleeping (up to 100 ms a step) — the source of long latency
/// tails. Readers never block the writer in WAL mode. On PostgreSQL both are the same pool.
#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub writer: AnyPool,
    pub backend: Backend,
    /// SQLite (a file): the thread that runs the hot writes (see `sqlite_writer`).
    pub fast: Option<SqliteWriter>,
    /// SQLite (a file): the connections that run the hot reads (see `sqlite_reader`).
    pub reader: Option<std::sync::Arc<SqliteReader>>,
    /// The chat's webhook events (see `chat::hooks`): their timing, and the outbox worker's
    /// wake-up after a chat write enqueued some.
    pub hooks: std::sync::Arc<ChatHooks>,
}

impl Db {
    /// Open the database named by `url`, creating an SQLite file (and its folder) if needed.
    pub async fn connect(url: &ServiceUrl) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.is_postgres() { Backend::Postgres } else { Backend::Sqlite };
        let mut raw = url.expose().to_owned();
        let mut file = None;
        if backend == Backend::Sqlite {
            let path = raw.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or_default().to_owned();
            if path != ":memory:" {
                file = Some(std::path::PathBuf::from(&path));
                if let Some(parent) = std::path::Path::new(&path).parent() {
                    if !parent.as_os_str().is_empty() {
                        std::fs::create_dir_all(parent)?;
                    }
                }
            }
            if !raw.contains("mode=") {
                raw.push_str(if raw.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
            }
        }
        let options = AnyConnectOptions::from_str(&raw)?;
        let mut pool_options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 20 })
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            pool_options = pool_options.after_connect(sqlite_pragmas);
        }
        let pool = pool_options.connect_with(options.clone()).await?;
        let writer = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(sqlite_pragmas)
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => pool.clone(),
        };
        let (fast, reader) = match file {
            Some(path) => (
                Some(SqliteWriter::open(path.clone())?),
                Some(std::sync::Arc::new(SqliteReader::open(path)?)),
            ),
            None => (None, None),
        };
        Ok(Db {
            pool,
            writer,
            backend,
            fast,
            reader,
            hooks: Default::default(),
        })
    }

    /// Apply every pending migration of this backend's dialect.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.writer).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.writer).await?,
        }
        Ok(())
    }

    /// Begin a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so a read-then-write transaction waits for other writers
    /// (busy_timeout) instead of failing when another connection wrote in between.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        })
    }

    /// The rows of a read on a chat's path: on SQLite on this thread (see `sqlite_reader`),
    /// on PostgreSQL through the pool. One SQL text and one row mapping for both.
    pub(crate) async fn hot_rows<T: tx::FromCols + Send>(&self, sql: &str, params: &[Param]) -> Result<Vec<T>> {
        if let Some(reader) = &self.reader {
            return reader.read(|c| tx::sqlite_rows(c, sql, params));
        }
        tx::sqlx_rows(&self.pool, sql, params).await
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Per-connection SQLite settings.
/// synchronous = FULL: a commit is on disk (fsync of the WAL) before it returns, so an
/// acknowledged message survives a power cut, not only a crash. The message writer batches
/// commits, which keeps the fsync cost per message small. No connection checkpoints the WAL
/// on commit: a thread of the writer does it (see `sqlite_writer`).
fn sqlite_pragmas(
    conn: &mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        conn.execute(sqlx::raw_sql(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
             PRAGMA wal_autocheckpoint = 0;",
        ))
        .await?;
        Ok(())
    })
}

/// Cursor pagination: fetch `limit + 1` rows ordered by id after the cursor; the extra row
/// tells whether there is a next page.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub after: Option<String>,
    pub limit: u32,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        PageRequest { after: None, limit }
    }
    pub(crate) fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }
    pub(crate) fn after(&self) -> &str {
        self.after.as_deref().unwrap_or("")
    }
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub(crate) fn from_rows(mut rows: Vec<T>, req: &PageRequest, key: impl Fn(&T) -> String) -> Self {
        let more = rows.len() > req.limit as usize;
        rows.truncate(req.limit as usize);
        let next_cursor = if more { rows.last().map(key) } else { None };
        Page { items: rows, next_cursor }
    }
}

/// `items` in pieces whose sizes come from a small fixed set: `max`, then powers of two below
/// it (37 rows → 32 + 4 + 1). A multi-row statement built per piece then has only a few distinct
/// texts, which stay in the prepared-statement cache; one text per batch size missed it, and
/// compiling SQL was ~7% of the server's CPU at 10,000 messages/s (issue 25's profile).
pub(crate) fn shaped_chunks<T>(items: &[T], max: usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let n = if rest.len() >= max {
            max
        } else {
            1usize << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (piece, tail) = rest.split_at(n);
        out.push(piece);
        rest = tail;
    }
    out
}

/// "($1, …, $cols), ($cols+1, …), …" for a multi-row `VALUES` of `rows` rows.
pub(crate) fn value_rows(rows: usize, cols: usize) -> String {
    value_rows_from(rows, cols, 1)
}

/// As [`value_rows`], numbering from `$first` (earlier placeholders are the statement's own).
pub(crate) fn value_rows_from(rows: usize, cols: usize, first: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(cols, r * cols + first)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn json_col<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StorageError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("settings serialise")
}

/// Every storage method that touches merchant data takes this, so it cannot be forgotten.
pub type Tenant<'a> = &'a MerchantId;

/// "$a, $a+1, …" for `n` values starting at placeholder number `first`.
pub(crate) fn placeholders(n: usize, first: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
