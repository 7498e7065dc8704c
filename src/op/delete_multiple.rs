//! Delete Multiple Objects (`POST /?delete`): https://cloud.tencent.com/document/product/436/8289

use http::StatusCode;
use md5::{Digest, Md5};

use super::{AppState, Req, Response};
use crate::error::{Error, ErrorCode, Result};
use crate::http::body::read_limited;
use crate::http::header;
use crate::http::target::{BucketName, ObjectKey};
use crate::render::headers::ResponseBuilder;
use crate::render::xml::{self, DeleteOutcome, DeleteRequest};
use crate::storage::{Deletion, StorageError, NULL_VERSION};

/// At most 1000 keys per request (436/14518).
const MAX_KEYS: usize = 1000;
/// 1000 keys of 850 bytes, escaped, fit in 2 MiB.
const MAX_BODY: usize = 2 * 1024 * 1024;

pub async fn delete_objects(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    let family = req.family;
    let expected_md5 = header::content_md5(&req.headers)?;
    let body = read_limited(req.body, MAX_BODY)
        .await
        .map_err(|e| match e {
            None => Error::new(ErrorCode::XMLSizeLimit),
            Some(e) => Error::from(e),
        })?;
    if body.is_empty() {
        return Err(Error::new(ErrorCode::MissingRequestBodyError));
    }
    if let Some(md5) = expected_md5 {
        if Md5::digest(&body).as_slice() != md5 {
            return Err(Error::new(ErrorCode::BadDigest));
        }
    }
    let doc: DeleteRequest =
        xml::parse(&body).ok_or_else(|| Error::new(ErrorCode::MalformedXML))?;
    if doc.objects.is_empty() || doc.objects.len() > MAX_KEYS {
        return Err(Error::with_message(
            ErrorCode::MalformedXML,
            "A Delete request lists 1 to 1000 objects.",
        ));
    }
    let quiet = doc
        .quiet
        .as_deref()
        .is_some_and(|q| q.trim().eq_ignore_ascii_case("true"));
    if state.store.bucket(bucket.as_str()).await?.is_none() {
        return Err(Error::new(ErrorCode::NoSuchBucket));
    }
    let mut outcomes = Vec::with_capacity(doc.objects.len());
    for obj in doc.objects {
        let version = obj.version_id.filter(|v| !v.is_empty());
        let outcome = match ObjectKey::parse(&obj.key) {
            Err(e) => DeleteOutcome::Error {
                key: obj.key,
                version_id: version,
                code: e.code.as_str(),
                message: e.message().to_string(),
            },
            Ok(key) => {
                let result = state
                    .store
                    .delete_version(bucket.as_str(), key.as_str(), version.as_deref())
                    .await;
                // A new delete marker may be replicated (cos-bucket.md §9).
                if let Ok(Some(marker)) = result.as_ref().map(|d| d.marker.as_ref()) {
                    crate::bucket_config::replication::after_write(
                        state,
                        bucket.as_str(),
                        key.as_str(),
                        marker.version_id.as_deref(),
                    )
                    .await;
                }
                outcome(obj.key, version, result)
            }
        };
        outcomes.push(outcome);
    }
    Ok(ResponseBuilder::new(StatusCode::OK).xml(xml::delete_result(&outcomes, quiet, family)))
}

/// One object's entry (spec cos.md §3.1 Delete Multiple): a marker written
/// → `DeleteMarker` + `DeleteMarkerVersionId`; a version removed → its
/// `VersionId` (+ the marker fields when it was a marker); an unknown
/// version other than `null` → NoSuchVersion.
fn outcome(
    key: String,
    version: Option<String>,
    result: std::result::Result<Deletion, StorageError>,
) -> DeleteOutcome {
    let done = match result {
        Ok(done) => done,
        Err(e) => {
            let e = Error::from(e);
            return DeleteOutcome::Error {
                key,
                version_id: version,
                code: e.code.as_str(),
                message: e.message().to_string(),
            };
        }
    };
    if let Some(marker) = done.marker {
        return DeleteOutcome::Deleted {
            key,
            version_id: None,
            delete_marker: true,
            delete_marker_version_id: marker.version_id,
        };
    }
    match (done.removed, version) {
        (Some(removed), version) if removed.delete_marker => DeleteOutcome::Deleted {
            key,
            version_id: version,
            delete_marker: true,
            delete_marker_version_id: removed.version_id,
        },
        (None, Some(v)) if v != NULL_VERSION => DeleteOutcome::Error {
            key,
            version_id: Some(v),
            code: ErrorCode::NoSuchVersion.as_str(),
            message: ErrorCode::NoSuchVersion.default_message().into(),
        },
        (_, version) => DeleteOutcome::Deleted {
            key,
            version_id: version,
            delete_marker: false,
            delete_marker_version_id: None,
        },
    }
}
