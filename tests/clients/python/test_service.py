"""GET Service filters and paging, CreateBucketConfiguration and HEAD Bucket's
layout headers with cos-python-sdk-v5 (cos-bucket.md §15.1, §15.2)."""

import secrets
import time
from datetime import datetime

import pytest
from qcloud_cos import CosServiceError

from conftest import REGION, assert_error, empty_and_delete_bucket, make_client, service_error, unique_bucket_name


@pytest.fixture
def svc(server):
    return make_client(server, IP=None, Port=None, ServiceDomain=server.endpoint)


def names_of(resp):
    buckets = (resp.get("Buckets") or {}).get("Bucket") or []
    return [b["Name"] for b in buckets]


def test_list_buckets_filters_by_tag_region_and_creation_time(client, svc):
    value = secrets.token_hex(4)
    made = [unique_bucket_name() for _ in range(3)]
    try:
        for name in made:
            client.create_bucket(Bucket=name)
        for name in made[:2]:
            client.put_bucket_tagging(
                Bucket=name, Tagging={"TagSet": {"Tag": [{"Key": "filter-test", "Value": value}]}}
            )
        tagged = svc.list_buckets(TagKey="filter-test", TagValue=value)
        assert sorted(names_of(tagged)) == sorted(made[:2])
        assert names_of(svc.list_buckets(TagKey="filter-test", TagValue="other")) == []

        in_region = names_of(svc.list_buckets(Region=REGION))
        assert set(made) <= set(in_region)
        assert names_of(svc.list_buckets(Region="ap-nowhere")) == []

        later = int(time.time()) + 3600
        assert set(made) <= set(names_of(svc.list_buckets(CreateTime=later, Range="lt")))
        assert names_of(svc.list_buckets(CreateTime=later, Range="gt")) == []

        with pytest.raises(CosServiceError) as ei:
            svc.list_buckets(CreateTime=later, Range="eq")
        assert_error(service_error(ei), 400, "InvalidArgument")
    finally:
        for name in made:
            empty_and_delete_bucket(client, name)


def test_list_buckets_pages_on_marker(client, svc):
    made = sorted(unique_bucket_name() for _ in range(3))
    try:
        for name in made:
            client.create_bucket(Bucket=name)
        seen, marker = [], ""
        while True:
            resp = svc.list_buckets(Marker=marker, MaxKeys=2)
            page = names_of(resp)
            assert len(page) <= 2
            assert resp["Marker"] == (marker or None)
            for b in resp["Buckets"]["Bucket"]:
                # Whole seconds, as the SDK's own test parses them.
                datetime.strptime(b["CreationDate"], "%Y-%m-%dT%H:%M:%SZ")
            seen += page
            if resp["IsTruncated"] == "false":
                assert "NextMarker" not in resp or resp["NextMarker"] is None
                break
            assert resp["IsTruncated"] == "true"
            assert resp["NextMarker"] == page[-1]
            marker = resp["NextMarker"]
        assert seen == sorted(seen)
        assert set(made) <= set(seen)
        assert len(seen) == len(set(seen))
    finally:
        for name in made:
            empty_and_delete_bucket(client, name)


def test_create_bucket_maz_ofs_reported_by_head_and_meta(client):
    name = unique_bucket_name()
    plain = unique_bucket_name()
    try:
        client.create_bucket(Bucket=name, BucketAZConfig="MAZ", BucketArchConfig="OFS")
        client.create_bucket(Bucket=plain)
        head = client.head_bucket(Bucket=name)
        assert head["x-cos-bucket-region"] == REGION
        assert head["x-cos-bucket-az-type"] == "MAZ"
        assert head["x-cos-bucket-arch"] == "OFS"
        head = client.head_bucket(Bucket=plain)
        assert head["x-cos-bucket-region"] == REGION
        assert "x-cos-bucket-az-type" not in head
        assert "x-cos-bucket-arch" not in head
        meta = client.get_bucket_meta(Bucket=name)
        assert meta["MAZ"] is True and meta["OFS"] is True
        assert meta["Location"] == REGION
        assert client.get_bucket_meta(Bucket=plain)["MAZ"] is False
        assert client.get_bucket_location(Bucket=name)["LocationConstraint"] == REGION
    finally:
        empty_and_delete_bucket(client, name)
        empty_and_delete_bucket(client, plain)
