"""Multipart upload through cos-python-sdk-v5's low-level API (spec cos.md §3.3,
§6A.4, §6A.5): Initiate with every header the final object carries, Upload
Part (+ Copy), List Parts / List Multipart Uploads paging, Complete (ETag,
CRC-64, Location), Abort, and the documented errors as CosServiceError."""

import base64
import hashlib
import os
from email.utils import formatdate
from urllib.parse import unquote

import pytest
from qcloud_cos import CosServiceError

from conftest import (
    REGION,
    assert_error,
    crc64,
    md5_hex,
    read_body,
    service_error,
)
from mp_helpers import KEY2_B64, MiB, delete_everything, multipart_etag, new_bucket, ssec, upload_parts

@pytest.fixture
def mbucket(client):
    """A fresh bucket; open uploads and all versions are removed afterwards."""
    name = new_bucket(client)
    yield name
    delete_everything(client, name)


def initiate(client, bucket, key, **kw) -> str:
    rt = client.create_multipart_upload(Bucket=bucket, Key=key, **kw)
    assert rt["Bucket"] == bucket
    assert rt["Key"] == key
    assert rt["UploadId"]
    return rt["UploadId"]


def complete(client, bucket, key, upload_id, listed, **kw):
    return client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                            MultipartUpload={"Part": listed}, **kw)


def raises(status, code, fn, *args, **kw):
    with pytest.raises(CosServiceError) as ei:
        fn(*args, **kw)
    err = service_error(ei)
    assert_error(err, status, code)
    return err


# --- Initiate → Complete -----------------------------------------------------


def test_initiate_headers_reach_the_completed_object(client, mbucket):
    key = "carry/doc.bin"
    uid = initiate(client, mbucket, key, ContentType="application/x-localcos", CacheControl="max-age=60",
                   ContentDisposition="attachment; filename=doc.bin",
                   Metadata={"x-cos-meta-color": "blue", "x-cos-meta-n": "1"},
                   StorageClass="STANDARD_IA", ACL="public-read", Tagging="A=B&c=d")
    parts = [os.urandom(MiB), os.urandom(MiB + 17), os.urandom(1000)]
    listed = upload_parts(client, mbucket, key, uid, parts)
    whole = b"".join(parts)

    # The upload and its parts report the storage class given at Initiate.
    lp = client.list_parts(Bucket=mbucket, Key=key, UploadId=uid)
    assert lp["StorageClass"] == "STANDARD_IA"
    assert lp["Initiator"]["ID"] and lp["Owner"]["ID"]
    ups = client.list_multipart_uploads(Bucket=mbucket)["Upload"]
    assert [(u["Key"], u["UploadId"], u["StorageClass"]) for u in ups] == [(key, uid, "STANDARD_IA")]
    assert ups[0]["Initiated"].endswith("Z")

    rt = complete(client, mbucket, key, uid, listed)
    assert rt["ETag"] == multipart_etag(parts)
    assert rt["x-cos-hash-crc64ecma"] == str(crc64(whole))
    assert rt["Bucket"] == mbucket
    assert rt["Key"] == key
    assert rt["Location"] == f"http://{mbucket}.cos.{REGION}.myqcloud.com/{key}"
    assert rt["x-cos-request-id"]

    head = client.head_object(Bucket=mbucket, Key=key)
    assert head["Content-Length"] == str(len(whole))
    assert head["ETag"] == rt["ETag"]
    assert head["x-cos-hash-crc64ecma"] == str(crc64(whole))
    assert head["Content-Type"] == "application/x-localcos"
    assert head["Cache-Control"] == "max-age=60"
    assert head["Content-Disposition"] == "attachment; filename=doc.bin"
    assert head["x-cos-meta-color"] == "blue"
    assert head["x-cos-meta-n"] == "1"
    assert head["x-cos-storage-class"] == "STANDARD_IA"
    assert head["x-cos-tagging-count"] == "2"
    tags = client.get_object_tagging(Bucket=mbucket, Key=key)["TagSet"]["Tag"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("A", "B"), ("c", "d")]
    assert client.get_object_acl(Bucket=mbucket, Key=key)["CannedACL"] == "public-read"
    assert read_body(client.get_object(Bucket=mbucket, Key=key)) == whole
    listed_objs = client.list_objects(Bucket=mbucket)["Contents"]
    assert [(o["Key"], o["ETag"], o["Size"]) for o in listed_objs] == [(key, rt["ETag"], str(len(whole)))]
    # Complete removes the upload.
    assert "Upload" not in client.list_multipart_uploads(Bucket=mbucket)


def test_content_type_inferred_from_key_and_defaults(client, mbucket):
    key = "infer/page.html"
    uid = initiate(client, mbucket, key)
    listed = upload_parts(client, mbucket, key, uid, [b"<p>hi</p>"])
    complete(client, mbucket, key, uid, listed)
    head = client.head_object(Bucket=mbucket, Key=key)
    assert head["Content-Type"] == "text/html"
    assert "x-cos-storage-class" not in head  # STANDARD is not announced
    assert client.get_object_acl(Bucket=mbucket, Key=key)["CannedACL"] == "default"
    assert not (client.get_object_tagging(Bucket=mbucket, Key=key).get("TagSet") or {}).get("Tag")
    assert "x-cos-tagging-count" not in head


def test_single_small_part_completes(client, mbucket):
    # The doc sample: one 13-byte part is the last part, so any size goes.
    key = "one-part.txt"
    body = b"hello, world!"
    uid = initiate(client, mbucket, key)
    listed = upload_parts(client, mbucket, key, uid, [body])
    rt = complete(client, mbucket, key, uid, listed)
    assert rt["ETag"] == multipart_etag([body])
    assert rt["ETag"].endswith('-1"')
    assert read_body(client.get_object(Bucket=mbucket, Key=key)) == body


# --- Upload Part ---------------------------------------------------------------


def test_upload_part_etag_crc_and_md5(client, mbucket):
    key = "part/etag.bin"
    uid = initiate(client, mbucket, key)
    body = os.urandom(300_000)
    rt = client.upload_part(Bucket=mbucket, Key=key, Body=body, PartNumber=1, UploadId=uid)
    assert rt["ETag"] == f'"{md5_hex(body)}"'
    assert rt["x-cos-hash-crc64ecma"] == str(crc64(body))
    assert rt["x-cos-request-id"]
    # EnableMD5 sends Content-MD5; a part sent again replaces the first one.
    body2 = os.urandom(200_000)
    rt = client.upload_part(Bucket=mbucket, Key=key, Body=body2, PartNumber=1, UploadId=uid, EnableMD5=True)
    assert rt["ETag"] == f'"{md5_hex(body2)}"'
    parts = client.list_parts(Bucket=mbucket, Key=key, UploadId=uid)["Part"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [("1", f'"{md5_hex(body2)}"', "200000")]

    # A wrong Content-MD5 stores nothing.
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    raises(400, "BadDigest", client.upload_part, Bucket=mbucket, Key=key, Body=b"data", PartNumber=2,
           UploadId=uid, ContentMD5=wrong)
    parts = client.list_parts(Bucket=mbucket, Key=key, UploadId=uid)["Part"]
    assert [p["PartNumber"] for p in parts] == ["1"]


@pytest.mark.parametrize("number", [0, 10001, -1])
def test_part_number_out_of_range(client, mbucket, number):
    uid = initiate(client, mbucket, "pn.bin")
    raises(400, "InvalidArgument", client.upload_part, Bucket=mbucket, Key="pn.bin", Body=b"x",
           PartNumber=number, UploadId=uid)


def test_part_number_limits_accepted(client, mbucket):
    uid = initiate(client, mbucket, "pn.bin")
    for n in (1, 10000):
        rt = client.upload_part(Bucket=mbucket, Key="pn.bin", Body=b"x", PartNumber=n, UploadId=uid)
        assert rt["ETag"] == f'"{md5_hex(b"x")}"'
    nums = [p["PartNumber"] for p in client.list_parts(Bucket=mbucket, Key="pn.bin", UploadId=uid)["Part"]]
    assert nums == ["1", "10000"]


def test_upload_id_of_another_key_is_no_such_upload(client, mbucket):
    uid = initiate(client, mbucket, "a.bin")
    raises(404, "NoSuchUpload", client.upload_part, Bucket=mbucket, Key="b.bin", Body=b"x", PartNumber=1,
           UploadId=uid)
    raises(404, "NoSuchUpload", client.upload_part, Bucket=mbucket, Key="a.bin", Body=b"x", PartNumber=1,
           UploadId="no-such-upload-id")


# --- Upload Part Copy -----------------------------------------------------------


def test_upload_part_copy_ranges_and_whole(client, mbucket):
    src_key = "copy/src.bin"
    src = os.urandom(3 * MiB + 123)
    put = client.put_object(Bucket=mbucket, Key=src_key, Body=src)
    source = {"Bucket": mbucket, "Key": src_key, "Region": REGION}
    key = "copy/dst.bin"
    uid = initiate(client, mbucket, key)

    r1 = client.upload_part_copy(Bucket=mbucket, Key=key, PartNumber=1, UploadId=uid, CopySource=source,
                                 CopySourceRange=f"bytes=0-{MiB - 1}")
    assert r1["ETag"] == f'"{md5_hex(src[:MiB])}"'
    assert r1["CRC64"] == str(crc64(src[:MiB]))
    assert r1["LastModified"].endswith("Z")
    assert r1["x-cos-hash-crc64ecma"] == str(crc64(src[:MiB]))
    # The SDK sends an empty x-cos-copy-source-range when none is given: the whole object.
    r2 = client.upload_part_copy(Bucket=mbucket, Key=key, PartNumber=2, UploadId=uid, CopySource=source)
    assert r2["ETag"] == put["ETag"] == f'"{md5_hex(src)}"'
    # A last byte beyond the end is clamped.
    r3 = client.upload_part_copy(Bucket=mbucket, Key=key, PartNumber=3, UploadId=uid, CopySource=source,
                                 CopySourceRange=f"bytes={3 * MiB}-{10 * MiB}")
    assert r3["ETag"] == f'"{md5_hex(src[3 * MiB:])}"'

    parts = client.list_parts(Bucket=mbucket, Key=key, UploadId=uid)["Part"]
    assert [p["Size"] for p in parts] == [str(MiB), str(len(src)), "123"]
    listed = [{"PartNumber": i, "ETag": r["ETag"]} for i, r in enumerate([r1, r2, r3], start=1)]
    rt = complete(client, mbucket, key, uid, listed)
    want = src[:MiB] + src + src[3 * MiB:]
    assert rt["ETag"] == multipart_etag([src[:MiB], src, src[3 * MiB:]])
    assert rt["x-cos-hash-crc64ecma"] == str(crc64(want))
    assert read_body(client.get_object(Bucket=mbucket, Key=key)) == want


def test_upload_part_copy_conditions_and_errors(client, mbucket):
    src_key = "cond/src.bin"
    src = os.urandom(100_000)
    etag = client.put_object(Bucket=mbucket, Key=src_key, Body=src)["ETag"]
    source = {"Bucket": mbucket, "Key": src_key, "Region": REGION}
    key = "cond/dst.bin"
    uid = initiate(client, mbucket, key)
    past = formatdate(0, usegmt=True)
    future = formatdate(4102444800, usegmt=True)  # 2100-01-01

    def copy(**kw):
        return client.upload_part_copy(Bucket=mbucket, Key=key, PartNumber=1, UploadId=uid, CopySource=source, **kw)

    for kw in [dict(CopySourceIfMatch='"0123456789abcdef0123456789abcdef"'),
               dict(CopySourceIfNoneMatch=etag),
               dict(CopySourceIfUnmodifiedSince=past),
               dict(CopySourceIfModifiedSince=future)]:
        raises(412, "PreconditionFailed", copy, **kw)
    assert "Part" not in client.list_parts(Bucket=mbucket, Key=key, UploadId=uid)

    assert copy(CopySourceIfMatch=etag)["ETag"] == etag
    assert copy(CopySourceIfNoneMatch='"0123456789abcdef0123456789abcdef"',
                CopySourceIfModifiedSince=past)["ETag"] == etag

    raises(400, "InvalidArgument", copy, CopySourceRange="bytes=10-5")
    raises(400, "InvalidArgument", copy, CopySourceRange=f"bytes={len(src)}-{len(src) + 10}")
    raises(400, "InvalidArgument", copy, CopySourceRange="bytes=x-y")
    missing = {"Bucket": mbucket, "Key": "cond/missing.bin", "Region": REGION}
    raises(404, "NoSuchCopySource", client.upload_part_copy, Bucket=mbucket, Key=key, PartNumber=1,
           UploadId=uid, CopySource=missing)
    raises(404, "NoSuchUpload", client.upload_part_copy, Bucket=mbucket, Key=key, PartNumber=1,
           UploadId="nope", CopySource=source)


# --- List Parts ------------------------------------------------------------------


def test_list_parts_paging(client, mbucket):
    key = "lp/obj.bin"
    uid = initiate(client, mbucket, key)
    bodies = [os.urandom(1000 + i) for i in range(5)]
    upload_parts(client, mbucket, key, uid, bodies)

    seen = []
    marker = 0
    pages = []
    while True:
        lp = client.list_parts(Bucket=mbucket, Key=key, UploadId=uid, MaxParts=2, PartNumberMarker=marker)
        assert lp["Bucket"] == mbucket and lp["Key"] == key and lp["UploadId"] == uid
        assert lp["MaxParts"] == "2"
        assert lp["PartNumberMarker"] == str(marker)
        nums = [p["PartNumber"] for p in lp.get("Part", [])]
        pages.append((nums, lp["IsTruncated"], lp["NextPartNumberMarker"]))
        for p in lp.get("Part", []):
            n = int(p["PartNumber"])
            assert p["ETag"] == f'"{md5_hex(bodies[n - 1])}"'
            assert p["Size"] == str(len(bodies[n - 1]))
            assert p["LastModified"].endswith("Z")
            seen.append(n)
        if lp["IsTruncated"] == "false":
            break
        marker = int(lp["NextPartNumberMarker"])
    assert pages == [(["1", "2"], "true", "2"), (["3", "4"], "true", "4"), (["5"], "false", "5")]
    assert seen == [1, 2, 3, 4, 5]

    # A marker past the last part: an empty, untruncated page.
    lp = client.list_parts(Bucket=mbucket, Key=key, UploadId=uid, PartNumberMarker=5)
    assert "Part" not in lp and lp["IsTruncated"] == "false"


def test_list_parts_url_encoding(client, mbucket):
    key = "lp/中文 a+b&c.bin"
    uid = initiate(client, mbucket, key)
    upload_parts(client, mbucket, key, uid, [b"x"])
    plain = client.list_parts(Bucket=mbucket, Key=key, UploadId=uid)  # SDK asks url, decodes
    assert plain["Key"] == key
    enc = client.list_parts(Bucket=mbucket, Key=key, UploadId=uid, EncodingType="url")
    assert enc["Key"] != key and unquote(enc["Key"]) == key


# --- List Multipart Uploads --------------------------------------------------------


def test_list_multipart_uploads_prefix_delimiter_and_paging(client, mbucket):
    ids = {}
    order = []
    for key in ["lu/a/1", "lu/a/2", "lu/b", "lu/b", "lu/c/x", "other"]:
        uid = initiate(client, mbucket, key)
        ids.setdefault(key, []).append(uid)
        order.append((key, uid))
    expected = sorted(order, key=lambda kv: kv[0])  # stable: one key's uploads oldest first

    r = client.list_multipart_uploads(Bucket=mbucket)
    assert [(u["Key"], u["UploadId"]) for u in r["Upload"]] == expected
    assert r["IsTruncated"] == "false"

    r = client.list_multipart_uploads(Bucket=mbucket, Prefix="lu/", Delimiter="/")
    assert [(u["Key"], u["UploadId"]) for u in r["Upload"]] == [("lu/b", i) for i in ids["lu/b"]]
    assert [c["Prefix"] for c in r["CommonPrefixes"]] == ["lu/a/", "lu/c/"]
    assert r["Prefix"] == "lu/" and r["Delimiter"] == "/"

    # Python's resumable upload_file takes the last upload whose Key equals the key.
    r = client.list_multipart_uploads(Bucket=mbucket, Prefix="lu/b")
    assert r["Upload"][-1]["UploadId"] == ids["lu/b"][-1]
    assert r["Upload"][0]["UploadId"] == ids["lu/b"][0]

    # Page one at a time with KeyMarker/UploadIdMarker.
    got, key_marker, id_marker, pages = [], "", "", 0
    while True:
        r = client.list_multipart_uploads(Bucket=mbucket, MaxUploads=1, KeyMarker=key_marker,
                                          UploadIdMarker=id_marker)
        assert r["MaxUploads"] == "1"
        got += [(u["Key"], u["UploadId"]) for u in r.get("Upload", [])]
        pages += 1
        if r["IsTruncated"] == "false":
            break
        assert r["IsTruncated"] == "true"
        key_marker, id_marker = r["NextKeyMarker"], r["NextUploadIdMarker"]
        assert (key_marker, id_marker) == got[-1]
    assert got == expected
    assert pages in (len(expected), len(expected) + 1)

    # A key marker alone resumes after every upload of that key.
    r = client.list_multipart_uploads(Bucket=mbucket, KeyMarker="lu/b")
    assert [u["Key"] for u in r["Upload"]] == ["lu/c/x", "other"]
    # An upload id marker resumes after that upload of the key.
    r = client.list_multipart_uploads(Bucket=mbucket, KeyMarker="lu/b", UploadIdMarker=ids["lu/b"][0])
    assert [(u["Key"], u["UploadId"]) for u in r["Upload"]] == [("lu/b", ids["lu/b"][1]), ("lu/c/x", ids["lu/c/x"][0]),
                                                               ("other", ids["other"][0])]
    # Common prefixes count against MaxUploads, and paging resumes past them.
    r = client.list_multipart_uploads(Bucket=mbucket, Prefix="lu/", Delimiter="/", MaxUploads=1)
    assert r["IsTruncated"] == "true" and [c["Prefix"] for c in r["CommonPrefixes"]] == ["lu/a/"]
    assert "Upload" not in r
    r = client.list_multipart_uploads(Bucket=mbucket, Prefix="lu/", Delimiter="/", KeyMarker=r["NextKeyMarker"])
    assert [u["Key"] for u in r["Upload"]] == ["lu/b", "lu/b"]
    assert [c["Prefix"] for c in r["CommonPrefixes"]] == ["lu/c/"]


def test_list_multipart_uploads_encoding(client, mbucket, raw):
    key = "enc/中文 key+1.bin"
    uid = initiate(client, mbucket, key)
    r = client.list_multipart_uploads(Bucket=mbucket, Prefix="enc/")
    assert [(u["Key"], u["UploadId"]) for u in r["Upload"]] == [(key, uid)]
    r = client.list_multipart_uploads(Bucket=mbucket, Prefix="enc/", EncodingType="url")
    assert r["Upload"][0]["Key"] != key and unquote(r["Upload"][0]["Key"]) == key
    resp = raw.request("GET", mbucket, params={"uploads": "", "encoding-type": "base64"})
    assert resp.status_code == 400, resp.text
    assert "<Code>InvalidArgument</Code>" in resp.text


# --- Abort ----------------------------------------------------------------------------


def test_abort_frees_the_upload(client, mbucket, raw):
    key = "abort/me.bin"
    uid = initiate(client, mbucket, key)
    listed = upload_parts(client, mbucket, key, uid, [os.urandom(MiB), b"tail"])
    resp = raw.request("DELETE", mbucket, key, params={"uploadId": uid})
    assert resp.status_code == 204, resp.text
    assert resp.headers["x-cos-request-id"]
    assert resp.content == b""

    raises(404, "NoSuchUpload", client.upload_part, Bucket=mbucket, Key=key, Body=b"x", PartNumber=3, UploadId=uid)
    raises(404, "NoSuchUpload", client.list_parts, Bucket=mbucket, Key=key, UploadId=uid)
    raises(404, "NoSuchUpload", complete, client, mbucket, key, uid, listed)
    raises(404, "NoSuchUpload", client.abort_multipart_upload, Bucket=mbucket, Key=key, UploadId=uid)
    assert "Upload" not in client.list_multipart_uploads(Bucket=mbucket)
    assert not client.object_exists(Bucket=mbucket, Key=key)

    # The SDK's own call answers None on success.
    uid2 = initiate(client, mbucket, key)
    assert client.abort_multipart_upload(Bucket=mbucket, Key=key, UploadId=uid2) is None
    assert "Upload" not in client.list_multipart_uploads(Bucket=mbucket)


# --- Complete errors ----------------------------------------------------------------------


def test_complete_errors(client, mbucket, raw):
    key = "err/obj.bin"
    uid = initiate(client, mbucket, key)
    big1, small2, big3, last4 = os.urandom(MiB), os.urandom(MiB - 1), os.urandom(MiB), b"last"
    e = [p["ETag"] for p in upload_parts(client, mbucket, key, uid, [big1, small2, big3, last4])]

    def parts(*pairs):
        return [{"PartNumber": n, "ETag": t} for n, t in pairs]

    # A non-last part under 1 MiB.
    err = raises(400, "EntityTooSmall", complete, client, mbucket, key, uid, parts((1, e[0]), (2, e[1]), (3, e[2])))
    # ... but the same part as the last one is fine (checked further below).
    raises(400, "InvalidPart", complete, client, mbucket, key, uid,
           parts((1, e[0]), (2, '"0123456789abcdef0123456789abcdef"')))
    raises(400, "InvalidPart", complete, client, mbucket, key, uid, parts((1, e[0]), (2, e[1]), (5, e[3])))
    raises(400, "InvalidPart", complete, client, mbucket, key, uid, parts((1, e[0]), (3, e[2])))  # gap
    raises(400, "InvalidPart", complete, client, mbucket, key, uid, parts((7, e[0])))
    raises(400, "InvalidPartOrder", complete, client, mbucket, key, uid, parts((2, e[1]), (1, e[0])))
    raises(400, "InvalidPartOrder", complete, client, mbucket, key, uid, parts((1, e[0]), (1, e[0])))
    raises(404, "NoSuchUpload", complete, client, mbucket, key, "not-an-upload", parts((1, e[0])))
    assert err.get_resource_location()

    # No <Part> at all / not XML: MalformedXML (the SDK refuses an empty list itself).
    for body in [b"<CompleteMultipartUpload></CompleteMultipartUpload>",
                 b'<?xml version="1.0"?><CompleteMultipartUpload/>',
                 b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
                 b"not xml at all"]:
        resp = raw.request("POST", mbucket, key, params={"uploadId": uid}, data=body)
        assert resp.status_code == 400, (body, resp.text)
        assert "<Code>MalformedXML</Code>" in resp.text, resp.text
        assert resp.headers["x-cos-request-id"]

    # Every failure left the upload as it was: complete it now (part 2 last, unquoted ETags).
    assert [p["PartNumber"] for p in client.list_parts(Bucket=mbucket, Key=key, UploadId=uid)["Part"]] == \
        ["1", "2", "3", "4"]
    rt = complete(client, mbucket, key, uid, parts((1, e[0].strip('"')), (2, e[1].upper())))
    assert rt["ETag"] == multipart_etag([big1, small2])
    got = read_body(client.get_object(Bucket=mbucket, Key=key))
    assert got == big1 + small2  # unlisted parts 3 and 4 are discarded
    raises(404, "NoSuchUpload", client.list_parts, Bucket=mbucket, Key=key, UploadId=uid)


def test_delete_bucket_with_open_upload_is_refused(client):
    bucket = new_bucket(client)
    try:
        uid = initiate(client, bucket, "pending.bin")
        raises(409, "BucketNotEmpty", client.delete_bucket, Bucket=bucket)
        client.abort_multipart_upload(Bucket=bucket, Key="pending.bin", UploadId=uid)
        client.delete_bucket(Bucket=bucket)
        assert not client.bucket_exists(Bucket=bucket)
    finally:
        if client.bucket_exists(Bucket=bucket):
            delete_everything(client, bucket)


# --- Versioning and overwrite ------------------------------------------------------------


def test_versioned_complete_returns_version_id(client, mbucket):
    client.put_bucket_versioning(Bucket=mbucket, Status="Enabled")
    key = "v/obj.bin"
    versions = []
    bodies = []
    for _ in range(2):
        uid = initiate(client, mbucket, key)
        body = [os.urandom(MiB), os.urandom(10)]
        rt = complete(client, mbucket, key, uid, upload_parts(client, mbucket, key, uid, body))
        assert rt["x-cos-version-id"]
        versions.append(rt["x-cos-version-id"])
        bodies.append(b"".join(body))
    assert versions[0] != versions[1]
    for vid, body in zip(versions, bodies):
        got = client.get_object(Bucket=mbucket, Key=key, VersionId=vid)
        assert got["x-cos-version-id"] == vid
        assert read_body(got) == body
    assert read_body(client.get_object(Bucket=mbucket, Key=key)) == bodies[1]

    client.put_bucket_versioning(Bucket=mbucket, Status="Suspended")
    uid = initiate(client, mbucket, key)
    rt = complete(client, mbucket, key, uid, upload_parts(client, mbucket, key, uid, [b"null version"]))
    assert rt["x-cos-version-id"] == "null"


def test_unversioned_complete_has_no_version_id(client, mbucket):
    uid = initiate(client, mbucket, "plain.bin")
    rt = complete(client, mbucket, "plain.bin", uid, upload_parts(client, mbucket, "plain.bin", uid, [b"x"]))
    assert "x-cos-version-id" not in rt


def test_complete_replaces_existing_object(client, mbucket):
    client.put_object(Bucket=mbucket, Key="rep.bin", Body=b"old", Metadata={"x-cos-meta-old": "1"})
    uid = initiate(client, mbucket, "rep.bin")
    complete(client, mbucket, "rep.bin", uid, upload_parts(client, mbucket, "rep.bin", uid, [b"new"]))
    got = client.get_object(Bucket=mbucket, Key="rep.bin")
    assert read_body(got) == b"new"
    assert "x-cos-meta-old" not in got


FORBID = {"Metadata": {"x-cos-forbid-overwrite": "true"}}  # no SDK parameter: a raw header


def test_forbid_overwrite_refuses_complete_over_an_object(client, mbucket):
    key = "fo/obj.bin"
    uid = initiate(client, mbucket, key, **FORBID)
    listed = upload_parts(client, mbucket, key, uid, [b"multipart"])
    client.put_object(Bucket=mbucket, Key=key, Body=b"arrived first")
    raises(409, "FileAlreadyExists", complete, client, mbucket, key, uid, listed)
    assert read_body(client.get_object(Bucket=mbucket, Key=key)) == b"arrived first"
    # The refused upload is still open; once the object is gone it completes.
    client.delete_object(Bucket=mbucket, Key=key)
    complete(client, mbucket, key, uid, listed)
    assert read_body(client.get_object(Bucket=mbucket, Key=key)) == b"multipart"
    # With the key present, Initiate itself is refused, as PUT is.
    raises(409, "FileAlreadyExists", client.put_object, Bucket=mbucket, Key=key, Body=b"x", **FORBID)
    raises(409, "FileAlreadyExists", client.create_multipart_upload, Bucket=mbucket, Key=key, **FORBID)


def test_forbid_overwrite_on_complete_itself(client, mbucket):
    key = "fo/late.bin"
    uid = initiate(client, mbucket, key)
    listed = upload_parts(client, mbucket, key, uid, [b"late"])
    client.put_object(Bucket=mbucket, Key=key, Body=b"present")
    raises(409, "FileAlreadyExists", complete, client, mbucket, key, uid, listed, **FORBID)
    complete(client, mbucket, key, uid, listed)  # without the header: replaces
    assert read_body(client.get_object(Bucket=mbucket, Key=key)) == b"late"


def test_initiate_refuses_bad_headers(client, mbucket):
    raises(400, "InvalidArgument", client.create_multipart_upload, Bucket=mbucket, Key="bad.bin",
           StorageClass="BOGUS")
    too_many = "&".join(f"k{i}=v" for i in range(11))
    raises(400, "InvalidTag", client.create_multipart_upload, Bucket=mbucket, Key="bad.bin", Tagging=too_many)
    assert "Upload" not in client.list_multipart_uploads(Bucket=mbucket)


# --- Encryption ----------------------------------------------------------------------------


def test_sse_cos_multipart(client, mbucket):
    key = "sse/cos.bin"
    uid = initiate(client, mbucket, key, ServerSideEncryption="AES256")
    parts = [os.urandom(MiB), os.urandom(4321)]
    listed = []
    for i, body in enumerate(parts, start=1):
        rt = client.upload_part(Bucket=mbucket, Key=key, Body=body, PartNumber=i, UploadId=uid)
        assert rt["x-cos-server-side-encryption"] == "AES256"
        assert rt["ETag"] == f'"{md5_hex(body)}"'  # plaintext MD5 under SSE-COS too
        listed.append({"PartNumber": i, "ETag": rt["ETag"]})
    rt = complete(client, mbucket, key, uid, listed)
    assert rt["x-cos-server-side-encryption"] == "AES256"
    assert rt["ETag"] == multipart_etag(parts)
    whole = b"".join(parts)
    assert rt["x-cos-hash-crc64ecma"] == str(crc64(whole))
    got = client.get_object(Bucket=mbucket, Key=key)
    assert got["x-cos-server-side-encryption"] == "AES256"
    assert read_body(got) == whole
    rng = client.get_object(Bucket=mbucket, Key=key, Range=f"bytes={MiB - 5}-{MiB + 5}")
    assert read_body(rng) == whole[MiB - 5:MiB + 6]


def test_sse_c_multipart(client, mbucket):
    key = "sse/c.bin"
    uid = initiate(client, mbucket, key, **ssec())
    body1, body2 = os.urandom(MiB + 7), os.urandom(999)
    # Every part must send the key again.
    raises(400, "SsecDecryptHeaderInvalid", client.upload_part, Bucket=mbucket, Key=key, Body=body1,
           PartNumber=1, UploadId=uid)
    with pytest.raises(CosServiceError) as ei:
        client.upload_part(Bucket=mbucket, Key=key, Body=body1, PartNumber=1, UploadId=uid, **ssec(KEY2_B64))
    assert service_error(ei).get_status_code() in (400, 403)
    listed = []
    for i, body in enumerate([body1, body2], start=1):
        rt = client.upload_part(Bucket=mbucket, Key=key, Body=body, PartNumber=i, UploadId=uid, **ssec())
        assert rt["x-cos-server-side-encryption-customer-algorithm"] == "AES256"
        assert rt["x-cos-server-side-encryption-customer-key-md5"] == ssec()["SSECustomerKeyMD5"]
        assert rt["ETag"] == f'"{md5_hex(body)}"'
        listed.append({"PartNumber": i, "ETag": rt["ETag"]})
    rt = complete(client, mbucket, key, uid, listed)
    assert rt["x-cos-server-side-encryption-customer-algorithm"] == "AES256"
    whole = body1 + body2
    assert rt["x-cos-hash-crc64ecma"] == str(crc64(whole))

    raises(400, "SsecDecryptHeaderInvalid", client.get_object, Bucket=mbucket, Key=key)
    got = client.get_object(Bucket=mbucket, Key=key, **ssec())
    assert got["x-cos-server-side-encryption-customer-algorithm"] == "AES256"
    assert read_body(got) == whole
    rng = client.get_object(Bucket=mbucket, Key=key, Range=f"bytes={MiB}-{MiB + 100}", **ssec())
    assert read_body(rng) == whole[MiB:MiB + 101]


# --- Reads across part boundaries ----------------------------------------------------------


def test_ranged_reads_straddle_part_boundaries(client, mbucket):
    key = "ranges/obj.bin"
    uid = initiate(client, mbucket, key)
    sizes = [MiB, MiB + 1, MiB + 3, 5]
    parts = [os.urandom(n) for n in sizes]
    rt = complete(client, mbucket, key, uid, upload_parts(client, mbucket, key, uid, parts))
    whole = b"".join(parts)
    total = len(whole)
    b1, b2, b3 = sizes[0], sizes[0] + sizes[1], sizes[0] + sizes[1] + sizes[2]
    for first, last in [(0, 0), (b1 - 1, b1), (b1 - 10, b2 + 10), (0, total - 1), (b2, b3 - 1),
                        (b3 - 1, total - 1), (b3, total - 1), (b1 + 100, b1 + 200), (1, b3)]:
        got = client.get_object(Bucket=mbucket, Key=key, Range=f"bytes={first}-{last}")
        assert got["Content-Range"] == f"bytes {first}-{last}/{total}"
        assert got["Content-Length"] == str(last - first + 1)
        assert got["ETag"] == rt["ETag"]
        assert read_body(got) == whole[first:last + 1], (first, last)
    tail = client.get_object(Bucket=mbucket, Key=key, Range="bytes=-7")
    assert read_body(tail) == whole[-7:]
    raises(416, "InvalidRange", client.get_object, Bucket=mbucket, Key=key, Range=f"bytes={total}-")
    # Conditional GET against the multipart ETag.
    assert read_body(client.get_object(Bucket=mbucket, Key=key, IfMatch=rt["ETag"])) == whole
