//! Stores (address, timezone, opening hours, exceptions) and their departments.

use serde::{Deserialize, Serialize};

use super::{json_col, to_json, Db, Page, PageRequest, Result, StorageError, Tenant};
use crate::domain::hours::{DateException, WeeklyHours};
use crate::ids::{DepartmentId, StoreId};
use crate::now_ms;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Address {
    pub street: String,
    pub postal_code: String,
    pub city: String,
    /// ISO 3166-1 alpha-2, e.g. `SE`.
    pub country: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Store {
    pub id: StoreId,
    pub name: String,
    pub address: Address,
    /// IANA timezone, e.g. `Europe/Stockholm`.
    pub timezone: String,
    pub hours: WeeklyHours,
    pub exceptions: Vec<DateException>,
    pub departments: Vec<Department>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Department {
    pub id: DepartmentId,
    pub store_id: StoreId,
    pub name: String,
}

impl Store {
    /// Whether the store is open at `at_ms`, by its own timezone, hours and exceptions.
    pub fn is_open_at(&self, at_ms: i64) -> bool {
        crate::domain::hours::parse_timezone(&self.timezone)
            .is_some_and(|tz| crate::domain::hours::is_open(tz, &self.hours, &self.exceptions, at_ms))
    }
}

/// Everything a store is made of, already validated.
#[derive(Debug, Clone)]
pub struct StoreFields {
    pub name: String,
    pub address: Address,
    pub timezone: String,
    pub hours: WeeklyHours,
    pub exceptions: Vec<DateException>,
}

#[derive(sqlx::FromRow)]
struct StoreRow {
    id: String,
    name: String,
    address_json: String,
    timezone: String,
    hours_json: String,
    exceptions_json: String,
    created_at: i64,
    updated_at: i64,
}

impl StoreRow {
    fn into_store(self, departments: Vec<Department>) -> Result<Store> {
        Ok(Store {
            id: StoreId::from_db(self.id),
            name: self.name,
            address: json_col(&self.address_json, "address_json")?,
            timezone: self.timezone,
            hours: json_col(&self.hours_json, "hours_json")?,
            exceptions: json_col(&self.exceptions_json, "exceptions_json")?,
            departments,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const STORE_COLS: &str = "id, name, address_json, timezone, hours_json, exceptions_json, created_at, updated_at";

impl Db {
    pub async fn create_store(&self, m: Tenant<'_>, f: &StoreFields) -> Result<Store> {
        let id = StoreId::generate();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO stores (id, merchant_id, name, address_json, timezone, hours_json, exceptions_json, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(id.as_str())
        .bind(m.as_str())
        .bind(&f.name)
        .bind(to_json(&f.address))
        .bind(&f.timezone)
        .bind(to_json(&f.hours))
        .bind(to_json(&f.exceptions))
        .bind(now)
        .execute(&self.writer)
        .await?;
        self.get_store(m, &id).await
    }

    pub async fn get_store(&self, m: Tenant<'_>, id: &StoreId) -> Result<Store> {
        let sql = format!("SELECT {STORE_COLS} FROM stores WHERE merchant_id = $1 AND id = $2");
        let row = sqlx::query_as::<_, StoreRow>(&sql)
            .bind(m.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?;
        let deps = self.list_departments(m, Some(id)).await?;
        row.into_store(deps)
    }

    pub async fn list_stores(&self, m: Tenant<'_>, page: &PageRequest) -> Result<Page<Store>> {
        let sql = format!("SELECT {STORE_COLS} FROM stores WHERE merchant_id = $1 AND id > $2 ORDER BY id LIMIT $3");
        let rows = sqlx::query_as::<_, StoreRow>(&sql)
            .bind(m.as_str())
            .bind(page.after())
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?;
        let all_deps = self.list_departments(m, None).await?;
        let mut stores = Vec::with_capacity(rows.len());
        for r in rows {
            let deps = all_deps.iter().filter(|d| d.store_id.as_str() == r.id).cloned().collect();
            stores.push(r.into_store(deps)?);
        }
        Ok(Page::from_rows(stores, page, |s| s.id.to_string()))
    }

    /// Every store of the merchant (a merchant has a handful, not thousands).
    pub async fn list_all_stores(&self, m: Tenant<'_>) -> Result<Vec<Store>> {
        Ok(self.list_stores(m, &PageRequest::first(1000)).await?.items)
    }

    pub async fn update_store(&self, m: Tenant<'_>, id: &StoreId, f: &StoreFields) -> Result<Store> {
        let done = sqlx::query(
            "UPDATE stores SET name = $1, address_json = $2, timezone = $3, hours_json = $4, exceptions_json = $5, updated_at = $6 \
             WHERE merchant_id = $7 AND id = $8",
        )
        .bind(&f.name)
        .bind(to_json(&f.address))
        .bind(&f.timezone)
        .bind(to_json(&f.hours))
        .bind(to_json(&f.exceptions))
        .bind(now_ms())
        .bind(m.as_str())
        .bind(id.as_str())
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        self.get_store(m, id).await
    }

    /// Delete a store with its departments and assignments.
    pub async fn delete_store(&self, m: Tenant<'_>, id: &StoreId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM expert_departments WHERE merchant_id = $1 AND department_id IN \
             (SELECT id FROM departments WHERE merchant_id = $1 AND store_id = $2)",
        )
        .bind(m.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM expert_stores WHERE merchant_id = $1 AND store_id = $2")
            .bind(m.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM departments WHERE merchant_id = $1 AND store_id = $2")
            .bind(m.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM stores WHERE merchant_id = $1 AND id = $2")
            .bind(m.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_departments(&self, m: Tenant<'_>, store: Option<&StoreId>) -> Result<Vec<Department>> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT id, store_id, name FROM departments WHERE merchant_id = $1 AND ($2 = '' OR store_id = $2) ORDER BY name, id",
        )
        .bind(m.as_str())
        .bind(store.map(|s| s.as_str()).unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, store_id, name)| Department {
                id: DepartmentId::from_db(id),
                store_id: StoreId::from_db(store_id),
                name,
            })
            .collect())
    }

    pub async fn get_department(&self, m: Tenant<'_>, id: &DepartmentId) -> Result<Department> {
        let row: Option<(String, String, String)> =
            sqlx::query_as("SELECT id, store_id, name FROM departments WHERE merchant_id = $1 AND id = $2")
                .bind(m.as_str())
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        let (id, store_id, name) = row.ok_or(StorageError::NotFound)?;
        Ok(Department {
            id: DepartmentId::from_db(id),
            store_id: StoreId::from_db(store_id),
            name,
        })
    }

    pub async fn create_department(&self, m: Tenant<'_>, store: &StoreId, name: &str) -> Result<Department> {
        // The store must be this merchant's: checked in the same statement.
        let id = DepartmentId::generate();
        let done = sqlx::query(
            "INSERT INTO departments (id, merchant_id, store_id, name, created_at) \
             SELECT $1, $2, id, $3, $4 FROM stores WHERE merchant_id = $2 AND id = $5",
        )
        .bind(id.as_str())
        .bind(m.as_str())
        .bind(name)
        .bind(now_ms())
        .bind(store.as_str())
        .execute(&self.writer)
        .await
        .map_err(StorageError::unique("a department with this name already exists in the store"))?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        Ok(Department {
            id,
            store_id: store.clone(),
            name: name.to_owned(),
        })
    }

    pub async fn rename_department(&self, m: Tenant<'_>, id: &DepartmentId, name: &str) -> Result<Department> {
        let done = sqlx::query("UPDATE departments SET name = $1 WHERE merchant_id = $2 AND id = $3")
            .bind(name)
            .bind(m.as_str())
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(StorageError::unique("a department with this name already exists in the store"))?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        self.get_department(m, id).await
    }

    pub async fn delete_department(&self, m: Tenant<'_>, id: &DepartmentId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM expert_departments WHERE merchant_id = $1 AND department_id = $2")
            .bind(m.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM departments WHERE merchant_id = $1 AND id = $2")
            .bind(m.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }
}
