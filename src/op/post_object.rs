//! POST Object: browser form upload (spec cos.md §1.9, §6A.6; s3.md §1.4).
//!
//! The pipeline has read the form's fields before `file` (`http::form`) and
//! hands the file part over as the request body. The signature lives in the
//! form, not in headers, so this handler verifies it (`auth::post_form`),
//! checks the policy (`post_policy`), then applies the same authorization as
//! every request (`authz::check`) with the identity it found: a form without
//! signature fields is anonymous and succeeds only on public-read-write
//! buckets. The file streams into `Store::put_object`; a
//! `content-length-range` is enforced while it streams, before anything commits.

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::object::{checksum_headers, content_type_for, new_version_header};
use super::post_policy::Policy;
use super::{sse, AppState, Req, Response};
use crate::acl::{Acl, AclKind};
use crate::auth::post_form::{self, FormDialect};
use crate::auth::{AuthOptions, Family};
use crate::authz;
use crate::error::{Error, ErrorCode, Result};
use crate::http::form::{self, PostForm};
use crate::http::header;
use crate::http::target::{BucketName, ObjectKey};
use crate::http::traffic;
use crate::render::headers::{self as render, ResponseBuilder};
use crate::route::Operation;
use crate::storage::{ByteStream, PutOptions, StorageError};

/// Path characters kept as they are in a `Location` URL (RFC 3986 unreserved and `/`).
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// A refused upload's file is read up to this many bytes before answering,
/// so that browsers receive the error (a larger one gets the connection closed).
const DRAIN_ON_ERROR: u64 = 16 * 1024 * 1024;

/// One form upload; a refused one still reads (a bounded part of) its file.
pub async fn post(state: &AppState, bucket: &BucketName, mut req: Req) -> Result<Response> {
    let mut body = Some(std::mem::replace(
        &mut req.body,
        Box::pin(futures_util::stream::empty()),
    ));
    let result = upload(state, bucket, req, &mut body).await;
    if result.is_err() {
        if let Some(mut body) = body {
            form::drain(&mut body, DRAIN_ON_ERROR).await;
        }
    }
    result
}

/// The steps of one form upload, in order: key → signature → policy →
/// authorization → headers → stream and commit → answer. `body` (the file)
/// is taken only when it starts streaming into the store.
async fn upload(
    state: &AppState,
    bucket: &BucketName,
    req: Req,
    body: &mut Option<ByteStream>,
) -> Result<Response> {
    let Some(form) = req.form else {
        return Err(form::malformed());
    };
    let family = req.family;
    let now = crate::config::now();
    let get = |n: &str| form.get(n);

    // Step 1: the key, `${filename}` replaced by the file part's name.
    let key_field = get("key").ok_or_else(|| {
        Error::with_message(
            ErrorCode::InvalidArgument,
            "Bucket POST must contain a field named 'key'.",
        )
    })?;
    let key_text = key_field.replace("${filename}", &form.filename);
    let key = ObjectKey::parse(&key_text)?;

    // Step 2: who is calling. A header-signed POST keeps its identity;
    // otherwise the form's own signature, if it has one.
    let dialect = FormDialect::detect(get);
    let identity = match (req.identity, dialect) {
        (Some(id), _) => Some(id),
        (None, Some(d)) => {
            let opts = AuthOptions {
                leeway: state.config.auth_leeway,
                strict_region: state
                    .config
                    .auth_strict_region
                    .then(|| state.config.addressing.region.clone()),
            };
            Some(post_form::verify(
                d,
                get,
                &*state.keys.current().await,
                now,
                &opts,
            )?)
        }
        (None, None) => None,
    };

    // Step 3: the policy, on the substituted key and the addressed bucket.
    // COS policies name the key time `q-sign-time` (§1.9); the field is `q-key-time`.
    let range = match get("policy") {
        Some(p) => {
            let value = |n: &str| match n.to_ascii_lowercase().as_str() {
                "bucket" => Some(bucket.as_str()),
                "key" => Some(key_text.as_str()),
                "q-sign-time" => get("q-sign-time").or_else(|| get("q-key-time")),
                _ => get(n),
            };
            let names: Vec<&str> = form.fields.iter().map(|(n, _)| n.as_str()).collect();
            Policy::parse(p)?.check(now, family, value, &names)?
        }
        None => None,
    };

    // Step 4: authorization with that identity (the pipeline left it to us).
    let h = form_headers(&form, family)?;
    let keys = state.keys.current().await;
    let scope = identity.as_ref().map(|i| keys.scope(&i.secret_id));
    let caller = authz::Caller {
        key: identity
            .as_ref()
            .zip(scope.as_ref())
            .map(|(i, s)| (i.secret_id.as_str(), s)),
        peer: req.peer,
    };
    authz::check_keyed(
        state,
        &caller,
        &Operation::PostObject(bucket.clone()),
        Some(&key),
        &req.query,
        // The request's own headers: hotlink protection reads its Referer.
        &req.headers,
        family,
    )
    .await?;

    // A missing bucket is refused before the file is read (the store would
    // otherwise refuse only after taking the stream).
    if state.store.bucket(bucket.as_str()).await?.is_none() {
        return Err(Error::new(ErrorCode::NoSuchBucket));
    }

    // Step 5: the object's headers, validated before a byte of the file is read.
    let mut headers = header::object_headers(&h)?;
    headers.content_type = content_type_for(headers.content_type.take(), key.as_str());
    let opts = PutOptions {
        headers,
        storage_class: header::storage_class(&h)?,
        content_md5: header::content_md5(&h)?,
        content_length: None,
        max_size: state.config.max_object_size,
        condition: super::versioning::write_condition_for(state, bucket, &h).await?,
        checksum: req.checksum.clone(),
        acl: Acl::from_headers(&h, AclKind::Object)?,
        tags: super::tagging::from_header(&h)?.unwrap_or_default(),
        sse: sse::sealing_for(state, bucket, &h).await?,
        symlink_target: None,
    };

    // Step 6: stream the file; a size outside the range fails before commit.
    let failure = Failure::default();
    let (min, max) = range.unwrap_or((0, u64::MAX));
    let file = body
        .take()
        .unwrap_or_else(|| Box::pin(futures_util::stream::empty()));
    let body = check_length(file, min, max, failure.clone());
    let body = match traffic::cos_limit(&h, &req.query)? {
        Some(limit) => traffic::pace(body, limit),
        None => body,
    };
    let rec = match state
        .store
        .put_object(bucket.as_str(), key.as_str(), body, opts)
        .await
    {
        Ok(rec) => rec,
        Err(e) => {
            if let Some(e) = failure.take() {
                return Err(e);
            }
            if form.malformed() {
                return Err(form::malformed());
            }
            return Err(e.into());
        }
    };

    // Step 7: the answer: a redirect, or 204 / 200 / 201 (§6A.6).
    let etag = render::quoted_etag(&rec.etag);
    let encoded_key = utf8_percent_encode(key.as_str(), PATH).to_string();
    let location = match family {
        Family::Cos => format!(
            "http://{}.cos.{}.myqcloud.com/{encoded_key}",
            bucket.as_str(),
            state.config.addressing.region
        ),
        _ => format!(
            "http://{}/{}/{encoded_key}",
            header::get(&req.headers, "host").unwrap_or("localhost"),
            bucket.as_str()
        ),
    };
    let rb = |status| {
        let rb = render::validators(ResponseBuilder::new(status), &rec);
        new_version_header(
            checksum_headers(render::sse(rb, &rec), rec.checksum.as_ref()),
            &rec,
        )
    };
    let redirect = get("success_action_redirect")
        .or_else(|| get("redirect"))
        .filter(|u| !u.is_empty());
    if let Some(url) = redirect {
        let q = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let sep = if url.contains('?') { '&' } else { '?' };
        let target = format!(
            "{url}{sep}bucket={}&key={}&etag={}",
            q(bucket.as_str()),
            q(key.as_str()),
            q(&etag)
        );
        let value = HeaderValue::from_str(&target).map_err(|_| {
            Error::with_message(
                ErrorCode::InvalidArgument,
                "success_action_redirect is not a valid URL.",
            )
        })?;
        return Ok(rb(StatusCode::SEE_OTHER)
            .header_value("location", value)
            .content_length(0)
            .empty());
    }
    let location_value = HeaderValue::from_str(&location).map_err(|_| form::malformed())?;
    match get("success_action_status").map(str::trim) {
        Some("200") => Ok(rb(StatusCode::OK)
            .header_value("location", location_value)
            .content_length(0)
            .empty()),
        Some("201") => Ok(rb(StatusCode::CREATED)
            .header_value("location", location_value)
            .xml(post_response(
                &location,
                bucket.as_str(),
                key.as_str(),
                &etag,
            ))),
        _ => Ok(rb(StatusCode::NO_CONTENT)
            .header_value("location", location_value)
            .empty()),
    }
}

/// The 201 body (S3's `PostResponse`; COS documents none, §7).
fn post_response(location: &str, bucket: &str, key: &str, etag: &str) -> String {
    let x = |s: &str| quick_xml::escape::escape(s).into_owned();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
        x(location),
        x(bucket),
        x(key),
        x(etag)
    )
}

/// Form fields that become object headers: the standard ones, `acl`, and
/// every `x-cos-*` / `x-amz-*` / `x-oss-*` field except the signature's own;
/// then the family's names become COS's, as for headers.
fn form_headers(form: &PostForm, family: Family) -> Result<HeaderMap> {
    const STANDARD: &[&str] = &[
        "cache-control",
        "content-disposition",
        "content-encoding",
        "content-md5",
        "content-type",
        "expires",
    ];
    const SIGNATURE: &[&str] = &[
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-signature",
        "x-amz-security-token",
        "x-cos-security-token",
        "x-oss-security-token",
    ];
    let mut h = HeaderMap::new();
    for (name, value) in &form.fields {
        let lower = name.to_ascii_lowercase();
        let name = match lower.as_str() {
            "acl" => match family {
                Family::Cos => "x-cos-acl".to_string(),
                Family::S3 => "x-amz-acl".to_string(),
                Family::Oss => "x-oss-object-acl".to_string(),
            },
            n if STANDARD.contains(&n) => lower,
            n if SIGNATURE.contains(&n) || n.starts_with("x-oss-signature") => continue,
            n if n.starts_with("x-cos-") || n.starts_with("x-amz-") || n.starts_with("x-oss-") => {
                lower
            }
            _ => continue,
        };
        let bad = || {
            Error::with_message(
                ErrorCode::InvalidArgument,
                format!("The form field {name} has an invalid value."),
            )
        };
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let header_value = HeaderValue::from_str(value).map_err(|_| bad())?;
        h.append(header_name, header_value);
    }
    crate::dialect::translate_request(family, &mut h);
    Ok(h)
}

/// The error a length check recorded (the store only sees the stream fail).
#[derive(Clone, Default)]
struct Failure(Arc<Mutex<Option<Error>>>);

impl Failure {
    fn set(&self, e: Error) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(e);
        }
    }
    fn take(&self) -> Option<Error> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Passes the file through, failing the stream once more than `max` bytes
/// arrived or when it ends below `min` (policy `content-length-range`:
/// EntityTooLarge / EntityTooSmall), so nothing is committed.
fn check_length(body: ByteStream, min: u64, max: u64, failure: Failure) -> ByteStream {
    Box::pin(futures_util::stream::unfold(
        (body, 0u64, false),
        move |(mut body, seen, done)| {
            let failure = failure.clone();
            async move {
                if done {
                    return None;
                }
                match body.next().await {
                    Some(Ok(chunk)) => {
                        let seen = seen + chunk.len() as u64;
                        if seen > max {
                            form::drain(&mut body, DRAIN_ON_ERROR).await;
                            failure.set(Error::with_message(
                                ErrorCode::EntityTooLarge,
                                format!("Your proposed upload exceeds the maximum allowed size of {max} bytes (policy content-length-range)."),
                            ));
                            return Some((Err(StorageError::TooLarge), (body, seen, true)));
                        }
                        Some((Ok(chunk), (body, seen, false)))
                    }
                    Some(Err(e)) => Some((Err(e), (body, seen, true))),
                    None if seen < min => {
                        failure.set(Error::with_message(
                            ErrorCode::EntityTooSmall,
                            format!("Your proposed upload is smaller than the minimum allowed size of {min} bytes (policy content-length-range)."),
                        ));
                        Some((
                            Err(StorageError::Client("below content-length-range".into())),
                            (body, seen, true),
                        ))
                    }
                    None => None,
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Credential, KeyStore, SecretKey};
    use bytes::Bytes;
    use std::time::Duration;

    fn stream(chunks: &[&'static [u8]]) -> ByteStream {
        let v: Vec<std::result::Result<Bytes, StorageError>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        Box::pin(futures_util::stream::iter(v))
    }

    async fn drain(mut s: ByteStream) -> std::result::Result<usize, StorageError> {
        let mut n = 0;
        while let Some(c) = s.next().await {
            n += c?.len();
        }
        Ok(n)
    }

    #[tokio::test]
    async fn length_range_table() {
        for (chunks, min, max, want) in [
            (&[b"abc".as_slice(), b"de"][..], 0, 5, None),
            (&[b"abc".as_slice(), b"de"][..], 5, 5, None),
            (
                &[b"abc".as_slice(), b"def"][..],
                0,
                5,
                Some(ErrorCode::EntityTooLarge),
            ),
            (
                &[b"abc".as_slice()][..],
                4,
                10,
                Some(ErrorCode::EntityTooSmall),
            ),
            (&[][..], 1, 10, Some(ErrorCode::EntityTooSmall)),
            (&[][..], 0, 0, None),
        ] {
            let failure = Failure::default();
            let got = drain(check_length(stream(chunks), min, max, failure.clone())).await;
            assert_eq!(got.is_err(), want.is_some(), "{min}..{max}");
            assert_eq!(failure.take().map(|e| e.code), want, "{min}..{max}");
        }
    }

    #[test]
    fn fields_become_headers_in_the_family_vocabulary() {
        let form = |pairs: &[(&str, &str)]| {
            PostForm::new(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                "f".into(),
            )
        };
        let f = form(&[
            ("key", "k"),
            ("Content-Type", "text/plain"),
            ("acl", "public-read"),
            ("x-cos-meta-a", "1"),
            ("x-cos-security-token", "t"),
            ("q-signature", "s"),
            ("success_action_status", "201"),
            ("other", "x"),
        ]);
        let h = form_headers(&f, Family::Cos).unwrap();
        let mut names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, ["content-type", "x-cos-acl", "x-cos-meta-a"]);
        let f = form(&[
            ("acl", "private"),
            ("x-amz-meta-b", "2"),
            ("x-amz-signature", "s"),
        ]);
        let h = form_headers(&f, Family::S3).unwrap();
        assert_eq!(header::get(&h, "x-cos-acl"), Some("private"));
        assert_eq!(header::get(&h, "x-cos-meta-b"), Some("2"));
        assert!(header::get(&h, "x-amz-signature").is_none());
        let f = form(&[("x-cos-meta-a", "bad\nvalue")]);
        assert_eq!(
            form_headers(&f, Family::Cos).unwrap_err().code,
            ErrorCode::InvalidArgument
        );
    }

    /// The captured boto3 `generate_presigned_post` upload
    /// (tests/fixtures/s3/boto3-presigned-post.json, `sigv4-post-policy`):
    /// its form parses, its SigV4 signature verifies and its policy holds at
    /// capture time; one changed byte of the signature or policy fails.
    #[tokio::test]
    async fn captured_sigv4_post_policy_verifies() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/s3/boto3-presigned-post.json"
        ))
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["auth"], "sigv4-post-policy");
        let inputs = &v["inputs"];
        let keys = KeyStore::new([Credential {
            secret_id: inputs["access_key_id"].as_str().unwrap().into(),
            secret_key: SecretKey::new(inputs["secret_access_key"].as_str().unwrap()),
            token: None,
            expires: None,
        }]);
        let now = crate::auth::aws_v4::parse_amz_date(inputs["time"].as_str().unwrap()).unwrap();
        let r = &v["requests"][0];
        let ct = r["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0] == "Content-Type")
            .unwrap()[1]
            .as_str()
            .unwrap();
        let mut hm = HeaderMap::new();
        hm.insert("content-type", ct.parse().unwrap());
        let boundary = form::boundary(&hm).unwrap();
        let body = Bytes::from(r["body"]["data"].as_str().unwrap().to_string());
        let (f, file) =
            form::read_head(&boundary, Box::pin(futures_util::stream::iter([Ok(body)])))
                .await
                .unwrap();
        assert_eq!(drain(file).await.unwrap(), b"form body\n".len());
        let get = |n: &str| f.get(n);
        let dialect = FormDialect::detect(get).unwrap();
        assert_eq!(dialect.family(), Family::S3);
        let opts = AuthOptions::default();
        let id = post_form::verify(dialect, get, &keys, now, &opts).unwrap();
        assert_eq!(id.secret_id, "AKIAIOSFODNN7EXAMPLE");
        let key = f.get("key").unwrap().replace("${filename}", &f.filename);
        assert_eq!(key, "uploads/a.txt");
        let value = |n: &str| match n {
            "bucket" => Some("examplebucket"),
            "key" => Some(key.as_str()),
            _ => f.get(n),
        };
        let names: Vec<&str> = f.fields.iter().map(|(n, _)| n.as_str()).collect();
        let policy = Policy::parse(f.get("policy").unwrap()).unwrap();
        assert_eq!(policy.check(now, Family::S3, value, &names).unwrap(), None);
        // Expired an hour later (ExpiresIn 3600).
        let later = now + Duration::from_secs(3601);
        assert!(policy.check(later, Family::S3, value, &names).is_err());
        // Mutations.
        let mut fields = f.fields.clone();
        let sig = fields
            .iter_mut()
            .find(|(n, _)| n == "x-amz-signature")
            .unwrap();
        sig.1.replace_range(0..1, "f");
        let m = PostForm::new(fields, "a.txt".into());
        assert_eq!(
            post_form::verify(dialect, |n| m.get(n), &keys, now, &opts).unwrap_err(),
            crate::auth::AuthError::SignatureMismatch
        );
        let mut fields = f.fields.clone();
        let p = fields.iter_mut().find(|(n, _)| n == "policy").unwrap();
        p.1.replace_range(0..1, "f");
        let m = PostForm::new(fields, "a.txt".into());
        assert!(post_form::verify(dialect, |n| m.get(n), &keys, now, &opts).is_err());
    }
}
