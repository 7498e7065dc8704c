//! Golden vectors for the OSS V4 and V1 verifiers: 72 requests captured from
//! oss2 2.19.1, alibabacloud-oss-v2 1.4.1 and ali-oss 6.23.0 (copies of
//! `shared/vectors/oss/captured` in `tests/fixtures/oss`). Every request is
//! rebuilt the way the server sees it (path and query decoded, target resolved
//! with `target::resolve_in(Family::Oss, …)`), must verify, must reproduce
//! oss2's own canonical request and string to sign where oss2 logged them, and
//! must be refused after each one-byte mutation of `verify_oss.py`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::Value;

use super::{
    oss_v1, oss_v4, verify_resource, AuthError, AuthOptions, Credential, Dialect, KeyStore,
    RequestParts, Resource, SecretKey,
};
use crate::http::query::{decode_path, decode_query};
use crate::http::target::{self, Addressing, Target};

fn fixtures() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/oss");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read vector");
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_str(&text).expect("vector is JSON"))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Addressing as the captures need it: `static.localhost` is a CNAME for
/// `examplebucket`; `*.oss-cn-hangzhou.{localhost,aliyuncs.com}` are built in.
fn addressing() -> Addressing {
    Addressing {
        appid: "1250000000".into(),
        region: "ap-guangzhou".into(),
        base_domains: vec![],
        service_hosts: vec![],
        domains: HashMap::from([("static.localhost".to_string(), "examplebucket".to_string())]),
        default_bucket: None,
    }
}

/// A request as the server holds it after decoding.
struct Req {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    target: Result<Target, String>,
}

impl Req {
    fn new(method: &str, raw_target: &str, headers: &[(String, String)]) -> Req {
        let (raw_path, raw_query) = raw_target.split_once('?').unwrap_or((raw_target, ""));
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                HeaderName::from_bytes(n.as_bytes()).expect("header name"),
                HeaderValue::from_bytes(v.as_bytes()).expect("header value"),
            );
        }
        let path = decode_path(raw_path).expect("path decodes");
        let host = map
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let target = target::resolve_for(&host, &path, &addressing(), super::Family::Oss)
            .map_err(|e| format!("{e:?}"));
        Req {
            method: Method::from_bytes(method.as_bytes()).expect("method"),
            path,
            query: decode_query(raw_query).expect("query decodes"),
            headers: map,
            target,
        }
    }

    fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
        }
    }

    fn verify(&self, keys: &KeyStore, now: SystemTime) -> Result<Dialect, String> {
        let target = self.target.as_ref().map_err(Clone::clone)?;
        verify_resource(
            &self.parts(),
            Resource::of(target),
            keys,
            now,
            &AuthOptions::default(),
        )
        .map(|v| v.dialect)
        .map_err(|e| e.to_string())
    }
}

struct Vector {
    name: String,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    keys: KeyStore,
    now: SystemTime,
    auth: String,
    intermediates: Value,
}

impl Vector {
    fn req(&self) -> Req {
        Req::new(&self.method, &self.target, &self.headers)
    }
}

fn vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    for (name, v) in fixtures() {
        let inputs = &v["inputs"];
        let keys = KeyStore::new([Credential {
            secret_id: inputs["access_key_id"].as_str().unwrap().into(),
            secret_key: SecretKey::new(inputs["access_key_secret"].as_str().unwrap()),
            token: None,
            expires: None,
        }]);
        let now = UNIX_EPOCH + Duration::from_secs(inputs["epoch"].as_u64().unwrap());
        for (i, r) in v["requests"].as_array().unwrap().iter().enumerate() {
            let headers = r["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
                .collect();
            out.push(Vector {
                name: format!("{name}[{i}]"),
                method: r["method"].as_str().unwrap().into(),
                target: r["target"].as_str().unwrap().into(),
                headers,
                keys: keys.clone(),
                now,
                auth: v["auth"].as_str().unwrap().into(),
                intermediates: v["client_intermediates"].clone(),
            });
        }
    }
    out
}

#[test]
fn every_captured_request_verifies() {
    let all = vectors();
    assert_eq!(all.len(), 72, "72 captured requests");
    let mut by_scheme: HashMap<&str, usize> = HashMap::new();
    for v in &all {
        let dialect = v
            .req()
            .verify(&v.keys, v.now)
            .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        let want = match v.auth.as_str() {
            "oss4-header" => Dialect::OssV4Header,
            "oss4-query" => Dialect::OssV4Query,
            "oss1-header" => Dialect::OssV1Header,
            "oss1-query" => Dialect::OssV1Query,
            other => panic!("{}: unknown auth {other}", v.name),
        };
        assert_eq!(dialect, want, "{}", v.name);
        *by_scheme.entry(v.auth.as_str()).or_default() += 1;
    }
    // README: V4 query 23, V4 header 25, V1 query 14, V1 header 10.
    assert_eq!(by_scheme["oss4-query"], 23);
    assert_eq!(by_scheme["oss4-header"], 25);
    assert_eq!(by_scheme["oss1-query"], 14);
    assert_eq!(by_scheme["oss1-header"], 10);
}

#[test]
fn intermediates_match_the_clients_own() {
    let mut checked = 0;
    for v in vectors() {
        let req = v.req();
        let parts = req.parts();
        let resource = Resource::of(req.target.as_ref().unwrap());
        let want_creq = v.intermediates["canonical_request"].as_str().unwrap_or("");
        let want_sts = v.intermediates["string_to_sign"].as_str().unwrap_or("");
        let (creq, sts) = if v.auth.starts_with("oss4") {
            let auth = oss_v4::OssV4Auth::find(&parts).unwrap();
            let creq = oss_v4::canonical_request(&parts, resource, &auth).unwrap();
            let sts = oss_v4::string_to_sign(&auth, &creq);
            (String::from_utf8(creq).unwrap(), sts)
        } else {
            let auth = oss_v1::OssV1Auth::find(&parts).unwrap();
            let sts = oss_v1::string_to_sign(&parts, resource, &auth);
            (String::new(), String::from_utf8(sts).unwrap())
        };
        if !want_creq.is_empty() {
            assert_eq!(creq, want_creq, "{}: canonical request", v.name);
            checked += 1;
        }
        if !want_sts.is_empty() {
            assert_eq!(sts, want_sts, "{}: string to sign", v.name);
            checked += 1;
        }
    }
    assert!(checked >= 41, "only {checked} intermediates compared");
}

/// The one-byte changes of `verify_oss.py`'s `mutations()`.
fn mutations(v: &Vector) -> Vec<(String, Req)> {
    let mut out = Vec::new();
    let flip = |c: char, a: char, b: char| if c != a { a } else { b };
    let (path, query) = match v.target.split_once('?') {
        Some((p, q)) => (p.to_string(), format!("?{q}")),
        None => (v.target.clone(), String::new()),
    };
    // The last byte of the path.
    let last = path.chars().last().unwrap();
    let mut p = path[..path.len() - last.len_utf8()].to_string();
    p.push(flip(last, 'x', 'y'));
    out.push((
        "path".into(),
        Req::new(&v.method, &format!("{p}{query}"), &v.headers),
    ));
    let with_headers = |headers: Vec<(String, String)>| Req::new(&v.method, &v.target, &headers);
    if v.auth.ends_with("header") {
        let mut h = v.headers.clone();
        for (n, val) in h.iter_mut() {
            if n.eq_ignore_ascii_case("authorization") {
                let mut chars: Vec<char> = val.chars().collect();
                let i = chars.len() - 2;
                chars[i] = flip(chars[i], '0', '1');
                *val = chars.into_iter().collect();
            }
        }
        out.push(("signature".into(), with_headers(h)));
        let mut h = v.headers.clone();
        if let Some((_, val)) = h
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case("x-oss-date") || n.eq_ignore_ascii_case("date"))
        {
            *val = val.replacen("56", "57", 1);
        }
        out.push(("date".into(), with_headers(h)));
    } else {
        let t = &v.target;
        let i = t.find("ignature=").unwrap() + "ignature=".len();
        let c = t[i..].chars().next().unwrap();
        let mutated = format!("{}{}{}", &t[..i], flip(c, '0', '1'), &t[i + 1..]);
        out.push((
            "signature".into(),
            Req::new(&v.method, &mutated, &v.headers),
        ));
        for pname in ["x-oss-expires=", "Expires="] {
            if let Some(j) = t.find(pname) {
                let j = j + pname.len();
                let c = t[j..].chars().next().unwrap();
                let mutated = format!("{}{}{}", &t[..j], flip(c, '1', '2'), &t[j + 1..]);
                out.push(("expiry".into(), Req::new(&v.method, &mutated, &v.headers)));
                break;
            }
        }
    }
    // One signed header: x-oss-meta-*, content-type or an additional header.
    let additional = v
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, a)| a.split("AdditionalHeaders=").nth(1))
        .map(|rest| rest.split(',').next().unwrap_or("").to_ascii_lowercase())
        .or_else(|| {
            v.target
                .split("x-oss-additional-headers=")
                .nth(1)
                .map(|rest| {
                    rest.split('&')
                        .next()
                        .unwrap_or("")
                        .replace("%3B", ";")
                        .to_ascii_lowercase()
                })
        })
        .unwrap_or_default();
    let additional: Vec<&str> = additional.split(';').filter(|s| !s.is_empty()).collect();
    if let Some((name, _)) = v.headers.iter().find(|(n, _)| {
        let n = n.to_ascii_lowercase();
        n.starts_with("x-oss-meta-") || n == "content-type" || additional.contains(&n.as_str())
    }) {
        let mut h = v.headers.clone();
        for (n, val) in h.iter_mut() {
            if n.eq_ignore_ascii_case(name) {
                let last = val.chars().last().unwrap();
                val.pop();
                val.push(flip(last, 'X', 'Y'));
            }
        }
        out.push((format!("header {name}"), with_headers(h)));
    }
    out
}

#[test]
fn every_mutation_is_refused() {
    let mut refused = 0;
    for v in vectors() {
        let muts = mutations(&v);
        assert!(muts.len() >= 3, "{}: only {} mutations", v.name, muts.len());
        for (what, req) in muts {
            if let Ok(d) = req.verify(&v.keys, v.now) {
                panic!(
                    "{}: still verifies ({d:?}) after a change in {what}",
                    v.name
                );
            }
            refused += 1;
        }
    }
    assert!(refused > 72 * 3, "{refused}");
}

fn find(name: &str) -> Vector {
    vectors()
        .into_iter()
        .find(|v| v.name == format!("{name}[0]"))
        .unwrap_or_else(|| panic!("no vector {name}"))
}

fn err(v: &Vector, now: SystemTime) -> AuthError {
    let req = v.req();
    verify_resource(
        &req.parts(),
        Resource::of(req.target.as_ref().unwrap()),
        &v.keys,
        now,
        &AuthOptions::default(),
    )
    .unwrap_err()
}

#[test]
fn time_windows() {
    // V4 pre-signed, 600 s: valid through x-oss-date + 600, expired after.
    let v = find("oss2-v4-sign-url-get");
    assert!(v
        .req()
        .verify(&v.keys, v.now + Duration::from_secs(600))
        .is_ok());
    assert_eq!(
        err(&v, v.now + Duration::from_secs(601)),
        AuthError::Expired
    );
    assert_eq!(
        err(&v, v.now - Duration::from_secs(901)),
        AuthError::NotYetValid
    );
    // alibabacloud-oss-v2's 7-day URL.
    let v = find("ossv2-presign-get-7days");
    assert!(v
        .req()
        .verify(&v.keys, v.now + Duration::from_secs(604_800))
        .is_ok());
    assert_eq!(
        err(&v, v.now + Duration::from_secs(604_801)),
        AuthError::Expired
    );
    // V4 header: ±15 minutes.
    let v = find("oss2-v4-get-object");
    assert!(v
        .req()
        .verify(&v.keys, v.now + Duration::from_secs(900))
        .is_ok());
    assert_eq!(
        err(&v, v.now + Duration::from_secs(901)),
        AuthError::TooSkewed
    );
    assert_eq!(
        err(&v, v.now - Duration::from_secs(901)),
        AuthError::TooSkewed
    );
    // V1 pre-signed: Expires is absolute.
    let v = find("oss2-v1-sign-url-get");
    let expires: u64 = v
        .target
        .split("Expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
    assert!(v.req().verify(&v.keys, at(expires)).is_ok());
    assert_eq!(err(&v, at(expires + 1)), AuthError::Expired);
    // V1 header: ±15 minutes around Date.
    let v = find("oss2-v1-get-object");
    assert_eq!(
        err(&v, v.now + Duration::from_secs(901)),
        AuthError::TooSkewed
    );
    assert_eq!(
        err(&v, v.now - Duration::from_secs(901)),
        AuthError::TooSkewed
    );
}

#[test]
fn unknown_key_and_malformed_fields() {
    let v = find("oss2-v4-get-object");
    let req = v.req();
    let other = KeyStore::new([]);
    assert_eq!(
        verify_resource(
            &req.parts(),
            Resource::of(req.target.as_ref().unwrap()),
            &other,
            v.now,
            &AuthOptions::default()
        )
        .unwrap_err(),
        AuthError::UnknownKey
    );
    let replace_header = |name: &str, f: &dyn Fn(&str) -> String| {
        let headers: Vec<(String, String)> = v
            .headers
            .iter()
            .map(|(n, val)| {
                if n.eq_ignore_ascii_case(name) {
                    (n.clone(), f(val))
                } else {
                    (n.clone(), val.clone())
                }
            })
            .collect();
        Req::new(&v.method, &v.target, &headers)
    };
    let malformed = |req: Req, what: &str| {
        let got = verify_resource(
            &req.parts(),
            Resource::of(req.target.as_ref().unwrap()),
            &v.keys,
            v.now,
            &AuthOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(got, AuthError::Malformed(_)), "{what}: {got:?}");
    };
    malformed(
        replace_header("authorization", &|a| {
            a.replace("aliyun_v4_request", "aws4_request")
        }),
        "scope terminator",
    );
    malformed(
        replace_header("authorization", &|a| format!("{a},AdditionalHeaders=")),
        "empty AdditionalHeaders",
    );
    malformed(
        replace_header("authorization", &|a| {
            format!("{a},AdditionalHeaders=host;;x")
        }),
        "empty name in AdditionalHeaders",
    );
    malformed(
        replace_header("authorization", &|a| {
            format!("{a},AdditionalHeaders=x-absent")
        }),
        "absent additional header",
    );
    let req = replace_header("x-oss-content-sha256", &|_| {
        "e3b0c44298fc1c149afbf4c8996fb924".into()
    });
    let got = verify_resource(
        &req.parts(),
        Resource::of(req.target.as_ref().unwrap()),
        &v.keys,
        v.now,
        &AuthOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(got, AuthError::InvalidArgument(_)), "{got:?}");
    malformed(
        replace_header("x-oss-date", &|_| "2025-01-15T12:34:56Z".into()),
        "date format",
    );
    malformed(
        replace_header("authorization", &|a| a.replace("/20250115/", "/20250116/")),
        "scope date differs",
    );
    // Pre-signed: x-oss-expires outside 1..=604800.
    let v = find("oss2-v4-sign-url-get");
    for bad in ["0", "604801", "-1", "1e3"] {
        let t = v
            .target
            .replace("x-oss-expires=600", &format!("x-oss-expires={bad}"));
        let req = Req::new(&v.method, &t, &v.headers);
        let got = verify_resource(
            &req.parts(),
            Resource::of(req.target.as_ref().unwrap()),
            &v.keys,
            v.now,
            &AuthOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(got, AuthError::Malformed(_)), "{bad}: {got:?}");
    }
}

#[test]
fn temporary_keys_need_their_token() {
    let v = find("oss2-v4-get-object");
    let secret_id = "LTAI5tExampleAccessKeyId";
    let temp = KeyStore::new([Credential {
        secret_id: secret_id.into(),
        secret_key: SecretKey::new(
            v.keys
                .lookup(secret_id)
                .unwrap()
                .secret_key
                .expose()
                .to_string(),
        ),
        token: Some("tok".into()),
        expires: None,
    }]);
    let req = v.req();
    assert_eq!(
        verify_resource(
            &req.parts(),
            Resource::of(req.target.as_ref().unwrap()),
            &temp,
            v.now,
            &AuthOptions::default()
        )
        .unwrap_err(),
        AuthError::TokenMismatch
    );
}

#[test]
fn auth_params_are_stripped_per_dialect() {
    use super::is_auth_param;
    for name in [
        "x-oss-signature-version",
        "x-oss-credential",
        "x-oss-date",
        "x-oss-expires",
        "x-oss-signature",
        "x-oss-additional-headers",
        "x-oss-security-token",
    ] {
        assert!(is_auth_param(Dialect::OssV4Query, name), "{name}");
        assert!(!is_auth_param(Dialect::OssV1Query, name), "{name}");
    }
    for name in ["OSSAccessKeyId", "Expires", "Signature", "security-token"] {
        assert!(is_auth_param(Dialect::OssV1Query, name), "{name}");
        assert!(!is_auth_param(Dialect::OssV4Query, name), "{name}");
    }
    for name in [
        "versionId",
        "response-content-disposition",
        "x-oss-traffic-limit",
    ] {
        assert!(!is_auth_param(Dialect::OssV4Query, name), "{name}");
        assert!(!is_auth_param(Dialect::OssV1Query, name), "{name}");
    }
    assert!(!is_auth_param(Dialect::OssV4Header, "x-oss-date"));
}

#[test]
fn strict_region_is_optional() {
    let v = find("oss2-v4-get-object");
    let req = v.req();
    let check = |region: &str| {
        verify_resource(
            &req.parts(),
            Resource::of(req.target.as_ref().unwrap()),
            &v.keys,
            v.now,
            &AuthOptions {
                strict_region: Some(region.into()),
                ..AuthOptions::default()
            },
        )
    };
    assert!(check("cn-hangzhou").is_ok());
    assert!(matches!(
        check("ap-guangzhou"),
        Err(AuthError::Malformed(_))
    ));
}
