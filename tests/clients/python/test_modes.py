"""The other ways of pointing cos-python-sdk-v5 at localcos (cos.md §2):
proxy mode, Domain= mode against a server with --default-bucket, and
path-style requests on a bare host."""

import os
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
import requests
from qcloud_cos.cos_auth import CosS3Auth

from conftest import (DEFAULT_BUCKET, FIXED_BUCKET, REGION, crc64, make_client, md5_hex,
                      read_body)


# ---------------------------------------------------------------- proxy mode

def test_proxy_mode_round_trip(proxy_client, client, bucket):
    data = os.urandom(5000)
    key = "proxy/dir/k e y+1.bin"
    put = proxy_client.put_object(Bucket=bucket, Body=data, Key=key, Metadata={"x-cos-meta-via": "proxy"})
    assert put["ETag"] == f'"{md5_hex(data)}"'
    got = proxy_client.get_object(Bucket=bucket, Key=key)
    assert read_body(got) == data
    assert got["x-cos-meta-via"] == "proxy"
    # same object through IP mode
    assert read_body(client.get_object(Bucket=bucket, Key=key)) == data
    keys = [c["Key"] for c in proxy_client.list_objects(Bucket=bucket)["Contents"]]
    assert keys == [key]
    head = proxy_client.head_object(Bucket=bucket, Key=key)
    assert head["x-cos-hash-crc64ecma"] == str(crc64(data))
    proxy_client.delete_object(Bucket=bucket, Key=key)
    assert not proxy_client.object_exists(Bucket=bucket, Key=key)


def test_proxy_mode_bucket_ops(proxy_client):
    from conftest import unique_bucket_name

    name = unique_bucket_name()
    proxy_client.create_bucket(Bucket=name)
    assert proxy_client.bucket_exists(Bucket=name)
    proxy_client.delete_bucket(Bucket=name)
    assert not proxy_client.bucket_exists(Bucket=name)


def test_proxy_mode_dot_segments_survive(proxy_client, bucket):
    proxy_client.put_object(Bucket=bucket, Body=b"dots", Key="a/./b/../c.txt")
    keys = [c["Key"] for c in proxy_client.list_objects(Bucket=bucket)["Contents"]]
    assert keys == ["a/./b/../c.txt"]


# ------------------------------------------------------- Domain= / default bucket

@pytest.fixture(scope="module")
def domain_client(default_bucket_server):
    return make_client(default_bucket_server, IP=None, Port=None, Domain=default_bucket_server.endpoint)


def test_domain_mode_round_trip(domain_client):
    data = b"served from the default bucket"
    key = "domain mode/file+1.txt"
    put = domain_client.put_object(Bucket=DEFAULT_BUCKET, Body=data, Key=key, ContentType="text/plain")
    assert put["ETag"] == f'"{md5_hex(data)}"'
    got = domain_client.get_object(Bucket=DEFAULT_BUCKET, Key=key)
    assert read_body(got) == data
    assert got["Content-Type"] == "text/plain"
    head = domain_client.head_object(Bucket=DEFAULT_BUCKET, Key=key)
    assert head["Content-Length"] == str(len(data))
    keys = [c["Key"] for c in domain_client.list_objects(Bucket=DEFAULT_BUCKET, Prefix="domain mode/")["Contents"]]
    assert keys == [key]
    domain_client.delete_object(Bucket=DEFAULT_BUCKET, Key=key)
    assert not domain_client.object_exists(Bucket=DEFAULT_BUCKET, Key=key)


def test_domain_mode_is_the_same_bucket_as_virtual_hosted(default_bucket_server, domain_client):
    ip_client = make_client(default_bucket_server)
    ip_client.put_object(Bucket=DEFAULT_BUCKET, Body=b"vh", Key="shared.txt")
    assert read_body(domain_client.get_object(Bucket=DEFAULT_BUCKET, Key="shared.txt")) == b"vh"
    ip_client.delete_object(Bucket=DEFAULT_BUCKET, Key="shared.txt")


def test_domain_mode_presigned_url(default_bucket_server, domain_client):
    domain_client.put_object(Bucket=DEFAULT_BUCKET, Body=b"presigned via domain", Key="p/q r.txt")
    url = domain_client.get_presigned_download_url(Bucket=DEFAULT_BUCKET, Key="p/q r.txt", Expired=120)
    assert url.startswith(default_bucket_server.url + "/")
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b"presigned via domain"
    expired = domain_client.get_presigned_download_url(Bucket=DEFAULT_BUCKET, Key="p/q r.txt", Expired=-10)
    r = requests.get(expired, timeout=30)
    assert r.status_code == 403
    root = ET.fromstring(r.content)
    assert (root.findtext("Code"), root.findtext("Message")) == ("AccessDenied", "Request has expired")
    domain_client.delete_object(Bucket=DEFAULT_BUCKET, Key="p/q r.txt")


def test_ip_mode_presigned_url_with_default_bucket(default_bucket_server):
    """IP-mode pre-signed URLs carry Host 127.0.0.1:PORT (cos.md §2 H4)."""
    ip_client = make_client(default_bucket_server)
    ip_client.put_object(Bucket=DEFAULT_BUCKET, Body=b"ip presign", Key="ip.txt")
    url = ip_client.get_presigned_download_url(Bucket=DEFAULT_BUCKET, Key="ip.txt")
    assert url.startswith(default_bucket_server.url + "/ip.txt?")
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b"ip presign"
    ip_client.delete_object(Bucket=DEFAULT_BUCKET, Key="ip.txt")


def test_service_host_through_proxy_on_default_bucket_server(default_bucket_server):
    """With a default bucket the bare host is that bucket, so GET Service needs the
    service host name: here service.cos.myqcloud.com reached through localcos as proxy."""
    svc = make_client(default_bucket_server, IP=None, Port=None, ServiceDomain="service.cos.myqcloud.com",
                      Proxies={"http": default_bucket_server.url})
    names = [b["Name"] for b in svc.list_buckets()["Buckets"]["Bucket"]]
    assert DEFAULT_BUCKET in names


# ----------------------------------------------------------------- path-style

def path_style(server, method, bucket, key="", data=None, headers=None):
    conf = make_client(server).get_conf()
    path = "/" + bucket + ("/" + key if key else "/")
    url = server.url + quote(path.encode(), safe="/-_.~")
    return requests.request(method, url, data=data, headers=headers or {},
                            auth=CosS3Auth(conf, path), timeout=30)


def test_path_style_object_round_trip(server, client):
    key = "path style/obj+1.txt"
    r = path_style(server, "PUT", FIXED_BUCKET, key, data=b"path-style body")
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == f'"{md5_hex(b"path-style body")}"'
    r = path_style(server, "GET", FIXED_BUCKET, key)
    assert r.status_code == 200, r.text
    assert r.content == b"path-style body"
    # it is the same object as the virtual-hosted one
    assert read_body(client.get_object(Bucket=FIXED_BUCKET, Key=key)) == b"path-style body"
    r = path_style(server, "DELETE", FIXED_BUCKET, key)
    assert r.status_code == 204, r.text
    assert not client.object_exists(Bucket=FIXED_BUCKET, Key=key)


def test_path_style_list(server, client):
    client.put_object(Bucket=FIXED_BUCKET, Body=b"x", Key="ps-list/one")
    try:
        r = path_style(server, "GET", FIXED_BUCKET)
        assert r.status_code == 200, r.text
        root = ET.fromstring(r.content)
        assert root.tag == "ListBucketResult"
        assert root.findtext("Name") == FIXED_BUCKET
        assert "ps-list/one" in [k.text for k in root.iter("Key")]
    finally:
        client.delete_object(Bucket=FIXED_BUCKET, Key="ps-list/one")


def test_bare_host_get_is_service_without_default_bucket(server):
    conf = make_client(server).get_conf()
    r = requests.get(server.url + "/", auth=CosS3Auth(conf), timeout=30)
    assert r.status_code == 200, r.text
    root = ET.fromstring(r.content)
    assert root.tag == "ListAllMyBucketsResult"
    assert FIXED_BUCKET in [b.findtext("Name") for b in root.iter("Bucket")]


def test_port_in_host_header_is_ignored(server, client):
    """Port in the Host header is ignored (H1)."""
    client.put_object(Bucket=FIXED_BUCKET, Body=b"port", Key="port.txt")
    try:
        conf = client.get_conf()
        host = f"{FIXED_BUCKET}.cos.{REGION}.myqcloud.com:{server.port}"
        r = requests.get(f"{server.url}/port.txt", headers={"Host": host}, auth=CosS3Auth(conf, "port.txt"),
                         timeout=30)
        assert r.status_code == 200, r.text
        assert r.content == b"port"
    finally:
        client.delete_object(Bucket=FIXED_BUCKET, Key="port.txt")

