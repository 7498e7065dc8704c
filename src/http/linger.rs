//! Lingering reads: a request body the handler dropped unread (an error
//! answered before the upload was read: NoSuchUpload on Upload Part,
//! NoSuchBucket, AccessDenied, ...) is read and discarded in the background,
//! up to [`LINGER_BYTES`] within [`LINGER_TIME`].
//!
//! Without it hyper closes the connection right after the answer while the
//! client is still sending: the client's next write meets a reset, and
//! clients that write the whole body before reading (cos-nodejs-sdk-v5's
//! `request`, many others) report EPIPE / ECONNRESET instead of the COS
//! error. Draining lets them read the answer and keeps the connection
//! reusable; a body past the bounds is dropped and the connection closed as
//! before. Requests with `Expect: 100-continue` are left alone: their client
//! sends no body after an early final answer.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};

/// At most this much of an abandoned body is read and discarded.
pub const LINGER_BYTES: u64 = 64 << 20;
/// ... within this long.
pub const LINGER_TIME: Duration = Duration::from_secs(30);

/// Whether the request asked for `100 Continue` before sending its body:
/// such a body is never drained (its client sends no body after an early
/// final answer), and an error answered with it unread closes the
/// connection (service.rs).
pub fn expects_continue(h: &http::HeaderMap) -> bool {
    h.get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// A request body that drains itself in the background when dropped unread.
pub struct Lingering<B: Body + Send + Unpin + 'static> {
    inner: Option<B>,
    linger: bool,
}

impl<B: Body + Send + Unpin + 'static> Lingering<B> {
    /// `linger: false` (e.g. `Expect: 100-continue`) makes this a plain wrapper.
    pub fn new(inner: B, linger: bool) -> Self {
        Lingering {
            inner: Some(inner),
            linger,
        }
    }
}

impl<B: Body + Send + Unpin + 'static> Drop for Lingering<B> {
    fn drop(&mut self) {
        let Some(body) = self.inner.take() else {
            return;
        };
        if !self.linger || body.is_end_stream() {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = tokio::time::timeout(LINGER_TIME, drain(body, LINGER_BYTES)).await;
            });
        }
    }
}

/// Reads and discards `body` until its end, an error, or `limit` bytes.
async fn drain<B: Body + Unpin>(mut body: B, limit: u64) {
    let mut read = 0u64;
    while read <= limit {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    read += bytes::Buf::remaining(data) as u64;
                }
            }
            Some(Err(_)) | None => return,
        }
    }
}

impl<B: Body + Send + Unpin + 'static> Body for Lingering<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.inner.as_mut() {
            Some(b) => Pin::new(b).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    /// A body of `chunks` 1 KiB frames that counts what was read from it.
    struct Counting {
        left: u32,
        read: Arc<AtomicU64>,
    }

    impl Body for Counting {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if self.left == 0 {
                return Poll::Ready(None);
            }
            self.left -= 1;
            self.read.fetch_add(1024, Ordering::SeqCst);
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![0u8; 1024])))))
        }
        fn is_end_stream(&self) -> bool {
            self.left == 0
        }
    }

    async fn dropped_unread(chunks: u32, linger: bool) -> u64 {
        let read = Arc::new(AtomicU64::new(0));
        drop(Lingering::new(
            Counting {
                left: chunks,
                read: read.clone(),
            },
            linger,
        ));
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        read.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn an_abandoned_body_is_drained_within_bounds() {
        // drained to its end
        assert_eq!(dropped_unread(16, true).await, 16 * 1024);
        // not drained: Expect: 100-continue
        assert_eq!(dropped_unread(16, false).await, 0);
        // bounded: a little past LINGER_BYTES, never the whole body
        let big = (LINGER_BYTES / 1024) as u32 + 100;
        let read = dropped_unread(big, true).await;
        assert!(read > LINGER_BYTES && read <= LINGER_BYTES + 1024, "{read}");
    }

    #[tokio::test]
    async fn a_body_read_by_the_handler_passes_through() {
        use http_body_util::BodyExt;
        let read = Arc::new(AtomicU64::new(0));
        let body = Lingering::new(
            Counting {
                left: 3,
                read: read.clone(),
            },
            true,
        );
        let all = body.collect().await.unwrap().to_bytes();
        assert_eq!(all.len(), 3 * 1024);
    }
}
