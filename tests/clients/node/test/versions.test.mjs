// cos-nodejs-sdk-v5 against a real localcos: bucket versioning (cos.md §6
// "Versioning"): put/getBucketVersioning, version ids, get/head/delete with
// VersionId, delete markers surfaced as DeleteMarker, listObjectVersions,
// deleteMultipleObject with versions.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, makeCos, uniqueBucket, REGION } from '../lib/localcos.mjs';

let server;
let cos;
const created = [];

/** Removes every version and marker, then the bucket. */
async function dropVersioned(Bucket) {
  for (;;) {
    const list = await cos.listObjectVersions({ Bucket, Region: REGION, MaxKeys: 1000 });
    const all = [...list.Versions, ...list.DeleteMarkers];
    if (all.length === 0) break;
    for (const v of all) {
      await cos.deleteObject({ Bucket, Region: REGION, Key: v.Key, VersionId: v.VersionId });
    }
  }
  await cos.deleteBucket({ Bucket, Region: REGION });
}

async function newBucket(status) {
  const Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION });
  created.push(Bucket);
  if (status) {
    await cos.putBucketVersioning({
      Bucket,
      Region: REGION,
      VersioningConfiguration: { Status: status },
    });
  }
  return Bucket;
}

before(async () => {
  server = await startServer();
  cos = makeCos(server);
});

after(async () => {
  if (cos) {
    for (const b of created) {
      try {
        await dropVersioned(b);
      } catch (e) {
        console.error(`cleanup of ${b} failed: ${e && e.message}`);
      }
    }
  }
  if (server) await server.stop();
});

describe('bucket versioning', () => {
  test('putBucketVersioning / getBucketVersioning', async () => {
    const Bucket = await newBucket();
    const never = await cos.getBucketVersioning({ Bucket, Region: REGION });
    assert.equal(never.statusCode, 200);
    assert.deepEqual(never.VersioningConfiguration, {});
    for (const Status of ['Enabled', 'Suspended']) {
      const put = await cos.putBucketVersioning({
        Bucket,
        Region: REGION,
        VersioningConfiguration: { Status },
      });
      assert.equal(put.statusCode, 200);
      const got = await cos.getBucketVersioning({ Bucket, Region: REGION });
      assert.deepEqual(got.VersioningConfiguration, { Status });
    }
    await assert.rejects(
      cos.putBucketVersioning({
        Bucket,
        Region: REGION,
        VersioningConfiguration: { Status: 'Off' },
      }),
      (err) => err.statusCode === 400 && err.code === 'InvalidArgument',
    );
  });

  test('versions, VersionId reads and delete markers', async () => {
    const Bucket = await newBucket('Enabled');
    const P = { Bucket, Region: REGION, Key: 'notes/a.txt' };
    const put1 = await cos.putObject({ ...P, Body: 'first' });
    const put2 = await cos.putObject({ ...P, Body: 'second!' });
    assert.ok(put1.VersionId && put2.VersionId && put1.VersionId !== put2.VersionId);
    assert.equal(put2.headers['x-cos-version-id'], put2.VersionId);

    const latest = await cos.getObject(P);
    assert.equal(latest.Body.toString(), 'second!');
    assert.equal(latest.VersionId, put2.VersionId);
    const old = await cos.getObject({ ...P, VersionId: put1.VersionId });
    assert.equal(old.Body.toString(), 'first');
    assert.equal(old.VersionId, put1.VersionId);
    const head = await cos.headObject({ ...P, VersionId: put1.VersionId });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-length'], '5');

    const del = await cos.deleteObject(P);
    assert.equal(del.statusCode, 204);
    assert.equal(del.DeleteMarker, 'true');
    assert.ok(del.VersionId);
    const marker = del.VersionId;

    await assert.rejects(cos.getObject(P), (err) => {
      assert.equal(err.statusCode, 404);
      assert.equal(err.code, 'NoSuchKey');
      assert.equal(err.DeleteMarker, 'true');
      assert.equal(err.VersionId, marker);
      return true;
    });
    await assert.rejects(cos.headObject(P), (err) => {
      assert.equal(err.statusCode, 404);
      assert.equal(err.DeleteMarker, 'true');
      return true;
    });
    await assert.rejects(
      cos.getObject({ ...P, VersionId: 'MTg0NDUxNTc1NjIzMTQ1MDAwODg' }),
      (err) => err.statusCode === 404 && err.code === 'NoSuchVersion',
    );

    const list = await cos.listObjectVersions({ Bucket, Region: REGION, Prefix: 'notes/' });
    assert.equal(list.IsTruncated, 'false');
    assert.deepEqual(
      list.DeleteMarkers.map((m) => [m.Key, m.VersionId, m.IsLatest]),
      [['notes/a.txt', marker, 'true']],
    );
    assert.deepEqual(
      list.Versions.map((v) => [v.VersionId, v.IsLatest, v.Size]),
      [[put2.VersionId, 'false', '7'], [put1.VersionId, 'false', '5']],
    );

    const undo = await cos.deleteObject({ ...P, VersionId: marker });
    assert.equal(undo.DeleteMarker, 'true');
    assert.equal(undo.VersionId, marker);
    assert.equal((await cos.getObject(P)).Body.toString(), 'second!');
    const gone = await cos.deleteObject({ ...P, VersionId: put2.VersionId });
    assert.equal(gone.VersionId, put2.VersionId);
    assert.equal(gone.DeleteMarker, undefined);
    assert.equal((await cos.getObject(P)).Body.toString(), 'first');
  });

  test('listObjectVersions pages with KeyMarker / VersionIdMarker', async () => {
    const Bucket = await newBucket('Enabled');
    const want = [];
    for (const Key of ['k1', 'k1', 'k2', 'k3']) {
      const put = await cos.putObject({ Bucket, Region: REGION, Key, Body: Key });
      want.push([Key, put.VersionId]);
    }
    // Newest first within a key.
    [want[0], want[1]] = [want[1], want[0]];
    const seen = [];
    let KeyMarker;
    let VersionIdMarker;
    for (let i = 0; i < 10; i++) {
      const page = await cos.listObjectVersions({
        Bucket, Region: REGION, MaxKeys: 1, KeyMarker, VersionIdMarker,
      });
      for (const v of page.Versions) seen.push([v.Key, v.VersionId]);
      if (page.IsTruncated !== 'true') break;
      KeyMarker = page.NextKeyMarker;
      VersionIdMarker = page.NextVersionIdMarker;
    }
    assert.deepEqual(seen, want);
  });

  test('deleteMultipleObject with versions', async () => {
    const Bucket = await newBucket('Enabled');
    const a = await cos.putObject({ Bucket, Region: REGION, Key: 'a', Body: 'a' });
    await cos.putObject({ Bucket, Region: REGION, Key: 'b', Body: 'b' });
    const res = await cos.deleteMultipleObject({
      Bucket,
      Region: REGION,
      Objects: [{ Key: 'a', VersionId: a.VersionId }, { Key: 'b' }],
    });
    assert.equal(res.Error.length, 0);
    const byKey = Object.fromEntries(res.Deleted.map((d) => [d.Key, d]));
    assert.equal(byKey.a.VersionId, a.VersionId);
    assert.equal(byKey.b.DeleteMarker, 'true');
    assert.ok(byKey.b.DeleteMarkerVersionId);
    const list = await cos.listObjectVersions({ Bucket, Region: REGION });
    assert.deepEqual(list.Versions.map((v) => v.Key), ['b']);
    assert.deepEqual(list.DeleteMarkers.map((m) => [m.Key, m.VersionId]), [['b', byKey.b.DeleteMarkerVersionId]]);
  });

  test('suspended bucket writes the null version', async () => {
    const Bucket = await newBucket('Suspended');
    const put = await cos.putObject({ Bucket, Region: REGION, Key: 's', Body: 'x' });
    assert.equal(put.headers['x-cos-version-id'], undefined);
    const got = await cos.getObject({ Bucket, Region: REGION, Key: 's', VersionId: 'null' });
    assert.equal(got.Body.toString(), 'x');
    assert.equal(got.VersionId, 'null');
  });
});
