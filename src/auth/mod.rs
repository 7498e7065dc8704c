//! Signature verification. `Dialect::detect` looks at a request once; `verify`
//! checks it and returns who is calling (or `None` for anonymous requests).
//!
//! COS q-sign (sha1): https://cloud.tencent.com/document/product/436/7778,
//! spec cos.md §1. Other dialects (AWS SigV4/V2, OSS V4/V1) slot in beside `cos`.

pub mod aws_v2;
pub mod aws_v4;
pub mod canonical;
pub mod cos;
pub mod keys;
pub mod oss_v1;
pub mod oss_v4;
#[cfg(test)]
mod oss_vectors_test;
pub mod post_form;
pub mod presign;

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method};

pub use aws_v4::{ChunkSigning, Chunked, Payload};
pub use keys::{Credential, Identity, KeyStore, Scope, SecretKey};

/// Why a signed request was refused. `error.rs` maps each to a COS code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Missing or garbled auth fields, unsupported algorithm → 403 AccessDenied.
    #[error("malformed authorization: {0}")]
    Malformed(String),
    /// `now` is past the end of q-sign-time/q-key-time → 403 AccessDenied "Request has expired".
    #[error("request has expired")]
    Expired,
    /// The start of the window is in the future beyond the leeway → 403 RequestTimeTooSkewed.
    #[error("request not yet valid")]
    NotYetValid,
    /// Unknown SecretId → 403 InvalidAccessKeyId.
    #[error("unknown secret id")]
    UnknownKey,
    /// Temporary SecretId without its token (or a wrong one) → 403 InvalidAccessKeyId.
    #[error("security token missing or wrong")]
    TokenMismatch,
    /// Temporary credential past its expiry → 400 ExpiredToken.
    #[error("security token expired")]
    TokenExpired,
    /// Recomputed signature differs → 403 SignatureDoesNotMatch.
    #[error("signature does not match")]
    SignatureMismatch,
    /// AWS: the signature differs; S3 names what it computed in the error
    /// body → 403 SignatureDoesNotMatch with StringToSign, CanonicalRequest, ….
    #[error("signature does not match")]
    SignatureDoesNotMatch(Box<SignatureDetail>),
    /// AWS header form: a malformed Authorization header or credential scope
    /// (wrong service, date, region) → 400 AuthorizationHeaderMalformed.
    #[error("malformed authorization header: {0}")]
    HeaderMalformed(String),
    /// AWS pre-signed form: missing or bad `X-Amz-*` parameters (X-Amz-Expires
    /// outside 1..604800, …) → 400 AuthorizationQueryParametersError.
    #[error("malformed authorization query: {0}")]
    QueryMalformed(String),
    /// AWS header form: the request time is more than the leeway away from
    /// now → 403 RequestTimeTooSkewed.
    #[error("request time too skewed")]
    TooSkewed,
    /// Conflicting auth mechanisms, a bad payload-hash value → 400 InvalidArgument.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A header the scheme requires is missing → 400 InvalidRequest.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

/// What an AWS signature mismatch reports (S3's error body elements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureDetail {
    pub access_key: String,
    pub signature_provided: String,
    pub string_to_sign: String,
    pub canonical_request: String,
}

/// The parts of a request that signatures cover, already decoded at the edge.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    pub method: &'a Method,
    /// The request path, percent-decoded (`%2F` → `/`, `+` stays `+`), not
    /// normalised, starting with `/`. For absolute-form targets, the path part.
    pub path: &'a str,
    /// Query pairs in request order, decoded (`+` → space, then `%XX`).
    /// A bare `?uploads` is `("uploads", "")`.
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
}

/// The bucket and key a request addresses, as the client wrote them (after
/// host/path resolution). OSS signs `/bucket/key` rebuilt from these,
/// whatever the addressing style (oss.md §1.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resource<'a> {
    /// `None` for service-level requests (ListBuckets).
    pub bucket: Option<&'a str>,
    /// `None` for bucket requests.
    pub key: Option<&'a str>,
}

impl<'a> Resource<'a> {
    /// What a resolved target addresses.
    pub fn of(target: &'a crate::http::target::Target) -> Resource<'a> {
        use crate::http::target::Target;
        match target {
            Target::Object(b, k) => Resource {
                bucket: Some(b.as_str()),
                key: Some(k.as_str()),
            },
            Target::Bucket(b) => Resource {
                bucket: Some(b.as_str()),
                key: None,
            },
            Target::Service | Target::Reserved(_) => Resource::default(),
        }
    }

    /// Path-style reading of a decoded path: `/<bucket>[/<key>]`.
    pub fn path_style(path: &'a str) -> Resource<'a> {
        let rest = path.strip_prefix('/').unwrap_or(path);
        if rest.is_empty() {
            return Resource::default();
        }
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        Resource {
            bucket: Some(bucket),
            key: (!key.is_empty()).then_some(key),
        }
    }
}

/// Verification knobs from config.
#[derive(Debug, Clone)]
pub struct AuthOptions {
    /// How far in the future a signature's start time may be (clock skew).
    pub leeway: Duration,
    /// AWS/OSS V4: when set, the credential scope's region must equal it
    /// (NOTES-ON-ISSUES 4: off by default, the key comes from the scope).
    pub strict_region: Option<String>,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            leeway: Duration::from_secs(900),
            strict_region: None,
        }
    }
}

/// Which scheme a request is signed with, detected once before verifying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Anonymous,
    /// `Authorization: q-sign-algorithm=sha1&...`
    CosHeader,
    /// Pre-signed: `?q-sign-algorithm=sha1&q-ak=...` or the merged `?sign=...`.
    CosQuery,
    /// `Authorization: AWS4-HMAC-SHA256 Credential=...`
    AwsV4Header,
    /// Pre-signed: `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...`
    AwsV4Query,
    /// `Authorization: AWS <AccessKeyId>:<Signature>`
    AwsV2Header,
    /// Pre-signed: `?AWSAccessKeyId=...&Expires=...&Signature=...`
    AwsV2Query,
    /// `Authorization: OSS4-HMAC-SHA256 Credential=...`
    OssV4Header,
    /// Pre-signed: `?x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=...`
    OssV4Query,
    /// `Authorization: OSS <AccessKeyId>:<Signature>`
    OssV1Header,
    /// Pre-signed: `?OSSAccessKeyId=...&Expires=...&Signature=...`
    OssV1Query,
}

/// The protocol family a request speaks. Responses answer in the same family
/// (header prefixes, error XML); the stored data is shared by all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Cos,
    S3,
    Oss,
}

impl Dialect {
    /// Looks at the `Authorization` header first, then the query.
    pub fn detect(parts: &RequestParts<'_>) -> Dialect {
        if let Some(auth) = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.as_bytes().trim_ascii())
            .filter(|v| !v.is_empty())
        {
            return if auth.starts_with(b"AWS4-HMAC-SHA256") {
                Dialect::AwsV4Header
            } else if auth.starts_with(b"AWS ") {
                Dialect::AwsV2Header
            } else if auth.starts_with(b"OSS4-HMAC-SHA256") {
                Dialect::OssV4Header
            } else if auth.starts_with(b"OSS ") {
                Dialect::OssV1Header
            } else {
                Dialect::CosHeader
            };
        }
        let has = |name: &str| {
            parts
                .query
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        if has("X-Amz-Algorithm") || has("X-Amz-Signature") {
            Dialect::AwsV4Query
        } else if has("AWSAccessKeyId") {
            Dialect::AwsV2Query
        } else if has("x-oss-signature-version") || has("x-oss-credential") {
            Dialect::OssV4Query
        } else if has("OSSAccessKeyId") {
            Dialect::OssV1Query
        } else {
            cos::detect(parts)
        }
    }

    pub fn family(self) -> Family {
        match self {
            Dialect::Anonymous | Dialect::CosHeader | Dialect::CosQuery => Family::Cos,
            Dialect::AwsV4Header
            | Dialect::AwsV4Query
            | Dialect::AwsV2Header
            | Dialect::AwsV2Query => Family::S3,
            Dialect::OssV4Header
            | Dialect::OssV4Query
            | Dialect::OssV1Header
            | Dialect::OssV1Query => Family::Oss,
        }
    }
}

/// The outcome of verifying one request.
#[derive(Debug, Clone)]
pub struct Verified {
    pub dialect: Dialect,
    /// `None` for anonymous requests.
    pub identity: Option<Identity>,
    /// What the body must satisfy (AWS `x-amz-content-sha256`).
    pub payload: Payload,
}

/// Verifies a request. `Ok(None)` means anonymous (no signature at all).
pub fn verify(
    parts: &RequestParts<'_>,
    keys: &KeyStore,
    now: SystemTime,
    opts: &AuthOptions,
) -> Result<Option<Identity>, AuthError> {
    verify_request(parts, keys, now, opts).map(|v| v.identity)
}

/// Detects the dialect and verifies the request in it, reading the path
/// path-style for the dialects that sign the resolved resource (OSS).
pub fn verify_request(
    parts: &RequestParts<'_>,
    keys: &KeyStore,
    now: SystemTime,
    opts: &AuthOptions,
) -> Result<Verified, AuthError> {
    verify_resource(parts, Resource::path_style(parts.path), keys, now, opts)
}

/// Detects the dialect and verifies the request in it; `resource` is what
/// host/path resolution found (OSS signs it instead of the path).
pub fn verify_resource(
    parts: &RequestParts<'_>,
    resource: Resource<'_>,
    keys: &KeyStore,
    now: SystemTime,
    opts: &AuthOptions,
) -> Result<Verified, AuthError> {
    let dialect = Dialect::detect(parts);
    let mut payload = Payload::Unsigned;
    let identity = match dialect {
        Dialect::Anonymous => None,
        Dialect::CosHeader | Dialect::CosQuery => Some(cos::verify(parts, keys, now, opts)?),
        Dialect::AwsV4Header | Dialect::AwsV4Query => {
            let (identity, p) =
                aws_v4::verify(parts, keys, now, opts, dialect == Dialect::AwsV4Query)?;
            payload = p;
            Some(identity)
        }
        Dialect::AwsV2Header | Dialect::AwsV2Query => Some(aws_v2::verify(
            parts,
            keys,
            now,
            opts,
            dialect == Dialect::AwsV2Query,
        )?),
        Dialect::OssV4Header | Dialect::OssV4Query => {
            Some(oss_v4::verify(parts, resource, keys, now, opts)?)
        }
        Dialect::OssV1Header | Dialect::OssV1Query => {
            Some(oss_v1::verify(parts, resource, keys, now, opts)?)
        }
    };
    Ok(Verified {
        dialect,
        identity,
        payload,
    })
}

/// Query parameters that carry authentication in `dialect` and are not
/// operation input (`Expires`/`Signature` mean different things per dialect).
pub fn is_auth_param(dialect: Dialect, name: &str) -> bool {
    match dialect {
        Dialect::OssV4Query => oss_v4::is_auth_param(name),
        Dialect::OssV1Query => oss_v1::is_auth_param(name),
        Dialect::OssV4Header | Dialect::OssV1Header => false,
        _ => match dialect.family() {
            Family::S3 => {
                aws_v4::QUERY_PARAMS.contains(&name) || aws_v2::QUERY_PARAMS.contains(&name)
            }
            Family::Cos | Family::Oss => cos::is_auth_param(name),
        },
    }
}
