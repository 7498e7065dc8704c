//! Credentials: permanent SecretId/SecretKey pairs and temporary ones bound to
//! a security token. `SecretKey` never prints its value.

use std::collections::HashMap;
use std::fmt;
use std::time::SystemTime;

/// A secret that redacts itself in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn new(s: impl Into<String>) -> Self {
        SecretKey(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// One credential pair. `token` is set for temporary credentials.
#[derive(Debug, Clone)]
pub struct Credential {
    pub secret_id: String,
    pub secret_key: SecretKey,
    /// Temporary credentials must present this as `x-cos-security-token`.
    pub token: Option<String>,
    /// Temporary credentials stop working after this instant.
    pub expires: Option<SystemTime>,
}

/// Who made a verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub secret_id: String,
}

/// What a credential may touch, from its config entry (`buckets`, `access`).
/// The default, an unscoped read-write key, is the owner: it may do everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Full bucket names (`<name>-<appid>`) the key may use; `None`: every bucket.
    pub buckets: Option<Vec<String>>,
    /// `access = "read-only"`: reads (data and ACLs) only.
    pub read_only: bool,
}

impl Scope {
    /// An unscoped read-write key: the account owner.
    pub fn is_owner(&self) -> bool {
        self.buckets.is_none() && !self.read_only
    }

    pub fn covers_bucket(&self, bucket: &str) -> bool {
        self.buckets
            .as_ref()
            .is_none_or(|list| list.iter().any(|b| b == bucket))
    }
}

/// The credentials the server accepts, by SecretId.
#[derive(Debug, Clone, Default)]
pub struct KeyStore {
    by_id: HashMap<String, Credential>,
    /// Scopes of the keys that have one; absent means owner.
    scopes: HashMap<String, Scope>,
}

impl KeyStore {
    pub fn new(creds: impl IntoIterator<Item = Credential>) -> Self {
        KeyStore {
            by_id: creds
                .into_iter()
                .map(|c| (c.secret_id.clone(), c))
                .collect(),
            scopes: HashMap::new(),
        }
    }

    /// Adds scopes by SecretId (keys without one stay owners).
    pub fn with_scopes(mut self, scopes: impl IntoIterator<Item = (String, Scope)>) -> Self {
        self.scopes.extend(scopes);
        self
    }

    /// The scope of a verified SecretId.
    pub fn scope(&self, secret_id: &str) -> Scope {
        self.scopes.get(secret_id).cloned().unwrap_or_default()
    }
    pub fn lookup(&self, secret_id: &str) -> Option<&Credential> {
        self.by_id.get(secret_id)
    }
}
