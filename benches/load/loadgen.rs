//! Closed-loop HTTP/1.1 load generator for the load bench: one task per keep-alive TCP connection
//! (TCP_NODELAY, hyper 1 client), bounded by time and by request count, latencies in an HdrHistogram.
//!
//! Each task sends a request, reads the whole body (counting bytes, never buffering it), records
//! the time from send to last byte, and repeats. Requests started during the warm-up are not
//! recorded; the measured window is from the end of the warm-up to the last response.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Highest latency the histograms hold (60 s, in microseconds).
const MAX_LATENCY_US: u64 = 60_000_000;

/// One measurement: the same GET, over `connections` connections, for `warmup + duration`.
pub struct Plan {
    pub addr: SocketAddr,
    /// When not empty, connection `i` goes to `spread[i % len]` instead of `addr`
    /// (client-side balancing over several nodes).
    pub spread: Vec<SocketAddr>,
    pub host: String,
    pub path_and_query: String,
    /// `Range` header value, if any.
    pub range: Option<String>,
    /// Extra request headers (e.g. `Origin`).
    pub headers: Vec<(&'static str, String)>,
    /// Status a correct answer carries (200, or 206 for a range).
    pub expect_status: StatusCode,
    /// Body length a correct answer carries.
    pub expect_len: u64,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Upper bound on measured requests, whatever the duration.
    pub max_requests: u64,
    /// Successful requests so far, warm-up included: for a bench that samples
    /// the load while it runs.
    pub completed: Arc<AtomicU64>,
    /// Set to end the run before its duration is out.
    pub stop: Arc<AtomicBool>,
}

impl Plan {
    /// A plain GET of `path_and_query` from `addr` answered 200 with
    /// `expect_len` bytes: no spread, range or extra headers, at most five
    /// million requests (struct update syntax sets the rest).
    pub fn get(
        addr: SocketAddr,
        host: String,
        path_and_query: String,
        expect_len: u64,
        connections: usize,
        warmup: Duration,
        duration: Duration,
    ) -> Plan {
        Plan {
            addr,
            spread: Vec::new(),
            host,
            path_and_query,
            range: None,
            headers: Vec::new(),
            expect_status: StatusCode::OK,
            expect_len,
            connections,
            warmup,
            duration,
            max_requests: 5_000_000,
            completed: Arc::default(),
            stop: Arc::default(),
        }
    }
}

/// What one measurement observed.
pub struct Outcome {
    /// Latency of every measured successful request, in microseconds.
    pub latency_us: Histogram<u64>,
    pub requests: u64,
    pub bytes: u64,
    /// Failed requests (status, length, I/O), warm-up included: any makes the run invalid.
    pub errors: u64,
    pub first_error: Option<String>,
    /// End of warm-up to the last measured response.
    pub elapsed: Duration,
}

impl Outcome {
    pub fn req_per_s(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Per-connection tallies, merged into an [`Outcome`].
struct Tally {
    latency_us: Histogram<u64>,
    requests: u64,
    bytes: u64,
    errors: u64,
    first_error: Option<String>,
    last_end: Option<Instant>,
}

impl Tally {
    /// Counts a failed request; pauses briefly so that a dead server does not make us spin.
    async fn fail(&mut self, error: String) {
        self.errors += 1;
        self.first_error.get_or_insert(error);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `plan` to completion on the current tokio runtime; the warm-up begins at `start`.
pub async fn run(plan: Arc<Plan>, start: Instant) -> Outcome {
    let measure_from = start + plan.warmup;
    let stop_at = measure_from + plan.duration;
    let issued = Arc::new(AtomicU64::new(0));

    let tasks: Vec<_> = (0..plan.connections)
        .map(|i| {
            tokio::spawn(connection(
                plan.clone(),
                i,
                measure_from,
                stop_at,
                issued.clone(),
            ))
        })
        .collect();

    let mut outcome = Outcome {
        latency_us: new_histogram(),
        requests: 0,
        bytes: 0,
        errors: 0,
        first_error: None,
        elapsed: Duration::ZERO,
    };
    let mut last_end = measure_from;
    for task in tasks {
        let tally = task.await.expect("load task panicked");
        outcome
            .latency_us
            .add(&tally.latency_us)
            .expect("histograms share their bounds");
        outcome.requests += tally.requests;
        outcome.bytes += tally.bytes;
        outcome.errors += tally.errors;
        if outcome.first_error.is_none() {
            outcome.first_error = tally.first_error;
        }
        last_end = last_end.max(tally.last_end.unwrap_or(measure_from));
    }
    outcome.elapsed = last_end.duration_since(measure_from);
    outcome
}

/// One closed-loop connection: reconnects after an error, stops at `stop_at` or when the
/// shared request budget is spent.
async fn connection(
    plan: Arc<Plan>,
    index: usize,
    measure_from: Instant,
    stop_at: Instant,
    issued: Arc<AtomicU64>,
) -> Tally {
    let mut tally = Tally {
        latency_us: new_histogram(),
        requests: 0,
        bytes: 0,
        errors: 0,
        first_error: None,
        last_end: None,
    };
    let mut sender: Option<SendRequest<Empty<Bytes>>> = None;
    loop {
        if sender.is_none() {
            let addr = match plan.spread.len() {
                0 => plan.addr,
                n => plan.spread[index % n],
            };
            match connect(addr).await {
                Ok(new) => sender = Some(new),
                Err(e) => {
                    tally.fail(format!("connect: {e}")).await;
                    if Instant::now() >= stop_at {
                        break;
                    }
                    continue;
                }
            }
        }
        let Some(conn) = sender.as_mut() else {
            continue;
        };
        let begin = Instant::now();
        if begin >= stop_at || plan.stop.load(Ordering::Relaxed) {
            break;
        }
        let measured = begin >= measure_from;
        if measured && issued.fetch_add(1, Ordering::Relaxed) >= plan.max_requests {
            break;
        }
        let result = get(conn, &plan).await;
        let end = Instant::now();
        if result.is_ok() {
            plan.completed.fetch_add(1, Ordering::Relaxed);
        }
        match result {
            Ok(len) if measured => {
                let us = end.duration_since(begin).as_micros() as u64;
                tally
                    .latency_us
                    .saturating_record(us.clamp(1, MAX_LATENCY_US));
                tally.requests += 1;
                tally.bytes += len;
                tally.last_end = Some(end);
            }
            Ok(_) => {}
            Err(e) => {
                // Start over on a fresh connection.
                sender = None;
                tally.fail(e).await;
            }
        }
    }
    tally
}

/// Sends the plan's GET and reads the whole body; the body length on success.
async fn get(sender: &mut SendRequest<Empty<Bytes>>, plan: &Plan) -> Result<u64, String> {
    let mut request =
        Request::get(plan.path_and_query.as_str()).header(header::HOST, plan.host.as_str());
    if let Some(range) = &plan.range {
        request = request.header(header::RANGE, range.as_str());
    }
    for (name, value) in &plan.headers {
        request = request.header(*name, value.as_str());
    }
    let request = request.body(Empty::new()).map_err(|e| e.to_string())?;
    sender
        .ready()
        .await
        .map_err(|e| format!("connection: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let mut body = response.into_body();
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("body: {e}"))?;
        if let Some(data) = frame.data_ref() {
            len += data.len() as u64;
        }
    }
    if status != plan.expect_status {
        return Err(format!("status {status} (expected {})", plan.expect_status));
    }
    if len != plan.expect_len {
        return Err(format!(
            "body of {len} bytes (expected {})",
            plan.expect_len
        ));
    }
    Ok(len)
}

/// Opens a keep-alive HTTP/1.1 connection with TCP_NODELAY; its driver runs as its own task.
pub async fn connect<B>(addr: SocketAddr) -> std::io::Result<SendRequest<B>>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        // The connection ends when its sender is dropped or the peer closes; either is fine here.
        let _ = conn.await;
    });
    Ok(sender)
}

/// A response read completely into memory (set-up and checks, not the measured path).
pub struct Fetched {
    pub status: StatusCode,
    pub body: Bytes,
}

/// One request on a fresh connection, body read into memory: for uploads and correctness checks.
pub async fn fetch(
    addr: SocketAddr,
    method: Method,
    path_and_query: &str,
    headers: &[(&str, String)],
    body: Bytes,
) -> Result<Fetched, String> {
    let mut sender = connect::<Full<Bytes>>(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let mut request = Request::builder().method(method).uri(path_and_query);
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok(Fetched { status, body })
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}
