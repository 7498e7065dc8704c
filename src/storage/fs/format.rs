//! The data dir's on-disk format version.
//!
//! The version lives in the index (table `localcos_format`, key `version`)
//! and, for people and for a check before the index is touched, in a
//! `FORMAT` file next to it. On open:
//! - no version anywhere: a new data dir, or one written before versions
//!   existed (that layout *is* format 1): stamped [`CURRENT`];
//! - an older version: the migrations in [`MIGRATIONS`] run in order, each
//!   in one index transaction that also stamps the version it reaches;
//! - a newer or unreadable version: refused, with a message saying what to do.
//!
//! Changing the layout of anything in the data dir (tables, record JSON that
//! an older build cannot read, blob file names, the sealed blob format)
//! means: bump [`CURRENT`], add a migration, and regenerate the committed
//! fixture `tests/fixtures/datadir-v<N>/` (`scripts/make-datadir-fixture.sh`)
//! while keeping the old one, which the `format` integration tests open.
//! Fields added with `#[serde(default)]` need no bump: old records load.

use std::path::Path;

use redb::{TableDefinition, WriteTransaction};

use super::meta::{db_err, RedbMeta};
use crate::storage::StorageError;

/// The format this build writes and reads.
pub const CURRENT: u64 = 1;

const TABLE: TableDefinition<&str, u64> = TableDefinition::new("localcos_format");
const KEY: &str = "version";
/// The human-readable copy, in the data dir.
pub const FILE: &str = "FORMAT";

/// A migration from format `n` to `n + 1`, at index `n - 1`, run inside the
/// transaction that stamps `n + 1`. None yet: format 1 is the first.
type Migration = fn(&WriteTransaction) -> Result<(), StorageError>;
const MIGRATIONS: &[Migration] = &[];

fn refuse_newer(dir: &Path, found: u64) -> StorageError {
    StorageError::Format(format!(
        "the data dir {} has on-disk format {found}, newer than this localcos ({}) reads \
         (format {CURRENT}): it was written by a newer localcos. Run that release (or a later \
         one) on it, or start this one on another --data-dir; downgrades are not supported.",
        dir.display(),
        env!("CARGO_PKG_VERSION"),
    ))
}

/// The version a `FORMAT` file names.
fn parse_file(text: &str) -> Option<u64> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "format").then(|| v.trim().parse().ok())?
        })
}

fn file_text(version: u64) -> String {
    format!(
        "# localcos data dir on-disk format (written by localcos {}); do not edit.\n\
         # The index (meta.redb) holds the same number; see README \"Integrity: scrub and fsck\".\n\
         format = {version}\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Before the index is opened: refuses a `FORMAT` file that names a newer
/// format or cannot be read (a future format may not even have the index
/// this build would create).
pub(super) fn check_file(dir: &Path) -> Result<Option<u64>, StorageError> {
    let text = match std::fs::read_to_string(dir.join(FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match parse_file(&text) {
        Some(v) if v > CURRENT => Err(refuse_newer(dir, v)),
        Some(v) => Ok(Some(v)),
        None => Err(StorageError::Format(format!(
            "{}: unreadable (it should hold a line `format = <number>`); restore it, or \
             delete it to let the index's own version decide",
            dir.join(FILE).display()
        ))),
    }
}

/// The version the index records (`None`: never stamped).
pub(super) fn read_version(meta: &RedbMeta) -> Result<Option<u64>, StorageError> {
    let txn = meta.database().begin_read().map_err(db_err)?;
    let table = match txn.open_table(TABLE) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(db_err(e)),
    };
    let v = table.get(KEY).map_err(db_err)?.map(|g| g.value());
    Ok(v)
}

fn stamp(txn: &WriteTransaction, version: u64) -> Result<(), StorageError> {
    let mut table = txn.open_table(TABLE).map_err(db_err)?;
    table.insert(KEY, version).map_err(db_err)?;
    Ok(())
}

/// After the index is opened: stamps, migrates or refuses (module docs),
/// and (re)writes the `FORMAT` file. Returns the format now in effect.
pub(super) fn check_and_stamp(meta: &RedbMeta, dir: &Path) -> Result<u64, StorageError> {
    let found = read_version(meta)?;
    match found {
        Some(v) if v > CURRENT => return Err(refuse_newer(dir, v)),
        Some(CURRENT) => {}
        None => {
            let txn = meta.database().begin_write().map_err(db_err)?;
            stamp(&txn, CURRENT)?;
            txn.commit().map_err(db_err)?;
            tracing::info!(
                format = CURRENT,
                "data dir had no format version: stamped (an unversioned data dir is format 1)"
            );
        }
        Some(mut v) => {
            while v < CURRENT {
                let migrate = MIGRATIONS.get((v - 1) as usize).ok_or_else(|| {
                    StorageError::Format(format!(
                        "no migration from on-disk format {v} to {}: upgrade through an \
                         intermediate localcos release",
                        v + 1
                    ))
                })?;
                let txn = meta.database().begin_write().map_err(db_err)?;
                migrate(&txn)?;
                stamp(&txn, v + 1)?;
                txn.commit().map_err(db_err)?;
                tracing::info!(from = v, to = v + 1, "migrated the data dir");
                v += 1;
            }
        }
    }
    let path = dir.join(FILE);
    let current = std::fs::read_to_string(&path).ok();
    if current.as_deref().and_then(parse_file) != Some(CURRENT) {
        let tmp = dir.join(format!("{FILE}.tmp"));
        std::fs::write(&tmp, file_text(CURRENT))?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(CURRENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_format_file() {
        let cases: &[(&str, Option<u64>)] = &[
            ("format = 1\n", Some(1)),
            ("# comment\n\nformat=7", Some(7)),
            (&file_text(3), Some(3)),
            ("format = x", None),
            ("version = 1", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_file(text), *want, "{text:?}");
        }
    }

    #[tokio::test]
    async fn stamp_accept_and_refuse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        // New (or unversioned) data dir: stamped.
        {
            let meta = RedbMeta::open(&path.join("meta.redb")).await.unwrap();
            assert_eq!(read_version(&meta).unwrap(), None);
            assert_eq!(check_and_stamp(&meta, path).unwrap(), CURRENT);
            assert_eq!(read_version(&meta).unwrap(), Some(CURRENT));
            assert_eq!(check_file(path).unwrap(), Some(CURRENT));
            // Again: nothing changes.
            assert_eq!(check_and_stamp(&meta, path).unwrap(), CURRENT);
            // A newer version in the index is refused with advice.
            let txn = meta.database().begin_write().unwrap();
            stamp(&txn, CURRENT + 1).unwrap();
            txn.commit().unwrap();
            let err = check_and_stamp(&meta, path).unwrap_err().to_string();
            assert!(err.contains("newer") && err.contains("downgrades"), "{err}");
        }
        // A newer FORMAT file is refused before the index is opened.
        std::fs::write(path.join(FILE), file_text(CURRENT + 5)).unwrap();
        let err = check_file(path).unwrap_err().to_string();
        assert!(err.contains(&format!("format {}", CURRENT + 5)), "{err}");
        std::fs::write(path.join(FILE), "garbage").unwrap();
        assert!(check_file(path)
            .unwrap_err()
            .to_string()
            .contains("unreadable"));
    }
}
