"""GET/HEAD Object: Range, conditionals and response-* overrides."""

import email.utils
import time
import xml.etree.ElementTree as ET

import pytest
from qcloud_cos import CosServiceError

from conftest import assert_error, crc64, md5_hex, read_body, service_error

DATA = bytes(range(256)) * 4  # 1024 bytes, every byte value


@pytest.fixture
def obj(client, bucket):
    client.put_object(Bucket=bucket, Body=DATA, Key="range/obj.bin", ContentType="application/x-test")
    head = client.head_object(Bucket=bucket, Key="range/obj.bin")
    return bucket, "range/obj.bin", head


@pytest.mark.parametrize(
    "rng,start,end",
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-99", 0, 99),
        ("bytes=100-199", 100, 199),
        ("bytes=1000-", 1000, 1023),
        ("bytes=-24", 1000, 1023),
        ("bytes=1000-5000", 1000, 1023),  # end clamped
    ],
)
def test_range_206(raw, obj, rng, start, end):
    bucket, key, _ = obj
    r = raw.request("GET", bucket, key, headers={"Range": rng})
    assert r.status_code == 206, r.text
    assert r.content == DATA[start:end + 1]
    assert r.headers["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert r.headers["Content-Length"] == str(end - start + 1)
    # CRC and ETag are those of the whole object, also on 206
    assert r.headers["x-cos-hash-crc64ecma"] == str(crc64(DATA))
    assert r.headers["ETag"] == f'"{md5_hex(DATA)}"'


def test_range_via_sdk(client, obj):
    bucket, key, _ = obj
    resp = client.get_object(Bucket=bucket, Key=key, Range="bytes=10-19")
    assert read_body(resp) == DATA[10:20]
    assert resp["Content-Range"] == "bytes 10-19/1024"
    assert resp["Content-Length"] == "10"


def test_range_past_end_416(raw, client, obj):
    bucket, key, _ = obj
    r = raw.request("GET", bucket, key, headers={"Range": "bytes=1024-2000"})
    assert r.status_code == 416, r.text
    root = ET.fromstring(r.content)
    assert root.findtext("Code") == "InvalidRange"
    assert r.headers.get("Content-Range") == "bytes */1024"
    with pytest.raises(CosServiceError) as ei:
        client.get_object(Bucket=bucket, Key=key, Range="bytes=5000-")
    assert_error(service_error(ei), 416, "InvalidRange")


def test_head_with_range(raw, obj):
    bucket, key, _ = obj
    r = raw.request("HEAD", bucket, key, headers={"Range": "bytes=0-9"})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == "bytes 0-9/1024"
    assert r.content == b""


def test_if_none_match_304(raw, client, obj):
    bucket, key, head = obj
    etag = head["ETag"]
    r = raw.request("GET", bucket, key, headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["ETag"] == etag
    assert r.headers["x-cos-request-id"]
    assert r.headers["Content-Length"] == "0"  # cos.md §8: the SDK needs it on 304
    # without quotes too
    r = raw.request("GET", bucket, key, headers={"If-None-Match": etag.strip('"')})
    assert r.status_code == 304
    # the SDK treats 304 as success and needs Content-Length to build its response
    resp = client.get_object(Bucket=bucket, Key=key, IfNoneMatch=etag)
    assert resp["ETag"] == etag
    # a different ETag → full body
    r = raw.request("GET", bucket, key, headers={"If-None-Match": '"0000"'})
    assert r.status_code == 200
    assert r.content == DATA


def test_if_match_412(raw, client, obj):
    bucket, key, head = obj
    r = raw.request("GET", bucket, key, headers={"If-Match": '"deadbeef"'})
    assert r.status_code == 412
    root = ET.fromstring(r.content)
    assert root.findtext("Code") == "PreconditionFailed"
    assert root.findtext("RequestId")
    with pytest.raises(CosServiceError) as ei:
        client.get_object(Bucket=bucket, Key=key, IfMatch='"deadbeef"')
    assert_error(service_error(ei), 412, "PreconditionFailed")
    # matching ETag → 200
    r = raw.request("GET", bucket, key, headers={"If-Match": head["ETag"]})
    assert r.status_code == 200
    assert r.content == DATA
    r = raw.request("GET", bucket, key, headers={"If-Match": "*"})
    assert r.status_code == 200


def test_if_modified_since(raw, obj):
    bucket, key, head = obj
    last_modified = head["Last-Modified"]
    r = raw.request("GET", bucket, key, headers={"If-Modified-Since": last_modified})
    assert r.status_code == 304
    assert r.content == b""
    past = email.utils.formatdate(time.time() - 86400 * 365, usegmt=True)
    r = raw.request("GET", bucket, key, headers={"If-Modified-Since": past})
    assert r.status_code == 200
    assert r.content == DATA


def test_if_unmodified_since(raw, obj):
    bucket, key, head = obj
    past = email.utils.formatdate(time.time() - 86400 * 365, usegmt=True)
    r = raw.request("GET", bucket, key, headers={"If-Unmodified-Since": past})
    assert r.status_code == 412
    assert ET.fromstring(r.content).findtext("Code") == "PreconditionFailed"
    r = raw.request("GET", bucket, key, headers={"If-Unmodified-Since": head["Last-Modified"]})
    assert r.status_code == 200
    assert r.content == DATA


def test_conditional_order(raw, obj):
    """If-Match failing wins over If-None-Match (RFC 9110 order, cos.md §4.4)."""
    bucket, key, head = obj
    r = raw.request("GET", bucket, key, headers={"If-Match": '"nope"', "If-None-Match": head["ETag"]})
    assert r.status_code == 412
    # If-Match passes, If-None-Match matches → 304
    r = raw.request("GET", bucket, key, headers={"If-Match": head["ETag"], "If-None-Match": head["ETag"]})
    assert r.status_code == 304


def test_head_conditionals(raw, obj):
    bucket, key, head = obj
    r = raw.request("HEAD", bucket, key, headers={"If-None-Match": head["ETag"]})
    assert r.status_code == 304
    r = raw.request("HEAD", bucket, key, headers={"If-Match": '"x"'})
    assert r.status_code == 412
    assert r.content == b""


def test_response_overrides(client, obj):
    bucket, key, _ = obj
    resp = client.get_object(
        Bucket=bucket,
        Key=key,
        ResponseContentType="text/plain; charset=utf-8",
        ResponseContentDisposition='attachment; filename="x y.txt"',
        ResponseCacheControl="no-cache",
        ResponseContentEncoding="identity",
        ResponseContentLanguage="zh-CN",
        ResponseExpires="Thu, 01 Jan 2037 00:00:00 GMT",
    )
    assert resp["Content-Type"] == "text/plain; charset=utf-8"
    assert resp["Content-Disposition"] == 'attachment; filename="x y.txt"'
    assert resp["Cache-Control"] == "no-cache"
    assert resp["Content-Encoding"] == "identity"
    assert resp["Content-Language"] == "zh-CN"
    assert resp["Expires"] == "Thu, 01 Jan 2037 00:00:00 GMT"
    assert read_body(resp) == DATA
    # the stored Content-Type is unchanged
    assert client.head_object(Bucket=bucket, Key=key)["Content-Type"] == "application/x-test"


def test_stored_content_type_inferred_from_key(client, bucket):
    """No Content-Type on PUT → inferred from the extension (cos.md §6A.2)."""
    for key, expected in (("noext", "application/octet-stream"), ("1.zip", "application/zip"),
                          ("1.txt", "text/plain")):
        client.put_object(Bucket=bucket, Body=b"{}", Key=key)
        ctype = client.head_object(Bucket=bucket, Key=key)["Content-Type"]
        assert ctype.split(";")[0] == expected, (key, ctype)


def test_standard_storage_class_header_omitted(client, bucket):
    client.put_object(Bucket=bucket, Body=b"std", Key="std")
    head = client.head_object(Bucket=bucket, Key="std")
    assert "x-cos-storage-class" not in head


def test_multi_range_or_malformed_range_gives_full_body(raw, obj):
    """cos.md §4.4 step 5: only single ranges; anything else is ignored → 200 full body."""
    bucket, key, _ = obj
    for value in ("bytes=0-0,5-6", "bytes=abc", "items=0-5"):
        r = raw.request("GET", bucket, key, headers={"Range": value})
        assert r.status_code == 200, (value, r.status_code, r.text[:200])
        assert r.content == DATA, value


def test_range_on_empty_object_is_416(raw, client, bucket):
    client.put_object(Bucket=bucket, Body=b"", Key="empty")
    r = raw.request("GET", bucket, "empty", headers={"Range": "bytes=0-"})
    assert r.status_code == 416, r.text
    assert ET.fromstring(r.content).findtext("Code") == "InvalidRange"


def test_not_modified_carries_object_headers(raw, obj):
    """304 keeps ETag, Content-Type and the CRC, with no body (cos.md §4.4, seed sample 3)."""
    bucket, key, head = obj
    r = raw.request("GET", bucket, key, headers={"If-None-Match": "*"})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["ETag"] == head["ETag"]
    assert r.headers["x-cos-hash-crc64ecma"] == str(crc64(DATA))
    assert r.headers["Content-Type"] == "application/x-test"
