//! Storage classes and archive restore through the in-process pipeline
//! (spec cos.md §6, §6A.8): class headers, 403 InvalidObjectState, POST
//! ?restore (202 / 200 / 409 / 405), restore headers, expiry, copy.

use std::time::Duration;

use http::Method;
use localcos::archive::RestoreTiming;
use localcos::config::Config;

use crate::common::{App, ID, KEY, R};

const RESTORE: &str = "<RestoreRequest><Days>1</Days><CASJobParameters><Tier>Standard</Tier></CASJobParameters></RestoreRequest>";

/// An app whose restores take `restore` and whose restore "day" is `day`.
async fn archive_app(restore: Duration, day: Duration) -> App {
    let mut config = Config::for_tests(ID, KEY);
    config.buckets = vec![localcos::http::target::BucketName::parse(
        "examplebucket",
        "1250000000",
        "ap-guangzhou",
    )
    .unwrap()];
    config.archive = RestoreTiming { restore, day };
    App {
        svc: localcos::testing::app(config).await.unwrap(),
    }
}

fn restore(key: &str, body: &str) -> R {
    R::new(Method::POST, key).q("restore", "").with_body(body)
}

async fn put_class(app: &App, key: &str, class: &str) {
    let r = app
        .send(R::put(key, b"archived bytes".to_vec()).h("x-cos-storage-class", class))
        .await;
    assert_eq!(r.status, 200, "PUT {key} as {class}: {}", r.text());
}

#[tokio::test]
async fn class_headers_on_get_and_head() {
    let app = archive_app(Duration::from_secs(2), Duration::from_secs(86_400)).await;
    for class in [
        "STANDARD",
        "STANDARD_IA",
        "INTELLIGENT_TIERING",
        "MAZ_STANDARD",
        "MAZ_STANDARD_IA",
        "MAZ_INTELLIGENT_TIERING",
        "ARCHIVE",
        "DEEP_ARCHIVE",
    ] {
        let key = format!("class/{class}");
        put_class(&app, &key, class).await;
        let head = app.send(R::new(Method::HEAD, &key)).await;
        assert_eq!(head.status, 200, "HEAD of {class} always answers");
        let want = (class != "STANDARD").then_some(class);
        assert_eq!(head.header("x-cos-storage-class"), want, "{class}");
        let tier = class.ends_with("INTELLIGENT_TIERING").then_some("FREQUENT");
        assert_eq!(head.header("x-cos-storage-tier"), tier, "{class}");
        assert_eq!(head.header("x-cos-restore"), None);
        let get = app.send(R::get(&key)).await;
        if class.ends_with("ARCHIVE") {
            get.assert_error(403, "InvalidObjectState");
            assert_eq!(get.header("x-cos-storage-class"), Some(class));
        } else {
            assert_eq!(get.status, 200, "{class}");
            assert_eq!(&get.body[..], b"archived bytes");
            assert_eq!(get.header("x-cos-storage-class"), want);
        }
    }
    for bad in ["standard", "GLACIER", "ARCHIVE_X"] {
        let r = app
            .send(R::put("bad-class", b"x".to_vec()).h("x-cos-storage-class", bad))
            .await;
        r.assert_error(400, "InvalidArgument");
    }
    app.send(R::get("bad-class"))
        .await
        .assert_error(404, "NoSuchKey");
}

/// 403 before conditionals and ranges (§4.4 step 2).
#[tokio::test]
async fn archive_state_comes_before_conditionals() {
    let app = archive_app(Duration::from_secs(60), Duration::from_secs(86_400)).await;
    put_class(&app, "cold", "ARCHIVE").await;
    for r in [
        R::get("cold").h("if-none-match", "*"),
        R::get("cold").h("if-match", "\"nope\""),
        R::get("cold").h("range", "bytes=100-"),
    ] {
        app.send(r).await.assert_error(403, "InvalidObjectState");
    }
    // HEAD carries only status and headers.
    let head = app
        .send(R::new(Method::HEAD, "cold").h("if-match", "\"nope\""))
        .await;
    assert_eq!(head.status, 412);
}

/// The expiry announced by `x-cos-restore` once a restore is done.
fn expiry_of(x_cos_restore: &str) -> std::time::SystemTime {
    let date = x_cos_restore
        .strip_prefix("ongoing-request=\"false\", expiry-date=\"")
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{x_cos_restore}"));
    httpdate::parse_http_date(date).unwrap()
}

/// Cold → ongoing → readable with an expiry → extended → cold again.
/// Timing-tolerant: waits are derived from what the headers announce.
#[tokio::test]
async fn restore_lifecycle() {
    let app = archive_app(Duration::from_millis(1_500), Duration::from_millis(1_500)).await;
    put_class(&app, "photo.raw", "ARCHIVE").await;

    let first = app.send(restore("photo.raw", RESTORE)).await;
    assert_eq!(first.status, 202, "{}", first.text());
    assert!(first.body.is_empty());
    assert!(first.header("x-cos-request-id").is_some());

    let head = app.send(R::new(Method::HEAD, "photo.raw")).await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("x-cos-restore"),
        Some("ongoing-request=\"true\"")
    );
    let status = head.header("x-cos-restore-status").unwrap();
    assert!(
        status.starts_with("tier=\"standard\"; request-date=\"") && status.ends_with(" GMT\""),
        "{status}"
    );
    app.send(R::get("photo.raw"))
        .await
        .assert_error(403, "InvalidObjectState");
    app.send(restore("photo.raw", RESTORE))
        .await
        .assert_error(409, "RestoreAlreadyInProgress");

    let mut done = None;
    for _ in 0..100 {
        let head = app.send(R::new(Method::HEAD, "photo.raw")).await;
        let x = head.header("x-cos-restore").unwrap().to_string();
        if x.starts_with("ongoing-request=\"false\"") {
            assert_eq!(head.header("x-cos-restore-status"), None);
            assert_eq!(head.header("x-cos-storage-class"), Some("ARCHIVE"));
            done = Some(x);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = done.expect("restore finished");
    let expires = expiry_of(&done);
    assert!(expires > std::time::SystemTime::now());
    let get = app.send(R::get("photo.raw")).await;
    assert_eq!(get.status, 200, "{}", get.text());
    assert_eq!(&get.body[..], b"archived bytes");
    assert_eq!(get.header("x-cos-restore"), Some(done.as_str()));
    let ranged = app.send(R::get("photo.raw").h("range", "bytes=0-7")).await;
    assert_eq!((ranged.status, &ranged.body[..]), (206, &b"archived"[..]));

    // Restoring a restored object extends it: 200, no new wait, later expiry.
    let again = app
        .send(restore(
            "photo.raw",
            "<RestoreRequest><Days>3</Days></RestoreRequest>",
        ))
        .await;
    assert_eq!(again.status, 200, "{}", again.text());
    let head = app.send(R::new(Method::HEAD, "photo.raw")).await;
    let extended = expiry_of(head.header("x-cos-restore").unwrap());
    assert!(extended > expires, "expiry moved later");
    assert_eq!(app.send(R::get("photo.raw")).await.status, 200);

    // After the announced expiry: cold again.
    let wait = extended
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(300)).await;
    app.send(R::get("photo.raw"))
        .await
        .assert_error(403, "InvalidObjectState");
    let head = app.send(R::new(Method::HEAD, "photo.raw")).await;
    assert_eq!(head.header("x-cos-restore"), None);
    assert_eq!(app.send(restore("photo.raw", RESTORE)).await.status, 202);
}

#[tokio::test]
async fn restore_errors() {
    let app = archive_app(Duration::from_secs(60), Duration::from_secs(86_400)).await;
    app.put("plain.txt", b"standard").await;
    put_class(&app, "ia.txt", "STANDARD_IA").await;
    put_class(&app, "deep", "DEEP_ARCHIVE").await;
    put_class(&app, "arch", "ARCHIVE").await;

    app.send(restore("plain.txt", RESTORE))
        .await
        .assert_error(405, "RestoreNonArchiveObject");
    app.send(restore("ia.txt", RESTORE))
        .await
        .assert_error(405, "RestoreNonArchiveObject");
    app.send(restore("missing", RESTORE))
        .await
        .assert_error(404, "NoSuchKey");
    app.send(restore("arch", RESTORE).q("versionId", "MTg0NDUxNTc1NjIzMTQ1MDAwODg"))
        .await
        .assert_error(404, "NoSuchVersion");
    for (body, status, code) in [
        ("", 400, "MissingRequestBodyError"),
        ("<RestoreRequest><Days>", 400, "MalformedXML"),
        ("<RestoreRequest/>", 400, "InvalidArgument"),
        ("<RestoreRequest><Days>0</Days></RestoreRequest>", 400, "InvalidArgument"),
        (
            "<RestoreRequest><Days>1</Days><CASJobParameters><Tier>Now</Tier></CASJobParameters></RestoreRequest>",
            400,
            "InvalidArgument",
        ),
    ] {
        app.send(restore("arch", body))
            .await
            .assert_error(status, code);
    }
    let expedited = "<RestoreRequest><Days>1</Days><CASJobParameters><Tier>Expedited</Tier></CASJobParameters></RestoreRequest>";
    app.send(restore("deep", expedited))
        .await
        .assert_error(400, "InvalidArgument");
    let bulk = expedited.replace("Expedited", "Bulk");
    assert_eq!(app.send(restore("deep", &bulk)).await.status, 202);
    let head = app.send(R::new(Method::HEAD, "deep")).await;
    assert!(head
        .header("x-cos-restore-status")
        .unwrap()
        .starts_with("tier=\"bulk\""));
    // The failed attempts left "arch" untouched.
    assert_eq!(
        app.send(R::new(Method::HEAD, "arch"))
            .await
            .header("x-cos-restore"),
        None
    );
}

/// Racing restores of one object: exactly one starts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_restores_start_once() {
    // The embedded store: its index transactions run on blocking threads,
    // so racing requests really interleave.
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(ID, KEY);
    config.storage = localcos::config::StorageMode::Dir(dir.path().to_path_buf());
    config.buckets = vec![localcos::http::target::BucketName::parse(
        "examplebucket",
        "1250000000",
        "ap-guangzhou",
    )
    .unwrap()];
    let app = std::sync::Arc::new(App {
        svc: localcos::testing::app(config).await.unwrap(),
    });
    put_class(&app, "race", "ARCHIVE").await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.send(restore("race", RESTORE)).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [202, 409, 409, 409, 409, 409, 409, 409]);
}

/// Copy: an unrestored archive source is refused; the destination's class is
/// what the request says (STANDARD by default); a restored source copies.
#[tokio::test]
async fn copy_and_storage_class() {
    let app = archive_app(Duration::from_millis(100), Duration::from_secs(86_400)).await;
    let src = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/";
    app.put("warm.txt", b"warm").await;
    put_class(&app, "cold.txt", "ARCHIVE").await;

    // Copy onto itself changing the class (Python's change_object_storage_class).
    let to_archive = app
        .send(
            R::put("warm.txt", Vec::new())
                .h("x-cos-copy-source", &format!("{src}warm.txt"))
                .h("x-cos-metadata-directive", "Replaced")
                .h("x-cos-storage-class", "ARCHIVE"),
        )
        .await;
    assert_eq!(to_archive.status, 200, "{}", to_archive.text());
    let head = app.send(R::new(Method::HEAD, "warm.txt")).await;
    assert_eq!(head.header("x-cos-storage-class"), Some("ARCHIVE"));
    app.send(R::get("warm.txt"))
        .await
        .assert_error(403, "InvalidObjectState");

    // Unrestored archive source: 403, also when copying onto itself.
    for (dst, class) in [("copy.txt", "STANDARD"), ("cold.txt", "STANDARD")] {
        app.send(
            R::put(dst, Vec::new())
                .h("x-cos-copy-source", &format!("{src}cold.txt"))
                .h("x-cos-storage-class", class),
        )
        .await
        .assert_error(403, "InvalidObjectState");
    }
    assert_eq!(app.send(restore("cold.txt", RESTORE)).await.status, 202);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let copied = app
        .send(R::put("copy.txt", Vec::new()).h("x-cos-copy-source", &format!("{src}cold.txt")))
        .await;
    assert_eq!(copied.status, 200, "{}", copied.text());
    let head = app.send(R::new(Method::HEAD, "copy.txt")).await;
    assert_eq!(
        head.header("x-cos-storage-class"),
        None,
        "copies default to STANDARD"
    );
    assert_eq!(
        head.header("x-cos-restore"),
        None,
        "restore state stays with the source"
    );
    assert_eq!(
        &app.send(R::get("copy.txt")).await.body[..],
        b"archived bytes"
    );
    // Restored archive → STANDARD in place.
    let back = app
        .send(
            R::put("cold.txt", Vec::new())
                .h("x-cos-copy-source", &format!("{src}cold.txt"))
                .h("x-cos-metadata-directive", "Replaced")
                .h("x-cos-storage-class", "STANDARD"),
        )
        .await;
    assert_eq!(back.status, 200, "{}", back.text());
    let head = app.send(R::new(Method::HEAD, "cold.txt")).await;
    assert_eq!(head.header("x-cos-storage-class"), None);
    assert_eq!(head.header("x-cos-restore"), None);
    let bad = app
        .send(
            R::put("x.txt", Vec::new())
                .h("x-cos-copy-source", &format!("{src}copy.txt"))
                .h("x-cos-storage-class", "COLD"),
        )
        .await;
    bad.assert_error(400, "InvalidArgument");
}

/// Restore state is stored with the record: it survives a restart of the
/// embedded store, and records written before the field existed still load.
#[tokio::test]
async fn restore_state_is_durable() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut c = Config::for_tests(ID, KEY);
        c.storage = localcos::config::StorageMode::Dir(dir.path().to_path_buf());
        c.buckets = vec![localcos::http::target::BucketName::parse(
            "examplebucket",
            "1250000000",
            "ap-guangzhou",
        )
        .unwrap()];
        c.archive = RestoreTiming {
            restore: Duration::from_secs(3_600),
            day: Duration::from_secs(86_400),
        };
        c
    };
    {
        let app = App {
            svc: localcos::testing::app(config()).await.unwrap(),
        };
        put_class(&app, "kept", "ARCHIVE").await;
        assert_eq!(app.send(restore("kept", RESTORE)).await.status, 202);
    }
    let app = App {
        svc: localcos::testing::app(config()).await.unwrap(),
    };
    let head = app.send(R::new(Method::HEAD, "kept")).await;
    assert_eq!(
        head.header("x-cos-restore"),
        Some("ongoing-request=\"true\"")
    );
    app.send(restore("kept", RESTORE))
        .await
        .assert_error(409, "RestoreAlreadyInProgress");

    let old = r#"{"size":1,"etag":"e","crc64":0,"last_modified_ms":0,"storage_class":"ARCHIVE","segments":[]}"#;
    let rec: localcos::storage::ObjectRecord = serde_json::from_str(old).unwrap();
    assert_eq!(rec.restore, None);
}

/// On a versioned bucket a restore names a version (`versionId`) and changes
/// that version in place: no new version, ids unchanged.
#[tokio::test]
async fn restore_of_a_version() {
    let app = archive_app(Duration::from_millis(200), Duration::from_secs(86_400)).await;
    let enable = app
        .send(R::new(Method::PUT, "").q("versioning", "").with_body(
            "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        ))
        .await;
    assert_eq!(enable.status, 200, "{}", enable.text());
    let put =
        |body: &'static [u8]| R::put("v.bin", body.to_vec()).h("x-cos-storage-class", "ARCHIVE");
    let v1 = app.send(put(b"first")).await;
    let v1 = v1.header("x-cos-version-id").unwrap().to_string();
    let v2 = app.send(put(b"second")).await;
    let v2 = v2.header("x-cos-version-id").unwrap().to_string();

    let started = app
        .send(restore("v.bin", RESTORE).q("versionId", &v1))
        .await;
    assert_eq!(started.status, 202, "{}", started.text());
    let head = |v: &str| R::new(Method::HEAD, "v.bin").q("versionId", v);
    let h1 = app.send(head(&v1)).await;
    assert_eq!(h1.header("x-cos-restore"), Some("ongoing-request=\"true\""));
    assert_eq!(h1.header("x-cos-version-id"), Some(v1.as_str()));
    let latest = app.send(R::new(Method::HEAD, "v.bin")).await;
    assert_eq!(latest.header("x-cos-restore"), None, "only v1 is restoring");
    assert_eq!(latest.header("x-cos-version-id"), Some(v2.as_str()));

    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = app.send(R::get("v.bin").q("versionId", &v1)).await;
    assert_eq!(
        (got.status, &got.body[..]),
        (200, &b"first"[..]),
        "{}",
        got.text()
    );
    app.send(R::get("v.bin"))
        .await
        .assert_error(403, "InvalidObjectState");

    let listing = app.send(R::new(Method::GET, "").q("versions", "")).await;
    assert_eq!(listing.status, 200, "{}", listing.text());
    assert_eq!(
        listing.text().matches("<Version>").count(),
        2,
        "{}",
        listing.text()
    );
    app.send(restore("v.bin", RESTORE).q("versionId", "MTg0NDUxNTc1NjIzMTQ1MDAwODg"))
        .await
        .assert_error(404, "NoSuchVersion");
}
