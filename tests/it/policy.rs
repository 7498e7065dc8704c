//! Bucket policy `?policy` (cos-bucket.md §3) end to end: storage and
//! validation, the effects on anonymous and signed requests together with
//! ACLs and key scopes, the `qcs:ip` condition, and the server-wide default
//! CORS rule (`[cors]`).

use http::Method;
use localcos::config::{Config, RawConfig, ServeArgs};

use crate::common::{app, app_with, App, HOST, ID, KEY, R};

const RES: &str = "qcs::cos:ap-guangzhou:uid/1250000000:examplebucket-1250000000";

fn put_policy(doc: &str) -> R {
    R::new(Method::PUT, "")
        .q("policy", "")
        .h("content-type", "application/json")
        .with_body(doc)
}

async fn set_policy(app: &App, doc: &str) {
    let r = app.send(put_policy(doc)).await;
    assert_eq!(r.status, 204, "PUT ?policy: {}", r.text());
}

fn public_read(prefix: &str) -> String {
    format!(
        r#"{{"version":"2.0","statement":[{{"principal":{{"qcs":["qcs::cam::anyone:anyone"]}},"effect":"allow","action":["name/cos:GetObject","name/cos:HeadObject"],"resource":["{RES}/{prefix}*"]}}]}}"#
    )
}

/// An anonymous request from `ip`, as the server would see it.
async fn anonymous_from(app: &App, r: R, ip: &str) -> crate::common::Resp {
    let mut req = r.anonymous().build();
    req.extensions_mut().insert(localcos::authz::RemoteAddr(
        format!("{ip}:40000").parse().unwrap(),
    ));
    app.send_raw(req).await
}

#[tokio::test]
async fn put_get_delete_and_validation() {
    let app = app().await;
    app.send(R::get("").q("policy", ""))
        .await
        .assert_error(404, "NoSuchPolicy");
    let doc = public_read("public/");
    set_policy(&app, &doc).await;
    let got = app.send(R::get("").q("policy", "")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
    let sent: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["Statement"], sent["statement"]);
    assert_eq!(v["version"], "2.0");

    let cases: Vec<(R, u16, &str)> = vec![
        (put_policy("{"), 400, "MalformedPolicy"),
        (put_policy(""), 400, "MalformedPolicy"),
        (
            put_policy(r#"{"version":"2.0","statement":[]}"#),
            400,
            "MalformedPolicy",
        ),
        (
            put_policy(&doc.replace("name/cos:GetObject", "s3:GetObject")),
            400,
            "MalformedPolicy",
        ),
        (
            put_policy(&doc.replace("\"allow\"", "\"permit\"")),
            400,
            "MalformedPolicy",
        ),
        (
            put_policy(&format!(
                r#"{{"statement":[{{"principal":"*","effect":"allow","action":"*","resource":"{RES}/*","condition":{{"ip_equal":{{"qcs:ip":"300.1.1.1"}}}}}}]}}"#
            )),
            400,
            "MalformedPolicy",
        ),
        (
            put_policy(&doc.replace(
                "\"version\":\"2.0\"",
                &format!("\"id\":\"{}\"", "x".repeat(21 * 1024)),
            )),
            400,
            "MalformedPolicy",
        ),
        (
            put_policy(&doc).h("content-md5", "AAAAAAAAAAAAAAAAAAAAAA=="),
            400,
            "BadDigest",
        ),
        (put_policy(&doc).anonymous(), 403, "AccessDenied"),
        (R::get("").q("policy", "").anonymous(), 403, "AccessDenied"),
        (
            R::get("")
                .q("policy", "")
                .host("nobucket-1250000000.cos.ap-guangzhou.myqcloud.com"),
            404,
            "NoSuchBucket",
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
    // Failures changed nothing.
    let again = app.send(R::get("").q("policy", "")).await;
    assert_eq!(again.body, got.body);
    let del = app.send(R::new(Method::DELETE, "").q("policy", "")).await;
    assert_eq!(del.status, 204);
    app.send(R::get("").q("policy", ""))
        .await
        .assert_error(404, "NoSuchPolicy");
    // DELETE when unset is fine too.
    let del = app.send(R::new(Method::DELETE, "").q("policy", "")).await;
    assert_eq!(del.status, 204);
}

#[tokio::test]
async fn anonymous_read_on_one_prefix_only() {
    let app = app().await;
    app.put("public/a.txt", b"open").await;
    app.put("public/deep/b.txt", b"open too").await;
    app.put("private/c.txt", b"closed").await;
    // Private bucket: everything refused.
    app.send(R::get("public/a.txt").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    set_policy(&app, &public_read("public/")).await;
    // Takes effect on the next request.
    let r = app.send(R::get("public/a.txt").anonymous()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..], b"open");
    let r = app.send(R::get("public/deep/b.txt").anonymous()).await;
    assert_eq!(&r.body[..], b"open too");
    let r = app
        .send(R::new(Method::HEAD, "public/a.txt").anonymous())
        .await;
    assert_eq!(r.status, 200);
    // A missing key under the prefix is a plain 404.
    app.send(R::get("public/none").anonymous())
        .await
        .assert_error(404, "NoSuchKey");
    // Other keys, other actions: refused.
    app.send(R::get("private/c.txt").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    app.send(R::get("publicity").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    app.send(R::put("public/new.txt", "x").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    app.send(R::get("").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    // Signed requests are unaffected by an allow.
    let r = app.send(R::get("private/c.txt")).await;
    assert_eq!(r.status, 200);
    // DELETE ?policy: private again at once.
    app.send(R::new(Method::DELETE, "").q("policy", "")).await;
    app.send(R::get("public/a.txt").anonymous())
        .await
        .assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn explicit_deny_beats_acl_grants_and_keys() {
    let app = app().await;
    app.put("open.txt", b"o").await;
    app.put("secret/x.txt", b"s").await;
    let acl = app
        .send(
            R::new(Method::PUT, "")
                .q("acl", "")
                .h("x-cos-acl", "public-read"),
        )
        .await;
    assert_eq!(acl.status, 200, "{}", acl.text());
    assert_eq!(
        app.send(R::get("secret/x.txt").anonymous()).await.status,
        200
    );
    set_policy(
        &app,
        &format!(
            r#"{{"Statement":[{{"Principal":{{"qcs":["qcs::cam::anyone:anyone"]}},"Effect":"Deny","Action":["name/cos:GetObject"],"Resource":["{RES}/secret/*"]}},
                {{"Principal":"*","Effect":"deny","Action":["name/cos:DeleteObject","name/cos:PutObject"],"Resource":["{RES}/keep/*"]}}],"Version":"2.0"}}"#
        ),
    )
    .await;
    // The ACL still opens the rest; the deny closes secret/ to everyone.
    assert_eq!(app.send(R::get("open.txt").anonymous()).await.status, 200);
    app.send(R::get("secret/x.txt").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    app.send(R::get("secret/x.txt"))
        .await
        .assert_error(403, "AccessDenied");
    // HEAD is another action.
    assert_eq!(
        app.send(R::new(Method::HEAD, "secret/x.txt")).await.status,
        200
    );
    // Deny for `*` covers the owner's key too ...
    app.send(R::put("keep/a", "x"))
        .await
        .assert_error(403, "AccessDenied");
    app.send(R::new(Method::DELETE, "keep/a"))
        .await
        .assert_error(403, "AccessDenied");
    assert_eq!(app.send(R::put("other/a", "x")).await.status, 200);
    // ... and a copy whose source is denied.
    app.send(R::put("copy", "").h(
        "x-cos-copy-source",
        "examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/secret/x.txt",
    ))
    .await
    .assert_error(403, "AccessDenied");
    // The owner keeps ?policy itself.
    let got = app.send(R::get("").q("policy", "")).await;
    assert_eq!(got.status, 200);
    let del = app.send(R::new(Method::DELETE, "").q("policy", "")).await;
    assert_eq!(del.status, 204);
    assert_eq!(app.send(R::get("secret/x.txt")).await.status, 200);
}

#[tokio::test]
async fn deny_naming_a_key_refuses_it_even_policy_calls() {
    let toml = r#"
[[credentials]]
secret_id = "AKIDsubexample"
secret_key = "sub-secret-key"
buckets = ["examplebucket"]
"#;
    let raw: RawConfig = toml::from_str(toml).unwrap();
    let args = ServeArgs {
        ephemeral: true,
        secret_id: Some(ID.into()),
        secret_key: Some(KEY.into()),
        ..Default::default()
    };
    let app = app_with(Config::from_parts(&args, raw).unwrap()).await;
    app.put("k", b"v").await;
    set_policy(
        &app,
        &format!(
            r#"{{"statement":[{{"principal":{{"qcs":["qcs::cam::uin/1250000000:uin/AKIDsubexample"]}},"effect":"deny","action":["*"],"resource":["{RES}/*"]}}]}}"#
        ),
    )
    .await;
    // That key is the one named, even for ?policy (only an owner key keeps
    // ?policy); the owner is not named.
    app.send(R::get("k").signed_by("AKIDsubexample", "sub-secret-key"))
        .await
        .assert_error(403, "AccessDenied");
    app.send(
        R::get("")
            .q("policy", "")
            .signed_by("AKIDsubexample", "sub-secret-key"),
    )
    .await
    .assert_error(403, "AccessDenied");
    assert_eq!(app.send(R::get("k")).await.status, 200);
}

#[tokio::test]
async fn ip_condition_uses_the_peer_address() {
    let app = app().await;
    app.put("lan/a.txt", b"lan").await;
    set_policy(
        &app,
        &format!(
            r#"{{"statement":[{{"principal":{{"qcs":["qcs::cam::anyone:anyone"]}},"effect":"allow","action":["name/cos:GetObject"],"resource":["{RES}/lan/*"],"condition":{{"ip_equal":{{"qcs:ip":["10.0.0.0/8","192.168.1.5"]}}}}}}]}}"#
        ),
    )
    .await;
    for (ip, status) in [
        ("10.20.30.40", 200),
        ("192.168.1.5", 200),
        ("192.168.1.6", 403),
        ("127.0.0.1", 403),
    ] {
        let r = anonymous_from(&app, R::get("lan/a.txt"), ip).await;
        assert_eq!(r.status, status, "{ip}: {}", r.text());
    }
    // Unknown address (in-process call without one): the condition fails.
    app.send(R::get("lan/a.txt").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    // ip_not_equal deny: everyone outside 10/8 is refused, even the owner.
    set_policy(
        &app,
        &format!(
            r#"{{"statement":[{{"principal":"*","effect":"deny","action":["name/cos:GetObject"],"resource":["{RES}/lan/*"],"condition":{{"ip_not_equal":{{"qcs:ip":"10.0.0.0/8"}}}}}},
               {{"principal":"*","effect":"allow","action":["name/cos:GetObject"],"resource":["{RES}/*"]}}]}}"#
        ),
    )
    .await;
    assert_eq!(
        anonymous_from(&app, R::get("lan/a.txt"), "10.0.0.1")
            .await
            .status,
        200
    );
    let r = anonymous_from(&app, R::get("lan/a.txt"), "172.16.0.1").await;
    r.assert_error(403, "AccessDenied");
    let mut signed = R::get("lan/a.txt").build();
    signed
        .extensions_mut()
        .insert(localcos::authz::RemoteAddr("172.16.0.1:1".parse().unwrap()));
    assert_eq!(app.send_raw(signed).await.status, 403);
}

#[tokio::test]
async fn anonymous_listing_and_uploads_by_policy() {
    let app = app().await;
    app.put("docs/a", b"a").await;
    set_policy(
        &app,
        &format!(
            r#"{{"statement":[{{"principal":{{"qcs":["qcs::cam::anonymous:anonymous"]}},"effect":"allow","action":["name/cos:GetBucket"],"resource":["{RES}/"],"condition":{{"string_equal":{{"cos:prefix":"docs/"}}}}}},
               {{"principal":"*","effect":"allow","action":["name/cos:PutObject"],"resource":["{RES}/inbox/*"]}}]}}"#
        ),
    )
    .await;
    let list = app.send(R::get("").q("prefix", "docs/").anonymous()).await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert!(list.text().contains("<Key>docs/a</Key>"));
    app.send(R::get("").q("prefix", "other/").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    let put = app.send(R::put("inbox/drop", "x").anonymous()).await;
    assert_eq!(put.status, 200, "{}", put.text());
    app.send(R::put("elsewhere", "x").anonymous())
        .await
        .assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn sdk_vectors_round_trip() {
    let app = app().await;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cos/bucket_config_vectors.json"
    ))
    .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut puts = 0;
    for v in doc["vectors"].as_array().unwrap() {
        let target = v["target"].as_str().unwrap();
        if !target.contains("?policy") {
            continue;
        }
        let method: Method = v["method"].as_str().unwrap().parse().unwrap();
        let mut r = R::new(method.clone(), "").q("policy", "");
        for h in v["headers"].as_array().unwrap() {
            let (name, value) = (h[0].as_str().unwrap(), h[1].as_str().unwrap());
            if ["content-md5", "content-type"].contains(&name.to_ascii_lowercase().as_str()) {
                r = r.h(name, value);
            }
        }
        if let Some(body) = v["body_text"].as_str() {
            r = r.with_body(body);
        }
        let resp = app.send(r).await;
        let name = v["name"].as_str().unwrap();
        match method {
            Method::PUT => {
                puts += 1;
                assert_eq!(resp.status, 204, "{name}: {}", resp.text());
                let sent: serde_json::Value =
                    serde_json::from_str(v["body_text"].as_str().unwrap()).unwrap();
                let got = app.send(R::get("").q("policy", "")).await;
                let got: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
                let statement = sent.get("Statement").or(sent.get("statement")).unwrap();
                assert_eq!(&got["Statement"], statement, "{name}");
                assert_eq!(got["version"], "2.0", "{name}");
            }
            Method::GET => assert_eq!(resp.status, 200, "{name}: {}", resp.text()),
            _ => {
                assert_eq!(resp.status, 204, "{name}");
                app.send(R::get("").q("policy", ""))
                    .await
                    .assert_error(404, "NoSuchPolicy");
                // The next PUT vector needs a policy to GET.
            }
        }
        if method == Method::DELETE {
            // Put one back for the following vectors' GETs.
            set_policy(&app, &public_read("p/")).await;
        }
    }
    assert_eq!(puts, 2, "a PUT vector per SDK");
}

// ---- the server-wide default CORS rule ----

fn cors_app_config(origins: &[&str]) -> Config {
    let args = ServeArgs {
        ephemeral: true,
        secret_id: Some(ID.into()),
        secret_key: Some(KEY.into()),
        cors_default_origins: origins.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let raw: RawConfig = toml::from_str("[cors]\ndefault_max_age_seconds = 120\n").unwrap();
    Config::from_parts(&args, raw).unwrap()
}

fn preflight(origin: &str, method: &str) -> R {
    R::new(Method::OPTIONS, "k")
        .anonymous()
        .h("origin", origin)
        .h("access-control-request-method", method)
        .h(
            "access-control-request-headers",
            "Content-Type, x-cos-meta-a",
        )
}

#[tokio::test]
async fn default_cors_rule_applies_to_buckets_without_rules() {
    let app = app_with(cors_app_config(&["http://localhost:*"])).await;
    let r = app.send(preflight("http://localhost:3000", "PUT")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET,PUT,POST,DELETE,HEAD")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("Content-Type, x-cos-meta-a")
    );
    assert_eq!(r.header("access-control-max-age"), Some("120"));
    // Another origin: refused as with bucket rules.
    app.send(preflight("https://evil.example.com", "GET"))
        .await
        .assert_error(403, "AccessForbidden");
    // Actual responses, errors included, carry the headers.
    app.put("k", b"v").await;
    let r = app
        .send(R::get("k").h("origin", "http://localhost:5173"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(r
        .header("access-control-expose-headers")
        .is_some_and(|h| h.contains("ETag")));
    let r = app
        .send(R::get("missing").h("origin", "http://localhost:5173"))
        .await;
    assert_eq!(r.status, 404);
    assert!(r.header("access-control-allow-origin").is_some());
    // A bucket's own rules replace the default.
    let put = app
        .send(R::new(Method::PUT, "").q("cors", "").with_body(
            "<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
        ))
        .await;
    assert_eq!(put.status, 200, "{}", put.text());
    app.send(preflight("http://localhost:3000", "GET"))
        .await
        .assert_error(403, "AccessForbidden");
    let r = app
        .send(
            R::new(Method::OPTIONS, "k")
                .anonymous()
                .h("origin", "https://app.example.com")
                .h("access-control-request-method", "GET"),
        )
        .await;
    assert_eq!(r.status, 200);
    // Deleted again: the default is back.
    app.send(R::new(Method::DELETE, "").q("cors", "")).await;
    assert_eq!(
        app.send(preflight("http://localhost:3000", "PUT"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn default_cors_rule_is_off_by_default_and_validated() {
    let app = app().await;
    app.send(preflight("http://localhost:3000", "GET"))
        .await
        .assert_error(403, "AccessForbidden");
    let r = app
        .send(R::get("").h("origin", "http://localhost:3000"))
        .await;
    assert!(r.header("access-control-allow-origin").is_none());
    // A bad rule stops start-up with a clear message.
    let args = ServeArgs {
        ephemeral: true,
        cors_default_origins: vec!["http://*.*.example.com".into()],
        ..Default::default()
    };
    let e = Config::from_parts(&args, RawConfig::default()).unwrap_err();
    assert!(e.0.contains("[cors]"), "{e}");
    let raw: RawConfig =
        toml::from_str("[cors]\ndefault_origins = [\"*\"]\ndefault_methods = [\"PATCH\"]\n")
            .unwrap();
    let e = Config::from_parts(
        &ServeArgs {
            ephemeral: true,
            ..Default::default()
        },
        raw,
    )
    .unwrap_err();
    assert!(e.0.contains("PATCH"), "{e}");
    let _ = HOST;
}
