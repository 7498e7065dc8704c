//! Response headers, set in one place, spelled exactly as COS spells them.
//!
//! `http::HeaderName` is always lower case and hyper writes it that way, but
//! cos-python-sdk-v5 indexes `dict(response.headers)` with `ETag`,
//! `Content-Length`, `Last-Modified` and lower-case `x-cos-*` (spec cos.md
//! §6A.13, NOTES 1). hyper's HTTP/1 encoder spells a response header as found
//! in a `HeaderCaseMap` in the response extensions; that type is private, so
//! [`init_header_case`] makes hyper itself parse one synthetic request whose
//! header names carry COS's spelling, keeps that request's extensions as a
//! template, and every response gets a clone. Names not in the template
//! (`x-cos-*`) go out lower case, which is COS's spelling for them.

use std::sync::OnceLock;

use http::{Extensions, HeaderName, HeaderValue, StatusCode};

use crate::http::body::Body;
use crate::storage::ObjectRecord;

/// Standard headers in COS's spelling. A name listed twice covers two values.
const COS_SPELLINGS: &[&str] = &[
    "ETag",
    "Content-Length",
    "Content-Type",
    "Last-Modified",
    "Accept-Ranges",
    "Content-Range",
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Expires",
    "Date",
    "Server",
    "Location",
    "Connection",
    "Keep-Alive",
    "Vary",
    "Vary",
    "Content-MD5",
    "Retry-After",
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
    "Access-Control-Allow-Credentials",
    "Allow",
];

static CASE_TEMPLATE: OnceLock<Extensions> = OnceLock::new();

/// Builds the header-case template by running one synthetic request through
/// hyper's own HTTP/1 parser (with `preserve_header_case`). Idempotent.
pub async fn init_header_case() {
    if CASE_TEMPLATE.get().is_some() {
        return;
    }
    let (client, server) = tokio::io::duplex(8192);
    let (tx, rx) = tokio::sync::oneshot::channel::<Extensions>();
    let tx = std::sync::Mutex::new(Some(tx));
    let svc = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(req.extensions().clone());
        }
        async {
            Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Empty::<
                bytes::Bytes,
            >::new()))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .serve_connection(hyper_util::rt::TokioIo::new(server), svc);
    let mut raw = String::from("GET / HTTP/1.1\r\n");
    for name in COS_SPELLINGS {
        raw.push_str(name);
        // Values only need to parse; Content-Length must be a number.
        raw.push_str(if *name == "Content-Length" {
            ": 0\r\n"
        } else {
            ": x\r\n"
        });
    }
    raw.push_str("Connection: close\r\n\r\n");
    let write = async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut client = client;
        let _ = client.write_all(raw.as_bytes()).await;
        // Drain the response; `Connection: close` makes hyper end the connection.
        let mut sink = Vec::new();
        let _ = client.read_to_end(&mut sink).await;
    };
    let (conn, _, ext) = tokio::join!(conn, write, rx);
    if let Err(e) = conn {
        tracing::warn!(error = %e, "header-case template: synthetic request failed");
    }
    if let Ok(ext) = ext {
        let _ = CASE_TEMPLATE.set(ext);
    }
}

/// Gives a response COS's header spelling (a no-op before `init_header_case`).
pub fn apply_header_case(ext: &mut Extensions) {
    if let Some(t) = CASE_TEMPLATE.get() {
        ext.extend(t.clone());
    }
}

/// Builds a response; names are `&'static str` in lower case.
pub struct ResponseBuilder {
    resp: http::Response<Body>,
}

impl ResponseBuilder {
    pub fn new(status: StatusCode) -> Self {
        let mut resp = http::Response::new(Body::Empty);
        *resp.status_mut() = status;
        ResponseBuilder { resp }
    }

    /// Adds a header; values that are not valid header text are dropped
    /// (stored values were validated on the way in).
    pub fn header(self, name: &'static str, value: impl AsRef<str>) -> Self {
        match HeaderValue::from_str(value.as_ref()) {
            Ok(v) => self.header_value(name, v),
            Err(_) => self,
        }
    }

    pub fn header_value(mut self, name: &str, value: HeaderValue) -> Self {
        if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
            self.resp.headers_mut().append(n, value);
        }
        self
    }

    pub fn header_opt(self, name: &'static str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.header(name, v),
            None => self,
        }
    }

    pub fn content_length(self, len: u64) -> Self {
        self.header_value("content-length", HeaderValue::from(len))
    }

    pub fn empty(self) -> http::Response<Body> {
        self.resp
    }

    pub fn body(mut self, body: Body) -> http::Response<Body> {
        *self.resp.body_mut() = body;
        self.resp
    }

    /// An XML body with `Content-Type: application/xml` and its length.
    pub fn xml(self, xml: String) -> http::Response<Body> {
        let len = xml.len() as u64;
        self.header("content-type", "application/xml")
            .content_length(len)
            .body(Body::from(xml))
    }

    pub fn headers_mut(&mut self) -> &mut http::HeaderMap {
        self.resp.headers_mut()
    }
}

/// Quoted ETag as sent on the wire.
pub fn quoted_etag(etag: &str) -> String {
    format!("\"{etag}\"")
}

pub fn http_date(t: std::time::SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// The validator headers every object response carries, also on 304
/// (ETag, Last-Modified, x-cos-hash-crc64ecma).
pub fn validators(rb: ResponseBuilder, rec: &ObjectRecord) -> ResponseBuilder {
    rb.header("etag", quoted_etag(&rec.etag))
        .header("last-modified", http_date(rec.last_modified()))
        .header("x-cos-hash-crc64ecma", rec.crc64.to_string())
}

/// The SSE echo headers of an encrypted object (spec cos.md §5): the kind,
/// the KMS key id, or the SSE-C algorithm and key MD5 (never a key).
pub fn sse(rb: ResponseBuilder, rec: &ObjectRecord) -> ResponseBuilder {
    use crate::storage::sse::SseKind;
    let Some(info) = &rec.sse else {
        return rb;
    };
    match info.kind {
        SseKind::Cos => rb.header("x-cos-server-side-encryption", "AES256"),
        SseKind::Kms => rb
            .header("x-cos-server-side-encryption", "cos/kms")
            .header_opt(
                "x-cos-server-side-encryption-cos-kms-key-id",
                info.kms_key_id.as_deref(),
            ),
        SseKind::Customer => rb
            .header("x-cos-server-side-encryption-customer-algorithm", "AES256")
            .header_opt(
                "x-cos-server-side-encryption-customer-key-md5",
                info.customer_key_md5.as_deref(),
            ),
    }
}

/// `x-cos-object-type`: `appendable` for an object Append Object made
/// (spec cos.md §6A.3; Go compares it exactly), else `normal`.
pub fn object_type(rec: &ObjectRecord) -> &'static str {
    if rec.appendable {
        "appendable"
    } else {
        "normal"
    }
}

/// The stored representation headers of an object: what GET and HEAD send
/// (spec cos.md §4.1). `Content-Length` is set by the caller (range-aware).
pub fn object(rb: ResponseBuilder, rec: &ObjectRecord) -> ResponseBuilder {
    let h = &rec.headers;
    let mut rb = sse(validators(rb, rec), rec)
        .header(
            "content-type",
            h.content_type
                .as_deref()
                .unwrap_or("application/octet-stream"),
        )
        .header("accept-ranges", "bytes")
        .header("x-cos-object-type", object_type(rec))
        .header_opt("cache-control", h.cache_control.as_deref())
        .header_opt("content-disposition", h.content_disposition.as_deref())
        .header_opt("content-encoding", h.content_encoding.as_deref())
        .header_opt("content-language", h.content_language.as_deref())
        .header_opt("expires", h.expires.as_deref())
        .header_opt("x-cos-version-id", rec.version_id.as_deref())
        .header_opt(
            "x-cos-replication-status",
            rec.replication_status.as_deref(),
        );
    if rec.storage_class != "STANDARD" {
        rb = rb.header("x-cos-storage-class", &rec.storage_class);
    }
    // Where the next append goes (spec cos.md §6A.3: the C SDK reads it).
    if rec.appendable {
        rb = rb.header("x-cos-next-append-position", rec.size.to_string());
    }
    for (name, value) in &h.user_meta {
        if let Ok(v) = HeaderValue::from_str(value) {
            rb = rb.header_value(&format!("x-cos-meta-{name}"), v);
        }
    }
    rb
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// The bytes hyper writes for a response that went through `apply_header_case`.
    #[tokio::test]
    async fn hyper_writes_cos_spelling() {
        init_header_case().await;
        assert!(CASE_TEMPLATE.get().is_some(), "template built");
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let svc = hyper::service::service_fn(|_req: http::Request<hyper::body::Incoming>| async {
            let mut resp = ResponseBuilder::new(StatusCode::OK)
                .header("etag", "\"abc\"")
                .header("last-modified", "x")
                .header("x-cos-request-id", "id")
                .header("x-cos-meta-color", "blue")
                .header("vary", "Origin")
                .header("vary", "Access-Control-Request-Method")
                .content_length(2)
                .body(Body::from(bytes::Bytes::from_static(b"hi")));
            apply_header_case(resp.extensions_mut());
            Ok::<_, std::convert::Infallible>(resp)
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(server), svc);
        let io = async {
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut out = Vec::new();
            client.read_to_end(&mut out).await.unwrap();
            String::from_utf8(out).unwrap()
        };
        let (_, text) = tokio::join!(conn, io);
        for line in [
            "\r\nETag: \"abc\"\r\n",
            "\r\nLast-Modified: x\r\n",
            "\r\nx-cos-request-id: id\r\n",
            "\r\nx-cos-meta-color: blue\r\n",
            "\r\nContent-Length: 2\r\n",
            "\r\nDate: ",
            "\r\nVary: Origin\r\n",
            "\r\nVary: Access-Control-Request-Method\r\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in {text}");
        }
    }
}
