//! SQLite's writes on a thread of their own.
//!
//! Through sqlx every SQL statement is a hand-off to the driver's worker thread and back; a
//! message batch (begin, a few statements, commit) was five such round trips, and on a busy
//! two-core machine each waits to be scheduled twice. So on SQLite the writes that sit on a
//! person's wait (messages, claims, read marks, offers, new shoppers and conversations, chat
//! ends and transfers) and the analytics writes run here instead: a plain thread owning one
//! connection, which runs each job whole and answers once. Jobs that queue up while a commit
//! is on its way share the next one (group commit). The SQL is the same text the sqlx path
//! runs for PostgreSQL (`$n` placeholders are numbered parameters in SQLite too), bound from
//! [`Param`]s, and the code around it is written once too: see [`super::tx`].
//!
//! The other (administrative) writes keep sqlx's writer connection. SQLite allows one writer
//! at a time: when the two meet, this thread polls for the lock every 50 µs (a custom busy
//! handler; the default one sleeps 1, 2, 5, 10… ms), and sqlx's connection waits with its
//! `busy_timeout`.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::{Result, StorageError};

/// A bound parameter, for either driver.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    NullText,
    NullInt,
}

impl Param {
    pub(crate) fn text(s: &str) -> Param {
        Param::Text(s.to_owned())
    }
    pub(crate) fn opt_text(s: Option<&str>) -> Param {
        s.map_or(Param::NullText, Param::text)
    }
    pub(crate) fn opt_int(i: Option<i64>) -> Param {
        i.map_or(Param::NullInt, Param::Int)
    }
}

/// Bound by reference: a text parameter is handed to SQLite as it is, not copied first.
impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Param::Text(s) => ValueRef::Text(s.as_bytes()),
            Param::Int(i) => ValueRef::Integer(*i),
            Param::NullText | Param::NullInt => ValueRef::Null,
        }))
    }
}

impl From<&str> for Param {
    fn from(s: &str) -> Param {
        Param::text(s)
    }
}
impl From<&String> for Param {
    fn from(s: &String) -> Param {
        Param::text(s)
    }
}
impl From<String> for Param {
    fn from(s: String) -> Param {
        Param::Text(s)
    }
}
impl From<i64> for Param {
    fn from(i: i64) -> Param {
        Param::Int(i)
    }
}
impl From<Option<&str>> for Param {
    fn from(s: Option<&str>) -> Param {
        Param::opt_text(s)
    }
}
impl From<Option<String>> for Param {
    fn from(s: Option<String>) -> Param {
        s.map_or(Param::NullText, Param::Text)
    }
}
impl From<Option<i64>> for Param {
    fn from(i: Option<i64>) -> Param {
        Param::opt_int(i)
    }
}

/// Bind `params` to an sqlx query, in order.
pub(crate) fn bind_all<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    params: &'q [Param],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    params.iter().fold(q, |q, p| match p {
        Param::Text(s) => q.bind(s.as_str()),
        Param::Int(i) => q.bind(*i),
        Param::NullText => q.bind(None::<String>),
        Param::NullInt => q.bind(None::<i64>),
    })
}

/// Run `sql` with `params` on a rusqlite connection; the number of rows changed.
pub(crate) fn execute(c: &rusqlite::Connection, sql: &str, params: &[Param]) -> rusqlite::Result<usize> {
    c.prepare_cached(sql)?.execute(rusqlite::params_from_iter(params))
}

/// A job runs inside the writer's transaction (in a savepoint of its own unless it is the
/// group's first, `true`) and returns whether it failed and what to do once the transaction has
/// ended: answer its caller, told whether it committed.
type Job = Box<dyn FnOnce(&rusqlite::Connection, bool) -> (bool, Box<dyn FnOnce(bool) + Send>) + Send>;

/// Which queue a job waits in. Someone waits for a [`Lane::Now`] job (a message's ack, a
/// claim, a new chat); a [`Lane::Later`] job is bookkeeping nobody waits on (read marks,
/// offer marks, analytics) and runs only when no `Now` job is waiting, one small job per commit,
/// so a burst of bookkeeping never sits in front of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    Now,
    Later,
}

/// The thread and its connection. Cheap to clone; the thread ends when the last clone is dropped.
#[derive(Clone)]
pub struct SqliteWriter {
    jobs: mpsc::Sender<(Lane, Job)>,
    /// The checkpointer thread runs while this lives.
    _alive: std::sync::Arc<()>,
    /// The writer thread's id and how it was favoured (see [`favour_this_thread`]).
    thread: (i64, Favoured),
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter").field("thread", &self.thread).finish()
    }
}

/// At most this many jobs share one commit.
const GROUP: usize = 64;

impl SqliteWriter {
    /// Open the database file (already created by sqlx) on a new thread.
    pub fn open(path: PathBuf) -> anyhow::Result<SqliteWriter> {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0; \
             PRAGMA temp_store = MEMORY;",
        )?;
        // temp_store = MEMORY: each job runs in a savepoint, and a savepoint's sub-journal (the
        // pages to put back on ROLLBACK TO) is a temporary file; in memory it costs no file
        // writes. It only ever holds the pages one group of jobs changed, and durability is the
        // WAL's business, not the sub-journal's. (~10% of the writer's CPU went to that file.)
        conn.set_prepared_statement_cache_capacity(256);
        conn.busy_handler(Some(|tries: i32| {
            // 50 µs a poll, for at most about 10 s (as sqlx's busy_timeout).
            std::thread::sleep(Duration::from_micros(50));
            tries < 200_000
        }))?;
        let (tx, rx) = mpsc::channel::<(Lane, Job)>();
        let (started, ready) = mpsc::sync_channel(1);
        std::thread::Builder::new().name("sqlite-writer".into()).spawn(move || {
            let _ = started.send((thread_id(), favour_this_thread()));
            group_commit(conn, rx)
        })?;
        let thread = ready.recv()?;
        tracing::info!(priority = ?thread.1, "SQLite writer thread started");
        let alive = std::sync::Arc::new(());
        let checkpoints = rusqlite::Connection::open(&path)?;
        let file = std::fs::File::open(&path)?;
        let watch = std::sync::Arc::downgrade(&alive);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_forever(checkpoints, file, watch))?;
        Ok(SqliteWriter {
            jobs: tx,
            _alive: alive,
            thread,
        })
    }

    /// Run `f` in the writer's next transaction and wait until that has committed. `f` runs in a
    /// savepoint: if it fails, what it wrote is undone and the other jobs of the group are not
    /// affected. Its answer is only given once the commit is on disk.
    pub async fn transaction<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    {
        self.run(Lane::Now, f).await
    }

    /// As [`SqliteWriter::transaction`], in the given lane.
    pub(crate) async fn run<T, F>(&self, lane: Lane, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let queued = std::time::Instant::now();
        let job: Job = Box::new(move |c, first| {
            let started = std::time::Instant::now();
            // The first job of a group needs no savepoint: if it fails, the group's transaction
            // holds nothing else and is rolled back whole (see `group_commit`). A savepoint
            // copies every page the job changes into its sub-journal first.
            let done = if first { f(c) } else { in_savepoint(c, f) };
            let failed = done.is_err();
            let name = if lane == Lane::Now { "now" } else { "later" };
            metrics::histogram!("floorwalker_sqlite_job_wait_seconds", "lane" => name).record((started - queued).as_secs_f64());
            metrics::histogram!("floorwalker_sqlite_job_seconds", "lane" => name).record(started.elapsed().as_secs_f64());
            let finish: Box<dyn FnOnce(bool) + Send> = Box::new(move |committed| {
                let _ = tx.send(match done {
                    Ok(v) if committed => Ok(v),
                    Ok(_) => Err(StorageError::Writer("the write could not be committed".into())),
                    Err(e) => Err(e),
                });
            });
            (failed, finish)
        });
        self.jobs
            .send((lane, job))
            .map_err(|_| StorageError::Writer("the SQLite writer thread has stopped".into()))?;
        rx.await
            .map_err(|_| StorageError::Writer("the SQLite writer thread dropped a job".into()))?
    }
}

/// The kernel's id of the calling thread (as in `/proc/self/task`).
fn thread_id() -> i64 {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid has no preconditions.
    return i64::from(unsafe { libc::gettid() });
    #[cfg(not(target_os = "linux"))]
    0
}

/// How the writer thread got ahead of other threads when it wakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Favoured {
    /// Ten nice levels above the process (allowed to root, or with `CAP_SYS_NICE`).
    Nicer,
    /// A short scheduler time slice (any user; Linux 6.12 or later acts on it).
    ShortSlice,
    /// Neither was possible.
    No,
}

/// The writer thread sleeps in every commit's fsync, and whatever it holds up (every message,
/// claim and new chat) waits until it runs again. On a busy machine a thread that wakes from
/// I/O can wait for the core behind other runnable threads; so this one asks to be favoured:
/// ten nice levels up where the process may do that, else a 0.1 ms time slice, with which the
/// kernel's scheduler (EEVDF) lets a waking thread preempt the one running. The checkpoint
/// thread is deliberately left as it is. Measured on the 2-core machine, `loadtest chat` 1,000
/// shoppers / 100 experts at 1,000 messages/s: delivery p99 11.3–12.4 ms without, 8.6–10.5 ms
/// with (docs/benchmarks.md, sixth round).
fn favour_this_thread() -> Favoured {
    #[cfg(target_os = "linux")]
    {
        /// `struct sched_attr` up to `sched_period` (the kernel's SCHED_ATTR_SIZE_VER0).
        #[repr(C)]
        struct SchedAttr {
            size: u32,
            policy: u32,
            flags: u64,
            nice: i32,
            priority: u32,
            runtime: u64,
            deadline: u64,
            period: u64,
        }
        // SAFETY: getpriority/setpriority with who = 0 read and set the calling thread's nice
        // value (per thread on Linux); sched_setattr with pid 0 changes only the calling thread,
        // and `attr` is a valid SCHED_ATTR_SIZE_VER0 struct that outlives the call.
        unsafe {
            *libc::__errno_location() = 0;
            let nice = libc::getpriority(libc::PRIO_PROCESS, 0);
            if *libc::__errno_location() != 0 {
                return Favoured::No;
            }
            if nice > -20 && libc::setpriority(libc::PRIO_PROCESS, 0, (nice - 10).max(-20)) == 0 {
                return Favoured::Nicer;
            }
            let attr = SchedAttr {
                size: std::mem::size_of::<SchedAttr>() as u32,
                policy: libc::SCHED_OTHER as u32,
                flags: 0,
                nice,
                priority: 0,
                runtime: 100_000,
                deadline: 0,
                period: 0,
            };
            if libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) == 0 {
                return Favoured::ShortSlice;
            }
        }
    }
    Favoured::No
}

fn in_savepoint<T>(c: &rusqlite::Connection, f: impl FnOnce(&rusqlite::Connection) -> Result<T>) -> Result<T> {
    c.prepare_cached("SAVEPOINT job")?.execute([])?;
    match f(c) {
        Ok(v) => {
            c.prepare_cached("RELEASE job")?.execute([])?;
            Ok(v)
        }
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(e)
        }
    }
}

/// The jobs that have arrived, by lane.
#[derive(Default)]
struct Waiting {
    now: VecDeque<Job>,
    later: VecDeque<Job>,
}

impl Waiting {
    fn push(&mut self, (lane, job): (Lane, Job)) {
        match lane {
            Lane::Now => self.now.push_back(job),
            Lane::Later => self.later.push_back(job),
        }
    }
    fn take_arrived(&mut self, rx: &mpsc::Receiver<(Lane, Job)>) {
        while let Ok(j) = rx.try_recv() {
            self.push(j);
        }
    }
}

/// The thread: take the jobs waiting (at most [`GROUP`]), run them in one `BEGIN IMMEDIATE`
/// transaction, commit once, then answer them all. A quiet writer commits each job on its own;
/// a busy one shares each fsync between everything that queued up meanwhile. `Now` jobs go
/// first; a `Later` job joins a group only while no `Now` job waits, and at most one does.
fn group_commit(conn: rusqlite::Connection, rx: mpsc::Receiver<(Lane, Job)>) {
    let mut finishers: Vec<Box<dyn FnOnce(bool) + Send>> = Vec::with_capacity(GROUP);
    let mut waiting = Waiting::default();
    loop {
        if waiting.now.is_empty() && waiting.later.is_empty() {
            match rx.recv() {
                Ok(j) => waiting.push(j),
                Err(_) => return,
            }
        }
        waiting.take_arrived(&rx);
        let begin = || conn.prepare_cached("BEGIN IMMEDIATE").and_then(|mut s| s.execute([])).is_ok();
        let mut began = begin();
        // Whether the transaction holds a job's writes yet: until then a job runs without a
        // savepoint, and its failure rolls the transaction back and begins a new one.
        let mut holds_writes = false;
        let mut later_ran = false;
        while finishers.len() < GROUP {
            let job = match waiting.now.pop_front() {
                Some(job) => job,
                None if !later_ran => match waiting.later.pop_front() {
                    Some(job) => {
                        later_ran = true;
                        job
                    }
                    None => break,
                },
                None => break,
            };
            // Without the write lock nothing can be written: the job is dropped unrun, and its
            // caller told so (its answer channel closes).
            if began {
                let first = !holds_writes;
                // A job that panics (a bug) loses its own writes and answer, not the thread.
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&conn, first))) {
                    Ok((failed, finish)) => {
                        if first && failed {
                            let _ = conn.execute_batch("ROLLBACK");
                            began = begin();
                        } else {
                            holds_writes = true;
                        }
                        finishers.push(finish);
                    }
                    Err(_) if first => {
                        let _ = conn.execute_batch("ROLLBACK");
                        began = begin();
                    }
                    Err(_) => {
                        let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                    }
                }
            }
            waiting.take_arrived(&rx);
        }
        let committing = std::time::Instant::now();
        let committed = began && conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([])).is_ok();
        metrics::histogram!("floorwalker_sqlite_commit_seconds").record(committing.elapsed().as_secs_f64());
        if began && !committed {
            let _ = conn.execute_batch("ROLLBACK");
        }
        metrics::histogram!("floorwalker_sqlite_group_size").record(finishers.len() as f64);
        for f in finishers.drain(..) {
            f(committed);
        }
    }
}

/// The WAL is copied back into the database by this thread, not by the commit that happens to
/// cross SQLite's threshold: that commit (and every write queued behind it) would otherwise wait
/// for megabytes to be copied and the database file synced. Every second a PASSIVE checkpoint
/// copies what it can while writers go on: a page that many commits changed meanwhile (a busy
/// conversation's index leaf, its counters' row) is copied and synced once, not once per commit
/// (at 10,000 messages a second the log grows by ~35,000 frames a second, of only ~2,000
/// distinct pages; at 100 ms rounds the copies and the file syncs they cause were ~15 % of the
/// server's CPU). The log only starts again from the beginning after
/// a RESTART checkpoint, and that one holds writers back while it copies what is left and syncs
/// the database file: so once the log holds more than [`RESTART_AT`] frames, PASSIVE rounds first
/// catch up until at most [`RESTART_LEFT`] frames are left, and only then does a RESTART run
/// (giving up within about a millisecond if readers are in the way). Measured: a RESTART right
/// after one PASSIVE round held writers back 7–25 ms (the frames written during that round);
/// after the catch-up, about a millisecond.
///
/// A PASSIVE round that cannot copy every frame (writers keep adding some) leaves the database
/// file unsynced, so the RESTART used to sync every page copied since the last one — about 8 ms
/// of holding writers back on a later machine (docs/benchmarks.md, eighth round). So before
/// the RESTART this thread syncs the database file itself (`db`, no lock held: writers go on)
/// and copies what arrived meanwhile; the RESTART is then left a few pages to copy and sync.
fn checkpoint_forever(conn: rusqlite::Connection, db: std::fs::File, alive: std::sync::Weak<()>) {
    /// 128 MiB of 4 KiB pages: a restart every few seconds at ten thousand messages a second,
    /// every half minute at a thousand. The log file keeps its largest size on disk.
    const RESTART_AT: i64 = 32_000;
    const ROUND: Duration = Duration::from_secs(1);
    const RESTART_LEFT: i64 = 16;
    let _ = conn.busy_handler(Some(|tries: i32| {
        std::thread::sleep(Duration::from_micros(50));
        tries < 20
    }));
    // (busy, frames in the log, frames copied back)
    let checkpoint = |mode: &str| -> Option<(i64, i64, i64)> {
        conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .ok()
    };
    while alive.strong_count() > 0 {
        std::thread::sleep(ROUND);
        let Some((_, log, copied)) = checkpoint("PASSIVE") else { continue };
        metrics::gauge!("floorwalker_sqlite_wal_frames").set(log as f64);
        if log <= RESTART_AT {
            continue;
        }
        let mut left = log - copied;
        for _ in 0..16 {
            if left <= RESTART_LEFT {
                break;
            }
            left = checkpoint("PASSIVE").map_or(i64::MAX, |(_, log, copied)| log - copied);
        }
        if left > RESTART_LEFT {
            metrics::counter!("floorwalker_sqlite_restart_busy_total").increment(1);
            continue;
        }
        if db.sync_data().is_err() {
            continue;
        }
        if checkpoint("PASSIVE").is_none_or(|(_, log, copied)| log - copied > RESTART_LEFT) {
            metrics::counter!("floorwalker_sqlite_restart_busy_total").increment(1);
            continue;
        }
        let started = std::time::Instant::now();
        let restarted = checkpoint("RESTART").is_some_and(|(busy, _, _)| busy == 0);
        metrics::histogram!("floorwalker_sqlite_restart_seconds").record(started.elapsed().as_secs_f64());
        if !restarted {
            metrics::counter!("floorwalker_sqlite_restart_busy_total").increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// The writer thread asks to be favoured: as root (CI, this machine) it gets ten nice levels
    /// above the thread that started it, which itself keeps its own.
    #[test]
    #[cfg(target_os = "linux")]
    fn the_writer_thread_is_favoured() {
        let before = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let dir = tempfile::tempdir().unwrap();
        let w = SqliteWriter::open(dir.path().join("favoured.db")).unwrap();
        let (tid, how) = w.thread;
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        let thread_nice: i32 = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .nth(16)
            .unwrap()
            .parse()
            .unwrap();
        if unsafe { libc::geteuid() } == 0 {
            assert_eq!(how, Favoured::Nicer, "root may raise a thread's priority");
        }
        let expected = if how == Favoured::Nicer { (before - 10).max(-20) } else { before };
        assert_eq!(thread_nice, expected, "the writer thread's nice value matches {how:?}");
        assert_eq!(
            unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) },
            before,
            "only that thread changed"
        );
    }

    /// The savepoint each job runs in keeps its sub-journal in memory (no temporary file per
    /// group), and rolling a failed job back to its savepoint still undoes only that job.
    #[tokio::test]
    async fn savepoints_journal_in_memory_and_still_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subjournal.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER NOT NULL);")
            .unwrap();
        let w = SqliteWriter::open(path.clone()).unwrap();
        let store = w
            .transaction(|c| {
                c.execute("INSERT INTO t (n) VALUES (1)", [])?;
                Ok(c.query_row("PRAGMA temp_store", [], |r| r.get::<_, i64>(0))?)
            })
            .await
            .unwrap();
        assert_eq!(store, 2, "temp_store = MEMORY on the writer's connection");
        let failed = w
            .transaction(|c| {
                for n in 2..500 {
                    c.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                }
                Err::<(), _>(StorageError::Writer("this job fails after writing".into()))
            })
            .await;
        assert!(failed.is_err());
        w.transaction(|c| Ok(c.execute("INSERT INTO t (n) VALUES (3)", [])?)).await.unwrap();
        let rows: Vec<i64> = {
            let c = rusqlite::Connection::open(&path).unwrap();
            let mut st = c.prepare("SELECT n FROM t ORDER BY n").unwrap();
            st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
        };
        assert_eq!(rows, vec![1, 3], "the failed job's 498 rows were undone, the others kept");
    }

    /// A failing job undoes only its own writes whether it is the first of its group (run
    /// without a savepoint: the transaction is rolled back and begun again) or a later one (rolled
    /// back to its savepoint), and the jobs around it are stored and answered.
    #[tokio::test]
    async fn a_failed_job_undoes_only_itself_first_in_its_group_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("groups.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER NOT NULL);")
            .unwrap();
        let w = SqliteWriter::open(path.clone()).unwrap();
        let insert = |from: i64, to: i64, fail: bool| {
            move |c: &rusqlite::Connection| {
                for n in from..to {
                    c.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
                }
                if fail {
                    return Err(StorageError::Writer("fails after writing".into()));
                }
                Ok(to - from)
            }
        };
        // Alone, hence first: fails after 300 rows; the next job, also first, is kept.
        assert!(w.transaction(insert(1000, 1300, true)).await.is_err());
        assert_eq!(w.transaction(insert(1, 2, false)).await.unwrap(), 1);
        // One group: a holder (first), a failing job, a good one.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let holder = {
            let w = w.clone();
            tokio::spawn(async move {
                w.transaction(move |c| {
                    held.recv().unwrap();
                    c.execute("INSERT INTO t (n) VALUES (2)", [])?;
                    Ok(())
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (w2, w3) = (w.clone(), w.clone());
        let failing = tokio::spawn(async move { w2.transaction(insert(2000, 2300, true)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let good = tokio::spawn(async move { w3.transaction(insert(3, 4, false)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();
        assert!(failing.await.unwrap().is_err());
        assert_eq!(good.await.unwrap().unwrap(), 1);
        let rows: Vec<i64> = {
            let c = rusqlite::Connection::open(&path).unwrap();
            let mut st = c.prepare("SELECT n FROM t ORDER BY n").unwrap();
            st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
        };
        assert_eq!(rows, vec![1, 2, 3], "both failed jobs' rows undone, every other job's kept");
        // A panicking first job neither stops the thread nor leaves its writes behind.
        let panicked: Result<()> = w
            .transaction(|c| {
                c.execute("INSERT INTO t (n) VALUES (99)", [])?;
                panic!("a bug in a job")
            })
            .await;
        assert!(panicked.is_err());
        assert_eq!(w.transaction(insert(4, 5, false)).await.unwrap(), 1);
        let c = rusqlite::Connection::open(&path).unwrap();
        let n: i64 = c.query_row("SELECT COUNT(*) FROM t WHERE n = 99", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
    }

    /// Pieces of a batch come in a few fixed sizes, in order, covering every item once.
    #[test]
    fn shaped_chunks_use_few_sizes() {
        let mut sizes = std::collections::BTreeSet::new();
        for n in 0..1000usize {
            let items: Vec<usize> = (0..n).collect();
            let pieces = crate::storage::shaped_chunks(&items, 256);
            let joined: Vec<usize> = pieces.iter().flat_map(|p| p.iter().copied()).collect();
            assert_eq!(joined, items);
            for p in &pieces {
                assert!(!p.is_empty() && p.len() <= 256);
                sizes.insert(p.len());
            }
        }
        assert_eq!(sizes.into_iter().collect::<Vec<_>>(), vec![1, 2, 4, 8, 16, 32, 64, 128, 256]);
    }

    /// Bookkeeping waits for the writes someone is waiting on: a `Later` job queued before a
    /// `Now` job still runs after it, and each job's answer comes after its commit.
    #[tokio::test]
    async fn later_jobs_let_waiting_writes_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lanes.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (job TEXT NOT NULL);")
            .unwrap();
        let w = SqliteWriter::open(path.clone()).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let job = |name: &'static str| {
            let order = order.clone();
            move |c: &rusqlite::Connection| {
                order.lock().unwrap().push(name);
                execute(c, "INSERT INTO t (job) VALUES ($1)", &[Param::from(name)])?;
                Ok(())
            }
        };
        // The first job holds the thread until the others are queued behind it.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = {
            let w = w.clone();
            let order = order.clone();
            tokio::spawn(async move {
                w.transaction(move |_| {
                    order.lock().unwrap().push("first");
                    held.recv().unwrap();
                    Ok(())
                })
                .await
            })
        };
        while order.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let later = tokio::spawn({
            let w = w.clone();
            let f = job("later");
            async move { w.run(Lane::Later, f).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = tokio::spawn({
            let w = w.clone();
            let f = job("now");
            async move { w.transaction(f).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        now.await.unwrap().unwrap();
        later.await.unwrap().unwrap();
        assert_eq!(*order.lock().unwrap(), vec!["first", "now", "later"]);
        let stored: Vec<String> = rusqlite::Connection::open(&path)
            .unwrap()
            .prepare("SELECT job FROM t ORDER BY rowid")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(stored, vec!["now", "later"], "both committed, in the order they ran");
    }
}
