// S3 multipart upload through @aws-sdk/client-s3 (JS v3: default CRC32
// checksums, entity-escaped `&quot;` ETags and an XML declaration in the
// Complete body) and @aws-sdk/lib-storage's `Upload` (concurrent parts from a
// stream), against a real localcos, path style.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import {
  S3Client, CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand,
  HeadObjectCommand, ListObjectsV2Command, CreateMultipartUploadCommand, UploadPartCommand,
  UploadPartCopyCommand, CompleteMultipartUploadCommand, AbortMultipartUploadCommand,
  ListPartsCommand, ListMultipartUploadsCommand, PutObjectCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { startServer, SECRET_ID, SECRET_KEY } from '../lib/localcos.mjs';

// The machine's AWS_* settings must not steer this client (NOTES 21).
for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];

const MIB = 1024 * 1024;
const PART = 5 * MIB;
let server;
let s3;
const Bucket = `node-mp-${crypto.randomBytes(5).toString('hex')}`;

function pattern(n, seed) {
  const out = Buffer.alloc(n);
  let block = crypto.createHash('sha256').update(`seed-${seed}`).digest();
  for (let off = 0; off < n; off += 32) {
    block = crypto.createHash('sha256').update(block).digest();
    block.copy(out, off, 0, Math.min(32, n - off));
  }
  return out;
}

const md5 = (b) => crypto.createHash('md5').update(b).digest();
const crc32b64 = (b) => {
  const v = Buffer.alloc(4);
  v.writeUInt32BE(zlib.crc32(b));
  return v.toString('base64');
};
const multipartEtag = (parts) =>
  `"${crypto.createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-${parts.length}"`;

async function bodyBytes(got) {
  return Buffer.from(await got.Body.transformToByteArray());
}

before(async () => {
  server = await startServer();
  s3 = new S3Client({
    endpoint: server.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: SECRET_ID, secretAccessKey: SECRET_KEY },
    maxAttempts: 1,
  });
  await s3.send(new CreateBucketCommand({ Bucket }));
});

after(async () => {
  if (s3) {
    try {
      const ups = await s3.send(new ListMultipartUploadsCommand({ Bucket }));
      for (const u of ups.Uploads ?? []) {
        await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId }));
      }
      const list = await s3.send(new ListObjectsV2Command({ Bucket }));
      for (const o of list.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket, Key: o.Key }));
      await s3.send(new DeleteBucketCommand({ Bucket }));
    } catch (e) {
      console.error(`cleanup of ${Bucket} failed: ${e && e.message}`);
    }
    s3.destroy();
  }
  if (server) await server.stop();
});

test('JS v3 low level: create, upload parts with CRC32, list, complete', async () => {
  const Key = 'js/multi part+1.bin';
  const parts = [pattern(PART, 1), pattern(PART, 2), pattern(4321, 3)];
  const created = await s3.send(new CreateMultipartUploadCommand({
    Bucket, Key, ChecksumAlgorithm: 'CRC32', ContentType: 'application/x-js', Metadata: { color: 'green' },
  }));
  const { UploadId } = created;
  assert.ok(UploadId);
  assert.equal(created.Key, Key);

  const done = [];
  for (const [i, Body] of parts.entries()) {
    const r = await s3.send(new UploadPartCommand({
      Bucket, Key, UploadId, PartNumber: i + 1, Body, ChecksumAlgorithm: 'CRC32',
    }));
    assert.equal(r.ETag, `"${md5(Body).toString('hex')}"`);
    assert.equal(r.ChecksumCRC32, crc32b64(Body));
    done.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 });
  }
  const ups = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'js/' }));
  assert.deepEqual(ups.Uploads.map((u) => [u.Key, u.UploadId]), [[Key, UploadId]]);
  const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
  assert.deepEqual(listed.Parts.map((p) => [p.PartNumber, p.ETag, p.Size]),
    done.map((d, i) => [d.PartNumber, d.ETag, parts[i].length]));

  // JS v3 sends `&quot;`-escaped ETags and an XML declaration here.
  const completed = await s3.send(new CompleteMultipartUploadCommand({
    Bucket, Key, UploadId, MultipartUpload: { Parts: done },
  }));
  assert.equal(completed.ETag, multipartEtag(parts));
  assert.equal(completed.Key, Key);

  const got = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
  assert.equal(got.ContentType, 'application/x-js');
  assert.equal(got.Metadata.color, 'green');
  assert.equal(got.ETag, completed.ETag);
  assert.ok(Buffer.compare(await bodyBytes(got), Buffer.concat(parts)) === 0);
});

test('JS v3: upload part copy with a range, and S3 error codes', async () => {
  const src = pattern(PART + 100, 9);
  await s3.send(new PutObjectCommand({ Bucket, Key: 'js/src.bin', Body: src }));
  const Key = 'js/copied.bin';
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
  const ranges = [[0, PART - 1], [PART, src.length - 1]];
  const done = [];
  for (const [i, [a, b]] of ranges.entries()) {
    const r = await s3.send(new UploadPartCopyCommand({
      Bucket, Key, UploadId, PartNumber: i + 1, CopySource: `${Bucket}/js/src.bin`,
      CopySourceRange: `bytes=${a}-${b}`,
    }));
    assert.equal(r.CopyPartResult.ETag, `"${md5(src.subarray(a, b + 1)).toString('hex')}"`);
    done.push({ PartNumber: i + 1, ETag: r.CopyPartResult.ETag });
  }
  await assert.rejects(
    s3.send(new CompleteMultipartUploadCommand({
      Bucket, Key, UploadId, MultipartUpload: { Parts: [...done].reverse() },
    })),
    (e) => e.name === 'InvalidPartOrder' && e.$metadata.httpStatusCode === 400);
  await assert.rejects(
    s3.send(new CompleteMultipartUploadCommand({
      Bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"00"' }] },
    })),
    (e) => e.name === 'InvalidPart' && e.$metadata.httpStatusCode === 400);
  await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }));
  const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
  assert.ok(Buffer.compare(await bodyBytes(got), src) === 0);

  await assert.rejects(
    s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: Buffer.from('x') })),
    (e) => e.name === 'NoSuchUpload' && e.$metadata.httpStatusCode === 404);
  await assert.rejects(
    s3.send(new ListPartsCommand({ Bucket, Key, UploadId })),
    (e) => e.name === 'NoSuchUpload' && e.$metadata.httpStatusCode === 404);
});

test('lib-storage Upload: a stream in concurrent 5 MiB parts', async () => {
  const Key = 'js/lib-storage.bin';
  const size = 3 * PART + 999;
  const data = pattern(size, 21);
  // A stream of unknown length: Upload cuts it into parts itself.
  const chunks = [];
  for (let off = 0; off < size; off += 64 * 1024) chunks.push(data.subarray(off, off + 64 * 1024));
  const upload = new Upload({
    client: s3,
    params: { Bucket, Key, Body: Readable.from(chunks), ContentType: 'application/x-lib' },
    partSize: PART,
    queueSize: 3,
    leavePartsOnError: false,
  });
  const out = await upload.done();
  assert.equal(out.ETag, multipartEtag([0, 1, 2, 3].map((i) => data.subarray(i * PART, (i + 1) * PART))));
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
  assert.equal(head.ContentLength, size);
  assert.equal(head.ContentType, 'application/x-lib');
  const got = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
  const back = await bodyBytes(got);
  assert.equal(crypto.createHash('sha256').update(back).digest('hex'),
    crypto.createHash('sha256').update(data).digest('hex'));

  // Below one part, Upload sends a single PutObject.
  const small = await new Upload({ client: s3, params: { Bucket, Key: 'js/small.bin', Body: Buffer.from('tiny') } }).done();
  assert.equal(small.ETag, `"${md5(Buffer.from('tiny')).toString('hex')}"`);
});
