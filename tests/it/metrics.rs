//! `/-/metrics` (Prometheus text), `/-/health/ready` against failing stores, and
//! the per-request access log of the real binary (`--log-format json`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use localcos::config::{Config, StorageMode};

use crate::common::{app, app_with, sign_with, window, App, ID, KEY, R};

const SERVICE: &str = "127.0.0.1:9000";

async fn scrape(app: &App) -> String {
    let r = app
        .send(R::get("").anonymous().host(SERVICE).raw_path("/-/metrics"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    r.text()
}

/// The value of the one sample of `name` whose labels include all of `labels`.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<f64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            (n == name
                && labels
                    .iter()
                    .all(|(k, val)| rest.contains(&format!("{k}=\"{val}\""))))
            .then(|| v.parse().ok())?
        })
        .collect();
    assert!(
        found.len() <= 1,
        "{name} {labels:?} matches several: {found:?}"
    );
    found.first().copied()
}

#[tokio::test]
async fn metrics_count_requests_errors_bytes_and_latency() {
    let app = app().await;
    let body = vec![b'm'; 1000];
    app.put("metrics/a", &body).await;
    for _ in 0..2 {
        let r = app.send(R::get("metrics/a")).await;
        assert_eq!(r.status, 200);
    }
    app.send(R::get("metrics/missing"))
        .await
        .assert_error(404, "NoSuchKey");
    app.send(R::get("metrics/a").signed_by(ID, "wrong-key"))
        .await
        .assert_error(403, "SignatureDoesNotMatch");
    let text = scrape(&app).await;
    let req = |op, status| {
        value(
            &text,
            "localcos_requests_total",
            &[("operation", op), ("dialect", "cos"), ("status", status)],
        )
    };
    assert_eq!(req("PutObject", "200"), Some(1.0), "{text}");
    assert_eq!(req("GetObject", "200"), Some(2.0), "{text}");
    assert_eq!(req("GetObject", "404"), Some(1.0), "{text}");
    // Authentication fails before routing: no operation yet.
    assert_eq!(req("-", "403"), Some(1.0), "{text}");
    let err = |op, code| {
        value(
            &text,
            "localcos_errors_total",
            &[("operation", op), ("code", code)],
        )
    };
    assert_eq!(err("GetObject", "NoSuchKey"), Some(1.0));
    assert_eq!(err("-", "SignatureDoesNotMatch"), Some(1.0));
    assert_eq!(err("PutObject", "NoSuchKey"), None);
    assert_eq!(
        value(
            &text,
            "localcos_received_bytes_total",
            &[("operation", "PutObject")]
        ),
        Some(1000.0)
    );
    // Two 1000-byte bodies plus the 404's XML error document.
    let sent = value(
        &text,
        "localcos_sent_bytes_total",
        &[("operation", "GetObject")],
    )
    .unwrap();
    assert!(sent > 2000.0 && sent < 3000.0, "{sent}");
    // The latency histogram: cumulative buckets ending at the count.
    let count = value(
        &text,
        "localcos_request_duration_seconds_count",
        &[("operation", "GetObject")],
    );
    assert_eq!(count, Some(3.0));
    let mut last = 0.0;
    for le in ["0.00025", "0.001", "0.01", "0.1", "1", "10", "60", "+Inf"] {
        let b = value(
            &text,
            "localcos_request_duration_seconds_bucket",
            &[("operation", "GetObject"), ("le", le)],
        )
        .unwrap_or_else(|| panic!("bucket le={le} missing: {text}"));
        assert!(b >= last, "le={le}: {b} < {last}");
        last = b;
    }
    assert_eq!(last, 3.0);
    assert!(text.contains("# TYPE localcos_request_duration_seconds histogram"));
    // The scrape itself is the request in flight.
    assert_eq!(value(&text, "localcos_requests_in_flight", &[]), Some(1.0));
    // Usage of the bucket: one current object of 1000 bytes.
    let bucket = [("bucket", "examplebucket-1250000000")];
    assert_eq!(value(&text, "localcos_bucket_objects", &bucket), Some(1.0));
    assert_eq!(value(&text, "localcos_bucket_bytes", &bucket), Some(1000.0));
    assert_eq!(
        value(&text, "localcos_bucket_usage_complete", &bucket),
        Some(1.0)
    );
    assert!(text.contains("localcos_build_info{version=\""), "{text}");
    // No cluster: no pool series.
    assert!(!text.contains("db_pool"), "{text}");
    // A second scrape counts the first (operation `Admin`).
    let text = scrape(&app).await;
    assert_eq!(
        value(
            &text,
            "localcos_requests_total",
            &[("operation", "Admin"), ("status", "200")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn metrics_on_a_bucket_host_is_an_object_key() {
    let app = app().await;
    // Signed GET on the bucket host: an ordinary (missing) object.
    app.send(R::get("-/metrics"))
        .await
        .assert_error(404, "NoSuchKey");
    app.put("-/metrics", b"an object").await;
    let r = app.send(R::get("-/metrics")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "an object");
    // Still Prometheus text on the service host.
    assert!(scrape(&app).await.contains("localcos_requests_total"));
}

#[tokio::test]
async fn background_job_runs_are_reported() {
    let app = app().await;
    localcos::metrics::job_ran(localcos::metrics::Job::Lifecycle, true);
    let text = scrape(&app).await;
    let age = value(
        &text,
        "localcos_job_last_run_age_seconds",
        &[("job", "lifecycle")],
    )
    .expect("lifecycle age");
    assert!((0.0..60.0).contains(&age), "{age}");
    assert!(
        value(
            &text,
            "localcos_job_runs_total",
            &[("job", "lifecycle"), ("result", "ok")]
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(
        value(&text, "localcos_bucket_log_pending_bytes", &[]),
        Some(0.0)
    );
}

#[tokio::test]
async fn ready_reflects_the_blob_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut config = Config::for_tests(ID, KEY);
    config.storage = StorageMode::Dir(data.clone());
    let app = app_with(config).await;
    let ready = || async {
        app.send(
            R::get("")
                .anonymous()
                .host(SERVICE)
                .raw_path("/-/health/ready"),
        )
        .await
    };
    let r = ready().await;
    assert_eq!((r.status, r.text().as_str()), (200, "ready\n"));
    // The probe leaves no blob behind.
    let blobs = || {
        walkdir(&data.join("blobs")) + std::fs::read_dir(data.join("tmp")).map_or(0, |d| d.count())
    };
    assert_eq!(blobs(), 0);
    // Blob writes fail: `tmp/` is a file now.
    std::fs::rename(data.join("tmp"), dir.path().join("tmp-away")).unwrap();
    std::fs::write(data.join("tmp"), b"not a directory").unwrap();
    let r = ready().await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("blob store"), "{}", r.text());
    assert!(r.header("x-cos-request-id").is_some());
    // Liveness does not depend on the stores.
    let live = app
        .send(
            R::get("")
                .anonymous()
                .host(SERVICE)
                .raw_path("/-/health/live"),
        )
        .await;
    assert_eq!(live.status, 200);
    std::fs::remove_file(data.join("tmp")).unwrap();
    std::fs::rename(dir.path().join("tmp-away"), data.join("tmp")).unwrap();
    assert_eq!(ready().await.status, 200);
}

fn walkdir(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.flatten()
            .map(|e| {
                if e.path().is_dir() {
                    walkdir(&e.path())
                } else {
                    1
                }
            })
            .sum()
    })
}

// --- the access log of the real binary ---------------------------------------

const LOG_HOST: &str = "accesslog-1250000000.cos.ap-guangzhou.myqcloud.com";

struct Proc {
    child: Child,
    addr: SocketAddr,
    stderr: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra: &[&str]) -> Proc {
    start_env(extra, &[])
}

fn start_env(extra: &[&str], env: &[(&str, &str)]) -> Proc {
    let dir = tempfile::tempdir().unwrap();
    let stderr = dir.path().join("stderr.log");
    // In memory, unless the test names a data dir (zero-copy GETs).
    let storage: &[&str] = match extra.contains(&"--data-dir") {
        true => &[],
        false => &["--ephemeral"],
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_localcos"))
        .args(["serve", "--listen", "127.0.0.1:0", "--bucket", "accesslog"])
        .args(storage)
        .args(extra)
        .env("LOCALCOS_SECRET_ID", ID)
        .env("LOCALCOS_SECRET_KEY", KEY)
        .env_remove("RUST_LOG")
        .env_remove("LOCALCOS_LOG_LEVEL")
        .env_remove("LOCALCOS_ACCESS_LOG")
        .env_remove("LOCALCOS_LOG_FORMAT")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("spawn localcos");
    let addr = crate::common::binary::banner_addr(&mut child);
    Proc {
        child,
        addr,
        stderr,
        _dir: dir,
    }
}

/// One signed request; (status, head, Authorization sent).
fn request(addr: SocketAddr, method: &str, key: &str, body: &[u8]) -> (u16, String, String) {
    let (status, head, _, auth) = send(addr, method, LOG_HOST, &format!("/{key}"), body, true);
    (status, head, auth)
}

/// One request to `host` (signed with the owner key, or anonymous);
/// (status, head, body, Authorization sent).
fn send(
    addr: SocketAddr,
    method: &str,
    host: &str,
    path: &str,
    body: &[u8],
    signed: bool,
) -> (u16, String, String, String) {
    let auth = match signed {
        true => sign_with(ID, KEY, method, path, &[], &[("host", host)], window()),
        false => String::new(),
    };
    let auth_line = match signed {
        true => format!("Authorization: {auth}\r\n"),
        false => String::new(),
    };
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth_line}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (
        head[9..12].parse().unwrap(),
        head.to_string(),
        body.to_string(),
        auth,
    )
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or_else(|| panic!("no {name} in {head}"))
}

/// Waits until stderr has a line containing `needle` (the writer is asynchronous).
fn wait_for_log(p: &Proc, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&p.stderr).unwrap_or_default();
        if text.contains(needle) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn access_log_json_lines_name_the_request_and_never_the_secret() {
    let p = start(&["--log-format", "json"]);
    let (status, put_head, put_auth) = request(p.addr, "PUT", "dir/a.txt", b"0123456789");
    assert_eq!(status, 200, "{put_head}");
    let (status, get_head, get_auth) = request(p.addr, "GET", "dir/a.txt", b"");
    assert_eq!(status, 200);
    let (status, miss_head, _) = request(p.addr, "GET", "missing", b"");
    assert_eq!(status, 404);
    let miss_id = header(&miss_head, "x-cos-request-id").to_string();
    let text = wait_for_log(&p, &miss_id);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["target"] == "localcos::access")
        .collect();
    let line_of = |head: &str| {
        let id = header(head, "x-cos-request-id");
        lines
            .iter()
            .find(|v| v["request_id"] == id)
            .unwrap_or_else(|| panic!("no access line for {id} in:\n{text}"))
            .clone()
    };
    let put = line_of(&put_head);
    assert_eq!(put["operation"], "PutObject");
    assert_eq!(put["method"], "PUT");
    assert_eq!(put["dialect"], "cos");
    assert_eq!(put["bucket"], "accesslog-1250000000");
    assert_eq!(put["key"], "dir/a.txt");
    assert_eq!(put["status"], 200);
    assert_eq!(put["bytes_in"], 10);
    assert_eq!(put["secret_id"], ID);
    assert_eq!(put["level"], "INFO");
    assert!(put["remote"]
        .as_str()
        .is_some_and(|r| r.starts_with("127.0.0.1:")));
    assert!(put["duration_us"].as_u64().is_some());
    assert!(put.get("error_code").is_none(), "{put}");
    let get = line_of(&get_head);
    assert_eq!(get["operation"], "GetObject");
    assert_eq!(get["bytes_out"], 10);
    assert_eq!(get["bytes_in"], 0);
    let miss = line_of(&miss_head);
    assert_eq!(miss["status"], 404);
    assert_eq!(miss["error_code"], "NoSuchKey");
    // Never the secret, never a signature.
    assert!(!text.contains(KEY));
    for auth in [&put_auth, &get_auth] {
        let sig = auth.rsplit("q-signature=").next().unwrap();
        assert!(sig.len() >= 40 && !text.contains(sig), "{sig}");
    }
}

#[test]
fn access_log_off_and_text_format() {
    let p = start(&["--access-log", "off"]);
    let (status, head, _) = request(p.addr, "PUT", "quiet", b"x");
    assert_eq!(status, 200);
    // The request after it proves the server handled the first one; give the
    // writer time, then check that no access line was written.
    std::thread::sleep(Duration::from_millis(300));
    let text = std::fs::read_to_string(&p.stderr).unwrap();
    assert!(!text.contains(header(&head, "x-cos-request-id")), "{text}");
    drop(p);
    let p = start(&[]);
    let (_, head, _) = request(p.addr, "PUT", "loud", b"xy");
    let id = header(&head, "x-cos-request-id").to_string();
    let text = wait_for_log(&p, &id);
    let line = text
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("no access line for {id}:\n{text}"));
    for want in [
        "localcos::access",
        "operation=\"PutObject\"",
        "key=\"loud\"",
        "status=200",
        "bytes_in=2",
    ] {
        assert!(line.contains(want), "{want} not in {line}");
    }
}

/// The access log's `bytes_out` is what the connection sent, counted in the
/// response body as it goes (not the `Content-Length` of the head): a Range
/// GET counts its range, a whole GET every byte, and a download the client
/// abandons early counts what had left by then, far less than the object.
/// In memory and from a data dir (where large GETs go out with sendfile).
#[test]
fn access_log_bytes_out_counts_what_was_sent() {
    const SIZE: usize = 48 << 20;
    let body: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    for extra in [
        vec!["--log-format", "json"],
        vec!["--log-format", "json", "--data-dir", dir],
    ] {
        let p = start(&extra);
        let (status, head, _) = request(p.addr, "PUT", "big.bin", &body);
        assert_eq!(status, 200, "{head}");
        // Sends a signed GET with `range`; reads `read` bytes of the answer
        // (all of it: None), then closes. Returns (request id, bytes read).
        let get = |range: Option<&str>, read: Option<usize>| -> (String, usize) {
            let auth = sign_with(
                ID,
                KEY,
                "GET",
                "/big.bin",
                &[],
                &[("host", LOG_HOST)],
                window(),
            );
            let mut s = TcpStream::connect(p.addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
            write!(
                s,
                "GET /big.bin HTTP/1.1\r\nHost: {LOG_HOST}\r\nAuthorization: {auth}\r\n{range}Connection: close\r\n\r\n"
            )
            .unwrap();
            let mut got = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            while read.is_none_or(|n| got.len() < n) {
                match s.read(&mut buf).unwrap() {
                    0 => break,
                    k => got.extend_from_slice(&buf[..k]),
                }
            }
            let text = String::from_utf8_lossy(&got[..got.len().min(4096)]).into_owned();
            let head_len = text.find("\r\n\r\n").expect("response head") + 4;
            // Closed with unread bytes: the server's next writes fail.
            drop(s);
            (
                header(&text[..head_len], "x-cos-request-id").to_string(),
                got.len() - head_len,
            )
        };
        let (range_id, n) = get(Some("bytes=1000-1999"), None);
        assert_eq!(n, 1000);
        let (whole_id, n) = get(None, None);
        assert_eq!(n, SIZE);
        let (cut_id, read) = get(None, Some(256 * 1024));
        let text = wait_for_log(&p, &cut_id);
        let line_of = |id: &str| -> serde_json::Value {
            text.lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|v| v["target"] == "localcos::access" && v["request_id"] == id)
                .unwrap_or_else(|| panic!("no access line for {id}:\n{text}"))
        };
        let range = line_of(&range_id);
        assert_eq!(
            (range["status"].as_u64(), range["bytes_out"].as_u64()),
            (Some(206), Some(1000))
        );
        assert_eq!(line_of(&whole_id)["bytes_out"].as_u64(), Some(SIZE as u64));
        let cut = line_of(&cut_id);
        let sent = cut["bytes_out"].as_u64().unwrap();
        assert_eq!(cut["status"], 200);
        assert!(
            sent >= read as u64 && sent < (SIZE / 2) as u64,
            "{extra:?}: an abandoned download logged bytes_out={sent} (client read {read} of {SIZE})"
        );
    }
}

/// `localcos observability` against the running binary: what it prints.
fn observability_cli(p: &Proc, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_localcos"))
        .arg("observability")
        .args(["--url", &format!("http://{}", p.addr)])
        .args(args)
        .env("LOCALCOS_SECRET_ID", ID)
        .env("LOCALCOS_SECRET_KEY", KEY)
        .env_remove("LOCALCOS_CONFIG")
        .env_remove("LOCALCOS_DATA_DIR")
        .output()
        .expect("run localcos observability");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The access log and the metrics switch on and off in a running server
/// (the admin API, through `localcos observability`): off, a request leaves
/// no line and no count and `/-/metrics` is gone; on again, both resume.
#[test]
fn observability_switches_without_a_restart() {
    let p = start(&["--log-format", "json"]);
    let service = p.addr.to_string();
    let put_count = || {
        let (status, _, body, _) = send(p.addr, "GET", &service, "/-/metrics", b"", false);
        assert_eq!(status, 200, "{body}");
        value(
            &body,
            "localcos_requests_total",
            &[("operation", "PutObject"), ("status", "200")],
        )
    };
    let (status, head, _) = request(p.addr, "PUT", "before", b"1");
    assert_eq!(status, 200, "{head}");
    let before = header(&head, "x-cos-request-id").to_string();
    assert_eq!(put_count(), Some(1.0));

    let (ok, out, err) = observability_cli(&p, &["--json"]);
    assert!(ok, "{err}");
    let now: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (now["access_log"].as_bool(), now["metrics"].as_bool()),
        (Some(true), Some(true)),
        "{out}"
    );

    let (ok, out, err) = observability_cli(&p, &["--access-log", "off", "--metrics", "off"]);
    assert!(ok, "{err}");
    assert_eq!(out, "access log: off\nmetrics:    off\n");
    let (status, head, _) = request(p.addr, "PUT", "while-off", b"2");
    assert_eq!(status, 200, "{head}");
    let quiet = header(&head, "x-cos-request-id").to_string();
    let (status, _, body, _) = send(p.addr, "GET", &service, "/-/metrics", b"", false);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("<Code>NoSuchResource</Code>"), "{body}");

    let (ok, out, err) = observability_cli(&p, &["--access-log", "on", "--metrics", "on"]);
    assert!(ok, "{err}");
    assert_eq!(out, "access log: on\nmetrics:    on\n");
    let (status, head, _) = request(p.addr, "PUT", "after", b"3");
    assert_eq!(status, 200, "{head}");
    let after = header(&head, "x-cos-request-id").to_string();
    let text = wait_for_log(&p, &after);
    assert!(text.contains(&before), "{text}");
    assert!(text.contains(&after), "{text}");
    assert!(
        !text.contains(&quiet),
        "a line while the access log was off:\n{text}"
    );
    // The PUT made while metrics were off is not counted.
    assert_eq!(put_count(), Some(2.0));
    // Each switch is logged.
    assert_eq!(text.matches("observability switched").count(), 2, "{text}");

    // Bad bodies and other keys are refused.
    let service_admin = |body: &[u8], signed: bool| {
        send(
            p.addr,
            "PUT",
            &service,
            "/-/admin/observability",
            body,
            signed,
        )
    };
    let (status, _, body, _) = service_admin(br#"{"access_log": "yes"}"#, true);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("<Code>InvalidArgument</Code>"), "{body}");
    let (status, _, body, _) = service_admin(br#"{"acces_log": false}"#, true);
    assert_eq!(status, 400, "{body}");
    let (status, _, body, _) = service_admin(br#"{"access_log": false}"#, false);
    assert_eq!(status, 403, "{body}");
    let (status, _, body, _) = send(
        p.addr,
        "POST",
        &service,
        "/-/admin/observability",
        b"{}",
        true,
    );
    assert_eq!(status, 405, "{body}");
}

/// A filter that silences the access target (`RUST_LOG`) cannot be
/// overridden by the switch: the command says why, and nothing changes.
#[test]
fn observability_switch_respects_a_filter_that_silences_access_lines() {
    let p = start_env(&[], &[("RUST_LOG", "info,localcos::access=off")]);
    let (ok, out, err) = observability_cli(&p, &[]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("access log: not switchable\n  (the log filter (RUST_LOG)"),
        "{out}"
    );
    assert!(out.ends_with("metrics:    on\n"), "{out}");
    let (ok, _, err) = observability_cli(&p, &["--access-log", "on"]);
    assert!(!ok);
    assert!(
        err.contains("400 InvalidArgument: The access log cannot be switched"),
        "{err}"
    );
    let (status, head, _) = request(p.addr, "PUT", "k", b"1");
    assert_eq!(status, 200, "{head}");
    std::thread::sleep(Duration::from_millis(300));
    let text = std::fs::read_to_string(&p.stderr).unwrap();
    assert!(!text.contains(header(&head, "x-cos-request-id")), "{text}");
}

/// In process (tests embedding the server, no logging of localcos's own):
/// the metrics switch works, and the access log reports that it follows
/// the subscriber instead of a switch (400 to switch it).
#[tokio::test]
async fn observability_switches_in_process() {
    let app = app().await;
    let admin = |method: http::Method, body: &str| {
        R::new(method, "")
            .host(SERVICE)
            .raw_path("/-/admin/observability")
            .with_body(body)
    };
    let r = app.send(admin(http::Method::GET, "")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["access_log"], serde_json::Value::Null, "{v}");
    assert!(
        v["access_log_note"]
            .as_str()
            .is_some_and(|n| n.contains("not set up by localcos")),
        "{v}"
    );
    assert_eq!(v["metrics"], true, "{v}");
    scrape(&app).await;

    let r = app
        .send(admin(http::Method::PUT, r#"{"metrics": false}"#))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app
        .send(R::get("").anonymous().host(SERVICE).raw_path("/-/metrics"))
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = app
        .send(admin(
            http::Method::PUT,
            r#"{"access_log": true, "metrics": true}"#,
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("cannot be switched"), "{}", r.text());
    // Refused whole: the metrics stayed off.
    let r = app
        .send(R::get("").anonymous().host(SERVICE).raw_path("/-/metrics"))
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = app
        .send(admin(http::Method::PUT, r#"{"metrics": true}"#))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    scrape(&app).await;
}

/// A client command with no owner key says so, and does not generate one
/// (as `serve` would) into a `./data` of wherever it ran, nor into a data
/// dir it was given (which stays).
#[test]
fn observability_without_an_owner_key_generates_none() {
    let cwd = tempfile::tempdir().unwrap();
    let given = cwd.path().join("given");
    std::fs::create_dir(&given).unwrap();
    for args in [
        &["observability", "--url", "http://127.0.0.1:9"][..],
        &["keys", "--url", "http://127.0.0.1:9", "list"][..],
        &[
            "observability",
            "--url",
            "http://127.0.0.1:9",
            "--data-dir",
            "given",
        ][..],
        &[
            "keys",
            "--url",
            "http://127.0.0.1:9",
            "--data-dir",
            "given",
            "list",
        ][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_localcos"))
            .args(args)
            .current_dir(cwd.path())
            .env_remove("LOCALCOS_SECRET_ID")
            .env_remove("LOCALCOS_SECRET_KEY")
            .env_remove("LOCALCOS_CONFIG")
            .env_remove("LOCALCOS_DATA_DIR")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains("no owner key to sign with"), "{args:?}: {err}");
        let names: Vec<_> = std::fs::read_dir(cwd.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["given"], "{args:?} left files");
        assert_eq!(std::fs::read_dir(&given).unwrap().count(), 0, "{args:?}");
    }
}
