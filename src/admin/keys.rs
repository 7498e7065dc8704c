//! Stored credentials: the rules of `localcos keys add|list|revoke|rotate`
//! (shared by the admin API and the offline command) and [`LiveKeys`], the
//! credentials the server checks signatures against.
//!
//! * Keys from the configuration (flags, env, TOML) are the bootstrap keys:
//!   they always work, cannot be changed here, and only an unscoped
//!   read-write one (an owner) may call the admin API.
//! * Stored keys live in the `MetaStore` (`storage::keys`), so every node
//!   that shares the index sees them. Their SecretKeys are sealed under the
//!   master key when one is configured (`admin::seal`).
//! * Rotation (COS's way: a user holds two key pairs while switching): a
//!   new pair with the same scope; the old one keeps working until revoked,
//!   or until the optional grace period ends.
//! * Changes made through this node apply at once; changes made elsewhere
//!   (another node, the offline command before a start) are noticed by a
//!   generation check at most every [`CHECK_INTERVAL`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::seal::{self, MasterKey};
use crate::auth::{Credential, KeyStore, Scope, SecretKey};
use crate::config::Config;
use crate::http::target::{Addressing, BucketName};
use crate::storage::keys::{KeyRecord, KeyStatus, KeyTable, StoredSecret};
use crate::storage::{MetaStore, StorageError, Store};

/// How stale the server's copy of the stored keys may get when another
/// node or process changes them.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Why a key operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no stored key has SecretId {0}")]
    NotFound(String),
    #[error("SecretId {0} already exists")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Seal(String),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

impl From<KeyError> for crate::error::Error {
    fn from(e: KeyError) -> Self {
        use crate::error::{Error, ErrorCode};
        let msg = e.to_string();
        match e {
            KeyError::NotFound(_) => Error::with_message(ErrorCode::NoSuchResource, msg),
            KeyError::Exists(_) => Error::with_message(ErrorCode::SecretIdAlreadyExists, msg),
            KeyError::Invalid(_) => Error::with_message(ErrorCode::InvalidArgument, msg),
            KeyError::Seal(_) => Error::with_message(ErrorCode::InternalError, msg),
            KeyError::Storage(s) => s.into(),
        }
    }
}

/// `keys add`: everything optional but the scope defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddRequest {
    /// Generated (`AKID` + 32 characters) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<String>,
    /// Generated (40 characters) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// Bucket scope (`-<appid>` added when missing); empty: every bucket.
    #[serde(default)]
    pub buckets: Vec<String>,
    /// `read-write` (default) or `read-only`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What `keys list` shows of a key: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub secret_id: String,
    /// `read-write` or `read-only`.
    pub permission: String,
    /// Empty: every bucket.
    pub buckets: Vec<String>,
    /// `active`, `expiring` (rotated, grace period running), `expired` or `revoked`.
    pub status: String,
    /// RFC 3339.
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_from: Option<String>,
    /// Whether the secret is encrypted at rest.
    pub encrypted: bool,
}

/// A new key pair: shown once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Created {
    #[serde(flatten)]
    pub info: KeyInfo,
    pub secret_key: String,
}

fn rfc3339(ms: i64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
        .to_string()
}

impl KeyInfo {
    pub fn of(rec: &KeyRecord, now_ms: i64) -> KeyInfo {
        let status = match (rec.status, rec.expires_ms) {
            (KeyStatus::Revoked, _) => "revoked",
            (KeyStatus::Active, Some(t)) if now_ms >= t => "expired",
            (KeyStatus::Active, Some(_)) => "expiring",
            (KeyStatus::Active, None) => "active",
        };
        KeyInfo {
            secret_id: rec.secret_id.clone(),
            permission: if rec.read_only {
                "read-only"
            } else {
                "read-write"
            }
            .into(),
            buckets: rec.buckets.clone(),
            status: status.into(),
            created: rfc3339(rec.created_ms),
            description: rec.description.clone(),
            expires: rec.expires_ms.map(rfc3339),
            revoked: rec.revoked_ms.map(rfc3339),
            replaced_by: rec.replaced_by.clone(),
            rotated_from: rec.rotated_from.clone(),
            encrypted: matches!(rec.secret, StoredSecret::Sealed { .. }),
        }
    }
}

fn random_text(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A fresh pair: `AKID` + 32 characters (~190 bits) and a 40-character key (~238 bits).
pub fn generate_pair() -> (String, String) {
    (format!("AKID{}", random_text(32)), random_text(40))
}

fn check_secret_id(id: &str) -> Result<(), KeyError> {
    let ok = (4..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(KeyError::Invalid(format!(
            "SecretId `{id}` must be 4 to 128 characters of A-Z, a-z, 0-9, `-`, `_`, `.`"
        )))
    }
}

fn check_secret_key(key: &str) -> Result<(), KeyError> {
    if (16..=128).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(KeyError::Invalid(
            "SecretKey must be 16 to 128 printable ASCII characters without spaces".into(),
        ))
    }
}

/// What key operations need from the configuration.
pub struct Rules<'a> {
    pub master: Option<&'a MasterKey>,
    pub addressing: &'a Addressing,
    /// SecretIds of the configured keys (a stored key may not reuse one).
    pub reserved: Vec<String>,
}

impl<'a> Rules<'a> {
    pub fn of(config: &'a Config) -> Rules<'a> {
        Rules {
            master: config.master_key.as_ref(),
            addressing: &config.addressing,
            reserved: config
                .credentials
                .iter()
                .map(|c| c.secret_id.clone())
                .collect(),
        }
    }

    fn store_secret(
        &self,
        table: &KeyTable,
        id: &str,
        key: &str,
    ) -> Result<StoredSecret, KeyError> {
        match self.master {
            Some(m) => Ok(m.seal(id, key)),
            None => {
                if let Some(sealed) = table
                    .keys
                    .iter()
                    .find(|k| matches!(k.secret, StoredSecret::Sealed { .. }))
                {
                    return Err(KeyError::Seal(format!(
                        "stored secrets are encrypted (e.g. {}) but no master key is configured: set --master-key / LOCALCOS_MASTER_KEY",
                        sealed.secret_id
                    )));
                }
                warn_plaintext();
                Ok(StoredSecret::Plain { value: key.into() })
            }
        }
    }

    fn scope(&self, buckets: &[String]) -> Result<Vec<String>, KeyError> {
        let mut out: Vec<String> = Vec::new();
        for b in buckets.iter().flat_map(|b| b.split(',')) {
            let b = b.trim();
            if b.is_empty() {
                continue;
            }
            let name = BucketName::parse(b, &self.addressing.appid, &self.addressing.region)
                .map_err(|e| KeyError::Invalid(format!("bucket `{b}`: {}", e.message())))?;
            if !out.iter().any(|o| o == name.as_str()) {
                out.push(name.as_str().to_string());
            }
        }
        Ok(out)
    }
}

/// Logged once per process: secrets stored without a master key.
pub fn warn_plaintext() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "stored SecretKeys are kept in clear in the index: configure a master key \
             (--master-key / LOCALCOS_MASTER_KEY / [keys] master_key) to encrypt them"
        );
    }
}

/// Runs `f` on the key table in one transaction; `f`'s refusal comes back as is.
async fn update<T: Send + 'static>(
    meta: &dyn MetaStore,
    f: impl FnOnce(&mut KeyTable) -> Result<T, KeyError> + Send + 'static,
) -> Result<(T, KeyTable), KeyError> {
    let slot: Arc<Mutex<Option<Result<T, KeyError>>>> = Arc::new(Mutex::new(None));
    let inner = slot.clone();
    let committed = meta
        .update_keys(Box::new(move |table| {
            let r = f(table);
            let failed = r.is_err();
            *inner.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            if failed {
                Err(StorageError::PreconditionFailed)
            } else {
                Ok(())
            }
        }))
        .await;
    let out = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    match (out, committed) {
        (Some(Err(e)), _) => Err(e),
        (Some(Ok(v)), Ok(table)) => Ok((v, table)),
        (_, Err(e)) => Err(e.into()),
        (None, Ok(_)) => Err(KeyError::Storage(StorageError::Corrupt(
            "key update did not run".into(),
        ))),
    }
}

/// `keys add`.
pub async fn add(
    meta: &dyn MetaStore,
    rules: &Rules<'_>,
    req: AddRequest,
) -> Result<(Created, KeyTable), KeyError> {
    let (gen_id, gen_key) = generate_pair();
    let id = req.secret_id.clone().unwrap_or(gen_id);
    let key = req.secret_key.clone().unwrap_or(gen_key);
    check_secret_id(&id)?;
    check_secret_key(&key)?;
    if rules.reserved.contains(&id) {
        return Err(KeyError::Exists(id));
    }
    let read_only = parse_permission(req.permission.as_deref())?;
    let buckets = rules.scope(&req.buckets)?;
    let description = clean_description(req.description)?;
    let now = now_ms();
    let table = meta.keys().await?;
    let secret = rules.store_secret(&table, &id, &key)?;
    let rec = KeyRecord {
        secret_id: id.clone(),
        secret,
        buckets,
        read_only,
        created_ms: now,
        status: KeyStatus::Active,
        description,
        revoked_ms: None,
        expires_ms: None,
        replaced_by: None,
        rotated_from: None,
    };
    let info = KeyInfo::of(&rec, now);
    let ((), table) = update(meta, move |t| {
        if t.keys.iter().any(|k| k.secret_id == rec.secret_id) {
            return Err(KeyError::Exists(rec.secret_id));
        }
        t.keys.push(rec);
        Ok(())
    })
    .await?;
    Ok((
        Created {
            info,
            secret_key: key,
        },
        table,
    ))
}

fn parse_permission(p: Option<&str>) -> Result<bool, KeyError> {
    match p {
        None | Some("read-write") => Ok(false),
        Some("read-only") => Ok(true),
        Some(other) => Err(KeyError::Invalid(format!(
            "permission `{other}` must be read-only or read-write"
        ))),
    }
}

fn clean_description(d: Option<String>) -> Result<Option<String>, KeyError> {
    match d {
        Some(d) if d.chars().count() > 256 || d.chars().any(char::is_control) => Err(
            KeyError::Invalid("description: at most 256 characters, no control characters".into()),
        ),
        Some(d) if d.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// `keys list`: every stored key, by SecretId, without secrets.
pub async fn list(meta: &dyn MetaStore) -> Result<Vec<KeyInfo>, KeyError> {
    let now = now_ms();
    Ok(meta
        .keys()
        .await?
        .keys
        .iter()
        .map(|k| KeyInfo::of(k, now))
        .collect())
}

/// One stored key.
pub async fn get(meta: &dyn MetaStore, id: &str) -> Result<KeyInfo, KeyError> {
    meta.keys()
        .await?
        .keys
        .iter()
        .find(|k| k.secret_id == id)
        .map(|k| KeyInfo::of(k, now_ms()))
        .ok_or_else(|| KeyError::NotFound(id.to_string()))
}

/// `keys revoke`: the key stops working at once; its secret is wiped.
/// Revoking a revoked key changes nothing.
pub async fn revoke(
    meta: &dyn MetaStore,
    rules: &Rules<'_>,
    id: &str,
) -> Result<(KeyInfo, KeyTable), KeyError> {
    if rules.reserved.iter().any(|r| r == id) {
        return Err(KeyError::Invalid(format!(
            "{id} comes from the configuration (flags, environment or config file): remove it there"
        )));
    }
    let id = id.to_string();
    let now = now_ms();
    update(meta, move |t| {
        let rec = t
            .keys
            .iter_mut()
            .find(|k| k.secret_id == id)
            .ok_or_else(|| KeyError::NotFound(id.clone()))?;
        if rec.status != KeyStatus::Revoked {
            rec.status = KeyStatus::Revoked;
            rec.revoked_ms = Some(now);
            rec.secret = StoredSecret::Wiped;
        }
        Ok(KeyInfo::of(rec, now))
    })
    .await
}

/// `keys rotate`: a new pair with the old one's scope. The old key keeps
/// working until revoked, or for `grace` only when given (zero: revoked now).
pub async fn rotate(
    meta: &dyn MetaStore,
    rules: &Rules<'_>,
    id: &str,
    grace: Option<Duration>,
) -> Result<(Created, KeyTable), KeyError> {
    if rules.reserved.iter().any(|r| r == id) {
        return Err(KeyError::Invalid(format!(
            "{id} comes from the configuration: rotate it there (add a stored key, switch, then remove it)"
        )));
    }
    let now = now_ms();
    let table = meta.keys().await?;
    let old = table
        .keys
        .iter()
        .find(|k| k.secret_id == id)
        .ok_or_else(|| KeyError::NotFound(id.to_string()))?;
    if !old.usable_at(now) {
        return Err(KeyError::Invalid(format!(
            "{id} is {}: only an active key can be rotated",
            KeyInfo::of(old, now).status
        )));
    }
    let (new_id, new_key) = generate_pair();
    let rec = KeyRecord {
        secret_id: new_id.clone(),
        secret: rules.store_secret(&table, &new_id, &new_key)?,
        buckets: old.buckets.clone(),
        read_only: old.read_only,
        created_ms: now,
        status: KeyStatus::Active,
        description: old.description.clone(),
        revoked_ms: None,
        expires_ms: None,
        replaced_by: None,
        rotated_from: Some(id.to_string()),
    };
    let info = KeyInfo::of(&rec, now);
    let old_id = id.to_string();
    let ((), table) = update(meta, move |t| {
        let old = t
            .keys
            .iter_mut()
            .find(|k| k.secret_id == old_id)
            .ok_or_else(|| KeyError::NotFound(old_id.clone()))?;
        if !old.usable_at(now) {
            return Err(KeyError::Invalid(format!("{old_id} is no longer active")));
        }
        old.replaced_by = Some(new_id.clone());
        match grace {
            Some(g) if g.is_zero() => {
                old.status = KeyStatus::Revoked;
                old.revoked_ms = Some(now);
                old.secret = StoredSecret::Wiped;
            }
            Some(g) => {
                old.expires_ms =
                    Some(now.saturating_add(g.as_millis().min(i64::MAX as u128) as i64))
            }
            None => {}
        }
        t.keys.push(rec);
        Ok(())
    })
    .await?;
    Ok((
        Created {
            info,
            secret_key: new_key,
        },
        table,
    ))
}

/// Start-up: checks the master key against what is stored, seals secrets
/// stored in clear before a master key was configured, and records the
/// check value. Errors say what to do.
pub async fn prepare(meta: &dyn MetaStore, master: Option<&MasterKey>) -> Result<KeyTable, String> {
    let table = meta
        .keys()
        .await
        .map_err(|e| format!("cannot read stored keys: {e}"))?;
    let Some(master) = master else {
        if let Some(k) = table
            .keys
            .iter()
            .find(|k| matches!(k.secret, StoredSecret::Sealed { .. }))
        {
            let StoredSecret::Sealed { key_id, .. } = &k.secret else {
                unreachable!()
            };
            return Err(format!(
                "stored keys are encrypted under master key {key_id}, and no master key is configured: \
                 start with --master-key / LOCALCOS_MASTER_KEY / --master-key-file (or [keys] in the config file)"
            ));
        }
        if table
            .keys
            .iter()
            .any(|k| matches!(k.secret, StoredSecret::Plain { .. }))
        {
            warn_plaintext();
        }
        return Ok(table);
    };
    if let Some(check) = &table.check {
        if let Err(by) = master.verify_check(check) {
            return Err(format!(
                "wrong master key: the stored keys were sealed under master key {by}, the configured one is {} \
                 (check --master-key / LOCALCOS_MASTER_KEY / --master-key-file)",
                master.id()
            ));
        }
    }
    for k in &table.keys {
        if let StoredSecret::Sealed { .. } = k.secret {
            seal::open(Some(master), &k.secret_id, &k.secret).map_err(|e| {
                format!("wrong master key: {e} (check --master-key / LOCALCOS_MASTER_KEY / --master-key-file)")
            })?;
        }
    }
    let plain = table
        .keys
        .iter()
        .filter(|k| matches!(k.secret, StoredSecret::Plain { .. }))
        .count();
    if table.check.is_some() && plain == 0 {
        return Ok(table);
    }
    let m = master.clone();
    let (_, table) = update(meta, move |t| {
        if t.check
            .as_deref()
            .is_none_or(|c| m.verify_check(c).is_err())
        {
            t.check = Some(m.check_value());
        }
        for k in &mut t.keys {
            if let StoredSecret::Plain { value } = &k.secret {
                k.secret = m.seal(&k.secret_id, value);
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| format!("cannot seal stored keys: {e}"))?;
    if plain > 0 {
        tracing::info!(
            sealed = plain,
            "encrypted stored SecretKeys under the master key"
        );
    }
    Ok(table)
}

/// The credentials one snapshot accepts.
struct Snapshot {
    keys: Arc<KeyStore>,
    generation: u64,
    /// The earliest grace-period end among usable keys: rebuild then.
    next_expiry_ms: Option<i64>,
}

/// The credentials the server accepts: the configured ones plus the usable
/// stored ones, swapped atomically when the stored keys change.
pub struct LiveKeys {
    config_creds: Vec<Credential>,
    config_scopes: Vec<(String, Scope)>,
    /// Configured, permanent, unscoped read-write: may call the admin API.
    owners: Vec<String>,
    master: Option<MasterKey>,
    store: Option<Store>,
    current: ArcSwap<Snapshot>,
    started: Instant,
    /// `started`-relative ms of the last generation check.
    last_check: AtomicU64,
    checking: AtomicBool,
}

/// Clears `checking` however the check ends (a dropped request included).
struct CheckGuard<'a>(&'a AtomicBool);
impl Drop for CheckGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl LiveKeys {
    /// The configured keys only (no stored keys, no store).
    pub fn from_config(config: &Config) -> LiveKeys {
        let owners = config
            .credentials
            .iter()
            .filter(|c| c.token.is_none())
            .filter(|c| {
                config
                    .scopes
                    .iter()
                    .find(|(id, _)| *id == c.secret_id)
                    .is_none_or(|(_, s)| s.is_owner())
            })
            .map(|c| c.secret_id.clone())
            .collect();
        let keys = LiveKeys {
            config_creds: config.credentials.clone(),
            config_scopes: config.scopes.clone(),
            owners,
            master: config.master_key.clone(),
            store: None,
            current: ArcSwap::from_pointee(Snapshot {
                keys: Arc::new(KeyStore::default()),
                generation: 0,
                next_expiry_ms: None,
            }),
            started: Instant::now(),
            last_check: AtomicU64::new(0),
            checking: AtomicBool::new(false),
        };
        keys.install(&KeyTable::default());
        keys
    }

    /// The configured keys plus those stored in `store`; fails on a wrong or
    /// missing master key (see [`prepare`]).
    pub async fn load(config: &Config, store: Store) -> Result<LiveKeys, String> {
        let table = prepare(store.meta().as_ref(), config.master_key.as_ref()).await?;
        let mut keys = LiveKeys::from_config(config);
        keys.store = Some(store);
        keys.install(&table);
        Ok(keys)
    }

    /// Whether `secret_id` may call the admin API.
    pub fn is_admin(&self, secret_id: &str) -> bool {
        self.owners.iter().any(|o| o == secret_id)
    }

    pub fn master(&self) -> Option<&MasterKey> {
        self.master.as_ref()
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The credentials to check a request against. At most every
    /// [`CHECK_INTERVAL`] one caller reads the store's key generation and
    /// reloads when it moved.
    pub async fn current(&self) -> Arc<KeyStore> {
        let snap = self.current.load_full();
        let Some(store) = &self.store else {
            return snap.keys.clone();
        };
        let now = self.elapsed_ms();
        let due = now.saturating_sub(self.last_check.load(Ordering::Relaxed))
            >= CHECK_INTERVAL.as_millis() as u64;
        let expired = snap.next_expiry_ms.is_some_and(|t| now_ms() >= t);
        if !(due || expired) || self.checking.swap(true, Ordering::Acquire) {
            return snap.keys.clone();
        }
        let _guard = CheckGuard(&self.checking);
        self.last_check.store(now, Ordering::Relaxed);
        let meta = store.meta();
        match meta.keys_generation().await {
            Ok(g) if g == snap.generation && !expired => return snap.keys.clone(),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot check stored keys");
                return snap.keys.clone();
            }
        }
        match meta.keys().await {
            Ok(table) => {
                self.install(&table);
                self.current.load_full().keys.clone()
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot reload stored keys");
                snap.keys.clone()
            }
        }
    }

    /// Makes `table` (as committed) the stored part of the credentials,
    /// unless a newer generation is already installed.
    pub fn install(&self, table: &KeyTable) {
        let now = now_ms();
        let mut creds = Vec::new();
        let mut scopes = self.config_scopes.clone();
        let mut next_expiry: Option<i64> = None;
        for k in table.keys.iter().filter(|k| k.usable_at(now)) {
            if self.config_creds.iter().any(|c| c.secret_id == k.secret_id) {
                continue;
            }
            let secret = match seal::open(self.master.as_ref(), &k.secret_id, &k.secret) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "stored key skipped");
                    continue;
                }
            };
            if let Some(t) = k.expires_ms {
                next_expiry = Some(next_expiry.map_or(t, |n| n.min(t)));
            }
            let scope = Scope {
                buckets: (!k.buckets.is_empty()).then(|| k.buckets.clone()),
                read_only: k.read_only,
            };
            if !scope.is_owner() {
                scopes.push((k.secret_id.clone(), scope));
            }
            creds.push(Credential {
                secret_id: k.secret_id.clone(),
                secret_key: SecretKey::new(secret),
                token: None,
                expires: None,
            });
        }
        creds.extend(self.config_creds.iter().cloned());
        let snap = Arc::new(Snapshot {
            keys: Arc::new(KeyStore::new(creds).with_scopes(scopes)),
            generation: table.generation,
            next_expiry_ms: next_expiry,
        });
        self.current.rcu(|cur| {
            if snap.generation >= cur.generation {
                snap.clone()
            } else {
                cur.clone()
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::MemoryMeta;

    fn config(master: Option<MasterKey>) -> Config {
        let mut c = Config::for_tests("AKIDowner", "owner-secret-key");
        c.master_key = master;
        c
    }

    fn req(buckets: &[&str], permission: Option<&str>) -> AddRequest {
        AddRequest {
            buckets: buckets.iter().map(|s| s.to_string()).collect(),
            permission: permission.map(str::to_string),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn add_list_revoke_rotate() {
        let meta = MemoryMeta::new();
        let c = config(Some(MasterKey::new([3; 32])));
        let rules = Rules::of(&c);
        let (created, table) = add(
            &meta,
            &rules,
            req(&["photos", "b-1300000000"], Some("read-only")),
        )
        .await
        .unwrap();
        assert!(created.info.secret_id.starts_with("AKID") && created.info.secret_id.len() == 36);
        assert_eq!(created.secret_key.len(), 40);
        assert_eq!(created.info.buckets, ["photos-1250000000", "b-1300000000"]);
        assert_eq!(created.info.permission, "read-only");
        assert!(created.info.encrypted);
        assert_eq!(table.generation, 1);
        let listed = list(&meta).await.unwrap();
        assert_eq!(listed, vec![created.info.clone()]);
        assert!(!serde_json::to_string(&listed)
            .unwrap()
            .contains(&created.secret_key));

        // Refusals: duplicate, configured id, bad input, unknown id.
        let dup = AddRequest {
            secret_id: Some(created.info.secret_id.clone()),
            ..Default::default()
        };
        assert!(matches!(
            add(&meta, &rules, dup).await,
            Err(KeyError::Exists(_))
        ));
        let owner = AddRequest {
            secret_id: Some("AKIDowner".into()),
            ..Default::default()
        };
        assert!(matches!(
            add(&meta, &rules, owner).await,
            Err(KeyError::Exists(_))
        ));
        for bad in [
            AddRequest {
                secret_id: Some("a b".into()),
                ..Default::default()
            },
            AddRequest {
                secret_key: Some("short".into()),
                ..Default::default()
            },
            req(&["Bad_Bucket"], None),
            req(&[], Some("write")),
        ] {
            assert!(matches!(
                add(&meta, &rules, bad).await,
                Err(KeyError::Invalid(_))
            ));
        }
        assert!(matches!(
            revoke(&meta, &rules, "AKIDnope").await,
            Err(KeyError::NotFound(_))
        ));
        assert!(matches!(
            revoke(&meta, &rules, "AKIDowner").await,
            Err(KeyError::Invalid(_))
        ));

        // Rotation keeps the scope; the old key stays until revoked.
        let id = created.info.secret_id.clone();
        let (new, _) = rotate(&meta, &rules, &id, None).await.unwrap();
        assert_eq!(new.info.buckets, created.info.buckets);
        assert_eq!(new.info.rotated_from.as_deref(), Some(id.as_str()));
        let old = get(&meta, &id).await.unwrap();
        assert_eq!(old.status, "active");
        assert_eq!(
            old.replaced_by.as_deref(),
            Some(new.info.secret_id.as_str())
        );
        // With a grace period the old key expires; zero revokes at once.
        let (newer, _) = rotate(
            &meta,
            &rules,
            &new.info.secret_id,
            Some(Duration::from_secs(60)),
        )
        .await
        .unwrap();
        assert_eq!(
            get(&meta, &new.info.secret_id).await.unwrap().status,
            "expiring"
        );
        rotate(&meta, &rules, &newer.info.secret_id, Some(Duration::ZERO))
            .await
            .unwrap();
        assert_eq!(
            get(&meta, &newer.info.secret_id).await.unwrap().status,
            "revoked"
        );

        let (info, _) = revoke(&meta, &rules, &id).await.unwrap();
        assert_eq!(info.status, "revoked");
        assert!(matches!(
            rotate(&meta, &rules, &id, None).await,
            Err(KeyError::Invalid(_))
        ));
        let stored = meta.keys().await.unwrap();
        let rec = stored.keys.iter().find(|k| k.secret_id == id).unwrap();
        assert_eq!(rec.secret, StoredSecret::Wiped);
        // Revoking again is a no-op.
        assert_eq!(
            revoke(&meta, &rules, &id).await.unwrap().0.status,
            "revoked"
        );
    }

    #[tokio::test]
    async fn live_keys_follow_the_store() {
        let store = Store::memory();
        let c = config(None);
        let live = LiveKeys::load(&c, store.clone()).await.unwrap();
        assert!(live.is_admin("AKIDowner"));
        let rules = Rules::of(&c);
        let (k, table) = add(
            store.meta().as_ref(),
            &rules,
            req(&["photos"], Some("read-only")),
        )
        .await
        .unwrap();
        // Not installed yet: a change made elsewhere shows after the check interval.
        assert!(live.current().await.lookup(&k.info.secret_id).is_none());
        live.last_check.store(0, Ordering::Relaxed);
        tokio::time::sleep(CHECK_INTERVAL).await;
        let now = live.current().await;
        let cred = now.lookup(&k.info.secret_id).expect("picked up");
        assert_eq!(cred.secret_key.expose(), k.secret_key);
        assert!(now.scope(&k.info.secret_id).read_only);
        assert!(!live.is_admin(&k.info.secret_id));
        // Installed directly: at once; an older table never replaces a newer one.
        let (_, newer) = revoke(store.meta().as_ref(), &rules, &k.info.secret_id)
            .await
            .unwrap();
        live.install(&newer);
        assert!(live.current().await.lookup(&k.info.secret_id).is_none());
        live.install(&table);
        assert!(live.current().await.lookup(&k.info.secret_id).is_none());
        assert!(live.current().await.lookup("AKIDowner").is_some());
    }

    #[tokio::test]
    async fn master_key_checks_and_migration() {
        let store = Store::memory();
        let meta = store.meta().as_ref();
        // Stored in clear without a master key ...
        let plain = config(None);
        let (k, _) = add(meta, &Rules::of(&plain), req(&[], None)).await.unwrap();
        assert!(!k.info.encrypted);
        // ... sealed when one is configured.
        let m1 = MasterKey::new([1; 32]);
        let sealed = config(Some(m1.clone()));
        let live = LiveKeys::load(&sealed, store.clone()).await.unwrap();
        assert_eq!(
            live.current()
                .await
                .lookup(&k.info.secret_id)
                .unwrap()
                .secret_key
                .expose(),
            k.secret_key
        );
        let table = meta.keys().await.unwrap();
        assert!(table.check.is_some());
        assert!(matches!(table.keys[0].secret, StoredSecret::Sealed { .. }));
        // A wrong key or none at all: refused with a clear message.
        let e = LiveKeys::load(&config(Some(MasterKey::new([2; 32]))), store.clone())
            .await
            .err()
            .unwrap();
        assert!(e.contains("wrong master key") && e.contains(m1.id()), "{e}");
        let e = LiveKeys::load(&plain, store.clone()).await.err().unwrap();
        assert!(e.contains("no master key is configured"), "{e}");
        // Adding without the key is refused too.
        assert!(matches!(
            add(meta, &Rules::of(&plain), req(&[], None)).await,
            Err(KeyError::Seal(_))
        ));
        // The check value alone catches a wrong key when no key is stored.
        let empty = Store::memory();
        LiveKeys::load(&sealed, empty.clone()).await.unwrap();
        assert!(
            LiveKeys::load(&config(Some(MasterKey::new([2; 32]))), empty)
                .await
                .is_err()
        );
    }
}
