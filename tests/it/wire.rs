//! What goes over the socket: exact header spelling (spec cos.md §6A.13,
//! NOTES 1), absolute-form targets, HEAD and 304 framing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use localcos::TestServer;

use crate::common::{sign_with, window, HOST};

fn raw(server: &TestServer, request: &str) -> String {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn signed(server: &TestServer, method: &str, path: &str, extra: &str, body: &str) -> String {
    let auth = sign_with(
        server.secret_id(),
        server.secret_key(),
        method,
        path,
        &[],
        &[("host", HOST)],
        window(),
    );
    format!("{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}", body.len())
}

#[test]
fn header_names_are_spelled_as_cos_does() {
    let server = TestServer::start();
    let put_bucket = raw(&server, &signed(&server, "PUT", "/", "", ""));
    assert!(put_bucket.starts_with("HTTP/1.1 200"), "{put_bucket}");
    let put = raw(
        &server,
        &signed(&server, "PUT", "/k", "x-cos-meta-Color: blue\r\n", "hello"),
    );
    assert!(put.starts_with("HTTP/1.1 200"), "{put}");
    let get = raw(&server, &signed(&server, "GET", "/k", "", ""));
    for line in [
        "\r\nETag: \"5d41402abc4b2a76b9719d911017c592\"\r\n",
        "\r\nContent-Length: 5\r\n",
        "\r\nLast-Modified: ",
        "\r\nContent-Type: ",
        "\r\nAccept-Ranges: bytes\r\n",
        "\r\nx-cos-request-id: ",
        "\r\nx-cos-hash-crc64ecma: ",
        "\r\nx-cos-meta-color: blue\r\n",
        "\r\nServer: tencent-cos\r\n",
        "\r\nDate: ",
    ] {
        assert!(get.contains(line), "missing {line:?} in\n{get}");
    }
    assert!(get.ends_with("\r\n\r\nhello"), "{get}");
    // Errors too.
    let err = raw(&server, &signed(&server, "GET", "/missing", "", ""));
    assert!(err.starts_with("HTTP/1.1 404"), "{err}");
    assert!(
        err.contains("\r\nContent-Type: application/xml\r\n")
            && err.contains("\r\nx-cos-request-id: "),
        "{err}"
    );
}

#[test]
fn absolute_form_head_and_not_modified() {
    let server = TestServer::start();
    raw(&server, &signed(&server, "PUT", "/", "", ""));
    raw(&server, &signed(&server, "PUT", "/k", "", "0123456789"));
    // Proxy mode: the authority names the bucket.
    let auth = sign_with(
        server.secret_id(),
        server.secret_key(),
        "GET",
        "/k",
        &[],
        &[("host", HOST)],
        window(),
    );
    let abs = raw(&server, &format!("GET http://{HOST}/k HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"));
    assert!(
        abs.starts_with("HTTP/1.1 200") && abs.ends_with("0123456789"),
        "{abs}"
    );
    let head = raw(&server, &signed(&server, "HEAD", "/k", "", ""));
    assert!(
        head.starts_with("HTTP/1.1 200")
            && head.contains("\r\nContent-Length: 10\r\n")
            && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    let inm = raw(
        &server,
        &signed(
            &server,
            "GET",
            "/k",
            "If-None-Match: \"781e5e245d69b566979b86e28d23f2c7\"\r\n",
            "",
        ),
    );
    assert!(
        inm.starts_with("HTTP/1.1 304")
            && inm.contains("\r\nContent-Length: 0\r\n")
            && inm.contains("\r\nETag: "),
        "{inm}"
    );
}

/// Reads one HTTP/1.1 response with a Content-Length body from `s`.
fn read_response(s: &mut TcpStream) -> (String, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (head, body)
}

#[test]
fn large_bodies_on_one_keep_alive_connection_are_exact() {
    // Large GETs go out with sendfile (http/sendfile.rs); on one connection
    // the placeholder queue must stay in step across responses.
    let dir = tempfile::tempdir().unwrap();
    let mut config = localcos::config::Config::for_tests("AKIDwire", "wire-key");
    config.storage = localcos::config::StorageMode::Dir(dir.path().to_path_buf());
    let server = TestServer::start_with(config).unwrap();
    raw(&server, &signed(&server, "PUT", "/", "", ""));
    let data: Vec<u8> = (0..(5 * 1024 * 1024 + 17))
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = sign_with(
        server.secret_id(),
        server.secret_key(),
        "PUT",
        "/big",
        &[],
        &[("host", HOST)],
        window(),
    );
    write!(
        s,
        "PUT /big HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
        data.len()
    )
    .unwrap();
    s.write_all(&data).unwrap();
    let (head, _) = read_response(&mut s);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let ranges: [(&str, std::ops::Range<usize>); 5] = [
        ("", 0..data.len()),
        ("Range: bytes=1048575-3145729\r\n", 1048575..3145730),
        ("Range: bytes=-100000\r\n", data.len() - 100000..data.len()),
        ("Range: bytes=0-9\r\n", 0..10),
        ("", 0..data.len()),
    ];
    for (extra, want) in ranges {
        let auth = sign_with(
            server.secret_id(),
            server.secret_key(),
            "GET",
            "/big",
            &[],
            &[("host", HOST)],
            window(),
        );
        write!(
            s,
            "GET /big HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {auth}\r\n{extra}\r\n"
        )
        .unwrap();
        let (head, body) = read_response(&mut s);
        assert!(head.starts_with("HTTP/1.1 20"), "{head}");
        assert_eq!(body.len(), want.len(), "{extra}");
        assert!(body == data[want.clone()], "bytes differ for {extra:?}");
    }
}
