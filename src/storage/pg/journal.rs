//! One key's rows as loaded inside a PostgreSQL transaction, and the writes
//! the shared rules make to them (`versions::commit_*`, `multipart::commit_*`,
//! `append::commit_append` run unchanged over [`KeyState`]). `PgMeta` loads
//! what the rules can read, runs the rule, then writes the journal back in
//! the same transaction.
//!
//! Only part of a key's history is loaded (the newest few versions, the
//! `null` version and the version a call names). A read the loaded rows
//! cannot answer exactly sets [`KeyState::short`] and fails; `PgMeta` then
//! loads every version of the key and runs the rule again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::storage::multipart::{PartRecord, UploadRecord, UploadTxn};
use crate::storage::versions::{KeyTxn, KeyView};
use crate::storage::{BlobId, ObjectRecord, Seq, StorageError, NULL_VERSION};

/// The error a rule sees when the loaded rows cannot answer its read.
fn short_error() -> StorageError {
    StorageError::Corrupt("pg: a read beyond the loaded rows".into())
}

#[derive(Default)]
pub(super) struct KeyState {
    /// The `objects` row (working copy).
    pub cur: Option<ObjectRecord>,
    pub cur_dirty: bool,
    /// Loaded and written versions (working copy).
    pub vers: BTreeMap<Seq, ObjectRecord>,
    /// Versions written (`true`) or removed (`false`).
    pub ver_dirty: BTreeMap<Seq, bool>,
    /// `vers` was loaded with every version of the key.
    pub complete: bool,
    /// When not `complete`: every version with a seq at or below this was loaded.
    pub horizon: Option<Seq>,
    /// A version loaded by seq (present or not).
    pub named: Option<Seq>,
    /// Reference count changes by blob.
    pub refs: BTreeMap<BlobId, i64>,
    /// Blobs that must already be referenced (reused, not fresh).
    pub must_exist: BTreeSet<BlobId>,
    /// A read went beyond the loaded rows.
    pub short: AtomicBool,
    // Multipart (when loaded).
    pub upload: Option<UploadRecord>,
    pub upload_removed: bool,
    pub parts: BTreeMap<u32, PartRecord>,
    /// Every part was loaded (else only `one_part`).
    pub parts_all: bool,
    pub one_part: Option<u32>,
    pub parts_dirty: BTreeMap<u32, PartRecord>,
}

impl KeyState {
    fn short<T>(&self) -> Result<T, StorageError> {
        self.short.store(true, Ordering::Relaxed);
        Err(short_error())
    }

    pub fn is_short(&self) -> bool {
        self.short.load(Ordering::Relaxed)
    }

    /// Whether the loaded rows say exactly whether version `seq` exists.
    fn knows(&self, seq: Seq) -> bool {
        self.complete
            || self.horizon.is_some_and(|h| seq <= h)
            || self.named == Some(seq)
            || self.ver_dirty.contains_key(&seq)
    }
}

impl KeyView for KeyState {
    fn current(&self) -> Result<Option<ObjectRecord>, StorageError> {
        Ok(self.cur.clone())
    }

    fn newest(&self) -> Result<Option<(Seq, ObjectRecord)>, StorageError> {
        match self.vers.iter().next() {
            Some((s, r)) if self.complete || self.horizon.is_some_and(|h| *s <= h) => {
                Ok(Some((*s, r.clone())))
            }
            None if self.complete => Ok(None),
            _ => self.short(),
        }
    }

    fn version(&self, seq: Seq) -> Result<Option<ObjectRecord>, StorageError> {
        if let Some(r) = self.vers.get(&seq) {
            return Ok(Some(r.clone()));
        }
        if self.knows(seq) {
            Ok(None)
        } else {
            self.short()
        }
    }

    fn find_null(&self) -> Result<Option<(Seq, ObjectRecord)>, StorageError> {
        // The `null` version is always loaded (its own index), so the
        // working copy knows it exactly.
        Ok(self
            .vers
            .iter()
            .find(|(_, r)| r.version_id.as_deref() == Some(NULL_VERSION))
            .map(|(s, r)| (*s, r.clone())))
    }
}

impl KeyTxn for KeyState {
    fn set_current(&mut self, rec: Option<&ObjectRecord>) -> Result<(), StorageError> {
        self.cur = rec.cloned();
        self.cur_dirty = true;
        Ok(())
    }

    fn insert_version(&mut self, seq: Seq, rec: &ObjectRecord) -> Result<(), StorageError> {
        self.vers.insert(seq, rec.clone());
        self.ver_dirty.insert(seq, true);
        Ok(())
    }

    fn remove_version(&mut self, seq: Seq) -> Result<(), StorageError> {
        self.vers.remove(&seq);
        self.ver_dirty.insert(seq, false);
        Ok(())
    }

    fn take_refs(&mut self, rec: &ObjectRecord, fresh: &[BlobId]) -> Result<(), StorageError> {
        for id in rec.blob_ids() {
            *self.refs.entry(id.clone()).or_insert(0) += 1;
            if !fresh.contains(id) {
                self.must_exist.insert(id.clone());
            }
        }
        Ok(())
    }

    fn release(&mut self, rec: &ObjectRecord) -> Result<Vec<BlobId>, StorageError> {
        for id in rec.blob_ids() {
            *self.refs.entry(id.clone()).or_insert(0) -= 1;
        }
        // The blobs actually freed are known once the counts are written
        // (`PgMeta` reports those).
        Ok(Vec::new())
    }
}

impl UploadTxn for KeyState {
    fn upload(&self) -> Result<Option<UploadRecord>, StorageError> {
        if self.upload_removed {
            return Ok(None);
        }
        Ok(self.upload.clone())
    }

    fn parts(&self) -> Result<Vec<PartRecord>, StorageError> {
        if !self.parts_all {
            return self.short();
        }
        Ok(self.parts.values().cloned().collect())
    }

    fn part(&self, number: u32) -> Result<Option<PartRecord>, StorageError> {
        if !self.parts_all
            && self.one_part != Some(number)
            && !self.parts_dirty.contains_key(&number)
        {
            return self.short();
        }
        Ok(self.parts.get(&number).cloned())
    }

    fn set_part(&mut self, part: &PartRecord) -> Result<(), StorageError> {
        self.parts.insert(part.part_number, part.clone());
        self.parts_dirty.insert(part.part_number, part.clone());
        Ok(())
    }

    fn remove_upload(&mut self) -> Result<(), StorageError> {
        self.upload_removed = true;
        self.parts.clear();
        self.parts_dirty.clear();
        Ok(())
    }

    fn add_ref(&mut self, blob: &BlobId) -> Result<(), StorageError> {
        *self.refs.entry(blob.clone()).or_insert(0) += 1;
        Ok(())
    }

    fn drop_ref(&mut self, blob: &BlobId) -> Result<bool, StorageError> {
        *self.refs.entry(blob.clone()).or_insert(0) -= 1;
        Ok(false)
    }
}
