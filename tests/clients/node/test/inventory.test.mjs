// cos-nodejs-sdk-v5 against a real localcos: bucket inventory
// (cos-bucket.md §8). putBucketInventory/getBucketInventory/
// listBucketInventory/deleteBucketInventory with the SDK's shapes (SSECOS
// renamed on the wire, OptionalFields as an array), the errors, and the
// effect: the SDK has no postBucketInventory, so the one-off job is sent
// with cos.request (POST ?inventory&id=), and a Daily schedule runs on a
// server started with `--day-seconds 1`; both reports are read back
// (gunzipped CSV against the listing, manifest and checksum). About 5 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { startServer, makeCos, uniqueBucket, dropBucket, md5hex, REGION, APPID } from '../lib/localcos.mjs';

let server;
let cos;
let src;
let dest;

before(async () => {
  server = await startServer(['--day-seconds', '1']);
  cos = makeCos(server);
  src = uniqueBucket();
  dest = uniqueBucket();
  await cos.putBucket({ Bucket: src, Region: REGION });
  await cos.putBucket({ Bucket: dest, Region: REGION });
});

after(async () => {
  if (cos) {
    await dropBucket(cos, src);
    await dropBucket(cos, dest);
  }
  if (server) await server.stop();
});

const short = () => src.slice(0, src.lastIndexOf('-'));

function configuration(Id, { Frequency = 'Daily', IsEnabled = 'true', Prefix = 'reports', OptionalFields = ['Size', 'ETag'] } = {}) {
  return {
    Id,
    IsEnabled,
    Destination: {
      COSBucketDestination: {
        Format: 'CSV',
        AccountId: '100000000001',
        Bucket: `qcs::cos:${REGION}::${dest}`,
        Prefix,
        Encryption: { SSECOS: '' },
      },
    },
    Schedule: { Frequency },
    Filter: { Prefix: 'data/' },
    IncludedObjectVersions: 'Current',
    OptionalFields,
  };
}

/** Manifest (checked against manifest.checksum) and CSV rows under `root`. */
async function report(root) {
  const list = await cos.getBucket({ Bucket: dest, Region: REGION, Prefix: root });
  const keys = list.Contents.map((c) => c.Key);
  const manifestKey = keys.find((k) => k.endsWith('/manifest.json'));
  assert.ok(manifestKey, `manifest under ${root}: ${keys}`);
  const raw = (await cos.getObject({ Bucket: dest, Region: REGION, Key: manifestKey })).Body;
  const sum = (await cos.getObject({ Bucket: dest, Region: REGION, Key: manifestKey.replace('.json', '.checksum') })).Body;
  assert.equal(sum.toString(), md5hex(raw));
  const manifest = JSON.parse(raw.toString());
  const rows = [];
  for (const f of manifest.files) {
    const gz = (await cos.getObject({ Bucket: dest, Region: REGION, Key: f.key })).Body;
    assert.equal(gz.length, f.size);
    assert.equal(md5hex(gz), f.MD5checksum);
    for (const line of zlib.gunzipSync(gz).toString().split('\n').filter(Boolean)) {
      // Every cell is quoted; keys are URL-encoded, so no cell holds a quote or comma.
      rows.push(line.slice(1, -1).split('","'));
    }
  }
  return { manifest, rows };
}

test('put, get, list, delete and errors', async () => {
  const missing = await cos.getBucketInventory({ Bucket: src, Region: REGION, Id: 'nope' }).catch((e) => e);
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.code, 'NoSuchInventoryConfiguration');

  const conf = configuration('weekly-csv', {
    Frequency: 'Weekly',
    OptionalFields: ['Size', 'LastModifiedDate', 'ETag', 'StorageClass', 'IsMultipartUploaded', 'ReplicationStatus'],
  });
  const put = await cos.putBucketInventory({ Bucket: src, Region: REGION, Id: 'weekly-csv', InventoryConfiguration: conf });
  assert.equal(put.statusCode, 200);
  const got = await cos.getBucketInventory({ Bucket: src, Region: REGION, Id: 'weekly-csv' });
  assert.deepEqual(got.InventoryConfiguration, conf);

  const bad = configuration('weekly-csv', { Frequency: 'Hourly' });
  const err = await cos.putBucketInventory({ Bucket: src, Region: REGION, Id: 'weekly-csv', InventoryConfiguration: bad }).catch((e) => e);
  assert.equal(err.statusCode, 400);
  assert.equal(err.code, 'InvalidArgument');

  for (let i = 0; i < 101; i++) {
    await cos.putBucketInventory({
      Bucket: src, Region: REGION, Id: `ID-${i}`, InventoryConfiguration: configuration(`ID-${i}`, { IsEnabled: 'false' }),
    });
  }
  const p1 = await cos.listBucketInventory({ Bucket: src, Region: REGION });
  assert.equal(p1.IsTruncated, 'true');
  assert.equal(p1.InventoryConfigurations.length, 100);
  assert.deepEqual(p1.InventoryConfigurations[0], conf);
  const p2 = await cos.listBucketInventory({ Bucket: src, Region: REGION, ContinuationToken: p1.NextContinuationToken });
  assert.equal(p2.IsTruncated, 'false');
  assert.deepEqual(
    p2.InventoryConfigurations.map((c) => c.Id),
    ['ID-99', 'ID-100'],
  );

  const del = await cos.deleteBucketInventory({ Bucket: src, Region: REGION, Id: 'weekly-csv' });
  assert.equal(del.statusCode, 204);
  const gone = await cos.getBucketInventory({ Bucket: src, Region: REGION, Id: 'weekly-csv' }).catch((e) => e);
  assert.equal(gone.statusCode, 404);
});

test('a one-off job (POST) and a daily schedule write reports that match the listing', async () => {
  await cos.putObject({ Bucket: src, Region: REGION, Key: 'data/a b.txt', Body: Buffer.from('hello') });
  await cos.putObject({ Bucket: src, Region: REGION, Key: 'data/c.bin', Body: Buffer.alloc(100, 7) });
  await cos.putObject({ Bucket: src, Region: REGION, Key: 'other/x', Body: Buffer.from('x') });

  const body =
    '<InventoryConfiguration><Id>job-1</Id><Destination><COSBucketDestination><Format>CSV</Format>' +
    `<Bucket>qcs::cos:${REGION}::${dest}</Bucket><Prefix>oneoff</Prefix></COSBucketDestination></Destination>` +
    '<Filter><Prefix>data/</Prefix></Filter><IncludedObjectVersions>Current</IncludedObjectVersions>' +
    '<OptionalFields><Field>Size</Field><Field>ETag</Field></OptionalFields></InventoryConfiguration>';
  const post = await cos.request({
    Bucket: src, Region: REGION, Method: 'POST', Action: 'inventory', Query: { id: 'job-1' },
    Headers: { 'Content-Type': 'application/xml' }, Body: body,
  });
  assert.equal(post.statusCode, 200);
  assert.match(post.PostInventoryResult.JobId, /^job-1-\d+$/);

  const listing = (await cos.getBucket({ Bucket: src, Region: REGION, Prefix: 'data/' })).Contents;
  const expected = listing.map((o) => [APPID, short(), encodeURIComponent(o.Key).replace(/%2F/g, '/'), o.Size, o.ETag.replace(/"/g, '')]);
  const one = await report(`oneoff/${APPID}/${short()}/job-1/`);
  assert.equal(one.manifest.fileSchema, 'AppID, Bucket, Key, Size, ETag');
  assert.equal(one.manifest.filterObjectCount, 2);
  assert.deepEqual(one.rows, expected);

  await cos.putBucketInventory({
    Bucket: src, Region: REGION, Id: 'daily', InventoryConfiguration: configuration('daily', { Prefix: 'sched' }),
  });
  const root = `sched/${APPID}/${short()}/daily/`;
  const deadline = Date.now() + 8000;
  while (Date.now() < deadline) {
    const l = await cos.getBucket({ Bucket: dest, Region: REGION, Prefix: root });
    if (l.Contents.some((c) => c.Key.endsWith('manifest.checksum'))) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const daily = await report(root);
  assert.deepEqual(daily.rows, expected);
  await cos.deleteBucketInventory({ Bucket: src, Region: REGION, Id: 'daily' });
});
