"""Faults in a 3-node cluster: kill -9 of a node mid-traffic, PostgreSQL stopped and
started again mid-traffic, and garbage collection back to an empty shared blob dir.

Each test starts its own cluster (tests/clients/python/cluster.py) with a short
``--gc-grace-seconds`` where it waits for the collector; the PostgreSQL restart test
also gets its own PostgreSQL server.
"""

import hashlib
import os
import threading
import time
import xml.etree.ElementTree as ET

import pytest
import requests

from cluster import Cluster, Postgres, http_status
from conftest import Raw, make_client, unique_bucket_name

# How long the collector may take once the grace period is over (it runs every few seconds
# under a lease, NOTES 17: "within a minute").
GC_WAIT = 60.0


def body_for(key: str) -> bytes:
    """A body that only `key` has, of a size derived from it (1 KiB .. 200 KiB)."""
    seed = hashlib.sha256(key.encode()).digest()
    size = 1024 + int.from_bytes(seed[:4], "big") % (200 * 1024)
    return (seed * (size // len(seed) + 1))[:size]


def wait_until(pred, timeout: float, step: float = 0.25) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def delete_everything(lb, bucket):
    """Every version, delete marker and upload of `bucket`, then the bucket."""
    while True:
        r = lb.list_objects_versions(Bucket=bucket, MaxKeys=1000)
        entries = r.get("Version", []) + r.get("DeleteMarker", [])
        for v in entries:
            lb.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
        if r.get("IsTruncated") != "true":
            break
    ups = lb.list_multipart_uploads(Bucket=bucket)
    for u in ups.get("Upload", []):
        lb.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
    lb.delete_bucket(Bucket=bucket)


def assert_blob_dir_empties(cluster):
    if not wait_until(lambda: not cluster.blob_files(), GC_WAIT, 0.5):
        left = [str(p.relative_to(cluster.blob_dir)) for p in cluster.blob_files()]
        pytest.fail(
            f"{len(left)} files left in the shared blob dir {GC_WAIT:.0f} s after deleting "
            f"everything: {left[:20]}\n{cluster.logs()}"
        )


def slow_body(total: int, chunk: int = 64 * 1024, pause: float = 0.05):
    """A chunked request body that trickles in (an upload in progress when its node dies)."""
    sent = 0
    while sent < total:
        yield b"s" * chunk
        sent += chunk
        time.sleep(pause)


def test_kill9_of_a_node_mid_traffic_loses_no_acknowledged_write(pg):
    cluster = Cluster(pg, nodes=3, gc_grace_seconds=2)
    try:
        lb = make_client(cluster)
        raws = [Raw(n, lb) for n in cluster.nodes]
        bucket = unique_bucket_name()
        lb.create_bucket(Bucket=bucket)
        acked, lock = set(), threading.Lock()
        stop = threading.Event()
        bad = []

        def writer(i):
            raw, j = raws[i % 3], 0
            while not stop.is_set():
                key = f"w{i}/{j:05}"
                j += 1
                try:
                    r = raw.request("PUT", bucket, key, data=body_for(key))
                except requests.RequestException:
                    time.sleep(0.05)  # its node is dead: not acknowledged
                    continue
                if r.status_code == 200:
                    if r.headers["ETag"].strip('"') != hashlib.md5(body_for(key)).hexdigest():
                        bad.append(f"{key}: ETag {r.headers['ETag']}")
                    with lock:
                        acked.add(key)
                elif r.status_code >= 500 and r.status_code != 503:
                    bad.append(f"{key}: {r.status_code} {r.text[:200]}")

        def slow_uploader():
            # In progress on node1 when it dies: its half-written blob is an orphan.
            try:
                raws[1].request("PUT", bucket, "slow.bin", data=slow_body(16 * 1024 * 1024))
            except requests.RequestException:
                pass

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
        threads.append(threading.Thread(target=slow_uploader))
        for t in threads:
            t.start()
        time.sleep(2.0)
        dead_tmp = cluster.nodes[1].tmp_dir
        cluster.nodes[1].kill9()
        time.sleep(1.5)
        stop.set()
        for t in threads:
            t.join(60)
            assert not t.is_alive(), "a writer hung"
        assert not bad, bad[:10]
        assert len(acked) >= 20, f"only {len(acked)} writes acknowledged"
        assert any(k.startswith(("w1/", "w4/")) for k in acked), "node1 acknowledged nothing before its death"

        # No acknowledged write lost, through both surviving nodes.
        for k in sorted(acked):
            r = raws[0 if hash(k) % 2 else 2].request("GET", bucket, k)
            assert r.status_code == 200, (k, r.status_code, r.text[:200])
            assert r.content == body_for(k), f"{k}: wrong bytes"
        # No torn object: whatever is listed (acknowledged or not) is whole.
        listed, marker = [], ""
        while True:
            r = lb.list_objects(Bucket=bucket, Marker=marker, MaxKeys=1000)
            listed += [o["Key"] for o in r.get("Contents", [])]
            if r["IsTruncated"] != "true":
                break
            marker = r["NextMarker"]
        assert acked <= set(listed)
        assert "slow.bin" not in listed, "an upload cut by kill -9 became visible"
        for k in listed:
            r = raws[2].request("GET", bucket, k)
            assert r.status_code == 200 and r.content == body_for(k), k

        # The dead node's orphans: its cut upload is a temp file in its own temp dir of the
        # shared blob dir, which the survivors leave alone while its heartbeat is recent
        # (a live node that only paused must not lose its writes) ...
        dead = dead_tmp
        assert dead is not None and dead.is_dir(), "node1's temp dir in the shared blob dir"
        left = [p.name for p in dead.iterdir() if p.name != "ALIVE"]
        assert left, "the upload cut by kill -9 left no temp file (did it reach node1?)"
        clients = [make_client(n) for n in (cluster.nodes[0], cluster.nodes[2])]
        delete_everything(clients[0], bucket)
        assert dead.is_dir(), "a node's temp dir was removed while its heartbeat was recent"
        # ... and remove once its heartbeat is older than the dead-node limit (10 minutes,
        # simulated by ageing the ALIVE file); the survivors sweep every 30 s.
        old = time.time() - 11 * 60
        for p in [dead, *dead.iterdir()]:
            os.utime(p, (old, old))
        if not wait_until(lambda: not dead.exists(), 45, 0.5):
            pytest.fail(f"dead node's temp dir {dead} still there: {os.listdir(dead)}\n{cluster.logs()}")
        # Everything else: replaced and deleted blobs go after the grace period (2 s);
        # the shared blob dir ends up empty.
        assert_blob_dir_empties(cluster)

        # The node comes back on its port and serves the same namespace.
        cluster.nodes[1].start()
        b2 = unique_bucket_name()
        clients[1].create_bucket(Bucket=b2)
        r = raws[1].request("PUT", b2, "back.txt", data=b"back")
        assert r.status_code == 200, r.text
        assert raws[0].request("GET", b2, "back.txt").content == b"back"
        delete_everything(lb, b2)
    finally:
        cluster.stop()


def test_postgres_stopped_and_restarted_mid_traffic():
    pg = Postgres()
    cluster = Cluster(pg, nodes=3)
    try:
        lb = make_client(cluster)
        bucket = unique_bucket_name()
        lb.create_bucket(Bucket=bucket)
        raws = [Raw(n, lb) for n in cluster.nodes]
        via_lb = Raw(cluster, lb)
        phase = {"name": "up"}
        acked, lock = set(), threading.Lock()
        events = []  # (phase, method, status, code, seconds)
        failures = []
        stop = threading.Event()

        def traffic(i):
            j = 0
            while not stop.is_set():
                key = f"t{i}/{j:05}"
                j += 1
                for method in ("PUT", "GET"):
                    ph = phase["name"]
                    t0 = time.time()
                    try:
                        r = via_lb.request(method, bucket, key, data=body_for(key) if method == "PUT" else None)
                    except requests.RequestException as e:  # a hang (30 s timeout) or a reset
                        failures.append(f"{ph} {method} {key}: {e!r}")
                        continue
                    dt = time.time() - t0
                    code = ET.fromstring(r.content).findtext("Code") if r.status_code >= 300 else None
                    events.append((ph, method, r.status_code, code, dt))
                    if r.status_code == 200:
                        if method == "PUT":
                            with lock:
                                acked.add(key)
                        elif r.content != body_for(key):
                            failures.append(f"{ph} GET {key}: wrong bytes")
                    elif r.status_code == 503:
                        if code != "ServiceUnavailable" or not r.headers.get("x-cos-request-id"):
                            failures.append(f"{ph} {method} {key}: 503 {r.text[:300]}")
                        if dt > 5:
                            failures.append(f"{ph} {method} {key}: 503 after {dt:.1f} s (not fast)")
                        break  # the PUT failed: its GET would be a 404
                    elif r.status_code == 404 and method == "GET" and key not in acked:
                        break  # a PUT answered 503 may not have committed
                    else:
                        failures.append(f"{ph} {method} {key}: {r.status_code} {r.text[:300]}")
                        break
                time.sleep(0.01)

        threads = [threading.Thread(target=traffic, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        phase["name"] = "down"
        pg.stop("immediate")
        time.sleep(1.0)
        # Readiness reflects the database on every node, and answers fast.
        for n in cluster.nodes:
            t0 = time.time()
            assert http_status(n.port, "/-/health/ready", timeout=10) == 503, n.name
            assert time.time() - t0 < 5
            assert http_status(n.port, "/-/health/live") == 200, n.name
        time.sleep(2.0)
        phase["name"] = "restarted"
        pg.start()
        # The nodes recover by themselves: no restart.
        for n in cluster.nodes:
            assert wait_until(lambda: http_status(n.port, "/-/health/ready") == 200, 20), (
                f"{n.name} not ready 20 s after PostgreSQL came back:\n{n.stderr_tail()}"
            )
        recovered_at = time.time()
        time.sleep(1.5)
        stop.set()
        for t in threads:
            t.join(60)
            assert not t.is_alive(), "a client hung"

        assert not failures, failures[:10]
        down = [e for e in events if e[0] == "down"]
        assert any(e[2] == 503 for e in down), "no request saw PostgreSQL down"
        assert all(e[2] in (200, 503, 404) for e in events)
        ok_after = [e for e in events if e[0] == "restarted" and e[2] == 200]
        assert ok_after, f"no request succeeded after the restart (recovered at {recovered_at})"
        # Every node works again, and nothing acknowledged was lost.
        for i, raw in enumerate(raws):
            r = raw.request("PUT", bucket, f"after/{i}", data=b"after")
            assert r.status_code == 200, r.text
        for k in sorted(acked):
            r = raws[hash(k) % 3].request("GET", bucket, k)
            assert r.status_code == 200 and r.content == body_for(k), k
    finally:
        cluster.stop()
        pg.destroy()


def test_gc_back_to_an_empty_blob_dir(pg):
    cluster = Cluster(pg, nodes=3, gc_grace_seconds=1)
    try:
        lb = make_client(cluster)
        nodes = [make_client(n) for n in cluster.nodes]
        plain, versioned = unique_bucket_name(), unique_bucket_name()
        lb.create_bucket(Bucket=plain)
        lb.create_bucket(Bucket=versioned)
        lb.put_bucket_versioning(Bucket=versioned, Status="Enabled")
        for b in (plain, versioned):
            for i in range(10):
                key = f"k{i}"
                nodes[i % 3].put_object(Bucket=b, Key=key, Body=body_for(key))
                # Overwrites free the old blob (or keep it as a version).
                nodes[(i + 1) % 3].put_object(Bucket=b, Key=key, Body=body_for(key + "'"))
            nodes[0].delete_object(Bucket=b, Key="k0")
            # A multipart object, a copy of it, an append object.
            up = nodes[1].create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
            parts = []
            for n in (1, 2):
                r = nodes[n % 3].upload_part(Bucket=b, Key="mp", Body=b"p" * (1024 * 1024 + n), PartNumber=n, UploadId=up)
                parts.append({"PartNumber": n, "ETag": r["ETag"]})
            nodes[2].complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload={"Part": parts})
            nodes[0].copy_object(Bucket=b, Key="mp-copy", CopySource={"Bucket": b, "Key": "mp", "Region": "ap-guangzhou"})
            if b == plain:
                pos = 0
                for n in range(3):
                    nodes[n].append_object(Bucket=b, Key="app", Position=pos, Data=b"a" * 1000)
                    pos += 1000
            # An upload left open (its parts are blobs too), then aborted by the cleanup.
            left = nodes[0].create_multipart_upload(Bucket=b, Key="open")["UploadId"]
            nodes[1].upload_part(Bucket=b, Key="open", Body=b"o" * 5000, PartNumber=1, UploadId=left)
            # A part uploaded twice: the first copy is replaced.
            nodes[2].upload_part(Bucket=b, Key="open", Body=b"q" * 5000, PartNumber=1, UploadId=left)
        assert cluster.blob_files(), "no blob was written to the shared dir"

        delete_everything(lb, plain)
        delete_everything(lb, versioned)
        assert_blob_dir_empties(cluster)
    finally:
        cluster.stop()
