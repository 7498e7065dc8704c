"""Server-side encryption with cos-python-sdk-v5 (spec cos.md §5): SSE-COS
(``ServerSideEncryption='AES256'``), SSE-KMS (``'cos/kms'`` + ``SSEKMSKeyId``,
keys from a config file given to a dedicated server) and SSE-C
(``SSECustomerAlgorithm``/``SSECustomerKey``/``SSECustomerKeyMD5``), through
put/get/head/copy and the SDK's resumable ``download_file``.

Encryption at rest itself (ciphertext on disk, tamper detection) is proved by
the Rust integration tests (tests/it/sse.rs); here the SDK's view is checked:
statuses, echo headers, plaintext ETag/CRC-64, and the documented errors."""

import base64
import hashlib
import os

import pytest
from qcloud_cos import CosServiceError

from conftest import (
    APPID,
    REGION,
    LocalCos,
    assert_error,
    crc64,
    empty_and_delete_bucket,
    make_client,
    md5_hex,
    read_body,
    service_error,
    unique_bucket_name,
)

# The doc example key (cos.md §5) and a second one.
KEY_B64 = "MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY="
KEY_MD5 = "U5L61r7jcwdNvT7frmUG8g=="
KEY2_B64 = base64.b64encode(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef").decode()


def key_md5(key_b64: str) -> str:
    return base64.b64encode(hashlib.md5(base64.b64decode(key_b64)).digest()).decode()


def ssec(key_b64=KEY_B64):
    return dict(SSECustomerAlgorithm="AES256", SSECustomerKey=key_b64, SSECustomerKeyMD5=key_md5(key_b64))


def copy_source_ssec(key_b64=KEY_B64):
    return dict(
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=key_b64,
        CopySourceSSECustomerKeyMD5=key_md5(key_b64),
    )


def src(bucket, key):
    return {"Bucket": bucket, "Key": key, "Region": REGION}


def data(n: int) -> bytes:
    return os.urandom(n)


def test_doc_example_key_md5():
    assert key_md5(KEY_B64) == KEY_MD5


def test_sse_cos_put_get_head(client, bucket):
    body = data(200_000)
    put = client.put_object(Bucket=bucket, Key="cos.bin", Body=body, ServerSideEncryption="AES256")
    assert put["x-cos-server-side-encryption"] == "AES256"
    assert put["ETag"] == f'"{md5_hex(body)}"'
    assert put["x-cos-hash-crc64ecma"] == str(crc64(body))

    got = client.get_object(Bucket=bucket, Key="cos.bin")
    assert got["x-cos-server-side-encryption"] == "AES256"
    assert got["ETag"] == f'"{md5_hex(body)}"'
    assert got["x-cos-hash-crc64ecma"] == str(crc64(body))
    assert read_body(got) == body

    head = client.head_object(Bucket=bucket, Key="cos.bin")
    assert head["x-cos-server-side-encryption"] == "AES256"
    assert head["Content-Length"] == str(len(body))
    assert "x-cos-server-side-encryption-cos-kms-key-id" not in head

    part = client.get_object(Bucket=bucket, Key="cos.bin", Range="bytes=65530-131080")
    assert part["Content-Range"] == f"bytes 65530-131080/{len(body)}"
    assert read_body(part) == body[65530:131081]

    plain = client.put_object(Bucket=bucket, Key="plain.bin", Body=b"plain")
    assert "x-cos-server-side-encryption" not in plain


def test_sse_kms_default_cmk_without_configured_keys(client, bucket):
    """The session server has no KMS keys configured: cos/kms without a key id
    uses the built-in default CMK, any other id does not exist."""
    body = data(1000)
    put = client.put_object(Bucket=bucket, Key="kms.bin", Body=body, ServerSideEncryption="cos/kms")
    assert put["x-cos-server-side-encryption"] == "cos/kms"
    assert put["x-cos-server-side-encryption-cos-kms-key-id"] == "localcos-default-cmk"
    got = client.get_object(Bucket=bucket, Key="kms.bin")
    assert read_body(got) == body
    with pytest.raises(CosServiceError) as e:
        client.put_object(Bucket=bucket, Key="kms2.bin", Body=body, ServerSideEncryption="cos/kms",
                          SSEKMSKeyId="no-such-cmk")
    assert_error(service_error(e), 400, "KmsKeyNotExist")


KMS_KEY_1 = base64.b64encode(bytes(range(32))).decode()
KMS_KEY_2 = base64.b64encode(bytes(range(32, 64))).decode()


@pytest.fixture(scope="module")
def kms_server(log_dir, tmp_path_factory):
    conf = tmp_path_factory.mktemp("kms") / "localcos.toml"
    conf.write_text(
        "[sse]\n"
        'default_kms_key_id = "cmk-python-default"\n'
        "[[sse.kms_keys]]\n"
        'id = "cmk-python"\n'
        f'key = "{KMS_KEY_1}"\n'
        "[[sse.kms_keys]]\n"
        'id = "cmk-python-default"\n'
        f'key = "{KMS_KEY_2}"\n'
        "[[sse.kms_keys]]\n"
        'id = "cmk-python-disabled"\n'
        f'key = "{KMS_KEY_2}"\n'
        "enabled = false\n"
    )
    srv = LocalCos(["--config", str(conf)], log_dir, "kms")
    yield srv
    srv.stop()


@pytest.fixture
def kms(kms_server):
    c = make_client(kms_server)
    name = unique_bucket_name()
    c.create_bucket(Bucket=name)
    yield c, name
    empty_and_delete_bucket(c, name)


def test_sse_kms_with_configured_keys(kms):
    client, bucket = kms
    body = data(150_000)
    put = client.put_object(Bucket=bucket, Key="a.bin", Body=body, ServerSideEncryption="cos/kms",
                            SSEKMSKeyId="cmk-python")
    assert put["x-cos-server-side-encryption"] == "cos/kms"
    assert put["x-cos-server-side-encryption-cos-kms-key-id"] == "cmk-python"
    assert put["ETag"] == f'"{md5_hex(body)}"'
    got = client.get_object(Bucket=bucket, Key="a.bin")
    assert got["x-cos-server-side-encryption-cos-kms-key-id"] == "cmk-python"
    assert read_body(got) == body
    head = client.head_object(Bucket=bucket, Key="a.bin")
    assert head["x-cos-server-side-encryption"] == "cos/kms"
    assert head["x-cos-server-side-encryption-cos-kms-key-id"] == "cmk-python"

    # No key id: the configured default CMK.
    put = client.put_object(Bucket=bucket, Key="b.bin", Body=body, ServerSideEncryption="cos/kms")
    assert put["x-cos-server-side-encryption-cos-kms-key-id"] == "cmk-python-default"
    assert read_body(client.get_object(Bucket=bucket, Key="b.bin")) == body

    # An encryption context (base64 JSON) is accepted.
    ctx = base64.b64encode(b'{"team":"storage"}').decode()
    client.put_object(Bucket=bucket, Key="c.bin", Body=b"x", ServerSideEncryption="cos/kms", SSEKMSContext=ctx)

    for key_id, code in [("unknown-cmk", "KmsKeyNotExist"), ("cmk-python-disabled", "KmsKeyDisabled")]:
        with pytest.raises(CosServiceError) as e:
            client.put_object(Bucket=bucket, Key="bad.bin", Body=body, ServerSideEncryption="cos/kms",
                              SSEKMSKeyId=key_id)
        assert_error(service_error(e), 400, code)
    with pytest.raises(CosServiceError) as e:
        client.head_object(Bucket=bucket, Key="bad.bin")
    assert service_error(e).get_status_code() == 404


def test_sse_c_put_get_head(client, bucket):
    body = data(300_000)
    put = client.put_object(Bucket=bucket, Key="c.bin", Body=body, **ssec())
    # cos-python-sdk-v5's own SSE-C test reads this header from the result.
    assert put["x-cos-server-side-encryption-customer-algorithm"] == "AES256"
    assert put["x-cos-server-side-encryption-customer-key-md5"] == KEY_MD5
    assert put["ETag"] == f'"{md5_hex(body)}"'
    assert "x-cos-server-side-encryption-customer-key" not in put

    got = client.get_object(Bucket=bucket, Key="c.bin", **ssec())
    assert got["x-cos-server-side-encryption-customer-algorithm"] == "AES256"
    assert got["x-cos-server-side-encryption-customer-key-md5"] == KEY_MD5
    assert got["x-cos-hash-crc64ecma"] == str(crc64(body))
    assert read_body(got) == body

    part = client.get_object(Bucket=bucket, Key="c.bin", Range="bytes=131000-200000", **ssec())
    assert read_body(part) == body[131000:200001]

    head = client.head_object(Bucket=bucket, Key="c.bin", **ssec())
    assert head["Content-Length"] == str(len(body))
    assert head["x-cos-server-side-encryption-customer-algorithm"] == "AES256"


def test_sse_c_download_without_or_with_wrong_key(client, bucket):
    client.put_object(Bucket=bucket, Key="c.bin", Body=b"secret bytes", **ssec())
    # Without the key.
    with pytest.raises(CosServiceError) as e:
        client.get_object(Bucket=bucket, Key="c.bin")
    assert_error(service_error(e), 400, "SsecDecryptHeaderInvalid")
    # With another (well-formed) key.
    with pytest.raises(CosServiceError) as e:
        client.get_object(Bucket=bucket, Key="c.bin", **ssec(KEY2_B64))
    assert_error(service_error(e), 403, "AccessDenied")
    # A key-MD5 that does not match the key.
    with pytest.raises(CosServiceError) as e:
        client.get_object(Bucket=bucket, Key="c.bin", SSECustomerAlgorithm="AES256", SSECustomerKey=KEY_B64,
                          SSECustomerKeyMD5=key_md5(KEY2_B64))
    assert_error(service_error(e), 400, "InvalidArgument")
    # HEAD: the same statuses (no body).
    with pytest.raises(CosServiceError) as e:
        client.head_object(Bucket=bucket, Key="c.bin")
    assert service_error(e).get_status_code() == 400
    with pytest.raises(CosServiceError) as e:
        client.head_object(Bucket=bucket, Key="c.bin", **ssec(KEY2_B64))
    assert service_error(e).get_status_code() == 403
    # SSE-C headers on a plain object.
    client.put_object(Bucket=bucket, Key="plain.bin", Body=b"plain")
    with pytest.raises(CosServiceError) as e:
        client.get_object(Bucket=bucket, Key="plain.bin", **ssec())
    assert_error(service_error(e), 400, "SSEHeaderNotAllowed")


def test_sse_c_download_file_ranged_with_crc(client, bucket, tmp_path):
    """download_file heads with the SSE-C headers, then fetches 1 MiB ranges
    in threads with them, and checks the CRC-64 of the result."""
    body = data(3 * 1024 * 1024 + 4321)
    client.put_object(Bucket=bucket, Key="big-c.bin", Body=body, **ssec())
    dest = tmp_path / "big-c.bin"
    client.download_file(Bucket=bucket, Key="big-c.bin", DestFilePath=str(dest), PartSize=1, MAXThread=3,
                         EnableCRC=True, DumpRecordDir=str(tmp_path), **ssec())
    assert dest.read_bytes() == body
    with pytest.raises(CosServiceError) as e:
        client.download_file(Bucket=bucket, Key="big-c.bin", DestFilePath=str(tmp_path / "no-key.bin"),
                             PartSize=1)
    assert service_error(e).get_status_code() == 400


def test_sse_cos_download_file_ranged_with_crc(client, bucket, tmp_path):
    body = data(2 * 1024 * 1024 + 99)
    client.put_object(Bucket=bucket, Key="big-cos.bin", Body=body, ServerSideEncryption="AES256")
    dest = tmp_path / "big-cos.bin"
    client.download_file(Bucket=bucket, Key="big-cos.bin", DestFilePath=str(dest), PartSize=1, MAXThread=2,
                         EnableCRC=True, DumpRecordDir=str(tmp_path))
    assert dest.read_bytes() == body


def test_copy_between_sse_kinds(client, proxy_client, bucket):
    body = data(100_000)
    client.put_object(Bucket=bucket, Key="plain.bin", Body=body)

    # plain → SSE-COS
    r = client.copy_object(Bucket=bucket, Key="cos.bin", CopySource=src(bucket, "plain.bin"),
                           ServerSideEncryption="AES256")
    assert r["ETag"] == f'"{md5_hex(body)}"'
    head = client.head_object(Bucket=bucket, Key="cos.bin")
    assert head["x-cos-server-side-encryption"] == "AES256"

    # SSE-COS → SSE-C
    client.copy_object(Bucket=bucket, Key="c.bin", CopySource=src(bucket, "cos.bin"), **ssec())
    assert read_body(client.get_object(Bucket=bucket, Key="c.bin", **ssec())) == body

    # SSE-C source without / with a wrong copy-source key
    with pytest.raises(CosServiceError) as e:
        client.copy_object(Bucket=bucket, Key="k.bin", CopySource=src(bucket, "c.bin"),
                           ServerSideEncryption="cos/kms")
    assert_error(service_error(e), 400, "SsecDecryptHeaderInvalid")
    with pytest.raises(CosServiceError) as e:
        client.copy_object(Bucket=bucket, Key="k.bin", CopySource=src(bucket, "c.bin"),
                           ServerSideEncryption="cos/kms", **copy_source_ssec(KEY2_B64))
    assert_error(service_error(e), 403, "AccessDenied")

    # SSE-C → SSE-KMS with the right copy-source key
    client.copy_object(Bucket=bucket, Key="k.bin", CopySource=src(bucket, "c.bin"),
                       ServerSideEncryption="cos/kms", **copy_source_ssec())
    got = client.get_object(Bucket=bucket, Key="k.bin")
    assert got["x-cos-server-side-encryption"] == "cos/kms"
    assert read_body(got) == body

    # SSE-KMS → no SSE headers: the copy is plain.
    client.copy_object(Bucket=bucket, Key="plain2.bin", CopySource=src(bucket, "k.bin"))
    got = client.get_object(Bucket=bucket, Key="plain2.bin")
    assert "x-cos-server-side-encryption" not in got
    assert read_body(got) == body

    # The SDK's copy() heads the source (on its real domain name, hence the
    # proxy client) with the SSE-C headers first.
    proxy_client.copy(Bucket=bucket, Key="c-copy.bin", CopySource=src(bucket, "c.bin"),
                **copy_source_ssec(), **ssec(KEY2_B64))
    assert read_body(client.get_object(Bucket=bucket, Key="c-copy.bin", **ssec(KEY2_B64))) == body
