"""Object tagging with real clients (spec cos.md §6A.7): cos-python-sdk-v5
`put/get/delete_object_tagging` and `put_object(..., Tagging=...)` with
`x-cos-tagging-count` on HEAD; boto3 `put/get/delete_object_tagging` and
`put_object(Tagging=...)`, where S3 form-decodes the header (`+` is a space)
while COS keeps `+` literal."""

import pytest
from botocore.exceptions import ClientError
from qcloud_cos import CosServiceError

from conftest import assert_error, service_error
from s3_helpers import empty_and_delete_s3_bucket, new_s3_bucket_name, s3_client


def tag_list(resp):
    # An empty <TagSet/> parses to None in the SDK.
    tags = (resp.get("TagSet") or {}).get("Tag", [])
    tags = tags if isinstance(tags, list) else [tags]
    return [(t["Key"], t["Value"] or "") for t in tags]  # <Value/> parses to None


def test_cos_put_get_delete_object_tagging(client, bucket):
    client.put_object(Bucket=bucket, Key="t.txt", Body=b"data")
    assert tag_list(client.get_object_tagging(Bucket=bucket, Key="t.txt")) == []
    assert "x-cos-tagging-count" not in client.head_object(Bucket=bucket, Key="t.txt")

    tagging = {"TagSet": {"Tag": [{"Key": "k2", "Value": "v 2"}, {"Key": "k1", "Value": "a+b:/=."}]}}
    client.put_object_tagging(Bucket=bucket, Key="t.txt", Tagging=tagging)
    # Order and values as sent (the SDK's own test compares the dict).
    assert tag_list(client.get_object_tagging(Bucket=bucket, Key="t.txt")) == [
        ("k2", "v 2"), ("k1", "a+b:/=."),
    ]
    assert client.head_object(Bucket=bucket, Key="t.txt")["x-cos-tagging-count"] == "2"
    # The bytes are untouched.
    assert client.get_object(Bucket=bucket, Key="t.txt")["Body"].get_raw_stream().read() == b"data"

    # PUT replaces the whole set.
    client.put_object_tagging(Bucket=bucket, Key="t.txt",
                              Tagging={"TagSet": {"Tag": [{"Key": "only", "Value": ""}]}})
    assert tag_list(client.get_object_tagging(Bucket=bucket, Key="t.txt")) == [("only", "")]

    client.delete_object_tagging(Bucket=bucket, Key="t.txt")
    assert tag_list(client.get_object_tagging(Bucket=bucket, Key="t.txt")) == []
    assert "x-cos-tagging-count" not in client.head_object(Bucket=bucket, Key="t.txt")


def test_cos_tagging_errors(client, bucket):
    with pytest.raises(CosServiceError) as e:
        client.get_object_tagging(Bucket=bucket, Key="missing")
    assert_error(service_error(e), 404, "NoSuchKey")
    client.put_object(Bucket=bucket, Key="k", Body=b"x")
    too_many = {"TagSet": {"Tag": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]}}
    with pytest.raises(CosServiceError) as e:
        client.put_object_tagging(Bucket=bucket, Key="k", Tagging=too_many)
    assert_error(service_error(e), 400, "InvalidTag")
    with pytest.raises(CosServiceError) as e:
        client.put_object_tagging(Bucket=bucket, Key="k",
                                  Tagging={"TagSet": {"Tag": [{"Key": "k" * 129, "Value": "v"}]}})
    assert_error(service_error(e), 400, "InvalidTag")
    with pytest.raises(CosServiceError) as e:
        client.put_object(Bucket=bucket, Key="k2", Body=b"x", Tagging="a=1&a=2")
    assert_error(service_error(e), 400, "InvalidTag")


def test_cos_put_object_with_tagging_header(client, bucket):
    # Python passes the header raw; `+` stays literal on COS, `%XX` is decoded.
    client.put_object(Bucket=bucket, Key="h.txt", Body=b"x", Tagging="A=B&c=d+e&f=g%20h")
    assert tag_list(client.get_object_tagging(Bucket=bucket, Key="h.txt")) == [
        ("A", "B"), ("c", "d+e"), ("f", "g h"),
    ]
    head = client.head_object(Bucket=bucket, Key="h.txt")
    assert head["x-cos-tagging-count"] == "3"
    got = client.get_object(Bucket=bucket, Key="h.txt")
    assert got["x-cos-tagging-count"] == "3"


@pytest.fixture(scope="module")
def s3(server):
    return s3_client(server)


@pytest.fixture
def s3_bucket(s3):
    name = new_s3_bucket_name("tag")
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_s3_bucket(s3, name)


def test_boto3_object_tagging(s3, s3_bucket):
    s3.put_object(Bucket=s3_bucket, Key="b.txt", Body=b"x")
    assert s3.get_object_tagging(Bucket=s3_bucket, Key="b.txt")["TagSet"] == []
    s3.put_object_tagging(Bucket=s3_bucket, Key="b.txt", Tagging={"TagSet": [
        {"Key": "team", "Value": "a b"}, {"Key": "env", "Value": "dev"},
    ]})
    assert s3.get_object_tagging(Bucket=s3_bucket, Key="b.txt")["TagSet"] == [
        {"Key": "team", "Value": "a b"}, {"Key": "env", "Value": "dev"},
    ]
    assert s3.get_object(Bucket=s3_bucket, Key="b.txt")["TagCount"] == 2
    assert s3.head_object(Bucket=s3_bucket, Key="b.txt")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"] == "2"
    s3.delete_object_tagging(Bucket=s3_bucket, Key="b.txt")
    assert s3.get_object_tagging(Bucket=s3_bucket, Key="b.txt")["TagSet"] == []
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=s3_bucket, Key="b.txt", Tagging={"TagSet": [
            {"Key": "k", "Value": "v"}, {"Key": "k", "Value": "w"},
        ]})
    assert e.value.response["Error"]["Code"] == "InvalidTag"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_boto3_put_object_tagging_header_is_form_decoded(s3, s3_bucket, client):
    # boto3 sends the Tagging string as given; S3 reads it as a query string,
    # so `+` is a space and `%2B` a plus.
    s3.put_object(Bucket=s3_bucket, Key="f.txt", Body=b"x", Tagging="team=a+b&sum=1%2B1&path=x%2Fy")
    assert s3.get_object_tagging(Bucket=s3_bucket, Key="f.txt")["TagSet"] == [
        {"Key": "team", "Value": "a b"}, {"Key": "sum", "Value": "1+1"}, {"Key": "path", "Value": "x/y"},
    ]
    # COS clients see the same tags.
    assert tag_list(client.get_object_tagging(Bucket=s3_bucket, Key="f.txt")) == [
        ("team", "a b"), ("sum", "1+1"), ("path", "x/y"),
    ]
