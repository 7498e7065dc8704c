//! Multipart upload over HTTP, in-process (spec cos.md §3.3, §6A.4, §6A.5):
//! the documents and headers of every call, the errors, headers carried from
//! Initiate to the object, SSE uploads, Upload Part Copy, and ranged reads
//! across part boundaries.

use http::Method;
use md5::{Digest, Md5};

use crate::common::{app, App, R};

const MIB: usize = 1 << 20;
const C_KEY: &str = "MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY=";
const C_MD5: &str = "U5L61r7jcwdNvT7frmUG8g==";

fn data(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed as u32) as u8
        })
        .map(|b| b ^ seed)
        .collect()
}

fn between<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    text.split(&format!("<{tag}>"))
        .nth(1)
        .and_then(|s| s.split(&format!("</{tag}>")).next())
}

fn all_between<'a>(text: &'a str, tag: &str) -> Vec<&'a str> {
    text.split(&format!("<{tag}>"))
        .skip(1)
        .filter_map(|s| s.split(&format!("</{tag}>")).next())
        .collect()
}

async fn initiate(app: &App, key: &str, headers: &[(&str, &str)]) -> String {
    let mut r = R::new(Method::POST, key).q("uploads", "");
    for (k, v) in headers {
        r = r.h(k, v);
    }
    let resp = app.send(r).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let text = resp.text();
    assert!(
        text.starts_with(
            "<?xml version='1.0' encoding='utf-8' ?>\n<InitiateMultipartUploadResult>"
        ),
        "{text}"
    );
    assert_eq!(between(&text, "Bucket"), Some("examplebucket-1250000000"));
    assert_eq!(between(&text, "Key"), Some(key));
    between(&text, "UploadId").unwrap().to_string()
}

fn part_req(key: &str, id: &str, n: u32, body: &[u8]) -> R {
    R::put(key, body.to_vec())
        .q("partNumber", &n.to_string())
        .q("uploadId", id)
}

/// Uploads a part, asserts 200 and returns its ETag header (quoted).
async fn part(app: &App, key: &str, id: &str, n: u32, body: &[u8]) -> String {
    let r = app.send(part_req(key, id, n, body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let etag = r.header("etag").unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", hex::encode(Md5::digest(body))));
    assert_eq!(
        r.header("x-cos-hash-crc64ecma"),
        Some(crc64(body).to_string().as_str())
    );
    etag
}

fn complete_body(parts: &[(u32, &str)]) -> String {
    let mut s = String::from("<CompleteMultipartUpload>");
    for (n, e) in parts {
        s.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
        ));
    }
    s.push_str("</CompleteMultipartUpload>");
    s
}

fn complete_req(key: &str, id: &str, parts: &[(u32, &str)]) -> R {
    R::new(Method::POST, key)
        .q("uploadId", id)
        .with_body(&complete_body(parts))
}

fn crc64(data: &[u8]) -> u64 {
    let mut d = crc64fast::Digest::new();
    d.write(data);
    d.sum64()
}

fn multipart_etag(parts: &[&[u8]]) -> String {
    let md5s: Vec<u8> = parts.iter().flat_map(|p| Md5::digest(p).to_vec()).collect();
    format!("\"{}-{}\"", hex::encode(Md5::digest(&md5s)), parts.len())
}

#[tokio::test]
async fn full_upload_carries_initiate_headers() {
    let app = app().await;
    let id = initiate(
        &app,
        "dir/movie.mp4",
        &[
            ("cache-control", "max-age=60"),
            ("x-cos-meta-origin", "multipart"),
            ("x-cos-storage-class", "STANDARD_IA"),
            ("x-cos-tagging", "team=media&year=2026"),
            ("x-cos-acl", "public-read"),
        ],
    )
    .await;
    let (a, b, c) = (data(1, MIB), data(2, MIB), data(3, 777));
    let ea = part(&app, "dir/movie.mp4", &id, 1, &a).await;
    let eb = part(&app, "dir/movie.mp4", &id, 2, &b).await;
    let ec = part(&app, "dir/movie.mp4", &id, 3, &c).await;
    // Complete with bare and quoted ETags alike.
    let r = app
        .send(complete_req(
            "dir/movie.mp4",
            &id,
            &[
                (1, ea.as_str()),
                (2, ea.trim_matches('"')),
                (3, ec.as_str()),
            ],
        ))
        .await;
    // Part 2's ETag was wrong (part 1's): InvalidPart, nothing changes.
    r.assert_error(400, "InvalidPart");
    let r = app
        .send(complete_req(
            "dir/movie.mp4",
            &id,
            &[
                (1, ea.as_str()),
                (2, eb.trim_matches('"')),
                (3, ec.as_str()),
            ],
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let whole = [a.as_slice(), &b, &c].concat();
    let text = r.text();
    assert_eq!(
        between(&text, "Location"),
        Some("http://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/dir/movie.mp4")
    );
    assert_eq!(between(&text, "Key"), Some("dir/movie.mp4"));
    let etag = multipart_etag(&[&a, &b, &c]);
    assert_eq!(between(&text, "ETag"), Some(etag.as_str()));
    assert_eq!(
        r.header("x-cos-hash-crc64ecma"),
        Some(crc64(&whole).to_string().as_str())
    );

    // The object has Initiate's headers, storage class, tags and ACL.
    let head = app.send(R::new(Method::HEAD, "dir/movie.mp4")).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    assert_eq!(head.header("content-type"), Some("video/mp4"));
    assert_eq!(head.header("cache-control"), Some("max-age=60"));
    assert_eq!(head.header("x-cos-meta-origin"), Some("multipart"));
    assert_eq!(head.header("x-cos-storage-class"), Some("STANDARD_IA"));
    assert_eq!(head.header("x-cos-tagging-count"), Some("2"));
    assert_eq!(
        head.header("content-length"),
        Some(whole.len().to_string().as_str())
    );
    let anon = app.send(R::get("dir/movie.mp4").anonymous()).await;
    assert_eq!(anon.status, 200, "public-read from Initiate's x-cos-acl");
    assert_eq!(&anon.body[..], &whole[..]);

    // Ranges straddling part boundaries.
    for (from, to) in [
        (MIB - 2, MIB + 1),
        (0, 2 * MIB + 776),
        (2 * MIB - 1, 2 * MIB + 3),
    ] {
        let r = app
            .send(R::get("dir/movie.mp4").h("range", &format!("bytes={from}-{to}")))
            .await;
        assert_eq!(r.status, 206);
        assert_eq!(&r.body[..], &whole[from..=to], "{from}-{to}");
    }
    // The upload is gone.
    let r = app.send(R::get("dir/movie.mp4").q("uploadId", &id)).await;
    r.assert_error(404, "NoSuchUpload");
}

#[tokio::test]
async fn complete_errors() {
    let app = app().await;
    let id = initiate(&app, "k", &[]).await;
    let small = data(1, 100);
    let big = data(2, MIB);
    let e1 = part(&app, "k", &id, 1, &small).await;
    let e2 = part(&app, "k", &id, 2, &big).await;
    let e3 = part(&app, "k", &id, 3, &small).await;
    app.send(complete_req("k", &id, &[(2, &e2), (1, &e1)]))
        .await
        .assert_error(400, "InvalidPartOrder");
    app.send(complete_req("k", &id, &[(1, &e1), (1, &e1)]))
        .await
        .assert_error(400, "InvalidPartOrder");
    app.send(complete_req("k", &id, &[(1, &e1), (2, &e2)]))
        .await
        .assert_error(400, "EntityTooSmall");
    app.send(complete_req("k", &id, &[(2, &e2), (4, &e3)]))
        .await
        .assert_error(400, "InvalidPart");
    app.send(complete_req("k", &id, &[]))
        .await
        .assert_error(400, "MalformedXML");
    app.send(
        R::new(Method::POST, "k")
            .q("uploadId", &id)
            .with_body("<nope"),
    )
    .await
    .assert_error(400, "MalformedXML");
    app.send(complete_req(
        "k",
        "0123456789abcdef0123456789abcdef",
        &[(1, &e1)],
    ))
    .await
    .assert_error(404, "NoSuchUpload");
    // Another key's upload id does not exist under this key.
    app.send(complete_req("other", &id, &[(1, &e1)]))
        .await
        .assert_error(404, "NoSuchUpload");
    // Part numbers outside 1..10000.
    for n in ["0", "10001", "x", ""] {
        app.send(R::put("k", "x").q("partNumber", n).q("uploadId", &id))
            .await
            .assert_error(400, "InvalidArgument");
    }
    // Digests are checked per part.
    app.send(part_req("k", &id, 4, b"abc").h("content-md5", "AAAAAAAAAAAAAAAAAAAAAA=="))
        .await
        .assert_error(400, "BadDigest");
    app.send(part_req("k", &id, 4, b"abc").h("x-cos-content-sha1", &"0".repeat(40)))
        .await
        .assert_error(400, "InvalidSHA1Digest");
    let sha1 = hex::encode(sha1::Sha1::digest(b"abc"));
    let ok = app
        .send(part_req("k", &id, 4, b"abc").h("x-cos-content-sha1", &sha1))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    // Still completes with the valid list (2 then 3: 1 MiB then the last).
    let r = app
        .send(complete_req("k", &id, &[(2, &e2), (3, &e3)]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.send(R::get("k")).await.body.len(), MIB + 100);
}

#[tokio::test]
async fn abort_list_parts_and_list_uploads() {
    let app = app().await;
    let id = initiate(&app, "a/one", &[]).await;
    let id2 = initiate(&app, "a/one", &[]).await;
    let id3 = initiate(&app, "b%two", &[("x-cos-storage-class", "ARCHIVE")]).await;
    for n in 1..=5u32 {
        part(&app, "a/one", &id, n, format!("part {n}").as_bytes()).await;
    }
    // List Parts paging.
    let r = app
        .send(
            R::get("a/one")
                .q("uploadId", &id)
                .q("max-parts", "2")
                .q("part-number-marker", "1"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.text();
    assert!(t.contains("<ListPartsResult>"), "{t}");
    assert_eq!(all_between(&t, "PartNumber"), vec!["2", "3"]);
    assert_eq!(between(&t, "IsTruncated"), Some("true"));
    assert_eq!(between(&t, "NextPartNumberMarker"), Some("3"));
    assert_eq!(between(&t, "PartNumberMarker"), Some("1"));
    assert_eq!(between(&t, "MaxParts"), Some("2"));
    assert_eq!(between(&t, "StorageClass"), Some("STANDARD"));
    assert_eq!(
        all_between(&t, "ETag")[0],
        format!("\"{}\"", hex::encode(Md5::digest(b"part 2")))
    );
    let r = app
        .send(
            R::get("a/one")
                .q("uploadId", &id)
                .q("part-number-marker", "3"),
        )
        .await;
    assert_eq!(all_between(&r.text(), "PartNumber"), vec!["4", "5"]);
    assert_eq!(between(&r.text(), "IsTruncated"), Some("false"));

    // List Uploads: by key, oldest first; delimiter; encoding.
    let r = app
        .send(
            R::new(Method::GET, "")
                .q("uploads", "")
                .q("encoding-type", "url"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.text();
    assert!(t.contains("<ListMultipartUploadsResult>"), "{t}");
    assert_eq!(all_between(&t, "UploadId"), vec![&id, &id2, &id3]);
    assert_eq!(all_between(&t, "Key"), vec!["a/one", "a/one", "b%25two"]);
    assert_eq!(between(&t, "IsTruncated"), Some("false"));
    assert!(t.contains("<StorageClass>ARCHIVE</StorageClass>"));
    let r = app
        .send(
            R::new(Method::GET, "")
                .q("uploads", "")
                .q("delimiter", "/")
                .q("max-uploads", "1"),
        )
        .await;
    let t = r.text();
    assert_eq!(all_between(&t, "Prefix")[1..].to_vec(), vec!["a/"], "{t}");
    assert_eq!(between(&t, "IsTruncated"), Some("true"));
    assert_eq!(between(&t, "NextKeyMarker"), Some("a/"));
    let r = app
        .send(
            R::new(Method::GET, "")
                .q("uploads", "")
                .q("key-marker", "a/one")
                .q("upload-id-marker", &id),
        )
        .await;
    assert_eq!(all_between(&r.text(), "UploadId"), vec![&id2, &id3]);
    app.send(
        R::new(Method::GET, "")
            .q("uploads", "")
            .q("encoding-type", "xml"),
    )
    .await
    .assert_error(400, "InvalidArgument");

    // Abort: 204, then the id is gone everywhere.
    let r = app
        .send(R::new(Method::DELETE, "a/one").q("uploadId", &id))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    app.send(R::new(Method::DELETE, "a/one").q("uploadId", &id))
        .await
        .assert_error(404, "NoSuchUpload");
    app.send(part_req("a/one", &id, 6, b"late"))
        .await
        .assert_error(404, "NoSuchUpload");
    // A bucket with open uploads cannot be deleted.
    app.send(R::new(Method::DELETE, ""))
        .await
        .assert_error(409, "BucketNotEmpty");
}

#[tokio::test]
async fn upload_part_copy_ranges_and_conditions() {
    let app = app().await;
    let src = data(9, 3 * MIB + 10);
    app.put("src.bin", &src).await;
    let src_etag = format!("\"{}\"", hex::encode(Md5::digest(&src)));
    let id = initiate(&app, "dst.bin", &[]).await;
    let copy = |n: u32, range: &str| {
        let mut r = R::new(Method::PUT, "dst.bin")
            .q("partNumber", &n.to_string())
            .q("uploadId", &id)
            .h(
                "x-cos-copy-source",
                "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/src.bin",
            );
        if !range.is_empty() || n == 9 {
            r = r.h("x-cos-copy-source-range", range);
        }
        r
    };
    let r = app.send(copy(1, &format!("bytes=0-{}", 2 * MIB - 1))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.text();
    assert!(t.contains("<CopyPartResult>"), "{t}");
    let e1 = between(&t, "ETag").unwrap().to_string();
    assert_eq!(
        e1,
        format!("\"{}\"", hex::encode(Md5::digest(&src[..2 * MIB])))
    );
    assert_eq!(
        between(&t, "CRC64"),
        Some(crc64(&src[..2 * MIB]).to_string().as_str())
    );
    // The end is clamped to the source.
    let r = app
        .send(copy(2, &format!("bytes={}-{}", 2 * MIB, 10 * MIB)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let e2 = between(&r.text(), "ETag").unwrap().to_string();
    for bad in [
        format!("bytes={}-{}", 4 * MIB, 5 * MIB),
        "bytes=5-1".into(),
        "0-1".into(),
    ] {
        app.send(copy(3, &bad))
            .await
            .assert_error(400, "InvalidArgument");
    }
    // Empty range header = whole object (Python sends it empty).
    let r = app.send(copy(9, "")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Copy-source conditionals.
    app.send(copy(3, "").h("x-cos-copy-source-if-match", "\"nope\""))
        .await
        .assert_error(412, "PreconditionFailed");
    let r = app
        .send(copy(3, "").h("x-cos-copy-source-if-match", &src_etag))
        .await;
    assert_eq!(r.status, 200);
    // Missing source.
    app.send(
        R::new(Method::PUT, "dst.bin")
            .q("partNumber", "4")
            .q("uploadId", &id)
            .h(
                "x-cos-copy-source",
                "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/missing",
            ),
    )
    .await
    .assert_error(404, "NoSuchCopySource");

    let r = app
        .send(complete_req("dst.bin", &id, &[(1, &e1), (2, &e2)]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&app.send(R::get("dst.bin")).await.body[..], &src[..]);
}

#[tokio::test]
async fn sse_uploads_seal_every_part() {
    let app = app().await;
    // SSE-COS: the parts are sealed with the upload's key.
    let id = initiate(
        &app,
        "cos.bin",
        &[("x-cos-server-side-encryption", "AES256")],
    )
    .await;
    let (a, b) = (data(4, MIB + 3), data(5, 4000));
    let r = app.send(part_req("cos.bin", &id, 1, &a)).await;
    assert_eq!(r.header("x-cos-server-side-encryption"), Some("AES256"));
    let ea = r.header("etag").unwrap().to_string();
    let eb = part(&app, "cos.bin", &id, 2, &b).await;
    let r = app
        .send(complete_req("cos.bin", &id, &[(1, &ea), (2, &eb)]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-cos-server-side-encryption"), Some("AES256"));
    let whole = [a.as_slice(), &b].concat();
    let get = app.send(R::get("cos.bin")).await;
    assert_eq!(get.header("x-cos-server-side-encryption"), Some("AES256"));
    assert_eq!(&get.body[..], &whole[..]);
    let r = app
        .send(R::get("cos.bin").h("range", &format!("bytes={}-{}", MIB - 5, MIB + 10)))
        .await;
    assert_eq!(&r.body[..], &whole[MIB - 5..=MIB + 10]);

    // SSE-C: every part needs the key; the object needs it to be read.
    let ssec = |r: R| {
        r.h("x-cos-server-side-encryption-customer-algorithm", "AES256")
            .h("x-cos-server-side-encryption-customer-key", C_KEY)
            .h("x-cos-server-side-encryption-customer-key-MD5", C_MD5)
    };
    let resp = app
        .send(ssec(R::new(Method::POST, "c.bin").q("uploads", "")))
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.header("x-cos-server-side-encryption-customer-algorithm"),
        Some("AES256")
    );
    let id = between(&resp.text(), "UploadId").unwrap().to_string();
    app.send(part_req("c.bin", &id, 1, &a))
        .await
        .assert_error(400, "SsecDecryptHeaderInvalid");
    let r = app.send(ssec(part_req("c.bin", &id, 1, &a))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ea = r.header("etag").unwrap().to_string();
    let r = app.send(ssec(part_req("c.bin", &id, 2, &b))).await;
    let eb = r.header("etag").unwrap().to_string();
    let r = app
        .send(complete_req("c.bin", &id, &[(1, &ea), (2, &eb)]))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-cos-server-side-encryption-customer-algorithm"),
        Some("AES256")
    );
    app.send(R::get("c.bin"))
        .await
        .assert_error(400, "SsecDecryptHeaderInvalid");
    let get = app.send(ssec(R::get("c.bin"))).await;
    assert_eq!(get.status, 200, "{}", get.text());
    assert_eq!(&get.body[..], &whole[..]);
}

#[tokio::test]
async fn versioned_bucket_and_forbid_overwrite() {
    let app = app().await;
    let r = app
        .send(R::new(Method::PUT, "").q("versioning", "").with_body(
            "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        ))
        .await;
    assert_eq!(r.status, 200);
    app.put("v", b"first").await;
    let id = initiate(&app, "v", &[]).await;
    let e = part(&app, "v", &id, 1, b"second").await;
    let r = app.send(complete_req("v", &id, &[(1, &e)])).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let version = r.header("x-cos-version-id").unwrap().to_string();
    let r = app.send(R::get("v").q("versionId", &version)).await;
    assert_eq!(&r.body[..], b"second");

    // Forbid-overwrite (honoured on unversioned buckets, like PUT).
    let app = app_fresh().await;
    app.put("taken", b"x").await;
    let r = app
        .send(
            R::new(Method::POST, "taken")
                .q("uploads", "")
                .h("x-cos-forbid-overwrite", "true"),
        )
        .await;
    r.assert_error(409, "FileAlreadyExists");
    let id = initiate(&app, "free", &[("x-cos-forbid-overwrite", "true")]).await;
    let e = part(&app, "free", &id, 1, b"mine").await;
    app.put("free", b"theirs").await;
    app.send(complete_req("free", &id, &[(1, &e)]))
        .await
        .assert_error(409, "FileAlreadyExists");
    assert_eq!(&app.send(R::get("free")).await.body[..], b"theirs");
}

async fn app_fresh() -> App {
    app().await
}

#[tokio::test]
async fn anonymous_and_missing_bucket() {
    let app = app().await;
    let r = app
        .send(R::new(Method::POST, "k").q("uploads", "").anonymous())
        .await;
    r.assert_error(403, "AccessDenied");
    let r = app
        .send(
            R::new(Method::POST, "k")
                .q("uploads", "")
                .host("nobucket-1250000000.cos.ap-guangzhou.myqcloud.com"),
        )
        .await;
    r.assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn put_object_checks_content_sha1() {
    let app = app().await;
    app.send(R::put("s", "abc").h("x-cos-content-sha1", &"1".repeat(40)))
        .await
        .assert_error(400, "InvalidSHA1Digest");
    app.send(R::put("s", "abc").h("x-cos-content-sha1", "not-hex"))
        .await
        .assert_error(400, "InvalidSHA1Digest");
    app.send(R::get("s")).await.assert_error(404, "NoSuchKey");
    let sha1 = hex::encode(sha1::Sha1::digest(b"abc"));
    let r = app
        .send(R::put("s", "abc").h("x-cos-content-sha1", &sha1))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}
