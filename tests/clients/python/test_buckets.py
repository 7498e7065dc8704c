"""Bucket lifecycle, bucket errors and GET Service with cos-python-sdk-v5."""

import xml.etree.ElementTree as ET

import pytest
from qcloud_cos import CosServiceError

from conftest import (APPID, FIXED_BUCKET, REGION, SECRET_ID, SECRET_KEY, assert_error, make_client,
                      service_error, unique_bucket_name)


def test_create_head_delete_bucket(client, raw):
    name = unique_bucket_name()
    assert client.create_bucket(Bucket=name) is None
    head = client.head_bucket(Bucket=name)
    assert head["x-cos-bucket-region"] == REGION
    assert client.bucket_exists(Bucket=name) is True

    # HEAD Bucket over the wire: 200 with the region header and the common headers.
    r = raw.request("HEAD", name)
    assert r.status_code == 200
    assert r.headers.get("x-cos-bucket-region") == REGION
    assert r.headers["Server"] == "tencent-cos"
    assert r.headers["x-cos-request-id"]
    assert r.headers["Date"]

    r = raw.request("DELETE", name)
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert client.bucket_exists(Bucket=name) is False


def test_put_bucket_status_200(raw):
    name = unique_bucket_name()
    r = raw.request("PUT", name)
    assert r.status_code == 200, r.text
    assert "x-cos-request-id" in r.headers
    r = raw.request("DELETE", name)
    assert r.status_code == 204


def test_create_existing_bucket_is_already_owned(client, bucket):
    with pytest.raises(CosServiceError) as ei:
        client.create_bucket(Bucket=bucket)
    assert_error(service_error(ei), 409, "BucketAlreadyOwnedByYou")


def test_preconfigured_bucket_exists(client):
    # --bucket fixed-1250000000 at start-up
    assert client.bucket_exists(Bucket=FIXED_BUCKET) is True


@pytest.mark.parametrize(
    "name",
    [
        "trailing-" + "-" + APPID,  # name ends with a dash
        "under_score-" + APPID,     # underscore
        "-leading-" + APPID,        # leading dash
    ],
)
def test_invalid_bucket_name(raw, name):
    r = raw.request("PUT", name)
    assert r.status_code == 400, r.text
    root = ET.fromstring(r.content)
    assert root.tag == "Error"
    assert root.findtext("Code") == "InvalidBucketName"
    assert r.headers["x-cos-request-id"]


def test_delete_nonempty_bucket(client, bucket):
    client.put_object(Bucket=bucket, Body=b"x", Key="keep.txt")
    with pytest.raises(CosServiceError) as ei:
        client.delete_bucket(Bucket=bucket)
    assert_error(service_error(ei), 409, "BucketNotEmpty")
    # still there, object intact
    assert client.get_object(Bucket=bucket, Key="keep.txt")["Body"].get_raw_stream().read() == b"x"


def test_no_such_bucket(client):
    missing = unique_bucket_name()
    with pytest.raises(CosServiceError) as ei:
        client.list_objects(Bucket=missing)
    assert_error(service_error(ei), 404, "NoSuchBucket")

    with pytest.raises(CosServiceError) as ei:
        client.delete_bucket(Bucket=missing)
    assert_error(service_error(ei), 404, "NoSuchBucket")

    with pytest.raises(CosServiceError) as ei:
        client.put_object(Bucket=missing, Body=b"data", Key="k")
    assert_error(service_error(ei), 404, "NoSuchBucket")

    # HEAD errors have no body; the SDK maps any HEAD 404 to NoSuchResource.
    with pytest.raises(CosServiceError) as ei:
        client.head_bucket(Bucket=missing)
    assert service_error(ei).get_status_code() == 404
    assert client.bucket_exists(Bucket=missing) is False


def test_head_missing_bucket_has_request_id_and_no_body(raw):
    r = raw.request("HEAD", unique_bucket_name())
    assert r.status_code == 404
    assert r.content == b""
    assert r.headers["x-cos-request-id"]


def test_list_buckets_via_service_domain(server, client, bucket):
    svc = make_client(server, IP=None, Port=None, ServiceDomain=server.endpoint)
    resp = svc.list_buckets()
    names = [b["Name"] for b in resp["Buckets"]["Bucket"]]
    assert bucket in names
    assert FIXED_BUCKET in names
    entry = next(b for b in resp["Buckets"]["Bucket"] if b["Name"] == bucket)
    assert entry["Location"] == REGION
    assert entry["CreationDate"]
    assert resp["Owner"]["ID"]


def test_get_service_on_service_host(raw, bucket):
    r = raw.request("GET", "ignored", headers={"Host": "service.cos.myqcloud.com"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "ListAllMyBucketsResult"
    assert bucket in [b.findtext("Name") for b in root.iter("Bucket")]


def test_bucket_lifecycle_after_delete_can_be_recreated(client):
    name = unique_bucket_name()
    client.create_bucket(Bucket=name)
    client.delete_bucket(Bucket=name)
    client.create_bucket(Bucket=name)
    assert client.bucket_exists(Bucket=name)
    client.delete_bucket(Bucket=name)
    assert not client.bucket_exists(Bucket=name)


def test_wrong_secret_key_is_signature_mismatch(server, bucket):
    bad = make_client(server, SecretKey=SECRET_KEY[:-1] + "X")
    with pytest.raises(CosServiceError) as ei:
        bad.list_objects(Bucket=bucket)
    assert_error(service_error(ei), 403, "SignatureDoesNotMatch")


def test_unknown_secret_id_is_invalid_access_key(server, bucket):
    bad = make_client(server, SecretId=SECRET_ID + "unknown")
    with pytest.raises(CosServiceError) as ei:
        bad.list_objects(Bucket=bucket)
    assert_error(service_error(ei), 403, "InvalidAccessKeyId")
