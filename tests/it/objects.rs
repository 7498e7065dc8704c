//! Object and bucket operations through the whole in-process pipeline.

use http::Method;
use md5::{Digest, Md5};

use crate::common::{app, HOST, R};

fn crc64(data: &[u8]) -> u64 {
    let mut d = crc64fast::Digest::new();
    d.write(data);
    d.sum64()
}

#[tokio::test]
async fn put_get_head_round_trip_with_headers() {
    let app = app().await;
    let body = b"[Object Content]";
    let put = app
        .send(
            R::put("dir/sub dir/file name.txt", body.to_vec())
                .h("content-type", "text/plain")
                .h("cache-control", "max-age=60")
                .h("content-disposition", "attachment; filename=\"a.txt\"")
                .h("content-encoding", "identity")
                .h("expires", "Thu, 01 Dec 2094 16:00:00 GMT")
                .h("x-cos-meta-Color", "blue"),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    // Seed values (spec cos.md §4.2).
    assert_eq!(
        put.header("etag"),
        Some("\"ee8de918d05640145b18f70f4c3aa602\"")
    );
    assert_eq!(
        put.header("x-cos-hash-crc64ecma"),
        Some("16749565679157681890")
    );

    let get = app.send(R::get("dir/sub dir/file name.txt")).await;
    assert_eq!(get.status, 200);
    assert_eq!(&get.body[..], body);
    assert_eq!(get.header("content-length"), Some("16"));
    assert_eq!(get.header("content-type"), Some("text/plain"));
    assert_eq!(get.header("cache-control"), Some("max-age=60"));
    assert_eq!(
        get.header("content-disposition"),
        Some("attachment; filename=\"a.txt\"")
    );
    assert_eq!(get.header("content-encoding"), Some("identity"));
    assert_eq!(get.header("expires"), Some("Thu, 01 Dec 2094 16:00:00 GMT"));
    assert_eq!(get.header("x-cos-meta-color"), Some("blue"));
    assert_eq!(get.header("accept-ranges"), Some("bytes"));
    assert_eq!(get.header("server"), Some("tencent-cos"));
    assert!(get.header("last-modified").is_some());
    assert!(get.header("x-cos-request-id").is_some());
    assert_eq!(
        get.header("x-cos-storage-class"),
        None,
        "STANDARD is not announced"
    );

    let head = app
        .send(R::new(Method::HEAD, "dir/sub dir/file name.txt"))
        .await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), Some("16"));
    assert_eq!(head.header("etag"), get.header("etag"));
    assert_eq!(
        head.header("x-cos-hash-crc64ecma"),
        Some("16749565679157681890")
    );
}

#[tokio::test]
async fn content_type_is_inferred_and_empty_headers_ignored() {
    let app = app().await;
    app.send(R::put("a.zip", b"zip".to_vec()).h("cache-control", ""))
        .await;
    let head = app.send(R::new(Method::HEAD, "a.zip")).await;
    assert_eq!(head.header("content-type"), Some("application/zip"));
    assert_eq!(head.header("cache-control"), None);
    app.put("noext", b"x").await;
    assert_eq!(
        app.send(R::new(Method::HEAD, "noext"))
            .await
            .header("content-type"),
        Some("application/octet-stream")
    );
}

#[tokio::test]
async fn content_md5_checked() {
    let app = app().await;
    let good = base64_md5(b"hello");
    assert_eq!(
        app.send(R::put("m", b"hello".to_vec()).h("content-md5", &good))
            .await
            .status,
        200
    );
    app.send(R::put("m2", b"hellO".to_vec()).h("content-md5", &good))
        .await
        .assert_error(400, "BadDigest");
    app.send(R::put("m3", b"hello".to_vec()).h("content-md5", "not-base64!"))
        .await
        .assert_error(400, "InvalidDigest");
    // Nothing was stored for the failed PUT.
    app.send(R::get("m2")).await.assert_error(404, "NoSuchKey");
}

fn base64_md5(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(b))
}

#[tokio::test]
async fn ranges() {
    let app = app().await;
    let data: Vec<u8> = (0..16u8).collect();
    app.put("r", &data).await;
    let cases: &[(&str, u16, Option<&str>, std::ops::Range<usize>)] = &[
        ("bytes=0-0", 206, Some("bytes 0-0/16"), 0..1),
        ("bytes=0-9", 206, Some("bytes 0-9/16"), 0..10),
        ("bytes=5-9", 206, Some("bytes 5-9/16"), 5..10),
        ("bytes=-10", 206, Some("bytes 6-15/16"), 6..16),
        ("bytes=10-", 206, Some("bytes 10-15/16"), 10..16),
        ("bytes=0-", 206, Some("bytes 0-15/16"), 0..16),
        ("bytes=8-100", 206, Some("bytes 8-15/16"), 8..16),
        ("bytes=0-1,4-5", 200, None, 0..16),
        ("bytes=abc", 200, None, 0..16),
    ];
    for (range, status, content_range, want) in cases {
        let r = app.send(R::get("r").h("range", range)).await;
        assert_eq!(r.status, *status, "{range}");
        assert_eq!(r.header("content-range"), *content_range, "{range}");
        assert_eq!(&r.body[..], &data[want.clone()], "{range}");
        assert_eq!(
            r.header("content-length").unwrap(),
            want.len().to_string(),
            "{range}"
        );
        assert_eq!(
            r.header("x-cos-hash-crc64ecma").unwrap(),
            crc64(&data).to_string(),
            "whole-object CRC on {range}"
        );
    }
    let r = app.send(R::get("r").h("range", "bytes=16-")).await;
    r.assert_error(416, "InvalidRange");
    assert_eq!(r.header("content-range"), Some("bytes */16"));
}

#[tokio::test]
async fn conditionals() {
    let app = app().await;
    let etag = app
        .put("c", b"conditional")
        .await
        .header("etag")
        .unwrap()
        .to_string();
    let lm = app
        .send(R::new(Method::HEAD, "c"))
        .await
        .header("last-modified")
        .unwrap()
        .to_string();
    let r = app.send(R::get("c").h("if-none-match", &etag)).await;
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.header("content-length"), Some("0"));
    assert!(r.header("x-cos-hash-crc64ecma").is_some());
    assert_eq!(app.send(R::get("c").h("if-match", &etag)).await.status, 200);
    app.send(R::get("c").h("if-match", "\"0000\""))
        .await
        .assert_error(412, "PreconditionFailed");
    assert_eq!(
        app.send(R::get("c").h("if-modified-since", &lm))
            .await
            .status,
        304
    );
    assert_eq!(
        app.send(R::get("c").h("if-unmodified-since", "Mon, 01 Jan 2001 00:00:00 GMT"))
            .await
            .status,
        412
    );
    assert_eq!(
        app.send(R::get("c").h("if-modified-since", "Mon, 01 Jan 2001 00:00:00 GMT"))
            .await
            .status,
        200
    );
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    assert_eq!(
        app.send(
            R::get("c")
                .h("if-none-match", "\"other\"")
                .h("if-modified-since", &lm)
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn response_overrides() {
    let app = app().await;
    app.put("o.txt", b"x").await;
    let r = app
        .send(
            R::get("o.txt")
                .q("response-content-type", "application/json")
                .q(
                    "response-content-disposition",
                    "attachment; filename=\"a b+c.txt\"",
                )
                .q("response-cache-control", "no-cache")
                .q("response-content-encoding", "gzip")
                .q("response-content-language", "zh-CN")
                .q("response-expires", "Wed, 21 Oct 2015 07:28:00 GMT"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"a b+c.txt\"")
    );
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("content-language"), Some("zh-CN"));
    assert_eq!(r.header("expires"), Some("Wed, 21 Oct 2015 07:28:00 GMT"));
}

#[tokio::test]
async fn forbid_overwrite() {
    let app = app().await;
    app.put("f", b"1").await;
    app.send(R::put("f", b"2".to_vec()).h("x-cos-forbid-overwrite", "true"))
        .await
        .assert_error(409, "FileAlreadyExists");
    assert_eq!(&app.send(R::get("f")).await.body[..], b"1");
    assert_eq!(
        app.send(R::put("f", b"3".to_vec()).h("x-cos-forbid-overwrite", "false"))
            .await
            .status,
        200
    );
    assert_eq!(
        app.send(R::put("new", b"3".to_vec()).h("x-cos-forbid-overwrite", "true"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn odd_keys_round_trip() {
    let app = app().await;
    for key in [
        "a+b%c=d&e;f,g.txt",
        "中文目录/文件 名😀.txt",
        "a/./b/../c.txt",
        "a//b///c.txt",
        "../../etc/passwd",
        "sp !'()*~@$[]#?:",
        "folder/",
    ] {
        let body = format!("body of {key}");
        app.put(key, body.as_bytes()).await;
        let r = app.send(R::get(key)).await;
        assert_eq!(r.status, 200, "{key}");
        assert_eq!(r.text(), body, "{key}");
    }
    // `%2F` in the path is a slash (Go SDK).
    let r = app
        .send(R::get("x").raw_path("/a%2F.%2Fb%2F..%2Fc.txt"))
        .await;
    assert_eq!(r.text(), "body of a/./b/../c.txt");
}

#[tokio::test]
async fn delete_object() {
    let app = app().await;
    app.put("d", b"x").await;
    assert_eq!(app.send(R::new(Method::DELETE, "d")).await.status, 204);
    app.send(R::get("d")).await.assert_error(404, "NoSuchKey");
    assert_eq!(
        app.send(R::new(Method::DELETE, "d")).await.status,
        204,
        "deleting a missing key is not an error"
    );
    let r = app.send(R::new(Method::HEAD, "d")).await;
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty(), "HEAD errors have no body");
}

#[tokio::test]
async fn copy_object() {
    let app = app().await;
    app.send(
        R::put("src dir/源 文件+1.txt", b"copy me".to_vec())
            .h("content-type", "text/plain")
            .h("x-cos-meta-a", "1"),
    )
    .await;
    let src = format!("{HOST}/src%20dir/%E6%BA%90%20%E6%96%87%E4%BB%B6%2B1.txt");
    let r = app
        .send(R::put("dst", Vec::new()).h("x-cos-copy-source", &src))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("<CopyObjectResult><ETag>\""),
        "{}",
        r.text()
    );
    assert!(r.text().contains("<CRC64>"), "{}", r.text());
    let g = app.send(R::get("dst")).await;
    assert_eq!(g.text(), "copy me");
    assert_eq!(g.header("x-cos-meta-a"), Some("1"));
    assert_eq!(g.header("content-type"), Some("text/plain"));

    let r = app
        .send(
            R::put("dst2", Vec::new())
                .h("x-cos-copy-source", &src)
                .h("x-cos-metadata-directive", "Replaced")
                .h("x-cos-meta-b", "2"),
        )
        .await;
    assert_eq!(r.status, 200);
    let g = app.send(R::new(Method::HEAD, "dst2")).await;
    assert_eq!(g.header("x-cos-meta-a"), None);
    assert_eq!(g.header("x-cos-meta-b"), Some("2"));

    // Deleting the source leaves the copy intact.
    app.send(R::new(Method::DELETE, "src dir/源 文件+1.txt"))
        .await;
    assert_eq!(app.send(R::get("dst")).await.text(), "copy me");

    app.send(R::put("x", Vec::new()).h("x-cos-copy-source", &format!("{HOST}/nope")))
        .await
        .assert_error(404, "NoSuchCopySource");
    app.send(R::put("dst", Vec::new()).h("x-cos-copy-source", &format!("{HOST}/dst")))
        .await
        .assert_error(400, "InvalidRequest");
    app.send(
        R::put("x", Vec::new())
            .h("x-cos-copy-source", &format!("{HOST}/dst"))
            .h("x-cos-copy-source-If-Match", "\"nope\""),
    )
    .await
    .assert_error(412, "PreconditionFailed");
    app.send(R::put("x", Vec::new()).h("x-cos-copy-source", "garbage"))
        .await
        .assert_error(400, "InvalidCopySource");
}

#[tokio::test]
async fn buckets() {
    let app = app().await;
    let nb = "newbucket-1250000000.cos.ap-guangzhou.myqcloud.com";
    assert_eq!(app.send(R::new(Method::PUT, "").host(nb)).await.status, 200);
    app.send(R::new(Method::PUT, "").host(nb))
        .await
        .assert_error(409, "BucketAlreadyOwnedByYou");
    let h = app.send(R::new(Method::HEAD, "").host(nb)).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.header("x-cos-bucket-region"), Some("ap-guangzhou"));
    let svc = app.send(R::get("").host("service.cos.myqcloud.com")).await;
    assert_eq!(svc.status, 200);
    assert!(
        svc.text().contains("<Name>newbucket-1250000000</Name>"),
        "{}",
        svc.text()
    );
    assert!(svc.text().contains("<Buckets>"));
    app.send(R::put("k", b"x".to_vec()).host(nb)).await;
    app.send(R::new(Method::DELETE, "").host(nb))
        .await
        .assert_error(409, "BucketNotEmpty");
    app.send(R::new(Method::DELETE, "k").host(nb)).await;
    assert_eq!(
        app.send(R::new(Method::DELETE, "").host(nb)).await.status,
        204
    );
    assert_eq!(
        app.send(R::new(Method::HEAD, "").host(nb)).await.status,
        404
    );
    app.send(R::get("k").host(nb))
        .await
        .assert_error(404, "NoSuchBucket");
    app.send(
        R::new(Method::PUT, "")
            .host("127.0.0.1:9000")
            .raw_path("/Bad_Bucket"),
    )
    .await
    .assert_error(400, "InvalidBucketName");
    // Path-style on a bare host.
    assert_eq!(
        app.send(
            R::new(Method::PUT, "")
                .host("127.0.0.1:9000")
                .raw_path("/pathstyle")
        )
        .await
        .status,
        200
    );
    assert_eq!(
        app.send(
            R::put("", b"p".to_vec())
                .host("127.0.0.1:9000")
                .raw_path("/pathstyle/a/b")
        )
        .await
        .status,
        200
    );
    assert_eq!(
        app.send(
            R::get("")
                .host(HOST.replace("examplebucket", "pathstyle").as_str())
                .raw_path("/a/b")
        )
        .await
        .text(),
        "p"
    );
}

#[tokio::test]
async fn list_objects_v1() {
    let app = app().await;
    let keys = ["a", "a/b", "a/c/d", "a b", "a+b", "a%b", "b/1", "b/2", "c"];
    for k in keys {
        app.put(k, b"x").await;
    }
    let r = app
        .send(R::get("").q("prefix", "a/").q("delimiter", "/"))
        .await;
    assert_eq!(r.status, 200);
    let t = r.text();
    assert!(t.contains("<Contents><Key>a/b</Key>"), "{t}");
    assert!(
        t.contains("<CommonPrefixes><Prefix>a/c/</Prefix></CommonPrefixes>"),
        "{t}"
    );
    assert!(t.contains("<IsTruncated>false</IsTruncated>"), "{t}");
    // Delimiter at the root.
    let t = app.send(R::get("").q("delimiter", "/")).await.text();
    for p in [
        "<Prefix>a/</Prefix>",
        "<Prefix>b/</Prefix>",
        "<Key>a</Key>",
        "<Key>c</Key>",
    ] {
        assert!(t.contains(p), "{p} in {t}");
    }
    // URL encoding of keys.
    let t = app
        .send(R::get("").q("encoding-type", "url").q("prefix", "a"))
        .await
        .text();
    assert!(
        t.contains("<Key>a%20b</Key>")
            && t.contains("<Key>a%2Bb</Key>")
            && t.contains("<Key>a%25b</Key>"),
        "{t}"
    );
    assert!(t.contains("<EncodingType>url</EncodingType>"));
    // Paging with max-keys and marker visits every key once, in order.
    let mut seen = Vec::new();
    let mut marker = String::new();
    loop {
        let t = app
            .send(R::get("").q("max-keys", "2").q("marker", &marker))
            .await
            .text();
        for part in t.split("<Key>").skip(1) {
            seen.push(part.split("</Key>").next().unwrap().to_string());
        }
        if t.contains("<IsTruncated>true</IsTruncated>") {
            marker = t
                .split("<NextMarker>")
                .nth(1)
                .unwrap()
                .split("</NextMarker>")
                .next()
                .unwrap()
                .to_string();
        } else {
            break;
        }
    }
    let mut want: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(seen, want);
    app.send(R::get("").q("max-keys", "x"))
        .await
        .assert_error(400, "InvalidArgument");
}

#[tokio::test]
async fn delete_multiple() {
    let app = app().await;
    for k in ["d1", "d2", "d 3"] {
        app.put(k, b"x").await;
    }
    let body = "<Delete><Quiet>false</Quiet><Object><Key>d1</Key></Object><Object><Key>d 3</Key></Object><Object><Key>missing</Key></Object></Delete>";
    let r = app
        .send(
            R::new(Method::POST, "")
                .q("delete", "")
                .h("content-type", "application/xml")
                .h("content-md5", &base64_md5(body.as_bytes()))
                .with_body(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.text();
    assert!(
        t.contains("<Deleted><Key>d1</Key></Deleted>")
            && t.contains("<Deleted><Key>d 3</Key></Deleted>")
            && t.contains("<Deleted><Key>missing</Key></Deleted>"),
        "{t}"
    );
    assert_eq!(app.send(R::get("d2")).await.status, 200);
    app.send(R::get("d1")).await.assert_error(404, "NoSuchKey");
    let quiet = "<Delete><Quiet>true</Quiet><Object><Key>d2</Key></Object></Delete>";
    let r = app
        .send(R::new(Method::POST, "").q("delete", "").with_body(quiet))
        .await;
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("<Deleted>"), "{}", r.text());
    app.send(
        R::new(Method::POST, "")
            .q("delete", "")
            .with_body("<Delete><Object>"),
    )
    .await
    .assert_error(400, "MalformedXML");
    app.send(
        R::new(Method::POST, "")
            .q("delete", "")
            .h("content-md5", &base64_md5(b"other"))
            .with_body(quiet),
    )
    .await
    .assert_error(400, "BadDigest");
}

#[tokio::test]
async fn large_object_streams_through() {
    let app = app().await;
    let data: Vec<u8> = (0..(3 * 1024 * 1024 + 17))
        .map(|i| (i % 251) as u8)
        .collect();
    app.put("big", &data).await;
    let r = app.send(R::get("big")).await;
    assert_eq!(r.body.len(), data.len());
    assert_eq!(Md5::digest(&r.body), Md5::digest(&data));
    let r = app
        .send(R::get("big").h("range", "bytes=1048576-2097151"))
        .await;
    assert_eq!(&r.body[..], &data[1048576..2097152]);
}
