//! An error answered before the request body was read (here NoSuchUpload
//! on Upload Part) reaches a client that writes its whole body before
//! reading, and the connection stays usable (src/http/linger.rs). Without
//! the drain the server closed the socket under the client's writes: EPIPE
//! / ECONNRESET instead of the COS error (cos-nodejs-sdk-v5 saw exactly that).
//! With `Expect: 100-continue` the early error closes the connection instead.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use localcos::TestServer;

use crate::common::{sign_with, window, HOST};

fn head(
    server: &TestServer,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    extra: &str,
    len: usize,
) -> String {
    let auth = sign_with(
        server.secret_id(),
        server.secret_key(),
        method,
        path,
        query,
        &[("host", HOST)],
        window(),
    );
    let qs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{method} {path}?{} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {auth}\r\nContent-Length: {len}\r\n{extra}\r\n",
        qs.join("&")
    )
}

/// Reads one response (status line, headers, Content-Length body).
fn read_response(r: &mut BufReader<TcpStream>) -> (String, String) {
    let (status, _, body) = read_response_with_head(r);
    (status, body)
}

/// [`read_response`], with the header lines (lower case) too.
fn read_response_with_head(r: &mut BufReader<TcpStream>) -> (String, String, String) {
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let mut len = 0usize;
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
        head.push_str(&lower);
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn early_error_reaches_a_client_still_sending_its_body() {
    let server = TestServer::start();
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    s.write_all(head(&server, "PUT", "/", &[], "", 0).as_bytes())
        .unwrap();
    let (status, _) = read_response(&mut r);
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");

    // 16 MiB, far more than the socket buffers hold: every write must get
    // through although the server answered after the headers.
    let q = [("partNumber", "1"), ("uploadId", "nope")];
    let size = 16 << 20;
    s.write_all(head(&server, "PUT", "/k", &q, "", size).as_bytes())
        .unwrap();
    let chunk = vec![7u8; 64 << 10];
    for _ in 0..size / chunk.len() {
        s.write_all(&chunk)
            .expect("the server stopped reading the body");
    }
    let (status, hdrs, body) = read_response_with_head(&mut r);
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    assert!(body.contains("<Code>NoSuchUpload</Code>"), "{body}");
    assert!(!hdrs.contains("connection: close"), "{hdrs}");

    // the same connection serves the next request
    s.write_all(head(&server, "PUT", "/k", &q, "Connection: close\r\n", 3).as_bytes())
        .unwrap();
    s.write_all(b"abc").unwrap();
    let (status, body) = read_response(&mut r);
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    assert!(body.contains("<Code>NoSuchUpload</Code>"), "{body}");
}

#[test]
fn expect_continue_gets_the_early_error_and_no_100() {
    let server = TestServer::start();
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    s.write_all(head(&server, "PUT", "/", &[], "", 0).as_bytes())
        .unwrap();
    let (status, _) = read_response(&mut r);
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let q = [("partNumber", "1"), ("uploadId", "nope")];
    s.write_all(
        head(
            &server,
            "PUT",
            "/k",
            &q,
            "Expect: 100-continue\r\n",
            1 << 20,
        )
        .as_bytes(),
    )
    .unwrap();
    // the final answer comes without a body being sent, and no 100 before it
    let (status, hdrs, body) = read_response_with_head(&mut r);
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    assert!(body.contains("<Code>NoSuchUpload</Code>"), "{body}");
    assert!(hdrs.contains("connection: close\r\n"), "{hdrs}");
    // ... and the connection closes: the client may skip the body and send
    // its next request at once, and reading the declared length as the body
    // would then swallow that request's first bytes (boto3's PutObject with
    // a failed If-Match got 400 "request head could not be parsed").
    let mut rest = Vec::new();
    r.read_to_end(&mut rest)
        .expect("the server closes the connection after the answer");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
}
