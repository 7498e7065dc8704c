//! `/-/health/ready`: 200 `ready` only when both stores answer: the metadata
//! index (a read of the bucket table) and the blob store (a probe blob is
//! written, made durable, read back and deleted: the path every PUT takes).
//! Otherwise 503 naming what failed. Each probe has [`PROBE_TIMEOUT`], so a
//! hung disk gives a 503 instead of a hanging health check.
//! `/-/health/live` (in `server.rs`) only says the process answers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::StatusCode;

use crate::op::AppState;
use crate::storage::{BlobId, Store};

/// How long each store may take before it counts as unavailable.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

const PROBE: &[u8] = b"localcos readiness probe\n";

/// The readiness answer: (status, body).
pub async fn ready(state: Arc<AppState>) -> (StatusCode, String) {
    match check(&state.store).await {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()),
        Err(why) => {
            tracing::warn!(reason = %why, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {why}\n"),
            )
        }
    }
}

/// Checks the metadata store, then the blob store.
pub async fn check(store: &Store) -> Result<(), String> {
    match tokio::time::timeout(PROBE_TIMEOUT, store.meta().list_buckets()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(format!("metadata store: {e}")),
        Err(_) => return Err("metadata store: no answer within 5 s".into()),
    }
    match tokio::time::timeout(PROBE_TIMEOUT, probe_blobs(store)).await {
        Ok(r) => r.map_err(|e| format!("blob store: {e}")),
        Err(_) => Err("blob store: no answer within 5 s".into()),
    }
}

/// Writes, reads back and deletes a small blob that no record references
/// (should the process die in between, the orphan sweep removes it).
async fn probe_blobs(store: &Store) -> Result<(), String> {
    let blobs = store.blobs();
    let id = BlobId::generate();
    let mut w = blobs.create(&id).await.map_err(|e| e.to_string())?;
    w.write(Bytes::from_static(PROBE))
        .await
        .map_err(|e| e.to_string())?;
    w.finish().await.map_err(|e| e.to_string())?;
    let read = async {
        let r = blobs.open(&id).await.map_err(|e| e.to_string())?;
        let mut stream = r.read(0..r.len());
        let mut got = Vec::with_capacity(PROBE.len());
        while let Some(chunk) = stream.next().await {
            got.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        if got != PROBE {
            return Err("probe blob read back different bytes".to_string());
        }
        Ok(())
    }
    .await;
    let deleted = blobs.delete(&id).await.map_err(|e| e.to_string());
    read.and(deleted)
}
