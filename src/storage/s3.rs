//! `S3Blobs`: blobs as objects of any S3-compatible server (`--blob-store
//! s3://BUCKET/PREFIX --blob-endpoint URL`): AWS S3, Ceph RGW, SeaweedFS,
//! MinIO, COS itself. Built on the `object_store` crate.
//!
//! ```text
//! s3://BUCKET/PREFIX  →  object  PREFIX/<id>   (one object per blob, never rewritten)
//! ```
//!
//! - Writes stream: a blob shorter than `PART_SIZE` is one PUT of the
//!   buffered bytes; a longer one becomes a multipart upload of `PART_SIZE`
//!   parts with at most `PARTS_IN_FLIGHT` uploading at once, so a writer holds
//!   a few parts at most, whatever the blob's size. Hashes are computed on the
//!   way; the server's PUT or Complete answer is the commit (S3 acknowledges
//!   only durable objects).
//! - `open` asks the length (HEAD; lengths of opened blobs are cached, since
//!   blobs never change) and `read(range)` streams ranged GETs of at most
//!   `READ_CHUNK` bytes, one after the other (the next one sent while the
//!   current body streams), so no request outlives the client timeout and
//!   memory stays at the HTTP client's buffers.
//! - Unlike a local file, an opened blob does not survive its deletion: a
//!   cluster deletes replaced blobs only after `--gc-grace-seconds`.
//! - A writer dropped before `finish` aborts its multipart upload; a crash
//!   leaves an incomplete upload behind, which the bucket's lifecycle rule
//!   (AbortIncompleteMultipartUpload) should clean up.
//!
//! Credentials come from the standard environment variables
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`),
//! the region from `AWS_REGION` / `AWS_DEFAULT_REGION` (default `us-east-1`).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};

use crate::storage::hash::BodyHasher;
use crate::storage::{
    BlobId, BlobInfo, BlobReader, BlobStore, BlobWriter, ByteStream, StorageError,
};

/// Size of a multipart upload's parts (and the most a small blob buffers).
const PART_SIZE: usize = 8 << 20;
/// Parts uploading at once per writer.
const PARTS_IN_FLIGHT: usize = 2;
/// The largest ranged GET a read issues.
const READ_CHUNK: u64 = 8 << 20;
/// Blob lengths remembered (an id and a length each: about 5 MiB at most).
const LEN_CACHE: usize = 65_536;
/// Connecting to the S3 endpoint: fail fast when it is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One request, body included (a `READ_CHUNK` or a part).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Blobs in an S3 bucket under a prefix. Cheap to clone.
#[derive(Clone)]
pub struct S3Blobs {
    inner: Arc<Inner>,
}

struct Inner {
    store: AmazonS3,
    /// `PREFIX` without leading or trailing `/`; empty for the bucket's root.
    prefix: String,
    /// `s3://BUCKET/PREFIX`, for messages.
    url: String,
    lens: LenCache,
}

/// Lengths of blobs opened before (blobs never change), FIFO-evicted.
#[derive(Default)]
struct LenCache {
    inner: Mutex<(HashMap<BlobId, u64>, VecDeque<BlobId>)>,
}

impl LenCache {
    fn get(&self, id: &BlobId) -> Option<u64> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.0.get(id).copied()
    }

    fn insert(&self, id: &BlobId, len: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.0.insert(id.clone(), len).is_none() {
            inner.1.push_back(id.clone());
        }
        while inner.0.len() > LEN_CACHE {
            match inner.1.pop_front() {
                Some(old) => {
                    inner.0.remove(&old);
                }
                None => break,
            }
        }
    }

    fn remove(&self, id: &BlobId) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.0.remove(id);
    }
}

/// Refuses ids that are not 32 lowercase hex digits (a damaged record's id
/// never becomes an object name outside the prefix).
fn checked(id: &BlobId) -> Result<&BlobId, StorageError> {
    match BlobId::parse(id.as_str()) {
        Some(_) => Ok(id),
        None => Err(StorageError::Corrupt(format!(
            "invalid blob id {:?}",
            id.as_str()
        ))),
    }
}

/// Maps an `object_store` error: `NotFound` is `NoSuchKey`; everything else
/// (network, timeouts, credentials, server errors, after the client's
/// bounded retries) is `BlobUnavailable` naming the store: a 503 the client
/// may retry, never a hang.
fn s3_error(url: &str, e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { .. } => StorageError::NoSuchKey,
        other => StorageError::BlobUnavailable(format!("{url}: {other}")),
    }
}

/// Reads a credential or region variable; empty counts as unset.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Normalises `PREFIX`: no leading or trailing `/`, and no empty, `.` or
/// `..` segment (object names must stay under it).
fn normalise_prefix(prefix: &str) -> Result<String, String> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    for segment in trimmed.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(format!(
                "blob store prefix {prefix:?}: empty, `.` and `..` segments are not allowed"
            ));
        }
    }
    ObjectPath::parse(trimmed).map_err(|e| format!("blob store prefix {prefix:?}: {e}"))?;
    Ok(trimmed.to_string())
}

/// Where and how to reach the S3 store: [`S3Settings::from_env`] fills the
/// credentials from the standard AWS variables.
#[derive(Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// `PREFIX` of `s3://BUCKET/PREFIX` (may be empty).
    pub prefix: String,
    /// An S3-compatible server's URL; `None`: AWS S3.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

fn invalid(msg: String) -> StorageError {
    StorageError::Io(io::Error::new(io::ErrorKind::InvalidInput, msg))
}

impl S3Settings {
    /// # Behavior
    /// - Credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
    ///   (+ `AWS_SESSION_TOKEN`); missing ones are an error (no silent
    ///   fall-back to instance metadata). Region from `AWS_REGION` /
    ///   `AWS_DEFAULT_REGION`, default `us-east-1`.
    pub fn from_env(
        bucket: &str,
        prefix: &str,
        endpoint: Option<&str>,
    ) -> Result<S3Settings, StorageError> {
        let (Some(access_key_id), Some(secret_access_key)) =
            (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
        else {
            return Err(invalid(format!(
                "blob store s3://{bucket}/{prefix}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )));
        };
        Ok(S3Settings {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            endpoint: endpoint.map(str::to_string),
            region: env("AWS_REGION")
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_string()),
            access_key_id,
            secret_access_key,
            session_token: env("AWS_SESSION_TOKEN"),
        })
    }
}

impl S3Blobs {
    /// `--blob-store s3://BUCKET/PREFIX [--blob-endpoint URL]`: settings
    /// from the environment ([`S3Settings::from_env`]), then [`S3Blobs::connect`].
    pub async fn open(
        bucket: &str,
        prefix: &str,
        endpoint: Option<&str>,
    ) -> Result<S3Blobs, StorageError> {
        S3Blobs::connect(S3Settings::from_env(bucket, prefix, endpoint)?).await
    }

    /// Connects and checks that the bucket can be listed under the prefix.
    /// # Behavior
    /// - An endpoint is addressed path-style (`URL/BUCKET/KEY`), as most
    ///   S3-compatible servers expect; `http://` endpoints are allowed.
    /// - Unreachable endpoint, unknown bucket or refused credentials: an
    ///   error naming the store, within a few seconds.
    pub async fn connect(settings: S3Settings) -> Result<S3Blobs, StorageError> {
        let bucket = settings.bucket.as_str();
        if bucket.is_empty() {
            return Err(invalid(
                "blob store s3://: the bucket name is missing".into(),
            ));
        }
        let prefix = normalise_prefix(&settings.prefix).map_err(invalid)?;
        let url = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        let endpoint = settings.endpoint.as_deref();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(settings.region.as_str())
            .with_access_key_id(settings.access_key_id.as_str())
            .with_secret_access_key(settings.secret_access_key.as_str())
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(CONNECT_TIMEOUT)
                    .with_timeout(REQUEST_TIMEOUT)
                    .with_allow_http(endpoint.is_some_and(|e| e.starts_with("http://"))),
            )
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(15),
                ..RetryConfig::default()
            });
        if let Some(token) = &settings.session_token {
            builder = builder.with_token(token.as_str());
        }
        if let Some(endpoint) = endpoint {
            builder = builder
                .with_endpoint(endpoint.trim_end_matches('/'))
                .with_virtual_hosted_style_request(false);
        }
        let store = builder
            .build()
            .map_err(|e| invalid(format!("blob store {url}: {e}")))?;
        let blobs = S3Blobs {
            inner: Arc::new(Inner {
                store,
                prefix,
                url,
                lens: LenCache::default(),
            }),
        };
        blobs.check().await?;
        Ok(blobs)
    }

    /// One LIST request under the prefix: whether the store answers (start-up
    /// check, readiness).
    pub async fn check(&self) -> Result<(), StorageError> {
        let prefix = self.inner.prefix_path();
        self.inner
            .store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map(|_| ())
            .map_err(|e| self.inner.error(e))
    }
}

impl Inner {
    fn error(&self, e: object_store::Error) -> StorageError {
        s3_error(&self.url, e)
    }

    fn prefix_path(&self) -> Option<ObjectPath> {
        (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()))
    }

    fn path(&self, id: &BlobId) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(id.as_str())
        } else {
            ObjectPath::from(format!("{}/{}", self.prefix, id.as_str()))
        }
    }

    /// The blob id an object name stands for, if it is one directly under the prefix.
    fn blob_id(&self, location: &ObjectPath) -> Option<BlobId> {
        let name = location.as_ref();
        let rest = if self.prefix.is_empty() {
            name
        } else {
            name.strip_prefix(self.prefix.as_str())?.strip_prefix('/')?
        };
        BlobId::parse(rest)
    }

    /// Streams `range` of the object at `path` with one ranged GET, failing
    /// if it delivers fewer bytes than asked (blobs never shrink).
    async fn get_range(
        self: Arc<Self>,
        path: ObjectPath,
        range: Range<u64>,
    ) -> Result<ByteStream, StorageError> {
        let want = range.end - range.start;
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        let result = self
            .store
            .get_opts(&path, options)
            .await
            .map_err(|e| self.error(e))?;
        let url = self.url.clone();
        let body = result.into_stream().map_err(move |e| s3_error(&url, e));
        // Counts what arrives: a short body ends with an error, a long one is cut.
        let counted = futures_util::stream::unfold(
            (Box::pin(body), 0u64, false),
            move |(mut body, mut got, done)| async move {
                if done {
                    return None;
                }
                match body.next().await {
                    Some(Ok(mut chunk)) => {
                        let left = want - got;
                        if chunk.len() as u64 > left {
                            chunk.truncate(left as usize);
                        }
                        got += chunk.len() as u64;
                        Some((Ok(chunk), (body, got, got == want)))
                    }
                    Some(Err(e)) => Some((Err(e), (body, got, true))),
                    None if got < want => Some((
                        Err(StorageError::Corrupt(format!(
                            "blob read ended after {got} of {want} bytes"
                        ))),
                        (body, got, true),
                    )),
                    None => None,
                }
            },
        );
        Ok(Box::pin(counted))
    }
}

/// Writes one blob: buffered until `PART_SIZE`, then a multipart upload.
struct S3Writer {
    inner: Arc<Inner>,
    id: BlobId,
    hasher: BodyHasher,
    /// Bytes not yet handed to an upload (only before the multipart starts).
    pending: Vec<Bytes>,
    pending_len: usize,
    upload: Option<WriteMultipart>,
    /// Set once the blob is committed (nothing to abort on drop).
    finished: bool,
}

#[async_trait::async_trait]
impl BlobWriter for S3Writer {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.hasher.update(&chunk);
        if let Some(upload) = &mut self.upload {
            // Back-pressure: at most PARTS_IN_FLIGHT parts uploading.
            upload
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(|e| self.inner.error(e))?;
            upload.put(chunk);
            return Ok(());
        }
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= PART_SIZE {
            let path = self.inner.path(&self.id);
            let started = self
                .inner
                .store
                .put_multipart(&path)
                .await
                .map_err(|e| self.inner.error(e))?;
            let mut upload = WriteMultipart::new_with_chunk_size(started, PART_SIZE);
            for chunk in self.pending.drain(..) {
                upload.put(chunk);
            }
            self.pending_len = 0;
            self.upload = Some(upload);
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<BlobInfo, StorageError> {
        let path = self.inner.path(&self.id);
        match self.upload.take() {
            Some(mut upload) => {
                // A failed part: abort here (`finish` would return without
                // aborting); it aborts by itself when Complete fails.
                if let Err(e) = upload.wait_for_capacity(0).await {
                    if let Err(abort) = upload.abort().await {
                        tracing::warn!(store = %self.inner.url, error = %abort, "could not abort a blob upload");
                    }
                    return Err(self.inner.error(e));
                }
                upload.finish().await.map_err(|e| self.inner.error(e))?;
            }
            None => {
                let payload: PutPayload = std::mem::take(&mut self.pending).into_iter().collect();
                self.inner
                    .store
                    .put(&path, payload)
                    .await
                    .map_err(|e| self.inner.error(e))?;
            }
        }
        self.finished = true;
        let hasher = std::mem::take(&mut self.hasher);
        let info = hasher.finish();
        self.inner.lens.insert(&self.id, info.len);
        Ok(info)
    }
}

impl Drop for S3Writer {
    /// An unfinished multipart upload is aborted (its parts would otherwise
    /// stay billed and invisible on the server).
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Some(upload) = self.upload.take() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let url = self.inner.url.clone();
                rt.spawn(async move {
                    if let Err(e) = upload.abort().await {
                        tracing::warn!(store = %url, error = %e, "could not abort a blob upload");
                    }
                });
            }
        }
    }
}

struct S3Reader {
    inner: Arc<Inner>,
    path: ObjectPath,
    len: u64,
}

impl BlobReader for S3Reader {
    fn len(&self) -> u64 {
        self.len
    }

    /// Ranged GETs of at most `READ_CHUNK` bytes, in order, with one GET of
    /// look-ahead: the next request is sent while the current body streams
    /// (its body then waits, unread, for its turn).
    fn read(&self, range: Range<u64>) -> ByteStream {
        let end = range.end.min(self.len);
        let start = range.start.min(end);
        let chunks = (start..end)
            .step_by(READ_CHUNK as usize)
            .map(move |at| at..(at + READ_CHUNK).min(end));
        let inner = self.inner.clone();
        let path = self.path.clone();
        let requests = futures_util::stream::iter(chunks)
            .map(move |r| tokio::spawn(inner.clone().get_range(path.clone(), r)))
            .buffered(2)
            .map(|joined| match joined {
                Ok(result) => result,
                Err(e) => Err(StorageError::Io(io::Error::other(e))),
            });
        Box::pin(requests.try_flatten())
    }
}

#[async_trait::async_trait]
impl BlobStore for S3Blobs {
    async fn create(&self, id: &BlobId) -> Result<Box<dyn BlobWriter>, StorageError> {
        Ok(Box::new(S3Writer {
            inner: self.inner.clone(),
            id: checked(id)?.clone(),
            hasher: BodyHasher::new(),
            pending: Vec::new(),
            pending_len: 0,
            upload: None,
            finished: false,
        }))
    }

    async fn open(&self, id: &BlobId) -> Result<Box<dyn BlobReader>, StorageError> {
        let id = checked(id)?;
        let path = self.inner.path(id);
        let len = match self.inner.lens.get(id) {
            Some(len) => len,
            None => {
                let meta = self
                    .inner
                    .store
                    .head(&path)
                    .await
                    .map_err(|e| self.inner.error(e))?;
                self.inner.lens.insert(id, meta.size);
                meta.size
            }
        };
        Ok(Box::new(S3Reader {
            inner: self.inner.clone(),
            path,
            len,
        }))
    }

    async fn delete(&self, id: &BlobId) -> Result<(), StorageError> {
        let id = checked(id)?;
        self.inner.lens.remove(id);
        match self.inner.store.delete(&self.inner.path(id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.inner.error(e)),
        }
    }

    /// Objects directly under the prefix named like blobs, last modified
    /// (per the server) before `t`.
    async fn list_older_than(&self, t: SystemTime) -> Result<Vec<BlobId>, StorageError> {
        let prefix = self.inner.prefix_path();
        let mut listing = self.inner.store.list(prefix.as_ref());
        let mut out = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| self.inner.error(e))?;
            let Some(id) = self.inner.blob_id(&meta.location) else {
                continue;
            };
            if SystemTime::from(meta.last_modified) < t {
                out.push(id);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_no_such_key_or_unavailable() {
        let not_found = object_store::Error::NotFound {
            path: "p/x".into(),
            source: "404".into(),
        };
        assert!(matches!(
            s3_error("s3://b/p", not_found),
            StorageError::NoSuchKey
        ));
        let down = object_store::Error::Generic {
            store: "S3",
            source: "connection refused".into(),
        };
        match s3_error("s3://b/p", down) {
            StorageError::BlobUnavailable(msg) => {
                assert!(msg.starts_with("s3://b/p: "), "{msg}");
                assert!(msg.contains("connection refused"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn prefixes() {
        let cases: &[(&str, Result<&str, ()>)] = &[
            ("", Ok("")),
            ("/", Ok("")),
            ("blobs", Ok("blobs")),
            ("/a/b/", Ok("a/b")),
            ("a//b", Err(())),
            ("a/../b", Err(())),
            ("./a", Err(())),
        ];
        for (input, want) in cases {
            let got = normalise_prefix(input).map_err(|_| ());
            assert_eq!(got.as_deref(), want.as_deref(), "prefix {input:?}");
        }
    }
}
