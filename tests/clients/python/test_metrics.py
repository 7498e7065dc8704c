"""/-/metrics and the access log after cos-python-sdk-v5 calls (issue 11, "Metrics and
logs"): a server of its own (so the counters are this test's alone) with JSON access
lines and a second metrics listener; the SDK puts, gets, lists and fails, then the
Prometheus text is scraped and parsed, and the access log is matched to the request ids
the SDK saw."""

import json
import re
import socket
import time

import pytest
import requests
from qcloud_cos import CosServiceError

from conftest import APPID, SECRET_ID, SECRET_KEY, LocalCos, make_client

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """Prometheus text → {(name, frozenset(labels)): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, name, **labels):
    want = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def metrics_server(log_dir):
    port = free_port()
    srv = LocalCos(
        ["--log-format", "json", "--metrics-listen", f"127.0.0.1:{port}"], log_dir, "metrics"
    )
    srv.metrics_port = port
    yield srv
    srv.stop()


def scrape(url):
    # Proxies from the environment must not catch loopback (NOTES 21).
    s = requests.Session()
    s.trust_env = False
    r = s.get(url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(r.text)


def test_sdk_calls_move_the_counters_and_the_access_log(metrics_server):
    client = make_client(metrics_server)
    bucket = f"metrics-{APPID}"
    client.create_bucket(Bucket=bucket)
    body = b"p" * 5000
    put = client.put_object(Bucket=bucket, Key="dir/obj.bin", Body=body)
    got = client.get_object(Bucket=bucket, Key="dir/obj.bin")
    assert got["Body"].get_raw_stream().read() == body
    get_id = got["x-cos-request-id"]
    client.list_objects(Bucket=bucket)
    with pytest.raises(CosServiceError) as e:
        client.head_object(Bucket=bucket, Key="nope")
    assert e.value.get_status_code() == 404
    with pytest.raises(CosServiceError) as e:
        client.get_object(Bucket=bucket, Key="nope")
    assert e.value.get_error_code() == "NoSuchKey"
    miss_id = e.value.get_request_id()

    m = scrape(f"{metrics_server.url}/-/metrics")
    req = lambda op, status: value(
        m, "localcos_requests_total", operation=op, dialect="cos", status=status
    )
    assert req("CreateBucket", "200") == 1
    assert req("PutObject", "200") == 1
    assert req("GetObject", "200") == 1
    assert req("ListObjects", "200") == 1
    assert req("HeadObject", "404") == 1
    assert req("GetObject", "404") == 1
    assert value(m, "localcos_errors_total", operation="GetObject", code="NoSuchKey") == 1
    assert value(m, "localcos_received_bytes_total", operation="PutObject") == 5000
    sent = value(m, "localcos_sent_bytes_total", operation="GetObject")
    assert 5000 < sent < 6000, sent
    assert value(m, "localcos_request_duration_seconds_count", operation="PutObject") == 1
    assert value(m, "localcos_request_duration_seconds_bucket", operation="PutObject", le="+Inf") == 1
    assert value(m, "localcos_bucket_objects", bucket=bucket) == 1
    assert value(m, "localcos_bucket_bytes", bucket=bucket) == 5000
    assert value(m, "localcos_requests_in_flight") == 1

    # The second listener serves the same registry, whatever the Host; the scrape
    # above is counted there, its own scrapes are not.
    m2 = scrape(f"http://127.0.0.1:{metrics_server.metrics_port}/-/metrics")
    assert value(m2, "localcos_requests_total", operation="Admin", dialect="cos", status="200") == 1
    assert value(m2, "localcos_requests_in_flight") == 0
    s = requests.Session()
    s.trust_env = False
    assert s.get(f"http://127.0.0.1:{metrics_server.metrics_port}/-/health/ready").status_code == 200
    assert s.get(f"http://127.0.0.1:{metrics_server.metrics_port}/{bucket}/dir/obj.bin").status_code == 404

    # Access-log lines (JSON on stderr) for the SDK's requests, by the ids it received.
    deadline = time.time() + 10
    lines = []
    while time.time() < deadline:
        text = metrics_server.log_path.read_text(errors="replace")
        lines = [json.loads(l) for l in text.splitlines() if l.startswith("{")]
        lines = [l for l in lines if l.get("target") == "localcos::access"]
        if any(l["request_id"] == miss_id for l in lines):
            break
        time.sleep(0.1)
    by_id = {l["request_id"]: l for l in lines}
    g = by_id[get_id]
    assert (g["operation"], g["status"], g["bucket"], g["key"]) == ("GetObject", 200, bucket, "dir/obj.bin")
    assert g["bytes_out"] == 5000 and g["secret_id"] == SECRET_ID
    assert g["remote"].startswith("127.0.0.1:")
    miss = by_id[miss_id]
    assert (miss["status"], miss["error_code"]) == (404, "NoSuchKey")
    assert put["x-cos-request-id"] in by_id
    assert SECRET_KEY not in text
    assert "q-signature" not in text


def test_metrics_off_answers_no_such_resource(log_dir):
    srv = LocalCos(["--metrics", "off", "--access-log", "off"], log_dir, "metrics-off")
    try:
        s = requests.Session()
        s.trust_env = False
        r = s.get(f"{srv.url}/-/metrics", timeout=10)
        assert r.status_code == 404
        assert "<Code>NoSuchResource</Code>" in r.text
        make_client(srv).create_bucket(Bucket=f"off-{APPID}")
        srv.stop()
        assert "localcos::access" not in srv.log_path.read_text(errors="replace")
    finally:
        srv.stop()
