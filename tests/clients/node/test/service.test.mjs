// cos-nodejs-sdk-v5 against a real localcos: getService filters (tag,
// region in the host, creation time, paging) and putBucket's
// BucketAZConfig / BucketArchConfig as headBucket reports them
// (cos-bucket.md §15.1, §15.2).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  COS, startServer, makeCos, uniqueBucket, dropBucket, REGION, SECRET_ID, SECRET_KEY,
} from '../lib/localcos.mjs';

let server;
let cos;
// getService through localcos as an HTTP proxy, so the SDK's own service
// host names (`service.cos.myqcloud.com`, `cos.<region>.myqcloud.com`) arrive.
let svc;
const made = [];

before(async () => {
  server = await startServer();
  cos = makeCos(server);
  svc = new COS({
    SecretId: SECRET_ID, SecretKey: SECRET_KEY, Protocol: 'http:', Proxy: server.url, AutoSwitchHost: false,
  });
  for (let i = 0; i < 3; i += 1) {
    const Bucket = uniqueBucket();
    await cos.putBucket({ Bucket, Region: REGION });
    made.push(Bucket);
  }
});

after(async () => {
  for (const Bucket of made) await dropBucket(cos, Bucket);
  if (server) await server.stop();
});

const names = (r) => r.Buckets.map((b) => b.Name);

test('getService filters by bucket tag', async () => {
  const value = crypto.randomBytes(4).toString('hex');
  for (const Bucket of made.slice(0, 2)) {
    await cos.putBucketTagging({ Bucket, Region: REGION, Tags: [{ Key: 'node-filter', Value: value }] });
  }
  const tagged = await svc.getService({ TagKey: 'node-filter', TagValue: value });
  assert.equal(tagged.statusCode, 200);
  assert.deepEqual(names(tagged).sort(), made.slice(0, 2).sort());
  const none = await svc.getService({ TagKey: 'node-filter', TagValue: 'nope' });
  assert.deepEqual(names(none), []);
});

test('getService filters by the region in the host and by creation time', async () => {
  const here = await svc.getService({ Region: REGION });
  for (const b of made) assert.ok(names(here).includes(b), b);
  const elsewhere = await svc.getService({ Region: 'ap-beijing' });
  assert.deepEqual(names(elsewhere), []);

  const later = Math.floor(Date.now() / 1000) + 3600;
  const before = await svc.getService({ CreateTime: later, CreateRange: 'lt' });
  for (const b of made) assert.ok(names(before).includes(b), b);
  const after = await svc.getService({ CreateTime: later, CreateRange: 'gt' });
  assert.deepEqual(names(after), []);
  await assert.rejects(svc.getService({ CreateTime: later, CreateRange: 'eq' }), (e) => {
    assert.equal(e.statusCode, 400);
    assert.equal(e.code, 'InvalidArgument');
    return true;
  });
});

test('getService pages with Marker and MaxKeys', async () => {
  const sorted = [...made].sort();
  const page = await svc.getService({ Marker: sorted[0], MaxKeys: 1 });
  assert.equal(page.Buckets.length, 1);
  assert.ok(page.Buckets[0].Name > sorted[0], page.Buckets[0].Name);
  assert.match(page.Buckets[0].CreationDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test('putBucket with BucketAZConfig / BucketArchConfig, reported by headBucket', async () => {
  const Bucket = uniqueBucket();
  made.push(Bucket);
  const put = await cos.putBucket({ Bucket, Region: REGION, BucketAZConfig: 'MAZ', BucketArchConfig: 'OFS' });
  assert.equal(put.statusCode, 200);
  const head = await cos.headBucket({ Bucket, Region: REGION });
  assert.equal(head.statusCode, 200);
  assert.equal(head.headers['x-cos-bucket-region'], REGION);
  assert.equal(head.headers['x-cos-bucket-az-type'], 'MAZ');
  assert.equal(head.headers['x-cos-bucket-arch'], 'OFS');
  const plain = await cos.headBucket({ Bucket: made[0], Region: REGION });
  assert.equal(plain.headers['x-cos-bucket-region'], REGION);
  assert.equal(plain.headers['x-cos-bucket-az-type'], undefined);
  const loc = await cos.getBucketLocation({ Bucket, Region: REGION });
  assert.equal(loc.LocationConstraint, REGION);
});
