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
        let outcome = match ObjectKey::parse(&obj.key) {
            Err(e) => DeleteOutcome::Error {
                key: obj.key,
                code: e.code.as_str(),
                message: e.message().to_string(),
            },
            Ok(_)
                if obj
                    .version_id
                    .as_deref()
                    .is_some_and(|v| !v.is_empty() && v != "null") =>
            {
                DeleteOutcome::Error {
                    key: obj.key,
                    code: ErrorCode::NoSuchVersion.as_str(),
                    message: ErrorCode::NoSuchVersion.default_message().into(),
                }
            }
            Ok(key) => match state
                .store
                .delete_object(bucket.as_str(), key.as_str())
                .await
            {
                Ok(_) => DeleteOutcome::Deleted { key: obj.key },
                Err(e) => {
                    let e = Error::from(e);
                    DeleteOutcome::Error {
                        key: obj.key,
                        code: e.code.as_str(),
                        message: e.message().to_string(),
                    }
                }
            },
        };
        outcomes.push(outcome);
    }
    Ok(ResponseBuilder::new(StatusCode::OK).xml(xml::delete_result(&outcomes, quiet, family)))
}
