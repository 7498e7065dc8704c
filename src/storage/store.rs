//! `Store`: the rules every deployment shares, written once over a
//! `MetaStore` and a `BlobStore` (hashing, write conditions, manifests,
//! freeing replaced blobs). The operations in `op/` call only this.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;

use super::hash::md5_hex;
use super::sse::{KeyBytes, KeyError, KeyProvider, Sealing, SseKeys};
use super::*;

/// How often `open_object` / `copy_object` retry when a racing overwrite or
/// delete freed a blob between the index lookup and the use of the blob.
const RACE_RETRIES: usize = 8;

/// Largest batch `list_objects` asks the index for at once.
const LIST_BATCH: usize = 1000;

/// First batch size when a delimiter is set: a batch that hits a common
/// prefix is cut there (the rest lies under it, fetched and decoded for
/// nothing), so batches start small and double while no prefix shows up.
const LIST_BATCH_DELIMITED: usize = 16;

/// Options for [`Store::put_object`].
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    pub headers: ObjectHeaders,
    /// Empty means `STANDARD`.
    pub storage_class: String,
    /// Expected MD5 (from `Content-MD5`); mismatch → `BadDigest`, nothing stored.
    pub content_md5: Option<[u8; 16]>,
    /// `Content-Length` when given: fewer bytes → `IncompleteBody`; extra bytes are ignored.
    pub content_length: Option<u64>,
    /// Largest body accepted → `TooLarge` beyond it. `0` means no limit (so
    /// that `PutOptions::default()` does not refuse every non-empty body).
    pub max_size: u64,
    pub condition: WriteCondition,
    /// Encrypt at rest with this data key and record its `SseInfo` (SSE).
    pub sse: Option<Sealing>,
    /// Filled by the body pipeline with the verified flexible checksum; read
    /// when the record is built, after the body ended.
    pub checksum: crate::http::checksum::ChecksumSlot,
    /// From `x-cos-acl` / `x-cos-grant-*`; `None` stores no ACL (`default`).
    pub acl: Option<crate::acl::Acl>,
    /// From `x-cos-tagging`, validated; empty stores no tags.
    pub tags: Vec<(String, String)>,
    /// `PUT ?symlink`: the record is a symlink to this key (its body is the key).
    pub symlink_target: Option<String>,
}

/// GET Bucket (list v1) input.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub prefix: String,
    /// Empty means no delimiter.
    pub delimiter: String,
    pub marker: String,
    pub max_keys: usize,
}

/// One page of a listing. Common prefixes and objects together count against `max_keys`.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub objects: Vec<(String, ObjectRecord)>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// Last key or common prefix of this page when truncated.
    pub next_marker: Option<String>,
}

/// An object's record together with its opened blobs: what the record says is
/// what `stream` returns, even if the key is overwritten meanwhile.
pub struct ObjectReader {
    pub record: ObjectRecord,
    /// One opened blob per segment of `record`, in the same order; segments
    /// of the same blob share one reader (one open file).
    blobs: Vec<Arc<dyn BlobReader>>,
    /// Where each segment starts in the object (for range seeks).
    starts: Vec<u64>,
    /// How to turn the blobs' bytes into the object's bytes.
    sse: ReadSse,
}

/// The decryption state of an [`ObjectReader`].
enum ReadSse {
    /// The blobs hold the object's bytes.
    Plain,
    /// The blobs are sealed with this data key.
    Open { dek: KeyBytes, chunk_size: u32 },
    /// Sealed, and the data key is not available (yet): an SSE-C object
    /// before `unlock_customer_key`, or a managed key that is missing.
    Locked(KeyError),
}

impl ReadSse {
    fn for_record(record: &ObjectRecord, keys: &dyn KeyProvider) -> ReadSse {
        match &record.sse {
            None => ReadSse::Plain,
            Some(info) => match sse::managed_dek(keys, info) {
                Ok(dek) => ReadSse::Open {
                    dek,
                    chunk_size: info.chunk_size,
                },
                Err(e) => ReadSse::Locked(e),
            },
        }
    }
}

impl ObjectReader {
    /// The object's size (`record.size`).
    pub fn len(&self) -> u64 {
        self.record.size
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Maps `range` (clamped to `0..len`) onto the segments: which blob, and
    /// which bytes of it, in order.
    fn pieces(&self, range: Range<u64>) -> Vec<(usize, Range<u64>)> {
        let end = range.end.min(self.record.size);
        let start = range.start.min(end);
        let mut pieces = Vec::new();
        if start == end {
            return pieces;
        }
        // Seek straight to the segment holding `start` (multipart objects
        // have up to 10,000 segments): binary search over their starts.
        let first = self
            .starts
            .partition_point(|&s| s <= start)
            .saturating_sub(1);
        for (i, seg) in self.record.segments.iter().enumerate().skip(first) {
            let seg_start = self.starts[i];
            let seg_end = seg_start + seg.len;
            if seg_start >= end {
                break;
            }
            if seg_end > start {
                let from = start.max(seg_start) - seg_start + seg.offset;
                let to = end.min(seg_end) - seg_start + seg.offset;
                pieces.push((i, from..to));
            }
        }
        pieces
    }

    /// Whether the object's bytes can be read: `Err` for a sealed object
    /// whose data key is not available (SSE-C without the key, a managed
    /// key that is missing or disabled).
    pub fn sse_ready(&self) -> Result<(), KeyError> {
        match &self.sse {
            ReadSse::Locked(e) => Err(e.clone()),
            _ => Ok(()),
        }
    }

    /// Unwraps an SSE-C object's data key with the customer's key. A no-op
    /// for other objects.
    /// # Behavior
    /// - `KeyError::WrongKey` if `key` did not seal this object (the reader
    ///   stays locked).
    pub fn unlock_customer_key(&mut self, key: &KeyBytes) -> Result<(), KeyError> {
        if let Some(info) = self
            .record
            .sse
            .as_ref()
            .filter(|i| i.kind == sse::SseKind::Customer)
        {
            let dek = sse::unwrap_dek(info, key)?;
            self.sse = ReadSse::Open {
                dek,
                chunk_size: info.chunk_size,
            };
        }
        Ok(())
    }

    /// Reads one piece from `pieces`: the blob's bytes, or decrypted ones.
    fn read_piece(&self, i: usize, r: Range<u64>) -> ByteStream {
        match &self.sse {
            ReadSse::Plain => self.blobs[i].read(r),
            ReadSse::Open { dek, chunk_size } => sse::chunked::decrypt_range(
                self.blobs[i].clone(),
                &self.record.segments[i].blob,
                dek,
                *chunk_size,
                r,
            ),
            ReadSse::Locked(e) => {
                let e = StorageError::Corrupt(format!("encrypted object not readable: {e}"));
                Box::pin(futures_util::stream::once(async move { Err(e) }))
            }
        }
    }

    /// Whether every blob of the object is a local file (the embedded or a
    /// shared-directory store); `false` for remote (S3) and memory blobs.
    pub fn is_local(&self) -> bool {
        self.blobs.iter().all(|b| b.local_file().is_some())
    }

    /// The local file regions behind bytes `range`, in order, when every
    /// blob involved is a local file (for zero-copy sends); else `None`.
    /// Always `None` for encrypted objects (they go through decryption).
    pub fn file_regions(&self, range: Range<u64>) -> Option<Vec<(Arc<std::fs::File>, Range<u64>)>> {
        if self.record.sse.is_some() {
            return None;
        }
        self.pieces(range)
            .into_iter()
            .map(|(i, r)| self.blobs[i].local_file().map(|f| (f, r)))
            .collect()
    }

    /// Streams bytes `range` of the object (clamped to `0..len`). The range is
    /// mapped onto the segments and each touched blob is read only over the
    /// overlapping part; the next blob's read starts when the previous one
    /// ends, so memory stays bounded by one blob reader's read-ahead.
    pub fn stream(self, range: Range<u64>) -> ByteStream {
        let mut pieces = self.pieces(range);
        // The common case, one blob: its stream as it is, with no wrapper.
        if pieces.len() == 1 {
            if let Some((i, r)) = pieces.pop() {
                return self.read_piece(i, r);
            }
        }
        let reads: Vec<ByteStream> = pieces
            .into_iter()
            .map(|(i, r)| self.read_piece(i, r))
            .collect();
        Box::pin(futures_util::stream::iter(reads).flatten())
    }
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// The storage facade. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(super) meta: Arc<dyn MetaStore>,
    pub(super) blobs: Arc<dyn BlobStore>,
    /// SSE key material (`with_sse_keys`; a random master key by default).
    keys: Arc<dyn KeyProvider>,
    /// When freed blobs go, and this node's lease name (`storage::gc`).
    pub(super) gc: Arc<super::gc::GcSettings>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    pub fn new(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>) -> Self {
        Store {
            meta,
            blobs,
            keys: Arc::new(SseKeys::ephemeral()),
            gc: Default::default(),
        }
    }

    /// Uses `keys` for SSE-COS / SSE-KMS (wrapping and unwrapping data keys).
    pub fn with_sse_keys(mut self, keys: Arc<dyn KeyProvider>) -> Self {
        self.keys = keys;
        self
    }

    pub fn sse_keys(&self) -> &dyn KeyProvider {
        &*self.keys
    }

    /// A new blob's writer; an encrypting one when `sse` is given.
    pub(super) async fn create_blob(
        &self,
        id: &BlobId,
        sse: Option<&Sealing>,
    ) -> Result<Box<dyn BlobWriter>, StorageError> {
        let inner = self.blobs.create(id).await?;
        Ok(match sse {
            Some(s) => Box::new(sse::EncryptingWriter::new(
                inner,
                id,
                &s.dek,
                s.info.chunk_size,
            )),
            None => inner,
        })
    }

    /// A store that lives in memory only (tests, `--ephemeral`).
    pub fn memory() -> Self {
        Store::new(
            Arc::new(memory::MemoryMeta::new()),
            Arc::new(memory::MemoryBlobs::new()),
        )
    }

    /// Opens (creating if needed) the embedded store in `data_dir`: the
    /// index `meta.redb`, blob files under `blobs/`, partial writes under
    /// `tmp/`. Leftovers in `tmp/` are removed before returning; orphan blobs
    /// (a crash between a blob's rename and its index commit) are swept by a
    /// background task so that start-up stays fast.
    pub async fn open_fs(data_dir: &Path) -> Result<Store, StorageError> {
        fs::open(data_dir).await
    }

    pub fn meta(&self) -> &Arc<dyn MetaStore> {
        &self.meta
    }

    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    pub async fn create_bucket(&self, rec: BucketRecord) -> Result<(), StorageError> {
        self.meta.create_bucket(rec).await
    }

    pub async fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StorageError> {
        self.meta.bucket(name).await
    }

    pub async fn list_buckets(&self) -> Result<Vec<BucketRecord>, StorageError> {
        self.meta.list_buckets().await
    }

    pub async fn delete_bucket(&self, name: &str) -> Result<(), StorageError> {
        self.meta.delete_bucket(name).await
    }

    /// Sets a bucket's ACL. # Behavior: `NoSuchBucket`.
    pub async fn set_bucket_acl(
        &self,
        name: &str,
        acl: crate::acl::Acl,
    ) -> Result<BucketRecord, StorageError> {
        self.meta
            .update_bucket(name, Box::new(move |rec| rec.acl = Some(acl)))
            .await
    }

    /// Sets the ACL of `key`'s current record (or of the version named);
    /// bytes, headers and time stay, and no new version is written.
    /// # Behavior
    /// - `NoSuchBucket` / `NoSuchKey` / `NoSuchVersion` / `DeleteMarker`.
    /// - A metadata-only update of exactly the record read
    ///   (`MetaStore::update_object_meta`): a racing overwrite makes it retry
    ///   on the new record, a racing delete makes it `NoSuchKey`.
    pub async fn set_object_acl(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        acl: crate::acl::Acl,
    ) -> Result<ObjectRecord, StorageError> {
        for _ in 0..RACE_RETRIES {
            let current = self.head_version(bucket, key, version_id).await?;
            let rec = ObjectRecord {
                acl: Some(acl.clone()),
                ..current.clone()
            };
            match self
                .meta
                .update_object_meta(bucket, key, &current, rec.clone())
                .await
            {
                Ok(()) => return Ok(rec),
                Err(StorageError::PreconditionFailed) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StorageError::Conflict)
    }

    /// Replaces the tag set of `key`'s current record (or of the version
    /// named); like [`Store::set_object_acl`], a metadata-only update of
    /// exactly the record read: bytes, headers, time and version stay.
    /// # Behavior
    /// - `NoSuchBucket` / `NoSuchKey` / `NoSuchVersion` / `DeleteMarker`.
    pub async fn set_object_tags(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: Vec<(String, String)>,
    ) -> Result<ObjectRecord, StorageError> {
        self.update_version(bucket, key, version_id, |current| {
            Ok::<_, StorageError>(ObjectRecord {
                tags: tags.clone(),
                ..current.clone()
            })
        })
        .await
    }

    /// Streams `body` into a new blob (hashing MD5 + CRC-64/XZ while
    /// streaming, never buffering the whole body), verifies `content_md5`
    /// (`BadDigest`) / `content_length` (`IncompleteBody`; bytes beyond it are
    /// ignored) / `max_size` (`TooLarge`), then commits the record in ONE
    /// `MetaStore::put_object` with `opts.condition`.
    /// # Behavior
    /// - `NoSuchBucket`, and a failing condition, are reported before the body
    ///   is read (the early condition check is not binding; the commit's is).
    /// - On any failure nothing is visible and the new blob is deleted.
    /// - An empty body stores no blob (a record with no segments).
    /// - Blobs the overwritten record no longer needs are deleted after the commit.
    /// - If the caller is cancelled after the body was read, the commit and the
    ///   clean-up still run to completion on a spawned task.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        opts: PutOptions,
    ) -> Result<ObjectRecord, StorageError> {
        // Step 1: refuse a doomed upload before reading its body.
        if opts.condition == WriteCondition::None {
            let rec = self
                .meta
                .bucket(bucket)
                .await?
                .ok_or(StorageError::NoSuchBucket)?;
            // Object lock: an overwrite of a retained version is refused
            // before its body is read (the transaction decides for good).
            if rec.versioning != Versioning::Enabled && lock::ObjectLockConfig::of(&rec).is_some() {
                let current = self.meta.object(bucket, key).await?;
                let replaced =
                    current.filter(|r| r.version_id.as_deref().is_none_or(|v| v == NULL_VERSION));
                lock::check_removable(replaced.as_ref(), crate::clock::now_ms())?;
            }
        } else {
            let current = self.meta.object(bucket, key).await?;
            opts.condition.check(current.as_ref())?;
        }
        let max = if opts.max_size == 0 {
            u64::MAX
        } else {
            opts.max_size
        };
        if opts.content_length.is_some_and(|n| n > max) {
            return Err(StorageError::TooLarge);
        }

        // Step 2: stream the body into a new blob (created on the first
        // non-empty chunk). Returning early drops the writer, which discards it.
        let id = BlobId::generate();
        let writer = self
            .write_body(
                &id,
                body,
                opts.content_length,
                max,
                opts.sse.as_ref(),
                false,
            )
            .await?;

        // Steps 3-4 run on their own task so that a cancelled request can
        // neither leave a finished blob unreferenced nor stop half-way.
        let store = self.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let task =
            tokio::spawn(async move { store.commit_put(&bucket, &key, id, writer, opts).await });
        task.await
            .map_err(|e| StorageError::Io(std::io::Error::other(e)))?
    }

    /// Streams `body` into the new blob `id` (sealed with `sse`), reading at
    /// most `content_length` bytes when given. The blob is created on the
    /// first non-empty chunk, or up front when `always` (a part needs a blob
    /// even when empty); `None` means an empty body and no blob.
    /// # Behavior
    /// - More than `max` bytes → `TooLarge`; fewer than `content_length` →
    ///   `IncompleteBody`; a client stream error as it is. On any error the
    ///   writer is dropped, which discards the blob.
    pub(super) async fn write_body(
        &self,
        id: &BlobId,
        mut body: ByteStream,
        content_length: Option<u64>,
        max: u64,
        sse: Option<&Sealing>,
        always: bool,
    ) -> Result<Option<Box<dyn BlobWriter>>, StorageError> {
        let limit = content_length.unwrap_or(u64::MAX);
        let mut writer: Option<Box<dyn BlobWriter>> = None;
        if always {
            writer = Some(self.create_blob(id, sse).await?);
        }
        let mut received = 0u64;
        while received < limit {
            let Some(chunk) = body.next().await else {
                break;
            };
            let mut chunk = chunk?;
            let room = limit - received;
            if chunk.len() as u64 > room {
                chunk.truncate(room as usize);
            }
            if chunk.is_empty() {
                continue;
            }
            received += chunk.len() as u64;
            if received > max {
                return Err(StorageError::TooLarge);
            }
            if writer.is_none() {
                writer = Some(self.create_blob(id, sse).await?);
            }
            if let Some(w) = writer.as_mut() {
                w.write(chunk).await?;
            }
        }
        if content_length.is_some_and(|n| received < n) {
            return Err(StorageError::IncompleteBody);
        }
        Ok(writer)
    }

    /// Makes a written blob durable (`None`: an empty body, no blob) and
    /// reports its length and hashes; on failure the blob is deleted, as the
    /// failure may come after the rename (the directory fsync).
    pub(super) async fn finish_blob(
        &self,
        id: &BlobId,
        writer: Option<Box<dyn BlobWriter>>,
    ) -> Result<BlobInfo, StorageError> {
        match writer {
            Some(w) => match w.finish().await {
                Ok(info) => Ok(info),
                Err(e) => {
                    self.free(std::slice::from_ref(id)).await;
                    Err(e)
                }
            },
            None => Ok(hash::BodyHasher::new().finish()),
        }
    }

    async fn commit_put(
        &self,
        bucket: &str,
        key: &str,
        id: BlobId,
        writer: Option<Box<dyn BlobWriter>>,
        opts: PutOptions,
    ) -> Result<ObjectRecord, StorageError> {
        // Step 3: make the blob durable and check its digest.
        let info = self.finish_blob(&id, writer).await?;
        let fresh: Vec<BlobId> = if info.len > 0 {
            vec![id.clone()]
        } else {
            Vec::new()
        };
        if opts.content_md5.is_some_and(|md5| md5 != info.md5) {
            self.free(&fresh).await;
            return Err(StorageError::BadDigest);
        }
        let mut rec = ObjectRecord {
            size: info.len,
            etag: md5_hex(&info.md5),
            crc64: info.crc64,
            last_modified_ms: now_ms(),
            headers: opts.headers,
            storage_class: if opts.storage_class.is_empty() {
                "STANDARD".to_string()
            } else {
                opts.storage_class
            },
            segments: fresh
                .iter()
                .map(|b| Segment {
                    blob: b.clone(),
                    offset: 0,
                    len: info.len,
                })
                .collect(),
            restore: None,
            sse: opts.sse.map(|s| s.info),
            checksum: opts.checksum.get(),
            version_id: None,
            delete_marker: false,
            acl: opts.acl,
            tags: opts.tags,
            appendable: false,
            retain_until_ms: None,
            symlink_target: opts.symlink_target,
            replication_status: None,
            corrupt: None,
        };
        // Step 4: one transaction makes it visible (or nothing does).
        match self
            .meta
            .put_object(bucket, key, rec.clone(), &fresh, opts.condition)
            .await
        {
            Ok(committed) => {
                self.free(&committed.freed).await;
                rec.version_id = committed.version_id;
                rec.retain_until_ms = committed.retain_until_ms;
                Ok(rec)
            }
            Err(e) => {
                self.free(&fresh).await;
                Err(e)
            }
        }
    }

    /// The current record of `key`: one index lookup when it exists.
    /// # Behavior
    /// - `NoSuchBucket` / `NoSuchKey`; `DeleteMarker` when the latest
    ///   version is a delete marker.
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<ObjectRecord, StorageError> {
        match self.meta.object(bucket, key).await? {
            Some(rec) => Ok(rec),
            None => Err(self.why_missing(bucket, key).await),
        }
    }

    /// Why `key` has no current record: a delete marker on top, or nothing.
    async fn why_missing(&self, bucket: &str, key: &str) -> StorageError {
        match self.meta.object_version(bucket, key, None).await {
            Ok(Some(marker)) if marker.delete_marker => StorageError::DeleteMarker {
                version_id: marker.version_id.unwrap_or_default(),
            },
            Ok(_) => StorageError::NoSuchKey,
            Err(e) => e,
        }
    }

    /// The record of one version of `key` (`None`: the current one, as
    /// [`Store::head_object`]).
    /// # Behavior
    /// - `NoSuchBucket`; `DeleteMarker` when the version named (or the
    ///   latest) is a delete marker.
    /// - A version that does not exist: `NoSuchVersion`, except `null`,
    ///   which is the plain object of never-versioned buckets: `NoSuchKey`.
    pub async fn head_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectRecord, StorageError> {
        let Some(id) = version_id else {
            return self.head_object(bucket, key).await;
        };
        match self.meta.object_version(bucket, key, Some(id)).await? {
            Some(rec) if rec.delete_marker => Err(StorageError::DeleteMarker {
                version_id: rec.version_id.unwrap_or_default(),
            }),
            Some(rec) => Ok(rec),
            None if id == NULL_VERSION => Err(StorageError::NoSuchKey),
            None => Err(StorageError::NoSuchVersion),
        }
    }

    /// Sets the bucket's versioning state.
    /// # Behavior
    /// - `NoSuchBucket`.
    pub async fn set_versioning(
        &self,
        bucket: &str,
        state: Versioning,
    ) -> Result<(), StorageError> {
        self.meta
            .update_bucket(bucket, Box::new(move |rec| rec.versioning = state))
            .await
            .map(|_| ())
    }

    /// Looks the record up and opens all its blobs.
    /// # Behavior
    /// - `NoSuchBucket` / `NoSuchKey`.
    /// - If a blob vanished between the lookup and the open (a racing
    ///   overwrite freed it), looks up again, a bounded number of times; a blob
    ///   still missing after that is reported as `Corrupt`.
    pub async fn open_object(&self, bucket: &str, key: &str) -> Result<ObjectReader, StorageError> {
        self.open_version(bucket, key, None).await
    }

    /// [`Store::open_object`] for one version (errors as [`Store::head_version`]).
    pub async fn open_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectReader, StorageError> {
        let mut missing = None;
        'lookup: for _ in 0..RACE_RETRIES {
            let record = self.head_version(bucket, key, version_id).await?;
            // Never the bytes of an object scrub or fsck found damaged.
            scrub::refuse_corrupt(&record)?;
            let mut blobs: Vec<Arc<dyn BlobReader>> = Vec::with_capacity(record.segments.len());
            let mut opened: HashMap<&BlobId, usize> = HashMap::new();
            for seg in &record.segments {
                if let Some(&j) = opened.get(&seg.blob) {
                    blobs.push(blobs[j].clone());
                    continue;
                }
                match self.blobs.open(&seg.blob).await {
                    Ok(b) => {
                        opened.insert(&seg.blob, blobs.len());
                        blobs.push(Arc::from(b));
                    }
                    Err(StorageError::NoSuchKey) => {
                        missing = Some(seg.blob.clone());
                        continue 'lookup;
                    }
                    Err(e) => return Err(e),
                }
            }
            let sse = ReadSse::for_record(&record, &*self.keys);
            let starts = record
                .segments
                .iter()
                .scan(0u64, |at, seg| {
                    let start = *at;
                    *at += seg.len;
                    Some(start)
                })
                .collect();
            return Ok(ObjectReader {
                record,
                blobs,
                starts,
                sse,
            });
        }
        let blob = missing.as_ref().map(BlobId::as_str).unwrap_or_default();
        Err(StorageError::Corrupt(format!(
            "blob {blob} of {bucket}/{key} is missing"
        )))
    }

    /// Removes `key` ([`Store::delete_version`] without a version; on a
    /// versioned bucket that writes a delete marker and returns `None`).
    /// # Behavior
    /// - `NoSuchBucket`; `Ok(None)` when the key was absent.
    /// - Deletes the blobs no other record references after the commit.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectRecord>, StorageError> {
        Ok(self.delete_version(bucket, key, None).await?.removed)
    }

    /// Deletes `key` or one version of it (see `MetaStore::delete_object`:
    /// on a versioned bucket, no version named writes a delete marker).
    /// # Behavior
    /// - `NoSuchBucket`; an unknown version changes nothing (`removed` and
    ///   `marker` are `None`).
    /// - Deletes the blobs no other record references after the commit.
    pub async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Deletion, StorageError> {
        let mut done = self.meta.delete_object(bucket, key, version_id).await?;
        self.free(&std::mem::take(&mut done.freed)).await;
        Ok(done)
    }

    /// [`Store::delete_version`] only if `guard` still holds (checked in
    /// the delete's transaction): lifecycle's deletes, which act on records
    /// read earlier.
    /// # Behavior
    /// - `NoSuchBucket`; `PreconditionFailed` when the record changed.
    /// - Deletes the blobs no other record references after the commit.
    pub async fn delete_guarded(
        &self,
        bucket: &str,
        key: &str,
        guard: crate::storage::DeleteGuard,
    ) -> Result<Deletion, StorageError> {
        let mut done = self.meta.delete_object_guarded(bucket, key, guard).await?;
        self.free(&std::mem::take(&mut done.freed)).await;
        Ok(done)
    }

    /// Copies without moving bytes: `build(&src)` makes the destination record
    /// (headers, storage class, last_modified may change; segments are kept)
    /// and it is committed with `cond`, referencing the source's blobs.
    /// # Behavior
    /// - Source missing → `NoSuchKey` (`NoSuchBucket` for a missing source
    ///   bucket); missing destination bucket → `NoSuchBucket`.
    /// - If a racing delete freed the source's blobs (`Conflict`), the source
    ///   is read again (a few times); if it is now absent → `NoSuchKey`.
    /// - Errors from `build` are returned as they are.
    pub async fn copy_object<E: From<StorageError> + Send>(
        &self,
        src_bucket: &str,
        src_key: &str,
        dst_bucket: &str,
        dst_key: &str,
        cond: WriteCondition,
        build: impl Fn(&ObjectRecord) -> Result<ObjectRecord, E> + Send + Sync,
    ) -> Result<ObjectRecord, E> {
        self.copy_version(src_bucket, src_key, None, dst_bucket, dst_key, cond, build)
            .await
    }

    /// [`Store::copy_object`] from one version of the source (errors as
    /// [`Store::head_version`]). `build` sees the source record, its
    /// `version_id` included; the returned record carries the destination's.
    #[allow(clippy::too_many_arguments)]
    pub async fn copy_version<E: From<StorageError> + Send>(
        &self,
        src_bucket: &str,
        src_key: &str,
        src_version: Option<&str>,
        dst_bucket: &str,
        dst_key: &str,
        cond: WriteCondition,
        build: impl Fn(&ObjectRecord) -> Result<ObjectRecord, E> + Send + Sync,
    ) -> Result<ObjectRecord, E> {
        for _ in 0..RACE_RETRIES {
            let src = self.head_version(src_bucket, src_key, src_version).await?;
            // A copy would share the damaged blobs without the mark.
            scrub::refuse_corrupt(&src)?;
            let mut dst = build(&src)?;
            match self
                .meta
                .put_object(dst_bucket, dst_key, dst.clone(), &[], cond.clone())
                .await
            {
                Ok(committed) => {
                    self.free(&committed.freed).await;
                    dst.version_id = committed.version_id;
                    dst.retain_until_ms = committed.retain_until_ms;
                    dst.delete_marker = false;
                    return Ok(dst);
                }
                Err(StorageError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StorageError::Conflict.into())
    }

    /// Changes one version's metadata in place (no new version, same bytes,
    /// same Last-Modified unless `update` changes it): `update(&current)` makes
    /// the new record, committed with `MetaStore::update_object_meta` only if
    /// the record did not change meanwhile ([`Store::set_object_acl`] with a
    /// caller's rule; archive restores use it).
    /// # Behavior
    /// - Errors as [`Store::head_version`]; errors from `update` as they are.
    /// - A racing write to the same version: read again and retry (a few
    ///   times), so `update` always decides on the record it replaces.
    pub async fn update_version<E: From<StorageError> + Send>(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        update: impl Fn(&ObjectRecord) -> Result<ObjectRecord, E> + Send + Sync,
    ) -> Result<ObjectRecord, E> {
        for _ in 0..RACE_RETRIES {
            let current = self.head_version(bucket, key, version_id).await?;
            let next = update(&current)?;
            match self
                .meta
                .update_object_meta(bucket, key, &current, next.clone())
                .await
            {
                Ok(()) => return Ok(next),
                Err(StorageError::PreconditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StorageError::Conflict.into())
    }

    /// Copies by rewriting the bytes (a copy that changes the encryption):
    /// streams `src` (opened, and unlocked when SSE-C) into a new blob,
    /// sealed when `sse` is given, and commits `build(&src.record)` with the
    /// new blob's size, ETag, CRC-64, segments and SSE info, checking `cond`.
    /// # Behavior
    /// - Missing destination bucket → `NoSuchBucket` before any byte moves.
    /// - A source that cannot be read (a locked or corrupt encrypted object)
    ///   → its error; nothing is committed and the new blob is deleted.
    /// - Errors from `build` are returned as they are.
    /// - Once the source was read, the commit runs to completion on a
    ///   spawned task even if the caller is cancelled.
    pub async fn copy_object_rewrite<E: From<StorageError> + Send>(
        &self,
        src: ObjectReader,
        dst_bucket: &str,
        dst_key: &str,
        cond: WriteCondition,
        sse: Option<Sealing>,
        build: impl FnOnce(&ObjectRecord) -> Result<ObjectRecord, E>,
    ) -> Result<ObjectRecord, E> {
        self.meta
            .bucket(dst_bucket)
            .await?
            .ok_or(StorageError::NoSuchBucket)?;
        let rec = build(&src.record)?;
        if let Err(e) = src.sse_ready() {
            return Err(StorageError::Corrupt(format!("copy source not readable: {e}")).into());
        }
        let size = src.len();
        let mut body = src.stream(0..size);
        let id = BlobId::generate();
        let mut writer: Option<Box<dyn BlobWriter>> = None;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            if chunk.is_empty() {
                continue;
            }
            if writer.is_none() {
                writer = Some(self.create_blob(&id, sse.as_ref()).await?);
            }
            if let Some(w) = writer.as_mut() {
                w.write(chunk).await?;
            }
        }
        drop(body);
        let store = self.clone();
        let (bucket, key) = (dst_bucket.to_string(), dst_key.to_string());
        let task = tokio::spawn(async move {
            store
                .commit_rewrite(&bucket, &key, id, writer, rec, size, sse, cond)
                .await
        });
        Ok(task
            .await
            .map_err(|e| StorageError::Io(std::io::Error::other(e)))??)
    }

    #[allow(clippy::too_many_arguments)]
    async fn commit_rewrite(
        &self,
        bucket: &str,
        key: &str,
        id: BlobId,
        writer: Option<Box<dyn BlobWriter>>,
        mut rec: ObjectRecord,
        size: u64,
        sse: Option<Sealing>,
        cond: WriteCondition,
    ) -> Result<ObjectRecord, StorageError> {
        let info = self.finish_blob(&id, writer).await?;
        let fresh: Vec<BlobId> = if info.len > 0 { vec![id] } else { Vec::new() };
        if info.len != size {
            self.free(&fresh).await;
            return Err(StorageError::Corrupt(format!(
                "copy source yielded {} of {size} bytes",
                info.len
            )));
        }
        rec.size = info.len;
        rec.etag = md5_hex(&info.md5);
        rec.crc64 = info.crc64;
        rec.segments = fresh
            .iter()
            .map(|b| Segment {
                blob: b.clone(),
                offset: 0,
                len: info.len,
            })
            .collect();
        rec.sse = sse.map(|s| s.info);
        rec.delete_marker = false;
        match self
            .meta
            .put_object(bucket, key, rec.clone(), &fresh, cond)
            .await
        {
            Ok(committed) => {
                self.free(&committed.freed).await;
                rec.version_id = committed.version_id;
                rec.retain_until_ms = committed.retain_until_ms;
                Ok(rec)
            }
            Err(e) => {
                self.free(&fresh).await;
                Err(e)
            }
        }
    }

    /// GET Bucket (v1): keys with `prefix`, after `marker`, in UTF-8 byte order.
    /// # Behavior
    /// - `NoSuchBucket` if the bucket is absent.
    /// - With a non-empty `delimiter`, a key whose remainder after `prefix`
    ///   contains it rolls up into the common prefix `prefix + remainder up to
    ///   and including the first delimiter`, counted once against `max_keys`;
    ///   the keys under it are skipped with one seek, not scanned.
    /// - Every entry of a page sorts after `marker`: a marker equal to (or
    ///   inside) a common prefix resumes after everything under that prefix,
    ///   so `next_marker` pages never repeat a common prefix.
    /// - `is_truncated` when more entries follow; `next_marker` is then the
    ///   page's last key or common prefix. `max_keys == 0` → an empty page,
    ///   not truncated.
    pub async fn list_objects(
        &self,
        bucket: &str,
        q: &ListQuery,
    ) -> Result<ListPage, StorageError> {
        let mut page = ListPage::default();
        if q.max_keys == 0 {
            // Still report a missing bucket.
            self.meta
                .bucket(bucket)
                .await?
                .ok_or(StorageError::NoSuchBucket)?;
            return Ok(page);
        }
        let rollup = |key: &str| -> Option<String> {
            if q.delimiter.is_empty() {
                return None;
            }
            let rest = key.strip_prefix(q.prefix.as_str())?;
            let at = rest.find(q.delimiter.as_str())?;
            Some(key[..q.prefix.len() + at + q.delimiter.len()].to_string())
        };
        // A marker under a common prefix resumes past that prefix, which
        // then counts as already listed.
        let mut last_cp: Option<String> = rollup(&q.marker);
        let mut cursor = match &last_cp {
            Some(cp) => past_prefix(cp),
            None => q.marker.clone(),
        };
        let mut count = 0usize;
        // The page's last entry (key or common prefix): entries come in order.
        let mut last_entry = String::new();
        let mut batch_size = if q.delimiter.is_empty() {
            LIST_BATCH
        } else {
            LIST_BATCH_DELIMITED
        };
        loop {
            // One more than the page needs, to learn whether it is truncated.
            let want = (q.max_keys - count).saturating_add(1).min(batch_size);
            let batch = self
                .meta
                .list_objects(bucket, &q.prefix, &cursor, want)
                .await?;
            let exhausted = batch.len() < want;
            let mut reseek = false;
            for (key, rec) in batch {
                let cp = rollup(&key);
                // Only reachable for keys that sort after the seek target yet
                // still fall under the last common prefix (see `past_prefix`).
                if cp.is_some() && cp == last_cp {
                    cursor = key;
                    continue;
                }
                if count == q.max_keys {
                    page.is_truncated = true;
                    page.next_marker = Some(last_entry);
                    return Ok(page);
                }
                count += 1;
                match cp {
                    Some(cp) => {
                        cursor = past_prefix(&cp);
                        last_entry.clone_from(&cp);
                        page.common_prefixes.push(cp.clone());
                        last_cp = Some(cp);
                        reseek = true;
                        break;
                    }
                    None => {
                        cursor.clone_from(&key);
                        last_entry.clone_from(&key);
                        page.objects.push((key, rec));
                    }
                }
            }
            if exhausted && !reseek {
                return Ok(page);
            }
            batch_size = if reseek {
                LIST_BATCH_DELIMITED
            } else {
                (batch_size * 2).min(LIST_BATCH)
            };
        }
    }
}

/// A string that sorts after every key starting with `prefix` (for the seek
/// past a common prefix): `prefix` followed by the greatest code point. Only
/// keys continuing with U+10FFFF and more sort after it; `list_objects`
/// skips those one by one.
pub(super) fn past_prefix(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 4);
    s.push_str(prefix);
    s.push(char::MAX);
    s
}
