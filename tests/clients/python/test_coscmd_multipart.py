"""coscmd's multipart paths against localcos: `upload -r` of a tree holding a
file above coscmd's multipart threshold (uploaded by the SDK's `upload_file`
in 1 MiB parts on 5 threads, with Content-MD5 and `x-cos-meta-md5`),
`download -r` (ranged, threaded `download_file` for the big one), byte for
byte; and `listparts` / `abort` over open uploads (List Multipart Uploads
paged 10 at a time).

coscmd uploads a file by multipart when it is larger than both `part_size`
MiB + 1 KiB and `multiupload_threshold` MiB (default 100, at least 20); it
downloads by ranges above `multidownload_threshold` MiB (same rules). The
config written by `coscmd config` is given both thresholds at their minimum."""

import filecmp
import hashlib
import os
import re

import pytest

from conftest import read_body
from mp_helpers import MiB, delete_everything, multipart_etag_of_md5s, new_bucket, file_part_md5s
from test_coscmd import Coscmd

BIG = 21 * MiB + 4321  # above the 20 MiB minimum threshold: 22 parts of 1 MiB


@pytest.fixture
def cbucket(client):
    name = new_bucket(client)
    yield name
    delete_everything(client, name)


@pytest.fixture
def cc(server, cbucket, tmp_path):
    work = tmp_path / "coscmd-home"
    work.mkdir()
    c = Coscmd(server, cbucket, work)
    text = c.cfg.read_text()
    assert text.lstrip().startswith("[common]") and text.count("[") == 1, text
    with open(c.cfg, "a") as f:
        f.write("multiupload_threshold = 20\nmultidownload_threshold = 20\n")
    return c


def test_upload_and_download_tree_with_a_multipart_file(cc, client, cbucket, tmp_path):
    tree = tmp_path / "tree"
    files = {
        "big/large file.bin": os.urandom(BIG),
        "big/nested/deeper/also-big.bin": os.urandom(20 * MiB + 2 * 1024),  # just over: 21 parts
        "small.txt": b"small\n",
        "nested/a/b/c.bin": os.urandom(123_456),
        "nested/中文.txt": "内容".encode(),
        "edge/exactly-1MiB.bin": os.urandom(MiB),
    }
    for rel, content in files.items():
        p = tree / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)

    cc.run("upload", "-r", "-y", str(tree) + "/", "up/", timeout=300)

    listed = client.list_objects(Bucket=cbucket, Prefix="up/")["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted("up/" + rel for rel in files)
    for rel, content in files.items():
        head = client.head_object(Bucket=cbucket, Key="up/" + rel)
        assert head["Content-Length"] == str(len(content)), rel
        assert head["x-cos-meta-md5"] == hashlib.md5(content).hexdigest(), rel
    # The two big files went multipart: 1 MiB parts, composite ETags.
    for rel in ["big/large file.bin", "big/nested/deeper/also-big.bin"]:
        head = client.head_object(Bucket=cbucket, Key="up/" + rel)
        want = multipart_etag_of_md5s(file_part_md5s(tree / rel, MiB))
        assert head["ETag"] == want, rel
        assert re.fullmatch(r'"[0-9a-f]{32}-2[12]"', head["ETag"]), head["ETag"]
    assert "-" not in client.head_object(Bucket=cbucket, Key="up/small.txt")["ETag"]
    assert "Upload" not in client.list_multipart_uploads(Bucket=cbucket)

    back = tmp_path / "back"
    cc.run("download", "-r", "-y", "up/", str(back), timeout=300)
    for rel, content in files.items():
        assert (back / rel).read_bytes() == content, rel
    cmp = filecmp.dircmp(tree, back)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files
    # Nothing but the tree was written (no leftover temp or record files).
    got = sorted(str(p.relative_to(back)) for p in back.rglob("*") if p.is_file())
    assert got == sorted(files)


def test_upload_single_large_file_then_download(cc, client, cbucket, tmp_path):
    src = tmp_path / "one.bin"
    data = os.urandom(BIG)
    src.write_bytes(data)
    cc.run("upload", str(src), "single/one.bin", timeout=300)
    head = client.head_object(Bucket=cbucket, Key="single/one.bin")
    assert head["ETag"].endswith('-22"')
    assert read_body(client.get_object(Bucket=cbucket, Key="single/one.bin", Range="bytes=1048570-1048585")) == \
        data[1048570:1048586]
    dest = tmp_path / "one-back.bin"
    cc.run("download", "single/one.bin", str(dest), timeout=300)
    assert dest.read_bytes() == data


def test_listparts_and_abort(cc, client, cbucket):
    ids = set()
    for i in range(12):
        key = f"pending/{i:02d}.bin"
        uid = client.create_multipart_upload(Bucket=cbucket, Key=key)["UploadId"]
        client.upload_part(Bucket=cbucket, Key=key, Body=b"part", PartNumber=1, UploadId=uid)
        ids.add(uid)
    client.create_multipart_upload(Bucket=cbucket, Key="elsewhere/x.bin")

    out = cc.run("listparts", "pending/")
    text = out.stdout + out.stderr
    shown = set(re.findall(r"UploadId:\s*(\S+)", text))
    assert shown == ids, text  # 12 uploads through pages of 10
    assert re.search(r"Parts num:\s*12\b", text), text

    cc.run("abort", "pending/")
    left = client.list_multipart_uploads(Bucket=cbucket)["Upload"]
    assert [u["Key"] for u in left] == ["elsewhere/x.bin"]
