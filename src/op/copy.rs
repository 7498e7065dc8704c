//! PUT Object - Copy: https://cloud.tencent.com/document/product/436/10881
//! (spec cos.md §3.1 and §6A.4). No bytes move when the encryption stays
//! the same: the destination record references the source's blobs. A copy
//! that changes the encryption (none ↔ SSE, another kind or key) streams the
//! plaintext into a new blob (`op/sse.rs`, `Store::copy_object_rewrite`).

use http::StatusCode;

use super::bucket::now_ms;
use super::object::{copied_record, new_version_header, replaced_headers};
use super::versioning::write_condition_for;
use super::{sse, AppState, Req, Response};
use crate::acl::{Acl, AclKind};
use crate::auth::Family;
use crate::conditional::{evaluate_copy_source, Conditions, Decision, Validators};
use crate::error::{Error, ErrorCode, Result};
use crate::http::header;
use crate::http::query::decode_path;
use crate::http::target::{BucketName, ObjectKey};
use crate::render::headers::{self as render, ResponseBuilder};
use crate::render::xml;

/// A parsed `x-cos-copy-source`.
#[derive(Debug, PartialEq, Eq)]
pub struct CopySource {
    pub bucket: BucketName,
    pub key: ObjectKey,
    pub version_id: Option<String>,
}

/// Accepts `<bucket>.cos.<region>.myqcloud.com/<url-encoded key>[?versionId=v]`
/// (any host whose first label is the bucket), an optional `http(s)://`
/// prefix, and path-style `/<bucket>/<key>` (S3's `x-amz-copy-source` and
/// OSS's `x-oss-copy-source` arrive in that form, see `dialect`). COS
/// completes a bucket name with the APPID; S3 and OSS use it as given.
pub fn parse_copy_source(
    raw: &str,
    appid: &str,
    region: &str,
    family: Family,
) -> Result<CopySource> {
    let invalid = || {
        Error::with_message(
            ErrorCode::InvalidCopySource,
            "The x-cos-copy-source header is not valid.",
        )
    };
    let s = raw.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let (s, version_id) = match s.split_once("?versionId=") {
        Some((p, v)) => (p, Some(v.to_string())),
        None => (s, None),
    };
    let (bucket, key) = if let Some(rest) = s.strip_prefix('/') {
        rest.split_once('/').ok_or_else(invalid)?
    } else {
        let (host, key) = s.split_once('/').ok_or_else(invalid)?;
        (host.split('.').next().unwrap_or(host), key)
    };
    let key = decode_path(key).map_err(|_| invalid())?;
    let bucket = match family {
        Family::Cos => BucketName::parse(bucket, appid, region),
        Family::S3 | Family::Oss => BucketName::parse_exact(bucket),
    }
    .map_err(|_| invalid())?;
    let key = ObjectKey::parse(&key).map_err(|_| invalid())?;
    Ok(CopySource {
        bucket,
        key,
        version_id,
    })
}

pub async fn copy(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let family = req.family;
    let h = &req.headers;
    let a = &state.config.addressing;
    let mut src = parse_copy_source(
        header::get(h, header::X_COS_COPY_SOURCE).unwrap_or(""),
        &a.appid,
        &a.region,
        req.family,
    )?;
    src.bucket = super::resolve_bucket(state, req.family, src.bucket).await?;
    let replace = match header::get(h, header::X_COS_METADATA_DIRECTIVE) {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("copy") => false,
        Some(v) if v.eq_ignore_ascii_case("replaced") => true,
        Some(_) => {
            return Err(Error::with_message(
                ErrorCode::InvalidArgument,
                "x-cos-metadata-directive must be Copy or Replaced.",
            ))
        }
    };
    let storage_class = header::storage_class(h)?;
    // The destination's ACL comes from this request, never from the source.
    let acl = Acl::from_headers(h, AclKind::Object)?;
    // Tags per x-cos-tagging-directive; checked here, before any source read.
    super::tagging::for_copy(h, &[])?;
    let new_headers = if replace {
        Some(replaced_headers(h, key)?)
    } else {
        None
    };
    let same_object = src.bucket == *bucket && src.key == *key;
    let conds = Conditions::from_copy_source_headers(h);
    let now = now_ms();
    // The destination's encryption: none unless the request asks (§6A.4).
    let dst_sse = sse::sealing_for(state, bucket, h).await?;

    let build = |rec: &crate::storage::ObjectRecord| -> Result<crate::storage::ObjectRecord> {
        // The source's SSE-C key (copy-source headers), before conditionals (§4.4).
        sse::read_access(h, sse::COPY_SOURCE_CUSTOMER, rec)?;
        // Copy-source conditionals: every failure is 412 (COS/S3 copy semantics).
        let v = Validators {
            etag: &rec.etag,
            last_modified: rec.last_modified(),
        };
        if !matches!(evaluate_copy_source(&conds, &v), Decision::Proceed) {
            return Err(Error::new(ErrorCode::PreconditionFailed));
        }
        // An archived source needs a live restored copy (§6A.4).
        crate::archive::check_readable(rec, now)?;
        if same_object && !replace && storage_class == rec.storage_class && dst_sse.is_none() {
            return Err(Error::with_message(
                ErrorCode::InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata or storage class.",
            ));
        }
        let mut out = copied_record(rec, now);
        out.storage_class = storage_class.clone();
        out.acl = acl.clone();
        out.tags = super::tagging::for_copy(h, &rec.tags)?;
        if let Some(headers) = &new_headers {
            out.headers = headers.clone();
        }
        Ok(out)
    };
    let src_version = src.version_id.as_deref().filter(|v| !v.is_empty());
    let cond = write_condition_for(state, bucket, h).await?;
    let source_error = |e: Error| copy_source_error(e, src_version.is_some());
    // Blobs can be shared when the source's encryption is what the
    // destination asks for; otherwise the bytes are re-encrypted.
    let shares = |rec: &crate::storage::ObjectRecord| match &dst_sse {
        None => rec.sse.is_none(),
        Some(s) => s.can_share(rec.sse.as_ref()),
    };
    let src_rec = state
        .store
        .head_version(src.bucket.as_str(), src.key.as_str(), src_version)
        .await
        .map_err(|e| source_error(e.into()))?;
    let result = if shares(&src_rec) {
        state
            .store
            .copy_version(
                src.bucket.as_str(),
                src.key.as_str(),
                src_version,
                bucket.as_str(),
                key.as_str(),
                cond,
                |rec| {
                    if !shares(rec) {
                        // Overwritten meanwhile with another encryption.
                        return Err(Error::from(crate::storage::StorageError::Conflict));
                    }
                    build(rec)
                },
            )
            .await
    } else {
        let mut reader = state
            .store
            .open_version(src.bucket.as_str(), src.key.as_str(), src_version)
            .await
            .map_err(|e| source_error(e.into()))?;
        let key_for_source = sse::read_access(h, sse::COPY_SOURCE_CUSTOMER, &reader.record)?;
        sse::unlock(&mut reader, key_for_source.as_ref())?;
        state
            .store
            .copy_object_rewrite(
                reader,
                bucket.as_str(),
                key.as_str(),
                cond,
                dst_sse.clone(),
                build,
            )
            .await
    };
    let rec = result.map_err(source_error)?;
    let rb = ResponseBuilder::new(StatusCode::OK)
        .header("x-cos-hash-crc64ecma", rec.crc64.to_string())
        .header_opt("x-cos-copy-source-version-id", src_version);
    Ok(new_version_header(render::sse(rb, &rec), &rec).xml(xml::copy_result(&rec, family)))
}

/// Source lookup failures as copy errors (spec cos.md §6A.4): a missing
/// key or version, or a delete marker on top → 404 NoSuchCopySource; a
/// versionId naming a delete marker → 400 InvalidRequest.
pub(super) fn copy_source_error(e: Error, version_named: bool) -> Error {
    let marker = e
        .headers
        .iter()
        .any(|(name, _)| *name == "x-cos-delete-marker");
    match e.code {
        ErrorCode::NoSuchKey if marker && version_named => Error::with_message(
            ErrorCode::InvalidRequest,
            "The source of a copy request may not specifically refer to a delete marker by version id.",
        ),
        ErrorCode::NoSuchKey | ErrorCode::NoSuchVersion => {
            Error::new(ErrorCode::NoSuchCopySource)
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_forms() {
        let p = |s: &str| parse_copy_source(s, "1250000000", "ap-guangzhou", Family::Cos);
        let src = p("sourcebucket-1250000000.cos.ap-guangzhou.myqcloud.com/src%20dir/%E6%BA%90%20%E6%96%87%E4%BB%B6%2B1.txt").unwrap();
        assert_eq!(src.bucket.as_str(), "sourcebucket-1250000000");
        assert_eq!(src.key.as_str(), "src dir/源 文件+1.txt");
        let src =
            p("http://b-1250000000.cos.ap-guangzhou.myqcloud.com/a+b?versionId=null").unwrap();
        assert_eq!(src.key.as_str(), "a+b");
        assert_eq!(src.version_id.as_deref(), Some("null"));
        let src = p("/b/x/y").unwrap();
        assert_eq!(
            (src.bucket.as_str(), src.key.as_str()),
            ("b-1250000000", "x/y")
        );
        // S3 names the bucket exactly as created.
        let s3 = parse_copy_source(
            "/mybucket/dir/a%20b.txt",
            "1250000000",
            "ap-guangzhou",
            Family::S3,
        )
        .unwrap();
        assert_eq!(
            (s3.bucket.as_str(), s3.key.as_str()),
            ("mybucket", "dir/a b.txt")
        );
        assert_eq!(
            p("nonsense").unwrap_err().code,
            ErrorCode::InvalidCopySource
        );
        assert_eq!(
            p("b.cos.x/").unwrap_err().code,
            ErrorCode::InvalidCopySource
        );
    }
}
