//! Zero-copy response bodies for plain HTTP/1: object bytes go from the page
//! cache to the socket with sendfile(2), as nginx serves files, instead of
//! being copied into user space and back (that copy was ~45% of a large
//! GET's CPU).
//!
//! hyper owns the socket writes, so the body cannot call sendfile itself.
//! Instead, each connection's socket is wrapped in [`SendfileStream`], and a
//! body yields *placeholder* chunks: slices of one static buffer that is
//! never read, each standing for the file region queued with it in the
//! connection's [`SendfileQueue`]. When hyper writes a slice that points into
//! the placeholder buffer, the wrapper sends the region at the head of the
//! queue with sendfile instead. No crate offers this for hyper; it rests on
//! two properties that the server pins down:
//! - hyper's HTTP/1 writer queues body `Bytes` and hands their memory to
//!   `poll_write_vectored` as is (its vectored "queue" strategy, forced with
//!   `writev(true)`; Content-Length bodies are not re-framed);
//! - placeholders are only made for HTTP/1 requests on plain TCP (never
//!   HTTP/2 or TLS, where bytes are re-framed or encrypted).
//!
//! Any disagreement between a placeholder and the queue fails the connection
//! rather than sending wrong bytes.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// Largest region one placeholder chunk stands for.
pub const MAX_CHUNK: usize = 4 << 20;

/// The placeholder memory. Never read or written (it stays in untouched .bss
/// pages): only the addresses of its slices matter.
static PLACEHOLDER: [u8; MAX_CHUNK] = [0; MAX_CHUNK];

fn is_placeholder(buf: &[u8]) -> bool {
    let start = PLACEHOLDER.as_ptr() as usize;
    let p = buf.as_ptr() as usize;
    !buf.is_empty() && p >= start && p + buf.len() <= start + MAX_CHUNK
}

struct Region {
    file: Arc<File>,
    offset: u64,
    len: u64,
}

/// The file regions a connection's response bodies stand for, in write order.
#[derive(Clone, Default)]
pub struct SendfileQueue(Arc<Mutex<VecDeque<Region>>>);

impl SendfileQueue {
    /// A body chunk standing for `len` (≤ [`MAX_CHUNK`]) bytes of `file` at
    /// `offset`. Chunks must be handed to hyper in the order they are made.
    pub fn chunk(&self, file: Arc<File>, offset: u64, len: usize) -> Bytes {
        assert!(
            len > 0 && len <= MAX_CHUNK,
            "placeholder chunk of {len} bytes"
        );
        self.lock().push_back(Region {
            file,
            offset,
            len: len as u64,
        });
        Bytes::from_static(&PLACEHOLDER[..len])
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Region>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pin_project_lite::pin_project! {
    /// A TCP stream whose writes of placeholder slices become sendfile calls.
    pub struct SendfileStream {
        #[pin]
        inner: TcpStream,
        queue: SendfileQueue,
    }
}

impl SendfileStream {
    pub fn new(inner: TcpStream, queue: SendfileQueue) -> Self {
        SendfileStream { inner, queue }
    }
}

fn mismatch(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("sendfile placeholder out of step: {what}"),
    )
}

impl AsyncRead for SendfileStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl AsyncWrite for SendfileStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let first = bufs.iter().position(|b| is_placeholder(b));
        match first {
            // No placeholder: an ordinary write.
            None => this.inner.poll_write_vectored(cx, bufs),
            // Ordinary bytes (headers, small bodies) before the placeholder
            // go first; hyper calls again for the rest.
            Some(p) if p > 0 => this.inner.poll_write_vectored(cx, &bufs[..p]),
            Some(_) => {
                let want = bufs[0].len();
                let (file, offset, len) = {
                    let q = this.queue.lock();
                    let Some(head) = q.front() else {
                        return Poll::Ready(Err(mismatch("no region queued")));
                    };
                    (head.file.clone(), head.offset, head.len)
                };
                // hyper advances its slice as bytes go out and we advance the
                // region alike: they must always agree on what is left.
                if len != want as u64 {
                    return Poll::Ready(Err(mismatch("length differs")));
                }
                let stream: &TcpStream = &this.inner;
                loop {
                    ready!(stream.poll_write_ready(cx))?;
                    let sent = stream.try_io(Interest::WRITABLE, || {
                        let mut off = offset as libc::off_t;
                        // SAFETY: both descriptors are open for the call's
                        // duration; `off` is a valid local.
                        let n = unsafe {
                            libc::sendfile(stream.as_raw_fd(), file.as_raw_fd(), &mut off, want)
                        };
                        if n < 0 {
                            Err(io::Error::last_os_error())
                        } else {
                            Ok(n as usize)
                        }
                    });
                    match sent {
                        Ok(0) => {
                            return Poll::Ready(Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "blob shorter than its record",
                            )))
                        }
                        Ok(n) => {
                            let mut q = this.queue.lock();
                            if let Some(head) = q.front_mut() {
                                head.offset += n as u64;
                                head.len -= n as u64;
                                if head.len == 0 {
                                    q.pop_front();
                                }
                            }
                            return Poll::Ready(Ok(n));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

/// A response body for `regions` (in order) made of placeholder chunks. The
/// chunks are made lazily, as hyper polls for them, so the queue's order is
/// hyper's write order.
pub fn body(
    queue: SendfileQueue,
    regions: Vec<(Arc<File>, std::ops::Range<u64>)>,
) -> crate::storage::ByteStream {
    let chunks = regions.into_iter().flat_map(|(file, r)| {
        let mut at = r.start;
        std::iter::from_fn(move || {
            if at >= r.end {
                return None;
            }
            let n = (r.end - at).min(MAX_CHUNK as u64);
            let piece = (file.clone(), at, n as usize);
            at += n;
            Some(piece)
        })
    });
    let chunks: Vec<(Arc<File>, u64, usize)> = chunks.collect();
    Box::pin(futures_util::stream::iter(
        chunks
            .into_iter()
            .map(move |(f, off, n)| Ok(queue.chunk(f, off, n))),
    ))
}
