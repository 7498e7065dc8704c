//! Observability overhead (issue 11, "Speed"): the 4 KiB pre-signed GET of the load bench
//! with metrics and the access log off, and with both on, text lines (the default) and JSON
//! lines. It prints each slice's req/s, p99 and server CPU microseconds per request, and
//! their ratios to "off" (the issue's target: metrics + access log cost < 5%). The access
//! log goes to the server's stderr through the batching writer: a file here, or a pipe
//! (`OBS_LOG=pipe`, as under Docker or systemd).
//!
//! How it is measured, and why:
//! - **"Off" and "on" are the same process**, switched at run time through the admin API
//!   (`PUT /-/admin/observability`): one process with text lines, one with JSON lines,
//!   each started with both on. One process of the very same build and flags can cost
//!   2–4% more per request than another for its whole life (address-space layout, page
//!   placement), as large as the effect measured; within one process that weighs on "off"
//!   and "on" alike. The control is a third state of the text process, off again: its
//!   ratio shows how far from 1.000 two identical states land.
//! - Each process is loaded **alone**, as in the load bench (server on CPU 0, generator on
//!   CPU 1), **without a pause**, and switched from state to state every 0.5 s (a period)
//!   in the order ABC CBA ABC ... (text: off, on, control; JSON: off, on), so that the VM's
//!   drift (±10% over seconds to minutes) weighs on every state alike. A period is measured
//!   from the server's CPU time and the generator's count of answered requests between two
//!   samples taken right after a switch and 0.5 s later. A cycle's ratio is a state's CPU
//!   per request over its process's "off" period in that cycle; the figure judged is the
//!   median over all cycles (8 per process and epoch), and the processes are restarted
//!   every epoch, the one loaded first taking turns. Each process is warmed up for 2.5 s
//!   first: a process's first seconds under load cost more (a control measured 1.029 after
//!   0.5 s of warm-up, 1.004 after 2.5 s).
//! - `OBS_INTERLEAVE=0` measures slices instead (the method before this one): a separate
//!   2.5 s load per state after its own warm-up, the states and processes taking turns.
//! - CPU time is each server's threads' time on a CPU from `/proc/<pid>/task/*/schedstat`
//!   (nanoseconds; clock ticks are too coarse for short slices).
//! - **Waking the generator's idle CPU is part of the server's cost here.** Each response
//!   wakes the generator; when its CPU is halted, the wake-up is an inter-processor
//!   interrupt, which in a VM is an exit to the hypervisor charged to the server's thread
//!   (`perf`: `_raw_spin_unlock_irqrestore` under `sock_def_readable`, about 9% of the
//!   server's CPU with both switches off). A slower server leaves the generator idle more
//!   often, so it pays this more often: on the 2-vCPU VM of the README's figures, a third
//!   to a half of what metrics plus access log cost per request. `OBS_IDLE_POLL=1` lets
//!   idle CPUs poll instead (a wake-up is then a flag write), which measures the server's
//!   own work; over a network the generator's CPU is not the server's to wake.
//!
//! Run by hand (release server, like the load bench; the generator is reused from
//! `benches/load`):
//!
//! ```text
//! cargo build --release --bin localcos
//! cargo bench --bench observability            # ~3 min
//! OBS_QUICK=1 cargo bench --bench observability   # smoke run
//! ```
//!
//! Knobs: `OBS_SWITCH=0` runs a separate process per variant instead (`--metrics off
//! --access-log off`, both on with text lines, both on with JSON lines, and a second "off"
//! process as the control; the method before run-time switches), `OBS_SPLIT=1` (separate
//! processes) a process with metrics alone and one with the access log alone (text lines;
//! instead of the JSON one), `OBS_BIN_B=<binary>` an A/B run of two builds (separate
//! processes: off and both on from each; it prints the median of the rounds' B-on over
//! A-on), `OBS_LOG=pipe`, `OBS_IDLE_POLL=1` (root: holds `/dev/cpu_dma_latency` at 0, so
//! idle CPUs poll instead of halting; see above), `OBS_HALT_POLL_NS=200000` (root: the
//! guest's halt-polling window for the run, Linux's default; the CI VM boots with 0, so an
//! idle CPU halts at once; the header prints the value in force), `OBS_EPOCHS` restarts (default 6),
//! `OBS_CYCLES` per process and epoch (default 8), `OBS_PERIOD` seconds per state (default
//! 0.5), `OBS_INTERLEAVE=0` (slices; then `OBS_ROUNDS` per epoch, default 2, and
//! `OBS_SECONDS` per slice, default 2.5, after 0.5 s of warm-up), `OBS_SWITCH_WARMUP`
//! (default 2.5 in switch mode), `OBS_CONNECTIONS` (default 16), `LOAD_PIN=0` (no CPU
//! pinning), `LOCALCOS_BIN`. `cargo test --all-targets` runs it
//! without `--bench`: it then only prints a line.

#[allow(dead_code)]
#[path = "load/loadgen.rs"]
mod loadgen;
#[allow(dead_code)]
#[path = "load/presign.rs"]
mod presign;
#[allow(dead_code)]
#[path = "load/servers.rs"]
mod servers;

use std::path::{Path, PathBuf};
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

/// One server's switches.
struct Variant {
    label: &'static str,
    flags: [&'static str; 6],
    metrics: bool,
    access_log: bool,
    /// Runs the `OBS_BIN_B` build instead of the one under test.
    build_b: bool,
    /// Switch mode: the variant whose process serves this one's slices
    /// (switched to `metrics` and `access_log` before each); None: a
    /// process of its own, started with `flags`.
    process: Option<usize>,
    /// The variant a round's ratio is taken against.
    reference: usize,
}

const fn variant(
    label: &'static str,
    metrics: bool,
    access_log: bool,
    format: &'static str,
) -> Variant {
    const fn on(b: bool) -> &'static str {
        if b {
            "on"
        } else {
            "off"
        }
    }
    Variant {
        label,
        flags: [
            "--metrics",
            on(metrics),
            "--access-log",
            on(access_log),
            "--log-format",
            format,
        ],
        metrics,
        access_log,
        build_b: false,
        process: None,
        reference: 0,
    }
}

/// Switch mode: a slice of the process of variant `process` (started
/// with both switches on and `format` lines), switched to these switches.
const fn switched(
    label: &'static str,
    process: usize,
    reference: usize,
    on: bool,
    format: &'static str,
) -> Variant {
    Variant {
        process: Some(process),
        reference,
        metrics: on,
        access_log: on,
        ..variant(label, true, true, format)
    }
}

/// `variant` run from the `OBS_BIN_B` build.
const fn build_b(v: Variant) -> Variant {
    Variant { build_b: true, ..v }
}

/// `OBS_SWITCH=0`: a process per variant. The first is the reference; the last is the
/// control (the reference again, another process).
const VARIANTS: [Variant; 4] = [
    variant("metrics off, access log off", false, false, "text"),
    variant("metrics on, access log on (text)", true, true, "text"),
    variant("metrics on, access log on (json)", true, true, "json"),
    variant("control: off again, other process", false, false, "text"),
];

/// `OBS_SPLIT=1`: each switch alone, next to both (text lines).
const SPLIT: [Variant; 5] = [
    variant("metrics off, access log off", false, false, "text"),
    variant("metrics on, access log off", true, false, "text"),
    variant("metrics off, access log on (text)", false, true, "text"),
    variant("metrics on, access log on (text)", true, true, "text"),
    variant("control: off again, other process", false, false, "text"),
];

/// The default method (`OBS_SWITCH=0` runs [`VARIANTS`] instead): off and on
/// in the **same process**, switched at run time (`PUT
/// /-/admin/observability`) before each slice: one process with text lines,
/// one with JSON lines, and a control slice of the text process switched off
/// again. A process's own layout then weighs on "off" and "on"
/// alike, so the 2–4% that one process can differ from another no longer
/// enters a ratio.
const SWITCH: [Variant; 5] = [
    switched("text process: both off", 0, 0, false, "text"),
    switched("text process: both on", 0, 0, true, "text"),
    switched("json process: both off", 2, 2, false, "json"),
    switched("json process: both on", 2, 2, true, "json"),
    switched("control: text process, off again", 0, 0, false, "text"),
];

/// `OBS_BIN_B=<binary>`: A/B of two builds in one run, the second being B.
const AB: [Variant; 4] = [
    variant("A: metrics off, access log off", false, false, "text"),
    variant("A: metrics on, access log on (text)", true, true, "text"),
    build_b(variant(
        "B: metrics on, access log on (text)",
        true,
        true,
        "text",
    )),
    build_b(variant(
        "B: metrics off, access log off",
        false,
        false,
        "text",
    )),
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

/// The guest halt-polling window for a run (`OBS_HALT_POLL_NS`): set at
/// the start, the previous value put back when dropped.
struct HaltPoll {
    previous: String,
}

impl HaltPoll {
    const PARAM: &'static str = "/sys/module/haltpoll/parameters/guest_halt_poll_ns";

    fn current() -> Option<u64> {
        std::fs::read_to_string(Self::PARAM)
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn set(ns: &str) -> Result<HaltPoll, String> {
        let ns: u64 = ns
            .trim()
            .parse()
            .map_err(|_| format!("OBS_HALT_POLL_NS={ns:?}: nanoseconds expected"))?;
        let previous = std::fs::read_to_string(Self::PARAM).map_err(|e| {
            format!(
                "OBS_HALT_POLL_NS needs {} (the haltpoll driver): {e}",
                Self::PARAM
            )
        })?;
        std::fs::write(Self::PARAM, ns.to_string())
            .map_err(|e| format!("OBS_HALT_POLL_NS: writing {} (root): {e}", Self::PARAM))?;
        Ok(HaltPoll {
            previous: previous.trim().to_string(),
        })
    }
}

impl Drop for HaltPoll {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(Self::PARAM, &self.previous) {
            eprintln!(
                "could not restore {} to {}: {e}",
                Self::PARAM,
                self.previous
            );
        }
    }
}

/// One server's slice of a round.
struct Slice {
    req_per_s: f64,
    p99_ms: f64,
    /// Server CPU microseconds per request.
    cpu_us: f64,
    /// The part of the server's CPU time spent in the kernel (clock ticks: coarse).
    system_share: f64,
}

/// What the servers of one epoch serve from: the presigned URL each answers.
struct Epoch {
    /// Per variant: its process (None: it is served by another's, switch mode).
    servers: Vec<Option<Server>>,
    urls: Vec<String>,
}

impl Epoch {
    fn server(&self, i: usize) -> &Server {
        self.servers[i].as_ref().expect("a started server")
    }
}

struct Settings {
    variants: &'static [Variant],
    bin: PathBuf,
    bin_b: Option<PathBuf>,
    server_cpus: Vec<usize>,
    connections: usize,
    warmup: Duration,
    /// The warm-up of a slice whose process differs from the last slice's.
    switch_warmup: Duration,
    /// `OBS_LOG=pipe`: the servers' stderr is a pipe (as under Docker or systemd).
    stderr_pipe: bool,
    seconds: Duration,
    /// Cycles per process and epoch, and the period of each state (None:
    /// `OBS_INTERLEAVE=0`, slices).
    interleave: Option<(usize, Duration)>,
}

fn run() -> Result<(), String> {
    presign::self_check()?;
    let quick = std::env::var("OBS_QUICK").is_ok_and(|v| v == "1");
    let epochs = env_num("OBS_EPOCHS", if quick { 1.0 } else { 6.0 }) as usize;
    let rounds = env_num("OBS_ROUNDS", if quick { 1.0 } else { 2.0 }) as usize;
    let seconds = env_num("OBS_SECONDS", if quick { 0.5 } else { 2.5 });
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
    let bin_b = std::env::var_os("OBS_BIN_B").map(PathBuf::from);
    let split = std::env::var("OBS_SPLIT").is_ok_and(|v| v == "1");
    let switch_mode =
        bin_b.is_none() && !split && std::env::var("OBS_SWITCH").map_or(true, |v| v != "0");
    let settings = Settings {
        variants: if bin_b.is_some() {
            &AB
        } else if split {
            &SPLIT
        } else if switch_mode {
            &SWITCH
        } else {
            &VARIANTS
        },
        bin,
        bin_b,
        server_cpus: server_cpus.clone(),
        connections,
        warmup: Duration::from_secs_f64(if quick { 0.25 } else { 0.5 }),
        stderr_pipe: match std::env::var("OBS_LOG").as_deref() {
            Ok("pipe") => true,
            Ok("file") | Err(_) => false,
            Ok(other) => return Err(format!("OBS_LOG={other}: file or pipe")),
        },
        // A process loaded after another is measured only after a
        // longer warm-up in switch mode: its first seconds cost more (a
        // control slice of the same process, switched off again, measured
        // 1.029 after 0.5 s of warm-up, 1.004 after 2.5 s).
        switch_warmup: Duration::from_secs_f64(env_num(
            "OBS_SWITCH_WARMUP",
            match (quick, switch_mode) {
                (true, _) => 0.25,
                (false, true) => 2.5,
                (false, false) => 0.5,
            },
        )),
        seconds: Duration::from_secs_f64(seconds),
        interleave: (switch_mode && std::env::var("OBS_INTERLEAVE").map_or(true, |v| v != "0"))
            .then(|| {
                (
                    env_num("OBS_CYCLES", if quick { 2.0 } else { 8.0 }) as usize,
                    Duration::from_secs_f64(env_num("OBS_PERIOD", if quick { 0.25 } else { 0.5 })),
                )
            }),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_cpus.len().max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // Held open for the whole run: with a CPU latency limit of 0 an idle CPU
    // polls instead of halting, so waking it needs no inter-processor
    // interrupt (a VM exit in a guest). See docs/benchmarks/observability.md.
    let idle_poll = if std::env::var("OBS_IDLE_POLL").is_ok_and(|v| v == "1") {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/cpu_dma_latency")
            .map_err(|e| format!("OBS_IDLE_POLL=1 needs /dev/cpu_dma_latency (root): {e}"))?;
        std::io::Write::write_all(&mut f, &0i32.to_ne_bytes()).map_err(|e| e.to_string())?;
        Some(f)
    } else {
        None
    };
    // The guest's halt-polling window (the `cpuidle-haltpoll` driver: an
    // idle vCPU polls this long before it halts). Linux's default is
    // 200000 ns; this project's CI VM boots with 0, so every wake-up of an
    // idle CPU is an interrupt there. `OBS_HALT_POLL_NS` sets it for the run
    // (root) and puts the old value back at the end.
    let halt_poll = match std::env::var("OBS_HALT_POLL_NS") {
        Ok(ns) => Some(HaltPoll::set(&ns)?),
        Err(_) => None,
    };
    let halt_poll_ns = HaltPoll::current();
    let idle = if idle_poll.is_some() {
        "idle CPUs poll (OBS_IDLE_POLL=1)".to_string()
    } else {
        match (&halt_poll, halt_poll_ns) {
            (Some(_), Some(ns)) => {
                format!("idle CPUs halt after polling {ns} ns (OBS_HALT_POLL_NS)")
            }
            (_, Some(ns)) => format!("idle CPUs halt (default), guest halt-polling {ns} ns"),
            (_, None) => "idle CPUs halt (default)".to_string(),
        }
    };
    let load_before = servers::load_average();
    let variants = settings.variants;
    let n = variants.len();
    // Per variant: every round's slice, and its ratios to that round's reference.
    let mut slices: Vec<Vec<Slice>> = (0..n).map(|_| Vec::new()).collect();
    let mut cpu_ratios: Vec<Vec<f64>> = (0..n).map(|_| Vec::new()).collect();
    let mut rate_ratios: Vec<Vec<f64>> = (0..n).map(|_| Vec::new()).collect();
    let mut lines = vec![0usize; n];
    // A/B mode: each round's B-on over A-on.
    let mut b_over_a = Vec::new();
    for epoch in 0..epochs {
        let mut e = runtime.block_on(start_epoch(&settings, epoch))?;
        let mut last_process = None;
        if let Some((cycles, period)) = settings.interleave {
            // The processes, the one going first rotating with the epoch.
            let mut processes: Vec<usize> =
                (0..n).filter(|&i| variants[i].process == Some(i)).collect();
            let first = epoch % processes.len();
            processes.rotate_left(first);
            for p in processes {
                e.servers[p].as_mut().expect("started").check_alive()?;
                let states: Vec<usize> =
                    (0..n).filter(|&i| variants[i].process == Some(p)).collect();
                let periods =
                    runtime.block_on(interleave(&settings, &e, p, &states, cycles, period))?;
                for (c, cycle) in periods.into_iter().enumerate() {
                    let reference = |i: usize| {
                        let k = states.iter().position(|&j| j == variants[i].reference);
                        &cycle[k.expect("a process serves its reference")]
                    };
                    let ratios: Vec<(f64, f64)> = states
                        .iter()
                        .zip(&cycle)
                        .map(|(&i, m)| {
                            let r = reference(i);
                            (m.cpu_us / r.cpu_us, m.req_per_s / r.req_per_s)
                        })
                        .collect();
                    for ((&i, m), (cpu_ratio, rate_ratio)) in states.iter().zip(cycle).zip(ratios) {
                        println!(
                            "  epoch {epoch} cycle {c} {:<36} {:>8.0} req/s  server {:>5.1} µs/req ({:>2.0}% system)  ×{cpu_ratio:.3}",
                            variants[i].label, m.req_per_s, m.cpu_us, m.system_share * 100.0
                        );
                        cpu_ratios[i].push(cpu_ratio);
                        rate_ratios[i].push(rate_ratio);
                        slices[i].push(m);
                    }
                }
            }
        }
        for round in 0..if settings.interleave.is_some() {
            0
        } else {
            rounds
        } {
            let mut measured: Vec<Option<Slice>> = (0..n).map(|_| None).collect();
            for k in 0..n {
                let i = (epoch * rounds + round + k) % n;
                let p = variants[i].process.unwrap_or(i);
                let warmup = match last_process.replace(p) {
                    Some(q) if q != p => settings.switch_warmup,
                    _ => settings.warmup,
                };
                e.servers[p].as_mut().expect("started").check_alive()?;
                if variants[i].process.is_some() {
                    runtime.block_on(switch(e.server(p), &variants[i]))?;
                }
                let slice = runtime.block_on(load(&settings, &e, i, warmup))?;
                measured[i] = Some(slice);
            }
            let measured: Vec<Slice> = measured.into_iter().map(Option::unwrap).collect();
            if settings.bin_b.is_some() {
                // AB's "both on" servers: A's second, B's third.
                b_over_a.push(measured[2].cpu_us / measured[1].cpu_us);
            }
            let reference: Vec<(f64, f64)> = variants
                .iter()
                .map(|v| {
                    let r = &measured[v.reference];
                    (r.cpu_us, r.req_per_s)
                })
                .collect();
            for (i, m) in measured.into_iter().enumerate() {
                let (cpu_ratio, rate_ratio) =
                    (m.cpu_us / reference[i].0, m.req_per_s / reference[i].1);
                println!(
                    "  epoch {epoch} round {round} {:<36} {:>8.0} req/s  p99 {:>5.2} ms  server {:>5.1} µs/req ({:>2.0}% system)  ×{cpu_ratio:.3}",
                    variants[i].label, m.req_per_s, m.p99_ms, m.cpu_us, m.system_share * 100.0
                );
                cpu_ratios[i].push(cpu_ratio);
                rate_ratios[i].push(rate_ratio);
                slices[i].push(m);
            }
        }
        // The access log really was written by the "on" servers, and only by
        // them (in switch mode: by each process, whose "on" slices wrote it).
        for (i, server) in e.servers.iter().enumerate() {
            let Some(server) = server else { continue };
            let count = access_lines(server.dir());
            let wanted = variants
                .iter()
                .enumerate()
                .any(|(j, v)| v.process.unwrap_or(j) == i && v.access_log);
            if (count > 0) != wanted {
                return Err(format!("{}: {count} access-log lines", variants[i].label));
            }
            lines[i] += count;
        }
    }
    let shape = match settings.interleave {
        Some((cycles, period)) => format!(
            "{epochs} epochs (fresh servers) × {cycles} cycles of {} s periods per state, \
             switched under continuous load",
            period.as_secs_f64()
        ),
        None => format!("{epochs} epochs (fresh servers) × {rounds} rounds × {seconds} s slices"),
    };
    let ratios_each = cpu_ratios.iter().map(Vec::len).max().unwrap_or(0);
    let mut text = format!(
        "observability: 4 KiB pre-signed GET, {connections} connections, each server loaded alone; \
         {shape}\n\
         server CPUs {server_cpus:?}, generator CPUs {client_cpus:?}, {idle}, stderr to {}, load average {load_before} → {}\n\
         access-log lines written: {lines:?}\n\n",
        if settings.stderr_pipe {
            "a pipe (OBS_LOG=pipe)"
        } else {
            "a file"
        },
        servers::load_average()
    );
    text.push_str(&format!(
        "{:<36} {:>9} {:>8} {:>10} {:>12} {:>12}\n",
        "server (median slice)", "req/s", "p99 ms", "µs/req", "CPU/req ×", "req/s ×"
    ));
    let cpu: Vec<f64> = cpu_ratios.into_iter().map(median).collect();
    let rate: Vec<f64> = rate_ratios.into_iter().map(median).collect();
    for (i, v) in variants.iter().enumerate() {
        let of = |f: fn(&Slice) -> f64| median(slices[i].iter().map(f).collect());
        text.push_str(&format!(
            "{:<36} {:>9.0} {:>8.2} {:>10.2} {:>12.3} {:>12.3}\n",
            v.label,
            of(|s| s.req_per_s),
            of(|s| s.p99_ms),
            of(|s| s.cpu_us),
            cpu[i],
            rate[i],
        ));
    }
    for i in 1..n - 1 {
        if variants[i].reference == i {
            continue;
        }
        // The target is for both switches on; a switch alone gets its ratio only.
        let verdict = match (variants[i].metrics && variants[i].access_log, cpu[i] < 1.05) {
            (true, true) => "; target < 1.05: met",
            (true, false) => "; target < 1.05: missed",
            (false, _) => "",
        };
        text.push_str(&format!(
            "\n{} / {}: server CPU per request {:.3} (median of {ratios_each} {} ratios{verdict})",
            variants[i].label,
            variants[variants[i].reference].label,
            cpu[i],
            if settings.interleave.is_some() {
                "cycle"
            } else {
                "round"
            },
        ));
    }
    if let Some(b) = &settings.bin_b {
        text.push_str(&format!(
            "\nB / A, both on: server CPU per request {:.3}; B / A, both off: {:.3} (OBS_BIN_B = {})\n",
            median(b_over_a),
            cpu[n - 1],
            b.display()
        ));
    } else {
        text.push_str(&format!(
            "\ncontrol ({}): {:.3}\n",
            match variants[n - 1].process {
                Some(_) => "the same switches as off, the same process",
                None => "the same switches as off, another process",
            },
            cpu[n - 1]
        ));
    }
    println!("\n{text}");
    let path = target_dir.join("observability-report.txt");
    if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("cannot write {}: {e}", path.display());
    }
    Ok(())
}

/// Starts one server per variant (in an order rotating with `epoch`), puts the
/// object into each and checks that `/-/metrics` answers only where it is on.
async fn start_epoch(s: &Settings, epoch: usize) -> Result<Epoch, String> {
    let n = s.variants.len();
    let mut servers: Vec<Option<Server>> = (0..n).map(|_| None).collect();
    for k in 0..n {
        let i = (epoch + k) % n;
        if s.variants[i].process.is_some_and(|p| p != i) {
            continue;
        }
        let bin = match (&s.bin_b, s.variants[i].build_b) {
            (Some(b), true) => b,
            _ => &s.bin,
        };
        servers[i] = Some(servers::launch_localcos(
            bin,
            &servers::Launch {
                secret_id: SECRET_ID,
                secret_key: SECRET_KEY,
                bucket: "obs",
                cpus: &s.server_cpus,
                extra: &s.variants[i].flags,
                stderr_pipe: s.stderr_pipe,
                ..servers::Launch::default()
            },
        )?);
    }
    for (server, v) in servers.iter().zip(s.variants) {
        if let Some(server) = server {
            println!("  epoch {epoch}: pid {} is {}", server.pid, v.label);
        }
    }
    let creds = owner();
    let now = unix_now()?;
    let mut urls = vec![String::new(); n];
    for (i, v) in s.variants.iter().enumerate() {
        let Some(server) = &servers[i] else { continue };
        set_up(server, &creds).await?;
        let path = format!("/{BUCKET}/{KEY}");
        let sig = presign::sign(&creds, "GET", &path, &server.host(), now - 60, now + 86_400);
        urls[i] = format!("{path}?{}", sig.to_query());
        let r = loadgen::fetch(
            server.addr,
            Method::GET,
            "/-/metrics",
            &[("host", server.host())],
            Bytes::new(),
        )
        .await?;
        // As started: a process switched later starts with both on.
        let started_on = v.process.is_some() || v.metrics;
        if (r.status == StatusCode::OK) != started_on {
            return Err(format!("{}: /-/metrics answered {}", v.label, r.status));
        }
    }
    Ok(Epoch { servers, urls })
}

/// The 4 KiB pre-signed GET of process `p` of the epoch.
fn get_plan(s: &Settings, e: &Epoch, p: usize, warmup: Duration, duration: Duration) -> Arc<Plan> {
    let server = e.server(p);
    Arc::new(Plan::get(
        server.addr,
        server.host(),
        e.urls[p].clone(),
        4096,
        s.connections,
        warmup,
        duration,
    ))
}

/// Loads server `i` of the epoch alone for one slice.
async fn load(s: &Settings, e: &Epoch, i: usize, warmup: Duration) -> Result<Slice, String> {
    let p = s.variants[i].process.unwrap_or(i);
    let server = e.server(p);
    let plan = get_plan(s, e, p, warmup, s.seconds);
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let (outcome, (cpu_before, split_before)) = tokio::join!(loadgen::run(plan, start), async {
        tokio::time::sleep_until(measure_from.into()).await;
        (
            servers::threads_cpu_seconds(server.pid),
            servers::user_system_seconds(server.pid),
        )
    });
    let cpu = servers::threads_cpu_seconds(server.pid) - cpu_before;
    let split = servers::user_system_seconds(server.pid);
    let (user, system) = (split.0 - split_before.0, split.1 - split_before.1);
    if outcome.errors > 0 {
        return Err(format!(
            "{}: {} errors, first: {:?}",
            s.variants[i].label, outcome.errors, outcome.first_error
        ));
    }
    Ok(Slice {
        req_per_s: outcome.req_per_s(),
        p99_ms: outcome.quantile_ms(0.99),
        cpu_us: cpu * 1e6 / outcome.requests.max(1) as f64,
        system_share: system / (user + system).max(f64::MIN_POSITIVE),
    })
}

/// The servers' owner key.
fn owner() -> Credentials {
    Credentials {
        secret_id: SECRET_ID.into(),
        secret_key: SECRET_KEY.into(),
    }
}

/// Seconds since the Unix epoch.
fn unix_now() -> Result<u64, String> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|e| e.to_string())
}

/// The default (`OBS_INTERLEAVE=0`: slices instead): loads process `p` without a pause while switching it
/// through `states` (variants it serves), `period` each, `cycles` times in
/// the order ABC CBA ABC... (so that a drift weighs on every state alike),
/// and measures each period from the server's CPU time and the generator's
/// count of answered requests. Returns each cycle's periods, in `states` order.
async fn interleave(
    s: &Settings,
    e: &Epoch,
    p: usize,
    states: &[usize],
    cycles: usize,
    period: Duration,
) -> Result<Vec<Vec<Slice>>, String> {
    let server = e.server(p);
    switch(server, &s.variants[states[0]]).await?;
    // Stopped once the periods are measured; the duration is a bound only.
    let plan = get_plan(
        s,
        e,
        p,
        s.switch_warmup,
        period * (2 * cycles * states.len()) as u32 + Duration::from_secs(30),
    );
    let start = Instant::now();
    let load = tokio::spawn(loadgen::run(plan.clone(), start));
    tokio::time::sleep_until((start + plan.warmup).into()).await;
    let sample = || {
        (
            Instant::now(),
            servers::threads_cpu_seconds(server.pid),
            plan.completed.load(std::sync::atomic::Ordering::Relaxed),
            servers::user_system_seconds(server.pid),
        )
    };
    let mut measured: Vec<Vec<Option<Slice>>> = Vec::with_capacity(cycles);
    let mut failed = None;
    for c in 0..cycles {
        let mut cycle: Vec<Option<Slice>> = states.iter().map(|_| None).collect();
        let order: Vec<usize> = if c % 2 == 0 {
            (0..states.len()).collect()
        } else {
            (0..states.len()).rev().collect()
        };
        for k in order {
            if let Err(err) = switch(server, &s.variants[states[k]]).await {
                failed = Some(err);
                break;
            }
            let (t0, cpu0, done0, split0) = sample();
            tokio::time::sleep(period).await;
            let (t1, cpu1, done1, split1) = sample();
            let requests = done1.saturating_sub(done0).max(1) as f64;
            let (user, system) = (split1.0 - split0.0, split1.1 - split0.1);
            cycle[k] = Some(Slice {
                req_per_s: requests / t1.duration_since(t0).as_secs_f64(),
                // Not measured per period.
                p99_ms: f64::NAN,
                cpu_us: (cpu1 - cpu0) * 1e6 / requests,
                system_share: system / (user + system).max(f64::MIN_POSITIVE),
            });
        }
        if failed.is_some() {
            break;
        }
        measured.push(cycle);
    }
    plan.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let outcome = load.await.map_err(|e| format!("load task: {e}"))?;
    if let Some(err) = failed {
        return Err(err);
    }
    if outcome.errors > 0 {
        return Err(format!(
            "{}: {} errors, first: {:?}",
            s.variants[p].label, outcome.errors, outcome.first_error
        ));
    }
    Ok(measured
        .into_iter()
        .map(|cycle| cycle.into_iter().map(|m| m.expect("measured")).collect())
        .collect())
}

/// Switches `server`'s metrics and access log to `v`'s (the admin API, signed
/// with the owner key in the query string) and checks the answer.
async fn switch(server: &Server, v: &Variant) -> Result<(), String> {
    let creds = owner();
    let now = unix_now()?;
    let path = "/-/admin/observability";
    let sig = presign::sign(&creds, "PUT", path, &server.host(), now - 60, now + 600);
    let body = format!(
        r#"{{"access_log": {}, "metrics": {}}}"#,
        v.access_log, v.metrics
    );
    let r = loadgen::fetch(
        server.addr,
        Method::PUT,
        &format!("{path}?{}", sig.to_query()),
        &[("host", server.host())],
        Bytes::from(body.clone()),
    )
    .await?;
    let answer = String::from_utf8_lossy(&r.body);
    let want = |name: &str, on: bool| answer.contains(&format!("\"{name}\": {on}"));
    if r.status != StatusCode::OK
        || !want("access_log", v.access_log)
        || !want("metrics", v.metrics)
    {
        return Err(format!(
            "{}: switching to {body}: {} {answer}",
            v.label, r.status
        ));
    }
    Ok(())
}

/// Access-log lines in a server's stderr.
fn access_lines(dir: &Path) -> usize {
    std::fs::read(dir.join("stderr.log")).map_or(0, |t| {
        String::from_utf8_lossy(&t)
            .lines()
            .filter(|l| l.contains("localcos::access"))
            .count()
    })
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
    let now = unix_now()?;
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
