//! HTTPS benchmark (issue 11, Speed): 64 MiB GET throughput over HTTPS next to plain HTTP on
//! the same machine, in the same run. Target: HTTPS at least 0.7× plain HTTP.
//!
//! Run by hand, never as part of the tests (cargo builds `<target>/release/localcos` alongside):
//!
//! ```text
//! cargo bench --bench tls                     # ~30 s
//! TLS_BENCH_SECONDS=2 cargo bench --bench tls # quicker
//! ```
//!
//! Knobs (environment): `TLS_BENCH_SECONDS` seconds per measurement (default 5),
//! `TLS_BENCH_CONNECTIONS` comma-separated connection counts (default `1,4`), `LOCALCOS_BIN` a
//! binary other than the one cargo built beside this bench.
//!
//! How: two release servers as child processes, each with its own temp data dir: one plain
//! HTTP (its large GETs go out with sendfile), one with `--tls-self-signed` (rustls with the ring
//! provider; bodies are encrypted in user space). The same 64 MiB of random bytes is uploaded to
//! each and read back once in full and compared (MD5); then N keep-alive HTTP/1.1 connections
//! GET the object in a loop for a fixed time, reading and discarding every byte (the HTTPS
//! client decrypts every record with rustls, as a real client must). The client is one tokio
//! thread, the same for both servers. Server CPU seconds per GiB come from `/proc/<pid>/stat`.
//! On a shared machine the numbers move with other work; the ratio within one run is what counts.
//!
//! The client's CPU seconds per GiB are printed too, and, before the runs, what AES-GCM alone
//! costs on this CPU (ring, 16 KiB records). From those, each connection count gets a
//! ceiling: the rate HTTPS would reach if it cost nothing beyond the plain run's server and
//! client CPU plus sealing every record (server) and opening it (client), given one client
//! thread, one server task per connection and this machine's cores. A ratio near that
//! ceiling leaves nothing to win in localcos; a ceiling under 0.7× means this machine cannot
//! show the target without kernel TLS.
//!
//! Exit status: 0 when every ratio meets the target, 1 otherwise or on failure.
//! `cargo test --all-targets` runs this binary without `--bench`; it then only prints a line.

#[allow(dead_code)]
#[path = "load/servers.rs"]
mod servers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use localcos::auth::presign::{authorization, Presign, Signer};
use md5::{Digest, Md5};
use rand::{RngCore, SeedableRng};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};

const MIB: usize = 1 << 20;
const SIZE: usize = 64 * MIB;
const BUCKET_ARG: &str = "bench";
const HOST: &str = "bench-1250000000.cos.ap-guangzhou.myqcloud.com";
const KEY: &str = "/big.bin";
const SECRET_ID: &str = "AKIDlocalcosTlsBench000000000000000";
const SECRET_KEY: &str = "localcosTlsBenchSecretKey0000000";
const MIN_RATIO: f64 = 0.7;

fn main() -> ExitCode {
    // The client copies every decrypted record too: the same glibc work-around as the server.
    localcos::memcpy_fix::apply();
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it.
    if !std::env::args().any(|a| a == "--bench") {
        println!("tls bench: skipped (run it with `cargo bench --bench tls`)");
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("tls bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, String> {
    let seconds: f64 = std::env::var("TLS_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v: &f64| *v > 0.0)
        .unwrap_or(5.0);
    let conns: Vec<usize> = std::env::var("TLS_BENCH_CONNECTIONS")
        .unwrap_or_else(|_| "1,4".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .filter(|c| *c > 0)
        .collect();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let bin = servers::localcos_binary(&target_dir)?;
    let launch = |extra| {
        servers::launch_localcos(
            &bin,
            &servers::Launch {
                secret_id: SECRET_ID,
                secret_key: SECRET_KEY,
                bucket: BUCKET_ARG,
                extra,
                ..Default::default()
            },
        )
    };
    let plain = launch(&[])?;
    let tls = launch(&["--tls-self-signed"])?;
    let cert = tls.dir().join("data/tls/cert.pem");
    let root = CertificateDer::from_pem_file(&cert).map_err(|e| format!("{cert:?}: {e}"))?;
    let client = Client::new(root);

    let mut data = vec![0u8; SIZE];
    rand::rngs::StdRng::seed_from_u64(0x7115).fill_bytes(&mut data);
    let data = Bytes::from(data);
    let want_md5 = hex::encode(Md5::digest(&data));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    println!(
        "tls bench: 64 MiB GET over HTTP/1.1, {seconds} s per run, one client thread; \
         plain = sendfile, https = rustls (ring)"
    );
    let aes = Aes::measure();
    println!(
        "AES-GCM on this CPU (ring, 16 KiB records, one copy each): \
         AES-128 seal {:.3} / open {:.3} s/GiB, AES-256 seal {:.3} / open {:.3} s/GiB",
        aes.seal128, aes.open128, aes.seal256, aes.open256
    );
    println!(
        "{:<6} {:>5} {:>10} {:>13} {:>13} {:>8}",
        "mode", "conns", "MiB/s", "srv CPU s/GiB", "cli CPU s/GiB", "ratio"
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let mut ok = true;
    rt.block_on(async {
        let both = [("plain", &plain, false), ("https", &tls, true)];
        for (name, server, secure) in both {
            client.put(server.addr, secure, data.clone()).await?;
            let got = client.get_md5(server.addr, secure).await?;
            if got != want_md5 {
                return Err(format!(
                    "{name}: GET returned other bytes (md5 {got}, want {want_md5})"
                ));
            }
        }
        for &n in &conns {
            let mut rates = [0.0; 2];
            // Plain run's server and client CPU seconds per GiB.
            let (mut plain_srv, mut plain_cli) = (0.0, 0.0);
            for (i, (name, server, secure)) in both.into_iter().enumerate() {
                let cpu0 = servers::cpu_seconds(server.pid);
                let me0 = servers::cpu_seconds(std::process::id());
                let (bytes, elapsed) = client.get_for(server.addr, secure, n, seconds).await?;
                let cpu = servers::cpu_seconds(server.pid) - cpu0;
                let me = servers::cpu_seconds(std::process::id()) - me0;
                let gib = (bytes as f64 / (1u64 << 30) as f64).max(1e-9);
                rates[i] = bytes as f64 / MIB as f64 / elapsed;
                let ratio = if i == 0 {
                    (plain_srv, plain_cli) = (cpu / gib, me / gib);
                    String::new()
                } else {
                    format!("{:.2}x", rates[1] / rates[0])
                };
                println!(
                    "{:<6} {:>5} {:>10.0} {:>13.2} {:>13.2} {:>8}",
                    name,
                    n,
                    rates[i],
                    cpu / gib,
                    me / gib,
                    ratio
                );
            }
            // What HTTPS could reach if it cost nothing beyond plain but the
            // encryption (server) and decryption (client) of every record:
            // the client is one thread, one connection's writes are one
            // server task, and all of it shares this machine's cores.
            let (seal, open) = match client.suite() {
                Some(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256) => (aes.seal128, aes.open128),
                _ => (aes.seal256, aes.open256),
            };
            let mut bound = (1.0 / (plain_cli + open))
                .min(cores / (plain_srv + plain_cli + seal + open));
            if n == 1 {
                bound = bound.min(1.0 / (plain_srv + seal));
            }
            let bound_mib = bound * 1024.0;
            println!(
                "  ceiling with {n} connection(s), {:?}: plain's CPU + seal + open per GiB \
                 allows at most {bound_mib:.0} MiB/s = {:.2}x of plain on this machine",
                client.suite(),
                bound_mib / rates[0]
            );
            let ratio = rates[1] / rates[0];
            if ratio < MIN_RATIO {
                println!("  MISSED: https {ratio:.2}x of plain with {n} connection(s), target {MIN_RATIO}x");
                ok = false;
            }
        }
        Ok::<_, String>(())
    })?;
    if ok {
        println!("tls bench: target met (https >= {MIN_RATIO}x plain)");
    }
    Ok(ok)
}

/// CPU seconds per GiB of AES-GCM on this machine, the way a TLS record
/// layer pays them: each 16 KiB record copied into a buffer of its own and
/// sealed there (server), or opened in place (client).
struct Aes {
    seal128: f64,
    open128: f64,
    seal256: f64,
    open256: f64,
}

impl Aes {
    fn measure() -> Aes {
        let (seal128, open128) = Self::one(&ring::aead::AES_128_GCM);
        let (seal256, open256) = Self::one(&ring::aead::AES_256_GCM);
        Aes {
            seal128,
            open128,
            seal256,
            open256,
        }
    }

    fn one(alg: &'static ring::aead::Algorithm) -> (f64, f64) {
        use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey};
        const RECORD: usize = 16 << 10;
        // 512 KiB of records: they stay in cache, as a connection's record
        // buffers do. 256 MiB in all.
        const RECORDS: usize = 32;
        const ROUNDS: usize = 512;
        let key = LessSafeKey::new(UnboundKey::new(alg, &[7u8; 32][..alg.key_len()]).expect("key"));
        let source = vec![0x5au8; RECORD * RECORDS];
        let mut records: Vec<Vec<u8>> = (0..RECORDS)
            .map(|_| Vec::with_capacity(RECORD + 16))
            .collect();
        let nonce = |i: usize| {
            let mut n = [0u8; 12];
            n[4..].copy_from_slice(&(i as u64).to_be_bytes());
            Nonce::assume_unique_for_key(n)
        };
        let (mut seal, mut open) = (Duration::ZERO, Duration::ZERO);
        for round in 0..ROUNDS {
            let started = Instant::now();
            for (i, record) in records.iter_mut().enumerate() {
                record.clear();
                record.extend_from_slice(&source[i * RECORD..(i + 1) * RECORD]);
                key.seal_in_place_append_tag(nonce(round * RECORDS + i), Aad::empty(), record)
                    .expect("seal");
            }
            seal += started.elapsed();
            let started = Instant::now();
            for (i, record) in records.iter_mut().enumerate() {
                let plain = key
                    .open_in_place(nonce(round * RECORDS + i), Aad::empty(), record)
                    .expect("open");
                std::hint::black_box(plain);
            }
            open += started.elapsed();
        }
        let gib = (RECORD * RECORDS * ROUNDS) as f64 / (1u64 << 30) as f64;
        (seal.as_secs_f64() / gib, open.as_secs_f64() / gib)
    }
}

/// Anything the client can speak HTTP/1.1 over.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Client {
    tls: tokio_rustls::TlsConnector,
    /// The cipher suite the last HTTPS connection negotiated.
    suite: std::sync::Mutex<Option<rustls::CipherSuite>>,
}

impl Client {
    fn new(root: CertificateDer<'static>) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root).expect("self-signed root");
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Client {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            suite: std::sync::Mutex::new(None),
        }
    }

    fn suite(&self) -> Option<rustls::CipherSuite> {
        *self.suite.lock().expect("suite lock")
    }

    async fn connect(
        &self,
        addr: SocketAddr,
        secure: bool,
    ) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String> {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let io: Box<dyn Io> = if secure {
            let name = ServerName::try_from("localhost").expect("name");
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
            *self.suite.lock().expect("suite lock") =
                tls.get_ref().1.negotiated_cipher_suite().map(|s| s.suite());
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok(send)
    }

    fn request(method: &str, body: Bytes) -> http::Request<Full<Bytes>> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let auth = authorization(
            &Presign {
                method,
                path: KEY,
                host: Some(HOST),
                params: &[],
                start: now - 60,
                end: now + 3600,
            },
            &Signer {
                secret_id: SECRET_ID,
                secret_key: SECRET_KEY,
                token: None,
            },
        );
        http::Request::builder()
            .method(method)
            .uri(KEY)
            .header("host", HOST)
            .header("authorization", auth)
            .header("content-length", body.len())
            .body(Full::new(body))
            .expect("request")
    }

    async fn put(&self, addr: SocketAddr, secure: bool, body: Bytes) -> Result<(), String> {
        let mut send = self.connect(addr, secure).await?;
        let resp = send
            .send_request(Self::request("PUT", body))
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let text = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if status != 200 {
            return Err(format!("PUT: {status} {}", String::from_utf8_lossy(&text)));
        }
        Ok(())
    }

    async fn get_md5(&self, addr: SocketAddr, secure: bool) -> Result<String, String> {
        let mut send = self.connect(addr, secure).await?;
        let resp = send
            .send_request(Self::request("GET", Bytes::new()))
            .await
            .map_err(|e| e.to_string())?;
        let mut body = resp.into_body();
        let mut md5 = Md5::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map_err(|e| e.to_string())?.into_data() {
                md5.update(&data);
            }
        }
        Ok(hex::encode(md5.finalize()))
    }

    /// `n` connections GET the object in a loop for `seconds`; bytes read and elapsed seconds.
    async fn get_for(
        &self,
        addr: SocketAddr,
        secure: bool,
        n: usize,
        seconds: f64,
    ) -> Result<(u64, f64), String> {
        let mut senders = Vec::new();
        for _ in 0..n {
            senders.push(self.connect(addr, secure).await?);
        }
        let started = Instant::now();
        let until = started + Duration::from_secs_f64(seconds);
        let tasks: Vec<_> = senders
            .into_iter()
            .map(|mut send| {
                tokio::spawn(async move {
                    let mut total = 0u64;
                    while Instant::now() < until {
                        let resp = send
                            .send_request(Self::request("GET", Bytes::new()))
                            .await
                            .map_err(|e| e.to_string())?;
                        if resp.status() != 200 {
                            return Err(format!("GET: {}", resp.status()));
                        }
                        let mut body = resp.into_body();
                        let mut got = 0usize;
                        while let Some(frame) = body.frame().await {
                            if let Ok(data) = frame.map_err(|e| e.to_string())?.into_data() {
                                got += data.len();
                            }
                        }
                        if got != SIZE {
                            return Err(format!("GET: {got} bytes, want {SIZE}"));
                        }
                        total += got as u64;
                    }
                    Ok::<u64, String>(total)
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.map_err(|e| e.to_string())??;
        }
        Ok((total, started.elapsed().as_secs_f64()))
    }
}
