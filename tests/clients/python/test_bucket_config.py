"""Bucket configuration sub-resources with cos-python-sdk-v5 (spec
cos-bucket.md §6 and §14): tagging and default encryption put/get/delete, and
the default-encryption effect on writes."""

import pytest
from qcloud_cos import CosServiceError

from conftest import assert_error, service_error


def test_bucket_tagging(client, bucket):
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_tagging(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchTagSet")
    tags = {"TagSet": {"Tag": [{"Key": "team", "Value": "storage"}, {"Key": "env", "Value": "prod test"}]}}
    client.put_bucket_tagging(Bucket=bucket, Tagging=tags)
    got = client.get_bucket_tagging(Bucket=bucket)
    assert got["TagSet"]["Tag"] == tags["TagSet"]["Tag"], "same tags, same order"
    client.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_tagging(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchTagSet")


def test_bucket_encryption_applies_to_writes(client, bucket):
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_encryption(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchEncryptionConfiguration")
    rule = {"Rule": [{"ApplySideEncryptionConfiguration": {"SSEAlgorithm": "AES256"}}]}
    # The SDK's own test sends this (misspelt) element; COS treats it as the rule.
    client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=rule)
    got = client.get_bucket_encryption(Bucket=bucket)
    assert got["Rule"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    put = client.put_object(Bucket=bucket, Key="auto.txt", Body=b"encrypted by default")
    assert put["x-cos-server-side-encryption"] == "AES256"
    head = client.head_object(Bucket=bucket, Key="auto.txt")
    assert head["x-cos-server-side-encryption"] == "AES256"
    body = client.get_object(Bucket=bucket, Key="auto.txt")["Body"].get_raw_stream().read()
    assert body == b"encrypted by default"

    client.delete_bucket_encryption(Bucket=bucket)
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_encryption(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchEncryptionConfiguration")
    put = client.put_object(Bucket=bucket, Key="plain.txt", Body=b"plain")
    assert "x-cos-server-side-encryption" not in put
