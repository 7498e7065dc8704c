//! Bad input gets the right COS XML error, never a panic or a 500 (spec cos.md
//! §4.5–4.6, NOTES 2 and 3).

use http::Method;

use crate::common::{app, enc, sign, sign_with, window, HOST, ID, R};

#[tokio::test]
async fn anonymous_is_refused() {
    let app = app().await;
    app.put("k", b"x").await;
    app.send(R::get("k").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    app.send(R::new(Method::PUT, "k").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    // Python's `Authorization: ""` means anonymous too.
    app.send(R::get("k").anonymous().h("authorization", ""))
        .await
        .assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn signature_failures() {
    let app = app().await;
    app.put("k", b"x").await;
    // Tampered: signed for another key.
    let auth = sign("get", "/other", &[], &[("host", HOST)], window());
    app.send(R::get("k").anonymous().h("authorization", &auth))
        .await
        .assert_error(403, "SignatureDoesNotMatch");
    // Expired.
    let auth = sign("get", "/k", &[], &[("host", HOST)], (1_000_000, 1_000_100));
    let r = app
        .send(R::get("k").anonymous().h("authorization", &auth))
        .await;
    r.assert_error(403, "AccessDenied");
    assert!(
        r.text().contains("<Message>Request has expired</Message>"),
        "{}",
        r.text()
    );
    // Not yet valid, far beyond the leeway.
    let far = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 86_400;
    let auth = sign("get", "/k", &[], &[("host", HOST)], (far, far + 60));
    app.send(R::get("k").anonymous().h("authorization", &auth))
        .await
        .assert_error(403, "RequestTimeTooSkewed");
    // Unknown SecretId.
    let auth = sign_with(
        "AKIDnobody",
        "x",
        "get",
        "/k",
        &[],
        &[("host", HOST)],
        window(),
    );
    app.send(R::get("k").anonymous().h("authorization", &auth))
        .await
        .assert_error(403, "InvalidAccessKeyId");
    // Garbage.
    app.send(
        R::get("k")
            .anonymous()
            .h("authorization", "q-sign-algorithm=md5&garbage"),
    )
    .await
    .assert_error(403, "AccessDenied");
    app.send(R::get("k").anonymous().h("authorization", "Bearer xyz"))
        .await
        .assert_error(403, "AccessDenied");
    // A listed header missing from the request: AccessDenied (negative vector neg_signed_header_removed).
    let auth = sign(
        "get",
        "/k",
        &[],
        &[("host", HOST), ("range", "bytes=0-0")],
        window(),
    );
    app.send(R::get("k").anonymous().h("authorization", &auth))
        .await
        .assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn presigned_urls() {
    let app = app().await;
    app.put("p q.txt", b"presigned").await;
    let qs = crate::common::presign("get", "/p q.txt", HOST, window());
    let r = app
        .send(
            R::get("p q.txt")
                .anonymous()
                .raw_path(&format!("/p%20q.txt?{qs}")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "presigned");
    let bad = qs.replace("q-signature=", "q-signature=0");
    app.send(
        R::get("x")
            .anonymous()
            .raw_path(&format!("/p%20q.txt?{bad}")),
    )
    .await
    .assert_error(403, "SignatureDoesNotMatch");
    let expired = crate::common::presign("get", "/p q.txt", HOST, (1_000_000, 1_000_100));
    let r = app
        .send(
            R::get("x")
                .anonymous()
                .raw_path(&format!("/p%20q.txt?{expired}")),
        )
        .await;
    r.assert_error(403, "AccessDenied");
    assert!(r.text().contains("Request has expired"));
    let _ = (enc("x"), ID);
}

#[tokio::test]
async fn bad_names_and_keys() {
    let app = app().await;
    let long = "k".repeat(851);
    app.send(R::put(&long, b"x".to_vec()))
        .await
        .assert_error(400, "KeyTooLong");
    app.send(R::put("x", b"x".to_vec()).raw_path("/a%00b"))
        .await
        .assert_error(400, "InvalidObjectName");
    app.send(
        R::get("x")
            .host("127.0.0.1:9000")
            .raw_path("/../etc/passwd"),
    )
    .await
    .assert_error(400, "InvalidBucketName");
    app.send(R::get("x").host("127.0.0.1:9000").raw_path("/./x"))
        .await
        .assert_error(400, "InvalidBucketName");
    app.send(R::get("x").raw_path("/%FF%FE"))
        .await
        .assert_error(400, "InvalidURI");
    // `..` keys are just keys that do not exist.
    app.send(R::get("../../etc/passwd"))
        .await
        .assert_error(404, "NoSuchKey");
}

#[tokio::test]
async fn huge_headers_get_xml() {
    let app = app().await;
    let big = "v".repeat(70 * 1024);
    app.send(R::get("k").h("x-cos-meta-big", &big))
        .await
        .assert_error(400, "RequestHeaderSectionTooLarge");
}

#[tokio::test]
async fn unsupported_and_reserved() {
    let app = app().await;
    app.send(R::get("").q("select", ""))
        .await
        .assert_error(501, "NotImplemented");
    app.send(R::new(Method::PATCH, "k"))
        .await
        .assert_error(405, "MethodNotAllowed");
    app.send(R::get("x").host("127.0.0.1:9000").raw_path("/-/nothing"))
        .await
        .assert_error(404, "NoSuchResource");
    let r = app
        .send(
            R::get("x")
                .anonymous()
                .host("127.0.0.1:9000")
                .raw_path("/-/health/live"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("x-cos-request-id").is_some());
    assert_eq!(
        app.send(
            R::get("x")
                .anonymous()
                .host("localcos-1:9000")
                .raw_path("/-/health/ready")
        )
        .await
        .status,
        200
    );
    app.send(
        R::get("x")
            .raw_path("/")
            .host("nobucket-1250000000.cos.ap-guangzhou.myqcloud.com"),
    )
    .await
    .assert_error(404, "NoSuchBucket");
    app.send(R::get("missing"))
        .await
        .assert_error(404, "NoSuchKey");
    app.send(R::get("k").q("versionId", "abc"))
        .await
        .assert_error(404, "NoSuchVersion");
    app.send(R::new(Method::PUT, "k").h("content-length", "x"))
        .await
        .assert_error(400, "InvalidArgument");
    app.send(R::put("k", b"x".to_vec()).h("x-cos-storage-class", "GOLD"))
        .await
        .assert_error(400, "InvalidArgument");
}

#[tokio::test]
async fn temporary_credentials_need_their_token() {
    let raw: localcos::config::RawConfig = toml::from_str(
        r#"
        buckets = ["examplebucket"]
        [[temporary_credentials]]
        secret_id = "AKIDtemp"
        secret_key = "tempkey"
        token = "session-token-1"
        [[temporary_credentials]]
        secret_id = "AKIDold"
        secret_key = "oldkey"
        token = "session-token-2"
        expires = "2001-01-01T00:00:00Z"
        "#,
    )
    .unwrap();
    let args = localcos::config::ServeArgs {
        ephemeral: true,
        secret_id: Some(ID.into()),
        secret_key: Some(crate::common::KEY.into()),
        ..Default::default()
    };
    let config = localcos::config::Config::from_parts(&args, raw).unwrap();
    let app = crate::common::App {
        svc: localcos::testing::app(config).await.unwrap(),
    };
    app.put("k", b"temp").await;
    let get = |id: &str, key: &str, token: Option<&str>| {
        let mut headers = vec![("host", HOST)];
        if let Some(t) = token {
            headers.push(("x-cos-security-token", t));
        }
        let auth = sign_with(id, key, "get", "/k", &[], &headers, window());
        let mut r = R::get("k").anonymous().h("authorization", &auth);
        if let Some(t) = token {
            r = r.h("x-cos-security-token", t);
        }
        r
    };
    let ok = app
        .send(get("AKIDtemp", "tempkey", Some("session-token-1")))
        .await;
    assert_eq!((ok.status, ok.text().as_str()), (200, "temp"));
    app.send(get("AKIDtemp", "tempkey", None))
        .await
        .assert_error(403, "InvalidAccessKeyId");
    app.send(get("AKIDtemp", "tempkey", Some("wrong")))
        .await
        .assert_error(403, "InvalidAccessKeyId");
    app.send(get("AKIDold", "oldkey", Some("session-token-2")))
        .await
        .assert_error(400, "ExpiredToken");
}
