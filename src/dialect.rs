//! Speaking the request's protocol family (COS, S3, OSS) on top of one COS
//! core: spec s3.md §5 and oss.md §4.
//!
//! ```text
//! request  ─ Family::of(dialect, host) ─ translate_request  (x-amz-* / x-oss-* → x-cos-*)
//!          └─ route → op (COS vocabulary, family-aware XML where shapes differ)
//! response ─ translate_response (x-cos-* → x-amz-* / x-oss-*, request id, Server)
//! ```
//!
//! The stored metadata is shared: `x-amz-meta-foo` written through S3 reads
//! back as `x-cos-meta-foo` through COS and `x-oss-meta-foo` through OSS.
//! Header names are rewritten only *after* signature verification (the
//! signatures cover the names the client sent) and *before* routing (the
//! router and the ops only know `x-cos-*`).

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::auth::{Dialect, Family};
use crate::error::Error;
use crate::http::query::Query;
use crate::http::target::{has_appid_suffix, host_without_port};
use crate::http::traffic;

/// The family a request speaks. A signature says it; an anonymous request
/// has no signal but its Host: S3 endpoints (`s3.amazonaws.com`,
/// `<bucket>.s3.<region>.<base>`, `s3-<region>.…`) → S3, Alibaba endpoints
/// (`*.aliyuncs.com`, an `oss-<region>` label) → OSS, anything else → COS.
pub fn family_of(dialect: Dialect, host: &str) -> Family {
    match dialect {
        Dialect::Anonymous => family_of_host(host),
        d => d.family(),
    }
}

/// The family an anonymous request's Host suggests (see [`family_of`]).
pub fn family_of_host(host: &str) -> Family {
    let host = host_without_port(host);
    let labels: Vec<&str> = host.split('.').collect();
    // An endpoint label (`s3`, `s3-<region>`, `oss-<region>`) comes after the
    // bucket label, or first on a service host; a first label that is a COS
    // bucket name (`s3-logs-1250000000`) is never one.
    let endpoint = |i: usize, l: &str| i > 0 || (labels.len() > 1 && !has_appid_suffix(l));
    let any = |f: &dyn Fn(&str) -> bool| {
        labels
            .iter()
            .enumerate()
            .any(|(i, l)| f(l) && endpoint(i, l))
    };
    if host.ends_with(".aliyuncs.com") || any(&|l| l.starts_with("oss-") && l.len() > 4) {
        Family::Oss
    } else if host.ends_with("amazonaws.com")
        || any(&|l| l == "s3" || (l.starts_with("s3-") && l.len() > 3))
    {
        Family::S3
    } else {
        Family::Cos
    }
}

/// S3 request headers (suffix after `x-amz-`) that have a COS twin
/// (suffix after `x-cos-`). Prefixes end with `-` and match every header
/// that starts with them.
const S3_REQUEST: &[(&str, &str)] = &[
    ("meta-", "meta-"),
    ("copy-source", "copy-source"),
    ("copy-source-if-match", "copy-source-if-match"),
    ("copy-source-if-none-match", "copy-source-if-none-match"),
    (
        "copy-source-if-modified-since",
        "copy-source-if-modified-since",
    ),
    (
        "copy-source-if-unmodified-since",
        "copy-source-if-unmodified-since",
    ),
    ("copy-source-range", "copy-source-range"),
    (
        "copy-source-server-side-encryption-customer-",
        "copy-source-server-side-encryption-customer-",
    ),
    ("metadata-directive", "metadata-directive"),
    ("tagging-directive", "tagging-directive"),
    ("storage-class", "storage-class"),
    ("acl", "acl"),
    ("grant-", "grant-"),
    ("tagging", "tagging"),
    ("server-side-encryption", "server-side-encryption"),
    (
        "server-side-encryption-aws-kms-key-id",
        "server-side-encryption-cos-kms-key-id",
    ),
    (
        "server-side-encryption-context",
        "server-side-encryption-context",
    ),
    (
        "server-side-encryption-customer-",
        "server-side-encryption-customer-",
    ),
    ("website-redirect-location", "website-redirect-location"),
    ("object-lock-", "object-lock-"),
    ("bypass-governance-retention", "bypass-governance-retention"),
];

/// OSS request headers (after `x-oss-`) with a COS twin (after `x-cos-`).
const OSS_REQUEST: &[(&str, &str)] = &[
    ("meta-", "meta-"),
    ("traffic-limit", "traffic-limit"),
    ("copy-source", "copy-source"),
    ("copy-source-if-match", "copy-source-if-match"),
    ("copy-source-if-none-match", "copy-source-if-none-match"),
    (
        "copy-source-if-modified-since",
        "copy-source-if-modified-since",
    ),
    (
        "copy-source-if-unmodified-since",
        "copy-source-if-unmodified-since",
    ),
    ("copy-source-range", "copy-source-range"),
    ("metadata-directive", "metadata-directive"),
    ("tagging-directive", "tagging-directive"),
    ("forbid-overwrite", "forbid-overwrite"),
    ("storage-class", "storage-class"),
    ("object-acl", "acl"),
    ("acl", "acl"),
    ("tagging", "tagging"),
    ("server-side-encryption", "server-side-encryption"),
    (
        "server-side-encryption-key-id",
        "server-side-encryption-cos-kms-key-id",
    ),
    ("server-side-data-encryption", "server-side-data-encryption"),
];

/// COS response headers (after `x-cos-`) renamed for S3 (after `x-amz-`).
/// Others stay as they are: COS itself sends its `x-cos-*` extras (CRC-64,
/// object type) to S3 clients, which ignore them.
const S3_RESPONSE: &[(&str, &str)] = &[
    ("meta-", "meta-"),
    ("version-id", "version-id"),
    ("delete-marker", "delete-marker"),
    ("storage-class", "storage-class"),
    ("server-side-encryption", "server-side-encryption"),
    (
        "server-side-encryption-cos-kms-key-id",
        "server-side-encryption-aws-kms-key-id",
    ),
    (
        "server-side-encryption-context",
        "server-side-encryption-context",
    ),
    (
        "server-side-encryption-customer-",
        "server-side-encryption-customer-",
    ),
    ("copy-source-version-id", "copy-source-version-id"),
    ("expiration", "expiration"),
    ("restore", "restore"),
    ("tagging-count", "tagging-count"),
    ("website-redirect-location", "website-redirect-location"),
    ("object-lock-", "object-lock-"),
    ("replication-status", "replication-status"),
    ("bucket-region", "bucket-region"),
    ("mp-parts-count", "mp-parts-count"),
];

/// COS response headers (after `x-cos-`) renamed for OSS (after `x-oss-`).
const OSS_RESPONSE: &[(&str, &str)] = &[
    ("meta-", "meta-"),
    ("hash-crc64ecma", "hash-crc64ecma"),
    ("object-type", "object-type"),
    ("version-id", "version-id"),
    ("delete-marker", "delete-marker"),
    ("storage-class", "storage-class"),
    ("server-side-encryption", "server-side-encryption"),
    (
        "server-side-encryption-cos-kms-key-id",
        "server-side-encryption-key-id",
    ),
    ("expiration", "expiration"),
    ("restore", "restore"),
    ("tagging-count", "tagging-count"),
    ("bucket-region", "bucket-region"),
];

/// Looks `suffix` up in a rename table: an exact row, else the longest
/// prefix row (`meta-` …). Returns the new suffix.
fn rename(table: &[(&str, &str)], suffix: &str) -> Option<String> {
    if let Some((_, to)) = table
        .iter()
        .find(|(from, _)| !from.ends_with('-') && *from == suffix)
    {
        return Some((*to).to_string());
    }
    table
        .iter()
        .filter(|(from, _)| from.ends_with('-') && suffix.starts_with(from))
        .max_by_key(|(from, _)| from.len())
        .map(|(from, to)| format!("{to}{}", &suffix[from.len()..]))
}

/// S3 → COS header values where the vocabularies differ.
fn s3_value_to_cos(cos_suffix: &str, v: &HeaderValue) -> HeaderValue {
    match (cos_suffix, v.as_bytes()) {
        // S3 COPY | REPLACE, COS Copy | Replaced.
        ("metadata-directive" | "tagging-directive", b) if b.eq_ignore_ascii_case(b"REPLACE") => {
            HeaderValue::from_static("Replaced")
        }
        ("metadata-directive" | "tagging-directive", b) if b.eq_ignore_ascii_case(b"COPY") => {
            HeaderValue::from_static("Copy")
        }
        // S3's KMS is `aws:kms`, COS's `cos/kms`.
        ("server-side-encryption", b) if b.eq_ignore_ascii_case(b"aws:kms") => {
            HeaderValue::from_static("cos/kms")
        }
        // S3-only canned ACLs: with one account, the bucket owner owning the
        // object is COS's `private`.
        ("acl", b)
            if b.eq_ignore_ascii_case(b"bucket-owner-full-control")
                || b.eq_ignore_ascii_case(b"bucket-owner-read") =>
        {
            HeaderValue::from_static("private")
        }
        // S3 sends `bucket/key`; COS's parser reads a leading `/` as path style.
        ("copy-source", b) if !b.starts_with(b"/") => {
            let mut s = Vec::with_capacity(b.len() + 1);
            s.push(b'/');
            s.extend_from_slice(b);
            HeaderValue::from_bytes(&s).unwrap_or_else(|_| v.clone())
        }
        _ => v.clone(),
    }
}

/// OSS storage classes ↔ COS's.
const OSS_STORAGE_CLASSES: &[(&str, &str)] = &[
    ("Standard", "STANDARD"),
    ("IA", "STANDARD_IA"),
    ("Archive", "ARCHIVE"),
    ("ColdArchive", "DEEP_ARCHIVE"),
    ("DeepColdArchive", "DEEP_ARCHIVE"),
];

/// The OSS name of a COS storage class (`STANDARD` → `Standard`); an
/// unknown class is passed through.
pub fn oss_storage_class(cos: &str) -> &str {
    OSS_STORAGE_CLASSES
        .iter()
        .find(|(_, c)| *c == cos)
        .map_or(cos, |(oss, _)| oss)
}

fn oss_value_to_cos(cos_suffix: &str, v: &HeaderValue) -> HeaderValue {
    match cos_suffix {
        "metadata-directive" | "tagging-directive" => s3_value_to_cos(cos_suffix, v),
        "server-side-encryption" if v.as_bytes().eq_ignore_ascii_case(b"KMS") => {
            HeaderValue::from_static("cos/kms")
        }
        "storage-class" => OSS_STORAGE_CLASSES
            .iter()
            .find(|(oss, _)| oss.as_bytes().eq_ignore_ascii_case(v.as_bytes()))
            .map(|(_, cos)| HeaderValue::from_static(cos))
            .unwrap_or_else(|| v.clone()),
        _ => v.clone(),
    }
}

fn cos_value_to_oss(oss_suffix: &str, v: &HeaderValue) -> HeaderValue {
    match oss_suffix {
        "storage-class" => OSS_STORAGE_CLASSES
            .iter()
            .find(|(_, cos)| cos.as_bytes() == v.as_bytes())
            .map(|(oss, _)| HeaderValue::from_static(oss))
            .unwrap_or_else(|| v.clone()),
        "server-side-encryption" if v == "cos/kms" => HeaderValue::from_static("KMS"),
        "object-type" if v.as_bytes().eq_ignore_ascii_case(b"normal") => {
            HeaderValue::from_static("Normal")
        }
        "object-type" if v.as_bytes().eq_ignore_ascii_case(b"appendable") => {
            HeaderValue::from_static("Appendable")
        }
        "object-type" if v.as_bytes().eq_ignore_ascii_case(b"multipart") => {
            HeaderValue::from_static("Multipart")
        }
        _ => v.clone(),
    }
}

/// Request side: gives every S3/OSS header with a COS twin its `x-cos-*`
/// name (and COS value spelling), so routing and the ops see one
/// vocabulary. A COS request is left alone. Values are moved, never
/// duplicated: the original header is removed.
pub fn translate_request(family: Family, headers: &mut HeaderMap) {
    let (prefix, table, convert): (&str, _, fn(&str, &HeaderValue) -> HeaderValue) = match family {
        Family::Cos => return,
        Family::S3 => ("x-amz-", S3_REQUEST, s3_value_to_cos),
        Family::Oss => ("x-oss-", OSS_REQUEST, oss_value_to_cos),
    };
    let renames: Vec<(HeaderName, HeaderName, String)> = headers
        .keys()
        .filter_map(|name| {
            let suffix = name.as_str().strip_prefix(prefix)?;
            let to = rename(table, suffix)?;
            let new = HeaderName::from_bytes(format!("x-cos-{to}").as_bytes()).ok()?;
            Some((name.clone(), new, to))
        })
        .collect();
    for (old, new, cos_suffix) in renames {
        let values: Vec<HeaderValue> = headers.get_all(&old).iter().cloned().collect();
        headers.remove(&old);
        for v in values {
            headers.append(new.clone(), convert(&cos_suffix, &v));
        }
    }
}

/// Query side of [`translate_request`] for OSS: `x-oss-traffic-limit` (a
/// pre-signed URL carries it as a parameter) becomes `x-cos-traffic-limit`.
/// Other families' queries are returned as they are.
pub fn translate_query(family: Family, query: Query) -> Query {
    if family != Family::Oss || query.get("x-oss-traffic-limit").is_none() {
        return query;
    }
    Query::from_pairs(
        query
            .pairs()
            .iter()
            .map(|(k, v)| match k.as_str() {
                "x-oss-traffic-limit" => ("x-cos-traffic-limit".to_string(), v.clone()),
                _ => (k.clone(), v.clone()),
            })
            .collect(),
    )
}

/// OSS request checks: `x-oss-traffic-limit` (header or parameter) must be
/// digits within OSS's range, which is COS's (819200..=838860800 bit/s),
/// else 400 InvalidArgument (OSS EC 0004-00000502). It is checked under its
/// own name; once renamed, `http::traffic` paces the body as for COS.
pub fn check_oss_request(family: Family, headers: &HeaderMap, query: &Query) -> Result<(), Error> {
    if family != Family::Oss {
        return Ok(());
    }
    let header = headers
        .get("x-oss-traffic-limit")
        .map(|v| std::str::from_utf8(v.as_bytes()).unwrap_or("?"));
    for value in header.into_iter().chain(query.get("x-oss-traffic-limit")) {
        traffic::parse_limit(value, traffic::COS_RANGE, "x-oss-traffic-limit")?;
    }
    Ok(())
}

/// Response side: the common headers (request id, `Server`) and every
/// `x-cos-*` header renamed for the family (see the tables above).
pub fn translate_response(family: Family, headers: &mut HeaderMap, request_id: &str) {
    let id = HeaderValue::from_str(request_id).unwrap_or_else(|_| HeaderValue::from_static("-"));
    let (prefix, table, server): (&str, &[(&str, &str)], &str) = match family {
        Family::Cos => {
            headers.insert("x-cos-request-id", id);
            headers.insert("server", HeaderValue::from_static("tencent-cos"));
            return;
        }
        Family::S3 => {
            headers.insert("x-amz-request-id", id.clone());
            headers.insert("x-amz-id-2", id);
            ("x-amz-", S3_RESPONSE, "AmazonS3")
        }
        Family::Oss => {
            headers.insert("x-oss-request-id", id);
            ("x-oss-", OSS_RESPONSE, "AliyunOSS")
        }
    };
    headers.insert("server", HeaderValue::from_static(server));
    let renames: Vec<(HeaderName, HeaderName, String)> = headers
        .keys()
        .filter_map(|name| {
            let suffix = name.as_str().strip_prefix("x-cos-")?;
            let to = rename(table, suffix)?;
            let new = HeaderName::from_bytes(format!("{prefix}{to}").as_bytes()).ok()?;
            Some((name.clone(), new, to))
        })
        .collect();
    // OSS tells multipart objects apart (`x-oss-object-type: Multipart`);
    // COS calls them `normal`. Only they have a `-N` ETag.
    let multipart = headers
        .get(http::header::ETAG)
        .is_some_and(|e| e.as_bytes().contains(&b'-'));
    for (old, new, suffix) in renames {
        let values: Vec<HeaderValue> = headers.get_all(&old).iter().cloned().collect();
        headers.remove(&old);
        for v in values {
            let v = match family {
                Family::Oss if suffix == "object-type" && multipart && v == "normal" => {
                    HeaderValue::from_static("Multipart")
                }
                Family::Oss => cos_value_to_oss(&suffix, &v),
                Family::S3 if suffix == "server-side-encryption" && v == "cos/kms" => {
                    HeaderValue::from_static("aws:kms")
                }
                _ => v,
            };
            headers.append(new.clone(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn pairs(h: &HeaderMap) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = h
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        v.sort();
        v
    }

    fn owned(p: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = p
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn family_from_host() {
        for (host, want) in [
            ("s3.amazonaws.com", Family::S3),
            ("bucket.s3.us-east-1.amazonaws.com:443", Family::S3),
            ("bucket.s3-eu-west-1.amazonaws.com", Family::S3),
            ("bucket.s3.ap-guangzhou.localcos.test:9000", Family::S3),
            ("s3.localhost", Family::S3),
            ("bucket.oss-cn-hangzhou.aliyuncs.com", Family::Oss),
            ("bucket.oss-cn-hangzhou.localhost:9000", Family::Oss),
            (
                "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com",
                Family::Cos,
            ),
            ("127.0.0.1:9000", Family::Cos),
            ("localhost", Family::Cos),
            ("s3data-1250000000.cos.local", Family::Cos),
            // COS buckets whose names look like endpoint labels.
            (
                "s3-logs-1250000000.cos.ap-guangzhou.myqcloud.com",
                Family::Cos,
            ),
            (
                "oss-backup-1250000000.cos.ap-guangzhou.myqcloud.com",
                Family::Cos,
            ),
            ("s3-logs.s3.amazonaws.com", Family::S3),
            ("oss-cn-hangzhou.localhost", Family::Oss),
        ] {
            assert_eq!(family_of(Dialect::Anonymous, host), want, "{host}");
        }
        // A signature wins over the host.
        assert_eq!(
            family_of(Dialect::CosHeader, "b.s3.amazonaws.com"),
            Family::Cos
        );
        assert_eq!(family_of(Dialect::AwsV2Query, "127.0.0.1"), Family::S3);
        assert_eq!(family_of(Dialect::OssV1Header, "127.0.0.1"), Family::Oss);
    }

    #[test]
    fn s3_request_headers_become_cos() {
        let mut h = map(&[
            ("x-amz-meta-color", "blue"),
            ("x-amz-meta-camel-case", "Mixed Value"),
            (
                "x-amz-copy-source",
                "src-bucket/dir/a%20b.txt?versionId=null",
            ),
            ("x-amz-copy-source-if-match", "\"abc\""),
            ("x-amz-metadata-directive", "REPLACE"),
            ("x-amz-storage-class", "STANDARD_IA"),
            ("x-amz-acl", "public-read"),
            ("x-amz-tagging", "a=b"),
            ("x-amz-server-side-encryption", "aws:kms"),
            ("x-amz-server-side-encryption-aws-kms-key-id", "k1"),
            ("x-amz-server-side-encryption-customer-key-md5", "m"),
            // Signing and checksum headers are not COS's business: kept.
            ("x-amz-date", "20250115T123456Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("content-type", "text/plain"),
        ]);
        translate_request(Family::S3, &mut h);
        assert_eq!(
            pairs(&h),
            owned(&[
                ("x-cos-meta-color", "blue"),
                ("x-cos-meta-camel-case", "Mixed Value"),
                (
                    "x-cos-copy-source",
                    "/src-bucket/dir/a%20b.txt?versionId=null"
                ),
                ("x-cos-copy-source-if-match", "\"abc\""),
                ("x-cos-metadata-directive", "Replaced"),
                ("x-cos-storage-class", "STANDARD_IA"),
                ("x-cos-acl", "public-read"),
                ("x-cos-tagging", "a=b"),
                ("x-cos-server-side-encryption", "cos/kms"),
                ("x-cos-server-side-encryption-cos-kms-key-id", "k1"),
                ("x-cos-server-side-encryption-customer-key-md5", "m"),
                ("x-amz-date", "20250115T123456Z"),
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("x-amz-checksum-crc32", "AAAAAA=="),
                ("content-type", "text/plain"),
            ])
        );
        let mut h = map(&[
            ("x-amz-copy-source", "/b/k"),
            ("x-amz-metadata-directive", "COPY"),
            ("x-amz-acl", "bucket-owner-full-control"),
        ]);
        translate_request(Family::S3, &mut h);
        assert_eq!(
            pairs(&h),
            owned(&[
                ("x-cos-copy-source", "/b/k"),
                ("x-cos-metadata-directive", "Copy"),
                ("x-cos-acl", "private"),
            ])
        );
    }

    #[test]
    fn oss_request_headers_become_cos() {
        let mut h = map(&[
            ("x-oss-meta-color", "blue"),
            ("x-oss-copy-source", "/b/k"),
            ("x-oss-metadata-directive", "REPLACE"),
            ("x-oss-forbid-overwrite", "true"),
            ("x-oss-storage-class", "IA"),
            ("x-oss-object-acl", "private"),
            ("x-oss-date", "x"),
        ]);
        translate_request(Family::Oss, &mut h);
        assert_eq!(
            pairs(&h),
            owned(&[
                ("x-cos-meta-color", "blue"),
                ("x-cos-copy-source", "/b/k"),
                ("x-cos-metadata-directive", "Replaced"),
                ("x-cos-forbid-overwrite", "true"),
                ("x-cos-storage-class", "STANDARD_IA"),
                ("x-cos-acl", "private"),
                ("x-oss-date", "x"),
            ])
        );
    }

    #[test]
    fn oss_traffic_limit_is_checked_and_renamed() {
        let q = |s: &str| Query::parse(Some(s)).unwrap();
        for (header, query, ok) in [
            (None, "", true),
            (Some("819200"), "", true),
            (Some("838860800"), "", true),
            (Some("819199"), "", false),
            (Some("838860801"), "", false),
            (Some("abc"), "", false),
            (Some(""), "", false),
            (None, "x-oss-traffic-limit=1048576", true),
            (None, "x-oss-traffic-limit=1", false),
            (None, "x-oss-traffic-limit=", false),
        ] {
            let mut h = HeaderMap::new();
            if let Some(v) = header {
                h.insert("x-oss-traffic-limit", HeaderValue::from_static(v));
            }
            let got = check_oss_request(Family::Oss, &h, &q(query));
            assert_eq!(got.is_ok(), ok, "{header:?} {query}");
            if let Err(e) = got {
                assert_eq!(e.code, crate::error::ErrorCode::InvalidArgument);
            }
            // Other families never look at it.
            assert!(check_oss_request(Family::Cos, &h, &q(query)).is_ok());
        }
        let renamed = translate_query(Family::Oss, q("a=1&x-oss-traffic-limit=819200"));
        assert_eq!(renamed.get("x-cos-traffic-limit"), Some("819200"));
        assert_eq!(renamed.get("a"), Some("1"));
        assert_eq!(renamed.get("x-oss-traffic-limit"), None);
        let kept = translate_query(Family::S3, q("x-oss-traffic-limit=819200"));
        assert_eq!(kept.get("x-oss-traffic-limit"), Some("819200"));
        let mut h = map(&[("x-oss-traffic-limit", "819200")]);
        translate_request(Family::Oss, &mut h);
        assert_eq!(pairs(&h), owned(&[("x-cos-traffic-limit", "819200")]));
        assert_eq!(oss_storage_class("STANDARD_IA"), "IA");
        assert_eq!(oss_storage_class("STANDARD"), "Standard");
        assert_eq!(oss_storage_class("MAZ_STANDARD"), "MAZ_STANDARD");
    }

    #[test]
    fn cos_requests_are_untouched() {
        let before = map(&[("x-amz-meta-a", "1"), ("x-cos-meta-b", "2")]);
        let mut h = before.clone();
        translate_request(Family::Cos, &mut h);
        assert_eq!(h, before);
    }

    #[test]
    fn response_headers_per_family() {
        let cos = map(&[
            ("etag", "\"e\""),
            ("x-cos-meta-color", "blue"),
            ("x-cos-hash-crc64ecma", "123"),
            ("x-cos-object-type", "normal"),
            ("x-cos-storage-class", "STANDARD_IA"),
            ("x-cos-version-id", "v1"),
            ("x-cos-server-side-encryption", "cos/kms"),
            ("x-cos-server-side-encryption-cos-kms-key-id", "k"),
            ("x-cos-bucket-region", "ap-guangzhou"),
        ]);
        let mut s3 = cos.clone();
        translate_response(Family::S3, &mut s3, "rid");
        assert_eq!(
            pairs(&s3),
            owned(&[
                ("etag", "\"e\""),
                ("x-amz-meta-color", "blue"),
                ("x-cos-hash-crc64ecma", "123"),
                ("x-cos-object-type", "normal"),
                ("x-amz-storage-class", "STANDARD_IA"),
                ("x-amz-version-id", "v1"),
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-aws-kms-key-id", "k"),
                ("x-amz-bucket-region", "ap-guangzhou"),
                ("x-amz-request-id", "rid"),
                ("x-amz-id-2", "rid"),
                ("server", "AmazonS3"),
            ])
        );
        let mut oss = cos.clone();
        translate_response(Family::Oss, &mut oss, "rid");
        assert_eq!(
            pairs(&oss),
            owned(&[
                ("etag", "\"e\""),
                ("x-oss-meta-color", "blue"),
                ("x-oss-hash-crc64ecma", "123"),
                ("x-oss-object-type", "Normal"),
                ("x-oss-storage-class", "IA"),
                ("x-oss-version-id", "v1"),
                ("x-oss-server-side-encryption", "KMS"),
                ("x-oss-server-side-encryption-key-id", "k"),
                ("x-oss-bucket-region", "ap-guangzhou"),
                ("x-oss-request-id", "rid"),
                ("server", "AliyunOSS"),
            ])
        );
        // A multipart object (its ETag has a `-N`) is OSS's `Multipart`;
        // COS and S3 keep `normal`.
        for (etag, family, want) in [
            ("\"0123-3\"", Family::Oss, "Multipart"),
            ("\"0123\"", Family::Oss, "Normal"),
            ("\"0123-3\"", Family::Cos, "normal"),
            ("\"0123-3\"", Family::S3, "normal"),
        ] {
            let mut h = map(&[("etag", etag), ("x-cos-object-type", "normal")]);
            translate_response(family, &mut h, "rid");
            let name = match family {
                Family::Oss => "x-oss-object-type",
                _ => "x-cos-object-type",
            };
            assert_eq!(h[name], want, "{etag} {family:?}");
        }
        let mut h = map(&[("etag", "\"a-2\""), ("x-cos-object-type", "appendable")]);
        translate_response(Family::Oss, &mut h, "rid");
        assert_eq!(h["x-oss-object-type"], "Appendable");
        let mut c = cos.clone();
        translate_response(Family::Cos, &mut c, "rid");
        let mut want = pairs(&cos);
        want.push(("x-cos-request-id".into(), "rid".into()));
        want.push(("server".into(), "tencent-cos".into()));
        want.sort();
        assert_eq!(pairs(&c), want);
    }
}
