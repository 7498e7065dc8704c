"""Bucket configuration sub-resources with cos-python-sdk-v5 (spec
cos-bucket.md §6 and §14): tagging and default encryption put/get/delete, and
the default-encryption effect on writes."""

import pytest
from qcloud_cos import CosServiceError

from conftest import assert_error, service_error


def test_bucket_tagging(client, bucket):
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_tagging(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchTagSet")
    tags = {"TagSet": {"Tag": [{"Key": "team", "Value": "storage"}, {"Key": "env", "Value": "prod test"}]}}
    client.put_bucket_tagging(Bucket=bucket, Tagging=tags)
    got = client.get_bucket_tagging(Bucket=bucket)
    assert got["TagSet"]["Tag"] == tags["TagSet"]["Tag"], "same tags, same order"
    client.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_tagging(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchTagSet")


def test_bucket_encryption_applies_to_writes(client, bucket):
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_encryption(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchEncryptionConfiguration")
    rule = {"Rule": [{"ApplySideEncryptionConfiguration": {"SSEAlgorithm": "AES256"}}]}
    # The SDK's own test sends this (misspelt) element; COS treats it as the rule.
    client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=rule)
    got = client.get_bucket_encryption(Bucket=bucket)
    assert got["Rule"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    put = client.put_object(Bucket=bucket, Key="auto.txt", Body=b"encrypted by default")
    assert put["x-cos-server-side-encryption"] == "AES256"
    head = client.head_object(Bucket=bucket, Key="auto.txt")
    assert head["x-cos-server-side-encryption"] == "AES256"
    body = client.get_object(Bucket=bucket, Key="auto.txt")["Body"].get_raw_stream().read()
    assert body == b"encrypted by default"

    client.delete_bucket_encryption(Bucket=bucket)
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_encryption(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchEncryptionConfiguration")
    put = client.put_object(Bucket=bucket, Key="plain.txt", Body=b"plain")
    assert "x-cos-server-side-encryption" not in put


def test_bucket_cors_and_preflight(client, bucket, server):
    import requests

    with pytest.raises(CosServiceError) as e:
        client.get_bucket_cors(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchCORSConfiguration")
    rule = {
        "ID": "web-app",
        "AllowedOrigin": ["https://www.example.com", "http://*.example.com"],
        "AllowedMethod": ["GET", "PUT"],
        "AllowedHeader": ["*"],
        "ExposeHeader": ["ETag", "x-cos-request-id"],
        "MaxAgeSeconds": 600,
    }
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRule": [rule]})
    got = client.get_bucket_cors(Bucket=bucket)["CORSRule"][0]
    assert got["ID"] == "web-app"
    assert got["AllowedOrigin"] == rule["AllowedOrigin"]
    assert got["AllowedMethod"] == ["GET", "PUT"]
    assert got["ExposeHeader"] == ["ETag", "x-cos-request-id"]
    assert got["MaxAgeSeconds"] == "600"

    host = f"{bucket}.cos.ap-guangzhou.myqcloud.com"
    url = f"http://127.0.0.1:{server.port}/some/key.txt"
    pre = requests.options(url, headers={
        "Host": host,
        "Origin": "http://cdn.example.com",
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type,x-cos-meta-a",
    })
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] == "http://cdn.example.com"
    assert pre.headers["Access-Control-Allow-Methods"] == "GET,PUT"
    assert pre.headers["Access-Control-Max-Age"] == "600"
    denied = requests.options(url, headers={
        "Host": host, "Origin": "https://evil.test", "Access-Control-Request-Method": "GET"})
    assert denied.status_code == 403

    client.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_cors(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchCORSConfiguration")


def test_bucket_referer_hotlink_protection(client, bucket, server):
    import requests

    assert client.get_bucket_referer(Bucket=bucket) == {"RefererConfiguration": None}
    client.put_bucket_acl(Bucket=bucket, ACL="public-read")
    client.put_object(Bucket=bucket, Key="img.jpg", Body=b"picture")
    client.put_bucket_referer(Bucket=bucket, RefererConfiguration={
        "Status": "Enabled",
        "RefererType": "White-List",
        "DomainList": {"Domain": ["*.example.com", "www.example.org:8080"]},
        "EmptyReferConfiguration": "Deny",
    })
    got = client.get_bucket_referer(Bucket=bucket)
    assert got["Status"] == "Enabled"
    assert got["RefererType"] == "White-List"
    assert got["DomainList"]["Domain"] == ["*.example.com", "www.example.org:8080"]

    url = f"http://127.0.0.1:{server.port}/img.jpg"
    host = {"Host": f"{bucket}.cos.ap-guangzhou.myqcloud.com"}
    ok = requests.get(url, headers={**host, "Referer": "https://shop.example.com/item"})
    assert ok.status_code == 200 and ok.content == b"picture"
    leech = requests.get(url, headers={**host, "Referer": "https://leech.test/"})
    assert leech.status_code == 403
    assert "<Code>AccessDenied</Code>" in leech.text
    assert requests.get(url, headers=host).status_code == 403, "empty referer denied"

    # The SDK's delete is an empty PUT; GET then answers an empty document.
    client.delete_bucket_referer(Bucket=bucket)
    assert client.get_bucket_referer(Bucket=bucket) == {"RefererConfiguration": None}
    assert requests.get(url, headers={**host, "Referer": "https://leech.test/"}).status_code == 200
