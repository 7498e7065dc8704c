//! TLS for `localcos keys --url https://...` (rustls, ring provider, as the
//! server's own HTTPS in http/tls.rs).
//!
//! Which certificates are trusted, like curl:
//! - `--cacert FILE` (env `LOCALCOS_CACERT`): exactly the certificates in
//!   that PEM file, e.g. the `cert.pem` a `--tls-self-signed` server prints
//!   in its banner;
//! - otherwise the system's CAs (`rustls-native-certs`: `SSL_CERT_FILE`,
//!   `SSL_CERT_DIR`, the distribution's bundle) plus, when the data dir the
//!   command was given holds one, its self-signed certificate
//!   (`<data-dir>/tls/cert.pem`, the server's own on this machine).
//!
//! The server's name is checked against the URL's host, and nothing else is
//! relaxed: an untrusted or mismatched certificate fails the command with a
//! hint to pass `--cacert`.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::config::StorageMode;

/// Opens TLS to one server.
pub struct Connector {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

/// The connector for `host` (the URL's host, brackets removed).
pub fn connector(
    host: &str,
    cacert: Option<&Path>,
    storage: &StorageMode,
) -> Result<Connector, String> {
    let roots = roots(cacert, storage)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // The admin client speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(host.to_string())
            .map_err(|e| format!("--url host `{host}`: {e}"))?,
    };
    Ok(Connector {
        connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        name,
    })
}

impl Connector {
    /// The handshake on a connected socket.
    pub async fn connect(
        &self,
        stream: TcpStream,
        target: &str,
    ) -> Result<TlsStream<TcpStream>, String> {
        self.connector
            .connect(self.name.clone(), stream)
            .await
            .map_err(|e| {
                let hint = if e.to_string().contains("certificate") {
                    " (trust the server's certificate with --cacert FILE; a --tls-self-signed \
                     server prints its path when it starts)"
                } else {
                    ""
                };
                format!("{target}: TLS handshake failed: {e}{hint}")
            })
    }
}

/// The trust anchors: see the module doc.
fn roots(cacert: Option<&Path>, storage: &StorageMode) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(file) = cacert {
        let certs = read_pem(file).map_err(|e| format!("--cacert {}: {e}", file.display()))?;
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("--cacert {}: {e}", file.display()))?;
        }
        return Ok(roots);
    }
    // Unreadable system certificates are skipped, as every client does.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(dir) = storage.local_dir() {
        let own = dir.join("tls").join("cert.pem");
        if own.is_file() {
            if let Ok(certs) = read_pem(&own) {
                roots.add_parsable_certificates(certs);
            }
        }
    }
    Ok(roots)
}

/// Every CERTIFICATE block of a PEM file (at least one).
fn read_pem(file: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM CERTIFICATE block".into());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cacert_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let missing = dir.path().join("missing.pem");
        let cases = [
            (empty.as_path(), "no PEM CERTIFICATE block"),
            (missing.as_path(), "missing.pem"),
        ];
        for (file, want) in cases {
            let e = connector("127.0.0.1", Some(file), &StorageMode::Memory)
                .err()
                .unwrap();
            assert!(e.contains("--cacert") && e.contains(want), "{e}");
        }
    }

    #[test]
    fn host_names_and_addresses() {
        for (host, ok) in [
            ("127.0.0.1", true),
            ("::1", true),
            ("localhost", true),
            ("cos.ap-guangzhou.myqcloud.com", true),
            ("bad host", false),
        ] {
            assert_eq!(
                connector(host, None, &StorageMode::Memory).is_ok(),
                ok,
                "{host}"
            );
        }
    }
}
