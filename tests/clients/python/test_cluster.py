"""The real clients against a 3-node cluster (PostgreSQL + one shared blob dir), through an
nginx round-robin balancer and node by node: what one node writes, every node serves.

cos-python-sdk-v5 and boto3 run through the balancer (consecutive requests land on
different nodes); where a promise names different nodes ("parts through different nodes,
Complete through another"), each request goes to one node directly.  The cluster is the
session's ``cluster`` fixture (conftest.py, tests/clients/python/cluster.py).
"""

import io
import os
import xml.etree.ElementTree as ET

import pytest
from qcloud_cos import CosServiceError

from conftest import (
    Raw,
    assert_error,
    assert_every_node_serves,
    empty_and_delete_bucket,
    make_client,
    md5_hex,
    read_body,
    service_error,
    unique_bucket_name,
)
from s3_helpers import empty_and_delete_s3_bucket, new_s3_bucket_name, s3_client

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def lb(cluster):
    """cos-python-sdk-v5 through the balancer."""
    return make_client(cluster)


@pytest.fixture(scope="module")
def nodes(cluster):
    """One cos-python-sdk-v5 client per node."""
    return [make_client(n) for n in cluster.nodes]


@pytest.fixture(scope="module")
def raws(cluster, lb):
    """Hand-built signed requests, one helper per node."""
    return [Raw(n, lb) for n in cluster.nodes]


@pytest.fixture
def cbucket(lb):
    name = unique_bucket_name()
    lb.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(lb, name)


def test_every_node_is_ready_and_reports_postgres(cluster):
    import requests

    for n in cluster.nodes:
        r = requests.get(n.url + "/-/health/ready", timeout=5)
        assert r.status_code == 200, (n.name, r.text)
        r = requests.get(n.url + "/-/health/live", timeout=5)
        assert r.status_code == 200


def test_buckets_are_one_namespace(cluster, nodes):
    name = unique_bucket_name()
    nodes[0].create_bucket(Bucket=name)
    try:
        nodes[1].head_bucket(Bucket=name)
        node2 = cluster.nodes[2]
        svc = make_client(node2, IP=None, Port=None, ServiceDomain=node2.endpoint)
        listed = [b["Name"] for b in svc.list_buckets()["Buckets"]["Bucket"]]
        assert name in listed
        # Creating it again through another node is refused like on one node.
        with pytest.raises(CosServiceError) as ei:
            nodes[2].create_bucket(Bucket=name)
        assert_error(service_error(ei), 409, "BucketAlreadyOwnedByYou")
    finally:
        nodes[1].delete_bucket(Bucket=name)
    for c in nodes:
        with pytest.raises(CosServiceError) as ei:
            c.head_bucket(Bucket=name)
        assert service_error(ei).get_status_code() == 404


def test_objects_through_the_balancer(lb, nodes, cbucket):
    bodies = {f"dir/obj-{i}.bin": os.urandom(1000 + i * 997) for i in range(9)}
    for key, body in bodies.items():
        r = lb.put_object(Bucket=cbucket, Key=key, Body=body, Metadata={"x-cos-meta-k": key[-5:]})
        assert r["ETag"] == f'"{md5_hex(body)}"'
    for key, body in bodies.items():
        # Every node serves every object: GET, HEAD and a range.
        assert_every_node_serves(lb, nodes, cbucket, key, body, meta=key[-5:])
    # Copy through one node, read through the others.
    nodes[0].copy_object(
        Bucket=cbucket, Key="copy.bin",
        CopySource={"Bucket": cbucket, "Key": "dir/obj-3.bin", "Region": "ap-guangzhou"},
    )
    for c in nodes[1:]:
        assert read_body(c.get_object(Bucket=cbucket, Key="copy.bin")) == bodies["dir/obj-3.bin"]
    # Delete through one node: gone on every node.
    nodes[2].delete_object(Bucket=cbucket, Key="copy.bin")
    for c in nodes:
        with pytest.raises(CosServiceError) as ei:
            c.get_object(Bucket=cbucket, Key="copy.bin")
        assert_error(service_error(ei), 404, "NoSuchKey")


def test_listing_pages_across_nodes(nodes, lb, cbucket):
    # Byte order, not collation: "a" < "a/b" < "a0" < "b" < "é" (UTF-8 0xC3 sorts last).
    keys = ["a", "a/b", "a/c/d", "a0", "b", "B", "é", "zz", "a b", "a!"] + [f"n/{i:03}" for i in range(15)]
    for i, k in enumerate(keys):
        nodes[i % 3].put_object(Bucket=cbucket, Key=k, Body=k.encode())
    expected = sorted(keys, key=lambda k: k.encode())
    seen, marker, page = [], "", 0
    while True:
        # Each page through another node.
        r = nodes[page % 3].list_objects(Bucket=cbucket, Marker=marker, MaxKeys=4)
        seen += [o["Key"] for o in r.get("Contents", [])]
        page += 1
        if r["IsTruncated"] != "true":
            break
        marker = r["NextMarker"]
    assert seen == expected
    # Delimiter listing through the balancer.
    r = lb.list_objects(Bucket=cbucket, Prefix="a", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a", "a b", "a!", "a0"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/"]


def test_multipart_parts_through_different_nodes(nodes, cbucket):
    key = "mp/object.bin"
    parts = [os.urandom(MiB + 13), os.urandom(MiB + 7), os.urandom(12345)]
    upload_id = nodes[0].create_multipart_upload(Bucket=cbucket, Key=key)["UploadId"]
    etags = []
    for i, data in enumerate(parts):
        r = nodes[(i + 1) % 3].upload_part(
            Bucket=cbucket, Key=key, Body=data, PartNumber=i + 1, UploadId=upload_id
        )
        etags.append(r["ETag"])
    listed = nodes[2].list_parts(Bucket=cbucket, Key=key, UploadId=upload_id)
    assert [p["ETag"] for p in listed["Part"]] == etags
    assert [int(p["Size"]) for p in listed["Part"]] == [len(p) for p in parts]
    ups = nodes[1].list_multipart_uploads(Bucket=cbucket)
    assert [u["UploadId"] for u in ups["Upload"]] == [upload_id]
    r = nodes[2].complete_multipart_upload(
        Bucket=cbucket, Key=key, UploadId=upload_id,
        MultipartUpload={"Part": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )
    assert r["ETag"].strip('"').endswith("-3")
    whole = b"".join(parts)
    for c in nodes:
        got = c.get_object(Bucket=cbucket, Key=key)
        assert read_body(got) == whole
    # A range that spans the first two parts.
    got = nodes[0].get_object(Bucket=cbucket, Key=key, Range=f"bytes={MiB}-{MiB + 100}")
    assert read_body(got) == whole[MiB:MiB + 101]
    # The upload is gone on every node.
    with pytest.raises(CosServiceError) as ei:
        nodes[0].list_parts(Bucket=cbucket, Key=key, UploadId=upload_id)
    assert_error(service_error(ei), 404, "NoSuchUpload")


def test_sdk_upload_file_through_the_balancer(lb, cbucket, tmp_path):
    """The SDK's threaded multipart upload: its parts are spread over the nodes by nginx."""
    data = os.urandom(5 * MiB + 321)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    lb.upload_file(Bucket=cbucket, Key="big/upload.bin", LocalFilePath=str(src), PartSize=1, MAXThread=4)
    dst = tmp_path / "dst.bin"
    lb.download_file(Bucket=cbucket, Key="big/upload.bin", DestFilePath=str(dst), PartSize=1, MAXThread=4)
    assert dst.read_bytes() == data


def test_versions_across_nodes(nodes, cbucket):
    nodes[0].put_bucket_versioning(Bucket=cbucket, Status="Enabled")
    assert nodes[1].get_bucket_versioning(Bucket=cbucket)["Status"] == "Enabled"
    v1 = nodes[1].put_object(Bucket=cbucket, Key="v.txt", Body=b"one")["x-cos-version-id"]
    v2 = nodes[2].put_object(Bucket=cbucket, Key="v.txt", Body=b"two")["x-cos-version-id"]
    dm = nodes[0].delete_object(Bucket=cbucket, Key="v.txt")
    assert dm["x-cos-delete-marker"] == "true"
    marker = dm["x-cos-version-id"]
    listed = nodes[1].list_objects_versions(Bucket=cbucket, Prefix="v.txt")
    assert [m["VersionId"] for m in listed["DeleteMarker"]] == [marker]
    assert listed["DeleteMarker"][0]["IsLatest"] == "true"
    assert [v["VersionId"] for v in listed["Version"]] == [v2, v1]  # newest first
    with pytest.raises(CosServiceError) as ei:
        nodes[2].get_object(Bucket=cbucket, Key="v.txt")
    assert service_error(ei).get_status_code() == 404
    assert read_body(nodes[2].get_object(Bucket=cbucket, Key="v.txt", VersionId=v1)) == b"one"
    # Removing the marker through another node brings v2 back everywhere.
    nodes[1].delete_object(Bucket=cbucket, Key="v.txt", VersionId=marker)
    for c in nodes:
        assert read_body(c.get_object(Bucket=cbucket, Key="v.txt")) == b"two"
    for v in (v1, v2):
        nodes[0].delete_object(Bucket=cbucket, Key="v.txt", VersionId=v)


def test_append_across_nodes(nodes, cbucket):
    chunks = [os.urandom(1000 + 100 * i) for i in range(6)]
    pos = 0
    for i, chunk in enumerate(chunks):
        r = nodes[i % 3].append_object(Bucket=cbucket, Key="log.bin", Position=pos, Data=chunk)
        pos += len(chunk)
        assert int(r["x-cos-next-append-position"]) == pos
    # A stale position through yet another node is refused.
    with pytest.raises(CosServiceError) as ei:
        nodes[1].append_object(Bucket=cbucket, Key="log.bin", Position=len(chunks[0]), Data=b"x")
    assert_error(service_error(ei), 409, "AppendPositionErr")
    for c in nodes:
        got = c.get_object(Bucket=cbucket, Key="log.bin")
        assert read_body(got) == b"".join(chunks)
        assert got["x-cos-object-type"] == "appendable"


def test_acl_tagging_and_configuration_are_shared(nodes, cbucket):
    nodes[0].put_object(Bucket=cbucket, Key="t.txt", Body=b"t")
    nodes[1].put_object_acl(Bucket=cbucket, Key="t.txt", ACL="public-read")
    acl = nodes[2].get_object_acl(Bucket=cbucket, Key="t.txt")
    grants = acl["AccessControlList"]["Grant"]
    grants = grants if isinstance(grants, list) else [grants]
    assert any(g["Permission"] == "READ" for g in grants), acl
    nodes[2].put_object_tagging(
        Bucket=cbucket, Key="t.txt", Tagging={"TagSet": {"Tag": [{"Key": "team", "Value": "blue"}]}}
    )
    tags = nodes[0].get_object_tagging(Bucket=cbucket, Key="t.txt")["TagSet"]["Tag"]
    tags = tags if isinstance(tags, list) else [tags]
    assert tags == [{"Key": "team", "Value": "blue"}]
    # Bucket configuration written through one node is what the others enforce.
    nodes[0].put_bucket_cors(
        Bucket=cbucket,
        CORSConfiguration={"CORSRule": [{
            "AllowedOrigin": "https://app.example", "AllowedMethod": ["GET", "PUT"],
            "AllowedHeader": "*", "MaxAgeSeconds": 60,
        }]},
    )
    rule = nodes[1].get_bucket_cors(Bucket=cbucket)["CORSRule"]
    rule = rule[0] if isinstance(rule, list) else rule
    assert rule["AllowedOrigin"] in ("https://app.example", ["https://app.example"])
    nodes[1].put_bucket_tagging(
        Bucket=cbucket, Tagging={"TagSet": {"Tag": [{"Key": "env", "Value": "test"}]}}
    )
    btags = nodes[2].get_bucket_tagging(Bucket=cbucket)["TagSet"]["Tag"]
    btags = btags if isinstance(btags, list) else [btags]
    assert btags == [{"Key": "env", "Value": "test"}]
    nodes[2].put_bucket_acl(Bucket=cbucket, ACL="public-read")
    assert "READ" in str(nodes[0].get_bucket_acl(Bucket=cbucket))


def test_cors_preflight_answered_by_every_node(cluster, nodes, cbucket):
    import requests

    nodes[0].put_bucket_cors(
        Bucket=cbucket,
        CORSConfiguration={"CORSRule": [{
            "AllowedOrigin": "https://ok.example", "AllowedMethod": ["GET"], "AllowedHeader": "*",
        }]},
    )
    for n in cluster.nodes:
        r = requests.options(
            n.url + "/x.txt",
            headers={
                "Host": f"{cbucket}.cos.ap-guangzhou.myqcloud.com",
                "Origin": "https://ok.example",
                "Access-Control-Request-Method": "GET",
            },
            timeout=10,
        )
        assert r.status_code == 200, (n.name, r.text)
        assert r.headers["Access-Control-Allow-Origin"] == "https://ok.example"


def test_restore_state_is_shared(nodes, cbucket):
    restore = {"Days": 1, "CASJobParameters": {"Tier": "Standard"}}
    nodes[0].put_object(Bucket=cbucket, Key="cold.bin", Body=b"cold", StorageClass="ARCHIVE")
    with pytest.raises(CosServiceError) as ei:
        nodes[1].get_object(Bucket=cbucket, Key="cold.bin")
    assert_error(service_error(ei), 403, "InvalidObjectState")
    assert nodes[1].restore_object(Bucket=cbucket, Key="cold.bin", RestoreRequest=restore) is None
    head = nodes[2].head_object(Bucket=cbucket, Key="cold.bin")
    assert head["x-cos-restore"] == 'ongoing-request="true"'
    with pytest.raises(CosServiceError) as ei:
        nodes[0].restore_object(Bucket=cbucket, Key="cold.bin", RestoreRequest=restore)
    assert_error(service_error(ei), 409, "RestoreAlreadyInProgress")


def test_error_xml_through_the_balancer(cluster, lb, cbucket):
    with pytest.raises(CosServiceError) as ei:
        lb.get_object(Bucket=cbucket, Key="no/such/key")
    assert_error(service_error(ei), 404, "NoSuchKey")
    r = Raw(cluster, lb).request("GET", cbucket, "no/such/key")
    assert r.status_code == 404
    root = ET.fromstring(r.content)
    assert root.findtext("Code") == "NoSuchKey"
    assert r.headers["Server"] == "tencent-cos"


def test_keys_with_dot_segments_pass_the_balancer(lb, nodes, cbucket):
    """nginx passes the URI untouched (no URI part in proxy_pass): `..`, `.`, `//`, `%2F`."""
    keys = ["a/./b/../c.txt", "a//b", "x%2Fy", "sp ace/ü.txt", "a/../b"]
    for i, k in enumerate(keys):
        lb.put_object(Bucket=cbucket, Key=k, Body=k.encode())
    # A key whose path climbs above the root is refused by nginx itself (400, before any
    # node sees it: README "Scale-out"); the nodes take it.
    nodes[0].put_object(Bucket=cbucket, Key="../up", Body=b"up")
    keys.append("../up")
    for k in keys:
        expected = b"up" if k == "../up" else k.encode()
        assert read_body(nodes[1].get_object(Bucket=cbucket, Key=k)) == expected
    listed = [o["Key"] for o in nodes[2].list_objects(Bucket=cbucket)["Contents"]]
    assert sorted(listed) == sorted(keys)


# --- boto3 through the balancer ------------------------------------------------------------


def test_boto3_through_the_balancer(cluster):
    s3 = s3_client(cluster)
    node_s3 = [s3_client(n) for n in cluster.nodes]
    bucket = new_s3_bucket_name("cl")
    s3.create_bucket(Bucket=bucket)
    try:
        for i in range(12):
            s3.put_object(Bucket=bucket, Key=f"k/{i:02}", Body=f"body {i}".encode())
        # list_objects_v2 pages, each request through the balancer (round-robin).
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 5}
        ):
            keys += [o["Key"] for o in page["Contents"]]
        assert keys == [f"k/{i:02}" for i in range(12)]
        for i, c in enumerate(node_s3):
            assert c.get_object(Bucket=bucket, Key=f"k/{i:02}")["Body"].read() == f"body {i}".encode()
        # Conditional create through two different nodes: the second is refused.
        node_s3[0].put_object(Bucket=bucket, Key="once", Body=b"1", IfNoneMatch="*")
        with pytest.raises(node_s3[1].exceptions.ClientError) as ei:
            node_s3[1].put_object(Bucket=bucket, Key="once", Body=b"2", IfNoneMatch="*")
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
        assert ei.value.response["Error"]["Code"] == "PreconditionFailed"
        # s3transfer multipart (8 MiB parts by default; 5 MiB here) spread over the nodes.
        from boto3.s3.transfer import TransferConfig

        data = os.urandom(11 * MiB + 5)
        cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=3)
        s3.upload_fileobj(io.BytesIO(data), bucket, "big.bin", Config=cfg)
        head = node_s3[2].head_object(Bucket=bucket, Key="big.bin")
        assert head["ContentLength"] == len(data)
        assert head["ETag"].strip('"').endswith("-3")
        out = io.BytesIO()
        s3.download_fileobj(bucket, "big.bin", out, Config=cfg)
        assert out.getvalue() == data
        r = node_s3[1].delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": f"k/{i:02}"} for i in range(12)]}
        )
        assert len(r["Deleted"]) == 12
        left = node_s3[0].list_objects_v2(Bucket=bucket)
        assert sorted(o["Key"] for o in left["Contents"]) == ["big.bin", "once"]
    finally:
        empty_and_delete_s3_bucket(s3, bucket)
