// cos-nodejs-sdk-v5 against a localcos started for this file: archive restore
// (restores take 2 s, a restore "day" 3 s), traffic-limit errors, and the
// back-to-origin 302 of a bucket configured with an origin on 127.0.0.1.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, makeCos, REGION, APPID } from '../lib/localcos.mjs';

const Bucket = `narch-${APPID}`;
const ORIGIN = 'http://127.0.0.1:1/mirror';
const RestoreRequest = { Days: 1, CASJobParameters: { Tier: 'Standard' } };
let server;
let cos;
let confDir;

before(async () => {
  confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'localcos-node-archive-'));
  const conf = path.join(confDir, 'archive.toml');
  fs.writeFileSync(
    conf,
    `[bucket_settings."${Bucket}"]\norigin = "${ORIGIN}"\noriginal_image_protection = ["jpg"]\n`,
  );
  server = await startServer([
    '--bucket', Bucket, '--config', conf,
    '--restore-seconds', '2', '--day-seconds', '3', '--origin-allow-private',
  ]);
  cos = makeCos(server);
});

after(async () => {
  if (server) await server.stop();
  if (confDir) fs.rmSync(confDir, { recursive: true, force: true });
});

const R = (Key) => ({ Bucket, Region: REGION, Key });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('archive restore', () => {
  test('ARCHIVE: 403 InvalidObjectState, restoreObject, ongoing, readable with expiry', async () => {
    const body = Buffer.from('node archive bytes');
    await cos.putObject({ ...R('cold.bin'), Body: body, StorageClass: 'ARCHIVE' });
    await assert.rejects(cos.getObject(R('cold.bin')), (err) => {
      assert.equal(err.statusCode, 403);
      assert.equal(err.code, 'InvalidObjectState');
      assert.equal(err.headers['x-cos-storage-class'], 'ARCHIVE');
      return true;
    });
    const started = await cos.restoreObject({ ...R('cold.bin'), RestoreRequest });
    assert.equal(started.statusCode, 202);

    const head = await cos.headObject(R('cold.bin'));
    assert.equal(head.headers['x-cos-storage-class'], 'ARCHIVE');
    // sliceCopyFile compares this string literally.
    assert.equal(head.headers['x-cos-restore'], 'ongoing-request="true"');
    assert.match(head.headers['x-cos-restore-status'], /^tier="standard"; request-date=".+ GMT"$/);

    await assert.rejects(cos.restoreObject({ ...R('cold.bin'), RestoreRequest }), (err) => {
      assert.equal(err.statusCode, 409);
      assert.equal(err.code, 'RestoreAlreadyInProgress');
      return true;
    });

    let restored;
    for (let i = 0; i < 50 && !restored; i++) {
      const h = await cos.headObject(R('cold.bin'));
      if (h.headers['x-cos-restore'].startsWith('ongoing-request="false"')) restored = h.headers['x-cos-restore'];
      else await sleep(100);
    }
    assert.ok(restored, 'restore finished');
    const m = /^ongoing-request="false", expiry-date="(.+ GMT)"$/.exec(restored);
    assert.ok(m, restored);
    const expires = Date.parse(m[1]);
    assert.ok(expires > Date.now() - 1000 && expires < Date.now() + 4500, restored);
    const got = await cos.getObject(R('cold.bin'));
    assert.equal(got.statusCode, 200);
    assert.deepEqual(got.Body, body);
    assert.equal(got.headers['x-cos-restore'], restored);

    // Restoring again while readable extends the copy: 200.
    const again = await cos.restoreObject({ ...R('cold.bin'), RestoreRequest });
    assert.equal(again.statusCode, 200);
  });

  test('restore of a STANDARD object → 405 RestoreNonArchiveObject', async () => {
    await cos.putObject({ ...R('warm.txt'), Body: 'warm' });
    await assert.rejects(cos.restoreObject({ ...R('warm.txt'), RestoreRequest }), (err) => {
      assert.equal(err.statusCode, 405);
      assert.equal(err.code, 'RestoreNonArchiveObject');
      return true;
    });
  });

  test('INTELLIGENT_TIERING announces its tier; STANDARD announces nothing', async () => {
    await cos.putObject({ ...R('it.bin'), Body: 'x', StorageClass: 'INTELLIGENT_TIERING' });
    const head = await cos.headObject(R('it.bin'));
    assert.equal(head.headers['x-cos-storage-class'], 'INTELLIGENT_TIERING');
    assert.equal(head.headers['x-cos-storage-tier'], 'FREQUENT');
    const std = await cos.headObject(R('warm.txt'));
    assert.equal(std.headers['x-cos-storage-class'], undefined);
  });
});

describe('traffic limit', () => {
  for (const limit of [1, 819199, 838860801]) {
    test(`TrafficLimit ${limit} → 400 InvalidArgument on getObject and putObject`, async () => {
      await cos.putObject({ ...R('t.bin'), Body: 'traffic' });
      await assert.rejects(cos.getObject({ ...R('t.bin'), TrafficLimit: limit }), (err) => {
        assert.equal(err.statusCode, 400);
        assert.equal(err.code, 'InvalidArgument');
        return true;
      });
      await assert.rejects(cos.putObject({ ...R('t2.bin'), Body: 'x', TrafficLimit: limit }), (err) => {
        assert.equal(err.statusCode, 400);
        assert.equal(err.code, 'InvalidArgument');
        return true;
      });
    });
  }

  test('a valid TrafficLimit paces the download', async () => {
    const body = Buffer.alloc(102400, 7); // 1 s at 819200 bit/s
    await cos.putObject({ ...R('paced.bin'), Body: body });
    const t = Date.now();
    const got = await cos.getObject({ ...R('paced.bin'), TrafficLimit: 819200 });
    assert.deepEqual(got.Body, body);
    assert.ok(Date.now() - t >= 800, `took ${Date.now() - t} ms`);
  });
});

describe('origin and original image', () => {
  test('getObject of a missing key: 302 to the origin, not followed', async () => {
    await assert.rejects(cos.getObject(R('from-origin/a b.txt')), (err) => {
      assert.equal(err.statusCode, 302);
      assert.equal(err.headers.location, `${ORIGIN}/from-origin/a%20b.txt`);
      assert.ok(err.headers['x-cos-request-id']);
      return true;
    });
    await cos.putObject({ ...R('present.txt'), Body: 'local' });
    const got = await cos.getObject(R('present.txt'));
    assert.equal(got.Body.toString(), 'local');
  });

  test('protected image: plain getObject 403, ci-process=originImage 200', async () => {
    const img = Buffer.from('\xff\xd8\xff fake jpeg', 'latin1');
    await cos.putObject({ ...R('img/cat.jpg'), Body: img });
    await assert.rejects(cos.getObject(R('img/cat.jpg')), (err) => {
      assert.equal(err.statusCode, 403);
      assert.equal(err.code, 'AccessDenied');
      return true;
    });
    const got = await cos.getObject({ ...R('img/cat.jpg'), Query: { 'ci-process': 'originImage' } });
    assert.equal(got.statusCode, 200);
    assert.deepEqual(got.Body, img);
    assert.equal(got.headers['content-type'], 'image/jpeg');
  });
});
