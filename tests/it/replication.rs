//! Bucket replication (`PUT /?replication`, cos-bucket.md §9) to a
//! destination bucket on the same server: versioning preconditions, new
//! versions copied as REPLICA with the source going PENDING → COMPLETED,
//! delete markers replicated, prefixes respected, PENDING work picked up by
//! the scan.

use std::time::Duration;

use http::Method;
use localcos::config::{Config, RawConfig, ServeArgs};

use crate::common::{App, ID, KEY, R};

const DEST_HOST: &str = "destbucket-1250000000.cos.ap-guangzhou.myqcloud.com";
const LATE_HOST: &str = "latebucket-1250000000.cos.ap-guangzhou.myqcloud.com";

async fn app() -> App {
    let args = ServeArgs {
        ephemeral: true,
        secret_id: Some(ID.into()),
        secret_key: Some(KEY.into()),
        buckets: vec!["examplebucket".into(), "destbucket".into()],
        ..Default::default()
    };
    let config = Config::from_parts(&args, RawConfig::default()).unwrap();
    App {
        svc: localcos::testing::app(config).await.unwrap(),
    }
}

async fn version(app: &App, host: Option<&str>) {
    let mut r = R::new(Method::PUT, "")
        .q("versioning", "")
        .with_body("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>");
    if let Some(h) = host {
        r = r.host(h);
    }
    let resp = app.send(r).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
}

fn config(dest: &str, extra: &str) -> String {
    format!(
        "<ReplicationConfiguration><Role>qcs::cam::uin/100000000001:uin/100000000001</Role>\
         <Rule><ID>docs</ID><Status>Enabled</Status><Prefix>docs/</Prefix>\
         <Destination><Bucket>qcs::cos:ap-guangzhou::{dest}</Bucket><StorageClass>STANDARD_IA</StorageClass></Destination>{extra}</Rule>\
         <Rule><ID>off</ID><Status>Disabled</Status><Prefix>off/</Prefix>\
         <Destination><Bucket>qcs::cos:ap-guangzhou::{dest}</Bucket></Destination></Rule>\
         </ReplicationConfiguration>"
    )
}

async fn put_config(app: &App, body: &str) -> crate::common::Resp {
    app.send(
        R::new(Method::PUT, "")
            .q("replication", "")
            .h("content-type", "application/xml")
            .with_body(body),
    )
    .await
}

/// Waits until the source's latest `key` shows `want`.
async fn wait_status(app: &App, key: &str, want: &str) -> crate::common::Resp {
    let mut last = None;
    for _ in 0..200 {
        let r = app.send(R::new(Method::HEAD, key)).await;
        if r.header("x-cos-replication-status") == Some(want) {
            return r;
        }
        last = r.header("x-cos-replication-status").map(str::to_string);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{key}: replication status {last:?}, wanted {want}");
}

#[tokio::test]
async fn preconditions_and_round_trip() {
    let app = app().await;
    app.send(R::get("").q("replication", ""))
        .await
        .assert_error(404, "ReplicationConfigurationnotFoundError");
    // The source must be versioned...
    put_config(&app, &config("destbucket-1250000000", ""))
        .await
        .assert_error(400, "InvalidRequest");
    version(&app, None).await;
    // ... and so must a local destination.
    put_config(&app, &config("destbucket-1250000000", ""))
        .await
        .assert_error(400, "InvalidRequest");
    version(&app, Some(DEST_HOST)).await;
    let body = config("destbucket-1250000000", "");
    let r = put_config(&app, &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = app.send(R::get("").q("replication", "")).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.text(),
        format!("<?xml version='1.0' encoding='utf-8' ?>\n{body}")
    );
    // Validation.
    for (doc, code) in [
        ("<ReplicationConfiguration/>".to_string(), "MalformedXML"),
        (
            body.replace("qcs::cos:ap-guangzhou::destbucket", "destbucket"),
            "InvalidArgument",
        ),
        (body.replace(">Enabled<", ">On<"), "InvalidArgument"),
    ] {
        put_config(&app, &doc).await.assert_error(400, code);
    }
    let del = app
        .send(R::new(Method::DELETE, "").q("replication", ""))
        .await;
    assert_eq!(del.status, 204);
    app.send(R::get("").q("replication", ""))
        .await
        .assert_error(404, "ReplicationConfigurationnotFoundError");
}

#[tokio::test]
async fn writes_and_deletes_are_replicated() {
    let app = app().await;
    version(&app, None).await;
    version(&app, Some(DEST_HOST)).await;
    let r = put_config(&app, &config("destbucket-1250000000", "")).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // PUT under the rule: PENDING at first (or already done), then COMPLETED.
    let put = app
        .send(
            R::put("docs/a.txt", &b"replicate me"[..])
                .h("content-type", "text/plain")
                .h("x-cos-meta-color", "blue"),
        )
        .await;
    assert_eq!(put.status, 200);
    let first = app.send(R::new(Method::HEAD, "docs/a.txt")).await;
    assert!(
        matches!(
            first.header("x-cos-replication-status"),
            Some("PENDING") | Some("COMPLETED")
        ),
        "{:?}",
        first.header("x-cos-replication-status")
    );
    let src = wait_status(&app, "docs/a.txt", "COMPLETED").await;
    let replica = app.send(R::get("docs/a.txt").host(DEST_HOST)).await;
    assert_eq!(replica.status, 200, "{}", replica.text());
    assert_eq!(&replica.body[..], b"replicate me");
    assert_eq!(replica.header("x-cos-replication-status"), Some("REPLICA"));
    assert_eq!(replica.header("content-type"), Some("text/plain"));
    assert_eq!(replica.header("x-cos-meta-color"), Some("blue"));
    assert_eq!(replica.header("etag"), src.header("etag"));
    assert_eq!(replica.header("x-cos-storage-class"), Some("STANDARD_IA"));
    assert!(replica.header("x-cos-version-id").is_some());

    // Outside the prefix, or under a disabled rule: nothing.
    app.put("other/b.txt", b"stay").await;
    app.put("off/c.txt", b"stay").await;
    for key in ["other/b.txt", "off/c.txt"] {
        let h = app.send(R::new(Method::HEAD, key)).await;
        assert_eq!(h.header("x-cos-replication-status"), None, "{key}");
    }
    // A copy into the prefix is a new write: replicated.
    let copy = app
        .send(R::new(Method::PUT, "docs/copied.txt").h(
            "x-cos-copy-source",
            "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/other/b.txt",
        ))
        .await;
    assert_eq!(copy.status, 200, "{}", copy.text());
    wait_status(&app, "docs/copied.txt", "COMPLETED").await;
    let r = app.send(R::get("docs/copied.txt").host(DEST_HOST)).await;
    assert_eq!(&r.body[..], b"stay");
    for key in ["other/b.txt", "off/c.txt"] {
        app.send(R::get(key).host(DEST_HOST))
            .await
            .assert_error(404, "NoSuchKey");
    }

    // A delete writes a marker on the source; the marker is replicated.
    let del = app.send(R::new(Method::DELETE, "docs/a.txt")).await;
    assert_eq!(del.status, 204);
    assert_eq!(del.header("x-cos-delete-marker"), Some("true"));
    let mut gone = false;
    for _ in 0..200 {
        let r = app.send(R::get("docs/a.txt").host(DEST_HOST)).await;
        if r.status == 404 {
            assert_eq!(r.header("x-cos-delete-marker"), Some("true"));
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "delete marker replicated");
    // The replica's earlier version is still there.
    let versions = app
        .send(
            R::get("")
                .q("versions", "")
                .q("prefix", "docs/a.txt")
                .host(DEST_HOST),
        )
        .await;
    assert_eq!(
        versions.text().matches("<Version>").count(),
        1,
        "{}",
        versions.text()
    );
    assert_eq!(versions.text().matches("<DeleteMarker>").count(), 1);

    // Multi-object delete: its markers are replicated as well.
    let multi = app
        .send(R::new(Method::POST, "").q("delete", "").with_body(
            "<Delete><Object><Key>docs/copied.txt</Key></Object><Object><Key>other/b.txt</Key></Object></Delete>",
        ))
        .await;
    assert_eq!(multi.status, 200, "{}", multi.text());
    let mut gone = false;
    for _ in 0..200 {
        let r = app.send(R::get("docs/copied.txt").host(DEST_HOST)).await;
        if r.status == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "multi-delete marker replicated");
}

#[tokio::test]
async fn delete_markers_stay_when_the_rule_says_so() {
    let app = app().await;
    version(&app, None).await;
    version(&app, Some(DEST_HOST)).await;
    let r = put_config(
        &app,
        &config(
            "destbucket-1250000000",
            "<DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication>",
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    app.put("docs/keep.txt", b"kept").await;
    wait_status(&app, "docs/keep.txt", "COMPLETED").await;
    let del = app.send(R::new(Method::DELETE, "docs/keep.txt")).await;
    assert_eq!(del.status, 204);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = app.send(R::get("docs/keep.txt").host(DEST_HOST)).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"kept"[..]));
}

#[tokio::test]
async fn pending_work_is_picked_up_by_the_scan() {
    let app = app().await;
    version(&app, None).await;
    // The destination does not exist yet: writes stay PENDING.
    let r = put_config(&app, &config("latebucket-1250000000", "")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    app.put("docs/early.txt", b"early").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let h = app.send(R::new(Method::HEAD, "docs/early.txt")).await;
    assert_eq!(h.header("x-cos-replication-status"), Some("PENDING"));
    // It appears, versioned; the scan (run by the server every
    // --replication-scan-seconds) finds the PENDING version.
    let create = app.send(R::new(Method::PUT, "").host(LATE_HOST)).await;
    assert_eq!(create.status, 200, "{}", create.text());
    version(&app, Some(LATE_HOST)).await;
    let started = localcos::bucket_config::replication::scan_once(&app.svc.state.store)
        .await
        .unwrap();
    assert_eq!(started, 1);
    wait_status(&app, "docs/early.txt", "COMPLETED").await;
    let r = app.send(R::get("docs/early.txt").host(LATE_HOST)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-cos-replication-status"), Some("REPLICA"));
    // Nothing is left to do.
    let started = localcos::bucket_config::replication::scan_once(&app.svc.state.store)
        .await
        .unwrap();
    assert_eq!(started, 0);
}

#[tokio::test]
async fn writes_never_marked_are_found_by_the_scan() {
    let app = app().await;
    version(&app, None).await;
    version(&app, Some(DEST_HOST)).await;
    // Written before the configuration: never replicated.
    app.put("docs/before.txt", b"before").await;
    // Times are milliseconds: keep the write and the configuration apart.
    tokio::time::sleep(Duration::from_millis(10)).await;
    let r = put_config(&app, &config("destbucket-1250000000", "")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let meta = app.svc.state.store.meta();
    let bucket = "examplebucket-1250000000";
    app.put("docs/after.txt", b"after").await;
    wait_status(&app, "docs/after.txt", "COMPLETED").await;
    // Simulate a process that died between the write's commit and
    // its PENDING mark: a version of the same key with no status at all.
    let put = app
        .send(R::put("docs/after.txt", &b"after, again"[..]))
        .await;
    assert_eq!(put.status, 200);
    let vid = put.header("x-cos-version-id").unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cur = meta
        .object_version(bucket, "docs/after.txt", Some(&vid))
        .await
        .unwrap()
        .unwrap();
    let mut unmarked = cur.clone();
    unmarked.replication_status = None;
    meta.update_object_meta(bucket, "docs/after.txt", &cur, unmarked)
        .await
        .unwrap();
    let r = app.send(R::new(Method::HEAD, "docs/after.txt")).await;
    assert_eq!(r.header("x-cos-replication-status"), None);
    // The scan marks it and replicates it; the older object stays alone.
    let started = localcos::bucket_config::replication::scan_once(&app.svc.state.store)
        .await
        .unwrap();
    assert!(started >= 1, "{started}");
    wait_status(&app, "docs/after.txt", "COMPLETED").await;
    let r = app.send(R::get("docs/after.txt").host(DEST_HOST)).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"after, again"[..]));
    let r = app.send(R::get("docs/before.txt").host(DEST_HOST)).await;
    assert_eq!(r.status, 404);
}
