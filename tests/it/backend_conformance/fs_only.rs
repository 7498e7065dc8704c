//! Cases that only make sense for the file backend: reopening, start-up
//! clean-up of temp files and orphans, damaged blob ids.

use super::*;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_reopen_keeps_versions_and_upgrades_old_indexes() {
    use localcos::storage::Versioning;
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open_fs(dir.path()).await.unwrap();
        store.create_bucket(bucket_rec(B)).await.unwrap();
        put(&store, "plain", b"from before versioning").await;
    }
    // An index written before versions existed has no `versions` table.
    {
        let db = redb::Database::create(dir.path().join("meta.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        let versions: redb::TableDefinition<(&str, &str, u64), &[u8]> =
            redb::TableDefinition::new("versions");
        assert!(txn.delete_table(versions).unwrap());
        txn.commit().unwrap();
    }
    let v = {
        let store = Store::open_fs(dir.path()).await.unwrap();
        assert_eq!(get(&store, "plain").await, b"from before versioning");
        store.set_versioning(B, Versioning::Enabled).await.unwrap();
        let v = put(&store, "plain", b"new").await.version_id.unwrap();
        store.delete_version(B, "plain", None).await.unwrap();
        v
    };
    let store = Store::open_fs(dir.path()).await.unwrap();
    assert_eq!(
        store.bucket(B).await.unwrap().unwrap().versioning,
        Versioning::Enabled
    );
    assert!(matches!(
        store.head_object(B, "plain").await,
        Err(StorageError::DeleteMarker { .. })
    ));
    let reader = store.open_version(B, "plain", Some(&v)).await.unwrap();
    assert_eq!(read_all(reader.stream(0..3)).await, b"new");
    let reader = store.open_version(B, "plain", Some("null")).await.unwrap();
    assert_eq!(reader.len(), 22);
    assert_eq!(files_under(&dir.path().join("blobs")).len(), 2);
}
