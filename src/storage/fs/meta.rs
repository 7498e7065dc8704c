//! `RedbMeta`: the embedded index, one redb database file (`meta.redb`).
//!
//! Tables:
//! - `buckets`:   name → JSON `BucketRecord`
//! - `objects`:   (bucket, key) → JSON `ObjectRecord`; redb orders tuple keys
//!   element by element and `&str` bytewise, so a bucket's keys are one
//!   contiguous range in UTF-8 byte order (`a` and `a/b` coexist) and a
//!   listing is one range scan.
//! - `versions`:  (bucket, key, seq) → JSON `ObjectRecord` of a version or
//!   delete marker; `seq` is the inverted creation time, so one key's
//!   versions are contiguous, newest first, and listing them is one range
//!   scan (layout in `storage/versions.rs`).
//! - `blob_refs`: blob id → number of records (and multipart part rows)
//!   referencing it (absent = 0).
//! - `uploads`:   (bucket, key, upload id) → JSON `UploadRecord`; upload ids
//!   grow with time, so one key's uploads list oldest first.
//! - `parts`:     (upload id, part number) → JSON `PartRecord` (upload ids
//!   are unique across buckets).
//! - `keys`:      SecretId → JSON `KeyRecord` (stored credentials).
//! - `keys_meta`: `generation` → u64 (little endian), `check` → the
//!   master-key check value (`storage::keys::KeyTable`).
//! - `gc_deferred`: blob id → due time (Unix ms) of its deferred delete, and
//!   `gc_due`: (due time, blob id) → (), the same entries oldest first
//!   (`storage::gc`).
//! - `leases`:    name → (holder, end in Unix ms) of a background job's lease.
//! - `secrets`:   name → value shared by every user of the index (SSE master
//!   key material, `MetaStore::secret_or_init`).
//!
//! Every method is one transaction. Write transactions commit with redb's
//! default `Durability::Immediate` (fsync before `commit` returns) and run on
//! `spawn_blocking`, since the commit blocks on the disk and on other
//! writers. Read transactions run inline on the async thread: they read an
//! MVCC snapshot, never wait for a writer, and their work is bounded (one
//! lookup, or at most `limit` records of a listing).

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};

use crate::storage::keys::{KeyRecord, KeyTable, KeysUpdate};
use crate::storage::multipart::{
    self, CompletePart, PartRecord, UploadCursor, UploadRecord, UploadTxn,
};
use crate::storage::versions::{self, BucketRules, KeyTxn, KeyView, PLAIN_SEQ};
use crate::storage::{
    BlobId, BucketRecord, BucketUpdate, Committed, Deletion, MetaStore, ObjectRecord, Seq,
    StorageError, VersionCursor, VersionEntry, WriteCondition, NULL_VERSION,
};

pub(super) const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
pub(super) const OBJECTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("objects");
pub(super) const VERSIONS: TableDefinition<(&str, &str, u64), &[u8]> =
    TableDefinition::new("versions");
pub(super) const BLOB_REFS: TableDefinition<&str, u64> = TableDefinition::new("blob_refs");
pub(super) const UPLOADS: TableDefinition<(&str, &str, &str), &[u8]> =
    TableDefinition::new("uploads");
pub(super) const PARTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("parts");
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
const KEYS_META: TableDefinition<&str, &[u8]> = TableDefinition::new("keys_meta");
/// Deferred blob deletes: blob id → due time (Unix ms).
const GC_DEFERRED: TableDefinition<&str, i64> = TableDefinition::new("gc_deferred");
/// The same entries in the collector's order: (due time, blob id).
const GC_DUE: TableDefinition<(i64, &str), ()> = TableDefinition::new("gc_due");
/// Leases of background jobs: name → (holder, end in Unix ms).
const LEASES: TableDefinition<&str, (&str, i64)> = TableDefinition::new("leases");
/// Secrets shared by every user of the index: name → value.
const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("secrets");

/// How long `open` waits for another handle on the same file (in this
/// process, e.g. a store being dropped) to let go of it.
const OPEN_WAIT: Duration = Duration::from_secs(3);

/// Files smaller than this are never compacted (an empty database is ~1.5 MiB).
const COMPACT_MIN_FILE: u64 = 8 << 20;
/// Compaction rewrites the live data; above this much, start-up would slow.
const COMPACT_MAX_LIVE: u64 = 16 << 20;

/// Gives the space of deleted records back to the file system when most of
/// the file is free and little is live (note 17: after deleting everything
/// the data dir shrinks back, at the latest after one restart). redb reuses
/// free pages while running but only shrinks the file by compacting, which
/// needs exclusive access: hence at open, and only when cheap.
fn compact_if_mostly_free(db: &mut Database, file_len: u64) -> Result<(), StorageError> {
    if file_len < COMPACT_MIN_FILE {
        return Ok(());
    }
    let txn = db.begin_write().map_err(db_err)?;
    let live = txn.stats().map_err(db_err)?.stored_bytes();
    txn.abort().map_err(db_err)?;
    if live < COMPACT_MAX_LIVE && live * 4 < file_len {
        let started = std::time::Instant::now();
        db.compact().map_err(db_err)?;
        tracing::info!(file_len, live, took = ?started.elapsed(), "compacted the index");
    }
    Ok(())
}

/// The redb-backed `MetaStore`.
pub struct RedbMeta {
    db: Arc<Database>,
    /// Committed bucket-record writes (`MetaStore::bucket_generation`).
    bucket_writes: std::sync::atomic::AtomicU64,
}

/// Maps any redb error onto `StorageError` (corruption stays recognisable).
pub(super) fn db_err(e: impl Into<redb::Error>) -> StorageError {
    match e.into() {
        redb::Error::Io(io) => StorageError::Io(io),
        redb::Error::Corrupted(msg) => StorageError::Corrupt(msg),
        other => StorageError::Io(std::io::Error::other(other)),
    }
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt(e.to_string()))
}

pub(super) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(value).map_err(|e| StorageError::Corrupt(e.to_string()))
}

fn join_err(e: tokio::task::JoinError) -> StorageError {
    StorageError::Io(std::io::Error::other(e))
}

impl RedbMeta {
    /// Opens or creates the database at `path` and makes sure its tables exist.
    /// # Behavior
    /// - If the file is held by another handle, retries for a few seconds (a
    ///   store of this process that is being dropped lets go shortly), then
    ///   fails; another process holding it makes this fail.
    pub async fn open(path: &Path) -> Result<Self, StorageError> {
        let deadline = tokio::time::Instant::now() + OPEN_WAIT;
        let mut db = loop {
            match Database::create(path) {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen)
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                    return Err(StorageError::Io(std::io::Error::new(
                        std::io::ErrorKind::WouldBlock,
                        format!(
                            "{} is locked by another process (is a localcos server running on this data dir? stop it first)",
                            path.display()
                        ),
                    )))
                }
                Err(e) => return Err(db_err(e)),
            }
        };
        // Compaction needs the database to itself, so it can only happen here.
        let file_len = std::fs::metadata(path)?.len();
        let db = tokio::task::spawn_blocking(move || {
            compact_if_mostly_free(&mut db, file_len).map(|()| db)
        })
        .await
        .map_err(join_err)??;
        let meta = RedbMeta {
            db: Arc::new(db),
            bucket_writes: Default::default(),
        };
        if !meta.tables_exist()? {
            // Opening a table in a write transaction creates it.
            meta.write(|txn| {
                txn.open_table(BUCKETS).map_err(db_err)?;
                txn.open_table(OBJECTS).map_err(db_err)?;
                txn.open_table(VERSIONS).map_err(db_err)?;
                txn.open_table(BLOB_REFS).map_err(db_err)?;
                txn.open_table(UPLOADS).map_err(db_err)?;
                txn.open_table(PARTS).map_err(db_err)?;
                txn.open_table(KEYS).map_err(db_err)?;
                txn.open_table(KEYS_META).map_err(db_err)?;
                txn.open_table(GC_DEFERRED).map_err(db_err)?;
                txn.open_table(GC_DUE).map_err(db_err)?;
                txn.open_table(LEASES).map_err(db_err)?;
                txn.open_table(SECRETS).map_err(db_err)?;
                Ok(())
            })
            .await?;
        }
        Ok(meta)
    }

    /// The database itself, for the offline tools (`fsck`, `format`).
    pub(super) fn database(&self) -> &Database {
        &self.db
    }

    /// After a bucket-record write transaction ended (committed or not: a
    /// spurious bump only costs a re-read).
    fn bump_bucket_writes(&self) {
        self.bucket_writes
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// Checked with a read transaction so that opening an existing database
    /// costs no write (and no fsync).
    fn tables_exist(&self) -> Result<bool, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        Ok(txn.open_table(BUCKETS).is_ok()
            && txn.open_table(OBJECTS).is_ok()
            && txn.open_table(VERSIONS).is_ok()
            && txn.open_table(BLOB_REFS).is_ok()
            && txn.open_table(UPLOADS).is_ok()
            && txn.open_table(PARTS).is_ok()
            && txn.open_table(KEYS).is_ok()
            && txn.open_table(KEYS_META).is_ok()
            && txn.open_table(GC_DEFERRED).is_ok()
            && txn.open_table(GC_DUE).is_ok()
            && txn.open_table(LEASES).is_ok()
            && txn.open_table(SECRETS).is_ok())
    }

    /// Runs `f` in one write transaction on a blocking thread; commits if it
    /// returns `Ok`, aborts (drops the transaction) otherwise.
    async fn write<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StorageError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_write().map_err(db_err)?;
            let out = f(&txn)?;
            txn.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
        .map_err(join_err)?
    }
}

fn key_generation(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<u64, StorageError> {
    Ok(match meta.get("generation").map_err(db_err)? {
        Some(g) => {
            let bytes: [u8; 8] = g
                .value()
                .try_into()
                .map_err(|_| StorageError::Corrupt("keys generation".into()))?;
            u64::from_le_bytes(bytes)
        }
        None => 0,
    })
}

fn read_key_table(
    keys: &impl ReadableTable<&'static str, &'static [u8]>,
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<KeyTable, StorageError> {
    let check = match meta.get("check").map_err(db_err)? {
        Some(g) => Some(
            String::from_utf8(g.value().to_vec())
                .map_err(|_| StorageError::Corrupt("keys check value".into()))?,
        ),
        None => None,
    };
    let mut out = Vec::new();
    for entry in keys.iter().map_err(db_err)? {
        let (_, v) = entry.map_err(db_err)?;
        out.push(decode::<KeyRecord>(v.value())?);
    }
    Ok(KeyTable {
        generation: key_generation(meta)?,
        check,
        keys: out,
    })
}

/// The blobs with a deferred delete (for `fsck`: they are not orphans).
pub(super) fn deferred_blob_ids(
    txn: &redb::ReadTransaction,
) -> Result<std::collections::HashSet<String>, StorageError> {
    let table = match txn.open_table(GC_DEFERRED) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Default::default()),
        Err(e) => return Err(db_err(e)),
    };
    let mut out = std::collections::HashSet::new();
    for entry in table.iter().map_err(db_err)? {
        let (k, _) = entry.map_err(db_err)?;
        out.insert(k.value().to_string());
    }
    Ok(out)
}

/// Drops one reference from each of `rec`'s blobs; returns those now unreferenced.
fn release(
    refs: &mut redb::Table<&str, u64>,
    rec: &ObjectRecord,
) -> Result<Vec<BlobId>, StorageError> {
    let mut freed = Vec::new();
    for id in rec.blob_ids() {
        let n = refs
            .get(id.as_str())
            .map_err(db_err)?
            .map(|g| g.value())
            .unwrap_or(0);
        if n <= 1 {
            refs.remove(id.as_str()).map_err(db_err)?;
            freed.push(id.clone());
        } else {
            refs.insert(id.as_str(), n - 1).map_err(db_err)?;
        }
    }
    Ok(freed)
}

#[async_trait::async_trait]
impl MetaStore for RedbMeta {
    async fn create_bucket(&self, rec: BucketRecord) -> Result<(), StorageError> {
        let value = encode(&rec)?;
        let done = self
            .write(move |txn| {
                let mut buckets = txn.open_table(BUCKETS).map_err(db_err)?;
                if buckets.get(rec.name.as_str()).map_err(db_err)?.is_some() {
                    return Err(StorageError::BucketExists);
                }
                buckets
                    .insert(rec.name.as_str(), value.as_slice())
                    .map_err(db_err)?;
                Ok(())
            })
            .await;
        self.bump_bucket_writes();
        done
    }

    async fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let buckets = txn.open_table(BUCKETS).map_err(db_err)?;
        let found = buckets.get(name).map_err(db_err)?;
        found.map(|g| decode(g.value())).transpose()
    }

    async fn list_buckets(&self) -> Result<Vec<BucketRecord>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let buckets = txn.open_table(BUCKETS).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in buckets.iter().map_err(db_err)? {
            let (_, v) = entry.map_err(db_err)?;
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    async fn delete_bucket(&self, name: &str) -> Result<(), StorageError> {
        let name = name.to_string();
        let done = self
            .write(move |txn| {
                let mut buckets = txn.open_table(BUCKETS).map_err(db_err)?;
                if buckets.get(name.as_str()).map_err(db_err)?.is_none() {
                    return Err(StorageError::NoSuchBucket);
                }
                let objects = txn.open_table(OBJECTS).map_err(db_err)?;
                let mut range = objects.range((name.as_str(), "")..).map_err(db_err)?;
                if let Some(entry) = range.next() {
                    let (k, _) = entry.map_err(db_err)?;
                    if k.value().0 == name {
                        return Err(StorageError::BucketNotEmpty);
                    }
                }
                // Noncurrent versions and delete markers count too.
                let versions = txn.open_table(VERSIONS).map_err(db_err)?;
                let mut range = versions.range((name.as_str(), "", 0)..).map_err(db_err)?;
                if let Some(entry) = range.next() {
                    let (k, _) = entry.map_err(db_err)?;
                    if k.value().0 == name {
                        return Err(StorageError::BucketNotEmpty);
                    }
                }
                // And unfinished multipart uploads (spec cos.md §3.2).
                let uploads = txn.open_table(UPLOADS).map_err(db_err)?;
                let mut range = uploads.range((name.as_str(), "", "")..).map_err(db_err)?;
                if let Some(entry) = range.next() {
                    let (k, _) = entry.map_err(db_err)?;
                    if k.value().0 == name {
                        return Err(StorageError::BucketNotEmpty);
                    }
                }
                buckets.remove(name.as_str()).map_err(db_err)?;
                Ok(())
            })
            .await;
        self.bump_bucket_writes();
        done
    }

    async fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let objects = txn.open_table(OBJECTS).map_err(db_err)?;
        if let Some(found) = objects.get((bucket, key)).map_err(db_err)? {
            // An object implies its bucket (delete_bucket refuses non-empty
            // buckets), so the hot path opens one table, not two.
            return decode(found.value()).map(Some);
        }
        require_bucket(&txn, bucket)?;
        Ok(None)
    }

    async fn object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectRecord>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        require_bucket(&txn, bucket)?;
        let view = RedbKey {
            objects: txn.open_table(OBJECTS).map_err(db_err)?,
            versions: txn.open_table(VERSIONS).map_err(db_err)?,
            refs: (),
            bucket,
            key,
        };
        versions::lookup(&view, version_id)
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        rec: ObjectRecord,
        fresh: &[BlobId],
        cond: WriteCondition,
    ) -> Result<Committed, StorageError> {
        let (bucket, key, fresh) = (bucket.to_string(), key.to_string(), fresh.to_vec());
        self.write(move |txn| {
            let state = bucket_state(txn, &bucket)?;
            let mut t = RedbKey::open(txn, &bucket, &key)?;
            versions::commit_put(&mut t, state, rec, &fresh, &cond)
        })
        .await
    }

    async fn append_object(
        &self,
        bucket: &str,
        key: &str,
        base: Option<&ObjectRecord>,
        rec: ObjectRecord,
        fresh: &[BlobId],
    ) -> Result<Committed, StorageError> {
        let (bucket, key, fresh) = (bucket.to_string(), key.to_string(), fresh.to_vec());
        let base = base.cloned();
        self.write(move |txn| {
            let state = bucket_state(txn, &bucket)?;
            let mut t = RedbKey::open(txn, &bucket, &key)?;
            crate::storage::append::commit_append(&mut t, state, base.as_ref(), rec, &fresh)
        })
        .await
    }

    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Deletion, StorageError> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let version_id = version_id.map(str::to_string);
        self.write(move |txn| {
            let state = bucket_state(txn, &bucket)?;
            let mut t = RedbKey::open(txn, &bucket, &key)?;
            versions::commit_delete(&mut t, state, version_id.as_deref())
        })
        .await
    }

    async fn delete_object_guarded(
        &self,
        bucket: &str,
        key: &str,
        guard: versions::DeleteGuard,
    ) -> Result<Deletion, StorageError> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.write(move |txn| {
            let state = bucket_state(txn, &bucket)?;
            let mut t = RedbKey::open(txn, &bucket, &key)?;
            versions::commit_delete_guarded(&mut t, state, &guard)
        })
        .await
    }

    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: &str,
        limit: usize,
    ) -> Result<Vec<(String, ObjectRecord)>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        require_bucket(&txn, bucket)?;
        let objects = txn.open_table(OBJECTS).map_err(db_err)?;
        // Start at whichever is later: the prefix itself or just past start_after.
        let lower = if start_after < prefix {
            Bound::Included((bucket, prefix))
        } else {
            Bound::Excluded((bucket, start_after))
        };
        let mut out = Vec::new();
        for entry in objects
            .range::<(&str, &str)>((lower, Bound::Unbounded))
            .map_err(db_err)?
        {
            if out.len() >= limit {
                break;
            }
            let (k, v) = entry.map_err(db_err)?;
            let (b, key) = k.value();
            // Sorted: the first key outside the bucket or the prefix ends the scan.
            if b != bucket || !key.starts_with(prefix) {
                break;
            }
            out.push((key.to_string(), decode(v.value())?));
        }
        Ok(out)
    }

    async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: &VersionCursor,
        limit: usize,
    ) -> Result<Vec<VersionEntry>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        require_bucket(&txn, bucket)?;
        let objects = txn.open_table(OBJECTS).map_err(db_err)?;
        let versions_t = txn.open_table(VERSIONS).map_err(db_err)?;
        let start = if after.key.as_str() < prefix {
            prefix
        } else {
            after.key.as_str()
        };
        // Two ordered streams, merged by (key, seq): the versions, and the
        // plain records among the current ones. Sorted: the first key outside
        // the bucket or the prefix ends each.
        let mut versioned = versions_t
            .range::<(&str, &str, u64)>((bucket, start, 0)..)
            .map_err(db_err)?
            .map(
                |entry| -> Result<Option<(String, Seq, ObjectRecord)>, StorageError> {
                    let (k, v) = entry.map_err(db_err)?;
                    let (b, key, seq) = k.value();
                    if b != bucket || !key.starts_with(prefix) {
                        return Ok(None);
                    }
                    Ok(Some((key.to_string(), seq, decode(v.value())?)))
                },
            )
            .peekable();
        let mut plain = objects
            .range::<(&str, &str)>((bucket, start)..)
            .map_err(db_err)?
            .map(
                |entry| -> Result<Option<(String, Seq, ObjectRecord)>, StorageError> {
                    let (k, v) = entry.map_err(db_err)?;
                    let (b, key) = k.value();
                    if b != bucket || !key.starts_with(prefix) {
                        return Ok(None);
                    }
                    Ok(Some((key.to_string(), PLAIN_SEQ, decode(v.value())?)))
                },
            )
            .peekable();
        // Skips what the cursor excludes and, for `plain`, the mirrors of
        // versioned keys, but never past `until`: the plain stream only
        // needs to be read as far as the versions stream has got, so a
        // bucket without plain records costs no extra scan. An `Ok(None)`
        // ends a stream.
        fn advance(
            it: &mut std::iter::Peekable<
                impl Iterator<Item = Result<Option<(String, Seq, ObjectRecord)>, StorageError>>,
            >,
            after: &VersionCursor,
            plain_only: bool,
            until: Option<&str>,
        ) -> Result<(), StorageError> {
            while let Some(item) = it.peek() {
                match item {
                    Err(_) => {
                        if let Some(Err(e)) = it.next() {
                            return Err(e);
                        }
                    }
                    Ok(None) => return Ok(()),
                    Ok(Some((key, seq, rec))) => {
                        if until.is_some_and(|u| key.as_str() > u) {
                            return Ok(());
                        }
                        let skip = !versions::is_after(after, key, *seq)
                            || (plain_only && rec.version_id.is_some());
                        if !skip {
                            return Ok(());
                        }
                        it.next();
                    }
                }
            }
            Ok(())
        }
        fn head(
            it: &mut std::iter::Peekable<
                impl Iterator<Item = Result<Option<(String, Seq, ObjectRecord)>, StorageError>>,
            >,
        ) -> Option<(String, Seq)> {
            match it.peek() {
                Some(Ok(Some((k, s, _)))) => Some((k.clone(), *s)),
                _ => None,
            }
        }
        let mut out = Vec::new();
        let mut last_key: Option<String> = after.seq.map(|_| after.key.clone());
        while out.len() < limit {
            advance(&mut versioned, after, false, None)?;
            let v = head(&mut versioned);
            advance(&mut plain, after, true, v.as_ref().map(|(k, _)| k.as_str()))?;
            // A plain head beyond `v` may still be a mirror: it is only taken
            // once the versions stream has passed it (and `advance` skipped it).
            let take_plain = match (v, head(&mut plain)) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(v), Some(p)) => p < v,
            };
            let next = if take_plain {
                plain.next()
            } else {
                versioned.next()
            };
            let Some(Ok(Some((key, seq, record)))) = next else {
                break;
            };
            // Newest first within a key: the first entry seen of a key is its
            // latest, unless the scan resumed inside that key.
            let is_latest = seq == PLAIN_SEQ || last_key.as_deref() != Some(key.as_str());
            last_key = Some(key.clone());
            out.push(VersionEntry {
                key,
                seq,
                record,
                is_latest,
            });
        }
        Ok(out)
    }

    async fn blob_referenced(&self, blob: &BlobId) -> Result<bool, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let refs = txn.open_table(BLOB_REFS).map_err(db_err)?;
        Ok(refs
            .get(blob.as_str())
            .map_err(db_err)?
            .is_some_and(|g| g.value() > 0))
    }

    async fn update_object_meta(
        &self,
        bucket: &str,
        key: &str,
        expected: &ObjectRecord,
        new: ObjectRecord,
    ) -> Result<(), StorageError> {
        let (bucket, key, expected) = (bucket.to_string(), key.to_string(), expected.clone());
        self.write(move |txn| {
            bucket_state(txn, &bucket)?;
            let mut t = RedbKey::open(txn, &bucket, &key)?;
            versions::update_meta(&mut t, &expected, new)
        })
        .await
    }

    async fn update_bucket(
        &self,
        name: &str,
        update: BucketUpdate,
    ) -> Result<BucketRecord, StorageError> {
        let name = name.to_string();
        let done = self
            .write(move |txn| {
                let mut buckets = txn.open_table(BUCKETS).map_err(db_err)?;
                let mut rec: BucketRecord = {
                    let found = buckets.get(name.as_str()).map_err(db_err)?;
                    match found {
                        Some(g) => decode(g.value())?,
                        None => return Err(StorageError::NoSuchBucket),
                    }
                };
                update(&mut rec);
                rec.name = name.clone();
                let value = encode(&rec)?;
                buckets
                    .insert(name.as_str(), value.as_slice())
                    .map_err(db_err)?;
                Ok(rec)
            })
            .await;
        self.bump_bucket_writes();
        done
    }

    fn bucket_generation(&self) -> Option<u64> {
        Some(
            self.bucket_writes
                .load(std::sync::atomic::Ordering::Acquire),
        )
    }

    async fn keys(&self) -> Result<KeyTable, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        read_key_table(
            &txn.open_table(KEYS).map_err(db_err)?,
            &txn.open_table(KEYS_META).map_err(db_err)?,
        )
    }

    async fn keys_generation(&self) -> Result<u64, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        key_generation(&txn.open_table(KEYS_META).map_err(db_err)?)
    }

    async fn update_keys(&self, update: KeysUpdate) -> Result<KeyTable, StorageError> {
        self.write(move |txn| {
            let mut keys = txn.open_table(KEYS).map_err(db_err)?;
            let mut meta = txn.open_table(KEYS_META).map_err(db_err)?;
            let before = read_key_table(&keys, &meta)?;
            let mut table = before.clone();
            update(&mut table)?;
            table.generation = before.generation + 1;
            for old in &before.keys {
                if !table.keys.iter().any(|k| k.secret_id == old.secret_id) {
                    keys.remove(old.secret_id.as_str()).map_err(db_err)?;
                }
            }
            for rec in &table.keys {
                if before.keys.contains(rec) {
                    continue;
                }
                let value = encode(rec)?;
                keys.insert(rec.secret_id.as_str(), value.as_slice())
                    .map_err(db_err)?;
            }
            match &table.check {
                Some(c) => meta.insert("check", c.as_bytes()).map_err(db_err)?,
                None => meta.remove("check").map_err(db_err)?,
            };
            meta.insert("generation", table.generation.to_le_bytes().as_slice())
                .map_err(db_err)?;
            drop((keys, meta));
            // Read back as committed (sorted by SecretId, duplicates merged).
            let keys = txn.open_table(KEYS).map_err(db_err)?;
            let meta = txn.open_table(KEYS_META).map_err(db_err)?;
            read_key_table(&keys, &meta)
        })
        .await
    }

    async fn defer_blob_deletes(&self, ids: &[BlobId], due_ms: i64) -> Result<(), StorageError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.write(move |txn| {
            let mut deferred = txn.open_table(GC_DEFERRED).map_err(db_err)?;
            let mut due = txn.open_table(GC_DUE).map_err(db_err)?;
            for id in &ids {
                let old = deferred
                    .get(id.as_str())
                    .map_err(db_err)?
                    .map(|g| g.value());
                if let Some(old) = old {
                    if old >= due_ms {
                        continue;
                    }
                    due.remove((old, id.as_str())).map_err(db_err)?;
                }
                deferred.insert(id.as_str(), due_ms).map_err(db_err)?;
                due.insert((due_ms, id.as_str()), ()).map_err(db_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn due_blob_deletes(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<BlobId>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let due = txn.open_table(GC_DUE).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in due.range((i64::MIN, "")..).map_err(db_err)? {
            if out.len() >= limit {
                break;
            }
            let (k, _) = entry.map_err(db_err)?;
            let (at, id) = k.value();
            if at > now_ms {
                break;
            }
            out.push(
                BlobId::parse(id)
                    .ok_or_else(|| StorageError::Corrupt(format!("deferred blob id {id:?}")))?,
            );
        }
        Ok(out)
    }

    async fn forget_blob_deletes(&self, ids: &[BlobId]) -> Result<(), StorageError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.write(move |txn| {
            let mut deferred = txn.open_table(GC_DEFERRED).map_err(db_err)?;
            let mut due = txn.open_table(GC_DUE).map_err(db_err)?;
            for id in &ids {
                let old = deferred
                    .remove(id.as_str())
                    .map_err(db_err)?
                    .map(|g| g.value());
                if let Some(old) = old {
                    due.remove((old, id.as_str())).map_err(db_err)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn blob_delete_backlog(&self) -> Result<u64, StorageError> {
        use redb::ReadableTableMetadata;
        let txn = self.db.begin_read().map_err(db_err)?;
        let deferred = txn.open_table(GC_DEFERRED).map_err(db_err)?;
        deferred.len().map_err(db_err)
    }

    async fn lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool, StorageError> {
        let (name, holder) = (name.to_string(), holder.to_string());
        self.write(move |txn| {
            let mut leases = txn.open_table(LEASES).map_err(db_err)?;
            let free = match leases.get(name.as_str()).map_err(db_err)? {
                None => true,
                Some(g) => {
                    let (h, until) = g.value();
                    h == holder || until <= now_ms
                }
            };
            if !free {
                return Ok(false);
            }
            let until = now_ms.saturating_add(ttl_ms);
            leases
                .insert(name.as_str(), (holder.as_str(), until))
                .map_err(db_err)?;
            Ok(until > now_ms)
        })
        .await
    }

    async fn secret_or_init(&self, name: &str, init: Vec<u8>) -> Result<Vec<u8>, StorageError> {
        {
            // The common case (already stored) needs no write transaction.
            let txn = self.db.begin_read().map_err(db_err)?;
            let secrets = txn.open_table(SECRETS).map_err(db_err)?;
            if let Some(g) = secrets.get(name).map_err(db_err)? {
                return Ok(g.value().to_vec());
            }
        }
        let name = name.to_string();
        self.write(move |txn| {
            let mut secrets = txn.open_table(SECRETS).map_err(db_err)?;
            let stored = secrets
                .get(name.as_str())
                .map_err(db_err)?
                .map(|g| g.value().to_vec());
            match stored {
                Some(v) => Ok(v),
                None => {
                    secrets
                        .insert(name.as_str(), init.as_slice())
                        .map_err(db_err)?;
                    Ok(init)
                }
            }
        })
        .await
    }

    async fn create_upload(&self, bucket: &str, rec: UploadRecord) -> Result<(), StorageError> {
        let bucket = bucket.to_string();
        let value = encode(&rec)?;
        self.write(move |txn| {
            bucket_state(txn, &bucket)?;
            let mut uploads = txn.open_table(UPLOADS).map_err(db_err)?;
            uploads
                .insert(
                    (bucket.as_str(), rec.key.as_str(), rec.upload_id.as_str()),
                    value.as_slice(),
                )
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<UploadRecord>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let uploads = txn.open_table(UPLOADS).map_err(db_err)?;
        if let Some(found) = uploads.get((bucket, key, upload_id)).map_err(db_err)? {
            return decode(found.value()).map(Some);
        }
        require_bucket(&txn, bucket)?;
        Ok(None)
    }

    async fn put_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: PartRecord,
    ) -> Result<Vec<BlobId>, StorageError> {
        self.with_upload(bucket, key, upload_id, move |t, _| {
            multipart::commit_part(t, &part)
        })
        .await
    }

    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<(UploadRecord, Vec<PartRecord>), StorageError> {
        let up = self
            .upload(bucket, key, upload_id)
            .await?
            .ok_or(StorageError::NoSuchUpload)?;
        let txn = self.db.begin_read().map_err(db_err)?;
        let parts = txn.open_table(PARTS).map_err(db_err)?;
        let mut out = Vec::new();
        if after < u32::MAX {
            for entry in parts
                .range((upload_id, after + 1)..=(upload_id, u32::MAX))
                .map_err(db_err)?
                .take(limit)
            {
                let (_, v) = entry.map_err(db_err)?;
                out.push(decode(v.value())?);
            }
        }
        Ok((up, out))
    }

    async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after: &UploadCursor,
        limit: usize,
    ) -> Result<Vec<UploadRecord>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        require_bucket(&txn, bucket)?;
        let uploads = txn.open_table(UPLOADS).map_err(db_err)?;
        let start = if after.key.as_str() < prefix {
            prefix
        } else {
            after.key.as_str()
        };
        let mut out = Vec::new();
        for entry in uploads
            .range::<(&str, &str, &str)>((bucket, start, "")..)
            .map_err(db_err)?
        {
            if out.len() >= limit {
                break;
            }
            let (k, v) = entry.map_err(db_err)?;
            let (b, key, id) = k.value();
            if b != bucket || !key.starts_with(prefix) {
                break;
            }
            if after.is_before(key, id) {
                out.push(decode(v.value())?);
            }
        }
        Ok(out)
    }

    async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<BlobId>, StorageError> {
        self.with_upload(bucket, key, upload_id, |t, _| multipart::commit_abort(t))
            .await
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
        self.with_upload(bucket, key, upload_id, move |t, state| {
            multipart::commit_complete(t, state, &listed, cond, now_ms)
        })
        .await
    }

    async fn stale_uploads(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, UploadRecord)>, StorageError> {
        // A full scan: the sweep runs rarely and upload rows are few.
        let txn = self.db.begin_read().map_err(db_err)?;
        let uploads = txn.open_table(UPLOADS).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in uploads.iter().map_err(db_err)? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = entry.map_err(db_err)?;
            let rec: UploadRecord = decode(v.value())?;
            if rec.initiated_ms < before_ms {
                out.push((k.value().0.to_string(), rec));
            }
        }
        Ok(out)
    }
}

impl RedbMeta {
    /// Runs `f` on one upload of `key` in one write transaction.
    async fn with_upload<T, F>(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        f: F,
    ) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut RedbUpload<'_, '_>, BucketRules) -> Result<T, StorageError> + Send + 'static,
    {
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        self.write(move |txn| {
            let state = bucket_state(txn, &bucket)?;
            let mut t = RedbUpload {
                k: RedbKey {
                    objects: txn.open_table(OBJECTS).map_err(db_err)?,
                    versions: txn.open_table(VERSIONS).map_err(db_err)?,
                    refs: txn.open_table(BLOB_REFS).map_err(db_err)?,
                    bucket: &bucket,
                    key: &key,
                },
                uploads: txn.open_table(UPLOADS).map_err(db_err)?,
                parts: txn.open_table(PARTS).map_err(db_err)?,
                upload_id: &upload_id,
            };
            f(&mut t, state)
        })
        .await
    }
}

type WriteKey<'k, 't> = RedbKey<
    'k,
    redb::Table<'t, (&'static str, &'static str), &'static [u8]>,
    redb::Table<'t, (&'static str, &'static str, u64), &'static [u8]>,
    redb::Table<'t, &'static str, u64>,
>;

/// One upload of one key inside a write transaction, for the shared rules
/// in `multipart.rs`.
struct RedbUpload<'k, 't> {
    k: WriteKey<'k, 't>,
    uploads: redb::Table<'t, (&'static str, &'static str, &'static str), &'static [u8]>,
    parts: redb::Table<'t, (&'static str, u32), &'static [u8]>,
    upload_id: &'k str,
}

crate::storage::versions::delegate_key_txn!(RedbUpload<'_, '_>, k);

impl UploadTxn for RedbUpload<'_, '_> {
    fn upload(&self) -> Result<Option<UploadRecord>, StorageError> {
        let found = self
            .uploads
            .get((self.k.bucket, self.k.key, self.upload_id))
            .map_err(db_err)?;
        found.map(|g| decode(g.value())).transpose()
    }
    fn parts(&self) -> Result<Vec<PartRecord>, StorageError> {
        let mut out = Vec::new();
        for entry in self
            .parts
            .range((self.upload_id, 0)..=(self.upload_id, u32::MAX))
            .map_err(db_err)?
        {
            let (_, v) = entry.map_err(db_err)?;
            out.push(decode(v.value())?);
        }
        Ok(out)
    }
    fn part(&self, number: u32) -> Result<Option<PartRecord>, StorageError> {
        let found = self.parts.get((self.upload_id, number)).map_err(db_err)?;
        found.map(|g| decode(g.value())).transpose()
    }
    fn set_part(&mut self, part: &PartRecord) -> Result<(), StorageError> {
        let value = encode(part)?;
        self.parts
            .insert((self.upload_id, part.part_number), value.as_slice())
            .map_err(db_err)?;
        Ok(())
    }
    fn remove_upload(&mut self) -> Result<(), StorageError> {
        self.uploads
            .remove((self.k.bucket, self.k.key, self.upload_id))
            .map_err(db_err)?;
        let numbers: Vec<u32> = self
            .parts
            .range((self.upload_id, 0)..=(self.upload_id, u32::MAX))
            .map_err(db_err)?
            .map(|e| e.map(|(k, _)| k.value().1).map_err(db_err))
            .collect::<Result<_, _>>()?;
        for n in numbers {
            self.parts.remove((self.upload_id, n)).map_err(db_err)?;
        }
        Ok(())
    }
    fn add_ref(&mut self, blob: &BlobId) -> Result<(), StorageError> {
        let n = self
            .k
            .refs
            .get(blob.as_str())
            .map_err(db_err)?
            .map(|g| g.value())
            .unwrap_or(0);
        self.k.refs.insert(blob.as_str(), n + 1).map_err(db_err)?;
        Ok(())
    }
    fn drop_ref(&mut self, blob: &BlobId) -> Result<bool, StorageError> {
        let n = self
            .k
            .refs
            .get(blob.as_str())
            .map_err(db_err)?
            .map(|g| g.value())
            .unwrap_or(0);
        if n <= 1 {
            self.k.refs.remove(blob.as_str()).map_err(db_err)?;
            Ok(true)
        } else {
            self.k.refs.insert(blob.as_str(), n - 1).map_err(db_err)?;
            Ok(false)
        }
    }
}

/// `NoSuchBucket` unless `bucket` exists (inside a read transaction).
fn require_bucket(txn: &redb::ReadTransaction, bucket: &str) -> Result<(), StorageError> {
    let buckets = txn.open_table(BUCKETS).map_err(db_err)?;
    if buckets.get(bucket).map_err(db_err)?.is_none() {
        return Err(StorageError::NoSuchBucket);
    }
    Ok(())
}

/// The bucket's versioning state inside a write transaction; `NoSuchBucket`
/// if it does not exist.
fn bucket_state(txn: &WriteTransaction, bucket: &str) -> Result<BucketRules, StorageError> {
    let buckets = txn.open_table(BUCKETS).map_err(db_err)?;
    let found = buckets.get(bucket).map_err(db_err)?;
    match found {
        Some(g) => Ok(BucketRules::of(&decode::<BucketRecord>(g.value())?)),
        None => Err(StorageError::NoSuchBucket),
    }
}

/// One key inside a transaction, for the shared rules in `versions.rs`
/// (read-only tables and `refs: ()` for lookups).
struct RedbKey<'k, O, V, R> {
    objects: O,
    versions: V,
    refs: R,
    bucket: &'k str,
    key: &'k str,
}

/// The write tables of one key, as the shared version rules see them.
type RedbKeyTxn<'t, 'k> = RedbKey<
    'k,
    redb::Table<'t, (&'static str, &'static str), &'static [u8]>,
    redb::Table<'t, (&'static str, &'static str, u64), &'static [u8]>,
    redb::Table<'t, &'static str, u64>,
>;

impl<'t, 'k> RedbKeyTxn<'t, 'k> {
    /// Opens the objects, versions and blob-reference tables for `bucket`/`key`.
    fn open(
        txn: &'t WriteTransaction,
        bucket: &'k str,
        key: &'k str,
    ) -> Result<Self, StorageError> {
        Ok(RedbKey {
            objects: txn.open_table(OBJECTS).map_err(db_err)?,
            versions: txn.open_table(VERSIONS).map_err(db_err)?,
            refs: txn.open_table(BLOB_REFS).map_err(db_err)?,
            bucket,
            key,
        })
    }
}

impl<O, V, R> KeyView for RedbKey<'_, O, V, R>
where
    O: ReadableTable<(&'static str, &'static str), &'static [u8]>,
    V: ReadableTable<(&'static str, &'static str, u64), &'static [u8]>,
{
    fn current(&self) -> Result<Option<ObjectRecord>, StorageError> {
        let found = self.objects.get((self.bucket, self.key)).map_err(db_err)?;
        found.map(|g| decode(g.value())).transpose()
    }
    fn newest(&self) -> Result<Option<(Seq, ObjectRecord)>, StorageError> {
        let mut range = self
            .versions
            .range((self.bucket, self.key, 0)..=(self.bucket, self.key, Seq::MAX))
            .map_err(db_err)?;
        match range.next() {
            Some(entry) => {
                let (k, v) = entry.map_err(db_err)?;
                Ok(Some((k.value().2, decode(v.value())?)))
            }
            None => Ok(None),
        }
    }
    fn version(&self, seq: Seq) -> Result<Option<ObjectRecord>, StorageError> {
        let found = self
            .versions
            .get((self.bucket, self.key, seq))
            .map_err(db_err)?;
        found.map(|g| decode(g.value())).transpose()
    }
    fn find_null(&self) -> Result<Option<(Seq, ObjectRecord)>, StorageError> {
        let range = self
            .versions
            .range((self.bucket, self.key, 0)..=(self.bucket, self.key, Seq::MAX))
            .map_err(db_err)?;
        for entry in range {
            let (k, v) = entry.map_err(db_err)?;
            let rec: ObjectRecord = decode(v.value())?;
            if rec.version_id.as_deref() == Some(NULL_VERSION) {
                return Ok(Some((k.value().2, rec)));
            }
        }
        Ok(None)
    }
}

impl KeyTxn
    for RedbKey<
        '_,
        redb::Table<'_, (&'static str, &'static str), &'static [u8]>,
        redb::Table<'_, (&'static str, &'static str, u64), &'static [u8]>,
        redb::Table<'_, &'static str, u64>,
    >
{
    fn set_current(&mut self, rec: Option<&ObjectRecord>) -> Result<(), StorageError> {
        match rec {
            Some(rec) => {
                let value = encode(rec)?;
                self.objects
                    .insert((self.bucket, self.key), value.as_slice())
                    .map_err(db_err)?;
            }
            None => {
                self.objects
                    .remove((self.bucket, self.key))
                    .map_err(db_err)?;
            }
        }
        Ok(())
    }
    fn insert_version(&mut self, seq: Seq, rec: &ObjectRecord) -> Result<(), StorageError> {
        let value = encode(rec)?;
        self.versions
            .insert((self.bucket, self.key, seq), value.as_slice())
            .map_err(db_err)?;
        Ok(())
    }
    fn remove_version(&mut self, seq: Seq) -> Result<(), StorageError> {
        self.versions
            .remove((self.bucket, self.key, seq))
            .map_err(db_err)?;
        Ok(())
    }
    fn take_refs(&mut self, rec: &ObjectRecord, fresh: &[BlobId]) -> Result<(), StorageError> {
        // A reused blob must still be alive; an error aborts the transaction.
        for id in rec.blob_ids() {
            let n = self
                .refs
                .get(id.as_str())
                .map_err(db_err)?
                .map(|g| g.value())
                .unwrap_or(0);
            if n == 0 && !fresh.contains(id) {
                return Err(StorageError::Conflict);
            }
            self.refs.insert(id.as_str(), n + 1).map_err(db_err)?;
        }
        Ok(())
    }
    fn release(&mut self, rec: &ObjectRecord) -> Result<Vec<BlobId>, StorageError> {
        release(&mut self.refs, rec)
    }
}
