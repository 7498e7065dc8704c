//! AWS Signature Version 2 (legacy HMAC-SHA1), header
//! (`Authorization: AWS <AK>:<sig>`) and query
//! (`AWSAccessKeyId`/`Expires`/`Signature`) forms, still emitted by AWS CLI v1
//! `presign` and old clients.
//! https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html,
//! spec s3.md §3.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use http::header::{AUTHORIZATION, HOST};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::canonical;
use super::{AuthError, AuthOptions, Identity, KeyStore, RequestParts};

/// The authentication parameters of the query form.
pub const QUERY_PARAMS: [&str; 3] = ["AWSAccessKeyId", "Expires", "Signature"];

/// Sub-resources that belong to the CanonicalResource (sorted).
const SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "delete",
    "encryption",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "retention",
    "select",
    "select-type",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "ownershipControls",
    "publicAccessBlock",
    "intelligent-tiering",
    "attributes",
    "cors-configuration",
    "website-configuration",
    "checksum",
];

/// An HTTP date as S3 clients send it in `Date`: RFC 1123 with `GMT`, with a
/// numeric zone (`+0000`, the AWS examples), or with `UTC` (Go's
/// `time.RFC1123`, which rclone's V2 signer and aws-sdk-go send), plus the
/// obsolete RFC 850 / asctime forms. Only UTC is meaningful: other zones are
/// refused, as a wrong clock would be.
pub fn parse_http_date(d: &str) -> Option<SystemTime> {
    let d = d.trim();
    let gmt = ["+0000", "-0000", "UTC", "Z"]
        .iter()
        .find_map(|zone| d.strip_suffix(zone))
        .filter(|p| p.ends_with(' '))
        .map(|p| format!("{p}GMT"));
    httpdate::parse_http_date(gmt.as_deref().unwrap_or(d)).ok()
}

fn header<'a>(parts: &RequestParts<'a>, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

fn query<'a>(parts: &RequestParts<'a>, name: &str) -> Option<&'a str> {
    parts
        .query
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Verifies a SigV2 request; `query_form` for `?AWSAccessKeyId=...`.
pub fn verify(
    parts: &RequestParts<'_>,
    keys: &KeyStore,
    now: SystemTime,
    opts: &AuthOptions,
    query_form: bool,
) -> Result<Identity, AuthError> {
    // Step 1: the access key, the signature and the date line.
    let (access_key, signature, date_line) = if query_form {
        let need = |name: &str| {
            query(parts, name).ok_or_else(|| {
                AuthError::Malformed(
                    "Query-string authentication requires the Signature, Expires and \
                     AWSAccessKeyId parameters"
                        .into(),
                )
            })
        };
        let (ak, sig, expires) = (
            need("AWSAccessKeyId")?,
            need("Signature")?,
            need("Expires")?,
        );
        let at = expires
            .parse::<u64>()
            .map_err(|_| AuthError::Malformed("Expires must be a number of seconds".into()))?;
        // Step 2 (query): valid until Expires.
        if now > UNIX_EPOCH + Duration::from_secs(at) {
            return Err(AuthError::Expired);
        }
        (ak, sig, expires)
    } else {
        if parts
            .query
            .iter()
            .any(|(n, _)| n == "AWSAccessKeyId" || n == "X-Amz-Algorithm")
        {
            return Err(AuthError::InvalidArgument(
                "Only one auth mechanism allowed".into(),
            ));
        }
        let value = header(parts, AUTHORIZATION.as_str())
            .ok_or_else(|| AuthError::Malformed("the Authorization header is not ASCII".into()))?;
        let (ak, sig) = value
            .trim()
            .strip_prefix("AWS ")
            .and_then(|r| r.split_once(':'))
            .ok_or_else(|| {
                AuthError::Malformed("Authorization: AWS <AccessKeyId>:<Signature>".into())
            })?;
        // The date line is Date, or empty when x-amz-date is sent (it then
        // appears among the amz headers). Step 2 (header): the skew window.
        let amz_date = header(parts, "x-amz-date");
        let date = header(parts, "date");
        let when = amz_date
            .or(date)
            .and_then(|d| parse_http_date(d).or_else(|| super::aws_v4::parse_amz_date(d.trim())))
            .ok_or_else(|| {
                AuthError::Malformed(
                    "AWS authentication requires a valid Date or x-amz-date header".into(),
                )
            })?;
        let skew = match now.duration_since(when) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        if skew > opts.leeway {
            return Err(AuthError::TooSkewed);
        }
        (
            ak.trim(),
            sig.trim(),
            if amz_date.is_some() {
                ""
            } else {
                date.unwrap_or("")
            },
        )
    };

    // Step 3: the key (temporary keys present x-amz-security-token).
    let cred = keys.lookup(access_key).ok_or(AuthError::UnknownKey)?;
    if let Some(token) = cred.token.as_deref() {
        let sent =
            header(parts, "x-amz-security-token").or_else(|| query(parts, "x-amz-security-token"));
        if !sent.is_some_and(|s| bool::from(s.as_bytes().ct_eq(token.as_bytes()))) {
            return Err(AuthError::TokenMismatch);
        }
    }
    if cred.expires.is_some_and(|e| now > e) {
        return Err(AuthError::TokenExpired);
    }

    // Step 4: recompute; path style first, then virtual-hosted (the bucket is
    // the Host's first label). A `+` the query decoding turned into a space
    // was a `+` of the base64 signature.
    let sent = base64::engine::general_purpose::STANDARD
        .decode(signature.replace(' ', "+"))
        .unwrap_or_default();
    let secret = cred.secret_key.expose().as_bytes();
    let matches = |bucket: Option<&str>| {
        let sts = string_to_sign(parts, date_line, bucket);
        let mut m = Hmac::<Sha1>::new_from_slice(secret).expect("any key length");
        m.update(sts.as_bytes());
        let want = m.finalize().into_bytes();
        sent.len() == want.len() && bool::from(want.as_slice().ct_eq(&sent))
    };
    if matches(None) || virtual_bucket(parts).is_some_and(|b| matches(Some(b))) {
        Ok(Identity {
            secret_id: cred.secret_id.clone(),
        })
    } else {
        Err(AuthError::SignatureMismatch)
    }
}

/// The first label of a Host that is a name with dots (not an IP address).
fn virtual_bucket<'a>(parts: &RequestParts<'a>) -> Option<&'a str> {
    let host = header(parts, HOST.as_str())?;
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let (first, rest) = name.split_once('.')?;
    let is_ip = name.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    (!is_ip && !first.is_empty() && !rest.is_empty()).then_some(first)
}

/// StringToSign = METHOD \n Content-MD5 \n Content-Type \n Date-or-Expires \n
/// CanonicalAmzHeaders CanonicalResource.
pub fn string_to_sign(parts: &RequestParts<'_>, date_line: &str, bucket: Option<&str>) -> String {
    let mut s = String::with_capacity(256);
    s.push_str(parts.method.as_str());
    s.push('\n');
    s.push_str(header(parts, "content-md5").unwrap_or("").trim());
    s.push('\n');
    s.push_str(header(parts, "content-type").unwrap_or("").trim());
    s.push('\n');
    s.push_str(date_line.trim());
    s.push('\n');
    // CanonicalAmzHeaders: x-amz-*, lower-case (HeaderMap names are), sorted,
    // values trimmed and whitespace-collapsed, repeats joined with `,`.
    let mut names: Vec<&str> = parts
        .headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| n.starts_with("x-amz-"))
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        s.push_str(name);
        s.push(':');
        for (i, v) in parts.headers.get_all(name).iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let v = String::from_utf8_lossy(v.as_bytes());
            s.push_str(&v.split_ascii_whitespace().collect::<Vec<_>>().join(" "));
        }
        s.push('\n');
    }
    // CanonicalResource: [/bucket] + the encoded path + sub-resources.
    if let Some(bucket) = bucket {
        s.push('/');
        s.push_str(bucket);
    }
    for (i, segment) in parts.path.split('/').enumerate() {
        if i > 0 {
            s.push('/');
        }
        s.push_str(&canonical::encode(segment));
    }
    let mut subs: Vec<(&str, &str)> = parts
        .query
        .iter()
        .filter(|(n, _)| SUBRESOURCES.contains(&n.as_str()))
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    subs.sort_unstable();
    for (i, (n, v)) in subs.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(n);
        if !v.is_empty() {
            s.push('=');
            s.push_str(v);
        }
    }
    s
}

#[cfg(test)]
#[path = "aws_v2_tests.rs"]
mod tests;
