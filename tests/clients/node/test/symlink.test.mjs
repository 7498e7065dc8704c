// Symlinks with cos-nodejs-sdk-v5 (spec cos-bucket.md §15.3). The Node SDK
// has no symlink call: PUT/GET ?symlink go through the SDK's signed
// `cos.request` (Action 'symlink'); following is checked with getObject /
// headObject.
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
const putLink = (Key, target) =>
  cos.request({ ...R(), Method: 'PUT', Key, Action: 'symlink', Headers: { 'x-cos-symlink-target': target } });

test('put and get a symlink; GET/HEAD follow it', async () => {
  const target = 'reports/2024/report v1.pdf';
  await cos.putObject({ ...R(), Key: target, Body: 'hello', ContentType: 'application/pdf' });
  // Like the Go SDK, send the target URL-encoded: the server decodes it.
  const put = await putLink('latest/report.pdf', encodeURIComponent(target));
  assert.equal(put.statusCode, 200);
  assert.ok(put.headers['x-cos-request-id']);
  const got = await cos.request({ ...R(), Method: 'GET', Key: 'latest/report.pdf', Action: 'symlink' });
  assert.equal(got.statusCode, 200);
  assert.equal(got.headers['x-cos-symlink-target'], target);
  const obj = await cos.getObject({ ...R(), Key: 'latest/report.pdf' });
  assert.equal(obj.Body.toString(), 'hello');
  assert.equal(obj.headers['content-type'], 'application/pdf');
  const head = await cos.headObject({ ...R(), Key: 'latest/report.pdf' });
  assert.equal(head.headers['content-length'], '5');
  const list = await cos.getBucket({ ...R(), Prefix: 'latest/' });
  assert.deepEqual(list.Contents.map((c) => [c.Key, c.Size]), [['latest/report.pdf', String(target.length)]]);
});

test('missing target, self link, not a link', async () => {
  await putLink('node/dangling', 'node/nowhere');
  await assert.rejects(cos.getObject({ ...R(), Key: 'node/dangling' }), (err) => err.statusCode === 404 && err.code === 'NoSuchKey');
  await assert.rejects(putLink('node/self', 'node/self'), (err) => err.statusCode === 400 && err.code === 'InvalidArgument');
  await cos.putObject({ ...R(), Key: 'node/plain', Body: 'x' });
  await assert.rejects(
    cos.request({ ...R(), Method: 'GET', Key: 'node/plain', Action: 'symlink' }),
    (err) => err.statusCode === 400 && err.code === 'InvalidArgument',
  );
});
