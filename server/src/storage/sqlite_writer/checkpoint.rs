//! The checkpointer thread: the WAL copied back into the database off the commit path.

use super::*;

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
pub(super) fn checkpoint_forever(conn: rusqlite::Connection, db: std::fs::File, alive: std::sync::Weak<()>) {
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
