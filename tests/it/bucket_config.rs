//! Bucket configuration sub-resources (spec cos-bucket.md): the SDKs'
//! captured requests replayed (PUT → GET returns the same document →
//! DELETE → unset), validation tables, and effects.

use http::Method;

use crate::common::{app, App, R};

const DECL: &str = "<?xml version='1.0' encoding='utf-8' ?>\n";

/// The captured SDK requests (`tests/fixtures/cos/bucket_config_vectors.json`).
pub(crate) fn vectors() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cos/bucket_config_vectors.json"
    ))
    .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

/// A captured request re-signed with the test credentials: same method,
/// target, Content-MD5 / Content-Type and body.
pub(crate) fn replay(v: &serde_json::Value) -> R {
    let method: Method = v["method"].as_str().unwrap().parse().unwrap();
    let target = v["target"].as_str().unwrap();
    let (_, query) = target.split_once('?').unwrap_or((target, ""));
    let mut r = R::new(method, "");
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, val) = pair.split_once('=').unwrap_or((pair, ""));
        r = r.q(k, val);
    }
    for h in v["headers"].as_array().unwrap() {
        let (name, value) = (h[0].as_str().unwrap(), h[1].as_str().unwrap());
        if ["content-md5", "content-type"].contains(&name.to_ascii_lowercase().as_str()) {
            r = r.h(name, value);
        }
    }
    if let Some(body) = v["body_text"].as_str() {
        r = r.with_body(body);
    }
    r
}

/// Drops the XML declaration and whitespace between tags, for comparing a
/// sent document with the one GET returns.
fn normalize(doc: &str) -> String {
    let doc = doc.trim();
    let doc = match doc.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(rest, |(_, d)| d),
        None => doc,
    };
    doc.split('\n').map(str::trim).collect::<String>()
}

/// PUT → GET (equivalent document) → DELETE → GET (unset) for every SDK's
/// vectors of `sub`.
async fn round_trip(app: &App, sub: &str, unset: (u16, &str)) {
    let vs = vectors();
    let mut puts = 0;
    for v in vs.iter().filter(|v| {
        v["method"] == "PUT" && v["target"].as_str().unwrap().contains(&format!("?{sub}"))
    }) {
        puts += 1;
        let name = v["name"].as_str().unwrap();
        let r = app.send(replay(v)).await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let got = app.send(R::get("").q(sub, "")).await;
        assert_eq!(got.status, 200, "{name}: {}", got.text());
        assert!(got.text().starts_with(DECL), "{name}");
        assert_eq!(
            normalize(&got.text()),
            normalize(v["body_text"].as_str().unwrap()),
            "{name}: GET returns what was PUT"
        );
    }
    assert!(puts > 0, "vectors for {sub}");
    for v in vs.iter().filter(|v| {
        v["method"] == "DELETE" && v["target"].as_str().unwrap().contains(&format!("?{sub}"))
    }) {
        let r = app.send(replay(v)).await;
        assert_eq!(r.status, 204, "{}", r.text());
        let got = app.send(R::get("").q(sub, "")).await;
        if unset.0 == 200 {
            assert_eq!(got.status, 200);
            assert_eq!(normalize(&got.text()), unset.1);
        } else {
            got.assert_error(unset.0, unset.1);
        }
    }
}

#[tokio::test]
async fn tagging_round_trip() {
    let app = app().await;
    app.send(R::get("").q("tagging", ""))
        .await
        .assert_error(404, "NoSuchTagSet");
    round_trip(&app, "tagging", (404, "NoSuchTagSet")).await;
}

#[tokio::test]
async fn object_lock_round_trip() {
    let app = app().await;
    app.send(R::get("").q("object-lock", ""))
        .await
        .assert_error(404, "ObjectLockConfigurationNotFoundError");
    round_trip(
        &app,
        "object-lock",
        (404, "ObjectLockConfigurationNotFoundError"),
    )
    .await;
    // The SDK's GET vector reads the stored document.
    let get = vectors()
        .into_iter()
        .find(|v| v["name"] == "py_get_bucket_object_lock")
        .unwrap();
    let r = app.send(replay(&get)).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<Days>30</Days>"), "{}", r.text());
}

#[tokio::test]
async fn encryption_round_trip_and_effect() {
    let app = app().await;
    round_trip(&app, "encryption", (404, "NoSuchEncryptionConfiguration")).await;
    // Node's putBucketEncryption({}): no rule configures nothing.
    let r = app
        .send(
            R::new(Method::PUT, "").q("encryption", "").with_body(
                "<ServerSideEncryptionConfiguration></ServerSideEncryptionConfiguration>",
            ),
        )
        .await;
    assert_eq!(r.status, 200);
    app.send(R::get("").q("encryption", ""))
        .await
        .assert_error(404, "NoSuchEncryptionConfiguration");
    // The SDK tests' typo is accepted as the same rule.
    let r = app
        .send(R::new(Method::PUT, "").q("encryption", "").with_body(
            "<ServerSideEncryptionConfiguration><Rule><ApplySideEncryptionConfiguration><SSEAlgorithm>AES256</SSEAlgorithm></ApplySideEncryptionConfiguration></Rule></ServerSideEncryptionConfiguration>",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = app.send(R::get("").q("encryption", "")).await;
    assert!(got
        .text()
        .contains("<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"));

    // Effect: writes without SSE headers are encrypted.
    let put = app.put("plain.txt", b"secret").await;
    assert_eq!(put.header("x-cos-server-side-encryption"), Some("AES256"));
    let get = app.send(R::get("plain.txt")).await;
    assert_eq!(get.header("x-cos-server-side-encryption"), Some("AES256"));
    assert_eq!(&get.body[..], b"secret");
    let init = app.send(R::new(Method::POST, "mp").q("uploads", "")).await;
    assert_eq!(init.header("x-cos-server-side-encryption"), Some("AES256"));
    // After DELETE, plain again.
    app.send(R::new(Method::DELETE, "").q("encryption", ""))
        .await;
    let put = app.put("plain2.txt", b"open").await;
    assert_eq!(put.header("x-cos-server-side-encryption"), None);
    app.send(
        R::new(Method::PUT, "")
            .q("encryption", "")
            .with_body("<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"),
    )
    .await
    .assert_error(400, "InvalidArgument");
}

#[tokio::test]
async fn accelerate_round_trip() {
    let app = app().await;
    let got = app.send(R::get("").q("accelerate", "")).await;
    assert_eq!(got.status, 200);
    assert_eq!(
        got.text(),
        format!("{DECL}<AccelerateConfiguration></AccelerateConfiguration>")
    );
    round_trip(&app, "accelerate", (0, "")).await;
}

#[tokio::test]
async fn validation_and_access() {
    let app = app().await;
    let put = |sub: &str, body: &str| R::new(Method::PUT, "").q(sub, "").with_body(body);
    let tags51: String = (0..51)
        .map(|i| format!("<Tag><Key>k{i}</Key><Value>v</Value></Tag>"))
        .collect();
    let tags50: String = (0..50)
        .map(|i| format!("<Tag><Key>k{i}</Key><Value>v</Value></Tag>"))
        .collect();
    let cases: Vec<(R, u16, &str)> = vec![
        (put("tagging", "not xml"), 400, "MalformedXML"),
        (put("tagging", "<Other/>"), 400, "MalformedXML"),
        (put("tagging", ""), 400, "MalformedXML"),
        (
            put(
                "tagging",
                &format!("<Tagging><TagSet>{tags51}</TagSet></Tagging>"),
            ),
            400,
            "InvalidTag",
        ),
        (
            put(
                "accelerate",
                "<AccelerateConfiguration><Status>On</Status></AccelerateConfiguration>",
            ),
            400,
            "InvalidArgument",
        ),
        (
            put("accelerate", "<AccelerateConfiguration/>"),
            400,
            "MalformedXML",
        ),
        (
            put("tagging", "<Tagging><TagSet></TagSet></Tagging>")
                .h("content-md5", "AAAAAAAAAAAAAAAAAAAAAA=="),
            400,
            "BadDigest",
        ),
        (
            put("tagging", &"x".repeat(65 * 1024)),
            400,
            "EntityTooLarge",
        ),
        (R::get("").q("tagging", "").anonymous(), 403, "AccessDenied"),
        (
            R::get("")
                .q("tagging", "")
                .host("nobucket-1250000000.cos.ap-guangzhou.myqcloud.com"),
            404,
            "NoSuchBucket",
        ),
        (
            R::new(Method::POST, "").q("tagging", ""),
            405,
            "MethodNotAllowed",
        ),
    ];
    for (i, (r, status, code)) in cases.into_iter().enumerate() {
        let resp = app.send(r).await;
        assert_eq!(
            (resp.status, resp.code()),
            (status, code.to_string()),
            "case {i}: {}",
            resp.text()
        );
    }
    // Nothing was stored by the failures; 50 tags are fine.
    app.send(R::get("").q("tagging", ""))
        .await
        .assert_error(404, "NoSuchTagSet");
    let r = app
        .send(put(
            "tagging",
            &format!("<Tagging><TagSet>{tags50}</TagSet></Tagging>"),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

const CORS: &str = "<CORSConfiguration><CORSRule><ID>app</ID><AllowedOrigin>https://app.example.com</AllowedOrigin><AllowedOrigin>http://*.example.org</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedHeader>content-type</AllowedHeader><AllowedHeader>x-cos-*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><ExposeHeader>x-cos-request-id</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule><ResponseVary>true</ResponseVary></CORSConfiguration>";

fn preflight(key: &str, origin: &str, method: &str, headers: Option<&str>) -> R {
    let mut r = R::new(Method::OPTIONS, key)
        .anonymous()
        .h("origin", origin)
        .h("access-control-request-method", method);
    if let Some(h) = headers {
        r = r.h("access-control-request-headers", h);
    }
    r
}

#[tokio::test]
async fn cors_round_trip_preflight_and_actual_headers() {
    let app = app().await;
    app.send(R::get("").q("cors", ""))
        .await
        .assert_error(404, "NoSuchCORSConfiguration");
    // Nothing configured: every preflight is refused.
    app.send(preflight("k", "https://app.example.com", "GET", None))
        .await
        .assert_error(403, "AccessForbidden");
    // The SDKs' documents (element order differs per SDK) round-trip.
    let vs = vectors();
    for v in vs
        .iter()
        .filter(|v| v["method"] == "PUT" && v["target"].as_str().unwrap().contains("?cors"))
    {
        let r = app.send(replay(v)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let got = app.send(R::get("").q("cors", "")).await;
        assert_eq!(
            sorted_tree(&got.text()),
            sorted_tree(v["body_text"].as_str().unwrap()),
            "{}",
            v["name"]
        );
    }
    let r = app
        .send(R::new(Method::PUT, "").q("cors", "").with_body(CORS))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        app.send(R::get("").q("cors", "")).await.text(),
        format!("{DECL}{CORS}")
    );

    // Preflight: on any key and on the bucket, signed or not.
    let r = app
        .send(preflight(
            "dir/a b.jpg",
            "https://app.example.com",
            "PUT",
            Some("Content-Type, x-cos-meta-a"),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("GET,PUT"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("Content-Type, x-cos-meta-a")
    );
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("ETag,x-cos-request-id")
    );
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(r.header("vary"), Some("Origin"));
    assert_eq!(r.header("content-length"), Some("0"));
    let r = app
        .send(preflight("", "http://www.example.org", "GET", None))
        .await;
    assert_eq!(r.status, 200);
    // Node signs its preflight, even with a bad signature it is answered.
    let r = app
        .send(preflight("k", "https://app.example.com", "GET", None).h(
            "authorization",
            "q-sign-algorithm=sha1&q-ak=nope&q-signature=0",
        ))
        .await;
    assert_eq!(r.status, 200);
    for (origin, method, headers) in [
        ("https://evil.example.com", "GET", None),
        ("https://app.example.com", "DELETE", None),
        ("https://app.example.com", "PUT", Some("authorization")),
    ] {
        app.send(preflight("k", origin, method, headers))
            .await
            .assert_error(403, "AccessForbidden");
    }
    app.send(
        R::new(Method::OPTIONS, "k")
            .anonymous()
            .h("origin", "https://app.example.com"),
    )
    .await
    .assert_error(400, "InvalidRequest");
    app.send(
        preflight("k", "https://app.example.com", "GET", None)
            .host("nobucket-1250000000.cos.ap-guangzhou.myqcloud.com"),
    )
    .await
    .assert_error(404, "NoSuchBucket");

    // Actual requests with a matching Origin get the headers, errors too.
    app.put("k", b"v").await;
    let r = app
        .send(R::get("k").h("origin", "https://app.example.com"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("ETag,x-cos-request-id")
    );
    let r = app
        .send(R::get("missing").h("origin", "https://app.example.com"))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let r = app
        .send(
            R::get("k")
                .anonymous()
                .h("origin", "https://app.example.com"),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    // No match, or no Origin: no CORS headers.
    let r = app
        .send(R::get("k").h("origin", "https://evil.example.com"))
        .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = app
        .send(R::new(Method::DELETE, "k").h("origin", "https://app.example.com"))
        .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = app.send(R::get("k")).await;
    assert_eq!(r.header("access-control-allow-origin"), None);

    // DELETE: preflights are refused again.
    let r = app.send(R::new(Method::DELETE, "").q("cors", "")).await;
    assert_eq!(r.status, 204);
    app.send(preflight("k", "https://app.example.com", "GET", None))
        .await
        .assert_error(403, "AccessForbidden");
    app.send(
        R::new(Method::PUT, "")
            .q("cors", "")
            .with_body("<CORSConfiguration/>"),
    )
    .await
    .assert_error(400, "MalformedXML");
}

/// An XML document as a tree with every element's children sorted, so two
/// documents that differ only in sibling order compare equal.
fn sorted_tree(doc: &str) -> String {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(doc);
    reader.config_mut().trim_text(true);
    // Stack of (name, children rendered).
    let mut stack: Vec<(String, Vec<String>)> = vec![(String::new(), Vec::new())];
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => stack.push((
                String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                Vec::new(),
            )),
            Event::Text(t) => {
                let text = t.unescape().unwrap().into_owned();
                stack.last_mut().unwrap().1.push(format!("\"{text}\""));
            }
            Event::End(_) => {
                let (name, mut children) = stack.pop().unwrap();
                children.sort();
                stack
                    .last_mut()
                    .unwrap()
                    .1
                    .push(format!("<{name}>{}</{name}>", children.concat()));
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                stack.last_mut().unwrap().1.push(format!("<{name}/>"));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    stack.pop().unwrap().1.concat()
}

#[tokio::test]
async fn referer_round_trip_and_hotlink_protection() {
    let app = app().await;
    let empty = format!("{DECL}<RefererConfiguration></RefererConfiguration>");
    assert_eq!(app.send(R::get("").q("referer", "")).await.text(), empty);
    for v in vectors()
        .iter()
        .filter(|v| v["target"].as_str().unwrap().contains("?referer") && v["method"] == "PUT")
    {
        let r = app.send(replay(v)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let got = app.send(R::get("").q("referer", "")).await;
        assert_eq!(got.status, 200);
        match v["body_text"].as_str() {
            Some(body) => assert_eq!(normalize(&got.text()), normalize(body), "{}", v["name"]),
            // Python's "delete": an empty PUT.
            None => assert_eq!(got.text(), empty, "{}", v["name"]),
        }
    }
    // A public-read bucket protected by a white list.
    let r = app
        .send(
            R::new(Method::PUT, "")
                .q("acl", "")
                .h("x-cos-acl", "public-read"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    app.put("img.jpg", b"picture").await;
    let r = app
        .send(R::new(Method::PUT, "").q("referer", "").with_body(
            "<RefererConfiguration><Status>Enabled</Status><RefererType>White-List</RefererType><DomainList><Domain>*.example.com</Domain></DomainList><EmptyReferConfiguration>Deny</EmptyReferConfiguration></RefererConfiguration>",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let anon = |referer: Option<&str>| {
        let r = R::get("img.jpg").anonymous();
        match referer {
            Some(v) => r.h("referer", v),
            None => r,
        }
    };
    let r = app
        .send(anon(Some("https://www.example.com/page.html")))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], b"picture");
    app.send(anon(Some("https://leech.test/")))
        .await
        .assert_error(403, "AccessDenied");
    app.send(anon(None)).await.assert_error(403, "AccessDenied");
    // Signed requests are never referer-checked.
    let r = app
        .send(R::get("img.jpg").h("referer", "https://leech.test/"))
        .await;
    assert_eq!(r.status, 200);
    // DELETE = the empty PUT: protection off.
    let r = app.send(R::new(Method::DELETE, "").q("referer", "")).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        app.send(anon(Some("https://leech.test/"))).await.status,
        200
    );
    app.send(R::new(Method::PUT, "").q("referer", "").with_body(
        "<RefererConfiguration><Status>On</Status><RefererType>White-List</RefererType><DomainList/></RefererConfiguration>",
    ))
    .await
    .assert_error(400, "InvalidArgument");
}

#[tokio::test]
async fn lifecycle_round_trip_and_validation() {
    let app = app().await;
    app.send(R::get("").q("lifecycle", ""))
        .await
        .assert_error(404, "NoSuchLifecycleConfiguration");
    // Python's and Node's documents (repeated Transition, a Date kept as
    // sent, an empty Prefix) come back as they were sent.
    round_trip(&app, "lifecycle", (404, "NoSuchLifecycleConfiguration")).await;
    // Node's own test date form, unchanged.
    let node_date = "<LifecycleConfiguration><Rule><ID>d</ID><Status>Enabled</Status><Filter><Prefix>x/</Prefix></Filter><Expiration><Date>2018-07-29T16:00:00.000Z</Date></Expiration></Rule></LifecycleConfiguration>";
    let r = app
        .send(
            R::new(Method::PUT, "")
                .q("lifecycle", "")
                .with_body(node_date),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = app.send(R::get("").q("lifecycle", "")).await;
    assert_eq!(sorted_tree(&got.text()), sorted_tree(node_date));
    let put = |body: String| R::new(Method::PUT, "").q("lifecycle", "").with_body(&body);
    let rule = |inner: &str| {
        format!("<LifecycleConfiguration><Rule><ID>r</ID><Status>Enabled</Status><Filter/>{inner}</Rule></LifecycleConfiguration>")
    };
    for (body, status, code) in [
        ("<LifecycleConfiguration/>".to_string(), 400, "MalformedXML"),
        (
            "<Lifecycle><Rule/></Lifecycle>".to_string(),
            400,
            "MalformedXML",
        ),
        (
            rule("<Expiration><Days>1</Days><Date>2030-01-01T00:00:00+08:00</Date></Expiration>"),
            400,
            "InvalidArgument",
        ),
        (
            rule("<Transition><Days>1</Days><StorageClass>GLACIER</StorageClass></Transition>"),
            400,
            "InvalidArgument",
        ),
        (
            rule("<Expiration><Days>0</Days></Expiration>"),
            400,
            "InvalidArgument",
        ),
    ] {
        app.send(put(body.clone())).await.assert_error(status, code);
    }
    // A refused PUT leaves the stored document as it was.
    let still = app.send(R::get("").q("lifecycle", "")).await;
    assert_eq!(sorted_tree(&still.text()), sorted_tree(node_date));
    // Missing bucket.
    app.send(
        R::get("")
            .host("nobucket-1250000000.cos.ap-guangzhou.myqcloud.com")
            .q("lifecycle", ""),
    )
    .await
    .assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn intelligent_tiering_v1_and_v2() {
    let app = app().await;
    app.send(R::get("").q("intelligenttiering", ""))
        .await
        .assert_error(404, "NoSuchConfiguration");
    app.send(R::get("").q("intelligent-tiering", "").q("id", "default"))
        .await
        .assert_error(404, "NoSuchConfiguration");
    let empty = app.send(R::get("").q("intelligent-tiering", "")).await;
    assert_eq!(empty.status, 200);
    assert_eq!(
        normalize(&empty.text()),
        "<ListBucketIntelligentTieringConfigurationsOutput></ListBucketIntelligentTieringConfigurationsOutput>"
    );
    // v1: Python's document round-trips; once enabled it cannot change.
    round_trip(&app, "intelligenttiering", (404, "NoSuchConfiguration")).await;
    let changed = "<IntelligentTieringConfiguration><Status>Enabled</Status><Transition><Days>90</Days><RequestFrequent>1</RequestFrequent></Transition></IntelligentTieringConfiguration>";
    let r = app
        .send(
            R::new(Method::PUT, "")
                .q("intelligenttiering", "")
                .with_body(changed),
        )
        .await;
    r.assert_error(400, "InvalidArgument");
    assert!(r
        .text()
        .contains("Not support modify intelligent tiering configuration"));
    // v2: the vectors (`default` equals the v1 rule, so it is accepted).
    let vs = vectors();
    for v in vs.iter().filter(|v| {
        v["method"] == "PUT"
            && v["target"]
                .as_str()
                .unwrap()
                .contains("?intelligent-tiering")
    }) {
        let name = v["name"].as_str().unwrap();
        let r = app.send(replay(v)).await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let id = v["target"].as_str().unwrap().rsplit("id=").next().unwrap();
        let got = app
            .send(R::get("").q("intelligent-tiering", "").q("id", id))
            .await;
        assert_eq!(got.status, 200, "{name}");
        assert_eq!(
            sorted_tree(&got.text()),
            sorted_tree(v["body_text"].as_str().unwrap()),
            "{name}"
        );
    }
    let list = app.send(R::get("").q("intelligent-tiering", "")).await;
    let text = list.text();
    assert_eq!(
        text.matches("<IntelligentTieringConfiguration>").count(),
        2,
        "{text}"
    );
    assert!(text.contains("<Id>cold-logs</Id>") && text.contains("<Id>default</Id>"));
    // `default` cannot be modified or deleted; other ids can be deleted.
    let modify = "<IntelligentTieringConfiguration><Id>default</Id><Status>Enabled</Status><Tiering><AccessTier>INFREQUENT</AccessTier><Days>60</Days></Tiering></IntelligentTieringConfiguration>";
    let r = app
        .send(
            R::new(Method::PUT, "")
                .q("intelligent-tiering", "")
                .q("id", "default")
                .with_body(modify),
        )
        .await;
    r.assert_error(400, "InvalidArgument");
    assert!(r.text().contains("The default rule cannot be modified"));
    app.send(
        R::new(Method::DELETE, "")
            .q("intelligent-tiering", "")
            .q("id", "default"),
    )
    .await
    .assert_error(400, "InvalidArgument");
    let r = app
        .send(
            R::new(Method::DELETE, "")
                .q("intelligent-tiering", "")
                .q("id", "cold-logs"),
        )
        .await;
    assert_eq!(r.status, 204);
    app.send(R::get("").q("intelligent-tiering", "").q("id", "cold-logs"))
        .await
        .assert_error(404, "NoSuchConfiguration");
    app.send(
        R::new(Method::DELETE, "")
            .q("intelligent-tiering", "")
            .q("id", "cold-logs"),
    )
    .await
    .assert_error(404, "NoSuchConfiguration");
    // Validation.
    let bad_tier = "<IntelligentTieringConfiguration><Id>x</Id><Status>Enabled</Status><Tiering><AccessTier>HOT</AccessTier><Days>30</Days></Tiering></IntelligentTieringConfiguration>";
    app.send(
        R::new(Method::PUT, "")
            .q("intelligent-tiering", "")
            .q("id", "x")
            .with_body(bad_tier),
    )
    .await
    .assert_error(400, "InvalidArgument");
    app.send(
        R::new(Method::PUT, "")
            .q("intelligent-tiering", "")
            .with_body(bad_tier),
    )
    .await
    .assert_error(400, "InvalidArgument");
    app.send(
        R::new(Method::PUT, "")
            .q("intelligent-tiering", "")
            .q("id", "x")
            .with_body("<Nope/>"),
    )
    .await
    .assert_error(400, "MalformedXML");
}
