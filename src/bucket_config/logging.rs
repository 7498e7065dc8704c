//! Bucket access logging `PUT/GET /?logging` (cos-bucket.md §7, NOTES 8):
//! requests to a logged bucket become access-log lines in COS's format,
//! buffered in memory per source bucket and delivered as objects into the
//! target bucket every `--log-interval-seconds` (earlier when a buffer grows
//! past [`FLUSH_BYTES`]).
//!
//! There is no DELETE on COS: an empty `<BucketLoggingStatus>` PUT disables
//! logging and GET then answers 200 with the empty root; a DELETE does the
//! same here. Deliveries are written straight into the store, never through
//! the HTTP pipeline, so a bucket's log never logs its own delivery.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

use super::{parse_xml, read_body, stored, BucketConfig, Unset};
use crate::error::{Error, ErrorCode, Result};
use crate::http::target::BucketName;
use crate::op::{AppState, Req, Response};
use crate::render::headers::ResponseBuilder;
use crate::render::xml::Xml;
use crate::storage::PutOptions;

/// A source bucket's buffer is delivered early once it holds this many bytes.
pub const FLUSH_BYTES: usize = 1 << 20;
/// A source bucket's buffer never holds more than this (lines beyond it are
/// dropped until the next delivery; the worker is woken well before).
pub const MAX_BUFFER_BYTES: usize = 16 << 20;

/// The stored document; `None` target: logging disabled (the empty root).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Logging {
    pub target_bucket: Option<String>,
    #[serde(default)]
    pub target_prefix: String,
}

#[derive(Deserialize)]
struct Doc {
    #[serde(rename = "LoggingEnabled")]
    enabled: Option<Enabled>,
}

#[derive(Deserialize)]
struct Enabled {
    #[serde(rename = "TargetBucket")]
    target_bucket: Option<String>,
    #[serde(rename = "TargetPrefix")]
    target_prefix: Option<String>,
}

/// Longest TargetPrefix accepted ([REC]: the key rules leave room for the
/// date path and file name under it).
const MAX_PREFIX: usize = 512;

impl BucketConfig for Logging {
    const NAME: &'static str = "logging";
    const UNSET: Unset = Unset::Empty("BucketLoggingStatus");

    /// # Behavior
    /// - An empty body or empty root disables logging (stores nothing).
    /// - `LoggingEnabled` without `TargetBucket` → 400 MalformedXML; an empty
    ///   TargetBucket, a TargetPrefix longer than 512 bytes or with control
    ///   characters → 400 InvalidArgument. Whether the target exists is
    ///   checked by [`put`].
    fn parse(body: &[u8]) -> Result<Self> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Logging::default());
        }
        let doc: Doc = parse_xml(body, "BucketLoggingStatus")?;
        let Some(enabled) = doc.enabled else {
            return Ok(Logging::default());
        };
        let target = enabled.target_bucket.ok_or_else(|| {
            Error::with_message(
                ErrorCode::MalformedXML,
                "LoggingEnabled needs a TargetBucket.",
            )
        })?;
        if target.trim().is_empty() {
            return Err(Error::with_message(
                ErrorCode::InvalidTargetBucketForLogging,
                "TargetBucket must not be empty.",
            ));
        }
        let prefix = enabled.target_prefix.unwrap_or_default();
        if prefix.len() > MAX_PREFIX || prefix.chars().any(char::is_control) {
            return Err(Error::with_message(
                ErrorCode::InvalidArgument,
                "TargetPrefix must be at most 512 bytes without control characters.",
            ));
        }
        Ok(Logging {
            target_bucket: Some(target),
            target_prefix: prefix,
        })
    }

    fn is_empty(&self) -> bool {
        self.target_bucket.is_none()
    }

    fn render(&self) -> String {
        let mut x = Xml::new("BucketLoggingStatus");
        if let Some(t) = &self.target_bucket {
            x.open("LoggingEnabled")
                .elem("TargetBucket", t)
                .elem("TargetPrefix", &self.target_prefix)
                .close("LoggingEnabled");
        }
        x.finish("BucketLoggingStatus")
    }
}

/// The full name of a TargetBucket as sent (`logbucket-1250000000`, or a
/// short name that gets the configured APPID).
fn target_name(state: &AppState, target: &str) -> Option<String> {
    let a = &state.config.addressing;
    BucketName::parse(target, &a.appid, &a.region)
        .ok()
        .map(|b| b.as_str().to_string())
}

/// PUT `/?logging`: the target bucket must exist in this localcos (400
/// InvalidTargetBucketForLogging otherwise; it may be the bucket itself).
pub async fn put(state: &AppState, bucket: &BucketName, req: Req) -> Result<Response> {
    super::bucket_record(state, bucket).await?;
    let body = read_body(req).await?;
    let doc = Logging::parse(&body)?;
    if let Some(t) = &doc.target_bucket {
        let missing = || Error::new(ErrorCode::InvalidTargetBucketForLogging);
        let full = target_name(state, t).ok_or_else(missing)?;
        let exists = match state.store.bucket(&full).await? {
            Some(_) => Some(full),
            // A suffix-less bucket (created by an S3/OSS client).
            None => state.store.bucket(t).await?.map(|_| t.clone()),
        };
        let resolved = exists.ok_or_else(missing)?;
        // Stored as sent; the resolved name is what deliveries use.
        state
            .logs
            .enable(bucket.as_str(), &resolved, &doc.target_prefix);
    } else {
        state.logs.disable(bucket.as_str());
    }
    super::store_doc(state, bucket, &doc).await?;
    Ok(ResponseBuilder::new(StatusCode::OK)
        .content_length(0)
        .empty())
}

/// DELETE `/?logging` (not a COS call): the same as the empty PUT (NOTES 8),
/// answered 204.
pub async fn delete(state: &AppState, bucket: &BucketName) -> Result<Response> {
    state.logs.disable(bucket.as_str());
    super::delete::<Logging>(state, bucket).await
}

// ---------------------------------------------------------------------------
// The access log.

/// The peer address of a request, set by the server on every request.
pub use crate::authz::RemoteAddr;

/// Everything one access-log line needs, gathered where a request ends
/// (`Service::handle`).
pub struct AccessEvent<'a> {
    pub request_id: &'a str,
    /// The full bucket name the request was for.
    pub bucket: &'a str,
    /// The Host the client used.
    pub host: &'a str,
    pub method: &'a http::Method,
    pub uri: &'a http::Uri,
    /// `Operation::name()` (or `-` when routing never got that far).
    pub op_name: &'static str,
    pub status: u16,
    /// Error code and message when the request failed.
    pub error: Option<(&'static str, String)>,
    pub secret_id: Option<&'a str>,
    pub remote: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub referer: Option<String>,
    /// The request's `Content-Length`.
    pub request_bytes: Option<u64>,
    pub response_headers: &'a HeaderMap,
    pub elapsed: Duration,
    pub end: SystemTime,
}

#[derive(Debug, Clone)]
struct Target {
    bucket: String,
    prefix: String,
}

#[derive(Default)]
struct Inner {
    /// Source bucket → where its log goes.
    targets: HashMap<String, Target>,
    /// Source bucket → lines not yet delivered.
    pending: HashMap<String, String>,
}

/// Per-server access-log state: which buckets are logged and their
/// undelivered lines.
#[derive(Default)]
pub struct LogBuffers {
    /// Some bucket is logged: the only cost for every request otherwise.
    any: AtomicBool,
    inner: Mutex<Inner>,
    /// Wakes the delivery worker early (a buffer passed [`FLUSH_BYTES`]).
    wake: tokio::sync::Notify,
}

impl LogBuffers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes of lines waiting for delivery, all buckets (`/-/metrics`).
    pub fn pending_bytes(&self) -> u64 {
        self.lock().pending.values().map(|b| b.len() as u64).sum()
    }

    /// Whether any bucket is logged (cheap; checked before gathering an event).
    pub fn active(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    fn enable(&self, source: &str, target: &str, prefix: &str) {
        let mut g = self.lock();
        g.targets.insert(
            source.to_string(),
            Target {
                bucket: target.to_string(),
                prefix: prefix.to_string(),
            },
        );
        self.any.store(true, Ordering::Relaxed);
    }

    /// Stops logging `source`; lines already buffered are still delivered.
    fn disable(&self, source: &str) {
        let mut g = self.lock();
        g.targets.remove(source);
        self.any.store(!g.targets.is_empty(), Ordering::Relaxed);
    }

    /// Appends the line for `ev` to its bucket's buffer when that bucket is logged.
    pub fn record(&self, region: &str, appid: &str, ev: &AccessEvent<'_>) {
        if !self.active() {
            return;
        }
        let line = {
            let g = self.lock();
            if !g.targets.contains_key(ev.bucket) {
                return;
            }
            drop(g);
            format_line(region, appid, ev)
        };
        let mut g = self.lock();
        let buf = g.pending.entry(ev.bucket.to_string()).or_default();
        if buf.len() + line.len() > MAX_BUFFER_BYTES {
            tracing::warn!(bucket = ev.bucket, "access-log buffer full; line dropped");
            self.wake.notify_one();
            return;
        }
        buf.push_str(&line);
        buf.push('\n');
        if buf.len() >= FLUSH_BYTES {
            self.wake.notify_one();
        }
    }
}

/// Query parameters, path and free text in a log field: percent-encoded,
/// so a field never contains a space.
const FIELD: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

fn field(v: Option<&str>) -> String {
    match v {
        Some(s) if !s.is_empty() => utf8_percent_encode(s, FIELD).to_string(),
        _ => "-".to_string(),
    }
}

/// The COS API name of an operation (`GetBucketConfig` of `?logging` is
/// `GetBucketLogging`).
fn event_name(ev: &AccessEvent<'_>) -> String {
    if ev.op_name.ends_with("BucketConfig") {
        let verb = match *ev.method {
            http::Method::GET => "Get",
            http::Method::PUT => "Put",
            http::Method::POST => "Post",
            _ => "Delete",
        };
        let word = ev
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .map(|p| p.split('=').next().unwrap_or(""))
            .find_map(|k| super::Subresource::from_query(k).map(|s| s.label()));
        if let Some(label) = word {
            return format!("{verb}Bucket{label}");
        }
    }
    ev.op_name.to_string()
}

/// The request path without a path-style bucket segment: `/key` as COS logs it.
fn request_path(ev: &AccessEvent<'_>) -> String {
    let decoded = percent_encoding::percent_decode_str(ev.uri.path()).decode_utf8_lossy();
    let path = decoded.as_ref();
    let short = ev.bucket.rsplit_once('-').map_or(ev.bucket, |(s, _)| s);
    for b in [ev.bucket, short] {
        if let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(b)) {
            if rest.is_empty() || rest.starts_with('/') {
                // Path-style unless the host names the bucket itself.
                if !ev.host.starts_with(&format!("{b}.")) {
                    return if rest.is_empty() {
                        "/".into()
                    } else {
                        rest.into()
                    };
                }
            }
        }
    }
    path.to_string()
}

/// One access-log line (cos-bucket.md §7): fields 1–24 in COS's order,
/// then `requestId objectSize versionId referer`; single spaces, `-` for
/// empty, free text percent-encoded.
pub fn format_line(region: &str, appid: &str, ev: &AccessEvent<'_>) -> String {
    let header = |n: &str| {
        ev.response_headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .filter(|s| !s.is_empty())
    };
    let ms = ev.elapsed.as_millis().to_string();
    let ok = ev.status < 300;
    let response_bytes = header("content-length").unwrap_or("0").to_string();
    let object_size = match ev.op_name {
        "GetObject" | "HeadObject" if ok => header("content-length").map(str::to_string),
        "PutObject" | "PostObject" | "AppendObject" | "UploadPart" if ok => {
            ev.request_bytes.map(|n| n.to_string())
        }
        _ => None,
    };
    let delta = match ev.op_name {
        "PutObject" | "AppendObject" | "UploadPart" if ok => {
            ev.request_bytes.map(|n| n.to_string())
        }
        _ => None,
    };
    let requester = ev.secret_id.map(|_| format!("{appid}:{appid}"));
    let fields: [String; 28] = [
        "1.0".into(),
        ev.bucket.to_string(),
        region.to_string(),
        humantime::format_rfc3339_seconds(ev.end).to_string(),
        field(Some(ev.host)),
        event_name(ev),
        ev.remote.map_or("-".into(), |ip| ip.to_string()),
        field(ev.secret_id),
        "-".into(),
        ev.request_bytes.map_or("-".into(), |n| n.to_string()),
        delta.unwrap_or_else(|| "-".into()),
        field(Some(&request_path(ev))),
        ev.method.as_str().to_ascii_lowercase(),
        field(ev.user_agent.as_deref()),
        ev.status.to_string(),
        field(ev.error.as_ref().map(|e| e.0)),
        field(ev.error.as_ref().map(|e| e.1.as_str())),
        response_bytes,
        ms.clone(),
        "USER".into(),
        field(
            header("x-cos-storage-class").or(ok
                .then_some("STANDARD")
                .filter(|_| matches!(ev.op_name, "GetObject" | "HeadObject" | "PutObject"))),
        ),
        appid.to_string(),
        ms,
        requester.unwrap_or_else(|| "-".into()),
        ev.request_id.to_string(),
        object_size.unwrap_or_else(|| "-".into()),
        field(header("x-cos-version-id")),
        field(ev.referer.as_deref()),
    ];
    fields.join(" ")
}

// ---------------------------------------------------------------------------
// Delivery.

/// Reloads which buckets are logged from the stored configurations (another
/// node of a cluster may have changed them).
pub async fn refresh(state: &AppState) {
    let buckets = match state.store.list_buckets().await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "access-log refresh failed");
            return;
        }
    };
    let mut targets = HashMap::new();
    for rec in &buckets {
        let Some(doc) = stored::<Logging>(rec) else {
            continue;
        };
        let Some(t) = &doc.target_bucket else {
            continue;
        };
        let full = target_name(state, t)
            .filter(|f| buckets.iter().any(|b| &b.name == f))
            .unwrap_or_else(|| t.clone());
        targets.insert(
            rec.name.clone(),
            Target {
                bucket: full,
                prefix: doc.target_prefix.clone(),
            },
        );
    }
    let logs = &state.logs;
    let mut g = logs.lock();
    logs.any.store(!targets.is_empty(), Ordering::Relaxed);
    g.targets = targets;
}

/// The key of one log object: `<prefix>YYYY/MM/DD/<YYYYMMDDHHMMSS>_<random>_<index>`.
pub fn object_key(prefix: &str, at: SystemTime, index: u64) -> String {
    let t = humantime::format_rfc3339_seconds(at).to_string();
    // 2018-12-01T11:02:33Z
    let (y, mo, d) = (&t[0..4], &t[5..7], &t[8..10]);
    let stamp: String = t[..19].chars().filter(char::is_ascii_digit).collect();
    let random: u32 = rand::random();
    format!("{prefix}{y}/{mo}/{d}/{stamp}_{random:08x}_{index}")
}

static FILE_INDEX: AtomicU64 = AtomicU64::new(0);

/// Writes every buffered line into its target bucket now (the worker calls
/// this each interval; tests and shutdown call it directly). Returns how many
/// objects were written.
pub async fn deliver(state: &AppState) -> usize {
    let (pending, targets) = {
        let mut g = state.logs.lock();
        (std::mem::take(&mut g.pending), g.targets.clone())
    };
    let mut written = 0;
    for (source, lines) in pending {
        if lines.is_empty() {
            continue;
        }
        let Some(target) = targets.get(&source) else {
            // Disabled meanwhile: delivered where its stored config says,
            // else dropped.
            let rec = state.store.bucket(&source).await.ok().flatten();
            let t = rec.and_then(|r| stored::<Logging>(&r)).and_then(|d| {
                d.target_bucket
                    .as_deref()
                    .and_then(|t| target_name(state, t))
                    .map(|b| (b, d.target_prefix.clone()))
            });
            if let Some((bucket, prefix)) = t {
                written += usize::from(write_one(state, &bucket, &prefix, lines).await);
            }
            continue;
        };
        written += usize::from(write_one(state, &target.bucket, &target.prefix, lines).await);
    }
    written
}

async fn write_one(state: &AppState, bucket: &str, prefix: &str, lines: String) -> bool {
    let index = FILE_INDEX.fetch_add(1, Ordering::Relaxed);
    let key = object_key(prefix, SystemTime::now(), index);
    let len = lines.len() as u64;
    let body: crate::storage::ByteStream =
        Box::pin(futures_util::stream::iter([Ok::<
            _,
            crate::storage::StorageError,
        >(Bytes::from(lines))]));
    let mut opts = PutOptions {
        content_length: Some(len),
        ..Default::default()
    };
    opts.headers.content_type = Some("text/plain".to_string());
    match state.store.put_object(bucket, &key, body, opts).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(bucket, key, error = %e, "access-log delivery failed");
            false
        }
    }
}

/// The delivery worker: loads the logged buckets, then every
/// `config.log_interval` (or when a buffer fills) refreshes them and
/// delivers. Stops when its task is aborted (`Server::run`). Takes no
/// lease: each node buffers the lines of the requests it served and
/// delivers them itself (log object names carry a random part).
pub async fn run(state: Arc<AppState>) {
    refresh(&state).await;
    let every = state.config.log_interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = state.logs.wake.notified() => {}
        }
        refresh(&state).await;
        deliver(&state).await;
        crate::metrics::job_ran(crate::metrics::Job::LogDelivery, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let ok = |b: &str| Logging::parse(b.as_bytes());
        let doc = ok("<BucketLoggingStatus><LoggingEnabled><TargetBucket>t-1250000000</TargetBucket><TargetPrefix>logs/</TargetPrefix></LoggingEnabled></BucketLoggingStatus>").unwrap();
        assert_eq!(doc.target_bucket.as_deref(), Some("t-1250000000"));
        assert_eq!(doc.target_prefix, "logs/");
        assert!(!doc.is_empty());
        // Disabling forms.
        for b in [
            "",
            "  \n",
            "<BucketLoggingStatus></BucketLoggingStatus>",
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<BucketLoggingStatus/>",
        ] {
            assert!(ok(b).unwrap().is_empty(), "{b:?}");
        }
        let code = |b: &str| ok(b).unwrap_err().code.as_str();
        assert_eq!(code("<Other/>"), "MalformedXML");
        assert_eq!(code("<BucketLoggingStatus>"), "MalformedXML");
        assert_eq!(
            code("<BucketLoggingStatus><LoggingEnabled><TargetPrefix>p</TargetPrefix></LoggingEnabled></BucketLoggingStatus>"),
            "MalformedXML"
        );
        assert_eq!(
            code("<BucketLoggingStatus><LoggingEnabled><TargetBucket> </TargetBucket></LoggingEnabled></BucketLoggingStatus>"),
            "InvalidTargetBucketForLogging"
        );
        let long = format!("<BucketLoggingStatus><LoggingEnabled><TargetBucket>t</TargetBucket><TargetPrefix>{}</TargetPrefix></LoggingEnabled></BucketLoggingStatus>", "p".repeat(513));
        assert_eq!(code(&long), "InvalidArgument");
    }

    #[test]
    fn render_round_trip() {
        let doc = Logging {
            target_bucket: Some("t-1250000000".into()),
            target_prefix: "a/".into(),
        };
        assert_eq!(
            doc.render(),
            "<?xml version='1.0' encoding='utf-8' ?>\n<BucketLoggingStatus><LoggingEnabled><TargetBucket>t-1250000000</TargetBucket><TargetPrefix>a/</TargetPrefix></LoggingEnabled></BucketLoggingStatus>"
        );
        assert_eq!(Logging::parse(doc.render().as_bytes()).unwrap(), doc);
        assert_eq!(
            Logging::default().render(),
            "<?xml version='1.0' encoding='utf-8' ?>\n<BucketLoggingStatus></BucketLoggingStatus>"
        );
    }

    fn event<'a>(
        uri: &'a http::Uri,
        method: &'a http::Method,
        headers: &'a HeaderMap,
        host: &'a str,
        op: &'static str,
        status: u16,
    ) -> AccessEvent<'a> {
        AccessEvent {
            request_id: "NjVfMTIz",
            bucket: "examplebucket-1250000000",
            host,
            method,
            uri,
            op_name: op,
            status,
            error: None,
            secret_id: Some("AKIDtest"),
            remote: Some("10.1.2.3".parse().unwrap()),
            user_agent: Some("cos-python-sdk-v5.1.9.44 (x y)".into()),
            referer: None,
            request_bytes: Some(5),
            response_headers: headers,
            elapsed: Duration::from_millis(12),
            end: SystemTime::UNIX_EPOCH + Duration::from_secs(1_543_662_153),
        }
    }

    #[test]
    fn line_format() {
        let host = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com";
        let uri: http::Uri = "/folder/a%20b.txt".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("content-length", "0".parse().unwrap());
        headers.insert("x-cos-version-id", "MTg0".parse().unwrap());
        let put = http::Method::PUT;
        let line = format_line(
            "ap-guangzhou",
            "1250000000",
            &event(&uri, &put, &headers, host, "PutObject", 200),
        );
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 28, "{line}");
        assert_eq!(
            f,
            [
                "1.0",
                "examplebucket-1250000000",
                "ap-guangzhou",
                "2018-12-01T11:02:33Z",
                host,
                "PutObject",
                "10.1.2.3",
                "AKIDtest",
                "-",
                "5",
                "5",
                "/folder/a%20b.txt",
                "put",
                "cos-python-sdk-v5.1.9.44%20%28x%20y%29",
                "200",
                "-",
                "-",
                "0",
                "12",
                "USER",
                "STANDARD",
                "1250000000",
                "12",
                "1250000000:1250000000",
                "NjVfMTIz",
                "5",
                "MTg0",
                "-",
            ]
        );
        // An error, a config call, path-style addressing, anonymous.
        let uri: http::Uri = "/examplebucket-1250000000/?logging=".parse().unwrap();
        let get = http::Method::GET;
        let mut ev = event(
            &uri,
            &get,
            &headers,
            "127.0.0.1:9000",
            "GetBucketConfig",
            404,
        );
        ev.error = Some((
            "NoSuchBucket",
            "The specified bucket does not exist.".into(),
        ));
        ev.secret_id = None;
        ev.request_bytes = None;
        let line = format_line("ap-guangzhou", "1250000000", &ev);
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f.len(), 28, "{line}");
        assert_eq!(f[5], "GetBucketLogging");
        assert_eq!(f[7], "-");
        assert_eq!(f[9], "-");
        assert_eq!(f[11], "/");
        assert_eq!(f[12], "get");
        assert_eq!(f[15], "NoSuchBucket");
        assert_eq!(f[16], "The%20specified%20bucket%20does%20not%20exist.");
        assert_eq!(f[20], "-");
        assert_eq!(f[23], "-");
    }

    #[test]
    fn object_keys() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_543_662_153);
        let k = object_key("logs/", at, 7);
        let rest = k.strip_prefix("logs/2018/12/01/20181201110233_").unwrap();
        let (random, index) = rest.split_once('_').unwrap();
        assert_eq!(random.len(), 8);
        assert!(random.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(index, "7");
    }

    #[test]
    fn buffers_only_logged_buckets() {
        let logs = LogBuffers::default();
        let uri: http::Uri = "/k".parse().unwrap();
        let headers = HeaderMap::new();
        let m = http::Method::GET;
        let ev = event(&uri, &m, &headers, "h", "GetObject", 200);
        logs.record("r", "1", &ev);
        assert!(logs.lock().pending.is_empty());
        logs.enable("examplebucket-1250000000", "t", "p/");
        logs.record("r", "1", &ev);
        logs.record("r", "1", &ev);
        assert_eq!(
            logs.lock().pending["examplebucket-1250000000"]
                .lines()
                .count(),
            2
        );
        logs.disable("examplebucket-1250000000");
        assert!(!logs.active());
    }
}
