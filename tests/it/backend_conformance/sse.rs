//! Encryption at rest through `Store`, the same on every backend: sealed
//! blobs, plaintext records, range reads, locked SSE-C readers, rewrites
//! between kinds, and blobs freed as usual.

use localcos::storage::sse::{KeyBytes, KeyError, Sealing, SseKind, SseRequest};
use localcos::storage::{PutOptions, WriteCondition};

use super::*;

const CHUNK: usize = 64 * 1024;

fn sealing(env: &Env, req: SseRequest) -> Sealing {
    Sealing::new(env.store.sse_keys(), &req).unwrap()
}

async fn put_sealed(env: &Env, key: &str, data: &[u8], s: Sealing) -> ObjectRecord {
    let opts = PutOptions {
        sse: Some(s),
        ..Default::default()
    };
    env.store
        .put_object(B, key, body(data), opts)
        .await
        .unwrap()
}

async fn raw_blob(env: &Env, rec: &ObjectRecord) -> Vec<u8> {
    let blob = env.store.blobs().open(&rec.segments[0].blob).await.unwrap();
    let len = blob.len();
    read_all(blob.read(0..len)).await
}

pub async fn sealed_objects_round_trip(env: Env) {
    with_bucket(&env).await;
    let data = payload(21, 3 * CHUNK + 77);
    let rec = put_sealed(&env, "cos", &data, sealing(&env, SseRequest::Cos)).await;
    // The record describes the plaintext; the blob holds something else.
    assert_eq!(rec.size, data.len() as u64);
    assert_eq!(rec.etag, md5_hex(&Md5::digest(&data).into()));
    assert_eq!(rec.segments[0].len, data.len() as u64);
    assert_eq!(rec.sse.as_ref().map(|i| i.kind), Some(SseKind::Cos));
    let raw = raw_blob(&env, &rec).await;
    assert_eq!(raw.len(), 16 + data.len() + 16 * 4, "header + tags");
    assert!(!raw.windows(64).any(|w| w == &data[1000..1064]));
    assert_eq!(env.store.head_object(B, "cos").await.unwrap(), rec);

    let reader = env.store.open_object(B, "cos").await.unwrap();
    assert!(reader.sse_ready().is_ok());
    assert!(
        reader.file_regions(0..rec.size).is_none(),
        "no zero-copy for ciphertext"
    );
    assert!(read_all(reader.stream(0..rec.size)).await == data);
    let c = CHUNK as u64;
    for r in [0..1, c - 1..c + 1, 5..3 * c + 70, 3 * c..rec.size] {
        let reader = env.store.open_object(B, "cos").await.unwrap();
        let got = read_all(reader.stream(r.clone())).await;
        assert!(got == data[r.start as usize..r.end as usize], "{r:?}");
    }

    // SSE-C: locked until the customer's key is given.
    let key = KeyBytes::from_base64("MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY=").unwrap();
    let s = sealing(&env, SseRequest::Customer { key: key.clone() });
    put_sealed(&env, "ssec", &data[..1000], s).await;
    let mut reader = env.store.open_object(B, "ssec").await.unwrap();
    assert_eq!(reader.sse_ready(), Err(KeyError::CustomerKeyRequired));
    let other = KeyBytes::from_base64("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=").unwrap();
    assert_eq!(reader.unlock_customer_key(&other), Err(KeyError::WrongKey));
    {
        let locked = env.store.open_object(B, "ssec").await.unwrap();
        let mut s = locked.stream(0..1000);
        assert!(
            s.next().await.unwrap().is_err(),
            "a locked reader yields no bytes"
        );
    }
    reader.unlock_customer_key(&key).unwrap();
    assert!(read_all(reader.stream(0..1000)).await == data[..1000]);

    // Overwrite and delete free sealed blobs like any others.
    put(&env.store, "cos", b"plain now").await;
    env.store.delete_object(B, "ssec").await.unwrap();
    assert_eq!(blob_count(&env).await, 1);
}

pub async fn rewrite_between_kinds(env: Env) {
    with_bucket(&env).await;
    let data = payload(22, 2 * CHUNK + 5);
    put(&env.store, "plain", &data).await;
    // plain → KMS (default CMK) → plain: the bytes survive, hashes stay.
    let src = env.store.open_object(B, "plain").await.unwrap();
    let s = sealing(&env, SseRequest::Kms { key_id: None });
    let kms = env
        .store
        .copy_object_rewrite::<StorageError>(src, B, "kms", WriteCondition::None, Some(s), |r| {
            Ok(r.clone())
        })
        .await
        .unwrap();
    assert_eq!(kms.sse.as_ref().map(|i| i.kind), Some(SseKind::Kms));
    assert_eq!(kms.etag, md5_hex(&Md5::digest(&data).into()));
    assert_ne!(raw_blob(&env, &kms).await, data);
    let src = env.store.open_object(B, "kms").await.unwrap();
    let back = env
        .store
        .copy_object_rewrite::<StorageError>(src, B, "back", WriteCondition::None, None, |r| {
            Ok(r.clone())
        })
        .await
        .unwrap();
    assert!(back.sse.is_none());
    assert_eq!(
        (back.size, &back.etag, back.crc64),
        (kms.size, &kms.etag, kms.crc64)
    );
    assert!(raw_blob(&env, &back).await == data);
    assert!(get(&env.store, "back").await == data);
    // A locked source is refused and leaves nothing behind.
    let key = KeyBytes::from_base64("MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY=").unwrap();
    put_sealed(
        &env,
        "ssec",
        &data,
        sealing(&env, SseRequest::Customer { key }),
    )
    .await;
    let before = blob_count(&env).await;
    let src = env.store.open_object(B, "ssec").await.unwrap();
    let r = env
        .store
        .copy_object_rewrite::<StorageError>(src, B, "x", WriteCondition::None, None, |r| {
            Ok(r.clone())
        })
        .await;
    assert!(matches!(r, Err(StorageError::Corrupt(_))), "{r:?}");
    assert_eq!(blob_count(&env).await, before);
    assert!(matches!(
        env.store.head_object(B, "x").await,
        Err(StorageError::NoSuchKey)
    ));
}
