//! One-pass body hashing shared by every blob store: MD5 (the ETag and
//! `Content-MD5`) and CRC-64/XZ (COS `x-cos-hash-crc64ecma`).

use md5::{Digest, Md5};

use super::BlobInfo;

/// Hashes bytes as they stream past; `finish` gives the blob's [`BlobInfo`].
#[derive(Clone, Default)]
pub struct BodyHasher {
    md5: Md5,
    crc: crc64fast::Digest,
    len: u64,
}

impl BodyHasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.crc.write(data);
        self.len += data.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn bytes_hashed(&self) -> u64 {
        self.len
    }

    pub fn finish(self) -> BlobInfo {
        BlobInfo {
            len: self.len,
            md5: self.md5.finalize().into(),
            crc64: self.crc.sum64(),
        }
    }
}

/// Lowercase hex of an MD5, the unquoted ETag of a single-part object.
pub fn md5_hex(md5: &[u8; 16]) -> String {
    hex::encode(md5)
}
