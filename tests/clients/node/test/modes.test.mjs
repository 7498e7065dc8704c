// The other ways of pointing cos-nodejs-sdk-v5 at localcos (cos.md §2):
// Proxy (absolute-form requests to the real COS names), Domain (bare host
// served by --default-bucket), and getService on the service host names.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  COS, startServer, makeCos, uniqueBucket, dropBucket, md5hex, REGION, APPID, SECRET_ID, SECRET_KEY,
} from '../lib/localcos.mjs';

const DEFAULT_BUCKET = `ndflt-${APPID}`;
let server;
let dflt;

before(async () => {
  server = await startServer();
  dflt = await startServer(['--bucket', DEFAULT_BUCKET, '--default-bucket', DEFAULT_BUCKET]);
});

after(async () => {
  if (server) await server.stop();
  if (dflt) await dflt.stop();
});

describe('Proxy mode', () => {
  test('objects through localcos as HTTP proxy', async () => {
    const cos = new COS({
      SecretId: SECRET_ID, SecretKey: SECRET_KEY, Protocol: 'http:', Proxy: server.url, AutoSwitchHost: false,
    });
    const Bucket = uniqueBucket();
    await cos.putBucket({ Bucket, Region: REGION });
    try {
      const body = Buffer.from('via proxy \u4e2d');
      const put = await cos.putObject({ Bucket, Region: REGION, Key: 'proxy/a b+c.txt', Body: body });
      assert.equal(put.ETag, `"${md5hex(body)}"`);
      const got = await cos.getObject({ Bucket, Region: REGION, Key: 'proxy/a b+c.txt' });
      assert.ok(Buffer.compare(got.Body, body) === 0);
      const list = await cos.getBucket({ Bucket, Region: REGION });
      assert.deepEqual(list.Contents.map((c) => c.Key), ['proxy/a b+c.txt']);
      // the same bucket seen in IP mode
      const viaIp = await makeCos(server).getObject({ Bucket, Region: REGION, Key: 'proxy/a b+c.txt' });
      assert.ok(Buffer.compare(viaIp.Body, body) === 0);
    } finally {
      await dropBucket(cos, Bucket);
    }
  });

  test('getService on service.cos.myqcloud.com and cos.<region>.myqcloud.com', async () => {
    const cos = new COS({
      SecretId: SECRET_ID, SecretKey: SECRET_KEY, Protocol: 'http:', Proxy: server.url, AutoSwitchHost: false,
    });
    const Bucket = uniqueBucket();
    await cos.putBucket({ Bucket, Region: REGION });
    try {
      const all = await cos.getService({});
      assert.equal(all.statusCode, 200);
      assert.ok(all.Buckets.some((b) => b.Name === Bucket && b.Location === REGION), JSON.stringify(all.Buckets));
      const regional = await cos.getService({ Region: REGION });
      assert.ok(regional.Buckets.some((b) => b.Name === Bucket), JSON.stringify(regional.Buckets));
    } finally {
      await dropBucket(cos, Bucket);
    }
  });
});

describe('Domain mode with --default-bucket', () => {
  test('objects on the bare host', async () => {
    const cos = new COS({
      SecretId: SECRET_ID, SecretKey: SECRET_KEY, Protocol: 'http:', Domain: dflt.endpoint, AutoSwitchHost: false,
    });
    const R = { Bucket: DEFAULT_BUCKET, Region: REGION };
    const put = await cos.putObject({ ...R, Key: 'domain/x y.txt', Body: 'domain mode' });
    assert.equal(put.statusCode, 200);
    const got = await cos.getObject({ ...R, Key: 'domain/x y.txt' });
    assert.equal(got.Body.toString(), 'domain mode');
    const head = await cos.headObject({ ...R, Key: 'domain/x y.txt' });
    assert.equal(head.headers['content-length'], '11');
    const list = await cos.getBucket({ ...R, Prefix: 'domain/' });
    assert.deepEqual(list.Contents.map((c) => c.Key), ['domain/x y.txt']);
    // the same object through IP mode (virtual-hosted Host header)
    const viaIp = await makeCos(dflt).getObject({ ...R, Key: 'domain/x y.txt' });
    assert.equal(viaIp.Body.toString(), 'domain mode');
    const del = await cos.deleteObject({ ...R, Key: 'domain/x y.txt' });
    assert.equal(del.statusCode, 204);
  });
});
