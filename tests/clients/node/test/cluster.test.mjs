// cos-nodejs-sdk-v5 against a 3-node cluster (PostgreSQL + a shared blob dir) through an
// nginx round-robin balancer and node by node (tests/clients/node/lib/cluster.mjs):
// objects, multipart with parts spread over the nodes, listings paged through different
// nodes, versions, append, tagging, and a conditional-create race between nodes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeCos, uniqueBucket, dropBucket, md5hex, crc64, REGION } from '../lib/localcos.mjs';
import { startCluster } from '../lib/cluster.mjs';

const MiB = 1024 * 1024;
let cluster;
let lb;
let nodes;
let Bucket;
let tmp;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localcos-node-cluster-'));
  cluster = await startCluster();
  lb = makeCos(cluster.balancer, { ConfCwd: tmp, ChunkParallelLimit: 3 });
  nodes = cluster.nodes.map((n) => makeCos(n, { ConfCwd: tmp }));
  Bucket = uniqueBucket();
  await lb.putBucket({ Bucket, Region: REGION });
});

after(async () => {
  if (lb && Bucket) {
    await lb.abortUploadTask({ Bucket, Region: REGION, Level: 'bucket' }).catch(() => {});
    await dropBucket(lb, Bucket);
  }
  if (cluster) await cluster.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const R = () => ({ Bucket, Region: REGION });

test('what one node writes, every node serves', async () => {
  const body = crypto.randomBytes(70000);
  const put = await nodes[0].putObject({ ...R(), Key: 'n/one.bin', Body: body, Headers: { 'x-cos-meta-from': 'node0' } });
  assert.equal(put.ETag, `"${md5hex(body)}"`);
  assert.equal(put.headers['x-cos-hash-crc64ecma'], crc64(body));
  for (const c of nodes) {
    const got = await c.getObject({ ...R(), Key: 'n/one.bin' });
    assert.ok(got.Body.equals(body));
    assert.equal(got.headers['x-cos-meta-from'], 'node0');
    const head = await c.headObject({ ...R(), Key: 'n/one.bin' });
    assert.equal(head.headers['content-length'], String(body.length));
  }
  await nodes[1].deleteObject({ ...R(), Key: 'n/one.bin' });
  for (const c of nodes) {
    const err = await c.headObject({ ...R(), Key: 'n/one.bin' }).catch((e) => e);
    assert.equal(err.statusCode, 404);
  }
});

test('sliceUploadFile through the balancer spreads parts over the nodes', async () => {
  const data = crypto.randomBytes(4 * MiB + 77);
  const file = path.join(tmp, 'big.bin');
  fs.writeFileSync(file, data);
  const up = await lb.sliceUploadFile({ ...R(), Key: 'n/big.bin', FilePath: file, ChunkSize: MiB });
  assert.equal(up.statusCode, 200);
  assert.match(up.ETag, /-5"$/);
  for (const c of nodes) {
    const got = await c.getObject({ ...R(), Key: 'n/big.bin' });
    assert.equal(md5hex(got.Body), md5hex(data));
  }
  const range = await nodes[2].getObject({ ...R(), Key: 'n/big.bin', Range: `bytes=${MiB - 10}-${MiB + 9}` });
  assert.ok(range.Body.equals(data.subarray(MiB - 10, MiB + 10)));
});

test('low-level multipart: init, parts and complete on three different nodes', async () => {
  const Key = 'n/mp.bin';
  const parts = [crypto.randomBytes(MiB + 1), crypto.randomBytes(300)];
  const { UploadId } = await nodes[0].multipartInit({ ...R(), Key });
  const Parts = [];
  for (let i = 0; i < parts.length; i++) {
    const r = await nodes[1 + i].multipartUpload({ ...R(), Key, UploadId, PartNumber: i + 1, Body: parts[i] });
    Parts.push({ PartNumber: i + 1, ETag: r.ETag });
  }
  const listed = await nodes[0].multipartListPart({ ...R(), Key, UploadId });
  assert.deepEqual(listed.Part.map((p) => p.ETag), Parts.map((p) => p.ETag));
  const done = await nodes[2].multipartComplete({ ...R(), Key, UploadId, Parts });
  assert.equal(done.statusCode, 200);
  const got = await nodes[1].getObject({ ...R(), Key });
  assert.ok(got.Body.equals(Buffer.concat(parts)));
});

test('listing pages through different nodes, in byte order', async () => {
  const keys = ['l/a', 'l/a/b', 'l/a0', 'l/b', 'l/B', 'l/é', ...Array.from({ length: 9 }, (_, i) => `l/n${i}`)];
  await Promise.all(keys.map((Key, i) => nodes[i % 3].putObject({ ...R(), Key, Body: Key })));
  const expected = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  const seen = [];
  let Marker = '';
  for (let page = 0; ; page++) {
    const r = await nodes[page % 3].getBucket({ ...R(), Prefix: 'l/', Marker, MaxKeys: 4 });
    seen.push(...r.Contents.map((c) => c.Key));
    if (r.IsTruncated !== 'true') break;
    Marker = r.NextMarker;
  }
  assert.deepEqual(seen, expected);
});

test('versions written through different nodes list newest first', async () => {
  const vb = uniqueBucket();
  await nodes[0].putBucket({ Bucket: vb, Region: REGION });
  try {
    await nodes[1].putBucketVersioning({ Bucket: vb, Region: REGION, VersioningConfiguration: { Status: 'Enabled' } });
    const v1 = (await nodes[2].putObject({ Bucket: vb, Region: REGION, Key: 'v', Body: 'one' })).VersionId;
    const v2 = (await nodes[0].putObject({ Bucket: vb, Region: REGION, Key: 'v', Body: 'two' })).VersionId;
    const del = await nodes[1].deleteObject({ Bucket: vb, Region: REGION, Key: 'v' });
    assert.equal(del.headers['x-cos-delete-marker'], 'true');
    const listed = await nodes[2].listObjectVersions({ Bucket: vb, Region: REGION });
    assert.deepEqual(listed.Versions.map((v) => v.VersionId), [v2, v1]);
    assert.equal(listed.DeleteMarkers.length, 1);
    assert.equal(listed.DeleteMarkers[0].IsLatest, 'true');
    const old = await nodes[0].getObject({ Bucket: vb, Region: REGION, Key: 'v', VersionId: v1 });
    assert.equal(old.Body.toString(), 'one');
    for (const v of [...listed.Versions, ...listed.DeleteMarkers]) {
      await nodes[v.VersionId.length % 3].deleteObject({ Bucket: vb, Region: REGION, Key: 'v', VersionId: v.VersionId });
    }
  } finally {
    await dropBucket(lb, vb);
  }
});

test('append with positions across nodes', async () => {
  let pos = 0;
  const chunks = ['alpha;', 'beta;', 'gamma;', 'delta;'];
  for (let i = 0; i < chunks.length; i++) {
    const r = await nodes[i % 3].appendObject({ ...R(), Key: 'n/app.log', Position: pos, Body: chunks[i] });
    pos += chunks[i].length;
    assert.equal(r.headers['x-cos-next-append-position'], String(pos));
  }
  const stale = await nodes[1].appendObject({ ...R(), Key: 'n/app.log', Position: 1, Body: 'x' }).catch((e) => e);
  assert.equal(stale.statusCode, 409);
  assert.equal(stale.code, 'AppendPositionErr');
  assert.equal((await lb.getObject({ ...R(), Key: 'n/app.log' })).Body.toString(), chunks.join(''));
});

test('tagging and ACL set on one node are read on another', async () => {
  await nodes[0].putObject({ ...R(), Key: 'n/tag.txt', Body: 't' });
  await nodes[1].putObjectTagging({ ...R(), Key: 'n/tag.txt', Tags: [{ Key: 'k', Value: 'v' }] });
  const tags = await nodes[2].getObjectTagging({ ...R(), Key: 'n/tag.txt' });
  assert.deepEqual(tags.Tags, [{ Key: 'k', Value: 'v' }]);
  await nodes[2].putObjectAcl({ ...R(), Key: 'n/tag.txt', ACL: 'public-read' });
  const acl = await nodes[0].getObjectAcl({ ...R(), Key: 'n/tag.txt' });
  assert.equal(acl.ACL, 'public-read');
});

test('x-cos-forbid-overwrite race through three nodes: exactly one winner', async () => {
  for (let round = 0; round < 3; round++) {
    const Key = `n/race-${round}`;
    const results = await Promise.allSettled(Array.from({ length: 9 }, (_, i) => nodes[i % 3].putObject({
      ...R(), Key, Body: `writer ${i}`, Headers: { 'x-cos-forbid-overwrite': 'true' },
    })));
    const winners = results.map((r, i) => [r, i]).filter(([r]) => r.status === 'fulfilled');
    assert.equal(winners.length, 1, JSON.stringify(results.map((r) => r.status)));
    for (const r of results.filter((x) => x.status === 'rejected')) {
      assert.equal(r.reason.statusCode, 409);
      assert.equal(r.reason.code, 'FileAlreadyExists');
    }
    const got = await nodes[(round + 1) % 3].getObject({ ...R(), Key });
    assert.equal(got.Body.toString(), `writer ${winners[0][1]}`);
  }
});
