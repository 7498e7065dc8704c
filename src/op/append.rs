//! Append Object, `POST /<key>?append&position=N`
//! (https://cloud.tencent.com/document/product/436/7741, spec cos.md §6A.3;
//! OSS AppendObject takes the same request with `x-oss-*` headers). The
//! storage rule is `storage::append`.

use http::{HeaderMap, StatusCode};

use super::object::content_type_for;
use super::{sse, AppState, Req, Response};
use crate::acl::{Acl, AclKind};
use crate::archive::StorageClass;
use crate::error::{Error, ErrorCode, Result};
use crate::http::header;
use crate::http::query::Query;
use crate::http::target::{BucketName, ObjectKey};
use crate::http::traffic;
use crate::render::headers::{self as render, ResponseBuilder};
use crate::storage::append::{AppendOptions, MAX_APPENDABLE_SIZE};
use crate::storage::hash::md5_hex;
use crate::storage::sse::SseRequest;
use crate::storage::ObjectRecord;

/// The `position` parameter: a non-negative decimal integer (400
/// InvalidArgument when missing or malformed).
pub fn position(q: &Query) -> Result<u64> {
    let raw = q.get("position").ok_or_else(|| {
        Error::with_message(
            ErrorCode::InvalidArgument,
            "Append Object needs the position parameter.",
        )
    })?;
    if raw.is_empty() || raw.len() > 20 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_position(raw));
    }
    raw.parse().map_err(|_| bad_position(raw))
}

fn bad_position(raw: &str) -> Error {
    Error::with_message(
        ErrorCode::InvalidArgument,
        format!("The position {raw:?} is not a non-negative integer."),
    )
}

/// The storage class an appendable object may be created in: STANDARD or
/// STANDARD_IA (COS supports neither INTELLIGENT_TIERING nor MAZ classes
/// for append; archives could not be appended to).
fn storage_class(h: &HeaderMap) -> Result<String> {
    let class = header::storage_class(h)?;
    match StorageClass::parse(&class)? {
        StorageClass::Standard | StorageClass::StandardIa => Ok(class),
        _ => Err(Error::with_message(
            ErrorCode::InvalidArgument,
            format!("Append Object does not support the storage class {class}."),
        )),
    }
}

/// SSE on the creating append: SSE-COS only; SSE-KMS and SSE-C headers →
/// 400 SSEHeaderNotAllowed (spec §6A.3 [REC]). Without SSE headers the
/// bucket's default encryption applies, as for PUT.
async fn sealing(
    state: &AppState,
    bucket: &BucketName,
    h: &HeaderMap,
) -> Result<Option<crate::storage::sse::Sealing>> {
    match sse::write_request(h)? {
        None | Some(SseRequest::Cos) => sse::sealing_for(state, bucket, h).await,
        Some(_) => Err(Error::with_message(
            ErrorCode::SSEHeaderNotAllowed,
            "Append Object supports SSE-COS (AES256) only.",
        )),
    }
}

pub async fn append(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let h = &req.headers;
    // Step 1: position and Content-Length (required, spec §6A.3).
    let position = position(&req.query)?;
    let content_length =
        header::content_length(h)?.ok_or_else(|| Error::new(ErrorCode::MissingContentLength))?;
    if content_length > MAX_APPENDABLE_SIZE {
        return Err(Error::new(ErrorCode::EntityTooLarge));
    }
    // Step 2: every header, before a byte of the body is read. They make
    // the object if this append creates it; later appends ignore them.
    let content_md5 = header::content_md5(h)?;
    let mut headers = header::object_headers(h)?;
    headers.content_type = content_type_for(headers.content_type.take(), key.as_str());
    let mut template = crate::storage::versions::delete_marker(String::new());
    template.delete_marker = false;
    template.version_id = None;
    let template = ObjectRecord {
        headers,
        storage_class: storage_class(h)?,
        acl: Acl::from_headers(h, AclKind::Object)?,
        tags: super::tagging::from_header(h)?.unwrap_or_default(),
        ..template
    };
    let opts = AppendOptions {
        template: Some(template),
        sse: sealing(state, bucket, h).await?,
        content_md5,
        content_length,
    };
    let body = match traffic::cos_limit(h, &req.query)? {
        Some(limit) => traffic::pace(req.body, limit),
        None => req.body,
    };
    // Step 3: stream into a new blob, commit conditionally on the position.
    let done = state
        .store
        .append_object(bucket.as_str(), key.as_str(), position, body, opts)
        .await?;
    let rec = &done.record;
    // Success: 200, empty; no x-cos-version-id (appendable objects take no
    // part in versioning). `x-cos-content-sha1` is the MD5 hex of this
    // append's body: the Go SDK checks exactly that.
    Ok(render::sse(
        render::validators(ResponseBuilder::new(StatusCode::OK), rec),
        rec,
    )
    .header("x-cos-next-append-position", rec.size.to_string())
    .header("x-cos-content-sha1", md5_hex(&done.body_md5))
    .content_length(0)
    .empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_table() {
        let q = |s: &str| Query::parse(Some(s)).unwrap();
        let table: &[(&str, Option<u64>)] = &[
            ("append&position=0", Some(0)),
            ("append=&position=12", Some(12)),
            ("append&position=18446744073709551615", Some(u64::MAX)),
            ("append", None),
            ("append&position=", None),
            ("append&position=-1", None),
            ("append&position=+1", None),
            ("append&position=1.5", None),
            ("append&position=0x10", None),
            ("append&position=18446744073709551616", None),
            ("append&position=%201", None),
        ];
        for (qs, want) in table {
            match (position(&q(qs)), want) {
                (Ok(got), Some(want)) => assert_eq!(got, *want, "{qs}"),
                (Err(e), None) => assert_eq!(e.code, ErrorCode::InvalidArgument, "{qs}"),
                (got, want) => panic!("{qs}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn storage_classes() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert("x-cos-storage-class", v.parse().unwrap());
            m
        };
        assert_eq!(storage_class(&HeaderMap::new()).unwrap(), "STANDARD");
        assert_eq!(storage_class(&h("STANDARD_IA")).unwrap(), "STANDARD_IA");
        for bad in [
            "INTELLIGENT_TIERING",
            "ARCHIVE",
            "DEEP_ARCHIVE",
            "MAZ_STANDARD",
        ] {
            assert_eq!(
                storage_class(&h(bad)).unwrap_err().code,
                ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
    }
}
