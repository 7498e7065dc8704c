"""The README snippets in examples/ run against the test server and say what they should."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SECRET_ID, SECRET_KEY, clean_env, empty_and_delete_bucket, unique_bucket_name


def run_example(server, cmd, bucket, tmp_path):
    env = clean_env(
        LOCALCOS_ENDPOINT=server.endpoint,
        LOCALCOS_SECRET_ID=SECRET_ID,
        LOCALCOS_SECRET_KEY=SECRET_KEY,
        LOCALCOS_BUCKET=bucket,
        HOME=str(tmp_path),  # coscmd writes ~/.cos.log and friends
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    p = subprocess.run(cmd, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, f"{cmd} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p.stdout


@pytest.fixture
def example_bucket(client):
    """A bucket name the example creates itself; removed afterwards."""
    name = unique_bucket_name()
    yield name
    empty_and_delete_bucket(client, name)


def test_quickstart_py(server, client, example_bucket, tmp_path):
    bucket = example_bucket
    out = run_example(server, [sys.executable, str(REPO / "examples" / "quickstart.py")], bucket, tmp_path)
    lines = out.splitlines()
    assert f"created bucket {bucket}" in lines
    assert 'put hello.txt etag="2d9f0bd9473d541d49389a755081a6b7"' in lines
    assert "got hello.txt: Hello, localcos!" in lines
    assert "listed hello.txt (16 bytes)" in lines
    # idempotent: a second run finds the bucket
    out = run_example(server, [sys.executable, str(REPO / "examples" / "quickstart.py")], bucket, tmp_path)
    assert f"bucket {bucket} already exists" in out.splitlines()
    assert client.get_object(Bucket=bucket, Key="hello.txt")["Body"].get_raw_stream().read() == b"Hello, localcos!"


def test_coscmd_sh(server, client, example_bucket, tmp_path):
    bucket = example_bucket
    out = run_example(server, ["bash", str(REPO / "examples" / "coscmd.sh")], bucket, tmp_path)
    lines = out.splitlines()
    assert f"created bucket {bucket}" in lines, out
    assert "got hello.txt: Hello, localcos!" in lines, out
    assert "hello.txt" in out
    assert client.get_object(Bucket=bucket, Key="hello.txt")["Body"].get_raw_stream().read() == b"Hello, localcos!"
