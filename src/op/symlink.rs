//! Symlinks `PUT/GET /<key>?symlink` (spec cos-bucket.md §15.3, doc
//! 436/109082).
//!
//! A link is a small STANDARD object whose bytes are the target key, with
//! its own metadata, ACL, ETag (of the stored path) and Last-Modified; its
//! record carries `symlink_target`. It is listed like any object. GET and
//! HEAD Object on a link serve the target's latest version (bytes and
//! headers); the target is looked up at read time (missing → 404
//! NoSuchKey) and one hop only: a target that is itself a link answers 404
//! NoSuchKey, so no chain or loop is ever followed. Deleting a link never
//! touches its target.

use http::StatusCode;

use super::object::{content_type_for, new_version_header};
use super::versioning::version_param;
use super::{AppState, Req, Response};
use crate::acl::{Acl, AclKind};
use crate::error::{Error, ErrorCode, Result};
use crate::http::header;
use crate::http::query::percent_decode_bytes;
use crate::http::target::{BucketName, ObjectKey};
use crate::render::headers::{self as render, ResponseBuilder};
use crate::storage::{ObjectReader, ObjectRecord, PutOptions};

/// The request header naming a link's target (and GET ?symlink's answer).
pub const TARGET_HEADER: &str = "x-cos-symlink-target";

/// The target a `PUT ?symlink` names: `x-cos-symlink-target`,
/// percent-decoded (Go URL-encodes it, Python sends it raw: §15.3).
/// # Behavior
/// - Missing or empty → 400 InvalidArgument; not UTF-8 after decoding →
///   400 InvalidArgument; not a valid key → the key's error (KeyTooLong,
///   InvalidObjectName); the link itself → 400 InvalidArgument.
pub fn target_of(h: &http::HeaderMap, link: &ObjectKey) -> Result<ObjectKey> {
    let invalid = |m: &str| Error::with_message(ErrorCode::InvalidArgument, m.to_string());
    let raw = h
        .get(TARGET_HEADER)
        .map(|v| v.as_bytes())
        .filter(|v| !v.iter().all(u8::is_ascii_whitespace))
        .ok_or_else(|| invalid("The x-cos-symlink-target header is required."))?;
    let decoded = String::from_utf8(percent_decode_bytes(raw.trim_ascii(), false))
        .map_err(|_| invalid("x-cos-symlink-target is not valid UTF-8."))?;
    let target = ObjectKey::parse(&decoded)?;
    if target == *link {
        return Err(invalid("A symlink cannot point to itself."));
    }
    Ok(target)
}

/// `PUT /<key>?symlink`: stores the link (an ordinary write: versioning,
/// forbid-overwrite and object lock apply). 200 with its ETag and, on a
/// versioned bucket, `x-cos-version-id`.
pub async fn put(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let h = &req.headers;
    let target = target_of(h, key)?;
    let mut headers = header::object_headers(h)?;
    // Content-Type defaults from the target's suffix (§15.3).
    headers.content_type = content_type_for(headers.content_type.take(), target.as_str());
    let bytes = bytes::Bytes::from(target.as_str().to_string());
    let opts = PutOptions {
        headers,
        content_length: Some(bytes.len() as u64),
        condition: super::versioning::write_condition_for(state, bucket, h).await?,
        acl: Acl::from_headers(h, AclKind::Object)?,
        tags: super::tagging::from_header(h)?.unwrap_or_default(),
        symlink_target: Some(target.as_str().to_string()),
        ..Default::default()
    };
    let body = Box::pin(futures_util::stream::once(async move { Ok(bytes) }));
    let rec = state
        .store
        .put_object(bucket.as_str(), key.as_str(), body, opts)
        .await?;
    let rb = render::validators(ResponseBuilder::new(StatusCode::OK), &rec);
    Ok(new_version_header(rb, &rec).content_length(0).empty())
}

/// `GET /<key>?symlink[&versionId=]`: 200, empty body, the target in
/// `x-cos-symlink-target` (as stored, not encoded: the Python test compares
/// it with the raw key).
/// # Behavior
/// - Missing link → 404 NoSuchKey (a delete marker: 404 with its headers);
///   unknown version → 404 NoSuchVersion; an object that is not a link →
///   400 InvalidArgument.
pub async fn get(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let version = version_param(&req.query);
    let rec = state
        .store
        .head_version(bucket.as_str(), key.as_str(), version)
        .await?;
    let Some(target) = rec.symlink_target.as_deref() else {
        return Err(Error::with_message(
            ErrorCode::InvalidArgument,
            "The object is not a symlink.",
        ));
    };
    let rb = render::validators(ResponseBuilder::new(StatusCode::OK), &rec)
        .header(TARGET_HEADER, target)
        .header_opt(
            "x-cos-version-id",
            rec.version_id.as_deref().filter(|v| *v != "null"),
        );
    Ok(rb.content_length(0).empty())
}

/// GET/HEAD Object on a link: the target's latest version (`reader` only
/// for GET). A missing target, or one that is itself a link → 404
/// NoSuchKey.
pub async fn follow(
    state: &AppState,
    bucket: &BucketName,
    target: &str,
    is_head: bool,
) -> Result<(ObjectRecord, Option<ObjectReader>)> {
    let (rec, reader) = if is_head {
        let rec = state
            .store
            .head_version(bucket.as_str(), target, None)
            .await;
        (rec.map_err(missing_target)?, None)
    } else {
        let reader = state
            .store
            .open_version(bucket.as_str(), target, None)
            .await;
        let reader = reader.map_err(missing_target)?;
        (reader.record.clone(), Some(reader))
    };
    if rec.symlink_target.is_some() {
        return Err(Error::with_message(
            ErrorCode::NoSuchKey,
            "The symlink's target is itself a symlink; links are followed one hop only.",
        ));
    }
    Ok((rec, reader))
}

/// A target that is gone (or a delete marker) is the link's 404 NoSuchKey.
fn missing_target(e: crate::storage::StorageError) -> Error {
    match e {
        crate::storage::StorageError::NoSuchKey
        | crate::storage::StorageError::DeleteMarker { .. } => {
            Error::with_message(ErrorCode::NoSuchKey, "The symlink's target does not exist.")
        }
        other => Error::from(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_header_table() {
        let link = ObjectKey::parse("latest/report.pdf").unwrap();
        let long = "k".repeat(851);
        type Want = std::result::Result<&'static str, &'static str>;
        let table: Vec<(Option<&[u8]>, Want)> = vec![
            (
                Some(b"reports/2024/report v1.pdf"),
                Ok("reports/2024/report v1.pdf"),
            ),
            (
                Some(b"reports%2F2024%2Freport%20v1.pdf"),
                Ok("reports/2024/report v1.pdf"),
            ),
            (Some("文档/a.txt".as_bytes()), Ok("文档/a.txt")),
            (Some(b"%E6%96%87.txt"), Ok("文.txt")),
            (Some(b"100%.txt"), Ok("100%.txt")),
            (Some(b"a+b.txt"), Ok("a+b.txt")),
            (None, Err("InvalidArgument")),
            (Some(b""), Err("InvalidArgument")),
            (Some(b"   "), Err("InvalidArgument")),
            (Some(b"latest/report.pdf"), Err("InvalidArgument")),
            (Some(b"latest%2Freport.pdf"), Err("InvalidArgument")),
            (Some(b"%FF%FE"), Err("InvalidArgument")),
            (Some(b"a%00b"), Err("InvalidObjectName")),
            (Some(long.as_bytes()), Err("KeyTooLong")),
        ];
        for (value, want) in table {
            let mut h = http::HeaderMap::new();
            if let Some(v) = value {
                h.insert(TARGET_HEADER, http::HeaderValue::from_bytes(v).unwrap());
            }
            match (target_of(&h, &link), want) {
                (Ok(got), Ok(key)) => assert_eq!(got.as_str(), key, "{value:?}"),
                (Err(e), Err(code)) => assert_eq!(e.code.as_str(), code, "{value:?}"),
                (got, want) => panic!("{value:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
