//! SigV4 and SigV2 against the requests captured from boto3, AWS CLI, minio-py,
//! JS v3 and aws-sdk-rust (`tests/fixtures/s3`, copies of `shared/vectors/s3`),
//! AWS's published examples, and one-byte mutations of each.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{format_amz_date, parse_amz_date, Payload};
use crate::auth::{
    verify_request, AuthError, AuthOptions, Credential, Dialect, KeyStore, RequestParts, SecretKey,
};
use crate::http::query::{decode_path, decode_query};

pub(crate) const AK: &str = "AKIAIOSFODNN7EXAMPLE";
pub(crate) const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// A request rebuilt the way the server sees it (decoded path and query).
#[derive(Clone)]
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
}

impl Req {
    pub fn new(method: &str, target: &str, headers: &[(&str, &str)]) -> Req {
        let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                HeaderName::from_bytes(n.as_bytes()).expect("header name"),
                HeaderValue::from_bytes(v.as_bytes()).expect("header value"),
            );
        }
        Req {
            method: Method::from_bytes(method.as_bytes()).unwrap(),
            path: decode_path(raw_path).expect("path"),
            query: decode_query(raw_query).expect("query"),
            headers: map,
        }
    }

    pub fn from_json(r: &Value) -> Req {
        let headers: Vec<(&str, &str)> = r["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h[0].as_str().unwrap(), h[1].as_str().unwrap()))
            .collect();
        Req::new(
            r["method"].as_str().unwrap(),
            r["target"].as_str().unwrap(),
            &headers,
        )
    }

    pub fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
        }
    }

    fn set_header(&mut self, name: &str, value: &str) {
        self.headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
}

pub(crate) fn keys_with(secret: &str) -> KeyStore {
    KeyStore::new([Credential {
        secret_id: AK.into(),
        secret_key: SecretKey::new(secret),
        token: None,
        expires: None,
    }])
}

pub(crate) fn at(amz: &str) -> SystemTime {
    parse_amz_date(amz).expect("amz date")
}

fn check(req: &Req, now: SystemTime) -> Result<crate::auth::Verified, AuthError> {
    verify_request(
        &req.parts(),
        &keys_with(SECRET),
        now,
        &AuthOptions::default(),
    )
}

/// Every captured vector file (the `shared/vectors/s3/captured` copies).
pub(crate) fn vector_files() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/s3");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/s3")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

fn is_sigv4(v: &Value) -> bool {
    matches!(v["auth"].as_str(), Some("sigv4-header" | "sigv4-query"))
}

#[test]
fn amz_dates_round_trip() {
    for s in [
        "19700101T000000Z",
        "20130524T000000Z",
        "20250115T123456Z",
        "20240229T235959Z",
    ] {
        assert_eq!(format_amz_date(at(s)), s);
    }
    assert_eq!(
        at("20250115T123456Z"),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_736_944_496)
    );
    for bad in [
        "",
        "20250115T123456",
        "2025011XT123456Z",
        "20251315T000000Z",
        "20250115T250000Z",
        "+0250115T123456Z",
    ] {
        assert!(parse_amz_date(bad).is_none(), "{bad}");
    }
}

#[test]
fn every_captured_request_verifies() {
    let mut n = 0;
    for v in vector_files() {
        let auth = v["auth"].as_str().unwrap();
        if auth == "sigv4-post-policy" {
            // Browser POST: the signature is in the form, verified by
            // op::post_object::tests::captured_sigv4_post_policy_verifies.
            continue;
        }
        let now = at(v["inputs"]["time"].as_str().unwrap());
        for r in v["requests"].as_array().unwrap() {
            let req = Req::from_json(r);
            let got = check(&req, now).unwrap_or_else(|e| panic!("{}: {e:?}", v["id"]));
            let want = match auth {
                "sigv4-header" => Dialect::AwsV4Header,
                "sigv4-query" => Dialect::AwsV4Query,
                "sigv2-header" => Dialect::AwsV2Header,
                "sigv2-query" => Dialect::AwsV2Query,
                other => panic!("unknown auth {other}"),
            };
            assert_eq!(got.dialect, want, "{}", v["id"]);
            assert_eq!(got.identity.unwrap().secret_id, AK);
            // The payload the body pipeline will enforce.
            let sha = req
                .headers
                .get("x-amz-content-sha256")
                .map(|h| h.to_str().unwrap().to_string());
            match (&got.payload, sha.as_deref(), auth) {
                (Payload::Unsigned, _, "sigv4-query" | "sigv2-header" | "sigv2-query") => {}
                (Payload::Unsigned, Some("UNSIGNED-PAYLOAD"), _) => {}
                (Payload::Sha256(h), Some(hex), _) => {
                    assert_eq!(hex::encode(h), hex);
                    assert_eq!(hex, r["body"]["sha256"].as_str().unwrap(), "{}", v["id"]);
                }
                (Payload::Chunked(c), Some(mode), _) => {
                    assert_eq!(c.signing.is_some(), mode.starts_with("STREAMING-AWS4"));
                    assert_eq!(c.trailer, mode.ends_with("-TRAILER"));
                }
                other => panic!("{}: unexpected payload {other:?}", v["id"]),
            }
            n += 1;
        }
    }
    assert!(n >= 115, "only {n} captured requests checked");
}

/// Our canonical request equals botocore's own (from its debug log).
#[test]
fn canonical_request_matches_botocore() {
    let mut n = 0;
    for v in vector_files()
        .iter()
        .filter(|v| v["auth"] == "sigv4-header")
    {
        let now = at(v["inputs"]["time"].as_str().unwrap());
        for (i, r) in v["requests"].as_array().unwrap().iter().enumerate() {
            let ci = match v.get("client_intermediates_per_request") {
                Some(per) => &per[i],
                None => &v["client_intermediates"],
            };
            let Some(want) = ci.get("canonical_request").and_then(Value::as_str) else {
                continue;
            };
            let req = Req::from_json(r);
            let got = verify_request(
                &req.parts(),
                &keys_with("wrong"),
                now,
                &AuthOptions::default(),
            );
            let Err(AuthError::SignatureDoesNotMatch(d)) = got else {
                panic!("{}: {got:?}", v["id"]);
            };
            assert_eq!(d.canonical_request, want, "{}", v["id"]);
            assert_eq!(d.access_key, AK);
            n += 1;
        }
    }
    assert!(n >= 40, "only {n} canonical requests compared");
}

/// `s` with the character at byte `i` replaced by another one valid in hex and base64.
fn flip_at(s: &str, i: usize) -> String {
    let c = if &s[i..=i] == "0" { "1" } else { "0" };
    format!("{}{c}{}", &s[..i], &s[i + 1..])
}

fn is_mismatch(r: &Result<crate::auth::Verified, AuthError>) -> bool {
    matches!(
        r,
        Err(AuthError::SignatureDoesNotMatch(_) | AuthError::SignatureMismatch)
    )
}

/// One-byte and one-field changes are refused with the right error.
#[test]
fn mutations_are_rejected() {
    let mut n = 0;
    for v in vector_files() {
        let auth = v["auth"].as_str().unwrap();
        if auth == "sigv4-post-policy" {
            continue;
        }
        let id = v["id"].as_str().unwrap().to_string();
        let now = at(v["inputs"]["time"].as_str().unwrap());
        for r in v["requests"].as_array().unwrap() {
            let base = Req::from_json(r);
            // Path: last byte changed.
            let mut m = base.clone();
            let last = m.path.pop().unwrap();
            m.path.push(if last == 'x' { 'y' } else { 'x' });
            assert!(is_mismatch(&check(&m, now)), "{id}: path");
            // Query: an extra parameter.
            // (SigV2 signs only the sub-resources.)
            let mut m = base.clone();
            let added = if auth.starts_with("sigv2") {
                "acl"
            } else {
                "extra"
            };
            m.query.push((added.into(), "1".into()));
            assert!(is_mismatch(&check(&m, now)), "{id}: query added");
            // Wrong secret.
            let got = verify_request(
                &base.parts(),
                &keys_with("not-the-secret"),
                now,
                &AuthOptions::default(),
            );
            assert!(is_mismatch(&got), "{id}: wrong secret");
            // Unknown access key.
            let other = KeyStore::new([Credential {
                secret_id: "AKIDother".into(),
                secret_key: SecretKey::new(SECRET),
                token: None,
                expires: None,
            }]);
            let got = verify_request(&base.parts(), &other, now, &AuthOptions::default());
            assert_eq!(got.unwrap_err(), AuthError::UnknownKey, "{id}: unknown key");
            match auth {
                "sigv4-header" | "sigv2-header" => {
                    // Signature: last hex/base64 character flipped.
                    let mut m = base.clone();
                    let a = m.headers["authorization"].to_str().unwrap().to_string();
                    let i = if auth == "sigv2-header" {
                        a.find(':').unwrap() + 1
                    } else {
                        a.find("Signature=").unwrap() + "Signature=".len()
                    };
                    m.set_header("authorization", &flip_at(&a, i));
                    assert!(is_mismatch(&check(&m, now)), "{id}: signature");
                    // A signed header's value changed.
                    let mut m = base.clone();
                    let name = if auth == "sigv4-header" {
                        "x-amz-content-sha256"
                    } else {
                        "x-amz-date"
                    };
                    if let Some(value) =
                        m.headers.get(name).map(|v| v.to_str().unwrap().to_string())
                    {
                        let changed = if name == "x-amz-content-sha256" {
                            if value == "UNSIGNED-PAYLOAD" {
                                "0".repeat(64)
                            } else {
                                "UNSIGNED-PAYLOAD".into()
                            }
                        } else {
                            value.replace("GMT", "UTC")
                        };
                        m.set_header(name, &changed);
                        assert!(check(&m, now).is_err(), "{id}: header {name}");
                    }
                    // Time: shifted beyond the 15-minute window.
                    let later = now + Duration::from_secs(16 * 60);
                    assert_eq!(
                        check(&base, later).unwrap_err(),
                        AuthError::TooSkewed,
                        "{id}: skew"
                    );
                    let earlier = now - Duration::from_secs(16 * 60);
                    assert_eq!(
                        check(&base, earlier).unwrap_err(),
                        AuthError::TooSkewed,
                        "{id}: skew-"
                    );
                    // Within the window: fine.
                    assert!(
                        check(&base, now + Duration::from_secs(14 * 60)).is_ok(),
                        "{id}"
                    );
                }
                "sigv4-query" | "sigv2-query" => {
                    let sig_name = if auth == "sigv4-query" {
                        "X-Amz-Signature"
                    } else {
                        "Signature"
                    };
                    let mut m = base.clone();
                    for (n, v) in m.query.iter_mut() {
                        if n == sig_name {
                            *v = flip_at(v, 0);
                        }
                    }
                    assert!(is_mismatch(&check(&m, now)), "{id}: signature");
                    // Expired: one second past the end of the window.
                    let end = if auth == "sigv4-query" {
                        let get =
                            |k: &str| base.query.iter().find(|(n, _)| n == k).unwrap().1.clone();
                        at(&get("X-Amz-Date"))
                            + Duration::from_secs(get("X-Amz-Expires").parse().unwrap())
                    } else {
                        let e: u64 = base
                            .query
                            .iter()
                            .find(|(n, _)| n == "Expires")
                            .unwrap()
                            .1
                            .parse()
                            .unwrap();
                        SystemTime::UNIX_EPOCH + Duration::from_secs(e)
                    };
                    assert!(check(&base, end).is_ok(), "{id}: last valid second");
                    assert_eq!(
                        check(&base, end + Duration::from_secs(1)).unwrap_err(),
                        AuthError::Expired,
                        "{id}: expired"
                    );
                    if auth == "sigv4-query" {
                        // Not yet valid: more than the leeway before X-Amz-Date.
                        assert_eq!(
                            check(&base, now - Duration::from_secs(16 * 60)).unwrap_err(),
                            AuthError::NotYetValid,
                            "{id}"
                        );
                    }
                }
                _ => unreachable!("{auth}"),
            }
            n += 1;
        }
    }
    assert!(n >= 115);
}

/// "GET Object" from the AWS SigV4 documentation (header form).
#[test]
fn aws_documented_get_object() {
    let req = Req::new(
        "GET",
        "/test.txt",
        &[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", super::EMPTY_SHA256),
            ("x-amz-date", "20130524T000000Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
            ),
        ],
    );
    let v = check(&req, at("20130524T000000Z")).unwrap();
    assert!(matches!(v.payload, Payload::Sha256(_)));
}

/// The pre-signed "GET Object" from the AWS SigV4 query documentation.
#[test]
fn aws_documented_presigned_url() {
    let req = Req::new(
        "GET",
        "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
        &[("host", "examplebucket.s3.amazonaws.com")],
    );
    let v = check(&req, at("20130524T000000Z")).unwrap();
    assert_eq!(v.dialect, Dialect::AwsV4Query);
    assert!(matches!(v.payload, Payload::Unsigned));
}

/// The seed request of AWS's signed-chunk example (the chunks are checked in
/// `http::aws_chunked`).
#[test]
fn aws_documented_chunked_seed() {
    let req = documented_chunked_request();
    let v = check(&req, at("20130524T000000Z")).unwrap();
    let Payload::Chunked(c) = v.payload else {
        panic!("{:?}", v.payload)
    };
    assert!(!c.trailer);
    let s = c.signing.unwrap();
    assert_eq!(
        hex::encode(s.seed),
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    );
}

pub(crate) fn documented_chunked_request() -> Req {
    Req::new(
        "PUT",
        "/examplebucket/chunkObject.txt",
        &[
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("content-length", "66824"),
        ],
    )
}

fn sample() -> (Req, SystemTime) {
    (
        Req::new(
            "GET",
            "/test.txt",
            &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("range", "bytes=0-9"),
                ("x-amz-content-sha256", super::EMPTY_SHA256),
                ("x-amz-date", "20130524T000000Z"),
                ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
            ],
        ),
        at("20130524T000000Z"),
    )
}

/// Malformed headers and scopes get the S3 error for them.
#[test]
fn malformed_authorization_table() {
    let (base, now) = sample();
    let a = base.headers["authorization"].to_str().unwrap().to_string();
    type Check = fn(&AuthError) -> bool;
    let header_malformed: Check = |e| matches!(e, AuthError::HeaderMalformed(_));
    let table: Vec<(String, Check)> = vec![
        // wrong service
        (a.replace("/s3/", "/sts/"), header_malformed),
        // wrong terminator
        (a.replace("aws4_request", "aws5_request"), header_malformed),
        // scope date differs from x-amz-date
        (a.replace("/20130524/", "/20130525/"), header_malformed),
        // missing field
        (a.replace(", Signature=", ", Sig="), header_malformed),
        // host not signed
        (a.replace("host;range", "range"), header_malformed),
        // unsorted signed headers
        (a.replace("host;range", "range;host"), header_malformed),
        // short credential
        (
            a.replace("AKIAIOSFODNN7EXAMPLE/20130524/", "AKIAIOSFODNN7EXAMPLE/"),
            header_malformed,
        ),
        // a signed header the request lacks
        (
            a.replace("x-amz-date,", "x-amz-date;x-amz-meta-gone,"),
            |e| matches!(e, AuthError::SignatureDoesNotMatch(_)),
        ),
        // no spaces after commas is fine too, but a bad hex signature is a mismatch
        (a.replace("Signature=f0e8", "Signature=zze8"), |e| {
            matches!(e, AuthError::SignatureDoesNotMatch(_))
        }),
    ];
    for (value, ok) in table {
        let mut m = base.clone();
        m.set_header("authorization", &value);
        let e = check(&m, now).unwrap_err();
        assert!(ok(&e), "{value}: {e:?}");
    }
    // The spec's "," without spaces verifies like ", ".
    let mut m = base.clone();
    m.set_header("authorization", &a.replace(", ", ","));
    assert!(check(&m, now).is_ok());
    // x-amz-content-sha256 is required; garbage in it is an InvalidArgument.
    let mut m = base.clone();
    m.headers.remove("x-amz-content-sha256");
    assert!(matches!(check(&m, now), Err(AuthError::InvalidRequest(_))));
    for bad in ["STREAMING-UNSIGNED-PAYLOAD", "abc", &"g".repeat(64)] {
        let mut m = base.clone();
        m.set_header("x-amz-content-sha256", bad);
        assert!(
            matches!(check(&m, now), Err(AuthError::InvalidArgument(_))),
            "{bad}"
        );
    }
    // Header and query auth together.
    let mut m = base.clone();
    m.query.push(("X-Amz-Signature".into(), "00".into()));
    assert!(matches!(check(&m, now), Err(AuthError::InvalidArgument(_))));
}

#[test]
fn strict_region_is_optional() {
    let (req, now) = sample();
    let strict = |region: &str| AuthOptions {
        strict_region: Some(region.into()),
        ..AuthOptions::default()
    };
    assert!(verify_request(&req.parts(), &keys_with(SECRET), now, &strict("us-east-1")).is_ok());
    assert!(matches!(
        verify_request(
            &req.parts(),
            &keys_with(SECRET),
            now,
            &strict("ap-guangzhou")
        ),
        Err(AuthError::HeaderMalformed(_))
    ));
}

#[test]
fn presigned_expires_bounds() {
    let base = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    for bad in ["0", "604801", "-1", "abc", "+5", ""] {
        let req = Req::new(
            "GET",
            &format!("{base}&X-Amz-Expires={bad}"),
            &[("host", "examplebucket.s3.amazonaws.com")],
        );
        let e = check(&req, at("20130524T000000Z")).unwrap_err();
        assert!(matches!(e, AuthError::QueryMalformed(_)), "{bad}: {e:?}");
    }
    // Missing parameter.
    let req = Req::new("GET", base, &[("host", "examplebucket.s3.amazonaws.com")]);
    assert!(matches!(
        check(&req, at("20130524T000000Z")),
        Err(AuthError::QueryMalformed(_))
    ));
    // Other algorithm.
    let req = Req::new(
        "GET",
        &base.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
        &[("host", "examplebucket.s3.amazonaws.com")],
    );
    assert!(matches!(
        check(&req, at("20130524T000000Z")),
        Err(AuthError::QueryMalformed(_))
    ));
}

/// Host signed without the port while the request carries one (a proxy), and
/// the other way round: the retry with the port stripped.
#[test]
fn host_with_and_without_port() {
    let (mut req, now) = sample();
    req.set_header("host", "examplebucket.s3.amazonaws.com:9000");
    assert!(check(&req, now).is_ok());
}

#[test]
fn temporary_credentials_need_their_token() {
    let (req, now) = sample();
    let keys = KeyStore::new([Credential {
        secret_id: AK.into(),
        secret_key: SecretKey::new(SECRET),
        token: Some("tok".into()),
        expires: None,
    }]);
    let opts = AuthOptions::default();
    assert_eq!(
        verify_request(&req.parts(), &keys, now, &opts).unwrap_err(),
        AuthError::TokenMismatch
    );
    let mut with = req.clone();
    with.set_header("x-amz-security-token", "tok");
    // The token header is not signed here, so the signature still verifies.
    assert!(verify_request(&with.parts(), &keys, now, &opts).is_ok());
}

/// The auth parameters of each AWS dialect are stripped; OSS-style names are not.
#[test]
fn is_auth_param_per_dialect() {
    use crate::auth::is_auth_param;
    for name in super::QUERY_PARAMS
        .iter()
        .chain(super::super::aws_v2::QUERY_PARAMS.iter())
    {
        assert!(is_auth_param(Dialect::AwsV4Query, name), "{name}");
        assert!(is_auth_param(Dialect::AwsV2Header, name), "{name}");
        assert!(!is_auth_param(Dialect::CosHeader, name), "{name}");
    }
    for name in [
        "x-id",
        "versionId",
        "X-Amz-Content-Sha256",
        "response-content-type",
        "q-signature",
    ] {
        assert!(!is_auth_param(Dialect::AwsV4Query, name), "{name}");
    }
    assert!(is_auth_param(Dialect::CosQuery, "q-signature"));
}

#[test]
fn empty_body_hash_constant() {
    assert_eq!(hex::encode(Sha256::digest(b"")), super::EMPTY_SHA256);
}

#[test]
fn only_sigv4_vectors_give_chunked_payloads() {
    for v in vector_files().iter().filter(|v| !is_sigv4(v)) {
        let now = at(v["inputs"]["time"].as_str().unwrap());
        for r in v["requests"].as_array().unwrap() {
            if v["auth"] == "sigv4-post-policy" {
                continue;
            }
            let got = check(&Req::from_json(r), now).unwrap();
            assert!(matches!(got.payload, Payload::Unsigned), "{}", v["id"]);
        }
    }
}
