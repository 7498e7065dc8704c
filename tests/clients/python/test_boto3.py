"""boto3 (botocore's SigV4, default checksum settings) against a real localcos:
the S3 surface in path and virtual-hosted style, transfers, pre-signed URLs
(SigV4 and SigV2), S3 error shapes, and metadata shared with COS clients."""

import hashlib
import os

import boto3.s3.transfer
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import APPID, read_body
from s3_helpers import (
    empty_and_delete_s3_bucket,
    new_s3_bucket_name,
    s3_client,
    s3_session,
)


@pytest.fixture(scope="module")
def s3(server):
    return s3_client(server)


@pytest.fixture
def s3_bucket(s3):
    name = new_s3_bucket_name()
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_s3_bucket(s3, name)


def error_of(excinfo):
    err = excinfo.value
    assert isinstance(err, ClientError), err
    return err.response


def assert_s3_headers(meta):
    h = meta["HTTPHeaders"]
    assert meta["RequestId"], meta
    assert h["x-amz-request-id"] == meta["RequestId"]
    assert h["x-amz-id-2"]
    assert h["server"] == "AmazonS3"
    assert "x-cos-request-id" not in h


def test_buckets(s3):
    name = new_s3_bucket_name()
    # us-east-1 style: no CreateBucketConfiguration at all.
    resp = s3.create_bucket(Bucket=name)
    assert_s3_headers(resp["ResponseMetadata"])
    try:
        s3.head_bucket(Bucket=name)
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert name in names
        # The configured region, since the client named none.
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "ap-guangzhou"
        with pytest.raises(ClientError) as e:
            s3.create_bucket(Bucket=name)
        assert error_of(e)["Error"]["Code"] == "BucketAlreadyOwnedByYou"
        s3.put_object(Bucket=name, Key="k", Body=b"x")
        with pytest.raises(ClientError) as e:
            s3.delete_bucket(Bucket=name)
        assert error_of(e)["Error"]["Code"] == "BucketNotEmpty"
        assert error_of(e)["ResponseMetadata"]["HTTPStatusCode"] == 409
        s3.delete_object(Bucket=name, Key="k")
    finally:
        s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert error_of(e)["Error"]["Code"] == "404"
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=name)
    resp = error_of(e)
    assert resp["Error"]["Code"] == "NoSuchBucket"
    assert resp["Error"]["Resource"] == f"/{name}"
    assert_s3_headers(resp["ResponseMetadata"])


def test_create_bucket_with_location_constraint(server):
    for region in ("ap-guangzhou", "eu-central-1"):
        s3r = s3_session().client(
            "s3", endpoint_url=server.url, region_name=region,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
        name = new_s3_bucket_name("loc")
        s3r.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        try:
            assert s3r.get_bucket_location(Bucket=name)["LocationConstraint"] == region
            head = s3r.head_bucket(Bucket=name)
            assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == region
        finally:
            s3r.delete_bucket(Bucket=name)


def test_objects_and_metadata(s3, s3_bucket):
    body = b"hello from boto3\n" * 100
    put = s3.put_object(Bucket=s3_bucket, Key="dir/a b+c.txt", Body=body,
                        ContentType="text/plain", CacheControl="max-age=60",
                        Metadata={"Camel-Case": "Mixed Value", "color": "blue"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert_s3_headers(put["ResponseMetadata"])
    got = s3.get_object(Bucket=s3_bucket, Key="dir/a b+c.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentLength"] == len(body)
    assert got["Metadata"] == {"camel-case": "Mixed Value", "color": "blue"}
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=s3_bucket, Key="dir/a b+c.txt")
    assert head["ContentLength"] == len(body)
    assert head["Metadata"]["color"] == "blue"
    # Range and response-* overrides.
    part = s3.get_object(Bucket=s3_bucket, Key="dir/a b+c.txt", Range="bytes=6-9",
                         ResponseContentType="application/x-test",
                         ResponseContentDisposition='attachment; filename="x.txt"')
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["ContentRange"] == f"bytes 6-9/{len(body)}"
    assert part["Body"].read() == body[6:10]
    assert part["ContentType"] == "application/x-test"
    assert part["ContentDisposition"] == 'attachment; filename="x.txt"'
    # Conditionals.
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=s3_bucket, Key="dir/a b+c.txt", IfNoneMatch=put["ETag"])
    assert error_of(e)["Error"]["Code"] == "304"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=s3_bucket, Key="dir/a b+c.txt", IfMatch='"0000"')
    resp = error_of(e)
    assert resp["Error"]["Code"] == "PreconditionFailed"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 412
    # Missing keys: NoSuchKey on GET, a bare 404 on HEAD.
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=s3_bucket, Key="missing")
    resp = error_of(e)
    assert resp["Error"]["Code"] == "NoSuchKey"
    assert resp["Error"]["Message"]
    assert resp["ResponseMetadata"]["HostId"]
    assert_s3_headers(resp["ResponseMetadata"])
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=s3_bucket, Key="missing")
    assert error_of(e)["Error"]["Code"] == "404"
    # Delete.
    s3.delete_object(Bucket=s3_bucket, Key="dir/a b+c.txt")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=s3_bucket, Key="dir/a b+c.txt")


def test_conditional_put(s3, s3_bucket):
    first = s3.put_object(Bucket=s3_bucket, Key="cond", Body=b"one", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=s3_bucket, Key="cond", Body=b"two", IfNoneMatch="*")
    resp = error_of(e)
    assert resp["Error"]["Code"] == "PreconditionFailed"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=s3_bucket, Key="cond", Body=b"two", IfMatch='"0000"')
    assert error_of(e)["Error"]["Code"] == "PreconditionFailed"
    s3.put_object(Bucket=s3_bucket, Key="cond", Body=b"three", IfMatch=first["ETag"])
    assert s3.get_object(Bucket=s3_bucket, Key="cond")["Body"].read() == b"three"


def test_copy_object(s3, s3_bucket):
    s3.put_object(Bucket=s3_bucket, Key="src dir/src+1.txt", Body=b"copy me",
                  Metadata={"k": "v"}, ContentType="text/plain")
    out = s3.copy_object(Bucket=s3_bucket, Key="dst.txt",
                         CopySource={"Bucket": s3_bucket, "Key": "src dir/src+1.txt"})
    assert out["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"copy me").hexdigest()}"'
    assert out["CopyObjectResult"]["LastModified"]
    head = s3.head_object(Bucket=s3_bucket, Key="dst.txt")
    assert head["Metadata"] == {"k": "v"}
    # REPLACE takes the request's metadata.
    s3.copy_object(Bucket=s3_bucket, Key="dst.txt", MetadataDirective="REPLACE",
                   Metadata={"new": "1"}, ContentType="application/json",
                   CopySource={"Bucket": s3_bucket, "Key": "src dir/src+1.txt"})
    head = s3.head_object(Bucket=s3_bucket, Key="dst.txt")
    assert head["Metadata"] == {"new": "1"}
    assert head["ContentType"] == "application/json"
    # A missing source is S3's NoSuchKey.
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=s3_bucket, Key="x", CopySource={"Bucket": s3_bucket, "Key": "nope"})
    assert error_of(e)["Error"]["Code"] == "NoSuchKey"


def test_listings(s3, s3_bucket):
    keys = ["a/1.txt", "a/2.txt", "b/deep/3.txt", "c d+e.txt", "unicode/日本語.txt", "z"]
    for k in keys:
        s3.put_object(Bucket=s3_bucket, Key=k, Body=k.encode())
    # V1 with a delimiter (boto3 asks for encoding-type=url and decodes).
    v1 = s3.list_objects(Bucket=s3_bucket, Delimiter="/")
    assert [c["Prefix"] for c in v1["CommonPrefixes"]] == ["a/", "b/", "unicode/"]
    assert [o["Key"] for o in v1["Contents"]] == ["c d+e.txt", "z"]
    assert v1["Contents"][0]["Size"] == len("c d+e.txt")
    assert v1["Contents"][0]["Owner"]["ID"]
    # V2 pagination through the paginator (continuation tokens), all keys.
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=s3_bucket,
                                                             PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    assert [o["Key"] for p in pages for o in p["Contents"]] == sorted(keys)
    assert all(p["KeyCount"] == 2 for p in pages)
    assert "Owner" not in pages[0]["Contents"][0]
    # StartAfter, FetchOwner, Prefix.
    v2 = s3.list_objects_v2(Bucket=s3_bucket, StartAfter="b/deep/3.txt", FetchOwner=True)
    assert [o["Key"] for o in v2["Contents"]] == ["c d+e.txt", "unicode/日本語.txt", "z"]
    assert v2["StartAfter"] == "b/deep/3.txt"
    assert v2["Contents"][0]["Owner"]["ID"]
    v2 = s3.list_objects_v2(Bucket=s3_bucket, Prefix="unicode/")
    assert [o["Key"] for o in v2["Contents"]] == ["unicode/日本語.txt"]
    assert v2["KeyCount"] == 1 and v2["IsTruncated"] is False
    # DeleteObjects (boto3 sends a CRC32 checksum header).
    out = s3.delete_objects(Bucket=s3_bucket,
                            Delete={"Objects": [{"Key": k} for k in keys] + [{"Key": "never"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == sorted(keys + ["never"])
    assert "Errors" not in out
    assert s3.list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0


def test_virtual_hosted_style(server, s3_bucket):
    """`<bucket>.s3.us-east-1.amazonaws.com` through localcos as HTTP proxy."""
    vs3 = s3_client(server, addressing="virtual", endpoint="http://s3.us-east-1.amazonaws.com",
                    proxies={"http": server.url})
    put = vs3.put_object(Bucket=s3_bucket, Key="virtual/key.txt", Body=b"virtual")
    host = put["ResponseMetadata"]["HTTPHeaders"]
    assert host["server"] == "AmazonS3"
    got = vs3.get_object(Bucket=s3_bucket, Key="virtual/key.txt")
    assert got["Body"].read() == b"virtual"
    listed = vs3.list_objects_v2(Bucket=s3_bucket, Prefix="virtual/")
    assert [o["Key"] for o in listed["Contents"]] == ["virtual/key.txt"]
    assert vs3.head_bucket(Bucket=s3_bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    vs3.delete_object(Bucket=s3_bucket, Key="virtual/key.txt")


def test_upload_file_download_file(s3, s3_bucket, tmp_path):
    data = os.urandom(5 * 1024 * 1024 + 17)
    src = tmp_path / "up.bin"
    src.write_bytes(data)
    # Below the default 8 MiB multipart threshold: one PutObject (multipart
    # arrives with its own issue).
    s3.upload_file(str(src), s3_bucket, "transfer/up.bin")
    dest = tmp_path / "down.bin"
    cfg = boto3.s3.transfer.TransferConfig(multipart_chunksize=1024 * 1024, max_concurrency=4,
                                           multipart_threshold=1024 * 1024)
    # Above the threshold: download_file fetches ranges in parallel.
    s3.download_file(s3_bucket, "transfer/up.bin", str(dest), Config=cfg)
    assert dest.read_bytes() == data


def test_presigned_urls(server, s3, s3_bucket):
    s3.put_object(Bucket=s3_bucket, Key="pre/signed file.txt", Body=b"presigned body")
    v4 = s3_client(server, signature_version="s3v4")
    url = v4.generate_presigned_url("get_object", Params={"Bucket": s3_bucket,
                                                         "Key": "pre/signed file.txt"},
                                    ExpiresIn=600)
    assert "X-Amz-Signature=" in url
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b"presigned body"
    # SigV2 query auth: botocore's default for presigned S3 URLs (and what
    # `aws s3 presign` and signature_version='s3' produce).
    url = s3.generate_presigned_url("get_object", Params={"Bucket": s3_bucket,
                                                         "Key": "pre/signed file.txt"},
                                    ExpiresIn=600)
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b"presigned body"
    # A tampered URL: S3's SignatureDoesNotMatch, in S3's XML.
    r = requests.get(url.replace("signed%20file", "signed%20filX"), timeout=30)
    assert r.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in r.text
    assert r.headers["x-amz-request-id"]


def test_wrong_secret_reports_string_to_sign(server):
    bad = s3_session().client(
        "s3", endpoint_url=server.url, aws_secret_access_key="wrong-secret",
        aws_access_key_id=s3_session().get_credentials().access_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        bad.list_buckets()
    resp = error_of(e)
    assert resp["Error"]["Code"] == "SignatureDoesNotMatch"
    assert resp["Error"]["StringToSign"].startswith("AWS4-HMAC-SHA256\n")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_metadata_is_shared_with_cos(server, s3, s3_bucket, client):
    """x-amz-meta-* written through S3 reads back as x-cos-meta-* through COS, and the
    suffix-less S3 bucket is reached through its COS name `<name>-<appid>`."""
    s3.put_object(Bucket=s3_bucket, Key="shared.txt", Body=b"shared", Metadata={"foo": "bar"})
    for cos_name in (s3_bucket, f"{s3_bucket}-{APPID}"):
        got = client.get_object(Bucket=cos_name, Key="shared.txt")
        assert got["x-cos-meta-foo"] == "bar"
        assert "x-amz-meta-foo" not in got
        assert got["Server"] == "tencent-cos"
        assert read_body(got) == b"shared"
    # And the other way: COS metadata reads back as x-amz-meta-* through S3.
    client.put_object(Bucket=f"{s3_bucket}-{APPID}", Key="from-cos.txt", Body=b"cos",
                      Metadata={"x-cos-meta-origin": "cos"})
    head = s3.head_object(Bucket=s3_bucket, Key="from-cos.txt")
    assert head["Metadata"] == {"origin": "cos"}
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-meta-origin"] == "cos"


def test_cos_bucket_through_s3(s3, client, bucket):
    """A COS bucket (`<name>-<appid>`) is used by S3 tools under its full name."""
    client.put_object(Bucket=bucket, Key="k", Body=b"from cos")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"from cos"
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_multipart_answers_in_s3_shape(s3, s3_bucket):
    """Multipart is routed and answered with S3's headers (the full surface is
    in test_s3_multipart.py)."""
    created = s3.create_multipart_upload(Bucket=s3_bucket, Key="mp")
    assert_s3_headers(created["ResponseMetadata"])
    aborted = s3.abort_multipart_upload(Bucket=s3_bucket, Key="mp", UploadId=created["UploadId"])
    assert aborted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket=s3_bucket, Key="mp", UploadId=created["UploadId"])
    resp = error_of(e)
    assert resp["Error"]["Code"] == "NoSuchUpload"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert_s3_headers(resp["ResponseMetadata"])


def test_public_read_acl_and_anonymous_family(server, s3, s3_bucket):
    """x-amz-acl reaches the ACL layer; an anonymous request answers in the family
    its Host names (an S3 host → S3 headers and error XML)."""
    s3.put_object(Bucket=s3_bucket, Key="public.txt", Body=b"for everyone", ACL="public-read")
    s3.put_object(Bucket=s3_bucket, Key="private.txt", Body=b"owner only",
                  ACL="bucket-owner-full-control")
    proxies = {"http": server.url}
    r = requests.get(f"http://{s3_bucket}.s3.amazonaws.com/public.txt", proxies=proxies,
                     timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b"for everyone"
    assert r.headers["Server"] == "AmazonS3"
    assert r.headers["x-amz-request-id"]
    r = requests.get(f"http://{s3_bucket}.s3.amazonaws.com/private.txt", proxies=proxies,
                     timeout=30)
    assert r.status_code == 403
    assert "<Code>AccessDenied</Code>" in r.text and "<HostId>" in r.text
    assert "x-cos-request-id" not in r.headers


def test_sse_headers_through_s3(s3, s3_bucket):
    """x-amz-server-side-encryption* reach COS's SSE and come back under S3 names."""
    put = s3.put_object(Bucket=s3_bucket, Key="sse-s3", Body=b"secret", ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    head = s3.head_object(Bucket=s3_bucket, Key="sse-s3")
    assert head["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=s3_bucket, Key="sse-s3")["Body"].read() == b"secret"
    key = os.urandom(32)
    s3.put_object(Bucket=s3_bucket, Key="sse-c", Body=b"customer", SSECustomerAlgorithm="AES256",
                  SSECustomerKey=key)
    got = s3.get_object(Bucket=s3_bucket, Key="sse-c", SSECustomerAlgorithm="AES256",
                        SSECustomerKey=key)
    assert got["SSECustomerAlgorithm"] == "AES256"
    assert got["Body"].read() == b"customer"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=s3_bucket, Key="sse-c")
    assert error_of(e)["ResponseMetadata"]["HTTPStatusCode"] == 400
