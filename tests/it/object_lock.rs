//! Object lock (WORM, spec cos-bucket.md §12): `?object-lock` validation
//! and its effect. A day lasts 1.5 s here (the day clock), so a 2-day
//! default retention is 3 s: refusals are checked inside it, permissions
//! after it.

use std::time::{Duration, Instant};

use http::Method;
use localcos::clock::DayClock;
use localcos::config::Config;

use crate::common::{app_with, App, HOST, ID, KEY, R};

const DAY: Duration = Duration::from_millis(1500);

fn lock_doc(rule: &str) -> String {
    format!(
        "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>{rule}</ObjectLockConfiguration>"
    )
}

fn rule(days: u32) -> String {
    format!("<Rule><DefaultRetention><Days>{days}</Days></DefaultRetention></Rule>")
}

async fn short_day_app() -> App {
    let mut config = Config::for_tests(ID, KEY);
    config.days = DayClock::starting_now(DAY);
    app_with(config).await
}

async fn put_lock(app: &App, body: &str) {
    let r = app
        .send(R::new(Method::PUT, "").q("object-lock", "").with_body(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

fn between<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(&text[start..end])
}

#[tokio::test]
async fn configuration_validation_and_delete_keeps_it_enabled() {
    let app = short_day_app().await;
    app.send(R::get("").q("object-lock", ""))
        .await
        .assert_error(404, "ObjectLockConfigurationNotFoundError");
    let bad = [
        (
            "<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>".to_string(),
            400,
            "InvalidArgument",
        ),
        (lock_doc(&rule(0)), 400, "InvalidArgument"),
        (lock_doc(&rule(36501)), 400, "InvalidArgument"),
        (
            lock_doc("<Rule><DefaultRetention><Days>1</Days><Mode>GOVERNANCE</Mode></DefaultRetention></Rule>"),
            400,
            "InvalidArgument",
        ),
        (lock_doc("<Rule></Rule>"), 400, "MalformedXML"),
        (
            "<ObjectLockConfiguration></ObjectLockConfiguration>".to_string(),
            400,
            "MalformedXML",
        ),
        ("<Nope/>".to_string(), 400, "MalformedXML"),
        (String::new(), 400, "MalformedXML"),
    ];
    for (body, status, code) in bad {
        app.send(
            R::new(Method::PUT, "")
                .q("object-lock", "")
                .with_body(&body),
        )
        .await
        .assert_error(status, code);
    }
    // Nothing was stored by the failures.
    app.send(R::get("").q("object-lock", ""))
        .await
        .assert_error(404, "ObjectLockConfigurationNotFoundError");
    // Content-MD5 is verified when sent.
    app.send(
        R::new(Method::PUT, "")
            .q("object-lock", "")
            .h("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")
            .with_body(&lock_doc("")),
    )
    .await
    .assert_error(400, "BadDigest");

    put_lock(&app, &lock_doc(&rule(30))).await;
    let got = app.send(R::get("").q("object-lock", "")).await;
    assert_eq!(got.status, 200);
    assert!(got.text().ends_with(&lock_doc(&rule(30))), "{}", got.text());
    // DELETE removes only the rule: object lock stays enabled (NOTES 8).
    let r = app
        .send(R::new(Method::DELETE, "").q("object-lock", ""))
        .await;
    assert_eq!(r.status, 204);
    let got = app.send(R::get("").q("object-lock", "")).await;
    assert_eq!(got.status, 200);
    assert!(got.text().ends_with(&lock_doc("")), "{}", got.text());
    // Missing bucket.
    app.send(
        R::get("")
            .host("nobucket-1250000000.cos.ap-guangzhou.myqcloud.com")
            .q("object-lock", ""),
    )
    .await
    .assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn locked_objects_refuse_delete_and_overwrite_until_retention_ends() {
    let app = short_day_app().await;
    // Written before the rule: not locked.
    app.put("before", b"old").await;
    put_lock(&app, &lock_doc(&rule(2))).await;
    let start = Instant::now();
    app.put("doc", b"v1").await;
    // An appendable object, created under the rule.
    let r = app
        .send(
            R::new(Method::POST, "log")
                .q("append", "")
                .q("position", "0")
                .with_body("a"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let locked = |r: crate::common::Resp| r.assert_error(409, "ObjectLocked");
    locked(app.send(R::new(Method::DELETE, "doc")).await);
    locked(app.send(R::put("doc", b"v2".to_vec())).await);
    // Copy onto it (also a metadata-only self copy).
    let src = format!("{HOST}/before");
    locked(
        app.send(R::put("doc", Vec::new()).h("x-cos-copy-source", &src))
            .await,
    );
    let own = format!("{HOST}/doc");
    locked(
        app.send(
            R::put("doc", Vec::new())
                .h("x-cos-copy-source", &own)
                .h("x-cos-metadata-directive", "Replaced"),
        )
        .await,
    );
    // Multipart complete onto it.
    let init = app.send(R::new(Method::POST, "doc").q("uploads", "")).await;
    let upload = between(&init.text(), "UploadId").unwrap().to_string();
    let part = app
        .send(
            R::put("doc", b"part".to_vec())
                .q("partNumber", "1")
                .q("uploadId", &upload),
        )
        .await;
    let etag = part.header("etag").unwrap().to_string();
    locked(
        app.send(R::new(Method::POST, "doc").q("uploadId", &upload).with_body(&format!(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
        )))
        .await,
    );
    // Append to the locked appendable object.
    locked(
        app.send(
            R::new(Method::POST, "log")
                .q("append", "")
                .q("position", "1")
                .with_body("b"),
        )
        .await,
    );
    // DeleteMultipleObjects reports the per-key error and deletes the rest.
    let r = app
        .send(R::new(Method::POST, "").q("delete", "").with_body(
            "<Delete><Object><Key>doc</Key></Object><Object><Key>before</Key></Object></Delete>",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains("<Error><Key>doc</Key><Code>ObjectLocked</Code>"),
        "{text}"
    );
    assert!(text.contains("<Deleted><Key>before</Key>"), "{text}");
    // The bucket cannot be deleted while it holds locked objects.
    app.send(R::new(Method::DELETE, ""))
        .await
        .assert_error(409, "BucketNotEmpty");
    // Still the first bytes.
    let got = app.send(R::get("doc")).await;
    assert_eq!(&got.body[..], b"v1");
    assert!(
        start.elapsed() < DAY * 2,
        "the refusals must run inside the retention"
    );

    // After the retention: overwrite and delete work.
    tokio::time::sleep((DAY * 2 + Duration::from_millis(200)).saturating_sub(start.elapsed()))
        .await;
    app.put("doc", b"v2").await;
    // ... and the overwrite is locked again (a new version, a new retention).
    locked(app.send(R::new(Method::DELETE, "doc")).await);
    let r = app.send(R::new(Method::DELETE, "log")).await;
    assert_eq!(r.status, 204, "{}", r.text());
    // A removed rule locks nothing new.
    app.send(R::new(Method::DELETE, "").q("object-lock", ""))
        .await;
    app.put("free", b"x").await;
    let r = app.send(R::new(Method::DELETE, "free")).await;
    assert_eq!(r.status, 204, "{}", r.text());
}

#[tokio::test]
async fn versioned_bucket_markers_allowed_versions_kept() {
    let app = short_day_app().await;
    let r = app
        .send(R::new(Method::PUT, "").q("versioning", "").with_body(
            "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        ))
        .await;
    assert_eq!(r.status, 200);
    put_lock(&app, &lock_doc(&rule(2))).await;
    let start = Instant::now();
    let v1 = app.put("k", b"one").await;
    let v1 = v1.header("x-cos-version-id").unwrap().to_string();
    // A new version is not an overwrite.
    let v2 = app.put("k", b"two").await;
    let v2 = v2.header("x-cos-version-id").unwrap().to_string();
    // A plain delete writes a marker (S3 Object Lock behaviour).
    let del = app.send(R::new(Method::DELETE, "k")).await;
    assert_eq!(del.status, 204);
    assert_eq!(del.header("x-cos-delete-marker"), Some("true"));
    let marker = del.header("x-cos-version-id").unwrap().to_string();
    // Deleting a locked version for good is refused; the marker is not locked.
    for v in [&v1, &v2] {
        app.send(R::new(Method::DELETE, "k").q("versionId", v))
            .await
            .assert_error(409, "ObjectLocked");
    }
    let r = app
        .send(R::new(Method::POST, "").q("delete", "").with_body(&format!(
            "<Delete><Object><Key>k</Key><VersionId>{v1}</VersionId></Object></Delete>"
        )))
        .await;
    assert!(
        r.text().contains("<Code>ObjectLocked</Code>"),
        "{}",
        r.text()
    );
    let r = app
        .send(R::new(Method::DELETE, "k").q("versionId", &marker))
        .await;
    assert_eq!(r.status, 204);
    let got = app.send(R::get("k")).await;
    assert_eq!(&got.body[..], b"two");
    assert!(start.elapsed() < DAY * 2);
    tokio::time::sleep((DAY * 2 + Duration::from_millis(200)).saturating_sub(start.elapsed()))
        .await;
    for v in [&v1, &v2] {
        let r = app
            .send(R::new(Method::DELETE, "k").q("versionId", v))
            .await;
        assert_eq!(r.status, 204, "{}", r.text());
    }
    app.send(R::get("k")).await.assert_error(404, "NoSuchKey");
}

#[tokio::test]
async fn object_retention_put_get_extend_only() {
    let app = short_day_app().await;
    app.put("k", b"v").await;
    let body = |until: &str| {
        format!("<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>{until}</RetainUntilDate></Retention>")
    };
    // Not a locked bucket.
    app.send(
        R::new(Method::PUT, "k")
            .q("retention", "")
            .with_body(&body("2099-01-01T00:00:00Z")),
    )
    .await
    .assert_error(400, "InvalidRequest");
    put_lock(&app, &lock_doc("")).await;
    // No retention yet.
    app.send(R::get("k").q("retention", ""))
        .await
        .assert_error(404, "NoSuchObjectLockConfiguration");
    for (doc, code) in [
        (body("2001-01-01T00:00:00Z"), "InvalidArgument"),
        (body("soon"), "InvalidArgument"),
        (
            "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2099-01-01T00:00:00Z</RetainUntilDate></Retention>".into(),
            "InvalidArgument",
        ),
        ("<Retention></Retention>".into(), "MalformedXML"),
    ] {
        app.send(R::new(Method::PUT, "k").q("retention", "").with_body(&doc))
            .await
            .assert_error(400, code);
    }
    let r = app
        .send(
            R::new(Method::PUT, "k")
                .q("retention", "")
                .with_body(&body("2099-01-01T00:00:00Z")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = app.send(R::get("k").q("retention", "")).await;
    assert_eq!(got.status, 200);
    assert!(
        got.text().ends_with(
            "<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2099-01-01T00:00:00.000Z</RetainUntilDate></Retention>"
        ),
        "{}",
        got.text()
    );
    // The object is now locked; the retention can grow, never shrink.
    app.send(R::new(Method::DELETE, "k"))
        .await
        .assert_error(409, "ObjectLocked");
    app.send(
        R::new(Method::PUT, "k")
            .q("retention", "")
            .with_body(&body("2098-01-01T00:00:00Z")),
    )
    .await
    .assert_error(409, "ObjectLocked");
    let r = app
        .send(
            R::new(Method::PUT, "k")
                .q("retention", "")
                .with_body(&body("2100-01-01T00:00:00Z")),
        )
        .await;
    assert_eq!(r.status, 200);
    // Same bytes, same ETag: a metadata change, not a write.
    assert_eq!(&app.send(R::get("k")).await.body[..], b"v");
    app.send(R::get("missing").q("retention", ""))
        .await
        .assert_error(404, "NoSuchKey");
}

/// Lifecycle expirations wait for the retention (cos-bucket.md §12): the
/// worker skips a retained version, and the delete's own transaction refuses
/// one the worker's clock thought free. Days last 1 s here.
#[tokio::test]
async fn lifecycle_expiration_waits_for_retention() {
    use localcos::bucket_config::lifecycle::scan_once;
    use localcos::clock::now_ms;
    let mut config = Config::for_tests(ID, KEY);
    config.days = DayClock::starting_now(Duration::from_secs(1));
    let app = app_with(config).await;
    let r = app
        .send(R::new(Method::PUT, "").q("lifecycle", "").with_body(
            "<LifecycleConfiguration><Rule><ID>all-1d</ID><Status>Enabled</Status><Filter><Prefix></Prefix></Filter><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    put_lock(&app, &lock_doc(&rule(3))).await;
    let start = Instant::now();
    app.put("k", b"v").await;
    let state = &app.svc.state;
    let clock = state.config.days;
    let scan = |days: u64| scan_once(&state.store, &clock, now_ms() + clock.days_ms(days));
    // Due, but retained by the worker's own clock: skipped.
    let report = scan(2).await.unwrap();
    assert_eq!((report.expired, report.retained), (0, 1), "{report:?}");
    // The worker's clock says free, the real clock does not: refused in the
    // transaction, still waiting, and the scan goes on.
    let report = scan(4).await.unwrap();
    assert_eq!((report.expired, report.retained), (0, 1), "{report:?}");
    assert_eq!(&app.send(R::get("k")).await.body[..], b"v");
    assert!(start.elapsed() < Duration::from_secs(3));
    // Retention over: expired.
    tokio::time::sleep(Duration::from_millis(3300).saturating_sub(start.elapsed())).await;
    let report = scan(0).await.unwrap();
    assert_eq!((report.expired, report.retained), (1, 0), "{report:?}");
    app.send(R::get("k")).await.assert_error(404, "NoSuchKey");
}
