"""Static website, custom domains and domain certificates with cos-python-sdk-v5
(spec cos-bucket.md §5, §10): put/get/delete_bucket_website,
put/get/delete_bucket_domain, put/get/delete_bucket_domain_certificate, and
their effect over plain HTTP (`requests` with the Host of the website endpoint
or of a custom domain)."""

import pytest
import requests
from qcloud_cos import CosServiceError

from conftest import REGION, assert_error, service_error, unique_bucket_name


def website_host(bucket: str) -> str:
    return f"{bucket}.cos-website.{REGION}.myqcloud.com"


def web_get(server, bucket, path, method="GET", host=None, **headers):
    return requests.request(
        method,
        server.url + path,
        headers={"Host": host or website_host(bucket), **headers},
        allow_redirects=False,
        timeout=30,
    )


def put_page(client, bucket, key, body, acl=None):
    kw = {"ACL": acl} if acl else {}
    client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/html", **kw)


def test_website_put_get_delete(client, bucket):
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_website(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchWebsiteConfiguration")
    config = {
        "IndexDocument": {"Suffix": "index.html"},
        "ErrorDocument": {"Key": "error.html", "OriginalHttpStatus": "Enabled"},
        "AutoAddressing": {"Status": "Enabled"},
        "RoutingRules": [
            {
                "Condition": {"HttpErrorCodeReturnedEquals": "404"},
                "Redirect": {"Protocol": "https", "ReplaceKeyWith": "404.html"},
            },
            {
                "Condition": {"KeyPrefixEquals": "docs/"},
                "Redirect": {"ReplaceKeyPrefixWith": "documents/", "URLRedirect": "Disabled"},
            },
        ],
    }
    client.put_bucket_website(Bucket=bucket, WebsiteConfiguration=config)
    got = client.get_bucket_website(Bucket=bucket)
    assert got["IndexDocument"] == {"Suffix": "index.html"}
    assert got["ErrorDocument"] == {"Key": "error.html", "OriginalHttpStatus": "Enabled"}
    assert got["AutoAddressing"] == {"Status": "Enabled"}
    # GET adds URLRedirect=Enabled where it was not given (as the SDK's own test expects).
    assert got["RoutingRules"] == [
        {
            "Condition": {"HttpErrorCodeReturnedEquals": "404"},
            "Redirect": {"Protocol": "https", "ReplaceKeyWith": "404.html", "URLRedirect": "Enabled"},
        },
        {
            "Condition": {"KeyPrefixEquals": "docs/"},
            "Redirect": {"ReplaceKeyPrefixWith": "documents/", "URLRedirect": "Disabled"},
        },
    ]
    # Invalid: no index document and no redirect-all.
    with pytest.raises(CosServiceError) as e:
        client.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"ErrorDocument": {"Key": "e.html"}})
    assert_error(service_error(e), 400, "MalformedXML")
    with pytest.raises(CosServiceError) as e:
        client.put_bucket_website(
            Bucket=bucket,
            WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"},
                                  "RedirectAllRequestsTo": {"Protocol": "ftp"}},
        )
    assert_error(service_error(e), 400, "InvalidArgument")
    assert client.get_bucket_website(Bucket=bucket)["IndexDocument"] == {"Suffix": "index.html"}
    client.delete_bucket_website(Bucket=bucket)
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_website(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchWebsiteConfiguration")


def test_website_endpoint_serves_the_site(client, bucket, server):
    client.put_bucket_acl(Bucket=bucket, ACL="public-read")
    client.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "error.html"},
            "AutoAddressing": {"Status": "Enabled"},
            "RoutingRules": [
                {"Condition": {"KeyPrefixEquals": "old/"},
                 "Redirect": {"ReplaceKeyPrefixWith": "new/"}},
                {"Condition": {"HttpErrorCodeReturnedEquals": "403"},
                 "Redirect": {"Protocol": "https", "ReplaceKeyWith": "denied.html"}},
            ],
        },
    )
    put_page(client, bucket, "index.html", b"<h1>home</h1>")
    put_page(client, bucket, "blog/index.html", b"<h1>blog</h1>")
    put_page(client, bucket, "error.html", b"<h1>not here</h1>")
    put_page(client, bucket, "secret.html", b"s", acl="private")

    r = web_get(server, bucket, "/")
    assert (r.status_code, r.content) == (200, b"<h1>home</h1>")
    assert r.headers["Content-Type"] == "text/html"
    assert r.headers["x-cos-request-id"]
    r = web_get(server, bucket, "/blog/")
    assert (r.status_code, r.content) == (200, b"<h1>blog</h1>")
    r = web_get(server, bucket, "/blog/", method="HEAD")
    assert r.status_code == 200 and r.headers["Content-Length"] == "13"
    r = web_get(server, bucket, "/blog")
    assert r.status_code == 302 and r.headers["Location"] == "/blog/"
    r = web_get(server, bucket, "/missing.html")
    assert (r.status_code, r.content) == (404, b"<h1>not here</h1>")
    r = web_get(server, bucket, "/old/post.html")
    assert r.status_code == 302
    assert r.headers["Location"] == f"http://{website_host(bucket)}/new/post.html"
    r = web_get(server, bucket, "/secret.html")
    assert r.status_code == 302
    assert r.headers["Location"] == f"https://{website_host(bucket)}/denied.html"
    r = web_get(server, bucket, "/index.html", method="PUT")
    assert r.status_code == 405 and r.headers["Content-Type"].startswith("text/html")

    # The REST endpoint is unaffected: `/` lists, a missing key is an XML error.
    assert client.list_objects(Bucket=bucket)["Name"] == bucket
    with pytest.raises(CosServiceError) as e:
        client.get_object(Bucket=bucket, Key="blog/")
    assert_error(service_error(e), 404, "NoSuchKey")


def test_website_redirect_all(client, bucket, server):
    client.put_bucket_acl(Bucket=bucket, ACL="public-read")
    client.put_bucket_website(
        Bucket=bucket,
        WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"},
                              "RedirectAllRequestsTo": {"Protocol": "https"}},
    )
    got = client.get_bucket_website(Bucket=bucket)
    assert got["RedirectAllRequestsTo"] == {"Protocol": "https"}
    r = web_get(server, bucket, "/a/b.html")
    assert r.status_code == 301
    assert r.headers["Location"] == f"https://{website_host(bucket)}/a/b.html"


def test_domain_put_get_delete_and_routing(client, bucket, server):
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_domain(Bucket=bucket)
    assert_error(service_error(e), 404, "DomainConfigNotFoundError")
    rest_name = f"files-{bucket}.example.test"
    site_name = f"www-{bucket}.example.test"
    rules = [
        {"Status": "ENABLED", "Name": rest_name, "Type": "REST", "ForcedReplacement": "CNAME"},
        {"Status": "ENABLED", "Name": site_name, "Type": "WEBSITE"},
    ]
    client.put_bucket_domain(Bucket=bucket, DomainConfiguration={"DomainRule": rules})
    got = client.get_bucket_domain(Bucket=bucket)
    assert got["DomainRule"] == rules

    # REST custom domain: the normal API on that Host.
    client.put_object(Bucket=bucket, Key="a.txt", Body=b"alpha", ACL="public-read")
    r = requests.get(server.url + "/a.txt", headers={"Host": rest_name}, timeout=30)
    assert (r.status_code, r.content) == (200, b"alpha")
    # WEBSITE custom domain: website semantics.
    client.put_bucket_acl(Bucket=bucket, ACL="public-read")
    client.put_bucket_website(Bucket=bucket, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    put_page(client, bucket, "index.html", b"site home")
    r = web_get(server, bucket, "/", host=site_name)
    assert (r.status_code, r.content) == (200, b"site home")

    # Invalid rules and a name bound elsewhere.
    with pytest.raises(CosServiceError) as e:
        client.put_bucket_domain(Bucket=bucket, DomainConfiguration={"DomainRule": [
            {"Status": "ON", "Name": rest_name, "Type": "REST"}]})
    assert_error(service_error(e), 400, "InvalidArgument")
    other = unique_bucket_name()
    client.create_bucket(Bucket=other)
    try:
        with pytest.raises(CosServiceError) as e:
            client.put_bucket_domain(Bucket=other, DomainConfiguration={"DomainRule": [
                {"Status": "ENABLED", "Name": rest_name, "Type": "REST"}]})
        assert_error(service_error(e), 409, "RecordAlreadyExist")
    finally:
        client.delete_bucket(Bucket=other)

    client.delete_bucket_domain(Bucket=bucket)
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_domain(Bucket=bucket)
    assert_error(service_error(e), 404, "DomainConfigNotFoundError")
    r = requests.get(server.url + "/a.txt", headers={"Host": rest_name}, timeout=30)
    assert r.content != b"alpha", "the domain no longer routes"


CERT = "-----BEGIN CERTIFICATE-----\nMIIBfakeCertificateForTests\n-----END CERTIFICATE-----"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIBfakeKeyForTests\n-----END PRIVATE KEY-----"


def test_domain_certificate_put_get_delete(client, bucket):
    name = f"cert-{bucket}.example.test"
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_domain_certificate(Bucket=bucket, DomainName=name)
    assert_error(service_error(e), 404, "NoSuchCertificate")
    client.put_bucket_domain_certificate(
        Bucket=bucket,
        DomainCertificateConfiguration={
            "CertificateInfo": {"CertType": "CustomCert",
                                "CustomCert": {"Cert": CERT, "PrivateKey": KEY}},
            "DomainList": {"DomainName": name},
        },
    )
    got = client.get_bucket_domain_certificate(Bucket=bucket, DomainName=name)
    assert got["Status"] == "Disabled", "no ENABLED ?domain rule binds it yet"
    assert got["CertificateInfo"]["CertId"].startswith("localcos-")
    client.put_bucket_domain(Bucket=bucket, DomainConfiguration={"DomainRule": [
        {"Status": "ENABLED", "Name": name, "Type": "REST"}]})
    assert client.get_bucket_domain_certificate(Bucket=bucket, DomainName=name)["Status"] == "Enabled"
    with pytest.raises(CosServiceError) as e:
        client.put_bucket_domain_certificate(
            Bucket=bucket,
            DomainCertificateConfiguration={
                "CertificateInfo": {"CertType": "CustomCert", "CustomCert": {"Cert": "not pem"}},
                "DomainList": {"DomainName": name},
            },
        )
    assert_error(service_error(e), 400, "InvalidArgument")
    client.delete_bucket_domain_certificate(Bucket=bucket, DomainName=name)
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_domain_certificate(Bucket=bucket, DomainName=name)
    assert_error(service_error(e), 404, "NoSuchCertificate")
    client.delete_bucket_domain(Bucket=bucket)
