//! The OSS dialect in process: V4 and V1 signatures (header and pre-signed)
//! over path-style, virtual-hosted (`<bucket>.oss-<region>.aliyuncs.com`) and
//! ali-oss `sldEnable` addressing, OSS response headers and OSS error XML
//! (spec oss.md). A tiny OSS signer lives here (no AWS SDK produces it,
//! STYLE habit 9).

use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Method, Request};
use http_body_util::Full;
use sha2::{Digest, Sha256};

use crate::common::{app, enc, path_enc, App, Resp, ID, KEY};

const BUCKET: &str = "examplebucket-1250000000";
const REGION: &str = "cn-hangzhou";

fn hmac256(key: &[u8], msg: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `yyyymmddTHHMMSSZ` of unix seconds.
fn iso(secs: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    let s = httpdate::fmt_http_date(t); // "Wed, 15 Jan 2025 12:34:56 GMT"
    let p: Vec<&str> = s.split([' ', ':']).collect();
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == p[2])
    .unwrap()
        + 1;
    format!("{}{:02}{}T{}{}{}Z", p[3], month, p[1], p[4], p[5], p[6])
}

/// One OSS request: the bucket and key it addresses, how it is addressed.
struct O {
    method: Method,
    bucket: String,
    host: String,
    path: String,
    key: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl O {
    /// Path style on an IP endpoint: `/<bucket>/<key>`.
    fn new(method: Method, key: &str) -> O {
        O {
            method,
            bucket: BUCKET.into(),
            host: "127.0.0.1:9000".into(),
            path: format!("/{BUCKET}/{}", path_enc(key)),
            key: key.into(),
            query: vec![],
            headers: vec![],
            body: Bytes::new(),
        }
    }
    /// `<bucket>.oss-cn-hangzhou.aliyuncs.com`, key in the path.
    fn vhost(mut self) -> O {
        self.host = format!("{BUCKET}.oss-{REGION}.aliyuncs.com");
        self.path = format!("/{}", path_enc(&self.key));
        self
    }
    /// Path style in another bucket.
    fn in_bucket(mut self, bucket: &str) -> O {
        self.bucket = bucket.into();
        self.path = format!("/{bucket}/{}", path_enc(&self.key));
        self
    }
    fn q(mut self, k: &str, v: &str) -> O {
        self.query.push((k.into(), v.into()));
        self
    }
    fn h(mut self, k: &str, v: &str) -> O {
        self.headers.push((k.into(), v.into()));
        self
    }
    fn body(mut self, b: &[u8]) -> O {
        self.body = Bytes::copy_from_slice(b);
        self
    }

    /// `/bucket/key` encoded for V4 (keep `/`).
    fn canonical_uri(&self) -> String {
        if self.key.is_empty() {
            format!("/{}/", self.bucket)
        } else {
            format!("/{}/{}", self.bucket, path_enc(&self.key))
        }
    }

    fn v4_canonical(&self, query: &[(String, String)], headers: &[(String, String)]) -> String {
        let mut q: Vec<(String, String)> = query.iter().map(|(k, v)| (enc(k), enc(v))).collect();
        q.sort();
        let q = q
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        let mut h: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
            .filter(|(k, _)| k.starts_with("x-oss-") || k == "content-type" || k == "content-md5")
            .collect();
        h.sort();
        let h: String = h.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        format!(
            "{}\n{}\n{q}\n{h}\n\nUNSIGNED-PAYLOAD",
            self.method,
            self.canonical_uri()
        )
    }

    fn v4_signature(&self, date: &str, canonical: &str, secret: &str) -> String {
        let day = &date[..8];
        let scope = format!("{day}/{REGION}/oss/aliyun_v4_request");
        let sts = format!(
            "OSS4-HMAC-SHA256\n{date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut k = hmac256(format!("aliyun_v4{secret}").as_bytes(), day);
        for part in [REGION, "oss", "aliyun_v4_request"] {
            k = hmac256(&k, part);
        }
        hex::encode(hmac256(&k, &sts))
    }

    /// V4 header auth at `at` (unix seconds).
    fn v4_at(mut self, at: u64, secret: &str) -> Request<Full<Bytes>> {
        let date = iso(at);
        self.headers.push(("x-oss-date".into(), date.clone()));
        self.headers
            .push(("x-oss-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
        let canonical = self.v4_canonical(&self.query, &self.headers);
        let sig = self.v4_signature(&date, &canonical, secret);
        let auth = format!(
            "OSS4-HMAC-SHA256 Credential={ID}/{}/{REGION}/oss/aliyun_v4_request,Signature={sig}",
            &date[..8]
        );
        self.headers.push(("authorization".into(), auth));
        self.build()
    }
    fn v4(self) -> Request<Full<Bytes>> {
        self.v4_at(now(), KEY)
    }

    /// V4 pre-signed URL made at `at`, valid `expires` seconds.
    fn presign_v4(mut self, at: u64, expires: u64) -> Request<Full<Bytes>> {
        let date = iso(at);
        let cred = format!("{ID}/{}/{REGION}/oss/aliyun_v4_request", &date[..8]);
        for (k, v) in [
            ("x-oss-signature-version", "OSS4-HMAC-SHA256".to_string()),
            ("x-oss-credential", cred),
            ("x-oss-date", date.clone()),
            ("x-oss-expires", expires.to_string()),
        ] {
            self.query.push((k.into(), v));
        }
        let canonical = self.v4_canonical(&self.query, &self.headers);
        let sig = self.v4_signature(&date, &canonical, KEY);
        self.query.push(("x-oss-signature".into(), sig));
        self.build()
    }

    /// V1 string to sign with `date` in the Date slot.
    fn v1_signature(&self, date: &str) -> String {
        let get = |n: &str| {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let mut oss: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
            .filter(|(k, _)| k.starts_with("x-oss-"))
            .collect();
        oss.sort();
        let oss: String = oss.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let mut subs: Vec<&(String, String)> = self
            .query
            .iter()
            .filter(|(k, _)| k.starts_with("response-") || k == "versionId")
            .collect();
        subs.sort();
        let mut resource = format!("/{}/{}", self.bucket, self.key);
        for (i, (k, v)) in subs.iter().enumerate() {
            resource.push(if i == 0 { '?' } else { '&' });
            resource.push_str(k);
            if !v.is_empty() {
                resource.push('=');
                resource.push_str(v);
            }
        }
        let sts = format!(
            "{}\n{}\n{}\n{date}\n{oss}{resource}",
            self.method,
            get("content-md5"),
            get("content-type")
        );
        let mut m = Hmac::<sha1::Sha1>::new_from_slice(KEY.as_bytes()).unwrap();
        m.update(sts.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
    }

    fn v1(mut self) -> Request<Full<Bytes>> {
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        self.headers.push(("date".into(), date.clone()));
        let sig = self.v1_signature(&date);
        self.headers
            .push(("authorization".into(), format!("OSS {ID}:{sig}")));
        self.build()
    }

    fn presign_v1(mut self, expires_at: u64) -> Request<Full<Bytes>> {
        let sig = self.v1_signature(&expires_at.to_string());
        self.query.push(("OSSAccessKeyId".into(), ID.into()));
        self.query.push(("Expires".into(), expires_at.to_string()));
        self.query.push(("Signature".into(), sig));
        self.build()
    }

    fn build(self) -> Request<Full<Bytes>> {
        let qs = self
            .query
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
        let uri = if qs.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{qs}", self.path)
        };
        let mut b = Request::builder()
            .method(self.method.clone())
            .uri(uri)
            .header("host", &self.host);
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        if self.method == Method::PUT {
            b = b.header("content-length", self.body.len().to_string());
        }
        b.body(Full::new(self.body)).unwrap()
    }
}

fn get(key: &str) -> O {
    O::new(Method::GET, key)
}

fn put(key: &str, body: &[u8]) -> O {
    O::new(Method::PUT, key).body(body)
}

/// An OSS XML error: status, code, the OSS fields, no COS headers.
fn assert_oss_error(r: &Resp, status: u16, code: &str) {
    let t = r.text();
    assert_eq!(r.status, status, "{t}");
    assert_eq!(r.code(), code, "{t}");
    for field in ["Message", "RequestId", "HostId"] {
        assert!(
            t.split(&format!("<{field}>"))
                .nth(1)
                .is_some_and(|s| !s.starts_with('<')),
            "{field} in {t}"
        );
    }
    assert!(!t.contains("xmlns"), "{t}");
    let id = r.header("x-oss-request-id").expect("x-oss-request-id");
    assert!(t.contains(&format!("<RequestId>{id}</RequestId>")), "{t}");
    assert_eq!(r.header("server"), Some("AliyunOSS"));
    assert!(r.header("x-cos-request-id").is_none());
}

async fn stored(app: &App, key: &str, body: &[u8]) {
    let r = app.send_raw(put(key, body).v4()).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn v4_header_put_get_head_delete() {
    let app = app().await;
    let body = b"hello oss v4";
    let r = app
        .send_raw(
            put("dir/a b+c.txt", body)
                .h("x-oss-meta-color", "blue")
                .h("content-type", "text/plain")
                .v4(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("x-oss-request-id").is_some());
    assert!(r.header("x-oss-hash-crc64ecma").is_some());
    assert!(r.header("etag").is_some());

    let r = app.send_raw(get("dir/a b+c.txt").v4()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..], body);
    assert_eq!(r.header("x-oss-meta-color"), Some("blue"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("server"), Some("AliyunOSS"));
    assert!(r.headers.keys().all(|k| !k.as_str().starts_with("x-cos-")));

    // Virtual-hosted and sldEnable (bucket in Host and path) reach the same object.
    let r = app.send_raw(get("dir/a b+c.txt").vhost().v4()).await;
    assert_eq!(&r.body[..], body, "{}", r.text());
    let mut sld = get("dir/a b+c.txt").vhost();
    sld.path = format!("/{BUCKET}/{}", path_enc("dir/a b+c.txt"));
    let r = app.send_raw(sld.v4()).await;
    assert_eq!(&r.body[..], body, "{}", r.text());
    // `%2F` in the key (oss2 on ordinary requests) is a slash.
    let mut slash = get("dir/a b+c.txt");
    slash.path = format!("/{BUCKET}/dir%2Fa%20b%2Bc.txt");
    let r = app.send_raw(slash.v4()).await;
    assert_eq!(&r.body[..], body, "{}", r.text());

    let r = app
        .send_raw(O::new(Method::HEAD, "dir/a b+c.txt").v4())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("12"));
    assert_eq!(r.header("x-oss-object-type"), Some("Normal"));

    let r = app
        .send_raw(O::new(Method::DELETE, "dir/a b+c.txt").v4())
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = app.send_raw(get("dir/a b+c.txt").v4()).await;
    assert_oss_error(&r, 404, "NoSuchKey");
    assert!(r.text().contains("<EC>0026-00000001</EC>"), "{}", r.text());
    assert_eq!(r.header("x-oss-ec"), Some("0026-00000001"));
}

#[tokio::test]
async fn v4_header_refusals_are_oss_errors() {
    let app = app().await;
    stored(&app, "k", b"x").await;
    let r = app.send_raw(get("k").v4_at(now(), "wrong")).await;
    assert_oss_error(&r, 403, "SignatureDoesNotMatch");
    assert_eq!(r.header("x-oss-ec"), Some("0002-00000040"));
    let t = r.text();
    assert!(
        t.contains(&format!("<OSSAccessKeyId>{ID}</OSSAccessKeyId>")),
        "{t}"
    );
    assert!(t.contains("<StringToSign>OSS4-HMAC-SHA256\n"), "{t}");
    assert!(t.contains("<SignatureProvided>"), "{t}");
    let r = app.send_raw(get("k").v4_at(now() - 3600, KEY)).await;
    assert_oss_error(&r, 403, "RequestTimeTooSkewed");
    // A signed header changed after signing.
    let mut req = get("k").h("x-oss-meta-a", "1").v4();
    req.headers_mut()
        .insert("x-oss-meta-a", http::HeaderValue::from_static("2"));
    assert_oss_error(&app.send_raw(req).await, 403, "SignatureDoesNotMatch");
    // Unknown access key.
    let mut req = get("k").v4();
    let auth = req.headers()["authorization"]
        .to_str()
        .unwrap()
        .replace(ID, "LTAInobody");
    req.headers_mut()
        .insert("authorization", auth.parse().unwrap());
    assert_oss_error(&app.send_raw(req).await, 403, "InvalidAccessKeyId");
    // No such bucket, named as given.
    let r = app
        .send_raw(get("k").in_bucket("no-such-oss-bucket").v4())
        .await;
    assert_oss_error(&r, 404, "NoSuchBucket");
    let r = app
        .send_raw(get("k").in_bucket("no-such-oss-bucket").v1())
        .await;
    assert_oss_error(&r, 404, "NoSuchBucket");
}

#[tokio::test]
async fn v4_presigned_get_with_overrides_and_range() {
    let app = app().await;
    stored(&app, "p/file.bin", b"0123456789").await;
    let url = get("p/file.bin")
        .q(
            "response-content-disposition",
            "attachment; filename=\"a b.txt\"",
        )
        .h("range", "bytes=2-5")
        .presign_v4(now(), 600);
    let r = app.send_raw(url).await;
    assert_eq!(r.status, 206, "{}", r.text());
    assert_eq!(&r.body[..], b"2345");
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"a b.txt\"")
    );
    // Virtual-hosted pre-signed URL.
    let r = app
        .send_raw(get("p/file.bin").vhost().presign_v4(now(), 60))
        .await;
    assert_eq!(&r.body[..], b"0123456789", "{}", r.text());
    // Expired, and not valid beyond seven days.
    let r = app
        .send_raw(get("p/file.bin").presign_v4(now() - 120, 60))
        .await;
    assert_oss_error(&r, 403, "AccessDenied");
    assert!(r.text().contains("expired"), "{}", r.text());
    let r = app
        .send_raw(get("p/file.bin").presign_v4(now(), 604_801))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    // Tampered signature.
    let req = get("p/file.bin").presign_v4(now(), 60);
    let uri = req.uri().to_string();
    let i = uri.find("x-oss-signature=").unwrap() + "x-oss-signature=".len();
    let flipped = if &uri[i..=i] == "0" { "1" } else { "0" };
    let tampered = format!("{}{flipped}{}", &uri[..i], &uri[i + 1..]);
    let (mut parts, body) = req.into_parts();
    parts.uri = tampered.parse().unwrap();
    let r = app.send_raw(Request::from_parts(parts, body)).await;
    assert_oss_error(&r, 403, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn v1_header_and_presigned() {
    let app = app().await;
    let r = app
        .send_raw(put("v1/obj.txt", b"v1 body").h("x-oss-meta-k", "v").v1())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.send_raw(get("v1/obj.txt").v1()).await;
    assert_eq!(&r.body[..], b"v1 body", "{}", r.text());
    assert_eq!(r.header("x-oss-meta-k"), Some("v"));
    let r = app
        .send_raw(
            get("v1/obj.txt")
                .q("response-content-type", "text/x-v1")
                .presign_v1(now() + 60),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/x-v1"));
    let r = app.send_raw(get("v1/obj.txt").presign_v1(now() - 1)).await;
    assert_oss_error(&r, 403, "AccessDenied");
}

#[tokio::test]
async fn oss_listings_have_oss_shapes() {
    let app = app().await;
    for k in ["a/1.txt", "a/2.txt", "b.txt"] {
        stored(&app, k, b"x").await;
    }
    let list = |q: &[(&str, &str)]| {
        let mut o = O::new(Method::GET, "");
        o.path = format!("/{BUCKET}/");
        for (k, v) in q {
            o = o.q(k, v);
        }
        o
    };
    let r = app.send_raw(list(&[("delimiter", "/")]).v4()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.text();
    assert!(!t.contains("xmlns"), "{t}");
    assert!(t.contains("<Key>b.txt</Key>"), "{t}");
    assert!(t.contains("<Type>Normal</Type>"), "{t}");
    assert!(t.contains("<StorageClass>Standard</StorageClass>"), "{t}");
    assert!(t.contains("<Prefix>a/</Prefix>"), "{t}");
    let r = app
        .send_raw(list(&[("list-type", "2"), ("max-keys", "2")]).v1())
        .await;
    let t = r.text();
    assert_eq!(r.status, 200, "{t}");
    assert!(t.contains("<KeyCount>2</KeyCount>"), "{t}");
    assert!(t.contains("<NextContinuationToken>"), "{t}");
    assert!(t.contains("<Type>Normal</Type>"), "{t}");
}

#[tokio::test]
async fn head_errors_carry_x_oss_err() {
    let app = app().await;
    let r = app.send_raw(O::new(Method::HEAD, "missing").v4()).await;
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    let doc = base64::engine::general_purpose::STANDARD
        .decode(r.header("x-oss-err").expect("x-oss-err"))
        .unwrap();
    let doc = String::from_utf8(doc).unwrap();
    assert!(doc.contains("<Code>NoSuchKey</Code>"), "{doc}");
    let id = r.header("x-oss-request-id").unwrap();
    assert!(
        doc.contains(&format!("<RequestId>{id}</RequestId>")),
        "{doc}"
    );
}

#[tokio::test]
async fn traffic_limit_is_validated_and_accepted() {
    let app = app().await;
    stored(&app, "t", b"traffic").await;
    for ok in ["819200", "838860800"] {
        let r = app
            .send_raw(get("t").h("x-oss-traffic-limit", ok).v4())
            .await;
        assert_eq!(&r.body[..], b"traffic", "{ok}: {}", r.text());
    }
    for bad in ["819199", "838860801", "fast", ""] {
        let r = app
            .send_raw(get("t").h("x-oss-traffic-limit", bad).v4())
            .await;
        assert_oss_error(&r, 400, "InvalidArgument");
    }
    // Pre-signed URLs carry it as a (signed) parameter.
    let r = app
        .send_raw(
            get("t")
                .q("x-oss-traffic-limit", "1048576")
                .presign_v4(now(), 60),
        )
        .await;
    assert_eq!(&r.body[..], b"traffic", "{}", r.text());
    let r = app
        .send_raw(get("t").q("x-oss-traffic-limit", "1").presign_v4(now(), 60))
        .await;
    assert_oss_error(&r, 400, "InvalidArgument");
}
