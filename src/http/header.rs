//! Request header vocabulary: `x-cos-*` names and typed getters, so handlers
//! never call `headers.get(..).to_str()` themselves. An empty header counts as
//! absent (cos-nodejs-sdk-v5 sends `Cache-Control:` empty on every PUT, §6A.2).

use base64::Engine;
use http::HeaderMap;

use crate::error::{Error, ErrorCode, Result};
use crate::storage::ObjectHeaders;

pub const X_COS_META_PREFIX: &str = "x-cos-meta-";
pub const X_COS_COPY_SOURCE: &str = "x-cos-copy-source";
pub const X_COS_METADATA_DIRECTIVE: &str = "x-cos-metadata-directive";
pub const X_COS_FORBID_OVERWRITE: &str = "x-cos-forbid-overwrite";
pub const X_COS_STORAGE_CLASS: &str = "x-cos-storage-class";
pub const X_COS_SECURITY_TOKEN: &str = "x-cos-security-token";

/// Largest single `x-cos-meta-*` header and all of them together (436/7749).
const MAX_META_ONE: usize = 2 * 1024;
const MAX_META_TOTAL: usize = 4 * 1024;

/// The header's value as text, trimmed; `None` when absent, empty or not visible ASCII/UTF-8.
pub fn get<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let v = h.get(name)?;
    let s = std::str::from_utf8(v.as_bytes()).ok()?.trim();
    (!s.is_empty()).then_some(s)
}

/// `Content-Length`, if present. A malformed value → 400 InvalidArgument.
pub fn content_length(h: &HeaderMap) -> Result<Option<u64>> {
    match get(h, "content-length") {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            Error::with_message(
                ErrorCode::InvalidArgument,
                "Content-Length is not a valid number.",
            )
        }),
    }
}

/// Whether the request body is chunked (Transfer-Encoding: chunked).
pub fn is_chunked(h: &HeaderMap) -> bool {
    get(h, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

/// `Content-MD5`: base64 of 16 bytes, else 400 InvalidDigest.
pub fn content_md5(h: &HeaderMap) -> Result<Option<[u8; 16]>> {
    let Some(v) = get(h, "content-md5") else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v)
        .map_err(|_| Error::new(ErrorCode::InvalidDigest))?;
    <[u8; 16]>::try_from(raw.as_slice())
        .map(Some)
        .map_err(|_| Error::new(ErrorCode::InvalidDigest))
}

/// A `true`/`false` flag; anything but case-insensitive `true` is false.
pub fn flag(h: &HeaderMap, name: &str) -> bool {
    get(h, name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The stored-object headers a PUT/Copy(Replaced) carries: content headers and
/// `x-cos-meta-*` (names lower-cased, `[a-z0-9-]`, limits 2 KB / 4 KB).
pub fn object_headers(h: &HeaderMap) -> Result<ObjectHeaders> {
    let owned = |name: &str| get(h, name).map(str::to_owned);
    let mut user_meta = Vec::new();
    let mut total = 0usize;
    for (name, value) in h.iter() {
        let Some(suffix) = name.as_str().strip_prefix(X_COS_META_PREFIX) else {
            continue;
        };
        let Ok(value) = std::str::from_utf8(value.as_bytes()) else {
            return Err(Error::with_message(
                ErrorCode::InvalidArgument,
                "x-cos-meta-* values must be UTF-8.",
            ));
        };
        if suffix.is_empty()
            || !suffix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(Error::with_message(
                ErrorCode::InvalidArgument,
                format!("Invalid metadata name x-cos-meta-{suffix}."),
            ));
        }
        let size = name.as_str().len() + value.len();
        total += size;
        if size > MAX_META_ONE || total > MAX_META_TOTAL {
            return Err(Error::with_message(
                ErrorCode::InvalidArgument,
                "Your metadata headers exceed the maximum allowed metadata size.",
            ));
        }
        user_meta.push((suffix.to_string(), value.trim().to_string()));
    }
    Ok(ObjectHeaders {
        content_type: owned("content-type"),
        cache_control: owned("cache-control"),
        content_disposition: owned("content-disposition"),
        content_encoding: owned("content-encoding"),
        content_language: owned("content-language"),
        expires: owned("expires"),
        user_meta,
    })
}

/// `x-cos-storage-class` (PUT, Copy, Initiate Multipart Upload): the class
/// name, `STANDARD` when absent; unknown → 400 InvalidArgument (§6A.8).
pub fn storage_class(h: &HeaderMap) -> Result<String> {
    match get(h, X_COS_STORAGE_CLASS) {
        None => Ok("STANDARD".to_string()),
        Some(v) => Ok(crate::archive::StorageClass::parse(v)?.as_str().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn md5_forms() {
        assert_eq!(
            content_md5(&map(&[("content-md5", "7o3pGNBWQBRbGPcPTDqmAg==")]))
                .unwrap()
                .unwrap()[0],
            0xee
        );
        assert_eq!(
            content_md5(&map(&[("content-md5", "nope")]))
                .unwrap_err()
                .code,
            ErrorCode::InvalidDigest
        );
        assert_eq!(
            content_md5(&map(&[("content-md5", "AAAA")]))
                .unwrap_err()
                .code,
            ErrorCode::InvalidDigest
        );
        assert_eq!(content_md5(&map(&[("content-md5", "")])).unwrap(), None);
    }

    #[test]
    fn meta_and_empty_headers() {
        let h = map(&[
            ("x-cos-meta-Foo", "bar"),
            ("cache-control", ""),
            ("content-type", "text/plain"),
        ]);
        let oh = object_headers(&h).unwrap();
        assert_eq!(oh.user_meta, vec![("foo".to_string(), "bar".to_string())]);
        assert_eq!(oh.cache_control, None);
        assert_eq!(oh.content_type.as_deref(), Some("text/plain"));
        assert!(object_headers(&map(&[("x-cos-meta-a_b", "x")])).is_err());
        let big = "v".repeat(2100);
        assert!(object_headers(&map(&[("x-cos-meta-a", &big)])).is_err());
    }
}
