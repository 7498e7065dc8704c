// cos-nodejs-sdk-v5 ACLs (putBucketAcl/getBucketAcl/putObjectAcl/getObjectAcl),
// anonymous reads of public objects with plain fetch, and getObjectUrl
// (Sign true/false, Expires, Query, temporary keys) — cos.md §1.8, §3.4, §6A.10.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, makeCos, uniqueBucket, dropBucket, viaProxy, getObjectUrl, REGION,
} from '../lib/localcos.mjs';

let server;
let cos;
let Bucket;
const ALL_USERS = 'http://cam.qcloud.com/groups/global/AllUsers';
const OTHER = 'qcs::cam::uin/100000000011:uin/100000000011';

before(async () => {
  server = await startServer();
  cos = makeCos(server);
  Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION });
});

after(async () => {
  if (cos && Bucket) await dropBucket(cos, Bucket);
  if (server) await server.stop();
});

/** A browser-like anonymous fetch: path-style URL on the bare server address. */
function plainUrl(key, query = '') {
  return `${server.url}/${Bucket}/${key.split('/').map(encodeURIComponent).join('/')}${query}`;
}

async function expectCosError(promise, status, code) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.statusCode, status, JSON.stringify(err));
    assert.equal(err.code, code, JSON.stringify(err));
    return true;
  });
}

test('bucket ACL: private by default, canned values and grants round-trip', async () => {
  let acl = await cos.getBucketAcl({ Bucket, Region: REGION });
  assert.equal(acl.ACL, 'private');
  assert.equal(acl.headers['x-cos-acl'], 'private');
  assert.equal(acl.Grants.length, 1);
  assert.equal(acl.Grants[0].Permission, 'FULL_CONTROL');

  // Canned + grant header together (the SDK's own test): both kept.
  await cos.putBucketAcl({ Bucket, Region: REGION, ACL: 'public-read', GrantFullControl: `id="${OTHER}", id="${OTHER}"` });
  acl = await cos.getBucketAcl({ Bucket, Region: REGION });
  assert.equal(acl.ACL, 'public-read');
  // Node joins the grants of one permission into a header-style string.
  assert.equal(acl.GrantFullControl, `id="${OTHER}"`);
  assert.ok(acl.Grants.some((g) => g.Grantee.URI === ALL_USERS && g.Permission === 'READ'));

  // A document with a placeholder Owner and no xsi:type: exactly its grant comes back.
  await cos.putBucketAcl({
    Bucket, Region: REGION,
    AccessControlPolicy: {
      Owner: { ID: 'qcs::cam::uin/10001:uin/10001' },
      Grants: [{ Grantee: { ID: OTHER }, Permission: 'WRITE' }],
    },
  });
  acl = await cos.getBucketAcl({ Bucket, Region: REGION });
  assert.equal(acl.Grants.length, 1);
  assert.equal(acl.Grants[0].Grantee.ID, OTHER);
  assert.equal(acl.Grants[0].Permission, 'WRITE');
  assert.equal(acl.GrantWrite, `id="${OTHER}"`);
  assert.equal(acl.ACL, 'private');
  assert.equal(acl.headers['x-cos-acl'], undefined);

  await expectCosError(cos.putBucketAcl({ Bucket, Region: REGION, ACL: 'public-read-writ' }), 400, 'InvalidArgument');
  await cos.putBucketAcl({ Bucket, Region: REGION, ACL: 'private' });
});

test('public-read bucket: plain fetch reads, writes and response-* refused', async () => {
  await cos.putBucketAcl({ Bucket, Region: REGION, ACL: 'private' });
  await cos.putObject({ Bucket, Region: REGION, Key: 'site/index.html', Body: '<p>hello</p>', ContentType: 'text/html' });
  let res = await fetch(plainUrl('site/index.html'));
  assert.equal(res.status, 403);
  assert.match(await res.text(), /<Code>AccessDenied<\/Code>/);

  await cos.putBucketAcl({ Bucket, Region: REGION, ACL: 'public-read' });
  res = await fetch(plainUrl('site/index.html'));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/html');
  assert.equal(await res.text(), '<p>hello</p>');
  res = await fetch(plainUrl('site/index.html'), { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-length'), '12');
  res = await fetch(plainUrl('site/index.html', '?response-content-type=text/plain'));
  assert.equal(res.status, 403);
  assert.match(await res.text(), /<Code>AccessDenied<\/Code>/);
  res = await fetch(plainUrl('site/new.html'), { method: 'PUT', body: 'x' });
  assert.equal(res.status, 403);
  res = await fetch(plainUrl('site/missing.html'));
  assert.equal(res.status, 404);
  assert.match(await res.text(), /<Code>NoSuchKey<\/Code>/);

  await cos.putBucketAcl({ Bucket, Region: REGION, ACL: 'private' });
});

test('public-read-write bucket takes anonymous PUT and DELETE', async () => {
  await cos.putBucketAcl({ Bucket, Region: REGION, ACL: 'public-read-write' });
  const acl = await cos.getBucketAcl({ Bucket, Region: REGION });
  assert.equal(acl.ACL, 'public-read-write');
  let res = await fetch(plainUrl('drop/box.txt'), { method: 'PUT', body: 'anonymous' });
  assert.equal(res.status, 200, await res.text());
  const got = await cos.getObject({ Bucket, Region: REGION, Key: 'drop/box.txt' });
  assert.equal(got.Body.toString(), 'anonymous');
  res = await fetch(plainUrl('drop/box.txt'), { method: 'DELETE' });
  assert.equal(res.status, 204);
  await cos.putBucketAcl({ Bucket, Region: REGION, ACL: 'private' });
  res = await fetch(plainUrl('drop/box2.txt'), { method: 'PUT', body: 'x' });
  assert.equal(res.status, 403);
});

test('object ACL: default, public-read, private; putObject ACL', async () => {
  await cos.putObject({ Bucket, Region: REGION, Key: 'obj.txt', Body: 'object' });
  let acl = await cos.getObjectAcl({ Bucket, Region: REGION, Key: 'obj.txt' });
  assert.equal(acl.ACL, 'default');

  await cos.putObjectAcl({ Bucket, Region: REGION, Key: 'obj.txt', ACL: 'public-read' });
  acl = await cos.getObjectAcl({ Bucket, Region: REGION, Key: 'obj.txt' });
  assert.equal(acl.ACL, 'public-read');
  let res = await fetch(plainUrl('obj.txt'));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'object');

  await cos.putObjectAcl({
    Bucket, Region: REGION, Key: 'obj.txt',
    AccessControlPolicy: { Owner: { ID: OTHER }, Grants: [{ Grantee: { ID: OTHER }, Permission: 'READ' }] },
  });
  acl = await cos.getObjectAcl({ Bucket, Region: REGION, Key: 'obj.txt' });
  assert.equal(acl.Grants.length, 1);
  assert.equal(acl.ACL, 'private');
  res = await fetch(plainUrl('obj.txt'));
  assert.equal(res.status, 403);

  await cos.putObject({ Bucket, Region: REGION, Key: 'pub.txt', Body: 'born public', ACL: 'public-read' });
  res = await fetch(plainUrl('pub.txt'));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'born public');

  await expectCosError(cos.getObjectAcl({ Bucket, Region: REGION, Key: 'nope.txt' }), 404, 'NoSuchKey');
});

test('getObjectUrl: Sign false on a public object, Sign true with Expires and Query', async () => {
  await cos.putObject({ Bucket, Region: REGION, Key: 'url/file name.txt', Body: 'url body' });
  const unsigned = await getObjectUrl(cos, { Bucket, Region: REGION, Key: 'url/file name.txt', Sign: false });
  assert.doesNotMatch(unsigned, /q-signature/);
  let res = await viaProxy(server, unsigned);
  assert.equal(res.status, 403);
  await cos.putObjectAcl({ Bucket, Region: REGION, Key: 'url/file name.txt', ACL: 'public-read' });
  res = await viaProxy(server, unsigned);
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'url body');

  const signed = await getObjectUrl(cos, {
    Bucket, Region: REGION, Key: 'url/file name.txt', Sign: true, Expires: 7200,
    Query: { 'response-content-disposition': 'inline', 'response-content-type': 'text/plain; charset=utf-8', versionId: 'null' },
  });
  const [start, end] = new URL(signed).searchParams.get('q-sign-time').split(';').map(Number);
  assert.equal(end - start, 7200);
  res = await viaProxy(server, signed);
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(res.headers['content-disposition'], 'inline');
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');

  // Query values are signed: changing one breaks the signature.
  const forged = signed.replace('response-content-disposition=inline', 'response-content-disposition=attachment');
  res = await viaProxy(server, forged);
  assert.equal(res.status, 403);
  assert.match(res.body.toString(), /<Code>SignatureDoesNotMatch<\/Code>/);
  // A URL signed by an unknown key.
  const stranger = makeCos(server, { SecretId: 'AKIDnodeStrangerKey000000000000001' });
  const foreign = await getObjectUrl(stranger, { Bucket, Region: REGION, Key: 'url/file name.txt', Sign: true });
  res = await viaProxy(server, foreign);
  assert.equal(res.status, 403);
  assert.match(res.body.toString(), /<Code>InvalidAccessKeyId<\/Code>/);
  // A GET URL used for DELETE.
  res = await viaProxy(server, signed, { method: 'DELETE' });
  assert.equal(res.status, 403);
  assert.match(res.body.toString(), /<Code>SignatureDoesNotMatch<\/Code>/);
});

test('temporary keys: requests and getObjectUrl carry x-cos-security-token', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localcos-node-acl-'));
  const config = path.join(dir, 'temp.toml');
  fs.writeFileSync(config, [
    'buckets = ["nodetmp"]',
    '[[temporary_credentials]]',
    'secret_id = "AKIDnodeTemporaryKey00000000001"',
    'secret_key = "node-temporary-secret"',
    'token = "node-session-token_0123"',
    'buckets = ["nodetmp"]',
  ].join('\n'));
  const tmpServer = await startServer(['--config', config]);
  try {
    const tmp = makeCos(tmpServer, {
      SecretId: 'AKIDnodeTemporaryKey00000000001',
      SecretKey: 'node-temporary-secret',
      SecurityToken: 'node-session-token_0123',
    });
    const B = 'nodetmp-1250000000';
    await tmp.putObject({ Bucket: B, Region: REGION, Key: 't.txt', Body: 'temporary' });
    const url = await getObjectUrl(tmp, { Bucket: B, Region: REGION, Key: 't.txt', Sign: true });
    assert.match(url, /&x-cos-security-token=node-session-token_0123/);
    let res = await viaProxy(tmpServer, url);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.body.toString(), 'temporary');
    res = await viaProxy(tmpServer, url.replace(/&x-cos-security-token=[^&]*/, ''));
    assert.equal(res.status, 403);
    assert.match(res.body.toString(), /<Code>InvalidAccessKeyId<\/Code>/);
    // Out of its bucket scope.
    const owner = makeCos(tmpServer);
    const other = uniqueBucket();
    await owner.putBucket({ Bucket: other, Region: REGION });
    await expectCosError(tmp.getBucket({ Bucket: other, Region: REGION }), 403, 'AccessDenied');
    await owner.deleteBucket({ Bucket: other, Region: REGION });
  } finally {
    await tmpServer.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
