"""POST Object (browser form upload) against a real localcos: boto3's
generate_presigned_post posted with requests (S3 SigV4 form, s3.md §1.4), a COS
form signed by hand per cos.md §1.9 and posted with requests, anonymous forms
on a public-read-write bucket. The objects are read back with the SDKs."""

import base64
import hashlib
import hmac
import json
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from conftest import SECRET_ID, SECRET_KEY, bucket_host
from s3_helpers import empty_and_delete_s3_bucket, new_s3_bucket_name, s3_client


def session() -> requests.Session:
    """requests without the machine's proxy variables (NOTES 21)."""
    s = requests.Session()
    s.trust_env = False
    return s


@pytest.fixture(scope="module")
def s3(server):
    return s3_client(server)


@pytest.fixture
def s3_bucket(s3):
    name = new_s3_bucket_name("form")
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_s3_bucket(s3, name)


@pytest.mark.parametrize("signature_version", ["s3v4", None])
def test_boto3_presigned_post(server, s3, s3_bucket, signature_version):
    """s3v4: a SigV4 form (x-amz-credential, x-amz-signature); boto3's default
    for presigned posts without a configured version is the SigV2 form
    (AWSAccessKeyId, signature)."""
    signer = s3_client(server, signature_version=signature_version) if signature_version else s3
    post = signer.generate_presigned_post(
        Bucket=s3_bucket,
        Key="uploads/${filename}",
        Fields={
            "Content-Type": "text/plain",
            "x-amz-meta-tool": "boto3",
            "success_action_status": "201",
        },
        Conditions=[
            {"Content-Type": "text/plain"},
            {"x-amz-meta-tool": "boto3"},
            {"success_action_status": "201"},
            ["content-length-range", 1, 64],
        ],
        ExpiresIn=600,
    )
    data = b"hello from a browser form\n"
    r = session().post(post["url"], data=post["fields"], files={"file": ("hello.txt", data)})
    assert r.status_code == 201, r.text
    assert r.headers["x-amz-request-id"]
    assert "x-cos-request-id" not in r.headers
    doc = ET.fromstring(r.content)
    assert doc.tag == "PostResponse"
    assert doc.findtext("Bucket") == s3_bucket
    assert doc.findtext("Key") == "uploads/hello.txt"
    etag = '"%s"' % hashlib.md5(data).hexdigest()
    assert doc.findtext("ETag") == etag
    assert r.headers["ETag"] == etag
    assert doc.findtext("Location").endswith(f"/{s3_bucket}/uploads/hello.txt")

    got = s3.get_object(Bucket=s3_bucket, Key="uploads/hello.txt")
    assert got["Body"].read() == data
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"tool": "boto3"}

    # content-length-range: 65 bytes is one too many; nothing is stored.
    r = session().post(post["url"], data=post["fields"], files={"file": ("big.txt", b"x" * 65)})
    assert r.status_code == 400, r.text
    assert ET.fromstring(r.content).findtext("Code") == "EntityTooLarge"
    assert r.headers["x-amz-request-id"]
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=s3_bucket, Key="uploads/big.txt")

    # A field changed after signing: the policy refuses it.
    fields = dict(post["fields"], **{"Content-Type": "text/html"})
    r = session().post(post["url"], data=fields, files={"file": ("x.txt", b"x")})
    assert r.status_code == 403, r.text
    assert ET.fromstring(r.content).findtext("Code") == "AccessDenied"

    # The signature itself tampered with.
    if signature_version == "s3v4":
        assert "x-amz-credential" in post["fields"]
        fields = dict(post["fields"], **{"x-amz-signature": "0" * 64})
    else:
        assert "AWSAccessKeyId" in post["fields"]
        fields = dict(post["fields"], signature=base64.b64encode(b"0" * 20).decode())
    r = session().post(post["url"], data=fields, files={"file": ("x.txt", b"x")})
    assert r.status_code == 403, r.text
    assert ET.fromstring(r.content).findtext("Code") == "SignatureDoesNotMatch", r.text


def cos_form(key: str, conditions: list, expires_in: int = 600, **extra) -> dict:
    """Form fields signed as cos.md §1.9 describes (COS docs, POST Object)."""
    now = int(time.time())
    key_time = f"{now - 60};{now + expires_in}"
    expiration = (datetime.now(timezone.utc) + timedelta(seconds=expires_in)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    policy = json.dumps(
        {
            "expiration": expiration,
            "conditions": conditions
            + [
                {"q-sign-algorithm": "sha1"},
                {"q-ak": SECRET_ID},
                {"q-sign-time": key_time},
            ],
        }
    )
    sign_key = hmac.new(SECRET_KEY.encode(), key_time.encode(), hashlib.sha1).hexdigest()
    string_to_sign = hashlib.sha1(policy.encode()).hexdigest()
    signature = hmac.new(sign_key.encode(), string_to_sign.encode(), hashlib.sha1).hexdigest()
    fields = {"key": key}
    fields.update(extra)
    fields.update(
        {
            "policy": base64.b64encode(policy.encode()).decode(),
            "q-sign-algorithm": "sha1",
            "q-ak": SECRET_ID,
            "q-key-time": key_time,
            "q-signature": signature,
        }
    )
    return fields


def post_cos(server, bucket, fields, filename="f.bin", data=b"data"):
    return session().post(
        server.url + "/",
        headers={"Host": bucket_host(bucket)},
        data=fields,
        files={"file": (filename, data, "application/x-ignored")},
        allow_redirects=False,
    )


def test_cos_form_signed_by_hand(server, client, bucket):
    data = b"\x00\x01 cos form bytes " * 100
    fields = cos_form(
        "photos/${filename}",
        [
            {"bucket": bucket},
            ["starts-with", "$key", "photos/"],
            ["starts-with", "$Content-Type", "image/"],
            ["content-length-range", 1, 10_000],
        ],
        **{
            "Content-Type": "image/jpeg",
            "x-cos-meta-camera": "x100",
            "x-cos-storage-class": "STANDARD_IA",
            "acl": "public-read",
        },
    )
    r = post_cos(server, bucket, fields, "cat.jpg", data)
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert r.headers["x-cos-request-id"]
    assert r.headers["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
    assert r.headers["Location"] == f"http://{bucket_host(bucket)}/photos/cat.jpg"

    got = client.get_object(Bucket=bucket, Key="photos/cat.jpg")
    assert got["Body"].get_raw_stream().read() == data
    assert got["Content-Type"] == "image/jpeg"
    assert got["x-cos-meta-camera"] == "x100"
    assert got["x-cos-storage-class"] == "STANDARD_IA"
    # acl=public-read: an anonymous GET reads it.
    anon = session().get(server.url + "/photos/cat.jpg", headers={"Host": bucket_host(bucket)})
    assert anon.status_code == 200
    assert anon.content == data

    # Redirect: 303 to the given URL with bucket, key and ETag.
    fields = cos_form(
        "r.txt", [], success_action_redirect="https://example.com/done"
    )
    r = post_cos(server, bucket, fields, "r.txt", b"r")
    assert r.status_code == 303, r.text
    loc = urlsplit(r.headers["Location"])
    assert (loc.scheme, loc.netloc, loc.path) == ("https", "example.com", "/done")
    assert parse_qs(loc.query) == {
        "bucket": [bucket],
        "key": ["r.txt"],
        "etag": ['"%s"' % hashlib.md5(b"r").hexdigest()],
    }

    # Failures, each a COS XML error.
    cases = [
        (cos_form("photos/x", [["starts-with", "$key", "other/"]]), 403, "AccessDenied"),
        (cos_form("photos/x", [], expires_in=-30), 403, "AccessDenied"),
        (dict(cos_form("photos/x", []), **{"q-signature": "0" * 40}), 403, "SignatureDoesNotMatch"),
        (cos_form("photos/x", [["content-length-range", 10, 20]]), 400, "EntityTooSmall"),
    ]
    for fields, status, code in cases:
        r = post_cos(server, bucket, fields, "x", b"tiny")
        assert r.status_code == status, r.text
        doc = ET.fromstring(r.content)
        assert doc.findtext("Code") == code, r.text
        assert doc.findtext("Message") and doc.findtext("RequestId") and doc.findtext("Resource")
        assert r.headers["x-cos-request-id"]
    assert "Contents" not in client.list_objects(Bucket=bucket, Prefix="photos/x")


def test_anonymous_form_needs_public_read_write(server, client, bucket):
    fields = {"key": "anon/${filename}"}
    r = post_cos(server, bucket, fields, "a.txt", b"anon")
    assert r.status_code == 403, r.text
    assert ET.fromstring(r.content).findtext("Code") == "AccessDenied"
    client.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    r = post_cos(server, bucket, fields, "a.txt", b"anon")
    assert r.status_code == 204, r.text
    got = client.get_object(Bucket=bucket, Key="anon/a.txt")
    assert got["Body"].get_raw_stream().read() == b"anon"
