//! Stored credentials (`localcos keys`): the records every `MetaStore` keeps
//! in its `keys` table, shared by every node that shares the index (NOTES
//! 16). The rules (sealing, scopes, rotation) live in `crate::admin::keys`;
//! the store only keeps records and a generation counter, both changed in one
//! transaction, so any reader can tell cheaply whether its copy is current.

use serde::{Deserialize, Serialize};

/// A key's state. Revoked keys stay listed (their secret is wiped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Revoked,
}

/// A SecretKey at rest: in clear (no master key configured) or sealed with
/// AES-256-GCM under the master key (`crate::admin::seal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StoredSecret {
    Plain {
        value: String,
    },
    Sealed {
        /// Which master key sealed it: a short fingerprint, for messages.
        key_id: String,
        /// base64 of the 12-byte nonce.
        nonce: String,
        /// base64 of ciphertext followed by the 16-byte tag.
        sealed: String,
    },
    /// Revoked keys keep no secret.
    Wiped,
}

/// One stored credential pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub secret_id: String,
    pub secret: StoredSecret,
    /// Full bucket names (`<name>-<appid>`) the key may use; empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<String>,
    /// Reads only (data and ACLs).
    #[serde(default)]
    pub read_only: bool,
    /// Unix milliseconds.
    pub created_ms: i64,
    pub status: KeyStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When the key was revoked (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_ms: Option<i64>,
    /// A rotated key stops working at this instant (Unix ms): the grace
    /// period `keys rotate --grace` gives its replacement's users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
    /// The key that replaced this one (`keys rotate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    /// The key this one replaced (`keys rotate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_from: Option<String>,
}

impl KeyRecord {
    /// Whether the key signs requests at `now_ms`.
    pub fn usable_at(&self, now_ms: i64) -> bool {
        self.status == KeyStatus::Active && self.expires_ms.is_none_or(|t| now_ms < t)
    }
}

/// Everything the `keys` table holds, read in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyTable {
    /// Bumped by every committed change; starts at 0 (nothing ever stored).
    pub generation: u64,
    /// The master-key check value (`crate::admin::seal`): proves at start-up
    /// that the configured master key is the one that sealed the secrets.
    pub check: Option<String>,
    /// By SecretId.
    pub keys: Vec<KeyRecord>,
}

/// A change to the key table, applied inside one `MetaStore` transaction to
/// the current contents: records are added or replaced by SecretId
/// (records absent from `keys` afterwards are deleted), `check` is written
/// as left. Returning `Err` changes nothing.
pub type KeysUpdate =
    Box<dyn FnOnce(&mut KeyTable) -> Result<(), crate::storage::StorageError> + Send + 'static>;
