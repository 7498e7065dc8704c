//! PUT / GET Bucket versioning:
//! https://cloud.tencent.com/document/product/436/19889 (PUT),
//! /19888 (GET); spec cos.md §3.2, §6 "Versioning", cos-bucket.md §0.

use http::{HeaderMap, StatusCode};
use md5::{Digest, Md5};

use super::bucket::MAX_XML_BODY;
use super::object::write_condition;
use super::{AppState, Req, Response};
use crate::error::{Error, ErrorCode, Result};
use crate::http::body::read_limited;
use crate::http::header;
use crate::http::target::BucketName;
use crate::render::headers::ResponseBuilder;
use crate::render::versions::{self as render, VersioningConfiguration};
use crate::render::xml;
use crate::storage::{Versioning, WriteCondition};

/// The state a `<Status>` asks for (cos-bucket.md §0.4: a value outside the
/// enum is 400 InvalidArgument; a missing one is MalformedXML).
pub fn parse_status(status: Option<&str>) -> Result<Versioning> {
    match status.map(str::trim) {
        Some("Enabled") => Ok(Versioning::Enabled),
        Some("Suspended") => Ok(Versioning::Suspended),
        None | Some("") => Err(Error::with_message(
            ErrorCode::MalformedXML,
            "VersioningConfiguration needs a Status of Enabled or Suspended.",
        )),
        Some(_) => Err(Error::with_message(
            ErrorCode::InvalidArgument,
            "Status must be Enabled or Suspended.",
        )),
    }
}

/// Whether the document's root element is `name` (serde does not check it).
fn root_is(body: &[u8], name: &str) -> bool {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Start(e)) | Ok(quick_xml::events::Event::Empty(e)) => {
                return e.name().as_ref() == name.as_bytes()
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => return false,
            Ok(_) => buf.clear(),
        }
    }
}

pub async fn put(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    // Python sends neither Content-MD5 nor Content-Type; verify MD5 when given.
    let expected_md5 = header::content_md5(&req.headers)?;
    let body = read_limited(req.body, MAX_XML_BODY)
        .await
        .map_err(|e| match e {
            None => Error::new(ErrorCode::XMLSizeLimit),
            Some(e) => Error::from(e),
        })?;
    if expected_md5.is_some_and(|md5| Md5::digest(&body).as_slice() != md5) {
        return Err(Error::new(ErrorCode::BadDigest));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::new(ErrorCode::MalformedXML));
    }
    let doc: VersioningConfiguration = xml::parse(&body)
        .filter(|_| root_is(&body, "VersioningConfiguration"))
        .ok_or_else(|| Error::new(ErrorCode::MalformedXML))?;
    let wanted = parse_status(doc.status.as_deref())?;
    state.store.set_versioning(bucket.as_str(), wanted).await?;
    Ok(ResponseBuilder::new(StatusCode::OK)
        .content_length(0)
        .empty())
}

pub async fn get(state: &AppState, bucket: &BucketName) -> Result<Response> {
    let Some(rec) = state.store.bucket(bucket.as_str()).await? else {
        return Err(Error::new(ErrorCode::NoSuchBucket));
    };
    Ok(ResponseBuilder::new(StatusCode::OK).xml(render::versioning_configuration(rec.versioning)))
}

/// The write condition of a PUT or copy: `x-cos-forbid-overwrite` is only
/// honoured while the bucket has never been versioned (cos.md §6A.2); once
/// it has, the write proceeds. `If-None-Match: *` always holds.
pub async fn write_condition_for(
    state: &AppState,
    bucket: &BucketName,
    h: &HeaderMap,
) -> Result<WriteCondition> {
    let cond = write_condition(h);
    let forbid_only =
        cond == WriteCondition::IfNoneMatch && header::get(h, "if-none-match") != Some("*");
    if forbid_only {
        if let Some(rec) = state.store.bucket(bucket.as_str()).await? {
            if !rec.versioning.is_off() {
                return Ok(WriteCondition::None);
            }
        }
    }
    Ok(cond)
}

/// The `versionId` query parameter; empty counts as absent.
pub fn version_param(q: &crate::http::query::Query) -> Option<&str> {
    q.get("versionId").filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        let table: [(Option<&str>, std::result::Result<Versioning, ErrorCode>); 6] = [
            (Some("Enabled"), Ok(Versioning::Enabled)),
            (Some("Suspended"), Ok(Versioning::Suspended)),
            (Some(" Enabled\n"), Ok(Versioning::Enabled)),
            (Some("enabled"), Err(ErrorCode::InvalidArgument)),
            (Some("Disabled"), Err(ErrorCode::InvalidArgument)),
            (None, Err(ErrorCode::MalformedXML)),
        ];
        for (input, want) in table {
            assert_eq!(parse_status(input).map_err(|e| e.code), want, "{input:?}");
        }
    }

    #[test]
    fn root_check() {
        assert!(root_is(
            b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
            "VersioningConfiguration"
        ));
        assert!(!root_is(
            b"<LifecycleConfiguration><Status>Enabled</Status></LifecycleConfiguration>",
            "VersioningConfiguration"
        ));
        assert!(!root_is(b"not xml", "VersioningConfiguration"));
    }
}
