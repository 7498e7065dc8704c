//! Per-bucket settings through the in-process pipeline: back-to-origin 302
//! for missing keys (redirect mode, never a fetch) and original image
//! protection with `ci-process=originImage` (spec cos.md §6).

use http::Method;
use localcos::config::{Config, RawConfig, ServeArgs};

use crate::common::{enc, presign, window, App, HOST, ID, KEY, R};

/// An app configured from TOML text, as `--config` would.
async fn app_from_toml(toml_text: &str, allow_private: bool) -> App {
    let args = ServeArgs {
        ephemeral: true,
        secret_id: Some(ID.into()),
        secret_key: Some(KEY.into()),
        buckets: vec!["examplebucket".into(), "plain".into()],
        origin_allow_private: allow_private,
        ..Default::default()
    };
    let raw: RawConfig = toml::from_str(toml_text).unwrap();
    let config = Config::from_parts(&args, raw).unwrap();
    App {
        svc: localcos::testing::app(config).await.unwrap(),
    }
}

const SETTINGS: &str = r#"
[bucket_settings.examplebucket]
origin = "https://203.0.113.9/static"
original_image_protection = ["jpg", ".PNG"]
"#;

#[tokio::test]
async fn missing_keys_redirect_to_the_origin() {
    let app = app_from_toml(SETTINGS, false).await;
    app.put("here.txt", b"local").await;

    let r = app.send(R::get("dir/a b+c.txt")).await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(
        r.header("location"),
        Some("https://203.0.113.9/static/dir/a%20b%2Bc.txt")
    );
    assert!(r.header("x-cos-request-id").is_some());
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length"), Some("0"));
    let head = app.send(R::new(Method::HEAD, "gone.txt")).await;
    assert_eq!(head.status, 302);
    assert_eq!(
        head.header("location"),
        Some("https://203.0.113.9/static/gone.txt")
    );

    // Keys cannot change the origin's scheme or host.
    for (key, want) in [
        ("/evil.com/x", "https://203.0.113.9/static//evil.com/x"),
        ("@evil.com", "https://203.0.113.9/static/%40evil.com"),
        (
            "http://evil.com/",
            "https://203.0.113.9/static/http%3A//evil.com/",
        ),
        ("a\\evil.com", "https://203.0.113.9/static/a%5Cevil.com"),
        ("q?x=1#f", "https://203.0.113.9/static/q%3Fx%3D1%23f"),
    ] {
        let r = app.send(R::get(key)).await;
        assert_eq!(r.status, 302, "{key}");
        assert_eq!(r.header("location"), Some(want), "{key}");
    }

    // Present keys are served; other errors are not redirected.
    let r = app.send(R::get("here.txt")).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"local"[..]));
    app.send(R::get("missing").q("versionId", "abc"))
        .await
        .assert_error(404, "NoSuchVersion");
    // A bucket without an origin keeps 404.
    app.send(R::get("nothing").host("plain-1250000000.cos.ap-guangzhou.myqcloud.com"))
        .await
        .assert_error(404, "NoSuchKey");
    // Only GET/HEAD redirect.
    let del = app.send(R::new(Method::DELETE, "nothing")).await;
    assert_eq!(del.status, 204);
}

#[tokio::test]
async fn original_image_protection() {
    let app = app_from_toml(SETTINGS, false).await;
    let jpeg = b"\xff\xd8\xff\xe0 not really a jpeg";
    app.put("pics/cat.jpg", jpeg).await;
    app.put("pics/dog.png", b"png bytes").await;
    app.put("pics/notes.txt", b"text").await;

    // A plain GET of a protected image is refused, signed or not.
    for key in ["pics/cat.jpg", "pics/dog.png"] {
        app.send(R::get(key))
            .await
            .assert_error(403, "AccessDenied");
        let anon = app.send(R::get(key).anonymous()).await;
        anon.assert_error(403, "AccessDenied");
    }
    // Signed ci-process=originImage returns the original with object headers.
    let r = app
        .send(R::get("pics/cat.jpg").q("ci-process", "originImage"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..], jpeg);
    assert_eq!(r.header("content-type"), Some("image/jpeg"));
    assert!(r.header("etag").is_some_and(|e| e.starts_with('"')));
    assert_eq!(
        r.header("content-length"),
        Some(jpeg.len().to_string().as_str())
    );
    // The same request anonymous → 403.
    let anon = app
        .send(
            R::get("pics/cat.jpg")
                .q("ci-process", "originImage")
                .anonymous(),
        )
        .await;
    assert_eq!(anon.status, 403, "{}", anon.text());
    // A pre-signed URL that signs ci-process (py_presign_ci_origin_image).
    let auth = crate::common::sign(
        "GET",
        "/pics/cat.jpg",
        &[("ci-process", "originImage")],
        &[("host", HOST)],
        window(),
    );
    let query: Vec<String> = auth
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            format!("{k}={}", enc(v))
        })
        .collect();
    let req = http::Request::get(format!(
        "/pics/cat.jpg?ci-process=originImage&{}",
        query.join("&")
    ))
    .header("host", HOST)
    .body(http_body_util::Full::new(bytes::Bytes::new()))
    .unwrap();
    let r = app.send_raw(req).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..], jpeg);
    // A pre-signed URL without the parameter: still a plain GET → 403.
    let plain = presign("GET", "/pics/cat.jpg", HOST, window());
    let req = http::Request::get(format!("/pics/cat.jpg?{plain}"))
        .header("host", HOST)
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    app.send_raw(req).await.assert_error(403, "AccessDenied");

    // Unprotected suffixes and HEAD are unaffected; other CI processes are not implemented.
    assert_eq!(app.send(R::get("pics/notes.txt")).await.status, 200);
    assert_eq!(
        app.send(R::new(Method::HEAD, "pics/cat.jpg")).await.status,
        200
    );
    app.send(R::get("pics/cat.jpg").q("ci-process", "imageInfo"))
        .await
        .assert_error(501, "NotImplemented");
    // originImage on an unprotected object is a plain GET.
    let r = app
        .send(R::get("pics/notes.txt").q("ci-process", "originImage"))
        .await;
    assert_eq!((r.status, &r.body[..]), (200, &b"text"[..]));
}

#[test]
fn origins_are_checked_at_start_up() {
    let load = |toml_text: &str, allow: bool| {
        let args = ServeArgs {
            ephemeral: true,
            secret_id: Some(ID.into()),
            secret_key: Some(KEY.into()),
            origin_allow_private: allow,
            ..Default::default()
        };
        Config::from_parts(&args, toml::from_str(toml_text).unwrap())
    };
    let local = "[bucket_settings.b]\norigin = \"http://127.0.0.1:8080/\"\n";
    let e = load(local, false).unwrap_err().to_string();
    assert!(e.contains("loopback"), "{e}");
    assert!(load(local, true).is_ok());
    for bad in [
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://[::1]/",
        "http://169.254.10.10/",
        "http://localhost:9000/",
    ] {
        let t = format!("[bucket_settings.b]\norigin = \"{bad}\"\n");
        assert!(load(&t, false).is_err(), "{bad}");
    }
    let meta = "[origin]\nallow_private = true\n[bucket_settings.b]\norigin = \"http://169.254.169.254/\"\n";
    assert!(load(meta, false)
        .unwrap_err()
        .to_string()
        .contains("metadata"));
    let ftp = "[bucket_settings.b]\norigin = \"ftp://203.0.113.9/\"\n";
    assert!(load(ftp, false).is_err());
}

/// On a public-read bucket anonymous reads are allowed, yet a protected
/// image stays refused to them, with or without `ci-process=originImage`.
#[tokio::test]
async fn original_image_protection_on_a_public_bucket() {
    let app = app_from_toml(SETTINGS, false).await;
    let acl = app
        .send(
            R::new(Method::PUT, "")
                .q("acl", "")
                .h("x-cos-acl", "public-read"),
        )
        .await;
    assert_eq!(acl.status, 200, "{}", acl.text());
    app.put("cat.jpg", b"jpeg").await;
    app.put("notes.txt", b"text").await;
    let open = app.send(R::get("notes.txt").anonymous()).await;
    assert_eq!(
        (open.status, &open.body[..]),
        (200, &b"text"[..]),
        "public-read works"
    );
    app.send(R::get("cat.jpg").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    app.send(R::get("cat.jpg").q("ci-process", "originImage").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    let signed = app
        .send(R::get("cat.jpg").q("ci-process", "originImage"))
        .await;
    assert_eq!((signed.status, &signed.body[..]), (200, &b"jpeg"[..]));
    // Anonymous GET of a missing key on a public bucket: the origin redirect.
    let r = app.send(R::get("elsewhere.txt").anonymous()).await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(
        r.header("location"),
        Some("https://203.0.113.9/static/elsewhere.txt")
    );
}
