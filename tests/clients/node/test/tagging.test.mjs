// Object tagging with cos-nodejs-sdk-v5 (spec cos.md §6A.7):
// putObjectTagging / getObjectTagging / deleteObjectTagging, x-cos-tagging on
// putObject, x-cos-tagging-count, limits and missing objects.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, makeCos, uniqueBucket, dropBucket, REGION } from '../lib/localcos.mjs';

let server;
let cos;
let Bucket;

before(async () => {
  server = await startServer();
  cos = makeCos(server);
  Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION });
});

after(async () => {
  if (cos) await dropBucket(cos, Bucket);
  if (server) await server.stop();
});

const R = () => ({ Bucket, Region: REGION });

test('put, get and delete object tags', async () => {
  const Key = 'node/tagged.txt';
  await cos.putObject({ ...R(), Key, Body: 'data' });
  const empty = await cos.getObjectTagging({ ...R(), Key });
  assert.equal(empty.statusCode, 200);
  assert.deepEqual(empty.Tags, []);

  const Tags = [{ Key: 'k1', Value: 'v1' }, { Key: 'k2', Value: 'a b+c' }];
  const put = await cos.putObjectTagging({ ...R(), Key, Tags });
  assert.equal(put.statusCode, 200);
  const got = await cos.getObjectTagging({ ...R(), Key });
  assert.deepEqual(got.Tags, Tags);
  const head = await cos.headObject({ ...R(), Key });
  assert.equal(head.headers['x-cos-tagging-count'], '2');

  const del = await cos.deleteObjectTagging({ ...R(), Key });
  assert.equal(del.statusCode, 204);
  assert.deepEqual((await cos.getObjectTagging({ ...R(), Key })).Tags, []);
  const after = await cos.headObject({ ...R(), Key });
  assert.equal(after.headers['x-cos-tagging-count'], undefined);
});

test('x-cos-tagging on putObject', async () => {
  const Key = 'node/header-tags.txt';
  // Node encodes values with encodeURIComponent (spec §6A.7).
  await cos.putObject({
    ...R(),
    Key,
    Body: 'x',
    Headers: { 'x-cos-tagging': `a=1&b=${encodeURIComponent('x y/z')}` },
  });
  const got = await cos.getObjectTagging({ ...R(), Key });
  assert.deepEqual(got.Tags, [{ Key: 'a', Value: '1' }, { Key: 'b', Value: 'x y/z' }]);
  const head = await cos.headObject({ ...R(), Key });
  assert.equal(head.headers['x-cos-tagging-count'], '2');
});

test('tagging errors', async () => {
  await assert.rejects(
    cos.getObjectTagging({ ...R(), Key: 'node/missing' }),
    (err) => err.statusCode === 404 && err.code === 'NoSuchKey',
  );
  await assert.rejects(
    cos.putObjectTagging({ ...R(), Key: 'node/missing', Tags: [{ Key: 'a', Value: 'b' }] }),
    (err) => err.statusCode === 404 && err.code === 'NoSuchKey',
  );
  await cos.putObject({ ...R(), Key: 'node/t2', Body: 'x' });
  const eleven = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
  await assert.rejects(
    cos.putObjectTagging({ ...R(), Key: 'node/t2', Tags: eleven }),
    (err) => err.statusCode === 400 && err.code === 'InvalidTag',
  );
  await assert.rejects(
    cos.putObjectTagging({ ...R(), Key: 'node/t2', Tags: [{ Key: 'k', Value: 'v'.repeat(257) }] }),
    (err) => err.statusCode === 400 && err.code === 'InvalidTag',
  );
});
