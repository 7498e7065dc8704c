//! Conformance cases for object lock (`storage::lock`): both backends stamp
//! the retention inside the write transaction and refuse what would remove
//! or replace a retained version.

use localcos::storage::lock::{retained, ObjectLockConfig, CONFIG_NAME};
use localcos::storage::{PutOptions, Versioning};

use super::*;

async fn set_rule(store: &Store, days: u64, day_ms: i64) {
    let cfg = ObjectLockConfig {
        days: Some(days),
        mode: None,
        day_ms,
    };
    let value = serde_json::to_value(cfg).unwrap();
    store
        .meta()
        .update_bucket(
            B,
            Box::new(move |rec| {
                rec.configs.insert(CONFIG_NAME.to_string(), value);
            }),
        )
        .await
        .unwrap();
}

fn locked<T: std::fmt::Debug>(r: Result<T, StorageError>) {
    assert!(matches!(r, Err(StorageError::ObjectLocked)), "{r:?}");
}

async fn try_put(store: &Store, key: &str, data: &[u8]) -> Result<ObjectRecord, StorageError> {
    store
        .put_object(B, key, body(data), PutOptions::default())
        .await
}

pub async fn retention_refuses_delete_and_overwrite(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    put(s, "before", b"free").await;
    set_rule(s, 1, 60_000).await;
    let rec = put(s, "k", b"v1").await;
    let until = rec.retain_until_ms.expect("stamped");
    assert_eq!(until, rec.last_modified_ms + 60_000);
    assert!(retained(&s.head_object(B, "k").await.unwrap(), until - 1));
    locked(try_put(s, "k", b"v2").await);
    // Refused before a byte of the body is read.
    let unread: ByteStream = Box::pin(futures_util::stream::once(async {
        Err(StorageError::Client("the body must not be read".into()))
    }));
    locked(s.put_object(B, "k", unread, PutOptions::default()).await);
    locked(s.delete_version(B, "k", None).await);
    locked(s.delete_version(B, "k", Some("null")).await);
    assert_eq!(get(s, "k").await, b"v1");
    // Written before the rule: free.
    s.delete_version(B, "before", None).await.unwrap();

    // Versioning enabled: versions and markers are added, versions stay.
    s.set_versioning(B, Versioning::Enabled).await.unwrap();
    let v2 = try_put(s, "k", b"v2").await.unwrap();
    let marker = s.delete_version(B, "k", None).await.unwrap();
    assert!(marker.marker.is_some());
    locked(s.delete_version(B, "k", v2.version_id.as_deref()).await);
    locked(s.delete_version(B, "k", Some("null")).await);
    let id = marker.marker.unwrap().version_id.unwrap();
    s.delete_version(B, "k", Some(&id)).await.unwrap();
    assert_eq!(get(s, "k").await, b"v2");
}

pub async fn retention_ends(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    // One "day" of 1 ms.
    set_rule(s, 1, 1).await;
    put(s, "k", b"v1").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    try_put(s, "k", b"v2").await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    s.delete_version(B, "k", None).await.unwrap();
    assert!(s.head_object(B, "k").await.is_err());
}
