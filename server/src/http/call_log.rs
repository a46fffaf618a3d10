//! The log of calls made with merchant API keys (Integrations → API calls).
//!
//! A middleware on `/api/v1` leaves an empty slot in the request; the `Merchant` extractor fills
//! it when a key authenticated the call. After the response the middleware queues one record;
//! a worker writes them in batches, off the request path (a full queue drops records and counts
//! them in `floorwalker_api_calls_dropped_total`, it never slows a call).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::extract::ApiKeyUsed;
use super::AppState;
use crate::storage::{ApiCall, Db};

/// Filled by the `Merchant` extractor when an API key made the call.
#[derive(Clone, Default)]
pub struct ApiKeySlot(pub Arc<OnceLock<ApiKeyUsed>>);

#[derive(Clone)]
pub struct CallLog {
    tx: mpsc::Sender<ApiCall>,
}

/// Calls older than this are deleted by housekeeping.
pub const KEEP_DAYS: i64 = 30;

pub fn start(db: Db, stop: CancellationToken) -> (CallLog, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<ApiCall>(10_000);
    let handle = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(500);
        loop {
            let n = tokio::select! {
                n = rx.recv_many(&mut batch, 500) => n,
                _ = stop.cancelled() => {
                    rx.close();
                    rx.recv_many(&mut batch, 10_000).await
                }
            };
            if n == 0 && batch.is_empty() {
                return;
            }
            if let Err(e) = db.insert_api_calls(&batch).await {
                tracing::warn!(error = %e, n = batch.len(), "writing the API call log failed");
                metrics::counter!("floorwalker_api_calls_dropped_total").increment(batch.len() as u64);
            }
            batch.clear();
            if stop.is_cancelled() {
                return;
            }
        }
    });
    (CallLog { tx }, handle)
}

pub async fn record(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let slot = ApiKeySlot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().to_string();
    let mut path = req.uri().path().to_owned();
    if let Some(q) = req.uri().query() {
        path.push('?');
        path.push_str(q);
    }
    let path: String = path.chars().take(500).collect();
    let started = Instant::now();
    let res = next.run(req).await;
    if let Some(ApiKeyUsed(key, merchant)) = slot.0.get() {
        let call = ApiCall {
            id: uuid::Uuid::now_v7().to_string(),
            merchant_id: merchant.to_string(),
            api_key_id: key.to_string(),
            api_key_name: None,
            method,
            path,
            status: i64::from(res.status().as_u16()),
            duration_ms: started.elapsed().as_millis() as i64,
            at: crate::now_ms(),
        };
        if state.calls.tx.try_send(call).is_err() {
            metrics::counter!("floorwalker_api_calls_dropped_total").increment(1);
        }
    }
    res
}
