//! SigV2 string-to-sign details (the captured V2 requests are checked with the
//! SigV4 ones in `aws_v4_tests.rs`).

use std::time::{Duration, SystemTime};

use crate::auth::aws_v4::tests::{keys_with, Req, SECRET};
use crate::auth::{verify_request, AuthError, AuthOptions};

fn hmac_b64(msg: &str) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(msg.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

const DATE: &str = "Tue, 27 Mar 2007 19:36:42 +0000";

fn now() -> SystemTime {
    httpdate::parse_http_date("Tue, 27 Mar 2007 19:36:42 GMT").unwrap()
}

/// The AWS documentation's "Object GET" example string to sign, virtual-hosted.
#[test]
fn string_to_sign_virtual_hosted_with_subresources() {
    let sts = "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg?acl&versionId=3";
    let req = Req::new(
        "GET",
        "/photos/puppy.jpg?versionId=3&acl&x-id=GetObject",
        &[
            ("host", "awsexamplebucket1.s3.us-west-1.amazonaws.com"),
            ("date", DATE),
            (
                "authorization",
                &format!("AWS AKIAIOSFODNN7EXAMPLE:{}", hmac_b64(sts)),
            ),
        ],
    );
    let got = super::string_to_sign(&req.parts(), DATE, Some("awsexamplebucket1"));
    assert_eq!(got, sts);
    assert!(verify_request(
        &req.parts(),
        &keys_with(SECRET),
        now(),
        &AuthOptions::default()
    )
    .is_ok());
    assert_eq!(
        verify_request(
            &req.parts(),
            &keys_with("x"),
            now(),
            &AuthOptions::default()
        )
        .unwrap_err(),
        AuthError::SignatureMismatch
    );
}

/// x-amz-date replaces the date line; amz headers are lower-cased, sorted,
/// collapsed; Content-MD5 and Content-Type are lines of their own.
#[test]
fn string_to_sign_amz_headers() {
    let req = Req::new(
        "PUT",
        "/bucket/a%20b+c.txt",
        &[
            ("host", "127.0.0.1:9000"),
            ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
            ("content-type", "text/plain"),
            ("x-amz-date", DATE),
            ("X-Amz-Meta-B", "  two   words "),
            ("x-amz-meta-a", "1"),
            ("x-amz-meta-a", "2"),
        ],
    );
    let got = super::string_to_sign(&req.parts(), "", None);
    assert_eq!(
        got,
        format!("PUT\n1B2M2Y8AsgTpgAmY7PhCfg==\ntext/plain\n\nx-amz-date:{DATE}\nx-amz-meta-a:1,2\nx-amz-meta-b:two words\n/bucket/a%20b%2Bc.txt")
    );
}

#[test]
fn header_form_time_window_and_query_expiry() {
    let sts = "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/bucket/key";
    let req = Req::new(
        "GET",
        "/bucket/key",
        &[
            ("host", "127.0.0.1"),
            ("date", DATE),
            (
                "authorization",
                &format!("AWS AKIAIOSFODNN7EXAMPLE:{}", hmac_b64(sts)),
            ),
        ],
    );
    let opts = AuthOptions::default();
    let keys = keys_with(SECRET);
    assert!(verify_request(&req.parts(), &keys, now() + Duration::from_secs(899), &opts).is_ok());
    assert_eq!(
        verify_request(&req.parts(), &keys, now() + Duration::from_secs(901), &opts).unwrap_err(),
        AuthError::TooSkewed
    );
    // Query form: the date line is Expires; `+` in the signature may arrive
    // raw (decoded as a space) or as %2B.
    let expires = 1_175_024_202u64;
    let sts = format!("GET\n\n\n{expires}\n/bucket/key");
    let sig = hmac_b64(&sts);
    let enc = crate::auth::canonical::encode(&sig);
    let req = Req::new(
        "GET",
        &format!(
            "/bucket/key?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires={expires}&Signature={enc}"
        ),
        &[("host", "127.0.0.1")],
    );
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(expires);
    assert!(verify_request(&req.parts(), &keys, at, &opts).is_ok());
    assert_eq!(
        verify_request(&req.parts(), &keys, at + Duration::from_secs(1), &opts).unwrap_err(),
        AuthError::Expired
    );
    let raw_plus = Req::new(
        "GET",
        &format!(
            "/bucket/key?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires={expires}&Signature={}",
            sig.replace('/', "%2F").replace('=', "%3D")
        ),
        &[("host", "127.0.0.1")],
    );
    assert!(verify_request(&raw_plus.parts(), &keys, at, &opts).is_ok());
}

#[test]
fn temporary_credentials_need_their_token() {
    use crate::auth::{Credential, KeyStore, SecretKey};
    let sts = "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/bucket/key";
    let auth = format!("AWS AKIAIOSFODNN7EXAMPLE:{}", hmac_b64(sts));
    let keys = KeyStore::new([Credential {
        secret_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_key: SecretKey::new(SECRET),
        token: Some("tok".into()),
        expires: None,
    }]);
    let opts = AuthOptions::default();
    let base = [
        ("host", "127.0.0.1"),
        ("date", DATE),
        ("authorization", auth.as_str()),
    ];
    let req = Req::new("GET", "/bucket/key", &base);
    assert_eq!(
        verify_request(&req.parts(), &keys, now(), &opts).unwrap_err(),
        AuthError::TokenMismatch
    );
    // The token is an x-amz-* header, so it is signed too.
    let sts = "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\nx-amz-security-token:tok\n/bucket/key";
    let auth = format!("AWS AKIAIOSFODNN7EXAMPLE:{}", hmac_b64(sts));
    let with = [
        ("host", "127.0.0.1"),
        ("date", DATE),
        ("authorization", auth.as_str()),
        ("x-amz-security-token", "tok"),
    ];
    let req = Req::new("GET", "/bucket/key", &with);
    assert!(verify_request(&req.parts(), &keys, now(), &opts).is_ok());
}

/// The `Date` spellings S3 clients send: GMT (botocore, s3cmd), `+0000` (the
/// AWS examples), `UTC` (Go's `time.RFC1123`: rclone's V2 signer); other zones
/// and garbage are refused.
#[test]
fn http_dates_in_every_utc_spelling() {
    let at = now();
    let cases: &[(&str, Option<SystemTime>)] = &[
        ("Tue, 27 Mar 2007 19:36:42 GMT", Some(at)),
        ("Tue, 27 Mar 2007 19:36:42 +0000", Some(at)),
        ("Tue, 27 Mar 2007 19:36:42 -0000", Some(at)),
        ("Tue, 27 Mar 2007 19:36:42 UTC", Some(at)),
        ("  Tue, 27 Mar 2007 19:36:42 UTC ", Some(at)),
        ("Tuesday, 27-Mar-07 19:36:42 GMT", Some(at)),
        ("Tue Mar 27 19:36:42 2007", Some(at)),
        ("Tue, 27 Mar 2007 19:36:42 +0800", None),
        ("Tue, 27 Mar 2007 19:36:42 CST", None),
        ("Tue, 27 Mar 2007 19:36:42UTC", None),
        ("UTC", None),
        ("", None),
    ];
    for (text, want) in cases {
        assert_eq!(super::parse_http_date(text), *want, "{text:?}");
    }
}

/// rclone's SigV2 (`region = other-v2-signature`) dates its requests with
/// Go's RFC 1123 layout, zone `UTC`.
#[test]
fn a_utc_date_header_signs_and_verifies() {
    let date = "Tue, 27 Mar 2007 19:36:42 UTC";
    let sts = format!("GET\n\n\n{date}\n/bucket");
    let auth = format!("AWS AKIAIOSFODNN7EXAMPLE:{}", hmac_b64(&sts));
    let req = Req::new(
        "GET",
        "/bucket?delimiter=%2F&max-keys=1000&prefix=",
        &[
            ("host", "127.0.0.1:9000"),
            ("date", date),
            ("authorization", auth.as_str()),
        ],
    );
    assert!(verify_request(
        &req.parts(),
        &keys_with(SECRET),
        now(),
        &AuthOptions::default()
    )
    .is_ok());
}
