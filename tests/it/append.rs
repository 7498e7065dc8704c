//! Append Object in-process: `POST /<key>?append&position=N` (spec cos.md
//! §6A.3): creation, growth, the response and read headers, the 409s,
//! PUT/copy making objects normal, creation headers (metadata, tags, ACL,
//! storage class, SSE), versioned buckets and racing appends.

use http::Method;

use crate::common::{app, App, Resp, R};

fn append(key: &str, position: u64, body: &[u8]) -> R {
    let mut r = R::new(Method::POST, key)
        .q("append", "")
        .q("position", &position.to_string());
    r.body = bytes::Bytes::copy_from_slice(body);
    r
}

fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(data))
}

fn crc64(data: &[u8]) -> String {
    let mut d = crc64fast::Digest::new();
    d.write(data);
    d.sum64().to_string()
}

async fn ok(app: &App, r: R) -> Resp {
    let resp = app.send(r).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp
}

#[tokio::test]
async fn create_grow_and_read() {
    let app = app().await;
    // Step 1: position 0 creates the object.
    let r = ok(&app, append("log.txt", 0, b"hello")).await;
    assert_eq!(r.header("x-cos-next-append-position"), Some("5"));
    let first_etag = format!("\"{}\"", md5_hex(b"hello"));
    assert_eq!(r.header("etag"), Some(first_etag.as_str()));
    assert_eq!(
        r.header("x-cos-content-sha1"),
        Some(md5_hex(b"hello").as_str())
    );
    assert_eq!(
        r.header("x-cos-hash-crc64ecma"),
        Some(crc64(b"hello").as_str())
    );
    assert_eq!(r.header("content-length"), Some("0"));
    assert_eq!(r.header("x-cos-version-id"), None);
    assert!(r.body.is_empty());

    // Step 2: appends at the current length.
    let r = ok(&app, append("log.txt", 5, b" world")).await;
    assert_eq!(r.header("x-cos-next-append-position"), Some("11"));
    assert_eq!(
        r.header("x-cos-content-sha1"),
        Some(md5_hex(b" world").as_str())
    );
    assert_eq!(
        r.header("x-cos-hash-crc64ecma"),
        Some(crc64(b"hello world").as_str()),
        "CRC-64 of the whole object"
    );
    let etag = r.header("etag").unwrap().to_string();
    assert_ne!(etag, first_etag, "the ETag changes on every append");
    assert!(etag.len() == 34 && etag.starts_with('"'), "{etag}");

    // GET and HEAD: the whole object, appendable, with the next position.
    for m in [Method::GET, Method::HEAD] {
        let r = app.send(R::new(m.clone(), "log.txt")).await;
        assert_eq!(r.status, 200, "{m}");
        assert_eq!(r.header("x-cos-object-type"), Some("appendable"), "{m}");
        assert_eq!(r.header("x-cos-next-append-position"), Some("11"), "{m}");
        assert_eq!(r.header("content-length"), Some("11"), "{m}");
        assert_eq!(
            r.header("content-type"),
            Some("text/plain"),
            "{m}: inferred"
        );
        assert_eq!(r.header("etag"), Some(etag.as_str()), "{m}");
        assert_eq!(
            r.header("x-cos-hash-crc64ecma"),
            Some(crc64(b"hello world").as_str())
        );
    }
    assert_eq!(&app.send(R::get("log.txt")).await.body[..], b"hello world");
    // A range across the append boundary.
    let r = app.send(R::get("log.txt").h("range", "bytes=3-7")).await;
    assert_eq!(r.status, 206);
    assert_eq!(&r.body[..], b"lo wo");

    // An empty append is allowed and changes nothing but the ETag.
    let r = ok(&app, append("log.txt", 11, b"")).await;
    assert_eq!(r.header("x-cos-next-append-position"), Some("11"));
    assert_eq!(&app.send(R::get("log.txt")).await.body[..], b"hello world");

    // `?append=&position=` (cos-python-sdk-v5's spelling) works the same.
    let r = ok(
        &app,
        R::new(Method::POST, "log.txt")
            .q("append", "")
            .q("position", "11")
            .with_body("!"),
    )
    .await;
    assert_eq!(r.header("x-cos-next-append-position"), Some("12"));
}

#[tokio::test]
async fn position_and_type_errors() {
    let app = app().await;
    // Absent key, position > 0: 409 with the length to append at (0).
    let r = app.send(append("a", 3, b"x")).await;
    r.assert_error(409, "AppendPositionErr");
    assert_eq!(r.header("x-cos-next-append-position"), Some("0"));
    assert_eq!(app.send(R::new(Method::HEAD, "a")).await.status, 404);

    ok(&app, append("a", 0, b"abc")).await;
    for pos in [0, 2, 4, 100] {
        let r = app.send(append("a", pos, b"x")).await;
        r.assert_error(409, "AppendPositionErr");
        assert_eq!(r.header("x-cos-next-append-position"), Some("3"), "{pos}");
    }
    assert_eq!(&app.send(R::get("a")).await.body[..], b"abc");

    // A normal object is not appendable, whatever the position.
    app.put("normal", b"data").await;
    for pos in [0, 4] {
        app.send(append("normal", pos, b"x"))
            .await
            .assert_error(409, "ObjectNotAppendable");
    }
    let head = app.send(R::new(Method::HEAD, "normal")).await;
    assert_eq!(head.header("x-cos-object-type"), Some("normal"));
    assert_eq!(head.header("x-cos-next-append-position"), None);

    // Bad or missing position: 400 InvalidArgument.
    for q in [None, Some(""), Some("-1"), Some("x"), Some("1.0")] {
        let mut r = R::new(Method::POST, "a").q("append", "").with_body("x");
        if let Some(v) = q {
            r = r.q("position", v);
        }
        app.send(r).await.assert_error(400, "InvalidArgument");
    }
    // No Content-Length: 411.
    app.send(append("a", 3, b"x").h("transfer-encoding", "chunked"))
        .await
        .assert_error(411, "MissingContentLength");
    // Over 5 GB in one append: refused before the body.
    app.send(append("a", 3, b"").h("content-length", "5368709121"))
        .await
        .assert_error(400, "EntityTooLarge");
    // Content-MD5 is checked per append; a failure leaves the object as it was.
    use base64::Engine;
    let b64 = |d: &[u8]| {
        use md5::{Digest, Md5};
        base64::engine::general_purpose::STANDARD.encode(Md5::digest(d))
    };
    app.send(append("a", 3, b"def").h("content-md5", &b64(b"xyz")))
        .await
        .assert_error(400, "BadDigest");
    app.send(append("a", 3, b"def").h("content-md5", "nope"))
        .await
        .assert_error(400, "InvalidDigest");
    assert_eq!(&app.send(R::get("a")).await.body[..], b"abc");
    ok(&app, append("a", 3, b"def").h("content-md5", &b64(b"def"))).await;
    assert_eq!(&app.send(R::get("a")).await.body[..], b"abcdef");
    // Unsupported storage class / SSE kind on the creating append.
    app.send(append("b", 0, b"x").h("x-cos-storage-class", "INTELLIGENT_TIERING"))
        .await
        .assert_error(400, "InvalidArgument");
    app.send(append("b", 0, b"x").h("x-cos-server-side-encryption", "cos/kms"))
        .await
        .assert_error(400, "SSEHeaderNotAllowed");
    assert_eq!(app.send(R::new(Method::HEAD, "b")).await.status, 404);
}

#[tokio::test]
async fn put_and_copy_make_normal_objects() {
    let app = app().await;
    ok(&app, append("k", 0, b"one")).await;
    // PUT over an appendable object replaces it with a normal one.
    app.put("k", b"two").await;
    let head = app.send(R::new(Method::HEAD, "k")).await;
    assert_eq!(head.header("x-cos-object-type"), Some("normal"));
    app.send(append("k", 3, b"x"))
        .await
        .assert_error(409, "ObjectNotAppendable");
    // DELETE, then append creates it afresh.
    assert_eq!(app.send(R::new(Method::DELETE, "k")).await.status, 204);
    ok(&app, append("k", 0, b"three")).await;
    // A copy of an appendable object is a normal object.
    let r = app
        .send(R::new(Method::PUT, "copy").h(
            "x-cos-copy-source",
            "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/k",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let head = app.send(R::new(Method::HEAD, "copy")).await;
    assert_eq!(head.header("x-cos-object-type"), Some("normal"));
    assert_eq!(&app.send(R::get("copy")).await.body[..], b"three");
    app.send(append("copy", 5, b"x"))
        .await
        .assert_error(409, "ObjectNotAppendable");
}

#[tokio::test]
async fn creation_headers_are_kept_later_ones_ignored() {
    let app = app().await;
    ok(
        &app,
        append("data.bin", 0, b"12")
            .h("content-type", "application/x-custom")
            .h("x-cos-meta-color", "blue")
            .h("cache-control", "max-age=60")
            .h("x-cos-storage-class", "STANDARD_IA")
            .h("x-cos-tagging", "team=a%20b&env=dev")
            .h("x-cos-acl", "public-read"),
    )
    .await;
    // Node always sends an empty Cache-Control; later headers are ignored.
    ok(
        &app,
        append("data.bin", 2, b"34")
            .h("content-type", "text/html")
            .h("x-cos-meta-color", "red")
            .h("cache-control", ""),
    )
    .await;
    let head = app.send(R::new(Method::HEAD, "data.bin")).await;
    assert_eq!(head.header("content-type"), Some("application/x-custom"));
    assert_eq!(head.header("x-cos-meta-color"), Some("blue"));
    assert_eq!(head.header("cache-control"), Some("max-age=60"));
    assert_eq!(head.header("x-cos-storage-class"), Some("STANDARD_IA"));
    assert_eq!(head.header("x-cos-tagging-count"), Some("2"));
    let tags = app
        .send(R::new(Method::GET, "data.bin").q("tagging", ""))
        .await
        .text();
    assert!(
        tags.contains("<Tag><Key>team</Key><Value>a b</Value></Tag><Tag><Key>env</Key><Value>dev</Value></Tag>"),
        "{tags}"
    );
    // public-read: an anonymous GET works.
    let r = app.send(R::get("data.bin").anonymous()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..], b"1234");
    // Tags changed between appends do not stop the next append.
    let r = app
        .send(R::new(Method::PUT, "data.bin").q("tagging", "").with_body(
            "<Tagging><TagSet><Tag><Key>x</Key><Value>y</Value></Tag></TagSet></Tagging>",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    ok(&app, append("data.bin", 4, b"5")).await;
    let head = app.send(R::new(Method::HEAD, "data.bin")).await;
    assert_eq!(head.header("x-cos-tagging-count"), Some("1"));
    assert_eq!(head.header("content-length"), Some("5"));
}

#[tokio::test]
async fn sse_cos_appendable_objects() {
    let app = app().await;
    let r = ok(
        &app,
        append("enc", 0, b"secret ").h("x-cos-server-side-encryption", "AES256"),
    )
    .await;
    assert_eq!(r.header("x-cos-server-side-encryption"), Some("AES256"));
    // Later appends are sealed with the object's key without asking.
    let r = ok(&app, append("enc", 7, b"stuff")).await;
    assert_eq!(r.header("x-cos-server-side-encryption"), Some("AES256"));
    let r = app.send(R::get("enc")).await;
    assert_eq!(&r.body[..], b"secret stuff");
    assert_eq!(r.header("x-cos-server-side-encryption"), Some("AES256"));
    let r = app.send(R::get("enc").h("range", "bytes=5-8")).await;
    assert_eq!(&r.body[..], b"t st");
}

#[tokio::test]
async fn bucket_default_encryption_applies_at_creation() {
    let app = app().await;
    let r = app
        .send(R::new(Method::PUT, "").q("encryption", "").with_body(
            "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = ok(&app, append("dflt", 0, b"abc")).await;
    assert_eq!(r.header("x-cos-server-side-encryption"), Some("AES256"));
    ok(&app, append("dflt", 3, b"def")).await;
    let r = app.send(R::get("dflt")).await;
    assert_eq!(r.header("x-cos-server-side-encryption"), Some("AES256"));
    assert_eq!(&r.body[..], b"abcdef");
}

#[tokio::test]
async fn versioned_bucket_keeps_one_null_version() {
    let app = app().await;
    let body = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
    let r = app
        .send(R::new(Method::PUT, "").q("versioning", "").with_body(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = ok(&app, append("v", 0, b"ab")).await;
    assert_eq!(r.header("x-cos-version-id"), None);
    ok(&app, append("v", 2, b"cd")).await;
    let head = app.send(R::new(Method::HEAD, "v")).await;
    assert_eq!(head.header("x-cos-version-id"), Some("null"));
    // A PUT stacks a normal version on top; the appendable one stays.
    let put = app.put("v", b"normal").await;
    let id = put.header("x-cos-version-id").unwrap().to_string();
    assert_ne!(id, "null");
    app.send(append("v", 6, b"x"))
        .await
        .assert_error(409, "ObjectNotAppendable");
    let old = app.send(R::get("v").q("versionId", "null")).await;
    assert_eq!(&old.body[..], b"abcd");
    assert_eq!(old.header("x-cos-object-type"), Some("appendable"));
    let list = app
        .send(R::new(Method::GET, "").q("versions", ""))
        .await
        .text();
    assert_eq!(list.matches("<Version>").count(), 2, "{list}");
}

#[tokio::test]
async fn racing_appends_one_winner() {
    let app = app().await;
    ok(&app, append("race", 0, b"base")).await;
    let sends = (0..8u8).map(|i| app.send(append("race", 4, &[b'a' + i; 1000])));
    let results = futures_util::future::join_all(sends).await;
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status == 200)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one append at position 4 wins");
    for r in results.iter().filter(|r| r.status != 200) {
        r.assert_error(409, "AppendPositionErr");
        assert_eq!(r.header("x-cos-next-append-position"), Some("1004"));
    }
    let body = app.send(R::get("race")).await.body;
    assert_eq!(body.len(), 1004);
    assert_eq!(&body[..4], b"base");
    assert!(body[4..].iter().all(|b| *b == b'a' + winners[0] as u8));
}
