//! Prometheus metrics: `GET /-/metrics` on a service host (and on
//! `--metrics-listen`), in the Prometheus text format (0.0.4), encoded by
//! `prometheus-client`.
//!
//! The request path records through [`Metrics::record`], once per request at
//! the place in `service.rs` where the response is final, into cells of its
//! thread's own (`metrics/requests.rs`: a map lookup keyed by the operation
//! name's address, the family and the status, then plain stores, no locked
//! instruction); a scrape adds the threads' cells up. Everything else
//! (per-bucket usage, background-job ages, backlog) is computed at scrape time.
//!
//! Series (all prefixed `localcos_`):
//! - `requests_total{operation,dialect,status}`, `request_duration_seconds{operation}`
//!   (time until the response head is ready), `received_bytes_total{operation}` (request
//!   body bytes read), `sent_bytes_total{operation}` (response body bytes, as announced),
//!   `requests_in_flight`, `errors_total{operation,code}` (COS error codes);
//! - `bucket_objects{bucket}`, `bucket_bytes{bucket}` (current objects, counted by a scan
//!   at most every [`USAGE_TTL`] and bounded by [`USAGE_SCAN_LIMIT`] records, with
//!   `bucket_usage_complete{bucket}` 0 when the bound cut it short), `bucket_usage_age_seconds`;
//! - `job_last_run_timestamp_seconds{job}`, `job_last_run_age_seconds{job}`,
//!   `job_runs_total{job,result}` for the background jobs; `bucket_log_pending_bytes`
//!   (bucket access-log lines waiting for delivery: the one queue that builds up);
//!   `gc_backlog_blobs` (deferred blob deletes waiting, `storage::gc`; jobs `gc` and
//!   `orphan_sweep` report their runs like the others);
//! - `db_pool_connections{state}` / `db_pool_max_connections` when a metadata store with a
//!   connection pool registers itself ([`Metrics::set_pool`]: the PostgreSQL index of cluster
//!   mode; the embedded redb index has no pool and these series are absent);
//! - `build_info{version}`, `start_time_seconds`.

use std::hash::Hasher;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family as LabelFamily;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::auth::Family;
use crate::storage::Store;

/// Per-bucket usage is recounted at most this often (scrapes in between reuse it).
pub const USAGE_TTL: Duration = Duration::from_secs(30);
/// At most this many object records are read per recount, all buckets together.
pub const USAGE_SCAN_LIMIT: usize = 1_000_000;

mod requests;

/// The `dialect` label: the protocol family the request was answered in.
pub fn dialect_label(f: Family) -> &'static str {
    match f {
        Family::Cos => "cos",
        Family::S3 => "s3",
        Family::Oss => "oss",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    dialect: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    operation: &'static str,
    code: &'static str,
}

/// Hashes the already-mixed `u64` cache key as it is.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A series' hash: the operation name's address (names are `&'static str`)
/// and length, the family and the status, mixed (Fibonacci hashing) so that
/// the table spreads.
fn cache_key(operation: &'static str, family: Family, status: u16) -> u64 {
    let raw = (operation.as_ptr() as u64)
        ^ ((operation.len() as u64) << 48)
        ^ ((family as u64) << 56)
        ^ (u64::from(status) << 32);
    raw.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// What one request adds to the metrics.
pub struct Outcome<'a> {
    pub operation: &'static str,
    pub family: Family,
    pub status: u16,
    /// The COS error code when the request failed.
    pub error: Option<&'static str>,
    pub received: u64,
    pub sent: u64,
    pub elapsed: Duration,
    _marker: std::marker::PhantomData<&'a ()>,
}

impl Outcome<'_> {
    pub fn new(operation: &'static str, family: Family, status: u16) -> Self {
        Outcome {
            operation,
            family,
            status,
            error: None,
            received: 0,
            sent: 0,
            elapsed: Duration::ZERO,
            _marker: std::marker::PhantomData,
        }
    }
}

/// Connection-pool use of a metadata store (the PostgreSQL index of cluster mode).
pub trait PoolUsage: Send + Sync + std::fmt::Debug + 'static {
    /// Connections handed out now.
    fn in_use(&self) -> u64;
    /// Open connections not handed out.
    fn idle(&self) -> u64;
    /// The pool's size limit.
    fn max(&self) -> u64;
}

/// Per-bucket usage from the last recount.
#[derive(Debug, Default, Clone)]
struct Usage {
    /// (bucket, objects, bytes, complete)
    buckets: Vec<(String, u64, u64, bool)>,
    at: Option<Instant>,
}

/// What the collector reads at scrape time.
#[derive(Debug, Default)]
struct ScrapeState {
    usage: Mutex<Usage>,
    log_pending: AtomicU64,
    /// Deferred blob deletes waiting (`storage::gc`); -1 until first read.
    gc_backlog: AtomicI64,
    pool: Mutex<Option<Arc<dyn PoolUsage>>>,
    started: f64,
}

/// The server's metrics: one registry per server (in-process tests run several).
pub struct Metrics {
    registry: Registry,
    /// Requests, latency and bytes: recorded per thread (`requests.rs`).
    requests: Arc<requests::Recorder>,
    errors: LabelFamily<ErrorLabels, Counter>,
    scrape: Arc<ScrapeState>,
    /// Serialises usage recounts (concurrent scrapes wait for one recount).
    recount: tokio::sync::Mutex<()>,
    /// Whether requests are recorded and `/-/metrics` answers: `--metrics`
    /// at start, switched at run time by the admin API
    /// (`PUT /-/admin/observability`).
    recording: std::sync::atomic::AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("localcos");
        let requests = Arc::new(requests::Recorder::default());
        let errors = LabelFamily::<ErrorLabels, Counter>::default();
        // Requests, latency and bytes (encoded after the registered metrics).
        registry.register_collector(Box::new(requests::RequestCollector(requests.clone())));
        registry.register(
            "errors",
            "Requests answered with a COS error, by operation and error code",
            errors.clone(),
        );
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let scrape = Arc::new(ScrapeState {
            started,
            gc_backlog: AtomicI64::new(-1),
            ..Default::default()
        });
        registry.register_collector(Box::new(ScrapeCollector(scrape.clone())));
        Metrics {
            registry,
            requests,
            errors,
            scrape,
            recount: tokio::sync::Mutex::new(()),
            recording: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// Whether requests are recorded and `/-/metrics` answers.
    pub fn recording(&self) -> bool {
        self.recording.load(Ordering::Relaxed)
    }

    /// Starts or stops recording (and serving `/-/metrics`). Series already
    /// recorded are kept: counters resume where they stopped.
    pub fn set_recording(&self, on: bool) {
        self.recording.store(on, Ordering::Relaxed);
    }

    /// Counts a request in flight until the returned guard drops (also when
    /// the request future is dropped because the client went away); not
    /// while metrics are off.
    pub fn start(&self) -> InFlight<'_> {
        if !self.recording() {
            return InFlight(None);
        }
        self.requests.add_in_flight(1);
        InFlight(Some(&self.requests))
    }

    /// Records one answered request.
    pub fn record(&self, o: &Outcome<'_>) {
        self.requests.record(o);
        if let Some(code) = o.error {
            self.errors
                .get_or_create(&ErrorLabels {
                    operation: o.operation,
                    code,
                })
                .inc();
        }
    }

    /// Registers the connection pool of a clustered metadata store (the hook
    /// for cluster mode; nothing calls it in the embedded mode).
    pub fn set_pool(&self, pool: Arc<dyn PoolUsage>) {
        *self.scrape.pool.lock().unwrap_or_else(|p| p.into_inner()) = Some(pool);
    }

    /// Sets the bucket-log backlog shown by the next encoding.
    pub fn set_log_pending(&self, bytes: u64) {
        self.scrape.log_pending.store(bytes, Ordering::Relaxed);
    }

    /// Sets the GC backlog (deferred blob deletes) shown by the next encoding.
    pub fn set_gc_backlog(&self, blobs: u64) {
        let n = i64::try_from(blobs).unwrap_or(i64::MAX);
        self.scrape.gc_backlog.store(n, Ordering::Relaxed);
    }

    /// Recounts per-bucket usage when the last count is older than `ttl`.
    pub async fn refresh_usage(&self, store: &Store, ttl: Duration) {
        let fresh = |s: &ScrapeState| {
            s.usage
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .at
                .is_some_and(|at| at.elapsed() < ttl)
        };
        if fresh(&self.scrape) {
            return;
        }
        let _one = self.recount.lock().await;
        if fresh(&self.scrape) {
            return;
        }
        let usage = count_usage(store, USAGE_SCAN_LIMIT).await;
        *self.scrape.usage.lock().unwrap_or_else(|p| p.into_inner()) = usage;
    }

    /// The exposition text (Prometheus text format 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::warn!(error = %e, "metrics encoding failed");
        }
        out
    }
}

/// `GET /-/metrics`: refreshes what is computed at scrape time, then encodes.
pub async fn scrape(
    state: Arc<crate::op::AppState>,
) -> (
    http::StatusCode,
    [(http::HeaderName, &'static str); 1],
    String,
) {
    state.metrics.refresh_usage(&state.store, USAGE_TTL).await;
    state.metrics.set_log_pending(state.logs.pending_bytes());
    match state.store.gc_backlog().await {
        Ok(n) => state.metrics.set_gc_backlog(n),
        Err(e) => tracing::debug!(error = %e, "metrics: GC backlog unavailable"),
    }
    (
        http::StatusCode::OK,
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

/// Serves `--metrics-listen`: `/-/metrics` and the health checks, whatever
/// the Host; anything else is 404. Stops when its task is aborted.
pub async fn serve_listener(listener: tokio::net::TcpListener, state: Arc<crate::op::AppState>) {
    let router = crate::server::admin_router(state);
    if let Err(e) = axum::serve(listener, router).await {
        tracing::error!(error = %e, "metrics listener failed");
    }
}

/// Decrements `requests_in_flight` when dropped (nothing when the request
/// started with metrics off).
pub struct InFlight<'a>(Option<&'a Arc<requests::Recorder>>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(recorder) = self.0 {
            recorder.add_in_flight(-1);
        }
    }
}

/// Counts current objects and their bytes per bucket, reading at most `limit`
/// records in all (a bucket cut short is marked incomplete).
async fn count_usage(store: &Store, limit: usize) -> Usage {
    const PAGE: usize = 1000;
    let mut usage = Usage {
        buckets: Vec::new(),
        at: Some(Instant::now()),
    };
    let buckets = match store.list_buckets().await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot list buckets");
            return usage;
        }
    };
    let mut budget = limit;
    for b in buckets {
        let (mut objects, mut bytes, mut cursor) = (0u64, 0u64, String::new());
        let complete = loop {
            if budget == 0 {
                break false;
            }
            let want = PAGE.min(budget);
            let page = match store.meta().list_objects(&b.name, "", &cursor, want).await {
                Ok(p) => p,
                Err(_) => break false,
            };
            budget -= page.len();
            objects += page.len() as u64;
            bytes += page.iter().map(|(_, r)| r.size).sum::<u64>();
            match page.last() {
                Some((k, _)) if page.len() == want => cursor = k.clone(),
                _ => break true,
            }
        };
        usage.buckets.push((b.name, objects, bytes, complete));
    }
    usage
}

// --- background jobs ---------------------------------------------------------

/// The background jobs whose last run is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Lifecycle,
    MultipartSweep,
    ReplicationScan,
    LogDelivery,
    Inventory,
    /// The blob collector (`storage::gc`): rounds run by the lease holder.
    Gc,
    OrphanSweep,
}

impl Job {
    const ALL: [Job; 7] = [
        Job::Lifecycle,
        Job::MultipartSweep,
        Job::ReplicationScan,
        Job::LogDelivery,
        Job::Inventory,
        Job::Gc,
        Job::OrphanSweep,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Job::Lifecycle => "lifecycle",
            Job::MultipartSweep => "multipart_sweep",
            Job::ReplicationScan => "replication_scan",
            Job::LogDelivery => "log_delivery",
            Job::Inventory => "inventory",
            Job::Gc => "gc",
            Job::OrphanSweep => "orphan_sweep",
        }
    }
}

struct JobStats {
    /// Milliseconds since the epoch of the last finished run (0: never).
    last_ms: AtomicI64,
    ok: AtomicU64,
    failed: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const NEW_JOB: JobStats = JobStats {
    last_ms: AtomicI64::new(0),
    ok: AtomicU64::new(0),
    failed: AtomicU64::new(0),
};

/// Process-wide (the jobs hold a `Store`, not the server state); one server
/// runs per process outside the in-process tests.
static JOBS: [JobStats; 7] = [NEW_JOB; 7];

/// Notes that a run of `job` finished (`ok == false`: it failed and will retry).
pub fn job_ran(job: Job, ok: bool) {
    let s = &JOBS[job as usize];
    s.last_ms.store(crate::clock::now_ms(), Ordering::Relaxed);
    if ok { &s.ok } else { &s.failed }.fetch_add(1, Ordering::Relaxed);
}

// --- scrape-time series ------------------------------------------------------

#[derive(Debug)]
struct ScrapeCollector(Arc<ScrapeState>);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BucketLabel {
    bucket: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabel {
    job: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobResultLabel {
    job: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

fn gauge<S: EncodeLabelSet, V>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (S, V)>,
) -> Result<(), std::fmt::Error>
where
    ConstGauge<V>: EncodeMetric,
{
    let probe = ConstGauge::new(0i64);
    let mut m = enc.encode_descriptor(name, help, None, probe.metric_type())?;
    for (labels, v) in rows {
        ConstGauge::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for ScrapeCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        gauge(
            &mut enc,
            "build_info",
            "localcos version",
            [(
                VersionLabel {
                    version: env!("CARGO_PKG_VERSION"),
                },
                1i64,
            )],
        )?;
        {
            let m = enc.encode_descriptor(
                "start_time_seconds",
                "Process start, seconds since the epoch",
                None,
                ConstGauge::new(0.0f64).metric_type(),
            )?;
            ConstGauge::new(s.started).encode(m)?;
        }
        let usage = s.usage.lock().unwrap_or_else(|p| p.into_inner()).clone();
        gauge(
            &mut enc,
            "bucket_objects",
            "Current objects per bucket (noncurrent versions not counted)",
            usage
                .buckets
                .iter()
                .map(|(b, o, _, _)| (BucketLabel { bucket: b.clone() }, *o as i64)),
        )?;
        gauge(
            &mut enc,
            "bucket_bytes",
            "Bytes of the current objects per bucket",
            usage
                .buckets
                .iter()
                .map(|(b, _, n, _)| (BucketLabel { bucket: b.clone() }, *n as i64)),
        )?;
        gauge(
            &mut enc,
            "bucket_usage_complete",
            "1 when the last usage count of the bucket read all its objects, 0 when the scan bound cut it short",
            usage
                .buckets
                .iter()
                .map(|(b, _, _, c)| (BucketLabel { bucket: b.clone() }, i64::from(*c))),
        )?;
        if let Some(at) = usage.at {
            let m = enc.encode_descriptor(
                "bucket_usage_age_seconds",
                "Age of the per-bucket usage figures",
                None,
                ConstGauge::new(0.0f64).metric_type(),
            )?;
            ConstGauge::new(at.elapsed().as_secs_f64()).encode(m)?;
        }
        let now_ms = crate::clock::now_ms();
        let ran: Vec<(Job, i64)> = Job::ALL
            .iter()
            .map(|j| (*j, JOBS[*j as usize].last_ms.load(Ordering::Relaxed)))
            .filter(|(_, ms)| *ms > 0)
            .collect();
        gauge(
            &mut enc,
            "job_last_run_timestamp_seconds",
            "When a background job last finished a run, seconds since the epoch",
            ran.iter()
                .map(|(j, ms)| (JobLabel { job: j.label() }, *ms as f64 / 1000.0)),
        )?;
        gauge(
            &mut enc,
            "job_last_run_age_seconds",
            "Seconds since a background job last finished a run (its lag)",
            ran.iter().map(|(j, ms)| {
                (
                    JobLabel { job: j.label() },
                    (now_ms - ms).max(0) as f64 / 1000.0,
                )
            }),
        )?;
        {
            let mut m = enc.encode_descriptor(
                "job_runs",
                "Finished runs of the background jobs, by result",
                None,
                ConstCounter::new(0u64).metric_type(),
            )?;
            for j in Job::ALL {
                let st = &JOBS[j as usize];
                for (result, n) in [("ok", &st.ok), ("failed", &st.failed)] {
                    let labels = JobResultLabel {
                        job: j.label(),
                        result,
                    };
                    ConstCounter::new(n.load(Ordering::Relaxed))
                        .encode(m.encode_family(&labels)?)?;
                }
            }
        }
        gauge(
            &mut enc,
            "bucket_log_pending_bytes",
            "Bucket access-log (PUT ?logging) bytes waiting for delivery",
            [(
                StateLabel { state: "pending" },
                s.log_pending.load(Ordering::Relaxed) as i64,
            )],
        )?;
        let backlog = s.gc_backlog.load(Ordering::Relaxed);
        if backlog >= 0 {
            let m = enc.encode_descriptor(
                "gc_backlog_blobs",
                "Freed or orphaned blobs waiting for deletion (--gc-grace-seconds)",
                None,
                ConstGauge::new(0i64).metric_type(),
            )?;
            ConstGauge::new(backlog).encode(m)?;
        }
        // The integrity scrub (`--scrub-rate`, storage/scrub.rs) keeps its own
        // process-wide counters; they are read here at scrape time.
        let scrub = &crate::storage::scrub::STATS;
        for (name, help, v) in [
            (
                "scrub_objects_scanned",
                "Object versions the scrub read and checked",
                &scrub.objects_scanned,
            ),
            (
                "scrub_bytes_scanned",
                "Bytes the scrub read and checked",
                &scrub.bytes_scanned,
            ),
            (
                "scrub_corrupt_found",
                "Corrupt objects the scrub found (again in each pass that finds them)",
                &scrub.corrupt_found,
            ),
            (
                "scrub_unverifiable",
                "Objects the scrub could check only in part (SSE-C)",
                &scrub.unverifiable,
            ),
            (
                "scrub_passes_completed",
                "Whole scrub passes finished",
                &scrub.passes_completed,
            ),
        ] {
            let m =
                enc.encode_descriptor(name, help, None, ConstCounter::new(0u64).metric_type())?;
            ConstCounter::new(v.load(Ordering::Relaxed)).encode(m)?;
        }
        gauge(
            &mut enc,
            "scrub_last_pass_corrupt",
            "Corrupt objects the last finished scrub pass found",
            [(
                StateLabel { state: "last_pass" },
                scrub.last_pass_corrupt.load(Ordering::Relaxed) as i64,
            )],
        )?;
        gauge(
            &mut enc,
            "scrub_running",
            "1 while a scrub pass runs",
            [(
                StateLabel { state: "running" },
                i64::from(scrub.running.load(Ordering::Relaxed)),
            )],
        )?;
        let pool = s.pool.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(pool) = pool {
            gauge(
                &mut enc,
                "db_pool_connections",
                "Metadata-store connections by state (cluster mode)",
                [
                    (StateLabel { state: "in_use" }, pool.in_use() as i64),
                    (StateLabel { state: "idle" }, pool.idle() as i64),
                ],
            )?;
            gauge(
                &mut enc,
                "db_pool_max_connections",
                "Metadata-store connection pool size (cluster mode)",
                [(StateLabel { state: "max" }, pool.max() as i64)],
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find(|l| {
                let (series, _) = l.rsplit_once(' ').unwrap_or((l, ""));
                series.starts_with(&format!("{name}{{")) || series == name && labels.is_empty()
            } && labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
            .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
    }

    #[test]
    fn dialect_labels() {
        for (f, want) in [
            (Family::Cos, "cos"),
            (Family::S3, "s3"),
            (Family::Oss, "oss"),
        ] {
            assert_eq!(dialect_label(f), want);
        }
    }

    #[test]
    fn record_maps_labels() {
        let m = Metrics::new();
        // (operation, family, status, error, received, sent)
        type Case = (&'static str, Family, u16, Option<&'static str>, u64, u64);
        let cases: [Case; 5] = [
            ("GetObject", Family::Cos, 200, None, 0, 4096),
            ("GetObject", Family::Cos, 200, None, 0, 4096),
            ("GetObject", Family::S3, 404, Some("NoSuchKey"), 0, 300),
            ("PutObject", Family::Oss, 200, None, 10, 0),
            ("-", Family::Cos, 403, Some("SignatureDoesNotMatch"), 0, 200),
        ];
        for (op, fam, status, error, received, sent) in cases {
            let mut o = Outcome::new(op, fam, status);
            o.error = error;
            o.received = received;
            o.sent = sent;
            o.elapsed = Duration::from_micros(700);
            m.record(&o);
        }
        let text = m.encode();
        let req = |op, d, s| {
            sample(
                &text,
                "localcos_requests_total",
                &[("operation", op), ("dialect", d), ("status", s)],
            )
        };
        assert_eq!(req("GetObject", "cos", "200"), Some(2.0));
        assert_eq!(req("GetObject", "s3", "404"), Some(1.0));
        assert_eq!(req("PutObject", "oss", "200"), Some(1.0));
        assert_eq!(req("-", "cos", "403"), Some(1.0));
        assert_eq!(req("PutObject", "cos", "200"), None);
        let err = |op, c| {
            sample(
                &text,
                "localcos_errors_total",
                &[("operation", op), ("code", c)],
            )
        };
        assert_eq!(err("GetObject", "NoSuchKey"), Some(1.0));
        assert_eq!(err("-", "SignatureDoesNotMatch"), Some(1.0));
        let bytes = |name, op| sample(&text, name, &[("operation", op)]);
        assert_eq!(
            bytes("localcos_sent_bytes_total", "GetObject"),
            Some(8492.0)
        );
        assert_eq!(
            bytes("localcos_received_bytes_total", "PutObject"),
            Some(10.0)
        );
        let h = |le| {
            sample(
                &text,
                "localcos_request_duration_seconds_bucket",
                &[("operation", "GetObject"), ("le", le)],
            )
        };
        assert_eq!(h("0.0005"), Some(0.0));
        assert_eq!(h("0.001"), Some(3.0));
        assert_eq!(h("+Inf"), Some(3.0));
        assert_eq!(
            sample(
                &text,
                "localcos_request_duration_seconds_count",
                &[("operation", "GetObject")]
            ),
            Some(3.0)
        );
        assert!(
            text.contains("# TYPE localcos_requests_total counter"),
            "{text}"
        );
    }

    #[test]
    fn in_flight_guard_decrements() {
        let m = Metrics::new();
        let a = m.start();
        let b = m.start();
        assert!(m.encode().contains("localcos_requests_in_flight 2"));
        drop(a);
        // A request may end on another thread than it started on.
        std::thread::scope(|s| {
            s.spawn(move || drop(b));
        });
        assert!(m.encode().contains("localcos_requests_in_flight 0"));
        // Started while metrics are off: not counted, also when it ends after
        // they were switched on again.
        m.set_recording(false);
        let c = m.start();
        m.set_recording(true);
        assert!(m.encode().contains("localcos_requests_in_flight 0"));
        drop(c);
        assert!(m.encode().contains("localcos_requests_in_flight 0"));
    }

    #[test]
    fn cache_keys_differ_by_each_part() {
        let base = cache_key("GetObject", Family::Cos, 200);
        assert_ne!(base, cache_key("GetObject", Family::S3, 200));
        assert_ne!(base, cache_key("GetObject", Family::Cos, 404));
        assert_ne!(base, cache_key("PutObject", Family::Cos, 200));
        assert_eq!(base, cache_key("GetObject", Family::Cos, 200));
    }

    #[derive(Debug)]
    struct FakePool;
    impl PoolUsage for FakePool {
        fn in_use(&self) -> u64 {
            3
        }
        fn idle(&self) -> u64 {
            5
        }
        fn max(&self) -> u64 {
            16
        }
    }

    #[test]
    fn scrub_counters_are_exported() {
        let stats = &crate::storage::scrub::STATS;
        stats.objects_scanned.fetch_add(3, Ordering::Relaxed);
        let text = Metrics::new().encode();
        let scanned = sample(&text, "localcos_scrub_objects_scanned_total", &[]).unwrap();
        assert!(scanned >= 3.0, "{text}");
        for name in [
            "localcos_scrub_bytes_scanned_total",
            "localcos_scrub_corrupt_found_total",
            "localcos_scrub_unverifiable_total",
            "localcos_scrub_passes_completed_total",
            "localcos_scrub_last_pass_corrupt",
            "localcos_scrub_running",
        ] {
            assert!(
                text.contains(&format!("\n{name}")),
                "{name} missing:\n{text}"
            );
        }
    }

    #[test]
    fn pool_series_appear_only_when_registered() {
        let m = Metrics::new();
        assert!(!m.encode().contains("db_pool"));
        m.set_pool(Arc::new(FakePool));
        let text = m.encode();
        assert_eq!(
            sample(
                &text,
                "localcos_db_pool_connections",
                &[("state", "in_use")]
            ),
            Some(3.0)
        );
        assert_eq!(
            sample(&text, "localcos_db_pool_max_connections", &[]),
            Some(16.0)
        );
    }

    #[tokio::test]
    async fn usage_counts_current_objects_and_marks_bounded_scans() {
        use crate::storage::{BucketRecord, PutOptions};
        let store = Store::memory();
        for name in ["a-1250000000", "b-1250000000"] {
            store
                .create_bucket(BucketRecord {
                    name: name.into(),
                    region: "ap-guangzhou".into(),
                    created_ms: 0,
                    versioning: Default::default(),
                    acl: None,
                    configs: Default::default(),
                    layout: Default::default(),
                })
                .await
                .unwrap();
        }
        for (i, size) in [10usize, 20, 30].iter().enumerate() {
            let body: crate::storage::ByteStream =
                Box::pin(futures_util::stream::once(async move {
                    Ok(bytes::Bytes::from(vec![7u8; *size]))
                }));
            store
                .put_object(
                    "a-1250000000",
                    &format!("k{i}"),
                    body,
                    PutOptions::default(),
                )
                .await
                .unwrap();
        }
        let u = count_usage(&store, 100).await;
        assert_eq!(
            u.buckets,
            vec![
                ("a-1250000000".to_string(), 3, 60, true),
                ("b-1250000000".to_string(), 0, 0, true)
            ]
        );
        let u = count_usage(&store, 2).await;
        assert_eq!(u.buckets[0], ("a-1250000000".to_string(), 2, 30, false));
        assert!(!u.buckets[1].3);
    }
}
