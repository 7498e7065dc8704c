"""Stored keys: pairs made by `localcos keys` (online, against the running
server) used by cos-python-sdk-v5, with their scope, read-only permission,
revocation and rotation."""

import json
import subprocess

import pytest
from qcloud_cos import CosServiceError

from conftest import FIXED_BUCKET, SECRET_ID, SECRET_KEY, clean_env, localcos_bin, make_client


def keys(server, *args, ok=True):
    proc = subprocess.run(
        [str(localcos_bin()), "keys", "--url", server.url, *args],
        env=clean_env(LOCALCOS_SECRET_ID=SECRET_ID, LOCALCOS_SECRET_KEY=SECRET_KEY),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode == 0) == ok, proc.stderr
    return proc


def add(server, *args):
    return json.loads(keys(server, "add", "--json", *args).stdout)


def client_for(server, created):
    return make_client(server, SecretId=created["secret_id"], SecretKey=created["secret_key"])


def refused(call, status, code):
    """`code=None`: a HEAD, whose error has no body to name one."""
    with pytest.raises(CosServiceError) as e:
        call()
    assert e.value.get_status_code() == status
    if code:
        assert e.value.get_error_code() == code
    assert e.value.get_request_id()


def test_key_made_by_cli_works_at_once_and_is_refused_after_revoke(server, bucket):
    created = add(server, "--bucket", FIXED_BUCKET, "--description", "python sdk")
    assert created["secret_id"].startswith("AKID")
    c = client_for(server, created)
    c.put_object(Bucket=FIXED_BUCKET, Key="keys/stored.txt", Body=b"stored key")
    body = c.get_object(Bucket=FIXED_BUCKET, Key="keys/stored.txt")["Body"].get_raw_stream().read()
    assert body == b"stored key"
    # Scoped to FIXED_BUCKET: another bucket is AccessDenied.
    refused(lambda: c.list_objects(Bucket=bucket), 403, "AccessDenied")
    refused(lambda: c.put_object(Bucket=bucket, Key="x", Body=b"x"), 403, "AccessDenied")
    # `list` shows it without the secret.
    listed = keys(server, "list").stdout
    assert created["secret_id"] in listed and created["secret_key"] not in listed

    keys(server, "revoke", created["secret_id"])
    refused(lambda: c.head_object(Bucket=FIXED_BUCKET, Key="keys/stored.txt"), 403, None)
    refused(lambda: c.get_object(Bucket=FIXED_BUCKET, Key="keys/stored.txt"), 403, "InvalidAccessKeyId")


def test_read_only_key(server, client):
    client.put_object(Bucket=FIXED_BUCKET, Key="keys/ro.txt", Body=b"read me")
    c = client_for(server, add(server, "--read-only"))
    body = c.get_object(Bucket=FIXED_BUCKET, Key="keys/ro.txt")["Body"].get_raw_stream().read()
    assert body == b"read me"
    assert c.list_objects(Bucket=FIXED_BUCKET, Prefix="keys/ro")["Contents"][0]["Key"] == "keys/ro.txt"
    refused(lambda: c.put_object(Bucket=FIXED_BUCKET, Key="keys/ro.txt", Body=b"no"), 403, "AccessDenied")
    refused(lambda: c.delete_object(Bucket=FIXED_BUCKET, Key="keys/ro.txt"), 403, "AccessDenied")


def test_rotation(server, client):
    client.put_object(Bucket=FIXED_BUCKET, Key="keys/rot.txt", Body=b"r")
    old = add(server)
    new = json.loads(keys(server, "rotate", "--json", old["secret_id"]).stdout)
    assert new["rotated_from"] == old["secret_id"]
    for created in (old, new):
        assert client_for(server, created).head_object(Bucket=FIXED_BUCKET, Key="keys/rot.txt")
    # grace 0: the replaced key stops at once, its successor keeps working.
    newer = json.loads(
        keys(server, "rotate", "--json", new["secret_id"], "--grace-seconds", "0").stdout
    )
    refused(
        lambda: client_for(server, new).get_object(Bucket=FIXED_BUCKET, Key="keys/rot.txt"),
        403,
        "InvalidAccessKeyId",
    )
    assert client_for(server, newer).head_object(Bucket=FIXED_BUCKET, Key="keys/rot.txt")


def test_stored_keys_cannot_manage_keys(server):
    created = add(server)
    proc = subprocess.run(
        [str(localcos_bin()), "keys", "--url", server.url, "list"],
        env=clean_env(
            LOCALCOS_SECRET_ID=created["secret_id"], LOCALCOS_SECRET_KEY=created["secret_key"]
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "403 AccessDenied" in proc.stderr
