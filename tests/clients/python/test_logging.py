"""Bucket access logging with cos-python-sdk-v5 (spec cos-bucket.md §7,
NOTES-ON-ISSUES 8): put/get_bucket_logging, the disabling empty PUT, the
documented error for a missing target, and the effect — log objects with one
line per request in COS's field order, delivered every second by a server
started with ``--log-interval-seconds 1``; the delivery itself is never
logged."""

import time

import pytest
from qcloud_cos import CosServiceError

from conftest import (
    assert_error,
    fresh_buckets,
    make_client,
    own_server,
    service_error,
    unique_bucket_name,
)


@pytest.fixture(scope="module")
def log_server(log_dir):
    yield from own_server(log_dir, ["--log-interval-seconds", "1"], "logging")


@pytest.fixture(scope="module")
def log_client(log_server):
    return make_client(log_server)


@pytest.fixture
def two_buckets(log_client):
    def logging_off(name):
        log_client.put_bucket_logging(Bucket=name, BucketLoggingStatus={})

    yield from fresh_buckets(log_client, 2, before_delete=logging_off)


def wait_for_keys(client, bucket, prefix, timeout=8.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = client.list_objects(Bucket=bucket, Prefix=prefix).get("Contents", [])
        if got:
            return [o["Key"] for o in got]
        time.sleep(0.2)
    return []


def test_put_get_disable(log_client, two_buckets):
    src, target = two_buckets
    # Unset: 200 with an empty BucketLoggingStatus.
    assert not log_client.get_bucket_logging(Bucket=src).get("LoggingEnabled")
    status = {"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "logs/"}}
    log_client.put_bucket_logging(Bucket=src, BucketLoggingStatus=status)
    got = log_client.get_bucket_logging(Bucket=src)
    assert got["LoggingEnabled"] == {"TargetBucket": target, "TargetPrefix": "logs/"}
    # A bucket may log into itself (the SDK's own test does).
    log_client.put_bucket_logging(
        Bucket=src, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": src, "TargetPrefix": "self/"}}
    )
    assert log_client.get_bucket_logging(Bucket=src)["LoggingEnabled"]["TargetBucket"] == src
    # A target that does not exist: documented error, nothing changes.
    with pytest.raises(CosServiceError) as e:
        log_client.put_bucket_logging(
            Bucket=src,
            BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": unique_bucket_name(), "TargetPrefix": "x/"}},
        )
    assert_error(service_error(e), 400, "InvalidTargetBucketForLogging")
    assert log_client.get_bucket_logging(Bucket=src)["LoggingEnabled"]["TargetPrefix"] == "self/"
    # The SDK's "delete": an empty document.
    log_client.put_bucket_logging(Bucket=src, BucketLoggingStatus={})
    assert not log_client.get_bucket_logging(Bucket=src).get("LoggingEnabled")
    # A missing bucket.
    with pytest.raises(CosServiceError) as e:
        log_client.get_bucket_logging(Bucket=unique_bucket_name())
    assert_error(service_error(e), 404, "NoSuchBucket")


def test_log_objects_appear_with_the_right_lines(log_client, two_buckets):
    src, target = two_buckets
    log_client.put_bucket_logging(
        Bucket=src, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "access/"}}
    )
    log_client.put_object(Bucket=src, Key="dir/hello world.txt", Body=b"hello")
    body = log_client.get_object(Bucket=src, Key="dir/hello world.txt")["Body"].get_raw_stream().read()
    assert body == b"hello"
    with pytest.raises(CosServiceError):
        log_client.head_object(Bucket=src, Key="missing")

    keys = wait_for_keys(log_client, target, "access/")
    assert keys, "a log object within a few intervals of 1 s"
    # access/YYYY/MM/DD/<YYYYMMDDHHMMSS>_<random>_<index>
    parts = keys[0].split("/")
    assert len(parts) == 5 and parts[0] == "access"
    stamp, random, index = parts[4].split("_")
    assert stamp[:8] == "".join(parts[1:4]) and len(stamp) == 14
    assert len(random) == 8 and index.isdigit()

    time.sleep(1.5)  # every line delivered
    lines = []
    for k in wait_for_keys(log_client, target, "access/"):
        data = log_client.get_object(Bucket=target, Key=k)["Body"].get_raw_stream().read()
        lines += [l.split(" ") for l in data.decode().splitlines()]
    ops = [(l[5], l[14]) for l in lines]
    assert ("PutObject", "200") in ops
    assert ("GetObject", "200") in ops
    assert ("HeadObject", "404") in ops
    for l in lines:
        assert len(l) == 28, l
        assert l[0] == "1.0" and l[1] == src and l[2] == "ap-guangzhou"
        assert l[6] == "127.0.0.1"
        assert l[12] in ("put", "get", "head")
        assert l[13].startswith("cos-python-sdk-v5")
    put = next(l for l in lines if l[5] == "PutObject")
    assert put[11] == "/dir/hello%20world.txt"
    assert put[9] == "5"
    head = next(l for l in lines if l[5] == "HeadObject")
    assert head[15] == "NoSuchKey"


def test_own_delivery_is_not_logged(log_client, two_buckets):
    src, _ = two_buckets
    log_client.put_bucket_logging(
        Bucket=src, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": src, "TargetPrefix": "self/"}}
    )
    log_client.put_object(Bucket=src, Key="one", Body=b"1")
    first = wait_for_keys(log_client, src, "self/")
    assert len(first) == 1
    # Listing the log bucket is logged (the lines of the wait loop), but the
    # deliveries are not: no line names a key under self/ with PutObject.
    time.sleep(2.5)
    lines = []
    for k in wait_for_keys(log_client, src, "self/"):
        data = log_client.get_object(Bucket=src, Key=k)["Body"].get_raw_stream().read()
        lines += [l.split(" ") for l in data.decode().splitlines()]
    puts = [l for l in lines if l[5] == "PutObject"]
    assert [l[11] for l in puts] == ["/one"], puts
