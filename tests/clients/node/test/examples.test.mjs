// examples/quickstart.js (a README snippet) runs against a real localcos and prints what it should.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { startServer, makeCos, uniqueBucket, dropBucket, cleanEnv, md5hex, REPO, SECRET_ID, SECRET_KEY } from '../lib/localcos.mjs';

const run = promisify(execFile);
let server;

before(async () => { server = await startServer(); });
after(async () => { if (server) await server.stop(); });

test('examples/quickstart.js', async () => {
  const bucket = uniqueBucket();
  const env = cleanEnv({
    LOCALCOS_ENDPOINT: server.endpoint,
    LOCALCOS_SECRET_ID: SECRET_ID,
    LOCALCOS_SECRET_KEY: SECRET_KEY,
    LOCALCOS_BUCKET: bucket,
    NODE_PATH: path.join(REPO, 'tests', 'clients', 'node', 'node_modules'),
  });
  const script = path.join(REPO, 'examples', 'quickstart.js');
  try {
    const { stdout } = await run(process.execPath, [script], { env, timeout: 60000 });
    const lines = stdout.split('\n');
    assert.ok(lines.includes(`created bucket ${bucket}`), stdout);
    assert.ok(lines.includes(`put hello.txt etag="${md5hex(Buffer.from('Hello, localcos!'))}"`), stdout);
    assert.ok(lines.includes('got hello.txt: Hello, localcos!'), stdout);
    assert.ok(lines.includes('listed hello.txt (16 bytes)'), stdout);
    const again = await run(process.execPath, [script], { env, timeout: 60000 });
    assert.ok(again.stdout.split('\n').includes(`bucket ${bucket} already exists`), again.stdout);
  } finally {
    await dropBucket(makeCos(server), bucket);
  }
});
