//! Storing a batch of messages: each takes its conversation's next `seq` in the same
//! transaction that stores it (which also serialises concurrent writers of one conversation on
//! PostgreSQL). [`AppendPlan`] is driver-free; the SQLite writer thread and sqlx run its steps.

use crate::ids::{ConversationId, MessageId};
use std::collections::HashMap;

use super::super::sqlite_writer::{Lane, Param};
use super::super::tx::{named, write_tx, Cols, FromCols};
use super::super::{Db, Result, StorageError};
use super::*;
use crate::now_ms;

/// What one `append_messages` call did.
#[derive(Debug, Default)]
pub struct Appended {
    /// One per input message, in input order.
    pub outcomes: Vec<AppendOutcome>,
    /// Expert messages that were their conversation's first answer: (input index, ms since
    /// the claim), for the first-response analytics.
    pub first_responses: Vec<(usize, i64)>,
    /// (store, department) of each input message's conversation ('' when not stored), so
    /// message counts can be rolled up without a lookup per message.
    pub places: Vec<(String, String)>,
}

/// What `append_messages` reads of a conversation to number its messages.
pub(super) struct SeqRow {
    id: ConversationId,
    merchant_id: String,
    shopper_id: String,
    expert_id: Option<String>,
    status: ConversationStatus,
    last_seq: i64,
    claimed_at: Option<i64>,
    first_response_at: Option<i64>,
    store_id: String,
    department_id: String,
}

/// A conversation's state while a batch is numbered: `row` is updated as messages are taken.
pub(super) struct SeqState {
    row: SeqRow,
    start_seq: i64,
    first_stamped: bool,
    expert_wrote: bool,
}

pub(super) const MOVED: &str = "a conversation's sequence moved during its own write";

impl FromCols for SeqRow {
    /// The same row read through rusqlite (columns in `AppendPlan::state_sql` order).
    fn from_cols(r: &impl Cols) -> Result<SeqRow> {
        Ok(SeqRow {
            id: r.col(0)?,
            merchant_id: r.col(1)?,
            shopper_id: r.col(2)?,
            expert_id: r.col(3)?,
            status: named(r, 4)?,
            last_seq: r.col(5)?,
            claimed_at: r.col(6)?,
            first_response_at: r.col(7)?,
            store_id: r.col(8)?,
            department_id: r.col(9)?,
        })
    }
}

/// One `append_messages` call, driver-free: it says which statements to run, is told what they
/// read, and works out every outcome. Both drivers run the same steps in the same order.
pub(super) struct AppendPlan<'a> {
    batch: &'a [NewMessage],
    now: i64,
    out: Vec<Option<AppendOutcome>>,
    places: Vec<(String, String)>,
    firsts: Vec<(usize, i64)>,
    /// Messages stored by an earlier batch, by conversation and client id.
    stored_before: HashMap<ConversationId, HashMap<String, StoredMessage>>,
    /// The messages that need a number (see `earlier_ids`), in input order.
    fresh: Vec<usize>,
    /// Conversations written to, by id.
    convs: HashMap<ConversationId, SeqState>,
    /// (index, id, seq) of each message to insert.
    rows: Vec<(usize, MessageId, i64)>,
    /// Photos the batch's `attachment` messages name, as read in the transaction.
    attached: HashMap<String, super::super::media_chat::AttachedRow>,
    /// Message data completed in the transaction (a photo's size and type), by input index.
    data: HashMap<usize, String>,
}

impl<'a> AppendPlan<'a> {
    fn new(batch: &'a [NewMessage], now: i64) -> Self {
        AppendPlan {
            batch,
            now,
            out: vec![None; batch.len()],
            places: vec![(String::new(), String::new()); batch.len()],
            firsts: Vec::new(),
            stored_before: HashMap::new(),
            fresh: (0..batch.len()).collect(),
            convs: HashMap::new(),
            rows: Vec::new(),
            attached: HashMap::new(),
            data: HashMap::new(),
        }
    }

    /// Messages stored before with the same (conversation, client id) as one of this batch.
    fn earlier_ids_sql(&self) -> Vec<(String, Vec<Param>)> {
        let keyed: Vec<&NewMessage> = self.batch.iter().filter(|m| m.client_msg_id.is_some()).collect();
        super::super::shaped_chunks(&keyed, 256)
            .into_iter()
            .map(|chunk| {
                let cond = (0..chunk.len())
                    .map(|k| format!("(m.conversation_id = ${} AND m.client_msg_id = ${})", 2 * k + 1, 2 * k + 2))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                let params = chunk
                    .iter()
                    .flat_map(|m| [Param::text(&m.conversation_id), Param::opt_text(m.client_msg_id.as_deref())])
                    .collect();
                (format!("{MSG_SELECT} WHERE {cond}"), params)
            })
            .collect()
    }

    /// Take what the earlier-ids query found; the messages left to number are those with no
    /// earlier copy that are the first of their client id in this batch.
    fn earlier_ids(&mut self, rows: Vec<StoredMessage>) {
        for row in rows {
            if let Some(cid) = row.client_msg_id.clone() {
                self.stored_before.entry(row.conversation_id.clone()).or_default().insert(cid, row);
            }
        }
        let mut seen: std::collections::HashSet<(&str, &str)> = std::collections::HashSet::new();
        let (batch, before) = (self.batch, &self.stored_before);
        self.fresh.retain(|&i| {
            let m = &batch[i];
            m.client_msg_id.as_deref().is_none_or(|cid| {
                !before.get(&m.conversation_id).is_some_and(|c| c.contains_key(cid)) && seen.insert((m.conversation_id.as_str(), cid))
            })
        });
    }

    /// The copy an earlier batch stored of this message (same conversation and client id).
    fn stored_before(&self, m: &NewMessage) -> Option<&StoredMessage> {
        self.stored_before.get(&m.conversation_id)?.get(m.client_msg_id.as_deref()?)
    }

    /// The photos named by the batch's `attachment` messages still to be numbered.
    fn attachments_sql(&self) -> Vec<(String, Vec<Param>)> {
        let ids: Vec<String> = self
            .fresh
            .iter()
            .filter_map(|&i| super::super::media_chat::attachment_ref(self.batch[i].kind, self.batch[i].data_json.as_deref()))
            .collect();
        super::super::media_chat::attachments_sql(&ids)
    }

    fn attached(&mut self, rows: Vec<super::super::media_chat::AttachedRow>) {
        for r in rows {
            self.attached.insert(r.id.clone(), r);
        }
    }

    /// Mark the photos of the stored `attachment` messages as sent.
    fn sent_sql(&self) -> Vec<(String, Vec<Param>)> {
        let ids: Vec<String> = self
            .rows
            .iter()
            .filter(|(i, _, _)| self.data.contains_key(i))
            .filter_map(|(i, _, _)| super::super::media_chat::attachment_ref(self.batch[*i].kind, self.batch[*i].data_json.as_deref()))
            .collect();
        super::super::media_chat::sent_sql(&ids, self.now)
    }

    /// The state of the conversations written to, locked on PostgreSQL.
    fn state_sql(&self, backend: super::super::Backend) -> Vec<(String, Vec<Param>)> {
        let mut ids: Vec<&str> = self.fresh.iter().map(|&i| self.batch[i].conversation_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let lock = if backend == super::super::Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        super::super::shaped_chunks(&ids, 512)
            .into_iter()
            .map(|chunk| {
                let sql = format!(
                    "SELECT id, merchant_id, shopper_id, expert_id, status, last_seq, claimed_at, first_response_at, store_id, department_id \
                     FROM conversations WHERE id IN ({}) ORDER BY id{lock}",
                    super::super::placeholders(chunk.len(), 1)
                );
                (sql, chunk.iter().map(|id| Param::text(id)).collect())
            })
            .collect()
    }

    fn states(&mut self, rows: Vec<SeqRow>) {
        for row in rows {
            let state = SeqState {
                start_seq: row.last_seq,
                first_stamped: false,
                expert_wrote: false,
                row,
            };
            self.convs.insert(state.row.id.clone(), state);
        }
    }

    /// Who may write, and the next numbers, in input order.
    fn number(&mut self) {
        for &i in &self.fresh {
            let m = &self.batch[i];
            let Some(c) = self
                .convs
                .get_mut(&m.conversation_id)
                .filter(|c| c.row.merchant_id == m.merchant_id)
            else {
                self.out[i] = Some(AppendOutcome::NotFound);
                continue;
            };
            // Someone else's conversation (another shopper's, a colleague's) is not found, exactly
            // like one that does not exist: no answer tells whether an id is in use.
            let (theirs, open) = match &m.sender {
                Sender::Shopper(s) => (c.row.shopper_id == *s, c.row.status.is_open()),
                Sender::Expert { id, .. } => (
                    c.row.expert_id.as_deref() == Some(id.as_str()),
                    c.row.status == ConversationStatus::Claimed,
                ),
                Sender::System => (true, true),
            };
            if !theirs {
                self.out[i] = Some(AppendOutcome::NotFound);
                continue;
            }
            if m.kind == "attachment" {
                // The photo must be stored, of this conversation and uploaded by the sender (checked
                // first: someone else's chat or photo reads as not found).
                match super::super::media_chat::attachment_data(m, &self.attached) {
                    Some(d) => {
                        self.data.insert(i, d);
                    }
                    None => {
                        self.out[i] = Some(AppendOutcome::NotFound);
                        continue;
                    }
                }
            }
            if !open {
                self.out[i] = Some(AppendOutcome::InvalidState(format!("the conversation is {}", c.row.status)));
                continue;
            }
            c.row.last_seq += 1;
            if matches!(m.sender, Sender::Expert { .. }) {
                c.expert_wrote = true;
                if c.row.first_response_at.is_none() {
                    c.row.first_response_at = Some(self.now);
                    c.first_stamped = true;
                    if let Some(claimed) = c.row.claimed_at {
                        self.firsts.push((i, (self.now - claimed).max(0)));
                    }
                }
            }
            self.places[i] = (c.row.store_id.clone(), c.row.department_id.clone());
            self.rows.push((i, MessageId::generate(), c.row.last_seq));
        }
    }

    /// The counters, one statement per piece of at most 256 conversations (sizes from a fixed set, see [`super::super::shaped_chunks`]), with the rows each must change. Each
    /// row must still hold the number read above. A VALUES list's columns are column1,
    /// column2… on both backends (SQLite cannot name them): id, seq read, new seq, first
    /// answer stamped (0/1), an expert wrote (0/1).
    fn counters_sql(&self) -> Vec<(String, Vec<Param>, usize)> {
        let mut touched: Vec<&SeqState> = self.convs.values().filter(|c| c.row.last_seq > c.start_seq).collect();
        touched.sort_unstable_by(|a, b| a.row.id.cmp(&b.row.id));
        super::super::shaped_chunks(&touched, 256)
            .into_iter()
            .map(|chunk| {
                let sql = format!(
                    "UPDATE conversations SET last_seq = v.column3, \
                     first_response_at = CASE WHEN v.column4 = 1 THEN $1 ELSE conversations.first_response_at END, \
                     last_expert_msg_at = CASE WHEN v.column5 = 1 THEN $1 ELSE conversations.last_expert_msg_at END \
                     FROM (VALUES {}) AS v \
                     WHERE conversations.id = v.column1 AND conversations.last_seq = v.column2",
                    super::super::value_rows_from(chunk.len(), 5, 2)
                );
                let mut params = vec![Param::Int(self.now)];
                for c in chunk {
                    params.extend([
                        Param::text(&c.row.id),
                        Param::Int(c.start_seq),
                        Param::Int(c.row.last_seq),
                        Param::Int(i64::from(c.first_stamped)),
                        Param::Int(i64::from(c.expert_wrote)),
                    ]);
                }
                (sql, params, chunk.len())
            })
            .collect()
    }

    /// The messages, at most 256 rows per statement (sizes from a fixed set, see [`super::super::shaped_chunks`]).
    fn insert_sql(&self) -> Vec<(String, Vec<Param>)> {
        const COLS: usize = 11;
        super::super::shaped_chunks(&self.rows, 256)
            .into_iter()
            .map(|chunk| {
                let sql = format!(
                    "INSERT INTO messages (conversation_id, seq, id, merchant_id, client_msg_id, author_role, expert_id, kind, body, data_json, created_at) \
                     VALUES {}",
                    super::super::value_rows(chunk.len(), COLS)
                );
                let mut params = Vec::with_capacity(chunk.len() * COLS);
                for (i, id, seq) in chunk {
                    let m = &self.batch[*i];
                    params.extend([
                        Param::text(&m.conversation_id),
                        Param::Int(*seq),
                        Param::text(id),
                        Param::text(&m.merchant_id),
                        Param::opt_text(m.client_msg_id.as_deref()),
                        Param::text(m.sender.role()),
                        Param::opt_text(m.sender.expert_id()),
                        Param::text(m.kind),
                        Param::text(&m.body),
                        Param::opt_text(self.data.get(i).map(String::as_str).or(m.data_json.as_deref())),
                        Param::Int(self.now),
                    ]);
                }
                (sql, params)
            })
            .collect()
    }

    /// Every outcome, once the transaction has committed.
    fn finish(mut self) -> Appended {
        let same = |m: &NewMessage, role: &str, expert: Option<&str>, body: &str, photo: Option<String>| {
            role == m.sender.role()
                && (!matches!(m.sender, Sender::Expert { .. }) || expert == m.sender.expert_id())
                && body == m.body
                && photo == super::super::media_chat::attachment_ref(m.kind, m.data_json.as_deref())
        };
        for (i, id, seq) in std::mem::take(&mut self.rows) {
            let stored = match self.data.get(&i) {
                Some(d) => NewMessage {
                    data_json: Some(d.clone()),
                    ..self.batch[i].clone()
                }
                .stored(seq, id, self.now),
                None => self.batch[i].stored(seq, id, self.now),
            };
            self.out[i] = Some(AppendOutcome::Stored(stored));
        }
        // A client id stored before, or first seen earlier in this batch: that one's outcome.
        let mut first_of: HashMap<(&str, &str), usize> = HashMap::new();
        for i in 0..self.batch.len() {
            let m = &self.batch[i];
            let Some(cid) = m.client_msg_id.as_deref() else { continue };
            if let Some(prev) = self.stored_before(m) {
                let photo = super::super::media_chat::attachment_ref(&prev.kind, prev.data_json.as_deref());
                self.out[i] = Some(if same(m, &prev.author_role, prev.expert_id.as_deref(), &prev.body, photo) {
                    AppendOutcome::Duplicate(prev.clone())
                } else {
                    AppendOutcome::Conflict
                });
                continue;
            }
            match first_of.get(&(m.conversation_id.as_str(), cid)) {
                None => {
                    first_of.insert((m.conversation_id.as_str(), cid), i);
                }
                Some(&first) => {
                    self.out[i] = Some(match &self.out[first] {
                        Some(AppendOutcome::Stored(v)) => {
                            let photo = super::super::media_chat::attachment_ref(&v.kind, v.data_json.as_deref());
                            if same(m, &v.author_role, v.expert_id.as_deref(), &v.body, photo) {
                                AppendOutcome::Duplicate(v.clone())
                            } else {
                                AppendOutcome::Conflict
                            }
                        }
                        other => other.clone().unwrap_or(AppendOutcome::NotFound),
                    });
                }
            }
        }
        Appended {
            outcomes: self.out.into_iter().map(|o| o.unwrap_or(AppendOutcome::NotFound)).collect(),
            first_responses: self.firsts,
            places: self.places,
        }
    }
}

impl Db {
    /// Store a batch of messages in one transaction. Each gets the next sequence number of its
    /// conversation; a repeated `client_msg_id` returns the original. Outcomes are in input order.
    /// If the transaction fails nothing is stored and the caller must not acknowledge anything.
    ///
    /// The batch costs the same few statements whatever its size (earlier client ids, the
    /// conversations' state, one update of their counters, one insert of the rows), not three
    /// per message. Sequence numbers are computed from the state read inside the transaction,
    /// which holds the write lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: the rows are read
    /// `FOR UPDATE`, in id order, so writers on several nodes cannot deadlock), and the update
    /// checks that each counter still holds the number it started from. On SQLite the whole
    /// transaction runs on the writer thread ([`SqliteWriter`]); both drivers run this one body
    /// (`storage::tx`).
    pub async fn append_messages(&self, batch: Vec<NewMessage>) -> Result<Appended> {
        let now = now_ms();
        // Their webhook events commit with them (see `hooks`).
        let speedup = self.hooks.speedup();
        let backend = self.backend;
        let (done, any) = write_tx!(self, Lane::Now, |tx| async move {
            let mut plan = AppendPlan::new(&batch, now);
            for (sql, params) in plan.earlier_ids_sql() {
                plan.earlier_ids(tx.rows(&sql, &params).await?);
            }
            for (sql, params) in plan.state_sql(backend) {
                plan.states(tx.rows(&sql, &params).await?);
            }
            for (sql, params) in plan.attachments_sql() {
                plan.attached(tx.rows(&sql, &params).await?);
            }
            plan.number();
            for (sql, params, expect) in plan.counters_sql() {
                if tx.execute(&sql, &params).await? != expect as u64 {
                    return Err(StorageError::Corrupt(MOVED.into()));
                }
            }
            for (sql, params) in plan.insert_sql().into_iter().chain(plan.sent_sql()) {
                tx.execute(&sql, &params).await?;
            }
            let done = plan.finish();
            let any = hooks::after_append(tx, &batch, &done, speedup).await?;
            Ok((done, any))
        })?;
        self.enqueued_events(any);
        Ok(done)
    }
}
