//! Experts: sign-up, lifecycle, assignments, feature switches and contacts. Their sign-in,
//! password and store-app tokens are in [`super::expert_sessions`].

use std::collections::HashMap;

use serde::Serialize;

use super::{json_col, to_json, Db, Page, PageRequest, Result, StorageError, Tenant};
use crate::domain::team::{ExpertAction, ExpertFeatures, ExpertStatus};
use crate::ids::{DepartmentId, ExpertId, MerchantId, StoreId};
use crate::now_ms;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Expert {
    pub id: ExpertId,
    pub merchant_id: MerchantId,
    pub email: String,
    pub name: String,
    pub status: ExpertStatus,
    pub features: ExpertFeatures,
    /// How many chats the expert may hold at once.
    pub max_chats: i64,
    pub store_ids: Vec<StoreId>,
    pub department_ids: Vec<DepartmentId>,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct ExpertRow {
    pub(super) id: String,
    pub(super) merchant_id: String,
    email: String,
    name: String,
    status: String,
    features_json: String,
    max_chats: i64,
    created_at: i64,
}

pub(super) const EXPERT_COLS: &str = "id, merchant_id, email, name, status, features_json, max_chats, created_at";

impl ExpertRow {
    pub(super) fn into_expert(self, store_ids: Vec<StoreId>, department_ids: Vec<DepartmentId>) -> Result<Expert> {
        Ok(Expert {
            id: ExpertId::from_db(self.id),
            merchant_id: MerchantId::from_db(self.merchant_id),
            email: self.email,
            name: self.name,
            status: ExpertStatus::parse(&self.status).ok_or_else(|| StorageError::Corrupt(format!("status {}", self.status)))?,
            features: json_col(&self.features_json, "features_json")?,
            max_chats: self.max_chats,
            store_ids,
            department_ids,
            created_at: self.created_at,
        })
    }
}

/// Whose chat cap changed: the one the expert chose in the app, or the merchant's for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapKind {
    Own,
    Merchant,
}

/// A change of an expert's chat cap: when, and the cap that held until then (one of the two).
#[derive(Debug, Clone, Copy)]
pub struct CapChange {
    pub at: i64,
    pub own: Option<i64>,
    pub max: Option<i64>,
}

pub struct NewExpert<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub status: ExpertStatus,
}

impl Db {
    pub async fn create_expert(&self, m: Tenant<'_>, e: &NewExpert<'_>) -> Result<Expert> {
        let id = ExpertId::generate();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO experts (id, merchant_id, email, name, password_hash, status, features_json, max_chats, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 3, $8, $8)",
        )
        .bind(id.as_str())
        .bind(m.as_str())
        .bind(e.email)
        .bind(e.name)
        .bind(e.password_hash)
        .bind(e.status.as_str())
        .bind(to_json(&ExpertFeatures::default()))
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(StorageError::unique("an expert with this email already exists"))?;
        self.get_expert(m, &id).await
    }

    pub async fn get_expert(&self, m: Tenant<'_>, id: &ExpertId) -> Result<Expert> {
        let sql = format!("SELECT {EXPERT_COLS} FROM experts WHERE merchant_id = $1 AND id = $2");
        let row = sqlx::query_as::<_, ExpertRow>(&sql)
            .bind(m.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?;
        let (stores, deps) = self.assignments(m, id).await?;
        row.into_expert(stores, deps)
    }

    pub(super) async fn assignments(&self, m: Tenant<'_>, id: &ExpertId) -> Result<(Vec<StoreId>, Vec<DepartmentId>)> {
        let stores: Vec<(String,)> =
            sqlx::query_as("SELECT store_id FROM expert_stores WHERE merchant_id = $1 AND expert_id = $2 ORDER BY store_id")
                .bind(m.as_str())
                .bind(id.as_str())
                .fetch_all(&self.pool)
                .await?;
        let deps: Vec<(String,)> =
            sqlx::query_as("SELECT department_id FROM expert_departments WHERE merchant_id = $1 AND expert_id = $2 ORDER BY department_id")
                .bind(m.as_str())
                .bind(id.as_str())
                .fetch_all(&self.pool)
                .await?;
        Ok((
            stores.into_iter().map(|r| StoreId::from_db(r.0)).collect(),
            deps.into_iter().map(|r| DepartmentId::from_db(r.0)).collect(),
        ))
    }

    pub async fn list_experts(&self, m: Tenant<'_>, status: Option<ExpertStatus>, page: &PageRequest) -> Result<Page<Expert>> {
        let sql = format!(
            "SELECT {EXPERT_COLS} FROM experts WHERE merchant_id = $1 AND ($2 = '' OR status = $2) AND id > $3 ORDER BY id LIMIT $4"
        );
        let rows = sqlx::query_as::<_, ExpertRow>(&sql)
            .bind(m.as_str())
            .bind(status.map(|s| s.as_str()).unwrap_or(""))
            .bind(page.after())
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?;
        // Assignments of the whole page in two queries, not two per expert.
        let mut stores: HashMap<String, Vec<StoreId>> = HashMap::new();
        let mut deps: HashMap<String, Vec<DepartmentId>> = HashMap::new();
        if !rows.is_empty() {
            let ids = super::placeholders(rows.len(), 2);
            for (table, col) in [("expert_stores", "store_id"), ("expert_departments", "department_id")] {
                let sql = format!(
                    "SELECT expert_id, {col} FROM {table} WHERE merchant_id = $1 AND expert_id IN ({ids}) ORDER BY expert_id, {col}"
                );
                let mut q = sqlx::query_as::<_, (String, String)>(&sql).bind(m.as_str());
                for r in &rows {
                    q = q.bind(&r.id);
                }
                for (expert, x) in q.fetch_all(&self.pool).await? {
                    if table == "expert_stores" {
                        stores.entry(expert).or_default().push(StoreId::from_db(x));
                    } else {
                        deps.entry(expert).or_default().push(DepartmentId::from_db(x));
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let (s, d) = (stores.remove(&r.id).unwrap_or_default(), deps.remove(&r.id).unwrap_or_default());
            out.push(r.into_expert(s, d)?);
        }
        Ok(Page::from_rows(out, page, |e| e.id.to_string()))
    }

    /// (id, name) of the merchant's approved experts, by name (at most 500): the store app's
    /// list of colleagues to transfer to.
    pub async fn approved_expert_names(&self, m: Tenant<'_>) -> Result<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT id, name FROM experts WHERE merchant_id = $1 AND status = 'approved' ORDER BY name, id LIMIT 500")
                .bind(m.as_str())
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Apply a lifecycle action. Deactivation ends every store-app token of the expert.
    pub async fn expert_action(&self, m: Tenant<'_>, id: &ExpertId, action: ExpertAction) -> Result<Expert> {
        let cur = self.get_expert(m, id).await?;
        let next = action
            .apply(cur.status)
            .ok_or_else(|| StorageError::Conflict(format!("cannot do that to an expert who is {}", cur.status.as_str())))?;
        let mut tx = self.begin_write().await?;
        // Conditional on the status we read, so two concurrent actions cannot both apply.
        let done = sqlx::query("UPDATE experts SET status = $1, updated_at = $2 WHERE merchant_id = $3 AND id = $4 AND status = $5")
            .bind(next.as_str())
            .bind(now_ms())
            .bind(m.as_str())
            .bind(id.as_str())
            .bind(cur.status.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::Conflict("the expert changed meanwhile; try again".into()));
        }
        if next == ExpertStatus::Deactivated {
            sqlx::query("DELETE FROM expert_tokens WHERE expert_id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            // A deactivated expert's devices get no more alerts (issue 23).
            sqlx::query("DELETE FROM push_subscriptions WHERE merchant_id = $1 AND expert_id = $2")
                .bind(m.as_str())
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.get_expert(m, id).await
    }

    pub async fn update_expert(
        &self,
        m: Tenant<'_>,
        id: &ExpertId,
        name: Option<&str>,
        features: Option<&ExpertFeatures>,
        max_chats: Option<i64>,
    ) -> Result<Expert> {
        let cur = self.get_expert(m, id).await?;
        sqlx::query("UPDATE experts SET name = $1, features_json = $2, max_chats = $3, updated_at = $4 WHERE merchant_id = $5 AND id = $6")
            .bind(name.unwrap_or(&cur.name))
            .bind(to_json(features.unwrap_or(&cur.features)))
            .bind(max_chats.unwrap_or(cur.max_chats))
            .bind(now_ms())
            .bind(m.as_str())
            .bind(id.as_str())
            .execute(&self.writer)
            .await?;
        if max_chats.is_some_and(|c| c != cur.max_chats) {
            self.record_cap_change(m, id.as_str(), CapKind::Merchant, cur.max_chats).await?;
        }
        self.get_expert(m, id).await
    }

    /// Keep the chat cap an expert had until now as an `expert_cap` event (at this time,
    /// `data_json` `{"own": n}` for the cap the expert chose in the app or `{"max": n}` for the
    /// merchant's), so "Why did I miss this chat?" judges a chat by the cap of its time.
    pub async fn record_cap_change(&self, m: Tenant<'_>, expert: &str, kind: CapKind, was: i64) -> Result<()> {
        let key = match kind {
            CapKind::Own => "own",
            CapKind::Merchant => "max",
        };
        self.record_replaced(m, expert, "expert_cap", serde_json::json!({ key: was })).await
    }

    /// Keep what an expert's setting was until now as a `kind` event at this time (`data_json`
    /// `was`), for "Why did I miss this chat?" ([`Db::replaced_since`] reads them back).
    async fn record_replaced(&self, m: Tenant<'_>, expert: &str, kind: &'static str, was: serde_json::Value) -> Result<()> {
        self.insert_events(&[super::Event {
            merchant_id: m.as_str().to_owned(),
            kind,
            at: now_ms(),
            expert_id: Some(expert.to_owned()),
            data_json: Some(was.to_string()),
            ..Default::default()
        }])
        .await
    }

    /// The `kind` events [`Db::record_replaced`] kept for this expert since `since`, oldest
    /// first: when, and what held until then (rows that do not read as `T` are left out).
    async fn replaced_since<T: serde::de::DeserializeOwned>(
        &self,
        m: Tenant<'_>,
        expert: &str,
        kind: &str,
        since: i64,
    ) -> Result<Vec<(i64, T)>> {
        let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
            "SELECT at, data_json FROM events WHERE merchant_id = $1 AND expert_id = $2 AND kind = $3 AND at >= $4 ORDER BY at",
        )
        .bind(m.as_str())
        .bind(expert)
        .bind(kind)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(at, j)| Some((at, serde_json::from_str(j.as_deref()?).ok()?)))
            .collect())
    }

    /// When this expert's caps changed since `since` (oldest first), each with the cap that held
    /// until then: `(at, own, max)`, one of the two set.
    pub async fn cap_changes(&self, m: Tenant<'_>, expert: &str, since: i64) -> Result<Vec<CapChange>> {
        #[derive(serde::Deserialize)]
        struct Was {
            own: Option<i64>,
            max: Option<i64>,
        }
        let rows: Vec<(i64, Was)> = self.replaced_since(m, expert, "expert_cap", since).await?;
        Ok(rows
            .into_iter()
            .map(|(at, w)| CapChange {
                at,
                own: w.own,
                max: w.max,
            })
            .collect())
    }

    /// Replace an expert's store and department assignments. Every department must belong to
    /// one of the given stores, and everything must be this merchant's.
    ///
    /// The assignments they replace are kept as an `expert_assignments` event (at this time,
    /// `data_json` `{"stores": […], "departments": […]}`: what held until now), so "Why did I
    /// miss this chat?" judges a chat by the assignments of its time.
    pub async fn set_assignments(&self, m: Tenant<'_>, id: &ExpertId, stores: &[StoreId], departments: &[DepartmentId]) -> Result<Expert> {
        let before = self.get_expert(m, id).await?;
        for s in stores {
            self.get_store_exists(m, s).await?;
        }
        for d in departments {
            let dep = self.get_department(m, d).await.map_err(|e| match e {
                StorageError::NotFound => StorageError::Invalid(format!("unknown department {d}")),
                e => e,
            })?;
            if !stores.contains(&dep.store_id) {
                return Err(StorageError::Invalid(format!(
                    "department {d} belongs to a store the expert is not assigned to"
                )));
            }
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM expert_stores WHERE merchant_id = $1 AND expert_id = $2")
            .bind(m.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM expert_departments WHERE merchant_id = $1 AND expert_id = $2")
            .bind(m.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let mut stores = stores.to_vec();
        stores.sort();
        stores.dedup();
        for s in &stores {
            sqlx::query("INSERT INTO expert_stores (expert_id, store_id, merchant_id) VALUES ($1, $2, $3)")
                .bind(id.as_str())
                .bind(s.as_str())
                .bind(m.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let mut departments = departments.to_vec();
        departments.sort();
        departments.dedup();
        for d in &departments {
            sqlx::query("INSERT INTO expert_departments (expert_id, department_id, merchant_id) VALUES ($1, $2, $3)")
                .bind(id.as_str())
                .bind(d.as_str())
                .bind(m.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let was = serde_json::json!({
            "stores": before.store_ids.iter().map(|x| x.as_str()).collect::<Vec<_>>(),
            "departments": before.department_ids.iter().map(|x| x.as_str()).collect::<Vec<_>>(),
        });
        self.record_replaced(m, id.as_str(), "expert_assignments", was).await?;
        self.get_expert(m, id).await
    }

    /// When this expert's assignments were replaced since `since` (oldest first), each with
    /// the stores and departments that held until then.
    pub async fn assignment_changes(&self, m: Tenant<'_>, id: &str, since: i64) -> Result<Vec<(i64, Vec<String>, Vec<String>)>> {
        #[derive(serde::Deserialize)]
        struct Was {
            stores: Vec<String>,
            departments: Vec<String>,
        }
        let rows: Vec<(i64, Was)> = self.replaced_since(m, id, "expert_assignments", since).await?;
        Ok(rows.into_iter().map(|(at, w)| (at, w.stores, w.departments)).collect())
    }

    async fn get_store_exists(&self, m: Tenant<'_>, s: &StoreId) -> Result<()> {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM stores WHERE merchant_id = $1 AND id = $2")
            .bind(m.as_str())
            .bind(s.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|_| ()).ok_or_else(|| StorageError::Invalid(format!("unknown store {s}")))
    }

    /// Move every current contact of `from` to `to` (both this merchant's): `to` becomes those
    /// shoppers' contact. A shopper `to` already had (as current or earlier contact) keeps one
    /// row, with the later last-chat time. `from`'s earlier contacts stay as history. Returns
    /// how many contacts `from` had.
    pub async fn reassign_contacts(&self, m: Tenant<'_>, from: &ExpertId, to: &ExpertId) -> Result<u64> {
        if from == to {
            return Err(StorageError::Invalid("choose a different expert to receive the contacts".into()));
        }
        self.get_expert(m, from).await?;
        let target = self.get_expert(m, to).await.map_err(|e| match e {
            StorageError::NotFound => StorageError::Invalid("unknown target expert".into()),
            e => e,
        })?;
        if target.status != ExpertStatus::Approved {
            return Err(StorageError::Invalid("contacts can only go to an approved expert".into()));
        }
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query(
            "INSERT INTO contacts (merchant_id, expert_id, shopper_id, created_at, last_chat_at, superseded_at) \
             SELECT merchant_id, $1, shopper_id, created_at, last_chat_at, NULL FROM contacts \
             WHERE merchant_id = $2 AND expert_id = $3 AND superseded_at IS NULL \
             ON CONFLICT (expert_id, shopper_id) DO UPDATE SET superseded_at = NULL, last_chat_at = \
             CASE WHEN excluded.last_chat_at > contacts.last_chat_at THEN excluded.last_chat_at ELSE contacts.last_chat_at END",
        )
        .bind(to.as_str())
        .bind(m.as_str())
        .bind(from.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM contacts WHERE merchant_id = $1 AND expert_id = $2 AND superseded_at IS NULL")
            .bind(m.as_str())
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(moved.rows_affected())
    }

    pub async fn count_contacts(&self, m: Tenant<'_>, expert: &ExpertId) -> Result<i64> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM contacts WHERE merchant_id = $1 AND expert_id = $2 AND superseded_at IS NULL")
                .bind(m.as_str())
                .bind(expert.as_str())
                .fetch_one(&self.pool)
                .await?;
        Ok(n)
    }
}
