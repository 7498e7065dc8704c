//! Static website `PUT/GET/DELETE /?website` (cos-bucket.md §5) and the
//! website endpoint that serves it: `<bucket>-<appid>.cos-website.<region>.myqcloud.com`,
//! the same under each configured base domain, and custom domains of type
//! `WEBSITE` (§10, `domain.rs`).
//!
//! The document is stored as parsed (element presence kept) and rendered
//! back in COS's order; GET adds `<URLRedirect>Enabled</URLRedirect>` to a
//! `Redirect` that had none, the one documented server-side addition.
//!
//! Serving ([`serve`]): anonymous GET/HEAD only (OPTIONS answers the CORS
//! preflight, anything else 405); `RedirectAllRequestsTo` first, then
//! `KeyPrefixEquals` routing rules, the index document for `/` and `dir/`,
//! the object read as an anonymous GetObject (ACLs, policy and referer
//! apply), AutoAddressing (`dir` → 302 `dir/` when `dir/<Suffix>` exists),
//! `HttpErrorCodeReturnedEquals` rules, then the error document. Website
//! errors are HTML pages, not XML.

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::{parse_xml, BucketConfig, Unset};
use crate::auth::{Dialect, Family};
use crate::error::{Error, ErrorCode, Result};
use crate::http::body::Body;
use crate::http::query::Query;
use crate::http::target::{BucketName, ObjectKey};
use crate::op::{AppState, Req, Response};
use crate::render::headers::ResponseBuilder;
use crate::render::xml::Xml;
use crate::route::Operation;

/// Most routing rules one configuration may hold (COS docs: 100).
pub const MAX_ROUTING_RULES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Website {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_all: Option<RedirectAll>,
    /// `Enabled` or `Disabled` as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_addressing: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_document: Option<ErrorDocument>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routing_rules: Vec<RoutingRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RedirectAll {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorDocument {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_http_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charity404: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RoutingRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    pub redirect: Redirect,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Redirect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_redirect_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_key_with: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_key_prefix_with: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_redirect: Option<String>,
}

// ---- wire documents -------------------------------------------------------

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "IndexDocument")]
    index: Option<IndexDoc>,
    #[serde(rename = "RedirectAllRequestsTo")]
    redirect_all: Option<RedirectAllDoc>,
    #[serde(rename = "AutoAddressing")]
    auto_addressing: Option<StatusDoc>,
    #[serde(rename = "ErrorDocument")]
    error_document: Option<ErrorDoc>,
    #[serde(rename = "RoutingRules")]
    routing_rules: Option<RulesDoc>,
}

#[derive(Deserialize)]
struct IndexDoc {
    #[serde(rename = "Suffix")]
    suffix: Option<String>,
}

#[derive(Deserialize)]
struct RedirectAllDoc {
    #[serde(rename = "Protocol")]
    protocol: Option<String>,
    #[serde(rename = "HostName")]
    host_name: Option<String>,
}

#[derive(Deserialize)]
struct StatusDoc {
    #[serde(rename = "Status")]
    status: Option<String>,
}

#[derive(Deserialize)]
struct ErrorDoc {
    #[serde(rename = "Key")]
    key: Option<String>,
    #[serde(rename = "OriginalHttpStatus")]
    original_http_status: Option<String>,
    #[serde(rename = "Charity404")]
    charity404: Option<String>,
}

#[derive(Deserialize)]
struct RulesDoc {
    #[serde(rename = "RoutingRule", default)]
    rules: Vec<RuleDoc>,
}

#[derive(Deserialize)]
struct RuleDoc {
    #[serde(rename = "Condition")]
    condition: Option<ConditionDoc>,
    #[serde(rename = "Redirect")]
    redirect: Option<RedirectDoc>,
}

#[derive(Deserialize)]
struct ConditionDoc {
    #[serde(rename = "HttpErrorCodeReturnedEquals")]
    http_error_code: Option<String>,
    #[serde(rename = "KeyPrefixEquals")]
    key_prefix: Option<String>,
}

#[derive(Deserialize)]
struct RedirectDoc {
    #[serde(rename = "Protocol")]
    protocol: Option<String>,
    #[serde(rename = "HostName")]
    host_name: Option<String>,
    #[serde(rename = "HttpRedirectCode")]
    http_redirect_code: Option<String>,
    #[serde(rename = "ReplaceKeyWith")]
    replace_key_with: Option<String>,
    #[serde(rename = "ReplaceKeyPrefixWith")]
    replace_key_prefix_with: Option<String>,
    #[serde(rename = "URLRedirect")]
    url_redirect: Option<String>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::with_message(ErrorCode::InvalidArgument, message.into())
}

fn malformed(message: &str) -> Error {
    Error::with_message(ErrorCode::MalformedXML, message.to_string())
}

fn check_enum(value: &Option<String>, allowed: &[&str], what: &str) -> Result<()> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => Err(invalid(format!(
            "{what} must be one of {}.",
            allowed.join(", ")
        ))),
        _ => Ok(()),
    }
}

const ON_OFF: &[&str] = &["Enabled", "Disabled"];
const PROTOCOLS: &[&str] = &["http", "https"];

fn parse_rule(r: RuleDoc) -> Result<RoutingRule> {
    let cond = r
        .condition
        .ok_or_else(|| malformed("A RoutingRule needs a Condition."))?;
    let red = r
        .redirect
        .ok_or_else(|| malformed("A RoutingRule needs a Redirect."))?;
    match (&cond.http_error_code, &cond.key_prefix) {
        (None, None) => {
            return Err(malformed(
                "A Condition needs HttpErrorCodeReturnedEquals or KeyPrefixEquals.",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(invalid(
                "A Condition has either HttpErrorCodeReturnedEquals or KeyPrefixEquals.",
            ))
        }
        _ => {}
    }
    if let Some(code) = &cond.http_error_code {
        let ok = code
            .parse::<u16>()
            .is_ok_and(|c| (400..500).contains(&c) && code.len() == 3);
        if !ok {
            return Err(invalid("HttpErrorCodeReturnedEquals must be a 4xx code."));
        }
    }
    match (&red.replace_key_with, &red.replace_key_prefix_with) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "A Redirect has either ReplaceKeyWith or ReplaceKeyPrefixWith.",
            ))
        }
        (None, Some(_)) if cond.key_prefix.is_none() => {
            return Err(invalid(
                "ReplaceKeyPrefixWith needs a KeyPrefixEquals condition.",
            ))
        }
        (Some(k), None) if k.is_empty() => return Err(invalid("ReplaceKeyWith is empty.")),
        _ => {}
    }
    check_enum(&red.protocol, PROTOCOLS, "Protocol")?;
    check_enum(&red.url_redirect, ON_OFF, "URLRedirect")?;
    check_enum(
        &red.http_redirect_code,
        &["301", "302", "303", "307", "308"],
        "HttpRedirectCode",
    )?;
    if red.host_name.as_deref().is_some_and(|h| !valid_host(h)) {
        return Err(invalid("HostName is not a valid host name."));
    }
    Ok(RoutingRule {
        http_error_code: cond.http_error_code,
        key_prefix: cond.key_prefix,
        redirect: Redirect {
            protocol: red.protocol,
            host_name: red.host_name,
            http_redirect_code: red.http_redirect_code,
            replace_key_with: red.replace_key_with,
            replace_key_prefix_with: red.replace_key_prefix_with,
            url_redirect: red.url_redirect,
        },
    })
}

/// A host name with an optional port: labels of `[A-Za-z0-9-]`.
pub fn valid_host(h: &str) -> bool {
    let name = match h.rsplit_once(':') {
        Some((n, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => h,
    };
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl BucketConfig for Website {
    const NAME: &'static str = "website";
    const UNSET: Unset = Unset::Error(ErrorCode::NoSuchWebsiteConfiguration);

    /// # Behavior
    /// - `IndexDocument/Suffix` is required unless `RedirectAllRequestsTo`
    ///   is given (400 MalformedXML); an empty suffix or one with `/` → 400
    ///   InvalidArgument.
    /// - `ErrorDocument` needs a non-empty `Key`; each routing rule needs a
    ///   Condition with exactly one of HttpErrorCodeReturnedEquals (4xx) /
    ///   KeyPrefixEquals, and a Redirect with at most one of ReplaceKeyWith /
    ///   ReplaceKeyPrefixWith (the latter only under a prefix condition).
    /// - Enumerations (Protocol http|https, Status / URLRedirect /
    ///   OriginalHttpStatus / Charity404 Enabled|Disabled, HttpRedirectCode
    ///   3xx) → 400 InvalidArgument; more than 100 rules → 400 InvalidArgument.
    fn parse(body: &[u8]) -> Result<Self> {
        let doc: Doc = parse_xml(body, "WebsiteConfiguration")?;
        let redirect_all = match doc.redirect_all {
            Some(r) => {
                if r.protocol.is_none() && r.host_name.is_none() {
                    return Err(malformed(
                        "RedirectAllRequestsTo needs a Protocol or a HostName.",
                    ));
                }
                check_enum(&r.protocol, PROTOCOLS, "Protocol")?;
                if r.host_name.as_deref().is_some_and(|h| !valid_host(h)) {
                    return Err(invalid("HostName is not a valid host name."));
                }
                Some(RedirectAll {
                    protocol: r.protocol,
                    host_name: r.host_name,
                })
            }
            None => None,
        };
        let index_suffix = doc.index.and_then(|i| i.suffix);
        match &index_suffix {
            None if redirect_all.is_none() => {
                return Err(malformed(
                    "WebsiteConfiguration needs IndexDocument/Suffix.",
                ))
            }
            Some(s) if s.is_empty() || s.contains('/') => {
                return Err(invalid(
                    "The IndexDocument Suffix must be non-empty and contain no slash.",
                ))
            }
            _ => {}
        }
        let auto_addressing = match doc.auto_addressing {
            Some(a) => {
                let status = a
                    .status
                    .ok_or_else(|| malformed("AutoAddressing needs a Status."))?;
                check_enum(&Some(status.clone()), ON_OFF, "AutoAddressing Status")?;
                Some(status)
            }
            None => None,
        };
        let error_document = match doc.error_document {
            Some(e) => {
                let key = e
                    .key
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| malformed("ErrorDocument needs a Key."))?;
                ObjectKey::parse(&key).map_err(|_| invalid("ErrorDocument Key is not valid."))?;
                check_enum(&e.original_http_status, ON_OFF, "OriginalHttpStatus")?;
                check_enum(&e.charity404, ON_OFF, "Charity404")?;
                Some(ErrorDocument {
                    key,
                    original_http_status: e.original_http_status,
                    charity404: e.charity404,
                })
            }
            None => None,
        };
        let rules = doc.routing_rules.map(|r| r.rules).unwrap_or_default();
        if rules.len() > MAX_ROUTING_RULES {
            return Err(invalid(format!(
                "At most {MAX_ROUTING_RULES} routing rules are allowed."
            )));
        }
        let routing_rules = rules.into_iter().map(parse_rule).collect::<Result<_>>()?;
        Ok(Website {
            index_suffix,
            redirect_all,
            auto_addressing,
            error_document,
            routing_rules,
        })
    }

    fn render(&self) -> String {
        let mut x = Xml::new("WebsiteConfiguration");
        if let Some(s) = &self.index_suffix {
            x.open("IndexDocument")
                .elem("Suffix", s)
                .close("IndexDocument");
        }
        if let Some(r) = &self.redirect_all {
            x.open("RedirectAllRequestsTo");
            if let Some(p) = &r.protocol {
                x.elem("Protocol", p);
            }
            if let Some(h) = &r.host_name {
                x.elem("HostName", h);
            }
            x.close("RedirectAllRequestsTo");
        }
        if let Some(a) = &self.auto_addressing {
            x.open("AutoAddressing")
                .elem("Status", a)
                .close("AutoAddressing");
        }
        if let Some(e) = &self.error_document {
            x.open("ErrorDocument").elem("Key", &e.key);
            if let Some(o) = &e.original_http_status {
                x.elem("OriginalHttpStatus", o);
            }
            if let Some(c) = &e.charity404 {
                x.elem("Charity404", c);
            }
            x.close("ErrorDocument");
        }
        if !self.routing_rules.is_empty() {
            x.open("RoutingRules");
            for r in &self.routing_rules {
                x.open("RoutingRule").open("Condition");
                if let Some(c) = &r.http_error_code {
                    x.elem("HttpErrorCodeReturnedEquals", c);
                }
                if let Some(p) = &r.key_prefix {
                    x.elem("KeyPrefixEquals", p);
                }
                x.close("Condition").open("Redirect");
                let d = &r.redirect;
                for (tag, v) in [
                    ("Protocol", &d.protocol),
                    ("HostName", &d.host_name),
                    ("HttpRedirectCode", &d.http_redirect_code),
                    ("ReplaceKeyWith", &d.replace_key_with),
                    ("ReplaceKeyPrefixWith", &d.replace_key_prefix_with),
                ] {
                    if let Some(v) = v {
                        x.elem(tag, v);
                    }
                }
                x.elem(
                    "URLRedirect",
                    d.url_redirect.as_deref().unwrap_or("Enabled"),
                );
                x.close("Redirect").close("RoutingRule");
            }
            x.close("RoutingRules");
        }
        x.finish("WebsiteConfiguration")
    }
}

// ---- routing-rule evaluation (pure) ----------------------------------------

/// What a matching routing rule asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Answer `status` with this `Location`.
    Redirect { status: u16, location: String },
    /// Serve this key instead, without a redirect (`URLRedirect` Disabled).
    Rewrite(String),
}

/// The request as the rules see it.
pub struct Ctx<'a> {
    /// `http` or `https` (from `X-Forwarded-Proto`; localcos itself is http).
    pub scheme: &'a str,
    /// The Host header as sent (port kept).
    pub host: &'a str,
}

/// Percent-encodes a key for a URL path (keeps `/` and unreserved characters).
pub fn encode_path(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Website {
    fn redirect_for(rule: &RoutingRule, key: &str, ctx: &Ctx<'_>) -> Route {
        let d = &rule.redirect;
        let new_key = match (&d.replace_key_with, &d.replace_key_prefix_with) {
            (Some(k), _) => k.clone(),
            (None, Some(p)) => {
                let prefix = rule.key_prefix.as_deref().unwrap_or("");
                format!("{p}{}", key.strip_prefix(prefix).unwrap_or(key))
            }
            (None, None) => key.to_string(),
        };
        if d.url_redirect.as_deref() == Some("Disabled") {
            return Route::Rewrite(new_key);
        }
        let scheme = d.protocol.as_deref().unwrap_or(ctx.scheme);
        let host = d.host_name.as_deref().unwrap_or(ctx.host);
        let status = d
            .http_redirect_code
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(302);
        Route::Redirect {
            status,
            location: format!("{scheme}://{host}/{}", encode_path(&new_key)),
        }
    }

    /// The first `KeyPrefixEquals` rule matching `key` (tested before lookup).
    pub fn route_before(&self, key: &str, ctx: &Ctx<'_>) -> Option<Route> {
        self.routing_rules
            .iter()
            .find(|r| r.key_prefix.as_deref().is_some_and(|p| key.starts_with(p)))
            .map(|r| Website::redirect_for(r, key, ctx))
    }

    /// The first `HttpErrorCodeReturnedEquals` rule matching `status`.
    pub fn route_after(&self, key: &str, status: u16, ctx: &Ctx<'_>) -> Option<Route> {
        let status = status.to_string();
        self.routing_rules
            .iter()
            .find(|r| r.http_error_code.as_deref() == Some(status.as_str()))
            .map(|r| Website::redirect_for(r, key, ctx))
    }

    /// `RedirectAllRequestsTo`: the redirect a request to `path_and_query`
    /// gets, if any (301; to the same URL on https, or on `HostName`).
    pub fn redirect_all(&self, path_and_query: &str, ctx: &Ctx<'_>) -> Option<Route> {
        let r = self.redirect_all.as_ref()?;
        let scheme = r.protocol.as_deref().unwrap_or(ctx.scheme);
        let host = r.host_name.as_deref().unwrap_or(ctx.host);
        if scheme == ctx.scheme && host == ctx.host {
            return None;
        }
        Some(Route::Redirect {
            status: 301,
            location: format!("{scheme}://{host}{path_and_query}"),
        })
    }

    /// The key to look up for a request key: the index document for `/`
    /// and `dir/`.
    pub fn index_key(&self, key: &str) -> String {
        match &self.index_suffix {
            Some(s) if key.is_empty() || key.ends_with('/') => format!("{key}{s}"),
            _ => key.to_string(),
        }
    }

    fn auto_addressing(&self) -> bool {
        self.auto_addressing.as_deref() == Some("Enabled")
    }

    /// Whether the error document keeps the original status (absent:
    /// yes; `Disabled`: served with 200).
    fn keeps_status(&self) -> bool {
        self.error_document
            .as_ref()
            .is_none_or(|e| e.original_http_status.as_deref() != Some("Disabled"))
    }
}

// ---- serving ------------------------------------------------------------

/// What a Host names before the ordinary host rules.
pub enum HostRoute {
    /// A website endpoint or a `WEBSITE` custom domain of this bucket.
    Website(BucketName),
    /// A `REST` custom domain of this bucket (full name).
    Rest(String),
}

/// Recognises website endpoints and `?domain` custom domains. The config
/// file's `domains` map wins (it is resolved by `target` as before).
pub async fn host_route(state: &AppState, host: &str) -> Option<HostRoute> {
    let h = crate::http::target::host_without_port(host);
    let a = &state.config.addressing;
    if a.domains.contains_key(&h) {
        return None;
    }
    if let Some(b) = crate::http::target::website_bucket(&h, a) {
        let name = BucketName::parse(&b, &a.appid, &a.region).ok()?;
        let name = crate::op::resolve_bucket(state, Family::Cos, name)
            .await
            .ok()?;
        return Some(HostRoute::Website(name));
    }
    if !h.contains('.') || h.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let (bucket, kind) = state.domains.lookup(state, &h).await?;
    match kind {
        super::domain::Kind::Website => BucketName::parse_exact(&bucket)
            .ok()
            .map(HostRoute::Website),
        super::domain::Kind::Rest => Some(HostRoute::Rest(bucket)),
    }
}

/// A website error page (HTML, S3-like): status, code, message.
pub fn html_error(method: &Method, status: StatusCode, code: &str, message: &str) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let page = format!(
        "<html>\n<head><title>{n} {reason}</title></head>\n<body>\n<h1>{n} {reason}</h1>\n<ul>\n<li>Code: {code}</li>\n<li>Message: {msg}</li>\n</ul>\n<hr/>\n</body>\n</html>\n",
        n = status.as_u16(),
        msg = html_escape(message),
    );
    let rb = ResponseBuilder::new(status).header("content-type", "text/html; charset=utf-8");
    if method == Method::HEAD {
        rb.content_length(page.len() as u64).empty()
    } else {
        rb.content_length(page.len() as u64)
            .body(Body::Full(bytes::Bytes::from(page)))
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn redirect_response(status: u16, location: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
    let mut rb = ResponseBuilder::new(status).content_length(0);
    if let Ok(v) = HeaderValue::from_str(location) {
        rb = rb.header_value("location", v);
    }
    rb.empty()
}

/// Only the Referer of a request: what an internal lookup keeps of it.
fn referer_only(h: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Some(r) = h.get(http::header::REFERER) {
        out.insert(http::header::REFERER, r.clone());
    }
    out
}

/// One anonymous object read, as the REST API would answer it.
async fn fetch(
    state: &AppState,
    bucket: &BucketName,
    key: &str,
    method: &Method,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
) -> Result<Response> {
    let key = ObjectKey::parse(key)?;
    let op = if method == Method::HEAD {
        Operation::HeadObject(bucket.clone(), key)
    } else {
        Operation::GetObject(bucket.clone(), key)
    };
    let query = Query::default();
    let caller = crate::authz::Caller { key: None, peer };
    crate::authz::check(state, &caller, &op, &query, headers, Family::Cos).await?;
    let req = Req {
        method: method.clone(),
        headers: headers.clone(),
        query,
        body: Box::pin(futures_util::stream::empty()),
        identity: None,
        dialect: Dialect::Anonymous,
        family: Family::Cos,
        sendfile: None,
        checksum: Default::default(),
        form: None,
        peer,
    };
    crate::op::dispatch(state, op, req).await
}

/// What answers a failed lookup: the error document (with the original
/// status unless `OriginalHttpStatus` is Disabled), else an HTML page.
async fn error_page(
    state: &AppState,
    bucket: &BucketName,
    site: &Website,
    method: &Method,
    request_headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
    err: Error,
) -> Response {
    let status = err.code.status();
    if let Some(doc) = &site.error_document {
        if status.is_client_error() {
            // A clean read: the failed request's conditions and range do
            // not apply; its Referer does (hotlink protection).
            let headers = referer_only(request_headers);
            if let Ok(mut resp) = fetch(state, bucket, &doc.key, method, &headers, peer).await {
                if resp.status() == StatusCode::OK && site.keeps_status() {
                    *resp.status_mut() = status;
                }
                return resp;
            }
        }
    }
    html_error(method, status, err.code.as_str(), err.message())
}

/// Serves one request to a website endpoint of `bucket`. Never fails: every
/// error is an HTML page (or the error document).
pub async fn serve(state: &AppState, bucket: &BucketName, visit: &Visit<'_>) -> Response {
    let method = visit.method;
    match serve_inner(state, bucket, visit).await {
        Ok(r) => r,
        Err(e) => html_error(method, e.code.status(), e.code.as_str(), e.message()),
    }
}

/// One request to a website endpoint.
#[derive(Clone, Copy)]
pub struct Visit<'a> {
    pub host: &'a str,
    pub path_and_query: &'a str,
    /// The decoded path without its leading `/`.
    pub key: &'a str,
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    /// The client's address (bucket policy `qcs:ip` conditions).
    pub peer: Option<std::net::IpAddr>,
}

async fn serve_inner(state: &AppState, bucket: &BucketName, visit: &Visit<'_>) -> Result<Response> {
    let Visit {
        host,
        path_and_query,
        key,
        method,
        headers,
        peer,
    } = *visit;
    if method == Method::OPTIONS {
        return super::cors::preflight(state, bucket, headers).await;
    }
    if method != Method::GET && method != Method::HEAD {
        return Err(Error::new(ErrorCode::MethodNotAllowed));
    }
    let rec = state
        .store
        .bucket(bucket.as_str())
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NoSuchBucket))?;
    let site = super::stored::<Website>(&rec)
        .ok_or_else(|| Error::new(ErrorCode::NoSuchWebsiteConfiguration))?;
    let scheme = match crate::http::header::get(headers, "x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let ctx = Ctx { scheme, host };
    if let Some(Route::Redirect { status, location }) = site.redirect_all(path_and_query, &ctx) {
        return Ok(redirect_response(status, &location));
    }
    let mut key = key.to_string();
    match site.route_before(&key, &ctx) {
        Some(Route::Redirect { status, location }) => {
            return Ok(redirect_response(status, &location))
        }
        Some(Route::Rewrite(k)) => key = k,
        None => {}
    }
    let lookup = site.index_key(&key);
    let err = match fetch(state, bucket, &lookup, method, headers, peer).await {
        Ok(resp) => return Ok(resp),
        Err(e) => e,
    };
    if err.code == ErrorCode::NoSuchKey
        && site.auto_addressing()
        && !key.is_empty()
        && !key.ends_with('/')
    {
        let dir_index = site.index_key(&format!("{key}/"));
        if fetch(
            state,
            bucket,
            &dir_index,
            &Method::HEAD,
            &referer_only(headers),
            peer,
        )
        .await
        .is_ok()
        {
            let location = format!("/{}/", encode_path(&key));
            return Ok(redirect_response(302, &location));
        }
    }
    let status = err.code.status().as_u16();
    match site.route_after(&key, status, &ctx) {
        Some(Route::Redirect { status, location }) => {
            return Ok(redirect_response(status, &location))
        }
        Some(Route::Rewrite(k)) => {
            return Ok(
                match fetch(state, bucket, &k, method, headers, peer).await {
                    Ok(resp) => resp,
                    Err(e) => error_page(state, bucket, &site, method, headers, peer, e).await,
                },
            );
        }
        None => {}
    }
    Ok(error_page(state, bucket, &site, method, headers, peer, err).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>error.html</Key><OriginalHttpStatus>Disabled</OriginalHttpStatus></ErrorDocument><AutoAddressing><Status>Enabled</Status></AutoAddressing><RoutingRules><RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition><Redirect><Protocol>https</Protocol><ReplaceKeyWith>404.html</ReplaceKeyWith></Redirect></RoutingRule><RoutingRule><Condition><KeyPrefixEquals>docs/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith>documents/</ReplaceKeyPrefixWith><URLRedirect>Enabled</URLRedirect></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>";

    fn parse(s: &str) -> Result<Website> {
        Website::parse(s.as_bytes())
    }

    fn code(s: &str) -> &'static str {
        parse(s).err().map_or("ok", |e| e.code.as_str())
    }

    #[test]
    fn validation_table() {
        let w = |inner: &str| format!("<WebsiteConfiguration>{inner}</WebsiteConfiguration>");
        let idx = "<IndexDocument><Suffix>index.html</Suffix></IndexDocument>";
        let rule = |cond: &str, red: &str| {
            w(&format!(
                "{idx}<RoutingRules><RoutingRule><Condition>{cond}</Condition><Redirect>{red}</Redirect></RoutingRule></RoutingRules>"
            ))
        };
        let many: String = (0..101)
            .map(|i| format!("<RoutingRule><Condition><KeyPrefixEquals>p{i}/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyWith>x</ReplaceKeyWith></Redirect></RoutingRule>"))
            .collect();
        let hundred: String = (0..100)
            .map(|i| format!("<RoutingRule><Condition><KeyPrefixEquals>p{i}/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyWith>x</ReplaceKeyWith></Redirect></RoutingRule>"))
            .collect();
        let cases: Vec<(String, &str)> = vec![
            (FULL.into(), "ok"),
            (w(idx), "ok"),
            ("not xml".into(), "MalformedXML"),
            ("<Other/>".into(), "MalformedXML"),
            (w(""), "MalformedXML"),
            (w("<IndexDocument></IndexDocument>"), "MalformedXML"),
            (w("<IndexDocument><Suffix></Suffix></IndexDocument>"), "InvalidArgument"),
            (w("<IndexDocument><Suffix>a/index.html</Suffix></IndexDocument>"), "InvalidArgument"),
            (w("<RedirectAllRequestsTo><Protocol>https</Protocol></RedirectAllRequestsTo>"), "ok"),
            (w("<RedirectAllRequestsTo><Protocol>ftp</Protocol></RedirectAllRequestsTo>"), "InvalidArgument"),
            (w("<RedirectAllRequestsTo></RedirectAllRequestsTo>"), "MalformedXML"),
            (w("<RedirectAllRequestsTo><HostName>bad host</HostName></RedirectAllRequestsTo>"), "InvalidArgument"),
            (w(&format!("{idx}<AutoAddressing><Status>On</Status></AutoAddressing>")), "InvalidArgument"),
            (w(&format!("{idx}<AutoAddressing></AutoAddressing>")), "MalformedXML"),
            (w(&format!("{idx}<ErrorDocument></ErrorDocument>")), "MalformedXML"),
            (w(&format!("{idx}<ErrorDocument><Key>e.html</Key><OriginalHttpStatus>Yes</OriginalHttpStatus></ErrorDocument>")), "InvalidArgument"),
            (w(&format!("{idx}<ErrorDocument><Key>e.html</Key><Charity404>Enabled</Charity404></ErrorDocument>")), "ok"),
            (rule("", "<ReplaceKeyWith>x</ReplaceKeyWith>"), "MalformedXML"),
            (rule("<HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals><KeyPrefixEquals>a</KeyPrefixEquals>", "<ReplaceKeyWith>x</ReplaceKeyWith>"), "InvalidArgument"),
            (rule("<HttpErrorCodeReturnedEquals>500</HttpErrorCodeReturnedEquals>", "<ReplaceKeyWith>x</ReplaceKeyWith>"), "InvalidArgument"),
            (rule("<HttpErrorCodeReturnedEquals>40x</HttpErrorCodeReturnedEquals>", "<ReplaceKeyWith>x</ReplaceKeyWith>"), "InvalidArgument"),
            (rule("<HttpErrorCodeReturnedEquals>403</HttpErrorCodeReturnedEquals>", "<ReplaceKeyWith>x</ReplaceKeyWith>"), "ok"),
            (rule("<KeyPrefixEquals>a/</KeyPrefixEquals>", "<ReplaceKeyWith>x</ReplaceKeyWith><ReplaceKeyPrefixWith>b/</ReplaceKeyPrefixWith>"), "InvalidArgument"),
            (rule("<HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals>", "<ReplaceKeyPrefixWith>b/</ReplaceKeyPrefixWith>"), "InvalidArgument"),
            (rule("<KeyPrefixEquals>a/</KeyPrefixEquals>", "<Protocol>ftp</Protocol><ReplaceKeyWith>x</ReplaceKeyWith>"), "InvalidArgument"),
            (rule("<KeyPrefixEquals>a/</KeyPrefixEquals>", "<ReplaceKeyWith>x</ReplaceKeyWith><URLRedirect>No</URLRedirect>"), "InvalidArgument"),
            (rule("<KeyPrefixEquals>a/</KeyPrefixEquals>", "<ReplaceKeyWith>x</ReplaceKeyWith><HttpRedirectCode>200</HttpRedirectCode>"), "InvalidArgument"),
            (rule("<KeyPrefixEquals>a/</KeyPrefixEquals>", "<ReplaceKeyWith>x</ReplaceKeyWith><HttpRedirectCode>301</HttpRedirectCode><HostName>example.com</HostName>"), "ok"),
            (w(&format!("{idx}<RoutingRules><RoutingRule><Condition><KeyPrefixEquals>a</KeyPrefixEquals></Condition></RoutingRule></RoutingRules>")), "MalformedXML"),
            (w(&format!("{idx}<RoutingRules>{many}</RoutingRules>")), "InvalidArgument"),
            (w(&format!("{idx}<RoutingRules>{hundred}</RoutingRules>")), "ok"),
        ];
        for (doc, want) in cases {
            assert_eq!(code(&doc), want, "{doc}");
        }
    }

    #[test]
    fn render_adds_url_redirect_only() {
        let site = parse(FULL).unwrap();
        let out = site.render();
        assert_eq!(out.matches("<URLRedirect>Enabled</URLRedirect>").count(), 2);
        assert!(out.contains("<OriginalHttpStatus>Disabled</OriginalHttpStatus>"));
        assert!(out.contains("<AutoAddressing><Status>Enabled</Status></AutoAddressing>"));
        let again = Website::parse(out.as_bytes()).unwrap();
        assert_eq!(again.routing_rules.len(), 2);
    }

    #[test]
    fn routing_table() {
        let site = parse(FULL).unwrap();
        let ctx = Ctx {
            scheme: "http",
            host: "b-1.cos-website.r.myqcloud.com",
        };
        let redirect = |status, location: &str| {
            Some(Route::Redirect {
                status,
                location: location.to_string(),
            })
        };
        assert_eq!(
            site.route_before("docs/a b.html", &ctx),
            redirect(
                302,
                "http://b-1.cos-website.r.myqcloud.com/documents/a%20b.html"
            )
        );
        assert_eq!(site.route_before("doc", &ctx), None);
        assert_eq!(site.route_before("x/docs/a", &ctx), None);
        assert_eq!(
            site.route_after("missing", 404, &ctx),
            redirect(302, "https://b-1.cos-website.r.myqcloud.com/404.html")
        );
        assert_eq!(site.route_after("missing", 403, &ctx), None);

        let custom = parse("<WebsiteConfiguration><IndexDocument><Suffix>i.html</Suffix></IndexDocument><RoutingRules><RoutingRule><Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition><Redirect><HostName>new.example.com</HostName><HttpRedirectCode>301</HttpRedirectCode></Redirect></RoutingRule><RoutingRule><Condition><KeyPrefixEquals>in/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith>out/</ReplaceKeyPrefixWith><URLRedirect>Disabled</URLRedirect></Redirect></RoutingRule><RoutingRule><Condition><HttpErrorCodeReturnedEquals>403</HttpErrorCodeReturnedEquals></Condition><Redirect><ReplaceKeyWith>denied.html</ReplaceKeyWith><URLRedirect>Disabled</URLRedirect></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>").unwrap();
        assert_eq!(
            custom.route_before("old/a", &ctx),
            redirect(301, "http://new.example.com/old/a")
        );
        assert_eq!(
            custom.route_before("in/x/y", &ctx),
            Some(Route::Rewrite("out/x/y".into()))
        );
        assert_eq!(
            custom.route_after("k", 403, &ctx),
            Some(Route::Rewrite("denied.html".into()))
        );
        assert_eq!(custom.index_key(""), "i.html");
        assert_eq!(custom.index_key("a/b/"), "a/b/i.html");
        assert_eq!(custom.index_key("a/b"), "a/b");
    }

    #[test]
    fn redirect_all_table() {
        let site = parse("<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument><RedirectAllRequestsTo><Protocol>https</Protocol></RedirectAllRequestsTo></WebsiteConfiguration>").unwrap();
        let http = Ctx {
            scheme: "http",
            host: "h.example:9000",
        };
        let https = Ctx {
            scheme: "https",
            host: "h.example:9000",
        };
        assert_eq!(
            site.redirect_all("/a/b?x=1", &http),
            Some(Route::Redirect {
                status: 301,
                location: "https://h.example:9000/a/b?x=1".into()
            })
        );
        assert_eq!(site.redirect_all("/a", &https), None);
        let to_host = parse("<WebsiteConfiguration><RedirectAllRequestsTo><HostName>www.example.com</HostName></RedirectAllRequestsTo></WebsiteConfiguration>").unwrap();
        assert_eq!(
            to_host.redirect_all("/", &http),
            Some(Route::Redirect {
                status: 301,
                location: "http://www.example.com/".into()
            })
        );
    }
}
