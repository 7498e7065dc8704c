//! Alibaba OSS V4 signatures (OSS4-HMAC-SHA256): the `Authorization` header
//! and the pre-signed `x-oss-*` query, as
//! https://help.aliyun.com/zh/oss/developer-reference/recommend-to-use-signature-version-4
//! describes (spec oss.md §1; vectors `tests/fixtures/oss`).
//!
//! ```text
//! kSigning     = HMAC-SHA256(HMAC-SHA256(HMAC-SHA256(HMAC-SHA256(
//!                  "aliyun_v4" + secret, yyyymmdd), region), "oss"), "aliyun_v4_request")
//! Canonical    = METHOD \n /bucket/key \n CanonicalQuery \n CanonicalHeaders \n
//!                AdditionalHeaders \n UNSIGNED-PAYLOAD
//! StringToSign = "OSS4-HMAC-SHA256" \n x-oss-date \n scope \n hex(SHA256(Canonical))
//! Signature    = hex(HMAC-SHA256(kSigning, StringToSign))
//! ```
//!
//! Choices where the spec leaves room:
//! * the region comes from the credential scope (NOTES 4); it must equal
//!   the configured one only when `AuthOptions::strict_region` is set;
//! * a request time outside ±leeway (header form) is `TooSkewed`, a URL
//!   whose `x-oss-date` lies beyond the leeway in the future `NotYetValid`
//!   (both 403 RequestTimeTooSkewed);
//! * a name in `AdditionalHeaders` that the request lacks is `Malformed`;
//! * an `x-oss-content-sha256` other than `UNSIGNED-PAYLOAD` is
//!   `InvalidArgument` (400, as for a bad AWS payload hash).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use http::header::{HeaderValue, AUTHORIZATION};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::canonical;
use super::{
    AuthError, AuthOptions, Credential, Identity, KeyStore, RequestParts, Resource, SignatureDetail,
};

type HmacSha256 = Hmac<Sha256>;

pub const ALGORITHM: &str = "OSS4-HMAC-SHA256";
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const SCOPE_TERMINATOR: &str = "aliyun_v4_request";
/// Longest lifetime of a pre-signed URL: seven days.
pub const MAX_EXPIRES: u64 = 604_800;

/// Query parameters of the pre-signed form. All are signed except the signature.
const QUERY_FIELDS: [&str; 7] = [
    "x-oss-signature-version",
    "x-oss-credential",
    "x-oss-date",
    "x-oss-expires",
    "x-oss-signature",
    "x-oss-additional-headers",
    "x-oss-security-token",
];

/// Whether a query parameter of a V4 pre-signed URL carries authentication
/// (and must be stripped before the operation sees it).
pub fn is_auth_param(name: &str) -> bool {
    QUERY_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name))
}

/// The fields a V4 signature is checked with, from the header or the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OssV4Auth<'a> {
    pub access_key: &'a str,
    /// `yyyymmdd` of the credential scope.
    pub scope_date: &'a str,
    pub region: &'a str,
    pub product: &'a str,
    /// `yyyymmddTHHMMSSZ`.
    pub date: &'a str,
    /// Lower-cased names from `AdditionalHeaders`, in the order given.
    pub additional: Vec<String>,
    pub signature: &'a str,
    /// `x-oss-expires` (query form only).
    pub expires: Option<u64>,
    pub presigned: bool,
}

impl<'a> OssV4Auth<'a> {
    /// Reads the header form when `Authorization` says OSS4-HMAC-SHA256,
    /// else the query form.
    pub(crate) fn find(parts: &RequestParts<'a>) -> Result<Self, AuthError> {
        match parts.headers.get(AUTHORIZATION) {
            Some(v) if v.as_bytes().trim_ascii().starts_with(ALGORITHM.as_bytes()) => {
                Self::from_header(parts, v)
            }
            _ => Self::from_query(parts),
        }
    }

    /// `OSS4-HMAC-SHA256 Credential=…, [AdditionalHeaders=…,] Signature=…`:
    /// split on `,`, trim, split at the first `=`, any order (the three
    /// clients disagree on spaces and order, oss.md §1.1).
    fn from_header(parts: &RequestParts<'a>, value: &'a HeaderValue) -> Result<Self, AuthError> {
        let text = value
            .to_str()
            .map_err(|_| AuthError::Malformed("Authorization is not visible ASCII".into()))?
            .trim();
        let fields = text
            .strip_prefix(ALGORITHM)
            .filter(|rest| rest.starts_with(' '))
            .ok_or_else(|| AuthError::Malformed("unsupported authorization algorithm".into()))?;
        let (mut credential, mut additional, mut signature) = (None, None, None);
        for field in fields.split(',') {
            let Some((name, value)) = field.trim().split_once('=') else {
                continue;
            };
            let slot = match name.trim() {
                "Credential" => &mut credential,
                "AdditionalHeaders" => &mut additional,
                "Signature" => &mut signature,
                _ => continue,
            };
            if slot.replace(value.trim()).is_some() {
                return Err(AuthError::Malformed(format!("{} given twice", name.trim())));
            }
        }
        let credential =
            credential.ok_or_else(|| AuthError::Malformed("missing Credential".into()))?;
        let signature =
            signature.ok_or_else(|| AuthError::Malformed("missing Signature".into()))?;
        let date = header_str(parts.headers, "x-oss-date")
            .ok_or_else(|| AuthError::Malformed("missing x-oss-date header".into()))?;
        // Payload: only UNSIGNED-PAYLOAD exists in OSS V4 (EC 0002-00000214).
        if let Some(payload) = header_str(parts.headers, "x-oss-content-sha256") {
            if payload != UNSIGNED_PAYLOAD {
                return Err(AuthError::InvalidArgument(format!(
                    "x-oss-content-sha256 must be {UNSIGNED_PAYLOAD}"
                )));
            }
        }
        Self::assemble(credential, date, additional, signature, None)
    }

    /// `?x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=…&x-oss-date=…
    /// &x-oss-expires=…[&x-oss-additional-headers=…]&x-oss-signature=…`.
    fn from_query(parts: &RequestParts<'a>) -> Result<Self, AuthError> {
        let mut slots: [Option<&'a str>; 6] = [None; 6];
        for (name, value) in parts.query {
            if let Some(i) = QUERY_FIELDS[..6].iter().position(|f| f == name) {
                if slots[i].replace(value.as_str()).is_some() {
                    return Err(AuthError::Malformed(format!("{name} given twice")));
                }
            }
        }
        let [version, credential, date, expires, signature, additional] = slots;
        let required = |slot: Option<&'a str>, name: &str| {
            slot.ok_or_else(|| AuthError::Malformed(format!("missing {name}")))
        };
        if required(version, "x-oss-signature-version")? != ALGORITHM {
            return Err(AuthError::Malformed(
                "unsupported x-oss-signature-version".into(),
            ));
        }
        let expires = required(expires, "x-oss-expires")?;
        let expires = expires
            .parse::<u64>()
            .ok()
            .filter(|e| {
                (1..=MAX_EXPIRES).contains(e) && expires.bytes().all(|b| b.is_ascii_digit())
            })
            .ok_or_else(|| {
                AuthError::Malformed(format!("x-oss-expires must be 1..={MAX_EXPIRES} seconds"))
            })?;
        Self::assemble(
            required(credential, "x-oss-credential")?,
            required(date, "x-oss-date")?,
            additional,
            required(signature, "x-oss-signature")?,
            Some(expires),
        )
    }

    fn assemble(
        credential: &'a str,
        date: &'a str,
        additional: Option<&'a str>,
        signature: &'a str,
        expires: Option<u64>,
    ) -> Result<Self, AuthError> {
        // <AK>/<yyyymmdd>/<region>/<product>/aliyun_v4_request
        let bad_credential = || {
            AuthError::Malformed(
                "Credential must be <AK>/<date>/<region>/oss/aliyun_v4_request".into(),
            )
        };
        let mut it = credential.split('/');
        let (Some(access_key), Some(scope_date), Some(region), Some(product), Some(term), None) = (
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
        ) else {
            return Err(bad_credential());
        };
        if access_key.is_empty()
            || region.is_empty()
            || !matches!(product, "oss" | "oss-cloudbox")
            || term != SCOPE_TERMINATOR
        {
            return Err(bad_credential());
        }
        if parse_date(date).is_none() {
            return Err(AuthError::Malformed(
                "x-oss-date must be yyyymmddTHHMMSSZ".into(),
            ));
        }
        if date.get(..8) != Some(scope_date) {
            return Err(AuthError::Malformed(
                "the Credential date differs from x-oss-date".into(),
            ));
        }
        // AdditionalHeaders present but empty (EC 0002-00000209) or with an
        // empty name (EC 0002-00000210) is refused.
        let additional = match additional {
            None => Vec::new(),
            Some(list) => {
                let names: Vec<String> = list
                    .split(';')
                    .map(|n| n.trim().to_ascii_lowercase())
                    .collect();
                if names.iter().any(String::is_empty) {
                    return Err(AuthError::Malformed(
                        "AdditionalHeaders has an empty header name".into(),
                    ));
                }
                names
            }
        };
        Ok(OssV4Auth {
            access_key,
            scope_date,
            region,
            product,
            date,
            additional,
            signature,
            expires,
            presigned: expires.is_some(),
        })
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// `yyyymmddTHHMMSSZ` → unix seconds.
pub(crate) fn parse_date(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let s = &text[r];
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let (y, mo) = (y as i64, mo as i64);
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + (h * 3600 + mi * 60 + s) as i64).ok()
}

/// Verifies an OSS V4 request (header or pre-signed form). `resource` is the
/// resolved bucket and key, which the canonical URI is rebuilt from.
pub fn verify(
    parts: &RequestParts<'_>,
    resource: Resource<'_>,
    keys: &KeyStore,
    now: SystemTime,
    opts: &AuthOptions,
) -> Result<Identity, AuthError> {
    let auth = OssV4Auth::find(parts)?;
    let cred = keys.lookup(auth.access_key).ok_or(AuthError::UnknownKey)?;
    check_credential(parts, cred, now, "x-oss-security-token")?;
    check_time(&auth, now, opts.leeway)?;
    if let Some(region) = opts.strict_region.as_deref() {
        if auth.region != region {
            return Err(AuthError::Malformed(format!(
                "the region '{}' is wrong; expecting '{region}'",
                auth.region
            )));
        }
    }

    let mut sent = [0u8; 32];
    if hex::decode_to_slice(auth.signature, &mut sent).is_err() {
        return Err(AuthError::SignatureMismatch);
    }
    let canonical = canonical_request(parts, resource, &auth)?;
    let want = signature(cred.secret_key.expose(), &auth, &canonical);
    if !bool::from(want.ct_eq(&sent)) {
        // OSS names what it computed in the error body (oss.md §4).
        return Err(AuthError::SignatureDoesNotMatch(Box::new(
            SignatureDetail {
                access_key: auth.access_key.to_string(),
                signature_provided: auth.signature.to_string(),
                string_to_sign: string_to_sign(&auth, &canonical),
                canonical_request: String::from_utf8_lossy(&canonical).into_owned(),
            },
        )));
    }
    Ok(Identity {
        secret_id: cred.secret_id.clone(),
    })
}

/// Header form: `x-oss-date` within ±leeway of `now`. Query form: valid from
/// `x-oss-date` (minus the leeway) until `x-oss-date + x-oss-expires`.
fn check_time(auth: &OssV4Auth<'_>, now: SystemTime, leeway: Duration) -> Result<(), AuthError> {
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let at = parse_date(auth.date).unwrap_or(0);
    if at > now.saturating_add(leeway.as_secs()) {
        return Err(if auth.presigned {
            AuthError::NotYetValid
        } else {
            AuthError::TooSkewed
        });
    }
    match auth.expires {
        Some(expires) if now > at.saturating_add(expires) => Err(AuthError::Expired),
        Some(_) => Ok(()),
        None if now.saturating_sub(at) > leeway.as_secs() => Err(AuthError::TooSkewed),
        None => Ok(()),
    }
}

/// A temporary key needs its token (`x-oss-security-token` header or query
/// parameter, named `query_name` in the query for V1); an expired one is refused.
pub(crate) fn check_credential(
    parts: &RequestParts<'_>,
    cred: &Credential,
    now: SystemTime,
    query_name: &str,
) -> Result<(), AuthError> {
    if let Some(token) = cred.token.as_deref() {
        let sent = parts
            .headers
            .get("x-oss-security-token")
            .map(HeaderValue::as_bytes)
            .or_else(|| {
                parts
                    .query
                    .iter()
                    .find(|(n, _)| n == query_name)
                    .map(|(_, v)| v.as_bytes())
            });
        match sent {
            Some(sent) if bool::from(sent.ct_eq(token.as_bytes())) => {}
            _ => return Err(AuthError::TokenMismatch),
        }
    }
    match cred.expires {
        Some(expires) if now > expires => Err(AuthError::TokenExpired),
        _ => Ok(()),
    }
}

/// The canonical request (oss.md §1.3) as text.
pub(crate) fn canonical_request(
    parts: &RequestParts<'_>,
    resource: Resource<'_>,
    auth: &OssV4Auth<'_>,
) -> Result<Vec<u8>, AuthError> {
    let mut out = Vec::with_capacity(256);
    // HTTP method.
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b'\n');

    // CanonicalURI: `/bucket/key` rebuilt from the resolved resource, `/`
    // kept, everything else strictly encoded.
    write_resource(&mut out, resource, |out, s| {
        encode_keep_slash(out, s.as_bytes())
    });
    out.push(b'\n');

    // CanonicalQuery: every parameter but the signature, decoded then strictly
    // re-encoded, sorted; an empty value is the bare name.
    canonical::write_sorted_query(
        &mut out,
        parts.query,
        auth.presigned.then_some("x-oss-signature"),
        canonical::EmptyValue::BareName,
    );
    out.push(b'\n');

    // CanonicalHeaders: x-oss-*, content-type, content-md5 and the additional
    // headers; `name:value\n`, sorted, values trimmed, repeats joined by `,`.
    let mut names: Vec<&str> = parts
        .headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| n.starts_with("x-oss-") || *n == "content-type" || *n == "content-md5")
        .collect();
    for extra in &auth.additional {
        if !parts.headers.contains_key(extra.as_str()) {
            return Err(AuthError::Malformed(format!(
                "additional header {extra} is not in the request"
            )));
        }
        if !names.contains(&extra.as_str()) {
            names.push(extra);
        }
    }
    names.sort_unstable();
    canonical::write_trimmed_header_lines(&mut out, parts.headers, names);
    out.push(b'\n');

    // AdditionalHeaders: the names as listed.
    out.extend_from_slice(auth.additional.join(";").as_bytes());
    out.push(b'\n');

    // HashedPayload.
    out.extend_from_slice(UNSIGNED_PAYLOAD.as_bytes());
    Ok(out)
}

/// `/` (service), `/bucket/` (bucket), `/bucket/key` (object); `put` writes
/// each name (encoded for V4, raw for V1).
pub(crate) fn write_resource(
    out: &mut Vec<u8>,
    resource: Resource<'_>,
    put: impl Fn(&mut Vec<u8>, &str),
) {
    out.push(b'/');
    if let Some(bucket) = resource.bucket {
        put(out, bucket);
        out.push(b'/');
        if let Some(key) = resource.key {
            put(out, key);
        }
    }
}

fn encode_keep_slash(out: &mut Vec<u8>, bytes: &[u8]) {
    for (i, segment) in bytes.split(|&b| b == b'/').enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        canonical::encode_into(out, segment);
    }
}

/// The string to sign for `canonical`.
pub(crate) fn string_to_sign(auth: &OssV4Auth<'_>, canonical: &[u8]) -> String {
    let digest = Sha256::digest(canonical);
    format!(
        "{ALGORITHM}\n{}\n{}/{}/{}/{SCOPE_TERMINATOR}\n{}",
        auth.date,
        auth.scope_date,
        auth.region,
        auth.product,
        hex::encode(digest)
    )
}

/// The signature bytes for `canonical` with `secret`.
pub(crate) fn signature(secret: &str, auth: &OssV4Auth<'_>, canonical: &[u8]) -> [u8; 32] {
    let mut key = hmac_sha256(
        format!("aliyun_v4{secret}").as_bytes(),
        auth.scope_date.as_bytes(),
    );
    for part in [auth.region, auth.product, SCOPE_TERMINATOR] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    hmac_sha256(&key, string_to_sign(auth, canonical).as_bytes())
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_date_table() {
        assert_eq!(parse_date("20250115T123456Z"), Some(1_736_944_496));
        assert_eq!(parse_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_date("20240229T000000Z"), Some(1_709_164_800));
        for bad in [
            "",
            "20250115T123456",
            "20250115 123456Z",
            "2025011sT123456Z",
            "20251315T123456Z",
            "20250115T243456Z",
            "+0250115T123456Z",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn encode_keep_slash_table() {
        for (input, want) in [
            (
                "examplebucket/dir/sub dir/file with spaces.txt",
                "examplebucket/dir/sub%20dir/file%20with%20spaces.txt",
            ),
            ("a+b%20c.txt", "a%2Bb%2520c.txt"),
            ("a//b/", "a//b/"),
            ("中", "%E4%B8%AD"),
        ] {
            let mut out = Vec::new();
            encode_keep_slash(&mut out, input.as_bytes());
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }

    #[test]
    fn is_auth_param_table() {
        for name in QUERY_FIELDS {
            assert!(is_auth_param(name), "{name}");
        }
        for name in [
            "versionId",
            "response-content-type",
            "x-oss-process",
            "Signature",
        ] {
            assert!(!is_auth_param(name), "{name}");
        }
    }
}
