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

/// The reflected CRC-64/XZ (ECMA-182) polynomial.
const CRC64_XZ_POLY: u64 = 0xC96C_5795_D787_0F42;

/// A 64×64 matrix over GF(2): column `i` is the image of bit `i`.
type Gf2Matrix = [u64; 64];

fn gf2_times(mat: &Gf2Matrix, mut vec: u64) -> u64 {
    let mut sum = 0u64;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 != 0 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn gf2_square(mat: &Gf2Matrix) -> Gf2Matrix {
    let mut out = [0u64; 64];
    for (n, col) in out.iter_mut().enumerate() {
        *col = gf2_times(mat, mat[n]);
    }
    out
}

/// `ZERO_BYTES[k]` is the operator that feeds `2^k` zero bytes through the
/// CRC register; built once (64 squarings), so a combine is at most 64
/// matrix-vector products whatever the lengths.
fn zero_byte_operators() -> &'static [Gf2Matrix; 64] {
    static OPS: std::sync::OnceLock<Box<[Gf2Matrix; 64]>> = std::sync::OnceLock::new();
    OPS.get_or_init(|| {
        // One zero bit: shift right, xor the polynomial when the low bit falls out.
        let mut one_bit = [0u64; 64];
        one_bit[0] = CRC64_XZ_POLY;
        for (n, col) in one_bit.iter_mut().enumerate().skip(1) {
            *col = 1u64 << (n - 1);
        }
        let two_bits = gf2_square(&one_bit);
        let four_bits = gf2_square(&two_bits);
        let mut ops = Box::new([[0u64; 64]; 64]);
        ops[0] = gf2_square(&four_bits);
        for k in 1..64 {
            ops[k] = gf2_square(&ops[k - 1]);
        }
        ops
    })
}

/// The CRC-64/XZ of `A ‖ B` from `crc_a = crc(A)`, `crc_b = crc(B)` and
/// `len_b = |B|`, without the bytes (zlib's `crc32_combine`, for 64 bits).
/// Multipart Complete folds the part CRCs with it, in part order.
pub fn crc64_combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    let ops = zero_byte_operators();
    let mut crc = crc_a;
    let mut len = len_b;
    let mut k = 0;
    while len != 0 {
        if len & 1 != 0 {
            crc = gf2_times(&ops[k], crc);
        }
        len >>= 1;
        k += 1;
    }
    crc ^ crc_b
}

/// The multipart ETag (unquoted): MD5 of the concatenated binary part MD5s,
/// then `-<number of parts>` (the S3 form; COS shows the same shape).
pub fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut h = Md5::new();
    for m in part_md5s {
        h.update(m);
    }
    let digest: [u8; 16] = h.finalize().into();
    format!("{}-{}", hex::encode(digest), part_md5s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc(data: &[u8]) -> u64 {
        let mut d = crc64fast::Digest::new();
        d.write(data);
        d.sum64()
    }

    #[test]
    fn crc64_check_value() {
        // The catalogue check value of CRC-64/XZ.
        assert_eq!(crc(b"123456789"), 0x995D_C9BB_DF19_39FA);
    }

    #[test]
    fn combine_matches_whole_crc_over_random_splits() {
        // A small deterministic xorshift: no extra dev-dependency.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let data: Vec<u8> = (0..70_000).map(|_| next() as u8).collect();
        for round in 0..200 {
            let len = if round < 10 {
                round
            } else {
                (next() % data.len() as u64) as usize
            };
            let whole = &data[..len];
            let cut = if len == 0 {
                0
            } else {
                (next() % (len as u64 + 1)) as usize
            };
            let (a, b) = whole.split_at(cut);
            assert_eq!(
                crc64_combine(crc(a), crc(b), b.len() as u64),
                crc(whole),
                "len {len} cut {cut}"
            );
        }
    }

    #[test]
    fn combine_folds_many_parts() {
        let parts: Vec<Vec<u8>> = (0..37u32)
            .map(|i| (0..(i * 97 % 1000)).map(|j| (i ^ j) as u8).collect())
            .collect();
        let whole: Vec<u8> = parts.concat();
        let folded = parts.iter().fold(crc(b""), |acc, p| {
            crc64_combine(acc, crc(p), p.len() as u64)
        });
        assert_eq!(folded, crc(&whole));
    }

    #[test]
    fn combine_with_empty_sides() {
        assert_eq!(crc64_combine(crc(b"abc"), crc(b""), 0), crc(b"abc"));
        assert_eq!(crc64_combine(crc(b""), crc(b"abc"), 3), crc(b"abc"));
    }

    #[test]
    fn multipart_etag_shape() {
        // S3's rule: md5(md5(p1) ‖ md5(p2)) + "-2".
        let m1: [u8; 16] = Md5::digest(b"hello ").into();
        let m2: [u8; 16] = Md5::digest(b"world").into();
        let mut cat = m1.to_vec();
        cat.extend_from_slice(&m2);
        let want = format!("{}-2", hex::encode(Md5::digest(&cat)));
        assert_eq!(multipart_etag(&[m1, m2]), want);
    }
}
