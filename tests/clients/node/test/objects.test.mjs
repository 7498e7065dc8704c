// cos-nodejs-sdk-v5 (IP mode) against a real localcos: objects, listing, copy, delete, errors.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  COS, startServer, makeCos, uniqueBucket, dropBucket, md5hex, crc64, REGION, SECRET_ID, SECRET_KEY,
} from '../lib/localcos.mjs';

let server;
let cos;
let Bucket;
const created = [];

before(async () => {
  server = await startServer();
  cos = makeCos(server);
  Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION });
  created.push(Bucket);
});

after(async () => {
  if (cos) for (const b of created) await dropBucket(cos, b);
  if (server) await server.stop();
});

const R = () => ({ Bucket, Region: REGION });

describe('putObject / headObject / getObject', () => {
  test('string body', async () => {
    const body = 'hello from node\n';
    const put = await cos.putObject({ ...R(), Key: 'node/string.txt', Body: body });
    assert.equal(put.statusCode, 200);
    assert.equal(put.ETag, `"${md5hex(Buffer.from(body))}"`);
    assert.equal(put.headers['x-cos-hash-crc64ecma'], crc64(Buffer.from(body)));
    assert.ok(put.headers['x-cos-request-id']);
    const got = await cos.getObject({ ...R(), Key: 'node/string.txt' });
    assert.equal(got.statusCode, 200);
    assert.equal(got.Body.toString(), body);
  });

  test('Buffer body with x-cos-meta-* and content headers', async () => {
    const body = crypto.randomBytes(100000);
    const put = await cos.putObject({
      ...R(),
      Key: 'node/buffer.bin',
      Body: body,
      ContentType: 'application/x-node-test',
      ContentDisposition: 'attachment; filename="b.bin"',
      Headers: { 'x-cos-meta-author': 'node', 'x-cos-meta-run-id': '7' },
    });
    assert.equal(put.ETag, `"${md5hex(body)}"`);

    const head = await cos.headObject({ ...R(), Key: 'node/buffer.bin' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers.etag, `"${md5hex(body)}"`);
    assert.equal(head.headers['content-length'], String(body.length));
    assert.equal(head.headers['content-type'], 'application/x-node-test');
    assert.equal(head.headers['content-disposition'], 'attachment; filename="b.bin"');
    assert.equal(head.headers['x-cos-meta-author'], 'node');
    assert.equal(head.headers['x-cos-meta-run-id'], '7');
    assert.equal(head.headers['x-cos-hash-crc64ecma'], crc64(body));
    // Node sends an empty Cache-Control on every PUT: it must not be stored (cos.md §6A.2)
    assert.ok(!head.headers['cache-control'], `unexpected cache-control ${head.headers['cache-control']}`);

    const got = await cos.getObject({ ...R(), Key: 'node/buffer.bin' });
    assert.ok(Buffer.compare(got.Body, body) === 0);
    assert.equal(got.headers['x-cos-meta-author'], 'node');
  });

  test('Range reads', async () => {
    const body = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
    await cos.putObject({ ...R(), Key: 'node/range.txt', Body: body });
    const part = await cos.getObject({ ...R(), Key: 'node/range.txt', Range: 'bytes=10-15' });
    assert.equal(part.statusCode, 206);
    assert.equal(part.Body.toString(), 'abcdef');
    assert.equal(part.headers['content-range'], `bytes 10-15/${body.length}`);
    assert.equal(part.headers['x-cos-hash-crc64ecma'], crc64(body));
    const tail = await cos.getObject({ ...R(), Key: 'node/range.txt', Range: 'bytes=-3' });
    assert.equal(tail.Body.toString(), 'xyz');
    await assert.rejects(cos.getObject({ ...R(), Key: 'node/range.txt', Range: 'bytes=100-' }), (err) => {
      assert.equal(err.statusCode, 416);
      assert.equal(err.code, 'InvalidRange');
      return true;
    });
  });

  test('conditional GET surfaces 304 and 412', async () => {
    const put = await cos.putObject({ ...R(), Key: 'node/cond.txt', Body: 'cond' });
    await assert.rejects(cos.getObject({ ...R(), Key: 'node/cond.txt', IfMatch: '"nope"' }), (err) => {
      assert.equal(err.statusCode, 412);
      assert.equal(err.code, 'PreconditionFailed');
      return true;
    });
    const nm = await cos.getObject({ ...R(), Key: 'node/cond.txt', IfNoneMatch: put.ETag }).catch((e) => e);
    assert.equal(nm.statusCode, 304);
  });

  for (const key of ['dir/sub dir/file name.txt', '中文目录/文件 名😀.txt', 'a+b%c=d&e;f,g.txt', 'plus+and%25literal.txt', 'a/./b/../c.txt', 'a//b']) {
    test(`special key round trip: ${key}`, async () => {
      const body = Buffer.from(`content of ${key}`);
      const put = await cos.putObject({ ...R(), Key: key, Body: body });
      assert.equal(put.ETag, `"${md5hex(body)}"`);
      const got = await cos.getObject({ ...R(), Key: key });
      assert.equal(got.Body.toString(), body.toString());
      const list = await cos.getBucket({ ...R(), Prefix: key });
      assert.deepEqual(list.Contents.map((c) => c.Key), [key]);
      await cos.deleteObject({ ...R(), Key: key });
      await assert.rejects(cos.headObject({ ...R(), Key: key }), (err) => err.statusCode === 404);
    });
  }
});

describe('getBucket', () => {
  const keys = ['list/a.txt', 'list/b/1.txt', 'list/b/2.txt', 'list/c/3.txt', 'list/d.txt'];
  before(async () => {
    for (const Key of keys) await cos.putObject({ ...R(), Key, Body: Key });
  });

  test('Prefix', async () => {
    const res = await cos.getBucket({ ...R(), Prefix: 'list/b/' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.Contents.map((c) => c.Key), ['list/b/1.txt', 'list/b/2.txt']);
    assert.equal(res.Contents[0].Size, String('list/b/1.txt'.length));
    assert.equal(res.Contents[0].ETag, `"${md5hex(Buffer.from('list/b/1.txt'))}"`);
  });

  test('Prefix + Delimiter', async () => {
    const res = await cos.getBucket({ ...R(), Prefix: 'list/', Delimiter: '/' });
    assert.deepEqual(res.Contents.map((c) => c.Key), ['list/a.txt', 'list/d.txt']);
    assert.deepEqual(res.CommonPrefixes.map((p) => p.Prefix), ['list/b/', 'list/c/']);
  });

  test('MaxKeys + Marker paging', async () => {
    const seen = [];
    let Marker = '';
    for (let i = 0; i < 10; i++) {
      const res = await cos.getBucket({ ...R(), Prefix: 'list/', MaxKeys: 2, Marker });
      seen.push(...res.Contents.map((c) => c.Key));
      if (res.IsTruncated !== 'true') break;
      Marker = res.NextMarker;
      assert.equal(Marker, seen[seen.length - 1]);
    }
    assert.deepEqual(seen, keys);
  });

  test('EncodingType url', async () => {
    await cos.putObject({ ...R(), Key: 'enc/a b+c%d.txt', Body: 'x' });
    const res = await cos.getBucket({ ...R(), Prefix: 'enc/', EncodingType: 'url' });
    assert.deepEqual(res.Contents.map((c) => c.Key), ['enc/a%20b%2Bc%25d.txt']);
  });
});

describe('putObjectCopy / deleteMultipleObject / deleteObject', () => {
  test('putObjectCopy keeps metadata by default, replaces with Replaced', async () => {
    const body = Buffer.from('copy source body');
    await cos.putObject({ ...R(), Key: 'copy/src file.txt', Body: body, Headers: { 'x-cos-meta-from': 'src' } });
    const CopySource = `${Bucket}.cos.${REGION}.myqcloud.com/${encodeURIComponent('copy/src file.txt').replace(/%2F/g, '/')}`;
    const res = await cos.putObjectCopy({ ...R(), Key: 'copy/dst.txt', CopySource });
    assert.equal(res.statusCode, 200);
    assert.equal(res.ETag, `"${md5hex(body)}"`);
    assert.equal(res.CRC64, crc64(body));
    const head = await cos.headObject({ ...R(), Key: 'copy/dst.txt' });
    assert.equal(head.headers['x-cos-meta-from'], 'src');

    await cos.putObjectCopy({
      ...R(), Key: 'copy/dst2.txt', CopySource, MetadataDirective: 'Replaced',
      Headers: { 'x-cos-meta-new': 'yes' }, ContentType: 'text/x-replaced',
    });
    const head2 = await cos.headObject({ ...R(), Key: 'copy/dst2.txt' });
    assert.equal(head2.headers['x-cos-meta-new'], 'yes');
    assert.equal(head2.headers['x-cos-meta-from'], undefined);
    assert.equal(head2.headers['content-type'], 'text/x-replaced');
    const got = await cos.getObject({ ...R(), Key: 'copy/dst2.txt' });
    assert.equal(got.Body.toString(), body.toString());
  });

  test('deleteMultipleObject verbose and quiet', async () => {
    const keys = ['dm/1', 'dm/2 space', 'dm/中'];
    for (const Key of keys) await cos.putObject({ ...R(), Key, Body: Key });
    const res = await cos.deleteMultipleObject({ ...R(), Objects: keys.slice(0, 2).map((Key) => ({ Key })) });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.Deleted.map((d) => d.Key).sort(), keys.slice(0, 2).sort());
    assert.deepEqual(res.Error, []);
    const quiet = await cos.deleteMultipleObject({ ...R(), Objects: [{ Key: 'dm/中' }], Quiet: true });
    assert.deepEqual(quiet.Deleted, []);
    assert.deepEqual(quiet.Error, []);
    const left = await cos.getBucket({ ...R(), Prefix: 'dm/' });
    assert.deepEqual(left.Contents, []);
  });

  test('deleteObject returns 204, also for a missing key', async () => {
    await cos.putObject({ ...R(), Key: 'del/x', Body: 'x' });
    const res = await cos.deleteObject({ ...R(), Key: 'del/x' });
    assert.equal(res.statusCode, 204);
    const again = await cos.deleteObject({ ...R(), Key: 'del/x' });
    assert.equal(again.statusCode, 204);
  });
});

describe('errors surfaced by the SDK', () => {
  test('NoSuchKey', async () => {
    await assert.rejects(cos.getObject({ ...R(), Key: 'no/such/key' }), (err) => {
      assert.equal(err.statusCode, 404);
      assert.equal(err.code, 'NoSuchKey');
      assert.equal(err.error.Code, 'NoSuchKey');
      assert.ok(err.error.Message);
      assert.ok(err.error.RequestId);
      assert.ok(err.headers['x-cos-request-id']);
      return true;
    });
  });

  test('headObject on a missing key is a 404', async () => {
    await assert.rejects(cos.headObject({ ...R(), Key: 'no/such/key' }), (err) => {
      assert.equal(err.statusCode, 404);
      return true;
    });
  });

  test('BucketAlreadyOwnedByYou', async () => {
    await assert.rejects(cos.putBucket({ ...R() }), (err) => {
      assert.equal(err.statusCode, 409);
      assert.equal(err.code, 'BucketAlreadyOwnedByYou');
      return true;
    });
  });

  test('NoSuchBucket', async () => {
    await assert.rejects(cos.getBucket({ Bucket: uniqueBucket(), Region: REGION }), (err) => {
      assert.equal(err.statusCode, 404);
      assert.equal(err.code, 'NoSuchBucket');
      return true;
    });
  });

  test('BucketNotEmpty', async () => {
    const b = uniqueBucket();
    await cos.putBucket({ Bucket: b, Region: REGION });
    created.push(b);
    await cos.putObject({ Bucket: b, Region: REGION, Key: 'k', Body: 'v' });
    await assert.rejects(cos.deleteBucket({ Bucket: b, Region: REGION }), (err) => {
      assert.equal(err.statusCode, 409);
      assert.equal(err.code, 'BucketNotEmpty');
      return true;
    });
  });

  test('wrong SecretKey → SignatureDoesNotMatch', async () => {
    const bad = makeCos(server, { SecretKey: 'wrong-secret-key' });
    await assert.rejects(bad.getBucket({ ...R() }), (err) => {
      assert.equal(err.statusCode, 403);
      assert.equal(err.code, 'SignatureDoesNotMatch');
      return true;
    });
  });
});

describe('bucket lifecycle', () => {
  test('putBucket / headBucket / deleteBucket / getService', async () => {
    const b = uniqueBucket();
    const put = await cos.putBucket({ Bucket: b, Region: REGION });
    assert.equal(put.statusCode, 200);
    const head = await cos.headBucket({ Bucket: b, Region: REGION });
    assert.equal(head.statusCode, 200);
    const svc = new COS({
      SecretId: SECRET_ID, SecretKey: SECRET_KEY, Protocol: 'http:', ServiceDomain: server.endpoint, AutoSwitchHost: false,
    });
    const list = await svc.getService({});
    assert.ok(list.Buckets.map((x) => x.Name).includes(b), JSON.stringify(list.Buckets));
    const del = await cos.deleteBucket({ Bucket: b, Region: REGION });
    assert.equal(del.statusCode, 204);
    await assert.rejects(cos.headBucket({ Bucket: b, Region: REGION }), (err) => err.statusCode === 404);
  });
});
