"""Fixtures for driving a real running localcos with cos-python-sdk-v5 and coscmd.

The server binary is taken from ``LOCALCOS_BIN`` or, failing that, from
``$CARGO_TARGET_DIR/debug/localcos`` (default ``<repo>/target``).  One server
is started per test session (``--ephemeral``, port chosen by the OS and read
back from the first line of stdout) and stopped at the end.

Proxy variables are never set in this process: tests that need
``http_proxy`` put it into the environment of one subprocess only.
"""

import base64
import hashlib
import itertools
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from qcloud_cos import CosConfig, CosS3Client, CosServiceError
from qcloud_cos.cos_auth import CosS3Auth

REPO = Path(__file__).resolve().parents[3]
REGION = "ap-guangzhou"
APPID = "1250000000"
SECRET_ID = "AKIDlocalcosTESTaccesskey0000000001"
SECRET_KEY = "localcosTESTsecretkey0000000000001"
# The suite talks to 127.0.0.1 only; a proxy inherited from the caller's
# environment would swallow those requests (requests honours it), so it is
# dropped for this process.  Tests that want a proxy set it per subprocess or
# per client (Proxies=...).
for _var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
    os.environ.pop(_var, None)

LISTEN_RE = re.compile(r"^localcos listening on (https?)://127\.0\.0\.1:(\d+)$")
STARTUP_TIMEOUT = 30.0

# A bucket every server instance is started with (``--bucket``).
FIXED_BUCKET = "fixed-" + APPID
# The bucket that the second instance serves on bare hosts (``--default-bucket``).
DEFAULT_BUCKET = "dflt-" + APPID


def localcos_bin() -> Path:
    env = os.environ.get("LOCALCOS_BIN")
    if env:
        return Path(env)
    target = os.environ.get("CARGO_TARGET_DIR")
    target_dir = Path(target) if target else REPO / "target"
    if not target_dir.is_absolute():
        target_dir = REPO / target_dir
    return target_dir / "debug" / "localcos"


def clean_env(**extra) -> dict:
    """A copy of os.environ without proxy settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    env.update(extra)
    return env


class LocalCos:
    """One running ``localcos serve --ephemeral`` process."""

    def __init__(self, args, log_dir: Path, name: str, ephemeral: bool = True):
        binary = localcos_bin()
        if not binary.exists():
            raise RuntimeError(
                f"localcos binary not found at {binary}: run `cargo build` first "
                "or set LOCALCOS_BIN"
            )
        self.log_path = log_dir / f"{name}.stderr.log"
        self._stderr = open(self.log_path, "wb")
        storage = ["--ephemeral"] if ephemeral else []
        cmd = [str(binary), "serve", *storage, "--listen", "127.0.0.1:0", *args]
        self.cmd = cmd
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=clean_env(LOCALCOS_SECRET_ID=SECRET_ID, LOCALCOS_SECRET_KEY=SECRET_KEY),
        )
        self.stdout_lines = []
        first = self._read_first_line()
        m = LISTEN_RE.match(first)
        if not m:
            self.stop()
            raise RuntimeError(
                f"unexpected first stdout line from {cmd!r}: {first!r} "
                f"(stderr in {self.log_path}: {self.log_path.read_text(errors='replace')[-2000:]})"
            )
        self.scheme = m.group(1)
        self.port = int(m.group(2))
        self.endpoint = f"127.0.0.1:{self.port}"
        self.url = f"{self.scheme}://{self.endpoint}"
        # Keep draining stdout so that a chatty server never blocks on a full pipe.
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()

    def _read_first_line(self) -> str:
        box = {}

        def reader():
            box["line"] = self.proc.stdout.readline()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        t.join(STARTUP_TIMEOUT)
        if "line" not in box:
            self.stop()
            raise RuntimeError(f"localcos did not print its address within {STARTUP_TIMEOUT}s")
        line = box["line"].decode("utf-8", "replace").rstrip("\r\n")
        if not line and self.proc.poll() is not None:
            raise RuntimeError(
                f"localcos exited with {self.proc.returncode} before listening; stderr: "
                + self.log_path.read_text(errors="replace")[-2000:]
            )
        return line

    def _drain_stdout(self):
        for line in self.proc.stdout:
            self.stdout_lines.append(line.decode("utf-8", "replace"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._stderr.close()


@pytest.fixture(scope="session")
def log_dir():
    d = Path(tempfile.mkdtemp(prefix="localcos-pytest-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def server(log_dir):
    srv = LocalCos(["--bucket", FIXED_BUCKET], log_dir, "main")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def default_bucket_server(log_dir):
    """A second instance that maps bare hosts (IP:port) to DEFAULT_BUCKET."""
    srv = LocalCos(
        ["--bucket", DEFAULT_BUCKET, "--default-bucket", DEFAULT_BUCKET], log_dir, "default-bucket"
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def creds():
    return {"SecretId": SECRET_ID, "SecretKey": SECRET_KEY}


def make_client(server, **overrides) -> CosS3Client:
    kw = dict(
        Region=REGION,
        IP="127.0.0.1",
        Port=server.port,
        Scheme="http",
        SecretId=SECRET_ID,
        SecretKey=SECRET_KEY,
    )
    kw.update(overrides)
    kw = {k: v for k, v in kw.items() if v is not None}
    # retry=1: one retry on network errors / 5xx, so an unimplemented
    # operation fails fast instead of sleeping through three retries.
    return CosS3Client(CosConfig(**kw), retry=1)


@pytest.fixture(scope="session")
def client(server) -> CosS3Client:
    """CosS3Client in IP mode: http://127.0.0.1:PORT, Host = virtual-hosted bucket name."""
    return make_client(server)


@pytest.fixture(scope="session")
def proxy_client(server) -> CosS3Client:
    """CosS3Client that reaches the real COS domain names through localcos as HTTP proxy."""
    return make_client(server, IP=None, Port=None, Proxies={"http": server.url})


_bucket_counter = itertools.count(1)


def unique_bucket_name() -> str:
    return f"t{next(_bucket_counter):03d}{secrets.token_hex(4)}-{APPID}"


def empty_and_delete_bucket(client: CosS3Client, bucket: str):
    try:
        marker = ""
        while True:
            resp = client.list_objects(Bucket=bucket, Marker=marker, MaxKeys=1000)
            for obj in resp.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
            if resp.get("IsTruncated") != "true":
                break
            marker = resp.get("NextMarker") or resp["Contents"][-1]["Key"]
        client.delete_bucket(Bucket=bucket)
    except Exception as e:  # cleanup is best effort; the test result stands
        print(f"cleanup of bucket {bucket} failed: {e}", file=sys.stderr)


def own_server(log_dir, args, name):
    """A server of a test module's own, stopped afterwards: `yield from
    own_server(log_dir, [...], "name")` in a module-scoped fixture."""
    srv = LocalCos(args, log_dir, name)
    try:
        yield srv
    finally:
        srv.stop()


def fresh_buckets(client, count, before_delete=None):
    """`count` new buckets, each emptied and deleted afterwards (after
    `before_delete(name)`, if given): `yield from` it in a fixture."""
    names = [unique_bucket_name() for _ in range(count)]
    for n in names:
        client.create_bucket(Bucket=n)
    try:
        yield names
    finally:
        for n in names:
            if before_delete is not None:
                before_delete(n)
            empty_and_delete_bucket(client, n)


@pytest.fixture
def bucket(client):
    """A fresh bucket created with PUT Bucket, emptied and deleted afterwards."""
    name = unique_bucket_name()
    client.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(client, name)


def bucket_host(bucket: str) -> str:
    return f"{bucket}.cos.{REGION}.myqcloud.com"


def object_url(server, key: str) -> str:
    path = quote(key.encode("utf-8"), safe="/-_.~")
    path = path.replace("./", ".%2F")  # as the SDK does, so urllib3 keeps dot segments
    return f"{server.url}/{path}"


class Raw:
    """Hand-built requests for what the SDK cannot express (extra headers, anonymous
    access, raw query strings).  Signed with the SDK's own CosS3Auth, virtual-hosted."""

    def __init__(self, server, client):
        self.server = server
        self.conf = client.get_conf()

    def request(self, method, bucket, key="", headers=None, params=None, data=None,
                signed=True, sign_params=None, **kw):
        headers = dict(headers or {})
        headers.setdefault("Host", bucket_host(bucket))
        url = object_url(self.server, key) if key else self.server.url + "/"
        auth = None
        if signed:
            auth = CosS3Auth(self.conf, key or None, params=sign_params if sign_params is not None else (params or {}))
        return requests.request(method, url, headers=headers, params=params, data=data,
                                auth=auth, allow_redirects=False, timeout=30, **kw)


@pytest.fixture(scope="session")
def raw(server, client) -> Raw:
    return Raw(server, client)


def crc64(data: bytes) -> int:
    """CRC-64/XZ (what COS calls crc64ecma)."""
    import crcmod

    fn = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)
    return fn(data)


assert crc64(b"123456789") == 0x995DC9BBDF1939FA


def service_error(excinfo) -> CosServiceError:
    err = excinfo.value
    assert isinstance(err, CosServiceError), err
    return err


def assert_error(err: CosServiceError, status: int, code: str):
    assert err.get_status_code() == status, err.get_digest_msg()
    assert err.get_error_code() == code, err.get_digest_msg()
    # Every field the SDK digests must be present and non-empty (cos.md §8).
    assert err.get_error_msg(), err.get_digest_msg()
    assert err.get_resource_location(), err.get_digest_msg()
    assert err.get_request_id(), err.get_digest_msg()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def read_body(resp) -> bytes:
    return resp["Body"].get_raw_stream().read()


def assert_every_node_serves(lb, nodes, bucket, key, body, meta=None):
    """GET and HEAD of ``key`` through each node's client give ``body`` (and the
    ``x-cos-meta-k`` value ``meta``), and a range through ``lb`` its bytes 100-599."""
    for c in nodes:
        got = c.get_object(Bucket=bucket, Key=key)
        assert read_body(got) == body
        if meta is not None:
            assert got["x-cos-meta-k"] == meta
        head = c.head_object(Bucket=bucket, Key=key)
        assert head["Content-Length"] == str(len(body))
        assert head["ETag"] == f'"{md5_hex(body)}"'
    part = lb.get_object(Bucket=bucket, Key=key, Range="bytes=100-599")
    assert read_body(part) == body[100:600]
    assert part["Content-Range"] == f"bytes 100-599/{len(body)}"


def assert_common_headers(headers):
    """COS spells these exactly so; the SDK returns dict(response.headers) and indexes it."""
    assert headers["x-cos-request-id"]
    assert headers["Server"] == "tencent-cos"
    assert headers["Date"].endswith("GMT")


# --- the cluster suites (tests/clients/python/cluster.py) ------------------------------


@pytest.fixture(scope="session")
def pg():
    """A private PostgreSQL server for the whole run (each cluster gets its own DATABASE)."""
    from cluster import Postgres

    server = Postgres()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def cluster(pg):
    """Three nodes over PostgreSQL and one shared blob dir, behind an nginx balancer:
    ``cluster.url``/``port`` is the balancer, ``cluster.nodes[i]`` a node."""
    from cluster import Cluster

    c = Cluster(pg, nodes=3)
    yield c
    c.stop()
