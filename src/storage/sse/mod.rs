//! Server-side encryption at rest (COS SSE-COS, SSE-KMS, SSE-C: spec cos.md §5,
//! https://cloud.tencent.com/document/product/436/18145), one layer above the
//! [`BlobStore`](super::BlobStore) so that every blob backend gets it.
//!
//! ```text
//! master key / KMS key / SSE-C key ──wraps──▶ data key (random, one per object)
//!                                                 │
//! plaintext ──▶ 64 KiB chunks ──AES-256-GCM──▶ blob: header ‖ chunk₀+tag ‖ chunk₁+tag ‖ …
//! ```
//!
//! * Every object gets a fresh random 256-bit data key (DEK). The record keeps
//!   it only wrapped ([`SseInfo::wrapped_dek`]) by the key its kind names:
//!   the active SSE-COS master key, a configured KMS key, or the customer's
//!   SSE-C key (of which only the MD5 is kept, never the key).
//! * The blob holds the ciphertext in fixed-size authenticated chunks
//!   ([`chunked`]), so a Range GET decrypts only the chunks it touches and a
//!   flipped, missing, reordered or appended byte fails that chunk's tag: the
//!   reader yields an error, never wrong bytes.
//! * Size, ETag (MD5) and CRC-64 in the record describe the plaintext.
//! * Key material comes through [`KeyProvider`] ([`keys`]): config, env, or a
//!   generated file in the data dir today; the MetaStore in a cluster later.

pub mod chunked;
pub mod keys;

use base64::Engine;
use localcos_aead::Aes256GcmKey;
use rand::RngCore;
use serde::{Deserialize, Serialize};

pub use chunked::{EncryptingWriter, CHUNK_SIZE};
pub use keys::{KeyError, KeyProvider, SseKeys, SseSettings};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Which COS encryption an object was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SseKind {
    /// SSE-COS: `x-cos-server-side-encryption: AES256`, COS-managed key.
    #[serde(rename = "cos")]
    Cos,
    /// SSE-KMS: `x-cos-server-side-encryption: cos/kms` (+ a CMK id).
    #[serde(rename = "kms")]
    Kms,
    /// SSE-C: the customer sends the key with every request.
    #[serde(rename = "customer")]
    Customer,
}

impl SseKind {
    fn as_str(self) -> &'static str {
        match self {
            SseKind::Cos => "cos",
            SseKind::Kms => "kms",
            SseKind::Customer => "customer",
        }
    }
}

/// What an encrypted object's record says about its encryption. Never holds
/// a usable key: the data key is wrapped, the SSE-C key is only an MD5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SseInfo {
    pub kind: SseKind,
    /// SSE-KMS: the CMK id echoed in `x-cos-server-side-encryption-cos-kms-key-id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// SSE-C: base64 MD5 of the customer key (echoed; compared on reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_key_md5: Option<String>,
    /// Which key wrapped the data key: `master:<fingerprint>`, `kms:<id>` or
    /// `customer` (see [`KeyProvider::wrapping_key`]).
    pub wrapping_key: String,
    /// base64(nonce ‖ AES-256-GCM(data key) ‖ tag).
    pub wrapped_dek: String,
    /// Plaintext bytes per authenticated chunk in this object's blobs.
    pub chunk_size: u32,
}

/// 32 bytes of key material. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytes(pub(crate) [u8; 32]);

impl KeyBytes {
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        KeyBytes(k)
    }

    /// Decodes standard base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Option<Self> {
        let raw = B64.decode(text.trim()).ok()?;
        <[u8; 32]>::try_from(raw.as_slice()).ok().map(KeyBytes)
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// base64 of the key's MD5, as in `x-cos-server-side-encryption-customer-key-MD5`.
    pub fn md5_base64(&self) -> String {
        use md5::{Digest, Md5};
        B64.encode(Md5::digest(self.0))
    }

    fn cipher(&self) -> Aes256GcmKey {
        Aes256GcmKey::new(&self.0)
    }
}

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyBytes(<redacted>)")
    }
}

/// What a write asks for, as parsed from the request headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseRequest {
    Cos,
    /// `None`: the default CMK.
    Kms {
        key_id: Option<String>,
    },
    Customer {
        key: KeyBytes,
    },
}

/// Everything a writer needs to encrypt one object: the fresh data key and
/// the record's [`SseInfo`] (with the data key already wrapped).
#[derive(Debug, Clone)]
pub struct Sealing {
    pub dek: KeyBytes,
    pub info: SseInfo,
}

impl Sealing {
    /// Resolves `req` with `keys` and makes a fresh data key for one object.
    /// # Behavior
    /// - SSE-KMS with an unknown key id → `KeyError::KmsKeyNotExist`; a
    ///   disabled one → `KeyError::KmsKeyDisabled`.
    pub fn new(keys: &dyn KeyProvider, req: &SseRequest) -> Result<Sealing, KeyError> {
        let (kind, kms_key_id, customer_key_md5, wrapping_key, wrap_with) = match req {
            SseRequest::Cos => {
                let (id, key) = keys.active_master()?;
                (SseKind::Cos, None, None, id, key)
            }
            SseRequest::Kms { key_id } => {
                let k = keys.kms_key(key_id.as_deref())?;
                (SseKind::Kms, Some(k.key_id), None, k.wrapping_id, k.key)
            }
            SseRequest::Customer { key } => (
                SseKind::Customer,
                None,
                Some(key.md5_base64()),
                CUSTOMER_WRAPPING.to_string(),
                key.clone(),
            ),
        };
        let dek = KeyBytes::random();
        let wrapped_dek = wrap(&wrap_with, kind, &wrapping_key, &dek);
        Ok(Sealing {
            dek,
            info: SseInfo {
                kind,
                kms_key_id,
                customer_key_md5,
                wrapping_key,
                wrapped_dek,
                chunk_size: CHUNK_SIZE,
            },
        })
    }

    /// Whether an object encrypted as `info` already satisfies this request
    /// (same kind, same CMK or customer key, wrapped by the same key): then
    /// a copy can share its blobs as they are. An SSE-COS object wrapped by
    /// an older master key does not qualify, so copying it re-encrypts it
    /// under the active key (key rotation by copy).
    pub fn can_share(&self, info: Option<&SseInfo>) -> bool {
        info.is_some_and(|i| {
            i.kind == self.info.kind
                && i.kms_key_id == self.info.kms_key_id
                && i.customer_key_md5 == self.info.customer_key_md5
                && i.wrapping_key == self.info.wrapping_key
        })
    }
}

/// `SseInfo::wrapping_key` of SSE-C objects.
pub const CUSTOMER_WRAPPING: &str = "customer";

fn dek_aad(kind: SseKind, wrapping_id: &str) -> Vec<u8> {
    format!("localcos-sse-dek-v1|{}|{wrapping_id}", kind.as_str()).into_bytes()
}

/// base64(nonce ‖ ciphertext ‖ tag) of the data key under `key`; the kind
/// and wrapping id are authenticated too.
fn wrap(key: &KeyBytes, kind: SseKind, wrapping_id: &str, dek: &KeyBytes) -> String {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut sealed = dek.0;
    let tag = key
        .cipher()
        .seal_in_place(&nonce, &dek_aad(kind, wrapping_id), &mut sealed);
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    out.extend_from_slice(&tag);
    B64.encode(out)
}

/// Recovers an object's data key.
/// # Behavior
/// - `WrongKey` when `key` is not the one that wrapped it (or the record's
///   wrapped key was altered).
pub fn unwrap_dek(info: &SseInfo, key: &KeyBytes) -> Result<KeyBytes, KeyError> {
    let raw = B64
        .decode(&info.wrapped_dek)
        .map_err(|_| KeyError::WrongKey)?;
    if raw.len() != 12 + 32 + 16 {
        return Err(KeyError::WrongKey);
    }
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&raw[..12]);
    let mut dek = [0u8; 32];
    dek.copy_from_slice(&raw[12..44]);
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&raw[44..]);
    let aad = dek_aad(info.kind, &info.wrapping_key);
    key.cipher()
        .open_in_place(&nonce, &aad, &mut dek, &tag)
        .map_err(|_| KeyError::WrongKey)?;
    Ok(KeyBytes(dek))
}

/// The data key of a COS- or KMS-encrypted object, unwrapped with the key
/// its record names.
/// # Behavior
/// - SSE-C objects → `KeyError::CustomerKeyRequired` (the caller has the key).
/// - The wrapping key is no longer configured → `KeyError::MissingKey`.
pub fn managed_dek(keys: &dyn KeyProvider, info: &SseInfo) -> Result<KeyBytes, KeyError> {
    if info.kind == SseKind::Customer {
        return Err(KeyError::CustomerKeyRequired);
    }
    let key = keys.wrapping_key(&info.wrapping_key)?;
    unwrap_dek(info, &key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AES-256-GCM known answer (McGrew & Viega, "The Galois/Counter Mode
    /// of Operation", test case 14: zero key and IV, one zero block), through
    /// the wrapper crate `localcos-aead`.
    #[test]
    fn aead_known_answer() {
        let k = Aes256GcmKey::new(&[0u8; 32]);
        let mut buf = [0u8; 16];
        let tag = k.seal_in_place(&[0u8; 12], &[], &mut buf);
        assert_eq!(hex::encode(buf), "cea7403d4d606b6e074ec5d3baf39d18");
        assert_eq!(hex::encode(tag), "d0d1c8a799996bf0265b98b5d48ab919");
        k.open_in_place(&[0u8; 12], &[], &mut buf, &tag).unwrap();
        assert_eq!(buf, [0u8; 16]);
        let mut bad = tag;
        bad[0] ^= 1;
        assert!(k.open_in_place(&[0u8; 12], &[], &mut buf, &bad).is_err());
    }

    #[test]
    fn doc_example_key_md5() {
        // cos.md §5: key `0123456789ABCDEF0123456789ABCDEF`.
        let k = KeyBytes::from_base64("MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY=").unwrap();
        assert_eq!(k.md5_base64(), "U5L61r7jcwdNvT7frmUG8g==");
        assert_eq!(format!("{k:?}"), "KeyBytes(<redacted>)");
        assert!(KeyBytes::from_base64("MDEy").is_none());
        assert!(KeyBytes::from_base64("not base64!").is_none());
    }

    #[test]
    fn wrap_round_trip_and_wrong_key() {
        let keys = SseKeys::for_tests();
        for req in [
            SseRequest::Cos,
            SseRequest::Kms { key_id: None },
            SseRequest::Customer {
                key: KeyBytes([7; 32]),
            },
        ] {
            let s = Sealing::new(&keys, &req).unwrap();
            let key = match &req {
                SseRequest::Customer { key } => key.clone(),
                _ => keys.wrapping_key(&s.info.wrapping_key).unwrap(),
            };
            assert_eq!(unwrap_dek(&s.info, &key).unwrap(), s.dek);
            assert_eq!(
                unwrap_dek(&s.info, &KeyBytes([8; 32])),
                Err(KeyError::WrongKey)
            );
            // The wrapped key is bound to its kind and wrapping id.
            let mut moved = s.info.clone();
            moved.wrapping_key.push('x');
            assert_eq!(unwrap_dek(&moved, &key), Err(KeyError::WrongKey));
        }
    }

    #[test]
    fn can_share() {
        let keys = SseKeys::for_tests();
        let cos = Sealing::new(&keys, &SseRequest::Cos).unwrap();
        let cos2 = Sealing::new(&keys, &SseRequest::Cos).unwrap();
        let c1 = Sealing::new(
            &keys,
            &SseRequest::Customer {
                key: KeyBytes([1; 32]),
            },
        )
        .unwrap();
        let c2 = Sealing::new(
            &keys,
            &SseRequest::Customer {
                key: KeyBytes([2; 32]),
            },
        )
        .unwrap();
        assert!(cos.can_share(Some(&cos2.info)));
        assert!(!cos.can_share(None));
        assert!(!cos.can_share(Some(&c1.info)));
        assert!(!c1.can_share(Some(&c2.info)));
        let mut rotated = cos2.info.clone();
        rotated.wrapping_key = "master:older".into();
        assert!(!cos.can_share(Some(&rotated)));
    }
}
