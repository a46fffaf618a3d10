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
