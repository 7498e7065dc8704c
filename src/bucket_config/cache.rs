//! Parsed bucket configurations for the request path: the policy (compiled),
//! CORS, referer and lifecycle expiration rules of a bucket, read and parsed once and then
//! shared by every request until the bucket record changes.
//!
//! Correctness under concurrent updates: the metadata store counts its
//! bucket-record writes ([`MetaStore::bucket_generation`], bumped after each
//! committed write). An entry remembers the count read *before* its record
//! was read, so an entry can only be older than its tag, never newer; a
//! request that starts after a `PUT ?policy` answered sees a higher count and
//! reads the record again. A store that does not count (`None`) is read on
//! every request.
//!
//! [`MetaStore::bucket_generation`]: crate::storage::MetaStore::bucket_generation

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::policy::{compile, Compiled};
use super::{stored, BucketPolicy, Cors, Referer};
use crate::error::Result;
use crate::storage::{BucketRecord, Store};

/// Entries kept at most; the map is emptied when full (buckets are few).
const CAPACITY: usize = 4096;

/// What the request path needs of a bucket's configuration, parsed.
#[derive(Debug, Default)]
pub struct BucketView {
    pub region: String,
    pub policy: Option<Compiled>,
    pub cors: Option<Cors>,
    pub referer: Option<Referer>,
    /// The enabled lifecycle rules when one of them expires current
    /// objects (`x-cos-expiration` on GET/HEAD/PUT), else `None`.
    pub expiry_rules: Option<Vec<super::lifecycle::Rule>>,
}

impl BucketView {
    pub fn of(rec: &BucketRecord) -> BucketView {
        BucketView {
            region: rec.region.clone(),
            // Stored documents were validated by PUT; one that no longer
            // compiles (a grammar change) is reported and ignored.
            policy: stored::<BucketPolicy>(rec).and_then(|p| match compile(&p.doc) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(bucket = %rec.name, error = ?e.message, "stored bucket policy no longer valid; ignored");
                    None
                }
            }),
            cors: stored::<Cors>(rec),
            referer: stored::<Referer>(rec),
            expiry_rules: stored::<super::Lifecycle>(rec)
                .map(|l| l.rules)
                .filter(|r| r.iter().any(|r| r.enabled && r.expiration.is_some())),
        }
    }
}

type Entry = (u64, Option<Arc<BucketView>>);

/// Bucket name → (generation, view or `None` for a missing bucket).
#[derive(Default)]
pub struct ViewCache {
    entries: RwLock<HashMap<String, Entry>>,
}

impl ViewCache {
    /// The bucket's parsed configuration; `None` if there is no such bucket.
    pub async fn get(&self, store: &Store, bucket: &str) -> Result<Option<Arc<BucketView>>> {
        let generation = store.meta().bucket_generation();
        if let Some(g) = generation {
            let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
            if let Some((tag, view)) = entries.get(bucket) {
                if *tag == g {
                    return Ok(view.clone());
                }
            }
        }
        let view = store
            .bucket(bucket)
            .await?
            .map(|rec| Arc::new(BucketView::of(&rec)));
        if let Some(g) = generation {
            let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(bucket.to_string(), (g, view.clone()));
        }
        Ok(view)
    }
}
