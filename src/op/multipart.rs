//! Multipart upload: Initiate (436/7746), Upload Part (436/7750), Upload
//! Part Copy (436/8287), Complete (436/7742), Abort (436/7740), List Parts
//! (436/7747) and List Multipart Uploads (436/7736); spec cos.md §3.3,
//! §6A.4 and §6A.5. Parts are stored as they arrive; Complete writes only
//! a manifest (see `storage/multipart.rs`).

use std::ops::Range;

use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::bucket::now_ms;
use super::copy::parse_copy_source;
use super::object::{checksum_headers, content_type_for, new_version_header};
use super::versioning::write_condition_for;
use super::{owner_id, sse, AppState, Req, Response};
use crate::acl::{Acl, AclKind};
use crate::auth::Family;
use crate::conditional::{evaluate_copy_source, Conditions, Decision, Validators};
use crate::error::{Error, ErrorCode, Result};
use crate::http::body::read_limited;
use crate::http::header;
use crate::http::query::Query;
use crate::http::target::{BucketName, ObjectKey};
use crate::http::traffic;
use crate::render::headers::{self as render, ResponseBuilder};
use crate::render::xml::{iso8601, iso8601_oss, url_encode_key, Xml};
use crate::storage::multipart::{
    CompletePart, MAX_LIST, MAX_PART_NUMBER, MIN_PART_NUMBER, MIN_PART_SIZE,
};
use crate::storage::sse::{managed_dek, unwrap_dek, Sealing, SseKind};
use crate::storage::{
    part_etag, ObjectRecord, PartOptions, PartRecord, UploadRecord, UploadsQuery, WriteCondition,
    NULL_VERSION,
};

/// Largest Complete body accepted: 10,000 parts with Go's extra children
/// are about 1.5 MB (spec §6A.5 asks for at least 2 MB).
const MAX_COMPLETE_BODY: usize = 4 << 20;

/// Initiate Multipart Upload: everything a PUT would store with the object
/// is taken now and carried to the object by Complete.
pub async fn initiate(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let h = &req.headers;
    let mut headers = header::object_headers(h)?;
    headers.content_type = content_type_for(headers.content_type.take(), key.as_str());
    let sealing = sse::sealing_for(state, bucket, h).await?;
    let forbid_overwrite =
        write_condition_for(state, bucket, h).await? == WriteCondition::IfNoneMatch;
    let template = ObjectRecord {
        size: 0,
        etag: String::new(),
        crc64: 0,
        last_modified_ms: 0,
        headers,
        storage_class: header::storage_class(h)?,
        segments: Vec::new(),
        restore: None,
        sse: sealing.map(|s| s.info),
        checksum: None,
        version_id: None,
        delete_marker: false,
        acl: Acl::from_headers(h, AclKind::Object)?,
        tags: super::tagging::from_header(h)?.unwrap_or_default(),
        appendable: false,
        retain_until_ms: None,
        symlink_target: None,
        replication_status: None,
        corrupt: None,
    };
    let up = state
        .store
        .create_upload_with(
            bucket.as_str(),
            key.as_str(),
            template,
            forbid_overwrite,
            Some(min_part_size(req.family)).filter(|&m| m != MIN_PART_SIZE),
        )
        .await?;
    let mut x = Xml::for_family("InitiateMultipartUploadResult", req.family);
    x.elem("Bucket", bucket.as_str())
        .elem("Key", key.as_str())
        .elem("UploadId", &up.upload_id);
    let rb = render::sse(ResponseBuilder::new(StatusCode::OK), &up.template);
    Ok(rb.xml(x.finish("InitiateMultipartUploadResult")))
}

/// The smallest part other than the last that Complete accepts, as each
/// family's service has it: COS 1 MiB, S3 5 MiB, OSS 100 KiB (oss2 and
/// ali-oss allow parts that small). Fixed at Initiate, so the rule an upload
/// started under holds for all of it.
pub fn min_part_size(family: Family) -> u64 {
    match family {
        Family::Cos => MIN_PART_SIZE,
        Family::S3 => 5 << 20,
        Family::Oss => 100 << 10,
    }
}

/// `partNumber`: an integer in 1..=10000 (400 InvalidArgument otherwise).
fn part_number(q: &Query) -> Result<u32> {
    q.get("partNumber")
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| (MIN_PART_NUMBER..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            Error::with_message(
                ErrorCode::InvalidArgument,
                "partNumber must be an integer between 1 and 10000.",
            )
        })
}

fn upload_id(q: &Query) -> Result<&str> {
    q.get("uploadId").filter(|v| !v.is_empty()).ok_or_else(|| {
        Error::with_message(ErrorCode::InvalidArgument, "uploadId must not be empty.")
    })
}

/// The data key a part is sealed with: the upload's (SSE-C: unwrapped with
/// the customer key, which every Upload Part must send again).
fn part_sealing(state: &AppState, h: &HeaderMap, up: &UploadRecord) -> Result<Option<Sealing>> {
    let Some(info) = &up.template.sse else {
        return Ok(None);
    };
    let dek = match info.kind {
        SseKind::Customer => {
            let key = sse::read_access(h, sse::CUSTOMER, &up.template)?.ok_or_else(|| {
                Error::with_message(
                    ErrorCode::SsecDecryptHeaderInvalid,
                    "The upload is encrypted with a customer-provided key: send it with every part.",
                )
            })?;
            unwrap_dek(info, &key).map_err(sse::key_error)?
        }
        _ => managed_dek(state.store.sse_keys(), info).map_err(sse::key_error)?,
    };
    Ok(Some(Sealing {
        dek,
        info: info.clone(),
    }))
}

/// The headers every part answer carries: ETag, the part's CRC-64 and the
/// upload's SSE.
fn part_response(part: &PartRecord, up: &UploadRecord) -> ResponseBuilder {
    render::sse(
        ResponseBuilder::new(StatusCode::OK)
            .header("etag", part_etag(part))
            .header("x-cos-hash-crc64ecma", part.crc64.to_string()),
        &up.template,
    )
}

/// Upload Part: streamed into a blob of its own, durable when answered.
pub async fn upload_part(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let h = &req.headers;
    let number = part_number(&req.query)?;
    let upload_id = upload_id(&req.query)?;
    let content_length = header::content_length(h)?;
    if content_length.is_none() && !header::is_chunked(h) {
        return Err(Error::new(ErrorCode::MissingContentLength));
    }
    let content_md5 = header::content_md5(h)?;
    let sha1 = super::object::expected_sha1(h)?;
    let up = state
        .store
        .upload(bucket.as_str(), key.as_str(), upload_id)
        .await?;
    let sealing = part_sealing(state, h, &up)?;
    let mut body = match traffic::cos_limit(h, &req.query)? {
        Some(limit) => traffic::pace(req.body, limit),
        None => req.body,
    };
    if let Some(sha1) = sha1 {
        body = super::object::verify_sha1(body, sha1, content_length);
    }
    let part = state
        .store
        .upload_part(
            bucket.as_str(),
            key.as_str(),
            upload_id,
            number,
            body,
            PartOptions {
                content_md5,
                content_length,
                sse: sealing,
                checksum: req.checksum.clone(),
            },
        )
        .await?;
    Ok(
        checksum_headers(part_response(&part, &up), part.checksum.as_ref())
            .content_length(0)
            .empty(),
    )
}

/// `x-cos-copy-source-range: bytes=first-last` against a source of `size`
/// bytes; absent or empty = the whole object (Python sends it empty).
/// # Behavior
/// - Malformed, `first > last`, or `first` beyond the source → 400
///   InvalidArgument; `last` beyond the end is clamped (spec §6A.4).
pub fn copy_source_range(value: Option<&str>, size: u64) -> Result<Range<u64>> {
    let invalid = || {
        Error::with_message(
            ErrorCode::InvalidArgument,
            "x-cos-copy-source-range must be bytes=first-last within the source object.",
        )
    };
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(0..size);
    };
    let (first, last) = v
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(invalid)?;
    let first: u64 = first.trim().parse().map_err(|_| invalid())?;
    let last: u64 = last.trim().parse().map_err(|_| invalid())?;
    if first > last || first >= size {
        return Err(invalid());
    }
    Ok(first..last.saturating_add(1).min(size))
}

/// Upload Part Copy: a range of an existing object becomes a part.
pub async fn upload_part_copy(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let h = &req.headers;
    let number = part_number(&req.query)?;
    let upload_id = upload_id(&req.query)?;
    let a = &state.config.addressing;
    let mut src = parse_copy_source(
        header::get(h, header::X_COS_COPY_SOURCE).unwrap_or(""),
        &a.appid,
        &a.region,
        req.family,
    )?;
    src.bucket = super::resolve_bucket(state, req.family, src.bucket).await?;
    let up = state
        .store
        .upload(bucket.as_str(), key.as_str(), upload_id)
        .await?;
    let sealing = part_sealing(state, h, &up)?;
    let src_version = src.version_id.as_deref().filter(|v| !v.is_empty());
    let mut reader = state
        .store
        .open_version(src.bucket.as_str(), src.key.as_str(), src_version)
        .await
        .map_err(|e| super::copy::copy_source_error(e.into(), src_version.is_some()))?;
    let rec = reader.record.clone();
    let customer_key = sse::read_access(h, sse::COPY_SOURCE_CUSTOMER, &rec)?;
    let v = Validators {
        etag: &rec.etag,
        last_modified: rec.last_modified(),
    };
    if !matches!(
        evaluate_copy_source(&Conditions::from_copy_source_headers(h), &v),
        Decision::Proceed
    ) {
        return Err(Error::new(ErrorCode::PreconditionFailed));
    }
    crate::archive::check_readable(&rec, now_ms())?;
    let range = copy_source_range(header::get(h, "x-cos-copy-source-range"), rec.size)?;
    sse::unlock(&mut reader, customer_key.as_ref())?;
    let part = state
        .store
        .upload_part_copy(
            bucket.as_str(),
            key.as_str(),
            upload_id,
            number,
            reader,
            range,
            sealing,
        )
        .await?;
    let mut x = Xml::for_family("CopyPartResult", req.family);
    match req.family {
        Family::Cos => {
            x.elem("ETag", &part_etag(&part))
                .elem("LastModified", &iso8601(part_time(&part)))
                .elem("CRC64", &part.crc64.to_string());
        }
        Family::S3 | Family::Oss => {
            x.elem("LastModified", &xml_time(part_time(&part), req.family))
                .elem("ETag", &part_etag(&part));
        }
    }
    let rb = part_response(&part, &up).header_opt("x-cos-copy-source-version-id", src_version);
    Ok(rb.xml(x.finish("CopyPartResult")))
}

/// A timestamp in a listing: ISO 8601 with milliseconds; OSS always shows
/// `.000Z` (oss2 parses nothing else).
fn xml_time(t: std::time::SystemTime, family: Family) -> String {
    match family {
        Family::Oss => iso8601_oss(t),
        Family::Cos | Family::S3 => iso8601(t),
    }
}

/// A storage class as the family names it (OSS: `Standard`, `IA`, …).
fn storage_class(cos: &str, family: Family) -> &str {
    match family {
        Family::Oss => crate::dialect::oss_storage_class(cos),
        Family::Cos | Family::S3 => cos,
    }
}

fn part_time(part: &PartRecord) -> std::time::SystemTime {
    std::time::SystemTime::UNIX_EPOCH
        + std::time::Duration::from_millis(part.last_modified_ms.max(0) as u64)
}

/// The Complete body: `<Part>`s in any child order; unknown children (Go's
/// `<Size>`, S3's `<ChecksumCRC32>`) are ignored.
#[derive(Debug, Deserialize)]
struct CompleteDoc {
    #[serde(rename = "Part", default)]
    parts: Vec<CompleteDocPart>,
}

#[derive(Debug, Deserialize)]
struct CompleteDocPart {
    #[serde(rename = "PartNumber")]
    part_number: String,
    #[serde(rename = "ETag")]
    etag: String,
}

/// Parses a Complete body into its part list.
/// # Behavior
/// - Not well-formed, a root other than `CompleteMultipartUpload`, or a
///   `<Part>` without an integer `PartNumber` or an `ETag` → 400 MalformedXML.
fn parse_complete(body: &[u8]) -> Result<Vec<CompletePart>> {
    let malformed = || Error::new(ErrorCode::MalformedXML);
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    if root_name(text) != Some("CompleteMultipartUpload") {
        return Err(malformed());
    }
    let doc: CompleteDoc = quick_xml::de::from_str(text).map_err(|_| malformed())?;
    doc.parts
        .into_iter()
        .map(|p| {
            Ok(CompletePart {
                part_number: p.part_number.trim().parse().map_err(|_| malformed())?,
                etag: p.etag,
            })
        })
        .collect()
}

/// The root element's name, skipping the declaration, comments and whitespace.
fn root_name(text: &str) -> Option<&str> {
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                let name = e.name();
                let start = name.as_ref().as_ptr() as usize - text.as_ptr() as usize;
                return text.get(start..start + name.as_ref().len());
            }
            quick_xml::events::Event::Eof => return None,
            _ => {}
        }
    }
}

/// Complete Multipart Upload.
pub async fn complete(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let upload_id = upload_id(&req.query)?.to_string();
    // S3 conditional writes (If-None-Match: *, If-Match) on Complete.
    let cond = write_condition_for(state, bucket, &req.headers).await?;
    let body = read_limited(req.body, MAX_COMPLETE_BODY)
        .await
        .map_err(|e| match e {
            None => Error::with_message(
                ErrorCode::EntityTooLarge,
                "The Complete Multipart Upload body is too large.",
            ),
            Some(e) => Error::from(e),
        })?;
    let listed = parse_complete(&body)?;
    let rec = state
        .store
        .complete_upload(bucket.as_str(), key.as_str(), &upload_id, listed, cond)
        .await?;
    let a = &state.config.addressing;
    let location = match req.family {
        Family::Cos => format!(
            "http://{}.cos.{}.myqcloud.com/{}",
            bucket.as_str(),
            a.region,
            url_encode_key(key.as_str())
        ),
        _ => format!("/{}/{}", bucket.as_str(), url_encode_key(key.as_str())),
    };
    let mut x = Xml::for_family("CompleteMultipartUploadResult", req.family);
    x.elem("Location", &location)
        .elem("Bucket", bucket.as_str())
        .elem("Key", key.as_str())
        .elem("ETag", &format!("\"{}\"", rec.etag));
    let mut rb =
        ResponseBuilder::new(StatusCode::OK).header("x-cos-hash-crc64ecma", rec.crc64.to_string());
    if req.family == Family::Oss {
        // OSS also answers the ETag as a header: oss2's result reads it there.
        rb = rb.header("etag", format!("\"{}\"", rec.etag));
    }
    let rb = render::sse(rb, &rec);
    // Under suspended versioning COS's Complete answers `x-cos-version-id:
    // null`, where PUT sends none (cos.md §6A.2, DOC 436/7742).
    let rb = match (rec.version_id.as_deref(), req.family) {
        (Some(NULL_VERSION), Family::Cos) => rb.header("x-cos-version-id", NULL_VERSION),
        _ => new_version_header(rb, &rec),
    };
    Ok(rb.xml(x.finish("CompleteMultipartUploadResult")))
}

/// Abort Multipart Upload: 204; the parts' space is freed.
pub async fn abort(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let upload_id = upload_id(&req.query)?;
    state
        .store
        .abort_upload(bucket.as_str(), key.as_str(), upload_id)
        .await?;
    Ok(ResponseBuilder::new(StatusCode::NO_CONTENT).empty())
}

/// `max-parts` / `max-uploads`: 0..=1000 (larger values are capped), default 1000.
fn max_param(q: &Query, name: &str) -> Result<usize> {
    match q.get(name).filter(|v| !v.is_empty()) {
        None => Ok(MAX_LIST),
        Some(v) => v.parse::<usize>().map(|n| n.min(MAX_LIST)).map_err(|_| {
            Error::with_message(
                ErrorCode::InvalidArgument,
                format!("{name} must be an integer between 0 and 1000."),
            )
        }),
    }
}

/// A key (or prefix, marker) as listed: URL-encoded with `encoding-type=url`.
fn maybe_encode(url_encode: bool, s: &str) -> String {
    if url_encode {
        url_encode_key(s)
    } else {
        s.to_string()
    }
}

fn initiator(x: &mut Xml, tag: &str, id: &str) {
    x.open(tag)
        .elem("ID", id)
        .elem("DisplayName", id)
        .close(tag);
}

/// List Parts.
pub async fn list_parts(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let q = &req.query;
    let upload_id = upload_id(q)?;
    let max_parts = max_param(q, "max-parts")?;
    let url_encode = super::list::encoding_type(q)?;
    let marker: u32 = match q.get("part-number-marker").filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => v.parse().map_err(|_| {
            Error::with_message(
                ErrorCode::InvalidArgument,
                "part-number-marker must be an integer.",
            )
        })?,
    };
    let page = state
        .store
        .list_parts(bucket.as_str(), key.as_str(), upload_id, marker, max_parts)
        .await?;
    let enc = |s: &str| maybe_encode(url_encode, s);
    let owner = owner_id(state);
    let mut x = Xml::for_family("ListPartsResult", req.family);
    x.elem("Bucket", bucket.as_str());
    if url_encode {
        x.elem("Encoding-type", "url");
    }
    x.elem("Key", &enc(key.as_str()))
        .elem("UploadId", upload_id);
    initiator(&mut x, "Initiator", &owner);
    initiator(&mut x, "Owner", &owner);
    x.elem(
        "StorageClass",
        storage_class(&page.upload.template.storage_class, req.family),
    )
    .elem("PartNumberMarker", &marker.to_string())
    .elem(
        "NextPartNumberMarker",
        &page
            .parts
            .last()
            .map_or(marker, |p| p.part_number)
            .to_string(),
    )
    .elem("MaxParts", &max_parts.to_string())
    .elem(
        "IsTruncated",
        if page.is_truncated { "true" } else { "false" },
    );
    for p in &page.parts {
        x.open("Part")
            .elem("PartNumber", &p.part_number.to_string())
            .elem("LastModified", &xml_time(part_time(p), req.family))
            .elem("ETag", &part_etag(p))
            .elem("Size", &p.size.to_string());
        if let Some(c) = &p.checksum {
            x.elem(checksum_element(c), &c.value);
        }
        x.close("Part");
    }
    Ok(ResponseBuilder::new(StatusCode::OK).xml(x.finish("ListPartsResult")))
}

/// `ChecksumCRC32` … for a part's stored flexible checksum (S3 ListParts).
fn checksum_element(c: &crate::http::checksum::Checksum) -> &'static str {
    use crate::http::checksum::ChecksumAlgorithm as A;
    match c.algorithm {
        A::Crc32 => "ChecksumCRC32",
        A::Crc32c => "ChecksumCRC32C",
        A::Crc64Nvme => "ChecksumCRC64NVME",
        A::Sha1 => "ChecksumSHA1",
        A::Sha256 => "ChecksumSHA256",
    }
}

/// List Multipart Uploads (bucket level).
pub async fn list_uploads(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    let q = &req.query;
    let url_encode = super::list::encoding_type(q)?;
    let query = UploadsQuery {
        prefix: q.get("prefix").unwrap_or("").to_string(),
        delimiter: q.get("delimiter").unwrap_or("").to_string(),
        key_marker: q.get("key-marker").unwrap_or("").to_string(),
        upload_id_marker: q
            .get("upload-id-marker")
            .filter(|v| !v.is_empty())
            .map(str::to_string),
        max_uploads: max_param(q, "max-uploads")?,
    };
    let page = state.store.list_uploads(bucket.as_str(), &query).await?;
    let enc = |s: &str| maybe_encode(url_encode, s);
    let owner = owner_id(state);
    let mut x = Xml::for_family("ListMultipartUploadsResult", req.family);
    x.elem("Bucket", bucket.as_str());
    if url_encode {
        // COS spells it `Encoding-Type`; S3 and OSS `EncodingType` (oss2
        // decodes the keys only when it sees that one).
        let name = match req.family {
            Family::Cos => "Encoding-Type",
            Family::S3 | Family::Oss => "EncodingType",
        };
        x.elem(name, "url");
    }
    x.elem("KeyMarker", &enc(&query.key_marker))
        .elem(
            "UploadIdMarker",
            query.upload_id_marker.as_deref().unwrap_or(""),
        )
        .elem(
            "NextKeyMarker",
            &enc(page.next_key_marker.as_deref().unwrap_or("")),
        )
        .elem(
            "NextUploadIdMarker",
            page.next_upload_id_marker.as_deref().unwrap_or(""),
        );
    if !query.delimiter.is_empty() {
        x.elem("Delimiter", &enc(&query.delimiter));
    }
    x.elem("Prefix", &enc(&query.prefix))
        .elem("MaxUploads", &query.max_uploads.to_string())
        .elem(
            "IsTruncated",
            if page.is_truncated { "true" } else { "false" },
        );
    for up in &page.uploads {
        x.open("Upload")
            .elem("Key", &enc(&up.key))
            .elem("UploadId", &up.upload_id)
            .elem(
                "StorageClass",
                storage_class(&up.template.storage_class, req.family),
            );
        initiator(&mut x, "Initiator", &owner);
        initiator(&mut x, "Owner", &owner);
        x.elem("Initiated", &xml_time(initiated(up), req.family))
            .close("Upload");
    }
    for cp in &page.common_prefixes {
        x.open("CommonPrefixes")
            .elem("Prefix", &enc(cp))
            .close("CommonPrefixes");
    }
    Ok(ResponseBuilder::new(StatusCode::OK).xml(x.finish("ListMultipartUploadsResult")))
}

fn initiated(up: &UploadRecord) -> std::time::SystemTime {
    std::time::SystemTime::UNIX_EPOCH
        + std::time::Duration::from_millis(up.initiated_ms.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_range_table() {
        let ok = |v: Option<&str>, size| copy_source_range(v, size).ok();
        assert_eq!(ok(None, 10), Some(0..10));
        assert_eq!(ok(Some(""), 10), Some(0..10));
        assert_eq!(ok(Some("bytes=0-4"), 10), Some(0..5));
        assert_eq!(ok(Some("bytes=5-100"), 10), Some(5..10));
        assert_eq!(ok(Some("bytes=9-9"), 10), Some(9..10));
        for bad in [
            "bytes=10-11",
            "bytes=4-3",
            "bytes=-3",
            "bytes=1-",
            "0-1",
            "bytes=a-b",
        ] {
            assert!(ok(Some(bad), 10).is_none(), "{bad}");
        }
    }

    #[test]
    fn complete_body_forms() {
        // Go: ETag first, extra children; Node: quoted ETags; S3 checksums.
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Part><ETag>"aa"</ETag><PartNumber>1</PartNumber><Size>5</Size></Part>
  <Part><PartNumber> 2 </PartNumber><ChecksumCRC32>x==</ChecksumCRC32><ETag>&quot;bb&quot;</ETag></Part>
</CompleteMultipartUpload>"#;
        let parts = parse_complete(body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].part_number, parts[0].etag.as_str()),
            (1, "\"aa\"")
        );
        assert_eq!(
            (parts[1].part_number, parts[1].etag.as_str()),
            (2, "\"bb\"")
        );
        assert!(
            parse_complete(b"<CompleteMultipartUpload></CompleteMultipartUpload>")
                .unwrap()
                .is_empty()
        );
        for bad in [
            &b"<Other><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Other>"[..],
            b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>",
            b"not xml",
        ] {
            assert_eq!(
                parse_complete(bad).unwrap_err().code,
                ErrorCode::MalformedXML
            );
        }
    }
}
