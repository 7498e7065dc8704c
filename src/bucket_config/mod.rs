//! Bucket configuration sub-resources (`PUT/GET/DELETE /?<name>`): spec
//! cos-bucket.md. Not to be confused with `bucket_settings` (server-side
//! settings from the config file).
//!
//! Each sub-resource is one module with its document type (serde), its
//! validation and its rendering, implementing [`BucketConfig`]; adding one
//! touches that module, the [`Subresource`] enum and one `dispatch` line.
//! Documents are stored in the bucket's record (`BucketRecord::configs`, as
//! JSON under the sub-resource's name), so every node of a cluster sees the
//! same configuration, and GET re-renders exactly what PUT stored
//! (cos-bucket.md §0.4 "round-trip rule").

mod accelerate;
pub mod cache;
pub mod cors;
pub mod domain;
mod domaincertificate;
mod encryption;
pub mod intelligent_tiering;
pub mod inventory;
pub mod lifecycle;
pub mod logging;
pub mod object_lock;
pub mod origin;
pub mod policy;
pub mod referer;
pub mod replication;
mod tagging;
pub mod website;
pub mod xml_tree;

use http::{HeaderMap, StatusCode};
use md5::{Digest, Md5};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, ErrorCode, Result};
use crate::http::body::read_limited;
use crate::http::header;
use crate::http::target::BucketName;
use crate::op::{AppState, Req, Response};
use crate::render::headers::ResponseBuilder;
use crate::render::xml::Xml;
use crate::storage::BucketRecord;

pub use accelerate::Accelerate;
pub use cors::Cors;
pub use domain::DomainConfig;
pub use encryption::DefaultEncryption;
pub use intelligent_tiering::IntelligentTiering;
pub use lifecycle::Lifecycle;
pub use logging::Logging;
pub use object_lock::ObjectLockConfig;
pub use origin::OriginConfig;
pub use policy::BucketPolicy;
pub use referer::Referer;
pub use replication::ReplicationConfig;
pub use tagging::BucketTagging;
pub use website::Website;

/// Largest configuration body accepted (cos-bucket.md §0.1).
pub const MAX_BODY: usize = 64 * 1024;

/// The bucket sub-resources implemented as stored configurations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subresource {
    Accelerate,
    Cors,
    Domain,
    DomainCertificate,
    Encryption,
    /// `?intelligenttiering` (v1).
    IntelligentTiering,
    /// `?intelligent-tiering[&id=]` (v2).
    IntelligentTieringV2,
    Inventory,
    Lifecycle,
    Logging,
    ObjectLock,
    Origin,
    Policy,
    Referer,
    Replication,
    Tagging,
    Website,
}

impl Subresource {
    /// The sub-resource a bucket request's query word names, if it is one.
    pub fn from_query(word: &str) -> Option<Subresource> {
        Some(match word {
            "accelerate" => Subresource::Accelerate,
            "cors" => Subresource::Cors,
            "domain" => Subresource::Domain,
            "domaincertificate" => Subresource::DomainCertificate,
            "encryption" => Subresource::Encryption,
            "intelligent-tiering" => Subresource::IntelligentTieringV2,
            "intelligenttiering" => Subresource::IntelligentTiering,
            "inventory" => Subresource::Inventory,
            "lifecycle" => Subresource::Lifecycle,
            "logging" => Subresource::Logging,
            "object-lock" => Subresource::ObjectLock,
            "origin" => Subresource::Origin,
            "policy" => Subresource::Policy,
            "referer" => Subresource::Referer,
            "replication" => Subresource::Replication,
            "tagging" => Subresource::Tagging,
            "website" => Subresource::Website,
            _ => return None,
        })
    }

    /// A stable name for logs and metrics, e.g. `Tagging`.
    pub fn label(self) -> &'static str {
        match self {
            Subresource::Accelerate => "Accelerate",
            Subresource::Cors => "Cors",
            Subresource::Domain => "Domain",
            Subresource::DomainCertificate => "DomainCertificate",
            Subresource::Encryption => "Encryption",
            Subresource::IntelligentTiering => "IntelligentTiering",
            Subresource::IntelligentTieringV2 => "IntelligentTieringV2",
            Subresource::Inventory => "Inventory",
            Subresource::Lifecycle => "Lifecycle",
            Subresource::Logging => "Logging",
            Subresource::ObjectLock => "ObjectLock",
            Subresource::Origin => "Origin",
            Subresource::Policy => "Policy",
            Subresource::Referer => "Referer",
            Subresource::Replication => "Replication",
            Subresource::Tagging => "Tagging",
            Subresource::Website => "Website",
        }
    }
}

/// What GET answers when nothing is configured (cos-bucket.md §0.3).
pub enum Unset {
    /// A 404 (or other) error with this code.
    Error(ErrorCode),
    /// 200 with an empty root element of this name.
    Empty(&'static str),
}

/// One bucket configuration document.
pub trait BucketConfig: Serialize + DeserializeOwned + Sized {
    /// The query word, also the key it is stored under.
    const NAME: &'static str;
    /// GET with nothing stored.
    const UNSET: Unset;
    /// PUT's success status.
    const PUT_STATUS: StatusCode = StatusCode::OK;
    /// GET's `Content-Type` (`render` makes a document of this type).
    const CONTENT_TYPE: &'static str = "application/xml";
    /// Parses and validates a PUT body (size-checked and MD5-verified).
    /// # Behavior
    /// - Not well-formed, wrong root, missing required elements → 400
    ///   MalformedXML; values out of range → the documented 4xx.
    fn parse(body: &[u8]) -> Result<Self>;
    /// The GET document.
    fn render(&self) -> String;
    /// A check against the configuration already stored (`None`: none),
    /// e.g. a rule that cannot be changed once set.
    fn check_replace(&self, _current: Option<&Self>) -> Result<()> {
        Ok(())
    }
    /// A document that configures nothing: PUT removes the configuration
    /// (GET then answers as unset).
    fn is_empty(&self) -> bool {
        false
    }
}

/// The stored `T` of a bucket record, if any.
pub fn stored<T: BucketConfig>(rec: &BucketRecord) -> Option<T> {
    rec.configs
        .get(T::NAME)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// Reads a configuration body: at most [`MAX_BODY`] bytes (400
/// EntityTooLarge), `Content-MD5` verified when present (never required:
/// the SDKs often omit it, cos-bucket.md §0.2).
pub async fn read_body(req: Req) -> Result<bytes::Bytes> {
    let expected = header::content_md5(&req.headers)?;
    let body = read_limited(req.body, MAX_BODY)
        .await
        .map_err(|e| match e {
            None => Error::with_message(
                ErrorCode::EntityTooLarge,
                "A bucket configuration is at most 64 KB.",
            ),
            Some(e) => Error::from(e),
        })?;
    if expected.is_some_and(|md5| Md5::digest(&body).as_slice() != md5) {
        return Err(Error::new(ErrorCode::BadDigest));
    }
    Ok(body)
}

pub(crate) async fn bucket_record(state: &AppState, bucket: &BucketName) -> Result<BucketRecord> {
    state
        .store
        .bucket(bucket.as_str())
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NoSuchBucket))
}

/// GET `/?<name>`.
pub async fn get<T: BucketConfig>(state: &AppState, bucket: &BucketName) -> Result<Response> {
    let rec = bucket_record(state, bucket).await?;
    match (stored::<T>(&rec), T::UNSET) {
        (Some(doc), _) if T::CONTENT_TYPE == "application/xml" => {
            Ok(ResponseBuilder::new(StatusCode::OK).xml(doc.render()))
        }
        (Some(doc), _) => {
            let text = doc.render();
            Ok(ResponseBuilder::new(StatusCode::OK)
                .header("content-type", T::CONTENT_TYPE)
                .content_length(text.len() as u64)
                .body(crate::http::body::Body::from(text)))
        }
        (None, Unset::Error(code)) => Err(Error::new(code)),
        (None, Unset::Empty(root)) => {
            Ok(ResponseBuilder::new(StatusCode::OK).xml(Xml::new(root).finish(root)))
        }
    }
}

/// PUT `/?<name>`: validated, then stored in one bucket-record update.
pub async fn put<T: BucketConfig>(
    state: &AppState,
    bucket: &BucketName,
    req: Req,
) -> Result<Response> {
    bucket_record(state, bucket).await?;
    let body = read_body(req).await?;
    store(state, bucket, T::parse(&body)?).await
}

/// Stores a parsed PUT document (after [`BucketConfig::check_replace`]):
/// the second half of [`put`], for sub-resources with checks of their own.
pub async fn store<T: BucketConfig>(
    state: &AppState,
    bucket: &BucketName,
    doc: T,
) -> Result<Response> {
    let current = stored::<T>(&bucket_record(state, bucket).await?);
    doc.check_replace(current.as_ref())?;
    save(state, bucket, doc).await
}

/// Stores a parsed and validated document; PUT's answer.
pub async fn save<T: BucketConfig>(
    state: &AppState,
    bucket: &BucketName,
    doc: T,
) -> Result<Response> {
    store_doc(state, bucket, &doc).await?;
    Ok(ResponseBuilder::new(T::PUT_STATUS)
        .content_length(0)
        .empty())
}

/// Stores a validated document in one bucket-record update (an empty one
/// removes the configuration).
pub async fn store_doc<T: BucketConfig>(
    state: &AppState,
    bucket: &BucketName,
    doc: &T,
) -> Result<()> {
    let empty = doc.is_empty();
    let value = serde_json::to_value(doc)
        .map_err(|e| Error::with_message(ErrorCode::InternalError, e.to_string()))?;
    state
        .store
        .meta()
        .update_bucket(
            bucket.as_str(),
            Box::new(move |rec| {
                if empty {
                    rec.configs.remove(T::NAME);
                } else {
                    rec.configs.insert(T::NAME.to_string(), value);
                }
            }),
        )
        .await?;
    Ok(())
}

/// DELETE `/?<name>`: 204 whether or not something was stored.
pub async fn delete<T: BucketConfig>(state: &AppState, bucket: &BucketName) -> Result<Response> {
    state
        .store
        .meta()
        .update_bucket(
            bucket.as_str(),
            Box::new(|rec| {
                rec.configs.remove(T::NAME);
            }),
        )
        .await?;
    Ok(ResponseBuilder::new(StatusCode::NO_CONTENT).empty())
}

/// Routes one sub-resource call to its module.
pub async fn dispatch(
    state: &AppState,
    bucket: &BucketName,
    sub: Subresource,
    method: &http::Method,
    req: Req,
) -> Result<Response> {
    macro_rules! by_method {
        ($t:ty) => {
            match *method {
                http::Method::GET => get::<$t>(state, bucket).await,
                http::Method::PUT => put::<$t>(state, bucket, req).await,
                _ => delete::<$t>(state, bucket).await,
            }
        };
    }
    match sub {
        Subresource::Accelerate => by_method!(Accelerate),
        Subresource::Cors => by_method!(Cors),
        Subresource::Domain => match *method {
            http::Method::GET => get::<DomainConfig>(state, bucket).await,
            http::Method::PUT => domain::put(state, bucket, req).await,
            _ => domain::delete(state, bucket).await,
        },
        Subresource::DomainCertificate => {
            domaincertificate::dispatch(state, bucket, method, req).await
        }
        Subresource::Encryption => by_method!(DefaultEncryption),
        Subresource::IntelligentTiering if *method == http::Method::DELETE => {
            Err(Error::new(ErrorCode::MethodNotAllowed))
        }
        Subresource::IntelligentTiering => by_method!(IntelligentTiering),
        Subresource::IntelligentTieringV2 => {
            intelligent_tiering::handle_v2(state, bucket, method, req).await
        }
        Subresource::Inventory => inventory::dispatch(state, bucket, method, req).await,
        Subresource::Lifecycle => by_method!(Lifecycle),
        Subresource::Logging => match *method {
            http::Method::GET => get::<Logging>(state, bucket).await,
            http::Method::PUT => logging::put(state, bucket, req).await,
            _ => logging::delete(state, bucket).await,
        },
        Subresource::ObjectLock => object_lock::dispatch(state, bucket, method, req).await,
        Subresource::Origin => match *method {
            http::Method::PUT => origin::put(state, bucket, req).await,
            _ => by_method!(OriginConfig),
        },
        Subresource::Policy => by_method!(BucketPolicy),
        Subresource::Referer => by_method!(Referer),
        Subresource::Replication => match *method {
            http::Method::PUT => replication::put(state, bucket, req).await,
            _ => by_method!(ReplicationConfig),
        },
        Subresource::Tagging => by_method!(BucketTagging),
        Subresource::Website => by_method!(Website),
    }
}

/// The root element's local name, skipping the declaration, comments and
/// whitespace (serde ignores the root's name; COS checks it).
pub fn root_name(text: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                return Some(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
            }
            quick_xml::events::Event::Eof => return None,
            _ => {}
        }
    }
}

/// Parses `body` as `T` whose root must be `root` (400 MalformedXML otherwise).
pub fn parse_xml<T: DeserializeOwned>(body: &[u8], root: &str) -> Result<T> {
    let malformed = || Error::new(ErrorCode::MalformedXML);
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    if root_name(text).as_deref() != Some(root) {
        return Err(malformed());
    }
    quick_xml::de::from_str(text).map_err(|_| malformed())
}

/// Whether a request with these headers is a configuration call the
/// default-encryption rule applies to (no SSE header of its own).
pub fn has_sse_headers(h: &HeaderMap) -> bool {
    h.keys()
        .any(|k| k.as_str().starts_with("x-cos-server-side-encryption"))
}
