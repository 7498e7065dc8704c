//! Every XML body localcos writes, and the request documents it reads.
//!
//! Output: `<?xml version='1.0' encoding='utf-8' ?>` and a root without a
//! namespace (cos-python-sdk-v5 only strips a few known namespaces, §3).
//! Written with a tiny escaping writer rather than serde, so that element
//! order, empty elements and booleans are exactly what the SDKs expect.

use std::time::SystemTime;

use serde::Deserialize;

use crate::storage::{BucketRecord, ObjectRecord};

const DECL: &str = "<?xml version='1.0' encoding='utf-8' ?>\n";

/// A minimal XML writer: elements and escaped text.
pub struct Xml(String);

impl Xml {
    pub fn new(root: &str) -> Xml {
        let mut s = String::with_capacity(512);
        s.push_str(DECL);
        s.push('<');
        s.push_str(root);
        s.push('>');
        Xml(s)
    }
    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push('>');
        self
    }
    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
        self
    }
    pub fn elem(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        self.0.push_str(&quick_xml::escape::partial_escape(text));
        self.close(tag)
    }
    /// Appends markup as is: only for fixed text the helpers cannot write
    /// (an element with attributes).
    pub fn raw(&mut self, markup: &str) -> &mut Self {
        self.0.push_str(markup);
        self
    }
    pub fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.0
    }
}

/// ISO 8601 with milliseconds, as COS lists `LastModified`.
pub fn iso8601(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn ms_to_time(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64)
}

/// `<Error>` with Code, Message, Resource, RequestId, TraceId (all non-empty, NOTES 3).
pub fn error_body(code: &str, message: &str, resource: &str, request_id: &str) -> String {
    let mut x = Xml::new("Error");
    x.elem("Code", code)
        .elem("Message", message)
        .elem("Resource", resource)
        .elem("RequestId", request_id)
        .elem("TraceId", request_id);
    x.finish("Error")
}

/// The owner shown in listings: the APPID's root account.
pub struct Owner<'a> {
    pub id: &'a str,
    pub display_name: &'a str,
}

/// GET Service.
pub fn list_buckets(owner: &Owner<'_>, buckets: &[BucketRecord]) -> String {
    let mut x = Xml::new("ListAllMyBucketsResult");
    x.open("Owner")
        .elem("ID", owner.id)
        .elem("DisplayName", owner.display_name)
        .close("Owner");
    x.open("Buckets");
    for b in buckets {
        x.open("Bucket")
            .elem("Name", &b.name)
            .elem("Location", &b.region)
            .elem("CreationDate", &iso8601(ms_to_time(b.created_ms)))
            .elem("BucketType", "cos")
            .close("Bucket");
    }
    x.close("Buckets");
    x.finish("ListAllMyBucketsResult")
}

/// Encodes listing fields for `encoding-type=url`: space as `%20`, `+` as
/// `%2B`, `/` kept (spec §8: Python `unquote`s, boto3 `unquote_plus`s).
pub fn url_encode_key(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// GET Bucket (list v1) input echoed in the result.
pub struct ListParams<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub marker: &'a str,
    pub delimiter: &'a str,
    pub max_keys: usize,
    pub url_encode: bool,
}

pub fn list_objects(
    p: &ListParams<'_>,
    owner: &Owner<'_>,
    objects: &[(String, ObjectRecord)],
    common_prefixes: &[String],
    is_truncated: bool,
    next_marker: Option<&str>,
) -> String {
    let enc = |s: &str| {
        if p.url_encode {
            url_encode_key(s)
        } else {
            s.to_string()
        }
    };
    let mut x = Xml::new("ListBucketResult");
    x.elem("Name", p.bucket);
    if p.url_encode {
        x.elem("EncodingType", "url");
    }
    x.elem("Prefix", &enc(p.prefix))
        .elem("Marker", &enc(p.marker))
        .elem("MaxKeys", &p.max_keys.to_string());
    if !p.delimiter.is_empty() {
        x.elem("Delimiter", &enc(p.delimiter));
    }
    x.elem("IsTruncated", if is_truncated { "true" } else { "false" });
    if let Some(m) = next_marker {
        x.elem("NextMarker", &enc(m));
    }
    for cp in common_prefixes {
        x.open("CommonPrefixes")
            .elem("Prefix", &enc(cp))
            .close("CommonPrefixes");
    }
    for (key, rec) in objects {
        x.open("Contents")
            .elem("Key", &enc(key))
            .elem("LastModified", &iso8601(rec.last_modified()))
            .elem("ETag", &format!("\"{}\"", rec.etag))
            .elem("Size", &rec.size.to_string())
            .open("Owner")
            .elem("ID", owner.id)
            .elem("DisplayName", owner.display_name)
            .close("Owner")
            .elem("StorageClass", &rec.storage_class)
            .close("Contents");
    }
    x.finish("ListBucketResult")
}

/// PUT Object - Copy result.
pub fn copy_result(rec: &ObjectRecord) -> String {
    let mut x = Xml::new("CopyObjectResult");
    x.elem("ETag", &format!("\"{}\"", rec.etag))
        .elem("LastModified", &iso8601(rec.last_modified()))
        .elem("CRC64", &rec.crc64.to_string());
    if let Some(v) = rec.version_id.as_deref().filter(|v| *v != "null") {
        x.elem("VersionId", v);
    }
    x.finish("CopyObjectResult")
}

/// One entry of a Delete Multiple result.
pub enum DeleteOutcome {
    Deleted {
        key: String,
        /// The version named in the request, echoed.
        version_id: Option<String>,
        /// A delete marker was written, or the version removed was one.
        delete_marker: bool,
        /// That marker's id.
        delete_marker_version_id: Option<String>,
    },
    Error {
        key: String,
        version_id: Option<String>,
        code: &'static str,
        message: String,
    },
}

pub fn delete_result(outcomes: &[DeleteOutcome], quiet: bool) -> String {
    let mut x = Xml::new("DeleteResult");
    for o in outcomes {
        match o {
            DeleteOutcome::Deleted {
                key,
                version_id,
                delete_marker,
                delete_marker_version_id,
            } if !quiet => {
                x.open("Deleted").elem("Key", key);
                if let Some(v) = version_id {
                    x.elem("VersionId", v);
                }
                if *delete_marker {
                    x.elem("DeleteMarker", "true");
                }
                if let Some(v) = delete_marker_version_id {
                    x.elem("DeleteMarkerVersionId", v);
                }
                x.close("Deleted");
            }
            DeleteOutcome::Deleted { .. } => {}
            DeleteOutcome::Error {
                key,
                version_id,
                code,
                message,
            } => {
                x.open("Error").elem("Key", key);
                if let Some(v) = version_id {
                    x.elem("VersionId", v);
                }
                x.elem("Code", code).elem("Message", message).close("Error");
            }
        }
    }
    x.finish("DeleteResult")
}

/// `POST /?delete` body.
#[derive(Debug, Deserialize)]
#[serde(rename = "Delete")]
pub struct DeleteRequest {
    #[serde(rename = "Quiet", default)]
    pub quiet: Option<String>,
    #[serde(rename = "Object", default)]
    pub objects: Vec<DeleteObject>,
}

#[derive(Debug, Deserialize)]
pub struct DeleteObject {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "VersionId", default)]
    pub version_id: Option<String>,
}

/// PUT Bucket's optional `<CreateBucketConfiguration>`.
#[derive(Debug, Deserialize, Default)]
#[serde(rename = "CreateBucketConfiguration")]
pub struct CreateBucketConfiguration {
    #[serde(rename = "BucketAZConfig", default)]
    pub az: Option<String>,
    #[serde(rename = "BucketArchConfig", default)]
    pub arch: Option<String>,
}

/// Parses a request document; `None` when it is not well-formed.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    let text = std::str::from_utf8(body).ok()?;
    quick_xml::de::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_exact() {
        assert_eq!(
            error_body("NoSuchKey", "The specified key does not exist.", "/a&b", "id1"),
            "<?xml version='1.0' encoding='utf-8' ?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Resource>/a&amp;b</Resource><RequestId>id1</RequestId><TraceId>id1</TraceId></Error>"
        );
    }

    #[test]
    fn url_encoding_for_listings() {
        assert_eq!(
            url_encode_key("a b+c%d/e&中"),
            "a%20b%2Bc%25d/e%26%E4%B8%AD"
        );
    }

    #[test]
    fn delete_request_parses() {
        let d: DeleteRequest = parse(b"<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b c</Key><VersionId>v</VersionId></Object></Delete>").unwrap();
        assert_eq!(d.quiet.as_deref(), Some("true"));
        assert_eq!(d.objects.len(), 2);
        assert_eq!(d.objects[1].key, "b c");
        assert!(parse::<DeleteRequest>(b"<Delete><Object>").is_none());
    }
}
