//! Crash safety of the embedded store: the real binary is killed with SIGKILL
//! in the middle of writes and restarted on the same data dir. What was
//! acknowledged is intact, nothing half-written is ever visible, and start-up
//! removes leftovers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use md5::{Digest, Md5};

use crate::common::binary::{request_target, serve};
use crate::common::{sign_with, window};

const ID: &str = "AKIDcrashtest";
const KEY: &str = "crash-test-key";
const HOST: &str = "crash-1250000000.cos.ap-guangzhou.myqcloud.com";

struct Proc {
    child: Child,
    addr: SocketAddr,
}

fn start(data: &Path) -> Proc {
    start_with(data, &[])
}

fn start_with(data: &Path, extra: &[&str]) -> Proc {
    let (child, addr) = serve(data, "crash", (ID, KEY), extra);
    Proc { child, addr }
}

impl Proc {
    fn kill9(mut self) {
        // SIGKILL: no graceful shutdown, no flush.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

fn request(addr: SocketAddr, method: &str, key: &str, body: &[u8]) -> (u16, Vec<u8>) {
    request_q(addr, method, key, None, body)
}

/// `request` with one query parameter (`name=value`, value URL-safe).
fn request_q(
    addr: SocketAddr,
    method: &str,
    key: &str,
    query: Option<(&str, &str)>,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let params: Vec<(&str, &str)> = query.into_iter().collect();
    request_qs(addr, method, key, &params, body)
}

/// `request` with query parameters (values URL-safe).
fn request_qs(
    addr: SocketAddr,
    method: &str,
    key: &str,
    params: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let (path, target) = request_target(key, params);
    let auth = sign_with(ID, KEY, method, &path, params, &[("host", HOST)], window());
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "{method} {target} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head")
        + 4;
    let status = std::str::from_utf8(&out[9..12]).unwrap().parse().unwrap();
    (status, out[split..].to_vec())
}

fn payload(version: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(31).wrapping_add(version) as u8)
        .collect()
}

fn blob_files(data: &Path) -> usize {
    walk(&data.join("blobs"))
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn kill_during_upload_keeps_the_old_object_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path());
    let v1 = payload(1, 1 << 20);
    assert_eq!(request(p.addr, "PUT", "k", &v1).0, 200);

    // Start a 64 MiB overwrite, send 8 MiB of it, then SIGKILL the server.
    let auth = sign_with(ID, KEY, "PUT", "/k", &[], &[("host", HOST)], window());
    let mut s = TcpStream::connect(p.addr).unwrap();
    write!(
        s,
        "PUT /k HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
        64 << 20
    )
    .unwrap();
    let chunk = payload(2, 1 << 20);
    for _ in 0..8 {
        s.write_all(&chunk).unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    p.kill9();
    drop(s);

    let p = start(dir.path());
    let (status, body) = request(p.addr, "GET", "k", &[]);
    assert_eq!(status, 200);
    assert_eq!(
        Md5::digest(&body),
        Md5::digest(&v1),
        "the acknowledged object is intact"
    );
    // Start-up removed the partial upload; only v1's blob remains.
    let tmp_left = std::fs::read_dir(dir.path().join("tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(tmp_left, 0, "tmp/ is empty after start-up");
    assert_eq!(blob_files(dir.path()), 1);
    p.kill9();
}

#[test]
fn kill_during_overwrite_storm_never_exposes_a_partial_object() {
    let dir = tempfile::tempdir().unwrap();
    let versions: Vec<Vec<u8>> = (0..40)
        .map(|v| payload(v, 256 * 1024 + v as usize))
        .collect();
    let digests: Vec<_> = versions.iter().map(Md5::digest).collect();
    let mut ever_acked = false;
    for round in 0..3u64 {
        let p = start(dir.path());
        let addr = p.addr;
        // Versions are written in ascending order within a round.
        let writer = {
            let versions = versions.clone();
            std::thread::spawn(move || {
                let mut acked = None;
                for (i, v) in versions.iter().enumerate() {
                    match std::panic::catch_unwind(|| request(addr, "PUT", "storm", v)) {
                        Ok((200, _)) => acked = Some(i),
                        _ => break,
                    }
                }
                acked
            })
        };
        std::thread::sleep(Duration::from_millis(30 + 40 * round));
        p.kill9();
        let acked = writer.join().unwrap();
        ever_acked |= acked.is_some();
        let p = start(dir.path());
        let (status, body) = request(p.addr, "GET", "storm", &[]);
        if ever_acked {
            assert_eq!(status, 200);
            let d = Md5::digest(&body);
            let which = digests
                .iter()
                .position(|x| *x == d)
                .expect("the object is one whole written version");
            if let Some(acked) = acked {
                assert!(
                    which >= acked,
                    "version {which} is older than the acknowledged {acked}"
                );
            }
        } else {
            assert!(status == 200 || status == 404);
        }
        p.kill9();
    }
}

/// The `<VersionId>`s of `GET /?versions`, newest first.
fn version_ids(addr: SocketAddr) -> Vec<String> {
    let (status, body) = request_q(addr, "GET", "", Some(("versions", "")), &[]);
    assert_eq!(status, 200);
    String::from_utf8(body)
        .unwrap()
        .split("<VersionId>")
        .skip(1)
        .map(|s| s.split("</VersionId>").next().unwrap().to_string())
        .collect()
}

#[test]
fn kill_during_versioned_writes_keeps_every_acknowledged_version() {
    let dir = tempfile::tempdir().unwrap();
    let bodies: Vec<Vec<u8>> = (0..30)
        .map(|v| payload(v, 128 * 1024 + v as usize))
        .collect();
    let digests: Vec<_> = bodies.iter().map(Md5::digest).collect();
    let p = start(dir.path());
    let cfg = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
    assert_eq!(
        request_q(p.addr, "PUT", "", Some(("versioning", "")), cfg).0,
        200
    );
    // Two acknowledged for sure, then a storm cut by the kill.
    for v in &bodies[..2] {
        assert_eq!(request(p.addr, "PUT", "v", v).0, 200);
    }
    let addr = p.addr;
    let writer = {
        let bodies = bodies.clone();
        std::thread::spawn(move || {
            let mut acked = 2usize;
            for v in &bodies[2..] {
                match std::panic::catch_unwind(|| request(addr, "PUT", "v", v)) {
                    Ok((200, _)) => acked += 1,
                    _ => break,
                }
            }
            acked
        })
    };
    std::thread::sleep(Duration::from_millis(150));
    p.kill9();
    let acked = writer.join().unwrap();

    let p = start(dir.path());
    let ids = version_ids(p.addr);
    assert!(
        ids.len() >= acked,
        "{} versions, {acked} acknowledged",
        ids.len()
    );
    // Every version is one whole body, newest first, and the latest is current.
    let mut last = usize::MAX;
    for id in &ids {
        let (status, body) = request_q(p.addr, "GET", "v", Some(("versionId", id)), &[]);
        assert_eq!(status, 200);
        let which = digests
            .iter()
            .position(|d| *d == Md5::digest(&body))
            .expect("a whole written body");
        assert!(which < last, "versions listed newest first");
        last = which;
    }
    if let Some(newest) = ids.first() {
        let (_, current) = request(p.addr, "GET", "v", &[]);
        let (_, by_id) = request_q(p.addr, "GET", "v", Some(("versionId", newest)), &[]);
        assert_eq!(current, by_id);
    }
    // Versioning survived the crash; the orphan sweep leaves one blob per version.
    let (_, cfg) = request_q(p.addr, "GET", "", Some(("versioning", "")), &[]);
    assert!(String::from_utf8_lossy(&cfg).contains("<Status>Enabled</Status>"));
    for _ in 0..100 {
        if blob_files(dir.path()) == ids.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(blob_files(dir.path()), ids.len());
    p.kill9();
}

fn between(text: &[u8], tag: &str) -> String {
    let t = String::from_utf8_lossy(text);
    t.split(&format!("<{tag}>"))
        .nth(1)
        .and_then(|s| s.split(&format!("</{tag}>")).next())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn kill_during_complete_shows_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let parts: Vec<Vec<u8>> = (0..24).map(|i| payload(100 + i, 1 << 20)).collect();
    let whole: Vec<u8> = parts.concat();
    let old = payload(7, 1000);
    for round in 0..4u64 {
        let p = start(dir.path());
        let key = format!("mp{round}");
        assert_eq!(request(p.addr, "PUT", &key, &old).0, 200);
        let (status, body) = request_qs(p.addr, "POST", &key, &[("uploads", "")], &[]);
        assert_eq!(status, 200);
        let id = between(&body, "UploadId");
        let mut list = String::from("<CompleteMultipartUpload>");
        for (i, part) in parts.iter().enumerate() {
            let n = (i + 1).to_string();
            let params = [("partNumber", n.as_str()), ("uploadId", id.as_str())];
            assert_eq!(request_qs(p.addr, "PUT", &key, &params, part).0, 200);
            let etag = format!("{:x}", Md5::digest(part));
            list.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
            ));
        }
        list.push_str("</CompleteMultipartUpload>");
        // Send Complete and kill the server a moment later (round 0: at once).
        let addr = p.addr;
        let (k2, id2, list2) = (key.clone(), id.clone(), list.clone());
        let completer = std::thread::spawn(move || {
            std::panic::catch_unwind(|| {
                request_qs(
                    addr,
                    "POST",
                    &k2,
                    &[("uploadId", id2.as_str())],
                    list2.as_bytes(),
                )
            })
            .ok()
            .map(|(s, _)| s)
        });
        std::thread::sleep(Duration::from_millis(round * 3));
        p.kill9();
        let acked = completer.join().unwrap() == Some(200);

        let p = start(dir.path());
        let (status, body) = request(p.addr, "GET", &key, &[]);
        assert_eq!(status, 200);
        if body.len() == old.len() {
            assert!(!acked, "an acknowledged Complete was lost");
            assert_eq!(body, old, "the old object is intact");
            // Not completed: the upload is still there and completes now.
            let (status, _) = request_qs(
                p.addr,
                "POST",
                &key,
                &[("uploadId", id.as_str())],
                list.as_bytes(),
            );
            assert_eq!(status, 200);
            let (_, body) = request(p.addr, "GET", &key, &[]);
            assert_eq!(Md5::digest(&body), Md5::digest(&whole));
        } else {
            assert_eq!(Md5::digest(&body), Md5::digest(&whole), "whole or nothing");
            let (status, _) = request_qs(p.addr, "GET", &key, &[("uploadId", id.as_str())], &[]);
            assert_eq!(status, 404, "a completed upload is gone");
        }
        p.kill9();
    }
    // Every part is referenced by exactly one object: 4 objects x 24 parts.
    let p = start(dir.path());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(blob_files(dir.path()), 4 * 24);
    p.kill9();
}

/// Not a crash, but the same real-process set-up: the abandoned-upload sweep
/// (`--multipart-expiry-seconds`) aborts old uploads and frees their parts.
#[test]
fn abandoned_uploads_are_aborted_and_freed() {
    let dir = tempfile::tempdir().unwrap();
    let p = start_with(dir.path(), &["--multipart-expiry-seconds", "1"]);
    let (status, body) = request_qs(p.addr, "POST", "old", &[("uploads", "")], &[]);
    assert_eq!(status, 200);
    let id = between(&body, "UploadId");
    let params = [("partNumber", "1"), ("uploadId", id.as_str())];
    assert_eq!(
        request_qs(p.addr, "PUT", "old", &params, &payload(1, 5000)).0,
        200
    );
    assert_eq!(blob_files(dir.path()), 1);
    // The sweep runs every second; the upload is older than 1 s after ~2 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, listing) = request_qs(p.addr, "GET", "", &[("uploads", "")], &[]);
        if !String::from_utf8_lossy(&listing).contains("<Upload>") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "upload never swept");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        request_qs(p.addr, "GET", "old", &[("uploadId", id.as_str())], &[]).0,
        404
    );
    assert_eq!(blob_files(dir.path()), 0, "the part's blob is freed");
    p.kill9();
}
