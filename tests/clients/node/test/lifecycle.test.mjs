// cos-nodejs-sdk-v5 against a real localcos: bucket lifecycle
// (cos-bucket.md §4): putBucketLifecycle / getBucketLifecycle /
// deleteBucketLifecycle round trips (the SDK's own test shapes: a Date kept
// as sent, one Transition given as an object), validation errors, and the
// expiration effect with 2-second days (`--day-seconds 2`): an object under a
// 1-day rule is gone within 6 s and announced by `x-cos-expiration`.
// (This SDK version has no intelligent-tiering calls.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, makeCos, uniqueBucket, dropBucket, REGION } from '../lib/localcos.mjs';

let server;
let cos;
let Bucket;

before(async () => {
  server = await startServer(['--day-seconds', '2']);
  cos = makeCos(server);
  Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION });
});

after(async () => {
  if (cos) await dropBucket(cos, Bucket).catch(() => {});
  if (server) await server.stop();
});

test('lifecycle rules round-trip, refuse bad documents and delete', async () => {
  // The SDK maps 404 NoSuchLifecycleConfiguration to no rules.
  const none = await cos.getBucketLifecycle({ Bucket, Region: REGION });
  assert.equal(none.statusCode, 404);
  assert.deepEqual(none.Rules, []);
  const Rules = [
    {
      ID: 'logs-tiering',
      Status: 'Enabled',
      Filter: { And: { Prefix: 'logs/', Tag: { Key: 'datalevel', Value: 'backup' } } },
      Transition: [
        { Days: '30', StorageClass: 'STANDARD_IA' },
        { Days: '90', StorageClass: 'ARCHIVE' },
      ],
      Expiration: { Days: '365' },
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: '7' },
    },
    {
      ID: 'by-date',
      Status: 'Enabled',
      Filter: { Prefix: 'tmp/' },
      Transition: { Date: '2018-07-29T16:00:00.000Z', StorageClass: 'STANDARD_IA' },
      Expiration: { Date: '2030-01-01T00:00:00+08:00' },
    },
    {
      ID: 'noncurrent',
      Status: 'Disabled',
      Filter: { Prefix: '' },
      Expiration: { ExpiredObjectDeleteMarker: 'true' },
      NoncurrentVersionExpiration: { NoncurrentDays: '180' },
    },
  ];
  const put = await cos.putBucketLifecycle({ Bucket, Region: REGION, Rules });
  assert.equal(put.statusCode, 200);
  const got = await cos.getBucketLifecycle({ Bucket, Region: REGION });
  assert.equal(got.statusCode, 200);
  assert.deepEqual(got.Rules, Rules, 'GET returns what was PUT');

  // Days and Date together; an unknown storage class: 400, nothing changes.
  for (const bad of [
    { ID: 'x', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: '1', Date: '2030-01-01T00:00:00+08:00' } },
    { ID: 'x', Status: 'Enabled', Filter: { Prefix: '' }, Transition: { Days: '1', StorageClass: 'GLACIER' } },
  ]) {
    await assert.rejects(cos.putBucketLifecycle({ Bucket, Region: REGION, Rules: [bad] }), (err) => {
      assert.equal(err.statusCode, 400);
      assert.equal(err.code, 'InvalidArgument');
      return true;
    });
  }
  assert.equal((await cos.getBucketLifecycle({ Bucket, Region: REGION })).Rules.length, 3);

  const del = await cos.deleteBucketLifecycle({ Bucket, Region: REGION });
  assert.equal(del.statusCode, 204);
  const gone = await cos.getBucketLifecycle({ Bucket, Region: REGION });
  assert.equal(gone.statusCode, 404);
  assert.deepEqual(gone.Rules, []);
});

test('a 1-day Expiration removes the object within 3 days of 2 s', async () => {
  await cos.putBucketLifecycle({
    Bucket,
    Region: REGION,
    Rules: [{ ID: 'tmp-1d', Status: 'Enabled', Filter: { Prefix: 'tmp/' }, Expiration: { Days: '1' } }],
  });
  const start = Date.now();
  const put = await cos.putObject({ Bucket, Region: REGION, Key: 'tmp/short.txt', Body: 'short-lived' });
  await cos.putObject({ Bucket, Region: REGION, Key: 'keep/long.txt', Body: 'stays' });
  const announced = put.headers['x-cos-expiration'];
  assert.match(announced, /^expiry-date="[^"]+ GMT", rule-id="tmp-1d"$/);
  const due = Date.parse(announced.split('"')[1]);
  assert.ok(due >= start - 1000 && due <= start + 5000, `${announced} vs ${new Date(start)}`);
  const head = await cos.headObject({ Bucket, Region: REGION, Key: 'tmp/short.txt' });
  assert.equal(head.headers['x-cos-expiration'], announced);
  const keep = await cos.headObject({ Bucket, Region: REGION, Key: 'keep/long.txt' });
  assert.equal(keep.headers['x-cos-expiration'], undefined);
  for (;;) {
    const gone = await cos.headObject({ Bucket, Region: REGION, Key: 'tmp/short.txt' }).then(
      () => false,
      (err) => {
        assert.equal(err.statusCode, 404);
        return true;
      },
    );
    if (gone) break;
    assert.ok(Date.now() - start < 8000, 'not expired within 3 days of 2 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  const still = await cos.headObject({ Bucket, Region: REGION, Key: 'keep/long.txt' });
  assert.equal(still.statusCode, 200);
  await cos.deleteBucketLifecycle({ Bucket, Region: REGION });
});
