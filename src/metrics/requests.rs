//! The per-request series, recorded per thread: `requests_total{operation,
//! dialect,status}`, `request_duration_seconds{operation}`,
//! `received_bytes_total{operation}`, `sent_bytes_total{operation}` and
//! `requests_in_flight`.
//!
//! Why not `prometheus-client`'s `Family<_, Counter>` and `Histogram`: each of
//! their updates is a locked instruction (atomic adds, a mutex around every
//! histogram observation), and finding a request's handles took a read lock:
//! six locked instructions and about 85 ns per request (four more for the
//! in-flight gauge and its guard's `Arc`), on a 4 KiB GET of
//! about 18 µs, where the budget for metrics and the access log
//! together is 5% (`benches/observability.rs`). Here each thread records
//! into cells that only it writes (a plain load and store each), found
//! through a map of its own, and a scrape adds up every thread's cells: the
//! kernel's per-CPU counters, with threads for CPUs. (The in-flight gauge
//! too: a request may start on one thread and end on another, and the
//! threads' cells add up all the same.)
//!
//! A thread that exits leaves its shard to the next thread that records, so
//! the shards are as many as the threads that ever recorded at one time.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::{cache_key, dialect_label, IdentityHasher, OpLabels, Outcome, RequestLabels};
use crate::auth::Family;

/// Latency bucket bounds in nanoseconds: 250 µs … 60 s (and +Inf after them).
const BOUNDS_NS: [u64; 16] = [
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    10_000_000_000,
    30_000_000_000,
    60_000_000_000,
];

/// One (operation, dialect, status)'s numbers as one shard recorded them.
/// Written only by the shard's thread; scrapes read them.
#[derive(Default)]
struct Cells {
    requests: AtomicU64,
    received: AtomicU64,
    sent: AtomicU64,
    duration_ns: AtomicU64,
    /// Observations per latency bucket (not cumulative), +Inf last.
    buckets: [AtomicU64; BOUNDS_NS.len() + 1],
}

/// Adds `n` to a cell that only the calling thread writes (a plain load and
/// store, no locked instruction). Readers see the old or the new value.
#[inline]
fn bump(cell: &AtomicU64, n: u64) {
    cell.store(
        cell.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

impl Cells {
    #[inline]
    fn add(&self, o: &Outcome<'_>) {
        let ns = u64::try_from(o.elapsed.as_nanos()).unwrap_or(u64::MAX);
        bump(&self.requests, 1);
        bump(&self.duration_ns, ns);
        // Prometheus buckets are `le`: an observation on a bound counts in it.
        let bucket = BOUNDS_NS.partition_point(|&bound| bound < ns);
        bump(&self.buckets[bucket], 1);
        if o.received > 0 {
            bump(&self.received, o.received);
        }
        if o.sent > 0 {
            bump(&self.sent, o.sent);
        }
    }
}

/// What a series is recorded under.
#[derive(Clone, Copy)]
struct Series {
    operation: &'static str,
    family: Family,
    status: u16,
}

/// Equal when every part is: the operation name by address and length (two
/// copies of one name are two series here, added up by name at scrape).
impl PartialEq for Series {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.operation, other.operation)
            && self.family == other.family
            && self.status == other.status
    }
}

impl Eq for Series {}

/// One writer's series.
#[derive(Default)]
struct Shard {
    /// Locked when its thread adds a series (once per series), and by scrapes.
    series: Mutex<Vec<(Series, Arc<Cells>)>>,
    /// Requests this writer started minus those it finished.
    in_flight: AtomicI64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data behind these locks stays valid if a holder panicked.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shard {
    /// The cells of `s`, found under the lock (the slow way), added if new.
    fn cells_for(&self, s: Series) -> Arc<Cells> {
        let found = lock(&self.series)
            .iter()
            .find(|(t, _)| *t == s)
            .map(|(_, c)| c.clone());
        found.unwrap_or_else(|| self.add_series(s))
    }

    fn add_series(&self, s: Series) -> Arc<Cells> {
        let cells = Arc::new(Cells::default());
        lock(&self.series).push((s, cells.clone()));
        cells
    }
}

/// The per-request series of one [`super::Metrics`].
#[derive(Default)]
pub(super) struct Recorder {
    /// Every shard handed out so far, the fallback's included.
    shards: Mutex<Vec<Arc<Shard>>>,
    /// Shards of threads that exited, for the next thread to take over.
    free: Mutex<Vec<Arc<Shard>>>,
    /// Written under its lock by a thread whose thread-locals are already
    /// gone (one being torn down), with its cells.
    fallback: Mutex<Option<(CellMap, Arc<Shard>)>>,
}

/// A thread's cells by [`cache_key`], each with its series: a lookup
/// checks that the series is the one asked for, so that a collision of two
/// keys (not seen, but not impossible) goes the slow way instead of into
/// the wrong series.
type CellMap = HashMap<u64, (Series, Arc<Cells>), BuildHasherDefault<IdentityHasher>>;

/// This thread's shard of one recorder, and its cells.
struct Local {
    recorder: Weak<Recorder>,
    shard: Arc<Shard>,
    cells: CellMap,
}

impl Drop for Local {
    /// The thread exits (or its recorder is gone): the shard is left to
    /// another thread. The mutex orders this thread's last writes before
    /// the next owner's first.
    fn drop(&mut self) {
        if let Some(recorder) = self.recorder.upgrade() {
            lock(&recorder.free).push(self.shard.clone());
        }
    }
}

thread_local! {
    /// This thread's shards, one per recorder it has recorded into (one
    /// outside in-process tests).
    static LOCALS: RefCell<Vec<Local>> = const { RefCell::new(Vec::new()) };
}

impl Recorder {
    /// Runs `f` on this thread's shard of this recorder (creating it on
    /// first use), or on the fallback shard under its lock when this
    /// thread's locals are gone (a thread being torn down) or in use.
    #[inline]
    fn on_shard<R>(self: &Arc<Self>, f: impl FnOnce(&mut CellMap, &Shard) -> R) -> R {
        let mut f = Some(f);
        let local = LOCALS.try_with(|locals| {
            let mut locals = locals.try_borrow_mut().ok()?;
            let me = Arc::as_ptr(self);
            let i = match locals.iter().position(|l| l.recorder.as_ptr() == me) {
                Some(i) => i,
                None => {
                    // Forget the shards of recorders that are gone.
                    locals.retain(|l| l.recorder.strong_count() > 0);
                    locals.push(self.local());
                    locals.len() - 1
                }
            };
            let local = &mut locals[i];
            f.take().map(|f| f(&mut local.cells, &local.shard))
        });
        match (local, f) {
            (Ok(Some(r)), _) => r,
            (_, Some(f)) => {
                let mut fallback = lock(&self.fallback);
                let (cells, shard) = fallback.get_or_insert_with(|| {
                    let shard = Arc::new(Shard::default());
                    lock(&self.shards).push(shard.clone());
                    (CellMap::default(), shard)
                });
                f(cells, shard)
            }
            (_, None) => unreachable!("f ran but returned nothing"),
        }
    }

    /// Adds one answered request to this thread's shard.
    pub(super) fn record(self: &Arc<Self>, o: &Outcome<'_>) {
        let series = Series {
            operation: o.operation,
            family: o.family,
            status: o.status,
        };
        let key = cache_key(o.operation, o.family, o.status);
        self.on_shard(|cells, shard| match cells.get(&key) {
            Some((s, c)) if *s == series => c.add(o),
            Some(_) => shard.cells_for(series).add(o),
            None => {
                let c = shard.add_series(series);
                c.add(o);
                cells.insert(key, (series, c));
            }
        });
    }

    /// Adds `delta` (1: a request starts, -1: it ends) to `requests_in_flight`.
    pub(super) fn add_in_flight(self: &Arc<Self>, delta: i64) {
        self.on_shard(|_, shard| {
            let cell = &shard.in_flight;
            cell.store(
                cell.load(Ordering::Relaxed).wrapping_add(delta),
                Ordering::Relaxed,
            );
        });
    }

    /// A shard for this thread: one a finished thread left, or a new one.
    fn local(self: &Arc<Self>) -> Local {
        let reused = lock(&self.free).pop();
        let shard = reused.unwrap_or_else(|| {
            let shard = Arc::new(Shard::default());
            lock(&self.shards).push(shard.clone());
            shard
        });
        let cells = lock(&shard.series)
            .iter()
            .map(|(s, c)| (cache_key(s.operation, s.family, s.status), (*s, c.clone())))
            .collect();
        Local {
            recorder: Arc::downgrade(self),
            shard,
            cells,
        }
    }

    /// Every shard's cells added up.
    fn totals(&self) -> Totals {
        let mut t = Totals::default();
        let shards = lock(&self.shards).clone();
        for shard in shards {
            t.in_flight += shard.in_flight.load(Ordering::Relaxed);
            for (s, c) in lock(&shard.series).iter() {
                let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
                *t.requests
                    .entry((s.operation, dialect_label(s.family), s.status))
                    .or_default() += load(&c.requests);
                let op = t.by_operation.entry(s.operation).or_default();
                op.received += load(&c.received);
                op.sent += load(&c.sent);
                op.duration_ns += load(&c.duration_ns);
                for (sum, cell) in op.buckets.iter_mut().zip(&c.buckets) {
                    *sum += load(cell);
                }
            }
        }
        t
    }
}

#[derive(Default)]
struct OpTotals {
    received: u64,
    sent: u64,
    duration_ns: u64,
    buckets: [u64; BOUNDS_NS.len() + 1],
}

/// The series' values at a scrape, in label order.
#[derive(Default)]
struct Totals {
    in_flight: i64,
    requests: BTreeMap<(&'static str, &'static str, u16), u64>,
    by_operation: BTreeMap<&'static str, OpTotals>,
}

/// Encodes a [`Recorder`]'s series at scrape time.
pub(super) struct RequestCollector(pub(super) Arc<Recorder>);

impl std::fmt::Debug for RequestCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestCollector").finish_non_exhaustive()
    }
}

impl Collector for RequestCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let t = self.0.totals();
        ConstGauge::new(t.in_flight).encode(enc.encode_descriptor(
            "requests_in_flight",
            "Requests being handled now",
            None,
            MetricType::Gauge,
        )?)?;
        // Like `prometheus-client`'s registry: no series, no descriptor.
        if t.requests.is_empty() {
            return Ok(());
        }
        {
            let mut m = enc.encode_descriptor(
                "requests",
                "Requests answered, by operation, dialect (cos, s3, oss) and HTTP status",
                None,
                MetricType::Counter,
            )?;
            for (&(operation, dialect, status), &n) in &t.requests {
                let labels = RequestLabels {
                    operation,
                    dialect,
                    status,
                };
                ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
            }
        }
        {
            let mut m = enc.encode_descriptor(
                "request_duration_seconds",
                "Time from the request head to the response head, by operation",
                None,
                MetricType::Histogram,
            )?;
            for (&operation, op) in &t.by_operation {
                let buckets: Vec<(f64, u64)> = BOUNDS_NS
                    .iter()
                    .map(|&ns| ns as f64 / 1e9)
                    .chain(std::iter::once(f64::INFINITY))
                    .zip(op.buckets)
                    .collect();
                m.encode_family(&OpLabels { operation })?
                    .encode_histogram::<NoLabelSet>(
                        op.duration_ns as f64 / 1e9,
                        op.buckets.iter().sum(),
                        &buckets,
                        None,
                    )?;
            }
        }
        for (name, help, value) in [
            (
                "received_bytes",
                "Request body bytes read, by operation",
                (|o: &OpTotals| o.received) as fn(&OpTotals) -> u64,
            ),
            (
                "sent_bytes",
                "Response body bytes (as announced by Content-Length), by operation",
                |o: &OpTotals| o.sent,
            ),
        ] {
            let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (&operation, op) in &t.by_operation {
                ConstCounter::new(value(op)).encode(m.encode_family(&OpLabels { operation })?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn outcome(operation: &'static str, status: u16, ms: u64, sent: u64) -> Outcome<'static> {
        let mut o = Outcome::new(operation, Family::Cos, status);
        o.elapsed = Duration::from_millis(ms);
        o.sent = sent;
        o
    }

    /// Threads record into shards of their own; the totals add them up,
    /// and a thread that exits leaves its counts (and its shard) behind.
    #[test]
    fn threads_add_up_and_leave_their_shards_to_the_next() {
        let r = Arc::new(Recorder::default());
        // All four record before any exits (an exited one's shard is reused).
        let all_recorded = Arc::new(std::sync::Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (r, all_recorded) = (r.clone(), all_recorded.clone());
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        r.record(&outcome("GetObject", 200, i % 3, 10));
                    }
                    r.record(&outcome("PutObject", 403, 0, 0));
                    all_recorded.wait();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(lock(&r.shards).len(), 4);
        assert_eq!(lock(&r.free).len(), 4, "exited threads free their shards");
        // A later thread takes over a shard instead of adding one.
        let r2 = r.clone();
        std::thread::spawn(move || r2.record(&outcome("GetObject", 200, 1, 10)))
            .join()
            .unwrap();
        assert_eq!(lock(&r.shards).len(), 4);
        let t = r.totals();
        assert_eq!(t.requests[&("GetObject", "cos", 200)], 4001);
        assert_eq!(t.requests[&("PutObject", "cos", 403)], 4);
        let get = &t.by_operation["GetObject"];
        assert_eq!(get.sent, 40_010);
        assert_eq!(get.buckets.iter().sum::<u64>(), 4001);
        // 0 ms → ≤ 250 µs; 1 ms → ≤ 1 ms (a bound counts in its bucket); 2 ms → ≤ 2.5 ms.
        assert_eq!(get.buckets[0], 4 * 334);
        assert_eq!(get.buckets[2], 4 * 333 + 1);
        assert_eq!(get.buckets[3], 4 * 333);
        assert_eq!(get.duration_ns, (4 * (333 + 2 * 333) + 1) * 1_000_000);
    }

    /// Two copies of one operation name are two series in a thread's map,
    /// and one series at scrape.
    #[test]
    fn copies_of_a_name_add_up_by_name() {
        let r = Arc::new(Recorder::default());
        let (get, put) = ("GetObject", "PutObject");
        let copy: &'static str = Box::leak(String::from(get).into_boxed_str());
        r.record(&outcome(get, 200, 0, 1));
        r.record(&outcome(copy, 200, 0, 2));
        LOCALS.with(|l| assert_eq!(l.borrow()[0].cells.len(), 2));
        // A key taken by another series (a collision) goes the slow way.
        LOCALS.with(|l| {
            let mut l = l.borrow_mut();
            let key = cache_key(get, Family::Cos, 200);
            let other = cache_key(put, Family::Cos, 200);
            let moved = l[0].cells.remove(&key).unwrap();
            l[0].cells.insert(other, moved);
        });
        r.record(&outcome(put, 200, 0, 4));
        let t = r.totals();
        assert_eq!(t.requests.len(), 2);
        assert_eq!(t.requests[&("GetObject", "cos", 200)], 2);
        assert_eq!(t.by_operation["GetObject"].sent, 3);
        assert_eq!(t.requests[&("PutObject", "cos", 200)], 1);
        assert_eq!(t.by_operation["PutObject"].sent, 4);
    }

    /// A recorder dropped while threads still hold its shards: their
    /// entries go the next time they record for another recorder.
    #[test]
    fn entries_of_dropped_recorders_are_forgotten() {
        let a = Arc::new(Recorder::default());
        a.record(&outcome("GetObject", 200, 0, 0));
        drop(a);
        let b = Arc::new(Recorder::default());
        b.record(&outcome("GetObject", 200, 0, 0));
        LOCALS.with(|l| assert_eq!(l.borrow().len(), 1));
        assert_eq!(b.totals().requests[&("GetObject", "cos", 200)], 1);
    }

    #[test]
    fn seconds_bounds_match_the_documented_buckets() {
        let secs: Vec<f64> = BOUNDS_NS.iter().map(|&ns| ns as f64 / 1e9).collect();
        let documented = [
            0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            10.0, 30.0, 60.0,
        ];
        assert_eq!(secs, documented);
    }
}
