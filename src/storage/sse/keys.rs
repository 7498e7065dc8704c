//! Key material for SSE: the SSE-COS master keys and the emulated KMS keys
//! (CMKs), behind the small [`KeyProvider`] trait.
//!
//! Today the keys come from the configuration (`[sse]` in the TOML file,
//! `--sse-master-key` / `LOCALCOS_SSE_MASTER_KEY`) or, when none is given,
//! from `<data-dir>/sse-master.key`, generated on first start (mode 0600).
//! In a cluster the same trait will read them from the MetaStore (NOTES 16),
//! so every node unwraps every object's data key.
//!
//! Rotation: a master key is identified by a fingerprint of its bytes, and
//! each record names the key that wrapped its data key. Put the new key
//! first (`master_key`) and keep the old ones (`previous_master_keys`, or the
//! lines of `sse-master.key`): new objects use the new key, old ones still
//! decrypt. Copying an object onto itself with `x-cos-server-side-encryption:
//! AES256` re-encrypts it under the active key, after which the old key is
//! no longer needed for it.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::KeyBytes;

/// The file a data dir keeps its generated master key(s) in: one base64 key
/// per line, the first one active; `#` starts a comment.
pub const MASTER_KEY_FILE: &str = "sse-master.key";

/// The CMK id used for `cos/kms` without a key id when no KMS key is
/// configured; its data keys are wrapped by the active master key.
pub const DEFAULT_CMK_ID: &str = "localcos-default-cmk";

/// Why a key could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the KMS key does not exist")]
    KmsKeyNotExist,
    #[error("the KMS key is disabled")]
    KmsKeyDisabled,
    /// The key that wrapped an object's data key is no longer configured.
    #[error("key {0} is not configured")]
    MissingKey(String),
    /// The key given does not unwrap the data key.
    #[error("wrong key")]
    WrongKey,
    /// SSE-C objects are unwrapped with the key the request carries.
    #[error("the customer key is required")]
    CustomerKeyRequired,
}

/// One KMS key as chosen for a write.
#[derive(Debug, Clone)]
pub struct KmsChoice {
    /// The CMK id to record and echo.
    pub key_id: String,
    /// `SseInfo::wrapping_key` for it.
    pub wrapping_id: String,
    pub key: KeyBytes,
}

/// Where SSE key material comes from. Implementations must be cheap to
/// call per request (cache what they load).
pub trait KeyProvider: Send + Sync + 'static {
    /// The key new SSE-COS objects are wrapped with: (wrapping id, key).
    fn active_master(&self) -> Result<(String, KeyBytes), KeyError>;
    /// The CMK for `cos/kms`; `None` asks for the default one.
    /// # Behavior
    /// - Unknown id → `KmsKeyNotExist`; disabled → `KmsKeyDisabled`.
    fn kms_key(&self, id: Option<&str>) -> Result<KmsChoice, KeyError>;
    /// Key material by `SseInfo::wrapping_key`, to unwrap a stored data key.
    /// # Behavior
    /// - Unknown → `MissingKey`; a disabled KMS key → `KmsKeyDisabled`.
    fn wrapping_key(&self, wrapping_id: &str) -> Result<KeyBytes, KeyError>;
}

/// `[sse]` in the TOML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawSse {
    /// base64 of 32 bytes: the active SSE-COS master key.
    pub master_key: Option<String>,
    /// Older master keys, still used to decrypt objects written under them.
    pub previous_master_keys: Vec<String>,
    /// Emulated KMS keys (CMKs) for `cos/kms`.
    pub kms_keys: Vec<RawKmsKey>,
    /// CMK used when a `cos/kms` request names none (default: the first of `kms_keys`).
    pub default_kms_key_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKmsKey {
    pub id: String,
    /// base64 of 32 bytes.
    pub key: String,
    /// A disabled key refuses new objects and reads (400 KmsKeyDisabled).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// One configured CMK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKey {
    pub id: String,
    pub key: KeyBytes,
    pub enabled: bool,
}

/// Validated SSE configuration (part of `Config`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseSettings {
    /// Configured master keys, the active one first. Empty: use (or create)
    /// the data dir's key file, or a per-process key for `--ephemeral`.
    pub master_keys: Vec<KeyBytes>,
    pub kms_keys: Vec<KmsKey>,
    pub default_kms_key_id: Option<String>,
}

impl SseSettings {
    /// Validates `[sse]`, with `flag_master` (`--sse-master-key` or its env
    /// variable) taking precedence over `master_key`.
    pub fn from_raw(flag_master: Option<&str>, raw: &RawSse) -> Result<SseSettings, String> {
        let decode = |what: &str, text: &str| {
            KeyBytes::from_base64(text)
                .ok_or_else(|| format!("sse: {what} must be the base64 of exactly 32 bytes"))
        };
        let mut master_keys = Vec::new();
        if let Some(k) = flag_master.filter(|k| !k.trim().is_empty()) {
            master_keys.push(decode("--sse-master-key", k)?);
        }
        if let Some(k) = &raw.master_key {
            let k = decode("master_key", k)?;
            if !master_keys.contains(&k) {
                master_keys.push(k);
            }
        }
        for k in &raw.previous_master_keys {
            let k = decode("previous_master_keys", k)?;
            if !master_keys.contains(&k) {
                master_keys.push(k);
            }
        }
        let mut kms_keys: Vec<KmsKey> = Vec::new();
        for k in &raw.kms_keys {
            let id = k.id.trim();
            if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_:/.".contains(&b))
            {
                return Err(format!(
                    "sse: kms key id `{}` must be non-empty [A-Za-z0-9-_:/.]",
                    k.id
                ));
            }
            if kms_keys.iter().any(|o| o.id == id) {
                return Err(format!("sse: kms key id `{id}` is listed twice"));
            }
            kms_keys.push(KmsKey {
                id: id.to_string(),
                key: decode(&format!("kms key `{id}`"), &k.key)?,
                enabled: k.enabled,
            });
        }
        if let Some(d) = &raw.default_kms_key_id {
            if !kms_keys.iter().any(|k| k.id == *d) {
                return Err(format!(
                    "sse: default_kms_key_id `{d}` is not one of the kms_keys"
                ));
            }
        }
        Ok(SseSettings {
            master_keys,
            kms_keys,
            default_kms_key_id: raw.default_kms_key_id.clone(),
        })
    }
}

/// The keys of one node, loaded once at start-up.
#[derive(Debug, Clone)]
pub struct SseKeys {
    /// (wrapping id, key); the first is active.
    masters: Vec<(String, KeyBytes)>,
    kms: Vec<KmsKey>,
    default_kms: Option<String>,
}

/// `master:<first 16 hex of SHA-256>`: names a master key without revealing it.
pub fn master_id(key: &KeyBytes) -> String {
    let mut h = Sha256::new();
    h.update(b"localcos-sse-master-v1\0");
    h.update(key.0);
    format!("master:{}", &hex::encode(h.finalize())[..16])
}

fn kms_wrapping_id(id: &str) -> String {
    format!("kms:{id}")
}

impl SseKeys {
    /// Keys from `settings`; with no configured master key, the data dir's
    /// key file (created with a new random key when absent) or, without a
    /// data dir, a random key for this process. Keys found in the data dir's
    /// file are always loaded (after the configured ones), so objects
    /// written before a master key was configured stay readable.
    pub fn load(settings: &SseSettings, data_dir: Option<&Path>) -> Result<SseKeys, String> {
        let mut keys = settings.master_keys.clone();
        if let Some(dir) = data_dir {
            let path = dir.join(MASTER_KEY_FILE);
            let mut from_file = read_key_file(&path)?;
            if keys.is_empty() && from_file.is_empty() {
                let k = KeyBytes::random();
                write_key_file(dir, &path, &k)?;
                from_file.push(k);
            }
            for k in from_file {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        if keys.is_empty() {
            keys.push(KeyBytes::random());
        }
        Ok(SseKeys {
            masters: keys.into_iter().map(|k| (master_id(&k), k)).collect(),
            kms: settings.kms_keys.clone(),
            default_kms: settings.default_kms_key_id.clone(),
        })
    }

    /// Like [`SseKeys::load`], with the generated master key shared through
    /// the index (`storage::secrets::SSE_MASTER_KEY`), so every node of a
    /// cluster unwraps every object's data key (NOTES 16).
    /// # Behavior
    /// - The stored key is initialised with the data dir's `sse-master.key`
    ///   (its active key) when there is one, else with a new random key;
    ///   a data dir without the file gets it written with the stored key
    ///   (unless master keys are configured, as before).
    /// - Keys, in order: configured ones (the first is active), the data
    ///   dir's file (so a key put first in the file still becomes active,
    ///   and older keys in it still decrypt), then the stored key.
    pub async fn open(
        settings: &SseSettings,
        data_dir: Option<&Path>,
        meta: &dyn crate::storage::MetaStore,
    ) -> Result<SseKeys, String> {
        let path = data_dir.map(|d| d.join(MASTER_KEY_FILE));
        let from_file = match &path {
            Some(p) => read_key_file(p)?,
            None => Vec::new(),
        };
        let init = from_file.first().cloned().unwrap_or_else(KeyBytes::random);
        let stored = meta
            .secret_or_init(crate::storage::secrets::SSE_MASTER_KEY, init.0.to_vec())
            .await
            .map_err(|e| format!("SSE master key: {e}"))?;
        let shared = KeyBytes(
            stored
                .as_slice()
                .try_into()
                .map_err(|_| "SSE master key: the stored key is not 32 bytes".to_string())?,
        );
        if let (Some(dir), Some(p)) = (data_dir, &path) {
            if from_file.is_empty() && settings.master_keys.is_empty() {
                write_key_file(dir, p, &shared)?;
            }
        }
        let mut keys = settings.master_keys.clone();
        for k in from_file.into_iter().chain(std::iter::once(shared)) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        Ok(SseKeys {
            masters: keys.into_iter().map(|k| (master_id(&k), k)).collect(),
            kms: settings.kms_keys.clone(),
            default_kms: settings.default_kms_key_id.clone(),
        })
    }

    /// A random master key, no KMS keys (tests, `Store::memory`).
    pub fn ephemeral() -> SseKeys {
        let k = KeyBytes::random();
        SseKeys {
            masters: vec![(master_id(&k), k)],
            kms: Vec::new(),
            default_kms: None,
        }
    }

    /// Like `ephemeral`, for unit tests.
    #[cfg(test)]
    pub fn for_tests() -> SseKeys {
        SseKeys::ephemeral()
    }
}

impl KeyProvider for SseKeys {
    fn active_master(&self) -> Result<(String, KeyBytes), KeyError> {
        self.masters
            .first()
            .cloned()
            .ok_or_else(|| KeyError::MissingKey("master".into()))
    }

    fn kms_key(&self, id: Option<&str>) -> Result<KmsChoice, KeyError> {
        // No CMK configured: the built-in default CMK (its data keys are
        // wrapped by the active master key) answers to its own id only.
        if self.kms.is_empty() {
            return match id {
                None | Some(DEFAULT_CMK_ID) => {
                    let (wrapping_id, key) = self.active_master()?;
                    Ok(KmsChoice {
                        key_id: DEFAULT_CMK_ID.to_string(),
                        wrapping_id,
                        key,
                    })
                }
                Some(_) => Err(KeyError::KmsKeyNotExist),
            };
        }
        let k = match id.or(self.default_kms.as_deref()) {
            Some(id) => self.kms.iter().find(|k| k.id == id),
            None => self.kms.first(),
        }
        .ok_or(KeyError::KmsKeyNotExist)?;
        if !k.enabled {
            return Err(KeyError::KmsKeyDisabled);
        }
        Ok(KmsChoice {
            key_id: k.id.clone(),
            wrapping_id: kms_wrapping_id(&k.id),
            key: k.key.clone(),
        })
    }

    fn wrapping_key(&self, wrapping_id: &str) -> Result<KeyBytes, KeyError> {
        if let Some(id) = wrapping_id.strip_prefix("kms:") {
            return match self.kms.iter().find(|k| k.id == id) {
                Some(k) if !k.enabled => Err(KeyError::KmsKeyDisabled),
                Some(k) => Ok(k.key.clone()),
                None => Err(KeyError::MissingKey(wrapping_id.to_string())),
            };
        }
        self.masters
            .iter()
            .find(|(id, _)| id == wrapping_id)
            .map(|(_, k)| k.clone())
            .ok_or_else(|| KeyError::MissingKey(wrapping_id.to_string()))
    }
}

fn read_key_file(path: &Path) -> Result<Vec<KeyBytes>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .enumerate()
        .map(|(i, l)| {
            KeyBytes::from_base64(l).ok_or_else(|| {
                format!(
                    "{}: key {} is not the base64 of 32 bytes",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

/// Writes a new key file (0600) atomically: temp file, fsync, rename.
fn write_key_file(dir: &Path, path: &Path, key: &KeyBytes) -> Result<(), String> {
    use std::io::Write;
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    std::fs::create_dir_all(dir).map_err(fail)?;
    let tmp = dir.join(format!("{MASTER_KEY_FILE}.tmp"));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(fail)?;
    let text = format!(
        "# localcos SSE master keys (base64, 32 bytes each); the first is active.\n\
         # Keep older keys below the new one: objects written under them need them.\n\
         {}\n",
        key.to_base64()
    );
    f.write_all(text.as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(byte: u8) -> String {
        KeyBytes([byte; 32]).to_base64()
    }

    fn raw(toml_text: &str) -> RawSse {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn settings_validation_table() {
        let ok = format!(
            "master_key = \"{}\"\nprevious_master_keys = [\"{}\"]\n\
             [[kms_keys]]\nid = \"cmk-1\"\nkey = \"{}\"\n\
             [[kms_keys]]\nid = \"cmk-2\"\nkey = \"{}\"\nenabled = false\n",
            b64(1),
            b64(2),
            b64(3),
            b64(4)
        );
        let s = SseSettings::from_raw(None, &raw(&ok)).unwrap();
        assert_eq!(s.master_keys, vec![KeyBytes([1; 32]), KeyBytes([2; 32])]);
        assert_eq!(s.kms_keys.len(), 2);
        assert!(!s.kms_keys[1].enabled);
        // The flag goes first.
        let s = SseSettings::from_raw(Some(&b64(9)), &raw(&ok)).unwrap();
        assert_eq!(s.master_keys[0], KeyBytes([9; 32]));

        let cases: &[(&str, &str)] = &[
            ("master_key = \"short\"", "master_key"),
            ("previous_master_keys = [\"AAAA\"]", "previous_master_keys"),
            ("[[kms_keys]]\nid = \"\"\nkey = \"x\"", "kms key id"),
            ("[[kms_keys]]\nid = \"a b\"\nkey = \"x\"", "kms key id"),
            ("[[kms_keys]]\nid = \"a\"\nkey = \"x\"", "kms key `a`"),
            ("default_kms_key_id = \"nope\"", "default_kms_key_id"),
        ];
        for (text, expect) in cases {
            let e = SseSettings::from_raw(None, &raw(text)).unwrap_err();
            assert!(e.contains(expect), "{text}: {e}");
        }
        assert!(toml::from_str::<RawSse>("masterkey = 1").is_err());
        let e = SseSettings::from_raw(Some("zz"), &RawSse::default()).unwrap_err();
        assert!(e.contains("--sse-master-key"), "{e}");
    }

    #[test]
    fn kms_choice_table() {
        let settings = SseSettings {
            master_keys: vec![KeyBytes([1; 32])],
            kms_keys: vec![
                KmsKey {
                    id: "a".into(),
                    key: KeyBytes([2; 32]),
                    enabled: true,
                },
                KmsKey {
                    id: "off".into(),
                    key: KeyBytes([3; 32]),
                    enabled: false,
                },
            ],
            default_kms_key_id: None,
        };
        let keys = SseKeys::load(&settings, None).unwrap();
        assert_eq!(keys.kms_key(None).unwrap().key_id, "a");
        assert_eq!(keys.kms_key(Some("a")).unwrap().wrapping_id, "kms:a");
        assert_eq!(
            keys.kms_key(Some("off")).unwrap_err(),
            KeyError::KmsKeyDisabled
        );
        assert_eq!(
            keys.kms_key(Some("zzz")).unwrap_err(),
            KeyError::KmsKeyNotExist
        );
        assert_eq!(
            keys.kms_key(Some(DEFAULT_CMK_ID)).unwrap_err(),
            KeyError::KmsKeyNotExist,
            "the built-in CMK exists only while none is configured"
        );
        assert_eq!(
            keys.wrapping_key("kms:off").unwrap_err(),
            KeyError::KmsKeyDisabled
        );
        assert!(matches!(
            keys.wrapping_key("master:0000"),
            Err(KeyError::MissingKey(_))
        ));

        let bare = SseKeys::load(&SseSettings::default(), None).unwrap();
        let d = bare.kms_key(None).unwrap();
        assert_eq!(d.key_id, DEFAULT_CMK_ID);
        assert_eq!(d.wrapping_id, bare.active_master().unwrap().0);
        assert_eq!(
            bare.kms_key(Some(DEFAULT_CMK_ID)).unwrap().key_id,
            DEFAULT_CMK_ID
        );
        assert_eq!(
            bare.kms_key(Some("other")).unwrap_err(),
            KeyError::KmsKeyNotExist
        );
    }

    #[tokio::test]
    async fn open_shares_the_master_key_through_the_index() {
        use crate::storage::memory::MemoryMeta;
        use crate::storage::secrets::SSE_MASTER_KEY;
        use crate::storage::MetaStore;
        let none = SseSettings::default();

        // Cluster nodes (no data dir) over one index: one key.
        let meta = MemoryMeta::new();
        let n1 = SseKeys::open(&none, None, &meta).await.unwrap();
        let n2 = SseKeys::open(&none, None, &meta).await.unwrap();
        assert_eq!(n1.active_master(), n2.active_master());
        let stored = meta.secret_or_init(SSE_MASTER_KEY, vec![]).await.unwrap();
        assert_eq!(stored, n1.active_master().unwrap().1 .0.to_vec());

        // An embedded data dir with its key file (written before the key
        // lived in the index): the file's key is stored and stays active.
        let dir = tempfile::tempdir().unwrap();
        let old = SseKeys::load(&none, Some(dir.path())).unwrap();
        let meta = MemoryMeta::new();
        let now = SseKeys::open(&none, Some(dir.path()), &meta).await.unwrap();
        assert_eq!(now.active_master(), old.active_master());
        let stored = meta.secret_or_init(SSE_MASTER_KEY, vec![]).await.unwrap();
        assert_eq!(stored, old.active_master().unwrap().1 .0.to_vec());

        // A new data dir: the stored key is also written to the file.
        let dir = tempfile::tempdir().unwrap();
        let meta = MemoryMeta::new();
        let fresh = SseKeys::open(&none, Some(dir.path()), &meta).await.unwrap();
        let file = read_key_file(&dir.path().join(MASTER_KEY_FILE)).unwrap();
        assert_eq!(file, vec![fresh.active_master().unwrap().1]);

        // The index holds another key than the file: the file's is active
        // (rotation by editing the file still works), both decrypt.
        let other = MemoryMeta::new();
        other
            .secret_or_init(SSE_MASTER_KEY, vec![7; 32])
            .await
            .unwrap();
        let both = SseKeys::open(&none, Some(dir.path()), &other)
            .await
            .unwrap();
        assert_eq!(both.active_master(), fresh.active_master());
        let seven = KeyBytes([7; 32]);
        assert_eq!(both.wrapping_key(&master_id(&seven)).unwrap(), seven);

        // Configured keys come first; no file is written for them.
        let dir = tempfile::tempdir().unwrap();
        let configured = SseSettings {
            master_keys: vec![KeyBytes([5; 32])],
            ..Default::default()
        };
        let k = SseKeys::open(&configured, Some(dir.path()), &MemoryMeta::new())
            .await
            .unwrap();
        assert_eq!(k.active_master().unwrap().1, KeyBytes([5; 32]));
        assert!(!dir.path().join(MASTER_KEY_FILE).exists());

        // A stored value that is not a key refuses to start.
        let bad = MemoryMeta::new();
        bad.secret_or_init(SSE_MASTER_KEY, vec![1, 2, 3])
            .await
            .unwrap();
        let e = SseKeys::open(&none, None, &bad).await.unwrap_err();
        assert!(e.contains("not 32 bytes"), "{e}");
    }

    #[test]
    fn key_file_generated_once_and_kept_for_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let first = SseKeys::load(&SseSettings::default(), Some(dir.path())).unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = SseKeys::load(&SseSettings::default(), Some(dir.path())).unwrap();
        assert_eq!(first.active_master(), again.active_master());

        // A configured key becomes active; the generated one still decrypts.
        let settings = SseSettings {
            master_keys: vec![KeyBytes([5; 32])],
            ..Default::default()
        };
        let rotated = SseKeys::load(&settings, Some(dir.path())).unwrap();
        let (old_id, old_key) = first.active_master().unwrap();
        assert_eq!(rotated.active_master().unwrap().1, KeyBytes([5; 32]));
        assert_eq!(rotated.wrapping_key(&old_id).unwrap(), old_key);

        std::fs::write(&path, "garbage\n").unwrap();
        assert!(SseKeys::load(&SseSettings::default(), Some(dir.path()))
            .unwrap_err()
            .contains("not the base64"));
    }
}
