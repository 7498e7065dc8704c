// POST Object (browser form upload, cos.md §1.9, §6A.6). cos-nodejs-sdk-v5
// has no postObject (it is a cos-js-sdk-v5 browser feature), so the form is
// built the way a browser page does it — FormData + fetch, signed with the
// §1.9 recipe — and the SDK reads the results back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import {
  startServer, makeCos, uniqueBucket, dropBucket, md5hex, REGION, SECRET_ID, SECRET_KEY,
} from '../lib/localcos.mjs';

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

const hmacHex = (key, msg) => crypto.createHmac('sha1', key).update(msg).digest('hex');

/** Form fields signed per §1.9: SignKey = HMAC-SHA1(SecretKey, KeyTime),
 * StringToSign = SHA1(policy), Signature = HMAC-SHA1(SignKey, StringToSign). */
function signedFields(key, conditions, extra = {}, expiresIn = 600) {
  const now = Math.floor(Date.now() / 1000);
  const keyTime = `${now - 60};${now + expiresIn}`;
  const policy = JSON.stringify({
    expiration: new Date(Date.now() + expiresIn * 1000).toISOString(),
    conditions: [
      ...conditions,
      { 'q-sign-algorithm': 'sha1' },
      { 'q-ak': SECRET_ID },
      { 'q-sign-time': keyTime },
    ],
  });
  const signKey = hmacHex(SECRET_KEY, keyTime);
  const stringToSign = crypto.createHash('sha1').update(policy).digest('hex');
  return {
    key,
    ...extra,
    policy: Buffer.from(policy).toString('base64'),
    'q-sign-algorithm': 'sha1',
    'q-ak': SECRET_ID,
    'q-key-time': keyTime,
    'q-signature': hmacHex(signKey, stringToSign),
  };
}

/** POST the form path-style to the bucket, `file` last, as a browser would. */
async function postForm(fields, filename, data) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([data], { type: 'application/octet-stream' }), filename);
  return fetch(`${server.url}/${Bucket}`, { method: 'POST', body: form, redirect: 'manual' });
}

test('a signed form uploads; the SDK reads object, type and metadata back', async () => {
  const data = Buffer.from('form upload from node\n'.repeat(50));
  const fields = signedFields('node/${filename}', [
    { bucket: Bucket },
    ['starts-with', '$key', 'node/'],
    ['content-length-range', 1, 4096],
  ], { 'Content-Type': 'text/markdown', 'x-cos-meta-from': 'node', success_action_status: '201' });
  const r = await postForm(fields, 'notes.md', data);
  const text = await r.text();
  assert.equal(r.status, 201, text);
  assert.ok(r.headers.get('x-cos-request-id'));
  const etag = `"${md5hex(data)}"`;
  assert.equal(r.headers.get('etag'), etag);
  assert.match(text, /<Key>node\/notes\.md<\/Key>/);
  assert.ok(text.includes(`<ETag>&quot;${md5hex(data)}&quot;</ETag>`), text);

  const got = await cos.getObject({ Bucket, Region: REGION, Key: 'node/notes.md' });
  assert.ok(Buffer.from(got.Body).equals(data));
  assert.equal(got.headers['content-type'], 'text/markdown');
  assert.equal(got.headers['x-cos-meta-from'], 'node');
  assert.equal(got.ETag, etag);
});

test('policy failures are COS errors and store nothing', async () => {
  const cases = [
    [signedFields('node/bad', [['starts-with', '$key', 'elsewhere/']]), 403, 'AccessDenied'],
    [signedFields('node/bad', [], {}, -30), 403, 'AccessDenied'],
    [{ ...signedFields('node/bad', []), 'q-signature': '0'.repeat(40) }, 403, 'SignatureDoesNotMatch'],
    [signedFields('node/bad', [['content-length-range', 0, 2]]), 400, 'EntityTooLarge'],
  ];
  for (const [fields, status, code] of cases) {
    const r = await postForm(fields, 'bad', Buffer.from('too long'));
    const text = await r.text();
    assert.equal(r.status, status, text);
    assert.ok(text.includes(`<Code>${code}</Code>`), text);
    assert.ok(r.headers.get('x-cos-request-id'));
  }
  await assert.rejects(cos.headObject({ Bucket, Region: REGION, Key: 'node/bad' }), (err) => err.statusCode === 404);
});

test('success_action_redirect answers 303 with bucket, key and etag', async () => {
  const fields = signedFields('node/r.txt', [], { success_action_redirect: 'https://example.com/ok' });
  const r = await postForm(fields, 'r.txt', Buffer.from('r'));
  assert.equal(r.status, 303, await r.text());
  const loc = new URL(r.headers.get('location'));
  assert.equal(loc.origin + loc.pathname, 'https://example.com/ok');
  assert.equal(loc.searchParams.get('bucket'), Bucket);
  assert.equal(loc.searchParams.get('key'), 'node/r.txt');
  assert.equal(loc.searchParams.get('etag'), `"${md5hex(Buffer.from('r'))}"`);
});

test('an unsigned form needs a public-read-write bucket', async () => {
  const r = await postForm({ key: 'anon.txt' }, 'anon.txt', Buffer.from('a'));
  assert.equal(r.status, 403, await r.text());
  await cos.putBucketAcl({ Bucket, Region: REGION, ACL: 'public-read-write' });
  const ok = await postForm({ key: 'anon.txt' }, 'anon.txt', Buffer.from('a'));
  assert.equal(ok.status, 204, await ok.text());
  const got = await cos.getObject({ Bucket, Region: REGION, Key: 'anon.txt' });
  assert.equal(Buffer.from(got.Body).toString(), 'a');
  await cos.putBucketAcl({ Bucket, Region: REGION, ACL: 'private' });
});
