//! A shopper's journey: the pages they viewed and the facts around their chats and orders.

use super::sqlite_writer::Param;
use super::{Db, Result, Tenant};
use crate::ids::ConversationId;

/// A fact from the shopper's journey (not a page view).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct JourneyEvent {
    pub at: i64,
    pub kind: String,
    #[schema(required = true)]
    pub conversation_id: Option<ConversationId>,
    #[schema(required = true)]
    pub store_id: Option<String>,
    #[schema(required = true)]
    pub department_id: Option<String>,
    #[schema(required = true)]
    pub expert_id: Option<String>,
    #[schema(required = true)]
    pub value: Option<i64>,
    /// `order_stage` only: `{"order_id", "stage", "carrier", "tracking_number", "tracking_url"}`
    /// (the order's handling moved on; never its internal notes).
    #[schema(required = true)]
    pub detail: Option<serde_json::Value>,
}

#[derive(sqlx::FromRow)]
struct JourneyRow {
    at: i64,
    kind: String,
    conversation_id: Option<ConversationId>,
    store_id: Option<String>,
    department_id: Option<String>,
    expert_id: Option<String>,
    value: Option<i64>,
    detail: Option<String>,
}

/// A page view as recorded.
#[derive(Debug, Clone)]
pub struct PageViewed {
    pub at: i64,
    pub data_json: String,
}

/// Kinds whose `data_json` the journey shows (others keep theirs internal).
const JOURNEY_DETAIL_KINDS: [&str; 1] = ["order_stage"];

impl Db {
    /// The shopper's latest page views, newest first: when, and what the widget reported (the
    /// page's URL, title and product, as JSON; read into the wire's `PageVisit` by
    /// `hub::views::page_visits`).
    pub async fn page_views(&self, m: Tenant<'_>, shopper: &str, limit: i64) -> Result<Vec<PageViewed>> {
        let rows: Vec<(i64, Option<String>)> = self
            .hot_rows(
                "SELECT at, data_json FROM events WHERE merchant_id = $1 AND shopper_id = $2 AND kind = 'page_view' ORDER BY at DESC LIMIT $3",
                &[Param::text(m.as_str()), Param::text(shopper), Param::Int(limit)],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(at, data_json)| Some(PageViewed { at, data_json: data_json? }))
            .collect())
    }

    /// The shopper's other events (requests, claims, ratings, orders…), newest first.
    pub async fn shopper_events(&self, m: Tenant<'_>, shopper: &str, limit: i64) -> Result<Vec<JourneyEvent>> {
        let rows: Vec<JourneyRow> = sqlx::query_as(
            "SELECT at, kind, conversation_id, store_id, department_id, NULLIF(expert_id, '') AS expert_id, value, \
             CASE WHEN kind = 'order_stage' THEN data_json END AS detail FROM events \
             WHERE merchant_id = $1 AND shopper_id = $2 AND kind <> 'page_view' ORDER BY at DESC LIMIT $3",
        )
        .bind(m.as_str())
        .bind(shopper)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| JourneyEvent {
                detail: r
                    .detail
                    .filter(|_| JOURNEY_DETAIL_KINDS.contains(&r.kind.as_str()))
                    .and_then(|d| serde_json::from_str(&d).ok()),
                at: r.at,
                kind: r.kind,
                conversation_id: r.conversation_id,
                store_id: r.store_id,
                department_id: r.department_id,
                expert_id: r.expert_id,
                value: r.value,
            })
            .collect())
    }
}
