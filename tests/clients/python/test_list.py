"""GET Bucket (v1 listing): prefix, delimiter, marker, max-keys, encoding-type=url."""

import xml.etree.ElementTree as ET
from urllib.parse import quote, unquote

import pytest

FLAT = ["a.txt", "b/1.txt", "b/2.txt", "b/c/3.txt", "b/c/4.txt", "d/5.txt", "e.txt"]

ODD_KEYS = [
    "sp ace/file name.txt",
    "中文/文件 名😀.txt",
    "plus+sign.txt",
    "per%cent.txt",
    "amp&ersand=eq.txt",
    "deep/nested/dir/with/many/levels/f.txt",
    "a/./b/../c.txt",
    "a//b",
    "tilde~star*quote'paren().txt",
]


def utf8_sorted(keys):
    return sorted(keys, key=lambda k: k.encode("utf-8"))


@pytest.fixture
def flat(client, bucket):
    for k in FLAT:
        client.put_object(Bucket=bucket, Body=k.encode(), Key=k)
    return bucket


def test_list_all(client, flat):
    resp = client.list_objects(Bucket=flat)
    assert resp["Name"] == flat
    assert resp["IsTruncated"] == "false"
    assert [c["Key"] for c in resp["Contents"]] == FLAT
    first = resp["Contents"][0]
    assert first["Size"] == str(len(FLAT[0]))
    assert first["ETag"].strip('"')
    assert first["LastModified"]
    assert first["StorageClass"] == "STANDARD"
    assert "Owner" in first


def test_prefix(client, flat):
    resp = client.list_objects(Bucket=flat, Prefix="b/")
    assert [c["Key"] for c in resp["Contents"]] == ["b/1.txt", "b/2.txt", "b/c/3.txt", "b/c/4.txt"]
    assert resp["Prefix"] == "b/"
    resp = client.list_objects(Bucket=flat, Prefix="zzz")
    assert "Contents" not in resp or resp["Contents"] == []


def test_delimiter_common_prefixes(client, flat):
    resp = client.list_objects(Bucket=flat, Delimiter="/")
    assert [c["Key"] for c in resp["Contents"]] == ["a.txt", "e.txt"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["b/", "d/"]
    assert resp["Delimiter"] == "/"

    resp = client.list_objects(Bucket=flat, Prefix="b/", Delimiter="/")
    assert [c["Key"] for c in resp["Contents"]] == ["b/1.txt", "b/2.txt"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["b/c/"]


def test_marker(client, flat):
    resp = client.list_objects(Bucket=flat, Marker="b/2.txt")
    assert [c["Key"] for c in resp["Contents"]] == ["b/c/3.txt", "b/c/4.txt", "d/5.txt", "e.txt"]
    assert resp["Marker"] == "b/2.txt"


def test_max_keys_paging(client, flat):
    seen = []
    marker = ""
    pages = 0
    while True:
        resp = client.list_objects(Bucket=flat, MaxKeys=2, Marker=marker)
        pages += 1
        keys = [c["Key"] for c in resp.get("Contents", [])]
        assert len(keys) <= 2
        assert resp["MaxKeys"] == "2"
        seen += keys
        if resp["IsTruncated"] == "false":
            break
        assert resp["IsTruncated"] == "true"
        assert resp["NextMarker"] == keys[-1]
        marker = resp["NextMarker"]
        assert pages < 10
    assert seen == FLAT
    assert pages == 4


def test_paging_with_delimiter_counts_prefixes(client, flat):
    """Each CommonPrefix counts as one entry against max-keys."""
    seen_keys, seen_prefixes, marker = [], [], ""
    for _ in range(10):
        resp = client.list_objects(Bucket=flat, Delimiter="/", MaxKeys=1, Marker=marker)
        keys = [c["Key"] for c in resp.get("Contents", [])]
        prefixes = [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
        assert len(keys) + len(prefixes) == 1
        seen_keys += keys
        seen_prefixes += prefixes
        if resp["IsTruncated"] == "false":
            break
        marker = resp["NextMarker"]
    assert seen_keys == ["a.txt", "e.txt"]
    assert seen_prefixes == ["b/", "d/"]


@pytest.fixture
def odd(client, bucket):
    for k in ODD_KEYS:
        client.put_object(Bucket=bucket, Body=b"x", Key=k)
    return bucket


def test_odd_keys_decoded_by_sdk(client, odd):
    """The SDK always sends encoding-type=url and unquotes the result (cos.md §3.2)."""
    resp = client.list_objects(Bucket=odd)
    assert [c["Key"] for c in resp["Contents"]] == utf8_sorted(ODD_KEYS)


def test_odd_keys_encoding_type_url_raw(client, odd):
    resp = client.list_objects(Bucket=odd, EncodingType="url")
    assert resp["EncodingType"] == "url"
    raw_keys = [c["Key"] for c in resp["Contents"]]
    assert [unquote(k) for k in raw_keys] == utf8_sorted(ODD_KEYS)
    by_key = {unquote(k): k for k in raw_keys}
    # space as %20 and + as %2B, so unquote and unquote_plus both read them right (cos.md §8)
    assert by_key["plus+sign.txt"] == "plus%2Bsign.txt"
    assert by_key["per%cent.txt"] == "per%25cent.txt"
    assert by_key["sp ace/file name.txt"] == "sp%20ace/file%20name.txt"
    assert by_key["amp&ersand=eq.txt"] == "amp%26ersand%3Deq.txt"
    assert by_key["中文/文件 名😀.txt"] == quote("中文/文件 名😀.txt", safe="/")


def test_odd_prefix_and_delimiter_encoded(client, odd):
    resp = client.list_objects(Bucket=odd, Prefix="sp ace/", Delimiter="/", EncodingType="url")
    assert resp["Prefix"] == "sp%20ace/"
    assert [c["Key"] for c in resp["Contents"]] == ["sp%20ace/file%20name.txt"]
    resp = client.list_objects(Bucket=odd, Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == utf8_sorted(["sp ace/", "中文/", "deep/", "a/"])
    resp = client.list_objects(Bucket=odd, Delimiter="/", EncodingType="url")
    # ordered by the raw keys, then encoded
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == [
        quote(p, safe="/") for p in utf8_sorted(["sp ace/", "中文/", "deep/", "a/"])]


def test_odd_marker_round_trip(client, odd):
    ordered = utf8_sorted(ODD_KEYS)
    seen, marker = [], ""
    for _ in range(20):
        resp = client.list_objects(Bucket=odd, MaxKeys=3, Marker=marker)
        seen += [c["Key"] for c in resp.get("Contents", [])]
        if resp["IsTruncated"] == "false":
            break
        marker = resp["NextMarker"]  # decoded by the SDK, sent back raw
    assert seen == ordered


def test_list_raw_xml(raw, odd):
    r = raw.request("GET", odd, params={"prefix": "", "delimiter": "", "marker": "", "max-keys": "1000",
                                        "encoding-type": "url"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "ListBucketResult"
    assert root.findtext("Name") == odd
    assert root.findtext("EncodingType") == "url"
    assert root.findtext("IsTruncated") == "false"
    keys = [unquote(k.text) for k in root.iter("Key")]
    assert keys == utf8_sorted(ODD_KEYS)


def test_list_without_encoding_type_returns_raw_keys(raw, odd):
    r = raw.request("GET", odd, params={"prefix": "plus"})
    assert r.status_code == 200, r.text
    root = ET.fromstring(r.content)
    assert [k.text for k in root.iter("Key")] == ["plus+sign.txt"]


def test_max_keys_invalid(raw, bucket):
    r = raw.request("GET", bucket, params={"max-keys": "-1"})
    assert r.status_code == 400, r.text
    assert ET.fromstring(r.content).findtext("Code") == "InvalidArgument"


def test_empty_bucket_listing(client, bucket):
    resp = client.list_objects(Bucket=bucket)
    assert resp["IsTruncated"] == "false"
    assert "Contents" not in resp or resp["Contents"] == []
