"""OSS multipart upload through oss2 (V4 and V1 signatures, `enable_crc=True`,
the default): InitiateMultipartUpload, UploadPart, UploadPartCopy,
ListParts, ListMultipartUploads, CompleteMultipartUpload and
AbortMultipartUpload, the OSS error codes, and oss2's threaded
`resumable_upload` / `resumable_download`. oss2 checks every part's CRC-64
and the combined CRC-64 of the completed object against
`x-oss-hash-crc64ecma`, and the CRC-64 of downloads: those checks must pass.
"""

import hashlib

import oss2
import pytest

from conftest import SECRET_ID, SECRET_KEY, crc64

REGION = "cn-hangzhou"
MIB = 1024 * 1024
PART = 100 * 1024  # OSS's smallest non-last part


def oss2_bucket(server, bucket, v4=True):
    auth = oss2.AuthV4(SECRET_ID, SECRET_KEY) if v4 else oss2.Auth(SECRET_ID, SECRET_KEY)
    return oss2.Bucket(auth, server.url, bucket, region=REGION)


@pytest.fixture(params=["v4", "v1"])
def ob(request, server, bucket):
    b = oss2_bucket(server, bucket, v4=request.param == "v4")
    assert b.enable_crc
    yield b
    for up in oss2.MultipartUploadIterator(b):
        b.abort_multipart_upload(up.key, up.upload_id)


def pattern(n: int, seed: int) -> bytes:
    block = hashlib.sha256(seed.to_bytes(8, "big")).digest() * (MIB // 32)
    out = bytearray()
    i = 0
    while len(out) < n:
        out += i.to_bytes(8, "big") + block[8:]
        i += 1
    return bytes(out[:n])


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def multipart_etag(parts) -> str:
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    return f"{hashlib.md5(md5s).hexdigest()}-{len(parts)}".upper()


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def test_oss2_multipart_low_level(ob):
    key = "oss-mp/low level+1.bin"
    parts = [pattern(PART, 1), pattern(PART + 5, 2), pattern(777, 3)]
    init = ob.init_multipart_upload(key, headers={"x-oss-meta-color": "blue",
                                                  "Content-Type": "application/x-mp"})
    upload_id = init.upload_id
    assert upload_id and init.status == 200

    listed = ob.list_multipart_uploads(prefix="oss-mp/")
    assert [(u.key, u.upload_id) for u in listed.upload_list] == [(key, upload_id)]
    assert listed.is_truncated is False

    infos = []
    for n, data in enumerate(parts, 1):
        r = ob.upload_part(key, upload_id, n, data)  # oss2 checks the part's CRC-64
        assert r.crc == crc64(data)
        assert r.etag.lower() == md5_hex(data)
        infos.append(oss2.models.PartInfo(n, r.etag, size=len(data), part_crc=r.crc))

    page = ob.list_parts(key, upload_id)
    assert [(p.part_number, p.etag.lower(), p.size) for p in page.parts] == [
        (n, md5_hex(d), len(d)) for n, d in enumerate(parts, 1)]
    first = ob.list_parts(key, upload_id, max_parts=2)
    assert first.is_truncated and int(first.next_marker) == 2
    rest = ob.list_parts(key, upload_id, marker=first.next_marker)
    assert [p.part_number for p in rest.parts] == [3]

    # oss2 checks the object's CRC-64 (combined from the parts') here.
    done = ob.complete_multipart_upload(key, upload_id, infos)
    whole = b"".join(parts)
    assert done.status == 200
    assert done.crc == crc64(whole)
    assert done.etag.upper() == multipart_etag(parts)
    assert ob.list_multipart_uploads(prefix="oss-mp/").upload_list == []

    got = ob.get_object(key)
    assert got.read() == whole  # CRC-64 of the download checked by oss2
    assert got.headers["x-oss-object-type"] == "Multipart"
    assert got.headers["x-oss-meta-color"] == "blue"
    assert got.headers["Content-Type"] == "application/x-mp"
    assert int(got.headers["x-oss-hash-crc64ecma"]) == crc64(whole)
    assert not any(h.lower().startswith("x-cos-") for h in got.headers), dict(got.headers)


def test_oss2_upload_part_copy(ob):
    src = pattern(2 * PART + 99, 8)
    ob.put_object("oss-mp/src.bin", src)
    key = "oss-mp/copied.bin"
    upload_id = ob.init_multipart_upload(key).upload_id
    ranges = [(0, PART - 1), (PART, 2 * PART - 1), (2 * PART, len(src) - 1)]
    infos = []
    for n, (first, last) in enumerate(ranges, 1):
        r = ob.upload_part_copy(ob.bucket_name, "oss-mp/src.bin", (first, last),
                                key, upload_id, n)
        assert r.etag.lower() == md5_hex(src[first:last + 1])
        infos.append(oss2.models.PartInfo(n, r.etag, size=last + 1 - first,
                                          part_crc=crc64(src[first:last + 1])))
    done = ob.complete_multipart_upload(key, upload_id, infos)
    assert done.crc == crc64(src)
    assert ob.get_object(key).read() == src


def test_oss2_multipart_errors(ob):
    key = "oss-mp/errors.bin"
    bogus = "0000000000000000000000000000dead"
    with pytest.raises(oss2.exceptions.NoSuchUpload) as e:
        ob.upload_part(key, bogus, 1, b"x")
    assert e.value.status == 404 and e.value.request_id
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        ob.list_parts(key, bogus)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        ob.abort_multipart_upload(key, bogus)

    upload_id = ob.init_multipart_upload(key).upload_id
    small = [pattern(1000, 1), pattern(1000, 2)]
    etags = [ob.upload_part(key, upload_id, n, d).etag for n, d in enumerate(small, 1)]

    def complete(pairs):
        infos = [oss2.models.PartInfo(n, etag) for n, etag in pairs]
        ob.enable_crc = False  # the part list is wrong on purpose
        try:
            return ob.complete_multipart_upload(key, upload_id, infos)
        finally:
            ob.enable_crc = True

    for pairs, code in [
        ([(1, "0" * 32)], "InvalidPart"),
        ([(1, etags[0]), (3, etags[1])], "InvalidPart"),
        ([(1, etags[0]), (2, etags[1])], "EntityTooSmall"),
    ]:
        with pytest.raises(oss2.exceptions.ServerError) as e:
            complete(pairs)
        assert (e.value.status, e.value.code) == (400, code), pairs
        assert e.value.request_id
    ob.abort_multipart_upload(key, upload_id)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        ob.list_parts(key, upload_id)
    with pytest.raises(oss2.exceptions.NoSuchKey):
        ob.get_object(key)


def test_oss2_resumable_upload_and_download(ob, tmp_path):
    size = 9 * PART + 4321
    src = tmp_path / "source.bin"
    src.write_bytes(pattern(size, 11))
    want = sha256_file(src)
    key = "oss-mp/resumable.bin"
    store = oss2.ResumableStore(root=str(tmp_path), dir="up-store")
    # multipart with 10 parts, 4 threads; oss2 checks every CRC-64 on the way.
    result = oss2.resumable_upload(ob, key, str(src), store=store,
                                   multipart_threshold=PART, part_size=PART, num_threads=4)
    assert result.crc == crc64(src.read_bytes())
    head = ob.head_object(key)
    assert head.content_length == size
    assert head.object_type == "Multipart"
    assert head.etag.endswith("-10"), head.etag

    dest = tmp_path / "back.bin"
    dstore = oss2.ResumableDownloadStore(root=str(tmp_path), dir="down-store")
    oss2.resumable_download(ob, key, str(dest), store=dstore,
                            multiget_threshold=PART, part_size=PART, num_threads=4)
    assert dest.stat().st_size == size
    assert sha256_file(dest) == want
