"""LARGE (1 GiB): an object uploaded by boto3 with default checksums downloads
byte-identical through S3 (boto3's ranged, threaded download_file) and COS
(cos-python-sdk-v5, streamed) — issue 4's cross-dialect test.

Everything streams: the source file is written and hashed in 1 MiB blocks,
downloads are hashed as they arrive (the S3 copy is a file, read back in
blocks), nothing holds the object in memory. The upload is boto3's threaded
multipart `upload_file` (16 MiB parts, 64 of them, each with its CRC32; NOTES
18 allowed a single PutObject only until multipart uploads landed).

OSS leg: oss2 (V4, path style on the IP endpoint) streams the object into the
same hash; the bucket keeps its as-given name, and oss2 checks the download's
CRC-64 against `x-oss-hash-crc64ecma` as it reads.
"""

import hashlib
import time

import boto3.s3.transfer
import pytest

import oss2

from conftest import APPID, SECRET_ID, SECRET_KEY
from s3_helpers import new_s3_bucket_name, s3_client

SIZE = 1024 * 1024 * 1024
BLOCK = 1024 * 1024
KEY = "large/1GiB.bin"


def write_source(path) -> str:
    """1 GiB of incompressible, deterministic bytes; returns its SHA-256."""
    seed = hashlib.sha256(b"localcos-1GiB").digest()
    block = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest()
                     for i in range(BLOCK // 32))
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(SIZE // BLOCK):
            # vary each block so that no two MiB are equal
            chunk = i.to_bytes(8, "big") + block[8:]
            f.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(BLOCK):
            digest.update(chunk)
    return digest.hexdigest()


def download_s3(server, bucket, tmp_path) -> str:
    dest = tmp_path / "via-s3.bin"
    s3_client(server).download_file(bucket, KEY, str(dest))
    try:
        assert dest.stat().st_size == SIZE
        return sha256_file(dest)
    finally:
        dest.unlink()


def download_cos(server, bucket, client) -> str:
    got = client.get_object(Bucket=f"{bucket}-{APPID}", Key=KEY)
    assert got["Content-Length"] == str(SIZE)
    stream = got["Body"].get_raw_stream()
    digest = hashlib.sha256()
    n = 0
    while chunk := stream.read(BLOCK):
        digest.update(chunk)
        n += len(chunk)
    assert n == SIZE
    return digest.hexdigest()


def download_oss(server, bucket) -> str:
    b = oss2.Bucket(oss2.AuthV4(SECRET_ID, SECRET_KEY), server.url, bucket, region="cn-hangzhou")
    got = b.get_object(KEY)
    assert got.content_length == SIZE
    assert int(got.headers["x-oss-hash-crc64ecma"]) > 0
    digest = hashlib.sha256()
    n = 0
    while chunk := got.read(BLOCK):
        digest.update(chunk)
        n += len(chunk)
    assert n == SIZE
    return digest.hexdigest()


# dialect → downloader(server, bucket, tmp_path, client) → sha256 hex
DOWNLOADERS = {
    "s3": lambda server, bucket, tmp_path, client: download_s3(server, bucket, tmp_path),
    "cos": lambda server, bucket, tmp_path, client: download_cos(server, bucket, client),
    "oss": lambda server, bucket, tmp_path, client: download_oss(server, bucket),
}


@pytest.mark.large
def test_1gib_boto3_upload_downloads_identically_through_every_dialect(server, client, tmp_path):
    started = time.monotonic()
    phases = []

    def phase(name):
        phases.append(f"{name} {time.monotonic() - started:.1f}s")

    src = tmp_path / "source.bin"
    want = write_source(src)
    phase("source written")
    s3 = s3_client(server)
    bucket = new_s3_bucket_name("large")
    s3.create_bucket(Bucket=bucket)
    try:
        cfg = boto3.s3.transfer.TransferConfig(
            multipart_threshold=8 * BLOCK, multipart_chunksize=16 * BLOCK, max_concurrency=4)
        s3.upload_file(str(src), bucket, KEY, Config=cfg)
        phase("boto3 multipart upload")
        src.unlink()
        head = s3.head_object(Bucket=bucket, Key=KEY)
        assert head["ContentLength"] == SIZE
        assert head["ETag"].endswith(f'-{SIZE // (16 * BLOCK)}"'), head["ETag"]
        for dialect, download in DOWNLOADERS.items():
            assert download(server, bucket, tmp_path, client) == want, dialect
            phase(f"{dialect} download")
    finally:
        s3.delete_object(Bucket=bucket, Key=KEY)
        s3.delete_bucket(Bucket=bucket)
    print("1 GiB cross-dialect round trip: " + ", ".join(phases))
