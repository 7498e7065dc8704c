//! Bucket-configuration overhead (issue 8, "Speed"): the 4 KiB pre-signed GET of the load
//! bench against two buckets of one localcos, one with no configuration and one with CORS,
//! referer and a bucket policy all configured, with and without an `Origin` header. It
//! prints req/s, p99 and the server's CPU microseconds per request for both, and their ratio
//! (the issue's target: configured within 10% of none).
//!
//! Run by hand (release server, like the load bench; the generator is reused from
//! `benches/load`):
//!
//! ```text
//! cargo build --release --bin localcos
//! cargo bench --bench config_overhead            # ~1 min
//! CFG_QUICK=1 cargo bench --bench config_overhead   # smoke run
//! ```
//!
//! Knobs: `CFG_SECONDS` per run (default 5), `CFG_ROUNDS` alternating rounds (default 3),
//! `CFG_CONNECTIONS` (default 16), `LOAD_PIN=0` (no CPU pinning), `LOCALCOS_BIN`.
//! Each figure is the best of its rounds; runs alternate none/configured so drift on a
//! shared machine hits both alike. `cargo test --all-targets` runs it without `--bench`:
//! it then only prints a line.

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

const SECRET_ID: &str = "AKIDlocalcosConfigBench00000000000000";
const SECRET_KEY: &str = "localcosConfigBenchSecretKey0000";
const PLAIN: &str = "plain-1250000000";
const CONFIGURED: &str = "configured-1250000000";
const KEY: &str = "obj-4k";
const ORIGIN: &str = "https://app.example.com";

const CORS: &str = "<CORSConfiguration><CORSRule><ID>app</ID><AllowedOrigin>https://app.example.com</AllowedOrigin><AllowedOrigin>http://*.example.org</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><ExposeHeader>x-cos-request-id</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule><ResponseVary>true</ResponseVary></CORSConfiguration>";
const REFERER: &str = "<RefererConfiguration><Status>Enabled</Status><RefererType>White-List</RefererType><DomainList><Domain>*.example.com</Domain><Domain>www.example.org</Domain></DomainList><EmptyReferConfiguration>Deny</EmptyReferConfiguration></RefererConfiguration>";

fn policy() -> String {
    let res = format!("qcs::cos:ap-guangzhou:uid/1250000000:{CONFIGURED}");
    format!(
        r#"{{"version":"2.0","statement":[
        {{"principal":{{"qcs":["qcs::cam::anyone:anyone"]}},"effect":"allow","action":["name/cos:GetObject","name/cos:HeadObject"],"resource":["{res}/public/*"]}},
        {{"principal":{{"qcs":["qcs::cam::anyone:anyone"]}},"effect":"deny","action":["name/cos:GetObject"],"resource":["{res}/public/private/*"],"condition":{{"ip_not_equal":{{"qcs:ip":["192.168.1.0/24"]}}}}}},
        {{"principal":"*","effect":"deny","action":["name/cos:DeleteObject"],"resource":["{res}/locked/*"]}}]}}"#
    )
}

fn main() -> ExitCode {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "config_overhead bench: skipped (run it with `cargo bench --bench config_overhead`)"
        );
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("config_overhead bench failed: {e}");
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

/// (label, pre-signed path and query, extra request headers).
type Case = (&'static str, String, Vec<(&'static str, String)>);

struct Measured {
    req_per_s: f64,
    p99_ms: f64,
    /// Server CPU microseconds per request.
    cpu_us: f64,
}

fn run() -> Result<(), String> {
    presign::self_check()?;
    let quick = std::env::var("CFG_QUICK").is_ok_and(|v| v == "1");
    let seconds = env_num("CFG_SECONDS", if quick { 1.0 } else { 5.0 });
    let rounds = env_num("CFG_ROUNDS", if quick { 1.0 } else { 3.0 }) as usize;
    let connections = env_num("CFG_CONNECTIONS", 16.0) as usize;
    let pin = std::env::var("LOAD_PIN").map_or(true, |v| v != "0");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let servers::Layout {
        bin,
        server_cpus,
        client_cpus,
    } = servers::layout(&target_dir, pin)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_cpus.len().max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    println!("config_overhead bench: localcos = {}", bin.display());
    let mut server = servers::start_localcos(
        &bin,
        SECRET_ID,
        SECRET_KEY,
        "plain",
        Some("warn"),
        &server_cpus,
    )?;
    let creds = Credentials {
        secret_id: SECRET_ID.into(),
        secret_key: SECRET_KEY.into(),
    };
    let load_before = servers::load_average();
    let results = runtime.block_on(async {
        set_up(&server, &creds).await?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let url = |bucket: &str| {
            let path = format!("/{bucket}/{KEY}");
            let sig = presign::sign(&creds, "GET", &path, &server.host(), now - 60, now + 86_400);
            format!("{path}?{}", sig.to_query())
        };
        // (label, url, headers)
        let cases: Vec<Case> = vec![
            ("none, no Origin", url(PLAIN), vec![]),
            ("CORS+referer+policy, no Origin", url(CONFIGURED), vec![]),
            ("none, Origin", url(PLAIN), vec![("origin", ORIGIN.into())]),
            (
                "CORS+referer+policy, Origin",
                url(CONFIGURED),
                vec![("origin", ORIGIN.into())],
            ),
        ];
        // Correctness first: both answer the 4 KiB; only the configured bucket decorates.
        for (label, u, headers) in &cases {
            let mut h = vec![("host", server.host())];
            h.extend(headers.iter().map(|(n, v)| (*n, v.clone())));
            let r = loadgen::fetch(server.addr, Method::GET, u, &h, Bytes::new()).await?;
            if r.status != StatusCode::OK || r.body.len() != 4096 {
                return Err(format!(
                    "{label}: {} with {} bytes",
                    r.status,
                    r.body.len()
                ));
            }
        }
        let mut best: Vec<Option<Measured>> = cases.iter().map(|_| None).collect();
        for round in 0..rounds {
            for (i, (label, u, headers)) in cases.iter().enumerate() {
                server.check_alive()?;
                let plan = Arc::new(Plan {
                    headers: headers.clone(),
                    ..Plan::get(
                        server.addr,
                        server.host(),
                        u.clone(),
                        4096,
                        connections,
                        Duration::from_secs_f64(if quick { 0.25 } else { 1.0 }),
                        Duration::from_secs_f64(seconds),
                    )
                });
                let pid = server.pid;
                let start = Instant::now();
                let measure_from = start + plan.warmup;
                let (outcome, cpu_before) = tokio::join!(loadgen::run(plan, start), async {
                    tokio::time::sleep_until(measure_from.into()).await;
                    servers::tree_cpu_seconds(pid)
                });
                let cpu = servers::tree_cpu_seconds(pid) - cpu_before;
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
                println!(
                    "  round {round} {label:<34} {:>9.0} req/s  p99 {:>6.2} ms  server {:>6.1} µs/req",
                    m.req_per_s, m.p99_ms, m.cpu_us
                );
                let better = best[i]
                    .as_ref()
                    .is_none_or(|b| m.req_per_s > b.req_per_s);
                if better {
                    best[i] = Some(m);
                }
            }
        }
        Ok::<_, String>((
            cases.iter().map(|c| c.0).collect::<Vec<_>>(),
            best.into_iter().map(Option::unwrap).collect::<Vec<_>>(),
        ))
    })?;
    let (labels, best) = results;
    let mut text = format!(
        "config_overhead: 4 KiB pre-signed GET, {connections} connections, best of {rounds} x {seconds} s\n\
         server CPUs {server_cpus:?}, generator CPUs {client_cpus:?}, load average {load_before} → {}\n\n",
        servers::load_average()
    );
    text.push_str(&format!(
        "{:<34} {:>10} {:>9} {:>12}\n",
        "bucket", "req/s", "p99 ms", "server µs/req"
    ));
    for (label, m) in labels.iter().zip(&best) {
        text.push_str(&format!(
            "{label:<34} {:>10.0} {:>9.2} {:>12.1}\n",
            m.req_per_s, m.p99_ms, m.cpu_us
        ));
    }
    for (name, none, all) in [("no Origin", 0, 1), ("with Origin", 2, 3)] {
        text.push_str(&format!(
            "\n{name}: configured/none = {:.3} req/s, {:.3} server CPU per request (target: req/s ≥ 0.90)",
            best[all].req_per_s / best[none].req_per_s,
            best[all].cpu_us / best[none].cpu_us
        ));
    }
    println!("\n{text}");
    let path = target_dir.join("config-overhead-report.txt");
    if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("cannot write {}: {e}", path.display());
    }
    drop(server);
    Ok(())
}

/// Creates the configured bucket, puts the 4 KiB object in both, configures CORS, referer
/// and the policy, and checks that the configuration is in force.
async fn set_up(server: &Server, creds: &Credentials) -> Result<(), String> {
    let host = server.host();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let send = |method: Method, path: String, query: &'static str, body: Bytes| {
        let auth =
            presign::sign(creds, method.as_str(), &path, &host, now - 60, now + 3600).to_header();
        let headers = vec![("host", host.clone()), ("authorization", auth)];
        let target = format!("{path}{query}");
        async move {
            let r = loadgen::fetch(server.addr, method.clone(), &target, &headers, body).await?;
            if !r.status.is_success() && r.status != StatusCode::CONFLICT {
                return Err(format!(
                    "{method} {target}: {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ));
            }
            Ok(())
        }
    };
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
    send(Method::PUT, format!("/{CONFIGURED}"), "", Bytes::new()).await?;
    let data: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
    for bucket in [PLAIN, CONFIGURED] {
        send(
            Method::PUT,
            format!("/{bucket}/{KEY}"),
            "",
            Bytes::from(data.clone()),
        )
        .await?;
    }
    send(Method::PUT, format!("/{CONFIGURED}"), "?cors", CORS.into()).await?;
    send(
        Method::PUT,
        format!("/{CONFIGURED}"),
        "?referer",
        REFERER.into(),
    )
    .await?;
    send(
        Method::PUT,
        format!("/{CONFIGURED}"),
        "?policy",
        policy().into(),
    )
    .await?;
    // In force: an anonymous GET outside the policy's prefix is refused by the referer rule.
    let r = loadgen::fetch(
        server.addr,
        Method::GET,
        &format!("/{CONFIGURED}/{KEY}"),
        &[("host", host.clone())],
        Bytes::new(),
    )
    .await?;
    if r.status != StatusCode::FORBIDDEN {
        return Err(format!(
            "configured bucket answered {} to an anonymous GET",
            r.status
        ));
    }
    Ok(())
}
