"""coscmd (the COS command-line tool) against localcos.

coscmd has no IP/Domain option: it always talks to
`http://<bucket>.cos.<region>.myqcloud.com`, so it reaches localcos through
`http_proxy` (absolute-form requests).  The proxy variables are set in the
environment of each coscmd subprocess only.
"""

import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import requests

from conftest import REGION, SECRET_ID, SECRET_KEY, clean_env, md5_hex, read_body


def coscmd_exe() -> str:
    exe = Path(sys.executable).parent / "coscmd"
    if exe.exists():
        return str(exe)
    found = shutil.which("coscmd")
    assert found, "coscmd is not installed (pip install -r tests/clients/requirements.txt)"
    return found


class Coscmd:
    def __init__(self, server, bucket, workdir: Path):
        self.server = server
        self.cfg = workdir / "cos.conf"
        self.log = workdir / "coscmd.log"
        self.env = clean_env(http_proxy=server.url, HTTP_PROXY=server.url, no_proxy="", NO_PROXY="",
                             HOME=str(workdir))
        out = self.run("config", "-a", SECRET_ID, "-s", SECRET_KEY, "-b", bucket, "-r", REGION,
                       "--do-not-use-ssl")
        assert self.cfg.exists(), out.stdout + out.stderr
        text = self.cfg.read_text()
        assert f"bucket = {bucket}" in text
        assert "schema = http" in text

    def run(self, *args, check=True, timeout=120):
        cmd = [coscmd_exe(), "-c", str(self.cfg), "-l", str(self.log), *args]
        p = subprocess.run(cmd, env=self.env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
        if check:
            assert p.returncode == 0, f"{cmd} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
        return p


@pytest.fixture
def cc(server, bucket, tmp_path):
    work = tmp_path / "coscmd-home"
    work.mkdir()
    return Coscmd(server, bucket, work)


def test_upload_download_single_file_with_spaces(cc, client, bucket, tmp_path):
    src = tmp_path / "local file.bin"
    data = os.urandom(200_000) + "中文 tail".encode()
    src.write_bytes(data)
    cc.run("upload", str(src), "remote dir/file with spaces.bin")

    got = client.get_object(Bucket=bucket, Key="remote dir/file with spaces.bin")
    assert read_body(got) == data

    dest = tmp_path / "downloaded.bin"
    cc.run("download", "remote dir/file with spaces.bin", str(dest))
    assert dest.read_bytes() == data


def test_upload_directory_recursive_and_download(cc, client, bucket, tmp_path):
    tree = tmp_path / "tree"
    files = {
        "top.txt": b"top level\n",
        "sub/a.txt": b"alpha\n" * 100,
        "sub/b c.txt": b"with a space\n",
        "sub/deeper/plus+sign.bin": os.urandom(50_000),
        "unicode/文件.txt": "unicode content ✓".encode(),
        "empty.txt": b"",
    }
    for rel, content in files.items():
        p = tree / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)

    # trailing "/" on the local dir: upload its contents (without it coscmd adds "tree/")
    cc.run("upload", "-r", "-y", str(tree) + "/", "uploaded/")
    listed = sorted(c["Key"] for c in client.list_objects(Bucket=bucket, Prefix="uploaded/")["Contents"])
    assert listed == sorted("uploaded/" + rel for rel in files)
    for rel, content in files.items():
        assert read_body(client.get_object(Bucket=bucket, Key="uploaded/" + rel)) == content, rel

    out = cc.run("list", "-a", "-r", "uploaded/")
    for rel in files:
        assert "uploaded/" + rel in out.stdout, out.stdout

    back = tmp_path / "back"
    cc.run("download", "-r", "-y", "uploaded/", str(back))
    for rel, content in files.items():
        assert (back / rel).read_bytes() == content, rel
    cmp = filecmp.dircmp(tree, back)
    assert not cmp.left_only and not cmp.right_only


def test_list_top_level(cc, client, bucket):
    for k in ["l/one.txt", "l/two.txt", "l/sub/three.txt", "other.txt"]:
        client.put_object(Bucket=bucket, Body=k.encode(), Key=k)
    out = cc.run("list", "l/")
    assert "l/one.txt" in out.stdout
    assert "l/two.txt" in out.stdout
    assert "l/sub/" in out.stdout
    assert "l/sub/three.txt" not in out.stdout
    assert "other.txt" not in out.stdout
    out = cc.run("list", "-a", "-r")
    for k in ["l/one.txt", "l/two.txt", "l/sub/three.txt", "other.txt"]:
        assert k in out.stdout


def test_delete_file_and_prefix(cc, client, bucket):
    for k in ["del/a.txt", "del/b c.txt", "del/sub/d.txt", "keep.txt"]:
        client.put_object(Bucket=bucket, Body=b"x", Key=k)
    cc.run("delete", "-f", "del/b c.txt")
    assert not client.object_exists(Bucket=bucket, Key="del/b c.txt")
    assert client.object_exists(Bucket=bucket, Key="del/a.txt")
    cc.run("delete", "-r", "-f", "del/")
    left = [c["Key"] for c in client.list_objects(Bucket=bucket).get("Contents", [])]
    assert left == ["keep.txt"]


def test_download_missing_fails(cc, tmp_path):
    p = cc.run("download", "no/such/key.txt", str(tmp_path / "x"), check=False)
    assert p.returncode != 0
    assert not (tmp_path / "x").exists()


def test_info_and_signurl(cc, client, bucket):
    data = b"signed by coscmd"
    client.put_object(Bucket=bucket, Body=data, Key="su/file name.txt", Metadata={"x-cos-meta-who": "coscmd"})
    out = cc.run("info", "su/file name.txt")
    assert str(len(data)) in out.stdout, out.stdout
    assert md5_hex(data) in out.stdout, out.stdout

    out = cc.run("signurl", "su/file name.txt", "-t", "300")
    urls = re.findall(r"http://[^\s'\"]+", out.stdout)  # coscmd prints it as b'http://...'

    assert len(urls) == 1, out.stdout
    r = requests.get(urls[0], proxies={"http": cc.server.url}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == data
