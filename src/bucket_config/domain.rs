//! Custom domains `PUT/GET/DELETE /?domain` (cos-bucket.md §10): stored,
//! validated and returned as sent; a name bound to another bucket → 409
//! RecordAlreadyExist; GET unset → 404 DomainConfigNotFoundError.
//!
//! Effect: a request whose Host is the `Name` of an ENABLED rule reaches
//! that bucket: `REST` as the normal API (like the config file's `domains`
//! map, which wins when both name a host), `WEBSITE` as the static website
//! endpoint (`website.rs`). The host → bucket map is cached per node and
//! rebuilt after a local change or when older than [`CACHE_TTL`] (so other
//! nodes of a cluster see a change within that time).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{parse_xml, stored, BucketConfig, Unset};
use crate::error::{Error, ErrorCode, Result};
use crate::http::target::BucketName;
use crate::op::{AppState, Req, Response};
use crate::render::xml::Xml;

/// How long a node trusts its host → bucket map without re-reading it.
pub const CACHE_TTL: Duration = Duration::from_secs(2);

/// Most rules one configuration may hold ([REC]; COS documents none).
pub const MAX_RULES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DomainConfig {
    pub rules: Vec<DomainRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DomainRule {
    /// `ENABLED` or `DISABLED`.
    pub status: String,
    pub name: String,
    /// `REST` or `WEBSITE`.
    pub kind: String,
    /// `CNAME` or `TXT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced_replacement: Option<String>,
}

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "DomainRule", default)]
    rules: Vec<RuleDoc>,
}

#[derive(Deserialize)]
struct RuleDoc {
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "Name")]
    name: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "ForcedReplacement")]
    forced_replacement: Option<String>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::with_message(ErrorCode::InvalidArgument, message.into())
}

/// A domain name without port: labels of `[A-Za-z0-9-]`, at least two.
pub fn valid_domain(name: &str) -> bool {
    !name.contains(':') && name.contains('.') && super::website::valid_host(name)
}

impl BucketConfig for DomainConfig {
    const NAME: &'static str = "domain";
    const UNSET: Unset = Unset::Error(ErrorCode::DomainConfigNotFoundError);

    /// # Behavior
    /// - A rule without Status, Name or Type → 400 MalformedXML; a value
    ///   outside its enum, a name that is not a domain, a name listed twice
    ///   or more than [`MAX_RULES`] rules → 400 InvalidArgument.
    /// - No rule at all configures nothing (PUT removes the configuration).
    fn parse(body: &[u8]) -> Result<Self> {
        let doc: Doc = parse_xml(body, "DomainConfiguration")?;
        if doc.rules.len() > MAX_RULES {
            return Err(invalid(format!("At most {MAX_RULES} domain rules.")));
        }
        let mut rules = Vec::with_capacity(doc.rules.len());
        for r in doc.rules {
            let (Some(status), Some(name), Some(kind)) = (r.status, r.name, r.kind) else {
                return Err(Error::with_message(
                    ErrorCode::MalformedXML,
                    "A DomainRule needs Status, Name and Type.",
                ));
            };
            if status != "ENABLED" && status != "DISABLED" {
                return Err(invalid("Status must be ENABLED or DISABLED."));
            }
            if kind != "REST" && kind != "WEBSITE" {
                return Err(invalid("Type must be REST or WEBSITE."));
            }
            if let Some(f) = &r.forced_replacement {
                if f != "CNAME" && f != "TXT" {
                    return Err(invalid("ForcedReplacement must be CNAME or TXT."));
                }
            }
            if !valid_domain(&name) {
                return Err(invalid(format!("`{name}` is not a valid domain name.")));
            }
            if rules
                .iter()
                .any(|x: &DomainRule| x.name.eq_ignore_ascii_case(&name))
            {
                return Err(invalid(format!("`{name}` is listed twice.")));
            }
            rules.push(DomainRule {
                status,
                name,
                kind,
                forced_replacement: r.forced_replacement,
            });
        }
        Ok(DomainConfig { rules })
    }

    fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn render(&self) -> String {
        let mut x = Xml::new("DomainConfiguration");
        for r in &self.rules {
            x.open("DomainRule")
                .elem("Status", &r.status)
                .elem("Name", &r.name)
                .elem("Type", &r.kind);
            if let Some(f) = &r.forced_replacement {
                x.elem("ForcedReplacement", f);
            }
            x.close("DomainRule");
        }
        x.finish("DomainConfiguration")
    }
}

/// PUT `/?domain`: as the generic PUT, plus: a name another bucket already
/// has (in its `?domain` rules or the config file's `domains` map) → 409
/// RecordAlreadyExist.
pub async fn put(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    state
        .store
        .bucket(bucket.as_str())
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NoSuchBucket))?;
    let body = super::read_body(req).await?;
    let doc = DomainConfig::parse(&body)?;
    let taken = |name: &str| {
        Error::with_message(
            ErrorCode::RecordAlreadyExist,
            format!("The domain `{name}` is already bound to another bucket."),
        )
    };
    for r in &doc.rules {
        let lower = r.name.to_ascii_lowercase();
        if let Some(b) = state.config.addressing.domains.get(&lower) {
            if b != bucket.as_str() {
                return Err(taken(&r.name));
            }
        }
    }
    for rec in state.store.list_buckets().await? {
        if rec.name == bucket.as_str() {
            continue;
        }
        if let Some(other) = stored::<DomainConfig>(&rec) {
            if let Some(r) = doc.rules.iter().find(|r| {
                other
                    .rules
                    .iter()
                    .any(|o| o.name.eq_ignore_ascii_case(&r.name))
            }) {
                return Err(taken(&r.name));
            }
        }
    }
    let resp = super::store(state, bucket, doc).await;
    state.domains.invalidate();
    resp
}

/// DELETE `/?domain`.
pub async fn delete(state: &AppState, bucket: &BucketName) -> Result<Response> {
    let resp = super::delete::<DomainConfig>(state, bucket).await;
    state.domains.invalidate();
    resp
}

/// How a custom domain serves its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rest,
    Website,
}

type HostMap = HashMap<String, (String, Kind)>;

/// Per-node cache of the ENABLED custom domains of every bucket.
#[derive(Default)]
pub struct DomainCache {
    snapshot: RwLock<Option<(Instant, Arc<HostMap>)>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl DomainCache {
    /// Forgets the map (after a local change).
    pub fn invalidate(&self) {
        if let Ok(mut s) = self.snapshot.write() {
            *s = None;
        }
    }

    fn current(&self) -> Option<(bool, Arc<HostMap>)> {
        let s = self.snapshot.read().ok()?;
        s.as_ref()
            .map(|(at, map)| (at.elapsed() < CACHE_TTL, map.clone()))
    }

    async fn rebuild(&self, state: &AppState) -> Arc<HostMap> {
        let mut map = HostMap::new();
        if let Ok(buckets) = state.store.list_buckets().await {
            for rec in buckets {
                let Some(doc) = stored::<DomainConfig>(&rec) else {
                    continue;
                };
                for r in doc.rules.iter().filter(|r| r.status == "ENABLED") {
                    let kind = if r.kind == "WEBSITE" {
                        Kind::Website
                    } else {
                        Kind::Rest
                    };
                    map.insert(r.name.to_ascii_lowercase(), (rec.name.clone(), kind));
                }
            }
        }
        let map = Arc::new(map);
        if let Ok(mut s) = self.snapshot.write() {
            *s = Some((Instant::now(), map.clone()));
        }
        map
    }

    /// The bucket (full name) and kind an ENABLED custom domain `host`
    /// (lower case, no port) names.
    pub async fn lookup(&self, state: &AppState, host: &str) -> Option<(String, Kind)> {
        let map = match self.current() {
            Some((true, map)) => map,
            Some((false, stale)) => match self.refreshing.try_lock() {
                Ok(_guard) => self.rebuild(state).await,
                Err(_) => stale,
            },
            None => {
                let _guard = self.refreshing.lock().await;
                match self.current() {
                    Some((true, map)) => map,
                    _ => self.rebuild(state).await,
                }
            }
        };
        map.get(host).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_table() {
        let rule = |s: &str, n: &str, t: &str, f: &str| {
            format!(
                "<DomainRule><Status>{s}</Status><Name>{n}</Name><Type>{t}</Type>{f}</DomainRule>"
            )
        };
        let doc = |rules: &str| format!("<DomainConfiguration>{rules}</DomainConfiguration>");
        let ok = rule(
            "ENABLED",
            "static.example.com",
            "REST",
            "<ForcedReplacement>CNAME</ForcedReplacement>",
        );
        let many: String = (0..101)
            .map(|i| rule("ENABLED", &format!("d{i}.example.com"), "REST", ""))
            .collect();
        let cases: Vec<(String, &str)> = vec![
            (doc(&ok), "ok"),
            (doc(""), "ok"),
            ("<Other/>".into(), "MalformedXML"),
            ("garbage".into(), "MalformedXML"),
            (
                doc("<DomainRule><Status>ENABLED</Status><Type>REST</Type></DomainRule>"),
                "MalformedXML",
            ),
            (
                doc(&rule("ON", "a.example.com", "REST", "")),
                "InvalidArgument",
            ),
            (
                doc(&rule("ENABLED", "a.example.com", "CDN", "")),
                "InvalidArgument",
            ),
            (
                doc(&rule(
                    "ENABLED",
                    "a.example.com",
                    "REST",
                    "<ForcedReplacement>A</ForcedReplacement>",
                )),
                "InvalidArgument",
            ),
            (
                doc(&rule("ENABLED", "bad domain", "REST", "")),
                "InvalidArgument",
            ),
            (
                doc(&rule("ENABLED", "localhost", "REST", "")),
                "InvalidArgument",
            ),
            (
                doc(&rule("ENABLED", "a.example.com:80", "REST", "")),
                "InvalidArgument",
            ),
            (
                doc(&format!(
                    "{}{}",
                    rule("ENABLED", "a.example.com", "REST", ""),
                    rule("DISABLED", "A.example.com", "WEBSITE", "")
                )),
                "InvalidArgument",
            ),
            (doc(&many), "InvalidArgument"),
        ];
        for (body, want) in cases {
            let got = DomainConfig::parse(body.as_bytes())
                .err()
                .map_or("ok", |e| e.code.as_str());
            assert_eq!(got, want, "{body}");
        }
    }

    #[test]
    fn render_round_trip() {
        let body = "<DomainConfiguration><DomainRule><Status>ENABLED</Status><Name>static.example.com</Name><Type>REST</Type><ForcedReplacement>CNAME</ForcedReplacement></DomainRule><DomainRule><Status>DISABLED</Status><Name>www.example.com</Name><Type>WEBSITE</Type></DomainRule></DomainConfiguration>";
        let d = DomainConfig::parse(body.as_bytes()).unwrap();
        assert!(d.render().ends_with(body));
    }
}
