//! The request-body checks an AWS signature asks for (spec s3.md §2), as one
//! stream transform between hyper's body and the handler:
//!
//! * `aws-chunked` bodies are decoded (framing never reaches storage), their
//!   chunk-signature chain and trailer verified ([`super::aws_chunked`]);
//! * a hex `x-amz-content-sha256` is compared with the body's SHA-256;
//! * a flexible checksum (`x-amz-checksum-*` header or trailer) is computed
//!   over the decoded bytes and compared.
//!
//! Nothing is committed before a body ends well: the last piece of data is
//! held back until every check at the end passed, so a store that stops
//! reading at `Content-Length` still sees the failure instead of the last
//! byte. A failure is reported as a stream error and recorded in
//! [`PayloadFailure`], from which the service renders the right S3 error.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

use super::aws_chunked::{ChunkError, Decoder};
use super::checksum::{Checksum, ChecksumAlgorithm, ChecksumHasher, ChecksumSlot};
use crate::auth::Payload;
use crate::error::{Error, ErrorCode};
use crate::storage::{ByteStream, StorageError};

/// Why a body failed its checks; `error.rs` maps each to an S3 error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Hex `x-amz-content-sha256` ≠ SHA-256(body) → 400 XAmzContentSHA256Mismatch.
    #[error("x-amz-content-sha256 does not match the body")]
    Sha256Mismatch { expected: String, computed: String },
    /// A flexible checksum ≠ the body → 400 BadDigest.
    #[error("the {} you specified did not match the calculated checksum", .0.upper_name())]
    ChecksumMismatch(ChecksumAlgorithm),
    /// `aws-chunked` framing, chain or trailer problems.
    #[error(transparent)]
    Chunked(#[from] ChunkError),
    /// Decoded bytes ≠ `x-amz-decoded-content-length` → 400 IncompleteBody.
    #[error("decoded length {got} differs from x-amz-decoded-content-length {want}")]
    DecodedLength { want: u64, got: u64 },
}

/// Where a failed body leaves its reason (the stream error itself is a plain
/// `StorageError`). Cheap to clone; set at most once.
#[derive(Debug, Clone, Default)]
pub struct PayloadFailure(Arc<OnceLock<PayloadError>>);

impl PayloadFailure {
    pub fn get(&self) -> Option<&PayloadError> {
        self.0.get()
    }
}

/// The checksum a request asks to verify.
enum Expected {
    /// From a header: known before the body.
    Value(String),
    /// From a trailer named `x-amz-checksum-<algo>`: known at the end.
    Trailer,
}

/// What [`prepare`] hands back: the checked body and the two hand-offs.
pub struct Prepared {
    pub body: ByteStream,
    pub failure: PayloadFailure,
    pub checksum: ChecksumSlot,
}

/// Sets up the checks for a request with `payload`, adjusting `headers` so
/// that handlers see the decoded body: for `aws-chunked`, `Content-Length`
/// becomes `x-amz-decoded-content-length` and the `aws-chunked` token leaves
/// `Content-Encoding`. Header problems are refused before any body is read.
/// A body that must be empty (`body_is_empty`: the transport says there is
/// none, or the length says 0) is read and checked right here, because a
/// store expecting zero bytes never polls it.
pub async fn prepare(
    body: ByteStream,
    body_is_empty: bool,
    payload: &Payload,
    headers: &mut HeaderMap,
) -> Result<Prepared, Error> {
    let failure = PayloadFailure::default();
    let slot = ChecksumSlot::default();
    // The flexible checksum: at most one header, or an announced trailer.
    let mut checksum: Option<(ChecksumAlgorithm, Expected)> = None;
    for (name, value) in headers.iter() {
        if let Some(alg) = ChecksumAlgorithm::from_header_name(name.as_str()) {
            if checksum.is_some() {
                return Err(Error::with_message(
                    ErrorCode::InvalidRequest,
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                ));
            }
            let v = value.to_str().unwrap_or("").trim().to_string();
            checksum = Some((alg, Expected::Value(v)));
        }
    }
    let chunked = match payload {
        Payload::Chunked(c) => Some(c),
        _ => None,
    };
    let trailer_names = header_text(headers, "x-amz-trailer");
    if let (Some(c), None) = (chunked, &checksum) {
        if c.trailer {
            checksum = trailer_names
                .split(',')
                .find_map(ChecksumAlgorithm::from_header_name_trimmed)
                .map(|alg| (alg, Expected::Trailer));
        }
    }
    let sha256 = match payload {
        Payload::Sha256(h) => Some(*h),
        _ => None,
    };
    if chunked.is_none() && sha256.is_none() && checksum.is_none() {
        return Ok(Prepared {
            body,
            failure,
            checksum: slot,
        });
    }

    // The decoded length, and headers as the handlers must see them.
    let mut expected_len = super::header::content_length(headers)?;
    let decoder = match chunked {
        Some(c) => {
            let Some(decoded) = super::header::get(headers, "x-amz-decoded-content-length") else {
                return Err(Error::with_message(
                    ErrorCode::MissingContentLength,
                    "You must provide the x-amz-decoded-content-length header for aws-chunked uploads.",
                ));
            };
            let decoded: u64 = decoded.parse().map_err(|_| {
                Error::with_message(
                    ErrorCode::InvalidArgument,
                    "x-amz-decoded-content-length is not a valid number.",
                )
            })?;
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(decoded));
            strip_aws_chunked(headers);
            expected_len = Some(decoded);
            Some(Decoder::new(c, &trailer_names))
        }
        None => None,
    };
    let no_body = expected_len == Some(0) || (body_is_empty && decoder.is_none());
    let stream = PayloadStream {
        inner: body,
        decoder,
        decoded_len: chunked.and(expected_len),
        sha256: sha256.map(|h| (Sha256::new(), h)),
        checksum: checksum.map(|(alg, e)| (alg, alg.hasher(), e)),
        held: None,
        out: VecDeque::new(),
        ended: false,
        failure: failure.clone(),
        slot: slot.clone(),
    };
    let mut body: ByteStream = Box::pin(stream);
    if no_body {
        // Drain, bounded: an empty aws-chunked body is its final chunk and at
        // most 16 trailer lines of 4 KiB.
        if let Err(e) = super::body::read_limited(body, 128 * 1024).await {
            return Err(match failure.get() {
                Some(p) => p.clone().into(),
                None => match e {
                    Some(e) => e.into(),
                    None => Error::new(ErrorCode::IncompleteBody),
                },
            });
        }
        body = Box::pin(futures_util::stream::empty());
    }
    Ok(Prepared {
        body,
        failure,
        checksum: slot,
    })
}

impl ChecksumAlgorithm {
    fn from_header_name_trimmed(name: &str) -> Option<ChecksumAlgorithm> {
        ChecksumAlgorithm::from_header_name(name.trim())
    }
}

fn header_text(h: &HeaderMap, name: &str) -> String {
    h.get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
}

/// `Content-Encoding: gzip,aws-chunked` → `gzip`; only `aws-chunked` → removed.
fn strip_aws_chunked(h: &mut HeaderMap) {
    let kept: Vec<String> = header_text(h, "content-encoding")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("aws-chunked"))
        .map(str::to_string)
        .collect();
    h.remove(http::header::CONTENT_ENCODING);
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept.join(",")) {
            h.insert(http::header::CONTENT_ENCODING, v);
        }
    }
}

struct PayloadStream {
    inner: ByteStream,
    decoder: Option<Decoder>,
    /// `x-amz-decoded-content-length` of an aws-chunked body.
    decoded_len: Option<u64>,
    sha256: Option<(Sha256, [u8; 32])>,
    checksum: Option<(ChecksumAlgorithm, ChecksumHasher, Expected)>,
    /// The latest piece of data, released only when more follows or the end checked out.
    held: Option<Bytes>,
    out: VecDeque<Bytes>,
    ended: bool,
    failure: PayloadFailure,
    slot: ChecksumSlot,
}

impl PayloadStream {
    fn absorb(&mut self, chunk: Bytes) -> Result<(), PayloadError> {
        if let Some((h, _)) = &mut self.sha256 {
            h.update(&chunk);
        }
        let mut pieces: Vec<Bytes> = Vec::new();
        match &mut self.decoder {
            Some(d) => {
                d.decode(chunk, &mut |piece| pieces.push(piece))?;
                if let Some(want) = self.decoded_len {
                    if d.decoded_len() > want {
                        return Err(PayloadError::DecodedLength {
                            want,
                            got: d.decoded_len(),
                        });
                    }
                }
            }
            None => pieces.push(chunk),
        }
        for piece in pieces {
            if let Some((_, h, _)) = &mut self.checksum {
                h.update(&piece);
            }
            if let Some(prev) = self.held.replace(piece) {
                self.out.push_back(prev);
            }
        }
        Ok(())
    }

    /// The body ended: every check that needs the whole body.
    fn finish(&mut self) -> Result<(), PayloadError> {
        let mut trailer_value = None;
        if let Some(d) = &self.decoder {
            d.finish()?;
            if let Some(want) = self.decoded_len {
                if d.decoded_len() != want {
                    return Err(PayloadError::DecodedLength {
                        want,
                        got: d.decoded_len(),
                    });
                }
            }
            if let Some((alg, _, _)) = &self.checksum {
                trailer_value = d
                    .trailers()
                    .iter()
                    .find(|(n, _)| n == alg.header_name())
                    .map(|(_, v)| v.clone());
            }
        }
        if let Some((h, want)) = self.sha256.take() {
            let got: [u8; 32] = h.finalize().into();
            if got != want {
                return Err(PayloadError::Sha256Mismatch {
                    expected: hex::encode(want),
                    computed: hex::encode(got),
                });
            }
        }
        if let Some((alg, h, expected)) = self.checksum.take() {
            let got = h.finish();
            let want = match expected {
                Expected::Value(v) => v,
                Expected::Trailer => trailer_value.unwrap_or_default(),
            };
            if got != want {
                return Err(PayloadError::ChecksumMismatch(alg));
            }
            self.slot.set(Checksum {
                algorithm: alg,
                value: got,
            });
        }
        Ok(())
    }

    fn fail(&mut self, e: PayloadError) -> Poll<Option<Result<Bytes, StorageError>>> {
        let msg = e.to_string();
        let _ = self.failure.0.set(e);
        self.ended = true;
        self.held = None;
        self.out.clear();
        Poll::Ready(Some(Err(StorageError::Client(msg))))
    }
}

impl Stream for PayloadStream {
    type Item = Result<Bytes, StorageError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(piece) = this.out.pop_front() {
                return Poll::Ready(Some(Ok(piece)));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            match this.inner.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Err(e) = this.absorb(chunk) {
                        return this.fail(e);
                    }
                }
                Poll::Ready(None) => {
                    if let Err(e) = this.finish() {
                        return this.fail(e);
                    }
                    this.ended = true;
                    if let Some(last) = this.held.take() {
                        this.out.push_back(last);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
