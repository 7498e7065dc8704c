"""The AWS CLI v1 (`aws s3 ...` and `aws s3api ...`) against a real localcos.
Every invocation gets its own environment (NOTES 21): explicit credentials and
region, empty config files, no inherited AWS_* or proxy variables."""

import json
import os
import subprocess

import pytest
import requests

from s3_helpers import AWS_BIN, aws_env, new_s3_bucket_name


def aws(server, *args, check=True, input=None):
    proc = subprocess.run(
        [str(AWS_BIN), "--endpoint-url", server.url, *args],
        env=aws_env(),
        input=input,
        capture_output=True,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, (args, proc.stdout.decode(), proc.stderr.decode())
    return proc


def aws_json(server, *args):
    return json.loads(aws(server, *args, "--output", "json").stdout or b"{}")


@pytest.fixture
def cli_bucket(server):
    name = new_s3_bucket_name("cli")
    aws(server, "s3", "mb", f"s3://{name}")
    yield name
    aws(server, "s3", "rb", f"s3://{name}", "--force", check=False)


def test_cli_binary_is_installed():
    assert AWS_BIN.exists(), f"{AWS_BIN} missing: pip install -r tests/clients/requirements.txt"


def test_s3_cp_ls_sync(server, cli_bucket, tmp_path):
    src = tmp_path / "file one.txt"
    src.write_bytes(b"cli upload\n" * 1000)
    aws(server, "s3", "cp", str(src), f"s3://{cli_bucket}/docs/file one.txt")
    listing = aws(server, "s3", "ls", f"s3://{cli_bucket}/docs/").stdout.decode()
    assert "file one.txt" in listing and str(src.stat().st_size) in listing
    # Download to stdout and to a file.
    out = aws(server, "s3", "cp", f"s3://{cli_bucket}/docs/file one.txt", "-").stdout
    assert out == src.read_bytes()
    dest = tmp_path / "back.txt"
    aws(server, "s3", "cp", f"s3://{cli_bucket}/docs/file one.txt", str(dest))
    assert dest.read_bytes() == src.read_bytes()
    # Bucket listing shows the bucket.
    assert cli_bucket in aws(server, "s3", "ls").stdout.decode()
    # sync up, change one file, sync again: only the change moves.
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    for name, body in {"a.txt": b"a", "sub/b.txt": b"bb", "sub/c d.txt": b"ccc"}.items():
        (tree / name).write_bytes(body)
    out = aws(server, "s3", "sync", str(tree), f"s3://{cli_bucket}/tree/").stdout.decode()
    assert out.count("upload:") == 3, out
    (tree / "a.txt").write_bytes(b"changed")
    out = aws(server, "s3", "sync", str(tree), f"s3://{cli_bucket}/tree/").stdout.decode()
    assert out.count("upload:") == 1 and "a.txt" in out, out
    # sync down into an empty directory.
    down = tmp_path / "down"
    aws(server, "s3", "sync", f"s3://{cli_bucket}/tree/", str(down))
    assert (down / "a.txt").read_bytes() == b"changed"
    assert (down / "sub" / "c d.txt").read_bytes() == b"ccc"
    listing = aws(server, "s3", "ls", "--recursive", f"s3://{cli_bucket}/tree/").stdout.decode()
    assert len(listing.splitlines()) == 3, listing
    for key in ("tree/a.txt", "tree/sub/b.txt", "tree/sub/c d.txt"):
        assert key in listing, listing
    aws(server, "s3", "rm", "--recursive", f"s3://{cli_bucket}/tree/")
    assert aws(server, "s3", "ls", f"s3://{cli_bucket}/tree/", check=False).stdout == b""


def test_s3api(server, cli_bucket, tmp_path):
    body = tmp_path / "body.bin"
    body.write_bytes(os.urandom(4096))
    put = aws_json(server, "s3api", "put-object", "--bucket", cli_bucket, "--key", "api/obj",
                   "--body", str(body), "--content-type", "application/x-test",
                   "--metadata", "owner=cli")
    assert put["ETag"].strip('"')
    head = aws_json(server, "s3api", "head-object", "--bucket", cli_bucket, "--key", "api/obj")
    assert head["ContentLength"] == 4096
    assert head["ContentType"] == "application/x-test"
    assert head["Metadata"] == {"owner": "cli"}
    assert head["ETag"] == put["ETag"]
    out = tmp_path / "out.bin"
    got = aws_json(server, "s3api", "get-object", "--bucket", cli_bucket, "--key", "api/obj",
                   "--range", "bytes=0-99", str(out))
    assert got["ContentRange"] == "bytes 0-99/4096"
    assert out.read_bytes() == body.read_bytes()[:100]
    listed = aws_json(server, "s3api", "list-objects-v2", "--bucket", cli_bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["api/obj"]
    loc = aws_json(server, "s3api", "get-bucket-location", "--bucket", cli_bucket)
    assert loc["LocationConstraint"] == "ap-guangzhou"
    copied = aws_json(server, "s3api", "copy-object", "--bucket", cli_bucket, "--key", "api/copy",
                      "--copy-source", f"{cli_bucket}/api/obj")
    assert copied["CopyObjectResult"]["ETag"] == put["ETag"]
    # Errors come back with S3 codes.
    proc = aws(server, "s3api", "get-object", "--bucket", cli_bucket, "--key", "missing",
               str(tmp_path / "x"), check=False)
    assert proc.returncode != 0
    assert b"NoSuchKey" in proc.stderr, proc.stderr
    deleted = aws_json(server, "s3api", "delete-objects", "--bucket", cli_bucket, "--delete",
                       json.dumps({"Objects": [{"Key": "api/obj"}, {"Key": "api/copy"}]}))
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["api/copy", "api/obj"]


def test_s3_presign_sigv2(server, cli_bucket):
    aws(server, "s3", "cp", "-", f"s3://{cli_bucket}/p.txt", input=b"presign me")
    url = aws(server, "s3", "presign", f"s3://{cli_bucket}/p.txt", "--expires-in", "300")
    url = url.stdout.decode().strip()
    # AWS CLI v1 presigns with SigV2 query auth in us-east-1 (spec s3.md §3).
    assert "AWSAccessKeyId=" in url, url
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b"presign me"
