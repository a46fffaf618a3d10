//! Photos and video calls (issue 24), the parts that do not need the chat hub.
//!
//! - [`image`]: what an upload really is; decoding under limits; clean re-encoded copies.
//! - [`store`]: where the bytes live (a local folder or an S3-compatible bucket).
//! - [`signing`]: short-lived signed URLs for the files.
//! - [`retention`]: the job that deletes photos past the merchant's retention, and uploads
//!   that never finished.
//! - [`rtc`]: STUN/TURN servers handed to the apps for WebRTC calls.
//!
//! [`Media`] ties them together for the HTTP layer: [`Media::accept`] runs an upload from
//! bytes to a stored row. It knows nothing of HTTP or of who is calling; the caller has
//! already decided that the uploader may send a photo into the conversation.

pub mod image;
pub mod retention;
pub mod rtc;
pub mod signing;
pub mod store;

use crate::ids::ConversationId;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::config::ServeArgs;
use crate::ids::MerchantId;
use crate::storage::{AttachmentRow, Db, StorageError};
use signing::{Audience, UrlSigner, Variant};
use store::FileStore;

/// A pending upload older than this is taken to be abandoned (its writer died); storage's rule,
/// since its conditional writes apply it.
pub use crate::storage::PENDING_STALE_MS;

/// How a photo message reads in transcripts and exports: the stable, authenticated link
/// (`/api/v1/attachments/{id}/open`, a redirect to a fresh signed URL for the merchant's
/// accounts with Exports) followed by the caption.
pub fn photo_link_text(origin: &str, attachment_id: &str, caption: &str) -> String {
    let link = format!("{}/api/v1/attachments/{attachment_id}/open", origin.trim_end_matches('/'));
    if caption.trim().is_empty() {
        link
    } else {
        format!("{link} {caption}")
    }
}

/// Everything photo handling needs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Media {
    pub files: FileStore,
    pub signer: UrlSigner,
    pub rtc: rtc::RtcConfig,
    /// Decoding is CPU- and memory-heavy: at most this many at once per node.
    decoding: Arc<Semaphore>,
    /// Uploads per uploader and minute, on this node.
    pub uploads: Arc<UploadLimiter>,
}

/// At most [`UPLOADS_PER_MINUTE`] uploads a minute per uploader (per node).
pub struct UploadLimiter(governor::DefaultKeyedRateLimiter<String>);

pub const UPLOADS_PER_MINUTE: u32 = 30;

impl std::fmt::Debug for UploadLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadLimiter")
    }
}

impl UploadLimiter {
    fn new() -> Self {
        let n = std::num::NonZeroU32::new(UPLOADS_PER_MINUTE).expect("non-zero");
        UploadLimiter(governor::RateLimiter::keyed(governor::Quota::per_minute(n)))
    }

    /// `Ok`, or the seconds to wait.
    pub fn check(&self, who: &str) -> Result<(), u64> {
        use governor::clock::Clock;
        let clock = self.0.clock();
        self.0
            .check_key(&who.to_owned())
            .map_err(|nb| nb.wait_time_from(clock.now()).as_secs().max(1))
    }

    /// Drop idle keys (called by the retention job).
    pub fn shrink(&self) {
        self.0.retain_recent();
        self.0.shrink_to_fit();
    }
}

/// The folder photo files go to when none is configured: `media/` beside the SQLite file.
pub fn default_media_dir(config: &ServeArgs) -> std::path::PathBuf {
    let url = config.db.database_url.expose();
    if !config.db.database_url.is_postgres() {
        let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or_default();
        if path != ":memory:" && !path.is_empty() {
            if let Some(parent) = std::path::Path::new(path).parent() {
                return parent.join("media");
            }
        }
    }
    std::path::PathBuf::from("data").join("media")
}

/// How an upload ended.
#[derive(Debug)]
pub enum Accepted {
    /// Stored now.
    New(AttachmentRow),
    /// The same upload id and bytes were stored before: the earlier attachment.
    Repeat(AttachmentRow),
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Refused(#[from] image::Refusal),
    #[error("this upload id was used for a different file")]
    KeyReused,
    #[error("an upload with this id is still being stored; retry in a moment")]
    InProgress,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("storing the files failed")]
    Files(#[source] anyhow::Error),
}

/// Who is uploading into which conversation, with which client id.
pub struct Upload<'a> {
    pub merchant: &'a MerchantId,
    pub conversation_id: &'a ConversationId,
    /// `shopper` or `expert`.
    pub role: &'static str,
    pub uploader_id: &'a str,
    pub client_upload_id: &'a str,
}

impl Media {
    pub async fn start(db: &Db, config: &ServeArgs) -> anyhow::Result<Media> {
        let a = &config.media;
        let files = match &a.object_store_url {
            Some(url) => FileStore::object(&store::ObjectStoreConfig {
                url: url.clone(),
                endpoint: a.s3_endpoint.clone(),
                region: a.s3_region.clone(),
                access_key_id: a.s3_access_key_id.clone(),
                secret_access_key: a.s3_secret_access_key.clone(),
            })?,
            None => FileStore::disk(a.media_dir.clone().unwrap_or_else(|| default_media_dir(config))),
        };
        let key = db.server_key("attachment_url_hmac").await.context("reading the file URL key")?;
        let rtc = rtc::RtcConfig::parse(a.ice_servers.as_ref().map(|s| s.expose()), a.turn_secret.clone()).map_err(anyhow::Error::msg)?;
        tracing::info!(files = %files.describe(), ice_servers = rtc.for_client("-", 0).ice_servers.len(), "photo storage ready");
        Ok(Media {
            files,
            signer: UrlSigner::new(key.into_bytes()),
            rtc,
            decoding: Arc::new(Semaphore::new(2)),
            uploads: Arc::new(UploadLimiter::new()),
        })
    }

    /// Where a variant of an attachment is stored.
    pub fn key(a: &AttachmentRow, v: Variant) -> String {
        let ext = if a.mime == "image/png" { "png" } else { "jpg" };
        format!("{}/{}.{}.{ext}", a.merchant_id, a.id, v.as_str())
    }

    /// Signed paths of both variants for `aud`, and when they expire (unix seconds).
    pub fn urls(&self, a: &AttachmentRow, aud: &Audience) -> (String, String, i64) {
        let exp = UrlSigner::expiry(crate::now_ms() / 1000);
        (
            self.signer.url(&a.id, Variant::Full, exp, aud),
            self.signer.url(&a.id, Variant::Thumb, exp, aud),
            exp,
        )
    }

    /// Check, clean and store one upload; answer only when the files are durable and the row
    /// is committed. The same client id with the same bytes answers the first attachment.
    pub async fn accept(&self, db: &Db, u: &Upload<'_>, body: Bytes) -> Result<Accepted, UploadError> {
        let sha = hex(&Sha256::digest(&body));
        if let Some(done) = self.earlier(db, u, &sha).await? {
            return Ok(Accepted::Repeat(done));
        }
        let processed = {
            let _permit = self.decoding.acquire().await.expect("the semaphore is never closed");
            let body = body.clone();
            tokio::task::spawn_blocking(move || image::process(&body))
                .await
                .map_err(|e| UploadError::Files(anyhow::anyhow!("the image worker stopped: {e}")))??
        };
        let now = crate::now_ms();
        let mut row = AttachmentRow {
            id: uuid::Uuid::now_v7().to_string(),
            merchant_id: u.merchant.to_string(),
            conversation_id: u.conversation_id.clone(),
            uploader_role: u.role.to_owned(),
            uploader_id: u.uploader_id.to_owned(),
            client_upload_id: u.client_upload_id.to_owned(),
            content_sha256: sha.clone(),
            status: "pending".into(),
            mime: processed.mime.to_owned(),
            width: i64::from(processed.full.width),
            height: i64::from(processed.full.height),
            bytes: processed.full.bytes.len() as i64,
            thumb_width: i64::from(processed.thumb.width),
            thumb_height: i64::from(processed.thumb.height),
            thumb_bytes: processed.thumb.bytes.len() as i64,
            original_mime: processed.original_mime.to_owned(),
            original_bytes: body.len() as i64,
            created_at: now,
            stored_at: None,
            removed_at: None,
            removed_reason: None,
            removed_after_days: None,
        };
        match db.insert_pending_attachment(&row).await {
            Ok(()) => {}
            Err(StorageError::Conflict(_)) => {
                // Another request with this id got there first, or one died half-way.
                let other = db
                    .attachment_by_client_id(u.conversation_id, u.role, u.uploader_id, u.client_upload_id)
                    .await?
                    .ok_or(UploadError::InProgress)?;
                if other.status != "pending" || other.created_at >= now - PENDING_STALE_MS {
                    return match self.earlier(db, u, &sha).await? {
                        Some(done) => Ok(Accepted::Repeat(done)),
                        None => Err(UploadError::InProgress),
                    };
                }
                row.id = other.id.clone();
                if !db.restart_pending_attachment(&row).await? {
                    return Err(UploadError::InProgress);
                }
            }
            Err(e) => return Err(e.into()),
        }
        let written = async {
            self.files
                .put(&Self::key(&row, Variant::Full), Bytes::from(processed.full.bytes))
                .await?;
            self.files
                .put(&Self::key(&row, Variant::Thumb), Bytes::from(processed.thumb.bytes))
                .await
        }
        .await;
        if let Err(e) = written {
            // Leave nothing behind: the retry starts afresh.
            let _ = self.files.delete(&Self::key(&row, Variant::Full)).await;
            let _ = self.files.delete(&Self::key(&row, Variant::Thumb)).await;
            let _ = db.delete_pending_attachment(&row.id).await;
            return Err(UploadError::Files(e));
        }
        let stored = db.mark_attachment_stored(u.merchant, &row.id, crate::now_ms()).await?;
        metrics::counter!("floorwalker_attachments_stored_total", "role" => u.role).increment(1);
        metrics::counter!("floorwalker_attachment_bytes_stored_total").increment((stored.bytes + stored.thumb_bytes) as u64);
        Ok(Accepted::New(stored))
    }

    /// A finished upload with this client id: the same bytes answer it, other bytes conflict.
    async fn earlier(&self, db: &Db, u: &Upload<'_>, sha: &str) -> Result<Option<AttachmentRow>, UploadError> {
        let Some(row) = db
            .attachment_by_client_id(u.conversation_id, u.role, u.uploader_id, u.client_upload_id)
            .await?
        else {
            return Ok(None);
        };
        match row.status.as_str() {
            // A pending upload that stalled never stored anything: this one takes its place.
            "pending" if row.created_at < crate::now_ms() - PENDING_STALE_MS => Ok(None),
            _ if row.content_sha256 != sha => Err(UploadError::KeyReused),
            "pending" => Err(UploadError::InProgress),
            _ => Ok(Some(row)),
        }
    }
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    b.iter().fold(String::with_capacity(b.len() * 2), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}
