//! AWS SigV4/V2 requests through the whole service, signed by a tiny
//! hand-written signer (STYLE habit 9): header and pre-signed forms, every
//! payload mode (hex, UNSIGNED-PAYLOAD, signed chunks, unsigned trailer) over
//! Content-Length and over HTTP chunked transfer, and flexible checksums.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Method, Request};
use http_body_util::Full;
use sha2::{Digest, Sha256};

use crate::common::{app, App, Resp, ID, KEY};

const HOST: &str = "127.0.0.1:9000";
const BUCKET: &str = "examplebucket-1250000000";
const REGION: &str = "us-east-1";
const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn sha_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `yyyymmddTHHMMSSZ` of `t`.
fn amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let days = (secs / 86_400) as i64;
    // Civil from days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let r = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        r / 3600,
        r % 3600 / 60,
        r % 60
    )
}

/// AWS's strict encoding: everything but `A-Za-z0-9-_.~` (and `/` when asked).
fn aws_enc(s: &str, keep_slash: bool) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The signing parts a test may vary.
struct Signer {
    secret: String,
    time: SystemTime,
    region: String,
}

impl Default for Signer {
    fn default() -> Self {
        Signer {
            secret: KEY.into(),
            time: SystemTime::now(),
            region: REGION.into(),
        }
    }
}

impl Signer {
    fn key(&self) -> Vec<u8> {
        let date = &amz_date(self.time)[..8];
        let k = hmac(format!("AWS4{}", self.secret).as_bytes(), date.as_bytes());
        let k = hmac(&k, self.region.as_bytes());
        let k = hmac(&k, b"s3");
        hmac(&k, b"aws4_request")
    }
    fn scope(&self) -> String {
        format!(
            "{}/{}/s3/aws4_request",
            &amz_date(self.time)[..8],
            self.region
        )
    }

    fn canonical(
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        payload: &str,
    ) -> (String, String) {
        let mut q: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (aws_enc(k, false), aws_enc(v, false)))
            .collect();
        q.sort();
        let q = q
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let mut h: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.trim().to_string()))
            .collect();
        h.sort();
        let signed = h
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let canon_h: String = h.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        (
            format!("{method}\n{path}\n{q}\n{canon_h}\n{signed}\n{payload}"),
            signed,
        )
    }

    /// Header form: adds x-amz-date, x-amz-content-sha256 and Authorization;
    /// returns the seed signature.
    fn sign_header(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &mut Vec<(String, String)>,
        payload: &str,
    ) -> String {
        headers.push(("x-amz-date".into(), amz_date(self.time)));
        headers.push(("x-amz-content-sha256".into(), payload.into()));
        let (creq, signed) = Self::canonical(method, path, query, headers, payload);
        let sts = format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            amz_date(self.time),
            self.scope(),
            sha_hex(creq.as_bytes())
        );
        let sig = hex::encode(hmac(&self.key(), sts.as_bytes()));
        headers.push((
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={ID}/{}, SignedHeaders={signed}, Signature={sig}",
                self.scope()
            ),
        ));
        sig
    }

    /// Pre-signed form: the full query (with the X-Amz-* parameters).
    fn presign(&self, method: &str, path: &str, expires: &str) -> Vec<(String, String)> {
        let mut q: Vec<(String, String)> = vec![
            ("X-Amz-Algorithm".into(), "AWS4-HMAC-SHA256".into()),
            ("X-Amz-Credential".into(), format!("{ID}/{}", self.scope())),
            ("X-Amz-Date".into(), amz_date(self.time)),
            ("X-Amz-Expires".into(), expires.into()),
            ("X-Amz-SignedHeaders".into(), "host".into()),
        ];
        let headers = vec![("host".to_string(), HOST.to_string())];
        let (creq, _) = Self::canonical(method, path, &q, &headers, "UNSIGNED-PAYLOAD");
        let sts = format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            amz_date(self.time),
            self.scope(),
            sha_hex(creq.as_bytes())
        );
        q.push((
            "X-Amz-Signature".into(),
            hex::encode(hmac(&self.key(), sts.as_bytes())),
        ));
        q
    }

    /// An aws-chunked body with signed chunks of `chunk` bytes (no trailer).
    fn signed_chunks(&self, seed: &str, data: &[u8], chunk: usize) -> Vec<u8> {
        let mut prev = seed.to_string();
        let mut out = Vec::new();
        let mut pieces: Vec<&[u8]> = data.chunks(chunk).collect();
        pieces.push(b"");
        for p in pieces {
            let sts = format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{prev}\n{EMPTY}\n{}",
                amz_date(self.time),
                self.scope(),
                sha_hex(p)
            );
            prev = hex::encode(hmac(&self.key(), sts.as_bytes()));
            out.extend_from_slice(format!("{:x};chunk-signature={prev}\r\n", p.len()).as_bytes());
            out.extend_from_slice(p);
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

fn crc32_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(data).to_be_bytes())
}

/// One signed S3 request (path style on 127.0.0.1).
struct S3 {
    method: Method,
    key: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Bytes,
    payload: Option<String>,
    signer: Signer,
    presigned: Option<String>,
}

impl S3 {
    fn new(method: Method, key: &str) -> S3 {
        S3 {
            method,
            key: key.into(),
            query: vec![],
            headers: vec![],
            body: Bytes::new(),
            payload: None,
            signer: Signer::default(),
            presigned: None,
        }
    }
    fn put(key: &str, body: &[u8]) -> S3 {
        let mut s = S3::new(Method::PUT, key);
        s.body = Bytes::copy_from_slice(body);
        s
    }
    fn get(key: &str) -> S3 {
        S3::new(Method::GET, key)
    }
    fn h(mut self, k: &str, v: &str) -> S3 {
        self.headers.push((k.into(), v.into()));
        self
    }
    fn payload(mut self, p: &str) -> S3 {
        self.payload = Some(p.into());
        self
    }
    fn path(&self) -> String {
        format!("/{BUCKET}/{}", aws_enc(&self.key, true))
    }

    /// Builds the request; `Content-Length` is the body's length unless given.
    fn build(mut self) -> Request<Full<Bytes>> {
        let path = self.path();
        let mut headers = self.headers.clone();
        headers.push(("host".into(), HOST.into()));
        if !headers
            .iter()
            .any(|(k, _)| k == "content-length" || k == "transfer-encoding")
            && (self.method == Method::PUT || !self.body.is_empty())
        {
            headers.push(("content-length".into(), self.body.len().to_string()));
        }
        let query = match &self.presigned {
            Some(expires) => self.signer.presign(self.method.as_str(), &path, expires),
            None => {
                let payload = self.payload.take().unwrap_or_else(|| sha_hex(&self.body));
                self.signer.sign_header(
                    self.method.as_str(),
                    &path,
                    &self.query,
                    &mut headers,
                    &payload,
                );
                self.query.clone()
            }
        };
        let qs = query
            .iter()
            .map(|(k, v)| format!("{}={}", aws_enc(k, false), aws_enc(v, false)))
            .collect::<Vec<_>>()
            .join("&");
        let uri = if qs.is_empty() {
            path
        } else {
            format!("{path}?{qs}")
        };
        let mut b = Request::builder().method(self.method.clone()).uri(uri);
        for (k, v) in &headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(Full::new(self.body)).unwrap()
    }
}

async fn s3_app() -> App {
    app().await
}

async fn send(app: &App, r: S3) -> Resp {
    app.send_raw(r.build()).await
}

fn assert_code(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.code(), code, "{}", r.text());
}

#[tokio::test]
async fn header_signed_put_and_get() {
    let app = s3_app().await;
    let key = "dir/sub dir/a+b (1).txt";
    let r = send(&app, S3::put(key, b"hello s3")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(&app, S3::get(key)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..], b"hello s3");
    // Keys with dot segments and double slashes are signed and stored literally.
    let odd = "nested//double/./dot/../file.txt";
    assert_eq!(send(&app, S3::put(odd, b"odd")).await.status, 200);
    assert_eq!(&send(&app, S3::get(odd)).await.body[..], b"odd");
    assert_eq!(
        send(&app, S3::get("nested/double/file.txt")).await.status,
        404
    );
}

#[tokio::test]
async fn signature_errors() {
    let app = s3_app().await;
    app.put("k", b"x").await;
    let mut wrong = S3::get("k");
    wrong.signer.secret = "not-the-key".into();
    let r = send(&app, wrong).await;
    assert_code(&r, 403, "SignatureDoesNotMatch");
    let mut skewed = S3::get("k");
    skewed.signer.time = SystemTime::now() - Duration::from_secs(16 * 60);
    assert_code(&send(&app, skewed).await, 403, "RequestTimeTooSkewed");
    // Any region signs (the key comes from the scope), but not another service.
    let mut other_region = S3::get("k");
    other_region.signer.region = "ap-guangzhou".into();
    assert_eq!(send(&app, other_region).await.status, 200);
    let req = S3::get("k").build();
    let (mut parts, body) = req.into_parts();
    let auth = parts.headers["authorization"]
        .to_str()
        .unwrap()
        .replace("/s3/", "/sts/");
    parts.headers.insert("authorization", auth.parse().unwrap());
    let r = app.send_raw(Request::from_parts(parts, body)).await;
    assert_code(&r, 400, "AuthorizationHeaderMalformed");
    // A tampered path.
    let req = S3::get("k").build();
    let (mut parts, body) = req.into_parts();
    parts.uri = format!("/{BUCKET}/kk").parse().unwrap();
    let r = app.send_raw(Request::from_parts(parts, body)).await;
    assert_code(&r, 403, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn presigned_urls() {
    let app = s3_app().await;
    app.put("p", b"presigned body").await;
    let mut r = S3::get("p");
    r.presigned = Some("3600".into());
    let resp = send(&app, r).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(&resp.body[..], b"presigned body");
    // Expired: signed 2 hours ago for 1 hour.
    let mut r = S3::get("p");
    r.presigned = Some("3600".into());
    r.signer.time = SystemTime::now() - Duration::from_secs(7200);
    let resp = send(&app, r).await;
    assert_code(&resp, 403, "AccessDenied");
    assert!(
        resp.text().contains("Request has expired"),
        "{}",
        resp.text()
    );
    for bad in ["0", "604801"] {
        let mut r = S3::get("p");
        r.presigned = Some(bad.into());
        assert_code(
            &send(&app, r).await,
            400,
            "AuthorizationQueryParametersError",
        );
    }
    // A pre-signed PUT (UNSIGNED-PAYLOAD).
    let mut r = S3::put("p2", b"uploaded by url");
    r.presigned = Some("600".into());
    assert_eq!(send(&app, r).await.status, 200);
    assert_eq!(
        &send(&app, S3::get("p2")).await.body[..],
        b"uploaded by url"
    );
}

#[tokio::test]
async fn unsigned_payload() {
    let app = s3_app().await;
    let r = send(
        &app,
        S3::put("u", b"not hashed").payload("UNSIGNED-PAYLOAD"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&send(&app, S3::get("u")).await.body[..], b"not hashed");
}

#[tokio::test]
async fn hex_sha256_mismatch_stores_nothing() {
    let app = s3_app().await;
    let r = send(
        &app,
        S3::put("m", b"actual body").payload(&sha_hex(b"other body")),
    )
    .await;
    assert_code(&r, 400, "XAmzContentSHA256Mismatch");
    assert_code(&send(&app, S3::get("m")).await, 404, "NoSuchKey");
    // An overwrite that fails leaves the old object.
    app.put("m", b"old").await;
    let r = send(&app, S3::put("m", b"new!").payload(&sha_hex(b"nope"))).await;
    assert_code(&r, 400, "XAmzContentSHA256Mismatch");
    assert_eq!(&send(&app, S3::get("m")).await.body[..], b"old");
    // A GET (no body) signed with the hash of something.
    let r = send(&app, S3::get("m").payload(&sha_hex(b"x"))).await;
    assert_code(&r, 400, "XAmzContentSHA256Mismatch");
    // Empty body, wrong hash.
    let r = send(&app, S3::put("e", b"").payload(&sha_hex(b"x"))).await;
    assert_code(&r, 400, "XAmzContentSHA256Mismatch");
    assert_code(&send(&app, S3::get("e")).await, 404, "NoSuchKey");
}

fn signed_chunked_put(key: &str, data: &[u8], chunk: usize) -> S3 {
    // Sign the headers first (the seed), then frame the body with the chain.
    let signer = Signer::default();
    let path = format!("/{BUCKET}/{}", aws_enc(key, true));
    // The framing's length does not depend on the signatures' values.
    let encoded_len = signer.signed_chunks(&"0".repeat(64), data, chunk).len();
    let mut headers = vec![
        ("host".to_string(), HOST.to_string()),
        ("content-encoding".to_string(), "aws-chunked".to_string()),
        ("content-length".to_string(), encoded_len.to_string()),
        (
            "x-amz-decoded-content-length".to_string(),
            data.len().to_string(),
        ),
    ];
    let seed = signer.sign_header(
        "PUT",
        &path,
        &[],
        &mut headers,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    );
    let body = signer.signed_chunks(&seed, data, chunk);
    let mut s = S3::put(key, &body);
    s.headers = headers;
    s
}

/// Builds a request whose headers (Authorization included) are already final.
fn raw(s: S3) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(s.method.clone()).uri(s.path());
    for (k, v) in &s.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(Full::new(s.body)).unwrap()
}

#[tokio::test]
async fn signed_chunks_over_content_length() {
    let app = s3_app().await;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let r = app
        .send_raw(raw(signed_chunked_put("chunked", &data, 64 * 1024)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let g = send(&app, S3::get("chunked")).await;
    assert_eq!(g.status, 200);
    assert_eq!(g.body.len(), data.len());
    assert!(g.body[..] == data[..], "decoded bytes differ");
    assert_eq!(g.header("content-length"), Some("200000"));
    assert_eq!(
        g.header("content-encoding"),
        None,
        "aws-chunked is not stored"
    );
    // A flipped data byte: 403 and nothing stored.
    let mut bad = signed_chunked_put("chunked-bad", &data, 64 * 1024);
    let mut body = bad.body.to_vec();
    body[70_000] ^= 1;
    bad.body = Bytes::from(body);
    let r = app.send_raw(raw(bad)).await;
    assert_code(&r, 403, "SignatureDoesNotMatch");
    assert_code(&send(&app, S3::get("chunked-bad")).await, 404, "NoSuchKey");
    // Truncated body.
    let mut cut = signed_chunked_put("chunked-cut", &data, 64 * 1024);
    let n = cut.body.len();
    cut.body = cut.body.slice(..n - 90);
    for h in cut.headers.iter_mut() {
        if h.0 == "content-length" {
            h.1 = (n - 90).to_string();
        }
    }
    let r = app.send_raw(raw(cut)).await;
    assert!(
        r.status == 400 || r.status == 403,
        "{} {}",
        r.status,
        r.text()
    );
    assert_code(&send(&app, S3::get("chunked-cut")).await, 404, "NoSuchKey");
}

#[tokio::test]
async fn flexible_checksums() {
    let app = s3_app().await;
    let data = b"checksummed content";
    let crc = crc32_b64(data);
    let r = send(
        &app,
        S3::put("c", data)
            .h("x-amz-sdk-checksum-algorithm", "CRC32")
            .h("x-amz-checksum-crc32", &crc),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-amz-checksum-crc32"),
        Some(crc.as_str()),
        "PUT echoes the checksum"
    );
    // Full GET with checksum mode: returned. Without: not. Range: never.
    let g = send(&app, S3::get("c").h("x-amz-checksum-mode", "ENABLED")).await;
    assert_eq!(g.header("x-amz-checksum-crc32"), Some(crc.as_str()));
    assert_eq!(g.header("x-amz-checksum-type"), Some("FULL_OBJECT"));
    let g = send(
        &app,
        S3::new(Method::HEAD, "c").h("x-amz-checksum-mode", "ENABLED"),
    )
    .await;
    assert_eq!(g.header("x-amz-checksum-crc32"), Some(crc.as_str()));
    let g = send(&app, S3::get("c")).await;
    assert_eq!(g.header("x-amz-checksum-crc32"), None);
    let g = send(
        &app,
        S3::get("c")
            .h("x-amz-checksum-mode", "ENABLED")
            .h("range", "bytes=0-3"),
    )
    .await;
    assert_eq!(g.status, 206);
    assert_eq!(g.header("x-amz-checksum-crc32"), None);
    // Mismatch → BadDigest, nothing stored.
    let r = send(
        &app,
        S3::put("c2", data).h("x-amz-checksum-crc32", "AAAAAA=="),
    )
    .await;
    assert_code(&r, 400, "BadDigest");
    assert_code(&send(&app, S3::get("c2")).await, 404, "NoSuchKey");
    // SHA-256 as a checksum.
    let sha_b64 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(data));
    let r = send(
        &app,
        S3::put("c3", data).h("x-amz-checksum-sha256", &sha_b64),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-amz-checksum-sha256"), Some(sha_b64.as_str()));
}

/// boto3 over HTTPS / JS v3 streams: STREAMING-UNSIGNED-PAYLOAD-TRAILER inside
/// HTTP chunked transfer, over a real socket.
#[tokio::test]
async fn unsigned_trailer_over_http_chunked_transfer() {
    let mut config = localcos::config::Config::for_tests(ID, KEY);
    config.buckets = vec![localcos::http::target::BucketName::parse(
        "examplebucket",
        "1250000000",
        "ap-guangzhou",
    )
    .unwrap()];
    let server = localcos::testing::TestServer::start_with(config).unwrap();
    let host = server.addr().to_string();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let send_trailer = |key: &str, crc: String| {
        let signer = Signer::default();
        let path = format!("/{BUCKET}/{key}");
        let mut headers = vec![
            ("host".to_string(), host.clone()),
            ("content-encoding".to_string(), "aws-chunked".to_string()),
            (
                "x-amz-decoded-content-length".to_string(),
                data.len().to_string(),
            ),
            (
                "x-amz-trailer".to_string(),
                "x-amz-checksum-crc32".to_string(),
            ),
            (
                "x-amz-sdk-checksum-algorithm".to_string(),
                "CRC32".to_string(),
            ),
        ];
        signer.sign_header(
            "PUT",
            &path,
            &[],
            &mut headers,
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        );
        // aws-chunked framing, 100 000-byte chunks, sent as many HTTP chunks.
        let mut body = Vec::new();
        for c in data.chunks(100_000) {
            body.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            body.extend_from_slice(c);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n").as_bytes());
        let pieces: Vec<Result<Bytes, std::io::Error>> = body
            .chunks(7_777)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut rb = reqwest::Client::new()
            .put(format!("http://{host}{path}"))
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                pieces,
            )));
        for (k, v) in &headers {
            if k != "host" {
                rb = rb.header(k.as_str(), v.as_str());
            }
        }
        rb.send()
    };
    let r = send_trailer("streamed", crc32_b64(&data)).await.unwrap();
    let status = r.status().as_u16();
    let echoed = r
        .headers()
        .get("x-amz-checksum-crc32")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(status, 200, "{}", r.text().await.unwrap());
    assert_eq!(echoed, Some(crc32_b64(&data)));
    // Wrong trailer checksum: BadDigest, nothing stored.
    let r = send_trailer("streamed-bad", "AAAAAA==".into())
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("<Code>BadDigest</Code>"));
    // Read back with a signed GET.
    let get = |key: &str| {
        let signer = Signer::default();
        let path = format!("/{BUCKET}/{key}");
        let mut headers = vec![("host".to_string(), host.clone())];
        signer.sign_header("GET", &path, &[], &mut headers, EMPTY);
        let mut rb = reqwest::Client::new().get(format!("http://{host}{path}"));
        for (k, v) in &headers {
            if k != "host" {
                rb = rb.header(k.as_str(), v.as_str());
            }
        }
        rb.send()
    };
    let g = get("streamed").await.unwrap();
    assert_eq!(g.status().as_u16(), 200);
    assert!(g.bytes().await.unwrap()[..] == data[..]);
    assert_eq!(get("streamed-bad").await.unwrap().status().as_u16(), 404);
}

/// Signed chunks inside HTTP chunked transfer (no Content-Length).
#[tokio::test]
async fn signed_chunks_over_http_chunked_transfer() {
    let mut config = localcos::config::Config::for_tests(ID, KEY);
    config.buckets = vec![localcos::http::target::BucketName::parse(
        "examplebucket",
        "1250000000",
        "ap-guangzhou",
    )
    .unwrap()];
    let server = localcos::testing::TestServer::start_with(config).unwrap();
    let host = server.addr().to_string();
    let data: Vec<u8> = (0..150_000u32).map(|i| (i % 13) as u8).collect();
    let signer = Signer::default();
    let path = format!("/{BUCKET}/signed-stream");
    let mut headers = vec![
        ("host".to_string(), host.clone()),
        ("content-encoding".to_string(), "aws-chunked".to_string()),
        (
            "x-amz-decoded-content-length".to_string(),
            data.len().to_string(),
        ),
    ];
    let seed = signer.sign_header(
        "PUT",
        &path,
        &[],
        &mut headers,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    );
    let body = signer.signed_chunks(&seed, &data, 64 * 1024);
    let pieces: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(5_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut rb = reqwest::Client::new()
        .put(format!("http://{host}{path}"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )));
    for (k, v) in &headers {
        if k != "host" {
            rb = rb.header(k.as_str(), v.as_str());
        }
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
}

/// SigV2 pre-signed GET (AWS CLI v1 `presign`) and header auth.
#[tokio::test]
async fn sigv2_query_and_header() {
    let app = s3_app().await;
    app.put("v2", b"legacy").await;
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let sts = format!("GET\n\n\n{expires}\n/{BUCKET}/v2");
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(KEY.as_bytes()).unwrap();
    m.update(sts.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes());
    let uri = format!(
        "/{BUCKET}/v2?AWSAccessKeyId={ID}&Expires={expires}&Signature={}",
        aws_enc(&sig, false)
    );
    let req = Request::builder()
        .uri(uri.as_str())
        .header("host", HOST)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = app.send_raw(req).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..], b"legacy");
    // Expired.
    let old = expires - 3600;
    let sts = format!("GET\n\n\n{old}\n/{BUCKET}/v2");
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(KEY.as_bytes()).unwrap();
    m.update(sts.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes());
    let req = Request::builder()
        .uri(format!(
            "/{BUCKET}/v2?AWSAccessKeyId={ID}&Expires={old}&Signature={}",
            aws_enc(&sig, false)
        ))
        .header("host", HOST)
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_code(&app.send_raw(req).await, 403, "AccessDenied");
    // Header form.
    let date = httpdate::fmt_http_date(SystemTime::now());
    let sts = format!("GET\n\n\n{date}\n/{BUCKET}/v2");
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(KEY.as_bytes()).unwrap();
    m.update(sts.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes());
    let req = Request::builder()
        .uri(format!("/{BUCKET}/v2"))
        .header("host", HOST)
        .header("date", date)
        .header("authorization", format!("AWS {ID}:{sig}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = app.send_raw(req).await;
    assert_eq!(r.status, 200, "{}", r.text());
}
