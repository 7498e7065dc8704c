//! The web console's static files at `/-/console/` (service hosts only).

use crate::common::*;

#[tokio::test]
async fn console_is_served_on_service_hosts_only() {
    let app = app().await;
    for host in [
        "127.0.0.1:9000",
        "localhost:9000",
        "service.cos.myqcloud.com",
    ] {
        let r = app
            .send(R::get("x").anonymous().host(host).raw_path("/-/console/"))
            .await;
        assert_eq!(r.status, 200, "{host}");
        assert_eq!(
            r.header("content-type").unwrap(),
            "text/html; charset=utf-8"
        );
        assert!(String::from_utf8_lossy(&r.body).contains("console.js"));
        assert!(r.header("content-security-policy").is_some());
    }
    let r = app
        .send(
            R::get("x")
                .anonymous()
                .host("127.0.0.1:9000")
                .raw_path("/-/console"),
        )
        .await;
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location").unwrap(), "/-/console/");
    let r = app
        .send(
            R::get("x")
                .anonymous()
                .host("127.0.0.1:9000")
                .raw_path("/-/console/console.js"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").unwrap(),
        "text/javascript; charset=utf-8"
    );
    app.send(
        R::get("x")
            .anonymous()
            .host("127.0.0.1:9000")
            .raw_path("/-/console/missing.js"),
    )
    .await
    .assert_error(404, "NoSuchResource");
    // On a bucket host the same path is an object key.
    app.send(R::get("-/console/"))
        .await
        .assert_error(404, "NoSuchKey");
}

#[tokio::test]
async fn every_console_file_is_served_with_its_type() {
    let app = app().await;
    for (file, ty) in [
        ("index.html", "text/html; charset=utf-8"),
        ("console.js", "text/javascript; charset=utf-8"),
        ("console.css", "text/css; charset=utf-8"),
        ("sha1.js", "text/javascript; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let r = app
            .send(
                R::get("x")
                    .anonymous()
                    .host("127.0.0.1:9000")
                    .raw_path(&format!("/-/console/{file}")),
            )
            .await;
        assert_eq!(r.status, 200, "{file}");
        assert_eq!(r.header("content-type").unwrap(), ty, "{file}");
        assert_eq!(r.header("x-content-type-options").unwrap(), "nosniff");
        assert!(!r.body.is_empty(), "{file}");
    }
    // The page's own files never need more than same-origin scripts and styles.
    let r = app
        .send(
            R::get("x")
                .anonymous()
                .host("127.0.0.1:9000")
                .raw_path("/-/console/"),
        )
        .await;
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
}
