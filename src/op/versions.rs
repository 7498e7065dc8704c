//! GET Bucket Object Versions (`GET /?versions`):
//! https://cloud.tencent.com/document/product/436/35521 (spec cos.md §3.2).

use http::StatusCode;

use super::{owner_id, AppState, Req, Response};
use crate::error::{Error, ErrorCode, Result};
use crate::http::query::Query;
use crate::http::target::BucketName;
use crate::render::headers::ResponseBuilder;
use crate::render::versions::{self as render, VersionsParams};
use crate::render::xml::Owner;
use crate::storage::versions::parse_version_id;
use crate::storage::{VersionsQuery, NULL_VERSION};

/// The listing input, validated: `max-keys` 0..=1000 (larger is capped),
/// `encoding-type` only `url`, and a `version-id-marker` needs a
/// `key-marker` and must be an id this server made (or `null`).
pub fn parse_query(q: &Query) -> Result<(VersionsQuery, bool)> {
    let max_keys = match q.get("max-keys").filter(|v| !v.is_empty()) {
        None => 1000,
        Some(v) => v.parse::<usize>().map(|n| n.min(1000)).map_err(|_| {
            Error::with_message(
                ErrorCode::InvalidArgument,
                "max-keys must be an integer between 0 and 1000.",
            )
        })?,
    };
    let url_encode = match q.get("encoding-type").filter(|v| !v.is_empty()) {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("url") => true,
        Some(_) => {
            return Err(Error::with_message(
                ErrorCode::InvalidArgument,
                "encoding-type must be url.",
            ))
        }
    };
    let key_marker = q.get("key-marker").unwrap_or("").to_string();
    let version_id_marker = q
        .get("version-id-marker")
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    if let Some(v) = &version_id_marker {
        if key_marker.is_empty() {
            return Err(Error::with_message(
                ErrorCode::InvalidArgument,
                "A version-id marker cannot be specified without a key marker.",
            ));
        }
        if v != NULL_VERSION && parse_version_id(v).is_none() {
            return Err(Error::with_message(
                ErrorCode::InvalidArgument,
                "Invalid version id specified.",
            ));
        }
    }
    let query = VersionsQuery {
        prefix: q.get("prefix").unwrap_or("").to_string(),
        delimiter: q.get("delimiter").unwrap_or("").to_string(),
        key_marker,
        version_id_marker,
        max_keys,
    };
    Ok((query, url_encode))
}

pub async fn list(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    let (query, url_encode) = parse_query(&req.query)?;
    let page = state.store.list_versions(bucket.as_str(), &query).await?;
    let id = owner_id(state);
    let params = VersionsParams {
        bucket: bucket.as_str(),
        prefix: &query.prefix,
        key_marker: &query.key_marker,
        version_id_marker: query.version_id_marker.as_deref().unwrap_or(""),
        delimiter: &query.delimiter,
        max_keys: query.max_keys,
        url_encode,
    };
    let owner = Owner {
        id: &id,
        display_name: &state.config.addressing.appid,
    };
    Ok(ResponseBuilder::new(StatusCode::OK).xml(render::list_versions(&params, &owner, &page)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_rules() {
        let parse = |s: &str| parse_query(&Query::parse(Some(s)).unwrap());
        let (q, enc) = parse("versions&prefix=a%2F&delimiter=%2F&key-marker=k&version-id-marker=null&max-keys=5000&encoding-type=url").unwrap();
        assert_eq!(
            (
                q.prefix.as_str(),
                q.delimiter.as_str(),
                q.key_marker.as_str()
            ),
            ("a/", "/", "k")
        );
        assert_eq!(q.version_id_marker.as_deref(), Some("null"));
        assert_eq!(q.max_keys, 1000);
        assert!(enc);
        let (q, enc) = parse("versions&key-marker=&version-id-marker=").unwrap();
        assert_eq!((q.version_id_marker, q.max_keys, enc), (None, 1000, false));
        for bad in [
            "versions&version-id-marker=null",
            "versions&key-marker=k&version-id-marker=nope",
            "versions&max-keys=-1",
            "versions&max-keys=ten",
            "versions&encoding-type=base64",
        ] {
            assert_eq!(
                parse(bad).unwrap_err().code,
                ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
    }
}
