"""Object lock (WORM) with cos-python-sdk-v5: put/get_bucket_object_lock and
the effect on a server whose day lasts 1 s (``--day-seconds 1``), so a 3-day
default retention is 3 seconds (spec cos-bucket.md §12)."""

import time

import pytest
from qcloud_cos import CosServiceError

from conftest import LocalCos, Raw, make_client, unique_bucket_name

RETENTION_DAYS = 3


@pytest.fixture(scope="module")
def lock_server(log_dir):
    srv = LocalCos(["--day-seconds", "1"], log_dir, "object-lock")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def lclient(lock_server):
    return make_client(lock_server)


@pytest.fixture
def lbucket(lclient):
    # Locked buckets cannot be emptied while retention runs; the server is
    # ephemeral and stops after this module.
    name = unique_bucket_name()
    lclient.create_bucket(Bucket=name)
    return name


def service_error(call, *args, **kwargs) -> CosServiceError:
    with pytest.raises(CosServiceError) as info:
        call(*args, **kwargs)
    return info.value


def lock_config(days=None):
    conf = {"ObjectLockEnabled": "Enabled"}
    if days is not None:
        conf["Rule"] = {"DefaultRetention": {"Days": days}}
    return conf


def test_put_get_object_lock_configuration(lclient, lbucket):
    e = service_error(lclient.get_bucket_object_lock, Bucket=lbucket)
    assert e.get_status_code() == 404
    assert e.get_error_code() == "ObjectLockConfigurationNotFoundError"

    headers = lclient.put_bucket_object_lock(
        Bucket=lbucket, ObjectLockConfiguration=lock_config(30)
    )
    assert headers["x-cos-request-id"]
    got = lclient.get_bucket_object_lock(Bucket=lbucket)
    assert got == {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Days": "30"}}}

    # The rule may change or go; object lock itself stays enabled.
    lclient.put_bucket_object_lock(Bucket=lbucket, ObjectLockConfiguration=lock_config())
    assert lclient.get_bucket_object_lock(Bucket=lbucket) == {"ObjectLockEnabled": "Enabled"}

    for conf, code in [
        ({"ObjectLockEnabled": "Disabled"}, "InvalidArgument"),
        (lock_config(0), "InvalidArgument"),
        (lock_config(36501), "InvalidArgument"),
        ({"Rule": {"DefaultRetention": {"Days": 1}}}, "MalformedXML"),
    ]:
        e = service_error(lclient.put_bucket_object_lock, Bucket=lbucket, ObjectLockConfiguration=conf)
        assert e.get_status_code() == 400, conf
        assert e.get_error_code() == code, conf
    # Nothing changed.
    assert lclient.get_bucket_object_lock(Bucket=lbucket) == {"ObjectLockEnabled": "Enabled"}


def test_locked_object_refuses_delete_and_overwrite(lclient, lbucket):
    lclient.put_object(Bucket=lbucket, Key="src.txt", Body=b"source")
    lclient.put_bucket_object_lock(Bucket=lbucket, ObjectLockConfiguration=lock_config(RETENTION_DAYS))
    start = time.monotonic()
    lclient.put_object(Bucket=lbucket, Key="worm.txt", Body=b"v1")

    def locked(call, **kwargs):
        e = service_error(call, Bucket=lbucket, **kwargs)
        assert e.get_status_code() == 409
        assert e.get_error_code() == "ObjectLocked"
        assert e.get_request_id()

    locked(lclient.delete_object, Key="worm.txt")
    locked(lclient.put_object, Key="worm.txt", Body=b"v2")
    locked(
        lclient.copy_object,
        Key="worm.txt",
        CopySource={"Bucket": lbucket, "Key": "src.txt", "Region": "ap-guangzhou"},
    )
    resp = lclient.delete_objects(
        Bucket=lbucket,
        Delete={"Object": [{"Key": "worm.txt"}, {"Key": "src.txt"}], "Quiet": "false"},
    )
    errors = resp.get("Error", [])
    assert [(e["Key"], e["Code"]) for e in errors] == [("worm.txt", "ObjectLocked")]
    assert [d["Key"] for d in resp["Deleted"]] == ["src.txt"]
    body = lclient.get_object(Bucket=lbucket, Key="worm.txt")["Body"].get_raw_stream().read()
    assert body == b"v1"
    assert time.monotonic() - start < RETENTION_DAYS, "refusals must run inside the retention"

    # After the retention (3 "days" of 1 s): delete works.
    time.sleep(max(0.0, RETENTION_DAYS + 0.3 - (time.monotonic() - start)))
    lclient.delete_object(Bucket=lbucket, Key="worm.txt")
    e = service_error(lclient.head_object, Bucket=lbucket, Key="worm.txt")
    assert e.get_status_code() == 404


def test_object_retention_over_signed_http(lock_server, lclient, lbucket):
    """``?retention`` (cos-go-sdk-v5's PutObjectRetention; the Python SDK has no
    call) over requests signed with the SDK's CosS3Auth."""
    raw = Raw(lock_server, lclient)
    lclient.put_bucket_object_lock(Bucket=lbucket, ObjectLockConfiguration=lock_config())
    lclient.put_object(Bucket=lbucket, Key="r.txt", Body=b"keep")
    # No default rule: not retained yet.
    r = raw.request("GET", lbucket, "r.txt", params={"retention": ""})
    assert r.status_code == 404
    assert "<Code>NoSuchObjectLockConfiguration</Code>" in r.text
    doc = (
        "<Retention><Mode>COMPLIANCE</Mode>"
        "<RetainUntilDate>2099-12-31T00:00:00Z</RetainUntilDate></Retention>"
    )
    r = raw.request("PUT", lbucket, "r.txt", params={"retention": ""}, data=doc,
                    headers={"Content-Type": "application/xml"})
    assert r.status_code == 200, r.text
    r = raw.request("GET", lbucket, "r.txt", params={"retention": ""})
    assert r.status_code == 200
    assert "<RetainUntilDate>2099-12-31T00:00:00.000Z</RetainUntilDate>" in r.text
    e = service_error(lclient.delete_object, Bucket=lbucket, Key="r.txt")
    assert (e.get_status_code(), e.get_error_code()) == (409, "ObjectLocked")
    shorter = doc.replace("2099-12-31", "2098-01-01")
    r = raw.request("PUT", lbucket, "r.txt", params={"retention": ""}, data=shorter,
                    headers={"Content-Type": "application/xml"})
    assert r.status_code == 409
    assert "<Code>ObjectLocked</Code>" in r.text
