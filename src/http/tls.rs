//! HTTPS on the listen address: rustls (ring provider), HTTP/1.1 and HTTP/2
//! by ALPN, the certificate swapped in place on SIGHUP, and a self-signed
//! certificate generated with rcgen for local development.
//!
//! - The certificate lives behind an [`ArcSwap`] that the rustls server
//!   config resolves on every handshake ([`CertStore`]): a reload swaps the
//!   `Arc`, so new handshakes present the new certificate while established
//!   connections keep their session. A reload that fails (unreadable file,
//!   bad PEM, key not matching the certificate) keeps the old certificate
//!   and logs the error.
//! - A connection's first byte decides: `0x16` is a TLS handshake record;
//!   anything else (`GET `, `PUT `, the h2c preface) is plain HTTP sent to
//!   the HTTPS port and gets a `400` with a COS XML error saying so, then the
//!   connection closes (never a hang or a TLS alert the client cannot read).
//! - TLS connections never get a sendfile queue (http/sendfile.rs): their
//!   bodies must pass through rustls to be encrypted, so they stream as
//!   ordinary byte chunks.
//! - `--tls-self-signed` keeps its certificate in `<data-dir>/tls/`
//!   (`cert.pem`, `key.pem` with mode 0600) and reuses it across restarts
//!   while it is valid for 30 more days and covers every name the current
//!   configuration needs; otherwise a new one replaces it. With memory
//!   storage it goes into a temp dir that is removed at exit.

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::{Config, StorageMode, TlsMode};

/// How long a client may take to send its first byte, its ClientHello and
/// the rest of the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A self-signed certificate is replaced when it expires within this long.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 86_400);

/// Validity of a generated certificate (825 days: the longest that Apple
/// platforms accept for a server certificate).
const SELF_SIGNED_DAYS: i64 = 825;

/// Encrypted bytes a connection may hold before its writes wait for the
/// socket (rustls' default is 64 KiB): a large body goes out in writes of up
/// to sixteen 16 KiB records instead of four, fewer syscalls and TCP pushes
/// per byte (benches/tls.rs).
const SEND_BUFFER: usize = 256 << 10;

/// The first byte of a TLS handshake record (ContentType handshake).
const TLS_HANDSHAKE: u8 = 0x16;

/// The ring provider, the one every config here uses.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's provider: ring's suites with the AES-128-GCM ones first, and
/// the server's order wins (`ignore_client_order`). OpenSSL, rustls and Go
/// clients list AES-256-GCM first; AES-128-GCM gives TLS's 128-bit security
/// level as well and encrypts in 10 AES rounds instead of 14, and encryption
/// is most of the CPU an HTTPS download costs beyond a plain one
/// (benches/tls.rs). ChaCha20-Poly1305 stays available for clients that
/// offer nothing else.
fn server_provider() -> Arc<CryptoProvider> {
    use rustls::CipherSuite as S;
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites.sort_by_key(|s| {
        !matches!(
            s.suite(),
            S::TLS13_AES_128_GCM_SHA256
                | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    Arc::new(p)
}

/// The current certificate, resolved on every handshake.
#[derive(Debug)]
struct CertStore(ArcSwap<CertifiedKey>);

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// Where the certificate comes from (and goes back to on reload).
enum Source {
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    SelfSigned {
        dir: PathBuf,
        names: Vec<String>,
        /// Memory storage: the temp dir holding the certificate.
        temp: Option<tempfile::TempDir>,
    },
}

/// HTTPS for one listener.
pub struct Tls {
    acceptor: TlsAcceptor,
    store: Arc<CertStore>,
    source: Source,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.cert_path())
            .finish()
    }
}

impl Tls {
    /// Loads (or, for `--tls-self-signed`, generates) the certificate.
    pub fn new(mode: &TlsMode, config: &Config) -> Result<Tls, String> {
        let source = match mode {
            TlsMode::Files { cert, key } => Source::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            TlsMode::SelfSigned => {
                let names = self_signed_names(config);
                let (dir, temp) = match &config.storage {
                    StorageMode::Dir(d) => (d.join("tls"), None),
                    StorageMode::Cluster(c) => (c.scratch.join("tls"), None),
                    StorageMode::Memory => {
                        let t = tempfile::Builder::new()
                            .prefix("localcos-tls-")
                            .tempdir()
                            .map_err(|e| format!("cannot create a temp dir for TLS: {e}"))?;
                        (t.path().to_path_buf(), Some(t))
                    }
                };
                Source::SelfSigned { dir, names, temp }
            }
        };
        let key = source.load()?;
        let store = Arc::new(CertStore(ArcSwap::from_pointee(key)));
        let mut server = rustls::ServerConfig::builder_with_provider(server_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(store.clone());
        server.ignore_client_order = true;
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            store,
            source,
        })
    }

    /// The PEM certificate clients should trust (self-signed) or the
    /// configured one.
    pub fn cert_path(&self) -> PathBuf {
        match &self.source {
            Source::Files { cert, .. } => cert.clone(),
            Source::SelfSigned { dir, .. } => dir.join("cert.pem"),
        }
    }

    /// For the banner: `Some(temporary?)` when the certificate is self-signed.
    pub fn self_signed(&self) -> Option<bool> {
        match &self.source {
            Source::Files { .. } => None,
            Source::SelfSigned { temp, .. } => Some(temp.is_some()),
        }
    }

    /// The certificate chain handshakes present now.
    pub fn current_chain(&self) -> Vec<CertificateDer<'static>> {
        self.store.0.load().cert.clone()
    }

    /// Reads the certificate again (self-signed: renews it when due) and
    /// swaps it in; on error the current one stays.
    pub fn reload(&self) -> Result<(), String> {
        let key = self.source.load()?;
        self.store.0.store(Arc::new(key));
        Ok(())
    }

    /// Reloads on every SIGHUP until the task is aborted.
    pub fn reload_on_sighup(self: &Arc<Self>) -> io::Result<tokio::task::JoinHandle<()>> {
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let tls = self.clone();
        Ok(tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match tls.reload() {
                    Ok(()) => tracing::info!(
                        cert = %tls.cert_path().display(),
                        "SIGHUP: TLS certificate reloaded"
                    ),
                    Err(e) => tracing::error!(
                        error = %e,
                        "SIGHUP: TLS certificate not reloaded; still serving the previous one"
                    ),
                }
            }
        }))
    }

    /// Turns an accepted connection into a TLS stream: `None` when the peer
    /// sent plain HTTP (answered with 400 here), went silent, or failed the
    /// handshake.
    pub async fn accept(&self, stream: TcpStream) -> Option<TlsStream<TcpStream>> {
        let mut first = [0u8; 1];
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
            Ok(Ok(1)) => {}
            _ => return None,
        }
        if first[0] != TLS_HANDSHAKE {
            answer_plain_http(stream).await;
            return None;
        }
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await {
            Ok(Ok(mut s)) => {
                s.get_mut().1.set_buffer_limit(Some(SEND_BUFFER));
                Some(s)
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!("TLS handshake timed out");
                None
            }
        }
    }
}

impl Source {
    /// The certified key from the files (generated first when self-signed
    /// and missing, expiring or not covering the names).
    fn load(&self) -> Result<CertifiedKey, String> {
        match self {
            Source::Files { cert, key } => load_pem(cert, key),
            Source::SelfSigned { dir, names, .. } => {
                let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
                match load_pem(&cert, &key)
                    .and_then(|k| covers(&k, names, SystemTime::now()).map(|()| k))
                {
                    Ok(k) => Ok(k),
                    Err(why) => {
                        if cert.exists() {
                            tracing::info!(reason = %why, "replacing the self-signed TLS certificate");
                        }
                        generate(dir, names)?;
                        load_pem(&cert, &key)
                    }
                }
            }
        }
    }
}

/// A certificate chain and its private key from PEM files; the key must
/// belong to the first certificate.
pub fn load_pem(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("TLS certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "TLS certificate {}: no PEM CERTIFICATE block",
            cert.display()
        ));
    }
    let der =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("TLS key {}: {e}", key.display()))?;
    CertifiedKey::from_der(chain, der, &provider())
        .map_err(|e| format!("TLS key {} for {}: {e}", key.display(), cert.display()))
}

/// The names a self-signed certificate covers: loopback, the region's COS
/// hosts, each base domain and its buckets, service hosts, custom domains
/// and a specific listen address.
pub fn self_signed_names(config: &Config) -> Vec<String> {
    let a = &config.addressing;
    let mut names: Vec<String> = vec![
        "localhost".into(),
        "127.0.0.1".into(),
        "::1".into(),
        format!("cos.{}.myqcloud.com", a.region),
        format!("*.cos.{}.myqcloud.com", a.region),
        "service.cos.myqcloud.com".into(),
    ];
    for base in &a.base_domains {
        names.push(base.clone());
        names.push(format!("*.{base}"));
    }
    names.extend(a.service_hosts.iter().cloned());
    let mut domains: Vec<&String> = a.domains.keys().collect();
    domains.sort();
    names.extend(domains.into_iter().cloned());
    let ip = config.listen.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(ip.to_string());
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// `Ok` when `key`'s certificate is valid now and for [`RENEW_BEFORE`] more,
/// and covers every name (a wildcard name is probed with one label).
fn covers(key: &CertifiedKey, names: &[String], now: SystemTime) -> Result<(), String> {
    let leaf = key.end_entity_cert().map_err(|e| e.to_string())?.clone();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(leaf.clone()).map_err(|e| e.to_string())?;
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| e.to_string())?;
    let at = |t: SystemTime| {
        UnixTime::since_unix_epoch(t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default())
    };
    for name in names {
        let probe = match name.strip_prefix("*.") {
            Some(rest) => format!("localcos-probe.{rest}"),
            None => name.clone(),
        };
        let server_name = match probe.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(probe.clone()).map_err(|e| format!("{name}: {e}"))?,
        };
        for t in [now, now + RENEW_BEFORE] {
            use rustls::client::danger::ServerCertVerifier;
            verifier
                .verify_server_cert(&leaf, &[], &server_name, &[], at(t))
                .map_err(|e| format!("{name}: {e}"))?;
        }
    }
    Ok(())
}

/// Writes a new self-signed certificate for `names` into `dir`
/// (`key.pem` 0600, then `cert.pem`, each through a temp file and rename).
fn generate(dir: &Path, names: &[String]) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot generate a TLS certificate: {e}");
    let key = rcgen::KeyPair::generate().map_err(|e| fail(&e))?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(|e| fail(&e))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        "localcos self-signed certificate",
    );
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "localcos");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(SELF_SIGNED_DAYS);
    let mut serial: [u8; 16] = rand::random();
    serial[0] &= 0x7f; // a positive INTEGER
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let cert = params.self_signed(&key).map_err(|e| fail(&e))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write_file(&dir.join("key.pem"), key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&dir.join("cert.pem"), cert.pem().as_bytes(), 0o644)?;
    tracing::info!(dir = %dir.display(), "generated a self-signed TLS certificate");
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let write = || -> io::Result<()> {
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Sends `request` over TLS on `stream` and returns the first KiB of the
/// answer: `localcos healthcheck` against an HTTPS listener. It checks the
/// local server's readiness, not its identity, so any certificate is
/// accepted (the signatures of the handshake are still checked).
pub fn probe(stream: std::net::TcpStream, request: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::{Read, Write};
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    tls.write_all(request)?;
    let mut buf = vec![0u8; 1024];
    let mut n = 0;
    while n < buf.len() {
        match tls.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            // Servers often close without close_notify after `Connection: close`.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && n > 0 => break,
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf)
}

/// The health probe's verifier: any certificate, real signatures.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A plain-HTTP request on the HTTPS port: read its head, answer 400 with a
/// COS XML error that names the problem, close.
async fn answer_plain_http(mut stream: TcpStream) {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while head.len() < 16 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let response = plain_http_response(&head, &crate::service::request_id());
    if stream.write_all(response.as_bytes()).await.is_err() {
        return;
    }
    let _ = stream.shutdown().await;
    // Read what else the client sends for a moment, so that closing with
    // unread bytes does not reset the connection before it reads the answer.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut drained = 0usize;
        while drained < 1 << 20 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}

/// The 400 for plain HTTP on the HTTPS port (a whole HTTP/1.1 response).
fn plain_http_response(head: &[u8], request_id: &str) -> String {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let resource = line
        .split(' ')
        .nth(1)
        .filter(|t| t.starts_with('/'))
        .map(|t| t.split('?').next().unwrap_or("/"))
        .unwrap_or("/");
    let body = crate::render::xml::error_body(
        "InvalidRequest",
        "The plain HTTP request was sent to an HTTPS port: this localcos endpoint speaks HTTPS (TLS); use an https:// URL",
        resource,
        request_id,
    );
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\nx-cos-request-id: {request_id}\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(f: impl FnOnce(&mut crate::config::ServeArgs)) -> Config {
        let mut args = crate::config::ServeArgs {
            ephemeral: true,
            secret_id: Some("id".into()),
            secret_key: Some("key".into()),
            ..Default::default()
        };
        f(&mut args);
        Config::from_parts(&args, Default::default()).unwrap()
    }

    #[test]
    fn aes_128_gcm_suites_lead_and_none_is_lost() {
        use rustls::CipherSuite as S;
        let ours: Vec<S> = server_provider()
            .cipher_suites
            .iter()
            .map(|s| s.suite())
            .collect();
        assert_eq!(ours[0], S::TLS13_AES_128_GCM_SHA256);
        let first_tls12 = server_provider()
            .cipher_suites
            .iter()
            .find(|s| s.tls13().is_none())
            .map(|s| s.suite());
        assert_eq!(
            first_tls12,
            Some(S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
        );
        let mut all: Vec<S> = provider().cipher_suites.iter().map(|s| s.suite()).collect();
        let mut sorted = ours.clone();
        all.sort_by_key(|s| u16::from(*s));
        sorted.sort_by_key(|s| u16::from(*s));
        assert_eq!(sorted, all, "the same suites, reordered");
    }

    #[test]
    fn names_follow_the_config() {
        let cases: Vec<(Config, Vec<&str>)> = vec![
            (
                config(|_| {}),
                vec![
                    "localhost",
                    "127.0.0.1",
                    "::1",
                    "cos.ap-guangzhou.myqcloud.com",
                    "*.cos.ap-guangzhou.myqcloud.com",
                    "service.cos.myqcloud.com",
                ],
            ),
            (
                config(|a| {
                    a.region = Some("ap-beijing".into());
                    a.base_domains = vec!["cos.local".into()];
                    a.domains = vec!["files.example.com=b".into()];
                    a.listen = Some("192.0.2.7:9443".into());
                }),
                vec![
                    "localhost",
                    "127.0.0.1",
                    "::1",
                    "cos.ap-beijing.myqcloud.com",
                    "*.cos.ap-beijing.myqcloud.com",
                    "service.cos.myqcloud.com",
                    "cos.local",
                    "*.cos.local",
                    "files.example.com",
                    "192.0.2.7",
                ],
            ),
        ];
        for (c, want) in cases {
            assert_eq!(self_signed_names(&c), want);
        }
    }

    #[test]
    fn self_signed_is_generated_reused_and_renewed() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = ["localhost", "127.0.0.1", "*.cos.ap-guangzhou.myqcloud.com"]
            .map(String::from)
            .to_vec();
        let source = Source::SelfSigned {
            dir: dir.path().to_path_buf(),
            names: names.clone(),
            temp: None,
        };
        let first = source.load().unwrap();
        let mode = |p: &str| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(dir.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("key.pem"), 0o600);
        assert_eq!(mode("cert.pem"), 0o644);
        // Reused while valid and covering the names.
        let again = source.load().unwrap();
        assert_eq!(first.cert, again.cert);
        let now = SystemTime::now();
        covers(&first, &names, now).unwrap();
        // Near its end (within RENEW_BEFORE) or missing a name: replaced.
        let late = now + Duration::from_secs((SELF_SIGNED_DAYS as u64 - 10) * 86_400);
        assert!(covers(&first, &names, late).is_err());
        let more = [names.clone(), vec!["*.cos.local".to_string()]].concat();
        let e = covers(&first, &more, now).unwrap_err();
        assert!(e.contains("*.cos.local"), "{e}");
        let wider = Source::SelfSigned {
            dir: dir.path().to_path_buf(),
            names: more.clone(),
            temp: None,
        };
        let renewed = wider.load().unwrap();
        assert_ne!(renewed.cert, first.cert);
        covers(&renewed, &more, now).unwrap();
        // A key that does not belong to the certificate is refused.
        let other = tempfile::tempdir().unwrap();
        generate(other.path(), &names).unwrap();
        let e = load_pem(&dir.path().join("cert.pem"), &other.path().join("key.pem"))
            .err()
            .unwrap();
        assert!(e.contains("key"), "{e}");
        // Garbage instead of a certificate: a clear error.
        std::fs::write(other.path().join("cert.pem"), "not a certificate").unwrap();
        let e = load_pem(
            &other.path().join("cert.pem"),
            &other.path().join("key.pem"),
        )
        .err()
        .unwrap();
        assert!(e.contains("no PEM CERTIFICATE"), "{e}");
    }

    #[test]
    fn plain_http_answer() {
        let cases = [
            (
                &b"GET /bucket/key?acl HTTP/1.1\r\nHost: x\r\n\r\n"[..],
                "/bucket/key",
            ),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "/"),
            (b"", "/"),
        ];
        for (head, resource) in cases {
            let r = plain_http_response(head, "rid-1");
            let (h, body) = r.split_once("\r\n\r\n").unwrap();
            assert!(h.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{h}");
            assert!(h.contains("\r\nx-cos-request-id: rid-1"), "{h}");
            assert!(h.contains("\r\nConnection: close"), "{h}");
            assert!(h.contains(&format!("\r\nContent-Length: {}", body.len())));
            assert!(body.contains("<Code>InvalidRequest</Code>"), "{body}");
            assert!(body.contains("HTTPS"), "{body}");
            assert!(
                body.contains(&format!("<Resource>{resource}</Resource>")),
                "{body}"
            );
            assert!(body.contains("<RequestId>rid-1</RequestId>"), "{body}");
        }
    }
}
