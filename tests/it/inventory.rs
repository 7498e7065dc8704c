//! Bucket inventory (`?inventory`, cos-bucket.md §8): configurations
//! (PUT/GET/DELETE by id, list with continuation, limits, errors), the POST
//! one-off job and the schedules, with the report parsed back: gunzipped
//! CSV compared with the listing, manifest fields and checksum.

use std::io::Read;
use std::time::Duration;

use localcos::bucket_config::inventory;
use localcos::config::Config;
use localcos::http::target::BucketName;
use md5::{Digest, Md5};

use crate::common::{app_with, App, ID, KEY, R};

const INV_HOST: &str = "invbucket-1250000000.cos.ap-guangzhou.myqcloud.com";

async fn inv_app(day_seconds: Option<u64>) -> App {
    let mut c = Config::for_tests(ID, KEY);
    c.buckets
        .push(BucketName::parse("invbucket", "1250000000", "ap-guangzhou").unwrap());
    if let Some(s) = day_seconds {
        c.days = localcos::clock::DayClock::starting_now(Duration::from_secs(s));
    }
    app_with(c).await
}

fn config(
    id: &str,
    enabled: bool,
    schedule: Option<&str>,
    versions: &str,
    filter: &str,
    fields: &[&str],
) -> String {
    let fields: String = fields
        .iter()
        .map(|f| format!("<Field>{f}</Field>"))
        .collect();
    let schedule = schedule
        .map(|f| format!("<Schedule><Frequency>{f}</Frequency></Schedule>"))
        .unwrap_or_default();
    let enabled = if schedule.is_empty() {
        String::new()
    } else {
        format!("<IsEnabled>{enabled}</IsEnabled>")
    };
    format!(
        "<InventoryConfiguration><Id>{id}</Id>{enabled}<Destination><COSBucketDestination>\
         <Format>CSV</Format><AccountId>100000000001</AccountId>\
         <Bucket>qcs::cos:ap-guangzhou::invbucket-1250000000</Bucket><Prefix>reports</Prefix>\
         </COSBucketDestination></Destination>{schedule}{filter}\
         <IncludedObjectVersions>{versions}</IncludedObjectVersions>\
         <OptionalFields>{fields}</OptionalFields></InventoryConfiguration>"
    )
}

fn inv(method: http::Method, id: Option<&str>, body: &str) -> R {
    let mut r = R::new(method, "").q("inventory", "");
    if let Some(id) = id {
        r = r.q("id", id);
    }
    r.with_body(body)
}

async fn keys(app: &App, host: &str, prefix: &str) -> Vec<String> {
    let r = app.send(R::get("").host(host).q("prefix", prefix)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
        .split("<Key>")
        .skip(1)
        .map(|s| s.split("</Key>").next().unwrap().to_string())
        .collect()
}

/// The report under `root`: manifest (checked against its checksum) and all
/// data rows.
async fn report(app: &App, root: &str) -> (serde_json::Value, Vec<Vec<String>>) {
    let all = keys(app, INV_HOST, root).await;
    let manifest_key = all
        .iter()
        .find(|k| k.ends_with("/manifest.json"))
        .unwrap_or_else(|| panic!("no manifest in {all:?}"));
    let day = manifest_key.trim_end_matches("/manifest.json");
    assert_eq!(day.rsplit('/').next().unwrap().len(), 8, "{day}");
    let manifest = app.send(R::get(manifest_key).host(INV_HOST)).await;
    assert_eq!(manifest.status, 200);
    let checksum = app
        .send(R::get(&format!("{day}/manifest.checksum")).host(INV_HOST))
        .await;
    assert_eq!(checksum.text(), hex::encode(Md5::digest(&manifest.body)));
    let m: serde_json::Value = serde_json::from_slice(&manifest.body).unwrap();
    let mut rows = Vec::new();
    for f in m["files"].as_array().unwrap() {
        let key = f["key"].as_str().unwrap();
        assert!(key.starts_with(root) && key.ends_with(".csv.gz"), "{key}");
        let gz = app.send(R::get(key).host(INV_HOST)).await;
        assert_eq!(gz.status, 200);
        assert_eq!(f["size"].as_u64().unwrap(), gz.body.len() as u64);
        assert_eq!(f["MD5checksum"], hex::encode(Md5::digest(&gz.body)));
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz.body[..])
            .read_to_string(&mut text)
            .unwrap();
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        for rec in rdr.records() {
            rows.push(rec.unwrap().iter().map(str::to_string).collect());
        }
    }
    (m, rows)
}

#[tokio::test]
async fn post_job_report_matches_the_listing() {
    let app = inv_app(None).await;
    app.send(
        R::put("data/a b.txt", &b"hello"[..])
            .h("x-cos-meta-color", "blue")
            .h("x-cos-tagging", "team=storage"),
    )
    .await;
    app.put("data/ü+,x.bin", &[7u8; 1000]).await;
    app.put("other/skip", b"x").await;
    let body = config(
        "job1",
        true,
        None,
        "Current",
        "<Filter><Prefix>data/</Prefix></Filter>",
        &[
            "Size",
            "ETag",
            "Tag",
            "x-cos-meta-color",
            "StorageClass",
            "Crc64",
        ],
    );
    let r = app.send(inv(http::Method::POST, Some("job1"), &body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("<PostInventoryResult><JobId>job1-"),
        "{}",
        r.text()
    );
    // The same id again on the same day.
    app.send(inv(http::Method::POST, Some("job1"), &body))
        .await
        .assert_error(409, "DuplicateInventoryId");
    // A job is not a stored configuration.
    app.send(inv(http::Method::GET, Some("job1"), ""))
        .await
        .assert_error(404, "NoSuchInventoryConfiguration");

    let root = "reports/1250000000/examplebucket/job1/";
    let (m, rows) = report(&app, root).await;
    assert_eq!(m["sourceBucket"], "examplebucket-1250000000");
    assert_eq!(
        m["destinationBucket"],
        "qcs::cos:ap-guangzhou::invbucket-1250000000"
    );
    assert_eq!(m["fileFormat"], "CSV");
    assert_eq!(
        m["fileSchema"],
        "AppID, Bucket, Key, Size, ETag, Tag, x-cos-meta-color, StorageClass, Crc64"
    );
    assert_eq!(m["listObjectCount"], 3);
    assert_eq!(m["filterObjectCount"], 2);
    assert_eq!(m["filterStorageSize"], 1005);
    // Compare with the listing, row by row.
    let listing = app.send(R::get("").q("prefix", "data/")).await.text();
    let listed: Vec<(String, String, String)> = listing
        .split("<Contents>")
        .skip(1)
        .map(|c| {
            let f = |n: &str| {
                c.split(&format!("<{n}>"))
                    .nth(1)
                    .unwrap()
                    .split(&format!("</{n}>"))
                    .next()
                    .unwrap()
                    .to_string()
            };
            (
                f("Key"),
                f("Size"),
                f("ETag").replace("&quot;", "").replace('"', ""),
            )
        })
        .collect();
    assert_eq!(rows.len(), listed.len());
    for (row, (key, size, etag)) in rows.iter().zip(&listed) {
        assert_eq!(row[0], "1250000000");
        assert_eq!(row[1], "examplebucket");
        let decoded = percent_encoding::percent_decode_str(&row[2])
            .decode_utf8()
            .unwrap();
        assert_eq!(&decoded, key);
        assert!(!row[2].contains(' ') && !row[2].contains(','), "{}", row[2]);
        assert_eq!(&row[3], size);
        assert_eq!(&row[4], etag);
        assert_eq!(row[7], "STANDARD");
        let head = app.send(R::new(http::Method::HEAD, key)).await;
        assert_eq!(Some(row[8].as_str()), head.header("x-cos-hash-crc64ecma"));
    }
    assert_eq!(rows[0][2], "data/a%20b.txt");
    assert_eq!(rows[0][5], "team=storage");
    assert_eq!(rows[0][6], "blue");
    assert_eq!(rows[1][2], "data/%C3%BC%2B%2Cx.bin");
    assert_eq!(rows[1][6], "");
}

#[tokio::test]
async fn all_versions_report_has_version_columns() {
    let app = inv_app(None).await;
    let v = app
        .send(R::new(http::Method::PUT, "").q("versioning", "").with_body(
            "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        ))
        .await;
    assert_eq!(v.status, 200);
    app.put("k", b"one").await;
    app.put("k", b"two!").await;
    app.send(R::new(http::Method::DELETE, "k")).await;
    let body = config("all", true, None, "All", "", &["Size"]);
    let r = app.send(inv(http::Method::POST, Some("all"), &body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let (m, rows) = report(&app, "reports/1250000000/examplebucket/all/").await;
    assert_eq!(
        m["fileSchema"],
        "AppID, Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size"
    );
    let shape: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r[4].as_str(), r[5].as_str(), r[6].as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            ("true", "true", ""),
            ("false", "false", "4"),
            ("false", "false", "3")
        ]
    );
    assert!(rows.iter().all(|r| r[2] == "k" && !r[3].is_empty()));
}

#[tokio::test]
async fn configurations_put_get_list_delete_and_errors() {
    let app = inv_app(None).await;
    let body = config("daily-1", true, Some("Daily"), "Current", "", &["Size"]);
    let r = app
        .send(inv(http::Method::PUT, Some("daily-1"), &body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = app.send(inv(http::Method::GET, Some("daily-1"), "")).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.text(),
        format!("<?xml version='1.0' encoding='utf-8' ?>\n{body}")
    );
    // Errors.
    let cases: Vec<(Option<&str>, String, u16, &str)> = vec![
        (None, body.clone(), 400, "InvalidArgument"),
        (Some("other"), body.clone(), 400, "InvalidArgument"),
        (
            Some("daily-1"),
            "<InventoryConfiguration>".into(),
            400,
            "MalformedXML",
        ),
        (
            Some("daily-1"),
            body.replace("invbucket", "nosuchbucket"),
            400,
            "InvalidArgument",
        ),
        (
            Some("daily-1"),
            body.replace("CSV", "ORC"),
            400,
            "InvalidArgument",
        ),
        (
            Some("daily-1"),
            body.replace("Daily", "Hourly"),
            400,
            "InvalidArgument",
        ),
    ];
    for (id, b, status, code) in cases {
        app.send(inv(http::Method::PUT, id, &b))
            .await
            .assert_error(status, code);
    }
    app.send(inv(http::Method::GET, Some("nope"), ""))
        .await
        .assert_error(404, "NoSuchInventoryConfiguration");
    app.send(inv(http::Method::DELETE, Some("nope"), ""))
        .await
        .assert_error(404, "NoSuchInventoryConfiguration");
    // 150 configurations list in creation order, 100 per page.
    for i in 0..150 {
        let id = format!("ID-{i}");
        let b = config(&id, false, Some("Weekly"), "All", "", &[]);
        let r = app.send(inv(http::Method::PUT, Some(&id), &b)).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let ids = |t: &str| -> Vec<String> {
        t.split("<Id>")
            .skip(1)
            .map(|s| s.split("</Id>").next().unwrap().to_string())
            .collect()
    };
    let p1 = app.send(inv(http::Method::GET, None, "")).await.text();
    assert!(p1.contains("<IsTruncated>true</IsTruncated>"), "{p1}");
    let first = ids(&p1);
    assert_eq!(first.len(), 100);
    assert_eq!(first[0], "daily-1");
    assert_eq!(first[1], "ID-0");
    let token = p1
        .split("<NextContinuationToken>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let p2 = app
        .send(
            R::get("")
                .q("inventory", "")
                .q("continuation-token", &token),
        )
        .await
        .text();
    assert!(p2.contains("<IsTruncated>false</IsTruncated>"), "{p2}");
    assert!(p2.contains(&format!("<ContinuationToken>{token}</ContinuationToken>")));
    let second = ids(&p2);
    assert_eq!(second.len(), 51);
    assert_eq!(second[50], "ID-149");
    app.send(
        R::get("")
            .q("inventory", "")
            .q("continuation-token", "bogus"),
    )
    .await
    .assert_error(400, "InvalidArgument");
    // Delete one; it is gone.
    let r = app.send(inv(http::Method::DELETE, Some("ID-3"), "")).await;
    assert_eq!(r.status, 204);
    app.send(inv(http::Method::GET, Some("ID-3"), ""))
        .await
        .assert_error(404, "NoSuchInventoryConfiguration");
    // A missing bucket.
    app.send(
        R::get("")
            .host("nosuch-1250000000.cos.ap-guangzhou.myqcloud.com")
            .q("inventory", "")
            .q("id", "x"),
    )
    .await
    .assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn too_many_configurations() {
    let app = inv_app(None).await;
    // 999 stored directly (1000 PUTs would each rewrite the growing record).
    let template =
        inventory::parse_tree(config("c", false, Some("Daily"), "Current", "", &[]).as_bytes())
            .unwrap();
    let stored = inventory::Stored {
        configs: (0..inventory::MAX_CONFIGS - 1)
            .map(|i| inventory::Entry {
                id: format!("c{i}"),
                doc: template.clone(),
                created_ms: 0,
                last_slot_ms: None,
            })
            .collect(),
        posted: vec![],
    };
    let value = serde_json::to_value(&stored).unwrap();
    app.svc
        .state
        .store
        .meta()
        .update_bucket(
            "examplebucket-1250000000",
            Box::new(move |rec| {
                rec.configs.insert("inventory".into(), value);
            }),
        )
        .await
        .unwrap();
    let put = |id: &str| {
        inv(
            http::Method::PUT,
            Some(id),
            &config(id, true, Some("Daily"), "Current", "", &[]),
        )
    };
    assert_eq!(app.send(put("last")).await.status, 200);
    app.send(put("one-more"))
        .await
        .assert_error(400, "TooManyConfigurations");
    // Replacing an existing one is still fine.
    assert_eq!(app.send(put("c0")).await.status, 200);
}

#[tokio::test]
async fn a_daily_schedule_runs_on_the_day_clock() {
    let app = inv_app(Some(1)).await;
    app.put("x", b"abc").await;
    let body = config("sched", true, Some("Daily"), "Current", "", &["Size"]);
    let r = app.send(inv(http::Method::PUT, Some("sched"), &body)).await;
    assert_eq!(r.status, 200);
    // A disabled one never runs.
    let off = config("off", false, Some("Daily"), "Current", "", &["Size"]);
    app.send(inv(http::Method::PUT, Some("off"), &off)).await;
    let worker = tokio::spawn(inventory::run(app.svc.state.clone()));
    let mut found = false;
    for _ in 0..60 {
        if keys(&app, INV_HOST, "reports/1250000000/examplebucket/sched/")
            .await
            .iter()
            .any(|k| k.ends_with("manifest.checksum"))
        {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.abort();
    assert!(found, "a scheduled report within a few days of 1 s");
    let (_, rows) = report(&app, "reports/1250000000/examplebucket/sched/").await;
    assert_eq!(rows, [vec!["1250000000", "examplebucket", "x", "3"]]);
    assert!(
        keys(&app, INV_HOST, "reports/1250000000/examplebucket/off/")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn concurrent_writes_do_not_tear_a_report() {
    let app = std::sync::Arc::new(inv_app(None).await);
    for i in 0..300 {
        app.put(&format!("pre/{i:04}"), b"v").await;
    }
    let writer = {
        let app = app.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                app.put(&format!("pre/{i:04}x"), b"new").await;
            }
        })
    };
    let body = config("snap", true, None, "Current", "", &["Size"]);
    let r = app.send(inv(http::Method::POST, Some("snap"), &body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    writer.await.unwrap();
    let (m, rows) = report(&app, "reports/1250000000/examplebucket/snap/").await;
    // Every row is whole, the manifest counts exactly the rows, and every
    // object that existed before the job is in it.
    assert_eq!(
        m["filterObjectCount"].as_u64().unwrap() as usize,
        rows.len()
    );
    assert!(rows.iter().all(|r| r.len() == 4));
    for i in 0..300 {
        let key = format!("pre/{i:04}");
        assert!(rows.iter().any(|r| r[2] == key && r[3] == "1"), "{key}");
    }
    // The concurrent writes are in it as a prefix of their (sequential)
    // order: the report is one snapshot, not pages taken at different times.
    let new: Vec<&Vec<String>> = rows.iter().filter(|r| r[2].ends_with('x')).collect();
    for (i, r) in new.iter().enumerate() {
        assert_eq!(r[2], format!("pre/{i:04}x"));
        assert_eq!(r[3], "3");
    }
}
