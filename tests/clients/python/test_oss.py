"""Alibaba OSS clients against a running localcos: oss2 (V1 `oss2.Auth` and V4
`oss2.AuthV4`, region cn-hangzhou) and alibabacloud-oss-v2 (V4), spec oss.md.

Both SDKs address a bucket on an IP endpoint path style
(`http://127.0.0.1:PORT/<bucket>/<key>`), so no Host rewriting is needed.
Buckets are created through COS (the `bucket` fixture, `tNNN…-1250000000`);
OSS uses the same name as given, so what OSS writes is what COS reads.
Pre-signed URLs are fetched with plain `requests`.
"""

import base64
import copy
import datetime
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import alibabacloud_oss_v2 as ossv2
import oss2
import pytest
import requests

from conftest import SECRET_ID, SECRET_KEY, crc64

REGION = "cn-hangzhou"
BODY = bytes(range(256)) * 40 + b"end of oss body"
KEY = "oss/dir/file name+1.bin"


def oss2_bucket(server, bucket, v4=True):
    auth = oss2.AuthV4(SECRET_ID, SECRET_KEY) if v4 else oss2.Auth(SECRET_ID, SECRET_KEY)
    return oss2.Bucket(auth, server.url, bucket, region=REGION)


@pytest.fixture(params=["v4", "v1"])
def ob(request, server, bucket):
    """An oss2 Bucket over the fresh COS bucket, signing with V4 or V1."""
    return oss2_bucket(server, bucket, v4=request.param == "v4")


@pytest.fixture
def v2(server):
    cfg = ossv2.config.load_default()
    cfg.endpoint = server.url
    cfg.region = REGION
    cfg.credentials_provider = ossv2.credentials.StaticCredentialsProvider(SECRET_ID, SECRET_KEY)
    return ossv2.Client(cfg)


def oss_error(r):
    """The OSS error body of a plain-HTTP response: (Code, fields)."""
    root = ET.fromstring(r.content)
    assert root.tag == "Error", r.text
    assert "xmlns" not in r.text.split("?>", 1)[-1].split(">", 1)[0], r.text
    fields = {child.tag: child.text for child in root}
    for need in ("Code", "Message", "RequestId", "HostId"):
        assert fields.get(need), f"{need} missing in {r.text}"
    assert r.headers["x-oss-request-id"] == fields["RequestId"]
    assert r.headers["Server"] == "AliyunOSS"
    return fields["Code"], fields


# -- oss2: object round trips, both signature versions ------------------------


def test_oss2_put_get_head_delete(ob, client, bucket):
    put = ob.put_object(KEY, BODY, headers={"x-oss-meta-color": "blue", "Content-Type": "application/x-test"})
    assert put.status == 200
    assert put.request_id and put.resp.headers["x-oss-request-id"] == put.request_id
    assert put.crc == crc64(BODY), "x-oss-hash-crc64ecma of the upload"
    assert put.etag

    got = ob.get_object(KEY)
    assert got.read() == BODY  # oss2 also checks the CRC-64 of the download
    assert got.headers["x-oss-meta-color"] == "blue"
    assert got.headers["Content-Type"] == "application/x-test"
    assert got.headers["Server"] == "AliyunOSS"
    assert int(got.headers["x-oss-hash-crc64ecma"]) == crc64(BODY)
    assert not any(h.lower().startswith("x-cos-") for h in got.headers), dict(got.headers)

    head = ob.head_object(KEY)
    assert head.status == 200
    assert head.content_length == len(BODY)
    assert head.etag == put.etag
    assert head.headers["x-oss-meta-color"] == "blue"
    assert head.object_type == "Normal"

    # The same object through COS: x-oss-meta-* is stored as x-cos-meta-*.
    cos_head = client.head_object(Bucket=bucket, Key=KEY)
    assert cos_head["x-cos-meta-color"] == "blue"
    assert client.get_object(Bucket=bucket, Key=KEY)["Body"].get_raw_stream().read() == BODY

    ob.delete_object(KEY)
    with pytest.raises(oss2.exceptions.NoSuchKey) as e:
        ob.get_object(KEY)
    assert e.value.status == 404
    assert e.value.request_id
    assert not ob.object_exists(KEY)


def test_cos_metadata_reads_back_through_oss(ob, client, bucket):
    client.put_object(Bucket=bucket, Key="from-cos.txt", Body=b"cos", Metadata={"x-cos-meta-origin": "cos"})
    head = ob.head_object("from-cos.txt")
    assert head.headers["x-oss-meta-origin"] == "cos"
    assert "x-cos-meta-origin" not in head.headers


def test_oss2_range_and_response_overrides(ob):
    ob.put_object(KEY, BODY)
    part = ob.get_object(KEY, byte_range=(10, 19))
    assert part.status == 206
    assert part.read() == BODY[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(BODY)}"
    over = ob.get_object(
        KEY,
        params={
            "response-content-disposition": 'attachment; filename="x y.bin"',
            "response-content-type": "text/x-override",
            "response-cache-control": "no-cache",
        },
    )
    assert over.read() == BODY
    assert over.headers["Content-Disposition"] == 'attachment; filename="x y.bin"'
    assert over.headers["Content-Type"] == "text/x-override"
    assert over.headers["Cache-Control"] == "no-cache"


def test_oss2_awkward_keys(ob):
    for key in ["a+b%20c.txt", "dir/sub dir/file with spaces.txt", "中文/键.txt", "a//b/./c"]:
        ob.put_object(key, key.encode())
        assert ob.get_object(key).read() == key.encode(), key
        ob.delete_object(key)


def test_oss2_list_objects_v1_and_v2(ob):
    keys = ["photos/2024/a.jpg", "photos/2024/b.jpg", "photos/c.jpg", "readme.txt"]
    for k in keys:
        ob.put_object(k, k.encode())

    listing = ob.list_objects(prefix="photos/", delimiter="/")
    assert [o.key for o in listing.object_list] == ["photos/c.jpg"]
    assert listing.prefix_list == ["photos/2024/"]
    assert not listing.is_truncated
    o = listing.object_list[0]
    assert o.size == len(b"photos/c.jpg")
    assert o.type == "Normal"
    assert o.storage_class == "Standard"

    page = ob.list_objects(max_keys=2)
    assert [o.key for o in page.object_list] == keys[:2]
    assert page.is_truncated and page.next_marker == keys[1]
    rest = ob.list_objects(marker=page.next_marker)
    assert [o.key for o in rest.object_list] == keys[2:]

    v2list = ob.list_objects_v2(prefix="photos/", delimiter="/")
    assert [o.key for o in v2list.object_list] == ["photos/c.jpg"]
    assert v2list.prefix_list == ["photos/2024/"]
    first = ob.list_objects_v2(max_keys=3)
    assert [o.key for o in first.object_list] == keys[:3]
    assert first.is_truncated
    second = ob.list_objects_v2(continuation_token=first.next_continuation_token)
    assert [o.key for o in second.object_list] == keys[3:]
    assert not second.is_truncated
    after = ob.list_objects_v2(start_after="photos/c.jpg")
    assert [o.key for o in after.object_list] == ["readme.txt"]
    # ObjectIterator pages through V1 listings.
    assert [o.key for o in oss2.ObjectIterator(ob, max_keys=1)] == keys


def test_oss2_errors_are_oss_xml(server, ob):
    # HEAD has no body: the error document comes base64-encoded in x-oss-err.
    with pytest.raises(oss2.exceptions.NoSuchKey) as e:
        ob.head_object("missing")
    assert e.value.status == 404 and e.value.code == "NoSuchKey"
    assert e.value.request_id
    with pytest.raises(oss2.exceptions.NoSuchKey) as e:
        ob.get_object("missing")
    assert e.value.code == "NoSuchKey"
    assert e.value.request_id
    missing = oss2.Bucket(oss2.AuthV4(SECRET_ID, SECRET_KEY), server.url, "no-such-bucket-oss", region=REGION)
    with pytest.raises(oss2.exceptions.NoSuchBucket) as e:
        missing.get_object("k")
    assert e.value.code == "NoSuchBucket"


def test_oss2_wrong_secret_is_refused(server, bucket):
    for auth in (oss2.AuthV4(SECRET_ID, "wrong-secret"), oss2.Auth(SECRET_ID, "wrong-secret")):
        b = oss2.Bucket(auth, server.url, bucket, region=REGION)
        with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as e:
            b.put_object("k", b"x")
        assert e.value.status == 403
    b = oss2.Bucket(oss2.AuthV4("LTAInobody", "x"), server.url, bucket, region=REGION)
    with pytest.raises(oss2.exceptions.ServerError) as e:
        b.get_object("k")
    assert e.value.status == 403 and e.value.code == "InvalidAccessKeyId"


def test_oss2_list_buckets(server, bucket):
    for auth in (oss2.AuthV4(SECRET_ID, SECRET_KEY), oss2.Auth(SECRET_ID, SECRET_KEY)):
        svc = oss2.Service(auth, server.url, region=REGION)
        listed = {b.name: b for b in svc.list_buckets().buckets}
        assert bucket in listed
        b = listed[bucket]
        assert b.location.startswith("oss-")
        assert b.extranet_endpoint and b.intranet_endpoint
        assert b.creation_date > 0


# -- pre-signed URLs fetched with plain HTTP -----------------------------------


def test_oss2_presigned_get(server, bucket):
    v4 = oss2_bucket(server, bucket, v4=True)
    v4.put_object(KEY, BODY)
    for signer in (v4, oss2_bucket(server, bucket, v4=False)):
        url = signer.sign_url("GET", KEY, 300, slash_safe=True)
        assert urlsplit(url).netloc == server.endpoint
        r = requests.get(url, timeout=30)
        assert r.status_code == 200, r.text
        assert r.content == BODY
        assert r.headers["x-oss-request-id"]
        # slash_safe=False: `/` in the key is sent as %2F.
        url = signer.sign_url("GET", KEY, 300, slash_safe=False)
        assert "%2F" in urlsplit(url).path
        r = requests.get(url, timeout=30)
        assert r.status_code == 200, r.text
        assert r.content == BODY


def test_oss2_presigned_get_with_overrides_and_range(server, bucket):
    v4 = oss2_bucket(server, bucket, v4=True)
    v4.put_object(KEY, BODY)
    params = {"response-content-disposition": 'attachment; filename="a b.bin"'}
    for signer in (v4, oss2_bucket(server, bucket, v4=False)):
        # sign_url mutates params (oss.md §3): give each signing its own copy.
        url = signer.sign_url(
            "GET", KEY, 300, headers={"Content-Type": "text/plain"}, params=copy.deepcopy(params), slash_safe=True
        )
        r = requests.get(url, headers={"Content-Type": "text/plain", "Range": "bytes=0-9"}, timeout=30)
        assert r.status_code == 206, r.text
        assert r.content == BODY[:10]
        assert r.headers["Content-Disposition"] == 'attachment; filename="a b.bin"'
        # The signed Content-Type must be sent again.
        r = requests.get(url, headers={"Content-Type": "text/html"}, timeout=30)
        assert r.status_code == 403
        assert oss_error(r)[0] == "SignatureDoesNotMatch"


def tamper(url, param):
    parts = urlsplit(url)
    q = parse_qsl(parts.query, keep_blank_values=True)
    out = []
    for k, v in q:
        if k == param:
            v = ("0" if v[0] != "0" else "1") + v[1:]
        out.append((k, v))
    return urlunsplit(parts._replace(query=urlencode(out)))


@pytest.mark.parametrize("version", ["v4", "v1"])
def test_presigned_tampered_and_expired_refused(server, bucket, version):
    signer = oss2_bucket(server, bucket, v4=version == "v4")
    signer.put_object(KEY, BODY)
    url = signer.sign_url("GET", KEY, 300, slash_safe=True)
    sig = "x-oss-signature" if version == "v4" else "Signature"
    r = requests.get(tamper(url, sig), timeout=30)
    assert r.status_code == 403, r.text
    assert oss_error(r)[0] == "SignatureDoesNotMatch"
    # Another key in the same URL.
    parts = urlsplit(url)
    r = requests.get(urlunsplit(parts._replace(path=parts.path + "x")), timeout=30)
    assert r.status_code == 403
    assert oss_error(r)[0] == "SignatureDoesNotMatch"

    short = signer.sign_url("GET", KEY, 1, slash_safe=True)
    time.sleep(2.2)
    r = requests.get(short, timeout=30)
    assert r.status_code == 403, r.text
    code, fields = oss_error(r)
    assert code == "AccessDenied"
    assert "expired" in fields["Message"].lower()


def test_v4_presign_beyond_seven_days_refused(server, bucket):
    signer = oss2_bucket(server, bucket, v4=True)
    signer.put_object(KEY, BODY)
    url = signer.sign_url("GET", KEY, 300, slash_safe=True)
    too_long = url.replace("x-oss-expires=300", "x-oss-expires=604801")
    r = requests.get(too_long, timeout=30)
    assert r.status_code in (400, 403), r.text
    oss_error(r)


# -- alibabacloud-oss-v2 ---------------------------------------------------------


def test_v2_put_get_head_delete_list(v2, client, bucket):
    put = v2.put_object(
        ossv2.PutObjectRequest(bucket=bucket, key=KEY, body=BODY, metadata={"color": "green"}, content_type="application/x-v2")
    )
    assert put.status_code == 200
    assert put.request_id
    assert int(put.hash_crc64) == crc64(BODY)

    got = v2.get_object(ossv2.GetObjectRequest(bucket=bucket, key=KEY))
    assert got.body.read() == BODY
    assert got.metadata == {"color": "green"}
    assert got.content_type == "application/x-v2"
    assert got.content_length == len(BODY)

    part = v2.get_object(ossv2.GetObjectRequest(bucket=bucket, key=KEY, range_header="bytes=5-9"))
    assert part.status_code == 206
    assert part.body.read() == BODY[5:10]

    over = v2.get_object(
        ossv2.GetObjectRequest(bucket=bucket, key=KEY, response_content_disposition="inline; filename=v.bin")
    )
    assert over.body.read() == BODY
    assert over.content_disposition == "inline; filename=v.bin"

    head = v2.head_object(ossv2.HeadObjectRequest(bucket=bucket, key=KEY))
    assert head.content_length == len(BODY)
    assert head.etag == put.etag
    assert head.metadata == {"color": "green"}
    assert client.head_object(Bucket=bucket, Key=KEY)["x-cos-meta-color"] == "green"

    v2.put_object(ossv2.PutObjectRequest(bucket=bucket, key="oss/other.txt", body=b"other"))
    listing = v2.list_objects_v2(ossv2.ListObjectsV2Request(bucket=bucket, prefix="oss/", delimiter="/"))
    assert [o.key for o in listing.contents] == ["oss/other.txt"]
    assert [p.prefix for p in listing.common_prefixes] == ["oss/dir/"]
    assert listing.key_count == 2
    v1listing = v2.list_objects(ossv2.ListObjectsRequest(bucket=bucket, prefix="oss/"))
    assert sorted(o.key for o in v1listing.contents) == sorted([KEY, "oss/other.txt"])
    assert all(o.size > 0 and o.etag for o in v1listing.contents)

    v2.delete_object(ossv2.DeleteObjectRequest(bucket=bucket, key=KEY))
    with pytest.raises(ossv2.exceptions.OperationError) as e:
        v2.head_object(ossv2.HeadObjectRequest(bucket=bucket, key=KEY))
    head_err = e.value.unwrap()
    assert head_err.status_code == 404 and head_err.code == "NoSuchKey"
    with pytest.raises(ossv2.exceptions.OperationError) as e:
        v2.get_object(ossv2.GetObjectRequest(bucket=bucket, key=KEY))
    err = e.value.unwrap()
    assert err.status_code == 404 and err.code == "NoSuchKey" and err.request_id
    assert err.ec == "0026-00000001"


def test_v2_presigned_get(v2, bucket):
    v2.put_object(ossv2.PutObjectRequest(bucket=bucket, key=KEY, body=BODY))
    res = v2.presign(ossv2.GetObjectRequest(bucket=bucket, key=KEY), expires=datetime.timedelta(seconds=300))
    assert "x-oss-signature=" in res.url
    r = requests.get(res.url, headers=res.signed_headers or {}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == BODY

    res = v2.presign(
        ossv2.GetObjectRequest(bucket=bucket, key=KEY, response_content_disposition="attachment; filename=p.bin"),
        expires=datetime.timedelta(days=7),
    )
    r = requests.get(res.url, headers={"Range": "bytes=1-3"}, timeout=30)
    assert r.status_code == 206, r.text
    assert r.content == BODY[1:4]
    assert r.headers["Content-Disposition"] == "attachment; filename=p.bin"

    r = requests.get(tamper(res.url, "x-oss-signature"), timeout=30)
    assert r.status_code == 403
    assert oss_error(r)[0] == "SignatureDoesNotMatch"


def test_v2_signature_v1(server, bucket):
    cfg = ossv2.config.load_default()
    cfg.endpoint = server.url
    cfg.region = REGION
    cfg.signature_version = "v1"
    cfg.credentials_provider = ossv2.credentials.StaticCredentialsProvider(SECRET_ID, SECRET_KEY)
    c = ossv2.Client(cfg)
    c.put_object(ossv2.PutObjectRequest(bucket=bucket, key="v1.txt", body=b"v1 body"))
    assert c.get_object(ossv2.GetObjectRequest(bucket=bucket, key="v1.txt")).body.read() == b"v1 body"
    res = c.presign(ossv2.GetObjectRequest(bucket=bucket, key="v1.txt"), expires=datetime.timedelta(seconds=60))
    assert "OSSAccessKeyId=" in res.url
    r = requests.get(res.url, timeout=30)
    assert r.status_code == 200 and r.content == b"v1 body"


# -- traffic limit ----------------------------------------------------------------


def test_traffic_limit_header_validated(ob):
    ob.put_object(KEY, BODY)
    # 100 KiB/s .. 100 MiB/s, in bit/s (OSS: 819200 .. 838860800).
    ok = ob.get_object(KEY, headers={"x-oss-traffic-limit": str(838860800)})
    assert ok.read() == BODY
    with pytest.raises(oss2.exceptions.ServerError) as e:
        ob.get_object(KEY, headers={"x-oss-traffic-limit": "1"})
    assert e.value.status == 400 and e.value.code == "InvalidArgument"


def test_traffic_limit_paces_downloads(server, ob):
    # 160 KiB at 100 KiB/s (819200 bit/s) cannot arrive in much under 1.6 s.
    body = bytes(range(256)) * 640
    ob.put_object("paced.bin", body)
    started = time.monotonic()
    got = ob.get_object("paced.bin", headers={"x-oss-traffic-limit": "819200"})
    assert got.read() == body
    assert time.monotonic() - started > 1.2
    # A pre-signed URL carries the limit as a signed parameter.
    url = ob.sign_url("GET", "paced.bin", 60, params={"x-oss-traffic-limit": "819200"}, slash_safe=True)
    started = time.monotonic()
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == body
    assert time.monotonic() - started > 1.2


def test_v1_header_is_base64_hmac(server, bucket):
    """A hand-made V1 header request (Date slot = Date header), as old clients send."""
    import hashlib
    import hmac
    from email.utils import formatdate

    oss2_bucket(server, bucket).put_object("hand.txt", b"hand")
    date = formatdate(usegmt=True)
    sts = f"GET\n\n\n{date}\n/{bucket}/hand.txt"
    sig = base64.b64encode(hmac.new(SECRET_KEY.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    r = requests.get(
        f"{server.url}/{bucket}/hand.txt", headers={"Date": date, "Authorization": f"OSS {SECRET_ID}:{sig}"}, timeout=30
    )
    assert r.status_code == 200, r.text
    assert r.content == b"hand"
