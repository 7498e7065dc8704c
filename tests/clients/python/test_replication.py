"""Bucket replication with cos-python-sdk-v5 (spec cos-bucket.md §9):
put/get/delete_bucket_replication, the versioning precondition, and the effect
when the destination bucket is on the same localcos: new versions appear there
with x-cos-replication-status REPLICA while the source goes PENDING →
COMPLETED, and deletes replicate as delete markers."""

import time

import pytest
from qcloud_cos import CosServiceError

from conftest import APPID, REGION, assert_error, read_body, service_error, unique_bucket_name


def _config(dest):
    return {
        "Role": "qcs::cam::uin/100000000001:uin/100000000001",
        "Rule": [
            {
                "ID": "docs",
                "Status": "Enabled",
                "Prefix": "docs/",
                "Destination": {"Bucket": f"qcs::cos:{REGION}::{dest}", "StorageClass": "STANDARD_IA"},
            },
            {
                "ID": "中文",
                "Status": "Disabled",
                "Prefix": "中文/",
                "Destination": {"Bucket": f"qcs::cos:{REGION}::{dest}"},
            },
        ],
    }


def _wait_status(client, bucket, key, want):
    status = None
    for _ in range(300):
        status = client.head_object(Bucket=bucket, Key=key).get("x-cos-replication-status")
        if status == want:
            return
        time.sleep(0.02)
    raise AssertionError(f"{key}: replication status {status}, wanted {want}")


@pytest.fixture
def pair(client):
    src, dest = unique_bucket_name(), unique_bucket_name()
    client.create_bucket(Bucket=src)
    client.create_bucket(Bucket=dest)
    return src, dest


def test_replication_put_get_delete(client, pair):
    src, dest = pair
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_replication(Bucket=src)
    assert_error(service_error(e), 404, "ReplicationConfigurationnotFoundError")
    # Versioning must be enabled first (the SDK's own test says so).
    with pytest.raises(CosServiceError) as e:
        client.put_bucket_replication(Bucket=src, ReplicationConfiguration=_config(dest))
    assert_error(service_error(e), 400, "InvalidRequest")
    client.put_bucket_versioning(Bucket=src, Status="Enabled")
    client.put_bucket_versioning(Bucket=dest, Status="Enabled")
    client.put_bucket_replication(Bucket=src, ReplicationConfiguration=_config(dest))
    got = client.get_bucket_replication(Bucket=src)
    assert got["Role"] == "qcs::cam::uin/100000000001:uin/100000000001"
    assert [r["ID"] for r in got["Rule"]] == ["docs", "中文"]
    assert got["Rule"][0]["Destination"]["Bucket"] == f"qcs::cos:{REGION}::{dest}"
    assert got["Rule"][1]["Prefix"] == "中文/"
    bad = _config(dest)
    bad["Rule"][0]["Destination"]["Bucket"] = dest
    with pytest.raises(CosServiceError) as e:
        client.put_bucket_replication(Bucket=src, ReplicationConfiguration=bad)
    assert_error(service_error(e), 400, "InvalidArgument")
    client.delete_bucket_replication(Bucket=src)
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_replication(Bucket=src)
    assert_error(service_error(e), 404, "ReplicationConfigurationnotFoundError")


def test_replication_copies_new_versions_and_deletes(client, pair):
    src, dest = pair
    client.put_bucket_versioning(Bucket=src, Status="Enabled")
    client.put_bucket_versioning(Bucket=dest, Status="Enabled")
    client.put_bucket_replication(Bucket=src, ReplicationConfiguration=_config(dest))

    client.put_object(Bucket=src, Key="docs/a.txt", Body=b"replicated bytes",
                      ContentType="text/plain", Metadata={"x-cos-meta-team": "storage"})
    first = client.head_object(Bucket=src, Key="docs/a.txt")["x-cos-replication-status"]
    assert first in ("PENDING", "COMPLETED")
    _wait_status(client, src, "docs/a.txt", "COMPLETED")
    replica = client.get_object(Bucket=dest, Key="docs/a.txt")
    assert read_body(replica) == b"replicated bytes"
    assert replica["x-cos-replication-status"] == "REPLICA"
    assert replica["x-cos-meta-team"] == "storage"
    assert replica["x-cos-storage-class"] == "STANDARD_IA"

    # Outside the rule's prefix: not replicated, no status.
    client.put_object(Bucket=src, Key="other.txt", Body=b"local only")
    assert "x-cos-replication-status" not in client.head_object(Bucket=src, Key="other.txt")
    with pytest.raises(CosServiceError) as e:
        client.head_object(Bucket=dest, Key="other.txt")
    assert service_error(e).get_status_code() == 404

    # A delete writes a delete marker on the source, then on the destination.
    client.delete_object(Bucket=src, Key="docs/a.txt")
    for _ in range(300):
        versions = client.list_objects_versions(Bucket=dest, Prefix="docs/a.txt")
        if versions.get("DeleteMarker"):
            break
        time.sleep(0.02)
    assert len(versions.get("DeleteMarker", [])) == 1
    assert len(versions.get("Version", [])) == 1
    with pytest.raises(CosServiceError) as e:
        client.get_object(Bucket=dest, Key="docs/a.txt")
    assert service_error(e).get_status_code() == 404
