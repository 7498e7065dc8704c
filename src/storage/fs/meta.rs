//! `RedbMeta`: the embedded index, one redb database file (`meta.redb`).
//!
//! Tables:
//! - `buckets`:   name → JSON `BucketRecord`
//! - `objects`:   (bucket, key) → JSON `ObjectRecord`; redb orders tuple keys
//!   element by element and `&str` bytewise, so a bucket's keys are one
//!   contiguous range in UTF-8 byte order (`a` and `a/b` coexist) and a
//!   listing is one range scan.
//! - `blob_refs`: blob id → number of records referencing it (absent = 0).
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

use crate::storage::{
    BlobId, BucketRecord, BucketUpdate, MetaStore, ObjectRecord, StorageError, WriteCondition,
};

const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
const OBJECTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("objects");
const BLOB_REFS: TableDefinition<&str, u64> = TableDefinition::new("blob_refs");

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
}

/// Maps any redb error onto `StorageError` (corruption stays recognisable).
fn db_err(e: impl Into<redb::Error>) -> StorageError {
    match e.into() {
        redb::Error::Io(io) => StorageError::Io(io),
        redb::Error::Corrupted(msg) => StorageError::Corrupt(msg),
        other => StorageError::Io(std::io::Error::other(other)),
    }
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt(e.to_string()))
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
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
        let meta = RedbMeta { db: Arc::new(db) };
        if !meta.tables_exist()? {
            // Opening a table in a write transaction creates it.
            meta.write(|txn| {
                txn.open_table(BUCKETS).map_err(db_err)?;
                txn.open_table(OBJECTS).map_err(db_err)?;
                txn.open_table(BLOB_REFS).map_err(db_err)?;
                Ok(())
            })
            .await?;
        }
        Ok(meta)
    }

    /// Checked with a read transaction so that opening an existing database
    /// costs no write (and no fsync).
    fn tables_exist(&self) -> Result<bool, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        Ok(txn.open_table(BUCKETS).is_ok()
            && txn.open_table(OBJECTS).is_ok()
            && txn.open_table(BLOB_REFS).is_ok())
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
        self.write(move |txn| {
            let mut buckets = txn.open_table(BUCKETS).map_err(db_err)?;
            if buckets.get(rec.name.as_str()).map_err(db_err)?.is_some() {
                return Err(StorageError::BucketExists);
            }
            buckets
                .insert(rec.name.as_str(), value.as_slice())
                .map_err(db_err)?;
            Ok(())
        })
        .await
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
        self.write(move |txn| {
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
            buckets.remove(name.as_str()).map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let objects = txn.open_table(OBJECTS).map_err(db_err)?;
        if let Some(found) = objects.get((bucket, key)).map_err(db_err)? {
            // An object implies its bucket (delete_bucket refuses non-empty
            // buckets), so the hot path opens one table, not two.
            return decode(found.value()).map(Some);
        }
        let buckets = txn.open_table(BUCKETS).map_err(db_err)?;
        if buckets.get(bucket).map_err(db_err)?.is_none() {
            return Err(StorageError::NoSuchBucket);
        }
        Ok(None)
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        rec: ObjectRecord,
        fresh: &[BlobId],
        cond: WriteCondition,
    ) -> Result<Vec<BlobId>, StorageError> {
        let (bucket, key, fresh) = (bucket.to_string(), key.to_string(), fresh.to_vec());
        let value = encode(&rec)?;
        self.write(move |txn| {
            require_bucket(txn, &bucket)?;
            let mut objects = txn.open_table(OBJECTS).map_err(db_err)?;
            let old: Option<ObjectRecord> = {
                let found = objects
                    .get((bucket.as_str(), key.as_str()))
                    .map_err(db_err)?;
                found.map(|g| decode(g.value())).transpose()?
            };
            cond.check(old.as_ref())?;
            let mut refs = txn.open_table(BLOB_REFS).map_err(db_err)?;
            // Take the new references first so a blob shared by the old and
            // the new record (copy onto itself) never drops to zero. A reused
            // blob must still be alive; an error here aborts the transaction.
            for id in rec.blob_ids() {
                let n = refs
                    .get(id.as_str())
                    .map_err(db_err)?
                    .map(|g| g.value())
                    .unwrap_or(0);
                if n == 0 && !fresh.contains(id) {
                    return Err(StorageError::Conflict);
                }
                refs.insert(id.as_str(), n + 1).map_err(db_err)?;
            }
            let freed = match &old {
                Some(old) => release(&mut refs, old)?,
                None => Vec::new(),
            };
            objects
                .insert((bucket.as_str(), key.as_str()), value.as_slice())
                .map_err(db_err)?;
            Ok(freed)
        })
        .await
    }

    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(ObjectRecord, Vec<BlobId>)>, StorageError> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.write(move |txn| {
            require_bucket(txn, &bucket)?;
            let mut objects = txn.open_table(OBJECTS).map_err(db_err)?;
            let old: Option<ObjectRecord> = {
                let removed = objects
                    .remove((bucket.as_str(), key.as_str()))
                    .map_err(db_err)?;
                removed.map(|g| decode(g.value())).transpose()?
            };
            match old {
                Some(old) => {
                    let mut refs = txn.open_table(BLOB_REFS).map_err(db_err)?;
                    let freed = release(&mut refs, &old)?;
                    Ok(Some((old, freed)))
                }
                None => Ok(None),
            }
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
        let buckets = txn.open_table(BUCKETS).map_err(db_err)?;
        if buckets.get(bucket).map_err(db_err)?.is_none() {
            return Err(StorageError::NoSuchBucket);
        }
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
        if new.segments != expected.segments {
            return Err(StorageError::Corrupt(
                "a metadata update must keep the segments".into(),
            ));
        }
        let (bucket, key, expected) = (bucket.to_string(), key.to_string(), expected.clone());
        let value = encode(&new)?;
        self.write(move |txn| {
            require_bucket(txn, &bucket)?;
            let mut objects = txn.open_table(OBJECTS).map_err(db_err)?;
            let current: Option<ObjectRecord> = {
                let found = objects
                    .get((bucket.as_str(), key.as_str()))
                    .map_err(db_err)?;
                found.map(|g| decode(g.value())).transpose()?
            };
            if current.as_ref() != Some(&expected) {
                return Err(StorageError::PreconditionFailed);
            }
            objects
                .insert((bucket.as_str(), key.as_str()), value.as_slice())
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn update_bucket(
        &self,
        name: &str,
        update: BucketUpdate,
    ) -> Result<BucketRecord, StorageError> {
        let name = name.to_string();
        self.write(move |txn| {
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
        .await
    }
}

/// `NoSuchBucket` unless `bucket` exists, inside a write transaction.
fn require_bucket(txn: &WriteTransaction, bucket: &str) -> Result<(), StorageError> {
    let buckets = txn.open_table(BUCKETS).map_err(db_err)?;
    if buckets.get(bucket).map_err(db_err)?.is_none() {
        return Err(StorageError::NoSuchBucket);
    }
    Ok(())
}
