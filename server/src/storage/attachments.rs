//! Photo attachments: their rows (the bytes live in `media::store`), the merchant's photo
//! settings, and who may see a photo.
//!
//! An upload is written `pending` before its files and `stored` after both files are durable,
//! in the same transaction as its `photo_shared` analytics event; retention and clean-up set
//! `removed` with a `photo_removed` event once the files are deleted. The conversation is read
//! here with its own small query, so this module does not depend on the chat's storage code.

use super::{Db, Result, StorageError, Tenant};
use crate::domain::team::Module;
use crate::ids::ConversationId;

/// A pending upload older than this is taken to be abandoned (its writer died).
pub const PENDING_STALE_MS: i64 = 10 * 60_000;

pub const DEFAULT_RETENTION_DAYS: i64 = 90;
pub const MAX_RETENTION_DAYS: i64 = 3650;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AttachmentRow {
    pub id: String,
    pub merchant_id: String,
    pub conversation_id: ConversationId,
    pub uploader_role: String,
    pub uploader_id: String,
    pub client_upload_id: String,
    pub content_sha256: String,
    pub status: String,
    pub mime: String,
    pub width: i64,
    pub height: i64,
    pub bytes: i64,
    pub thumb_width: i64,
    pub thumb_height: i64,
    pub thumb_bytes: i64,
    pub original_mime: String,
    pub original_bytes: i64,
    pub created_at: i64,
    pub stored_at: Option<i64>,
    pub removed_at: Option<i64>,
    pub removed_reason: Option<String>,
    pub removed_after_days: Option<i64>,
}

pub(super) const COLS: &str =
    "id, merchant_id, conversation_id, uploader_role, uploader_id, client_upload_id, content_sha256, status, mime, \
    width, height, bytes, thumb_width, thumb_height, thumb_bytes, original_mime, original_bytes, created_at, stored_at, removed_at, \
    removed_reason, removed_after_days";

/// The conversation as far as photos care: whose it is and whether it is open.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChatParties {
    pub id: String,
    pub shopper_id: String,
    pub expert_id: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: crate::domain::conversation::ConversationStatus,
}

impl ChatParties {
    /// Still open for new messages (waiting or claimed).
    pub fn open(&self) -> bool {
        self.status.is_open()
    }
}

/// The merchant's photo rules.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentSettings {
    /// Shoppers may send photos from the widget (experts always may).
    pub shopper_uploads: bool,
    /// Photos and their thumbnails are deleted this many days after they were sent (1–3650).
    pub retention_days: i64,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        AttachmentSettings {
            shopper_uploads: false,
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

/// Who asks to see a photo; checked when a URL is issued and again when it is used.
#[derive(Debug, Clone)]
pub enum Viewer<'a> {
    Shopper(&'a str),
    Expert(&'a str),
    Account(&'a str),
    ApiKey(&'a str),
}

impl Db {
    /// The conversation `id` of merchant `m`.
    pub async fn chat_parties(&self, m: Tenant<'_>, id: &ConversationId) -> Result<ChatParties> {
        sqlx::query_as("SELECT id, shopper_id, expert_id, status FROM conversations WHERE merchant_id = $1 AND id = $2")
            .bind(m.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)
    }

    /// The upload this uploader already made with this client id in this conversation.
    pub async fn attachment_by_client_id(
        &self,
        conversation: &ConversationId,
        role: &str,
        uploader: &str,
        client_id: &str,
    ) -> Result<Option<AttachmentRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLS} FROM attachments WHERE conversation_id = $1 AND uploader_role = $2 AND uploader_id = $3 AND client_upload_id = $4"
        ))
        .bind(conversation)
        .bind(role)
        .bind(uploader)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Attachment `id` of merchant `m`.
    pub async fn attachment(&self, m: Tenant<'_>, id: &str) -> Result<AttachmentRow> {
        sqlx::query_as(&format!("SELECT {COLS} FROM attachments WHERE merchant_id = $1 AND id = $2"))
            .bind(m.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)
    }

    /// Attachment `id` of any merchant (for signed URLs, whose signature names no merchant).
    pub async fn attachment_any_merchant(&self, id: &str) -> Result<AttachmentRow> {
        sqlx::query_as(&format!("SELECT {COLS} FROM attachments WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)
    }

    /// Record an upload before its files are written. `Conflict` when the client id was taken
    /// meanwhile (the caller reads the winner).
    pub async fn insert_pending_attachment(&self, a: &AttachmentRow) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO attachments ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, NULL, NULL, NULL, NULL)"
        ))
        .bind(&a.id)
        .bind(&a.merchant_id)
        .bind(&a.conversation_id)
        .bind(&a.uploader_role)
        .bind(&a.uploader_id)
        .bind(&a.client_upload_id)
        .bind(&a.content_sha256)
        .bind(&a.mime)
        .bind(a.width)
        .bind(a.height)
        .bind(a.bytes)
        .bind(a.thumb_width)
        .bind(a.thumb_height)
        .bind(a.thumb_bytes)
        .bind(&a.original_mime)
        .bind(a.original_bytes)
        .bind(a.created_at)
        .execute(&self.writer)
        .await
        .map_err(StorageError::unique("this upload id is already in use"))?;
        Ok(())
    }

    /// Take over a pending upload that never finished (a retry after a crash): new content
    /// details, a fresh start time.
    pub async fn restart_pending_attachment(&self, a: &AttachmentRow) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE attachments SET content_sha256 = $1, mime = $2, width = $3, height = $4, bytes = $5, thumb_width = $6, \
             thumb_height = $7, thumb_bytes = $8, original_mime = $9, original_bytes = $10, created_at = $11 \
             WHERE id = $12 AND status = 'pending' AND created_at < $13",
        )
        .bind(&a.content_sha256)
        .bind(&a.mime)
        .bind(a.width)
        .bind(a.height)
        .bind(a.bytes)
        .bind(a.thumb_width)
        .bind(a.thumb_height)
        .bind(a.thumb_bytes)
        .bind(&a.original_mime)
        .bind(a.original_bytes)
        .bind(a.created_at)
        .bind(&a.id)
        .bind(a.created_at - PENDING_STALE_MS)
        .execute(&self.writer)
        .await?;
        Ok(n.rows_affected() == 1)
    }

    /// Both files are durable: the upload is stored (and counted) in one commit.
    pub async fn mark_attachment_stored(&self, m: Tenant<'_>, id: &str, now: i64) -> Result<AttachmentRow> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE attachments SET status = 'stored', stored_at = $1 WHERE merchant_id = $2 AND id = $3 AND status = 'pending'",
        )
        .bind(now)
        .bind(m.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() == 1 {
            insert_event(&mut tx, m.as_str(), "photo_shared", id, now).await?;
        }
        let row: AttachmentRow = sqlx::query_as(&format!("SELECT {COLS} FROM attachments WHERE merchant_id = $1 AND id = $2"))
            .bind(m.as_str())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StorageError::NotFound)?;
        tx.commit().await?;
        Ok(row)
    }

    /// Forget a pending upload whose files could not be written.
    pub async fn delete_pending_attachment(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM attachments WHERE id = $1 AND status = 'pending'")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Stored photos older than their merchant's retention, oldest first, with the days.
    pub async fn expired_attachments(&self, now: i64, limit: i64) -> Result<Vec<(AttachmentRow, i64)>> {
        #[derive(sqlx::FromRow)]
        struct Due {
            #[sqlx(flatten)]
            row: AttachmentRow,
            retention: i64,
        }
        let cols = COLS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ");
        let due: Vec<Due> = sqlx::query_as(&format!(
            "SELECT {cols}, COALESCE(s.retention_days, {DEFAULT_RETENTION_DAYS}) AS retention FROM attachments a \
             LEFT JOIN attachment_settings s ON s.merchant_id = a.merchant_id \
             WHERE a.status = 'stored' AND a.created_at <= $1 - COALESCE(s.retention_days, {DEFAULT_RETENTION_DAYS}) * {DAY_MS} \
             ORDER BY a.created_at LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(due.into_iter().map(|d| (d.row, d.retention)).collect())
    }

    /// Uploads left `pending` since before `before` (the server stopped between the row and
    /// the files, or the files could not be written).
    pub async fn abandoned_attachments(&self, before: i64, limit: i64) -> Result<Vec<AttachmentRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLS} FROM attachments WHERE status = 'pending' AND created_at < $1 ORDER BY created_at LIMIT $2"
        ))
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The files of `id` are gone: mark it removed and count it, in one commit. A pending
    /// upload's row is deleted instead (it was never shown to anyone). Returns whether this
    /// call changed it.
    pub async fn mark_attachment_removed(&self, row: &AttachmentRow, reason: &str, days: Option<i64>, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let changed = if row.status == "pending" {
            sqlx::query("DELETE FROM attachments WHERE id = $1 AND status = 'pending' AND created_at = $2")
                .bind(&row.id)
                .bind(row.created_at)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
        } else {
            let n = sqlx::query(
                "UPDATE attachments SET status = 'removed', removed_at = $1, removed_reason = $2, removed_after_days = $3 \
                 WHERE id = $4 AND status = 'stored'",
            )
            .bind(now)
            .bind(reason)
            .bind(days)
            .bind(&row.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                insert_event(&mut tx, &row.merchant_id, "photo_removed", &row.id, now).await?;
            }
            n == 1
        };
        tx.commit().await?;
        Ok(changed)
    }

    pub async fn attachment_settings(&self, m: Tenant<'_>) -> Result<AttachmentSettings> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT shopper_uploads, retention_days FROM attachment_settings WHERE merchant_id = $1")
                .bind(m.as_str())
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some((s, d)) => AttachmentSettings {
                shopper_uploads: s != 0,
                retention_days: d,
            },
            None => AttachmentSettings::default(),
        })
    }

    pub async fn set_attachment_settings(&self, m: Tenant<'_>, s: &AttachmentSettings) -> Result<AttachmentSettings> {
        if !(1..=MAX_RETENTION_DAYS).contains(&s.retention_days) {
            return Err(StorageError::Invalid(format!("retention_days must be 1–{MAX_RETENTION_DAYS}")));
        }
        sqlx::query(
            "INSERT INTO attachment_settings (merchant_id, shopper_uploads, retention_days, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (merchant_id) DO UPDATE SET shopper_uploads = $2, retention_days = $3, updated_at = $4",
        )
        .bind(m.as_str())
        .bind(i64::from(s.shopper_uploads))
        .bind(s.retention_days)
        .bind(crate::now_ms())
        .execute(&self.writer)
        .await?;
        self.attachment_settings(m).await
    }

    /// Whether `viewer` may see attachment `a` now: the chat's shopper; its expert, or the
    /// expert who sent it (approved, not deactivated); the merchant's dashboard accounts with
    /// Exports (where transcripts are) and its API keys that are not revoked. The merchant must
    /// be active.
    pub async fn may_see_attachment(&self, viewer: &Viewer<'_>, a: &AttachmentRow) -> Result<bool> {
        let (active,): (i64,) = sqlx::query_as("SELECT active FROM merchants WHERE id = $1")
            .bind(&a.merchant_id)
            .fetch_one(&self.pool)
            .await?;
        if active == 0 {
            return Ok(false);
        }
        let m = crate::ids::MerchantId::from_db(a.merchant_id.clone());
        match viewer {
            Viewer::Shopper(s) => {
                let c = self.chat_parties(&m, &a.conversation_id).await?;
                Ok(c.shopper_id == *s)
            }
            Viewer::Expert(e) => {
                let status: Option<(String,)> = sqlx::query_as("SELECT status FROM experts WHERE id = $1 AND merchant_id = $2")
                    .bind(e)
                    .bind(m.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                if status.is_none_or(|(s,)| s != "approved") {
                    return Ok(false);
                }
                if a.uploader_role == "expert" && a.uploader_id == *e {
                    return Ok(true);
                }
                let c = self.chat_parties(&m, &a.conversation_id).await?;
                Ok(c.expert_id.as_deref() == Some(*e))
            }
            Viewer::Account(id) => {
                let row: Option<(String, String, i64)> =
                    sqlx::query_as("SELECT role, modules_json, active FROM accounts WHERE id = $1 AND merchant_id = $2")
                        .bind(id)
                        .bind(m.as_str())
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.is_some_and(|(role, modules, active)| {
                    active == 1
                        && role == "merchant"
                        && serde_json::from_str::<Vec<Module>>(&modules).is_ok_and(|v| v.contains(&Module::Exports))
                }))
            }
            Viewer::ApiKey(id) => {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT id FROM api_keys WHERE id = $1 AND merchant_id = $2 AND revoked_at IS NULL")
                        .bind(id)
                        .bind(m.as_str())
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.is_some())
            }
        }
    }
}

/// An analytics fact about one photo (counted by the rollups per store, department and expert
/// through its conversation; no shopper id, so it stays out of the shopper's journey).
pub(super) async fn insert_event(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    merchant: &str,
    kind: &str,
    attachment: &str,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (id, merchant_id, kind, at, conversation_id, value, data_json) \
         SELECT $1, $2, $3, $4, conversation_id, 1, NULL FROM attachments WHERE id = $5",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(merchant)
    .bind(kind)
    .bind(at)
    .bind(attachment)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
