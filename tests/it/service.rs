//! GET Service filters and paging, PUT Bucket's CreateBucketConfiguration and
//! what HEAD Bucket reports (cos-bucket.md §15.1, §15.2).

use http::Method;

use crate::common::{app, App, R};

const SERVICE: &str = "service.cos.myqcloud.com";

fn bucket_host(name: &str) -> String {
    format!("{name}-1250000000.cos.ap-guangzhou.myqcloud.com")
}

async fn create(app: &App, name: &str, body: &str) -> crate::common::Resp {
    app.send(
        R::new(Method::PUT, "")
            .host(&bucket_host(name))
            .with_body(body),
    )
    .await
}

/// The bucket names of one GET Service answer, and the whole document.
async fn list(app: &App, query: &[(&str, &str)], host: &str) -> (Vec<String>, String) {
    let mut r = R::get("").host(host);
    for (k, v) in query {
        r = r.q(k, v);
    }
    let resp = app.send(r).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let text = resp.text();
    let names = text
        .split("<Name>")
        .skip(1)
        .map(|s| s.split("</Name>").next().unwrap().to_string())
        .collect();
    (names, text)
}

#[tokio::test]
async fn service_filters_by_tag_region_and_creation_time() {
    let app = app().await;
    for name in ["svc-a", "svc-b", "svc-c"] {
        assert_eq!(create(&app, name, "").await.status, 200);
    }
    let tag = |v: &str| {
        format!("<Tagging><TagSet><Tag><Key>env</Key><Value>{v}</Value></Tag></TagSet></Tagging>")
    };
    for (name, v) in [("svc-a", "prod"), ("svc-b", "dev")] {
        let r = app
            .send(
                R::new(Method::PUT, "")
                    .host(&bucket_host(name))
                    .q("tagging", "")
                    .with_body(&tag(v)),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let (names, _) = list(&app, &[("tagkey", "env"), ("tagvalue", "prod")], SERVICE).await;
    assert_eq!(names, ["svc-a-1250000000"]);
    let (names, _) = list(&app, &[("tagkey", "env")], SERVICE).await;
    assert_eq!(names, ["svc-a-1250000000", "svc-b-1250000000"]);

    let (names, _) = list(&app, &[("region", "ap-beijing")], SERVICE).await;
    assert!(names.is_empty(), "{names:?}");
    let (names, _) = list(&app, &[("region", "ap-guangzhou")], SERVICE).await;
    assert_eq!(names.len(), 4, "{names:?}");
    // The region in the host (cos-nodejs-sdk-v5) filters the same way.
    let (names, _) = list(&app, &[], "cos.ap-beijing.myqcloud.com").await;
    assert!(names.is_empty(), "{names:?}");
    let (names, _) = list(&app, &[], "cos.ap-guangzhou.myqcloud.com").await;
    assert_eq!(names.len(), 4);

    let future = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600)
        .to_string();
    let (names, _) = list(&app, &[("create-time", &future), ("range", "lt")], SERVICE).await;
    assert_eq!(names.len(), 4);
    let (names, _) = list(&app, &[("create-time", &future), ("range", "gt")], SERVICE).await;
    assert!(names.is_empty());

    for q in [
        &[("create-time", "1")][..],
        &[("create-time", "1"), ("range", "eq")],
        &[("max-keys", "0")],
        &[("max-keys", "2001")],
    ] {
        let mut r = R::get("").host(SERVICE);
        for (k, v) in q {
            r = r.q(k, v);
        }
        app.send(r).await.assert_error(400, "InvalidArgument");
    }
}

#[tokio::test]
async fn service_pages_with_marker() {
    let app = app().await;
    for name in ["pg-a", "pg-b", "pg-c"] {
        assert_eq!(create(&app, name, "").await.status, 200);
    }
    // examplebucket-1250000000 sorts first.
    let mut seen = vec![];
    let mut marker = String::new();
    loop {
        let (names, text) = list(&app, &[("marker", &marker), ("max-keys", "2")], SERVICE).await;
        assert!(
            text.contains(&format!("<Marker>{marker}</Marker>")),
            "{text}"
        );
        // Whole seconds, as cos-python-sdk-v5's test parses them.
        let date = text.split("<CreationDate>").nth(1).unwrap();
        assert_eq!(date.find("</CreationDate>"), Some(20), "{date}");
        seen.extend(names.iter().cloned());
        if text.contains("<IsTruncated>false</IsTruncated>") {
            assert!(!text.contains("<NextMarker>"));
            break;
        }
        assert!(text.contains("<IsTruncated>true</IsTruncated>"), "{text}");
        assert_eq!(names.len(), 2);
        marker = text
            .split("<NextMarker>")
            .nth(1)
            .unwrap()
            .split("</NextMarker>")
            .next()
            .unwrap()
            .to_string();
        assert_eq!(&marker, names.last().unwrap());
    }
    assert_eq!(
        seen,
        [
            "examplebucket-1250000000",
            "pg-a-1250000000",
            "pg-b-1250000000",
            "pg-c-1250000000"
        ]
    );
}

#[tokio::test]
async fn create_bucket_configuration_is_reported_by_head_bucket() {
    let app = app().await;
    let head = |name: &str| R::new(Method::HEAD, "").host(&bucket_host(name));

    assert_eq!(create(&app, "plain", "").await.status, 200);
    let r = app.send(head("plain")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-cos-bucket-region"), Some("ap-guangzhou"));
    assert_eq!(r.header("x-cos-bucket-az-type"), None);
    assert_eq!(r.header("x-cos-bucket-arch"), None);

    let body = "<CreateBucketConfiguration><BucketAZConfig>MAZ</BucketAZConfig>\
                <BucketArchConfig>OFS</BucketArchConfig></CreateBucketConfiguration>";
    assert_eq!(create(&app, "maz-ofs", body).await.status, 200);
    let r = app.send(head("maz-ofs")).await;
    assert_eq!(r.header("x-cos-bucket-region"), Some("ap-guangzhou"));
    assert_eq!(r.header("x-cos-bucket-az-type"), Some("MAZ"));
    assert_eq!(r.header("x-cos-bucket-arch"), Some("OFS"));

    let body = "<CreateBucketConfiguration><BucketAZConfig>MAZ</BucketAZConfig></CreateBucketConfiguration>";
    assert_eq!(create(&app, "maz", body).await.status, 200);
    let r = app.send(head("maz")).await;
    assert_eq!(r.header("x-cos-bucket-az-type"), Some("MAZ"));
    assert_eq!(r.header("x-cos-bucket-arch"), None);

    // A value COS does not define: 400 and no bucket.
    let body = "<CreateBucketConfiguration><BucketAZConfig>TRIPLE</BucketAZConfig></CreateBucketConfiguration>";
    create(&app, "bad-az", body)
        .await
        .assert_error(400, "InvalidArgument");
    let r = app.send(head("bad-az")).await;
    assert_eq!(r.status, 404);
    create(&app, "bad-xml", "<CreateBucketConfiguration>")
        .await
        .assert_error(400, "MalformedXML");

    // GET ?location answers the region as the root's text.
    let r = app
        .send(R::get("").host(&bucket_host("maz")).q("location", ""))
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.text()
            .contains("<LocationConstraint>ap-guangzhou</LocationConstraint>"),
        "{}",
        r.text()
    );
}
