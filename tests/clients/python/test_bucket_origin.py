"""Back-to-origin rules with cos-python-sdk-v5 (spec cos-bucket.md §11):
put/get/delete_bucket_origin, and their effect against a small HTTP origin on
127.0.0.1 (a localcos started with --origin-allow-private): redirect answers
302, proxy relays the origin's bytes without storing them, mirror stores the
object so the next GET is served locally."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from qcloud_cos import CosServiceError

from conftest import (LocalCos, Raw, assert_error, make_client, md5_hex, read_body,
                      service_error, unique_bucket_name)


class _Origin(BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):
        type(self).seen.append((self.path, dict(self.headers)))
        if "/missing/" in self.path:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = f"origin bytes of {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/x-origin")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def origin():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd
    httpd.shutdown()


@pytest.fixture(scope="module")
def origin_server(log_dir):
    srv = LocalCos(["--origin-allow-private", "--origin-timeout-seconds", "5"], log_dir, "origin")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def oclient(origin_server):
    return make_client(origin_server)


@pytest.fixture
def obucket(oclient):
    name = unique_bucket_name()
    oclient.create_bucket(Bucket=name)
    yield name


def _rules(origin_host):
    return {
        "OriginRule": [
            {
                "RulePriority": "1",
                "OriginType": "Mirror",
                "OriginCondition": {"HTTPStatusCode": "404", "Prefix": "m/"},
                "OriginParameter": {
                    "Protocol": "HTTP",
                    "FollowQueryString": "true",
                    "HttpHeader": {"NewHttpHeaders": {"Header": [{"Key": "x-from", "Value": "cos"}]}},
                },
                "OriginInfo": {"HostInfo": {"HostName": origin_host}},
            },
            {
                "RulePriority": "2",
                "OriginType": "Proxy",
                "OriginCondition": {"HTTPStatusCode": "404", "Prefix": "p/"},
                "OriginParameter": {"Protocol": "HTTP"},
                "OriginInfo": {"HostInfo": {"HostName": origin_host}},
            },
            {
                "RulePriority": "3",
                "OriginType": "Redirect",
                "OriginCondition": {"HTTPStatusCode": "404", "Prefix": "r/"},
                "OriginParameter": {"Protocol": "HTTPS", "HttpRedirectCode": "301"},
                "OriginInfo": {"HostInfo": {"HostName": "203.0.113.9"}},
            },
        ]
    }


def test_bucket_origin_put_get_delete(oclient, obucket, origin):
    with pytest.raises(CosServiceError) as e:
        oclient.get_bucket_origin(Bucket=obucket)
    assert_error(service_error(e), 404, "NoSuchOriginConfiguration")
    host = f"127.0.0.1:{origin.server_address[1]}"
    oclient.put_bucket_origin(Bucket=obucket, OriginConfiguration=_rules(host))
    got = oclient.get_bucket_origin(Bucket=obucket)
    rules = got["OriginRule"]
    assert [r["OriginType"] for r in rules] == ["Mirror", "Proxy", "Redirect"]
    assert rules[0]["OriginInfo"]["HostInfo"]["HostName"] == host
    # xml_to_dict makes a single element a dict.
    assert rules[0]["OriginParameter"]["HttpHeader"]["NewHttpHeaders"]["Header"] == {
        "Key": "x-from", "Value": "cos"
    }
    assert rules[2]["OriginParameter"]["HttpRedirectCode"] == "301"
    oclient.delete_bucket_origin(Bucket=obucket)
    with pytest.raises(CosServiceError) as e:
        oclient.get_bucket_origin(Bucket=obucket)
    assert_error(service_error(e), 404, "NoSuchOriginConfiguration")


def test_bucket_origin_validation(oclient, obucket, client, bucket):
    bad = _rules("127.0.0.1:1")
    bad["OriginRule"][1]["OriginType"] = "Copy"
    with pytest.raises(CosServiceError) as e:
        oclient.put_bucket_origin(Bucket=obucket, OriginConfiguration=bad)
    assert_error(service_error(e), 400, "InvalidArgument")
    # The main server runs without --origin-allow-private: loopback refused.
    with pytest.raises(CosServiceError) as e:
        client.put_bucket_origin(Bucket=bucket, OriginConfiguration=_rules("127.0.0.1:8080"))
    assert_error(service_error(e), 400, "InvalidArgument")


def test_bucket_origin_effects(oclient, obucket, origin, origin_server):
    host = f"127.0.0.1:{origin.server_address[1]}"
    oclient.put_bucket_origin(Bucket=obucket, OriginConfiguration=_rules(host))
    before = len(_Origin.seen)

    # Proxy: the origin's bytes, nothing stored.
    body = read_body(oclient.get_object(Bucket=obucket, Key="p/a.txt"))
    assert body == b"origin bytes of /p/a.txt"
    assert oclient.list_objects(Bucket=obucket, Prefix="p/").get("Contents") is None

    # Mirror: served, then stored; the next GET does not reach the origin.
    resp = oclient.get_object(Bucket=obucket, Key="m/b.txt")
    assert read_body(resp) == b"origin bytes of /m/b.txt"
    assert _Origin.seen[-1][1].get("x-from") == "cos"
    for _ in range(100):
        if oclient.list_objects(Bucket=obucket, Prefix="m/").get("Contents"):
            break
        time.sleep(0.02)
    n = len(_Origin.seen)
    head = oclient.head_object(Bucket=obucket, Key="m/b.txt")
    assert head["ETag"] == f'"{md5_hex(b"origin bytes of /m/b.txt")}"'
    assert head["Content-Type"] == "text/x-origin"
    assert read_body(oclient.get_object(Bucket=obucket, Key="m/b.txt")) == b"origin bytes of /m/b.txt"
    assert len(_Origin.seen) == n, "served locally"
    assert len(_Origin.seen) - before == 2

    # Redirect: 301 with the origin URL (requests without following it).
    raw = Raw(origin_server, oclient)
    r = raw.request("GET", obucket, "r/c d.txt")
    assert r.status_code == 301
    assert r.headers["Location"] == "https://203.0.113.9/r/c%20d.txt"

    # Outside every prefix, and the origin's own 404: NoSuchKey.
    for key in ["other.txt", "p/missing/x"]:
        with pytest.raises(CosServiceError) as e:
            oclient.get_object(Bucket=obucket, Key=key)
        assert_error(service_error(e), 404, "NoSuchKey")
