//! Server-side encryption through the whole pipeline on the embedded (file)
//! store: SSE-COS, SSE-KMS and SSE-C round trips and errors, range reads
//! across chunk boundaries, copies between kinds, what lies on disk, and a
//! flipped byte in a blob file (spec cos.md §5, NOTES 9 and 12).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use http::Method;
use http_body_util::BodyExt;
use localcos::config::{Config, RawConfig, ServeArgs};
use md5::{Digest, Md5};

use crate::common::{sign, window, App, HOST, ID, KEY, R};

const CHUNK: usize = 64 * 1024;
/// Blob header + one GCM tag per chunk (storage::sse::chunked).
const HEADER: usize = 16;
const TAG: usize = 16;

/// The doc example SSE-C key (cos.md §5) and a second one.
const C_KEY: &str = "MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY=";
const C_MD5: &str = "U5L61r7jcwdNvT7frmUG8g==";
const C_KEY2: &str = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=";

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn key_md5(key_b64: &str) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(key_b64)
        .unwrap();
    b64(&Md5::digest(raw))
}

fn crc64(data: &[u8]) -> u64 {
    let mut d = crc64fast::Digest::new();
    d.write(data);
    d.sum64()
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// Distinctive, non-repeating bytes (so a plaintext window is findable).
fn payload(n: usize, seed: u64) -> Vec<u8> {
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
        buckets: vec!["examplebucket".into()],
        log_level: Some("warn".into()),
        ..Default::default()
    };
    let raw: RawConfig = toml::from_str(&format!(
        "[sse]\n\
         [[sse.kms_keys]]\nid = \"cmk-test\"\nkey = \"{}\"\n\
         [[sse.kms_keys]]\nid = \"cmk-off\"\nkey = \"{}\"\nenabled = false\n",
        b64(&[0x11; 32]),
        b64(&[0x22; 32])
    ))
    .unwrap();
    Config::from_parts(&args, raw).unwrap()
}

async fn fs_app(dir: &Path) -> App {
    App {
        svc: localcos::testing::app(config(dir)).await.unwrap(),
    }
}

fn ssec(r: R, key: &str) -> R {
    r.h("x-cos-server-side-encryption-customer-algorithm", "AES256")
        .h("x-cos-server-side-encryption-customer-key", key)
        .h(
            "x-cos-server-side-encryption-customer-key-MD5",
            &key_md5(key),
        )
}

fn copy_ssec(r: R, key: &str) -> R {
    r.h(
        "x-cos-copy-source-server-side-encryption-customer-algorithm",
        "AES256",
    )
    .h("x-cos-copy-source-server-side-encryption-customer-key", key)
    .h(
        "x-cos-copy-source-server-side-encryption-customer-key-MD5",
        &key_md5(key),
    )
}

fn copy(dst: &str, src: &str) -> R {
    R::put(dst, Vec::new()).h("x-cos-copy-source", &format!("{HOST}/{src}"))
}

/// Every blob file under the data dir.
fn blob_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(shards) = std::fs::read_dir(dir.join("blobs")) else {
        return out;
    };
    for shard in shards.flatten() {
        for f in std::fs::read_dir(shard.path()).unwrap().flatten() {
            out.push(f.path());
        }
    }
    out.sort();
    out
}

/// Whether any blob file contains this window of bytes.
fn on_disk(dir: &Path, needle: &[u8]) -> bool {
    blob_files(dir).iter().any(|p| {
        let data = std::fs::read(p).unwrap();
        data.windows(needle.len()).any(|w| w == needle)
    })
}

fn sealed_len(n: usize) -> u64 {
    (HEADER + n + TAG * n.div_ceil(CHUNK)) as u64
}

/// The blob file holding an object of `n` bytes (by its sealed size).
fn blob_of_size(dir: &Path, size: u64) -> PathBuf {
    let found: Vec<PathBuf> = blob_files(dir)
        .into_iter()
        .filter(|p| std::fs::metadata(p).unwrap().len() == size)
        .collect();
    assert_eq!(found.len(), 1, "one blob of {size} bytes: {found:?}");
    found.into_iter().next().unwrap()
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
    b[0] ^= 0x40;
    f.write_all_at(&b, at).unwrap();
    f.sync_all().unwrap();
}

#[tokio::test]
async fn sse_cos_round_trip_encrypted_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let app = fs_app(dir.path()).await;
    let body = payload(3 * CHUNK + 1234, 1);
    let put = app
        .send(R::put("cos.bin", body.clone()).h("x-cos-server-side-encryption", "AES256"))
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.header("x-cos-server-side-encryption"), Some("AES256"));
    // ETag and CRC-64 describe the plaintext.
    let etag = format!("\"{}\"", md5_hex(&body));
    assert_eq!(put.header("etag"), Some(etag.as_str()));
    let crc = crc64(&body).to_string();
    assert_eq!(put.header("x-cos-hash-crc64ecma"), Some(crc.as_str()));
    assert_eq!(
        put.header("x-cos-server-side-encryption-cos-kms-key-id"),
        None
    );

    let get = app.send(R::get("cos.bin")).await;
    assert_eq!(get.status, 200);
    assert_eq!(get.body.len(), body.len());
    assert!(get.body[..] == body[..], "plaintext back");
    assert_eq!(get.header("x-cos-server-side-encryption"), Some("AES256"));
    assert_eq!(get.header("etag"), Some(etag.as_str()));
    assert_eq!(get.header("x-cos-hash-crc64ecma"), Some(crc.as_str()));
    let len = body.len().to_string();
    assert_eq!(get.header("content-length"), Some(len.as_str()));

    let head = app.send(R::new(Method::HEAD, "cos.bin")).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(len.as_str()));
    assert_eq!(head.header("x-cos-server-side-encryption"), Some("AES256"));

    // On disk: one blob, of the sealed size, holding no plaintext window.
    blob_of_size(dir.path(), sealed_len(body.len()));
    for at in [0, CHUNK - 8, 2 * CHUNK + 77, body.len() - 32] {
        assert!(
            !on_disk(dir.path(), &body[at..at + 32]),
            "plaintext at {at} on disk"
        );
    }
    // A plain object is stored as is (the check above can fail).
    let plain = payload(1000, 2);
    app.put("plain.bin", &plain).await;
    assert!(on_disk(dir.path(), &plain[100..132]));
    let get = app.send(R::get("plain.bin")).await;
    assert_eq!(get.header("x-cos-server-side-encryption"), None);

    // An empty encrypted object.
    let put = app
        .send(R::put("empty", Vec::new()).h("x-cos-server-side-encryption", "AES256"))
        .await;
    assert_eq!(put.status, 200);
    let get = app.send(R::get("empty")).await;
    assert_eq!((get.status, get.body.len()), (200, 0));
    assert_eq!(get.header("x-cos-server-side-encryption"), Some("AES256"));
}

#[tokio::test]
async fn sse_kms_keys_from_config() {
    let dir = tempfile::tempdir().unwrap();
    let app = fs_app(dir.path()).await;
    let body = payload(70_000, 3);
    // (request key id, expected status, expected code or echoed id)
    let cases: &[(Option<&str>, u16, &str)] = &[
        (Some("cmk-test"), 200, "cmk-test"),
        (None, 200, "cmk-test"),
        (Some("no-such-key"), 400, "KmsKeyNotExist"),
        (Some("cmk-off"), 400, "KmsKeyDisabled"),
    ];
    for (i, (id, status, want)) in cases.iter().enumerate() {
        let key = format!("kms-{i}");
        let mut r = R::put(&key, body.clone()).h("x-cos-server-side-encryption", "cos/kms");
        if let Some(id) = id {
            r = r.h("x-cos-server-side-encryption-cos-kms-key-id", id);
        }
        let put = app.send(r).await;
        if *status != 200 {
            put.assert_error(*status, want);
            let get = app.send(R::get(&key)).await;
            get.assert_error(404, "NoSuchKey");
            continue;
        }
        assert_eq!(put.status, 200, "{}", put.text());
        assert_eq!(put.header("x-cos-server-side-encryption"), Some("cos/kms"));
        assert_eq!(
            put.header("x-cos-server-side-encryption-cos-kms-key-id"),
            Some(*want)
        );
        for method in [Method::GET, Method::HEAD] {
            let got = app.send(R::new(method.clone(), &key)).await;
            assert_eq!(got.status, 200, "{method}");
            assert_eq!(got.header("x-cos-server-side-encryption"), Some("cos/kms"));
            assert_eq!(
                got.header("x-cos-server-side-encryption-cos-kms-key-id"),
                Some(*want)
            );
            if method == Method::GET {
                assert!(got.body[..] == body[..]);
            }
        }
    }
    assert!(!on_disk(dir.path(), &body[5000..5032]));
    // Context must be base64 JSON; a KMS key id needs cos/kms.
    let bad_ctx = app
        .send(
            R::put("ctx", b"x".to_vec())
                .h("x-cos-server-side-encryption", "cos/kms")
                .h("x-cos-server-side-encryption-context", "not-json"),
        )
        .await;
    bad_ctx.assert_error(400, "InvalidArgument");
    let ctx = b64(br#"{"project":"x"}"#);
    let good_ctx = app
        .send(
            R::put("ctx", b"x".to_vec())
                .h("x-cos-server-side-encryption", "cos/kms")
                .h("x-cos-server-side-encryption-context", &ctx),
        )
        .await;
    assert_eq!(good_ctx.status, 200, "{}", good_ctx.text());
    let unsupported = app
        .send(R::put("sm4", b"x".to_vec()).h("x-cos-server-side-encryption", "SM4"))
        .await;
    unsupported.assert_error(400, "SSEContentNotSupported");
}

#[tokio::test]
async fn sse_c_keys_on_every_read() {
    let dir = tempfile::tempdir().unwrap();
    let app = fs_app(dir.path()).await;
    let body = payload(2 * CHUNK + 10, 4);
    let put = app.send(ssec(R::put("c.bin", body.clone()), C_KEY)).await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(
        put.header("x-cos-server-side-encryption-customer-algorithm"),
        Some("AES256")
    );
    assert_eq!(
        put.header("x-cos-server-side-encryption-customer-key-md5"),
        Some(C_MD5)
    );
    assert_eq!(put.header("x-cos-server-side-encryption"), None);
    assert_eq!(
        put.header("etag"),
        Some(format!("\"{}\"", md5_hex(&body)).as_str())
    );
    assert!(!on_disk(dir.path(), &body[1000..1032]));
    // The key never reaches the disk; its MD5 (in the index) may.
    let raw_key = base64::engine::general_purpose::STANDARD
        .decode(C_KEY)
        .unwrap();
    assert!(!on_disk(dir.path(), &raw_key));
    let index = std::fs::read(dir.path().join("meta.redb")).unwrap();
    assert!(!index.windows(raw_key.len()).any(|w| w == &raw_key[..]));
    assert!(!index.windows(C_KEY.len()).any(|w| w == C_KEY.as_bytes()));

    // With the key: the bytes and the echo headers (never the key).
    let get = app.send(ssec(R::get("c.bin"), C_KEY)).await;
    assert_eq!(get.status, 200, "{}", get.text());
    assert!(get.body[..] == body[..]);
    assert_eq!(
        get.header("x-cos-server-side-encryption-customer-key-md5"),
        Some(C_MD5)
    );
    assert_eq!(
        get.header("x-cos-server-side-encryption-customer-key"),
        None
    );
    let ranged = app
        .send(ssec(R::get("c.bin").h("range", "bytes=65530-65545"), C_KEY))
        .await;
    assert_eq!(ranged.status, 206);
    assert!(ranged.body[..] == body[65530..65546]);

    // Without / wrong / malformed keys: the documented errors, no bytes.
    let other_md5 = key_md5(C_KEY2);
    let cases: Vec<(R, u16, &str)> = vec![
        (R::get("c.bin"), 400, "SsecDecryptHeaderInvalid"),
        (
            R::get("c.bin").h("x-cos-server-side-encryption-customer-algorithm", "AES256"),
            400,
            "SsecDecryptHeaderInvalid",
        ),
        (ssec(R::get("c.bin"), C_KEY2), 403, "AccessDenied"),
        (
            R::get("c.bin")
                .h("x-cos-server-side-encryption-customer-algorithm", "AES256")
                .h("x-cos-server-side-encryption-customer-key", C_KEY)
                .h("x-cos-server-side-encryption-customer-key-MD5", &other_md5),
            400,
            "InvalidArgument",
        ),
        (
            R::get("c.bin")
                .h("x-cos-server-side-encryption-customer-algorithm", "AES256")
                .h("x-cos-server-side-encryption-customer-key", "MDEy")
                .h("x-cos-server-side-encryption-customer-key-MD5", C_MD5),
            400,
            "InvalidArgument",
        ),
        // SSE-C comes before conditionals (§4.4): no 304 without the key.
        (
            R::get("c.bin").h("if-none-match", &format!("\"{}\"", md5_hex(&body))),
            400,
            "SsecDecryptHeaderInvalid",
        ),
        (
            R::get("c.bin").h("range", "bytes=0-9"),
            400,
            "SsecDecryptHeaderInvalid",
        ),
    ];
    for (r, status, code) in cases {
        let got = app.send(r).await;
        got.assert_error(status, code);
        assert!(
            !got.body.windows(32).any(|w| w == &body[..32]),
            "no object bytes"
        );
    }
    // HEAD: the same checks, headers only.
    let head = app.send(R::new(Method::HEAD, "c.bin")).await;
    assert_eq!((head.status, head.body.len()), (400, 0));
    let head = app.send(ssec(R::new(Method::HEAD, "c.bin"), C_KEY2)).await;
    assert_eq!(head.status, 403);
    let head = app.send(ssec(R::new(Method::HEAD, "c.bin"), C_KEY)).await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("x-cos-server-side-encryption-customer-algorithm"),
        Some("AES256")
    );
    let len = body.len().to_string();
    assert_eq!(head.header("content-length"), Some(len.as_str()));
    // SSE-C headers on an object that is not SSE-C.
    app.put("plain", b"plain bytes").await;
    let got = app.send(ssec(R::get("plain"), C_KEY)).await;
    got.assert_error(400, "SSEHeaderNotAllowed");
    // SSE-C cannot be combined with x-cos-server-side-encryption.
    let both = app
        .send(
            ssec(R::put("both", b"x".to_vec()), C_KEY).h("x-cos-server-side-encryption", "AES256"),
        )
        .await;
    both.assert_error(400, "InvalidArgument");
    // An overwrite with another key: only the new key opens it.
    let put = app
        .send(ssec(R::put("c.bin", b"v2".to_vec()), C_KEY2))
        .await;
    assert_eq!(put.status, 200);
    app.send(ssec(R::get("c.bin"), C_KEY))
        .await
        .assert_error(403, "AccessDenied");
    let got = app.send(ssec(R::get("c.bin"), C_KEY2)).await;
    assert_eq!(&got.body[..], b"v2");
}

#[tokio::test]
async fn range_reads_across_chunk_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let app = fs_app(dir.path()).await;
    let n = 3 * CHUNK + 100;
    let body = payload(n, 5);
    let put = app
        .send(R::put("r.bin", body.clone()).h("x-cos-server-side-encryption", "AES256"))
        .await;
    assert_eq!(put.status, 200);
    let crc = crc64(&body).to_string();
    let c = CHUNK as u64;
    let n64 = n as u64;
    // (Range header, first, last inclusive)
    let cases: Vec<(String, u64, u64)> = vec![
        ("bytes=0-0".into(), 0, 0),
        (format!("bytes=0-{}", c - 1), 0, c - 1),
        (format!("bytes={}-{}", c - 1, c), c - 1, c),
        (format!("bytes={}-{}", c - 3, 2 * c + 3), c - 3, 2 * c + 3),
        (format!("bytes={}-{}", c, 2 * c - 1), c, 2 * c - 1),
        (format!("bytes={}-", 3 * c), 3 * c, n64 - 1),
        (format!("bytes={}-", 3 * c - 1), 3 * c - 1, n64 - 1),
        ("bytes=-1".into(), n64 - 1, n64 - 1),
        ("bytes=-150".into(), n64 - 150, n64 - 1),
        (format!("bytes=5-{}", n64 + 1000), 5, n64 - 1),
        ("bytes=100000-100010".into(), 100_000, 100_010),
    ];
    for (range, first, last) in cases {
        let got = app.send(R::get("r.bin").h("range", &range)).await;
        assert_eq!(got.status, 206, "{range}: {}", got.text());
        assert!(
            got.body[..] == body[first as usize..=last as usize],
            "{range}: bytes"
        );
        let cr = format!("bytes {first}-{last}/{n}");
        assert_eq!(got.header("content-range"), Some(cr.as_str()), "{range}");
        assert_eq!(got.header("x-cos-hash-crc64ecma"), Some(crc.as_str()));
        assert_eq!(got.header("x-cos-server-side-encryption"), Some("AES256"));
    }
    let past = app
        .send(R::get("r.bin").h("range", &format!("bytes={n}-")))
        .await;
    past.assert_error(416, "InvalidRange");
}

#[tokio::test]
async fn copy_between_sse_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let app = fs_app(dir.path()).await;
    let body = payload(CHUNK + 500, 6);
    app.put("plain", &body).await;
    let crc = crc64(&body).to_string();
    let etag_xml = format!("<ETag>\"{}\"</ETag>", md5_hex(&body));

    // plain → SSE-COS: re-encrypted.
    let r = app
        .send(copy("to-cos", "plain").h("x-cos-server-side-encryption", "AES256"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-cos-server-side-encryption"), Some("AES256"));
    assert!(r.text().contains(&etag_xml), "{}", r.text());
    assert_eq!(r.header("x-cos-hash-crc64ecma"), Some(crc.as_str()));
    blob_of_size(dir.path(), sealed_len(body.len()));
    let got = app.send(R::get("to-cos")).await;
    assert_eq!(got.header("x-cos-server-side-encryption"), Some("AES256"));
    assert!(got.body[..] == body[..]);

    // SSE-COS → SSE-COS shares the blob (no new file).
    let before = blob_files(dir.path()).len();
    let r = app
        .send(copy("cos-again", "to-cos").h("x-cos-server-side-encryption", "AES256"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(blob_files(dir.path()).len(), before);
    assert!(app.send(R::get("cos-again")).await.body[..] == body[..]);

    // SSE-COS → no headers: the destination is plain (§6A.4 default).
    let r = app.send(copy("back-plain", "to-cos")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-cos-server-side-encryption"), None);
    let got = app.send(R::get("back-plain")).await;
    assert_eq!(got.header("x-cos-server-side-encryption"), None);
    assert!(got.body[..] == body[..]);

    // SSE-COS → SSE-C → KMS, with the copy-source key for the SSE-C source.
    let r = app.send(ssec(copy("to-c", "to-cos"), C_KEY)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-cos-server-side-encryption-customer-key-md5"),
        Some(C_MD5)
    );
    let got = app.send(ssec(R::get("to-c"), C_KEY)).await;
    assert!(got.body[..] == body[..]);
    let cases: Vec<(R, u16, &str)> = vec![
        (
            copy("to-kms", "to-c").h("x-cos-server-side-encryption", "cos/kms"),
            400,
            "SsecDecryptHeaderInvalid",
        ),
        (
            copy_ssec(copy("to-kms", "to-c"), C_KEY2).h("x-cos-server-side-encryption", "cos/kms"),
            403,
            "AccessDenied",
        ),
        (
            // The destination's SSE-C headers are not the source's.
            ssec(copy("to-kms", "to-c"), C_KEY),
            400,
            "SsecDecryptHeaderInvalid",
        ),
        (
            copy_ssec(copy("x", "plain"), C_KEY),
            400,
            "SSEHeaderNotAllowed",
        ),
        (
            copy("x", "plain")
                .h("x-cos-server-side-encryption", "cos/kms")
                .h("x-cos-server-side-encryption-cos-kms-key-id", "nope"),
            400,
            "KmsKeyNotExist",
        ),
    ];
    for (r, status, code) in cases {
        app.send(r).await.assert_error(status, code);
    }
    let r = app
        .send(
            copy_ssec(copy("to-kms", "to-c"), C_KEY)
                .h("x-cos-server-side-encryption", "cos/kms")
                .h("x-cos-server-side-encryption-cos-kms-key-id", "cmk-test"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-cos-server-side-encryption-cos-kms-key-id"),
        Some("cmk-test")
    );
    let got = app.send(R::get("to-kms")).await;
    assert_eq!(got.status, 200);
    assert!(got.body[..] == body[..]);

    // SSE-C → SSE-C with the same key shares; copying in place with only
    // an SSE change is allowed (not "copy to itself").
    let r = app
        .send(ssec(copy_ssec(copy("c-again", "to-c"), C_KEY), C_KEY))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app
        .send(copy("plain", "plain").h("x-cos-server-side-encryption", "AES256"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = app.send(R::get("plain")).await;
    assert_eq!(got.header("x-cos-server-side-encryption"), Some("AES256"));
    assert!(got.body[..] == body[..]);
    app.send(copy("plain", "plain"))
        .await
        .assert_error(400, "InvalidRequest");
}

/// One-chunk object with a flipped byte: a clean XML error before any byte.
#[tokio::test]
async fn corruption_in_first_chunk_is_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let app = fs_app(dir.path()).await;
    let body = payload(5000, 7);
    let put = app
        .send(R::put("small", body.clone()).h("x-cos-server-side-encryption", "AES256"))
        .await;
    assert_eq!(put.status, 200);
    let blob = blob_of_size(dir.path(), sealed_len(body.len()));
    flip_byte(&blob, 2000);
    let got = app.send(R::get("small")).await;
    got.assert_error(500, "InternalError");
    assert!(got.text().contains("integrity"), "{}", got.text());
    // The tag is checked however little is asked for.
    let got = app.send(R::get("small").h("range", "bytes=0-0")).await;
    got.assert_error(500, "InternalError");
    // Metadata is intact: HEAD still answers.
    let head = app.send(R::new(Method::HEAD, "small")).await;
    assert_eq!(head.status, 200);
}

/// A flipped byte in a later chunk, in-process: the body stream yields the
/// verified chunks and then an error, never the altered bytes.
#[tokio::test]
async fn corruption_later_fails_the_body_stream() {
    let dir = tempfile::tempdir().unwrap();
    let app = fs_app(dir.path()).await;
    let body = payload(4 * CHUNK, 8);
    let put = app
        .send(R::put("big", body.clone()).h("x-cos-server-side-encryption", "AES256"))
        .await;
    assert_eq!(put.status, 200);
    let blob = blob_of_size(dir.path(), sealed_len(body.len()));
    flip_byte(&blob, (HEADER + 2 * (CHUNK + TAG) + 100) as u64);
    let resp = app.svc.handle(R::get("big").build()).await;
    assert_eq!(resp.status(), 200, "status went out before chunk 2");
    let mut b = resp.into_body();
    let mut got = Vec::new();
    let mut failed = false;
    while let Some(frame) = b.frame().await {
        match frame {
            Ok(f) => {
                if let Ok(d) = f.into_data() {
                    assert!(!failed);
                    got.extend_from_slice(&d);
                }
            }
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the body must fail");
    assert!(got.len() <= 2 * CHUNK && body.starts_with(&got));
    // A range that avoids the damaged chunk still reads.
    let ok = app
        .send(R::get("big").h("range", &format!("bytes=0-{}", 2 * CHUNK - 1)))
        .await;
    assert_eq!(ok.status, 206);
    assert!(ok.body[..] == body[..2 * CHUNK]);
}

/// Raw HTTP/1.1 GET: `None` when the connection closed before a response
/// head arrived, else (status, Content-Length, the body bytes read before
/// the server closed the connection).
fn raw_get(addr: std::net::SocketAddr, key: &str) -> Option<(u16, usize, Vec<u8>)> {
    let path = format!("/{key}");
    let auth = sign("GET", &path, &[], &[("host", HOST)], window());
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    // A cut connection may end in a reset rather than a clean EOF.
    let r = s.read_to_end(&mut out);
    assert!(
        !matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
        "the server must end the connection, not hang: {r:?}"
    );
    let split = out.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head[9..12].parse().unwrap();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    Some((status, len, out[split..].to_vec()))
}

/// Over a real socket (plain HTTP/1, where sendfile would be used for plain
/// objects): the connection is cut. Depending on how far hyper had flushed,
/// the client sees a 200 whose body stops short of `Content-Length`, or no
/// response at all; never a byte of the damaged chunk or after it.
#[test]
fn corruption_mid_stream_cuts_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = localcos::testing::TestServer::start_with(config(dir.path())).unwrap();
    let body = payload(6 * CHUNK, 9);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let put = rt.block_on(async {
        let client = reqwest::Client::new();
        let auth = sign(
            "PUT",
            "/big",
            &[],
            &[("host", HOST), ("x-cos-server-side-encryption", "AES256")],
            window(),
        );
        client
            .put(format!("{}/big", server.endpoint()))
            .header("host", HOST)
            .header("authorization", auth)
            .header("x-cos-server-side-encryption", "AES256")
            .body(body.clone())
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(put, 200);
    let (status, len, got) = raw_get(server.addr(), "big").expect("a response");
    assert_eq!((status, len), (200, body.len()));
    assert!(got == body, "intact object streams whole");

    let blob = blob_of_size(dir.path(), sealed_len(body.len()));
    flip_byte(&blob, (HEADER + 4 * (CHUNK + TAG) + 5) as u64);
    for _ in 0..5 {
        if let Some((status, len, got)) = raw_get(server.addr(), "big") {
            assert_eq!((status, len), (200, body.len()));
            assert!(
                got.len() < len,
                "response cut short: {} of {len}",
                got.len()
            );
            assert!(got.len() <= 4 * CHUNK, "nothing from the damaged chunk on");
            assert!(body.starts_with(&got), "only verified plaintext was sent");
        }
    }
    // The server is still serving.
    let ok = raw_get(server.addr(), "nope").expect("a response");
    assert_eq!(ok.0, 404);
}

#[tokio::test]
async fn keys_survive_a_restart_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let body = payload(100_000, 10);
    {
        let app = fs_app(dir.path()).await;
        let put = app
            .send(R::put("k", body.clone()).h("x-cos-server-side-encryption", "AES256"))
            .await;
        assert_eq!(put.status, 200);
    }
    let key_file = dir.path().join("sse-master.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    // Same data dir, generated key reloaded.
    {
        let app = fs_app(dir.path()).await;
        let got = app.send(R::get("k")).await;
        assert_eq!(got.status, 200, "{}", got.text());
        assert!(got.body[..] == body[..]);
    }
    // A configured master key takes over; the generated one still decrypts,
    // and a copy in place re-encrypts under the new key.
    let mut cfg = config(dir.path());
    cfg.sse.master_keys =
        vec![localcos::storage::sse::KeyBytes::from_base64(&b64(&[0x33; 32])).unwrap()];
    let app = App {
        svc: localcos::testing::app(cfg.clone()).await.unwrap(),
    };
    let got = app.send(R::get("k")).await;
    assert!(got.body[..] == body[..]);
    let r = app
        .send(copy("k", "k").h("x-cos-server-side-encryption", "AES256"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    drop(app);
    std::fs::remove_file(&key_file).unwrap();
    let app = App {
        svc: localcos::testing::app(cfg).await.unwrap(),
    };
    let got = app.send(R::get("k")).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert!(got.body[..] == body[..]);
}

/// A CMK disabled or removed after objects were written under it: GET
/// answers 400 KmsKeyDisabled / 500 (key missing), HEAD still answers.
#[tokio::test]
async fn kms_key_disabled_or_removed_later() {
    let dir = tempfile::tempdir().unwrap();
    let body = payload(1000, 11);
    {
        let app = fs_app(dir.path()).await;
        let put = app
            .send(
                R::put("k", body.clone())
                    .h("x-cos-server-side-encryption", "cos/kms")
                    .h("x-cos-server-side-encryption-cos-kms-key-id", "cmk-test"),
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.text());
    }
    let mut cfg = config(dir.path());
    cfg.sse.kms_keys[0].enabled = false;
    {
        let app = App {
            svc: localcos::testing::app(cfg.clone()).await.unwrap(),
        };
        app.send(R::get("k"))
            .await
            .assert_error(400, "KmsKeyDisabled");
        let head = app.send(R::new(Method::HEAD, "k")).await;
        assert_eq!(head.status, 200);
    }
    cfg.sse.kms_keys.remove(0);
    let app = App {
        svc: localcos::testing::app(cfg).await.unwrap(),
    };
    let got = app.send(R::get("k")).await;
    got.assert_error(500, "InternalError");
    assert!(got.text().contains("not configured"), "{}", got.text());
}

/// Each version keeps its own encryption: older versions read back with
/// their own key, and a copy from an encrypted version re-encrypts.
#[tokio::test]
async fn versions_keep_their_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let app = fs_app(dir.path()).await;
    let body = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
    let r = app
        .send(
            R::new(Method::PUT, "")
                .raw_path("/")
                .q("versioning", "")
                .with_body(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let v1_body = payload(70_000, 12);
    let v1 = app.send(ssec(R::put("v", v1_body.clone()), C_KEY)).await;
    assert_eq!(v1.status, 200, "{}", v1.text());
    let v1_id = v1.header("x-cos-version-id").unwrap().to_string();
    let v2 = app
        .send(R::put("v", b"v2 bytes".to_vec()).h("x-cos-server-side-encryption", "AES256"))
        .await;
    assert_eq!(v2.status, 200);

    // The latest is SSE-COS; the older version still needs its SSE-C key.
    let latest = app.send(R::get("v")).await;
    assert_eq!(&latest.body[..], b"v2 bytes");
    assert_eq!(
        latest.header("x-cos-server-side-encryption"),
        Some("AES256")
    );
    app.send(R::get("v").q("versionId", &v1_id))
        .await
        .assert_error(400, "SsecDecryptHeaderInvalid");
    let old = app
        .send(ssec(R::get("v").q("versionId", &v1_id), C_KEY))
        .await;
    assert_eq!(old.status, 200, "{}", old.text());
    assert!(old.body[..] == v1_body[..]);
    assert_eq!(
        old.header("x-cos-server-side-encryption-customer-key-md5"),
        Some(C_MD5)
    );

    // Copy from the SSE-C version into a plain object.
    let r = app
        .send(copy_ssec(
            copy("from-v1", &format!("v?versionId={v1_id}")),
            C_KEY,
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-cos-copy-source-version-id"),
        Some(v1_id.as_str())
    );
    let got = app.send(R::get("from-v1")).await;
    assert_eq!(got.header("x-cos-server-side-encryption"), None);
    assert!(got.body[..] == v1_body[..]);
}
