"""S3 multipart upload through the real S3 clients: boto3's low-level calls
with its default flexible checksums (CRC32 per part, echoed by UploadPart and
listed again in CompleteMultipartUpload), UploadPartCopy with ranges, the S3
error codes, boto3's TransferManager (threaded `upload_file`, `download_file`,
managed `copy`), the AWS CLI's `aws s3 cp` above its multipart threshold, and
a LARGE round trip (`LOCALCOS_LARGE_SIZE`, default 256 MiB; e.g.
`LOCALCOS_LARGE_SIZE=5GiB pytest -m large tests/clients/python/test_s3_multipart.py`).

Files are written and hashed in blocks and downloads are hashed as they are
read back: nothing holds a large object in memory.
"""

import base64
import hashlib
import os
import re
import subprocess
import zlib

import boto3.s3.transfer
import pytest
from botocore.exceptions import ClientError

from s3_helpers import (
    AWS_BIN,
    aws_env,
    empty_and_delete_s3_bucket,
    new_s3_bucket_name,
    s3_client,
)

MIB = 1024 * 1024
BLOCK = MIB
PART = 5 * MIB  # S3's smallest non-last part


@pytest.fixture(scope="module")
def s3(server):
    return s3_client(server)


@pytest.fixture
def s3_bucket(s3):
    name = new_s3_bucket_name("mp")
    s3.create_bucket(Bucket=name)
    yield name
    for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    empty_and_delete_s3_bucket(s3, name)


def error_of(excinfo):
    err = excinfo.value
    assert isinstance(err, ClientError), err
    return err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def multipart_etag(parts) -> str:
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(md5s).hexdigest()}-{len(parts)}"'


def pattern(n: int, seed: int) -> bytes:
    """`n` deterministic, incompressible-enough bytes (no two parts equal)."""
    block = hashlib.sha256(seed.to_bytes(8, "big")).digest() * (MIB // 32)
    out = bytearray()
    i = 0
    while len(out) < n:
        out += i.to_bytes(8, "big") + block[8:]
        i += 1
    return bytes(out[:n])


def write_file(path, size: int, seed: int) -> str:
    """Writes `size` bytes block by block; returns their SHA-256."""
    digest = hashlib.sha256()
    base = hashlib.sha256(b"localcos-mp" + seed.to_bytes(8, "big")).digest() * (BLOCK // 32)
    with open(path, "wb") as f:
        written = 0
        i = 0
        while written < size:
            chunk = (i.to_bytes(8, "big") + base[8:])[: size - written]
            f.write(chunk)
            digest.update(chunk)
            written += len(chunk)
            i += 1
    return digest.hexdigest()


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(BLOCK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_stream(body) -> tuple[str, int]:
    digest = hashlib.sha256()
    n = 0
    while chunk := body.read(BLOCK):
        digest.update(chunk)
        n += len(chunk)
    return digest.hexdigest(), n


# -- low level ----------------------------------------------------------------


def test_low_level_multipart_with_default_checksums(s3, s3_bucket):
    key = "mp/low level+1.bin"
    parts = [pattern(PART, 1), pattern(PART, 2), pattern(1234, 3)]
    created = s3.create_multipart_upload(
        Bucket=s3_bucket, Key=key, ChecksumAlgorithm="CRC32",
        ContentType="application/x-mp", Metadata={"color": "blue"})
    upload_id = created["UploadId"]
    assert created["Bucket"] == s3_bucket and created["Key"] == key and upload_id

    listed = s3.list_multipart_uploads(Bucket=s3_bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [(key, upload_id)]

    done = []
    for n, data in enumerate(parts, 1):
        # boto3 computes and sends the part's CRC32 by default; the answer
        # must echo it (Complete copies it from there).
        resp = s3.upload_part(Bucket=s3_bucket, Key=key, UploadId=upload_id,
                              PartNumber=n, Body=data)
        assert resp["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        assert resp["ChecksumCRC32"] == crc32_b64(data)
        done.append({"PartNumber": n, "ETag": resp["ETag"],
                     "ChecksumCRC32": resp["ChecksumCRC32"]})

    page = s3.list_parts(Bucket=s3_bucket, Key=key, UploadId=upload_id)
    assert page["UploadId"] == upload_id and page["IsTruncated"] is False
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in page["Parts"]] == [
        (d["PartNumber"], d["ETag"], len(data)) for d, data in zip(done, parts)]
    assert [p["ChecksumCRC32"] for p in page["Parts"]] == [crc32_b64(p) for p in parts]
    # Paging by part number.
    first = s3.list_parts(Bucket=s3_bucket, Key=key, UploadId=upload_id, MaxParts=2)
    assert first["IsTruncated"] is True and first["NextPartNumberMarker"] == 2
    rest = s3.list_parts(Bucket=s3_bucket, Key=key, UploadId=upload_id,
                         PartNumberMarker=first["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in rest["Parts"]] == [3]

    completed = s3.complete_multipart_upload(
        Bucket=s3_bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done})
    assert completed["ETag"] == multipart_etag(parts)
    assert completed["Key"] == key and completed["Bucket"] == s3_bucket
    assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []

    whole = b"".join(parts)
    # checksum mode: boto3 verifies whatever full-object checksum it is given.
    got = s3.get_object(Bucket=s3_bucket, Key=key, ChecksumMode="ENABLED")
    assert got["Body"].read() == whole
    assert got["ETag"] == completed["ETag"]
    assert got["ContentType"] == "application/x-mp"
    assert got["Metadata"] == {"color": "blue"}
    head = s3.head_object(Bucket=s3_bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(whole)
    rng = s3.get_object(Bucket=s3_bucket, Key=key, Range=f"bytes={PART - 3}-{PART + 2}",
                        ChecksumMode="ENABLED")
    assert rng["Body"].read() == whole[PART - 3:PART + 3]


def test_upload_part_copy_with_ranges(s3, s3_bucket):
    src = pattern(2 * PART + 777, 7)
    s3.put_object(Bucket=s3_bucket, Key="src/object.bin", Body=src)
    key = "dst/copied.bin"
    upload_id = s3.create_multipart_upload(Bucket=s3_bucket, Key=key)["UploadId"]
    ranges = [(0, PART - 1), (PART, 2 * PART - 1), (2 * PART, len(src) - 1)]
    done = []
    for n, (first, last) in enumerate(ranges, 1):
        resp = s3.upload_part_copy(
            Bucket=s3_bucket, Key=key, UploadId=upload_id, PartNumber=n,
            CopySource={"Bucket": s3_bucket, "Key": "src/object.bin"},
            CopySourceRange=f"bytes={first}-{last}")
        etag = resp["CopyPartResult"]["ETag"]
        assert etag == f'"{hashlib.md5(src[first:last + 1]).hexdigest()}"'
        assert resp["CopyPartResult"]["LastModified"]
        done.append({"PartNumber": n, "ETag": etag})
    # A range outside the source is refused.
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(
            Bucket=s3_bucket, Key=key, UploadId=upload_id, PartNumber=9,
            CopySource={"Bucket": s3_bucket, "Key": "src/object.bin"},
            CopySourceRange=f"bytes={len(src)}-{len(src) + 10}")
    assert error_of(e)[1] == 400
    # A missing source object is S3's NoSuchKey.
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(
            Bucket=s3_bucket, Key=key, UploadId=upload_id, PartNumber=9,
            CopySource={"Bucket": s3_bucket, "Key": "src/missing.bin"})
    assert error_of(e) == ("NoSuchKey", 404)
    completed = s3.complete_multipart_upload(
        Bucket=s3_bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done})
    assert completed["ETag"] == multipart_etag([src[a:b + 1] for a, b in ranges])
    assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == src


def test_multipart_errors_in_s3_shape(s3, s3_bucket):
    key = "mp/errors.bin"
    # Unknown upload id: every upload-scoped call answers 404 NoSuchUpload.
    bogus = "0000000000000000000000000000dead"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=s3_bucket, Key=key, UploadId=bogus, PartNumber=1, Body=b"x")
    assert error_of(e) == ("NoSuchUpload", 404)
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["server"] == "AmazonS3"
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=s3_bucket, Key=key, UploadId=bogus)
    assert error_of(e) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=s3_bucket, Key=key, UploadId=bogus,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]})
    assert error_of(e) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket=s3_bucket, Key=key, UploadId=bogus)
    assert error_of(e) == ("NoSuchUpload", 404)

    upload_id = s3.create_multipart_upload(Bucket=s3_bucket, Key=key)["UploadId"]
    small = [pattern(1000, 1), pattern(1000, 2)]
    etags = [s3.upload_part(Bucket=s3_bucket, Key=key, UploadId=upload_id, PartNumber=n,
                            Body=d)["ETag"] for n, d in enumerate(small, 1)]
    # Wrong ETag for a part → InvalidPart.
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=s3_bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]})
    assert error_of(e) == ("InvalidPart", 400)
    # A part never uploaded → InvalidPart.
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=s3_bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etags[0]},
                                       {"PartNumber": 3, "ETag": etags[1]}]})
    assert error_of(e) == ("InvalidPart", 400)
    # Descending order → InvalidPartOrder.
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=s3_bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": etags[1]},
                                       {"PartNumber": 1, "ETag": etags[0]}]})
    assert error_of(e) == ("InvalidPartOrder", 400)
    # A part below 5 MiB that is not the last → EntityTooSmall.
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=s3_bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etags[0]},
                                       {"PartNumber": 2, "ETag": etags[1]}]})
    assert error_of(e) == ("EntityTooSmall", 400)
    # S3's minimum is 5 MiB (COS's 1 MiB does not apply to an S3 upload).
    mid = pattern(2 * MIB, 4)
    mid_etag = s3.upload_part(Bucket=s3_bucket, Key=key, UploadId=upload_id, PartNumber=3,
                              Body=mid)["ETag"]
    s3.upload_part(Bucket=s3_bucket, Key=key, UploadId=upload_id, PartNumber=2, Body=mid)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=s3_bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": mid_etag},
                                       {"PartNumber": 3, "ETag": mid_etag}]})
    assert error_of(e) == ("EntityTooSmall", 400)
    # The upload survives failed Completes; a single small part completes.
    done = s3.complete_multipart_upload(
        Bucket=s3_bucket, Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etags[0]}]})
    assert done["ETag"] == multipart_etag(small[:1])
    assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == small[0]
    # A completed upload is gone.
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=s3_bucket, Key=key, UploadId=upload_id)
    assert error_of(e) == ("NoSuchUpload", 404)

    # Abort: 204, then the upload is gone.
    upload_id = s3.create_multipart_upload(Bucket=s3_bucket, Key="mp/aborted")["UploadId"]
    s3.upload_part(Bucket=s3_bucket, Key="mp/aborted", UploadId=upload_id, PartNumber=1, Body=b"a")
    aborted = s3.abort_multipart_upload(Bucket=s3_bucket, Key="mp/aborted", UploadId=upload_id)
    assert aborted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=s3_bucket, Key="mp/aborted", UploadId=upload_id)
    assert error_of(e) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=s3_bucket, Key="mp/aborted")
    assert error_of(e)[1] == 404


def test_complete_if_none_match(s3, s3_bucket):
    key = "mp/conditional.bin"
    data = pattern(4321, 9)

    def upload_one():
        upload_id = s3.create_multipart_upload(Bucket=s3_bucket, Key=key)["UploadId"]
        etag = s3.upload_part(Bucket=s3_bucket, Key=key, UploadId=upload_id,
                              PartNumber=1, Body=data)["ETag"]
        return upload_id, [{"PartNumber": 1, "ETag": etag}]

    # No object yet: If-None-Match: * completes.
    upload_id, parts = upload_one()
    s3.complete_multipart_upload(Bucket=s3_bucket, Key=key, UploadId=upload_id,
                                 MultipartUpload={"Parts": parts}, IfNoneMatch="*")
    # Now the key exists: 412 PreconditionFailed, and the object is untouched.
    upload_id, parts = upload_one()
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=s3_bucket, Key=key, UploadId=upload_id,
                                     MultipartUpload={"Parts": parts}, IfNoneMatch="*")
    assert error_of(e) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read() == data
    s3.abort_multipart_upload(Bucket=s3_bucket, Key=key, UploadId=upload_id)


# -- TransferManager ----------------------------------------------------------

TRANSFER = boto3.s3.transfer.TransferConfig(
    multipart_threshold=8 * MIB, multipart_chunksize=PART, max_concurrency=4, use_threads=True)


def test_transfer_manager_upload_download_copy(s3, s3_bucket, tmp_path):
    size = 6 * PART + 12345  # 7 parts
    src = tmp_path / "source.bin"
    want = write_file(src, size, seed=42)
    s3.upload_file(str(src), s3_bucket, "tm/file.bin", Config=TRANSFER)
    head = s3.head_object(Bucket=s3_bucket, Key="tm/file.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == size
    assert re.fullmatch(r'"[0-9a-f]{32}-7"', head["ETag"]), head["ETag"]
    # The multipart ETag is the MD5 of the parts' MD5s.
    with open(src, "rb") as f:
        md5s = b"".join(hashlib.md5(f.read(PART)).digest() for _ in range(7))
    assert head["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-7"'

    dest = tmp_path / "back.bin"
    s3.download_file(s3_bucket, "tm/file.bin", str(dest), Config=TRANSFER)
    assert sha256_file(dest) == want
    dest.unlink()
    # A plain streamed GET with checksum mode verifies (or gets no checksum).
    got = s3.get_object(Bucket=s3_bucket, Key="tm/file.bin", ChecksumMode="ENABLED")
    assert sha256_stream(got["Body"]) == (want, size)

    # Managed copy: above the threshold it is UploadPartCopy, part by part.
    s3.copy({"Bucket": s3_bucket, "Key": "tm/file.bin"}, s3_bucket, "tm/copy.bin",
            Config=TRANSFER)
    copied = s3.head_object(Bucket=s3_bucket, Key="tm/copy.bin")
    assert copied["ContentLength"] == size
    assert copied["ETag"].endswith('-7"'), copied["ETag"]
    got = s3.get_object(Bucket=s3_bucket, Key="tm/copy.bin", ChecksumMode="ENABLED")
    assert sha256_stream(got["Body"]) == (want, size)
    src.unlink()


def aws(server, *args):
    proc = subprocess.run([str(AWS_BIN), "--endpoint-url", server.url, *args],
                          env=aws_env(), capture_output=True, timeout=300)
    assert proc.returncode == 0, (args, proc.stdout.decode(), proc.stderr.decode())
    return proc


def test_awscli_cp_above_multipart_threshold(server, s3, s3_bucket, tmp_path):
    size = 3 * 8 * MIB + 100  # the CLI's default threshold and chunk are 8 MiB: 4 parts
    src = tmp_path / "big file.bin"
    want = write_file(src, size, seed=5)
    aws(server, "s3", "cp", str(src), f"s3://{s3_bucket}/cli/big file.bin")
    head = s3.head_object(Bucket=s3_bucket, Key="cli/big file.bin")
    assert head["ContentLength"] == size
    assert head["ETag"].endswith('-4"'), head["ETag"]
    dest = tmp_path / "down.bin"
    aws(server, "s3", "cp", f"s3://{s3_bucket}/cli/big file.bin", str(dest))
    assert dest.stat().st_size == size
    assert sha256_file(dest) == want
    # s3 → s3 copy of a multipart object (UploadPartCopy in the CLI).
    aws(server, "s3", "cp", f"s3://{s3_bucket}/cli/big file.bin",
        f"s3://{s3_bucket}/cli/copy.bin")
    got = s3.get_object(Bucket=s3_bucket, Key="cli/copy.bin")
    assert sha256_stream(got["Body"]) == (want, size)
    src.unlink()
    dest.unlink()


# -- large ----------------------------------------------------------------------


def large_size() -> int:
    """`LOCALCOS_LARGE_SIZE`: bytes, or a number with KiB/MiB/GiB (default 256MiB)."""
    raw = os.environ.get("LOCALCOS_LARGE_SIZE", "256MiB").strip()
    m = re.fullmatch(r"(\d+)\s*(|B|KiB|MiB|GiB|K|M|G)", raw, re.IGNORECASE)
    assert m, f"LOCALCOS_LARGE_SIZE={raw!r}: want e.g. 268435456, 256MiB or 5GiB"
    unit = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20,
            "g": 1 << 30, "gib": 1 << 30}[m.group(2).lower()]
    return int(m.group(1)) * unit


@pytest.mark.large
def test_large_multipart_round_trip(server, s3, s3_bucket, tmp_path):
    size = large_size()
    # 16 MiB parts, as many as S3 allows (10,000) for very large sizes.
    chunk = max(16 * MIB, -(-size // 10_000))
    cfg = boto3.s3.transfer.TransferConfig(
        multipart_threshold=8 * MIB, multipart_chunksize=chunk, max_concurrency=4)
    src = tmp_path / "large.bin"
    dest = tmp_path / "large-back.bin"
    try:
        want = write_file(src, size, seed=1)
        s3.upload_file(str(src), s3_bucket, "large/object.bin", Config=cfg)
        src.unlink()
        head = s3.head_object(Bucket=s3_bucket, Key="large/object.bin")
        assert head["ContentLength"] == size
        assert head["ETag"].endswith(f'-{-(-size // chunk)}"'), head["ETag"]
        s3.download_file(s3_bucket, "large/object.bin", str(dest), Config=cfg)
        assert dest.stat().st_size == size
        assert sha256_file(dest) == want
    finally:
        src.unlink(missing_ok=True)
        dest.unlink(missing_ok=True)
