//! The two servers of the load bench, as child processes: localcos (the release binary, temp
//! `--data-dir`) and nginx (Debian package, generated config, temp root), plus what /proc says
//! about them (CPU seconds, RSS) and CPU pinning.

use std::fs::{self, File};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Where Debian's `nginx` package installs the binary.
const NGINX_PATHS: [&str; 2] = ["/usr/sbin/nginx", "/usr/bin/nginx"];

/// A running server; stopped (SIGTERM, then SIGKILL) and its temp dir removed on drop.
pub struct Server {
    pub name: &'static str,
    pub addr: SocketAddr,
    pub pid: u32,
    child: Child,
    dir: TempDir,
}

impl Server {
    /// The server's working directory (data dir or web root live below it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `Host` header for path-style requests to this server.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Fails with the server's logs if it has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}); logs:\n{}",
                self.name,
                self.logs()
            )),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }

    /// The tail of whatever the server wrote to its log files.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for name in ["stdout.log", "stderr.log", "error.log"] {
            if let Ok(text) = fs::read_to_string(self.dir.path().join(name)) {
                let tail: Vec<&str> = text.lines().rev().take(20).collect();
                for line in tail.into_iter().rev() {
                    out.push_str(&format!("  [{name}] {line}\n"));
                }
            }
        }
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM first: nginx's master then stops its workers (SIGKILL would orphan them).
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a bench runs: the localcos binary and the CPU split (servers on the
/// first allowed CPU, the load generator on the rest, this process pinned to
/// them here). No split when `pin` is off or only one CPU is allowed.
pub struct Layout {
    pub bin: PathBuf,
    pub server_cpus: Vec<usize>,
    pub client_cpus: Vec<usize>,
}

/// Finds the binary (warning when it is a debug build) and pins this process.
pub fn layout(target_dir: &Path, pin: bool) -> Result<Layout, String> {
    let bin = localcos_binary(target_dir)?;
    if bin.components().any(|c| c.as_os_str() == "debug") {
        eprintln!(
            "WARNING: {} is a debug build; figures will be meaningless",
            bin.display()
        );
    }
    let cpus = allowed_cpus();
    let (server_cpus, client_cpus) = if pin && cpus.len() >= 2 {
        (cpus[..1].to_vec(), cpus[1..].to_vec())
    } else {
        (Vec::new(), cpus.clone())
    };
    if !server_cpus.is_empty() {
        pin_current(&client_cpus).map_err(|e| format!("cannot pin the load generator: {e}"))?;
    }
    Ok(Layout {
        bin,
        server_cpus,
        client_cpus,
    })
}

/// Finds the localcos binary: `LOCALCOS_BIN`, else the one cargo built beside this bench
/// (`<target>/release/localcos`, `CARGO_TARGET_DIR` honoured), else `<target>/release/localcos`.
pub fn localcos_binary(target_dir: &Path) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("LOCALCOS_BIN") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("LOCALCOS_BIN={} does not exist", path.display()))
        };
    }
    let candidates = [
        PathBuf::from(env!("CARGO_BIN_EXE_localcos")),
        target_dir.join("release/localcos"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "no localcos binary at {}; build it first: `cargo build --release` \
             (with the same CARGO_TARGET_DIR), or set LOCALCOS_BIN",
                candidates[1].display()
            )
        })
}

/// Starts `localcos serve` on a free loopback port with a fresh data dir and the bench bucket,
/// and waits for its `localcos listening on` line and a 200 from `/-/health/ready`.
pub fn start_localcos(
    bin: &Path,
    secret_id: &str,
    secret_key: &str,
    bucket: &str,
    rust_log: Option<&str>,
    cpus: &[usize],
) -> Result<Server, String> {
    launch_localcos(
        bin,
        &Launch {
            secret_id,
            secret_key,
            bucket,
            rust_log,
            cpus,
            ..Launch::default()
        },
    )
}

/// What [`launch_localcos`] varies.
#[derive(Default)]
pub struct Launch<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    pub bucket: &'a str,
    /// `RUST_LOG` for the server (default: none, its own default).
    pub rust_log: Option<&'a str>,
    pub cpus: &'a [usize],
    /// More `serve` flags, e.g. `--tls-self-signed`.
    pub extra: &'a [&'a str],
    /// Where the server's temp dir (data dir, logs) goes; default: the system's temp dir.
    pub parent: Option<&'a Path>,
    /// Stderr is a pipe (1 MiB) that a thread of the bench copies into `stderr.log`, as
    /// under Docker or systemd, instead of that file itself.
    pub stderr_pipe: bool,
}

/// `start_localcos` with every option: the data dir is `<server.dir()>/data`; the server may
/// speak http or https (`--tls-self-signed` keeps its certificate in `<data>/tls/cert.pem`).
pub fn launch_localcos(bin: &Path, l: &Launch<'_>) -> Result<Server, String> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("localcos-load-");
    let dir = match l.parent {
        Some(parent) => builder.tempdir_in(parent),
        None => builder.tempdir(),
    }
    .map_err(|e| e.to_string())?;
    let data_dir = dir.path().join("data");
    let addr = free_port()?;
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--bucket")
        .arg(l.bucket)
        .args(l.extra)
        .env("LOCALCOS_SECRET_ID", l.secret_id)
        .env("LOCALCOS_SECRET_KEY", l.secret_key)
        .stdin(Stdio::null());
    let (rust_log, cpus) = (l.rust_log, l.cpus);
    // The server's default logging is what we measure, not the caller's shell setting, unless
    // a filter was asked for.
    match rust_log {
        Some(filter) => cmd.env("RUST_LOG", filter),
        None => cmd.env_remove("RUST_LOG"),
    };
    // Like nginx's `access_log off` here; an `--access-log` flag in `extra` wins
    // (benches/observability.rs compares both).
    cmd.env("LOCALCOS_ACCESS_LOG", "off");
    let stderr = match l.stderr_pipe {
        true => {
            let log = File::create(dir.path().join("stderr.log")).map_err(|e| e.to_string())?;
            Some(stderr_pipe(log)?.into())
        }
        false => None,
    };
    let server = spawn("localcos", cmd, addr, dir, cpus, stderr)?;
    wait_for_line(&server, "localcos listening on ", Duration::from_secs(20))?;
    Ok(server)
}

/// Starts nginx in the foreground (`daemon off`, one worker) on a free loopback port, serving
/// `root`; `root` must be world-readable since workers started by root run as `nobody`.
pub fn start_nginx(cpus: &[usize]) -> Result<Server, String> {
    let (dir, addr) = nginx_dir("nginx-load-")?;
    fs::create_dir(dir.path().join("root")).map_err(|e| e.to_string())?;
    let conf = nginx_conf(dir.path(), addr);
    spawn_nginx(dir, &conf, addr, cpus)
}

/// A world-readable temp dir for an nginx prefix (workers started by root run as `nobody`)
/// and a free loopback port for it.
fn nginx_dir(prefix: &str) -> Result<(TempDir, SocketAddr), String> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| e.to_string())?;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    Ok((dir, free_port()?))
}

/// Writes `conf` into `dir` and runs nginx on it in the foreground.
fn spawn_nginx(
    dir: TempDir,
    conf: &str,
    addr: SocketAddr,
    cpus: &[usize],
) -> Result<Server, String> {
    let bin = nginx_binary().ok_or(
        "nginx not found (looked in /usr/sbin/nginx, /usr/bin/nginx): install it with \
         `apt-get install -y nginx` (the bench only runs it as a child process on 127.0.0.1)",
    )?;
    let path = dir.path().join("nginx.conf");
    fs::write(&path, conf).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(bin);
    cmd.arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&path)
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .stdin(Stdio::null());
    spawn("nginx", cmd, addr, dir, cpus, None)
}

/// Starts nginx as a round-robin load balancer over `upstreams`, with the settings S3 traffic
/// needs (README "Scale-out"): no body limit, no buffering either way, HTTP/1.1 keep-alive
/// upstream connections, the client's Host, no retry on another node, the URI untouched.
#[allow(dead_code)] // benches/cluster.rs; the load bench itself serves files
pub fn start_nginx_balancer(upstreams: &[SocketAddr], cpus: &[usize]) -> Result<Server, String> {
    let (dir, addr) = nginx_dir("nginx-lb-")?;
    let d = dir.path().display();
    let servers: String = upstreams
        .iter()
        .map(|u| format!("        server {u} max_fails=0;\n"))
        .collect();
    let conf = format!(
        "daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream localcos {{
{servers}        keepalive 256;
    }}
    server {{
        listen {addr};
        client_max_body_size 0;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
        location / {{
            proxy_pass http://localcos;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_pass_header Server;
            proxy_set_header Connection \"\";
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_next_upstream off;
        }}
    }}
}}
"
    );
    spawn_nginx(dir, &conf, addr, cpus)
}

fn nginx_binary() -> Option<&'static Path> {
    NGINX_PATHS.iter().map(Path::new).find(|p| p.is_file())
}

/// `nginx -v`, e.g. `nginx/1.22.1`.
pub fn nginx_version() -> String {
    nginx_binary()
        .and_then(|bin| Command::new(bin).arg("-v").output().ok())
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .trim()
                .trim_start_matches("nginx version: ")
                .to_owned()
        })
        .unwrap_or_else(|| "nginx".to_owned())
}

/// nginx tuned as a static file server at its best: sendfile + tcp_nopush, no access log, and
/// keep-alive connections that are never recycled during a run. One worker process, pinned
/// like localcos, so both servers get the same CPU.
fn nginx_conf(dir: &Path, addr: SocketAddr) -> String {
    let d = dir.display();
    format!(
        "daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    default_type application/octet-stream;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen {addr};
        root {d}/root;
        location / {{ }}
    }}
}}
"
    )
}

/// A pipe for a child's stderr, of 1 MiB (one batch of the log writer fits, so a write
/// does not wait for the reader), whose reading end a thread copies into `log` until the
/// child exits.
fn stderr_pipe(mut log: File) -> Result<File, String> {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2(2) fills `fds` with two new descriptors, each owned once below.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: the descriptors were just created and nothing else owns them.
    let (mut reader, writer) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    // SAFETY: fcntl(2) on a pipe descriptor this function owns.
    if unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, 1 << 20) } < 0 {
        return Err(format!("F_SETPIPE_SZ: {}", std::io::Error::last_os_error()));
    }
    std::thread::Builder::new()
        .name("stderr-drain".into())
        .spawn(move || {
            let _ = std::io::copy(&mut reader, &mut log);
        })
        .map_err(|e| e.to_string())?;
    Ok(writer)
}

fn spawn(
    name: &'static str,
    mut cmd: Command,
    addr: SocketAddr,
    dir: TempDir,
    cpus: &[usize],
    stderr: Option<Stdio>,
) -> Result<Server, String> {
    let stdout = File::create(dir.path().join("stdout.log")).map_err(|e| e.to_string())?;
    let stderr = match stderr {
        Some(s) => s,
        None => File::create(dir.path().join("stderr.log"))
            .map_err(|e| e.to_string())?
            .into(),
    };
    cmd.stdout(stdout).stderr(stderr);
    if !cpus.is_empty() {
        let cpus = cpus.to_vec();
        // SAFETY: the closure only calls sched_setaffinity(2), which is async-signal-safe.
        // (The nice value, if the bench set one, is inherited through fork without help.)
        unsafe { cmd.pre_exec(move || pin_current(&cpus)) };
    }
    let child = cmd.spawn().map_err(|e| {
        format!(
            "cannot start {name} ({}): {e}",
            cmd.get_program().to_string_lossy()
        )
    })?;
    let mut server = Server {
        name,
        addr,
        pid: child.id(),
        child,
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        server.check_alive()?;
        if Instant::now() > deadline {
            return Err(format!(
                "{name} did not accept connections on {addr} within 20 s; logs:\n{}",
                server.logs()
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(server)
}

fn wait_for_line(server: &Server, prefix: &str, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let stdout = fs::read_to_string(server.dir().join("stdout.log")).unwrap_or_default();
        if stdout.lines().any(|l| l.starts_with(prefix)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} never printed `{prefix}…`; logs:\n{}",
                server.name,
                server.logs()
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map_err(|e| e.to_string())
}

/// Restricts the calling thread (and the threads and children it creates later) to `cpus`.
pub fn pin_current(cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET only write inside it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// User + system CPU seconds of `pid` alone, from `/proc/<pid>/stat` fields 14 and 15.
pub fn cpu_seconds(pid: u32) -> f64 {
    let cpu = proc_stats()
        .into_iter()
        .find(|&(p, _, _)| p == pid)
        .map_or(0, |(_, _, cpu)| cpu);
    cpu as f64 / clock_ticks()
}

/// User and system CPU seconds of `pid` (all its threads), from `/proc/<pid>/stat` fields 14
/// and 15, in clock ticks: coarse, so for splitting a long measurement, not for timing one.
pub fn user_system_seconds(pid: u32) -> (f64, f64) {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) start at field 3.
    let fields: Vec<&str> = text
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (
        field(14) as f64 / clock_ticks(),
        field(15) as f64 / clock_ticks(),
    )
}

/// CPU seconds of `pid` and its direct children: nginx's master plus its worker.
pub fn tree_cpu_seconds(pid: u32) -> f64 {
    let cpu: u64 = proc_stats()
        .into_iter()
        .filter(|&(p, ppid, _)| p == pid || ppid == pid)
        .map(|(_, _, cpu)| cpu)
        .sum();
    cpu as f64 / clock_ticks()
}

/// CPU seconds of `pid`'s live threads, from `/proc/<pid>/task/*/schedstat` (time on a CPU,
/// in nanoseconds: finer than the clock ticks of `/proc/<pid>/stat`, which short slices need).
/// A thread that exits between two readings takes its time with it.
pub fn threads_cpu_seconds(pid: u32) -> f64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| {
            let text = fs::read_to_string(t.path().join("schedstat")).ok()?;
            text.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum();
    ns as f64 / 1e9
}

/// User + system CPU seconds of the whole machine so far (`/proc/stat`), all processes.
pub fn machine_busy_seconds() -> f64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    // First line: `cpu  user nice system idle iowait irq softirq steal ...`, in clock ticks.
    let busy: u64 = stat
        .lines()
        .next()
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(3)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    busy as f64 / clock_ticks()
}

/// The three load averages from `/proc/loadavg`.
pub fn load_average() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sets the nice value of the calling thread (and of the threads and children it creates later).
pub fn set_nice(nice: i32) -> std::io::Result<()> {
    // SAFETY: setpriority(2) on the calling thread (who = 0) has no memory-safety preconditions.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks.max(1) as f64
}

/// `(pid, ppid, utime + stime)` of every process in /proc.
fn proc_stats() -> Vec<(u32, u32, u64)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // Fields after `(comm)`, which may itself contain spaces and parentheses.
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split(' ').collect();
            // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
            let ppid = fields.get(1)?.parse().ok()?;
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some((pid, ppid, utime + stime))
        })
        .collect()
}

/// `(VmRSS, VmHWM)` of `pid` in KiB, from `/proc/<pid>/status`.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// VmRSS of `pid` and its direct children, in KiB (shared pages are counted twice).
pub fn tree_rss_kib(pid: u32) -> u64 {
    tree_pids(pid).into_iter().map(|p| rss_kib(p).0).sum()
}

/// VmHWM (peak RSS since start or since [`reset_peak_rss`]) of `pid` and its direct children.
pub fn tree_peak_rss_kib(pid: u32) -> u64 {
    tree_pids(pid).into_iter().map(|p| rss_kib(p).1).sum()
}

/// Resets VmHWM of `pid` and its direct children to their current RSS (`clear_refs` value 5,
/// Linux 4.0+), so that the next reading is the peak of what follows.
pub fn reset_peak_rss(pid: u32) {
    for p in tree_pids(pid) {
        // Best effort: without it the peak covers the whole life of the process.
        let _ = fs::write(format!("/proc/{p}/clear_refs"), "5");
    }
}

/// `pid` and its direct children (nginx's master and worker).
fn tree_pids(pid: u32) -> Vec<u32> {
    proc_stats()
        .into_iter()
        .filter(|&(p, ppid, _)| p == pid || ppid == pid)
        .map(|(p, _, _)| p)
        .collect()
}

/// The CPUs this process may run on, in order.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data, filled in by sched_getaffinity(2) for this process.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

/// Writes `data` as `<root>/<rel>` for nginx to serve, world-readable.
pub fn write_static(root: &Path, rel: &str, data: &[u8]) -> Result<(), String> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        fs::set_permissions(parent, fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
    }
    let mut file = File::create(&path).map_err(|e| e.to_string())?;
    file.write_all(data).map_err(|e| e.to_string())?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).map_err(|e| e.to_string())
}
