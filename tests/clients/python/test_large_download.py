"""A 20 MiB object through put_object, ranged and whole reads, and the SDK's
resumable `download_file(..., EnableCRC=True)` (which indexes `Content-Length`,
`Last-Modified`, `ETag` and `x-cos-hash-crc64ecma` from HEAD)."""

import hashlib
import os

import pytest

from conftest import crc64, md5_hex, read_body

SIZE = 20 * 1024 * 1024


@pytest.fixture(scope="module")
def big_data():
    # deterministic, incompressible-ish content
    seed = hashlib.sha256(b"localcos").digest()
    block = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(2048))  # 64 KiB
    return (block * (SIZE // len(block)))[:SIZE]


@pytest.fixture
def big(client, bucket, big_data):
    resp = client.put_object(Bucket=bucket, Body=big_data, Key="big/20MiB.bin")
    assert resp["ETag"] == f'"{md5_hex(big_data)}"'
    assert resp["x-cos-hash-crc64ecma"] == str(crc64(big_data))
    return bucket, "big/20MiB.bin"


def test_large_whole_and_ranges(client, big, big_data):
    bucket, key = big
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["Content-Length"] == str(SIZE)
    got = client.get_object(Bucket=bucket, Key=key)
    assert got["Content-Length"] == str(SIZE)
    body = read_body(got)
    assert len(body) == SIZE
    assert body == big_data
    for start, end in [(0, 1023), (SIZE // 2 - 7, SIZE // 2 + 4096), (SIZE - 100, SIZE - 1), (5 * 1024 * 1024, 9 * 1024 * 1024 - 1)]:
        part = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}")
        assert part["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
        assert read_body(part) == big_data[start:end + 1]


def test_download_file_resumable_with_crc(client, big, big_data, tmp_path):
    bucket, key = big
    dest = tmp_path / "down.bin"
    # PartSize=1 MiB < 20 MiB → the resumable, multi-threaded ranged downloader with CRC check
    client.download_file(Bucket=bucket, Key=key, DestFilePath=str(dest), PartSize=1, MAXThread=4,
                         EnableCRC=True, DumpRecordDir=str(tmp_path))
    assert dest.stat().st_size == SIZE
    assert dest.read_bytes() == big_data


def test_download_file_simple(client, bucket, tmp_path):
    data = os.urandom(100_000)
    client.put_object(Bucket=bucket, Body=data, Key="small.bin")
    dest = tmp_path / "small.bin"
    client.download_file(Bucket=bucket, Key="small.bin", DestFilePath=str(dest), EnableCRC=True)
    assert dest.read_bytes() == data


def test_download_file_crc_of_small_multi_part(client, bucket, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    client.put_object(Bucket=bucket, Body=data, Key="three.bin")
    dest = tmp_path / "three.bin"
    client.download_file(Bucket=bucket, Key="three.bin", DestFilePath=str(dest), PartSize=1, MAXThread=3,
                         EnableCRC=True, DumpRecordDir=str(tmp_path))
    assert dest.read_bytes() == data
