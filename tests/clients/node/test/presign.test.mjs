// cos-nodejs-sdk-v5 getObjectUrl: pre-signed URLs fetched over plain HTTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, makeCos, uniqueBucket, dropBucket, viaProxy, getObjectUrl, REGION } from '../lib/localcos.mjs';

let server;
let cos;
let Bucket;
const BODY = Buffer.from('node pre-signed body \u00e9');
const KEY = 'presign/a b+c.txt';

before(async () => {
  server = await startServer();
  cos = makeCos(server);
  Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION });
  await cos.putObject({ Bucket, Region: REGION, Key: KEY, Body: BODY });
});

after(async () => {
  if (cos && Bucket) await dropBucket(cos, Bucket);
  if (server) await server.stop();
});

test('getObjectUrl (signed) fetched through localcos as proxy', async () => {
  const url = await getObjectUrl(cos, { Bucket, Region: REGION, Key: KEY, Sign: true, Expires: 300 });
  // the URL is always on the bucket domain (the Ip option does not apply)
  assert.equal(new URL(url).host, `${Bucket}.cos.${REGION}.myqcloud.com`);
  assert.match(url, /q-signature=[0-9a-f]{40}/);
  const res = await viaProxy(server, url);
  assert.equal(res.status, 200, res.body.toString());
  assert.ok(Buffer.compare(res.body, BODY) === 0);
  assert.ok(res.headers['x-cos-request-id']);
});

test('getObjectUrl with Query params (response-content-disposition)', async () => {
  const url = await getObjectUrl(cos, {
    Bucket, Region: REGION, Key: KEY, Sign: true,
    Query: { 'response-content-disposition': 'attachment; filename="x y.txt"' },
  });
  const res = await viaProxy(server, url);
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(res.headers['content-disposition'], 'attachment; filename="x y.txt"');
});

test('getObjectUrl for PUT', async () => {
  const url = await getObjectUrl(cos, { Bucket, Region: REGION, Key: 'presign/put.txt', Method: 'PUT', Sign: true });
  const res = await viaProxy(server, url, { method: 'PUT', body: 'uploaded by url' });
  assert.equal(res.status, 200, res.body.toString());
  const got = await cos.getObject({ Bucket, Region: REGION, Key: 'presign/put.txt' });
  assert.equal(got.Body.toString(), 'uploaded by url');
});

test('tampered signature → 403 SignatureDoesNotMatch', async () => {
  const url = await getObjectUrl(cos, { Bucket, Region: REGION, Key: KEY, Sign: true });
  const bad = url.replace(/q-signature=([0-9a-f])/, (m, c) => `q-signature=${c === '0' ? '1' : '0'}`);
  const res = await viaProxy(server, bad);
  assert.equal(res.status, 403);
  assert.match(res.body.toString(), /<Code>SignatureDoesNotMatch<\/Code>/);
});

test('expired URL → 403 AccessDenied "Request has expired"', async () => {
  // Expires: 1 → q-sign-time = now-1;now  (Node signs from now-1)
  const url = await getObjectUrl(cos, { Bucket, Region: REGION, Key: KEY, Sign: true, Expires: 1 });
  await new Promise((r) => setTimeout(r, 2200));
  const res = await viaProxy(server, url);
  assert.equal(res.status, 403);
  assert.match(res.body.toString(), /<Code>AccessDenied<\/Code>/);
  assert.match(res.body.toString(), /<Message>Request has expired<\/Message>/);
});

test('unsigned URL → 403 AccessDenied', async () => {
  const url = await getObjectUrl(cos, { Bucket, Region: REGION, Key: KEY, Sign: false });
  const res = await viaProxy(server, url);
  assert.equal(res.status, 403);
  assert.match(res.body.toString(), /<Code>AccessDenied<\/Code>/);
  assert.ok(res.headers['x-cos-request-id']);
});

test('getObjectUrl with versionId: old versions by URL, tampered id refused', async () => {
  const vb = uniqueBucket();
  await cos.putBucket({ Bucket: vb, Region: REGION });
  try {
    await cos.putBucketVersioning({ Bucket: vb, Region: REGION, VersioningConfiguration: { Status: 'Enabled' } });
    const v1 = (await cos.putObject({ Bucket: vb, Region: REGION, Key: KEY, Body: 'first' })).headers['x-cos-version-id'];
    const v2 = (await cos.putObject({ Bucket: vb, Region: REGION, Key: KEY, Body: 'second' })).headers['x-cos-version-id'];
    assert.ok(v1 && v2 && v1 !== v2);
    for (const [VersionId, body] of [[v1, 'first'], [v2, 'second']]) {
      const url = await getObjectUrl(cos, {
        Bucket: vb, Region: REGION, Key: KEY, Sign: true,
        Query: { versionId: VersionId, 'response-content-disposition': 'inline' },
      });
      const res = await viaProxy(server, url);
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.body.toString(), body);
      assert.equal(res.headers['x-cos-version-id'], VersionId);
      assert.equal(res.headers['content-disposition'], 'inline');
    }
    const url = await getObjectUrl(cos, { Bucket: vb, Region: REGION, Key: KEY, Sign: true, Query: { versionId: v1 } });
    const res = await viaProxy(server, url.replace(v1, v2));
    assert.equal(res.status, 403);
    assert.match(res.body.toString(), /<Code>SignatureDoesNotMatch<\/Code>/);
  } finally {
    const list = await cos.listObjectVersions({ Bucket: vb, Region: REGION });
    const all = [...(list.Versions || []), ...(list.DeleteMarkers || [])];
    if (all.length) {
      await cos.deleteMultipleObject({ Bucket: vb, Region: REGION, Objects: all.map((v) => ({ Key: v.Key, VersionId: v.VersionId })) });
    }
    await cos.deleteBucket({ Bucket: vb, Region: REGION });
  }
});
