// ali-oss (npm) against a live localcos: V1 (its default) and V4
// (`authorizationV4: true`). With an IP endpoint ali-oss connects to the IP but
// sends `Host: <bucket>.oss-cn-hangzhou.aliyuncs.com` and a path without the
// bucket (`sldEnable: true` puts the bucket in the path too), spec oss.md §3.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startServer, makeCos, uniqueBucket, dropBucket, REGION, SECRET_ID, SECRET_KEY } from '../lib/localcos.mjs';

const require = createRequire(import.meta.url);
const OSS = require('ali-oss');

let server;
let cos;
let bucket;
const BODY = Buffer.from('ali-oss body \u00e9 0123456789');

function client(extra = {}) {
  return new OSS({
    region: 'oss-cn-hangzhou',
    endpoint: server.url,
    bucket,
    accessKeyId: SECRET_ID,
    accessKeySecret: SECRET_KEY,
    secure: false,
    timeout: 30000,
    ...extra,
  });
}

before(async () => {
  server = await startServer();
  cos = makeCos(server);
  bucket = uniqueBucket();
  await cos.putBucket({ Bucket: bucket, Region: REGION });
});

after(async () => {
  if (cos && bucket) await dropBucket(cos, bucket);
  if (server) await server.stop();
});

for (const [name, extra] of [
  ['V1', {}],
  ['V4', { authorizationV4: true }],
  ['V4 sldEnable', { authorizationV4: true, sldEnable: true }],
]) {
  test(`ali-oss ${name}: put/get/head/list/delete`, async () => {
    const c = client(extra);
    const dir = `ali/${name.replace(' ', '-')}/`;
    const key = `${dir}a b+c.txt`;
    const put = await c.put(key, BODY, { meta: { color: 'blue' }, mime: 'text/plain' });
    assert.equal(put.res.status, 200);
    assert.ok(put.res.headers['x-oss-request-id']);

    const got = await c.get(key);
    assert.ok(Buffer.compare(got.content, BODY) === 0);
    assert.equal(got.res.headers['x-oss-meta-color'], 'blue');
    assert.equal(got.res.headers.server, 'AliyunOSS');

    const range = await c.get(key, { headers: { Range: 'bytes=0-5' } });
    assert.equal(range.res.status, 206);
    assert.equal(range.content.toString(), BODY.subarray(0, 6).toString());

    const head = await c.head(key);
    assert.equal(head.status, 200);
    assert.equal(head.meta.color, 'blue');
    assert.equal(head.res.headers['content-length'], String(BODY.length));

    // The same object through COS.
    const viaCos = await cos.headObject({ Bucket: bucket, Region: REGION, Key: key });
    assert.equal(viaCos.headers['x-cos-meta-color'], 'blue');

    await c.put(`${dir}sub/x.txt`, BODY);
    const listed = await c.list({ prefix: dir, delimiter: '/' });
    assert.deepEqual(listed.objects.map((o) => o.name), [key]);
    assert.equal(listed.objects[0].size, BODY.length);
    assert.deepEqual(listed.prefixes, [`${dir}sub/`]);
    const v2 = await c.listV2({ prefix: dir });
    assert.deepEqual(v2.objects.map((o) => o.name), [key, `${dir}sub/x.txt`]);
    await c.delete(`${dir}sub/x.txt`);

    await c.delete(key);
    await assert.rejects(c.get(key), (err) => {
      assert.equal(err.status, 404);
      assert.equal(err.code, 'NoSuchKey');
      assert.ok(err.requestId);
      return true;
    });
  });
}

test('ali-oss wrong secret is refused with OSS XML', async () => {
  for (const extra of [{}, { authorizationV4: true }]) {
    const c = client({ ...extra, accessKeySecret: 'wrong-secret' });
    await assert.rejects(c.put('x.txt', BODY), (err) => {
      assert.equal(err.status, 403);
      assert.equal(err.code, 'SignatureDoesNotMatch');
      return true;
    });
  }
});

test('ali-oss signatureUrlV4 (sldEnable) fetched with plain HTTP; tampered and expired refused', async () => {
  const c = client({ authorizationV4: true, sldEnable: true });
  const key = 'ali/presigned.bin';
  await c.put(key, BODY);
  const url = await c.signatureUrlV4('GET', 60, { headers: {}, queries: {} }, key);
  const u = new URL(url);
  assert.ok(u.searchParams.get('x-oss-signature'));
  // The URL names the IP endpoint; the signature covers /<bucket>/<key>.
  let res = await fetch(url);
  assert.equal(res.status, 200, await res.clone().text());
  assert.ok(Buffer.compare(Buffer.from(await res.arrayBuffer()), BODY) === 0);

  const sig = u.searchParams.get('x-oss-signature');
  u.searchParams.set('x-oss-signature', (sig[0] === '0' ? '1' : '0') + sig.slice(1));
  res = await fetch(u);
  assert.equal(res.status, 403);
  const text = await res.text();
  assert.match(text, /<Code>SignatureDoesNotMatch<\/Code>/);
  assert.ok(res.headers.get('x-oss-request-id'));

  const short = await c.signatureUrlV4('GET', 1, { headers: {}, queries: {} }, key);
  await new Promise((r) => setTimeout(r, 2200));
  res = await fetch(short);
  assert.equal(res.status, 403);
  assert.match(await res.text(), /<Code>AccessDenied<\/Code>/);
});
