"""Symlinks with cos-python-sdk-v5: put_symlink / get_symlink, and GET/HEAD
Object following the link (spec cos-bucket.md §15.3)."""

import pytest
from qcloud_cos import CosServiceError

TARGET = "reports/2024/report v1.pdf"
LINK = "latest/report.pdf"


def read(client, bucket, key, **kw):
    return client.get_object(Bucket=bucket, Key=key, **kw)["Body"].get_raw_stream().read()


def test_put_get_and_follow(client, bucket):
    client.put_object(Bucket=bucket, Key=TARGET, Body=b"hello", ContentType="application/pdf")
    resp = client.put_symlink(Bucket=bucket, SymlinkName=LINK, SymlinkTarget=TARGET)
    assert resp["x-cos-request-id"]
    got = client.get_symlink(Bucket=bucket, SymlinkName=LINK)
    assert got["x-cos-symlink-target"] == TARGET
    # GET / HEAD on the link serve the target.
    assert read(client, bucket, LINK) == b"hello"
    head = client.head_object(Bucket=bucket, Key=LINK)
    assert head["Content-Length"] == "5"
    assert head["Content-Type"] == "application/pdf"
    assert read(client, bucket, LINK, Range="bytes=1-3") == b"ell"
    # Listed as an object of its own.
    keys = [c["Key"] for c in client.list_objects(Bucket=bucket)["Contents"]]
    assert keys == [LINK, TARGET]
    # Deleting the link leaves the target.
    client.delete_object(Bucket=bucket, Key=LINK)
    assert read(client, bucket, TARGET) == b"hello"
    with pytest.raises(CosServiceError) as e:
        client.get_symlink(Bucket=bucket, SymlinkName=LINK)
    assert e.value.get_status_code() == 404
    assert e.value.get_error_code() == "NoSuchKey"


def test_missing_target_and_bad_requests(client, bucket):
    client.put_symlink(Bucket=bucket, SymlinkName="dangling", SymlinkTarget="nowhere.txt")
    with pytest.raises(CosServiceError) as e:
        client.get_object(Bucket=bucket, Key="dangling")
    assert e.value.get_status_code() == 404
    assert e.value.get_error_code() == "NoSuchKey"
    with pytest.raises(CosServiceError) as e:
        client.put_symlink(Bucket=bucket, SymlinkName="self", SymlinkTarget="self")
    assert e.value.get_status_code() == 400
    assert e.value.get_error_code() == "InvalidArgument"
    client.put_object(Bucket=bucket, Key="plain.txt", Body=b"x")
    with pytest.raises(CosServiceError) as e:
        client.get_symlink(Bucket=bucket, SymlinkName="plain.txt")
    assert e.value.get_status_code() == 400


def test_versioned_links(client, bucket):
    client.put_bucket_versioning(Bucket=bucket, Status="Enabled")
    client.put_object(Bucket=bucket, Key="a.txt", Body=b"A")
    client.put_object(Bucket=bucket, Key="b.txt", Body=b"B")
    first = client.put_symlink(Bucket=bucket, SymlinkName="link", SymlinkTarget="a.txt")
    assert first["x-cos-request-id"]
    v1 = first["x-cos-version-id"]
    second = client.put_symlink(Bucket=bucket, SymlinkName="link", SymlinkTarget="b.txt")
    assert second["x-cos-version-id"] != v1
    assert client.get_symlink(Bucket=bucket, SymlinkName="link")["x-cos-symlink-target"] == "b.txt"
    old = client.get_symlink(Bucket=bucket, SymlinkName="link", VersionId=v1)
    assert old["x-cos-symlink-target"] == "a.txt"
    assert read(client, bucket, "link") == b"B"
    assert read(client, bucket, "link", VersionId=v1) == b"A"
    # Clean up every version so the fixture can delete the bucket.
    versions = client.list_objects_versions(Bucket=bucket)
    for v in versions.get("Version", []) + versions.get("DeleteMarker", []):
        client.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
