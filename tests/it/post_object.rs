//! POST Object (browser form upload) in-process: COS form signature (cos.md
//! §1.9), policy conditions and errors (§6A.6), S3 SigV4 forms (s3.md §1.4),
//! anonymous forms on public-read-write buckets. Bodies are built by hand.

use base64::Engine;
use hmac::{Hmac, Mac};
use http::Method;
use md5::{Digest as _, Md5};
use sha1::Sha1;
use sha2::Sha256;

use crate::common::{app, app_with, window, App, Resp, HOST, ID, KEY, R};

const BOUNDARY: &str = "----localcosFormBoundary7MA4YWxkTrZu0gW";

/// A multipart/form-data body: `fields` in order, then the file part, then `after`.
fn body(fields: &[(&str, &str)], filename: &str, file: &[u8], after: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let field = |out: &mut Vec<u8>, (k, v): &(&str, &str)| {
        out.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    };
    for f in fields {
        field(&mut out, f);
    }
    out.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/x-ignored\r\n\r\n")
            .as_bytes(),
    );
    out.extend_from_slice(file);
    out.extend_from_slice(b"\r\n");
    for f in after {
        field(&mut out, f);
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn form_request(host: &str, path: &str, body: Vec<u8>) -> R {
    let mut r = R::new(Method::POST, "")
        .anonymous()
        .host(host)
        .raw_path(path)
        .h(
            "content-type",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        );
    r.body = body.into();
    r
}

async fn post(app: &App, fields: &[(&str, &str)], filename: &str, file: &[u8]) -> Resp {
    app.send(form_request(HOST, "/", body(fields, filename, file, &[])))
        .await
}

fn iso(secs_from_now: i64) -> String {
    let t = std::time::SystemTime::now()
        .checked_add(std::time::Duration::from_secs(secs_from_now.max(0) as u64))
        .unwrap()
        .checked_sub(std::time::Duration::from_secs(
            (-secs_from_now).max(0) as u64
        ))
        .unwrap();
    humantime::format_rfc3339_millis(t).to_string()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn hmac_sha1_hex(key: &[u8], msg: &[u8]) -> String {
    let mut m = Hmac::<Sha1>::new_from_slice(key).unwrap();
    m.update(msg);
    hex::encode(m.finalize().into_bytes())
}

/// The COS form signature fields (§1.9), computed independently of the server.
fn cos_signed(id: &str, secret: &str, conditions: &str, expires_in: i64) -> Vec<(String, String)> {
    let (start, end) = window();
    let key_time = format!("{start};{end}");
    let policy = format!(
        r#"{{"expiration":"{}","conditions":[{conditions}{}{{"q-sign-algorithm":"sha1"}},{{"q-ak":"{id}"}},{{"q-sign-time":"{key_time}"}}]}}"#,
        iso(expires_in),
        if conditions.is_empty() { "" } else { "," },
    );
    sign_policy(id, secret, &policy, &key_time)
}

/// Signs any policy text (even one that is not JSON) per §1.9.
fn sign_policy(id: &str, secret: &str, policy: &str, key_time: &str) -> Vec<(String, String)> {
    let sign_key = hmac_sha1_hex(secret.as_bytes(), key_time.as_bytes());
    let string_to_sign = hex::encode(Sha1::digest(policy.as_bytes()));
    let signature = hmac_sha1_hex(sign_key.as_bytes(), string_to_sign.as_bytes());
    vec![
        ("policy".into(), b64(policy)),
        ("q-sign-algorithm".into(), "sha1".into()),
        ("q-ak".into(), id.into()),
        ("q-key-time".into(), key_time.into()),
        ("q-signature".into(), signature),
    ]
}

fn refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// key + extra fields + COS signature over a policy with `conditions`.
fn signed_form<'a>(extra: &[(&'a str, &'a str)], conditions: &str) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    f.extend(cos_signed(ID, KEY, conditions, 600));
    f
}

#[tokio::test]
async fn cos_signed_form_uploads_with_its_fields() {
    let app = app().await;
    let fields = signed_form(
        &[
            ("key", "uploads/${filename}"),
            ("Content-Type", "text/plain"),
            ("Cache-Control", "max-age=60"),
            ("Content-Disposition", "attachment"),
            ("x-cos-meta-origin", "form"),
            ("x-cos-storage-class", "STANDARD_IA"),
            ("acl", "public-read"),
            ("x-cos-tagging", "a=1&b=2"),
        ],
        r#"{"bucket":"examplebucket-1250000000"},["starts-with","$key","uploads/"],["eq","$Content-Type","text/plain"],["content-length-range",1,1000]"#,
    );
    let r = post(&app, &refs(&fields), "hello.txt", b"hello form").await;
    assert_eq!(r.status, 204, "{}", r.text());
    let md5 = hex::encode(Md5::digest(b"hello form"));
    assert_eq!(r.header("etag"), Some(format!("\"{md5}\"").as_str()));
    assert_eq!(
        r.header("location"),
        Some("http://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/uploads/hello.txt")
    );
    assert!(r.header("x-cos-hash-crc64ecma").is_some());
    assert!(r.header("x-cos-request-id").is_some());
    assert!(r.body.is_empty());

    let got = app.send(R::get("uploads/hello.txt")).await;
    assert_eq!(got.status, 200);
    assert_eq!(&got.body[..], b"hello form");
    assert_eq!(got.header("content-type"), Some("text/plain"));
    assert_eq!(got.header("cache-control"), Some("max-age=60"));
    assert_eq!(got.header("content-disposition"), Some("attachment"));
    assert_eq!(got.header("x-cos-meta-origin"), Some("form"));
    assert_eq!(got.header("x-cos-storage-class"), Some("STANDARD_IA"));
    assert_eq!(got.header("x-cos-tagging-count"), Some("2"));
    // acl=public-read: anyone may read it now.
    let anon = app.send(R::get("uploads/hello.txt").anonymous()).await;
    assert_eq!(anon.status, 200);
}

#[tokio::test]
async fn success_status_and_redirect() {
    let app = app().await;
    let sign = |status: &'static str| {
        signed_form(
            &[("key", "s/${filename}"), ("success_action_status", status)],
            "",
        )
    };
    let r = post(&app, &refs(&sign("201")), "a b.txt", b"x").await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/xml"));
    let md5 = hex::encode(Md5::digest(b"x"));
    assert_eq!(
        r.text(),
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>http://examplebucket-1250000000.cos.ap-guangzhou.myqcloud.com/s/a%20b.txt</Location><Bucket>examplebucket-1250000000</Bucket><Key>s/a b.txt</Key><ETag>&quot;{md5}&quot;</ETag></PostResponse>")
    );
    let r = post(&app, &refs(&sign("200")), "c.txt", b"x").await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    // Other values: 204.
    let r = post(&app, &refs(&sign("302")), "d.txt", b"x").await;
    assert_eq!(r.status, 204);

    let fields = signed_form(
        &[
            ("key", "r/${filename}"),
            ("success_action_redirect", "https://my.website/done?x=1"),
            ("success_action_status", "201"),
        ],
        "",
    );
    let r = post(&app, &refs(&fields), "e.txt", b"x").await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        r.header("location"),
        Some(format!("https://my.website/done?x=1&bucket=examplebucket%2D1250000000&key=r%2Fe%2Etxt&etag=%22{md5}%22").as_str())
    );
}

#[tokio::test]
async fn failures_answer_cos_errors_and_store_nothing() {
    let app = app().await;
    let ok = |extra: &[(&'static str, &'static str)], conditions: &str| {
        let mut f = vec![("key".to_string(), "f/${filename}".to_string())];
        f.extend(signed_form(extra, conditions));
        f
    };
    let set = |mut f: Vec<(String, String)>, name: &str, v: &str| {
        f.iter_mut().find(|(k, _)| k == name).unwrap().1 = v.to_string();
        f
    };
    let range = r#"["content-length-range",2,4]"#;
    type Case<'a> = (
        &'a str,
        Vec<(String, String)>,
        &'a [u8],
        u16,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "bad signature",
            set(
                ok(&[], ""),
                "q-signature",
                "0000000000000000000000000000000000000000",
            ),
            b"x",
            403,
            "SignatureDoesNotMatch",
            "",
        ),
        (
            "unknown key",
            set(ok(&[], ""), "q-ak", "AKIDnobody"),
            b"x",
            403,
            "InvalidAccessKeyId",
            "",
        ),
        (
            "expired policy",
            {
                let mut f = vec![("key".to_string(), "f/x".to_string())];
                f.extend(cos_signed(ID, KEY, "", -10));
                f
            },
            b"x",
            403,
            "AccessDenied",
            "current unix time",
        ),
        (
            "condition",
            ok(&[], r#"["starts-with","$key","other/"]"#),
            b"x",
            403,
            "AccessDenied",
            "Condition key key doesn't match the value other/",
        ),
        (
            "missing field",
            ok(&[], r#"{"x-cos-meta-a":"1"}"#),
            b"x",
            403,
            "AccessDenied",
            "Condition key x-cos-meta-a",
        ),
        (
            "bucket",
            ok(&[], r#"{"bucket":"otherbucket-1250000000"}"#),
            b"x",
            403,
            "AccessDenied",
            "Condition key bucket",
        ),
        (
            "too large",
            ok(&[], range),
            b"12345",
            400,
            "EntityTooLarge",
            "content-length-range",
        ),
        (
            "too small",
            ok(&[], range),
            b"1",
            400,
            "EntityTooSmall",
            "content-length-range",
        ),
        (
            "policy not json",
            {
                let mut f = vec![("key".to_string(), "f/x".to_string())];
                f.extend(sign_policy(
                    ID,
                    KEY,
                    "nope",
                    &format!("{};{}", window().0, window().1),
                ));
                f
            },
            b"x",
            400,
            "InvalidPolicyDocument",
            "",
        ),
        (
            "no key",
            ok(&[], "")
                .into_iter()
                .filter(|(k, _)| k != "key")
                .collect(),
            b"x",
            400,
            "InvalidArgument",
            "key",
        ),
        (
            "fields too large",
            {
                let mut f = ok(&[], "");
                f.insert(0, ("x-cos-meta-big".into(), "a".repeat(21 * 1024)));
                f
            },
            b"x",
            400,
            "MaxPostPreDataLengthExceededError",
            "",
        ),
    ];
    for (what, fields, file, status, code, message) in cases {
        let r = post(&app, &refs(&fields), "x.txt", file).await;
        r.assert_error(status, code);
        assert!(r.text().contains(message), "{what}: {}", r.text());
        // Nothing was stored.
        assert_eq!(app.send(R::get("f/x.txt")).await.status, 404, "{what}");
    }
    // Within the range: stored.
    let r = post(&app, &refs(&ok(&[], range)), "x.txt", b"1234").await;
    assert_eq!(r.status, 204, "{}", r.text());
}

#[tokio::test]
async fn malformed_bodies() {
    let app = app().await;
    // Not multipart at all.
    let r = app
        .send(
            R::new(Method::POST, "")
                .anonymous()
                .h("content-type", "text/plain")
                .with_body("hi"),
        )
        .await;
    r.assert_error(400, "MalformedPOSTRequest");
    // No file part.
    let mut no_file = form_request(HOST, "/", Vec::new());
    no_file.body = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--{BOUNDARY}--\r\n").into();
    app.send(no_file)
        .await
        .assert_error(400, "IncorrectNumberOfFilesInPostRequest");
    // The file part never ends: nothing is committed.
    let fields = signed_form(&[("key", "cut.txt")], "");
    let mut b = body(&refs(&fields), "cut.txt", b"partial", &[]);
    b.truncate(b.len() - BOUNDARY.len() - 8);
    let r = app.send(form_request(HOST, "/", b)).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(app.send(R::get("cut.txt")).await.status, 404);
    // Garbage instead of parts.
    let r = app.send(form_request(HOST, "/", b"garbage".to_vec())).await;
    r.assert_error(400, "MalformedPOSTRequest");
}

#[tokio::test]
async fn fields_after_the_file_are_ignored() {
    let app = app().await;
    let fields = signed_form(&[("key", "after.txt")], "");
    let b = body(
        &refs(&fields),
        "after.txt",
        b"data",
        &[("x-cos-meta-late", "1"), ("key", "other.txt")],
    );
    let r = app.send(form_request(HOST, "/", b)).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let h = app.send(R::new(Method::HEAD, "after.txt")).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.header("x-cos-meta-late"), None);
    // The file part's own Content-Type is ignored: the key's extension decides.
    assert_eq!(h.header("content-type"), Some("text/plain"));
}

#[tokio::test]
async fn anonymous_forms_need_a_public_read_write_bucket() {
    let app = app().await;
    let fields = [("key", "anon/${filename}")];
    let r = post(&app, &fields, "a.txt", b"anon").await;
    r.assert_error(403, "AccessDenied");
    for (acl, status) in [("public-read", 403), ("public-read-write", 204)] {
        let r = app
            .send(R::new(Method::PUT, "").q("acl", "").h("x-cos-acl", acl))
            .await;
        assert_eq!(r.status, 200);
        let r = post(&app, &fields, "a.txt", b"anon").await;
        assert_eq!(r.status, status, "{acl}: {}", r.text());
    }
    assert_eq!(&app.send(R::get("anon/a.txt")).await.body[..], b"anon");
    // A policy without a signature is still enforced.
    let policy = b64(&format!(
        r#"{{"expiration":"{}","conditions":[["starts-with","$key","ok/"]]}}"#,
        iso(600)
    ));
    let r = post(
        &app,
        &[("key", "anon/b.txt"), ("policy", &policy)],
        "b.txt",
        b"x",
    )
    .await;
    r.assert_error(403, "AccessDenied");
    // A missing bucket is NoSuchBucket.
    let r = app
        .send(form_request(
            &HOST.replace("examplebucket", "nobucket"),
            "/",
            body(&fields, "a.txt", b"x", &[]),
        ))
        .await;
    r.assert_error(404, "NoSuchBucket");
}

const RO_ID: &str = "AKIDreadonlyform";
const TMP_ID: &str = "AKIDtemporaryform";
const SCOPED_KEY: &str = "scoped-form-secret";
const TOKEN: &str = "form-session-token";

fn scoped_config() -> localcos::config::Config {
    let toml = format!(
        r#"
buckets = ["examplebucket"]

[[credentials]]
secret_id = "{RO_ID}"
secret_key = "{SCOPED_KEY}"
access = "read-only"

[[temporary_credentials]]
secret_id = "{TMP_ID}"
secret_key = "{SCOPED_KEY}"
token = "{TOKEN}"
"#
    );
    let raw: localcos::config::RawConfig = toml::from_str(&toml).unwrap();
    let args = localcos::config::ServeArgs {
        ephemeral: true,
        secret_id: Some(ID.into()),
        secret_key: Some(KEY.into()),
        ..Default::default()
    };
    localcos::config::Config::from_parts(&args, raw).unwrap()
}

#[tokio::test]
async fn key_scopes_and_temporary_keys() {
    let app = app_with(scoped_config()).await;
    let with = |id: &str, token: Option<&str>| {
        let mut f = vec![("key".to_string(), "scoped.txt".to_string())];
        f.extend(cos_signed(id, SCOPED_KEY, "", 600));
        if let Some(t) = token {
            f.push(("x-cos-security-token".into(), t.into()));
        }
        f
    };
    post(&app, &refs(&with(RO_ID, None)), "f", b"x")
        .await
        .assert_error(403, "AccessDenied");
    post(&app, &refs(&with(TMP_ID, None)), "f", b"x")
        .await
        .assert_error(403, "InvalidAccessKeyId");
    post(&app, &refs(&with(TMP_ID, Some("wrong"))), "f", b"x")
        .await
        .assert_error(403, "InvalidAccessKeyId");
    let r = post(&app, &refs(&with(TMP_ID, Some(TOKEN))), "f", b"temp").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(&app.send(R::get("scoped.txt")).await.body[..], b"temp");
}

/// An S3 SigV4 form (what boto3's generate_presigned_post gives a browser):
/// the form's fields make it an S3 request, answered in S3 shape.
#[tokio::test]
async fn s3_sigv4_form() {
    let app = app().await;
    let date = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let amz_date = format!(
        "{}T{}Z",
        date[..10].replace('-', ""),
        date[11..19].replace(':', "")
    );
    let day = &amz_date[..8];
    let credential = format!("{ID}/{day}/us-east-1/s3/aws4_request");
    let sign = |policy: &str| {
        let h = |k: &[u8], m: &[u8]| {
            let mut mac = Hmac::<Sha256>::new_from_slice(k).unwrap();
            mac.update(m);
            mac.finalize().into_bytes().to_vec()
        };
        let k = h(format!("AWS4{KEY}").as_bytes(), day.as_bytes());
        let k = h(&k, b"us-east-1");
        let k = h(&k, b"s3");
        let k = h(&k, b"aws4_request");
        hex::encode(h(&k, policy.as_bytes()))
    };
    let policy = b64(&format!(
        r#"{{"expiration":"{}","conditions":[{{"bucket":"examplebucket-1250000000"}},["starts-with","$key","s3/"],{{"x-amz-algorithm":"AWS4-HMAC-SHA256"}},{{"x-amz-credential":"{credential}"}},{{"x-amz-date":"{amz_date}"}},["starts-with","$Content-Type",""],{{"x-amz-meta-tool":"boto3"}}]}}"#,
        iso(600)
    ));
    let signature = sign(&policy);
    let fields = [
        ("key", "s3/${filename}"),
        ("Content-Type", "image/png"),
        ("x-amz-meta-tool", "boto3"),
        ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
        ("x-amz-credential", &credential),
        ("x-amz-date", &amz_date),
        ("policy", &policy),
        ("x-amz-signature", &signature),
    ];
    let r = app
        .send(form_request(
            "127.0.0.1:9000",
            "/examplebucket-1250000000",
            body(&fields, "p.png", b"png bytes", &[]),
        ))
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.header("x-amz-request-id").is_some(), "{:?}", r.headers);
    assert_eq!(
        r.header("location"),
        Some("http://127.0.0.1:9000/examplebucket-1250000000/s3/p.png")
    );
    let got = app.send(R::get("s3/p.png")).await;
    assert_eq!(&got.body[..], b"png bytes");
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert_eq!(got.header("x-cos-meta-tool"), Some("boto3"));

    // A field the policy does not name: S3 refuses it, in S3 shape.
    let mut extra = fields.to_vec();
    extra.insert(1, ("x-amz-meta-extra", "1"));
    let r = app
        .send(form_request(
            "127.0.0.1:9000",
            "/examplebucket-1250000000",
            body(&extra, "p.png", b"png bytes", &[]),
        ))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("<Code>AccessDenied</Code>"));
    assert!(r.text().contains("Extra input fields: x-amz-meta-extra"));
    assert!(r.header("x-amz-request-id").is_some());
    // A wrong signature.
    let mut bad = fields.to_vec();
    bad[7] = ("x-amz-signature", "00");
    let r = app
        .send(form_request(
            "127.0.0.1:9000",
            "/examplebucket-1250000000",
            body(&bad, "p.png", b"png bytes", &[]),
        ))
        .await;
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        r.text()
    );
}

/// SSE fields work as the PUT headers do (cos.md §1.9 lists them).
#[tokio::test]
async fn sse_field_encrypts_the_upload() {
    let app = app().await;
    let fields = signed_form(
        &[
            ("key", "sse.txt"),
            ("x-cos-server-side-encryption", "AES256"),
        ],
        r#"["eq","$x-cos-server-side-encryption","AES256"]"#,
    );
    let r = post(&app, &refs(&fields), "sse.txt", b"secret bytes").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("x-cos-server-side-encryption"), Some("AES256"));
    let got = app.send(R::get("sse.txt")).await;
    assert_eq!(&got.body[..], b"secret bytes");
    assert_eq!(got.header("x-cos-server-side-encryption"), Some("AES256"));
}

/// An anonymous form is checked against the bucket's hotlink protection with
/// the request's own Referer (the form's page).
#[tokio::test]
async fn anonymous_forms_follow_hotlink_protection() {
    let app = app().await;
    let r = app
        .send(
            R::new(Method::PUT, "")
                .q("acl", "")
                .h("x-cos-acl", "public-read-write"),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .send(R::new(Method::PUT, "").q("referer", "").with_body(
            "<RefererConfiguration><Status>Enabled</Status><RefererType>White-List</RefererType><DomainList><Domain>*.example.com</Domain></DomainList><EmptyReferConfiguration>Deny</EmptyReferConfiguration></RefererConfiguration>",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let send = |referer: &str| {
        form_request(HOST, "/", body(&[("key", "ref.txt")], "ref.txt", b"r", &[]))
            .h("referer", referer)
    };
    app.send(send("https://leech.test/"))
        .await
        .assert_error(403, "AccessDenied");
    let r = app.send(send("https://www.example.com/upload.html")).await;
    assert_eq!(r.status, 204, "{}", r.text());
}

/// The bucket policy sees a form upload's key (from the form, not the
/// path): an allow on `drop/*` opens only that prefix to anonymous forms,
/// and a deny on `private/*` refuses forms a public-read-write ACL allows.
#[tokio::test]
async fn bucket_policy_applies_to_the_form_key() {
    const RES: &str = "qcs::cos:ap-guangzhou:uid/1250000000:examplebucket-1250000000";
    let app = app().await;
    let set_policy = |doc: String| {
        R::new(Method::PUT, "")
            .q("policy", "")
            .h("content-type", "application/json")
            .with_body(&doc)
    };
    let allow = format!(
        r#"{{"version":"2.0","statement":[{{"principal":{{"qcs":["qcs::cam::anyone:anyone"]}},"effect":"allow","action":["name/cos:PostObject"],"resource":["{RES}/drop/*"]}}]}}"#
    );
    assert_eq!(app.send(set_policy(allow)).await.status, 204);
    let r = post(&app, &[("key", "drop/${filename}")], "in.txt", b"dropped").await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(&app.send(R::get("drop/in.txt")).await.body[..], b"dropped");
    let r = post(&app, &[("key", "elsewhere/in.txt")], "in.txt", b"x").await;
    r.assert_error(403, "AccessDenied");
    assert_eq!(app.send(R::get("elsewhere/in.txt")).await.status, 404);

    // A deny on one prefix beats the bucket ACL.
    let r = app
        .send(
            R::new(Method::PUT, "")
                .q("acl", "")
                .h("x-cos-acl", "public-read-write"),
        )
        .await;
    assert_eq!(r.status, 200);
    let deny = format!(
        r#"{{"version":"2.0","statement":[{{"principal":{{"qcs":["qcs::cam::anyone:anyone"]}},"effect":"deny","action":["name/cos:PostObject"],"resource":["{RES}/private/*"]}}]}}"#
    );
    assert_eq!(app.send(set_policy(deny)).await.status, 204);
    let r = post(&app, &[("key", "private/x.txt")], "x.txt", b"x").await;
    r.assert_error(403, "AccessDenied");
    assert_eq!(app.send(R::get("private/x.txt")).await.status, 404);
    let r = post(&app, &[("key", "open/x.txt")], "x.txt", b"open").await;
    assert_eq!(r.status, 204, "{}", r.text());
}
