//! Load benchmark: localcos against nginx serving the same bytes, side by side on this machine.
//! It measures pre-signed 4 KiB GET req/s and p99 latency at 16 and 64 connections, throughput
//! of 1 MiB and 64 MiB GETs, a 1 MiB Range GET from the middle of the 64 MiB object, server CPU
//! seconds per GiB served, and localcos's RSS idle and after the large reads. It prints one table
//! with localcos, nginx, localcos/nginx and the performance targets from the issue.
//!
//! Run by hand, never as part of the tests (cargo builds `target/release/localcos` alongside):
//!
//! ```text
//! apt-get install -y nginx             # the bench starts /usr/sbin/nginx itself, on 127.0.0.1
//! cargo build --release                # optional: `cargo bench` builds the binary too
//! cargo bench --bench load             # ~2.5 min; table also in <target>/load-report.txt
//! LOAD_QUICK=1 cargo bench --bench load   # ~15 s smoke run: 1 s per run, one round
//! ```
//!
//! Knobs (environment):
//! - `LOAD_SECONDS` measured seconds per run (default 5), `LOAD_WARMUP` (default 1),
//!   `LOAD_ROUNDS` alternating rounds (default 2), `LOAD_MAX_REQUESTS` per run (default 5 000 000),
//!   `LOAD_QUICK=1` for 1 s runs, a 0.25 s warm-up and one round;
//! - `LOAD_PIN=0` no CPU pinning; `LOAD_NICE=-10` runs servers and generator at that nice value,
//!   to stand out from other work on a shared machine (the `others%` column shows how much CPU
//!   other processes took during each run);
//! - `LOAD_RUST_LOG` log filter for localcos (default: the server's own, `info`); the
//!   per-request access log is off here like nginx's (`LOCALCOS_ACCESS_LOG=on` in the bench's
//!   environment turns it on; `benches/observability.rs` measures it); `LOCALCOS_BIN` a binary other than
//!   `<target>/release/localcos`.
//!
//! `cargo test --all-targets` runs this binary without `--bench`; it then only prints a line.
//!
//! Fairness: with two or more CPUs, both servers are pinned to the same one CPU (nginx runs one
//! worker process; localcos's runtime threads share that CPU) and the load generator gets the
//! others, so the servers never compete with the client and get equal CPU. Runs alternate
//! localcos, nginx, localcos, nginx…; each figure is the best of its rounds.

mod loadgen;
mod presign;
mod report;
// Shared with the other benches, some of whose helpers this one does not use.
#[allow(dead_code)]
mod servers;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, StatusCode};

use loadgen::{Outcome, Plan};
use presign::Credentials;
use report::Report;
use servers::Server;

const MIB: usize = 1024 * 1024;
/// `--bucket bench` creates `bench-<default APPID>`.
const BUCKET_ARG: &str = "bench";
const BUCKET: &str = "bench-1250000000";
const SECRET_ID: &str = "AKIDlocalcosLoadBench000000000000000";
const SECRET_KEY: &str = "localcosLoadBenchSecretKey000000";

/// Indices of the scenarios, as listed in `run_bench`.
const SMALL_16: usize = 0;
const SMALL_64: usize = 1;
const MEDIUM: usize = 2;
const RANGE: usize = 3;
const LARGE: usize = 4;

/// Run-time settings, from the `LOAD_*` environment variables.
pub struct Settings {
    pub seconds: f64,
    pub warmup: f64,
    pub rounds: usize,
    pub max_requests: u64,
    pub pin: bool,
    /// Nice value for the servers and the generator (0 = leave as is).
    pub nice: i32,
    /// `RUST_LOG` for localcos; `None` = the server's default.
    pub rust_log: Option<String>,
}

impl Settings {
    fn from_env() -> Settings {
        let quick = std::env::var("LOAD_QUICK").is_ok_and(|v| v == "1");
        let num = |name: &str, default: f64| -> f64 {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|v: &f64| *v > 0.0)
                .unwrap_or(default)
        };
        Settings {
            seconds: num("LOAD_SECONDS", if quick { 1.0 } else { 5.0 }),
            warmup: num("LOAD_WARMUP", if quick { 0.25 } else { 1.0 }),
            rounds: num("LOAD_ROUNDS", if quick { 1.0 } else { 2.0 }) as usize,
            max_requests: num("LOAD_MAX_REQUESTS", 5_000_000.0) as u64,
            pin: std::env::var("LOAD_PIN").map_or(true, |v| v != "0"),
            nice: std::env::var("LOAD_NICE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            rust_log: std::env::var("LOAD_RUST_LOG").ok(),
        }
    }
}

/// One object, written identically to both servers.
pub struct Object {
    pub key: &'static str,
    pub data: Bytes,
}

impl Object {
    fn path(&self) -> String {
        format!("/{BUCKET}/{}", self.key)
    }
}

/// One row of measurements: the same GET against both servers.
pub struct Scenario {
    pub name: &'static str,
    /// Index into the objects.
    pub object: usize,
    pub range: Option<Range<u64>>,
    pub connections: usize,
}

/// One measurement of one scenario against one server.
pub struct Run {
    pub scenario: usize,
    /// 0 = localcos, 1 = nginx.
    pub server: usize,
    pub round: usize,
    pub outcome: Outcome,
    /// CPU seconds of the server (process tree) during the measured window.
    pub server_cpu: f64,
    /// CPU seconds of this load generator during the measured window.
    pub client_cpu: f64,
    /// CPU seconds of every other process on the machine during the measured window: high
    /// values mean the figures were disturbed.
    pub others_cpu: f64,
    /// Peak RSS of the server (process tree) during the run, warm-up included, in KiB.
    pub peak_rss: u64,
}

/// Memory between the runs, in KiB (the peaks during runs are in [`Run`]).
#[derive(Default)]
pub struct Memory {
    /// localcos's VmRSS after start-up, before any request.
    pub idle: u64,
    /// localcos's VmRSS after the objects were PUT.
    pub after_upload: u64,
    /// VmRSS after the last (64 MiB) runs: localcos, then nginx (master + worker).
    pub after_runs: [u64; 2],
}

fn main() -> ExitCode {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("load bench: skipped (run it with `cargo bench --bench load`)");
        return ExitCode::SUCCESS;
    }
    match run_bench() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("load bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs everything; `Ok(false)` when a run saw errors (the table is then invalid).
fn run_bench() -> Result<bool, String> {
    presign::self_check()?;
    let settings = Settings::from_env();
    let target_dir = target_dir();
    // Servers on the first allowed CPU, the load generator on the rest.
    let servers::Layout {
        bin,
        server_cpus,
        client_cpus,
    } = servers::layout(&target_dir, settings.pin)?;
    if settings.nice != 0 {
        servers::set_nice(settings.nice)
            .map_err(|e| format!("LOAD_NICE={}: {e}", settings.nice))?;
    }
    let load_before = servers::load_average();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_cpus.len().max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;

    let objects = vec![
        Object {
            key: "obj-4k",
            data: pattern(4 * 1024, 1),
        },
        Object {
            key: "obj-1m",
            data: pattern(MIB, 2),
        },
        Object {
            key: "obj-64m",
            data: pattern(64 * MIB, 3),
        },
    ];
    let middle = 32 * MIB as u64..33 * MIB as u64;
    // In the order of the SMALL_16..LARGE indices. The 64 MiB reads come last, so the RSS read
    // after all runs is the "RSS after the 64 MiB runs" of the issue.
    let scenarios = vec![
        Scenario {
            name: "4 KiB pre-signed GET, 16 conn",
            object: 0,
            range: None,
            connections: 16,
        },
        Scenario {
            name: "4 KiB pre-signed GET, 64 conn",
            object: 0,
            range: None,
            connections: 64,
        },
        Scenario {
            name: "1 MiB GET, 16 conn",
            object: 1,
            range: None,
            connections: 16,
        },
        Scenario {
            name: "1 MiB Range GET mid-64 MiB, 16 conn",
            object: 2,
            range: Some(middle),
            connections: 16,
        },
        Scenario {
            name: "64 MiB GET, 4 conn",
            object: 2,
            range: None,
            connections: 4,
        },
    ];
    debug_assert_eq!(scenarios.len(), LARGE + 1);

    println!("load bench: localcos = {}", bin.display());
    let creds = Credentials {
        secret_id: SECRET_ID.to_owned(),
        secret_key: SECRET_KEY.to_owned(),
    };
    let mut localcos = servers::start_localcos(
        &bin,
        SECRET_ID,
        SECRET_KEY,
        BUCKET_ARG,
        settings.rust_log.as_deref(),
        &server_cpus,
    )?;
    let mut nginx = servers::start_nginx(&server_cpus)?;
    println!(
        "load bench: localcos on {} (pid {}), nginx on {} (pid {})",
        localcos.addr, localcos.pid, nginx.addr, nginx.pid
    );

    let mut memory = Memory::default();
    let runs = runtime.block_on(async {
        wait_ready(&localcos).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        memory.idle = servers::rss_kib(localcos.pid).0;

        upload(&localcos, &creds, &objects).await?;
        for object in &objects {
            servers::write_static(&nginx.dir().join("root"), &object.path()[1..], &object.data)?;
        }
        memory.after_upload = servers::rss_kib(localcos.pid).0;
        // Allocators give memory back after a delay (mimalloc purges, glibc trims): let the
        // upload's buffers go before the first peak is taken.
        tokio::time::sleep(Duration::from_secs(2)).await;

        // Every URL is pre-signed once, valid for a day; nginx gets the same path and query.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let urls: Vec<String> = objects
            .iter()
            .map(|o| {
                let sig = presign::sign(
                    &creds,
                    "GET",
                    &o.path(),
                    &localcos.host(),
                    now - 60,
                    now + 86_400,
                );
                format!("{}?{}", o.path(), sig.to_query())
            })
            .collect();
        check_content(&[&localcos, &nginx], &objects, &scenarios, &urls).await?;

        let mut runs = Vec::new();
        println!("  {}", report::run_header());
        for (s, scenario) in scenarios.iter().enumerate() {
            println!("load bench: {}", scenario.name);
            for round in 0..settings.rounds {
                for (i, server) in [&mut localcos, &mut nginx].into_iter().enumerate() {
                    server.check_alive()?;
                    let plan = plan(
                        &settings,
                        scenario,
                        &objects[scenario.object],
                        &urls[scenario.object],
                        server,
                    );
                    let run = measure(server, plan, s, i, round).await;
                    println!("  {}", report::run_line(&run, &scenarios));
                    runs.push(run);
                }
            }
        }
        memory.after_runs = [
            servers::rss_kib(localcos.pid).0,
            servers::tree_rss_kib(nginx.pid),
        ];
        Ok::<_, String>(runs)
    })?;

    let nginx_version = servers::nginx_version();
    let load_average = [load_before, servers::load_average()];
    let report = Report {
        settings: &settings,
        server_cpus: &server_cpus,
        client_cpus: &client_cpus,
        load_average: &load_average,
        bin: &bin,
        nginx_version: &nginx_version,
        scenarios: &scenarios,
        runs: &runs,
        memory: &memory,
    };
    let text = report.render();
    println!("\n{text}");
    let path = target_dir.join("load-report.txt");
    match std::fs::write(&path, &text) {
        Ok(()) => println!("load bench: report written to {}", path.display()),
        Err(e) => eprintln!("load bench: cannot write {}: {e}", path.display()),
    }
    drop(localcos);
    drop(nginx);
    Ok(report.valid())
}

/// Builds the measurement of `scenario` against `server`.
fn plan(
    settings: &Settings,
    scenario: &Scenario,
    object: &Object,
    url: &str,
    server: &Server,
) -> Arc<Plan> {
    let (range, expect_status, expect_len) = match &scenario.range {
        Some(r) => (
            Some(format!("bytes={}-{}", r.start, r.end - 1)),
            StatusCode::PARTIAL_CONTENT,
            r.end - r.start,
        ),
        None => (None, StatusCode::OK, object.data.len() as u64),
    };
    Arc::new(Plan {
        range,
        expect_status,
        max_requests: settings.max_requests,
        ..Plan::get(
            server.addr,
            server.host(),
            url.to_owned(),
            expect_len,
            scenario.connections,
            Duration::from_secs_f64(settings.warmup),
            Duration::from_secs_f64(settings.seconds),
        )
    })
}

/// Runs `plan`, reading CPU counters of the server and of this process at the start and the
/// end of the measured window (the warm-up is excluded).
async fn measure(
    server: &Server,
    plan: Arc<Plan>,
    scenario: usize,
    index: usize,
    round: usize,
) -> Run {
    let me = std::process::id();
    let pid = server.pid;
    servers::reset_peak_rss(pid);
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let snapshot = move || {
        [
            servers::tree_cpu_seconds(pid),
            servers::cpu_seconds(me),
            servers::machine_busy_seconds(),
        ]
    };
    let (outcome, before) = tokio::join!(loadgen::run(plan, start), async {
        tokio::time::sleep_until(measure_from.into()).await;
        snapshot()
    });
    let after = snapshot();
    let [server_cpu, client_cpu, machine] = [0, 1, 2].map(|i| after[i] - before[i]);
    Run {
        scenario,
        server: index,
        round,
        outcome,
        server_cpu,
        client_cpu,
        others_cpu: (machine - server_cpu - client_cpu).max(0.0),
        peak_rss: servers::tree_peak_rss_kib(pid),
    }
}

/// Waits (up to 10 s) for localcos's `GET /-/health/ready` to answer 200; warns otherwise.
async fn wait_ready(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = String::new();
    while Instant::now() < deadline {
        match loadgen::fetch(
            server.addr,
            Method::GET,
            "/-/health/ready",
            &[("host", server.host())],
            Bytes::new(),
        )
        .await
        {
            Ok(r) if r.status == StatusCode::OK => return,
            Ok(r) => last = format!("status {}", r.status),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("WARNING: localcos /-/health/ready never answered 200 ({last}); continuing");
}

/// Creates the bucket if `--bucket` did not, then PUTs every object with a header-signed request.
async fn upload(server: &Server, creds: &Credentials, objects: &[Object]) -> Result<(), String> {
    let host = server.host();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let signed = |path: &str| {
        let auth = presign::sign(creds, "PUT", path, &host, now - 60, now + 3600).to_header();
        vec![("host", host.clone()), ("authorization", auth)]
    };
    let bucket_path = format!("/{BUCKET}");
    let r = loadgen::fetch(
        server.addr,
        Method::PUT,
        &bucket_path,
        &signed(&bucket_path),
        Bytes::new(),
    )
    .await?;
    if !r.status.is_success() && r.status != StatusCode::CONFLICT {
        eprintln!(
            "WARNING: PUT bucket {BUCKET}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    for object in objects {
        let path = object.path();
        let r = loadgen::fetch(
            server.addr,
            Method::PUT,
            &path,
            &signed(&path),
            object.data.clone(),
        )
        .await?;
        if !r.status.is_success() {
            return Err(format!(
                "PUT {path} to localcos: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ));
        }
    }
    Ok(())
}

/// Before measuring: every scenario's request answers with exactly the expected bytes on both
/// servers (so the load runs may check status and length only).
async fn check_content(
    servers: &[&Server],
    objects: &[Object],
    scenarios: &[Scenario],
    urls: &[String],
) -> Result<(), String> {
    for server in servers {
        for scenario in scenarios {
            let object = &objects[scenario.object];
            let mut headers = vec![("host", server.host())];
            let (status, expected) = match &scenario.range {
                Some(r) => {
                    headers.push(("range", format!("bytes={}-{}", r.start, r.end - 1)));
                    (
                        StatusCode::PARTIAL_CONTENT,
                        object.data.slice(r.start as usize..r.end as usize),
                    )
                }
                None => (StatusCode::OK, object.data.clone()),
            };
            let r = loadgen::fetch(
                server.addr,
                Method::GET,
                &urls[scenario.object],
                &headers,
                Bytes::new(),
            )
            .await?;
            if r.status != status || r.body != expected {
                let body = if r.body.len() < 2048 {
                    String::from_utf8_lossy(&r.body).into_owned()
                } else {
                    String::new()
                };
                return Err(format!(
                    "{} answered {} with {} bytes to `{}` (expected {status}, {} bytes) {body}",
                    server.name,
                    r.status,
                    r.body.len(),
                    scenario.name,
                    expected.len()
                ));
            }
        }
    }
    Ok(())
}

/// Deterministic, incompressible-looking bytes (xorshift64), different per `seed`.
fn pattern(len: usize, seed: u64) -> Bytes {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// `CARGO_TARGET_DIR`, else the directory this bench binary was built into
/// (`<target>/release/deps/load-<hash>`), else `./target`.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}
