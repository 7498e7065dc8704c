//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) as S3 does it, header and
//! pre-signed query forms: parse → canonical request → string to sign →
//! signature. https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html,
//! spec s3.md §1 (and §2 for what `x-amz-content-sha256` asks of the body).
//!
//! S3 flavour: the canonical URI is the path decoded once and re-encoded
//! strictly (no second encoding, `//`, `.` and `..` kept); the signing key comes
//! from the region *in the credential scope* (NOTES-ON-ISSUES 4) unless a
//! strict region is configured.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use http::header::{AUTHORIZATION, HOST};
use http::HeaderValue;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::canonical;
use super::{
    AuthError, AuthOptions, Credential, Identity, KeyStore, RequestParts, SignatureDetail,
};

type HmacSha256 = Hmac<Sha256>;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// `hex(SHA256(""))`, the empty-body hash that chunk signatures also use.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// The longest validity a pre-signed URL may ask for (7 days).
pub const MAX_EXPIRES: u64 = 604_800;
const TERMINATOR: &str = "aws4_request";
const SERVICE: &str = "s3";

/// The authentication parameters of the pre-signed form; stripped before the
/// operation sees the query.
pub const QUERY_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

/// What a verified request's body must satisfy (spec s3.md §2), decided by
/// `x-amz-content-sha256` (or `X-Amz-Content-Sha256` in a pre-signed URL).
#[derive(Debug, Clone, Default)]
pub enum Payload {
    /// Nothing to check: `UNSIGNED-PAYLOAD`, COS, V2, anonymous.
    #[default]
    Unsigned,
    /// The body's SHA-256 must equal this (→ 400 XAmzContentSHA256Mismatch).
    Sha256([u8; 32]),
    /// An `aws-chunked` body (`STREAMING-*`): the framing is removed before
    /// the bytes are stored.
    Chunked(Chunked),
}

/// The `aws-chunked` variants: chunks signed or not, trailer or not.
#[derive(Debug, Clone)]
pub struct Chunked {
    /// `Some` for `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`.
    pub signing: Option<ChunkSigning>,
    /// `*-TRAILER`: trailer lines (x-amz-checksum-*) follow the final chunk.
    pub trailer: bool,
}

/// What verifying the chunk-signature chain needs (spec s3.md §2.2).
#[derive(Clone)]
pub struct ChunkSigning {
    key: [u8; 32],
    /// `yyyymmddTHHMMSSZ` of the request.
    timestamp: String,
    /// `yyyymmdd/region/s3/aws4_request`.
    scope: String,
    /// The request's own signature: the first "previous signature".
    pub seed: [u8; 32],
}

impl fmt::Debug for ChunkSigning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkSigning")
            .field("timestamp", &self.timestamp)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ChunkSigning {
    pub fn new(secret: &str, timestamp: &str, scope: &str, seed: [u8; 32]) -> Option<Self> {
        let mut it = scope.split('/');
        let (date, region, service) = (it.next()?, it.next()?, it.next()?);
        Some(ChunkSigning {
            key: signing_key(secret, date, region, service),
            timestamp: timestamp.to_string(),
            scope: scope.to_string(),
            seed,
        })
    }

    /// `AWS4-HMAC-SHA256-PAYLOAD` string to sign → the chunk's signature.
    pub fn chunk_signature(&self, previous: &[u8; 32], chunk_sha256: &[u8; 32]) -> [u8; 32] {
        self.sign_parts(
            "AWS4-HMAC-SHA256-PAYLOAD",
            previous,
            Some(EMPTY_SHA256),
            chunk_sha256,
        )
    }

    /// `AWS4-HMAC-SHA256-TRAILER` string to sign → the trailer's signature;
    /// `trailer_sha256` hashes the `name:value\n` lines.
    pub fn trailer_signature(&self, previous: &[u8; 32], trailer_sha256: &[u8; 32]) -> [u8; 32] {
        self.sign_parts("AWS4-HMAC-SHA256-TRAILER", previous, None, trailer_sha256)
    }

    fn sign_parts(
        &self,
        algorithm: &str,
        previous: &[u8; 32],
        extra: Option<&str>,
        digest: &[u8; 32],
    ) -> [u8; 32] {
        let mut m = HmacSha256::new_from_slice(&self.key).expect("any key length");
        for part in [algorithm, &self.timestamp, &self.scope] {
            m.update(part.as_bytes());
            m.update(b"\n");
        }
        m.update(hex::encode(previous).as_bytes());
        m.update(b"\n");
        if let Some(extra) = extra {
            m.update(extra.as_bytes());
            m.update(b"\n");
        }
        m.update(hex::encode(digest).as_bytes());
        m.finalize().into_bytes().into()
    }
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut m = HmacSha256::new_from_slice(key).expect("any key length");
    m.update(msg);
    m.finalize().into_bytes().into()
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, TERMINATOR.as_bytes())
}

/// Decodes 64 hex digits (either case).
pub fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok().map(|()| out)
}

/// `<AK>/<yyyymmdd>/<region>/s3/aws4_request`.
#[derive(Debug, Clone, Copy)]
struct Scope<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
}

/// The fields of either form, borrowed from the request.
#[derive(Debug)]
struct V4Auth<'a> {
    scope: Scope<'a>,
    /// The `Credential` text without the access key: `date/region/s3/aws4_request`.
    scope_text: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
    /// `yyyymmddTHHMMSSZ`.
    timestamp: String,
    /// Pre-signed only.
    expires: Option<u64>,
    payload_hash: &'a str,
    query_form: bool,
}

impl<'a> V4Auth<'a> {
    fn malformed(&self, msg: impl Into<String>) -> AuthError {
        malformed(self.query_form, msg)
    }
}

fn malformed(query_form: bool, msg: impl Into<String>) -> AuthError {
    if query_form {
        AuthError::QueryMalformed(msg.into())
    } else {
        AuthError::HeaderMalformed(msg.into())
    }
}

/// A query parameter by exact name.
fn query_param<'a>(parts: &RequestParts<'a>, name: &str) -> Option<&'a str> {
    parts
        .query
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn header_str<'a>(parts: &RequestParts<'a>, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Splits `Credential` into the access key and the scope, checking the fixed parts.
fn parse_scope(credential: &str, query_form: bool) -> Result<(Scope<'_>, &str), AuthError> {
    let bad = |what: &str| {
        malformed(
            query_form,
            format!("{what} in the credential scope {credential:?}"),
        )
    };
    let (access_key, scope_text) = credential.split_once('/').ok_or_else(|| bad("no scope"))?;
    let parts: Vec<&str> = scope_text.split('/').collect();
    let [date, region, service, terminator] = parts[..] else {
        return Err(bad("wrong number of parts"));
    };
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("invalid date"));
    }
    if region.is_empty() {
        return Err(bad("empty region"));
    }
    if service != SERVICE {
        return Err(bad("the service must be s3"));
    }
    if terminator != TERMINATOR {
        return Err(bad("the terminator must be aws4_request"));
    }
    Ok((
        Scope {
            access_key,
            date,
            region,
        },
        scope_text,
    ))
}

/// Step 1 (header form): `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`,
/// fields split on `,` with or without spaces.
fn parse_header<'a>(parts: &RequestParts<'a>) -> Result<V4Auth<'a>, AuthError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| malformed(false, "the Authorization header is not ASCII"))?;
    let rest = value
        .trim()
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with([' ', '\t']))
        .ok_or_else(|| malformed(false, "unsupported algorithm"))?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in rest.split(',') {
        let Some((k, v)) = field.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed_headers = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(malformed(
            false,
            "the authorization header needs Credential, SignedHeaders and Signature",
        ));
    };
    let (scope, scope_text) = parse_scope(credential, false)?;
    // The timestamp: x-amz-date, else Date (ISO 8601 basic or an HTTP date).
    let timestamp = match header_str(parts, "x-amz-date") {
        Some(d) => d.to_string(),
        None => {
            let date = header_str(parts, "date").ok_or_else(|| {
                AuthError::Malformed(
                    "AWS authentication requires a valid Date or x-amz-date header".into(),
                )
            })?;
            if parse_amz_date(date).is_some() {
                date.to_string()
            } else {
                super::aws_v2::parse_http_date(date)
                    .map(format_amz_date)
                    .ok_or_else(|| {
                        AuthError::Malformed(
                            "AWS authentication requires a valid Date or x-amz-date header".into(),
                        )
                    })?
            }
        }
    };
    // S3 requires the payload hash on every header-signed request.
    let payload_hash = header_str(parts, "x-amz-content-sha256").ok_or_else(|| {
        AuthError::InvalidRequest(
            "Missing required header for this request: x-amz-content-sha256".into(),
        )
    })?;
    Ok(V4Auth {
        scope,
        scope_text,
        signed_headers,
        signature,
        timestamp,
        expires: None,
        payload_hash,
        query_form: false,
    })
}

/// Step 1 (pre-signed form): the `X-Amz-*` query parameters.
fn parse_query<'a>(parts: &RequestParts<'a>) -> Result<V4Auth<'a>, AuthError> {
    let need = |name: &str| {
        query_param(parts, name).ok_or_else(|| {
            malformed(
                true,
                "Query-string authentication version 4 requires the X-Amz-Algorithm, \
                 X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, \
                 and X-Amz-Expires parameters.",
            )
        })
    };
    if need("X-Amz-Algorithm")? != ALGORITHM {
        return Err(malformed(
            true,
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let (scope, scope_text) = parse_scope(need("X-Amz-Credential")?, true)?;
    let timestamp = need("X-Amz-Date")?.to_string();
    let expires = need("X-Amz-Expires")?;
    let signed_headers = need("X-Amz-SignedHeaders")?;
    let signature = need("X-Amz-Signature")?;
    let expires = expires
        .parse::<u64>()
        .ok()
        .filter(|s| expires.bytes().all(|b| b.is_ascii_digit()) && (1..=MAX_EXPIRES).contains(s))
        .ok_or_else(|| {
            malformed(
                true,
                "X-Amz-Expires must be a number of seconds between 1 and 604800",
            )
        })?;
    Ok(V4Auth {
        scope,
        scope_text,
        signed_headers,
        signature,
        timestamp,
        expires: Some(expires),
        payload_hash: query_param(parts, "X-Amz-Content-Sha256").unwrap_or("UNSIGNED-PAYLOAD"),
        query_form: true,
    })
}

/// Step 2: what the payload hash asks of the body (spec s3.md §2).
enum PayloadMode {
    Unsigned,
    Sha256([u8; 32]),
    Chunked { signed: bool, trailer: bool },
}

fn payload_mode(value: &str) -> Result<PayloadMode, AuthError> {
    Ok(match value {
        "UNSIGNED-PAYLOAD" => PayloadMode::Unsigned,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => PayloadMode::Chunked {
            signed: false,
            trailer: true,
        },
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => PayloadMode::Chunked {
            signed: true,
            trailer: false,
        },
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => PayloadMode::Chunked {
            signed: true,
            trailer: true,
        },
        hex if hex.len() == 64 => PayloadMode::Sha256(hex32(hex).ok_or_else(bad_payload_hash)?),
        _ => return Err(bad_payload_hash()),
    })
}

fn bad_payload_hash() -> AuthError {
    AuthError::InvalidArgument(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, \
         STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, \
         STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value."
            .into(),
    )
}

/// Verifies an `AWS4-HMAC-SHA256` request (header form, or pre-signed when
/// `query_form`), returning who signed it and what its body must satisfy.
pub fn verify(
    parts: &RequestParts<'_>,
    keys: &KeyStore,
    now: SystemTime,
    opts: &AuthOptions,
    query_form: bool,
) -> Result<(Identity, Payload), AuthError> {
    // Only one mechanism per request.
    if !query_form
        && parts
            .query
            .iter()
            .any(|(n, _)| n == "X-Amz-Algorithm" || n == "X-Amz-Signature" || n == "AWSAccessKeyId")
    {
        return Err(AuthError::InvalidArgument(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified"
                .into(),
        ));
    }
    // Step 1: parse.
    let auth = if query_form {
        parse_query(parts)?
    } else {
        parse_header(parts)?
    };
    let mode = payload_mode(auth.payload_hash)?;
    let request_time = parse_amz_date(&auth.timestamp)
        .ok_or_else(|| auth.malformed(format!("invalid date {:?}", auth.timestamp)))?;
    // Step 2: the credential scope against the request.
    if auth.scope.date != &auth.timestamp[..8] {
        return Err(auth.malformed(format!(
            "the credential date {} does not match the request date {}",
            auth.scope.date,
            &auth.timestamp[..8]
        )));
    }
    if let Some(region) = opts.strict_region.as_deref() {
        if auth.scope.region != region {
            return Err(auth.malformed(format!(
                "the region '{}' is wrong; expecting '{region}'",
                auth.scope.region
            )));
        }
    }
    let signed: Vec<&str> = auth.signed_headers.split(';').collect();
    if !signed.contains(&"host") {
        return Err(auth.malformed("SignedHeaders must include host"));
    }
    if signed.windows(2).any(|w| w[0] >= w[1])
        || signed
            .iter()
            .any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(auth.malformed("SignedHeaders must be lower-case and sorted"));
    }

    // Step 3: the key (and the token of a temporary key).
    let cred = keys
        .lookup(auth.scope.access_key)
        .ok_or(AuthError::UnknownKey)?;
    check_token(parts, cred, now)?;

    // Step 4: time. Header form: ±leeway around now. Pre-signed: from
    // X-Amz-Date (minus the leeway) to X-Amz-Date + X-Amz-Expires.
    match auth.expires {
        None => {
            let skew = match now.duration_since(request_time) {
                Ok(d) => d,
                Err(e) => e.duration(),
            };
            if skew > opts.leeway {
                return Err(AuthError::TooSkewed);
            }
        }
        Some(expires) => {
            if now + opts.leeway < request_time {
                return Err(AuthError::NotYetValid);
            }
            if now > request_time + Duration::from_secs(expires) {
                return Err(AuthError::Expired);
            }
        }
    }

    // Step 5: canonical request → string to sign → signature; compare in
    // constant time. A proxy may drop or add the port: retry once with the
    // Host port stripped (only when the first attempt failed).
    let key = signing_key(
        cred.secret_key.expose(),
        auth.scope.date,
        auth.scope.region,
        SERVICE,
    );
    let sent = hex32(auth.signature);
    let attempt = |host: Option<&[u8]>| -> Result<(bool, Vec<u8>, String), AuthError> {
        let creq = canonical_request(parts, &auth, &signed, host)?;
        let sts = string_to_sign(&auth.timestamp, auth.scope_text, &creq);
        let sig = hmac(&key, sts.as_bytes());
        Ok((sent.is_some_and(|s| bool::from(sig.ct_eq(&s))), creq, sts))
    };
    let (mut ok, creq, sts) = attempt(None)?;
    if !ok {
        if let Some(host) = parts.headers.get(HOST).map(HeaderValue::as_bytes) {
            let stripped = strip_port(host);
            if stripped.len() != host.len() {
                ok = attempt(Some(stripped))?.0;
            }
        }
    }
    if !ok {
        return Err(AuthError::SignatureDoesNotMatch(Box::new(
            SignatureDetail {
                access_key: auth.scope.access_key.to_string(),
                signature_provided: auth.signature.to_string(),
                string_to_sign: sts,
                canonical_request: String::from_utf8_lossy(&creq).into_owned(),
            },
        )));
    }

    // Step 6: what the body must satisfy.
    let payload = match mode {
        PayloadMode::Unsigned => Payload::Unsigned,
        PayloadMode::Sha256(h) => Payload::Sha256(h),
        PayloadMode::Chunked { signed, trailer } => Payload::Chunked(Chunked {
            signing: signed.then(|| ChunkSigning {
                key,
                timestamp: auth.timestamp.clone(),
                scope: auth.scope_text.to_string(),
                seed: sent.unwrap_or_default(),
            }),
            trailer,
        }),
    };
    Ok((
        Identity {
            secret_id: cred.secret_id.clone(),
        },
        payload,
    ))
}

/// A temporary key needs its token as `x-amz-security-token` (header) or
/// `X-Amz-Security-Token` (query); a permanent key ignores one.
fn check_token(
    parts: &RequestParts<'_>,
    cred: &Credential,
    now: SystemTime,
) -> Result<(), AuthError> {
    if let Some(token) = cred.token.as_deref() {
        let sent = parts
            .headers
            .get("x-amz-security-token")
            .map(HeaderValue::as_bytes)
            .or_else(|| query_param(parts, "X-Amz-Security-Token").map(str::as_bytes));
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

/// `host:port` → `host`; `[v6]:port` → `[v6]`; anything else unchanged.
fn strip_port(host: &[u8]) -> &[u8] {
    match host.iter().rposition(|&b| b == b':') {
        Some(colon) if host.first() != Some(&b'[') || host[..colon].ends_with(b"]") => {
            &host[..colon]
        }
        _ => host,
    }
}

/// StringToSign = "AWS4-HMAC-SHA256" \n timestamp \n scope \n hex(SHA256(CanonicalRequest)).
fn string_to_sign(timestamp: &str, scope: &str, canonical_request: &[u8]) -> String {
    let digest = Sha256::digest(canonical_request);
    format!("{ALGORITHM}\n{timestamp}\n{scope}\n{}", hex::encode(digest))
}

/// The canonical request (spec s3.md §1.3), as bytes. `host` replaces the
/// Host header's value (the port-stripped retry).
fn canonical_request(
    parts: &RequestParts<'_>,
    auth: &V4Auth<'_>,
    signed: &[&str],
    host: Option<&[u8]>,
) -> Result<Vec<u8>, AuthError> {
    let mut out: Vec<u8> = Vec::with_capacity(512);
    // <HTTPMethod>\n
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b'\n');
    // <CanonicalURI>\n: the decoded path re-encoded once, `/` kept, never normalised.
    if parts.path.is_empty() {
        out.push(b'/');
    }
    for (i, segment) in parts.path.split('/').enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        canonical::encode_into(&mut out, segment.as_bytes());
    }
    out.push(b'\n');
    // <CanonicalQueryString>\n: every parameter but X-Amz-Signature (pre-signed),
    // names and values encoded, sorted by name then value, `name=` when empty.
    canonical::write_sorted_query(
        &mut out,
        parts.query,
        auth.query_form.then_some("X-Amz-Signature"),
        canonical::EmptyValue::NameEquals,
    );
    out.push(b'\n');
    // <CanonicalHeaders>\n: `name:value\n` per signed header; values trimmed,
    // inner whitespace runs collapsed, repeats joined with `,`.
    for name in signed {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        if let (Some(host), true) = (host, *name == "host") {
            put_header_value(&mut out, host);
        } else {
            let mut values = parts.headers.get_all(*name).iter().peekable();
            if values.peek().is_none() {
                return Err(AuthError::SignatureDoesNotMatch(Box::new(
                    SignatureDetail {
                        access_key: auth.scope.access_key.to_string(),
                        signature_provided: auth.signature.to_string(),
                        string_to_sign: String::new(),
                        canonical_request: format!(
                            "signed header {name} is missing from the request"
                        ),
                    },
                )));
            }
            for (i, v) in values.enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                put_header_value(&mut out, v.as_bytes());
            }
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    // <SignedHeaders>\n<HashedPayload>
    out.extend_from_slice(auth.signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(auth.payload_hash.as_bytes());
    Ok(out)
}

/// Trims and collapses runs of spaces/tabs to one space.
fn put_header_value(out: &mut Vec<u8>, v: &[u8]) {
    let mut space = false;
    for &b in v.trim_ascii() {
        if b == b' ' || b == b'\t' {
            space = true;
        } else {
            if space {
                out.push(b' ');
                space = false;
            }
            out.push(b);
        }
    }
}

/// Parses `yyyymmddTHHMMSSZ` (ISO 8601 basic, UTC).
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u64> {
        let part = &b[r];
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
    };
    let (y, mo, d) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (h, mi, sec) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    if y < 1970
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
        || h > 23
        || mi > 59
        || sec > 60
    {
        return None;
    }
    let days = days_from_civil(y as i64, mo as i64, d as i64);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + mi * 60 + sec;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Formats a time as `yyyymmddTHHMMSSZ`.
pub fn format_amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
#[path = "aws_v4_tests.rs"]
pub(crate) mod tests;
