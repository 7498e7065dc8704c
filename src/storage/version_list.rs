//! GET Bucket Object Versions (`GET /?versions`) over the ordered versions
//! scan: prefix, delimiter roll-up, key-marker / version-id-marker paging
//! (spec cos.md §3.2 "Object versions").

use super::store::past_prefix;
use super::versions::{parse_version_id, PLAIN_SEQ};
use super::{StorageError, Store, VersionCursor, VersionEntry, NULL_VERSION};

/// Largest batch asked of the index at once.
const BATCH: usize = 1000;
/// First batch when a delimiter is set (see `Store::list_objects`).
const BATCH_DELIMITED: usize = 16;

/// `GET /?versions` input.
#[derive(Debug, Clone, Default)]
pub struct VersionsQuery {
    pub prefix: String,
    /// Empty means no delimiter.
    pub delimiter: String,
    /// Empty means from the start.
    pub key_marker: String,
    /// Only with a `key_marker`: resume after this version of it.
    pub version_id_marker: Option<String>,
    pub max_keys: usize,
}

/// One page of versions. Entries and common prefixes count against `max_keys`.
#[derive(Debug, Clone, Default)]
pub struct VersionsPage {
    pub entries: Vec<VersionEntry>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// The page's last key or common prefix when truncated.
    pub next_key_marker: Option<String>,
    /// The page's last version id when truncated on a version.
    pub next_version_id_marker: Option<String>,
}

impl Store {
    /// Versions and delete markers of keys with `prefix`, in key order and
    /// newest first within a key.
    /// # Behavior
    /// - `NoSuchBucket` if the bucket is absent.
    /// - `key_marker` alone resumes after every version of that key; with
    ///   `version_id_marker`, after that version (`null` included). A marker
    ///   version that no longer exists resumes at the next older one.
    /// - Delimiter roll-up and common prefixes as in `Store::list_objects`.
    /// - `is_truncated` when more follow; the next markers name the page's
    ///   last entry. `max_keys == 0` → an empty page, not truncated.
    pub async fn list_versions(
        &self,
        bucket: &str,
        q: &VersionsQuery,
    ) -> Result<VersionsPage, StorageError> {
        let mut page = VersionsPage::default();
        let meta = self.meta();
        if q.max_keys == 0 {
            meta.bucket(bucket)
                .await?
                .ok_or(StorageError::NoSuchBucket)?;
            return Ok(page);
        }
        let rollup = |key: &str| -> Option<String> {
            if q.delimiter.is_empty() {
                return None;
            }
            let rest = key.strip_prefix(q.prefix.as_str())?;
            let at = rest.find(q.delimiter.as_str())?;
            Some(key[..q.prefix.len() + at + q.delimiter.len()].to_string())
        };
        let mut last_cp = rollup(&q.key_marker);
        let mut cursor = match &last_cp {
            Some(cp) => VersionCursor {
                key: past_prefix(cp),
                seq: None,
            },
            None => VersionCursor {
                key: q.key_marker.clone(),
                seq: self.marker_seq(bucket, q).await?,
            },
        };
        let mut count = 0usize;
        let mut last: (String, Option<String>) = Default::default();
        let mut batch_size = if q.delimiter.is_empty() {
            BATCH
        } else {
            BATCH_DELIMITED
        };
        loop {
            let want = (q.max_keys - count).saturating_add(1).min(batch_size);
            let batch = meta.list_versions(bucket, &q.prefix, &cursor, want).await?;
            let exhausted = batch.len() < want;
            let mut reseek = false;
            for entry in batch {
                let cp = rollup(&entry.key);
                if cp.is_some() && cp == last_cp {
                    cursor = VersionCursor {
                        key: entry.key.clone(),
                        seq: Some(entry.seq),
                    };
                    continue;
                }
                if count == q.max_keys {
                    page.is_truncated = true;
                    page.next_key_marker = Some(last.0);
                    page.next_version_id_marker = last.1;
                    return Ok(page);
                }
                count += 1;
                match cp {
                    Some(cp) => {
                        cursor = VersionCursor {
                            key: past_prefix(&cp),
                            seq: None,
                        };
                        last = (cp.clone(), None);
                        page.common_prefixes.push(cp.clone());
                        last_cp = Some(cp);
                        reseek = true;
                        break;
                    }
                    None => {
                        cursor = VersionCursor {
                            key: entry.key.clone(),
                            seq: Some(entry.seq),
                        };
                        last = (entry.key.clone(), Some(entry.version_id().to_string()));
                        page.entries.push(entry);
                    }
                }
            }
            if exhausted && !reseek {
                return Ok(page);
            }
            batch_size = if reseek {
                BATCH_DELIMITED
            } else {
                (batch_size * 2).min(BATCH)
            };
        }
    }

    /// The seq after which a listing resumes inside `key_marker`: `None`
    /// (after the whole key) without a version-id-marker.
    async fn marker_seq(
        &self,
        bucket: &str,
        q: &VersionsQuery,
    ) -> Result<Option<u64>, StorageError> {
        let Some(v) = q.version_id_marker.as_deref().filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        if v != NULL_VERSION {
            return Ok(parse_version_id(v));
        }
        // `null` has no fixed seq: find it among the key's versions.
        let key = q.key_marker.as_str();
        let mut cursor = VersionCursor {
            key: key.to_string(),
            seq: Some(PLAIN_SEQ),
        };
        if let Some(rec) = self
            .meta()
            .object_version(bucket, key, Some(NULL_VERSION))
            .await?
        {
            if rec.version_id.is_none() {
                return Ok(Some(PLAIN_SEQ));
            }
        }
        loop {
            let batch = self
                .meta()
                .list_versions(bucket, key, &cursor, BATCH)
                .await?;
            let done = batch.len() < BATCH;
            for e in batch {
                if e.key != key {
                    return Ok(None);
                }
                if e.version_id() == NULL_VERSION {
                    return Ok(Some(e.seq));
                }
                cursor.seq = Some(e.seq);
            }
            if done {
                return Ok(None);
            }
        }
    }
}
