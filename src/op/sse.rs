//! SSE request headers (spec cos.md §5, https://cloud.tencent.com/document/product/436/18145):
//! what a write asks for, what a read must present for an SSE-C object, and
//! the COS error for every misuse. The cryptography is in `storage::sse`.
//!
//! | request | rule | error |
//! |---|---|---|
//! | PUT/Copy | `x-cos-server-side-encryption` other than `AES256` / `cos/kms` | 400 SSEContentNotSupported |
//! | PUT/Copy | KMS key id or context without `cos/kms`; SSE-C with `x-cos-server-side-encryption`; bad SSE-C triple | 400 InvalidArgument |
//! | PUT/Copy | unknown / disabled CMK | 400 KmsKeyNotExist / KmsKeyDisabled |
//! | GET/HEAD/copy source | SSE-C object, headers absent or incomplete | 400 SsecDecryptHeaderInvalid |
//! | GET/HEAD/copy source | bad algorithm, key not 32 bytes of base64, MD5 ≠ MD5(key) | 400 InvalidArgument |
//! | GET/HEAD/copy source | well-formed key that is not the object's | 403 AccessDenied |
//! | GET/HEAD/copy source | SSE-C headers on an object that is not SSE-C | 400 SSEHeaderNotAllowed |

use base64::Engine;
use futures_util::StreamExt;
use http::HeaderMap;

use super::AppState;
use crate::error::{Error, ErrorCode, Result};
use crate::http::header;
use crate::storage::sse::{KeyBytes, KeyError, Sealing, SseKind, SseRequest};
use crate::storage::{ByteStream, ObjectReader, ObjectRecord, StorageError};

pub const X_COS_SSE: &str = "x-cos-server-side-encryption";
pub const X_COS_SSE_KMS_KEY_ID: &str = "x-cos-server-side-encryption-cos-kms-key-id";
pub const X_COS_SSE_CONTEXT: &str = "x-cos-server-side-encryption-context";

/// The three SSE-C headers of a request, or their copy-source forms.
#[derive(Debug, Clone, Copy)]
pub struct CustomerHeaders {
    pub algorithm: &'static str,
    pub key: &'static str,
    pub key_md5: &'static str,
}

/// `x-cos-server-side-encryption-customer-*` (PUT, GET, HEAD, copy destination).
pub const CUSTOMER: CustomerHeaders = CustomerHeaders {
    algorithm: "x-cos-server-side-encryption-customer-algorithm",
    key: "x-cos-server-side-encryption-customer-key",
    key_md5: "x-cos-server-side-encryption-customer-key-md5",
};

/// `x-cos-copy-source-server-side-encryption-customer-*` (copy source).
pub const COPY_SOURCE_CUSTOMER: CustomerHeaders = CustomerHeaders {
    algorithm: "x-cos-copy-source-server-side-encryption-customer-algorithm",
    key: "x-cos-copy-source-server-side-encryption-customer-key",
    key_md5: "x-cos-copy-source-server-side-encryption-customer-key-md5",
};

/// What is wrong with an SSE-C header set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CustomerKeyError {
    /// Some of the three headers are missing.
    Incomplete,
    BadAlgorithm,
    /// Not base64, or not 32 bytes.
    BadKey,
    /// The key-MD5 header is not the MD5 of the key.
    Md5Mismatch,
}

impl CustomerKeyError {
    fn into_error(self, names: CustomerHeaders) -> Error {
        let msg = match self {
            CustomerKeyError::Incomplete => format!(
                "The {}, {} and {} headers must be given together.",
                names.algorithm, names.key, names.key_md5
            ),
            CustomerKeyError::BadAlgorithm => format!("{} must be AES256.", names.algorithm),
            CustomerKeyError::BadKey => format!(
                "{} must be the base64 encoding of a 256-bit key.",
                names.key
            ),
            CustomerKeyError::Md5Mismatch => format!(
                "{} does not match the MD5 of the provided key.",
                names.key_md5
            ),
        };
        Error::with_message(ErrorCode::InvalidArgument, msg)
    }
}

fn any_present(h: &HeaderMap, names: CustomerHeaders) -> bool {
    [names.algorithm, names.key, names.key_md5]
        .iter()
        .any(|n| header::get(h, n).is_some())
}

/// Parses an SSE-C triple; `Ok(None)` when none of the three is present.
fn parse_customer(
    h: &HeaderMap,
    names: CustomerHeaders,
) -> std::result::Result<Option<KeyBytes>, CustomerKeyError> {
    let (alg, key, md5) = (
        header::get(h, names.algorithm),
        header::get(h, names.key),
        header::get(h, names.key_md5),
    );
    let (alg, key, md5) = match (alg, key, md5) {
        (None, None, None) => return Ok(None),
        (Some(a), Some(k), Some(m)) => (a, k, m),
        _ => return Err(CustomerKeyError::Incomplete),
    };
    if alg != "AES256" {
        return Err(CustomerKeyError::BadAlgorithm);
    }
    let key = KeyBytes::from_base64(key).ok_or(CustomerKeyError::BadKey)?;
    if key.md5_base64() != md5 {
        return Err(CustomerKeyError::Md5Mismatch);
    }
    Ok(Some(key))
}

/// The encryption a write (PUT, copy destination) asks for.
/// # Behavior
/// See the table at the top of this file; `Ok(None)` = no encryption.
pub fn write_request(h: &HeaderMap) -> Result<Option<SseRequest>> {
    let kind = header::get(h, X_COS_SSE);
    let kms_key_id = header::get(h, X_COS_SSE_KMS_KEY_ID);
    let context = header::get(h, X_COS_SSE_CONTEXT);
    let customer = parse_customer(h, CUSTOMER).map_err(|e| e.into_error(CUSTOMER))?;
    let kms_only = |what: &str| {
        Error::with_message(
            ErrorCode::InvalidArgument,
            format!("{what} requires {X_COS_SSE}: cos/kms."),
        )
    };
    if let Some(key) = customer {
        if kind.is_some() {
            return Err(Error::with_message(
                ErrorCode::InvalidArgument,
                format!("SSE-C cannot be combined with {X_COS_SSE}."),
            ));
        }
        if kms_key_id.is_some() {
            return Err(kms_only(X_COS_SSE_KMS_KEY_ID));
        }
        if context.is_some() {
            return Err(kms_only(X_COS_SSE_CONTEXT));
        }
        return Ok(Some(SseRequest::Customer { key }));
    }
    let is_kms = kind.is_some_and(|k| k.eq_ignore_ascii_case("cos/kms"));
    if !is_kms {
        if kms_key_id.is_some() {
            return Err(kms_only(X_COS_SSE_KMS_KEY_ID));
        }
        if context.is_some() {
            return Err(kms_only(X_COS_SSE_CONTEXT));
        }
    }
    match kind {
        None => Ok(None),
        Some(k) if k.eq_ignore_ascii_case("AES256") => Ok(Some(SseRequest::Cos)),
        Some(_) if is_kms => {
            if let Some(ctx) = context {
                check_context(ctx)?;
            }
            Ok(Some(SseRequest::Kms {
                key_id: kms_key_id.map(str::to_string),
            }))
        }
        Some(other) => Err(Error::with_message(
            ErrorCode::SSEContentNotSupported,
            format!(
                "The server-side encryption `{other}` is not supported; use AES256 or cos/kms."
            ),
        )),
    }
}

/// `x-cos-server-side-encryption-context`: base64 of a JSON object.
fn check_context(ctx: &str) -> Result<()> {
    let ok = base64::engine::general_purpose::STANDARD
        .decode(ctx)
        .ok()
        .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
        .is_some_and(|v| v.is_object());
    if ok {
        Ok(())
    } else {
        Err(Error::with_message(
            ErrorCode::InvalidArgument,
            format!("{X_COS_SSE_CONTEXT} must be the base64 encoding of a JSON object."),
        ))
    }
}

/// Maps a key problem to its COS error.
pub fn key_error(e: KeyError) -> Error {
    match e {
        KeyError::KmsKeyNotExist => Error::new(ErrorCode::KmsKeyNotExist),
        KeyError::KmsKeyDisabled => Error::new(ErrorCode::KmsKeyDisabled),
        KeyError::WrongKey => Error::with_message(
            ErrorCode::AccessDenied,
            "The provided SSE-C key does not match the object's key.",
        ),
        KeyError::CustomerKeyRequired => Error::new(ErrorCode::SsecDecryptHeaderInvalid),
        KeyError::MissingKey(id) => {
            tracing::error!(key = %id, "SSE: the key that encrypted an object is not configured");
            Error::with_message(
                ErrorCode::InternalError,
                "The key that encrypted this object is not configured on this server.",
            )
        }
    }
}

/// Parses a write's SSE headers and makes its data key (before any body
/// byte is read).
pub fn sealing(state: &AppState, h: &HeaderMap) -> Result<Option<Sealing>> {
    match write_request(h)? {
        None => Ok(None),
        Some(req) => Sealing::new(state.store.sse_keys(), &req)
            .map(Some)
            .map_err(key_error),
    }
}

/// [`sealing`] for a write into `bucket`: a request without SSE headers
/// follows the bucket's default encryption, if it has one (cos-bucket.md
/// §6: explicit request headers win).
pub async fn sealing_for(
    state: &AppState,
    bucket: &crate::http::target::BucketName,
    h: &HeaderMap,
) -> Result<Option<Sealing>> {
    if let Some(s) = sealing(state, h)? {
        return Ok(Some(s));
    }
    let Some(rec) = state.store.bucket(bucket.as_str()).await? else {
        return Ok(None);
    };
    let Some(rule) = crate::bucket_config::stored::<crate::bucket_config::DefaultEncryption>(&rec)
    else {
        return Ok(None);
    };
    let req = match rule.algorithm.as_deref() {
        Some("KMS") => SseRequest::Kms {
            key_id: rule.kms_key_id.clone(),
        },
        Some(_) => SseRequest::Cos,
        None => return Ok(None),
    };
    Sealing::new(state.store.sse_keys(), &req)
        .map(Some)
        .map_err(key_error)
}

/// The SSE-C check of a read (spec §4.4 step 3) with header set `names`:
/// the customer key to unlock the object with, if it is an SSE-C object.
pub fn read_access(
    h: &HeaderMap,
    names: CustomerHeaders,
    rec: &ObjectRecord,
) -> Result<Option<KeyBytes>> {
    let stored_md5 = rec
        .sse
        .as_ref()
        .filter(|i| i.kind == SseKind::Customer)
        .map(|i| i.customer_key_md5.as_deref().unwrap_or(""));
    let Some(stored_md5) = stored_md5 else {
        if any_present(h, names) {
            return Err(Error::with_message(
                ErrorCode::SSEHeaderNotAllowed,
                "The object is not encrypted with a customer-provided key (SSE-C).",
            ));
        }
        return Ok(None);
    };
    let key = match parse_customer(h, names) {
        Ok(Some(key)) => key,
        Ok(None) | Err(CustomerKeyError::Incomplete) => {
            return Err(Error::with_message(
                ErrorCode::SsecDecryptHeaderInvalid,
                format!(
                    "The object is encrypted with a customer-provided key: send {}, {} and {}.",
                    names.algorithm, names.key, names.key_md5
                ),
            ))
        }
        Err(e) => return Err(e.into_error(names)),
    };
    if key.md5_base64() != stored_md5 {
        return Err(key_error(KeyError::WrongKey));
    }
    Ok(Some(key))
}

/// Makes an opened object readable: unlocks an SSE-C object with the key
/// `read_access` returned, and reports a managed key that is unavailable.
pub fn unlock(reader: &mut ObjectReader, key: Option<&KeyBytes>) -> Result<()> {
    if let Some(key) = key {
        reader.unlock_customer_key(key).map_err(key_error)?;
    }
    reader.sse_ready().map_err(key_error)
}

/// Decrypts the first piece of an encrypted body before the response
/// starts: a corrupt first chunk becomes a clean 500 InternalError instead
/// of a 200 cut short. Later failures cut the connection (never wrong bytes).
pub async fn check_first_piece(mut stream: ByteStream) -> Result<ByteStream> {
    match stream.next().await {
        None => Ok(stream),
        Some(Ok(first)) => Ok(Box::pin(
            futures_util::stream::once(async move { Ok(first) }).chain(stream),
        )),
        Some(Err(e)) => Err(integrity_error(e)),
    }
}

fn integrity_error(e: StorageError) -> Error {
    match e {
        StorageError::Corrupt(msg) => {
            tracing::error!(error = %msg, "SSE: stored data failed authentication");
            Error::with_message(
                ErrorCode::InternalError,
                "The stored object data failed its integrity check.",
            )
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY=";
    const MD5: &str = "U5L61r7jcwdNvT7frmUG8g==";
    const OTHER_KEY: &str = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=";

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ssec(alg: &str, key: &str, md5: &str) -> Vec<(&'static str, String)> {
        vec![
            (CUSTOMER.algorithm, alg.to_string()),
            (CUSTOMER.key, key.to_string()),
            (CUSTOMER.key_md5, md5.to_string()),
        ]
    }

    /// (headers, expected request or error code)
    type WriteCase<'a> = (
        Vec<(&'a str, &'a str)>,
        std::result::Result<Option<SseRequest>, ErrorCode>,
    );
    /// (object, headers, whether a key came back or the error code)
    type ReadCase<'a> = (
        &'a ObjectRecord,
        Vec<(&'a str, String)>,
        std::result::Result<bool, ErrorCode>,
    );

    /// PUT header sets → the request, or the error code.
    #[test]
    fn write_request_table() {
        let kms_ctx = base64::engine::general_purpose::STANDARD.encode(r#"{"a":"b"}"#);
        let not_obj = base64::engine::general_purpose::STANDARD.encode("[1]");
        let good = ssec("AES256", KEY, MD5);
        let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut v = good.clone();
            v.extend_from_slice(extra);
            v
        };
        let ok = |v: SseRequest| Ok::<_, ErrorCode>(Some(v));
        let cases: Vec<WriteCase> = vec![
            (vec![], Ok(None)),
            (vec![(X_COS_SSE, "AES256")], ok(SseRequest::Cos)),
            (
                vec![(X_COS_SSE, "cos/kms")],
                ok(SseRequest::Kms { key_id: None }),
            ),
            (
                vec![(X_COS_SSE, "cos/kms"), (X_COS_SSE_KMS_KEY_ID, "k1")],
                ok(SseRequest::Kms {
                    key_id: Some("k1".into()),
                }),
            ),
            (
                vec![(X_COS_SSE, "cos/kms"), (X_COS_SSE_CONTEXT, &kms_ctx)],
                ok(SseRequest::Kms { key_id: None }),
            ),
            (
                vec![(X_COS_SSE, "cos/kms"), (X_COS_SSE_CONTEXT, "!!")],
                Err(ErrorCode::InvalidArgument),
            ),
            (
                vec![(X_COS_SSE, "cos/kms"), (X_COS_SSE_CONTEXT, &not_obj)],
                Err(ErrorCode::InvalidArgument),
            ),
            (
                vec![(X_COS_SSE, "SM4")],
                Err(ErrorCode::SSEContentNotSupported),
            ),
            (
                vec![(X_COS_SSE, "aws:kms")],
                Err(ErrorCode::SSEContentNotSupported),
            ),
            (
                vec![(X_COS_SSE, "AES256"), (X_COS_SSE_KMS_KEY_ID, "k1")],
                Err(ErrorCode::InvalidArgument),
            ),
            (
                vec![(X_COS_SSE_KMS_KEY_ID, "k1")],
                Err(ErrorCode::InvalidArgument),
            ),
            (
                vec![(X_COS_SSE_CONTEXT, &kms_ctx)],
                Err(ErrorCode::InvalidArgument),
            ),
            (
                good.clone(),
                ok(SseRequest::Customer {
                    key: KeyBytes::from_base64(KEY).unwrap(),
                }),
            ),
            (
                with(&[(X_COS_SSE, "AES256")]),
                Err(ErrorCode::InvalidArgument),
            ),
            (
                with(&[(X_COS_SSE_KMS_KEY_ID, "k")]),
                Err(ErrorCode::InvalidArgument),
            ),
            (good[..2].to_vec(), Err(ErrorCode::InvalidArgument)),
            (good[1..].to_vec(), Err(ErrorCode::InvalidArgument)),
            (
                vec![
                    (CUSTOMER.algorithm, "AES256"),
                    (CUSTOMER.key, OTHER_KEY),
                    (CUSTOMER.key_md5, MD5),
                ],
                Err(ErrorCode::InvalidArgument),
            ),
            (
                vec![
                    (CUSTOMER.algorithm, "AES128"),
                    (CUSTOMER.key, KEY),
                    (CUSTOMER.key_md5, MD5),
                ],
                Err(ErrorCode::InvalidArgument),
            ),
            (
                vec![
                    (CUSTOMER.algorithm, "AES256"),
                    (CUSTOMER.key, "MDEy"),
                    (CUSTOMER.key_md5, MD5),
                ],
                Err(ErrorCode::InvalidArgument),
            ),
            (
                vec![
                    (CUSTOMER.algorithm, "AES256"),
                    (CUSTOMER.key, "%%%"),
                    (CUSTOMER.key_md5, MD5),
                ],
                Err(ErrorCode::InvalidArgument),
            ),
        ];
        for (headers, want) in cases {
            let got = write_request(&map(&headers)).map_err(|e| e.code);
            assert_eq!(got, want, "{headers:?}");
        }
    }

    /// GET/HEAD header sets against each kind of object → the error code.
    #[test]
    fn read_access_table() {
        let keys = crate::storage::sse::SseKeys::ephemeral();
        let record = |sse: Option<SseRequest>| ObjectRecord {
            size: 0,
            etag: String::new(),
            crc64: 0,
            last_modified_ms: 0,
            headers: Default::default(),
            storage_class: "STANDARD".into(),
            segments: vec![],
            sse: sse.map(|r| Sealing::new(&keys, &r).unwrap().info),
            version_id: None,
            delete_marker: false,
            acl: None,
            tags: Vec::new(),
            appendable: false,
            retain_until_ms: None,
            symlink_target: None,
            replication_status: None,
            corrupt: None,
            checksum: None,
            restore: None,
        };
        let plain = record(None);
        let cos = record(Some(SseRequest::Cos));
        let ssec_obj = record(Some(SseRequest::Customer {
            key: KeyBytes::from_base64(KEY).unwrap(),
        }));
        let good = ssec("AES256", KEY, MD5);
        let other_md5 = KeyBytes::from_base64(OTHER_KEY).unwrap().md5_base64();
        let wrong = ssec("AES256", OTHER_KEY, &other_md5);
        let bad_md5 = ssec("AES256", KEY, &other_md5);
        let bad_alg = ssec("AES128", KEY, MD5);
        let short = ssec("AES256", "MDEy", MD5);
        let as_refs = |v: &[(&'static str, String)]| -> Vec<(&'static str, String)> { v.to_vec() };
        let cases: Vec<ReadCase> = vec![
            (&plain, vec![], Ok(false)),
            (&cos, vec![], Ok(false)),
            (&plain, as_refs(&good), Err(ErrorCode::SSEHeaderNotAllowed)),
            (
                &cos,
                as_refs(&good[..1]),
                Err(ErrorCode::SSEHeaderNotAllowed),
            ),
            (&ssec_obj, as_refs(&good), Ok(true)),
            (&ssec_obj, vec![], Err(ErrorCode::SsecDecryptHeaderInvalid)),
            (
                &ssec_obj,
                as_refs(&good[..2]),
                Err(ErrorCode::SsecDecryptHeaderInvalid),
            ),
            (&ssec_obj, as_refs(&wrong), Err(ErrorCode::AccessDenied)),
            (
                &ssec_obj,
                as_refs(&bad_md5),
                Err(ErrorCode::InvalidArgument),
            ),
            (
                &ssec_obj,
                as_refs(&bad_alg),
                Err(ErrorCode::InvalidArgument),
            ),
            (&ssec_obj, as_refs(&short), Err(ErrorCode::InvalidArgument)),
        ];
        for (rec, headers, want) in cases {
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let got = read_access(&map(&pairs), CUSTOMER, rec)
                .map(|k| k.is_some())
                .map_err(|e| e.code);
            assert_eq!(
                got,
                want,
                "{:?} {pairs:?}",
                rec.sse.as_ref().map(|i| i.kind)
            );
        }
        // The copy-source names are a separate set: destination SSE-C
        // headers do not count as the source's.
        let pairs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            read_access(&map(&pairs), COPY_SOURCE_CUSTOMER, &ssec_obj)
                .unwrap_err()
                .code,
            ErrorCode::SsecDecryptHeaderInvalid
        );
    }
}
