//! COS q-sign (sha1) request signatures: `Authorization` header, pre-signed
//! `q-*` query and merged `?sign=` forms, verified as
//! https://cloud.tencent.com/document/product/436/7778 describes
//! (spec cos.md §1, procedure §1.10; temporary keys §6A.11).
//!
//! ```text
//! SignKey      = hex( HMAC-SHA1( SecretKey, q-key-time ) )
//! HttpString   = lower(method) \n UriPathname \n HttpParameters \n HttpHeaders \n
//! StringToSign = "sha1" \n q-sign-time \n hex( SHA1( HttpString ) ) \n
//! Signature    = hex( HMAC-SHA1( SignKey as 40 hex chars, StringToSign ) )
//! ```
//!
//! Choices where the spec leaves room:
//! * a name in `q-header-list` / `q-url-param-list` that the request lacks is
//!   `AuthError::Malformed` (403 AccessDenied), as `negative_vectors.json` wants;
//! * a name listed twice is signed once, all its values sorted (NOTES note 5:
//!   cos-go-sdk-v5 lists a repeated query name once per value);
//! * an auth field given twice is `Malformed`;
//! * an expired credential (`Credential::expires`) is `TokenExpired` even
//!   without a token.
//!
//! The HttpString is streamed into SHA-1 without being built, so a
//! verification allocates nothing unless the Host retry needs a lower-cased copy.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, HOST};
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

use super::canonical::{self, Sink};
use super::{AuthError, AuthOptions, Credential, Dialect, Identity, KeyStore, RequestParts};

type HmacSha1 = Hmac<Sha1>;

/// The seven auth fields, in the order the SDKs write them.
const Q_FIELDS: [&str; 7] = [
    "q-sign-algorithm",
    "q-ak",
    "q-sign-time",
    "q-key-time",
    "q-header-list",
    "q-url-param-list",
    "q-signature",
];

/// The merged pre-signed form: `?sign=<url-encoded auth string>`.
const MERGED_PARAM: &str = "sign";

/// Temporary credentials present their token under this header or query name.
const SECURITY_TOKEN: &str = "x-cos-security-token";

/// Whether a query parameter carries authentication (the seven `q-*` names
/// and `sign`, any case) and must be stripped before the operation sees it.
pub fn is_auth_param(name: &str) -> bool {
    is_q_field(name) || name.eq_ignore_ascii_case(MERGED_PARAM)
}

fn is_q_field(name: &str) -> bool {
    Q_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name))
}

/// Step 1 of §1.10 without parsing: header, then query `q-*`, then `sign`.
pub fn detect(parts: &RequestParts<'_>) -> Dialect {
    if authorization_header(parts).is_some() {
        Dialect::CosHeader
    } else if parts.query.iter().any(|(name, _)| is_auth_param(name)) {
        Dialect::CosQuery
    } else {
        Dialect::Anonymous
    }
}

/// A present, non-empty `Authorization` header. Empty means anonymous
/// (cos-python-sdk-v5 sends `Authorization: ""` with `Anonymous=True`).
fn authorization_header<'a>(parts: &RequestParts<'a>) -> Option<&'a HeaderValue> {
    parts
        .headers
        .get(AUTHORIZATION)
        .filter(|v| !v.as_bytes().trim_ascii().is_empty())
}

/// A `t0;t1` window in unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub start: u64,
    pub end: u64,
}

impl Window {
    fn parse(field: &str, text: &str) -> Result<Window, AuthError> {
        let bad = || AuthError::Malformed(format!("{field} must be <start>;<end> in unix seconds"));
        let (start, end) = text.split_once(';').ok_or_else(bad)?;
        let secs = |s: &str| -> Result<u64, AuthError> {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse().map_err(|_| bad())
        };
        let window = Window {
            start: secs(start)?,
            end: secs(end)?,
        };
        if window.start > window.end {
            return Err(bad());
        }
        Ok(window)
    }

    /// §1.7: `start <= now <= end`, the start relaxed by `leeway` (clock skew).
    fn check(self, now: u64, leeway: Duration) -> Result<(), AuthError> {
        if now > self.end {
            return Err(AuthError::Expired);
        }
        if self.start > now.saturating_add(leeway.as_secs()) {
            return Err(AuthError::NotYetValid);
        }
        Ok(())
    }
}

/// The parsed auth fields, borrowed from the header or the query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CosAuthorization<'a> {
    pub ak: &'a str,
    pub sign_time: &'a str,
    pub key_time: &'a str,
    pub sign_window: Window,
    pub key_window: Window,
    pub header_list: &'a str,
    pub param_list: &'a str,
    pub signature: &'a str,
}

impl<'a> CosAuthorization<'a> {
    /// Step 1: find the auth fields — `Authorization` header, then query
    /// `q-*`, then query `sign`. `Ok(None)`: none present (anonymous).
    pub(crate) fn find(parts: &RequestParts<'a>) -> Result<Option<Self>, AuthError> {
        if let Some(value) = authorization_header(parts) {
            let text = value
                .to_str()
                .map_err(|_| AuthError::Malformed("Authorization is not visible ASCII".into()))?;
            return Self::parse(auth_string_fields(text)).map(Some);
        }
        if parts.query.iter().any(|(name, _)| is_q_field(name)) {
            // Query values arrive decoded, so `%3B`/`%3b`/`;` all read as `;`.
            return Self::parse(parts.query.iter().map(|(n, v)| (n.as_str(), v.as_str())))
                .map(Some);
        }
        if let Some((_, merged)) = parts
            .query
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(MERGED_PARAM))
        {
            return Self::parse(auth_string_fields(merged)).map(Some);
        }
        Ok(None)
    }

    /// Step 2: pick the seven fields out of `fields` (order-free, other names
    /// ignored), require algorithm `sha1` and the mandatory ones.
    fn parse(fields: impl Iterator<Item = (&'a str, &'a str)>) -> Result<Self, AuthError> {
        let mut slots: [Option<&'a str>; 7] = [None; 7];
        for (name, value) in fields {
            if let Some(i) = Q_FIELDS.iter().position(|f| f.eq_ignore_ascii_case(name)) {
                if slots[i].replace(value.trim()).is_some() {
                    return Err(AuthError::Malformed(format!("{} given twice", Q_FIELDS[i])));
                }
            }
        }
        let [algorithm, ak, sign_time, key_time, header_list, param_list, signature] = slots;
        let required = |slot: Option<&'a str>, name: &str| {
            slot.ok_or_else(|| AuthError::Malformed(format!("missing {name}")))
        };
        let algorithm = required(algorithm, "q-sign-algorithm")?;
        if algorithm != "sha1" {
            return Err(AuthError::Malformed(format!(
                "unsupported q-sign-algorithm {algorithm:?}"
            )));
        }
        let ak = required(ak, "q-ak")?;
        let sign_time = required(sign_time, "q-sign-time")?;
        let key_time = required(key_time, "q-key-time")?;
        let signature = required(signature, "q-signature")?;
        Ok(CosAuthorization {
            ak,
            sign_time,
            key_time,
            sign_window: Window::parse("q-sign-time", sign_time)?,
            key_window: Window::parse("q-key-time", key_time)?,
            header_list: header_list.unwrap_or(""),
            param_list: param_list.unwrap_or(""),
            signature,
        })
    }
}

/// `name=value&name=value`: split on `&`, then on the first `=`.
fn auth_string_fields(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.split('&')
        .filter_map(|field| field.split_once('='))
        .map(|(n, v)| (n.trim(), v))
}

/// Entries of `q-header-list` / `q-url-param-list`.
fn list_entries(list: &str) -> impl Iterator<Item = &str> {
    list.split(';').map(str::trim).filter(|e| !e.is_empty())
}

/// Verifies a COS-signed request (spec cos.md §1.10). Time is a parameter.
pub fn verify(
    parts: &RequestParts<'_>,
    keys: &KeyStore,
    now: SystemTime,
    opts: &AuthOptions,
) -> Result<Identity, AuthError> {
    // Steps 1–2: find and parse the auth fields.
    let auth = CosAuthorization::find(parts)?
        .ok_or_else(|| AuthError::Malformed("no COS signature in the request".into()))?;

    // Step 3: the key, and the token of a temporary key.
    let cred = keys.lookup(auth.ak).ok_or(AuthError::UnknownKey)?;
    check_credential(parts, cred, now)?;

    // Step 4: time window, both q-sign-time and q-key-time.
    let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    auth.sign_window.check(now_secs, opts.leeway)?;
    auth.key_window.check(now_secs, opts.leeway)?;

    // Steps 5–6: recompute and compare; retry once with the Host port stripped.
    let mut sent = [0u8; 20];
    let sent_is_hex = hex::decode_to_slice(auth.signature, &mut sent).is_ok();
    let sign_key = sign_key_hex(cred.secret_key.expose(), auth.key_time);
    let retry_host = host_retry_value(parts, &auth);
    let hosts = std::iter::once(None).chain(retry_host.as_deref().map(Some));
    for host in hosts {
        let mut hasher = Sha1::new();
        write_http_string(&mut hasher, parts, &auth, host)?;
        let signature = signature(&sign_key, auth.sign_time, &hasher.finalize().into());
        // Step 6: constant time; hex of either case was accepted by decode_to_slice.
        if sent_is_hex && bool::from(signature.ct_eq(&sent)) {
            return Ok(Identity {
                secret_id: cred.secret_id.clone(),
            });
        }
    }
    Err(AuthError::SignatureMismatch)
}

/// Step 3 (§6A.11): a temporary key needs its own token, sent as header or
/// query parameter, signed or not; a token sent with a permanent key is ignored.
fn check_credential(
    parts: &RequestParts<'_>,
    cred: &Credential,
    now: SystemTime,
) -> Result<(), AuthError> {
    if let Some(token) = cred.token.as_deref() {
        let sent = parts
            .headers
            .get(SECURITY_TOKEN)
            .map(HeaderValue::as_bytes)
            .or_else(|| {
                parts
                    .query
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(SECURITY_TOKEN))
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

/// §1.6 Host retry: cos-python-sdk-v5 signs the URL hostname (port dropped,
/// lower-cased) while sending `Host: host:port`. `Some` only when `host` is
/// listed and the retry value differs from the header as received.
fn host_retry_value(parts: &RequestParts<'_>, auth: &CosAuthorization<'_>) -> Option<Vec<u8>> {
    if !list_entries(auth.header_list).any(|e| e.eq_ignore_ascii_case("host")) {
        return None;
    }
    let host = parts.headers.get(HOST)?.as_bytes();
    let stripped = strip_port(host).to_ascii_lowercase();
    (stripped != host).then_some(stripped)
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

/// SignKey = hex(HMAC-SHA1(SecretKey, q-key-time)), as 40 lower-case hex bytes.
pub(crate) fn sign_key_hex(secret_key: &str, key_time: &str) -> [u8; 40] {
    let mut out = [0u8; 40];
    hex_into(
        &hmac_sha1(secret_key.as_bytes(), &[key_time.as_bytes()]),
        &mut out,
    );
    out
}

/// Signature = HMAC-SHA1(SignKey hex text, StringToSign), raw bytes.
fn signature(sign_key: &[u8; 40], sign_time: &str, http_sha1: &[u8; 20]) -> [u8; 20] {
    let mut digest_hex = [0u8; 40];
    hex_into(http_sha1, &mut digest_hex);
    // StringToSign = "sha1\n" q-sign-time "\n" hex(SHA1(HttpString)) "\n"
    hmac_sha1(
        sign_key,
        &[b"sha1\n", sign_time.as_bytes(), b"\n", &digest_hex, b"\n"],
    )
}

fn hmac_sha1(key: &[u8], msg: &[&[u8]]) -> [u8; 20] {
    let mut mac = HmacSha1::new_from_slice(key).expect("HMAC accepts keys of any length");
    for piece in msg {
        mac.update(piece);
    }
    mac.finalize().into_bytes().into()
}

fn hex_into(bytes: &[u8; 20], out: &mut [u8; 40]) {
    // Lengths match (20 bytes → 40 hex digits), so this cannot fail.
    let _ = hex::encode_to_slice(bytes, out);
}

/// Step 5: streams the HttpString (§1.2–§1.6) into `out`. `host` replaces the
/// Host header value (the retry of §1.6). A listed name the request lacks is
/// `Malformed` (403 AccessDenied).
pub(crate) fn write_http_string<S: Sink>(
    out: &mut S,
    parts: &RequestParts<'_>,
    auth: &CosAuthorization<'_>,
    host: Option<&[u8]>,
) -> Result<(), AuthError> {
    // HttpMethod: lower-cased.
    canonical::put_lower(out, parts.method.as_str().as_bytes());
    out.put(b"\n");

    // UriPathname: the decoded path, not re-encoded, not normalised (§1.4).
    out.put(parts.path.as_bytes());
    out.put(b"\n");

    // HttpParameters: listed names, matched on their lower-cased canonical
    // form; values canonically encoded from the decoded query (§1.5).
    let mut pairs = Pairs::new(out);
    for (i, name) in list_entries(auth.param_list).enumerate() {
        if list_entries(auth.param_list)
            .take(i)
            .any(|prev| prev.eq_ignore_ascii_case(name))
        {
            continue;
        }
        let values = parts
            .query
            .iter()
            .filter(|(n, _)| canonical::encoded_eq_ignore_case(n.as_bytes(), name.as_bytes()))
            .map(|(_, v)| v.as_bytes());
        if !pairs.write(name, values) {
            return Err(AuthError::Malformed(format!(
                "signed parameter {name} is missing"
            )));
        }
    }
    pairs.out.put(b"\n");

    // HttpHeaders: the same over q-header-list, names looked up case-insensitively (§1.6).
    let mut pairs = Pairs::new(pairs.out);
    for (i, name) in list_entries(auth.header_list).enumerate() {
        if list_entries(auth.header_list)
            .take(i)
            .any(|prev| prev.eq_ignore_ascii_case(name))
        {
            continue;
        }
        let found = match host {
            Some(host) if name.eq_ignore_ascii_case("host") => {
                pairs.write(name, std::iter::once(host))
            }
            _ => match header_name(name) {
                Some(header) => pairs.write(
                    name,
                    parts
                        .headers
                        .get_all(header)
                        .iter()
                        .map(HeaderValue::as_bytes),
                ),
                None => false,
            },
        };
        if !found {
            return Err(AuthError::Malformed(format!(
                "signed header {name} is missing"
            )));
        }
    }
    pairs.out.put(b"\n");
    Ok(())
}

/// A listed header name as a `HeaderName` (it was canonically encoded, so
/// decode `%XX` first). `None` for a name no request could carry.
fn header_name(listed: &str) -> Option<HeaderName> {
    let name: Cow<'_, [u8]> = if listed.contains('%') {
        Cow::Owned(canonical::percent_decode_bytes(listed.as_bytes(), false))
    } else {
        Cow::Borrowed(listed.as_bytes())
    };
    HeaderName::from_bytes(&name).ok()
}

/// Writes `name=value` pairs joined by `&`.
struct Pairs<'o, S: Sink> {
    out: &'o mut S,
    first: bool,
}

impl<'o, S: Sink> Pairs<'o, S> {
    fn new(out: &'o mut S) -> Self {
        Pairs { out, first: true }
    }

    /// One pair per value, values sorted by their decoded bytes as
    /// cos-go-sdk-v5 does. `false` when there is no value at all.
    fn write<'v>(&mut self, name: &str, values: impl Iterator<Item = &'v [u8]>) -> bool {
        let mut values = values;
        let Some(first) = values.next() else {
            return false;
        };
        match values.next() {
            None => self.pair(name, first),
            Some(second) => {
                let mut all = vec![first, second];
                all.extend(values);
                all.sort_unstable();
                for value in all {
                    self.pair(name, value);
                }
            }
        }
        true
    }

    fn pair(&mut self, name: &str, value: &[u8]) {
        if !self.first {
            self.out.put(b"&");
        }
        self.first = false;
        canonical::put_lower(self.out, name.as_bytes());
        self.out.put(b"=");
        canonical::encode_into(self.out, value);
    }
}

/// POST Object (browser form) signature, cos.md §1.9: SignKey as above,
/// StringToSign = hex(SHA1(base64-decoded policy)), Signature =
/// hex(HMAC-SHA1(SignKey hex, StringToSign)). Returns lower-case hex.
pub fn post_policy_signature(
    secret_key: &str,
    key_time: &str,
    policy_b64: &str,
) -> Result<String, AuthError> {
    let policy = base64::engine::general_purpose::STANDARD
        .decode(policy_b64.trim())
        .map_err(|_| AuthError::Malformed("policy is not base64".into()))?;
    let sign_key = sign_key_hex(secret_key, key_time);
    let string_to_sign = hex::encode(Sha1::digest(&policy));
    Ok(hex::encode(hmac_sha1(
        &sign_key,
        &[string_to_sign.as_bytes()],
    )))
}

/// The intermediate strings of one verification, for tests that point at the
/// step that went wrong.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct Explained {
    pub http_string: String,
    pub string_to_sign: String,
    pub sign_key: String,
    pub signature: String,
    /// The Host value that was used when the retry of §1.6 matched.
    pub host_retry: Option<String>,
}

/// Runs steps 1, 2 and 5 like `verify` (no key store, no clock) and returns
/// the strings of the attempt that matched the sent signature, or of the
/// first attempt if none did.
#[cfg(test)]
pub(crate) fn explain(parts: &RequestParts<'_>, secret_key: &str) -> Result<Explained, AuthError> {
    let auth =
        CosAuthorization::find(parts)?.ok_or_else(|| AuthError::Malformed("anonymous".into()))?;
    let sign_key = sign_key_hex(secret_key, auth.key_time);
    let retry_host = host_retry_value(parts, &auth);
    let mut attempts = Vec::new();
    for host in std::iter::once(None).chain(retry_host.as_deref().map(Some)) {
        let mut http_string = Vec::new();
        write_http_string(&mut http_string, parts, &auth, host)?;
        let digest: [u8; 20] = Sha1::digest(&http_string).into();
        let explained = Explained {
            http_string: String::from_utf8(http_string).expect("HttpString is UTF-8"),
            string_to_sign: format!("sha1\n{}\n{}\n", auth.sign_time, hex::encode(digest)),
            sign_key: String::from_utf8(sign_key.to_vec()).expect("hex"),
            signature: hex::encode(signature(&sign_key, auth.sign_time, &digest)),
            host_retry: host.map(|h| String::from_utf8_lossy(h).into_owned()),
        };
        if explained.signature.eq_ignore_ascii_case(auth.signature) {
            return Ok(explained);
        }
        attempts.push(explained);
    }
    Ok(attempts.swap_remove(0))
}

#[cfg(test)]
#[path = "vectors_test.rs"]
mod vectors_test;

#[cfg(test)]
#[path = "cos_tests.rs"]
mod tests;
