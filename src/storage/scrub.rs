//! Scrub: re-reads every stored object and checks its bytes against what
//! its record recorded when it was written (README "Integrity: scrub and
//! fsck"; NOTES 12).
//!
//! What each record lets us check:
//! - every record keeps `crc64`, the CRC-64/XZ (`x-cos-hash-crc64ecma`) of
//!   the whole object's plaintext: single PUTs, multipart (combined from the
//!   parts at Complete), appends (combined per append) and copies alike. It
//!   is the check for every object.
//! - a single-PUT object's ETag is the MD5 of its bytes (one segment, a
//!   32-hex ETag, not appendable): checked too.
//! - an encrypted (SSE-COS / SSE-KMS) object is decrypted chunk by chunk,
//!   which checks every chunk's AES-GCM tag, and then its plaintext CRC-64.
//!   SSE-C objects cannot be decrypted without the customer's key: only
//!   their blobs' presence and lengths are checked (counted as unverifiable).
//!
//! A damaged object is logged (`warn`, with bucket, key, version and
//! blobs), returned in the pass report, counted in [`STATS`], and marked in
//! its record ([`CorruptMark`]): GET and Copy then refuse it
//! ([`refuse_corrupt`]) with 500 InternalError and [`CORRUPT_MESSAGE`]. A
//! marked object that reads back intact (its blob was restored) is unmarked.
//!
//! Scrub works through [`Store`] only, so the same code runs offline
//! (`localcos scrub` on a stopped server's data dir) and online (the
//! background scrub of `serve --scrub-rate`). Online, a record may be
//! replaced while it is being read: a finding only counts if the record is
//! still the one that was read (checked in the marking transaction).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::hash::{md5_hex, BodyHasher};
use super::sse::{self, chunked::Layout, SseKind};
use super::{BlobId, BlobReader, ObjectRecord, StorageError, Store, VersionCursor};

/// The `<Message>` of the error a corrupt object's GET or Copy answers.
pub const CORRUPT_MESSAGE: &str = "The object's stored data failed an integrity check \
(localcos scrub or fsck marked it corrupt), so its bytes are not served. Overwrite or \
delete the object, or restore it from a copy.";

/// Why a record was marked corrupt, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorruptMark {
    pub reason: String,
    /// Unix milliseconds.
    pub found_ms: i64,
}

/// `ObjectCorrupt` for a record marked corrupt (GET, Copy), else `Ok`.
pub fn refuse_corrupt(rec: &ObjectRecord) -> Result<(), StorageError> {
    match &rec.corrupt {
        Some(mark) => Err(StorageError::ObjectCorrupt(mark.reason.clone())),
        None => Ok(()),
    }
}

/// Scrub counters, for `/-/metrics` and tests. Monotonic unless named `last_*`.
#[derive(Debug, Default)]
pub struct ScrubStats {
    /// Object versions read and checked (delete markers excluded).
    pub objects_scanned: AtomicU64,
    /// Plaintext bytes read and checked.
    pub bytes_scanned: AtomicU64,
    /// Corrupt objects found (an object found again in a later pass counts again).
    pub corrupt_found: AtomicU64,
    /// Objects that could only be checked in part (SSE-C, a missing key).
    pub unverifiable: AtomicU64,
    /// Whole passes finished.
    pub passes_completed: AtomicU64,
    /// When the last pass finished (Unix ms; 0: never).
    pub last_pass_finished_ms: AtomicU64,
    pub last_pass_duration_ms: AtomicU64,
    /// Corrupt objects the last pass found.
    pub last_pass_corrupt: AtomicU64,
    /// A pass is running now.
    pub running: AtomicBool,
}

impl ScrubStats {
    pub const fn new() -> ScrubStats {
        ScrubStats {
            objects_scanned: AtomicU64::new(0),
            bytes_scanned: AtomicU64::new(0),
            corrupt_found: AtomicU64::new(0),
            unverifiable: AtomicU64::new(0),
            passes_completed: AtomicU64::new(0),
            last_pass_finished_ms: AtomicU64::new(0),
            last_pass_duration_ms: AtomicU64::new(0),
            last_pass_corrupt: AtomicU64::new(0),
            running: AtomicBool::new(false),
        }
    }
}

/// The process's scrub counters (the background scrub and `localcos scrub`
/// add to them). The metrics endpoint reads these.
pub static STATS: ScrubStats = ScrubStats::new();

/// How a pass runs.
#[derive(Debug, Clone)]
pub struct ScrubOptions {
    /// Bytes per second read at most (`None`: as fast as the disk goes).
    pub rate: Option<u64>,
    /// Mark corrupt records (and unmark intact ones); `false`: report only.
    pub mark: bool,
}

/// One object the pass could not vouch for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub bucket: String,
    pub key: String,
    /// `None`: a plain (never-versioned) record.
    pub version_id: Option<String>,
    pub blobs: Vec<String>,
    pub reason: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.bucket, self.key)?;
        if let Some(v) = &self.version_id {
            write!(f, " (version {v})")?;
        }
        write!(f, ": {}", self.reason)?;
        if !self.blobs.is_empty() {
            write!(f, " [blobs {}]", self.blobs.join(", "))?;
        }
        Ok(())
    }
}

/// What one pass found.
#[derive(Debug, Default)]
pub struct PassReport {
    pub objects: u64,
    pub bytes: u64,
    pub corrupt: Vec<Finding>,
    pub unverifiable: Vec<Finding>,
    /// Records newly marked corrupt.
    pub marked: u64,
    /// Records whose corrupt mark was cleared (they read back intact).
    pub cleared: u64,
    pub duration: Duration,
}

/// The outcome of checking one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Intact,
    Corrupt(String),
    /// Checked in part only (why).
    Unverifiable(String),
}

/// Keeps reads under a byte rate: after each read, sleeps until the bytes
/// read so far fit the rate since the start.
pub struct Pacer {
    rate: Option<u64>,
    start: Instant,
    bytes: u64,
}

impl Pacer {
    pub fn new(rate: Option<u64>) -> Pacer {
        Pacer {
            rate: rate.filter(|r| *r > 0),
            start: Instant::now(),
            bytes: 0,
        }
    }

    async fn consumed(&mut self, n: u64) {
        self.bytes += n;
        if let Some(rate) = self.rate {
            let due = Duration::from_secs_f64(self.bytes as f64 / rate as f64);
            let elapsed = self.start.elapsed();
            if due > elapsed {
                tokio::time::sleep(due - elapsed).await;
            }
        }
    }
}

/// Whether the record's ETag is the MD5 of its bytes (a single PUT).
fn etag_is_md5(rec: &ObjectRecord) -> bool {
    rec.segments.len() == 1
        && !rec.appendable
        && rec.etag.len() == 32
        && rec.etag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Re-reads `rec`'s bytes and checks them (see the module docs).
/// # Behavior
/// - A missing blob, a blob shorter than its segments, a failed AES-GCM
///   tag, an I/O error, a length, CRC-64 or MD5 mismatch → `Corrupt`.
/// - SSE-C, or a managed key that is gone → `Unverifiable` (blob presence
///   and lengths are still checked, and failing them is `Corrupt`).
/// - Delete markers and empty objects are `Intact`.
pub async fn verify(store: &Store, rec: &ObjectRecord, pacer: &mut Pacer) -> Verdict {
    let total: u64 = rec.segments.iter().map(|s| s.len).sum();
    if total != rec.size {
        return Verdict::Corrupt(format!(
            "its segments add up to {total} bytes, the record says {}",
            rec.size
        ));
    }
    let mut opened: HashMap<&BlobId, Arc<dyn BlobReader>> = HashMap::new();
    for seg in &rec.segments {
        if opened.contains_key(&seg.blob) {
            continue;
        }
        match store.blobs().open(&seg.blob).await {
            Ok(b) => {
                opened.insert(&seg.blob, Arc::from(b));
            }
            Err(StorageError::NoSuchKey) => {
                return Verdict::Corrupt(format!("blob {} is missing", seg.blob.as_str()))
            }
            Err(e) => {
                return Verdict::Corrupt(format!(
                    "blob {} cannot be opened: {e}",
                    seg.blob.as_str()
                ))
            }
        }
    }
    // Lengths: every segment must lie within its blob.
    for seg in &rec.segments {
        let blob_len = opened[&seg.blob].len();
        let needed = seg.offset + seg.len;
        let have = match &rec.sse {
            None => Some(blob_len),
            Some(info) => Layout::new(info.chunk_size).plain_len(blob_len),
        };
        match have {
            Some(have) if have >= needed => {}
            Some(have) => {
                return Verdict::Corrupt(format!(
                    "blob {} holds {have} bytes, the record needs {needed}",
                    seg.blob.as_str()
                ))
            }
            None => {
                return Verdict::Corrupt(format!(
                    "blob {} is {blob_len} bytes, which no encrypted length gives (truncated or padded)",
                    seg.blob.as_str()
                ))
            }
        }
    }
    let dek = match &rec.sse {
        None => None,
        Some(info) if info.kind == SseKind::Customer => {
            return Verdict::Unverifiable(
                "SSE-C: encrypted with the customer's key, which localcos does not keep; \
                 blob presence and lengths checked only"
                    .into(),
            )
        }
        Some(info) => match sse::managed_dek(store.sse_keys(), info) {
            Ok(dek) => Some((dek, info.chunk_size)),
            Err(e) => {
                return Verdict::Unverifiable(format!(
                    "the data key is not available ({e}); blob presence and lengths checked only"
                ))
            }
        },
    };
    let mut hasher = BodyHasher::new();
    for seg in &rec.segments {
        let blob = opened[&seg.blob].clone();
        let range = seg.offset..seg.offset + seg.len;
        let mut stream = match &dek {
            None => blob.read(range),
            Some((dek, chunk)) => sse::chunked::decrypt_range(blob, &seg.blob, dek, *chunk, range),
        };
        while let Some(piece) = stream.next().await {
            match piece {
                Ok(b) => {
                    hasher.update(&b);
                    pacer.consumed(b.len() as u64).await;
                }
                Err(StorageError::Corrupt(msg)) => return Verdict::Corrupt(msg),
                Err(e) => {
                    return Verdict::Corrupt(format!(
                        "reading blob {} failed: {e}",
                        seg.blob.as_str()
                    ))
                }
            }
        }
    }
    let got = hasher.finish();
    if got.len != rec.size {
        return Verdict::Corrupt(format!(
            "read {} bytes, the record says {}",
            got.len, rec.size
        ));
    }
    if got.crc64 != rec.crc64 {
        return Verdict::Corrupt(format!(
            "CRC-64 mismatch: the stored bytes give {}, the record says {}",
            got.crc64, rec.crc64
        ));
    }
    if etag_is_md5(rec) && !md5_hex(&got.md5).eq_ignore_ascii_case(&rec.etag) {
        return Verdict::Corrupt(format!(
            "MD5 mismatch: the stored bytes give {}, the ETag is {}",
            md5_hex(&got.md5),
            rec.etag
        ));
    }
    Verdict::Intact
}

fn now_ms() -> i64 {
    super::store::now_ms()
}

/// Versions listed per index read.
const PAGE: usize = 100;

/// One pass over every version of every object in every bucket.
/// # Behavior
/// - Reads at most `opts.rate` bytes per second.
/// - With `opts.mark`, marks corrupt records and unmarks intact ones, each
///   only if the record did not change since it was read (an overwrite or
///   delete in between drops the finding: the bytes checked are gone).
/// - Index errors end the pass with the error; object-level problems are findings.
pub async fn run_pass(
    store: &Store,
    opts: &ScrubOptions,
    stats: &ScrubStats,
) -> Result<PassReport, StorageError> {
    stats.running.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let result = pass(store, opts, stats).await;
    stats.running.store(false, Ordering::Relaxed);
    let mut report = result?;
    report.duration = started.elapsed();
    stats.passes_completed.fetch_add(1, Ordering::Relaxed);
    stats
        .last_pass_finished_ms
        .store(now_ms().max(0) as u64, Ordering::Relaxed);
    stats
        .last_pass_duration_ms
        .store(report.duration.as_millis() as u64, Ordering::Relaxed);
    stats
        .last_pass_corrupt
        .store(report.corrupt.len() as u64, Ordering::Relaxed);
    Ok(report)
}

async fn pass(
    store: &Store,
    opts: &ScrubOptions,
    stats: &ScrubStats,
) -> Result<PassReport, StorageError> {
    let mut report = PassReport::default();
    let mut pacer = Pacer::new(opts.rate);
    for bucket in store.list_buckets().await? {
        let mut cursor = VersionCursor::default();
        loop {
            let page = match store
                .meta()
                .list_versions(&bucket.name, "", &cursor, PAGE)
                .await
            {
                Ok(p) => p,
                // Deleted while the pass ran.
                Err(StorageError::NoSuchBucket) => break,
                Err(e) => return Err(e),
            };
            let Some(last) = page.last() else { break };
            cursor = VersionCursor {
                key: last.key.clone(),
                seq: Some(last.seq),
            };
            let full = page.len() == PAGE;
            for entry in page {
                if entry.record.delete_marker {
                    continue;
                }
                check_one(
                    store,
                    opts,
                    stats,
                    &mut pacer,
                    &mut report,
                    &bucket.name,
                    &entry.key,
                    entry.record,
                )
                .await?;
            }
            if !full {
                break;
            }
        }
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn check_one(
    store: &Store,
    opts: &ScrubOptions,
    stats: &ScrubStats,
    pacer: &mut Pacer,
    report: &mut PassReport,
    bucket: &str,
    key: &str,
    rec: ObjectRecord,
) -> Result<(), StorageError> {
    let verdict = verify(store, &rec, pacer).await;
    stats.objects_scanned.fetch_add(1, Ordering::Relaxed);
    stats.bytes_scanned.fetch_add(rec.size, Ordering::Relaxed);
    report.objects += 1;
    report.bytes += rec.size;
    let finding = |reason: String| Finding {
        bucket: bucket.to_string(),
        key: key.to_string(),
        version_id: rec.version_id.clone(),
        blobs: rec
            .blob_ids()
            .into_iter()
            .map(|b| b.as_str().to_string())
            .collect(),
        reason,
    };
    match verdict {
        Verdict::Intact if rec.corrupt.is_some() && opts.mark => {
            let next = ObjectRecord {
                corrupt: None,
                ..rec.clone()
            };
            if update(store, bucket, key, &rec, next).await? {
                report.cleared += 1;
                tracing::info!(
                    bucket,
                    key,
                    version = rec.version_id.as_deref().unwrap_or(""),
                    "scrub: an object marked corrupt reads back intact; mark cleared"
                );
            }
        }
        Verdict::Intact => {}
        Verdict::Unverifiable(reason) => {
            stats.unverifiable.fetch_add(1, Ordering::Relaxed);
            report.unverifiable.push(finding(reason));
        }
        Verdict::Corrupt(reason) => {
            // Only a record still in place counts: an overwrite may have
            // freed the blobs between the listing and the read.
            let still = if opts.mark && rec.corrupt.is_none() {
                let next = ObjectRecord {
                    corrupt: Some(CorruptMark {
                        reason: reason.clone(),
                        found_ms: now_ms(),
                    }),
                    ..rec.clone()
                };
                let marked = update(store, bucket, key, &rec, next).await?;
                report.marked += u64::from(marked);
                marked
            } else {
                unchanged(store, bucket, key, &rec).await?
            };
            if still {
                let f = finding(reason);
                tracing::warn!(
                    bucket,
                    key,
                    version = rec.version_id.as_deref().unwrap_or(""),
                    blobs = %f.blobs.join(","),
                    reason = %f.reason,
                    "scrub: object is corrupt"
                );
                stats.corrupt_found.fetch_add(1, Ordering::Relaxed);
                report.corrupt.push(f);
            }
        }
    }
    Ok(())
}

/// Replaces `rec` by `next` if it is still in place; `false` when it changed.
async fn update(
    store: &Store,
    bucket: &str,
    key: &str,
    rec: &ObjectRecord,
    next: ObjectRecord,
) -> Result<bool, StorageError> {
    match store
        .meta()
        .update_object_meta(bucket, key, rec, next)
        .await
    {
        Ok(()) => Ok(true),
        Err(
            StorageError::PreconditionFailed | StorageError::NoSuchBucket | StorageError::NoSuchKey,
        ) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether `rec` is still the record of its key/version.
async fn unchanged(
    store: &Store,
    bucket: &str,
    key: &str,
    rec: &ObjectRecord,
) -> Result<bool, StorageError> {
    let now = match rec.version_id.as_deref() {
        None => store.meta().object(bucket, key).await,
        Some(v) => store.meta().object_version(bucket, key, Some(v)).await,
    };
    match now {
        Ok(found) => Ok(found.as_ref() == Some(rec)),
        Err(StorageError::NoSuchBucket) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The background scrub of `serve --scrub-rate`: a full pass at `rate`
/// bytes per second, a pause, and again, until the task is aborted.
pub async fn run_background(store: Store, rate: u64, pause: Duration) {
    tracing::info!(rate, pause = ?pause, "background scrub started");
    loop {
        let opts = ScrubOptions {
            rate: Some(rate),
            mark: true,
        };
        // One node of a cluster scrubs (storage/gc.rs).
        let ttl = crate::storage::gc::job_lease_ttl(pause);
        let Some(pass) = store
            .run_leased("scrub", ttl, run_pass(&store, &opts, &STATS))
            .await
        else {
            tokio::time::sleep(pause).await;
            continue;
        };
        match pass {
            Ok(r) => tracing::info!(
                objects = r.objects,
                bytes = r.bytes,
                corrupt = r.corrupt.len(),
                unverifiable = r.unverifiable.len(),
                took = ?r.duration,
                "scrub pass finished"
            ),
            Err(e) => tracing::warn!(error = %e, "scrub pass failed"),
        }
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{BucketRecord, PutOptions};
    use bytes::Bytes;

    fn body(data: &'static [u8]) -> crate::storage::ByteStream {
        Box::pin(futures_util::stream::once(async move {
            Ok(Bytes::from_static(data))
        }))
    }

    async fn store_with(keys: &[(&str, &'static [u8])]) -> Store {
        let store = Store::memory();
        store
            .create_bucket(BucketRecord {
                name: "b-1250000000".into(),
                region: "ap-guangzhou".into(),
                created_ms: 0,
                versioning: Default::default(),
                acl: None,
                configs: Default::default(),
                layout: Default::default(),
            })
            .await
            .unwrap();
        for (k, v) in keys {
            store
                .put_object("b-1250000000", k, body(v), PutOptions::default())
                .await
                .unwrap();
        }
        store
    }

    fn report_only() -> ScrubOptions {
        ScrubOptions {
            rate: None,
            mark: false,
        }
    }

    #[tokio::test]
    async fn clean_store_scrubs_clean() {
        let store = store_with(&[("a", b"hello"), ("b", b""), ("c", b"world!")]).await;
        let stats = ScrubStats::new();
        let r = run_pass(&store, &report_only(), &stats).await.unwrap();
        assert_eq!((r.objects, r.bytes), (3, 11));
        assert!(r.corrupt.is_empty() && r.unverifiable.is_empty());
        assert_eq!(stats.objects_scanned.load(Ordering::Relaxed), 3);
        assert_eq!(stats.passes_completed.load(Ordering::Relaxed), 1);
        assert!(stats.last_pass_finished_ms.load(Ordering::Relaxed) > 0);
    }

    /// Record-level mismatches, table-driven: each altered record is
    /// corrupt for the reason given.
    #[tokio::test]
    async fn verdicts_for_altered_records() {
        let store = store_with(&[("a", b"hello")]).await;
        let rec = store.head_object("b-1250000000", "a").await.unwrap();
        type Alter = fn(&mut ObjectRecord);
        let cases: &[(&str, Alter)] = &[
            ("CRC-64 mismatch", |r| r.crc64 ^= 1),
            ("MD5 mismatch", |r| r.etag = "0".repeat(32)),
            ("add up to", |r| r.size += 1),
            ("is missing", |r| {
                r.segments[0].blob = BlobId::parse(&"0".repeat(32)).unwrap()
            }),
            ("the record needs", |r| {
                r.segments[0].len += 1;
                r.size += 1
            }),
        ];
        for (want, alter) in cases {
            let mut r = rec.clone();
            alter(&mut r);
            match verify(&store, &r, &mut Pacer::new(None)).await {
                Verdict::Corrupt(msg) => assert!(msg.contains(want), "{want}: {msg}"),
                other => panic!("{want}: {other:?}"),
            }
        }
        // A multipart-style ETag is not an MD5: the CRC-64 alone decides.
        let mut r = rec.clone();
        r.etag = format!("{}-2", "0".repeat(32));
        assert_eq!(
            verify(&store, &r, &mut Pacer::new(None)).await,
            Verdict::Intact
        );
        assert_eq!(
            verify(&store, &rec, &mut Pacer::new(None)).await,
            Verdict::Intact
        );
    }

    /// A marked record is refused, unmarked when it reads back intact, and
    /// a finding on a record replaced meanwhile is dropped.
    #[tokio::test]
    async fn mark_refuse_and_clear() {
        let store = store_with(&[("a", b"hello")]).await;
        let rec = store.head_object("b-1250000000", "a").await.unwrap();
        let marked = ObjectRecord {
            corrupt: Some(CorruptMark {
                reason: "test".into(),
                found_ms: 1,
            }),
            ..rec.clone()
        };
        store
            .meta()
            .update_object_meta("b-1250000000", "a", &rec, marked)
            .await
            .unwrap();
        assert!(matches!(
            store.open_object("b-1250000000", "a").await,
            Err(StorageError::ObjectCorrupt(_))
        ));
        // HEAD still answers.
        assert!(store.head_object("b-1250000000", "a").await.is_ok());
        let stats = ScrubStats::new();
        let opts = ScrubOptions {
            rate: None,
            mark: true,
        };
        let r = run_pass(&store, &opts, &stats).await.unwrap();
        assert_eq!((r.cleared, r.corrupt.len()), (1, 0));
        assert!(store.open_object("b-1250000000", "a").await.is_ok());

        // A record that changed since it was read does not count.
        let mut stale = store.head_object("b-1250000000", "a").await.unwrap();
        stale.crc64 ^= 1;
        let mut report = PassReport::default();
        check_one(
            &store,
            &opts,
            &stats,
            &mut Pacer::new(None),
            &mut report,
            "b-1250000000",
            "a",
            stale,
        )
        .await
        .unwrap();
        assert!(report.corrupt.is_empty() && report.marked == 0);
    }

    #[tokio::test(start_paused = true)]
    async fn pacer_holds_the_rate() {
        let mut p = Pacer::new(Some(1000));
        let t = tokio::time::Instant::now();
        for _ in 0..10 {
            p.consumed(500).await;
        }
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(4900), "{took:?}");
        let mut unpaced = Pacer::new(None);
        let t = tokio::time::Instant::now();
        unpaced.consumed(1 << 40).await;
        assert_eq!(t.elapsed(), Duration::ZERO);
    }
}
