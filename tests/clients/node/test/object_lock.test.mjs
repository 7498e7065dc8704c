// Object lock (WORM) with cos-nodejs-sdk-v5 (spec cos-bucket.md §12).
// The Node SDK has no object-lock call: the configuration goes through the
// SDK's signed `cos.request` (Action 'object-lock'); the effect is checked
// with the SDK's own object calls. The server's day lasts 1 s
// (--day-seconds 1), so a 3-day default retention is 3 seconds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, makeCos, uniqueBucket, REGION } from '../lib/localcos.mjs';

const RETENTION_DAYS = 3;
let server;
let cos;
let Bucket;

before(async () => {
  server = await startServer(['--day-seconds', '1']);
  cos = makeCos(server);
  Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION });
});

// Locked objects cannot be deleted while retained: the ephemeral server goes.
after(async () => {
  if (server) await server.stop();
});

const R = () => ({ Bucket, Region: REGION });
const lockDoc = (rule = '') =>
  `<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>${rule}</ObjectLockConfiguration>`;
const rule = (days) => `<Rule><DefaultRetention><Days>${days}</Days></DefaultRetention></Rule>`;
const putLock = (Body) =>
  cos.request({ ...R(), Method: 'PUT', Action: 'object-lock', Body, Headers: { 'Content-Type': 'application/xml' } });
const getLock = () => cos.request({ ...R(), Method: 'GET', Action: 'object-lock' });

test('object-lock configuration: unset, put, get, validation', async () => {
  await assert.rejects(getLock(), (err) => err.statusCode === 404 && err.code === 'ObjectLockConfigurationNotFoundError');
  const put = await putLock(lockDoc(rule(30)));
  assert.equal(put.statusCode, 200);
  assert.ok(put.headers['x-cos-request-id']);
  const got = await getLock();
  assert.equal(got.statusCode, 200);
  // The SDK parses the XML body.
  assert.deepEqual(got.ObjectLockConfiguration, {
    ObjectLockEnabled: 'Enabled',
    Rule: { DefaultRetention: { Days: '30' } },
  });
  await assert.rejects(
    putLock('<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>'),
    (err) => err.statusCode === 400 && err.code === 'InvalidArgument',
  );
  await assert.rejects(putLock(lockDoc(rule(0))), (err) => err.statusCode === 400 && err.code === 'InvalidArgument');
  await assert.rejects(putLock('<ObjectLockConfiguration/>'), (err) => err.statusCode === 400 && err.code === 'MalformedXML');
  // DELETE drops only the rule: object lock stays on.
  const del = await cos.request({ ...R(), Method: 'DELETE', Action: 'object-lock' });
  assert.equal(del.statusCode, 204);
  assert.deepEqual((await getLock()).ObjectLockConfiguration, { ObjectLockEnabled: 'Enabled' });
});

test('a locked object refuses delete and overwrite until its retention ends', async () => {
  await putLock(lockDoc(rule(RETENTION_DAYS)));
  const start = Date.now();
  const Key = 'node/worm.txt';
  await cos.putObject({ ...R(), Key, Body: 'v1' });
  const locked = (err) => err.statusCode === 409 && err.code === 'ObjectLocked';
  await assert.rejects(cos.deleteObject({ ...R(), Key }), locked);
  await assert.rejects(cos.putObject({ ...R(), Key, Body: 'v2' }), locked);
  const multi = await cos.deleteMultipleObject({ ...R(), Objects: [{ Key }] });
  assert.deepEqual(multi.Error.map((e) => [e.Key, e.Code]), [[Key, 'ObjectLocked']]);
  const body = await cos.getObject({ ...R(), Key });
  assert.equal(body.Body.toString(), 'v1');
  assert.ok(Date.now() - start < RETENTION_DAYS * 1000, 'refusals ran inside the retention');

  await new Promise((r) => setTimeout(r, Math.max(0, RETENTION_DAYS * 1000 + 300 - (Date.now() - start))));
  const del = await cos.deleteObject({ ...R(), Key });
  assert.equal(del.statusCode, 204);
  await assert.rejects(cos.headObject({ ...R(), Key }), (err) => err.statusCode === 404);
});
