//! Conformance cases for multipart uploads (`storage/multipart.rs` rules over
//! each backend's `UploadTxn`): parts hold blob references, Complete turns
//! the listed parts into the object atomically, everything else is freed.

use localcos::storage::multipart::{CompleteError, CompletePart, UploadCursor, MIN_PART_SIZE};
use localcos::storage::{PartOptions, PartRecord, UploadsQuery, Versioning, VersionsQuery};

use super::*;

const MIB: usize = MIN_PART_SIZE as usize;

async fn start(s: &Store, key: &str) -> String {
    s.create_upload(B, key, record(Vec::new()), false)
        .await
        .unwrap()
        .upload_id
}

async fn part(s: &Store, key: &str, id: &str, n: u32, data: &[u8]) -> PartRecord {
    s.upload_part(B, key, id, n, body(data), PartOptions::default())
        .await
        .unwrap()
}

fn listed(parts: &[&PartRecord]) -> Vec<CompletePart> {
    parts
        .iter()
        .map(|p| CompletePart {
            part_number: p.part_number,
            etag: format!("\"{}\"", md5_hex(&p.md5)),
        })
        .collect()
}

fn crc64(data: &[u8]) -> u64 {
    let mut d = crc64fast::Digest::new();
    d.write(data);
    d.sum64()
}

pub async fn multipart_round_trip(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let id = start(s, "big").await;
    let (a, b, c) = (payload(1, MIB), payload(2, MIB + 5), payload(3, 1234));
    // Parts may arrive in any order.
    let pc = part(s, "big", &id, 3, &c).await;
    let pa = part(s, "big", &id, 1, &a).await;
    let pb = part(s, "big", &id, 2, &b).await;
    assert_eq!(pa.md5, <[u8; 16]>::from(Md5::digest(&a)));
    assert_eq!(pb.crc64, crc64(&b));
    assert_eq!(blob_count(&env).await, 3);

    let rec = s
        .complete_upload(
            B,
            "big",
            &id,
            listed(&[&pa, &pb, &pc]),
            WriteCondition::None,
        )
        .await
        .unwrap();
    let whole = [a.as_slice(), &b, &c].concat();
    assert_eq!(rec.size, whole.len() as u64);
    assert_eq!(rec.crc64, crc64(&whole), "CRC combined from the parts");
    let md5s = [pa.md5, pb.md5, pc.md5].concat();
    assert_eq!(
        rec.etag,
        format!("{}-3", md5_hex(&Md5::digest(&md5s).into()))
    );
    assert_eq!(rec.segments.len(), 3);
    assert_eq!(s.head_object(B, "big").await.unwrap(), rec);
    assert_eq!(get(s, "big").await, whole);
    assert_eq!(blob_count(&env).await, 3, "no byte copied, no blob added");

    // Ranges across part boundaries.
    let reader = s.open_object(B, "big").await.unwrap();
    for r in [
        0..1,
        (MIB as u64 - 3)..(MIB as u64 + 3),
        (MIB as u64 - 1)..(2 * MIB as u64 + 10),
        (2 * MIB as u64 + 5)..whole.len() as u64,
        10..whole.len() as u64,
    ] {
        let reader = s.open_object(B, "big").await.unwrap();
        let got = read_all(reader.stream(r.clone())).await;
        assert_eq!(got, &whole[r.start as usize..r.end as usize], "{r:?}");
    }
    drop(reader);

    // The upload is gone.
    is(s.upload(B, "big", &id).await, |e| {
        matches!(e, StorageError::NoSuchUpload)
    });
    is(
        s.complete_upload(B, "big", &id, listed(&[&pa]), WriteCondition::None)
            .await,
        |e| matches!(e, StorageError::NoSuchUpload),
    );
    // Deleting the object frees every part blob.
    s.delete_object(B, "big").await.unwrap();
    assert_eq!(blob_count(&env).await, 0);
}

pub async fn multipart_replace_abort_and_late_parts(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let id = start(s, "k").await;
    part(s, "k", &id, 1, b"first").await;
    let second = part(s, "k", &id, 1, b"second").await;
    assert_eq!(blob_count(&env).await, 1, "a replaced part's blob is freed");
    let page = s.list_parts(B, "k", &id, 0, 1000).await.unwrap();
    assert_eq!(page.parts, vec![second]);
    // The id belongs to its key only.
    is(s.upload(B, "other", &id).await, |e| {
        matches!(e, StorageError::NoSuchUpload)
    });
    is(
        s.upload_part(B, "other", &id, 1, body(b"x"), PartOptions::default())
            .await,
        |e| matches!(e, StorageError::NoSuchUpload),
    );
    // An empty part is a part (S3 allows an empty last part).
    let empty = part(s, "k", &id, 2, b"").await;
    assert_eq!(empty.size, 0);
    s.abort_upload(B, "k", &id).await.unwrap();
    assert_eq!(blob_count(&env).await, 0, "abort frees every part");
    is(s.abort_upload(B, "k", &id).await, |e| {
        matches!(e, StorageError::NoSuchUpload)
    });
    is(
        s.upload_part(B, "k", &id, 3, body(b"late"), PartOptions::default())
            .await,
        |e| matches!(e, StorageError::NoSuchUpload),
    );
    is(s.list_parts(B, "k", &id, 0, 10).await, |e| {
        matches!(e, StorageError::NoSuchUpload)
    });
    assert_eq!(blob_count(&env).await, 0, "a late part leaves no blob");
    // A digest mismatch stores nothing.
    let id = start(s, "k").await;
    let bad = s
        .upload_part(
            B,
            "k",
            &id,
            1,
            body(b"data"),
            PartOptions {
                content_md5: Some([0; 16]),
                ..Default::default()
            },
        )
        .await;
    is(bad, |e| matches!(e, StorageError::BadDigest));
    assert!(s
        .list_parts(B, "k", &id, 0, 10)
        .await
        .unwrap()
        .parts
        .is_empty());
    assert_eq!(blob_count(&env).await, 0);
    // Missing bucket.
    is(
        s.create_upload("nobucket-1250000000", "k", record(Vec::new()), false)
            .await,
        |e| matches!(e, StorageError::NoSuchBucket),
    );
}

pub async fn multipart_bad_lists_change_nothing(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    put(s, "k", b"old object").await;
    let id = start(s, "k").await;
    let p1 = part(s, "k", &id, 1, &payload(1, MIB)).await;
    let p2 = part(s, "k", &id, 2, b"small").await;
    let p3 = part(s, "k", &id, 3, b"tail").await;
    let mut wrong = listed(&[&p1]);
    wrong[0].etag = "\"00000000000000000000000000000000\"".into();
    let cases: Vec<(Vec<CompletePart>, CompleteError)> = vec![
        (Vec::new(), CompleteError::Empty),
        (listed(&[&p2, &p1]), CompleteError::Order),
        (wrong, CompleteError::InvalidPart(1)),
        (listed(&[&p1, &p3]), CompleteError::InvalidPart(3)),
        (
            listed(&[&p1, &p2, &p3]),
            CompleteError::TooSmall(2, MIN_PART_SIZE),
        ),
    ];
    for (list, want) in cases {
        match s
            .complete_upload(B, "k", &id, list, WriteCondition::None)
            .await
        {
            Err(StorageError::Complete(e)) => assert_eq!(e, want),
            other => panic!("{want:?}: {other:?}"),
        }
    }
    assert_eq!(get(s, "k").await, b"old object", "object unchanged");
    assert_eq!(
        s.list_parts(B, "k", &id, 0, 10).await.unwrap().parts.len(),
        3
    );
    assert_eq!(blob_count(&env).await, 4);
    // A failing condition changes nothing either.
    is(
        s.complete_upload(
            B,
            "k",
            &id,
            listed(&[&p1, &p2]),
            WriteCondition::IfNoneMatch,
        )
        .await,
        |e| matches!(e, StorageError::AlreadyExists),
    );
    assert_eq!(blob_count(&env).await, 4);
    // Unlisted parts and the replaced object are freed.
    let rec = s
        .complete_upload(B, "k", &id, listed(&[&p1, &p2]), WriteCondition::None)
        .await
        .unwrap();
    assert_eq!(rec.size, MIB as u64 + 5);
    assert_eq!(blob_count(&env).await, 2);
}

pub async fn multipart_versioned_and_forbid_overwrite(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    s.set_versioning(B, Versioning::Enabled).await.unwrap();
    let v1 = put(s, "k", b"v1").await;
    let id = start(s, "k").await;
    let p = part(s, "k", &id, 1, b"v2 by parts").await;
    let rec = s
        .complete_upload(B, "k", &id, listed(&[&p]), WriteCondition::None)
        .await
        .unwrap();
    let v2 = rec.version_id.clone().unwrap();
    assert_ne!(Some(v2.as_str()), v1.version_id.as_deref());
    let q = VersionsQuery {
        max_keys: 1000,
        ..Default::default()
    };
    let ids: Vec<String> = s
        .list_versions(B, &q)
        .await
        .unwrap()
        .entries
        .iter()
        .map(|e| e.version_id().to_string())
        .collect();
    assert_eq!(ids, vec![v2, v1.version_id.unwrap()]);
    assert_eq!(get(s, "k").await, b"v2 by parts");

    // Forbid-overwrite at Initiate: refused up front, and at Complete.
    is(
        s.create_upload(B, "k", record(Vec::new()), true).await,
        |e| matches!(e, StorageError::AlreadyExists),
    );
    let id = s
        .create_upload(B, "new", record(Vec::new()), true)
        .await
        .unwrap()
        .upload_id;
    let p = part(s, "new", &id, 1, b"late").await;
    put(s, "new", b"someone was faster").await;
    is(
        s.complete_upload(B, "new", &id, listed(&[&p]), WriteCondition::None)
            .await,
        |e| matches!(e, StorageError::AlreadyExists),
    );
    assert_eq!(get(s, "new").await, b"someone was faster");
    // An open upload keeps the bucket non-empty.
    s.set_versioning(B, Versioning::Suspended).await.unwrap();
    let other = "other-1250000000";
    s.create_bucket(bucket_rec(other)).await.unwrap();
    let id = s
        .create_upload(other, "x", record(Vec::new()), false)
        .await
        .unwrap()
        .upload_id;
    is(s.delete_bucket(other).await, |e| {
        matches!(e, StorageError::BucketNotEmpty)
    });
    s.abort_upload(other, "x", &id).await.unwrap();
    s.delete_bucket(other).await.unwrap();
}

pub async fn multipart_listing(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let mut ids = Vec::new();
    for key in ["a", "a", "b/x", "b/y", "c", "a"] {
        ids.push((key, start(s, key).await));
    }
    let all = |q: UploadsQuery| async move {
        let page = s.list_uploads(B, &q).await.unwrap();
        (
            page.uploads
                .iter()
                .map(|u| (u.key.clone(), u.upload_id.clone()))
                .collect::<Vec<_>>(),
            page.common_prefixes.clone(),
            page.is_truncated,
        )
    };
    let mut expected: Vec<(String, String)> = ids
        .iter()
        .map(|(k, id)| (k.to_string(), id.clone()))
        .collect();
    expected.sort();
    let (ups, cps, trunc) = all(UploadsQuery {
        max_uploads: 1000,
        ..Default::default()
    })
    .await;
    assert_eq!(ups, expected, "by key, then oldest first");
    assert!(cps.is_empty() && !trunc);
    // One key's uploads in initiation order.
    let a_ids: Vec<&String> = ids
        .iter()
        .filter(|(k, _)| *k == "a")
        .map(|(_, i)| i)
        .collect();
    assert_eq!(ups[..3].iter().map(|(_, i)| i).collect::<Vec<_>>(), a_ids);

    // Delimiter roll-up counts once.
    let (ups, cps, _) = all(UploadsQuery {
        delimiter: "/".into(),
        max_uploads: 1000,
        ..Default::default()
    })
    .await;
    assert_eq!(ups.len(), 4);
    assert_eq!(cps, vec!["b/".to_string()]);

    // Paging with markers visits everything exactly once.
    let mut seen = Vec::new();
    let mut q = UploadsQuery {
        max_uploads: 2,
        ..Default::default()
    };
    loop {
        let page = s.list_uploads(B, &q).await.unwrap();
        seen.extend(
            page.uploads
                .iter()
                .map(|u| (u.key.clone(), u.upload_id.clone())),
        );
        if !page.is_truncated {
            break;
        }
        q.key_marker = page.next_key_marker.unwrap();
        q.upload_id_marker = page.next_upload_id_marker;
    }
    assert_eq!(seen, expected);
    // A key marker alone skips all of that key's uploads.
    let (ups, _, _) = all(UploadsQuery {
        key_marker: "a".into(),
        max_uploads: 1000,
        ..Default::default()
    })
    .await;
    assert_eq!(ups, expected[3..].to_vec());
    // Prefix.
    let (ups, _, _) = all(UploadsQuery {
        prefix: "b/".into(),
        max_uploads: 1000,
        ..Default::default()
    })
    .await;
    assert_eq!(ups.len(), 2);
    // The cursor rule itself.
    let c = UploadCursor {
        key: "a".into(),
        upload_id: Some("5".into()),
    };
    assert!(c.is_before("a", "6") && !c.is_before("a", "5") && c.is_before("b", "0"));

    // The sweep aborts everything older than the age given.
    part(s, "c", &ids[4].1, 1, b"part").await;
    assert_eq!(blob_count(&env).await, 1);
    assert_eq!(
        s.abort_stale_uploads(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(s.abort_stale_uploads(Duration::ZERO).await.unwrap(), 6);
    assert_eq!(blob_count(&env).await, 0);
    let (ups, _, _) = all(UploadsQuery {
        max_uploads: 1000,
        ..Default::default()
    })
    .await;
    assert!(ups.is_empty());
}

pub async fn multipart_parts_paging(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let id = start(s, "k").await;
    for n in [1u32, 2, 3, 5, 8] {
        part(s, "k", &id, n, format!("p{n}").as_bytes()).await;
    }
    let page = s.list_parts(B, "k", &id, 0, 2).await.unwrap();
    assert_eq!(
        page.parts.iter().map(|p| p.part_number).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(page.is_truncated);
    let page = s.list_parts(B, "k", &id, 2, 2).await.unwrap();
    assert_eq!(
        page.parts.iter().map(|p| p.part_number).collect::<Vec<_>>(),
        vec![3, 5]
    );
    let page = s.list_parts(B, "k", &id, 5, 2).await.unwrap();
    assert_eq!(
        page.parts.iter().map(|p| p.part_number).collect::<Vec<_>>(),
        vec![8]
    );
    assert!(!page.is_truncated);
    assert!(s
        .list_parts(B, "k", &id, u32::MAX, 2)
        .await
        .unwrap()
        .parts
        .is_empty());
}

pub async fn multipart_concurrent_parts_and_complete(env: Env) {
    with_bucket(&env).await;
    let s = &env.store;
    let id = start(s, "k").await;
    // Eight parts in parallel.
    let mut tasks = Vec::new();
    for n in 1..=8u32 {
        let (s, id) = (s.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let data = payload(n as u64, if n == 8 { 100 } else { MIB });
            s.upload_part(B, "k", &id, n, body(&data), PartOptions::default())
                .await
                .unwrap()
        }));
    }
    let mut parts = Vec::new();
    for t in tasks {
        parts.push(t.await.unwrap());
    }
    parts.sort_by_key(|p| p.part_number);
    let refs: Vec<&PartRecord> = parts.iter().collect();
    // Two Completes race: exactly one wins, the other finds no upload.
    let (a, b) = tokio::join!(
        s.complete_upload(B, "k", &id, listed(&refs), WriteCondition::None),
        s.complete_upload(B, "k", &id, listed(&refs), WriteCondition::None),
    );
    assert!(
        a.is_ok() ^ b.is_ok(),
        "exactly one Complete wins: {a:?} {b:?}"
    );
    let expected: Vec<u8> = (1..=8u32)
        .flat_map(|n| payload(n as u64, if n == 8 { 100 } else { MIB }))
        .collect();
    assert_eq!(get(s, "k").await, expected);
    assert_eq!(blob_count(&env).await, 8);
}
