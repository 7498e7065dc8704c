//! Lifecycle effects (cos-bucket.md §4.2): the worker against real time
//! with one-second days, and single scans at chosen moments
//! (`scan_once(now)`) for every action: expiration (unversioned: gone;
//! versioned: a delete marker), ExpiredObjectDeleteMarker, transitions
//! (ARCHIVE then GET → InvalidObjectState), noncurrent expiration and
//! transition, aborting incomplete uploads, filters, `x-cos-expiration`, and
//! that a decision on a stale record never touches a newer one.

use std::time::{Duration, Instant};

use http::Method;
use localcos::bucket_config::lifecycle::{run, scan_once, ScanReport};
use localcos::clock::{now_ms, DayClock};
use localcos::config::Config;
use localcos::storage::DeleteGuard;

use crate::common::{app_with, App, Resp, ID, KEY, R};

const BUCKET: &str = "examplebucket-1250000000";

/// The in-process app whose days last `day_seconds`.
async fn app_days(day_seconds: u64) -> App {
    let mut config = Config::for_tests(ID, KEY);
    config.days = DayClock::starting_now(Duration::from_secs(day_seconds));
    app_with(config).await
}

fn doc(rules: &str) -> String {
    format!("<LifecycleConfiguration>{rules}</LifecycleConfiguration>")
}

async fn put_lifecycle(app: &App, rules: &str) {
    let r = app
        .send(
            R::new(Method::PUT, "")
                .q("lifecycle", "")
                .with_body(&doc(rules)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

async fn set_versioning(app: &App) {
    let r = app
        .send(R::new(Method::PUT, "").q("versioning", "").with_body(
            "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// One scan, `days` days from now.
async fn scan_after(app: &App, days: u64) -> ScanReport {
    let state = &app.svc.state;
    let clock = state.config.days;
    scan_once(&state.store, &clock, now_ms() + clock.days_ms(days))
        .await
        .unwrap()
}

async fn head(app: &App, key: &str) -> Resp {
    app.send(R::new(Method::HEAD, key)).await
}

fn between<'a>(text: &'a str, tag: &str) -> Vec<&'a str> {
    text.split(&format!("<{tag}>"))
        .skip(1)
        .filter_map(|s| s.split(&format!("</{tag}>")).next())
        .collect()
}

async fn versions(app: &App) -> String {
    let r = app.send(R::get("").q("versions", "")).await;
    assert_eq!(r.status, 200);
    r.text()
}

/// With the worker running and 2-second days, an object under a 1-day rule
/// is gone within 6 s of its creation (NOTES-ON-ISSUES 11); others stay.
/// PUT, GET and HEAD announce the expiry in `x-cos-expiration`.
#[tokio::test]
async fn worker_expires_within_three_days_of_two_seconds() {
    let app = app_days(2).await;
    let state = app.svc.state.clone();
    let worker = tokio::spawn(run(state.store.clone(), state.config.days));
    put_lifecycle(
        &app,
        "<Rule><ID>tmp-1d</ID><Status>Enabled</Status><Filter><Prefix>tmp/</Prefix></Filter><Expiration><Days>1</Days></Expiration></Rule>",
    )
    .await;
    let start = Instant::now();
    let put = app.put("tmp/a", b"short-lived").await;
    let created = now_ms();
    app.put("keep/b", b"stays").await;
    let announced = put
        .header("x-cos-expiration")
        .expect("PUT announces")
        .to_string();
    assert!(announced.ends_with(", rule-id=\"tmp-1d\""), "{announced}");
    let date = announced
        .strip_prefix("expiry-date=\"")
        .and_then(|s| s.split('"').next())
        .unwrap();
    let due = httpdate::parse_http_date(date)
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // One day after creation, rounded up to a boundary (second precision).
    assert!(
        due >= created + 2_000 - 1_000 && due <= created + 4_000,
        "{due} {created}"
    );
    let get = app.send(R::get("tmp/a")).await;
    assert_eq!(get.header("x-cos-expiration"), Some(announced.as_str()));
    assert_eq!(
        head(&app, "tmp/a").await.header("x-cos-expiration"),
        Some(announced.as_str())
    );
    assert_eq!(head(&app, "keep/b").await.header("x-cos-expiration"), None);
    loop {
        let h = head(&app, "tmp/a").await;
        if h.status == 404 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "not expired after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "expired too early"
    );
    assert_eq!(head(&app, "keep/b").await.status, 200);
    // Without a lifecycle configuration, no header.
    let r = app
        .send(R::new(Method::DELETE, "").q("lifecycle", ""))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        app.put("tmp/c", b"x").await.header("x-cos-expiration"),
        None
    );
    worker.abort();
}

#[tokio::test]
async fn expiration_unversioned_and_filters() {
    let app = app_days(1).await;
    put_lifecycle(
        &app,
        concat!(
            "<Rule><ID>tagged</ID><Status>Enabled</Status><Filter><Tag><Key>temp</Key><Value>true</Value></Tag></Filter><Expiration><Days>1</Days></Expiration></Rule>",
            "<Rule><ID>sized</ID><Status>Enabled</Status><Filter><And><Prefix>s/</Prefix><PrefixNotEquals>s/keep/</PrefixNotEquals><ObjectSizeGreaterThan>2</ObjectSizeGreaterThan><ObjectSizeLessThan>10</ObjectSizeLessThan></And></Filter><Expiration><Days>3</Days></Expiration></Rule>",
            "<Rule><ID>off</ID><Status>Disabled</Status><Filter/><Expiration><Days>1</Days></Expiration></Rule>",
        ),
    )
    .await;
    let tagged = app
        .send(R::put("t/yes", "x").h("x-cos-tagging", "temp=true&b=c"))
        .await;
    assert_eq!(tagged.status, 200);
    assert!(tagged
        .header("x-cos-expiration")
        .unwrap()
        .contains("rule-id=\"tagged\""));
    let other = app
        .send(R::put("t/no", "x").h("x-cos-tagging", "temp=false"))
        .await;
    assert_eq!(other.header("x-cos-expiration"), None);
    for (key, body) in [
        ("s/small", "ab"),
        ("s/mid", "abcde"),
        ("s/big", "0123456789"),
        ("s/keep/mid", "abcde"),
    ] {
        app.put(key, body.as_bytes()).await;
    }
    // Nothing is due yet.
    assert_eq!(scan_after(&app, 0).await, ScanReport::default());
    let r = scan_after(&app, 2).await;
    assert_eq!(r.expired, 1, "{r:?}");
    assert_eq!(head(&app, "t/yes").await.status, 404);
    assert_eq!(head(&app, "s/mid").await.status, 200);
    let r = scan_after(&app, 4).await;
    assert_eq!(r.expired, 1, "{r:?}");
    for (key, status) in [
        ("t/no", 200),
        ("s/small", 200),
        ("s/mid", 404),
        ("s/big", 200),
        ("s/keep/mid", 200),
    ] {
        assert_eq!(head(&app, key).await.status, status, "{key}");
    }
}

#[tokio::test]
async fn versioned_expiration_writes_a_delete_marker_then_markers_and_noncurrent_go() {
    let app = app_days(1).await;
    set_versioning(&app).await;
    put_lifecycle(
        &app,
        concat!(
            "<Rule><ID>exp</ID><Status>Enabled</Status><Filter><Prefix>e/</Prefix></Filter><Expiration><Days>1</Days></Expiration></Rule>",
            "<Rule><ID>markers</ID><Status>Enabled</Status><Filter><Prefix>m/</Prefix></Filter><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration><NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays></NoncurrentVersionExpiration></Rule>",
        ),
    )
    .await;
    let v1 = app.put("e/k", b"one").await;
    let v1 = v1.header("x-cos-version-id").unwrap().to_string();
    let r = scan_after(&app, 2).await;
    assert_eq!((r.expired, r.raced), (1, 0), "{r:?}");
    // A delete marker is current; the version is still there.
    let get = app.send(R::get("e/k")).await;
    get.assert_error(404, "NoSuchKey");
    assert_eq!(get.header("x-cos-delete-marker"), Some("true"));
    let old = app.send(R::get("e/k").q("versionId", &v1)).await;
    assert_eq!((old.status, old.text()), (200, "one".to_string()));
    let list = versions(&app).await;
    assert_eq!(between(&list, "DeleteMarker").len(), 1, "{list}");
    // The marker is not "expired" again by a later scan.
    assert_eq!(scan_after(&app, 3).await.expired, 0);

    // m/: a marker over a noncurrent version stays until the version has
    // been noncurrent for 2 days; then both go, the marker when alone.
    app.put("m/k", b"data").await;
    let del = app.send(R::new(Method::DELETE, "m/k")).await;
    assert_eq!(del.header("x-cos-delete-marker"), Some("true"));
    let r = scan_after(&app, 1).await;
    assert_eq!((r.markers_removed, r.noncurrent_expired), (0, 0), "{r:?}");
    let r = scan_after(&app, 3).await;
    assert_eq!(r.noncurrent_expired, 1, "{r:?}");
    // The marker was evaluated before its version went: next scan.
    let r = scan_after(&app, 3).await;
    assert_eq!(r.markers_removed, 1, "{r:?}");
    let list = versions(&app).await;
    assert!(!list.contains("<Key>m/k</Key>"), "{list}");
}

#[tokio::test]
async fn noncurrent_versions_expire_and_transition_from_when_they_were_replaced() {
    let app = app_days(1).await;
    set_versioning(&app).await;
    put_lifecycle(
        &app,
        "<Rule><ID>nc</ID><Status>Enabled</Status><Filter/><NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays><StorageClass>STANDARD_IA</StorageClass></NoncurrentVersionTransition><NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays></NoncurrentVersionExpiration></Rule>",
    )
    .await;
    let old = app
        .put("k", b"old")
        .await
        .header("x-cos-version-id")
        .unwrap()
        .to_string();
    let new = app
        .put("k", b"new")
        .await
        .header("x-cos-version-id")
        .unwrap()
        .to_string();
    let r = scan_after(&app, 2).await;
    assert_eq!(r.transitioned, 1, "{r:?}");
    let h = app
        .send(R::new(Method::HEAD, "k").q("versionId", &old))
        .await;
    assert_eq!(h.header("x-cos-storage-class"), Some("STANDARD_IA"));
    // The current version is untouched.
    assert_eq!(head(&app, "k").await.header("x-cos-storage-class"), None);
    let r = scan_after(&app, 4).await;
    assert_eq!(r.noncurrent_expired, 1, "{r:?}");
    let gone = app.send(R::get("k").q("versionId", &old)).await;
    assert_eq!(gone.status, 404);
    let cur = app.send(R::get("k")).await;
    assert_eq!(
        (cur.status, cur.header("x-cos-version-id")),
        (200, Some(new.as_str()))
    );
}

#[tokio::test]
async fn transition_to_archive_keeps_the_bytes_and_needs_a_restore() {
    let app = app_days(1).await;
    put_lifecycle(
        &app,
        "<Rule><ID>cold</ID><Status>Enabled</Status><Filter><Prefix>a/</Prefix></Filter><Transition><Days>1</Days><StorageClass>STANDARD_IA</StorageClass></Transition><Transition><Days>3</Days><StorageClass>ARCHIVE</StorageClass></Transition></Rule>",
    )
    .await;
    let put = app.put("a/k", b"archived bytes").await;
    let etag = put.header("etag").unwrap().to_string();
    // Due one day after creation, rounded up to a boundary: within 2 days.
    let r = scan_after(&app, 2).await;
    assert_eq!(r.transitioned, 1, "{r:?}");
    let h = head(&app, "a/k").await;
    assert_eq!(h.header("x-cos-storage-class"), Some("STANDARD_IA"));
    assert_eq!(scan_after(&app, 2).await.transitioned, 0);
    assert_eq!(scan_after(&app, 4).await.transitioned, 1);
    let h = head(&app, "a/k").await;
    assert_eq!(h.status, 200);
    assert_eq!(h.header("x-cos-storage-class"), Some("ARCHIVE"));
    assert_eq!(h.header("etag"), Some(etag.as_str()));
    app.send(R::get("a/k"))
        .await
        .assert_error(403, "InvalidObjectState");
    // Restore makes it readable again: same bytes.
    let r = app
        .send(R::new(Method::POST, "a/k").q("restore", "").with_body(
            "<RestoreRequest><Days>1</Days><CASJobParameters><Tier>Expedited</Tier></CASJobParameters></RestoreRequest>",
        ))
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
}

#[tokio::test]
async fn incomplete_uploads_are_aborted() {
    let app = app_days(1).await;
    put_lifecycle(
        &app,
        "<Rule><ID>mpu</ID><Status>Enabled</Status><Filter><Prefix>up/</Prefix></Filter><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>",
    )
    .await;
    let mut ids = Vec::new();
    for key in ["up/a", "other/b"] {
        let r = app.send(R::new(Method::POST, key).q("uploads", "")).await;
        assert_eq!(r.status, 200);
        ids.push(between(&r.text(), "UploadId")[0].to_string());
    }
    let part = app
        .send(
            R::put("up/a", "part")
                .q("partNumber", "1")
                .q("uploadId", &ids[0]),
        )
        .await;
    assert_eq!(part.status, 200);
    assert_eq!(scan_after(&app, 0).await.uploads_aborted, 0);
    let r = scan_after(&app, 2).await;
    assert_eq!(r.uploads_aborted, 1, "{r:?}");
    app.send(R::get("up/a").q("uploadId", &ids[0]))
        .await
        .assert_error(404, "NoSuchUpload");
    assert_eq!(
        app.send(R::get("other/b").q("uploadId", &ids[1]))
            .await
            .status,
        200
    );
}

/// A decision made on a record is carried out only on that record: an
/// overwrite (or a new version) in between wins.
#[tokio::test]
async fn stale_decisions_never_touch_newer_records() {
    let app = app_days(1).await;
    let store = &app.svc.state.store;
    app.put("k", b"first").await;
    let first = store.head_object(BUCKET, "k").await.unwrap();
    app.put("k", b"second").await;
    let err = store
        .delete_guarded(BUCKET, "k", DeleteGuard::Current(first.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, localcos::storage::StorageError::PreconditionFailed),
        "{err:?}"
    );
    assert_eq!(app.send(R::get("k")).await.text(), "second");
    // Versioned: a marker decision on a key that got a new version stays undone.
    set_versioning(&app).await;
    let del = app.send(R::new(Method::DELETE, "m")).await;
    let marker_id = del.header("x-cos-version-id").unwrap().to_string();
    let marker = store
        .meta()
        .object_version(BUCKET, "m", Some(&marker_id))
        .await
        .unwrap()
        .unwrap();
    assert!(marker.delete_marker);
    app.put("m", b"back").await;
    let err = store
        .delete_guarded(BUCKET, "m", DeleteGuard::LatestMarker(marker.clone()))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        localcos::storage::StorageError::PreconditionFailed
    ));
    // ... and a version that is current again is not "noncurrent".
    let cur = store.head_object(BUCKET, "m").await.unwrap();
    let err = store
        .delete_guarded(BUCKET, "m", DeleteGuard::Noncurrent(cur))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        localcos::storage::StorageError::PreconditionFailed
    ));
    assert_eq!(app.send(R::get("m")).await.text(), "back");
    // The guarded deletes that do hold.
    let d = store
        .delete_guarded(BUCKET, "m", DeleteGuard::Noncurrent(marker))
        .await
        .unwrap();
    assert!(d.removed.is_some_and(|r| r.delete_marker));
    let cur = store.head_object(BUCKET, "k").await.unwrap();
    let d = store
        .delete_guarded(BUCKET, "k", DeleteGuard::Current(cur))
        .await
        .unwrap();
    assert!(d.marker.is_some());
}

/// On a versioned bucket a transition re-classes the current version in
/// place: same version id, same bytes, no new version.
#[tokio::test]
async fn versioned_current_transition_keeps_the_version() {
    let app = app_days(1).await;
    set_versioning(&app).await;
    put_lifecycle(
        &app,
        "<Rule><ID>ia</ID><Status>Enabled</Status><Filter/><Transition><Days>1</Days><StorageClass>STANDARD_IA</StorageClass></Transition></Rule>",
    )
    .await;
    let v = app
        .put("k", b"bytes")
        .await
        .header("x-cos-version-id")
        .unwrap()
        .to_string();
    let r = scan_after(&app, 2).await;
    assert_eq!((r.transitioned, r.raced), (1, 0), "{r:?}");
    let get = app.send(R::get("k")).await;
    assert_eq!(get.header("x-cos-storage-class"), Some("STANDARD_IA"));
    assert_eq!(get.header("x-cos-version-id"), Some(v.as_str()));
    assert_eq!(get.text(), "bytes");
    let list = versions(&app).await;
    assert_eq!(between(&list, "Version").len(), 1, "{list}");
}
