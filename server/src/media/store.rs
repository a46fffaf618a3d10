//! Where photo bytes live: a folder on local disk (the embedded default, next to the SQLite
//! database) or an S3-compatible bucket (scale-out, through the `object_store` crate).
//!
//! Both answer the same four calls. A `put` returns only once the bytes are durable: on disk
//! the file is written under a temporary name, synced, renamed into place and its folder synced
//! (a power cut leaves either no file or the whole file); on S3 the PUT has been answered.
//! `delete` of something already gone succeeds, so clean-up jobs can be re-run.
//! Keys are made by the server (`merchant/attachment.variant.ext`), never taken from a client.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

use crate::config::Secret;

/// How to reach the object store, from configuration.
#[derive(Clone, Debug)]
pub struct ObjectStoreConfig {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub url: String,
    /// For S3-compatible servers other than AWS (MinIO, Ceph, moto…), e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
}

#[derive(Clone)]
pub enum FileStore {
    Disk(PathBuf),
    Object {
        store: Arc<dyn ObjectStore>,
        prefix: String,
        /// For logs: `s3://bucket/prefix`.
        describe: String,
    },
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileStore({})", self.describe())
    }
}

impl FileStore {
    pub fn disk(dir: impl Into<PathBuf>) -> FileStore {
        FileStore::Disk(dir.into())
    }

    /// An S3-compatible bucket. Credentials not given here come from the usual `AWS_*`
    /// variables (and the other sources `object_store` knows).
    pub fn object(cfg: &ObjectStoreConfig) -> anyhow::Result<FileStore> {
        let url = url::Url::parse(&cfg.url).with_context(|| format!("parsing the object store URL {:?}", cfg.url))?;
        if url.scheme() != "s3" {
            anyhow::bail!("the object store URL must be s3://BUCKET[/PREFIX], not {}", url.scheme());
        }
        let bucket = url
            .host_str()
            .filter(|b| !b.is_empty())
            .context("the object store URL names no bucket")?;
        let prefix = url.path().trim_matches('/').to_owned();
        let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(e) = &cfg.endpoint {
            b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
        }
        if let Some(r) = &cfg.region {
            b = b.with_region(r);
        }
        if let Some(k) = &cfg.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = &cfg.secret_access_key {
            b = b.with_secret_access_key(s.expose());
        }
        let store = b.build().context("configuring the object store")?;
        Ok(FileStore::Object {
            store: Arc::new(store),
            describe: format!("s3://{bucket}/{prefix}"),
            prefix,
        })
    }

    pub fn describe(&self) -> String {
        match self {
            FileStore::Disk(d) => d.display().to_string(),
            FileStore::Object { describe, .. } => describe.clone(),
        }
    }

    fn object_path(prefix: &str, key: &str) -> ObjectPath {
        if prefix.is_empty() {
            ObjectPath::from(key)
        } else {
            ObjectPath::from(format!("{prefix}/{key}"))
        }
    }

    fn disk_path(dir: &Path, key: &str) -> anyhow::Result<PathBuf> {
        // Keys are ours, but never let one climb out of the folder.
        if key.split('/').any(|s| s.is_empty() || s == "." || s == ".." || s.starts_with('.')) {
            anyhow::bail!("bad storage key {key:?}");
        }
        Ok(dir.join(key))
    }

    /// Store `bytes` under `key`, durably, replacing what was there.
    pub async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        match self {
            FileStore::Disk(dir) => {
                let path = Self::disk_path(dir, key)?;
                tokio::task::spawn_blocking(move || write_durably(&path, &bytes))
                    .await
                    .context("the disk writer stopped")?
            }
            FileStore::Object { store, prefix, .. } => {
                store
                    .put(&Self::object_path(prefix, key), PutPayload::from(bytes))
                    .await
                    .with_context(|| format!("storing {key} in the object store"))?;
                Ok(())
            }
        }
    }

    /// The bytes under `key`, or `None` when there are none.
    pub async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>> {
        match self {
            FileStore::Disk(dir) => {
                let path = Self::disk_path(dir, key)?;
                match tokio::fs::read(&path).await {
                    Ok(b) => Ok(Some(Bytes::from(b))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
                }
            }
            FileStore::Object { store, prefix, .. } => match store.get(&Self::object_path(prefix, key)).await {
                Ok(r) => Ok(Some(r.bytes().await.with_context(|| format!("reading {key}"))?)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e).with_context(|| format!("reading {key} from the object store")),
            },
        }
    }

    /// Delete `key`; success when it was already gone.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self {
            FileStore::Disk(dir) => {
                let path = Self::disk_path(dir, key)?;
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e).with_context(|| format!("deleting {}", path.display())),
                }
            }
            FileStore::Object { store, prefix, .. } => match store.delete(&Self::object_path(prefix, key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e).with_context(|| format!("deleting {key} from the object store")),
            },
        }
    }

    /// Whether anything is stored under `key` (for checks and tests).
    pub async fn exists(&self, key: &str) -> anyhow::Result<bool> {
        match self {
            FileStore::Disk(dir) => Ok(tokio::fs::try_exists(Self::disk_path(dir, key)?).await?),
            FileStore::Object { store, prefix, .. } => match store.head(&Self::object_path(prefix, key)).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(e).context("asking the object store"),
            },
        }
    }
}

/// Write under a temporary name, sync, rename into place, sync the folder.
fn write_durably(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path.parent().context("a storage path has a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn disk_round_trip_and_idempotent_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStore::disk(dir.path());
        s.put("m/a.full.jpg", Bytes::from_static(b"abc")).await.unwrap();
        assert_eq!(s.get("m/a.full.jpg").await.unwrap().unwrap(), Bytes::from_static(b"abc"));
        assert!(s.exists("m/a.full.jpg").await.unwrap());
        s.delete("m/a.full.jpg").await.unwrap();
        s.delete("m/a.full.jpg").await.unwrap();
        assert!(s.get("m/a.full.jpg").await.unwrap().is_none());
        assert!(s.put("../escape", Bytes::new()).await.is_err());
        // No temporary files left behind.
        assert_eq!(std::fs::read_dir(dir.path().join("m")).unwrap().count(), 0);
    }
}
