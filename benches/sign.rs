//! Cost of verifying a COS q-sign (sha1) signature
//! (https://cloud.tencent.com/document/product/436/7778); target: under 10 µs.
//!
//! Two captured SDK requests from `tests/fixtures/vectors/cos`: a
//! cos-python-sdk-v5 header-signed GET with Range (`py_get_range`) and a
//! cos-nodejs-sdk-v5 pre-signed URL (`node_presign_get`), plus a Python
//! pre-signed URL that needs the Host port-stripping retry (`py_presign_get_ip`).
//! `verify` is measured alone, and together with decoding the raw target.
//!
//! Criterion reports wall time, which other processes on a busy machine
//! inflate; each case therefore also prints the thread's CPU time per
//! iteration (Linux `/proc/thread-self/schedstat`), the figure the target is about.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use localcos::auth::{cos, AuthOptions, Credential, KeyStore, RequestParts, SecretKey};
use localcos::http::query::{decode_path, decode_query};
use serde_json::Value;

const PYTHON: &str = include_str!("../tests/fixtures/vectors/cos/python_sdk_vectors.json");
const NODE: &str = include_str!("../tests/fixtures/vectors/cos/node_sdk_vectors.json");

struct Vector {
    name: String,
    method: Method,
    target: String,
    headers: HeaderMap,
    keys: KeyStore,
    now: std::time::SystemTime,
}

fn load(file: &str, name: &str) -> Vector {
    let doc: Value = serde_json::from_str(file).expect("JSON");
    let v = doc["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .find(|v| v["name"] == name)
        .expect(name);
    let text = |field: &str| v[field].as_str().expect(field).to_owned();
    let mut headers = HeaderMap::new();
    for h in v["headers"].as_array().expect("headers") {
        let (n, val) = (h[0].as_str().expect("name"), h[1].as_str().expect("value"));
        headers.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(val).unwrap(),
        );
    }
    let target = text("target");
    // Absolute-form: the path starts after the authority.
    let target = match target.split_once("://") {
        Some((_, rest)) => rest[rest.find('/').unwrap_or(rest.len())..].to_owned(),
        None => target,
    };
    Vector {
        name: name.to_owned(),
        method: Method::from_bytes(text("method").as_bytes()).unwrap(),
        target,
        headers,
        keys: KeyStore::new([Credential {
            secret_id: text("secret_id"),
            secret_key: SecretKey::new(text("secret_key")),
            token: None,
            expires: None,
        }]),
        now: UNIX_EPOCH + Duration::from_secs(v["clock_now"].as_u64().unwrap()),
    }
}

fn decode(target: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    (decode_path(path).unwrap(), decode_query(query).unwrap())
}

/// CPU time this thread has run, in ns (Linux only).
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Prints the CPU time per call of `f`, measured over many calls.
fn report_cpu_time(label: &str, mut f: impl FnMut() -> bool) {
    // `cargo test --all-targets` runs benches without `--bench`: one smoke call then.
    if !std::env::args().any(|a| a == "--bench") {
        assert!(black_box(f()), "{label} verifies");
        return;
    }
    const ITERS: u32 = 200_000;
    for _ in 0..ITERS / 10 {
        black_box(f());
    }
    let Some(start) = thread_cpu_ns() else { return };
    for _ in 0..ITERS {
        black_box(f());
    }
    let Some(end) = thread_cpu_ns() else { return };
    let per_iter = (end - start) as f64 / f64::from(ITERS);
    println!("cpu-time {label}: {per_iter:.0} ns/iter ({ITERS} iterations)");
}

fn bench(c: &mut Criterion) {
    let opts = AuthOptions::default();
    let vectors = [
        load(PYTHON, "py_get_range"),
        load(NODE, "node_presign_get"),
        load(PYTHON, "py_presign_get_ip"),
    ];
    for v in &vectors {
        let (path, query) = decode(&v.target);
        let parts = RequestParts {
            method: &v.method,
            path: &path,
            query: &query,
            headers: &v.headers,
        };
        assert!(
            cos::verify(&parts, &v.keys, v.now, &opts).is_ok(),
            "{} must verify",
            v.name
        );

        report_cpu_time(&format!("verify/{}", v.name), || {
            cos::verify(black_box(&parts), &v.keys, v.now, &opts).is_ok()
        });
        // The server's whole per-request auth work: decode the target, verify.
        let decode_verify = || {
            let (path, query) = decode(black_box(&v.target));
            let parts = RequestParts {
                method: &v.method,
                path: &path,
                query: &query,
                headers: &v.headers,
            };
            cos::verify(&parts, &v.keys, v.now, &opts).is_ok()
        };
        report_cpu_time(&format!("decode+verify/{}", v.name), decode_verify);

        c.bench_function(&format!("verify/{}", v.name), |b| {
            b.iter(|| cos::verify(black_box(&parts), &v.keys, v.now, &opts))
        });
        c.bench_function(&format!("decode+verify/{}", v.name), |b| {
            b.iter(decode_verify)
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
