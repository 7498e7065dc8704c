//! Bucket versioning through the whole in-process pipeline (spec cos.md §6
//! "Versioning", §3.1-§3.2): `?versioning`, version ids on writes, reads and
//! deletes by `versionId`, delete markers, `?versions`, copy from a version,
//! and Delete Multiple with versions.

use http::Method;

use crate::common::{app, App, Resp, HOST, R};

/// Every text of `<tag>` in `xml`, in order.
fn all(xml: &str, tag: &str) -> Vec<String> {
    xml.split(&format!("<{tag}>"))
        .skip(1)
        .map(|s| s.split(&format!("</{tag}>")).next().unwrap().to_string())
        .collect()
}

fn bucket(method: Method) -> R {
    R::new(method, "")
}

async fn set_versioning(app: &App, status: &str) {
    let body =
        format!("<VersioningConfiguration><Status>{status}</Status></VersioningConfiguration>");
    let r = app
        .send(bucket(Method::PUT).q("versioning", "").with_body(&body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

fn version_of(r: &Resp) -> String {
    r.header("x-cos-version-id")
        .unwrap_or_else(|| panic!("no x-cos-version-id: {:?}", r.headers))
        .to_string()
}

#[tokio::test]
async fn versioning_configuration_round_trip_and_errors() {
    let app = app().await;
    let get = app.send(bucket(Method::GET).q("versioning", "")).await;
    assert_eq!(get.status, 200);
    assert_eq!(
        get.text(),
        "<?xml version='1.0' encoding='utf-8' ?>\n<VersioningConfiguration></VersioningConfiguration>"
    );
    for status in ["Enabled", "Suspended"] {
        set_versioning(&app, status).await;
        let get = app.send(bucket(Method::GET).q("versioning", "")).await;
        assert_eq!(all(&get.text(), "Status"), [status]);
    }
    // Python's body: an XML declaration, no Content-MD5, no Content-Type.
    let r = app
        .send(bucket(Method::PUT).q("versioning", "").with_body(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        ))
        .await;
    assert_eq!(r.status, 200);
    let put = |body: &str| bucket(Method::PUT).q("versioning", "").with_body(body);
    for (body, status, code) in [
        ("", 400, "MalformedXML"),
        ("<VersioningConfiguration><Status>", 400, "MalformedXML"),
        ("<VersioningConfiguration/>", 400, "MalformedXML"),
        (
            "<LifecycleConfiguration><Status>Enabled</Status></LifecycleConfiguration>",
            400,
            "MalformedXML",
        ),
        (
            "<VersioningConfiguration><Status>Disabled</Status></VersioningConfiguration>",
            400,
            "InvalidArgument",
        ),
        (
            "<VersioningConfiguration><Status>enabled</Status></VersioningConfiguration>",
            400,
            "InvalidArgument",
        ),
    ] {
        app.send(put(body)).await.assert_error(status, code);
    }
    app.send(
        put("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>")
            .h("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
    )
    .await
    .assert_error(400, "BadDigest");
    // The failed requests changed nothing.
    let get = app.send(bucket(Method::GET).q("versioning", "")).await;
    assert_eq!(all(&get.text(), "Status"), ["Enabled"]);
    let other = "missing-1250000000.cos.ap-guangzhou.myqcloud.com";
    app.send(bucket(Method::GET).q("versioning", "").host(other))
        .await
        .assert_error(404, "NoSuchBucket");
    app.send(
        put("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>")
            .host(other),
    )
    .await
    .assert_error(404, "NoSuchBucket");
    app.send(bucket(Method::DELETE).q("versioning", ""))
        .await
        .assert_error(501, "NotImplemented");
}

#[tokio::test]
async fn never_versioned_bucket_sends_no_version_ids() {
    let app = app().await;
    let put = app.put("k", b"plain").await;
    assert_eq!(put.header("x-cos-version-id"), None);
    let get = app.send(R::get("k")).await;
    assert_eq!(get.header("x-cos-version-id"), None);
    let get = app.send(R::get("k").q("versionId", "null")).await;
    assert_eq!((get.status, &get.body[..]), (200, &b"plain"[..]));
    app.send(R::get("k").q("versionId", "MTg0NDUxNTc1NjIzMTQ1MDAwODg"))
        .await
        .assert_error(404, "NoSuchVersion");
    let list = app.send(bucket(Method::GET).q("versions", "")).await;
    assert_eq!(all(&list.text(), "VersionId"), ["null"]);
    assert_eq!(all(&list.text(), "IsLatest"), ["true"]);
    let del = app.send(R::new(Method::DELETE, "k")).await;
    assert_eq!(del.status, 204);
    assert_eq!(del.header("x-cos-version-id"), None);
    assert_eq!(del.header("x-cos-delete-marker"), None);
    app.send(R::get("k")).await.assert_error(404, "NoSuchKey");
    // x-cos-forbid-overwrite holds on a never-versioned bucket...
    app.put("f", b"1").await;
    app.send(R::put("f", b"2".to_vec()).h("x-cos-forbid-overwrite", "true"))
        .await
        .assert_error(409, "FileAlreadyExists");
    // ...and is ignored once versioning was ever set (cos.md §6A.2).
    set_versioning(&app, "Suspended").await;
    let r = app
        .send(R::put("f", b"2".to_vec()).h("x-cos-forbid-overwrite", "true"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    app.send(R::put("f", b"3".to_vec()).h("if-none-match", "*"))
        .await
        .assert_error(409, "FileAlreadyExists");
}

#[tokio::test]
async fn versions_delete_markers_and_reads_by_version() {
    let app = app().await;
    set_versioning(&app, "Enabled").await;
    let v1 = version_of(&app.put("dir/k", b"one").await);
    let v2 = version_of(&app.put("dir/k", b"two!").await);
    assert_ne!(v1, v2);
    assert!(v1.bytes().all(|b| b.is_ascii_alphanumeric()), "{v1}");

    let get = app.send(R::get("dir/k")).await;
    assert_eq!(
        (&get.body[..], version_of(&get)),
        (&b"two!"[..], v2.clone())
    );
    let get = app.send(R::get("dir/k").q("versionId", &v1)).await;
    assert_eq!(get.status, 200);
    assert_eq!((&get.body[..], version_of(&get)), (&b"one"[..], v1.clone()));
    let head = app
        .send(R::new(Method::HEAD, "dir/k").q("versionId", &v1))
        .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("3"));
    assert_eq!(version_of(&head), v1);
    let ranged = app
        .send(R::get("dir/k").q("versionId", &v1).h("range", "bytes=1-"))
        .await;
    assert_eq!((ranged.status, &ranged.body[..]), (206, &b"ne"[..]));

    // DELETE without versionId: a delete marker.
    let del = app.send(R::new(Method::DELETE, "dir/k")).await;
    assert_eq!(del.status, 204);
    assert_eq!(del.header("x-cos-delete-marker"), Some("true"));
    let m = version_of(&del);
    assert!(m != v1 && m != v2);
    for r in [R::get("dir/k"), R::get("dir/k").q("versionId", &m)] {
        let resp = app.send(r).await;
        resp.assert_error(404, "NoSuchKey");
        assert_eq!(resp.header("x-cos-delete-marker"), Some("true"));
        assert_eq!(version_of(&resp), m);
    }
    let head = app.send(R::new(Method::HEAD, "dir/k")).await;
    assert_eq!((head.status, head.body.len()), (404, 0));
    assert_eq!(head.header("x-cos-delete-marker"), Some("true"));
    assert_eq!(version_of(&head), m);
    let listed = app.send(bucket(Method::GET)).await;
    assert!(all(&listed.text(), "Key").is_empty(), "{}", listed.text());

    // Unknown versions.
    for bad in ["nope", "MTg0NDUxNTc1NjIzMTQ1MDAwODg"] {
        app.send(R::get("dir/k").q("versionId", bad))
            .await
            .assert_error(404, "NoSuchVersion");
        app.send(R::new(Method::DELETE, "dir/k").q("versionId", bad))
            .await
            .assert_error(404, "NoSuchVersion");
    }

    // ?versions: the marker (latest), then v2, then v1.
    let list = app.send(bucket(Method::GET).q("versions", "")).await;
    let text = list.text();
    assert_eq!(list.status, 200, "{text}");
    assert!(text.contains(&format!(
        "<DeleteMarker><Key>dir/k</Key><VersionId>{m}</VersionId><IsLatest>true</IsLatest>"
    )));
    assert!(text.contains(&format!(
        "<Version><Key>dir/k</Key><VersionId>{v2}</VersionId><IsLatest>false</IsLatest>"
    )));
    assert_eq!(all(&text, "VersionId"), [m.clone(), v2.clone(), v1.clone()]);
    assert_eq!(all(&text, "Size"), ["4", "3"]);
    assert_eq!(all(&text, "IsTruncated"), ["false"]);

    // A bucket with versions left is not empty.
    app.send(bucket(Method::DELETE))
        .await
        .assert_error(409, "BucketNotEmpty");

    // Deleting the marker by id brings v2 back.
    let del = app
        .send(R::new(Method::DELETE, "dir/k").q("versionId", &m))
        .await;
    assert_eq!(del.status, 204);
    assert_eq!(del.header("x-cos-delete-marker"), Some("true"));
    assert_eq!(version_of(&del), m);
    assert_eq!(&app.send(R::get("dir/k")).await.body[..], b"two!");
    // Deleting a version by id: no marker header.
    let del = app
        .send(R::new(Method::DELETE, "dir/k").q("versionId", &v2))
        .await;
    assert_eq!((del.status, del.header("x-cos-delete-marker")), (204, None));
    assert_eq!(version_of(&del), v2);
    assert_eq!(&app.send(R::get("dir/k")).await.body[..], b"one");
    app.send(R::new(Method::DELETE, "dir/k").q("versionId", &v1))
        .await;
    app.send(R::get("dir/k"))
        .await
        .assert_error(404, "NoSuchKey");
    let del = app.send(bucket(Method::DELETE)).await;
    assert_eq!(del.status, 204, "{}", del.text());
}

#[tokio::test]
async fn suspended_bucket_uses_the_null_version() {
    let app = app().await;
    set_versioning(&app, "Enabled").await;
    let v1 = version_of(&app.put("k", b"one").await);
    set_versioning(&app, "Suspended").await;
    let put = app.put("k", b"null").await;
    assert_eq!(put.header("x-cos-version-id"), None, "cos.md §6A.2");
    let get = app.send(R::get("k")).await;
    assert_eq!(
        (&get.body[..], version_of(&get)),
        (&b"null"[..], "null".into())
    );
    app.put("k", b"null again").await;
    let del = app.send(R::new(Method::DELETE, "k")).await;
    assert_eq!(del.header("x-cos-delete-marker"), Some("true"));
    assert_eq!(version_of(&del), "null");
    let list = app.send(bucket(Method::GET).q("versions", "")).await;
    let text = list.text();
    assert_eq!(all(&text, "VersionId"), ["null".to_string(), v1.clone()]);
    assert_eq!(all(&text, "IsLatest"), ["true", "false"]);
    assert_eq!(text.matches("<DeleteMarker>").count(), 1);
    let get = app.send(R::get("k").q("versionId", &v1)).await;
    assert_eq!(&get.body[..], b"one");
}

#[tokio::test]
async fn versions_listing_pages_with_markers_and_encoding() {
    let app = app().await;
    set_versioning(&app, "Enabled").await;
    let mut ids = Vec::new();
    for (key, body) in [
        ("a b", "1"),
        ("a b", "2"),
        ("c/d", "3"),
        ("c/e", "4"),
        ("f", "5"),
    ] {
        ids.push((key, version_of(&app.put(key, body.as_bytes()).await)));
    }
    // Newest first within a key.
    let want: Vec<(String, String)> = vec![
        ("a b".into(), ids[1].1.clone()),
        ("a b".into(), ids[0].1.clone()),
        ("c/d".into(), ids[2].1.clone()),
        ("c/e".into(), ids[3].1.clone()),
        ("f".into(), ids[4].1.clone()),
    ];
    let mut got = Vec::new();
    let (mut key_marker, mut vid_marker) = (String::new(), String::new());
    for _ in 0..10 {
        let mut r = bucket(Method::GET)
            .q("versions", "")
            .q("max-keys", "2")
            .q("encoding-type", "url");
        if !key_marker.is_empty() {
            r = r
                .q("key-marker", &key_marker)
                .q("version-id-marker", &vid_marker);
        }
        let page = app.send(r).await;
        let text = page.text();
        assert_eq!(page.status, 200, "{text}");
        for (k, v) in all(&text, "Key").into_iter().zip(all(&text, "VersionId")) {
            got.push((k.replace("%20", " "), v));
        }
        if all(&text, "IsTruncated") == ["false"] {
            assert!(all(&text, "NextKeyMarker").is_empty());
            break;
        }
        key_marker = all(&text, "NextKeyMarker")[0].replace("%20", " ");
        vid_marker = all(&text, "NextVersionIdMarker")[0].clone();
    }
    assert_eq!(got, want);
    // Delimiter: c/ rolls up, counted once.
    let page = app
        .send(bucket(Method::GET).q("versions", "").q("delimiter", "/"))
        .await;
    let text = page.text();
    assert_eq!(all(&text, "Prefix"), ["", "c/"]);
    assert_eq!(all(&text, "Key"), ["a b", "a b", "f"]);
    // Prefix with url encoding echoes encoded values.
    let page = app
        .send(
            bucket(Method::GET)
                .q("versions", "")
                .q("prefix", "a ")
                .q("encoding-type", "url"),
        )
        .await;
    let text = page.text();
    assert_eq!(all(&text, "Prefix"), ["a%20"]);
    assert_eq!(all(&text, "Key"), ["a%20b", "a%20b"]);
    // Bad paging parameters.
    app.send(
        bucket(Method::GET)
            .q("versions", "")
            .q("version-id-marker", "null"),
    )
    .await
    .assert_error(400, "InvalidArgument");
    app.send(
        bucket(Method::GET)
            .q("versions", "")
            .q("key-marker", "a")
            .q("version-id-marker", "garbage!"),
    )
    .await
    .assert_error(400, "InvalidArgument");
    app.send(bucket(Method::GET).q("versions", "").q("max-keys", "x"))
        .await
        .assert_error(400, "InvalidArgument");
    app.send(
        bucket(Method::GET)
            .q("versions", "")
            .host("missing-1250000000.cos.ap-guangzhou.myqcloud.com"),
    )
    .await
    .assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn copy_from_a_version_into_a_versioned_bucket() {
    let app = app().await;
    set_versioning(&app, "Enabled").await;
    let v1 = version_of(&app.put("src", b"first").await);
    app.put("src", b"second").await;
    let source = |v: &str| format!("{HOST}/src?versionId={v}");
    let copy = app
        .send(R::put("dst", Vec::new()).h("x-cos-copy-source", &source(&v1)))
        .await;
    assert_eq!(copy.status, 200, "{}", copy.text());
    assert_eq!(
        copy.header("x-cos-copy-source-version-id"),
        Some(v1.as_str())
    );
    let dv = version_of(&copy);
    assert_eq!(all(&copy.text(), "VersionId"), std::slice::from_ref(&dv));
    let get = app.send(R::get("dst")).await;
    assert_eq!((&get.body[..], version_of(&get)), (&b"first"[..], dv));

    let m = version_of(&app.send(R::new(Method::DELETE, "src")).await);
    app.send(R::put("x", Vec::new()).h("x-cos-copy-source", &source(&m)))
        .await
        .assert_error(400, "InvalidRequest");
    app.send(R::put("x", Vec::new()).h("x-cos-copy-source", &format!("{HOST}/src")))
        .await
        .assert_error(404, "NoSuchCopySource");
    app.send(R::put("x", Vec::new()).h("x-cos-copy-source", &source("nope")))
        .await
        .assert_error(404, "NoSuchCopySource");
    // The old version is still a valid source behind the marker.
    let copy = app
        .send(R::put("y", Vec::new()).h("x-cos-copy-source", &source(&v1)))
        .await;
    assert_eq!(copy.status, 200, "{}", copy.text());
}

#[tokio::test]
async fn delete_multiple_with_versions() {
    let app = app().await;
    set_versioning(&app, "Enabled").await;
    let v1 = version_of(&app.put("k", b"one").await);
    let v2 = version_of(&app.put("k", b"two").await);
    let m = version_of(&app.send(R::new(Method::DELETE, "k")).await);
    let body = format!(
        "<Delete><Quiet>false</Quiet>\
         <Object><Key>k</Key><VersionId>{v1}</VersionId></Object>\
         <Object><Key>k</Key><VersionId>{m}</VersionId></Object>\
         <Object><Key>other</Key></Object>\
         <Object><Key>k</Key><VersionId>MTg0NDUxNTc1NjIzMTQ1MDAwODg</VersionId></Object>\
         </Delete>"
    );
    let r = app
        .send(bucket(Method::POST).q("delete", "").with_body(&body))
        .await;
    let text = r.text();
    assert_eq!(r.status, 200, "{text}");
    let deleted = all(&text, "Deleted");
    assert_eq!(deleted.len(), 3, "{text}");
    assert_eq!(
        deleted[0],
        format!("<Key>k</Key><VersionId>{v1}</VersionId>")
    );
    assert_eq!(
        deleted[1],
        format!("<Key>k</Key><VersionId>{m}</VersionId><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>{m}</DeleteMarkerVersionId>")
    );
    assert!(
        deleted[2].starts_with(
            "<Key>other</Key><DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>"
        ),
        "{}",
        deleted[2]
    );
    assert_eq!(
        all(&text, "Error"),
        ["<Key>k</Key><VersionId>MTg0NDUxNTc1NjIzMTQ1MDAwODg</VersionId><Code>NoSuchVersion</Code><Message>The specified version does not exist.</Message>"]
    );
    // v2 is current again (its marker is gone).
    let get = app.send(R::get("k")).await;
    assert_eq!((&get.body[..], version_of(&get)), (&b"two"[..], v2));
}

/// Uploads `body` to `key` by multipart (one part) and returns Complete's answer.
async fn multipart_put(app: &App, key: &str, body: &[u8]) -> Resp {
    let init = app.send(R::new(Method::POST, key).q("uploads", "")).await;
    assert_eq!(init.status, 200, "{}", init.text());
    let upload_id = all(&init.text(), "UploadId").remove(0);
    let part = app
        .send(
            R::put(key, body.to_vec())
                .q("partNumber", "1")
                .q("uploadId", &upload_id),
        )
        .await;
    assert_eq!(part.status, 200, "{}", part.text());
    let etag = part.header("etag").unwrap().to_string();
    let xml = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    let done = app
        .send(
            R::new(Method::POST, key)
                .q("uploadId", &upload_id)
                .with_body(&xml),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text());
    done
}

#[tokio::test]
async fn multipart_complete_version_header_in_each_state() {
    let app = app().await;
    let plain = multipart_put(&app, "m", b"plain").await;
    assert_eq!(plain.header("x-cos-version-id"), None);
    set_versioning(&app, "Enabled").await;
    let v1 = version_of(&multipart_put(&app, "m", b"one").await);
    assert_ne!(v1, "null");
    set_versioning(&app, "Suspended").await;
    // Unlike PUT, Complete names the null version (cos.md §6A.2, §6A.5).
    let done = multipart_put(&app, "m", b"null").await;
    assert_eq!(version_of(&done), "null");
    let get = app.send(R::get("m").q("versionId", "null")).await;
    assert_eq!(&get.body[..], b"null");
    let get = app.send(R::get("m").q("versionId", &v1)).await;
    assert_eq!(&get.body[..], b"one");
}
