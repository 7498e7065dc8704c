"""rclone (Debian's package) against a real localcos, through two remotes:

* ``cos``: rclone's Tencent COS provider (``provider = TencentCOS``), with the
  endpoint COS documents (``cos.ap-guangzhou.myqcloud.com``, over http). That
  provider always addresses buckets virtual-hosted
  (``<bucket>.cos.ap-guangzhou.myqcloud.com``; ``force_path_style`` is
  ignored), so localcos is given to rclone as its HTTP proxy: the request line
  is absolute-form and localcos serves it by its authority.
* ``s3``: the plain S3 provider (``provider = Other``), path style on
  ``http://127.0.0.1:PORT``; ``s3v2`` is the same with SigV2
  (``region = other-v2-signature``).

The configuration is the README's ``examples/rclone.conf`` (pointed at this
server) in a temporary file, and every rclone runs with
an environment built for it (NOTES 21: the machine's AWS_CA_BUNDLE alone makes
rclone's S3 backend fail).
"""

import hashlib
import json
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from qcloud_cos import CosServiceError

from conftest import APPID, REPO, SECRET_ID, SECRET_KEY, LocalCos, make_client
from tree_helpers import change_tree, client_env, read_tree, tree_content, write_tree

RCLONE = shutil.which("rclone")
CHUNK_FLAGS = ["--s3-chunk-size", "5M", "--s3-upload-cutoff", "5M"]


@pytest.fixture(scope="module")
def rc_server(log_dir):
    srv = LocalCos([], log_dir, "rclone")
    yield srv
    srv.stop()


EXAMPLE = REPO / "examples" / "rclone.conf"


def example_conf(server) -> str:
    """The README's examples/rclone.conf pointed at this server, plus `s3v2`:
    the `s3` remote signing with SigV2."""
    text = (
        EXAMPLE.read_text()
        .replace("AKIDLOCALCOSEXAMPLE", SECRET_ID)
        .replace("localcos-example-secret-key", SECRET_KEY)
        .replace("http://127.0.0.1:9000", server.url)
    )
    s3 = text[text.index("[s3]"):]
    assert "force_path_style = true" in s3 and f"endpoint = {server.url}" in s3
    return text + "\n" + s3.replace("[s3]", "[s3v2]") + "region = other-v2-signature\n"


@pytest.fixture(scope="module")
def rc_home(tmp_path_factory, rc_server):
    home = tmp_path_factory.mktemp("rclone-home")
    (home / "rclone.conf").write_text(example_conf(rc_server))
    return home


class Rclone:
    def __init__(self, home: Path, server):
        self.home = home
        self.server = server

    def env(self, remote: str) -> dict:
        extra = {}
        if remote == "cos":
            # Only the Tencent COS remote goes through localcos as a proxy.
            extra = {"http_proxy": self.server.url, "HTTP_PROXY": self.server.url}
        return client_env(self.home, **extra)

    def run(self, remote: str, *args, check=True, input=None):
        cmd = [
            RCLONE, "--config", str(self.home / "rclone.conf"),
            "--low-level-retries", "2", "--retries", "1",
            "--contimeout", "10s", "--timeout", "60s", *args,
        ]
        proc = subprocess.run(cmd, env=self.env(remote), input=input,
                              capture_output=True, timeout=120)
        if check:
            assert proc.returncode == 0, (
                args, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
            )
        return proc

    def text(self, remote: str, *args) -> str:
        return self.run(remote, *args).stdout.decode()

    def check_clean(self, remote: str, src: str, dst: str, files: int):
        proc = self.run(remote, "check", src, dst)
        err = proc.stderr.decode()
        assert "0 differences found" in err, err
        assert f"{files} matching files" in err, err


@pytest.fixture(scope="module")
def rclone(rc_home, rc_server):
    return Rclone(rc_home, rc_server)


def test_rclone_is_installed():
    assert RCLONE, "rclone missing: apt-get install rclone (scripts/test.sh does)"
    out = subprocess.run([RCLONE, "version"], capture_output=True, timeout=30).stdout.decode()
    assert out.startswith("rclone v1."), out


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.mark.parametrize("remote", ["cos", "s3", "s3v2"])
def test_tree_round_trip(rclone, rc_server, remote, tmp_path):
    bucket = f"rc{remote}-{secrets.token_hex(4)}-{APPID}"
    root = f"{remote}:{bucket}"
    src, down = tmp_path / "src", tmp_path / "down"
    files = tree_content()
    write_tree(src, files)

    rclone.run(remote, "mkdir", root)
    rclone.run(remote, "copy", str(src), root, *CHUNK_FLAGS)

    # The big file went up in parts (a multipart ETag), the rest in one PUT.
    cos = make_client(rc_server)
    assert cos.head_object(Bucket=bucket, Key="big/multipart.bin")["ETag"].endswith('-2"')
    head = cos.head_object(Bucket=bucket, Key="a+b/c+d.txt")
    assert head["ETag"] == f'"{md5(files["a+b/c+d.txt"])}"'

    # ls: size and path of every object.
    listed = {}
    for line in rclone.text(remote, "ls", root).splitlines():
        size, path = line.strip().split(" ", 1)
        listed[path] = int(size)
    assert listed == {k: len(v) for k, v in files.items()}
    # lsf -R: files and the folders they imply.
    lsf = set(rclone.text(remote, "lsf", "-R", root).splitlines())
    assert set(files) <= lsf
    assert {"dir one/", "dir one/\u00fcn\u00ef c\u00f8d\u00e9/deep/", "a+b/", "p%20q/", "odd/"} <= lsf
    # lsjson --hash: sizes and MD5s (rclone keeps the MD5 of multipart uploads
    # in metadata; single PUTs report the ETag).
    entries = json.loads(rclone.text(remote, "lsjson", "-R", "--hash", "--files-only", root))
    assert {e["Path"]: (e["Size"], e["Hashes"]["md5"]) for e in entries} == {
        k: (len(v), md5(v)) for k, v in files.items()
    }
    # cat
    for key in ("dir one/\u00fcn\u00ef c\u00f8d\u00e9/\u65e5\u672c\u8a9e.txt", "a+b/c+d.txt",
                "p%20q/100%.txt", "odd/h#sh & amp.txt", "big/multipart.bin"):
        assert rclone.run(remote, "cat", f"{root}/{key}").stdout == files[key], key
    assert rclone.run(remote, "cat", f"{root}/dir one/\u00fcn\u00ef c\u00f8d\u00e9/deep/empty").stdout == b""
    rclone.check_clean(remote, str(src), root, len(files))

    # Local changes, then sync: additions and changes go up, deletions propagate.
    files = change_tree(src, files)
    out = rclone.run(remote, "sync", str(src), root, "-v", *CHUNK_FLAGS).stderr.decode()
    assert "added/new file \u00e9+.txt: Copied (new)" in out, out
    assert "a+b/c+d.txt: Copied (replaced existing)" in out, out
    assert "odd/h#sh & amp.txt: Deleted" in out and "p%20q/100%.txt: Deleted" in out, out
    assert set(rclone.text(remote, "lsf", "-R", "--files-only", root).splitlines()) == set(files)
    rclone.check_clean(remote, str(src), root, len(files))

    # Down into a new directory: byte for byte the local tree.
    rclone.run(remote, "copy", root, str(down))
    assert read_tree(down) == files
    rclone.check_clean(remote, str(down), root, len(files))
    rclone.check_clean(remote, root, str(down), len(files))
    # A second sync has nothing to do.
    out = rclone.run(remote, "sync", str(src), root, "-v").stderr.decode()
    assert "Copied" not in out and "Deleted" not in out, out

    # delete by filter, then purge the bucket.
    rclone.run(remote, "delete", root, "--include", "*.txt")
    assert set(rclone.text(remote, "lsf", "-R", "--files-only", root).splitlines()) == {
        k for k in files if not k.endswith(".txt")
    }
    rclone.run(remote, "purge", root)
    assert bucket not in rclone.text(remote, "lsd", f"{remote}:")
    with pytest.raises(CosServiceError) as gone:
        cos.head_bucket(Bucket=bucket)
    assert gone.value.get_status_code() == 404


def test_server_side_copy_move_stream_and_link(rclone, rc_server, tmp_path):
    """Server-side copy (CopyObject, and UploadPartCopy above the copy cutoff),
    server-side move, rcat (streamed multipart of unknown size), md5sum, and a
    pre-signed `rclone link` fetched without credentials."""
    bucket = f"rcops-{secrets.token_hex(4)}-{APPID}"
    root = f"s3:{bucket}"
    rclone.run("s3", "mkdir", root)
    big = tree_content()["big/multipart.bin"]
    small = "caf\u00e9 + cr\u00e8me\n".encode()
    rclone.run("s3", "rcat", f"{root}/stream/big \u00e9.bin", "--s3-chunk-size", "5M",
               "--streaming-upload-cutoff", "1M", input=big)
    rclone.run("s3", "rcat", f"{root}/a b/caf\u00e9+.txt", input=small)
    rclone.run("s3", "copyto", f"{root}/stream/big \u00e9.bin", f"{root}/copy/big.bin",
               "--s3-copy-cutoff", "5M")
    rclone.run("s3", "copyto", f"{root}/a b/caf\u00e9+.txt", f"{root}/copy/caf\u00e9+.txt")
    rclone.run("s3", "moveto", f"{root}/copy/caf\u00e9+.txt", f"{root}/moved/caf\u00e9 #1.txt")
    sums = {}
    for line in rclone.text("s3", "md5sum", root).splitlines():
        digest, path = line[:32].strip(), line[34:]  # "<md5 or 32 spaces>  <path>"
        if digest:
            sums[path] = digest
    # A streamed multipart upload has no MD5 to report (rclone cannot know it
    # up front and stores none): its bytes are compared instead.
    assert sums == {
        "a b/caf\u00e9+.txt": md5(small),
        "moved/caf\u00e9 #1.txt": md5(small),
    }
    assert set(rclone.text("s3", "lsf", "-R", "--files-only", root).splitlines()) == {
        "stream/big \u00e9.bin", "copy/big.bin", "a b/caf\u00e9+.txt", "moved/caf\u00e9 #1.txt"
    }
    for key in ("stream/big \u00e9.bin", "copy/big.bin"):
        assert rclone.run("s3", "cat", f"{root}/{key}").stdout == big, key
    cos = make_client(rc_server)
    assert cos.head_object(Bucket=bucket, Key="copy/big.bin")["ETag"].endswith('-2"')
    url = rclone.text("s3", "link", "--expire", "1h", f"{root}/moved/caf\u00e9 #1.txt").strip()
    assert url.startswith(rc_server.url + "/"), url
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200 and resp.content == small, resp.text
    assert requests.get(url.split("?")[0], timeout=30).status_code == 403
    rclone.run("s3", "purge", root)
