//! COS API operations. [`dispatch`] is one `match` with one line per
//! operation; each file holds one resource family.

mod acl;
mod bucket;
mod copy;
mod delete_multiple;
mod list;
mod object;
mod restore;
mod service;
mod sse;
mod versioning;
mod versions;

use std::sync::Arc;

use http::{HeaderMap, Method};

use crate::auth::{Dialect, Identity, KeyStore};
use crate::config::Config;
use crate::error::Result;
use crate::http::body::Body;
use crate::http::query::Query;
use crate::http::sendfile::SendfileQueue;
use crate::route::Operation;
use crate::storage::{ByteStream, Store};

pub use copy::{parse_copy_source, CopySource};

pub type Response = http::Response<Body>;

/// What every handler can reach.
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub keys: KeyStore,
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
    /// How the request was signed; `dialect.family()` is the protocol to answer in.
    pub dialect: Dialect,
    /// Set on HTTP/1 connections over plain TCP: bodies may be sent with sendfile.
    pub sendfile: Option<SendfileQueue>,
    /// The flexible checksum (`x-amz-checksum-*`) the body was verified
    /// against, filled when `body` ended well (S3 dialect).
    pub checksum: crate::http::checksum::ChecksumSlot,
}

pub async fn dispatch(state: &AppState, op: Operation, req: Req) -> Result<Response> {
    match op {
        Operation::ListBuckets => service::list_buckets(state, req).await,
        Operation::CreateBucket(b) => bucket::create(state, &b, req).await,
        Operation::HeadBucket(b) => bucket::head(state, &b).await,
        Operation::DeleteBucket(b) => bucket::delete(state, &b).await,
        Operation::ListObjects(b) => list::list_objects(state, &b, req).await,
        Operation::DeleteObjects(b) => delete_multiple::delete_objects(state, &b, req).await,
        Operation::GetBucketVersioning(b) => versioning::get(state, &b).await,
        Operation::PutBucketVersioning(b) => versioning::put(state, &b, req).await,
        Operation::ListObjectVersions(b) => versions::list(state, &b, req).await,
        Operation::PutObject(b, k) => object::put(state, &b, &k, req).await,
        Operation::CopyObject(b, k) => copy::copy(state, &b, &k, req).await,
        Operation::GetObject(b, k) => object::get(state, &b, &k, req).await,
        Operation::HeadObject(b, k) => object::get(state, &b, &k, req).await,
        Operation::DeleteObject(b, k) => object::delete(state, &b, &k, req).await,
        Operation::RestoreObject(b, k) => restore::restore(state, &b, &k, req).await,
        Operation::GetBucketAcl(b) => acl::get_bucket_acl(state, &b).await,
        Operation::PutBucketAcl(b) => acl::put_bucket_acl(state, &b, req).await,
        Operation::GetObjectAcl(b, k) => acl::get_object_acl(state, &b, &k, req).await,
        Operation::PutObjectAcl(b, k) => acl::put_object_acl(state, &b, &k, req).await,
    }
}

/// The owner shown in listings: the APPID's root account.
fn owner_id(state: &AppState) -> String {
    let appid = &state.config.addressing.appid;
    format!("qcs::cam::uin/{appid}:uin/{appid}")
}
