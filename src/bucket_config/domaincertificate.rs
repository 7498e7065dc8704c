//! Custom-domain certificates `PUT /?domaincertificate`,
//! `GET|DELETE /?domaincertificate&domainname=<d>` (cos-bucket.md §10).
//!
//! Stored only: localcos terminates no TLS, so a certificate changes
//! nothing a client can observe except this API. PUT binds one certificate
//! (a `CertId` of Tencent Cloud's SSL service, or a PEM `Cert` +
//! `PrivateKey`) to every `DomainName` listed; GET answers
//! `<DomainCertificate><Status>…</Status><CertificateInfo><CertId>…` (the
//! private key is never returned), Status `Enabled` while the domain is an
//! ENABLED rule of the bucket's `?domain` configuration, else `Disabled`;
//! a domain without certificate → 404 NoSuchCertificate.

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::domain::{valid_domain, DomainConfig};
use super::{parse_xml, read_body, stored};
use crate::error::{Error, ErrorCode, Result};
use crate::http::target::BucketName;
use crate::op::{AppState, Req, Response};
use crate::render::headers::ResponseBuilder;
use crate::render::xml::Xml;

/// Stored under this name in `BucketRecord::configs`.
const NAME: &str = "domaincertificate";

/// The certificates of one bucket, by domain name (lower case).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Certificates {
    pub by_domain: BTreeMap<String, Certificate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// `CustomCert`.
    pub cert_type: String,
    /// As sent, or for an uploaded PEM `localcos-<md5 of the PEM>`.
    pub cert_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
}

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "CertificateInfo")]
    info: Option<InfoDoc>,
    #[serde(rename = "DomainList")]
    domains: Option<DomainListDoc>,
}

#[derive(Deserialize)]
struct InfoDoc {
    #[serde(rename = "CertType")]
    cert_type: Option<String>,
    #[serde(rename = "CustomCert")]
    custom: Option<CustomDoc>,
}

#[derive(Deserialize)]
struct CustomDoc {
    #[serde(rename = "CertId")]
    cert_id: Option<String>,
    #[serde(rename = "Cert")]
    cert: Option<String>,
    #[serde(rename = "PrivateKey")]
    private_key: Option<String>,
}

#[derive(Deserialize)]
struct DomainListDoc {
    #[serde(rename = "DomainName", default)]
    names: Vec<String>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::with_message(ErrorCode::InvalidArgument, message.into())
}

fn malformed(message: &str) -> Error {
    Error::with_message(ErrorCode::MalformedXML, message.to_string())
}

/// Parses a PUT body into the certificate and the domains it is for.
/// # Behavior
/// - Missing CertificateInfo, CertType, CustomCert or DomainList/DomainName
///   → 400 MalformedXML.
/// - CertType other than `CustomCert`, neither a CertId nor both Cert and
///   PrivateKey, a Cert/PrivateKey that is not PEM, or a DomainName that is
///   not a domain → 400 InvalidArgument.
pub fn parse(body: &[u8]) -> Result<(Certificate, Vec<String>)> {
    let doc: Doc = parse_xml(body, "DomainCertificate")?;
    let info = doc
        .info
        .ok_or_else(|| malformed("DomainCertificate needs CertificateInfo."))?;
    let cert_type = info
        .cert_type
        .ok_or_else(|| malformed("CertificateInfo needs CertType."))?;
    if cert_type != "CustomCert" {
        return Err(invalid("CertType must be CustomCert."));
    }
    let custom = info
        .custom
        .ok_or_else(|| malformed("CertificateInfo needs CustomCert."))?;
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let (cert_id, cert, private_key) = (
        nonempty(custom.cert_id),
        nonempty(custom.cert),
        nonempty(custom.private_key),
    );
    let cert_id = match (cert_id, &cert, &private_key) {
        (Some(id), None, None) => id,
        (None, Some(c), Some(k)) => {
            if !c.contains("-----BEGIN CERTIFICATE-----")
                || !c.contains("-----END CERTIFICATE-----")
            {
                return Err(invalid("Cert must be a PEM certificate."));
            }
            if !k.contains("-----BEGIN") || !k.contains("PRIVATE KEY-----") {
                return Err(invalid("PrivateKey must be a PEM private key."));
            }
            let digest = Md5::digest(c.as_bytes());
            format!("localcos-{}", hex::encode(&digest[..8]))
        }
        _ => {
            return Err(invalid(
                "CustomCert needs either CertId or both Cert and PrivateKey.",
            ))
        }
    };
    let names = doc.domains.map(|d| d.names).unwrap_or_default();
    if names.is_empty() {
        return Err(malformed("DomainList needs a DomainName."));
    }
    if let Some(bad) = names.iter().find(|n| !valid_domain(n)) {
        return Err(invalid(format!("`{bad}` is not a valid domain name.")));
    }
    Ok((
        Certificate {
            cert_type,
            cert_id,
            cert,
            private_key,
        },
        names.iter().map(|n| n.to_ascii_lowercase()).collect(),
    ))
}

fn certificates(rec: &crate::storage::BucketRecord) -> Certificates {
    rec.configs
        .get(NAME)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// The `domainname` parameter (400 InvalidArgument when missing).
fn domain_param(req: &Req) -> Result<String> {
    req.query
        .get("domainname")
        .filter(|d| !d.is_empty())
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| invalid("The domainname parameter is required."))
}

async fn update(
    state: &AppState,
    bucket: &BucketName,
    f: impl FnOnce(&mut Certificates) + Send + 'static,
) -> Result<()> {
    state
        .store
        .meta()
        .update_bucket(
            bucket.as_str(),
            Box::new(move |rec| {
                let mut certs = certificates(rec);
                f(&mut certs);
                if certs.by_domain.is_empty() {
                    rec.configs.remove(NAME);
                } else if let Ok(v) = serde_json::to_value(&certs) {
                    rec.configs.insert(NAME.to_string(), v);
                }
            }),
        )
        .await?;
    Ok(())
}

/// Routes `?domaincertificate` by method.
pub async fn dispatch(
    state: &AppState,
    bucket: &BucketName,
    method: &Method,
    req: Req,
) -> Result<Response> {
    let rec = state
        .store
        .bucket(bucket.as_str())
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NoSuchBucket))?;
    match *method {
        Method::PUT => {
            let body = read_body(req).await?;
            let (cert, names) = parse(&body)?;
            update(state, bucket, move |certs| {
                for n in names {
                    certs.by_domain.insert(n, cert.clone());
                }
            })
            .await?;
            Ok(ResponseBuilder::new(StatusCode::OK)
                .content_length(0)
                .empty())
        }
        Method::GET => {
            let domain = domain_param(&req)?;
            let certs = certificates(&rec);
            let cert = certs
                .by_domain
                .get(&domain)
                .ok_or_else(|| Error::new(ErrorCode::NoSuchCertificate))?;
            let bound = stored::<DomainConfig>(&rec).is_some_and(|d| {
                d.rules
                    .iter()
                    .any(|r| r.status == "ENABLED" && r.name.eq_ignore_ascii_case(&domain))
            });
            let mut x = Xml::new("DomainCertificate");
            x.elem("Status", if bound { "Enabled" } else { "Disabled" })
                .open("CertificateInfo")
                .elem("CertId", &cert.cert_id)
                .elem("ValidityBegin", "")
                .elem("ValidityExpire", "")
                .close("CertificateInfo");
            Ok(ResponseBuilder::new(StatusCode::OK).xml(x.finish("DomainCertificate")))
        }
        _ => {
            let domain = domain_param(&req)?;
            update(state, bucket, move |certs| {
                certs.by_domain.remove(&domain);
            })
            .await?;
            Ok(ResponseBuilder::new(StatusCode::NO_CONTENT).empty())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "<Cert>-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----</Cert><PrivateKey>-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----</PrivateKey>";

    #[test]
    fn validation_table() {
        let doc = |t: &str, custom: &str, names: &str| {
            format!("<DomainCertificate><CertificateInfo><CertType>{t}</CertType><CustomCert>{custom}</CustomCert></CertificateInfo><DomainList>{names}</DomainList></DomainCertificate>")
        };
        let one = "<DomainName>static.example.com</DomainName>";
        let cases: Vec<(String, &str)> = vec![
            (doc("CustomCert", PEM, one), "ok"),
            (doc("CustomCert", "<CertId>abc123</CertId>", one), "ok"),
            (doc("OtherCert", PEM, one), "InvalidArgument"),
            (doc("CustomCert", "", one), "InvalidArgument"),
            (doc("CustomCert", "<Cert>x</Cert>", one), "InvalidArgument"),
            (
                doc(
                    "CustomCert",
                    "<Cert>not pem</Cert><PrivateKey>not pem</PrivateKey>",
                    one,
                ),
                "InvalidArgument",
            ),
            (
                doc("CustomCert", &format!("<CertId>a</CertId>{PEM}"), one),
                "InvalidArgument",
            ),
            (doc("CustomCert", PEM, ""), "MalformedXML"),
            (
                doc("CustomCert", PEM, "<DomainName>bad domain</DomainName>"),
                "InvalidArgument",
            ),
            (
                "<DomainCertificate><DomainList>{one}</DomainList></DomainCertificate>".into(),
                "MalformedXML",
            ),
            ("<Other/>".into(), "MalformedXML"),
        ];
        for (body, want) in cases {
            let got = parse(body.as_bytes())
                .err()
                .map_or("ok", |e| e.code.as_str());
            assert_eq!(got, want, "{body}");
        }
        let (cert, names) = parse(
            doc(
                "CustomCert",
                PEM,
                "<DomainName>A.example.com</DomainName><DomainName>b.example.com</DomainName>",
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(names, ["a.example.com", "b.example.com"]);
        assert!(cert.cert_id.starts_with("localcos-"));
    }
}
