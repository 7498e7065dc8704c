//! Connection and request limits of the network front (`server.rs` wires
//! them in): how many connections and concurrent requests are served (503
//! SlowDown beyond them), how long a client may take to send a request head
//! or leave a keep-alive connection idle, how slowly it may send a body, and
//! COS XML for the errors hyper would otherwise answer by itself with a bare
//! status (NOTES 3).
//!
//! Pieces, per connection:
//! - [`Limits::admit`]: a connection permit, or the connection is answered
//!   503 SlowDown and closed ([`refuse_connection`]).
//! - [`TrackedIo`] wraps the socket: it closes a connection that stays idle
//!   between requests past `idle_timeout`, or whose request head takes longer
//!   than `request_timeout` from its first byte, and rewrites hyper's
//!   automatic error answers (oversized or unparsable heads) into COS XML.
//! - [`Conn::begin`]: a request permit (or 503 SlowDown) and the request's
//!   place in the connection's in-flight count, released by [`Tracked`] when
//!   the response body is done.
//! - [`GuardedBody`] wraps each request body: a body slower than
//!   `min_body_rate` over a `body_window` of waiting fails with
//!   [`BodyError::TooSlow`] (400 RequestTimeout), and at the end of the
//!   shutdown grace every body still being read fails with
//!   [`BodyError::ShuttingDown`], so a cut upload never commits.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::config::{ConfigError, RawLimits};
use crate::error::{Error, ErrorCode};
use crate::http::access_log::PendingLine;
use crate::storage::StorageError;

/// Flags (and `LOCALCOS_*` variables) of the limits; the `[limits]` table
/// of the config file has the same knobs (README "Limits and shutdown").
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LimitArgs {
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT before
    /// uploads still being received are cut (default 30).
    #[arg(long, env = "LOCALCOS_SHUTDOWN_GRACE", value_name = "SECONDS")]
    pub shutdown_grace: Option<u64>,
    /// Open connections served at once; more are answered 503 SlowDown and
    /// closed (default 10000; 0: no limit).
    #[arg(long, env = "LOCALCOS_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Requests handled at once; more are answered 503 SlowDown (default
    /// 1024; 0: no limit).
    #[arg(long, env = "LOCALCOS_MAX_CONCURRENT_REQUESTS", value_name = "N")]
    pub max_concurrent_requests: Option<usize>,
    /// Seconds a client may take to send a request head (from its first
    /// byte), and may leave a request body waiting (default 30).
    #[arg(long, env = "LOCALCOS_REQUEST_TIMEOUT", value_name = "SECONDS")]
    pub request_timeout: Option<u64>,
    /// Seconds a keep-alive connection may stay idle between requests
    /// (default 60).
    #[arg(long, env = "LOCALCOS_IDLE_TIMEOUT", value_name = "SECONDS")]
    pub idle_timeout: Option<u64>,
    /// Slowest accepted request body, in bytes per second of waiting for
    /// the client, averaged over the body idle timeout (default 1024; 0: off).
    #[arg(long, env = "LOCALCOS_MIN_BODY_RATE", value_name = "BYTES")]
    pub min_body_rate: Option<u64>,
}

/// Resolved limits (flag > environment > file > default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeLimits {
    pub shutdown_grace: Duration,
    /// `None`: unlimited.
    pub max_connections: Option<usize>,
    pub max_concurrent_requests: Option<usize>,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    /// Bytes per second of waiting; 0 disables the rate check.
    pub min_body_rate: u64,
    /// The window the rate is averaged over (`body_idle_timeout`).
    pub body_window: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits::resolve(&LimitArgs::default(), &RawLimits::default())
            .expect("default limits are valid")
    }
}

impl ServeLimits {
    pub fn resolve(args: &LimitArgs, raw: &RawLimits) -> Result<ServeLimits, ConfigError> {
        let secs = |flag: Option<u64>, file: Option<u64>, default: u64, name: &str| {
            let v = flag.or(file).unwrap_or(default);
            if v == 0 {
                Err(ConfigError(format!("{name} must be at least 1 second")))
            } else {
                Ok(Duration::from_secs(v))
            }
        };
        let cap = |flag: Option<usize>, file: Option<usize>, default: usize| {
            Some(flag.or(file).unwrap_or(default)).filter(|n| *n > 0)
        };
        let request_timeout = secs(
            args.request_timeout,
            raw.request_timeout_seconds,
            30,
            "request timeout",
        )?;
        Ok(ServeLimits {
            shutdown_grace: Duration::from_secs(
                args.shutdown_grace
                    .or(raw.shutdown_grace_seconds)
                    .unwrap_or(30),
            ),
            max_connections: cap(args.max_connections, raw.max_connections, 10_000),
            max_concurrent_requests: cap(
                args.max_concurrent_requests,
                raw.max_concurrent_requests,
                1024,
            ),
            request_timeout,
            idle_timeout: secs(
                args.idle_timeout,
                raw.idle_timeout_seconds,
                60,
                "idle timeout",
            )?,
            min_body_rate: args.min_body_rate.or(raw.min_body_rate).unwrap_or(1024),
            body_window: raw
                .body_idle_timeout_seconds
                .map(|s| Duration::from_secs(s.max(1)))
                .unwrap_or(request_timeout),
        })
    }
}

/// The server-wide limit state: permits and the shutdown cut.
pub struct Limits {
    pub settings: ServeLimits,
    connections: Option<Arc<Semaphore>>,
    requests: Option<Arc<Semaphore>>,
    /// Fired when the shutdown grace ends: bodies still being read fail.
    pub cut: CancellationToken,
}

impl Limits {
    pub fn new(settings: ServeLimits) -> Arc<Limits> {
        Arc::new(Limits {
            connections: settings
                .max_connections
                .map(|n| Arc::new(Semaphore::new(n))),
            requests: settings
                .max_concurrent_requests
                .map(|n| Arc::new(Semaphore::new(n))),
            settings,
            cut: CancellationToken::new(),
        })
    }

    /// A connection's state, or `None` when `max_connections` are open.
    pub fn admit(self: &Arc<Self>) -> Option<Conn> {
        let permit = match &self.connections {
            Some(s) => Some(s.clone().try_acquire_owned().ok()?),
            None => None,
        };
        Some(Conn {
            limits: self.clone(),
            state: Arc::new(ConnState {
                _permit: permit,
                start: Instant::now(),
                in_flight: AtomicUsize::new(0),
                idle_since_ms: AtomicU64::new(0),
            }),
        })
    }
}

struct ConnState {
    _permit: Option<OwnedSemaphorePermit>,
    start: Instant,
    /// Requests whose response body is not done yet.
    in_flight: AtomicUsize,
    /// When the connection last became idle, in ms since `start`.
    idle_since_ms: AtomicU64,
}

impl ConnState {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn idle_since(&self) -> Instant {
        self.start + Duration::from_millis(self.idle_since_ms.load(Ordering::Relaxed))
    }
}

/// One admitted connection.
#[derive(Clone)]
pub struct Conn {
    limits: Arc<Limits>,
    state: Arc<ConnState>,
}

/// The guard of one request in flight: keeps its request permit and its
/// place in the connection's in-flight count until dropped.
pub struct InFlight {
    _permit: Option<OwnedSemaphorePermit>,
    state: Arc<ConnState>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.state.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            let now = self.state.now_ms();
            self.state.idle_since_ms.store(now, Ordering::Relaxed);
        }
    }
}

impl Conn {
    /// Wraps the connection's socket (after TLS, if any).
    pub fn io<S>(&self, inner: S) -> TrackedIo<S> {
        TrackedIo {
            inner,
            state: self.state.clone(),
            idle_timeout: self.limits.settings.idle_timeout,
            request_timeout: self.limits.settings.request_timeout,
            head_started: None,
            timer: None,
            write_blocked: false,
            replacement: None,
            linger: None,
        }
    }

    /// A request starts: its permit, or `Err(SlowDown)` when
    /// `max_concurrent_requests` are being handled.
    pub fn begin(&self) -> Result<InFlight, Error> {
        let permit = match &self.limits.requests {
            Some(s) => Some(s.clone().try_acquire_owned().map_err(|_| slow_down())?),
            None => None,
        };
        self.state.in_flight.fetch_add(1, Ordering::AcqRel);
        Ok(InFlight {
            _permit: permit,
            state: self.state.clone(),
        })
    }

    /// Wraps a request body: the rate check and the shutdown cut.
    pub fn body<B>(&self, inner: B) -> GuardedBody<B> {
        let s = &self.limits.settings;
        GuardedBody {
            inner,
            cut: Box::pin(self.limits.cut.clone().cancelled_owned()),
            rate: s.min_body_rate,
            window: s.body_window,
            waited: Duration::ZERO,
            bytes: 0,
            pending_since: None,
            timer: None,
            failed: false,
        }
    }
}

/// 503 SlowDown.
pub fn slow_down() -> Error {
    Error::new(ErrorCode::SlowDown)
}

// ---------------------------------------------------------------------------
// The socket wrapper.

pin_project_lite::pin_project! {
    /// The connection's socket: idle / head timeouts on reads, hyper's own
    /// error answers rewritten on writes.
    pub struct TrackedIo<S> {
        #[pin]
        inner: S,
        state: Arc<ConnState>,
        idle_timeout: Duration,
        request_timeout: Duration,
        // When the first byte of the next request head arrived.
        head_started: Option<Instant>,
        timer: Option<Pin<Box<tokio::time::Sleep>>>,
        // The last write did not complete: the peer is slow to read, which
        // is not idleness.
        write_blocked: bool,
        // A COS error answer being written in place of hyper's (bytes, sent).
        replacement: Option<(Vec<u8>, usize)>,
        // After such an answer: the rest of the request is read and dropped
        // before the socket closes (until EOF or this deadline), so the
        // client reads the answer instead of a reset.
        linger: Option<Pin<Box<tokio::time::Sleep>>>,
    }
}

impl<S: AsyncRead> AsyncRead for TrackedIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        match this.inner.poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    if this.state.in_flight.load(Ordering::Acquire) == 0 {
                        this.head_started.get_or_insert_with(Instant::now);
                    } else {
                        *this.head_started = None;
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                // Between requests (nothing in flight) and not busy writing.
                if this.state.in_flight.load(Ordering::Acquire) > 0 || *this.write_blocked {
                    *this.head_started = None;
                    *this.timer = None;
                    return Poll::Pending;
                }
                let (deadline, idle) = match *this.head_started {
                    Some(t) if t >= this.state.idle_since() => (t + *this.request_timeout, false),
                    _ => (this.state.idle_since() + *this.idle_timeout, true),
                };
                let deadline = tokio::time::Instant::from_std(deadline);
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                match timer.as_mut().poll(cx) {
                    Poll::Pending => Poll::Pending,
                    // An idle connection ends quietly (hyper sees EOF); a
                    // request head that never completes fails.
                    Poll::Ready(()) if idle => Poll::Ready(Ok(())),
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "request head not received within the request timeout",
                    ))),
                }
            }
        }
    }
}

impl<S: AsyncWrite> TrackedIo<S> {
    /// Writes what is left of a replacement answer; Ready(Ok) once done.
    fn poll_replacement(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut this = self.project();
        while let Some((bytes, sent)) = this.replacement.as_mut() {
            if *sent >= bytes.len() {
                *this.replacement = None;
                break;
            }
            match this.inner.as_mut().poll_write(cx, &bytes[*sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    fn note_write<T>(self: Pin<&mut Self>, r: &Poll<io::Result<T>>) {
        let this = self.project();
        let blocked = r.is_pending();
        if *this.write_blocked && !blocked {
            // Bytes moved: the idle clock starts over if nothing is in flight.
            let now = this.state.now_ms();
            this.state.idle_since_ms.fetch_max(now, Ordering::Relaxed);
        }
        *this.write_blocked = blocked;
    }
}

impl<S: AsyncRead + AsyncWrite> AsyncWrite for TrackedIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.as_mut().poll_replacement(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if let Some(code) = hyper_error(bufs, total) {
            let answer = cos_error_answer(code);
            let this = self.as_mut().project();
            *this.replacement = Some((answer, 0));
            *this.linger = Some(Box::pin(tokio::time::sleep(LINGER)));
            match self.as_mut().poll_replacement(cx) {
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                // Reported as written: hyper's bytes are replaced; flush and
                // shutdown finish the replacement.
                _ => return Poll::Ready(Ok(total)),
            }
        }
        let r = self.as_mut().project().inner.poll_write_vectored(cx, bufs);
        self.note_write(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.as_mut().poll_replacement(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let r = self.as_mut().project().inner.poll_flush(cx);
        self.note_write(&r);
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.as_mut().poll_replacement(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let mut this = self.project();
        let r = this.inner.as_mut().poll_shutdown(cx);
        if r.is_pending() || this.linger.is_none() {
            return r;
        }
        // Lingering close: read and drop until EOF or the deadline.
        let mut scratch = [0u8; 8192];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match this.inner.as_mut().poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => continue,
                Poll::Ready(_) => break,
                Poll::Pending => match this.linger.as_mut().map(|t| t.as_mut().poll(cx)) {
                    Some(Poll::Pending) => return Poll::Pending,
                    _ => break,
                },
            }
        }
        *this.linger = None;
        Poll::Ready(Ok(()))
    }
}

/// How long a connection answered with a rewritten error drains the rest
/// of its request before closing.
const LINGER: Duration = Duration::from_secs(2);

/// hyper's automatic answer to a request head it could not take (too large,
/// unparsable): a bare status line with `content-length: 0` and `date`, in
/// hyper's lower case. Every answer localcos renders itself carries a
/// request id and COS header spelling, so it never looks like this.
fn hyper_error(bufs: &[IoSlice<'_>], total: usize) -> Option<ErrorCode> {
    if total > 256 || bufs.len() != 1 {
        return None;
    }
    let b: &[u8] = &bufs[0];
    let status = b.strip_prefix(b"HTTP/1.1 ")?.get(..3)?;
    let code = match status {
        b"431" => ErrorCode::RequestHeaderSectionTooLarge,
        b"414" => ErrorCode::InvalidURI,
        b"400" => ErrorCode::InvalidRequest,
        _ => return None,
    };
    let lower = |needle: &[u8]| b.windows(needle.len()).any(|w| w == needle);
    (b.ends_with(b"\r\n\r\n") && lower(b"\r\ncontent-length: 0\r\n") && !lower(b"request-id"))
        .then_some(code)
}

/// A complete HTTP/1.1 COS error answer (connection closed after it).
fn cos_error_answer(code: ErrorCode) -> Vec<u8> {
    let id = crate::service::request_id();
    let message = match code {
        ErrorCode::RequestHeaderSectionTooLarge => {
            "Your request header section exceeds the maximum allowed size."
        }
        ErrorCode::InvalidURI => "Couldn't parse the specified URI.",
        _ => "The request head could not be parsed.",
    };
    let resp = Error::with_message(code, message).into_response(
        &http::Method::GET,
        "/",
        &id,
        crate::auth::Family::Cos,
    );
    let (mut parts, body) = resp.into_parts();
    crate::dialect::translate_response(crate::auth::Family::Cos, &mut parts.headers, &id);
    let body = match body {
        crate::http::body::Body::Full(b) => b,
        _ => Bytes::new(),
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        parts.status.as_str(),
        parts.status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &parts.headers {
        if name == http::header::CONTENT_LENGTH || name == http::header::CONNECTION {
            continue;
        }
        let name = match name.as_str() {
            "content-type" => "Content-Type",
            "server" => "Server",
            "date" => "Date",
            other => other,
        };
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !parts.headers.contains_key(http::header::DATE) {
        out.extend_from_slice(
            format!(
                "Date: {}\r\n",
                httpdate::fmt_http_date(std::time::SystemTime::now())
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&body);
    out
}

// ---------------------------------------------------------------------------
// Request bodies.

/// Why a guarded request body failed.
#[derive(Debug)]
pub enum BodyError<E> {
    Inner(E),
    /// Slower than `min_body_rate` (400 RequestTimeout).
    TooSlow,
    /// The shutdown grace ended while the body was being received.
    ShuttingDown,
}

impl<E: std::fmt::Display> std::fmt::Display for BodyError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Inner(e) => e.fmt(f),
            BodyError::TooSlow => f.write_str("request body slower than the minimum rate"),
            BodyError::ShuttingDown => f.write_str("the server is shutting down"),
        }
    }
}

/// The storage error a failed request body stands for: a body too slow is
/// a timeout (400 RequestTimeout); anything else is the client's failure.
pub fn body_failure<E: std::fmt::Display + 'static>(e: &E) -> StorageError {
    let any: &dyn std::any::Any = e;
    if let Some(BodyError::<hyper::Error>::TooSlow) = any.downcast_ref::<BodyError<hyper::Error>>()
    {
        return StorageError::ClientTimeout;
    }
    StorageError::Client(e.to_string())
}

/// A request body with a minimum rate and the shutdown cut.
pub struct GuardedBody<B> {
    inner: B,
    cut: Pin<Box<WaitForCancellationFutureOwned>>,
    rate: u64,
    window: Duration,
    /// Waiting for the client within the current window, and bytes it sent.
    waited: Duration,
    bytes: u64,
    pending_since: Option<tokio::time::Instant>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    failed: bool,
}

impl<B> GuardedBody<B> {
    /// Waiting time is counted; a full window must have brought
    /// `rate * window` bytes.
    fn too_slow(&mut self, now: tokio::time::Instant) -> bool {
        if let Some(t) = self.pending_since {
            self.waited += now - t;
            self.pending_since = Some(now);
        }
        if self.waited < self.window {
            return false;
        }
        let needed = self.rate.saturating_mul(self.window.as_secs().max(1));
        if self.bytes < needed {
            return true;
        }
        self.waited = Duration::ZERO;
        self.bytes = 0;
        false
    }
}

impl<B> HttpBody for GuardedBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = BodyError<B::Error>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        if this.cut.as_mut().poll(cx).is_ready() && !this.inner.is_end_stream() {
            this.failed = true;
            return Poll::Ready(Some(Err(BodyError::ShuttingDown)));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if this.rate > 0 {
                    if let Some(d) = frame.data_ref() {
                        this.bytes += d.len() as u64;
                    }
                    let now = tokio::time::Instant::now();
                    let slow = this.too_slow(now);
                    this.pending_since = None;
                    this.timer = None;
                    if slow {
                        this.failed = true;
                        return Poll::Ready(Some(Err(BodyError::TooSlow)));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError::Inner(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if this.rate == 0 {
                    return Poll::Pending;
                }
                let now = tokio::time::Instant::now();
                if this.pending_since.is_none() {
                    this.pending_since = Some(now);
                }
                if this.too_slow(now) {
                    this.failed = true;
                    return Poll::Ready(Some(Err(BodyError::TooSlow)));
                }
                // Wake when the window would be full.
                let deadline = now + (this.window - this.waited);
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                if timer.as_mut().poll(cx).is_ready() && this.too_slow(tokio::time::Instant::now())
                {
                    this.failed = true;
                    return Poll::Ready(Some(Err(BodyError::TooSlow)));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

// ---------------------------------------------------------------------------
// Response bodies.

pin_project_lite::pin_project! {
    /// A response body that holds its request's [`InFlight`] guard until the
    /// body is done (or dropped), and its access-log line, which counts the
    /// body bytes handed to the connection and is emitted at the same point.
    pub struct Tracked<B> {
        #[pin]
        inner: B,
        guard: Option<InFlight>,
        line: Option<Box<PendingLine>>,
    }
}

impl<B> Tracked<B> {
    pub fn new(inner: B, guard: Option<InFlight>) -> Self {
        Tracked {
            inner,
            guard,
            line: None,
        }
    }

    /// Counts the body into `line` and emits it when the body is done.
    pub fn with_line(mut self, line: Option<Box<PendingLine>>) -> Self {
        self.line = line;
        self
    }
}

impl<B: HttpBody> HttpBody for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let r = this.inner.poll_frame(cx);
        match (&r, this.line.as_mut()) {
            (Poll::Ready(Some(Ok(frame))), Some(line)) => {
                if let Some(data) = frame.data_ref() {
                    line.bytes_out += bytes::Buf::remaining(data) as u64;
                }
            }
            (Poll::Ready(None), _) => {
                *this.guard = None;
                *this.line = None;
            }
            _ => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

// ---------------------------------------------------------------------------
// Connections over the limit.

/// Connections being refused right now (each lives at most a few seconds).
static REFUSING: AtomicUsize = AtomicUsize::new(0);
/// At most this many refusals are answered at once; past it, closed at once.
const MAX_REFUSING: usize = 256;

/// Answers every request on a connection over `max_connections` with 503
/// SlowDown (rendered by `service` like any error) and closes it: the client
/// reads a COS error instead of hanging in the accept queue.
pub fn refuse_connection<S, F>(io: S, answer: F)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    F: Fn(&http::Request<hyper::body::Incoming>) -> http::Response<crate::http::body::Body>
        + Send
        + Sync
        + 'static,
{
    if REFUSING.fetch_add(1, Ordering::AcqRel) >= MAX_REFUSING {
        REFUSING.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        let svc = hyper::service::service_fn(move |req| {
            let resp = answer(&req);
            async move { Ok::<_, std::convert::Infallible>(resp) }
        });
        let mut b = hyper::server::conn::http1::Builder::new();
        b.keep_alive(false)
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(Duration::from_secs(5));
        let conn = b.serve_connection(hyper_util::rt::TokioIo::new(io), svc);
        let _ = tokio::time::timeout(Duration::from_secs(10), conn).await;
        REFUSING.fetch_sub(1, Ordering::AcqRel);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyper_error_answers_are_recognised() {
        let cases: &[(&[u8], Option<ErrorCode>)] = &[
            (
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 05:00:00 GMT\r\n\r\n",
                Some(ErrorCode::RequestHeaderSectionTooLarge),
            ),
            (
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 05:00:00 GMT\r\n\r\n",
                Some(ErrorCode::InvalidRequest),
            ),
            (
                b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: x\r\n\r\n",
                Some(ErrorCode::InvalidURI),
            ),
            // localcos's own answers: COS spelling and a request id.
            (
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nx-cos-request-id: abc\r\n\r\n",
                None,
            ),
            (
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-cos-request-id: abc\r\n\r\n",
                None,
            ),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", None),
            (b"HTTP/1.1 431 x\r\ncontent-length: 0\r\n", None),
            (b"body bytes", None),
        ];
        for (bytes, want) in cases {
            let got = hyper_error(&[IoSlice::new(bytes)], bytes.len());
            assert_eq!(
                got.map(|c| c.as_str()),
                want.as_ref().map(|c| c.as_str()),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn limits_resolve_flag_over_file_over_default() {
        let d = ServeLimits::default();
        assert_eq!(d.shutdown_grace, Duration::from_secs(30));
        assert_eq!(d.max_connections, Some(10_000));
        assert_eq!(d.max_concurrent_requests, Some(1024));
        assert_eq!(d.request_timeout, Duration::from_secs(30));
        assert_eq!(d.idle_timeout, Duration::from_secs(60));
        assert_eq!(d.body_window, Duration::from_secs(30));
        let raw = RawLimits {
            max_connections: Some(5),
            max_concurrent_requests: Some(0),
            request_timeout_seconds: Some(7),
            shutdown_grace_seconds: Some(0),
            ..Default::default()
        };
        let args = LimitArgs {
            max_connections: Some(9),
            ..Default::default()
        };
        let l = ServeLimits::resolve(&args, &raw).unwrap();
        assert_eq!(l.max_connections, Some(9));
        assert_eq!(l.max_concurrent_requests, None);
        assert_eq!(l.request_timeout, Duration::from_secs(7));
        assert_eq!(l.body_window, Duration::from_secs(7));
        assert_eq!(l.shutdown_grace, Duration::ZERO);
        let bad = LimitArgs {
            idle_timeout: Some(0),
            ..Default::default()
        };
        assert!(ServeLimits::resolve(&bad, &RawLimits::default()).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_below_the_minimum_rate_fails_one_at_the_rate_passes() {
        use futures_util::StreamExt;
        use http_body_util::StreamBody;
        // 10 bytes per simulated second for 5 s windows at 8 B/s: passes;
        // 1 byte per second: fails once a window is full.
        for (per_tick, ok) in [(10usize, true), (1, false)] {
            let limits = Limits::new(ServeLimits {
                min_body_rate: 8,
                body_window: Duration::from_secs(5),
                ..ServeLimits::default()
            });
            let conn = limits.admit().unwrap();
            let chunks = futures_util::stream::iter(0..12).then(move |_| async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(vec![b'x'; per_tick])))
            });
            let mut body = conn.body(StreamBody::new(Box::pin(chunks)));
            let mut result = Ok(());
            while let Some(f) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
            {
                if let Err(e) = f {
                    result = Err(e.to_string());
                    break;
                }
            }
            assert_eq!(result.is_ok(), ok, "{per_tick} B/s: {result:?}");
        }
    }

    #[tokio::test]
    async fn the_shutdown_cut_fails_a_body_in_progress() {
        let limits = Limits::new(ServeLimits::default());
        let conn = limits.admit().unwrap();
        let (_tx, rx) =
            tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::convert::Infallible>>(1);
        let mut body = conn.body(http_body_util::StreamBody::new(tokio_stream_from(rx)));
        limits.cut.cancel();
        let f = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(matches!(f, Some(Err(BodyError::ShuttingDown))));
    }

    fn tokio_stream_from<T: Send + 'static>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> Pin<Box<dyn futures_util::Stream<Item = T> + Send>> {
        Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }

    #[tokio::test]
    async fn requests_beyond_the_limit_are_slowed_down() {
        let limits = Limits::new(ServeLimits {
            max_concurrent_requests: Some(1),
            max_connections: Some(1),
            ..ServeLimits::default()
        });
        let conn = limits.admit().unwrap();
        assert!(limits.admit().is_none(), "second connection refused");
        let first = conn.begin().unwrap();
        let e = conn.begin().err().unwrap();
        assert_eq!(e.code.as_str(), "SlowDown");
        drop(first);
        assert!(conn.begin().is_ok());
        drop(conn);
        assert!(limits.admit().is_some(), "the permit came back");
    }
}
