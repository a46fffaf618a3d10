//! The chat's webhook events, written in the SAME transaction as the chat change that causes
//! them (issue 21): a conversation requested, claimed, transferred, ended, missed or rated, an
//! offline message left, a message stored (`message.created`, opt-in per endpoint), a shopper
//! identified.
//!
//! Each storage operation of the hub makes its change, reads the conversation as it now is and
//! enqueues the event (one outbox row per subscribed endpoint) before it commits — after the
//! statement that changed the conversation, which holds its row lock (PostgreSQL) or the one
//! write lock (SQLite), so a conversation's deliveries are numbered in commit order and reach
//! each endpoint in the order they happened. A crash before the commit loses both the change and
//! the event; after it, the outbox worker delivers the event (again, with the same `webhook-id`,
//! if it died mid-delivery).
//!
//! Mail and SMS to a shopper who is away are not decided here: they depend on time passing
//! (see `outbound::hooks`, the periodic pass).

use std::sync::atomic::{AtomicU32, Ordering};

use super::super::sqlite_writer::{Lane, Param};
use super::super::tx::{write_tx, WriteTx};
use super::super::{enqueue_in, Outgoing};
use super::{AppendOutcome, Appended, ConversationRow, NewMessage, StoredMessage, CONV_SELECT};
use crate::ids::{ConversationId, MerchantId};
use crate::storage::events::{self, ConversationData, EventType, MessageData, OfflineMessageData, RatedData, TransferData};
use crate::storage::{Db, Result, Tenant};

/// Shared by every clone of a [`Db`]: how fast events give up (tests speed the outbox up) and
/// the outbox worker's wake-up after a chat write enqueued events.
#[derive(Default)]
pub struct ChatHooks {
    speedup: AtomicU32,
    wake: tokio::sync::Notify,
}

impl std::fmt::Debug for ChatHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatHooks").field("speedup", &self.speedup()).finish()
    }
}

impl ChatHooks {
    pub fn set_speedup(&self, s: u32) {
        self.speedup.store(s.max(1), Ordering::Relaxed);
    }
    pub fn speedup(&self) -> u32 {
        self.speedup.load(Ordering::Relaxed).max(1)
    }
    /// Resolves after a chat write enqueued deliveries (the outbox worker waits on it).
    pub async fn enqueued(&self) {
        self.wake.notified().await
    }
    fn wake(&self) {
        self.wake.notify_one();
    }
}

/// What happened to a conversation, for [`conversation_events`].
#[derive(Debug, Clone)]
pub(crate) enum Change {
    Requested,
    Claimed,
    Transferred { from_expert: String },
    Ended,
    Missed,
    Rated,
}

fn merchant(row: &ConversationRow) -> MerchantId {
    MerchantId::from_db(row.merchant_id.clone())
}

/// The event a change of `row` (as it reads after the change) makes. `expert_name` is the
/// name of the expert a transfer came from.
pub(crate) fn conversation_events(change: &Change, row: &ConversationRow, expert_name: Option<String>, speedup: u32) -> Vec<Outgoing> {
    let m = merchant(row);
    let conversation = events::conversation_info(row);
    let c = Some(&row.id);
    let e = match change {
        // An offline conversation is announced by `offline_message.created` with its message.
        Change::Requested if row.offline != 0 => return vec![],
        Change::Requested => events::event(&m, EventType::ConversationRequested, c, &ConversationData { conversation }, speedup),
        Change::Claimed => events::event(&m, EventType::ConversationClaimed, c, &ConversationData { conversation }, speedup),
        Change::Ended => events::event(&m, EventType::ConversationEnded, c, &ConversationData { conversation }, speedup),
        Change::Missed => events::event(&m, EventType::ConversationMissed, c, &ConversationData { conversation }, speedup),
        Change::Transferred { from_expert } => events::event(
            &m,
            EventType::ConversationTransferred,
            c,
            &TransferData {
                conversation,
                from_expert: events::Named {
                    id: from_expert.clone(),
                    name: expert_name.unwrap_or_default(),
                },
                to_expert_id: row.target_expert_id.clone(),
                note: row.transfer_note.clone(),
            },
            speedup,
        ),
        Change::Rated => events::event(
            &m,
            EventType::ConversationRated,
            c,
            &RatedData {
                conversation,
                score: row.rating.unwrap_or_default(),
                comment: row.rating_comment.clone(),
            },
            speedup,
        ),
    };
    vec![e]
}

/// One conversation by id, any merchant (`$1`).
fn by_id_sql() -> String {
    format!("{CONV_SELECT} WHERE c.id = $1")
}

const EXPERT_NAME: &str = "SELECT name FROM experts WHERE id = $1";
/// Whether a merchant has an enabled endpoint that asked for `message.created` (it is opt-in,
/// so most have none and their messages cost this one query per batch).
const WANTS_MESSAGES: &str =
    "SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = $1 AND enabled = 1 AND events_json LIKE '%\"message.created\"%'";

fn offline_sql(n: usize) -> String {
    format!(
        "SELECT id, COALESCE(offline_email, ''), offline_name FROM conversations WHERE offline = 1 AND id IN ({})",
        super::super::placeholders(n, 1)
    )
}

fn rows_sql(n: usize) -> String {
    format!("{CONV_SELECT} WHERE c.id IN ({})", super::super::placeholders(n, 1))
}

/// The messages a batch stored, with their merchants, in input order.
fn stored<'a>(batch: &'a [NewMessage], done: &'a Appended) -> Vec<(&'a NewMessage, &'a StoredMessage)> {
    batch
        .iter()
        .zip(&done.outcomes)
        .filter_map(|(m, o)| match o {
            AppendOutcome::Stored(v) => Some((m, v)),
            _ => None,
        })
        .collect()
}

/// Conversations whose first message this batch stored from the shopper: candidates for
/// `offline_message.created`.
fn firsts(stored: &[(&NewMessage, &StoredMessage)]) -> Vec<ConversationId> {
    let mut ids: Vec<ConversationId> = stored
        .iter()
        .filter(|(_, v)| v.seq == 1 && v.author_role == "shopper")
        .map(|(_, v)| v.conversation_id.clone())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn merchants(stored: &[(&NewMessage, &StoredMessage)]) -> Vec<String> {
    let mut ms: Vec<String> = stored.iter().map(|(m, _)| m.merchant_id.clone()).collect();
    ms.sort_unstable();
    ms.dedup();
    ms
}

/// The events of a stored batch, in input order: `offline_message.created` for an offline
/// conversation's first message, `message.created` for merchants who asked for it.
fn message_events(
    stored: &[(&NewMessage, &StoredMessage)],
    offline: &[(String, String, Option<String>)],
    rows: &[ConversationRow],
    wanting: &[String],
    speedup: u32,
) -> Vec<Outgoing> {
    let mut out = Vec::new();
    for (m, v) in stored {
        let merchant = MerchantId::from_db(m.merchant_id.clone());
        if v.seq == 1 && v.author_role == "shopper" {
            if let (Some((_, email, name)), Some(row)) = (
                offline.iter().find(|o| o.0 == *v.conversation_id),
                rows.iter().find(|r| r.id == v.conversation_id),
            ) {
                out.push(events::event(
                    &merchant,
                    EventType::OfflineMessageCreated,
                    Some(&v.conversation_id),
                    &OfflineMessageData {
                        conversation: events::conversation_info(row),
                        name: name.clone(),
                        email: email.clone(),
                        message: v.body.clone(),
                    },
                    speedup,
                ));
            }
        }
        if wanting.contains(&m.merchant_id) {
            out.push(events::event(
                &merchant,
                EventType::MessageCreated,
                Some(&v.conversation_id),
                &MessageData {
                    conversation_id: v.conversation_id.clone(),
                    message_id: v.id.clone(),
                    seq: v.seq,
                    author_role: v.author_role.clone(),
                    expert_id: v.expert_id.clone(),
                    kind: v.kind.clone(),
                    body: v.body.clone(),
                    sent_at: v.created_at,
                },
                speedup,
            ));
        }
    }
    out
}

/// After a batch of messages was stored, in its transaction: their webhook events (and the
/// first answers' offline-message events). Whether any were enqueued.
pub(crate) async fn after_append(tx: &mut impl WriteTx, batch: &[NewMessage], done: &Appended, speedup: u32) -> Result<bool> {
    let stored = stored(batch, done);
    if stored.is_empty() {
        return Ok(false);
    }
    let mut wanting = Vec::new();
    for m in merchants(&stored) {
        let n: Vec<i64> = tx.rows(WANTS_MESSAGES, &[Param::text(&m)]).await?;
        if n.first().copied().unwrap_or(0) > 0 {
            wanting.push(m);
        }
    }
    let ids = firsts(&stored);
    let (mut offline, mut rows) = (Vec::new(), Vec::new());
    if !ids.is_empty() {
        let params: Vec<Param> = ids.iter().map(|i| Param::text(i)).collect();
        offline = tx
            .rows::<(String, String, Option<String>)>(&offline_sql(ids.len()), &params)
            .await?;
        if !offline.is_empty() {
            let params: Vec<Param> = offline.iter().map(|o| Param::text(&o.0)).collect();
            rows = tx.rows::<ConversationRow>(&rows_sql(offline.len()), &params).await?;
        }
    }
    let items = message_events(&stored, &offline, &rows, &wanting, speedup);
    if items.is_empty() {
        return Ok(false);
    }
    enqueue_in(tx, &items).await?;
    Ok(true)
}

/// Enqueue a conversation's events in the caller's transaction (the caller read `row` after
/// its change). Whether any were enqueued.
pub(crate) async fn enqueue_change(tx: &mut impl WriteTx, change: &Change, row: &ConversationRow, speedup: u32) -> Result<bool> {
    let items = conversation_events(change, row, None, speedup);
    if items.is_empty() {
        return Ok(false);
    }
    enqueue_in(tx, &items).await?;
    Ok(true)
}

impl Db {
    /// Wake the outbox worker when a chat write enqueued deliveries.
    pub(crate) fn enqueued_events(&self, any: bool) {
        if any {
            self.hooks.wake();
        }
    }

    /// Run `sql`, an UPDATE of conversation `id`; when it changed the row, read the
    /// conversation as it now is and enqueue the event of `change`, in the same transaction.
    /// The number of rows changed.
    pub(crate) async fn update_with_event(
        &self,
        sql: &'static str,
        params: Vec<Param>,
        id: &ConversationId,
        change: Change,
    ) -> Result<u64> {
        let speedup = self.hooks.speedup();
        let read = by_id_sql();
        let id = id.to_owned();
        let from = match &change {
            Change::Transferred { from_expert } => Some(from_expert.clone()),
            _ => None,
        };
        let (n, any) = write_tx!(self, Lane::Now, |tx| async move {
            let n = tx.execute(sql, &params).await?;
            if n != 1 {
                return Ok((n, false));
            }
            let Some(row) = tx.rows::<ConversationRow>(&read, &[Param::text(&id)]).await?.pop() else {
                return Ok((n, false));
            };
            let name = match &from {
                Some(e) => tx.rows::<String>(EXPERT_NAME, &[Param::text(e)]).await?.pop(),
                None => None,
            };
            let items = conversation_events(&change, &row, name, speedup);
            Ok((n, !enqueue_in(tx, &items).await?.is_empty()))
        })?;
        self.enqueued_events(any);
        Ok(n)
    }
}

const SHOPPER_NAMES: &str = "SELECT name, email FROM shoppers WHERE merchant_id = $1 AND id = $2";

fn identified(
    m: &str,
    shopper: &str,
    before: &(Option<String>, Option<String>),
    after: &(Option<String>, Option<String>),
    speedup: u32,
) -> Vec<Outgoing> {
    if before == after {
        return vec![];
    }
    let data = events::ShopperData {
        shopper_id: shopper.to_owned(),
        name: after.0.clone(),
        email: after.1.clone(),
    };
    vec![events::event(
        &MerchantId::from_db(m.to_owned()),
        EventType::ShopperIdentified,
        None,
        &data,
        speedup,
    )]
}

impl Db {
    /// Run `sql`, an UPDATE of shopper `shopper`'s name and e-mail; when they changed, enqueue
    /// `shopper.identified` in the same transaction. The number of rows changed.
    pub(crate) async fn identify_with_event(&self, sql: &'static str, params: Vec<Param>, m: &str, shopper: &str) -> Result<u64> {
        let speedup = self.hooks.speedup();
        let key = vec![Param::text(m), Param::text(shopper)];
        let (m, shopper) = (m.to_owned(), shopper.to_owned());
        type Names = (Option<String>, Option<String>);
        let (n, any) = write_tx!(self, Lane::Now, |tx| async move {
            let Some(before) = tx.rows::<Names>(SHOPPER_NAMES, &key).await?.pop() else {
                return Ok((0, false));
            };
            let n = tx.execute(sql, &params).await?;
            let after = tx.rows::<Names>(SHOPPER_NAMES, &key).await?.pop().unwrap_or_default();
            let items = identified(&m, &shopper, &before, &after, speedup);
            Ok((n, !enqueue_in(tx, &items).await?.is_empty()))
        })?;
        self.enqueued_events(any);
        Ok(n)
    }
}

// ---------- reaching a shopper who is away (read by `outbound::hooks`) ----------

/// How a conversation's shopper can be reached outside the chat, and whether they are away.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Reach {
    pub id: ConversationId,
    pub merchant_id: String,
    pub shopper_id: String,
    pub status: String,
    pub offline: i64,
    /// The address of the offline form (the shopper asked for an answer there).
    pub offline_email: Option<String>,
    /// An address the shopper gave to hear of answers while away.
    pub notify_email: Option<String>,
    pub notify_phone: Option<String>,
    pub shopper_locale: Option<String>,
    pub shopper_away_since: Option<i64>,
}

const REACH_COLS: &str = "c.id, c.merchant_id, c.shopper_id, c.status, c.offline, c.offline_email, c.notify_email, c.notify_phone, \
    c.shopper_locale, c.shopper_away_since";

/// A conversation whose shopper has an expert's answer they have not read, and may be written to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unanswered {
    pub id: ConversationId,
    pub merchant_id: String,
    pub offline: i64,
    pub offline_email: Option<String>,
    pub notify_email: Option<String>,
    pub notify_phone: Option<String>,
    pub shopper_locale: Option<String>,
    pub shopper_read_seq: i64,
    /// The last expert message's seq.
    pub last_expert_seq: i64,
}

impl Db {
    /// Remember the widget's language and the shopper's contact for replies (each only when given).
    pub async fn set_reach(
        &self,
        m: Tenant<'_>,
        id: &ConversationId,
        locale: Option<&str>,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<()> {
        self.write_one(
            "UPDATE conversations SET shopper_locale = COALESCE($1, shopper_locale), notify_email = COALESCE($2, notify_email), \
             notify_phone = COALESCE($3, notify_phone) WHERE merchant_id = $4 AND id = $5",
            vec![
                Param::from(locale),
                Param::from(email),
                Param::from(phone),
                Param::from(m.as_str()),
                Param::from(id),
            ],
        )
        .await?;
        Ok(())
    }

    pub async fn reach(&self, m: Tenant<'_>, id: &ConversationId) -> Result<Reach> {
        let sql = format!("SELECT {REACH_COLS} FROM conversations c WHERE c.merchant_id = $1 AND c.id = $2");
        sqlx::query_as::<_, Reach>(&sql)
            .bind(m.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(crate::storage::StorageError::NotFound)
    }

    /// The shopper's last socket closed at `at`: their open conversations are marked away
    /// (those not marked already). Their open conversations as they now read.
    pub async fn shopper_left(&self, m: Tenant<'_>, shopper: &str, at: i64) -> Result<Vec<Reach>> {
        self.write_one(
            "UPDATE conversations SET shopper_away_since = $1 WHERE merchant_id = $2 AND shopper_id = $3 \
             AND status IN ('queued', 'offered', 'claimed') AND shopper_away_since IS NULL",
            vec![Param::from(at), Param::from(m.as_str()), Param::from(shopper)],
        )
        .await?;
        self.open_reach(m, shopper).await
    }

    /// The shopper is connected again: none of their conversations is away.
    pub async fn shopper_back(&self, m: Tenant<'_>, shopper: &str) -> Result<Vec<Reach>> {
        let away = self.open_reach(m, shopper).await?;
        if away.iter().any(|r| r.shopper_away_since.is_some()) {
            self.write_later(vec![(
                "UPDATE conversations SET shopper_away_since = NULL WHERE merchant_id = $1 AND shopper_id = $2 \
                 AND shopper_away_since IS NOT NULL"
                    .to_owned(),
                vec![Param::from(m.as_str()), Param::from(shopper)],
            )])
            .await?;
        }
        Ok(away)
    }

    /// The shopper's open conversations (queued, offered or claimed), oldest first.
    pub async fn open_reach(&self, m: Tenant<'_>, shopper: &str) -> Result<Vec<Reach>> {
        let sql = format!(
            "SELECT {REACH_COLS} FROM conversations c WHERE c.merchant_id = $1 AND c.shopper_id = $2 \
             AND c.status IN ('queued', 'offered', 'claimed') ORDER BY c.created_at"
        );
        Ok(sqlx::query_as::<_, Reach>(&sql)
            .bind(m.as_str())
            .bind(shopper)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Conversations whose shopper should hear of an expert's unread answers by e-mail now:
    /// an expert wrote after the shopper's read mark, the last time before `quiet_before`
    /// (several answers in a row make one mail) and after `since`; and either the chat began
    /// as an offline message (the form's address is for answers) whose answer has not been
    /// mailed for this read mark, or the shopper gave an address for this and has been away
    /// for the merchant's `away_email_after_min` (`minute_ms` long each) and these answers were
    /// not mailed yet.
    pub async fn unanswered(&self, since: i64, quiet_before: i64, now: i64, minute_ms: i64, limit: i64) -> Result<Vec<Unanswered>> {
        let last_expert = "(SELECT MAX(x.seq) FROM messages x WHERE x.conversation_id = c.id AND x.author_role = 'expert')";
        let sql = format!(
            "SELECT c.id, c.merchant_id, c.offline, c.offline_email, c.notify_email, c.notify_phone, c.shopper_locale, \
             c.shopper_read_seq, COALESCE({last_expert}, 0) AS last_expert_seq \
             FROM conversations c LEFT JOIN merchant_messaging mm ON mm.merchant_id = c.merchant_id \
             WHERE (c.notify_email IS NOT NULL OR c.offline_email IS NOT NULL) \
             AND c.status IN ('claimed', 'ended') AND c.last_expert_msg_at > $1 AND c.last_expert_msg_at < $2 \
             AND COALESCE({last_expert}, 0) > c.shopper_read_seq \
             AND ((c.offline = 1 AND c.offline_email IS NOT NULL AND NOT EXISTS (SELECT 1 FROM outbox o \
                     WHERE o.idempotency_key = 'offline_reply:' || c.id || ':' || c.shopper_read_seq)) \
               OR (c.offline = 0 AND c.notify_email IS NOT NULL AND c.shopper_away_since IS NOT NULL \
                   AND mm.away_email_after_min > 0 AND c.shopper_away_since < $3 - mm.away_email_after_min * $4 \
                   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.idempotency_key = 'unread:' || c.id || ':' || COALESCE({last_expert}, 0)))) \
             ORDER BY c.last_expert_msg_at LIMIT $5"
        );
        Ok(sqlx::query_as::<_, Unanswered>(&sql)
            .bind(since)
            .bind(quiet_before)
            .bind(now)
            .bind(minute_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }
}
