// HTTPS with the server's own `--tls-self-signed` certificate and
// cos-nodejs-sdk-v5 on its default protocol (https:). Node reads
// NODE_EXTRA_CA_CERTS only at start-up, so the SDK runs in a child process
// whose environment (and only that one, NOTES 21) names the certificate. The
// child does a put/get/list round trip of a multi-MiB object plus a
// multipart uploadFile; an SDK in this process, which does not trust the
// certificate, is refused; plain HTTP to the HTTPS port gets a readable 400.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import {
  COS, REPO, REGION, SECRET_ID, SECRET_KEY, APPID, startServer, cleanEnv, md5hex,
} from '../lib/localcos.mjs';

const BUCKET = `nodetls-${APPID}`;
const SIZE = 9 * 1024 * 1024 + 4321;
let server;
let cert;
let tmp;

before(async () => {
  server = await startServer(['--tls-self-signed', '--bucket', BUCKET]);
  const deadline = Date.now() + 10000;
  while (!server.banner.some((l) => l.includes('TLS cert:'))) {
    assert.ok(Date.now() < deadline, server.banner.join('\n'));
    await new Promise((r) => setTimeout(r, 20));
  }
  const line = server.banner.find((l) => l.includes('TLS cert:'));
  cert = line.split('TLS cert:')[1].trim().split('  ')[0];
  assert.ok(fs.existsSync(cert), line);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localcos-node-tls-'));
});

after(async () => {
  if (server) await server.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// The SDK round trip, run in a child node with `env`; prints one JSON line.
const CHILD = `
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
const require = createRequire(process.env.SDK_FROM);
const COS = require('cos-nodejs-sdk-v5');
// node -e: argv is [node, ...args].
const [endpoint, bucket, region, file] = process.argv.slice(1);
// No Protocol: the SDK's default, https:.
const cos = new COS({
  SecretId: process.env.T_ID, SecretKey: process.env.T_KEY, Ip: endpoint, AutoSwitchHost: false,
});
const body = fs.readFileSync(file);
const md5 = (b) => crypto.createHash('md5').update(b).digest('hex');
const out = {};
const put = await cos.putObject({ Bucket: bucket, Region: region, Key: 'node/big.bin', Body: body });
out.putEtag = put.ETag.replaceAll('"', '');
const got = await cos.getObject({ Bucket: bucket, Region: region, Key: 'node/big.bin' });
out.getMd5 = md5(got.Body);
out.getLength = got.Body.length;
const up = await cos.uploadFile({
  Bucket: bucket, Region: region, Key: 'node/multipart.bin', FilePath: file, SliceSize: 1024 * 1024,
  ChunkSize: 2 * 1024 * 1024,
});
out.uploadStatus = up.statusCode;
const back = await cos.getObject({ Bucket: bucket, Region: region, Key: 'node/multipart.bin' });
out.multipartMd5 = md5(back.Body);
const list = await cos.getBucket({ Bucket: bucket, Region: region, Prefix: 'node/' });
out.listed = list.Contents.map((o) => [o.Key, Number(o.Size)]);
console.log(JSON.stringify(out));
`;

async function runChild(env) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD,
    server.endpoint, BUCKET, REGION, path.join(tmp, 'src.bin')], {
    env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const [code] = await once(child, 'exit');
  return { code, stdout, stderr };
}

test('cos-nodejs-sdk-v5 over https trusting the certificate through NODE_EXTRA_CA_CERTS', async () => {
  assert.equal(server.scheme, 'https');
  const data = crypto.randomBytes(SIZE);
  fs.writeFileSync(path.join(tmp, 'src.bin'), data);
  const env = cleanEnv({
    NODE_EXTRA_CA_CERTS: cert,
    SDK_FROM: path.join(REPO, 'tests/clients/node/package.json'),
    T_ID: SECRET_ID,
    T_KEY: SECRET_KEY,
  });
  const r = await runChild(env);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.equal(out.putEtag, md5hex(data));
  assert.equal(out.getLength, SIZE);
  assert.equal(out.getMd5, md5hex(data));
  assert.equal(out.uploadStatus, 200);
  assert.equal(out.multipartMd5, md5hex(data));
  assert.deepEqual(out.listed, [['node/big.bin', SIZE], ['node/multipart.bin', SIZE]]);

  // The same child without the certificate: the SDK refuses the server.
  const untrusted = { ...env };
  delete untrusted.NODE_EXTRA_CA_CERTS;
  const bad = await runChild(untrusted);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /self[- ]signed certificate|unable to verify|UNABLE_TO_VERIFY|DEPTH_ZERO_SELF_SIGNED/i);
});

test('an SDK in this process without the certificate is refused', async () => {
  const cos = new COS({ SecretId: SECRET_ID, SecretKey: SECRET_KEY, Ip: server.endpoint, AutoSwitchHost: false });
  await assert.rejects(
    cos.headBucket({ Bucket: BUCKET, Region: REGION }),
    (e) => /self[- ]signed|certificate|DEPTH_ZERO_SELF_SIGNED/i.test(`${e.code} ${e.message} ${e.error && e.error.message}`),
  );
});

test('plain http to the https port gets a 400 that says so', async () => {
  const started = Date.now();
  const res = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: server.port, path: `/${BUCKET}/k` }, (r) => {
      let body = '';
      r.on('data', (d) => { body += d; });
      r.on('end', () => resolve({ status: r.statusCode, headers: r.headers, body }));
    }).on('error', reject);
  });
  assert.ok(Date.now() - started < 5000);
  assert.equal(res.status, 400);
  assert.ok(res.headers['x-cos-request-id']);
  assert.match(res.body, /<Code>InvalidRequest<\/Code>/);
  assert.match(res.body, /speaks HTTPS/);
  // The SDK over http: gets the same error as a COS error, not a hang.
  const cos = new COS({
    SecretId: SECRET_ID, SecretKey: SECRET_KEY, Protocol: 'http:', Ip: server.endpoint, AutoSwitchHost: false,
  });
  await assert.rejects(cos.headBucket({ Bucket: BUCKET, Region: REGION }), (e) => e.statusCode === 400);
});
