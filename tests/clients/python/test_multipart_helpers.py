"""cos-python-sdk-v5's high-level transfer helpers against localcos' multipart
upload: `upload_file` (many parts, threads, Content-MD5, resume from an upload
left open), `download_file` (threaded ranged reads, EnableCRC, resume), and
`copy` taking the Upload Part Copy path. CRC-64 is checked the way NOTES 13
says: Complete's `x-cos-hash-crc64ecma` against a locally computed CRC-64/XZ,
and `download_file(..., EnableCRC=True)`."""

import os
import threading
import time

import pytest
from qcloud_cos import CosClientError

from conftest import REGION, make_client, read_body
from mp_helpers import (
    MiB,
    delete_everything,
    file_part_md5s,
    multipart_etag,
    multipart_etag_of_md5s,
    new_bucket,
    ssec,
    stream_hashes,
    upload_parts,
    write_random_file,
)


@pytest.fixture
def hbucket(client):
    name = new_bucket(client)
    yield name
    delete_everything(client, name)


class Spy:
    """Wraps one client method: counts calls, records threads, can fail some calls."""

    def __init__(self, client, name, fail=None, delay=0.0):
        self.inner = getattr(client, name)
        self.calls = []
        self.threads = set()
        self.fail = fail
        self.delay = delay
        self.lock = threading.Lock()
        setattr(client, name, self)

    def __call__(self, *args, **kw):
        with self.lock:
            self.calls.append((args, kw))
            self.threads.add(threading.current_thread().name)
        if self.fail and self.fail(args, kw):
            raise CosClientError("injected failure")
        if self.delay:
            time.sleep(self.delay)
        return self.inner(*args, **kw)


def part_number(args, kw):
    return kw["PartNumber"] if "PartNumber" in kw else args[3]


def test_upload_file_many_parts_threads_md5(server, hbucket, tmp_path):
    client = make_client(server)
    src = tmp_path / "src.bin"
    size = 9 * MiB + 12345
    sha, crc = write_random_file(src, size)
    spy = Spy(client, "upload_part", delay=0.05)
    rt = client.upload_file(Bucket=hbucket, Key="uf/file.bin", LocalFilePath=str(src), PartSize=1, MAXThread=4,
                            EnableMD5=True, ContentType="application/x-parts", Metadata={"x-cos-meta-src": "uf"})
    assert len(spy.calls) == 10
    assert len(spy.threads) >= 2, spy.threads
    assert all(kw.get("EnableMD5") is True or (len(a) > 5 and a[5] is True) for a, kw in spy.calls)
    assert rt["ETag"] == multipart_etag_of_md5s(file_part_md5s(src, MiB))
    assert rt["ETag"].endswith('-10"')
    assert rt["x-cos-hash-crc64ecma"] == str(crc)
    assert rt["Key"] == "uf/file.bin"

    head = client.head_object(Bucket=hbucket, Key="uf/file.bin")
    assert head["Content-Length"] == str(size)
    assert head["Content-Type"] == "application/x-parts"
    assert head["x-cos-meta-src"] == "uf"
    assert head["x-cos-hash-crc64ecma"] == str(crc)
    assert "Upload" not in client.list_multipart_uploads(Bucket=hbucket)

    dest = tmp_path / "dest.bin"
    gets = Spy(client, "get_object")
    client.download_file(Bucket=hbucket, Key="uf/file.bin", DestFilePath=str(dest), PartSize=1, MAXThread=4,
                         EnableCRC=True, DumpRecordDir=str(tmp_path / "records"))
    assert len(gets.calls) == 10  # one ranged GET per MiB
    assert all(kw["Range"].startswith("bytes=") for _, kw in gets.calls)
    assert stream_hashes(dest) == (size, sha, crc)


def test_upload_file_small_is_one_put(server, hbucket, tmp_path):
    client = make_client(server)
    src = tmp_path / "small.bin"
    src.write_bytes(b"z" * 1000)
    spy = Spy(client, "create_multipart_upload")
    rt = client.upload_file(Bucket=hbucket, Key="small.bin", LocalFilePath=str(src), PartSize=1, EnableMD5=True)
    assert spy.calls == []
    assert "-" not in rt["ETag"]


def test_upload_file_resumes_the_latest_open_upload(server, hbucket, tmp_path):
    client = make_client(server)
    key = "resume/file.bin"
    src = tmp_path / "src.bin"
    size = 5 * MiB + 777
    sha, crc = write_random_file(src, size)
    data = src.read_bytes()
    chunks = [data[i:i + MiB] for i in range(0, size, MiB)]
    assert len(chunks) == 6

    # An older upload of the key with a part that does not match the file, and a
    # newer one holding the file's first three parts (as an interrupted run leaves it).
    old = client.create_multipart_upload(Bucket=hbucket, Key=key)["UploadId"]
    upload_parts(client, hbucket, key, old, [os.urandom(MiB)])
    time.sleep(0.01)
    new = client.create_multipart_upload(Bucket=hbucket, Key=key)["UploadId"]
    upload_parts(client, hbucket, key, new, chunks[:3])
    # Another key sharing the prefix is not taken.
    client.create_multipart_upload(Bucket=hbucket, Key=key + ".other")

    creates = Spy(client, "create_multipart_upload")
    parts = Spy(client, "upload_part")
    rt = client.upload_file(Bucket=hbucket, Key=key, LocalFilePath=str(src), PartSize=1, MAXThread=3)
    assert creates.calls == []
    assert sorted(part_number(a, kw) for a, kw in parts.calls) == [4, 5, 6]
    assert rt["ETag"] == multipart_etag(chunks)
    assert rt["x-cos-hash-crc64ecma"] == str(crc)
    left = client.list_multipart_uploads(Bucket=hbucket)["Upload"]
    assert sorted((u["Key"], u["UploadId"]) for u in left)[0] == (key, old)
    assert new not in [u["UploadId"] for u in left]
    got = client.get_object(Bucket=hbucket, Key=key)
    assert read_body(got) == data
    assert got["x-cos-hash-crc64ecma"] == str(crc)
    assert stream_hashes(src)[1] == sha


def test_upload_file_does_not_resume_a_mismatching_upload(server, hbucket, tmp_path):
    client = make_client(server)
    key = "noresume/file.bin"
    src = tmp_path / "src.bin"
    write_random_file(src, 2 * MiB + 1)
    stale = client.create_multipart_upload(Bucket=hbucket, Key=key)["UploadId"]
    upload_parts(client, hbucket, key, stale, [os.urandom(MiB)])  # other bytes under part 1
    creates = Spy(client, "create_multipart_upload")
    parts = Spy(client, "upload_part")
    rt = client.upload_file(Bucket=hbucket, Key=key, LocalFilePath=str(src), PartSize=1, MAXThread=2)
    assert len(creates.calls) == 1
    assert sorted(part_number(a, kw) for a, kw in parts.calls) == [1, 2, 3]
    assert rt["ETag"] == multipart_etag_of_md5s(file_part_md5s(src, MiB))
    assert read_body(client.get_object(Bucket=hbucket, Key=key)) == src.read_bytes()


def test_download_file_resumes_after_failed_parts(server, hbucket, tmp_path):
    client = make_client(server)
    key = "dl/file.bin"
    src = tmp_path / "src.bin"
    size = 6 * MiB + 5
    sha, crc = write_random_file(src, size)
    client.upload_file(Bucket=hbucket, Key=key, LocalFilePath=str(src), PartSize=2, MAXThread=2)
    dest = tmp_path / "dest.bin"
    records = tmp_path / "records"

    failing = {f"bytes={MiB}-{2 * MiB - 1}", f"bytes={4 * MiB}-{5 * MiB - 1}"}
    spy = Spy(client, "get_object", fail=lambda a, kw: kw.get("Range") in failing)
    with pytest.raises(CosClientError):
        client.download_file(Bucket=hbucket, Key=key, DestFilePath=str(dest), PartSize=1, MAXThread=3,
                             EnableCRC=True, DumpRecordDir=str(records))
    assert len(spy.calls) == 7
    assert not dest.exists()
    assert len(os.listdir(records)) == 1  # the resume record

    client.get_object = spy.inner
    again = Spy(client, "get_object")
    client.download_file(Bucket=hbucket, Key=key, DestFilePath=str(dest), PartSize=1, MAXThread=3,
                         EnableCRC=True, DumpRecordDir=str(records))
    assert sorted(kw["Range"] for _, kw in again.calls) == sorted(failing)
    assert stream_hashes(dest) == (size, sha, crc)
    assert os.listdir(records) == []


def test_download_file_detects_crc_mismatch(server, hbucket, tmp_path):
    """EnableCRC really compares: a HEAD that announces another CRC fails the download."""
    client = make_client(server)
    client.put_object(Bucket=hbucket, Key="crc.bin", Body=os.urandom(3 * MiB))
    real_head = client.head_object

    def lying_head(*a, **kw):
        h = dict(real_head(*a, **kw))
        h["x-cos-hash-crc64ecma"] = str((int(h["x-cos-hash-crc64ecma"]) + 1) % (1 << 64))
        return h

    client.head_object = lying_head
    with pytest.raises(CosClientError, match="crc"):
        client.download_file(Bucket=hbucket, Key="crc.bin", DestFilePath=str(tmp_path / "x"), PartSize=1,
                             MAXThread=2, EnableCRC=True, DumpRecordDir=str(tmp_path / "records"))


def test_copy_of_a_multipart_object_uses_upload_part_copy(server, hbucket, tmp_path):
    # copy() HEADs the source at its COS domain name whatever IP/Port say:
    # reach localcos as the HTTP proxy.
    client = make_client(server, IP=None, Port=None, Proxies={"http": server.url})
    src = tmp_path / "src.bin"
    size = 11 * MiB + 3
    sha, crc = write_random_file(src, size)
    up = client.upload_file(Bucket=hbucket, Key="cp/src.bin", LocalFilePath=str(src), PartSize=4, MAXThread=3)
    assert up["ETag"].endswith('-3"')

    # copy() takes copy_object for a same-region copy that keeps the storage class,
    # and below the part-copy threshold (5 GiB by default); lower it and change the class.
    client.get_conf().set_copy_part_threshold_size(8 * MiB)
    part_copies = Spy(client, "upload_part_copy")
    simple = Spy(client, "copy_object")
    source = {"Bucket": hbucket, "Key": "cp/src.bin", "Region": REGION}
    rt = client.copy(Bucket=hbucket, Key="cp/dst.bin", CopySource=source, PartSize=2, MAXThread=3,
                     StorageClass="STANDARD_IA", Metadata={"x-cos-meta-copied": "yes"})
    assert simple.calls == []
    ranges = sorted(a[5] if len(a) > 5 else kw["CopySourceRange"] for a, kw in part_copies.calls)
    assert len(ranges) == 6
    assert f"bytes={10 * MiB}-{size - 1}" in ranges
    assert rt["ETag"] == multipart_etag_of_md5s(file_part_md5s(src, 2 * MiB))
    assert rt["x-cos-hash-crc64ecma"] == str(crc)

    head = client.head_object(Bucket=hbucket, Key="cp/dst.bin")
    assert head["x-cos-storage-class"] == "STANDARD_IA"
    assert head["x-cos-meta-copied"] == "yes"
    assert head["Content-Length"] == str(size)
    dest = tmp_path / "dst.bin"
    client.download_file(Bucket=hbucket, Key="cp/dst.bin", DestFilePath=str(dest), PartSize=2, MAXThread=3,
                         EnableCRC=True, DumpRecordDir=str(tmp_path / "records"))
    assert stream_hashes(dest) == (size, sha, crc)

    # The same copy keeping the class is one Copy Object.
    rt = client.copy(Bucket=hbucket, Key="cp/dst2.bin", CopySource=source)
    assert len(simple.calls) == 1 and len(part_copies.calls) == 6
    assert client.head_object(Bucket=hbucket, Key="cp/dst2.bin")["x-cos-hash-crc64ecma"] == str(crc)


def test_upload_file_sse_c(server, hbucket, tmp_path):
    # The SDK's own test asserts the SSE-C algorithm header on upload_file's result.
    client = make_client(server)
    src = tmp_path / "src.bin"
    size = 2 * MiB + 10
    sha, crc = write_random_file(src, size)
    rt = client.upload_file(Bucket=hbucket, Key="ssec.bin", LocalFilePath=str(src), PartSize=1, MAXThread=2,
                            **ssec())
    assert rt["x-cos-server-side-encryption-customer-algorithm"] == "AES256"
    assert rt["x-cos-hash-crc64ecma"] == str(crc)
    dest = tmp_path / "dest.bin"
    client.download_file(Bucket=hbucket, Key="ssec.bin", DestFilePath=str(dest), PartSize=1, MAXThread=2,
                         EnableCRC=True, DumpRecordDir=str(tmp_path / "records"), **ssec())
    assert stream_hashes(dest) == (size, sha, crc)


def test_upload_file_sse_cos_with_tagging(server, hbucket, tmp_path):
    client = make_client(server)
    src = tmp_path / "src.bin"
    sha, crc = write_random_file(src, 3 * MiB)
    rt = client.upload_file(Bucket=hbucket, Key="ssecos.bin", LocalFilePath=str(src), PartSize=1, MAXThread=2,
                            ServerSideEncryption="AES256", Tagging="A=B")
    assert rt["x-cos-server-side-encryption"] == "AES256"
    tags = client.get_object_tagging(Bucket=hbucket, Key="ssecos.bin")["TagSet"]["Tag"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("A", "B")]
    got = client.get_object(Bucket=hbucket, Key="ssecos.bin")
    assert got["x-cos-server-side-encryption"] == "AES256"
    assert read_body(got) == src.read_bytes()
