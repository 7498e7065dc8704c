//! `localcos` command line: flags/env/file → Config → Server::bind → run.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use localcos::config::{Config, ServeArgs, StorageMode};
use localcos::server::Server;

// The request path allocates many small, short-lived buffers (headers, XML,
// records); mimalloc costs ~15-20% less CPU per small GET than glibc malloc
// (benches/load). Its build defaults are set in .cargo/config.toml so that an
// idle server stays small (no eager arena commit, no transparent huge pages).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "localcos",
    version,
    about = "A Tencent COS-compatible object storage server",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

// Parsed once at start-up: the size difference between variants is irrelevant.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Exit 0 when the server at --url answers /-/health/ready (for container health checks).
    Healthcheck {
        /// Server address; defaults to LOCALCOS_LISTEN (0.0.0.0 is reached as 127.0.0.1).
        #[arg(long, env = "LOCALCOS_LISTEN", default_value = localcos::config::DEFAULT_LISTEN)]
        url: String,
    },
    /// Print a pre-signed URL for KEY, signed with the server's credentials
    /// (same flags, environment and config file as `serve`; `--bucket` names
    /// the bucket).
    Presign(PresignArgs),
    /// Manage stored key pairs: add, list, revoke, rotate (online with
    /// --url, or offline on the data dir with the server stopped).
    Keys(localcos::admin::cli::KeysArgs),
    /// Show, or switch until the server restarts, a running server's access
    /// log and metrics (--url; signed with an owner key).
    Observability(localcos::admin::cli::ObservabilityArgs),
    /// Re-read every stored object and check it against its recorded
    /// CRC-64 / MD5 and AES-GCM tags; mark corrupt ones (exit 1 if any).
    /// Offline: stop the server first (a running server scrubs in the
    /// background with --scrub-rate).
    Scrub(ScrubArgs),
    /// Check a stopped server's data dir: index against blob files
    /// (missing, short and orphan blobs, reference counts); exit 1 on problems.
    Fsck(FsckArgs),
}

#[derive(clap::Args)]
struct ScrubArgs {
    /// Read at most this many bytes per second (default: no limit).
    #[arg(long, value_name = "BYTES_PER_SEC")]
    rate: Option<u64>,
    /// Report only: do not mark corrupt objects (nor unmark intact ones).
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args)]
struct FsckArgs {
    /// Fix what can be fixed: delete orphan blobs and tmp leftovers, mark
    /// records with missing or short blobs corrupt, drop broken upload
    /// parts, rewrite wrong reference counts. Records are never deleted.
    #[arg(long)]
    repair: bool,
    /// The data dir to check (the server must be stopped) comes from the
    /// same flags, environment and config file as `serve`: `--data-dir`,
    /// `LOCALCOS_DATA_DIR`, `--config` / `LOCALCOS_CONFIG` (`data_dir`).
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args)]
struct PresignArgs {
    /// The object key.
    key: String,
    /// HTTP method the URL is for.
    #[arg(long, default_value = "GET", value_parser = ["GET", "PUT", "HEAD", "DELETE"])]
    method: String,
    /// Seconds the URL stays valid.
    #[arg(long, default_value_t = 3600)]
    expires: u64,
    /// Base URL the URL points at (default: http://<listen address>). The
    /// bucket goes in the path unless the endpoint's host is the bucket's own.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Sign with this configured credential (a SecretId from the config
    /// file, e.g. a scoped or temporary key) instead of the default pair.
    #[arg(long, value_name = "SECRET_ID")]
    credential: Option<String>,
    /// Extra query parameter, signed (repeatable), e.g.
    /// `response-content-disposition=attachment; filename="a.txt"`.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    // Before anything else (no thread may run yet): may re-exec this binary.
    localcos::memcpy_fix::apply();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Healthcheck { url }) => healthcheck(&url),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Presign(args)) => presign(args),
        Some(Command::Keys(args)) => localcos::admin::cli::run(args),
        Some(Command::Observability(args)) => localcos::admin::cli::run_observability(args),
        Some(Command::Scrub(args)) => scrub(args),
        Some(Command::Fsck(args)) => fsck(args),
        None => serve(cli.serve),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let config = match Config::load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("localcos: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // Held until exit: dropping it flushes the log lines still queued.
    let _log_guard = init_logging(&config);
    raise_open_file_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(async move {
        let server = match Server::bind(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("localcos: {e}");
                return ExitCode::from(1);
            }
        };
        print_banner(&server);
        server.run(shutdown_signal()).await;
        ExitCode::SUCCESS
    });
    // What the shutdown drain left (a download to a client that stopped
    // reading) is dropped; blocking work gets a moment to finish.
    rt.shutdown_timeout(Duration::from_secs(5));
    code
}

fn init_logging(config: &Config) -> localcos::http::access_log::LogGuard {
    localcos::http::access_log::init(&localcos::http::access_log::LogSetup {
        level: &config.log_level,
        json: config.log_json,
        access_log: config.access_log,
    })
}

/// Every connection and every cached or streaming blob holds a file
/// descriptor; the common default soft limit (1024) is low for a server.
/// Raise it to the hard limit, as most servers do.
fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                tracing::debug!("could not raise the open-file limit");
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}

/// The first line is machine-readable (test harnesses read the port from it).
fn print_banner(server: &Server) {
    let c = server.config();
    let addr = server.local_addr();
    let shown = if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    let cred = c.default_credential();
    let key = if c.generated_credentials {
        cred.secret_key.expose().to_string()
    } else {
        "<your LOCALCOS_SECRET_KEY>".to_string()
    };
    let storage = match &c.storage {
        StorageMode::Memory => "memory (ephemeral: nothing is kept)".to_string(),
        StorageMode::Dir(d) => format!("{} (redb index + blob files)", d.display()),
        StorageMode::Cluster(c) => format!(
            "cluster: PostgreSQL {} + blobs {:?}",
            localcos::storage::pg::redact_url(&c.meta_url),
            c.blobs
        ),
    };
    let buckets: Vec<&str> = c.buckets.iter().map(|b| b.as_str()).collect();
    let region = &c.addressing.region;
    let (ip, port) = (
        shown
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or("127.0.0.1"),
        addr.port(),
    );
    let tls = server.tls();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "localcos listening on {scheme}://{addr}");
    if let Some(tls) = tls {
        let cert = tls.cert_path();
        let cert = cert.display();
        let kind = match tls.self_signed() {
            Some(true) => "  (self-signed, temporary: a new one at every start)",
            Some(false) => "  (self-signed, kept in the data dir)",
            None => "",
        };
        let _ = writeln!(
            out,
            "  TLS cert:  {cert}{kind}\n    trust it: curl --cacert {cert} | boto3 verify='{cert}' | AWS_CA_BUNDLE={cert} | NODE_EXTRA_CA_CERTS={cert}"
        );
    }
    let _ = writeln!(
        out,
        "  storage:   {storage}\n  region:    {region}   appid: {}\n  buckets:   {}\n  SecretId:  {}\n  SecretKey: {key}{}\n  health:    {scheme}://{shown}/-/health/ready\n",
        c.addressing.appid,
        if buckets.is_empty() { "(none; create one with PUT Bucket)".to_string() } else { buckets.join(", ") },
        cred.secret_id,
        if c.generated_credentials { "  (generated; set LOCALCOS_SECRET_ID/LOCALCOS_SECRET_KEY to choose)" } else { "" },
    );
    let verify = match tls {
        Some(t) => format!(", VerifySSL='{}'", t.cert_path().display()),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "  cos-python-sdk-v5:\n    CosS3Client(CosConfig(Region='{region}', SecretId='{}', SecretKey='{key}', IP='{ip}', Port={port}, Scheme='{scheme}'{verify}))",
        cred.secret_id
    );
    let _ = writeln!(
        out,
        "  cos-nodejs-sdk-v5:\n    new COS({{ SecretId: '{}', SecretKey: '{key}', Protocol: '{scheme}:', Ip: '{ip}:{port}' }})",
        cred.secret_id
    );
    if tls.is_none() {
        let _ = writeln!(out, "  coscmd:\n    http_proxy=http://{shown} coscmd -b <bucket> -r {region} ...   (after: coscmd config -a <id> -s <key> -b <bucket> -r {region} --do-not-use-ssl)");
    }
    let _ = out.flush();
}

/// `localcos presign`: one URL on stdout.
fn presign(args: PresignArgs) -> ExitCode {
    match presign_url(&args) {
        Ok(url) => {
            println!("{url}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("localcos presign: {e}");
            ExitCode::from(2)
        }
    }
}

fn presign_url(args: &PresignArgs) -> Result<String, String> {
    use localcos::auth::presign::{encode_path, query, Presign, Signer};
    let config = Config::load(&args.serve).map_err(|e| e.to_string())?;
    let cred = match &args.credential {
        Some(id) => config
            .credentials
            .iter()
            .find(|c| &c.secret_id == id)
            .ok_or_else(|| format!("no configured credential has SecretId {id}"))?,
        None => config.default_credential(),
    };
    let endpoint = match &args.endpoint {
        Some(e) => e.trim_end_matches('/').to_string(),
        None => format!("http://{}", config.listen).replace("0.0.0.0", "127.0.0.1"),
    };
    let host = endpoint
        .split_once("://")
        .map_or(endpoint.as_str(), |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    if host.is_empty() {
        return Err(format!("--endpoint `{endpoint}` has no host"));
    }
    let key = args.key.trim_start_matches('/');
    // The bucket: --bucket, else the default bucket (served on bare hosts).
    let path = match (config.buckets.first(), &config.addressing.default_bucket) {
        (Some(b), _) if !host.starts_with(&format!("{}.", b.as_str())) => {
            format!("/{}/{key}", b.as_str())
        }
        (Some(_), _) | (None, Some(_)) => format!("/{key}"),
        (None, None) => return Err("name the bucket with --bucket".into()),
    };
    let params: Vec<(&str, &str)> = args
        .params
        .iter()
        .map(|p| p.split_once('=').unwrap_or((p.as_str(), "")))
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let p = Presign {
        method: &args.method,
        path: &path,
        host: Some(&host),
        params: &params,
        // A minute of slack for clocks slightly behind ours.
        start: now.saturating_sub(60),
        end: now.saturating_add(args.expires),
    };
    let signer = Signer {
        secret_id: &cred.secret_id,
        secret_key: cred.secret_key.expose(),
        token: cred.token.as_deref(),
    };
    Ok(format!(
        "{endpoint}{}?{}",
        encode_path(&path),
        query(&p, &signer)
    ))
}

/// `localcos scrub`: one pass over the (stopped) server's data dir.
/// Exit 0: clean; 1: corrupt objects found; 2: could not run.
fn scrub(args: ScrubArgs) -> ExitCode {
    use localcos::storage::scrub::{run_pass, ScrubOptions, STATS};
    // A mistyped data dir is refused before the configuration (which may
    // generate credentials into it) or the store (an empty index) create it.
    if let Ok(StorageMode::Dir(dir)) = Config::storage_of(&args.serve) {
        if !dir.join("meta.redb").is_file() {
            eprintln!(
                "localcos scrub: {} is not a localcos data dir (no meta.redb)",
                dir.display()
            );
            return ExitCode::from(2);
        }
    }
    let config = match Config::load(&args.serve) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("localcos scrub: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let StorageMode::Dir(dir) = config.storage.clone() else {
        eprintln!("localcos scrub: needs a data dir (--data-dir), not --ephemeral or --meta-url");
        return ExitCode::from(2);
    };
    let _log_guard = init_logging(&config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let store = match localcos::storage::Store::open_fs(&dir).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("localcos scrub: cannot open {}: {e}", dir.display());
                return ExitCode::from(2);
            }
        };
        let keys = match localcos::storage::sse::SseKeys::load(&config.sse, Some(&dir)) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("localcos scrub: server-side encryption keys: {e}");
                return ExitCode::from(2);
            }
        };
        let store = store.with_sse_keys(std::sync::Arc::new(keys));
        let opts = ScrubOptions {
            rate: args.rate,
            mark: !args.dry_run,
        };
        println!("localcos scrub: {}", dir.display());
        let report = match run_pass(&store, &opts, &STATS).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("localcos scrub: {e}");
                return ExitCode::from(2);
            }
        };
        for f in &report.corrupt {
            println!("  CORRUPT     {f}");
        }
        for f in &report.unverifiable {
            println!("  UNVERIFIED  {f}");
        }
        println!(
            "checked {} objects ({} bytes) in {:.1?}: {} corrupt, {} unverifiable; {} newly marked corrupt, {} marks cleared{}",
            report.objects,
            report.bytes,
            report.duration,
            report.corrupt.len(),
            report.unverifiable.len(),
            report.marked,
            report.cleared,
            if args.dry_run { " (dry run: nothing marked)" } else { "" },
        );
        if report.corrupt.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    })
}

/// `localcos fsck [--repair]`. Exit 0: clean (or, with --repair, every
/// problem repaired); 1: problems left; 2: could not run.
fn fsck(args: FsckArgs) -> ExitCode {
    let dir = match Config::storage_of(&args.serve) {
        Ok(StorageMode::Dir(dir)) => dir,
        Ok(StorageMode::Memory | StorageMode::Cluster(_)) => {
            eprintln!(
                "localcos fsck: needs a data dir (--data-dir), not --ephemeral or --meta-url"
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("localcos fsck: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        match localcos::storage::fs::fsck::run(&dir, args.repair).await {
            Ok(report) => {
                print!("{}", report.render(args.repair));
                let left = if args.repair {
                    report.unrepaired()
                } else {
                    report.problems.len()
                };
                if left == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("localcos fsck: {e}");
                ExitCode::from(2)
            }
        }
    })
}

/// GET /-/health/ready over plain TCP (no HTTP client in the image needed),
/// or over TLS for an `https://` URL or a server that answers plain HTTP
/// with "this port speaks HTTPS".
fn healthcheck(url: &str) -> ExitCode {
    let (https, rest) = match url.strip_prefix("https://") {
        Some(rest) => (true, rest),
        None => (false, url.trim_start_matches("http://")),
    };
    let addr = rest.trim_end_matches('/').replace("0.0.0.0", "127.0.0.1");
    let attempt = |tls: bool| -> std::io::Result<Vec<u8>> {
        let sock = addr
            .parse()
            .map_err(|e| std::io::Error::other(format!("{addr}: {e}")))?;
        let s = std::net::TcpStream::connect_timeout(&sock, Duration::from_secs(3))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.set_write_timeout(Some(Duration::from_secs(3)))?;
        let request =
            format!("GET /-/health/ready HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        if tls {
            return localcos::http::tls::probe(s, request.as_bytes());
        }
        let mut s = s;
        s.write_all(request.as_bytes())?;
        let mut buf = vec![0u8; 1024];
        let mut n = 0;
        while n < buf.len() {
            match s.read(&mut buf[n..])? {
                0 => break,
                k => n += k,
            }
        }
        buf.truncate(n);
        Ok(buf)
    };
    let answer = attempt(https).and_then(|a| {
        let plain_refused =
            a.starts_with(b"HTTP/1.1 400") && String::from_utf8_lossy(&a).contains("speaks HTTPS");
        if !https && plain_refused {
            attempt(true)
        } else {
            Ok(a)
        }
    });
    match answer {
        Ok(a) if a.starts_with(b"HTTP/1.1 200") => ExitCode::SUCCESS,
        Ok(_) => {
            eprintln!("localcos healthcheck: {addr} is not ready");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("localcos healthcheck: {e}");
            ExitCode::FAILURE
        }
    }
}
