// cos-nodejs-sdk-v5 against a real localcos: putBucketReplication /
// getBucketReplication / deleteBucketReplication (cos-bucket.md §9) and the
// effect with a destination bucket on the same server: the source version
// goes PENDING → COMPLETED, the copy shows REPLICA.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, makeCos, uniqueBucket, REGION } from '../lib/localcos.mjs';

let server;
let cos;
let src;
let dest;

before(async () => {
  server = await startServer();
  cos = makeCos(server);
  src = uniqueBucket();
  dest = uniqueBucket();
  await cos.putBucket({ Bucket: src, Region: REGION });
  await cos.putBucket({ Bucket: dest, Region: REGION });
});

after(async () => {
  if (server) await server.stop();
});

const config = () => ({
  Role: 'qcs::cam::uin/100000000001:uin/100000000001',
  Rules: [
    {
      ID: 'docs',
      Status: 'Enabled',
      Prefix: 'docs/',
      Destination: { Bucket: `qcs::cos:${REGION}::${dest}`, StorageClass: 'STANDARD_IA' },
    },
  ],
});

test('replication: versioning first, then put/get/delete', async () => {
  const none = await cos.getBucketReplication({ Bucket: src, Region: REGION });
  assert.equal(none.statusCode, 404);
  assert.deepEqual(none.ReplicationConfiguration, { Rules: [] });
  await assert.rejects(
    cos.putBucketReplication({ Bucket: src, Region: REGION, ReplicationConfiguration: config() }),
    (err) => {
      assert.equal(err.statusCode, 400);
      assert.equal(err.code, 'InvalidRequest');
      return true;
    },
  );
  for (const Bucket of [src, dest]) {
    await cos.putBucketVersioning({
      Bucket,
      Region: REGION,
      VersioningConfiguration: { Status: 'Enabled' },
    });
  }
  const put = await cos.putBucketReplication({
    Bucket: src,
    Region: REGION,
    ReplicationConfiguration: config(),
  });
  assert.equal(put.statusCode, 200);
  const got = await cos.getBucketReplication({ Bucket: src, Region: REGION });
  assert.equal(got.ReplicationConfiguration.Role, config().Role);
  assert.equal(got.ReplicationConfiguration.Rules.length, 1);
  assert.equal(got.ReplicationConfiguration.Rules[0].Destination.Bucket, `qcs::cos:${REGION}::${dest}`);

  await cos.putObject({ Bucket: src, Region: REGION, Key: 'docs/n.txt', Body: Buffer.from('from node') });
  let status;
  for (let i = 0; i < 200; i += 1) {
    const h = await cos.headObject({ Bucket: src, Region: REGION, Key: 'docs/n.txt' });
    status = h.headers['x-cos-replication-status'];
    assert.ok(['PENDING', 'COMPLETED'].includes(status), status);
    if (status === 'COMPLETED') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(status, 'COMPLETED');
  const replica = await cos.getObject({ Bucket: dest, Region: REGION, Key: 'docs/n.txt' });
  assert.equal(replica.Body.toString(), 'from node');
  assert.equal(replica.headers['x-cos-replication-status'], 'REPLICA');

  const del = await cos.deleteBucketReplication({ Bucket: src, Region: REGION });
  assert.equal(del.statusCode, 204);
  const gone = await cos.getBucketReplication({ Bucket: src, Region: REGION });
  assert.equal(gone.statusCode, 404);
});
