//! Multipart uploads: the records the index keeps for an upload and its
//! parts, COS's limits, and the Complete rule that turns a part list into
//! the final object's record without touching any bytes.
//!
//! Shape (see `STATUS-multipart.md` at the repo root for the plan):
//! - An upload row `(bucket, upload_id) → UploadRecord` holds the key, the
//!   initiation time and a *template* `ObjectRecord` carrying everything
//!   Initiate was given (headers, user metadata, storage class, SSE, ACL):
//!   Complete copies it into the final record, so those headers reach the
//!   object exactly as a PUT would store them.
//! - A part row `(upload_id, part_number) → PartRecord` references one
//!   immutable blob and **holds one blob reference** in `blob_refs`, like an
//!   object record does. So the orphan sweep never frees a live part,
//!   replacing a part releases the old blob, and Abort releases them all.
//! - Complete is one `MetaStore` transaction: check the list against the part
//!   rows ([`plan_complete`]), commit the record through the ordinary
//!   versioned put path (the part blobs are already referenced, so they pass
//!   `take_refs` without being `fresh`), then release every part row's
//!   reference and delete the upload. Blobs of unlisted parts drop to zero and
//!   are returned as freed; listed ones keep the object's reference.

use serde::{Deserialize, Serialize};

use super::hash::{crc64_combine, multipart_etag};
use super::versions::{self, KeyTxn};
use super::{BlobId, Committed, ObjectRecord, Segment, StorageError, WriteCondition};

/// Part numbers COS accepts (else 400 InvalidArgument).
pub const MIN_PART_NUMBER: u32 = 1;
pub const MAX_PART_NUMBER: u32 = 10_000;
/// Every part but the last must be at least this big (checked at Complete:
/// 400 EntityTooSmall).
pub const MIN_PART_SIZE: u64 = 1 << 20;
/// A part larger than this is refused at Upload Part (400 EntityTooLarge).
pub const MAX_PART_SIZE: u64 = 5 << 30;
/// The largest object a Complete may produce (COS: 48.82 TB = 50,000 GiB).
pub const MAX_OBJECT_SIZE: u64 = 50_000 << 30;
/// `max-parts` / `max-uploads` ceiling and default.
pub const MAX_LIST: usize = 1000;

/// One upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub upload_id: String,
    pub key: String,
    /// Unix milliseconds; List Uploads orders one key's uploads by it.
    pub initiated_ms: i64,
    /// What Initiate was given, as the final object will carry it: headers,
    /// user metadata, storage class, SSE, ACL. Size, ETag, CRC and segments
    /// are filled in by Complete.
    pub template: ObjectRecord,
    /// `x-cos-forbid-overwrite: true` at Initiate: Complete then refuses to
    /// replace an existing object.
    #[serde(default)]
    pub forbid_overwrite: bool,
    /// The smallest part other than the last that Complete accepts; `None`
    /// (and records written before it existed) = [`MIN_PART_SIZE`], COS's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_part_size: Option<u64>,
}

/// One stored part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub part_number: u32,
    pub size: u64,
    /// Binary MD5 of the part; its hex is the part ETag.
    pub md5: [u8; 16],
    pub crc64: u64,
    pub last_modified_ms: i64,
    pub blob: BlobId,
    /// The S3 flexible checksum verified at Upload Part, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<crate::http::checksum::Checksum>,
}

impl PartRecord {
    /// The unquoted part ETag (lowercase MD5 hex).
    pub fn etag(&self) -> String {
        hex::encode(self.md5)
    }
}

/// One `<Part>` of a Complete body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletePart {
    pub part_number: u32,
    /// As sent: quoted or not.
    pub etag: String,
}

/// Why a Complete list was refused (mapped to COS codes by the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompleteError {
    /// No `<Part>` at all: 400 MalformedXML.
    #[error("no parts listed")]
    Empty,
    /// Not strictly ascending (duplicates included): 400 InvalidPartOrder.
    #[error("part numbers not ascending")]
    Order,
    /// Unknown part, ETag mismatch or a gap in the numbers: 400 InvalidPart.
    #[error("invalid part {0}")]
    InvalidPart(u32),
    /// A part other than the last is under the upload's minimum (second
    /// field, [`MIN_PART_SIZE`] by default): 400 EntityTooSmall.
    #[error("part {0} too small")]
    TooSmall(u32, u64),
    /// The object would exceed [`MAX_OBJECT_SIZE`]: 400 EntityTooLarge.
    #[error("object too large")]
    TooLarge,
}

/// Strips surrounding quotes and compares case-insensitively, as the SDKs
/// send ETags either way (Node quotes bare ones).
fn etag_matches(sent: &str, stored_hex: &str) -> bool {
    let s = sent.trim();
    let s = s.strip_prefix('"').unwrap_or(s);
    let s = s.strip_suffix('"').unwrap_or(s);
    s.eq_ignore_ascii_case(stored_hex)
}

/// Builds the final object's record from `upload`'s template and the listed
/// parts, checked against the stored ones (`stored` sorted by part number).
/// # Behavior
/// - Order of checks, per listed part: ascending order (`Order`), then known
///   and same ETag and no gap after the previous number (`InvalidPart`);
///   then sizes: every part but the last ≥ the upload's minimum
///   (`min_part_size`, default [`MIN_PART_SIZE`]) (`TooSmall`),
///   total ≤ [`MAX_OBJECT_SIZE`] (`TooLarge`).
/// - ETag = [`multipart_etag`] of the listed parts; CRC-64 = the part CRCs
///   combined in order; segments = the parts' blobs in order (zero-length
///   parts contribute no segment). `version_id`/`delete_marker` are left for
///   the store's commit.
pub fn plan_complete(
    upload: &UploadRecord,
    stored: &[PartRecord],
    listed: &[CompletePart],
    now_ms: i64,
) -> Result<ObjectRecord, CompleteError> {
    if listed.is_empty() {
        return Err(CompleteError::Empty);
    }
    let mut chosen: Vec<&PartRecord> = Vec::with_capacity(listed.len());
    let mut prev: Option<u32> = None;
    for want in listed {
        if prev.is_some_and(|p| want.part_number <= p) {
            return Err(CompleteError::Order);
        }
        // COS refuses gaps in the numbers (DOC 436/7742) with InvalidPart.
        if prev.is_some_and(|p| want.part_number != p + 1) {
            return Err(CompleteError::InvalidPart(want.part_number));
        }
        prev = Some(want.part_number);
        let part = stored
            .binary_search_by_key(&want.part_number, |p| p.part_number)
            .ok()
            .map(|i| &stored[i])
            .filter(|p| etag_matches(&want.etag, &p.etag()))
            .ok_or(CompleteError::InvalidPart(want.part_number))?;
        chosen.push(part);
    }
    let last = chosen.len() - 1;
    let min = upload.min_part_size.unwrap_or(MIN_PART_SIZE);
    let mut size = 0u64;
    for (i, p) in chosen.iter().enumerate() {
        if i != last && p.size < min {
            return Err(CompleteError::TooSmall(p.part_number, min));
        }
        size = size.saturating_add(p.size);
    }
    if size > MAX_OBJECT_SIZE {
        return Err(CompleteError::TooLarge);
    }
    let md5s: Vec<[u8; 16]> = chosen.iter().map(|p| p.md5).collect();
    let crc64 = chosen
        .iter()
        .fold(0u64, |acc, p| crc64_combine(acc, p.crc64, p.size));
    let segments = chosen
        .iter()
        .filter(|p| p.size > 0)
        .map(|p| Segment {
            blob: p.blob.clone(),
            offset: 0,
            len: p.size,
        })
        .collect();
    let mut rec = upload.template.clone();
    rec.size = size;
    rec.etag = multipart_etag(&md5s);
    rec.crc64 = crc64;
    rec.last_modified_ms = now_ms;
    rec.segments = segments;
    rec.version_id = None;
    rec.delete_marker = false;
    rec.restore = None;
    Ok(rec)
}

/// Where a List Multipart Uploads page resumes: after every upload of
/// `key` (`upload_id: None`), or after that one upload of `key`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadCursor {
    pub key: String,
    pub upload_id: Option<String>,
}

impl UploadCursor {
    /// Whether the upload `(key, upload_id)` comes after the cursor, in
    /// List Uploads order (key, then upload id, which grows with time).
    pub fn is_before(&self, key: &str, upload_id: &str) -> bool {
        match key.cmp(self.key.as_str()) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => self
                .upload_id
                .as_deref()
                .is_some_and(|after| upload_id > after),
        }
    }
}

// ---------------------------------------------------------------------------
// The rules, written once over what a backend's transaction offers (like
// `versions.rs` for objects).

/// One upload of one key inside a backend's write transaction, plus the
/// key's object rows ([`KeyTxn`]) for Complete. An error aborts the whole
/// transaction.
pub trait UploadTxn: KeyTxn {
    /// The upload row, if it exists for this bucket and key.
    fn upload(&self) -> Result<Option<UploadRecord>, StorageError>;
    /// Every stored part, ascending by part number.
    fn parts(&self) -> Result<Vec<PartRecord>, StorageError>;
    fn part(&self, number: u32) -> Result<Option<PartRecord>, StorageError>;
    /// Inserts or replaces the row of `part.part_number`.
    fn set_part(&mut self, part: &PartRecord) -> Result<(), StorageError>;
    /// Removes the upload row and all its part rows.
    fn remove_upload(&mut self) -> Result<(), StorageError>;
    /// One more reference to `blob` (a fresh part blob starts at one).
    fn add_ref(&mut self, blob: &BlobId) -> Result<(), StorageError>;
    /// One reference less; `true` when nothing references `blob` any more.
    fn drop_ref(&mut self, blob: &BlobId) -> Result<bool, StorageError>;
}

/// `MetaStore::put_part` (see there): stores a part whose blob was just
/// written; a part of the same number is replaced and its blob released.
pub fn commit_part(t: &mut impl UploadTxn, part: &PartRecord) -> Result<Vec<BlobId>, StorageError> {
    if t.upload()?.is_none() {
        return Err(StorageError::NoSuchUpload);
    }
    t.add_ref(&part.blob)?;
    let mut freed = Vec::new();
    if let Some(old) = t.part(part.part_number)? {
        if t.drop_ref(&old.blob)? {
            freed.push(old.blob);
        }
    }
    t.set_part(part)?;
    Ok(freed)
}

/// `MetaStore::abort_upload` (see there): drops the upload and releases
/// every part's blob.
pub fn commit_abort(t: &mut impl UploadTxn) -> Result<Vec<BlobId>, StorageError> {
    if t.upload()?.is_none() {
        return Err(StorageError::NoSuchUpload);
    }
    let mut freed = Vec::new();
    for part in t.parts()? {
        if t.drop_ref(&part.blob)? {
            freed.push(part.blob);
        }
    }
    t.remove_upload()?;
    Ok(freed)
}

/// `MetaStore::complete_upload` (see there): checks the list
/// ([`plan_complete`]), commits the object through the ordinary versioned
/// put (the listed parts' blobs are referenced by their part rows, so they
/// need not be fresh), then releases every part row: listed blobs keep the
/// object's reference, unlisted ones are freed.
pub fn commit_complete(
    t: &mut impl UploadTxn,
    state: impl Into<versions::BucketRules>,
    listed: &[CompletePart],
    cond: WriteCondition,
    now_ms: i64,
) -> Result<(Committed, ObjectRecord), StorageError> {
    let upload = t.upload()?.ok_or(StorageError::NoSuchUpload)?;
    let parts = t.parts()?;
    let mut rec = plan_complete(&upload, &parts, listed, now_ms).map_err(StorageError::Complete)?;
    let cond = match cond {
        WriteCondition::None if upload.forbid_overwrite => WriteCondition::IfNoneMatch,
        other => other,
    };
    let mut committed = versions::commit_put(t, state, rec.clone(), &[], &cond)?;
    for part in parts {
        if t.drop_ref(&part.blob)? {
            committed.freed.push(part.blob);
        }
    }
    t.remove_upload()?;
    rec.version_id.clone_from(&committed.version_id);
    rec.retain_until_ms = committed.retain_until_ms;
    Ok((committed, rec))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ObjectHeaders;
    use md5::{Digest, Md5};

    fn crc(data: &[u8]) -> u64 {
        let mut d = crc64fast::Digest::new();
        d.write(data);
        d.sum64()
    }

    fn part(n: u32, data: &[u8]) -> PartRecord {
        PartRecord {
            part_number: n,
            size: data.len() as u64,
            md5: Md5::digest(data).into(),
            crc64: crc(data),
            last_modified_ms: 1,
            blob: BlobId::generate(),
            checksum: None,
        }
    }

    fn upload() -> UploadRecord {
        UploadRecord {
            upload_id: "u1".into(),
            key: "k".into(),
            initiated_ms: 0,
            template: ObjectRecord {
                size: 0,
                etag: String::new(),
                crc64: 0,
                last_modified_ms: 0,
                headers: ObjectHeaders {
                    content_type: Some("text/plain".into()),
                    ..Default::default()
                },
                storage_class: "STANDARD_IA".into(),
                segments: vec![],
                restore: None,
                sse: None,
                checksum: None,
                version_id: None,
                delete_marker: false,
                acl: None,
                tags: Vec::new(),
                appendable: false,
                retain_until_ms: None,
                symlink_target: None,
                replication_status: None,
                corrupt: None,
            },
            forbid_overwrite: false,
            min_part_size: None,
        }
    }

    fn list(parts: &[(u32, &str)]) -> Vec<CompletePart> {
        parts
            .iter()
            .map(|(n, e)| CompletePart {
                part_number: *n,
                etag: e.to_string(),
            })
            .collect()
    }

    #[test]
    fn builds_manifest_etag_and_crc() {
        let big = vec![7u8; MIN_PART_SIZE as usize];
        let stored = vec![part(1, &big), part(2, &big), part(3, b"tail")];
        let listed: Vec<CompletePart> = stored
            .iter()
            .map(|p| CompletePart {
                part_number: p.part_number,
                etag: format!("\"{}\"", p.etag()),
            })
            .collect();
        let rec = plan_complete(&upload(), &stored, &listed, 42).unwrap();
        let whole = [big.as_slice(), big.as_slice(), b"tail"].concat();
        assert_eq!(rec.size, whole.len() as u64);
        assert_eq!(rec.crc64, crc(&whole));
        assert!(rec.etag.ends_with("-3"));
        assert_eq!(rec.segments.len(), 3);
        assert_eq!(rec.segments[1].blob, stored[1].blob);
        assert_eq!(rec.storage_class, "STANDARD_IA");
        assert_eq!(rec.headers.content_type.as_deref(), Some("text/plain"));
        assert_eq!(rec.last_modified_ms, 42);
    }

    #[test]
    fn rules_table() {
        let big = vec![1u8; MIN_PART_SIZE as usize];
        let stored = vec![part(1, &big), part(2, b"small"), part(3, b"x")];
        let e1 = stored[0].etag();
        let e2 = stored[1].etag();
        let e3 = stored[2].etag();
        let cases: Vec<(Vec<CompletePart>, Result<u64, CompleteError>)> = vec![
            (list(&[]), Err(CompleteError::Empty)),
            // One small part alone is the last part: fine.
            (list(&[(2, &e2)]), Ok(5)),
            (list(&[(1, &e1), (2, &e2)]), Ok(MIN_PART_SIZE + 5)),
            // Unquoted and upper-case ETags match too.
            (list(&[(1, &e1.to_uppercase())]), Ok(MIN_PART_SIZE)),
            (list(&[(2, &e2), (1, &e1)]), Err(CompleteError::Order)),
            (list(&[(1, &e1), (1, &e1)]), Err(CompleteError::Order)),
            (list(&[(1, &e2)]), Err(CompleteError::InvalidPart(1))),
            (list(&[(4, &e1)]), Err(CompleteError::InvalidPart(4))),
            (
                list(&[(1, &e1), (3, &e3)]),
                Err(CompleteError::InvalidPart(3)),
            ),
            (
                list(&[(1, &e1), (2, &e2), (3, &e3)]),
                Err(CompleteError::TooSmall(2, MIN_PART_SIZE)),
            ),
        ];
        for (i, (listed, want)) in cases.into_iter().enumerate() {
            let got = plan_complete(&upload(), &stored, &listed, 0).map(|r| r.size);
            assert_eq!(got, want, "case {i}");
        }
    }

    #[test]
    fn minimum_part_size_is_the_uploads() {
        // An upload's own minimum (OSS 100 KiB, S3 5 MiB) replaces COS's.
        let mid = vec![2u8; 200 << 10];
        let stored = vec![part(1, &mid), part(2, &mid), part(3, b"x")];
        let listed = list(&[
            (1, &stored[0].etag()),
            (2, &stored[1].etag()),
            (3, &stored[2].etag()),
        ]);
        for (min, want) in [
            (None, Err(CompleteError::TooSmall(1, MIN_PART_SIZE))),
            (Some(100 << 10), Ok((400 << 10) + 1)),
            (Some(200 << 10), Ok((400 << 10) + 1)),
            (
                Some((200 << 10) + 1),
                Err(CompleteError::TooSmall(1, (200 << 10) + 1)),
            ),
            (Some(5 << 20), Err(CompleteError::TooSmall(1, 5 << 20))),
        ] {
            let mut up = upload();
            up.min_part_size = min;
            let got = plan_complete(&up, &stored, &listed, 0).map(|r| r.size);
            assert_eq!(got, want, "{min:?}");
        }
        // Records written before the field existed read as COS's minimum.
        let mut json = serde_json::to_value(upload()).unwrap();
        assert!(json.get("min_part_size").is_none());
        json.as_object_mut().unwrap().remove("min_part_size");
        let old: UploadRecord = serde_json::from_value(json).unwrap();
        assert_eq!(old.min_part_size, None);
    }

    #[test]
    fn empty_last_part_adds_no_segment() {
        let big = vec![3u8; MIN_PART_SIZE as usize];
        let stored = vec![part(1, &big), part(2, b"")];
        let listed = list(&[(1, &stored[0].etag()), (2, &stored[1].etag())]);
        let rec = plan_complete(&upload(), &stored, &listed, 0).unwrap();
        assert_eq!(rec.segments.len(), 1);
        assert_eq!(rec.crc64, crc(&big));
        assert!(rec.etag.ends_with("-2"));
    }
}
