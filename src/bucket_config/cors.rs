//! CORS `PUT/GET/DELETE /?cors`, preflight `OPTIONS` and the CORS headers
//! of actual requests (cos-bucket.md §1). GET unset → 404
//! NoSuchCORSConfiguration.

use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use super::{parse_xml, BucketConfig, Unset};
use crate::error::{Error, ErrorCode, Result};
use crate::render::xml::Xml;

/// Most rules one configuration may hold (doc 436/8279).
pub const MAX_RULES: usize = 100;
const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cors {
    pub rules: Vec<CorsRule>,
    /// `ResponseVary` as sent (`None`: absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_vary: Option<String>,
}

/// One `<CORSRule>`, values as sent (order and case kept for GET).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CorsRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<String>,
}

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "CORSRule", default)]
    rules: Vec<RuleDoc>,
    #[serde(rename = "ResponseVary")]
    response_vary: Option<String>,
}

#[derive(Deserialize)]
struct RuleDoc {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "AllowedOrigin", default)]
    allowed_origins: Vec<String>,
    #[serde(rename = "AllowedMethod", default)]
    allowed_methods: Vec<String>,
    #[serde(rename = "AllowedHeader", default)]
    allowed_headers: Vec<String>,
    #[serde(rename = "ExposeHeader", default)]
    expose_headers: Vec<String>,
    #[serde(rename = "MaxAgeSeconds")]
    max_age_seconds: Option<String>,
}

fn invalid(message: &str) -> Error {
    Error::with_message(ErrorCode::InvalidArgument, message.to_string())
}

impl BucketConfig for Cors {
    const NAME: &'static str = "cors";
    const UNSET: Unset = Unset::Error(ErrorCode::NoSuchCORSConfiguration);

    /// # Behavior
    /// - No rule, a rule without AllowedOrigin or AllowedMethod → 400
    ///   MalformedXML; over [`MAX_RULES`] rules, a method outside
    ///   GET/PUT/POST/DELETE/HEAD, an origin with more than one `*`, a
    ///   wildcard ExposeHeader, a MaxAgeSeconds that is not a non-negative
    ///   integer, ResponseVary other than true/false → 400 InvalidArgument.
    fn parse(body: &[u8]) -> Result<Self> {
        let doc: Doc = parse_xml(body, "CORSConfiguration")?;
        if doc.rules.is_empty() {
            return Err(Error::with_message(
                ErrorCode::MalformedXML,
                "A CORS configuration needs at least one CORSRule.",
            ));
        }
        if doc.rules.len() > MAX_RULES {
            return Err(invalid("A CORS configuration has at most 100 rules."));
        }
        let mut rules = Vec::with_capacity(doc.rules.len());
        for r in doc.rules {
            if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
                return Err(Error::with_message(
                    ErrorCode::MalformedXML,
                    "Every CORSRule needs AllowedOrigin and AllowedMethod.",
                ));
            }
            if let Some(m) = r
                .allowed_methods
                .iter()
                .find(|m| !METHODS.contains(&m.trim()))
            {
                return Err(invalid(&format!(
                    "AllowedMethod {m} is not one of GET, PUT, POST, DELETE, HEAD."
                )));
            }
            if r.allowed_origins.iter().any(|o| o.matches('*').count() > 1) {
                return Err(invalid("An AllowedOrigin may contain one * at most."));
            }
            if r.expose_headers.iter().any(|h| h.contains('*')) {
                return Err(invalid("ExposeHeader does not allow wildcards."));
            }
            if r.max_age_seconds
                .as_deref()
                .is_some_and(|s| s.trim().parse::<u64>().is_err())
            {
                return Err(invalid("MaxAgeSeconds must be a non-negative integer."));
            }
            rules.push(CorsRule {
                id: r.id,
                allowed_origins: r.allowed_origins,
                allowed_methods: r.allowed_methods,
                allowed_headers: r.allowed_headers,
                expose_headers: r.expose_headers,
                max_age_seconds: r.max_age_seconds,
            });
        }
        if let Some(v) = doc.response_vary.as_deref() {
            if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                return Err(invalid("ResponseVary must be true or false."));
            }
        }
        Ok(Cors {
            rules,
            response_vary: doc.response_vary,
        })
    }

    fn render(&self) -> String {
        let mut x = Xml::new("CORSConfiguration");
        for r in &self.rules {
            x.open("CORSRule");
            if let Some(id) = &r.id {
                x.elem("ID", id);
            }
            for o in &r.allowed_origins {
                x.elem("AllowedOrigin", o);
            }
            for m in &r.allowed_methods {
                x.elem("AllowedMethod", m);
            }
            for h in &r.allowed_headers {
                x.elem("AllowedHeader", h);
            }
            for h in &r.expose_headers {
                x.elem("ExposeHeader", h);
            }
            if let Some(m) = &r.max_age_seconds {
                x.elem("MaxAgeSeconds", m);
            }
            x.close("CORSRule");
        }
        if let Some(v) = &self.response_vary {
            x.elem("ResponseVary", v);
        }
        x.finish("CORSConfiguration")
    }
}

/// A preflight `OPTIONS` on any path of `bucket` (cos-bucket.md §1.2):
/// needs no signature (an `Authorization` header is ignored).
/// # Behavior
/// - No `Origin` or `Access-Control-Request-Method` → 400 InvalidRequest.
/// - Missing bucket → 404 NoSuchBucket.
/// - No configuration, or no rule allows the origin, the method and every
///   requested header → 403 AccessForbidden.
/// - Else 200, empty, with the rule's CORS headers.
pub async fn preflight(
    state: &crate::op::AppState,
    bucket: &crate::http::target::BucketName,
    h: &HeaderMap,
) -> Result<crate::op::Response> {
    let origin = crate::http::header::get(h, "origin");
    let method = crate::http::header::get(h, "access-control-request-method");
    let (Some(origin), Some(method)) = (origin, method) else {
        return Err(Error::with_message(
            ErrorCode::InvalidRequest,
            "A CORS preflight needs Origin and Access-Control-Request-Method.",
        ));
    };
    let requested = crate::http::header::get(h, "access-control-request-headers");
    let view = state
        .views
        .get(&state.store, bucket.as_str())
        .await?
        .ok_or_else(|| Error::new(ErrorCode::NoSuchBucket))?;
    let forbidden = || {
        Error::with_message(
            ErrorCode::AccessForbidden,
            "CORSResponse: This CORS request is not allowed.",
        )
    };
    // The bucket's rules, else the server-wide default rule (config `[cors]`).
    let cors = view
        .cors
        .as_ref()
        .or(state.config.default_cors.as_ref())
        .ok_or_else(forbidden)?;
    let headers: Vec<&str> = requested.map_or(Vec::new(), |r| r.split(',').collect());
    let rule = cors
        .find(origin, method.trim(), &headers)
        .ok_or_else(forbidden)?;
    let mut rb = crate::render::headers::ResponseBuilder::new(http::StatusCode::OK);
    preflight_headers(cors, rule, origin, requested, rb.headers_mut());
    Ok(rb.content_length(0).empty())
}

/// Adds the CORS headers of `bucket`'s rules to a response whose request
/// carried `Origin` (any status: a browser hides errors without them).
/// With `ResponseVary` on, every response of the bucket says `Vary: Origin`,
/// also those to requests without `Origin` or from an origin no rule
/// allows: a browser that cached an `<img>`'s plain answer would otherwise
/// reuse it, without `Access-Control-Allow-Origin`, for a later CORS fetch of
/// the same URL.
pub async fn decorate(
    state: &crate::op::AppState,
    bucket: &str,
    origin: Option<&str>,
    method: &str,
    out: &mut HeaderMap,
) {
    // The bucket's rules, else the server-wide default rule (also for a
    // bucket that does not exist, so a browser can read that error).
    let view = state.views.get(&state.store, bucket).await.ok().flatten();
    let cors = view
        .as_ref()
        .and_then(|v| v.cors.as_ref())
        .or(state.config.default_cors.as_ref());
    if let Some(cors) = cors {
        if let Some(origin) = origin {
            actual_headers(cors, origin, method, out);
        }
        if cors.vary() {
            vary_origin(out);
        }
    }
}

/// Appends `Vary: Origin` unless a `Vary` already names it.
fn vary_origin(out: &mut HeaderMap) {
    let named = out.get_all(http::header::VARY).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("origin") || t.trim() == "*")
        })
    });
    if !named {
        out.append(http::header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// `pattern` with at most one `*` (matching zero or more characters)
/// against `value`; `ci`: compare case-insensitively.
pub fn glob(pattern: &str, value: &str, ci: bool) -> bool {
    // No allocation: this runs for every request that carries an Origin.
    let eq = |a: Option<&str>, b: &str| {
        a.is_some_and(|a| {
            if ci {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        })
    };
    match pattern.split_once('*') {
        None => eq(Some(value), pattern),
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && eq(value.get(..head.len()), head)
                && eq(value.get(value.len() - tail.len()..), tail)
        }
    }
}

impl CorsRule {
    fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| glob(o.trim(), origin, false))
    }

    fn allows_method(&self, method: &str) -> bool {
        self.allowed_methods.iter().any(|m| m.trim() == method)
    }

    fn allows_header(&self, header: &str) -> bool {
        self.allowed_headers
            .iter()
            .any(|h| glob(h.trim(), header.trim(), true))
    }

    /// `*` when the origin matched a bare `*`, else the request's origin.
    fn allow_origin_value(&self, origin: &str) -> String {
        if self.allowed_origins.iter().any(|o| o.trim() == "*") {
            "*".to_string()
        } else {
            origin.to_string()
        }
    }
}

impl Cors {
    fn vary(&self) -> bool {
        self.response_vary
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The first rule allowing `origin`, `method` and every one of
    /// `request_headers` (cos-bucket.md §1.2: document order, first wins).
    pub fn find(&self, origin: &str, method: &str, request_headers: &[&str]) -> Option<&CorsRule> {
        self.rules.iter().find(|r| {
            r.allows_origin(origin)
                && r.allows_method(method)
                && request_headers
                    .iter()
                    .filter(|h| !h.trim().is_empty())
                    .all(|h| r.allows_header(h))
        })
    }
}

/// The headers of a successful preflight from the matching rule.
pub fn preflight_headers(
    cors: &Cors,
    rule: &CorsRule,
    origin: &str,
    requested_headers: Option<&str>,
    out: &mut HeaderMap,
) {
    if let Some(h) = requested_headers.filter(|h| !h.trim().is_empty()) {
        insert(out, "access-control-allow-headers", h);
    }
    common(rule, origin, out);
    if cors.vary() {
        vary_origin(out);
    }
}

/// The CORS headers of an actual (non-preflight) response whose request
/// carried `Origin` and matched a rule (cos-bucket.md §1.3): matched on the
/// method as sent. (`Vary: Origin` is [`decorate`]'s, for every response.)
pub fn actual_headers(cors: &Cors, origin: &str, method: &str, out: &mut HeaderMap) {
    if let Some(rule) = cors.find(origin, method, &[]) {
        common(rule, origin, out);
    }
}

/// What preflights and actual responses share: allowed origin and methods,
/// exposed headers, max age.
fn common(rule: &CorsRule, origin: &str, out: &mut HeaderMap) {
    insert(
        out,
        "access-control-allow-origin",
        &rule.allow_origin_value(origin),
    );
    insert(
        out,
        "access-control-allow-methods",
        &joined(&rule.allowed_methods),
    );
    if !rule.expose_headers.is_empty() {
        insert(
            out,
            "access-control-expose-headers",
            &joined(&rule.expose_headers),
        );
    }
    if let Some(m) = &rule.max_age_seconds {
        insert(out, "access-control-max-age", m.trim());
    }
}

/// Values trimmed and joined with commas, as `Access-Control-*` lists go.
fn joined(values: &[String]) -> String {
    values
        .iter()
        .map(|v| v.trim())
        .collect::<Vec<_>>()
        .join(",")
}

fn insert(out: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        out.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_table() {
        let cases = [
            ("*", "https://a.b", true),
            ("https://a.b", "https://a.b", true),
            ("https://a.b", "https://a.bc", false),
            ("http://*.example.com", "http://www.example.com", true),
            ("http://*.example.com", "http://.example.com", true),
            ("http://*.example.com", "https://www.example.com", false),
            ("https://example.com:*", "https://example.com:8443", true),
            ("*.com", "x.org", false),
        ];
        for (p, v, want) in cases {
            assert_eq!(glob(p, v, false), want, "{p} vs {v}");
        }
        assert!(glob("X-COS-*", "x-cos-meta-a", true));
        assert!(!glob("X-COS-*", "x-cos-meta-a", false));
    }

    fn cors() -> Cors {
        Cors::parse(
            br#"<CORSConfiguration>
              <CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin>
                <AllowedMethod>PUT</AllowedMethod><AllowedHeader>content-type</AllowedHeader>
                <AllowedHeader>x-cos-*</AllowedHeader><ExposeHeader>ETag</ExposeHeader>
                <MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>
              <CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>
              <ResponseVary>true</ResponseVary>
            </CORSConfiguration>"#,
        )
        .unwrap()
    }

    #[test]
    fn matching_table() {
        let c = cors();
        let cases: [(&str, &str, &[&str], Option<usize>); 7] = [
            ("https://app.example.com", "PUT", &["Content-Type"], Some(0)),
            (
                "https://app.example.com",
                "PUT",
                &["x-cos-meta-a", "content-type"],
                Some(0),
            ),
            ("https://app.example.com", "PUT", &["authorization"], None),
            ("https://other.example.com", "PUT", &[], None),
            ("https://other.example.com", "GET", &[], Some(1)),
            ("https://app.example.com", "GET", &[], Some(1)),
            ("https://app.example.com", "DELETE", &[], None),
        ];
        for (origin, method, headers, want) in cases {
            let got = c
                .find(origin, method, headers)
                .map(|r| c.rules.iter().position(|x| x == r).unwrap());
            assert_eq!(got, want, "{origin} {method} {headers:?}");
        }
        let mut h = HeaderMap::new();
        preflight_headers(
            &c,
            &c.rules[0],
            "https://app.example.com",
            Some("content-type"),
            &mut h,
        );
        assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(h["access-control-allow-methods"], "PUT");
        assert_eq!(h["access-control-allow-headers"], "content-type");
        assert_eq!(h["access-control-expose-headers"], "ETag");
        assert_eq!(h["access-control-max-age"], "600");
        assert_eq!(h["vary"], "Origin");
        let mut h = HeaderMap::new();
        actual_headers(&c, "https://x.org", "GET", &mut h);
        assert_eq!(h["access-control-allow-origin"], "*");
    }

    #[test]
    fn validation_table() {
        let rule = |inner: &str| {
            format!("<CORSConfiguration><CORSRule>{inner}</CORSRule></CORSConfiguration>")
        };
        let ok = "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>";
        let cases = [
            (rule(ok), None),
            (
                "<CORSConfiguration/>".to_string(),
                Some(ErrorCode::MalformedXML),
            ),
            (
                rule("<AllowedMethod>GET</AllowedMethod>"),
                Some(ErrorCode::MalformedXML),
            ),
            (
                rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>"),
                Some(ErrorCode::InvalidArgument),
            ),
            (
                rule("<AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"),
                Some(ErrorCode::InvalidArgument),
            ),
            (
                rule(&format!("{ok}<ExposeHeader>x-*</ExposeHeader>")),
                Some(ErrorCode::InvalidArgument),
            ),
            (
                rule(&format!("{ok}<MaxAgeSeconds>-1</MaxAgeSeconds>")),
                Some(ErrorCode::InvalidArgument),
            ),
            (
                format!(
                    "<CORSConfiguration>{}</CORSConfiguration>",
                    format!("<CORSRule>{ok}</CORSRule>").repeat(101)
                ),
                Some(ErrorCode::InvalidArgument),
            ),
        ];
        for (body, want) in cases {
            let got = Cors::parse(body.as_bytes()).err().map(|e| e.code);
            assert_eq!(got, want, "{body}");
        }
    }
}
