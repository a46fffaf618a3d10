//! SQLite's hot reads on the calling thread.
//!
//! Through sqlx every SQLite query is handed to the driver's worker thread and its answer
//! handed back: two thread wake-ups for a read that itself takes a few tens of microseconds.
//! When a burst of new chats fills both cores, those wake-ups were about a fifth of the
//! server's CPU (`perf`, docs/benchmarks.md, seventh round). So the reads on a chat's path
//! (a conversation by id, a shopper's conversations, the contact expert, an offer's first
//! message and page trail) run here instead: on the task's own thread, on one of a few
//! connections kept open, with the same SQL text the sqlx path runs for PostgreSQL.
//!
//! A read never waits for the writer (WAL: readers see the last commit and go on), so holding
//! the runtime thread for it is like any other short piece of work. Should SQLite answer
//! "busy" (a reader can meet a moment when the log is being restarted), the connection polls
//! every 50 µs for at most 20 ms before the read fails.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use super::Result;

/// Connections kept open between reads: one per runtime thread and a few for blocking threads.
const KEEP: usize = 8;

/// Read connections to one SQLite file. Cheap to share (`Arc`); each read borrows a connection.
pub struct SqliteReader {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl std::fmt::Debug for SqliteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReader").field("path", &self.path).finish()
    }
}

impl SqliteReader {
    /// Readers of the database file at `path` (already created, in WAL mode). The first
    /// connection opens here, so a path that cannot be read fails at start-up.
    pub fn open(path: PathBuf) -> Result<SqliteReader> {
        let first = connect(&path)?;
        Ok(SqliteReader {
            path,
            idle: Mutex::new(vec![first]),
        })
    }

    /// Run `f` on a read connection, on this thread. Each statement `f` runs is a read
    /// transaction of its own, which sees every commit made before it began.
    pub fn read<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> Result<T>) -> Result<T> {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match taken {
            Some(c) => c,
            None => connect(&self.path)?,
        };
        let out = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < KEEP {
            idle.push(conn);
        }
        out
    }
}

fn connect(path: &std::path::Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    // A read connection never writes: `query_only` turns any attempt into an error.
    conn.execute_batch("PRAGMA query_only = ON;")?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.busy_handler(Some(|tries: i32| {
        std::thread::sleep(Duration::from_micros(50));
        tries < 400
    }))?;
    Ok(conn)
}
