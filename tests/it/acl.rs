//! ACLs and authorization in-process: `?acl` on buckets and objects,
//! `x-cos-acl` on PUT Bucket / PUT Object / Copy, anonymous access by ACL,
//! scoped and temporary credentials (spec cos.md §3.4, §4.4, §6A.10, §6A.11).

use http::Method;
use localcos::config::{Config, RawConfig, ServeArgs};

use crate::common::{app, app_with, App, HOST, ID, KEY, R};

const ALL_USERS: &str = "<URI>http://cam.qcloud.com/groups/global/AllUsers</URI>";

fn bucket(method: Method) -> R {
    R::new(method, "")
}

fn bucket_acl(method: Method) -> R {
    bucket(method).q("acl", "")
}

fn object_acl(method: Method, key: &str) -> R {
    R::new(method, key).q("acl", "")
}

async fn set_bucket_acl(app: &App, canned: &str) {
    let r = app
        .send(bucket_acl(Method::PUT).h("x-cos-acl", canned))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn bucket_acl_defaults_to_private() {
    let app = app().await;
    let r = app.send(bucket_acl(Method::GET)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-cos-acl"), Some("private"));
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert_eq!(
        r.text(),
        "<?xml version='1.0' encoding='utf-8' ?>\n<AccessControlPolicy><Owner><ID>qcs::cam::uin/1250000000:uin/1250000000</ID><DisplayName>1250000000</DisplayName></Owner><AccessControlList><Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>qcs::cam::uin/1250000000:uin/1250000000</ID><DisplayName>qcs::cam::uin/1250000000:uin/1250000000</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>"
    );
}

#[tokio::test]
async fn anonymous_reads_follow_the_bucket_acl() {
    let app = app().await;
    app.put("pub.txt", b"public bytes").await;
    // Private: every anonymous call is refused.
    for r in [
        R::get("pub.txt").anonymous(),
        R::new(Method::HEAD, "pub.txt").anonymous(),
        bucket(Method::GET).anonymous(),
    ] {
        let method = r.method.clone();
        let resp = app.send(r).await;
        assert_eq!(resp.status, 403, "{method}");
        if method != Method::HEAD {
            resp.assert_error(403, "AccessDenied");
        }
    }

    set_bucket_acl(&app, "public-read").await;
    let r = app.send(R::get("pub.txt").anonymous()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(&r.body[..], b"public bytes");
    let r = app.send(R::new(Method::HEAD, "pub.txt").anonymous()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("12"));
    let r = app.send(bucket(Method::GET).anonymous()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("<Key>pub.txt</Key>"));
    let r = app.send(bucket(Method::HEAD).anonymous()).await;
    assert_eq!(r.status, 200);
    // A missing key in a public bucket is a plain 404.
    app.send(R::get("nope").anonymous())
        .await
        .assert_error(404, "NoSuchKey");
    // Ranges and conditionals work anonymously too.
    let r = app
        .send(R::get("pub.txt").anonymous().h("range", "bytes=0-5"))
        .await;
    assert_eq!(r.status, 206);
    assert_eq!(&r.body[..], b"public");

    // Reading is not writing, nor reading the ACL.
    app.send(R::put("new.txt", "x").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    app.send(R::new(Method::DELETE, "pub.txt").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    app.send(bucket_acl(Method::GET).anonymous())
        .await
        .assert_error(403, "AccessDenied");
    app.send(
        bucket_acl(Method::PUT)
            .anonymous()
            .h("x-cos-acl", "public-read-write"),
    )
    .await
    .assert_error(403, "AccessDenied");
    // Never anonymous: the service listing and bucket deletion.
    app.send(
        R::new(Method::GET, "")
            .host("service.cos.myqcloud.com")
            .anonymous(),
    )
    .await
    .assert_error(403, "AccessDenied");
    app.send(bucket(Method::DELETE).anonymous())
        .await
        .assert_error(403, "AccessDenied");
}

#[tokio::test]
async fn anonymous_response_params_are_refused() {
    let app = app().await;
    app.put("pub.txt", b"x").await;
    set_bucket_acl(&app, "public-read").await;
    for param in [
        "response-content-type",
        "response-content-disposition",
        "response-cache-control",
    ] {
        app.send(R::get("pub.txt").anonymous().q(param, "inline"))
            .await
            .assert_error(403, "AccessDenied");
    }
    // Signed requests keep them.
    let r = app
        .send(R::get("pub.txt").q("response-content-disposition", "inline"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-disposition"), Some("inline"));
}

#[tokio::test]
async fn public_read_write_allows_anonymous_writes() {
    let app = app().await;
    set_bucket_acl(&app, "public-read-write").await;
    let r = app
        .send(R::put("anon.txt", "from nobody").anonymous())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.send(R::get("anon.txt")).await;
    assert_eq!(&r.body[..], b"from nobody");
    let r = app
        .send(R::new(Method::DELETE, "anon.txt").anonymous())
        .await;
    assert_eq!(r.status, 204);
    // Still not the ACL, nor the bucket itself.
    app.send(
        bucket_acl(Method::PUT)
            .anonymous()
            .h("x-cos-acl", "private"),
    )
    .await
    .assert_error(403, "AccessDenied");
    app.send(bucket(Method::DELETE).anonymous())
        .await
        .assert_error(403, "AccessDenied");
    let r = app.send(bucket_acl(Method::GET)).await;
    assert_eq!(r.header("x-cos-acl"), Some("public-read-write"));
    assert!(r.text().contains(&format!(
        "{ALL_USERS}</Grantee><Permission>READ</Permission>"
    )));
    assert!(r.text().contains(&format!(
        "{ALL_USERS}</Grantee><Permission>WRITE</Permission>"
    )));
}

#[tokio::test]
async fn object_acl_overrides_bucket_and_default_inherits() {
    let app = app().await;
    app.put("a", b"a").await;
    let r = app.send(object_acl(Method::GET, "a")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-cos-acl"), Some("default"));

    // Public object in a private bucket.
    let r = app
        .send(object_acl(Method::PUT, "a").h("x-cos-acl", "public-read"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.send(R::get("a").anonymous()).await.status, 200);
    let r = app.send(object_acl(Method::GET, "a")).await;
    assert_eq!(r.header("x-cos-acl"), Some("public-read"));
    assert!(r.text().contains(ALL_USERS));

    // Private object in a public bucket.
    set_bucket_acl(&app, "public-read").await;
    app.put("b", b"b").await;
    assert_eq!(app.send(R::get("b").anonymous()).await.status, 200);
    app.send(object_acl(Method::PUT, "b").h("x-cos-acl", "private"))
        .await;
    app.send(R::get("b").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    // Back to default: the bucket decides again.
    app.send(object_acl(Method::PUT, "b").h("x-cos-acl", "default"))
        .await;
    assert_eq!(app.send(R::get("b").anonymous()).await.status, 200);
    // An ACL change leaves bytes and metadata alone.
    let r = app.send(R::get("b")).await;
    assert_eq!(&r.body[..], b"b");
}

#[tokio::test]
async fn put_object_and_copy_take_acl_headers() {
    let app = app().await;
    let r = app
        .send(R::put("p", "payload").h("x-cos-acl", "public-read"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.send(R::get("p").anonymous()).await.status, 200);
    app.send(R::put("bad", "x").h("x-cos-acl", "public"))
        .await
        .assert_error(400, "InvalidArgument");
    assert_eq!(app.send(R::get("bad")).await.status, 404);

    // A copy does not inherit the source's ACL; its own header applies.
    let src = format!("{HOST}/p");
    let r = app
        .send(R::put("c1", Vec::new()).h("x-cos-copy-source", &src))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    app.send(R::get("c1").anonymous())
        .await
        .assert_error(403, "AccessDenied");
    let r = app
        .send(
            R::put("c2", Vec::new())
                .h("x-cos-copy-source", &src)
                .h("x-cos-acl", "public-read"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.send(R::get("c2").anonymous()).await.status, 200);
}

#[tokio::test]
async fn create_bucket_with_acl() {
    let app = app().await;
    let host = HOST.replace("examplebucket", "fresh");
    let r = app
        .send(
            bucket(Method::PUT)
                .host(&host)
                .h("x-cos-acl", "public-read"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.send(bucket_acl(Method::GET).host(&host)).await;
    assert_eq!(r.header("x-cos-acl"), Some("public-read"));
    app.send(
        bucket(Method::PUT)
            .host(&HOST.replace("examplebucket", "other"))
            .h("x-cos-acl", "default"),
    )
    .await
    .assert_error(400, "InvalidArgument");
}

#[tokio::test]
async fn grants_and_documents_round_trip() {
    let app = app().await;
    // Canned + grant headers combine (Node's bucket test).
    let r = app
        .send(bucket_acl(Method::PUT).h("x-cos-acl", "public-read").h(
            "x-cos-grant-full-control",
            r#"id="qcs::cam::uin/100000000001:uin/100000000001", id="100000000002""#,
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.send(bucket_acl(Method::GET)).await;
    assert_eq!(r.header("x-cos-acl"), Some("public-read"));
    let t = r.text();
    assert_eq!(t.matches("<Grant>").count(), 4, "{t}");
    assert!(t.contains("<ID>qcs::cam::uin/100000000002:uin/100000000002</ID>"));

    // A document: exactly its grants come back, no x-cos-acl.
    let doc = r#"<AccessControlPolicy><Owner><ID>qcs::cam::uin/1:uin/1</ID></Owner><AccessControlList><Grant><Grantee><ID>qcs::cam::uin/100000000001:uin/100000000001</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"#;
    app.put("doc", b"d").await;
    let r = app
        .send(object_acl(Method::PUT, "doc").with_body(doc))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.send(object_acl(Method::GET, "doc")).await;
    assert_eq!(r.header("x-cos-acl"), None);
    let t = r.text();
    assert_eq!(t.matches("<Grant>").count(), 1, "{t}");
    assert!(t.contains("<ID>qcs::cam::uin/100000000001:uin/100000000001</ID><DisplayName>qcs::cam::uin/100000000001:uin/100000000001</DisplayName></Grantee><Permission>READ</Permission>"), "{t}");
    // A document granting AllUsers READ makes the object public.
    let public = format!(
        r#"<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">{ALL_USERS}</Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>"#
    );
    let r = app
        .send(object_acl(Method::PUT, "doc").with_body(&public))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.send(R::get("doc").anonymous()).await.status, 200);
}

#[tokio::test]
async fn acl_errors() {
    let app = app().await;
    app.put("k", b"k").await;
    let cases: Vec<(R, u16, &str)> = vec![
        (
            bucket_acl(Method::PUT).h("x-cos-acl", "public-read-writ"),
            400,
            "InvalidArgument",
        ),
        (
            object_acl(Method::PUT, "k").h("x-cos-grant-read", "qcs::cam::uin/1:uin/1"),
            400,
            "InvalidArgument",
        ),
        (
            bucket_acl(Method::PUT)
                .h("x-cos-acl", "private")
                .with_body("<AccessControlPolicy/>"),
            400,
            "UnexpectedContent",
        ),
        (
            bucket_acl(Method::PUT).with_body("<AccessControlPolicy><AccessControlList>"),
            400,
            "MalformedXML",
        ),
        (
            object_acl(Method::PUT, "k").with_body("<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>x</ID></Grantee><Permission>ALL</Permission></Grant></AccessControlList></AccessControlPolicy>"),
            400,
            "MalformedXML",
        ),
        (bucket_acl(Method::PUT), 400, "MissingRequestBodyError"),
        (
            object_acl(Method::PUT, "missing").h("x-cos-acl", "private"),
            404,
            "NoSuchKey",
        ),
        (object_acl(Method::GET, "missing"), 404, "NoSuchKey"),
        (
            object_acl(Method::GET, "k").q("versionId", "MTg0NDUxNTc1NjIzMTQ1MDAwODg"),
            404,
            "NoSuchVersion",
        ),
        (
            bucket_acl(Method::GET).host(&HOST.replace("examplebucket", "ghost")),
            404,
            "NoSuchBucket",
        ),
        (
            R::get("k").host(&HOST.replace("examplebucket", "ghost")).anonymous(),
            404,
            "NoSuchBucket",
        ),
    ];
    for (r, status, code) in cases {
        let what = format!("{} {}?{:?}", r.method, r.path, r.query);
        let resp = app.send(r).await;
        assert_eq!(resp.status, status, "{what}: {}", resp.text());
        resp.assert_error(status, code);
    }
    // versionId=null names the current object.
    let r = app
        .send(object_acl(Method::GET, "k").q("versionId", "null"))
        .await;
    assert_eq!(r.status, 200);
}

// ---------------------------------------------------------------------------
// Scoped and temporary credentials

const RO_ID: &str = "AKIDreadonlyexample";
const RW_ID: &str = "AKIDreadwriteexample";
const TMP_ID: &str = "AKIDtemporaryexample";
const SCOPED_KEY: &str = "scoped-secret-key";
const TOKEN: &str = "example-session-token";

fn scoped_config(extra: &str) -> Config {
    let toml = format!(
        r#"
buckets = ["examplebucket", "other"]

[[credentials]]
secret_id = "{RO_ID}"
secret_key = "{SCOPED_KEY}"
buckets = ["examplebucket"]
access = "read-only"

[[credentials]]
secret_id = "{RW_ID}"
secret_key = "{SCOPED_KEY}"
buckets = ["examplebucket-1250000000"]

[[temporary_credentials]]
secret_id = "{TMP_ID}"
secret_key = "{SCOPED_KEY}"
token = "{TOKEN}"
buckets = ["other"]
{extra}
"#
    );
    let raw: RawConfig = toml::from_str(&toml).unwrap();
    let args = ServeArgs {
        ephemeral: true,
        secret_id: Some(ID.into()),
        secret_key: Some(KEY.into()),
        ..Default::default()
    };
    Config::from_parts(&args, raw).unwrap()
}

#[tokio::test]
async fn scoped_credentials() {
    let app = app_with(scoped_config("")).await;
    let other = HOST.replace("examplebucket", "other");
    app.put("k", b"data").await;

    // Read-only on examplebucket: reads yes, writes no, other buckets no.
    let ro = |r: R| r.signed_by(RO_ID, SCOPED_KEY);
    let r = app.send(ro(R::get("k"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.send(ro(bucket(Method::GET))).await.status, 200);
    assert_eq!(app.send(ro(bucket_acl(Method::GET))).await.status, 200);
    for r in [
        ro(R::put("k2", "x")),
        ro(R::new(Method::DELETE, "k")),
        ro(bucket_acl(Method::PUT).h("x-cos-acl", "public-read")),
        ro(R::get("k").host(&other)),
        ro(bucket(Method::PUT).host(&HOST.replace("examplebucket", "newone"))),
    ] {
        let what = format!("{} {} {}", r.method, r.host, r.path);
        let resp = app.send(r).await;
        assert_eq!(resp.status, 403, "{what}");
        resp.assert_error(403, "AccessDenied");
    }

    // Read-write on examplebucket only.
    let rw = |r: R| r.signed_by(RW_ID, SCOPED_KEY);
    assert_eq!(app.send(rw(R::put("k2", "x"))).await.status, 200);
    assert_eq!(app.send(rw(R::new(Method::DELETE, "k2"))).await.status, 204);
    app.send(rw(R::put("k2", "x").host(&other)))
        .await
        .assert_error(403, "AccessDenied");
    // A copy needs read access to the source bucket too.
    let r = app.send(R::put("in-other", "o").host(&other)).await;
    assert_eq!(r.status, 200);
    app.send(rw(
        R::put("stolen", Vec::new()).h("x-cos-copy-source", &format!("{other}/in-other"))
    ))
    .await
    .assert_error(403, "AccessDenied");

    // ListBuckets: only the key's buckets.
    let service = |r: R| r.host("service.cos.myqcloud.com");
    let all = app.send(service(R::new(Method::GET, ""))).await;
    assert_eq!(all.text().matches("<Bucket>").count(), 2, "{}", all.text());
    let mine = app.send(service(ro(R::new(Method::GET, "")))).await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.text().matches("<Bucket>").count(), 1);
    assert!(mine
        .text()
        .contains("<Name>examplebucket-1250000000</Name>"));
}

#[tokio::test]
async fn temporary_credentials_check_order() {
    let app = app_with(scoped_config("")).await;
    let other = HOST.replace("examplebucket", "other");
    let tmp = |r: R| r.signed_by(TMP_ID, SCOPED_KEY).host(&other);
    let r = app
        .send(tmp(R::put("t", "temp")).h("x-cos-security-token", TOKEN))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app
        .send(tmp(R::get("t")).h("x-cos-security-token", TOKEN))
        .await;
    assert_eq!(&r.body[..], b"temp");
    // Token missing or wrong → 403 InvalidAccessKeyId (before anything else).
    app.send(tmp(R::get("t")))
        .await
        .assert_error(403, "InvalidAccessKeyId");
    app.send(tmp(R::get("t")).h("x-cos-security-token", "wrong"))
        .await
        .assert_error(403, "InvalidAccessKeyId");
    // Scope: the temporary key is limited to `other`.
    app.send(
        R::get("t")
            .signed_by(TMP_ID, SCOPED_KEY)
            .h("x-cos-security-token", TOKEN),
    )
    .await
    .assert_error(403, "AccessDenied");
    // A token sent with a permanent key is ignored.
    let r = app
        .send(
            R::get("t")
                .host(&other)
                .h("x-cos-security-token", "whatever"),
        )
        .await;
    assert_eq!(r.status, 200);

    // Expired → 400 ExpiredToken, even with a good signature.
    let expired = app_with(scoped_config("expires = \"2020-01-01T00:00:00Z\"")).await;
    expired
        .send(tmp(R::get("t")).h("x-cos-security-token", TOKEN))
        .await
        .assert_error(400, "ExpiredToken");
}
