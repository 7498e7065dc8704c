//! Observability overhead (issue 11, "Speed"): the 4 KiB pre-signed GET of the load bench
//! against three localcos servers started side by side: metrics and access log off
//! (`--metrics off --access-log off`), both on with text lines (the default), and both on with
//! JSON lines. It prints req/s, p99 and the server's CPU microseconds per request for each,
//! and the ratios to the "off" server (the issue's target: metrics + access log cost < 5%).
//! The access log goes to the server's stderr, a file here, through the batching writer.
//!
//! In each round the three servers are loaded at the same time, each over its own
//! connections, all three on the same server CPU: on this shared VM the CPU time a request
//! costs drifts by ±10% from one run to the next (more than the effect measured), and loading
//! them together makes every drift weigh on all three alike. The figure judged is the median
//! over rounds of each round's CPU-per-request ratio to the "off" server of that round.
//!
//! Run by hand (release server, like the load bench; the generator is reused from
//! `benches/load`):
//!
//! ```text
//! cargo build --release --bin localcos
//! cargo bench --bench observability            # ~1.5 min
//! OBS_QUICK=1 cargo bench --bench observability   # smoke run
//! ```
//!
//! Knobs: `OBS_SECONDS` per run (default 3), `OBS_ROUNDS` alternating rounds (default 7),
//! `OBS_CONNECTIONS` per server (default 16), `LOAD_PIN=0` (no CPU pinning), `LOCALCOS_BIN`.
//! The table's req/s, p99 and µs/req are each server's share in its cheapest round. `cargo test --all-targets` runs it without `--bench`: it then only
//! prints a line.

#[allow(dead_code)]
#[path = "load/loadgen.rs"]
mod loadgen;
#[allow(dead_code)]
#[path = "load/presign.rs"]
mod presign;
#[allow(dead_code)]
#[path = "load/servers.rs"]
mod servers;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, StatusCode};

use loadgen::Plan;
use presign::Credentials;
use servers::Server;

const SECRET_ID: &str = "AKIDlocalcosObsBench0000000000000000";
const SECRET_KEY: &str = "localcosObsBenchSecretKey0000000";
const BUCKET: &str = "obs-1250000000";
const KEY: &str = "obj-4k";

/// (label, LOCALCOS_ACCESS_LOG, LOCALCOS_METRICS, LOCALCOS_LOG_FORMAT)
const VARIANTS: [(&str, &str, &str, &str); 3] = [
    ("metrics off, access log off", "off", "off", "text"),
    ("metrics on, access log on (text)", "on", "on", "text"),
    ("metrics on, access log on (json)", "on", "on", "json"),
];

fn main() -> ExitCode {
    if !std::env::args().any(|a| a == "--bench") {
        println!("observability bench: skipped (run it with `cargo bench --bench observability`)");
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("observability bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn env_num(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v: &f64| *v > 0.0)
        .unwrap_or(default)
}

struct Measured {
    req_per_s: f64,
    p99_ms: f64,
    /// Server CPU microseconds per request.
    cpu_us: f64,
}

fn run() -> Result<(), String> {
    presign::self_check()?;
    let quick = std::env::var("OBS_QUICK").is_ok_and(|v| v == "1");
    let seconds = env_num("OBS_SECONDS", if quick { 1.0 } else { 3.0 });
    let rounds = env_num("OBS_ROUNDS", if quick { 1.0 } else { 7.0 }) as usize;
    let connections = env_num("OBS_CONNECTIONS", 16.0) as usize;
    let pin = std::env::var("LOAD_PIN").map_or(true, |v| v != "0");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let servers::Layout {
        bin,
        server_cpus,
        client_cpus,
    } = servers::layout(&target_dir, pin)?;
    println!("observability bench: localcos = {}", bin.display());
    // The servers inherit these from this (still single-threaded) process.
    let mut started: Vec<Server> = Vec::new();
    for (_, access, metrics, format) in VARIANTS {
        std::env::set_var("LOCALCOS_ACCESS_LOG", access);
        std::env::set_var("LOCALCOS_METRICS", metrics);
        std::env::set_var("LOCALCOS_LOG_FORMAT", format);
        started.push(servers::start_localcos(
            &bin,
            SECRET_ID,
            SECRET_KEY,
            "obs",
            None,
            &server_cpus,
        )?);
    }
    for name in [
        "LOCALCOS_ACCESS_LOG",
        "LOCALCOS_METRICS",
        "LOCALCOS_LOG_FORMAT",
    ] {
        std::env::remove_var(name);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_cpus.len().max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let creds = Credentials {
        secret_id: SECRET_ID.into(),
        secret_key: SECRET_KEY.into(),
    };
    let load_before = servers::load_average();
    let best = runtime.block_on(async {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let mut urls = Vec::new();
        for server in &started {
            set_up(server, &creds).await?;
            let path = format!("/{BUCKET}/{KEY}");
            let sig = presign::sign(&creds, "GET", &path, &server.host(), now - 60, now + 86_400);
            urls.push(format!("{path}?{}", sig.to_query()));
        }
        // The "on" servers log and count; the "off" one does neither.
        for (i, server) in started.iter().enumerate() {
            let r = loadgen::fetch(
                server.addr,
                Method::GET,
                "/-/metrics",
                &[("host", server.host())],
                Bytes::new(),
            )
            .await?;
            let on = VARIANTS[i].2 == "on";
            if (r.status == StatusCode::OK) != on {
                return Err(format!("{}: /-/metrics answered {}", VARIANTS[i].0, r.status));
            }
        }
        let mut best: Vec<Option<Measured>> = VARIANTS.iter().map(|_| None).collect();
        // Per variant, each round's CPU per request over the same round's "off".
        let mut ratios: Vec<Vec<f64>> = VARIANTS.iter().map(|_| Vec::new()).collect();
        for round in 0..rounds {
            for server in started.iter_mut() {
                server.check_alive()?;
            }
            // All three at once, each with its own connections: they share
            // the server CPU for the same seconds, so whatever else the
            // machine does then weighs on each alike.
            let plans: Vec<Arc<Plan>> = started
                .iter()
                .zip(&urls)
                .map(|(server, url)| {
                    Arc::new(Plan::get(
                        server.addr,
                        server.host(),
                        url.clone(),
                        4096,
                        connections,
                        Duration::from_secs_f64(if quick { 0.25 } else { 1.0 }),
                        Duration::from_secs_f64(seconds),
                    ))
                })
                .collect();
            let pids: Vec<u32> = started.iter().map(|s| s.pid).collect();
            let start = Instant::now();
            let measure_from = start + plans[0].warmup;
            let (outcomes, cpu_before) = tokio::join!(
                futures_util::future::join_all(
                    plans.into_iter().map(|plan| loadgen::run(plan, start))
                ),
                async {
                    tokio::time::sleep_until(measure_from.into()).await;
                    pids.iter()
                        .map(|&pid| servers::tree_cpu_seconds(pid))
                        .collect::<Vec<_>>()
                }
            );
            let mut off_cpu = 0.0;
            for (i, outcome) in outcomes.iter().enumerate() {
                let label = VARIANTS[i].0;
                let cpu = servers::tree_cpu_seconds(pids[i]) - cpu_before[i];
                if outcome.errors > 0 {
                    return Err(format!(
                        "{label}: {} errors, first: {:?}",
                        outcome.errors, outcome.first_error
                    ));
                }
                let m = Measured {
                    req_per_s: outcome.req_per_s(),
                    p99_ms: outcome.quantile_ms(0.99),
                    cpu_us: cpu * 1e6 / outcome.requests.max(1) as f64,
                };
                if i == 0 {
                    off_cpu = m.cpu_us;
                }
                ratios[i].push(m.cpu_us / off_cpu);
                println!(
                    "  round {round} {label:<34} {:>9.0} req/s  p99 {:>6.2} ms  server {:>6.1} µs/req  ×{:.3}",
                    m.req_per_s,
                    m.p99_ms,
                    m.cpu_us,
                    m.cpu_us / off_cpu
                );
                if best[i].as_ref().is_none_or(|b| m.cpu_us < b.cpu_us) {
                    best[i] = Some(m);
                }
            }
        }
        let best = best.into_iter().map(Option::unwrap).collect::<Vec<_>>();
        Ok::<_, String>((best, ratios.into_iter().map(median).collect::<Vec<_>>()))
    })?;
    let (best, ratio) = best;
    // The access log really was written by the "on" servers.
    let lines: Vec<usize> = started
        .iter()
        .map(|s| {
            std::fs::read_to_string(s.dir().join("stderr.log")).map_or(0, |t| {
                t.lines().filter(|l| l.contains("localcos::access")).count()
            })
        })
        .collect();
    if lines[0] != 0 || lines[1] == 0 || lines[2] == 0 {
        return Err(format!(
            "access-log lines per server (off, text, json): {lines:?}"
        ));
    }
    let mut text = format!(
        "observability: 4 KiB pre-signed GET, {connections} connections per server, {rounds} rounds of \
         {seconds} s with the three servers loaded together\n\
         server CPUs {server_cpus:?}, generator CPUs {client_cpus:?}, load average {load_before} → {}\n\
         access-log lines written (off, text, json): {lines:?}\n\n",
        servers::load_average()
    );
    text.push_str(&format!(
        "{:<34} {:>10} {:>9} {:>14} {:>16}\n",
        "server (cheapest round)", "req/s", "p99 ms", "server µs/req", "median CPU ratio"
    ));
    for (((label, ..), m), r) in VARIANTS.iter().zip(&best).zip(&ratio) {
        text.push_str(&format!(
            "{label:<34} {:>10.0} {:>9.2} {:>14.2} {:>16.3}\n",
            m.req_per_s, m.p99_ms, m.cpu_us, r
        ));
    }
    for i in 1..VARIANTS.len() {
        text.push_str(&format!(
            "\n{} / off: server CPU per request {:.3} (median of {rounds} rounds; \
             target < 1.05: {})",
            VARIANTS[i].0,
            ratio[i],
            if ratio[i] < 1.05 { "met" } else { "missed" },
        ));
    }
    println!("\n{text}");
    let path = target_dir.join("observability-report.txt");
    if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("cannot write {}: {e}", path.display());
    }
    drop(started);
    Ok(())
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Waits for readiness and puts the 4 KiB object.
async fn set_up(server: &Server, creds: &Credentials) -> Result<(), String> {
    let host = server.host();
    let deadline = Instant::now() + Duration::from_secs(10);
    while loadgen::fetch(
        server.addr,
        Method::GET,
        "/-/health/ready",
        &[("host", host.clone())],
        Bytes::new(),
    )
    .await
    .map_or(true, |r| r.status != StatusCode::OK)
    {
        if Instant::now() > deadline {
            return Err("localcos never became ready".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let path = format!("/{BUCKET}/{KEY}");
    let auth = presign::sign(creds, "PUT", &path, &host, now - 60, now + 3600).to_header();
    let data: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
    let r = loadgen::fetch(
        server.addr,
        Method::PUT,
        &path,
        &[("host", host.clone()), ("authorization", auth)],
        Bytes::from(data),
    )
    .await?;
    if !r.status.is_success() {
        return Err(format!("PUT {path}: {}", r.status));
    }
    Ok(())
}
