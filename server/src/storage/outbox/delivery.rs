//! Delivering rows: claims with a lease (a fencing token), hand-offs, attempts and their
//! outcomes, retries by hand, and pruning.

use super::*;

/// How a claimed attempt ended, as the worker reports it.
#[derive(Debug, Clone)]
pub enum Finish {
    Sent {
        unconfirmed: bool,
    },
    /// Try again at this time (a row past its `give_up_at` goes dead instead).
    Retry {
        at: i64,
        error: String,
    },
    Failed {
        error: String,
    },
}

/// The fencing token of a claimed row: only the worker that holds it may write about the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: String,
    pub owner: String,
    pub attempt: i64,
}

// The claim, in two steps (see `Db::claim_outbox`): rows whose lease ran out, then due rows.
const CLAIM_EXPIRED: &str = "SELECT o.id FROM outbox o WHERE o.status = 'sending' AND o.lease_until < $1 \
    AND (o.kind <> 'email' OR $2 = 1) ORDER BY o.next_attempt_at LIMIT $3";
const CLAIM_DUE: &str = "SELECT o.id FROM outbox o WHERE o.status = 'queued' AND o.next_attempt_at <= $1 \
    AND (o.kind <> 'email' OR $2 = 1) \
    AND (o.order_key IS NULL OR NOT EXISTS (SELECT 1 FROM outbox p WHERE p.order_key = o.order_key \
         AND p.order_seq < o.order_seq AND p.status IN ('queued', 'sending'))) \
    ORDER BY o.next_attempt_at, o.id LIMIT $3";
const CLAIM_ONE: &str =
    "UPDATE outbox SET status = 'sending', lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 WHERE id = $4";

const RENEW: &str = "UPDATE outbox SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND attempts = $4 AND status = 'sending'";
const HANDOFF: &str = "UPDATE outbox SET handoff_at = $1 WHERE id = $2 AND lease_owner = $3 AND attempts = $4 AND status = 'sending'";
const FINISH_SENT: &str = "UPDATE outbox SET status = 'sent', sent_at = $1, updated_at = $1, lease_owner = NULL, lease_until = NULL, \
    unconfirmed = $2, last_error = $3 WHERE id = $4 AND lease_owner = $5 AND attempts = $6 AND status = 'sending'";
const FINISH_RETRY: &str = "UPDATE outbox SET status = CASE WHEN $1 > give_up_at THEN 'dead' ELSE 'queued' END, next_attempt_at = $1, \
    updated_at = $2, lease_owner = NULL, lease_until = NULL, handoff_at = NULL, last_error = $3 \
    WHERE id = $4 AND lease_owner = $5 AND attempts = $6 AND status = 'sending'";
const FINISH_FAILED: &str =
    "UPDATE outbox SET status = 'failed', updated_at = $1, lease_owner = NULL, lease_until = NULL, last_error = $2 \
    WHERE id = $3 AND lease_owner = $4 AND attempts = $5 AND status = 'sending'";
const ATTEMPT: &str =
    "INSERT INTO outbox_attempts (id, outbox_id, merchant_id, attempt, at, ok, status_code, latency_ms, response, error) \
    SELECT $1, id, merchant_id, $2, $3, $4, $5, $6, $7, $8 FROM outbox WHERE id = $9";

/// What a push hand-off the push service accepted records with its attempt, in the same
/// transaction (`Db::finish_attempt_with`): the device's success and, for an offer, the
/// alert's hand-off (counted in Analytics as `alert_sent` the first time).
#[derive(Debug, Clone)]
pub struct PushHanded {
    pub subscription_id: String,
    pub alert_id: Option<String>,
}

/// A device's success: written when it clears a failure, or at most once a minute otherwise
/// (`last_success_at` is to the minute). Written on every push, the few rows of a merchant's
/// devices took an update per alert — 665 a second in `loadtest locked` — and on PostgreSQL
/// their dead versions piled up between vacuums under every lookup of a device.
const SUB_SUCCESS: &str = "UPDATE push_subscriptions SET failures = 0, last_error = NULL, last_success_at = $1 WHERE id = $2 \
    AND (failures <> 0 OR last_error IS NOT NULL OR last_success_at IS NULL OR last_success_at < $1 - 60000)";
const ALERT_HANDED: &str = "UPDATE push_alerts SET state = CASE WHEN state = 'queued' THEN 'handed' ELSE state END, \
    handed_at = COALESCE(handed_at, $1), updated_at = $1 WHERE id = $2 AND handed_at IS NULL";
const ALERT_SENT_EVENT: &str = "INSERT INTO events (id, merchant_id, kind, at, shopper_id, store_id, department_id, expert_id, \
    conversation_id, value, data_json) SELECT $1, merchant_id, 'alert_sent', $2, NULL, store_id, department_id, expert_id, \
    conversation_id, NULL, NULL FROM push_alerts WHERE id = $3";

/// One SQL statement and its parameters.
type Statement = (&'static str, Vec<Param>);

/// The statements of a finished attempt: the row's new state (conditional on the lease) and the
/// attempt's record (only when the lease held).
fn finish_statements(lease: &Lease, attempt: &AttemptRow, finish: &Finish, now: i64) -> (Statement, Statement) {
    let fence = [Param::text(&lease.id), Param::text(&lease.owner), Param::Int(lease.attempt)];
    let update = match finish {
        Finish::Sent { unconfirmed } => (
            FINISH_SENT,
            [
                vec![
                    Param::Int(now),
                    Param::Int(i64::from(*unconfirmed)),
                    Param::opt_text(attempt.error.as_deref()),
                ],
                fence.to_vec(),
            ]
            .concat(),
        ),
        Finish::Retry { at, error } => (
            FINISH_RETRY,
            [vec![Param::Int(*at), Param::Int(now), Param::text(error)], fence.to_vec()].concat(),
        ),
        Finish::Failed { error } => (FINISH_FAILED, [vec![Param::Int(now), Param::text(error)], fence.to_vec()].concat()),
    };
    let record = (
        ATTEMPT,
        vec![
            Param::Text(uuid::Uuid::now_v7().to_string()),
            Param::Int(lease.attempt),
            Param::Int(attempt.at),
            Param::Int(attempt.ok_flag),
            Param::opt_int(attempt.status_code),
            Param::Int(attempt.latency_ms),
            Param::opt_text(attempt.response.as_deref()),
            Param::opt_text(attempt.error.as_deref()),
            Param::text(&lease.id),
        ],
    );
    (update, record)
}

impl Db {
    /// Take up to `limit` due rows for `owner` until `lease_until`: queued rows whose time has
    /// come, and `sending` rows whose lease ran out (their worker died). A row waits while an
    /// earlier row of its `order_key` is unfinished. Each claim counts as an attempt. A node
    /// without SMTP (`with_email` false) leaves e-mail to others (or in the Outbox).
    pub async fn claim_outbox(&self, owner: &str, now: i64, lease_until: i64, limit: i64, with_email: bool) -> Result<Vec<OutboxRow>> {
        // On SQLite on the writer thread: the claim shares a commit with whatever else is
        // writing (the next attempts' hand-offs, messages) instead of taking SQLite's write lock
        // from a second connection. Rows whose lease ran out first, then due rows in due order,
        // each step an ordered scan of the `outbox_due` index (never sorting the whole queue).
        // On PostgreSQL a plain index scan matters: one statement with `(queued AND due) OR
        // (sending AND lease ran out)` was planned as a bitmap scan, which visited every dead
        // `sending` version left in the `outbox_due` index each time (18 ms per claim after
        // 40,000 pushes without a vacuum: the hand-off rate fell from 665 to 330 a second, run
        // after run); a plain index scan marks the dead entries it meets, so the next claim skips
        // them.
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE OF o SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let expired = format!("{CLAIM_EXPIRED}{lock}");
        let due = format!("{CLAIM_DUE}{lock}");
        let by_id = format!("SELECT {ROW_COLS} FROM outbox o WHERE o.id = $1");
        let (owner, email) = (owner.to_owned(), Param::Int(i64::from(with_email)));
        write_tx!(self, Lane::Now, |tx| async move {
            let mut ids: Vec<String> = tx.rows(&expired, &[Param::Int(now), email.clone(), Param::Int(limit)]).await?;
            let left = limit - ids.len() as i64;
            if left > 0 {
                ids.extend(tx.rows::<String>(&due, &[Param::Int(now), email, Param::Int(left)]).await?);
            }
            let mut rows = Vec::with_capacity(ids.len());
            for id in ids {
                let claim = [Param::text(&owner), Param::Int(lease_until), Param::Int(now), Param::text(&id)];
                tx.execute(CLAIM_ONE, &claim).await?;
                rows.extend(tx.rows::<OutboxRow>(&by_id, &[Param::Text(id)]).await?);
            }
            Ok(rows)
        })
    }

    /// Extend a lease; false when it is no longer ours (another worker took the row over).
    pub async fn renew_lease(&self, lease: &Lease, until: i64) -> Result<bool> {
        let params = vec![
            Param::Int(until),
            Param::text(&lease.id),
            Param::text(&lease.owner),
            Param::Int(lease.attempt),
        ];
        Ok(self.write_one(RENEW, params).await? == 1)
    }

    /// Record that the message is about to be handed over (see the module documentation);
    /// false when the lease is lost, in which case the caller must not hand it over. Committed
    /// (on disk) when this returns.
    pub async fn mark_handoff(&self, lease: &Lease) -> Result<bool> {
        let params = vec![
            Param::Int(now_ms()),
            Param::text(&lease.id),
            Param::text(&lease.owner),
            Param::Int(lease.attempt),
        ];
        Ok(self.write_one(HANDOFF, params).await? == 1)
    }

    /// Record an attempt and its outcome in one transaction; false (and nothing written) when
    /// the lease was lost meanwhile.
    pub async fn finish_attempt(&self, lease: &Lease, attempt: &AttemptRow, finish: &Finish) -> Result<bool> {
        Ok(self.finish_attempt_with(lease, attempt, finish, None).await?.0)
    }

    /// As [`Db::finish_attempt`], and with it (in the same transaction) what an accepted push
    /// hand-off records: the device's success and the alert's hand-off — these are recorded
    /// even when the lease was lost meanwhile (the message did reach the push service).
    /// Returns (the attempt was recorded, the alert's hand-off was news).
    pub async fn finish_attempt_with(
        &self,
        lease: &Lease,
        attempt: &AttemptRow,
        finish: &Finish,
        handed: Option<&PushHanded>,
    ) -> Result<(bool, bool)> {
        let now = now_ms();
        let ((sql, params), (record_sql, record)) = finish_statements(lease, attempt, finish, now);
        let handed = handed.cloned();
        let event_id = uuid::Uuid::now_v7().to_string();
        // The push bookkeeping commits even when the lease was lost (see above).
        write_tx!(self, Lane::Now, |tx| async move {
            let news = match &handed {
                Some(h) => push_handed(tx, h, now, event_id).await?,
                None => false,
            };
            let done = tx.execute(sql, &params).await?;
            if done == 1 {
                tx.execute(record_sql, &record).await?;
            }
            Ok((done == 1, news))
        })
    }

    /// Put a failed or dead row back in the queue (a person asked for it); its attempts go on.
    pub async fn retry_outbox(&self, m: Option<&MerchantId>, id: &str, give_up_after_ms: i64) -> Result<OutboxRow> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE outbox SET status = 'queued', next_attempt_at = $1, give_up_at = $2, updated_at = $1, handoff_at = NULL \
             WHERE id = $3 AND ($4 = '' OR merchant_id = $4) AND status IN ('failed', 'dead')",
        )
        .bind(now)
        .bind(now + give_up_after_ms)
        .bind(id)
        .bind(m.map(MerchantId::as_str).unwrap_or(""))
        .execute(&self.writer)
        .await?;
        let row = self.outbox_row(m, id).await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::Conflict(format!(
                "only failed or dead messages can be retried; this one is {}",
                row.status
            )));
        }
        Ok(row)
    }

    /// When the earliest queued row is due (the workers sleep until then, at most a second).
    pub async fn outbox_next_due(&self) -> Result<Option<i64>> {
        // Asked after every claim: on SQLite on the calling thread (`sqlite_reader`).
        let rows: Vec<(Option<i64>,)> = self
            .hot_rows("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'queued'", &[])
            .await?;
        Ok(rows.into_iter().next().and_then(|r| r.0))
    }

    /// Forget finished rows older than `cutoff` (their attempts go with them).
    pub async fn prune_outbox(&self, cutoff: i64) -> Result<u64> {
        sqlx::query(
            "DELETE FROM outbox_attempts WHERE outbox_id IN (SELECT id FROM outbox WHERE status IN ('sent', 'failed', 'dead') AND updated_at < $1)",
        )
        .bind(cutoff)
        .execute(&self.writer)
        .await?;
        Ok(
            sqlx::query("DELETE FROM outbox WHERE status IN ('sent', 'failed', 'dead') AND updated_at < $1")
                .bind(cutoff)
                .execute(&self.writer)
                .await?
                .rows_affected(),
        )
    }
}

/// The push bookkeeping of an accepted hand-off (see [`PushHanded`]); true when the alert's
/// hand-off was news.
async fn push_handed(tx: &mut impl WriteTx, h: &PushHanded, now: i64, event_id: String) -> Result<bool> {
    tx.execute(SUB_SUCCESS, &[Param::Int(now), Param::text(&h.subscription_id)]).await?;
    let Some(a) = &h.alert_id else { return Ok(false) };
    if tx.execute(ALERT_HANDED, &[Param::Int(now), Param::text(a)]).await? != 1 {
        return Ok(false);
    }
    tx.execute(ALERT_SENT_EVENT, &[Param::Text(event_id), Param::Int(now), Param::text(a)])
        .await?;
    Ok(true)
}
