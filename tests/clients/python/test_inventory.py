"""Bucket inventory with cos-python-sdk-v5 (spec cos-bucket.md §8):
put/get/delete_bucket_inventory, list_bucket_inventory_configurations with
continuation tokens (150 configurations, as the SDK's own test), the errors,
post_bucket_inventory (a one-off job) with its report parsed back — gunzipped
CSV compared with the listing, manifest.json and manifest.checksum — and a
Daily schedule run by a server started with ``--day-seconds 1``."""

import csv
import gzip
import hashlib
import io
import json
import time
from urllib.parse import unquote

import pytest
from qcloud_cos import CosServiceError

from conftest import (
    APPID,
    assert_error,
    fresh_buckets,
    make_client,
    own_server,
    service_error,
    unique_bucket_name,
)


@pytest.fixture(scope="module")
def inv_server(log_dir):
    yield from own_server(log_dir, ["--day-seconds", "1"], "inventory")


@pytest.fixture(scope="module")
def inv_client(inv_server):
    return make_client(inv_server)


@pytest.fixture
def buckets(inv_client):
    yield from fresh_buckets(inv_client, 2)


def config(dest, prefix="reports", frequency="Daily", enabled="true", versions="Current", fields=None, filt=None):
    c = {
        "Destination": {
            "COSBucketDestination": {
                "AccountId": "100000000001",
                "Bucket": f"qcs::cos:ap-guangzhou::{dest}",
                "Format": "CSV",
                "Prefix": prefix,
                "Encryption": {"SSECOS": {}},
            }
        },
        "IncludedObjectVersions": versions,
        "OptionalFields": {"Field": fields or ["Size", "ETag"]},
    }
    if frequency:
        c["IsEnabled"] = enabled
        c["Schedule"] = {"Frequency": frequency}
    if filt:
        c["Filter"] = filt
    return c


def test_put_get_list_delete(inv_client, buckets):
    src, dest = buckets
    with pytest.raises(CosServiceError) as e:
        inv_client.get_bucket_inventory(Bucket=src, Id="nope")
    assert_error(service_error(e), 404, "NoSuchInventoryConfiguration")

    c = config(dest, fields=["Size", "LastModifiedDate", "ETag", "StorageClass", "IsMultipartUploaded", "ReplicationStatus"],
               filt={"Prefix": "data/"}, frequency="Weekly", versions="All")
    inv_client.put_bucket_inventory(Bucket=src, Id="weekly", InventoryConfiguration=c)
    got = inv_client.get_bucket_inventory(Bucket=src, Id="weekly")
    assert got["Id"] == "weekly"
    assert got["IsEnabled"] == "true"
    assert got["Destination"]["COSBucketDestination"]["Bucket"] == f"qcs::cos:ap-guangzhou::{dest}"
    assert got["Destination"]["COSBucketDestination"]["Encryption"] == {"SSECOS": None}
    assert got["Schedule"] == {"Frequency": "Weekly"}
    assert got["Filter"] == {"Prefix": "data/"}
    assert got["OptionalFields"]["Field"] == c["OptionalFields"]["Field"]

    # Errors change nothing.
    bad = [
        (config(dest, frequency="Hourly"), 400, "InvalidArgument"),
        (config(unique_bucket_name()), 400, "InvalidArgument"),
        (config(dest, versions="Some"), 400, "InvalidArgument"),
        (config(dest, fields=["Owner"]), 400, "InvalidArgument"),
    ]
    for body, status, code in bad:
        with pytest.raises(CosServiceError) as e:
            inv_client.put_bucket_inventory(Bucket=src, Id="weekly", InventoryConfiguration=body)
        assert_error(service_error(e), status, code)
    with pytest.raises(CosServiceError) as e:
        inv_client.put_bucket_inventory(Bucket=src, Id="bad id!", InventoryConfiguration=config(dest))
    assert_error(service_error(e), 400, "InvalidArgument")
    assert inv_client.get_bucket_inventory(Bucket=src, Id="weekly")["Schedule"] == {"Frequency": "Weekly"}

    # 150 configurations: pages of 100 in creation order (the SDK's own test).
    for i in range(150):
        inv_client.put_bucket_inventory(Bucket=src, Id=f"ID-{i}", InventoryConfiguration=config(dest, enabled="false"))
    ids, token, pages = [], None, 0
    while True:
        resp = inv_client.list_bucket_inventory_configurations(Bucket=src, ContinuationToken=token)
        pages += 1
        confs = resp["InventoryConfiguration"]
        ids += [c["Id"] for c in (confs if isinstance(confs, list) else [confs])]
        if resp["IsTruncated"] != "true":
            break
        token = resp["NextContinuationToken"]
    assert pages == 2
    assert ids == ["weekly"] + [f"ID-{i}" for i in range(150)]

    inv_client.delete_bucket_inventory(Bucket=src, Id="weekly")
    with pytest.raises(CosServiceError) as e:
        inv_client.get_bucket_inventory(Bucket=src, Id="weekly")
    assert_error(service_error(e), 404, "NoSuchInventoryConfiguration")
    with pytest.raises(CosServiceError) as e:
        inv_client.delete_bucket_inventory(Bucket=src, Id="weekly")
    assert_error(service_error(e), 404, "NoSuchInventoryConfiguration")
    for i in range(150):
        inv_client.delete_bucket_inventory(Bucket=src, Id=f"ID-{i}")


def read_report(client, dest, root):
    keys = [o["Key"] for o in client.list_objects(Bucket=dest, Prefix=root).get("Contents", [])]
    manifest_key = next(k for k in keys if k.endswith("/manifest.json"))
    manifest_raw = client.get_object(Bucket=dest, Key=manifest_key)["Body"].get_raw_stream().read()
    checksum = client.get_object(Bucket=dest, Key=manifest_key.replace(".json", ".checksum"))["Body"].get_raw_stream().read()
    assert checksum.decode() == hashlib.md5(manifest_raw).hexdigest()
    manifest = json.loads(manifest_raw)
    rows = []
    for f in manifest["files"]:
        data = client.get_object(Bucket=dest, Key=f["key"])["Body"].get_raw_stream().read()
        assert len(data) == f["size"] and hashlib.md5(data).hexdigest() == f["MD5checksum"]
        rows += list(csv.reader(io.StringIO(gzip.decompress(data).decode())))
    return manifest, rows, manifest_key


def test_post_job_report_matches_listing(inv_client, buckets):
    src, dest = buckets
    inv_client.put_object(Bucket=src, Key="data/a b.txt", Body=b"hello", Metadata={"x-cos-meta-color": "blue"})
    inv_client.put_object(Bucket=src, Key="data/ü+x.bin", Body=b"\x07" * 1000)
    inv_client.put_object(Bucket=src, Key="other/skip", Body=b"x")
    c = config(dest, prefix="oneoff", frequency=None, fields=["Size", "ETag", "x-cos-meta-color"], filt={"Prefix": "data/"})
    inv_client.post_bucket_inventory(Bucket=src, Id="job-1", InventoryConfiguration=c)
    with pytest.raises(CosServiceError) as e:
        inv_client.post_bucket_inventory(Bucket=src, Id="job-1", InventoryConfiguration=c)
    assert service_error(e).get_status_code() == 409
    assert service_error(e).get_error_code() == "DuplicateInventoryId"

    short = src.rsplit("-", 1)[0]
    root = f"oneoff/{APPID}/{short}/job-1/"
    manifest, rows, manifest_key = read_report(inv_client, dest, root)
    assert manifest_key.split("/")[-2] == time.strftime("%Y%m%d", time.gmtime(time.time() + 8 * 3600))
    assert manifest["fileFormat"] == "CSV"
    assert manifest["fileSchema"] == "AppID, Bucket, Key, Size, ETag, x-cos-meta-color"
    assert manifest["sourceBucket"] == src
    assert manifest["listObjectCount"] == 3 and manifest["filterObjectCount"] == 2
    assert manifest["filterStorageSize"] == 1005
    listing = inv_client.list_objects(Bucket=src, Prefix="data/")["Contents"]
    assert [unquote(r[2]) for r in rows] == [o["Key"] for o in listing]
    for row, obj in zip(rows, listing):
        assert row[0] == APPID and row[1] == short
        assert " " not in row[2]
        assert row[3] == obj["Size"]
        assert row[4] == obj["ETag"].strip('"')
    assert rows[0][5] == "blue"
    # The report objects are encrypted as the configuration asks (SSE-COS).
    head = inv_client.head_object(Bucket=dest, Key=manifest_key)
    assert head["x-cos-server-side-encryption"] == "AES256"


def test_daily_schedule_runs(inv_client, buckets):
    src, dest = buckets
    inv_client.put_object(Bucket=src, Key="k", Body=b"abc")
    inv_client.put_bucket_inventory(Bucket=src, Id="daily", InventoryConfiguration=config(dest, prefix="sched", fields=["Size"]))
    inv_client.put_bucket_inventory(
        Bucket=src, Id="off", InventoryConfiguration=config(dest, prefix="sched", fields=["Size"], enabled="false")
    )
    short = src.rsplit("-", 1)[0]
    root = f"sched/{APPID}/{short}/daily/"
    deadline = time.time() + 8
    while time.time() < deadline:
        keys = [o["Key"] for o in inv_client.list_objects(Bucket=dest, Prefix=root).get("Contents", [])]
        if any(k.endswith("manifest.checksum") for k in keys):
            break
        time.sleep(0.2)
    _, rows, _ = read_report(inv_client, dest, root)
    assert rows == [[APPID, short, "k", "3"]]
    assert not inv_client.list_objects(Bucket=dest, Prefix=f"sched/{APPID}/{short}/off/").get("Contents")
    inv_client.delete_bucket_inventory(Bucket=src, Id="daily")
    inv_client.delete_bucket_inventory(Bucket=src, Id="off")
