//! The reads behind the conversation and transcript exports (streamed a page at a time).

use super::sqlite_writer::Param;
use super::RollupFilter;
use super::{Db, Result, Tenant};

/// One message of a transcript export.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct TranscriptRow {
    pub conversation_id: String, // a reused buffer (the export writes millions of rows), not an id to pass around
    pub seq: i64,
    pub created_at: i64,
    pub author_role: String,
    pub expert_id: Option<String>,
    pub expert_name: Option<String>,
    pub shopper_id: String,
    pub kind: String,
    pub body: String,
    /// A photo's or card's data (issue 24: the photo's id for its link).
    pub data_json: Option<String>,
}

impl TranscriptRow {
    /// Overwrite this row with `r` (the columns of [`export_messages_sql`]), reusing its strings.
    fn fill_from_sqlite(&mut self, r: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
        fn text(into: &mut String, r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<()> {
            into.clear();
            into.push_str(r.get_ref(i)?.as_str()?);
            Ok(())
        }
        fn opt_text(into: &mut Option<String>, r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<()> {
            match (r.get_ref(i)?.as_str_or_null()?, into.as_mut()) {
                (None, _) => *into = None,
                (Some(v), Some(s)) => {
                    s.clear();
                    s.push_str(v);
                }
                (Some(v), None) => *into = Some(v.to_owned()),
            }
            Ok(())
        }
        text(&mut self.conversation_id, r, 0)?;
        self.seq = r.get(1)?;
        self.created_at = r.get(2)?;
        text(&mut self.author_role, r, 3)?;
        opt_text(&mut self.expert_id, r, 4)?;
        opt_text(&mut self.expert_name, r, 5)?;
        text(&mut self.shopper_id, r, 6)?;
        text(&mut self.kind, r, 7)?;
        text(&mut self.body, r, 8)?;
        opt_text(&mut self.data_json, r, 9)
    }
}

/// The page of a transcript export: messages in [$2, $3) of merchant $1, the filters that are
/// set, then after the keyset (created_at, conversation, seq) in the last three parameters.
fn export_messages_sql(f: &RollupFilter, limit: i64) -> String {
    let mut n = 4;
    let filters = conv_filter_sql(f, &mut n);
    let keyset = format!(
        " AND (m.created_at > ${a} OR (m.created_at = ${a} AND (m.conversation_id > ${b} OR (m.conversation_id = ${b} AND m.seq > ${c}))))",
        a = n,
        b = n + 1,
        c = n + 2
    );
    format!(
        "SELECT m.conversation_id, m.seq, m.created_at, m.author_role, m.expert_id, e.name AS expert_name, c.shopper_id, m.kind, m.body, m.data_json \
         FROM messages m JOIN conversations c ON c.id = m.conversation_id LEFT JOIN experts e ON e.id = m.expert_id \
         WHERE m.merchant_id = $1 AND m.created_at >= $2 AND m.created_at < $3{filters}{keyset} \
         ORDER BY m.created_at, m.conversation_id, m.seq LIMIT {}",
        limit.clamp(1, 10_000)
    )
}

/// `AND c.store_id = $n …` for the filters that are set, numbering from `next`.
fn conv_filter_sql(f: &RollupFilter, next: &mut usize) -> String {
    let mut sql = String::new();
    for (col, v) in [
        ("c.store_id", &f.store_id),
        ("c.department_id", &f.department_id),
        ("c.expert_id", &f.expert_id),
    ] {
        if v.is_some() {
            sql.push_str(&format!(" AND {col} = ${next}"));
            *next += 1;
        }
    }
    sql
}

fn filter_values(f: &RollupFilter) -> impl Iterator<Item = &String> {
    [&f.store_id, &f.department_id, &f.expert_id].into_iter().flatten()
}

impl Db {
    /// Conversations created in [from, to), oldest first, after the keyset (created_at, id).
    pub async fn export_conversations(
        &self,
        m: Tenant<'_>,
        f: &RollupFilter,
        after: Option<&(i64, String)>,
        limit: i64,
    ) -> Result<Vec<super::ConversationRow>> {
        let mut n = 4;
        let filters = conv_filter_sql(f, &mut n);
        let keyset = format!(" AND (c.created_at > ${} OR (c.created_at = ${} AND c.id > ${}))", n, n, n + 1);
        let sql = format!(
            "{} WHERE c.merchant_id = $1 AND c.created_at >= $2 AND c.created_at < $3{filters}{keyset} ORDER BY c.created_at, c.id LIMIT {}",
            super::chat::CONV_SELECT,
            limit.clamp(1, 10_000)
        );
        let mut params = vec![Param::text(m.as_str()), Param::Int(f.from), Param::Int(f.to)];
        params.extend(filter_values(f).map(|v| Param::text(v)));
        let (t, id) = after.cloned().unwrap_or((i64::MIN, String::new()));
        params.extend([Param::Int(t), Param::Text(id)]);
        super::tx::sqlx_rows(&self.pool, &sql, &params).await
    }

    pub async fn count_conversations(&self, m: Tenant<'_>, f: &RollupFilter) -> Result<i64> {
        let mut n = 4;
        let filters = conv_filter_sql(f, &mut n);
        let sql =
            format!("SELECT COUNT(*) FROM conversations c WHERE c.merchant_id = $1 AND c.created_at >= $2 AND c.created_at < $3{filters}");
        let mut q = sqlx::query_as::<_, (i64,)>(&sql).bind(m.as_str()).bind(f.from).bind(f.to);
        for v in filter_values(f) {
            q = q.bind(v);
        }
        Ok(q.fetch_one(&self.pool).await?.0)
    }

    /// Messages sent in [from, to), in time order, after the keyset (created_at, conversation, seq).
    pub async fn export_messages(
        &self,
        m: Tenant<'_>,
        f: &RollupFilter,
        after: Option<&(i64, String, i64)>,
        limit: i64,
    ) -> Result<Vec<TranscriptRow>> {
        let sql = export_messages_sql(f, limit);
        let mut q = sqlx::query_as::<_, TranscriptRow>(&sql).bind(m.as_str()).bind(f.from).bind(f.to);
        for v in filter_values(f) {
            q = q.bind(v);
        }
        let (t, c, s) = after.cloned().unwrap_or((i64::MIN, String::new(), 0));
        Ok(q.bind(t).bind(c).bind(s).fetch_all(&self.pool).await?)
    }

    /// On an SQLite file: the page [`Db::export_messages`] reads, read on this thread from a
    /// kept read connection (see `sqlite_reader`) and handed to `each` row by row in one reused
    /// value, so a row costs no allocation and no hand-off to sqlx's worker thread. Blocks for
    /// the page (milliseconds): call it from a blocking thread. `None` on other databases.
    /// Returns how many rows `each` was given.
    pub fn each_exported_message(
        &self,
        m: Tenant<'_>,
        f: &RollupFilter,
        after: Option<&(i64, String, i64)>,
        limit: i64,
        each: &mut dyn FnMut(&TranscriptRow),
    ) -> Option<Result<usize>> {
        let reader = self.reader.as_ref()?;
        let sql = export_messages_sql(f, limit);
        let mut params = vec![Param::text(m.as_str()), Param::Int(f.from), Param::Int(f.to)];
        params.extend(filter_values(f).map(|v| Param::text(v)));
        let (t, c, s) = after.cloned().unwrap_or((i64::MIN, String::new(), 0));
        params.extend([Param::Int(t), Param::Text(c), Param::Int(s)]);
        Some(reader.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(&params))?;
            let mut row = TranscriptRow::default();
            let mut n = 0;
            while let Some(r) = rows.next()? {
                row.fill_from_sqlite(r)?;
                each(&row);
                n += 1;
            }
            Ok(n)
        }))
    }

    pub async fn count_messages(&self, m: Tenant<'_>, f: &RollupFilter) -> Result<i64> {
        let mut n = 4;
        let filters = conv_filter_sql(f, &mut n);
        let join = if filters.is_empty() {
            ""
        } else {
            " JOIN conversations c ON c.id = m.conversation_id"
        };
        let sql =
            format!("SELECT COUNT(*) FROM messages m{join} WHERE m.merchant_id = $1 AND m.created_at >= $2 AND m.created_at < $3{filters}");
        let mut q = sqlx::query_as::<_, (i64,)>(&sql).bind(m.as_str()).bind(f.from).bind(f.to);
        for v in filter_values(f) {
            q = q.bind(v);
        }
        Ok(q.fetch_one(&self.pool).await?.0)
    }
}
