//! AES-256-GCM (the `aes-gcm` crate) behind non-generic functions.
//!
//! Generic code is compiled in the crate that instantiates it, at *that*
//! crate's optimisation level. Called from localcos directly, `aes-gcm`'s
//! CTR and GHASH loops would run unoptimised in debug builds (about 1 MiB/s,
//! too slow for the test suites); instantiated here, they are compiled with
//! this crate's `opt-level = 3` (see the root `Cargo.toml`).

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};

/// Nonce length in bytes.
pub const NONCE_LEN: usize = 12;
/// Tag length in bytes.
pub const TAG_LEN: usize = 16;

/// An AES-256-GCM key schedule.
#[derive(Clone)]
pub struct Aes256GcmKey(Aes256Gcm);

/// The tag did not verify: wrong key, or altered ciphertext, nonce or AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthError;

impl Aes256GcmKey {
    pub fn new(key: &[u8; 32]) -> Self {
        Aes256GcmKey(Aes256Gcm::new(key.into()))
    }

    /// Encrypts `buf` in place and returns the tag.
    #[inline(never)]
    pub fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> [u8; TAG_LEN] {
        self.0
            .encrypt_in_place_detached(Nonce::from_slice(nonce), aad, buf)
            .map(Into::into)
            // Only inputs beyond GCM's 64 GiB per-message limit fail.
            .unwrap_or_else(|_| panic!("AES-GCM message too long"))
    }

    /// Verifies `tag` and decrypts `buf` in place. On `Err` the contents of
    /// `buf` are unspecified and must not be used.
    #[inline(never)]
    pub fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AuthError> {
        self.0
            .decrypt_in_place_detached(Nonce::from_slice(nonce), aad, buf, Tag::from_slice(tag))
            .map_err(|_| AuthError)
    }
}

impl std::fmt::Debug for Aes256GcmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Aes256GcmKey(<redacted>)")
    }
}
