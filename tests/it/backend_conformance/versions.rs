//! Conformance cases for object versions (spec cos.md §6 "Versioning"):
//! ids, delete markers, the `null` version of plain and suspended writes,
//! blob reference counts across versions, the ordered versions listing with
//! markers and delimiters, and bucket deletion with versions left.

use localcos::storage::{Deletion, Versioning, VersionsQuery};

use super::*;

async fn versioned(env: &Env, state: Versioning) {
    with_bucket(env).await;
    env.store.set_versioning(B, state).await.unwrap();
}

async fn get_version(store: &Store, key: &str, v: &str) -> Vec<u8> {
    let reader = store.open_version(B, key, Some(v)).await.unwrap();
    let len = reader.len();
    read_all(reader.stream(0..len)).await
}

async fn delete(store: &Store, key: &str, v: Option<&str>) -> Deletion {
    store.delete_version(B, key, v).await.unwrap()
}

/// (key, version id, is_latest, is_marker) of every entry, in listing order.
type Row = (String, String, bool, bool);

async fn all_versions(store: &Store, prefix: &str) -> Vec<Row> {
    let q = VersionsQuery {
        prefix: prefix.into(),
        max_keys: 1000,
        ..Default::default()
    };
    let page = store.list_versions(B, &q).await.unwrap();
    assert!(!page.is_truncated);
    page.entries
        .iter()
        .map(|e| {
            (
                e.key.clone(),
                e.version_id().to_string(),
                e.is_latest,
                e.record.delete_marker,
            )
        })
        .collect()
}

fn row(key: &str, v: &str, latest: bool, marker: bool) -> Row {
    (key.into(), v.into(), latest, marker)
}

fn is_marker(e: &StorageError, id: &str) -> bool {
    matches!(e, StorageError::DeleteMarker { version_id } if version_id == id)
}

/// `r` failed with `DeleteMarker` naming marker `id`.
fn marker_err<T: std::fmt::Debug>(r: Result<T, StorageError>, id: &str) {
    match r {
        Err(e) if is_marker(&e, id) => {}
        other => panic!("expected delete marker {id}: {other:?}"),
    }
}

pub(super) async fn versions_and_delete_markers(env: Env) {
    versioned(&env, Versioning::Enabled).await;
    let s = &env.store;
    let v1 = put(s, "k", b"one").await.version_id.unwrap();
    let v2 = put(s, "k", b"two").await.version_id.unwrap();
    assert_ne!(v1, v2);
    assert!(v1 != "null" && v1.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(blob_count(&env).await, 2, "both versions keep their bytes");
    assert_eq!(get(s, "k").await, b"two");
    assert_eq!(get_version(s, "k", &v1).await, b"one");
    assert_eq!(
        s.head_object(B, "k").await.unwrap().version_id,
        Some(v2.clone())
    );

    // DELETE without a version: a marker on top, nothing freed.
    let done = delete(s, "k", None).await;
    let m = done.marker.unwrap().version_id.unwrap();
    assert!(done.removed.is_none());
    marker_err(s.head_object(B, "k").await, &m);
    marker_err(s.head_version(B, "k", Some(&m)).await, &m);
    is(s.open_object(B, "k").await.map(|r| r.record), |e| {
        matches!(e, StorageError::DeleteMarker { .. })
    });
    assert_eq!(get_version(s, "k", &v2).await, b"two");
    assert_eq!(blob_count(&env).await, 2);
    let listed = s
        .list_objects(
            B,
            &ListQuery {
                max_keys: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(listed.objects.is_empty(), "a marker hides the key");
    assert_eq!(
        all_versions(s, "").await,
        [
            row("k", &m, true, true),
            row("k", &v2, false, false),
            row("k", &v1, false, false)
        ]
    );

    // Removing the marker brings v2 back; removing v2 brings v1 back.
    let done = delete(s, "k", Some(&m)).await;
    assert!(done.removed.unwrap().delete_marker);
    assert_eq!(get(s, "k").await, b"two");
    let done = delete(s, "k", Some(&v2)).await;
    assert_eq!(done.removed.unwrap().version_id, Some(v2.clone()));
    assert_eq!(get(s, "k").await, b"one");
    assert_eq!(
        blob_count(&env).await,
        1,
        "a removed version frees its blob"
    );
    // Removing a noncurrent version leaves the current one alone.
    let v3 = put(s, "k", b"three").await.version_id.unwrap();
    delete(s, "k", Some(&v1)).await;
    assert_eq!(get(s, "k").await, b"three");
    assert_eq!(all_versions(s, "").await, [row("k", &v3, true, false)]);
    delete(s, "k", Some(&v3)).await;
    assert_eq!(blob_count(&env).await, 0);
    is(s.head_object(B, "k").await, |e| {
        matches!(e, StorageError::NoSuchKey)
    });
    s.delete_bucket(B).await.unwrap();
}

pub(super) async fn plain_object_becomes_null_version(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let plain = put(s, "k", b"plain").await;
    assert_eq!(plain.version_id, None, "never versioned: no version id");
    assert_eq!(all_versions(s, "").await, [row("k", "null", true, false)]);
    assert_eq!(get_version(s, "k", "null").await, b"plain");
    s.set_versioning(B, Versioning::Enabled).await.unwrap();
    assert_eq!(
        s.bucket(B).await.unwrap().unwrap().versioning,
        Versioning::Enabled
    );
    // Still the plain record until the key is written again.
    assert_eq!(s.head_object(B, "k").await.unwrap().version_id, None);
    let v = put(s, "k", b"new").await.version_id.unwrap();
    assert_eq!(
        all_versions(s, "").await,
        [row("k", &v, true, false), row("k", "null", false, false)]
    );
    assert_eq!(get_version(s, "k", "null").await, b"plain");
    assert_eq!(blob_count(&env).await, 2);
    let done = delete(s, "k", Some("null")).await;
    assert_eq!(done.removed.unwrap().etag, plain.etag);
    assert_eq!(blob_count(&env).await, 1);
    assert_eq!(get(s, "k").await, b"new");

    // A plain key deleted by version `null` in a bucket never versioned.
    s.create_bucket(bucket_rec("plain-1250000000"))
        .await
        .unwrap();
    s.put_object("plain-1250000000", "p", body(b"x"), PutOptions::default())
        .await
        .unwrap();
    let done = s
        .delete_version("plain-1250000000", "p", Some("null"))
        .await
        .unwrap();
    assert!(done.removed.is_some() && done.marker.is_none());
    s.delete_bucket("plain-1250000000").await.unwrap();
}

pub(super) async fn suspended_writes_replace_null(env: Env) {
    versioned(&env, Versioning::Enabled).await;
    let s = &env.store;
    let v1 = put(s, "k", b"one").await.version_id.unwrap();
    s.set_versioning(B, Versioning::Suspended).await.unwrap();
    assert_eq!(
        put(s, "k", b"null-a").await.version_id.as_deref(),
        Some("null")
    );
    assert_eq!(
        put(s, "k", b"null-b").await.version_id.as_deref(),
        Some("null")
    );
    assert_eq!(
        blob_count(&env).await,
        2,
        "the first null version was replaced"
    );
    assert_eq!(get(s, "k").await, b"null-b");
    assert_eq!(
        all_versions(s, "").await,
        [row("k", "null", true, false), row("k", &v1, false, false)]
    );
    // A suspended DELETE: the marker is the null version, replacing it.
    let done = delete(s, "k", None).await;
    assert_eq!(done.marker.unwrap().version_id.as_deref(), Some("null"));
    assert!(done.removed.is_some());
    assert_eq!(blob_count(&env).await, 1);
    marker_err(s.head_object(B, "k").await, "null");
    assert_eq!(
        all_versions(s, "").await,
        [row("k", "null", true, true), row("k", &v1, false, false)]
    );
    // Writing again replaces the null marker; enabling again stacks on top.
    put(s, "k", b"null-c").await;
    s.set_versioning(B, Versioning::Enabled).await.unwrap();
    let v2 = put(s, "k", b"two").await.version_id.unwrap();
    assert_eq!(
        all_versions(s, "").await,
        [
            row("k", &v2, true, false),
            row("k", "null", false, false),
            row("k", &v1, false, false)
        ]
    );
    assert_eq!(get_version(s, "k", "null").await, b"null-c");
    for v in [v2.as_str(), "null", v1.as_str()] {
        delete(s, "k", Some(v)).await;
    }
    assert_eq!(blob_count(&env).await, 0);
    s.delete_bucket(B).await.unwrap();
}

pub(super) async fn versions_keep_bucket_non_empty(env: Env) {
    versioned(&env, Versioning::Enabled).await;
    let s = &env.store;
    let v = put(s, "k", b"x").await.version_id.unwrap();
    let m = delete(s, "k", None)
        .await
        .marker
        .unwrap()
        .version_id
        .unwrap();
    is(s.delete_bucket(B).await, |e| {
        matches!(e, StorageError::BucketNotEmpty)
    });
    delete(s, "k", Some(&v)).await;
    is(s.delete_bucket(B).await, |e| {
        matches!(e, StorageError::BucketNotEmpty)
    });
    delete(s, "k", Some(&m)).await;
    // A marker for a key that never existed is still a version.
    delete(s, "ghost", None).await;
    is(s.delete_bucket(B).await, |e| {
        matches!(e, StorageError::BucketNotEmpty)
    });
    let m = all_versions(s, "").await[0].1.clone();
    delete(s, "ghost", Some(&m)).await;
    s.delete_bucket(B).await.unwrap();
}

pub(super) async fn unknown_versions_and_buckets(env: Env) {
    versioned(&env, Versioning::Enabled).await;
    let s = &env.store;
    let v = put(s, "k", b"x").await.version_id.unwrap();
    let nsv = |e: &StorageError| matches!(e, StorageError::NoSuchVersion);
    for bad in [
        "nope",
        "MTg0NDUxNTc1NjIzMTQ1MDAwODg",
        "",
        "null/../x",
        "ZZZ=",
    ] {
        is(s.head_version(B, "k", Some(bad)).await, nsv);
        let done = delete(s, "k", Some(bad)).await;
        assert_eq!(done, Deletion::default(), "{bad:?} changes nothing");
    }
    // Another key's version id does not name a version of this key.
    is(s.head_version(B, "other", Some(&v)).await, nsv);
    is(s.head_version(B, "k", Some("null")).await, |e| {
        matches!(e, StorageError::NoSuchKey)
    });
    let nsb = |e: &StorageError| matches!(e, StorageError::NoSuchBucket);
    is(s.set_versioning("nope", Versioning::Enabled).await, nsb);
    is(s.head_version("nope", "k", Some(&v)).await, nsb);
    is(s.delete_version("nope", "k", Some(&v)).await, nsb);
    let q = VersionsQuery {
        max_keys: 5,
        ..Default::default()
    };
    is(s.list_versions("nope", &q).await, nsb);
    assert_eq!(get(s, "k").await, b"x");
}

pub(super) async fn copy_from_old_version(env: Env) {
    versioned(&env, Versioning::Enabled).await;
    let s = &env.store;
    let v1 = put(s, "src", b"first").await.version_id.unwrap();
    let v2 = put(s, "src", b"second").await.version_id.unwrap();
    let copied = s
        .copy_version(B, "src", Some(&v1), B, "dst", WriteCondition::None, |r| {
            Ok::<_, StorageError>(r.clone())
        })
        .await
        .unwrap();
    let dv = copied.version_id.unwrap();
    assert!(dv != v1 && dv != v2, "the copy is a new version");
    assert_eq!(get(s, "dst").await, b"first");
    assert_eq!(blob_count(&env).await, 2, "no bytes copied");
    // A marker named as the source is refused; deleting every source
    // version keeps the copy's bytes.
    let m = delete(s, "src", None)
        .await
        .marker
        .unwrap()
        .version_id
        .unwrap();
    let r = s
        .copy_version(B, "src", Some(&m), B, "x", WriteCondition::None, |r| {
            Ok::<_, StorageError>(r.clone())
        })
        .await;
    marker_err(r, &m);
    for v in [&m, &v2, &v1] {
        delete(s, "src", Some(v)).await;
    }
    assert_eq!(get(s, "dst").await, b"first");
    assert_eq!(blob_count(&env).await, 1);
    delete(s, "dst", Some(&dv)).await;
    assert_eq!(blob_count(&env).await, 0);
}

/// A naive model of the versions listing over `rows` (already in order).
fn model(
    rows: &[Row],
    q: &VersionsQuery,
    after_seq: Option<usize>,
) -> (Vec<Row>, Vec<String>, bool) {
    let mut entries = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut count = 0;
    for (i, r) in rows.iter().enumerate() {
        let key = &r.0;
        if !key.starts_with(&q.prefix) {
            continue;
        }
        let after = match after_seq {
            Some(at) => key.as_str() > q.key_marker.as_str() || (*key == q.key_marker && i > at),
            None => key.as_str() > q.key_marker.as_str(),
        };
        let rest = &key[q.prefix.len()..];
        let cp = (!q.delimiter.is_empty())
            .then(|| rest.find(&q.delimiter))
            .flatten()
            .map(|at| key[..q.prefix.len() + at + q.delimiter.len()].to_string());
        if let Some(cp) = &cp {
            if prefixes.last() == Some(cp) || q.key_marker.starts_with(cp.as_str()) {
                continue;
            }
        }
        if !after {
            continue;
        }
        if count == q.max_keys {
            return (entries, prefixes, true);
        }
        count += 1;
        match cp {
            Some(cp) => prefixes.push(cp),
            None => entries.push(r.clone()),
        }
    }
    (entries, prefixes, false)
}

pub(super) async fn versions_listing_pages_and_rolls_up(env: Env) {
    versioned(&env, Versioning::Enabled).await;
    let s = &env.store;
    // Keys with 1-3 versions, some topped by markers, under and outside "d/".
    for (i, key) in ["a", "b/1", "b/2", "c", "d/x", "d/y/z", "e"]
        .iter()
        .enumerate()
    {
        for n in 0..(i % 3 + 1) {
            put(s, key, format!("{key}{n}").as_bytes()).await;
        }
        if i % 2 == 1 {
            delete(s, key, None).await;
        }
    }
    let rows = all_versions(s, "").await;
    assert_eq!(rows.len(), 1 + (2 + 1) + 3 + (1 + 1) + 2 + (3 + 1) + 1);
    // Newest first within a key; one latest per key.
    let latest: Vec<&str> = rows.iter().filter(|r| r.2).map(|r| r.0.as_str()).collect();
    assert_eq!(latest, ["a", "b/1", "b/2", "c", "d/x", "d/y/z", "e"]);
    for prefix in ["", "b/", "d", "z"] {
        for delimiter in ["", "/"] {
            for max_keys in [1, 2, 3, 1000] {
                // Page through; every page must match the model.
                let mut q = VersionsQuery {
                    prefix: prefix.into(),
                    delimiter: delimiter.into(),
                    max_keys,
                    ..Default::default()
                };
                let mut after_seq = None;
                let mut collected: Vec<Row> = Vec::new();
                let mut all_prefixes: Vec<String> = Vec::new();
                for _ in 0..100 {
                    let page = s.list_versions(B, &q).await.unwrap();
                    let got: Vec<Row> = page
                        .entries
                        .iter()
                        .map(|e| {
                            (
                                e.key.clone(),
                                e.version_id().to_string(),
                                e.is_latest,
                                e.record.delete_marker,
                            )
                        })
                        .collect();
                    let want = model(&rows, &q, after_seq);
                    assert_eq!(
                        (got.clone(), page.common_prefixes.clone(), page.is_truncated),
                        want,
                        "{q:?}"
                    );
                    collected.extend(got);
                    all_prefixes.extend(page.common_prefixes);
                    if !page.is_truncated {
                        break;
                    }
                    q.key_marker = page.next_key_marker.unwrap();
                    q.version_id_marker = page.next_version_id_marker;
                    after_seq = q.version_id_marker.as_ref().map(|v| {
                        rows.iter()
                            .position(|r| r.0 == q.key_marker && r.1 == *v)
                            .unwrap()
                    });
                }
                let full = model(
                    &rows,
                    &VersionsQuery {
                        max_keys: 1000,
                        ..q.clone()
                    }
                    .with_start(prefix),
                    None,
                );
                assert_eq!(
                    (collected, all_prefixes),
                    (full.0, full.1),
                    "{prefix:?} {delimiter:?} {max_keys}"
                );
            }
        }
    }
}

trait WithStart {
    fn with_start(self, prefix: &str) -> Self;
}

impl WithStart for VersionsQuery {
    /// The same query from the first page.
    fn with_start(mut self, prefix: &str) -> Self {
        self.prefix = prefix.into();
        self.key_marker.clear();
        self.version_id_marker = None;
        self
    }
}

pub(super) async fn concurrent_versioned_puts_stay_ordered(env: Env) {
    versioned(&env, Versioning::Enabled).await;
    let mut tasks = Vec::new();
    for i in 0..8u64 {
        let s = env.store.clone();
        tasks.push(tokio::spawn(async move {
            put(&s, "hot", &payload(i, 2000)).await.version_id.unwrap()
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        assert!(ids.insert(t.await.unwrap()), "unique ids");
    }
    let rows = all_versions(&env.store, "").await;
    assert_eq!(rows.len(), 8);
    let current = env.store.head_object(B, "hot").await.unwrap();
    assert_eq!(
        Some(&rows[0].1),
        current.version_id.as_ref(),
        "current = newest"
    );
    assert!(rows[0].2 && rows[1..].iter().all(|r| !r.2));
    assert_eq!(blob_count(&env).await, 8);
}

pub(super) async fn versions_listing_merges_plain_records(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    // Plain records from before versioning, interleaved with versioned keys.
    for key in ["a", "c", "e", "g/1", "g/2"] {
        put(s, key, key.as_bytes()).await;
    }
    s.set_versioning(B, Versioning::Enabled).await.unwrap();
    let b = put(s, "b", b"b").await.version_id.unwrap();
    let c = put(s, "c", b"c2").await.version_id.unwrap();
    let d = delete(s, "d", None)
        .await
        .marker
        .unwrap()
        .version_id
        .unwrap();
    let g = put(s, "g/1", b"g1").await.version_id.unwrap();
    let rows = all_versions(s, "").await;
    assert_eq!(
        rows,
        [
            row("a", "null", true, false),
            row("b", &b, true, false),
            row("c", &c, true, false),
            row("c", "null", false, false),
            row("d", &d, true, true),
            row("e", "null", true, false),
            row("g/1", &g, true, false),
            row("g/1", "null", false, false),
            row("g/2", "null", true, false),
        ]
    );
    for delimiter in ["", "/"] {
        for max_keys in [1, 2, 3] {
            let mut q = VersionsQuery {
                delimiter: delimiter.into(),
                max_keys,
                ..Default::default()
            };
            let mut after_seq = None;
            for _ in 0..20 {
                let page = s.list_versions(B, &q).await.unwrap();
                let got: Vec<Row> = page
                    .entries
                    .iter()
                    .map(|e| {
                        (
                            e.key.clone(),
                            e.version_id().to_string(),
                            e.is_latest,
                            e.record.delete_marker,
                        )
                    })
                    .collect();
                assert_eq!(
                    (got, page.common_prefixes.clone(), page.is_truncated),
                    model(&rows, &q, after_seq),
                    "{q:?}"
                );
                if !page.is_truncated {
                    break;
                }
                q.key_marker = page.next_key_marker.unwrap();
                q.version_id_marker = page.next_version_id_marker;
                after_seq = q.version_id_marker.as_ref().map(|v| {
                    rows.iter()
                        .position(|r| r.0 == q.key_marker && r.1 == *v)
                        .unwrap()
                });
            }
        }
    }
}

/// `delete_object_guarded` (lifecycle): acts only when the record read is
/// still what the guard says, and frees blobs like a plain delete.
pub async fn guarded_deletes(env: Env) {
    use localcos::storage::DeleteGuard;
    with_bucket(&env).await;
    let s = &env.store;
    let blobs = blob_count(&env).await;
    // Unversioned: a stale current record is refused, the fresh one removed.
    let old = put(s, "k", b"old").await;
    let new = put(s, "k", b"new").await;
    let r = s.delete_guarded(B, "k", DeleteGuard::Current(old)).await;
    assert!(matches!(r, Err(StorageError::PreconditionFailed)), "{r:?}");
    assert_eq!(get(s, "k").await, b"new");
    let d = s
        .delete_guarded(B, "k", DeleteGuard::Current(new.clone()))
        .await
        .unwrap();
    assert_eq!(d.removed.map(|r| r.etag), Some(new.etag));
    assert!(matches!(
        s.head_object(B, "k").await,
        Err(StorageError::NoSuchKey)
    ));
    assert_eq!(blob_count(&env).await, blobs, "blobs freed");
    // Versioned: Current writes a marker; Noncurrent removes an old version
    // only while it is not the latest; LatestMarker only a marker on top.
    s.set_versioning(B, Versioning::Enabled).await.unwrap();
    let v1 = put(s, "v", b"one").await;
    let v2 = put(s, "v", b"two").await;
    let r = s
        .delete_guarded(B, "v", DeleteGuard::Noncurrent(v2.clone()))
        .await;
    assert!(matches!(r, Err(StorageError::PreconditionFailed)), "{r:?}");
    let r = s
        .delete_guarded(B, "v", DeleteGuard::LatestMarker(v2.clone()))
        .await;
    assert!(matches!(r, Err(StorageError::PreconditionFailed)), "{r:?}");
    let d = s
        .delete_guarded(B, "v", DeleteGuard::Current(v2.clone()))
        .await
        .unwrap();
    let marker = d.marker.expect("a delete marker");
    let r = s
        .delete_guarded(B, "v", DeleteGuard::Current(v2.clone()))
        .await;
    assert!(matches!(r, Err(StorageError::PreconditionFailed)), "{r:?}");
    s.delete_guarded(B, "v", DeleteGuard::Noncurrent(v1.clone()))
        .await
        .unwrap();
    let r = s.delete_guarded(B, "v", DeleteGuard::Noncurrent(v1)).await;
    assert!(matches!(r, Err(StorageError::PreconditionFailed)), "{r:?}");
    s.delete_guarded(B, "v", DeleteGuard::Noncurrent(v2))
        .await
        .unwrap();
    s.delete_guarded(B, "v", DeleteGuard::LatestMarker(marker))
        .await
        .unwrap();
    assert!(s
        .meta()
        .object_version(B, "v", None)
        .await
        .unwrap()
        .is_none());
    assert_eq!(blob_count(&env).await, blobs, "every version's blob freed");
}
