// OSS multipart upload through ali-oss (V1 and V4): `multipartUpload` of a
// file in concurrent 100 KiB parts (OSS's minimum), `multipartUploadCopy`
// (UploadPartCopy), and the low-level calls with listings and abort.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import {
  startServer, makeCos, uniqueBucket, dropBucket, crc64, REGION, SECRET_ID, SECRET_KEY,
} from '../lib/localcos.mjs';

const require = createRequire(import.meta.url);
const OSS = require('ali-oss');

const PART = 100 * 1024;
let server;
let cos;
let bucket;
let tmp;

function client(extra = {}) {
  return new OSS({
    region: 'oss-cn-hangzhou',
    endpoint: server.url,
    bucket,
    accessKeyId: SECRET_ID,
    accessKeySecret: SECRET_KEY,
    secure: false,
    timeout: 60000,
    ...extra,
  });
}

function pattern(n, seed) {
  const out = Buffer.alloc(n);
  let block = crypto.createHash('sha256').update(`oss-seed-${seed}`).digest();
  for (let off = 0; off < n; off += 32) {
    block = crypto.createHash('sha256').update(block).digest();
    block.copy(out, off, 0, Math.min(32, n - off));
  }
  return out;
}

const md5 = (b) => crypto.createHash('md5').update(b).digest();
const multipartEtag = (parts) =>
  `${crypto.createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-${parts.length}`;
const unquote = (e) => e.replace(/"/g, '').toLowerCase();

before(async () => {
  server = await startServer();
  cos = makeCos(server);
  bucket = uniqueBucket();
  await cos.putBucket({ Bucket: bucket, Region: REGION });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localcos-oss-mp-'));
});

after(async () => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  if (cos && bucket) await dropBucket(cos, bucket);
  if (server) await server.stop();
});

for (const [name, extra] of [['V1', {}], ['V4', { authorizationV4: true }]]) {
  test(`ali-oss ${name}: multipartUpload of a file, then multipartUploadCopy`, async () => {
    const c = client(extra);
    const size = 7 * PART + 333;
    const data = pattern(size, name);
    const file = path.join(tmp, `src-${name}.bin`);
    fs.writeFileSync(file, data);
    const key = `ali-mp/${name}/file one.bin`;
    const progress = [];
    const up = await c.multipartUpload(key, file, {
      parallel: 3, partSize: PART, meta: { color: 'red' }, progress: (p) => { progress.push(p); },
    });
    assert.equal(up.res.status, 200);
    const parts = [];
    for (let off = 0; off < size; off += PART) parts.push(data.subarray(off, off + PART));
    assert.equal(parts.length, 8);
    assert.equal(unquote(up.etag), multipartEtag(parts));
    assert.equal(progress.at(-1), 1);

    const head = await c.head(key);
    assert.equal(head.res.headers['content-length'], String(size));
    assert.equal(head.res.headers['x-oss-object-type'], 'Multipart');
    assert.equal(head.res.headers['x-oss-hash-crc64ecma'], crc64(data));
    assert.equal(head.meta.color, 'red');
    const got = await c.get(key);
    assert.ok(Buffer.compare(got.content, data) === 0);

    // Server-side copy in parts (UploadPartCopy with ranges).
    const copyKey = `ali-mp/${name}/copy.bin`;
    const copied = await c.multipartUploadCopy(copyKey, { sourceKey: key, sourceBucketName: bucket },
      { parallel: 2, partSize: 3 * PART });
    assert.equal(copied.res.status, 200);
    const back = await c.get(copyKey);
    assert.ok(Buffer.compare(back.content, data) === 0);
  });
}

test('ali-oss low level: init, uploadPart, listParts, listUploads, complete, abort', async () => {
  const c = client({ authorizationV4: true });
  const key = 'ali-mp/low+level.bin';
  const parts = [pattern(PART, 'a'), pattern(55, 'b')];
  const init = await c.initMultipartUpload(key);
  assert.ok(init.uploadId);
  const done = [];
  for (const [i, p] of parts.entries()) {
    const file = path.join(tmp, `part-${i}.bin`);
    fs.writeFileSync(file, p);
    const r = await c.uploadPart(key, init.uploadId, i + 1, file, 0, p.length);
    assert.equal(unquote(r.etag), md5(p).toString('hex'));
    done.push({ number: i + 1, etag: r.etag });
  }
  const listed = await c.listParts(key, init.uploadId);
  const partList = Array.isArray(listed.parts) ? listed.parts : [listed.parts];
  assert.deepEqual(partList.map((p) => [p.PartNumber, p.Size]), [['1', String(PART)], ['2', '55']]);
  const ups = await c.listUploads({ prefix: 'ali-mp/' });
  assert.deepEqual(ups.uploads.map((u) => [u.name, u.uploadId]), [[key, init.uploadId]]);

  const fin = await c.completeMultipartUpload(key, init.uploadId, done);
  assert.equal(unquote(fin.etag), multipartEtag(parts));
  assert.ok(Buffer.compare((await c.get(key)).content, Buffer.concat(parts)) === 0);

  // Abort, and errors in OSS shape.
  const other = await c.initMultipartUpload('ali-mp/aborted.bin');
  await c.abortMultipartUpload('ali-mp/aborted.bin', other.uploadId);
  await assert.rejects(c.listParts('ali-mp/aborted.bin', other.uploadId),
    (e) => e.code === 'NoSuchUpload' && e.status === 404 && !!e.requestId);
  await assert.rejects(c.completeMultipartUpload(key, init.uploadId, done),
    (e) => e.code === 'NoSuchUpload' && e.status === 404);
});
