// cos-nodejs-sdk-v5 multipart upload against a real localcos (cos.md §3.3,
// §6A.4, §6A.5): the low-level calls (multipartInit/Upload/Complete/Abort,
// uploadPartCopy, multipartListPart, multipartList, their errors) and the
// high-level helpers built on them (sliceUploadFile with resume, uploadFile,
// uploadFiles, sliceCopyFile, downloadFile), checked byte for byte; then
// SSE, versioning, odd keys, in-flight races, resume across a kill -9 of the
// server, and the Proxy / Domain addressing modes. About 35-45 s on the
// shared 2-core machine; the data stays in the tens of MiB (big files: Python).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import readline from 'node:readline';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  COS, startServer, makeCos, uniqueBucket, dropBucket, md5hex, crc64, REGION, APPID, SECRET_ID, SECRET_KEY,
  localcosBin, cleanEnv,
} from '../lib/localcos.mjs';

const MiB = 1024 * 1024;

let server;
let cos;
let Bucket;
let tmp;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localcos-node-mp-'));
  server = await startServer();
  // ConfCwd: the SDK's upload-id cache file lives in our temp dir, not in ~/.config.
  cos = newCos();
  Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION });
});

after(async () => {
  if (cos && Bucket) {
    await cos.abortUploadTask({ Bucket, Region: REGION, Level: 'bucket' }).catch(() => {});
    await dropBucket(cos, Bucket);
  }
  if (server) await server.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const R = () => ({ Bucket, Region: REGION });

function newCos(extra = {}) {
  return makeCos(server, { ConfCwd: tmp, ChunkParallelLimit: 4, ...extra });
}

// --- local reference values --------------------------------------------------

/** CRC-64/XZ over 32-bit halves (the BigInt one in lib/ is too slow for MiBs). */
const [CRC_LO, CRC_HI] = (() => {
  const lo = new Uint32Array(256);
  const hi = new Uint32Array(256);
  const poly = 0xC96C5795D7870F42n;
  for (let i = 0n; i < 256n; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    lo[Number(i)] = Number(c & 0xFFFFFFFFn);
    hi[Number(i)] = Number(c >> 32n);
  }
  return [lo, hi];
})();

class Crc64 {
  constructor() { this.lo = 0xFFFFFFFF; this.hi = 0xFFFFFFFF; }
  update(buf) {
    let { lo, hi } = this;
    for (let i = 0; i < buf.length; i++) {
      const idx = (lo ^ buf[i]) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ CRC_LO[idx];
      hi = (hi >>> 8) ^ CRC_HI[idx];
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    return this;
  }
  /** Unsigned decimal, as in x-cos-hash-crc64ecma. */
  digest() {
    return ((BigInt((~this.hi) >>> 0) << 32n) | BigInt((~this.lo) >>> 0)).toString();
  }
}
const crcOf = (buf) => new Crc64().update(buf).digest();

/** `"<md5 of the binary part MD5s>-<N>"`, the multipart ETag (cos.md §6A.5). */
function multipartEtag(parts) {
  const h = crypto.createHash('md5');
  for (const p of parts) h.update(crypto.createHash('md5').update(p).digest());
  return `"${h.digest('hex')}-${parts.length}"`;
}

function split(buf, size) {
  const out = [];
  for (let off = 0; off < buf.length; off += size) out.push(buf.subarray(off, Math.min(off + size, buf.length)));
  return out;
}

async function sha256File(file) {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk);
  return h.digest('hex');
}

/** SHA-256 of an object, streamed through getObjectStream (never buffered whole). */
async function sha256Object(c, Key, extra = {}) {
  const h = crypto.createHash('sha256');
  let size = 0;
  const stream = c.getObjectStream({ ...R(), Key, ...extra });
  await pipeline(stream, async function* (source) {
    for await (const chunk of source) { size += chunk.length; h.update(chunk); }
  });
  return { sha256: h.digest('hex'), size };
}

function writeRandomFile(name, size) {
  const file = path.join(tmp, name);
  const buf = crypto.randomBytes(size);
  fs.writeFileSync(file, buf);
  return { file, buf };
}

async function expectCosError(promise, status, code) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.statusCode, status, JSON.stringify(err));
    assert.equal(err.code, code, JSON.stringify(err));
    assert.ok(err.RequestId || (err.headers && err.headers['x-cos-request-id']), JSON.stringify(err));
    return true;
  });
}

async function expectMissing(Key) {
  await assert.rejects(cos.headObject({ ...R(), Key }), (err) => err.statusCode === 404);
}

/** Counts the calls an SDK helper makes to one low-level API of `c`. */
function spy(c, name, onDone) {
  const orig = c[name];
  const calls = [];
  c[name] = function (params, cb) {
    calls.push(params.PartNumber);
    return orig.call(this, params, (err, data) => {
      if (onDone) onDone(err, data);
      cb(err, data);
    });
  };
  return calls;
}

const asArray = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

async function uploadParts(Key, UploadId, parts, first = 1) {
  const out = [];
  for (let i = 0; i < parts.length; i++) {
    const r = await cos.multipartUpload({ ...R(), Key, UploadId, PartNumber: first + i, Body: parts[i] });
    out.push({ PartNumber: first + i, ETag: r.ETag });
  }
  return out;
}

// --- low level -----------------------------------------------------------------

describe('low-level multipart API', () => {
  test('init headers reach the object; part ETag/CRC; complete ETag and CRC-64', async () => {
    assert.equal(crcOf(Buffer.from('123456789')), '11051210869376104954'); // CRC-64/XZ check value
    const sample = crypto.randomBytes(4099);
    assert.equal(crcOf(sample), crc64(sample));

    const Key = 'mp/low/headers.bin';
    const init = await cos.multipartInit({
      ...R(),
      Key,
      ContentType: 'application/x-multipart-test',
      ContentDisposition: 'attachment; filename="headers.bin"',
      CacheControl: 'max-age=60',
      ContentEncoding: 'identity',
      Expires: 'Wed, 21 Oct 2037 07:28:00 GMT',
      StorageClass: 'STANDARD_IA',
      ACL: 'public-read',
      Headers: { 'x-cos-meta-color': 'blue', 'x-cos-meta-lane': 'node', 'x-cos-tagging': 'proj=localcos&lane=node' },
    });
    assert.equal(init.statusCode, 200);
    assert.equal(init.Bucket, Bucket);
    assert.equal(init.Key, Key);
    assert.match(init.UploadId, /^\S{8,}$/);
    const UploadId = init.UploadId;

    const parts = [crypto.randomBytes(MiB + 17), crypto.randomBytes(MiB), crypto.randomBytes(1000)];
    const listed = [];
    for (let i = 0; i < parts.length; i++) {
      const r = await cos.multipartUpload({ ...R(), Key, UploadId, PartNumber: i + 1, Body: parts[i] });
      assert.equal(r.statusCode, 200);
      assert.equal(r.ETag, `"${md5hex(parts[i])}"`);
      assert.equal(r.headers['x-cos-hash-crc64ecma'], crcOf(parts[i]));
      // bare ETags: Node quotes them itself before sending Complete
      listed.push({ PartNumber: i + 1, ETag: md5hex(parts[i]) });
    }
    const whole = Buffer.concat(parts);
    const done = await cos.multipartComplete({ ...R(), Key, UploadId, Parts: listed });
    assert.equal(done.statusCode, 200);
    assert.equal(done.ETag, multipartEtag(parts));
    assert.match(done.ETag, /^"[0-9a-f]{32}-3"$/);
    assert.equal(done.Bucket, Bucket);
    assert.equal(done.Key, Key);
    assert.equal(done.headers['x-cos-hash-crc64ecma'], crcOf(whole));

    const head = await cos.headObject({ ...R(), Key });
    assert.equal(head.headers.etag, multipartEtag(parts));
    assert.equal(head.headers['content-length'], String(whole.length));
    assert.equal(head.headers['content-type'], 'application/x-multipart-test');
    assert.equal(head.headers['content-disposition'], 'attachment; filename="headers.bin"');
    assert.equal(head.headers['cache-control'], 'max-age=60');
    assert.equal(head.headers['content-encoding'], 'identity');
    assert.equal(head.headers.expires, 'Wed, 21 Oct 2037 07:28:00 GMT');
    assert.equal(head.headers['x-cos-meta-color'], 'blue');
    assert.equal(head.headers['x-cos-meta-lane'], 'node');
    assert.equal(head.headers['x-cos-storage-class'], 'STANDARD_IA');
    assert.equal(head.headers['x-cos-hash-crc64ecma'], crcOf(whole));
    assert.equal(head.headers['x-cos-tagging-count'], '2');

    const tags = await cos.getObjectTagging({ ...R(), Key });
    assert.deepEqual(
      tags.Tags.map((t) => `${t.Key}=${t.Value}`).sort(),
      ['lane=node', 'proj=localcos'],
    );
    const acl = await cos.getObjectAcl({ ...R(), Key });
    assert.equal(acl.ACL, 'public-read');

    const got = await cos.getObject({ ...R(), Key });
    assert.ok(got.Body.equals(whole));
    assert.equal(got.headers['x-cos-hash-crc64ecma'], crcOf(whole));

    // the upload is gone once completed
    await expectCosError(cos.multipartListPart({ ...R(), Key, UploadId }), 404, 'NoSuchUpload');
    await expectCosError(cos.multipartComplete({ ...R(), Key, UploadId, Parts: listed }), 404, 'NoSuchUpload');
  });

  test('Content-Type is inferred from the key when Initiate sends none', async () => {
    const Key = 'mp/low/inferred.json';
    const { UploadId } = await cos.multipartInit({ ...R(), Key });
    const Parts = await uploadParts(Key, UploadId, [Buffer.from('{"a":1}')]);
    const done = await cos.multipartComplete({ ...R(), Key, UploadId, Parts });
    assert.equal(done.ETag, multipartEtag([Buffer.from('{"a":1}')]));
    const head = await cos.headObject({ ...R(), Key });
    assert.equal(head.headers['content-type'], 'application/json');
    assert.ok(!head.headers['x-cos-storage-class'], 'STANDARD is not announced');
  });

  test('uploadPartCopy with and without CopySourceRange', async () => {
    const srcKey = 'mp/copy/source.bin';
    const src = crypto.randomBytes(3 * MiB + 333);
    await cos.putObject({ ...R(), Key: srcKey, Body: src });
    const CopySource = `${Bucket}.cos.${REGION}.myqcloud.com/${srcKey}`;

    const Key = 'mp/copy/dest.bin';
    const { UploadId } = await cos.multipartInit({ ...R(), Key });
    const a = src.subarray(100, 100 + MiB + 5); // bytes=100-(MiB+104)
    const c1 = await cos.uploadPartCopy({
      ...R(), Key, UploadId, PartNumber: 1, CopySource, CopySourceRange: `bytes=100-${100 + MiB + 4}`,
    });
    assert.equal(c1.statusCode, 200);
    assert.equal(c1.ETag, `"${md5hex(a)}"`);
    assert.equal(c1.CRC64, crcOf(a));
    assert.ok(!Number.isNaN(Date.parse(c1.LastModified)), c1.LastModified);
    assert.equal(c1.headers['x-cos-hash-crc64ecma'], crcOf(a));

    const b = crypto.randomBytes(MiB);
    const p2 = await cos.multipartUpload({ ...R(), Key, UploadId, PartNumber: 2, Body: b });

    // no range: the whole source object
    const c3 = await cos.uploadPartCopy({ ...R(), Key, UploadId, PartNumber: 3, CopySource });
    assert.equal(c3.ETag, `"${md5hex(src)}"`);

    // a range past the end is clamped; one starting past the end is refused
    const c4 = await cos.uploadPartCopy({
      ...R(), Key, UploadId, PartNumber: 4, CopySource, CopySourceRange: `bytes=${src.length - 10}-${src.length + 1000}`,
    });
    assert.equal(c4.ETag, `"${md5hex(src.subarray(src.length - 10))}"`);
    await expectCosError(
      cos.uploadPartCopy({ ...R(), Key, UploadId, PartNumber: 5, CopySource, CopySourceRange: `bytes=${src.length}-${src.length + 5}` }),
      400, 'InvalidArgument',
    );
    await expectCosError(
      cos.uploadPartCopy({ ...R(), Key, UploadId, PartNumber: 5, CopySource: `${Bucket}.cos.${REGION}.myqcloud.com/mp/copy/missing.bin` }),
      404, 'NoSuchCopySource',
    );

    const done = await cos.multipartComplete({
      ...R(), Key, UploadId,
      Parts: [
        { PartNumber: 1, ETag: c1.ETag }, { PartNumber: 2, ETag: p2.ETag },
        { PartNumber: 3, ETag: c3.ETag }, { PartNumber: 4, ETag: c4.ETag },
      ],
    });
    const expected = Buffer.concat([a, b, src, src.subarray(src.length - 10)]);
    assert.equal(done.ETag, multipartEtag([a, b, src, src.subarray(src.length - 10)]));
    assert.equal(done.headers['x-cos-hash-crc64ecma'], crcOf(expected));
    const got = await cos.getObject({ ...R(), Key });
    assert.ok(got.Body.equals(expected));
  });

  test('multipartListPart pages with MaxParts / PartNumberMarker; re-upload replaces a part', async () => {
    const Key = 'mp/list/parts.bin';
    const { UploadId } = await cos.multipartInit({ ...R(), Key, StorageClass: 'STANDARD_IA' });
    const bodies = [1, 2, 3, 4, 5].map((n) => Buffer.from(`part ${n} `.repeat(n)));
    await uploadParts(Key, UploadId, bodies);
    const replaced = Buffer.from('replacement for part three');
    const r3 = await cos.multipartUpload({ ...R(), Key, UploadId, PartNumber: 3, Body: replaced });
    assert.equal(r3.ETag, `"${md5hex(replaced)}"`);
    bodies[2] = replaced;

    const pages = [];
    let marker;
    for (;;) {
      const page = await cos.multipartListPart({ ...R(), Key, UploadId, MaxParts: 2, PartNumberMarker: marker });
      assert.equal(page.statusCode, 200);
      assert.equal(page.Bucket, Bucket);
      assert.equal(page.Key, Key);
      assert.equal(page.UploadId, UploadId);
      assert.equal(page.StorageClass, 'STANDARD_IA');
      assert.equal(page.MaxParts, '2');
      assert.equal(page.PartNumberMarker, marker === undefined ? '0' : String(marker));
      pages.push(page);
      if (page.IsTruncated !== 'true') {
        assert.equal(page.IsTruncated, 'false');
        break;
      }
      marker = Number(page.NextPartNumberMarker);
      assert.equal(page.NextPartNumberMarker, page.Part.at(-1).PartNumber);
    }
    assert.deepEqual(pages.map((p) => p.Part.map((x) => x.PartNumber)), [['1', '2'], ['3', '4'], ['5']]);
    const all = pages.flatMap((p) => p.Part);
    for (const [i, p] of all.entries()) {
      assert.equal(p.ETag, `"${md5hex(bodies[i])}"`);
      assert.equal(p.Size, String(bodies[i].length));
      assert.ok(!Number.isNaN(Date.parse(p.LastModified)), p.LastModified);
    }
    // default page: everything
    const full = await cos.multipartListPart({ ...R(), Key, UploadId });
    assert.equal(full.Part.length, 5);
    assert.equal(full.IsTruncated, 'false');
    await cos.multipartAbort({ ...R(), Key, UploadId });
  });

  test('multipartList: Prefix, Delimiter, KeyMarker/UploadIdMarker and paging', async () => {
    const keys = ['ml/a/1', 'ml/a/2', 'ml/b/1', 'ml/c', 'ml/c', 'ml-other/x'];
    const ids = [];
    for (const Key of keys) {
      ids.push((await cos.multipartInit({ ...R(), Key })).UploadId);
      await new Promise((r) => setTimeout(r, 5)); // distinct initiation times
    }
    const ml = keys.map((k, i) => ({ Key: k, UploadId: ids[i] })).filter((u) => u.Key.startsWith('ml/'));

    const flat = await cos.multipartList({ ...R(), Prefix: 'ml/' });
    assert.equal(flat.statusCode, 200);
    assert.equal(flat.IsTruncated, 'false');
    assert.deepEqual(flat.Upload.map((u) => [u.Key, u.UploadId]), ml.map((u) => [u.Key, u.UploadId]));
    for (const u of flat.Upload) {
      assert.equal(u.StorageClass, 'STANDARD');
      assert.ok(u.Initiator && u.Initiator.ID, JSON.stringify(u));
      assert.ok(!Number.isNaN(Date.parse(u.Initiated)), u.Initiated);
    }

    const grouped = await cos.multipartList({ ...R(), Prefix: 'ml/', Delimiter: '/' });
    assert.deepEqual(asArray(grouped.CommonPrefixes).map((p) => p.Prefix), ['ml/a/', 'ml/b/']);
    assert.deepEqual(grouped.Upload.map((u) => u.UploadId), [ids[3], ids[4]]);

    // paging two at a time follows NextKeyMarker + NextUploadIdMarker
    const seen = [];
    let KeyMarker;
    let UploadIdMarker;
    for (let guard = 0; guard < 10; guard++) {
      const page = await cos.multipartList({ ...R(), Prefix: 'ml/', MaxUploads: 2, KeyMarker, UploadIdMarker });
      assert.equal(page.MaxUploads, '2');
      seen.push(...page.Upload.map((u) => u.UploadId));
      if (page.IsTruncated !== 'true') break;
      assert.equal(page.Upload.length, 2);
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
      assert.equal(KeyMarker, page.Upload.at(-1).Key);
      assert.equal(UploadIdMarker, page.Upload.at(-1).UploadId);
    }
    assert.deepEqual(seen, ml.map((u) => u.UploadId));

    // KeyMarker alone: keys after it; with UploadIdMarker: that key's later uploads too
    const afterB = await cos.multipartList({ ...R(), Prefix: 'ml/', KeyMarker: 'ml/b/1' });
    assert.deepEqual(afterB.Upload.map((u) => u.UploadId), [ids[3], ids[4]]);
    const afterC0 = await cos.multipartList({ ...R(), Prefix: 'ml/', KeyMarker: 'ml/c', UploadIdMarker: ids[3] });
    assert.deepEqual(afterC0.Upload.map((u) => u.UploadId), [ids[4]]);

    for (const [i, Key] of keys.entries()) await cos.multipartAbort({ ...R(), Key, UploadId: ids[i] });
    const none = await cos.multipartList({ ...R(), Prefix: 'ml' });
    assert.deepEqual(none.Upload, []);
  });

  test('multipartAbort: 204, parts gone, second abort 404', async () => {
    const Key = 'mp/abort.bin';
    const { UploadId } = await cos.multipartInit({ ...R(), Key });
    await uploadParts(Key, UploadId, [crypto.randomBytes(MiB), Buffer.from('tail')]);
    const res = await cos.multipartAbort({ ...R(), Key, UploadId });
    assert.equal(res.statusCode, 204);
    await expectCosError(cos.multipartListPart({ ...R(), Key, UploadId }), 404, 'NoSuchUpload');
    await expectCosError(cos.multipartAbort({ ...R(), Key, UploadId }), 404, 'NoSuchUpload');
    await expectCosError(
      cos.multipartUpload({ ...R(), Key, UploadId, PartNumber: 3, Body: 'late' }), 404, 'NoSuchUpload',
    );
    const list = await cos.multipartList({ ...R(), Prefix: Key });
    assert.deepEqual(list.Upload, []);
    await expectMissing(Key);
  });

  test('zero-byte parts: a lone empty part, and an empty last part', async () => {
    const Key = 'mp/low/empty.bin';
    let { UploadId } = await cos.multipartInit({ ...R(), Key });
    let r = await cos.multipartUpload({ ...R(), Key, UploadId, PartNumber: 1, Body: Buffer.alloc(0) });
    assert.equal(r.ETag, `"${md5hex(Buffer.alloc(0))}"`);
    assert.equal(r.headers['x-cos-hash-crc64ecma'], '0');
    let done = await cos.multipartComplete({ ...R(), Key, UploadId, Parts: [{ PartNumber: 1, ETag: r.ETag }] });
    assert.equal(done.ETag, multipartEtag([Buffer.alloc(0)]));
    assert.equal(done.headers['x-cos-hash-crc64ecma'], '0');
    let head = await cos.headObject({ ...R(), Key });
    assert.equal(head.headers['content-length'], '0');
    let got = await cos.getObject({ ...R(), Key });
    assert.equal(got.Body.length, 0);

    ({ UploadId } = await cos.multipartInit({ ...R(), Key }));
    const first = crypto.randomBytes(MiB);
    const Parts = await uploadParts(Key, UploadId, [first, Buffer.alloc(0)]);
    done = await cos.multipartComplete({ ...R(), Key, UploadId, Parts });
    assert.equal(done.ETag, multipartEtag([first, Buffer.alloc(0)]));
    assert.equal(done.headers['x-cos-hash-crc64ecma'], crcOf(first));
    got = await cos.getObject({ ...R(), Key });
    assert.ok(got.Body.equals(first));
    head = await cos.headObject({ ...R(), Key });
    assert.equal(head.headers['content-length'], String(MiB));
  });

  test('abortUploadTask: Level file and task', async () => {
    const Key = 'mp/low/abort-task.bin';
    const a = await cos.multipartInit({ ...R(), Key });
    const b = await cos.multipartInit({ ...R(), Key });
    const other = await cos.multipartInit({ ...R(), Key: `${Key}.other` });
    const res = await cos.abortUploadTask({ ...R(), Key, Level: 'file' });
    assert.deepEqual(res.successList.map((t) => t.UploadId).sort(), [a.UploadId, b.UploadId].sort());
    assert.deepEqual(res.errorList, []);
    const left = await cos.multipartList({ ...R(), Prefix: Key });
    assert.deepEqual(left.Upload.map((u) => u.UploadId), [other.UploadId]);
    const one = await cos.abortUploadTask({ ...R(), Key: `${Key}.other`, Level: 'task', UploadId: other.UploadId });
    assert.equal(one.successList.length, 1);
    assert.deepEqual((await cos.multipartList({ ...R(), Prefix: Key })).Upload, []);
  });

  test('multipartList with EncodingType url and Delimiter', async () => {
    const keys = ['enc/a b/1', 'enc/a b/2', 'enc/ü.bin'];
    const ids = [];
    for (const Key of keys) ids.push((await cos.multipartInit({ ...R(), Key })).UploadId);
    const res = await cos.multipartList({ ...R(), Prefix: 'enc/', Delimiter: '/', EncodingType: 'url' });
    assert.deepEqual(asArray(res.CommonPrefixes).map((p) => decodeURIComponent(p.Prefix)), ['enc/a b/']);
    assert.ok(asArray(res.CommonPrefixes)[0].Prefix.includes('%20'), JSON.stringify(res.CommonPrefixes));
    assert.deepEqual(res.Upload.map((u) => u.Key), [encodeURIComponent('enc/ü.bin').replace(/%2F/g, '/')]);
    await expectCosError(cos.multipartList({ ...R(), EncodingType: 'base64' }), 400, 'InvalidArgument');
    for (const [i, Key] of keys.entries()) await cos.multipartAbort({ ...R(), Key, UploadId: ids[i] });
  });

  test('Complete errors as the SDK surfaces them; the upload survives them', async () => {
    const Key = 'mp/errors.bin';
    const { UploadId } = await cos.multipartInit({ ...R(), Key });
    const small = [Buffer.from('a'.repeat(100)), Buffer.from('b'.repeat(100))];
    const smallParts = await uploadParts(Key, UploadId, small);
    await expectCosError(cos.multipartComplete({ ...R(), Key, UploadId, Parts: smallParts }), 400, 'EntityTooSmall');

    const big = [crypto.randomBytes(MiB), crypto.randomBytes(MiB), Buffer.from('last')];
    const Parts = await uploadParts(Key, UploadId, big);
    // wrong ETag, unknown part number, a gap
    await expectCosError(
      cos.multipartComplete({ ...R(), Key, UploadId, Parts: [{ PartNumber: 1, ETag: md5hex(Buffer.from('x')) }] }),
      400, 'InvalidPart',
    );
    await expectCosError(
      cos.multipartComplete({ ...R(), Key, UploadId, Parts: [...Parts, { PartNumber: 4, ETag: Parts[0].ETag }] }),
      400, 'InvalidPart',
    );
    await expectCosError(
      cos.multipartComplete({ ...R(), Key, UploadId, Parts: [Parts[0], Parts[2]] }),
      400, 'InvalidPart',
    );
    await expectCosError(
      cos.multipartComplete({ ...R(), Key, UploadId, Parts: [Parts[1], Parts[0]] }),
      400, 'InvalidPartOrder',
    );
    await expectCosError(
      cos.multipartComplete({ ...R(), Key, UploadId, Parts: [Parts[0], Parts[0]] }),
      400, 'InvalidPartOrder',
    );
    await expectCosError(
      cos.multipartComplete({ ...R(), Key, UploadId: 'no-such-upload-id', Parts }), 404, 'NoSuchUpload',
    );
    await expectCosError(
      cos.multipartUpload({ ...R(), Key, UploadId: 'no-such-upload-id', PartNumber: 1, Body: 'x' }), 404, 'NoSuchUpload',
    );
    // refused before the body is read: the SDK, which writes the whole body
    // before reading, must still see the COS error (not EPIPE / ECONNRESET)
    for (let i = 0; i < 3; i++) {
      await expectCosError(
        cos.multipartUpload({ ...R(), Key, UploadId: 'no-such-upload-id', PartNumber: 1, Body: crypto.randomBytes(8 * MiB) }),
        404, 'NoSuchUpload',
      );
    }
    await expectCosError(
      cos.multipartUpload({ ...R(), Key, UploadId, PartNumber: 10001, Body: 'x' }), 400, 'InvalidArgument',
    );
    await expectCosError(cos.multipartListPart({ ...R(), Key, UploadId: 'no-such-upload-id' }), 404, 'NoSuchUpload');
    await expectMissing(Key);

    // nothing was lost: only the listed parts (1, 2) form the object
    const done = await cos.multipartComplete({ ...R(), Key, UploadId, Parts: Parts.slice(0, 2) });
    assert.equal(done.ETag, multipartEtag(big.slice(0, 2)));
    const got = await cos.getObject({ ...R(), Key });
    assert.ok(got.Body.equals(Buffer.concat(big.slice(0, 2))));
  });
});

// --- high level ------------------------------------------------------------------

describe('high-level helpers', () => {
  const bigKey = 'mp/high/slice-big.bin';
  let big; // { file, buf }
  const BIG_SIZE = 12 * MiB + 12345;

  before(() => {
    big = writeRandomFile('slice-big.bin', BIG_SIZE);
  });

  test('sliceUploadFile: 1 MiB chunks, 4 in parallel, metadata carried', async () => {
    const c = newCos();
    const calls = spy(c, 'multipartUpload');
    let inFlight = 0;
    let maxInFlight = 0;
    const orig = c.multipartUpload;
    c.multipartUpload = function (params, cb) {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return orig.call(this, params, (err, data) => { inFlight -= 1; cb(err, data); });
    };
    const t0 = Date.now();
    const res = await c.sliceUploadFile({
      ...R(),
      Key: bigKey,
      FilePath: big.file,
      ChunkSize: MiB,
      AsyncLimit: 4,
      ContentType: 'application/x-slice',
      Headers: { 'x-cos-meta-origin': 'slice-upload' },
    });
    const ms = Date.now() - t0;
    assert.equal(res.statusCode, 200);
    assert.ok(res.UploadId);
    const chunks = split(big.buf, MiB);
    assert.equal(chunks.length, 13);
    assert.equal(res.ETag, multipartEtag(chunks));
    assert.equal(res.headers['x-cos-hash-crc64ecma'], crcOf(big.buf));
    assert.deepEqual([...calls].sort((x, y) => x - y), chunks.map((_, i) => i + 1));
    assert.ok(maxInFlight > 1, `parts were uploaded one at a time (${maxInFlight})`);

    const head = await c.headObject({ ...R(), Key: bigKey });
    assert.equal(head.headers['content-length'], String(BIG_SIZE));
    assert.equal(head.headers['content-type'], 'application/x-slice');
    assert.equal(head.headers['x-cos-meta-origin'], 'slice-upload');
    assert.equal(head.headers['x-cos-hash-crc64ecma'], crcOf(big.buf));
    assert.equal(head.headers.etag, res.ETag);
    const list = await c.multipartList({ ...R(), Prefix: bigKey });
    assert.deepEqual(list.Upload, [], 'no upload left behind');
    console.log(`sliceUploadFile ${BIG_SIZE} bytes in ${ms} ms`);
  });

  test('getObject streamed download of the sliced object is byte-identical (sha256)', async () => {
    const { sha256, size } = await sha256Object(cos, bigKey);
    assert.equal(size, BIG_SIZE);
    assert.equal(sha256, await sha256File(big.file));
  });

  test('getObject Range across part boundaries', async () => {
    for (const [first, last] of [
      [MiB - 10, MiB + 9], // parts 1-2
      [MiB - 5, 3 * MiB + 5], // parts 1-4
      [2 * MiB, 2 * MiB], // first byte of part 3
      [12 * MiB - 1, BIG_SIZE - 1], // last byte of part 12 through the short last part
    ]) {
      const got = await cos.getObject({ ...R(), Key: bigKey, Range: `bytes=${first}-${last}` });
      assert.equal(got.statusCode, 206);
      assert.equal(got.headers['content-range'], `bytes ${first}-${last}/${BIG_SIZE}`);
      assert.ok(got.Body.equals(big.buf.subarray(first, last + 1)), `range ${first}-${last}`);
    }
    const tail = await cos.getObject({ ...R(), Key: bigKey, Range: 'bytes=-12346' });
    assert.ok(tail.Body.equals(big.buf.subarray(BIG_SIZE - 12346)));
    // every ranged answer carries the whole object's CRC-64 and multipart ETag
    assert.equal(tail.headers['x-cos-hash-crc64ecma'], crcOf(big.buf));
    const etag = multipartEtag(split(big.buf, MiB));
    assert.equal(tail.headers.etag, etag);

    // conditionals compare the multipart ETag as an opaque value
    const hit = await cos.getObject({ ...R(), Key: bigKey, Range: 'bytes=0-9', IfMatch: etag });
    assert.equal(hit.statusCode, 206);
    await assert.rejects(cos.getObject({ ...R(), Key: bigKey, IfMatch: `"${md5hex(big.buf)}"` }), (e) => e.statusCode === 412);
    const nm = await cos.getObject({ ...R(), Key: bigKey, IfNoneMatch: etag }).catch((e) => e);
    assert.equal(nm.statusCode, 304);
  });

  test('downloadFile (parallel ranged download) is byte-identical', async () => {
    const out = path.join(tmp, 'downloaded.bin');
    const c = newCos();
    const ranges = [];
    const orig = c.getObject;
    c.getObject = function (params, cb) {
      ranges.push(params.Headers.Range);
      return orig.call(this, params, cb);
    };
    const res = await c.downloadFile({ ...R(), Key: bigKey, FilePath: out, ChunkSize: MiB, ParallelLimit: 4 });
    assert.equal(res.statusCode, 206); // the last ranged GET's answer
    assert.equal(ranges.length, 13);
    assert.ok(ranges.includes(`bytes=${12 * MiB}-${BIG_SIZE - 1}`), JSON.stringify(ranges));
    assert.equal(await sha256File(out), await sha256File(big.file));
  });

  test('sliceUploadFile resumes a cancelled upload with the same UploadId', async () => {
    const { file, buf } = writeRandomFile('resume-cancel.bin', 16 * MiB);
    const Key = 'mp/high/resume-cancel.bin';
    const total = 16;
    const c = newCos({ ChunkParallelLimit: 3 });

    // Run 1: slowed to ~10 MiB/s per part so the cancel catches parts mid-body.
    let taskId;
    let okParts = 0;
    let cancelled;
    const cancelledP = new Promise((resolve) => { cancelled = resolve; });
    const run1 = spy(c, 'multipartUpload', (err) => {
      if (err || taskId === undefined) return;
      okParts += 1;
      if (okParts === 4) {
        c.cancelTask(taskId);
        cancelled();
      }
    });
    const first = c.sliceUploadFile({
      ...R(), Key, FilePath: file, ChunkSize: MiB,
      Headers: { 'x-cos-traffic-limit': String(80 * 1024 * 1024) },
      onTaskReady: (id) => { taskId = id; },
    });
    let settled = false;
    first.then(() => { settled = true; }, () => { settled = true; });
    await cancelledP;
    assert.ok(run1.length < total, `run 1 issued every part (${run1.length})`);
    const pending = await c.multipartList({ ...R(), Prefix: Key });
    assert.equal(pending.Upload.length, 1);
    const UploadId = pending.Upload[0].UploadId;
    // Let the server finish with the interrupted requests: the part list must
    // stay the same over two reads 300 ms apart.
    let stored = [];
    for (let i = 0, prev = -1; i < 20 && stored.length !== prev; i++) {
      prev = stored.length;
      await new Promise((r) => setTimeout(r, 300));
      stored = (await c.multipartListPart({ ...R(), Key, UploadId })).Part;
    }
    assert.ok(stored.length >= 4 && stored.length < total, `stored ${stored.length} parts`);
    console.log(`resume: run 1 sent ${run1.length} parts, ${stored.length} stored`);
    const chunks = split(buf, MiB);
    for (const p of stored) {
      // an interrupted part is never half-stored
      assert.equal(p.ETag, `"${md5hex(chunks[Number(p.PartNumber) - 1])}"`, `part ${p.PartNumber}`);
      assert.equal(p.Size, String(MiB));
    }

    // Run 2: same file, same client: the cached UploadId is reused, only missing parts go up.
    assert.equal(settled, false, 'a cancelled task never calls back');
    delete c.multipartUpload;
    const run2 = spy(c, 'multipartUpload');
    const init2 = spy(c, 'multipartInit');
    const res = await c.sliceUploadFile({ ...R(), Key, FilePath: file, ChunkSize: MiB });
    assert.equal(res.UploadId, UploadId);
    assert.equal(init2.length, 0, 'run 2 initiated a new upload');
    const storedNumbers = new Set(stored.map((p) => Number(p.PartNumber)));
    assert.deepEqual(
      [...run2].sort((x, y) => x - y),
      chunks.map((_, i) => i + 1).filter((n) => !storedNumbers.has(n)),
    );
    assert.equal(res.ETag, multipartEtag(chunks));
    assert.equal(res.headers['x-cos-hash-crc64ecma'], crcOf(buf));
    const { sha256 } = await sha256Object(c, Key);
    assert.equal(sha256, crypto.createHash('sha256').update(buf).digest('hex'));
    assert.deepEqual((await c.multipartList({ ...R(), Prefix: Key })).Upload, []);
  });

  test('sliceUploadFile: pauseTask / restartTask finishes the same upload', async () => {
    const { file, buf } = writeRandomFile('pause.bin', 10 * MiB + 1);
    const Key = 'mp/high/pause.bin';
    const c = newCos({ ChunkParallelLimit: 2 });
    let taskId;
    let okParts = 0;
    let pausedState;
    let partsAtPause;
    const inits = spy(c, 'multipartInit');
    // paused before the SDK learns of the third acknowledged part
    const calls = spy(c, 'multipartUpload', (err) => {
      okParts += err ? 0 : 1;
      if (okParts === 3) {
        c.pauseTask(taskId);
        pausedState = c.getTaskList().find((t) => t.id === taskId).state;
        partsAtPause = calls.length;
        setTimeout(() => c.restartTask(taskId), 300);
      }
    });
    const res = await c.sliceUploadFile({
      ...R(), Key, FilePath: file, ChunkSize: MiB,
      Headers: { 'x-cos-traffic-limit': String(80 * 1024 * 1024) },
      onTaskReady: (id) => { taskId = id; },
    });
    const task = c.getTaskList().find((t) => t.id === taskId);
    assert.equal(task.state, 'success');
    assert.equal(pausedState, 'paused');
    assert.ok(partsAtPause < 11, `all parts were sent before the pause (${partsAtPause})`);
    assert.equal(inits.length, 1);
    assert.ok(calls.length >= 11, `${calls.length} part requests`);
    assert.equal(res.ETag, multipartEtag(split(buf, MiB)));
    const got = await c.getObject({ ...R(), Key });
    assert.ok(got.Body.equals(buf));
  });

  test('sliceUploadFile fails with NoSuchUpload when its upload is aborted underneath it', async () => {
    const { file } = writeRandomFile('aborted-under.bin', 8 * MiB);
    const Key = 'mp/high/aborted-under.bin';
    const c = newCos({ ChunkParallelLimit: 2, ChunkRetryTimes: 0 });
    // The second acknowledged part is handed to the SDK only after another
    // client aborted the upload, so the SDK cannot have reached Complete.
    let okParts = 0;
    let abortedId;
    const orig = c.multipartUpload;
    c.multipartUpload = function (params, cb) {
      return orig.call(this, params, (err, data) => {
        okParts += err ? 0 : 1;
        if (okParts !== 2 || err) return cb(err, data);
        abortedId = params.UploadId;
        cos.multipartAbort({ ...R(), Key, UploadId: params.UploadId }).then(() => cb(err, data), (e) => cb(e));
      });
    };
    await assert.rejects(
      c.sliceUploadFile({ ...R(), Key, FilePath: file, ChunkSize: MiB }),
      (err) => {
        assert.equal(err.statusCode, 404, JSON.stringify(err));
        assert.equal(err.code, 'NoSuchUpload');
        assert.equal(err.UploadId, abortedId, 'the SDK reports the upload id');
        return true;
      },
    );
    await assert.rejects(cos.headObject({ ...R(), Key }), (e) => e.statusCode === 404);
    assert.deepEqual((await cos.multipartList({ ...R(), Prefix: Key })).Upload, []);
  });

  test('sliceUploadFile adopts a server-side upload whose parts match (ListParts ETag/Size check)', async () => {
    const { file, buf } = writeRandomFile('resume-remote.bin', 6 * MiB + 100);
    const Key = 'mp/high/resume-remote.bin';
    const chunks = split(buf, MiB);
    // a stale upload with a wrong part 1: must be skipped
    const stale = await cos.multipartInit({ ...R(), Key });
    await uploadParts(Key, stale.UploadId, [crypto.randomBytes(MiB)]);
    // the good one: parts 1-3 of this very file
    const good = await cos.multipartInit({ ...R(), Key });
    await uploadParts(Key, good.UploadId, chunks.slice(0, 3));

    const c = newCos();
    const calls = spy(c, 'multipartUpload');
    const inits = spy(c, 'multipartInit');
    const res = await c.sliceUploadFile({ ...R(), Key, FilePath: file, ChunkSize: MiB });
    assert.equal(res.UploadId, good.UploadId);
    assert.equal(inits.length, 0);
    assert.deepEqual([...calls].sort((x, y) => x - y), [4, 5, 6, 7]);
    assert.equal(res.ETag, multipartEtag(chunks));
    const got = await cos.getObject({ ...R(), Key });
    assert.ok(got.Body.equals(buf));
    const left = await cos.multipartList({ ...R(), Prefix: Key });
    assert.deepEqual(left.Upload.map((u) => u.UploadId), [stale.UploadId]);
    await cos.multipartAbort({ ...R(), Key, UploadId: stale.UploadId });
  });

  test('uploadFile: putObject below SliceSize, slice upload above it', async () => {
    const small = writeRandomFile('uf-small.bin', 200 * 1024);
    const large = writeRandomFile('uf-large.bin', 3 * MiB + 512 * 1024);
    const c = newCos();
    const parts = spy(c, 'multipartUpload');

    const r1 = await c.uploadFile({ ...R(), Key: 'mp/uf/small.bin', FilePath: small.file, SliceSize: MiB, ChunkSize: MiB });
    assert.equal(r1.statusCode, 200);
    assert.equal(r1.ETag, `"${md5hex(small.buf)}"`); // a plain PUT: no -N suffix
    assert.equal(parts.length, 0);

    const r2 = await c.uploadFile({ ...R(), Key: 'mp/uf/large.bin', FilePath: large.file, SliceSize: MiB, ChunkSize: MiB });
    assert.equal(r2.statusCode, 200);
    assert.equal(r2.ETag, multipartEtag(split(large.buf, MiB)));
    assert.equal(r2.headers['x-cos-hash-crc64ecma'], crcOf(large.buf));
    assert.equal(parts.length, 4);

    for (const [Key, f] of [['mp/uf/small.bin', small], ['mp/uf/large.bin', large]]) {
      const got = await c.getObject({ ...R(), Key });
      assert.ok(got.Body.equals(f.buf), Key);
    }
  });

  test('uploadFiles: several files at once, mixed simple and sliced', async () => {
    const files = [
      writeRandomFile('ufs-0.bin', 10 * 1024),
      writeRandomFile('ufs-1.bin', 2 * MiB + 1),
      writeRandomFile('ufs-2.bin', 3 * MiB),
      writeRandomFile('ufs-3.bin', 0),
    ];
    const c = newCos({ FileParallelLimit: 3 });
    const res = await c.uploadFiles({
      SliceSize: MiB,
      files: files.map((f, i) => ({ ...R(), Key: `mp/ufs/${i}.bin`, FilePath: f.file, ChunkSize: MiB })),
    });
    assert.equal(res.files.length, files.length);
    for (const [i, f] of files.entries()) {
      const r = res.files[i];
      assert.equal(r.error, null, JSON.stringify(r.error));
      assert.equal(r.data.statusCode, 200);
      const expected = f.buf.length > MiB ? multipartEtag(split(f.buf, MiB)) : `"${md5hex(f.buf)}"`;
      assert.equal(r.data.ETag, expected, `file ${i}`);
      const got = await c.getObject({ ...R(), Key: `mp/ufs/${i}.bin` });
      assert.ok(got.Body.equals(f.buf), `file ${i}`);
    }
  });

  test('sliceCopyFile copies by parts above CopySliceSize, byte-identical', async () => {
    const c = newCos({ CopyChunkParallelLimit: 4 });
    const copies = spy(c, 'uploadPartCopy');
    const CopySource = `${Bucket}.cos.${REGION}.myqcloud.com/${bigKey}`;
    const Key = 'mp/high/slice-copy.bin';
    // 1.5 MiB copy chunks straddle the source's 1 MiB part boundaries
    const chunk = 3 * MiB / 2;
    const res = await c.sliceCopyFile({ ...R(), Key, CopySource, CopySliceSize: 2 * MiB, CopyChunkSize: chunk });
    assert.equal(res.statusCode, 200);
    assert.equal(copies.length, 9);
    assert.equal(res.ETag, multipartEtag(split(big.buf, chunk)));
    assert.equal(res.headers['x-cos-hash-crc64ecma'], crcOf(big.buf));
    const head = await c.headObject({ ...R(), Key });
    assert.equal(head.headers['content-type'], 'application/x-slice');
    assert.equal(head.headers['x-cos-meta-origin'], 'slice-upload');
    assert.equal(head.headers['content-length'], String(BIG_SIZE));
    const { sha256 } = await sha256Object(c, Key);
    assert.equal(sha256, await sha256File(big.file));

    // at or below CopySliceSize: one putObjectCopy, the source ETag kept
    const simple = await c.sliceCopyFile({ ...R(), Key: 'mp/high/simple-copy.bin', CopySource, CopySliceSize: 64 * MiB });
    assert.equal(simple.statusCode, 200);
    assert.equal(copies.length, 9);
    const h2 = await c.headObject({ ...R(), Key: 'mp/high/simple-copy.bin' });
    const src = await c.headObject({ ...R(), Key: bigKey });
    assert.equal(h2.headers.etag, src.headers.etag);
    assert.equal(h2.headers['x-cos-hash-crc64ecma'], crcOf(big.buf));
  });
});

// --- edge paths ------------------------------------------------------------------

describe('multipart edge paths', () => {
  const SSEC_KEY = Buffer.from('0123456789ABCDEF0123456789abcdef').toString('base64');
  const ssec = {
    SSECustomerAlgorithm: 'AES256',
    SSECustomerKey: SSEC_KEY,
    SSECustomerKeyMD5: crypto.createHash('md5').update(Buffer.from(SSEC_KEY, 'base64')).digest('base64'),
  };

  test('sliceUploadFile with SSE-COS: every part and the object are encrypted', async () => {
    const { file, buf } = writeRandomFile('sse-cos.bin', 3 * MiB + 7);
    const Key = 'mp/edge/sse-cos.bin';
    const res = await cos.sliceUploadFile({ ...R(), Key, FilePath: file, ChunkSize: MiB, ServerSideEncryption: 'AES256' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-cos-server-side-encryption'], 'AES256');
    assert.equal(res.ETag, multipartEtag(split(buf, MiB)));
    assert.equal(res.headers['x-cos-hash-crc64ecma'], crcOf(buf));
    const got = await cos.getObject({ ...R(), Key });
    assert.equal(got.headers['x-cos-server-side-encryption'], 'AES256');
    assert.ok(got.Body.equals(buf));
    const part = await cos.getObject({ ...R(), Key, Range: `bytes=${MiB - 3}-${2 * MiB + 2}` });
    assert.ok(part.Body.equals(buf.subarray(MiB - 3, 2 * MiB + 3)));
  });

  test('sliceUploadFile with SSE-KMS (a CMK from the config file)', async () => {
    const conf = path.join(tmp, 'kms.toml');
    fs.writeFileSync(conf, ['[sse]', '[[sse.kms_keys]]', 'id = "cmk-mp"', `key = "${crypto.randomBytes(32).toString('base64')}"`, ''].join('\n'));
    const kms = await startServer(['--config', conf]);
    try {
      const c = makeCos(kms, { ConfCwd: tmp });
      const kb = uniqueBucket();
      await c.putBucket({ Bucket: kb, Region: REGION });
      const { file, buf } = writeRandomFile('kms.bin', 2 * MiB + 77);
      const res = await c.sliceUploadFile({
        Bucket: kb, Region: REGION, Key: 'kms.bin', FilePath: file, ChunkSize: MiB,
        ServerSideEncryption: 'cos/kms', SSEKMSKeyId: 'cmk-mp',
      });
      assert.equal(res.headers['x-cos-server-side-encryption'], 'cos/kms');
      assert.equal(res.headers['x-cos-server-side-encryption-cos-kms-key-id'], 'cmk-mp');
      assert.equal(res.ETag, multipartEtag(split(buf, MiB)));
      const got = await c.getObject({ Bucket: kb, Region: REGION, Key: 'kms.bin' });
      assert.equal(got.headers['x-cos-server-side-encryption-cos-kms-key-id'], 'cmk-mp');
      assert.ok(got.Body.equals(buf));
      await dropBucket(c, kb);
    } finally {
      await kms.stop();
    }
  });

  test('SSE-C multipart: the key is required on every part and on reads', async () => {
    const Key = 'mp/edge/sse-c.bin';
    const init = await cos.multipartInit({ ...R(), Key, ...ssec });
    assert.equal(init.headers['x-cos-server-side-encryption-customer-algorithm'], 'AES256');
    const { UploadId } = init;
    const parts = [crypto.randomBytes(MiB), crypto.randomBytes(4321)];
    await expectCosError(
      cos.multipartUpload({ ...R(), Key, UploadId, PartNumber: 1, Body: parts[0] }), 400, 'SsecDecryptHeaderInvalid',
    );
    const Parts = [];
    for (const [i, Body] of parts.entries()) {
      const r = await cos.multipartUpload({ ...R(), Key, UploadId, PartNumber: i + 1, Body, ...ssec });
      assert.equal(r.ETag, `"${md5hex(Body)}"`);
      Parts.push({ PartNumber: i + 1, ETag: r.ETag });
    }
    const done = await cos.multipartComplete({ ...R(), Key, UploadId, Parts });
    assert.equal(done.headers['x-cos-server-side-encryption-customer-algorithm'], 'AES256');
    const whole = Buffer.concat(parts);
    assert.equal(done.headers['x-cos-hash-crc64ecma'], crcOf(whole));
    await assert.rejects(cos.getObject({ ...R(), Key }), (err) => err.statusCode === 400);
    const got = await cos.getObject({ ...R(), Key, ...ssec });
    assert.ok(got.Body.equals(whole));
  });

  test('versioned bucket: Complete returns the new version id', async () => {
    const vb = uniqueBucket();
    await cos.putBucket({ Bucket: vb, Region: REGION });
    try {
      await cos.putBucketVersioning({ Bucket: vb, Region: REGION, VersioningConfiguration: { Status: 'Enabled' } });
      const { file, buf } = writeRandomFile('versioned.bin', 2 * MiB + 1);
      const Key = 'v.bin';
      const r1 = await cos.sliceUploadFile({ Bucket: vb, Region: REGION, Key, FilePath: file, ChunkSize: MiB });
      const r2 = await cos.putObject({ Bucket: vb, Region: REGION, Key, Body: 'newer' });
      assert.ok(r1.VersionId && r1.headers['x-cos-version-id'], JSON.stringify(r1.headers));
      assert.notEqual(r1.VersionId, r2.VersionId);
      const old = await cos.getObject({ Bucket: vb, Region: REGION, Key, VersionId: r1.VersionId });
      assert.ok(old.Body.equals(buf));
      assert.equal(old.headers.etag, multipartEtag(split(buf, MiB)));
      const versions = await cos.listObjectVersions({ Bucket: vb, Region: REGION });
      assert.equal(versions.Versions.length, 2);
      for (const v of versions.Versions) await cos.deleteObject({ Bucket: vb, Region: REGION, Key, VersionId: v.VersionId });
    } finally {
      await cos.deleteBucket({ Bucket: vb, Region: REGION }).catch((e) => console.error(e));
    }
  });

  test('unicode / space / plus key: sliceUploadFile, resume lookup, url-encoded listings', async () => {
    const Key = 'mp/edge/中文 目录/a+b c%.bin';
    const { file, buf } = writeRandomFile('unicode.bin', 3 * MiB);
    const chunks = split(buf, MiB);
    const pre = await cos.multipartInit({ ...R(), Key });
    await uploadParts(Key, pre.UploadId, chunks.slice(0, 1));

    const parts = await cos.multipartListPart({ ...R(), Key, UploadId: pre.UploadId, EncodingType: 'url' });
    assert.equal(parts.Key, encodeURIComponent(Key).replace(/%2F/g, '/'));
    const ups = await cos.multipartList({ ...R(), Prefix: 'mp/edge/中文', EncodingType: 'url' });
    assert.equal(ups.Upload.length, 1);
    assert.equal(decodeURIComponent(ups.Upload[0].Key), Key);
    assert.equal(ups.Prefix, encodeURIComponent('mp/edge/中文').replace(/%2F/g, '/'));
    const plain = await cos.multipartList({ ...R(), Prefix: Key });
    assert.deepEqual(plain.Upload.map((u) => u.Key), [Key]);

    const c = newCos();
    const calls = spy(c, 'multipartUpload');
    const res = await c.sliceUploadFile({ ...R(), Key, FilePath: file, ChunkSize: MiB });
    assert.equal(res.UploadId, pre.UploadId);
    assert.deepEqual([...calls].sort(), [2, 3]);
    assert.equal(res.Key, Key);
    const got = await c.getObject({ ...R(), Key });
    assert.ok(got.Body.equals(buf));
  });

  test('Initiate validates what the object will carry', async () => {
    const Key = 'mp/edge/invalid-init.bin';
    await expectCosError(cos.multipartInit({ ...R(), Key, StorageClass: 'GOLD' }), 400, 'InvalidArgument');
    await expectCosError(cos.multipartInit({ ...R(), Key, ACL: 'everyone-please' }), 400, 'InvalidArgument');
    const tooMany = Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&');
    await expectCosError(cos.multipartInit({ ...R(), Key, Headers: { 'x-cos-tagging': tooMany } }), 400, 'InvalidTag');
    await expectCosError(cos.multipartInit({ ...R(), Key: 'k'.repeat(851) }), 400, 'KeyTooLong');
    assert.deepEqual((await cos.multipartList({ ...R(), Prefix: Key })).Upload, []);
  });

  test('ARCHIVE multipart object: sliceCopyFile refuses it, getObject is InvalidObjectState', async () => {
    const { file, buf } = writeRandomFile('archive.bin', 2 * MiB + 5);
    const Key = 'mp/edge/archive.bin';
    const res = await cos.sliceUploadFile({ ...R(), Key, FilePath: file, ChunkSize: MiB, StorageClass: 'ARCHIVE' });
    assert.equal(res.ETag, multipartEtag(split(buf, MiB)));
    const head = await cos.headObject({ ...R(), Key });
    assert.equal(head.headers['x-cos-storage-class'], 'ARCHIVE');
    await expectCosError(cos.getObject({ ...R(), Key }), 403, 'InvalidObjectState');
    await assert.rejects(
      cos.sliceCopyFile({ ...R(), Key: 'mp/edge/archive-copy.bin', CopySource: `${Bucket}.cos.${REGION}.myqcloud.com/${Key}`, CopySliceSize: MiB }),
      (err) => /Unrestored archive object/.test(err.message),
    );
    // the server refuses a part copy from it too
    const { UploadId } = await cos.multipartInit({ ...R(), Key: 'mp/edge/archive-part.bin' });
    await expectCosError(
      cos.uploadPartCopy({ ...R(), Key: 'mp/edge/archive-part.bin', UploadId, PartNumber: 1, CopySource: `${Bucket}.cos.${REGION}.myqcloud.com/${Key}` }),
      403, 'InvalidObjectState',
    );
    await cos.multipartAbort({ ...R(), Key: 'mp/edge/archive-part.bin', UploadId });
  });

  test('Upload Part: wrong Content-MD5 is BadDigest and stores nothing', async () => {
    const Key = 'mp/edge/bad-md5.bin';
    const { UploadId } = await cos.multipartInit({ ...R(), Key });
    const body = crypto.randomBytes(1000);
    await expectCosError(
      cos.multipartUpload({
        ...R(), Key, UploadId, PartNumber: 1, Body: body,
        ContentMD5: crypto.createHash('md5').update('other').digest('base64'),
      }),
      400, 'BadDigest',
    );
    const listed = await cos.multipartListPart({ ...R(), Key, UploadId });
    assert.deepEqual(listed.Part, []);
    const ok = await cos.multipartUpload({
      ...R(), Key, UploadId, PartNumber: 1, Body: body, ContentMD5: crypto.createHash('md5').update(body).digest('base64'),
    });
    assert.equal(ok.ETag, `"${md5hex(body)}"`);
    await cos.multipartAbort({ ...R(), Key, UploadId });
  });

  test('uploadPartCopy honours the copy-source conditions', async () => {
    const srcKey = 'mp/edge/cond-src.bin';
    const src = crypto.randomBytes(2048);
    const put = await cos.putObject({ ...R(), Key: srcKey, Body: src });
    const CopySource = `${Bucket}.cos.${REGION}.myqcloud.com/${srcKey}`;
    const Key = 'mp/edge/cond-dst.bin';
    const { UploadId } = await cos.multipartInit({ ...R(), Key });
    await expectCosError(
      cos.uploadPartCopy({ ...R(), Key, UploadId, PartNumber: 1, CopySource, Headers: { 'x-cos-copy-source-If-Match': '"0000"' } }),
      412, 'PreconditionFailed',
    );
    await expectCosError(
      cos.uploadPartCopy({ ...R(), Key, UploadId, PartNumber: 1, CopySource, Headers: { 'x-cos-copy-source-If-None-Match': put.ETag } }),
      412, 'PreconditionFailed',
    );
    const ok = await cos.uploadPartCopy({
      ...R(), Key, UploadId, PartNumber: 1, CopySource, Headers: { 'x-cos-copy-source-If-Match': put.ETag },
    });
    assert.equal(ok.ETag, put.ETag);
    await cos.multipartAbort({ ...R(), Key, UploadId });
  });

  test('sliceCopyFile into another bucket with Replaced metadata', async () => {
    const src = writeRandomFile('xb-src.bin', 5 * MiB + 3);
    const srcKey = 'mp/edge/xb-src.bin';
    await cos.putObject({ ...R(), Key: srcKey, Body: src.buf, Headers: { 'x-cos-meta-from': 'source' } });
    const other = uniqueBucket();
    await cos.putBucket({ Bucket: other, Region: REGION });
    try {
      const res = await cos.sliceCopyFile({
        Bucket: other, Region: REGION, Key: 'copied.bin',
        CopySource: `${Bucket}.cos.${REGION}.myqcloud.com/${srcKey}`,
        CopySliceSize: MiB, CopyChunkSize: MiB,
        Headers: { 'x-cos-metadata-directive': 'Replaced', 'x-cos-meta-to': 'target', 'Content-Type': 'text/x-copied' },
      });
      assert.equal(res.statusCode, 200);
      assert.equal(res.ETag, multipartEtag(split(src.buf, MiB)));
      const head = await cos.headObject({ Bucket: other, Region: REGION, Key: 'copied.bin' });
      assert.equal(head.headers['x-cos-meta-to'], 'target');
      assert.equal(head.headers['x-cos-meta-from'], undefined);
      assert.equal(head.headers['content-type'], 'text/x-copied');
      const got = await cos.getObject({ Bucket: other, Region: REGION, Key: 'copied.bin' });
      assert.ok(got.Body.equals(src.buf));
    } finally {
      await dropBucket(cos, other);
    }
  });

  test('two concurrent Completes of one upload: one wins, the other is NoSuchUpload', async () => {
    const Key = 'mp/edge/race.bin';
    const { UploadId } = await cos.multipartInit({ ...R(), Key });
    const bodies = [crypto.randomBytes(MiB), crypto.randomBytes(10)];
    const Parts = await uploadParts(Key, UploadId, bodies);
    const results = await Promise.allSettled([
      cos.multipartComplete({ ...R(), Key, UploadId, Parts: Parts.map((p) => ({ ...p })) }),
      cos.multipartComplete({ ...R(), Key, UploadId, Parts: Parts.map((p) => ({ ...p })) }),
    ]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const bad = results.filter((r) => r.status === 'rejected');
    assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.reason && r.reason.code)));
    assert.equal(bad[0].reason.statusCode, 404);
    assert.equal(bad[0].reason.code, 'NoSuchUpload');
    const got = await cos.getObject({ ...R(), Key });
    assert.ok(got.Body.equals(Buffer.concat(bodies)));
  });

  test('x-cos-forbid-overwrite at Initiate: Complete refuses to replace an object', async () => {
    const Key = 'mp/edge/forbid.bin';
    await cos.putObject({ ...R(), Key, Body: 'original' });
    await expectCosError(
      cos.multipartInit({ ...R(), Key, Headers: { 'x-cos-forbid-overwrite': 'true' } }), 409, 'FileAlreadyExists',
    );
    const Key2 = 'mp/edge/forbid-later.bin';
    const { UploadId } = await cos.multipartInit({ ...R(), Key: Key2, Headers: { 'x-cos-forbid-overwrite': 'true' } });
    const Parts = await uploadParts(Key2, UploadId, [Buffer.from('multipart')]);
    await cos.putObject({ ...R(), Key: Key2, Body: 'arrived first' });
    await expectCosError(cos.multipartComplete({ ...R(), Key: Key2, UploadId, Parts }), 409, 'FileAlreadyExists');
    const got = await cos.getObject({ ...R(), Key: Key2 });
    assert.equal(got.Body.toString(), 'arrived first');
    await cos.multipartAbort({ ...R(), Key: Key2, UploadId });
  });
});

// --- in-flight races and a server restart -------------------------------------------

/** A localcos on a real data dir (startServer is always --ephemeral). */
async function startPersistent(dataDir) {
  const child = spawn(localcosBin(), ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], {
    env: cleanEnv({ LOCALCOS_SECRET_ID: SECRET_ID, LOCALCOS_SECRET_KEY: SECRET_KEY }),
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const rl = readline.createInterface({ input: child.stdout });
  const [line] = await Promise.race([
    once(rl, 'line'),
    once(child, 'exit').then(([code]) => { throw new Error(`localcos exited (${code})`); }),
    new Promise((_, reject) => setTimeout(() => reject(new Error('localcos did not start within 30s')), 30000).unref()),
  ]);
  rl.on('line', () => {});
  const m = /127\.0\.0\.1:(\d+)$/.exec(line);
  assert.ok(m, line);
  return {
    port: Number(m[1]),
    endpoint: `127.0.0.1:${m[1]}`,
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}

describe('multipart races and restarts', () => {
  /** A part body whose second half is sent only when `release()` is called. */
  function gatedBody(size) {
    const body = new PassThrough();
    body.write(crypto.randomBytes(size / 2));
    return { Body: body, ContentLength: size, release: () => body.end(crypto.randomBytes(size / 2)) };
  }

  test('Abort while a part streams: the part fails NoSuchUpload, the upload stays gone', async () => {
    const Key = 'mp/race/abort-streaming.bin';
    const { UploadId } = await cos.multipartInit({ ...R(), Key });
    const gate = gatedBody(MiB);
    const slow = cos.multipartUpload({ ...R(), Key, UploadId, PartNumber: 1, Body: gate.Body, ContentLength: gate.ContentLength });
    await new Promise((r) => setTimeout(r, 200)); // half the body is in
    const aborted = await cos.multipartAbort({ ...R(), Key, UploadId });
    assert.equal(aborted.statusCode, 204);
    gate.release();
    await expectCosError(slow, 404, 'NoSuchUpload');
    await expectCosError(cos.multipartListPart({ ...R(), Key, UploadId }), 404, 'NoSuchUpload');
    assert.deepEqual((await cos.multipartList({ ...R(), Prefix: Key })).Upload, []);
  });

  test('Complete while another part streams: the object has the listed parts only', async () => {
    const Key = 'mp/race/complete-streaming.bin';
    const { UploadId } = await cos.multipartInit({ ...R(), Key });
    const first = Buffer.from('only the first part');
    const Parts = await uploadParts(Key, UploadId, [first]);
    const gate = gatedBody(MiB);
    const slow = cos.multipartUpload({ ...R(), Key, UploadId, PartNumber: 2, Body: gate.Body, ContentLength: gate.ContentLength });
    await new Promise((r) => setTimeout(r, 200)); // half the body is in
    const done = await cos.multipartComplete({ ...R(), Key, UploadId, Parts });
    gate.release();
    assert.equal(done.ETag, multipartEtag([first]));
    await expectCosError(slow, 404, 'NoSuchUpload');
    const got = await cos.getObject({ ...R(), Key });
    assert.ok(got.Body.equals(first));
  });

  test('multipartListPart pages past 1000 parts; MaxParts is capped at 1000', async () => {
    const Key = 'mp/race/many-parts.bin';
    const { UploadId } = await cos.multipartInit({ ...R(), Key });
    const N = 1003;
    let next = 1;
    const worker = async () => {
      while (next <= N) {
        const PartNumber = next++;
        await cos.multipartUpload({ ...R(), Key, UploadId, PartNumber, Body: `p${PartNumber}` });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const p1 = await cos.multipartListPart({ ...R(), Key, UploadId, MaxParts: 5000 });
    assert.equal(p1.Part.length, 1000);
    assert.equal(p1.MaxParts, '1000');
    assert.equal(p1.IsTruncated, 'true');
    assert.equal(p1.NextPartNumberMarker, '1000');
    const p2 = await cos.multipartListPart({ ...R(), Key, UploadId, PartNumberMarker: p1.NextPartNumberMarker });
    assert.deepEqual(p2.Part.map((p) => p.PartNumber), ['1001', '1002', '1003']);
    assert.equal(p2.Part[2].ETag, `"${md5hex(Buffer.from('p1003'))}"`);
    assert.equal(p2.IsTruncated, 'false');
    // a 1003-part Complete body (~50 KB) parses; the tiny parts are then refused
    const all = [...p1.Part, ...p2.Part].map((p) => ({ PartNumber: Number(p.PartNumber), ETag: p.ETag }));
    await expectCosError(cos.multipartComplete({ ...R(), Key, UploadId, Parts: all }), 400, 'EntityTooSmall');
    await cos.multipartAbort({ ...R(), Key, UploadId });
  });

  test('sliceUploadFile resumes after the server was killed (SIGKILL) and restarted', async () => {
    const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
    const { file, buf } = writeRandomFile('restart.bin', 8 * MiB + 5);
    const chunks = split(buf, MiB);
    const Key = 'restart/obj.bin';
    let srv = await startPersistent(dataDir);
    try {
      const vb = uniqueBucket();
      let c = makeCos(srv, { ConfCwd: tmp, ChunkParallelLimit: 2 });
      await c.putBucket({ Bucket: vb, Region: REGION });
      let taskId;
      let okParts = 0;
      let stop;
      const stopped = new Promise((resolve) => { stop = resolve; });
      spy(c, 'multipartUpload', (err) => {
        okParts += err ? 0 : 1;
        if (okParts === 3) { c.cancelTask(taskId); stop(); }
      });
      c.sliceUploadFile({ Bucket: vb, Region: REGION, Key, FilePath: file, ChunkSize: MiB, onTaskReady: (id) => { taskId = id; } })
        .catch(() => {});
      await stopped;
      await srv.kill('SIGKILL');

      srv = await startPersistent(dataDir);
      c = makeCos(srv, { ConfCwd: tmp, ChunkParallelLimit: 2 });
      const pending = await c.multipartList({ Bucket: vb, Region: REGION, Prefix: Key });
      assert.equal(pending.Upload.length, 1);
      const { UploadId } = pending.Upload[0];
      const stored = (await c.multipartListPart({ Bucket: vb, Region: REGION, Key, UploadId })).Part;
      assert.ok(stored.length >= 3, `only ${stored.length} acknowledged parts survived`);
      for (const p of stored) assert.equal(p.ETag, `"${md5hex(chunks[Number(p.PartNumber) - 1])}"`);

      const calls = spy(c, 'multipartUpload');
      const res = await c.sliceUploadFile({ Bucket: vb, Region: REGION, Key, FilePath: file, ChunkSize: MiB });
      assert.equal(res.UploadId, UploadId);
      assert.equal(calls.length, chunks.length - stored.length);
      assert.equal(res.ETag, multipartEtag(chunks));
      assert.equal(res.headers['x-cos-hash-crc64ecma'], crcOf(buf));

      // and the completed object survives a restart too
      await srv.kill('SIGTERM');
      srv = await startPersistent(dataDir);
      c = makeCos(srv, { ConfCwd: tmp });
      const got = await c.getObject({ Bucket: vb, Region: REGION, Key });
      assert.ok(got.Body.equals(buf));
      assert.equal(got.headers.etag, multipartEtag(chunks));
      await dropBucket(c, vb);
    } finally {
      await srv.kill('SIGTERM');
    }
  });
});

// --- the other addressing modes (cos.md §2) ------------------------------------------

describe('multipart in Proxy and Domain modes', () => {
  test('Proxy mode: sliceUploadFile with resume lookup, sliceCopyFile, multipartList', async () => {
    const c = new COS({
      SecretId: SECRET_ID, SecretKey: SECRET_KEY, Protocol: 'http:', Proxy: server.url, AutoSwitchHost: false,
      ConfCwd: tmp, ChunkParallelLimit: 3,
    });
    const { file, buf } = writeRandomFile('proxy.bin', 4 * MiB + 9);
    const Key = 'mp/proxy/a b+c.bin';
    const pre = await c.multipartInit({ ...R(), Key });
    await c.multipartUpload({ ...R(), Key, UploadId: pre.UploadId, PartNumber: 1, Body: buf.subarray(0, MiB) });
    const listed = await c.multipartList({ ...R(), Prefix: 'mp/proxy/' });
    assert.deepEqual(listed.Upload.map((u) => u.UploadId), [pre.UploadId]);
    const res = await c.sliceUploadFile({ ...R(), Key, FilePath: file, ChunkSize: MiB });
    assert.equal(res.UploadId, pre.UploadId);
    assert.equal(res.ETag, multipartEtag(split(buf, MiB)));
    const copy = await c.sliceCopyFile({
      ...R(), Key: 'mp/proxy/copy.bin', CopySource: `${Bucket}.cos.${REGION}.myqcloud.com/${Key}`,
      CopySliceSize: MiB, CopyChunkSize: 2 * MiB,
    });
    assert.equal(copy.ETag, multipartEtag(split(buf, 2 * MiB)));
    const got = await cos.getObject({ ...R(), Key: 'mp/proxy/copy.bin' });
    assert.ok(got.Body.equals(buf));
  });

  test('Domain mode (--default-bucket): sliceUploadFile and multipartList on the bare host', async () => {
    const DEFAULT_BUCKET = `nmpdflt-${APPID}`;
    const dflt = await startServer(['--bucket', DEFAULT_BUCKET, '--default-bucket', DEFAULT_BUCKET]);
    try {
      const c = new COS({
        SecretId: SECRET_ID, SecretKey: SECRET_KEY, Protocol: 'http:', Domain: dflt.endpoint, AutoSwitchHost: false,
        ConfCwd: tmp,
      });
      const D = { Bucket: DEFAULT_BUCKET, Region: REGION };
      const { file, buf } = writeRandomFile('domain.bin', 3 * MiB + 1);
      const pending = await c.multipartInit({ ...D, Key: 'domain/pending.bin' });
      const list = await c.multipartList({ ...D });
      assert.deepEqual(list.Upload.map((u) => u.UploadId), [pending.UploadId]);
      const res = await c.sliceUploadFile({ ...D, Key: 'domain/big.bin', FilePath: file, ChunkSize: MiB });
      assert.equal(res.ETag, multipartEtag(split(buf, MiB)));
      assert.equal(res.headers['x-cos-hash-crc64ecma'], crcOf(buf));
      const got = await c.getObject({ ...D, Key: 'domain/big.bin' });
      assert.ok(got.Body.equals(buf));
      await c.multipartAbort({ ...D, Key: 'domain/pending.bin', UploadId: pending.UploadId });
    } finally {
      await dflt.stop();
    }
  });
});
