//! `localcos fsck`: checks a stopped server's data dir, the index against
//! the blob files (README "Integrity: scrub and fsck").
//!
//! Checks, all from one read transaction of the index and one listing of
//! `blobs/` and `tmp/` (no object bytes are read: that is `scrub`'s job):
//! - every record's segments add up to its size, and every blob a record
//!   references exists and is long enough for its segments (for encrypted
//!   objects: the plaintext length its sealed size gives);
//! - every part of an open multipart upload has its upload, and a blob of
//!   the part's size;
//! - the blob reference counts equal the references records and parts hold;
//! - every blob file is referenced (else an orphan: a write cut off between
//!   the blob's rename and its index commit); `tmp/` holds no leftovers.
//!
//! The data dir's lock (redb's, taken by the server) is the guard against
//! in-flight writes: while fsck holds it no server runs, so a blob nothing
//! references can never gain a reference, and `tmp/` is only leftovers.
//!
//! `--repair`: marks records with missing or short blobs corrupt (the
//! records stay: GET refuses them, DELETE removes them), removes part rows
//! whose blob is gone or whose upload is gone (Complete then answers
//! InvalidPart instead of making a broken object), rewrites wrong
//! reference counts, deletes orphan blobs and `tmp/` leftovers. Files with
//! names localcos never writes are reported and left alone. Records
//! already marked corrupt are listed, not counted as problems, so a second
//! fsck after `--repair` is clean.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use redb::ReadableTable;

use super::format;
use super::meta::{db_err, decode, encode, RedbMeta, BLOB_REFS, OBJECTS, PARTS, UPLOADS, VERSIONS};
use crate::storage::scrub::CorruptMark;
use crate::storage::sse::chunked::Layout;
use crate::storage::sse::SseInfo;
use crate::storage::{BlobId, ObjectRecord, PartRecord, StorageError, UploadRecord};

/// What kind of problem (for the summary counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    MissingBlob,
    ShortBlob,
    BadRecord,
    BrokenPart,
    RefCount,
    Orphan,
    TmpLeftover,
    /// A row that does not decode: reported, never repaired.
    Unreadable,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::MissingBlob => "missing blob",
            Kind::ShortBlob => "blob too short",
            Kind::BadRecord => "bad record",
            Kind::BrokenPart => "broken upload part",
            Kind::RefCount => "wrong reference count",
            Kind::Orphan => "orphan blob",
            Kind::TmpLeftover => "tmp leftover",
            Kind::Unreadable => "unreadable index row",
        }
    }
}

/// One problem found; `repaired` once `--repair` fixed it.
#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: Kind,
    pub text: String,
    pub repaired: bool,
}

/// What fsck found (and did).
#[derive(Debug, Default)]
pub struct FsckReport {
    pub data_dir: PathBuf,
    /// `None`: the index was never stamped (format 1; stamped at next start).
    pub format: Option<u64>,
    pub records: u64,
    pub parts: u64,
    pub blob_files: u64,
    pub problems: Vec<Problem>,
    /// Records already marked corrupt (by scrub or an earlier repair).
    pub known_corrupt: Vec<String>,
    /// Files localcos did not write, left alone.
    pub unknown_files: Vec<PathBuf>,
}

impl FsckReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// Problems `--repair` did not (or could not) fix.
    pub fn unrepaired(&self) -> usize {
        self.problems.iter().filter(|p| !p.repaired).count()
    }

    /// The human-readable report `localcos fsck` prints.
    pub fn render(&self, repair: bool) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let fmt = match self.format {
            Some(v) => format!("format {v}"),
            None => "unversioned (format 1)".into(),
        };
        let _ = writeln!(out, "localcos fsck: {} ({fmt})", self.data_dir.display());
        let _ = writeln!(
            out,
            "  checked {} records, {} upload parts, {} blob files",
            self.records, self.parts, self.blob_files
        );
        for p in &self.problems {
            let state = if p.repaired { "REPAIRED" } else { "PROBLEM " };
            let _ = writeln!(out, "  {state} {}: {}", p.kind.label(), p.text);
        }
        for c in &self.known_corrupt {
            let _ = writeln!(out, "  known    marked corrupt: {c}");
        }
        for f in &self.unknown_files {
            let _ = writeln!(
                out,
                "  note     not a localcos file, left alone: {}",
                f.display()
            );
        }
        let mut counts: Vec<(Kind, usize)> = Vec::new();
        for p in &self.problems {
            match counts.iter_mut().find(|(k, _)| *k == p.kind) {
                Some((_, n)) => *n += 1,
                None => counts.push((p.kind, 1)),
            }
        }
        counts.sort();
        let summary = counts
            .iter()
            .map(|(k, n)| format!("{n} {}", k.label()))
            .collect::<Vec<_>>()
            .join(", ");
        if self.problems.is_empty() {
            let _ = writeln!(out, "clean: no problems found");
        } else if repair {
            let left = self.unrepaired();
            let _ = writeln!(
                out,
                "{} problems ({summary}); {} repaired, {left} left",
                self.problems.len(),
                self.problems.len() - left
            );
        } else {
            let _ = writeln!(
                out,
                "{} problems ({summary}); run `localcos fsck --repair` to fix them",
                self.problems.len()
            );
        }
        out
    }
}

/// `blobs/<last 2 hex of id>/<id>`, as `FsBlobs` names them.
fn blob_path(dir: &Path, id: &str) -> PathBuf {
    dir.join("blobs").join(&id[30..]).join(id)
}

/// Blob files by id (with their length), plus files that are not blobs.
fn scan_blobs(dir: &Path) -> std::io::Result<(HashMap<String, u64>, Vec<PathBuf>)> {
    let mut blobs = HashMap::new();
    let mut unknown = Vec::new();
    let root = dir.join("blobs");
    let shards = match std::fs::read_dir(&root) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((blobs, unknown)),
        Err(e) => return Err(e),
    };
    for shard in shards {
        let shard = shard?;
        let name = shard.file_name().to_string_lossy().into_owned();
        if !shard.file_type()?.is_dir() {
            unknown.push(shard.path());
            continue;
        }
        for entry in std::fs::read_dir(shard.path())? {
            let entry = entry?;
            let file = entry.file_name().to_string_lossy().into_owned();
            let is_blob = entry.file_type()?.is_file()
                && BlobId::parse(&file).is_some()
                && file[30..] == name;
            if is_blob {
                blobs.insert(file, entry.metadata()?.len());
            } else {
                unknown.push(entry.path());
            }
        }
    }
    Ok((blobs, unknown))
}

/// Plaintext bytes a blob of `len` bytes holds (`None`: no sealed layout gives it).
fn usable(len: u64, sse: Option<&SseInfo>) -> Option<u64> {
    match sse {
        None => Some(len),
        Some(info) => Layout::new(info.chunk_size).plain_len(len),
    }
}

/// What is wrong with a record's blobs, if anything (first problem only).
fn record_problem(rec: &ObjectRecord, blobs: &HashMap<String, u64>) -> Option<(Kind, String)> {
    let total: u64 = rec.segments.iter().map(|s| s.len).sum();
    if total != rec.size {
        return Some((
            Kind::BadRecord,
            format!(
                "segments add up to {total} bytes, the record says {}",
                rec.size
            ),
        ));
    }
    for seg in &rec.segments {
        let id = seg.blob.as_str();
        let Some(&len) = blobs.get(id) else {
            return Some((Kind::MissingBlob, format!("blob {id} is missing")));
        };
        let need = seg.offset + seg.len;
        match usable(len, rec.sse.as_ref()) {
            Some(have) if have >= need => {}
            Some(have) => {
                return Some((
                    Kind::ShortBlob,
                    format!("blob {id} holds {have} bytes, the record needs {need}"),
                ))
            }
            None => {
                return Some((
                    Kind::ShortBlob,
                    format!("encrypted blob {id} is {len} bytes, which no plaintext length gives"),
                ))
            }
        }
    }
    None
}

fn describe(bucket: &str, key: &str, rec: &ObjectRecord) -> String {
    match &rec.version_id {
        Some(v) => format!("{bucket}/{key} (version {v})"),
        None => format!("{bucket}/{key}"),
    }
}

/// Where a record to mark lives.
enum Slot {
    Plain(String, String),
    Version(String, String, u64),
}

/// Checks (and with `repair`, fixes) the data dir at `dir`.
/// # Behavior
/// - Not a data dir (no `meta.redb`), a newer format, or a data dir in use
///   by a running server → `Err` with a message saying so; nothing changes.
pub async fn run(dir: &Path, repair: bool) -> Result<FsckReport, StorageError> {
    if !dir.join("meta.redb").is_file() {
        return Err(StorageError::Format(format!(
            "{} is not a localcos data dir (no meta.redb)",
            dir.display()
        )));
    }
    format::check_file(dir)?;
    let meta = RedbMeta::open(&dir.join("meta.redb")).await?;
    let version = format::read_version(&meta)?;
    if let Some(v) = version.filter(|v| *v > format::CURRENT) {
        return Err(StorageError::Format(format!(
            "{}: on-disk format {v} is newer than this localcos reads ({}); use the newer localcos",
            dir.display(),
            format::CURRENT
        )));
    }
    let (blobs, unknown) = scan_blobs(dir)?;
    let mut report = FsckReport {
        data_dir: dir.to_path_buf(),
        format: version,
        blob_files: blobs.len() as u64,
        unknown_files: unknown,
        ..Default::default()
    };
    // References records and parts hold, as the index should count them.
    let mut refs: HashMap<String, u64> = HashMap::new();
    let mut to_mark: Vec<(Slot, ObjectRecord, String)> = Vec::new();
    let mut bad_parts: Vec<(String, u32, String)> = Vec::new();
    let mut index_refs: HashMap<String, u64> = HashMap::new();
    let deferred: std::collections::HashSet<String>;

    {
        let db = meta.database();
        let txn = db.begin_read().map_err(db_err)?;
        let mut check =
            |slot: Slot, bucket: &str, key: &str, rec: ObjectRecord, report: &mut FsckReport| {
                report.records += 1;
                for id in rec.blob_ids() {
                    *refs.entry(id.as_str().to_string()).or_default() += 1;
                }
                if let Some((kind, why)) = record_problem(&rec, &blobs) {
                    let what = describe(bucket, key, &rec);
                    match &rec.corrupt {
                        Some(mark) => report
                            .known_corrupt
                            .push(format!("{what}: {} (now: {why})", mark.reason)),
                        None => {
                            report.problems.push(Problem {
                                kind,
                                text: format!("{what}: {why}"),
                                repaired: false,
                            });
                            to_mark.push((slot, rec, why));
                        }
                    }
                } else if let Some(mark) = &rec.corrupt {
                    let what = describe(bucket, key, &rec);
                    report
                        .known_corrupt
                        .push(format!("{what}: {}", mark.reason));
                }
            };
        // Plain records own their references in `objects`; versioned ones
        // are mirrors there (their `versions` row owns them).
        let objects = txn.open_table(OBJECTS).map_err(db_err)?;
        for entry in objects.iter().map_err(db_err)? {
            let (k, v) = entry.map_err(db_err)?;
            let (bucket, key) = k.value();
            match decode::<ObjectRecord>(v.value()) {
                Ok(rec) if rec.version_id.is_none() => check(
                    Slot::Plain(bucket.to_string(), key.to_string()),
                    bucket,
                    key,
                    rec,
                    &mut report,
                ),
                Ok(_) => {}
                Err(e) => report.problems.push(Problem {
                    kind: Kind::Unreadable,
                    text: format!("{bucket}/{key}: record unreadable: {e}"),
                    repaired: false,
                }),
            }
        }
        let versions = txn.open_table(VERSIONS).map_err(db_err)?;
        for entry in versions.iter().map_err(db_err)? {
            let (k, v) = entry.map_err(db_err)?;
            let (bucket, key, seq) = k.value();
            match decode::<ObjectRecord>(v.value()) {
                Ok(rec) if rec.delete_marker => {}
                Ok(rec) => check(
                    Slot::Version(bucket.to_string(), key.to_string(), seq),
                    bucket,
                    key,
                    rec,
                    &mut report,
                ),
                Err(e) => report.problems.push(Problem {
                    kind: Kind::Unreadable,
                    text: format!("{bucket}/{key} (seq {seq}): record unreadable: {e}"),
                    repaired: false,
                }),
            }
        }
        // Open uploads and their parts.
        let mut uploads: HashMap<String, (String, String, Option<SseInfo>)> = HashMap::new();
        let uploads_t = txn.open_table(UPLOADS).map_err(db_err)?;
        for entry in uploads_t.iter().map_err(db_err)? {
            let (k, v) = entry.map_err(db_err)?;
            let (bucket, key, id) = k.value();
            let sse = decode::<UploadRecord>(v.value())
                .ok()
                .and_then(|u| u.template.sse);
            uploads.insert(id.to_string(), (bucket.to_string(), key.to_string(), sse));
        }
        let parts = txn.open_table(PARTS).map_err(db_err)?;
        for entry in parts.iter().map_err(db_err)? {
            let (k, v) = entry.map_err(db_err)?;
            let (upload_id, number) = k.value();
            report.parts += 1;
            let part: PartRecord = match decode(v.value()) {
                Ok(p) => p,
                Err(e) => {
                    report.problems.push(Problem {
                        kind: Kind::Unreadable,
                        text: format!("upload {upload_id} part {number}: row unreadable: {e}"),
                        repaired: false,
                    });
                    continue;
                }
            };
            let id = part.blob.as_str().to_string();
            let why = match (uploads.get(upload_id), blobs.get(&id)) {
                (None, _) => Some((
                    format!("upload {upload_id} part {number}"),
                    "its upload is gone".to_string(),
                )),
                (Some((b, k, _)), None) => Some((
                    format!("{b}/{k} upload {upload_id} part {number}"),
                    format!("blob {id} is missing"),
                )),
                (Some((b, k, sse)), Some(&len)) => {
                    let ok = part.size == 0 || usable(len, sse.as_ref()) == Some(part.size);
                    (!ok).then(|| {
                        (
                            format!("{b}/{k} upload {upload_id} part {number}"),
                            format!("blob {id} is {len} bytes, the part is {} bytes", part.size),
                        )
                    })
                }
            };
            match why {
                Some((what, why)) => {
                    report.problems.push(Problem {
                        kind: Kind::BrokenPart,
                        text: format!("{what}: {why}"),
                        repaired: false,
                    });
                    bad_parts.push((upload_id.to_string(), number, id));
                }
                None => *refs.entry(id).or_default() += 1,
            }
        }
        let refs_t = txn.open_table(BLOB_REFS).map_err(db_err)?;
        for entry in refs_t.iter().map_err(db_err)? {
            let (k, v) = entry.map_err(db_err)?;
            index_refs.insert(k.value().to_string(), v.value());
        }
        deferred = super::meta::deferred_blob_ids(&txn)?;
    }
    // A broken part still holds its reference in the index until repaired.
    let mut counted = refs.clone();
    for (_, _, id) in &bad_parts {
        *counted.entry(id.clone()).or_default() += 1;
    }
    let mut ref_fixes: Vec<(String, u64)> = Vec::new();
    let all: HashSet<&String> = index_refs.keys().chain(counted.keys()).collect();
    let mut all: Vec<&String> = all.into_iter().collect();
    all.sort();
    for id in all {
        let have = index_refs.get(id).copied().unwrap_or(0);
        let want = counted.get(id).copied().unwrap_or(0);
        if have != want {
            report.problems.push(Problem {
                kind: Kind::RefCount,
                text: format!(
                    "blob {id}: the index counts {have} references, records and parts hold {want}"
                ),
                repaired: false,
            });
        }
        // After a repair the broken parts' references are gone.
        let after = refs.get(id).copied().unwrap_or(0);
        if have != after {
            ref_fixes.push((id.clone(), after));
        }
    }
    // A deferred delete (`--gc-grace-seconds`) is not an orphan: the
    // collector deletes it once due.
    let mut orphans: Vec<String> = blobs
        .keys()
        .filter(|id| !refs.contains_key(*id) && !deferred.contains(*id))
        .cloned()
        .collect();
    orphans.sort();
    for id in &orphans {
        report.problems.push(Problem {
            kind: Kind::Orphan,
            text: format!(
                "{} ({} bytes) is referenced by no record or part",
                blob_path(Path::new(""), id).display(),
                blobs[id]
            ),
            repaired: false,
        });
    }
    let mut tmp_files: Vec<PathBuf> = match std::fs::read_dir(dir.join("tmp")) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    tmp_files.sort();
    for p in &tmp_files {
        report.problems.push(Problem {
            kind: Kind::TmpLeftover,
            text: format!("{} (an interrupted write)", p.display()),
            repaired: false,
        });
    }

    if !repair || report.problems.is_empty() {
        return Ok(report);
    }

    // Repair: one index transaction, then the files.
    let db = meta.database();
    let txn = db.begin_write().map_err(db_err)?;
    {
        let now = crate::storage::store::now_ms();
        let mut objects = txn.open_table(OBJECTS).map_err(db_err)?;
        let mut versions = txn.open_table(VERSIONS).map_err(db_err)?;
        for (slot, rec, why) in &to_mark {
            let marked = ObjectRecord {
                corrupt: Some(CorruptMark {
                    reason: format!("fsck: {why}"),
                    found_ms: now,
                }),
                ..rec.clone()
            };
            let value = encode(&marked)?;
            match slot {
                Slot::Plain(b, k) => {
                    objects
                        .insert((b.as_str(), k.as_str()), value.as_slice())
                        .map_err(db_err)?;
                }
                Slot::Version(b, k, seq) => {
                    versions
                        .insert((b.as_str(), k.as_str(), *seq), value.as_slice())
                        .map_err(db_err)?;
                    // The current version's mirror in `objects` too.
                    let mirror = objects
                        .get((b.as_str(), k.as_str()))
                        .map_err(db_err)?
                        .map(|g| decode::<ObjectRecord>(g.value()));
                    if let Some(Ok(m)) = mirror {
                        if m == *rec {
                            objects
                                .insert((b.as_str(), k.as_str()), value.as_slice())
                                .map_err(db_err)?;
                        }
                    }
                }
            }
        }
        let mut parts = txn.open_table(PARTS).map_err(db_err)?;
        for (upload_id, number, _) in &bad_parts {
            parts
                .remove((upload_id.as_str(), *number))
                .map_err(db_err)?;
        }
        let mut refs_t = txn.open_table(BLOB_REFS).map_err(db_err)?;
        for (id, n) in &ref_fixes {
            if *n == 0 {
                refs_t.remove(id.as_str()).map_err(db_err)?;
            } else {
                refs_t.insert(id.as_str(), *n).map_err(db_err)?;
            }
        }
    }
    txn.commit().map_err(db_err)?;
    for p in report.problems.iter_mut() {
        p.repaired = matches!(
            p.kind,
            Kind::MissingBlob
                | Kind::ShortBlob
                | Kind::BadRecord
                | Kind::BrokenPart
                | Kind::RefCount
        );
    }
    let mut removed_orphans: HashSet<String> = HashSet::new();
    for id in &orphans {
        match std::fs::remove_file(blob_path(dir, id)) {
            Ok(()) => {
                removed_orphans.insert(id.clone());
            }
            Err(e) => {
                tracing::warn!(blob = id.as_str(), error = %e, "fsck: could not delete orphan")
            }
        }
    }
    let mut removed_tmp: HashSet<PathBuf> = HashSet::new();
    for p in &tmp_files {
        let done = if p.is_dir() {
            std::fs::remove_dir_all(p)
        } else {
            std::fs::remove_file(p)
        };
        if done.is_ok() {
            removed_tmp.insert(p.clone());
        }
    }
    for (p, id) in report
        .problems
        .iter_mut()
        .filter(|p| p.kind == Kind::Orphan)
        .zip(&orphans)
    {
        p.repaired = removed_orphans.contains(id);
    }
    for (p, path) in report
        .problems
        .iter_mut()
        .filter(|p| p.kind == Kind::TmpLeftover)
        .zip(&tmp_files)
    {
        p.repaired = removed_tmp.contains(path);
    }
    Ok(report)
}
