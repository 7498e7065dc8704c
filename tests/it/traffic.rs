//! `x-cos-traffic-limit` (spec cos.md §6, §6A.9): validation on GET and PUT,
//! header and query forms, and loose pacing checks. The ±10 % accuracy at
//! 10 s is measured by `benches/traffic_limit.rs`, not asserted here.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use localcos::TestServer;

use crate::common::{app, sign_with, window, HOST, R};

/// 100 KB/s, the smallest valid limit: 102,400 bytes take about 1 s.
const SLOW: &str = "819200";

#[tokio::test]
async fn invalid_limits_are_400_invalid_argument() {
    let app = app().await;
    app.put("obj", b"payload").await;
    for bad in ["819199", "838860801", "0", "abc", "1e6", "-1", "8192000.0"] {
        app.send(R::get("obj").h("x-cos-traffic-limit", bad))
            .await
            .assert_error(400, "InvalidArgument");
        app.send(R::get("obj").q("x-cos-traffic-limit", bad))
            .await
            .assert_error(400, "InvalidArgument");
        app.send(R::put("new", b"x".to_vec()).h("x-cos-traffic-limit", bad))
            .await
            .assert_error(400, "InvalidArgument");
        // HEAD: status only.
        let head = app
            .send(R::new(http::Method::HEAD, "obj").h("x-cos-traffic-limit", bad))
            .await;
        assert_eq!(head.status, 400);
    }
    // Nothing was written by the refused PUTs; validation comes before lookup.
    app.send(R::get("new")).await.assert_error(404, "NoSuchKey");
    app.send(R::get("missing").h("x-cos-traffic-limit", "1"))
        .await
        .assert_error(400, "InvalidArgument");
    // The header wins over the query parameter.
    let r = app
        .send(
            R::get("obj")
                .h("x-cos-traffic-limit", "838860800")
                .q("x-cos-traffic-limit", "1"),
        )
        .await;
    assert_eq!((r.status, &r.body[..]), (200, &b"payload"[..]));
    app.send(
        R::get("obj")
            .h("x-cos-traffic-limit", "1")
            .q("x-cos-traffic-limit", "838860800"),
    )
    .await
    .assert_error(400, "InvalidArgument");
    // Limits at both ends of the range are fine.
    for ok in ["819200", "838860800"] {
        let r = app.send(R::get("obj").h("x-cos-traffic-limit", ok)).await;
        assert_eq!(r.status, 200, "{ok}");
    }
}

/// 1 s of bytes at 819200 bit/s takes ≥ 0.8 s (header and query forms), and
/// another request meanwhile is not held up.
#[tokio::test]
async fn get_and_put_are_paced_without_blocking_others() {
    let app = std::sync::Arc::new(app().await);
    let data: Vec<u8> = (0..102_400u32).map(|i| (i % 251) as u8).collect();
    app.put("paced", &data).await;
    app.put("small", b"quick").await;

    let slow = {
        let app = app.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let r = app
                .send(R::get("paced").h("x-cos-traffic-limit", SLOW))
                .await;
            (r, t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    let quick = app.send(R::get("small")).await;
    assert_eq!(&quick.body[..], b"quick");
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "blocked: {:?}",
        t.elapsed()
    );
    let (r, took) = slow.await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body == data, "paced bytes are exact");
    assert!(took >= Duration::from_millis(800), "GET took {took:?}");

    let t = Instant::now();
    let r = app
        .send(R::get("paced").q("x-cos-traffic-limit", SLOW))
        .await;
    assert!(r.body == data);
    assert!(
        t.elapsed() >= Duration::from_millis(800),
        "query form: {:?}",
        t.elapsed()
    );

    let t = Instant::now();
    let put = app
        .send(R::put("paced-put", data.clone()).h("x-cos-traffic-limit", SLOW))
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert!(
        t.elapsed() >= Duration::from_millis(800),
        "PUT took {:?}",
        t.elapsed()
    );
    assert!(app.send(R::get("paced-put")).await.body == data);

    // Unlimited, the same GET is not held back.
    let t = Instant::now();
    assert!(app.send(R::get("paced")).await.body == data);
    assert!(
        t.elapsed() < Duration::from_millis(800),
        "{:?}",
        t.elapsed()
    );
}

/// Over a real socket with the embedded store, where large GETs normally go
/// out with sendfile: a limited GET is paced all the same.
#[test]
fn paced_over_a_socket_bypasses_sendfile() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = localcos::config::Config::for_tests("AKIDtraffic", "traffic-key");
    config.storage = localcos::config::StorageMode::Dir(dir.path().to_path_buf());
    let server = TestServer::start_with(config).unwrap();
    let data: Vec<u8> = (0..204_800u32).map(|i| (i % 241) as u8).collect();
    let send = |method: &str, path: &str, extra: &str, body: &[u8]| -> (String, Vec<u8>) {
        let auth = sign_with(
            server.secret_id(),
            server.secret_key(),
            method,
            path,
            &[],
            &[("host", HOST)],
            window(),
        );
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        (
            String::from_utf8_lossy(&out[..split]).into_owned(),
            out[split..].to_vec(),
        )
    };
    let (head, _) = send("PUT", "/", "", b"");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (head, _) = send("PUT", "/big", "", &data);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // 204,800 bytes at 1,638,400 bit/s (200 KB/s): about 1 s.
    let t = Instant::now();
    let (head, body) = send("GET", "/big", "x-cos-traffic-limit: 1638400\r\n", b"");
    let took = t.elapsed();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body == data, "bytes differ");
    assert!(took >= Duration::from_millis(800), "GET took {took:?}");
    assert!(took < Duration::from_secs(5), "GET took {took:?}");
}
