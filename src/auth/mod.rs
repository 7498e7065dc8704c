//! Signature verification. `Dialect::detect` looks at a request once; `verify`
//! checks it and returns who is calling (or `None` for anonymous requests).
//!
//! COS q-sign (sha1): https://cloud.tencent.com/document/product/436/7778,
//! spec cos.md §1. Other dialects (AWS SigV4/V2, OSS V4/V1) slot in beside `cos`.

pub mod canonical;
pub mod cos;
pub mod keys;
pub mod presign;

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method};

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

/// Verification knobs from config.
#[derive(Debug, Clone)]
pub struct AuthOptions {
    /// How far in the future a signature's start time may be (clock skew).
    pub leeway: Duration,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            leeway: Duration::from_secs(900),
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
}

impl Dialect {
    pub fn detect(parts: &RequestParts<'_>) -> Dialect {
        cos::detect(parts)
    }
}

/// Verifies a request. `Ok(None)` means anonymous (no signature at all).
pub fn verify(
    parts: &RequestParts<'_>,
    keys: &KeyStore,
    now: SystemTime,
    opts: &AuthOptions,
) -> Result<Option<Identity>, AuthError> {
    match Dialect::detect(parts) {
        Dialect::Anonymous => Ok(None),
        Dialect::CosHeader | Dialect::CosQuery => cos::verify(parts, keys, now, opts).map(Some),
    }
}

/// Query parameters that carry authentication and are not operation input.
pub fn is_auth_param(name: &str) -> bool {
    cos::is_auth_param(name)
}
