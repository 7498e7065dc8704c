//! Object tagging: PUT/GET/DELETE `/<key>?tagging[&versionId=]`
//! (https://cloud.tencent.com/document/product/436/35709, /35710) and the
//! `x-cos-tagging` request header of PUT Object and Copy; spec cos.md §6A.7.
//!
//! A tag set is an ordered list of `(key, value)` pairs, stored in
//! `ObjectRecord::tags` and changed in place (no new version).

use http::{HeaderMap, StatusCode};
use md5::{Digest, Md5};
use serde::Deserialize;

use super::bucket::MAX_XML_BODY;
use super::versioning::version_param;
use super::{AppState, Req, Response};
use crate::auth::Family;
use crate::error::{Error, ErrorCode, Result};
use crate::http::body::read_limited;
use crate::http::header;
use crate::http::target::{BucketName, ObjectKey};
use crate::render::headers::ResponseBuilder;
use crate::render::xml::{self, Xml};

/// Most tags one object may carry.
pub const MAX_TAGS: usize = 10;
/// Longest tag key, in bytes.
pub const MAX_KEY_LEN: usize = 128;
/// Longest tag value, in bytes.
pub const MAX_VALUE_LEN: usize = 256;

pub type Tags = Vec<(String, String)>;

fn invalid(message: impl Into<String>) -> Error {
    Error::with_message(ErrorCode::InvalidTag, message.into())
}

/// Letters, digits, space and `+ - _ = . : /` (COS's tag alphabet; letters
/// and digits in any script).
fn allowed_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, ' ' | '+' | '-' | '_' | '=' | '.' | ':' | '/')
}

/// Checks a whole tag set against COS's limits.
/// # Behavior
/// - More than [`MAX_TAGS`], an empty or duplicate key, a key over
///   [`MAX_KEY_LEN`] or a value over [`MAX_VALUE_LEN`] bytes, or a character
///   outside the alphabet → 400 InvalidTag. An empty value is fine.
pub fn validate(tags: &[(String, String)]) -> Result<()> {
    validate_limited(tags, MAX_TAGS)
}

/// [`validate`] with another tag-count limit.
pub fn validate_limited(tags: &[(String, String)], max_tags: usize) -> Result<()> {
    if tags.len() > max_tags {
        return Err(invalid(format!("At most {max_tags} tags are allowed.")));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() {
            return Err(invalid("A tag key must not be empty."));
        }
        if k.len() > MAX_KEY_LEN {
            return Err(invalid(format!(
                "A tag key is at most {MAX_KEY_LEN} bytes."
            )));
        }
        if v.len() > MAX_VALUE_LEN {
            return Err(invalid(format!(
                "A tag value is at most {MAX_VALUE_LEN} bytes."
            )));
        }
        if !k.chars().all(allowed_char) || !v.chars().all(allowed_char) {
            return Err(invalid(
                "Tag keys and values may hold letters, digits, spaces and + - _ = . : / only.",
            ));
        }
        if tags[..i].iter().any(|(prev, _)| prev == k) {
            return Err(invalid("Tag keys must be unique."));
        }
    }
    Ok(())
}

/// `x-cos-tagging: k1=v1&k2=v2` (URL-encoded keys and values), validated.
/// # Behavior
/// - Absent or empty header → `Ok(None)`.
/// - Split on `&` (empty pieces skipped) and each piece on its first `=`
///   (none → empty value); `%XX` decoded, `+` kept literal; order kept.
/// - Not UTF-8 after decoding, or breaking [`validate`] → 400 InvalidTag.
pub fn from_header(h: &HeaderMap) -> Result<Option<Tags>> {
    let Some(raw) = header::get(h, "x-cos-tagging") else {
        return Ok(None);
    };
    parse_header_value(raw).map(Some)
}

fn parse_header_value(raw: &str) -> Result<Tags> {
    let decode = |s: &str| -> Result<String> {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| invalid("x-cos-tagging is not valid URL-encoded UTF-8."))
    };
    let mut tags = Tags::new();
    for piece in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        tags.push((decode(k)?, decode(v)?));
    }
    validate(&tags)?;
    Ok(tags)
}

#[derive(Debug, Deserialize)]
struct TaggingDoc {
    #[serde(rename = "TagSet")]
    tag_set: TagSetDoc,
}

#[derive(Debug, Default, Deserialize)]
struct TagSetDoc {
    #[serde(rename = "Tag", default)]
    tags: Vec<TagDoc>,
}

#[derive(Debug, Deserialize)]
struct TagDoc {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value", default)]
    value: String,
}

/// A `<Tagging><TagSet><Tag><Key/><Value/></Tag>…</TagSet></Tagging>` body.
/// # Behavior
/// - Not well-formed, another root, no `TagSet` or a `Tag` without `Key` →
///   400 MalformedXML; a parsed set breaking [`validate`] → 400 InvalidTag.
pub fn parse_document(body: &[u8]) -> Result<Tags> {
    parse_document_limited(body, MAX_TAGS)
}

/// [`parse_document`] with another tag-count limit (buckets allow 50).
pub fn parse_document_limited(body: &[u8], max_tags: usize) -> Result<Tags> {
    let text = std::str::from_utf8(body).map_err(|_| Error::new(ErrorCode::MalformedXML))?;
    if !root_is_tagging(text) {
        return Err(Error::new(ErrorCode::MalformedXML));
    }
    let doc: TaggingDoc = xml::parse(body).ok_or_else(|| Error::new(ErrorCode::MalformedXML))?;
    let tags: Tags = doc
        .tag_set
        .tags
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    validate_limited(&tags, max_tags)?;
    Ok(tags)
}

/// serde ignores the root's name; COS wants `Tagging`.
fn root_is_tagging(text: &str) -> bool {
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                return e.local_name().as_ref() == b"Tagging";
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => return false,
            Ok(_) => continue,
        }
    }
}

/// The GET ?tagging document: exactly the set, in order.
pub fn render(tags: &[(String, String)], family: Family) -> String {
    let mut x = Xml::for_family("Tagging", family);
    x.open("TagSet");
    for (k, v) in tags {
        x.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
    }
    x.close("TagSet");
    x.finish("Tagging")
}

/// `x-cos-tagging-count` on GET/HEAD Object when the object has tags.
pub fn count_header(rb: ResponseBuilder, tags: &[(String, String)]) -> ResponseBuilder {
    if tags.is_empty() {
        rb
    } else {
        rb.header("x-cos-tagging-count", tags.len().to_string())
    }
}

/// The destination's tags on Copy: the source's with
/// `x-cos-tagging-directive: Copy` (default), `x-cos-tagging` with
/// `Replaced`; any other directive → 400 InvalidArgument.
pub fn for_copy(h: &HeaderMap, source: &[(String, String)]) -> Result<Tags> {
    match header::get(h, "x-cos-tagging-directive") {
        None => Ok(source.to_vec()),
        Some(d) if d.eq_ignore_ascii_case("Copy") => Ok(source.to_vec()),
        Some(d) if d.eq_ignore_ascii_case("Replaced") => Ok(from_header(h)?.unwrap_or_default()),
        Some(_) => Err(Error::with_message(
            ErrorCode::InvalidArgument,
            "x-cos-tagging-directive must be Copy or Replaced.",
        )),
    }
}

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
    let rb = version_header(ResponseBuilder::new(StatusCode::OK), &req);
    Ok(rb.xml(render(&rec.tags, req.family)))
}

pub async fn put(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let version = version_param(&req.query).map(str::to_string);
    // The key must exist before the body matters (404 NoSuchKey first).
    state
        .store
        .head_version(bucket.as_str(), key.as_str(), version.as_deref())
        .await?;
    let expected_md5 = header::content_md5(&req.headers)?;
    let rb = version_header(ResponseBuilder::new(StatusCode::OK), &req);
    let body = read_limited(req.body, MAX_XML_BODY)
        .await
        .map_err(|e| match e {
            None => Error::new(ErrorCode::XMLSizeLimit),
            Some(e) => Error::from(e),
        })?;
    if let Some(md5) = expected_md5 {
        if Md5::digest(&body).as_slice() != md5 {
            return Err(Error::new(ErrorCode::BadDigest));
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::new(ErrorCode::MissingRequestBodyError));
    }
    let tags = parse_document(&body)?;
    state
        .store
        .set_object_tags(bucket.as_str(), key.as_str(), version.as_deref(), tags)
        .await?;
    Ok(rb.content_length(0).empty())
}

pub async fn delete(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let version = version_param(&req.query);
    state
        .store
        .set_object_tags(bucket.as_str(), key.as_str(), version, Vec::new())
        .await?;
    Ok(version_header(ResponseBuilder::new(StatusCode::NO_CONTENT), &req).empty())
}

/// Echoes the `versionId` a tagging call named, as COS does.
fn version_header(rb: ResponseBuilder, req: &Req) -> ResponseBuilder {
    match version_param(&req.query) {
        Some(v) => rb.header("x-cos-version-id", v),
        None => rb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn limits_table() {
        let k128 = "k".repeat(128);
        let k129 = "k".repeat(129);
        let v256 = "v".repeat(256);
        let v257 = "v".repeat(257);
        let ten: Vec<(String, String)> = (0..10).map(|i| (format!("k{i}"), "v".into())).collect();
        let eleven: Vec<(String, String)> =
            (0..11).map(|i| (format!("k{i}"), "v".into())).collect();
        let cases: Vec<(Tags, bool)> = vec![
            (t(&[]), true),
            (t(&[("a", "b")]), true),
            (t(&[("a", "")]), true),
            (t(&[("", "b")]), false),
            (t(&[(&k128, "b")]), true),
            (t(&[(&k129, "b")]), false),
            (t(&[("a", &v256)]), true),
            (t(&[("a", &v257)]), false),
            (ten, true),
            (eleven, false),
            (t(&[("a", "1"), ("a", "2")]), false),
            (t(&[("a b+c-d_e=f.g:h/i", "x y")]), true),
            (t(&[("标签", "值")]), true),
            (t(&[("a*", "b")]), false),
            (t(&[("a", "b&c")]), false),
            (t(&[("a", "<b>")]), false),
        ];
        for (tags, ok) in cases {
            let got = validate(&tags);
            assert_eq!(got.is_ok(), ok, "{tags:?}");
            if let Err(e) = got {
                assert_eq!(e.code, ErrorCode::InvalidTag);
            }
        }
    }

    #[test]
    fn header_value_table() {
        let cases: Vec<(&str, Option<Tags>)> = vec![
            ("a=b", Some(t(&[("a", "b")]))),
            ("a=b&c=d", Some(t(&[("a", "b"), ("c", "d")]))),
            ("c=d&a=b", Some(t(&[("c", "d"), ("a", "b")]))),
            ("k=v%20w", Some(t(&[("k", "v w")]))),
            ("k=a+b", Some(t(&[("k", "a+b")]))),
            ("k=a%3Db=c", Some(t(&[("k", "a=b=c")]))),
            ("k", Some(t(&[("k", "")]))),
            ("a=b&&c=d&", Some(t(&[("a", "b"), ("c", "d")]))),
            ("%E6%A0%87=v", Some(t(&[("标", "v")]))),
            ("a=1&a=2", None),
            ("=v", None),
            ("k=%FF", None),
            ("k=%2A", None),
        ];
        for (raw, want) in cases {
            match (parse_header_value(raw), want) {
                (Ok(got), Some(want)) => assert_eq!(got, want, "{raw}"),
                (Err(e), None) => assert_eq!(e.code, ErrorCode::InvalidTag, "{raw}"),
                (got, want) => panic!("{raw}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn document_table() {
        let ok = |body: &str, want: &[(&str, &str)]| {
            assert_eq!(parse_document(body.as_bytes()).unwrap(), t(want), "{body}");
        };
        ok(
            "<Tagging><TagSet><Tag><Key>k1</Key><Value>v1</Value></Tag>\
             <Tag><Key>k2</Key><Value>v2</Value></Tag></TagSet></Tagging>",
            &[("k1", "v1"), ("k2", "v2")],
        );
        ok(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <TagSet><Tag><Key>k</Key><Value></Value></Tag></TagSet></Tagging>",
            &[("k", "")],
        );
        ok(
            "<Tagging><TagSet><Tag><Key>k</Key><Value/></Tag></TagSet></Tagging>",
            &[("k", "")],
        );
        ok("<Tagging><TagSet/></Tagging>", &[]);
        ok("<Tagging><TagSet></TagSet></Tagging>", &[]);
        let bad = |body: &str, code: ErrorCode| {
            assert_eq!(
                parse_document(body.as_bytes()).unwrap_err().code,
                code,
                "{body}"
            );
        };
        bad("<Tagging><TagSet>", ErrorCode::MalformedXML);
        bad("not xml", ErrorCode::MalformedXML);
        bad("<Other><TagSet/></Other>", ErrorCode::MalformedXML);
        bad("<Tagging></Tagging>", ErrorCode::MalformedXML);
        bad(
            "<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>",
            ErrorCode::MalformedXML,
        );
        bad(
            "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag>\
             <Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>",
            ErrorCode::InvalidTag,
        );
        bad(
            "<Tagging><TagSet><Tag><Key>a*</Key><Value>1</Value></Tag></TagSet></Tagging>",
            ErrorCode::InvalidTag,
        );
    }

    #[test]
    fn render_round_trips_in_order() {
        let tags = t(&[("b", "2"), ("a", "1 & <x>")]);
        let body = render(&tags, Family::Cos);
        assert!(body.contains(
            "<Tagging><TagSet><Tag><Key>b</Key><Value>2</Value></Tag>\
             <Tag><Key>a</Key><Value>1 &amp; &lt;x&gt;</Value></Tag></TagSet></Tagging>"
        ));
        assert!(render(&[], Family::Cos).ends_with("<Tagging><TagSet></TagSet></Tagging>"));
    }

    #[test]
    fn copy_directive_table() {
        let src = t(&[("s", "1")]);
        let mut h = HeaderMap::new();
        assert_eq!(for_copy(&h, &src).unwrap(), src);
        h.insert("x-cos-tagging", "n=2".parse().unwrap());
        assert_eq!(
            for_copy(&h, &src).unwrap(),
            src,
            "Copy ignores x-cos-tagging"
        );
        h.insert("x-cos-tagging-directive", "Replaced".parse().unwrap());
        assert_eq!(for_copy(&h, &src).unwrap(), t(&[("n", "2")]));
        h.remove("x-cos-tagging");
        assert_eq!(for_copy(&h, &src).unwrap(), t(&[]));
        h.insert("x-cos-tagging-directive", "copy".parse().unwrap());
        assert_eq!(for_copy(&h, &src).unwrap(), src);
        h.insert("x-cos-tagging-directive", "Bogus".parse().unwrap());
        assert_eq!(
            for_copy(&h, &src).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
    }
}
