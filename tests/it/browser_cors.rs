//! CORS details that browsers depend on beyond the rules themselves
//! (cos-bucket.md §1.3; the cos-js-sdk-v5 pages in
//! tests/clients/node/test/browser_sdk.test.mjs): `ResponseVary` must reach
//! every response of the bucket, or a browser reuses a cached plain answer
//! (an `<img>`'s) without `Access-Control-Allow-Origin` for a later CORS
//! fetch of the same URL.

use http::Method;

use crate::common::{app, R};

const APP: &str = "http://127.0.0.1:8080";

fn cors(vary: Option<&str>) -> String {
    format!(
        "<CORSConfiguration><CORSRule><AllowedOrigin>{APP}</AllowedOrigin>\
         <AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>\
         <AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader>\
         <ExposeHeader>ETag</ExposeHeader><ExposeHeader>x-cos-meta-color</ExposeHeader>\
         </CORSRule>{}</CORSConfiguration>",
        vary.map(|v| format!("<ResponseVary>{v}</ResponseVary>"))
            .unwrap_or_default()
    )
}

/// Request origin, method, key → expected status and Allow-Origin.
type Case = (
    Option<&'static str>,
    Method,
    &'static str,
    u16,
    Option<&'static str>,
);

fn varies(r: &crate::common::Resp) -> Vec<String> {
    r.headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn response_vary_reaches_every_response_of_the_bucket() {
    let app = app().await;
    let r = app
        .send(
            R::new(Method::PUT, "")
                .q("cors", "")
                .with_body(&cors(Some("true"))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    app.put("img.png", b"png").await;

    // (request origin, key, expected Allow-Origin): with Origin that matches,
    // one that does not, none at all; a hit, a miss, a HEAD.
    let cases: [Case; 6] = [
        (Some(APP), Method::GET, "img.png", 200, Some(APP)),
        (None, Method::GET, "img.png", 200, None),
        (
            Some("http://evil.example"),
            Method::GET,
            "img.png",
            200,
            None,
        ),
        (None, Method::GET, "missing.png", 404, None),
        (Some(APP), Method::GET, "missing.png", 404, Some(APP)),
        (None, Method::HEAD, "img.png", 200, None),
    ];
    for (origin, method, key, status, allow) in cases {
        let mut req = R::new(method.clone(), key);
        if let Some(o) = origin {
            req = req.h("origin", o);
        }
        let r = app.send(req).await;
        let what = format!("{method} {key} from {origin:?}");
        assert_eq!(r.status, status, "{what}");
        assert_eq!(
            varies(&r),
            vec!["Origin"],
            "{what}: exactly one Vary: Origin"
        );
        assert_eq!(r.header("access-control-allow-origin"), allow, "{what}");
    }
    // The preflight says it once too.
    let r = app
        .send(
            R::new(Method::OPTIONS, "img.png")
                .anonymous()
                .h("origin", APP)
                .h("access-control-request-method", "GET"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(varies(&r), vec!["Origin"]);

    // ResponseVary false or absent: no Vary anywhere.
    for vary in [Some("false"), None] {
        let r = app
            .send(R::new(Method::PUT, "").q("cors", "").with_body(&cors(vary)))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        for origin in [None, Some(APP)] {
            let mut req = R::get("img.png");
            if let Some(o) = origin {
                req = req.h("origin", o);
            }
            let r = app.send(req).await;
            assert!(
                varies(&r).is_empty(),
                "{vary:?} {origin:?}: {:?}",
                varies(&r)
            );
        }
    }
}

#[tokio::test]
async fn expose_headers_name_what_the_browser_sdk_reads() {
    let app = app().await;
    let r = app
        .send(R::new(Method::PUT, "").q("cors", "").with_body(&cors(None)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app
        .send(
            R::put("a.txt", "x")
                .h("x-cos-meta-color", "blue")
                .h("origin", APP),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(APP));
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("ETag,x-cos-meta-color")
    );
    let r = app
        .send(R::new(Method::HEAD, "a.txt").h("origin", APP))
        .await;
    assert_eq!(r.header("x-cos-meta-color"), Some("blue"));
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("ETag,x-cos-meta-color")
    );
    // A wildcard ExposeHeader is refused (names only, as COS's console says).
    let bad = "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>\
               <AllowedMethod>GET</AllowedMethod><ExposeHeader>*</ExposeHeader>\
               </CORSRule></CORSConfiguration>";
    app.send(R::new(Method::PUT, "").q("cors", "").with_body(bad))
        .await
        .assert_error(400, "InvalidArgument");
}

/// The README's "Browser apps" rule is accepted as written and lets a page
/// on its origin do what cos-js-sdk-v5 does.
#[tokio::test]
async fn readme_browser_rule_works() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("### Browser apps (cos-js-sdk-v5)")
        .nth(1)
        .expect("README section");
    let xml = section
        .split("```xml\n")
        .nth(1)
        .and_then(|s| s.split("\n```").next())
        .expect("xml block");
    let app = app().await;
    let r = app
        .send(R::new(Method::PUT, "").q("cors", "").with_body(xml))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let origin = "http://localhost:5173";
    let r = app
        .send(
            R::new(Method::OPTIONS, "dir/a.txt")
                .anonymous()
                .h("origin", origin)
                .h("access-control-request-method", "PUT")
                .h(
                    "access-control-request-headers",
                    "authorization,content-md5,content-type,x-cos-meta-color,x-cos-sdk-retry",
                ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some(origin));
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap()
        .to_string();
    for h in [
        "ETag",
        "Content-Length",
        "x-cos-request-id",
        "x-cos-version-id",
        "Date",
    ] {
        assert!(exposed.split(',').any(|e| e == h), "{h} in {exposed}");
    }
    let r = app.send(R::put("dir/a.txt", "x").h("origin", origin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some(exposed.as_str())
    );
    assert_eq!(varies(&r), vec!["Origin"]);
}
