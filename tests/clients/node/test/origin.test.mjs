// cos-nodejs-sdk-v5 against a real localcos (--origin-allow-private):
// putBucketOrigin / getBucketOrigin / deleteBucketOrigin (cos-bucket.md §11)
// and their effect with a small HTTP origin on 127.0.0.1: proxy relays the
// origin's bytes without storing them, mirror stores them so the next GET is
// local, keys outside the rules' prefixes stay 404.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, makeCos, uniqueBucket, md5hex, REGION } from '../lib/localcos.mjs';

let server;
let cos;
let origin;
let Bucket;
const seen = [];

before(async () => {
  origin = http.createServer((req, res) => {
    seen.push({ url: req.url, headers: req.headers });
    const body = Buffer.from(`origin bytes of ${req.url}`);
    res.writeHead(200, { 'content-type': 'text/x-origin', 'content-length': body.length });
    res.end(body);
  });
  await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve));
  server = await startServer(['--origin-allow-private']);
  cos = makeCos(server);
  Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION });
});

after(async () => {
  if (server) await server.stop();
  if (origin) origin.close();
});

function rules() {
  const HostName = `127.0.0.1:${origin.address().port}`;
  return [
    {
      RulePriority: 1,
      OriginType: 'Proxy',
      OriginCondition: { HTTPStatusCode: 404, Prefix: 'p/' },
      OriginParameter: {
        Protocol: 'HTTP',
        HttpHeader: { NewHttpHeaders: { Header: [{ Key: 'x-from', Value: 'node' }] } },
      },
      OriginInfo: { HostInfo: { HostName } },
    },
    {
      RulePriority: 2,
      OriginType: 'Mirror',
      OriginCondition: { HTTPStatusCode: 404, Prefix: 'm/' },
      OriginParameter: { Protocol: 'HTTP' },
      OriginInfo: { HostInfo: { HostName } },
    },
  ];
}

test('origin rules: put, get as sent, delete', async () => {
  await assert.rejects(cos.getBucketOrigin({ Bucket, Region: REGION }), (err) => {
    assert.equal(err.statusCode, 404);
    assert.equal(err.code, 'NoSuchOriginConfiguration');
    return true;
  });
  const put = await cos.putBucketOrigin({ Bucket, Region: REGION, OriginRule: rules() });
  assert.equal(put.statusCode, 200);
  const got = await cos.getBucketOrigin({ Bucket, Region: REGION });
  assert.equal(got.OriginRule.length, 2);
  assert.deepEqual(
    got.OriginRule.map((r) => [r.RulePriority, r.OriginType, r.OriginCondition.Prefix]),
    [['1', 'Proxy', 'p/'], ['2', 'Mirror', 'm/']],
  );
  assert.equal(got.OriginRule[0].OriginParameter.HttpHeader.NewHttpHeaders.Header.Value, 'node');
  const del = await cos.deleteBucketOrigin({ Bucket, Region: REGION });
  assert.equal(del.statusCode, 204);
  await assert.rejects(cos.getBucketOrigin({ Bucket, Region: REGION }), (err) => err.statusCode === 404);
});

test('origin rules: proxy relays, mirror stores, others stay 404', async () => {
  await cos.putBucketOrigin({ Bucket, Region: REGION, OriginRule: rules() });
  const p = await cos.getObject({ Bucket, Region: REGION, Key: 'p/a.txt' });
  assert.equal(p.Body.toString(), 'origin bytes of /p/a.txt');
  assert.equal(seen.at(-1).headers['x-from'], 'node');
  const plist = await cos.getBucket({ Bucket, Region: REGION, Prefix: 'p/' });
  assert.equal(plist.Contents.length, 0, 'proxy stores nothing');

  const m = await cos.getObject({ Bucket, Region: REGION, Key: 'm/b.txt' });
  assert.equal(m.Body.toString(), 'origin bytes of /m/b.txt');
  let stored = [];
  for (let i = 0; i < 100 && stored.length === 0; i += 1) {
    stored = (await cos.getBucket({ Bucket, Region: REGION, Prefix: 'm/' })).Contents;
    if (stored.length === 0) await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(stored.map((o) => o.Key), ['m/b.txt']);
  const n = seen.length;
  const head = await cos.headObject({ Bucket, Region: REGION, Key: 'm/b.txt' });
  assert.equal(head.headers.etag, `"${md5hex(Buffer.from('origin bytes of /m/b.txt'))}"`);
  assert.equal(seen.length, n, 'served locally');

  await assert.rejects(cos.getObject({ Bucket, Region: REGION, Key: 'other.txt' }), (err) => {
    assert.equal(err.statusCode, 404);
    assert.equal(err.code, 'NoSuchKey');
    return true;
  });
});
