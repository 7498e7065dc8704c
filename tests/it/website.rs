//! Static website endpoint and custom domains (spec cos-bucket.md §5, §10):
//! index and error documents with their statuses, routing-rule and
//! redirect-all redirects, ACLs still applying, the normal endpoint
//! unaffected, and `?domain` rules routing a Host to their bucket.

use http::Method;

use crate::common::{app, app_with, App, Resp, R};

const SITE: &str = "examplebucket-1250000000.cos-website.ap-guangzhou.myqcloud.com";

/// An anonymous request to the website endpoint.
fn web(method: Method, path: &str) -> R {
    R::new(method, "").raw_path(path).host(SITE).anonymous()
}

async fn put_website(app: &App, body: &str) {
    let r = app
        .send(R::new(Method::PUT, "").q("website", "").with_body(body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

async fn put_html(app: &App, key: &str, body: &str) {
    let r = app
        .send(R::put(key, body.to_string()).h("content-type", "text/html"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

async fn public(app: &App) {
    let r = app
        .send(
            R::new(Method::PUT, "")
                .q("acl", "")
                .h("x-cos-acl", "public-read"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

fn assert_html(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains(&format!("Code: {code}")), "{}", r.text());
    assert!(r.header("x-cos-request-id").is_some());
}

const INDEX_AND_ERROR: &str = "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>error.html</Key></ErrorDocument><AutoAddressing><Status>Enabled</Status></AutoAddressing></WebsiteConfiguration>";

#[tokio::test]
async fn index_error_document_and_methods() {
    let app = app().await;
    // Nothing configured: the website endpoint says so, in HTML.
    assert_html(
        &app.send(web(Method::GET, "/")).await,
        404,
        "NoSuchWebsiteConfiguration",
    );
    public(&app).await;
    put_website(&app, INDEX_AND_ERROR).await;
    put_html(&app, "index.html", "<h1>home</h1>").await;
    put_html(&app, "dir/index.html", "<h1>dir</h1>").await;
    put_html(&app, "error.html", "<h1>oops</h1>").await;
    put_html(&app, "page.html", "<h1>page</h1>").await;

    let r = app.send(web(Method::GET, "/")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "<h1>home</h1>");
    assert_eq!(r.header("content-type"), Some("text/html"));
    let r = app.send(web(Method::GET, "/dir/")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>dir</h1>"));
    let r = app.send(web(Method::GET, "/page.html")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>page</h1>"));
    // Range and conditional headers work as on GET Object.
    let r = app
        .send(web(Method::GET, "/page.html").h("range", "bytes=4-7"))
        .await;
    assert_eq!((r.status, r.text().as_str()), (206, "page"));
    let etag = r.header("etag").unwrap().to_string();
    let r = app
        .send(web(Method::GET, "/page.html").h("if-none-match", &etag))
        .await;
    assert_eq!(r.status, 304);
    let r = app.send(web(Method::HEAD, "/dir/")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("12"));
    assert!(r.body.is_empty());
    // AutoAddressing: `dir` (no object) → 302 to `dir/`.
    let r = app.send(web(Method::GET, "/dir")).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/dir/"));
    // Missing key: the error document with the original status.
    let r = app.send(web(Method::GET, "/nope.html")).await;
    assert_eq!((r.status, r.text().as_str()), (404, "<h1>oops</h1>"));
    let r = app.send(web(Method::GET, "/nodir/")).await;
    assert_eq!((r.status, r.text().as_str()), (404, "<h1>oops</h1>"));
    // Other methods: 405, even signed.
    for m in [Method::PUT, Method::DELETE, Method::POST] {
        assert_html(
            &app.send(web(m.clone(), "/page.html")).await,
            405,
            "MethodNotAllowed",
        );
    }
    let r = app
        .send(R::put("", "x").raw_path("/page.html").host(SITE))
        .await;
    assert_eq!(r.status, 405);
    // ACLs still apply: a private object → 403 with the error document.
    let r = app
        .send(R::put("secret.html", "s").h("x-cos-acl", "private"))
        .await;
    assert_eq!(r.status, 200);
    let r = app.send(web(Method::GET, "/secret.html")).await;
    assert_eq!((r.status, r.text().as_str()), (403, "<h1>oops</h1>"));

    // The normal endpoint is unaffected: `/` is still GET Bucket (XML),
    // a missing key an XML NoSuchKey.
    let r = app.send(R::get("")).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<ListBucketResult>"), "{}", r.text());
    app.send(R::get("nope.html"))
        .await
        .assert_error(404, "NoSuchKey");
    // And the website configuration is not served on it either.
    app.send(R::get("dir/"))
        .await
        .assert_error(404, "NoSuchKey");

    // OriginalHttpStatus Disabled: the error page with 200.
    put_website(&app, "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument><ErrorDocument><Key>error.html</Key><OriginalHttpStatus>Disabled</OriginalHttpStatus></ErrorDocument></WebsiteConfiguration>").await;
    let r = app.send(web(Method::GET, "/nope.html")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>oops</h1>"));
    // No AutoAddressing: `dir` is just a missing key.
    let r = app.send(web(Method::GET, "/dir")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "<h1>oops</h1>"));

    // No error document: an HTML 404 (not XML).
    put_website(
        &app,
        "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument></WebsiteConfiguration>",
    )
    .await;
    assert_html(
        &app.send(web(Method::GET, "/nope.html")).await,
        404,
        "NoSuchKey",
    );
    assert_html(
        &app.send(web(Method::GET, "/secret.html")).await,
        403,
        "AccessDenied",
    );
    let r = app.send(web(Method::HEAD, "/nope.html")).await;
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());

    // DELETE ?website: the endpoint stops serving.
    let r = app.send(R::new(Method::DELETE, "").q("website", "")).await;
    assert_eq!(r.status, 204);
    assert_html(
        &app.send(web(Method::GET, "/")).await,
        404,
        "NoSuchWebsiteConfiguration",
    );
}

#[tokio::test]
async fn private_bucket_is_refused() {
    let app = app().await;
    put_website(&app, INDEX_AND_ERROR).await;
    put_html(&app, "index.html", "home").await;
    assert_html(&app.send(web(Method::GET, "/")).await, 403, "AccessDenied");
    // A public-read object in a private bucket is served.
    let r = app
        .send(R::put("open.html", "open").h("x-cos-acl", "public-read"))
        .await;
    assert_eq!(r.status, 200);
    let r = app.send(web(Method::GET, "/open.html")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "open"));
}

#[tokio::test]
async fn routing_rules_redirect_and_rewrite() {
    let app = app().await;
    public(&app).await;
    put_website(&app, "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument><RoutingRules><RoutingRule><Condition><HttpErrorCodeReturnedEquals>404</HttpErrorCodeReturnedEquals></Condition><Redirect><Protocol>https</Protocol><ReplaceKeyWith>404.html</ReplaceKeyWith></Redirect></RoutingRule><RoutingRule><Condition><KeyPrefixEquals>docs/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith>documents/</ReplaceKeyPrefixWith><URLRedirect>Enabled</URLRedirect></Redirect></RoutingRule><RoutingRule><Condition><KeyPrefixEquals>old/</KeyPrefixEquals></Condition><Redirect><ReplaceKeyPrefixWith>new/</ReplaceKeyPrefixWith><URLRedirect>Disabled</URLRedirect></Redirect></RoutingRule><RoutingRule><Condition><KeyPrefixEquals>moved/</KeyPrefixEquals></Condition><Redirect><HostName>www.example.com</HostName><HttpRedirectCode>301</HttpRedirectCode><ReplaceKeyWith>here.html</ReplaceKeyWith></Redirect></RoutingRule></RoutingRules></WebsiteConfiguration>").await;
    put_html(&app, "documents/a.html", "doc a").await;
    put_html(&app, "new/b.html", "new b").await;

    // Prefix rule: 302 to the rewritten key on the same host.
    let r = app.send(web(Method::GET, "/docs/a.html")).await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(
        r.header("location"),
        Some(format!("http://{SITE}/documents/a.html").as_str())
    );
    // URLRedirect Disabled: served in place.
    let r = app.send(web(Method::GET, "/old/b.html")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "new b"));
    // Host name and status from the rule.
    let r = app.send(web(Method::GET, "/moved/x")).await;
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some("http://www.example.com/here.html")
    );
    // Error-code rule: a missing key → https redirect to 404.html.
    let r = app.send(web(Method::GET, "/missing.html")).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location"),
        Some(format!("https://{SITE}/404.html").as_str())
    );
    // An existing key is served; the rules do not touch it.
    let r = app.send(web(Method::GET, "/documents/a.html")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "doc a"));
}

#[tokio::test]
async fn redirect_all_requests() {
    let app = app().await;
    public(&app).await;
    put_website(&app, "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument><RedirectAllRequestsTo><Protocol>https</Protocol></RedirectAllRequestsTo></WebsiteConfiguration>").await;
    put_html(&app, "index.html", "home").await;
    let r = app.send(web(Method::GET, "/a/b.html?x=1")).await;
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some(format!("https://{SITE}/a/b.html?x=1").as_str())
    );
    // Already https (behind a TLS proxy): served.
    let r = app
        .send(web(Method::GET, "/").h("x-forwarded-proto", "https"))
        .await;
    assert_eq!((r.status, r.text().as_str()), (200, "home"));
}

#[tokio::test]
async fn website_host_under_base_domain() {
    let mut config = localcos::config::Config::for_tests(crate::common::ID, crate::common::KEY);
    config.addressing.base_domains.push("cos.local".into());
    let app = app_with(config).await;
    public(&app).await;
    put_website(&app, INDEX_AND_ERROR).await;
    put_html(&app, "index.html", "home").await;
    for host in [
        "examplebucket-1250000000.cos-website.ap-guangzhou.cos.local:9000",
        "examplebucket.cos-website.cos.local",
    ] {
        let r = app.send(R::get("").host(host).anonymous()).await;
        assert_eq!((r.status, r.text().as_str()), (200, "home"), "{host}");
    }
    // The REST host under the base domain is still the API.
    let r = app
        .send(R::get("").host("examplebucket-1250000000.cos.local"))
        .await;
    assert!(r.text().contains("<ListBucketResult>"), "{}", r.text());
}

#[tokio::test]
async fn custom_domains_route_to_their_bucket() {
    let app = app().await;
    public(&app).await;
    put_website(&app, INDEX_AND_ERROR).await;
    put_html(&app, "index.html", "home").await;
    put_html(&app, "a.txt", "alpha").await;
    let r = app
        .send(R::new(Method::PUT, "").q("domain", "").with_body(
            "<DomainConfiguration><DomainRule><Status>ENABLED</Status><Name>files.example.test</Name><Type>REST</Type></DomainRule><DomainRule><Status>ENABLED</Status><Name>www.example.test</Name><Type>WEBSITE</Type></DomainRule><DomainRule><Status>DISABLED</Status><Name>off.example.test</Name><Type>REST</Type></DomainRule></DomainConfiguration>",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // REST: the normal API, signed, on the custom host.
    let r = app.send(R::get("a.txt").host("files.example.test")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "alpha"));
    let r = app.send(R::get("").host("files.example.test:8080")).await;
    assert!(r.text().contains("<ListBucketResult>"), "{}", r.text());
    // WEBSITE: website semantics.
    let r = app
        .send(R::get("").host("www.example.test").anonymous())
        .await;
    assert_eq!((r.status, r.text().as_str()), (200, "home"));
    let r = app
        .send(R::get("zzz").host("www.example.test").anonymous())
        .await;
    assert_eq!(r.status, 404);
    // DISABLED: not routed (a bare host: path style, `/a.txt` is a bucket).
    let r = app.send(R::get("a.txt").host("off.example.test")).await;
    assert_ne!(r.text(), "alpha");

    // Another bucket cannot take a bound name.
    let other = "other-1250000000.cos.ap-guangzhou.myqcloud.com";
    let r = app.send(R::new(Method::PUT, "").host(other)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    app.send(
        R::new(Method::PUT, "").host(other).q("domain", "").with_body(
            "<DomainConfiguration><DomainRule><Status>ENABLED</Status><Name>FILES.example.test</Name><Type>REST</Type></DomainRule></DomainConfiguration>",
        ),
    )
    .await
    .assert_error(409, "RecordAlreadyExist");

    // After DELETE the host no longer routes.
    let r = app.send(R::new(Method::DELETE, "").q("domain", "")).await;
    assert_eq!(r.status, 204);
    let r = app.send(R::get("a.txt").host("files.example.test")).await;
    assert_ne!(r.text(), "alpha");
    // Now the other bucket may bind it.
    let r = app
        .send(
            R::new(Method::PUT, "").host(other).q("domain", "").with_body(
                "<DomainConfiguration><DomainRule><Status>ENABLED</Status><Name>files.example.test</Name><Type>REST</Type></DomainRule></DomainConfiguration>",
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app
        .send(R::put("b.txt", "bravo").host("files.example.test"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.send(R::get("b.txt").host(other)).await;
    assert_eq!((r.status, r.text().as_str()), (200, "bravo"));
}

#[tokio::test]
async fn cors_preflight_and_referer_on_the_website_endpoint() {
    let app = app().await;
    public(&app).await;
    put_website(&app, INDEX_AND_ERROR).await;
    put_html(&app, "index.html", "home").await;
    let r = app
        .send(R::new(Method::PUT, "").q("cors", "").with_body(
            "<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app
        .send(
            web(Method::OPTIONS, "/index.html")
                .h("origin", "https://app.example.com")
                .h("access-control-request-method", "GET"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let r = app
        .send(web(Method::GET, "/").h("origin", "https://app.example.com"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    // Hotlink protection applies to website reads (they are anonymous).
    let r = app
        .send(R::new(Method::PUT, "").q("referer", "").with_body(
            "<RefererConfiguration><Status>Enabled</Status><RefererType>White-List</RefererType><DomainList><Domain>*.example.com</Domain></DomainList></RefererConfiguration>",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ok = app
        .send(web(Method::GET, "/").h("referer", "https://www.example.com/"))
        .await;
    assert_eq!((ok.status, ok.text().as_str()), (200, "home"));
    let r = app
        .send(web(Method::GET, "/").h("referer", "https://leech.test/"))
        .await;
    assert_eq!(r.status, 403);
}
