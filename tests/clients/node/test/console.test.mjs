// The web console at /-/console/ driven in headless Chromium (puppeteer-core on
// the system's chromium) against a real localcos: wrong keys, login, buckets,
// uploads (one multipart) with progress, folders, download, share link,
// delete, versioning, pagination over thousands of keys, logout, the sha1.js
// fallback on a non-secure origin, and a phone-sized window. Screenshots of
// the main screens go to target/browser-artifacts/ (lib/browser.mjs).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import vm from 'node:vm';
import {
  startServer, makeCos, uniqueBucket, dropBucket, crc64, REGION, APPID, SECRET_ID, SECRET_KEY, REPO,
} from '../lib/localcos.mjs';
import { launchBrowser, screenshot } from '../lib/browser.mjs';

const require = createRequire(import.meta.url);
let server;
let cos;
let browser;
let tmp;
const created = [];

const sel = (id) => `[data-testid="${id}"]`;
const cssStr = (s) => JSON.stringify(s); // attribute values in selectors

before(async () => {
  server = await startServer();
  cos = makeCos(server);
  browser = await launchBrowser();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localcos-console-'));
});

after(async () => {
  if (browser) await browser.close();
  if (cos) {
    for (const b of created) {
      try {
        // Versions and markers first, then what a plain listing shows.
        for (;;) {
          const list = await cos.listObjectVersions({ Bucket: b, Region: REGION, MaxKeys: 1000 });
          const all = [...list.Versions, ...list.DeleteMarkers];
          if (all.length === 0) break;
          await cos.deleteMultipleObject({
            Bucket: b, Region: REGION, Objects: all.map((v) => ({ Key: v.Key, VersionId: v.VersionId })),
          });
        }
      } catch { /* not versioned or gone */ }
      await dropBucket(cos, b);
    }
  }
  if (server) await server.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function consoleUrl(origin = server.url) {
  return `${origin}/-/console/`;
}

/** A page that fails the test on any uncaught page error. */
async function newPage(b = browser) {
  const page = await b.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  // The server's CSP forbids inline code: a violation would show up here.
  page.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) errors.push(m.text()); });
  page.pageErrors = errors;
  return page;
}

async function login(page, origin) {
  await page.goto(consoleUrl(origin), { waitUntil: 'load' });
  await page.waitForSelector(`${sel('login-secret-id')}:not([hidden])`, { visible: true });
  await page.type(sel('login-secret-id'), SECRET_ID);
  await page.type(sel('login-secret-key'), SECRET_KEY);
  await page.click(sel('login-submit'));
  await page.waitForSelector('#buckets-view:not([hidden])');
}

async function openBucket(page, bucket) {
  await page.waitForSelector(`${sel('bucket-row')}[data-bucket=${cssStr(bucket)}] a`);
  await page.click(`${sel('bucket-row')}[data-bucket=${cssStr(bucket)}] a`);
  await page.waitForSelector('#objects-view:not([hidden])');
  await waitListed(page);
}

/** Waits until the object list has been (re)rendered for the current view. */
async function waitListed(page) {
  await page.waitForFunction(() => document.getElementById('page-info').textContent.startsWith('Page'));
}

async function keysShown(page) {
  return page.$$eval(sel('object-row'), (rows) => rows.map((r) => r.dataset.key));
}

async function prefixesShown(page) {
  return page.$$eval(sel('prefix-row'), (rows) => rows.map((r) => r.dataset.prefix));
}

async function waitKey(page, key, present = true) {
  await page.waitForFunction(
    (k, want) => [...document.querySelectorAll('[data-testid="object-row"]')].some((r) => r.dataset.key === k) === want,
    {},
    key,
    present,
  );
}

async function bannerText(page) {
  await page.waitForSelector(`${sel('error-banner')}:not([hidden])`, { visible: true });
  return page.$eval(sel('error-banner'), (b) => b.textContent.replace(/\s+/g, ' ').trim());
}

async function newBucket(versioned = false) {
  const Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION });
  created.push(Bucket);
  if (versioned) {
    await cos.putBucketVersioning({ Bucket, Region: REGION, VersioningConfiguration: { Status: 'Enabled' } });
  }
  return Bucket;
}

function httpGet(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

async function getBytes(Bucket, Key, VersionId) {
  const r = await cos.getObject({ Bucket, Region: REGION, Key, ...(VersionId ? { VersionId } : {}) });
  return r.Body;
}

/** Lets Chromium save downloads into a fresh directory; returns a waiter for the next file. */
async function downloadsTo(page) {
  const dir = fs.mkdtempSync(path.join(tmp, 'dl-'));
  const cdp = await page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dir, eventsEnabled: true });
  return async function nextFile(timeoutMs = 20000) {
    const t0 = Date.now();
    for (;;) {
      const done = fs.readdirSync(dir).filter((f) => !f.endsWith('.crdownload'));
      if (done.length) {
        const f = path.join(dir, done[0]);
        const bytes = fs.readFileSync(f);
        fs.rmSync(f);
        return { name: done[0], bytes };
      }
      if (Date.now() - t0 > timeoutMs) throw new Error('no download arrived');
      await new Promise((r) => setTimeout(r, 100));
    }
  };
}

test('sha1.js matches node:crypto (SHA-1 and HMAC-SHA1, block-boundary lengths)', () => {
  const src = fs.readFileSync(path.join(REPO, 'src/console/assets/sha1.js'), 'utf8');
  const sandbox = { self: {} };
  vm.runInNewContext(src, sandbox);
  const { sha1, hmacSha1 } = sandbox.self.LocalcosSha1;
  for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 1000, 70000]) {
    const msg = crypto.randomBytes(n);
    assert.equal(Buffer.from(sha1(new Uint8Array(msg))).toString('hex'), crypto.createHash('sha1').update(msg).digest('hex'), `sha1 ${n}`);
    for (const kl of [0, 20, 64, 65, 100]) {
      const key = crypto.randomBytes(kl);
      assert.equal(
        Buffer.from(hmacSha1(new Uint8Array(key), new Uint8Array(msg))).toString('hex'),
        crypto.createHmac('sha1', key).update(msg).digest('hex'),
        `hmac key ${kl} msg ${n}`,
      );
    }
  }
  assert.ok(require.resolve('puppeteer-core'));
});

describe('web console in Chromium', () => {
  test('wrong keys show the COS error in the banner and store nothing', async () => {
    const page = await newPage();
    await page.goto(consoleUrl(), { waitUntil: 'load' });
    await page.waitForSelector(sel('login-secret-id'), { visible: true });
    await screenshot(page, 'console-login');
    // Labels on every login field.
    const labelled = await page.$$eval('#login-form input', (els) => els.every((e) => e.labels.length > 0));
    assert.ok(labelled);

    await page.type(sel('login-secret-id'), 'AKIDnosuchkey000000000000000000000');
    await page.type(sel('login-secret-key'), 'whatever');
    await page.click(sel('login-submit'));
    assert.match(await bannerText(page), /InvalidAccessKeyId/);

    // The right SecretId with a wrong SecretKey: a signature mismatch.
    await page.$eval(sel('login-secret-id'), (e) => { e.value = ''; });
    await page.type(sel('login-secret-id'), SECRET_ID);
    await page.type(sel('login-secret-key'), 'x');
    await page.click(sel('login-submit'));
    await page.waitForFunction(() => /SignatureDoesNotMatch/.test(document.querySelector('[data-testid="error-banner"]').textContent));
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.$eval('#buckets-view', (e) => e.hidden), true);
    assert.equal(await page.$eval(sel('logout'), (e) => e.hidden), true);
    assert.deepEqual(page.pageErrors, []);
    await page.close();
  });

  test('login by keyboard, create a bucket (APPID added), errors shown, delete it', async () => {
    const page = await newPage();
    await page.goto(consoleUrl(), { waitUntil: 'load' });
    await page.waitForSelector(sel('login-secret-id'), { visible: true });
    // Keyboard only: the SecretId field has focus, Tab to the key, Enter submits.
    assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'login-secret-id');
    await page.keyboard.type(SECRET_ID);
    await page.keyboard.press('Tab');
    await page.keyboard.type(SECRET_KEY);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#buckets-view:not([hidden])');
    assert.equal(await page.evaluate(() => sessionStorage.length), 1);

    const short = `c${crypto.randomBytes(4).toString('hex')}`;
    const full = `${short}-${APPID}`;
    created.push(full);
    await page.type(sel('bucket-create-name'), short);
    await page.click(sel('bucket-create-submit'));
    await page.waitForSelector(`${sel('bucket-row')}[data-bucket=${cssStr(full)}]`);
    const head = await cos.headBucket({ Bucket: full, Region: REGION });
    assert.equal(head.statusCode, 200);
    await screenshot(page, 'console-buckets');

    // Creating it again: the server's error reaches the banner.
    await page.type(sel('bucket-create-name'), full);
    await page.click(sel('bucket-create-submit'));
    assert.match(await bannerText(page), /BucketAlreadyExists|BucketAlreadyOwnedByYou/);
    // An invalid name.
    await page.$eval(sel('bucket-create-name'), (e) => { e.value = ''; });
    await page.type(sel('bucket-create-name'), 'Bad_Name');
    await page.click(sel('bucket-create-submit'));
    await page.waitForFunction(() => /InvalidBucketName/.test(document.querySelector('[data-testid="error-banner"]').textContent));

    // A bucket that is not empty cannot be deleted: banner; confirm dismissed: nothing sent.
    await cos.putObject({ Bucket: full, Region: REGION, Key: 'keep.txt', Body: 'x' });
    page.once('dialog', (d) => d.dismiss());
    await page.click(`${sel('bucket-row')}[data-bucket=${cssStr(full)}] ${sel('bucket-delete')}`);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(await page.$(`${sel('bucket-row')}[data-bucket=${cssStr(full)}]`));
    page.once('dialog', (d) => d.accept());
    await page.click(`${sel('bucket-row')}[data-bucket=${cssStr(full)}] ${sel('bucket-delete')}`);
    await page.waitForFunction(() => /BucketNotEmpty/.test(document.querySelector('[data-testid="error-banner"]').textContent));
    await cos.deleteObject({ Bucket: full, Region: REGION, Key: 'keep.txt' });
    page.once('dialog', (d) => d.accept());
    await page.click(`${sel('bucket-row')}[data-bucket=${cssStr(full)}] ${sel('bucket-delete')}`);
    await page.waitForFunction((b) => !document.querySelector(`[data-testid="bucket-row"][data-bucket="${b}"]`), {}, full);
    await assert.rejects(cos.headBucket({ Bucket: full, Region: REGION }), (e) => e.statusCode === 404);
    created.splice(created.indexOf(full), 1);
    assert.deepEqual(page.pageErrors, []);
    await page.close();
  });

  test('upload two files (one multipart) with progress, folders, download, share, details, delete', async () => {
    const Bucket = await newBucket();
    const small = Buffer.from('small file: spaces, ünïcødé, + and %\n'.repeat(100));
    const big = crypto.randomBytes(12 * 1024 * 1024 + 12345);
    const dir = fs.mkdtempSync(path.join(tmp, 'up-'));
    const smallName = 'héllo wörld +%25 ✓.txt';
    const bigName = 'big file.bin';
    fs.writeFileSync(path.join(dir, smallName), small);
    fs.writeFileSync(path.join(dir, bigName), big);
    await cos.putObject({ Bucket, Region: REGION, Key: 'docs/sub/readme.md', Body: 'nested' });

    const page = await newPage();
    await login(page);
    await openBucket(page, Bucket);
    assert.deepEqual(await prefixesShown(page), ['docs/']);

    // Into a folder made in the console, then upload both files there.
    await page.type(sel('folder-name'), 'up load');
    await page.click(sel('folder-submit'));
    await page.waitForSelector(`${sel('prefix-row')}[data-prefix="up load/"]`);
    await page.click(`${sel('prefix-row')}[data-prefix="up load/"]`);
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="crumb"]')].some((a) => a.dataset.prefix === 'up load/'));
    await waitListed(page);
    const input = await page.$(sel('upload-input'));
    assert.equal(await input.evaluate((e) => e.type === 'file' && e.multiple), true);
    await input.uploadFile(path.join(dir, smallName), path.join(dir, bigName));
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="upload-progress"]').length === 2);
    // Progress moves before the end on the big file (multipart, parts of 8 MiB).
    await page.waitForFunction(() => {
      const p = document.querySelector('[data-testid="upload-progress"][data-key="up load/big file.bin"]');
      return p && p.value > 0;
    });
    await screenshot(page, 'console-upload-in-progress');
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="upload-progress"]')].every((p) => p.value === p.max && p.max > 0
        && p.closest('li').dataset.state === 'done'),
      { timeout: 60000 },
    );
    const maxes = await page.$$eval(sel('upload-progress'), (ps) => ps.map((p) => [p.dataset.key, p.max]).sort());
    assert.deepEqual(maxes, [[`up load/${bigName}`, big.length], [`up load/${smallName}`, small.length]]);
    await waitKey(page, `up load/${bigName}`);
    await waitKey(page, `up load/${smallName}`);
    await screenshot(page, 'console-objects-upload');

    const bigHead = await cos.headObject({ Bucket, Region: REGION, Key: `up load/${bigName}` });
    assert.match(bigHead.headers.etag, /-2"$/, 'the 12 MiB file went multipart');
    assert.equal(bigHead.headers['x-cos-hash-crc64ecma'], crc64(big));
    assert.ok((await getBytes(Bucket, `up load/${bigName}`)).equals(big));
    assert.ok((await getBytes(Bucket, `up load/${smallName}`)).equals(small));
    const smallHead = await cos.headObject({ Bucket, Region: REGION, Key: `up load/${smallName}` });
    assert.equal(smallHead.headers['content-type'], 'text/plain');

    // Drag and drop onto the object list uploads too.
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' }));
      const target = document.querySelector('[data-testid="object-row"]');
      for (const type of ['dragenter', 'dragover', 'drop']) {
        target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
      }
    });
    await waitKey(page, 'up load/dropped.txt');
    assert.equal((await getBytes(Bucket, 'up load/dropped.txt')).toString(), 'dropped bytes');

    // Details from HEAD: size, type, ETag, CRC64, storage class, metadata.
    await cos.putObject({
      Bucket, Region: REGION, Key: `up load/meta.txt`, Body: 'm', Headers: { 'x-cos-meta-color': 'blue' },
    });
    await page.click(sel('refresh'));
    await waitKey(page, 'up load/meta.txt');
    await page.click(`${sel('object-row')}[data-key=${cssStr(`up load/${bigName}`)}] ${sel('object-details')}`);
    await page.waitForSelector('[data-testid="object-info"] dd[data-field="CRC64"]');
    const info = await page.$$eval('[data-testid="object-info"] dd', (dds) => Object.fromEntries(dds.map((d) => [d.dataset.field, d.textContent])));
    assert.equal(info.CRC64, crc64(big));
    assert.equal(info.ETag, bigHead.headers.etag);
    assert.equal(info['Storage class'], 'STANDARD');
    assert.match(info.Size, new RegExp(`\\(${big.length} bytes\\)`));
    await page.click(`${sel('object-row')}[data-key="up load/meta.txt"] ${sel('object-details')}`);
    await page.waitForSelector('[data-testid="object-info"] dd[data-field="x-cos-meta-color"]');
    assert.equal(await page.$eval('[data-testid="object-info"] dd[data-field="x-cos-meta-color"]', (d) => d.textContent), 'blue');

    // Download through the browser (pre-signed GET with content-disposition): same bytes.
    const nextFile = await downloadsTo(page);
    await page.click(`${sel('object-row')}[data-key=${cssStr(`up load/${smallName}`)}] ${sel('object-download')}`);
    const got = await nextFile();
    assert.ok(got.bytes.equals(small), 'downloaded bytes');
    assert.equal(got.name, smallName);
    await page.click(`${sel('object-row')}[data-key=${cssStr(`up load/${bigName}`)}] ${sel('object-download')}`);
    assert.ok((await nextFile(60000)).bytes.equals(big), 'downloaded big bytes');

    // Share link: plain Node http, no signing of its own.
    await page.click(`${sel('object-row')}[data-key=${cssStr(`up load/${smallName}`)}] ${sel('object-share')}`);
    await page.waitForFunction(() => document.querySelector('[data-testid="share-url"]')?.value.startsWith('http'));
    await page.select(sel('share-expiry'), '86400');
    await page.waitForFunction(() => document.querySelector('[data-testid="share-url"]').dataset.expires === '86400'
      && document.querySelector('[data-testid="share-url"]').value.startsWith('http'));
    const shareUrl = await page.$eval(sel('share-url'), (e) => e.value);
    const u = new URL(shareUrl);
    const [start, end] = u.searchParams.get('q-sign-time').split(';').map(Number);
    assert.equal(end - start, 86400 + 60);
    assert.equal(u.origin, server.url);
    const shared = await httpGet(shareUrl);
    assert.equal(shared.status, 200);
    assert.ok(shared.body.equals(small), 'shared bytes');
    // The link is bound to its key: another key with the same query is refused.
    const other = new URL(shareUrl);
    other.pathname = other.pathname.replace(/[^/]+$/, 'meta.txt');
    assert.equal((await httpGet(other.toString())).status, 403);
    await page.click(sel('share-copy'));
    // Every field on screen has a label; every control is a real button, link or field.
    const unlabelled = await page.$$eval('input, select', (els) => els
      .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map((e) => e.id));
    assert.deepEqual(unlabelled, []);
    const fakeButtons = await page.$$eval('[onclick], div[tabindex], span[tabindex]', (els) => els.length);
    assert.equal(fakeButtons, 0);

    // Breadcrumbs back to the bucket root; the nested folder opens by its link.
    await page.click(`${sel('crumb')}[data-prefix=""]`);
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="prefix-row"]')].length === 2);
    assert.deepEqual((await prefixesShown(page)).sort(), ['docs/', 'up load/']);
    await page.click(`${sel('prefix-row')}[data-prefix="docs/"] a`);
    await page.waitForSelector(`${sel('prefix-row')}[data-prefix="docs/sub/"]`);
    await page.click(`${sel('prefix-row')}[data-prefix="docs/sub/"]`);
    await waitKey(page, 'docs/sub/readme.md');
    await page.goBack();
    await page.waitForSelector(`${sel('prefix-row')}[data-prefix="docs/sub/"]`);

    // Delete with confirmation: dismiss keeps it, accept removes it.
    await page.evaluate((h) => { location.hash = h; }, `#/b/${Bucket}/${encodeURIComponent('up load')}/`);
    await waitKey(page, `up load/${smallName}`);
    const delSel = `${sel('object-row')}[data-key=${cssStr(`up load/${smallName}`)}] ${sel('object-delete')}`;
    let message = '';
    page.once('dialog', (d) => { message = d.message(); d.dismiss(); });
    await page.click(delSel);
    await new Promise((r) => setTimeout(r, 300));
    assert.match(message, /Delete/);
    assert.equal((await cos.headObject({ Bucket, Region: REGION, Key: `up load/${smallName}` })).statusCode, 200);
    page.once('dialog', (d) => d.accept());
    await page.click(delSel);
    await waitKey(page, `up load/${smallName}`, false);
    await assert.rejects(cos.headObject({ Bucket, Region: REGION, Key: `up load/${smallName}` }), (e) => e.statusCode === 404);
    assert.deepEqual(page.pageErrors, []);
    await page.close();
  });

  test('versioning toggle, two versions listed, download and delete one version', async () => {
    const Bucket = await newBucket();
    const page = await newPage();
    await login(page);
    await openBucket(page, Bucket);
    await page.waitForFunction(() => document.querySelector('[data-testid="versioning-toggle"]').dataset.status === 'Off');
    await page.click(sel('versioning-toggle'));
    await page.waitForFunction(() => {
      const t = document.querySelector('[data-testid="versioning-toggle"]');
      return t.dataset.status === 'Enabled' && !t.disabled && t.checked;
    });
    const v = await cos.getBucketVersioning({ Bucket, Region: REGION });
    assert.equal(v.VersioningConfiguration.Status, 'Enabled');

    const key = 'notes/ver sion+1%.txt';
    const v1 = Buffer.from('first version');
    const v2 = Buffer.from('second version, longer');
    const p1 = await cos.putObject({ Bucket, Region: REGION, Key: key, Body: v1 });
    const p2 = await cos.putObject({ Bucket, Region: REGION, Key: key, Body: v2 });
    const id1 = p1.headers['x-cos-version-id'];
    const id2 = p2.headers['x-cos-version-id'];
    assert.ok(id1 && id2 && id1 !== id2);
    // A neighbour whose name starts with the same prefix is not one of its versions.
    await cos.putObject({ Bucket, Region: REGION, Key: `${key}.bak`, Body: 'x' });

    await page.click(sel('refresh'));
    await page.waitForSelector(`${sel('prefix-row')}[data-prefix="notes/"]`);
    await page.click(`${sel('prefix-row')}[data-prefix="notes/"]`);
    await waitKey(page, key);
    await page.click(`${sel('object-row')}[data-key=${cssStr(key)}] ${sel('object-versions')}`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="version-row"]').length === 2);
    const ids = await page.$$eval(sel('version-row'), (rows) => rows.map((r) => r.dataset.versionId));
    assert.deepEqual(ids, [id2, id1]);
    await screenshot(page, 'console-versions');

    const nextFile = await downloadsTo(page);
    await page.click(`${sel('version-row')}[data-version-id=${cssStr(id1)}] ${sel('version-download')}`);
    assert.ok((await nextFile()).bytes.equals(v1), 'old version bytes');

    page.once('dialog', (d) => d.accept());
    await page.click(`${sel('version-row')}[data-version-id=${cssStr(id1)}] ${sel('version-delete')}`);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="version-row"]').length === 1);
    assert.equal(await page.$eval(sel('version-row'), (r) => r.dataset.versionId), id2);
    const left = await cos.listObjectVersions({ Bucket, Region: REGION, Prefix: key });
    assert.deepEqual(left.Versions.filter((x) => x.Key === key).map((x) => x.VersionId), [id2]);

    // Deleting the object now adds a delete marker; the versions panel shows it.
    page.once('dialog', (d) => d.accept());
    await page.click(`${sel('object-row')}[data-key=${cssStr(key)}] ${sel('object-delete')}`);
    await waitKey(page, key, false);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="version-row"]').length === 2);
    assert.ok((await getBytes(Bucket, key, id2)).equals(v2));

    // Suspend again.
    await page.click(sel('versioning-toggle'));
    await page.waitForFunction(() => document.querySelector('[data-testid="versioning-toggle"]').dataset.status === 'Suspended');
    assert.equal((await cos.getBucketVersioning({ Bucket, Region: REGION })).VersioningConfiguration.Status, 'Suspended');
    assert.deepEqual(page.pageErrors, []);
    await page.close();
  });

  test('pagination over thousands of keys, prefix filter', async () => {
    const Bucket = await newBucket();
    const t0 = Date.now();
    const N = 2100;
    const keys = Array.from({ length: N }, (_, i) => `many/k${String(i).padStart(5, '0')}`);
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < keys.length) {
        const Key = keys[next++];
        await cos.putObject({ Bucket, Region: REGION, Key, Body: '' });
      }
    }));
    console.error(`# put ${N} keys in ${Date.now() - t0} ms`);
    const page = await newPage();
    await login(page);
    await page.evaluate((h) => { location.hash = h; }, `#/b/${Bucket}/many/`);
    await waitKey(page, 'many/k00000');
    assert.equal((await keysShown(page)).length, 100);
    await page.select('#page-size', '1000');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="object-row"]').length === 1000);
    const seen = [];
    for (let p = 1; ; p++) {
      await page.waitForFunction((n) => document.getElementById('page-info').textContent.startsWith(`Page ${n} `), {}, p);
      seen.push(...await keysShown(page));
      if (await page.$eval(sel('page-next'), (b) => b.disabled)) break;
      await page.click(sel('page-next'));
    }
    assert.deepEqual(seen, keys);
    await page.click(sel('page-prev'));
    await page.waitForFunction(() => document.getElementById('page-info').textContent.startsWith('Page 2 '));
    assert.equal((await keysShown(page))[0], 'many/k01000');

    await page.type(sel('object-filter'), 'k020');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="object-row"]').length === 100
      && document.querySelector('[data-testid="object-row"]').dataset.key === 'many/k02000');
    assert.deepEqual(await keysShown(page), keys.filter((k) => k.startsWith('many/k020')));
    assert.deepEqual(page.pageErrors, []);
    await page.close();
  });

  test('logout clears sessionStorage and returns to the login form', async () => {
    const page = await newPage();
    await login(page);
    assert.equal(await page.evaluate(() => sessionStorage.length), 1);
    assert.match(await page.evaluate(() => Object.values(sessionStorage).join()), new RegExp(SECRET_ID));
    // A reload keeps the session (same tab).
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('#buckets-view:not([hidden])');
    await page.click(sel('logout'));
    await page.waitForSelector('#login-view:not([hidden])');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.$eval(sel('login-secret-key'), (e) => e.value), '');
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('#login-view:not([hidden])');
    assert.equal(await page.$eval('#buckets-view', (e) => e.hidden), true);
    assert.deepEqual(page.pageErrors, []);
    await page.close();
  });

  test('phone-sized window: usable without horizontal scrolling', async () => {
    const Bucket = await newBucket();
    await cos.putObject({ Bucket, Region: REGION, Key: 'a rather long file name for a phone screen.txt', Body: 'p' });
    await cos.putObject({ Bucket, Region: REGION, Key: 'photos/cat.jpg', Body: 'c' });
    const page = await newPage();
    await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
    await login(page);
    const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    assert.ok(await fits(), 'bucket list fits');
    await openBucket(page, Bucket);
    await waitKey(page, 'a rather long file name for a phone screen.txt');
    assert.ok(await fits(), 'object list fits');
    // The action buttons are on screen and large enough to tap.
    const box = await (await page.$(`${sel('object-row')} ${sel('object-share')}`)).boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390 && box.height >= 24, JSON.stringify(box));
    await page.click(`${sel('object-row')} ${sel('object-share')}`);
    await page.waitForFunction(() => document.querySelector('[data-testid="share-url"]')?.value.startsWith('http'));
    assert.ok(await fits(), 'share panel fits');
    await screenshot(page, 'console-phone');
    assert.deepEqual(page.pageErrors, []);
    await page.close();
  });
});

describe('web console on a non-secure origin (sha1.js instead of Web Crypto)', () => {
  test('login, list, upload and share at http://lan-host.test', async () => {
    const Bucket = await newBucket();
    const lan = await launchBrowser({ hostRules: [`MAP lan-host.test 127.0.0.1:${server.port}`] });
    try {
      const page = await newPage(lan);
      const origin = 'http://lan-host.test';
      await page.goto(consoleUrl(origin), { waitUntil: 'load' });
      assert.deepEqual(
        await page.evaluate(() => [window.isSecureContext, typeof (window.crypto && window.crypto.subtle)]),
        [false, 'undefined'],
      );
      await login(page, origin);
      assert.equal(await page.$eval('#who', (e) => e.dataset.signer), 'fallback');
      await openBucket(page, Bucket);
      const file = path.join(tmp, 'lan upload +1.txt');
      const body = crypto.randomBytes(5000);
      fs.writeFileSync(file, body);
      await (await page.$(sel('upload-input'))).uploadFile(file);
      await waitKey(page, 'lan upload +1.txt');
      assert.ok((await getBytes(Bucket, 'lan upload +1.txt')).equals(body));
      await page.click(`${sel('object-row')} ${sel('object-share')}`);
      await page.waitForFunction(() => document.querySelector('[data-testid="share-url"]')?.value.startsWith('http'));
      const shareUrl = new URL(await page.$eval(sel('share-url'), (e) => e.value));
      assert.equal(shareUrl.host, 'lan-host.test');
      // The same path and query on the real port: signed by sha1.js, accepted by the server.
      const r = await httpGet(`${server.url}${shareUrl.pathname}${shareUrl.search}`);
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(body));
      assert.deepEqual(page.pageErrors, []);
    } finally {
      await lan.close();
    }
  });
});
