// Append Object with cos-nodejs-sdk-v5 `appendObject` (spec cos.md §6A.3) and
// ali-oss `append` over the OSS dialect: creation, growth, headers, the 409s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  startServer, makeCos, uniqueBucket, dropBucket, md5hex, crc64, REGION, SECRET_ID, SECRET_KEY,
} from '../lib/localcos.mjs';

const require = createRequire(import.meta.url);
const OSS = require('ali-oss');

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

test('appendObject creates, grows and reads back', async () => {
  const key = 'node/append.txt';
  const a = Buffer.from('first ');
  const r1 = await cos.appendObject({ ...R(), Key: key, Position: 0, Body: a });
  assert.equal(r1.statusCode, 200);
  assert.equal(r1.headers['x-cos-next-append-position'], '6');
  assert.equal(r1.headers.etag, `"${md5hex(a)}"`);
  assert.equal(r1.headers['x-cos-hash-crc64ecma'], crc64(a));
  const b = Buffer.from('second');
  const r2 = await cos.appendObject({ ...R(), Key: key, Position: 6, Body: b });
  const whole = Buffer.concat([a, b]);
  assert.equal(r2.headers['x-cos-next-append-position'], String(whole.length));
  assert.equal(r2.headers['x-cos-hash-crc64ecma'], crc64(whole));
  assert.equal(r2.headers['x-cos-content-sha1'], md5hex(b));
  assert.notEqual(r2.headers.etag, r1.headers.etag);

  const head = await cos.headObject({ ...R(), Key: key });
  assert.equal(head.headers['x-cos-object-type'], 'appendable');
  assert.equal(head.headers['x-cos-next-append-position'], String(whole.length));
  // Inferred from the key; Node's empty Cache-Control is not stored.
  assert.equal(head.headers['content-type'], 'text/plain');
  assert.equal(head.headers['cache-control'], undefined);
  const got = await cos.getObject({ ...R(), Key: key });
  assert.deepEqual(got.Body, whole);
});

test('appendObject errors: position, normal objects', async () => {
  await assert.rejects(
    cos.appendObject({ ...R(), Key: 'node/absent.bin', Position: 3, Body: Buffer.from('x') }),
    (err) => {
      assert.equal(err.statusCode, 409);
      assert.equal(err.code, 'AppendPositionErr');
      assert.equal(err.headers['x-cos-next-append-position'], '0');
      return true;
    },
  );
  await cos.appendObject({ ...R(), Key: 'node/pos.bin', Position: 0, Body: Buffer.from('abc') });
  await assert.rejects(
    cos.appendObject({ ...R(), Key: 'node/pos.bin', Position: 1, Body: Buffer.from('x') }),
    (err) => err.statusCode === 409 && err.code === 'AppendPositionErr',
  );
  await cos.putObject({ ...R(), Key: 'node/normal.bin', Body: 'data' });
  await assert.rejects(
    cos.appendObject({ ...R(), Key: 'node/normal.bin', Position: 4, Body: Buffer.from('x') }),
    (err) => err.statusCode === 409 && err.code === 'ObjectNotAppendable',
  );
  // PUT makes an appendable object normal.
  await cos.putObject({ ...R(), Key: 'node/pos.bin', Body: 'new' });
  const head = await cos.headObject({ ...R(), Key: 'node/pos.bin' });
  assert.equal(head.headers['x-cos-object-type'], 'normal');
});

test('appendObject keeps the creating headers', async () => {
  const key = 'node/meta.bin';
  await cos.appendObject({
    ...R(),
    Key: key,
    Position: 0,
    Body: Buffer.from('12'),
    ContentType: 'application/x-node',
    Headers: { 'x-cos-meta-run': '1', 'x-cos-tagging': 'a=1&b=x%20y' },
  });
  await cos.appendObject({
    ...R(), Key: key, Position: 2, Body: Buffer.from('34'), Headers: { 'x-cos-meta-run': '2' },
  });
  const head = await cos.headObject({ ...R(), Key: key });
  assert.equal(head.headers['content-type'], 'application/x-node');
  assert.equal(head.headers['x-cos-meta-run'], '1');
  assert.equal(head.headers['x-cos-tagging-count'], '2');
  const tags = await cos.getObjectTagging({ ...R(), Key: key });
  assert.deepEqual(tags.Tags, [{ Key: 'a', Value: '1' }, { Key: 'b', Value: 'x y' }]);
});

test('ali-oss append over the OSS dialect', async () => {
  const oss = new OSS({
    region: 'oss-cn-hangzhou',
    endpoint: server.url,
    bucket: Bucket,
    accessKeyId: SECRET_ID,
    accessKeySecret: SECRET_KEY,
    secure: false,
    timeout: 30000,
  });
  const key = 'oss/append.log';
  const r1 = await oss.append(key, Buffer.from('hello '));
  assert.equal(r1.nextAppendPosition, '6');
  const r2 = await oss.append(key, Buffer.from('ali'), { position: r1.nextAppendPosition });
  assert.equal(r2.nextAppendPosition, '9');
  assert.equal(r2.res.headers['x-oss-hash-crc64ecma'], crc64(Buffer.from('hello ali')));
  const head = await oss.head(key);
  assert.equal(head.res.headers['x-oss-object-type'], 'Appendable');
  const got = await oss.get(key);
  assert.equal(got.content.toString(), 'hello ali');
  await assert.rejects(oss.append(key, Buffer.from('x'), { position: 2 }), (err) => {
    assert.equal(err.status, 409);
    assert.equal(err.code, 'PositionNotEqualToLength');
    return true;
  });
  await oss.put('oss/normal.txt', Buffer.from('n'));
  await assert.rejects(oss.append('oss/normal.txt', Buffer.from('x'), { position: 1 }), (err) => {
    assert.equal(err.status, 409);
    assert.equal(err.code, 'ObjectNotAppendable');
    return true;
  });
});
