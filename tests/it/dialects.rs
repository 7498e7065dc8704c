//! The response speaks the request's family (spec s3.md §5, oss.md §4):
//! error XML, request-id headers and `Server` per family; suffix-less
//! (S3/OSS-created) buckets reached through COS names; the S3 operations
//! that COS clients can reach too (ListObjectsV2, GetBucketLocation).
//! Requests signed with AWS/OSS signatures are covered by the real-client
//! suites (`tests/it/s3_rust_sdk.rs`, `tests/clients/`).

use http::Method;
use localcos::config::Config;
use localcos::http::target::BucketName;

use crate::common::{App, Resp, ID, KEY, R};

async fn app_with_plain_bucket() -> App {
    let mut config = Config::for_tests(ID, KEY);
    config.buckets = vec![
        BucketName::parse("examplebucket", "1250000000", "ap-guangzhou").unwrap(),
        // What an S3 tool creates: no APPID suffix.
        BucketName::parse_exact("plain").unwrap(),
    ];
    App {
        svc: localcos::testing::app(config).await.unwrap(),
    }
}

fn element<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.split(&format!("<{name}>"))
        .skip(1)
        .filter_map(|s| s.split(&format!("</{name}>")).next())
        .collect()
}

fn assert_s3_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let t = r.text();
    assert!(
        t.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"),
        "{t}"
    );
    assert_eq!(element(&t, "Code"), vec![code], "{t}");
    for f in ["Message", "Resource", "RequestId", "HostId"] {
        assert!(
            element(&t, f).first().is_some_and(|v| !v.is_empty()),
            "{f}: {t}"
        );
    }
    assert!(element(&t, "TraceId").is_empty(), "{t}");
    let id = r.header("x-amz-request-id").expect("x-amz-request-id");
    assert_eq!(element(&t, "RequestId"), vec![id]);
    assert!(r.header("x-amz-id-2").is_some_and(|v| !v.is_empty()));
    assert_eq!(r.header("x-cos-request-id"), None);
    assert_eq!(r.header("server"), Some("AmazonS3"));
}

#[tokio::test]
async fn anonymous_s3_hosts_get_s3_errors() {
    let app = app_with_plain_bucket().await;
    for host in [
        "plain.s3.amazonaws.com",
        "plain.s3.us-east-1.amazonaws.com:9000",
        "s3.amazonaws.com",
    ] {
        let path = if host.starts_with("s3.") {
            "/plain/k"
        } else {
            "/k"
        };
        let r = app
            .send(R::get("k").host(host).raw_path(path).anonymous())
            .await;
        assert_s3_error(&r, 403, "AccessDenied");
        assert_eq!(element(&r.text(), "Resource"), vec![path]);
    }
    // HEAD: status and headers only.
    let r = app
        .send(
            R::new(Method::HEAD, "k")
                .host("plain.s3.amazonaws.com")
                .anonymous(),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.is_empty());
    assert!(r.header("x-amz-request-id").is_some());
}

#[tokio::test]
async fn anonymous_oss_hosts_get_oss_errors() {
    let app = app_with_plain_bucket().await;
    let r = app
        .send(
            R::get("k")
                .host("oss-cn-hangzhou.aliyuncs.com")
                .raw_path("/plain/k")
                .anonymous(),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let t = r.text();
    assert_eq!(element(&t, "Code"), vec!["AccessDenied"]);
    assert_eq!(element(&t, "HostId"), vec!["oss-cn-hangzhou.aliyuncs.com"]);
    assert!(element(&t, "Resource").is_empty(), "{t}");
    assert_eq!(
        element(&t, "RequestId"),
        vec![r.header("x-oss-request-id").unwrap()]
    );
    assert_eq!(r.header("server"), Some("AliyunOSS"));
    assert_eq!(r.header("x-cos-request-id"), None);
}

#[tokio::test]
async fn a_malformed_aws_signature_is_answered_in_s3_xml() {
    let app = app_with_plain_bucket().await;
    let r = app
        .send(
            R::get("k")
                .anonymous()
                .host("127.0.0.1:9000")
                .raw_path("/plain/k")
                .h("authorization", "AWS4-HMAC-SHA256 garbage"),
        )
        .await;
    assert!(r.status == 400 || r.status == 403, "{}", r.text());
    assert!(r.header("x-amz-request-id").is_some(), "{:?}", r.headers);
    assert!(r.text().contains("<HostId>"), "{}", r.text());
}

#[tokio::test]
async fn cos_reaches_suffixless_buckets_by_their_cos_names() {
    let app = app_with_plain_bucket().await;
    // Virtual-hosted COS name `plain-<appid>` → the bucket `plain`.
    let r = app
        .send(R::put("a.txt", "hello").host("plain-1250000000.cos.ap-guangzhou.myqcloud.com"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("server"), Some("tencent-cos"));
    // Path style `/plain/…` on a bare host: addressing appends the APPID, the
    // alias step finds `plain`.
    let r = app
        .send(
            R::get("a.txt")
                .host("127.0.0.1:9000")
                .raw_path("/plain/a.txt"),
        )
        .await;
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    // GET Service lists it under its real name.
    let r = app
        .send(R::get("").host("service.cos.myqcloud.com").raw_path("/"))
        .await;
    let names = element(&r.text(), "Name").join(",");
    assert_eq!(names, "examplebucket-1250000000,plain", "{}", r.text());
    // A COS name whose bucket exists under neither name is still NoSuchBucket.
    app.send(R::get("a.txt").host("other-1250000000.cos.ap-guangzhou.myqcloud.com"))
        .await
        .assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn list_objects_v2_pages_with_continuation_tokens() {
    let app = crate::common::app().await;
    for k in ["a/1", "a/2", "b", "c d+e", "d"] {
        app.put(k, b"x").await;
    }
    let list = |extra: &[(&str, &str)]| {
        let mut r = R::get("").raw_path("/").q("list-type", "2");
        for (k, v) in extra {
            r = r.q(k, v);
        }
        r
    };
    // Page 1: a/ (common prefix) and b.
    let r = app
        .send(list(&[("delimiter", "/"), ("max-keys", "2")]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.text();
    assert_eq!(element(&t, "KeyCount"), vec!["2"]);
    assert_eq!(element(&t, "IsTruncated"), vec!["true"]);
    assert_eq!(element(&t, "Prefix"), vec!["", "a/"]);
    assert_eq!(element(&t, "Key"), vec!["b"]);
    assert!(
        element(&t, "Owner").is_empty(),
        "no Owner without fetch-owner: {t}"
    );
    let token = element(&t, "NextContinuationToken")[0].to_string();
    // Page 2 resumes after `b`; encoding-type=url encodes keys; fetch-owner adds Owner.
    let r = app
        .send(list(&[
            ("delimiter", "/"),
            ("max-keys", "2"),
            ("continuation-token", &token),
            ("encoding-type", "url"),
            ("fetch-owner", "true"),
        ]))
        .await;
    let t = r.text();
    assert_eq!(element(&t, "Key"), vec!["c%20d%2Be", "d"]);
    assert_eq!(element(&t, "ContinuationToken"), vec![token.as_str()]);
    assert_eq!(element(&t, "IsTruncated"), vec!["false"]);
    assert!(element(&t, "NextContinuationToken").is_empty());
    assert_eq!(element(&t, "Owner").len(), 2);
    // start-after, without a token.
    let r = app.send(list(&[("start-after", "b")])).await;
    let t = r.text();
    assert_eq!(element(&t, "Key"), vec!["c d+e", "d"]);
    assert_eq!(element(&t, "StartAfter"), vec!["b"]);
    // A token this server never issued.
    app.send(list(&[("continuation-token", "!!")]))
        .await
        .assert_error(400, "InvalidArgument");
}

#[tokio::test]
async fn bucket_location() {
    let app = crate::common::app().await;
    let r = app.send(R::get("").raw_path("/").q("location", "")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text()
            .ends_with("<LocationConstraint>ap-guangzhou</LocationConstraint>"),
        "{}",
        r.text()
    );
}
