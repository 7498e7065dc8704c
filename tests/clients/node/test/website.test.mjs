// cos-nodejs-sdk-v5 against a real localcos: static website and custom
// domains (cos-bucket.md §5, §10): putBucketWebsite/getBucketWebsite/
// deleteBucketWebsite and putBucketDomain/getBucketDomain/deleteBucketDomain
// as the SDK sees them (this SDK version has no domain-certificate calls),
// and their effect over plain HTTP with the Host of the website endpoint or
// of a custom domain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, makeCos, uniqueBucket, dropBucket, REGION } from '../lib/localcos.mjs';

let server;
let cos;
let Bucket;

before(async () => {
  server = await startServer();
  cos = makeCos(server);
  Bucket = uniqueBucket();
  await cos.putBucket({ Bucket, Region: REGION, ACL: 'public-read' });
});

after(async () => {
  if (cos) await dropBucket(cos, Bucket);
  if (server) await server.stop();
});

const siteHost = () => `${Bucket}.cos-website.${REGION}.myqcloud.com`;

/** A plain request to localcos with a chosen Host. */
function request(path, { method = 'GET', host = siteHost(), headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.port, method, path, headers: { Host: host, ...headers }, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const page = (Key, Body, extra = {}) =>
  cos.putObject({ Bucket, Region: REGION, Key, Body: Buffer.from(Body), ContentType: 'text/html', ...extra });

test('website configuration round-trips, validates and deletes', async () => {
  // The SDK maps 404 NoSuchWebsiteConfiguration to an empty configuration.
  const none = await cos.getBucketWebsite({ Bucket, Region: REGION });
  assert.equal(none.statusCode, 404);
  assert.deepEqual(none.WebsiteConfiguration, {});
  const WebsiteConfiguration = {
    IndexDocument: { Suffix: 'index.html' },
    RedirectAllRequestsTo: { Protocol: 'https' },
    ErrorDocument: { Key: 'error.html', OriginalHttpStatus: 'Disabled' },
  };
  await cos.putBucketWebsite({ Bucket, Region: REGION, WebsiteConfiguration });
  const got = await cos.getBucketWebsite({ Bucket, Region: REGION });
  assert.deepEqual(got.WebsiteConfiguration, WebsiteConfiguration, 'no extra keys');

  await cos.putBucketWebsite({
    Bucket,
    Region: REGION,
    WebsiteConfiguration: {
      IndexDocument: { Suffix: 'index.html' },
      RoutingRules: [
        { Condition: { KeyPrefixEquals: 'docs/' }, Redirect: { ReplaceKeyPrefixWith: 'documents/' } },
      ],
    },
  });
  const rules = await cos.getBucketWebsite({ Bucket, Region: REGION });
  assert.deepEqual(rules.WebsiteConfiguration.RoutingRules, [
    { Condition: { KeyPrefixEquals: 'docs/' }, Redirect: { ReplaceKeyPrefixWith: 'documents/', URLRedirect: 'Enabled' } },
  ]);

  await assert.rejects(
    cos.putBucketWebsite({ Bucket, Region: REGION, WebsiteConfiguration: { ErrorDocument: { Key: 'e.html' } } }),
    (e) => e.statusCode === 400 && e.code === 'MalformedXML',
  );
  await assert.rejects(
    cos.putBucketWebsite({
      Bucket,
      Region: REGION,
      WebsiteConfiguration: {
        IndexDocument: { Suffix: 'index.html' },
        RoutingRules: [{ Condition: { HttpErrorCodeReturnedEquals: '500' }, Redirect: { ReplaceKeyWith: 'x' } }],
      },
    }),
    (e) => e.statusCode === 400 && e.code === 'InvalidArgument',
  );
  await cos.deleteBucketWebsite({ Bucket, Region: REGION });
  const gone = await cos.getBucketWebsite({ Bucket, Region: REGION });
  assert.equal(gone.statusCode, 404);
});

test('the website endpoint serves index, error document and redirects', async () => {
  await cos.putBucketWebsite({
    Bucket,
    Region: REGION,
    WebsiteConfiguration: {
      IndexDocument: { Suffix: 'index.html' },
      ErrorDocument: { Key: 'error.html' },
      RoutingRules: [
        { Condition: { KeyPrefixEquals: 'docs/' }, Redirect: { ReplaceKeyPrefixWith: 'documents/' } },
      ],
    },
  });
  await page('index.html', 'home');
  await page('guide/index.html', 'guide');
  await page('error.html', 'missing page');

  let r = await request('/');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'home');
  assert.equal(r.headers['content-type'], 'text/html');
  r = await request('/guide/');
  assert.equal(r.body, 'guide');
  r = await request('/nope');
  assert.equal(r.status, 404);
  assert.equal(r.body, 'missing page');
  r = await request('/docs/intro.html');
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, `http://${siteHost()}/documents/intro.html`);
  r = await request('/index.html', { method: 'DELETE' });
  assert.equal(r.status, 405);
  assert.match(r.headers['content-type'], /^text\/html/);
  assert.ok(r.headers['x-cos-request-id']);

  // The REST endpoint still lists the bucket.
  const list = await cos.getBucket({ Bucket, Region: REGION });
  assert.ok(list.Contents.some((c) => c.Key === 'index.html'));
});

test('bucket domains round-trip, conflict, and route their Host', async () => {
  const none = await cos.getBucketDomain({ Bucket, Region: REGION }).catch((e) => e);
  assert.equal(none.statusCode, 404);
  assert.equal(none.code, 'DomainConfigNotFoundError');
  const rest = `api-${Bucket}.example.test`;
  const site = `www-${Bucket}.example.test`;
  const DomainRule = [
    { Status: 'ENABLED', Name: rest, Type: 'REST', ForcedReplacement: 'CNAME' },
    { Status: 'ENABLED', Name: site, Type: 'WEBSITE' },
    { Status: 'DISABLED', Name: `off-${Bucket}.example.test`, Type: 'REST' },
  ];
  await cos.putBucketDomain({ Bucket, Region: REGION, DomainRule });
  const got = await cos.getBucketDomain({ Bucket, Region: REGION });
  assert.deepEqual(got.DomainRule, DomainRule);

  await cos.putBucketWebsite({ Bucket, Region: REGION, WebsiteConfiguration: { IndexDocument: { Suffix: 'index.html' } } });
  await page('index.html', 'home via domain');
  await cos.putObject({ Bucket, Region: REGION, Key: 'data.txt', Body: Buffer.from('data'), ACL: 'public-read' });
  let r = await request('/data.txt', { host: rest });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'data');
  r = await request('/', { host: site });
  assert.equal(r.body, 'home via domain');
  r = await request('/data.txt', { host: `off-${Bucket}.example.test` });
  assert.notEqual(r.body, 'data');

  const other = uniqueBucket();
  await cos.putBucket({ Bucket: other, Region: REGION });
  try {
    await assert.rejects(
      cos.putBucketDomain({ Bucket: other, Region: REGION, DomainRule: [{ Status: 'ENABLED', Name: rest, Type: 'REST' }] }),
      (e) => e.statusCode === 409 && e.code === 'RecordAlreadyExist',
    );
  } finally {
    await cos.deleteBucket({ Bucket: other, Region: REGION });
  }
  await assert.rejects(
    cos.putBucketDomain({ Bucket, Region: REGION, DomainRule: [{ Status: 'ENABLED', Name: rest, Type: 'CDN' }] }),
    (e) => e.statusCode === 400 && e.code === 'InvalidArgument',
  );

  await cos.deleteBucketDomain({ Bucket, Region: REGION });
  const gone = await cos.getBucketDomain({ Bucket, Region: REGION }).catch((e) => e);
  assert.equal(gone.statusCode, 404);
  r = await request('/data.txt', { host: rest });
  assert.notEqual(r.body, 'data');
});
