//! Table tests for the COS q-sign verifier
//! (https://cloud.tencent.com/document/product/436/7778): control flow around
//! the signing steps, which `vectors_test.rs` pins to the SDK golden vectors.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::vectors_test::Request;
use super::*;
use crate::auth::SecretKey;

const AK: &str = "AKIDtestSecretId";
const SK: &str = "testSecretKey0123456789abcdef";
const HOST_VALUE: &str = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com";
const NOW: u64 = 1_700_000_000;
const WINDOW: &str = "1699999940;1700010000";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn keys() -> KeyStore {
    KeyStore::new([Credential {
        secret_id: AK.into(),
        secret_key: SecretKey::new(SK),
        token: None,
        expires: None,
    }])
}

fn fields(times: &str, header_list: &str, param_list: &str, signature: &str) -> String {
    format!(
        "q-sign-algorithm=sha1&q-ak={AK}&q-sign-time={times}&q-key-time={times}\
         &q-header-list={header_list}&q-url-param-list={param_list}&q-signature={signature}"
    )
}

/// Signs `req` with the same steps the verifier uses (the golden vectors
/// anchor those steps; these tests exercise the control flow around them).
fn sign(
    req: &Request,
    secret: &str,
    times: &str,
    header_list: &str,
    param_list: &str,
    host: Option<&str>,
) -> String {
    let window = Window::parse("t", times).unwrap();
    let auth = CosAuthorization {
        ak: AK,
        sign_time: times,
        key_time: times,
        sign_window: window,
        key_window: window,
        header_list,
        param_list,
        signature: "",
    };
    let mut http_string = Vec::new();
    write_http_string(
        &mut http_string,
        &req.parts(),
        &auth,
        host.map(str::as_bytes),
    )
    .unwrap();
    let sig = signature(
        &sign_key_hex(secret, times),
        times,
        &Sha1::digest(&http_string).into(),
    );
    fields(times, header_list, param_list, &hex::encode(sig))
}

/// `GET /dir/a b.txt?versionId=v1` with Host, Range and `auth` in the header.
fn header_request(auth: &str) -> Request {
    Request::from_raw(
        "GET",
        "/dir/a%20b.txt?versionId=v1&extra=unsigned",
        &[
            ("Host", HOST_VALUE),
            ("Range", "bytes=0-9"),
            ("User-Agent", "t"),
            ("Authorization", auth),
        ],
    )
}

fn signed_header_request(times: &str) -> Request {
    let auth = sign(
        &header_request(""),
        SK,
        times,
        "host;range",
        "versionid",
        None,
    );
    header_request(&auth)
}

fn check(req: &Request) -> Result<Identity, AuthError> {
    verify(&req.parts(), &keys(), now(), &AuthOptions::default())
}

#[test]
fn is_auth_param_table() {
    for name in Q_FIELDS
        .iter()
        .copied()
        .chain(["sign", "SIGN", "Q-Signature", "q-AK"])
    {
        assert!(is_auth_param(name), "{name}");
    }
    for name in [
        "x-cos-security-token",
        "signature",
        "q-sign",
        "versionId",
        "",
        "q-ak2",
    ] {
        assert!(!is_auth_param(name), "{name}");
    }
}

#[test]
fn detect_table() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Dialect);
    let cases: &[Case] = &[
        ("/a", &[], Dialect::Anonymous),
        ("/a", &[("Authorization", "")], Dialect::Anonymous),
        (
            "/a",
            &[("Authorization", "q-sign-algorithm=sha1")],
            Dialect::CosHeader,
        ),
        ("/a?q-signature=x", &[], Dialect::CosQuery),
        ("/a?sign=q-ak%3Dx", &[], Dialect::CosQuery),
        ("/a?versionId=1&acl", &[], Dialect::Anonymous),
        (
            "/a?q-ak=x",
            &[("Authorization", "q-ak=y")],
            Dialect::CosHeader,
        ),
    ];
    for (target, headers, want) in cases {
        let req = Request::from_raw("GET", target, headers);
        assert_eq!(detect(&req.parts()), *want, "{target} {headers:?}");
    }
}

#[test]
fn empty_authorization_is_anonymous() {
    let req = header_request("");
    assert_eq!(
        crate::auth::verify(&req.parts(), &keys(), now(), &AuthOptions::default()),
        Ok(None)
    );
}

#[test]
fn header_signature_verifies() {
    let req = signed_header_request(WINDOW);
    assert_eq!(
        check(&req),
        Ok(Identity {
            secret_id: AK.into()
        })
    );
    assert_eq!(
        crate::auth::verify(&req.parts(), &keys(), now(), &AuthOptions::default())
            .unwrap()
            .unwrap()
            .secret_id,
        AK
    );
}

#[test]
fn missing_required_field_is_malformed() {
    let good = signed_header_request(WINDOW);
    let auth = good.headers["authorization"].to_str().unwrap().to_owned();
    for field in [
        "q-sign-algorithm",
        "q-ak",
        "q-sign-time",
        "q-key-time",
        "q-signature",
    ] {
        let without: Vec<&str> = auth
            .split('&')
            .filter(|f| !f.starts_with(&format!("{field}=")))
            .collect();
        let req = header_request(&without.join("&"));
        assert!(
            matches!(check(&req), Err(AuthError::Malformed(m)) if m.contains(field)),
            "{field}"
        );
    }
    assert!(matches!(
        check(&header_request("garbage")),
        Err(AuthError::Malformed(_))
    ));
}

#[test]
fn absent_lists_mean_empty_lists() {
    let req = header_request("");
    let auth = sign(&req, SK, WINDOW, "", "", None);
    let without: Vec<&str> = auth
        .split('&')
        .filter(|f| !f.starts_with("q-header-list=") && !f.starts_with("q-url-param-list="))
        .collect();
    assert!(check(&header_request(&without.join("&"))).is_ok());
}

#[test]
fn fields_in_any_order_and_duplicates() {
    let good = signed_header_request(WINDOW);
    let auth = good.headers["authorization"].to_str().unwrap().to_owned();
    let mut reversed: Vec<&str> = auth.split('&').collect();
    reversed.reverse();
    assert!(check(&header_request(&reversed.join("&"))).is_ok());
    let twice = format!("{auth}&q-ak={AK}");
    assert!(
        matches!(check(&header_request(&twice)), Err(AuthError::Malformed(m)) if m.contains("twice"))
    );
}

#[test]
fn algorithm_must_be_sha1() {
    let good = signed_header_request(WINDOW);
    let auth = good.headers["authorization"].to_str().unwrap();
    for alg in ["sha256", "SHA1", "hmac-sha1", ""] {
        let req = header_request(
            &auth.replace("q-sign-algorithm=sha1", &format!("q-sign-algorithm={alg}")),
        );
        assert!(matches!(check(&req), Err(AuthError::Malformed(_))), "{alg}");
    }
}

#[test]
fn wrong_secret_and_unknown_key() {
    let auth = sign(
        &header_request(""),
        "anotherSecret",
        WINDOW,
        "host;range",
        "versionid",
        None,
    );
    assert_eq!(
        check(&header_request(&auth)),
        Err(AuthError::SignatureMismatch)
    );
    let auth = sign(
        &header_request(""),
        SK,
        WINDOW,
        "host;range",
        "versionid",
        None,
    )
    .replace(AK, "AKIDother");
    assert_eq!(check(&header_request(&auth)), Err(AuthError::UnknownKey));
}

#[test]
fn time_window_edges() {
    let leeway = AuthOptions::default().leeway.as_secs();
    let cases: &[(String, Result<(), AuthError>)] = &[
        (format!("{};{}", NOW - 60, NOW), Ok(())),
        (format!("{};{}", NOW - 60, NOW - 1), Err(AuthError::Expired)),
        (format!("{};{}", NOW, NOW), Ok(())),
        (format!("{};{}", NOW + leeway, NOW + 3600), Ok(())),
        (
            format!("{};{}", NOW + leeway + 1, NOW + 3600),
            Err(AuthError::NotYetValid),
        ),
    ];
    for (times, want) in cases {
        let got = check(&signed_header_request(times)).map(|_| ());
        assert_eq!(&got, want, "{times}");
    }
    // Only the key window expired.
    let req = signed_header_request(WINDOW);
    let auth = req.headers["authorization"].to_str().unwrap();
    let req = header_request(&auth.replace(
        &format!("q-key-time={WINDOW}"),
        &format!("q-key-time=1;{}", NOW - 1),
    ));
    assert_eq!(check(&req), Err(AuthError::Expired));
    // A larger leeway admits a start further ahead.
    let ahead = signed_header_request(&format!("{};{}", NOW + 1000, NOW + 3600));
    let opts = AuthOptions {
        leeway: Duration::from_secs(1000),
        ..AuthOptions::default()
    };
    assert!(verify(&ahead.parts(), &keys(), now(), &opts).is_ok());
}

#[test]
fn malformed_times() {
    let good = signed_header_request(WINDOW);
    let auth = good.headers["authorization"].to_str().unwrap();
    for bad in [
        "1700000000",
        "abc;def",
        "1700000300;1700000000",
        ";1700000000",
        "-1;5",
        "1;2;3",
        "1%3B2",
    ] {
        let req = header_request(&auth.replace(
            &format!("q-sign-time={WINDOW}"),
            &format!("q-sign-time={bad}"),
        ));
        assert!(matches!(check(&req), Err(AuthError::Malformed(_))), "{bad}");
    }
}

#[test]
fn listed_but_absent_is_malformed_and_unlisted_extras_are_tolerated() {
    let good = signed_header_request(WINDOW);
    let auth = good.headers["authorization"].to_str().unwrap().to_owned();

    let mut no_range = header_request(&auth);
    no_range.headers.remove("range");
    assert!(matches!(check(&no_range), Err(AuthError::Malformed(m)) if m.contains("range")));

    let mut no_param = header_request(&auth);
    no_param.query.retain(|(n, _)| n != "versionId");
    assert!(matches!(check(&no_param), Err(AuthError::Malformed(m)) if m.contains("versionid")));

    let mut extras = header_request(&auth);
    extras
        .query
        .push(("response-content-type".into(), "text/plain".into()));
    extras
        .headers
        .insert("x-cos-meta-unsigned", HeaderValue::from_static("yes"));
    extras
        .headers
        .insert("content-type", HeaderValue::from_static("text/plain"));
    assert!(check(&extras).is_ok());

    let mut changed = header_request(&auth);
    changed
        .headers
        .insert("range", HeaderValue::from_static("bytes=0-10"));
    assert_eq!(check(&changed), Err(AuthError::SignatureMismatch));
}

#[test]
fn signature_hex_case_and_garbage() {
    let good = signed_header_request(WINDOW);
    let auth = good.headers["authorization"].to_str().unwrap();
    let (head, sig) = auth.split_once("q-signature=").unwrap();
    assert!(check(&header_request(&format!(
        "{head}q-signature={}",
        sig.to_ascii_uppercase()
    )))
    .is_ok());
    for bad in ["", "zz", &sig[..38], &format!("{sig}00"), &"g".repeat(40)] {
        let req = header_request(&format!("{head}q-signature={bad}"));
        assert_eq!(check(&req), Err(AuthError::SignatureMismatch), "{bad:?}");
    }
}

#[test]
fn listed_names_are_case_insensitive() {
    let req = header_request("");
    let auth = sign(&req, SK, WINDOW, "host;range", "versionid", None);
    let upper = auth
        .replace("q-header-list=host;range", "q-header-list=Host;RANGE")
        .replace("versionid", "versionId");
    assert!(check(&header_request(&upper)).is_ok());
}

/// Pre-signed: q-* in the query (`;` sent as `%3B`, `%3b` or raw), and
/// the merged `?sign=` form, the token and user params riding along.
#[test]
fn query_and_merged_forms() {
    let base = Request::from_raw(
        "GET",
        "/dir/a%20b.txt?versionId=v1",
        &[("Host", HOST_VALUE)],
    );
    let auth = sign(&base, SK, WINDOW, "host", "versionid", None);
    let encoded: String = auth
        .split('&')
        .map(|f| f.replace(';', "%3B"))
        .collect::<Vec<_>>()
        .join("&");
    for query in [auth.clone(), encoded.clone(), encoded.replace("%3B", "%3b")] {
        let target = format!("/dir/a%20b.txt?{query}&versionId=v1&x-cos-security-token=ignored");
        let req = Request::from_raw("GET", &target, &[("Host", HOST_VALUE)]);
        assert_eq!(detect(&req.parts()), Dialect::CosQuery);
        assert!(check(&req).is_ok(), "{query}");
    }
    let merged = crate::auth::canonical::encode(&auth);
    let req = Request::from_raw(
        "GET",
        &format!("/dir/a%20b.txt?versionId=v1&sign={merged}"),
        &[("Host", HOST_VALUE)],
    );
    assert_eq!(detect(&req.parts()), Dialect::CosQuery);
    assert!(check(&req).is_ok());
    // Query q-* win over `sign`; a tampered merged string fails.
    let bad = crate::auth::canonical::encode(&auth.replace("host", "range"));
    let req = Request::from_raw(
        "GET",
        &format!("/dir/a%20b.txt?versionId=v2&sign={bad}"),
        &[("Host", HOST_VALUE)],
    );
    assert!(check(&req).is_err());
}

#[test]
fn host_retry_strips_port_and_lower_cases() {
    let sent_host = "Bucket-1250000000.Example.COM:9000";
    let base = Request::from_raw("GET", "/k", &[("Host", sent_host)]);
    for signed in [None, Some("bucket-1250000000.example.com")] {
        let auth = sign(&base, SK, WINDOW, "host", "", signed);
        let req = Request::from_raw(
            "GET",
            "/k",
            &[("Host", sent_host), ("Authorization", &auth)],
        );
        assert!(check(&req).is_ok(), "{signed:?}");
    }
    // Any other host value fails.
    let auth = sign(&base, SK, WINDOW, "host", "", Some("other.example.com"));
    let req = Request::from_raw(
        "GET",
        "/k",
        &[("Host", sent_host), ("Authorization", &auth)],
    );
    assert_eq!(check(&req), Err(AuthError::SignatureMismatch));
}

#[test]
fn strip_port_table() {
    let cases: &[(&str, &str)] = &[
        ("127.0.0.1:19000", "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1"),
        ("host.example:80", "host.example"),
        ("[::1]:9000", "[::1]"),
        ("[::1]", "[::1]"),
        ("", ""),
    ];
    for (input, want) in cases {
        assert_eq!(strip_port(input.as_bytes()), want.as_bytes(), "{input}");
    }
}

/// NOTES note 5: cos-go-sdk-v5 lists a repeated query name once per value
/// (`a;a`) and signs `a=<v1>&a=<v2>` with the decoded values sorted.
#[test]
fn repeated_query_names_are_grouped_and_sorted() {
    let req = Request::from_raw("GET", "/k?tag=b&Tag=%5Bz&tag=Z&other=1", &[("Host", "h")]);
    let window = Window::parse("t", WINDOW).unwrap();
    for list in ["tag;tag;tag", "tag"] {
        let auth = CosAuthorization {
            ak: AK,
            sign_time: WINDOW,
            key_time: WINDOW,
            sign_window: window,
            key_window: window,
            header_list: "host",
            param_list: list,
            signature: "",
        };
        let mut out = Vec::new();
        write_http_string(&mut out, &req.parts(), &auth, None).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "get\n/k\ntag=Z&tag=%5Bz&tag=b\nhost=h\n",
            "{list}"
        );
    }
    let auth = sign(&req, SK, WINDOW, "host", "tag;tag;tag", None);
    let signed = Request::from_raw(
        "GET",
        "/k?tag=b&Tag=%5Bz&tag=Z&other=1",
        &[("Host", "h"), ("Authorization", &auth)],
    );
    assert!(check(&signed).is_ok());
}

#[test]
fn bare_and_empty_params_sign_alike() {
    let window = Window::parse("t", WINDOW).unwrap();
    for target in ["/?uploads", "/?uploads="] {
        let req = Request::from_raw("POST", target, &[]);
        let auth = CosAuthorization {
            ak: AK,
            sign_time: WINDOW,
            key_time: WINDOW,
            sign_window: window,
            key_window: window,
            header_list: "",
            param_list: "uploads",
            signature: "",
        };
        let mut out = Vec::new();
        write_http_string(&mut out, &req.parts(), &auth, None).unwrap();
        assert_eq!(out, b"post\n/\nuploads=\n\n", "{target}");
    }
}

/// A header name outside `A-Za-z0-9-_.~` is listed canonically encoded
/// (`!` → `%21`) and must still be found.
#[test]
fn listed_header_name_with_escapes() {
    let headers = [("Host", "h"), ("x-cos-meta-a!b", "v 1")];
    let req = Request::from_raw("PUT", "/k", &headers);
    let auth = sign(&req, SK, WINDOW, "host;x-cos-meta-a%21b", "", None);
    let signed = Request::from_raw(
        "PUT",
        "/k",
        &[headers[0], headers[1], ("Authorization", &auth)],
    );
    assert!(check(&signed).is_ok());
    let mut out = Vec::new();
    let window = Window::parse("t", WINDOW).unwrap();
    let parsed = CosAuthorization {
        ak: AK,
        sign_time: WINDOW,
        key_time: WINDOW,
        sign_window: window,
        key_window: window,
        header_list: "host;x-cos-meta-a%21b",
        param_list: "",
        signature: "",
    };
    write_http_string(&mut out, &req.parts(), &parsed, None).unwrap();
    assert_eq!(out, b"put\n/k\n\nhost=h&x-cos-meta-a%21b=v%201\n");
}
