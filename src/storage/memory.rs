//! In-memory backend: the reference `MetaStore` (ordered maps under one lock,
//! blob reference counts) and `BlobStore` (a map of `Bytes`). Used by tests
//! and by `--ephemeral`; every other backend must behave like this one.

use std::collections::{BTreeMap, HashMap};
use std::ops::{Bound, Range};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};

use super::hash::BodyHasher;
use super::multipart::{self, CompletePart, PartRecord, UploadCursor, UploadRecord, UploadTxn};
use super::versions::{self, KeyTxn, KeyView, PLAIN_SEQ};
use super::{
    BlobId, BlobInfo, BlobReader, BlobStore, BlobWriter, BucketRecord, BucketUpdate, ByteStream,
    Committed, Deletion, MetaStore, ObjectRecord, Seq, StorageError, VersionCursor, VersionEntry,
    WriteCondition,
};

/// Chunk size of streamed reads. Slicing `Bytes` copies nothing; the chunks
/// only keep the stream shaped like the file backend's.
const READ_CHUNK: usize = 1 << 20;

/// The reference index. One mutex makes every method one atomic step; no
/// method awaits while holding it.
#[derive(Default)]
pub struct MemoryMeta {
    state: Mutex<MetaState>,
    /// Bucket-record writes (`MetaStore::bucket_generation`), bumped under
    /// the state lock.
    bucket_writes: std::sync::atomic::AtomicU64,
    /// Stored credentials (`MetaStore::keys`), apart from the object state.
    keys: Mutex<super::keys::KeyTable>,
    /// Deferred deletes, leases and secrets (`MetaStore::defer_blob_deletes`,
    /// `lease`, `secret_or_init`), apart from the object state.
    shared: Mutex<SharedState>,
}

/// The cluster coordination state of [`MemoryMeta`].
#[derive(Default)]
struct SharedState {
    /// Blob → due time of its deferred delete.
    deferred: HashMap<BlobId, i64>,
    /// (due time, blob): the collector's order.
    due: std::collections::BTreeSet<(i64, BlobId)>,
    /// Lease name → (holder, end in Unix ms).
    leases: HashMap<String, (String, i64)>,
    secrets: HashMap<String, Vec<u8>>,
}

#[derive(Default)]
struct MetaState {
    buckets: BTreeMap<String, MemBucket>,
    /// Blob → number of records referencing it. Absent means zero.
    refs: HashMap<BlobId, u64>,
}

struct MemBucket {
    rec: BucketRecord,
    /// Current non-marker records (see `versions.rs` for the layout).
    objects: BTreeMap<String, ObjectRecord>,
    /// (key, seq) → version or delete marker; a key's versions newest first.
    versions: BTreeMap<(String, Seq), ObjectRecord>,
    /// (key, upload id) → upload in progress, in List Uploads order.
    uploads: BTreeMap<(String, String), UploadRecord>,
    /// (upload id, part number) → stored part.
    parts: BTreeMap<(String, u32), PartRecord>,
}

impl MemBucket {
    fn key_versions<'a>(&'a self, key: &str) -> impl Iterator<Item = (Seq, &'a ObjectRecord)> + 'a {
        self.versions
            .range((key.to_string(), 0)..=(key.to_string(), Seq::MAX))
            .map(|((_, seq), rec)| (*seq, rec))
    }
}

/// One key of one bucket, for the shared rules in `versions.rs`.
struct MemKey<'a> {
    b: &'a mut MemBucket,
    refs: &'a mut HashMap<BlobId, u64>,
    key: &'a str,
}

impl KeyView for MemKey<'_> {
    fn current(&self) -> Result<Option<ObjectRecord>, StorageError> {
        Ok(self.b.objects.get(self.key).cloned())
    }
    fn newest(&self) -> Result<Option<(Seq, ObjectRecord)>, StorageError> {
        Ok(self
            .b
            .key_versions(self.key)
            .next()
            .map(|(s, r)| (s, r.clone())))
    }
    fn version(&self, seq: Seq) -> Result<Option<ObjectRecord>, StorageError> {
        Ok(self.b.versions.get(&(self.key.to_string(), seq)).cloned())
    }
    fn find_null(&self) -> Result<Option<(Seq, ObjectRecord)>, StorageError> {
        Ok(self
            .b
            .key_versions(self.key)
            .find(|(_, r)| r.version_id.as_deref() == Some(super::NULL_VERSION))
            .map(|(s, r)| (s, r.clone())))
    }
}

impl KeyTxn for MemKey<'_> {
    fn set_current(&mut self, rec: Option<&ObjectRecord>) -> Result<(), StorageError> {
        match rec {
            Some(rec) => self.b.objects.insert(self.key.to_string(), rec.clone()),
            None => self.b.objects.remove(self.key),
        };
        Ok(())
    }
    fn insert_version(&mut self, seq: Seq, rec: &ObjectRecord) -> Result<(), StorageError> {
        self.b
            .versions
            .insert((self.key.to_string(), seq), rec.clone());
        Ok(())
    }
    fn remove_version(&mut self, seq: Seq) -> Result<(), StorageError> {
        self.b.versions.remove(&(self.key.to_string(), seq));
        Ok(())
    }
    fn take_refs(&mut self, rec: &ObjectRecord, fresh: &[BlobId]) -> Result<(), StorageError> {
        // Validate before mutating: a reused blob must still be alive.
        let ids = rec.blob_ids();
        if ids
            .iter()
            .any(|id| !fresh.contains(id) && !self.refs.contains_key(*id))
        {
            return Err(StorageError::Conflict);
        }
        for id in ids {
            *self.refs.entry(id.clone()).or_insert(0) += 1;
        }
        Ok(())
    }
    fn release(&mut self, rec: &ObjectRecord) -> Result<Vec<BlobId>, StorageError> {
        Ok(release(self.refs, rec))
    }
}

/// One upload of one key, for the shared rules in `multipart.rs`.
struct MemUpload<'a> {
    k: MemKey<'a>,
    upload_id: &'a str,
}

crate::storage::versions::delegate_key_txn!(MemUpload<'_>, k);

impl UploadTxn for MemUpload<'_> {
    fn upload(&self) -> Result<Option<UploadRecord>, StorageError> {
        Ok(self
            .k
            .b
            .uploads
            .get(&(self.k.key.to_string(), self.upload_id.to_string()))
            .cloned())
    }
    fn parts(&self) -> Result<Vec<PartRecord>, StorageError> {
        Ok(self
            .k
            .b
            .parts
            .range((self.upload_id.to_string(), 0)..=(self.upload_id.to_string(), u32::MAX))
            .map(|(_, p)| p.clone())
            .collect())
    }
    fn part(&self, number: u32) -> Result<Option<PartRecord>, StorageError> {
        Ok(self
            .k
            .b
            .parts
            .get(&(self.upload_id.to_string(), number))
            .cloned())
    }
    fn set_part(&mut self, part: &PartRecord) -> Result<(), StorageError> {
        self.k
            .b
            .parts
            .insert((self.upload_id.to_string(), part.part_number), part.clone());
        Ok(())
    }
    fn remove_upload(&mut self) -> Result<(), StorageError> {
        let id = self.upload_id.to_string();
        self.k
            .b
            .uploads
            .remove(&(self.k.key.to_string(), id.clone()));
        self.k.b.parts.retain(|(u, _), _| *u != id);
        Ok(())
    }
    fn add_ref(&mut self, blob: &BlobId) -> Result<(), StorageError> {
        *self.k.refs.entry(blob.clone()).or_insert(0) += 1;
        Ok(())
    }
    fn drop_ref(&mut self, blob: &BlobId) -> Result<bool, StorageError> {
        match self.k.refs.get_mut(blob) {
            Some(n) if *n > 1 => {
                *n -= 1;
                Ok(false)
            }
            _ => {
                self.k.refs.remove(blob);
                Ok(true)
            }
        }
    }
}

impl MemoryMeta {
    /// Runs `f` on one upload of `key` under the lock.
    fn with_upload<T>(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        f: impl FnOnce(&mut MemUpload<'_>, super::versions::BucketRules) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut guard = self.lock();
        let MetaState { buckets, refs } = &mut *guard;
        let b = buckets.get_mut(bucket).ok_or(StorageError::NoSuchBucket)?;
        let state = super::versions::BucketRules::of(&b.rec);
        f(
            &mut MemUpload {
                k: MemKey { b, refs, key },
                upload_id,
            },
            state,
        )
    }

    pub fn new() -> Self {
        Self::default()
    }

    fn shared(&self) -> MutexGuard<'_, SharedState> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, MetaState> {
        // A panic while holding the lock cannot leave a half-applied change
        // (each method validates before mutating), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Drops one reference from each of `rec`'s blobs; returns those now unreferenced.
fn release(refs: &mut HashMap<BlobId, u64>, rec: &ObjectRecord) -> Vec<BlobId> {
    let mut freed = Vec::new();
    for id in rec.blob_ids() {
        if let Some(n) = refs.get_mut(id) {
            *n -= 1;
            if *n == 0 {
                refs.remove(id);
                freed.push(id.clone());
            }
        }
    }
    freed
}

#[async_trait::async_trait]
impl MetaStore for MemoryMeta {
    async fn create_bucket(&self, rec: BucketRecord) -> Result<(), StorageError> {
        let mut st = self.lock();
        if st.buckets.contains_key(&rec.name) {
            return Err(StorageError::BucketExists);
        }
        self.bucket_writes
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        st.buckets.insert(
            rec.name.clone(),
            MemBucket {
                rec,
                objects: BTreeMap::new(),
                versions: BTreeMap::new(),
                uploads: BTreeMap::new(),
                parts: BTreeMap::new(),
            },
        );
        Ok(())
    }

    async fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StorageError> {
        Ok(self.lock().buckets.get(name).map(|b| b.rec.clone()))
    }

    async fn list_buckets(&self) -> Result<Vec<BucketRecord>, StorageError> {
        Ok(self
            .lock()
            .buckets
            .values()
            .map(|b| b.rec.clone())
            .collect())
    }

    async fn delete_bucket(&self, name: &str) -> Result<(), StorageError> {
        let mut st = self.lock();
        match st.buckets.get(name) {
            None => Err(StorageError::NoSuchBucket),
            Some(b) if !b.objects.is_empty() || !b.versions.is_empty() || !b.uploads.is_empty() => {
                Err(StorageError::BucketNotEmpty)
            }
            Some(_) => {
                st.buckets.remove(name);
                self.bucket_writes
                    .fetch_add(1, std::sync::atomic::Ordering::Release);
                Ok(())
            }
        }
    }

    async fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StorageError> {
        let st = self.lock();
        let b = st.buckets.get(bucket).ok_or(StorageError::NoSuchBucket)?;
        Ok(b.objects.get(key).cloned())
    }

    async fn object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectRecord>, StorageError> {
        let mut guard = self.lock();
        let MetaState { buckets, refs } = &mut *guard;
        let b = buckets.get_mut(bucket).ok_or(StorageError::NoSuchBucket)?;
        versions::lookup(&MemKey { b, refs, key }, version_id)
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        rec: ObjectRecord,
        fresh: &[BlobId],
        cond: WriteCondition,
    ) -> Result<Committed, StorageError> {
        let mut guard = self.lock();
        let MetaState { buckets, refs } = &mut *guard;
        let b = buckets.get_mut(bucket).ok_or(StorageError::NoSuchBucket)?;
        let state = super::versions::BucketRules::of(&b.rec);
        versions::commit_put(&mut MemKey { b, refs, key }, state, rec, fresh, &cond)
    }

    async fn append_object(
        &self,
        bucket: &str,
        key: &str,
        base: Option<&ObjectRecord>,
        rec: ObjectRecord,
        fresh: &[BlobId],
    ) -> Result<Committed, StorageError> {
        let mut guard = self.lock();
        let MetaState { buckets, refs } = &mut *guard;
        let b = buckets.get_mut(bucket).ok_or(StorageError::NoSuchBucket)?;
        let state = super::versions::BucketRules::of(&b.rec);
        super::append::commit_append(&mut MemKey { b, refs, key }, state, base, rec, fresh)
    }

    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Deletion, StorageError> {
        let mut guard = self.lock();
        let MetaState { buckets, refs } = &mut *guard;
        let b = buckets.get_mut(bucket).ok_or(StorageError::NoSuchBucket)?;
        let state = super::versions::BucketRules::of(&b.rec);
        versions::commit_delete(&mut MemKey { b, refs, key }, state, version_id)
    }

    async fn delete_object_guarded(
        &self,
        bucket: &str,
        key: &str,
        guard: versions::DeleteGuard,
    ) -> Result<Deletion, StorageError> {
        let mut guard_ = self.lock();
        let MetaState { buckets, refs } = &mut *guard_;
        let b = buckets.get_mut(bucket).ok_or(StorageError::NoSuchBucket)?;
        let state = super::versions::BucketRules::of(&b.rec);
        versions::commit_delete_guarded(&mut MemKey { b, refs, key }, state, &guard)
    }

    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: &str,
        limit: usize,
    ) -> Result<Vec<(String, ObjectRecord)>, StorageError> {
        let st = self.lock();
        let b = st.buckets.get(bucket).ok_or(StorageError::NoSuchBucket)?;
        // Start at whichever is later: the prefix itself or just past start_after.
        let lower = if start_after < prefix {
            Bound::Included(prefix)
        } else {
            Bound::Excluded(start_after)
        };
        Ok(b.objects
            .range::<str, _>((lower, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: &VersionCursor,
        limit: usize,
    ) -> Result<Vec<VersionEntry>, StorageError> {
        let st = self.lock();
        let b = st.buckets.get(bucket).ok_or(StorageError::NoSuchBucket)?;
        let start = if after.key.as_str() < prefix {
            prefix
        } else {
            after.key.as_str()
        };
        let mut versioned = b
            .versions
            .range((start.to_string(), 0)..)
            .take_while(|((k, _), _)| k.starts_with(prefix))
            .filter(|((k, seq), _)| versions::is_after(after, k, *seq))
            .map(|((k, seq), rec)| (k, *seq, rec))
            .peekable();
        // Current records: plain ones are listed, mirrors of versions are
        // skipped, but only as far as the versions stream has got (as in
        // the redb backend: no scan ahead through a fully versioned bucket).
        let mut plain = b
            .objects
            .range::<str, _>((Bound::Included(start), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, rec)| (k, PLAIN_SEQ, rec))
            .peekable();
        let mut out = Vec::new();
        while out.len() < limit {
            let until = versioned.peek().map(|v| v.0);
            while let Some((k, _, rec)) = plain.peek() {
                if until.is_some_and(|u| *k > u) {
                    break;
                }
                if rec.version_id.is_none() && versions::is_after(after, k, PLAIN_SEQ) {
                    break;
                }
                plain.next();
            }
            // Merge the two ordered streams by (key, seq); a plain head
            // beyond the versions head is only taken once it was checked.
            let take_plain = match (versioned.peek(), plain.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(v), Some(p)) => (p.0, p.1) < (v.0, v.1),
            };
            let next = if take_plain {
                plain.next()
            } else {
                versioned.next()
            };
            let Some((key, seq, rec)) = next else { break };
            let is_latest =
                seq == PLAIN_SEQ || b.key_versions(key).next().is_some_and(|(s, _)| s == seq);
            out.push(VersionEntry {
                key: key.clone(),
                seq,
                record: rec.clone(),
                is_latest,
            });
        }
        Ok(out)
    }

    async fn blob_referenced(&self, blob: &BlobId) -> Result<bool, StorageError> {
        Ok(self.lock().refs.contains_key(blob))
    }

    async fn update_object_meta(
        &self,
        bucket: &str,
        key: &str,
        expected: &ObjectRecord,
        new: ObjectRecord,
    ) -> Result<(), StorageError> {
        let mut guard = self.lock();
        let MetaState { buckets, refs } = &mut *guard;
        let b = buckets.get_mut(bucket).ok_or(StorageError::NoSuchBucket)?;
        versions::update_meta(&mut MemKey { b, refs, key }, expected, new)
    }

    async fn update_bucket(
        &self,
        name: &str,
        update: BucketUpdate,
    ) -> Result<BucketRecord, StorageError> {
        let mut st = self.lock();
        let b = st.buckets.get_mut(name).ok_or(StorageError::NoSuchBucket)?;
        let mut rec = b.rec.clone();
        update(&mut rec);
        rec.name = name.to_string();
        b.rec = rec.clone();
        self.bucket_writes
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        Ok(rec)
    }

    fn bucket_generation(&self) -> Option<u64> {
        Some(
            self.bucket_writes
                .load(std::sync::atomic::Ordering::Acquire),
        )
    }

    async fn keys(&self) -> Result<super::keys::KeyTable, StorageError> {
        Ok(self.keys.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    async fn keys_generation(&self) -> Result<u64, StorageError> {
        Ok(self
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .generation)
    }

    async fn update_keys(
        &self,
        update: super::keys::KeysUpdate,
    ) -> Result<super::keys::KeyTable, StorageError> {
        let mut table = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = table.clone();
        update(&mut next)?;
        next.keys.sort_by(|a, b| a.secret_id.cmp(&b.secret_id));
        next.keys.dedup_by(|a, b| a.secret_id == b.secret_id);
        next.generation = table.generation + 1;
        *table = next.clone();
        Ok(next)
    }

    async fn defer_blob_deletes(&self, ids: &[BlobId], due_ms: i64) -> Result<(), StorageError> {
        let mut sh = self.shared();
        for id in ids {
            let due = match sh.deferred.get(id) {
                Some(&old) if old >= due_ms => continue,
                Some(&old) => {
                    sh.due.remove(&(old, id.clone()));
                    due_ms
                }
                None => due_ms,
            };
            sh.deferred.insert(id.clone(), due);
            sh.due.insert((due, id.clone()));
        }
        Ok(())
    }

    async fn due_blob_deletes(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<BlobId>, StorageError> {
        let sh = self.shared();
        Ok(sh
            .due
            .iter()
            .take_while(|(due, _)| *due <= now_ms)
            .take(limit)
            .map(|(_, id)| id.clone())
            .collect())
    }

    async fn forget_blob_deletes(&self, ids: &[BlobId]) -> Result<(), StorageError> {
        let mut sh = self.shared();
        for id in ids {
            if let Some(due) = sh.deferred.remove(id) {
                sh.due.remove(&(due, id.clone()));
            }
        }
        Ok(())
    }

    async fn blob_delete_backlog(&self) -> Result<u64, StorageError> {
        Ok(self.shared().deferred.len() as u64)
    }

    async fn lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool, StorageError> {
        let mut sh = self.shared();
        let free = match sh.leases.get(name) {
            None => true,
            Some((h, until)) => h == holder || *until <= now_ms,
        };
        if !free {
            return Ok(false);
        }
        let until = now_ms.saturating_add(ttl_ms);
        sh.leases
            .insert(name.to_string(), (holder.to_string(), until));
        Ok(until > now_ms)
    }

    async fn secret_or_init(&self, name: &str, init: Vec<u8>) -> Result<Vec<u8>, StorageError> {
        Ok(self
            .shared()
            .secrets
            .entry(name.to_string())
            .or_insert(init)
            .clone())
    }

    async fn create_upload(&self, bucket: &str, rec: UploadRecord) -> Result<(), StorageError> {
        let mut st = self.lock();
        let b = st
            .buckets
            .get_mut(bucket)
            .ok_or(StorageError::NoSuchBucket)?;
        b.uploads
            .insert((rec.key.clone(), rec.upload_id.clone()), rec);
        Ok(())
    }

    async fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<UploadRecord>, StorageError> {
        self.with_upload(bucket, key, upload_id, |t, _| t.upload())
    }

    async fn put_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: PartRecord,
    ) -> Result<Vec<BlobId>, StorageError> {
        self.with_upload(bucket, key, upload_id, |t, _| {
            multipart::commit_part(t, &part)
        })
    }

    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<(UploadRecord, Vec<PartRecord>), StorageError> {
        let st = self.lock();
        let b = st.buckets.get(bucket).ok_or(StorageError::NoSuchBucket)?;
        let up = b
            .uploads
            .get(&(key.to_string(), upload_id.to_string()))
            .ok_or(StorageError::NoSuchUpload)?
            .clone();
        let parts = b
            .parts
            .range(
                (upload_id.to_string(), after.saturating_add(1))
                    ..=(upload_id.to_string(), u32::MAX),
            )
            .filter(|((_, n), _)| *n > after)
            .take(limit)
            .map(|(_, p)| p.clone())
            .collect();
        Ok((up, parts))
    }

    async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after: &UploadCursor,
        limit: usize,
    ) -> Result<Vec<UploadRecord>, StorageError> {
        let st = self.lock();
        let b = st.buckets.get(bucket).ok_or(StorageError::NoSuchBucket)?;
        let start = if after.key.as_str() < prefix {
            prefix
        } else {
            after.key.as_str()
        };
        Ok(b.uploads
            .range((start.to_string(), String::new())..)
            .take_while(|((k, _), _)| k.starts_with(prefix))
            .filter(|((k, id), _)| after.is_before(k, id))
            .take(limit)
            .map(|(_, u)| u.clone())
            .collect())
    }

    async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<BlobId>, StorageError> {
        self.with_upload(bucket, key, upload_id, |t, _| multipart::commit_abort(t))
    }

    async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        listed: Vec<CompletePart>,
        cond: WriteCondition,
        now_ms: i64,
    ) -> Result<(Committed, ObjectRecord), StorageError> {
        // Every way `commit_complete` can fail comes before its first
        // change (plan, condition, `take_refs` all check first), so the
        // lock alone makes it all or nothing, as for `put_object`.
        self.with_upload(bucket, key, upload_id, |t, state| {
            multipart::commit_complete(t, state, &listed, cond, now_ms)
        })
    }

    async fn stale_uploads(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, UploadRecord)>, StorageError> {
        let st = self.lock();
        Ok(st
            .buckets
            .iter()
            .flat_map(|(name, b)| b.uploads.values().map(move |u| (name, u)))
            .filter(|(_, u)| u.initiated_ms < before_ms)
            .take(limit)
            .map(|(n, u)| (n.clone(), u.clone()))
            .collect())
    }
}

type BlobMap = Arc<Mutex<HashMap<BlobId, MemBlob>>>;

struct MemBlob {
    bytes: Bytes,
    created: SystemTime,
}

/// Blobs as `Bytes` in a map. Readers clone the `Bytes`, so a deleted blob
/// stays readable for them, as an unlinked file does.
#[derive(Default)]
pub struct MemoryBlobs {
    blobs: BlobMap,
}

impl MemoryBlobs {
    pub fn new() -> Self {
        Self::default()
    }
}

fn lock_blobs(map: &BlobMap) -> MutexGuard<'_, HashMap<BlobId, MemBlob>> {
    map.lock().unwrap_or_else(|p| p.into_inner())
}

struct MemWriter {
    id: BlobId,
    map: BlobMap,
    buf: BytesMut,
    hasher: BodyHasher,
}

#[async_trait::async_trait]
impl BlobWriter for MemWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        self.hasher.update(&chunk);
        self.buf.extend_from_slice(&chunk);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<BlobInfo, StorageError> {
        let MemWriter {
            id,
            map,
            buf,
            hasher,
        } = *self;
        let blob = MemBlob {
            bytes: buf.freeze(),
            created: SystemTime::now(),
        };
        lock_blobs(&map).insert(id, blob);
        Ok(hasher.finish())
    }
}

struct MemReader {
    bytes: Bytes,
}

impl BlobReader for MemReader {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn read(&self, range: Range<u64>) -> ByteStream {
        let end = range.end.min(self.len()) as usize;
        let start = (range.start as usize).min(end);
        let bytes = self.bytes.slice(start..end);
        let chunks: Vec<Result<Bytes, StorageError>> = (0..bytes.len())
            .step_by(READ_CHUNK)
            .map(|at| Ok(bytes.slice(at..(at + READ_CHUNK).min(bytes.len()))))
            .collect();
        Box::pin(futures_util::stream::iter(chunks))
    }
}

#[async_trait::async_trait]
impl BlobStore for MemoryBlobs {
    async fn create(&self, id: &BlobId) -> Result<Box<dyn BlobWriter>, StorageError> {
        Ok(Box::new(MemWriter {
            id: id.clone(),
            map: self.blobs.clone(),
            buf: BytesMut::new(),
            hasher: BodyHasher::new(),
        }))
    }

    async fn open(&self, id: &BlobId) -> Result<Box<dyn BlobReader>, StorageError> {
        let map = lock_blobs(&self.blobs);
        let blob = map.get(id).ok_or(StorageError::NoSuchKey)?;
        Ok(Box::new(MemReader {
            bytes: blob.bytes.clone(),
        }))
    }

    async fn delete(&self, id: &BlobId) -> Result<(), StorageError> {
        lock_blobs(&self.blobs).remove(id);
        Ok(())
    }

    async fn list_older_than(&self, t: SystemTime) -> Result<Vec<BlobId>, StorageError> {
        let map = lock_blobs(&self.blobs);
        Ok(map
            .iter()
            .filter(|(_, b)| b.created < t)
            .map(|(id, _)| id.clone())
            .collect())
    }
}
