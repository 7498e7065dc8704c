//! Back-to-origin rules `PUT/GET/DELETE /?origin` (cos-bucket.md §11,
//! NOTES-ON-ISSUES 10): the document, its validation, rule matching and the
//! origin URL of a key. The pull itself (redirect / proxy / mirror) is in
//! `crate::origin_pull`; address checks (SSRF classes) in `crate::origin`.
//!
//! The document is stored as sent (GET returns it verbatim, cos-bucket.md
//! §0.4) together with the parsed rules the runtime uses.

use serde::{Deserialize, Serialize};

use super::xml_tree::{with_declaration, without_declaration, Node};
use super::{BucketConfig, Unset};
use crate::error::{Error, ErrorCode, Result};
use crate::http::target::BucketName;
use crate::op::{AppState, Req, Response};

/// Most rules one bucket may have ([REC]: COS's console allows 20 per type).
pub const MAX_RULES: usize = 100;
/// Most `NewHttpHeaders` entries per rule (cos-bucket.md §11).
pub const MAX_NEW_HEADERS: usize = 10;

/// `OriginType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OriginType {
    Mirror,
    Proxy,
    Redirect,
}

/// `OriginParameter/Protocol`: the origin's scheme (`Follow`: the request's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    Http,
    Https,
    Follow,
}

/// One `HostInfo`: a primary host and its standbys, tried in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// `host[:port]`.
    pub host: String,
    pub weight: u32,
    pub standby: Vec<String>,
}

/// One `OriginRule`, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginRule {
    pub priority: u32,
    pub kind: OriginType,
    /// `OriginCondition/HTTPStatusCode`.
    pub status: u16,
    pub prefix: String,
    pub suffix: String,
    pub protocol: Protocol,
    pub follow_query: bool,
    pub follow_all_headers: bool,
    pub new_headers: Vec<(String, String)>,
    /// Lower case.
    pub follow_headers: Vec<String>,
    /// Lower case.
    pub forbid_headers: Vec<String>,
    pub follow_redirection: bool,
    pub redirect_code: u16,
    pub copy_origin_data: bool,
    pub transparent_error: bool,
    pub hosts: Vec<HostInfo>,
    /// `FileInfo/PrefixConfiguration`: (prefix, replacement).
    pub replace_prefix: Option<(String, String)>,
    /// `FileInfo/SuffixConfiguration`: (suffix, replacement).
    pub replace_suffix: Option<(String, String)>,
    /// `FileInfo/FixedFileConfiguration/FixedFilePath`.
    pub fixed_path: Option<String>,
}

/// The stored `?origin` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginConfig {
    /// The document as sent, without its declaration.
    pub raw: String,
    /// By ascending priority.
    pub rules: Vec<OriginRule>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::with_message(ErrorCode::InvalidArgument, msg)
}

/// `host[:port]` as an origin host name: no scheme, path, user or spaces.
fn check_host_name(h: &str) -> Result<String> {
    let h = h.trim();
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
        && url::Url::parse(&format!("http://{h}/"))
            .ok()
            .is_some_and(|u| u.host_str().is_some() && u.path() == "/");
    if ok {
        Ok(h.to_string())
    } else {
        Err(invalid(format!(
            "`{h}` is not an origin host name (host or host:port, without scheme or path)."
        )))
    }
}

fn parse_rule(r: &Node) -> Result<OriginRule> {
    let priority = r
        .text_of("RulePriority")
        .ok_or_else(|| r.required("RulePriority").unwrap_err())?;
    let priority: u32 = priority.parse().ok().filter(|p| *p >= 1).ok_or_else(|| {
        invalid(format!(
            "RulePriority `{priority}` must be a positive integer."
        ))
    })?;
    let kind = match r.required("OriginType")?.text.trim() {
        "Mirror" => OriginType::Mirror,
        "Proxy" => OriginType::Proxy,
        "Redirect" => OriginType::Redirect,
        other => {
            return Err(invalid(format!(
                "OriginType `{other}` must be Mirror, Proxy or Redirect."
            )))
        }
    };
    let cond = r.required("OriginCondition")?;
    let code = cond.required("HTTPStatusCode")?.text.trim();
    let status: u16 = code
        .parse()
        .ok()
        .filter(|c| (400..600).contains(c))
        .ok_or_else(|| {
            invalid(format!(
                "HTTPStatusCode `{code}` must be a 4xx or 5xx code."
            ))
        })?;
    if kind != OriginType::Redirect && status != 404 {
        return Err(invalid(
            "HTTPStatusCode must be 404 for Mirror and Proxy rules.",
        ));
    }
    let empty = Node::default();
    let param = r.child("OriginParameter").unwrap_or(&empty);
    let protocol = match param.text_of("Protocol").unwrap_or("FOLLOW") {
        "HTTP" => Protocol::Http,
        "HTTPS" => Protocol::Https,
        "FOLLOW" => Protocol::Follow,
        other => {
            return Err(invalid(format!(
                "Protocol `{other}` must be HTTP, HTTPS or FOLLOW."
            )))
        }
    };
    let hh = param.child("HttpHeader").unwrap_or(&empty);
    let keys = |list: Option<&Node>| -> Result<Vec<String>> {
        let mut out = Vec::new();
        for h in list.into_iter().flat_map(|l| l.all("Header")) {
            let k = h.text_of("Key").unwrap_or("");
            http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| invalid(format!("`{k}` is not a header name.")))?;
            out.push(k.to_ascii_lowercase());
        }
        Ok(out)
    };
    let mut new_headers = Vec::new();
    for h in hh
        .child("NewHttpHeaders")
        .into_iter()
        .flat_map(|l| l.all("Header"))
    {
        let k = h.text_of("Key").unwrap_or("");
        let v = h.text_of("Value").unwrap_or("");
        if http::HeaderName::from_bytes(k.as_bytes()).is_err()
            || http::HeaderValue::from_str(v).is_err()
        {
            return Err(invalid(format!("`{k}: {v}` is not a valid header.")));
        }
        new_headers.push((k.to_string(), v.to_string()));
    }
    if new_headers.len() > MAX_NEW_HEADERS {
        return Err(invalid("At most 10 NewHttpHeaders per rule."));
    }
    let redirect_code = match param.text_of("HttpRedirectCode") {
        None | Some("") => 302,
        Some(c) => c
            .parse()
            .ok()
            .filter(|c| [301, 302, 307, 308].contains(c))
            .ok_or_else(|| {
                invalid(format!(
                    "HttpRedirectCode `{c}` must be 301, 302, 307 or 308."
                ))
            })?,
    };
    let info = r.required("OriginInfo")?;
    let mut hosts = Vec::new();
    for hi in info.all("HostInfo") {
        let host = check_host_name(hi.required("HostName")?.text.trim())?;
        let weight = match hi.text_of("Weight") {
            None | Some("") => 1,
            Some(w) => w
                .parse()
                .ok()
                .filter(|w| (1..=100).contains(w))
                .ok_or_else(|| invalid(format!("Weight `{w}` must be 1 to 100.")))?,
        };
        let standby = hi
            .numbered("StandbyHostName_")
            .into_iter()
            .map(|(_, n)| check_host_name(n.text.trim()))
            .collect::<Result<Vec<_>>>()?;
        hosts.push(HostInfo {
            host,
            weight,
            standby,
        });
    }
    if hosts.is_empty() {
        return Err(Error::with_message(
            ErrorCode::MalformedXML,
            "<OriginInfo> needs a <HostInfo> with a <HostName>.",
        ));
    }
    // Higher weight first; equal weights keep document order.
    hosts.sort_by_key(|h| std::cmp::Reverse(h.weight));
    let file = info.child("FileInfo").unwrap_or(&empty);
    let pair = |node: &str, a: &str, b: &str| {
        file.child(node).map(|n| {
            (
                n.text_of(a).unwrap_or("").to_string(),
                n.text_of(b).unwrap_or("").to_string(),
            )
        })
    };
    Ok(OriginRule {
        priority,
        kind,
        status,
        prefix: cond.text_of("Prefix").unwrap_or("").to_string(),
        suffix: cond.text_of("Suffix").unwrap_or("").to_string(),
        protocol,
        follow_query: param.bool_of("FollowQueryString", false)?,
        follow_all_headers: hh.bool_of("FollowAllHeaders", false)?,
        new_headers,
        follow_headers: keys(hh.child("FollowHttpHeaders"))?,
        forbid_headers: keys(hh.child("ForbidFollowHttpHeaders"))?,
        follow_redirection: param.bool_of("FollowRedirection", false)?,
        redirect_code,
        copy_origin_data: param.bool_of("CopyOriginData", true)?,
        transparent_error: param.bool_of("TransparentErrorCode", false)?,
        hosts,
        replace_prefix: pair("PrefixConfiguration", "Prefix", "ReplacedWithPrefix"),
        replace_suffix: pair("SuffixConfiguration", "Suffix", "ReplacedWithSuffix"),
        fixed_path: file
            .child("FixedFileConfiguration")
            .and_then(|f| f.text_of("FixedFilePath"))
            .map(str::to_string),
    })
}

impl BucketConfig for OriginConfig {
    const NAME: &'static str = "origin";
    const UNSET: Unset = Unset::Error(ErrorCode::NoSuchOriginConfiguration);

    /// # Behavior
    /// - Root `OriginConfiguration` with 1–100 `OriginRule`; a rule needs
    ///   `RulePriority`, `OriginType`, `OriginCondition/HTTPStatusCode` and
    ///   `OriginInfo/HostInfo/HostName` (else 400 MalformedXML).
    /// - Out of range (400 InvalidArgument): priority not a positive integer
    ///   or repeated, type not Mirror/Proxy/Redirect, status not 4xx/5xx (404
    ///   for Mirror/Proxy), protocol not HTTP/HTTPS/FOLLOW, booleans not
    ///   true/false, more than 10 new headers or an invalid header, redirect
    ///   code not 301/302/307/308, weight not 1–100, a host name with a
    ///   scheme or path.
    fn parse(body: &[u8]) -> Result<Self> {
        let root = Node::parse(body, "OriginConfiguration")?;
        let mut rules = root
            .all("OriginRule")
            .map(parse_rule)
            .collect::<Result<Vec<_>>>()?;
        if rules.is_empty() {
            return Err(Error::with_message(
                ErrorCode::MalformedXML,
                "<OriginConfiguration> needs at least one <OriginRule>.",
            ));
        }
        if rules.len() > MAX_RULES {
            return Err(invalid("At most 100 origin rules."));
        }
        rules.sort_by_key(|r| r.priority);
        if rules.windows(2).any(|w| w[0].priority == w[1].priority) {
            return Err(invalid("RulePriority values must be unique."));
        }
        Ok(OriginConfig {
            raw: without_declaration(body),
            rules,
        })
    }

    fn render(&self) -> String {
        with_declaration(&self.raw)
    }
}

impl OriginRule {
    /// Whether the rule applies to a lookup of `key` that answered `status`.
    pub fn matches(&self, key: &str, status: u16) -> bool {
        self.status == status && key.starts_with(&self.prefix) && key.ends_with(&self.suffix)
    }

    /// The origin's object path for `key` (FileInfo): a fixed file, else the
    /// key with its prefix and suffix replaced as configured.
    pub fn origin_key(&self, key: &str) -> String {
        if let Some(fixed) = &self.fixed_path {
            return fixed.trim_start_matches('/').to_string();
        }
        let mut k = key.to_string();
        if let Some((p, with)) = &self.replace_prefix {
            if let Some(rest) = k.strip_prefix(p.as_str()) {
                k = format!("{with}{rest}");
            }
        }
        if let Some((s, with)) = &self.replace_suffix {
            if let Some(rest) = k.strip_suffix(s.as_str()) {
                k = format!("{rest}{with}");
            }
        }
        k
    }

    /// The scheme to reach the origin with; `FOLLOW` takes `request_scheme`.
    pub fn scheme<'a>(&self, request_scheme: &'a str) -> &'a str {
        match self.protocol {
            Protocol::Http => "http",
            Protocol::Https => "https",
            Protocol::Follow => request_scheme,
        }
    }

    /// Every host to try, in order: each HostInfo's host then its standbys.
    pub fn host_order(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .flat_map(|h| {
                std::iter::once(h.host.as_str()).chain(h.standby.iter().map(|s| s.as_str()))
            })
            .collect()
    }
}

impl OriginConfig {
    /// The first rule (by priority) for a lookup of `key` that answered `status`.
    pub fn rule_for(&self, key: &str, status: u16) -> Option<&OriginRule> {
        self.rules.iter().find(|r| r.matches(key, status))
    }
}

/// PUT `/?origin`: parsed, every host checked against the SSRF classes
/// (`crate::origin::validate`, with `--origin-allow-private`), then stored.
pub async fn put(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    super::bucket_record(state, bucket).await?;
    let body = super::read_body(req).await?;
    let doc = OriginConfig::parse(&body)?;
    let allow_private = state.config.origin.allow_private;
    let hosts: Vec<String> = doc
        .rules
        .iter()
        .flat_map(|r| r.host_order().into_iter().map(str::to_string))
        .collect();
    // The resolver blocks: off the async threads.
    tokio::task::spawn_blocking(move || {
        for h in hosts {
            crate::origin::validate(
                &format!("http://{h}/"),
                allow_private,
                &crate::origin::system_resolver,
            )
            .map_err(|e| invalid(format!("Origin host refused: {e}")))?;
        }
        Ok::<_, Error>(())
    })
    .await
    .map_err(|e| Error::with_message(ErrorCode::InternalError, e.to_string()))??;
    super::save(state, bucket, doc).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(rules: &str) -> String {
        format!("<OriginConfiguration>{rules}</OriginConfiguration>")
    }

    fn rule(priority: &str, kind: &str, cond: &str, param: &str, info: &str) -> String {
        format!(
            "<OriginRule><RulePriority>{priority}</RulePriority><OriginType>{kind}</OriginType>\
             <OriginCondition>{cond}</OriginCondition><OriginParameter>{param}</OriginParameter>\
             <OriginInfo>{info}</OriginInfo></OriginRule>"
        )
    }

    const C404: &str = "<HTTPStatusCode>404</HTTPStatusCode>";
    const HOST: &str = "<HostInfo><HostName>origin.example.com</HostName></HostInfo>";

    fn parse(body: &str) -> Result<OriginConfig> {
        OriginConfig::parse(body.as_bytes())
    }

    #[test]
    fn validation_table() {
        let ok = |b: String| parse(&b).unwrap_or_else(|e| panic!("{b}: {e:?}"));
        let c = ok(doc(&rule(
            "1",
            "Mirror",
            C404,
            "<Protocol>HTTP</Protocol>",
            HOST,
        )));
        assert_eq!(c.rules[0].kind, OriginType::Mirror);
        assert_eq!(c.rules[0].redirect_code, 302);
        assert!(c.rules[0].copy_origin_data);
        // Standbys by number, hosts by weight.
        let c = ok(doc(&rule(
            "3",
            "Proxy",
            C404,
            "",
            "<HostInfo><HostName>a.example.com</HostName><Weight>1</Weight>\
             <StandbyHostName_2>c.example.com</StandbyHostName_2><StandbyHostName_1>b.example.com</StandbyHostName_1></HostInfo>\
             <HostInfo><HostName>z.example.com:8080</HostName><Weight>9</Weight></HostInfo>",
        )));
        assert_eq!(
            c.rules[0].host_order(),
            [
                "z.example.com:8080",
                "a.example.com",
                "b.example.com",
                "c.example.com"
            ]
        );
        let bad: &[(String, ErrorCode)] = &[
            ("<OriginConfiguration/>".into(), ErrorCode::MalformedXML),
            ("<Other/>".into(), ErrorCode::MalformedXML),
            ("not xml".into(), ErrorCode::MalformedXML),
            (doc(&rule("1", "Mirror", "", "", HOST)), ErrorCode::MalformedXML),
            (doc(&rule("1", "Mirror", C404, "", "")), ErrorCode::MalformedXML),
            (
                doc("<OriginRule><OriginType>Mirror</OriginType></OriginRule>"),
                ErrorCode::MalformedXML,
            ),
            (doc(&rule("0", "Mirror", C404, "", HOST)), ErrorCode::InvalidArgument),
            (doc(&rule("x", "Mirror", C404, "", HOST)), ErrorCode::InvalidArgument),
            (doc(&rule("1", "Copy", C404, "", HOST)), ErrorCode::InvalidArgument),
            (
                doc(&rule("1", "Mirror", "<HTTPStatusCode>403</HTTPStatusCode>", "", HOST)),
                ErrorCode::InvalidArgument,
            ),
            (
                doc(&rule("1", "Redirect", "<HTTPStatusCode>200</HTTPStatusCode>", "", HOST)),
                ErrorCode::InvalidArgument,
            ),
            (
                doc(&rule("1", "Mirror", C404, "<Protocol>FTP</Protocol>", HOST)),
                ErrorCode::InvalidArgument,
            ),
            (
                doc(&rule("1", "Mirror", C404, "<FollowQueryString>yes</FollowQueryString>", HOST)),
                ErrorCode::InvalidArgument,
            ),
            (
                doc(&rule("1", "Redirect", C404, "<HttpRedirectCode>200</HttpRedirectCode>", HOST)),
                ErrorCode::InvalidArgument,
            ),
            (
                doc(&rule(
                    "1",
                    "Mirror",
                    C404,
                    "",
                    "<HostInfo><HostName>http://a.example.com/x</HostName></HostInfo>",
                )),
                ErrorCode::InvalidArgument,
            ),
            (
                doc(&rule(
                    "1",
                    "Mirror",
                    C404,
                    "",
                    "<HostInfo><HostName>a.example.com</HostName><Weight>0</Weight></HostInfo>",
                )),
                ErrorCode::InvalidArgument,
            ),
            (
                doc(&rule(
                    "1",
                    "Mirror",
                    C404,
                    "<HttpHeader><NewHttpHeaders><Header><Key>bad key</Key><Value>v</Value></Header></NewHttpHeaders></HttpHeader>",
                    HOST,
                )),
                ErrorCode::InvalidArgument,
            ),
            (
                doc(&(rule("1", "Mirror", C404, "", HOST) + &rule("1", "Proxy", C404, "", HOST))),
                ErrorCode::InvalidArgument,
            ),
        ];
        for (body, code) in bad {
            assert_eq!(parse(body).unwrap_err().code, *code, "{body}");
        }
        let many = format!(
            "<HttpHeader><NewHttpHeaders>{}</NewHttpHeaders></HttpHeader>",
            "<Header><Key>x-a</Key><Value>1</Value></Header>".repeat(11)
        );
        assert_eq!(
            parse(&doc(&rule("1", "Mirror", C404, &many, HOST)))
                .unwrap_err()
                .code,
            ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn rule_matching_and_key_mapping() {
        let c = parse(&doc(&(rule(
            "2",
            "Proxy",
            "<HTTPStatusCode>404</HTTPStatusCode><Prefix>live/</Prefix>",
            "",
            HOST,
        ) + &rule(
            "1",
            "Mirror",
            "<HTTPStatusCode>404</HTTPStatusCode><Prefix>img/</Prefix><Suffix>.jpg</Suffix>",
            "",
            "<HostInfo><HostName>o.example.com</HostName></HostInfo><FileInfo>\
             <PrefixConfiguration><Prefix>img/</Prefix><ReplacedWithPrefix>images/</ReplacedWithPrefix></PrefixConfiguration>\
             <SuffixConfiguration><Suffix>.jpg</Suffix><ReplacedWithSuffix>.jpeg</ReplacedWithSuffix></SuffixConfiguration></FileInfo>",
        ) + &rule(
            "3",
            "Redirect",
            "<HTTPStatusCode>404</HTTPStatusCode><Prefix>fixed/</Prefix>",
            "",
            "<HostInfo><HostName>o.example.com</HostName></HostInfo><FileInfo><FixedFileConfiguration><FixedFilePath>/index.html</FixedFilePath></FixedFileConfiguration></FileInfo>",
        ))))
        .unwrap();
        assert_eq!(
            c.rules.iter().map(|r| r.priority).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        for (key, want) in [
            ("img/a.jpg", Some(1)),
            ("img/a.png", None),
            ("live/x", Some(2)),
            ("fixed/any", Some(3)),
            ("other", None),
        ] {
            assert_eq!(c.rule_for(key, 404).map(|r| r.priority), want, "{key}");
            assert!(c.rule_for(key, 403).is_none());
        }
        assert_eq!(c.rules[0].origin_key("img/a/b.jpg"), "images/a/b.jpeg");
        assert_eq!(c.rules[1].origin_key("live/x"), "live/x");
        assert_eq!(c.rules[2].origin_key("fixed/any"), "index.html");
        assert_eq!(c.rules[0].scheme("https"), "https");
    }
}
