// @aws-sdk/client-s3 (JS v3, SigV4, default checksums) and
// @aws-sdk/s3-request-presigner against a real localcos, path style.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  S3Client, CreateBucketCommand, HeadBucketCommand, ListBucketsCommand, DeleteBucketCommand,
  PutObjectCommand, GetObjectCommand, HeadObjectCommand, DeleteObjectCommand, CopyObjectCommand,
  ListObjectsV2Command, ListObjectsCommand, DeleteObjectsCommand, GetBucketLocationCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startServer, makeCos, SECRET_ID, SECRET_KEY, APPID, REGION } from '../lib/localcos.mjs';

// The machine's AWS_* settings (AWS_CA_BUNDLE, profiles, checksum modes) must not
// steer this client (NOTES 21); this test file runs in its own process.
for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];

let server;
let s3;
const Bucket = `node-s3-${crypto.randomBytes(5).toString('hex')}`;

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

test('buckets: create without LocationConstraint, head, list, location', async () => {
  const head = await s3.send(new HeadBucketCommand({ Bucket }));
  assert.equal(head.$metadata.httpStatusCode, 200);
  assert.ok(head.$metadata.requestId);
  const { Buckets } = await s3.send(new ListBucketsCommand({}));
  assert.ok(Buckets.some((b) => b.Name === Bucket));
  const loc = await s3.send(new GetBucketLocationCommand({ Bucket }));
  assert.equal(loc.LocationConstraint, REGION);
  await assert.rejects(s3.send(new HeadBucketCommand({ Bucket: 'no-such-node-bucket' })),
    (e) => e.$metadata.httpStatusCode === 404);
});

test('objects: put with metadata, get, range, head, errors', async () => {
  const body = Buffer.from('hello from JS v3 \u00e9'.repeat(50));
  const put = await s3.send(new PutObjectCommand({
    Bucket, Key: 'dir/a b+c.txt', Body: body, ContentType: 'text/plain', Metadata: { color: 'blue' },
  }));
  assert.equal(put.ETag, `"${crypto.createHash('md5').update(body).digest('hex')}"`);
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'dir/a b+c.txt' }));
  assert.equal(got.ContentType, 'text/plain');
  assert.deepEqual(got.Metadata, { color: 'blue' });
  assert.ok(Buffer.from(await got.Body.transformToByteArray()).equals(body));
  const part = await s3.send(new GetObjectCommand({ Bucket, Key: 'dir/a b+c.txt', Range: 'bytes=0-4' }));
  assert.equal(part.ContentRange, `bytes 0-4/${body.length}`);
  assert.equal(await part.Body.transformToString(), 'hello');
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'dir/a b+c.txt' }));
  assert.equal(head.ContentLength, body.length);
  await assert.rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'missing' })), (e) => {
    assert.equal(e.name, 'NoSuchKey');
    assert.equal(e.$metadata.httpStatusCode, 404);
    assert.ok(e.$metadata.requestId);
    return true;
  });
  await assert.rejects(
    s3.send(new PutObjectCommand({ Bucket, Key: 'dir/a b+c.txt', Body: 'x', IfNoneMatch: '*' })),
    (e) => e.name === 'PreconditionFailed' && e.$metadata.httpStatusCode === 412,
  );
});

test('copy, list v1/v2 with pagination, delete objects', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'src.txt', Body: 'copy me', Metadata: { k: 'v' } }));
  const copy = await s3.send(new CopyObjectCommand({ Bucket, Key: 'list/copy.txt', CopySource: `${Bucket}/src.txt` }));
  assert.equal(copy.CopyObjectResult.ETag, `"${crypto.createHash('md5').update('copy me').digest('hex')}"`);
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'list/copy.txt' }));
  assert.deepEqual(head.Metadata, { k: 'v' });
  for (const k of ['list/a', 'list/b', 'list/c d', 'list/sub/e']) {
    await s3.send(new PutObjectCommand({ Bucket, Key: k, Body: k }));
  }
  const keys = [];
  let ContinuationToken;
  let pages = 0;
  do {
    const out = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'list/', MaxKeys: 2, ContinuationToken }));
    pages += 1;
    assert.equal(out.KeyCount, out.Contents.length);
    keys.push(...out.Contents.map((o) => o.Key));
    ContinuationToken = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (ContinuationToken);
  assert.equal(pages, 3);
  assert.deepEqual(keys, ['list/a', 'list/b', 'list/c d', 'list/copy.txt', 'list/sub/e']);
  const v1 = await s3.send(new ListObjectsCommand({ Bucket, Prefix: 'list/', Delimiter: '/' }));
  assert.deepEqual(v1.CommonPrefixes.map((c) => c.Prefix), ['list/sub/']);
  const del = await s3.send(new DeleteObjectsCommand({
    Bucket, Delete: { Objects: keys.map((Key) => ({ Key })) },
  }));
  assert.equal(del.Deleted.length, keys.length);
});

test('presigned GET (s3-request-presigner) fetched without the SDK', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'pre/signed.txt', Body: 'presigned' }));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'pre/signed.txt' }), { expiresIn: 300 });
  assert.match(url, /X-Amz-Signature=/);
  const res = await fetch(url);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(await res.text(), 'presigned');
  assert.equal(res.headers.get('server'), 'AmazonS3');
  assert.ok(res.headers.get('x-amz-request-id'));
});

test('what S3 writes, COS reads: x-amz-meta-* is x-cos-meta-*', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'shared.txt', Body: 'shared', Metadata: { foo: 'bar' } }));
  const cos = makeCos(server);
  const got = await cos.getObject({ Bucket: `${Bucket}-${APPID}`, Region: REGION, Key: 'shared.txt' });
  assert.equal(got.headers['x-cos-meta-foo'], 'bar');
  assert.equal(got.Body.toString(), 'shared');
});

test('stream body: aws-chunked with a CRC32 trailer over plain HTTP', async () => {
  // JS v3 sends stream bodies as STREAMING-UNSIGNED-PAYLOAD-TRAILER even on HTTP (s3.md §2).
  const data = crypto.randomBytes(300_000);
  const file = path.join(os.tmpdir(), `localcos-js-stream-${process.pid}.bin`);
  fs.writeFileSync(file, data);
  try {
    const put = await s3.send(new PutObjectCommand({
      Bucket, Key: 'stream.bin', Body: fs.createReadStream(file), ContentLength: data.length,
    }));
    assert.equal(put.ETag, `"${crypto.createHash('md5').update(data).digest('hex')}"`);
  } finally {
    fs.unlinkSync(file);
  }
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'stream.bin' }));
  assert.equal(got.ContentLength, data.length);
  assert.ok(Buffer.from(await got.Body.transformToByteArray()).equals(data));
});
