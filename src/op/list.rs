//! GET Bucket (List Objects v1): https://cloud.tencent.com/document/product/436/7734

use http::StatusCode;

use super::{owner_id, AppState, Req, Response};
use crate::error::{Error, ErrorCode, Result};
use crate::http::query::Query;
use crate::http::target::BucketName;
use crate::render::headers::ResponseBuilder;
use crate::render::xml;
use crate::storage::ListQuery;

pub async fn list_objects(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    let q = &req.query;
    let max_keys = max_keys(q)?;
    let url_encode = encoding_type(q)?;
    let query = ListQuery {
        prefix: q.get("prefix").unwrap_or("").to_string(),
        delimiter: q.get("delimiter").unwrap_or("").to_string(),
        marker: q.get("marker").unwrap_or("").to_string(),
        max_keys,
    };
    let page = state.store.list_objects(bucket.as_str(), &query).await?;
    let id = owner_id(state);
    let params = xml::ListParams {
        bucket: bucket.as_str(),
        prefix: &query.prefix,
        marker: &query.marker,
        delimiter: &query.delimiter,
        max_keys,
        url_encode,
        family: req.family,
    };
    let body = xml::list_objects(
        &params,
        &xml::Owner {
            id: &id,
            display_name: &state.config.addressing.appid,
        },
        &page.objects,
        &page.common_prefixes,
        page.is_truncated,
        page.next_marker.as_deref(),
    );
    Ok(ResponseBuilder::new(StatusCode::OK).xml(body))
}

/// `max-keys`: 0..=1000 (larger values are capped), default 1000.
pub fn max_keys(q: &Query) -> Result<usize> {
    match q.get("max-keys").filter(|v| !v.is_empty()) {
        None => Ok(1000),
        Some(v) => v.parse::<usize>().map(|n| n.min(1000)).map_err(|_| {
            Error::with_message(
                ErrorCode::InvalidArgument,
                "max-keys must be an integer between 0 and 1000.",
            )
        }),
    }
}

/// `encoding-type`: absent or `url`.
pub fn encoding_type(q: &Query) -> Result<bool> {
    match q.get("encoding-type").filter(|v| !v.is_empty()) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("url") => Ok(true),
        Some(_) => Err(Error::with_message(
            ErrorCode::InvalidArgument,
            "encoding-type must be url.",
        )),
    }
}
