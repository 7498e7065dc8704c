//! Alibaba OSS V1 signatures (HMAC-SHA1): `Authorization: OSS <ak>:<sig>` and
//! the pre-signed `?OSSAccessKeyId=…&Expires=…&Signature=…` query, as
//! https://help.aliyun.com/zh/oss/developer-reference/include-signatures-in-the-authorization-header
//! describes (spec oss.md §2; vectors `tests/fixtures/oss`).
//!
//! ```text
//! StringToSign = METHOD \n Content-MD5 \n Content-Type \n Date \n
//!                CanonicalizedOSSHeaders CanonicalizedResource
//! Signature    = base64(HMAC-SHA1(secret, StringToSign))
//! ```
//!
//! The Date slot is the `x-oss-date` header when present (ali-oss sends only
//! that one), else `Date`; in the query form it is `Expires`. The header form
//! must be within ±leeway of `now` (403 RequestTimeTooSkewed either way).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::header::AUTHORIZATION;
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::oss_v4::{check_credential, write_resource};
use super::{AuthError, AuthOptions, Identity, KeyStore, RequestParts, Resource, SignatureDetail};

type HmacSha1 = Hmac<Sha1>;

/// Query parameters of the pre-signed form (`security-token` for STS keys).
const QUERY_FIELDS: [&str; 4] = ["OSSAccessKeyId", "Expires", "Signature", "security-token"];

/// Whether a query parameter of a V1 pre-signed URL carries authentication.
pub fn is_auth_param(name: &str) -> bool {
    QUERY_FIELDS.contains(&name)
}

/// Query parameters that are part of the canonical resource (sub-resources);
/// every other parameter (`prefix`, `marker`, `max-keys`, …) is not signed.
/// Sorted, for `binary_search`.
const SUBRESOURCES: &[&str] = &[
    "accessPoint",
    "accessPointPolicy",
    "acl",
    "append",
    "asyncFetch",
    "bucketInfo",
    "callback",
    "callback-var",
    "cloudboxes",
    "cname",
    "comp",
    "continuation-token",
    "cors",
    "delete",
    "encryption",
    "endTime",
    "httpsConfig",
    "img",
    "inventory",
    "inventoryId",
    "lifecycle",
    "live",
    "location",
    "logging",
    "metaQuery",
    "objectInfo",
    "objectMeta",
    "partNumber",
    "policy",
    "position",
    "publicAccessBlock",
    "qos",
    "qosInfo",
    "referer",
    "regionList",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "requestPayment",
    "resourceGroup",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "rtc",
    "security-token",
    "sequential",
    "startTime",
    "stat",
    "status",
    "style",
    "styleName",
    "symlink",
    "tagging",
    "transferAcceleration",
    "udf",
    "udfApplication",
    "udfApplicationLog",
    "udfId",
    "udfImage",
    "udfImageDesc",
    "udfName",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "vod",
    "website",
    "withHashContext",
    "worm",
    "wormExtend",
    "wormId",
    "x-oss-async-process",
    "x-oss-enable-md5",
    "x-oss-enable-sha1",
    "x-oss-enable-sha256",
    "x-oss-hash-ctx",
    "x-oss-md5-ctx",
    "x-oss-process",
    "x-oss-request-payer",
    "x-oss-traffic-limit",
];

fn is_subresource(name: &str) -> bool {
    SUBRESOURCES.binary_search(&name).is_ok() || name.starts_with("x-oss-ac-")
}

/// Where the V1 fields came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OssV1Auth<'a> {
    pub access_key: &'a str,
    pub signature: &'a str,
    /// The Date slot of the string to sign.
    pub date: &'a str,
    pub presigned: bool,
}

impl<'a> OssV1Auth<'a> {
    pub(crate) fn find(parts: &RequestParts<'a>) -> Result<Self, AuthError> {
        if let Some(value) = parts.headers.get(AUTHORIZATION) {
            let text = value
                .to_str()
                .map_err(|_| AuthError::Malformed("Authorization is not visible ASCII".into()))?
                .trim();
            let (access_key, signature) = text
                .strip_prefix("OSS ")
                .and_then(|rest| rest.trim().split_once(':'))
                .filter(|(ak, sig)| !ak.is_empty() && !sig.is_empty())
                .ok_or_else(|| {
                    AuthError::Malformed("Authorization must be OSS <ak>:<sig>".into())
                })?;
            let date = ["x-oss-date", "date"]
                .iter()
                .find_map(|h| parts.headers.get(*h))
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| AuthError::Malformed("missing Date or x-oss-date".into()))?;
            return Ok(OssV1Auth {
                access_key: access_key.trim(),
                signature: signature.trim(),
                date,
                presigned: false,
            });
        }
        let mut slots: [Option<&'a str>; 3] = [None; 3];
        for (name, value) in parts.query {
            if let Some(i) = QUERY_FIELDS[..3].iter().position(|f| f == name) {
                if slots[i].replace(value.as_str()).is_some() {
                    return Err(AuthError::Malformed(format!("{name} given twice")));
                }
            }
        }
        let [Some(access_key), Some(date), Some(signature)] = slots else {
            return Err(AuthError::Malformed(
                "a pre-signed URL needs OSSAccessKeyId, Expires and Signature".into(),
            ));
        };
        Ok(OssV1Auth {
            access_key,
            signature,
            date,
            presigned: true,
        })
    }
}

/// Verifies an OSS V1 request (header or pre-signed form).
pub fn verify(
    parts: &RequestParts<'_>,
    resource: Resource<'_>,
    keys: &KeyStore,
    now: SystemTime,
    opts: &AuthOptions,
) -> Result<Identity, AuthError> {
    let auth = OssV1Auth::find(parts)?;
    let cred = keys.lookup(auth.access_key).ok_or(AuthError::UnknownKey)?;
    check_credential(parts, cred, now, "security-token")?;

    let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if auth.presigned {
        // Expires: absolute unix seconds.
        let expires: u64 = auth
            .date
            .parse()
            .ok()
            .filter(|_| auth.date.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| AuthError::Malformed("Expires must be unix seconds".into()))?;
        if now_secs > expires {
            return Err(AuthError::Expired);
        }
    } else {
        let at = httpdate::parse_http_date(auth.date.trim())
            .map_err(|_| AuthError::Malformed("Date must be an RFC 1123 date".into()))?;
        let at = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if at.abs_diff(now_secs) > opts.leeway.as_secs() {
            return Err(AuthError::TooSkewed);
        }
    }

    let Ok(sent) = base64::engine::general_purpose::STANDARD.decode(auth.signature) else {
        return Err(AuthError::SignatureMismatch);
    };
    let text = string_to_sign(parts, resource, &auth);
    let mut mac = HmacSha1::new_from_slice(cred.secret_key.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(&text);
    let want: [u8; 20] = mac.finalize().into_bytes().into();
    if !bool::from(want.as_slice().ct_eq(&sent)) {
        return Err(AuthError::SignatureDoesNotMatch(Box::new(
            SignatureDetail {
                access_key: auth.access_key.to_string(),
                signature_provided: auth.signature.to_string(),
                string_to_sign: String::from_utf8_lossy(&text).into_owned(),
                canonical_request: String::new(),
            },
        )));
    }
    Ok(Identity {
        secret_id: cred.secret_id.clone(),
    })
}

/// The V1 string to sign (oss.md §2).
pub(crate) fn string_to_sign(
    parts: &RequestParts<'_>,
    resource: Resource<'_>,
    auth: &OssV1Auth<'_>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| v.as_bytes())
            .unwrap_or_default()
    };
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(header("content-md5"));
    out.push(b'\n');
    out.extend_from_slice(header("content-type"));
    out.push(b'\n');
    out.extend_from_slice(auth.date.as_bytes());
    out.push(b'\n');

    // CanonicalizedOSSHeaders: x-oss-*, lower-cased, sorted, trimmed.
    let mut names: Vec<&str> = parts
        .headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| n.starts_with("x-oss-"))
        .collect();
    names.sort_unstable();
    super::canonical::write_trimmed_header_lines(&mut out, parts.headers, names);

    // CanonicalizedResource: `/bucket/key` with the key decoded, then the
    // sub-resources sorted by name, `name=value` (decoded) or the bare name.
    write_resource(&mut out, resource, |out, s| {
        out.extend_from_slice(s.as_bytes())
    });
    let mut subs: Vec<(&str, &str)> = parts
        .query
        .iter()
        .filter(|(n, _)| is_subresource(n))
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    subs.sort_unstable();
    for (i, (name, value)) in subs.iter().enumerate() {
        out.push(if i == 0 { b'?' } else { b'&' });
        out.extend_from_slice(name.as_bytes());
        if !value.is_empty() {
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subresources_sorted_for_binary_search() {
        assert!(SUBRESOURCES.windows(2).all(|w| w[0] < w[1]));
        for name in [
            "acl",
            "uploadId",
            "partNumber",
            "response-content-type",
            "x-oss-ac-vpc-id",
        ] {
            assert!(is_subresource(name), "{name}");
        }
        for name in [
            "prefix",
            "delimiter",
            "marker",
            "max-keys",
            "encoding-type",
            "list-type",
        ] {
            assert!(!is_subresource(name), "{name}");
        }
    }
}
