//! The server's own access log: one structured `tracing` event per request
//! (target `localcos::access`, level INFO), emitted where `service.rs` has the
//! final response, plus the logging set-up of the binary (filter, text or
//! JSON, the batching stderr writer of `log_writer.rs`).
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
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// The `tracing` target of access-log lines (`--access-log off` or
/// `RUST_LOG=localcos::access=off` silences them).
pub const TARGET: &str = "localcos::access";

/// Whether access-log lines are wanted now: the run-time switch once
/// [`init`] has installed the binary's subscriber (one atomic load per
/// request), else whatever the current subscriber says (in-process servers
/// and tests).
pub fn enabled() -> bool {
    match SWITCH.load(Ordering::Relaxed) {
        SWITCH_ON => true,
        SWITCH_UNSET => tracing::enabled!(target: "localcos::access", tracing::Level::INFO),
        _ => false,
    }
}

/// The access log's run-time switch ([`switch`], [`set_switch`]). Before
/// [`init`] it is unset and [`enabled`] asks the subscriber: `tracing`'s
/// `enabled!` runs the whole filter each time (only an event's own
/// interest is cached), about 35 ns a request.
static SWITCH: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(SWITCH_UNSET);
const SWITCH_UNSET: u8 = 0;
const SWITCH_OFF: u8 = 1;
const SWITCH_ON: u8 = 2;
/// The filter (`RUST_LOG`) silences the access target: no switch turns it on.
const SWITCH_FILTERED: u8 = 3;

/// Why the access log cannot be switched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SwitchError {
    #[error("this process's logging was not set up by localcos (an in-process server): the access log follows the subscriber")]
    NotInstalled,
    #[error("the log filter (RUST_LOG) turns localcos::access off; restart without that directive to switch the access log")]
    Filtered,
}

/// The access log's run-time switch: `Ok(on)` in the binary.
pub fn switch() -> Result<bool, SwitchError> {
    match SWITCH.load(Ordering::Relaxed) {
        SWITCH_ON => Ok(true),
        SWITCH_OFF => Ok(false),
        SWITCH_FILTERED => Err(SwitchError::Filtered),
        _ => Err(SwitchError::NotInstalled),
    }
}

/// Turns the access log on or off (the admin API's
/// `PUT /-/admin/observability`); requests already answered still log.
pub fn set_switch(on: bool) -> Result<(), SwitchError> {
    let new = if on { SWITCH_ON } else { SWITCH_OFF };
    SWITCH
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
            matches!(s, SWITCH_ON | SWITCH_OFF).then_some(new)
        })
        .map(drop)
        .map_err(|s| match s {
            SWITCH_FILTERED => SwitchError::Filtered,
            _ => SwitchError::NotInstalled,
        })
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
    /// When the response was ready (its head), the line's timestamp:
    /// the same point `duration` ends at.
    pub at: SystemTime,
}

/// Emits `line` (when [`enabled`]): one `tracing` event carrying every
/// field, which [`AccessLayer`] writes from `line` itself (see [`CURRENT`]).
pub fn emit(line: &AccessLine<'_>) {
    /// Puts back the previous pointer, also on unwind.
    struct Restore(*const ());
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.set(self.0);
        }
    }
    let _restore = Restore(CURRENT.replace(std::ptr::from_ref(line).cast()));
    event(line);
}

/// The access-log event of a line. The remote address is a `Display` value:
/// formatted only by a layer that visits it ([`AccessLayer`] writes it from
/// the line, [`AddrText`]).
fn event(line: &AccessLine<'_>) {
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

thread_local! {
    /// The line whose event this thread is dispatching (null otherwise), so
    /// that [`AccessLayer`] formats the line from the struct (fixed field
    /// order, literal text between values) instead of visiting the event's
    /// fields one dynamic call at a time: that visit was a third of the
    /// line's cost. Other layers still get the whole event.
    ///
    /// By hand because the `scoped-tls` crate, which does this, only holds
    /// `'static` types and `AccessLine` borrows.
    static CURRENT: std::cell::Cell<*const ()> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// Runs `f` on the line [`emit`] is dispatching on this thread, if any.
fn with_current<R>(f: impl for<'a, 'b> FnOnce(&'a AccessLine<'b>) -> R) -> Option<R> {
    let ptr = CURRENT.get().cast::<AccessLine<'_>>();
    // SAFETY: a non-null `CURRENT` was set by `emit` to the line it was
    // given, which outlives the whole `event` call, during which the
    // subscriber runs this on the same thread; the guard that puts the
    // previous value back is dropped before `emit` returns (on unwind too).
    // `f` is higher-ranked, so the reference cannot leave this call.
    unsafe { ptr.as_ref() }.map(f)
}

/// Appends `addr` as its `Display` text. An IPv4 address (nearly every
/// client's) comes from a small per-thread cache of the last ones seen, by
/// address and port: a connection's lines all carry the same, and writing
/// it cost about 40 ns of a 4 KiB GET's line in the server (`perf`, the
/// octets' and the port's digits), the lookup a few.
fn write_addr(buf: &mut Vec<u8>, addr: &SocketAddr) {
    /// Cached IPv4 texts, by a hash of address and port (a power of two).
    const SLOTS: usize = 64;
    /// One cached text: the address and port (bit 63 set: in use) and the
    /// text, at most `255.255.255.255:65535`, 21 bytes.
    #[derive(Clone, Copy)]
    struct Slot {
        key: u64,
        len: u8,
        text: [u8; 21],
    }
    thread_local! {
        static V4: std::cell::RefCell<[Slot; SLOTS]> = const {
            std::cell::RefCell::new([Slot { key: 0, len: 0, text: [0; 21] }; SLOTS])
        };
    }
    let cached = match addr {
        SocketAddr::V4(a) => V4.with(|cache| {
            let key = 1 << 63 | u64::from(a.ip().to_bits()) << 16 | u64::from(a.port());
            let index = ((key ^ key >> 7 ^ key >> 16 ^ key >> 29) as usize) & (SLOTS - 1);
            let Ok(mut cache) = cache.try_borrow_mut() else {
                return false;
            };
            let slot = &mut cache[index];
            if slot.key != key {
                let t = AddrText::new(addr);
                let text = t.as_bytes();
                slot.key = key;
                slot.len = text.len() as u8;
                slot.text[..text.len()].copy_from_slice(text);
            }
            buf.extend_from_slice(&slot.text[..usize::from(slot.len)]);
            true
        }),
        SocketAddr::V6(_) => false,
    };
    if !cached {
        buf.extend_from_slice(AddrText::new(addr).as_bytes());
    }
}

/// A socket address as its `Display` text, in a stack buffer. IPv4 (what
/// nearly every client here is) is written by hand: `SocketAddr`'s `Display`
/// goes through `core::fmt`'s padding machinery, which was about a quarter of
/// the access line's formatting cost. IPv6 uses `Display`.
struct AddrText {
    buf: [u8; 64],
    len: usize,
}

impl AddrText {
    fn new(addr: &SocketAddr) -> Self {
        let mut t = AddrText {
            buf: [0; 64],
            len: 0,
        };
        match addr {
            SocketAddr::V4(a) => {
                let mut digits = itoa::Buffer::new();
                for (i, octet) in a.ip().octets().into_iter().enumerate() {
                    if i > 0 {
                        t.push(b".");
                    }
                    t.push(digits.format(octet).as_bytes());
                }
                t.push(b":");
                t.push(digits.format(a.port()).as_bytes());
            }
            SocketAddr::V6(_) => {
                // At most `[` + 39 + `%` + 10 + `]:` + 5 = 58 bytes.
                let mut cursor = std::io::Cursor::new(&mut t.buf[..]);
                let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{addr}"));
                t.len = cursor.position() as usize;
            }
        }
        t
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// The text: only ASCII (digits, `.`, `:`, hex digits, `[`, `]`, `%`).
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// What a [`CountingBody`] has seen: bytes read, and whether it ended.
#[derive(Debug, Default)]
pub struct BodyCount {
    bytes: AtomicU64,
    ended: std::sync::atomic::AtomicBool,
}

impl BodyCount {
    /// Body bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Whether the body was read to its end.
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Relaxed)
    }
}

pin_project_lite::pin_project! {
    /// The request body, counting the bytes read through it (for the access
    /// log and `localcos_received_bytes_total`) and noting its end (an answer
    /// given with the body unread closes the connection). Empty bodies carry
    /// no counter.
    pub struct CountingBody<B> {
        #[pin]
        inner: B,
        count: Option<Arc<BodyCount>>,
    }
}

impl<B: http_body::Body<Data = Bytes>> CountingBody<B> {
    /// Wraps `inner`; the counter is returned when the body is not empty.
    pub fn new(inner: B) -> (Self, Option<Arc<BodyCount>>) {
        let count = (!inner.is_end_stream()).then(|| Arc::new(BodyCount::default()));
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
        let mut this = self.project();
        let polled = this.inner.as_mut().poll_frame(cx);
        if let Some(count) = &*this.count {
            match &polled {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        count.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                    }
                    if this.inner.is_end_stream() {
                        count.ended.store(true, Ordering::Relaxed);
                    }
                }
                Poll::Ready(None) => count.ended.store(true, Ordering::Relaxed),
                _ => {}
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
    /// When the response was ready (see [`AccessLine::at`]).
    pub at: Instant,
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
            at: wall_time(self.at),
        });
    }
}

/// How long a thread uses one pair of clock readings in [`wall_time`].
const ANCHOR_AGE: Duration = Duration::from_secs(1);

/// The wall-clock time of `at`, from a pair of readings of both clocks that
/// this thread took less than [`ANCHOR_AGE`] before `at` (they are read
/// again when `at` is past that): a line's timestamp then costs no clock
/// read of its own, about 30 ns a request here, where a 4 KiB GET's whole
/// access line is budgeted at a few hundred (issue 11's 5%). A step of the
/// wall clock shows in lines within `ANCHOR_AGE`; the monotonic clock
/// follows NTP's rate corrections as the wall clock does.
pub fn wall_time(at: Instant) -> SystemTime {
    thread_local! {
        static ANCHOR: std::cell::Cell<Option<(Instant, SystemTime)>> =
            const { std::cell::Cell::new(None) };
    }
    let anchor = ANCHOR.get();
    if let Some((instant, wall)) = anchor {
        // One subtraction in the common case (std's is not free).
        match at.checked_duration_since(instant) {
            Some(after) if after < ANCHOR_AGE => return wall.checked_add(after).unwrap_or(wall),
            Some(_) => {}
            None => return wall.checked_sub(instant - at).unwrap_or(wall),
        }
    }
    let (instant, wall) = (Instant::now(), SystemTime::now());
    ANCHOR.set(Some((instant, wall)));
    match at.checked_duration_since(instant) {
        Some(after) => wall.checked_add(after),
        None => wall.checked_sub(instant - at),
    }
    .unwrap_or(wall)
}

/// Flushes queued log lines when dropped (keep it until the process exits).
pub use super::log_writer::LogGuard;

/// How the binary logs (from `Config`).
#[derive(Debug, Clone, Copy)]
pub struct LogSetup<'a> {
    /// `EnvFilter` directives; `RUST_LOG` wins when set.
    pub level: &'a str,
    pub json: bool,
    pub access_log: bool,
}

/// Installs the global subscriber: stderr (never stdout: the first stdout
/// line is the machine-readable banner) through the batching writer of
/// `log_writer.rs`, so a request never waits for the write(2) of its line.
/// None are dropped (a full buffer makes requests wait instead). Keep the
/// guard until exit: its drop flushes.
///
/// Access-log events are written by [`AccessLayer`] (same line shapes as the
/// `fmt` layer, a fraction of its cost); every other event by the `fmt` layer.
pub fn init(setup: &LogSetup<'_>) -> LogGuard {
    use tracing_subscriber::util::SubscriberInitExt;

    let spec = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| setup.level.to_string());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = super::log_writer::BatchWriter::new(std::io::stderr());
    // The filter lets access lines through and the switch decides, so that
    // the admin API can turn them on and off without a restart.
    let filter_setup = LogSetup {
        access_log: true,
        ..*setup
    };
    subscriber(&filter_setup, &spec, ansi, writer).init();
    let passes = tracing::enabled!(target: "localcos::access", tracing::Level::INFO);
    SWITCH.store(
        match (passes, setup.access_log) {
            (false, _) => SWITCH_FILTERED,
            (true, false) => SWITCH_OFF,
            (true, true) => SWITCH_ON,
        },
        Ordering::Relaxed,
    );
    guard
}

/// The subscriber [`init`] installs, for filter directives `spec`, writing
/// to `writer`.
fn subscriber<W>(
    setup: &LogSetup<'_>,
    spec: &str,
    ansi: bool,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + LineSink + Clone + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    let mut filter = tracing_subscriber::EnvFilter::new(spec);
    // The access log is its own switch, whatever the level of other lines
    // (`--log-level warn` keeps it), unless the filter names its target.
    if !setup.access_log {
        filter = filter.add_directive("localcos::access=off".parse().expect("static directive"));
    } else if !spec.contains(TARGET) {
        filter = filter.add_directive("localcos::access=info".parse().expect("static directive"));
    }
    let fmt = if setup.json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(writer.clone())
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(writer.clone())
            .with_ansi(ansi)
            .boxed()
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(NotAccess(fmt))
        .with(AccessLayer {
            json: setup.json,
            writer,
        })
}

/// The `fmt` layer without access-log events (written by [`AccessLayer`]):
/// every `Layer` call is passed on but those events' `on_event`. Not a
/// per-layer filter (`with_filter`): with one, the layers disagree about the
/// access callsite, so its interest becomes "sometimes" and every request's
/// line ran the whole dynamic filter chain (about 1% of a 4 KiB GET,
/// benches/observability.rs). Here every callsite's interest is static and
/// cached. (An event format that writes nothing for them, as before, still
/// cost the `fmt` layer's per-event set-up: its thread-local buffer and
/// context, 15-25 ns a request.)
struct NotAccess<L>(L);

impl<S, L> tracing_subscriber::Layer<S> for NotAccess<L>
where
    S: tracing::Subscriber,
    L: tracing_subscriber::Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.0.on_register_dispatch(subscriber);
    }
    fn on_layer(&mut self, subscriber: &mut S) {
        self.0.on_layer(subscriber);
    }
    fn register_callsite(
        &self,
        metadata: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        self.0.register_callsite(metadata)
    }
    fn enabled(
        &self,
        metadata: &tracing::Metadata<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        self.0.enabled(metadata, ctx)
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.0.max_level_hint()
    }
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.on_new_span(attrs, id, ctx);
    }
    fn on_record(
        &self,
        span: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.on_record(span, values, ctx);
    }
    fn on_follows_from(
        &self,
        span: &tracing::span::Id,
        follows: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.on_follows_from(span, follows, ctx);
    }
    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        self.0.event_enabled(event, ctx)
    }
    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != TARGET {
            self.0.on_event(event, ctx);
        }
    }
    fn on_enter(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        self.0.on_enter(id, ctx);
    }
    fn on_exit(&self, id: &tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        self.0.on_exit(id, ctx);
    }
    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        self.0.on_close(id, ctx);
    }
    fn on_id_change(
        &self,
        old: &tracing::span::Id,
        new: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.on_id_change(old, new, ctx);
    }
    // Passed on too: the `fmt` layer finds its own parts through it.
    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        if id == std::any::TypeId::of::<Self>() {
            Some(std::ptr::from_ref(self).cast())
        } else {
            // SAFETY: the caller's contract is the inner layer's.
            unsafe { self.0.downcast_raw(id) }
        }
    }
}

/// Writes access-log events (target [`TARGET`]) in the shapes the `fmt`
/// layer would give them (text: `<time>  INFO localcos::access: request
/// name=value ...`; JSON: one flat object ending in `"target"`), formatted
/// by hand: from the [`AccessLine`] that [`emit`] is dispatching
/// ([`format_line`]) straight into the writer's buffer, else by visiting
/// the event's fields ([`format_event`]) into a reused per-thread buffer.
/// The `fmt` layer formats through `core::fmt` with several allocations
/// per line; this line is written once per request, and the budget
/// for metrics plus access log is 5% of a 4 KiB GET, so it is formatted
/// directly.
pub struct AccessLayer<W> {
    pub json: bool,
    pub writer: W,
}

/// Where [`AccessLayer`] puts its lines.
pub trait LineSink {
    /// Appends what `write` appends to the buffer it is given: one or more
    /// whole lines. `write` only formats (it logs nothing).
    fn write_line(&self, write: &mut dyn FnMut(&mut Vec<u8>));
}

/// Formats straight into the shared buffer, under its lock.
impl LineSink for super::log_writer::BatchWriter {
    fn write_line(&self, write: &mut dyn FnMut(&mut Vec<u8>)) {
        self.append_with(write);
    }
}

impl<S, W> tracing_subscriber::Layer<S> for AccessLayer<W>
where
    S: tracing::Subscriber,
    W: LineSink + 'static,
{
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() != TARGET {
            return;
        }
        thread_local! {
            static LINE: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(512));
        }
        // From the struct: formatted straight into the writer's buffer.
        let direct = with_current(|line| {
            self.writer
                .write_line(&mut |buf| format_line(buf, self.json, line, line.at));
        });
        if direct.is_some() {
            return;
        }
        // Visiting the event runs its fields' `Debug`, which may log: so
        // not under the writer's lock, but into a buffer of this thread.
        let now = SystemTime::now();
        let write = |buf: &mut Vec<u8>| {
            buf.clear();
            format_event(buf, self.json, event, now);
            self.writer
                .write_line(&mut |out| out.extend_from_slice(buf));
        };
        LINE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => write(&mut buf),
            // Re-entered (an event emitted while writing): a buffer of its own.
            Err(_) => write(&mut Vec::new()),
        });
    }
}

/// One access-log line for `line` at `now`, newline included: what
/// [`format_event`] writes for its event, byte for byte (a test checks).
fn format_line(buf: &mut Vec<u8>, json: bool, line: &AccessLine<'_>, now: std::time::SystemTime) {
    if json {
        format_line_in::<true>(buf, line, now);
    } else {
        format_line_in::<false>(buf, line, now);
    }
}

/// [`format_line`] for one format: with `JSON` a constant, the text between
/// values is a literal of known length, stored inline instead of through a
/// `memcpy` call per separator.
#[inline]
fn format_line_in<const JSON: bool>(
    buf: &mut Vec<u8>,
    line: &AccessLine<'_>,
    now: std::time::SystemTime,
) {
    let mut digits = itoa::Buffer::new();
    let mut f = LineFields { buf, json: JSON };
    if JSON {
        f.buf.extend_from_slice(b"{\"timestamp\":\"");
        timestamp(f.buf, now);
        f.buf
            .extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"request\",\"request_id\":");
    } else {
        timestamp(f.buf, now);
        f.buf
            .extend_from_slice(b"  INFO localcos::access: request request_id=");
    }
    // (text, JSON) between one value and the next.
    let sep = |f: &mut LineFields<'_>, text: &[u8], json: &[u8]| {
        f.buf.extend_from_slice(if JSON { json } else { text });
    };
    // Base64 (`service::request_id`): no escape check needed.
    f.token(line.request_id);
    sep(&mut f, b" method=", b",\"method\":");
    f.token(line.method.as_str());
    sep(&mut f, b" operation=", b",\"operation\":");
    f.token(line.operation);
    sep(&mut f, b" dialect=", b",\"dialect\":");
    f.token(line.dialect);
    sep(&mut f, b" bucket=", b",\"bucket\":");
    f.string(line.bucket.unwrap_or("-"));
    sep(&mut f, b" key=", b",\"key\":");
    f.string(line.key.unwrap_or("-"));
    sep(&mut f, b" status=", b",\"status\":");
    match line.status {
        // Every HTTP status (`http::StatusCode` holds 100..=999).
        s @ 100..=999 => f.buf.extend_from_slice(&[
            b'0' + (s / 100) as u8,
            b'0' + (s / 10 % 10) as u8,
            b'0' + (s % 10) as u8,
        ]),
        s => f.buf.extend_from_slice(digits.format(s).as_bytes()),
    }
    sep(&mut f, b" bytes_in=", b",\"bytes_in\":");
    f.buf
        .extend_from_slice(digits.format(line.bytes_in).as_bytes());
    sep(&mut f, b" bytes_out=", b",\"bytes_out\":");
    f.buf
        .extend_from_slice(digits.format(line.bytes_out).as_bytes());
    sep(&mut f, b" duration_us=", b",\"duration_us\":");
    f.buf
        .extend_from_slice(digits.format(line.duration.as_micros() as u64).as_bytes());
    sep(&mut f, b" secret_id=", b",\"secret_id\":");
    f.string(line.secret_id.unwrap_or("-"));
    if let Some(addr) = &line.remote {
        // An address needs no escaping (digits, `.`, `:`, hex, `[]%`): a
        // JSON string, or bare in text as the fmt layer prints a Display
        // value.
        sep(&mut f, b" remote=", b",\"remote\":\"");
        write_addr(f.buf, addr);
        sep(&mut f, b"", b"\"");
    }
    if let Some(code) = line.error_code {
        sep(&mut f, b" error_code=", b",\"error_code\":");
        f.token(code);
    }
    sep(&mut f, b"\n", b",\"target\":\"localcos::access\"}\n");
}

/// One access-log line for `event` at `now`, newline included.
fn format_event(
    buf: &mut Vec<u8>,
    json: bool,
    event: &tracing::Event<'_>,
    now: std::time::SystemTime,
) {
    let level = event.metadata().level().as_str();
    if json {
        buf.extend_from_slice(b"{\"timestamp\":\"");
        timestamp(buf, now);
        buf.extend_from_slice(b"\",\"level\":\"");
        buf.extend_from_slice(level.as_bytes());
        buf.push(b'"');
        event.record(&mut LineFields { buf, json: true });
        buf.extend_from_slice(b",\"target\":\"");
        buf.extend_from_slice(event.metadata().target().as_bytes());
        buf.extend_from_slice(b"\"}\n");
    } else {
        timestamp(buf, now);
        buf.push(b' ');
        for _ in level.len()..5 {
            buf.push(b' ');
        }
        buf.extend_from_slice(level.as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(event.metadata().target().as_bytes());
        buf.push(b':');
        event.record(&mut LineFields { buf, json: false });
        buf.push(b'\n');
    }
}

/// RFC 3339 UTC with microseconds, as the `fmt` layer prints it
/// (`2026-12-02T08:31:00.123456Z`); the part up to the second is formatted
/// once per second per thread.
fn timestamp(buf: &mut Vec<u8>, now: std::time::SystemTime) {
    thread_local! {
        static SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
    }
    let since = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (cached, mut prefix) = SECOND.get();
    if cached != secs {
        let text = humantime::format_rfc3339_seconds(now).to_string();
        prefix.copy_from_slice(&text.as_bytes()[..19]);
        SECOND.set((secs, prefix));
    }
    buf.extend_from_slice(&prefix);
    buf.push(b'.');
    let micros = since.subsec_micros();
    let mut digits = [b'0'; 6];
    let mut n = micros;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    buf.extend_from_slice(&digits);
    buf.push(b'Z');
}

/// Writes an event's fields: text `name=value` (strings quoted as `{:?}`
/// quotes them, the message bare and first), JSON `,"name":value`.
struct LineFields<'a> {
    buf: &'a mut Vec<u8>,
    json: bool,
}

/// Whether `s` goes into a line as it is, between quotes: no control byte,
/// no `"` or `\\`, and, with `ascii`, nothing past 0x7e (text lines quote as
/// `{:?}` does, which escapes DEL and non-ASCII; JSON keeps UTF-8).
///
/// One table load per byte and no early exit (nearly every value is plain):
/// most values are shorter than a vector or end in a short tail (bucket,
/// key), which the vectorised comparison loop this replaces checked a byte
/// at a time with four comparisons; this takes about half its time for a
/// 4 KiB GET's four strings (`perf` had put 90 ns of the line there).
#[inline]
fn plain(s: &[u8], ascii: bool) -> bool {
    let mask = if ascii {
        NOT_PLAIN_TEXT
    } else {
        NOT_PLAIN_JSON
    };
    s.iter().fold(0, |bad, &b| bad | NOT_PLAIN[usize::from(b)]) & mask == 0
}

/// [`NOT_PLAIN`] bit: the byte must be escaped in a JSON string.
const NOT_PLAIN_JSON: u8 = 1;
/// [`NOT_PLAIN`] bit: the byte must be escaped in a text line (`{:?}`).
const NOT_PLAIN_TEXT: u8 = 2;

/// For each byte, which formats must escape it (see [`plain`]).
static NOT_PLAIN: [u8; 256] = {
    let mut table = [0; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let json = b < 0x20 || b == b'"' || b == b'\\';
        table[i] = if json { NOT_PLAIN_JSON } else { 0 }
            | if json || b >= 0x7f { NOT_PLAIN_TEXT } else { 0 };
        i += 1;
    }
    table
};

impl LineFields<'_> {
    fn name(&mut self, field: &tracing::field::Field) {
        if self.json {
            self.buf.extend_from_slice(b",\"");
            self.buf.extend_from_slice(field.name().as_bytes());
            self.buf.extend_from_slice(b"\":");
        } else {
            self.buf.push(b' ');
            if field.name() != "message" {
                self.buf.extend_from_slice(field.name().as_bytes());
                self.buf.push(b'=');
            }
        }
    }

    /// A value that needs no escaping by construction: an HTTP method (a
    /// token: no control byte, quote, backslash, DEL or non-ASCII; `http`
    /// checks) or one of this crate's operation, dialect and error-code
    /// names. Written without [`plain`]'s check, which is for values a
    /// client chose.
    fn token(&mut self, s: &str) {
        debug_assert!(plain(s.as_bytes(), true), "{s:?} is not a token");
        self.buf.push(b'"');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(b'"');
    }

    fn string(&mut self, s: &str) {
        if self.json {
            if plain(s.as_bytes(), false) {
                self.buf.push(b'"');
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(b'"');
            } else {
                // Escapes exactly as JSON requires (a key may hold anything).
                let _ = serde_json::to_writer(&mut *self.buf, s);
            }
        } else if plain(s.as_bytes(), true) {
            self.buf.push(b'"');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.push(b'"');
        } else {
            let _ = std::io::Write::write_fmt(&mut *self.buf, format_args!("{s:?}"));
        }
    }
}

impl tracing::field::Visit for LineFields<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.name(field);
        self.string(value);
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.name(field);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.name(field);
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.name(field);
        self.buf
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    /// Debug and Display values (the message, the remote address): bare in
    /// text, a JSON string.
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.name(field);
        if self.json {
            let text = format!("{value:?}");
            self.string(&text);
        } else {
            let _ = std::io::Write::write_fmt(&mut *self.buf, format_args!("{value:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn plain_follows_the_byte_rules_at_any_position() {
        for b in 0..=255u8 {
            let text = (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\';
            let json = b >= 0x20 && b != b'"' && b != b'\\';
            // In values shorter and longer than a vector, at their first,
            // middle and last bytes.
            for len in [1, 5, 15, 16, 17, 31, 32, 33, 100] {
                for at in [0, len / 2, len - 1] {
                    let mut s = vec![b'k'; len];
                    s[at] = b;
                    assert_eq!(plain(&s, true), text, "text {b:#x} at {at} of {len}");
                    assert_eq!(plain(&s, false), json, "json {b:#x} at {at} of {len}");
                }
            }
        }
        assert!(plain(b"", true) && plain(b"", false));
    }

    #[tokio::test]
    async fn counting_body_counts_data_frames() {
        let body = http_body_util::Full::new(Bytes::from_static(b"hello world"));
        let (body, count) = CountingBody::new(body);
        let count = count.expect("non-empty body is counted");
        assert!(!count.ended());
        let got = body.collect().await.unwrap().to_bytes();
        assert_eq!(&got[..], b"hello world");
        assert_eq!(count.bytes(), 11);
        assert!(count.ended(), "read to its end");
    }

    /// A `MakeWriter` into a shared buffer, for [`AccessLayer`] tests.
    #[derive(Clone, Default)]
    struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Sink {
        type Writer = Sink;
        fn make_writer(&'w self) -> Sink {
            self.clone()
        }
    }

    impl LineSink for Sink {
        fn write_line(&self, write: &mut dyn FnMut(&mut Vec<u8>)) {
            write(&mut self.0.lock().unwrap());
        }
    }

    /// The line [`AccessLayer`] writes for one [`emit`] (and nothing for
    /// events of other targets).
    fn line_for(json: bool, key: &str, error_code: Option<&'static str>) -> String {
        use tracing_subscriber::layer::SubscriberExt;
        let sink = Sink::default();
        let subscriber = tracing_subscriber::registry().with(AccessLayer {
            json,
            writer: sink.clone(),
        });
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "localcos::other", "not an access line");
            emit(&AccessLine {
                request_id: "req-1",
                method: &http::Method::PUT,
                operation: "PutObject",
                dialect: "cos",
                bucket: Some("b-1250000000"),
                key: Some(key),
                status: 200,
                bytes_in: 10,
                bytes_out: 0,
                duration: Duration::from_micros(1234),
                secret_id: Some("AKIDexample"),
                remote: Some("127.0.0.1:4321".parse().unwrap()),
                error_code,
                at: SystemTime::now(),
            });
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.ends_with('\n'));
        text
    }

    /// The binary's whole stack: each access event is written once (by
    /// AccessLayer), other events by the fmt layer, the level filter applies
    /// to those only, and `--access-log off` silences access lines alone.
    #[test]
    fn installed_stack_writes_each_line_once() {
        for json in [false, true] {
            for access_log in [true, false] {
                let sink = Sink::default();
                let setup = LogSetup {
                    level: "warn",
                    json,
                    access_log,
                };
                let subscriber = subscriber(&setup, "warn", false, sink.clone());
                tracing::subscriber::with_default(subscriber, || {
                    tracing::info!(target: "localcos::other", "below the level");
                    tracing::warn!(target: "localcos::other", "a warning");
                    assert_eq!(enabled(), access_log);
                    emit(&AccessLine {
                        request_id: "req-2",
                        method: &http::Method::GET,
                        operation: "GetObject",
                        dialect: "cos",
                        bucket: Some("b-1250000000"),
                        key: Some("k"),
                        status: 200,
                        bytes_in: 0,
                        bytes_out: 4096,
                        duration: Duration::from_micros(80),
                        secret_id: None,
                        remote: Some("10.0.0.7:51234".parse().unwrap()),
                        error_code: None,
                        at: SystemTime::now(),
                    });
                });
                let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
                let lines: Vec<&str> = text.lines().collect();
                assert_eq!(lines.len(), 1 + usize::from(access_log), "{text}");
                assert!(lines[0].contains("a warning"), "{text}");
                if access_log {
                    assert!(lines[1].contains("req-2"), "{text}");
                    assert!(lines[1].contains("10.0.0.7:51234"), "{text}");
                }
                assert!(!text.contains("below the level"), "{text}");
            }
        }
    }

    #[test]
    fn text_lines_quote_like_the_fmt_layer() {
        for key in [
            "plain/key.txt",
            "quote\"back\\slash",
            "new\nline\ttab",
            "ключ 文件",
            "\u{7f}del",
        ] {
            let line = line_for(false, key, None);
            // `2026-12-02T08:31:00.123456Z  INFO localcos::access: request ...`
            let (time, rest) = line.split_once(' ').unwrap();
            assert_eq!(time.len(), 27, "{line}");
            assert!(time.ends_with('Z') && time.as_bytes()[19] == b'.', "{time}");
            assert!(humantime::parse_rfc3339(time).is_ok(), "{time}");
            let want = format!(
                " INFO localcos::access: request request_id=\"req-1\" method=\"PUT\" \
                 operation=\"PutObject\" dialect=\"cos\" bucket=\"b-1250000000\" key={key:?} \
                 status=200 bytes_in=10 bytes_out=0 duration_us=1234 \
                 secret_id=\"AKIDexample\" remote=127.0.0.1:4321\n"
            );
            assert_eq!(rest, want);
        }
        assert!(line_for(false, "k", Some("NoSuchKey")).ends_with(" error_code=\"NoSuchKey\"\n"));
    }

    #[test]
    fn json_lines_parse_and_keep_every_field() {
        for key in [
            "plain",
            "quote\"back\\slash",
            "new\nline\u{1}ctl",
            "ключ 文件",
        ] {
            let line = line_for(true, key, Some("NoSuchKey"));
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(v["key"], key);
            assert_eq!(v["level"], "INFO");
            assert_eq!(v["message"], "request");
            assert_eq!(v["target"], TARGET);
            assert_eq!(v["status"], 200);
            assert_eq!(v["bytes_in"], 10);
            assert_eq!(v["duration_us"], 1234);
            assert_eq!(v["remote"], "127.0.0.1:4321");
            assert_eq!(v["error_code"], "NoSuchKey");
            assert!(humantime::parse_rfc3339(v["timestamp"].as_str().unwrap()).is_ok());
            // The same key order as the fmt layer's flattened JSON.
            assert!(line.starts_with("{\"timestamp\":"), "{line}");
            assert!(
                line.ends_with(",\"target\":\"localcos::access\"}\n"),
                "{line}"
            );
        }
        let v: serde_json::Value = serde_json::from_str(&line_for(true, "k", None)).unwrap();
        assert!(v.get("error_code").is_none());
    }

    /// Lines written from the struct (`format_line`, what `emit` makes the
    /// layer use) are the lines the field visitor writes for the same event,
    /// byte for byte, in both formats.
    #[test]
    fn struct_lines_match_visited_events() {
        use tracing_subscriber::layer::SubscriberExt;
        let v6: SocketAddr = "[2001:db8::7]:443".parse().unwrap();
        let v4: SocketAddr = "192.168.10.200:65000".parse().unwrap();
        let cases = [
            ("plain/key.txt", Some(v4), None, Some("AKIDexample")),
            ("quote\"back\\slash", Some(v6), Some("NoSuchKey"), None),
            (
                "new\nline\u{1}ctl\u{7f}",
                None,
                Some("AccessDenied"),
                Some("AKID\"x"),
            ),
            ("ключ 文件", Some(v4), None, None),
        ];
        for json in [false, true] {
            for (key, remote, error_code, secret_id) in cases {
                let method = http::Method::from_bytes(b"PROPFIND").unwrap();
                let line = AccessLine {
                    request_id: "NjY0ZjJi",
                    method: &method,
                    operation: "GetObject",
                    dialect: "s3",
                    bucket: if remote.is_some() {
                        Some("b-1250000000")
                    } else {
                        None
                    },
                    key: Some(key),
                    status: 404,
                    bytes_in: u64::MAX,
                    bytes_out: 0,
                    duration: Duration::from_micros(98_765),
                    secret_id,
                    remote,
                    error_code,
                    at: SystemTime::now(),
                };
                // Past the timestamp (27 bytes; in JSON after `{"timestamp":"`).
                let from = if json { 14 + 27 } else { 27 };
                let mut direct = Vec::new();
                format_line(&mut direct, json, &line, line.at);
                let mut got = vec![String::from_utf8(direct).unwrap()[from..].to_string()];
                for direct in [true, false] {
                    let sink = Sink::default();
                    let subscriber = tracing_subscriber::registry().with(AccessLayer {
                        json,
                        writer: sink.clone(),
                    });
                    tracing::subscriber::with_default(subscriber, || {
                        if direct {
                            emit(&line);
                        } else {
                            assert!(CURRENT.get().is_null());
                            event(&line);
                        }
                    });
                    assert!(CURRENT.get().is_null(), "emit puts the pointer back");
                    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
                    got.push(text[from..].to_string());
                }
                // format_line, emit through the layer, the visited event.
                assert_eq!(got[0], got[2], "json {json}, key {key:?}");
                assert_eq!(got[1], got[2], "json {json}, key {key:?}");
            }
        }
    }

    /// A line's time comes from its response's `Instant`, read against
    /// both clocks at most a second before: never far from the wall clock.
    #[test]
    fn wall_time_follows_the_wall_clock() {
        let close = |a: SystemTime, b: SystemTime| {
            let d = a
                .duration_since(b)
                .or_else(|e| Ok::<_, ()>(e.duration()))
                .unwrap();
            assert!(d < Duration::from_millis(50), "{a:?} vs {b:?}");
        };
        let now = Instant::now();
        close(wall_time(now), SystemTime::now());
        // The same anchor, used for an earlier and a later instant.
        close(
            wall_time(now - Duration::from_secs(5)),
            SystemTime::now() - Duration::from_secs(5),
        );
        close(
            wall_time(now + Duration::from_millis(300)),
            SystemTime::now() + Duration::from_millis(300),
        );
        // Past the anchor's age: read again, still right.
        close(
            wall_time(now + Duration::from_secs(3)),
            SystemTime::now() + Duration::from_secs(3),
        );
        close(wall_time(Instant::now()), SystemTime::now());
    }

    #[test]
    fn timestamps_keep_micro_digits_across_seconds() {
        let mut buf = Vec::new();
        let t = std::time::UNIX_EPOCH + Duration::new(1_764_664_260, 7_000);
        timestamp(&mut buf, t);
        buf.push(b' ');
        timestamp(&mut buf, t + Duration::from_secs(1));
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "2025-12-02T08:31:00.000007Z 2025-12-02T08:31:01.000007Z"
        );
    }

    /// More addresses than the cache has slots, in turns: each line still
    /// gets its own address (a slot's entry is replaced, never misread).
    #[test]
    fn cached_addresses_never_answer_for_another() {
        let addrs: Vec<SocketAddr> = (0..500u32)
            .map(|i| {
                let ip = std::net::Ipv4Addr::from(0x0a00_0000 | i.wrapping_mul(2_654_435_761) >> 8);
                SocketAddr::from((ip, (40_000 + i * 7) as u16))
            })
            .collect();
        for _ in 0..3 {
            for addr in &addrs {
                let mut buf = Vec::new();
                write_addr(&mut buf, addr);
                assert_eq!(buf, addr.to_string().into_bytes());
            }
        }
    }

    #[test]
    fn addresses_read_as_their_display_text() {
        for addr in [
            "127.0.0.1:4321",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.1.22.133:80",
            "[::1]:9000",
            "[2001:db8::8a2e:370:7334]:443",
            "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255%4294967295]:65535",
        ] {
            let addr: SocketAddr = match addr.parse() {
                Ok(a) => a,
                // A scope id is not parsed by `SocketAddr`; build it.
                Err(_) => SocketAddr::V6(std::net::SocketAddrV6::new(
                    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
                        .parse()
                        .unwrap(),
                    65535,
                    0,
                    u32::MAX,
                )),
            };
            assert_eq!(AddrText::new(&addr).as_bytes(), addr.to_string().as_bytes());
            // Through the cache, twice: a miss, then a hit.
            for _ in 0..2 {
                let mut buf = b"x".to_vec();
                write_addr(&mut buf, &addr);
                assert_eq!(&buf[1..], addr.to_string().as_bytes());
            }
        }
    }

    #[test]
    fn empty_body_has_no_counter() {
        let (_, count) = CountingBody::new(http_body_util::Empty::<Bytes>::new());
        assert!(count.is_none());
    }
}
