"""Append Object with cos-python-sdk-v5 `append_object` (spec cos.md §6A.3):
creation and growth, the response headers, appendable objects on HEAD/GET,
the 409s through CosServiceError, headers given at creation, PUT making the
object normal, and oss2 `append_object` over the OSS dialect (with its CRC-64
check of the whole object)."""

import oss2
import pytest
from qcloud_cos import CosServiceError

from conftest import SECRET_ID, SECRET_KEY, assert_error, crc64, md5_b64, md5_hex, read_body, service_error


def test_append_create_grow_and_read(client, bucket):
    key = "logs/app.log"
    r = client.append_object(Bucket=bucket, Key=key, Position=0, Data=b"line 1\n")
    assert r["x-cos-next-append-position"] == "7"
    assert r["ETag"] == '"%s"' % md5_hex(b"line 1\n")
    assert r["x-cos-content-sha1"] == md5_hex(b"line 1\n")
    assert r["x-cos-hash-crc64ecma"] == str(crc64(b"line 1\n"))
    assert "x-cos-version-id" not in r

    pos = int(r["x-cos-next-append-position"])
    whole = b"line 1\n"
    for i in range(2, 6):
        chunk = b"line %d\n" % i
        r = client.append_object(Bucket=bucket, Key=key, Position=pos, Data=chunk)
        whole += chunk
        pos = int(r["x-cos-next-append-position"])
        assert pos == len(whole)
        assert r["x-cos-hash-crc64ecma"] == str(crc64(whole)), "CRC-64 of the whole object"
        assert r["x-cos-content-sha1"] == md5_hex(chunk)

    head = client.head_object(Bucket=bucket, Key=key)
    assert head["x-cos-object-type"] == "appendable"
    assert head["x-cos-next-append-position"] == str(len(whole))
    assert head["Content-Length"] == str(len(whole))
    assert head["Content-Type"] == "text/plain"  # inferred from .log
    assert head["x-cos-hash-crc64ecma"] == str(crc64(whole))
    assert head["ETag"] == r["ETag"]
    got = client.get_object(Bucket=bucket, Key=key)
    assert got["x-cos-object-type"] == "appendable"
    assert read_body(got) == whole
    ranged = client.get_object(Bucket=bucket, Key=key, Range="bytes=5-9")
    assert read_body(ranged) == whole[5:10]


def test_append_errors(client, bucket):
    # Absent key, position > 0.
    with pytest.raises(CosServiceError) as e:
        client.append_object(Bucket=bucket, Key="a.txt", Position=5, Data=b"x")
    err = service_error(e)
    assert_error(err, 409, "AppendPositionErr")
    assert err.get_origin_msg() is not None

    client.append_object(Bucket=bucket, Key="a.txt", Position=0, Data=b"abc")
    for pos in (0, 2, 4):
        with pytest.raises(CosServiceError) as e:
            client.append_object(Bucket=bucket, Key="a.txt", Position=pos, Data=b"x")
        assert_error(service_error(e), 409, "AppendPositionErr")

    # A normal object is not appendable.
    client.put_object(Bucket=bucket, Key="normal.txt", Body=b"data")
    assert client.head_object(Bucket=bucket, Key="normal.txt")["x-cos-object-type"] == "normal"
    with pytest.raises(CosServiceError) as e:
        client.append_object(Bucket=bucket, Key="normal.txt", Position=4, Data=b"x")
    assert_error(service_error(e), 409, "ObjectNotAppendable")

    # Content-MD5 is verified per append.
    with pytest.raises(CosServiceError) as e:
        client.append_object(Bucket=bucket, Key="a.txt", Position=3, Data=b"def",
                             ContentMD5=md5_b64(b"xyz"))
    assert_error(service_error(e), 400, "BadDigest")
    client.append_object(Bucket=bucket, Key="a.txt", Position=3, Data=b"def",
                         ContentMD5=md5_b64(b"def"))
    assert read_body(client.get_object(Bucket=bucket, Key="a.txt")) == b"abcdef"
    # The content type was inferred from the key at creation.
    assert client.head_object(Bucket=bucket, Key="a.txt")["Content-Type"] == "text/plain"


def test_append_creation_headers_and_put_over(client, bucket):
    key = "meta.bin"
    client.append_object(
        Bucket=bucket, Key=key, Position=0, Data=b"12",
        ContentType="application/x-custom", CacheControl="max-age=60",
        Metadata={"x-cos-meta-color": "blue"}, StorageClass="STANDARD_IA",
        ACL="public-read", Tagging="k1=v1&k2=v 2",
    )
    # Later appends' headers are ignored.
    client.append_object(Bucket=bucket, Key=key, Position=2, Data=b"34",
                         ContentType="text/html", Metadata={"x-cos-meta-color": "red"})
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["Content-Type"] == "application/x-custom"
    assert head["Cache-Control"] == "max-age=60"
    assert head["x-cos-meta-color"] == "blue"
    assert head["x-cos-storage-class"] == "STANDARD_IA"
    assert head["x-cos-tagging-count"] == "2"
    tags = client.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]["Tag"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("k1", "v1"), ("k2", "v 2")]
    grants = client.get_object_acl(Bucket=bucket, Key=key)["AccessControlList"]["Grant"]
    grants = grants if isinstance(grants, list) else [grants]
    assert any(g["Permission"] == "READ" for g in grants), grants

    # PUT over an appendable object makes it normal.
    client.put_object(Bucket=bucket, Key=key, Body=b"replaced")
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["x-cos-object-type"] == "normal"
    assert "x-cos-next-append-position" not in head
    with pytest.raises(CosServiceError) as e:
        client.append_object(Bucket=bucket, Key=key, Position=8, Data=b"x")
    assert_error(service_error(e), 409, "ObjectNotAppendable")


def test_append_download_file_checks_crc(client, bucket, tmp_path):
    """download_file(EnableCRC=True) compares the CRC-64 from HEAD with the bytes."""
    data = bytes(range(256)) * 300
    pos = 0
    for i in range(0, len(data), 10_000):
        r = client.append_object(Bucket=bucket, Key="big.bin", Position=pos, Data=data[i:i + 10_000])
        pos = int(r["x-cos-next-append-position"])
    out = tmp_path / "big.bin"
    client.download_file(Bucket=bucket, Key="big.bin", DestFilePath=str(out), EnableCRC=True,
                         PartSize=1, MAXThread=4)
    assert out.read_bytes() == data


def test_oss2_append_object(server, bucket):
    ob = oss2.Bucket(oss2.AuthV4(SECRET_ID, SECRET_KEY), server.url, bucket, region="cn-hangzhou")
    first = ob.append_object("oss/append.txt", 0, b"hello ", init_crc=0)
    assert first.next_position == 6
    assert first.crc == crc64(b"hello ")
    # init_crc makes oss2 check the whole object's CRC-64 on the response.
    second = ob.append_object("oss/append.txt", first.next_position, b"oss", init_crc=first.crc)
    assert second.next_position == 9
    assert second.crc == crc64(b"hello oss")
    meta = ob.head_object("oss/append.txt")
    assert meta.object_type == "Appendable"
    assert meta.headers["x-oss-next-append-position"] == "9"
    assert ob.get_object("oss/append.txt").read() == b"hello oss"

    with pytest.raises(oss2.exceptions.PositionNotEqualToLength) as e:
        ob.append_object("oss/append.txt", 3, b"x")
    assert e.value.status == 409
    assert e.value.headers["x-oss-next-append-position"] == "9"

    ob.put_object("oss/normal.txt", b"data")
    with pytest.raises(oss2.exceptions.ObjectNotAppendable) as e:
        ob.append_object("oss/normal.txt", 4, b"x")
    assert e.value.status == 409
    assert ob.head_object("oss/normal.txt").object_type == "Normal"
