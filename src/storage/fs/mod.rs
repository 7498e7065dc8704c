//! The embedded backend: one data dir holding the index and the blob files.
//!
//! ```text
//! <data>/meta.redb          RedbMeta: buckets, objects, blob reference counts
//! <data>/blobs/<xx>/<id>    FsBlobs: one immutable file per blob (xx = id's last 2 hex)
//! <data>/tmp/<id>.part      blobs being written; emptied at start-up
//! <data>/FORMAT             the on-disk format version (also in the index; [`format`])
//! ```
//!
//! A blob is deleted as soon as no record references it (an open file keeps
//! its bytes for a reader already streaming). A crash between a blob's
//! rename and its index commit leaves an orphan file; the sweep started by
//! [`open`] deletes those.

mod blobs;
pub mod format;
pub mod fsck;
mod meta;

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::SystemTime;

pub use blobs::FsBlobs;
pub use meta::RedbMeta;

use super::{BlobStore, MetaStore, StorageError, Store};

/// Opens the data dir (see [`Store::open_fs`]).
pub(super) async fn open(data_dir: &Path) -> Result<Store, StorageError> {
    // Blobs written from now on belong to this process; older unreferenced
    // ones are orphans.
    let started = SystemTime::now();
    std::fs::create_dir_all(data_dir)?;
    // A data dir of a newer format is refused before anything is touched.
    format::check_file(data_dir)?;
    // The index first: it locks the data dir, so emptying `tmp/` cannot
    // disturb another process's writes.
    let meta = Arc::new(RedbMeta::open(&data_dir.join("meta.redb")).await?);
    format::check_and_stamp(&meta, data_dir)?;
    let blobs = Arc::new(FsBlobs::open(data_dir)?);
    let weak = Arc::downgrade(&meta);
    tokio::spawn(sweep_orphans(weak, blobs.clone(), started));
    Ok(Store::new(meta, blobs))
}

/// Deletes blob files older than `started` that no record references.
///
/// Safe alongside live traffic: an unreferenced blob can never gain a
/// reference again (`MetaStore::put_object` refuses reused blobs that are not
/// referenced), and every blob this process writes is newer than `started`.
/// Holds the index weakly, so dropping the store ends the sweep and releases
/// the database file.
async fn sweep_orphans(meta: Weak<RedbMeta>, blobs: Arc<FsBlobs>, started: SystemTime) {
    let candidates = match blobs.list_older_than(started).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "orphan sweep: could not list blobs");
            return;
        }
    };
    let mut removed = 0usize;
    for id in candidates {
        let referenced = match meta.upgrade() {
            Some(meta) => meta.blob_referenced(&id).await,
            None => return,
        };
        match referenced {
            Ok(true) => {}
            Ok(false) => match blobs.delete(&id).await {
                Ok(()) => removed += 1,
                Err(e) => {
                    tracing::warn!(blob = id.as_str(), error = %e, "orphan sweep: could not delete")
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "orphan sweep: index lookup failed");
                return;
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, "orphan sweep: deleted unreferenced blobs");
    }
}
