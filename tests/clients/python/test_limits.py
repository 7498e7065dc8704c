"""Request limits seen by cos-python-sdk-v5 (http/limits.rs): with
``--max-concurrent-requests 1`` and one slow upload holding the only slot,
the SDK's calls fail with CosServiceError 503 SlowDown (every field filled),
and succeed again once the slot is free.
"""

import socket
import time
from urllib.parse import urlsplit

import pytest
from qcloud_cos import CosServiceError

from conftest import APPID, LocalCos, assert_error, bucket_host, make_client, service_error

BUCKET = "limits-" + APPID


@pytest.fixture(scope="module")
def limited(log_dir):
    srv = LocalCos(["--bucket", BUCKET, "--max-concurrent-requests", "1"], log_dir, "limits")
    yield srv
    srv.stop()


def hold_slot(srv, client, key):
    """A pre-signed PUT whose body stops half-way: it holds the request slot."""
    url = client.get_presigned_url(Method="PUT", Bucket=BUCKET, Key=key, Expired=300)
    target = urlsplit(url)
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(
        (
            f"PUT {target.path}?{target.query} HTTP/1.1\r\n"
            f"Host: {bucket_host(BUCKET)}\r\nContent-Length: 10\r\n\r\n12345"
        ).encode()
    )
    time.sleep(0.3)
    return s


def test_sdk_gets_slow_down_past_the_concurrency_limit(limited):
    c = make_client(limited)
    holder = hold_slot(limited, c, "held.txt")
    try:
        with pytest.raises(CosServiceError) as e:
            c.put_object(Bucket=BUCKET, Key="other.txt", Body=b"hello")
        assert_error(service_error(e), 503, "SlowDown")
        with pytest.raises(CosServiceError) as e:
            c.head_object(Bucket=BUCKET, Key="held.txt")
        err = service_error(e)
        assert err.get_status_code() == 503
        assert err.get_request_id()
        # Finish the held upload: the slot is free again.
        holder.sendall(b"67890")
        head = holder.recv(4096).decode()
        assert head.startswith("HTTP/1.1 200"), head
    finally:
        holder.close()
    c.put_object(Bucket=BUCKET, Key="other.txt", Body=b"hello")
    body = c.get_object(Bucket=BUCKET, Key="held.txt")["Body"].get_raw_stream().read()
    assert body == b"1234567890"
