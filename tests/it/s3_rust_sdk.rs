//! The official AWS SDK for Rust (aws-sdk-s3) against a real localcos socket
//! (`localcos::TestServer`), path style over plain HTTP, SigV4 with the
//! SDK's default checksums (in-memory bodies: CRC32 header + hex payload
//! hash, spec s3.md §2.3). Checks the S3 surface and that what S3 writes is
//! what COS reads (shared metadata).

use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use localcos::TestServer;
use md5::{Digest, Md5};

use crate::common::{sign, window};

/// An `aws-sdk-s3` client for `server` (path style, plain HTTP).
pub fn client(server: &TestServer) -> Client {
    let creds = Credentials::new(server.secret_id(), server.secret_key(), None, None, "test");
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(server.endpoint())
        .force_path_style(true)
        .credentials_provider(creds)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(conf)
}

fn code<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("").to_string()
}

#[tokio::test]
async fn rust_sdk_s3_surface() {
    let server = TestServer::start();
    let s3 = client(&server);
    let bucket = "rust-sdk-bucket";

    // Buckets: created under the exact name S3 tools use.
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3.head_bucket().bucket(bucket).send().await.unwrap();
    let names: Vec<String> = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert!(names.contains(&bucket.to_string()), "{names:?}");
    let loc = s3
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        loc.location_constraint().map(|c| c.as_str()),
        Some("ap-guangzhou"),
        "no LocationConstraint: the configured region"
    );

    // PutObject with metadata; GetObject full, ranged, conditional.
    let put = s3
        .put_object()
        .bucket(bucket)
        .key("dir/hello world.txt")
        .content_type("text/plain")
        .metadata("color", "blue")
        .body(ByteStream::from_static(b"hello, s3"))
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_string();
    assert_eq!(etag, format!("\"{:x}\"", Md5::digest(b"hello, s3")));
    let got = s3
        .get_object()
        .bucket(bucket)
        .key("dir/hello world.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(
        got.metadata().unwrap().get("color").map(String::as_str),
        Some("blue")
    );
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"hello, s3"
    );
    let part = s3
        .get_object()
        .bucket(bucket)
        .key("dir/hello world.txt")
        .range("bytes=7-")
        .send()
        .await
        .unwrap();
    assert_eq!(part.content_range(), Some("bytes 7-8/9"));
    assert_eq!(
        part.body.collect().await.unwrap().into_bytes().as_ref(),
        b"s3"
    );
    let e = s3
        .get_object()
        .bucket(bucket)
        .key("dir/hello world.txt")
        .if_match("\"0000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "PreconditionFailed");

    // Conditional writes: If-None-Match: * on an existing key is S3's 412.
    let e = s3
        .put_object()
        .bucket(bucket)
        .key("dir/hello world.txt")
        .if_none_match("*")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "PreconditionFailed");
    s3.put_object()
        .bucket(bucket)
        .key("dir/hello world.txt")
        .if_match(&etag)
        .metadata("color", "blue")
        .body(ByteStream::from_static(b"hello, s3"))
        .send()
        .await
        .unwrap();

    // Errors in S3's words.
    let e = s3
        .get_object()
        .bucket(bucket)
        .key("missing")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_no_such_key(), "{e:?}");
    let e = s3
        .list_objects_v2()
        .bucket("no-such-bucket-here")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_no_such_bucket(), "{e:?}");

    // CopyObject (x-amz-copy-source) keeps the metadata.
    let copy = s3
        .copy_object()
        .bucket(bucket)
        .key("copy.txt")
        .copy_source(format!("{bucket}/dir/hello%20world.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        copy.copy_object_result().unwrap().e_tag(),
        Some(etag.as_str())
    );
    let head = s3
        .head_object()
        .bucket(bucket)
        .key("copy.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(9));
    assert_eq!(
        head.metadata().unwrap().get("color").map(String::as_str),
        Some("blue")
    );

    // What S3 wrote, COS reads: x-amz-meta-color is x-cos-meta-color.
    let cos_path = format!("/{bucket}/copy.txt");
    let host = server.addr().to_string();
    let auth = sign("get", &cos_path, &[], &[("host", &host)], window());
    let resp = reqwest::Client::new()
        .get(format!("{}{cos_path}", server.endpoint()))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-cos-meta-color"], "blue");
    assert_eq!(resp.headers()["server"], "tencent-cos");
    assert!(resp.headers().get("x-amz-request-id").is_none());

    // ListObjectsV2 pages with continuation tokens.
    for i in 0..5 {
        s3.put_object()
            .bucket(bucket)
            .key(format!("page/{i}"))
            .body(ByteStream::from_static(b"p"))
            .send()
            .await
            .unwrap();
    }
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix("page/")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert_eq!(out.key_count(), Some(out.contents().len() as i32));
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        token = out.next_continuation_token().map(str::to_owned);
        if !out.is_truncated().unwrap_or(false) {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(keys, ["page/0", "page/1", "page/2", "page/3", "page/4"]);

    // DeleteObjects (CRC32 checksum header), then DeleteObject, DeleteBucket.
    let ids: Vec<ObjectIdentifier> = keys
        .iter()
        .map(|k| ObjectIdentifier::builder().key(k).build().unwrap())
        .collect();
    let out = s3
        .delete_objects()
        .bucket(bucket)
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.deleted().len(), 5);
    for k in ["copy.txt", "dir/hello world.txt"] {
        s3.delete_object()
            .bucket(bucket)
            .key(k)
            .send()
            .await
            .unwrap();
    }
    s3.delete_bucket().bucket(bucket).send().await.unwrap();
    let e = s3
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found(), "{e:?}");
}

#[tokio::test]
async fn rust_sdk_wrong_secret_is_signature_does_not_match() {
    let server = TestServer::start();
    let creds = Credentials::new(server.secret_id(), "not-the-secret", None, None, "test");
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(server.endpoint())
        .force_path_style(true)
        .credentials_provider(creds)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let e = Client::from_conf(conf)
        .list_buckets()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "SignatureDoesNotMatch");
}

/// A streaming body (`ByteStream::from_path`): over plain HTTP the SDK signs
/// every 64 KiB chunk and the CRC32 trailer
/// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`, spec s3.md §2).
#[tokio::test]
async fn rust_sdk_streaming_upload_signed_chunks() {
    let server = TestServer::start();
    let s3 = client(&server);
    s3.create_bucket().bucket("stream").send().await.unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let path = std::env::temp_dir().join(format!(
        "localcos-sdk-stream-{}-{:?}.bin",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, &data).unwrap();
    let body = ByteStream::from_path(&path).await.unwrap();
    let put = s3
        .put_object()
        .bucket("stream")
        .key("big.bin")
        .body(body)
        .send()
        .await;
    std::fs::remove_file(&path).unwrap();
    let put = put.unwrap();
    assert_eq!(
        put.e_tag(),
        Some(format!("\"{:x}\"", Md5::digest(&data)).as_str())
    );
    let got = s3
        .get_object()
        .bucket("stream")
        .key("big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_length(), Some(data.len() as i64));
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        &data[..]
    );
}
