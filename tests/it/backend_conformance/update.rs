//! Conformance cases for in-place metadata updates (`Store::update_version`
//! over `MetaStore::update_object_meta`), used by archive restores: no new version, same
//! bytes and blob references, compare-and-swap against racing writes.

use localcos::storage::{Versioning, VersionsQuery};

use super::*;

fn to_archive(rec: &ObjectRecord) -> Result<ObjectRecord, StorageError> {
    let mut out = rec.clone();
    out.storage_class = "ARCHIVE".into();
    Ok(out)
}

async fn version_ids(store: &Store, key: &str) -> Vec<String> {
    let q = VersionsQuery {
        prefix: key.into(),
        max_keys: 1000,
        ..Default::default()
    };
    let page = store.list_versions(B, &q).await.unwrap();
    page.entries
        .iter()
        .map(|e| e.version_id().to_string())
        .collect()
}

pub async fn update_in_place(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    // A plain record (never-versioned bucket).
    let plain = put(s, "plain", b"plain bytes").await;
    let blobs = blob_count(&env).await;
    let updated = s
        .update_version(B, "plain", None, to_archive)
        .await
        .unwrap();
    assert_eq!(updated.storage_class, "ARCHIVE");
    let head = s.head_object(B, "plain").await.unwrap();
    assert_eq!(head, updated);
    assert_eq!(
        (head.version_id.as_deref(), &head.segments),
        (None, &plain.segments)
    );
    assert_eq!(get(s, "plain").await, b"plain bytes");
    assert_eq!(blob_count(&env).await, blobs, "no blob added or freed");

    // Compare-and-swap: a stale `expected` changes nothing.
    let stale = s
        .meta()
        .update_object_meta(B, "plain", &plain, plain.clone())
        .await;
    assert!(
        matches!(stale, Err(StorageError::PreconditionFailed)),
        "{stale:?}"
    );
    // Bytes cannot change this way.
    let mut other = head.clone();
    other.segments.clear();
    let r = s.meta().update_object_meta(B, "plain", &head, other).await;
    assert!(matches!(r, Err(StorageError::Corrupt(_))), "{r:?}");
    assert_eq!(s.head_object(B, "plain").await.unwrap(), head);

    // Versions: an old version and the latest change where they are.
    s.set_versioning(B, Versioning::Enabled).await.unwrap();
    let v1 = put(s, "k", b"one").await.version_id.unwrap();
    let v2 = put(s, "k", b"two").await.version_id.unwrap();
    let before = version_ids(s, "k").await;
    assert_eq!(before, [v2.clone(), v1.clone()]);
    s.update_version(B, "k", Some(&v1), to_archive)
        .await
        .unwrap();
    assert_eq!(
        s.head_version(B, "k", Some(&v1))
            .await
            .unwrap()
            .storage_class,
        "ARCHIVE"
    );
    let latest = s.head_object(B, "k").await.unwrap();
    assert_eq!(
        (latest.storage_class.as_str(), latest.version_id.as_deref()),
        ("STANDARD", Some(v2.as_str()))
    );
    s.update_version(B, "k", None, to_archive).await.unwrap();
    let latest = s.head_object(B, "k").await.unwrap();
    assert_eq!(
        (latest.storage_class.as_str(), latest.version_id.as_deref()),
        ("ARCHIVE", Some(v2.as_str()))
    );
    assert_eq!(version_ids(s, "k").await, before, "no version added");
    assert_eq!(get(s, "k").await, b"two");
    // The plain record is now the `null` version once written over; update it by name.
    put(s, "plain", b"newer").await;
    s.update_version(B, "plain", Some("null"), |r| {
        let mut out = r.clone();
        out.storage_class = "STANDARD_IA".into();
        Ok::<_, StorageError>(out)
    })
    .await
    .unwrap();
    let null = s.head_version(B, "plain", Some("null")).await.unwrap();
    assert_eq!(null.storage_class, "STANDARD_IA");
    assert_eq!(
        s.head_object(B, "plain").await.unwrap().storage_class,
        "STANDARD"
    );

    // Missing things, delete markers.
    s.delete_object(B, "k").await.unwrap();
    let r = s.update_version(B, "k", None, to_archive).await;
    assert!(matches!(r, Err(StorageError::DeleteMarker { .. })), "{r:?}");
    let r = s.update_version(B, "nope", None, to_archive).await;
    assert!(matches!(r, Err(StorageError::NoSuchKey)), "{r:?}");
    let r = s
        .update_version("missing-1250000000", "k", None, to_archive)
        .await;
    assert!(matches!(r, Err(StorageError::NoSuchBucket)), "{r:?}");
}
