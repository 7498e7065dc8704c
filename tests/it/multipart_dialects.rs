//! Multipart upload in the S3 and OSS dialects (spec s3.md §2.3 and the
//! multipart row of §5, oss.md §4): the AWS SDK for Rust with its default
//! CRC32 part checksums, the family's smallest part (COS 1 MiB, S3 5 MiB,
//! OSS 100 KiB), and the OSS shapes oss2 and ali-oss parse (`.000Z` times,
//! `EncodingType`, the Complete `ETag` header, `x-oss-object-type:
//! Multipart`). The OSS requests are anonymous on an OSS host against a
//! public-read-write bucket: the host alone selects the family.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use base64::Engine as _;
use http::Method;
use localcos::TestServer;
use md5::{Digest, Md5};

use crate::common::{app, App, Resp, R};

const MIB: usize = 1 << 20;
const OSS_HOST: &str = "examplebucket-1250000000.oss-cn-hangzhou.aliyuncs.com";

fn crc32_b64(data: &[u8]) -> String {
    let mut h = crc32fast::Hasher::new();
    h.update(data);
    base64::engine::general_purpose::STANDARD.encode(h.finalize().to_be_bytes())
}

fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut all = Md5::new();
    for p in parts {
        all.update(Md5::digest(p));
    }
    format!("\"{:x}-{}\"", all.finalize(), parts.len())
}

fn element<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.split(&format!("<{name}>"))
        .skip(1)
        .filter_map(|s| s.split(&format!("</{name}>")).next())
        .collect()
}

#[tokio::test]
async fn rust_sdk_multipart_with_crc32_and_s3_minimum() {
    let server = TestServer::start();
    let s3 = crate::s3_rust_sdk::client(&server);
    let bucket = "rust-mp-bucket";
    s3.create_bucket().bucket(bucket).send().await.unwrap();

    let parts: Vec<Vec<u8>> = vec![vec![b'a'; 5 * MIB], b"tail of the object".to_vec()];
    let up = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key("mp/object.bin")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let mut done = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let r = s3
            .upload_part()
            .bucket(bucket)
            .key("mp/object.bin")
            .upload_id(&id)
            .part_number(i as i32 + 1)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        // The part checksum is echoed: Complete lists it again.
        assert_eq!(r.checksum_crc32(), Some(crc32_b64(data).as_str()));
        done.push(
            CompletedPart::builder()
                .part_number(i as i32 + 1)
                .e_tag(r.e_tag().unwrap())
                .checksum_crc32(r.checksum_crc32().unwrap())
                .build(),
        );
    }
    let listed = s3
        .list_parts()
        .bucket(bucket)
        .key("mp/object.bin")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed
            .parts()
            .iter()
            .map(|p| p.checksum_crc32().unwrap().to_string())
            .collect::<Vec<_>>(),
        parts.iter().map(|p| crc32_b64(p)).collect::<Vec<_>>()
    );
    let fin = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key("mp/object.bin")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    assert_eq!(fin.e_tag(), Some(multipart_etag(&refs).as_str()));
    let got = s3
        .get_object()
        .bucket(bucket)
        .key("mp/object.bin")
        .send()
        .await
        .unwrap();
    let body = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(body.as_ref(), refs.concat().as_slice());

    // A 2 MiB part that is not the last: fine for COS, too small for S3.
    let up = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key("mp/small.bin")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let mut done = Vec::new();
    for n in 1..=2 {
        let r = s3
            .upload_part()
            .bucket(bucket)
            .key("mp/small.bin")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(vec![b'x'; 2 * MIB]))
            .send()
            .await
            .unwrap();
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(r.e_tag().unwrap())
                .build(),
        );
    }
    let err = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key("mp/small.bin")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    let meta = aws_sdk_s3::error::ProvideErrorMetadata::meta(&err);
    assert_eq!(meta.code(), Some("EntityTooSmall"), "{err:?}");
    assert!(meta.message().unwrap_or("").contains("5 MiB"), "{err:?}");
    s3.abort_multipart_upload()
        .bucket(bucket)
        .key("mp/small.bin")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
}

/// An anonymous OSS-host request (the bucket is public-read-write).
fn oss(method: Method, key: &str) -> R {
    R::new(method, key).host(OSS_HOST).anonymous()
}

async fn oss_initiate(app: &App, key: &str) -> String {
    let r = app.send(oss(Method::POST, key).q("uploads", "")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("server"), Some("AliyunOSS"));
    element(&r.text(), "UploadId")[0].to_string()
}

async fn oss_part(app: &App, key: &str, id: &str, n: u32, body: &[u8]) -> Resp {
    let mut r = oss(Method::PUT, key)
        .q("partNumber", &n.to_string())
        .q("uploadId", id);
    r.body = body.to_vec().into();
    let r = app.send(r).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

fn complete_body(etags: &[&str]) -> String {
    let parts: String = etags
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag></Part>",
                i + 1
            )
        })
        .collect();
    format!("<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>")
}

#[tokio::test]
async fn oss_multipart_shapes_and_minimum() {
    let app = app().await;
    let acl = app
        .send(
            R::new(Method::PUT, "")
                .q("acl", "")
                .h("x-cos-acl", "public-read-write"),
        )
        .await;
    assert_eq!(acl.status, 200, "{}", acl.text());

    let key = "oss mp/file.bin";
    let id = oss_initiate(&app, key).await;
    // 100 KiB is OSS's smallest part.
    let p1 = vec![b'o'; 100 << 10];
    let p2 = b"oss tail".to_vec();
    let e1 = oss_part(&app, key, &id, 1, &p1).await;
    assert!(e1.header("x-oss-hash-crc64ecma").is_some());
    let e2 = oss_part(&app, key, &id, 2, &p2).await;

    let list = app
        .send(
            oss(Method::GET, "")
                .q("uploads", "")
                .q("encoding-type", "url"),
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.text());
    let t = list.text();
    assert_eq!(element(&t, "EncodingType"), vec!["url"], "{t}");
    assert_eq!(element(&t, "Key"), vec!["oss%20mp/file.bin"], "{t}");
    assert_eq!(element(&t, "StorageClass"), vec!["Standard"], "{t}");
    let initiated = element(&t, "Initiated");
    assert!(initiated[0].ends_with(".000Z"), "{t}");
    assert!(!t.contains("xmlns"), "{t}");

    let parts = app.send(oss(Method::GET, key).q("uploadId", &id)).await;
    let t = parts.text();
    assert_eq!(element(&t, "StorageClass"), vec!["Standard"], "{t}");
    assert_eq!(element(&t, "LastModified").len(), 2, "{t}");
    assert!(
        element(&t, "LastModified")
            .iter()
            .all(|v| v.ends_with(".000Z")),
        "{t}"
    );

    let etags = [e1.header("etag").unwrap(), e2.header("etag").unwrap()];
    let fin = app
        .send(
            oss(Method::POST, key)
                .q("uploadId", &id)
                .with_body(&complete_body(&etags)),
        )
        .await;
    assert_eq!(fin.status, 200, "{}", fin.text());
    let want = multipart_etag(&[&p1, &p2]);
    // OSS answers the ETag as a header too (oss2 and ali-oss read it there).
    assert_eq!(fin.header("etag"), Some(want.as_str()));
    assert_eq!(element(&fin.text(), "ETag"), vec![want.as_str()]);
    assert!(fin.header("x-oss-hash-crc64ecma").is_some());

    let head = app.send(oss(Method::HEAD, key)).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("x-oss-object-type"), Some("Multipart"));
    // COS still calls it `normal`.
    let head = app.send(R::new(Method::HEAD, key)).await;
    assert_eq!(head.header("x-cos-object-type"), Some("normal"));

    // The same 100 KiB part is too small for an upload COS started.
    let cos = app
        .send(R::new(Method::POST, "cos.bin").q("uploads", ""))
        .await;
    let id = element(&cos.text(), "UploadId")[0].to_string();
    let mut etags = Vec::new();
    for n in 1..=2 {
        let mut r = R::new(Method::PUT, "cos.bin")
            .q("partNumber", &n.to_string())
            .q("uploadId", &id);
        r.body = p1.clone().into();
        let r = app.send(r).await;
        assert_eq!(r.status, 200, "{}", r.text());
        etags.push(r.header("etag").unwrap().to_string());
    }
    let refs: Vec<&str> = etags.iter().map(String::as_str).collect();
    let r = app
        .send(
            R::new(Method::POST, "cos.bin")
                .q("uploadId", &id)
                .with_body(&complete_body(&refs)),
        )
        .await;
    r.assert_error(400, "EntityTooSmall");
    assert!(r.text().contains("1 MiB"), "{}", r.text());
    // And an OSS part under 100 KiB is too small for OSS.
    let id = oss_initiate(&app, "small.bin").await;
    let a = oss_part(&app, "small.bin", &id, 1, &p1[..(100 << 10) - 1]).await;
    let b = oss_part(&app, "small.bin", &id, 2, b"x").await;
    let r = app
        .send(
            oss(Method::POST, "small.bin")
                .q("uploadId", &id)
                .with_body(&complete_body(&[
                    a.header("etag").unwrap(),
                    b.header("etag").unwrap(),
                ])),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(element(&r.text(), "Code"), vec!["EntityTooSmall"]);
    assert!(r.text().contains("100 KiB"), "{}", r.text());
}
