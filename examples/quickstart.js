// localcos quickstart with the official Tencent COS Node.js SDK.
//
//   npm install cos-nodejs-sdk-v5
//   LOCALCOS_SECRET_ID=AKIDLOCALCOSEXAMPLE LOCALCOS_SECRET_KEY=localcos-example-secret-key \
//       localcos serve --ephemeral --listen 127.0.0.1:9000 &
//   node examples/quickstart.js
//
// Endpoint and credentials come from LOCALCOS_ENDPOINT, LOCALCOS_SECRET_ID and
// LOCALCOS_SECRET_KEY; the bucket from LOCALCOS_BUCKET.
const COS = require('cos-nodejs-sdk-v5');

const endpoint = process.env.LOCALCOS_ENDPOINT || '127.0.0.1:9000';
const Bucket = process.env.LOCALCOS_BUCKET || 'quickstart-1250000000'; // <name>-<APPID>
const Region = 'ap-guangzhou';

// Ip sends every request to localcos; the Host header still names the bucket
// (<bucket>.cos.ap-guangzhou.myqcloud.com), which localcos reads.
const cos = new COS({
  SecretId: process.env.LOCALCOS_SECRET_ID || 'AKIDLOCALCOSEXAMPLE',
  SecretKey: process.env.LOCALCOS_SECRET_KEY || 'localcos-example-secret-key',
  Protocol: 'http:',
  Ip: endpoint,
});

async function main() {
  try {
    await cos.putBucket({ Bucket, Region });
    console.log(`created bucket ${Bucket}`);
  } catch (err) {
    if (err.code !== 'BucketAlreadyOwnedByYou') throw err;
    console.log(`bucket ${Bucket} already exists`);
  }

  const put = await cos.putObject({ Bucket, Region, Key: 'hello.txt', Body: 'Hello, localcos!' });
  console.log(`put hello.txt etag=${put.ETag}`);

  const got = await cos.getObject({ Bucket, Region, Key: 'hello.txt' });
  console.log(`got hello.txt: ${got.Body.toString()}`);

  const list = await cos.getBucket({ Bucket, Region });
  for (const obj of list.Contents) console.log(`listed ${obj.Key} (${obj.Size} bytes)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
