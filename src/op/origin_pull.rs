//! Back-to-origin at run time (cos-bucket.md §11, NOTES-ON-ISSUES 10): a
//! GET/HEAD of a missing key under a matching `?origin` rule.
//!
//! - **Redirect**: 3xx (`HttpRedirectCode`, default 302) to
//!   `<scheme>://<HostName>/<mapped key>[?query]`; nothing is fetched.
//! - **Proxy**: the object is fetched from the origin and relayed (status,
//!   representation headers, body streamed chunk by chunk); nothing is
//!   stored. `Range` and the conditional headers are passed through, so the
//!   origin answers 206/304/412 itself.
//! - **Mirror**: fetched whole (no `Range` sent) and stored in the bucket
//!   while it streams to the client: the bytes go into a new blob as they
//!   pass, committed only when the origin's body ended complete (and matched
//!   its Content-Length); an origin or client failure mid-way leaves nothing
//!   visible. A HEAD, a Range or a conditional request first stores the
//!   whole object, then is answered from the stored copy (so Range and
//!   conditionals behave exactly as for local objects). `CopyOriginData:
//!   false` makes a Mirror rule behave as Proxy.
//!
//! Fetches are plain HTTP/1.1 over one connection per fetch (hyper client).
//! The host is resolved here and every address is checked against the SSRF
//! classes (`crate::origin`, loopback/private only with
//! `--origin-allow-private`); the connection goes to the checked address
//! itself, so a DNS answer that changes between check and connect cannot
//! redirect it. Redirects from the origin are followed only when the rule
//! says `FollowRedirection` (at most 3, each target checked the same way).
//! HTTPS origins cannot be fetched (no TLS client is built in): such a
//! rule answers 404 NoSuchKey with a message saying so; redirect rules work
//! for HTTPS. Any origin failure (refused address, connection error,
//! timeout, origin status other than 2xx/304/412/416) answers the missing
//! key's 404 NoSuchKey with a message naming the reason, unless the rule
//! has `TransparentErrorCode`, which relays the origin's error status.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use super::{AppState, Req, Response};
use crate::bucket_config::origin::{OriginConfig, OriginRule, OriginType};
use crate::bucket_config::stored;
use crate::error::{Error, ErrorCode, Result};
use crate::http::body::{request_stream, Body};
use crate::http::target::{BucketName, ObjectKey};
use crate::render::headers::ResponseBuilder;
use crate::storage::{ByteStream, ObjectHeaders, PutOptions, StorageError, WriteCondition};

/// Most origin redirects followed (with `FollowRedirection`).
const MAX_REDIRECTS: usize = 3;

/// Request headers never sent to an origin (hop-by-hop, credentials, the
/// framing of our own request, COS signing and security headers).
const NEVER_FORWARD: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "authorization",
    "cookie",
    "content-length",
    "expect",
];

/// Headers the client's request passes to the origin in proxy mode.
const PASS_THROUGH: &[&str] = &[
    "range",
    "if-range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
];

/// Origin response headers relayed to the client.
const RELAY: &[&str] = &[
    "content-type",
    "content-range",
    "etag",
    "last-modified",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
    "accept-ranges",
];

/// Why a fetch did not produce a response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The origin's address is not allowed (SSRF classes).
    #[error("origin address refused: {0}")]
    Refused(String),
    #[error("origin not fetchable: {0}")]
    Unsupported(String),
    #[error("origin fetch failed: {0}")]
    Failed(String),
}

/// An origin's response head and streaming body.
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub len: Option<u64>,
    pub body: ByteStream,
}

/// Fetch limits.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub allow_private: bool,
    pub timeout: Duration,
    pub follow_redirects: bool,
}

/// Resolves `host` and returns the addresses allowed as origins (the SSRF
/// check on the addresses that will actually be connected to).
/// # Behavior
/// - Names refused by name (metadata services; `localhost` without
///   allow_private) and addresses of a refused class → `Refused` when no
///   address is left.
pub async fn checked_addrs(
    url: &url::Url,
    opts: &FetchOptions,
) -> std::result::Result<Vec<SocketAddr>, FetchError> {
    let host = url
        .host_str()
        .ok_or_else(|| FetchError::Failed("no host".into()))?;
    let port = url.port_or_known_default().unwrap_or(80);
    // Scheme, credentials, metadata and localhost names, IP literals.
    let base = format!("{}://{}/", url.scheme(), url.host_str().unwrap_or(""));
    let no_dns = |_: &str, _: u16| Ok(Vec::new());
    crate::origin::validate(&base, opts.allow_private, &no_dns)
        .map_err(|e| FetchError::Refused(e.to_string()))?;
    let lookup_host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> =
        tokio::time::timeout(opts.timeout, tokio::net::lookup_host((lookup_host, port)))
            .await
            .map_err(|_| FetchError::Failed(format!("resolving {host} timed out")))?
            .map_err(|e| FetchError::Failed(format!("resolving {host}: {e}")))?
            .collect();
    let mut refused = None;
    let mut ok = Vec::new();
    for a in addrs {
        let class = crate::origin::classify(a.ip());
        if crate::origin::allowed(class, opts.allow_private) {
            ok.push(a);
        } else {
            refused = Some(format!("{host} resolves to {} ({class})", a.ip()));
        }
    }
    if ok.is_empty() {
        return Err(FetchError::Refused(
            refused.unwrap_or_else(|| format!("{host} has no address")),
        ));
    }
    Ok(ok)
}

/// One HTTP/1.1 request to `url` over a fresh connection to a checked
/// address; redirects followed when `opts.follow_redirects`.
pub async fn fetch(
    url: &str,
    method: &Method,
    headers: &HeaderMap,
    opts: &FetchOptions,
) -> std::result::Result<Fetched, FetchError> {
    let mut url = url::Url::parse(url).map_err(|e| FetchError::Failed(e.to_string()))?;
    for hop in 0..=MAX_REDIRECTS {
        if url.scheme() != "http" {
            return Err(FetchError::Unsupported(format!(
                "{}: only http:// origins can be fetched by localcos",
                url.scheme()
            )));
        }
        let addrs = checked_addrs(&url, opts).await?;
        let mut stream = None;
        let mut last_err = String::new();
        for a in addrs {
            match tokio::time::timeout(opts.timeout, tokio::net::TcpStream::connect(a)).await {
                Ok(Ok(s)) => {
                    // The address connected to is the one checked; check the
                    // peer once more for certainty.
                    let peer = s.peer_addr().map(|p| p.ip()).unwrap_or(a.ip());
                    if !crate::origin::allowed(crate::origin::classify(peer), opts.allow_private) {
                        return Err(FetchError::Refused(format!("connected to {peer}")));
                    }
                    stream = Some(s);
                    break;
                }
                Ok(Err(e)) => last_err = format!("connecting to {a}: {e}"),
                Err(_) => last_err = format!("connecting to {a} timed out"),
            }
        }
        let stream = stream.ok_or(FetchError::Failed(last_err))?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| FetchError::Failed(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "origin connection closed with error");
            }
        });
        let host_header = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_string(),
        };
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let mut req = http::Request::builder()
            .method(method.clone())
            .uri(path)
            .header(http::header::HOST, host_header)
            .header(http::header::USER_AGENT, "localcos-origin-pull")
            .body(http_body_util::Empty::<Bytes>::new())
            .map_err(|e| FetchError::Failed(e.to_string()))?;
        for (k, v) in headers {
            req.headers_mut().append(k, v.clone());
        }
        let resp = tokio::time::timeout(opts.timeout, sender.send_request(req))
            .await
            .map_err(|_| FetchError::Failed("origin response timed out".into()))?
            .map_err(|e| FetchError::Failed(e.to_string()))?;
        drop(sender);
        let status = resp.status();
        if opts.follow_redirects && status.is_redirection() && hop < MAX_REDIRECTS {
            if let Some(next) = resp
                .headers()
                .get(http::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
            {
                url = next;
                continue;
            }
        }
        let (parts, body) = resp.into_parts();
        let len = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        return Ok(Fetched {
            status,
            headers: parts.headers,
            len,
            body: request_stream(body, opts.timeout),
        });
    }
    Err(FetchError::Failed("too many origin redirects".into()))
}

/// The request headers sent to the origin under `rule` (`pass` adds Range
/// and the conditionals).
fn origin_headers(rule: &OriginRule, h: &HeaderMap, pass: bool) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (k, v) in h {
        let name = k.as_str();
        if NEVER_FORWARD.contains(&name) || name.starts_with("x-cos-") || name.starts_with("x-amz-")
        {
            continue;
        }
        if rule.forbid_headers.iter().any(|f| f == name) {
            continue;
        }
        let wanted = if PASS_THROUGH.contains(&name) {
            // Range and conditionals: proxy only (a mirror fetches whole).
            pass
        } else {
            rule.follow_all_headers || rule.follow_headers.iter().any(|f| f == name)
        };
        if wanted {
            out.append(k, v.clone());
        }
    }
    for (k, v) in &rule.new_headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            out.insert(k, v);
        }
    }
    out
}

/// What the client asked (the parts of `Req` a fetch needs; `Req` itself
/// holds a body stream that is not `Sync`).
#[derive(Clone, Copy)]
struct Asked<'a> {
    method: &'a Method,
    headers: &'a HeaderMap,
    query: &'a crate::http::query::Query,
}

impl<'a> Asked<'a> {
    fn of(req: &'a Req) -> Asked<'a> {
        Asked {
            method: &req.method,
            headers: &req.headers,
            query: &req.query,
        }
    }
}

/// The origin URL of `key` on `host` under `rule`.
fn origin_url(rule: &OriginRule, host: &str, key: &str, req: Asked<'_>) -> String {
    let scheme = rule.scheme(
        match crate::http::header::get(req.headers, "x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        },
    );
    let mut url = format!(
        "{scheme}://{host}/{}",
        crate::origin::encode_key(&rule.origin_key(key))
    );
    if rule.follow_query && !req.query.pairs().is_empty() {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in req.query.pairs() {
            q.append_pair(k, v);
        }
        url.push('?');
        url.push_str(&q.finish());
    }
    url
}

fn not_found(why: impl std::fmt::Display) -> Error {
    Error::with_message(
        ErrorCode::NoSuchKey,
        format!("The specified key does not exist (back-to-origin: {why})."),
    )
}

/// A GET/HEAD lookup of `key` failed with `e`: the bucket's matching
/// `?origin` rule answers (see the module docs); without one, the
/// config-file origin (redirect, `bucket_settings.rs`); else `e`.
pub async fn on_missing(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
    e: Error,
) -> Result<Response> {
    if e.code != ErrorCode::NoSuchKey {
        return Err(e);
    }
    let conf = match state.store.bucket(bucket.as_str()).await? {
        Some(rec) => stored::<OriginConfig>(&rec),
        None => None,
    };
    let Some(rule) = conf.as_ref().and_then(|c| c.rule_for(key.as_str(), 404)) else {
        let settings = state.config.bucket_settings.get(bucket.as_str());
        return match settings.and_then(|s| s.origin.as_ref()) {
            Some(origin) => Ok(ResponseBuilder::new(StatusCode::FOUND)
                .header("location", origin.location(key.as_str()))
                .content_length(0)
                .empty()),
            None => Err(e),
        };
    };
    match rule.kind {
        OriginType::Redirect => {
            let host = rule.host_order()[0];
            let status = StatusCode::from_u16(rule.redirect_code).unwrap_or(StatusCode::FOUND);
            Ok(ResponseBuilder::new(status)
                .header(
                    "location",
                    origin_url(rule, host, key.as_str(), Asked::of(&req)),
                )
                .content_length(0)
                .empty())
        }
        OriginType::Mirror if rule.copy_origin_data => mirror(state, bucket, key, req, rule).await,
        _ => proxy(state, key, Asked::of(&req), rule).await,
    }
}

fn fetch_options(state: &AppState, rule: &OriginRule) -> FetchOptions {
    FetchOptions {
        allow_private: state.config.origin.allow_private,
        timeout: state.config.origin.timeout,
        follow_redirects: rule.follow_redirection,
    }
}

/// Tries the rule's hosts in order (primary, standbys): the first response
/// that is not a 5xx (or the last one), else the last error.
async fn fetch_from_rule(
    state: &AppState,
    rule: &OriginRule,
    key: &str,
    req: Asked<'_>,
    method: &Method,
    pass: bool,
) -> std::result::Result<Fetched, FetchError> {
    let opts = fetch_options(state, rule);
    let headers = origin_headers(rule, req.headers, pass);
    let hosts = rule.host_order();
    let mut last = Err(FetchError::Failed("no origin host".into()));
    for (i, host) in hosts.iter().enumerate() {
        let url = origin_url(rule, host, key, req);
        match fetch(&url, method, &headers, &opts).await {
            Ok(f) if f.status.is_server_error() && i + 1 < hosts.len() => last = Ok(f),
            Ok(f) => return Ok(f),
            Err(e) => {
                tracing::warn!(url, error = %e, "origin fetch failed");
                last = Err(e);
            }
        }
    }
    last
}

/// Whether the origin's answer is relayed as a success.
fn relayable(status: StatusCode) -> bool {
    status.is_success()
        || matches!(
            status,
            StatusCode::NOT_MODIFIED
                | StatusCode::PRECONDITION_FAILED
                | StatusCode::RANGE_NOT_SATISFIABLE
        )
}

/// The client's response for an origin answer: status, relayed headers,
/// streamed body.
fn relay(f: Fetched, is_head: bool, with_validators: bool) -> Response {
    let mut rb = ResponseBuilder::new(f.status);
    for name in RELAY {
        if !with_validators && (*name == "etag" || *name == "last-modified") {
            continue;
        }
        for v in f.headers.get_all(*name) {
            rb = rb.header_value(name, v.clone());
        }
    }
    for (k, v) in &f.headers {
        if k.as_str().starts_with("x-cos-meta-") {
            rb = rb.header_value(k.as_str(), v.clone());
        }
    }
    let bodyless = is_head || matches!(f.status, StatusCode::NOT_MODIFIED | StatusCode::NO_CONTENT);
    match (bodyless, f.len) {
        (true, Some(n)) => rb.content_length(n).empty(),
        (true, None) => rb.content_length(0).body(Body::ZeroLength),
        (false, Some(0)) => rb.content_length(0).body(Body::ZeroLength),
        (false, Some(n)) => rb.content_length(n).body(Body::Stream {
            stream: f.body,
            len: n,
        }),
        (false, None) => rb.body(Body::Chunked(f.body)),
    }
}

/// An origin failure or error status, as the client sees it.
fn failure(
    rule: &OriginRule,
    r: std::result::Result<Fetched, FetchError>,
    is_head: bool,
) -> Result<Response> {
    match r {
        Ok(f) if rule.transparent_error => Ok(relay(f, is_head, true)),
        Ok(f) => Err(not_found(format!(
            "the origin answered {}",
            f.status.as_u16()
        ))),
        Err(e) => Err(not_found(e)),
    }
}

/// Proxy: fetch with Range/conditionals passed through and relay.
async fn proxy(
    state: &AppState,
    key: &ObjectKey,
    req: Asked<'_>,
    rule: &OriginRule,
) -> Result<Response> {
    let is_head = *req.method == Method::HEAD;
    let method = if is_head { Method::HEAD } else { Method::GET };
    match fetch_from_rule(state, rule, key.as_str(), req, &method, true).await {
        Ok(f) if relayable(f.status) => Ok(relay(f, is_head, true)),
        other => failure(rule, other, is_head),
    }
}

/// The stored headers for an object fetched from an origin.
fn stored_headers(h: &HeaderMap, key: &str) -> ObjectHeaders {
    let get = |n: &str| crate::http::header::get(h, n).map(str::to_string);
    ObjectHeaders {
        content_type: super::object::content_type_for(get("content-type"), key),
        cache_control: get("cache-control"),
        content_disposition: get("content-disposition"),
        content_encoding: get("content-encoding"),
        content_language: get("content-language"),
        expires: get("expires"),
        ..Default::default()
    }
}

/// What flows from the client-facing stream to the blob writer.
enum Piece {
    Data(Bytes),
    /// The origin's body ended complete.
    End,
}

/// The store side of a tee: data until `End`; a channel closed before
/// `End` (origin failed, client went away) is an error, so the store
/// commits nothing.
fn store_side(rx: tokio::sync::mpsc::Receiver<Piece>) -> ByteStream {
    Box::pin(futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(Piece::Data(b)) => Some((Ok(b), Some(rx))),
            Some(Piece::End) => None,
            None => Some((Err(StorageError::IncompleteBody), None)),
        }
    }))
}

/// The client side of a tee: the origin's bytes, each also sent to the
/// store (the bounded channel makes the slower side set the pace). The end
/// is signalled when the body ends, or as soon as `len` bytes went through
/// (a client that got its Content-Length need not poll for the end).
fn client_side(
    origin: ByteStream,
    tx: tokio::sync::mpsc::Sender<Piece>,
    len: Option<u64>,
) -> ByteStream {
    struct St {
        origin: ByteStream,
        tx: Option<tokio::sync::mpsc::Sender<Piece>>,
        seen: u64,
        len: Option<u64>,
    }
    let st = St {
        origin,
        tx: Some(tx),
        seen: 0,
        len,
    };
    Box::pin(futures_util::stream::unfold(st, |mut st| async move {
        match st.origin.next().await {
            Some(Ok(b)) => {
                st.seen += b.len() as u64;
                if let Some(tx) = &st.tx {
                    if tx.send(Piece::Data(b.clone())).await.is_err() {
                        st.tx = None;
                    }
                }
                if st.len.is_some_and(|n| st.seen >= n) {
                    if let Some(tx) = st.tx.take() {
                        let _ = tx.send(Piece::End).await;
                    }
                }
                Some((Ok(b), st))
            }
            Some(Err(e)) => {
                st.tx = None;
                Some((Err(e), st))
            }
            None => {
                if let Some(tx) = st.tx.take() {
                    let _ = tx.send(Piece::End).await;
                }
                None
            }
        }
    }))
}

/// Mirror: fetch the whole object, store it, serve it (see module docs).
async fn mirror(
    state: &AppState,
    bucket: &BucketName,
    key: &ObjectKey,
    req: Req,
    rule: &OriginRule,
) -> Result<Response> {
    let is_head = req.method == Method::HEAD;
    let fetched = fetch_from_rule(
        state,
        rule,
        key.as_str(),
        Asked::of(&req),
        &Method::GET,
        false,
    )
    .await;
    let f = match fetched {
        Ok(f) if f.status == StatusCode::OK => f,
        other => return failure(rule, other, is_head),
    };
    let max = state.config.max_object_size;
    if f.len.is_some_and(|n| n > max) {
        // Too large to keep: relayed only.
        return Ok(relay(f, is_head, true));
    }
    let opts = PutOptions {
        headers: stored_headers(&f.headers, key.as_str()),
        content_length: f.len,
        max_size: max,
        // A write that raced the fetch wins.
        condition: WriteCondition::IfNoneMatch,
        sse: super::sse::sealing_for(state, bucket, &HeaderMap::new()).await?,
        ..Default::default()
    };
    let plain = !is_head && !PASS_THROUGH.iter().any(|h| req.headers.contains_key(*h));
    if !plain {
        // Store first, then answer from the stored copy.
        state
            .store
            .put_object(bucket.as_str(), key.as_str(), f.body, opts)
            .await
            .map_err(|e| not_found(format!("storing the fetched object failed: {e}")))?;
        return Box::pin(super::object::get_local(state, bucket, key, req)).await;
    }
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let store = state.store.clone();
    let (b, k) = (bucket.as_str().to_string(), key.as_str().to_string());
    tokio::spawn(async move {
        match store.put_object(&b, &k, store_side(rx), opts).await {
            Ok(_) => tracing::info!(bucket = b, key = k, "mirrored from origin"),
            Err(e) => tracing::warn!(bucket = b, key = k, error = %e, "origin object not stored"),
        }
    });
    let f = Fetched {
        body: client_side(f.body, tx, f.len),
        ..f
    };
    // The stored copy gets its own ETag (MD5): the origin's is not relayed.
    Ok(relay(f, false, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn private_addresses_refused_at_fetch_time() {
        let opts = FetchOptions {
            allow_private: false,
            timeout: Duration::from_secs(2),
            follow_redirects: false,
        };
        for u in [
            "http://127.0.0.1:9/x",
            "http://localhost:9/x",
            "http://[::1]:9/x",
            "http://169.254.169.254/latest",
            "http://10.1.2.3/x",
        ] {
            let url = url::Url::parse(u).unwrap();
            assert!(
                matches!(
                    checked_addrs(&url, &opts).await,
                    Err(FetchError::Refused(_))
                ),
                "{u}"
            );
        }
        let allow = FetchOptions {
            allow_private: true,
            ..opts.clone()
        };
        let url = url::Url::parse("http://127.0.0.1:9/x").unwrap();
        assert_eq!(
            checked_addrs(&url, &allow).await.unwrap(),
            vec!["127.0.0.1:9".parse::<SocketAddr>().unwrap()]
        );
        // Metadata services never, even with the switch.
        let url = url::Url::parse("http://169.254.169.254/").unwrap();
        assert!(matches!(
            checked_addrs(&url, &allow).await,
            Err(FetchError::Refused(_))
        ));
        assert!(matches!(
            fetch(
                "https://127.0.0.1:9/",
                &Method::GET,
                &HeaderMap::new(),
                &allow
            )
            .await,
            Err(FetchError::Unsupported(_))
        ));
    }
}
