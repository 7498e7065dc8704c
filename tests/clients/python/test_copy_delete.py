"""Copy Object (Copy vs Replaced) and Delete Multiple Objects."""

import xml.etree.ElementTree as ET

import pytest
from qcloud_cos import CosServiceError

from conftest import REGION, assert_error, bucket_host, crc64, md5_hex, read_body, service_error


def copy_source(bucket, key):
    return {"Bucket": bucket, "Key": key, "Region": REGION}


@pytest.fixture
def src(client, bucket):
    data = b"copy me " * 1000
    client.put_object(
        Bucket=bucket,
        Body=data,
        Key="src dir/源 文件+1.txt",
        ContentType="text/plain",
        CacheControl="max-age=60",
        Metadata={"x-cos-meta-origin": "source"},
    )
    return bucket, "src dir/源 文件+1.txt", data


def test_copy_default_directive_copies_metadata(client, src):
    bucket, key, data = src
    resp = client.copy_object(Bucket=bucket, Key="dst/copy.txt", CopySource=copy_source(bucket, key))
    # CopyObjectResult XML merged into the response by the SDK
    assert resp["ETag"] == f'"{md5_hex(data)}"'
    assert resp["LastModified"]
    assert resp["CRC64"] == str(crc64(data))
    assert resp["x-cos-request-id"]

    head = client.head_object(Bucket=bucket, Key="dst/copy.txt")
    assert head["x-cos-meta-origin"] == "source"
    assert head["Content-Type"] == "text/plain"
    assert head["Cache-Control"] == "max-age=60"
    assert head["x-cos-hash-crc64ecma"] == str(crc64(data))
    assert read_body(client.get_object(Bucket=bucket, Key="dst/copy.txt")) == data


def test_copy_replaced_directive(client, src):
    bucket, key, data = src
    client.copy_object(
        Bucket=bucket,
        Key="dst/replaced.txt",
        CopySource=copy_source(bucket, key),
        CopyStatus="Replaced",
        ContentType="application/json",
        Metadata={"x-cos-meta-new": "yes"},
    )
    head = client.head_object(Bucket=bucket, Key="dst/replaced.txt")
    assert head["Content-Type"] == "application/json"
    assert head["x-cos-meta-new"] == "yes"
    assert "x-cos-meta-origin" not in head
    assert "Cache-Control" not in head
    assert read_body(client.get_object(Bucket=bucket, Key="dst/replaced.txt")) == data


def test_copy_onto_itself_replacing_metadata(client, src):
    bucket, key, data = src
    client.copy_object(Bucket=bucket, Key=key, CopySource=copy_source(bucket, key), CopyStatus="Replaced",
                       Metadata={"x-cos-meta-origin": "updated"})
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["x-cos-meta-origin"] == "updated"
    assert read_body(client.get_object(Bucket=bucket, Key=key)) == data


def test_copy_across_buckets(client, src):
    from conftest import empty_and_delete_bucket, unique_bucket_name

    bucket, key, data = src
    other = unique_bucket_name()
    client.create_bucket(Bucket=other)
    try:
        resp = client.copy_object(Bucket=other, Key="x.txt", CopySource=copy_source(bucket, key))
        assert resp["ETag"] == f'"{md5_hex(data)}"'
        assert read_body(client.get_object(Bucket=other, Key="x.txt")) == data
    finally:
        empty_and_delete_bucket(client, other)


def test_copy_raw_response(raw, client, src):
    bucket, key, data = src
    from urllib.parse import quote

    source = f"{bucket_host(bucket)}/{quote(key.encode(), safe='/-_.~')}"
    r = raw.request("PUT", bucket, "raw-copy.txt", headers={"x-cos-copy-source": source})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "CopyObjectResult"
    assert root.findtext("ETag") == f'"{md5_hex(data)}"'
    assert root.findtext("CRC64") == str(crc64(data))
    assert root.findtext("LastModified")


def test_copy_missing_source(client, bucket):
    with pytest.raises(CosServiceError) as ei:
        client.copy_object(Bucket=bucket, Key="dst", CopySource=copy_source(bucket, "no/such/key"))
    err = service_error(ei)
    assert err.get_status_code() == 404
    assert err.get_error_code() in ("NoSuchCopySource", "NoSuchKey")


def test_copy_missing_source_bucket(client, bucket):
    from conftest import unique_bucket_name

    with pytest.raises(CosServiceError) as ei:
        client.copy_object(Bucket=bucket, Key="dst", CopySource=copy_source(unique_bucket_name(), "k"))
    assert_error(service_error(ei), 404, "NoSuchBucket")


@pytest.fixture
def five(client, bucket):
    keys = ["m/1", "m/2", "m/3 with space", "m/中文", "m/plus+%"]
    for k in keys:
        client.put_object(Bucket=bucket, Body=k.encode(), Key=k)
    return bucket, keys


def test_delete_multiple_verbose(client, five):
    bucket, keys = five
    resp = client.delete_objects(
        Bucket=bucket,
        Delete={"Quiet": "false", "Object": [{"Key": k} for k in keys[:3]] + [{"Key": "m/never"}]},
    )
    deleted = sorted(d["Key"] for d in resp["Deleted"])
    # deleting a missing key counts as deleted
    assert deleted == sorted(keys[:3] + ["m/never"])
    assert not resp.get("Error")
    left = [c["Key"] for c in client.list_objects(Bucket=bucket)["Contents"]]
    assert sorted(left) == sorted(keys[3:])


def test_delete_multiple_quiet(client, raw, five):
    bucket, keys = five
    resp = client.delete_objects(Bucket=bucket, Delete={"Quiet": "true", "Object": [{"Key": k} for k in keys]})
    assert not resp.get("Deleted")
    assert not resp.get("Error")
    assert client.list_objects(Bucket=bucket).get("Contents", []) == []


def test_delete_multiple_raw_xml(raw, client, five):
    import base64
    import hashlib

    bucket, keys = five
    body = ("<Delete><Quiet>false</Quiet>"
            "<Object><Key>m/1</Key></Object><Object><Key>m/2</Key></Object></Delete>").encode()
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = raw.request("POST", bucket, params={"delete": ""}, data=body,
                    headers={"Content-Type": "application/xml", "Content-MD5": md5})
    assert r.status_code == 200, r.text
    root = ET.fromstring(r.content)
    assert root.tag == "DeleteResult"
    assert sorted(d.findtext("Key") for d in root.findall("Deleted")) == ["m/1", "m/2"]
    assert root.findall("Error") == []


def test_delete_multiple_malformed(raw, bucket):
    import base64
    import hashlib

    body = b"<Delete><Object><Key>unterminated"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = raw.request("POST", bucket, params={"delete": ""}, data=body,
                    headers={"Content-Type": "application/xml", "Content-MD5": md5})
    assert r.status_code == 400, r.text
    assert ET.fromstring(r.content).findtext("Code") == "MalformedXML"


def test_copy_onto_itself_without_change_is_refused(client, src):
    """Same source and destination with directive Copy changes nothing → 400 InvalidRequest (cos.md §6A.4)."""
    bucket, key, _ = src
    with pytest.raises(CosServiceError) as ei:
        client.copy_object(Bucket=bucket, Key=key, CopySource=copy_source(bucket, key))
    assert_error(service_error(ei), 400, "InvalidRequest")
