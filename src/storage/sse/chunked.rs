//! The encrypted blob format: fixed-size AES-256-GCM chunks, each with its
//! own tag, so a range read decrypts only the chunks it touches and every
//! change on disk is detected before a byte of the chunk is handed out.
//!
//! ```text
//! blob    = header ‖ sealed₀ ‖ sealed₁ ‖ … ‖ sealedₙ₋₁
//! header  = "LCSSE\0\0\x01" (magic + version) ‖ nonce prefix (8 random bytes)
//! sealedᵢ = AES-256-GCM(data key, nonce = prefix ‖ u32be(i),
//!                       aad = "localcos-sse-chunk-v1" ‖ blob id ‖ u64be(i) ‖ final?,
//!                       plaintext[i·C .. (i+1)·C]) ‖ 16-byte tag
//! ```
//!
//! Every chunk holds `C` plaintext bytes except the last (1..=C bytes), which
//! alone carries the final flag. So a flipped byte fails its chunk's tag; a
//! reordered chunk fails (its index is in the nonce and the AAD); a blob cut
//! at a chunk boundary ends on a chunk not marked final; appended bytes make
//! the real last chunk non-final; a blob swapped for another blob of the same
//! object fails (the blob id is in the AAD). An empty object has no blob.

use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use localcos_aead::Aes256GcmKey;
use rand::RngCore;

use super::KeyBytes;
use crate::storage::hash::BodyHasher;
use crate::storage::{BlobId, BlobInfo, BlobReader, BlobWriter, ByteStream, StorageError};

/// Plaintext bytes per chunk for new objects (recorded per object, so it may
/// change later without breaking old blobs).
pub const CHUNK_SIZE: u32 = 64 * 1024;
/// GCM tag bytes after each chunk.
pub const TAG_LEN: u64 = 16;
/// Magic + version, then the 8-byte nonce prefix.
pub const HEADER_LEN: u64 = 16;
const MAGIC: &[u8; 8] = b"LCSSE\0\0\x01";
const AAD_LABEL: &[u8] = b"localcos-sse-chunk-v1";
/// Plaintext a writer gathers before sealing it on a blocking thread.
const SEAL_BATCH: usize = 1 << 20;

/// Where plaintext bytes live in a sealed blob (pure arithmetic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Plaintext bytes per chunk.
    pub chunk: u64,
}

/// The chunks a plaintext range touches and the blob bytes that hold them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub first_chunk: u64,
    /// Inclusive.
    pub last_chunk: u64,
    /// Blob bytes to read: whole sealed chunks `first..=last`.
    pub sealed: Range<u64>,
    /// Plaintext bytes to drop from the start of the first chunk.
    pub skip: u64,
}

impl Layout {
    pub fn new(chunk_size: u32) -> Layout {
        Layout {
            chunk: u64::from(chunk_size.max(1)),
        }
    }

    fn sealed_chunk(&self) -> u64 {
        self.chunk + TAG_LEN
    }

    /// Chunks holding `plain` bytes.
    pub fn chunks(&self, plain: u64) -> u64 {
        plain.div_ceil(self.chunk)
    }

    /// Blob length for `plain` (> 0) plaintext bytes.
    pub fn sealed_len(&self, plain: u64) -> u64 {
        HEADER_LEN + plain + TAG_LEN * self.chunks(plain)
    }

    /// Plaintext length of a blob of `sealed` bytes; `None` when no
    /// plaintext length gives that size (a truncated or padded blob).
    pub fn plain_len(&self, sealed: u64) -> Option<u64> {
        let body = sealed.checked_sub(HEADER_LEN)?;
        let n = body.div_ceil(self.sealed_chunk());
        let last = body.checked_sub((n.checked_sub(1)?) * self.sealed_chunk())?;
        if last <= TAG_LEN {
            return None;
        }
        Some(body - TAG_LEN * n)
    }

    /// The chunks behind plaintext `range` (non-empty, within `0..plain`).
    pub fn span(&self, plain: u64, range: &Range<u64>) -> Span {
        let first = range.start / self.chunk;
        let last = (range.end - 1) / self.chunk;
        let end = (HEADER_LEN + (last + 1) * self.sealed_chunk()).min(self.sealed_len(plain));
        Span {
            first_chunk: first,
            last_chunk: last,
            sealed: HEADER_LEN + first * self.sealed_chunk()..end,
            skip: range.start - first * self.chunk,
        }
    }
}

/// AES-256-GCM with this blob's nonce prefix and AAD.
#[derive(Clone)]
struct ChunkCipher {
    cipher: Aes256GcmKey,
    prefix: [u8; 8],
    /// Label ‖ blob id; index and final flag are appended per chunk.
    aad_base: Vec<u8>,
}

impl ChunkCipher {
    fn new(dek: &KeyBytes, blob: &BlobId, prefix: [u8; 8]) -> Self {
        let mut aad_base = AAD_LABEL.to_vec();
        aad_base.extend_from_slice(blob.as_str().as_bytes());
        ChunkCipher {
            cipher: Aes256GcmKey::new(&dek.0),
            prefix,
            aad_base,
        }
    }

    fn nonce_aad(&self, index: u64, last: bool) -> Result<([u8; 12], Vec<u8>), StorageError> {
        let i32 = u32::try_from(index)
            .map_err(|_| StorageError::Io(std::io::Error::other("object too large to encrypt")))?;
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&self.prefix);
        nonce[8..].copy_from_slice(&i32.to_be_bytes());
        let mut aad = Vec::with_capacity(self.aad_base.len() + 9);
        aad.extend_from_slice(&self.aad_base);
        aad.extend_from_slice(&index.to_be_bytes());
        aad.push(u8::from(last));
        Ok((nonce, aad))
    }

    /// Appends the sealed chunk `index` of `plain` to `out`.
    fn seal(
        &self,
        index: u64,
        last: bool,
        plain: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), StorageError> {
        let (nonce, aad) = self.nonce_aad(index, last)?;
        let start = out.len();
        out.extend_from_slice(plain);
        let tag = self.cipher.seal_in_place(&nonce, &aad, &mut out[start..]);
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Appends the plaintext of sealed chunk `index` to `out`, or fails
    /// without appending anything usable (the caller drops `out`).
    fn open(
        &self,
        index: u64,
        last: bool,
        sealed: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), StorageError> {
        let (nonce, aad) = self.nonce_aad(index, last)?;
        let split = sealed.len() - TAG_LEN as usize;
        let (ct, tag) = sealed.split_at(split);
        let mut tag16 = [0u8; TAG_LEN as usize];
        tag16.copy_from_slice(tag);
        let start = out.len();
        out.extend_from_slice(ct);
        self.cipher
            .open_in_place(&nonce, &aad, &mut out[start..], &tag16)
            .map_err(|_| {
                StorageError::Corrupt(format!(
                    "encrypted chunk {index} failed authentication (data altered on disk)"
                ))
            })
    }
}

/// Sealing state that travels to a blocking thread and back.
struct SealState {
    cc: ChunkCipher,
    chunk: usize,
    index: u64,
    hasher: BodyHasher,
}

impl SealState {
    /// Hashes `plain` and seals it as whole chunks; with `finish` the last
    /// one is the final chunk (then `plain` may end with a short chunk).
    fn seal_batch(&mut self, plain: &[u8], finish: bool) -> Result<Bytes, StorageError> {
        self.hasher.update(plain);
        let n = plain.len().div_ceil(self.chunk);
        let mut out = BytesMut::with_capacity(plain.len() + n * TAG_LEN as usize);
        for (i, piece) in plain.chunks(self.chunk).enumerate() {
            let last = finish && i + 1 == n;
            self.cc.seal(self.index, last, piece, &mut out)?;
            self.index += 1;
        }
        Ok(out.freeze())
    }
}

/// A [`BlobWriter`] that encrypts: the inner writer receives the sealed
/// blob; `finish` reports the *plaintext* length, MD5 and CRC-64 (what the
/// record, the ETag and `x-cos-hash-crc64ecma` describe).
pub struct EncryptingWriter {
    inner: Box<dyn BlobWriter>,
    state: Option<SealState>,
    /// Plaintext not sealed yet: a chunk is sealed only once more bytes
    /// follow it, since the last chunk must carry the final flag.
    pending: BytesMut,
    header: Option<Bytes>,
}

impl EncryptingWriter {
    /// Wraps the writer of blob `blob`, sealing with `dek` in chunks of `chunk_size`.
    pub fn new(
        inner: Box<dyn BlobWriter>,
        blob: &BlobId,
        dek: &KeyBytes,
        chunk_size: u32,
    ) -> EncryptingWriter {
        let mut prefix = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut prefix);
        let mut header = BytesMut::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&prefix);
        EncryptingWriter {
            inner,
            state: Some(SealState {
                cc: ChunkCipher::new(dek, blob, prefix),
                chunk: chunk_size.max(1) as usize,
                index: 0,
                hasher: BodyHasher::new(),
            }),
            pending: BytesMut::new(),
            header: Some(header.freeze()),
        }
    }

    /// Seals `plain` on a blocking thread and writes it (after the header,
    /// the first time).
    async fn seal_and_write(&mut self, plain: Bytes, finish: bool) -> Result<(), StorageError> {
        let mut state = self
            .state
            .take()
            .ok_or_else(|| StorageError::Io(std::io::Error::other("encrypting writer failed")))?;
        let (state, sealed) = tokio::task::spawn_blocking(move || {
            let sealed = state.seal_batch(&plain, finish);
            (state, sealed)
        })
        .await
        .map_err(|e| StorageError::Io(std::io::Error::other(e)))?;
        self.state = Some(state);
        if let Some(h) = self.header.take() {
            self.inner.write(h).await?;
        }
        let sealed = sealed?;
        if !sealed.is_empty() {
            self.inner.write(sealed).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlobWriter for EncryptingWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        self.pending.extend_from_slice(&chunk);
        if self.pending.len() > SEAL_BATCH {
            let chunk = self.state.as_ref().map_or(1, |s| s.chunk);
            // Whole chunks, keeping at least one byte back for the final chunk.
            let take = (self.pending.len() - 1) / chunk * chunk;
            let plain = self.pending.split_to(take).freeze();
            self.seal_and_write(plain, false).await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<BlobInfo, StorageError> {
        let rest = std::mem::take(&mut self.pending).freeze();
        self.seal_and_write(rest, true).await?;
        let state = self
            .state
            .take()
            .ok_or_else(|| StorageError::Io(std::io::Error::other("encrypting writer failed")))?;
        self.inner.finish().await?;
        Ok(state.hasher.finish())
    }
}

/// Streams plaintext `range` of the sealed blob `blob` (id `id`), reading
/// and decrypting only the chunks the range touches.
/// # Behavior
/// - A chunk that fails its tag, a bad header, or a blob whose length fits
///   no plaintext length (or is shorter than `range`) → the stream yields
///   `StorageError::Corrupt` and ends; no byte of a failed chunk is yielded.
/// - Chunks are decrypted on a blocking thread when several arrive at once.
pub fn decrypt_range(
    blob: Arc<dyn BlobReader>,
    id: &BlobId,
    dek: &KeyBytes,
    chunk_size: u32,
    range: Range<u64>,
) -> ByteStream {
    if range.is_empty() {
        return Box::pin(futures_util::stream::empty());
    }
    let start = Start {
        blob,
        id: id.clone(),
        dek: dek.clone(),
        layout: Layout::new(chunk_size),
        range,
    };
    Box::pin(futures_util::stream::unfold(
        Phase::Start(Box::new(start)),
        |phase| async move {
            let mut r = match phase {
                Phase::Start(s) => match s.open().await {
                    Ok(r) => r,
                    Err(e) => return Some((Err(e), Phase::Done)),
                },
                Phase::Reading(r) => r,
                Phase::Done => return None,
            };
            match r.next_piece().await? {
                Ok(b) => Some((Ok(b), Phase::Reading(r))),
                Err(e) => Some((Err(e), Phase::Done)),
            }
        },
    ))
}

enum Phase {
    Start(Box<Start>),
    Reading(Box<Reading>),
    Done,
}

struct Start {
    blob: Arc<dyn BlobReader>,
    id: BlobId,
    dek: KeyBytes,
    layout: Layout,
    range: Range<u64>,
}

fn corrupt(id: &BlobId, what: &str) -> StorageError {
    StorageError::Corrupt(format!("encrypted blob {}: {what}", id.as_str()))
}

impl Start {
    /// Reads and checks the header, then starts reading the touched chunks.
    async fn open(self) -> Result<Box<Reading>, StorageError> {
        let sealed_len = self.blob.len();
        let plain = self
            .layout
            .plain_len(sealed_len)
            .ok_or_else(|| corrupt(&self.id, "its length fits no plaintext length"))?;
        if self.range.end > plain {
            return Err(corrupt(&self.id, "shorter than its record says"));
        }
        let mut header = BytesMut::with_capacity(HEADER_LEN as usize);
        let mut s = self.blob.read(0..HEADER_LEN);
        while let Some(b) = s.next().await {
            header.extend_from_slice(&b?);
        }
        if header.len() != HEADER_LEN as usize || &header[..8] != MAGIC {
            return Err(corrupt(&self.id, "bad header"));
        }
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&header[8..16]);
        let span = self.layout.span(plain, &self.range);
        Ok(Box::new(Reading {
            cc: ChunkCipher::new(&self.dek, &self.id, prefix),
            inner: self.blob.read(span.sealed.clone()),
            buf: BytesMut::new(),
            next_index: span.first_chunk,
            last_index: span.last_chunk,
            final_index: self.layout.chunks(plain) - 1,
            final_sealed: sealed_len
                - HEADER_LEN
                - (self.layout.chunks(plain) - 1) * (self.layout.chunk + TAG_LEN),
            sealed_chunk: self.layout.chunk + TAG_LEN,
            skip: span.skip,
            remaining: self.range.end - self.range.start,
            id: self.id,
        }))
    }
}

struct Reading {
    cc: ChunkCipher,
    inner: ByteStream,
    buf: BytesMut,
    next_index: u64,
    last_index: u64,
    /// Index of the blob's last chunk (the one sealed as final).
    final_index: u64,
    /// Sealed length of that last chunk.
    final_sealed: u64,
    sealed_chunk: u64,
    skip: u64,
    remaining: u64,
    id: BlobId,
}

impl Reading {
    fn sealed_size(&self, index: u64) -> usize {
        if index == self.final_index {
            self.final_sealed as usize
        } else {
            self.sealed_chunk as usize
        }
    }

    /// The next plaintext piece; `None` at the end.
    async fn next_piece(&mut self) -> Option<Result<Bytes, StorageError>> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            // Every whole chunk already buffered, in order.
            let mut count = 0u64;
            let mut bytes = 0usize;
            while self.next_index + count <= self.last_index {
                let size = self.sealed_size(self.next_index + count);
                if self.buf.len() < bytes + size {
                    break;
                }
                bytes += size;
                count += 1;
            }
            if count > 0 {
                let sealed = self.buf.split_to(bytes).freeze();
                return Some(self.open_batch(sealed, count).await);
            }
            match self.inner.next().await {
                Some(Ok(b)) => self.buf.extend_from_slice(&b),
                Some(Err(e)) => return Some(Err(e)),
                None => return Some(Err(corrupt(&self.id, "ended early"))),
            }
        }
    }

    /// Opens `count` whole chunks starting at `next_index` (on a blocking
    /// thread when there are several) and trims them to the range.
    async fn open_batch(&mut self, sealed: Bytes, count: u64) -> Result<Bytes, StorageError> {
        let first = self.next_index;
        let sizes: Vec<(u64, bool, usize)> = (first..first + count)
            .map(|i| (i, i == self.final_index, self.sealed_size(i)))
            .collect();
        let cc = self.cc.clone();
        let open = move || -> Result<Bytes, StorageError> {
            let mut out = BytesMut::with_capacity(sealed.len());
            let mut at = 0usize;
            for (i, last, size) in sizes {
                cc.open(i, last, &sealed[at..at + size], &mut out)?;
                at += size;
            }
            Ok(out.freeze())
        };
        let mut plain = if count > 1 {
            tokio::task::spawn_blocking(open)
                .await
                .map_err(|e| StorageError::Io(std::io::Error::other(e)))??
        } else {
            open()?
        };
        self.next_index += count;
        let skip = std::mem::take(&mut self.skip) as usize;
        let plain = plain.split_off(skip.min(plain.len()));
        let take = (plain.len() as u64).min(self.remaining);
        self.remaining -= take;
        Ok(plain.slice(..take as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::MemoryBlobs;
    use crate::storage::BlobStore;

    #[test]
    fn layout_table() {
        let l = Layout::new(10);
        // (plaintext length, sealed length)
        for (p, s) in [(1, 33), (10, 42), (11, 59), (20, 68), (21, 85)] {
            assert_eq!(l.sealed_len(p), s, "sealed_len({p})");
            assert_eq!(l.plain_len(s), Some(p), "plain_len({s})");
        }
        // Lengths no plaintext produces: empty body, a chunk with only a tag.
        for s in [0, 15, 16, 32, 42 + 16, 42 + 1 + 15] {
            assert_eq!(l.plain_len(s), None, "plain_len({s})");
        }
    }

    #[test]
    fn span_table() {
        let l = Layout::new(10);
        let h = HEADER_LEN;
        // (plaintext length, range) → (first, last, sealed range, skip)
        type Case = (u64, Range<u64>, (u64, u64, Range<u64>, u64));
        let cases: &[Case] = &[
            (25, 0..25, (0, 2, h..h + 73, 0)),
            (25, 0..1, (0, 0, h..h + 26, 0)),
            (25, 9..11, (0, 1, h..h + 52, 9)),
            (25, 10..20, (1, 1, h + 26..h + 52, 0)),
            (25, 19..21, (1, 2, h + 26..h + 73, 9)),
            (25, 24..25, (2, 2, h + 52..h + 73, 4)),
            (30, 29..30, (2, 2, h + 52..h + 78, 9)),
        ];
        for (plain, range, (first, last, sealed, skip)) in cases {
            let s = l.span(*plain, range);
            assert_eq!(
                (s.first_chunk, s.last_chunk, s.sealed.clone(), s.skip),
                (*first, *last, sealed.clone(), *skip),
                "span({plain}, {range:?})"
            );
        }
    }

    const CHUNK: u32 = 16;

    /// Seals `data` into a memory blob through the writer (small chunks, so
    /// the tests cover many chunk positions).
    async fn sealed(store: &MemoryBlobs, data: &[u8], dek: &KeyBytes) -> (BlobId, BlobInfo) {
        let id = BlobId::generate();
        let inner = store.create(&id).await.unwrap();
        let mut w = Box::new(EncryptingWriter::new(inner, &id, dek, CHUNK));
        // Uneven pieces, and more than one batch.
        for piece in data.chunks(7) {
            w.write(Bytes::copy_from_slice(piece)).await.unwrap();
        }
        let info = w.finish().await.unwrap();
        (id, info)
    }

    async fn read_all(s: ByteStream) -> Result<Vec<u8>, StorageError> {
        let mut s = s;
        let mut out = Vec::new();
        while let Some(b) = s.next().await {
            out.extend_from_slice(&b?);
        }
        Ok(out)
    }

    async fn read(
        store: &MemoryBlobs,
        id: &BlobId,
        dek: &KeyBytes,
        range: Range<u64>,
    ) -> Result<Vec<u8>, StorageError> {
        let blob: Arc<dyn BlobReader> = Arc::from(store.open(id).await.unwrap());
        read_all(decrypt_range(blob, id, dek, CHUNK, range)).await
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[tokio::test]
    async fn round_trip_every_range() {
        let store = MemoryBlobs::new();
        let dek = KeyBytes([3; 32]);
        for n in [1usize, 15, 16, 17, 32, 50] {
            let plain = data(n);
            let (id, info) = sealed(&store, &plain, &dek).await;
            assert_eq!(info.len, n as u64);
            let mut h = BodyHasher::new();
            h.update(&plain);
            assert_eq!(info, h.finish(), "hashes describe the plaintext");
            let raw = read_all(store.open(&id).await.unwrap().read(0..u64::MAX))
                .await
                .unwrap();
            assert_eq!(raw.len() as u64, Layout::new(CHUNK).sealed_len(n as u64));
            if n >= 8 {
                for w in plain.windows(8) {
                    assert!(
                        !raw.windows(8).any(|r| r == w),
                        "plaintext bytes found in the blob"
                    );
                }
            }
            for a in 0..n {
                for b in a + 1..=n {
                    let got = read(&store, &id, &dek, a as u64..b as u64).await.unwrap();
                    assert_eq!(got, plain[a..b], "n={n} range {a}..{b}");
                }
            }
            let wrong = read(&store, &id, &KeyBytes([4; 32]), 0..n as u64).await;
            assert!(matches!(wrong, Err(StorageError::Corrupt(_))));
        }
    }

    /// A writer big enough to seal several batches on blocking threads.
    #[tokio::test]
    async fn large_round_trip() {
        let store = MemoryBlobs::new();
        let dek = KeyBytes([5; 32]);
        let plain = data(3 * SEAL_BATCH + 12345);
        let id = BlobId::generate();
        let inner = store.create(&id).await.unwrap();
        let mut w = Box::new(EncryptingWriter::new(inner, &id, &dek, CHUNK_SIZE));
        for piece in plain.chunks(100_000) {
            w.write(Bytes::copy_from_slice(piece)).await.unwrap();
        }
        w.finish().await.unwrap();
        let blob: Arc<dyn BlobReader> = Arc::from(store.open(&id).await.unwrap());
        let all = read_all(decrypt_range(
            blob.clone(),
            &id,
            &dek,
            CHUNK_SIZE,
            0..plain.len() as u64,
        ))
        .await
        .unwrap();
        assert_eq!(all, plain);
        let r = 65_000u64..200_000u64;
        let part = read_all(decrypt_range(blob, &id, &dek, CHUNK_SIZE, r.clone()))
            .await
            .unwrap();
        assert_eq!(part, plain[r.start as usize..r.end as usize]);
    }

    /// Rewrites blob `id` in the memory store with `raw`.
    async fn replace(store: &MemoryBlobs, id: &BlobId, raw: Vec<u8>) {
        store.delete(id).await.unwrap();
        let mut w = store.create(id).await.unwrap();
        if !raw.is_empty() {
            w.write(Bytes::from(raw)).await.unwrap();
        }
        w.finish().await.unwrap();
    }

    /// Tampering anywhere is detected: a flipped bit in every byte position
    /// (header, each chunk's ciphertext and tag), truncation at every length,
    /// appended bytes, swapped chunks, and a blob moved to another id.
    #[tokio::test]
    async fn tamper_detection_everywhere() {
        let store = MemoryBlobs::new();
        let dek = KeyBytes([9; 32]);
        let plain = data(40); // chunks of 16, 16, 8
        let (id, _) = sealed(&store, &plain, &dek).await;
        let raw = read_all(store.open(&id).await.unwrap().read(0..u64::MAX))
            .await
            .unwrap();
        let n = plain.len() as u64;

        for pos in 0..raw.len() {
            let mut bad = raw.clone();
            bad[pos] ^= 0x01;
            replace(&store, &id, bad).await;
            let got = read(&store, &id, &dek, 0..n).await;
            assert!(
                matches!(got, Err(StorageError::Corrupt(_))),
                "flip at {pos} not detected: {got:?}"
            );
        }
        for len in 0..raw.len() {
            replace(&store, &id, raw[..len].to_vec()).await;
            // Any read that needs the cut-off part fails; reads of intact
            // chunks before it may still be right, never wrong.
            let got = read(&store, &id, &dek, 0..n).await;
            assert!(got.is_err(), "truncation to {len} not detected");
        }
        // Cut at a chunk boundary: the remaining last chunk is not final.
        let two_chunks = (HEADER_LEN + 2 * (16 + TAG_LEN)) as usize;
        replace(&store, &id, raw[..two_chunks].to_vec()).await;
        let got = read(&store, &id, &dek, 0..32).await;
        assert!(got.is_err(), "boundary truncation");
        // Appending whole fake chunks makes the real last chunk non-final.
        for extra in [1usize, 17, 32, 33, 100] {
            let mut longer = raw.clone();
            longer.extend(std::iter::repeat_n(0u8, extra));
            replace(&store, &id, longer).await;
            assert!(
                read(&store, &id, &dek, 0..n).await.is_err(),
                "append {extra}"
            );
        }
        // Swapping the first two chunks.
        let c = (16 + TAG_LEN) as usize;
        let h = HEADER_LEN as usize;
        let mut swapped = raw.clone();
        swapped[h..h + c].copy_from_slice(&raw[h + c..h + 2 * c]);
        swapped[h + c..h + 2 * c].copy_from_slice(&raw[h..h + c]);
        replace(&store, &id, swapped).await;
        assert!(read(&store, &id, &dek, 0..16).await.is_err(), "swap");
        // The intact blob under another id (same key) fails too.
        let other = BlobId::generate();
        let mut w = store.create(&other).await.unwrap();
        w.write(Bytes::from(raw.clone())).await.unwrap();
        w.finish().await.unwrap();
        assert!(read(&store, &other, &dek, 0..n).await.is_err(), "moved");
        // And the original bytes read back fine.
        replace(&store, &id, raw).await;
        assert_eq!(read(&store, &id, &dek, 0..n).await.unwrap(), plain);
    }

    /// A failed chunk in the middle: the chunks before it come out, then
    /// an error, and nothing after it.
    #[tokio::test]
    async fn error_cuts_the_stream() {
        let store = MemoryBlobs::new();
        let dek = KeyBytes([1; 32]);
        let plain = data(16 * 5);
        let (id, _) = sealed(&store, &plain, &dek).await;
        let mut raw = read_all(store.open(&id).await.unwrap().read(0..u64::MAX))
            .await
            .unwrap();
        let third = (HEADER_LEN + 2 * (16 + TAG_LEN) + 3) as usize;
        raw[third] ^= 0x80;
        replace(&store, &id, raw).await;
        let blob: Arc<dyn BlobReader> = Arc::from(store.open(&id).await.unwrap());
        let mut s = decrypt_range(blob, &id, &dek, CHUNK, 0..plain.len() as u64);
        let mut good = Vec::new();
        let mut failed = false;
        while let Some(item) = s.next().await {
            match item {
                Ok(b) => {
                    assert!(!failed, "bytes after the error");
                    good.extend_from_slice(&b);
                }
                Err(_) => failed = true,
            }
        }
        assert!(failed);
        assert!(
            good.len() <= 32 && plain.starts_with(&good),
            "only verified bytes"
        );
    }
}
