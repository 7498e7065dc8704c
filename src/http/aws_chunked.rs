//! The `aws-chunked` content coding (spec s3.md §2.1–2.2): an incremental
//! decoder that strips the framing, verifies the chunk-signature chain and the
//! trailer signature, and collects the trailers. Memory is bounded: chunk data
//! passes through as slices of the input (hashed on the way for the chain);
//! only a header or trailer line is buffered, at most [`MAX_LINE`] bytes.
//! https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html,
//! https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html

use bytes::{Buf, Bytes};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::{ChunkSigning, Chunked};

/// Longest chunk-header or trailer line accepted.
pub const MAX_LINE: usize = 4096;

/// Why an `aws-chunked` body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// Bad framing: a bad size line, missing CRLF, bytes after the end, a
    /// trailer that `x-amz-trailer` did not announce → 400 InvalidRequest.
    #[error("malformed aws-chunked body: {0}")]
    Framing(String),
    /// The body ended before the final chunk (and trailers) → 400 IncompleteBody.
    #[error("aws-chunked body ended early")]
    Truncated,
    /// A chunk or the trailer signature does not verify → 403 SignatureDoesNotMatch.
    #[error("{0} signature does not match")]
    Signature(String),
}

fn framing(msg: impl Into<String>) -> ChunkError {
    ChunkError::Framing(msg.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading `<hex-size>[;chunk-signature=<sig>]\r\n`.
    Header,
    /// Inside a chunk's data; `remaining` bytes to go.
    Data,
    /// The `\r\n` after a chunk's data; `crlf` bytes of it seen.
    DataEnd,
    /// After the final chunk without trailers: an optional `\r\n`.
    FinalCrlf,
    /// Reading trailer lines until an empty one.
    Trailer,
    Done,
}

/// The incremental decoder. Feed it the body as it arrives with
/// [`Decoder::decode`]; call [`Decoder::finish`] when the body ended.
#[derive(Debug)]
pub struct Decoder {
    signing: Option<ChunkSigning>,
    /// The signature the next chunk chains from.
    previous: [u8; 32],
    trailer: bool,
    /// Trailer names announced by `x-amz-trailer`, lower-case.
    announced: Vec<String>,
    state: State,
    line: Vec<u8>,
    remaining: u64,
    crlf: u8,
    chunk_hash: Sha256,
    chunk_signature: Option<[u8; 32]>,
    chunks: u64,
    decoded: u64,
    trailers: Vec<(String, String)>,
}

impl Decoder {
    /// `announced` is the `x-amz-trailer` header's list of names.
    pub fn new(mode: &Chunked, announced: &str) -> Decoder {
        Decoder {
            previous: mode.signing.as_ref().map(|s| s.seed).unwrap_or_default(),
            signing: mode.signing.clone(),
            trailer: mode.trailer,
            announced: announced
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
            state: State::Header,
            line: Vec::new(),
            remaining: 0,
            crlf: 0,
            chunk_hash: Sha256::new(),
            chunk_signature: None,
            chunks: 0,
            decoded: 0,
            trailers: Vec::new(),
        }
    }

    /// Decoded bytes so far.
    pub fn decoded_len(&self) -> u64 {
        self.decoded
    }

    /// Chunks seen so far, the final empty one included.
    pub fn chunks(&self) -> u64 {
        self.chunks
    }

    /// The trailers (name lower-case, value trimmed), once [`finish`](Self::finish) succeeded.
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// Consumes `input`, calling `out` with each piece of object data (slices
    /// of `input`, no copy).
    pub fn decode(
        &mut self,
        mut input: Bytes,
        out: &mut impl FnMut(Bytes),
    ) -> Result<(), ChunkError> {
        while !input.is_empty() {
            match self.state {
                State::Header | State::Trailer => {
                    let Some(line) = self.take_line(&mut input)? else {
                        return Ok(());
                    };
                    if self.state == State::Header {
                        self.start_chunk(&line)?;
                    } else {
                        self.trailer_line(&line)?;
                    }
                }
                State::Data => {
                    let n = usize::try_from(self.remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    let piece = input.split_to(n);
                    if self.signing.is_some() {
                        self.chunk_hash.update(&piece);
                    }
                    self.remaining -= n as u64;
                    self.decoded += n as u64;
                    out(piece);
                    if self.remaining == 0 {
                        self.end_chunk()?;
                        self.state = State::DataEnd;
                        self.crlf = 0;
                    }
                }
                State::DataEnd => {
                    let want = b"\r\n"[usize::from(self.crlf)];
                    if input[0] != want {
                        return Err(framing("chunk data not followed by CRLF"));
                    }
                    input.advance(1);
                    self.crlf += 1;
                    if self.crlf == 2 {
                        self.state = State::Header;
                    }
                }
                State::FinalCrlf => {
                    let want = b"\r\n"[usize::from(self.crlf)];
                    if input[0] != want {
                        return Err(framing("bytes after the final chunk"));
                    }
                    input.advance(1);
                    self.crlf += 1;
                    if self.crlf == 2 {
                        self.state = State::Done;
                    }
                }
                State::Done => return Err(framing("bytes after the end of the aws-chunked body")),
            }
        }
        Ok(())
    }

    /// The body ended: it must have ended where the format allows.
    pub fn finish(&self) -> Result<(), ChunkError> {
        match self.state {
            State::Done => Ok(()),
            // Without trailers the CRLF after the final chunk is optional.
            State::FinalCrlf if self.crlf == 0 => Ok(()),
            _ => Err(ChunkError::Truncated),
        }
    }

    /// Takes bytes up to and including `\r\n`; `None` when the line is not complete yet.
    fn take_line(&mut self, input: &mut Bytes) -> Result<Option<Vec<u8>>, ChunkError> {
        let newline = input.iter().position(|&b| b == b'\n');
        let take = newline.map_or(input.len(), |i| i + 1);
        if self.line.len() + take > MAX_LINE + 2 {
            return Err(framing("chunk header or trailer line too long"));
        }
        self.line.extend_from_slice(&input[..take]);
        input.advance(take);
        if newline.is_none() {
            return Ok(None);
        }
        let mut line = std::mem::take(&mut self.line);
        if !line.ends_with(b"\r\n") {
            return Err(framing("line not terminated by CRLF"));
        }
        line.truncate(line.len() - 2);
        Ok(Some(line))
    }

    /// `<hex-size>[;chunk-signature=<64 hex>]`.
    fn start_chunk(&mut self, line: &[u8]) -> Result<(), ChunkError> {
        let text = std::str::from_utf8(line).map_err(|_| framing("chunk header is not ASCII"))?;
        let (size, ext) = text.split_once(';').unwrap_or((text, ""));
        let size = size.trim();
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(framing(format!("bad chunk size {size:?}")));
        }
        let size = u64::from_str_radix(size, 16).map_err(|_| framing("bad chunk size"))?;
        self.chunk_signature = None;
        for e in ext.split(';') {
            if let Some((k, v)) = e.split_once('=') {
                if k.trim() == "chunk-signature" {
                    self.chunk_signature =
                        Some(crate::auth::aws_v4::hex32(v.trim()).ok_or_else(|| {
                            ChunkError::Signature(format!("chunk {}", self.chunks))
                        })?);
                }
            }
        }
        if self.signing.is_some() && self.chunk_signature.is_none() {
            return Err(framing("chunk without chunk-signature"));
        }
        self.chunk_hash = Sha256::new();
        self.remaining = size;
        if size > 0 {
            self.state = State::Data;
            return Ok(());
        }
        // The final, empty chunk.
        self.end_chunk()?;
        self.crlf = 0;
        self.state = if self.trailer {
            State::Trailer
        } else {
            State::FinalCrlf
        };
        Ok(())
    }

    /// Verifies the chunk just read against the chain.
    fn end_chunk(&mut self) -> Result<(), ChunkError> {
        if let (Some(signing), Some(sent)) = (&self.signing, self.chunk_signature) {
            let digest: [u8; 32] = std::mem::take(&mut self.chunk_hash).finalize().into();
            let want = signing.chunk_signature(&self.previous, &digest);
            if !bool::from(want.ct_eq(&sent)) {
                return Err(ChunkError::Signature(format!("chunk {}", self.chunks)));
            }
            self.previous = want;
        }
        self.chunks += 1;
        Ok(())
    }

    /// One trailer line, or the empty line that ends them.
    fn trailer_line(&mut self, line: &[u8]) -> Result<(), ChunkError> {
        if !line.is_empty() {
            let text = std::str::from_utf8(line).map_err(|_| framing("trailer is not UTF-8"))?;
            let (name, value) = text
                .split_once(':')
                .ok_or_else(|| framing("trailer line without ':'"))?;
            self.trailers
                .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            if self.trailers.len() > 16 {
                return Err(framing("too many trailers"));
            }
            return Ok(());
        }
        // The end: exactly the announced trailers (plus the signature).
        let mut got: Vec<&str> = self
            .trailers
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| *n != "x-amz-trailer-signature")
            .collect();
        got.sort_unstable();
        let mut announced: Vec<&str> = self.announced.iter().map(String::as_str).collect();
        announced.sort_unstable();
        if got != announced {
            return Err(framing(format!(
                "trailers {got:?} differ from x-amz-trailer {announced:?}"
            )));
        }
        if let Some(signing) = &self.signing {
            let sent = self
                .trailers
                .iter()
                .find(|(n, _)| n == "x-amz-trailer-signature")
                .and_then(|(_, v)| crate::auth::aws_v4::hex32(v))
                .ok_or_else(|| ChunkError::Signature("trailer".into()))?;
            // "<name>:<value>\n" per trailer, bare \n (spec s3.md §2.2).
            let mut h = Sha256::new();
            for (n, v) in self
                .trailers
                .iter()
                .filter(|(n, _)| n != "x-amz-trailer-signature")
            {
                h.update(n.as_bytes());
                h.update(b":");
                h.update(v.as_bytes());
                h.update(b"\n");
            }
            let want = signing.trailer_signature(&self.previous, &h.finalize().into());
            if !bool::from(want.ct_eq(&sent)) {
                return Err(ChunkError::Signature("trailer".into()));
            }
        }
        self.state = State::Done;
        Ok(())
    }
}

#[cfg(test)]
#[path = "aws_chunked_tests.rs"]
pub(crate) mod tests;
