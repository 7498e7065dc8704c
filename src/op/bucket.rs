//! PUT / HEAD / DELETE Bucket:
//! https://cloud.tencent.com/document/product/436/7738 (PUT),
//! /7735 (HEAD), /7732 (DELETE).

use http::StatusCode;

use super::{AppState, Req, Response};
use crate::acl::{Acl, AclKind};
use crate::error::{Error, ErrorCode, Result};
use crate::http::body::read_limited;
use crate::http::target::BucketName;
use crate::render::headers::ResponseBuilder;
use crate::render::xml::{self, CreateBucketConfiguration};
use crate::storage::{BucketRecord, StorageError};

/// Largest XML document accepted in a request body.
pub const MAX_XML_BODY: usize = 64 * 1024;

pub async fn create(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    let acl = Acl::from_headers(&req.headers, AclKind::Bucket)?;
    // An optional <CreateBucketConfiguration> (MAZ / OFS); an empty body is fine.
    let body = read_limited(req.body, MAX_XML_BODY)
        .await
        .map_err(|e| match e {
            None => Error::new(ErrorCode::XMLSizeLimit),
            Some(e) => Error::from(e),
        })?;
    if !body.iter().all(u8::is_ascii_whitespace)
        && xml::parse::<CreateBucketConfiguration>(&body).is_none()
    {
        return Err(Error::new(ErrorCode::MalformedXML));
    }
    let rec = BucketRecord {
        name: bucket.as_str().to_string(),
        region: state.config.addressing.region.clone(),
        created_ms: now_ms(),
        versioning: Default::default(),
        acl,
    };
    match state.store.create_bucket(rec).await {
        Ok(()) => Ok(ResponseBuilder::new(StatusCode::OK)
            .content_length(0)
            .empty()),
        Err(StorageError::BucketExists) => Err(Error::new(ErrorCode::BucketAlreadyOwnedByYou)),
        Err(e) => Err(e.into()),
    }
}

pub async fn head(state: &AppState, bucket: &BucketName) -> Result<Response> {
    let Some(rec) = state.store.bucket(bucket.as_str()).await? else {
        return Err(Error::new(ErrorCode::NoSuchBucket));
    };
    Ok(ResponseBuilder::new(StatusCode::OK)
        .header("x-cos-bucket-region", &rec.region)
        .content_length(0)
        .empty())
}

pub async fn delete(state: &AppState, bucket: &BucketName) -> Result<Response> {
    state.store.delete_bucket(bucket.as_str()).await?;
    Ok(ResponseBuilder::new(StatusCode::NO_CONTENT).empty())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
