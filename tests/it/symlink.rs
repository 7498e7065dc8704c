//! Symlinks `PUT/GET /<key>?symlink` (spec cos-bucket.md §15.3): the link
//! object, GET/HEAD following it one hop, errors.

use http::Method;

use crate::common::{app, R};

fn put_link(link: &str, target: &str) -> R {
    R::new(Method::PUT, link)
        .q("symlink", "")
        .h("x-cos-symlink-target", target)
}

#[tokio::test]
async fn link_put_get_and_follow() {
    let app = app().await;
    app.send(
        R::put("reports/2024/report v1.pdf", b"hello".to_vec())
            .h("content-type", "application/pdf")
            .h("x-cos-meta-owner", "alice"),
    )
    .await;
    let r = app
        .send(put_link("latest/report.pdf", "reports/2024/report v1.pdf"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("x-cos-request-id").is_some());
    // The link's own ETag: MD5 of the stored path.
    let path_md5 = format!(
        "\"{}\"",
        hex::encode(<md5::Md5 as md5::Digest>::digest(
            b"reports/2024/report v1.pdf"
        ))
    );
    assert_eq!(r.header("etag"), Some(path_md5.as_str()));
    assert_eq!(r.header("x-cos-version-id"), None, "unversioned bucket");

    // GET ?symlink: the raw target, empty body.
    let got = app.send(R::get("latest/report.pdf").q("symlink", "")).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(
        got.header("x-cos-symlink-target"),
        Some("reports/2024/report v1.pdf")
    );
    assert!(got.body.is_empty());

    // GET / HEAD follow the link: the target's bytes and headers.
    let got = app.send(R::get("latest/report.pdf")).await;
    assert_eq!(got.status, 200);
    assert_eq!(&got.body[..], b"hello");
    assert_eq!(got.header("content-type"), Some("application/pdf"));
    assert_eq!(got.header("x-cos-meta-owner"), Some("alice"));
    let target_etag = format!(
        "\"{}\"",
        hex::encode(<md5::Md5 as md5::Digest>::digest(b"hello"))
    );
    assert_eq!(got.header("etag"), Some(target_etag.as_str()));
    let head = app.send(R::new(Method::HEAD, "latest/report.pdf")).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("5"));
    // Ranges apply to the target's bytes.
    let part = app
        .send(R::get("latest/report.pdf").h("range", "bytes=1-2"))
        .await;
    assert_eq!(part.status, 206);
    assert_eq!(&part.body[..], b"el");

    // A URL-encoded target (Go) is decoded.
    let r = app
        .send(put_link("enc-link", "reports%2F2024%2Freport%20v1.pdf"))
        .await;
    assert_eq!(r.status, 200);
    let got = app.send(R::get("enc-link")).await;
    assert_eq!(&got.body[..], b"hello");

    // The link is listed like any object (its size is the path's length).
    let list = app.send(R::get("").q("prefix", "latest/")).await;
    let text = list.text();
    assert!(text.contains("<Key>latest/report.pdf</Key>"), "{text}");
    assert!(text.contains("<Size>26</Size>"), "{text}");

    // The target changes: the link follows the latest bytes.
    app.put("reports/2024/report v1.pdf", b"hello again").await;
    let got = app.send(R::get("latest/report.pdf")).await;
    assert_eq!(&got.body[..], b"hello again");

    // Deleting the link never touches the target.
    let r = app.send(R::new(Method::DELETE, "latest/report.pdf")).await;
    assert_eq!(r.status, 204);
    let got = app.send(R::get("reports/2024/report v1.pdf")).await;
    assert_eq!(&got.body[..], b"hello again");
    app.send(R::get("latest/report.pdf").q("symlink", ""))
        .await
        .assert_error(404, "NoSuchKey");
}

#[tokio::test]
async fn link_errors_missing_targets_and_chains() {
    let app = app().await;
    // Missing / empty header, a link to itself.
    app.send(R::new(Method::PUT, "l").q("symlink", ""))
        .await
        .assert_error(400, "InvalidArgument");
    app.send(put_link("l", ""))
        .await
        .assert_error(400, "InvalidArgument");
    app.send(put_link("l", "l"))
        .await
        .assert_error(400, "InvalidArgument");
    app.send(put_link("l", &"k".repeat(851)))
        .await
        .assert_error(400, "KeyTooLong");
    // A target that does not exist yet: the link is stored, reads 404.
    let r = app.send(put_link("dangling", "not-yet")).await;
    assert_eq!(r.status, 200);
    app.send(R::get("dangling"))
        .await
        .assert_error(404, "NoSuchKey");
    let head = app.send(R::new(Method::HEAD, "dangling")).await;
    assert_eq!(head.status, 404);
    // Created later: followed.
    app.put("not-yet", b"now").await;
    assert_eq!(&app.send(R::get("dangling")).await.body[..], b"now");
    // A link to a link is not followed further (no chains, no loops).
    let r = app.send(put_link("second", "dangling")).await;
    assert_eq!(r.status, 200);
    app.send(R::get("second"))
        .await
        .assert_error(404, "NoSuchKey");
    app.send(put_link("loop-a", "loop-b")).await;
    app.send(put_link("loop-b", "loop-a")).await;
    app.send(R::get("loop-a"))
        .await
        .assert_error(404, "NoSuchKey");
    // GET ?symlink on a normal object / a missing key.
    app.send(R::get("not-yet").q("symlink", ""))
        .await
        .assert_error(400, "InvalidArgument");
    app.send(R::get("nothing").q("symlink", ""))
        .await
        .assert_error(404, "NoSuchKey");
    // Anonymous callers cannot create links.
    app.send(put_link("anon", "not-yet").anonymous())
        .await
        .assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn versioned_links() {
    let app = app().await;
    let r = app
        .send(R::new(Method::PUT, "").q("versioning", "").with_body(
            "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        ))
        .await;
    assert_eq!(r.status, 200);
    app.put("a.txt", b"A").await;
    app.put("b.txt", b"B").await;
    let first = app.send(put_link("link", "a.txt")).await;
    let v1 = first.header("x-cos-version-id").unwrap().to_string();
    let second = app.send(put_link("link", "b.txt")).await;
    let v2 = second.header("x-cos-version-id").unwrap().to_string();
    assert_ne!(v1, v2);
    let got = app
        .send(R::get("link").q("symlink", "").q("versionId", &v1))
        .await;
    assert_eq!(got.header("x-cos-symlink-target"), Some("a.txt"));
    assert_eq!(got.header("x-cos-version-id"), Some(v1.as_str()));
    let got = app.send(R::get("link").q("symlink", "")).await;
    assert_eq!(got.header("x-cos-symlink-target"), Some("b.txt"));
    // GET of an older link version follows that version's target.
    let got = app.send(R::get("link").q("versionId", &v1)).await;
    assert_eq!(&got.body[..], b"A");
    assert_eq!(&app.send(R::get("link")).await.body[..], b"B");
    app.send(
        R::get("link")
            .q("symlink", "")
            .q("versionId", "MTg0NDUxNTc1NjIzMTQ1MDAwODk"),
    )
    .await
    .assert_error(404, "NoSuchVersion");
}

/// The SDK's captured `put_symlink` / `get_symlink` requests, replayed.
#[tokio::test]
async fn sdk_vectors_replay() {
    let app = app().await;
    let find = |name: &str| {
        crate::bucket_config::vectors()
            .into_iter()
            .find(|v| v["name"] == name)
            .unwrap()
    };
    let header = |v: &serde_json::Value, name: &str| {
        v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0] == name)
            .map(|h| h[1].as_str().unwrap().to_string())
    };
    let put = find("py_put_symlink");
    let target = header(&put, "x-cos-symlink-target").unwrap();
    assert_eq!(target, "reports/2024/report v1.pdf");
    app.put(&target, b"hello").await;
    let path = put["target"].as_str().unwrap();
    let key = path.trim_start_matches('/').split('?').next().unwrap();
    let mut r = crate::bucket_config::replay(&put);
    r.path = format!("/{key}");
    let r = app.send(r.h("x-cos-symlink-target", &target)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let get = find("py_get_symlink");
    let mut g = crate::bucket_config::replay(&get);
    g.path = format!("/{key}");
    // The captured versionId names no version of this (unversioned) bucket.
    app.send(g).await.assert_error(404, "NoSuchVersion");
    let got = app.send(R::get(key).q("symlink", "")).await;
    assert_eq!(got.header("x-cos-symlink-target"), Some(target.as_str()));
    assert_eq!(&app.send(R::get(key)).await.body[..], b"hello");
}
