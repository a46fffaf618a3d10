//! Conversations: their rows (the wire's view of one is built in `hub::views`), opening one, the waiting queue, and the state changes
//! that must be exactly-once — a claim is one conditional UPDATE (`Db::claim`).

use super::super::sqlite_writer::{Lane, Param};
use super::super::tx::{named, sqlx_rows, write_tx, Cols, FromCols};
use super::super::{Db, Result, StorageError, Tenant};
use super::*;
use crate::domain::conversation::ConversationStatus;
use crate::ids::ConversationId;
use crate::ids::{ExpertId, MerchantId, ShopperId};
use crate::now_ms;

/// A conversation row with the names its views need.
#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub id: ConversationId,
    pub merchant_id: String,
    pub shopper_id: String,
    pub shopper_name: Option<String>,
    pub store_id: String,
    pub store_name: String,
    pub department_id: String,
    pub department_name: String,
    pub status: ConversationStatus,
    pub expert_id: Option<String>,
    pub expert_name: Option<String>,
    pub contact_expert_id: Option<String>,
    pub target_expert_id: Option<String>,
    pub offline: i64,
    pub page_url: Option<String>,
    pub product_json: Option<String>,
    pub transfer_note: Option<String>,
    pub last_seq: i64,
    pub shopper_read_seq: i64,
    pub expert_read_seq: i64,
    pub rating: Option<i64>,
    pub rating_comment: Option<String>,
    pub created_at: i64,
    pub queued_at: i64,
    pub claimed_at: Option<i64>,
    pub first_response_at: Option<i64>,
    pub last_expert_msg_at: Option<i64>,
    pub ended_at: Option<i64>,
}

pub(crate) const CONV_SELECT: &str = "SELECT c.id, c.merchant_id, c.shopper_id, sh.name AS shopper_name, c.store_id, \
    COALESCE(s.name, '') AS store_name, c.department_id, COALESCE(d.name, '') AS department_name, c.status, c.expert_id, \
    e.name AS expert_name, c.contact_expert_id, c.target_expert_id, c.offline, c.page_url, c.product_json, c.transfer_note, \
    c.last_seq, c.shopper_read_seq, c.expert_read_seq, c.rating, c.rating_comment, c.created_at, c.queued_at, c.claimed_at, \
    c.first_response_at, c.last_expert_msg_at, c.ended_at \
    FROM conversations c \
    LEFT JOIN stores s ON s.id = c.store_id \
    LEFT JOIN departments d ON d.id = c.department_id \
    LEFT JOIN experts e ON e.id = c.expert_id \
    LEFT JOIN shoppers sh ON sh.id = c.shopper_id";

impl ConversationRow {
    pub fn is_waiting(&self) -> bool {
        self.status.is_waiting()
    }
}

pub struct NewConversation<'a> {
    pub merchant_id: &'a MerchantId,
    pub shopper_id: &'a ShopperId,
    pub store_id: &'a str,
    pub department_id: &'a str,
    pub contact_expert_id: Option<&'a str>,
    pub offline: Option<(&'a str, Option<&'a str>)>,
    pub page_url: Option<&'a str>,
    pub page_title: Option<&'a str>,
    /// The product the chat was started from, as JSON (the caller's serialisation).
    pub product_json: Option<String>,
}

/// How a claim ended.
#[derive(Debug, Clone)]
pub enum Claim {
    /// This expert has the conversation (as it now reads).
    Won(Box<ConversationRow>),
    /// Another expert has it.
    Taken,
    /// It is no longer waiting (ended, abandoned, missed), or there is no such conversation of
    /// this merchant.
    Gone,
    /// It waits for a department or store this expert is not working in, or for another expert.
    NotEligible,
}

impl FromCols for ConversationRow {
    /// The same row read through rusqlite (columns in `CONV_SELECT` order).
    fn from_cols(r: &impl Cols) -> Result<ConversationRow> {
        Ok(ConversationRow {
            id: r.col(0)?,
            merchant_id: r.col(1)?,
            shopper_id: r.col(2)?,
            shopper_name: r.col(3)?,
            store_id: r.col(4)?,
            store_name: r.col(5)?,
            department_id: r.col(6)?,
            department_name: r.col(7)?,
            status: named(r, 8)?,
            expert_id: r.col(9)?,
            expert_name: r.col(10)?,
            contact_expert_id: r.col(11)?,
            target_expert_id: r.col(12)?,
            offline: r.col(13)?,
            page_url: r.col(14)?,
            product_json: r.col(15)?,
            transfer_note: r.col(16)?,
            last_seq: r.col(17)?,
            shopper_read_seq: r.col(18)?,
            expert_read_seq: r.col(19)?,
            rating: r.col(20)?,
            rating_comment: r.col(21)?,
            created_at: r.col(22)?,
            queued_at: r.col(23)?,
            claimed_at: r.col(24)?,
            first_response_at: r.col(25)?,
            last_expert_msg_at: r.col(26)?,
            ended_at: r.col(27)?,
        })
    }
}

/// One conversation of a merchant (`$1`), by id (`$2`).
pub(super) fn one_conversation_sql() -> String {
    format!("{CONV_SELECT} WHERE c.merchant_id = $1 AND c.id = $2")
}

/// Waiting conversations in the order they are offered (`$1`: a merchant or '' for all; after
/// `($2, $3)` = `(queued_at, id)`; at most `$4`). The ids come from the index alone
/// (`conversations_waiting`), so only the rows returned are read and joined.
pub(super) fn waiting_sql() -> String {
    format!(
        "{CONV_SELECT} WHERE c.id IN (SELECT id FROM conversations WHERE status IN ('queued', 'offered') \
         AND ($1 = '' OR merchant_id = $1) AND (queued_at > $2 OR (queued_at = $2 AND id > $3)) \
         ORDER BY queued_at, id LIMIT $4) ORDER BY c.queued_at, c.id"
    )
}

pub(super) fn waiting_params(m: Option<&MerchantId>, after: Option<(i64, &str)>, limit: i64) -> [Param; 4] {
    let (at, id) = after.unwrap_or((i64::MIN, ""));
    [
        Param::text(m.map_or("", |m| m.as_str())),
        Param::Int(at),
        Param::text(id),
        Param::Int(limit),
    ]
}

impl Db {
    pub async fn create_conversation(&self, c: &NewConversation<'_>) -> Result<ConversationRow> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        const INSERT: &str =
            "INSERT INTO conversations (id, merchant_id, shopper_id, store_id, department_id, status, contact_expert_id, offline, \
             offline_email, offline_name, page_url, page_title, product_json, created_at, queued_at) \
             VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, $10, $11, $12, $13, $13)";
        let insert = vec![
            Param::from(&id),
            Param::from(c.merchant_id.as_str()),
            Param::from(c.shopper_id.as_str()),
            Param::from(c.store_id),
            Param::from(c.department_id),
            Param::from(c.contact_expert_id),
            Param::from(i64::from(c.offline.is_some())),
            Param::from(c.offline.map(|o| o.0)),
            Param::from(c.offline.and_then(|o| o.1)),
            Param::from(c.page_url),
            Param::from(c.page_title),
            Param::from(c.product_json.clone()),
            Param::from(now),
        ];
        let read_sql = one_conversation_sql();
        let read = [Param::text(c.merchant_id.as_str()), Param::text(&id)];
        // `conversation.requested` commits with the row (see `hooks`).
        let speedup = self.hooks.speedup();
        // The new row is read back in the same transaction: the chat's first step waits for no read.
        let (row, any) = write_tx!(self, Lane::Now, |tx| async move {
            tx.execute(INSERT, &insert).await?;
            let row = tx
                .rows::<ConversationRow>(&read_sql, &read)
                .await?
                .pop()
                .ok_or(StorageError::NotFound)?;
            let any = hooks::enqueue_change(tx, &Change::Requested, &row, speedup).await?;
            Ok((row, any))
        })?;
        self.enqueued_events(any);
        Ok(row)
    }

    pub async fn conversation(&self, m: Tenant<'_>, id: &ConversationId) -> Result<ConversationRow> {
        let sql = one_conversation_sql();
        self.hot_rows(&sql, &[Param::text(m.as_str()), Param::text(id)])
            .await?
            .pop()
            .ok_or(StorageError::NotFound)
    }

    /// A shopper's open conversations and those ended in the last day, oldest first.
    pub async fn shopper_conversations(&self, m: Tenant<'_>, shopper: &str) -> Result<Vec<ConversationRow>> {
        let sql = format!(
            "{CONV_SELECT} WHERE c.merchant_id = $1 AND c.shopper_id = $2 AND (c.ended_at IS NULL OR c.ended_at > $3) ORDER BY c.created_at"
        );
        let params = [
            Param::text(m.as_str()),
            Param::text(shopper),
            Param::Int(now_ms() - 24 * 3600 * 1000),
        ];
        self.hot_rows(&sql, &params).await
    }

    /// Every past and present conversation of a shopper, newest first.
    pub async fn shopper_history(&self, m: Tenant<'_>, shopper: &str, limit: i64) -> Result<Vec<ConversationRow>> {
        let sql = format!("{CONV_SELECT} WHERE c.merchant_id = $1 AND c.shopper_id = $2 ORDER BY c.created_at DESC LIMIT $3");
        sqlx_rows(
            &self.pool,
            &sql,
            &[Param::text(m.as_str()), Param::text(shopper), Param::Int(limit)],
        )
        .await
    }

    pub async fn expert_open_conversations(&self, m: Tenant<'_>, expert: &str) -> Result<Vec<ConversationRow>> {
        let sql = format!("{CONV_SELECT} WHERE c.merchant_id = $1 AND c.expert_id = $2 AND c.status = 'claimed' ORDER BY c.claimed_at");
        sqlx_rows(&self.pool, &sql, &[Param::text(m.as_str()), Param::text(expert)]).await
    }

    /// The longest-waiting `limit` conversations of one merchant (or of all when `m` is None),
    /// oldest first.
    pub async fn waiting_conversations_limit(&self, m: Option<&MerchantId>, limit: i64) -> Result<Vec<ConversationRow>> {
        let params = waiting_params(m, None, limit);
        sqlx_rows(&self.pool, &waiting_sql(), &params).await
    }

    /// The next `limit` waiting conversations of all merchants after `after` (a conversation's
    /// `(queued_at, id)`), longest-waiting first: a routing pass reads them a page at a time
    /// and stops once no expert has room.
    pub async fn waiting_page(&self, after: Option<(i64, &str)>, limit: i64) -> Result<Vec<ConversationRow>> {
        self.hot_rows(&waiting_sql(), &waiting_params(None, after, limit)).await
    }

    /// Claimed conversations whose expert has not written since `before` (for re-offering).
    pub async fn unanswered_claims(&self, claimed_before: i64) -> Result<Vec<ConversationRow>> {
        let sql = format!(
            "{CONV_SELECT} WHERE c.status = 'claimed' AND c.last_expert_msg_at IS NULL AND c.claimed_at < $1 ORDER BY c.claimed_at"
        );
        sqlx_rows(&self.pool, &sql, &[Param::Int(claimed_before)]).await
    }

    /// `queued` → `offered` for these conversations (those still queued), in one transaction.
    pub async fn mark_offered(&self, ids: &[ConversationId]) -> Result<()> {
        let now = now_ms();
        // Small writes, one after another: each is bookkeeping that must not hold up a message.
        let mut ids: Vec<&ConversationId> = ids.iter().collect();
        ids.sort_unstable();
        for chunk in super::super::shaped_chunks(&ids, if self.fast.is_some() { 64 } else { 512 }) {
            let sql = format!(
                "UPDATE conversations SET status = 'offered', last_offer_at = $1 WHERE status = 'queued' AND id IN ({})",
                super::super::placeholders(chunk.len(), 2)
            );
            let params = std::iter::once(Param::Int(now))
                .chain(chunk.iter().map(|id| Param::text(id)))
                .collect();
            self.write_later(vec![(sql, params)]).await?;
        }
        Ok(())
    }

    /// The claim, decided in one transaction: the conversation is read, checked (still waiting,
    /// and `eligible` for this expert: their stores and departments, or a transfer to them), then
    /// taken with one conditional update, so exactly one expert wins on any number of nodes. The
    /// winner's shopper becomes their contact (or the last-chat time is refreshed) in the same
    /// commit, and the winner gets the conversation as it now reads. On SQLite the whole claim is
    /// one job on the writer thread: a claim never waits for a read connection, and the experts
    /// who lose a race are answered with the winner's commit.
    pub async fn claim(
        &self,
        m: Tenant<'_>,
        conversation: &ConversationId,
        expert: &ExpertId,
        eligible: impl Fn(&ConversationRow) -> bool + Send + 'static,
    ) -> Result<Claim> {
        const CLAIM: &str = "UPDATE conversations SET status = 'claimed', expert_id = $1, claimed_at = $2, last_expert_msg_at = NULL, target_expert_id = NULL \
             WHERE merchant_id = $3 AND id = $4 AND expert_id IS NULL AND status IN ('queued', 'offered') \
             AND (target_expert_id IS NULL OR target_expert_id = $1) RETURNING shopper_id";
        // The winner becomes the shopper's one current contact; whoever was before stays as
        // history (superseded now).
        const CONTACT: &str = "INSERT INTO contacts (merchant_id, expert_id, shopper_id, created_at, last_chat_at, superseded_at) \
             VALUES ($1, $2, $3, $4, $4, NULL) \
             ON CONFLICT (expert_id, shopper_id) DO UPDATE SET last_chat_at = excluded.last_chat_at, superseded_at = NULL";
        // (Placeholders in order of first use: rusqlite binds them by that order.)
        const SUPERSEDE: &str = "UPDATE contacts SET superseded_at = $1 \
             WHERE merchant_id = $2 AND shopper_id = $3 AND expert_id <> $4 AND superseded_at IS NULL";
        let now = now_ms();
        let read_sql = one_conversation_sql();
        let read = vec![Param::text(m.as_str()), Param::text(conversation)];
        let claim = vec![
            Param::text(expert.as_str()),
            Param::Int(now),
            Param::text(m.as_str()),
            Param::text(conversation),
        ];
        let me = expert.as_str().to_owned();
        let verdict = move |row: Option<&ConversationRow>| -> Option<Claim> {
            let Some(row) = row else { return Some(Claim::Gone) };
            if !row.is_waiting() {
                return Some(if row.status == ConversationStatus::Claimed {
                    Claim::Taken
                } else {
                    Claim::Gone
                });
            }
            let targeted = row.target_expert_id.as_deref();
            if targeted.is_some_and(|t| t != me) || !(targeted == Some(me.as_str()) || eligible(row)) {
                return Some(Claim::NotEligible);
            }
            None
        };
        let (merchant, expert) = (m.as_str().to_owned(), expert.as_str().to_owned());
        let contact = move |shopper: String| {
            (
                vec![
                    Param::Text(merchant.clone()),
                    Param::Text(expert.clone()),
                    Param::Text(shopper.clone()),
                    Param::Int(now),
                ],
                vec![Param::Int(now), Param::Text(merchant), Param::Text(shopper), Param::Text(expert)],
            )
        };
        // `conversation.claimed` commits with the claim (see `hooks`).
        let speedup = self.hooks.speedup();
        let (outcome, any) = write_tx!(self, Lane::Now, |tx| async move {
            let before = tx.rows::<ConversationRow>(&read_sql, &read).await?.pop();
            if let Some(no) = verdict(before.as_ref()) {
                return Ok((no, false));
            }
            let Some(shopper) = tx.rows::<String>(CLAIM, &claim).await?.pop() else {
                return Ok((Claim::Taken, false));
            };
            let (contact, others) = contact(shopper);
            tx.execute(CONTACT, &contact).await?;
            tx.execute(SUPERSEDE, &others).await?;
            let Some(row) = tx.rows::<ConversationRow>(&read_sql, &read).await?.pop() else {
                return Ok((Claim::Gone, false));
            };
            let any = hooks::enqueue_change(tx, &Change::Claimed, &row, speedup).await?;
            Ok((Claim::Won(Box::new(row)), any))
        })?;
        self.enqueued_events(any);
        Ok(outcome)
    }

    /// Put a claimed conversation whose expert never answered back in the queue.
    pub async fn unclaim_unanswered(&self, id: &ConversationId, expert: &str) -> Result<bool> {
        let done = self
            .write_one(
                "UPDATE conversations SET status = 'queued', expert_id = NULL, queued_at = $1, claimed_at = NULL \
             WHERE id = $2 AND expert_id = $3 AND status = 'claimed' AND last_expert_msg_at IS NULL",
                vec![Param::from(now_ms()), Param::from(id), Param::from(expert)],
            )
            .await?;
        Ok(done == 1)
    }

    /// End a conversation: `ended` if it was claimed, `abandoned` if the shopper left while it
    /// waited. Returns the new status, or None if it had already finished.
    pub async fn finish(&self, m: Tenant<'_>, id: &ConversationId, by: &str) -> Result<Option<ConversationStatus>> {
        let now = now_ms();
        // `conversation.ended` commits with the change, for both outcomes (see `hooks`).
        let done = self.update_with_event("UPDATE conversations SET status = 'ended', ended_at = $1, ended_by = $2 WHERE merchant_id = $3 AND id = $4 AND status = 'claimed'", vec![Param::from(now), Param::from(by), Param::from(m.as_str()), Param::from(id)], id, Change::Ended).await?;
        if done == 1 {
            return Ok(Some(ConversationStatus::Ended));
        }
        let done = self.update_with_event("UPDATE conversations SET status = 'abandoned', ended_at = $1, ended_by = $2 WHERE merchant_id = $3 AND id = $4 AND status IN ('queued', 'offered')", vec![Param::from(now), Param::from(by), Param::from(m.as_str()), Param::from(id)], id, Change::Ended).await?;
        Ok((done == 1).then_some(ConversationStatus::Abandoned))
    }

    /// Mark a waiting, non-offline conversation missed if it has waited since before `cutoff`.
    pub async fn mark_missed(&self, id: &ConversationId, cutoff: i64) -> Result<bool> {
        let done = self
            .update_with_event(
                "UPDATE conversations SET status = 'missed', ended_at = $1, ended_by = 'timeout' \
             WHERE id = $2 AND status IN ('queued', 'offered') AND offline = 0 AND queued_at < $3",
                vec![Param::from(now_ms()), Param::from(id), Param::from(cutoff)],
                id,
                Change::Missed,
            )
            .await?;
        Ok(done == 1)
    }

    /// Hand a claimed conversation back to the queue for another department or a named expert.
    #[allow(clippy::too_many_arguments)]
    pub async fn transfer(
        &self,
        m: Tenant<'_>,
        id: &ConversationId,
        from_expert: &str,
        store_id: &str,
        department_id: &str,
        target_expert: Option<&str>,
        note: Option<&str>,
    ) -> Result<bool> {
        let done = self
            .update_with_event(
                "UPDATE conversations SET status = 'queued', expert_id = NULL, claimed_at = NULL, store_id = $1, department_id = $2, \
             target_expert_id = $3, transfer_note = $4, transfers = transfers + 1, queued_at = $5, contact_expert_id = NULL \
             WHERE merchant_id = $6 AND id = $7 AND expert_id = $8 AND status = 'claimed'",
                vec![
                    Param::from(store_id),
                    Param::from(department_id),
                    Param::from(target_expert),
                    Param::from(note),
                    Param::from(now_ms()),
                    Param::from(m.as_str()),
                    Param::from(id),
                    Param::from(from_expert),
                ],
                id,
                Change::Transferred {
                    from_expert: from_expert.to_owned(),
                },
            )
            .await?;
        Ok(done == 1)
    }

    pub async fn rate(&self, m: Tenant<'_>, id: &ConversationId, shopper: &str, score: i64, comment: Option<&str>) -> Result<bool> {
        let done = self.update_with_event("UPDATE conversations SET rating = $1, rating_comment = $2 WHERE merchant_id = $3 AND id = $4 AND shopper_id = $5 AND status = 'ended'", vec![Param::from(score), Param::from(comment), Param::from(m.as_str()), Param::from(id), Param::from(shopper)], id, Change::Rated).await?;
        Ok(done == 1)
    }
}
