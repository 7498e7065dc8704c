//! ListObjectsV2 (`GET /?list-type=2`), S3's listing: spec s3.md §5,
//! https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
//!
//! The same index scan as V1; the cursor is an opaque continuation token
//! (base64url of the last key or common prefix listed) instead of a marker.

use base64::Engine;
use http::StatusCode;

use super::list::{encoding_type, max_keys};
use super::{owner_id, AppState, Req, Response};
use crate::error::{Error, ErrorCode, Result};
use crate::http::target::BucketName;
use crate::render::headers::ResponseBuilder;
use crate::render::xml;
use crate::storage::ListQuery;

const TOKEN: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The token that resumes a listing after `last` (a key or common prefix).
pub fn continuation_token(last: &str) -> String {
    TOKEN.encode(last.as_bytes())
}

/// The key a continuation token resumes after; a token this server did not
/// issue → 400 InvalidArgument, as S3 answers.
pub fn parse_continuation_token(token: &str) -> Result<String> {
    TOKEN
        .decode(token.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            Error::with_message(
                ErrorCode::InvalidArgument,
                "The continuation token provided is incorrect",
            )
        })
}

pub async fn list_objects_v2(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    let q = &req.query;
    let max_keys = max_keys(q)?;
    let url_encode = encoding_type(q)?;
    let token = q.get("continuation-token").filter(|t| !t.is_empty());
    let start_after = q.get("start-after").filter(|s| !s.is_empty());
    // The token wins over start-after (S3: start-after only applies to the first page).
    let marker = match token {
        Some(t) => parse_continuation_token(t)?,
        None => start_after.unwrap_or("").to_string(),
    };
    let query = ListQuery {
        prefix: q.get("prefix").unwrap_or("").to_string(),
        delimiter: q.get("delimiter").unwrap_or("").to_string(),
        marker,
        max_keys,
    };
    let page = state.store.list_objects(bucket.as_str(), &query).await?;
    let next = match (&page.next_marker, page.is_truncated) {
        (Some(m), true) => Some(continuation_token(m)),
        _ => None,
    };
    let id = owner_id(state);
    let params = xml::ListV2Params {
        bucket: bucket.as_str(),
        prefix: &query.prefix,
        delimiter: &query.delimiter,
        start_after,
        continuation_token: token,
        max_keys,
        url_encode,
        fetch_owner: q
            .get("fetch-owner")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        family: req.family,
    };
    let body = xml::list_objects_v2(
        &params,
        &xml::Owner {
            id: &id,
            display_name: &state.config.addressing.appid,
        },
        &page.objects,
        &page.common_prefixes,
        next.as_deref(),
    );
    Ok(ResponseBuilder::new(StatusCode::OK).xml(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for key in ["a", "dir/sub dir/", "日本語+%2F", ""] {
            assert_eq!(
                parse_continuation_token(&continuation_token(key)).unwrap(),
                key
            );
        }
        assert_eq!(
            parse_continuation_token("not a token!").unwrap_err().code,
            ErrorCode::InvalidArgument
        );
    }
}
