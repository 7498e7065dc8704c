"""Integrity with cos-python-sdk-v5 (README "Integrity: scrub and fsck"): an object
whose blob was damaged on disk is found by `localcos scrub`, and the SDK then gets a
CosServiceError (500 InternalError, a message that says why) from get_object and
copy_object, never wrong bytes; head_object still answers and flags it."""

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from qcloud_cos import CosServiceError

from conftest import (
    APPID,
    SECRET_ID,
    SECRET_KEY,
    LocalCos,
    assert_error,
    clean_env,
    localcos_bin,
    make_client,
    service_error,
)

BUCKET = "integrity-" + APPID


def blob_files(data_dir: Path):
    return sorted(p for p in (data_dir / "blobs").glob("*/*") if p.is_file())


def start(data_dir: Path, log_dir, name: str) -> LocalCos:
    return LocalCos(["--data-dir", str(data_dir), "--bucket", "integrity"], log_dir, name,
                    ephemeral=False)


@pytest.fixture
def data_dir():
    d = Path(tempfile.mkdtemp(prefix="localcos-integrity-"))
    yield d
    subprocess.run(["rm", "-rf", str(d)], check=False)


def scrub(data_dir: Path):
    return subprocess.run(
        [str(localcos_bin()), "scrub", "--data-dir", str(data_dir)],
        env=clean_env(LOCALCOS_SECRET_ID=SECRET_ID, LOCALCOS_SECRET_KEY=SECRET_KEY,
                      LOCALCOS_LOG_LEVEL="warn"),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sdk_gets_an_error_for_a_corrupt_object(data_dir, log_dir):
    body = os.urandom(300_000)
    server = start(data_dir, log_dir, "integrity-1")
    try:
        client = make_client(server)
        client.put_object(Bucket=BUCKET, Key="photo.jpg", Body=body)
        client.put_object(Bucket=BUCKET, Key="fine.txt", Body=b"fine")
    finally:
        server.stop()
    # Damage the big object's blob (the larger of the two files).
    big = max(blob_files(data_dir), key=lambda p: p.stat().st_size)
    raw = bytearray(big.read_bytes())
    raw[150_000] ^= 0x01
    big.write_bytes(bytes(raw))

    done = scrub(data_dir)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"CORRUPT     {BUCKET}/photo.jpg: CRC-64 mismatch" in done.stdout, done.stdout
    assert "fine.txt" not in done.stdout

    server = start(data_dir, log_dir, "integrity-2")
    try:
        client = make_client(server)
        with pytest.raises(CosServiceError) as e:
            client.get_object(Bucket=BUCKET, Key="photo.jpg")
        err = service_error(e)
        assert_error(err, 500, "InternalError")
        assert "integrity check" in err.get_error_msg()
        with pytest.raises(CosServiceError) as e:
            client.copy_object(Bucket=BUCKET, Key="copy.jpg",
                               CopySource={"Bucket": BUCKET, "Key": "photo.jpg",
                                           "Region": "ap-guangzhou"})
        assert_error(service_error(e), 500, "InternalError")
        head = client.head_object(Bucket=BUCKET, Key="photo.jpg")
        assert head["x-localcos-integrity"] == "corrupt"
        assert int(head["Content-Length"]) == len(body)
        got = client.get_object(Bucket=BUCKET, Key="fine.txt")["Body"].get_raw_stream().read()
        assert got == b"fine"
        # The owner replaces it; it reads back whole.
        client.put_object(Bucket=BUCKET, Key="photo.jpg", Body=body)
        got = client.get_object(Bucket=BUCKET, Key="photo.jpg")["Body"].get_raw_stream().read()
        assert hashlib.md5(got).digest() == hashlib.md5(body).digest()
    finally:
        server.stop()
