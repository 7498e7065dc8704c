//! The data dir's on-disk format (README "Integrity: scrub and fsck"): the
//! committed fixture `tests/fixtures/datadir-v1/`, written by format 1,
//! opens with the current build and reads back every object byte for byte
//! (so a format change must ship a migration, or this test fails), and a
//! data dir of a newer format is refused at start with advice.
//!
//! Regenerate the fixture with `scripts/make-datadir-fixture.sh` (runs
//! `generate_datadir_fixture` below); keep old fixtures when the format
//! changes.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use http::Method;
use localcos::config::{Config, ServeArgs};
use md5::{Digest, Md5};

use crate::common::{App, HOST, ID, KEY, R};

const VERSIONED_HOST: &str = "versioned-1250000000.cos.ap-guangzhou.myqcloud.com";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/datadir-v1")
}

/// Deterministic bytes (generator and test agree on them).
pub fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn config(dir: &Path) -> Config {
    let args = ServeArgs {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        secret_id: Some(ID.into()),
        secret_key: Some(KEY.into()),
        buckets: vec!["examplebucket".into(), "versioned".into()],
        log_level: Some("warn".into()),
        ..Default::default()
    };
    Config::from_parts(&args, Default::default()).unwrap()
}

async fn fs_app(dir: &Path) -> App {
    App {
        svc: localcos::testing::app(config(dir)).await.unwrap(),
    }
}

/// Copies the fixture into `to`, unpacking the gzipped index.
pub fn copy_fixture(to: &Path) {
    fn walk(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if path.is_dir() {
                walk(&path, &to.join(&name));
            } else if let Some(plain) = name.strip_suffix(".gz") {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
                    .read_to_end(&mut out)
                    .unwrap();
                std::fs::write(to.join(plain), out).unwrap();
            } else if name != "expected.json" && name != "README.md" {
                std::fs::copy(&path, to.join(&name)).unwrap();
            }
        }
    }
    walk(&fixture_dir(), to);
}

/// One object the fixture holds.
#[derive(serde::Serialize, serde::Deserialize, Debug)]
struct Expected {
    host: String,
    key: String,
    version_id: Option<String>,
    size: usize,
    md5: String,
    sse: bool,
}

fn md5_hex(b: &[u8]) -> String {
    hex::encode(Md5::digest(b))
}

/// Writes a fresh fixture into `$LOCALCOS_FIXTURE_OUT` (run by
/// `scripts/make-datadir-fixture.sh`).
#[tokio::test]
#[ignore = "writes the committed fixture; run scripts/make-datadir-fixture.sh"]
async fn generate_datadir_fixture() {
    let out = PathBuf::from(std::env::var("LOCALCOS_FIXTURE_OUT").expect("LOCALCOS_FIXTURE_OUT"));
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut expected = Vec::new();
    {
        let app = fs_app(dir).await;
        let put = |host: &str, key: &str, body: Vec<u8>, sse: bool| {
            let mut r = R::put(key, body.clone()).host(host);
            if sse {
                r = r.h("x-cos-server-side-encryption", "AES256");
            }
            let md5 = md5_hex(&body);
            let size = body.len();
            let (host, key) = (host.to_string(), key.to_string());
            let app = &app;
            async move {
                let resp = app.send(r).await;
                assert_eq!(resp.status, 200, "{}", resp.text());
                Expected {
                    host,
                    key,
                    version_id: resp.header("x-cos-version-id").map(str::to_string),
                    size,
                    md5,
                    sse,
                }
            }
        };
        expected.push(put(HOST, "hello.txt", b"hello, localcos\n".to_vec(), false).await);
        expected.push(put(HOST, "dir/nested key \u{fc}.bin", pattern(20_000, 1), false).await);
        expected.push(put(HOST, "empty", Vec::new(), false).await);
        expected.push(put(HOST, "sse.bin", pattern(70_000, 2), true).await);
        // Versioned bucket: two versions of one key, and a deleted key
        // (its version under a delete marker).
        let body = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
        let v = app
            .send(
                R::new(Method::PUT, "")
                    .raw_path("/")
                    .host(VERSIONED_HOST)
                    .q("versioning", "")
                    .with_body(body),
            )
            .await;
        assert_eq!(v.status, 200, "{}", v.text());
        expected.push(put(VERSIONED_HOST, "doc.txt", b"first version".to_vec(), false).await);
        expected.push(put(VERSIONED_HOST, "doc.txt", pattern(5_000, 3), false).await);
        expected.push(put(VERSIONED_HOST, "gone.txt", b"deleted later".to_vec(), false).await);
        let del = app
            .send(R::new(Method::DELETE, "gone.txt").host(VERSIONED_HOST))
            .await;
        assert_eq!(del.status, 204);
        // Multipart: two parts (a small minimum part size keeps the fixture small).
        let store = &app.svc.state.store;
        let template: localcos::storage::ObjectRecord = serde_json::from_value(
            serde_json::json!({"size": 0, "etag": "", "crc64": 0, "last_modified_ms": 0, "segments": []}),
        )
        .unwrap();
        let bucket = "examplebucket-1250000000";
        let up = store
            .create_upload_with(bucket, "multi.bin", template, false, Some(1))
            .await
            .unwrap();
        let parts = [pattern(30_000, 4), pattern(10_000, 5)];
        let mut listed = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let data = bytes::Bytes::from(p.clone());
            let body: localcos::storage::ByteStream =
                Box::pin(futures_util::stream::once(async move { Ok(data) }));
            let rec = store
                .upload_part(
                    bucket,
                    "multi.bin",
                    &up.upload_id,
                    i as u32 + 1,
                    body,
                    Default::default(),
                )
                .await
                .unwrap();
            listed.push(localcos::storage::multipart::CompletePart {
                part_number: i as u32 + 1,
                etag: rec.etag(),
            });
        }
        let rec = store
            .complete_upload(
                bucket,
                "multi.bin",
                &up.upload_id,
                listed,
                Default::default(),
            )
            .await
            .unwrap();
        assert!(rec.etag.ends_with("-2"));
        let whole = parts.concat();
        expected.push(Expected {
            host: HOST.into(),
            key: "multi.bin".into(),
            version_id: None,
            size: whole.len(),
            md5: md5_hex(&whole),
            sse: false,
        });
    }
    // The store is closed: copy it out, the index gzipped (redb files are
    // mostly empty pages).
    let _ = std::fs::remove_dir_all(&out);
    fn walk(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if path.is_dir() {
                if name != "tmp" {
                    walk(&path, &to.join(&name));
                }
            } else if name == "meta.redb" {
                let mut gz = flate2::write::GzEncoder::new(
                    std::fs::File::create(to.join("meta.redb.gz")).unwrap(),
                    flate2::Compression::best(),
                );
                gz.write_all(&std::fs::read(&path).unwrap()).unwrap();
                gz.finish().unwrap();
            } else {
                std::fs::copy(&path, to.join(&name)).unwrap();
            }
        }
    }
    walk(dir, &out);
    std::fs::write(
        out.join("expected.json"),
        serde_json::to_string_pretty(&expected).unwrap(),
    )
    .unwrap();
}

/// Every object of the format-1 fixture reads back with its bytes, ETag
/// and versions, through the current build; fsck and scrub find it clean.
#[tokio::test]
async fn datadir_v1_fixture_reads_back() {
    let expected: Vec<Expected> = serde_json::from_str(
        &std::fs::read_to_string(fixture_dir().join("expected.json")).unwrap(),
    )
    .unwrap();
    assert!(expected.len() >= 8, "fixture lists its objects");
    let work = tempfile::tempdir().unwrap();
    copy_fixture(work.path());
    let dir = work.path();
    {
        let app = fs_app(dir).await;
        for e in &expected {
            let mut r = R::get(&e.key).host(&e.host);
            if let Some(v) = &e.version_id {
                r = r.q("versionId", v);
            }
            let got = app.send(r).await;
            assert_eq!(
                got.status,
                200,
                "{} {:?}: {}",
                e.key,
                e.version_id,
                got.text()
            );
            assert_eq!(got.body.len(), e.size, "{}", e.key);
            assert_eq!(md5_hex(&got.body), e.md5, "{} bytes", e.key);
            assert_eq!(
                got.header("x-cos-server-side-encryption").is_some(),
                e.sse,
                "{}",
                e.key
            );
        }
        // The latest of doc.txt is its second version; gone.txt is a marker.
        let doc = app.send(R::get("doc.txt").host(VERSIONED_HOST)).await;
        assert_eq!(md5_hex(&doc.body), md5_hex(&pattern(5_000, 3)));
        let gone = app.send(R::get("gone.txt").host(VERSIONED_HOST)).await;
        gone.assert_error(404, "NoSuchKey");
        assert_eq!(gone.header("x-cos-delete-marker"), Some("true"));
        // The listing sees every key.
        let list = app.send(R::get("").raw_path("/")).await;
        for key in ["hello.txt", "empty", "sse.bin", "multi.bin"] {
            assert!(list.text().contains(&format!("<Key>{key}</Key>")), "{key}");
        }
        // And the data dir still takes writes.
        app.put("new-after-open", b"x").await;
    }
    assert!(
        std::fs::read_to_string(dir.join("FORMAT"))
            .unwrap()
            .contains("format = 1"),
        "FORMAT file in place"
    );
    let fsck = run_cli(&["fsck", "--data-dir", dir.to_str().unwrap()]);
    assert_eq!(fsck.0, 0, "fsck of the fixture: {}\n{}", fsck.1, fsck.2);
    assert!(fsck.1.contains("clean"), "{}", fsck.1);
    let scrub = run_cli(&[
        "scrub",
        "--data-dir",
        dir.to_str().unwrap(),
        "--secret-id",
        ID,
        "--secret-key",
        KEY,
    ]);
    assert_eq!(scrub.0, 0, "scrub of the fixture: {}\n{}", scrub.1, scrub.2);
    assert!(scrub.1.contains("0 corrupt, 0 unverifiable"), "{}", scrub.1);
}

/// `localcos <args>` → (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    run_cli_env(args, &[])
}

/// `run_cli` with `LOCALCOS_*` variables of the test's own in `env`.
pub fn run_cli_env(args: &[&str], env: &[(&str, &std::path::Path)]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_localcos"));
    cmd.args(args)
        .env("LOCALCOS_LOG_LEVEL", "warn")
        .env_remove("LOCALCOS_DATA_DIR")
        .env_remove("LOCALCOS_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A data dir stamped with a newer format is refused at start, by the
/// server and by the tools, with a message that says what to do; the data
/// dir is left as it was.
#[tokio::test]
async fn newer_format_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    {
        let app = fs_app(dir).await;
        app.put("k", b"v").await;
    }
    std::fs::write(dir.join("FORMAT"), "format = 99\n").unwrap();
    let err = localcos::testing::app(config(dir))
        .await
        .err()
        .expect("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("format 99") && msg.contains("newer") && msg.contains("downgrades"),
        "{msg}"
    );
    // The binary says so and exits non-zero.
    let serve = run_cli(&[
        "serve",
        "--data-dir",
        dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--secret-id",
        ID,
        "--secret-key",
        KEY,
    ]);
    assert_eq!(serve.0, 1, "{}", serve.2);
    assert!(serve.2.contains("format 99"), "{}", serve.2);
    let fsck = run_cli(&["fsck", "--data-dir", dir.to_str().unwrap()]);
    assert_eq!(fsck.0, 2);
    assert!(fsck.2.contains("format 99"), "{}", fsck.2);
    assert_eq!(
        std::fs::read_to_string(dir.join("FORMAT")).unwrap(),
        "format = 99\n",
        "untouched"
    );
    // Restoring the right version makes it open again.
    std::fs::write(dir.join("FORMAT"), "format = 1\n").unwrap();
    let app = fs_app(dir).await;
    assert_eq!(app.send(R::get("k")).await.body.as_ref(), b"v");
}
