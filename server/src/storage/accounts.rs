//! Dashboard accounts (operators and merchant logins with their modules) and their sessions.

use serde::Serialize;

use super::{json_col, to_json, Db, Page, PageRequest, Result, StorageError};
use crate::domain::team::{Module, Role};
use crate::ids::{AccountId, MerchantId};
use crate::now_ms;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub id: AccountId,
    /// Absent for operators, who span merchants.
    #[schema(required = true)]
    pub merchant_id: Option<MerchantId>,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Modules this account may open (operators implicitly have Access and Demo).
    pub modules: Vec<Module>,
    pub active: bool,
    pub created_at: i64,
}

impl Account {
    pub fn has(&self, module: Module) -> bool {
        self.role == Role::Merchant && self.modules.contains(&module)
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: String,
    merchant_id: Option<String>,
    email: String,
    name: String,
    role: String,
    modules_json: String,
    active: i64,
    created_at: i64,
}

impl AccountRow {
    fn into_account(self) -> Result<Account> {
        Ok(Account {
            id: AccountId::from_db(self.id),
            merchant_id: self.merchant_id.map(MerchantId::from_db),
            email: self.email,
            name: self.name,
            role: Role::parse(&self.role).ok_or_else(|| StorageError::Corrupt(format!("role {}", self.role)))?,
            modules: json_col(&self.modules_json, "modules_json")?,
            active: self.active != 0,
            created_at: self.created_at,
        })
    }
}

const ACCOUNT_COLS: &str = "id, merchant_id, email, name, role, modules_json, active, created_at";

pub struct NewAccount<'a> {
    pub merchant_id: Option<&'a MerchantId>,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub modules: &'a [Module],
}

/// A live dashboard session with its account.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub account: Account,
    pub csrf_token: String,
    pub token_hash: String,
}

impl Db {
    pub async fn create_account(&self, a: &NewAccount<'_>) -> Result<Account> {
        let id = AccountId::generate();
        let now = now_ms();
        let mut modules = a.modules.to_vec();
        modules.sort_by_key(|m| m.as_str());
        modules.dedup();
        sqlx::query(
            "INSERT INTO accounts (id, merchant_id, email, name, password_hash, role, modules_json, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)",
        )
        .bind(id.as_str())
        .bind(a.merchant_id.map(|m| m.as_str().to_owned()))
        .bind(a.email)
        .bind(a.name)
        .bind(a.password_hash)
        .bind(a.role.as_str())
        .bind(to_json(&modules))
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(StorageError::unique("an account with this email already exists"))?;
        self.get_account(&id).await
    }

    /// Any account by id: only for the operator's Access module and the session layer.
    pub async fn get_account(&self, id: &AccountId) -> Result<Account> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1");
        sqlx::query_as::<_, AccountRow>(&sql)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?
            .into_account()
    }

    pub async fn list_accounts(&self, merchant: Option<&MerchantId>, page: &PageRequest) -> Result<Page<Account>> {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE ($1 = '' OR merchant_id = $1) AND id > $2 ORDER BY id LIMIT $3");
        let rows = sqlx::query_as::<_, AccountRow>(&sql)
            .bind(merchant.map(|m| m.as_str()).unwrap_or(""))
            .bind(page.after())
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?;
        let items = rows.into_iter().map(AccountRow::into_account).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page, |a| a.id.to_string()))
    }

    /// Email, password hash and account for a login attempt.
    pub async fn account_for_login(&self, email: &str) -> Result<Option<(Account, String)>> {
        let sql = format!("SELECT {ACCOUNT_COLS}, password_hash FROM accounts WHERE email = $1");
        let row = sqlx::query(&sql).bind(email).fetch_optional(&self.pool).await?;
        match row {
            None => Ok(None),
            Some(row) => {
                use sqlx::{FromRow, Row};
                let hash: String = row.try_get("password_hash")?;
                let acc = AccountRow::from_row(&row)?.into_account()?;
                Ok(Some((acc, hash)))
            }
        }
    }

    pub async fn password_hash_of_account(&self, id: &AccountId) -> Result<String> {
        let row: Option<(String,)> = sqlx::query_as("SELECT password_hash FROM accounts WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.0).ok_or(StorageError::NotFound)
    }

    pub async fn update_account(
        &self,
        id: &AccountId,
        name: Option<&str>,
        modules: Option<&[Module]>,
        active: Option<bool>,
    ) -> Result<Account> {
        let cur = self.get_account(id).await?;
        let mut modules = modules.map(|m| m.to_vec()).unwrap_or(cur.modules.clone());
        modules.sort_by_key(|m| m.as_str());
        modules.dedup();
        let active = active.unwrap_or(cur.active);
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE accounts SET name = $1, modules_json = $2, active = $3, updated_at = $4 WHERE id = $5")
            .bind(name.unwrap_or(&cur.name))
            .bind(to_json(&modules))
            .bind(i64::from(active))
            .bind(now_ms())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if !active {
            sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.get_account(id).await
    }

    /// Set a new password and end every session of the account.
    pub async fn set_account_password(&self, id: &AccountId, hash: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(now_ms())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::NotFound);
        }
        sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_session(&self, account: &AccountId, token_hash: &str, csrf: &str, ttl_ms: i64) -> Result<()> {
        let now = now_ms();
        sqlx::query("INSERT INTO sessions (token_hash, account_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash)
            .bind(account.as_str())
            .bind(csrf)
            .bind(now)
            .bind(now + ttl_ms)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The unexpired session with this token hash, if its account is active.
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionInfo>> {
        let sql = "SELECT a.id, a.merchant_id, a.email, a.name, a.role, a.modules_json, a.active, a.created_at, s.csrf_token \
             FROM sessions s JOIN accounts a ON a.id = s.account_id \
             LEFT JOIN merchants m ON m.id = a.merchant_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.active = 1 AND (a.merchant_id IS NULL OR m.active = 1)";
        let row = sqlx::query(sql).bind(token_hash).bind(now_ms()).fetch_optional(&self.pool).await?;
        match row {
            None => Ok(None),
            Some(row) => {
                use sqlx::{FromRow, Row};
                let csrf_token: String = row.try_get("csrf_token")?;
                let account = AccountRow::from_row(&row)?.into_account()?;
                Ok(Some(SessionInfo {
                    account,
                    csrf_token,
                    token_hash: token_hash.to_owned(),
                }))
            }
        }
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn delete_expired_sessions(&self) -> Result<u64> {
        let now = now_ms();
        let a = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        let b = sqlx::query("DELETE FROM expert_tokens WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(a.rows_affected() + b.rows_affected())
    }
}
