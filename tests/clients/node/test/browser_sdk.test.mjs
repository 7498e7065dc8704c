// cos-js-sdk-v5 (the official browser SDK) in headless Chromium against a
// real localcos, cross-origin: a page served by its own small HTTP server
// (origin http://127.0.0.1:<app port>) calls the bucket under its real COS
// host name, <bucket>.cos.ap-guangzhou.myqcloud.com, which Chromium's
// --host-resolver-rules map to localcos's port.  The bucket's CORS rules are
// set by cos-nodejs-sdk-v5 from this file; everything in the page goes
// through XHR/fetch with the browser's CORS checks, so a header the rules do
// not expose is a header the SDK cannot read.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  startServer, makeCos, uniqueBucket, dropBucket, md5hex, REPO, REGION, SECRET_ID, SECRET_KEY,
} from '../lib/localcos.mjs';
import { launchBrowser, screenshot } from '../lib/browser.mjs';

const NODE_DIR = path.join(REPO, 'tests', 'clients', 'node');
const PAGE_DIR = path.join(NODE_DIR, 'browser');
const SDK_DIST = path.join(NODE_DIR, 'node_modules', 'cos-js-sdk-v5', 'dist', 'cos-js-sdk-v5.min.js');

// Every response header cos-js-sdk-v5 1.10.1 reads (src/*.js), plus the
// ones this page reads itself.  Content-Length, Content-Type,
// Last-Modified, Cache-Control, Content-Language, Expires and Pragma are
// CORS-safelisted: a browser shows them without any rule.  The README's
// "Browser apps" section lists the same names.
const EXPOSE = [
  'ETag', // putObject/uploadPart/headObject data.ETag; sliceUploadFile needs it per part
  'Content-Length', // sliceCopyFile's HEAD (safelisted in Chromium; listed as Tencent does)
  'x-cos-request-id', // data.RequestId on every call
  'x-cos-version-id', // data.VersionId
  'x-cos-delete-marker', // data.DeleteMarker
  'x-cos-hash-crc64ecma', // read by apps that check CRC-64
  'x-cos-acl', // getObjectAcl/getBucketAcl data.ACL
  'Date', // clock-skew correction on RequestTimeTooSkewed
  'Content-Range', // ranged GETs
  'x-cos-meta-color', // user metadata: each x-cos-meta-* name is listed (no wildcard)
  'x-cos-meta-owner',
];
const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'];

let server; // localcos
let cos; // cos-nodejs-sdk-v5, the "backend"
let Bucket;
let app; // the pages' HTTP server
let appOrigin; // allowed by the CORS rules
let deniedOrigin; // same server under another origin, not allowed
let browser;
let page; // on appOrigin
let downloadDir;

/** A real PNG (RGB, 8 bit) of w x h pixels, built with zlib. */
function makePng(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = [];
  for (let y = 0; y < h; y++) {
    raw.push(0); // filter: none
    for (let x = 0; x < w; x++) raw.push((x * 60) & 0xff, (y * 80) & 0xff, 200);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.from(raw))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
const PNG = makePng(5, 3);

/** The page's xorshift32 pattern (browser/sdk.html `pattern`). */
function pattern(n, seed) {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/** Serves the test page and the SDK's dist file; anything else 404. */
function startApp() {
  const files = {
    '/sdk.html': [path.join(PAGE_DIR, 'sdk.html'), 'text/html; charset=utf-8'],
    '/cos-js-sdk-v5.min.js': [SDK_DIST, 'text/javascript'],
  };
  const srv = http.createServer((req, res) => {
    const f = files[new URL(req.url, 'http://x').pathname];
    if (!f) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': f[1], 'cache-control': 'no-store' });
    res.end(fs.readFileSync(f[0]));
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

const bucketHost = () => `${Bucket}.cos.${REGION}.myqcloud.com`;

/** A plain HTTP request to localcos with the bucket's Host (no browser). */
function raw(method, p, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.port, method, path: p, headers: { Host: bucketHost(), ...headers }, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function putCors(origins) {
  await cos.putBucketCors({
    Bucket,
    Region: REGION,
    // Vary: Origin on every response, so the browser cache never hands a
    // plain (no-CORS) answer to a CORS request.
    ResponseVary: 'true',
    CORSRules: [{
      AllowedOrigin: origins,
      AllowedMethod: METHODS,
      AllowedHeader: ['*'],
      ExposeHeader: EXPOSE,
      MaxAgeSeconds: '5',
    }],
  });
}

async function openPage(origin) {
  const p = await browser.newPage();
  p.on('pageerror', (e) => console.error(`page error (${origin}): ${e.message}`));
  await p.goto(`${origin}/sdk.html`, { waitUntil: 'load' });
  assert.equal(await p.evaluate(() => typeof COS), 'function', 'the SDK loaded');
  await p.evaluate((o) => window.makeCos(o), { SecretId: SECRET_ID, SecretKey: SECRET_KEY });
  return p;
}

/** cos[method](params) in page `p`, with Bucket and Region filled in. */
function call(p, method, params = {}) {
  return p.evaluate((m, a) => window.call(m, a), method, { Bucket, Region: REGION, ...params });
}

before(async () => {
  server = await startServer();
  cos = makeCos(server);
  Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION });
  app = await startApp();
  const port = app.address().port;
  appOrigin = `http://127.0.0.1:${port}`;
  deniedOrigin = `http://localhost:${port}`;
  await putCors([appOrigin]);
  browser = await launchBrowser({ hostRules: [`MAP *.myqcloud.com 127.0.0.1:${server.port}`] });
  page = await openPage(appOrigin);
  downloadDir = fs.mkdtempSync(path.join(os.tmpdir(), 'localcos-downloads-'));
});

after(async () => {
  if (browser) await browser.close();
  if (app) await new Promise((r) => app.close(r));
  if (cos && Bucket) await dropBucket(cos, Bucket);
  if (server) await server.stop();
  if (downloadDir) fs.rmSync(downloadDir, { recursive: true, force: true });
});

test('preflight from the allowed origin: 200 with the rule\'s headers', async () => {
  const r = await raw('OPTIONS', '/any/key', {
    Origin: appOrigin,
    'Access-Control-Request-Method': 'PUT',
    'Access-Control-Request-Headers': 'authorization,content-type,x-cos-meta-color',
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], appOrigin);
  assert.equal(r.headers['access-control-allow-methods'], METHODS.join(','));
  assert.equal(r.headers['access-control-allow-headers'], 'authorization,content-type,x-cos-meta-color');
  assert.equal(r.headers['access-control-expose-headers'], EXPOSE.join(','));
  assert.equal(r.headers['access-control-max-age'], '5');
  assert.equal(r.headers.vary, 'Origin');
  // ExposeHeader takes names only: a wildcard is refused, as COS does.
  await assert.rejects(
    cos.putBucketCors({
      Bucket, Region: REGION,
      CORSRules: [{ AllowedOrigin: [appOrigin], AllowedMethod: ['GET'], ExposeHeader: ['*'] }],
    }),
    (e) => e.statusCode === 400 && e.code === 'InvalidArgument',
  );
  const kept = await cos.getBucketCors({ Bucket, Region: REGION });
  assert.deepEqual(kept.CORSRules[0].ExposeHeaders, EXPOSE, 'the earlier rules stay');
});

test('putObject (string, Blob with x-cos-meta-*) and headObject read ETag and metadata', async () => {
  const put = await call(page, 'putObject', { Key: 'hello.txt', Body: 'hello from the browser' });
  assert.equal(put.ok, true, JSON.stringify(put));
  assert.equal(put.statusCode, 200);
  assert.equal(put.ETag, `"${md5hex('hello from the browser')}"`);
  assert.match(put.RequestId, /\S+/, 'x-cos-request-id exposed');

  const blob = await page.evaluate(async (B, R) => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    return window.call('putObject', {
      Bucket: B,
      Region: R,
      Key: 'bytes.bin',
      Body: new Blob([bytes], { type: 'application/x-test' }),
      Headers: { 'x-cos-meta-color': 'blue', 'x-cos-meta-owner': 'page', 'x-cos-meta-hidden': 'yes' },
    });
  }, Bucket, REGION);
  assert.equal(blob.ok, true, JSON.stringify(blob));
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  assert.equal(blob.ETag, `"${md5hex(all)}"`);

  const head = await call(page, 'headObject', { Key: 'bytes.bin' });
  assert.equal(head.statusCode, 200);
  assert.equal(head.ETag, `"${md5hex(all)}"`);
  assert.equal(head.headers['x-cos-meta-color'], 'blue');
  assert.equal(head.headers['x-cos-meta-owner'], 'page');
  assert.equal(head.headers['content-length'], '256');
  assert.equal(head.headers['content-type'], 'application/x-test');
  assert.match(head.headers['x-cos-hash-crc64ecma'], /^\d+$/);
  assert.match(head.headers.date, /GMT$/);
  // A header the rule does not name stays hidden from the page.
  assert.equal(head.headers['x-cos-meta-hidden'], undefined);
  const viaNode = await cos.headObject({ Bucket, Region: REGION, Key: 'bytes.bin' });
  assert.equal(viaNode.headers['x-cos-meta-hidden'], 'yes', 'the server sends it');
  assert.equal(viaNode.headers['x-cos-meta-color'], 'blue');
});

test('getObject whole and with Range, bytes compared', async () => {
  const whole = await call(page, 'getObject', { Key: 'bytes.bin', DataType: 'arraybuffer' });
  assert.equal(whole.statusCode, 200);
  assert.deepEqual(whole.Body, Array.from({ length: 256 }, (_, i) => i));
  assert.equal(whole.ETag, `"${md5hex(Buffer.from(whole.Body))}"`);
  const part = await call(page, 'getObject', { Key: 'bytes.bin', Range: 'bytes=10-19', DataType: 'arraybuffer' });
  assert.equal(part.statusCode, 206);
  assert.deepEqual(part.Body, [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  assert.equal(part.headers['content-range'], 'bytes 10-19/256');
  assert.equal(part.headers['content-length'], '10');
  const text = await call(page, 'getObject', { Key: 'hello.txt' });
  assert.equal(text.Body, 'hello from the browser');
});

test('keys with spaces, unicode, + and % round-trip', async () => {
  const keys = ['dir with space/a b.txt', 'unicode/ü 文件 ☃.txt', 'plus/a+b+c.txt', 'percent/100%25 %41.txt', 'mix/ +%?#&=.txt'];
  for (const Key of keys) {
    const put = await call(page, 'putObject', { Key, Body: `body of ${Key}` });
    assert.equal(put.statusCode, 200, `${Key}: ${JSON.stringify(put)}`);
    const got = await call(page, 'getObject', { Key });
    assert.equal(got.Body, `body of ${Key}`, Key);
    const head = await call(page, 'headObject', { Key });
    assert.equal(head.statusCode, 200, Key);
    // The backend sees exactly the same key.
    const node = await cos.getObject({ Bucket, Region: REGION, Key });
    assert.equal(node.Body.toString(), `body of ${Key}`, Key);
  }
  const list = await call(page, 'getBucket', { Prefix: '' });
  const listed = list.Contents.map((c) => c.Key);
  for (const k of keys) assert.ok(listed.includes(k), `${k} listed in ${JSON.stringify(listed)}`);
});

test('getBucket with Prefix and Delimiter', async () => {
  for (const Key of ['tree/a.txt', 'tree/b.txt', 'tree/sub/c.txt', 'tree/sub2/d.txt', 'treetop.txt']) {
    const r = await call(page, 'putObject', { Key, Body: Key });
    assert.equal(r.statusCode, 200);
  }
  const r = await call(page, 'getBucket', { Prefix: 'tree/', Delimiter: '/' });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.Contents.map((c) => c.Key), ['tree/a.txt', 'tree/b.txt']);
  assert.deepEqual(r.CommonPrefixes.map((c) => c.Prefix), ['tree/sub/', 'tree/sub2/']);
  assert.equal(r.IsTruncated, 'false');
  const paged = await call(page, 'getBucket', { Prefix: 'tree/', MaxKeys: 2 });
  assert.equal(paged.IsTruncated, 'true');
  assert.deepEqual(paged.Contents.map((c) => c.Key), ['tree/a.txt', 'tree/b.txt']);
  const next = await call(page, 'getBucket', { Prefix: 'tree/', Marker: paged.NextMarker });
  assert.deepEqual(next.Contents.map((c) => c.Key), ['tree/sub/c.txt', 'tree/sub2/d.txt']);
});

test('sliceUploadFile and uploadFile go multipart; download compares bytes', async () => {
  const SIZE = 5 * 1024 * 1024 + 12345;
  const MiB = 1024 * 1024;
  const expected = pattern(SIZE, 7);
  const r = await page.evaluate(async (B, R, size, MiB) => {
    const file = new File([window.pattern(size, 7)], 'big.bin', { type: 'application/octet-stream' });
    const progress = [];
    const slice = await window.call('sliceUploadFile', {
      Bucket: B, Region: R, Key: 'big/slice.bin', Body: file, ChunkSize: MiB, ChunkParallelLimit: 3,
      onProgress: (p) => progress.push(p.percent),
    });
    const upload = await window.call('uploadFile', {
      Bucket: B, Region: R, Key: 'big/upload.bin', Body: file, SliceSize: MiB, ChunkSize: MiB,
    });
    const dl = await window.cos.getObject({ Bucket: B, Region: R, Key: 'big/upload.bin', DataType: 'arraybuffer' });
    return { slice, upload, lastProgress: progress[progress.length - 1], dlLen: dl.Body.byteLength, dlHash: await window.sha256hex(dl.Body) };
  }, Bucket, REGION, SIZE, MiB);
  assert.equal(r.slice.ok, true, JSON.stringify(r.slice));
  assert.equal(r.slice.statusCode, 200);
  assert.equal(r.lastProgress, 1);
  assert.equal(r.upload.ok, true, JSON.stringify(r.upload));
  // Multipart ETags: "<md5 of part md5s>-<parts>".
  assert.match(r.slice.ETag, /^"[0-9a-f]{32}-6"$/);
  assert.match(r.upload.ETag, /^"[0-9a-f]{32}-6"$/);
  assert.equal(r.dlLen, SIZE);
  assert.equal(r.dlHash, sha256(expected));
  for (const Key of ['big/slice.bin', 'big/upload.bin']) {
    const node = await cos.getObject({ Bucket, Region: REGION, Key });
    assert.equal(sha256(node.Body), sha256(expected), Key);
    assert.equal(node.headers.etag, r.slice.ETag);
  }
});

test('putObjectCopy, deleteMultipleObject and deleteObject', async () => {
  const copy = await call(page, 'putObjectCopy', {
    Key: 'copies/bytes copy.bin',
    CopySource: `${bucketHost()}/${encodeURIComponent('bytes.bin')}`,
  });
  assert.equal(copy.statusCode, 200, JSON.stringify(copy));
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  assert.equal(copy.ETag, `"${md5hex(all)}"`);
  const head = await call(page, 'headObject', { Key: 'copies/bytes copy.bin' });
  assert.equal(head.headers['x-cos-meta-color'], 'blue', 'metadata copied');

  for (const Key of ['del/1.txt', 'del/2 two.txt', 'del/3+.txt']) await call(page, 'putObject', { Key, Body: Key });
  const multi = await call(page, 'deleteMultipleObject', {
    Objects: [{ Key: 'del/1.txt' }, { Key: 'del/2 two.txt' }, { Key: 'del/3+.txt' }],
  });
  assert.equal(multi.statusCode, 200);
  assert.deepEqual(multi.Deleted.map((d) => d.Key).sort(), ['del/1.txt', 'del/2 two.txt', 'del/3+.txt']);
  assert.deepEqual(multi.Error, []);
  const left = await call(page, 'getBucket', { Prefix: 'del/' });
  assert.deepEqual(left.Contents, []);

  const del = await call(page, 'deleteObject', { Key: 'copies/bytes copy.bin' });
  assert.equal(del.statusCode, 204);
  // The 404 is readable: error responses carry the CORS headers too.
  const gone = await call(page, 'headObject', { Key: 'copies/bytes copy.bin' });
  assert.equal(gone.ok, false);
  assert.equal(gone.statusCode, 404);
  assert.match(gone.headers['x-cos-request-id'], /\S+/);
  const missing = await call(page, 'getObject', { Key: 'copies/bytes copy.bin' });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.code, 'NoSuchKey');
});

test('getObjectUrl pre-signed URLs: fetch, <img>, download link', async () => {
  await cos.putObject({ Bucket, Region: REGION, Key: 'img/pixel art.png', Body: PNG, ContentType: 'image/png' });
  const report = pattern(70000, 3);
  await cos.putObject({ Bucket, Region: REGION, Key: 'files/report+1.bin', Body: report });

  const r = await page.evaluate(async (B, R) => {
    const url = (params) => new Promise((resolve, reject) => window.cos.getObjectUrl(
      { Bucket: B, Region: R, Sign: true, Expires: 600, ...params },
      (err, data) => (err ? reject(err) : resolve(data.Url)),
    ));
    const imgUrl = await url({ Key: 'img/pixel art.png' });
    const res = await fetch(imgUrl);
    const fetched = { status: res.status, type: res.headers.get('content-type'), etag: res.headers.get('etag'), hash: await window.sha256hex(await res.arrayBuffer()) };
    const img = document.createElement('img');
    img.alt = 'pre-signed';
    img.src = imgUrl;
    document.getElementById('images').appendChild(img);
    await img.decode();
    const dlUrl = await url({ Key: 'files/report+1.bin', Query: { 'response-content-disposition': 'attachment; filename="report-1.bin"' } });
    const a = document.createElement('a');
    a.href = dlUrl;
    a.id = 'download';
    a.textContent = 'download report-1.bin';
    document.getElementById('links').appendChild(a);
    const unsigned = await fetch(await new Promise((resolve) => window.cos.getObjectUrl(
      { Bucket: B, Region: R, Key: 'img/pixel art.png', Sign: false }, (e, d) => resolve(d.Url))));
    return { imgUrl, fetched, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, dlUrl, unsignedStatus: unsigned.status };
  }, Bucket, REGION);
  assert.match(r.imgUrl, new RegExp(`^http://${bucketHost()}/img/pixel%20art\\.png\\?.*q-signature=`));
  assert.equal(r.fetched.status, 200);
  assert.equal(r.fetched.type, 'image/png');
  assert.equal(r.fetched.etag, `"${md5hex(PNG)}"`);
  assert.equal(r.fetched.hash, sha256(PNG));
  assert.equal(r.naturalWidth, 5);
  assert.equal(r.naturalHeight, 3);
  assert.equal(r.unsignedStatus, 403, 'private bucket: the unsigned URL is refused');

  // The link's response says "attachment": Chromium saves it.
  const cdp = await browser.target().createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloadDir, eventsEnabled: true });
  let suggested;
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('download did not complete within 15s')), 15000);
    cdp.on('Browser.downloadWillBegin', (e) => { suggested = e.suggestedFilename; });
    cdp.on('Browser.downloadProgress', (e) => {
      if (e.state === 'completed') { clearTimeout(timer); resolve(e); }
      if (e.state === 'canceled') { clearTimeout(timer); reject(new Error('download canceled')); }
    });
  });
  await page.click('#download');
  const progress = await done;
  assert.equal(suggested, 'report-1.bin');
  assert.equal(progress.receivedBytes, report.length);
  const saved = fs.readFileSync(path.join(downloadDir, 'report-1.bin'));
  assert.equal(sha256(saved), sha256(report));
  await cdp.detach();
  await screenshot(page, 'browser-sdk-page');
});

test('POST Object form upload from the page (FormData + fetch)', async () => {
  // The backend signs the policy (cos.md §1.9); the browser posts the form.
  const now = Math.floor(Date.now() / 1000);
  const keyTime = `${now - 60};${now + 600}`;
  const policy = JSON.stringify({
    expiration: new Date(Date.now() + 600000).toISOString(),
    conditions: [
      { bucket: Bucket },
      ['starts-with', '$key', 'form/'],
      { 'q-sign-algorithm': 'sha1' },
      { 'q-ak': SECRET_ID },
      { 'q-sign-time': keyTime },
    ],
  });
  const hmac = (k, m) => crypto.createHmac('sha1', k).update(m).digest('hex');
  const signature = hmac(hmac(SECRET_KEY, keyTime), crypto.createHash('sha1').update(policy).digest('hex'));
  const fields = {
    key: 'form/${filename}',
    'Content-Type': 'text/plain',
    'x-cos-meta-color': 'green',
    success_action_status: '201',
    policy: Buffer.from(policy).toString('base64'),
    'q-sign-algorithm': 'sha1',
    'q-ak': SECRET_ID,
    'q-key-time': keyTime,
    'q-signature': signature,
  };
  const r = await page.evaluate(async (host, f) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(f)) form.append(k, v);
    form.append('file', new Blob(['posted by a form'], { type: 'text/plain' }), 'note ü.txt');
    const res = await fetch(`http://${host}/`, { method: 'POST', body: form });
    window.logLine(`POST Object -> ${res.status}`, res.ok);
    return { status: res.status, etag: res.headers.get('etag'), location: res.headers.get('location'), body: await res.text() };
  }, bucketHost(), fields);
  assert.equal(r.status, 201, r.body);
  assert.equal(r.etag, `"${md5hex('posted by a form')}"`);
  assert.match(r.body, /<Key>form\/note ü\.txt<\/Key>/);
  const node = await cos.getObject({ Bucket, Region: REGION, Key: 'form/note ü.txt' });
  assert.equal(node.Body.toString(), 'posted by a form');
  assert.equal(node.headers['x-cos-meta-color'], 'green');
});

test('a pre-signed image loaded with crossorigin=anonymous can be read back from a canvas', async () => {
  const r = await page.evaluate(async (B, R) => {
    const url = await new Promise((resolve, reject) => window.cos.getObjectUrl(
      { Bucket: B, Region: R, Key: 'img/pixel art.png', Sign: true },
      (err, data) => (err ? reject(err) : resolve(data.Url)),
    ));
    const read = async (crossOrigin) => {
      const img = new Image();
      if (crossOrigin) img.crossOrigin = 'anonymous';
      // A distinct query keeps the two loads from sharing a cache entry.
      img.src = `${url}&view=${crossOrigin ? 'cors' : 'plain'}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      const ctx = canvas.getContext('2d');
      ctx.drawImage(img, 0, 0);
      try {
        return Array.from(ctx.getImageData(0, 0, canvas.width, canvas.height).data);
      } catch (e) {
        return e.name;
      }
    };
    return { cors: await read(true), plain: await read(false) };
  }, Bucket, REGION);
  // RGBA of every pixel, as makePng drew it.
  const want = [];
  for (let y = 0; y < 3; y++) for (let x = 0; x < 5; x++) want.push((x * 60) & 0xff, (y * 80) & 0xff, 200, 255);
  assert.deepEqual(r.cors, want, 'the CORS-approved image is readable');
  assert.equal(r.plain, 'SecurityError', 'without crossorigin the canvas is tainted');
});

test('a wrong SecretKey is a readable 403 SignatureDoesNotMatch, not a network error', async () => {
  const p = await openPage(appOrigin);
  await p.evaluate((id) => window.makeCos({ SecretId: id, SecretKey: 'not-the-right-key' }), SECRET_ID);
  const r = await call(p, 'putObject', { Key: 'wrong-key.txt', Body: 'x' });
  assert.equal(r.ok, false);
  assert.equal(r.statusCode, 403);
  assert.equal(r.code, 'SignatureDoesNotMatch');
  assert.match(r.headers['x-cos-request-id'], /\S+/);
  const unknown = await p.evaluate((B, R) => {
    window.makeCos({ SecretId: 'AKIDunknownunknownunknown', SecretKey: 'whatever' });
    return window.call('getObject', { Bucket: B, Region: R, Key: 'hello.txt' });
  }, Bucket, REGION);
  assert.equal(unknown.statusCode, 403);
  assert.equal(unknown.code, 'InvalidAccessKeyId');
  await p.close();
});

test('getAuthorization: a backend signs each request (COS.getAuthorization in Node)', async () => {
  const p = await openPage(appOrigin);
  const signed = [];
  await p.exposeFunction('signOnBackend', (opts) => {
    signed.push(`${opts.Method} ${opts.Pathname}`);
    return cos.constructor.getAuthorization({ SecretId: SECRET_ID, SecretKey: SECRET_KEY, ...opts, Expires: 300 });
  });
  await p.evaluate(() => window.makeBackendSignedCos());
  const put = await call(p, 'putObject', { Key: 'backend/signed file.txt', Body: 'signed elsewhere' });
  assert.equal(put.statusCode, 200, JSON.stringify(put));
  const got = await call(p, 'getObject', { Key: 'backend/signed file.txt' });
  assert.equal(got.Body, 'signed elsewhere');
  const list = await call(p, 'getBucket', { Prefix: 'backend/' });
  assert.deepEqual(list.Contents.map((c) => c.Key), ['backend/signed file.txt']);
  assert.deepEqual(signed.map((s) => s.split(' ')[0]), ['PUT', 'GET', 'GET']);
  await p.close();
});

test('POST Object from a plain HTML <form> with success_action_redirect', async () => {
  const now = Math.floor(Date.now() / 1000);
  const keyTime = `${now - 60};${now + 600}`;
  const redirect = `${appOrigin}/sdk.html`;
  const policy = JSON.stringify({
    expiration: new Date(Date.now() + 600000).toISOString(),
    conditions: [
      { bucket: Bucket },
      ['starts-with', '$key', 'html-form/'],
      { success_action_redirect: redirect },
      { 'q-sign-algorithm': 'sha1' },
      { 'q-ak': SECRET_ID },
      { 'q-sign-time': keyTime },
    ],
  });
  const hmac = (k, m) => crypto.createHmac('sha1', k).update(m).digest('hex');
  const fields = {
    key: 'html-form/${filename}',
    success_action_redirect: redirect,
    policy: Buffer.from(policy).toString('base64'),
    'q-sign-algorithm': 'sha1',
    'q-ak': SECRET_ID,
    'q-key-time': keyTime,
    'q-signature': hmac(hmac(SECRET_KEY, keyTime), crypto.createHash('sha1').update(policy).digest('hex')),
  };
  const p = await openPage(appOrigin);
  // A real form: the browser encodes it and navigates to the answer (no CORS involved).
  await p.evaluate((host, f) => {
    const form = document.createElement('form');
    form.method = 'POST';
    form.enctype = 'multipart/form-data';
    form.action = `http://${host}/`;
    for (const [k, v] of Object.entries(f)) {
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = k;
      input.value = v;
      form.appendChild(input);
    }
    const file = document.createElement('input');
    file.type = 'file';
    file.name = 'file';
    file.id = 'form-file';
    form.appendChild(file);
    document.body.appendChild(form);
  }, bucketHost(), fields);
  const tmp = path.join(downloadDir, 'form upload.txt');
  fs.writeFileSync(tmp, 'uploaded by a real form');
  const input = await p.$('#form-file');
  await input.uploadFile(tmp);
  await Promise.all([p.waitForNavigation(), p.evaluate(() => document.querySelector('form').submit())]);
  const landed = new URL(p.url());
  assert.equal(landed.origin + landed.pathname, redirect);
  assert.equal(landed.searchParams.get('bucket'), Bucket);
  assert.equal(landed.searchParams.get('key'), 'html-form/form upload.txt');
  assert.equal(landed.searchParams.get('etag'), `"${md5hex('uploaded by a real form')}"`);
  const node = await cos.getObject({ Bucket, Region: REGION, Key: 'html-form/form upload.txt' });
  assert.equal(node.Body.toString(), 'uploaded by a real form');
  await p.close();
});

test('ResponseVary: a cached plain load of a URL does not break a later CORS fetch of it', async () => {
  // Cacheable for an hour: the second request could be served from the cache.
  await cos.putObject({ Bucket, Region: REGION, Key: 'cached/logo.txt', Body: 'cache me', CacheControl: 'max-age=3600' });
  const plain = await raw('GET', '/cached/logo.txt?x=1');
  assert.equal(plain.status, 403, 'private object, unsigned');
  assert.equal(plain.headers.vary, 'Origin', 'no Origin, still Vary: Origin');
  const r = await page.evaluate(async (B, R) => {
    const url = await new Promise((resolve, reject) => window.cos.getObjectUrl(
      { Bucket: B, Region: R, Key: 'cached/logo.txt', Sign: true },
      (err, data) => (err ? reject(err) : resolve(data.Url)),
    ));
    // An <img>-like load first (no Origin sent, the answer is cached) ...
    const first = await fetch(url, { mode: 'no-cors' });
    // ... then the app reads the same URL with CORS.
    try {
      const second = await fetch(url);
      return { first: first.type, status: second.status, text: await second.text() };
    } catch (e) {
      return { first: first.type, error: e.message };
    }
  }, Bucket, REGION);
  assert.deepEqual(r, { first: 'opaque', status: 200, text: 'cache me' });
});

test('without host mapping: Domain "{Bucket}.cos.{Region}.localhost:<port>" reaches localcos', async () => {
  // *.localhost resolves to the loopback in the browser itself, and a host
  // whose first label is <name>-<appid> is a bucket host to localcos: the
  // README's recipe for a local app, no DNS or resolver rules needed.
  const p = await openPage(appOrigin);
  await p.evaluate((o) => window.makeCos(o), {
    SecretId: SECRET_ID, SecretKey: SECRET_KEY, Domain: `{Bucket}.cos.{Region}.localhost:${server.port}`,
  });
  const put = await call(p, 'putObject', { Key: 'domain/x y.txt', Body: 'via localhost' });
  assert.equal(put.statusCode, 200, JSON.stringify(put));
  const got = await call(p, 'getObject', { Key: 'domain/x y.txt' });
  assert.equal(got.Body, 'via localhost');
  const url = await p.evaluate((B, R) => new Promise((resolve) => window.cos.getObjectUrl(
    { Bucket: B, Region: R, Key: 'domain/x y.txt' }, (e, d) => resolve(d.Url))), Bucket, REGION);
  assert.equal(url.split('?')[0], `http://${Bucket}.cos.${REGION}.localhost:${server.port}/domain/x%20y.txt`);
  assert.equal(await p.evaluate(async (u) => (await fetch(u)).text(), url), 'via localhost');
  await p.close();
});

/** Watches the page's network for CORS failures (CDP Network events). */
async function watchCors(p) {
  const cdp = await p.createCDPSession();
  await cdp.send('Network.enable');
  const failures = [];
  const preflights = [];
  cdp.on('Network.loadingFailed', (e) => { if (e.corsErrorStatus) failures.push(e.corsErrorStatus.corsError); });
  cdp.on('Network.responseReceived', (e) => { if (e.type === 'Preflight') preflights.push(e.response.status); });

  return { cdp, failures, preflights };
}

test('a page on an origin the rules do not allow fails; its preflight gets 403', async () => {
  const denied = await openPage(deniedOrigin);
  const watch = await watchCors(denied);
  const put = await call(denied, 'putObject', { Key: 'denied.txt', Body: 'nope' });
  assert.equal(put.ok, false);
  assert.equal(put.statusCode, undefined, 'the browser hides the response');
  assert.equal(put.message, 'CORS blocked or network error');
  const get = await call(denied, 'getObject', { Key: 'hello.txt' });
  assert.equal(get.ok, false);
  assert.equal(get.message, 'CORS blocked or network error');
  // Chromium saw the preflights answered 403 without CORS headers and
  // refused every request (the SDK tried each one four times).
  assert.ok(watch.preflights.length >= 2, JSON.stringify(watch.preflights));
  assert.ok(watch.preflights.every((s) => s === 403), JSON.stringify(watch.preflights));
  assert.ok(watch.failures.length >= 2, JSON.stringify(watch.failures));
  assert.ok(watch.failures.every((c) => c === 'PreflightMissingAllowOriginHeader'), JSON.stringify(watch.failures));
  await screenshot(denied, 'browser-sdk-denied-origin');
  await watch.cdp.detach();
  await denied.close();
  // The same preflight as plain HTTP: 403 AccessForbidden, no CORS headers.
  const r = await raw('OPTIONS', '/denied.txt', {
    Origin: deniedOrigin,
    'Access-Control-Request-Method': 'PUT',
    'Access-Control-Request-Headers': 'authorization,content-type',
  });
  assert.equal(r.status, 403);
  assert.match(r.body.toString(), /<Code>AccessForbidden<\/Code>/);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  // Nothing was written.
  await assert.rejects(cos.headObject({ Bucket, Region: REGION, Key: 'denied.txt' }), (e) => e.statusCode === 404);
});

test('after DELETE ?cors the allowed page fails too', async () => {
  const before = await call(page, 'putObject', { Key: 'cors/before.txt', Body: 'ok' });
  assert.equal(before.statusCode, 200);
  await cos.deleteBucketCors({ Bucket, Region: REGION });
  try {
    const watch = await watchCors(page);
    // A key never preflighted before: no cached preflight applies.
    const put = await call(page, 'putObject', { Key: 'cors/after.txt', Body: 'nope' });
    assert.equal(put.ok, false);
    assert.equal(put.message, 'CORS blocked or network error');
    assert.ok(watch.preflights.length > 0 && watch.preflights.every((s) => s === 403), JSON.stringify(watch.preflights));
    assert.ok(watch.failures.length > 0 && watch.failures.every((c) => c === 'PreflightMissingAllowOriginHeader'), JSON.stringify(watch.failures));
    await watch.cdp.detach();
    const r = await raw('OPTIONS', '/cors/after.txt', { Origin: appOrigin, 'Access-Control-Request-Method': 'PUT' });
    assert.equal(r.status, 403);
    await assert.rejects(cos.headObject({ Bucket, Region: REGION, Key: 'cors/after.txt' }), (e) => e.statusCode === 404);
  } finally {
    await putCors([appOrigin]);
  }
  const again = await call(page, 'putObject', { Key: 'cors/again.txt', Body: 'ok again' });
  assert.equal(again.statusCode, 200, 'rules restored: the page works again');
});
