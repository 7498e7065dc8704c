//! Shared test helpers: an in-process app, a socket server, and a tiny COS
//! q-sign signer (no AWS SDK produces COS signatures; STYLE habit 9).

#![allow(dead_code)]

pub mod pg;
pub mod proxy;
pub mod weed;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use localcos::config::Config;
use localcos::service::Service;
use sha1::{Digest, Sha1};

pub mod binary;

pub const ID: &str = "AKIDlocalcostest";
pub const KEY: &str = "localcos-test-secret-key";
pub const HOST: &str = "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com";

fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
    let mut m = Hmac::<Sha1>::new_from_slice(key).expect("hmac key");
    m.update(msg);
    hex::encode(m.finalize().into_bytes())
}

/// COS canonical encoding: everything but `A-Za-z0-9-_.~`, upper-case hex.
pub fn enc(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Encodes a key for a request path: like `enc` but keeps `/`.
pub fn path_enc(key: &str) -> String {
    key.split('/').map(enc).collect::<Vec<_>>().join("/")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The q-sign `Authorization` value for a request (spec cos.md §1.2), signing
/// every header given and every query param.
pub fn sign(
    method: &str,
    decoded_path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    window: (u64, u64),
) -> String {
    sign_with(ID, KEY, method, decoded_path, query, headers, window)
}

pub fn sign_with(
    id: &str,
    key: &str,
    method: &str,
    decoded_path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    window: (u64, u64),
) -> String {
    let time = format!("{};{}", window.0, window.1);
    let sign_key = hmac_hex(key.as_bytes(), time.as_bytes());
    let canon = |pairs: &[(&str, &str)]| {
        let mut v: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, val)| (enc(k).to_lowercase(), enc(val)))
            .collect();
        v.sort();
        let list = v
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let kv = v
            .iter()
            .map(|(k, val)| format!("{k}={val}"))
            .collect::<Vec<_>>()
            .join("&");
        (list, kv)
    };
    let (param_list, params) = canon(query);
    let (header_list, hdrs) = canon(headers);
    let http_string = format!(
        "{}\n{}\n{}\n{}\n",
        method.to_lowercase(),
        decoded_path,
        params,
        hdrs
    );
    let sts = format!(
        "sha1\n{time}\n{}\n",
        hex::encode(Sha1::digest(http_string.as_bytes()))
    );
    let sig = hmac_hex(sign_key.as_bytes(), sts.as_bytes());
    format!("q-sign-algorithm=sha1&q-ak={id}&q-sign-time={time}&q-key-time={time}&q-header-list={header_list}&q-url-param-list={param_list}&q-signature={sig}")
}

/// A pre-signed query string (auth params only) for GET of `decoded_path` on `host`.
pub fn presign(method: &str, decoded_path: &str, host: &str, window: (u64, u64)) -> String {
    let auth = sign(method, decoded_path, &[], &[("host", host)], window);
    auth.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            format!("{k}={}", enc(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub fn window() -> (u64, u64) {
    let n = now();
    (n - 60, n + 3600)
}

/// A response collected in memory.
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The `<Code>` of an XML error body.
    pub fn code(&self) -> String {
        let t = self.text();
        t.split("<Code>")
            .nth(1)
            .and_then(|s| s.split("</Code>").next())
            .unwrap_or("")
            .to_string()
    }
    /// Asserts a COS XML error: status, code, and every required field non-empty.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status; body: {}", self.text());
        assert_eq!(self.code(), code, "code; body: {}", self.text());
        for field in ["Message", "Resource", "RequestId"] {
            let inner = self
                .text()
                .split(&format!("<{field}>"))
                .nth(1)
                .and_then(|s| s.split(&format!("</{field}>")).next())
                .map(str::to_owned);
            assert!(
                inner.is_some_and(|s| !s.is_empty()),
                "{field} empty in {}",
                self.text()
            );
        }
        assert!(self
            .header("x-cos-request-id")
            .is_some_and(|v| !v.is_empty()));
        assert_eq!(self.header("content-type"), Some("application/xml"));
    }
}

/// The in-process app plus a request builder that signs by default.
pub struct App {
    pub svc: Service,
}

pub async fn app() -> App {
    app_with(Config::for_tests(ID, KEY)).await
}

/// The in-process app with `config` (plus the `examplebucket` bucket).
pub async fn app_with(mut config: Config) -> App {
    let example =
        localcos::http::target::BucketName::parse("examplebucket", "1250000000", "ap-guangzhou")
            .unwrap();
    if !config.buckets.contains(&example) {
        config.buckets.insert(0, example);
    }
    App {
        svc: localcos::testing::app(config).await.unwrap(),
    }
}

/// One request: method, raw path (already encoded), raw query, headers, body.
pub struct R {
    pub method: Method,
    pub host: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub signed: bool,
    /// The credential that signs (default `ID`/`KEY`).
    pub creds: (String, String),
}

impl R {
    pub fn new(method: Method, key: &str) -> R {
        R {
            method,
            host: HOST.to_string(),
            path: format!("/{}", path_enc(key)),
            query: vec![],
            headers: vec![],
            body: Bytes::new(),
            signed: true,
            creds: (ID.to_string(), KEY.to_string()),
        }
    }
    pub fn get(key: &str) -> R {
        R::new(Method::GET, key)
    }
    pub fn put(key: &str, body: impl Into<Bytes>) -> R {
        let mut r = R::new(Method::PUT, key);
        r.body = body.into();
        r
    }
    pub fn host(mut self, h: &str) -> R {
        self.host = h.to_string();
        self
    }
    pub fn raw_path(mut self, p: &str) -> R {
        self.path = p.to_string();
        self
    }
    pub fn q(mut self, k: &str, v: &str) -> R {
        self.query.push((k.into(), v.into()));
        self
    }
    pub fn h(mut self, k: &str, v: &str) -> R {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn with_body(mut self, b: &str) -> R {
        self.body = bytes::Bytes::from(b.to_string());
        self
    }
    pub fn anonymous(mut self) -> R {
        self.signed = false;
        self
    }
    /// Signs with another credential.
    pub fn signed_by(mut self, id: &str, key: &str) -> R {
        self.creds = (id.to_string(), key.to_string());
        self
    }

    pub fn build(self) -> Request<Full<Bytes>> {
        let decoded = percent_encoding::percent_decode_str(&self.path)
            .decode_utf8_lossy()
            .into_owned();
        let qs: Vec<(&str, &str)> = self
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut hs: Vec<(String, String)> = self.headers.clone();
        hs.push(("host".into(), self.host.clone()));
        let has_framing = hs.iter().any(|(k, _)| {
            k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
        });
        let has_body =
            !self.body.is_empty() || self.method == Method::PUT || self.method == Method::POST;
        if has_body && !has_framing {
            hs.push(("content-length".into(), self.body.len().to_string()));
        }
        let mut b = Request::builder().method(self.method.clone());
        let query_string = qs
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    enc(k)
                } else {
                    format!("{}={}", enc(k), enc(v))
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        let uri = if query_string.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, query_string)
        };
        b = b.uri(uri);
        if self.signed {
            let signed: Vec<(&str, &str)> =
                hs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            b = b.header(
                "authorization",
                sign_with(
                    &self.creds.0,
                    &self.creds.1,
                    self.method.as_str(),
                    &decoded,
                    &qs,
                    &signed,
                    window(),
                ),
            );
        }
        for (k, v) in &hs {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(Full::new(self.body)).unwrap()
    }
}

impl App {
    pub async fn send(&self, r: R) -> Resp {
        self.send_raw(r.build()).await
    }
    pub async fn send_raw(&self, req: Request<Full<Bytes>>) -> Resp {
        let resp = self.svc.handle(req).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Resp {
            status,
            headers,
            body,
        }
    }
    /// PUT `key` with `body` and assert 200.
    pub async fn put(&self, key: &str, body: &[u8]) -> Resp {
        let r = self.send(R::put(key, body.to_vec())).await;
        assert_eq!(r.status, 200, "PUT {key}: {}", r.text());
        r
    }
}
