"""cos-python-sdk-v5 against a 3-node cluster whose blobs live in S3 (``--blob-store
s3://BUCKET/PREFIX``) instead of a shared directory: SeaweedFS, a real S3 server started by
the test (weed.py), one PostgreSQL database, nginx round-robin in front of the nodes.

What the SDK writes through one node every node serves (GET, HEAD, Range, listing, copy);
a multipart upload through the balancer spreads its parts over the nodes; the bytes are
plain objects ``PREFIX/<blob id>`` in the S3 bucket and never land in a node's data dir;
deleting everything leaves the prefix empty once the GC grace has passed.
"""

import os
import uuid

import pytest

from cluster import Cluster
from conftest import assert_every_node_serves, make_client, read_body, unique_bucket_name
from test_cluster_faults import GC_WAIT, delete_everything, wait_until
from weed import BUCKET, Weed

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def weed():
    w = Weed()
    yield w
    w.stop()


@pytest.fixture(scope="module")
def s3c(pg, weed):
    prefix = f"py-{uuid.uuid4().hex[:12]}"
    c = Cluster(
        pg, nodes=3, gc_grace_seconds=1,
        blob_store=f"s3://{BUCKET}/{prefix}", blob_env=weed.node_env(),
    )
    c.prefix = prefix
    yield c
    c.stop()


def blob_keys(weed, s3c):
    return weed.keys(s3c.prefix)


def local_bytes(s3c) -> int:
    """Bytes in the nodes' own data dirs (object bytes must not land there)."""
    return sum(p.stat().st_size for n in s3c.nodes for p in n.data_dir.rglob("*") if p.is_file())


def test_what_one_node_writes_every_node_serves(s3c, weed):
    lb = make_client(s3c)
    nodes = [make_client(n) for n in s3c.nodes]
    bucket = unique_bucket_name()
    lb.create_bucket(Bucket=bucket)
    before = set(blob_keys(weed, s3c))
    bodies = {f"dir/obj-{i}.bin": os.urandom(256 * 1024 * (i + 1) + i) for i in range(3)}
    for i, (key, body) in enumerate(bodies.items()):
        nodes[i].put_object(Bucket=bucket, Key=key, Body=body, Metadata={"x-cos-meta-k": str(i)})
    for i, (key, body) in enumerate(bodies.items()):
        assert_every_node_serves(lb, nodes, bucket, key, body, meta=str(i))
    listed = nodes[2].list_objects(Bucket=bucket, Prefix="dir/")
    assert [c["Key"] for c in listed["Contents"]] == sorted(bodies)
    # One blob object per PUT, named PREFIX/<32 hex digits>.
    new = set(blob_keys(weed, s3c)) - before
    assert len(new) == 3, new
    assert all(len(k) == len(s3c.prefix) + 33 for k in new), new
    assert local_bytes(s3c) < 256 * 1024, local_bytes(s3c)
    # A copy through one node and an overwrite through another, read through the third.
    nodes[0].copy_object(
        Bucket=bucket, Key="copy.bin",
        CopySource={"Bucket": bucket, "Key": "dir/obj-1.bin", "Region": "ap-guangzhou"},
    )
    nodes[1].put_object(Bucket=bucket, Key="dir/obj-0.bin", Body=b"replaced")
    assert read_body(nodes[2].get_object(Bucket=bucket, Key="copy.bin")) == bodies["dir/obj-1.bin"]
    assert read_body(nodes[2].get_object(Bucket=bucket, Key="dir/obj-0.bin")) == b"replaced"


def test_multipart_parts_spread_over_the_nodes(s3c, weed, tmp_path):
    lb = make_client(s3c)
    bucket = unique_bucket_name()
    lb.create_bucket(Bucket=bucket)
    src = tmp_path / "big.bin"
    body = os.urandom(7 * MiB + 12345)
    src.write_bytes(body)
    # 1 MiB parts, one at a time, through the balancer: consecutive parts reach
    # different nodes, Complete another.
    lb.upload_file(Bucket=bucket, Key="big.bin", LocalFilePath=str(src), PartSize=1, MAXThread=1)
    for n in s3c.nodes:
        got = make_client(n).get_object(Bucket=bucket, Key="big.bin")
        assert read_body(got) == body
    dest = tmp_path / "down.bin"
    lb.download_file(Bucket=bucket, Key="big.bin", DestFilePath=str(dest), PartSize=2, MAXThread=2)
    assert dest.read_bytes() == body
    assert local_bytes(s3c) < 256 * 1024, local_bytes(s3c)


def test_deleting_everything_empties_the_prefix(s3c, weed):
    lb = make_client(s3c)
    nodes = [make_client(n) for n in s3c.nodes]
    # Everything the earlier tests left, plus versions of a versioned bucket.
    versioned = unique_bucket_name()
    lb.create_bucket(Bucket=versioned)
    lb.put_bucket_versioning(Bucket=versioned, Status="Enabled")
    for i in range(6):
        nodes[i % 3].put_object(Bucket=versioned, Key="v", Body=os.urandom(1000 + i))
    assert blob_keys(weed, s3c), "no blob was written to S3"
    node = s3c.nodes[0]
    svc = make_client(node, IP=None, Port=None, ServiceDomain=node.endpoint)
    for b in svc.list_buckets()["Buckets"]["Bucket"]:
        delete_everything(lb, b["Name"])
    if not wait_until(lambda: not blob_keys(weed, s3c), GC_WAIT, 0.5):
        pytest.fail(
            f"blob objects left under {s3c.prefix}/ {GC_WAIT:.0f} s after deleting "
            f"everything: {blob_keys(weed, s3c)[:20]}\n{s3c.logs()}"
        )
