//! Backend behaviour suite (STYLE habit 8): every case takes a `Store` and
//! runs twice, against `Store::memory()` and `Store::open_fs(tempdir)`, so a
//! backend bug shows up here rather than in handler tests. Cases that only
//! make sense on disk (reopen, start-up clean-up) are at the end.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use localcos::storage::hash::md5_hex;
use localcos::storage::{
    BlobId, BucketRecord, ByteStream, ListQuery, ObjectRecord, PutOptions, Segment, StorageError,
    Store, WriteCondition,
};
use md5::{Digest, Md5};

/// A store under test plus, for the file backend, its data dir.
struct Env {
    store: Store,
    dir: Option<tempfile::TempDir>,
}

impl Env {
    fn memory() -> Env {
        Env {
            store: Store::memory(),
            dir: None,
        }
    }

    async fn fs() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_fs(dir.path()).await.unwrap();
        Env {
            store,
            dir: Some(dir),
        }
    }

    fn data_dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(|d| d.path())
    }
}

/// Runs each named case against both backends: `memory::<case>` and `fs::<case>`.
macro_rules! conformance {
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
                    super::$case(super::Env::fs().await).await;
                }
            )*
        }
    };
}

conformance!(
    buckets_create_list_delete,
    missing_bucket_everywhere,
    put_head_open_stream,
    empty_object_has_no_blob,
    multi_segment_ranges,
    overwrite_frees_old_blob,
    reader_before_overwrite_keeps_old_bytes,
    odd_keys_are_just_keys,
    failed_puts_leave_nothing,
    content_length_ignores_extra_bytes,
    doomed_put_refused_before_body,
    if_none_match_race_one_winner,
    if_match,
    overwrite_storm_readers_see_whole_versions,
    list_delimiter_and_markers,
    list_matches_model,
    list_paging_collects_everything,
    copy_shares_blob_and_survives_source_delete,
    copy_errors,
    copy_racing_delete,
    refcounts_back_to_zero,
    stream_64_mib,
);

// ---------------------------------------------------------------------------
// Helpers

const B: &str = "examplebucket-1250000000";

fn bucket_rec(name: &str) -> BucketRecord {
    BucketRecord {
        name: name.to_string(),
        region: "ap-guangzhou".to_string(),
        created_ms: 1_700_000_000_000,
    }
}

async fn with_bucket(env: &Env) {
    env.store.create_bucket(bucket_rec(B)).await.unwrap();
}

/// A body cut into 7 KiB chunks, so writers see several small writes.
fn body(data: &[u8]) -> ByteStream {
    let chunks: Vec<Result<Bytes, StorageError>> = data
        .chunks(7 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures_util::stream::iter(chunks))
}

async fn read_all(mut s: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// Deterministic pseudo-random bytes (xorshift), different per seed.
fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn put(store: &Store, key: &str, data: &[u8]) -> ObjectRecord {
    store
        .put_object(B, key, body(data), PutOptions::default())
        .await
        .unwrap()
}

async fn get(store: &Store, key: &str) -> Vec<u8> {
    let reader = store.open_object(B, key).await.unwrap();
    let len = reader.len();
    read_all(reader.stream(0..len)).await
}

/// Every blob the store holds (through the trait, so it works for both backends).
async fn blob_count(env: &Env) -> usize {
    let far = SystemTime::now() + Duration::from_secs(3600);
    let n = env.store.blobs().list_older_than(far).await.unwrap().len();
    if let Some(dir) = env.data_dir() {
        assert_eq!(
            files_under(&dir.join("blobs")).len(),
            n,
            "blob files on disk"
        );
    }
    n
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                todo.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out
}

async fn new_blob(store: &Store, data: &[u8]) -> BlobId {
    let id = BlobId::generate();
    let mut w = store.blobs().create(&id).await.unwrap();
    for c in data.chunks(300 * 1024) {
        w.write(Bytes::copy_from_slice(c)).await.unwrap();
    }
    let info = w.finish().await.unwrap();
    assert_eq!(info.len, data.len() as u64);
    id
}

fn record(segments: Vec<Segment>) -> ObjectRecord {
    ObjectRecord {
        size: segments.iter().map(|s| s.len).sum(),
        etag: "0123456789abcdef0123456789abcdef-3".to_string(),
        crc64: 0,
        last_modified_ms: 1_700_000_000_000,
        headers: Default::default(),
        storage_class: "STANDARD".to_string(),
        segments,
    }
}

fn is<T: std::fmt::Debug>(r: Result<T, StorageError>, want: fn(&StorageError) -> bool) {
    match r {
        Err(e) if want(&e) => {}
        other => panic!("unexpected result: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Buckets

async fn buckets_create_list_delete(env: Env) {
    let s = &env.store;
    s.create_bucket(bucket_rec("b-2")).await.unwrap();
    s.create_bucket(bucket_rec("a-1")).await.unwrap();
    is(s.create_bucket(bucket_rec("a-1")).await, |e| {
        matches!(e, StorageError::BucketExists)
    });
    assert_eq!(s.bucket("a-1").await.unwrap(), Some(bucket_rec("a-1")));
    assert_eq!(s.bucket("zzz").await.unwrap(), None);
    let names: Vec<String> = s
        .list_buckets()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["a-1", "b-2"]);

    s.put_object("a-1", "k", body(b"x"), PutOptions::default())
        .await
        .unwrap();
    is(s.delete_bucket("a-1").await, |e| {
        matches!(e, StorageError::BucketNotEmpty)
    });
    is(s.delete_bucket("nope").await, |e| {
        matches!(e, StorageError::NoSuchBucket)
    });
    // A key of another bucket that sorts right after must not count.
    s.delete_bucket("b-2").await.unwrap();
    s.delete_object("a-1", "k").await.unwrap();
    s.delete_bucket("a-1").await.unwrap();
    assert!(s.list_buckets().await.unwrap().is_empty());
}

async fn missing_bucket_everywhere(env: Env) {
    let s = &env.store;
    let nsb = |e: &StorageError| matches!(e, StorageError::NoSuchBucket);
    is(
        s.put_object("nope", "k", body(b"x"), PutOptions::default())
            .await,
        nsb,
    );
    is(s.head_object("nope", "k").await, nsb);
    is(s.open_object("nope", "k").await.map(|r| r.record), nsb);
    is(s.delete_object("nope", "k").await, nsb);
    is(
        s.list_objects(
            "nope",
            &ListQuery {
                max_keys: 10,
                ..Default::default()
            },
        )
        .await,
        nsb,
    );
    is(s.list_objects("nope", &ListQuery::default()).await, nsb);
    assert_eq!(blob_count(&env).await, 0);
}

// ---------------------------------------------------------------------------
// Objects

async fn put_head_open_stream(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let data = b"hello world";
    // CRC-64/XZ check value of "123456789" (the catalogue's, not computed here).
    let check = put(s, "check", b"123456789").await;
    assert_eq!(check.crc64, 0x995D_C9BB_DF19_39FA);
    let mut opts = PutOptions::default();
    opts.headers.content_type = Some("text/plain".into());
    let rec = s.put_object(B, "greeting", body(data), opts).await.unwrap();
    assert_eq!(rec.size, 11);
    assert_eq!(rec.etag, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    let mut crc = crc64fast::Digest::new();
    crc.write(data);
    assert_eq!(rec.crc64, crc.sum64());
    assert_eq!(rec.storage_class, "STANDARD");
    assert_eq!(s.head_object(B, "greeting").await.unwrap(), rec);
    assert_eq!(
        s.head_object(B, "greeting")
            .await
            .unwrap()
            .headers
            .content_type
            .as_deref(),
        Some("text/plain")
    );
    is(s.head_object(B, "other").await, |e| {
        matches!(e, StorageError::NoSuchKey)
    });
    is(s.open_object(B, "other").await.map(|r| r.record), |e| {
        matches!(e, StorageError::NoSuchKey)
    });

    for (range, want) in [
        (0..11, &data[..]),
        (0..5, b"hello"),
        (6..11, b"world"),
        (3..3, b""),
        (6..99, b"world"),
    ] {
        let reader = s.open_object(B, "greeting").await.unwrap();
        assert_eq!(reader.len(), 11);
        assert_eq!(
            read_all(reader.stream(range.clone())).await,
            want,
            "range {range:?}"
        );
    }

    let opts = PutOptions {
        storage_class: "STANDARD_IA".into(),
        ..Default::default()
    };
    assert_eq!(
        s.put_object(B, "ia", body(b"1"), opts)
            .await
            .unwrap()
            .storage_class,
        "STANDARD_IA"
    );
    assert_eq!(s.delete_object(B, "greeting").await.unwrap(), Some(rec));
    assert_eq!(s.delete_object(B, "greeting").await.unwrap(), None);
}

async fn empty_object_has_no_blob(env: Env) {
    with_bucket(&env).await;
    let rec = put(&env.store, "dir/", b"").await;
    assert_eq!(rec.size, 0);
    assert_eq!(rec.etag, "d41d8cd98f00b204e9800998ecf8427e");
    assert!(rec.segments.is_empty());
    assert_eq!(get(&env.store, "dir/").await, b"");
    assert_eq!(blob_count(&env).await, 0);
}

async fn multi_segment_ranges(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    // Sizes straddle the file backend's inline-read (64 KiB) and chunk (1 MiB) sizes.
    let a = payload(1, 100 * 1024);
    let b = payload(2, 2 * 1024 * 1024 + 12345);
    let c = payload(3, 3);
    let (ia, ib, ic) = (
        new_blob(s, &a).await,
        new_blob(s, &b).await,
        new_blob(s, &c).await,
    );
    // The second segment uses only part of blob b, from an offset.
    let segs = vec![
        Segment {
            blob: ia.clone(),
            offset: 0,
            len: a.len() as u64,
        },
        Segment {
            blob: ib.clone(),
            offset: 1000,
            len: 2 * 1024 * 1024,
        },
        Segment {
            blob: ic.clone(),
            offset: 0,
            len: 3,
        },
    ];
    let mut whole = a.clone();
    whole.extend_from_slice(&b[1000..1000 + 2 * 1024 * 1024]);
    whole.extend_from_slice(&c);
    let fresh = [ia, ib, ic];
    s.meta()
        .put_object(B, "manifest", record(segs), &fresh, WriteCondition::None)
        .await
        .unwrap();

    let n = whole.len() as u64;
    let a_end = a.len() as u64;
    let b_end = a_end + 2 * 1024 * 1024;
    let mut ranges = vec![
        0..n,
        0..1,
        n - 1..n,
        a_end - 1..a_end + 1,
        b_end - 1..b_end + 1,
        a_end..b_end,
    ];
    ranges.extend([
        a_end - 10..n,
        5..b_end - 5,
        b_end..n,
        70_000..70_000 + 64 * 1024 + 1,
        1..n - 1,
    ]);
    let mut x = 12345u64;
    for _ in 0..20 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let start = (x >> 11) % n;
        let len = (x >> 40) % (n - start + 1);
        ranges.push(start..start + len);
    }
    for r in ranges {
        let reader = s.open_object(B, "manifest").await.unwrap();
        let got = read_all(reader.stream(r.clone())).await;
        assert!(
            got == whole[r.start as usize..r.end as usize],
            "range {r:?}"
        );
    }
    // Fresh blobs referenced by the record are counted: deleting frees all three.
    s.delete_object(B, "manifest").await.unwrap();
    assert_eq!(blob_count(&env).await, 0);
}

async fn overwrite_frees_old_blob(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let v1 = put(s, "k", b"version one").await;
    let v2 = put(s, "k", b"version two!").await;
    assert_ne!(v1.segments[0].blob, v2.segments[0].blob);
    assert_eq!(get(s, "k").await, b"version two!");
    is(
        s.blobs().open(&v1.segments[0].blob).await.map(|r| r.len()),
        |e| matches!(e, StorageError::NoSuchKey),
    );
    assert_eq!(blob_count(&env).await, 1);
}

async fn reader_before_overwrite_keeps_old_bytes(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    for (key, len) in [("small", 1000), ("large", 3 * 1024 * 1024 + 7)] {
        let old = payload(10, len);
        let v1 = put(s, key, &old).await;
        let reader = s.open_object(B, key).await.unwrap();
        put(s, key, &payload(11, len)).await;
        // The old blob is gone from the store, yet the opened reader still streams it.
        is(
            s.blobs().open(&v1.segments[0].blob).await.map(|r| r.len()),
            |e| matches!(e, StorageError::NoSuchKey),
        );
        assert!(read_all(reader.stream(0..len as u64)).await == old, "{key}");
        assert!(get(s, key).await == payload(11, len), "{key}");
    }
    assert_eq!(blob_count(&env).await, 2);
}

async fn odd_keys_are_just_keys(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let keys = [
        "a",
        "a/b",
        "a/b/c",
        "日本語/ファイル.txt",
        "emoji-😀",
        "100%",
        "a+b",
        "with space",
        "../../etc/passwd",
        "a//b/./c/../d",
        "/leading",
    ];
    for k in keys {
        put(s, k, k.as_bytes()).await;
    }
    for k in keys {
        assert_eq!(get(s, k).await, k.as_bytes(), "{k}");
    }
    let page = s
        .list_objects(
            B,
            &ListQuery {
                max_keys: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut want: Vec<&str> = keys.to_vec();
    want.sort();
    let got: Vec<&str> = page.objects.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(got, want);

    if let Some(dir) = env.data_dir() {
        let mut top: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        top.sort();
        assert_eq!(top, ["blobs", "meta.redb", "tmp"]);
        for f in files_under(dir) {
            let p = f.to_string_lossy().to_string();
            assert!(
                !p.contains("passwd") && !p.contains("etc") && !p.contains("space"),
                "{p}"
            );
        }
    }
}

async fn failed_puts_leave_nothing(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let data = payload(5, 3 * 1024 * 1024);

    let opts = PutOptions {
        content_md5: Some([0u8; 16]),
        ..Default::default()
    };
    is(s.put_object(B, "k", body(&data), opts).await, |e| {
        matches!(e, StorageError::BadDigest)
    });

    let opts = PutOptions {
        content_length: Some(data.len() as u64 + 1),
        ..Default::default()
    };
    is(s.put_object(B, "k", body(&data), opts).await, |e| {
        matches!(e, StorageError::IncompleteBody)
    });

    // Declared too large: refused before reading. Undeclared: refused while streaming.
    let opts = PutOptions {
        max_size: 1024,
        content_length: Some(data.len() as u64),
        ..Default::default()
    };
    is(s.put_object(B, "k", body(&data), opts).await, |e| {
        matches!(e, StorageError::TooLarge)
    });
    let opts = PutOptions {
        max_size: 2 * 1024 * 1024,
        ..Default::default()
    };
    is(s.put_object(B, "k", body(&data), opts).await, |e| {
        matches!(e, StorageError::TooLarge)
    });

    // A client stream failing mid-way.
    let broken: ByteStream = Box::pin(futures_util::stream::iter(vec![
        Ok(Bytes::from(payload(6, 2 * 1024 * 1024))),
        Err(StorageError::Client("reset".into())),
    ]));
    is(
        s.put_object(B, "k", broken, PutOptions::default()).await,
        |e| matches!(e, StorageError::Client(_)),
    );

    // The right digest is accepted.
    let md5: [u8; 16] = Md5::digest(&data).into();
    let opts = PutOptions {
        content_md5: Some(md5),
        content_length: Some(data.len() as u64),
        ..Default::default()
    };
    let rec = s.put_object(B, "ok", body(&data), opts).await.unwrap();
    assert_eq!(rec.etag, md5_hex(&md5));

    is(s.head_object(B, "k").await, |e| {
        matches!(e, StorageError::NoSuchKey)
    });
    // Give the writer's background clean-up a moment, then only "ok" remains.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(blob_count(&env).await, 1);
    if let Some(dir) = env.data_dir() {
        assert!(files_under(&dir.join("tmp")).is_empty());
    }
}

async fn content_length_ignores_extra_bytes(env: Env) {
    with_bucket(&env).await;
    let opts = PutOptions {
        content_length: Some(5),
        ..Default::default()
    };
    let rec = env
        .store
        .put_object(B, "k", body(b"hello, extra"), opts)
        .await
        .unwrap();
    assert_eq!(rec.size, 5);
    assert_eq!(get(&env.store, "k").await, b"hello");
}

async fn doomed_put_refused_before_body(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    put(s, "k", b"v1").await;
    // A body that fails if read: the condition must be refused first.
    let untouchable = || -> ByteStream {
        Box::pin(futures_util::stream::once(async {
            Err(StorageError::Client("body was read".into()))
        }))
    };
    let opts = PutOptions {
        condition: WriteCondition::IfNoneMatch,
        ..Default::default()
    };
    is(s.put_object(B, "k", untouchable(), opts).await, |e| {
        matches!(e, StorageError::AlreadyExists)
    });
    let opts = PutOptions {
        condition: WriteCondition::IfMatch("nope".into()),
        ..Default::default()
    };
    is(s.put_object(B, "k", untouchable(), opts).await, |e| {
        matches!(e, StorageError::PreconditionFailed)
    });
    is(
        s.put_object("nope", "k", untouchable(), PutOptions::default())
            .await,
        |e| matches!(e, StorageError::NoSuchBucket),
    );
}

async fn if_none_match_race_one_winner(env: Env) {
    with_bucket(&env).await;
    let mut tasks = Vec::new();
    for i in 0..16u64 {
        let s = env.store.clone();
        tasks.push(tokio::spawn(async move {
            let opts = PutOptions {
                condition: WriteCondition::IfNoneMatch,
                ..Default::default()
            };
            s.put_object(B, "race", body(&payload(i, 50_000)), opts)
                .await
        }));
    }
    let mut winners = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(_) => winners.push(i as u64),
            Err(StorageError::AlreadyExists) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one writer wins");
    assert!(get(&env.store, "race").await == payload(winners[0], 50_000));
    assert_eq!(blob_count(&env).await, 1);
}

async fn if_match(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let cond = |c: WriteCondition| PutOptions {
        condition: c,
        ..Default::default()
    };
    is(
        s.put_object(
            B,
            "k",
            body(b"x"),
            cond(WriteCondition::IfMatch("abc".into())),
        )
        .await,
        |e| matches!(e, StorageError::PreconditionFailed),
    );
    let v1 = put(s, "k", b"v1").await;
    is(
        s.put_object(
            B,
            "k",
            body(b"x"),
            cond(WriteCondition::IfMatch("abc".into())),
        )
        .await,
        |e| matches!(e, StorageError::PreconditionFailed),
    );
    let v2 = s
        .put_object(
            B,
            "k",
            body(b"v2"),
            cond(WriteCondition::IfMatch(v1.etag.clone())),
        )
        .await
        .unwrap();
    assert_eq!(get(s, "k").await, b"v2");
    // The binding check is the commit's: a record committed under a stale etag fails there.
    let rec = record(v2.segments.clone());
    is(
        s.meta()
            .put_object(B, "k", rec, &[], WriteCondition::IfMatch(v1.etag))
            .await,
        |e| matches!(e, StorageError::PreconditionFailed),
    );
    assert_eq!(blob_count(&env).await, 1);
}

async fn overwrite_storm_readers_see_whole_versions(env: Env) {
    with_bucket(&env).await;
    const LEN: usize = 150 * 1024;
    let payloads: Vec<Vec<u8>> = (0..4u64).map(|i| payload(100 + i, LEN)).collect();
    put(&env.store, "hot", &payloads[0]).await;
    let mut writers = Vec::new();
    for w in 0..3usize {
        let s = env.store.clone();
        let payloads = payloads.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..12 {
                put(&s, "hot", &payloads[(w + i) % payloads.len()]).await;
            }
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..3 {
        let s = env.store.clone();
        let payloads = payloads.clone();
        readers.push(tokio::spawn(async move {
            for _ in 0..20 {
                let got = get(&s, "hot").await;
                assert!(
                    payloads.contains(&got),
                    "a reader saw a torn or unknown version"
                );
                tokio::task::yield_now().await;
            }
        }));
    }
    for t in writers.into_iter().chain(readers) {
        t.await.unwrap();
    }
    assert_eq!(blob_count(&env).await, 1);
}

// ---------------------------------------------------------------------------
// Listing

async fn put_keys(env: &Env, keys: &[&str]) {
    for k in keys {
        put(&env.store, k, b"").await;
    }
}

fn q(prefix: &str, delimiter: &str, marker: &str, max_keys: usize) -> ListQuery {
    ListQuery {
        prefix: prefix.into(),
        delimiter: delimiter.into(),
        marker: marker.into(),
        max_keys,
    }
}

/// (objects, common prefixes, is_truncated, next_marker) of one page.
type Page = (Vec<String>, Vec<String>, bool, Option<String>);

async fn list(env: &Env, query: ListQuery) -> Page {
    let p = env.store.list_objects(B, &query).await.unwrap();
    (
        p.objects.into_iter().map(|(k, _)| k).collect(),
        p.common_prefixes,
        p.is_truncated,
        p.next_marker,
    )
}

fn page(objects: &[&str], prefixes: &[&str], truncated: bool, next: Option<&str>) -> Page {
    (
        objects.iter().map(|s| s.to_string()).collect(),
        prefixes.iter().map(|s| s.to_string()).collect(),
        truncated,
        next.map(str::to_string),
    )
}

const LIST_KEYS: &[&str] = &[
    "a", "a.", "a/", "a/b", "a/b/c", "a/c", "a0", "b", "b/x/y", "b/z", "c/", "c/d/", "d", "é",
    "é/x",
];

async fn list_delimiter_and_markers(env: Env) {
    with_bucket(&env).await;
    put_keys(&env, LIST_KEYS).await;
    let all: Vec<&str> = LIST_KEYS.to_vec();
    // No delimiter: everything in byte order ("a." < "a/" < "a0", "é" after ASCII).
    assert_eq!(
        list(&env, q("", "", "", 1000)).await,
        page(&all, &[], false, None)
    );
    // Delimiter: keys around "/" roll up or not.
    assert_eq!(
        list(&env, q("", "/", "", 1000)).await,
        page(
            &["a", "a.", "a0", "b", "d", "é"],
            &["a/", "b/", "c/", "é/"],
            false,
            None
        )
    );
    assert_eq!(
        list(&env, q("a/", "/", "", 1000)).await,
        page(&["a/", "a/b", "a/c"], &["a/b/"], false, None)
    );
    assert_eq!(
        list(&env, q("a", "/", "", 1000)).await,
        page(&["a", "a.", "a0"], &["a/"], false, None)
    );
    assert_eq!(
        list(&env, q("c/", "/", "", 1000)).await,
        page(&["c/"], &["c/d/"], false, None)
    );
    assert_eq!(
        list(&env, q("zz", "/", "", 1000)).await,
        page(&[], &[], false, None)
    );
    // Common prefixes count against max_keys; next_marker may be one.
    assert_eq!(
        list(&env, q("", "/", "", 3)).await,
        page(&["a", "a."], &["a/"], true, Some("a/"))
    );
    // A marker equal to a common prefix resumes after everything under it...
    assert_eq!(
        list(&env, q("", "/", "a/", 2)).await,
        page(&["a0", "b"], &[], true, Some("b"))
    );
    // ...and so does a marker inside one (every entry sorts after the marker).
    assert_eq!(
        list(&env, q("", "/", "a/b", 2)).await,
        page(&["a0", "b"], &[], true, Some("b"))
    );
    assert_eq!(
        list(&env, q("", "/", "b", 2)).await,
        page(&[], &["b/", "c/"], true, Some("c/"))
    );
    // Without a delimiter the marker is just a key.
    assert_eq!(
        list(&env, q("", "", "a/", 2)).await,
        page(&["a/b", "a/b/c"], &[], true, Some("a/b/c"))
    );
    assert_eq!(
        list(&env, q("", "", "é/x", 5)).await,
        page(&[], &[], false, None)
    );
    // A multi-character delimiter.
    assert_eq!(list(&env, q("", "/x", "", 1000)).await.1, ["b/x", "é/x"]);
    // max_keys 0: an empty page that is not truncated.
    assert_eq!(
        list(&env, q("", "/", "", 0)).await,
        page(&[], &[], false, None)
    );
}

/// The definition, computed naively: map every key with the prefix to its
/// entry (key or common prefix), keep entries after the marker, dedupe, cut.
fn model(keys: &[&str], query: &ListQuery) -> Page {
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort();
    let mut entries: Vec<(String, bool)> = Vec::new();
    for k in sorted.into_iter().filter(|k| k.starts_with(&query.prefix)) {
        let rest = &k[query.prefix.len()..];
        let entry = match (!query.delimiter.is_empty())
            .then(|| rest.find(&query.delimiter))
            .flatten()
        {
            Some(at) => (
                k[..query.prefix.len() + at + query.delimiter.len()].to_string(),
                true,
            ),
            None => (k.to_string(), false),
        };
        if entry.0.as_str() > query.marker.as_str() && entries.last() != Some(&entry) {
            entries.push(entry);
        }
    }
    let truncated = entries.len() > query.max_keys;
    entries.truncate(query.max_keys);
    let next = if truncated {
        entries.last().map(|e| e.0.clone())
    } else {
        None
    };
    let objects = entries
        .iter()
        .filter(|e| !e.1)
        .map(|e| e.0.clone())
        .collect();
    let prefixes = entries
        .iter()
        .filter(|e| e.1)
        .map(|e| e.0.clone())
        .collect();
    (objects, prefixes, truncated, next)
}

async fn list_matches_model(env: Env) {
    with_bucket(&env).await;
    put_keys(&env, LIST_KEYS).await;
    for prefix in ["", "a", "a/", "b/", "c", "é", "q"] {
        for delimiter in ["", "/", "b", "/x"] {
            for marker in [
                "", "a", "a/", "a/b", "a/b/c", "a0", "b/", "b/x", "c/d/", "zz",
            ] {
                for max_keys in [1, 2, 3, 5, 1000] {
                    let query = q(prefix, delimiter, marker, max_keys);
                    assert_eq!(
                        list(&env, query.clone()).await,
                        model(LIST_KEYS, &query),
                        "{query:?}"
                    );
                }
            }
        }
    }
}

async fn list_paging_collects_everything(env: Env) {
    with_bucket(&env).await;
    let mut keys: Vec<String> = Vec::new();
    for d in 0..7 {
        for f in 0..(d * 13 + 1) {
            keys.push(format!("dir{d}/file{f:03}"));
        }
        keys.push(format!("top{d}"));
    }
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    put_keys(&env, &refs).await;
    for (delimiter, max_keys) in [
        ("", 7),
        ("", 1),
        ("/", 1),
        ("/", 3),
        ("", 1000),
        ("/", 1000),
    ] {
        let mut marker = String::new();
        let (mut objects, mut prefixes) = (Vec::new(), Vec::new());
        let mut pages = 0;
        loop {
            let (o, p, truncated, next) = list(&env, q("", delimiter, &marker, max_keys)).await;
            assert!(o.len() + p.len() <= max_keys);
            objects.extend(o);
            prefixes.extend(p);
            pages += 1;
            if !truncated {
                assert_eq!(next, None);
                break;
            }
            marker = next.unwrap();
        }
        let want = model(&refs, &q("", delimiter, "", 100_000));
        assert_eq!(
            (objects, prefixes),
            (want.0, want.1),
            "delimiter {delimiter:?} max_keys {max_keys}"
        );
        assert!(pages >= 1);
    }
}

// ---------------------------------------------------------------------------
// Copy and reference counts

async fn copy_shares_blob_and_survives_source_delete(env: Env) {
    with_bucket(&env).await;
    env.store
        .create_bucket(bucket_rec("other-1250000000"))
        .await
        .unwrap();
    let s = &env.store;
    let data = payload(7, 200_000);
    let src = put(s, "src", &data).await;
    let dst = s
        .copy_object(
            B,
            "src",
            "other-1250000000",
            "dst",
            WriteCondition::None,
            |r| {
                let mut r = r.clone();
                r.headers.content_type = Some("image/png".into());
                Ok::<_, StorageError>(r)
            },
        )
        .await
        .unwrap();
    assert_eq!(dst.segments, src.segments);
    assert_eq!(
        s.head_object("other-1250000000", "dst")
            .await
            .unwrap()
            .headers
            .content_type
            .as_deref(),
        Some("image/png")
    );
    // Copy onto itself keeps the shared blob alive.
    s.copy_object(B, "src", B, "src", WriteCondition::None, |r| {
        Ok::<_, StorageError>(r.clone())
    })
    .await
    .unwrap();
    assert_eq!(blob_count(&env).await, 1);

    s.delete_object(B, "src").await.unwrap();
    assert_eq!(blob_count(&env).await, 1);
    let reader = s.open_object("other-1250000000", "dst").await.unwrap();
    assert!(read_all(reader.stream(0..data.len() as u64)).await == data);
    s.delete_object("other-1250000000", "dst").await.unwrap();
    assert_eq!(blob_count(&env).await, 0);
}

async fn copy_errors(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let same = |r: &ObjectRecord| Ok::<_, StorageError>(r.clone());
    is(
        s.copy_object(B, "missing", B, "dst", WriteCondition::None, same)
            .await,
        |e| matches!(e, StorageError::NoSuchKey),
    );
    is(
        s.copy_object("nope", "k", B, "dst", WriteCondition::None, same)
            .await,
        |e| matches!(e, StorageError::NoSuchBucket),
    );
    put(s, "src", b"data").await;
    put(s, "dst", b"old").await;
    is(
        s.copy_object(B, "src", "nope", "dst", WriteCondition::None, same)
            .await,
        |e| matches!(e, StorageError::NoSuchBucket),
    );
    is(
        s.copy_object(B, "src", B, "dst", WriteCondition::IfNoneMatch, same)
            .await,
        |e| matches!(e, StorageError::AlreadyExists),
    );
    // Errors of `build` come back as they are.
    #[derive(Debug)]
    enum MyErr {
        Storage,
        Refused,
    }
    impl From<StorageError> for MyErr {
        fn from(_: StorageError) -> Self {
            MyErr::Storage
        }
    }
    let r = s
        .copy_object(B, "src", B, "dst", WriteCondition::None, |_| {
            Err::<ObjectRecord, _>(MyErr::Refused)
        })
        .await;
    assert!(matches!(r, Err(MyErr::Refused)));
    let r = s
        .copy_object(B, "gone", B, "dst", WriteCondition::None, |r| {
            Ok::<_, MyErr>(r.clone())
        })
        .await;
    assert!(matches!(r, Err(MyErr::Storage)));
    // Reusing a blob that nothing references is a conflict at the index.
    let ghost = record(vec![Segment {
        blob: BlobId::generate(),
        offset: 0,
        len: 1,
    }]);
    is(
        s.meta()
            .put_object(B, "ghost", ghost, &[], WriteCondition::None)
            .await,
        |e| matches!(e, StorageError::Conflict),
    );
    assert_eq!(get(s, "dst").await, b"old");
    assert_eq!(blob_count(&env).await, 2);
}

async fn copy_racing_delete(env: Env) {
    with_bucket(&env).await;
    let mut copied = 0;
    for round in 0..20u64 {
        let data = payload(round, 20_000);
        put(&env.store, "src", &data).await;
        let s = env.store.clone();
        let copy = tokio::spawn(async move {
            s.copy_object(B, "src", B, "dst", WriteCondition::None, |r| {
                Ok::<_, StorageError>(r.clone())
            })
            .await
        });
        let s = env.store.clone();
        let delete = tokio::spawn(async move { s.delete_object(B, "src").await });
        delete.await.unwrap().unwrap();
        match copy.await.unwrap() {
            // A copy that won streams the source's bytes, from the shared blob.
            Ok(_) => {
                copied += 1;
                assert!(get(&env.store, "dst").await == data);
            }
            Err(StorageError::NoSuchKey) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
        if let Some(dst) = env.store.delete_object(B, "dst").await.unwrap() {
            assert_eq!(dst.size, 20_000);
        }
        assert_eq!(blob_count(&env).await, 0, "round {round}");
    }
    assert!(copied <= 20);
}

async fn refcounts_back_to_zero(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    for i in 0..10u64 {
        put(s, &format!("k{i}"), &payload(i, 1000 + i as usize)).await;
    }
    for i in 0..5 {
        put(s, &format!("k{i}"), b"overwritten").await;
        let (src, dst) = (format!("k{i}"), format!("copy{i}"));
        s.copy_object(B, &src, B, &dst, WriteCondition::None, |r| {
            Ok::<_, StorageError>(r.clone())
        })
        .await
        .unwrap();
    }
    assert_eq!(blob_count(&env).await, 10);
    let page = s
        .list_objects(
            B,
            &ListQuery {
                max_keys: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.objects.len(), 15);
    for (k, _) in page.objects {
        s.delete_object(B, &k).await.unwrap();
    }
    assert_eq!(blob_count(&env).await, 0);
    s.delete_bucket(B).await.unwrap();
}

/// The 64 MiB body of `stream_64_mib`: 256 chunks of one random 256 KiB
/// block, each starting with its index, so no 64 MiB buffer is ever built.
const BIG_CHUNK: usize = 256 * 1024;
const BIG_CHUNKS: u64 = 256;
/// MD5 of that body, computed independently (Python hashlib).
const BIG_MD5: &str = "e7f8333de0a00f3469029fe7c5d66986";

fn big_chunk(base: &[u8], i: u64) -> Vec<u8> {
    let mut c = base.to_vec();
    c[..8].copy_from_slice(&i.to_le_bytes());
    c
}

async fn stream_64_mib(env: Env) {
    with_bucket(&env).await;
    let base = payload(1, BIG_CHUNK);
    let gen_base = base.clone();
    let body: ByteStream = Box::pin(
        futures_util::stream::iter(0..BIG_CHUNKS)
            .map(move |i| Ok(Bytes::from(big_chunk(&gen_base, i)))),
    );
    let size = BIG_CHUNKS * BIG_CHUNK as u64;
    let opts = PutOptions {
        content_length: Some(size),
        ..Default::default()
    };
    let rec = env.store.put_object(B, "big", body, opts).await.unwrap();
    assert_eq!((rec.size, rec.etag.as_str()), (size, BIG_MD5));

    // Read back and compare byte for byte (cheaper than hashing again in a
    // debug build, and stricter).
    let reader = env.store.open_object(B, "big").await.unwrap();
    let mut stream = reader.stream(0..size);
    let (mut at, mut largest) = (0usize, 0usize);
    let mut current = (u64::MAX, Vec::new());
    while let Some(c) = stream.next().await {
        let c = c.unwrap();
        largest = largest.max(c.len());
        let mut rest = &c[..];
        while !rest.is_empty() {
            let (i, off) = ((at / BIG_CHUNK) as u64, at % BIG_CHUNK);
            if current.0 != i {
                current = (i, big_chunk(&base, i));
            }
            let n = rest.len().min(BIG_CHUNK - off);
            assert!(rest[..n] == current.1[off..off + n], "bytes differ at {at}");
            rest = &rest[n..];
            at += n;
        }
    }
    assert_eq!(at as u64, size);
    assert!(largest <= 1 << 20, "chunks stay bounded");
}

// ---------------------------------------------------------------------------
// File backend only

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = payload(42, 300_000);
    {
        let env = Env {
            store: Store::open_fs(dir.path()).await.unwrap(),
            dir: None,
        };
        with_bucket(&env).await;
        put(&env.store, "a/b", &data).await;
        put(&env.store, "a", b"short").await;
    }
    let store = Store::open_fs(dir.path()).await.unwrap();
    assert_eq!(store.list_buckets().await.unwrap(), [bucket_rec(B)]);
    assert!(get(&store, "a/b").await == data);
    assert_eq!(get(&store, "a").await, b"short");
    // Reference counts survived too: deleting frees the blobs.
    store.delete_object(B, "a/b").await.unwrap();
    store.delete_object(B, "a").await.unwrap();
    assert!(files_under(&dir.path().join("blobs")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_startup_removes_temp_files_and_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let kept = {
        let store = Store::open_fs(dir.path()).await.unwrap();
        store.create_bucket(bucket_rec(B)).await.unwrap();
        put(&store, "kept", b"still here").await
    };
    // What a crash leaves: a partial write and a blob renamed but never committed.
    std::fs::write(
        dir.path()
            .join("tmp")
            .join(format!("{}.part", BlobId::generate().as_str())),
        b"partial",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("tmp").join("stray-dir")).unwrap();
    let orphan = BlobId::generate();
    let shard = dir.path().join("blobs").join(&orphan.as_str()[30..]);
    std::fs::create_dir_all(&shard).unwrap();
    std::fs::write(shard.join(orphan.as_str()), b"orphan").unwrap();
    std::fs::write(dir.path().join("blobs").join("not-a-blob"), b"ignored").unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;

    let started = std::time::Instant::now();
    let store = Store::open_fs(dir.path()).await.unwrap();
    let opened_in = started.elapsed();
    assert!(
        files_under(&dir.path().join("tmp")).is_empty(),
        "tmp/ emptied before open returns"
    );
    assert!(std::fs::read_dir(dir.path().join("tmp"))
        .unwrap()
        .next()
        .is_none());
    let orphan_path = shard.join(orphan.as_str());
    for _ in 0..100 {
        if !orphan_path.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!orphan_path.exists(), "orphan swept");
    assert!(
        store.blobs().open(&kept.segments[0].blob).await.is_ok(),
        "referenced blob kept"
    );
    assert_eq!(get(&store, "kept").await, b"still here");
    assert!(
        opened_in < Duration::from_secs(1),
        "open took {opened_in:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_many_keys_share_no_paths() {
    let env = Env::fs().await;
    with_bucket(&env).await;
    let mut ids = HashSet::new();
    for i in 0..50 {
        let rec = put(&env.store, &format!("k/{i}"), &payload(i, 10)).await;
        assert!(ids.insert(rec.segments[0].blob.clone()));
    }
    assert_eq!(blob_count(&env).await, 50);
}

/// Handlers run on a multi-threaded runtime: every future and reader the
/// facade hands out must be `Send`.
#[test]
fn store_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let s = Store::memory();
    let q = ListQuery::default();
    send(&s.put_object(B, "k", body(b""), PutOptions::default()));
    send(&s.open_object(B, "k"));
    send(&s.head_object(B, "k"));
    send(&s.delete_object(B, "k"));
    send(&s.list_objects(B, &q));
    send(&s.create_bucket(bucket_rec(B)));
    send(&s.copy_object(B, "a", B, "b", WriteCondition::None, |r| {
        Ok::<_, StorageError>(r.clone())
    }));
    send(&Store::open_fs(Path::new("/nonexistent")));
    fn reader_is_send_and_sync<T: Send + Sync>() {}
    reader_is_send_and_sync::<localcos::storage::ObjectReader>();
    reader_is_send_and_sync::<Store>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_damaged_blob_id_never_becomes_a_path() {
    let env = Env::fs().await;
    with_bucket(&env).await;
    let evil: BlobId = serde_json::from_str("\"../../../../etc/passwd\"").unwrap();
    let rec = record(vec![Segment {
        blob: evil.clone(),
        offset: 0,
        len: 10,
    }]);
    env.store
        .meta()
        .put_object(
            B,
            "evil",
            rec,
            std::slice::from_ref(&evil),
            WriteCondition::None,
        )
        .await
        .unwrap();
    is(
        env.store.open_object(B, "evil").await.map(|r| r.record),
        |e| matches!(e, StorageError::Corrupt(_)),
    );
    is(env.store.blobs().delete(&evil).await, |e| {
        matches!(e, StorageError::Corrupt(_))
    });
    is(env.store.blobs().create(&evil).await.map(|_| ()), |e| {
        matches!(e, StorageError::Corrupt(_))
    });
}
