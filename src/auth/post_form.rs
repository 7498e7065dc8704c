//! Signatures of POST Object forms (browser uploads): the signature travels
//! in the form body and covers only the `policy` field.
//!
//! * COS (cos.md §1.9): `q-sign-algorithm=sha1`, `q-ak`, `q-key-time`,
//!   `q-signature` = hex(HMAC-SHA1(hex(HMAC-SHA1(SecretKey, q-key-time)),
//!   hex(SHA1(decoded policy)))); temporary keys add `x-cos-security-token`.
//! * S3 SigV4 (s3.md §1.4): `x-amz-algorithm=AWS4-HMAC-SHA256`,
//!   `x-amz-credential`, `x-amz-date`, `x-amz-signature` =
//!   hex(HMAC-SHA256(kSigning, policy as sent)); `x-amz-security-token`.
//! * S3 SigV2: `AWSAccessKeyId`, `signature` = base64(HMAC-SHA1(SecretKey, policy)).
//! * OSS V1: `OSSAccessKeyId`, `Signature` = base64(HMAC-SHA1(SecretKey,
//!   policy)); `x-oss-security-token`.
//!
//! Time is a parameter. The policy's own conditions are checked by
//! `op::post_policy`.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{aws_v4, cos, AuthError, AuthOptions, Credential, Family, Identity, KeyStore};

/// The signature scheme a form uses, from its field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormDialect {
    Cos,
    AwsV4,
    AwsV2,
    OssV1,
}

impl FormDialect {
    /// `None` when the form carries no signature field (anonymous upload).
    pub fn detect<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<FormDialect> {
        let has = |n: &str| get(n).is_some();
        if has("q-signature") || has("q-ak") || has("q-sign-algorithm") {
            Some(FormDialect::Cos)
        } else if has("x-amz-signature") || has("x-amz-credential") || has("x-amz-algorithm") {
            Some(FormDialect::AwsV4)
        } else if has("AWSAccessKeyId") {
            Some(FormDialect::AwsV2)
        } else if has("OSSAccessKeyId") {
            Some(FormDialect::OssV1)
        } else {
            None
        }
    }

    pub fn family(self) -> Family {
        match self {
            FormDialect::Cos => Family::Cos,
            FormDialect::AwsV4 | FormDialect::AwsV2 => Family::S3,
            FormDialect::OssV1 => Family::Oss,
        }
    }
}

fn missing(name: &str) -> AuthError {
    AuthError::Malformed(format!("Bucket POST must contain a field named '{name}'."))
}

/// Verifies a signed form. `get` looks up a field (case-insensitive names).
/// # Behavior
/// - a signature field without the others, or without `policy` → 403
///   AccessDenied (`Malformed`); unsupported algorithm → the same;
/// - unknown key → InvalidAccessKeyId; temporary key without its token →
///   InvalidAccessKeyId; expired temporary key → ExpiredToken;
/// - COS `q-key-time` window over (or not yet begun beyond the leeway) →
///   AccessDenied "Request has expired" / RequestTimeTooSkewed;
/// - signature differs → 403 SignatureDoesNotMatch.
pub fn verify<'a>(
    dialect: FormDialect,
    get: impl Fn(&str) -> Option<&'a str>,
    keys: &KeyStore,
    now: SystemTime,
    opts: &AuthOptions,
) -> Result<Identity, AuthError> {
    let field = |n: &str| get(n).ok_or_else(|| missing(n));
    let policy = field("policy")?;
    let (ak, token_field) = match dialect {
        FormDialect::Cos => (field("q-ak")?, "x-cos-security-token"),
        FormDialect::AwsV4 => {
            let cred = field("x-amz-credential")?;
            (cred.split('/').next().unwrap_or(""), "x-amz-security-token")
        }
        FormDialect::AwsV2 => (field("AWSAccessKeyId")?, "x-amz-security-token"),
        FormDialect::OssV1 => (field("OSSAccessKeyId")?, "x-oss-security-token"),
    };
    let cred = keys.lookup(ak).ok_or(AuthError::UnknownKey)?;
    check_token(cred, get(token_field), now)?;
    let secret = cred.secret_key.expose();
    let ok = match dialect {
        FormDialect::Cos => {
            let algorithm = field("q-sign-algorithm")?;
            if !algorithm.eq_ignore_ascii_case("sha1") {
                return Err(AuthError::Malformed(format!(
                    "q-sign-algorithm {algorithm} is not supported, use sha1."
                )));
            }
            let key_time = field("q-key-time")?;
            check_key_time(key_time, now, opts)?;
            let sent = field("q-signature")?;
            let want = cos::post_policy_signature(secret, key_time, policy)?;
            sent.len() == want.len()
                && bool::from(sent.to_ascii_lowercase().as_bytes().ct_eq(want.as_bytes()))
        }
        FormDialect::AwsV4 => {
            let algorithm = field("x-amz-algorithm")?;
            if algorithm != "AWS4-HMAC-SHA256" {
                return Err(AuthError::Malformed(format!(
                    "x-amz-algorithm {algorithm} is not supported, use AWS4-HMAC-SHA256."
                )));
            }
            field("x-amz-date")?;
            // <AK>/<yyyymmdd>/<region>/<service>/aws4_request
            let parts: Vec<&str> = field("x-amz-credential")?.split('/').collect();
            let [_, date, region, service, "aws4_request"] = parts[..] else {
                return Err(AuthError::Malformed(
                    "x-amz-credential must be <key>/<date>/<region>/<service>/aws4_request.".into(),
                ));
            };
            if let Some(want) = &opts.strict_region {
                if region != want {
                    return Err(AuthError::Malformed(format!(
                        "the region '{region}' is wrong; expecting '{want}'"
                    )));
                }
            }
            let key = aws_v4::signing_key(secret, date, region, service);
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
            mac.update(policy.as_bytes());
            let want = mac.finalize().into_bytes();
            aws_v4::hex32(field("x-amz-signature")?)
                .is_some_and(|sent| bool::from(sent.ct_eq(want.as_slice())))
        }
        FormDialect::AwsV2 | FormDialect::OssV1 => {
            let sent = match dialect {
                FormDialect::AwsV2 => field("signature")?,
                _ => field("Signature")?,
            };
            let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
            mac.update(policy.as_bytes());
            let want =
                base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
            bool::from(sent.as_bytes().ct_eq(want.as_bytes()))
        }
    };
    if !ok {
        return Err(AuthError::SignatureMismatch);
    }
    Ok(Identity {
        secret_id: cred.secret_id.clone(),
    })
}

/// A temporary key needs its token as a form field; a token sent with a
/// permanent key is ignored (as for headers, cos.md §6A.11).
fn check_token(cred: &Credential, sent: Option<&str>, now: SystemTime) -> Result<(), AuthError> {
    if let Some(token) = cred.token.as_deref() {
        if !sent.is_some_and(|s| bool::from(s.as_bytes().ct_eq(token.as_bytes()))) {
            return Err(AuthError::TokenMismatch);
        }
    }
    match cred.expires {
        Some(expires) if now > expires => Err(AuthError::TokenExpired),
        _ => Ok(()),
    }
}

/// `q-key-time` is `<start>;<end>` in unix seconds (cos.md §1.7).
fn check_key_time(key_time: &str, now: SystemTime, opts: &AuthOptions) -> Result<(), AuthError> {
    let bad = || AuthError::Malformed(format!("q-key-time {key_time} is not <start>;<end>."));
    let (start, end) = key_time.split_once(';').ok_or_else(bad)?;
    let start: u64 = start.trim().parse().map_err(|_| bad())?;
    let end: u64 = end.trim().parse().map_err(|_| bad())?;
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if now > end {
        return Err(AuthError::Expired);
    }
    if start > now + opts.leeway.as_secs() {
        return Err(AuthError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::SecretKey;
    use std::time::Duration;

    fn keys() -> KeyStore {
        KeyStore::new([
            Credential {
                secret_id: "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q".into(),
                secret_key: SecretKey::new("BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz"),
                token: None,
                expires: None,
            },
            Credential {
                secret_id: "AKIAIOSFODNN7EXAMPLE".into(),
                secret_key: SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                token: None,
                expires: None,
            },
            Credential {
                secret_id: "tmp".into(),
                secret_key: SecretKey::new("tmpsecret"),
                token: Some("tok".into()),
                expires: Some(UNIX_EPOCH + Duration::from_secs(1_567_151_000)),
            },
        ])
    }

    fn lookup<'a>(fields: &'a [(&'a str, String)]) -> impl Fn(&str) -> Option<&'a str> {
        move |n| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        }
    }

    const DOC_POLICY: &str = "ewogICAgImV4cGlyYXRpb24iOiAiMjAxOS0wOC0zMFQwOTozODoxMi40MTRaIiwKICAgICJjb25kaXRpb25zIjogWwogICAgICAgIHsgImFjbCI6ICJkZWZhdWx0IiB9LAogICAgICAgIHsgImJ1Y2tldCI6ICJleGFtcGxlYnVja2V0LTEyNTAwMDAwMDAiIH0sCiAgICAgICAgWyAic3RhcnRzLXdpdGgiLCAiJGtleSIsICJmb2xkZXIvc3ViZm9sZGVyLyIgXSwKICAgICAgICBbICJzdGFydHMtd2l0aCIsICIkQ29udGVudC1UeXBlIiwgImltYWdlLyIgXSwKICAgICAgICBbICJzdGFydHMtd2l0aCIsICIkc3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiLCAiaHR0cHM6Ly9teS53ZWJzaXRlLyIgXSwKICAgICAgICBbICJlcSIsICIkeC1jb3Mtc2VydmVyLXNpZGUtZW5jcnlwdGlvbiIsICJBRVMyNTYiIF0sCiAgICAgICAgeyAicS1zaWduLWFsZ29yaXRobSI6ICJzaGExIiB9LAogICAgICAgIHsgInEtYWsiOiAiQUtJRFFqejNsdG9tcFZqQm5pNUxpdGtXSEZsRnB3a245VTVxIiB9LAogICAgICAgIHsgInEtc2lnbi10aW1lIjogIjE1NjcxNTA2OTI7MTU2NzE1Nzg5MiIgfQogICAgXQp9";

    type Form = Vec<(&'static str, String)>;

    fn doc_form() -> Form {
        vec![
            ("key", "folder/subfolder/${filename}".into()),
            ("policy", DOC_POLICY.into()),
            ("q-sign-algorithm", "sha1".into()),
            ("q-ak", "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q".into()),
            ("q-key-time", "1567150692;1567157892".into()),
            (
                "q-signature",
                "7758dc9a832e9d301dca704cacbf9d9f8172fdef".into(),
            ),
        ]
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// The documentation's worked example (doc_vectors.json
    /// `doc_post_object_policy`) verifies inside its key-time window.
    #[test]
    fn cos_doc_example_verifies() {
        let f = doc_form();
        assert_eq!(FormDialect::detect(lookup(&f)), Some(FormDialect::Cos));
        let id = verify(
            FormDialect::Cos,
            lookup(&f),
            &keys(),
            at(1_567_151_000),
            &AuthOptions::default(),
        )
        .unwrap();
        assert_eq!(id.secret_id, "AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q");
    }

    #[test]
    fn cos_mutations_fail_with_the_right_error() {
        let now = at(1_567_151_000);
        let opts = AuthOptions::default();
        let run = |edit: &dyn Fn(&mut Form)| {
            let mut f = doc_form();
            edit(&mut f);
            verify(FormDialect::Cos, lookup(&f), &keys(), now, &opts).unwrap_err()
        };
        let set = |name: &'static str, v: &'static str| {
            move |f: &mut Vec<(&'static str, String)>| {
                f.iter_mut().find(|(k, _)| *k == name).unwrap().1 = v.into()
            }
        };
        let drop = |name: &'static str| {
            move |f: &mut Vec<(&'static str, String)>| f.retain(|(k, _)| *k != name)
        };
        assert_eq!(
            run(&set(
                "q-signature",
                "7758dc9a832e9d301dca704cacbf9d9f8172fdee"
            )),
            AuthError::SignatureMismatch
        );
        // Upper-case hex is the same signature.
        let mut f = doc_form();
        f[5].1 = f[5].1.to_uppercase();
        assert!(verify(FormDialect::Cos, lookup(&f), &keys(), now, &opts).is_ok());
        assert_eq!(
            run(&set("q-key-time", "1567150692;1567157893")),
            AuthError::SignatureMismatch
        );
        assert_eq!(run(&set("q-ak", "nobody")), AuthError::UnknownKey);
        assert!(matches!(
            run(&set("q-sign-algorithm", "sha256")),
            AuthError::Malformed(_)
        ));
        assert!(matches!(run(&drop("policy")), AuthError::Malformed(_)));
        assert!(matches!(run(&drop("q-signature")), AuthError::Malformed(_)));
        assert!(matches!(
            run(&set("q-key-time", "soon")),
            AuthError::Malformed(_)
        ));
        // Outside the key-time window.
        let f = doc_form();
        assert_eq!(
            verify(
                FormDialect::Cos,
                lookup(&f),
                &keys(),
                at(1_567_157_893),
                &opts
            )
            .unwrap_err(),
            AuthError::Expired
        );
        assert_eq!(
            verify(
                FormDialect::Cos,
                lookup(&f),
                &keys(),
                at(1_567_100_000),
                &opts
            )
            .unwrap_err(),
            AuthError::NotYetValid
        );
    }

    #[test]
    fn temporary_keys_need_their_token() {
        let policy = base64::engine::general_purpose::STANDARD.encode("{}");
        let sig =
            cos::post_policy_signature("tmpsecret", "1567150692;1567157892", &policy).unwrap();
        let base = vec![
            ("policy", policy),
            ("q-sign-algorithm", "sha1".to_string()),
            ("q-ak", "tmp".to_string()),
            ("q-key-time", "1567150692;1567157892".to_string()),
            ("q-signature", sig),
        ];
        let opts = AuthOptions::default();
        let now = at(1_567_150_700);
        assert_eq!(
            verify(FormDialect::Cos, lookup(&base), &keys(), now, &opts).unwrap_err(),
            AuthError::TokenMismatch
        );
        let mut with = base.clone();
        with.push(("x-cos-security-token", "tok".into()));
        assert!(verify(FormDialect::Cos, lookup(&with), &keys(), now, &opts).is_ok());
        assert_eq!(
            verify(
                FormDialect::Cos,
                lookup(&with),
                &keys(),
                at(1_567_151_001),
                &opts
            )
            .unwrap_err(),
            AuthError::TokenExpired
        );
        with.last_mut().unwrap().1 = "other".into();
        assert_eq!(
            verify(FormDialect::Cos, lookup(&with), &keys(), now, &opts).unwrap_err(),
            AuthError::TokenMismatch
        );
    }

    #[test]
    fn v2_and_oss_v1_sign_the_policy_with_hmac_sha1() {
        // Signature = base64(HMAC-SHA1(secret, policy)).
        let policy = "eyJleHBpcmF0aW9uIjoiMjAzMC0wMS0wMVQwMDowMDowMFoiLCJjb25kaXRpb25zIjpbXX0=";
        let mut mac =
            Hmac::<Sha1>::new_from_slice(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").unwrap();
        mac.update(policy.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        for (dialect, id_field, sig_field) in [
            (FormDialect::AwsV2, "AWSAccessKeyId", "signature"),
            (FormDialect::OssV1, "OSSAccessKeyId", "Signature"),
        ] {
            let mut f = vec![
                ("policy", policy.to_string()),
                (id_field, "AKIAIOSFODNN7EXAMPLE".to_string()),
                (sig_field, sig.clone()),
            ];
            assert_eq!(FormDialect::detect(lookup(&f)), Some(dialect));
            assert!(verify(dialect, lookup(&f), &keys(), at(0), &AuthOptions::default()).is_ok());
            f[2].1
                .replace_range(0..1, if sig.starts_with('A') { "B" } else { "A" });
            assert_eq!(
                verify(dialect, lookup(&f), &keys(), at(0), &AuthOptions::default()).unwrap_err(),
                AuthError::SignatureMismatch
            );
        }
        assert_eq!(
            FormDialect::detect(lookup(&[("key", "k".to_string())])),
            None
        );
    }
}
