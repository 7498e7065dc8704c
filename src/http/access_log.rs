//! The server's own access log: one structured `tracing` event per request
//! (target `localcos::access`, level INFO), emitted where `service.rs` has the
//! final response, plus the logging set-up of the binary (filter, text or
//! JSON, a non-blocking stderr writer).
//!
//! A line names the request id (the `x-cos-request-id` sent), method,
//! operation, dialect, bucket, key, status, request/response body bytes,
//! duration (to the response head), the SecretId (never a secret or a
//! signature), the remote address and the COS error code of a failure.
//! This is not the bucket access log of `PUT ?logging`
//! (`bucket_config/logging.rs`), which is delivered into buckets.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// The `tracing` target of access-log lines (`--access-log off` or
/// `RUST_LOG=localcos::access=off` silences them).
pub const TARGET: &str = "localcos::access";

/// Whether access-log lines are wanted by the subscriber now (cheap: the
/// callsite's interest is cached).
pub fn enabled() -> bool {
    tracing::enabled!(target: "localcos::access", tracing::Level::INFO)
}

/// Everything one access-log line says.
pub struct AccessLine<'a> {
    pub request_id: &'a str,
    pub method: &'a http::Method,
    pub operation: &'static str,
    pub dialect: &'static str,
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration: Duration,
    pub secret_id: Option<&'a str>,
    pub remote: Option<SocketAddr>,
    pub error_code: Option<&'static str>,
}

/// Emits `line` (when [`enabled`]).
pub fn emit(line: &AccessLine<'_>) {
    tracing::info!(
        target: "localcos::access",
        request_id = line.request_id,
        method = line.method.as_str(),
        operation = line.operation,
        dialect = line.dialect,
        bucket = line.bucket.unwrap_or("-"),
        key = line.key.unwrap_or("-"),
        status = line.status,
        bytes_in = line.bytes_in,
        bytes_out = line.bytes_out,
        duration_us = line.duration.as_micros() as u64,
        secret_id = line.secret_id.unwrap_or("-"),
        remote = line.remote.map(tracing::field::display),
        error_code = line.error_code,
        "request"
    );
}

pin_project_lite::pin_project! {
    /// The request body, counting the bytes read through it (for the access
    /// log and `localcos_received_bytes_total`). Empty bodies carry no counter.
    pub struct CountingBody<B> {
        #[pin]
        inner: B,
        count: Option<Arc<AtomicU64>>,
    }
}

impl<B: http_body::Body<Data = Bytes>> CountingBody<B> {
    /// Wraps `inner`; the counter is returned when the body is not empty.
    pub fn new(inner: B) -> (Self, Option<Arc<AtomicU64>>) {
        let count = (!inner.is_end_stream()).then(|| Arc::new(AtomicU64::new(0)));
        (
            CountingBody {
                inner,
                count: count.clone(),
            },
            count,
        )
    }
}

impl<B> http_body::Body for CountingBody<B>
where
    B: http_body::Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let (Poll::Ready(Some(Ok(frame))), Some(count)) = (&polled, &*this.count) {
            if let Some(data) = frame.data_ref() {
                count.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An access-log line whose response body is still on its way: emitted when
/// dropped (the body ended, failed, or the client went away), with
/// `bytes_out` the body bytes handed to the connection by then (the
/// connection's body wrapper, `http::limits::Tracked`, adds them up). So an
/// aborted download logs what was sent, not its `Content-Length`.
pub struct PendingLine {
    pub request_id: String,
    pub method: http::Method,
    pub operation: &'static str,
    pub dialect: &'static str,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration: Duration,
    pub secret_id: Option<String>,
    pub remote: Option<SocketAddr>,
    pub error_code: Option<&'static str>,
}

impl Drop for PendingLine {
    fn drop(&mut self) {
        emit(&AccessLine {
            request_id: &self.request_id,
            method: &self.method,
            operation: self.operation,
            dialect: self.dialect,
            bucket: self.bucket.as_deref(),
            key: self.key.as_deref(),
            status: self.status,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            duration: self.duration,
            secret_id: self.secret_id.as_deref(),
            remote: self.remote,
            error_code: self.error_code,
        });
    }
}

/// Flushes queued log lines when dropped (keep it until the process exits).
pub type LogGuard = tracing_appender::non_blocking::WorkerGuard;

/// How the binary logs (from `Config`).
pub struct LogSetup<'a> {
    /// `EnvFilter` directives; `RUST_LOG` wins when set.
    pub level: &'a str,
    pub json: bool,
    pub access_log: bool,
}

/// Installs the global subscriber: stderr (never stdout: the first stdout
/// line is the machine-readable banner) through a non-blocking writer, so a
/// request never waits for the write(2) of its line. Lines are buffered and
/// written in batches by a worker thread; none are dropped (a full queue of
/// 128k lines makes requests wait instead). Keep the guard until exit: its
/// drop flushes.
pub fn init(setup: &LogSetup<'_>) -> LogGuard {
    let spec = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| setup.level.to_string());
    let mut filter = tracing_subscriber::EnvFilter::new(&spec);
    // The access log is its own switch, whatever the level of other lines
    // (`--log-level warn` keeps it), unless the filter names its target.
    if !setup.access_log {
        filter = filter.add_directive("localcos::access=off".parse().expect("static directive"));
    } else if !spec.contains(TARGET) {
        filter = filter.add_directive("localcos::access=info".parse().expect("static directive"));
    }
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("localcos-log")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    if setup.json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    } else {
        builder.init();
    }
    guard
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn counting_body_counts_data_frames() {
        let body = http_body_util::Full::new(Bytes::from_static(b"hello world"));
        let (body, count) = CountingBody::new(body);
        let count = count.expect("non-empty body is counted");
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(&got[..], b"hello world");
        assert_eq!(count.load(Ordering::Relaxed), 11);
    }

    #[test]
    fn empty_body_has_no_counter() {
        let (_, count) = CountingBody::new(http_body_util::Empty::<Bytes>::new());
        assert!(count.is_none());
    }
}
