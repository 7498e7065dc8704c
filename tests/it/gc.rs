//! Blob deletion with a grace period, the leased collector and job leases
//! (`storage::gc`), with two `Store`s ("nodes") over one `MetaStore` and one
//! `BlobStore`, as in a cluster.
//!
//! The blob store used where it matters is [`RemoteBlobs`]: its readers
//! re-open the blob for every read, as ranged GETs on an S3 store do, so a
//! blob deleted under a reader fails the read (an open file would hide it).

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use localcos::storage::gc::{self, CollectorTiming, GC_LEASE};
use localcos::storage::memory::{MemoryBlobs, MemoryMeta};
use localcos::storage::{
    BlobId, BlobReader, BlobStore, BlobWriter, BucketRecord, ByteStream, MetaStore, ObjectRecord,
    PutOptions, StorageError, Store,
};

const B: &str = "examplebucket-1250000000";

/// A blob store whose readers hold no handle: every `read` opens the blob
/// again (S3-like), so a delete is visible to readers already reading.
struct RemoteBlobs(Arc<MemoryBlobs>);

struct RemoteReader {
    store: Arc<MemoryBlobs>,
    id: BlobId,
    len: u64,
}

impl BlobReader for RemoteReader {
    fn len(&self) -> u64 {
        self.len
    }
    fn read(&self, range: Range<u64>) -> ByteStream {
        let (store, id) = (self.store.clone(), self.id.clone());
        Box::pin(
            futures_util::stream::once(async move {
                match store.open(&id).await {
                    Ok(r) => r.read(range),
                    Err(e) => {
                        let e = StorageError::Corrupt(format!("blob {} is gone: {e}", id.as_str()));
                        Box::pin(futures_util::stream::once(async move { Err(e) })) as ByteStream
                    }
                }
            })
            .flatten(),
        )
    }
}

#[async_trait::async_trait]
impl BlobStore for RemoteBlobs {
    async fn create(&self, id: &BlobId) -> Result<Box<dyn BlobWriter>, StorageError> {
        self.0.create(id).await
    }
    async fn open(&self, id: &BlobId) -> Result<Box<dyn BlobReader>, StorageError> {
        let len = self.0.open(id).await?.len();
        Ok(Box::new(RemoteReader {
            store: self.0.clone(),
            id: id.clone(),
            len,
        }))
    }
    async fn delete(&self, id: &BlobId) -> Result<(), StorageError> {
        self.0.delete(id).await
    }
    async fn list_older_than(&self, t: SystemTime) -> Result<Vec<BlobId>, StorageError> {
        self.0.list_older_than(t).await
    }
}

/// Two nodes over one index and one remote-like blob store.
fn two_nodes(meta: Arc<dyn MetaStore>, grace: Duration) -> (Store, Store) {
    let blobs: Arc<dyn BlobStore> = Arc::new(RemoteBlobs(Arc::new(MemoryBlobs::new())));
    let a = Store::new(meta.clone(), blobs.clone())
        .with_gc_grace(grace)
        .with_node_id("node-a");
    let b = Store::new(meta, blobs)
        .with_gc_grace(grace)
        .with_node_id("node-b");
    (a, b)
}

fn bucket() -> BucketRecord {
    BucketRecord {
        name: B.to_string(),
        region: "ap-guangzhou".to_string(),
        created_ms: 1_700_000_000_000,
        versioning: Default::default(),
        acl: None,
        configs: Default::default(),
        layout: Default::default(),
    }
}

/// An upload's or a created append's record template (headers only).
fn template() -> ObjectRecord {
    ObjectRecord {
        size: 0,
        etag: String::new(),
        crc64: 0,
        last_modified_ms: localcos::clock::now_ms(),
        headers: Default::default(),
        storage_class: "STANDARD".to_string(),
        segments: Vec::new(),
        restore: None,
        sse: None,
        checksum: None,
        version_id: None,
        delete_marker: false,
        acl: None,
        tags: Vec::new(),
        appendable: false,
        retain_until_ms: None,
        symlink_target: None,
        replication_status: None,
        corrupt: None,
    }
}

fn body(data: &[u8]) -> ByteStream {
    let chunks: Vec<Result<Bytes, StorageError>> = data
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures_util::stream::iter(chunks))
}

fn payload(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

async fn put(store: &Store, key: &str, data: &[u8]) {
    store
        .put_object(B, key, body(data), PutOptions::default())
        .await
        .unwrap();
}

async fn blob_ids(store: &Store) -> Vec<BlobId> {
    let far = SystemTime::now() + Duration::from_secs(3600);
    store.blobs().list_older_than(far).await.unwrap()
}

async fn read_all(mut s: ByteStream) -> Result<Vec<u8>, StorageError> {
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// Polls `cond` every 50 ms for up to `secs`.
async fn eventually<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn fast(lease_ms: u64) -> CollectorTiming {
    CollectorTiming {
        tick: Duration::from_millis(50),
        lease_ttl: Duration::from_millis(lease_ms),
        sweep_every: Duration::from_millis(200),
    }
}

/// Without a grace, an overwrite deletes the old blob at once: a reader
/// that re-opens per read (S3) fails mid-object. With a grace, the reader
/// started before the overwrite reads the whole old object, and the blob
/// goes only once due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_before_overwrite_finishes_during_grace() {
    let old = payload(1, 300_000);
    let new = payload(2, 200_000);
    for grace in [Duration::ZERO, Duration::from_secs(30)] {
        let (a, b) = two_nodes(Arc::new(MemoryMeta::new()), grace);
        a.create_bucket(bucket()).await.unwrap();
        put(&a, "k", &old).await;
        // Node A's reader looked the record up and read the first bytes ...
        let reader = a.open_object(B, "k").await.unwrap();
        let head = read_all(reader.stream(0..1000)).await.unwrap();
        assert_eq!(head, old[..1000]);
        let reader = a.open_object(B, "k").await.unwrap();
        // ... then node B overwrites the key.
        put(&b, "k", &new).await;
        let rest = read_all(reader.stream(1000..old.len() as u64)).await;
        if grace.is_zero() {
            assert!(rest.is_err(), "without a grace the old blob is gone");
            assert_eq!(a.gc_backlog().await.unwrap(), 0);
        } else {
            assert_eq!(rest.unwrap(), old[1000..], "the whole old object");
            assert_eq!(a.gc_backlog().await.unwrap(), 1);
            assert_eq!(blob_ids(&a).await.len(), 2, "old blob kept during grace");
            // Not due yet: a collector round deletes nothing.
            let round = b.collect_due(localcos::clock::now_ms()).await.unwrap();
            assert_eq!(round, gc::GcRound::default());
            // Due (a grace later): deleted, entry forgotten.
            let later = localcos::clock::now_ms() + 31_000;
            let round = b.collect_due(later).await.unwrap();
            assert_eq!((round.deleted, round.kept), (1, 0));
            assert_eq!(a.gc_backlog().await.unwrap(), 0);
            assert_eq!(blob_ids(&a).await.len(), 1);
        }
        let now = a.open_object(B, "k").await.unwrap();
        assert_eq!(
            read_all(now.stream(0..new.len() as u64)).await.unwrap(),
            new
        );
    }
}

/// Every path that frees blobs (overwrite, delete, versions, multipart
/// replace/abort/complete, append, copy) defers them; the collector brings
/// the blob store back to empty after everything is deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_back_to_empty_after_deleting_everything() {
    let dir = tempfile::tempdir().unwrap();
    let grace = Duration::from_millis(300);
    let a = Store::open_fs(dir.path())
        .await
        .unwrap()
        .with_gc_grace(grace)
        .with_node_id("node-a");
    let b = Store::new(a.meta().clone(), a.blobs().clone())
        .with_gc_grace(grace)
        .with_node_id("node-b");
    a.create_bucket(bucket()).await.unwrap();
    let collector_a = tokio::spawn(gc::run_collector(a.clone(), fast(1000)));
    let collector_b = tokio::spawn(gc::run_collector(b.clone(), fast(1000)));

    for i in 0..20u8 {
        let node = if i % 2 == 0 { &a } else { &b };
        put(
            node,
            &format!("plain/{i}"),
            &payload(i, 10_000 + i as usize),
        )
        .await;
        put(node, &format!("plain/{i}"), &payload(i + 1, 5_000)).await;
    }
    // Copy shares the blob; append adds one blob per append.
    a.copy_object::<StorageError>(B, "plain/0", B, "copy", Default::default(), |r| {
        Ok(r.clone())
    })
    .await
    .unwrap();
    let mut pos = 0;
    for i in 0..3u8 {
        let data = payload(50 + i, 4096);
        let opts = localcos::storage::append::AppendOptions {
            template: Some(template()),
            content_length: data.len() as u64,
            ..Default::default()
        };
        b.append_object(B, "appended", pos, body(&data), opts)
            .await
            .unwrap();
        pos += data.len() as u64;
    }
    // Versions: two versions and a delete marker.
    b.set_versioning(
        "examplebucket-1250000000",
        localcos::storage::Versioning::Enabled,
    )
    .await
    .unwrap();
    put(&a, "versioned", &payload(7, 3000)).await;
    put(&b, "versioned", &payload(8, 3000)).await;
    a.delete_object(B, "versioned").await.unwrap();
    // Multipart: a replaced part, an aborted upload, a completed one.
    // Parts of any size (the 1 MiB minimum is not what this test is about).
    let up = a
        .create_upload_with(B, "mp", template(), false, Some(1))
        .await
        .unwrap();
    let part = |n: u32, seed: u8| {
        let (s, id) = (a.clone(), up.upload_id.clone());
        async move {
            s.upload_part(
                B,
                "mp",
                &id,
                n,
                body(&payload(seed, 6000)),
                Default::default(),
            )
            .await
            .unwrap()
        }
    };
    part(1, 1).await;
    part(1, 2).await;
    part(2, 3).await;
    let gone = b
        .create_upload(B, "mp-aborted", template(), false)
        .await
        .unwrap();
    b.upload_part(
        B,
        "mp-aborted",
        &gone.upload_id,
        1,
        body(&payload(9, 100)),
        Default::default(),
    )
    .await
    .unwrap();
    b.abort_upload(B, "mp-aborted", &gone.upload_id)
        .await
        .unwrap();
    let listed = b
        .list_parts(B, "mp", &up.upload_id, 0, 1000)
        .await
        .unwrap()
        .parts
        .iter()
        .map(|p| localcos::storage::multipart::CompletePart {
            part_number: p.part_number,
            etag: localcos::storage::part_etag(p),
        })
        .collect();
    b.complete_upload(B, "mp", &up.upload_id, listed, Default::default())
        .await
        .unwrap();
    assert!(a.gc_backlog().await.unwrap() > 0, "frees were deferred");

    // Delete everything: every version of every key.
    loop {
        let page = a
            .meta()
            .list_versions(B, "", &Default::default(), 1000)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        for v in page {
            let id = v.record.version_id.clone();
            a.delete_version(B, &v.key, id.as_deref()).await.unwrap();
        }
    }
    let listed = a.meta().list_objects(B, "", "", 10).await.unwrap();
    assert!(listed.is_empty());
    eventually(10, "blob store empty and backlog 0", || async {
        blob_ids(&a).await.is_empty() && a.gc_backlog().await.unwrap() == 0
    })
    .await;
    let files = walk(&dir.path().join("blobs"));
    assert!(files.is_empty(), "blob files left: {files:?}");
    collector_a.abort();
    collector_b.abort();
    let _ = (collector_a.await, collector_b.await);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// Whether someone holds the gc lease. The probe takes a free lease for 1 ms
/// only (a collector then gets it at its next tick).
async fn held_by_someone(s: &Store) -> bool {
    let now = localcos::clock::now_ms();
    !s.meta().lease(GC_LEASE, "probe", now, 1).await.unwrap()
}

/// One collector at a time: node A holds the lease while it runs; killed
/// (its task aborted, lease not released), its lease expires and node B
/// takes over the deferred deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_takeover_after_the_collector_dies() {
    let grace = Duration::from_millis(200);
    let (a, b) = two_nodes(Arc::new(MemoryMeta::new()), grace);
    a.create_bucket(bucket()).await.unwrap();
    let lease_ms = 1500;
    let collector_a = tokio::spawn(gc::run_collector(a.clone(), fast(lease_ms)));
    eventually(5, "node A takes the gc lease", || held_by_someone(&b)).await;
    let collector_b = tokio::spawn(gc::run_collector(b.clone(), fast(lease_ms)));
    // While A runs, it collects (B never gets the lease).
    put(&b, "k", &payload(1, 1000)).await;
    put(&b, "k", &payload(2, 1000)).await;
    eventually(5, "A collects", || async {
        a.gc_backlog().await.unwrap() == 0 && blob_ids(&a).await.len() == 1
    })
    .await;

    // A dies holding the lease.
    collector_a.abort();
    let _ = collector_a.await;
    let killed = std::time::Instant::now();
    put(&a, "k", &payload(3, 1000)).await;
    assert_eq!(a.gc_backlog().await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Due, but A's lease has not expired: nobody collects yet.
    if killed.elapsed() < Duration::from_millis(lease_ms - 300) {
        assert_eq!(a.gc_backlog().await.unwrap(), 1, "B waits for A's lease");
    }
    eventually(10, "B takes over and collects", || async {
        a.gc_backlog().await.unwrap() == 0 && blob_ids(&a).await.len() == 1
    })
    .await;
    assert!(
        killed.elapsed() >= Duration::from_millis(lease_ms - 100),
        "took over only after the lease expired ({:?})",
        killed.elapsed()
    );
    assert!(
        !a.hold_lease(GC_LEASE, Duration::from_secs(1)).await,
        "B holds it now"
    );
    collector_b.abort();
    let _ = collector_b.await;
    // Released at shutdown: free at once.
    b.release_lease(GC_LEASE).await;
    assert!(a.hold_lease(GC_LEASE, Duration::from_secs(1)).await);
}

/// Orphans (a blob written by a node killed before its commit) are deferred
/// by the sweep once older than the grace and deleted a grace later; a
/// referenced blob and a blob still being written are left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_swept_after_grace() {
    let grace = Duration::from_millis(300);
    let (a, _b) = two_nodes(Arc::new(MemoryMeta::new()), grace);
    a.create_bucket(bucket()).await.unwrap();
    put(&a, "live", &payload(1, 5000)).await;
    let orphan = BlobId::generate();
    let mut w = a.blobs().create(&orphan).await.unwrap();
    w.write(Bytes::from_static(b"killed before commit"))
        .await
        .unwrap();
    w.finish().await.unwrap();
    assert_eq!(blob_ids(&a).await.len(), 2);

    // Younger than the grace: not an orphan yet.
    let now = localcos::clock::now_ms();
    assert_eq!(a.sweep_orphans(now, None).await.unwrap(), 0);
    tokio::time::sleep(grace + Duration::from_millis(50)).await;
    // A blob still being written (fresh, no commit yet) is younger: kept.
    let fresh = BlobId::generate();
    let mut w = a.blobs().create(&fresh).await.unwrap();
    w.write(Bytes::from_static(b"in flight")).await.unwrap();
    w.finish().await.unwrap();

    let now = localcos::clock::now_ms();
    assert_eq!(
        a.sweep_orphans(now, None).await.unwrap(),
        1,
        "only the orphan"
    );
    assert_eq!(a.gc_backlog().await.unwrap(), 1);
    // Deferred one grace further: a blob freed a moment ago by another node
    // (its own deferral in flight) still gets its grace.
    assert_eq!(a.collect_due(now).await.unwrap().deleted, 0);
    let round = a.collect_due(now + 300).await.unwrap();
    assert_eq!((round.deleted, round.kept), (1, 0));
    let left = blob_ids(&a).await;
    assert_eq!(left.len(), 2);
    assert!(!left.contains(&orphan) && left.contains(&fresh));
    // An incremental sweep skips blobs created before `since`.
    tokio::time::sleep(grace + Duration::from_millis(50)).await;
    let now = localcos::clock::now_ms();
    assert_eq!(a.sweep_orphans(now, Some(now)).await.unwrap(), 0);
    assert_eq!(
        a.sweep_orphans(now, None).await.unwrap(),
        1,
        "fresh is an orphan now"
    );
    // No grace: the sweep is the embedded start-up one's job.
    let zero = Store::new(a.meta().clone(), a.blobs().clone());
    assert_eq!(zero.sweep_orphans(now + 10_000, None).await.unwrap(), 0);
}

/// A deferred blob that is referenced after all (a commit whose answer was
/// lost, the writer then "freed" it) is never deleted: the entry goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referenced_deferred_blob_is_kept() {
    let (a, _b) = two_nodes(Arc::new(MemoryMeta::new()), Duration::from_secs(1));
    a.create_bucket(bucket()).await.unwrap();
    put(&a, "k", &payload(4, 2000)).await;
    let rec = a.head_object(B, "k").await.unwrap();
    let live = rec.segments[0].blob.clone();
    a.meta()
        .defer_blob_deletes(std::slice::from_ref(&live), 0)
        .await
        .unwrap();
    let round = a.collect_due(localcos::clock::now_ms()).await.unwrap();
    assert_eq!((round.deleted, round.kept), (0, 1));
    assert_eq!(a.gc_backlog().await.unwrap(), 0);
    let r = a.open_object(B, "k").await.unwrap();
    assert_eq!(read_all(r.stream(0..2000)).await.unwrap(), payload(4, 2000));
}

/// A background job's run happens on the node holding its lease only; the
/// lease is renewed while a long run goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leased_jobs_run_on_one_node() {
    let (a, b) = two_nodes(Arc::new(MemoryMeta::new()), Duration::ZERO);
    let ttl = Duration::from_millis(300);
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let job = |runs: Arc<std::sync::atomic::AtomicUsize>| async move {
        runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Longer than the lease: it must be renewed meanwhile.
        tokio::time::sleep(Duration::from_millis(800)).await;
    };
    let (ra, rb) = tokio::join!(a.run_leased("lifecycle", ttl, job(runs.clone())), async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        b.run_leased("lifecycle", ttl, job(runs.clone())).await
    });
    assert!(ra.is_some(), "A ran");
    assert!(rb.is_none(), "B did not: A renewed its lease past the ttl");
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Other names are independent.
    assert!(b.run_leased("inventory", ttl, async {}).await.is_some());
    // After A's lease runs out, B runs it.
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    assert!(b.run_leased("lifecycle", ttl, async {}).await.is_some());
}

/// The redb index keeps deferred deletes, leases and secrets across a
/// restart (they are index tables, and the format stays 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_keeps_shared_state_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let id = BlobId::generate();
    {
        let s = Store::open_fs(dir.path()).await.unwrap();
        s.meta()
            .defer_blob_deletes(std::slice::from_ref(&id), 5)
            .await
            .unwrap();
        assert!(s.meta().lease("gc", "n1", 0, i64::MAX / 2).await.unwrap());
        s.meta().secret_or_init("s", b"v1".to_vec()).await.unwrap();
    }
    let s = Store::open_fs(dir.path()).await.unwrap();
    assert_eq!(s.meta().due_blob_deletes(5, 10).await.unwrap(), vec![id]);
    assert!(!s.meta().lease("gc", "n2", 1, 1000).await.unwrap());
    assert_eq!(
        s.meta().secret_or_init("s", b"v2".to_vec()).await.unwrap(),
        b"v1"
    );
}

/// `fsck` does not report a blob waiting for its grace as an orphan, and a
/// server restarted without a grace still collects what was deferred.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_blobs_are_not_orphans_and_survive_a_grace_change() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open_fs(dir.path())
            .await
            .unwrap()
            .with_gc_grace(Duration::from_secs(3600));
        s.create_bucket(bucket()).await.unwrap();
        put(&s, "k", &payload(1, 1000)).await;
        put(&s, "k", &payload(2, 1000)).await;
        assert_eq!(s.gc_backlog().await.unwrap(), 1);
    }
    let report = localcos::storage::fs::fsck::run(dir.path(), false)
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.blob_files, 2);
    // Restarted with no grace: the start-up sweep deletes the unreferenced
    // blob; the collector (which only looks when something is deferred)
    // forgets the entry.
    let s = Store::open_fs(dir.path()).await.unwrap();
    let collector = tokio::spawn(gc::run_collector(
        s.clone(),
        CollectorTiming {
            tick: Duration::from_millis(50),
            ..CollectorTiming::for_grace(Duration::ZERO)
        },
    ));
    eventually(10, "backlog forgotten, old blob gone", || async {
        s.gc_backlog().await.unwrap() == 0 && blob_ids(&s).await.len() == 1
    })
    .await;
    collector.abort();
    let _ = collector.await;
}

/// A blob store that refuses to delete one blob.
struct StuckBlobs {
    inner: Arc<MemoryBlobs>,
    stuck: std::sync::Mutex<Option<BlobId>>,
}

#[async_trait::async_trait]
impl BlobStore for StuckBlobs {
    async fn create(&self, id: &BlobId) -> Result<Box<dyn BlobWriter>, StorageError> {
        self.inner.create(id).await
    }
    async fn open(&self, id: &BlobId) -> Result<Box<dyn BlobReader>, StorageError> {
        self.inner.open(id).await
    }
    async fn delete(&self, id: &BlobId) -> Result<(), StorageError> {
        if self.stuck.lock().unwrap().as_ref() == Some(id) {
            return Err(StorageError::Io(std::io::Error::other("permission denied")));
        }
        self.inner.delete(id).await
    }
    async fn list_older_than(&self, t: SystemTime) -> Result<Vec<BlobId>, StorageError> {
        self.inner.list_older_than(t).await
    }
}

/// A blob that cannot be deleted keeps its entry for the next round; the
/// blobs due after it are still collected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undeletable_blob_does_not_block_the_queue() {
    let blobs = Arc::new(StuckBlobs {
        inner: Arc::new(MemoryBlobs::new()),
        stuck: Default::default(),
    });
    let s = Store::new(Arc::new(MemoryMeta::new()), blobs.clone())
        .with_gc_grace(Duration::from_millis(1));
    s.create_bucket(bucket()).await.unwrap();
    put(&s, "a", &payload(1, 100)).await;
    let first = s.head_object(B, "a").await.unwrap().segments[0]
        .blob
        .clone();
    *blobs.stuck.lock().unwrap() = Some(first.clone());
    s.delete_object(B, "a").await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    put(&s, "b", &payload(2, 100)).await;
    s.delete_object(B, "b").await.unwrap();
    assert_eq!(s.gc_backlog().await.unwrap(), 2);
    let later = localcos::clock::now_ms() + 1000;
    let err = s.collect_due(later).await.unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    assert_eq!(s.gc_backlog().await.unwrap(), 1, "b collected, a kept");
    assert_eq!(blob_ids(&s).await, vec![first.clone()]);
    // Once deletable, the next round takes it.
    *blobs.stuck.lock().unwrap() = None;
    let round = s.collect_due(later).await.unwrap();
    assert_eq!(round.deleted, 1);
    assert_eq!(s.gc_backlog().await.unwrap(), 0);
    assert!(blob_ids(&s).await.is_empty());
}
