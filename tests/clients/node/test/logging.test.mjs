// cos-nodejs-sdk-v5 against a real localcos: bucket access logging
// (cos-bucket.md §7, NOTES-ON-ISSUES 8). putBucketLogging/getBucketLogging,
// disabling with an empty status, the documented error for a missing target,
// and the effect: log objects with one line per request in COS's field order,
// delivered every second (`--log-interval-seconds 1`), the delivery itself
// never logged. Runs in about 5 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, makeCos, uniqueBucket, dropBucket, REGION } from '../lib/localcos.mjs';

let server;
let cos;
let src;
let target;

before(async () => {
  server = await startServer(['--log-interval-seconds', '1']);
  cos = makeCos(server);
  src = uniqueBucket();
  target = uniqueBucket();
  await cos.putBucket({ Bucket: src, Region: REGION });
  await cos.putBucket({ Bucket: target, Region: REGION });
});

after(async () => {
  if (cos) {
    await cos.putBucketLogging({ Bucket: src, Region: REGION, BucketLoggingStatus: '' });
    await dropBucket(cos, src);
    await dropBucket(cos, target);
  }
  if (server) await server.stop();
});

async function waitForKeys(Bucket, Prefix, ms = 8000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const list = await cos.getBucket({ Bucket, Region: REGION, Prefix });
    if (list.Contents.length) return list.Contents.map((c) => c.Key);
    await new Promise((r) => setTimeout(r, 200));
  }
  return [];
}

async function lines(Bucket, keys) {
  const out = [];
  for (const Key of keys) {
    const o = await cos.getObject({ Bucket, Region: REGION, Key });
    out.push(...o.Body.toString().split('\n').filter(Boolean).map((l) => l.split(' ')));
  }
  return out;
}

test('put, get, disable and the missing-target error', async () => {
  const none = await cos.getBucketLogging({ Bucket: src, Region: REGION });
  assert.equal(none.statusCode, 200);
  assert.equal(none.BucketLoggingStatus, '');
  const status = { LoggingEnabled: { TargetBucket: target, TargetPrefix: 'logs/' } };
  const put = await cos.putBucketLogging({ Bucket: src, Region: REGION, BucketLoggingStatus: status });
  assert.equal(put.statusCode, 200);
  const got = await cos.getBucketLogging({ Bucket: src, Region: REGION });
  assert.deepEqual(got.BucketLoggingStatus, status);
  await assert.rejects(
    cos.putBucketLogging({
      Bucket: src,
      Region: REGION,
      BucketLoggingStatus: { LoggingEnabled: { TargetBucket: uniqueBucket(), TargetPrefix: 'x/' } },
    }),
    (err) => err.statusCode === 400 && err.code === 'InvalidTargetBucketForLogging',
  );
  // Disabling (the SDK's own test sends an empty status).
  await cos.putBucketLogging({ Bucket: src, Region: REGION, BucketLoggingStatus: '' });
  const off = await cos.getBucketLogging({ Bucket: src, Region: REGION });
  assert.equal(off.BucketLoggingStatus, '');
});

test('a log object appears with the right lines; its delivery is not logged', async () => {
  await cos.putBucketLogging({
    Bucket: src,
    Region: REGION,
    BucketLoggingStatus: { LoggingEnabled: { TargetBucket: target, TargetPrefix: 'node/' } },
  });
  await cos.putObject({ Bucket: src, Region: REGION, Key: 'a b.txt', Body: Buffer.from('hello') });
  const o = await cos.getObject({ Bucket: src, Region: REGION, Key: 'a b.txt' });
  assert.equal(o.Body.toString(), 'hello');
  const keys = await waitForKeys(target, 'node/');
  assert.ok(keys.length > 0, 'a log object within a few intervals');
  assert.match(keys[0], /^node\/\d{4}\/\d{2}\/\d{2}\/\d{14}_[0-9a-f]{8}_\d+$/);
  await new Promise((r) => setTimeout(r, 1500));
  const all = await lines(target, await waitForKeys(target, 'node/'));
  for (const l of all) {
    assert.equal(l.length, 28, l.join(' '));
    assert.equal(l[0], '1.0');
    assert.equal(l[1], src);
    assert.equal(l[2], REGION);
    assert.equal(l[6], '127.0.0.1');
  }
  const put = all.find((l) => l[5] === 'PutObject');
  assert.ok(put, 'PutObject logged');
  assert.equal(put[11], '/a%20b.txt');
  assert.equal(put[12], 'put');
  assert.equal(put[14], '200');
  const get = all.find((l) => l[5] === 'GetObject');
  assert.equal(get[17], '5');
  assert.match(get[13], /^cos-nodejs-sdk-v5/);
  // No line for a write into the target (the deliveries).
  assert.ok(all.every((l) => !l[11].startsWith('/node/')));
});
