//! PUT, GET, HEAD and DELETE Object:
//! https://cloud.tencent.com/document/product/436/7749 (PUT),
//! /7753 (GET), /7745 (HEAD), /7743 (DELETE).

use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::bucket::now_ms;
use super::versioning::version_param;
use super::{sse, AppState, Req, Response};
use crate::acl::{Acl, AclKind};
use crate::archive;
use crate::conditional::range::{content_range, unsatisfied_content_range};
use crate::conditional::{evaluate, Conditions, Decision, IfRange, RangeHeader, Validators};
use crate::error::{Error, ErrorCode, Result};
use crate::http::body::Body;
use crate::http::header;
use crate::http::query::Query;
use crate::http::sendfile;
use crate::http::target::{BucketName, ObjectKey};
use crate::http::traffic;
use crate::render::headers::{self as render, ResponseBuilder};
use crate::storage::{
    ByteStream, ObjectRecord, PutOptions, StorageError, WriteCondition, NULL_VERSION,
};

/// Bodies at least this large go out with sendfile when they can; smaller
/// ones are one positioned read, cheaper than a second system call.
const ZERO_COPY_MIN: u64 = 64 * 1024;

/// The write condition a request asks for: `x-cos-forbid-overwrite: true` or
/// `If-None-Match: *` (fail if the key exists), `If-Match: "<etag>"`.
pub fn write_condition(h: &HeaderMap) -> WriteCondition {
    if header::flag(h, header::X_COS_FORBID_OVERWRITE)
        || header::get(h, "if-none-match") == Some("*")
    {
        WriteCondition::IfNoneMatch
    } else if let Some(etag) = header::get(h, "if-match") {
        WriteCondition::IfMatch(etag.trim_matches('"').to_string())
    } else {
        WriteCondition::None
    }
}

/// Content-Type to store: the request's, else inferred from the key's
/// extension (cos-nodejs-sdk-v5 relies on this, §6A.2).
pub fn content_type_for(given: Option<String>, key: &str) -> Option<String> {
    given.or_else(|| {
        Some(
            mime_guess::from_path(key)
                .first_or_octet_stream()
                .essence_str()
                .to_string(),
        )
    })
}

pub async fn put(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    let h = &req.headers;
    // Step 1: the body must have a known framing (§6A.2: chunked is fine).
    let content_length = header::content_length(h)?;
    if content_length.is_none() && !header::is_chunked(h) {
        return Err(Error::new(ErrorCode::MissingContentLength));
    }
    let max = state.config.max_object_size;
    if content_length.is_some_and(|n| n > max) {
        return Err(Error::new(ErrorCode::EntityTooLarge));
    }
    // Step 2: validate every header before reading a byte of the body.
    let content_md5 = header::content_md5(h)?;
    let sha1 = expected_sha1(h)?;
    let mut headers = header::object_headers(h)?;
    headers.content_type = content_type_for(headers.content_type.take(), key.as_str());
    let opts = PutOptions {
        headers,
        storage_class: header::storage_class(h)?,
        content_md5,
        content_length,
        max_size: max,
        condition: super::versioning::write_condition_for(state, bucket, h).await?,
        checksum: req.checksum.clone(),
        acl: Acl::from_headers(h, AclKind::Object)?,
        tags: super::tagging::from_header(h)?.unwrap_or_default(),
        sse: sse::sealing_for(state, bucket, h).await?,
        symlink_target: None,
    };
    let mut body = match traffic::cos_limit(h, &req.query)? {
        Some(limit) => traffic::pace(req.body, limit),
        None => req.body,
    };
    if let Some(sha1) = sha1 {
        body = verify_sha1(body, sha1, content_length);
    }
    // Step 3: stream, hash, commit atomically.
    let rec = state
        .store
        .put_object(bucket.as_str(), key.as_str(), body, opts)
        .await?;
    // S3 clients check the verified checksum echoed back (boto3 does).
    let rb = checksum_headers(
        render::validators(ResponseBuilder::new(StatusCode::OK), &rec),
        rec.checksum.as_ref(),
    );
    let rb = crate::bucket_config::lifecycle::expiration_header(
        state,
        bucket.as_str(),
        key.as_str(),
        &rec,
        rb,
    )
    .await;
    Ok(new_version_header(render::sse(rb, &rec), &rec)
        .content_length(0)
        .empty())
}

/// `x-cos-content-sha1`: the SHA-1 the body must have, as 40 hex digits
/// (400 InvalidSHA1Digest when not).
pub fn expected_sha1(h: &HeaderMap) -> Result<Option<[u8; 20]>> {
    let Some(v) = header::get(h, "x-cos-content-sha1").filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let mut out = [0u8; 20];
    hex::decode_to_slice(v.trim(), &mut out).map_err(|_| {
        Error::with_message(
            ErrorCode::InvalidSHA1Digest,
            "x-cos-content-sha1 must be 40 hexadecimal digits.",
        )
    })?;
    Ok(Some(out))
}

/// Passes `body` through, hashing it with SHA-1. Where the body ends (its
/// end, or the chunk that completes `content_length`: the store stops
/// reading there) a digest other than `expected` replaces the last chunk
/// with a `BadSha1` error, so nothing is stored.
pub fn verify_sha1(
    body: ByteStream,
    expected: [u8; 20],
    content_length: Option<u64>,
) -> ByteStream {
    use futures_util::StreamExt;
    use sha1::{Digest, Sha1};
    struct St {
        body: ByteStream,
        hasher: Option<Sha1>,
        seen: u64,
    }
    let check = move |h: Sha1| -> Result<(), StorageError> {
        let digest: [u8; 20] = h.finalize().into();
        if digest == expected {
            Ok(())
        } else {
            Err(StorageError::BadSha1)
        }
    };
    let st = St {
        body,
        hasher: Some(Sha1::new()),
        seen: 0,
    };
    Box::pin(futures_util::stream::unfold(st, move |mut st| async move {
        let mut h = st.hasher.take()?;
        match st.body.next().await {
            Some(Ok(mut chunk)) => {
                let room = content_length.map_or(u64::MAX, |n| n - st.seen.min(n));
                if chunk.len() as u64 > room {
                    chunk.truncate(room as usize);
                }
                h.update(&chunk);
                st.seen += chunk.len() as u64;
                if content_length.is_some_and(|n| st.seen >= n) {
                    // The last chunk the store will read.
                    return Some((check(h).map(|()| chunk), st));
                }
                st.hasher = Some(h);
                Some((Ok(chunk), st))
            }
            Some(Err(e)) => Some((Err(e), st)),
            None => match check(h) {
                Ok(()) => None,
                Err(e) => Some((Err(e), st)),
            },
        }
    }))
}

/// `x-amz-checksum-<algo>` + `x-amz-checksum-type: FULL_OBJECT` for a stored
/// flexible checksum (PUT responses, full GET/HEAD with checksum mode).
pub fn checksum_headers(
    mut rb: ResponseBuilder,
    checksum: Option<&crate::http::checksum::Checksum>,
) -> ResponseBuilder {
    if let Some(c) = checksum {
        if let Ok(v) = HeaderValue::from_str(&c.value) {
            rb.headers_mut().insert(c.algorithm.header_name(), v);
            rb.headers_mut().insert(
                "x-amz-checksum-type",
                HeaderValue::from_static("FULL_OBJECT"),
            );
        }
    }
    rb
}

/// `x-cos-version-id` of a write: the new version's id when the bucket has
/// versioning enabled; none when suspended (`null`, spec cos.md §6A.2) or
/// never versioned.
pub fn new_version_header(rb: ResponseBuilder, rec: &ObjectRecord) -> ResponseBuilder {
    match rec.version_id.as_deref() {
        Some(id) if id != NULL_VERSION => rb.header("x-cos-version-id", id),
        _ => rb,
    }
}

/// GET and HEAD (spec cos.md §4.4): lookup (a missing key may redirect to
/// the bucket's origin) → archive state → conditionals → Range →
/// response-* overrides; a traffic limit paces the body. Conditions are evaluated on the record of the
/// object that was opened, and the bytes come from that same opened object.
pub async fn get(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    get_with(state, bucket, key, req, true).await
}

/// [`get`] of what is stored, never back-to-origin (a mirrored object
/// served from its new copy).
pub(super) async fn get_local(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    get_with(state, bucket, key, req, false).await
}

async fn get_with(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
    origin: bool,
) -> Result<Response> {
    let is_head = req.method == Method::HEAD;
    // Traffic limit (§6A.9): a bad value fails before anything is looked up.
    let traffic_limit = traffic::cos_limit(&req.headers, &req.query)?;
    let settings = state.config.bucket_settings.get(bucket.as_str());
    // Original image protection (bucket_settings.rs), an access rule: first.
    if let (Some(s), false) = (settings, is_head) {
        s.check_original_image(key.as_str(), &req.query, req.identity.is_some())?;
    }
    // Step 1: lookup of the latest or the named version (HEAD needs no blob
    // handles); a delete marker answers 404 with its headers.
    let version = version_param(&req.query);
    let lookup = async {
        if is_head {
            let rec = state
                .store
                .head_version(bucket.as_str(), key.as_str(), version)
                .await?;
            Ok::<_, Error>((rec, None))
        } else {
            let reader = state
                .store
                .open_version(bucket.as_str(), key.as_str(), version)
                .await?;
            Ok((reader.record.clone(), Some(reader)))
        }
    };
    let (rec, reader) = match lookup.await {
        Ok(found) => found,
        // A named version that is missing is not a missing key.
        // A missing key may come from the bucket's origin (op/origin_pull.rs).
        Err(e) if version.is_none() && origin => {
            return super::origin_pull::on_missing(state, bucket, key, req, e).await
        }
        Err(e) => return Err(e),
    };
    // A symlink serves its target (one hop, spec cos-bucket.md §15.3).
    let (rec, reader) = match rec.symlink_target.as_deref() {
        Some(target) => super::symlink::follow(state, bucket, target, is_head).await?,
        None => (rec, reader),
    };
    // Step 2: archive state. HEAD still answers (with the restore headers).
    let now = now_ms();
    if !is_head {
        archive::check_readable(&rec, now)?;
    }

    // Step 3: SSE-C headers; an encrypted object's data key must be at hand.
    let customer_key = sse::read_access(&req.headers, sse::CUSTOMER, &rec)?;
    let reader = match reader {
        Some(mut r) => {
            sse::unlock(&mut r, customer_key.as_ref())?;
            Some(r)
        }
        None => None,
    };

    // Step 4: conditionals, RFC 9110 order.
    let validators = Validators {
        etag: &rec.etag,
        last_modified: rec.last_modified(),
    };
    let conds = Conditions::from_headers(&req.headers);
    if !conds.is_empty() {
        match evaluate(&req.method, &conds, &validators) {
            Decision::Proceed => {}
            Decision::NotModified => {
                let rb = render::validators(ResponseBuilder::new(StatusCode::NOT_MODIFIED), &rec)
                    .header(
                        "content-type",
                        rec.headers
                            .content_type
                            .as_deref()
                            .unwrap_or("application/octet-stream"),
                    );
                return Ok(rb.content_length(0).body(Body::ZeroLength));
            }
            Decision::PreconditionFailed => return Err(Error::new(ErrorCode::PreconditionFailed)),
        }
    }

    // Step 5: a single byte range; anything else is ignored (200). An
    // If-Range that does not match the object also means the whole object.
    let size = rec.size;
    let if_range_holds =
        IfRange::from_headers(&req.headers).is_none_or(|ir| ir.matches(&validators));
    let range = match RangeHeader::from_headers(&req.headers).and_then(RangeHeader::single) {
        Some(r) if if_range_holds => match r.resolve(size) {
            Ok(range) => Some(range),
            Err(_) => {
                let value = HeaderValue::from_str(&unsatisfied_content_range(size)).expect("ascii");
                return Err(Error::new(ErrorCode::InvalidRange).header("content-range", value));
            }
        },
        _ => None,
    };

    let (status, body_range) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.clone()),
        None => (StatusCode::OK, 0..size),
    };
    let mut rb = render::object(ResponseBuilder::new(status), &rec);
    rb = super::tagging::count_header(rb, &rec.tags);
    // HEAD of an object scrub marked corrupt answers (GET refused it earlier).
    if rec.corrupt.is_some() {
        rb = rb.header("x-localcos-integrity", "corrupt");
    }
    if let Some(r) = &range {
        rb = rb.header("content-range", content_range(r, size));
    } else if header::get(&req.headers, "x-amz-checksum-mode")
        .is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"))
    {
        // The full-object checksum describes only the whole body: never on a range.
        rb = checksum_headers(rb, rec.checksum.as_ref());
    }
    for (name, value) in archive::response_headers(&rec, now) {
        rb = rb.header(name, value);
    }
    // A pending lifecycle expiration of the current object (NOTES 11).
    if version.is_none() {
        rb = crate::bucket_config::lifecycle::expiration_header(
            state,
            bucket.as_str(),
            key.as_str(),
            &rec,
            rb,
        )
        .await;
    }
    // Step 6: response-* overrides (signed requests only: `authz` refuses
    // anonymous ones).
    rb = apply_overrides(rb, &req.query);
    let len = body_range.end - body_range.start;
    let rb = rb.content_length(len);
    let Some(reader) = reader.filter(|_| len > 0) else {
        return Ok(rb.empty());
    };
    // Large bodies of local blobs on plain HTTP/1: sendfile, no copy
    // (unless paced: the pacer needs the bytes in user space).
    let zero_copy = match &req.sendfile {
        Some(queue) if len >= ZERO_COPY_MIN && traffic_limit.is_none() => reader
            .file_regions(body_range.clone())
            .map(|r| sendfile::body(queue.clone(), r)),
        _ => None,
    };
    // The first piece is read before the response starts when decrypting,
    // and from a remote blob store (S3), whose first GET may fail: a clean
    // error (503 when the store is down) rather than a 200 cut short.
    let check_first = rec.sse.is_some() || !reader.is_local();
    let mut stream = zero_copy.unwrap_or_else(|| reader.stream(body_range));
    if check_first {
        stream = sse::check_first_piece(stream).await?;
    }
    if let Some(limit) = traffic_limit {
        stream = traffic::pace(stream, limit);
    }
    Ok(rb.body(Body::Stream { stream, len }))
}

/// `response-<header>` query parameters replace the stored header.
fn apply_overrides(mut rb: ResponseBuilder, q: &Query) -> ResponseBuilder {
    const OVERRIDES: &[(&str, &str)] = &[
        ("response-content-type", "content-type"),
        ("response-content-language", "content-language"),
        ("response-expires", "expires"),
        ("response-cache-control", "cache-control"),
        ("response-content-disposition", "content-disposition"),
        ("response-content-encoding", "content-encoding"),
    ];
    for (param, name) in OVERRIDES {
        if let Some(v) = q.get(param).filter(|v| !v.is_empty()) {
            if let Ok(v) = HeaderValue::from_str(v) {
                rb.headers_mut().insert(*name, v);
            }
        }
    }
    rb
}

pub async fn delete(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
) -> Result<Response> {
    // Versioned buckets (spec cos.md §6): no versionId writes a delete
    // marker; a versionId removes that version for good.
    let version = version_param(&req.query);
    let done = state
        .store
        .delete_version(bucket.as_str(), key.as_str(), version)
        .await?;
    let rb = ResponseBuilder::new(StatusCode::NO_CONTENT);
    let rb = match (&done.marker, &done.removed, version) {
        (Some(marker), _, _) => deleted_headers(rb, marker),
        (None, Some(removed), Some(_)) => deleted_headers(rb, removed),
        // Nothing removed: fine for a key (or `null`) that is absent,
        // NoSuchVersion for any other id.
        (None, None, Some(v)) if v != NULL_VERSION => {
            return Err(Error::new(ErrorCode::NoSuchVersion))
        }
        _ => rb,
    };
    Ok(rb.empty())
}

/// The headers of a DELETE that wrote or removed `rec`: its version id
/// (none for a plain record) and `x-cos-delete-marker: true` for a marker.
fn deleted_headers(mut rb: ResponseBuilder, rec: &ObjectRecord) -> ResponseBuilder {
    if rec.delete_marker {
        rb = rb.header("x-cos-delete-marker", "true");
    }
    rb.header_opt("x-cos-version-id", rec.version_id.as_deref())
}

/// For copy: the headers a `Replaced` directive takes from the request.
pub fn replaced_headers(h: &HeaderMap, key: &ObjectKey) -> Result<crate::storage::ObjectHeaders> {
    let mut headers = header::object_headers(h)?;
    headers.content_type = content_type_for(headers.content_type.take(), key.as_str());
    Ok(headers)
}

/// A record for a copy destination: same bytes, new time.
pub fn copied_record(src: &ObjectRecord, now_ms: i64) -> ObjectRecord {
    ObjectRecord {
        last_modified_ms: now_ms,
        // A restored copy belongs to the source, not to the new object.
        restore: None,
        // A copy is a normal object (spec cos.md §6A.3).
        appendable: false,
        replication_status: None,
        corrupt: None,
        ..src.clone()
    }
}
