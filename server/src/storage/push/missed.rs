//! What an expert's "chats you missed" view reads: chats that went to others, when the expert
//! was available, and when they were busy.

use super::*;

impl Db {
    /// The chats of the merchant queued since `since` that this expert did not claim (not
    /// offline messages), newest first, at most 200.
    pub async fn chats_not_mine(&self, m: Tenant<'_>, expert: &str, since: i64) -> Result<Vec<crate::storage::ConversationRow>> {
        let sql = format!(
            "{} WHERE c.merchant_id = $1 AND c.queued_at >= $2 AND c.offline = 0 AND COALESCE(c.expert_id, '') <> $3 \
             AND c.status IN ('claimed', 'ended', 'missed', 'abandoned') ORDER BY c.queued_at DESC LIMIT 200",
            crate::storage::CONV_SELECT
        );
        sqlx_rows(&self.pool, &sql, &[Param::text(m.as_str()), Param::Int(since), Param::text(expert)]).await
    }

    /// When this expert switched available or away since `since` (oldest first): (at, available).
    pub async fn availability_changes(&self, m: Tenant<'_>, expert: &str, since: i64) -> Result<Vec<(i64, bool)>> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT at, kind FROM events WHERE merchant_id = $1 AND expert_id = $2 AND at >= $3 \
             AND kind IN ('expert_available', 'expert_away') ORDER BY at",
        )
        .bind(m.as_str())
        .bind(expert)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(at, k)| (at, k == "expert_available")).collect())
    }

    /// This expert's chats (claimed at, ended at) that were open at some point since `since`.
    pub async fn expert_chat_spans(&self, m: Tenant<'_>, expert: &str, since: i64) -> Result<Vec<(i64, Option<i64>)>> {
        Ok(sqlx::query_as(
            "SELECT claimed_at, ended_at FROM conversations WHERE merchant_id = $1 AND expert_id = $2 \
             AND claimed_at IS NOT NULL AND (ended_at IS NULL OR ended_at >= $3)",
        )
        .bind(m.as_str())
        .bind(expert)
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }
}
