//! Conformance cases for ACL storage: bucket record updates and object ACL
//! changes that keep the bytes, headers and blob references.

use super::*;
use localcos::acl::{Acl, CannedAcl};

pub(super) async fn bucket_acl_update(env: Env) {
    let s = &env.store;
    is(
        s.set_bucket_acl(B, Acl::canned(CannedAcl::PublicRead))
            .await,
        |e| matches!(e, StorageError::NoSuchBucket),
    );
    with_bucket(&env).await;
    assert_eq!(s.bucket(B).await.unwrap().unwrap().acl, None);
    let rec = s
        .set_bucket_acl(B, Acl::canned(CannedAcl::PublicReadWrite))
        .await
        .unwrap();
    assert_eq!(rec.name, B);
    assert_eq!(rec.created_ms, 1_700_000_000_000);
    let stored = s.bucket(B).await.unwrap().unwrap();
    assert_eq!(stored.acl, Some(Acl::canned(CannedAcl::PublicReadWrite)));
    assert_eq!(s.list_buckets().await.unwrap()[0].acl, stored.acl);
}

pub(super) async fn object_acl_keeps_bytes(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    is(
        s.set_object_acl(B, "nope", None, Acl::canned(CannedAcl::Private))
            .await,
        |e| matches!(e, StorageError::NoSuchKey),
    );
    let data = payload(3, 150_000);
    let before = put(s, "k", &data).await;
    let blobs = blob_count(&env).await;
    let after = s
        .set_object_acl(B, "k", None, Acl::canned(CannedAcl::PublicRead))
        .await
        .unwrap();
    assert_eq!(after.acl, Some(Acl::canned(CannedAcl::PublicRead)));
    assert_eq!(
        ObjectRecord {
            acl: None,
            ..after.clone()
        },
        before
    );
    assert_eq!(s.head_object(B, "k").await.unwrap(), after);
    assert_eq!(get(s, "k").await, data);
    assert_eq!(blob_count(&env).await, blobs);
    // The blob is still referenced exactly once: deleting frees it.
    s.delete_object(B, "k").await.unwrap();
    assert_eq!(blob_count(&env).await, 0);
}

/// An ACL change replaces exactly the record that was read: a record with the
/// same ETag but other metadata (a concurrent overwrite with the same bytes)
/// does not match, so the overwrite is never undone.
pub(super) async fn acl_change_is_conditional_on_the_whole_record(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let first = put(s, "k", b"same bytes").await;
    let opts = PutOptions {
        headers: localcos::storage::ObjectHeaders {
            content_type: Some("text/plain".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let second = s
        .put_object(B, "k", body(b"same bytes"), opts)
        .await
        .unwrap();
    assert_eq!(first.etag, second.etag);
    let forged = ObjectRecord {
        acl: Some(Acl::canned(CannedAcl::Private)),
        ..first.clone()
    };
    is(
        s.meta().update_object_meta(B, "k", &first, forged).await,
        |e| matches!(e, StorageError::PreconditionFailed),
    );
    // Changing the bytes is not a metadata update.
    let moved = ObjectRecord {
        segments: vec![],
        ..second.clone()
    };
    is(
        s.meta().update_object_meta(B, "k", &second, moved).await,
        |e| matches!(e, StorageError::Corrupt(_)),
    );
    is(
        s.meta()
            .update_object_meta(B, "gone", &second, second.clone())
            .await,
        |e| matches!(e, StorageError::PreconditionFailed),
    );
    let current = s.head_object(B, "k").await.unwrap();
    assert_eq!(current, second);
    // Through the Store, the change applies to the current record.
    let after = s
        .set_object_acl(B, "k", None, Acl::canned(CannedAcl::PublicRead))
        .await
        .unwrap();
    assert_eq!(after.headers.content_type.as_deref(), Some("text/plain"));
    assert_eq!(get(s, "k").await, b"same bytes");
}

/// On a versioned bucket an ACL change rewrites the one version it names (the
/// latest also stays current), never adds a version, and leaves the bytes.
pub(super) async fn object_acl_per_version(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    s.set_versioning(B, localcos::storage::Versioning::Enabled)
        .await
        .unwrap();
    let v1 = put(s, "k", b"one").await.version_id.unwrap();
    let v2 = put(s, "k", b"two").await.version_id.unwrap();
    let blobs = blob_count(&env).await;
    let public = Acl::canned(CannedAcl::PublicRead);
    // The old version: only it changes.
    let old = s
        .set_object_acl(B, "k", Some(&v1), public.clone())
        .await
        .unwrap();
    assert_eq!(old.version_id.as_deref(), Some(v1.as_str()));
    assert_eq!(
        s.head_version(B, "k", Some(&v1)).await.unwrap().acl,
        Some(public.clone())
    );
    assert_eq!(s.head_object(B, "k").await.unwrap().acl, None);
    // The latest, by id: the current record and its version change together.
    s.set_object_acl(B, "k", Some(&v2), public.clone())
        .await
        .unwrap();
    assert_eq!(
        s.head_object(B, "k").await.unwrap().acl,
        Some(public.clone())
    );
    assert_eq!(
        s.head_version(B, "k", Some(&v2)).await.unwrap().acl,
        Some(public.clone())
    );
    // The latest, without an id.
    let private = Acl::canned(CannedAcl::Private);
    s.set_object_acl(B, "k", None, private.clone())
        .await
        .unwrap();
    assert_eq!(
        s.head_version(B, "k", Some(&v2)).await.unwrap().acl,
        Some(private)
    );
    assert_eq!(get(s, "k").await, b"two");
    assert_eq!(blob_count(&env).await, blobs);
    is(
        s.set_object_acl(B, "k", Some("MTg0NDUxNTc1NjIzMTQ1MDAwODg"), public)
            .await,
        |e| matches!(e, StorageError::NoSuchVersion),
    );
}
