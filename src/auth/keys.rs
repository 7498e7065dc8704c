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

/// The credentials the server accepts, by SecretId.
#[derive(Debug, Clone, Default)]
pub struct KeyStore {
    by_id: HashMap<String, Credential>,
}

impl KeyStore {
    pub fn new(creds: impl IntoIterator<Item = Credential>) -> Self {
        KeyStore {
            by_id: creds
                .into_iter()
                .map(|c| (c.secret_id.clone(), c))
                .collect(),
        }
    }
    pub fn lookup(&self, secret_id: &str) -> Option<&Credential> {
        self.by_id.get(secret_id)
    }
}
