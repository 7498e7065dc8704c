"""Blob deletion with a grace period (issue 10, NOTES 17; README "Blob deletion and
--gc-grace-seconds"), driven with cos-python-sdk-v5 against a server of its own on a
data dir with ``--gc-grace-seconds 2``: an overwritten object's blob stays for the
grace (a reader that started before the overwrite finishes with the old bytes), then
the leased collector deletes it; deleting everything brings the blob dir back to
empty; an orphan blob left by a killed writer is collected; deferred deletes survive
a kill -9 of the server. The GC backlog is read from ``/-/metrics``."""

import os
import secrets
import signal
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import APPID, LocalCos, make_client

GRACE = 2


def blob_files(data_dir: Path):
    root = data_dir / "blobs"
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file())


def metric(srv, name, **labels):
    """One sample of /-/metrics (None when absent)."""
    text = requests.get(
        f"{srv.url}/-/metrics", timeout=10, proxies={"http": None, "https": None}
    ).text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        head, _, val = line.rpartition(" ")
        if head == name or (want and head.startswith(name + "{") and all(
                f'{k}="{v}"' in head for k, v in labels.items())):
            return float(val)
    return None


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {what}")
        time.sleep(0.1)


def start(log_dir, data_dir, name):
    return LocalCos(
        ["--data-dir", str(data_dir), "--gc-grace-seconds", str(GRACE)],
        log_dir,
        f"gc-{name}-{secrets.token_hex(3)}",
        ephemeral=False,
    )


@pytest.fixture
def gc_server(log_dir, tmp_path):
    data = tmp_path / "data"
    srv = start(log_dir, data, "main")
    srv.data_dir = data
    yield srv
    srv.stop()


def new_bucket(client):
    name = f"gc{secrets.token_hex(4)}-{APPID}"
    client.create_bucket(Bucket=name)
    return name


def test_overwrite_keeps_old_blob_for_the_grace(gc_server):
    client = make_client(gc_server)
    bucket = new_bucket(client)
    old = os.urandom(3 * 1024 * 1024)
    new = os.urandom(1024 * 1024)
    client.put_object(Bucket=bucket, Key="k", Body=old)
    assert len(blob_files(gc_server.data_dir)) == 1
    assert metric(gc_server, "localcos_gc_backlog_blobs") == 0

    # A reader starts, the key is overwritten, the reader finishes.
    resp = client.get_object(Bucket=bucket, Key="k")
    stream = resp["Body"].get_raw_stream()
    first = stream.read(4096)
    t0 = time.monotonic()
    client.put_object(Bucket=bucket, Key="k", Body=new)
    assert first + stream.read() == old, "the reader sees the whole old object"
    got = client.get_object(Bucket=bucket, Key="k")["Body"].get_raw_stream().read()
    assert got == new

    # During the grace the old blob is still there, as a deferred delete.
    assert len(blob_files(gc_server.data_dir)) == 2
    assert metric(gc_server, "localcos_gc_backlog_blobs") == 1
    wait_for(lambda: len(blob_files(gc_server.data_dir)) == 1, 20, "old blob collected")
    assert time.monotonic() - t0 >= GRACE - 0.2, "deleted only after the grace"
    wait_for(lambda: metric(gc_server, "localcos_gc_backlog_blobs") == 0, 10, "backlog 0")
    assert metric(gc_server, "localcos_job_runs_total", job="gc", result="ok") > 0
    got = client.get_object(Bucket=bucket, Key="k")["Body"].get_raw_stream().read()
    assert got == new


def test_deleting_everything_empties_the_blob_dir(gc_server):
    client = make_client(gc_server)
    plain = new_bucket(client)
    versioned = new_bucket(client)
    client.put_bucket_versioning(Bucket=versioned, Status="Enabled")
    for i in range(5):
        client.put_object(Bucket=plain, Key=f"o/{i}", Body=os.urandom(1000 + i))
        client.put_object(Bucket=plain, Key=f"o/{i}", Body=os.urandom(2000 + i))
    client.copy_object(
        Bucket=plain, Key="copy",
        CopySource={"Bucket": plain, "Key": "o/0", "Region": "ap-guangzhou"},
    )
    pos = 0
    for i in range(3):
        data = os.urandom(3000)
        client.append_object(Bucket=plain, Key="appended", Position=pos, Data=data)
        pos += len(data)
    # Multipart: one completed (a part replaced first), one aborted.
    up = client.create_multipart_upload(Bucket=plain, Key="mp")["UploadId"]
    part = os.urandom(1024 * 1024)
    client.upload_part(Bucket=plain, Key="mp", Body=os.urandom(1024 * 1024),
                       PartNumber=1, UploadId=up)
    e1 = client.upload_part(Bucket=plain, Key="mp", Body=part, PartNumber=1,
                            UploadId=up)["ETag"]
    e2 = client.upload_part(Bucket=plain, Key="mp", Body=b"tail", PartNumber=2,
                            UploadId=up)["ETag"]
    client.complete_multipart_upload(
        Bucket=plain, Key="mp", UploadId=up,
        MultipartUpload={"Part": [{"PartNumber": 1, "ETag": e1},
                                  {"PartNumber": 2, "ETag": e2}]},
    )
    gone = client.create_multipart_upload(Bucket=plain, Key="gone")["UploadId"]
    client.upload_part(Bucket=plain, Key="gone", Body=b"x" * 5000, PartNumber=1,
                       UploadId=gone)
    client.abort_multipart_upload(Bucket=plain, Key="gone", UploadId=gone)
    # Versions and a delete marker.
    client.put_object(Bucket=versioned, Key="v", Body=os.urandom(5000))
    client.put_object(Bucket=versioned, Key="v", Body=os.urandom(5000))
    client.delete_object(Bucket=versioned, Key="v")
    assert metric(gc_server, "localcos_gc_backlog_blobs") > 0

    # Delete every version of every key, then the buckets.
    for b in (plain, versioned):
        while True:
            listed = client.list_objects_versions(Bucket=b, MaxKeys=1000)
            entries = listed.get("Version", []) + listed.get("DeleteMarker", [])
            if not entries:
                break
            for v in entries:
                client.delete_object(Bucket=b, Key=v["Key"], VersionId=v["VersionId"])
        client.delete_bucket(Bucket=b)
    wait_for(lambda: not blob_files(gc_server.data_dir), 30, "blob dir empty")
    wait_for(lambda: metric(gc_server, "localcos_gc_backlog_blobs") == 0, 10, "backlog 0")


def test_orphan_of_a_killed_writer_is_collected(gc_server):
    client = make_client(gc_server)
    bucket = new_bucket(client)
    client.put_object(Bucket=bucket, Key="live", Body=b"live bytes")
    [live] = blob_files(gc_server.data_dir)
    # What a writer killed between its blob's rename and its commit leaves: a
    # blob file (named by a fresh UUIDv7) that no record references.
    orphan_id = uuid.UUID(int=(int(time.time() * 1000) << 80) | (7 << 76)
                          | secrets.randbits(76)).hex
    shard = gc_server.data_dir / "blobs" / orphan_id[-2:]
    shard.mkdir(parents=True, exist_ok=True)
    orphan = shard / orphan_id
    orphan.write_bytes(b"never committed")
    old = time.time() - 10 * GRACE
    os.utime(orphan, (old, old))
    wait_for(lambda: not orphan.exists(), 30, "orphan collected")
    assert blob_files(gc_server.data_dir) == [live], "the live blob stays"
    got = client.get_object(Bucket=bucket, Key="live")["Body"].get_raw_stream().read()
    assert got == b"live bytes"


def test_deferred_deletes_survive_kill_9(log_dir, tmp_path):
    data = tmp_path / "data"
    srv = start(log_dir, data, "kill")
    try:
        client = make_client(srv)
        bucket = new_bucket(client)
        client.put_object(Bucket=bucket, Key="k", Body=b"one")
        client.put_object(Bucket=bucket, Key="k", Body=b"two")
        assert metric(srv, "localcos_gc_backlog_blobs") == 1
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
    finally:
        srv.stop()
    assert len(blob_files(data)) == 2, "killed within the grace: old blob still there"
    srv = start(log_dir, data, "restarted")
    try:
        client = make_client(srv)
        wait_for(lambda: len(blob_files(data)) == 1, 20, "old blob collected after restart")
        wait_for(lambda: metric(srv, "localcos_gc_backlog_blobs") == 0, 10, "backlog 0")
        got = client.get_object(Bucket=bucket, Key="k")["Body"].get_raw_stream().read()
        assert got == b"two"
    finally:
        srv.stop()
