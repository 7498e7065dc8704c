//! Conformance cases for copy (shared blobs, no bytes moved) and blob
//! reference counts.

use super::*;

// Copy and reference counts

pub(super) async fn copy_shares_blob_and_survives_source_delete(env: Env) {
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

pub(super) async fn copy_errors(env: Env) {
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

pub(super) async fn refcounts_back_to_zero(env: Env) {
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
