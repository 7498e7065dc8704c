"""Shared helpers for the multipart suites (cos-python-sdk-v5 and coscmd):
bucket clean-up that also aborts open uploads and removes every version,
the expected multipart ETag, part uploads, and streaming hashes of files."""

import base64
import hashlib
import os
import re
import sys

import crcmod

from conftest import unique_bucket_name

MiB = 1024 * 1024

# SSE-C customer keys (base64 of 32 bytes).
KEY_B64 = base64.b64encode(b"0123456789ABCDEF0123456789ABCDEF").decode()
KEY2_B64 = base64.b64encode(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef").decode()


def ssec(key_b64=KEY_B64):
    """The SDK's SSE-C keyword arguments for `key_b64`."""
    md5 = base64.b64encode(hashlib.md5(base64.b64decode(key_b64)).digest()).decode()
    return dict(SSECustomerAlgorithm="AES256", SSECustomerKey=key_b64, SSECustomerKeyMD5=md5)

# CRC-64/XZ as the SDK's own download check computes it (C extension).
_CRC64_ARGS = dict(poly=0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)


def new_crc64():
    """A streaming CRC-64/XZ (crcmod.Crc: update() then crcValue)."""
    return crcmod.Crc(**_CRC64_ARGS)


def multipart_etag(parts) -> str:
    """`"<md5 of the concatenated binary part MD5s>-<N>"` for the part bodies `parts`."""
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def multipart_etag_of_md5s(md5s) -> str:
    return f'"{hashlib.md5(b"".join(md5s)).hexdigest()}-{len(md5s)}"'


def upload_parts(client, bucket, key, upload_id, chunks, first=1, **kw):
    """Uploads `chunks` as parts first, first+1, ...; returns the Complete list."""
    listed = []
    for i, chunk in enumerate(chunks, start=first):
        rt = client.upload_part(Bucket=bucket, Key=key, Body=chunk, PartNumber=i, UploadId=upload_id, **kw)
        listed.append({"PartNumber": i, "ETag": rt["ETag"]})
    return listed


def abort_all_uploads(client, bucket):
    while True:
        resp = client.list_multipart_uploads(Bucket=bucket, MaxUploads=1000)
        ups = resp.get("Upload", [])
        for up in ups:
            client.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
        if resp.get("IsTruncated") != "true" or not ups:
            return


def delete_everything(client, bucket):
    """Aborts uploads, deletes every version and delete marker, then the bucket."""
    try:
        abort_all_uploads(client, bucket)
        while True:
            resp = client.list_objects_versions(Bucket=bucket, MaxKeys=1000)
            entries = resp.get("Version", []) + resp.get("DeleteMarker", [])
            for v in entries:
                client.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
            if not entries:
                break
        client.delete_bucket(Bucket=bucket)
    except Exception as e:  # cleanup is best effort; the test result stands
        print(f"cleanup of bucket {bucket} failed: {e}", file=sys.stderr)


def new_bucket(client) -> str:
    name = unique_bucket_name()
    client.create_bucket(Bucket=name)
    return name


def stream_hashes(path, block=MiB, with_crc=True):
    """(size, sha256 hex, crc64 or None) of a file, read in blocks."""
    sha = hashlib.sha256()
    crc = new_crc64() if with_crc else None
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(block):
            sha.update(chunk)
            if crc:
                crc.update(chunk)
            n += len(chunk)
    return n, sha.hexdigest(), crc.crcValue if crc else None


def write_random_file(path, size, block=MiB, fast=False):
    """`size` incompressible bytes written in blocks; returns (sha256 hex, crc64).
    `fast`: one random block reused with a counter in its first 8 bytes (every
    block still differs) instead of fresh random bytes per block."""
    sha = hashlib.sha256()
    crc = new_crc64()
    base = os.urandom(block) if fast else None
    with open(path, "wb") as f:
        left, i = size, 0
        while left:
            n = min(block, left)
            chunk = (i.to_bytes(8, "big") + base[8:n]) if fast else os.urandom(n)
            f.write(chunk)
            sha.update(chunk)
            crc.update(chunk)
            left -= n
            i += 1
    return sha.hexdigest(), crc.crcValue


def file_part_md5s(path, part_size):
    """Binary MD5 of each `part_size` slice of a file (the SDK's part split)."""
    out = []
    with open(path, "rb") as f:
        while True:
            md5 = hashlib.md5()
            left = part_size
            while left:
                chunk = f.read(min(MiB, left))
                if not chunk:
                    break
                md5.update(chunk)
                left -= len(chunk)
            if left == part_size:
                return out
            out.append(md5.digest())


_SIZE_RE = re.compile(r"^\s*(\d+)\s*([KMG]i?B?|[KMG]|B)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """`268435456`, `256MiB`, `5GiB`, `5G`, `512K` → bytes (binary units)."""
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 256MiB or 5GiB)")
    n = int(m.group(1))
    unit = (m.group(2) or "B")[0].upper()
    return n * {"B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit]


assert parse_size("256MiB") == 256 * MiB and parse_size("5GiB") == 5 << 30 and parse_size("1000") == 1000
