//! POST Object restore (`POST /<key>?restore`):
//! https://cloud.tencent.com/document/product/436/12633 (spec cos.md §6A.8).
//! The decision is `archive::request_restore`; this file parses the request
//! and stores the new restore state on the object's record.

use std::sync::Mutex;

use http::StatusCode;
use serde::Deserialize;

use super::bucket::now_ms;
use super::{AppState, Req, Response};
use crate::archive::{self, RestoreOutcome, Tier};
use crate::error::{Error, ErrorCode, Result};
use crate::http::body::read_limited;
use crate::http::target::{BucketName, ObjectKey};
use crate::render::headers::ResponseBuilder;
use crate::render::xml;

/// A restore document is a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

/// `<RestoreRequest><Days>N</Days><CASJobParameters><Tier>T</Tier></CASJobParameters></RestoreRequest>`
#[derive(Debug, Deserialize)]
#[serde(rename = "RestoreRequest")]
struct RestoreRequest {
    #[serde(rename = "Days", default)]
    days: Option<String>,
    #[serde(rename = "CASJobParameters", default)]
    job: Option<JobParameters>,
}

#[derive(Debug, Deserialize)]
struct JobParameters {
    #[serde(rename = "Tier", default)]
    tier: Option<String>,
}

/// Days and tier from the body: Days required and positive (400
/// InvalidArgument), Tier defaults to `Standard` (Go omits it when unset).
fn parse_request(body: &[u8]) -> Result<(u32, Tier)> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::new(ErrorCode::MissingRequestBodyError));
    }
    let doc: RestoreRequest =
        xml::parse(body).ok_or_else(|| Error::new(ErrorCode::MalformedXML))?;
    let days = doc
        .days
        .as_deref()
        .map(str::trim)
        .and_then(|d| d.parse::<u32>().ok())
        .filter(|d| *d > 0)
        .ok_or_else(|| {
            Error::with_message(
                ErrorCode::InvalidArgument,
                "Days must be a positive whole number of days.",
            )
        })?;
    let tier = match doc.job.and_then(|j| j.tier) {
        Some(t) => Tier::parse(&t)?,
        None => Tier::Standard,
    };
    Ok((days, tier))
}

pub async fn restore(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let version = super::versioning::version_param(&req.query);
    let body = read_limited(req.body, MAX_BODY)
        .await
        .map_err(|e| match e {
            None => Error::new(ErrorCode::XMLSizeLimit),
            Some(e) => Error::from(e),
        })?;
    let (days, tier) = parse_request(&body)?;
    let timing = state.config.archive;
    let now = now_ms();
    // Read-modify-write of that version in place (compare-and-swap, so two
    // racing restores get 202 and 409): same bytes, same version id and
    // Last-Modified, new restore state.
    let outcome: Mutex<Option<RestoreOutcome>> = Mutex::new(None);
    state
        .store
        .update_version(bucket.as_str(), key.as_str(), version, |rec| -> Result<_> {
            let decided = archive::request_restore(rec, now, days, tier, &timing)?;
            let mut out = rec.clone();
            out.restore = Some(decided.record().clone());
            *outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(decided);
            Ok(out)
        })
        .await?;
    let status = match outcome.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(RestoreOutcome::Extended(_)) => StatusCode::OK,
        _ => StatusCode::ACCEPTED,
    };
    Ok(ResponseBuilder::new(status).content_length(0).empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bodies() {
        let p = |s: &str| parse_request(s.as_bytes());
        assert_eq!(
            p("<RestoreRequest><Days>3</Days><CASJobParameters><Tier>Expedited</Tier></CASJobParameters></RestoreRequest>").unwrap(),
            (3, Tier::Expedited)
        );
        assert_eq!(
            p("<RestoreRequest><Days> 1 </Days></RestoreRequest>").unwrap(),
            (1, Tier::Standard)
        );
        for (body, code) in [
            ("", ErrorCode::MissingRequestBodyError),
            ("<RestoreRequest><Days>", ErrorCode::MalformedXML),
            ("not xml", ErrorCode::MalformedXML),
            ("<RestoreRequest></RestoreRequest>", ErrorCode::InvalidArgument),
            ("<RestoreRequest><Days>0</Days></RestoreRequest>", ErrorCode::InvalidArgument),
            ("<RestoreRequest><Days>-2</Days></RestoreRequest>", ErrorCode::InvalidArgument),
            ("<RestoreRequest><Days>x</Days></RestoreRequest>", ErrorCode::InvalidArgument),
            (
                "<RestoreRequest><Days>1</Days><CASJobParameters><Tier>Fast</Tier></CASJobParameters></RestoreRequest>",
                ErrorCode::InvalidArgument,
            ),
        ] {
            assert_eq!(p(body).unwrap_err().code, code, "{body:?}");
        }
    }
}
