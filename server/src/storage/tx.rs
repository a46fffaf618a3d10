//! One write transaction, whichever driver runs it, so a write is written once.
//!
//! On SQLite the writes someone waits on run on the writer thread's own rusqlite connection
//! ([`super::sqlite_writer`]); on PostgreSQL (and for SQLite's administrative writes) in an sqlx
//! transaction. A write that reads, decides and writes is one `async fn` over [`WriteTx`], and
//! [`write_tx!`] runs it in the right place: on the writer thread the future never waits
//! (rusqlite answers at once), so it is polled to its end there. Rows are read by column
//! position with [`FromCols`], one mapping for both drivers.

use std::future::Future;

use super::sqlite_writer::{bind_all, Param};
use super::{Result, StorageError};

/// A column value both drivers decode: `String`, `i64` and their `Option`s.
pub(crate) trait Col: Sized + rusqlite::types::FromSql + for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> {}
impl<T> Col for T where T: rusqlite::types::FromSql + for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any> {}

/// A row of either driver, read by column position (the SELECT's order).
pub(crate) trait Cols {
    fn col<T: Col>(&self, i: usize) -> Result<T>;
}

impl Cols for rusqlite::Row<'_> {
    fn col<T: Col>(&self, i: usize) -> Result<T> {
        Ok(self.get(i)?)
    }
}

impl Cols for sqlx::any::AnyRow {
    fn col<T: Col>(&self, i: usize) -> Result<T> {
        Ok(sqlx::Row::try_get(self, i)?)
    }
}

/// A value read from one row of either driver.
pub(crate) trait FromCols: Sized {
    fn from_cols(r: &impl Cols) -> Result<Self>;
}

impl FromCols for String {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        r.col(0)
    }
}

impl FromCols for i64 {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        r.col(0)
    }
}

impl<A: Col> FromCols for (A,) {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok((r.col(0)?,))
    }
}

impl<A: Col, B: Col> FromCols for (A, B) {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok((r.col(0)?, r.col(1)?))
    }
}

impl<A: Col, B: Col, C: Col> FromCols for (A, B, C) {
    fn from_cols(r: &impl Cols) -> Result<Self> {
        Ok((r.col(0)?, r.col(1)?, r.col(2)?))
    }
}

/// A column holding one of an enum's stored names (`status`): an unknown name is a corrupt row.
pub(crate) fn named<T: TryFrom<String, Error = String>>(r: &impl Cols, i: usize) -> Result<T> {
    T::try_from(r.col::<String>(i)?).map_err(StorageError::Corrupt)
}

/// The rows of `sql` on a rusqlite connection.
pub(crate) fn sqlite_rows<T: FromCols>(c: &rusqlite::Connection, sql: &str, params: &[Param]) -> Result<Vec<T>> {
    let mut stmt = c.prepare_cached(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(T::from_cols(r)?);
    }
    Ok(out)
}

/// The rows of `sql` through sqlx (a pool, a connection or a transaction).
pub(crate) async fn sqlx_rows<'q, 'e, 'c: 'e, T, E>(e: E, sql: &'q str, params: &'q [Param]) -> Result<Vec<T>>
where
    T: FromCols,
    E: 'e + sqlx::Executor<'c, Database = sqlx::Any>,
    'q: 'e,
{
    let rows = bind_all(sqlx::query(sql), params).fetch_all(e).await?;
    rows.iter().map(T::from_cols).collect()
}

/// A write transaction of either driver.
pub(crate) trait WriteTx {
    /// The rows `sql` reads.
    fn rows<T: FromCols>(&mut self, sql: &str, params: &[Param]) -> impl Future<Output = Result<Vec<T>>>;
    /// Run `sql`; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param]) -> impl Future<Output = Result<u64>>;
}

/// The SQLite writer thread's connection, inside its transaction.
pub(crate) struct OnWriter<'c>(pub &'c rusqlite::Connection);

impl WriteTx for OnWriter<'_> {
    async fn rows<T: FromCols>(&mut self, sql: &str, params: &[Param]) -> Result<Vec<T>> {
        sqlite_rows(self.0, sql, params)
    }
    async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        Ok(super::sqlite_writer::execute(self.0, sql, params)? as u64)
    }
}

/// An sqlx transaction (PostgreSQL, or SQLite's administrative writes).
pub(crate) struct InSqlx<'t>(pub &'t mut sqlx::Transaction<'static, sqlx::Any>);

impl WriteTx for InSqlx<'_> {
    async fn rows<T: FromCols>(&mut self, sql: &str, params: &[Param]) -> Result<Vec<T>> {
        sqlx_rows(&mut **self.0, sql, params).await
    }
    async fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        Ok(bind_all(sqlx::query(sql), params).execute(&mut **self.0).await?.rows_affected())
    }
}

/// `body`, its error type fixed (an `async` block's `?` alone cannot say which it is).
pub(crate) fn typed<T>(body: impl Future<Output = Result<T>>) -> impl Future<Output = Result<T>> {
    body
}

/// `write_tx!(db, lane, |tx| body)`: run `body`, a future over `tx: &mut impl WriteTx` that
/// answers a `Result`, in one write transaction — on SQLite on the writer thread (in `lane`,
/// committed with its group), elsewhere in an sqlx transaction committed when `body` succeeds.
/// An error rolls back what `body` wrote. Evaluates to the `Result`.
macro_rules! write_tx {
    ($db:expr, $lane:expr, |$tx:ident| $body:expr) => {{
        #[allow(unused_imports)]
        use $crate::storage::tx::WriteTx as _;
        let db: &$crate::storage::Db = $db;
        match &db.fast {
            Some(fast) => {
                fast.run($lane, move |c| {
                    let $tx = &mut $crate::storage::tx::OnWriter(c);
                    ::futures::executor::block_on($crate::storage::tx::typed($body))
                })
                .await
            }
            None => {
                async {
                    let mut t = db.begin_write().await?;
                    let v = {
                        let $tx = &mut $crate::storage::tx::InSqlx(&mut t);
                        $crate::storage::tx::typed($body).await?
                    };
                    t.commit().await?;
                    Ok::<_, $crate::storage::StorageError>(v)
                }
                .await
            }
        }
    }};
}
pub(crate) use write_tx;
