//! Lifecycle of the real process (http/limits.rs, http/shutdown.rs): the
//! binary is spawned with small limits and driven over raw sockets.
//! SIGTERM in the middle of streaming uploads and downloads, the shutdown
//! grace running out, 503 SlowDown past the connection and request limits,
//! slowloris heads and bodies, idle keep-alive connections, and request
//! heads too large for hyper's buffer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;

use crate::common::binary::{request_target, serve};
use crate::common::{sign_with, window};

const ID: &str = "AKIDprocesstest";
const KEY: &str = "process-test-key";
const HOST: &str = "proc-1250000000.cos.ap-guangzhou.myqcloud.com";

struct Proc {
    child: Child,
    addr: SocketAddr,
}

fn start(data: &Path, extra: &[&str]) -> Proc {
    let (child, addr) = serve(data, "proc", (ID, KEY), extra);
    Proc { child, addr }
}

impl Proc {
    fn sigterm(&self) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0);
    }

    /// Waits for the exit; `None` when it takes longer than `limit`.
    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let t = Instant::now();
        while t.elapsed() < limit {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn auth(method: &str, path: &str, params: &[(&str, &str)]) -> String {
    sign_with(ID, KEY, method, path, params, &[("host", HOST)], window())
}

/// A request head with a signature (`query` values URL-safe).
fn head(method: &str, key: &str, params: &[(&str, &str)], extra: &str) -> String {
    let (path, target) = request_target(key, params);
    format!(
        "{method} {target} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {}\r\n{extra}\r\n",
        auth(method, &path, params)
    )
}

struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

/// Reads one response (Content-Length framed) from `s`.
fn read_response(s: &mut TcpStream) -> std::io::Result<Resp> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let status = head[9..12].parse().unwrap();
    let mut r = Resp {
        status,
        head,
        body: Vec::new(),
    };
    let len: usize = r
        .header("content-length")
        .map(|v| v.parse().unwrap())
        .unwrap_or(0);
    r.body = vec![0; len];
    s.read_exact(&mut r.body)?;
    Ok(r)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// One whole request on a fresh connection.
fn request(
    addr: SocketAddr,
    method: &str,
    key: &str,
    params: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = connect(addr);
    let h = head(
        method,
        key,
        params,
        &format!("Content-Length: {}\r\n", body.len()),
    );
    s.write_all(h.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    read_response(&mut s).unwrap()
}

fn payload(seed: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2654435761)
                .wrapping_add(seed)
                .to_le_bytes()[1]
        })
        .collect()
}

fn tag(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("{name} in {xml}")) + open.len();
    let end = xml[start..].find(&format!("</{name}>")).unwrap() + start;
    xml[start..end].to_string()
}

/// Reads until the peer closes; Ok(()) when it did within `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> Result<Duration, String> {
    let t = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(t.elapsed()),
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("still open after {:?}", t.elapsed()))
            }
            Err(_) => return Ok(t.elapsed()), // reset
        }
    }
}

// ---------------------------------------------------------------------------
// SIGTERM

const BOUNDARY: &str = "----processFormBoundary";

fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
    let mut m = Hmac::<Sha1>::new_from_slice(key).unwrap();
    m.update(msg);
    hex::encode(m.finalize().into_bytes())
}

/// A COS-signed POST Object form (fields before `file`, then the file part
/// head); the file bytes and `closing` follow.
fn form_parts(key: &str) -> (String, &'static str) {
    let (start, end) = window();
    let key_time = format!("{start};{end}");
    let expiration =
        humantime::format_rfc3339_millis(std::time::SystemTime::now() + Duration::from_secs(600));
    let policy = format!(
        r#"{{"expiration":"{expiration}","conditions":[{{"q-sign-algorithm":"sha1"}},{{"q-ak":"{ID}"}},{{"q-sign-time":"{key_time}"}}]}}"#
    );
    let sign_key = hmac_hex(KEY.as_bytes(), key_time.as_bytes());
    let signature = hmac_hex(
        sign_key.as_bytes(),
        hex::encode(Sha1::digest(policy.as_bytes())).as_bytes(),
    );
    let policy = base64::engine::general_purpose::STANDARD.encode(policy);
    let mut out = String::new();
    for (k, v) in [
        ("key", key),
        ("policy", &policy),
        ("q-sign-algorithm", "sha1"),
        ("q-ak", ID),
        ("q-key-time", &key_time),
        ("q-signature", &signature),
    ] {
        out +=
            &format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n");
    }
    out += &format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    (out, "\r\n------processFormBoundary--\r\n")
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Upload {
    Put,
    Part,
    Append,
    Post,
}

/// How an upload started before SIGTERM ended.
struct Outcome {
    kind: Upload,
    key: String,
    upload_id: Option<String>,
    data: Vec<u8>,
    status: Option<u16>,
    body: String,
}

/// Sends `body` in `steps` pieces, `pause` apart, after the head.
#[allow(clippy::too_many_arguments)]
fn slow_upload(
    addr: SocketAddr,
    kind: Upload,
    key: String,
    upload_id: Option<String>,
    data: Vec<u8>,
    steps: usize,
    pause: Duration,
    started: std::sync::mpsc::Sender<()>,
) -> Outcome {
    let mut s = connect(addr);
    let (prefix, suffix, head_text) = match kind {
        Upload::Put => (
            String::new(),
            "",
            head(
                "PUT",
                &key,
                &[],
                &format!("Content-Length: {}\r\n", data.len()),
            ),
        ),
        Upload::Part => {
            let id = upload_id.clone().unwrap();
            (
                String::new(),
                "",
                head(
                    "PUT",
                    &key,
                    &[("partNumber", "1"), ("uploadId", &id)],
                    &format!("Content-Length: {}\r\n", data.len()),
                ),
            )
        }
        Upload::Append => (
            String::new(),
            "",
            head(
                "POST",
                &key,
                &[("append", ""), ("position", "0")],
                &format!("Content-Length: {}\r\n", data.len()),
            ),
        ),
        Upload::Post => {
            let (prefix, suffix) = form_parts(&key);
            let len = prefix.len() + data.len() + suffix.len();
            let h = format!("POST / HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {len}\r\n\r\n");
            (prefix, suffix, h)
        }
    };
    let mut out = Outcome {
        kind,
        key,
        upload_id,
        data: data.clone(),
        status: None,
        body: String::new(),
    };
    let sent = (|| -> std::io::Result<()> {
        s.write_all(head_text.as_bytes())?;
        s.write_all(prefix.as_bytes())?;
        let piece = data.len().div_ceil(steps);
        let mut chunks = data.chunks(piece);
        s.write_all(chunks.next().unwrap())?;
        let _ = started.send(());
        for c in chunks {
            std::thread::sleep(pause);
            s.write_all(c)?;
        }
        s.write_all(suffix.as_bytes())?;
        Ok(())
    })();
    let _ = started.send(());
    // Whatever happened to the writes, an answer may be there to read.
    let _ = sent;
    if let Ok(r) = read_response(&mut s) {
        out.status = Some(r.status);
        out.body = r.text();
    }
    out
}

/// Downloads `key`, reading `piece` bytes every `pause`; the bytes read and
/// whether the response was complete.
fn slow_download(
    addr: SocketAddr,
    key: &str,
    piece: usize,
    pause: Duration,
    started: std::sync::mpsc::Sender<()>,
) -> (Option<usize>, Vec<u8>) {
    let mut s = connect(addr);
    // A small receive buffer keeps the body in flight on the server.
    s.write_all(head("GET", key, &[], "").as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).unwrap_or(0) == 0 {
            let _ = started.send(());
            return (None, Vec::new());
        }
        buf.push(byte[0]);
    }
    let _ = started.send(());
    let head = String::from_utf8_lossy(&buf).to_string();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map(|v| v.trim().parse::<usize>().unwrap());
    let mut body = Vec::new();
    let mut chunk = vec![0u8; piece];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
        if Some(body.len()) == len {
            break;
        }
        std::thread::sleep(pause);
    }
    (len, body)
}

fn initiate(addr: SocketAddr, key: &str) -> String {
    let r = request(addr, "POST", key, &[("uploads", "")], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    tag(&r.text(), "UploadId")
}

/// SIGTERM with 20 streams in flight: 12 uploads (PUT, UploadPart, append,
/// POST form; some finish within the grace, some would take far longer) and
/// 8 downloads (likewise). Acknowledged uploads are there after a restart,
/// cut ones left nothing, completed downloads are whole, and the process
/// exits 0 within grace + a margin.
#[test]
fn sigterm_during_streaming_uploads_and_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let grace = 6u64;
    let mut p = start(dir.path(), &["--shutdown-grace", &grace.to_string()]);
    let addr = p.addr;
    // Objects to download.
    let big = payload(7, 3 << 20);
    for i in 0..8 {
        assert_eq!(
            request(addr, "PUT", &format!("dl/{i}"), &[], &big).status,
            200
        );
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let mut uploads = Vec::new();
    let kinds = [
        Upload::Put,
        Upload::Put,
        Upload::Put,
        Upload::Put,
        Upload::Part,
        Upload::Part,
        Upload::Part,
        Upload::Append,
        Upload::Append,
        Upload::Append,
        Upload::Post,
        Upload::Post,
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        let key = format!("up/{i}");
        let upload_id = (kind == Upload::Part).then(|| initiate(addr, &key));
        // Even: done ~1.5 s after SIGTERM (within the grace); odd: would
        // need 20 s (cut at the end of the grace).
        let fast = i % 2 == 0;
        let data = payload(i as u32, 512 * 1024 + i);
        let (steps, pause) = if fast {
            (8, Duration::from_millis(250))
        } else {
            (40, Duration::from_millis(500))
        };
        let tx = tx.clone();
        uploads.push(std::thread::spawn(move || {
            slow_upload(addr, kind, key, upload_id, data, steps, pause, tx)
        }));
    }
    let mut downloads = Vec::new();
    for i in 0..8 {
        let tx = tx.clone();
        // Even: 3 MiB at ~2.5 MiB/s; odd: at ~0.2 MiB/s (cut).
        let pause = Duration::from_millis(if i % 2 == 0 { 25 } else { 300 });
        downloads.push(std::thread::spawn(move || {
            slow_download(addr, &format!("dl/{i}"), 64 * 1024, pause, tx)
        }));
    }
    drop(tx);
    for _ in 0..20 {
        rx.recv_timeout(Duration::from_secs(20))
            .expect("stream started");
    }
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    p.sigterm();
    let status = p
        .wait_exit(Duration::from_secs(grace + 12))
        .expect("exits within grace + margin");
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        took >= Duration::from_secs(grace - 1),
        "waited for the grace: {took:?}"
    );

    let outcomes: Vec<Outcome> = uploads.into_iter().map(|t| t.join().unwrap()).collect();
    let dl: Vec<(Option<usize>, Vec<u8>)> =
        downloads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut completed = 0;
    for (i, (len, body)) in dl.iter().enumerate() {
        if *len == Some(body.len()) {
            completed += 1;
            assert_eq!(Md5::digest(body), Md5::digest(&big), "download {i} whole");
        } else {
            assert!(
                i % 2 == 1,
                "fast download {i} was cut at {} bytes",
                body.len()
            );
        }
    }
    assert!(completed >= 4, "the fast downloads completed");

    // Restart on the same data dir and look at every upload.
    let p = start(dir.path(), &[]);
    let mut acked = 0;
    for (i, o) in outcomes.iter().enumerate() {
        let ok = o.status == Some(200) || (o.kind == Upload::Post && o.status == Some(204));
        if i % 2 == 0 {
            assert!(
                ok,
                "fast upload {i} ({:?}) acknowledged: {:?} {}",
                o.kind, o.status, o.body
            );
        } else {
            assert!(
                !ok,
                "slow upload {i} ({:?}) was cut: {:?}",
                o.kind, o.status
            );
        }
        match o.kind {
            Upload::Part => {
                let id = o.upload_id.as_deref().unwrap();
                let r = request(p.addr, "GET", &o.key, &[("uploadId", id)], b"");
                assert_eq!(r.status, 200, "{}", r.text());
                let parts = r.text().matches("<Part>").count();
                if ok {
                    acked += 1;
                    assert_eq!(parts, 1, "upload {i}: acknowledged part listed");
                    let etag = tag(&r.text(), "ETag");
                    assert_eq!(
                        etag.replace("&quot;", "").replace('"', ""),
                        hex::encode(Md5::digest(&o.data)),
                        "upload {i}: part bytes"
                    );
                } else {
                    assert_eq!(
                        parts,
                        0,
                        "upload {i}: a cut part leaves no part: {}",
                        r.text()
                    );
                }
            }
            _ => {
                let r = request(p.addr, "GET", &o.key, &[], b"");
                if ok {
                    acked += 1;
                    assert_eq!(r.status, 200, "upload {i} ({:?}) is there", o.kind);
                    assert_eq!(
                        Md5::digest(&r.body),
                        Md5::digest(&o.data),
                        "upload {i} bytes"
                    );
                } else {
                    assert_eq!(
                        r.status, 404,
                        "cut upload {i} ({:?}) left no object",
                        o.kind
                    );
                }
            }
        }
    }
    assert_eq!(acked, 6);
    // Nothing half-written is listed either.
    let list = request(p.addr, "GET", "", &[("prefix", "up/")], b"").text();
    assert_eq!(list.matches("<Key>").count(), 4, "{list}");
}

/// The grace runs out on a body that never finishes: the server still exits
/// promptly (grace + the cut margin), with status 0, and stores nothing.
#[test]
fn grace_expiry_with_a_body_that_never_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = start(
        dir.path(),
        &[
            "--shutdown-grace",
            "2",
            "--request-timeout",
            "600",
            "--min-body-rate",
            "0",
        ],
    );
    let mut s = connect(p.addr);
    s.write_all(head("PUT", "stuck", &[], "Content-Length: 1048576\r\n").as_bytes())
        .unwrap();
    s.write_all(b"only a few bytes").unwrap();
    // And an idle keep-alive connection, which must not hold shutdown open.
    let mut idle = connect(p.addr);
    idle.write_all(head("GET", "", &[], "").as_bytes()).unwrap();
    assert_eq!(read_response(&mut idle).unwrap().status, 200);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    p.sigterm();
    // The idle connection is closed at once.
    closed_within(&mut idle, Duration::from_secs(1)).expect("idle connection closed at SIGTERM");
    let status = p
        .wait_exit(Duration::from_secs(2 + 8))
        .expect("exits promptly");
    assert!(status.success(), "{status:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(1800),
        "{:?}",
        t.elapsed()
    );
    // The stuck upload was answered (or its connection closed), not kept.
    let answer = read_response(&mut s);
    if let Ok(r) = answer {
        assert_ne!(r.status, 200);
    }
    let p = start(dir.path(), &[]);
    assert_eq!(request(p.addr, "GET", "stuck", &[], b"").status, 404);
}

/// HTTPS: a client stuck in the middle of its TLS handshake (a ClientHello
/// that never completes, well within the 10 s handshake timeout) must not
/// hold shutdown past the grace; it sent no request, so it is dropped at
/// once, like an idle connection, and the server exits well before the grace
/// ends. An established idle TLS connection is closed at SIGTERM too.
#[test]
fn a_tls_handshake_in_progress_does_not_hold_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = start(dir.path(), &["--tls-self-signed", "--shutdown-grace", "4"]);
    // A TLS record header announcing a 512-byte handshake message, and only
    // part of it.
    let mut stuck = connect(p.addr);
    stuck
        .write_all(&[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ])
        .unwrap();
    // The listener really speaks TLS: a plain request gets the 400.
    let r = request(p.addr, "GET", "", &[], b"");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("HTTPS"), "{}", r.text());
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    p.sigterm();
    let status = p
        .wait_exit(Duration::from_secs(15))
        .expect("the server exits");
    let took = t.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_secs(3),
        "shutdown took {took:?} with a 4 s grace: the handshake held it"
    );
    drop(stuck);
}

// ---------------------------------------------------------------------------
// Limits

fn assert_slow_down(r: &Resp) {
    assert_eq!(r.status, 503, "{}", r.text());
    let body = r.text();
    assert_eq!(tag(&body, "Code"), "SlowDown");
    assert!(!tag(&body, "Message").is_empty());
    assert!(!tag(&body, "Resource").is_empty());
    let id = r.header("x-cos-request-id").expect("x-cos-request-id");
    assert_eq!(tag(&body, "RequestId"), id);
}

#[test]
fn requests_past_max_concurrent_requests_get_slow_down() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), &["--max-concurrent-requests", "1"]);
    // One upload holds the only request slot.
    let mut holder = connect(p.addr);
    holder
        .write_all(head("PUT", "held", &[], "Content-Length: 10\r\n").as_bytes())
        .unwrap();
    holder.write_all(b"12345").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let r = request(p.addr, "GET", "held", &[], b"");
    assert_slow_down(&r);
    // HEAD: no body, but still the request id.
    let mut s = connect(p.addr);
    s.write_all(head("HEAD", "held", &[], "").as_bytes())
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("x-cos-request-id: "), "{text}");
    // Once the holder is done, requests go through again.
    holder.write_all(b"67890").unwrap();
    assert_eq!(read_response(&mut holder).unwrap().status, 200);
    let r = request(p.addr, "GET", "held", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"1234567890");
}

#[test]
fn connections_past_max_connections_get_slow_down_and_close() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), &["--max-connections", "2"]);
    let mut a = connect(p.addr);
    let mut b = connect(p.addr);
    for s in [&mut a, &mut b] {
        s.write_all(head("GET", "", &[], "").as_bytes()).unwrap();
        assert_eq!(read_response(s).unwrap().status, 200);
    }
    // The third connection is accepted, answered and closed.
    let mut c = connect(p.addr);
    c.write_all(head("GET", "", &[], "").as_bytes()).unwrap();
    let r = read_response(&mut c).unwrap();
    assert_slow_down(&r);
    closed_within(&mut c, Duration::from_secs(2)).expect("refused connection closed");
    // Closing one frees its slot.
    drop(a);
    std::thread::sleep(Duration::from_millis(200));
    let mut d = connect(p.addr);
    d.write_all(head("GET", "", &[], "").as_bytes()).unwrap();
    assert_eq!(read_response(&mut d).unwrap().status, 200);
}

#[test]
fn slowloris_heads_and_bodies_are_cut_at_the_request_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(
        dir.path(),
        &["--request-timeout", "2", "--idle-timeout", "30"],
    );

    // A head sent one byte every 200 ms.
    let mut s = connect(p.addr);
    let t = Instant::now();
    let text = head("GET", "", &[], "");
    let mut cut = false;
    for b in text.as_bytes() {
        if s.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        if t.elapsed() > Duration::from_secs(6) {
            break;
        }
    }
    if !cut {
        closed_within(&mut s, Duration::from_secs(1)).expect("slowloris head closed");
    }
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(4) && took >= Duration::from_millis(1800),
        "closed after {took:?}"
    );

    // A body at ~5 bytes/s (far below the 1 KiB/s minimum).
    let mut s = connect(p.addr);
    s.write_all(head("PUT", "slow", &[], "Content-Length: 1000\r\n").as_bytes())
        .unwrap();
    let t = Instant::now();
    let writer = {
        let mut w = s.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..100 {
                if w.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let r = read_response(&mut s).expect("an answer");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(tag(&r.text(), "Code"), "RequestTimeout");
    assert!(r.header("x-cos-request-id").is_some());
    closed_within(&mut s, Duration::from_secs(4)).expect("connection closed after the timeout");
    drop(s);
    writer.join().unwrap();
    assert_eq!(request(p.addr, "GET", "slow", &[], b"").status, 404);

    // A body at a normal pace is unaffected by the window.
    let data = payload(1, 64 * 1024);
    let mut s = connect(p.addr);
    s.write_all(
        head(
            "PUT",
            "paced",
            &[],
            &format!("Content-Length: {}\r\n", data.len()),
        )
        .as_bytes(),
    )
    .unwrap();
    for c in data.chunks(8 * 1024) {
        s.write_all(c).unwrap();
        std::thread::sleep(Duration::from_millis(400));
    }
    assert_eq!(read_response(&mut s).unwrap().status, 200);
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), &["--idle-timeout", "1"]);
    // Never sends a byte.
    let mut silent = connect(p.addr);
    // Sends one request, then stays idle.
    let mut s = connect(p.addr);
    s.write_all(head("GET", "", &[], "").as_bytes()).unwrap();
    assert_eq!(read_response(&mut s).unwrap().status, 200);
    let took = closed_within(&mut s, Duration::from_secs(3)).expect("idle keep-alive closed");
    assert!(took >= Duration::from_millis(700), "{took:?}");
    closed_within(&mut silent, Duration::from_secs(1)).expect("silent connection closed");
    // A connection in use is not idle: a download read slowly over 3 s.
    let data = payload(3, 4 << 20);
    assert_eq!(request(p.addr, "PUT", "big", &[], &data).status, 200);
    let (tx, _rx) = std::sync::mpsc::channel();
    let (len, body) = slow_download(p.addr, "big", 256 * 1024, Duration::from_millis(200), tx);
    assert_eq!(len, Some(data.len()));
    assert_eq!(Md5::digest(&body), Md5::digest(&data));
}

#[test]
fn heads_too_large_for_hyper_get_cos_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path(), &[]);
    let cases = [
        // One huge header (past hyper's ~400 KiB buffer).
        format!("x-cos-meta-big: {}\r\n", "a".repeat(600 * 1024)),
        // More headers than hyper parses.
        (0..150)
            .map(|i| format!("x-cos-meta-h{i}: v\r\n"))
            .collect(),
    ];
    for extra in cases {
        let mut s = connect(p.addr);
        let _ = s.write_all(head("GET", "k", &[], &extra).as_bytes());
        let r = read_response(&mut s).expect("an answer");
        assert_eq!(r.status, 400, "{}", r.head);
        let body = r.text();
        assert_eq!(tag(&body, "Code"), "RequestHeaderSectionTooLarge", "{body}");
        let id = r.header("x-cos-request-id").expect("request id");
        assert_eq!(tag(&body, "RequestId"), id);
        assert!(!tag(&body, "Resource").is_empty());
        assert_eq!(r.header("content-type").as_deref(), Some("application/xml"));
    }
    // Garbage instead of a request line.
    let mut s = connect(p.addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s).unwrap();
    assert_eq!(r.status, 400);
    assert!(r.header("x-cos-request-id").is_some(), "{}", r.head);
    assert_eq!(tag(&r.text(), "Code"), "InvalidRequest");
}
