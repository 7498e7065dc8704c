//! A PostgreSQL server for the tests (NOTES 19): the Debian package's
//! binaries (`/usr/lib/postgresql/<ver>/bin`, or `LOCALCOS_PG_BIN`), initdb +
//! pg_ctl in a temp dir, as the `postgres` user when running as root
//! (`runuser -u postgres --`; initdb and postgres refuse root), listening
//! on 127.0.0.1 and a free port. One server per test process, started on
//! first use and stopped at process exit; every test gets a fresh DATABASE.
//!
//! A missing PostgreSQL fails the test loudly (`scripts/test.sh` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

pub struct PgServer {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();
static NEXT_DB: AtomicU64 = AtomicU64::new(0);

/// The newest `/usr/lib/postgresql/<ver>/bin` (or `LOCALCOS_PG_BIN`).
pub fn bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("LOCALCOS_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs a PostgreSQL program as the `postgres` user when we are root.
fn pg_command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start() -> Result<PgServer, String> {
    let bin = bin_dir().ok_or(
        "PostgreSQL is not installed (/usr/lib/postgresql/<ver>/bin): apt-get install -y postgresql",
    )?;
    let dir = std::env::temp_dir().join(format!(
        "localcos-pg-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if is_root() {
        let mut c = Command::new("chown");
        c.arg("postgres:").arg(&dir);
        run(c, "chown")?;
    }
    let data = dir.join("data");
    let mut c = pg_command(&bin, "initdb");
    c.arg("-D").arg(&data).args([
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    ]);
    run(c, "initdb")?;
    let port = free_port();
    let mut c = pg_command(&bin, "pg_ctl");
    c.arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "-t", "30", "-o"])
        .arg(format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400",
            dir.display()
        ))
        .arg("start");
    run(c, "pg_ctl start")?;
    extern "C" fn stop_at_exit() {
        if let Some(Ok(s)) = SERVER.get() {
            s.stop();
        }
    }
    // SAFETY: registering a plain extern "C" fn.
    unsafe {
        libc::atexit(stop_at_exit);
    }
    Ok(PgServer { port, dir, bin })
}

impl PgServer {
    fn stop(&self) {
        let mut c = pg_command(&self.bin, "pg_ctl");
        c.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = c.output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

/// The test process's server (started on first use).
pub fn server() -> &'static PgServer {
    match SERVER.get_or_init(start) {
        Ok(s) => s,
        Err(e) => panic!("PostgreSQL test server: {e}"),
    }
}

/// A new, empty database on the test server; returns its URL.
pub async fn fresh_db() -> String {
    let s = server();
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    let (client, conn) = tokio_postgres::connect(&s.url("postgres"), tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL");
    let task = tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("CREATE DATABASE");
    drop(client);
    let _ = task.await;
    s.url(&name)
}
