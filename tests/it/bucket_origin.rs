//! Back-to-origin rules (`PUT /?origin`, cos-bucket.md §11): redirect,
//! proxy (streams the origin's status, headers and bytes; nothing stored),
//! mirror (stores while streaming, then serves locally), prefix conditions
//! and the SSRF checks, against a tiny HTTP origin on 127.0.0.1.

use std::sync::{Arc, Mutex};

use http::Method;
use localcos::config::{Config, RawConfig, ServeArgs};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{App, ID, KEY, R};

/// One request the origin saw: path (with query) and lower-case headers.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The origin: `/big/*` 300 KB, `/chunked/*` chunked, `/missing/*` 404,
/// `/truncated/*` promises 1000 bytes and sends 10, `/hop/*` 302 to the
/// metadata address, anything else `origin bytes of <path>`; Range honoured.
struct Origin {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Origin {
    async fn start() -> Origin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).into_owned();
                    let mut lines = head.split("\r\n");
                    let first = lines.next().unwrap_or("");
                    let mut parts = first.split(' ');
                    let method = parts.next().unwrap_or("").to_string();
                    let path = parts.next().unwrap_or("").to_string();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect();
                    let s = Seen { path, headers };
                    log.lock().unwrap().push(s.clone());
                    let reply = respond(&method, &s);
                    let _ = sock.write_all(&reply).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Origin { port, seen }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self, path_prefix: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.path.starts_with(path_prefix))
            .count()
    }
}

fn body_for(path: &str) -> Vec<u8> {
    let p = path.split('?').next().unwrap();
    if p.contains("/big/") {
        (0..300_000u32).map(|i| (i % 251) as u8).collect()
    } else {
        format!("origin bytes of {p}").into_bytes()
    }
}

fn respond(method: &str, s: &Seen) -> Vec<u8> {
    let p = s.path.split('?').next().unwrap().to_string();
    if p.contains("/missing/") {
        return b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found".to_vec();
    }
    if p.contains("/hop/") {
        return b"HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/latest/meta-data/\r\ncontent-length: 0\r\n\r\n".to_vec();
    }
    if p.contains("/truncated/") {
        return b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\nonly ten..".to_vec();
    }
    let body = body_for(&p);
    if p.contains("/chunked/") {
        let mut out =
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
                .to_vec();
        for c in body.chunks(7) {
            out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            out.extend_from_slice(c);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        return out;
    }
    let (status, range_hdr, part) = match s.header("range").and_then(|r| r.strip_prefix("bytes=")) {
        Some(r) => {
            let (a, b) = r.split_once('-').unwrap();
            let a: usize = a.parse().unwrap();
            let b: usize = b.parse::<usize>().unwrap().min(body.len() - 1);
            (
                "206 Partial Content",
                format!("content-range: bytes {a}-{b}/{}\r\n", body.len()),
                body[a..=b].to_vec(),
            )
        }
        None => ("200 OK", String::new(), body),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/x-origin\r\ncache-control: max-age=60\r\n\
         etag: \"origin-etag\"\r\nx-cos-meta-source: origin\r\nx-secret: no\r\n{range_hdr}content-length: {}\r\n\r\n",
        part.len()
    )
    .into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(&part);
    }
    out
}

async fn app(allow_private: bool) -> App {
    let args = ServeArgs {
        ephemeral: true,
        secret_id: Some(ID.into()),
        secret_key: Some(KEY.into()),
        buckets: vec!["examplebucket".into()],
        origin_allow_private: allow_private,
        origin_timeout_seconds: Some(3),
        ..Default::default()
    };
    let config = Config::from_parts(&args, RawConfig::default()).unwrap();
    App {
        svc: localcos::testing::app(config).await.unwrap(),
    }
}

fn rule(priority: u32, kind: &str, prefix: &str, param: &str, info: &str) -> String {
    format!(
        "<OriginRule><RulePriority>{priority}</RulePriority><OriginType>{kind}</OriginType>\
         <OriginCondition><HTTPStatusCode>404</HTTPStatusCode><Prefix>{prefix}</Prefix></OriginCondition>\
         <OriginParameter>{param}</OriginParameter><OriginInfo>{info}</OriginInfo></OriginRule>"
    )
}

fn host_info(host: &str) -> String {
    format!("<HostInfo><HostName>{host}</HostName></HostInfo>")
}

async fn put_rules(app: &App, rules: &str) -> crate::common::Resp {
    app.send(
        R::new(Method::PUT, "")
            .q("origin", "")
            .h("content-type", "application/xml")
            .with_body(&format!(
                "<OriginConfiguration>{rules}</OriginConfiguration>"
            )),
    )
    .await
}

/// Lists keys under `prefix` (never triggers back-to-origin).
async fn listed(app: &App, prefix: &str) -> Vec<String> {
    let r = app.send(R::get("").q("prefix", prefix)).await;
    r.text()
        .split("<Key>")
        .skip(1)
        .map(|s| s.split("</Key>").next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn redirect_rules_answer_3xx_with_the_mapped_key() {
    let app = app(false).await;
    app.send(R::get("").q("origin", ""))
        .await
        .assert_error(404, "NoSuchOriginConfiguration");
    let r = put_rules(
        &app,
        &(rule(
            1,
            "Redirect",
            "r/",
            "<Protocol>HTTPS</Protocol><FollowQueryString>true</FollowQueryString><HttpRedirectCode>301</HttpRedirectCode>",
            &(host_info("203.0.113.9:8443")
                + "<FileInfo><PrefixConfiguration><Prefix>r/</Prefix><ReplacedWithPrefix>static/</ReplacedWithPrefix></PrefixConfiguration></FileInfo>"),
        ) + &rule(2, "Redirect", "plain/", "<Protocol>HTTP</Protocol>", &host_info("203.0.113.9"))),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = app.send(R::get("r/a b.txt").q("x", "1")).await;
    assert_eq!(got.status, 301, "{}", got.text());
    assert_eq!(
        got.header("location"),
        Some("https://203.0.113.9:8443/static/a%20b.txt?x=1")
    );
    assert!(got.header("x-cos-request-id").is_some());
    let got = app
        .send(R::new(Method::HEAD, "plain/@evil.com").q("x", "1"))
        .await;
    assert_eq!(got.status, 302);
    assert_eq!(
        got.header("location"),
        Some("http://203.0.113.9/plain/%40evil.com")
    );
    // Keys outside every rule's prefix stay 404; stored keys are served.
    app.send(R::get("other/a.txt"))
        .await
        .assert_error(404, "NoSuchKey");
    app.put("r/here.txt", b"local").await;
    let here = app.send(R::get("r/here.txt")).await;
    assert_eq!((here.status, &here.body[..]), (200, &b"local"[..]));
    // DELETE removes the rules.
    let del = app.send(R::new(Method::DELETE, "").q("origin", "")).await;
    assert_eq!(del.status, 204);
    app.send(R::get("r/a.txt"))
        .await
        .assert_error(404, "NoSuchKey");
}

#[tokio::test]
async fn proxy_streams_the_origin_and_stores_nothing() {
    let origin = Origin::start().await;
    let app = app(true).await;
    let r = put_rules(
        &app,
        &rule(
            1,
            "Proxy",
            "p/",
            "<Protocol>HTTP</Protocol><HttpHeader><FollowHttpHeaders><Header><Key>x-trace</Key></Header></FollowHttpHeaders>\
             <NewHttpHeaders><Header><Key>x-from</Key><Value>cos</Value></Header></NewHttpHeaders></HttpHeader>",
            &host_info(&origin.host()),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let got = app
        .send(R::get("p/hello.txt").h("x-trace", "t1").h("x-other", "no"))
        .await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.text(), "origin bytes of /p/hello.txt");
    assert_eq!(got.header("content-type"), Some("text/x-origin"));
    assert_eq!(got.header("cache-control"), Some("max-age=60"));
    assert_eq!(got.header("etag"), Some("\"origin-etag\""));
    assert_eq!(got.header("x-cos-meta-source"), Some("origin"));
    assert_eq!(got.header("x-secret"), None, "only representation headers");
    assert!(got.header("x-cos-request-id").is_some());
    let seen = origin.seen();
    let last = seen.last().unwrap();
    assert_eq!(last.path, "/p/hello.txt");
    assert_eq!(last.header("x-from"), Some("cos"));
    assert_eq!(last.header("x-trace"), Some("t1"));
    assert_eq!(last.header("x-other"), None);
    assert_eq!(
        last.header("authorization"),
        None,
        "credentials never leave"
    );
    assert_eq!(last.header("host"), Some(origin.host().as_str()));

    // Range passes through: the origin answers 206.
    let part = app
        .send(R::get("p/hello.txt").h("range", "bytes=0-5"))
        .await;
    assert_eq!(part.status, 206);
    assert_eq!(part.text(), "origin");
    assert_eq!(part.header("content-range"), Some("bytes 0-5/28"));
    // Big and chunked bodies arrive whole.
    let big = app.send(R::get("p/big/x")).await;
    assert_eq!(big.status, 200, "{}", big.text());
    assert_eq!(big.header("content-length"), Some("300000"));
    assert!(big.body[..] == body_for("/big/x")[..], "same bytes");
    let head = app.send(R::new(Method::HEAD, "p/hello.txt")).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("28"));
    assert!(head.body.is_empty());
    // Nothing was stored: each GET went to the origin.
    assert!(listed(&app, "p/").await.is_empty());
    assert_eq!(origin.count("/p/hello.txt"), 3);
    // The origin's 404 → NoSuchKey; keys outside the prefix never reach it.
    app.send(R::get("p/missing/x"))
        .await
        .assert_error(404, "NoSuchKey");
    let before = origin.seen().len();
    app.send(R::get("q/hello.txt"))
        .await
        .assert_error(404, "NoSuchKey");
    assert_eq!(origin.seen().len(), before);
}

#[tokio::test]
async fn chunked_origin_bodies_are_relayed() {
    let origin = Origin::start().await;
    let app = app(true).await;
    let r = put_rules(&app, &rule(1, "Proxy", "", "", &host_info(&origin.host()))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = app.send(R::get("chunked/a.txt")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), "origin bytes of /chunked/a.txt");
    assert_eq!(got.header("content-length"), None);
}

#[tokio::test]
async fn mirror_stores_then_serves_locally() {
    let origin = Origin::start().await;
    let app = app(true).await;
    let r = put_rules(
        &app,
        &rule(
            1,
            "Mirror",
            "m/",
            "<Protocol>HTTP</Protocol>",
            &host_info(&origin.host()),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = app.send(R::get("m/big/one.bin")).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert!(got.body[..] == body_for("/big/one.bin")[..], "same bytes");
    // Committed once the body was through (on its own task): wait for it.
    for _ in 0..100 {
        if !listed(&app, "m/big/").await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(listed(&app, "m/big/").await, ["m/big/one.bin"]);
    let again = app.send(R::get("m/big/one.bin")).await;
    assert_eq!(again.status, 200);
    assert!(again.body[..] == body_for("/big/one.bin")[..], "same bytes");
    assert_eq!(again.header("content-type"), Some("text/x-origin"));
    assert_eq!(again.header("cache-control"), Some("max-age=60"));
    let md5 = format!("\"{}\"", hex_md5(&body_for("/big/one.bin")));
    assert_eq!(
        again.header("etag"),
        Some(md5.as_str()),
        "a local object now"
    );
    assert_eq!(origin.count("/m/big/one.bin"), 1, "served locally");

    // A Range request: fetched whole, stored, then the range served locally.
    let part = app.send(R::get("m/r.txt").h("range", "bytes=7-11")).await;
    assert_eq!(part.status, 206, "{}", part.text());
    assert_eq!(part.text(), "bytes");
    let seen = origin.seen();
    assert_eq!(
        seen.last().unwrap().header("range"),
        None,
        "mirror fetches whole"
    );
    assert_eq!(listed(&app, "m/r").await, ["m/r.txt"]);
    // HEAD mirrors too.
    let head = app.send(R::new(Method::HEAD, "m/h.txt")).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("24"));
    assert_eq!(listed(&app, "m/h").await, ["m/h.txt"]);

    // A body cut short: the client gets an error, nothing is stored.
    let cut = app.send(R::get("m/truncated/t.txt")).await;
    assert!(cut.body.len() < 1000);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(listed(&app, "m/truncated/").await.is_empty());
    // The origin's 404 stays a 404, nothing stored.
    app.send(R::get("m/missing/x"))
        .await
        .assert_error(404, "NoSuchKey");
    assert!(listed(&app, "m/missing/").await.is_empty());
}

fn hex_md5(b: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(b))
}

#[tokio::test]
async fn private_origins_are_refused() {
    // Without --origin-allow-private: refused when stored.
    let app_plain = app(false).await;
    for host in ["127.0.0.1:8080", "localhost", "10.0.0.7", "169.254.169.254"] {
        put_rules(&app_plain, &rule(1, "Proxy", "", "", &host_info(host)))
            .await
            .assert_error(400, "InvalidArgument");
    }
    app_plain
        .send(R::get("").q("origin", ""))
        .await
        .assert_error(404, "NoSuchOriginConfiguration");
    // Bad documents.
    for body in [
        "<OriginConfiguration/>".to_string(),
        rule(1, "Proxy", "", "", &host_info("http://a.example.com/x")),
    ] {
        let r = put_rules(&app_plain, &body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
    }
    let r = app_plain
        .send(R::new(Method::PUT, "").q("origin", "").with_body("<Nope/>"))
        .await;
    r.assert_error(400, "MalformedXML");

    // With the switch, the metadata service is still refused at fetch time
    // even when reached through an origin redirect.
    let origin = Origin::start().await;
    let app = app(true).await;
    let r = put_rules(
        &app,
        &rule(
            1,
            "Proxy",
            "hop/",
            "<FollowRedirection>true</FollowRedirection>",
            &host_info(&origin.host()),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = app.send(R::get("hop/x")).await;
    got.assert_error(404, "NoSuchKey");
    assert!(got.text().contains("refused"), "{}", got.text());
    // Without FollowRedirection the origin's 302 is not followed.
    let r = put_rules(
        &app,
        &rule(1, "Proxy", "hop/", "", &host_info(&origin.host())),
    )
    .await;
    assert_eq!(r.status, 200);
    let got = app.send(R::get("hop/x")).await;
    got.assert_error(404, "NoSuchKey");
    assert!(got.text().contains("302"), "{}", got.text());
}
