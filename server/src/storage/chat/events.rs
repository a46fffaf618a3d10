//! Analytics facts as they are stored, before the roller folds them into the rollups.

use crate::ids::ConversationId;
use serde::{Deserialize, Serialize};

use super::super::sqlite_writer::Param;
use super::super::{Db, Result, Tenant};

/// An analytics fact (see PRODUCT.md "Event").
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Event {
    pub merchant_id: String,
    pub kind: &'static str,
    pub at: i64,
    pub shopper_id: Option<String>,
    pub store_id: Option<String>,
    pub department_id: Option<String>,
    pub expert_id: Option<String>,
    pub conversation_id: Option<ConversationId>,
    pub value: Option<i64>,
    pub data_json: Option<String>,
}

impl Db {
    /// Write analytics events in one transaction, at most 128 rows per statement. (Callers keep
    /// batches short: SQLite's one writer also stores every chat message.)
    pub async fn insert_events(&self, events: &[Event]) -> Result<()> {
        let statements = super::super::shaped_chunks(events, 128)
            .into_iter()
            .map(|chunk| {
                let sql = format!(
                    "INSERT INTO events (id, merchant_id, kind, at, shopper_id, store_id, department_id, expert_id, conversation_id, value, data_json) \
                     VALUES {}",
                    super::super::value_rows(chunk.len(), 11)
                );
                let mut params = Vec::with_capacity(chunk.len() * 11);
                for e in chunk {
                    params.extend([
                        Param::Text(uuid::Uuid::now_v7().to_string()),
                        Param::text(&e.merchant_id),
                        Param::text(e.kind),
                        Param::Int(e.at),
                        Param::opt_text(e.shopper_id.as_deref()),
                        Param::opt_text(e.store_id.as_deref()),
                        Param::opt_text(e.department_id.as_deref()),
                        Param::opt_text(e.expert_id.as_deref()),
                        Param::opt_text(e.conversation_id.as_deref()),
                        Param::opt_int(e.value),
                        Param::opt_text(e.data_json.as_deref()),
                    ]);
                }
                (sql, params)
            })
            .collect();
        self.write_later(statements).await
    }

    pub async fn count_events(&self, m: Tenant<'_>, kind: &str) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events WHERE merchant_id = $1 AND kind = $2")
            .bind(m.as_str())
            .bind(kind)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }
}
