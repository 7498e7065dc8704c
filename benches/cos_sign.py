"""COS q-sign (sha1) for the Python bench scripts: a request that signs only its Host.

Standard library only. `python3 benches/<script>.py` puts this directory on the import path.
"""
import hashlib
import hmac
import time
import urllib.parse


def _encode(s):
    return urllib.parse.quote(s, safe="-_.~")


def fields(secret_id, secret_key, method, path, host):
    """The signature's seven fields, valid from a minute ago for a day."""
    t = f"{int(time.time()) - 60};{int(time.time()) + 86400}"
    sign_key = hmac.new(secret_key.encode(), t.encode(), hashlib.sha1).hexdigest()
    http_string = f"{method.lower()}\n{path}\n\nhost={_encode(host)}\n"
    sts = f"sha1\n{t}\n{hashlib.sha1(http_string.encode()).hexdigest()}\n"
    sig = hmac.new(sign_key.encode(), sts.encode(), hashlib.sha1).hexdigest()
    return [("q-sign-algorithm", "sha1"), ("q-ak", secret_id), ("q-sign-time", t), ("q-key-time", t),
            ("q-header-list", "host"), ("q-url-param-list", ""), ("q-signature", sig)]


def header(secret_id, secret_key, method, path, host):
    """The `Authorization` header's value."""
    return "&".join(f"{k}={v}" for k, v in fields(secret_id, secret_key, method, path, host))


def query(secret_id, secret_key, method, path, host):
    """The pre-signed URL's query string."""
    return "&".join(f"{k}={_encode(v)}" for k, v in fields(secret_id, secret_key, method, path, host))
