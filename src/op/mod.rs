//! COS API operations. [`dispatch`] is one `match` with one line per
//! operation; each file holds one resource family.

mod acl;
mod append;
mod bucket;
mod copy;
mod delete_multiple;
mod list;
mod list_v2;
mod multipart;
mod object;
mod origin_pull;
mod post_object;
mod post_policy;
mod restore;
mod retention;
mod service;
pub(crate) mod sse;
mod symlink;
pub(crate) mod tagging;
mod versioning;
mod versions;

use std::sync::Arc;

use http::{HeaderMap, Method};

use crate::auth::{Dialect, Family, Identity};
use crate::config::Config;
use crate::error::Result;
use crate::http::body::Body;
use crate::http::query::Query;
use crate::http::sendfile::SendfileQueue;
use crate::http::target::BucketName;
use crate::route::Operation;
use crate::storage::{ByteStream, Store};

pub use copy::{parse_copy_source, CopySource};

pub type Response = http::Response<Body>;

/// What every handler can reach.
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    /// Configured plus stored credentials (`admin::keys`), kept current.
    pub keys: crate::admin::keys::LiveKeys,
    /// Custom domains of `?domain` (bucket_config::domain).
    pub domains: crate::bucket_config::domain::DomainCache,
    /// Bucket access logs waiting for delivery (`?logging`).
    pub logs: crate::bucket_config::logging::LogBuffers,
    /// Parsed bucket configurations (policy, CORS, referer) for authz and CORS.
    pub views: crate::bucket_config::cache::ViewCache,
}

/// A parsed request, handed to a handler.
pub struct Req {
    pub method: Method,
    pub headers: HeaderMap,
    /// Decoded query without the authentication parameters.
    pub query: Query,
    pub body: ByteStream,
    /// `None` for anonymous requests.
    pub identity: Option<Identity>,
    /// How the request was signed.
    pub dialect: Dialect,
    /// The protocol to answer in: the dialect's family, or for anonymous
    /// requests the one the Host suggests (`dialect::family_of`).
    pub family: Family,
    /// Set on HTTP/1 connections over plain TCP: bodies may be sent with sendfile.
    pub sendfile: Option<SendfileQueue>,
    /// The flexible checksum (`x-amz-checksum-*`) the body was verified
    /// against, filled when `body` ended well (S3 dialect).
    pub checksum: crate::http::checksum::ChecksumSlot,
    /// POST Object: the form's fields before `file` (the file is `body`).
    pub form: Option<crate::http::form::PostForm>,
    /// The client's address, when the server knows it (`authz::RemoteAddr`).
    pub peer: Option<std::net::IpAddr>,
}

pub async fn dispatch(state: &AppState, op: Operation, req: Req) -> Result<Response> {
    match op {
        Operation::ListBuckets => service::list_buckets(state, req).await,
        Operation::CreateBucket(b) => bucket::create(state, &b, req).await,
        Operation::HeadBucket(b) => bucket::head(state, &b).await,
        Operation::DeleteBucket(b) => bucket::delete(state, &b).await,
        Operation::ListObjects(b) => list::list_objects(state, &b, req).await,
        Operation::ListObjectsV2(b) => list_v2::list_objects_v2(state, &b, req).await,
        Operation::GetBucketLocation(b) => bucket::location(state, &b, req).await,
        Operation::DeleteObjects(b) => delete_multiple::delete_objects(state, &b, req).await,
        Operation::GetBucketVersioning(b) => versioning::get(state, &b).await,
        Operation::PutBucketVersioning(b) => versioning::put(state, &b, req).await,
        Operation::ListObjectVersions(b) => versions::list(state, &b, req).await,
        Operation::PutObject(b, k) => object::put(state, &b, &k, req).await,
        Operation::AppendObject(b, k) => append::append(state, &b, &k, req).await,
        Operation::CopyObject(b, k) => copy::copy(state, &b, &k, req).await,
        Operation::GetObject(b, k) => object::get(state, &b, &k, req).await,
        Operation::HeadObject(b, k) => object::get(state, &b, &k, req).await,
        Operation::DeleteObject(b, k) => object::delete(state, &b, &k, req).await,
        Operation::RestoreObject(b, k) => restore::restore(state, &b, &k, req).await,
        Operation::GetBucketAcl(b) => acl::get_bucket_acl(state, &b).await,
        Operation::PutBucketAcl(b) => acl::put_bucket_acl(state, &b, req).await,
        Operation::GetObjectAcl(b, k) => acl::get_object_acl(state, &b, &k, req).await,
        Operation::PutObjectAcl(b, k) => acl::put_object_acl(state, &b, &k, req).await,
        Operation::GetObjectTagging(b, k) => tagging::get(state, &b, &k, req).await,
        Operation::PutObjectTagging(b, k) => tagging::put(state, &b, &k, req).await,
        Operation::DeleteObjectTagging(b, k) => tagging::delete(state, &b, &k, req).await,
        Operation::GetObjectRetention(b, k) => retention::get(state, &b, &k, req).await,
        Operation::PutObjectRetention(b, k) => retention::put(state, &b, &k, req).await,
        Operation::GetSymlink(b, k) => symlink::get(state, &b, &k, req).await,
        Operation::PutSymlink(b, k) => symlink::put(state, &b, &k, req).await,
        Operation::ListMultipartUploads(b) => multipart::list_uploads(state, &b, req).await,
        Operation::GetBucketConfig(b, sub)
        | Operation::PutBucketConfig(b, sub)
        | Operation::DeleteBucketConfig(b, sub) => {
            let method = req.method.clone();
            crate::bucket_config::dispatch(state, &b, sub, &method, req).await
        }
        Operation::InitiateMultipartUpload(b, k) => multipart::initiate(state, &b, &k, req).await,
        Operation::UploadPart(b, k) => multipart::upload_part(state, &b, &k, req).await,
        Operation::UploadPartCopy(b, k) => multipart::upload_part_copy(state, &b, &k, req).await,
        Operation::CompleteMultipartUpload(b, k) => multipart::complete(state, &b, &k, req).await,
        Operation::AbortMultipartUpload(b, k) => multipart::abort(state, &b, &k, req).await,
        Operation::ListParts(b, k) => multipart::list_parts(state, &b, &k, req).await,
        Operation::PostObject(b) => post_object::post(state, &b, req).await,
    }
}

/// The bucket a COS request means. S3 and OSS tools create buckets under the
/// exact name they use (`mybucket`), while COS clients always name a bucket
/// with its APPID (`mybucket-1250000000`, or `/mybucket` path style, which
/// addressing completes with the configured APPID). So a COS request for
/// `<name>-<configured appid>` that does not exist reaches the suffix-less
/// bucket `<name>` when that one exists. S3/OSS requests use names as given.
pub async fn resolve_bucket(
    state: &AppState,
    family: Family,
    bucket: BucketName,
) -> Result<BucketName> {
    if family != Family::Cos {
        return Ok(bucket);
    }
    let appid = &state.config.addressing.appid;
    let Some(short) = bucket
        .as_str()
        .strip_suffix(appid.as_str())
        .and_then(|s| s.strip_suffix('-'))
    else {
        return Ok(bucket);
    };
    if bucket_exists(state, bucket.as_str()).await? {
        return Ok(bucket);
    }
    match BucketName::parse_exact(short) {
        Ok(exact) if bucket_exists(state, exact.as_str()).await? => Ok(exact),
        _ => Ok(bucket),
    }
}

/// Existence through the parsed-configuration cache (`bucket_config::cache`):
/// `resolve_bucket` runs for every COS request, and decoding a record that
/// holds large configurations each time costs more than the GET itself.
async fn bucket_exists(state: &AppState, name: &str) -> Result<bool> {
    Ok(state.views.get(&state.store, name).await?.is_some())
}

/// The owner shown in listings: the APPID's root account.
fn owner_id(state: &AppState) -> String {
    let appid = &state.config.addressing.appid;
    format!("qcs::cam::uin/{appid}:uin/{appid}")
}
