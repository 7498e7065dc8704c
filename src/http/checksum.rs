//! S3 flexible checksums (`x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}`,
//! spec s3.md §2.3): the algorithms, the stored value, and the slot through
//! which the body pipeline hands a verified checksum to the PUT handler.
//! https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html

use std::sync::{Arc, OnceLock};

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha1::Digest;

/// A flexible-checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

pub const HEADER_PREFIX: &str = "x-amz-checksum-";

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// The lower-case suffix of the header name (`crc32`, …, `sha256`).
    pub fn suffix(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "crc32",
            ChecksumAlgorithm::Crc32c => "crc32c",
            ChecksumAlgorithm::Crc64Nvme => "crc64nvme",
            ChecksumAlgorithm::Sha1 => "sha1",
            ChecksumAlgorithm::Sha256 => "sha256",
        }
    }

    /// `x-amz-checksum-<suffix>`.
    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The name S3 uses in messages and `x-amz-sdk-checksum-algorithm` (`CRC32`, …).
    pub fn upper_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// From a header name such as `x-amz-checksum-crc32` (any case).
    pub fn from_header_name(name: &str) -> Option<ChecksumAlgorithm> {
        let lower = name.to_ascii_lowercase();
        let suffix = lower.strip_prefix(HEADER_PREFIX)?;
        ChecksumAlgorithm::ALL
            .into_iter()
            .find(|a| a.suffix() == suffix)
    }

    pub fn hasher(self) -> ChecksumHasher {
        match self {
            ChecksumAlgorithm::Crc32 => ChecksumHasher::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => ChecksumHasher::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => ChecksumHasher::Crc64Nvme(CRC64_NVME.digest()),
            ChecksumAlgorithm::Sha1 => ChecksumHasher::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => ChecksumHasher::Sha256(sha2::Sha256::new()),
        }
    }
}

/// CRC-64/NVME: reflected poly 0x9A6C9329AC4BC9B5, init and xorout all ones.
static CRC64_NVME: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_NVME);

/// A checksum as stored with an object and sent in headers: the algorithm and
/// base64 of the big-endian digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    pub value: String,
}

/// Computes one checksum incrementally.
pub enum ChecksumHasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc::Digest<'static, u64>),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl ChecksumHasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            ChecksumHasher::Crc32(h) => h.update(data),
            ChecksumHasher::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            ChecksumHasher::Crc64Nvme(d) => d.update(data),
            ChecksumHasher::Sha1(h) => h.update(data),
            ChecksumHasher::Sha256(h) => h.update(data),
        }
    }

    /// base64 of the big-endian digest.
    pub fn finish(self) -> String {
        let raw: Vec<u8> = match self {
            ChecksumHasher::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            ChecksumHasher::Crc32c(c) => c.to_be_bytes().to_vec(),
            ChecksumHasher::Crc64Nvme(d) => d.finalize().to_be_bytes().to_vec(),
            ChecksumHasher::Sha1(h) => h.finalize().to_vec(),
            ChecksumHasher::Sha256(h) => h.finalize().to_vec(),
        };
        base64::engine::general_purpose::STANDARD.encode(raw)
    }
}

/// Where the body pipeline leaves the checksum it verified, for the handler
/// that stores the object. Filled at most once, when the body ended well.
#[derive(Debug, Clone, Default)]
pub struct ChecksumSlot(Arc<OnceLock<Checksum>>);

impl ChecksumSlot {
    pub fn set(&self, c: Checksum) {
        let _ = self.0.set(c);
    }
    pub fn get(&self) -> Option<Checksum> {
        self.0.get().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(alg: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut h = alg.hasher();
        // Split updates must equal one update.
        let (a, b) = data.split_at(data.len() / 2);
        h.update(a);
        h.update(b);
        h.finish()
    }

    #[test]
    fn check_values() {
        let be = |v: u64, n: usize| {
            base64::engine::general_purpose::STANDARD.encode(&v.to_be_bytes()[8 - n..])
        };
        let d = b"123456789";
        assert_eq!(b64(ChecksumAlgorithm::Crc32, d), be(0xCBF43926, 4));
        assert_eq!(b64(ChecksumAlgorithm::Crc32c, d), be(0xE3069283, 4));
        assert_eq!(
            b64(ChecksumAlgorithm::Crc64Nvme, d),
            be(0xAE8B14860A799888, 8)
        );
        // The empty object's CRC32, as boto3 sends it.
        assert_eq!(b64(ChecksumAlgorithm::Crc32, b""), "AAAAAA==");
        assert_eq!(
            b64(ChecksumAlgorithm::Sha256, b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            b64(ChecksumAlgorithm::Sha1, b""),
            "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
        );
    }

    #[test]
    fn header_names() {
        for a in ChecksumAlgorithm::ALL {
            assert_eq!(
                ChecksumAlgorithm::from_header_name(a.header_name()),
                Some(a)
            );
            assert_eq!(a.header_name(), format!("{HEADER_PREFIX}{}", a.suffix()));
        }
        assert_eq!(
            ChecksumAlgorithm::from_header_name("X-Amz-Checksum-CRC32C"),
            Some(ChecksumAlgorithm::Crc32c)
        );
        for other in [
            "x-amz-checksum-mode",
            "x-amz-checksum-type",
            "x-amz-checksum-algorithm",
            "crc32",
        ] {
            assert_eq!(ChecksumAlgorithm::from_header_name(other), None, "{other}");
        }
    }
}
