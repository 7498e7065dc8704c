//! The credential master key: stored SecretKeys are sealed with AES-256-GCM
//! under it (a fresh random nonce per secret, the SecretId as associated
//! data, so a sealed secret cannot be moved to another SecretId).
//!
//! Signature checks need each SecretKey in clear, so the server decrypts the
//! stored keys into memory; what sealing protects is the index file and its
//! copies (README "Stored keys: threat model").

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use localcos_aead::{Aes256GcmKey, NONCE_LEN, TAG_LEN};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::storage::keys::StoredSecret;

/// Associated data of a sealed secret: binds it to its SecretId.
fn aad(secret_id: &str) -> Vec<u8> {
    format!("localcos-key:{secret_id}").into_bytes()
}

/// What the check value seals (associated data `localcos-check`).
const CHECK_PLAINTEXT: &[u8] = b"localcos credential master key check v1";

/// The master key, ready to seal and open. Its `Debug` shows only the id.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Aes256GcmKey,
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl PartialEq for MasterKey {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

/// Opening failed: wrong master key or altered record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error(
        "the secret of {secret_id} is sealed under master key {sealed_by}, but the configured master key is {configured}"
    )]
    WrongKey {
        secret_id: String,
        sealed_by: String,
        configured: String,
    },
    #[error("the secret of {0} does not decrypt (wrong master key, or the record was altered)")]
    Tampered(String),
    #[error(
        "the secret of {secret_id} is encrypted (master key {sealed_by}) and no master key is configured"
    )]
    NoKey {
        secret_id: String,
        sealed_by: String,
    },
    #[error("{0} was revoked: its secret is gone")]
    Wiped(String),
}

impl MasterKey {
    pub fn new(bytes: [u8; 32]) -> MasterKey {
        let digest = Sha256::new()
            .chain_update(b"localcos credential master key id\0")
            .chain_update(bytes)
            .finalize();
        MasterKey {
            cipher: Aes256GcmKey::new(&bytes),
            id: hex::encode(&digest[..4]),
        }
    }

    /// base64 of exactly 32 bytes (`openssl rand -base64 32`).
    pub fn from_base64(text: &str) -> Result<MasterKey, String> {
        let bytes = B64
            .decode(text.trim())
            .map_err(|_| "is not base64 (make one with `openssl rand -base64 32`)".to_string())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!(
                "decodes to {} bytes; it must be 32 (make one with `openssl rand -base64 32`)",
                b.len()
            )
        })?;
        Ok(MasterKey::new(bytes))
    }

    /// A key file: the base64 text (surrounding white space ignored) or the
    /// 32 raw bytes.
    pub fn from_file(path: &std::path::Path) -> Result<MasterKey, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice()) {
            if std::str::from_utf8(&raw).map_or(true, |t| MasterKey::from_base64(t).is_err()) {
                return Ok(MasterKey::new(raw));
            }
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("{}: neither base64 text nor 32 raw bytes", path.display()))?;
        MasterKey::from_base64(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A short fingerprint naming the key in records and messages (not secret).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn seal_bytes(&self, aad: &[u8], plaintext: &[u8]) -> (String, String) {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut buf = plaintext.to_vec();
        let tag = self.cipher.seal_in_place(&nonce, aad, &mut buf);
        buf.extend_from_slice(&tag);
        (B64.encode(nonce), B64.encode(buf))
    }

    fn open_bytes(&self, aad: &[u8], nonce: &str, sealed: &str) -> Option<Vec<u8>> {
        let nonce: [u8; NONCE_LEN] = B64.decode(nonce).ok()?.try_into().ok()?;
        let mut buf = B64.decode(sealed).ok()?;
        if buf.len() < TAG_LEN {
            return None;
        }
        let tag: [u8; TAG_LEN] = buf.split_off(buf.len() - TAG_LEN).try_into().ok()?;
        self.cipher
            .open_in_place(&nonce, aad, &mut buf, &tag)
            .ok()
            .map(|()| buf)
    }

    /// Seals `secret` for `secret_id` under a fresh random nonce.
    pub fn seal(&self, secret_id: &str, secret: &str) -> StoredSecret {
        let (nonce, sealed) = self.seal_bytes(&aad(secret_id), secret.as_bytes());
        StoredSecret::Sealed {
            key_id: self.id.clone(),
            nonce,
            sealed,
        }
    }

    /// The check value stored beside the keys: `<key id>:<nonce>:<sealed>`.
    pub fn check_value(&self) -> String {
        let (nonce, sealed) = self.seal_bytes(b"localcos-check", CHECK_PLAINTEXT);
        format!("{}:{nonce}:{sealed}", self.id)
    }

    /// Whether `check` was made by this key; `Err` names the key that made it.
    pub fn verify_check(&self, check: &str) -> Result<(), String> {
        let mut parts = check.splitn(3, ':');
        let (id, nonce, sealed) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        match self.open_bytes(b"localcos-check", nonce, sealed) {
            Some(p) if p == CHECK_PLAINTEXT => Ok(()),
            _ => Err(id.to_string()),
        }
    }
}

/// The clear SecretKey of a stored secret (`master`: the configured key).
pub fn open(
    master: Option<&MasterKey>,
    secret_id: &str,
    secret: &StoredSecret,
) -> Result<String, OpenError> {
    match secret {
        StoredSecret::Plain { value } => Ok(value.clone()),
        StoredSecret::Wiped => Err(OpenError::Wiped(secret_id.to_string())),
        StoredSecret::Sealed {
            key_id,
            nonce,
            sealed,
        } => {
            let Some(master) = master else {
                return Err(OpenError::NoKey {
                    secret_id: secret_id.to_string(),
                    sealed_by: key_id.clone(),
                });
            };
            match master.open_bytes(&aad(secret_id), nonce, sealed) {
                Some(p) => String::from_utf8(p).map_err(|_| OpenError::Tampered(secret_id.into())),
                None if *key_id != master.id => Err(OpenError::WrongKey {
                    secret_id: secret_id.to_string(),
                    sealed_by: key_id.clone(),
                    configured: master.id.clone(),
                }),
                None => Err(OpenError::Tampered(secret_id.to_string())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> MasterKey {
        MasterKey::new([b; 32])
    }

    #[test]
    fn round_trip_with_fresh_nonces() {
        let k = key(1);
        let a = k.seal("AKIDone", "s3cret-value");
        let b = k.seal("AKIDone", "s3cret-value");
        assert_ne!(a, b, "a fresh nonce per secret");
        for s in [&a, &b] {
            assert_eq!(open(Some(&k), "AKIDone", s).unwrap(), "s3cret-value");
            let StoredSecret::Sealed { sealed, .. } = s else {
                panic!("sealed")
            };
            assert!(!sealed.contains("s3cret"));
        }
    }

    #[test]
    fn wrong_key_missing_key_and_moved_secret_fail() {
        let (k1, k2) = (key(1), key(2));
        let s = k1.seal("AKIDone", "secret");
        assert!(matches!(
            open(Some(&k2), "AKIDone", &s),
            Err(OpenError::WrongKey { .. })
        ));
        assert!(matches!(
            open(None, "AKIDone", &s),
            Err(OpenError::NoKey { .. })
        ));
        // The SecretId is associated data: the record cannot be moved.
        assert_eq!(
            open(Some(&k1), "AKIDtwo", &s),
            Err(OpenError::Tampered("AKIDtwo".into()))
        );
        // A flipped ciphertext bit fails the tag.
        let StoredSecret::Sealed {
            key_id,
            nonce,
            sealed,
        } = s
        else {
            panic!()
        };
        let mut bytes = B64.decode(&sealed).unwrap();
        bytes[0] ^= 1;
        let bad = StoredSecret::Sealed {
            key_id,
            nonce,
            sealed: B64.encode(bytes),
        };
        assert!(open(Some(&k1), "AKIDone", &bad).is_err());
        assert_eq!(
            open(None, "x", &StoredSecret::Plain { value: "v".into() }).unwrap(),
            "v"
        );
        assert!(open(Some(&k1), "x", &StoredSecret::Wiped).is_err());
    }

    #[test]
    fn check_value() {
        let (k1, k2) = (key(1), key(2));
        let c = k1.check_value();
        assert!(c.starts_with(k1.id()));
        assert_eq!(k1.verify_check(&c), Ok(()));
        assert_eq!(k2.verify_check(&c), Err(k1.id().to_string()));
        assert!(k1.verify_check("garbage").is_err());
        assert_ne!(k1.id(), k2.id());
    }

    #[test]
    fn parsing() {
        let b64 = B64.encode([7u8; 32]);
        assert_eq!(
            MasterKey::from_base64(&format!(" {b64}\n")).unwrap(),
            key(7)
        );
        assert!(MasterKey::from_base64("not base64!")
            .unwrap_err()
            .contains("base64"));
        assert!(MasterKey::from_base64(&B64.encode([1u8; 16]))
            .unwrap_err()
            .contains("16 bytes"));
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("text");
        std::fs::write(&text, format!("{b64}\n")).unwrap();
        assert_eq!(MasterKey::from_file(&text).unwrap(), key(7));
        let raw = dir.path().join("raw");
        std::fs::write(&raw, [9u8; 32]).unwrap();
        assert_eq!(MasterKey::from_file(&raw).unwrap(), key(9));
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "short").unwrap();
        assert!(MasterKey::from_file(&bad).is_err());
        assert!(MasterKey::from_file(&dir.path().join("missing")).is_err());
    }
}
