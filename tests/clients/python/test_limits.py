"""Request limits seen by cos-python-sdk-v5 (http/limits.rs): with
``--max-concurrent-requests 1`` and one slow upload holding the only slot,
the SDK's calls fail with CosServiceError 503 SlowDown (every field filled),
and succeed again once the slot is free.
"""

import threading
import time

import pytest
from qcloud_cos import CosServiceError

from conftest import APPID, LocalCos, Raw, assert_error, make_client, service_error

BUCKET = "limits-" + APPID


@pytest.fixture(scope="module")
def limited(log_dir):
    srv = LocalCos(["--bucket", BUCKET, "--max-concurrent-requests", "1"], log_dir, "limits")
    yield srv
    srv.stop()


class SlowUpload:
    """A signed PUT (chunked, SDK's own signer) whose body stops half-way until
    ``finish()``: it holds the only request slot meanwhile."""

    def __init__(self, srv, client, key):
        self.release = threading.Event()
        self.result = {}

        def body():
            yield b"12345"
            self.release.wait(30)
            yield b"67890"

        def run():
            try:
                self.result["resp"] = Raw(srv, client).request("PUT", BUCKET, key, data=body())
            except Exception as e:  # noqa: BLE001 - reported by finish()
                self.result["error"] = e

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        time.sleep(0.5)

    def finish(self):
        self.release.set()
        self.thread.join(30)
        assert "resp" in self.result, self.result
        return self.result["resp"]


def test_sdk_gets_slow_down_past_the_concurrency_limit(limited):
    c = make_client(limited)
    holder = SlowUpload(limited, c, "held.txt")
    try:
        with pytest.raises(CosServiceError) as e:
            c.put_object(Bucket=BUCKET, Key="other.txt", Body=b"hello")
        assert_error(service_error(e), 503, "SlowDown")
        with pytest.raises(CosServiceError) as e:
            c.head_object(Bucket=BUCKET, Key="held.txt")
        err = service_error(e)
        assert err.get_status_code() == 503
        assert err.get_request_id()
    finally:
        # Finish the held upload: the slot is free again.
        resp = holder.finish()
    assert resp.status_code == 200, resp.text
    c.put_object(Bucket=BUCKET, Key="other.txt", Body=b"hello")
    body = c.get_object(Bucket=BUCKET, Key="held.txt")["Body"].get_raw_stream().read()
    assert body == b"1234567890"
