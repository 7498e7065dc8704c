//! Bucket access logging (`?logging`, cos-bucket.md §7): configuration,
//! validation, and the effect — log objects in the target bucket with one
//! line per request in COS's field order, the delivery itself never logged.

use std::time::Duration;

use localcos::bucket_config::logging;
use localcos::config::Config;
use localcos::http::target::BucketName;

use crate::common::{app_with, App, ID, KEY, R};

const LOG_HOST: &str = "logbucket-1250000000.cos.ap-guangzhou.myqcloud.com";
const DECL: &str = "<?xml version='1.0' encoding='utf-8' ?>\n";

fn enable_body(target: &str, prefix: &str) -> String {
    format!(
        "<BucketLoggingStatus><LoggingEnabled><TargetBucket>{target}</TargetBucket>\
         <TargetPrefix>{prefix}</TargetPrefix></LoggingEnabled></BucketLoggingStatus>"
    )
}

async fn app_with_log_bucket(interval: Option<u64>) -> App {
    let mut c = Config::for_tests(ID, KEY);
    c.buckets
        .push(BucketName::parse("logbucket", "1250000000", "ap-guangzhou").unwrap());
    if let Some(s) = interval {
        c.log_interval = Duration::from_secs(s);
    }
    app_with(c).await
}

/// Keys under `prefix` in the bucket at `host`.
async fn keys(app: &App, host: &str, prefix: &str) -> Vec<String> {
    let r = app.send(R::get("").host(host).q("prefix", prefix)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
        .split("<Key>")
        .skip(1)
        .map(|s| s.split("</Key>").next().unwrap().to_string())
        .collect()
}

async fn object_text(app: &App, host: &str, key: &str) -> String {
    let r = app.send(R::get(key).host(host)).await;
    assert_eq!(r.status, 200, "{key}: {}", r.text());
    r.text()
}

#[tokio::test]
async fn configuration_and_validation() {
    let app = app_with_log_bucket(None).await;
    let empty = format!("{DECL}<BucketLoggingStatus></BucketLoggingStatus>");
    // Unset: 200 with the empty root.
    let got = app.send(R::get("").q("logging", "")).await;
    assert_eq!((got.status, got.text()), (200, empty.clone()));
    // Enable, read back.
    let body = enable_body("logbucket-1250000000", "logs/");
    let put = app
        .send(
            R::new(http::Method::PUT, "")
                .q("logging", "")
                .with_body(&body),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    let got = app.send(R::get("").q("logging", "")).await;
    assert_eq!(got.text(), format!("{DECL}{}", body.replace("\n", "")));
    // A short name gets the APPID; the bucket itself is a valid target.
    for target in ["logbucket", "examplebucket-1250000000"] {
        let r = app
            .send(
                R::new(http::Method::PUT, "")
                    .q("logging", "")
                    .with_body(&enable_body(target, "")),
            )
            .await;
        assert_eq!(r.status, 200, "{target}: {}", r.text());
    }
    // Errors change nothing.
    let cases = [
        (enable_body("nosuchbucket-1250000000", "x/"), 400, "InvalidTargetBucketForLogging"),
        (enable_body("", "x/"), 400, "InvalidTargetBucketForLogging"),
        ("<BucketLoggingStatus><LoggingEnabled><TargetPrefix>x</TargetPrefix></LoggingEnabled></BucketLoggingStatus>".into(), 400, "MalformedXML"),
        ("<Logging/>".into(), 400, "MalformedXML"),
        ("<BucketLoggingStatus>".into(), 400, "MalformedXML"),
    ];
    for (body, status, code) in cases {
        app.send(
            R::new(http::Method::PUT, "")
                .q("logging", "")
                .with_body(&body),
        )
        .await
        .assert_error(status, code);
    }
    let got = app.send(R::get("").q("logging", "")).await;
    assert!(got
        .text()
        .contains("<TargetBucket>examplebucket-1250000000</TargetBucket>"));
    // Disable with the SDKs' empty document, then with a DELETE (NOTES 8).
    let r = app
        .send(
            R::new(http::Method::PUT, "")
                .q("logging", "")
                .with_body("<BucketLoggingStatus></BucketLoggingStatus>"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(app.send(R::get("").q("logging", "")).await.text(), empty);
    app.send(
        R::new(http::Method::PUT, "")
            .q("logging", "")
            .with_body(&body),
    )
    .await;
    let r = app
        .send(R::new(http::Method::DELETE, "").q("logging", ""))
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(app.send(R::get("").q("logging", "")).await.text(), empty);
    // A missing bucket.
    app.send(
        R::get("")
            .host("nosuch-1250000000.cos.ap-guangzhou.myqcloud.com")
            .q("logging", ""),
    )
    .await
    .assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn log_object_has_one_line_per_request_in_cos_order() {
    let app = app_with_log_bucket(None).await;
    let r = app
        .send(
            R::new(http::Method::PUT, "")
                .q("logging", "")
                .with_body(&enable_body("logbucket-1250000000", "logs/")),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(app.send(R::get("").q("logging", "")).await.status, 200);
    app.put("dir/a b.txt", b"hello").await;
    let got = app
        .send(
            R::get("dir/a b.txt")
                .h("user-agent", "test agent/1.0")
                .h("referer", "https://example.com/x"),
        )
        .await;
    assert_eq!(got.status, 200);
    let miss = app.send(R::get("missing").anonymous()).await;
    assert_eq!(miss.status, 403);
    // Requests to the (unlogged) target bucket are not in the log.
    assert!(keys(&app, LOG_HOST, "").await.is_empty());

    assert_eq!(logging::deliver(&app.svc.state).await, 1);
    let objects = keys(&app, LOG_HOST, "logs/").await;
    assert_eq!(objects.len(), 1, "{objects:?}");
    // logs/YYYY/MM/DD/<YYYYMMDDHHMMSS>_<random>_<index>
    let name: Vec<&str> = objects[0]
        .strip_prefix("logs/")
        .unwrap()
        .split('/')
        .collect();
    assert_eq!(name.len(), 4, "{objects:?}");
    let file: Vec<&str> = name[3].split('_').collect();
    assert_eq!(file.len(), 3);
    assert_eq!(file[0].len(), 14);
    assert_eq!(&file[0][..8], &format!("{}{}{}", name[0], name[1], name[2]));

    let text = object_text(&app, LOG_HOST, &objects[0]).await;
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    for l in &lines {
        assert_eq!(l.len(), 28, "{l:?}");
        assert_eq!(l[0], "1.0");
        assert_eq!(l[1], "examplebucket-1250000000");
        assert_eq!(l[2], "ap-guangzhou");
        assert!(l[3].ends_with('Z') && l[3].len() == 20, "{}", l[3]);
        assert_eq!(l[19], "USER");
        assert_eq!(l[21], "1250000000");
        assert!(!l[24].is_empty() && l[24] != "-");
    }
    let ops: Vec<&str> = lines.iter().map(|l| l[5]).collect();
    // The PUT that enabled logging came before it was on.
    assert_eq!(
        ops,
        ["GetBucketLogging", "PutObject", "GetObject", "GetObject"]
    );
    let put = &lines[1];
    assert_eq!(put[7], ID);
    assert_eq!(put[9], "5");
    assert_eq!(put[11], "/dir/a%20b.txt");
    assert_eq!(put[12], "put");
    assert_eq!(put[14], "200");
    let get = &lines[2];
    assert_eq!(get[12], "get");
    assert_eq!(get[13], "test%20agent/1.0");
    assert_eq!(get[17], "5");
    assert_eq!(get[25], "5");
    assert_eq!(get[27], "https%3A//example.com/x");
    assert_eq!(get[24], got.header("x-cos-request-id").unwrap());
    let miss_line = &lines[3];
    assert_eq!(miss_line[7], "-");
    assert_eq!(miss_line[14], "403");
    assert_eq!(miss_line[15], "AccessDenied");
    assert_eq!(miss_line[16], "Access%20Denied.");
    assert_eq!(miss_line[23], "-");
    // Nothing left: a second delivery writes nothing.
    assert_eq!(logging::deliver(&app.svc.state).await, 0);
}

#[tokio::test]
async fn a_bucket_logging_into_itself_never_logs_its_own_delivery() {
    let app = app_with_log_bucket(None).await;
    let r = app
        .send(
            R::new(http::Method::PUT, "")
                .q("logging", "")
                .with_body(&enable_body("examplebucket-1250000000", "self/")),
        )
        .await;
    assert_eq!(r.status, 200);
    app.put("k", b"v").await;
    assert_eq!(logging::deliver(&app.svc.state).await, 1);
    // The delivery (a PutObject under self/) produced no line: nothing pending.
    assert_eq!(logging::deliver(&app.svc.state).await, 0);
    let objects = keys(&app, crate::common::HOST, "self/").await;
    assert_eq!(objects.len(), 1);
    let text = object_text(&app, crate::common::HOST, &objects[0]).await;
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains(" PutObject "), "{text}");
    assert!(!text.contains("/self/"), "{text}");
    // Reading the log is a request like any other and is logged.
    assert_eq!(logging::deliver(&app.svc.state).await, 1);
}

/// Polls `cond` every 100 ms for up to `secs` seconds.
async fn eventually<F, Fut>(secs: u64, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..secs * 10 {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn the_worker_delivers_every_interval_and_early_when_the_buffer_fills() {
    // Interval 1 s.
    let app = app_with_log_bucket(Some(1)).await;
    let worker = tokio::spawn(logging::run(app.svc.state.clone()));
    app.send(
        R::new(http::Method::PUT, "")
            .q("logging", "")
            .with_body(&enable_body("logbucket-1250000000", "w/")),
    )
    .await;
    app.put("k", b"v").await;
    assert!(
        eventually(5, || async { !keys(&app, LOG_HOST, "w/").await.is_empty() }).await,
        "a log object within the interval"
    );
    worker.abort();

    // Interval 300 s: only a full buffer triggers a delivery.
    let app = app_with_log_bucket(Some(300)).await;
    let worker = tokio::spawn(logging::run(app.svc.state.clone()));
    app.send(
        R::new(http::Method::PUT, "")
            .q("logging", "")
            .with_body(&enable_body("logbucket-1250000000", "big/")),
    )
    .await;
    let agent = "a".repeat(8 * 1024);
    let lines = logging::FLUSH_BYTES / agent.len() + 2;
    for _ in 0..lines {
        app.send(R::get("missing").h("user-agent", &agent)).await;
    }
    assert!(
        eventually(5, || async {
            !keys(&app, LOG_HOST, "big/").await.is_empty()
        })
        .await,
        "an early delivery"
    );
    worker.abort();
}
