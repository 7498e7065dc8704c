//! Response bodies (empty, in-memory, or a storage stream) and the request
//! body adapter that turns hyper's `Incoming` into a bounded `ByteStream`.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body::{Frame, SizeHint};

use crate::storage::{ByteStream, StorageError};

/// A response body.
#[derive(Default)]
pub enum Body {
    #[default]
    Empty,
    /// Empty, but announced with `Content-Length: 0`: hyper drops that header
    /// for bodies that report end-of-stream up front, and cos-python-sdk-v5
    /// needs it on 304 (spec cos.md §8).
    ZeroLength,
    Full(Bytes),
    /// A stream of exactly `len` bytes (the `Content-Length` we announced).
    Stream {
        stream: ByteStream,
        len: u64,
    },
    /// A stream of unknown length (chunked on HTTP/1.1): origin responses
    /// relayed without a Content-Length (op/origin_pull.rs).
    Chunked(ByteStream),
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::Full(Bytes::from(s))
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body::Full(b)
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = StorageError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StorageError>>> {
        match &mut *self {
            Body::Empty | Body::ZeroLength => Poll::Ready(None),
            Body::Full(b) => {
                let b = std::mem::take(b);
                *self = Body::Empty;
                if b.is_empty() {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Ok(Frame::data(b))))
                }
            }
            Body::Stream { stream, len } => match stream.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    *len = len.saturating_sub(chunk.len() as u64);
                    Poll::Ready(Some(Ok(Frame::data(chunk))))
                }
                Poll::Ready(Some(Err(e))) => {
                    // Cutting the response is the only honest signal left once
                    // the status line went out (e.g. an integrity failure).
                    tracing::error!(error = %e, "response body stream failed");
                    Poll::Ready(Some(Err(e)))
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
            Body::Chunked(stream) => match stream.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
                Poll::Ready(Some(Err(e))) => {
                    tracing::warn!(error = %e, "response body stream failed");
                    Poll::Ready(Some(Err(e)))
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::ZeroLength => false,
            Body::Full(b) => b.is_empty(),
            Body::Stream { len, .. } => *len == 0,
            Body::Chunked(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty | Body::ZeroLength => SizeHint::with_exact(0),
            Body::Full(b) => SizeHint::with_exact(b.len() as u64),
            Body::Stream { len, .. } => SizeHint::with_exact(*len),
            Body::Chunked(_) => SizeHint::default(),
        }
    }
}

/// Turns a request body into a `ByteStream` of data frames (trailers ignored).
/// A body that sends nothing for `idle` fails with `ClientTimeout` (COS
/// RequestTimeout), so a stalled client cannot hold a request forever.
pub fn request_stream<B>(body: B, idle: std::time::Duration) -> ByteStream
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::fmt::Display + 'static,
{
    Box::pin(BodyStream {
        body,
        idle,
        timer: None,
    })
}

pin_project_lite::pin_project! {
    struct BodyStream<B> {
        #[pin]
        body: B,
        idle: std::time::Duration,
        // Armed while the body is pending; reset by every frame.
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
    }
}

impl<B> Stream for BodyStream<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Display + 'static,
{
    type Item = Result<Bytes, StorageError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            let polled = this.body.as_mut().poll_frame(cx);
            if !polled.is_pending() {
                *this.timer = None;
            }
            return match polled {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) if data.is_empty() => continue,
                    Ok(data) => Poll::Ready(Some(Ok(data))),
                    Err(_trailers) => continue,
                },
                Poll::Ready(Some(Err(e))) => {
                    Poll::Ready(Some(Err(crate::http::limits::body_failure(&e))))
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => {
                    let idle = *this.idle;
                    let timer = this
                        .timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                    match std::future::Future::poll(timer.as_mut(), cx) {
                        Poll::Ready(()) => Poll::Ready(Some(Err(StorageError::ClientTimeout))),
                        Poll::Pending => Poll::Pending,
                    }
                }
            };
        }
    }
}

/// Reads a small request body (an XML document) into memory, refusing more
/// than `limit` bytes. `Err(None)` = too large, `Err(Some(e))` = stream error.
pub async fn read_limited(
    mut body: ByteStream,
    limit: usize,
) -> Result<Bytes, Option<StorageError>> {
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(Some)?;
        if buf.len() + chunk.len() > limit {
            return Err(None);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
