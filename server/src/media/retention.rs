//! Deleting photos for real: those past their merchant's retention, and uploads that never
//! finished.
//!
//! Each pass deletes the files first (both variants, whichever backend) and only then marks the
//! row, so a failure leaves the row as it was and the next pass tries again; deleting a file
//! that is already gone succeeds. Each removal is counted in the
//! `floorwalker_attachments_deleted_total` metric and as a `photo_removed` analytics event
//! (the "photos removed" figure). The row stays, as `removed` with the retention in force, so
//! the chat can say "photo removed after N days". Every node may run passes; a row is marked by
//! whichever gets there first and the files are gone either way.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::signing::Variant;
use super::Media;
use crate::storage::{AttachmentRow, Db};

/// How often a pass runs.
pub const EVERY: Duration = Duration::from_secs(600);
/// Rows one query takes.
const BATCH: i64 = 200;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Stored photos past their retention whose files were deleted.
    pub expired: u64,
    /// Uploads abandoned half-way whose files (if any) were deleted.
    pub abandoned: u64,
    /// Files that could not be deleted this time (tried again next pass).
    pub failed: u64,
    /// Stored photos never sent in a message within a day (`removed_reason = 'unsent'`).
    pub unsent: u64,
}

/// Run passes until `stop`.
pub async fn run(db: Db, media: Media, stop: CancellationToken) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {
                media.uploads.shrink();
                match sweep(&db, &media, crate::now_ms()).await {
                    Ok(s) if s != Swept::default() => tracing::info!(expired = s.expired, abandoned = s.abandoned, unsent = s.unsent, failed = s.failed, "photo retention pass"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "photo retention pass failed"),
                }
            }
        }
    }
}

/// One pass as of `now` (unix ms): everything due is handled before it returns.
pub async fn sweep(db: &Db, media: &Media, now: i64) -> anyhow::Result<Swept> {
    let mut out = Swept::default();
    loop {
        let due = db.expired_attachments(now, BATCH).await?;
        let n = due.len();
        let mut progressed = false;
        for (row, days) in due {
            if !delete_files(media, &row).await {
                out.failed += 1;
                continue;
            }
            if db.mark_attachment_removed(&row, "retention", Some(days), now).await? {
                out.expired += 1;
                metrics::counter!("floorwalker_attachments_deleted_total", "reason" => "retention").increment(1);
            }
            progressed = true;
        }
        if (n as i64) < BATCH || !progressed {
            break;
        }
    }
    loop {
        let stale = db.abandoned_attachments(now - super::PENDING_STALE_MS, BATCH).await?;
        let n = stale.len();
        let mut progressed = false;
        for row in stale {
            if !delete_files(media, &row).await {
                out.failed += 1;
                continue;
            }
            if db.mark_attachment_removed(&row, "abandoned", None, now).await? {
                out.abandoned += 1;
                metrics::counter!("floorwalker_attachments_deleted_total", "reason" => "abandoned").increment(1);
            }
            progressed = true;
        }
        if (n as i64) < BATCH || !progressed {
            break;
        }
    }
    // Photos uploaded but never sent in a message: marked first (so a message cannot pick one
    // up while its files go), then their files deleted.
    loop {
        let orphans = db.unsent_attachments(now - crate::storage::UNSENT_AFTER_MS, BATCH).await?;
        let n = orphans.len();
        for row in orphans {
            if db.mark_unsent_removed(&row, now).await? {
                out.unsent += 1;
                metrics::counter!("floorwalker_attachments_deleted_total", "reason" => "unsent").increment(1);
                if !delete_files(media, &row).await {
                    out.failed += 1;
                }
            }
        }
        if (n as i64) < BATCH {
            break;
        }
    }
    Ok(out)
}

async fn delete_files(media: &Media, row: &AttachmentRow) -> bool {
    let mut ok = true;
    for v in [Variant::Full, Variant::Thumb] {
        if let Err(e) = media.files.delete(&Media::key(row, v)).await {
            tracing::warn!(error = %e, attachment = %row.id, "could not delete a photo file");
            ok = false;
        }
    }
    ok
}
