//! Cost of one access-log line (issue 11, "Speed"; `benches/observability.rs` measures the
//! whole server): the `tracing` event of `http::access_log::emit` through the binary's own
//! subscriber (filter, fmt layer, access layer, batching writer) into stderr, which this bench
//! points at /dev/null. It prints nanoseconds of CPU per line (all threads, the log writer's
//! included) for text and JSON lines, and per request recorded into the metrics
//! (`Metrics::record`, the other half of that budget).
//!
//! ```text
//! cargo bench --bench access_log
//! ```
//!
//! `ACCESS_BENCH_LINES` sets the lines per format (default 2,000,000). `cargo test
//! --all-targets` runs it without `--bench`: it then only prints a line.

use std::net::SocketAddr;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use localcos::http::access_log::{self, AccessLine, LogSetup};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("access_log bench: skipped (run it with `cargo bench --bench access_log`)");
        return ExitCode::SUCCESS;
    }
    match std::env::var("ACCESS_BENCH_FORMAT") {
        // One subscriber per process: the parent runs a child per format.
        Ok(format) if format == "metrics" => match measure_metrics() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                println!("access_log bench failed: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(format) => match measure(format == "json") {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                println!("access_log bench failed: {e}");
                ExitCode::FAILURE
            }
        },
        Err(_) => {
            for format in ["text", "json", "metrics"] {
                let status = Command::new(&args[0])
                    .args(&args[1..])
                    .env("ACCESS_BENCH_FORMAT", format)
                    .status();
                if !status.is_ok_and(|s| s.success()) {
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
    }
}

fn measure(json: bool) -> Result<(), String> {
    let lines: u64 = std::env::var("ACCESS_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let devnull = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(|e| e.to_string())?;
    // SAFETY: dup2 onto fd 2 with a valid open descriptor; nothing else uses stderr meanwhile.
    if unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&devnull), 2) } < 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    let guard = access_log::init(&LogSetup {
        level: "info",
        json,
        access_log: true,
    });
    if !access_log::enabled() {
        return Err("access-log events are not enabled".into());
    }
    let method = http::Method::GET;
    let remote: SocketAddr = "127.0.0.1:52814".parse().map_err(|e| format!("{e}"))?;
    let ready = Instant::now();
    let line = |i: u64| AccessLine {
        request_id: "NjY0ZjJiMWFfMTcyMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw",
        method: &method,
        operation: "GetObject",
        dialect: "cos",
        bucket: Some("obs-1250000000"),
        key: Some("dir/obj-4k"),
        status: 200,
        bytes_in: 0,
        bytes_out: 4096,
        duration: Duration::from_micros(40 + i % 50),
        secret_id: Some("AKIDlocalcosObsBench0000000000000000"),
        remote: Some(remote),
        error_code: None,
        // The server reads its instant anyway (the request's duration ends
        // there): no clock read here either.
        at: access_log::wall_time(ready),
    };
    for i in 0..lines / 10 {
        access_log::emit(&line(i));
    }
    let cpu_before = process_cpu();
    let start = Instant::now();
    for i in 0..lines {
        access_log::emit(&line(i));
    }
    let wall = start.elapsed();
    drop(guard); // flushes
    let cpu = process_cpu() - cpu_before;
    println!(
        "access_log {}: {lines} lines, {:.0} ns CPU per line (all threads), {:.0} ns wall per line",
        if json { "json" } else { "text" },
        cpu.as_nanos() as f64 / lines as f64,
        wall.as_nanos() as f64 / lines as f64,
    );
    Ok(())
}

/// CPU per `Metrics::record` of a 4 KiB GET's outcome (a few series, as under load).
fn measure_metrics() -> Result<(), String> {
    use localcos::auth::Family;
    use localcos::metrics::{Metrics, Outcome};
    let records: u64 = std::env::var("ACCESS_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000)
        * 5;
    let metrics = Metrics::new();
    let outcome = |i: u64| {
        let (operation, status) = match i % 64 {
            0 => ("HeadObject", 200),
            1 => ("GetObject", 404),
            _ => ("GetObject", 200),
        };
        let mut o = Outcome::new(operation, Family::Cos, status);
        o.sent = 4096;
        o.elapsed = Duration::from_micros(40 + i % 50);
        o
    };
    for i in 0..records / 10 {
        metrics.record(&outcome(i));
    }
    let cpu_before = process_cpu();
    for i in 0..records {
        metrics.record(&outcome(i));
    }
    let cpu = process_cpu() - cpu_before;
    let text = metrics.encode();
    if !text.contains("localcos_requests_total{operation=\"GetObject\"") {
        return Err(format!("no GetObject series in the exposition:\n{text}"));
    }
    println!(
        "metrics record: {records} requests, {:.1} ns CPU per request",
        cpu.as_nanos() as f64 / records as f64,
    );
    Ok(())
}

/// User + system CPU of the whole process (all threads).
fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}
