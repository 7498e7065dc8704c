//! Object versions: the bucket's versioning state, version ids, and the
//! shapes `MetaStore` uses for versioned writes and the versions listing
//! (spec cos.md §6 "Versioning", §3.2 "Object versions").
//!
//! Layout every `MetaStore` follows:
//! - the `objects` index keeps the current, non-marker record of each key:
//!   GET of the latest stays one lookup;
//! - a record written while its bucket had never been versioned carries no
//!   version id (a *plain* record): it lives in `objects` only, owns its blob
//!   references there, and is the key's one version, listed as `null`;
//! - every other record (versions and delete markers) lives in `versions`,
//!   keyed by (bucket, key, [`Seq`]) so that one key's versions are a
//!   contiguous range, newest first, and the listing is an ordered scan.
//!   The current one is also mirrored in `objects` (without a second
//!   reference to its blobs);
//! - the first versioned write to a key moves its plain record into
//!   `versions` as the `null` version.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::lock;
use super::{BlobId, BucketRecord, ObjectRecord, StorageError, WriteCondition};

/// The literal version id of a suspended bucket's writes and of plain records.
pub const NULL_VERSION: &str = "null";

/// A bucket's versioning state. Once versioned, a bucket never returns to
/// `Off` (COS offers Enabled and Suspended only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    /// Never versioned: writes replace, deletes remove, no version ids.
    #[default]
    Off,
    /// Every write adds a version with a fresh id; deletes add markers.
    Enabled,
    /// Writes and deletes replace the `null` version.
    Suspended,
}

impl Versioning {
    pub fn is_off(&self) -> bool {
        *self == Versioning::Off
    }

    /// The `<Status>` text, `None` when never set.
    pub fn status(self) -> Option<&'static str> {
        match self {
            Versioning::Off => None,
            Versioning::Enabled => Some("Enabled"),
            Versioning::Suspended => Some("Suspended"),
        }
    }
}

/// What a bucket's record says about writes to its keys, read by every
/// `MetaStore` in the write's own transaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketRules {
    pub versioning: Versioning,
    /// Object lock is enabled (it never turns off): only then can a
    /// version be retained, so only then do the rules look ([`lock`]).
    pub object_lock: bool,
    /// Object lock's default retention of new versions (ms); `None`: no
    /// default rule.
    pub retention_ms: Option<i64>,
}

impl BucketRules {
    pub fn of(rec: &BucketRecord) -> BucketRules {
        let lock = lock::ObjectLockConfig::of(rec);
        BucketRules {
            versioning: rec.versioning,
            object_lock: lock.is_some(),
            retention_ms: lock.and_then(|c| c.retention_ms()),
        }
    }
}

impl From<Versioning> for BucketRules {
    fn from(versioning: Versioning) -> BucketRules {
        BucketRules {
            versioning,
            object_lock: false,
            retention_ms: None,
        }
    }
}

/// A version's place among its key's versions: the inverted creation time
/// in microseconds, so that ascending order is newest first. The plain
/// record of a never-versioned key sorts at [`PLAIN_SEQ`].
pub type Seq = u64;

/// Where a plain record sorts: before (newer than) every real version; a key
/// with a plain record has no other versions.
pub const PLAIN_SEQ: Seq = 0;

/// Last microsecond handed out, so ids are unique and increasing in this
/// process even when the clock stalls or steps back.
static LAST_MICROS: AtomicU64 = AtomicU64::new(0);

/// A fresh sequence number, newer than every one this process made before.
pub fn next_seq() -> Seq {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(1);
    let mut last = LAST_MICROS.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST_MICROS.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return u64::MAX - next,
            Err(seen) => last = seen,
        }
    }
}

/// The seq of a new version of a key whose newest version has `newest`:
/// a fresh one, forced below `newest` if the clock did not move past it.
pub fn seq_after(newest: Option<Seq>) -> Seq {
    let fresh = next_seq();
    match newest {
        Some(n) if n <= fresh => n.saturating_sub(1).max(1),
        _ => fresh,
    }
}

/// The seq a plain record gets when it moves into `versions` as `null`:
/// from its modification time (the key has no other versions yet, and
/// [`seq_after`] keeps the next version newer even if the clock disagrees).
pub fn seq_of_plain(rec: &ObjectRecord) -> Seq {
    u64::MAX - (rec.last_modified_ms.max(1) as u64).saturating_mul(1000)
}

/// The id COS-style: base64 of the seq in decimal (COS's
/// `MTg0NDUxNTc1NjIzMTQ1MDAwODg` is `"18445157562314500088"`), without
/// padding. Digits only ever encode to `[A-Za-z0-9]`, so the id is URL-safe.
pub fn version_id(seq: Seq) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(seq.to_string())
}

/// The seq named by an id; `None` for anything [`version_id`] cannot produce
/// (including `null`, which has no fixed seq).
pub fn parse_version_id(id: &str) -> Option<Seq> {
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(id)
        .ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || text.starts_with('0') {
        return None;
    }
    let seq: Seq = text.parse().ok()?;
    (seq != PLAIN_SEQ && version_id(seq) == id).then_some(seq)
}

/// What `MetaStore::put_object` committed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    /// The new record's version id: `None` in a never-versioned bucket,
    /// `null` in a suspended one.
    pub version_id: Option<String>,
    /// Blobs no record references any more; the caller deletes them.
    pub freed: Vec<BlobId>,
    /// The new record's object-lock retention ([`lock`]).
    pub retain_until_ms: Option<i64>,
}

/// What `MetaStore::delete_object` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deletion {
    /// The version (or plain record, or marker) removed for good.
    pub removed: Option<ObjectRecord>,
    /// The delete marker written (versioned bucket, no version named).
    pub marker: Option<ObjectRecord>,
    /// Blobs no record references any more; the caller deletes them.
    pub freed: Vec<BlobId>,
}

/// Where a versions scan resumes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionCursor {
    /// Entries of keys after this one (all keys when empty and `seq` is `None`).
    pub key: String,
    /// `Some(s)`: also the entries of `key` older than `s` (after seq `s`).
    pub seq: Option<Seq>,
}

/// One entry of a versions scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionEntry {
    pub key: String,
    pub seq: Seq,
    /// The version or delete marker; `version_id` is `None` for a plain record.
    pub record: ObjectRecord,
    /// The newest entry of its key.
    pub is_latest: bool,
}

impl VersionEntry {
    /// The id to show: plain records are the `null` version.
    pub fn version_id(&self) -> &str {
        self.record.version_id.as_deref().unwrap_or(NULL_VERSION)
    }
}

/// Whether the entry at (`key`, `seq`) comes after `cursor`.
pub fn is_after(cursor: &VersionCursor, key: &str, seq: Seq) -> bool {
    match key.cmp(cursor.key.as_str()) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => cursor.seq.is_some_and(|s| seq > s),
    }
}

/// A delete marker written now.
pub fn delete_marker(version_id: String) -> ObjectRecord {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    ObjectRecord {
        size: 0,
        etag: String::new(),
        crc64: 0,
        last_modified_ms: now,
        headers: Default::default(),
        storage_class: "STANDARD".to_string(),
        segments: Vec::new(),
        sse: None,
        version_id: Some(version_id),
        delete_marker: true,
        restore: None,
        checksum: None,
        acl: None,
        tags: Vec::new(),
        appendable: false,
        retain_until_ms: None,
        symlink_target: None,
        replication_status: None,
        corrupt: None,
    }
}

// ---------------------------------------------------------------------------
// The rules, written once over what a backend's transaction offers.

/// Read access to one key inside a transaction.
pub trait KeyView {
    /// The `objects` entry (current non-marker record), if any.
    fn current(&self) -> Result<Option<ObjectRecord>, StorageError>;
    /// The key's newest entry in `versions`.
    fn newest(&self) -> Result<Option<(Seq, ObjectRecord)>, StorageError>;
    /// The key's entry at `seq` in `versions`.
    fn version(&self, seq: Seq) -> Result<Option<ObjectRecord>, StorageError>;
    /// The key's entry in `versions` whose id is `null`.
    fn find_null(&self) -> Result<Option<(Seq, ObjectRecord)>, StorageError>;
}

/// Write access to one key (and the blob reference counts) inside one
/// transaction. An error aborts the whole transaction; `take_refs` fails
/// before changing anything.
pub trait KeyTxn: KeyView {
    /// Sets (`Some`) or removes (`None`) the `objects` entry.
    fn set_current(&mut self, rec: Option<&ObjectRecord>) -> Result<(), StorageError>;
    fn insert_version(&mut self, seq: Seq, rec: &ObjectRecord) -> Result<(), StorageError>;
    fn remove_version(&mut self, seq: Seq) -> Result<(), StorageError>;
    /// One more reference to each of `rec`'s blobs. A blob not in `fresh`
    /// must already be referenced, else `Conflict` and nothing changes.
    fn take_refs(&mut self, rec: &ObjectRecord, fresh: &[BlobId]) -> Result<(), StorageError>;
    /// One reference less to each of `rec`'s blobs; returns those now unreferenced.
    fn release(&mut self, rec: &ObjectRecord) -> Result<Vec<BlobId>, StorageError>;
}

/// Implements [`KeyView`] and [`KeyTxn`] for `$ty` by passing every call to
/// its field `$field` (a backend's key transaction, wrapped with more tables,
/// as the multipart transactions are).
macro_rules! delegate_key_txn {
    ($ty:ty, $field:ident) => {
        impl $crate::storage::versions::KeyView for $ty {
            fn current(
                &self,
            ) -> Result<Option<$crate::storage::ObjectRecord>, $crate::storage::StorageError> {
                self.$field.current()
            }
            fn newest(
                &self,
            ) -> Result<
                Option<($crate::storage::Seq, $crate::storage::ObjectRecord)>,
                $crate::storage::StorageError,
            > {
                self.$field.newest()
            }
            fn version(
                &self,
                seq: $crate::storage::Seq,
            ) -> Result<Option<$crate::storage::ObjectRecord>, $crate::storage::StorageError> {
                self.$field.version(seq)
            }
            fn find_null(
                &self,
            ) -> Result<
                Option<($crate::storage::Seq, $crate::storage::ObjectRecord)>,
                $crate::storage::StorageError,
            > {
                self.$field.find_null()
            }
        }
        impl $crate::storage::versions::KeyTxn for $ty {
            fn set_current(
                &mut self,
                rec: Option<&$crate::storage::ObjectRecord>,
            ) -> Result<(), $crate::storage::StorageError> {
                self.$field.set_current(rec)
            }
            fn insert_version(
                &mut self,
                seq: $crate::storage::Seq,
                rec: &$crate::storage::ObjectRecord,
            ) -> Result<(), $crate::storage::StorageError> {
                self.$field.insert_version(seq, rec)
            }
            fn remove_version(
                &mut self,
                seq: $crate::storage::Seq,
            ) -> Result<(), $crate::storage::StorageError> {
                self.$field.remove_version(seq)
            }
            fn take_refs(
                &mut self,
                rec: &$crate::storage::ObjectRecord,
                fresh: &[$crate::storage::BlobId],
            ) -> Result<(), $crate::storage::StorageError> {
                self.$field.take_refs(rec, fresh)
            }
            fn release(
                &mut self,
                rec: &$crate::storage::ObjectRecord,
            ) -> Result<Vec<$crate::storage::BlobId>, $crate::storage::StorageError> {
                self.$field.release(rec)
            }
        }
    };
}
pub(crate) use delegate_key_txn;

/// `MetaStore::object_version` (see there).
pub fn lookup(
    v: &impl KeyView,
    version_id: Option<&str>,
) -> Result<Option<ObjectRecord>, StorageError> {
    match version_id {
        None => match v.current()? {
            Some(rec) => Ok(Some(rec)),
            None => Ok(v.newest()?.map(|(_, rec)| rec)),
        },
        Some(NULL_VERSION) => match v.current()? {
            Some(rec) if rec.version_id.is_none() => Ok(Some(rec)),
            _ => Ok(v.find_null()?.map(|(_, rec)| rec)),
        },
        Some(id) => match parse_version_id(id) {
            Some(seq) => Ok(v
                .version(seq)?
                .filter(|rec| rec.version_id.as_deref() == Some(id))),
            None => Ok(None),
        },
    }
}

/// `MetaStore::update_object_meta` (see there): replaces the record `expected`
/// (the current one, or the version it names) by `new` in place. When that
/// version is also the current record, both index entries change together.
pub fn update_meta(
    t: &mut impl KeyTxn,
    expected: &ObjectRecord,
    new: ObjectRecord,
) -> Result<(), StorageError> {
    if new.segments != expected.segments || new.version_id != expected.version_id {
        return Err(StorageError::Corrupt(
            "a metadata update must keep the segments and the version".into(),
        ));
    }
    let current = t.current()?;
    let is_current = current.as_ref() == Some(expected);
    let version = match expected.version_id.as_deref() {
        // A plain record lives only in `objects`.
        None => None,
        Some(NULL_VERSION) => match t.find_null()? {
            Some((seq, rec)) => Some((seq, rec)),
            None if is_current => None,
            None => return Err(StorageError::PreconditionFailed),
        },
        Some(id) => {
            let seq = parse_version_id(id).ok_or(StorageError::PreconditionFailed)?;
            t.version(seq)?.map(|rec| (seq, rec))
        }
    };
    match version {
        Some((seq, rec)) if rec == *expected => t.insert_version(seq, &new)?,
        Some(_) => return Err(StorageError::PreconditionFailed),
        None if is_current => {}
        None => return Err(StorageError::PreconditionFailed),
    }
    if is_current {
        t.set_current(Some(&new))?;
    }
    Ok(())
}

/// Moves a plain current record into `versions` as the `null` version (it
/// keeps its blob references: still one record).
fn demote_plain(t: &mut impl KeyTxn, current: Option<&ObjectRecord>) -> Result<(), StorageError> {
    if let Some(plain) = current.filter(|r| r.version_id.is_none()) {
        let mut rec = plain.clone();
        rec.version_id = Some(NULL_VERSION.to_string());
        t.insert_version(seq_of_plain(&rec), &rec)?;
    }
    Ok(())
}

/// Removes the `null` version from `versions` (suspended writes replace it).
pub(super) fn drop_null(
    t: &mut impl KeyTxn,
) -> Result<Option<(ObjectRecord, Vec<BlobId>)>, StorageError> {
    match t.find_null()? {
        Some((seq, old)) => {
            t.remove_version(seq)?;
            let freed = t.release(&old)?;
            Ok(Some((old, freed)))
        }
        None => Ok(None),
    }
}

/// The id and seq of the next version of the key.
fn next_version(t: &impl KeyTxn, state: Versioning) -> Result<(Seq, String), StorageError> {
    let seq = seq_after(t.newest()?.map(|(s, _)| s));
    let id = match state {
        Versioning::Suspended => NULL_VERSION.to_string(),
        _ => version_id(seq),
    };
    Ok((seq, id))
}

/// `MetaStore::put_object` (see there) inside the backend's transaction.
pub fn commit_put(
    t: &mut impl KeyTxn,
    rules: impl Into<BucketRules>,
    mut rec: ObjectRecord,
    fresh: &[BlobId],
    cond: &WriteCondition,
) -> Result<Committed, StorageError> {
    let rules = rules.into();
    let state = rules.versioning;
    let current = t.current()?;
    cond.check(current.as_ref())?;
    check_replaceable(t, &rules, current.as_ref())?;
    rec.delete_marker = false;
    rec.retain_until_ms = lock::retain_until(rec.last_modified_ms, rules.retention_ms);
    // New references first, so that a blob shared by the replaced and the
    // new record (copy onto itself) never drops to zero.
    t.take_refs(&rec, fresh)?;
    let mut freed = Vec::new();
    if state == Versioning::Off {
        rec.version_id = None;
        t.set_current(Some(&rec))?;
        if let Some(old) = current {
            freed = t.release(&old)?;
        }
    } else {
        demote_plain(t, current.as_ref())?;
        if state == Versioning::Suspended {
            if let Some((_, f)) = drop_null(t)? {
                freed = f;
            }
        }
        let (seq, id) = next_version(t, state)?;
        rec.version_id = Some(id);
        t.insert_version(seq, &rec)?;
        t.set_current(Some(&rec))?;
    }
    Ok(Committed {
        version_id: rec.version_id,
        freed,
        retain_until_ms: rec.retain_until_ms,
    })
}

/// Object lock: `ObjectLocked` if a write (or a plain delete) in `state`
/// would remove or replace a retained version: the current record when the
/// bucket was never versioned, the `null` version (plain or not) when
/// suspended; nothing when enabled (a new version or marker is added).
pub(super) fn check_replaceable(
    t: &impl KeyView,
    rules: &BucketRules,
    current: Option<&ObjectRecord>,
) -> Result<(), StorageError> {
    if !rules.object_lock {
        return Ok(());
    }
    let now = crate::clock::now_ms();
    match rules.versioning {
        Versioning::Off => lock::check_removable(current, now),
        Versioning::Suspended => {
            lock::check_removable(current.filter(|r| r.version_id.is_none()), now)?;
            lock::check_removable(t.find_null()?.map(|(_, r)| r).as_ref(), now)
        }
        Versioning::Enabled => Ok(()),
    }
}

/// `MetaStore::delete_object` (see there) inside the backend's transaction.
pub fn commit_delete(
    t: &mut impl KeyTxn,
    rules: impl Into<BucketRules>,
    version_id: Option<&str>,
) -> Result<Deletion, StorageError> {
    let rules = rules.into();
    let state = rules.versioning;
    let current = t.current()?;
    let Some(id) = version_id else {
        check_replaceable(t, &rules, current.as_ref())?;
        if state == Versioning::Off {
            let Some(old) = current else {
                return Ok(Deletion::default());
            };
            t.set_current(None)?;
            let freed = t.release(&old)?;
            return Ok(Deletion {
                removed: Some(old),
                marker: None,
                freed,
            });
        }
        let mut out = Deletion::default();
        demote_plain(t, current.as_ref())?;
        if state == Versioning::Suspended {
            if let Some((old, freed)) = drop_null(t)? {
                out.removed = Some(old);
                out.freed = freed;
            }
        }
        let (seq, id) = next_version(t, state)?;
        let marker = delete_marker(id);
        t.insert_version(seq, &marker)?;
        if current.is_some() {
            t.set_current(None)?;
        }
        out.marker = Some(marker);
        return Ok(out);
    };
    // A named version. The plain record is the `null` version.
    let target = if id == NULL_VERSION {
        if let Some(plain) = current.as_ref().filter(|r| r.version_id.is_none()) {
            lock::check_removable(Some(plain), crate::clock::now_ms())?;
            t.set_current(None)?;
            let freed = t.release(plain)?;
            return Ok(Deletion {
                removed: current,
                marker: None,
                freed,
            });
        }
        t.find_null()?
    } else {
        match parse_version_id(id) {
            Some(seq) => t
                .version(seq)?
                .filter(|rec| rec.version_id.as_deref() == Some(id))
                .map(|rec| (seq, rec)),
            None => None,
        }
    };
    let Some((seq, old)) = target else {
        return Ok(Deletion::default());
    };
    lock::check_removable(Some(&old), crate::clock::now_ms())?;
    let was_newest = t.newest()?.is_some_and(|(s, _)| s == seq);
    t.remove_version(seq)?;
    let freed = t.release(&old)?;
    if was_newest {
        // The next version becomes current, unless it is a marker.
        match t.newest()? {
            Some((_, next)) if !next.delete_marker => t.set_current(Some(&next))?,
            _ if current.is_some() => t.set_current(None)?,
            _ => {}
        }
    }
    Ok(Deletion {
        removed: Some(old),
        marker: None,
        freed,
    })
}

/// What a guarded delete expects to find (`MetaStore::delete_object_guarded`):
/// a decision made on a record read earlier (lifecycle) never removes or
/// hides a record written since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteGuard {
    /// The key's current object is exactly this record; the delete is the
    /// one without a version (removes it, or writes a delete marker).
    Current(ObjectRecord),
    /// This version (named by its id), exactly as read, and not the
    /// key's latest entry; it is removed for good.
    Noncurrent(ObjectRecord),
    /// This delete marker, exactly as read, is the key's latest entry; it
    /// is removed for good.
    LatestMarker(ObjectRecord),
}

/// A `LatestMarker` guard only ever removes a delete marker.
fn rec_is_marker(guard: &DeleteGuard) -> bool {
    matches!(guard, DeleteGuard::LatestMarker(rec) if rec.delete_marker)
}

/// `MetaStore::delete_object_guarded` inside the backend's transaction:
/// `PreconditionFailed` (nothing changes) unless `guard` holds, then
/// [`commit_delete`].
pub fn commit_delete_guarded(
    t: &mut impl KeyTxn,
    rules: impl Into<BucketRules>,
    guard: &DeleteGuard,
) -> Result<Deletion, StorageError> {
    let rules = rules.into();
    let (seq, version) = match guard {
        DeleteGuard::Current(rec) => {
            if t.current()?.as_ref() != Some(rec) {
                return Err(StorageError::PreconditionFailed);
            }
            return commit_delete(t, rules, None);
        }
        DeleteGuard::Noncurrent(rec) | DeleteGuard::LatestMarker(rec) => {
            let id = rec
                .version_id
                .as_deref()
                .ok_or(StorageError::PreconditionFailed)?;
            let found = if id == NULL_VERSION {
                t.find_null()?
            } else {
                match parse_version_id(id) {
                    Some(seq) => t.version(seq)?.map(|r| (seq, r)),
                    None => None,
                }
            };
            match found {
                Some((seq, r)) if r == *rec => (seq, id),
                _ => return Err(StorageError::PreconditionFailed),
            }
        }
    };
    let newest = t.newest()?.map(|(s, _)| s);
    let holds = match guard {
        DeleteGuard::Noncurrent(_) => newest != Some(seq),
        _ => newest == Some(seq) && rec_is_marker(guard),
    };
    if !holds {
        return Err(StorageError::PreconditionFailed);
    }
    commit_delete(t, rules, Some(version))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn cos_sample_id_round_trips() {
        let seq: Seq = 18_445_157_562_314_500_088;
        assert_eq!(version_id(seq), "MTg0NDUxNTc1NjIzMTQ1MDAwODg");
        assert_eq!(parse_version_id("MTg0NDUxNTc1NjIzMTQ1MDAwODg"), Some(seq));
    }

    #[test]
    fn bad_ids_parse_to_none() {
        for id in [
            "",
            "null",
            "MA",                           // "0": the plain seq is never an id
            "MDE",                          // "01": not canonical
            "YWJj",                         // "abc"
            "MTg0NDUxNTc1NjIzMTQ1MDAwODg=", // padding
            "MTg0NDUxNTc1NjIzMTQ1MDAwODg/",
            "OTk5OTk5OTk5OTk5OTk5OTk5OTk5", // "999999999999999999999" overflows u64
        ] {
            assert_eq!(parse_version_id(id), None, "{id:?}");
        }
    }

    #[test]
    fn seqs_are_unique_newest_first_and_url_safe() {
        let seqs: Vec<Seq> = (0..1000).map(|_| next_seq()).collect();
        assert!(seqs.windows(2).all(|w| w[1] < w[0]), "strictly newer");
        for s in &seqs[..10] {
            let id = version_id(*s);
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
            assert_eq!(parse_version_id(&id), Some(*s));
        }
        // Forced below an existing newer version.
        let newest = next_seq() - 1_000_000;
        assert!(seq_after(Some(newest)) < newest);
        assert!(seq_after(None) > PLAIN_SEQ);
    }

    #[test]
    fn cursor_order() {
        let c = |key: &str, seq| VersionCursor {
            key: key.into(),
            seq,
        };
        let table = [
            (c("", None), "a", 5, true),
            (c("a", None), "a", 5, false),
            (c("a", None), "b", 5, true),
            (c("a", Some(5)), "a", 5, false),
            (c("a", Some(5)), "a", 6, true),
            (c("a", Some(5)), "a", 4, false),
            (c("b", Some(5)), "a", 9, false),
        ];
        for (cursor, key, seq, want) in table {
            assert_eq!(is_after(&cursor, key, seq), want, "{cursor:?} {key} {seq}");
        }
    }

    /// One key in maps, for the rules alone (the backends are tested by
    /// the conformance suite).
    #[derive(Default)]
    pub(in crate::storage) struct Key {
        pub(in crate::storage) current: Option<ObjectRecord>,
        pub(in crate::storage) versions: std::collections::BTreeMap<Seq, ObjectRecord>,
        pub(in crate::storage) refs: std::collections::HashMap<BlobId, u64>,
    }

    impl KeyView for Key {
        fn current(&self) -> Result<Option<ObjectRecord>, StorageError> {
            Ok(self.current.clone())
        }
        fn newest(&self) -> Result<Option<(Seq, ObjectRecord)>, StorageError> {
            Ok(self.versions.iter().next().map(|(s, r)| (*s, r.clone())))
        }
        fn version(&self, seq: Seq) -> Result<Option<ObjectRecord>, StorageError> {
            Ok(self.versions.get(&seq).cloned())
        }
        fn find_null(&self) -> Result<Option<(Seq, ObjectRecord)>, StorageError> {
            Ok(self
                .versions
                .iter()
                .find(|(_, r)| r.version_id.as_deref() == Some(NULL_VERSION))
                .map(|(s, r)| (*s, r.clone())))
        }
    }

    impl KeyTxn for Key {
        fn set_current(&mut self, rec: Option<&ObjectRecord>) -> Result<(), StorageError> {
            self.current = rec.cloned();
            Ok(())
        }
        fn insert_version(&mut self, seq: Seq, rec: &ObjectRecord) -> Result<(), StorageError> {
            self.versions.insert(seq, rec.clone());
            Ok(())
        }
        fn remove_version(&mut self, seq: Seq) -> Result<(), StorageError> {
            self.versions.remove(&seq);
            Ok(())
        }
        fn take_refs(&mut self, rec: &ObjectRecord, _: &[BlobId]) -> Result<(), StorageError> {
            for id in rec.blob_ids() {
                *self.refs.entry(id.clone()).or_default() += 1;
            }
            Ok(())
        }
        fn release(&mut self, rec: &ObjectRecord) -> Result<Vec<BlobId>, StorageError> {
            let mut freed = Vec::new();
            for id in rec.blob_ids() {
                let n = self.refs.entry(id.clone()).or_default();
                *n -= 1;
                if *n == 0 {
                    self.refs.remove(id);
                    freed.push(id.clone());
                }
            }
            Ok(freed)
        }
    }

    pub(in crate::storage) fn body(tag: &str) -> ObjectRecord {
        let blob = BlobId::parse(&format!("{:0>32}", tag)).unwrap();
        let mut rec = delete_marker(String::new());
        rec.delete_marker = false;
        rec.version_id = None;
        rec.etag = tag.to_string();
        rec.size = 1;
        rec.segments = vec![super::super::Segment {
            blob,
            offset: 0,
            len: 1,
        }];
        rec
    }

    /// What a key looks like: the current record's etag (`-` when none), then
    /// each version newest first as `etag@null`, `etag@id` (`id` for fresh
    /// ids) or `marker@…`.
    pub(in crate::storage) fn shape(k: &Key) -> String {
        let cur = k
            .current
            .as_ref()
            .map_or("-".to_string(), |r| r.etag.clone());
        let vs: Vec<String> = k
            .versions
            .values()
            .map(|r| {
                let what = if r.delete_marker {
                    "marker"
                } else {
                    r.etag.as_str()
                };
                match r.version_id.as_deref() {
                    Some(NULL_VERSION) => format!("{what}@null"),
                    _ => format!("{what}@id"),
                }
            })
            .collect();
        format!("{cur} [{}]", vs.join(" "))
    }

    enum Step {
        Put(Versioning, &'static str),
        Delete(Versioning),
        /// Delete the version at this index of the newest-first list.
        DeleteAt(usize),
        DeleteNull,
    }

    #[test]
    fn rules_table() {
        use Step::*;
        use Versioning::{Enabled as E, Off, Suspended as S};
        let table: Vec<(Vec<Step>, &str, usize)> = vec![
            // steps, resulting shape, blobs still referenced
            (vec![Put(Off, "1"), Put(Off, "2")], "2 []", 1),
            (vec![Put(Off, "1"), Delete(Off)], "- []", 0),
            (vec![Put(E, "1"), Put(E, "2")], "2 [2@id 1@id]", 2),
            (vec![Put(Off, "1"), Put(E, "2")], "2 [2@id 1@null]", 2),
            (vec![Put(E, "1"), Delete(E)], "- [marker@id 1@id]", 1),
            (vec![Delete(E)], "- [marker@id]", 0),
            (
                vec![Put(E, "1"), Put(S, "2"), Put(S, "3")],
                "3 [3@null 1@id]",
                2,
            ),
            (vec![Put(Off, "1"), Put(S, "2")], "2 [2@null]", 1),
            (
                vec![Put(E, "1"), Put(S, "2"), Delete(S)],
                "- [marker@null 1@id]",
                1,
            ),
            (vec![Put(E, "1"), Delete(E), DeleteAt(0)], "1 [1@id]", 1),
            (vec![Put(E, "1"), Put(E, "2"), DeleteAt(0)], "1 [1@id]", 1),
            (vec![Put(E, "1"), Put(E, "2"), DeleteAt(1)], "2 [2@id]", 1),
            (
                vec![Put(E, "1"), Put(E, "2"), Delete(E), DeleteAt(1)],
                "- [marker@id 1@id]",
                1,
            ),
            (vec![Put(Off, "1"), DeleteNull], "- []", 0),
            (vec![Put(Off, "1"), Put(E, "2"), DeleteNull], "2 [2@id]", 1),
            (
                vec![Put(E, "1"), Put(S, "2"), Put(E, "3"), DeleteNull],
                "3 [3@id 1@id]",
                2,
            ),
        ];
        for (i, (steps, want, blobs)) in table.into_iter().enumerate() {
            let mut k = Key::default();
            for step in steps {
                match step {
                    Put(state, tag) => {
                        commit_put(&mut k, state, body(tag), &[], &WriteCondition::None).unwrap();
                    }
                    Delete(state) => {
                        commit_delete(&mut k, state, None).unwrap();
                    }
                    DeleteAt(at) => {
                        let id = k.versions.values().nth(at).unwrap().version_id.clone();
                        let done =
                            commit_delete(&mut k, Versioning::Enabled, id.as_deref()).unwrap();
                        assert!(done.removed.is_some(), "case {i}");
                    }
                    DeleteNull => {
                        let done =
                            commit_delete(&mut k, Versioning::Enabled, Some(NULL_VERSION)).unwrap();
                        assert!(done.removed.is_some(), "case {i}");
                    }
                }
            }
            assert_eq!(shape(&k), want, "case {i}");
            assert_eq!(k.refs.len(), blobs, "case {i}: referenced blobs");
        }
    }

    #[test]
    fn conditions_see_markers_as_absent() {
        let mut k = Key::default();
        commit_put(
            &mut k,
            Versioning::Enabled,
            body("1"),
            &[],
            &WriteCondition::None,
        )
        .unwrap();
        let err = commit_put(
            &mut k,
            Versioning::Enabled,
            body("2"),
            &[],
            &WriteCondition::IfNoneMatch,
        );
        assert!(matches!(err, Err(StorageError::AlreadyExists)));
        commit_delete(&mut k, Versioning::Enabled, None).unwrap();
        commit_put(
            &mut k,
            Versioning::Enabled,
            body("2"),
            &[],
            &WriteCondition::IfNoneMatch,
        )
        .unwrap();
        assert_eq!(shape(&k), "2 [2@id marker@id 1@id]");
    }
}
