//! Object tagging in-process: `?tagging` PUT/GET/DELETE (with `versionId`),
//! `x-cos-tagging` on PUT and Copy, `x-cos-tagging-count`, limits and errors
//! (spec cos.md §6A.7); Content-Type inference on PUT (§6A.2).

use http::Method;

use crate::common::{app, App, HOST};

use crate::common::R;

const DECL: &str = "<?xml version='1.0' encoding='utf-8' ?>\n";

fn tagging(method: Method, key: &str) -> R {
    R::new(method, key).q("tagging", "")
}

fn doc(pairs: &[(&str, &str)]) -> String {
    let mut s = String::from("<Tagging><TagSet>");
    for (k, v) in pairs {
        s.push_str(&format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>"));
    }
    s.push_str("</TagSet></Tagging>");
    s
}

async fn get_tags(app: &App, r: R) -> String {
    let r = app.send(r).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/xml"));
    r.text()
}

#[tokio::test]
async fn put_get_delete_round_trip() {
    let app = app().await;
    app.put("k.txt", b"data").await;
    // Untagged: an empty set, and no count header.
    assert_eq!(
        get_tags(&app, tagging(Method::GET, "k.txt")).await,
        format!("{DECL}<Tagging><TagSet></TagSet></Tagging>")
    );
    let head = app.send(R::new(Method::HEAD, "k.txt")).await;
    assert_eq!(head.header("x-cos-tagging-count"), None);

    let body = doc(&[("k2", "v2"), ("k1", "")]);
    let r = app
        .send(tagging(Method::PUT, "k.txt").with_body(&body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-length"), Some("0"));
    assert_eq!(
        get_tags(&app, tagging(Method::GET, "k.txt")).await,
        format!("{DECL}{body}")
    );
    for m in [Method::HEAD, Method::GET] {
        let r = app.send(R::new(m.clone(), "k.txt")).await;
        assert_eq!(r.header("x-cos-tagging-count"), Some("2"), "{m}");
    }
    // The bytes are untouched.
    assert_eq!(&app.send(R::get("k.txt")).await.body[..], b"data");

    // PUT replaces the whole set.
    let body = doc(&[("only", "one")]);
    app.send(tagging(Method::PUT, "k.txt").with_body(&body))
        .await;
    assert_eq!(
        get_tags(&app, tagging(Method::GET, "k.txt")).await,
        format!("{DECL}{body}")
    );

    let r = app.send(tagging(Method::DELETE, "k.txt")).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(
        get_tags(&app, tagging(Method::GET, "k.txt")).await,
        format!("{DECL}<Tagging><TagSet></TagSet></Tagging>")
    );
    let head = app.send(R::new(Method::HEAD, "k.txt")).await;
    assert_eq!(head.header("x-cos-tagging-count"), None);
}

#[tokio::test]
async fn errors() {
    let app = app().await;
    // Missing object: 404 NoSuchKey for all three.
    for m in [Method::GET, Method::PUT, Method::DELETE] {
        let r = tagging(m.clone(), "nope").with_body(&doc(&[("a", "b")]));
        app.send(r).await.assert_error(404, "NoSuchKey");
    }
    app.put("k", b"x").await;
    app.send(tagging(Method::GET, "k").q("versionId", "nosuch"))
        .await
        .assert_error(404, "NoSuchVersion");
    let eleven: Vec<(String, String)> = (0..11).map(|i| (format!("k{i}"), "v".into())).collect();
    let eleven: Vec<(&str, &str)> = eleven.iter().map(|(k, v)| (&k[..], &v[..])).collect();
    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    let cases: Vec<(String, u16, &str)> = vec![
        (String::new(), 400, "MissingRequestBodyError"),
        ("<Tagging><TagSet>".into(), 400, "MalformedXML"),
        ("<Nope><TagSet/></Nope>".into(), 400, "MalformedXML"),
        (doc(&eleven), 400, "InvalidTag"),
        (doc(&[(&long_key, "v")]), 400, "InvalidTag"),
        (doc(&[("k", &long_value)]), 400, "InvalidTag"),
        (doc(&[("a", "1"), ("a", "2")]), 400, "InvalidTag"),
        (doc(&[("", "1")]), 400, "InvalidTag"),
        (doc(&[("a*", "1")]), 400, "InvalidTag"),
    ];
    for (body, status, code) in cases {
        app.send(tagging(Method::PUT, "k").with_body(&body))
            .await
            .assert_error(status, code);
    }
    // Nothing was stored by the failures.
    assert_eq!(
        get_tags(&app, tagging(Method::GET, "k")).await,
        format!("{DECL}<Tagging><TagSet></TagSet></Tagging>")
    );
    // Content-MD5 is checked when sent.
    app.send(
        tagging(Method::PUT, "k")
            .with_body(&doc(&[("a", "b")]))
            .h("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
    )
    .await
    .assert_error(400, "BadDigest");
}

#[tokio::test]
async fn x_cos_tagging_on_put_keeps_order_and_decodes() {
    let app = app().await;
    let r = app
        .send(R::put("t", b"x".to_vec()).h("x-cos-tagging", "b=2&a=v%20w&p=a+b"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        get_tags(&app, tagging(Method::GET, "t")).await,
        format!("{DECL}{}", doc(&[("b", "2"), ("a", "v w"), ("p", "a+b")]))
    );
    let head = app.send(R::new(Method::HEAD, "t")).await;
    assert_eq!(head.header("x-cos-tagging-count"), Some("3"));
    // Invalid header tags refuse the PUT; nothing is stored.
    app.send(R::put("bad", b"x".to_vec()).h("x-cos-tagging", "a=1&a=2"))
        .await
        .assert_error(400, "InvalidTag");
    app.send(R::new(Method::HEAD, "bad")).await;
    assert_eq!(app.send(R::new(Method::HEAD, "bad")).await.status, 404);
    // A new PUT without the header drops the old tags.
    app.put("t", b"y").await;
    let head = app.send(R::new(Method::HEAD, "t")).await;
    assert_eq!(head.header("x-cos-tagging-count"), None);
}

#[tokio::test]
async fn copy_follows_the_tagging_directive() {
    let app = app().await;
    app.send(R::put("src", b"x".to_vec()).h("x-cos-tagging", "s=1"))
        .await;
    let src = format!("{HOST}/src");
    let copy = |dst: &str| R::put(dst, Vec::new()).h("x-cos-copy-source", &src);
    // Default: Copy (x-cos-tagging ignored).
    let r = app.send(copy("d1").h("x-cos-tagging", "n=2")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        get_tags(&app, tagging(Method::GET, "d1")).await,
        format!("{DECL}{}", doc(&[("s", "1")]))
    );
    let r = app
        .send(
            copy("d2")
                .h("x-cos-tagging-directive", "Replaced")
                .h("x-cos-tagging", "n=2"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        get_tags(&app, tagging(Method::GET, "d2")).await,
        format!("{DECL}{}", doc(&[("n", "2")]))
    );
    app.send(copy("d3").h("x-cos-tagging-directive", "Bogus"))
        .await
        .assert_error(400, "InvalidArgument");
    app.send(
        copy("d3")
            .h("x-cos-tagging-directive", "Replaced")
            .h("x-cos-tagging", "a=1&a=2"),
    )
    .await
    .assert_error(400, "InvalidTag");
}

#[tokio::test]
async fn tags_per_version() {
    let app = app().await;
    let body = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
    let r = app
        .send(R::new(Method::PUT, "").q("versioning", "").with_body(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v1 = app.put("k", b"1").await;
    let v1 = v1.header("x-cos-version-id").unwrap().to_string();
    app.put("k", b"2").await;
    let r = app
        .send(
            tagging(Method::PUT, "k")
                .q("versionId", &v1)
                .with_body(&doc(&[("old", "yes")])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-cos-version-id"), Some(v1.as_str()));
    // The latest version is untouched; the old one carries the tag.
    assert_eq!(
        get_tags(&app, tagging(Method::GET, "k")).await,
        format!("{DECL}<Tagging><TagSet></TagSet></Tagging>")
    );
    assert_eq!(
        get_tags(&app, tagging(Method::GET, "k").q("versionId", &v1)).await,
        format!("{DECL}{}", doc(&[("old", "yes")]))
    );
    let head = app
        .send(R::new(Method::HEAD, "k").q("versionId", &v1))
        .await;
    assert_eq!(head.header("x-cos-tagging-count"), Some("1"));
    // Tagging wrote no new version: still two.
    let list = app
        .send(R::new(Method::GET, "").q("versions", ""))
        .await
        .text();
    assert_eq!(list.matches("<Version>").count(), 2, "{list}");
}

#[tokio::test]
async fn content_type_inferred_when_absent_or_empty() {
    let app = app().await;
    let cases = [
        ("1.zip", None, "application/zip"),
        ("1.txt", Some(""), "text/plain"),
        ("dir/pic.PNG", None, "image/png"),
        ("noext", Some(""), "application/octet-stream"),
        ("given.zip", Some("text/x-mine"), "text/x-mine"),
    ];
    for (key, ct, want) in cases {
        let mut r = R::put(key, b"x".to_vec());
        if let Some(ct) = ct {
            r = r.h("content-type", ct);
        }
        let put = app.send(r).await;
        assert_eq!(put.status, 200, "{key}: {}", put.text());
        let head = app.send(R::new(Method::HEAD, key)).await;
        assert_eq!(head.header("content-type"), Some(want), "{key}");
    }
}
