//! Conformance cases for Append Object (`Store::append_object` over
//! `MetaStore::append_object`): one blob per append and no copying, the
//! combined CRC, racing appends, failures leaving nothing, PUT freeing the
//! segments, and the versioned `null` version.

use localcos::storage::append::{AppendOptions, Appended};
use localcos::storage::Versioning;

use super::*;

async fn append(store: &Store, key: &str, pos: u64, data: &[u8]) -> Result<Appended, StorageError> {
    let opts = AppendOptions {
        content_length: data.len() as u64,
        ..Default::default()
    };
    store.append_object(B, key, pos, body(data), opts).await
}

fn crc(data: &[u8]) -> u64 {
    let mut d = crc64fast::Digest::new();
    d.write(data);
    d.sum64()
}

pub(super) async fn append_adds_one_blob_per_append(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let parts = [payload(1, 30_000), payload(2, 1), payload(3, 70_000)];
    let mut whole = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let done = append(s, "log", whole.len() as u64, p).await.unwrap();
        whole.extend_from_slice(p);
        assert_eq!(done.record.size, whole.len() as u64);
        assert_eq!(done.record.crc64, crc(&whole), "combined CRC after {i}");
        assert_eq!(done.record.segments.len(), i + 1);
        assert!(done.record.appendable);
        assert_eq!(blob_count(&env).await, i + 1, "earlier blobs untouched");
    }
    assert_eq!(get(s, "log").await, whole);
    let head = s.head_object(B, "log").await.unwrap();
    assert_eq!(head.crc64, crc(&whole));
    // An empty append adds no blob.
    let done = append(s, "log", whole.len() as u64, b"").await.unwrap();
    assert_eq!(done.record.segments.len(), 3);
    assert_eq!(blob_count(&env).await, 3);
    // PUT over it frees every segment.
    put(s, "log", b"normal").await;
    assert!(!s.head_object(B, "log").await.unwrap().appendable);
    assert_eq!(blob_count(&env).await, 1);
    is(append(s, "log", 6, b"x").await, |e| {
        matches!(e, StorageError::NotAppendable)
    });
    s.delete_object(B, "log").await.unwrap();
    assert_eq!(blob_count(&env).await, 0);
}

pub(super) async fn append_errors_leave_nothing(env: Env) {
    let s = &env.store;
    is(append(s, "k", 0, b"x").await, |e| {
        matches!(e, StorageError::NoSuchBucket)
    });
    with_bucket(&env).await;
    is(append(s, "k", 1, b"x").await, |e| {
        matches!(e, StorageError::AppendPosition { next: 0 })
    });
    append(s, "k", 0, b"abc").await.unwrap();
    is(append(s, "k", 2, b"x").await, |e| {
        matches!(e, StorageError::AppendPosition { next: 3 })
    });
    let before = s.head_object(B, "k").await.unwrap();
    let bad_md5 = AppendOptions {
        content_length: 3,
        content_md5: Some([0; 16]),
        ..Default::default()
    };
    is(
        s.append_object(B, "k", 3, body(b"def"), bad_md5).await,
        |e| matches!(e, StorageError::BadDigest),
    );
    let short = AppendOptions {
        content_length: 10,
        ..Default::default()
    };
    is(s.append_object(B, "k", 3, body(b"def"), short).await, |e| {
        matches!(e, StorageError::IncompleteBody)
    });
    let huge = AppendOptions {
        content_length: localcos::storage::append::MAX_APPENDABLE_SIZE,
        ..Default::default()
    };
    is(s.append_object(B, "k", 3, body(b"def"), huge).await, |e| {
        matches!(e, StorageError::TooLarge)
    });
    assert_eq!(s.head_object(B, "k").await.unwrap(), before);
    assert_eq!(blob_count(&env).await, 1);
}

pub(super) async fn append_race_one_winner(env: Env) {
    with_bucket(&env).await;
    append(&env.store, "race", 0, b"base").await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16u64 {
        let s = env.store.clone();
        tasks.push(tokio::spawn(async move {
            append(&s, "race", 4, &payload(i, 20_000)).await
        }));
    }
    let mut winners = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(_) => winners.push(i as u64),
            Err(StorageError::AppendPosition { next: 20_004 }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one append at one position wins");
    let mut want = b"base".to_vec();
    want.extend_from_slice(&payload(winners[0], 20_000));
    assert_eq!(get(&env.store, "race").await, want);
    assert_eq!(blob_count(&env).await, 2, "the losers' blobs are gone");
}

pub(super) async fn append_on_versioned_bucket(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    s.set_versioning(B, Versioning::Enabled).await.unwrap();
    let done = append(s, "v", 0, b"ab").await.unwrap();
    assert_eq!(done.record.version_id.as_deref(), Some("null"));
    append(s, "v", 2, b"cd").await.unwrap();
    let page = s
        .list_versions(
            B,
            &localcos::storage::VersionsQuery {
                max_keys: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 1, "grown in place: one version");
    // A PUT stacks a normal version on top; the appendable one stays.
    put(s, "v", b"new").await;
    is(append(s, "v", 3, b"x").await, |e| {
        matches!(e, StorageError::NotAppendable)
    });
    let null = s.head_version(B, "v", Some("null")).await.unwrap();
    assert!(null.appendable);
    assert_eq!(null.size, 4);
    // Deleting every version frees every blob.
    let page = s
        .list_versions(
            B,
            &localcos::storage::VersionsQuery {
                max_keys: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for e in page.entries {
        s.delete_version(B, "v", Some(e.version_id()))
            .await
            .unwrap();
    }
    assert_eq!(blob_count(&env).await, 0);
    s.delete_bucket(B).await.unwrap();
}
