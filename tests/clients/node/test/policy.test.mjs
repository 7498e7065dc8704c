// cos-nodejs-sdk-v5 against a real localcos: bucket policy
// (cos-bucket.md §3) putBucketPolicy / getBucketPolicy / deleteBucketPolicy
// as the SDK sends and reads them, the effect on anonymous fetches (one
// prefix public, the rest private, an explicit deny beating an ACL grant),
// and the server-wide default CORS rule (--cors-default-origin).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, makeCos, uniqueBucket, dropBucket, REGION, APPID } from '../lib/localcos.mjs';

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
  if (cos && Bucket) await dropBucket(cos, Bucket);
  if (server) await server.stop();
});

const resource = (pattern) => `qcs::cos:${REGION}:uid/${APPID}:${Bucket}/${pattern}`;
/** An anonymous fetch: path-style URL on the bare server address. */
const plain = (key, init) => fetch(`${server.url}/${Bucket}/${key}`, init);

async function noPolicy() {
  await assert.rejects(cos.getBucketPolicy({ Bucket, Region: REGION }), (err) => {
    assert.equal(err.statusCode, 404, JSON.stringify(err));
    assert.equal(err.ErrorStatus, 'Policy Not Found');
    assert.match(JSON.stringify(err), /NoSuchPolicy/);
    return true;
  });
}

test('putBucketPolicy / getBucketPolicy / deleteBucketPolicy', async () => {
  await noPolicy();
  const statement = [{
    principal: { qcs: ['qcs::cam::anyone:anyone'] },
    effect: 'allow',
    action: ['name/cos:GetObject', 'name/cos:HeadObject'],
    resource: [resource('public/*')],
  }];
  const put = await cos.putBucketPolicy({ Bucket, Region: REGION, Policy: { statement } });
  assert.equal(put.statusCode, 204);
  const got = await cos.getBucketPolicy({ Bucket, Region: REGION });
  assert.equal(got.statusCode, 200);
  assert.equal(got.headers['content-type'], 'application/json');
  // As the SDK's own test reads it: Statement at the top, inner keys as sent.
  assert.deepEqual(got.Policy.Statement, statement);
  assert.equal(got.Policy.Statement[0].resource[0], resource('public/*'));
  assert.equal(got.Policy.version, '2.0');

  await assert.rejects(
    cos.putBucketPolicy({ Bucket, Region: REGION, Policy: { statement: [{ ...statement[0], effect: 'maybe' }] } }),
    (err) => {
      assert.equal(err.statusCode, 400);
      assert.equal(err.code, 'MalformedPolicy');
      return true;
    },
  );
  const del = await cos.deleteBucketPolicy({ Bucket, Region: REGION });
  assert.equal(del.statusCode, 204);
  await noPolicy();
});

test('a policy opens one prefix to anonymous reads; a deny beats a public-read ACL', async () => {
  await cos.putObject({ Bucket, Region: REGION, Key: 'public/a.txt', Body: 'open' });
  await cos.putObject({ Bucket, Region: REGION, Key: 'inner/b.txt', Body: 'closed' });
  assert.equal((await plain('public/a.txt')).status, 403);
  await cos.putBucketPolicy({
    Bucket,
    Region: REGION,
    Policy: {
      version: '2.0',
      statement: [{
        principal: { qcs: ['qcs::cam::anyone:anyone'] },
        effect: 'allow',
        action: ['name/cos:GetObject'],
        resource: [resource('public/*')],
      }],
    },
  });
  let res = await plain('public/a.txt');
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'open');
  res = await plain('inner/b.txt');
  assert.equal(res.status, 403);
  assert.match(await res.text(), /<Code>AccessDenied<\/Code>/);

  // Public-read ACL opens everything; a deny statement closes inner/ again.
  await cos.putBucketAcl({ Bucket, Region: REGION, ACL: 'public-read' });
  assert.equal((await plain('inner/b.txt')).status, 200);
  await cos.putBucketPolicy({
    Bucket,
    Region: REGION,
    Policy: {
      statement: [{
        principal: { qcs: ['qcs::cam::anyone:anyone'] },
        effect: 'deny',
        action: ['name/cos:GetObject'],
        resource: [resource('inner/*')],
      }],
    },
  });
  assert.equal((await plain('inner/b.txt')).status, 403);
  assert.equal((await plain('public/a.txt')).status, 200);
  await cos.deleteBucketPolicy({ Bucket, Region: REGION });
  assert.equal((await plain('inner/b.txt')).status, 200);
  await cos.putBucketAcl({ Bucket, Region: REGION, ACL: 'private' });
});

test('default CORS rule from --cors-default-origin', async () => {
  const srv = await startServer(['--cors-default-origin', 'http://localhost:*']);
  try {
    const c = makeCos(srv);
    const b = uniqueBucket();
    await c.putBucket({ Bucket: b, Region: REGION });
    // The SDK's optionsObject (a signed preflight) sees the default rule.
    const ok = await c.optionsObject({
      Bucket: b, Region: REGION, Key: 'k.txt', Origin: 'http://localhost:8080', AccessControlRequestMethod: 'PUT',
    });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.headers['access-control-allow-origin'], 'http://localhost:8080');
    const refused = await c.optionsObject({
      Bucket: b, Region: REGION, Key: 'k.txt', Origin: 'https://elsewhere.test', AccessControlRequestMethod: 'GET',
    });
    assert.equal(refused.OptionsForbidden, true);
    await c.deleteBucket({ Bucket: b, Region: REGION });
  } finally {
    await srv.stop();
  }
});
