"""HTTPS with the server's own ``--tls-self-signed`` certificate, trusted the
way each client documents it: cos-python-sdk-v5 ``CosConfig(Scheme='https',
VerifySSL=<cert>)`` (NOTES 22), boto3 ``verify=<cert>``, the AWS CLI with
``AWS_CA_BUNDLE`` in its own environment only (NOTES 21), and curl
``--cacert``. Each does a put/get/list round trip of a multi-MiB object; a
client that does not trust the certificate fails, and plain HTTP to the
HTTPS port gets a readable 400.
"""

import hashlib
import json
import os
import subprocess
import time

import pytest
import requests
from botocore.config import Config
from qcloud_cos import CosClientError
from qcloud_cos.cos_auth import CosS3Auth

from conftest import (
    FIXED_BUCKET,
    REGION,
    SECRET_ID,
    SECRET_KEY,
    LocalCos,
    bucket_host,
    clean_env,
    localcos_bin,
    make_client,
)
from s3_helpers import AWS_BIN, aws_env, s3_session

SIZE = 9 * 1024 * 1024 + 12345


@pytest.fixture(scope="module")
def tls_server(log_dir):
    srv = LocalCos(["--tls-self-signed", "--bucket", FIXED_BUCKET], log_dir, "tls")
    deadline = time.time() + 10
    while not any("TLS cert:" in line for line in srv.stdout_lines):
        assert time.time() < deadline, srv.stdout_lines
        time.sleep(0.05)
    line = next(line for line in srv.stdout_lines if "TLS cert:" in line)
    srv.cert = line.split("TLS cert:", 1)[1].strip().split("  ")[0]
    assert os.path.isfile(srv.cert), line
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def payload():
    # Not a repeating pattern: a misplaced TLS record would show.
    return os.urandom(SIZE)


def md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def test_banner_shows_https(tls_server):
    assert tls_server.scheme == "https"
    # The drain thread collects the banner line by line: wait for its SDK part.
    deadline = time.time() + 10
    while "new COS(" not in "".join(tls_server.stdout_lines):
        assert time.time() < deadline, tls_server.stdout_lines
        time.sleep(0.05)
    banner = "".join(tls_server.stdout_lines)
    assert f"health:    https://127.0.0.1:{tls_server.port}/-/health/ready" in banner
    assert "Scheme='https'" in banner and f"VerifySSL='{tls_server.cert}'" in banner
    assert "temporary" in banner


def test_cos_python_sdk_default_https_scheme(tls_server, payload):
    client = make_client(tls_server, Scheme="https", VerifySSL=tls_server.cert)
    key = "py/sdk big.bin"
    resp = client.put_object(Bucket=FIXED_BUCKET, Key=key, Body=payload)
    assert resp["ETag"].strip('"') == md5(payload)
    got = client.get_object(Bucket=FIXED_BUCKET, Key=key)["Body"].get_raw_stream().read()
    assert len(got) == SIZE and md5(got) == md5(payload)
    # Multipart through upload_file (several parts in flight over TLS).
    path = os.path.join(tls_server.log_path.parent, "tls-upload.bin")
    with open(path, "wb") as f:
        f.write(payload)
    client.upload_file(Bucket=FIXED_BUCKET, Key="py/multipart.bin", LocalFilePath=path,
                       PartSize=2, MAXThread=4)
    got = client.get_object(Bucket=FIXED_BUCKET, Key="py/multipart.bin")["Body"].get_raw_stream().read()
    assert md5(got) == md5(payload)
    listed = client.list_objects(Bucket=FIXED_BUCKET, Prefix="py/")
    sizes = {o["Key"]: int(o["Size"]) for o in listed["Contents"]}
    assert sizes == {key: SIZE, "py/multipart.bin": SIZE}
    os.remove(path)


def test_cos_python_sdk_without_trust_fails(tls_server):
    # The system trust store does not know the self-signed certificate.
    client = make_client(tls_server, Scheme="https", VerifySSL=True)
    with pytest.raises(CosClientError) as e:
        client.head_bucket(Bucket=FIXED_BUCKET)
    assert "CERTIFICATE_VERIFY_FAILED" in str(e.value) or "certificate" in str(e.value).lower()


def test_boto3_verify_path(tls_server, payload):
    cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"})
    s3 = s3_session().client("s3", endpoint_url=tls_server.url, config=cfg, verify=tls_server.cert)
    s3.put_object(Bucket=FIXED_BUCKET, Key="boto3/big.bin", Body=payload)
    got = s3.get_object(Bucket=FIXED_BUCKET, Key="boto3/big.bin")["Body"].read()
    assert md5(got) == md5(payload)
    listed = s3.list_objects_v2(Bucket=FIXED_BUCKET, Prefix="boto3/")
    assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == [("boto3/big.bin", SIZE)]
    # Without the certificate: refused by the client.
    untrusted = s3_session().client("s3", endpoint_url=tls_server.url, config=cfg, verify=True)
    with pytest.raises(Exception) as e:
        untrusted.head_bucket(Bucket=FIXED_BUCKET)
    assert "certificate" in str(e.value).lower() or "SSL" in str(e.value)


def test_aws_cli_with_aws_ca_bundle(tls_server, payload, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    env = aws_env(AWS_CA_BUNDLE=tls_server.cert)

    def aws(*args):
        p = subprocess.run([str(AWS_BIN), "--endpoint-url", tls_server.url, *args],
                           env=env, capture_output=True, timeout=120)
        assert p.returncode == 0, (args, p.stdout.decode(), p.stderr.decode())
        return p.stdout.decode()

    aws("s3", "cp", str(src), f"s3://{FIXED_BUCKET}/cli/big.bin")
    aws("s3", "cp", f"s3://{FIXED_BUCKET}/cli/big.bin", str(tmp_path / "back.bin"))
    assert md5((tmp_path / "back.bin").read_bytes()) == md5(payload)
    assert f"{SIZE} big.bin" in aws("s3", "ls", f"s3://{FIXED_BUCKET}/cli/")


def signed_headers(server, method, key="", params=None, length=None):
    """Host and Authorization for a virtual-hosted COS request (the SDK's own signer);
    a PUT signs the Content-Length curl will send."""
    conf = make_client(server, Scheme="https", VerifySSL=server.cert).get_conf()
    url = f"{server.url}/{key}"
    headers = {"Host": bucket_host(FIXED_BUCKET)}
    req = requests.Request(method, url, headers=headers, params=params).prepare()
    req.headers.pop("Content-Length", None)
    if length is not None:
        req.headers["Content-Length"] = str(length)
    prepared = CosS3Auth(conf, key or None, params=params or {})(req)
    return {k: prepared.headers[k] for k in ("Host", "Authorization")}


def curl(server, *args):
    p = subprocess.run(["curl", "-sS", "--cacert", server.cert, *args],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, (args, p.stderr.decode())
    return p.stdout


def test_curl_cacert(tls_server, payload, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    key = "curl/big.bin"

    def h(method, **kw):
        return [x for k, v in signed_headers(tls_server, method, key, **kw).items() for x in ("-H", f"{k}: {v}")]

    status = curl(tls_server, "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                  "-T", str(src), *h("PUT", length=SIZE), f"{tls_server.url}/{key}")
    # curl negotiates HTTP/2 by ALPN when it can.
    assert status.decode().split()[0] == "200", status
    curl(tls_server, "-o", str(tmp_path / "back.bin"), *h("GET"), f"{tls_server.url}/{key}")
    assert md5((tmp_path / "back.bin").read_bytes()) == md5(payload)
    # HTTP/1.1 explicitly, too.
    got = curl(tls_server, "--http1.1", *h("GET"), f"{tls_server.url}/{key}")
    assert md5(got) == md5(payload)
    listing = curl(tls_server, *[x for k, v in signed_headers(tls_server, "GET", "", params={"prefix": "curl/"}).items()
                                 for x in ("-H", f"{k}: {v}")], f"{tls_server.url}/?prefix=curl/")
    assert b"<Key>curl/big.bin</Key>" in listing and f"<Size>{SIZE}</Size>".encode() in listing
    # Without --cacert, curl refuses the self-signed certificate.
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", f"{tls_server.url}/-/health/live"],
                       capture_output=True, timeout=30)
    assert p.returncode == 60, p.stderr  # CURLE_PEER_FAILED_VERIFICATION


def test_plain_http_to_https_port(tls_server):
    started = time.time()
    r = requests.get(f"http://127.0.0.1:{tls_server.port}/{FIXED_BUCKET}/k", timeout=10)
    assert time.time() - started < 5
    assert r.status_code == 400
    assert r.headers["x-cos-request-id"]
    assert "<Code>InvalidRequest</Code>" in r.text and "HTTPS" in r.text
    # curl says the same.
    p = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{tls_server.port}/"],
                       capture_output=True, timeout=30)
    assert b"speaks HTTPS" in p.stdout, p


def test_certificate_names(tls_server):
    """Bucket hosts of the region verify (for Domain/Endpoint setups that resolve them to
    localcos); a foreign name does not."""
    import socket
    import ssl

    ctx = ssl.create_default_context(cafile=tls_server.cert)

    def handshake(name):
        with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as sock:
            with ctx.wrap_socket(sock, server_hostname=name) as tls:
                return tls.version()

    for name in (bucket_host(FIXED_BUCKET), f"cos.{REGION}.myqcloud.com", "localhost"):
        assert handshake(name) in ("TLSv1.2", "TLSv1.3"), name
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake("www.example.com")


def test_keys_cli_over_https_with_cacert(tls_server):
    """`localcos keys --url https://... --cacert <cert>` manages keys through the
    HTTPS listener; the key it makes works at once with cos-python-sdk-v5 over
    HTTPS. Without trusting the certificate the command fails and says how."""

    def keys(*args):
        return subprocess.run(
            [str(localcos_bin()), "keys", "--url", f"https://127.0.0.1:{tls_server.port}", *args],
            env=clean_env(LOCALCOS_SECRET_ID=SECRET_ID, LOCALCOS_SECRET_KEY=SECRET_KEY),
            capture_output=True,
            text=True,
            timeout=60,
        )

    refused = keys("list")
    assert refused.returncode != 0
    assert "TLS handshake failed" in refused.stderr and "--cacert" in refused.stderr, refused.stderr
    made = keys("--cacert", tls_server.cert, "add", "--bucket", FIXED_BUCKET, "--json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    client = make_client(
        tls_server,
        Scheme="https",
        VerifySSL=tls_server.cert,
        SecretId=created["secret_id"],
        SecretKey=created["secret_key"],
    )
    client.put_object(Bucket=FIXED_BUCKET, Key="keys/over-https.txt", Body=b"made over https")
    got = client.get_object(Bucket=FIXED_BUCKET, Key="keys/over-https.txt")["Body"].get_raw_stream().read()
    assert got == b"made over https"
    listed = keys("--cacert", tls_server.cert, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    ids = [k["secret_id"] for k in json.loads(listed.stdout)["keys"]]
    assert created["secret_id"] in ids
    revoked = keys("--cacert", tls_server.cert, "revoke", created["secret_id"])
    assert revoked.returncode == 0, revoked.stderr
