"""Bucket versioning with cos-python-sdk-v5 (spec cos.md §6 "Versioning"):
put/get_bucket_versioning, version ids on writes, get/head/delete by
VersionId, delete markers, list_objects_versions paging, delete_objects and
copy_object with versions."""

import pytest
from qcloud_cos import CosServiceError

from conftest import REGION, assert_error, service_error, unique_bucket_name


def delete_all_versions(client, bucket):
    key_marker, vid_marker = "", ""
    while True:
        resp = client.list_objects_versions(
            Bucket=bucket, KeyMarker=key_marker, VersionIdMarker=vid_marker, MaxKeys=1000
        )
        for entry in resp.get("Version", []) + resp.get("DeleteMarker", []):
            client.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
        if resp["IsTruncated"] != "true":
            break
        key_marker, vid_marker = resp["NextKeyMarker"], resp["NextVersionIdMarker"]


@pytest.fixture
def vbucket(client):
    """A fresh bucket with versioning Enabled; every version removed afterwards."""
    name = unique_bucket_name()
    client.create_bucket(Bucket=name)
    client.put_bucket_versioning(Bucket=name, Status="Enabled")
    yield name
    delete_all_versions(client, name)
    client.delete_bucket(Bucket=name)


def body_of(resp) -> bytes:
    return resp["Body"].get_raw_stream().read()


def test_versioning_configuration(client, bucket):
    # An empty <VersioningConfiguration/> root, as the SDK parses it.
    assert client.get_bucket_versioning(Bucket=bucket) == {"VersioningConfiguration": None}
    client.put_bucket_versioning(Bucket=bucket, Status="Enabled")
    assert client.get_bucket_versioning(Bucket=bucket) == {"Status": "Enabled"}
    client.put_bucket_versioning(Bucket=bucket, Status="Suspended")
    assert client.get_bucket_versioning(Bucket=bucket) == {"Status": "Suspended"}


def test_versioning_configuration_errors(client, raw, bucket):
    bad = '<VersioningConfiguration><Status>Disabled</Status></VersioningConfiguration>'
    resp = raw.request("PUT", bucket, params={"versioning": ""}, data=bad)
    assert resp.status_code == 400 and b"<Code>InvalidArgument</Code>" in resp.content
    resp = raw.request("PUT", bucket, params={"versioning": ""}, data="<Versioning")
    assert resp.status_code == 400 and b"<Code>MalformedXML</Code>" in resp.content
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_versioning(Bucket="nosuch-" + bucket.split("-")[-1])
    assert_error(service_error(e), 404, "NoSuchBucket")


def test_versions_get_head_delete(client, vbucket):
    r1 = client.put_object(Bucket=vbucket, Key="doc.txt", Body=b"version one")
    r2 = client.put_object(Bucket=vbucket, Key="doc.txt", Body=b"version two!")
    v1, v2 = r1["x-cos-version-id"], r2["x-cos-version-id"]
    assert v1 and v2 and v1 != v2 and "null" not in (v1, v2)

    latest = client.get_object(Bucket=vbucket, Key="doc.txt")
    assert body_of(latest) == b"version two!"
    assert latest["x-cos-version-id"] == v2
    old = client.get_object(Bucket=vbucket, Key="doc.txt", VersionId=v1)
    assert body_of(old) == b"version one"
    assert old["x-cos-version-id"] == v1
    head = client.head_object(Bucket=vbucket, Key="doc.txt", VersionId=v1)
    assert head["Content-Length"] == "11" and head["x-cos-version-id"] == v1

    # Delete without VersionId: a delete marker.
    deleted = client.delete_object(Bucket=vbucket, Key="doc.txt")
    assert deleted["x-cos-delete-marker"] == "true"
    marker = deleted["x-cos-version-id"]
    with pytest.raises(CosServiceError) as e:
        client.get_object(Bucket=vbucket, Key="doc.txt")
    err = service_error(e)
    assert_error(err, 404, "NoSuchKey")
    with pytest.raises(CosServiceError) as e:
        client.get_object(Bucket=vbucket, Key="doc.txt", VersionId=marker)
    assert_error(service_error(e), 404, "NoSuchKey")
    with pytest.raises(CosServiceError) as e:
        client.head_object(Bucket=vbucket, Key="doc.txt")
    assert service_error(e).get_status_code() == 404
    # Older versions stay readable behind the marker.
    assert body_of(client.get_object(Bucket=vbucket, Key="doc.txt", VersionId=v2)) == b"version two!"

    with pytest.raises(CosServiceError) as e:
        client.get_object(Bucket=vbucket, Key="doc.txt", VersionId="MTg0NDUxNTc1NjIzMTQ1MDAwODg")
    assert_error(service_error(e), 404, "NoSuchVersion")

    # Delete the marker by id: v2 is current again.
    undone = client.delete_object(Bucket=vbucket, Key="doc.txt", VersionId=marker)
    assert undone["x-cos-delete-marker"] == "true" and undone["x-cos-version-id"] == marker
    assert body_of(client.get_object(Bucket=vbucket, Key="doc.txt")) == b"version two!"
    # Delete a version for good: v1 is current.
    gone = client.delete_object(Bucket=vbucket, Key="doc.txt", VersionId=v2)
    assert gone["x-cos-version-id"] == v2 and "x-cos-delete-marker" not in gone
    assert body_of(client.get_object(Bucket=vbucket, Key="doc.txt")) == b"version one"


def test_list_objects_versions(client, vbucket):
    ids = {}
    for key, data in [("a b/1.txt", b"1"), ("a b/1.txt", b"2"), ("c%d.txt", b"3"), ("top", b"4")]:
        ids.setdefault(key, []).append(
            client.put_object(Bucket=vbucket, Key=key, Body=data)["x-cos-version-id"]
        )
    marker = client.delete_object(Bucket=vbucket, Key="top")["x-cos-version-id"]

    resp = client.list_objects_versions(Bucket=vbucket)
    assert resp["IsTruncated"] == "false"
    versions = [(v["Key"], v["VersionId"], v["IsLatest"], v["Size"]) for v in resp["Version"]]
    assert versions == [
        ("a b/1.txt", ids["a b/1.txt"][1], "true", "1"),
        ("a b/1.txt", ids["a b/1.txt"][0], "false", "1"),
        ("c%d.txt", ids["c%d.txt"][0], "true", "1"),
        ("top", ids["top"][0], "false", "1"),
    ]
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in resp["DeleteMarker"]] == [
        ("top", marker, "true")
    ]
    assert all(v["ETag"].startswith('"') and v["StorageClass"] == "STANDARD" for v in resp["Version"])
    assert all(v["Owner"]["ID"] for v in resp["Version"] + resp["DeleteMarker"])

    # Paging with KeyMarker + VersionIdMarker, one entry per page.
    seen, key_marker, vid_marker = [], "", ""
    for _ in range(10):
        page = client.list_objects_versions(
            Bucket=vbucket, MaxKeys=1, KeyMarker=key_marker, VersionIdMarker=vid_marker
        )
        seen += [(e["Key"], e["VersionId"]) for e in page.get("Version", []) + page.get("DeleteMarker", [])]
        if page["IsTruncated"] != "true":
            break
        key_marker, vid_marker = page["NextKeyMarker"], page["NextVersionIdMarker"]
    assert seen == [
        ("a b/1.txt", ids["a b/1.txt"][1]),
        ("a b/1.txt", ids["a b/1.txt"][0]),
        ("c%d.txt", ids["c%d.txt"][0]),
        ("top", marker),
        ("top", ids["top"][0]),
    ]

    # Prefix and delimiter.
    resp = client.list_objects_versions(Bucket=vbucket, Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["a b/"]
    assert [v["Key"] for v in resp["Version"]] == ["c%d.txt", "top"]
    resp = client.list_objects_versions(Bucket=vbucket, Prefix="a b/")
    assert resp["Prefix"] == "a b/" and len(resp["Version"]) == 2


def test_suspended_bucket_null_version(client, vbucket):
    v1 = client.put_object(Bucket=vbucket, Key="k", Body=b"one")["x-cos-version-id"]
    client.put_bucket_versioning(Bucket=vbucket, Status="Suspended")
    put = client.put_object(Bucket=vbucket, Key="k", Body=b"null one")
    assert "x-cos-version-id" not in put
    client.put_object(Bucket=vbucket, Key="k", Body=b"null two")
    got = client.get_object(Bucket=vbucket, Key="k")
    assert body_of(got) == b"null two" and got["x-cos-version-id"] == "null"
    resp = client.list_objects_versions(Bucket=vbucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in resp["Version"]] == [("null", "true"), (v1, "false")]
    assert body_of(client.get_object(Bucket=vbucket, Key="k", VersionId="null")) == b"null two"
    deleted = client.delete_object(Bucket=vbucket, Key="k")
    assert deleted["x-cos-delete-marker"] == "true" and deleted["x-cos-version-id"] == "null"


def test_delete_objects_with_versions(client, vbucket):
    v1 = client.put_object(Bucket=vbucket, Key="a", Body=b"1")["x-cos-version-id"]
    client.put_object(Bucket=vbucket, Key="b", Body=b"2")
    resp = client.delete_objects(
        Bucket=vbucket,
        Delete={
            "Quiet": "false",
            "Object": [
                {"Key": "a", "VersionId": v1},
                {"Key": "b"},
                {"Key": "a", "VersionId": "MTg0NDUxNTc1NjIzMTQ1MDAwODg"},
            ],
        },
    )
    deleted = {d["Key"]: d for d in resp["Deleted"]}
    assert deleted["a"]["VersionId"] == v1 and "DeleteMarker" not in deleted["a"]
    assert deleted["b"]["DeleteMarker"] == "true" and deleted["b"]["DeleteMarkerVersionId"]
    assert [(e["Key"], e["Code"]) for e in resp["Error"]] == [("a", "NoSuchVersion")]
    # "a" had one version: gone for good; "b" is hidden by its marker.
    for key in ("a", "b"):
        with pytest.raises(CosServiceError) as e:
            client.head_object(Bucket=vbucket, Key=key)
        assert service_error(e).get_status_code() == 404
    listed = client.list_objects_versions(Bucket=vbucket)
    assert [m["Key"] for m in listed["DeleteMarker"]] == ["b"]
    assert [v["Key"] for v in listed["Version"]] == ["b"]


def test_copy_from_version(client, vbucket):
    v1 = client.put_object(Bucket=vbucket, Key="src", Body=b"first")["x-cos-version-id"]
    client.put_object(Bucket=vbucket, Key="src", Body=b"second")
    resp = client.copy_object(
        Bucket=vbucket,
        Key="dst",
        CopySource={"Bucket": vbucket, "Key": "src", "Region": REGION, "VersionId": v1},
    )
    assert resp["x-cos-copy-source-version-id"] == v1
    assert resp["x-cos-version-id"] and resp["VersionId"] == resp["x-cos-version-id"]
    assert body_of(client.get_object(Bucket=vbucket, Key="dst")) == b"first"


def test_versioned_bucket_is_not_empty(client, vbucket):
    client.put_object(Bucket=vbucket, Key="k", Body=b"x")
    client.delete_object(Bucket=vbucket, Key="k")
    with pytest.raises(CosServiceError) as e:
        client.delete_bucket(Bucket=vbucket)
    assert_error(service_error(e), 409, "BucketNotEmpty")
