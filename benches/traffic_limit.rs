//! Traffic-limit benchmark: the rate a client achieves when it downloads with
//! `x-cos-traffic-limit` at three limits (819200 bit/s, 8 Mbit/s, 80 Mbit/s),
//! against the requested rate. The issue's target: a 10 s download at the
//! limit lands within ±10 % of it.
//!
//! Run by hand, never as part of the tests:
//!
//! ```text
//! cargo bench --bench traffic_limit                      # 10 s per limit, ~35 s
//! TRAFFIC_SECONDS=3 cargo bench --bench traffic_limit    # quicker
//! ```
//!
//! It starts a real localcos in-process (`localcos::TestServer`, embedded
//! store on a temp dir, so plain GETs would use sendfile), uploads an object
//! of `limit / 8 × seconds` bytes per limit, and times a pre-signed GET over
//! a plain TCP socket from the request until the last byte.
//! `cargo test --all-targets` runs this binary without `--bench`; it then only prints a line.

#[path = "load/presign.rs"]
#[allow(dead_code)]
mod presign;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use localcos::config::{Config, StorageMode};
use localcos::TestServer;

const LIMITS: [u64; 3] = [819_200, 8_000_000, 80_000_000];
const HOST: &str = "bench-1250000000.cos.ap-guangzhou.myqcloud.com";

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("traffic_limit: run with `cargo bench --bench traffic_limit`");
        return;
    }
    let seconds: f64 = std::env::var("TRAFFIC_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_tests("AKIDtrafficbench", "traffic-bench-key");
    config.storage = StorageMode::Dir(dir.path().to_path_buf());
    let server = TestServer::start_with(config).expect("server starts");
    let creds = presign::Credentials {
        secret_id: server.secret_id().to_string(),
        secret_key: server.secret_key().to_string(),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let sign = |method: &str, path: &str| {
        presign::sign(&creds, method, path, HOST, now - 60, now + 7200).to_header()
    };
    let request = |method: &str, path: &str, extra: &str, body: &[u8]| -> (String, u64, Duration) {
        let mut s = TcpStream::connect(server.addr()).expect("connect");
        s.set_nodelay(true).ok();
        let t = Instant::now();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            sign(method, path),
            body.len()
        )
        .expect("write");
        s.write_all(body).expect("write body");
        let mut buf = vec![0u8; 256 * 1024];
        let mut head = Vec::new();
        let mut body_len = 0u64;
        loop {
            let n = s.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                body_len += n as u64;
            } else {
                head.extend_from_slice(&buf[..n]);
                if let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                    body_len += (head.len() - p - 4) as u64;
                    head.truncate(p + 4);
                }
            }
        }
        (
            String::from_utf8_lossy(&head).into_owned(),
            body_len,
            t.elapsed(),
        )
    };

    let (head, _, _) = request("PUT", "/", "", b"");
    assert!(head.starts_with("HTTP/1.1 200"), "create bucket: {head}");
    println!("traffic_limit: {seconds} s downloads at each limit");
    println!(
        "{:>14} {:>14} {:>12} {:>10} {:>14} {:>8}",
        "limit bit/s", "object bytes", "seconds", "MB/s", "achieved bit/s", "ratio"
    );
    for limit in LIMITS {
        let size = (limit as f64 / 8.0 * seconds) as usize;
        let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        let path = format!("/obj-{limit}");
        let (head, _, _) = request("PUT", &path, "", &data);
        assert!(head.starts_with("HTTP/1.1 200"), "PUT: {head}");
        let (head, got, took) = request(
            "GET",
            &path,
            &format!("x-cos-traffic-limit: {limit}\r\n"),
            b"",
        );
        assert!(head.starts_with("HTTP/1.1 200"), "GET: {head}");
        assert_eq!(got, size as u64, "body length");
        let achieved = got as f64 * 8.0 / took.as_secs_f64();
        let ratio = achieved / limit as f64;
        println!(
            "{limit:>14} {size:>14} {:>12.3} {:>10.3} {achieved:>14.0} {ratio:>8.3}{}",
            took.as_secs_f64(),
            got as f64 / took.as_secs_f64() / 1e6,
            if (0.9..=1.1).contains(&ratio) {
                ""
            } else {
                "  OUTSIDE ±10%"
            }
        );
    }
}
