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

mod checkpoint;
mod param;
#[cfg(test)]
mod tests;

use checkpoint::checkpoint_forever;
pub(crate) use param::*;

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
