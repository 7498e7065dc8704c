"""Pre-signed URLs from cos-python-sdk-v5 (get_presigned_url /
get_presigned_download_url / get_object_url) fetched with plain `requests`,
and from `localcos presign` (cos.md §1.8, §6A.11).

Complements test_presign_auth.py (download URL, PUT URL, unsigned extra
params, GET→DELETE, expiry by sleeping, tampering): here the Params the
download helpers take, custom expiry, signed headers, wrong keys, PUT→GET,
temporary-key URLs, public objects' plain URLs and the CLI.

As there, URLs carry the real bucket host and are fetched through localcos
as an HTTP proxy. versionId: `null` on a never-versioned bucket, and real
version ids (an old version, a delete marker) on a versioned one.
"""

import re
import subprocess
import textwrap
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from conftest import (
    SECRET_ID,
    SECRET_KEY,
    LocalCos,
    clean_env,
    localcos_bin,
    make_client,
)

BODY = b"%PDF-1.4 pretend this is a report\n"
KEY = "reports/q3 2024+final.pdf"


def fetch(server, url, method="GET", **kw):
    return requests.request(method, url, proxies={"http": server.url}, timeout=30,
                            allow_redirects=False, **kw)


def error_of(r):
    root = ET.fromstring(r.content)
    assert root.tag == "Error", r.text
    assert r.headers["x-cos-request-id"]
    return root.findtext("Code"), root.findtext("Message")


@pytest.fixture
def stored(client, bucket):
    client.put_object(Bucket=bucket, Body=BODY, Key=KEY, ContentType="application/pdf")
    return bucket


@pytest.mark.parametrize("disposition", [
    "inline",
    "attachment",
    'attachment; filename="q3 report.pdf"',
    "attachment; filename*=UTF-8''%E4%B8%AD%E6%96%87.pdf",
])
def test_download_url_content_disposition(server, proxy_client, stored, disposition):
    url = proxy_client.get_presigned_download_url(
        Bucket=stored, Key=KEY, Params={"response-content-disposition": disposition})
    assert "response-content-disposition" in parse_qs(urlsplit(url).query)["q-url-param-list"][0]
    r = fetch(server, url)
    assert r.status_code == 200, r.text
    assert r.content == BODY
    assert r.headers["Content-Disposition"] == disposition
    assert r.headers["Content-Type"] == "application/pdf"


def test_download_url_with_several_params_and_version_null(server, proxy_client, stored):
    url = proxy_client.get_presigned_download_url(Bucket=stored, Key=KEY, Params={
        "response-content-type": "application/octet-stream",
        "response-cache-control": "max-age=60",
        "response-expires": "Thu, 01 Dec 2033 16:00:00 GMT",
        "versionId": "null",
    })
    r = fetch(server, url)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Cache-Control"] == "max-age=60"
    assert r.headers["Expires"] == "Thu, 01 Dec 2033 16:00:00 GMT"
    # A version id that does not exist.
    url = proxy_client.get_presigned_download_url(Bucket=stored, Key=KEY,
                                                  Params={"versionId": "MTg0NDUxNTc1NjIzMTQ1MDAwODg"})
    r = fetch(server, url)
    assert r.status_code == 404
    assert error_of(r)[0] == "NoSuchVersion"


def test_download_url_of_an_old_version(server, client, proxy_client, bucket):
    client.put_bucket_versioning(Bucket=bucket, Status="Enabled")
    v1 = client.put_object(Bucket=bucket, Key=KEY, Body=b"first")["x-cos-version-id"]
    v2 = client.put_object(Bucket=bucket, Key=KEY, Body=b"second")["x-cos-version-id"]
    assert v1 != v2
    for version, body in ((v1, b"first"), (v2, b"second")):
        url = proxy_client.get_presigned_download_url(Bucket=bucket, Key=KEY, Params={
            "versionId": version,
            "response-content-disposition": 'attachment; filename="v.txt"',
        })
        assert "versionid" in parse_qs(urlsplit(url).query)["q-url-param-list"][0].lower()
        r = fetch(server, url)
        assert r.status_code == 200, r.text
        assert r.content == body
        assert r.headers["x-cos-version-id"] == version
        assert r.headers["Content-Disposition"] == 'attachment; filename="v.txt"'
    # After a delete marker the plain URL is 404 but the old version's still works.
    marker = client.delete_object(Bucket=bucket, Key=KEY)["x-cos-version-id"]
    r = fetch(server, proxy_client.get_presigned_download_url(Bucket=bucket, Key=KEY))
    assert r.status_code == 404
    assert error_of(r)[0] == "NoSuchKey"
    assert r.headers["x-cos-delete-marker"] == "true"
    assert r.headers["x-cos-version-id"] == marker
    r = fetch(server, proxy_client.get_presigned_download_url(
        Bucket=bucket, Key=KEY, Params={"versionId": v1}))
    assert r.status_code == 200 and r.content == b"first"
    # Tampering with the signed versionId breaks the signature.
    url = proxy_client.get_presigned_download_url(Bucket=bucket, Key=KEY, Params={"versionId": v1})
    r = fetch(server, url.replace(v1, v2))
    assert r.status_code == 403
    assert error_of(r)[0] == "SignatureDoesNotMatch"


def sign_window(url):
    start, end = parse_qs(urlsplit(url).query)["q-sign-time"][0].split(";")
    return int(start), int(end)


def test_custom_expiry(server, proxy_client, stored):
    now = int(time.time())
    url = proxy_client.get_presigned_url(Bucket=stored, Key=KEY, Method="GET", Expired=7 * 24 * 3600)
    start, end = sign_window(url)
    assert start <= now and abs(end - (now + 7 * 24 * 3600)) <= 2
    assert fetch(server, url).status_code == 200
    short = proxy_client.get_presigned_download_url(Bucket=stored, Key=KEY, Expired=30)
    assert abs(sign_window(short)[1] - (now + 30)) <= 2
    assert fetch(server, short).status_code == 200
    # Expired in the past: refused with COS's message.
    stale = proxy_client.get_presigned_download_url(Bucket=stored, Key=KEY, Expired=-1)
    r = fetch(server, stale)
    assert r.status_code == 403
    assert error_of(r) == ("AccessDenied", "Request has expired")


def test_put_url_with_signed_content_type(server, proxy_client, client, bucket):
    url = proxy_client.get_presigned_url(Bucket=bucket, Key="up/typed.txt", Method="PUT",
                                         Headers={"Content-Type": "text/plain"})
    assert "content-type" in parse_qs(urlsplit(url).query)["q-header-list"][0]
    r = fetch(server, url, method="PUT", data=b"typed", headers={"Content-Type": "text/html"})
    assert r.status_code == 403
    assert error_of(r)[0] == "SignatureDoesNotMatch"
    r = fetch(server, url, method="PUT", data=b"typed", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    head = client.head_object(Bucket=bucket, Key="up/typed.txt")
    assert head["Content-Type"] == "text/plain"
    # A GET without the signed Content-Type lacks a listed header: AccessDenied.
    r = fetch(server, url)
    assert r.status_code == 403
    assert error_of(r)[0] == "AccessDenied"
    # A plain PUT URL is not a GET URL.
    plain = proxy_client.get_presigned_url(Bucket=bucket, Key="up/typed.txt", Method="PUT")
    r = fetch(server, plain)
    assert r.status_code == 403
    assert error_of(r)[0] == "SignatureDoesNotMatch"


def test_wrong_keys(server, stored):
    stranger = make_client(server, IP=None, Port=None, Proxies={"http": server.url},
                           SecretId="AKIDnobodyHasThisKey000000000000001")
    r = fetch(server, stranger.get_presigned_download_url(Bucket=stored, Key=KEY))
    assert r.status_code == 403
    assert error_of(r)[0] == "InvalidAccessKeyId"
    wrong_secret = make_client(server, IP=None, Port=None, Proxies={"http": server.url},
                               SecretKey=SECRET_KEY[::-1])
    r = fetch(server, wrong_secret.get_presigned_download_url(Bucket=stored, Key=KEY))
    assert r.status_code == 403
    assert error_of(r)[0] == "SignatureDoesNotMatch"


def test_tampered_expiry_is_refused(server, proxy_client, stored):
    url = proxy_client.get_presigned_download_url(Bucket=stored, Key=KEY, Expired=60)
    start, end = sign_window(url)
    forged = url.replace(f"%3B{end}", f"%3B{end + 86400}")
    assert forged != url
    r = fetch(server, forged)
    assert r.status_code == 403
    assert error_of(r)[0] == "SignatureDoesNotMatch"


def test_object_url_unsigned_needs_public_read(server, proxy_client, client, stored):
    plain = proxy_client.get_object_url(Bucket=stored, Key=KEY)
    assert "q-signature" not in plain
    r = fetch(server, plain)
    assert r.status_code == 403
    assert error_of(r)[0] == "AccessDenied"
    client.put_object_acl(Bucket=stored, Key=KEY, ACL="public-read")
    r = fetch(server, plain)
    assert r.status_code == 200
    assert r.content == BODY


# ---------------------------------------------------------------------------
# Temporary keys (a server of their own)

TMP_ID = "AKIDpresignTemporary0000000001"
TMP_KEY = "presign-temporary-secret-key"
TOKEN = "presign-session-token-with.safe~chars_0123"
OLD_ID = "AKIDpresignExpiredTemp00000001"


@pytest.fixture(scope="module")
def temp_server(log_dir):
    path = log_dir / "presign-temp.toml"
    path.write_text(textwrap.dedent(f"""
        buckets = ["tmpurls"]

        [[temporary_credentials]]
        secret_id = "{TMP_ID}"
        secret_key = "{TMP_KEY}"
        token = "{TOKEN}"

        [[temporary_credentials]]
        secret_id = "{OLD_ID}"
        secret_key = "{TMP_KEY}"
        token = "{TOKEN}"
        expires = "2021-01-01T00:00:00Z"
    """))
    srv = LocalCos(["--config", str(path)], log_dir, "presign-temp")
    make_client(srv).put_object(Bucket="tmpurls-1250000000", Key="t.bin", Body=b"temporary url body")
    yield srv
    srv.stop()


def temp_client(server, secret_id=TMP_ID):
    return make_client(server, IP=None, Port=None, Proxies={"http": server.url},
                       SecretId=secret_id, SecretKey=TMP_KEY, Token=TOKEN)


def test_temporary_key_url_with_token_param(temp_server):
    c = temp_client(temp_server)
    # cos-python-sdk-v5 adds the token only when passed as a (signed) param (cos.md §1.8).
    url = c.get_presigned_download_url(Bucket="tmpurls-1250000000", Key="t.bin",
                                       Params={"x-cos-security-token": TOKEN})
    r = fetch(temp_server, url)
    assert r.status_code == 200, r.text
    assert r.content == b"temporary url body"
    # Unsigned token appended afterwards (Node's shape) works too.
    bare = c.get_presigned_download_url(Bucket="tmpurls-1250000000", Key="t.bin")
    assert fetch(temp_server, bare + "&x-cos-security-token=" + TOKEN).status_code == 200


def test_temporary_key_url_without_or_with_wrong_token(temp_server):
    c = temp_client(temp_server)
    bare = c.get_presigned_download_url(Bucket="tmpurls-1250000000", Key="t.bin")
    r = fetch(temp_server, bare)
    assert r.status_code == 403
    assert error_of(r)[0] == "InvalidAccessKeyId"
    r = fetch(temp_server, bare + "&x-cos-security-token=wrong")
    assert r.status_code == 403
    assert error_of(r)[0] == "InvalidAccessKeyId"


def test_expired_temporary_key_url(temp_server):
    c = temp_client(temp_server, OLD_ID)
    url = c.get_presigned_download_url(Bucket="tmpurls-1250000000", Key="t.bin",
                                       Params={"x-cos-security-token": TOKEN})
    r = fetch(temp_server, url)
    assert r.status_code == 400
    assert error_of(r)[0] == "ExpiredToken"


# ---------------------------------------------------------------------------
# `localcos presign`

def cli_presign(server, bucket, *args):
    out = subprocess.run(
        [str(localcos_bin()), "presign", "--ephemeral", "--endpoint", server.url,
         "--bucket", bucket, *args],
        env=clean_env(LOCALCOS_SECRET_ID=SECRET_ID, LOCALCOS_SECRET_KEY=SECRET_KEY),
        capture_output=True, timeout=30, check=True)
    return out.stdout.decode().strip()


def test_cli_presign_get_and_put(server, client, bucket):
    put_url = cli_presign(server, bucket, "--method", "PUT", "--expires", "300", "cli/up load.txt")
    assert re.match(rf"^{re.escape(server.url)}/{bucket}/cli/up%20load\.txt\?q-sign-algorithm=sha1&", put_url)
    r = requests.put(put_url, data=b"from the cli", timeout=30)
    assert r.status_code == 200, r.text
    assert client.get_object(Bucket=bucket, Key="cli/up load.txt")["Body"].get_raw_stream().read() \
        == b"from the cli"
    get_url = cli_presign(server, bucket, "--param", 'response-content-disposition=attachment; filename="x.txt"',
                          "cli/up load.txt")
    r = requests.get(get_url, timeout=30)
    assert r.status_code == 200
    assert r.content == b"from the cli"
    assert r.headers["Content-Disposition"] == 'attachment; filename="x.txt"'
    start, end = sign_window(get_url)
    assert end - int(time.time()) in range(3590, 3602)
    assert requests.delete(get_url, timeout=30).status_code == 403
