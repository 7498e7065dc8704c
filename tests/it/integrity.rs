//! Integrity (README "Integrity: scrub and fsck"; NOTES 12): `localcos
//! scrub` finds damaged bytes (plain, multipart and encrypted objects),
//! marks them, and GET/Copy then refuse them with a COS XML error while
//! HEAD still answers; `localcos fsck [--repair]` checks the index against
//! the blob files; the background scrub of `serve --scrub-rate` finds
//! damage within a bounded time.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use http::Method;
use localcos::config::{Config, ServeArgs};
use md5::{Digest, Md5};

use crate::common::{sign, window, App, HOST, ID, KEY, R};
use crate::format::{pattern, run_cli, run_cli_env};

const BUCKET: &str = "examplebucket-1250000000";
/// SSE blob layout (storage::sse::chunked): header, 64 KiB chunks + tags.
const SSE_HEADER: u64 = 16;
const SSE_CHUNK: u64 = 64 * 1024 + 16;

fn args(dir: &Path) -> ServeArgs {
    ServeArgs {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        secret_id: Some(ID.into()),
        secret_key: Some(KEY.into()),
        buckets: vec!["examplebucket".into()],
        log_level: Some("warn".into()),
        ..Default::default()
    }
}

async fn fs_app(dir: &Path) -> App {
    let config = Config::from_parts(&args(dir), Default::default()).unwrap();
    App {
        svc: localcos::testing::app(config).await.unwrap(),
    }
}

fn blob_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("blobs").join(&id[30..]).join(id)
}

/// The blob files of `key`'s current record, in segment order.
async fn blobs_of(app: &App, key: &str) -> Vec<String> {
    let rec = app.svc.state.store.head_object(BUCKET, key).await.unwrap();
    rec.segments
        .iter()
        .map(|s| s.blob.as_str().to_string())
        .collect()
}

fn flip_byte(path: &Path, at: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    b[0] ^= 0x20;
    f.write_all_at(&b, at).unwrap();
}

fn md5_hex(b: &[u8]) -> String {
    hex::encode(Md5::digest(b))
}

/// A two-part multipart object of 30,000 + 10,000 bytes (small parts
/// through the store API: COS's 1 MiB minimum would only slow the test).
async fn put_multipart(app: &App, key: &str) -> Vec<u8> {
    let store = &app.svc.state.store;
    let template: localcos::storage::ObjectRecord = serde_json::from_value(
        serde_json::json!({"size": 0, "etag": "", "crc64": 0, "last_modified_ms": 0, "segments": []}),
    )
    .unwrap();
    let up = store
        .create_upload_with(BUCKET, key, template, false, Some(1))
        .await
        .unwrap();
    let parts = [pattern(30_000, 40), pattern(10_000, 41)];
    let mut listed = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let data = bytes::Bytes::from(p.clone());
        let body: localcos::storage::ByteStream =
            Box::pin(futures_util::stream::once(async move { Ok(data) }));
        let rec = store
            .upload_part(
                BUCKET,
                key,
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
    store
        .complete_upload(BUCKET, key, &up.upload_id, listed, Default::default())
        .await
        .unwrap();
    parts.concat()
}

fn scrub_cli(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let d = dir.to_str().unwrap();
    let mut args = vec![
        "scrub",
        "--data-dir",
        d,
        "--secret-id",
        ID,
        "--secret-key",
        KEY,
    ];
    args.extend_from_slice(extra);
    run_cli(&args)
}

fn fsck_cli(dir: &Path, repair: bool) -> (i32, String, String) {
    let d = dir.to_str().unwrap();
    let mut args = vec!["fsck", "--data-dir", d];
    if repair {
        args.push("--repair");
    }
    run_cli(&args)
}

/// Plain, multipart and SSE objects with a flipped byte each: scrub
/// reports and marks them (exit 1), GET and Copy refuse them with 500
/// InternalError and a message that says why, HEAD answers with
/// `x-localcos-integrity: corrupt`; an overwrite, a delete or a restored
/// blob makes them go away from the next scrub's findings.
#[tokio::test]
async fn scrub_finds_damage_and_get_refuses() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let good = pattern(50_000, 1);
    let bad = pattern(60_000, 2);
    let secret = pattern(200_000, 3);
    let (bad_blob, multi_blobs, secret_blob, multi);
    {
        let app = fs_app(dir).await;
        app.put("good", &good).await;
        app.put("bad", &bad).await;
        let put = app
            .send(R::put("secret", secret.clone()).h("x-cos-server-side-encryption", "AES256"))
            .await;
        assert_eq!(put.status, 200, "{}", put.text());
        multi = put_multipart(&app, "multi").await;
        bad_blob = blobs_of(&app, "bad").await.remove(0);
        secret_blob = blobs_of(&app, "secret").await.remove(0);
        multi_blobs = blobs_of(&app, "multi").await;
        assert_eq!(multi_blobs.len(), 2);
    }
    // A clean store scrubs clean.
    let (code, out, err) = scrub_cli(dir, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("checked 4 objects (350000 bytes)"), "{out}");
    assert!(out.contains("0 corrupt, 0 unverifiable"), "{out}");

    flip_byte(&blob_path(dir, &bad_blob), 1234);
    flip_byte(&blob_path(dir, &multi_blobs[1]), 5);
    let secret_at = SSE_HEADER + SSE_CHUNK + 10; // in the second chunk
    flip_byte(&blob_path(dir, &secret_blob), secret_at);

    // A dry run reports without marking.
    let (code, out, _) = scrub_cli(dir, &["--dry-run"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("0 newly marked"), "{out}");
    {
        let app = fs_app(dir).await;
        assert_eq!(app.send(R::get("bad")).await.status, 200, "not marked yet");
    }

    let (code, out, err) = scrub_cli(dir, &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("3 corrupt, 0 unverifiable; 3 newly marked"),
        "{out}"
    );
    let line = |key: &str| {
        out.lines()
            .find(|l| l.contains(&format!("CORRUPT     {BUCKET}/{key}:")))
            .unwrap_or_else(|| panic!("no line for {key}: {out}"))
            .to_string()
    };
    assert!(line("bad").contains("CRC-64 mismatch") && line("bad").contains(&bad_blob));
    assert!(
        line("multi").contains("CRC-64 mismatch"),
        "{}",
        line("multi")
    );
    assert!(
        line("secret").contains("failed authentication"),
        "{}",
        line("secret")
    );
    assert!(!out.contains(&format!("{BUCKET}/good")), "{out}");
    // The log has one warning per object, with bucket, key and blobs.
    assert!(
        err.contains("scrub: object is corrupt") && err.contains("bad") && err.contains(&bad_blob),
        "{err}"
    );

    {
        let app = fs_app(dir).await;
        for key in ["bad", "multi", "secret"] {
            let got = app.send(R::get(key)).await;
            got.assert_error(500, "InternalError");
            assert!(
                got.text().contains("failed an integrity check"),
                "{}",
                got.text()
            );
            // However little is asked for.
            let range = app.send(R::get(key).h("range", "bytes=0-0")).await;
            range.assert_error(500, "InternalError");
            // HEAD still answers, and says so.
            let head = app.send(R::new(Method::HEAD, key)).await;
            assert_eq!(head.status, 200);
            assert_eq!(head.header("x-localcos-integrity"), Some("corrupt"));
        }
        // Copy refuses a corrupt source (the copy would share the damage).
        let copy = app
            .send(R::put("copy", Vec::new()).h("x-cos-copy-source", &format!("{HOST}/bad")))
            .await;
        copy.assert_error(500, "InternalError");
        assert_eq!(app.send(R::get("copy")).await.status, 404);
        // Intact objects are untouched.
        let ok = app.send(R::get("good")).await;
        assert_eq!(ok.status, 200);
        assert!(ok.body[..] == good[..]);
        assert_eq!(
            app.send(R::new(Method::HEAD, "good"))
                .await
                .header("x-localcos-integrity"),
            None
        );
        // An overwrite replaces the damaged object; a delete removes one.
        app.put("bad", b"fresh").await;
        assert_eq!(app.send(R::get("bad")).await.body.as_ref(), b"fresh");
        assert_eq!(app.send(R::new(Method::DELETE, "multi")).await.status, 204);
    }
    let _ = multi;
    // The encrypted blob restored (as from a backup): the next pass clears the mark.
    flip_byte(&blob_path(dir, &secret_blob), secret_at);
    let (code, out, err) = scrub_cli(dir, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("0 corrupt") && out.contains("1 marks cleared"),
        "{out}"
    );
    let app = fs_app(dir).await;
    let got = app.send(R::get("secret")).await;
    assert_eq!(got.status, 200);
    assert_eq!(md5_hex(&got.body), md5_hex(&secret));
}

/// fsck: a truncated blob, a stray blob file, a tmp leftover and an upload
/// part whose blob vanished are reported (exit 1); `--repair` fixes them
/// (exit 0), a second fsck is clean, the truncated object is refused by
/// GET, and a file localcos never writes is left alone.
#[tokio::test]
async fn fsck_reports_and_repairs() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (short_blob, part_blob);
    {
        let app = fs_app(dir).await;
        app.put("short", &pattern(10_000, 5)).await;
        app.put("keep", &pattern(5_000, 6)).await;
        short_blob = blobs_of(&app, "short").await.remove(0);
        // An open upload with one part.
        let store = &app.svc.state.store;
        let template: localcos::storage::ObjectRecord = serde_json::from_value(
            serde_json::json!({"size": 0, "etag": "", "crc64": 0, "last_modified_ms": 0, "segments": []}),
        )
        .unwrap();
        let up = store
            .create_upload_with(BUCKET, "open", template, false, None)
            .await
            .unwrap();
        let data = bytes::Bytes::from(pattern(1000, 7));
        let body: localcos::storage::ByteStream =
            Box::pin(futures_util::stream::once(async move { Ok(data) }));
        part_blob = store
            .upload_part(BUCKET, "open", &up.upload_id, 1, body, Default::default())
            .await
            .unwrap()
            .blob
            .as_str()
            .to_string();
        // While the server holds the data dir, fsck refuses clearly.
        let (code, _, err) = fsck_cli(dir, false);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("locked by another process"), "{err}");
    }
    let (code, out, err) = fsck_cli(dir, false);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("clean: no problems found"), "{out}");
    assert!(
        out.contains("checked 2 records, 1 upload parts, 3 blob files"),
        "{out}"
    );

    // Damage.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(blob_path(dir, &short_blob))
        .unwrap();
    f.set_len(4_000).unwrap();
    drop(f);
    std::fs::remove_file(blob_path(dir, &part_blob)).unwrap();
    let stray = "0192a0b0c0d0e0f00112233445566ff";
    let stray = format!("{stray}f"); // 32 hex digits, shard "ff"
    std::fs::create_dir_all(dir.join("blobs/ff")).unwrap();
    std::fs::write(blob_path(dir, &stray), b"nobody points here").unwrap();
    std::fs::write(
        dir.join("tmp/0192a0b0c0d0e0f00112233445566aa0.part"),
        b"cut",
    )
    .unwrap();
    std::fs::write(dir.join("blobs/ff/notes.txt"), b"not ours").unwrap();

    let (code, out, err) = fsck_cli(dir, false);
    assert_eq!(code, 1, "{out}\n{err}");
    let wants: Vec<String> = vec![
        format!("PROBLEM  blob too short: {BUCKET}/short: blob {short_blob} holds 4000 bytes, the record needs 10000"),
        format!("PROBLEM  broken upload part: {BUCKET}/open upload"),
        format!("blob {part_blob} is missing"),
        format!("PROBLEM  orphan blob: blobs/ff/{stray} (18 bytes)"),
        "PROBLEM  tmp leftover:".into(),
        "note     not a localcos file, left alone:".into(),
        "run `localcos fsck --repair`".into(),
    ];
    for want in &wants {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(!out.contains(&format!("{BUCKET}/keep")), "{out}");

    let (code, out, err) = fsck_cli(dir, true);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("PROBLEM"), "{out}");
    assert!(out.contains("REPAIRED blob too short"), "{out}");
    assert!(!blob_path(dir, &stray).exists(), "orphan removed");
    assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
    assert!(
        dir.join("blobs/ff/notes.txt").exists(),
        "foreign file left alone"
    );

    let (code, out, err) = fsck_cli(dir, false);
    assert_eq!(code, 0, "second fsck: {out}\n{err}");
    assert!(out.contains("clean: no problems found"), "{out}");
    assert!(
        out.contains(&format!(
            "known    marked corrupt: {BUCKET}/short: fsck: blob {short_blob}"
        )),
        "{out}"
    );

    let app = fs_app(dir).await;
    app.send(R::get("short"))
        .await
        .assert_error(500, "InternalError");
    let keep = app.send(R::get("keep")).await;
    assert_eq!(keep.status, 200);
    assert_eq!(md5_hex(&keep.body), md5_hex(&pattern(5_000, 6)));
    // The broken part is gone from the upload; the upload itself stays.
    let parts = app
        .svc
        .state
        .store
        .meta()
        .stale_uploads(i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(parts.len(), 1, "the upload is kept");
}

fn signed_get(client: &reqwest::Client, endpoint: &str, key: &str) -> reqwest::RequestBuilder {
    let path = format!("/{key}");
    let auth = sign("GET", &path, &[], &[("host", HOST)], window());
    client
        .get(format!("{endpoint}{path}"))
        .header("host", HOST)
        .header("authorization", auth)
}

/// `serve --scrub-rate`: a byte flipped while the server runs is found by
/// the background scrub within a bounded time (rate 2 MB/s, 1 s pauses,
/// ~300 KB stored), after which GET answers the integrity error; the
/// counters for `/-/metrics` move.
#[test]
fn background_scrub_finds_damage_in_bounded_time() {
    use localcos::storage::scrub::STATS;
    use std::sync::atomic::Ordering;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let mut a = args(dir);
    a.scrub_rate = Some(2_000_000);
    a.scrub_pause_seconds = Some(1);
    let config = Config::from_parts(&a, Default::default()).unwrap();
    let scrub = config.scrub.expect("scrub configured");
    assert_eq!(
        (scrub.rate, scrub.pause),
        (2_000_000, Duration::from_secs(1))
    );
    let server = localcos::testing::TestServer::start_with(config).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let body = pattern(300_000, 9);
    rt.block_on(async {
        for key in ["a", "b"] {
            let auth = sign("PUT", &format!("/{key}"), &[], &[("host", HOST)], window());
            let st = client
                .put(format!("{}/{key}", server.endpoint()))
                .header("host", HOST)
                .header("authorization", auth)
                .body(body.clone())
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(st, 200);
        }
    });
    // Which blob is `b`'s: the newer of the two files.
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("blobs"))
        .unwrap()
        .flatten()
        .flat_map(|s| {
            std::fs::read_dir(s.path())
                .unwrap()
                .flatten()
                .map(|f| f.path())
        })
        .collect();
    files.sort_by_key(|p| p.file_name().unwrap().to_owned());
    assert_eq!(files.len(), 2);
    let found_before = STATS.corrupt_found.load(Ordering::Relaxed);
    flip_byte(&files[1], 77_777);
    let started = Instant::now();
    let status = rt.block_on(async {
        loop {
            let r = signed_get(&client, &server.endpoint(), "b")
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            if status == 500 {
                assert!(text.contains("<Code>InternalError</Code>"), "{text}");
                assert!(text.contains("failed an integrity check"), "{text}");
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the background scrub did not find the damage in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    assert_eq!(status, 500);
    assert!(STATS.corrupt_found.load(Ordering::Relaxed) > found_before);
    assert!(STATS.passes_completed.load(Ordering::Relaxed) >= 1);
    assert!(STATS.bytes_scanned.load(Ordering::Relaxed) >= 300_000);
    rt.block_on(async {
        let ok = signed_get(&client, &server.endpoint(), "a")
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.bytes().await.unwrap().len(), body.len());
    });
}

/// A damaged noncurrent version: scrub names the version and marks only
/// it; GET of that version is refused, the latest still reads.
#[tokio::test]
async fn scrub_marks_one_version() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (v1, blob1);
    {
        let app = fs_app(dir).await;
        let body = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
        let set = app
            .send(
                R::new(Method::PUT, "")
                    .raw_path("/")
                    .q("versioning", "")
                    .with_body(body),
            )
            .await;
        assert_eq!(set.status, 200, "{}", set.text());
        let first = app.put("doc", &pattern(9_000, 20)).await;
        v1 = first.header("x-cos-version-id").unwrap().to_string();
        blob1 = blobs_of(&app, "doc").await.remove(0);
        app.put("doc", &pattern(9_000, 21)).await;
    }
    flip_byte(&blob_path(dir, &blob1), 42);
    let (code, out, err) = scrub_cli(dir, &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "CORRUPT     {BUCKET}/doc (version {v1}): CRC-64 mismatch"
        )),
        "{out}"
    );
    assert!(
        out.contains("checked 2 objects") && out.contains("1 corrupt"),
        "{out}"
    );
    let app = fs_app(dir).await;
    app.send(R::get("doc").q("versionId", &v1))
        .await
        .assert_error(500, "InternalError");
    let latest = app.send(R::get("doc")).await;
    assert_eq!(latest.status, 200);
    assert_eq!(md5_hex(&latest.body), md5_hex(&pattern(9_000, 21)));
}

/// scrub and fsck find the data dir (and scrub the SSE-KMS keys) where
/// `serve` does: `--config` / `LOCALCOS_CONFIG`, `LOCALCOS_DATA_DIR`. An
/// SSE-KMS object's AES-GCM tags are checked with the configured key (and
/// are unverifiable without it); an SSE-C object, whose key localcos never
/// keeps, is reported as unverifiable, not silently counted as checked. A
/// mistyped data dir is refused and not created.
#[tokio::test]
async fn scrub_and_fsck_read_the_config_and_report_sse_c() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    let toml_text = format!(
        "data_dir = {:?}\n[sse]\n[[sse.kms_keys]]\nid = \"cmk-scrub\"\nkey = \"{}\"\n",
        dir.to_str().unwrap(),
        b64(&[0x33; 32])
    );
    let file = work.path().join("localcos.toml");
    std::fs::write(&file, &toml_text).unwrap();
    let customer_key = b64(&[0x44; 32]);
    let kms_blob;
    {
        let raw: localcos::config::RawConfig = toml::from_str(&toml_text).unwrap();
        let app = App {
            svc: localcos::testing::app(Config::from_parts(&args(&dir), raw).unwrap())
                .await
                .unwrap(),
        };
        app.put("plain", &pattern(1_000, 1)).await;
        let cases = [
            (
                "cos",
                vec![("x-cos-server-side-encryption", "AES256".to_string())],
            ),
            (
                "kms",
                vec![("x-cos-server-side-encryption", "cos/kms".to_string())],
            ),
            (
                "customer",
                vec![
                    (
                        "x-cos-server-side-encryption-customer-algorithm",
                        "AES256".to_string(),
                    ),
                    (
                        "x-cos-server-side-encryption-customer-key",
                        customer_key.clone(),
                    ),
                    (
                        "x-cos-server-side-encryption-customer-key-MD5",
                        b64(&Md5::digest([0x44; 32])),
                    ),
                ],
            ),
        ];
        for (key, headers) in cases {
            let mut r = R::put(key, pattern(100_000, 2));
            for (name, value) in &headers {
                r = r.h(name, value);
            }
            let put = app.send(r).await;
            assert_eq!(put.status, 200, "{key}: {}", put.text());
        }
        kms_blob = blobs_of(&app, "kms").await.remove(0);
    }
    let f = file.to_str().unwrap();
    let owner = ["--secret-id", ID, "--secret-key", KEY];

    // The config file names the data dir and the KMS key: every tag is
    // checked, the SSE-C object is named as unverifiable.
    let (code, out, err) = run_cli(&[&["scrub", "--config", f][..], &owner].concat());
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("checked 4 objects (301000 bytes)"), "{out}");
    assert!(out.contains("0 corrupt, 1 unverifiable"), "{out}");
    assert!(
        out.contains(&format!("UNVERIFIED  {BUCKET}/customer: SSE-C")),
        "{out}"
    );
    assert!(out.contains("customer's key"), "{out}");
    // Without the config the KMS key is missing: unverifiable too, and said so.
    let (code, out, err) = scrub_cli(&dir, &["--dry-run"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("0 corrupt, 2 unverifiable"), "{out}");
    assert!(
        out.contains(&format!(
            "UNVERIFIED  {BUCKET}/kms: the data key is not available"
        )),
        "{out}"
    );
    // A flipped byte in the KMS object's second chunk fails its tag.
    flip_byte(&blob_path(&dir, &kms_blob), SSE_HEADER + SSE_CHUNK + 7);
    let (code, out, err) = run_cli_env(
        &[&["scrub", "--dry-run"][..], &owner].concat(),
        &[("LOCALCOS_CONFIG", &file)],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("  CORRUPT     {BUCKET}/kms:"))
                && l.contains("failed authentication")),
        "{out}"
    );
    flip_byte(&blob_path(&dir, &kms_blob), SSE_HEADER + SSE_CHUNK + 7);

    // fsck: the data dir from the config file, from the environment.
    for (args, env) in [
        (vec!["fsck", "--config", f], vec![]),
        (vec!["fsck"], vec![("LOCALCOS_DATA_DIR", dir.as_path())]),
        (vec!["fsck"], vec![("LOCALCOS_CONFIG", file.as_path())]),
    ] {
        let (code, out, err) = run_cli_env(&args, &env);
        assert_eq!(code, 0, "{args:?}: {out}\n{err}");
        assert!(out.contains("clean: no problems found"), "{out}");
        assert!(out.contains(dir.to_str().unwrap()), "{out}");
    }

    // A data dir that is not one: refused, and nothing is created.
    let typo = work.path().join("dta");
    let t = typo.to_str().unwrap();
    for args in [
        vec!["fsck", "--data-dir", t],
        [&["scrub", "--data-dir", t][..], &owner].concat(),
    ] {
        let (code, out, err) = run_cli(&args);
        assert_eq!(code, 2, "{args:?}: {out}\n{err}");
        assert!(err.contains("not a localcos data dir"), "{err}");
        assert!(!typo.exists(), "{args:?} created {t}");
    }
    let (code, _, err) = run_cli(&["fsck", "--ephemeral"]);
    assert_eq!(code, 2);
    assert!(err.contains("needs a data dir"), "{err}");
}
