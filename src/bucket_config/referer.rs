//! Hotlink protection `PUT/GET /?referer` (cos-bucket.md §2, NOTES 8): a
//! white or black list of referring domains, checked for anonymous
//! requests only. There is no DELETE on COS: the SDKs PUT an empty body,
//! and GET then answers 200 with an empty `<RefererConfiguration>`; a
//! DELETE does the same here.

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::{parse_xml, BucketConfig, Unset};
use crate::error::{Error, ErrorCode, Result};
use crate::render::xml::Xml;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Referer {
    /// `Enabled` or `Disabled`; `None` only for the empty "delete" PUT.
    pub status: Option<String>,
    /// `White-List` or `Black-List`.
    pub referer_type: String,
    pub domains: Vec<String>,
    /// `Allow` or `Deny` as sent (`None`: absent, meaning Deny).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_referer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_signature_url: Option<String>,
}

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "RefererType")]
    referer_type: Option<String>,
    #[serde(rename = "DomainList")]
    domain_list: Option<DomainList>,
    #[serde(rename = "EmptyReferConfiguration")]
    empty_referer: Option<String>,
    #[serde(rename = "VerifySignatureURL")]
    verify_signature_url: Option<String>,
}

#[derive(Deserialize)]
struct DomainList {
    #[serde(rename = "Domain", default)]
    domains: Vec<String>,
}

fn invalid(message: &str) -> Error {
    Error::with_message(ErrorCode::InvalidArgument, message.to_string())
}

impl BucketConfig for Referer {
    const NAME: &'static str = "referer";
    const UNSET: Unset = Unset::Empty("RefererConfiguration");

    /// # Behavior
    /// - An empty body is the SDKs' "delete" (stores nothing).
    /// - Missing Status, RefererType or DomainList → 400 MalformedXML; a
    ///   value outside its enum, or an empty Domain → 400 InvalidArgument.
    fn parse(body: &[u8]) -> Result<Self> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Referer::default());
        }
        let doc: Doc = parse_xml(body, "RefererConfiguration")?;
        let malformed = || {
            Error::with_message(
                ErrorCode::MalformedXML,
                "RefererConfiguration needs Status, RefererType and DomainList.",
            )
        };
        let status = doc.status.ok_or_else(malformed)?;
        let referer_type = doc.referer_type.ok_or_else(malformed)?;
        let domains = doc.domain_list.ok_or_else(malformed)?.domains;
        if status != "Enabled" && status != "Disabled" {
            return Err(invalid("Status must be Enabled or Disabled."));
        }
        if referer_type != "White-List" && referer_type != "Black-List" {
            return Err(invalid("RefererType must be White-List or Black-List."));
        }
        if domains.iter().any(|d| d.trim().is_empty()) {
            return Err(invalid("A Domain must not be empty."));
        }
        if let Some(e) = doc.empty_referer.as_deref() {
            if e != "Allow" && e != "Deny" {
                return Err(invalid("EmptyReferConfiguration must be Allow or Deny."));
            }
        }
        Ok(Referer {
            status: Some(status),
            referer_type,
            domains,
            empty_referer: doc.empty_referer,
            verify_signature_url: doc.verify_signature_url,
        })
    }

    fn is_empty(&self) -> bool {
        self.status.is_none()
    }

    fn render(&self) -> String {
        let mut x = Xml::new("RefererConfiguration");
        if let Some(s) = &self.status {
            x.elem("Status", s)
                .elem("RefererType", &self.referer_type)
                .open("DomainList");
            for d in &self.domains {
                x.elem("Domain", d);
            }
            x.close("DomainList");
            if let Some(e) = &self.empty_referer {
                x.elem("EmptyReferConfiguration", e);
            }
            if let Some(v) = &self.verify_signature_url {
                x.elem("VerifySignatureURL", v);
            }
        }
        x.finish("RefererConfiguration")
    }
}

/// Whether `referer` (the header's value) matches the domain entry `domain`
/// (cos-bucket.md §2): the scheme is ignored, then a prefix match;
/// `*.example.com` also matches `example.com` and any depth of subdomain.
pub fn domain_matches(domain: &str, referer: &str) -> bool {
    let rest = referer
        .split_once("://")
        .map_or(referer, |(_, r)| r)
        .to_ascii_lowercase();
    let domain = domain.trim().to_ascii_lowercase();
    match domain.strip_prefix("*.") {
        Some(base) => {
            // The referer's host (up to port or path) is base or ends in .base,
            // and what follows the host continues the pattern's prefix rule.
            let host_end = rest.find([':', '/', '?']).unwrap_or(rest.len());
            let host = &rest[..host_end];
            let (base_host, base_rest) = match base.find([':', '/']) {
                Some(i) => (&base[..i], &base[i..]),
                None => (base, ""),
            };
            (host == base_host || host.ends_with(&format!(".{base_host}")))
                && rest[host_end..].starts_with(base_rest)
        }
        None => rest.starts_with(&domain),
    }
}

impl Referer {
    /// Whether an anonymous request with these headers may proceed.
    pub fn allows(&self, h: &HeaderMap) -> bool {
        if self.status.as_deref() != Some("Enabled") {
            return true;
        }
        let referer = crate::http::header::get(h, "referer")
            .map(str::trim)
            .filter(|r| !r.is_empty());
        let Some(referer) = referer else {
            return self.empty_referer.as_deref() == Some("Allow");
        };
        let listed = self.domains.iter().any(|d| domain_matches(d, referer));
        if self.referer_type == "White-List" {
            listed
        } else {
            !listed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_table() {
        let cases = [
            ("www.example.com", "https://www.example.com/123", true),
            ("www.example.com", "http://www.example.com.cn/x", true),
            ("www.example.com", "https://example.com/", false),
            ("example.com", "http://example.com:8080/a", true),
            ("example.com:8080", "http://example.com/a", false),
            ("*.example.com", "https://example.com/", true),
            ("*.example.com", "https://b.example.com/x", true),
            ("*.example.com", "https://a.b.example.com", true),
            ("*.example.com", "https://badexample.com", false),
            (
                "www.example.com/example",
                "https://www.example.com/example/1.jpg",
                true,
            ),
            (
                "www.example.com/example",
                "https://www.example.com/other",
                false,
            ),
            ("10.0.0.1", "http://10.0.0.1:9000/x", true),
        ];
        for (d, r, want) in cases {
            assert_eq!(domain_matches(d, r), want, "{d} vs {r}");
        }
    }

    #[test]
    fn allow_table() {
        let white = Referer::parse(b"<RefererConfiguration><Status>Enabled</Status><RefererType>White-List</RefererType><DomainList><Domain>*.example.com</Domain></DomainList></RefererConfiguration>").unwrap();
        let mut black = white.clone();
        black.referer_type = "Black-List".into();
        black.empty_referer = Some("Allow".into());
        let with = |r: &str| {
            let mut h = HeaderMap::new();
            h.insert("referer", r.parse().unwrap());
            h
        };
        assert!(white.allows(&with("https://www.example.com/page")));
        assert!(!white.allows(&with("https://evil.test/")));
        assert!(
            !white.allows(&HeaderMap::new()),
            "empty referer: Deny by default"
        );
        assert!(!black.allows(&with("https://www.example.com/page")));
        assert!(black.allows(&with("https://evil.test/")));
        assert!(black.allows(&HeaderMap::new()));
        let mut off = white.clone();
        off.status = Some("Disabled".into());
        assert!(off.allows(&HeaderMap::new()));
    }
}
