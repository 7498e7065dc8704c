//! Conformance cases for buckets and single objects: put, head, ranges over
//! manifests, overwrite isolation, odd keys, failed puts, a 64 MiB round trip.

use super::*;

// Buckets

pub(super) async fn buckets_create_list_delete(env: Env) {
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

pub(super) async fn missing_bucket_everywhere(env: Env) {
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

// Objects

pub(super) async fn put_head_open_stream(env: Env) {
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

pub(super) async fn empty_object_has_no_blob(env: Env) {
    with_bucket(&env).await;
    let rec = put(&env.store, "dir/", b"").await;
    assert_eq!(rec.size, 0);
    assert_eq!(rec.etag, "d41d8cd98f00b204e9800998ecf8427e");
    assert!(rec.segments.is_empty());
    assert_eq!(get(&env.store, "dir/").await, b"");
    assert_eq!(blob_count(&env).await, 0);
}

pub(super) async fn multi_segment_ranges(env: Env) {
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

pub(super) async fn same_blob_twice_in_manifest(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let id = new_blob(s, b"0123456789").await;
    let segs = vec![
        Segment {
            blob: id.clone(),
            offset: 5,
            len: 5,
        },
        Segment {
            blob: id.clone(),
            offset: 0,
            len: 5,
        },
    ];
    let fresh = [id];
    s.meta()
        .put_object(B, "rotated", record(segs), &fresh, WriteCondition::None)
        .await
        .unwrap();
    assert_eq!(get(s, "rotated").await, b"5678901234");
    let reader = s.open_object(B, "rotated").await.unwrap();
    assert_eq!(read_all(reader.stream(3..7)).await, b"8901");
    // One reference per record, however many segments use the blob.
    s.delete_object(B, "rotated").await.unwrap();
    assert_eq!(blob_count(&env).await, 0);
}

pub(super) async fn overwrite_frees_old_blob(env: Env) {
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

pub(super) async fn reader_before_overwrite_keeps_old_bytes(env: Env) {
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

pub(super) async fn odd_keys_are_just_keys(env: Env) {
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
        assert_eq!(top, ["FORMAT", "blobs", "meta.redb", "tmp"]);
        for f in files_under(dir) {
            let p = f.to_string_lossy().to_string();
            assert!(
                !p.contains("passwd") && !p.contains("etc") && !p.contains("space"),
                "{p}"
            );
        }
    }
}

pub(super) async fn failed_puts_leave_nothing(env: Env) {
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

pub(super) async fn cancelled_put_leaves_nothing(env: Env) {
    with_bucket(&env).await;
    // 3 MiB arrive, then the client stalls and the request is dropped.
    let chunks = (0..3u64).map(|i| Ok(Bytes::from(payload(i, 1 << 20))));
    let stalled: ByteStream =
        Box::pin(futures_util::stream::iter(chunks).chain(futures_util::stream::pending()));
    let s = env.store.clone();
    let task =
        tokio::spawn(async move { s.put_object(B, "k", stalled, PutOptions::default()).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    tokio::time::sleep(Duration::from_millis(200)).await;
    is(env.store.head_object(B, "k").await, |e| {
        matches!(e, StorageError::NoSuchKey)
    });
    assert_eq!(blob_count(&env).await, 0);
    if let Some(dir) = env.data_dir() {
        assert!(files_under(&dir.join("tmp")).is_empty());
    }
}

pub(super) async fn content_length_ignores_extra_bytes(env: Env) {
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

pub(super) async fn doomed_put_refused_before_body(env: Env) {
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

pub(super) async fn stream_64_mib(env: Env) {
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
