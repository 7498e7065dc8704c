//! The request pipeline for one request:
//! limits → Target → (reserved `/-/` endpoints) → auth::verify → route::resolve
//! → authz::check → op::dispatch → common headers; any failure is rendered by
//! `Error::into_response`, the only error renderer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Request};
use tower::ServiceExt;

use crate::auth::post_form::FormDialect;
use crate::auth::{self, AuthOptions, Dialect, Family, RequestParts};
use crate::authz;
use crate::config;
use crate::dialect;
use crate::error::{Error, ErrorCode};
use crate::http::access_log;
use crate::http::body::{request_stream, Body};
use crate::http::form;
use crate::http::payload;
use crate::http::query::{decode_path, Query};
use crate::http::target::{self, Target};
use crate::op::{self, AppState, Req};
use crate::render::headers::apply_header_case;
use crate::route;

/// The whole server's shared state plus the `/-/` router.
pub struct Service {
    pub state: Arc<AppState>,
    admin: axum::Router,
    auth: AuthOptions,
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A COS-looking request id (base64 of `<time>_<random>_<counter>`), unique per process run.
pub fn request_id() -> String {
    static NONCE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let nonce = *NONCE.get_or_init(rand::random);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    base64::engine::general_purpose::STANDARD.encode(format!("{secs:x}_{nonce:08x}_{n:x}"))
}

/// The response body length announced in the head (0 for HEAD).
fn announced_len(method: &http::Method, resp: &http::Response<Body>) -> u64 {
    if method == http::Method::HEAD {
        0
    } else {
        http_body::Body::size_hint(resp.body()).exact().unwrap_or(0)
    }
}

impl Service {
    pub fn new(state: Arc<AppState>) -> Service {
        let auth = AuthOptions {
            leeway: state.config.auth_leeway,
            strict_region: state
                .config
                .auth_strict_region
                .then(|| state.config.addressing.region.clone()),
        };
        Service {
            admin: crate::server::admin_router(state.clone()),
            state,
            auth,
        }
    }

    /// The COS error for a request refused before the pipeline (limits,
    /// shutdown), rendered like every other error: same family, request id
    /// and header spelling.
    pub fn refuse<B>(&self, req: &Request<B>, e: Error) -> http::Response<Body> {
        let id = request_id();
        let uri = req.uri();
        let host = req.headers().get(http::header::HOST);
        let host_str = uri
            .authority()
            .map(|a| a.as_str())
            .or_else(|| host.and_then(|h| h.to_str().ok()))
            .unwrap_or("");
        let query = Query::parse(uri.query()).unwrap_or_default();
        let dialect = Dialect::detect(&RequestParts {
            method: req.method(),
            path: uri.path(),
            query: query.pairs(),
            headers: req.headers(),
        });
        let family = dialect::family_of(dialect, host_str);
        let resource = match family {
            Family::Cos => resource_of(uri, host),
            Family::S3 => uri.path().to_string(),
            Family::Oss => target::host_without_port(host_str),
        };
        let mut resp = e.into_response(req.method(), &resource, &id, family);
        dialect::translate_response(family, resp.headers_mut(), &id);
        apply_header_case(resp.extensions_mut());
        resp
    }

    /// Handles one request and always returns a response; its access-log
    /// line counts the response body as announced (in-process callers: the
    /// server's connections use [`Service::handle_logged`]).
    pub async fn handle<B>(&self, req: Request<B>) -> http::Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Display + 'static,
    {
        let (resp, line) = self.handle_logged(req).await;
        if let Some(mut line) = line {
            line.bytes_out = announced_len(&line.method, &resp);
        }
        resp
    }

    /// Handles one request; the access-log line (when the access log is on)
    /// comes back unsent: it is emitted when dropped, with the response body
    /// bytes the connection actually sent counted into it meanwhile.
    pub async fn handle_logged<B>(
        &self,
        req: Request<B>,
    ) -> (http::Response<Body>, Option<Box<access_log::PendingLine>>)
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Display + 'static,
    {
        let started = Instant::now();
        let _in_flight = self.state.metrics.start();
        let id = request_id();
        let method = req.method().clone();
        let remote = req.extensions().get::<authz::RemoteAddr>().map(|a| a.0);
        let expects_continue = crate::http::linger::expects_continue(req.headers());
        // Request body bytes, for the metrics and the access log.
        let (req, received) = {
            let (parts, body) = req.into_parts();
            let (body, count) = access_log::CountingBody::new(body);
            (Request::from_parts(parts, body), count)
        };
        // Kept (cheap clones) to name the resource only when an error or the
        // access log needs it.
        let uri = req.uri().clone();
        let host = req.headers().get(http::header::HOST).cloned();
        let resource = || resource_of(&uri, host.as_ref());
        // Until the dialect is known, the Host says which family to answer in.
        let mut family = dialect::family_of_host(
            uri.authority()
                .map(|a| a.as_str())
                .or_else(|| host.as_ref().and_then(|h| h.to_str().ok()))
                .unwrap_or(""),
        );
        // CORS (cos-bucket.md §1.3): a request with `Origin` gets the
        // matching rule's headers on whatever it is answered, errors included
        // (and, with ResponseVary, every response gets `Vary: Origin`).
        let origin = req
            .headers()
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut bucket = None;
        let mut key = None;
        let mut error_code = None;
        // Bucket access logs (bucket_config/logging.rs): what the line needs
        // from the request, gathered only while some bucket is logged.
        let logged = self.state.logs.active().then(|| access_request(&req));
        let mut failure = None;
        let (mut resp, op_name, secret_id) =
            match self.pipeline(req, &mut family, &mut bucket, &mut key).await {
                Ok((resp, op, who)) => (resp, op, who),
                Err((e, op, who)) => {
                    error_code = Some(e.code.as_str());
                    if logged.is_some() {
                        failure = Some((e.code.as_str(), e.message().to_string()));
                    }
                    let resource = match family {
                        Family::Cos => resource(),
                        Family::S3 => uri.path().to_string(),
                        Family::Oss => target::host_without_port(
                            host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or(""),
                        ),
                    };
                    (e.into_response(&method, &resource, &id, family), op, who)
                }
            };
        if let Some(bucket) = &bucket {
            if method != http::Method::OPTIONS {
                crate::bucket_config::cors::decorate(
                    &self.state,
                    bucket,
                    origin.as_deref(),
                    method.as_str(),
                    resp.headers_mut(),
                )
                .await;
            }
        }
        dialect::translate_response(family, resp.headers_mut(), &id);
        // An error answered to `Expect: 100-continue` before its body was
        // read (a failed precondition checked first, NoSuchUpload, ...)
        // closes the connection: such a client may skip the body and send
        // its next request at once, so the connection's framing is unknown
        // (hyper draining the declared length would swallow the start of
        // that next request and answer it 400; boto3 hit this). Bodies sent
        // without `Expect` are drained instead (http/linger.rs).
        if expects_continue
            && resp.status().as_u16() >= 400
            && received.as_ref().is_some_and(|c| !c.ended())
        {
            resp.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        apply_header_case(resp.extensions_mut());
        if let (Some(req), Some(bucket)) = (logged, &bucket) {
            let a = &self.state.config.addressing;
            self.state.logs.record(
                &a.region,
                &a.appid,
                &crate::bucket_config::logging::AccessEvent {
                    request_id: &id,
                    bucket,
                    host: host.as_ref().and_then(|h| h.to_str().ok()).unwrap_or(""),
                    method: &method,
                    uri: &uri,
                    op_name,
                    status: resp.status().as_u16(),
                    error: failure,
                    secret_id: secret_id.as_deref(),
                    remote: req.remote,
                    user_agent: req.user_agent,
                    referer: req.referer,
                    request_bytes: req.length,
                    response_headers: resp.headers(),
                    elapsed: started.elapsed(),
                    end: std::time::SystemTime::now(),
                },
            );
        }
        // The response is final: metrics and the access log (http/access_log.rs).
        let ready = Instant::now();
        let elapsed = ready.saturating_duration_since(started);
        let status = resp.status().as_u16();
        let bytes_in = received.map_or(0, |c| c.bytes());
        let bytes_out = announced_len(&method, &resp);
        let mut outcome = crate::metrics::Outcome::new(op_name, family, status);
        outcome.error = error_code;
        outcome.received = bytes_in;
        outcome.sent = bytes_out;
        outcome.elapsed = elapsed;
        if self.state.metrics.recording() {
            self.state.metrics.record(&outcome);
        }
        // Boxed: it rides along with the response body, which is moved
        // several times on its way to the connection.
        let line = access_log::enabled().then(|| {
            Box::new(access_log::PendingLine {
                request_id: id,
                method,
                operation: op_name,
                dialect: crate::metrics::dialect_label(family),
                bucket,
                key,
                status,
                bytes_in,
                bytes_out: 0,
                duration: elapsed,
                secret_id,
                remote,
                error_code,
                at: ready,
            })
        });
        (resp, line)
    }

    #[allow(clippy::type_complexity)]
    async fn pipeline<B>(
        &self,
        req: Request<B>,
        family: &mut Family,
        bucket_out: &mut Option<String>,
        key_out: &mut Option<String>,
    ) -> Result<
        (http::Response<Body>, &'static str, Option<String>),
        (Error, &'static str, Option<String>),
    >
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::fmt::Display + 'static,
    {
        let config = &self.state.config;
        let fail = |e: Error| (e, "-", None);
        // Limits hyper does not enforce with a COS error body (NOTES 3).
        let header_bytes: usize = req
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum();
        if header_bytes > config.max_header_bytes {
            return Err(fail(Error::new(ErrorCode::RequestHeaderSectionTooLarge)));
        }
        // HTTP/2 (`:authority`) and Host-less absolute-form requests: the
        // authority is the Host that signatures cover.
        let mut req = req;
        if !req.headers().contains_key(http::header::HOST) {
            if let Some(v) = req
                .uri()
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                req.headers_mut().insert(http::header::HOST, v);
            }
        }
        // Target: absolute-form authority first (RFC 9112 §3.2.2), else Host.
        let host = match req.uri().authority() {
            Some(a) => a.as_str().to_string(),
            None => req
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_string(),
        };
        let invalid_uri =
            || Error::with_message(ErrorCode::InvalidURI, "Couldn't parse the specified URI.");
        let path = decode_path(req.uri().path()).map_err(|_| fail(invalid_uri()))?;
        let query = Query::parse(req.uri().query()).map_err(|_| fail(invalid_uri()))?;
        // Static website endpoints and `?domain` custom domains
        // (cos-bucket.md §5, §10), before the ordinary host rules.
        use crate::bucket_config::website::{self, HostRoute};
        let mut mapped = None;
        match website::host_route(&self.state, &host).await {
            Some(HostRoute::Website(b)) => {
                *family = Family::Cos;
                *bucket_out = Some(b.as_str().to_string());
                let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
                let key = path.strip_prefix('/').unwrap_or(&path);
                let visit = website::Visit {
                    host: &host,
                    path_and_query: pq,
                    key,
                    method: req.method(),
                    headers: req.headers(),
                    peer: req
                        .extensions()
                        .get::<authz::RemoteAddr>()
                        .map(|a| a.0.ip()),
                };
                let resp = website::serve(&self.state, &b, &visit).await;
                return Ok((resp, "Website", None));
            }
            Some(HostRoute::Rest(b)) => mapped = Some(b),
            None => {}
        }
        // The dialect, once: it decides the bucket-name convention (S3 and
        // OSS use names as given) and the family every reply speaks.
        let dialect = Dialect::detect(&RequestParts {
            method: req.method(),
            path: &path,
            query: query.pairs(),
            headers: req.headers(),
        });
        // POST Object (cos.md §1.9): the signature travels in the form body,
        // so the fields before `file` are read now and the file part becomes
        // the body; a signed form's dialect picks the family (and with it the
        // bucket naming), as headers do for other requests.
        let body_is_empty = req.body().is_end_stream();
        let mut req = req.map(|b| request_stream(b, config.body_idle_timeout));
        let mut form = None;
        if dialect == Dialect::Anonymous
            && req.method() == http::Method::POST
            && query.pairs().is_empty()
        {
            if let Some(boundary) = form::boundary(req.headers()) {
                let (parts, body) = req.into_parts();
                let (head, file) = form::read_head(&boundary, body).await.map_err(fail)?;
                req = Request::from_parts(parts, file);
                form = Some(head);
            }
        }
        *family = match form
            .as_ref()
            .and_then(|f| FormDialect::detect(|n| f.get(n)))
        {
            Some(d) => d.family(),
            None => dialect::family_of(dialect, &host),
        };
        let target = match &mapped {
            Some(b) => target::resolve_in(b, &path, &config.addressing, *family),
            None => target::resolve_for(&host, &path, &config.addressing, *family),
        }
        .map_err(fail)?;
        if let Target::Bucket(b) | Target::Object(b, _) = &target {
            // Refined below once the bucket name is resolved; set now so
            // that authentication failures carry CORS headers too.
            *bucket_out = Some(b.as_str().to_string());
        }
        if let Target::Object(_, k) = &target {
            *key_out = Some(k.as_str().to_string());
        }
        if let Target::Reserved(p) = &target {
            if p.starts_with("/-/admin/") {
                return crate::admin::serve(&self.state, &self.auth, req, p, &query)
                    .await
                    .map(|(r, who)| (r, "Admin", who))
                    .map_err(|(e, who)| (e, "Admin", who));
            }
            if crate::console::is_console_path(p) {
                if let Some((status, headers, body)) =
                    crate::console::serve(req.method(), p, req.headers())
                {
                    let mut resp = http::Response::new(Body::Full(Bytes::from_static(body)));
                    *resp.status_mut() = status;
                    *resp.headers_mut() = headers;
                    return Ok((resp, "Console", None));
                }
            }
            let off = p == "/-/metrics" && !self.state.metrics.recording();
            if off || !crate::server::ADMIN_PATHS.contains(&p.as_str()) {
                return Err(fail(Error::with_message(
                    ErrorCode::NoSuchResource,
                    format!("No such localcos endpoint {p}."),
                )));
            }
            // Admin endpoints take no body.
            let resp = self
                .admin
                .clone()
                .oneshot(req.map(|_| axum::body::Body::empty()))
                .await
                .unwrap_or_else(|e| match e {});
            let (parts, body) = resp.into_parts();
            let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
                .await
                .unwrap_or_default();
            return Ok((
                http::Response::from_parts(parts, Body::Full(bytes)),
                "Admin",
                None,
            ));
        }

        // A CORS preflight needs no signature (cos-bucket.md §1.2).
        if req.method() == http::Method::OPTIONS {
            if let Target::Bucket(b) | Target::Object(b, _) = &target {
                let b = op::resolve_bucket(&self.state, *family, b.clone())
                    .await
                    .map_err(|e| (e, "OptionsObject", None))?;
                return crate::bucket_config::cors::preflight(&self.state, &b, req.headers())
                    .await
                    .map(|r| (r, "OptionsObject", None))
                    .map_err(|e| (e, "OptionsObject", None));
            }
        }

        // Authentication: verify the signature, or anonymous.
        let parts = RequestParts {
            method: req.method(),
            path: &path,
            query: query.pairs(),
            headers: req.headers(),
        };
        let keys = self.state.keys.current().await;
        let verified = auth::verify_resource(
            &parts,
            auth::Resource::of(&target),
            &keys,
            config::now(),
            &self.auth,
        )
        .map_err(|e| fail(e.into()))?;
        let dialect = verified.dialect;
        let family = *family;
        let identity = verified.identity.clone();
        let who = identity.as_ref().map(|i| i.secret_id.clone());
        let query = Query::from_pairs(
            query
                .pairs()
                .iter()
                .filter(|(k, _)| !auth::is_auth_param(dialect, k))
                .cloned()
                .collect(),
        );
        // COS names of suffix-less (S3/OSS-created) buckets, then S3/OSS
        // header names → COS's, so routing and the ops see one vocabulary.
        let target = match target {
            Target::Bucket(b) => Target::Bucket(
                op::resolve_bucket(&self.state, family, b)
                    .await
                    .map_err(|e| (e, "-", who.clone()))?,
            ),
            Target::Object(b, k) => Target::Object(
                op::resolve_bucket(&self.state, family, b)
                    .await
                    .map_err(|e| (e, "-", who.clone()))?,
                k,
            ),
            other => other,
        };
        if let Target::Bucket(b) | Target::Object(b, _) = &target {
            *bucket_out = Some(b.as_str().to_string());
        }
        dialect::check_oss_request(family, req.headers(), &query)
            .map_err(|e| (e, "-", who.clone()))?;
        let query = dialect::translate_query(family, query);
        dialect::translate_request(family, req.headers_mut());
        let op = route::resolve(req.method(), &target, &query, req.headers())
            .map_err(|e| (e, "-", who.clone()))?;
        let name = op.name();
        // Authorization (§1.10 step 7): scope of the key, or the ACLs for
        // anonymous callers (`Req::identity` stays `None` for them), and
        // the bucket policy for both.
        let scope = identity.as_ref().map(|i| keys.scope(&i.secret_id));
        let peer = req
            .extensions()
            .get::<authz::RemoteAddr>()
            .map(|a| a.0.ip());
        let caller = authz::Caller {
            key: identity
                .as_ref()
                .zip(scope.as_ref())
                .map(|(i, s)| (i.secret_id.as_str(), s)),
            peer,
        };
        // A form upload's signature is in its body: the handler verifies it,
        // then runs this same check with the identity it found.
        if !matches!(op, route::Operation::PostObject(_)) {
            authz::check(&self.state, &caller, &op, &query, req.headers(), family)
                .await
                .map_err(|e| (e, name, who.clone()))?;
        }
        let (mut parts, body) = req.into_parts();
        // S3 payload checks (x-amz-content-sha256, aws-chunked, checksums):
        // the body is decoded and verified while the handler streams it.
        let checked = payload::prepare(body, body_is_empty, &verified.payload, &mut parts.headers)
            .await
            .map_err(|e| (e, name, who.clone()))?;
        let r = Req {
            method: parts.method,
            headers: parts.headers,
            query,
            body: checked.body,
            identity,
            dialect,
            family,
            sendfile: parts
                .extensions
                .remove::<crate::http::sendfile::SendfileQueue>(),
            checksum: checked.checksum,
            form,
            peer,
        };
        // Bucket replication (cos-bucket.md §9) follows successful writes.
        let written = crate::bucket_config::replication::written_key(&op);
        match op::dispatch(&self.state, op, r).await {
            Ok(resp) => {
                if let (Some((b, k)), true) = (&written, resp.status().is_success()) {
                    let version = resp
                        .headers()
                        .get("x-cos-version-id")
                        .and_then(|v| v.to_str().ok());
                    crate::bucket_config::replication::after_write(&self.state, b, k, version)
                        .await;
                }
                Ok((resp, name, who))
            }
            // A body that failed its checks says why, whatever the handler made of it.
            Err(e) => Err((
                checked.failure.get().cloned().map_or(e, Error::from),
                name,
                who,
            )),
        }
    }
}

/// The request side of an access-log line, taken before the request is consumed.
struct AccessRequest {
    remote: Option<std::net::IpAddr>,
    user_agent: Option<String>,
    referer: Option<String>,
    length: Option<u64>,
}

fn access_request<B>(req: &Request<B>) -> AccessRequest {
    let h = |name: http::header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    AccessRequest {
        remote: req
            .extensions()
            .get::<authz::RemoteAddr>()
            .map(|a| a.0.ip()),
        user_agent: h(http::header::USER_AGENT),
        referer: h(http::header::REFERER),
        length: h(http::header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
    }
}

/// What `<Resource>` names: the host and raw path, never empty.
fn resource_of(uri: &http::Uri, host: Option<&HeaderValue>) -> String {
    let host = uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| host.and_then(|h| h.to_str().ok()))
        .unwrap_or("");
    format!("{host}{}", uri.path())
}
