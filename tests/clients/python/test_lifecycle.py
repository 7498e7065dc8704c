"""Lifecycle and intelligent tiering with cos-python-sdk-v5 (spec cos-bucket.md §4,
§13): put/get/delete_bucket_lifecycle round trips, validation errors, the
expiration effect and ``x-cos-expiration``, and the intelligent-tiering calls.

This file starts its own server with 2-second days (``--day-seconds 2``): an
object under a 1-day Expiration rule is gone within 6 s of its creation.
"""

import email.utils
import time

import pytest
from qcloud_cos import CosServiceError
from qcloud_cos.cos_comm import get_date

from conftest import LocalCos, assert_error, make_client, service_error, unique_bucket_name


@pytest.fixture(scope="module")
def lc_server(log_dir):
    srv = LocalCos(["--day-seconds", "2"], log_dir, "lifecycle")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def lc_client(lc_server):
    return make_client(lc_server)


@pytest.fixture
def lc_bucket(lc_client):
    name = unique_bucket_name()
    lc_client.create_bucket(Bucket=name)
    yield name


def test_lifecycle_put_get_delete(lc_client, lc_bucket):
    c, b = lc_client, lc_bucket
    with pytest.raises(CosServiceError) as e:
        c.get_bucket_lifecycle(Bucket=b)
    assert_error(service_error(e), 404, "NoSuchLifecycleConfiguration")
    config = {
        "Rule": [
            {
                "ID": "logs-tiering",
                "Status": "Enabled",
                "Filter": {
                    "And": {
                        "Prefix": "logs/",
                        "Tag": [{"Key": "datalevel", "Value": "backup"}],
                    }
                },
                "Transition": [
                    {"Days": "30", "StorageClass": "STANDARD_IA"},
                    {"Days": "90", "StorageClass": "ARCHIVE"},
                ],
                "Expiration": {"Days": "365"},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": "7"},
            },
            {
                "ID": "tmp-by-date",
                "Status": "Enabled",
                "Filter": {"Prefix": "tmp/"},
                "Expiration": {"Date": get_date(2030, 1, 1)},
            },
            {
                "ID": "noncurrent",
                "Status": "Disabled",
                "Filter": {"Prefix": ""},
                "Expiration": {"ExpiredObjectDeleteMarker": "true"},
                "NoncurrentVersionTransition": [{"NoncurrentDays": "30", "StorageClass": "STANDARD_IA"}],
                "NoncurrentVersionExpiration": {"NoncurrentDays": "180"},
            },
        ]
    }
    c.put_bucket_lifecycle(Bucket=b, LifecycleConfiguration=config)
    got = c.get_bucket_lifecycle(Bucket=b)
    rules = got["Rule"]
    assert [r["ID"] for r in rules] == ["logs-tiering", "tmp-by-date", "noncurrent"]
    first = rules[0]
    assert first["Transition"] == config["Rule"][0]["Transition"], "repeated Transition, in order"
    assert first["Filter"]["And"]["Prefix"] == "logs/"
    assert first["Expiration"] == {"Days": "365"}
    assert first["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": "7"}
    assert rules[1]["Expiration"] == {"Date": "2030-01-01T00:00:00+08:00"}, "Date as sent"
    assert rules[2]["Status"] == "Disabled"
    assert rules[2]["NoncurrentVersionExpiration"] == {"NoncurrentDays": "180"}
    assert rules[2]["Expiration"] == {"ExpiredObjectDeleteMarker": "true"}

    # Days and Date in one action, an unknown storage class: 400 InvalidArgument,
    # and the stored configuration stays.
    for bad in (
        {"Days": "1", "Date": get_date(2030, 1, 1)},
        None,
    ):
        rule = {"ID": "bad", "Status": "Enabled", "Filter": {"Prefix": ""}}
        if bad is None:
            rule["Transition"] = {"Days": "1", "StorageClass": "GLACIER"}
        else:
            rule["Expiration"] = bad
        with pytest.raises(CosServiceError) as e:
            c.put_bucket_lifecycle(Bucket=b, LifecycleConfiguration={"Rule": [rule]})
        assert_error(service_error(e), 400, "InvalidArgument")
    assert len(c.get_bucket_lifecycle(Bucket=b)["Rule"]) == 3

    c.delete_bucket_lifecycle(Bucket=b)
    with pytest.raises(CosServiceError) as e:
        c.get_bucket_lifecycle(Bucket=b)
    assert_error(service_error(e), 404, "NoSuchLifecycleConfiguration")


def test_expiration_removes_objects_within_three_days(lc_client, lc_bucket):
    c, b = lc_client, lc_bucket
    c.put_bucket_lifecycle(
        Bucket=b,
        LifecycleConfiguration={
            "Rule": [
                {
                    "ID": "tmp-1d",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "tmp/"},
                    "Expiration": {"Days": "1"},
                }
            ]
        },
    )
    start = time.monotonic()
    put = c.put_object(Bucket=b, Key="tmp/short.txt", Body=b"short-lived")
    c.put_object(Bucket=b, Key="keep/long.txt", Body=b"stays")
    announced = put["x-cos-expiration"]
    assert announced.endswith(', rule-id="tmp-1d"'), announced
    date = announced.split('"')[1]
    due = email.utils.parsedate_to_datetime(date).timestamp()
    assert time.time() - 1 <= due <= time.time() + 5, (date, time.time())
    head = c.head_object(Bucket=b, Key="tmp/short.txt")
    assert head["x-cos-expiration"] == announced
    assert "x-cos-expiration" not in c.head_object(Bucket=b, Key="keep/long.txt")
    while True:
        try:
            c.head_object(Bucket=b, Key="tmp/short.txt")
        except CosServiceError as e:
            assert e.get_status_code() == 404
            break
        assert time.monotonic() - start < 8, "not expired within 3 days of 2 s"
        time.sleep(0.2)
    assert c.object_exists(Bucket=b, Key="keep/long.txt")


def test_intelligent_tiering(lc_client, lc_bucket):
    c, b = lc_client, lc_bucket
    with pytest.raises(CosServiceError) as e:
        c.get_bucket_intelligenttiering(Bucket=b)
    assert_error(service_error(e), 404, "NoSuchConfiguration")
    conf = {"Status": "Enabled", "Transition": {"Days": "30", "RequestFrequent": "1"}}
    c.put_bucket_intelligenttiering(Bucket=b, IntelligentTieringConfiguration=conf)
    assert c.get_bucket_intelligenttiering(Bucket=b) == conf
    with pytest.raises(CosServiceError) as e:
        c.put_bucket_intelligenttiering(
            Bucket=b,
            IntelligentTieringConfiguration={"Status": "Enabled", "Transition": {"Days": "60", "RequestFrequent": "1"}},
        )
    err = service_error(e)
    assert_error(err, 400, "InvalidArgument")
    assert "Not support modify intelligent tiering configuration" in err.get_error_msg()

    # v2: the v1 rule is `default`; other ids are stored and listed.
    default = c.get_bucket_intelligenttiering_v2(Bucket=b, Id="default")
    assert default["Id"] == "default"
    assert default["Tiering"] == {"AccessTier": "INFREQUENT", "Days": "30", "RequestFrequent": "1"}
    cold = {
        "Id": "cold-logs",
        "Status": "Enabled",
        "Filter": {"And": {"Prefix": "logs/", "Tag": {"Key": "tier", "Value": "cold"}}},
        "Tiering": [
            {"AccessTier": "ARCHIVE_ACCESS", "Days": "91"},
            {"AccessTier": "DEEP_ARCHIVE_ACCESS", "Days": "180"},
        ],
    }
    c.put_bucket_intelligenttiering_v2(Bucket=b, IntelligentTieringConfiguration=cold, Id="cold-logs")
    got = c.get_bucket_intelligenttiering_v2(Bucket=b, Id="cold-logs")
    assert got == cold
    listed = c.list_bucket_intelligenttiering_configurations(Bucket=b)
    ids = sorted(x["Id"] for x in listed["IntelligentTieringConfiguration"])
    assert ids == ["cold-logs", "default"]
    with pytest.raises(CosServiceError) as e:
        c.put_bucket_intelligenttiering_v2(
            Bucket=b,
            IntelligentTieringConfiguration={
                "Id": "default",
                "Status": "Enabled",
                "Tiering": {"AccessTier": "INFREQUENT", "Days": "60"},
            },
            Id="default",
        )
    err = service_error(e)
    assert_error(err, 400, "InvalidArgument")
    assert "The default rule cannot be modified" in err.get_error_msg()
    with pytest.raises(CosServiceError) as e:
        c.get_bucket_intelligenttiering_v2(Bucket=b, Id="nope")
    assert_error(service_error(e), 404, "NoSuchConfiguration")
