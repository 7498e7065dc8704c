//! BlobStore behaviour suite: every case runs against each blob store
//! (`memory::<case>`, `fs::<case>`, `fs_shared::<case>`, `s3::<case>`):
//! `MemoryBlobs`, `FsBlobs` in a data dir, `FsBlobs::open_shared` with two
//! "nodes" on one directory, and `S3Blobs` on a real SeaweedFS
//! (tests/it/common/weed.rs) with two clients on one prefix. Where there are
//! two nodes, a case writes through one and reads, lists or deletes through
//! the other.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use localcos::storage::fs::FsBlobs;
use localcos::storage::memory::MemoryBlobs;
use localcos::storage::s3::S3Blobs;
use localcos::storage::{BlobId, BlobStore, StorageError};
use md5::{Digest, Md5};

use crate::common::weed;

/// A blob store under test: `a` and `b` are two nodes on the same storage
/// (the same instance where a store cannot be shared).
struct Env {
    a: Arc<dyn BlobStore>,
    b: Arc<dyn BlobStore>,
    /// Names that do not parse as blob ids are refused (every store but memory).
    checks_ids: bool,
    _dir: Option<tempfile::TempDir>,
}

impl Env {
    fn memory() -> Env {
        let a: Arc<dyn BlobStore> = Arc::new(MemoryBlobs::new());
        Env {
            b: a.clone(),
            a,
            checks_ids: false,
            _dir: None,
        }
    }

    fn fs() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let a: Arc<dyn BlobStore> = Arc::new(FsBlobs::open(dir.path()).unwrap());
        Env {
            b: a.clone(),
            a,
            checks_ids: true,
            _dir: Some(dir),
        }
    }

    fn fs_shared() -> Env {
        let dir = tempfile::tempdir().unwrap();
        Env {
            a: Arc::new(FsBlobs::open_shared(dir.path()).unwrap()),
            b: Arc::new(FsBlobs::open_shared(dir.path()).unwrap()),
            checks_ids: true,
            _dir: Some(dir),
        }
    }

    async fn s3(name: &str) -> Env {
        let weed = weed::weed().await;
        let prefix = weed::fresh_prefix(name);
        Env {
            a: Arc::new(S3Blobs::connect(weed.settings(&prefix)).await.unwrap()),
            b: Arc::new(S3Blobs::connect(weed.settings(&prefix)).await.unwrap()),
            checks_ids: true,
            _dir: None,
        }
    }
}

/// Runs each case against every store.
macro_rules! blob_suite {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Env::memory()).await;
                }
            )*
        }
        mod fs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Env::fs()).await;
                }
            )*
        }
        mod fs_shared {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Env::fs_shared()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Env::s3(stringify!($case)).await).await;
                }
            )*
        }
    };
}

blob_suite!(
    round_trip_and_hashes,
    ranges,
    empty_blob,
    missing_blobs_and_idempotent_delete,
    dropped_writer_leaves_nothing,
    list_older_than,
    concurrent_writers,
    large_streaming_blob,
    invalid_ids_are_refused,
);

/// Deterministic, non-repeating-looking bytes.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

/// Writes `data` in `chunk`-sized pieces and returns the id.
async fn put(store: &dyn BlobStore, data: &[u8], chunk: usize) -> BlobId {
    let id = BlobId::generate();
    let mut w = store.create(&id).await.unwrap();
    for piece in data.chunks(chunk.max(1)) {
        w.write(Bytes::copy_from_slice(piece)).await.unwrap();
    }
    let info = w.finish().await.unwrap();
    assert_eq!(info.len, data.len() as u64);
    id
}

async fn read(store: &dyn BlobStore, id: &BlobId, range: std::ops::Range<u64>) -> Vec<u8> {
    let reader = store.open(id).await.unwrap();
    let mut out = Vec::new();
    let mut stream = reader.read(range);
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

fn crc64(data: &[u8]) -> u64 {
    let mut d = crc64fast::Digest::new();
    d.write(data);
    d.sum64()
}

async fn round_trip_and_hashes(env: Env) {
    let data = pattern(300_000, 1);
    let id = BlobId::generate();
    let mut w = env.a.create(&id).await.unwrap();
    for piece in data.chunks(7_001) {
        w.write(Bytes::copy_from_slice(piece)).await.unwrap();
    }
    // Invisible until finished.
    assert!(matches!(
        env.b.open(&id).await,
        Err(StorageError::NoSuchKey)
    ));
    let info = w.finish().await.unwrap();
    assert_eq!(info.len, 300_000);
    assert_eq!(info.md5, <[u8; 16]>::from(Md5::digest(&data)));
    assert_eq!(info.crc64, crc64(&data));
    let reader = env.b.open(&id).await.unwrap();
    assert_eq!(reader.len(), 300_000);
    assert_eq!(read(&*env.b, &id, 0..300_000).await, data);
}

async fn ranges(env: Env) {
    let data = pattern(200_000, 2);
    let id = put(&*env.a, &data, 65_536).await;
    let n = data.len() as u64;
    let cases: &[(u64, u64)] = &[
        (0, 1),
        (0, n),
        (1, 2),
        (65_535, 65_537),
        (100_000, 199_999),
        (n - 1, n),
        (n, n),
        (5, 5),
        // Past the end: clamped to the blob.
        (150_000, n + 1000),
    ];
    for &(start, end) in cases {
        let want = &data[start.min(n) as usize..end.min(n) as usize];
        let got = read(&*env.b, &id, start..end).await;
        assert_eq!(got.len(), want.len(), "range {start}..{end}");
        assert!(got == want, "bytes of range {start}..{end}");
    }
}

async fn empty_blob(env: Env) {
    let id = BlobId::generate();
    let w = env.a.create(&id).await.unwrap();
    let info = w.finish().await.unwrap();
    assert_eq!(info.len, 0);
    assert_eq!(info.md5, <[u8; 16]>::from(Md5::digest(b"")));
    let reader = env.b.open(&id).await.unwrap();
    assert_eq!(reader.len(), 0);
    assert!(read(&*env.b, &id, 0..0).await.is_empty());
}

async fn missing_blobs_and_idempotent_delete(env: Env) {
    let never = BlobId::generate();
    assert!(matches!(
        env.a.open(&never).await,
        Err(StorageError::NoSuchKey)
    ));
    env.a.delete(&never).await.unwrap();

    let id = put(&*env.a, b"short-lived", 4).await;
    // Open through `a` (a cached length or handle must not outlive the delete
    // for new opens), delete through `b`, then through `a` again.
    assert_eq!(read(&*env.a, &id, 0..11).await, b"short-lived");
    env.b.delete(&id).await.unwrap();
    env.a.delete(&id).await.unwrap();
    env.b.delete(&id).await.unwrap();
    assert!(matches!(
        env.b.open(&id).await,
        Err(StorageError::NoSuchKey)
    ));
    let listed = env
        .a
        .list_older_than(SystemTime::now() + Duration::from_secs(5))
        .await
        .unwrap();
    assert!(!listed.contains(&id), "a deleted blob is not listed");
}

async fn dropped_writer_leaves_nothing(env: Env) {
    // One small unfinished writer and one past the S3 part size (a started
    // multipart upload) and the file stores' write batch.
    for len in [10usize, 9 << 20] {
        let id = BlobId::generate();
        let mut w = env.a.create(&id).await.unwrap();
        for piece in pattern(len, 3).chunks(1 << 20) {
            w.write(Bytes::copy_from_slice(piece)).await.unwrap();
        }
        drop(w);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            matches!(env.b.open(&id).await, Err(StorageError::NoSuchKey)),
            "an unfinished blob of {len} bytes is never visible"
        );
        let listed = env
            .b
            .list_older_than(SystemTime::now() + Duration::from_secs(5))
            .await
            .unwrap();
        assert!(!listed.contains(&id));
    }
}

async fn list_older_than(env: Env) {
    let before = SystemTime::now() - Duration::from_secs(5);
    let ids = [
        put(&*env.a, b"one", 3).await,
        put(&*env.b, b"two", 3).await,
        put(&*env.a, b"", 1).await,
    ];
    let later = SystemTime::now() + Duration::from_secs(5);
    for store in [&env.a, &env.b] {
        let mut listed = store.list_older_than(later).await.unwrap();
        listed.sort();
        let mut want = ids.to_vec();
        want.sort();
        assert_eq!(listed, want, "every node lists every node's blobs");
        let old = store.list_older_than(before).await.unwrap();
        assert!(
            old.is_empty(),
            "nothing was written before {before:?}: {old:?}"
        );
    }
}

async fn concurrent_writers(env: Env) {
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let store = if i % 2 == 0 {
            env.a.clone()
        } else {
            env.b.clone()
        };
        tasks.push(tokio::spawn(async move {
            let data = pattern(100_000 + i as usize * 1_000, i);
            let id = put(&*store, &data, 16_384).await;
            (id, data)
        }));
    }
    let written: Vec<(BlobId, Vec<u8>)> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for (i, (id, data)) in written.iter().enumerate() {
        let store = if i % 2 == 0 { &env.b } else { &env.a };
        assert!(
            read(&**store, id, 0..data.len() as u64).await == *data,
            "blob {i}"
        );
    }
}

async fn large_streaming_blob(env: Env) {
    // Past two S3 parts and two read chunks (8 MiB each), written in 64 KiB
    // pieces as a socket would deliver them; compared by digest.
    let len = (20 << 20) + 123;
    let data = pattern(len, 9);
    let id = put(&*env.a, &data, 64 << 10).await;
    let reader = env.b.open(&id).await.unwrap();
    assert_eq!(reader.len(), len as u64);
    let mut md5 = Md5::new();
    let mut got = 0u64;
    let mut largest = 0usize;
    let mut stream = reader.read(0..len as u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        largest = largest.max(chunk.len());
        got += chunk.len() as u64;
        md5.update(&chunk);
    }
    assert_eq!(got, len as u64);
    assert_eq!(md5.finalize(), Md5::digest(&data));
    assert!(largest <= 8 << 20, "chunks stay small: {largest}");
    // A range across the 8 MiB boundary.
    let (start, end) = ((8 << 20) - 1000, (8 << 20) + 1000);
    assert!(read(&*env.b, &id, start as u64..end as u64).await == data[start..end]);
}

async fn invalid_ids_are_refused(env: Env) {
    if !env.checks_ids {
        return;
    }
    for bad in [
        "../../etc/passwd",
        "ABCDEF",
        "0123456789abcdef0123456789abcdeX",
    ] {
        let id: BlobId = serde_json::from_value(serde_json::json!(bad)).unwrap();
        assert!(
            matches!(env.a.open(&id).await, Err(StorageError::Corrupt(_))),
            "{bad}"
        );
        assert!(
            matches!(env.a.delete(&id).await, Err(StorageError::Corrupt(_))),
            "{bad}"
        );
        assert!(env.a.create(&id).await.is_err(), "{bad}");
    }
}

/// S3-only behaviour: start-up checks, foreign objects under the prefix.
mod s3_only {
    use super::*;
    use localcos::storage::s3::S3Settings;

    #[tokio::test]
    async fn listing_ignores_foreign_objects_and_other_prefixes() {
        let weed = weed::weed().await;
        let prefix = weed::fresh_prefix("foreign");
        let store = S3Blobs::connect(weed.settings(&prefix)).await.unwrap();
        let other = S3Blobs::connect(weed.settings(&weed::fresh_prefix("other")))
            .await
            .unwrap();
        let mine = put(&store, b"mine", 4).await;
        let theirs = put(&other, b"theirs", 6).await;
        let client = weed.client();
        let nested = BlobId::generate();
        for key in [
            format!("{prefix}/not-a-blob"),
            format!("{prefix}/sub/{}", nested.as_str()),
        ] {
            client
                .put_object()
                .bucket(weed::BUCKET)
                .key(&key)
                .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
                .send()
                .await
                .unwrap();
        }
        let listed = store
            .list_older_than(SystemTime::now() + Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(listed, vec![mine.clone()]);
        assert!(!listed.contains(&theirs));
        // Blobs are plain objects named PREFIX/<id>: what an operator sees.
        let got = client
            .get_object()
            .bucket(weed::BUCKET)
            .key(format!("{prefix}/{}", mine.as_str()))
            .send()
            .await
            .unwrap();
        let body = got.body.collect().await.unwrap().into_bytes();
        assert_eq!(&body[..], b"mine");
    }

    #[tokio::test]
    async fn unknown_bucket_is_a_start_error() {
        let weed = weed::weed().await;
        let mut settings = weed.settings("x");
        settings.bucket = "no-such-bucket-here".into();
        let err = S3Blobs::connect(settings).await.err().expect("must fail");
        let msg = err.to_string();
        assert!(msg.contains("s3://no-such-bucket-here/x"), "{msg}");
    }

    #[tokio::test]
    async fn wrong_credentials_are_a_start_error() {
        let weed = weed::weed().await;
        let mut settings = weed.settings("x");
        settings.secret_access_key = "wrong".into();
        let err = S3Blobs::connect(settings).await.err().expect("must fail");
        assert!(err.to_string().contains("s3://localcos-blobs/x"), "{err}");
    }

    #[tokio::test]
    async fn unreachable_endpoint_fails_fast() {
        // A port nothing listens on: refused at once, reported within seconds
        // (bounded retries), never a hang.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let settings = S3Settings {
            bucket: "b".into(),
            prefix: String::new(),
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            region: "us-east-1".into(),
            access_key_id: "k".into(),
            secret_access_key: "s".into(),
            session_token: None,
        };
        let started = std::time::Instant::now();
        let err = S3Blobs::connect(settings).await.err().expect("must fail");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        assert!(err.to_string().contains("s3://b"), "{err}");
    }

    #[tokio::test]
    async fn bad_prefixes_are_refused() {
        let weed = weed::weed().await;
        for prefix in ["a//b", "a/../b"] {
            assert!(
                S3Blobs::connect(weed.settings(prefix)).await.is_err(),
                "{prefix}"
            );
        }
    }
}
