"""s3cmd (PyPI, pinned in tests/clients/requirements.txt) against a real localcos.

Three configurations, each the README's ``examples/s3cfg`` (pointed at this
server) in a temporary file:

* ``v4``: path style, ``host_base = host_bucket = 127.0.0.1:PORT``, SigV4;
* ``v2``: the same with ``signature_v2 = True``;
* ``vhost``: COS's own names (``host_bucket = %(bucket)s.cos.ap-guangzhou.myqcloud.com``)
  with localcos as s3cmd's HTTP proxy (``proxy_host``/``proxy_port``).

Every s3cmd runs with an environment built for it (NOTES 21) and a private HOME.
"""

import hashlib
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from conftest import APPID, REPO, SECRET_ID, SECRET_KEY, LocalCos, make_client
from tree_helpers import big_bytes, change_tree, client_env, read_tree, tree_content, write_tree

S3CMD = Path(sys.executable).parent / "s3cmd"
MODES = ["v4", "v2", "vhost"]


@pytest.fixture(scope="module")
def s3cmd_server(log_dir):
    srv = LocalCos([], log_dir, "s3cmd")
    yield srv
    srv.stop()


EXAMPLE = REPO / "examples" / "s3cfg"


def s3cfg(server, mode: str) -> str:
    """The README's examples/s3cfg pointed at this server, in `mode`."""
    text = (
        EXAMPLE.read_text()
        .replace("AKIDLOCALCOSEXAMPLE", SECRET_ID)
        .replace("localcos-example-secret-key", SECRET_KEY)
        .replace("127.0.0.1:9000", server.endpoint)
    )
    assert f"host_bucket = {server.endpoint}\n" in text and "signature_v2 = False\n" in text
    if mode == "v2":
        text = text.replace("signature_v2 = False", "signature_v2 = True")
    if mode == "vhost":
        text = text.replace(
            f"host_base = {server.endpoint}\nhost_bucket = {server.endpoint}\n",
            "host_base = cos.ap-guangzhou.myqcloud.com\n"
            "host_bucket = %(bucket)s.cos.ap-guangzhou.myqcloud.com\n"
            f"proxy_host = 127.0.0.1\nproxy_port = {server.port}\n",
        )
        assert "proxy_port" in text
    return text


class S3cmd:
    def __init__(self, home: Path, server, mode: str):
        self.home = home
        self.mode = mode
        self.conf = home / f"s3cfg-{mode}"
        self.conf.write_text(s3cfg(server, mode))

    def run(self, *args, check=True):
        proc = subprocess.run(
            [str(S3CMD), "-c", str(self.conf), *args],
            env=client_env(self.home),
            capture_output=True,
            timeout=120,
        )
        if check:
            assert proc.returncode == 0, (
                args, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
            )
        return proc

    def text(self, *args) -> str:
        return self.run(*args).stdout.decode()

    def listing(self, url: str) -> dict:
        """`s3cmd ls -r`: key -> size."""
        out = {}
        for line in self.text("ls", "-r", url).splitlines():
            m = re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d\s+(\d+)\s+(s3://.*)$", line)
            assert m, line
            out[m.group(2)[len(url):]] = int(m.group(1))
        return out


def make_s3cmd(tmp_path, server, mode) -> S3cmd:
    home = tmp_path / "home"
    home.mkdir()
    return S3cmd(home, server, mode)


@pytest.fixture(params=MODES)
def s3cmd(request, tmp_path, s3cmd_server):
    return make_s3cmd(tmp_path, s3cmd_server, request.param)


@pytest.fixture
def s3cmd_v4(tmp_path, s3cmd_server):
    return make_s3cmd(tmp_path, s3cmd_server, "v4")


def test_s3cmd_is_installed():
    out = subprocess.run([str(S3CMD), "--version"], capture_output=True, timeout=30)
    assert out.returncode == 0 and out.stdout.decode().startswith("s3cmd version 2."), out


def test_objects_multipart_and_sync(s3cmd, s3cmd_server, tmp_path):
    """Every configuration: mb, put/get/info of odd names, multipart, ls/la/du,
    sync up with --delete-removed and down, del, rb. Each s3cmd run costs
    about a second of interpreter start-up, so the second configuration
    onwards skips the repeated checks (`full`)."""
    full = s3cmd.mode == "v4"
    bucket = f"s3cmd-{secrets.token_hex(4)}-{APPID}"
    url = f"s3://{bucket}/"
    cos = make_client(s3cmd_server)
    assert f"Bucket '{url}' created" in s3cmd.text("mb", url)
    assert url.rstrip("/") in s3cmd.text("ls")

    # put / get of odd names, info.
    odd = "odd dir/\u65e5\u672c +%&#?.txt"
    body = "caf\u00e9 cr\u00e8me\n".encode()
    (tmp_path / "odd.txt").write_bytes(body)
    s3cmd.run("put", str(tmp_path / "odd.txt"), url + odd)
    s3cmd.run("get", url + odd, str(tmp_path / "odd.back"))
    assert (tmp_path / "odd.back").read_bytes() == body
    if full:
        assert s3cmd.run("get", url + odd, "-").stdout == body
    info = s3cmd.text("info", url + odd)
    digest = hashlib.md5(body).hexdigest()
    assert f"File size: {len(body)}" in info and f"MD5 sum:   {digest}" in info, info
    assert cos.head_object(Bucket=bucket, Key=odd)["ETag"] == f'"{digest}"'

    # multipart: 12 MiB in 5 MiB chunks -> three parts.
    twelve = big_bytes(12 * 1024 * 1024, seed=b"twelve")
    (tmp_path / "twelve.bin").write_bytes(twelve)
    s3cmd.run("put", "--multipart-chunk-size-mb=5", str(tmp_path / "twelve.bin"),
              url + "big/twelve.bin")
    assert cos.head_object(Bucket=bucket, Key="big/twelve.bin")["ETag"].endswith('-3"')
    assert s3cmd.run("get", url + "big/twelve.bin", "-").stdout == twelve
    if full:
        assert "File size: 12582912" in s3cmd.text("info", url + "big/twelve.bin")

    # ls (one level, folders as DIR), ls -r, la, du.
    assert s3cmd.listing(url) == {odd: len(body), "big/twelve.bin": len(twelve)}
    if full:
        top = s3cmd.text("ls", url)
        assert f"DIR  {url}odd dir/" in top and f"DIR  {url}big/" in top, top
        assert f"DIR  {url}big/" in s3cmd.text("la")
        assert s3cmd.text("du", url).split()[:2] == [str(len(body) + len(twelve)), "2"]

    # sync a tree up, change it, sync with --delete-removed, sync down.
    src = tmp_path / "src"
    files = tree_content()
    write_tree(src, files)
    s3cmd.run("sync", "--multipart-chunk-size-mb=5", f"{src}/", url + "tree/")
    assert s3cmd.listing(url + "tree/") == {k: len(v) for k, v in files.items()}
    assert cos.head_object(Bucket=bucket, Key="tree/big/multipart.bin")["ETag"].endswith('-2"')
    files = change_tree(src, files)
    out = s3cmd.text("sync", "--delete-removed", f"{src}/", url + "tree/")
    assert f"delete: '{url}tree/odd/h#sh & amp.txt'" in out, out
    assert f"delete: '{url}tree/p%20q/100%.txt'" in out, out
    uploads = [line for line in out.splitlines() if line.startswith("upload:")]
    assert len(uploads) == 2, out  # the added and the modified file, nothing else
    assert s3cmd.listing(url + "tree/") == {k: len(v) for k, v in files.items()}
    down = tmp_path / "down"
    s3cmd.run("sync", url + "tree/", f"{down}/")
    assert read_tree(down) == files
    if full:
        out = s3cmd.text("sync", "--delete-removed", f"{src}/", url + "tree/")
        assert "upload:" not in out and "delete:" not in out, out

    # del, del -r, rb (a non-empty bucket is refused first).
    assert f"delete: '{url}{odd}'" in s3cmd.text("del", url + odd)
    if full:
        proc = s3cmd.run("rb", url, check=False)
        assert proc.returncode != 0 and b"BucketNotEmpty" in proc.stderr, proc.stderr
    s3cmd.run("del", "--recursive", "--force", url)
    assert f"Bucket '{url}' removed" in s3cmd.text("rb", url)
    assert url.rstrip("/") not in s3cmd.text("ls")


def test_acl_copy_move_and_signurl(s3cmd_v4, s3cmd_server, tmp_path):
    s3cmd = s3cmd_v4
    bucket = f"s3cmd-{secrets.token_hex(4)}-{APPID}"
    url = f"s3://{bucket}/"
    s3cmd.run("mb", url)
    key = "a b/pub +\u00e9.txt"
    (tmp_path / "f.txt").write_bytes(b"public or not\n")
    s3cmd.run("put", str(tmp_path / "f.txt"), url + key)
    anonymous = f"{s3cmd_server.url}/{bucket}/a%20b/pub%20%2B%C3%A9.txt"
    assert requests.get(anonymous, timeout=30).status_code == 403

    # setacl --acl-public sends S3's AllUsers group; info shows it as *anon*.
    s3cmd.run("setacl", "--acl-public", url + key)
    got = requests.get(anonymous, timeout=30)
    assert got.status_code == 200 and got.content == b"public or not\n"
    assert "*anon*: READ" in s3cmd.text("info", url + key)
    s3cmd.run("setacl", "--acl-private", url + key)
    assert requests.get(anonymous, timeout=30).status_code == 403
    assert "*anon*" not in s3cmd.text("info", url + key)

    # server-side copy and move keep the bytes.
    s3cmd.run("cp", url + key, url + "copy/c\u00f6py+.txt")
    s3cmd.run("mv", url + "copy/c\u00f6py+.txt", url + "moved/m\u00f6ved #1.txt")
    assert s3cmd.listing(url) == {key: 14, "moved/m\u00f6ved #1.txt": 14}
    assert s3cmd.run("get", url + "moved/m\u00f6ved #1.txt", "-").stdout == b"public or not\n"

    # signurl: a pre-signed GET anyone can use.
    signed = s3cmd.text("signurl", url + key, "+600").strip()
    assert signed.startswith(f"{s3cmd_server.url}/{bucket}/"), signed
    got = requests.get(signed, timeout=30)
    assert got.status_code == 200 and got.content == b"public or not\n", got.text

    s3cmd.run("del", "--recursive", "--force", url)
    s3cmd.run("rb", url)
