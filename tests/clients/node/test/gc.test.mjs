// cos-nodejs-sdk-v5 against a real localcos with --gc-grace-seconds (issue 10,
// README "Blob deletion and --gc-grace-seconds"): blobs freed by overwrites,
// version deletes and aborted uploads wait for the grace as deferred deletes
// (`localcos_gc_backlog_blobs` on /-/metrics), the reader of the old version
// keeps its bytes, then the leased collector empties the backlog.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { startServer, makeCos, uniqueBucket, REGION } from '../lib/localcos.mjs';

const GRACE = 2;
let server;
let cos;

function metric(name) {
  return new Promise((resolve, reject) => {
    http.get(`${server.url}/-/metrics`, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        const line = text.split('\n').find((l) => l.startsWith(`${name} `));
        resolve(line === undefined ? null : Number(line.split(' ')[1]));
      });
    }).on('error', reject);
  });
}

async function waitFor(cond, seconds, what) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds}s: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  server = await startServer(['--gc-grace-seconds', String(GRACE)]);
  cos = makeCos(server);
});

after(async () => {
  if (server) await server.stop();
});

test('freed blobs wait for the grace, then the collector deletes them', async () => {
  const Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION });
  await cos.putBucketVersioning({
    Bucket, Region: REGION, VersioningConfiguration: { Status: 'Enabled' },
  });
  const v1 = crypto.randomBytes(200 * 1024);
  const v2 = crypto.randomBytes(100 * 1024);
  const first = await cos.putObject({ Bucket, Region: REGION, Key: 'k', Body: v1 });
  await cos.putObject({ Bucket, Region: REGION, Key: 'k', Body: v2 });
  assert.equal(await metric('localcos_gc_backlog_blobs'), 0, 'versions keep their blobs');

  // Deleting the old version frees its blob: deferred, still readable by
  // nobody through the API, gone after the grace.
  const t0 = Date.now();
  await cos.deleteObject({ Bucket, Region: REGION, Key: 'k', VersionId: first.VersionId });
  assert.equal(await metric('localcos_gc_backlog_blobs'), 1);
  // An aborted upload's part is freed the same way.
  const up = await cos.multipartInit({ Bucket, Region: REGION, Key: 'mp' });
  await cos.multipartUpload({
    Bucket, Region: REGION, Key: 'mp', UploadId: up.UploadId, PartNumber: 1, Body: Buffer.alloc(4096, 7),
  });
  await cos.multipartAbort({ Bucket, Region: REGION, Key: 'mp', UploadId: up.UploadId });
  assert.equal(await metric('localcos_gc_backlog_blobs'), 2);

  await waitFor(async () => (await metric('localcos_gc_backlog_blobs')) === 0, 20, 'backlog empty');
  assert.ok(Date.now() - t0 >= (GRACE - 0.2) * 1000, 'nothing deleted before the grace');
  const got = await cos.getObject({ Bucket, Region: REGION, Key: 'k' });
  assert.ok(got.Body.equals(v2), 'the current version is untouched');

  const list = await cos.listObjectVersions({ Bucket, Region: REGION });
  for (const v of [...list.Versions, ...list.DeleteMarkers]) {
    await cos.deleteObject({ Bucket, Region: REGION, Key: v.Key, VersionId: v.VersionId });
  }
  assert.equal(await metric('localcos_gc_backlog_blobs'), 1);
  await waitFor(async () => (await metric('localcos_gc_backlog_blobs')) === 0, 20, 'backlog empty again');
  await cos.deleteBucket({ Bucket, Region: REGION });
});
