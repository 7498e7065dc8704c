//! What the ecosystem clients (rclone, s3cmd; `tests/clients/python/
//! test_rclone.py`, `test_s3cmd.py`) revealed, replayed in process with the
//! requests those clients send: rclone's SigV2 `Date` in Go's RFC 1123
//! layout (zone `UTC`), and S3's "all users" group URI in ACL documents and
//! grant headers (s3cmd `setacl --acl-public` / `--acl-private`, `info`).

use std::time::{Duration, SystemTime};

use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Method, Request};
use http_body_util::Full;

use crate::common::{app, App, Resp, ID, KEY, R};

const HOST: &str = "127.0.0.1:9000";
const BUCKET: &str = "examplebucket-1250000000";
const S3_ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const COS_ALL_USERS: &str = "http://cam.qcloud.com/groups/global/AllUsers";

/// A SigV2 request, path style on a bare host, as rclone (`region =
/// other-v2-signature`) and s3cmd (`signature_v2 = True`) send it. `resource`
/// is the canonical resource (`/bucket/key?acl`); `date` the `Date` header.
fn v2(
    method: Method,
    uri: &str,
    resource: &str,
    date: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Request<Full<Bytes>> {
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map_or("", |(_, v)| *v);
    let mut amz: Vec<(String, &str)> = headers
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("x-amz-"))
        .map(|(k, v)| (k.to_ascii_lowercase(), *v))
        .collect();
    amz.sort();
    let amz: String = amz.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let sts = format!("{method}\n\n{content_type}\n{date}\n{amz}{resource}");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(sts.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", HOST)
        .header("date", date)
        .header("authorization", format!("AWS {ID}:{sig}"))
        .header("content-length", body.len().to_string());
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

/// Now, as Go's `time.RFC1123` writes it in UTC (rclone's V2 signer).
fn go_rfc1123(t: SystemTime) -> String {
    httpdate::fmt_http_date(t).replace(" GMT", " UTC")
}

fn gmt_now() -> String {
    httpdate::fmt_http_date(SystemTime::now())
}

#[tokio::test]
async fn sigv2_date_in_go_rfc1123_utc_is_accepted() {
    let a = app().await;
    a.put("dir/a+b é.txt", b"rclone").await;
    let now = SystemTime::now();
    let list = a
        .send_raw(v2(
            Method::GET,
            &format!("/{BUCKET}?delimiter=%2F&max-keys=1000&prefix=dir%2F"),
            &format!("/{BUCKET}"),
            &go_rfc1123(now),
            &[],
            "",
        ))
        .await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.header("server"), Some("AmazonS3"));
    assert!(
        list.text().contains("<Key>dir/a+b é.txt</Key>"),
        "{}",
        list.text()
    );
    // The skew window still applies to such dates, and other zones are refused.
    let stale = a
        .send_raw(v2(
            Method::GET,
            &format!("/{BUCKET}"),
            &format!("/{BUCKET}"),
            &go_rfc1123(now - Duration::from_secs(3600)),
            &[],
            "",
        ))
        .await;
    assert_eq!(stale.status, 403, "{}", stale.text());
    assert!(stale.text().contains("<Code>RequestTimeTooSkewed</Code>"));
    let zoned = httpdate::fmt_http_date(now).replace(" GMT", " +0800");
    let other_zone = a
        .send_raw(v2(
            Method::GET,
            &format!("/{BUCKET}"),
            &format!("/{BUCKET}"),
            &zoned,
            &[],
            "",
        ))
        .await;
    assert_eq!(other_zone.status, 403, "{}", other_zone.text());
    assert!(other_zone.text().contains("<Code>AccessDenied</Code>"));
}

async fn anonymous_get(a: &App, key: &str) -> Resp {
    a.send(R::get(key).anonymous()).await
}

/// The document s3cmd's `setacl --acl-public` PUTs: the ACL it read, plus
/// S3's AllUsers READ.
fn s3cmd_acl_document(public: bool) -> String {
    let owner = "qcs::cam::uin/1250000000:uin/1250000000";
    let xsi = r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance""#;
    let mut doc = format!(
        r#"<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>{owner}</ID></Owner><AccessControlList><Grant><Grantee {xsi} xsi:type="CanonicalUser"><ID>{owner}</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>"#
    );
    if public {
        doc.push_str(&format!(
            r#"<Grant><Grantee {xsi} xsi:type="Group"><URI>{S3_ALL_USERS}</URI></Grantee><Permission>READ</Permission></Grant>"#
        ));
    }
    doc.push_str("</AccessControlList></AccessControlPolicy>");
    doc
}

#[tokio::test]
async fn s3_all_users_acl_document_makes_an_object_public_and_reads_back_in_s3_terms() {
    let a = app().await;
    let key = "pub/日本 +.txt";
    a.put(key, b"public bytes").await;
    assert_eq!(anonymous_get(&a, key).await.status, 403);
    let uri = format!("/{BUCKET}/pub/%E6%97%A5%E6%9C%AC%20%2B.txt?acl");
    let resource = format!("/{BUCKET}/pub/%E6%97%A5%E6%9C%AC%20%2B.txt?acl");
    let put_acl = |public| {
        v2(
            Method::PUT,
            &uri,
            &resource,
            &gmt_now(),
            &[("content-type", "application/xml")],
            &s3cmd_acl_document(public),
        )
    };
    let r = a.send_raw(put_acl(true)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = anonymous_get(&a, key).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(&got.body[..], b"public bytes");

    // S3 clients read the group back under S3's URI (s3cmd shows `*anon*`)...
    let s3_acl = a
        .send_raw(v2(Method::GET, &uri, &resource, &gmt_now(), &[], ""))
        .await;
    assert_eq!(s3_acl.status, 200, "{}", s3_acl.text());
    assert!(
        s3_acl
            .text()
            .contains(&format!("<URI>{S3_ALL_USERS}</URI>")),
        "{}",
        s3_acl.text()
    );
    assert!(!s3_acl.text().contains(COS_ALL_USERS), "{}", s3_acl.text());
    // ... COS clients under COS's.
    let cos_acl = a.send(R::get(key).q("acl", "")).await;
    assert_eq!(cos_acl.status, 200, "{}", cos_acl.text());
    assert!(
        cos_acl
            .text()
            .contains(&format!("<URI>{COS_ALL_USERS}</URI>")),
        "{}",
        cos_acl.text()
    );
    assert!(!cos_acl.text().contains(S3_ALL_USERS), "{}", cos_acl.text());

    // `setacl --acl-private`: the same document without the group.
    let r = a.send_raw(put_acl(false)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(anonymous_get(&a, key).await.status, 403);
}

#[tokio::test]
async fn s3_all_users_grant_header_opens_a_bucket() {
    let a = app().await;
    a.put("listed.txt", b"x").await;
    assert_eq!(anonymous_get(&a, "listed.txt").await.status, 403);
    let grant = format!("uri=\"{S3_ALL_USERS}\"");
    let r = a
        .send_raw(v2(
            Method::PUT,
            &format!("/{BUCKET}?acl"),
            &format!("/{BUCKET}?acl"),
            &gmt_now(),
            &[("x-amz-grant-read", &grant)],
            "",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = anonymous_get(&a, "listed.txt").await;
    assert_eq!(got.status, 200, "{}", got.text());
    let bucket_acl = a.send(R::get("").q("acl", "")).await;
    assert!(
        bucket_acl.text().contains(&format!(
            "<URI>{COS_ALL_USERS}</URI></Grantee><Permission>READ"
        )),
        "{}",
        bucket_acl.text()
    );
}
