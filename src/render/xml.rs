//! Every XML body localcos writes, and the request documents it reads.
//!
//! Output: `<?xml version='1.0' encoding='utf-8' ?>` and a root without a
//! namespace (cos-python-sdk-v5 only strips a few known namespaces, §3).
//! Written with a tiny escaping writer rather than serde, so that element
//! order, empty elements and booleans are exactly what the SDKs expect.

use std::time::SystemTime;

use serde::Deserialize;

use crate::auth::Family;
use crate::storage::{BucketRecord, ObjectRecord};

const DECL: &str = "<?xml version='1.0' encoding='utf-8' ?>\n";
/// S3's declaration and namespace (spec s3.md §5).
const S3_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

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
    /// A document in a family's style: COS (no namespace), S3 (S3's
    /// declaration, `xmlns` on the root) or OSS (no namespace, S3-style
    /// declaration, as OSS sends it).
    pub fn for_family(root: &str, family: Family) -> Xml {
        match family {
            Family::Cos => Xml::new(root),
            Family::S3 => Xml(format!("{S3_DECL}<{root} xmlns=\"{S3_NS}\">")),
            Family::Oss => Xml(format!("{S3_DECL}<{root}>")),
        }
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

/// S3's `<Error>`: Code, Message, the extra context elements (e.g.
/// `StringToSign` on SignatureDoesNotMatch), Resource, RequestId, HostId
/// (s3.md §5–6).
pub fn error_body_s3(
    code: &str,
    message: &str,
    extra: &[(&str, String)],
    resource: &str,
    request_id: &str,
) -> String {
    let mut x = Xml(S3_DECL.to_string());
    x.open("Error");
    x.elem("Code", code).elem("Message", message);
    for (name, value) in extra {
        x.elem(name, value);
    }
    x.elem("Resource", resource)
        .elem("RequestId", request_id)
        .elem("HostId", request_id);
    x.finish("Error")
}

/// OSS's `<Error>`: Code, Message, RequestId, HostId, then the extra
/// context elements (`OSSAccessKeyId`, `StringToSign`, `EC`, …) (oss.md §4);
/// `host` is the endpoint the request named.
pub fn error_body_oss(
    code: &str,
    message: &str,
    extra: &[(&str, String)],
    host: &str,
    request_id: &str,
) -> String {
    let mut x = Xml(S3_DECL.to_string());
    x.open("Error");
    x.elem("Code", code)
        .elem("Message", message)
        .elem("RequestId", request_id)
        .elem("HostId", host);
    // The signature context is shared with S3's; OSS names the key its own
    // way and has no CanonicalRequest for V1.
    for (name, value) in extra.iter().filter(|(_, v)| !v.is_empty()) {
        let name = if *name == "AWSAccessKeyId" {
            "OSSAccessKeyId"
        } else {
            name
        };
        x.elem(name, value);
    }
    if let Some(ec) = oss_ec(code) {
        x.elem("EC", ec);
    }
    x.finish("Error")
}

/// OSS's fine-grained error id (`<EC>`, header `x-oss-ec`) for the codes
/// whose id is documented; others carry none.
pub fn oss_ec(code: &str) -> Option<&'static str> {
    match code {
        "SignatureDoesNotMatch" => Some("0002-00000040"),
        "NoSuchBucket" => Some("0015-00000101"),
        "NoSuchKey" => Some("0026-00000001"),
        _ => None,
    }
}

/// The owner shown in listings: the APPID's root account.
pub struct Owner<'a> {
    pub id: &'a str,
    pub display_name: &'a str,
}

/// GET Service. S3 lists `Name, CreationDate, BucketRegion` per bucket;
/// COS adds `Location` and `BucketType`.
/// GET Service paging: the request's marker and, when more follow, the
/// next one (COS lists them after `<Buckets>`).
pub struct ServicePage<'a> {
    pub marker: &'a str,
    pub next_marker: Option<&'a str>,
}

pub fn list_buckets(
    owner: &Owner<'_>,
    buckets: &[BucketRecord],
    family: Family,
    page: Option<&ServicePage<'_>>,
) -> String {
    let mut x = Xml::for_family("ListAllMyBucketsResult", family);
    x.open("Owner")
        .elem("ID", owner.id)
        .elem("DisplayName", owner.display_name)
        .close("Owner");
    x.open("Buckets");
    for b in buckets {
        if family == Family::S3 {
            x.open("Bucket")
                .elem("Name", &b.name)
                .elem("CreationDate", &iso8601(ms_to_time(b.created_ms)))
                .elem("BucketRegion", &b.region)
                .close("Bucket");
            continue;
        }
        if family == Family::Oss {
            // oss2 requires Location, ExtranetEndpoint, IntranetEndpoint and
            // StorageClass per bucket (oss.md §4).
            let region = &b.region;
            x.open("Bucket")
                .elem("Name", &b.name)
                .elem("Region", region)
                .elem("Location", &format!("oss-{region}"))
                .elem("CreationDate", &iso8601_oss(ms_to_time(b.created_ms)))
                .elem("ExtranetEndpoint", &format!("oss-{region}.aliyuncs.com"))
                .elem(
                    "IntranetEndpoint",
                    &format!("oss-{region}-internal.aliyuncs.com"),
                )
                .elem("StorageClass", "Standard")
                .close("Bucket");
            continue;
        }
        // COS: whole seconds (cos-python-sdk-v5's test parses
        // `%Y-%m-%dT%H:%M:%SZ`, cos-bucket.md §15.1).
        x.open("Bucket")
            .elem("Name", &b.name)
            .elem("Location", &b.region)
            .elem(
                "CreationDate",
                &humantime::format_rfc3339_seconds(ms_to_time(b.created_ms)).to_string(),
            )
            .elem("BucketType", "cos")
            .close("Bucket");
    }
    x.close("Buckets");
    if let Some(p) = page.filter(|_| family == Family::Cos) {
        x.elem("Marker", p.marker);
        if let Some(next) = p.next_marker {
            x.elem("NextMarker", next);
        }
        x.elem(
            "IsTruncated",
            if p.next_marker.is_some() {
                "true"
            } else {
                "false"
            },
        );
    }
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
    pub family: Family,
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
    let mut x = Xml::for_family("ListBucketResult", p.family);
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
        if p.family == Family::Oss {
            oss_contents(&mut x, &enc(key), rec, Some(owner));
            continue;
        }
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

/// ListObjectsV2 (`list-type=2`) input echoed in the result (s3.md §5).
pub struct ListV2Params<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub delimiter: &'a str,
    pub start_after: Option<&'a str>,
    pub continuation_token: Option<&'a str>,
    pub max_keys: usize,
    pub url_encode: bool,
    /// `fetch-owner=true`: each `Contents` carries its `Owner`.
    pub fetch_owner: bool,
    pub family: Family,
}

pub fn list_objects_v2(
    p: &ListV2Params<'_>,
    owner: &Owner<'_>,
    objects: &[(String, ObjectRecord)],
    common_prefixes: &[String],
    next_continuation_token: Option<&str>,
) -> String {
    let enc = |s: &str| {
        if p.url_encode {
            url_encode_key(s)
        } else {
            s.to_string()
        }
    };
    let mut x = Xml::for_family("ListBucketResult", p.family);
    x.elem("Name", p.bucket).elem("Prefix", &enc(p.prefix));
    if let Some(sa) = p.start_after {
        x.elem("StartAfter", &enc(sa));
    }
    if let Some(t) = p.continuation_token {
        x.elem("ContinuationToken", t);
    }
    if let Some(t) = next_continuation_token {
        x.elem("NextContinuationToken", t);
    }
    x.elem(
        "KeyCount",
        &(objects.len() + common_prefixes.len()).to_string(),
    )
    .elem("MaxKeys", &p.max_keys.to_string());
    if !p.delimiter.is_empty() {
        x.elem("Delimiter", &enc(p.delimiter));
    }
    x.elem(
        "IsTruncated",
        if next_continuation_token.is_some() {
            "true"
        } else {
            "false"
        },
    );
    if p.url_encode {
        x.elem("EncodingType", "url");
    }
    for (key, rec) in objects {
        if p.family == Family::Oss {
            oss_contents(&mut x, &enc(key), rec, p.fetch_owner.then_some(owner));
            continue;
        }
        x.open("Contents")
            .elem("Key", &enc(key))
            .elem("LastModified", &iso8601(rec.last_modified()))
            .elem("ETag", &format!("\"{}\"", rec.etag))
            .elem("Size", &rec.size.to_string());
        if p.fetch_owner {
            x.open("Owner")
                .elem("ID", owner.id)
                .elem("DisplayName", owner.display_name)
                .close("Owner");
        }
        x.elem("StorageClass", &rec.storage_class).close("Contents");
    }
    for cp in common_prefixes {
        x.open("CommonPrefixes")
            .elem("Prefix", &enc(cp))
            .close("CommonPrefixes");
    }
    x.finish("ListBucketResult")
}

/// One listed object as OSS writes it (oss.md §4): oss2 requires `Type`,
/// parses `LastModified` only as `…T…:…:….000Z` and reads OSS storage-class
/// names.
fn oss_contents(x: &mut Xml, key: &str, rec: &ObjectRecord, owner: Option<&Owner<'_>>) {
    let object_type = if rec.appendable {
        "Appendable"
    } else if rec.etag.contains('-') {
        "Multipart"
    } else {
        "Normal"
    };
    x.open("Contents")
        .elem("Key", key)
        .elem("LastModified", &iso8601_oss(rec.last_modified()))
        .elem("ETag", &format!("\"{}\"", rec.etag))
        .elem("Type", object_type)
        .elem("Size", &rec.size.to_string())
        .elem(
            "StorageClass",
            crate::dialect::oss_storage_class(&rec.storage_class),
        );
    if let Some(owner) = owner {
        x.open("Owner")
            .elem("ID", owner.id)
            .elem("DisplayName", owner.display_name)
            .close("Owner");
    }
    x.close("Contents");
}

/// OSS's timestamp: whole seconds, `.000Z` (what oss2's parser accepts).
pub fn iso8601_oss(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace('Z', ".000Z")
}

/// GET Bucket location: `<LocationConstraint>`; S3 answers an empty element
/// for us-east-1.
pub fn location(region: &str, family: Family) -> String {
    let mut x = Xml::for_family("LocationConstraint", family);
    if !(family == Family::S3 && region == "us-east-1") {
        x.0.push_str(&quick_xml::escape::partial_escape(region));
    }
    x.finish("LocationConstraint")
}

/// PUT Object - Copy result. COS adds `CRC64`; S3 has `LastModified, ETag`.
pub fn copy_result(rec: &ObjectRecord, family: Family) -> String {
    let mut x = Xml::for_family("CopyObjectResult", family);
    match family {
        Family::Cos => {
            x.elem("ETag", &format!("\"{}\"", rec.etag))
                .elem("LastModified", &iso8601(rec.last_modified()))
                .elem("CRC64", &rec.crc64.to_string());
            if let Some(v) = rec.version_id.as_deref().filter(|v| *v != "null") {
                x.elem("VersionId", v);
            }
        }
        Family::S3 | Family::Oss => {
            x.elem("LastModified", &iso8601(rec.last_modified()))
                .elem("ETag", &format!("\"{}\"", rec.etag));
        }
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

pub fn delete_result(outcomes: &[DeleteOutcome], quiet: bool, family: Family) -> String {
    let mut x = Xml::for_family("DeleteResult", family);
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
    /// S3's region (absent in us-east-1 requests, s3.md §5).
    #[serde(rename = "LocationConstraint", default)]
    pub location_constraint: Option<String>,
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
    fn error_bodies_per_family() {
        assert_eq!(
            error_body_s3(
                "NoSuchKey",
                "The specified key does not exist.",
                &[("StringToSign", "a\nb&".to_string())],
                "/b/k",
                "id1"
            ),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><StringToSign>a\nb&amp;</StringToSign><Resource>/b/k</Resource><RequestId>id1</RequestId><HostId>id1</HostId></Error>"
        );
        assert_eq!(
            error_body_oss("NoSuchKey", "m", &[], "b.oss-cn-hangzhou.aliyuncs.com", "id1"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>m</Message><RequestId>id1</RequestId><HostId>b.oss-cn-hangzhou.aliyuncs.com</HostId><EC>0026-00000001</EC></Error>"
        );
        // Codes without a documented EC carry none.
        assert!(!error_body_oss("AccessDenied", "m", &[], "h", "id1").contains("<EC>"));
    }

    #[test]
    fn s3_documents() {
        assert_eq!(
            location("us-east-1", Family::S3),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></LocationConstraint>"
        );
        assert_eq!(
            location("ap-guangzhou", Family::Cos),
            "<?xml version='1.0' encoding='utf-8' ?>\n<LocationConstraint>ap-guangzhou</LocationConstraint>"
        );
        let p = ListV2Params {
            bucket: "b",
            prefix: "a b/",
            delimiter: "/",
            start_after: Some("a b/0"),
            continuation_token: None,
            max_keys: 2,
            url_encode: true,
            fetch_owner: false,
            family: Family::S3,
        };
        let owner = Owner {
            id: "o",
            display_name: "d",
        };
        let cps = vec!["a b/c/".to_string(), "a b/d/".to_string()];
        assert_eq!(
            list_objects_v2(&p, &owner, &[], &cps, Some("tok")),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>a%20b/</Prefix><StartAfter>a%20b/0</StartAfter><NextContinuationToken>tok</NextContinuationToken><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><EncodingType>url</EncodingType><CommonPrefixes><Prefix>a%20b/c/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>a%20b/d/</Prefix></CommonPrefixes></ListBucketResult>"
        );
    }

    #[test]
    fn list_buckets_per_family() {
        let owner = Owner {
            id: "o",
            display_name: "d",
        };
        let b = BucketRecord {
            name: "photos".into(),
            region: "eu-central-1".into(),
            created_ms: 0,
            versioning: Default::default(),
            acl: None,
            configs: Default::default(),
            layout: Default::default(),
        };
        assert_eq!(
            list_buckets(&owner, std::slice::from_ref(&b), Family::S3, None),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>o</ID><DisplayName>d</DisplayName></Owner><Buckets><Bucket><Name>photos</Name><CreationDate>1970-01-01T00:00:00.000Z</CreationDate><BucketRegion>eu-central-1</BucketRegion></Bucket></Buckets></ListAllMyBucketsResult>"
        );
        assert!(list_buckets(&owner, &[b], Family::Cos, None).contains(
            "<Bucket><Name>photos</Name><Location>eu-central-1</Location><CreationDate>1970-01-01T00:00:00Z</CreationDate><BucketType>cos</BucketType></Bucket>"
        ));
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
