//! PUT/GET Bucket acl (https://cloud.tencent.com/document/product/436/7737,
//! /7733) and PUT/GET Object acl (/7748, /7744); spec cos.md §3.4, §6A.10.
//! Types, header and document parsing live in `crate::acl`.

use http::StatusCode;
use md5::{Digest, Md5};

use super::bucket::MAX_XML_BODY;
use super::versioning::version_param;
use super::{owner_id, AppState, Req, Response};
use crate::acl::{self, Acl, AclKind};
use crate::auth::Family;
use crate::error::{Error, ErrorCode, Result};
use crate::http::body::read_limited;
use crate::http::header;
use crate::http::target::{BucketName, ObjectKey};
use crate::render::headers::ResponseBuilder;

/// The ACL a PUT ?acl asks for: the headers (canned and/or grants) or the
/// document, never both (400 UnexpectedContent), at least one (400
/// MissingRequestBodyError).
async fn requested_acl(req: Req, kind: AclKind) -> Result<Acl> {
    let from_headers = Acl::from_headers(&req.headers, kind)?;
    let expected_md5 = header::content_md5(&req.headers)?;
    let body = read_limited(req.body, MAX_XML_BODY)
        .await
        .map_err(|e| match e {
            None => Error::new(ErrorCode::XMLSizeLimit),
            Some(e) => Error::from(e),
        })?;
    if let Some(md5) = expected_md5 {
        if Md5::digest(&body).as_slice() != md5 {
            return Err(Error::new(ErrorCode::BadDigest));
        }
    }
    let has_body = !body.iter().all(u8::is_ascii_whitespace);
    match (from_headers, has_body) {
        (Some(_), true) => Err(Error::with_message(
            ErrorCode::UnexpectedContent,
            "Send either the x-cos-acl/x-cos-grant-* headers or an AccessControlPolicy body, not both.",
        )),
        (Some(acl), false) => Ok(acl),
        (None, true) => {
            let grants =
                acl::parse_document(&body).ok_or_else(|| Error::new(ErrorCode::MalformedXML))?;
            Ok(Acl {
                canned: None,
                grants,
            })
        }
        (None, false) => Err(Error::with_message(
            ErrorCode::MissingRequestBodyError,
            "PUT ?acl needs x-cos-acl, x-cos-grant-* headers or an AccessControlPolicy body.",
        )),
    }
}

/// The document, plus `x-cos-acl` when the ACL is a canned value (Python
/// reads an object's `default` only from it, Node prefers it).
fn acl_response(state: &AppState, acl: &Acl, family: Family) -> Response {
    let owner = owner_id(state);
    let s3 = family == Family::S3;
    let body = acl::render(acl, &owner, &state.config.addressing.appid, s3);
    let mut rb = ResponseBuilder::new(StatusCode::OK);
    if let Some(c) = acl.canned {
        rb = rb.header("x-cos-acl", c.as_str());
    }
    rb.xml(body)
}

pub async fn get_bucket_acl(
    state: &AppState,
    bucket: &BucketName,
    family: Family,
) -> Result<Response> {
    let rec = state
        .store
        .bucket(bucket.as_str())
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NoSuchBucket))?;
    let acl = rec.acl.unwrap_or_else(|| Acl::implicit(AclKind::Bucket));
    Ok(acl_response(state, &acl, family))
}

pub async fn put_bucket_acl(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    let acl = requested_acl(req, AclKind::Bucket).await?;
    state.store.set_bucket_acl(bucket.as_str(), acl).await?;
    Ok(ResponseBuilder::new(StatusCode::OK)
        .content_length(0)
        .empty())
}

pub async fn get_object_acl(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let rec = state
        .store
        .head_version(bucket.as_str(), key.as_str(), version_param(&req.query))
        .await?;
    let acl = rec.acl.unwrap_or_else(|| Acl::implicit(AclKind::Object));
    Ok(acl_response(state, &acl, req.family))
}

pub async fn put_object_acl(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let version = version_param(&req.query).map(str::to_string);
    // The key must exist before the body matters (404 NoSuchKey first).
    state
        .store
        .head_version(bucket.as_str(), key.as_str(), version.as_deref())
        .await?;
    let acl = requested_acl(req, AclKind::Object).await?;
    state
        .store
        .set_object_acl(bucket.as_str(), key.as_str(), version.as_deref(), acl)
        .await?;
    Ok(ResponseBuilder::new(StatusCode::OK)
        .content_length(0)
        .empty())
}
