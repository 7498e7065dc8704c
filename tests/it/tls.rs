//! HTTPS (http/tls.rs): a real listener with a certificate made here, HTTP/1.1
//! and HTTP/2 chosen by ALPN, large bodies byte-exact through TLS (never the
//! sendfile path), plain HTTP on the TLS port answered with a 400 at once,
//! SIGHUP reload of the real binary (a new serial for new connections, an
//! open keep-alive connection keeps working, a bad file keeps the old
//! certificate), `--tls-self-signed` kept in and reused from the data dir,
//! and `localcos healthcheck` against an HTTPS listener.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use localcos::config::{Config, TlsMode};
use localcos::server::Server;
use md5::{Digest, Md5};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::common::{ID, KEY, R};

/// A self-signed certificate (no CA) for `names`, with `serial`, written to
/// `dir/cert.pem` and `dir/key.pem`; returns its DER.
fn make_cert(dir: &Path, names: &[&str], serial: u64) -> CertificateDer<'static> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.serial_number = Some(rcgen::SerialNumber::from(serial));
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    cert.der().clone()
}

/// The serial number of a DER certificate, as an unsigned integer
/// (Certificate → TBSCertificate → [0] version → serialNumber).
fn serial(der: &[u8]) -> u64 {
    // (tag, content) of the DER element at the start of `b`, and the rest.
    fn element(b: &[u8]) -> (u8, &[u8], &[u8]) {
        let (tag, first) = (b[0], b[1] as usize);
        let (len, head) = if first < 0x80 {
            (first, 2)
        } else {
            let n = first & 0x7f;
            let len = b[2..2 + n]
                .iter()
                .fold(0usize, |a, x| (a << 8) | *x as usize);
            (len, 2 + n)
        };
        (tag, &b[head..head + len], &b[head + len..])
    }
    let (_, cert, _) = element(der);
    let (_, tbs, _) = element(cert);
    let (tag, _, rest) = element(tbs);
    assert_eq!(tag, 0xa0, "explicit version");
    let (tag, serial, _) = element(rest);
    assert_eq!(tag, 0x02, "INTEGER");
    serial.iter().fold(0u64, |a, x| (a << 8) | *x as u64)
}

/// A TLS connection to `addr` trusting only `root`, offering `alpn`.
async fn connect(
    addr: SocketAddr,
    root: &CertificateDer<'static>,
    name: &str,
    alpn: &[&[u8]],
) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_string()).unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// The certificate the server presented on `tls`.
fn peer_cert(tls: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// (status, headers, body) of one request on a client connection.
type Answer = (u16, http::HeaderMap, Bytes);

async fn answer(resp: hyper::Response<hyper::body::Incoming>) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body)
}

/// An HTTP/1.1 client on a TLS stream.
struct H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>);

impl H1 {
    async fn new(tls: TlsStream<TcpStream>) -> H1 {
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        H1(send)
    }
    async fn send(&mut self, req: Request<Full<Bytes>>) -> Answer {
        self.0.ready().await.unwrap();
        answer(self.0.send_request(req).await.unwrap()).await
    }
}

/// An HTTP/2 client on a TLS stream; requests get absolute https URIs.
struct H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>);

impl H2 {
    async fn new(tls: TlsStream<TcpStream>) -> H2 {
        let (send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(conn);
        H2(send)
    }
    async fn send(&mut self, mut req: Request<Full<Bytes>>) -> Answer {
        let host = req.headers()["host"].to_str().unwrap().to_string();
        *req.uri_mut() = format!("https://{host}{}", req.uri()).parse().unwrap();
        *req.version_mut() = http::Version::HTTP_2;
        req.headers_mut().remove("host");
        self.0.ready().await.unwrap();
        answer(self.0.send_request(req).await.unwrap()).await
    }
}

/// An in-process HTTPS server with the `examplebucket` bucket and the
/// certificate in `dir`.
struct InProcess {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl InProcess {
    async fn start(dir: &Path) -> InProcess {
        let mut config = Config::for_tests(ID, KEY);
        config.buckets.push(
            localcos::http::target::BucketName::parse(
                "examplebucket",
                "1250000000",
                "ap-guangzhou",
            )
            .unwrap(),
        );
        config.tls = Some(TlsMode::Files {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        });
        let server = Server::bind(config).await.unwrap();
        let addr = server.local_addr();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        InProcess {
            addr,
            stop: Some(tx),
            task,
        }
    }
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

const NAMES: &[&str] = &["localhost", "127.0.0.1", "*.cos.ap-guangzhou.myqcloud.com"];
const BUCKET_HOST: &str = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com";

fn md5(b: &[u8]) -> String {
    hex::encode(Md5::digest(b))
}

/// Bytes that are not a repeating pattern (a wrong offset shows).
fn data(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test]
async fn http1_and_http2_by_alpn_with_large_bodies_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let root = make_cert(dir.path(), NAMES, 1);
    let srv = InProcess::start(dir.path()).await;

    // ALPN h2 offered first: HTTP/2.
    let tls = connect(srv.addr, &root, BUCKET_HOST, &[b"h2", b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    // The server's suite order wins: AES-128-GCM, although rustls (like
    // OpenSSL and Go) offers AES-256-GCM first.
    assert_eq!(
        tls.get_ref().1.negotiated_cipher_suite().unwrap().suite(),
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
    );
    let mut h2 = H2::new(tls).await;
    let big = data(20 << 20);
    let (status, _, body) = h2.send(R::put("h2/big.bin", big.clone()).build()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, headers, body) = h2.send(R::get("h2/big.bin").build()).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-length"], big.len().to_string().as_str());
    assert_eq!(body.len(), big.len());
    assert_eq!(md5(&body), md5(&big), "h2 GET bytes");

    // ALPN http/1.1 only: HTTP/1.1, the path that uses sendfile on plain
    // TCP. Whole and ranged GETs of a large object come back byte-exact.
    let tls = connect(srv.addr, &root, "127.0.0.1", &[b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut h1 = H1::new(tls).await;
    let big = data(24 << 20);
    let (status, _, _) = h1.send(R::put("h1/big.bin", big.clone()).build()).await;
    assert_eq!(status, 200);
    for _ in 0..2 {
        let (status, headers, body) = h1.send(R::get("h1/big.bin").build()).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-length"], big.len().to_string().as_str());
        assert_eq!(md5(&body), md5(&big), "h1 GET bytes");
    }
    let range = 5_000_001..17_000_000;
    let (status, _, body) = h1
        .send(
            R::get("h1/big.bin")
                .h("range", &format!("bytes={}-{}", range.start, range.end - 1))
                .build(),
        )
        .await;
    assert_eq!(status, 206);
    assert_eq!(md5(&body), md5(&big[range]), "h1 range bytes");
    // The h2 object read over HTTP/1.1 and vice versa.
    let (status, _, body) = h1.send(R::get("h2/big.bin").build()).await;
    assert_eq!((status, body.len()), (200, 20 << 20));

    // No ALPN at all: HTTP/1.1.
    let tls = connect(srv.addr, &root, "localhost", &[]).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    let mut h1 = H1::new(tls).await;
    let (status, _, body) = h1
        .send(R::get("").host("127.0.0.1").raw_path("/").build())
        .await;
    assert_eq!(status, 200, "ListBuckets");
    assert!(String::from_utf8_lossy(&body).contains("examplebucket-1250000000"));

    // A name the certificate does not cover fails verification.
    let err = connect(srv.addr, &root, "elsewhere.example.com", &[])
        .await
        .expect_err("name not covered");
    assert!(err.to_string().contains("certificate"), "{err}");
    srv.stop().await;
}

#[tokio::test]
async fn plain_http_on_the_tls_port_gets_a_400_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = make_cert(dir.path(), NAMES, 2);
    let srv = InProcess::start(dir.path()).await;
    for request in [
        &b"GET /examplebucket-1250000000/k?acl HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"[..],
        // A PUT with a body the server never reads in full.
        b"PUT /k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nxxxxxxxxxxxxxxxx",
        // h2c prior knowledge.
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ] {
        let started = Instant::now();
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut got))
            .await
            .expect("answered and closed, no hang")
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        let text = String::from_utf8_lossy(&got);
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("x-cos-request-id: "), "{head}");
        assert!(head.contains("Content-Type: application/xml"), "{head}");
        assert!(body.contains("<Code>InvalidRequest</Code>"), "{body}");
        assert!(body.contains("speaks HTTPS"), "{body}");
        assert!(!body.contains("<RequestId></RequestId>"), "{body}");
    }
    let resource = {
        let mut s = TcpStream::connect(srv.addr).await.unwrap();
        s.write_all(b"GET /examplebucket-1250000000/k?acl HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).await.unwrap();
        got
    };
    assert!(
        resource.contains("<Resource>/examplebucket-1250000000/k</Resource>"),
        "{resource}"
    );
    // A client that connects and says nothing is dropped after the
    // handshake timeout; meanwhile TLS clients are served.
    let _silent = TcpStream::connect(srv.addr).await.unwrap();
    let tls = connect(srv.addr, &root, "localhost", &[]).await.unwrap();
    let (status, _, _) = H1::new(tls)
        .await
        .send(
            R::get("")
                .host("127.0.0.1")
                .raw_path("/-/health/ready")
                .anonymous()
                .build(),
        )
        .await;
    assert_eq!(status, 200);
    drop(_silent);
    srv.stop().await;
}

/// The real binary as a child process.
struct Proc {
    child: Child,
    addr: SocketAddr,
    /// stdout lines after the first (the banner).
    banner: Vec<String>,
    stderr: PathBuf,
}

impl Proc {
    fn start(args: &[&str], log_dir: &Path) -> Proc {
        let stderr = log_dir.join(format!("stderr-{}.log", rand::random::<u32>()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_localcos"))
            .args(["serve", "--listen", "127.0.0.1:0", "--bucket", "tls"])
            .args(args)
            .env("LOCALCOS_SECRET_ID", ID)
            .env("LOCALCOS_SECRET_KEY", KEY)
            .env("LOCALCOS_LOG_LEVEL", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn localcos");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("localcos listening on https://")
            .unwrap_or_else(|| {
                panic!(
                    "banner: {line:?}; stderr: {}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                )
            })
            .parse()
            .unwrap();
        let mut banner = Vec::new();
        for l in out.lines().map_while(Result::ok) {
            if l.trim().is_empty() && !banner.is_empty() {
                break;
            }
            banner.push(l);
        }
        Proc {
            child,
            addr,
            banner,
            stderr,
        }
    }
    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child, not yet reaped.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as libc::pid_t, sig) },
            0
        );
    }
    fn stop(mut self) {
        self.signal(libc::SIGTERM);
        self.child.wait().unwrap();
    }
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
    /// The path on the banner's `TLS cert:` line.
    fn cert_line(&self) -> String {
        self.banner
            .iter()
            .find_map(|l| l.trim().strip_prefix("TLS cert:"))
            .unwrap_or_else(|| panic!("no TLS cert line in {:?}", self.banner))
            .trim()
            .to_string()
    }
}

/// The serial of the certificate a new connection sees.
async fn served_serial(addr: SocketAddr, root: &CertificateDer<'static>) -> Option<u64> {
    connect(addr, root, "localhost", &[])
        .await
        .ok()
        .map(|t| serial(&peer_cert(&t)))
}

#[tokio::test]
async fn sighup_swaps_the_certificate_and_keeps_open_connections() {
    let dir = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    let first = make_cert(certs.path(), NAMES, 1001);
    let cert = certs.path().join("cert.pem");
    let key = certs.path().join("key.pem");
    let p = Proc::start(
        &[
            "--ephemeral",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(p.cert_line(), cert.display().to_string());

    // A keep-alive connection opened before the reload.
    let tls = connect(p.addr, &first, "localhost", &[b"http/1.1"])
        .await
        .unwrap();
    assert_eq!(serial(&peer_cert(&tls)), 1001);
    let mut open = H1::new(tls).await;
    let (status, _, _) = open
        .send(
            R::put("before", b"one".to_vec())
                .host("tls-1250000000.cos.ap-guangzhou.myqcloud.com")
                .build(),
        )
        .await;
    assert_eq!(status, 200);

    // New files, SIGHUP: new connections get the new serial.
    let second = make_cert(certs.path(), NAMES, 2002);
    p.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_serial(p.addr, &second).await != Some(2002) {
        assert!(Instant::now() < deadline, "still the old certificate");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The old certificate is no longer presented to new clients.
    assert!(connect(p.addr, &first, "localhost", &[]).await.is_err());
    // The connection opened before the reload still works, on the same session.
    for i in 0..3 {
        let (status, _, body) = open
            .send(
                R::get("before")
                    .host("tls-1250000000.cos.ap-guangzhou.myqcloud.com")
                    .build(),
            )
            .await;
        assert_eq!((status, &body[..]), (200, &b"one"[..]), "request {i}");
    }

    // A broken certificate file: the reload fails, the server keeps the
    // current certificate and says so in its log.
    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    p.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p.stderr().contains("not reloaded") {
        assert!(Instant::now() < deadline, "no error logged: {}", p.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served_serial(p.addr, &second).await, Some(2002));
    // A key that does not belong to the certificate: refused as well.
    let other = tempfile::tempdir().unwrap();
    let third = make_cert(other.path(), NAMES, 3003);
    std::fs::copy(other.path().join("cert.pem"), &cert).unwrap();
    p.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while p.stderr().matches("not reloaded").count() < 2 {
        assert!(Instant::now() < deadline, "no error logged: {}", p.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(served_serial(p.addr, &second).await, Some(2002));
    assert!(served_serial(p.addr, &third).await.is_none());
    assert!(p.stderr().contains("key"), "{}", p.stderr());
    let (status, _, _) = open
        .send(
            R::get("before")
                .host("tls-1250000000.cos.ap-guangzhou.myqcloud.com")
                .build(),
        )
        .await;
    assert_eq!(status, 200);
    p.stop();
}

#[tokio::test]
async fn self_signed_is_kept_in_the_data_dir_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = [
        "--tls-self-signed",
        "--data-dir",
        data.to_str().unwrap(),
        "--base-domain",
        "cos.local",
    ];
    let p = Proc::start(&args, dir.path());
    let cert_path = data.join("tls/cert.pem");
    assert_eq!(
        p.cert_line().split("  ").next().unwrap(),
        cert_path.display().to_string()
    );
    assert!(
        p.banner.iter().any(|l| l.contains("kept in the data dir")),
        "{:?}",
        p.banner
    );
    assert!(
        p.banner.iter().any(|l| l.contains("https://127.0.0.1:")),
        "{:?}",
        p.banner
    );
    let mode = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    };
    assert_eq!(mode(&data.join("tls/key.pem")), 0o600);
    let pem = std::fs::read(&cert_path).unwrap();
    let root = CertificateDer::from_pem_slice(&pem).unwrap();
    // Trusted as is (no CA) for every name clients use.
    for name in [
        "localhost",
        "127.0.0.1",
        "tls-1250000000.cos.ap-guangzhou.myqcloud.com",
        "cos.ap-guangzhou.myqcloud.com",
        "b-1250000000.cos.local",
        "cos.local",
    ] {
        let tls = connect(p.addr, &root, name, &[]).await;
        assert!(tls.is_ok(), "{name}: {:?}", tls.err());
    }
    // ::1 is in the certificate too (the server listens on 127.0.0.1 only).
    p.stop();

    // Restarted: the same certificate.
    let p = Proc::start(&args, dir.path());
    assert_eq!(std::fs::read(&cert_path).unwrap(), pem, "reused");
    assert_eq!(served_serial(p.addr, &root).await, Some(serial(&root)));
    p.stop();

    // A new base domain the certificate does not cover: a new certificate.
    let mut wider = args.to_vec();
    wider.extend(["--base-domain", "s3.test"]);
    let p = Proc::start(&wider, dir.path());
    let pem2 = std::fs::read(&cert_path).unwrap();
    assert_ne!(pem2, pem, "renewed for the new name");
    let root2 = CertificateDer::from_pem_slice(&pem2).unwrap();
    assert!(connect(p.addr, &root2, "b-1250000000.s3.test", &[])
        .await
        .is_ok());
    assert!(p
        .stderr()
        .contains("replacing the self-signed TLS certificate"));

    // `localcos healthcheck` finds out by itself that the port speaks HTTPS.
    for url in [p.addr.to_string(), format!("https://{}", p.addr)] {
        let out = Command::new(env!("CARGO_BIN_EXE_localcos"))
            .args(["healthcheck", "--url", &url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    p.stop();
}

#[tokio::test]
async fn ephemeral_self_signed_lives_in_a_temp_dir() {
    let dir = tempfile::tempdir().unwrap();
    let p = Proc::start(&["--ephemeral", "--tls-self-signed"], dir.path());
    let line = p.cert_line();
    assert!(line.contains("temporary"), "{line}");
    let path = PathBuf::from(line.split("  ").next().unwrap());
    assert!(path.starts_with(std::env::temp_dir()), "{}", path.display());
    let root = CertificateDer::from_pem_slice(&std::fs::read(&path).unwrap()).unwrap();
    let tls = connect(p.addr, &root, "127.0.0.1", &[]).await.unwrap();
    let (status, _, _) = H1::new(tls)
        .await
        .send(
            R::get("")
                .host("127.0.0.1")
                .raw_path("/-/health/live")
                .anonymous()
                .build(),
        )
        .await;
    assert_eq!(status, 200);
    p.stop();
    assert!(!path.exists(), "temp certificate removed at exit");
}

/// Plain std I/O: no handshake at all reaches a plain-HTTP client's read.
#[test]
fn plain_http_client_reads_the_error_with_blocking_io() {
    let dir = tempfile::tempdir().unwrap();
    let p = Proc::start(&["--ephemeral", "--tls-self-signed"], dir.path());
    let mut s = std::net::TcpStream::connect(p.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    assert!(got.starts_with("HTTP/1.1 400 Bad Request"), "{got}");
    p.stop();
}
