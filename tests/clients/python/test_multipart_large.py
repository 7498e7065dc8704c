"""LARGE: a file of LOCALCOS_LARGE_SIZE bytes (default 256MiB; the issue's
figure is 5GiB: `LOCALCOS_LARGE_SIZE=5GiB .venv/bin/pytest -m large
tests/clients/python/test_multipart_large.py`) round-trips byte-identical
through cos-python-sdk-v5: `upload_file` (multipart, 8 threads), then
`download_file` (8 threads of ranged GETs), then `copy` by Upload Part Copy
and a streamed GET of the copy.

Nothing holds the object in memory: the source is written and hashed
(SHA-256 + CRC-64/XZ) in 1 MiB blocks, downloads are SHA-256-hashed in
blocks. `download_file`'s own EnableCRC is left off because it reads the
whole file into memory (its check is exercised on smaller files in
test_multipart_helpers.py); Complete's, HEAD's and the copy's
`x-cos-hash-crc64ecma` are compared with the source's local CRC instead. Files live under pytest's tmp dir and
are deleted as soon as they are hashed."""

import hashlib
import os
import time

import pytest

from conftest import REGION, make_client
from mp_helpers import MiB, delete_everything, new_bucket, parse_size, stream_hashes, write_random_file

SIZE = parse_size(os.environ.get("LOCALCOS_LARGE_SIZE", "256MiB"))
THREADS = 8
TIMEOUT = 600


def part_size_mib(size: int, at_least: int) -> int:
    """A part size in MiB: `at_least`, grown so that there are at most 10,000 parts."""
    mib = at_least
    while size > mib * MiB * 10_000:
        mib *= 2
    return mib


@pytest.mark.large
def test_large_upload_download_copy_round_trip(server, tmp_path):
    # Big parts on a busy 2-core machine: allow more than the SDK's 30 s per request.
    client = make_client(server, Timeout=TIMEOUT)
    bucket = new_bucket(client)
    started = time.monotonic()
    phases = []

    def phase(name):
        phases.append(f"{name} {time.monotonic() - started:.1f}s")

    try:
        src = tmp_path / "source.bin"
        sha, crc = write_random_file(src, SIZE, fast=True)
        phase("source written")

        part_mib = part_size_mib(SIZE, 8)
        parts = -(-SIZE // (part_mib * MiB))
        rt = client.upload_file(Bucket=bucket, Key="large/object.bin", LocalFilePath=str(src), PartSize=part_mib,
                                MAXThread=THREADS)
        phase(f"upload_file ({parts} parts)")
        src.unlink()
        assert rt["ETag"].endswith(f'-{parts}"'), rt["ETag"]
        assert rt["x-cos-hash-crc64ecma"] == str(crc)
        head = client.head_object(Bucket=bucket, Key="large/object.bin")
        assert head["Content-Length"] == str(SIZE)
        assert head["ETag"] == rt["ETag"]
        assert head["x-cos-hash-crc64ecma"] == str(crc)

        dest = tmp_path / "download.bin"
        client.download_file(Bucket=bucket, Key="large/object.bin", DestFilePath=str(dest), PartSize=part_mib,
                             MAXThread=THREADS, DumpRecordDir=str(tmp_path / "records"))
        phase("download_file")
        assert stream_hashes(dest, with_crc=False) == (SIZE, sha, None)
        dest.unlink()
        phase("download hashed")

        # copy(): multipart copy needs a class change (else it is one Copy Object)
        # and a source at or above the threshold (5 GiB by default).
        # copy() HEADs the source at its COS domain name whatever IP/Port say:
        # reach localcos as the HTTP proxy.
        proxied = make_client(server, IP=None, Port=None, Proxies={"http": server.url}, Timeout=TIMEOUT)
        proxied.get_conf().set_copy_part_threshold_size(min(SIZE, 5 << 30))
        copy_mib = part_size_mib(SIZE, 16)
        rt = proxied.copy(Bucket=bucket, Key="large/copy.bin", PartSize=copy_mib, MAXThread=THREADS,
                         CopySource={"Bucket": bucket, "Key": "large/object.bin", "Region": REGION},
                         StorageClass="STANDARD_IA")
        phase("copy (Upload Part Copy)")
        assert rt["ETag"].endswith(f'-{-(-SIZE // (copy_mib * MiB))}"'), rt["ETag"]
        assert rt["x-cos-hash-crc64ecma"] == str(crc)
        got = client.get_object(Bucket=bucket, Key="large/copy.bin")
        assert got["Content-Length"] == str(SIZE)
        assert got["x-cos-storage-class"] == "STANDARD_IA"
        assert got["x-cos-hash-crc64ecma"] == str(crc)
        stream = got["Body"].get_raw_stream()
        digest, n = hashlib.sha256(), 0
        while chunk := stream.read(MiB):
            digest.update(chunk)
            n += len(chunk)
        assert (n, digest.hexdigest()) == (SIZE, sha)
        phase("copy streamed back")
    finally:
        delete_everything(client, bucket)
    print(f"{SIZE} bytes multipart round trip: " + ", ".join(phases))
