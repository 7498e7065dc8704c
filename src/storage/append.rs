//! Append Object (`POST /<key>?append&position=N`, spec cos.md §6A.3; OSS
//! AppendObject): appendable objects grow by one immutable blob per append.
//!
//! No byte of an earlier append is ever copied: an append streams its body
//! into a new blob, then ONE `MetaStore::append_object` transaction commits
//! the record `old segments + new segment`, but only if the key's current
//! record is still exactly the one the append was built on. Two appends at
//! the same position therefore race in the index: one commits, the other
//! finds a longer object and gets `AppendPosition`.
//!
//! - The object's CRC-64 is the old one combined with the new blob's
//!   ([`crc64_combine`]), so no append re-reads the object.
//! - The ETag must change on every append; COS does not document its value.
//!   The first append's ETag is the MD5 of its body (so a one-append object
//!   looks like a PUT); each later one is `md5(previous ETag ‖ MD5 of the
//!   appended body)` ([`chained_etag`]): it changes whenever bytes are
//!   added, without re-reading the object.
//! - Versioning: appendable objects take no part in it (COS). On a
//!   versioned bucket the appendable object is the key's `null` version
//!   (replacing an older `null` version, as a suspended write does); appends
//!   replace that version in place. A later PUT stacks a normal version on
//!   top (Enabled) or replaces it (Suspended), by the ordinary put rules.
//! - Limits: the object stays within [`MAX_APPENDABLE_SIZE`] (COS: 5 GB) and
//!   [`MAX_APPENDS`] segments (each non-empty append adds one; a record and
//!   a GET's open blobs grow with it).

use futures_util::StreamExt;

use super::hash::{crc64_combine, md5_hex};
use super::sse::{managed_dek, Sealing};
use super::store::now_ms;
use super::versions::{drop_null, parse_version_id, seq_after, KeyTxn};
use super::*;

/// The largest appendable object (COS: 5 GB); beyond it an append is
/// refused with `TooLarge` before its body is read.
pub const MAX_APPENDABLE_SIZE: u64 = 5 << 30;

/// The most segments (non-empty appends) an appendable object may have;
/// the next append is refused with `AppendLimit`. COS documents no count;
/// this bounds the record size and the blobs a GET opens.
pub const MAX_APPENDS: usize = 10_000;

/// How often `Store::append_object` rebuilds its record when the current
/// record changed without changing the outcome (a tag or ACL update).
const RETRIES: usize = 8;

/// Whether an append at `position` may go ahead on the key's current record
/// (`None`: absent, or a delete marker on top).
/// # Behavior
/// - Absent: only `position == 0` (it creates the object), else
///   `AppendPosition { next: 0 }`.
/// - A normal object: `NotAppendable`, whatever the position.
/// - An appendable one: `AppendPosition { next: size }` unless
///   `position == size`; `AppendLimit` once it has [`MAX_APPENDS`] segments.
pub fn check(current: Option<&ObjectRecord>, position: u64) -> Result<(), StorageError> {
    match current {
        None if position == 0 => Ok(()),
        None => Err(StorageError::AppendPosition { next: 0 }),
        Some(rec) if !rec.appendable => Err(StorageError::NotAppendable),
        Some(rec) if rec.size != position => Err(StorageError::AppendPosition { next: rec.size }),
        Some(rec) if rec.segments.len() >= MAX_APPENDS => Err(StorageError::AppendLimit),
        Some(_) => Ok(()),
    }
}

/// The ETag after appending a body whose MD5 is `md5` to an object whose
/// ETag is `previous` (unquoted): `md5(previous ‖ md5)` in lower-case hex.
pub fn chained_etag(previous: &str, md5: &[u8; 16]) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    h.update(previous.as_bytes());
    h.update(md5);
    hex::encode(h.finalize())
}

/// The record after appending the blob `blob` (`None`: an empty body) with
/// `info` to `base`, or, for the creating append, to the empty object
/// described by `template` (headers, class, ACL, tags, SSE as given).
pub fn appended(
    base: Option<&ObjectRecord>,
    template: &ObjectRecord,
    info: &BlobInfo,
    blob: Option<&BlobId>,
    now_ms: i64,
) -> ObjectRecord {
    let mut rec = match base {
        Some(b) => ObjectRecord {
            size: b.size + info.len,
            etag: chained_etag(&b.etag, &info.md5),
            crc64: crc64_combine(b.crc64, info.crc64, info.len),
            ..b.clone()
        },
        None => ObjectRecord {
            size: info.len,
            etag: md5_hex(&info.md5),
            crc64: info.crc64,
            segments: Vec::new(),
            ..template.clone()
        },
    };
    if let Some(blob) = blob {
        rec.segments.push(Segment {
            blob: blob.clone(),
            offset: 0,
            len: info.len,
        });
    }
    rec.last_modified_ms = now_ms;
    rec.appendable = true;
    rec.delete_marker = false;
    rec.restore = None;
    // A flexible checksum covered one body, not the grown object.
    rec.checksum = None;
    rec
}

/// `MetaStore::append_object` (see there) inside the backend's transaction.
pub fn commit_append(
    t: &mut impl KeyTxn,
    rules: impl Into<versions::BucketRules>,
    base: Option<&ObjectRecord>,
    mut rec: ObjectRecord,
    fresh: &[BlobId],
) -> Result<Committed, StorageError> {
    let rules = rules.into();
    let state = rules.versioning;
    let current = t.current()?;
    // Step 1: the outcome the client sees, judged on the current record.
    check(current.as_ref(), base.map_or(0, |b| b.size))?;
    // Step 2: built on exactly this record, or built on stale data.
    if current.as_ref() != base {
        return Err(StorageError::PreconditionFailed);
    }
    if let Some(b) = base {
        if !rec.segments.starts_with(&b.segments) || rec.size < b.size {
            return Err(StorageError::Corrupt(
                "an append must keep the object's segments".into(),
            ));
        }
    }
    // Object lock: growing replaces the current version in place; creating
    // on a versioned bucket replaces the `null` version.
    let now = crate::clock::now_ms();
    super::lock::check_removable(current.as_ref(), now)?;
    if rules.object_lock && current.is_none() && state != Versioning::Off {
        super::lock::check_removable(t.find_null()?.map(|(_, r)| r).as_ref(), now)?;
    }
    rec.appendable = true;
    rec.delete_marker = false;
    rec.retain_until_ms = super::lock::retain_until(rec.last_modified_ms, rules.retention_ms);
    t.take_refs(&rec, fresh)?;
    let mut freed = Vec::new();
    match current {
        // Grow in place: the same version (plain, `null` or an id).
        Some(old) => {
            rec.version_id.clone_from(&old.version_id);
            match old.version_id.as_deref() {
                None => {}
                Some(NULL_VERSION) => {
                    let (seq, _) = t
                        .find_null()?
                        .ok_or_else(|| StorageError::Corrupt("null version missing".into()))?;
                    t.insert_version(seq, &rec)?;
                }
                Some(id) => {
                    let seq = parse_version_id(id)
                        .ok_or_else(|| StorageError::Corrupt(format!("version id {id}")))?;
                    t.insert_version(seq, &rec)?;
                }
            }
            t.set_current(Some(&rec))?;
            freed = t.release(&old)?;
        }
        None if state == Versioning::Off => {
            rec.version_id = None;
            t.set_current(Some(&rec))?;
        }
        // Create on a versioned bucket: the `null` version, newest.
        None => {
            if let Some((_, f)) = drop_null(t)? {
                freed = f;
            }
            let seq = seq_after(t.newest()?.map(|(s, _)| s));
            rec.version_id = Some(NULL_VERSION.to_string());
            t.insert_version(seq, &rec)?;
            t.set_current(Some(&rec))?;
        }
    }
    Ok(Committed {
        version_id: rec.version_id,
        freed,
        retain_until_ms: rec.retain_until_ms,
    })
}

/// What the creating append stores, and how a request is checked.
#[derive(Debug, Clone, Default)]
pub struct AppendOptions {
    /// Headers, storage class, ACL and tags of the object if this append
    /// creates it; ignored by later appends. Its size, ETag, CRC and
    /// segments are not read.
    pub template: Option<ObjectRecord>,
    /// Encrypt a created object at rest (later appends use the object's key).
    pub sse: Option<Sealing>,
    /// Expected MD5 of this append's body; mismatch → `BadDigest`.
    pub content_md5: Option<[u8; 16]>,
    /// The body's `Content-Length`: fewer bytes → `IncompleteBody`, extra ones are ignored.
    pub content_length: u64,
}

/// What [`Store::append_object`] committed.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The object after the append (`size` is the next append position).
    pub record: ObjectRecord,
    /// MD5 of this append's body (COS `x-cos-content-sha1` on the response).
    pub body_md5: [u8; 16],
}

/// A plain template: what an append with no headers creates.
fn default_template() -> ObjectRecord {
    let mut rec = versions::delete_marker(String::new());
    rec.delete_marker = false;
    rec.version_id = None;
    rec
}

impl Store {
    /// Appends `body` at `position` to `key` (creating it at position 0).
    /// # Behavior
    /// - `NoSuchBucket`; the [`check`] errors (`AppendPosition`,
    ///   `NotAppendable`, `AppendLimit`) and `TooLarge` (the object would
    ///   pass [`MAX_APPENDABLE_SIZE`]) are reported before the body is read.
    /// - The body goes into one new blob (sealed with the object's data key
    ///   if it is encrypted); `BadDigest` / `IncompleteBody` as for PUT.
    /// - The commit is conditional on the current record being the one
    ///   the append was built on; a racing append makes this one fail with
    ///   the error [`check`] gives on the new record (two appends at one
    ///   position: one wins). On any failure nothing is visible and the new
    ///   blob is deleted.
    /// - Once the body was read, the commit runs to completion on a spawned
    ///   task even if the caller is cancelled.
    pub async fn append_object(
        &self,
        bucket: &str,
        key: &str,
        position: u64,
        mut body: ByteStream,
        opts: AppendOptions,
    ) -> Result<Appended, StorageError> {
        // Step 1: the outcome, judged before reading the body (not binding).
        let base = self.meta().object(bucket, key).await?;
        check(base.as_ref(), position)?;
        if position
            .checked_add(opts.content_length)
            .is_none_or(|end| end > MAX_APPENDABLE_SIZE)
        {
            return Err(StorageError::TooLarge);
        }
        // Later appends seal with the object's own data key.
        let sealing = match &base {
            Some(rec) => self.sealing_of(rec)?,
            None => opts.sse.clone(),
        };

        // Step 2: stream the body into a new blob, created on the first
        // non-empty chunk. Returning early drops the writer, which discards it.
        let limit = opts.content_length;
        let id = BlobId::generate();
        let mut writer: Option<Box<dyn BlobWriter>> = None;
        let mut received = 0u64;
        while received < limit {
            let Some(chunk) = body.next().await else {
                break;
            };
            let mut chunk = chunk?;
            let room = limit - received;
            if chunk.len() as u64 > room {
                chunk.truncate(room as usize);
            }
            if chunk.is_empty() {
                continue;
            }
            received += chunk.len() as u64;
            if writer.is_none() {
                writer = Some(self.create_blob(&id, sealing.as_ref()).await?);
            }
            if let Some(w) = writer.as_mut() {
                w.write(chunk).await?;
            }
        }
        if received < limit {
            return Err(StorageError::IncompleteBody);
        }
        drop(body);

        // Step 3 runs on its own task so that a cancelled request can
        // neither leave a finished blob unreferenced nor stop half-way.
        let store = self.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let sealed_with = sealing.map(|s| s.info);
        let task = tokio::spawn(async move {
            store
                .commit_append(&bucket, &key, position, id, writer, base, sealed_with, opts)
                .await
        });
        task.await
            .map_err(|e| StorageError::Io(std::io::Error::other(e)))?
    }

    /// The data key later appends to `rec` are sealed with (`None`: plain).
    fn sealing_of(&self, rec: &ObjectRecord) -> Result<Option<Sealing>, StorageError> {
        match &rec.sse {
            None => Ok(None),
            Some(info) => {
                let dek = managed_dek(self.sse_keys(), info).map_err(|e| {
                    StorageError::Corrupt(format!("appendable object's key not available: {e}"))
                })?;
                Ok(Some(Sealing {
                    dek,
                    info: info.clone(),
                }))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn commit_append(
        &self,
        bucket: &str,
        key: &str,
        position: u64,
        id: BlobId,
        writer: Option<Box<dyn BlobWriter>>,
        mut base: Option<ObjectRecord>,
        sealed_with: Option<sse::SseInfo>,
        opts: AppendOptions,
    ) -> Result<Appended, StorageError> {
        let info = self.finish_blob(&id, writer).await?;
        let fresh: Vec<BlobId> = if info.len > 0 { vec![id] } else { Vec::new() };
        if opts.content_md5.is_some_and(|md5| md5 != info.md5) {
            self.free(&fresh).await;
            return Err(StorageError::BadDigest);
        }
        let mut template = opts.template.unwrap_or_else(default_template);
        template.sse = sealed_with.clone();
        let result = async {
            for _ in 0..RETRIES {
                let rec = appended(base.as_ref(), &template, &info, fresh.first(), now_ms());
                match self
                    .meta()
                    .append_object(bucket, key, base.as_ref(), rec.clone(), &fresh)
                    .await
                {
                    Ok(committed) => {
                        self.free(&committed.freed).await;
                        let mut record = rec;
                        record.version_id = committed.version_id;
                        record.retain_until_ms = committed.retain_until_ms;
                        return Ok(record);
                    }
                    // Changed meanwhile: judge again on the new record.
                    Err(StorageError::PreconditionFailed) => {
                        base = self.meta().object(bucket, key).await?;
                        check(base.as_ref(), position)?;
                        let now_sealed = base.as_ref().and_then(|b| b.sse.clone());
                        if base.is_some() && now_sealed != sealed_with {
                            // Recreated with another encryption: our blob
                            // is sealed with the wrong key.
                            return Err(StorageError::Conflict);
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(StorageError::Conflict)
        }
        .await;
        match result {
            Ok(record) => Ok(Appended {
                record,
                body_md5: info.md5,
            }),
            Err(e) => {
                self.free(&fresh).await;
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::versions::tests::{body, shape, Key};
    use super::super::versions::{commit_delete, commit_put};
    use super::*;

    fn info(data: &[u8]) -> BlobInfo {
        let mut h = hash::BodyHasher::new();
        h.update(data);
        h.finish()
    }

    fn blob(tag: &str) -> BlobId {
        BlobId::parse(&format!("{:0>32}", tag)).unwrap()
    }

    #[test]
    fn check_table() {
        let normal = body("1");
        let mut app = body("2");
        app.appendable = true;
        app.size = 5;
        let mut full = app.clone();
        full.segments = vec![app.segments[0].clone(); MAX_APPENDS];
        use StorageError as E;
        let table: Vec<(Option<&ObjectRecord>, u64, Result<(), &str>)> = vec![
            (None, 0, Ok(())),
            (None, 3, Err("AppendPosition 0")),
            (Some(&normal), 0, Err("NotAppendable")),
            (Some(&normal), 1, Err("NotAppendable")),
            (Some(&app), 5, Ok(())),
            (Some(&app), 0, Err("AppendPosition 5")),
            (Some(&app), 6, Err("AppendPosition 5")),
            (Some(&full), 5, Err("AppendLimit")),
        ];
        for (i, (cur, pos, want)) in table.into_iter().enumerate() {
            let got = check(cur, pos).map_err(|e| match e {
                E::AppendPosition { next } => format!("AppendPosition {next}"),
                E::NotAppendable => "NotAppendable".to_string(),
                E::AppendLimit => "AppendLimit".to_string(),
                e => format!("{e:?}"),
            });
            assert_eq!(got, want.map_err(str::to_string), "case {i}");
        }
    }

    #[test]
    fn appended_combines_crc_and_chains_etag() {
        let template = default_template();
        let first = appended(None, &template, &info(b"abc"), Some(&blob("a")), 7);
        assert_eq!(first.size, 3);
        assert_eq!(
            first.etag,
            md5_hex(&info(b"abc").md5),
            "one append = PUT's ETag"
        );
        assert_eq!(first.crc64, info(b"abc").crc64);
        assert!(first.appendable);
        assert_eq!(first.last_modified_ms, 7);
        let second = appended(Some(&first), &template, &info(b"def"), Some(&blob("b")), 8);
        assert_eq!(second.size, 6);
        assert_eq!(
            second.crc64,
            info(b"abcdef").crc64,
            "CRC of the whole object"
        );
        assert_eq!(second.etag, chained_etag(&first.etag, &info(b"def").md5));
        assert_ne!(second.etag, first.etag);
        assert_eq!(second.segments.len(), 2);
        assert_eq!(second.segments[1].blob, blob("b"));
        // An empty append: no segment, same bytes, a new ETag.
        let third = appended(Some(&second), &template, &info(b""), None, 9);
        assert_eq!((third.size, third.segments.len()), (6, 2));
        assert_eq!(third.crc64, second.crc64);
        assert_ne!(third.etag, second.etag);
    }

    enum Step {
        Put(Versioning, &'static str),
        /// Append one byte in a blob named by the tag, at the current size.
        Append(Versioning, &'static str),
        Delete(Versioning),
    }

    fn append_step(k: &mut Key, state: Versioning, tag: &str) -> Result<Committed, StorageError> {
        let base = k.current.clone();
        let mut rec = appended(
            base.as_ref(),
            &default_template(),
            &info(b"x"),
            Some(&blob(tag)),
            0,
        );
        rec.etag = format!("a{tag}");
        commit_append(k, state, base.as_ref(), rec, &[blob(tag)])
    }

    #[test]
    fn rules_table() {
        use Step::*;
        use Versioning::{Enabled as E, Off, Suspended as S};
        // steps, resulting shape (see versions.rs), blobs referenced, the
        // error of the last step if it fails.
        let table: Vec<(Vec<Step>, &str, usize, Option<&str>)> = vec![
            (vec![Append(Off, "1"), Append(Off, "2")], "a2 []", 2, None),
            (
                vec![Put(Off, "1"), Append(Off, "2")],
                "1 []",
                1,
                Some("NotAppendable"),
            ),
            (vec![Append(Off, "1"), Put(Off, "2")], "2 []", 1, None),
            (
                vec![Append(E, "1"), Append(E, "2")],
                "a2 [a2@null]",
                2,
                None,
            ),
            (
                vec![Put(E, "1"), Append(E, "2")],
                "1 [1@id]",
                1,
                Some("NotAppendable"),
            ),
            (
                vec![Put(E, "1"), Delete(E), Append(E, "2")],
                "a2 [a2@null marker@id 1@id]",
                2,
                None,
            ),
            (
                vec![Append(E, "1"), Put(E, "2"), Append(E, "3")],
                "2 [2@id a1@null]",
                2,
                Some("NotAppendable"),
            ),
            (vec![Append(S, "1"), Put(S, "2")], "2 [2@null]", 1, None),
            // A suspended delete marker (the `null` version) is replaced.
            (
                vec![Put(E, "1"), Delete(S), Append(S, "2")],
                "a2 [a2@null 1@id]",
                2,
                None,
            ),
            // Plain appendable objects stay plain once the bucket is versioned.
            (vec![Append(Off, "1"), Append(E, "2")], "a2 []", 2, None),
            (
                vec![Append(E, "1"), Delete(E)],
                "- [marker@id a1@null]",
                1,
                None,
            ),
        ];
        for (i, (steps, want, blobs, err)) in table.into_iter().enumerate() {
            let mut k = Key::default();
            let n = steps.len();
            for (j, step) in steps.into_iter().enumerate() {
                let res = match step {
                    Put(state, tag) => {
                        commit_put(&mut k, state, body(tag), &[], &WriteCondition::None).map(|_| ())
                    }
                    Append(state, tag) => append_step(&mut k, state, tag).map(|_| ()),
                    Delete(state) => commit_delete(&mut k, state, None).map(|_| ()),
                };
                match (res, j + 1 == n, err) {
                    (Ok(()), _, None) => {}
                    (Ok(()), false, Some(_)) => {}
                    (Err(e), true, Some(name)) => {
                        assert!(format!("{e:?}").starts_with(name), "case {i}: {e:?}")
                    }
                    (res, _, _) => panic!("case {i} step {j}: {res:?}"),
                }
            }
            assert_eq!(shape(&k), want, "case {i}");
            assert_eq!(k.refs.len(), blobs, "case {i}: referenced blobs");
        }
    }

    #[test]
    fn stale_base_is_refused_without_change() {
        let mut k = Key::default();
        append_step(&mut k, Versioning::Off, "1").unwrap();
        let stale = k.current.clone();
        append_step(&mut k, Versioning::Off, "2").unwrap();
        // Built on the one-byte object: the position is now wrong.
        let rec = appended(
            stale.as_ref(),
            &default_template(),
            &info(b"x"),
            Some(&blob("3")),
            0,
        );
        let err = commit_append(&mut k, Versioning::Off, stale.as_ref(), rec, &[blob("3")]);
        assert!(
            matches!(err, Err(StorageError::AppendPosition { next: 2 })),
            "{err:?}"
        );
        // Same size, other record (a tag update): rebuild and retry.
        let cur = k.current.clone().unwrap();
        let mut tagged = cur.clone();
        tagged.tags = vec![("a".into(), "b".into())];
        k.current = Some(tagged);
        let rec = appended(
            Some(&cur),
            &default_template(),
            &info(b"x"),
            Some(&blob("4")),
            0,
        );
        let err = commit_append(&mut k, Versioning::Off, Some(&cur), rec, &[blob("4")]);
        assert!(
            matches!(err, Err(StorageError::PreconditionFailed)),
            "{err:?}"
        );
        assert_eq!(k.current.as_ref().unwrap().size, 2);
        assert_eq!(k.refs.len(), 2, "nothing changed");
        // A record that drops the base's segments is refused.
        let base = k.current.clone();
        let mut rec = appended(
            base.as_ref(),
            &default_template(),
            &info(b"x"),
            Some(&blob("5")),
            0,
        );
        rec.segments.remove(0);
        let err = commit_append(&mut k, Versioning::Off, base.as_ref(), rec, &[blob("5")]);
        assert!(matches!(err, Err(StorageError::Corrupt(_))), "{err:?}");
    }
}
