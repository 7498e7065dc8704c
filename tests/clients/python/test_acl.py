"""Bucket and object ACLs with cos-python-sdk-v5, anonymous access by ACL, and
scoped / temporary credentials (cos.md §3.4, §6A.10, §6A.11).

Anonymous access is exercised both with the SDK (``Anonymous=True``) and with
plain ``requests`` carrying nothing but a Host header, as a browser would.
"""

import textwrap

import pytest
import requests
from qcloud_cos import CosServiceError

from conftest import (
    APPID,
    LocalCos,
    assert_error,
    bucket_host,
    make_client,
    object_url,
    read_body,
    service_error,
)

ALL_USERS = "http://cam.qcloud.com/groups/global/AllUsers"
PUBLIC_READ = {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}
PUBLIC_WRITE = {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "WRITE"}


@pytest.fixture(scope="module")
def anon(server):
    return make_client(server, SecretId=None, SecretKey=None, Anonymous=True)


def plain_get(server, bucket, key, **kw):
    return requests.get(object_url(server, key), headers={"Host": bucket_host(bucket)}, timeout=30, **kw)


def test_bucket_acl_defaults_to_private(client, bucket):
    acl = client.get_bucket_acl(Bucket=bucket)
    assert acl["CannedACL"] == "private"
    grants = acl["AccessControlList"]["Grant"]
    grants = grants if isinstance(grants, list) else [grants]
    assert grants == [{
        "Grantee": {"Type": "CanonicalUser", "ID": acl["Owner"]["ID"], "DisplayName": acl["Owner"]["ID"]},
        "Permission": "FULL_CONTROL",
    }]
    assert acl["Owner"]["ID"] == f"qcs::cam::uin/{APPID}:uin/{APPID}"


def test_public_read_bucket_serves_anonymous_reads(server, client, anon, bucket):
    client.put_object(Bucket=bucket, Key="page.html", Body=b"<h1>hi</h1>", ContentType="text/html")
    r = plain_get(server, bucket, "page.html")
    assert r.status_code == 403
    with pytest.raises(CosServiceError) as ei:
        anon.get_object(Bucket=bucket, Key="page.html")
    assert_error(service_error(ei), 403, "AccessDenied")

    client.put_bucket_acl(Bucket=bucket, ACL="public-read")
    acl = client.get_bucket_acl(Bucket=bucket)
    assert acl["CannedACL"] == "public-read"
    assert PUBLIC_READ in acl["AccessControlList"]["Grant"]

    r = plain_get(server, bucket, "page.html")
    assert r.status_code == 200, r.text
    assert r.content == b"<h1>hi</h1>"
    assert r.headers["Content-Type"] == "text/html"
    assert read_body(anon.get_object(Bucket=bucket, Key="page.html")) == b"<h1>hi</h1>"
    assert anon.head_object(Bucket=bucket, Key="page.html")["Content-Length"] == "11"
    assert [o["Key"] for o in anon.list_objects(Bucket=bucket)["Contents"]] == ["page.html"]

    # Reading is all: no anonymous writes, no ACL reads, no response-* overrides.
    with pytest.raises(CosServiceError) as ei:
        anon.put_object(Bucket=bucket, Key="x", Body=b"x")
    assert_error(service_error(ei), 403, "AccessDenied")
    with pytest.raises(CosServiceError) as ei:
        anon.get_bucket_acl(Bucket=bucket)
    assert_error(service_error(ei), 403, "AccessDenied")
    r = plain_get(server, bucket, "page.html", params={"response-content-type": "text/plain"})
    assert r.status_code == 403
    assert "<Code>AccessDenied</Code>" in r.text
    with pytest.raises(CosServiceError) as ei:
        anon.get_object(Bucket=bucket, Key="page.html", ResponseContentDisposition="attachment")
    assert_error(service_error(ei), 403, "AccessDenied")
    # Missing keys are a plain 404 once reading is public.
    r = plain_get(server, bucket, "missing")
    assert r.status_code == 404
    assert "<Code>NoSuchKey</Code>" in r.text


def test_public_read_write_bucket_takes_anonymous_writes(client, anon, bucket):
    client.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    acl = client.get_bucket_acl(Bucket=bucket)
    assert acl["CannedACL"] == "public-read-write"
    assert PUBLIC_WRITE in acl["AccessControlList"]["Grant"]
    anon.put_object(Bucket=bucket, Key="drop.txt", Body=b"anonymous upload")
    assert read_body(client.get_object(Bucket=bucket, Key="drop.txt")) == b"anonymous upload"
    anon.delete_object(Bucket=bucket, Key="drop.txt")
    with pytest.raises(CosServiceError) as ei:
        client.head_object(Bucket=bucket, Key="drop.txt")
    assert service_error(ei).get_status_code() == 404
    with pytest.raises(CosServiceError) as ei:
        anon.delete_bucket(Bucket=bucket)
    assert_error(service_error(ei), 403, "AccessDenied")
    with pytest.raises(CosServiceError) as ei:
        anon.put_bucket_acl(Bucket=bucket, ACL="private")
    assert_error(service_error(ei), 403, "AccessDenied")


def test_object_acl(server, client, anon, bucket):
    client.put_object(Bucket=bucket, Key="obj", Body=b"object bytes")
    acl = client.get_object_acl(Bucket=bucket, Key="obj")
    assert acl["CannedACL"] == "default"

    client.put_object_acl(Bucket=bucket, Key="obj", ACL="public-read")
    acl = client.get_object_acl(Bucket=bucket, Key="obj")
    assert acl["CannedACL"] == "public-read"
    assert read_body(anon.get_object(Bucket=bucket, Key="obj")) == b"object bytes"
    assert plain_get(server, bucket, "obj").status_code == 200

    # A private object stays private in a public bucket; default follows the bucket.
    client.put_bucket_acl(Bucket=bucket, ACL="public-read")
    client.put_object_acl(Bucket=bucket, Key="obj", ACL="private")
    assert client.get_object_acl(Bucket=bucket, Key="obj")["CannedACL"] == "private"
    assert plain_get(server, bucket, "obj").status_code == 403
    client.put_object_acl(Bucket=bucket, Key="obj", ACL="default")
    assert client.get_object_acl(Bucket=bucket, Key="obj")["CannedACL"] == "default"
    assert plain_get(server, bucket, "obj").status_code == 200

    with pytest.raises(CosServiceError) as ei:
        client.get_object_acl(Bucket=bucket, Key="missing")
    assert_error(service_error(ei), 404, "NoSuchKey")


def test_put_object_with_acl(server, client, bucket):
    client.put_object(Bucket=bucket, Key="shared.txt", Body=b"shared", ACL="public-read")
    assert client.get_object_acl(Bucket=bucket, Key="shared.txt")["CannedACL"] == "public-read"
    r = plain_get(server, bucket, "shared.txt")
    assert r.status_code == 200
    assert r.content == b"shared"
    # A copy starts from its own ACL (default here), not the source's.
    client.copy_object(Bucket=bucket, Key="copy.txt", CopySource={
        "Bucket": bucket, "Key": "shared.txt", "Region": "ap-guangzhou"})
    assert client.get_object_acl(Bucket=bucket, Key="copy.txt")["CannedACL"] == "default"
    assert plain_get(server, bucket, "copy.txt").status_code == 403


def test_grant_headers_and_document_round_trip(client, bucket):
    user = "qcs::cam::uin/100000000001:uin/100000000001"
    client.put_bucket_acl(Bucket=bucket, ACL="public-read", GrantFullControl=f'id="{user}"',
                          GrantRead='id="100000000002"')
    acl = client.get_bucket_acl(Bucket=bucket)
    assert acl["CannedACL"] == "public-read"
    ids = [g["Grantee"].get("ID") for g in acl["AccessControlList"]["Grant"]]
    assert user in ids
    assert "qcs::cam::uin/100000000002:uin/100000000002" in ids

    # What GET returned goes back unchanged as a document.
    client.put_object(Bucket=bucket, Key="doc", Body=b"d")
    policy = {
        "Owner": acl["Owner"],
        "AccessControlList": {"Grant": [
            {"Grantee": {"@xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                         "@xsi:type": "CanonicalUser", "ID": user}, "Permission": "WRITE_ACP"},
            {"Grantee": {"@xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                         "@xsi:type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
        ]},
    }
    client.put_object_acl(Bucket=bucket, Key="doc", AccessControlPolicy=policy)
    got = client.get_object_acl(Bucket=bucket, Key="doc")
    assert got["CannedACL"] == "public-read"
    assert got["AccessControlList"]["Grant"] == [
        {"Grantee": {"Type": "CanonicalUser", "ID": user, "DisplayName": user}, "Permission": "WRITE_ACP"},
        PUBLIC_READ,
    ]


def test_acl_errors(client, raw, bucket):
    with pytest.raises(CosServiceError) as ei:
        client.put_bucket_acl(Bucket=bucket, ACL="public-read-writ")
    assert_error(service_error(ei), 400, "InvalidArgument")
    with pytest.raises(CosServiceError) as ei:
        client.put_bucket_acl(Bucket=bucket, GrantRead="qcs::cam::uin/1:uin/1")
    assert_error(service_error(ei), 400, "InvalidArgument")
    with pytest.raises(CosServiceError) as ei:
        client.put_bucket_acl(Bucket=bucket, ACL="private", AccessControlPolicy={
            "AccessControlList": {"Grant": [{"Grantee": {"ID": "x"}, "Permission": "READ"}]}})
    assert_error(service_error(ei), 400, "UnexpectedContent")
    r = raw.request("PUT", bucket, params={"acl": ""}, data=b"<AccessControlPolicy><oops>")
    assert r.status_code == 400
    assert "<Code>MalformedXML</Code>" in r.text
    with pytest.raises(CosServiceError) as ei:
        client.put_object_acl(Bucket=bucket, Key="missing", ACL="private")
    assert_error(service_error(ei), 404, "NoSuchKey")


# ---------------------------------------------------------------------------
# Scoped and temporary credentials (a server of their own)

RO_ID, RW_ID, TMP_ID = "AKIDpyreadonly000001", "AKIDpyreadwrite00001", "AKIDpytemporary00001"
SCOPED_KEY = "python-scoped-secret-key"
TOKEN = "python-session-token-0123456789"
EXPIRED_ID = "AKIDpyexpiredtemp001"


@pytest.fixture(scope="module")
def scoped_server(log_dir):
    path = log_dir / "scoped.toml"
    path.write_text(textwrap.dedent(f"""
        buckets = ["alpha", "beta"]

        [[credentials]]
        secret_id = "{RO_ID}"
        secret_key = "{SCOPED_KEY}"
        buckets = ["alpha"]
        access = "read-only"

        [[credentials]]
        secret_id = "{RW_ID}"
        secret_key = "{SCOPED_KEY}"
        buckets = ["alpha"]
        access = "read-write"

        [[temporary_credentials]]
        secret_id = "{TMP_ID}"
        secret_key = "{SCOPED_KEY}"
        token = "{TOKEN}"
        buckets = ["beta"]

        [[temporary_credentials]]
        secret_id = "{EXPIRED_ID}"
        secret_key = "{SCOPED_KEY}"
        token = "{TOKEN}"
        expires = "2020-01-01T00:00:00Z"
    """))
    srv = LocalCos(["--config", str(path)], log_dir, "scoped")
    yield srv
    srv.stop()


ALPHA, BETA = f"alpha-{APPID}", f"beta-{APPID}"


def test_read_only_and_read_write_scopes(scoped_server):
    owner = make_client(scoped_server)
    owner.put_object(Bucket=ALPHA, Key="a.txt", Body=b"alpha data")
    owner.put_object(Bucket=BETA, Key="b.txt", Body=b"beta data")

    ro = make_client(scoped_server, SecretId=RO_ID, SecretKey=SCOPED_KEY)
    assert read_body(ro.get_object(Bucket=ALPHA, Key="a.txt")) == b"alpha data"
    assert ro.get_bucket_acl(Bucket=ALPHA)["CannedACL"] == "private"
    for call in (
        lambda: ro.put_object(Bucket=ALPHA, Key="new", Body=b"x"),
        lambda: ro.delete_object(Bucket=ALPHA, Key="a.txt"),
        lambda: ro.put_bucket_acl(Bucket=ALPHA, ACL="public-read"),
        lambda: ro.get_object(Bucket=BETA, Key="b.txt"),
        lambda: ro.list_objects(Bucket=BETA),
    ):
        with pytest.raises(CosServiceError) as ei:
            call()
        assert_error(service_error(ei), 403, "AccessDenied")

    rw = make_client(scoped_server, SecretId=RW_ID, SecretKey=SCOPED_KEY)
    rw.put_object(Bucket=ALPHA, Key="new", Body=b"written by rw")
    assert read_body(owner.get_object(Bucket=ALPHA, Key="new")) == b"written by rw"
    with pytest.raises(CosServiceError) as ei:
        rw.put_object(Bucket=BETA, Key="new", Body=b"x")
    assert_error(service_error(ei), 403, "AccessDenied")


def test_scoped_key_lists_only_its_buckets(scoped_server):
    ro = make_client(scoped_server, SecretId=RO_ID, SecretKey=SCOPED_KEY, IP=None, Port=None,
                     ServiceDomain=scoped_server.endpoint)
    buckets = ro.list_buckets()["Buckets"]["Bucket"]
    buckets = buckets if isinstance(buckets, list) else [buckets]
    assert [b["Name"] for b in buckets] == [ALPHA]
    owner = make_client(scoped_server, IP=None, Port=None, ServiceDomain=scoped_server.endpoint)
    assert sorted(b["Name"] for b in owner.list_buckets()["Buckets"]["Bucket"]) == [ALPHA, BETA]


def test_temporary_credentials(scoped_server):
    tmp = make_client(scoped_server, SecretId=TMP_ID, SecretKey=SCOPED_KEY, Token=TOKEN)
    tmp.put_object(Bucket=BETA, Key="tmp.txt", Body=b"temporary")
    assert read_body(tmp.get_object(Bucket=BETA, Key="tmp.txt")) == b"temporary"
    # Outside its scope.
    with pytest.raises(CosServiceError) as ei:
        tmp.get_object(Bucket=ALPHA, Key="a.txt")
    assert_error(service_error(ei), 403, "AccessDenied")
    # Without the token, or with another one: InvalidAccessKeyId.
    for token in (None, "not-the-token"):
        c = make_client(scoped_server, SecretId=TMP_ID, SecretKey=SCOPED_KEY, Token=token)
        with pytest.raises(CosServiceError) as ei:
            c.get_object(Bucket=BETA, Key="tmp.txt")
        assert_error(service_error(ei), 403, "InvalidAccessKeyId")
    # Past its expiry: 400 ExpiredToken.
    expired = make_client(scoped_server, SecretId=EXPIRED_ID, SecretKey=SCOPED_KEY, Token=TOKEN)
    with pytest.raises(CosServiceError) as ei:
        expired.get_object(Bucket=BETA, Key="tmp.txt")
    assert_error(service_error(ei), 400, "ExpiredToken")
