//! Multipart uploads on [`Store`]: parts stream into blobs of their own as
//! they arrive (durable before they are acknowledged), and Complete turns
//! the listed parts into the object's manifest in one index transaction,
//! without moving a byte. The rules live in [`super::multipart`].

use std::ops::Range;
use std::time::Duration;

use super::hash::md5_hex;
use super::multipart::{self, CompletePart, PartRecord, UploadCursor, UploadRecord};
use super::sse::Sealing;
use super::store::{now_ms, past_prefix};
use super::{BlobId, ByteStream, ObjectReader, ObjectRecord, StorageError, Store, WriteCondition};

/// Options for [`Store::upload_part`].
#[derive(Debug, Clone, Default)]
pub struct PartOptions {
    /// Expected MD5 (`Content-MD5`); mismatch → `BadDigest`, nothing stored.
    pub content_md5: Option<[u8; 16]>,
    /// `Content-Length` when given: fewer bytes → `IncompleteBody`.
    pub content_length: Option<u64>,
    /// Seal the part with the upload's data key (SSE).
    pub sse: Option<Sealing>,
    /// Filled by the body pipeline with the verified flexible checksum.
    pub checksum: crate::http::checksum::ChecksumSlot,
}

/// List Multipart Uploads input.
#[derive(Debug, Clone, Default)]
pub struct UploadsQuery {
    pub prefix: String,
    /// Empty means no delimiter.
    pub delimiter: String,
    pub key_marker: String,
    /// Only meaningful with `key_marker`: resume after this upload of it.
    pub upload_id_marker: Option<String>,
    pub max_uploads: usize,
}

/// One page of List Multipart Uploads. Common prefixes and uploads together
/// count against `max_uploads`.
#[derive(Debug, Clone, Default)]
pub struct UploadsPage {
    pub uploads: Vec<UploadRecord>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// Where the next page starts, when truncated: the last entry's key (or
    /// common prefix) and, after an upload, its id.
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

/// One page of List Parts.
#[derive(Debug, Clone)]
pub struct PartsPage {
    pub upload: UploadRecord,
    pub parts: Vec<PartRecord>,
    pub is_truncated: bool,
}

impl Store {
    /// Starts a multipart upload of `key` whose object will carry
    /// `template`'s headers, storage class, ACL, tags and SSE.
    /// # Behavior
    /// - `NoSuchBucket`. With `forbid_overwrite`, an existing object is
    ///   refused now (`AlreadyExists`) and again, bindingly, at Complete.
    pub async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        template: ObjectRecord,
        forbid_overwrite: bool,
    ) -> Result<UploadRecord, StorageError> {
        self.create_upload_with(bucket, key, template, forbid_overwrite, None)
            .await
    }

    /// [`Store::create_upload`] with the upload's smallest part other than
    /// the last (`None` = COS's [`multipart::MIN_PART_SIZE`]); the S3 and
    /// OSS dialects start uploads with their services' minimums.
    pub async fn create_upload_with(
        &self,
        bucket: &str,
        key: &str,
        template: ObjectRecord,
        forbid_overwrite: bool,
        min_part_size: Option<u64>,
    ) -> Result<UploadRecord, StorageError> {
        if forbid_overwrite {
            let current = self.meta().object(bucket, key).await?;
            WriteCondition::IfNoneMatch.check(current.as_ref())?;
        }
        let rec = UploadRecord {
            // Unique forever and growing with time: List Uploads orders one
            // key's uploads oldest first by it.
            upload_id: BlobId::generate().as_str().to_string(),
            key: key.to_string(),
            initiated_ms: now_ms(),
            template,
            forbid_overwrite,
            min_part_size,
        };
        self.meta().create_upload(bucket, rec.clone()).await?;
        Ok(rec)
    }

    /// The upload `upload_id` of `key`.
    /// # Behavior
    /// - `NoSuchBucket`; `NoSuchUpload` (also for an id of another key).
    pub async fn upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<UploadRecord, StorageError> {
        self.meta()
            .upload(bucket, key, upload_id)
            .await?
            .ok_or(StorageError::NoSuchUpload)
    }

    /// Streams one part into a blob of its own and records it (replacing a
    /// part of the same number).
    /// # Behavior
    /// - `NoSuchBucket` / `NoSuchUpload` before the body is read.
    /// - More than [`multipart::MAX_PART_SIZE`] → `TooLarge`; digest and
    ///   length errors as [`Store::put_object`]. On any failure the part
    ///   table is unchanged and the new blob is deleted.
    /// - An upload completed or aborted while the body streamed →
    ///   `NoSuchUpload`, and the blob is deleted.
    /// - Once the body was read, the commit runs to completion even if the
    ///   caller is cancelled.
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        body: ByteStream,
        opts: PartOptions,
    ) -> Result<PartRecord, StorageError> {
        self.upload(bucket, key, upload_id).await?;
        if opts
            .content_length
            .is_some_and(|n| n > multipart::MAX_PART_SIZE)
        {
            return Err(StorageError::TooLarge);
        }
        let id = BlobId::generate();
        let writer = self
            .write_body(
                &id,
                body,
                opts.content_length,
                multipart::MAX_PART_SIZE,
                opts.sse.as_ref(),
                true,
            )
            .await?;
        let store = self.clone();
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        let task = tokio::spawn(async move {
            let info = store.finish_blob(&id, writer).await?;
            if opts.content_md5.is_some_and(|md5| md5 != info.md5) {
                store.free(std::slice::from_ref(&id)).await;
                return Err(StorageError::BadDigest);
            }
            let part = PartRecord {
                part_number: number,
                size: info.len,
                md5: info.md5,
                crc64: info.crc64,
                last_modified_ms: now_ms(),
                blob: id.clone(),
                checksum: opts.checksum.get(),
            };
            store.commit_part(&bucket, &key, &upload_id, part).await
        });
        task.await
            .map_err(|e| StorageError::Io(std::io::Error::other(e)))?
    }

    /// Records a part whose blob `part.blob` is durable; deletes the blob
    /// if the upload is gone, and a replaced part's blob after the commit.
    async fn commit_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: PartRecord,
    ) -> Result<PartRecord, StorageError> {
        match self
            .meta()
            .put_part(bucket, key, upload_id, part.clone())
            .await
        {
            Ok(freed) => {
                self.free(&freed).await;
                Ok(part)
            }
            Err(e) => {
                self.free(std::slice::from_ref(&part.blob)).await;
                Err(e)
            }
        }
    }

    /// Upload Part Copy: bytes `range` of the opened source object (already
    /// unlocked when SSE-C) become part `number`, sealed with `sse`.
    /// # Behavior
    /// - `NoSuchUpload` before a byte is copied; a source that cannot be
    ///   read → its error, nothing recorded, the new blob deleted.
    #[allow(clippy::too_many_arguments)] // the part's address is four of them
    pub async fn upload_part_copy(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        src: ObjectReader,
        range: Range<u64>,
        sse: Option<Sealing>,
    ) -> Result<PartRecord, StorageError> {
        if let Err(e) = src.sse_ready() {
            return Err(StorageError::Corrupt(format!(
                "copy source not readable: {e}"
            )));
        }
        let len = range.end.saturating_sub(range.start);
        if len > multipart::MAX_PART_SIZE {
            return Err(StorageError::TooLarge);
        }
        let body: ByteStream = src.stream(range);
        self.upload_part(
            bucket,
            key,
            upload_id,
            number,
            body,
            PartOptions {
                content_length: Some(len),
                sse,
                ..PartOptions::default()
            },
        )
        .await
    }

    /// Completes an upload: the listed parts become `key`'s object in one
    /// index transaction (see `MetaStore::complete_upload`).
    /// # Behavior
    /// - `NoSuchBucket` / `NoSuchUpload` / `Complete(_)` / condition errors;
    ///   on any error nothing changes and the upload stays.
    /// - The replaced object's blobs and the unlisted parts' blobs are
    ///   deleted after the commit, which runs to completion even if the
    ///   caller is cancelled.
    pub async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        listed: Vec<CompletePart>,
        cond: WriteCondition,
    ) -> Result<ObjectRecord, StorageError> {
        let store = self.clone();
        let (bucket, key, upload_id) = (bucket.to_string(), key.to_string(), upload_id.to_string());
        let task = tokio::spawn(async move {
            let (committed, rec) = store
                .meta()
                .complete_upload(&bucket, &key, &upload_id, listed, cond, now_ms())
                .await?;
            store.free(&committed.freed).await;
            Ok(rec)
        });
        task.await
            .map_err(|e| StorageError::Io(std::io::Error::other(e)))?
    }

    /// Aborts an upload and deletes its parts' blobs.
    /// # Behavior
    /// - `NoSuchBucket` / `NoSuchUpload`.
    pub async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), StorageError> {
        let freed = self.meta().abort_upload(bucket, key, upload_id).await?;
        self.free(&freed).await;
        Ok(())
    }

    /// Up to `max_parts` parts numbered above `after`.
    /// # Behavior
    /// - `NoSuchBucket` / `NoSuchUpload`.
    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        after: u32,
        max_parts: usize,
    ) -> Result<PartsPage, StorageError> {
        let (upload, mut parts) = self
            .meta()
            .list_parts(bucket, key, upload_id, after, max_parts.saturating_add(1))
            .await?;
        let is_truncated = parts.len() > max_parts;
        parts.truncate(max_parts);
        Ok(PartsPage {
            upload,
            parts,
            is_truncated,
        })
    }

    /// List Multipart Uploads, with delimiter roll-up as `list_objects` does.
    /// # Behavior
    /// - `NoSuchBucket`.
    /// - Uploads come by key, then oldest first. A key marker without an
    ///   upload id marker resumes after every upload of that key.
    pub async fn list_uploads(
        &self,
        bucket: &str,
        q: &UploadsQuery,
    ) -> Result<UploadsPage, StorageError> {
        let mut page = UploadsPage::default();
        let rollup = |key: &str| -> Option<String> {
            if q.delimiter.is_empty() {
                return None;
            }
            let rest = key.strip_prefix(q.prefix.as_str())?;
            let at = rest.find(q.delimiter.as_str())?;
            Some(key[..q.prefix.len() + at + q.delimiter.len()].to_string())
        };
        let mut cursor = UploadCursor {
            key: q.key_marker.clone(),
            upload_id: q
                .upload_id_marker
                .clone()
                .filter(|_| !q.key_marker.is_empty()),
        };
        // A marker inside a common prefix resumes past the whole prefix.
        if let Some(cp) = rollup(&q.key_marker) {
            cursor = UploadCursor {
                key: past_prefix(&cp),
                upload_id: None,
            };
        }
        if q.max_uploads == 0 {
            self.meta()
                .bucket(bucket)
                .await?
                .ok_or(StorageError::NoSuchBucket)?;
            return Ok(page);
        }
        let mut count = 0usize;
        loop {
            let want = (q.max_uploads - count).saturating_add(1).min(1000);
            let batch = self
                .meta()
                .list_uploads(bucket, &q.prefix, &cursor, want)
                .await?;
            let exhausted = batch.len() < want;
            let mut reseek = false;
            for up in batch {
                if count == q.max_uploads {
                    page.is_truncated = true;
                    return Ok(page);
                }
                count += 1;
                match rollup(&up.key) {
                    Some(cp) => {
                        cursor = UploadCursor {
                            key: past_prefix(&cp),
                            upload_id: None,
                        };
                        page.next_key_marker = Some(cp.clone());
                        page.next_upload_id_marker = None;
                        page.common_prefixes.push(cp);
                        reseek = true;
                        break;
                    }
                    None => {
                        cursor = UploadCursor {
                            key: up.key.clone(),
                            upload_id: Some(up.upload_id.clone()),
                        };
                        page.next_key_marker = Some(up.key.clone());
                        page.next_upload_id_marker = Some(up.upload_id.clone());
                        page.uploads.push(up);
                    }
                }
            }
            if exhausted && !reseek {
                page.next_key_marker = None;
                page.next_upload_id_marker = None;
                return Ok(page);
            }
        }
    }

    /// Aborts every upload initiated more than `age` ago (the abandoned
    /// upload sweep); returns how many.
    pub async fn abort_stale_uploads(&self, age: Duration) -> Result<usize, StorageError> {
        let before = now_ms() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        let mut aborted = 0;
        loop {
            let batch = self.meta().stale_uploads(before, 100).await?;
            if batch.is_empty() {
                return Ok(aborted);
            }
            for (bucket, up) in batch {
                match self.abort_upload(&bucket, &up.key, &up.upload_id).await {
                    Ok(()) | Err(StorageError::NoSuchUpload) => aborted += 1,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// `"<md5 hex>"` of a part, as Upload Part and List Parts answer.
pub fn part_etag(part: &PartRecord) -> String {
    format!("\"{}\"", md5_hex(&part.md5))
}
