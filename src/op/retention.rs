//! Object retention `PUT/GET /<key>?retention[&versionId=]` (spec
//! cos-bucket.md §12; the call cos-go-sdk-v5 offers as
//! `PutObjectRetention`/`GetObjectRetention`):
//! `<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>ISO 8601</RetainUntilDate></Retention>`.
//!
//! PUT sets one version's retain-until time (`ObjectRecord::retain_until_ms`,
//! the same field the bucket's default rule stamps) in place: no new
//! version. COMPLIANCE retention may only be extended: an earlier date on a
//! version still retained → 409 ObjectLocked. GET answers the version's
//! retention, 404 NoSuchObjectLockConfiguration when it has none.

use http::StatusCode;
use serde::Deserialize;

use super::versioning::version_param;
use super::{AppState, Req, Response};
use crate::bucket_config::object_lock::COMPLIANCE;
use crate::bucket_config::{parse_xml, read_body};
use crate::clock::now_ms;
use crate::error::{Error, ErrorCode, Result};
use crate::http::target::{BucketName, ObjectKey};
use crate::render::headers::ResponseBuilder;
use crate::render::xml::{iso8601, Xml};
use crate::storage::lock::{retained, ObjectLockConfig};
use crate::storage::ObjectRecord;

const ROOT: &str = "Retention";

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "Mode")]
    mode: Option<String>,
    #[serde(rename = "RetainUntilDate")]
    until: Option<String>,
}

/// Parses a PUT body into the retain-until time (Unix ms).
/// # Behavior
/// - Not well-formed, wrong root, missing Mode or RetainUntilDate → 400
///   MalformedXML; Mode other than COMPLIANCE, a date that is not RFC 3339
///   or not in the future (`now_ms`) → 400 InvalidArgument.
pub fn parse(body: &[u8], now_ms: i64) -> Result<i64> {
    let doc: Doc = parse_xml(body, ROOT)?;
    let malformed = || Error::new(ErrorCode::MalformedXML);
    let invalid = |m: &str| Error::with_message(ErrorCode::InvalidArgument, m.to_string());
    let mode = doc.mode.ok_or_else(malformed)?;
    if mode.trim() != COMPLIANCE {
        return Err(invalid("Mode must be COMPLIANCE."));
    }
    let until = doc.until.ok_or_else(malformed)?;
    let t = humantime::parse_rfc3339_weak(until.trim())
        .map_err(|_| invalid("RetainUntilDate must be an ISO 8601 date and time."))?;
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| invalid("RetainUntilDate is out of range."))?;
    if ms <= now_ms {
        return Err(invalid("RetainUntilDate must be in the future."));
    }
    Ok(ms)
}

/// The version with its retention set to `until`, or ObjectLocked when that
/// would shorten a retention still running at `now_ms`.
pub fn extended(cur: &ObjectRecord, until: i64, now_ms: i64) -> Result<ObjectRecord> {
    if retained(cur, now_ms) && cur.retain_until_ms.is_some_and(|old| until < old) {
        return Err(Error::with_message(
            ErrorCode::ObjectLocked,
            "A COMPLIANCE retention can only be extended.",
        ));
    }
    let mut next = cur.clone();
    next.retain_until_ms = Some(until);
    Ok(next)
}

/// PUT `?retention`.
pub async fn put(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let rec = state
        .store
        .bucket(bucket.as_str())
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NoSuchBucket))?;
    if ObjectLockConfig::of(&rec).is_none() {
        return Err(Error::with_message(
            ErrorCode::InvalidRequest,
            "Bucket is missing ObjectLockConfiguration.",
        ));
    }
    let version = version_param(&req.query).map(str::to_string);
    let body = read_body(req).await?;
    let until = parse(&body, now_ms())?;
    let done = state
        .store
        .update_version(bucket.as_str(), key.as_str(), version.as_deref(), |cur| {
            extended(cur, until, now_ms())
        })
        .await?;
    Ok(ResponseBuilder::new(StatusCode::OK)
        .header_opt(
            "x-cos-version-id",
            done.version_id.as_deref().filter(|v| *v != "null"),
        )
        .content_length(0)
        .empty())
}

/// GET `?retention`.
pub async fn get(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let rec = state
        .store
        .head_version(bucket.as_str(), key.as_str(), version_param(&req.query))
        .await?;
    let Some(until) = rec.retain_until_ms else {
        return Err(Error::new(ErrorCode::NoSuchObjectLockConfiguration));
    };
    let mut x = Xml::new(ROOT);
    x.elem("Mode", COMPLIANCE);
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(until.max(0) as u64);
    x.elem("RetainUntilDate", &iso8601(t));
    Ok(ResponseBuilder::new(StatusCode::OK).xml(x.finish(ROOT)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000; // 2023-11-14T22:13:20Z

    #[test]
    fn parse_table() {
        let doc = |inner: &str| format!("<Retention>{inner}</Retention>");
        let table: Vec<(String, std::result::Result<i64, &str>)> = vec![
            (
                doc("<Mode>COMPLIANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate>"),
                Ok(1_893_456_000_000),
            ),
            (
                doc("<RetainUntilDate>2030-01-01T00:00:00.500Z</RetainUntilDate><Mode>COMPLIANCE</Mode>"),
                Ok(1_893_456_000_500),
            ),
            (
                doc("<Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate>"),
                Err("InvalidArgument"),
            ),
            (
                doc("<Mode>COMPLIANCE</Mode><RetainUntilDate>2020-01-01T00:00:00Z</RetainUntilDate>"),
                Err("InvalidArgument"),
            ),
            (
                doc("<Mode>COMPLIANCE</Mode><RetainUntilDate>tomorrow</RetainUntilDate>"),
                Err("InvalidArgument"),
            ),
            (doc("<Mode>COMPLIANCE</Mode>"), Err("MalformedXML")),
            (
                doc("<RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate>"),
                Err("MalformedXML"),
            ),
            ("<Other/>".into(), Err("MalformedXML")),
            (String::new(), Err("MalformedXML")),
        ];
        for (body, want) in table {
            match (parse(body.as_bytes(), NOW), want) {
                (Ok(got), Ok(ms)) => assert_eq!(got, ms, "{body}"),
                (Err(e), Err(code)) => assert_eq!(e.code.as_str(), code, "{body}"),
                (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn only_extended_while_retained() {
        let mut rec = crate::storage::versions::delete_marker(String::new());
        rec.delete_marker = false;
        // No retention yet: any date.
        assert_eq!(
            extended(&rec, NOW + 5, NOW).unwrap().retain_until_ms,
            Some(NOW + 5)
        );
        rec.retain_until_ms = Some(NOW + 1_000);
        assert_eq!(
            extended(&rec, NOW + 2_000, NOW).unwrap().retain_until_ms,
            Some(NOW + 2_000)
        );
        assert_eq!(
            extended(&rec, NOW + 500, NOW).unwrap_err().code,
            ErrorCode::ObjectLocked
        );
        // Expired: a new, earlier-than-before date is fine.
        assert_eq!(
            extended(&rec, NOW + 1_500, NOW + 1_200)
                .unwrap()
                .retain_until_ms,
            Some(NOW + 1_500)
        );
    }
}
