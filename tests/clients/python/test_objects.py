"""PUT / GET / HEAD / DELETE Object round trips with cos-python-sdk-v5."""

import os
import xml.etree.ElementTree as ET

import pytest
from qcloud_cos import CosServiceError

from conftest import assert_common_headers, assert_error, crc64, md5_b64, md5_hex, read_body, service_error


KEYS = [
    "plain.txt",
    "dir/sub dir/file name.txt",
    "中文目录/文件 名😀.txt",
    "a+b%c=d&e;f,g.txt",
    "a/./b/../c.txt",
    "a//b///c.txt",
    "sp !'()*~@$[]#?:.txt",
    "folder/",
]


def test_put_object_response_headers(client, bucket):
    data = b"hello localcos\n" * 100
    resp = client.put_object(Bucket=bucket, Body=data, Key="hello.txt")
    assert resp["ETag"] == f'"{md5_hex(data)}"'
    assert resp["x-cos-hash-crc64ecma"] == str(crc64(data))
    assert_common_headers(resp)


def test_put_get_head_round_trip(client, bucket):
    data = os.urandom(64 * 1024) + b"tail"
    client.put_object(Bucket=bucket, Body=data, Key="bin/random.bin")

    got = client.get_object(Bucket=bucket, Key="bin/random.bin")
    assert read_body(got) == data
    assert got["ETag"] == f'"{md5_hex(data)}"'
    assert got["Content-Length"] == str(len(data))
    assert got["x-cos-hash-crc64ecma"] == str(crc64(data))
    assert got["Last-Modified"].endswith("GMT")
    assert got["Accept-Ranges"] == "bytes"
    assert got["Content-Type"]
    assert_common_headers(got)

    head = client.head_object(Bucket=bucket, Key="bin/random.bin")
    assert head["ETag"] == got["ETag"]
    assert head["Content-Length"] == str(len(data))
    assert head["x-cos-hash-crc64ecma"] == str(crc64(data))
    assert head["Last-Modified"] == got["Last-Modified"]
    assert_common_headers(head)


def test_head_object_over_wire_has_no_body(raw, client, bucket):
    client.put_object(Bucket=bucket, Body=b"0123456789", Key="ten")
    r = raw.request("HEAD", bucket, "ten")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["Content-Length"] == "10"


@pytest.mark.parametrize("key", KEYS)
def test_special_keys_round_trip(client, bucket, key):
    data = ("content of " + key).encode() if not key.endswith("/") else b""
    put = client.put_object(Bucket=bucket, Body=data, Key=key)
    assert put["ETag"] == f'"{md5_hex(data)}"'
    got = client.get_object(Bucket=bucket, Key=key, KeySimplifyCheck=False)
    assert read_body(got) == data
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["Content-Length"] == str(len(data))
    listed = client.list_objects(Bucket=bucket)
    assert [c["Key"] for c in listed["Contents"]] == [key]
    client.delete_object(Bucket=bucket, Key=key)
    assert client.object_exists(Bucket=bucket, Key=key) is False


def test_dot_segment_keys_are_distinct(client, bucket):
    """`a/./b/../c.txt` is a key of its own, never normalised to `a/c.txt` (note 2)."""
    client.put_object(Bucket=bucket, Body=b"dots", Key="a/./b/../c.txt")
    client.put_object(Bucket=bucket, Body=b"plain", Key="a/c.txt")
    client.put_object(Bucket=bucket, Body=b"double", Key="a//b")
    client.put_object(Bucket=bucket, Body=b"single", Key="a/b")
    assert read_body(client.get_object(Bucket=bucket, Key="a/./b/../c.txt", KeySimplifyCheck=False)) == b"dots"
    assert read_body(client.get_object(Bucket=bucket, Key="a/c.txt")) == b"plain"
    assert read_body(client.get_object(Bucket=bucket, Key="a//b", KeySimplifyCheck=False)) == b"double"
    assert read_body(client.get_object(Bucket=bucket, Key="a/b")) == b"single"
    keys = [c["Key"] for c in client.list_objects(Bucket=bucket)["Contents"]]
    assert keys == sorted(["a/./b/../c.txt", "a/c.txt", "a//b", "a/b"], key=lambda k: k.encode())


def test_path_traversal_key_is_just_missing(raw, bucket):
    r = raw.request("GET", bucket, "../../etc/passwd")
    assert r.status_code == 404, r.text
    assert ET.fromstring(r.content).findtext("Code") == "NoSuchKey"


def test_metadata_and_content_headers_round_trip(client, bucket):
    data = b"<html>hi</html>"
    client.put_object(
        Bucket=bucket,
        Body=data,
        Key="page.html",
        ContentType="text/html; charset=utf-8",
        CacheControl="max-age=3600",
        ContentDisposition='attachment; filename="page.html"',
        ContentEncoding="identity",
        Expires="Wed, 21 Oct 2037 07:28:00 GMT",
        Metadata={"x-cos-meta-author": "alice", "x-cos-meta-project-id": "42"},
    )
    for resp in (client.head_object(Bucket=bucket, Key="page.html"),
                 client.get_object(Bucket=bucket, Key="page.html")):
        assert resp["Content-Type"] == "text/html; charset=utf-8"
        assert resp["Cache-Control"] == "max-age=3600"
        assert resp["Content-Disposition"] == 'attachment; filename="page.html"'
        assert resp["Content-Encoding"] == "identity"
        assert resp["Expires"] == "Wed, 21 Oct 2037 07:28:00 GMT"
        assert resp["x-cos-meta-author"] == "alice"
        assert resp["x-cos-meta-project-id"] == "42"
    assert read_body(client.get_object(Bucket=bucket, Key="page.html")) == data


def test_metadata_names_are_lower_cased(raw, client, bucket):
    r = raw.request("PUT", bucket, "m.txt", headers={"x-cos-meta-MixedCase": "Value Kept"}, data=b"m")
    assert r.status_code == 200, r.text
    head = client.head_object(Bucket=bucket, Key="m.txt")
    assert head["x-cos-meta-mixedcase"] == "Value Kept"


def test_content_md5_good(client, bucket):
    data = b"checked body"
    resp = client.put_object(Bucket=bucket, Body=data, Key="md5.txt", EnableMD5=True)
    assert resp["ETag"] == f'"{md5_hex(data)}"'
    resp = client.put_object(Bucket=bucket, Body=data, Key="md5b.txt", ContentMD5=md5_b64(data))
    assert resp["ETag"] == f'"{md5_hex(data)}"'


def test_content_md5_mismatch_is_bad_digest(client, bucket):
    with pytest.raises(CosServiceError) as ei:
        client.put_object(Bucket=bucket, Body=b"actual body", Key="bad.txt", ContentMD5=md5_b64(b"other body"))
    assert_error(service_error(ei), 400, "BadDigest")
    assert client.object_exists(Bucket=bucket, Key="bad.txt") is False


def test_content_md5_garbage_is_invalid_digest(client, bucket):
    with pytest.raises(CosServiceError) as ei:
        client.put_object(Bucket=bucket, Body=b"body", Key="bad2.txt", ContentMD5="not-base64-md5!!")
    assert_error(service_error(ei), 400, "InvalidDigest")
    with pytest.raises(CosServiceError) as ei:
        # valid base64, but 3 bytes, not 16
        client.put_object(Bucket=bucket, Body=b"body", Key="bad3.txt", ContentMD5="YWJj")
    assert_error(service_error(ei), 400, "InvalidDigest")


def test_forbid_overwrite(raw, client, bucket):
    r = raw.request("PUT", bucket, "once.txt", headers={"x-cos-forbid-overwrite": "true"}, data=b"first")
    assert r.status_code == 200, r.text
    r = raw.request("PUT", bucket, "once.txt", headers={"x-cos-forbid-overwrite": "true"}, data=b"second")
    assert r.status_code == 409, r.text
    root = ET.fromstring(r.content)
    assert root.findtext("Code") == "FileAlreadyExists"
    assert root.findtext("RequestId")
    assert read_body(client.get_object(Bucket=bucket, Key="once.txt")) == b"first"
    # "false" (or absent) overwrites
    r = raw.request("PUT", bucket, "once.txt", headers={"x-cos-forbid-overwrite": "false"}, data=b"third")
    assert r.status_code == 200, r.text
    assert read_body(client.get_object(Bucket=bucket, Key="once.txt")) == b"third"


def test_overwrite_replaces_content_and_metadata(client, bucket):
    client.put_object(Bucket=bucket, Body=b"v1", Key="o.txt", Metadata={"x-cos-meta-v": "1"})
    client.put_object(Bucket=bucket, Body=b"version2", Key="o.txt")
    head = client.head_object(Bucket=bucket, Key="o.txt")
    assert head["Content-Length"] == "8"
    assert "x-cos-meta-v" not in head
    assert read_body(client.get_object(Bucket=bucket, Key="o.txt")) == b"version2"


def test_empty_object(client, bucket):
    resp = client.put_object(Bucket=bucket, Body=b"", Key="empty")
    assert resp["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert resp["x-cos-hash-crc64ecma"] == "0"
    got = client.get_object(Bucket=bucket, Key="empty")
    assert got["Content-Length"] == "0"
    assert read_body(got) == b""


def test_seed_crc_values(client, bucket):
    """The two bodies from the COS docs with their published CRC-64 and MD5 (cos.md §4.2)."""
    r1 = client.put_object(Bucket=bucket, Body=b"[Object Content]", Key="seed1")
    assert r1["x-cos-hash-crc64ecma"] == "16749565679157681890"
    assert r1["ETag"] == '"ee8de918d05640145b18f70f4c3aa602"'
    r2 = client.put_object(Bucket=bucket, Body=b"[Object Content Version 2]", Key="seed2")
    assert r2["x-cos-hash-crc64ecma"] == "11596229263574363878"
    assert r2["ETag"] == '"22e024392de860289f0baa7d6cf8a549"'


def test_get_missing_key(client, bucket):
    with pytest.raises(CosServiceError) as ei:
        client.get_object(Bucket=bucket, Key="nope/missing.txt")
    err = service_error(ei)
    assert_error(err, 404, "NoSuchKey")
    assert "missing.txt" in err.get_resource_location()


def test_error_response_shape(raw, bucket):
    r = raw.request("GET", bucket, "missing-key")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/xml")
    assert r.headers["Server"] == "tencent-cos"
    rid = r.headers["x-cos-request-id"]
    root = ET.fromstring(r.content)
    assert root.tag == "Error"
    assert root.findtext("Code") == "NoSuchKey"
    assert root.findtext("Message")
    assert root.findtext("Resource")
    assert root.findtext("RequestId") == rid


def test_head_missing_key(client, raw, bucket):
    with pytest.raises(CosServiceError) as ei:
        client.head_object(Bucket=bucket, Key="missing")
    assert service_error(ei).get_status_code() == 404
    r = raw.request("HEAD", bucket, "missing")
    assert r.status_code == 404
    assert r.content == b""
    assert r.headers["x-cos-request-id"]


def test_delete_object(client, raw, bucket):
    client.put_object(Bucket=bucket, Body=b"bye", Key="del/me.txt")
    r = raw.request("DELETE", bucket, "del/me.txt")
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert r.headers["x-cos-request-id"]
    assert client.object_exists(Bucket=bucket, Key="del/me.txt") is False
    # deleting a missing key is not an error
    r = raw.request("DELETE", bucket, "del/me.txt")
    assert r.status_code == 204, r.text
    resp = client.delete_object(Bucket=bucket, Key="never-existed")
    assert resp["x-cos-request-id"]


def test_request_ids_are_unique(raw, bucket):
    ids = {raw.request("HEAD", bucket).headers["x-cos-request-id"] for _ in range(5)}
    assert len(ids) == 5


def test_object_exists(client, bucket):
    assert client.object_exists(Bucket=bucket, Key="x") is False
    client.put_object(Bucket=bucket, Body=b"1", Key="x")
    assert client.object_exists(Bucket=bucket, Key="x") is True


def test_put_from_file_object(client, bucket, tmp_path):
    p = tmp_path / "upload.bin"
    data = os.urandom(300_000)
    p.write_bytes(data)
    with open(p, "rb") as fp:
        resp = client.put_object(Bucket=bucket, Body=fp, Key="from-file.bin")
    assert resp["ETag"] == f'"{md5_hex(data)}"'
    client.get_object(Bucket=bucket, Key="from-file.bin")["Body"].get_stream_to_file(str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data


def wire_header_names(r):
    """Header names exactly as sent by the server (urllib3 keeps their case)."""
    return list(r.raw.headers.keys())


def test_header_names_spelled_as_cos(raw, client, bucket):
    """cos.md §6A.13: standard headers in their usual spelling, every x-cos-* lower case."""
    client.put_object(Bucket=bucket, Body=b"spelling", Key="case.txt", Metadata={"x-cos-meta-k": "v"})
    for method, headers in (("GET", {}), ("HEAD", {}), ("GET", {"Range": "bytes=0-1"})):
        r = raw.request(method, bucket, "case.txt", headers=headers)
        assert r.status_code in (200, 206)
        names = wire_header_names(r)
        for expected in ("ETag", "Content-Length", "Last-Modified", "Content-Type", "Accept-Ranges",
                         "x-cos-hash-crc64ecma", "x-cos-request-id", "x-cos-meta-k", "Server", "Date"):
            assert expected in names, (method, headers, names)
        if headers:
            assert "Content-Range" in names, names
        for name in names:
            if name.lower().startswith("x-cos-"):
                assert name == name.lower(), names
        assert "Etag" not in names and "etag" not in names, names
    r = raw.request("GET", bucket, "missing")
    names = wire_header_names(r)
    assert "x-cos-request-id" in names and "Content-Type" in names and "Content-Length" in names, names


def test_put_empty_file_object_is_chunked(client, bucket, tmp_path):
    """A file object whose length reads as 0 makes requests send
    `Transfer-Encoding: chunked` without Content-Length (cos.md §6A.2)."""
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    with open(p, "rb") as fp:
        resp = client.put_object(Bucket=bucket, Body=fp, Key="empty-file.txt")
    assert resp["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    head = client.head_object(Bucket=bucket, Key="empty-file.txt")
    assert head["Content-Length"] == "0"


def test_put_chunked_body_of_unknown_length(raw, client, bucket):
    def gen():
        yield b"chunk one, "
        yield b"chunk two"

    r = raw.request("PUT", bucket, "chunked.txt", data=gen())
    assert r.status_code == 200, r.text
    assert read_body(client.get_object(Bucket=bucket, Key="chunked.txt")) == b"chunk one, chunk two"
    assert r.headers["ETag"] == f'"{md5_hex(b"chunk one, chunk two")}"'


def test_key_too_long(client, bucket):
    client.put_object(Bucket=bucket, Body=b"ok", Key="k" * 850)
    with pytest.raises(CosServiceError) as ei:
        client.put_object(Bucket=bucket, Body=b"no", Key="k" * 851)
    assert_error(service_error(ei), 400, "KeyTooLong")
