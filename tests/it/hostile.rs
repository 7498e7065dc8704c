//! Hostile and malformed input over a real socket: every answer is a 4xx (or
//! the connection is closed), never a 5xx, a hang or a crash, and the server
//! keeps serving afterwards.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use localcos::TestServer;

use crate::common::{sign_with, window, HOST};

/// Sends raw bytes, returns the status line ("" if the server closed the
/// connection without answering). Reads only up to the status line, so a
/// kept-alive connection does not make it wait.
fn exchange(server: &TestServer, request: &[u8]) -> String {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.windows(2).any(|w| w == b"\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn malformed_requests_never_get_a_5xx() {
    let mut config = localcos::config::Config::for_tests("AKIDhostile", "hostile-key");
    config.buckets = vec![localcos::http::target::BucketName::parse(
        "examplebucket",
        "1250000000",
        "ap-guangzhou",
    )
    .unwrap()];
    config.body_idle_timeout = Duration::from_secs(1);
    let server = TestServer::start_with(config).unwrap();
    let auth = |method: &str, path: &str| {
        sign_with(
            server.secret_id(),
            server.secret_key(),
            method,
            path,
            &[],
            &[("host", HOST)],
            window(),
        )
    };
    let long_key = format!("/{}", "k".repeat(900));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dot-dot bucket", b"GET /../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec()),
        ("NUL in key", format!("GET /%00 HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {}\r\n\r\n", auth("GET", "/\0")).into_bytes()),
        ("invalid UTF-8 path", format!("GET /%FF%FE HTTP/1.1\r\nHost: {HOST}\r\n\r\n").into_bytes()),
        ("empty q-ak", format!("GET /k HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: q-sign-algorithm=sha1&q-ak=&q-sign-time=1;2&q-key-time=1;2&q-header-list=&q-url-param-list=&q-signature=00\r\n\r\n").into_bytes()),
        ("garbage times", format!("GET /k HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: q-sign-algorithm=sha1&q-ak=x&q-sign-time=abc&q-key-time=;;&q-header-list=host&q-url-param-list=&q-signature=zz\r\n\r\n").into_bytes()),
        ("huge authorization", format!("GET /k HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: q-sign-algorithm=sha1&q-ak={}\r\n\r\n", "A".repeat(30_000)).into_bytes()),
        ("non-UTF-8 header value", [format!("GET /k HTTP/1.1\r\nHost: {HOST}\r\nx-cos-meta-a: ").into_bytes(), vec![0xff, 0xfe], b"\r\n\r\n".to_vec()].concat()),
        ("10k query params", format!("GET /?{} HTTP/1.1\r\nHost: {HOST}\r\n\r\n", "a=b&".repeat(10_000)).into_bytes()),
        ("overflowing Content-Length", format!("PUT /k HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 99999999999999999999999\r\n\r\n").into_bytes()),
        ("broken chunking", format!("PUT /k HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n", auth("PUT", "/k")).into_bytes()),
        ("short body", format!("PUT /k HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {}\r\nContent-Length: 100\r\n\r\nonly a few bytes", auth("PUT", "/k")).into_bytes()),
        ("100 KiB header", format!("GET /k HTTP/1.1\r\nHost: {HOST}\r\nx-big: {}\r\n\r\n", "v".repeat(100 * 1024)).into_bytes()),
        ("100 KiB path", format!("GET /{} HTTP/1.1\r\nHost: {HOST}\r\n\r\n", "p".repeat(100 * 1024)).into_bytes()),
        ("key over 850 bytes", format!("GET {long_key} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {}\r\n\r\n", auth("GET", &long_key)).into_bytes()),
        ("not HTTP", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello tls\r\n\r\n".to_vec()),
        ("unknown method", format!("BREW /k HTTP/1.1\r\nHost: {HOST}\r\n\r\n").into_bytes()),
        ("no Host", b"GET /x/y HTTP/1.1\r\n\r\n".to_vec()),
        ("oversized delete document", {
            let body = format!("<Delete>{}</Delete>", "<Object><Key>k</Key></Object>".repeat(100_000));
            format!("POST /?delete HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n{body}", auth("POST", "/"), body.len()).into_bytes()
        }),
    ];
    for (name, request) in cases {
        let started = std::time::Instant::now();
        let status = exchange(&server, &request);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: no answer for {:?}",
            started.elapsed()
        );
        assert!(!status.starts_with("HTTP/1.1 5"), "{name}: {status}");
        assert!(
            status.is_empty() || status.starts_with("HTTP/1.1 4"),
            "{name}: {status}"
        );
    }
    // A stalled upload (fewer bytes than Content-Length, then silence) gets
    // 400 RequestTimeout after the idle timeout, not a request held forever.
    let stalled = format!("PUT /k HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {}\r\nContent-Length: 100\r\n\r\nonly a few bytes", auth("PUT", "/k"));
    assert!(exchange(&server, stalled.as_bytes()).starts_with("HTTP/1.1 400"));
    // Still alive and serving.
    let health = exchange(
        &server,
        b"GET /-/health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}
