//! Storage: a transactional index over immutable blobs (../shared/design/storage.md).
//!
//! ```text
//! Store (shared rules: hashing, conditions, manifests, GC hand-off)
//!   ├── MetaStore  every method is ONE atomic transaction (redb | memory | later PostgreSQL)
//!   └── BlobStore  immutable blobs named by unique ids (files | memory | later shared dir / S3)
//! ```
//!
//! The operations in `op/` only talk to [`Store`]. Object bytes never change
//! under a blob id; an overwrite writes a new blob and flips the index entry in
//! one transaction, so a reader that opened the old blobs finishes with the
//! old bytes.

pub mod append;
pub mod blobspec;
pub mod fs;
pub mod gc;
pub mod hash;
pub mod keys;
pub mod lock;
pub mod memory;
pub mod multipart;
pub mod pg;
pub mod s3;
pub mod scrub;
pub mod secrets;
pub mod sse;
mod store;
mod uploads;
mod version_list;
pub mod versions;

use std::ops::Range;
use std::pin::Pin;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::Stream;
use serde::{Deserialize, Serialize};

pub use multipart::{PartRecord, UploadRecord};
pub use store::{ListPage, ListQuery, ObjectReader, PutOptions, Store};
pub use uploads::{part_etag, PartOptions, PartsPage, UploadsPage, UploadsQuery};
pub use version_list::{VersionsPage, VersionsQuery};
pub use versions::{
    Committed, DeleteGuard, Deletion, Seq, VersionCursor, VersionEntry, Versioning, NULL_VERSION,
};

/// A stream of body bytes (request or response).
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, StorageError>> + Send + 'static>>;

/// Errors from the storage layer. `error.rs` maps them to COS codes.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no such bucket")]
    NoSuchBucket,
    #[error("no such key")]
    NoSuchKey,
    #[error("bucket already exists")]
    BucketExists,
    #[error("bucket not empty")]
    BucketNotEmpty,
    /// A `WriteCondition::IfMatch` did not hold.
    #[error("precondition failed")]
    PreconditionFailed,
    /// A `WriteCondition::IfNoneMatch` (or forbid-overwrite) found an object.
    #[error("object already exists")]
    AlreadyExists,
    /// The body's MD5 differs from the expected Content-MD5.
    #[error("bad digest")]
    BadDigest,
    /// The body's SHA-1 differs from `x-cos-content-sha1`.
    #[error("bad sha1 digest")]
    BadSha1,
    /// The body ended before the expected length.
    #[error("incomplete body")]
    IncompleteBody,
    /// The body is longer than the allowed maximum.
    #[error("entity too large")]
    TooLarge,
    /// The client's body stream failed (connection reset, bad chunking).
    #[error("client body error: {0}")]
    Client(String),
    /// The client sent no body bytes for longer than the idle timeout.
    #[error("client body timed out")]
    ClientTimeout,
    /// A referenced blob vanished between read and write (a racing delete); retry.
    #[error("conflict, retry")]
    Conflict,
    /// The latest version of the key is a delete marker (`version_id` is the
    /// marker's): reads answer 404 with the marker's headers.
    #[error("the latest version is a delete marker")]
    DeleteMarker { version_id: String },
    /// A named version does not exist (or the id is not one of ours).
    #[error("no such version")]
    NoSuchVersion,
    /// Append Object: the position is not the object's length (`next`;
    /// 0 when the key is absent).
    #[error("append position is not the object's length {next}")]
    AppendPosition { next: u64 },
    /// Object lock: the version this change would remove or replace is
    /// retained ([`lock::retained`]).
    #[error("the object is locked (object lock retention)")]
    ObjectLocked,
    /// Append Object on a normal (not appendable) object.
    #[error("the object is not appendable")]
    NotAppendable,
    /// Append Object on an object that has `append::MAX_APPENDS` segments.
    #[error("the object has reached the maximum number of appends")]
    AppendLimit,
    /// The multipart upload does not exist (never, or completed or aborted).
    #[error("no such upload")]
    NoSuchUpload,
    /// A Complete's part list was refused.
    #[error("complete refused: {0}")]
    Complete(multipart::CompleteError),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt metadata: {0}")]
    Corrupt(String),
    /// The object's stored bytes failed an integrity check (`localcos scrub`
    /// or `fsck --repair` marked its record, [`scrub::CorruptMark`]): its
    /// bytes are never served.
    #[error("object data is corrupt: {0}")]
    ObjectCorrupt(String),
    /// The data dir's on-disk format is not one this build reads
    /// (`fs::format`); the message says what to do.
    #[error("{0}")]
    Format(String),
    /// The metadata store cannot be reached (a cluster's database is down
    /// or does not answer in time): 503, the client retries.
    #[error("metadata store unavailable: {0}")]
    Unavailable(String),
    /// A cluster's shared blob store (S3) cannot be reached or answers
    /// with a server error: 503, the client retries.
    #[error("blob store unavailable: {0}")]
    BlobUnavailable(String),
}

/// A blob's name: unique forever (UUIDv7 as 32 lowercase hex), never derived
/// from a key, so it is safe as a file name and in a shared store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BlobId(String);

impl BlobId {
    pub fn generate() -> Self {
        BlobId(uuid::Uuid::now_v7().simple().to_string())
    }
    /// Parses a stored id; `None` unless it is 32 lowercase hex characters.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| BlobId(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a blob store reports once a blob is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobInfo {
    pub len: u64,
    pub md5: [u8; 16],
    /// CRC-64/XZ (COS `x-cos-hash-crc64ecma`).
    pub crc64: u64,
}

/// One bucket's record. Sub-resource configurations are added as fields with
/// `#[serde(default)]`, so older records keep loading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketRecord {
    /// Full name including the APPID suffix, e.g. `examplebucket-1250000000`.
    pub name: String,
    pub region: String,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// `PUT ?versioning`; `Off` until first set.
    #[serde(default, skip_serializing_if = "Versioning::is_off")]
    pub versioning: Versioning,
    /// `None`: never set, i.e. private.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<crate::acl::Acl>,
    /// Sub-resource configurations (`crate::bucket_config`), as JSON by
    /// sub-resource name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub configs: std::collections::BTreeMap<String, serde_json::Value>,
    /// PUT Bucket's `<CreateBucketConfiguration>`: `BucketAZConfig` (`MAZ`)
    /// and `BucketArchConfig` (`OFS`), reported by HEAD Bucket.
    #[serde(default, skip_serializing_if = "BucketLayout::is_default")]
    pub layout: BucketLayout,
}

/// How a bucket was created (cos-bucket.md §15.2); fixed for its life.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketLayout {
    /// Multi-AZ (`BucketAZConfig` `MAZ`).
    #[serde(default)]
    pub maz: bool,
    /// Metadata-accelerated (`BucketArchConfig` `OFS`).
    #[serde(default)]
    pub ofs: bool,
}

impl BucketLayout {
    pub fn is_default(&self) -> bool {
        *self == BucketLayout::default()
    }
}

/// A contiguous piece of an object's bytes: `len` bytes of `blob` from `offset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub blob: BlobId,
    #[serde(default)]
    pub offset: u64,
    pub len: u64,
}

/// The stored headers of an object (what PUT gave, what GET returns).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectHeaders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `x-cos-meta-<name>` pairs: names lower-case without the prefix, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_meta: Vec<(String, String)>,
}

/// The current version of one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub size: u64,
    /// Unquoted ETag: 32 lowercase hex (MD5) or `<hex>-<parts>` for multipart.
    pub etag: String,
    pub crc64: u64,
    /// Unix milliseconds.
    pub last_modified_ms: i64,
    #[serde(default)]
    pub headers: ObjectHeaders,
    /// `STANDARD` unless the writer asked for another class.
    #[serde(default = "default_storage_class")]
    pub storage_class: String,
    /// The object's bytes, in order; their lengths add up to `size`.
    pub segments: Vec<Segment>,
    /// The last `POST ?restore` of an ARCHIVE/DEEP_ARCHIVE object; `None` when
    /// never restored. Its phase is computed from the times (`crate::archive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreRecord>,
    /// Set when the blobs hold ciphertext (SSE): segment offsets and lengths
    /// still count plaintext bytes; see [`sse`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<sse::SseInfo>,
    /// The S3 flexible checksum verified when the object was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<crate::http::checksum::Checksum>,
    /// `None` for a record written while the bucket had never been
    /// versioned; else the version id (`null` when written while suspended).
    /// Set by the `MetaStore` when it commits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// A delete marker: no bytes, no segments, never in the `objects` index.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
    /// `None`: never set, i.e. `default` (the bucket's ACL decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<crate::acl::Acl>,
    /// Object tags (`?tagging`, `x-cos-tagging`), in the order set; empty
    /// when untagged (spec cos.md §6A.7).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// Made by Append Object (`POST ?append`) and still appendable: every
    /// other write makes a normal object (spec cos.md §6A.3, [`append`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub appendable: bool,
    /// Object lock (WORM): the version may be neither deleted nor replaced
    /// before this time (Unix ms); stamped by the storage rules from the
    /// bucket's default retention ([`lock`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_until_ms: Option<i64>,
    /// A symlink (`PUT ?symlink`, spec cos-bucket.md §15.3): the target key
    /// in the same bucket; the record's bytes are that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symlink_target: Option<String>,
    /// Bucket replication (`crate::bucket_config::replication`): `PENDING`,
    /// `COMPLETED` or `FAILED` on a source version, `REPLICA` on a copy;
    /// shown as `x-cos-replication-status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_status: Option<String>,
    /// Set when `localcos scrub` or `localcos fsck --repair` found the stored
    /// bytes damaged: GET and Copy refuse the object; HEAD, listings, ACL,
    /// tags and DELETE still work. Cleared by a scrub that finds it intact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrupt: Option<scrub::CorruptMark>,
}

/// A restore request, as stored: when it was made, when the temporary copy
/// is (or was) ready and when it expires, all Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRecord {
    pub requested_ms: i64,
    pub ready_ms: i64,
    pub expires_ms: i64,
    /// `Expedited`, `Standard` or `Bulk`.
    pub tier: String,
}

fn default_storage_class() -> String {
    "STANDARD".to_string()
}

impl ObjectRecord {
    pub fn last_modified(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH
            + std::time::Duration::from_millis(self.last_modified_ms.max(0) as u64)
    }

    /// The distinct blobs this record references, in first-use order. A blob
    /// used by several segments counts once: reference counts are per record.
    pub fn blob_ids(&self) -> Vec<&BlobId> {
        // A set, not `Vec::contains`: multipart manifests have up to 10,000 segments.
        let mut seen = std::collections::HashSet::with_capacity(self.segments.len());
        self.segments
            .iter()
            .map(|seg| &seg.blob)
            .filter(|id| seen.insert(*id))
            .collect()
    }
}

/// A condition checked atomically with a write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WriteCondition {
    #[default]
    None,
    /// Fail with `AlreadyExists` if the key exists (`If-None-Match: *`,
    /// `x-cos-forbid-overwrite: true`).
    IfNoneMatch,
    /// Fail with `PreconditionFailed` unless the current ETag (unquoted) equals this.
    IfMatch(String),
}

impl WriteCondition {
    /// Evaluates the condition against the key's current record (`None` when
    /// absent). Every `MetaStore` calls this inside its write transaction, and
    /// `Store` calls it early as a non-binding pre-check.
    /// # Behavior
    /// - `IfNoneMatch`: `AlreadyExists` if a record exists.
    /// - `IfMatch(etag)`: `PreconditionFailed` if absent or the ETag differs.
    pub fn check(&self, current: Option<&ObjectRecord>) -> Result<(), StorageError> {
        match (self, current) {
            (WriteCondition::None, _) => Ok(()),
            (WriteCondition::IfNoneMatch, None) => Ok(()),
            (WriteCondition::IfNoneMatch, Some(_)) => Err(StorageError::AlreadyExists),
            (WriteCondition::IfMatch(etag), Some(cur)) if cur.etag == *etag => Ok(()),
            (WriteCondition::IfMatch(_), _) => Err(StorageError::PreconditionFailed),
        }
    }
}

/// The ordered, transactional index. Every method is one atomic transaction.
///
/// Keys compare as UTF-8 bytes (the order S3/COS list in); `a` and `a/b` coexist.
#[async_trait::async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Creates a bucket.
    /// # Behavior
    /// - `BucketExists` if a bucket of that name exists (record unchanged).
    async fn create_bucket(&self, rec: BucketRecord) -> Result<(), StorageError>;

    /// # Behavior
    /// - `Ok(None)` if there is no such bucket.
    async fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StorageError>;

    /// All buckets, ordered by name.
    async fn list_buckets(&self) -> Result<Vec<BucketRecord>, StorageError>;

    /// Deletes an empty bucket.
    /// # Behavior
    /// - `NoSuchBucket` if absent; `BucketNotEmpty` if it holds any object,
    ///   version or delete marker, or an unfinished multipart upload.
    async fn delete_bucket(&self, name: &str) -> Result<(), StorageError>;

    /// The current record of `key`: one index lookup (the GET fast path).
    /// # Behavior
    /// - `NoSuchBucket` if the bucket is absent; `Ok(None)` if the key is,
    ///   or if its latest version is a delete marker.
    async fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StorageError>;

    /// One version of `key`: the latest including delete markers (`None`),
    /// the `null` version (`Some("null")`, also a plain record), or the
    /// version with that id.
    /// # Behavior
    /// - `NoSuchBucket` if the bucket is absent; `Ok(None)` if there is no
    ///   such version (an id this store cannot have made included).
    async fn object_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectRecord>, StorageError>;

    /// Makes `rec` the current record of `key`, checking `cond` in the same
    /// transaction, and moves blob references. What happens to the record it
    /// replaces follows the bucket's versioning state, read in the same
    /// transaction (see [`versions`]):
    /// - `Off`: `rec` replaces the current record; `version_id` is `None`.
    /// - `Enabled`: `rec` becomes a new version with a fresh id, newer than
    ///   every other version of the key; older versions stay.
    /// - `Suspended`: `rec` becomes the `null` version, replacing the previous
    ///   `null` version (or marker); other versions stay.
    /// # Behavior
    /// - `rec.version_id` and `rec.delete_marker` are ignored (set by the store).
    /// - `NoSuchBucket` if the bucket is absent; `AlreadyExists` /
    ///   `PreconditionFailed` if `cond` does not hold against the current
    ///   record (a delete marker counts as absent). On any error nothing changes.
    /// - Blobs listed in `fresh` were just written and gain their first
    ///   reference. Every other blob `rec` references must already be
    ///   referenced (by any record), else `Conflict` (it may have been freed by a
    ///   racing delete) and nothing changes.
    /// - Returns the new version id and the blobs that no record references
    ///   any more (a replaced record's, unless shared); the caller deletes them.
    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        rec: ObjectRecord,
        fresh: &[BlobId],
        cond: WriteCondition,
    ) -> Result<Committed, StorageError>;

    /// Deletes `key` (`version_id == None`) or one of its versions.
    /// # Behavior
    /// - `NoSuchBucket` if the bucket is absent.
    /// - No version named, bucket `Off`: removes the current record
    ///   (`removed`); nothing when absent.
    /// - No version named, versioned bucket: writes a delete marker as the
    ///   new latest version (`marker`), even if the key has no versions;
    ///   `Enabled` gives it a fresh id, `Suspended` makes it the `null`
    ///   version, replacing (`removed`) the previous `null` version.
    /// - A version named: removes exactly that version, marker or not, for
    ///   good (`removed`); when it was the latest, the next
    ///   version becomes current (unless it is a marker). An unknown version
    ///   changes nothing (`removed == None`).
    /// - `freed` lists the blobs no record references any more.
    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Deletion, StorageError>;

    /// [`MetaStore::delete_object`] only if `guard` still holds, checked in
    /// the same transaction (lifecycle acts on records it read earlier).
    /// # Behavior
    /// - `NoSuchBucket`; `PreconditionFailed` (nothing changes) when the
    ///   guarded record changed, went away or is no longer (non)current.
    async fn delete_object_guarded(
        &self,
        bucket: &str,
        key: &str,
        guard: DeleteGuard,
    ) -> Result<Deletion, StorageError>;

    /// Up to `limit` objects with `prefix` whose key is strictly greater than
    /// `start_after`, in key order.
    /// # Behavior
    /// - `NoSuchBucket` if the bucket is absent.
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: &str,
        limit: usize,
    ) -> Result<Vec<(String, ObjectRecord)>, StorageError>;

    /// Up to `limit` versions and delete markers of keys with `prefix`
    /// after `after`, in key order and, within a key, newest first. Plain
    /// records appear as their key's only version.
    /// # Behavior
    /// - `NoSuchBucket` if the bucket is absent.
    /// - `is_latest` is set on the newest entry of each key.
    async fn list_versions(
        &self,
        bucket: &str,
        prefix: &str,
        after: &VersionCursor,
        limit: usize,
    ) -> Result<Vec<VersionEntry>, StorageError>;

    /// Whether any record references `blob` (used by the orphan sweep).
    async fn blob_referenced(&self, blob: &BlobId) -> Result<bool, StorageError>;

    /// Replaces `key`'s record `expected` by `new` in place: a metadata-only
    /// change (an ACL), not a write: no new version, blob references untouched.
    /// # Behavior
    /// - `NoSuchBucket` if the bucket is absent.
    /// - `PreconditionFailed` unless the current record equals `expected`
    ///   (a racing write or delete: read again and retry); nothing changes.
    /// - `Corrupt` if `new` does not reference exactly `expected`'s segments.
    async fn update_object_meta(
        &self,
        bucket: &str,
        key: &str,
        expected: &ObjectRecord,
        new: ObjectRecord,
    ) -> Result<(), StorageError>;

    /// Append Object's commit: makes `rec` (`base`'s segments followed by
    /// the new ones) the current record of `key`, only if the current
    /// record is exactly `base` (`None`: the key is absent, or a delete
    /// marker is on top), and moves blob references. The rule is
    /// [`append::commit_append`]:
    /// - growing an appendable object keeps its version (plain, `null` or an
    ///   id) and its place among the versions;
    /// - creating one makes a plain record (bucket `Off`) or the `null`
    ///   version (replacing the previous `null` version) otherwise.
    /// # Behavior
    /// - `NoSuchBucket`; against the current record: `NotAppendable`,
    ///   `AppendPosition { next }` (`base`'s size is the position),
    ///   `AppendLimit`; `PreconditionFailed` when the current record is
    ///   another one that would accept the append (read again, rebuild).
    ///   On any error nothing changes.
    /// - `rec.appendable` is set; `rec.version_id` is set by the store.
    /// - `fresh` and `Conflict` as for [`MetaStore::put_object`]; `freed`
    ///   lists blobs no record references any more.
    async fn append_object(
        &self,
        bucket: &str,
        key: &str,
        base: Option<&ObjectRecord>,
        rec: ObjectRecord,
        fresh: &[BlobId],
    ) -> Result<Committed, StorageError>;

    /// A counter of committed bucket-record writes (create, delete,
    /// update), bumped after each commit, so readers may cache what they
    /// derive from records (`bucket_config::cache`). `None`: not counted
    /// (e.g. a store shared with other processes); readers then read the
    /// record every time.
    fn bucket_generation(&self) -> Option<u64> {
        None
    }

    /// Changes a bucket's record (its sub-resource configuration) with
    /// `update`, in one transaction, and returns the new record.
    /// # Behavior
    /// - `NoSuchBucket` if absent. `update` must not change the name.
    async fn update_bucket(
        &self,
        name: &str,
        update: BucketUpdate,
    ) -> Result<BucketRecord, StorageError>;

    // Multipart uploads (rules in [`multipart`]). An upload is addressed by
    // bucket, key and id: the same id under another key does not exist.

    /// Records a new upload (`rec.upload_id` is unique, made by the caller).
    /// # Behavior
    /// - `NoSuchBucket` if the bucket is absent.
    async fn create_upload(&self, bucket: &str, rec: UploadRecord) -> Result<(), StorageError>;

    /// # Behavior
    /// - `NoSuchBucket`; `Ok(None)` if there is no such upload of `key`.
    async fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<UploadRecord>, StorageError>;

    /// Stores a part whose blob was just written (it gains its first
    /// reference); a part of the same number is replaced.
    /// # Behavior
    /// - `NoSuchBucket`; `NoSuchUpload` if the upload is gone (the caller
    ///   deletes the blob it wrote). Returns the blobs freed (a replaced part's).
    async fn put_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: PartRecord,
    ) -> Result<Vec<BlobId>, StorageError>;

    /// The upload and up to `limit` of its parts numbered above `after`, ascending.
    /// # Behavior
    /// - `NoSuchBucket`; `NoSuchUpload`.
    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        after: u32,
        limit: usize,
    ) -> Result<(UploadRecord, Vec<PartRecord>), StorageError>;

    /// Up to `limit` uploads of keys with `prefix` after `after`, ordered by
    /// key, then upload id (which grows with initiation time).
    /// # Behavior
    /// - `NoSuchBucket`.
    async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        after: &multipart::UploadCursor,
        limit: usize,
    ) -> Result<Vec<UploadRecord>, StorageError>;

    /// Deletes an upload and its parts.
    /// # Behavior
    /// - `NoSuchBucket`; `NoSuchUpload`. Returns the blobs freed.
    async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<BlobId>, StorageError>;

    /// Turns the listed parts into `key`'s new record, in one transaction
    /// ([`multipart::commit_complete`]): the record is committed exactly as
    /// `put_object` commits (versioning, `cond`, and `IfNoneMatch` when the
    /// upload was initiated with forbid-overwrite), and the upload is gone.
    /// # Behavior
    /// - `NoSuchBucket`; `NoSuchUpload`; `Complete(_)` for a refused list;
    ///   condition errors as `put_object`. On any error nothing changes.
    /// - Returns the commit (freed blobs: the replaced record's and the
    ///   unlisted parts') and the record as stored.
    async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        listed: Vec<multipart::CompletePart>,
        cond: WriteCondition,
        now_ms: i64,
    ) -> Result<(Committed, ObjectRecord), StorageError>;

    /// Up to `limit` uploads (of any bucket) initiated before `before_ms`,
    /// as `(bucket, upload)`: the abandoned-upload sweep aborts them.
    async fn stale_uploads(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, UploadRecord)>, StorageError>;

    // Stored credentials (`localcos keys`, [`keys`]).

    /// The whole key table (records, generation, master-key check), one snapshot.
    async fn keys(&self) -> Result<keys::KeyTable, StorageError>;

    /// The key table's generation only: cheap, polled to notice changes
    /// made by another node or process.
    async fn keys_generation(&self) -> Result<u64, StorageError>;

    /// Applies `update` to the key table in one transaction and bumps the
    /// generation; returns the table as committed.
    /// # Behavior
    /// - `update`'s error is returned and nothing changes.
    async fn update_keys(&self, update: keys::KeysUpdate) -> Result<keys::KeyTable, StorageError>;

    // Deferred blob deletion, leases and shared secrets (`storage::gc`):
    // what lets several nodes share one index and one blob store.

    /// Hands blobs freed by commits to the collector: delete at or after `due_ms`.
    /// # Behavior
    /// - An id already deferred keeps the later of its two due times (an
    ///   orphan sweep re-deferring a blob never shortens its grace).
    /// - Duplicates in `ids` count once; an empty slice changes nothing.
    async fn defer_blob_deletes(&self, ids: &[BlobId], due_ms: i64) -> Result<(), StorageError>;

    /// Up to `limit` deferred blobs due at `now_ms`, oldest first.
    /// # Behavior
    /// - Due means `due_ms <= now_ms`; ordered by due time, then id.
    /// - Read only: the entries stay until [`MetaStore::forget_blob_deletes`].
    async fn due_blob_deletes(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<BlobId>, StorageError>;

    /// Forgets deferred entries (after the blobs were deleted).
    /// # Behavior
    /// - Ids that are not deferred are ignored.
    async fn forget_blob_deletes(&self, ids: &[BlobId]) -> Result<(), StorageError>;

    /// Number of deferred entries (the GC backlog metric).
    async fn blob_delete_backlog(&self) -> Result<u64, StorageError>;

    /// Takes or renews the lease `name` for `holder` until `now_ms + ttl_ms`; true when
    /// `holder` holds it after the call (free, expired, or already its own).
    /// # Behavior
    /// - Expired means the stored end `<= now_ms`. Another holder's lease
    ///   that has not expired is left unchanged (false).
    /// - `ttl_ms <= 0` gives up a lease `holder` holds: it is free at once
    ///   (and the call returns false, as `holder` no longer holds it).
    async fn lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool, StorageError>;

    /// A secret shared by every node: the stored value of `name`, or `init` stored
    /// as it if there was none (first writer wins, atomically).
    async fn secret_or_init(&self, name: &str, init: Vec<u8>) -> Result<Vec<u8>, StorageError>;
}

/// A change to a bucket record, applied inside a `MetaStore` transaction.
pub type BucketUpdate = Box<dyn FnOnce(&mut BucketRecord) + Send + 'static>;

/// Writes one new blob. Dropping it without `finish` discards the blob.
#[async_trait::async_trait]
pub trait BlobWriter: Send {
    /// Appends bytes (hashing them on the way).
    async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError>;
    /// Makes the blob durable under its id (fsync file, rename, fsync dir) and
    /// reports its length and hashes.
    async fn finish(self: Box<Self>) -> Result<BlobInfo, StorageError>;
}

/// An opened blob: reads stay valid even if the blob is deleted meanwhile.
pub trait BlobReader: Send + Sync {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Streams `range` (within `0..len`) in chunks; memory stays bounded.
    fn read(&self, range: Range<u64>) -> ByteStream;
    /// The open local file holding this blob's bytes (from offset 0), when
    /// there is one: lets plain-HTTP GETs send it with sendfile(2).
    fn local_file(&self) -> Option<std::sync::Arc<std::fs::File>> {
        None
    }
}

/// Immutable blobs named by [`BlobId`].
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts a new blob. Invisible under `id` until `finish`.
    async fn create(&self, id: &BlobId) -> Result<Box<dyn BlobWriter>, StorageError>;
    /// # Behavior
    /// - `NoSuchKey` if the blob does not exist.
    async fn open(&self, id: &BlobId) -> Result<Box<dyn BlobReader>, StorageError>;
    /// Deletes a blob; deleting a missing blob is not an error.
    async fn delete(&self, id: &BlobId) -> Result<(), StorageError>;
    /// Blobs created before `t` (the orphan sweep compares them with the index).
    async fn list_older_than(&self, t: SystemTime) -> Result<Vec<BlobId>, StorageError>;
}
