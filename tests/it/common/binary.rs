//! Helpers for the tests that run the real `localcos` binary and talk to it
//! over raw sockets (crash.rs, process.rs, metrics.rs, keys.rs): starting
//! it, reading the listening address from the banner, and building request
//! targets.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Reads the first banner line of a server spawned with a piped stdout
/// (`localcos listening on http[s]://ADDR`) and returns ADDR. The rest of
/// stdout is drained in the background so the server never writes into a
/// full or closed pipe.
pub fn banner_addr(child: &mut Child) -> SocketAddr {
    let mut out = BufReader::new(child.stdout.take().expect("stdout piped"));
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let rest = line.trim().strip_prefix("localcos listening on ");
    rest.and_then(|r| r.split_once("://"))
        .and_then(|(_, addr)| addr.parse().ok())
        .unwrap_or_else(|| panic!("banner: {line:?}"))
}

/// Starts `localcos serve` on a free loopback port over the data dir `data`
/// with `bucket` created, the pair `id`/`key` as its credentials, warnings
/// only on (a discarded) stderr, and `extra` flags; returns the child and
/// its address.
pub fn serve(
    data: &Path,
    bucket: &str,
    (id, key): (&str, &str),
    extra: &[&str],
) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_localcos"))
        .args(["serve", "--listen", "127.0.0.1:0", "--bucket", bucket])
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .env("LOCALCOS_SECRET_ID", id)
        .env("LOCALCOS_SECRET_KEY", key)
        .env("LOCALCOS_LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn localcos");
    let addr = banner_addr(&mut child);
    (child, addr)
}

/// `/key` and the request target with `params` as the query (`name` alone
/// for an empty value; values must already be URL-safe), for hand-written
/// request lines: the path is what gets signed.
pub fn request_target(key: &str, params: &[(&str, &str)]) -> (String, String) {
    let path = format!("/{key}");
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.to_string()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    let target = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{}", query.join("&"))
    };
    (path, target)
}

#[test]
fn request_targets() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        ("k", &[], "/k"),
        ("a/b.txt", &[("uploads", "")], "/a/b.txt?uploads"),
        (
            "k",
            &[("partNumber", "2"), ("uploadId", "x-1")],
            "/k?partNumber=2&uploadId=x-1",
        ),
    ];
    for (key, params, want) in cases {
        let (path, target) = request_target(key, params);
        assert_eq!(path, format!("/{key}"));
        assert_eq!(&target, want);
    }
}
