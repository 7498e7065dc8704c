// Start and stop a real localcos for one node:test file, and small helpers
// around cos-nodejs-sdk-v5.  Proxy variables never reach the server or the SDK
// from here: they are stripped from the child's environment.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// The suite talks to 127.0.0.1 only: an inherited proxy (the SDK's HTTP stack
// honours HTTP_PROXY) would swallow those requests, so drop it for this process.
for (const v of ['http_proxy', 'https_proxy', 'all_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY']) delete process.env[v];

const require = createRequire(import.meta.url);
export const COS = require('cos-nodejs-sdk-v5');

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const REGION = 'ap-guangzhou';
export const APPID = '1250000000';
export const SECRET_ID = 'AKIDlocalcosTESTaccesskey0000000002';
export const SECRET_KEY = 'localcosTESTsecretkey0000000000002';
const LISTEN_RE = /^localcos listening on (https?):\/\/127\.0\.0\.1:(\d+)$/;

export function localcosBin() {
  if (process.env.LOCALCOS_BIN) return process.env.LOCALCOS_BIN;
  let target = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target');
  if (!path.isAbsolute(target)) target = path.join(REPO, target);
  return path.join(target, 'debug', 'localcos');
}

export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!['http_proxy', 'https_proxy', 'all_proxy', 'no_proxy'].includes(k.toLowerCase())) env[k] = v;
  }
  return Object.assign(env, extra);
}

/** Spawn `localcos serve --ephemeral --listen 127.0.0.1:0 ...args` and wait for its address line. */
export async function startServer(args = []) {
  const bin = localcosBin();
  if (!fs.existsSync(bin)) throw new Error(`localcos binary not found at ${bin}: run cargo build or set LOCALCOS_BIN`);
  const logPath = path.join(os.tmpdir(), `localcos-node-${process.pid}-${Date.now()}.log`);
  const logFd = fs.openSync(logPath, 'w');
  const child = spawn(bin, ['serve', '--ephemeral', '--listen', '127.0.0.1:0', ...args], {
    env: cleanEnv({ LOCALCOS_SECRET_ID: SECRET_ID, LOCALCOS_SECRET_KEY: SECRET_KEY }),
    stdio: ['ignore', 'pipe', logFd],
  });
  fs.closeSync(logFd);
  const rl = readline.createInterface({ input: child.stdout });
  // Every stdout line is kept (the banner; readline may deliver several at once).
  const banner = [];
  const firstLine = new Promise((resolve) => {
    rl.on('line', (line) => {
      if (banner.length < 100) banner.push(line);
      if (banner.length === 1) resolve(line);
    });
  });
  const first = await Promise.race([
    firstLine,
    once(child, 'exit').then(([code]) => { throw new Error(`localcos exited (${code}) before listening; see ${logPath}:\n${fs.readFileSync(logPath, 'utf8').slice(-2000)}`); }),
    new Promise((_, reject) => setTimeout(() => reject(new Error('localcos did not print its address within 30s')), 30000).unref()),
  ]);
  const m = LISTEN_RE.exec(first);
  if (!m) {
    child.kill('SIGTERM');
    throw new Error(`unexpected first stdout line: ${JSON.stringify(first)} (log ${logPath})`);
  }
  const scheme = m[1];
  const port = Number(m[2]);
  return {
    port,
    scheme,
    endpoint: `127.0.0.1:${port}`,
    url: `${scheme}://127.0.0.1:${port}`,
    /** stdout lines (the banner, first line included), as they arrive. */
    banner,
    logPath,
    /** Stops the server; its stderr log is removed after a clean exit
     *  (kept when it crashed, or always with LOCALCOS_KEEP_LOGS=1). */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(timer);
      }
      const clean = child.exitCode === 0 || child.signalCode === 'SIGTERM';
      if (clean && !process.env.LOCALCOS_KEEP_LOGS) fs.rmSync(logPath, { force: true });
    },
  };
}

/** The recommended IP mode: http://127.0.0.1:PORT with Host = <bucket>.cos.<region>.myqcloud.com. */
export function makeCos(server, extra = {}) {
  return new COS({
    SecretId: SECRET_ID,
    SecretKey: SECRET_KEY,
    Protocol: 'http:',
    Ip: server.endpoint,
    AutoSwitchHost: false,
    ...extra,
  });
}

let counter = 0;
export function uniqueBucket() {
  counter += 1;
  return `n${String(counter).padStart(3, '0')}${crypto.randomBytes(4).toString('hex')}-${APPID}`;
}

export function md5hex(buf) {
  return crypto.createHash('md5').update(buf).digest('hex');
}

/** CRC-64/XZ (COS x-cos-hash-crc64ecma), as an unsigned decimal string. */
const CRC_TABLE = (() => {
  const poly = 0xC96C5795D7870F42n;
  const t = [];
  for (let i = 0n; i < 256n; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    t.push(c);
  }
  return t;
})();
export function crc64(buf) {
  let crc = 0xFFFFFFFFFFFFFFFFn;
  for (const b of buf) crc = CRC_TABLE[Number((crc ^ BigInt(b)) & 0xFFn)] ^ (crc >> 8n);
  return (crc ^ 0xFFFFFFFFFFFFFFFFn).toString();
}

/** Empty and delete a bucket, best effort. */
export async function dropBucket(cos, Bucket) {
  try {
    for (;;) {
      const list = await cos.getBucket({ Bucket, Region: REGION, MaxKeys: 1000 });
      if (!list.Contents || list.Contents.length === 0) break;
      await cos.deleteMultipleObject({ Bucket, Region: REGION, Objects: list.Contents.map((c) => ({ Key: c.Key })) });
    }
    await cos.deleteBucket({ Bucket, Region: REGION });
  } catch (e) {
    console.error(`cleanup of ${Bucket} failed: ${e && e.message}`);
  }
}

/**
 * GET/PUT an absolute URL (e.g. a pre-signed one on the real COS domain) through
 * localcos used as an HTTP proxy: absolute-form request target, no DNS needed.
 */
export function viaProxy(server, url, { method = 'GET', body, headers = {} } = {}) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.port, method, path: url, headers: { Host: u.host, ...headers }, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.end(body); else req.end();
  });
}

export function getObjectUrl(cos, params) {
  return new Promise((resolve, reject) => {
    cos.getObjectUrl(params, (err, data) => (err ? reject(err) : resolve(data.Url)));
  });
}
