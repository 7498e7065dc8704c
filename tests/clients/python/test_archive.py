"""Storage classes, archive restore, traffic limits, back-to-origin redirects and
original image protection, with cos-python-sdk-v5 against a real localcos.

This file starts its own server: restores take 2 s and a restore "day" lasts
3 s (``--restore-seconds 2 --day-seconds 3``), and a config file gives the
bucket ``arch-<APPID>`` an origin on 127.0.0.1 (allowed by
``--origin-allow-private``) and original image protection for jpg/png.
"""

import email.utils
import subprocess
import time
from urllib.parse import urlsplit

import pytest
import requests
from qcloud_cos import CosServiceError

from conftest import (
    APPID,
    LocalCos,
    Raw,
    assert_error,
    bucket_host,
    clean_env,
    localcos_bin,
    make_client,
    read_body,
    service_error,
)

BUCKET = "arch-" + APPID
ORIGIN = "http://127.0.0.1:1/mirror"
RESTORE = {"Days": 1, "CASJobParameters": {"Tier": "Standard"}}


@pytest.fixture(scope="module")
def arch_server(log_dir):
    conf = log_dir / "archive.toml"
    conf.write_text(
        f'[bucket_settings."{BUCKET}"]\n'
        f'origin = "{ORIGIN}"\n'
        'original_image_protection = ["jpg", "png"]\n'
    )
    srv = LocalCos(
        [
            "--bucket", BUCKET,
            "--config", str(conf),
            "--restore-seconds", "2",
            "--day-seconds", "3",
            "--origin-allow-private",
        ],
        log_dir,
        "archive",
    )
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def c(arch_server):
    return make_client(arch_server)


def wait_until(pred, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_storage_class_headers(c):
    for cls in ["STANDARD_IA", "INTELLIGENT_TIERING", "MAZ_STANDARD", "DEEP_ARCHIVE"]:
        c.put_object(Bucket=BUCKET, Key=f"cls/{cls}", Body=b"x", StorageClass=cls)
        head = c.head_object(Bucket=BUCKET, Key=f"cls/{cls}")
        assert head["x-cos-storage-class"] == cls
        if cls == "INTELLIGENT_TIERING":
            assert head["x-cos-storage-tier"] == "FREQUENT"
    c.put_object(Bucket=BUCKET, Key="cls/std", Body=b"x")
    assert "x-cos-storage-class" not in c.head_object(Bucket=BUCKET, Key="cls/std")
    with pytest.raises(CosServiceError) as ei:
        c.put_object(Bucket=BUCKET, Key="cls/bad", Body=b"x", StorageClass="GLACIER")
    assert_error(service_error(ei), 400, "InvalidArgument")


def test_archive_restore_lifecycle(c):
    body = b"cold data " * 100
    c.put_object(Bucket=BUCKET, Key="cold/a.bin", Body=body, StorageClass="ARCHIVE")
    with pytest.raises(CosServiceError) as ei:
        c.get_object(Bucket=BUCKET, Key="cold/a.bin")
    err = service_error(ei)
    assert_error(err, 403, "InvalidObjectState")

    head = c.head_object(Bucket=BUCKET, Key="cold/a.bin")
    assert head["x-cos-storage-class"] == "ARCHIVE"
    assert "x-cos-restore" not in head

    assert c.restore_object(Bucket=BUCKET, Key="cold/a.bin", RestoreRequest=RESTORE) is None
    head = c.head_object(Bucket=BUCKET, Key="cold/a.bin")
    assert head["x-cos-restore"] == 'ongoing-request="true"'
    assert head["x-cos-restore-status"].startswith('tier="standard"; request-date="')

    # A second restore while one runs → 409 RestoreAlreadyInProgress.
    with pytest.raises(CosServiceError) as ei:
        c.restore_object(Bucket=BUCKET, Key="cold/a.bin", RestoreRequest=RESTORE)
    assert_error(service_error(ei), 409, "RestoreAlreadyInProgress")

    assert wait_until(
        lambda: c.head_object(Bucket=BUCKET, Key="cold/a.bin")["x-cos-restore"].startswith(
            'ongoing-request="false"'
        )
    ), "restore did not finish"
    restored = c.head_object(Bucket=BUCKET, Key="cold/a.bin")["x-cos-restore"]
    expiry = restored.split('expiry-date="')[1].rstrip('"')
    expires_at = email.utils.parsedate_to_datetime(expiry).timestamp()
    assert time.time() < expires_at <= time.time() + 4.5, restored
    got = c.get_object(Bucket=BUCKET, Key="cold/a.bin")
    assert read_body(got) == body
    assert got["x-cos-restore"] == restored
    assert got["x-cos-storage-class"] == "ARCHIVE"

    # One "day" (3 s) later the copy expires and GET is refused again.
    time.sleep(max(0.0, expires_at - time.time()) + 0.5)
    with pytest.raises(CosServiceError) as ei:
        c.get_object(Bucket=BUCKET, Key="cold/a.bin")
    assert_error(service_error(ei), 403, "InvalidObjectState")
    assert "x-cos-restore" not in c.head_object(Bucket=BUCKET, Key="cold/a.bin")


def test_restore_errors(c):
    c.put_object(Bucket=BUCKET, Key="warm.txt", Body=b"warm")
    with pytest.raises(CosServiceError) as ei:
        c.restore_object(Bucket=BUCKET, Key="warm.txt", RestoreRequest=RESTORE)
    assert_error(service_error(ei), 405, "RestoreNonArchiveObject")
    with pytest.raises(CosServiceError) as ei:
        c.restore_object(Bucket=BUCKET, Key="no/such.bin", RestoreRequest=RESTORE)
    assert_error(service_error(ei), 404, "NoSuchKey")
    c.put_object(Bucket=BUCKET, Key="deep.bin", Body=b"deep", StorageClass="DEEP_ARCHIVE")
    with pytest.raises(CosServiceError) as ei:
        c.restore_object(
            Bucket=BUCKET, Key="deep.bin",
            RestoreRequest={"Days": 1, "CASJobParameters": {"Tier": "Expedited"}},
        )
    assert_error(service_error(ei), 400, "InvalidArgument")
    with pytest.raises(CosServiceError) as ei:
        c.restore_object(Bucket=BUCKET, Key="deep.bin", RestoreRequest={"Days": 0})
    assert_error(service_error(ei), 400, "InvalidArgument")


def test_change_storage_class_by_copy(arch_server, c):
    """change_object_storage_class is a copy onto itself with `Replaced`."""
    c.put_object(Bucket=BUCKET, Key="move.txt", Body=b"moving")
    c.change_object_storage_class(Bucket=BUCKET, Key="move.txt", StorageClass="ARCHIVE")
    assert c.head_object(Bucket=BUCKET, Key="move.txt")["x-cos-storage-class"] == "ARCHIVE"
    with pytest.raises(CosServiceError) as ei:
        c.get_object(Bucket=BUCKET, Key="move.txt")
    assert_error(service_error(ei), 403, "InvalidObjectState")
    # Back to STANDARD needs a restored copy first.
    with pytest.raises(CosServiceError) as ei:
        c.change_object_storage_class(Bucket=BUCKET, Key="move.txt", StorageClass="STANDARD")
    assert_error(service_error(ei), 403, "InvalidObjectState")
    c.restore_object(Bucket=BUCKET, Key="move.txt", RestoreRequest=RESTORE)
    assert wait_until(lambda: 'false' in c.head_object(Bucket=BUCKET, Key="move.txt").get("x-cos-restore", ""))
    c.change_object_storage_class(Bucket=BUCKET, Key="move.txt", StorageClass="STANDARD")
    head = c.head_object(Bucket=BUCKET, Key="move.txt")
    assert "x-cos-storage-class" not in head
    assert "x-cos-restore" not in head
    assert read_body(c.get_object(Bucket=BUCKET, Key="move.txt")) == b"moving"
    # The SDK's copy() helper HEADs the source on its real domain name
    # (so it runs with localcos as the HTTP proxy), compares the classes in
    # lower case, then copies.
    proxied = make_client(arch_server, IP=None, Port=None, Proxies={"http": arch_server.url})
    src = {"Bucket": BUCKET, "Key": "move.txt", "Region": "ap-guangzhou"}
    proxied.copy(Bucket=BUCKET, Key="moved-ia.txt", CopySource=src, StorageClass="STANDARD_IA")
    assert c.head_object(Bucket=BUCKET, Key="moved-ia.txt")["x-cos-storage-class"] == "STANDARD_IA"


@pytest.mark.parametrize("limit", ["819199", "838860801", "0", "fast"])
def test_traffic_limit_out_of_range(c, limit):
    c.put_object(Bucket=BUCKET, Key="t.bin", Body=b"t" * 10)
    with pytest.raises(CosServiceError) as ei:
        c.get_object(Bucket=BUCKET, Key="t.bin", TrafficLimit=limit)
    assert_error(service_error(ei), 400, "InvalidArgument")
    with pytest.raises(CosServiceError) as ei:
        c.put_object(Bucket=BUCKET, Key="t2.bin", Body=b"t", TrafficLimit=limit)
    assert_error(service_error(ei), 400, "InvalidArgument")


def test_traffic_limit_paces_download(c):
    data = bytes(range(256)) * 400  # 102,400 bytes = 1 s at 819200 bit/s
    c.put_object(Bucket=BUCKET, Key="paced.bin", Body=data, TrafficLimit="838860800")
    t = time.time()
    got = read_body(c.get_object(Bucket=BUCKET, Key="paced.bin", TrafficLimit="819200"))
    took = time.time() - t
    assert got == data
    assert took >= 0.8, took


def test_origin_redirect_for_missing_key(c):
    # The SDK does not follow redirects (AllowRedirects=False) and treats a
    # 3xx as success: the 302 comes back as the response headers.
    resp = c.get_object(Bucket=BUCKET, Key="not/here 1.txt")
    assert resp["Location"] == ORIGIN + "/not/here%201.txt"
    assert resp["x-cos-request-id"]
    c.put_object(Bucket=BUCKET, Key="here.txt", Body=b"local")
    assert read_body(c.get_object(Bucket=BUCKET, Key="here.txt")) == b"local"


def test_origin_redirect_keeps_host(arch_server, c):
    """Keys cannot move the redirect to another host (signed raw GETs)."""
    raw = Raw(arch_server, c)
    for key, loc in [
        ("@evil.example/x", ORIGIN + "/%40evil.example/x"),
        ("http://evil.example/y", ORIGIN + "/http%3A//evil.example/y"),
        ("a\\evil.example", ORIGIN + "/a%5Cevil.example"),
    ]:
        r = raw.request("GET", BUCKET, key)
        assert r.status_code == 302, r.text
        assert r.headers["Location"] == loc
        assert urlsplit(r.headers["Location"]).hostname == "127.0.0.1"
        assert r.headers["x-cos-request-id"]


def test_origin_private_address_refused_without_switch(log_dir, tmp_path):
    conf = tmp_path / "bad.toml"
    conf.write_text(f'[bucket_settings."{BUCKET}"]\norigin = "http://127.0.0.1:8080/"\n')
    proc = subprocess.run(
        [str(localcos_bin()), "serve", "--ephemeral", "--listen", "127.0.0.1:0", "--config", str(conf)],
        env=clean_env(LOCALCOS_SECRET_ID="AKIDx", LOCALCOS_SECRET_KEY="y"),
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode != 0
    assert b"loopback" in proc.stderr + proc.stdout, proc.stderr


def test_original_image_protection(arch_server, c):
    img = b"\x89PNG\r\n\x1a\n fake png"
    c.put_object(Bucket=BUCKET, Key="img/logo.png", Body=img)
    # A plain GET of a protected image: 403 AccessDenied.
    with pytest.raises(CosServiceError) as ei:
        c.get_object(Bucket=BUCKET, Key="img/logo.png")
    assert_error(service_error(ei), 403, "AccessDenied")
    # Signed ci-process=originImage: a pre-signed URL that signs the parameter
    # (as in the SDK vector py_presign_ci_origin_image), minted on the real
    # domain name and fetched with localcos as the HTTP proxy.
    proxied = make_client(arch_server, IP=None, Port=None, Proxies={"http": arch_server.url})
    url = proxied.get_presigned_download_url(
        Bucket=BUCKET, Key="img/logo.png", Expired=300, Params={"ci-process": "originImage"}
    )
    assert "ci-process=originImage" in url
    assert urlsplit(url).hostname == bucket_host(BUCKET)

    def fetch(u):
        return requests.get(u, proxies={"http": arch_server.url}, allow_redirects=False, timeout=10)

    r = fetch(url)
    assert r.status_code == 200, r.text
    assert r.content == img
    assert r.headers["Content-Type"] == "image/png"
    assert r.headers["ETag"].startswith('"')
    # The same request without the signature: 403.
    unsigned = url.split("?")[0] + "?ci-process=originImage"
    r = fetch(unsigned)
    assert r.status_code == 403, r.text
    assert "<Code>AccessDenied</Code>" in r.text
    # Unprotected suffixes are unaffected.
    c.put_object(Bucket=BUCKET, Key="img/readme.txt", Body=b"txt")
    assert read_body(c.get_object(Bucket=BUCKET, Key="img/readme.txt")) == b"txt"


def test_restore_of_a_version(c):
    """restore_object(VersionId=...) restores that version in place: no new version."""
    bucket = "archver-" + APPID
    c.create_bucket(Bucket=bucket)
    c.put_bucket_versioning(Bucket=bucket, Status="Enabled")
    v1 = c.put_object(Bucket=bucket, Key="v.bin", Body=b"one", StorageClass="ARCHIVE")["x-cos-version-id"]
    v2 = c.put_object(Bucket=bucket, Key="v.bin", Body=b"two", StorageClass="ARCHIVE")["x-cos-version-id"]
    c.restore_object(Bucket=bucket, Key="v.bin", RestoreRequest=RESTORE, VersionId=v1)
    head = c.head_object(Bucket=bucket, Key="v.bin", VersionId=v1)
    assert head["x-cos-restore"] == 'ongoing-request="true"'
    assert head["x-cos-version-id"] == v1
    assert "x-cos-restore" not in c.head_object(Bucket=bucket, Key="v.bin")
    assert wait_until(
        lambda: "false" in c.head_object(Bucket=bucket, Key="v.bin", VersionId=v1).get("x-cos-restore", "")
    )
    assert read_body(c.get_object(Bucket=bucket, Key="v.bin", VersionId=v1)) == b"one"
    with pytest.raises(CosServiceError) as ei:
        c.get_object(Bucket=bucket, Key="v.bin")
    assert_error(service_error(ei), 403, "InvalidObjectState")
    versions = c.list_objects_versions(Bucket=bucket)["Version"]
    assert sorted(v["VersionId"] for v in versions) == sorted([v1, v2])
