"""Races between nodes of one cluster (the session's ``cluster`` fixture): the same-key
promises of a single node must hold when the contenders talk to different nodes.

Every request here goes to one node directly (``Raw`` per node), so "different nodes"
is certain, not left to the balancer.
"""

import hashlib
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import Raw, empty_and_delete_bucket, make_client, unique_bucket_name


@pytest.fixture(scope="module")
def lb(cluster):
    return make_client(cluster)


@pytest.fixture(scope="module")
def raws(cluster, lb):
    return [Raw(n, lb) for n in cluster.nodes]


@pytest.fixture
def rbucket(lb):
    name = unique_bucket_name()
    lb.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(lb, name)


def contend(n, fn):
    """Runs fn(i) in n threads released together; returns the results in order."""
    barrier = threading.Barrier(n)
    out = [None] * n

    def run(i):
        barrier.wait()
        try:
            out[i] = fn(i)
        except Exception as e:  # a transport error is a result too
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a request hung"
    return out


def code_of(resp) -> str:
    return ET.fromstring(resp.content).findtext("Code")


@pytest.mark.parametrize(
    "header,loser_status,loser_code",
    [
        ({"If-None-Match": "*"}, 409, "FileAlreadyExists"),
        ({"x-cos-forbid-overwrite": "true"}, 409, "FileAlreadyExists"),
    ],
    ids=["if-none-match", "forbid-overwrite"],
)
def test_conditional_create_has_exactly_one_winner(raws, rbucket, header, loser_status, loser_code):
    for round_ in range(4):
        key = f"once-{round_}.txt"
        n = 9
        results = contend(
            n, lambda i: raws[i % 3].request("PUT", rbucket, key, headers=header, data=f"writer {i}".encode())
        )
        for r in results:
            assert not isinstance(r, Exception), r
        winners = [i for i, r in enumerate(results) if r.status_code == 200]
        assert len(winners) == 1, [(r.status_code, r.text[:200]) for r in results]
        for i, r in enumerate(results):
            if i != winners[0]:
                assert r.status_code == loser_status, r.text
                assert code_of(r) == loser_code
        # Every node serves the winner's body.
        for raw in raws:
            r = raw.request("GET", rbucket, key)
            assert r.status_code == 200
            assert r.content == f"writer {winners[0]}".encode()


def test_if_match_compare_and_swap_across_nodes(raws, rbucket):
    r = raws[0].request("PUT", rbucket, "cas.txt", data=b"0")
    assert r.status_code == 200
    etag = r.headers["ETag"]
    results = contend(
        9, lambda i: raws[i % 3].request("PUT", rbucket, "cas.txt", headers={"If-Match": etag}, data=f"v{i}".encode())
    )
    winners = [i for i, r in enumerate(results) if not isinstance(r, Exception) and r.status_code == 200]
    assert len(winners) == 1, results
    for i, r in enumerate(results):
        if i != winners[0]:
            assert r.status_code == 412, r.text
            assert code_of(r) == "PreconditionFailed"

    # A counter incremented with read + If-Match through three nodes loses no increment.
    raws[0].request("PUT", rbucket, "counter", data=b"0")
    per_worker = 8

    def worker(i):
        raw = raws[i % 3]
        done = 0
        while done < per_worker:
            got = raw.request("GET", rbucket, "counter")
            assert got.status_code == 200, got.text
            value = int(got.content)
            put = raw.request(
                "PUT", rbucket, "counter", headers={"If-Match": got.headers["ETag"]}, data=str(value + 1).encode()
            )
            if put.status_code == 200:
                done += 1
            else:
                assert put.status_code == 412, put.text
        return done

    assert contend(3, worker) == [per_worker] * 3
    assert raws[2].request("GET", rbucket, "counter").content == str(3 * per_worker).encode()


def test_overwrite_with_concurrent_readers_sees_whole_versions(raws, rbucket):
    size = 256 * 1024

    def body(tag: int) -> bytes:
        seed = hashlib.sha256(str(tag).encode()).digest()
        return (seed * (size // len(seed) + 1))[:size]

    body_cache = {hashlib.md5(body(t)).hexdigest(): body(t) for t in range(64)}
    assert raws[0].request("PUT", rbucket, "hot.bin", data=body(0)).status_code == 200
    stop = time.time() + 4
    errors, reads = [], [0]

    def writer(i):
        t = i
        while time.time() < stop:
            t += 2
            r = raws[i].request("PUT", rbucket, "hot.bin", data=body(t % 64))
            if r.status_code != 200:
                errors.append(f"PUT via node{i}: {r.status_code} {r.text[:200]}")

    def reader(i):
        raw = raws[(i + 2) % 3]
        while time.time() < stop:
            r = raw.request("GET", rbucket, "hot.bin")
            if r.status_code != 200:
                errors.append(f"GET: {r.status_code} {r.text[:200]}")
                continue
            digest = hashlib.md5(r.content).hexdigest()
            if len(r.content) != size or digest not in body_cache:
                errors.append(f"torn read: {len(r.content)} bytes, md5 {digest}")
            elif r.headers["ETag"].strip('"') != digest:
                errors.append(f"ETag {r.headers['ETag']} does not match the body {digest}")
            reads[0] += 1
            # A range read must come from one version too.
            r = raw.request("GET", rbucket, "hot.bin", headers={"Range": "bytes=1000-70999"})
            etag = r.headers.get("ETag", "").strip('"')
            if r.status_code != 206 or etag not in body_cache or r.content != body_cache[etag][1000:71000]:
                errors.append(f"range read: {r.status_code}, ETag {etag}, {len(r.content)} bytes")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    threads += [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:10]
    assert reads[0] > 10


def test_read_after_write_through_other_nodes(raws, rbucket):
    for i in range(30):
        data = f"value {i} ".encode() * (i + 1)
        w = raws[i % 3]
        r = w.request("PUT", rbucket, "raw.txt", data=data)
        assert r.status_code == 200, r.text
        etag = r.headers["ETag"]
        # Straight after the acknowledgement, the two other nodes at once.
        other_a, other_b = raws[(i + 1) % 3], raws[(i + 2) % 3]
        got, head, listed = contend(
            3,
            lambda j: [
                lambda: other_a.request("GET", rbucket, "raw.txt"),
                lambda: other_b.request("HEAD", rbucket, "raw.txt"),
                lambda: other_a.request("GET", rbucket, params={"prefix": "raw.txt"}),
            ][j](),
        )
        assert got.status_code == 200 and got.content == data
        assert head.status_code == 200 and head.headers["ETag"] == etag
        assert head.headers["Content-Length"] == str(len(data))
        assert listed.status_code == 200
        root = ET.fromstring(listed.content)
        sizes = [c.text for c in root.iter() if c.tag.endswith("Size")]
        etags = [c.text for c in root.iter() if c.tag.endswith("ETag")]
        assert sizes == [str(len(data))], listed.text
        assert etags == [etag]
    # A delete through one node is a 404 through the others at once.
    assert raws[0].request("DELETE", rbucket, "raw.txt").status_code == 204
    for raw in raws[1:]:
        r = raw.request("GET", rbucket, "raw.txt")
        assert r.status_code == 404 and code_of(r) == "NoSuchKey"


def test_parallel_appends_across_nodes_keep_every_acknowledged_chunk(raws, rbucket):
    """Appenders on three nodes race for each position: exactly one wins each, and the
    object is the acknowledged chunks in order."""
    r = raws[0].request("POST", rbucket, "app.log", params={"append": "", "position": "0"}, data=b"start;",
                        sign_params={"append": "", "position": "0"})
    assert r.status_code == 200, r.text
    acked = [b"start;"]
    lock = threading.Lock()
    stop = time.time() + 3

    def appender(i):
        raw = raws[i % 3]
        while time.time() < stop:
            head = raw.request("HEAD", rbucket, "app.log")
            pos = int(head.headers["Content-Length"])
            chunk = f"[{i}@{pos}]".encode()
            r = raw.request("POST", rbucket, "app.log", params={"append": "", "position": str(pos)}, data=chunk,
                            sign_params={"append": "", "position": str(pos)})
            if r.status_code == 200:
                assert int(r.headers["x-cos-next-append-position"]) == pos + len(chunk)
                with lock:
                    acked.append((pos, chunk))
            else:
                assert r.status_code == 409 and code_of(r) == "AppendPositionErr", r.text

    contend(6, appender)
    final = raws[1].request("GET", rbucket, "app.log").content
    assert final.startswith(b"start;")
    for pos, chunk in acked[1:]:
        assert final[pos:pos + len(chunk)] == chunk
    assert len(final) == len(b"start;") + sum(len(c) for _, c in acked[1:])
