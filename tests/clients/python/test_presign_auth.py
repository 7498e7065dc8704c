"""Pre-signed URLs fetched with plain `requests`, expiry, tampering and anonymous access.

Pre-signed URLs are minted by a client configured without IP/Port, so they
carry the real virtual-hosted name (`<bucket>.cos.ap-guangzhou.myqcloud.com`),
and are fetched through localcos used as an HTTP proxy (absolute-form request
target) -- which is what a user's `http_proxy` does.  Domain-mode URLs (bare
`127.0.0.1:PORT` host) are covered in test_modes.py.
"""

import re
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import requests

from conftest import SECRET_ID, SECRET_KEY, bucket_host, object_url

BODY = b"pre-signed payload \x00\x01\x02 end"
KEY = "presign/dir/file name+1.bin"


def fetch(server, url, method="GET", **kw):
    """Fetch an absolute URL with localcos as the HTTP proxy."""
    return requests.request(method, url, proxies={"http": server.url}, timeout=30, allow_redirects=False, **kw)


def error_of(r):
    root = ET.fromstring(r.content)
    assert root.tag == "Error", r.text
    return root.findtext("Code"), root.findtext("Message")


@pytest.fixture
def stored(client, bucket):
    client.put_object(Bucket=bucket, Body=BODY, Key=KEY)
    return bucket


def test_presigned_download_url(server, proxy_client, stored):
    url = proxy_client.get_presigned_download_url(Bucket=stored, Key=KEY, Expired=300)
    assert urlsplit(url).hostname == bucket_host(stored)
    assert "q-signature=" in url
    r = fetch(server, url)
    assert r.status_code == 200, r.text
    assert r.content == BODY
    assert r.headers["Content-Length"] == str(len(BODY))
    assert r.headers["x-cos-request-id"]


def test_presigned_url_with_signed_response_params(server, proxy_client, stored):
    url = proxy_client.get_presigned_url(
        Bucket=stored, Key=KEY, Method="GET", Expired=300,
        Params={"response-content-disposition": 'attachment; filename="a b+c.bin"'},
    )
    r = fetch(server, url)
    assert r.status_code == 200, r.text
    assert r.content == BODY
    assert r.headers["Content-Disposition"] == 'attachment; filename="a b+c.bin"'


def test_presigned_url_unsigned_response_param_honoured(server, proxy_client, stored):
    url = proxy_client.get_presigned_download_url(Bucket=stored, Key=KEY)
    url += "&" + urlencode({"response-content-type": "text/x-after-signing"})
    r = fetch(server, url)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/x-after-signing"


def test_presigned_put_url(server, proxy_client, client, bucket):
    url = proxy_client.get_presigned_url(Bucket=bucket, Key="uploaded/via url.txt", Method="PUT", Expired=300)
    r = fetch(server, url, method="PUT", data=b"put through a pre-signed url")
    assert r.status_code == 200, r.text
    assert r.headers["ETag"]
    got = client.get_object(Bucket=bucket, Key="uploaded/via url.txt")
    assert got["Body"].get_raw_stream().read() == b"put through a pre-signed url"


def test_presigned_url_is_bound_to_method(server, proxy_client, stored):
    url = proxy_client.get_presigned_download_url(Bucket=stored, Key=KEY)
    r = fetch(server, url, method="DELETE")
    assert r.status_code == 403, r.text
    assert error_of(r)[0] == "SignatureDoesNotMatch"


def test_expired_presigned_url(server, proxy_client, stored):
    # Expired=-10: q-sign-time = now-60;now-10, i.e. signed for a window in the past
    url = proxy_client.get_presigned_download_url(Bucket=stored, Key=KEY, Expired=-10)
    r = fetch(server, url)
    assert r.status_code == 403, r.text
    assert error_of(r) == ("AccessDenied", "Request has expired")
    assert r.headers["x-cos-request-id"]


def test_expired_after_sleep(server, proxy_client, stored):
    url = proxy_client.get_presigned_download_url(Bucket=stored, Key=KEY, Expired=1)
    time.sleep(2.2)
    r = fetch(server, url)
    assert r.status_code == 403, r.text
    assert error_of(r) == ("AccessDenied", "Request has expired")


def tamper_signature(url: str) -> str:
    def flip(m):
        sig = m.group(1)
        return "q-signature=" + ("0" if sig[0] != "0" else "1") + sig[1:]

    out, n = re.subn(r"q-signature=([0-9a-f]{40})", flip, url)
    assert n == 1
    return out


def test_tampered_signature(server, proxy_client, stored):
    url = proxy_client.get_presigned_download_url(Bucket=stored, Key=KEY)
    r = fetch(server, tamper_signature(url))
    assert r.status_code == 403, r.text
    assert error_of(r)[0] == "SignatureDoesNotMatch"


def test_tampered_key_in_path(server, proxy_client, client, stored):
    client.put_object(Bucket=stored, Body=b"other", Key="presign/dir/other.bin")
    url = proxy_client.get_presigned_download_url(Bucket=stored, Key=KEY)
    parts = urlsplit(url)
    forged = urlunsplit(parts._replace(path="/presign/dir/other.bin"))
    r = fetch(server, forged)
    assert r.status_code == 403, r.text
    assert error_of(r)[0] == "SignatureDoesNotMatch"


def test_tampered_signed_param(server, proxy_client, stored):
    url = proxy_client.get_presigned_url(Bucket=stored, Key=KEY, Method="GET",
                                         Params={"response-content-type": "text/plain"})
    parts = urlsplit(url)
    q = [(k, "text/html" if k == "response-content-type" else v) for k, v in parse_qsl(parts.query)]
    r = fetch(server, urlunsplit(parts._replace(query=urlencode(q))))
    assert r.status_code == 403, r.text
    assert error_of(r)[0] == "SignatureDoesNotMatch"


def test_header_auth_tampered(raw, stored):
    """A valid Authorization header replayed for another key does not match."""
    from qcloud_cos.cos_auth import CosS3Auth

    good = requests.Request("GET", object_url(raw.server, KEY), headers={"Host": bucket_host(stored)})
    auth = CosS3Auth(raw.conf, KEY)(good.prepare()).headers["Authorization"]
    r = requests.get(object_url(raw.server, "presign/dir/other"),
                     headers={"Host": bucket_host(stored), "Authorization": auth}, timeout=30)
    assert r.status_code == 403, r.text
    assert error_of(r)[0] == "SignatureDoesNotMatch"


def test_anonymous_get_denied(server, stored):
    r = requests.get(object_url(server, KEY), headers={"Host": bucket_host(stored)}, timeout=30)
    assert r.status_code == 403, r.text
    code, message = error_of(r)
    assert code == "AccessDenied"
    assert message
    assert r.headers["x-cos-request-id"]


def test_anonymous_variants_denied(server, stored):
    host = {"Host": bucket_host(stored)}
    # empty Authorization header is anonymous too (Python's Anonymous=True)
    r = requests.get(object_url(server, KEY), headers={**host, "Authorization": ""}, timeout=30)
    assert r.status_code == 403
    assert error_of(r)[0] == "AccessDenied"
    # anonymous listing, anonymous PUT, anonymous via proxy
    r = requests.get(server.url + "/", headers=host, timeout=30)
    assert r.status_code == 403
    assert error_of(r)[0] == "AccessDenied"
    r = requests.put(object_url(server, "anon.txt"), headers=host, data=b"x", timeout=30)
    assert r.status_code == 403
    assert error_of(r)[0] == "AccessDenied"
    r = fetch(server, f"http://{bucket_host(stored)}/{KEY}")
    assert r.status_code == 403
    assert error_of(r)[0] == "AccessDenied"


def test_anonymous_sdk_client(server, stored):
    from conftest import make_client
    from qcloud_cos import CosServiceError

    anon = make_client(server, SecretId=None, SecretKey=None, Anonymous=True)
    with pytest.raises(CosServiceError) as ei:
        anon.get_object(Bucket=stored, Key=KEY)
    assert ei.value.get_status_code() == 403
    assert ei.value.get_error_code() == "AccessDenied"


def test_garbled_authorization(raw, stored):
    r = requests.get(object_url(raw.server, KEY),
                     headers={"Host": bucket_host(stored), "Authorization": "q-sign-algorithm=md5&q-ak=x"},
                     timeout=30)
    assert r.status_code == 403
    assert error_of(r)[0] == "AccessDenied"


def test_legacy_sign_parameter(server, proxy_client, stored):
    """`?sign=<url-encoded whole auth string>` is an alias of the q-* query form (cos.md §1.1)."""
    from urllib.parse import quote

    auth = proxy_client.get_auth(Method="GET", Bucket=stored, Key=KEY, Expired=300)
    url = proxy_client.get_object_url(Bucket=stored, Key=KEY) + "?sign=" + quote(auth, safe="")
    r = fetch(server, url)
    assert r.status_code == 200, r.text
    assert r.content == BODY


def q_sign(secret_key, method, path, params, headers, start, end):
    """COS q-sign (cos.md §1.2), for requests the SDK cannot produce (odd time windows)."""
    import hashlib
    import hmac
    from urllib.parse import quote

    def enc(s):
        return quote(str(s).encode(), safe="-_.~")

    p = {enc(k).lower(): enc(v) for k, v in params.items()}
    h = {enc(k).lower(): enc(v) for k, v in headers.items()}
    http_string = "\n".join([method.lower(), path,
                             "&".join(f"{k}={p[k]}" for k in sorted(p)),
                             "&".join(f"{k}={h[k]}" for k in sorted(h)), ""])
    t = f"{start};{end}"
    sts = f"sha1\n{t}\n{hashlib.sha1(http_string.encode()).hexdigest()}\n"
    sign_key = hmac.new(secret_key.encode(), t.encode(), hashlib.sha1).hexdigest()
    sig = hmac.new(sign_key.encode(), sts.encode(), hashlib.sha1).hexdigest()
    return (f"q-sign-algorithm=sha1&q-ak={SECRET_ID}&q-sign-time={t}&q-key-time={t}"
            f"&q-header-list={';'.join(sorted(h))}&q-url-param-list={';'.join(sorted(p))}&q-signature={sig}")


def test_own_signer_agrees(server, stored):
    now = int(time.time())
    host = bucket_host(stored)
    auth = q_sign(SECRET_KEY, "GET", "/" + KEY, {}, {"host": host}, now - 60, now + 600)
    r = requests.get(object_url(server, KEY), headers={"Host": host, "Authorization": auth}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == BODY


def test_signature_from_the_future_is_skewed(server, stored):
    now = int(time.time())
    host = bucket_host(stored)
    auth = q_sign(SECRET_KEY, "GET", "/" + KEY, {}, {"host": host}, now + 3600, now + 7200)
    r = requests.get(object_url(server, KEY), headers={"Host": host, "Authorization": auth}, timeout=30)
    assert r.status_code == 403, r.text
    assert error_of(r)[0] == "RequestTimeTooSkewed"
    assert r.headers["Date"]  # Node's clock-skew correction reads it


def test_listed_header_missing_is_refused(server, stored):
    now = int(time.time())
    host = bucket_host(stored)
    auth = q_sign(SECRET_KEY, "GET", "/" + KEY, {}, {"host": host, "x-cos-meta-signed": "v"}, now - 60, now + 600)
    r = requests.get(object_url(server, KEY), headers={"Host": host, "Authorization": auth}, timeout=30)
    assert r.status_code == 403, r.text
    assert error_of(r)[0] in ("AccessDenied", "SignatureDoesNotMatch")


def test_unlisted_extra_header_is_not_covered(server, stored):
    """Headers present but not in q-header-list are simply unsigned (cos.md §1.5 server rule)."""
    now = int(time.time())
    host = bucket_host(stored)
    auth = q_sign(SECRET_KEY, "GET", "/" + KEY, {}, {"host": host}, now - 60, now + 600)
    r = requests.get(object_url(server, KEY),
                     headers={"Host": host, "Authorization": auth, "x-cos-meta-extra": "unsigned"}, timeout=30)
    assert r.status_code == 200, r.text
