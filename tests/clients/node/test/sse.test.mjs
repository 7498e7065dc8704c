// Server-side encryption with cos-nodejs-sdk-v5 (spec cos.md §5): SSE-COS,
// SSE-KMS (CMKs from a config file given to this file's own server) and
// SSE-C, through putObject/getObject/headObject/putObjectCopy/downloadFile.
// Ciphertext at rest and tamper detection are proved in tests/it/sse.rs.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, makeCos, uniqueBucket, dropBucket, md5hex, crc64, REGION,
} from '../lib/localcos.mjs';

// The doc example key (cos.md §5) and a second one.
const KEY = 'MDEyMzQ1Njc4OUFCQ0RFRjAxMjM0NTY3ODlBQkNERUY=';
const KEY_MD5 = 'U5L61r7jcwdNvT7frmUG8g==';
const KEY2 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef').toString('base64');
const keyMd5 = (k) => crypto.createHash('md5').update(Buffer.from(k, 'base64')).digest('base64');
const ssec = (k = KEY) => ({ SSECustomerAlgorithm: 'AES256', SSECustomerKey: k, SSECustomerKeyMD5: keyMd5(k) });
const copySourceSsec = (k = KEY) => ({
  'x-cos-copy-source-server-side-encryption-customer-algorithm': 'AES256',
  'x-cos-copy-source-server-side-encryption-customer-key': k,
  'x-cos-copy-source-server-side-encryption-customer-key-MD5': keyMd5(k),
});

let server;
let cos;
let Bucket;
let tmp;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localcos-node-sse-'));
  const conf = path.join(tmp, 'localcos.toml');
  fs.writeFileSync(conf, [
    '[sse]',
    '[[sse.kms_keys]]',
    'id = "cmk-node"',
    `key = "${crypto.randomBytes(32).toString('base64')}"`,
    '[[sse.kms_keys]]',
    'id = "cmk-node-off"',
    `key = "${crypto.randomBytes(32).toString('base64')}"`,
    'enabled = false',
    '',
  ].join('\n'));
  server = await startServer(['--config', conf]);
  cos = makeCos(server);
  Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION });
});

after(async () => {
  if (cos && Bucket) await dropBucket(cos, Bucket);
  if (server) await server.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const R = () => ({ Bucket, Region: REGION });
const copySource = (key) => `${Bucket}.cos.${REGION}.myqcloud.com/${encodeURIComponent(key)}`;
const rejectsWith = (promise, status, code) => assert.rejects(promise, (err) => {
  assert.equal(err.statusCode, status);
  if (code) assert.equal(err.code, code);
  return true;
});

describe('SSE-COS', () => {
  test('put, get, head, range echo AES256; ETag and CRC-64 of the plaintext', async () => {
    const body = crypto.randomBytes(200000);
    const put = await cos.putObject({ ...R(), Key: 'cos.bin', Body: body, ServerSideEncryption: 'AES256' });
    assert.equal(put.statusCode, 200);
    assert.equal(put.headers['x-cos-server-side-encryption'], 'AES256');
    assert.equal(put.ETag, `"${md5hex(body)}"`);
    assert.equal(put.headers['x-cos-hash-crc64ecma'], crc64(body));

    const got = await cos.getObject({ ...R(), Key: 'cos.bin' });
    assert.equal(got.headers['x-cos-server-side-encryption'], 'AES256');
    assert.ok(got.Body.equals(body));
    const head = await cos.headObject({ ...R(), Key: 'cos.bin' });
    assert.equal(head.headers['x-cos-server-side-encryption'], 'AES256');
    assert.equal(head.headers['content-length'], String(body.length));
    const part = await cos.getObject({ ...R(), Key: 'cos.bin', Range: 'bytes=65530-65545' });
    assert.equal(part.statusCode, 206);
    assert.ok(part.Body.equals(body.subarray(65530, 65546)));
  });
});

describe('SSE-KMS', () => {
  test('a configured CMK by id and as the default', async () => {
    const body = crypto.randomBytes(70000);
    const put = await cos.putObject({
      ...R(), Key: 'kms.bin', Body: body, ServerSideEncryption: 'cos/kms', SSEKMSKeyId: 'cmk-node',
    });
    assert.equal(put.headers['x-cos-server-side-encryption'], 'cos/kms');
    assert.equal(put.headers['x-cos-server-side-encryption-cos-kms-key-id'], 'cmk-node');
    const got = await cos.getObject({ ...R(), Key: 'kms.bin' });
    assert.equal(got.headers['x-cos-server-side-encryption-cos-kms-key-id'], 'cmk-node');
    assert.ok(got.Body.equals(body));

    const dflt = await cos.putObject({ ...R(), Key: 'kms2.bin', Body: body, ServerSideEncryption: 'cos/kms' });
    assert.equal(dflt.headers['x-cos-server-side-encryption-cos-kms-key-id'], 'cmk-node');
  });

  test('unknown and disabled CMKs are refused; nothing is stored', async () => {
    await rejectsWith(cos.putObject({
      ...R(), Key: 'kms-bad.bin', Body: 'x', ServerSideEncryption: 'cos/kms', SSEKMSKeyId: 'nope',
    }), 400, 'KmsKeyNotExist');
    await rejectsWith(cos.putObject({
      ...R(), Key: 'kms-bad.bin', Body: 'x', ServerSideEncryption: 'cos/kms', SSEKMSKeyId: 'cmk-node-off',
    }), 400, 'KmsKeyDisabled');
    await rejectsWith(cos.headObject({ ...R(), Key: 'kms-bad.bin' }), 404);
  });
});

describe('SSE-C', () => {
  test('put and get with the key; algorithm and key MD5 echoed, never the key', async () => {
    const body = crypto.randomBytes(150000);
    const put = await cos.putObject({ ...R(), Key: 'c.bin', Body: body, ...ssec() });
    assert.equal(put.statusCode, 200);
    assert.equal(put.headers['x-cos-server-side-encryption-customer-algorithm'], 'AES256');
    assert.equal(put.headers['x-cos-server-side-encryption-customer-key-md5'], KEY_MD5);
    assert.equal(put.headers['x-cos-server-side-encryption-customer-key'], undefined);
    assert.equal(put.ETag, `"${md5hex(body)}"`);

    const got = await cos.getObject({ ...R(), Key: 'c.bin', ...ssec() });
    assert.ok(got.Body.equals(body));
    assert.equal(got.headers['x-cos-server-side-encryption-customer-key-md5'], KEY_MD5);
    assert.equal(got.headers['x-cos-hash-crc64ecma'], crc64(body));
    const head = await cos.headObject({ ...R(), Key: 'c.bin', ...ssec() });
    assert.equal(head.headers['content-length'], String(body.length));
  });

  test('download without the key, with a wrong key, with a bad MD5', async () => {
    await cos.putObject({ ...R(), Key: 'c2.bin', Body: 'top secret', ...ssec() });
    await rejectsWith(cos.getObject({ ...R(), Key: 'c2.bin' }), 400, 'SsecDecryptHeaderInvalid');
    await rejectsWith(cos.getObject({ ...R(), Key: 'c2.bin', ...ssec(KEY2) }), 403, 'AccessDenied');
    await rejectsWith(cos.getObject({
      ...R(), Key: 'c2.bin', SSECustomerAlgorithm: 'AES256', SSECustomerKey: KEY, SSECustomerKeyMD5: keyMd5(KEY2),
    }), 400, 'InvalidArgument');
    await rejectsWith(cos.headObject({ ...R(), Key: 'c2.bin' }), 400);
    await rejectsWith(cos.headObject({ ...R(), Key: 'c2.bin', ...ssec(KEY2) }), 403);
    await cos.putObject({ ...R(), Key: 'plain.txt', Body: 'plain' });
    await rejectsWith(cos.getObject({ ...R(), Key: 'plain.txt', ...ssec() }), 400, 'SSEHeaderNotAllowed');
  });

  test('downloadFile: ranged chunks with the key, each checked against the HEAD CRC-64', async () => {
    const body = crypto.randomBytes(3 * 1024 * 1024 + 777);
    await cos.putObject({ ...R(), Key: 'big-c.bin', Body: body, ...ssec() });
    const dest = path.join(tmp, 'big-c.bin');
    await cos.downloadFile({
      ...R(), Key: 'big-c.bin', FilePath: dest, ChunkSize: 1024 * 1024, ParallelLimit: 3, ...ssec(),
    });
    assert.ok(fs.readFileSync(dest).equals(body));
  });
});

describe('putObjectCopy between kinds', () => {
  test('plain → SSE-COS → SSE-C → SSE-KMS → plain', async () => {
    const body = crypto.randomBytes(90000);
    await cos.putObject({ ...R(), Key: 'src.bin', Body: body });

    const toCos = await cos.putObjectCopy({
      ...R(), Key: 'cp-cos.bin', CopySource: copySource('src.bin'), ServerSideEncryption: 'AES256',
    });
    assert.equal(toCos.headers['x-cos-server-side-encryption'], 'AES256');
    assert.equal(toCos.ETag, `"${md5hex(body)}"`);
    assert.equal(toCos.CRC64, crc64(body));

    const toC = await cos.putObjectCopy({
      ...R(), Key: 'cp-c.bin', CopySource: copySource('cp-cos.bin'), ...ssec(),
    });
    assert.equal(toC.headers['x-cos-server-side-encryption-customer-algorithm'], 'AES256');
    const gotC = await cos.getObject({ ...R(), Key: 'cp-c.bin', ...ssec() });
    assert.ok(gotC.Body.equals(body));

    await rejectsWith(cos.putObjectCopy({
      ...R(), Key: 'cp-kms.bin', CopySource: copySource('cp-c.bin'), ServerSideEncryption: 'cos/kms',
    }), 400, 'SsecDecryptHeaderInvalid');
    await rejectsWith(cos.putObjectCopy({
      ...R(), Key: 'cp-kms.bin', CopySource: copySource('cp-c.bin'), ServerSideEncryption: 'cos/kms',
      Headers: copySourceSsec(KEY2),
    }), 403, 'AccessDenied');
    const toKms = await cos.putObjectCopy({
      ...R(), Key: 'cp-kms.bin', CopySource: copySource('cp-c.bin'), ServerSideEncryption: 'cos/kms',
      SSEKMSKeyId: 'cmk-node', Headers: copySourceSsec(),
    });
    assert.equal(toKms.headers['x-cos-server-side-encryption-cos-kms-key-id'], 'cmk-node');
    const gotKms = await cos.getObject({ ...R(), Key: 'cp-kms.bin' });
    assert.ok(gotKms.Body.equals(body));

    await cos.putObjectCopy({ ...R(), Key: 'cp-plain.bin', CopySource: copySource('cp-kms.bin') });
    const plain = await cos.getObject({ ...R(), Key: 'cp-plain.bin' });
    assert.equal(plain.headers['x-cos-server-side-encryption'], undefined);
    assert.ok(plain.Body.equals(body));
  });
});
