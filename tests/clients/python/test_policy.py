"""Bucket policy with cos-python-sdk-v5 (spec cos-bucket.md §3):
put/get/delete_bucket_policy, the effect on anonymous requests over plain
HTTP (allowed on one prefix, refused on another), an explicit deny beating a
public-read ACL, and the server-wide default CORS rule of a server started
with ``--cors-default-origin``."""

import json

import pytest
import requests
from qcloud_cos import CosServiceError

from conftest import APPID, REGION, LocalCos, assert_error, bucket_host, make_client, service_error


def resource(bucket: str, pattern: str) -> str:
    return f"qcs::cos:{REGION}:uid/{APPID}:{bucket}/{pattern}"


def anon_get(server, bucket: str, key: str, method="GET"):
    return requests.request(method, f"{server.url}/{key}", headers={"Host": bucket_host(bucket)},
                            timeout=30)


def test_policy_put_get_delete(client, bucket):
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_policy(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchPolicy")
    policy = {
        "Statement": [{
            "Principal": {"qcs": ["qcs::cam::anyone:anyone"]},
            "Effect": "allow",
            "Action": ["name/cos:GetObject", "name/cos:HeadObject"],
            "Resource": [resource(bucket, "public/*")],
        }],
        "version": "2.0",
    }
    client.put_bucket_policy(Bucket=bucket, Policy=policy)
    got = client.get_bucket_policy(Bucket=bucket)
    assert json.loads(got["Policy"]) == policy
    # A JSON string works as well.
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    assert json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"]) == policy

    with pytest.raises(CosServiceError) as e:
        client.put_bucket_policy(Bucket=bucket, Policy='{"version": "2.0", "Statement": "nope"}')
    assert_error(service_error(e), 400, "MalformedPolicy")
    bad_action = json.loads(json.dumps(policy))
    bad_action["Statement"][0]["Action"] = ["s3:GetObject"]
    with pytest.raises(CosServiceError) as e:
        client.put_bucket_policy(Bucket=bucket, Policy=bad_action)
    assert_error(service_error(e), 400, "MalformedPolicy")
    assert json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"]) == policy, "unchanged"

    client.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(CosServiceError) as e:
        client.get_bucket_policy(Bucket=bucket)
    assert_error(service_error(e), 404, "NoSuchPolicy")


def test_policy_anonymous_read_on_one_prefix(client, bucket, server):
    client.put_object(Bucket=bucket, Key="public/a.txt", Body=b"open data")
    client.put_object(Bucket=bucket, Key="internal/b.txt", Body=b"closed data")
    assert anon_get(server, bucket, "public/a.txt").status_code == 403, "private bucket"

    client.put_bucket_policy(Bucket=bucket, Policy={
        "version": "2.0",
        "Statement": [{
            "Principal": {"qcs": ["qcs::cam::anyone:anyone"]},
            "Effect": "allow",
            "Action": ["name/cos:GetObject", "name/cos:HeadObject"],
            "Resource": [resource(bucket, "public/*")],
        }, {
            # The SDK's own example: a deny with an ip_not_equal condition. This
            # client connects from 127.0.0.1, outside 192.168.1.0/24.
            "Principal": {"qcs": ["qcs::cam::anyone:anyone"]},
            "Effect": "deny",
            "Action": ["name/cos:GetObject"],
            "Resource": [resource(bucket, "public/private/*")],
            "Condition": {"ip_not_equal": {"qcs:ip": ["192.168.1.0/24"]}},
        }],
    })
    ok = anon_get(server, bucket, "public/a.txt")
    assert ok.status_code == 200 and ok.content == b"open data"
    assert anon_get(server, bucket, "public/a.txt", "HEAD").status_code == 200
    refused = anon_get(server, bucket, "internal/b.txt")
    assert refused.status_code == 403
    assert "<Code>AccessDenied</Code>" in refused.text
    assert refused.headers.get("x-cos-request-id")
    client.put_object(Bucket=bucket, Key="public/private/c.txt", Body=b"c")
    assert anon_get(server, bucket, "public/private/c.txt").status_code == 403
    # Writes stay closed.
    put = requests.put(f"{server.url}/public/new.txt", data=b"x",
                       headers={"Host": bucket_host(bucket)}, timeout=30)
    assert put.status_code == 403
    # The signed client is unaffected.
    body = client.get_object(Bucket=bucket, Key="internal/b.txt")["Body"].get_raw_stream().read()
    assert body == b"closed data"

    client.delete_bucket_policy(Bucket=bucket)
    assert anon_get(server, bucket, "public/a.txt").status_code == 403, "private again at once"


def test_policy_deny_beats_public_read_acl(client, bucket, server):
    client.put_bucket_acl(Bucket=bucket, ACL="public-read")
    client.put_object(Bucket=bucket, Key="shared.txt", Body=b"shared")
    client.put_object(Bucket=bucket, Key="secret/key.pem", Body=b"secret")
    assert anon_get(server, bucket, "secret/key.pem").status_code == 200, "ACL grants"
    client.put_bucket_policy(Bucket=bucket, Policy={
        "version": "2.0",
        "Statement": [{
            "Principal": {"qcs": ["qcs::cam::anyone:anyone"]},
            "Effect": "deny",
            "Action": ["name/cos:GetObject"],
            "Resource": [resource(bucket, "secret/*")],
        }],
    })
    assert anon_get(server, bucket, "shared.txt").status_code == 200
    denied = anon_get(server, bucket, "secret/key.pem")
    assert denied.status_code == 403 and "<Code>AccessDenied</Code>" in denied.text
    # anyone includes signed callers: the owner's GetObject is denied too ...
    with pytest.raises(CosServiceError) as e:
        client.get_object(Bucket=bucket, Key="secret/key.pem")
    assert_error(service_error(e), 403, "AccessDenied")
    # ... but the owner keeps ?policy itself.
    client.delete_bucket_policy(Bucket=bucket)
    assert client.get_object(Bucket=bucket, Key="secret/key.pem")["Body"].get_raw_stream().read() == b"secret"


@pytest.fixture(scope="module")
def cors_server(log_dir):
    srv = LocalCos(["--cors-default-origin", "http://localhost:3000",
                    "--cors-default-origin", "http://127.0.0.1:*"], log_dir, "default-cors")
    yield srv
    srv.stop()


def test_default_cors_rule(cors_server):
    client = make_client(cors_server)
    bucket = f"corsdflt-{APPID}"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="k.txt", Body=b"hi")
    url = f"{cors_server.url}/k.txt"
    host = bucket_host(bucket)
    pre = requests.options(url, headers={
        "Host": host, "Origin": "http://localhost:3000",
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type,x-cos-meta-a",
    }, timeout=30)
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert pre.headers["Access-Control-Allow-Methods"] == "GET,PUT,POST,DELETE,HEAD"
    assert pre.headers["Access-Control-Allow-Headers"] == "content-type,x-cos-meta-a"
    assert pre.headers["Access-Control-Max-Age"] == "600"
    assert requests.options(url, headers={
        "Host": host, "Origin": "https://elsewhere.test", "Access-Control-Request-Method": "GET",
    }, timeout=30).status_code == 403
    # An actual request with an Origin (here refused: CORS grants no access)
    # still carries the headers, so the browser can read the error.
    resp = requests.get(url, headers={"Host": host, "Origin": "http://127.0.0.1:8080"}, timeout=30)
    assert resp.status_code == 403, "still private: CORS does not grant access"
    assert resp.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8080"
    assert "ETag" in resp.headers["Access-Control-Expose-Headers"]
    # A bucket's own rules replace the default.
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRule": [{
        "AllowedOrigin": ["https://app.example.com"], "AllowedMethod": ["GET"]}]})
    assert requests.options(url, headers={
        "Host": host, "Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET",
    }, timeout=30).status_code == 403
    client.delete_bucket_cors(Bucket=bucket)
    client.delete_object(Bucket=bucket, Key="k.txt")
    client.delete_bucket(Bucket=bucket)
